/*
 * test_msg.c - spec section 10, MSG: message boundaries and read results;
 * and what a handle does in a forked child (NPIPE_EFORKED).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_byte_pipe_concatenates)
{
        /* covers: MSG-01 */
        H_NAME(name, "bytes");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        H_WRITE_STR(s, "abc");
        H_WRITE_STR(s, "defg");
        H_WRITE_STR(s, "hi");
        /* min(n, available), across writes */
        H_READ_STR(c, 5, NPIPE_OK, "abcde");
        H_READ_STR(c, 32, NPIPE_OK, "fghi");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* The writer is another process: it writes a 10-byte message and, on 'n',
 * the next one. */
static int child_writer(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        C_STATUS(c_write_all(c, "0123456789", 10), NPIPE_OK);
        C_SEND(chan, 'w');
        C_EXPECT(chan, 'n');
        C_STATUS(c_write_all(c, "ABCDEFGHIJ", 10), NPIPE_OK);
        C_STATUS(c_write_all(c, "next", 4), NPIPE_OK);
        C_SEND(chan, 'w');
        C_EXPECT(chan, 'q');
        npipe_close(c);
        return 0;
}

START_TEST(test_more_data_in_parts)
{
        /* covers: MSG-02 MSG-03 MSG-11 */
        H_NAME(name, "parts");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        struct h_child ch;
        h_spawn(&ch, child_writer, name);
        H_EXPECT(ch.chan, 'w');
        h_await_client(s);
        /* 10 bytes read as 4 + 4 + rest */
        H_READ_STR(s, 4, NPIPE_EMOREDATA, "0123");
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.message_len, 6); /* the rest stays at the head */
        ck_assert_uint_eq(pk.avail, 6);
        H_READ_STR(s, 4, NPIPE_EMOREDATA, "4567");
        H_READ_STR(s, 4, NPIPE_OK, "89");
        h_send(ch.chan, 'n');
        H_EXPECT(ch.chan, 'w');
        /* exactly fitting: success, not more-data */
        H_READ_STR(s, 10, NPIPE_OK, "ABCDEFGHIJ");
        H_READ_STR(s, 10, NPIPE_OK, "next");
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_continuation_other_thread)
{
        /* covers: MSG-04 */
        H_NAME(name, "thread");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        H_WRITE_STR(s, "0123456789");
        H_READ_STR(c, 4, NPIPE_EMOREDATA, "0123");
        /* another thread reading the same end gets the continuation */
        char b[32];
        struct h_op r;
        h_async_read(&r, c, b, sizeof(b));
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_OK);
        ck_assert_uint_eq(r.n, 6);
        ck_assert_int_eq(memcmp(b, "456789", 6), 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* In a forked child, every call on the parent's handles is refused. */
struct forked_arg {
        npipe_t *s, *c;
};

static int child_uses_parent_handles(int chan, void *arg)
{
        struct forked_arg *a = arg;
        char b[16];
        size_t n;
        struct npipe_peek pk;
        struct npipe_info info;
        enum npipe_read_mode m;
        int nw;
        pid_t pid;
        npipe_t *hs[2] = {a->s, a->c};
        for (int i = 0; i < 2; i++) {
                npipe_t *h = hs[i];
                C_STATUS(npipe_read(h, b, sizeof(b), &n), NPIPE_EFORKED);
                C_STATUS(npipe_write(h, "x", 1, &n), NPIPE_EFORKED);
                C_STATUS(npipe_peek(h, b, sizeof(b), &pk), NPIPE_EFORKED);
                C_STATUS(npipe_transact(h, "t", 1, b, sizeof(b), &n), NPIPE_EFORKED);
                C_STATUS(npipe_flush(h), NPIPE_EFORKED);
                C_STATUS(npipe_get_info(h, &info), NPIPE_EFORKED);
                C_STATUS(npipe_get_mode(h, &m, &nw), NPIPE_EFORKED);
                C_STATUS(npipe_set_mode(h, NULL, &nw), NPIPE_EFORKED);
                C_STATUS(npipe_client_pid(h, &pid), NPIPE_EFORKED);
                C_STATUS(npipe_listen(h, 0), NPIPE_EFORKED);
                C_STATUS(npipe_disconnect(h), NPIPE_EFORKED);
                C_STATUS(npipe_close(h), NPIPE_EFORKED);
        }
        /* the child can still make its own handles */
        npipe_t *own = NULL;
        H_NAME(name, "childs-own");
        C_STATUS(npipe_create(name, NULL, &own), NPIPE_OK);
        C_STATUS(npipe_close(own), NPIPE_OK);
        C_SEND(chan, 'd');
        return 0;
}

START_TEST(test_forked_handle)
{
        /* covers: MSG-04 */
        H_NAME(name, "forked");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 1, &s, &c);
        H_WRITE_STR(c, "0123456789");
        H_READ_STR(s, 4, NPIPE_EMOREDATA, "0123");
        struct forked_arg a = {s, c};
        struct h_child ch;
        h_spawn(&ch, child_uses_parent_handles, &a);
        H_EXPECT(ch.chan, 'd');
        H_ASSERT_CHILD_OK(&ch);
        /* nothing the child tried touched the connection: the continuation
         * is still ours, both ways work */
        H_READ_STR(s, 16, NPIPE_OK, "456789");
        H_WRITE_STR(s, "still");
        H_READ_STR(c, 16, NPIPE_OK, "still");
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_byte_read_of_messages)
{
        /* covers: MSG-05 MSG-07 */
        H_NAME(name, "bytereadmsg");
        npipe_t *s, *c;
        /* server without READMODE_MESSAGE: its end reads bytes (MSG-07) */
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        H_WRITE(c, "hello world", 11);
        H_WRITE(c, "0123456789", 10);
        H_READ(s, 32, NPIPE_OK, "hello world0123456789", 21);
        /* a partial read in byte mode is success, never more-data */
        H_WRITE(s, "0123456789", 10);
        H_READ_STR(c, 5, NPIPE_OK, "01234");
        H_READ_STR(c, 5, NPIPE_OK, "56789");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_mixed_modes)
{
        /* covers: MSG-06 PEEK-03 */
        H_NAME(name, "mixed");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        char m20[21], m15[16];
        memset(m20, 'a', 20);
        memset(m15, 'b', 15);
        H_WRITE(s, m20, 20);
        H_WRITE(s, m15, 15);
        H_READ(c, 10, NPIPE_OK, m20, 10); /* byte mode: half of the first */
        struct npipe_peek pk;
        char pb[64];
        ck_assert_ok(npipe_peek(c, pb, sizeof(pb), &pk));
        ck_assert_uint_eq(pk.message_len, 10);
        ck_assert_uint_eq(pk.copied, 10);
        ck_assert_uint_eq(pk.avail, 25);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        H_READ(c, 64, NPIPE_OK, m20, 10); /* just the rest of that message */
        H_READ(c, 64, NPIPE_OK, m15, 15);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* A large message from another process, over a small quota: read as one
 * message in more-data pieces, and the writer's write reports it whole. */
#define BIG (1u << 20)
static int child_big_writer(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        uint8_t *buf = malloc(BIG);
        h_pattern(buf, BIG, 42);
        size_t n = 0;
        C_STATUS(npipe_write(c, buf, BIG, &n), NPIPE_OK);
        C_CHECK(n == BIG);
        C_SEND(chan, 'w'); /* only after the reader took enough */
        h_pattern(buf, 3000, 43);
        C_STATUS(npipe_write(c, buf, 3000, &n), NPIPE_OK);
        C_CHECK(n == 3000);
        C_EXPECT(chan, 'q');
        free(buf);
        npipe_close(c);
        return 0;
}

START_TEST(test_message_bigger_than_quota)
{
        /* covers: MSG-10 */
        H_NAME(name, "bigmsg");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        o.in_quota = 1000;
        npipe_t *s = h_create(name, &o);
        struct h_child ch;
        h_spawn(&ch, child_big_writer, name);
        ck_assert_status2(npipe_listen(s, NPIPE_INFINITE), NPIPE_OK, NPIPE_EISCONN);
        uint8_t *got = malloc(BIG);
        size_t off = 0;
        /* the write has not completed: far over the quota */
        ck_assert_int_eq(h_recv(ch.chan, H_BLOCKED_MS), -1);
        for (;;) {
                size_t n = 0;
                int r = npipe_read(s, got + off, 65536, &n);
                off += n;
                if (r == NPIPE_OK)
                        break;
                ck_assert_status(r, NPIPE_EMOREDATA);
                ck_assert_uint_eq(n, 65536);
        }
        ck_assert_uint_eq(off, BIG);
        ck_assert(h_pattern_ok(got, BIG, 42));
        H_EXPECT(ch.chan, 'w');
        /* the next message is separate, and a big buffer gets just it */
        size_t n = 0;
        ck_assert_status(npipe_read(s, got, BIG, &n), NPIPE_OK);
        ck_assert_uint_eq(n, 3000);
        ck_assert(h_pattern_ok(got, 3000, 43));
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        free(got);
        npipe_close(s);
}
END_TEST

START_TEST(test_big_message_one_read)
{
        /* covers: MSG-10 MSG-11 */
        /* a message larger than any ring arrives whole in one read */
        H_NAME(name, "bigone");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        struct h_child ch;
        h_spawn(&ch, child_big_writer, name);
        ck_assert_status2(npipe_listen(s, NPIPE_INFINITE), NPIPE_OK, NPIPE_EISCONN);
        uint8_t *got = malloc(BIG);
        size_t n = 0;
        ck_assert_status(npipe_read(s, got, BIG, &n), NPIPE_OK);
        ck_assert_uint_eq(n, BIG);
        ck_assert(h_pattern_ok(got, BIG, 42));
        H_EXPECT(ch.chan, 'w');
        ck_assert_status(npipe_read(s, got, BIG, &n), NPIPE_OK);
        ck_assert_uint_eq(n, 3000);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        free(got);
        npipe_close(s);
}
END_TEST

START_TEST(test_each_write_one_message)
{
        /* covers: MSG-12 MSG-13 PEEK-13 */
        H_NAME(name, "onewrite");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        H_WRITE_STR(s, "ab");
        H_WRITE_STR(s, "cd");
        H_WRITE_STR(s, "efg");
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.messages, 3);
        ck_assert_uint_eq(pk.message_len, 2);
        ck_assert_uint_eq(pk.avail, 7);
        /* a big buffer still gets one message at a time */
        H_READ_STR(c, 100, NPIPE_OK, "ab");
        H_READ_STR(c, 100, NPIPE_OK, "cd");
        H_READ_STR(c, 100, NPIPE_OK, "efg");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_pending_read_longer_message)
{
        /* covers: MSG-09 MSG-02 */
        /* a message-mode read that waits and is completed by a longer
         * message: more-data with the buffer size */
        H_NAME(name, "pendlong");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        char b[4];
        struct h_op r;
        h_async_read(&r, c, b, sizeof(b));
        H_ASSERT_BLOCKED(&r);
        H_WRITE_STR(s, "0123456789");
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_EMOREDATA);
        ck_assert_uint_eq(r.n, 4);
        ck_assert_int_eq(memcmp(b, "0123", 4), 0);
        H_READ_STR(c, 16, NPIPE_OK, "456789");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_message_over_two_pending_reads)
{
        /* covers: MSG-14 ORDER-01 */
        /* a message longer than the first pending read continues into the
         * next pending read, in order */
        H_NAME(name, "tworeads");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        char b1[4], b2[8];
        struct h_op r1, r2;
        h_async_read(&r1, c, b1, sizeof(b1));
        H_ASSERT_BLOCKED(&r1);
        h_async_read(&r2, c, b2, sizeof(b2));
        H_ASSERT_BLOCKED(&r2);
        H_WRITE_STR(s, "abcdef");
        H_ASSERT_FINISHES(&r1);
        H_ASSERT_FINISHES(&r2);
        ck_assert_status(r1.status, NPIPE_EMOREDATA);
        ck_assert_uint_eq(r1.n, 4);
        ck_assert_int_eq(memcmp(b1, "abcd", 4), 0);
        ck_assert_status(r2.status, NPIPE_OK);
        ck_assert_uint_eq(r2.n, 2);
        ck_assert_int_eq(memcmp(b2, "ef", 2), 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST


START_TEST(test_partial_message_stays_at_head)
{
        /* covers: ORDER-05 MSG-03 */
        /* with a second message queued behind it, a partly read message is
         * still the head: the next read finishes it before anything else */
        H_NAME(name, "head");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 1, &s, &c);
        H_WRITE_STR(c, "first-message");
        H_WRITE_STR(c, "second");
        H_READ_STR(s, 5, NPIPE_EMOREDATA, "first");
        H_READ_STR(s, 64, NPIPE_OK, "-message");
        H_READ_STR(s, 64, NPIPE_OK, "second");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("msg");
        TCase *tc = h_tcase("msg", 60);
        tcase_add_test(tc, test_byte_pipe_concatenates);
        tcase_add_test(tc, test_more_data_in_parts);
        tcase_add_test(tc, test_continuation_other_thread);
        tcase_add_test(tc, test_forked_handle);
        tcase_add_test(tc, test_byte_read_of_messages);
        tcase_add_test(tc, test_mixed_modes);
        tcase_add_test(tc, test_message_bigger_than_quota);
        tcase_add_test(tc, test_big_message_one_read);
        tcase_add_test(tc, test_each_write_one_message);
        tcase_add_test(tc, test_pending_read_longer_message);
        tcase_add_test(tc, test_message_over_two_pending_reads);
        tcase_add_test(tc, test_partial_message_stays_at_head);
        suite_add_tcase(s, tc);
        return h_run(s);
}
