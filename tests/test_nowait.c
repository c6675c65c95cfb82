/*
 * test_nowait.c - spec section 14, NOWAIT: non-blocking (PIPE_NOWAIT) ends.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* A pair whose server writes over an outbound quota of `quota`; the server
 * end is non-blocking. */
static void nowait_pair(const char *name, enum npipe_type type, uint32_t quota, npipe_t **s,
                        npipe_t **c)
{
        struct npipe_server_opts o;
        h_opts(&o, type, NPIPE_NOWAIT);
        o.out_quota = quota;
        o.in_quota = quota;
        *s = h_create(name, &o);
        *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
}

START_TEST(test_read_empty)
{
        /* covers: NOWAIT-01 NOWAIT-02 */
        H_NAME(name, "empty");
        npipe_t *s, *c;
        nowait_pair(name, NPIPE_TYPE_MESSAGE, 512, &s, &c);
        h_set_nowait(c, 1);
        char b[16];
        size_t n = 99;
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EAGAIN);
        ck_assert_uint_eq(n, 0);
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EAGAIN);
        ck_assert_status(npipe_read_timeout(c, b, sizeof(b), &n, 5000), NPIPE_EAGAIN);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        /* with data: reads normally */
        H_WRITE_STR(s, "data");
        H_READ_STR(c, 16, NPIPE_OK, "data");
        H_WRITE_STR(c, "back");
        H_READ_STR(s, 16, NPIPE_OK, "back");
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EAGAIN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_broken_beats_empty)
{
        /* covers: NOWAIT-03 */
        H_NAME(name, "broken");
        npipe_t *s, *c;
        nowait_pair(name, NPIPE_TYPE_BYTE, 512, &s, &c);
        H_WRITE_STR(c, "last");
        npipe_close(c);
        H_READ_STR(s, 16, NPIPE_OK, "last");
        char b[4];
        size_t n;
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EPIPE);
        npipe_close(s);
}
END_TEST

START_TEST(test_message_all_or_nothing)
{
        /* covers: NOWAIT-04 NOWAIT-07 */
        H_NAME(name, "msgall");
        npipe_t *s, *c;
        nowait_pair(name, NPIPE_TYPE_MESSAGE, 512, &s, &c);
        static char buf[1024];
        size_t n = 99;
        /* no reader: 513 > 512: nothing written, success */
        int64_t t0 = h_now_ms();
        ck_assert_ok(npipe_write(s, buf, 513, &n));
        ck_assert_uint_eq(n, 0);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_uint_eq(pk.messages, 0);
        /* a 1-byte read pending: 1 + 512 < 514: nothing, the read untouched */
        char rb[1];
        struct h_op r;
        h_async_read(&r, c, rb, 1);
        H_ASSERT_BLOCKED(&r);
        n = 99;
        ck_assert_ok(npipe_write(s, buf, 514, &n));
        ck_assert_uint_eq(n, 0);
        H_ASSERT_BLOCKED(&r);
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        /* what fits is written whole */
        H_WRITE_STR(s, "z");
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_OK);
        ck_assert_int_eq(rb[0], 'z');
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* NOWAIT-05, one case: a byte pipe with quota 512, a pending read of
 * `rlen` (0: none), a non-blocking write of `wlen`; `want` bytes written. */
static void byte_case(size_t rlen, size_t wlen, size_t want, size_t buffered)
{
        H_NAME(name, "bytecase");
        npipe_t *s, *c;
        nowait_pair(name, NPIPE_TYPE_BYTE, 512, &s, &c);
        char *rb = malloc(rlen ? rlen : 1);
        struct h_op r;
        if (rlen) {
                h_async_read(&r, c, rb, rlen);
                H_ASSERT_BLOCKED(&r);
        }
        static char buf[1024];
        h_pattern(buf, sizeof(buf), 1);
        size_t n = 99;
        ck_assert_ok(npipe_write(s, buf, wlen, &n));
        ck_assert_msg(n == want, "read %zu pending, write %zu: wrote %zu, expected %zu", rlen, wlen,
                      n, want);
        size_t got = 0;
        if (rlen) {
                if (want) {
                        H_ASSERT_FINISHES(&r);
                        ck_assert_status(r.status, NPIPE_OK);
                        got = r.n;
                } else {
                        H_ASSERT_BLOCKED(&r);
                }
        }
        /* what is left in the pipe after the reader took its part */
        struct npipe_peek pk;
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail + got == want);
        ck_assert_uint_eq(pk.avail, buffered);
        if (rlen && !want) {
                H_WRITE_STR(s, "x");
                H_ASSERT_FINISHES(&r);
        }
        free(rb);
        npipe_close(c);
        npipe_close(s);
}

START_TEST(test_byte_no_reader)
{
        /* covers: NOWAIT-05 */
        byte_case(0, 513, 0, 0);
}
END_TEST

START_TEST(test_byte_big_reader)
{
        /* covers: NOWAIT-05 ORDER-02 */
        byte_case(32768, 513, 513, 0);
}
END_TEST

START_TEST(test_byte_small_reader_fits)
{
        /* covers: NOWAIT-05 ORDER-02 */
        byte_case(1, 513, 513, 512);
}
END_TEST

START_TEST(test_byte_small_reader_too_much)
{
        /* covers: NOWAIT-05 */
        /* only the byte the reader takes is written; nothing is buffered */
        byte_case(1, 514, 1, 0);
}
END_TEST

START_TEST(test_exactly_free_quota)
{
        /* covers: NOWAIT-06 */
        static const enum npipe_type types[] = {NPIPE_TYPE_BYTE, NPIPE_TYPE_MESSAGE};
        for (int i = 0; i < 2; i++) {
                H_NAME(name, "exact");
                npipe_t *s, *c;
                nowait_pair(name, types[i], 512, &s, &c);
                static char buf[512];
                size_t n = 0;
                ck_assert_ok(npipe_write(s, buf, 512, &n));
                ck_assert_uint_eq(n, 512);
                H_NAME(name2, "exact2");
                npipe_t *s2, *c2;
                nowait_pair(name2, types[i], 512, &s2, &c2);
                ck_assert_ok(npipe_write(s2, buf, 100, &n));
                ck_assert_uint_eq(n, 100);
                ck_assert_ok(npipe_write(s2, buf, 412, &n));
                ck_assert_uint_eq(n, 412);
                ck_assert_ok(npipe_write(s2, buf, 1, &n)); /* full now */
                ck_assert_uint_eq(n, 0);
                npipe_close(c2);
                npipe_close(s2);
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_wait_mode_per_end)
{
        /* covers: NOWAIT-09 MODE-04 */
        H_NAME(name, "perend");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.out_quota = o.in_quota = 100;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        /* the reader is non-blocking: the writer still blocks over quota */
        h_set_nowait(c, 1);
        static char buf[300];
        struct h_op w;
        h_async_write(&w, s, buf, sizeof(buf));
        H_ASSERT_BLOCKED(&w);
        char b[300];
        size_t got = 0, n;
        while (got < 200) {
                int r = npipe_read(c, b, 200 - got, &n);
                if (r == NPIPE_EAGAIN) {
                        h_pause();
                        continue;
                }
                ck_assert_ok(r);
                got += n;
        }
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_uint_eq(w.n, 300);
        /* the writer is non-blocking: the reader still blocks */
        h_set_nowait(c, 0);
        h_set_nowait(s, 1);
        ck_assert_ok(npipe_read(c, b, 100, &n));
        struct h_op r;
        h_async_read(&r, c, b, sizeof(b));
        H_ASSERT_BLOCKED(&r);
        H_WRITE_STR(s, "x");
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_OK);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("nowait");
        TCase *tc = h_tcase("nowait", 60);
        tcase_add_test(tc, test_read_empty);
        tcase_add_test(tc, test_broken_beats_empty);
        tcase_add_test(tc, test_message_all_or_nothing);
        tcase_add_test(tc, test_byte_no_reader);
        tcase_add_test(tc, test_byte_big_reader);
        tcase_add_test(tc, test_byte_small_reader_fits);
        tcase_add_test(tc, test_byte_small_reader_too_much);
        tcase_add_test(tc, test_exactly_free_quota);
        tcase_add_test(tc, test_wait_mode_per_end);
        suite_add_tcase(s, tc);
        return h_run(s);
}
