/*
 * test_close.c - spec section 8, CLOSE: closing either end, and the death
 * of the process holding it (exit without closing, SIGKILL).
 *
 * The survivor always lives in a different process from the end that goes
 * away: that is what the broker has to notice.
 */
#include "harness.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

enum how { BY_CLOSE, BY_EXIT, BY_KILL };

struct srv_arg {
        const char *name;
        enum how how;
        enum npipe_type type;
};

/* Child server: creates, waits for its client, writes two messages, then
 * goes away as told.  With BY_KILL it waits to be killed. */
static int child_server_goes(int chan, void *arg)
{
        struct srv_arg *a = arg;
        npipe_t *s = NULL;
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.type = a->type;
        C_STATUS(npipe_create(a->name, &o, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        int r = npipe_listen(s, H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        C_STATUS(c_write_all(s, "first", 5), NPIPE_OK);
        C_STATUS(c_write_all(s, "second", 6), NPIPE_OK);
        if (a->how == BY_CLOSE) {
                C_STATUS(npipe_close(s), NPIPE_OK);
                C_SEND(chan, 'c');
                C_EXPECT(chan, 'q');
                return 0;
        }
        if (a->how == BY_EXIT)
                _exit(0); /* no close: the process just ends */
        C_SEND(chan, 'k');
        h_recv(chan, H_TIMEOUT_MS * 3); /* killed while waiting here */
        return 3;
}

/* The survivor (a client here) reads what is left, then the pipe is broken
 * for reads and closing for writes. */
static void client_survives(enum how how, enum npipe_type type)
{
        H_NAME(name, "srvgoes");
        struct srv_arg a = {name, how, type};
        struct h_child ch;
        h_spawn(&ch, child_server_goes, &a);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        if (type == NPIPE_TYPE_MESSAGE)
                h_set_read_mode(c, NPIPE_READ_MESSAGE);
        if (how == BY_CLOSE) {
                H_EXPECT(ch.chan, 'c');
        } else if (how == BY_EXIT) {
                ck_assert_int_eq(h_reap(&ch, H_TIMEOUT_MS), 0);
        } else {
                H_EXPECT(ch.chan, 'k');
                h_kill(&ch);
        }
        /* the data written before the end went away is all still there */
        char b[32];
        size_t n;
        if (type == NPIPE_TYPE_MESSAGE) {
                ck_assert_status(npipe_read_timeout(c, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_OK);
                ck_assert_uint_eq(n, 5);
                ck_assert_int_eq(memcmp(b, "first", 5), 0);
                ck_assert_status(npipe_read_timeout(c, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_OK);
                ck_assert_uint_eq(n, 6);
                ck_assert_int_eq(memcmp(b, "second", 6), 0);
        } else {
                size_t got = 0;
                while (got < 11) {
                        int r = npipe_read_timeout(c, b + got, sizeof(b) - got, &n, H_TIMEOUT_MS);
                        ck_assert_status(r, NPIPE_OK);
                        got += n;
                }
                ck_assert_uint_eq(got, 11);
                ck_assert_int_eq(memcmp(b, "firstsecond", 11), 0);
        }
        /* then broken: a blocking read must learn it (not hang) */
        ck_assert_status(npipe_read_timeout(c, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_EPIPE);
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EPIPE);
        ck_assert_status(npipe_write(c, "x", 1, &n), NPIPE_ECLOSING);
        ck_assert_int_eq(h_state(c), NPIPE_STATE_CLOSING);
        ck_assert_ok(npipe_close(c));
        if (how == BY_CLOSE) {
                h_send(ch.chan, 'q');
                H_ASSERT_CHILD_OK(&ch);
        } else {
                h_reap(&ch, H_TIMEOUT_MS);
        }
}

START_TEST(test_server_closes_data_remains)
{
        /* covers: CLOSE-01 CLOSE-04 CLOSE-05 STATE-11 */
        client_survives(BY_CLOSE, NPIPE_TYPE_MESSAGE);
}
END_TEST

START_TEST(test_server_closes_data_remains_bytes)
{
        /* covers: CLOSE-01 CLOSE-04 CLOSE-05 */
        client_survives(BY_CLOSE, NPIPE_TYPE_BYTE);
}
END_TEST

START_TEST(test_server_process_exits)
{
        /* covers: CLOSE-01 CLOSE-04 CLOSE-05 CANCEL-08 */
        client_survives(BY_EXIT, NPIPE_TYPE_MESSAGE);
}
END_TEST

START_TEST(test_server_process_killed)
{
        /* covers: CLOSE-01 CLOSE-04 CLOSE-05 */
        client_survives(BY_KILL, NPIPE_TYPE_MESSAGE);
}
END_TEST

/* Child client: opens, writes two messages, goes away as told. */
static int child_client_goes(int chan, void *arg)
{
        struct srv_arg *a = arg;
        npipe_t *c = NULL;
        C_STATUS(npipe_open(a->name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        C_STATUS(c_write_all(c, "first", 5), NPIPE_OK);
        C_STATUS(c_write_all(c, "second", 6), NPIPE_OK);
        if (a->how == BY_CLOSE) {
                C_STATUS(npipe_close(c), NPIPE_OK);
                C_SEND(chan, 'c');
                C_EXPECT(chan, 'q');
                return 0;
        }
        if (a->how == BY_EXIT)
                _exit(0);
        C_SEND(chan, 'k');
        h_recv(chan, H_TIMEOUT_MS * 3);
        return 3;
}

static void server_survives(enum how how)
{
        H_NAME(name, "cligoes");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        struct srv_arg a = {name, how, NPIPE_TYPE_MESSAGE};
        struct h_child ch;
        h_spawn(&ch, child_client_goes, &a);
        if (how == BY_CLOSE)
                H_EXPECT(ch.chan, 'c');
        else if (how == BY_EXIT)
                ck_assert_int_eq(h_reap(&ch, H_TIMEOUT_MS), 0);
        else {
                H_EXPECT(ch.chan, 'k');
                h_kill(&ch);
        }
        h_await_client(s);
        char b[32];
        size_t n;
        ck_assert_status(npipe_read_timeout(s, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_OK);
        ck_assert_uint_eq(n, 5);
        ck_assert_status(npipe_read_timeout(s, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_OK);
        ck_assert_uint_eq(n, 6);
        ck_assert_int_eq(memcmp(b, "second", 6), 0);
        ck_assert_status(npipe_read_timeout(s, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_EPIPE);
        ck_assert_status(npipe_write(s, "x", 1, &n), NPIPE_ECLOSING);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CLOSING);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ECLOSING);
        /* the instance is reusable after disconnect + listen */
        ck_assert_ok(npipe_disconnect(s));
        struct h_op l;
        h_listen_ready(&l, s, name);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_OK);
        npipe_close(c);
        if (how == BY_CLOSE) {
                h_send(ch.chan, 'q');
                H_ASSERT_CHILD_OK(&ch);
        }
        npipe_close(s);
}

START_TEST(test_client_closes_data_remains)
{
        /* covers: CLOSE-02 CLOSE-04 CLOSE-05 CONNECT-06 */
        server_survives(BY_CLOSE);
}
END_TEST

START_TEST(test_client_process_exits)
{
        /* covers: CLOSE-02 CLOSE-04 CANCEL-08 */
        server_survives(BY_EXIT);
}
END_TEST

START_TEST(test_client_process_killed)
{
        /* covers: CLOSE-02 CLOSE-04 */
        server_survives(BY_KILL);
}
END_TEST

START_TEST(test_zero_length_read_after_close)
{
        /* covers: CLOSE-03 ZERO-09 */
        H_NAME(name, "zeroread");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        H_WRITE_STR(s, "abc");
        H_WRITE_STR(s, "defg");
        npipe_close(s);
        char b[8];
        size_t n = 99;
        /* byte read mode: success, nothing moved */
        ck_assert_status(npipe_read(c, b, 0, &n), NPIPE_OK);
        ck_assert_uint_eq(n, 0);
        /* message read mode: success (older) or more-data (Windows 8+) */
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        n = 99;
        ck_assert_status2(npipe_read(c, b, 0, &n), NPIPE_OK, NPIPE_EMOREDATA);
        ck_assert_uint_eq(n, 0);
        H_READ_STR(c, 8, NPIPE_OK, "abc");
        H_READ_STR(c, 8, NPIPE_OK, "defg");
        /* all consumed: broken, in both modes */
        ck_assert_status(npipe_read(c, b, 0, &n), NPIPE_EPIPE);
        h_set_read_mode(c, NPIPE_READ_BYTE);
        ck_assert_status(npipe_read(c, b, 0, &n), NPIPE_EPIPE);
        npipe_close(c);
}
END_TEST

/* ---- CLOSE-07: pending writes and flushes to a peer that closes ------------- */

static int child_peer_closes(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        C_SEND(chan, 'o');
        C_EXPECT(chan, 'x');
        C_STATUS(npipe_close(c), NPIPE_OK);
        C_SEND(chan, 'c');
        return 0;
}

static void pending_then_peer_closes(int flush)
{
        H_NAME(name, "pendclose");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.out_quota = 100;
        npipe_t *s = h_create(name, &o);
        struct h_child ch;
        h_spawn(&ch, child_peer_closes, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        static char big[5000];
        struct h_op op;
        if (flush) {
                H_WRITE(s, big, 50);
                h_async_flush(&op, s);
        } else {
                h_async_write(&op, s, big, sizeof(big));
        }
        H_ASSERT_BLOCKED(&op);
        h_send(ch.chan, 'x');
        H_EXPECT(ch.chan, 'c');
        H_ASSERT_FINISHES(&op);
        ck_assert_status(op.status, NPIPE_EPIPE);
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}

START_TEST(test_pending_write_peer_closes)
{
        /* covers: CLOSE-07 */
        pending_then_peer_closes(0);
}
END_TEST

START_TEST(test_pending_flush_peer_closes)
{
        /* covers: CLOSE-07 QUOTA-13 */
        pending_then_peer_closes(1);
}
END_TEST

START_TEST(test_pending_write_peer_killed)
{
        /* covers: CLOSE-07 */
        H_NAME(name, "pendkill");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.out_quota = 100;
        npipe_t *s = h_create(name, &o);
        struct h_child ch;
        h_spawn(&ch, child_peer_closes, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        static char big[5000];
        struct h_op op;
        h_async_write(&op, s, big, sizeof(big));
        H_ASSERT_BLOCKED(&op);
        h_kill(&ch);
        H_ASSERT_FINISHES(&op);
        ck_assert_status(op.status, NPIPE_EPIPE);
        npipe_close(s);
}
END_TEST

START_TEST(test_not_reusable_until_reconnect)
{
        /* covers: CLOSE-12 */
        H_NAME(name, "reuse");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.max_instances = 1;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_close(c);
        npipe_t *c2 = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        struct h_op l;
        h_listen_ready(&l, s, name);
        c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        npipe_close(c2);
        /* or: close the instance and make a new one */
        npipe_close(s);
        s = h_create(name, &o);
        c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_close(c2);
        npipe_close(s);
}
END_TEST

START_TEST(test_close_listening)
{
        /* covers: CLOSE-13 NAME-17 INST-10 */
        H_NAME(name, "closelisten");
        npipe_t *s1 = h_server(name, NPIPE_TYPE_BYTE, 0);
        npipe_t *s2 = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_op l;
        h_async_listen(&l, s1, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        ck_assert_ok(npipe_close(s1));
        H_ASSERT_FINISHES(&l); /* the pending listen completes */
        ck_assert_int_ne(l.status, NPIPE_OK);
        /* that instance is removed, the other one remains */
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(s2, &info));
        ck_assert_uint_eq(info.cur_instances, 1);
        npipe_t *c = h_client(name, NPIPE_READ);
        ck_assert_int_eq(h_state(s2), NPIPE_STATE_CONNECTED);
        npipe_close(c);
        /* closing the last one removes the name */
        npipe_close(s2);
        ck_assert_status(npipe_open(name, NPIPE_READ, 0, &c), NPIPE_ENOENT);
        ck_assert_status(npipe_wait(name, 0), NPIPE_ENOENT);
}
END_TEST

/* NAME-17 across processes: the server process closes its only instance
 * while our client still holds its end. */
static int child_server_closes(int chan, void *arg)
{
        npipe_t *s = NULL;
        C_STATUS(npipe_create(arg, NULL, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        C_EXPECT(chan, 'x');
        C_STATUS(npipe_close(s), NPIPE_OK);
        C_SEND(chan, 'c');
        C_EXPECT(chan, 'q');
        return 0;
}

START_TEST(test_name_gone_client_remains)
{
        /* covers: NAME-17 STATE-08 */
        H_NAME(name, "gone");
        struct h_child ch;
        h_spawn(&ch, child_server_closes, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_send(ch.chan, 'x');
        H_EXPECT(ch.chan, 'c');
        npipe_t *c2 = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_ENOENT);
        ck_assert_status(npipe_wait(name, 1000), NPIPE_ENOENT);
        /* a new pipe of that name with new parameters */
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, NPIPE_FIRST_INSTANCE);
        o.dir = NPIPE_OUTBOUND;
        o.max_instances = 1;
        npipe_t *s = h_create(name, &o);
        c2 = h_client(name, NPIPE_READ);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c2, &info));
        ck_assert_int_eq(info.type, NPIPE_TYPE_BYTE);
        ck_assert_int_eq(info.dir, NPIPE_OUTBOUND);
        ck_assert_uint_eq(info.max_instances, 1);
        /* the old client is untouched by it: closing, not connected to s */
        char b[4];
        size_t n;
        ck_assert_status(npipe_read_timeout(c, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_EPIPE);
        npipe_close(c2);
        npipe_close(c);
        npipe_close(s);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("close");
        TCase *tc = h_tcase("close", 60);
        tcase_add_test(tc, test_server_closes_data_remains);
        tcase_add_test(tc, test_server_closes_data_remains_bytes);
        tcase_add_test(tc, test_server_process_exits);
        tcase_add_test(tc, test_server_process_killed);
        tcase_add_test(tc, test_client_closes_data_remains);
        tcase_add_test(tc, test_client_process_exits);
        tcase_add_test(tc, test_client_process_killed);
        tcase_add_test(tc, test_zero_length_read_after_close);
        tcase_add_test(tc, test_pending_write_peer_closes);
        tcase_add_test(tc, test_pending_flush_peer_closes);
        tcase_add_test(tc, test_pending_write_peer_killed);
        tcase_add_test(tc, test_not_reusable_until_reconnect);
        tcase_add_test(tc, test_close_listening);
        tcase_add_test(tc, test_name_gone_client_remains);
        suite_add_tcase(s, tc);
        return h_run(s);
}
