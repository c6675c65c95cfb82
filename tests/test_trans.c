/*
 * test_trans.c - spec section 16, TRANS: npipe_transact (TransactNamedPipe)
 * and npipe_call (CallNamedPipe).
 */
#include "harness.h"

#include <string.h>

/* Child server: creates a message pipe (message read mode), signals 'r',
 * then answers each request message with "re:" + request, until told 'q'
 * or the client goes away.  arg: the name. */
static int child_echo_server(int chan, void *arg)
{
        npipe_t *s = NULL;
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.flags = NPIPE_READMODE_MESSAGE;
        C_STATUS(npipe_create(arg, &o, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        int r = npipe_listen(s, H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        for (;;) {
                char b[256], reply[300];
                size_t n = 0;
                r = npipe_read(s, b, sizeof(b), &n);
                if (r == NPIPE_EPIPE)
                        break;
                C_STATUS(r, NPIPE_OK);
                memcpy(reply, "re:", 3);
                memcpy(reply + 3, b, n);
                C_STATUS(c_write_all(s, reply, n + 3), NPIPE_OK);
        }
        C_SEND(chan, 'e');
        C_EXPECT(chan, 'q');
        npipe_close(s);
        return 0;
}

START_TEST(test_transact_round_trip)
{
        /* covers: TRANS-01 TRANS-07 MSG-12 */
        H_NAME(name, "rt");
        struct h_child ch;
        h_spawn(&ch, child_echo_server, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        char out[64];
        size_t n = 0;
        for (int i = 0; i < 20; i++) {
                char req[16];
                int len = snprintf(req, sizeof(req), "req%d", i);
                ck_assert_ok(npipe_transact(c, req, (size_t)len, out, sizeof(out), &n));
                ck_assert_uint_eq(n, (size_t)len + 3);
                ck_assert_int_eq(memcmp(out, "re:", 3), 0);
                ck_assert_int_eq(memcmp(out + 3, req, (size_t)len), 0);
        }
        npipe_close(c);
        H_EXPECT(ch.chan, 'e');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

START_TEST(test_transact_bad_pipe)
{
        /* covers: TRANS-02 */
        char out[8];
        size_t n;
        /* byte pipe */
        H_NAME(n1, "bytetrans");
        npipe_t *s, *c;
        h_pair(n1, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        ck_assert_status(npipe_transact(c, "x", 1, out, sizeof(out), &n), NPIPE_EBADPIPE);
        ck_assert_status(npipe_transact(s, "x", 1, out, sizeof(out), &n), NPIPE_EBADPIPE);
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0); /* nothing was written */
        npipe_close(c);
        npipe_close(s);
        /* message pipe, caller in byte read mode */
        H_NAME(n2, "bytemode");
        h_pair(n2, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        ck_assert_status(npipe_transact(c, "x", 1, out, sizeof(out), &n), NPIPE_EBADPIPE);
        ck_assert_status(npipe_transact(s, "x", 1, out, sizeof(out), &n), NPIPE_EBADPIPE);
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        npipe_close(c);
        npipe_close(s);
        /* not duplex: a message-mode end of an inbound pipe (it also
         * lacks one of the data accesses, so access denied is possible) */
        H_NAME(n3, "inbound");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        o.dir = NPIPE_INBOUND;
        s = h_create(n3, &o);
        c = h_client(n3, NPIPE_WRITE);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        ck_assert_status2(npipe_transact(s, "x", 1, out, sizeof(out), &n), NPIPE_EBADPIPE,
                          NPIPE_EACCES);
        ck_assert_status2(npipe_transact(c, "x", 1, out, sizeof(out), &n), NPIPE_EBADPIPE,
                          NPIPE_EACCES);
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_transact_unread_data_busy)
{
        /* covers: TRANS-03 */
        H_NAME(name, "unread");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 1, &s, &c);
        H_WRITE_STR(s, "unsolicited");
        char out[32];
        size_t n;
        ck_assert_status(npipe_transact(c, "req", 3, out, sizeof(out), &n), NPIPE_EBUSY);
        /* nothing was written */
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_uint_eq(pk.messages, 0);
        /* also with only part of a message left */
        H_READ_STR(c, 4, NPIPE_EMOREDATA, "unso");
        ck_assert_status(npipe_transact(c, "req", 3, out, sizeof(out), &n), NPIPE_EBUSY);
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        H_READ_STR(c, 32, NPIPE_OK, "licited");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_transact_write_never_blocks)
{
        /* covers: TRANS-05 */
        H_NAME(name, "noblock");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        o.in_quota = 100;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        static char fill[100], more[300];
        H_WRITE(c, fill, 100); /* the quota is used up */
        struct h_op pend;
        h_async_write(&pend, c, more, sizeof(more)); /* and a write pends */
        H_ASSERT_BLOCKED(&pend);
        char out[16];
        struct h_op t;
        h_async_transact(&t, c, "request", 7, out, sizeof(out));
        /* the request is queued behind the pending write at once */
        struct npipe_peek pk;
        H_EVENTUALLY(npipe_peek(s, NULL, 0, &pk) == 0 && pk.avail == 407);
        ck_assert_uint_eq(pk.messages, 3);
        /* answered without the server reading anything: the transaction
         * is only waiting for the reply, not for quota */
        H_WRITE_STR(s, "reply");
        H_ASSERT_FINISHES(&t);
        ck_assert_status(t.status, NPIPE_OK);
        ck_assert_uint_eq(t.n, 5);
        ck_assert_int_eq(memcmp(out, "reply", 5), 0);
        H_ASSERT_BLOCKED(&pend);
        /* the messages arrive in order */
        char b[400];
        size_t n;
        ck_assert_ok(npipe_read(s, b, sizeof(b), &n));
        ck_assert_uint_eq(n, 100);
        ck_assert_ok(npipe_read(s, b, sizeof(b), &n));
        ck_assert_uint_eq(n, 300);
        H_READ_STR(s, 16, NPIPE_OK, "request");
        H_ASSERT_FINISHES(&pend);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_transact_reply_too_long)
{
        /* covers: TRANS-06 */
        H_NAME(name, "toolong");
        struct h_child ch;
        h_spawn(&ch, child_echo_server, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        char out[6];
        size_t n = 0;
        /* "re:abcdefg" is 10 bytes: 6 now, more-data */
        ck_assert_status(npipe_transact(c, "abcdefg", 7, out, sizeof(out), &n), NPIPE_EMOREDATA);
        ck_assert_uint_eq(n, 6);
        ck_assert_int_eq(memcmp(out, "re:abc", 6), 0);
        /* the rest with a read */
        H_READ_STR(c, 16, NPIPE_OK, "defg");
        npipe_close(c);
        H_EXPECT(ch.chan, 'e');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

START_TEST(test_transact_meets_pending_read)
{
        /* covers: TRANS-07 */
        H_NAME(name, "pendread");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 1, &s, &c);
        char rb[32];
        struct h_op r;
        h_async_read(&r, s, rb, sizeof(rb));
        H_ASSERT_BLOCKED(&r);
        char out[32];
        struct h_op t;
        h_async_transact(&t, c, "ask", 3, out, sizeof(out));
        H_ASSERT_FINISHES(&r); /* the server's read is satisfied at once */
        ck_assert_status(r.status, NPIPE_OK);
        ck_assert_uint_eq(r.n, 3);
        H_ASSERT_BLOCKED(&t);
        H_WRITE_STR(s, "answer");
        H_ASSERT_FINISHES(&t);
        ck_assert_status(t.status, NPIPE_OK);
        ck_assert_uint_eq(t.n, 6);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Child client: transacts "A", expects "B" (which the server sends with a
 * transact of its own), then writes "C" to complete the server's. */
static int child_transactor(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        C_STATUS(npipe_set_mode(c, &m, NULL), NPIPE_OK);
        char out[8];
        size_t n = 0;
        C_STATUS(npipe_transact(c, "A", 1, out, sizeof(out), &n), NPIPE_OK);
        C_CHECK(n == 1 && out[0] == 'B');
        C_STATUS(c_write_all(c, "C", 1), NPIPE_OK);
        C_EXPECT(chan, 'q');
        npipe_close(c);
        return 0;
}

START_TEST(test_transact_answered_by_transact)
{
        /* covers: TRANS-08 */
        H_NAME(name, "bytrans");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        struct h_child ch;
        h_spawn(&ch, child_transactor, name);
        ck_assert_status2(npipe_listen(s, NPIPE_INFINITE), NPIPE_OK, NPIPE_EISCONN);
        H_READ_STR(s, 8, NPIPE_OK, "A"); /* blocks until the child's request */
        char out[8];
        size_t n = 0;
        ck_assert_ok(npipe_transact(s, "B", 1, out, sizeof(out), &n));
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(out[0], 'C');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_transact_zero_sizes)
{
        /* covers: TRANS-10 ZERO-10 */
        H_NAME(name, "zero");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 1, &s, &c);
        struct h_op t;
        h_async_transact(&t, c, NULL, 0, NULL, 0);
        /* the server gets an empty message */
        H_READ(s, 8, NPIPE_OK, "", 0);
        H_ASSERT_BLOCKED(&t);
        H_WRITE(s, "", 0); /* and answers with one */
        H_ASSERT_FINISHES(&t);
        ck_assert_status(t.status, NPIPE_OK);
        ck_assert_uint_eq(t.n, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_call)
{
        /* covers: TRANS-15 TRANS-01 */
        H_NAME(name, "call");
        struct h_child ch;
        h_spawn(&ch, child_echo_server, name);
        H_EXPECT(ch.chan, 'r');
        char out[64];
        size_t n = 0;
        ck_assert_ok(npipe_call(name, "hello", 5, out, sizeof(out), &n, 1000));
        ck_assert_uint_eq(n, 8);
        ck_assert_int_eq(memcmp(out, "re:hello", 8), 0);
        /* the call closed its handle: the server saw the client go */
        H_EXPECT(ch.chan, 'e');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

START_TEST(test_call_reply_too_long)
{
        /* covers: TRANS-15 */
        H_NAME(name, "calllong");
        struct h_child ch;
        h_spawn(&ch, child_echo_server, name);
        H_EXPECT(ch.chan, 'r');
        char out[4];
        size_t n = 0;
        ck_assert_status(npipe_call(name, "abcdef", 6, out, sizeof(out), &n, 1000),
                         NPIPE_EMOREDATA);
        ck_assert_uint_eq(n, 4);
        ck_assert_int_eq(memcmp(out, "re:a", 4), 0);
        H_EXPECT(ch.chan, 'e'); /* the rest is lost with the handle */
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

START_TEST(test_call_byte_pipe)
{
        /* covers: TRANS-15 MODE-01 */
        H_NAME(name, "callbyte");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        char out[8];
        size_t n;
        ck_assert_status(npipe_call(name, "x", 1, out, sizeof(out), &n, 100), NPIPE_EINVAL);
        /* nothing was sent, and the call's handle is closed again */
        struct npipe_peek pk;
        ck_assert_status(npipe_peek(s, NULL, 0, &pk), NPIPE_EPIPE);
        npipe_close(s);
}
END_TEST

START_TEST(test_call_waits_then_retries)
{
        /* covers: TRANS-15 WAIT-04 */
        H_NAME(name, "callwait");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE); /* busy */
        char out[16];
        struct h_op call;
        memset(&call, 0, sizeof(call));
        call.name = name;
        call.in = "ping";
        call.in_len = 4;
        call.buf = out;
        call.len = sizeof(out);
        call.timeout_ms = H_TIMEOUT_MS;
        h_op_start(&call, h_op_call);
        H_ASSERT_BLOCKED(&call);
        /* free the instance: the call's wait ends, it connects, sends */
        npipe_close(c);
        ck_assert_ok(npipe_disconnect(s));
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        h_set_nowait(s, 0);
        ck_assert_status2(npipe_listen(s, NPIPE_INFINITE), NPIPE_OK, NPIPE_EISCONN);
        H_READ_STR(s, 16, NPIPE_OK, "ping");
        H_WRITE_STR(s, "pong");
        H_ASSERT_FINISHES(&call);
        ck_assert_status(call.status, NPIPE_OK);
        ck_assert_uint_eq(call.n, 4);
        ck_assert_int_eq(memcmp(out, "pong", 4), 0);
        npipe_close(s);
}
END_TEST

START_TEST(test_call_times_out)
{
        /* covers: TRANS-15 WAIT-03 NAME-05 */
        H_NAME(name, "calltimeout");
        char out[8];
        size_t n;
        ck_assert_status(npipe_call(name, "x", 1, out, sizeof(out), &n, 100), NPIPE_ENOENT);
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_call(name, "x", 1, out, sizeof(out), &n, 200), NPIPE_ETIMEDOUT);
        ck_assert_int_ge(h_now_ms() - t0, 150);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_transact_needs_read_and_write)
{
        /* covers: TRANS-12 */
        H_NAME(name, "access");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE_ATTRIBUTES);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        char out[8];
        size_t n;
        ck_assert_status(npipe_transact(c, "x", 1, out, sizeof(out), &n), NPIPE_EACCES);
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Child: answers one big request with a big reply. */
#define BIGT (200u * 1024u)
static int child_big_server(int chan, void *arg)
{
        npipe_t *s = NULL;
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.flags = NPIPE_READMODE_MESSAGE;
        C_STATUS(npipe_create(arg, &o, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        int r = npipe_listen(s, H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        static char b[BIGT];
        size_t n = 0;
        C_STATUS(npipe_read(s, b, sizeof(b), &n), NPIPE_OK);
        C_CHECK(n == BIGT && h_pattern_ok(b, BIGT, 1));
        h_pattern(b, BIGT, 2);
        C_STATUS(c_write_all(s, b, BIGT), NPIPE_OK);
        C_EXPECT(chan, 'q');
        npipe_close(s);
        return 0;
}

START_TEST(test_transact_large)
{
        /* covers: TRANS-13 */
        /* beyond the 64 KiB the docs recommend: works locally */
        H_NAME(name, "large");
        struct h_child ch;
        h_spawn(&ch, child_big_server, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        static char in[BIGT], out[BIGT];
        h_pattern(in, BIGT, 1);
        size_t n = 0;
        ck_assert_ok(npipe_transact(c, in, BIGT, out, BIGT, &n));
        ck_assert_uint_eq(n, BIGT);
        ck_assert(h_pattern_ok(out, BIGT, 2));
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(c);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("trans");
        TCase *tc = h_tcase("trans", 60);
        tcase_add_test(tc, test_transact_round_trip);
        tcase_add_test(tc, test_transact_bad_pipe);
        tcase_add_test(tc, test_transact_unread_data_busy);
        tcase_add_test(tc, test_transact_write_never_blocks);
        tcase_add_test(tc, test_transact_reply_too_long);
        tcase_add_test(tc, test_transact_meets_pending_read);
        tcase_add_test(tc, test_transact_answered_by_transact);
        tcase_add_test(tc, test_transact_zero_sizes);
        tcase_add_test(tc, test_call);
        tcase_add_test(tc, test_call_reply_too_long);
        tcase_add_test(tc, test_call_byte_pipe);
        tcase_add_test(tc, test_call_waits_then_retries);
        tcase_add_test(tc, test_call_times_out);
        tcase_add_test(tc, test_transact_needs_read_and_write);
        tcase_add_test(tc, test_transact_large);
        suite_add_tcase(s, tc);
        return h_run(s);
}
