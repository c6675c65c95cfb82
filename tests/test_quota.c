/*
 * test_quota.c - spec section 13, QUOTA: buffer quotas, writes that pend
 * for lack of quota, and flush.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* A byte pipe with the given quotas, connected in this process. */
static void quota_pair(const char *name, enum npipe_type type, uint32_t in_q, uint32_t out_q,
                       npipe_t **s, npipe_t **c)
{
        struct npipe_server_opts o;
        h_opts(&o, type, 0);
        o.in_quota = in_q;
        o.out_quota = out_q;
        *s = h_create(name, &o);
        *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
}

/* Read exactly n bytes (byte read mode) into buf (may be NULL). */
static void read_exact(npipe_t *h, size_t n)
{
        char *b = malloc(n ? n : 1);
        size_t got = 0;
        while (got < n) {
                size_t k = 0;
                ck_assert_ok(npipe_read(h, b, n - got, &k));
                got += k;
        }
        free(b);
}

START_TEST(test_direction_picks_quota)
{
        /* covers: QUOTA-01 QUOTA-02 */
        H_NAME(name, "dir");
        npipe_t *s, *c;
        /* inbound (client -> server) quota 100, outbound 5000 */
        quota_pair(name, NPIPE_TYPE_BYTE, 100, 5000, &s, &c);
        static char buf[1000];
        /* server -> client: 1000 <= 5000 completes at once */
        struct h_op w;
        h_async_write(&w, s, buf, sizeof(buf));
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_uint_eq(w.n, sizeof(buf));
        /* client -> server: 1000 > 100 pends */
        h_async_write(&w, c, buf, sizeof(buf));
        H_ASSERT_BLOCKED(&w);
        read_exact(s, 900);
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_uint_eq(w.n, sizeof(buf));
        read_exact(s, 100);
        read_exact(c, 1000);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_write_to_pending_read)
{
        /* covers: QUOTA-02 */
        H_NAME(name, "toread");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_BYTE, 100, 100, &s, &c);
        /* exactly the free quota completes with no reader */
        static char buf[500];
        struct h_op w;
        h_async_write(&w, s, buf, 100);
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        read_exact(c, 100);
        /* a write bigger than the quota, handed to a pending read that
         * takes all of it, completes */
        char *rb = malloc(1000);
        struct h_op r;
        h_async_read(&r, c, rb, 1000);
        H_ASSERT_BLOCKED(&r);
        h_async_write(&w, s, buf, 500);
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_uint_eq(w.n, 500);
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_OK);
        ck_assert_uint_eq(r.n, 500);
        free(rb);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_worked_example_5000)
{
        /* covers: QUOTA-03 QUOTA-06 QUOTA-05 PEEK-02 */
        H_NAME(name, "q5000");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_BYTE, 5000, 5000, &s, &c);
        static char b3000[3000], b5000[5000];
        H_WRITE(s, b3000, 3000); /* fits: completes */
        struct h_op w5000, w1;
        h_async_write(&w5000, s, b5000, 5000);
        H_ASSERT_BLOCKED(&w5000);
        struct npipe_peek pk;
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail == 8000);
        h_async_write(&w1, s, "!", 1);
        H_ASSERT_BLOCKED(&w1);
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail == 8001);
        /* read 3000: 5000 unread, W(5000) fits and completes; W(1) does not
         * (5001 > 5000) */
        read_exact(c, 3000);
        H_ASSERT_FINISHES(&w5000);
        ck_assert_status(w5000.status, NPIPE_OK);
        ck_assert_uint_eq(w5000.n, 5000);
        H_ASSERT_BLOCKED(&w1);
        /* one more byte: W(1) completes */
        read_exact(c, 1);
        H_ASSERT_FINISHES(&w1);
        ck_assert_status(w1.status, NPIPE_OK);
        ck_assert_uint_eq(w1.n, 1);
        read_exact(c, 5000);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Child writer: one write of quota+2000 bytes; reports 'w' when done. */
static int child_big_write(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        static char buf[3000];
        h_pattern(buf, sizeof(buf), 5);
        C_SEND(chan, 'o');
        size_t n = 0;
        C_STATUS(npipe_write(c, buf, sizeof(buf), &n), NPIPE_OK);
        C_CHECK(n == sizeof(buf));
        C_SEND(chan, 'w');
        C_EXPECT(chan, 'q');
        npipe_close(c);
        return 0;
}

START_TEST(test_single_write_over_quota)
{
        /* covers: QUOTA-04 QUOTA-15 QUOTA-05 */
        H_NAME(name, "over");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.in_quota = 1000;
        npipe_t *s = h_create(name, &o);
        struct h_child ch;
        h_spawn(&ch, child_big_write, name);
        H_EXPECT(ch.chan, 'o');
        struct npipe_info info;
        H_EVENTUALLY(npipe_get_info(s, &info) == 0 && info.read_avail == 3000);
        ck_assert_int_eq(h_recv(ch.chan, H_BLOCKED_MS), -1); /* pending */
        /* 1999 read: 1001 left > 1000, still pending */
        char *b = malloc(3000);
        size_t got = 0, n;
        while (got < 1999) {
                ck_assert_ok(npipe_read(s, b + got, 1999 - got, &n));
                got += n;
        }
        ck_assert_int_eq(h_recv(ch.chan, H_BLOCKED_MS), -1);
        /* one more byte: the write completes */
        ck_assert_ok(npipe_read(s, b + got, 1, &n));
        got += n;
        H_EXPECT(ch.chan, 'w');
        while (got < 3000) {
                ck_assert_ok(npipe_read(s, b + got, 3000 - got, &n));
                got += n;
        }
        ck_assert(h_pattern_ok(b, 3000, 5));
        free(b);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_pending_data_readable_at_once)
{
        /* covers: QUOTA-05 PEEK-02 MSG-01 */
        /* a pending write larger than the quota is readable in one read */
        H_NAME(name, "atonce");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_BYTE, 1000, 1000, &s, &c);
        static char b3000[3000];
        h_pattern(b3000, sizeof(b3000), 3);
        struct h_op w;
        h_async_write(&w, s, b3000, sizeof(b3000));
        H_ASSERT_BLOCKED(&w);
        struct npipe_info info;
        H_EVENTUALLY(npipe_get_info(c, &info) == 0 && info.read_avail == 3000);
        char *b = malloc(3000);
        size_t n = 0;
        ck_assert_ok(npipe_read(c, b, 3000, &n));
        ck_assert_uint_eq(n, 3000);
        ck_assert(h_pattern_ok(b, 3000, 3));
        H_ASSERT_FINISHES(&w);
        free(b);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_pending_beyond_ring_readable_at_once)
{
        /* covers: QUOTA-05 PEEK-02 MSG-01 */
        /* the same with a write several times any ring size: NT queues the
         * whole write, so peek, bytes-available and one byte-mode read see
         * all of it (design.md: the ring alone cannot show this) */
        H_NAME(name, "beyondring");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_BYTE, 65536, 65536, &s, &c);
        const size_t len = 4u << 20;
        char *big = malloc(len), *b = malloc(len);
        h_pattern(big, len, 8);
        struct h_op w;
        h_async_write(&w, s, big, len);
        H_ASSERT_BLOCKED(&w);
        struct npipe_peek pk;
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail == len);
        size_t n = 0;
        ck_assert_ok(npipe_read(c, b, len, &n));
        ck_assert_msg(n == len, "one byte-mode read returned %zu of %zu available bytes", n, len);
        size_t got = n;
        while (got < len) {
                ck_assert_ok(npipe_read(c, b + got, len - got, &n));
                got += n;
        }
        ck_assert(h_pattern_ok(b, len, 8));
        H_ASSERT_FINISHES(&w);
        free(big);
        free(b);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_fifo_completion)
{
        /* covers: QUOTA-06 ORDER-04 */
        H_NAME(name, "fifo");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_MESSAGE, 100, 100, &s, &c);
        static char w1buf[300], w2buf[50];
        memset(w1buf, '1', sizeof(w1buf));
        memset(w2buf, '2', sizeof(w2buf));
        struct h_op w1, w2;
        struct npipe_peek pk;
        h_async_write(&w1, s, w1buf, sizeof(w1buf));
        H_ASSERT_BLOCKED(&w1);
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail == 300);
        h_async_write(&w2, s, w2buf, sizeof(w2buf));
        H_ASSERT_BLOCKED(&w2);
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail == 350);
        /* read 200 of W1: 150 unread; W1 fits (100), W2 (150) does not */
        char b[300];
        size_t n;
        ck_assert_ok(npipe_read(c, b, 200, &n)); /* byte mode client */
        ck_assert_uint_eq(n, 200);
        H_ASSERT_FINISHES(&w1);
        ck_assert_status(w1.status, NPIPE_OK);
        H_ASSERT_BLOCKED(&w2);
        ck_assert_ok(npipe_read(c, b, 50, &n));
        H_ASSERT_FINISHES(&w2);
        ck_assert_status(w2.status, NPIPE_OK);
        /* data in issue order */
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        H_READ(c, 300, NPIPE_OK, w1buf, 50);
        H_READ(c, 300, NPIPE_OK, w2buf, 50);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* A blocking write that finds no room for its message puts nothing yet
 * (a message streams only in pieces of a quarter ring): a smaller write
 * from another thread, issued after it, must not go into the pipe first. */
START_TEST(test_write_waiting_for_room_keeps_its_place)
{
        /* covers: ORDER-04 */
        H_NAME(name, "room");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_MESSAGE, 100, 100, &s, &c); /* server ring 64 KiB */
        static char w1buf[50000], w2buf[20000], w3buf[100];
        memset(w1buf, '1', sizeof(w1buf));
        memset(w2buf, '2', sizeof(w2buf));
        memset(w3buf, '3', sizeof(w3buf));
        struct h_op w1, w2, w3;
        struct npipe_peek pk;
        h_async_write(&w1, s, w1buf, sizeof(w1buf));
        H_ASSERT_BLOCKED(&w1); /* in the ring, waiting for quota */
        H_EVENTUALLY(npipe_peek(c, NULL, 0, &pk) == 0 && pk.avail == sizeof(w1buf));
        h_async_write(&w2, s, w2buf, sizeof(w2buf));
        H_ASSERT_BLOCKED(&w2); /* 15 KiB free: less than a quarter ring */
        h_async_write(&w3, s, w3buf, sizeof(w3buf));
        H_ASSERT_BLOCKED(&w3);
        /* 100 bytes would fit, but they go in after w2's 20,000 */
        static char b[60000];
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        H_READ(c, sizeof(b), NPIPE_OK, w1buf, sizeof(w1buf));
        H_READ(c, sizeof(b), NPIPE_OK, w2buf, sizeof(w2buf));
        H_READ(c, sizeof(b), NPIPE_OK, w3buf, sizeof(w3buf));
        H_ASSERT_FINISHES(&w1);
        H_ASSERT_FINISHES(&w2);
        H_ASSERT_FINISHES(&w3);
        ck_assert_status(w1.status, NPIPE_OK);
        ck_assert_status(w2.status, NPIPE_OK);
        ck_assert_status(w3.status, NPIPE_OK);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_write_quota_avail)
{
        /* covers: QUOTA-10 */
        H_NAME(name, "wqa");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_BYTE, 100, 200, &s, &c);
        struct npipe_info si, ci;
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_uint_eq(si.write_quota_avail, 200);
        ck_assert_uint_eq(ci.write_quota_avail, 100);
        /* bytes charged reduce it, reads give it back */
        H_WRITE(c, "0123456789012345678901234567890", 30);
        H_WRITE(s, "0123456789", 10);
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_uint_eq(ci.write_quota_avail, 70);
        ck_assert_uint_eq(si.write_quota_avail, 190);
        read_exact(s, 30);
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_uint_eq(ci.write_quota_avail, 100);
        read_exact(c, 10);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_quotas_same_on_both_ends)
{
        /* covers: QUOTA-11 */
        H_NAME(name, "both");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_MESSAGE, 100, 200, &s, &c);
        struct npipe_info si, ci;
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_uint_eq(si.in_quota, 100);
        ck_assert_uint_eq(si.out_quota, 200);
        ck_assert_uint_eq(ci.in_quota, 100); /* not swapped per end */
        ck_assert_uint_eq(ci.out_quota, 200);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Child reader: on 'r' + count, reads that many bytes; 'q' quits. */
static int child_reader(int chan, void *arg)
{
        npipe_t *c = NULL;
        C_STATUS(npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        C_SEND(chan, 'o');
        for (;;) {
                int cmd = h_recv(chan, H_TIMEOUT_MS * 2);
                if (cmd == 'q' || cmd < 0)
                        break;
                uint64_t want;
                C_CHECK(h_recv_u64(chan, &want, H_TIMEOUT_MS) == 0);
                char b[256];
                size_t got = 0, n;
                while (got < want) {
                        size_t k = want - got < sizeof(b) ? want - got : sizeof(b);
                        C_STATUS(npipe_read(c, b, k, &n), NPIPE_OK);
                        got += n;
                }
                C_SEND(chan, 'd');
        }
        npipe_close(c);
        return 0;
}

static void child_read(struct h_child *ch, uint64_t n)
{
        h_send(ch->chan, 'r');
        h_send_u64(ch->chan, n);
        H_EXPECT(ch->chan, 'd');
}

START_TEST(test_flush_waits_for_reader)
{
        /* covers: QUOTA-12 DISC-09 */
        H_NAME(name, "flush");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        struct h_child ch;
        h_spawn(&ch, child_reader, name);
        H_EXPECT(ch.chan, 'o');
        h_await_client(s);
        H_WRITE_STR(s, "0123456789");
        struct h_op f;
        h_async_flush(&f, s);
        H_ASSERT_BLOCKED(&f);
        child_read(&ch, 5);
        H_ASSERT_BLOCKED(&f); /* half read: still waiting */
        child_read(&ch, 5);
        H_ASSERT_FINISHES(&f);
        ck_assert_status(f.status, NPIPE_OK);
        /* the graceful shutdown: flush, then disconnect */
        ck_assert_ok(npipe_disconnect(s));
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(s);
}
END_TEST

START_TEST(test_flush_peer_closes_or_disconnect)
{
        /* covers: QUOTA-13 */
        H_NAME(name, "flushfail");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        /* the peer closes while the server flushes: broken pipe */
        H_WRITE_STR(s, "unread");
        struct h_op f;
        h_async_flush(&f, s);
        H_ASSERT_BLOCKED(&f);
        npipe_close(c);
        H_ASSERT_FINISHES(&f);
        ck_assert_status(f.status, NPIPE_EPIPE);
        /* the instance is disconnected while the client flushes */
        ck_assert_ok(npipe_disconnect(s));
        struct h_op l;
        h_listen_ready(&l, s, name);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        H_WRITE_STR(c, "unread too");
        h_async_flush(&f, c);
        H_ASSERT_BLOCKED(&f);
        ck_assert_ok(npipe_disconnect(s));
        H_ASSERT_FINISHES(&f);
        ck_assert_status(f.status, NPIPE_ENOTCONN);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_flush_immediate_cases)
{
        /* covers: QUOTA-14 */
        H_NAME(name, "flushnow");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        ck_assert_ok(npipe_flush(s)); /* listening */
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_ok(npipe_flush(s)); /* nothing queued */
        ck_assert_ok(npipe_flush(c));
        H_WRITE_STR(c, "x");
        npipe_close(c);
        ck_assert_ok(npipe_flush(s)); /* closing */
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_ok(npipe_flush(s)); /* disconnected server */
        struct h_op l;
        h_listen_ready(&l, s, name);
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_ASSERT_FINISHES(&l);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_status(npipe_flush(c), NPIPE_ENOTCONN); /* disconnected client */
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_writer_released_by_reads)
{
        /* covers: QUOTA-15 */
        H_NAME(name, "released");
        npipe_t *s, *c;
        quota_pair(name, NPIPE_TYPE_BYTE, 512, 512, &s, &c);
        static char buf[512];
        H_WRITE(s, buf, 512); /* fills the quota */
        struct h_op w;
        h_async_write(&w, s, buf, 100);
        H_ASSERT_BLOCKED(&w);
        read_exact(c, 50);
        H_ASSERT_BLOCKED(&w); /* 562 > 512 */
        read_exact(c, 50);
        H_ASSERT_FINISHES(&w); /* 512 <= 512 */
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_uint_eq(w.n, 100);
        read_exact(c, 512);
        npipe_close(c);
        npipe_close(s);
}
END_TEST


START_TEST(test_large_inbound_quota_completes_at_once)
{
        /* covers: QUOTA-02 QUOTA-01 */
        /* a client write that fits a large inbound quota completes with
         * nobody reading, although the client did not know the quota (and
         * so its ring size) before it opened */
        H_NAME(name, "bigin");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.in_quota = 256 * 1024 + 24;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        static char big[256 * 1024];
        h_pattern(big, sizeof(big), 5);
        size_t n = 0;
        ck_assert_status(npipe_write_timeout(c, big, sizeof(big), &n, H_TIMEOUT_MS), NPIPE_OK);
        ck_assert_uint_eq(n, sizeof(big));
        struct npipe_peek pk;
        ck_assert_ok(npipe_peek(s, NULL, 0, &pk));
        ck_assert_uint_eq(pk.avail, sizeof(big));
        static char got[256 * 1024];
        H_READ(s, sizeof(got), NPIPE_OK, big, sizeof(big));
        (void)got;
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("quota");
        TCase *tc = h_tcase("quota", 60);
        tcase_add_test(tc, test_direction_picks_quota);
        tcase_add_test(tc, test_write_to_pending_read);
        tcase_add_test(tc, test_worked_example_5000);
        tcase_add_test(tc, test_single_write_over_quota);
        tcase_add_test(tc, test_pending_data_readable_at_once);
        tcase_add_test(tc, test_pending_beyond_ring_readable_at_once);
        tcase_add_test(tc, test_fifo_completion);
        tcase_add_test(tc, test_write_waiting_for_room_keeps_its_place);
        tcase_add_test(tc, test_write_quota_avail);
        tcase_add_test(tc, test_quotas_same_on_both_ends);
        tcase_add_test(tc, test_flush_waits_for_reader);
        tcase_add_test(tc, test_flush_peer_closes_or_disconnect);
        tcase_add_test(tc, test_flush_immediate_cases);
        tcase_add_test(tc, test_writer_released_by_reads);
        tcase_add_test(tc, test_large_inbound_quota_completes_at_once);
        suite_add_tcase(s, tc);
        return h_run(s);
}
