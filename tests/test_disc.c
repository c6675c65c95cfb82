/*
 * test_disc.c - spec section 7, DISC: npipe_disconnect
 * (DisconnectNamedPipe).
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_disconnect_with_data)
{
        /* covers: DISC-01 STATE-07 */
        H_NAME(name, "data");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        H_WRITE_STR(s, "unread by the client");
        H_WRITE_STR(c, "unread by the server");
        ck_assert_ok(npipe_disconnect(s));
        npipe_close(c);
        /* reconnect: neither direction has anything from before */
        struct h_op l;
        h_listen_ready(&l, s, name);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_uint_eq(pk.messages, 0);
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, 0);
        /* and new data flows */
        H_WRITE_STR(c, "new");
        H_READ_STR(s, 8, NPIPE_OK, "new");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* ---- DISC-02: pending operations of both ends fail ------------------------------ */

enum pend { PEND_READ, PEND_WRITE, PEND_FLUSH };

struct pend_arg {
        const char *name;
        enum pend what;
};

/* The client in a child process: starts a blocking operation in a thread,
 * makes sure it blocks, tells the parent 'b', and checks that it ends with
 * "not connected" once the server disconnects. */
static int child_pending(int chan, void *arg)
{
        struct pend_arg *a = arg;
        npipe_t *c = NULL;
        C_STATUS(npipe_open(a->name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        static char big[4096], buf[64];
        struct h_op op;
        memset(&op, 0, sizeof(op));
        op.h = c;
        if (a->what == PEND_READ) {
                op.buf = buf;
                op.len = sizeof(buf);
                h_op_start(&op, h_op_read);
        } else if (a->what == PEND_WRITE) {
                /* inbound quota 100: a 4096-byte write pends */
                op.in = big;
                op.in_len = sizeof(big);
                h_op_start(&op, h_op_write);
        } else {
                C_STATUS(c_write_all(c, "10 bytes..", 10), NPIPE_OK);
                h_op_start(&op, h_op_flush);
        }
        C_CHECK(h_op_blocked(&op, H_BLOCKED_MS));
        C_SEND(chan, 'b');
        C_CHECK(h_op_finish(&op, H_TIMEOUT_MS));
        C_STATUS(op.status, NPIPE_ENOTCONN);
        C_STATUS(npipe_close(c), NPIPE_OK);
        return 0;
}

static void client_pending(enum pend what)
{
        H_NAME(name, "cpend");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.in_quota = 100;
        npipe_t *s = h_create(name, &o);
        struct pend_arg a = {name, what};
        struct h_child ch;
        h_spawn(&ch, child_pending, &a);
        H_EXPECT(ch.chan, 'b');
        h_await_client(s);
        ck_assert_ok(npipe_disconnect(s));
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}

START_TEST(test_client_pending_read_fails)
{
        /* covers: DISC-02 */
        client_pending(PEND_READ);
}
END_TEST

START_TEST(test_client_pending_write_fails)
{
        /* covers: DISC-02 */
        client_pending(PEND_WRITE);
}
END_TEST

START_TEST(test_client_pending_flush_fails)
{
        /* covers: DISC-02 QUOTA-13 */
        client_pending(PEND_FLUSH);
}
END_TEST

/* The client in a child, idle until told to close. */
static int child_idle(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        C_SEND(chan, 'o');
        C_EXPECT(chan, 'q');
        npipe_close(c);
        return 0;
}

static void server_pending(enum pend what)
{
        H_NAME(name, "spend");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.out_quota = 100;
        npipe_t *s = h_create(name, &o);
        struct h_child ch;
        h_spawn(&ch, child_idle, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        static char big[4096], buf[64];
        struct h_op op;
        if (what == PEND_READ) {
                h_async_read(&op, s, buf, sizeof(buf));
        } else if (what == PEND_WRITE) {
                h_async_write(&op, s, big, sizeof(big));
        } else {
                H_WRITE_STR(s, "10 bytes..");
                h_async_flush(&op, s);
        }
        H_ASSERT_BLOCKED(&op);
        ck_assert_ok(npipe_disconnect(s));
        H_ASSERT_FINISHES(&op);
        ck_assert_status(op.status, NPIPE_ENOTCONN);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}

START_TEST(test_server_pending_read_fails)
{
        /* covers: DISC-02 */
        server_pending(PEND_READ);
}
END_TEST

START_TEST(test_server_pending_write_fails)
{
        /* covers: DISC-02 */
        server_pending(PEND_WRITE);
}
END_TEST

START_TEST(test_server_pending_flush_fails)
{
        /* covers: DISC-02 QUOTA-13 */
        server_pending(PEND_FLUSH);
}
END_TEST

/* Mappings of connection segments in this process. */
static int seg_maps(void)
{
        FILE *f = fopen("/proc/self/maps", "r");
        ck_assert_ptr_nonnull(f);
        char line[512];
        int n = 0;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "npipe-seg"))
                        n++;
        fclose(f);
        return n;
}

START_TEST(test_disconnect_under_blocked_read_frees)
{
        /* covers: DISC-02
         * A read blocked in another thread uses the connection without a
         * reference of its own: the disconnect leaves the connection to
         * it, and it goes once that read has returned - not at close, so
         * a server that disconnects under a reader again and again keeps
         * no connection of the past. */
        H_NAME(name, "retire");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        npipe_t *s = h_create(name, &o);
        int base = -1;
        for (int i = 0; i < 24; i++) {
                struct h_op l;
                h_listen_ready(&l, s, name);
                npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
                H_ASSERT_FINISHES(&l);
                char buf[16];
                struct h_op op;
                h_async_read(&op, s, buf, sizeof(buf));
                H_ASSERT_BLOCKED(&op);
                ck_assert_ok(npipe_disconnect(s));
                H_ASSERT_FINISHES(&op);
                ck_assert_status(op.status, NPIPE_ENOTCONN);
                /* the client end still reads what it had: nothing */
                size_t n = 1;
                ck_assert_status(npipe_read(c, buf, sizeof(buf), &n), NPIPE_ENOTCONN);
                npipe_close(c);
                int maps = seg_maps();
                if (base < 0)
                        base = maps;
                /* at most the one connection whose release the last
                 * call out could not take the lock for (np_conn_reap) */
                ck_assert_int_le(maps, base + 2);
        }
        npipe_close(s);
        ck_assert_int_eq(seg_maps(), 0);
}
END_TEST

START_TEST(test_double_disconnect)
{
        /* covers: DISC-03 */
        H_NAME(name, "double");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_disconnect(s), NPIPE_ENOTCONN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* The client in a child: after the server's disconnect ('d'), every
 * operation is "not connected"; the handle still needs closing. */
static int child_disconnected(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        C_STATUS(npipe_set_mode(c, &m, NULL), NPIPE_OK);
        C_SEND(chan, 'o');
        C_EXPECT(chan, 'd');
        char b[16];
        size_t n;
        struct npipe_peek pk;
        struct npipe_info info;
        int nw = 1;
        pid_t pid;
        /* DisconnectNamedPipe had returned before 'd' was sent: the client
         * end is detached from then on, the queued data must not be read */
        C_STATUS(npipe_read(c, b, sizeof(b), &n), NPIPE_ENOTCONN);
        C_STATUS(npipe_write(c, "x", 1, &n), NPIPE_ENOTCONN);
        C_STATUS(npipe_peek(c, b, sizeof(b), &pk), NPIPE_ENOTCONN);
        C_STATUS(npipe_flush(c), NPIPE_ENOTCONN);
        C_STATUS(npipe_transact(c, "t", 1, b, sizeof(b), &n), NPIPE_ENOTCONN);
        C_STATUS(npipe_get_info(c, &info), NPIPE_ENOTCONN);
        C_STATUS(npipe_get_mode(c, &m, &nw), NPIPE_ENOTCONN);
        C_STATUS(npipe_set_mode(c, NULL, &nw), NPIPE_ENOTCONN);
        C_STATUS(npipe_client_pid(c, &pid), NPIPE_ENOTCONN);
        C_STATUS(npipe_server_pid(c, &pid), NPIPE_ENOTCONN);
        C_STATUS(npipe_disconnect(c), NPIPE_EFUNCTION);
        C_STATUS(npipe_close(c), NPIPE_OK);
        return 0;
}

START_TEST(test_client_after_disconnect)
{
        /* covers: DISC-04 DISC-10 STATE-10 DISC-07 */
        H_NAME(name, "cafter");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        struct h_child ch;
        h_spawn(&ch, child_disconnected, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        H_WRITE_STR(s, "queued data is lost too");
        ck_assert_ok(npipe_disconnect(s));
        h_send(ch.chan, 'd');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_disconnect_closing)
{
        /* covers: DISC-05 STATE-04 */
        H_NAME(name, "closing");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_idle, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        char b[4];
        size_t n;
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EPIPE); /* closing now */
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CLOSING);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_int_eq(h_state(s), NPIPE_STATE_DISCONNECTED);
        npipe_close(s);
}
END_TEST

START_TEST(test_no_client_until_listen)
{
        /* covers: DISC-06 */
        H_NAME(name, "untillisten");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        ck_assert_ok(npipe_disconnect(s));
        npipe_close(c);
        c = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_EBUSY);
        ck_assert_status(npipe_wait(name, 100), NPIPE_ETIMEDOUT);
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_EBUSY);
        struct h_op l;
        h_listen_ready(&l, s, name);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_OK);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_disconnect_listening)
{
        /* covers: DISC-08 CONNECT-14 */
        /* NPFS: succeeds, the instance becomes DISCONNECTED, pending
         * listens fail with "not connected", clients find it busy */
        H_NAME(name, "disclisten");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        ck_assert_ok(npipe_disconnect(s));
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_ENOTCONN);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_DISCONNECTED);
        npipe_t *c = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_EBUSY);
        /* without a pending listen as well */
        h_listen_ready(&l, s, name);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_ok(npipe_disconnect(s));
        npipe_close(c);
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_int_eq(h_state(s), NPIPE_STATE_DISCONNECTED);
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_EBUSY);
        npipe_close(s);
}
END_TEST

/* DISC-10: the server side of the pid queries (the child is the client). */
START_TEST(test_pids_after_disconnect)
{
        /* covers: DISC-10 INFO-11 */
        H_NAME(name, "pids");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_idle, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        pid_t pid = 0;
        ck_assert_ok(npipe_client_pid(s, &pid));
        ck_assert_int_eq(pid, ch.pid);
        ck_assert_ok(npipe_server_pid(s, &pid));
        ck_assert_int_eq(pid, getpid());
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_client_pid(s, &pid), NPIPE_ENOTFOUND);
        pid = 0;
        ck_assert_ok(npipe_server_pid(s, &pid));
        ck_assert_int_eq(pid, getpid());
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("disc");
        TCase *tc = h_tcase("disc", 60);
        tcase_add_test(tc, test_disconnect_with_data);
        tcase_add_test(tc, test_client_pending_read_fails);
        tcase_add_test(tc, test_client_pending_write_fails);
        tcase_add_test(tc, test_client_pending_flush_fails);
        tcase_add_test(tc, test_server_pending_read_fails);
        tcase_add_test(tc, test_server_pending_write_fails);
        tcase_add_test(tc, test_server_pending_flush_fails);
        tcase_add_test(tc, test_disconnect_under_blocked_read_frees);
        tcase_add_test(tc, test_double_disconnect);
        tcase_add_test(tc, test_client_after_disconnect);
        tcase_add_test(tc, test_disconnect_closing);
        tcase_add_test(tc, test_no_client_until_listen);
        tcase_add_test(tc, test_disconnect_listening);
        tcase_add_test(tc, test_pids_after_disconnect);
        suite_add_tcase(s, tc);
        return h_run(s);
}
