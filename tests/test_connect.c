/*
 * test_connect.c - spec section 6, CONNECT: npipe_listen (ConnectNamedPipe).
 */
#include "harness.h"

#include <string.h>

/* A client in another process: waits for 'o', opens, writes "hello",
 * reports 'c', waits for 'q', closes. */
static int child_client(int chan, void *arg)
{
        const char *name = arg;
        C_EXPECT(chan, 'o');
        npipe_t *c = NULL;
        C_STATUS(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        C_STATUS(c_write_all(c, "hello", 5), NPIPE_OK);
        C_SEND(chan, 'c');
        C_EXPECT(chan, 'q');
        C_STATUS(npipe_close(c), NPIPE_OK);
        return 0;
}

START_TEST(test_listen_blocks_until_client)
{
        /* covers: CONNECT-01 OPEN-07 */
        H_NAME(name, "blocks");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_client, name);
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        h_send(ch.chan, 'o'); /* the client opens now */
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_OK);
        H_EXPECT(ch.chan, 'c');
        H_READ_STR(s, 16, NPIPE_OK, "hello");
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_listen_after_client)
{
        /* covers: CONNECT-02 CREATE-10 */
        H_NAME(name, "after");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_client, name);
        h_send(ch.chan, 'o');
        H_EXPECT(ch.chan, 'c');
        /* the client is there already: "connected", a good connection */
        ck_assert_status(npipe_listen(s, NPIPE_INFINITE), NPIPE_EISCONN);
        ck_assert_status(npipe_listen(s, 0), NPIPE_EISCONN);
        H_READ_STR(s, 16, NPIPE_OK, "hello");
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_listen_closing)
{
        /* covers: CONNECT-06 */
        H_NAME(name, "closing");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_client, name);
        h_send(ch.chan, 'o');
        H_EXPECT(ch.chan, 'c');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch); /* the client closed */
        h_await_client(s);
        H_READ_STR(s, 16, NPIPE_OK, "hello");
        /* EPIPE proves the close has reached us */
        char b[4];
        size_t n;
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EPIPE);
        ck_assert_status(npipe_listen(s, NPIPE_INFINITE), NPIPE_ECLOSING);
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ECLOSING);
        npipe_close(s);
}
END_TEST

START_TEST(test_listen_on_client)
{
        /* covers: CONNECT-07 */
        H_NAME(name, "onclient");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        ck_assert_status(npipe_listen(c, 0), NPIPE_EFUNCTION);
        ck_assert_status(npipe_listen(c, NPIPE_INFINITE), NPIPE_EFUNCTION);
        h_set_nowait(c, 1);
        ck_assert_status(npipe_listen(c, 0), NPIPE_EFUNCTION);
        /* and in the client's other states */
        npipe_close(s);
        ck_assert_status(npipe_listen(c, 0), NPIPE_EFUNCTION);
        npipe_close(c);
}
END_TEST

START_TEST(test_nowait_listen)
{
        /* covers: CONNECT-08 NOWAIT-08 */
        H_NAME(name, "nowait");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, NPIPE_NOWAIT);
        /* no client: "listening", at once */
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_listen(s, NPIPE_INFINITE), NPIPE_ELISTENING);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        struct h_child ch;
        h_spawn(&ch, child_client, name);
        h_send(ch.chan, 'o');
        H_EXPECT(ch.chan, 'c');
        h_await_client(s); /* non-blocking: until the server end knows */
        ck_assert_status(npipe_listen(s, NPIPE_INFINITE), NPIPE_EISCONN);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        /* client closed, not disconnected: "no data" (closing) */
        char b[8];
        size_t n;
        H_READ_STR(s, 8, NPIPE_OK, "hello");
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EPIPE);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ECLOSING);
        /* after the disconnect: "listening" again, and it really is */
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
        npipe_t *c = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        ck_assert_status(npipe_listen(s, 0), NPIPE_EISCONN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_pending_listen_server_closed)
{
        /* covers: CONNECT-14 CLOSE-13 */
        H_NAME(name, "pendclose");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        /* closing the handle ends the pending listen with "broken pipe" */
        ck_assert_ok(npipe_close(s));
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_EPIPE);
        /* it was the last instance: the name is gone */
        ck_assert_status(npipe_wait(name, 0), NPIPE_ENOENT);
}
END_TEST

START_TEST(test_pending_listen_disconnected)
{
        /* covers: CONNECT-14 DISC-08 */
        H_NAME(name, "penddisc");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        ck_assert_ok(npipe_disconnect(s));
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_ENOTCONN);
        npipe_close(s);
}
END_TEST

START_TEST(test_listen_timeout)
{
        /* covers: CONNECT-01 */
        /* the native listen's timeout (not in Win32): waits, then times out,
         * and the instance goes on listening */
        H_NAME(name, "ltimeout");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_listen(s, 200), NPIPE_ETIMEDOUT);
        ck_assert_int_ge(h_now_ms() - t0, 150);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
        npipe_t *c = h_client(name, NPIPE_READ);
        ck_assert_status(npipe_listen(s, 200), NPIPE_EISCONN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_several_pending_listens)
{
        /* covers: CONNECT-13 */
        H_NAME(name, "several");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_op l1, l2, l3;
        h_async_listen(&l1, s, NPIPE_INFINITE);
        h_async_listen(&l2, s, NPIPE_INFINITE);
        h_async_listen(&l3, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l1);
        H_ASSERT_BLOCKED(&l2);
        H_ASSERT_BLOCKED(&l3);
        /* one client completes all of them */
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l1);
        H_ASSERT_FINISHES(&l2);
        H_ASSERT_FINISHES(&l3);
        ck_assert_status(l1.status, NPIPE_OK);
        ck_assert_status(l2.status, NPIPE_OK);
        ck_assert_status(l3.status, NPIPE_OK);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("connect");
        TCase *tc = h_tcase("connect", 60);
        tcase_add_test(tc, test_listen_blocks_until_client);
        tcase_add_test(tc, test_listen_after_client);
        tcase_add_test(tc, test_listen_closing);
        tcase_add_test(tc, test_listen_on_client);
        tcase_add_test(tc, test_nowait_listen);
        tcase_add_test(tc, test_pending_listen_server_closed);
        tcase_add_test(tc, test_pending_listen_disconnected);
        tcase_add_test(tc, test_listen_timeout);
        tcase_add_test(tc, test_several_pending_listens);
        suite_add_tcase(s, tc);
        return h_run(s);
}
