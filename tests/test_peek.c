/*
 * test_peek.c - spec section 12, PEEK: npipe_peek (PeekNamedPipe).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_peek_keeps_data_and_returns)
{
        /* covers: PEEK-01 PEEK-06 */
        H_NAME(name, "keeps");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        /* empty and connected: success at once, all zero */
        struct npipe_peek pk;
        memset(&pk, 0xAA, sizeof(pk));
        char b[32];
        int64_t t0 = h_now_ms();
        ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_uint_eq(pk.copied, 0);
        ck_assert_uint_eq(pk.left, 0);
        ck_assert_uint_eq(pk.message_len, 0);
        ck_assert_uint_eq(pk.messages, 0);
        ck_assert_uint_eq(pk.state, NPIPE_STATE_CONNECTED);
        H_WRITE_STR(s, "hello");
        for (int i = 0; i < 3; i++) {
                memset(b, 0, sizeof(b));
                ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
                ck_assert_uint_eq(pk.copied, 5);
                ck_assert_int_eq(memcmp(b, "hello", 5), 0);
        }
        H_READ_STR(c, 32, NPIPE_OK, "hello");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* A child client writes `len` bytes in one write over a 1000-byte inbound
 * quota; it reports 'w' when its write returns. */
static int child_over_quota(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        static uint8_t buf[5000];
        h_pattern(buf, sizeof(buf), 9);
        C_SEND(chan, 'o');
        C_STATUS(c_write_all(c, buf, sizeof(buf)), NPIPE_OK);
        C_SEND(chan, 'w');
        C_EXPECT(chan, 'q');
        npipe_close(c);
        return 0;
}

START_TEST(test_avail_includes_pending_write)
{
        /* covers: PEEK-02 QUOTA-05 QUOTA-03 */
        H_NAME(name, "pendingavail");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.in_quota = 1000;
        npipe_t *s = h_create(name, &o);
        struct h_child ch;
        h_spawn(&ch, child_over_quota, name);
        H_EXPECT(ch.chan, 'o');
        struct npipe_peek pk;
        /* the whole of the pending write is visible, although it does not
         * fit the quota and has not completed */
        H_EVENTUALLY(npipe_peek(s, NULL, 0, &pk) == 0 && pk.avail == 5000);
        ck_assert_uint_eq(pk.message_len, 5000);
        ck_assert_uint_eq(pk.messages, 1);
        ck_assert_int_eq(h_recv(ch.chan, H_BLOCKED_MS), -1); /* write still pending */
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(s, &info));
        ck_assert_uint_eq(info.read_avail, 5000);
        uint8_t *b = malloc(5000);
        ck_assert_ok(npipe_peek(s, b, 5000, &pk));
        ck_assert_uint_eq(pk.copied, 5000);
        ck_assert(h_pattern_ok(b, 5000, 9));
        free(b);
        h_send(ch.chan, 'q');
        h_kill(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_peek_head_message_only)
{
        /* covers: PEEK-03 PEEK-04 */
        static const enum npipe_read_mode modes[] = {NPIPE_READ_BYTE, NPIPE_READ_MESSAGE};
        for (int i = 0; i < 2; i++) {
                H_NAME(name, "headonly");
                npipe_t *s, *c;
                h_pair(name, NPIPE_TYPE_MESSAGE, 0, modes[i] == NPIPE_READ_MESSAGE, &s, &c);
                H_WRITE_STR(s, "hello");
                H_WRITE_STR(s, "world!!");
                char b[64];
                struct npipe_peek pk;
                /* whatever the peeker's read mode: only the head message */
                ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
                ck_assert_uint_eq(pk.copied, 5);
                ck_assert_uint_eq(pk.avail, 12);
                ck_assert_uint_eq(pk.message_len, 5);
                ck_assert_uint_eq(pk.left, 0);
                ck_assert_int_eq(memcmp(b, "hello", 5), 0);
                /* a smaller buffer: left = message_len - copied */
                ck_assert_ok(npipe_peek(c, b, 2, &pk));
                ck_assert_uint_eq(pk.copied, 2);
                ck_assert_uint_eq(pk.left, 3);
                /* after a partial read: the remainder of the head */
                H_READ(c, 2, modes[i] == NPIPE_READ_MESSAGE ? NPIPE_EMOREDATA : NPIPE_OK, "he", 2);
                ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
                ck_assert_uint_eq(pk.copied, 3);
                ck_assert_uint_eq(pk.message_len, 3);
                ck_assert_uint_eq(pk.avail, 10);
                ck_assert_int_eq(memcmp(b, "llo", 3), 0);
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_peek_byte_pipe)
{
        /* covers: PEEK-03 PEEK-04 PEEK-13 */
        H_NAME(name, "bytepeek");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        H_WRITE_STR(s, "hello");
        H_WRITE_STR(s, "world!!");
        char b[64];
        struct npipe_peek pk;
        /* as much as fits, across writes */
        ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
        ck_assert_uint_eq(pk.copied, 12);
        ck_assert_int_eq(memcmp(b, "helloworld!!", 12), 0);
        ck_assert_uint_eq(pk.avail, 12);
        ck_assert_uint_eq(pk.message_len, 0);
        ck_assert_uint_eq(pk.messages, 0);
        /* left = 0 - copied in 32 bits: (DWORD)-12 */
        ck_assert_uint_eq(pk.left, (uint32_t)-12);
        ck_assert_ok(npipe_peek(c, b, 4, &pk));
        ck_assert_uint_eq(pk.copied, 4);
        ck_assert_uint_eq(pk.left, 0xFFFFFFFCu);
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.copied, 0);
        ck_assert_uint_eq(pk.left, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_peek_no_buffer)
{
        /* covers: PEEK-05 */
        H_NAME(name, "nobuf");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        H_WRITE_STR(s, "abcdef");
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.copied, 0);
        ck_assert_uint_eq(pk.avail, 6);
        ck_assert_uint_eq(pk.message_len, 6);
        ck_assert_uint_eq(pk.left, 6);
        ck_assert_ok(npipe_peek(c, NULL, 100, &pk));
        ck_assert_uint_eq(pk.copied, 0);
        ck_assert_uint_eq(pk.avail, 6);
        /* a bogus pointer with size 0 is not touched */
        ck_assert_ok(npipe_peek(c, (void *)1, 0, &pk));
        ck_assert_uint_eq(pk.copied, 0);
        ck_assert_uint_eq(pk.message_len, 6);
        /* a NULL result pointer is allowed too */
        ck_assert_ok(npipe_peek(c, NULL, 0, NULL));
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_peek_errors)
{
        /* covers: PEEK-07 STATE-09 STATE-10 STATE-11 */
        H_NAME(name, "errors");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        char b[8];
        struct npipe_peek pk;
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EBADPIPE); /* listening */
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_WRITE_STR(s, "x");
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EBADPIPE);
        ck_assert_status(npipe_peek(c, b, sizeof(b), &pk), NPIPE_ENOTCONN);
        npipe_close(c);
        /* peer closed with data left: success; nothing left: broken */
        struct h_op l;
        h_listen_ready(&l, s, name);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        H_WRITE_STR(c, "left");
        npipe_close(c);
        ck_assert_ok(npipe_peek(s, b, sizeof(b), &pk));
        ck_assert_uint_eq(pk.avail, 4);
        ck_assert_uint_eq(pk.state, NPIPE_STATE_CLOSING);
        H_READ_STR(s, 8, NPIPE_OK, "left");
        memset(&pk, 0x5C, sizeof(pk));
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EPIPE);
        ck_assert_uint_eq(pk.avail, 0x5C5C5C5Cu); /* untouched */
        ck_assert_uint_eq(pk.state, 0x5C5C5C5Cu);
        npipe_close(s);
}
END_TEST

START_TEST(test_peek_message_count)
{
        /* covers: PEEK-13 */
        H_NAME(name, "count");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        H_WRITE_STR(s, "one");
        H_WRITE_STR(s, "two");
        H_WRITE_STR(s, "three");
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.messages, 3);
        H_READ_STR(c, 8, NPIPE_OK, "one");
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.messages, 2);
        /* a partly read head message still counts */
        H_READ_STR(c, 1, NPIPE_EMOREDATA, "t");
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.messages, 2);
        ck_assert_uint_eq(pk.message_len, 2);
        H_READ_STR(c, 8, NPIPE_OK, "wo");
        H_READ_STR(c, 8, NPIPE_OK, "three");
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.messages, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_peek_write_only_client)
{
        /* covers: PEEK-14 */
        H_NAME(name, "writeonly");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = NPIPE_INBOUND;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_WRITE);
        struct npipe_peek pk;
        char b[4];
        ck_assert_status(npipe_peek(c, b, sizeof(b), &pk), NPIPE_EACCES);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("peek");
        TCase *tc = h_tcase("peek", 60);
        tcase_add_test(tc, test_peek_keeps_data_and_returns);
        tcase_add_test(tc, test_avail_includes_pending_write);
        tcase_add_test(tc, test_peek_head_message_only);
        tcase_add_test(tc, test_peek_byte_pipe);
        tcase_add_test(tc, test_peek_no_buffer);
        tcase_add_test(tc, test_peek_errors);
        tcase_add_test(tc, test_peek_message_count);
        tcase_add_test(tc, test_peek_write_only_client);
        suite_add_tcase(s, tc);
        return h_run(s);
}
