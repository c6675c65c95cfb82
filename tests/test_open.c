/*
 * test_open.c - spec section 4, OPEN: the client end (npipe_open).
 */
#include "harness.h"

#include <string.h>

/* The child: open the pipe, report the status, exchange a message. */
static int child_open(int chan, void *arg)
{
        const char *name = arg;
        npipe_t *c = NULL;
        int r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c);
        C_STATUS(r, NPIPE_OK);
        C_STATUS(c_write_all(c, "from child", 10), NPIPE_OK);
        char b[16];
        size_t n;
        C_STATUS(npipe_read(c, b, sizeof(b), &n), NPIPE_OK);
        C_CHECK(n == 11 && memcmp(b, "from parent", 11) == 0);
        C_SEND(chan, 'd');
        C_EXPECT(chan, 'q');
        C_STATUS(npipe_close(c), NPIPE_OK);
        return 0;
}

START_TEST(test_open_connects)
{
        /* covers: OPEN-01 OPEN-07 CONNECT-02 STATE-02 */
        H_NAME(name, "open");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_open, name);
        ck_assert_status2(npipe_listen(s, NPIPE_INFINITE), NPIPE_OK, NPIPE_EISCONN);
        H_READ_STR(s, 10, NPIPE_OK, "from child");
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
        ck_assert_status(npipe_listen(s, 0), NPIPE_EISCONN);
        H_WRITE_STR(s, "from parent");
        H_EXPECT(ch.chan, 'd');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_busy_cases)
{
        /* covers: OPEN-02 CLOSE-12 DISC-06 */
        H_NAME(name, "busy");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        npipe_t *c1 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_t *c2 = NULL;
        /* 1: the other client is still open */
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        ck_assert_ptr_null(c2);
        /* 2: it has closed, but the server has not disconnected */
        ck_assert_ok(npipe_close(c1));
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        /* 3: the server disconnected but has not listened again */
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        /* listening again: the instance is free */
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        /* the open may race the listen's registration: wait for it */
        ck_assert_status(npipe_wait(name, H_TIMEOUT_MS), NPIPE_OK);
        c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_OK);
        npipe_close(c2);
        npipe_close(s);
}
END_TEST

/* Open with `access` on a pipe of direction `dir`; `want` is the status. */
static void try_access(enum npipe_dir dir, unsigned access, int want)
{
        H_NAME(name, "access");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.dir = dir;
        o.max_instances = 1;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = NULL;
        int r = npipe_open(name, access, 0, &c);
        ck_assert_msg(r == want, "dir %d access %u: got %s, expected %s", dir, access,
                      npipe_err_name(r), npipe_err_name(want));
        if (r == NPIPE_OK) {
                ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
                npipe_close(c);
        } else {
                /* no instance was consumed: a correct open still works */
                ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
                unsigned ok = dir == NPIPE_INBOUND    ? NPIPE_WRITE
                              : dir == NPIPE_OUTBOUND ? NPIPE_READ
                                                      : NPIPE_READ | NPIPE_WRITE;
                c = h_client(name, ok);
                npipe_close(c);
        }
        npipe_close(s);
}

START_TEST(test_access_matches_direction)
{
        /* covers: OPEN-03 */
        try_access(NPIPE_INBOUND, NPIPE_WRITE, NPIPE_OK);
        try_access(NPIPE_INBOUND, NPIPE_READ, NPIPE_EACCES);
        try_access(NPIPE_INBOUND, NPIPE_READ | NPIPE_WRITE, NPIPE_EACCES);
        try_access(NPIPE_OUTBOUND, NPIPE_READ, NPIPE_OK);
        try_access(NPIPE_OUTBOUND, NPIPE_WRITE, NPIPE_EACCES);
        try_access(NPIPE_OUTBOUND, NPIPE_READ | NPIPE_WRITE, NPIPE_EACCES);
        try_access(NPIPE_DUPLEX, NPIPE_READ, NPIPE_OK);
        try_access(NPIPE_DUPLEX, NPIPE_WRITE, NPIPE_OK);
        try_access(NPIPE_DUPLEX, NPIPE_READ | NPIPE_WRITE, NPIPE_OK);
}
END_TEST

START_TEST(test_access_zero)
{
        /* covers: OPEN-04 */
        static const enum npipe_dir dirs[] = {NPIPE_INBOUND, NPIPE_OUTBOUND, NPIPE_DUPLEX};
        for (int i = 0; i < 3; i++) {
                H_NAME(name, "zeroaccess");
                struct npipe_server_opts o;
                h_opts(&o, NPIPE_TYPE_BYTE, 0);
                o.dir = dirs[i];
                o.max_instances = 1;
                npipe_t *s = h_create(name, &o);
                npipe_t *c = h_client(name, 0);
                /* it connected and occupies the instance */
                ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
                npipe_t *c2 = NULL;
                ck_assert_status(npipe_open(name, 0, 0, &c2), NPIPE_EBUSY);
                /* but it has no data access */
                char b[4];
                size_t n;
                ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EACCES);
                ck_assert_status(npipe_write(c, "x", 1, &n), NPIPE_EACCES);
                npipe_close(c);
                /* attribute-only access connects too */
                ck_assert_ok(npipe_disconnect(s));
                struct h_op l;
                h_listen_ready(&l, s, name);
                c = h_client(name, NPIPE_WRITE_ATTRIBUTES);
                H_ASSERT_FINISHES(&l);
                ck_assert_status(l.status, NPIPE_OK);
                ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_client_starts_byte_blocking)
{
        /* covers: OPEN-05 */
        static const uint32_t server_flags[] = {0, NPIPE_READMODE_MESSAGE, NPIPE_NOWAIT,
                                                NPIPE_READMODE_MESSAGE | NPIPE_NOWAIT};
        for (int i = 0; i < 4; i++) {
                H_NAME(name, "cmode");
                npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, server_flags[i]);
                npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
                enum npipe_read_mode rm = (enum npipe_read_mode) - 1;
                int nw = -1;
                ck_assert_ok(npipe_get_mode(c, &rm, &nw));
                ck_assert_int_eq(rm, NPIPE_READ_BYTE);
                ck_assert_int_eq(nw, 0);
                /* and behaves so: a short read of a message is not MORE_DATA */
                H_WRITE_STR(s, "0123456789");
                H_READ_STR(c, 4, NPIPE_OK, "0123");
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_open_never_blocks)
{
        /* covers: OPEN-08 OPEN-02 NAME-05 */
        H_NAME(name, "noblock");
        npipe_t *c = NULL;
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_open(name, NPIPE_READ, 0, &c), NPIPE_ENOENT);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.max_instances = 1;
        o.default_timeout_ms = 5000; /* must not be waited by a plain open */
        npipe_t *s = h_create(name, &o);
        npipe_t *c1 = h_client(name, NPIPE_READ);
        t0 = h_now_ms();
        ck_assert_status(npipe_open(name, NPIPE_READ, 0, &c), NPIPE_EBUSY);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        npipe_close(c1);
        npipe_close(s);
}
END_TEST

/* npipe_open with a timeout waits for an instance (the native API's
 * CreateFile + WaitNamedPipe loop) and is released by a re-listen. */
START_TEST(test_open_with_timeout)
{
        /* covers: WAIT-04 WAIT-03 */
        H_NAME(name, "opentimeout");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.max_instances = 1;
        npipe_t *s = h_create(name, &o);
        npipe_t *c1 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_t *c = NULL;
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 200, &c), NPIPE_ETIMEDOUT);
        ck_assert_int_ge(h_now_ms() - t0, 150);
        struct h_op op;
        memset(&op, 0, sizeof(op));
        op.name = name;
        op.access = NPIPE_READ | NPIPE_WRITE;
        op.timeout_ms = H_TIMEOUT_MS;
        h_op_start(&op, h_op_open);
        H_ASSERT_BLOCKED(&op);
        npipe_close(c1);
        H_ASSERT_BLOCKED(&op); /* a closing client frees nothing (WAIT-06) */
        ck_assert_ok(npipe_disconnect(s));
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        H_ASSERT_FINISHES(&op);
        ck_assert_status(op.status, NPIPE_OK);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
        npipe_close(op.opened);
        npipe_close(s);
}
END_TEST

/* Child: opens on 'o', writes, reports 'w' once its open and write have
 * returned; closes on 'q'. */
static int child_open_write(int chan, void *arg)
{
        npipe_t *c = NULL;
        for (;;) {
                int cmd = h_recv(chan, H_TIMEOUT_MS);
                if (cmd == 'o') {
                        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
                        C_STATUS(c_write_all(c, "data", 4), NPIPE_OK);
                        C_SEND(chan, 'w');
                } else if (cmd == 'c') {
                        C_STATUS(npipe_close(c), NPIPE_OK);
                        C_SEND(chan, 'x');
                } else {
                        return cmd == 'q' ? 0 : 1;
                }
        }
}

START_TEST(test_server_connected_when_open_returns)
{
        /* covers: OPEN-07 STATE-02 */
        /* once the client's open has returned (in another process), the
         * instance is CONNECTED on the server end too: no read may still
         * see "listening".  Repeated, since a lagging server view shows
         * only sometimes. */
        H_NAME(name, "openreturns");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_open_write, name);
        for (int i = 0; i < 30; i++) {
                h_send(ch.chan, 'o');
                H_EXPECT(ch.chan, 'w');
                int st = h_state(s);
                ck_assert_msg(st == NPIPE_STATE_CONNECTED, "round %d: server state %d (%s)", i, st,
                              st == NPIPE_STATE_LISTENING ? "still LISTENING" : "?");
                H_READ_STR(s, 8, NPIPE_OK, "data");
                h_send(ch.chan, 'c');
                H_EXPECT(ch.chan, 'x');
                ck_assert_ok(npipe_disconnect(s));
                h_set_nowait(s, 1);
                ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
                h_set_nowait(s, 0);
        }
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("open");
        TCase *tc = h_tcase("open", 60);
        tcase_add_test(tc, test_open_connects);
        tcase_add_test(tc, test_busy_cases);
        tcase_add_test(tc, test_access_matches_direction);
        tcase_add_test(tc, test_access_zero);
        tcase_add_test(tc, test_client_starts_byte_blocking);
        tcase_add_test(tc, test_open_never_blocks);
        tcase_add_test(tc, test_open_with_timeout);
        tcase_add_test(tc, test_server_connected_when_open_returns);
        suite_add_tcase(s, tc);
        return h_run(s);
}
