/*
 * test_ring_hostile.c - regression tests for what fuzz/fuzz_ring found:
 * a hostile consumer's indices must never make our producer touch memory
 * outside its own segment.
 *
 * The segment sits at the very end of its mapping, followed by a
 * PROT_NONE guard page, exactly where a real segment's mapping ends: any
 * access past the ring faults (Check reports the signal) instead of
 * silently hitting whatever the kernel mapped next.
 *
 * covers: issue 4 item 1 (hostile peer: indices), issue 4 item 2 (fuzz
 * crashes become regression tests)
 */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/ring.h"

#define CAP NP_RING_MIN

struct guarded {
        uint8_t *map;
        size_t len;
        struct np_seg_hdr *own;  /* our segment: header + ring, then the guard */
        struct np_seg_hdr *peer; /* the consumer's header (hostile) */
};

static void guarded_init(struct guarded *g)
{
        long page = sysconf(_SC_PAGESIZE);

        g->len = NP_SEG_HDR_SIZE + CAP + (size_t)page + NP_SEG_HDR_SIZE;
        g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(g->map, MAP_FAILED);
        /* [peer header][own header][own ring][guard] */
        g->peer = (struct np_seg_hdr *)g->map;
        g->own = (struct np_seg_hdr *)(g->map + NP_SEG_HDR_SIZE);
        ck_assert_int_eq(mprotect(g->map + 2 * NP_SEG_HDR_SIZE + CAP, (size_t)page, PROT_NONE), 0);
        np_seg_init(g->own, CAP, NP_ROLE_SERVER);
        np_seg_init(g->peer, CAP, NP_ROLE_CLIENT);
}

/* A producer whose ring is exactly full: one message of CAP - 16 bytes,
 * head == CAP, the consumer (honestly) at 0. */
static void fill(struct guarded *g, struct np_prod *p)
{
        static uint8_t msg[CAP];
        size_t done = 0;

        np_prod_init(p, g->own, g->peer);
        ck_assert_int_eq(np_prod_write(p, msg, CAP - NP_CHUNK_HDR, &done), NP_RING_OK);
        ck_assert_uint_eq(p->head, CAP);
}

/* fuzz_ring crash: np_prod_abort() takes the consumer's rpos as the first
 * chunk to mark without checking its alignment (ring.c, np_prod_abort); an
 * rpos of CAP - 4 makes it write the flags word at ring + CAP, past the
 * end of our mapping.  A corrupt consumer must only give -1. */
START_TEST(test_abort_unaligned_rpos)
{
        struct guarded g;
        struct np_prod p;

        guarded_init(&g);
        fill(&g, &p);
        atomic_store(&g.peer->rpos, CAP - 4);
        ck_assert_int_eq(np_prod_abort(&p, 0, p.head, 0), -1);
        munmap(g.map, g.len);
}
END_TEST

/* Same root cause, read side: np_prod_unread() walks our aborted chunks
 * from the consumer's rpos (aborted_unread) and loads a flags word at
 * ring + CAP. */
START_TEST(test_unread_unaligned_rpos)
{
        struct guarded g;
        struct np_prod p;

        guarded_init(&g);
        fill(&g, &p);
        ck_assert_int_eq(np_prod_abort(&p, 0, p.head, 0), 0); /* honest consumer at 0 */
        atomic_store(&g.peer->rpos, CAP - 4);
        ck_assert_int_eq(np_prod_unread(&p), -1);
        ck_assert_int_eq(np_prod_drained(&p), -1);
        munmap(g.map, g.len);
}
END_TEST

/* Every other consumer index that cannot be right is refused without
 * touching memory outside the segment. */
START_TEST(test_bad_indices)
{
        static const uint64_t bad[] = {
            1, 4, 7, CAP + 8, UINT64_MAX, UINT64_MAX - 7, (uint64_t)1 << 63};
        struct guarded g;
        struct np_prod p;

        guarded_init(&g);
        fill(&g, &p);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                size_t done = 0;

                atomic_store(&g.peer->rpos, bad[i]);
                ck_assert_int_eq(np_prod_room(&p), -1);
                ck_assert_int_eq(np_prod_write(&p, "x", 1, &done), NP_RING_CORRUPT);
                atomic_store(&g.peer->rpos, 0);
                atomic_store(&g.peer->rbytes, bad[i] + CAP);
                ck_assert_int_eq(np_prod_unread(&p), -1);
                atomic_store(&g.peer->rbytes, 0);
        }
        munmap(g.map, g.len);
}
END_TEST

/* fuzz_ring timeout: a producer that moves its head back after the
 * consumer loaded a chunk, then marks that chunk aborted, sends the
 * consumer past the head: load_chunk() computes head - pos without
 * checking head >= pos (ring.c, load_chunk), the difference wraps, and
 * chunks "beyond the head" pass as published.  With one aborted chunk
 * spanning the whole ring, ensure_chunk_d() drops it again and again, for
 * ever: np_cons_read() never returns (no timeout can help: it makes no
 * system call).  A corrupt producer must only give NP_RING_CORRUPT.  Runs
 * in its own test case with a short timeout: the bug shows as a timeout. */
START_TEST(test_head_moved_back)
{
        static uint8_t msg[CAP], buf[16];
        struct guarded g;
        struct np_prod prod;
        struct np_cons cons;
        size_t done = 0;
        struct np_frame *f;

        guarded_init(&g);
        /* here own = the hostile producer's segment, peer = our header */
        np_prod_init(&prod, g.own, g.peer);
        np_cons_init(&cons, g.own, g.peer);
        ck_assert_int_eq(np_prod_write(&prod, msg, CAP - NP_CHUNK_HDR, &done), NP_RING_OK);
        done = 0;
        ck_assert_int_eq(np_cons_read(&cons, buf, sizeof buf, 1, &done), NP_RING_MORE);
        ck_assert(cons.have_chunk);
        /* the producer takes its head back and cancels the message */
        atomic_store(&g.own->head, cons.pos);
        f = (struct np_frame *)(void *)((uint8_t *)g.own + NP_SEG_HDR_SIZE);
        atomic_fetch_or(&f->flags, NP_FRAME_ABORTED);
        done = 0;
        ck_assert_int_eq(np_cons_read(&cons, buf, sizeof buf, 1, &done), NP_RING_CORRUPT);
        munmap(g.map, g.len);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("ring-hostile");
        TCase *tc = tcase_create("indices");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_abort_unaligned_rpos);
        tcase_add_test(tc, test_unread_unaligned_rpos);
        tcase_add_test(tc, test_bad_indices);
        suite_add_tcase(s, tc);
        {
                TCase *th = tcase_create("hang");

                tcase_set_timeout(th, 5);
                tcase_add_test(th, test_head_moved_back);
                suite_add_tcase(s, th);
        }
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
