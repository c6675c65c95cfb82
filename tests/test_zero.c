/*
 * test_zero.c - spec section 11, ZERO: zero-length writes and reads.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static void zero_write_does_not_block(enum npipe_type type)
{
        H_NAME(name, "zw");
        struct npipe_server_opts o;
        h_opts(&o, type, 0);
        o.out_quota = 100;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        /* an earlier write is pending for lack of quota */
        static char big[1000];
        struct h_op w;
        h_async_write(&w, s, big, sizeof(big));
        H_ASSERT_BLOCKED(&w);
        /* a zero-length write still completes at once, with 0 written */
        struct h_op z;
        h_async_write(&z, s, "", 0);
        ck_assert_msg(h_op_finish(&z, H_PROMPT_MS), "zero-length write blocked");
        ck_assert_status(z.status, NPIPE_OK);
        ck_assert_uint_eq(z.n, 0);
        /* drain; the pending write completes */
        char *b = malloc(2000);
        size_t got = 0, n;
        while (got < sizeof(big)) {
                ck_assert_ok(npipe_read(c, b, 2000, &n));
                got += n;
        }
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_uint_eq(w.n, sizeof(big));
        free(b);
        npipe_close(c);
        npipe_close(s);
}

START_TEST(test_zero_write_never_blocks_msg)
{
        /* covers: ZERO-01 */
        zero_write_does_not_block(NPIPE_TYPE_MESSAGE);
}
END_TEST

START_TEST(test_zero_write_never_blocks_byte)
{
        /* covers: ZERO-01 */
        zero_write_does_not_block(NPIPE_TYPE_BYTE);
}
END_TEST

START_TEST(test_empty_message)
{
        /* covers: ZERO-02 ZERO-11 PEEK-13 */
        H_NAME(name, "empty");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        size_t n = 99;
        ck_assert_ok(npipe_write(s, "", 0, &n));
        ck_assert_uint_eq(n, 0);
        /* invisible to peek's byte counts, but one message */
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_uint_eq(pk.message_len, 0);
        ck_assert_uint_eq(pk.messages, 1);
        H_WRITE_STR(s, "abc");
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.messages, 2);
        ck_assert_uint_eq(pk.avail, 3);
        /* a read consumes the empty message: success, 0 bytes */
        H_READ(c, 16, NPIPE_OK, "", 0);
        H_READ_STR(c, 16, NPIPE_OK, "abc");
        /* nothing left: a non-blocking read proves the queue is empty */
        h_set_nowait(c, 1);
        char b[4];
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EAGAIN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_zero_write_byte_pipe_noop)
{
        /* covers: ZERO-03 */
        H_NAME(name, "bytenoop");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        char b[8];
        struct h_op r;
        h_async_read(&r, c, b, sizeof(b));
        H_ASSERT_BLOCKED(&r);
        size_t n = 99;
        ck_assert_ok(npipe_write(s, "", 0, &n));
        ck_assert_uint_eq(n, 0);
        /* no pending read woke, nothing is queued */
        H_ASSERT_BLOCKED(&r);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_uint_eq(info.read_avail, 0);
        H_WRITE_STR(s, "x");
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_OK);
        ck_assert_uint_eq(r.n, 1);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_zero_write_wakes_one_read)
{
        /* covers: ZERO-04 ORDER-01 */
        H_NAME(name, "wakesone");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        char b1[8], b2[8];
        struct h_op r1, r2;
        h_async_read(&r1, c, b1, sizeof(b1));
        H_ASSERT_BLOCKED(&r1);
        h_async_read(&r2, c, b2, sizeof(b2));
        H_ASSERT_BLOCKED(&r2);
        H_WRITE(s, "", 0);
        /* the first read completes with 0 bytes, success; the second waits */
        H_ASSERT_FINISHES(&r1);
        ck_assert_status(r1.status, NPIPE_OK);
        ck_assert_uint_eq(r1.n, 0);
        H_ASSERT_BLOCKED(&r2);
        H_WRITE_STR(s, "y");
        H_ASSERT_FINISHES(&r2);
        ck_assert_status(r2.status, NPIPE_OK);
        ck_assert_uint_eq(r2.n, 1);
        ck_assert_int_eq(b2[0], 'y');
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_empty_message_then_close)
{
        /* covers: ZERO-05 */
        H_NAME(name, "emptyclose");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c); /* client in byte mode */
        H_WRITE(s, "", 0);
        npipe_close(s);
        char b[32];
        size_t n = 99;
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_OK);
        ck_assert_uint_eq(n, 0);
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EPIPE);
        npipe_close(c);
}
END_TEST

START_TEST(test_byte_read_skips_empty_messages)
{
        /* covers: ZERO-06 MSG-05 */
        H_NAME(name, "skipempty");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        H_WRITE_STR(s, "ab");
        H_WRITE(s, "", 0);
        H_WRITE(s, "", 0);
        H_WRITE_STR(s, "cd");
        H_READ_STR(c, 32, NPIPE_OK, "abcd");
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_uint_eq(pk.messages, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_zero_read_waits)
{
        /* covers: ZERO-07 */
        H_NAME(name, "zeroread");
        static const enum npipe_type types[] = {NPIPE_TYPE_BYTE, NPIPE_TYPE_MESSAGE};
        for (int i = 0; i < 2; i++) {
                npipe_t *s, *c;
                h_pair(name, types[i], 0, 0, &s, &c); /* byte read mode */
                struct h_op r;
                h_async_read(&r, c, NULL, 0);
                H_ASSERT_BLOCKED(&r);
                H_WRITE_STR(s, "abc");
                H_ASSERT_FINISHES(&r);
                ck_assert_status(r.status, NPIPE_OK);
                ck_assert_uint_eq(r.n, 0);
                /* the data was left in the pipe */
                struct npipe_peek pk;
                ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
                ck_assert_uint_eq(pk.avail, 3);
                H_READ_STR(c, 8, NPIPE_OK, "abc");
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_zero_read_message_mode)
{
        /* covers: ZERO-08 */
        H_NAME(name, "zeromsg");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        char dummy;
        struct h_op r;
        h_async_read(&r, c, &dummy, 0);
        H_ASSERT_BLOCKED(&r);
        H_WRITE_STR(s, "msg");
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_EMOREDATA);
        ck_assert_uint_eq(r.n, 0);
        H_READ_STR(c, 8, NPIPE_OK, "msg");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_zero_read_with_data)
{
        /* covers: ZERO-09 */
        H_NAME(name, "zerodata");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        H_WRITE_STR(s, "data");
        char b[1];
        size_t n = 99;
        ck_assert_status(npipe_read(c, b, 0, &n), NPIPE_OK); /* byte mode */
        ck_assert_uint_eq(n, 0);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        n = 99;
        /* ⚠VER: success on older Windows, more-data on Windows 8+ */
        ck_assert_status2(npipe_read(c, b, 0, &n), NPIPE_OK, NPIPE_EMOREDATA);
        ck_assert_uint_eq(n, 0);
        /* nothing was consumed either way */
        H_READ_STR(c, 8, NPIPE_OK, "data");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("zero");
        TCase *tc = h_tcase("zero", 60);
        tcase_add_test(tc, test_zero_write_never_blocks_msg);
        tcase_add_test(tc, test_zero_write_never_blocks_byte);
        tcase_add_test(tc, test_empty_message);
        tcase_add_test(tc, test_zero_write_byte_pipe_noop);
        tcase_add_test(tc, test_zero_write_wakes_one_read);
        tcase_add_test(tc, test_empty_message_then_close);
        tcase_add_test(tc, test_byte_read_skips_empty_messages);
        tcase_add_test(tc, test_zero_read_waits);
        tcase_add_test(tc, test_zero_read_message_mode);
        tcase_add_test(tc, test_zero_read_with_data);
        suite_add_tcase(s, tc);
        return h_run(s);
}
