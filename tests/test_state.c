/*
 * test_state.c - spec section 5, STATE: the instance state machine and the
 * result of every operation in every state, as the native API shows them
 * (npipe_get_info().state, and the status of read/write/peek/transact/
 * flush/listen/get_info/set_mode).
 */
#include "harness.h"

#include <string.h>

/* The result matrix of spec section 5 (no data queued).  One row per
 * state; the native status each operation must return. */
struct row {
        int peek, transact, flush, read, write, listen, info, set_mode;
};

static void check_row(npipe_t *h, const struct row *w, const char *what)
{
        char b[16];
        size_t n;
        struct npipe_peek pk;
        struct npipe_info info;
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        int r;
#define ROW(expr, want)                                                                            \
        do {                                                                                       \
                r = (expr);                                                                        \
                ck_assert_msg(r == (want), "%s: %s: got %s, expected %s", what, #expr,             \
                              npipe_err_name(r), npipe_err_name(want));                            \
        } while (0)
        ROW(npipe_peek(h, b, sizeof(b), &pk), w->peek);
        ROW(npipe_transact(h, "t", 1, b, sizeof(b), &n), w->transact);
        ROW(npipe_flush(h), w->flush);
        ROW(npipe_read(h, b, sizeof(b), &n), w->read);
        ROW(npipe_write(h, "w", 1, &n), w->write);
        ROW(npipe_get_info(h, &info), w->info);
        ROW(npipe_set_mode(h, &m, NULL), w->set_mode);
        if (w->listen != 1)
                ROW(npipe_listen(h, 0), w->listen);
#undef ROW
}

/* All rows use a message pipe, duplex, ends in message read mode (so that
 * transact is valid wherever the state allows it). */
static void make_pair(const char *name, npipe_t **s, npipe_t **c)
{
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 1, s, c);
}

START_TEST(test_new_instance_listening)
{
        /* covers: STATE-01 STATE-09 QUOTA-14 TRANS-14 */
        H_NAME(name, "listening");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
        struct row w = {.peek = NPIPE_EBADPIPE,
                        .transact = NPIPE_EBADPIPE,
                        .flush = NPIPE_OK,
                        .read = NPIPE_ELISTENING,
                        .write = NPIPE_ELISTENING,
                        .listen = 1,
                        .info = NPIPE_OK,
                        .set_mode = NPIPE_OK};
        check_row(s, &w, "LISTENING server");
        /* still listening during and after a (pending) listen */
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_OK);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_connected)
{
        /* covers: STATE-02 PEEK-06 */
        H_NAME(name, "connected");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
        ck_assert_int_eq(h_state(c), NPIPE_STATE_CONNECTED);
        struct npipe_peek pk;
        memset(&pk, 0xAA, sizeof(pk));
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.state, NPIPE_STATE_CONNECTED);
        ck_assert_ok(npipe_peek(c, NULL, 0, &pk));
        ck_assert_uint_eq(pk.state, NPIPE_STATE_CONNECTED);
        ck_assert_status(npipe_listen(s, 0), NPIPE_EISCONN);
        ck_assert_status(npipe_listen(c, 0), NPIPE_EFUNCTION);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_closing_server_side)
{
        /* covers: STATE-03 STATE-11 CONNECT-06 QUOTA-14 TRANS-14 */
        H_NAME(name, "closing-srv");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        ck_assert_ok(npipe_close(c));
        /* client closed: the server end reports CLOSING */
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CLOSING);
        struct row w = {.peek = NPIPE_EPIPE,
                        .transact = NPIPE_EBADPIPE,
                        .flush = NPIPE_OK,
                        .read = NPIPE_EPIPE,
                        .write = NPIPE_ECLOSING,
                        .listen = NPIPE_ECLOSING,
                        .info = NPIPE_OK,
                        .set_mode = NPIPE_OK};
        check_row(s, &w, "CLOSING server");
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CLOSING);
        npipe_close(s);
}
END_TEST

START_TEST(test_closing_client_side)
{
        /* covers: STATE-03 STATE-11 CONNECT-07 TRANS-14 */
        H_NAME(name, "closing-cli");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        ck_assert_ok(npipe_close(s));
        ck_assert_int_eq(h_state(c), NPIPE_STATE_CLOSING);
        struct row w = {.peek = NPIPE_EPIPE,
                        .transact = NPIPE_EBADPIPE,
                        .flush = NPIPE_OK,
                        .read = NPIPE_EPIPE,
                        .write = NPIPE_ECLOSING,
                        .listen = NPIPE_EFUNCTION,
                        .info = NPIPE_OK,
                        .set_mode = NPIPE_OK};
        check_row(c, &w, "CLOSING client");
        npipe_close(c);
}
END_TEST

START_TEST(test_disconnected_both_ends)
{
        /* covers: STATE-04 STATE-10 DISC-04 TRANS-14 QUOTA-14 */
        H_NAME(name, "disconnected");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_int_eq(h_state(s), NPIPE_STATE_DISCONNECTED);
        struct row ws = {.peek = NPIPE_EBADPIPE,
                         .transact = NPIPE_EBADPIPE,
                         .flush = NPIPE_OK,
                         .read = NPIPE_ENOTCONN,
                         .write = NPIPE_ENOTCONN,
                         .listen = 1,
                         .info = NPIPE_OK,
                         .set_mode = NPIPE_OK};
        check_row(s, &ws, "DISCONNECTED server");
        /* the client end is detached: everything is "not connected" */
        struct row wc = {.peek = NPIPE_ENOTCONN,
                         .transact = NPIPE_ENOTCONN,
                         .flush = NPIPE_ENOTCONN,
                         .read = NPIPE_ENOTCONN,
                         .write = NPIPE_ENOTCONN,
                         .listen = NPIPE_EFUNCTION,
                         .info = NPIPE_ENOTCONN,
                         .set_mode = NPIPE_ENOTCONN};
        check_row(c, &wc, "DISCONNECTED client");
        /* and stays so after the server handle is closed (not CLOSING) */
        ck_assert_ok(npipe_close(s));
        check_row(c, &wc, "DISCONNECTED client, server closed");
        npipe_close(c);
}
END_TEST

START_TEST(test_disconnect_from_closing)
{
        /* covers: STATE-04 DISC-05 */
        H_NAME(name, "disc-closing");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        npipe_close(c);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CLOSING);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_int_eq(h_state(s), NPIPE_STATE_DISCONNECTED);
        npipe_close(s);
}
END_TEST

START_TEST(test_relisten)
{
        /* covers: STATE-05 CONNECT-01 */
        H_NAME(name, "relisten");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        ck_assert_ok(npipe_disconnect(s));
        npipe_close(c);
        struct h_op l;
        h_async_listen(&l, s, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&l);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
        ck_assert_status(npipe_wait(name, H_TIMEOUT_MS), NPIPE_OK);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_status(l.status, NPIPE_OK);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_CONNECTED);
        ck_assert_int_eq(h_state(c), NPIPE_STATE_CONNECTED);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Peer wrote 10 bytes (message pipe); this end is CONNECTED or CLOSING. */
static void with_data(npipe_t *reader, npipe_t *writer, int close_writer, int want_state)
{
        H_WRITE(writer, "0123456789", 10);
        if (close_writer)
                ck_assert_ok(npipe_close(writer));
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(reader, &info));
        ck_assert_uint_eq(info.read_avail, 10);
        ck_assert_int_eq(info.state, want_state);
        char one;
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(reader, &one, 1, &pk));
        ck_assert_uint_eq(pk.state, want_state);
        ck_assert_uint_eq(pk.copied, 1);
        ck_assert_uint_eq(pk.avail, 10);
        ck_assert_uint_eq(pk.message_len, 10);
        ck_assert_int_eq(one, '0');
        size_t n;
        if (close_writer)
                ck_assert_status(npipe_write(reader, "x", 1, &n), NPIPE_ECLOSING);
        H_READ(reader, 16, NPIPE_OK, "0123456789", 10);
}

START_TEST(test_data_connected_and_closing)
{
        /* covers: STATE-06 STATE-11 CLOSE-01 CLOSE-02 PEEK-10 */
        /* (PEEK-10: a peek smaller than the head message is success) */
        H_NAME(name, "data");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        with_data(c, s, 0, NPIPE_STATE_CONNECTED); /* client reads, connected */
        with_data(s, c, 0, NPIPE_STATE_CONNECTED); /* server reads, connected */
        with_data(s, c, 1, NPIPE_STATE_CLOSING);   /* client closed */
        npipe_close(s);
        H_NAME(name2, "data2");
        make_pair(name2, &s, &c);
        with_data(c, s, 1, NPIPE_STATE_CLOSING); /* server closed */
        npipe_close(c);
}
END_TEST

START_TEST(test_disconnect_drops_data)
{
        /* covers: STATE-07 STATE-10 DISC-01 */
        H_NAME(name, "drops");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        H_WRITE_STR(s, "for the client");
        H_WRITE_STR(c, "for the server");
        ck_assert_ok(npipe_disconnect(s));
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(s, &info));
        ck_assert_uint_eq(info.read_avail, 0);
        char b[32];
        size_t n;
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_ENOTCONN);
        struct npipe_peek pk;
        ck_assert_status(npipe_peek(c, b, sizeof(b), &pk), NPIPE_ENOTCONN);
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EBADPIPE);
        /* a new client on the same instance finds nothing of the old data */
        npipe_close(c);
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_ok(npipe_peek(s, b, sizeof(b), &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
        ck_assert_uint_eq(pk.avail, 0);
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EAGAIN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_closing_client_no_instances)
{
        /* covers: STATE-08 */
        H_NAME(name, "noinst");
        npipe_t *s, *c;
        make_pair(name, &s, &c);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_uint_eq(info.cur_instances, 1);
        npipe_close(s);
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_int_eq(info.state, NPIPE_STATE_CLOSING);
        ck_assert_uint_eq(info.cur_instances, 0);
        npipe_close(c);
}
END_TEST

START_TEST(test_before_client)
{
        /* covers: STATE-09 */
        H_NAME(name, "before");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        char b[4];
        size_t n = 99;
        ck_assert_status(npipe_write(s, "x", 1, &n), NPIPE_ELISTENING);
        ck_assert_uint_eq(n, 0);
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_ELISTENING);
        struct npipe_peek pk;
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EBADPIPE);
        npipe_close(s);
}
END_TEST

START_TEST(test_after_disconnect_with_data)
{
        /* covers: STATE-10 */
        H_NAME(name, "afterdisc");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        H_WRITE_STR(s, "queued");
        ck_assert_ok(npipe_disconnect(s));
        char b[16];
        size_t n;
        struct npipe_peek pk;
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_ENOTCONN);
        ck_assert_status(npipe_write(s, "x", 1, &n), NPIPE_ENOTCONN);
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EBADPIPE);
        /* even with data that had been queued for it */
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_ENOTCONN);
        ck_assert_status(npipe_write(c, "x", 1, &n), NPIPE_ENOTCONN);
        ck_assert_status(npipe_peek(c, b, sizeof(b), &pk), NPIPE_ENOTCONN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_after_peer_closed)
{
        /* covers: STATE-11 PEEK-07 */
        H_NAME(name, "peerclosed");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        H_WRITE_STR(s, "rest");
        npipe_close(s);
        struct npipe_peek pk;
        char b[16];
        ck_assert_ok(npipe_peek(c, b, sizeof(b), &pk));
        ck_assert_uint_eq(pk.avail, 4);
        ck_assert_uint_eq(pk.state, NPIPE_STATE_CLOSING);
        H_READ_STR(c, 16, NPIPE_OK, "rest");
        size_t n = 99;
        ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EPIPE);
        ck_assert_uint_eq(n, 0);
        ck_assert_status(npipe_write(c, "x", 1, &n), NPIPE_ECLOSING);
        /* peek with nothing left: broken pipe, outputs untouched */
        memset(&pk, 0xAB, sizeof(pk));
        memset(b, 0xCD, sizeof(b));
        ck_assert_status(npipe_peek(c, b, sizeof(b), &pk), NPIPE_EPIPE);
        const uint8_t *p = (const uint8_t *)&pk;
        for (size_t i = 0; i < sizeof(pk); i++)
                ck_assert_uint_eq(p[i], 0xAB);
        for (size_t i = 0; i < sizeof(b); i++)
                ck_assert_uint_eq((uint8_t)b[i], 0xCD);
        npipe_close(c);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("state");
        TCase *tc = h_tcase("state", 60);
        tcase_add_test(tc, test_new_instance_listening);
        tcase_add_test(tc, test_connected);
        tcase_add_test(tc, test_closing_server_side);
        tcase_add_test(tc, test_closing_client_side);
        tcase_add_test(tc, test_disconnected_both_ends);
        tcase_add_test(tc, test_disconnect_from_closing);
        tcase_add_test(tc, test_relisten);
        tcase_add_test(tc, test_data_connected_and_closing);
        tcase_add_test(tc, test_disconnect_drops_data);
        tcase_add_test(tc, test_closing_client_no_instances);
        tcase_add_test(tc, test_before_client);
        tcase_add_test(tc, test_after_disconnect_with_data);
        tcase_add_test(tc, test_after_peer_closed);
        suite_add_tcase(s, tc);
        return h_run(s);
}
