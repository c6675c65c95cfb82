/*
 * test_ring.c - unit tests of src/core/ring.c on malloc'd fake segments.
 *
 * A "pair" is the producer's segment (header + ring) and the consumer's
 * segment (only its header matters: rpos/rbytes).  The library maps the
 * same structures from memfds; here they are plain memory, which also lets
 * the corruption tests scribble over any field the way a hostile peer
 * could.  Suite 'ring': CI runs it under ThreadSanitizer, which is what
 * the streaming tests with a producer and a consumer thread are for.
 */
#include "harness.h"

#include "core/ring.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct pair {
        struct np_seg_hdr *pseg; /* producer's segment */
        struct np_seg_hdr *cseg; /* consumer's segment */
        struct np_prod prod;
        struct np_cons cons;
        uint32_t cap;
};

static void pair_init(struct pair *p, uint32_t cap)
{
        memset(p, 0, sizeof(*p));
        p->cap = cap;
        p->pseg = aligned_alloc(4096, NP_SEG_HDR_SIZE + cap);
        p->cseg = aligned_alloc(4096, NP_SEG_HDR_SIZE + NP_RING_MIN);
        ck_assert_ptr_nonnull(p->pseg);
        ck_assert_ptr_nonnull(p->cseg);
        /* garbage first: init must not depend on zeroed memory */
        memset(p->pseg, 0xA5, NP_SEG_HDR_SIZE + cap);
        memset(p->cseg, 0x5A, NP_SEG_HDR_SIZE + NP_RING_MIN);
        np_seg_init(p->pseg, cap, NP_ROLE_SERVER);
        np_seg_init(p->cseg, NP_RING_MIN, NP_ROLE_CLIENT);
        ck_assert_int_eq(np_seg_check(p->pseg, NP_SEG_HDR_SIZE + cap, NP_ROLE_SERVER), 0);
        np_prod_init(&p->prod, p->pseg, p->cseg);
        np_cons_init(&p->cons, p->pseg, p->cseg);
}

static void pair_free(struct pair *p)
{
        free(p->pseg);
        free(p->cseg);
}

static uint8_t *ring_data(struct pair *p)
{
        return (uint8_t *)p->pseg + NP_SEG_HDR_SIZE;
}

/* Write a message that fits (asserting NP_RING_OK in one call). */
static void put(struct pair *p, const void *buf, size_t len)
{
        size_t done = 0;
        int r = np_prod_write(&p->prod, buf, len, &done);
        ck_assert_msg(r == NP_RING_OK, "np_prod_write(%zu) = %d", len, r);
        ck_assert_uint_eq(done, len);
}

/* Read in message mode with a buffer of `cap`; returns the result. */
static int get(struct pair *p, void *buf, size_t cap, size_t *n)
{
        *n = 0;
        return np_cons_read(&p->cons, buf, cap, 1, n);
}

/* Raw chunk for the corruption tests: at ring position `pos`. */
static void put_chunk(struct pair *p, uint64_t pos, uint32_t len, uint32_t flags, uint32_t msg_len)
{
        struct np_chunk ch;
        memset(&ch, 0, sizeof(ch));
        ch.f.len = len;
        ch.f.flags = flags;
        ch.msg_len = msg_len;
        uint32_t off = (uint32_t)(pos & (p->cap - 1));
        memcpy(ring_data(p) + off, &ch, sizeof(ch));
}

static void set_head(struct pair *p, uint64_t head)
{
        atomic_store(&p->pseg->head, head);
}

/* ---- segment header checks ------------------------------------------------- */

START_TEST(test_seg_check)
{
        /* covers: none (ring ABI: header validation) */
        struct pair p;
        pair_init(&p, 8192);
        size_t sz = NP_SEG_HDR_SIZE + 8192;
        ck_assert_int_eq(np_seg_check(p.pseg, sz, NP_ROLE_SERVER), 0);
        ck_assert_int_eq(np_seg_check(p.pseg, sz, NP_ROLE_CLIENT), -1);        /* wrong role */
        ck_assert_int_eq(np_seg_check(p.pseg, sz - 4096, NP_ROLE_SERVER), -1); /* mapping size */
        ck_assert_int_eq(np_seg_check(p.pseg, sz + 4096, NP_ROLE_SERVER), -1);
        p.pseg->magic ^= 1;
        ck_assert_int_eq(np_seg_check(p.pseg, sz, NP_ROLE_SERVER), -1);
        p.pseg->magic ^= 1;
        p.pseg->version = NP_SEG_VERSION + 1;
        ck_assert_int_eq(np_seg_check(p.pseg, sz, NP_ROLE_SERVER), -1);
        p.pseg->version = NP_SEG_VERSION;
        p.pseg->ring_cap = 8192 + 8; /* not a power of two */
        ck_assert_int_eq(np_seg_check(p.pseg, sz + 8, NP_ROLE_SERVER), -1);
        p.pseg->ring_cap = NP_RING_MIN / 2; /* below the minimum */
        ck_assert_int_eq(np_seg_check(p.pseg, NP_SEG_HDR_SIZE + NP_RING_MIN / 2, NP_ROLE_SERVER),
                         -1);
        p.pseg->ring_cap = 0;
        ck_assert_int_eq(np_seg_check(p.pseg, NP_SEG_HDR_SIZE, NP_ROLE_SERVER), -1);
        p.pseg->ring_cap = NP_RING_MAX * 2u;
        ck_assert_int_eq(
            np_seg_check(p.pseg, NP_SEG_HDR_SIZE + (size_t)NP_RING_MAX * 2u, NP_ROLE_SERVER), -1);
        pair_free(&p);
}
END_TEST

/* ---- round trips ---------------------------------------------------------------- */

START_TEST(test_round_trip_sizes)
{
        /* covers: MSG-11 MSG-12 ZERO-02 PEEK-03 PEEK-13 */
        struct pair p;
        const uint32_t cap = 4096;
        pair_init(&p, cap);
        static const size_t sizes[] = {0,   1,   2,    7,    8,    9,    15,   16,   17,       31,
                                       100, 255, 1000, 1023, 1024, 2047, 2048, 3000, 4096 - 16};
        uint8_t out[4096], in[4096];
        unsigned seed = 1;
        /* many rounds: positions wrap around the ring many times, at
         * every alignment the sizes produce */
        for (int round = 0; round < 200; round++) {
                for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, seed++) {
                        size_t len = sizes[i];
                        h_pattern(in, len, seed);
                        put(&p, in, len);

                        struct np_peek_result pr;
                        uint8_t pk[64];
                        ck_assert_int_eq(np_cons_peek(&p.cons, pk, sizeof(pk), 1, &pr), 0);
                        ck_assert_uint_eq(pr.avail, len);
                        ck_assert_uint_eq(pr.messages, 1);
                        ck_assert_uint_eq(pr.msg_len, len);
                        ck_assert_uint_eq(pr.copied, len < sizeof(pk) ? len : sizeof(pk));
                        ck_assert_int_eq(pr.have_any, 1);
                        ck_assert_int_eq(memcmp(pk, in, pr.copied), 0);

                        size_t n;
                        /* a buffer of exactly the message: OK, not MORE */
                        int r = get(&p, out, len, &n);
                        if (len == 0) {
                                ck_assert_int_eq(r, NP_RING_OK);
                        } else {
                                ck_assert_msg(r == NP_RING_OK, "size %zu round %d: %d", len, round,
                                              r);
                        }
                        ck_assert_uint_eq(n, len);
                        ck_assert_int_eq(memcmp(out, in, len), 0);
                        ck_assert_int_eq(np_cons_avail(&p.cons), 0);
                        ck_assert_int_eq(np_cons_has_chunk(&p.cons), 0);
                        ck_assert_int_eq(get(&p, out, sizeof(out), &n), NP_RING_EMPTY);
                }
        }
        pair_free(&p);
}
END_TEST

START_TEST(test_queue_of_messages)
{
        /* covers: MSG-12 MSG-13 PEEK-13 */
        struct pair p;
        pair_init(&p, 4096);
        uint8_t out[4096];
        for (int round = 0; round < 100; round++) {
                /* five messages queued at once, of different sizes */
                for (unsigned k = 0; k < 5; k++) {
                        uint8_t in[300];
                        h_pattern(in, 100 + 37 * k, round * 8 + k);
                        put(&p, in, 100 + 37 * k);
                }
                struct np_peek_result pr;
                ck_assert_int_eq(np_cons_peek(&p.cons, NULL, 0, 1, &pr), 0);
                ck_assert_uint_eq(pr.messages, 5);
                ck_assert_uint_eq(pr.msg_len, 100);
                ck_assert_uint_eq(pr.copied, 0);
                ck_assert_uint_eq(pr.avail, 5 * 100 + 37 * 10);
                for (unsigned k = 0; k < 5; k++) {
                        size_t n;
                        /* a big buffer still gets one message (MSG-13) */
                        ck_assert_int_eq(get(&p, out, sizeof(out), &n), NP_RING_OK);
                        ck_assert_uint_eq(n, 100 + 37 * k);
                        ck_assert(h_pattern_ok(out, n, round * 8 + k));
                        ck_assert_int_eq(np_cons_peek(&p.cons, NULL, 0, 1, &pr), 0);
                        ck_assert_uint_eq(pr.messages, 4 - k);
                }
        }
        pair_free(&p);
}
END_TEST

START_TEST(test_more_data_pieces)
{
        /* covers: MSG-02 MSG-03 PEEK-03 PEEK-04 */
        struct pair p;
        pair_init(&p, 4096);
        put(&p, "0123456789", 10);
        char b[16];
        size_t n;
        ck_assert_int_eq(get(&p, b, 4, &n), NP_RING_MORE);
        ck_assert_uint_eq(n, 4);
        ck_assert_int_eq(memcmp(b, "0123", 4), 0);
        /* the rest stays at the head: peek shows the remainder */
        struct np_peek_result pr;
        char pk[16];
        ck_assert_int_eq(np_cons_peek(&p.cons, pk, sizeof(pk), 1, &pr), 0);
        ck_assert_uint_eq(pr.msg_len, 6);
        ck_assert_uint_eq(pr.copied, 6);
        ck_assert_uint_eq(pr.avail, 6);
        ck_assert_uint_eq(pr.messages, 1);
        ck_assert_int_eq(memcmp(pk, "456789", 6), 0);
        ck_assert_int_eq(get(&p, b, 4, &n), NP_RING_MORE);
        ck_assert_int_eq(memcmp(b, "4567", 4), 0);
        ck_assert_int_eq(get(&p, b, 4, &n), NP_RING_OK);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(memcmp(b, "89", 2), 0);
        pair_free(&p);
}
END_TEST

START_TEST(test_byte_mode_across_messages)
{
        /* covers: MSG-05 ZERO-06 MSG-06 */
        struct pair p;
        pair_init(&p, 4096);
        put(&p, "ab", 2);
        put(&p, "", 0);
        put(&p, "cd", 2);
        put(&p, "efghij", 6);
        char b[32];
        size_t n = 0;
        /* byte mode fills the buffer across boundaries, empty messages
         * included, and never reports MORE */
        ck_assert_int_eq(np_cons_read(&p.cons, b, 5, 0, &n), NP_RING_OK);
        ck_assert_uint_eq(n, 5);
        ck_assert_int_eq(memcmp(b, "abcde", 5), 0);
        /* MSG-06: a message-mode read now returns the rest of that message */
        struct np_peek_result pr;
        ck_assert_int_eq(np_cons_peek(&p.cons, NULL, 0, 1, &pr), 0);
        ck_assert_uint_eq(pr.msg_len, 5);
        ck_assert_int_eq(get(&p, b, sizeof(b), &n), NP_RING_OK);
        ck_assert_uint_eq(n, 5);
        ck_assert_int_eq(memcmp(b, "fghij", 5), 0);
        n = 0;
        ck_assert_int_eq(np_cons_read(&p.cons, b, sizeof(b), 0, &n), NP_RING_EMPTY);
        pair_free(&p);
}
END_TEST

START_TEST(test_zero_length_reads)
{
        /* covers: ZERO-07 ZERO-08 ZERO-09 ZERO-02 */
        struct pair p;
        pair_init(&p, 4096);
        size_t n = 0;
        char b[8];
        /* nothing queued: a zero-length read must wait */
        ck_assert_int_eq(np_cons_read(&p.cons, b, 0, 0, &n), NP_RING_EMPTY);
        ck_assert_int_eq(np_cons_read(&p.cons, b, 0, 1, &n), NP_RING_EMPTY);
        put(&p, "xyz", 3);
        /* data queued: byte mode completes with nothing consumed */
        ck_assert_int_eq(np_cons_read(&p.cons, b, 0, 0, &n), NP_RING_OK);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(np_cons_avail(&p.cons), 3);
        /* message mode: MORE, nothing consumed */
        ck_assert_int_eq(np_cons_read(&p.cons, b, 0, 1, &n), NP_RING_MORE);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(np_cons_avail(&p.cons), 3);
        ck_assert_int_eq(get(&p, b, sizeof(b), &n), NP_RING_OK);
        ck_assert_uint_eq(n, 3);
        /* an empty message is invisible to avail but is one message, and a
         * zero-length message read consumes it */
        put(&p, "", 0);
        struct np_peek_result pr;
        ck_assert_int_eq(np_cons_peek(&p.cons, b, sizeof(b), 1, &pr), 0);
        ck_assert_uint_eq(pr.avail, 0);
        ck_assert_uint_eq(pr.msg_len, 0);
        ck_assert_uint_eq(pr.messages, 1);
        ck_assert_int_eq(pr.have_any, 1);
        ck_assert_int_eq(np_cons_read(&p.cons, b, 0, 1, &n), NP_RING_OK);
        ck_assert_int_eq(np_cons_has_chunk(&p.cons), 0);
        pair_free(&p);
}
END_TEST

START_TEST(test_peek_byte_pipe)
{
        /* covers: PEEK-03 PEEK-04 PEEK-13 PEEK-05 */
        struct pair p;
        pair_init(&p, 4096);
        put(&p, "hello", 5);
        put(&p, "world!!", 7);
        struct np_peek_result pr;
        char b[32];
        /* byte pipe: copies across writes, message length 0, no count */
        ck_assert_int_eq(np_cons_peek(&p.cons, b, sizeof(b), 0, &pr), 0);
        ck_assert_uint_eq(pr.copied, 12);
        ck_assert_uint_eq(pr.avail, 12);
        ck_assert_uint_eq(pr.msg_len, 0);
        ck_assert_int_eq(memcmp(b, "helloworld!!", 12), 0);
        ck_assert_int_eq(np_cons_peek(&p.cons, b, 4, 0, &pr), 0);
        ck_assert_uint_eq(pr.copied, 4);
        /* message pipe: only the head message */
        ck_assert_int_eq(np_cons_peek(&p.cons, b, sizeof(b), 1, &pr), 0);
        ck_assert_uint_eq(pr.copied, 5);
        ck_assert_uint_eq(pr.msg_len, 5);
        ck_assert_uint_eq(pr.messages, 2);
        /* NULL buffer: nothing copied, the rest reported */
        ck_assert_int_eq(np_cons_peek(&p.cons, NULL, 0, 1, &pr), 0);
        ck_assert_uint_eq(pr.copied, 0);
        ck_assert_uint_eq(pr.avail, 12);
        pair_free(&p);
}
END_TEST

/* A message several times the ring, alternating producer and consumer in
 * one thread: the writer returns FULL, the reader PARTIAL, and the message
 * arrives whole, in order. */
START_TEST(test_stream_single_thread)
{
        /* covers: MSG-10 QUOTA-05 PEEK-02 */
        struct pair p;
        const uint32_t cap = 4096;
        pair_init(&p, cap);
        const size_t len = 5 * cap + 123;
        uint8_t *in = malloc(len), *out = malloc(len);
        h_pattern(in, len, 77);
        size_t wdone = 0, rdone = 0;
        int wr = NP_RING_FULL, rr = NP_RING_EMPTY;
        int first = 1;
        unsigned rounds = 0;
        while (wr != NP_RING_OK || rr != NP_RING_OK) {
                ck_assert_uint_lt(++rounds, 10000);
                if (wr != NP_RING_OK) {
                        wr = np_prod_write(&p.prod, in, len, &wdone);
                        ck_assert_msg(wr == NP_RING_OK || wr == NP_RING_FULL, "write %d", wr);
                        if (first) {
                                /* the whole message counts as available as
                                 * soon as it has started */
                                ck_assert_int_eq(wr, NP_RING_FULL);
                                ck_assert_int_eq(np_cons_avail(&p.cons), (int64_t)len);
                                struct np_peek_result pr;
                                ck_assert_int_eq(np_cons_peek(&p.cons, NULL, 0, 1, &pr), 0);
                                ck_assert_uint_eq(pr.msg_len, len);
                                ck_assert_uint_eq(pr.messages, 1);
                                first = 0;
                        }
                }
                if (rr != NP_RING_OK) {
                        rr = np_cons_read(&p.cons, out, len, 1, &rdone);
                        ck_assert_msg(rr == NP_RING_OK || rr == NP_RING_PARTIAL, "read %d", rr);
                }
        }
        ck_assert_uint_eq(rdone, len);
        ck_assert_int_eq(memcmp(in, out, len), 0);
        ck_assert_int_eq(np_cons_avail(&p.cons), 0);
        ck_assert_int_eq(np_prod_unread(&p.prod), 0);
        free(in);
        free(out);
        pair_free(&p);
}
END_TEST

/* ---- threads: streaming under TSan ------------------------------------------------- */

#define N_MSGS 3000

static size_t stream_size(unsigned i, uint32_t cap)
{
        /* small, medium, exactly-the-ring and several-times-the-ring sizes */
        switch (i % 8) {
        case 0:
                return 0;
        case 1:
                return 1 + i % 13;
        case 2:
                return 100 + i % 900;
        case 3:
                return cap - NP_CHUNK_HDR;
        case 4:
                return cap;
        case 5:
                return 3 * cap + i % 17;
        case 6:
                return cap / 2 + 1;
        default:
                return 8;
        }
}

struct stream_arg {
        struct pair *p;
        int byte_mode;
        _Atomic int failed; /* set by either side: the other one gives up */
        char why[128];
};

static void *producer(void *arg)
{
        struct stream_arg *a = arg;
        size_t maxlen = 4 * a->p->cap;
        uint8_t *buf = malloc(maxlen);
        for (unsigned i = 0; i < N_MSGS; i++) {
                size_t len = stream_size(i, a->p->cap);
                h_pattern(buf, len, i);
                size_t done = 0;
                for (;;) {
                        int r = np_prod_write(&a->p->prod, buf, len, &done);
                        if (r == NP_RING_OK)
                                break;
                        if (r != NP_RING_FULL) {
                                snprintf(a->why, sizeof(a->why), "write %u: %d", i, r);
                                a->failed = 1;
                                free(buf);
                                return NULL;
                        }
                        if (a->failed)
                                break;
                        sched_yield();
                }
        }
        free(buf);
        return NULL;
}

static void *consumer(void *arg)
{
        struct stream_arg *a = arg;
        size_t maxlen = 4 * a->p->cap;
        uint8_t *buf = malloc(maxlen), *want = malloc(maxlen);
        for (unsigned i = 0; i < N_MSGS; i++) {
                size_t len = stream_size(i, a->p->cap);
                h_pattern(want, len, i);
                size_t done = 0;
                for (;;) {
                        int r = np_cons_read(&a->p->cons, buf, maxlen, 1, &done);
                        if (r == NP_RING_OK)
                                break;
                        if (r != NP_RING_EMPTY && r != NP_RING_PARTIAL) {
                                snprintf(a->why, sizeof(a->why), "read %u: %d", i, r);
                                a->failed = 1;
                                goto out;
                        }
                        if (a->failed)
                                goto out;
                        sched_yield();
                }
                if (done != len || memcmp(buf, want, len) != 0) {
                        snprintf(a->why, sizeof(a->why), "message %u: %zu bytes, expected %zu", i,
                                 done, len);
                        a->failed = 1;
                        goto out;
                }
        }
out:
        free(buf);
        free(want);
        return NULL;
}

/* Byte-mode consumer: reads the concatenation of all messages in odd-sized
 * pieces (empty messages contribute nothing and must not stop a read). */
static void *byte_consumer(void *arg)
{
        struct stream_arg *a = arg;
        size_t maxlen = 4 * a->p->cap;
        uint8_t *want = malloc(maxlen);
        uint8_t buf[777];
        uint64_t total = 0, got = 0;
        for (unsigned i = 0; i < N_MSGS; i++)
                total += stream_size(i, a->p->cap);
        unsigned i = 0;
        size_t off = 0, len = stream_size(0, a->p->cap);
        h_pattern(want, len, 0);
        unsigned piece = 1;
        while (got < total) {
                size_t n = 0;
                size_t cap = 1 + (piece++ * 37) % sizeof(buf);
                int r;
                /* EMPTY: wait.  PARTIAL: bytes copied so far stay in buf and
                 * the read goes on with the same progress (a byte-mode read
                 * may wait for the rest of a message still streaming in,
                 * QUOTA-05) */
                for (;;) {
                        r = np_cons_read(&a->p->cons, buf, cap, 0, &n);
                        if ((r != NP_RING_EMPTY && r != NP_RING_PARTIAL) || a->failed)
                                break;
                        sched_yield();
                }
                if (a->failed)
                        break;
                /* OK with 0 bytes is right when the read consumed only
                 * empty messages (ZERO-05) */
                if (r != NP_RING_OK || n > cap) {
                        snprintf(a->why, sizeof(a->why), "byte read: %d, %zu bytes", r, n);
                        a->failed = 1;
                        break;
                }
                for (size_t k = 0; k < n; k++) {
                        while (off == len) {
                                /* got < total: there is a next message */
                                len = stream_size(++i, a->p->cap);
                                h_pattern(want, len, i);
                                off = 0;
                        }
                        if (buf[k] != want[off]) {
                                snprintf(a->why, sizeof(a->why), "stream differs at msg %u+%zu", i,
                                         off);
                                a->failed = 1;
                                goto out;
                        }
                        off++;
                        got++;
                }
        }
out:
        free(want);
        return NULL;
}

static void run_stream(uint32_t cap, int byte_mode)
{
        struct pair p;
        pair_init(&p, cap);
        struct stream_arg a = {.p = &p, .byte_mode = byte_mode};
        pthread_t tp, tc;
        ck_assert_int_eq(pthread_create(&tc, NULL, byte_mode ? byte_consumer : consumer, &a), 0);
        ck_assert_int_eq(pthread_create(&tp, NULL, producer, &a), 0);
        pthread_join(tp, NULL);
        pthread_join(tc, NULL);
        ck_assert_msg(!a.failed, "%s", a.why);
        pair_free(&p);
}

START_TEST(test_stream_threads_message)
{
        /* covers: MSG-10 ORDER-06 */
        run_stream(4096, 0);
}
END_TEST

START_TEST(test_stream_threads_message_big_ring)
{
        /* covers: MSG-10 */
        run_stream(65536, 0);
}
END_TEST

START_TEST(test_stream_threads_bytes)
{
        /* covers: MSG-05 ZERO-06 */
        run_stream(4096, 1);
}
END_TEST

/* ---- cancelled writes while the consumer reads (QUOTA-07), under TSan ---------------- */

/* np_prod_abort sets NP_FRAME_ABORTED in chunk headers the consumer may be
 * loading at that very moment, from another thread (another process in the
 * library).  The reader must never return torn or cancelled data: each
 * message it returns is whole and intact, or (read in pieces) a prefix of
 * one that was cancelled while it was being read, whose rest then
 * disappears (QUOTA-07); a cancelled message arrives whole (the cancel came
 * too late) or not at all. */

#define N_ABORT_MSGS 4000

/* Message i is {i, len} followed by h_pattern(seed i). */
static size_t abort_size(unsigned i, uint32_t cap)
{
        switch (i % 6) {
        case 0:
                return 8;
        case 1:
                return 8 + i % 50;
        case 2:
                return 200 + i % 700;
        case 3:
                return 2 * cap + i % 29; /* streams: may be cancelled half-written */
        case 4:
                return cap / 2 + 8;
        default:
                return 16 + (i % 8) * 8;
        }
}

static void abort_fill(uint8_t *buf, unsigned i, size_t len)
{
        uint32_t hdr[2] = {i, (uint32_t)len};
        memcpy(buf, hdr, sizeof(hdr));
        h_pattern(buf + sizeof(hdr), len - sizeof(hdr), i);
}

struct abort_arg {
        struct pair *p;
        size_t rbuf; /* the consumer's read buffer */
        _Atomic int failed;
        char why[160];
        /* producer: written before the join, read after */
        uint8_t aborted[N_ABORT_MSGS];
        unsigned streams_cut; /* messages cancelled half-written */
        /* consumer */
        uint8_t whole[N_ABORT_MSGS];     /* arrived whole */
        uint8_t truncated[N_ABORT_MSGS]; /* arrived in part, the rest vanished */
};

static void *abort_producer(void *arg)
{
        struct abort_arg *a = arg;
        struct np_prod *pr = &a->p->prod;
        uint8_t *buf = malloc(4 * a->p->cap);
        uint64_t prev_first = 0, prev_end = 0;
        for (unsigned i = 0; i <= N_ABORT_MSGS && !a->failed; i++) {
                /* message N_ABORT_MSGS is the end marker, never cancelled */
                size_t len = i < N_ABORT_MSGS ? abort_size(i, a->p->cap) : 8;
                abort_fill(buf, i, len);
                uint64_t first = np_prod_pos(pr);
                size_t done = 0;
                unsigned fulls = 0;
                int cut = 0;
                for (;;) {
                        int r = np_prod_write(pr, buf, len, &done);
                        if (r == NP_RING_OK)
                                break;
                        if (r != NP_RING_FULL) {
                                snprintf(a->why, sizeof(a->why), "write %u: %d", i, r);
                                a->failed = 1;
                                goto out;
                        }
                        if (a->failed)
                                goto out;
                        /* Cancel some streaming messages half-way: a write
                         * that has started (its first chunk is in the ring). */
                        if (i < N_ABORT_MSGS && done > 0 && i % 4 == 3 && ++fulls == 1 + i % 3) {
                                if (np_prod_abort(pr, first, 0, 1) != 0)
                                        goto abort_failed;
                                a->aborted[i] = 1;
                                a->streams_cut++;
                                cut = 1;
                                break;
                        }
                        sched_yield();
                }
                if (i == N_ABORT_MSGS)
                        break;
                uint64_t end = np_prod_pos(pr);
                if (!cut && (i * 7u) % 5u == 1) {
                        /* cancel a message written whole, maybe being read */
                        if (np_prod_abort(pr, first, end, 0) != 0)
                                goto abort_failed;
                        a->aborted[i] = 1;
                } else if (i > 0 && i % 11 == 4 && !a->aborted[i - 1]) {
                        /* cancel the one before, with this one queued behind it */
                        if (np_prod_abort(pr, prev_first, prev_end, 0) != 0)
                                goto abort_failed;
                        a->aborted[i - 1] = 1;
                }
                prev_first = first;
                prev_end = end;
                if (i % 3 == 0)
                        sched_yield();
        }
        goto out;
abort_failed:
        snprintf(a->why, sizeof(a->why), "np_prod_abort failed");
        a->failed = 1;
out:
        free(buf);
        return NULL;
}

static void abort_fail(struct abort_arg *a, const char *what, unsigned i, size_t off, size_t n)
{
        snprintf(a->why, sizeof(a->why), "%s: message %u at %zu, %zu bytes", what, i, off, n);
        a->failed = 1;
}

/* Message-mode reader.  With a buffer for the largest message every OK is
 * one whole message; with a small one a message comes in MORE pieces and,
 * if it is cancelled on the way, the next piece starts a later message. */
static void *abort_consumer(void *arg)
{
        struct abort_arg *a = arg;
        struct np_cons *c = &a->p->cons;
        size_t maxlen = 4 * a->p->cap;
        uint8_t *buf = malloc(a->rbuf), *want = malloc(maxlen);
        uint8_t peekbuf[64];
        long cur = -1; /* message being read in pieces (-1: none) */
        size_t cur_len = 0, off = 0;
        unsigned last = 0, spins = 0;
        int seen_any = 0;
        for (;;) {
                size_t n = 0;
                int r;
                for (;;) {
                        r = np_cons_read(c, buf, a->rbuf, 1, &n);
                        if ((r != NP_RING_EMPTY && r != NP_RING_PARTIAL) || a->failed)
                                break;
                        if (++spins % 8 == 0) {
                                /* peek walks the same headers */
                                struct np_peek_result pr;
                                if (np_cons_peek(c, peekbuf, sizeof(peekbuf), 1, &pr) != 0) {
                                        abort_fail(a, "peek corrupt", last, 0, 0);
                                        goto out;
                                }
                        }
                        sched_yield();
                }
                if (a->failed)
                        break;
                if ((r != NP_RING_OK && r != NP_RING_MORE) || n > a->rbuf ||
                    (r == NP_RING_MORE && n != a->rbuf)) {
                        snprintf(a->why, sizeof(a->why), "read after %u: %d, %zu bytes", last, r,
                                 n);
                        a->failed = 1;
                        break;
                }
                if (cur >= 0 &&
                    memcmp(buf, want + off, n < cur_len - off ? n : cur_len - off) == 0 &&
                    off + n <= cur_len) {
                        /* the next piece of the message being read */
                        off += n;
                } else {
                        /* a new message: the one being read (if any) was cut */
                        if (cur >= 0)
                                a->truncated[cur] = 1;
                        uint32_t hdr[2];
                        if (n < sizeof(hdr)) {
                                abort_fail(a, "short message", last, 0, n);
                                break;
                        }
                        memcpy(hdr, buf, sizeof(hdr));
                        unsigned i = hdr[0];
                        if (i > N_ABORT_MSGS || (seen_any && i <= last) ||
                            hdr[1] != (i < N_ABORT_MSGS ? abort_size(i, a->p->cap) : 8)) {
                                abort_fail(a, "torn or out of order", i, 0, n);
                                break;
                        }
                        abort_fill(want, i, hdr[1]);
                        if (memcmp(buf, want, n) != 0) {
                                abort_fail(a, "bad bytes", i, 0, n);
                                break;
                        }
                        cur = i;
                        cur_len = hdr[1];
                        off = n;
                        last = i;
                        seen_any = 1;
                }
                if (r == NP_RING_OK) {
                        /* the message ends here, and only here */
                        if (off != cur_len) {
                                abort_fail(a, "ended early", (unsigned)cur, off, n);
                                break;
                        }
                        if (cur == N_ABORT_MSGS)
                                break;
                        a->whole[cur] = 1;
                        cur = -1;
                } else if (off >= cur_len) {
                        abort_fail(a, "MORE at the end", (unsigned)cur, off, n);
                        break;
                }
        }
out:
        free(buf);
        free(want);
        return NULL;
}

static void run_abort(uint32_t cap, size_t rbuf)
{
        struct pair p;
        pair_init(&p, cap);
        struct abort_arg *a = calloc(1, sizeof(*a));
        ck_assert_ptr_nonnull(a);
        a->p = &p;
        a->rbuf = rbuf;
        pthread_t tp, tc;
        ck_assert_int_eq(pthread_create(&tc, NULL, abort_consumer, a), 0);
        ck_assert_int_eq(pthread_create(&tp, NULL, abort_producer, a), 0);
        pthread_join(tp, NULL);
        pthread_join(tc, NULL);
        ck_assert_msg(!a->failed, "%s", a->why);
        unsigned cancelled = 0, dropped = 0, cut = 0;
        for (unsigned i = 0; i < N_ABORT_MSGS; i++) {
                cancelled += a->aborted[i];
                /* only a cancelled message may be missing or cut short */
                ck_assert_msg(a->whole[i] || a->aborted[i], "message %u lost", i);
                ck_assert_msg(!a->truncated[i] || a->aborted[i], "message %u cut", i);
                ck_assert_msg(!(a->truncated[i] && a->whole[i]), "message %u twice", i);
                dropped += !a->whole[i];
                cut += a->truncated[i];
        }
        /* a stream cancelled half-written can never arrive whole */
        ck_assert_uint_gt(a->streams_cut, 0);
        ck_assert_uint_ge(dropped, a->streams_cut);
        ck_assert_uint_gt(cancelled, a->streams_cut);
        if (rbuf >= 4 * cap)
                ck_assert_uint_eq(cut, 0);
        /* everything is consumed or cancelled: the counts agree */
        ck_assert_int_eq(np_cons_avail(&p.cons), 0);
        ck_assert_int_eq(np_prod_unread(&p.prod), 0);
        ck_assert_int_eq(np_prod_drained(&p.prod), 1);
        free(a);
        pair_free(&p);
}

START_TEST(test_abort_while_reading)
{
        /* covers: QUOTA-07 ORDER-06 (np_prod_abort racing np_cons_read) */
        run_abort(4096, 4 * 4096);
}
END_TEST

START_TEST(test_abort_while_reading_pieces)
{
        /* covers: QUOTA-07 (np_prod_abort racing MORE reads) */
        run_abort(4096, 96);
}
END_TEST

/* ---- corrupt values ------------------------------------------------------------------- */

/* The consumer must answer NP_RING_CORRUPT to every read and peek. */
static void expect_corrupt(struct pair *p, const char *what)
{
        char b[64];
        size_t n = 0;
        struct np_peek_result pr;
        ck_assert_msg(np_cons_read(&p->cons, b, sizeof(b), 1, &n) == NP_RING_CORRUPT,
                      "%s: message read not CORRUPT", what);
        ck_assert_uint_le(n, sizeof(b));
        n = 0;
        ck_assert_msg(np_cons_read(&p->cons, b, sizeof(b), 0, &n) == NP_RING_CORRUPT,
                      "%s: byte read not CORRUPT", what);
        ck_assert_msg(np_cons_peek(&p->cons, b, sizeof(b), 1, &pr) == NP_RING_CORRUPT,
                      "%s: peek not CORRUPT", what);
}

/* The wake-once protocol of np_sleep_announce / np_wake_due (ring.h). */
START_TEST(test_wake_once)
{
        /* covers: none (wake protocol: one wake per sleep, none lost) */
        _Atomic uint64_t word = 0;
        _Atomic uint32_t woken = 0;

        /* nobody announced: generation 0 is served */
        ck_assert_int_eq(np_wake_due(&word, 5, &woken), 0);
        /* a sleeper waits on seq 5; the waker's seq is 6: wake once */
        np_sleep_announce(&word, 5);
        ck_assert_int_eq(np_wake_due(&word, 6, &woken), 1);
        ck_assert_int_eq(np_wake_due(&word, 7, &woken), 0);
        ck_assert_int_eq(np_wake_due(&word, 8, &woken), 0);
        /* it sleeps again: a new generation */
        np_sleep_announce(&word, 8);
        ck_assert_int_eq(np_wake_due(&word, 9, &woken), 1);
        ck_assert_int_eq(np_wake_due(&word, 9, &woken), 0);

        /* A late waker (its seq is what the sleeper already saw) wakes
         * but does not close the generation: the sleeper waits for the
         * next change, which must wake it again. */
        np_sleep_announce(&word, 9);
        ck_assert_int_eq(np_wake_due(&word, 9, &woken), 1);
        ck_assert_int_eq(np_wake_due(&word, 10, &woken), 1);
        ck_assert_int_eq(np_wake_due(&word, 11, &woken), 0);

        /* Two sleepers: A saw seq 11, B (newer generation) an older 10.
         * The seq half keeps the maximum, so a wake at 11 does not close
         * the generation although B's snapshot is older. */
        np_sleep_announce(&word, 11);
        np_sleep_announce(&word, 10);
        ck_assert_uint_eq((uint32_t)atomic_load(&word), 11);
        ck_assert_int_eq(np_wake_due(&word, 11, &woken), 1);
        ck_assert_int_eq(np_wake_due(&word, 12, &woken), 1);
        ck_assert_int_eq(np_wake_due(&word, 13, &woken), 0);

        /* seq wraps: serial comparison, as seqs move forward */
        _Atomic uint64_t w2 = 0;
        _Atomic uint32_t k2 = 0;
        np_sleep_announce(&w2, 0x7fff0000u);
        np_sleep_announce(&w2, 0xfffe0000u);
        np_sleep_announce(&w2, 0xfffffffeu);
        ck_assert_uint_eq((uint32_t)atomic_load(&w2), 0xfffffffeu);
        ck_assert_int_eq(np_wake_due(&w2, 0xfffffffeu, &k2), 1); /* no news: stays open */
        ck_assert_int_eq(np_wake_due(&w2, 1, &k2), 1);           /* past the wrap */
        ck_assert_int_eq(np_wake_due(&w2, 2, &k2), 0);
        np_sleep_announce(&w2, 2);
        ck_assert_uint_eq((uint32_t)atomic_load(&w2), 2);
        np_sleep_announce(&w2, 0xfffffff0u); /* older than 2: not the maximum */
        ck_assert_uint_eq((uint32_t)atomic_load(&w2), 2);
        ck_assert_uint_eq((uint32_t)(atomic_load(&w2) >> 32), 5);
}
END_TEST

START_TEST(test_seq_only_for_waiters)
{
        /* covers: none (wake protocol: seq moves only for counted waiters, issue 16) */
        struct pair p;
        char buf[64];
        size_t n;
        pair_init(&p, 8192);
        uint32_t pseq = atomic_load(&p.pseg->seq), cseq = atomic_load(&p.cseg->seq);

        /* nobody waits: a message and its consumption move neither seq */
        put(&p, "one", 3);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq);

        /* a reader counted on the consumer's end: the producer's seq moves;
         * the consumption still does not move the consumer's */
        atomic_store(&p.cseg->rwaiting, 1);
        put(&p, "two", 3);
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq + 1);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq);
        atomic_store(&p.cseg->rwaiting, 0);
        /* a sleeping reader counts too, and a pending overlapped read */
        atomic_store(&p.cseg->rsleepers, 1);
        put(&p, "three", 5);
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq + 2);
        atomic_store(&p.cseg->rsleepers, 0);
        atomic_store(&p.cseg->rpending, 1);
        put(&p, "3b", 2);
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq + 3);
        atomic_store(&p.cseg->rpending, 0);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq);

        /* a writer counted on the producer's end: consumption moves the
         * consumer's seq, publication does not move the producer's */
        atomic_store(&p.pseg->wwaiting, 1);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq + 1);
        put(&p, "four", 4);
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq + 3);
        atomic_store(&p.pseg->wwaiting, 0);
        atomic_store(&p.pseg->wsleepers, 1);
        put(&p, "five", 4);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq + 2);
        atomic_store(&p.pseg->wsleepers, 0);
        atomic_store(&p.pseg->wpending, 1);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq + 3);
        pair_free(&p);
}
END_TEST

START_TEST(test_seq_version2_peer)
{
        /* covers: none (a peer library of segment version 2 is sent every increment) */
        struct pair p;
        char buf[64];
        size_t n;
        pair_init(&p, 8192);
        size_t sz = NP_SEG_HDR_SIZE + 8192;
        p.pseg->version = 2;
        p.cseg->version = 2;
        ck_assert_int_eq(np_seg_check(p.pseg, sz, NP_ROLE_SERVER), 0);
        p.pseg->version = 1;
        ck_assert_int_eq(np_seg_check(p.pseg, sz, NP_ROLE_SERVER), -1);
        p.pseg->version = 2;
        np_prod_init(&p.prod, p.pseg, p.cseg);
        np_cons_init(&p.cons, p.pseg, p.cseg);
        uint32_t pseq = atomic_load(&p.pseg->seq), cseq = atomic_load(&p.cseg->seq);
        for (int i = 0; i < 3; i++) {
                put(&p, "x", 1);
                ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        }
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq + 3);
        ck_assert_uint_eq(atomic_load(&p.cseg->seq), cseq + 3);
        /* the version is read when the peer is mapped: changed later, it
         * changes nothing */
        p.cseg->version = 3;
        put(&p, "y", 1);
        ck_assert_uint_eq(atomic_load(&p.pseg->seq), pseq + 4);
        pair_free(&p);
}
END_TEST

START_TEST(test_consumer_reads_head_when_needed)
{
        /* covers: none (the consumer loads the producer's head only when it has taken all it knew of, issue 16) */
        struct pair p;
        char buf[64];
        size_t n;
        pair_init(&p, 8192);
        put(&p, "a", 1);
        put(&p, "b", 1);
        put(&p, "c", 1);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_int_eq(buf[0], 'a');
        /* a head gone bad now is not read while the known messages last */
        uint64_t good = atomic_load(&p.pseg->head);
        set_head(&p, good + 4 * 8192);
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_int_eq(buf[0], 'b');
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_OK);
        ck_assert_int_eq(buf[0], 'c');
        /* then it is, and found bad */
        ck_assert_int_eq(get(&p, buf, sizeof buf, &n), NP_RING_CORRUPT);
        /* a message published after the head was loaded is found in the
         * same read that took the ones before it (byte mode) */
        set_head(&p, good);
        put(&p, "d", 1);
        ck_assert_int_eq(np_cons_read(&p.cons, buf, 1, 0, &n), NP_RING_OK);
        put(&p, "e", 1);
        n = 0;
        ck_assert_int_eq(np_cons_read(&p.cons, buf, sizeof buf, 0, &n), NP_RING_OK);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(buf[0], 'e');
        pair_free(&p);
}
END_TEST

START_TEST(test_corrupt_head)
{
        /* covers: none (design.md isolation: a bad value breaks the pipe) */
        struct pair p;
        pair_init(&p, 4096);
        /* head beyond the capacity */
        set_head(&p, 4096 + 8);
        expect_corrupt(&p, "head > cap");
        set_head(&p, UINT64_MAX - 7);
        expect_corrupt(&p, "head huge");
        /* head inside a header */
        set_head(&p, 8);
        expect_corrupt(&p, "head mid-header");
        pair_free(&p);

        /* head behind the consumer */
        pair_init(&p, 4096);
        put(&p, "abcdefgh", 8);
        char b[16];
        size_t n;
        ck_assert_int_eq(get(&p, b, sizeof(b), &n), NP_RING_OK);
        set_head(&p, 0);
        expect_corrupt(&p, "head < pos");
        pair_free(&p);
}
END_TEST

START_TEST(test_corrupt_lengths)
{
        /* covers: none (design.md isolation) */
        static const struct {
                uint32_t len, flags, msg_len;
                const char *what;
        } bad[] = {
            {4096, NP_CHUNK_FIRST | NP_CHUNK_LAST, 4096, "chunk longer than the ring"},
            {0xFFFFFFF0u, NP_CHUNK_FIRST | NP_CHUNK_LAST, 0xFFFFFFF0u, "chunk length huge"},
            {64, NP_CHUNK_FIRST | NP_CHUNK_LAST, 64, "chunk beyond head"},
            {8, NP_CHUNK_FIRST, NP_MSG_MAX + 1u, "message above NP_MSG_MAX"},
            {8, NP_CHUNK_FIRST | NP_CHUNK_LAST, 9, "last chunk shorter than message"},
            {8, NP_CHUNK_FIRST | NP_CHUNK_LAST, 7, "chunk longer than message"},
            {8, NP_CHUNK_FIRST, 8, "not last, but the whole message"},
            {8, NP_CHUNK_LAST, 8, "FIRST missing on the first chunk"},
            {8, 0, 8, "no flags"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct pair p;
                pair_init(&p, 4096);
                /* a valid 8-byte message, then its header rewritten */
                put(&p, "abcdefgh", 8);
                put_chunk(&p, 0, bad[i].len, bad[i].flags, bad[i].msg_len);
                expect_corrupt(&p, bad[i].what);
                pair_free(&p);
        }
}
END_TEST

START_TEST(test_corrupt_continuation)
{
        /* covers: none (design.md isolation) */
        /* a streamed message whose second chunk claims to start a message */
        struct pair p;
        pair_init(&p, 4096);
        put_chunk(&p, 0, 8, NP_CHUNK_FIRST, 16);
        put_chunk(&p, 24, 8, NP_CHUNK_FIRST | NP_CHUNK_LAST, 8);
        set_head(&p, 48);
        atomic_store(&p.pseg->wbytes, 16);
        char b[64];
        size_t n = 0;
        int r = np_cons_read(&p.cons, b, sizeof(b), 1, &n);
        /* the first chunk may be taken; the second must be refused */
        if (r != NP_RING_CORRUPT) {
                ck_assert_int_eq(r, NP_RING_PARTIAL);
                r = np_cons_read(&p.cons, b, sizeof(b), 1, &n);
        }
        ck_assert_int_eq(r, NP_RING_CORRUPT);
        pair_free(&p);

        /* a continuation longer than what is left of the message */
        pair_init(&p, 4096);
        put_chunk(&p, 0, 8, NP_CHUNK_FIRST, 16);
        put_chunk(&p, 24, 16, NP_CHUNK_LAST, 0);
        set_head(&p, 24 + 32);
        atomic_store(&p.pseg->wbytes, 16);
        n = 0;
        r = np_cons_read(&p.cons, b, sizeof(b), 1, &n);
        if (r != NP_RING_CORRUPT)
                r = np_cons_read(&p.cons, b, sizeof(b), 1, &n);
        ck_assert_int_eq(r, NP_RING_CORRUPT);
        pair_free(&p);

        /* "last" continuation that does not finish the message */
        pair_init(&p, 4096);
        put_chunk(&p, 0, 8, NP_CHUNK_FIRST, 24);
        put_chunk(&p, 24, 8, NP_CHUNK_LAST, 0);
        set_head(&p, 48);
        atomic_store(&p.pseg->wbytes, 24);
        n = 0;
        r = np_cons_read(&p.cons, b, sizeof(b), 1, &n);
        if (r != NP_RING_CORRUPT)
                r = np_cons_read(&p.cons, b, sizeof(b), 1, &n);
        ck_assert_int_eq(r, NP_RING_CORRUPT);
        pair_free(&p);
}
END_TEST

START_TEST(test_corrupt_counters)
{
        /* covers: none (design.md isolation) */
        struct pair p;
        pair_init(&p, 4096);
        put(&p, "abcdefgh", 8);
        char b[16];
        size_t n;
        ck_assert_int_eq(get(&p, b, sizeof(b), &n), NP_RING_OK);
        /* the producer claims fewer bytes written than we consumed */
        atomic_store(&p.pseg->wbytes, 0);
        ck_assert_int_eq(np_cons_avail(&p.cons), -1);
        struct np_peek_result pr;
        ck_assert_int_eq(np_cons_peek(&p.cons, b, sizeof(b), 1, &pr), NP_RING_CORRUPT);
        /* absurdly many */
        atomic_store(&p.pseg->wbytes, UINT64_MAX);
        ck_assert_int_eq(np_cons_avail(&p.cons), -1);
        pair_free(&p);

        /* producer side: the consumer's published values, read when the
         * producer needs them - here for a message that needs the whole
         * ring, more than the position it saw last leaves free */
        pair_init(&p, 4096);
        put(&p, "abcdefgh", 8);
        size_t done = 0;
        static char whole[4096 - NP_CHUNK_HDR];
        atomic_store(&p.cseg->rpos, 4096 * 4); /* beyond our head */
        ck_assert_int_eq(np_prod_write(&p.prod, whole, sizeof whole, &done), NP_RING_CORRUPT);
        ck_assert_int_eq(np_prod_room(&p.prod), -1);
        atomic_store(&p.cseg->rpos, 3); /* unaligned */
        done = 0;
        ck_assert_int_eq(np_prod_write(&p.prod, whole, sizeof whole, &done), NP_RING_CORRUPT);
        ck_assert_int_eq(np_prod_room(&p.prod), -1);
        atomic_store(&p.cseg->rpos, 0);
        atomic_store(&p.cseg->rbytes, 9); /* more consumed than written */
        ck_assert_int_eq(np_prod_unread(&p.prod), -1);
        atomic_store(&p.cseg->rbytes, 0);
        ck_assert_int_eq(np_prod_unread(&p.prod), 8);
        /* a write longer than the largest message */
        done = 0;
        ck_assert_int_eq(np_prod_write(&p.prod, "x", (size_t)NP_MSG_MAX + 1, &done),
                         NP_RING_CORRUPT);
        pair_free(&p);
}
END_TEST

/* Random garbage everywhere the peer can write: any result, never a crash,
 * never a write outside the buffer (guards), never a count beyond it. */
START_TEST(test_corrupt_fuzz)
{
        /* covers: none (design.md isolation) */
        const uint32_t cap = 4096;
        uint32_t x = 12345;
        for (int iter = 0; iter < 20000; iter++) {
                struct pair p;
                pair_init(&p, cap);
                /* some real traffic first so positions are not all zero */
                unsigned k = iter % 7;
                for (unsigned j = 0; j < k; j++)
                        put(&p, "0123456789abcdef", (j * 5) % 17);
                size_t n;
                char tmp[32];
                for (unsigned j = 0; j < k / 2; j++)
                        get(&p, tmp, sizeof(tmp), &n);
                /* scribble */
                uint8_t *d = ring_data(&p);
                int scribbles = 1 + iter % 5;
                for (int s = 0; s < scribbles; s++) {
                        x = x * 1103515245u + 12345u;
                        uint32_t off = (x >> 8) % cap;
                        x = x * 1103515245u + 12345u;
                        d[off] = (uint8_t)(x >> 16);
                        if (iter % 3 == 0) {
                                x = x * 1103515245u + 12345u;
                                uint32_t word = x;
                                memcpy(d + (off & ~7u), &word, 4);
                        }
                }
                x = x * 1103515245u + 12345u;
                if (x % 4 == 0)
                        set_head(&p, atomic_load(&p.pseg->head) + (x >> 20) % 64);
                if (x % 5 == 0)
                        atomic_store(&p.pseg->wbytes, atomic_load(&p.pseg->wbytes) + (x >> 24));

                uint8_t buf[64 + 32];
                memset(buf, 0xEE, sizeof(buf));
                n = 0;
                int r = np_cons_read(&p.cons, buf + 16, 64, (int)(x & 1), &n);
                ck_assert(r >= NP_RING_CORRUPT && r <= NP_RING_FULL);
                ck_assert_uint_le(n, 64);
                for (int g = 0; g < 16; g++) {
                        ck_assert_uint_eq(buf[g], 0xEE);
                        ck_assert_uint_eq(buf[16 + 64 + g], 0xEE);
                }
                struct np_peek_result pr;
                memset(buf, 0xEE, sizeof(buf));
                r = np_cons_peek(&p.cons, buf + 16, 64, (int)((x >> 1) & 1), &pr);
                ck_assert(r == 0 || r == NP_RING_CORRUPT);
                if (r == 0)
                        ck_assert_uint_le(pr.copied, 64);
                for (int g = 0; g < 16; g++) {
                        ck_assert_uint_eq(buf[g], 0xEE);
                        ck_assert_uint_eq(buf[16 + 64 + g], 0xEE);
                }
                (void)np_cons_avail(&p.cons);
                (void)np_cons_has_chunk(&p.cons);
                pair_free(&p);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("ring");
        TCase *tc = tcase_create("ring");
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, test_seg_check);
        tcase_add_test(tc, test_round_trip_sizes);
        tcase_add_test(tc, test_queue_of_messages);
        tcase_add_test(tc, test_more_data_pieces);
        tcase_add_test(tc, test_byte_mode_across_messages);
        tcase_add_test(tc, test_zero_length_reads);
        tcase_add_test(tc, test_peek_byte_pipe);
        tcase_add_test(tc, test_stream_single_thread);
        tcase_add_test(tc, test_stream_threads_message);
        tcase_add_test(tc, test_stream_threads_message_big_ring);
        tcase_add_test(tc, test_stream_threads_bytes);
        tcase_add_test(tc, test_abort_while_reading);
        tcase_add_test(tc, test_abort_while_reading_pieces);
        tcase_add_test(tc, test_wake_once);
        tcase_add_test(tc, test_seq_only_for_waiters);
        tcase_add_test(tc, test_seq_version2_peer);
        tcase_add_test(tc, test_consumer_reads_head_when_needed);
        tcase_add_test(tc, test_corrupt_head);
        tcase_add_test(tc, test_corrupt_lengths);
        tcase_add_test(tc, test_corrupt_continuation);
        tcase_add_test(tc, test_corrupt_counters);
        tcase_add_test(tc, test_corrupt_fuzz);
        suite_add_tcase(s, tc);
        return h_run(s);
}
