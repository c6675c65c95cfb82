/*
 * test_stats.c - npipe_stats(): the broker's counters and the traffic of
 * each pipe, counted across real processes (issue 5).
 *
 * The bytes never pass through the broker: it learns the counts of a
 * connection that ended from the end that left it, and those of a live one
 * by asking its server process.  So every way a connection can end is
 * here - the client closes, the server disconnects, either process is
 * killed - and a server process that cannot answer (stopped) must not hold
 * the answer up.  Every count is exact: the writes are of known sizes, and
 * nothing is compared before the processes said (through their channel)
 * that they wrote and read everything.
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG 200000 /* larger than a ring: the message streams through it */

struct found {
        const char *name; /* without the \\.\pipe\ prefix */
        int seen;
        struct npipe_pipe_stats s;
};

static int find_pipe(void *ctx, const struct npipe_pipe_stats *p)
{
        struct found *f = ctx;

        if (strcmp(p->name, f->name) == 0) {
                f->seen++;
                f->s = *p;
                f->s.name = NULL;
        }
        return 0;
}

/* npipe_stats for one pipe name (`path` as created). */
static void stats_of(const char *path, struct npipe_broker_stats *b, struct found *f)
{
        memset(f, 0, sizeof(*f));
        f->name = path + strlen("\\\\.\\pipe\\");
        ck_assert_ok(npipe_stats(b, find_pipe, f));
        ck_assert_int_le(f->seen, 1);
}

#define ASSERT_TRAFFIC(t, cm, cb, sm, sb)                                                          \
        do {                                                                                       \
                ck_assert_uint_eq((t).c2s_messages, (cm));                                         \
                ck_assert_uint_eq((t).c2s_bytes, (cb));                                            \
                ck_assert_uint_eq((t).s2c_messages, (sm));                                         \
                ck_assert_uint_eq((t).s2c_bytes, (sb));                                            \
        } while (0)

/* Read exactly n bytes (byte read mode, any number of reads). */
static int c_read_n(npipe_t *h, size_t n)
{
        char *buf = malloc(n);
        size_t got = 0;
        int r = 0;

        if (buf == NULL)
                return NPIPE_ENOMEM;
        while (got < n && r == 0) {
                size_t k = 0;

                r = npipe_read_timeout(h, buf + got, n - got, &k, H_TIMEOUT_MS);
                if (r == NPIPE_EMOREDATA)
                        r = 0;
                got += k;
        }
        free(buf);
        return r;
}

/* What the client writes: messages of 1..5 bytes, then one of BIG bytes;
 * the server answers with three messages of 10 bytes. */
#define C2S_MSGS  6
#define C2S_BYTES (15 + BIG)
#define S2C_MSGS  3
#define S2C_BYTES 30

static int c_client_writes(npipe_t *c)
{
        char *big = malloc(BIG);

        if (big == NULL)
                return NPIPE_ENOMEM;
        h_pattern(big, BIG, 7);
        for (size_t len = 1; len <= 5; len++)
                if (c_write_all(c, big, len) != 0)
                        return -1;
        if (c_write_all(c, big, BIG) != 0)
                return -1;
        free(big);
        return 0;
}

/* Server child: creates `name`, takes one client, reads what it writes,
 * answers, and then does as the parent says: 'x' disconnect, 'q' close
 * and exit; or waits to be killed. */
static int child_server(int chan, void *arg)
{
        const char *name = arg;
        struct npipe_server_opts o;
        npipe_t *s = NULL;
        int r;

        npipe_server_opts_init(&o);
        C_STATUS(npipe_create(name, &o, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        r = npipe_listen(s, H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        C_STATUS(c_read_n(s, C2S_BYTES), NPIPE_OK);
        for (int i = 0; i < S2C_MSGS; i++)
                C_STATUS(c_write_all(s, "0123456789", 10), NPIPE_OK);
        C_SEND(chan, 'd');
        for (;;) {
                int cmd = h_recv(chan, H_TIMEOUT_MS * 3);

                if (cmd == 'x') {
                        C_STATUS(npipe_disconnect(s), NPIPE_OK);
                        C_SEND(chan, 'D');
                } else if (cmd == 'q') {
                        C_STATUS(npipe_close(s), NPIPE_OK);
                        return 0;
                } else {
                        return 2;
                }
        }
}

/* Client child: writes, reads the answers, then on 'c' closes (or is
 * killed while waiting). */
static int child_client(int chan, void *arg)
{
        const char *name = arg;
        npipe_t *c = NULL;

        C_STATUS(npipe_open(name, NPIPE_READ | NPIPE_WRITE, H_TIMEOUT_MS, &c), NPIPE_OK);
        C_STATUS(c_client_writes(c), 0);
        C_STATUS(c_read_n(c, S2C_BYTES), NPIPE_OK);
        C_SEND(chan, 'w');
        C_EXPECT(chan, 'c');
        C_STATUS(npipe_close(c), NPIPE_OK);
        C_SEND(chan, 'C');
        return 0;
}

/* Until the broker has handled what another process sent it last (a
 * close posted without a reply): re-asked, not slept on. */
#define EVENTUALLY_STATS(path, b, f, cond)                                                         \
        do {                                                                                       \
                int64_t end_ = h_now_ms() + H_TIMEOUT_MS;                                          \
                for (;;) {                                                                         \
                        stats_of((path), (b), (f));                                                \
                        if ((cond) || h_now_ms() >= end_)                                          \
                                break;                                                             \
                        h_pause();                                                                 \
                }                                                                                  \
                ck_assert_msg((cond), "never became true: %s", #cond);                             \
        } while (0)

START_TEST(test_counts_live_then_ended)
{
        /* covers: (statistics) exact per-pipe counts of a live connection, from
         * its server process, and the same after the client closed and the
         * server disconnected (counted once), in three processes */
        H_NAME(name, "stats");
        struct npipe_broker_stats b;
        struct h_child srv, cli;
        struct found f;

        h_spawn(&srv, child_server, name);
        H_EXPECT(srv.chan, 'r');
        h_spawn(&cli, child_client, name);
        H_EXPECT(cli.chan, 'w');
        H_EXPECT(srv.chan, 'd');

        stats_of(name, &b, &f);
        ck_assert_int_eq(f.seen, 1);
        ck_assert_uint_eq(f.s.cur_instances, 1);
        ck_assert_uint_eq(f.s.connected, 1);
        ck_assert_uint_eq(f.s.listening, 0);
        ck_assert_uint_eq(f.s.connections, 1);
        ck_assert_uint_eq(f.s.missing, 0);
        ASSERT_TRAFFIC(f.s.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ck_assert_uint_eq(b.servers_asked, 1);
        ck_assert_uint_eq(b.servers_missing, 0);
        ASSERT_TRAFFIC(b.traffic, 0, 0, 0, 0); /* nothing has ended */
        ck_assert_uint_eq(b.pipes_now, 1);
        ck_assert_uint_eq(b.instances_now, 1);
        ck_assert_uint_eq(b.connections_now, 1);
        ck_assert_uint_eq(b.pipes_total, 1);
        ck_assert_uint_eq(b.instances_total, 1);
        ck_assert_uint_eq(b.connections_total, 1);
        ck_assert_uint_ge(b.processes_now, 3);
        ck_assert_int_gt(b.broker_pid, 0);
        ck_assert_uint_ge(b.stats_queries, 1);

        /* the client closes: its final counts go to the pipe */
        h_send(cli.chan, 'c');
        H_EXPECT(cli.chan, 'C');
        H_ASSERT_CHILD_OK(&cli);
        EVENTUALLY_STATS(name, &b, &f, b.connections_now == 0);
        ASSERT_TRAFFIC(f.s.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ASSERT_TRAFFIC(b.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ck_assert_uint_eq(f.s.connected, 0);
        ck_assert_uint_eq(f.s.missing, 0);
        ck_assert_uint_eq(b.servers_asked, 0); /* no live connection to ask about */

        /* the server disconnects the closed connection: not counted twice */
        h_send(srv.chan, 'x');
        H_EXPECT(srv.chan, 'D');
        stats_of(name, &b, &f);
        ASSERT_TRAFFIC(f.s.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ASSERT_TRAFFIC(b.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);

        /* and the name goes with its server; the broker's totals stay */
        h_send(srv.chan, 'q');
        H_ASSERT_CHILD_OK(&srv);
        stats_of(name, &b, &f);
        ck_assert_int_eq(f.seen, 0);
        ck_assert_uint_eq(b.pipes_now, 0);
        ck_assert_uint_eq(b.connections_total, 1);
        ASSERT_TRAFFIC(b.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
}
END_TEST

START_TEST(test_client_killed)
{
        /* covers: (statistics) a client killed without closing: its counts
         * come from the server, live and then when it disconnects */
        H_NAME(name, "statsck");
        struct npipe_broker_stats b;
        struct h_child srv, cli;
        struct found f;

        h_spawn(&srv, child_server, name);
        H_EXPECT(srv.chan, 'r');
        h_spawn(&cli, child_client, name);
        H_EXPECT(cli.chan, 'w');
        H_EXPECT(srv.chan, 'd');
        h_kill(&cli);
        EVENTUALLY_STATS(name, &b, &f, b.connections_now == 0);
        ck_assert_uint_eq(f.s.connected, 0); /* CLOSING */
        ck_assert_uint_eq(f.s.missing, 0);
        ASSERT_TRAFFIC(f.s.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ASSERT_TRAFFIC(b.traffic, 0, 0, 0, 0);
        ck_assert_uint_eq(b.servers_asked, 1);

        h_send(srv.chan, 'x');
        H_EXPECT(srv.chan, 'D');
        stats_of(name, &b, &f);
        ASSERT_TRAFFIC(f.s.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ASSERT_TRAFFIC(b.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
        ck_assert_uint_eq(b.servers_asked, 0);
        h_send(srv.chan, 'q');
        H_ASSERT_CHILD_OK(&srv);
}
END_TEST

START_TEST(test_server_killed)
{
        /* covers: (statistics) a server killed: its connection's counts are
         * the client's to report when it closes */
        H_NAME(name, "statssk");
        struct npipe_broker_stats b;
        struct h_child srv;
        npipe_t *c;
        struct found f;

        h_spawn(&srv, child_server, name);
        H_EXPECT(srv.chan, 'r');
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_int_eq(c_client_writes(c), 0);
        ck_assert_status(c_read_n(c, S2C_BYTES), NPIPE_OK);
        H_EXPECT(srv.chan, 'd');
        h_kill(&srv);
        EVENTUALLY_STATS(name, &b, &f, b.pipes_now == 0);
        ck_assert_int_eq(f.seen, 0);
        ASSERT_TRAFFIC(b.traffic, 0, 0, 0, 0);

        ck_assert_ok(npipe_close(c));
        EVENTUALLY_STATS(name, &b, &f, b.connections_now == 0);
        ASSERT_TRAFFIC(b.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);
}
END_TEST

START_TEST(test_stopped_server)
{
        /* covers: (statistics) a server process that cannot answer (stopped)
         * delays the answer by the deadline only, and is reported missing */
        H_NAME(name, "statsstop");
        struct npipe_broker_stats b;
        struct h_child srv;
        npipe_t *c;
        struct found f;
        int64_t t0;
        int st;

        h_spawn(&srv, child_server, name);
        H_EXPECT(srv.chan, 'r');
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_int_eq(c_client_writes(c), 0);
        ck_assert_status(c_read_n(c, S2C_BYTES), NPIPE_OK);
        H_EXPECT(srv.chan, 'd');

        /* kill() returns before the signal stops the target: wait until it
         * is stopped, or it may still answer the query below */
        ck_assert_int_eq(kill(srv.pid, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(srv.pid, &st, WUNTRACED), srv.pid);
        ck_assert(WIFSTOPPED(st));
        t0 = h_now_ms();
        stats_of(name, &b, &f);
        ck_assert_int_lt(h_now_ms() - t0, H_TIMEOUT_MS);
        ck_assert_int_eq(f.seen, 1);
        ck_assert_uint_eq(f.s.connected, 1);
        ck_assert_uint_eq(f.s.missing, 1);
        ASSERT_TRAFFIC(f.s.traffic, 0, 0, 0, 0);
        ck_assert_uint_eq(b.servers_asked, 1);
        ck_assert_uint_eq(b.servers_missing, 1);

        /* running again, it answers the next query */
        ck_assert_int_eq(kill(srv.pid, SIGCONT), 0);
        stats_of(name, &b, &f);
        ck_assert_uint_eq(f.s.missing, 0);
        ck_assert_uint_eq(b.servers_missing, 0);
        ASSERT_TRAFFIC(f.s.traffic, C2S_MSGS, C2S_BYTES, S2C_MSGS, S2C_BYTES);

        ck_assert_ok(npipe_close(c));
        h_send(srv.chan, 'q');
        H_ASSERT_CHILD_OK(&srv);
}
END_TEST

START_TEST(test_broker_counters)
{
        /* covers: (statistics) the broker counts opens refused by reason,
         * waits and connections */
        H_NAME(name, "statsb");
        H_NAME(missing, "statsnone");
        struct npipe_broker_stats b0, b;
        struct npipe_server_opts o;
        npipe_t *s, *c, *c2 = NULL;

        ck_assert_ok(npipe_stats(&b0, NULL, NULL));
        ck_assert_status(npipe_open(missing, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_ENOENT);
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 1;
        s = h_create(name, &o);
        ck_assert_ok(npipe_wait(name, 0));
        c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        ck_assert_status(npipe_wait(name, 0), NPIPE_ETIMEDOUT);
        ck_assert_ok(npipe_stats(&b, NULL, NULL));
        ck_assert_uint_eq(b.opens_not_found - b0.opens_not_found, 1);
        ck_assert_uint_eq(b.opens_busy - b0.opens_busy, 1);
        ck_assert_uint_eq(b.opens_denied - b0.opens_denied, 0);
        ck_assert_uint_eq(b.connections_total - b0.connections_total, 1);
        ck_assert_uint_eq(b.waits_total - b0.waits_total, 2);
        ck_assert_uint_eq(b.waits_timed_out - b0.waits_timed_out, 1);
        ck_assert_uint_eq(b.pipes_total - b0.pipes_total, 1);
        ck_assert_uint_eq(b.requests_malformed, 0);
        ck_assert_uint_gt(b.requests_total, b0.requests_total);
        ck_assert_uint_eq(b.stats_queries - b0.stats_queries, 1);
        ck_assert_uint_ge(b.uptime_ms, b0.uptime_ms);
        ck_assert_ok(npipe_close(c));
        ck_assert_ok(npipe_close(s));
}
END_TEST

int main(void)
{
        Suite *s = suite_create("stats");
        TCase *tc = h_tcase("stats", 60);
        tcase_add_test(tc, test_counts_live_then_ended);
        tcase_add_test(tc, test_client_killed);
        tcase_add_test(tc, test_server_killed);
        tcase_add_test(tc, test_stopped_server);
        tcase_add_test(tc, test_broker_counters);
        suite_add_tcase(s, tc);
        return h_run(s);
}
