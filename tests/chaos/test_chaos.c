/*
 * test_chaos.c - SIGKILL at random points of a transfer (issue 4, items 3
 * and 4).
 *
 * Each trial starts a server and a client process (libnpipe, a private
 * runtime directory and so a private broker per trial), lets them run one
 * scenario, and kills one of the three - client, server or broker - with
 * SIGKILL after a random delay (the delay only picks the point of the
 * kill; nothing is synchronised by it).  Scenarios:
 *
 *   transfer  messages of random sizes, half of them larger than the ring
 *             (they stream), in one direction; the kill lands mid-write
 *   transact  TransactNamedPipe requests and replies
 *   connect   the client opens, sends one request, reads the reply and
 *             closes, over and over; the server listens and disconnects
 *   disconnect the server writes a few messages and disconnects, over and
 *             over; the client reads until it is cut off and reopens
 *
 * Every message carries its length, a sequence number and an FNV-1a
 * checksum of its payload; the receiver checks all three on every message
 * it is handed whole, so a torn message delivered as complete fails the
 * test.  The survivors report, in shared memory, the first status that
 * told them the peer was gone and when; the parent checks it is one of
 * the right ones (reads: NPIPE_EPIPE after draining; writes:
 * NPIPE_ECLOSING, or NPIPE_EPIPE mid-message; NPIPE_ENOTCONN after a
 * disconnect; NPIPE_ENOENT for a client opening a name whose server died)
 * and came within a bound.  A server that lost its client must take the
 * next one.  When the broker is killed instead, the existing connection
 * must not notice at all: the transfer completes intact, a new broker
 * starts, the server's instances are adopted, a new client reaches a
 * listening instance by name, and the death of the client is still
 * reported to the server.  Every process must exit when told to; none may
 * hang.
 *
 * NPIPE_CHAOS_SECONDS (default 8 per test) bounds the run; the seed is
 * printed and NPIPE_CHAOS_SEED replays it.
 *
 * covers: issue 4 item 3 (crash chaos), issue 4 item 4 (broker death),
 * CLOSE-09, DISC-01, DISC-02, CLOSE-04
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "rt.h"

/* A survivor must learn of its peer's death within this (the issue asks
 * for 100 ms; the figure is reported, the assertion leaves room for
 * sanitizer builds and loaded CI machines). */
#define NOTICE_BOUND_MS 2000
#define MAX_MSG         (1536 * 1024)

enum scenario { SC_TRANSFER_S2C, SC_TRANSFER_C2S, SC_TRANSACT, SC_CONNECT, SC_DISCONNECT, SC_N };
static const char *const sc_names[] = {"transfer s->c", "transfer c->s", "transact", "connect",
                                       "disconnect"};
enum victim { V_SERVER, V_CLIENT, V_BROKER };
static const char *const v_names[] = {"server", "client", "broker"};

struct side {
        _Atomic int64_t noticed_ns; /* first sign the peer is gone */
        _Atomic int noticed_rc;
        _Atomic int ready;     /* connected (or listening) for the first time */
        _Atomic long messages; /* verified messages received */
        _Atomic int done;      /* transfer finished (all messages, verified) */
        _Atomic int bad;       /* a torn message or an unexpected status */
        char why[160];
};

struct shared {
        _Atomic int64_t kill_ns;
        _Atomic int stop;
        struct side side[2]; /* 0 server, 1 client */
        char name[256];
        uint64_t seed;
        int scenario;
        int nmsgs; /* transfer: messages to send */
};

static struct shared *sh;

static void fail_side(struct side *s, const char *fmt, int a, int b)
{
        if (atomic_exchange(&s->bad, 1) == 0)
                snprintf(s->why, sizeof s->why, fmt, a, b);
}

static void notice(struct side *s, int rc)
{
        int64_t zero = 0;

        if (atomic_compare_exchange_strong(&s->noticed_ns, &zero, rt_now_ns()))
                atomic_store(&s->noticed_rc, rc);
}

/* [u32 len][u32 seq][u32 fnv(payload)][payload] */
static size_t make_msg(unsigned char *buf, size_t len, uint32_t seq, uint64_t *rng)
{
        uint32_t h[3];

        if (len < sizeof h)
                len = sizeof h;
        for (size_t i = sizeof h; i < len; i++)
                buf[i] = (unsigned char)(seq * 7u + i);
        if (len > sizeof h + 8)
                buf[sizeof h + rt_rand(rng) % 8] ^= (unsigned char)rt_rand(rng);
        h[0] = (uint32_t)len;
        h[1] = seq;
        h[2] = rt_fnv(buf + sizeof h, len - sizeof h);
        memcpy(buf, h, sizeof h);
        return len;
}

/* 1 good, 0 torn; *seq gets its number */
static int check_msg(const unsigned char *buf, size_t n, uint32_t *seq)
{
        uint32_t h[3];

        if (n < sizeof h)
                return 0;
        memcpy(h, buf, sizeof h);
        *seq = h[1];
        return h[0] == n && h[2] == rt_fnv(buf + sizeof h, n - sizeof h);
}

static size_t pick_len(uint64_t *rng)
{
        switch (rt_rand(rng) % 4) {
        case 0:
                return 12 + rt_rand(rng) % 64;
        case 1:
                return 12 + rt_rand(rng) % 8192;
        default: /* larger than either ring: it streams */
                return 128 * 1024 + rt_rand(rng) % (MAX_MSG - 128 * 1024);
        }
}

static int peer_gone(int r)
{
        return r == NPIPE_EPIPE || r == NPIPE_ECLOSING || r == NPIPE_ENOTCONN ||
               r == NPIPE_EBADPIPE;
}

static unsigned char *g_buf, *g_out;

/* The reader half of a transfer; returns when the pipe ends (the writer
 * exits when told to stop).  Blocking reads: a message-mode read that
 * times out while a message streams in tears it (test_torn.c), so no read
 * of a message larger than the ring has a timeout here. */
static void reader(npipe_t *h, struct side *me, int expect)
{
        uint32_t next = 0, seq;

        for (;;) {
                size_t n = 0;
                int r = npipe_read(h, g_buf, MAX_MSG, &n);

                if (r == 0) {
                        if (!check_msg(g_buf, n, &seq) || seq != next) {
                                fail_side(me, "torn or lost message: %d bytes, seq %d", (int)n,
                                          (int)seq);
                                return;
                        }
                        next++;
                        atomic_fetch_add(&me->messages, 1);
                        if ((int)next == expect)
                                atomic_store(&me->done, 1);
                        continue;
                }
                if (r == NPIPE_EPIPE) {
                        notice(me, r);
                        return;
                }
                fail_side(me, "read: status %d after %d messages", r, (int)next);
                return;
        }
}

static void writer(npipe_t *h, struct side *me, uint64_t *rng, int count)
{
        for (int i = 0; i < count; i++) {
                size_t len = make_msg(g_buf, pick_len(rng), (uint32_t)i, rng), n = 0;
                int r = npipe_write(h, g_buf, len, &n);

                if (r != 0) {
                        if (r == NPIPE_ECLOSING || r == NPIPE_EPIPE)
                                notice(me, r);
                        else
                                fail_side(me, "write: status %d at message %d", r, i);
                        return;
                }
        }
        atomic_store(&me->done, 1);
        /* idle until told to stop, still watching the pipe */
        while (!atomic_load(&sh->stop)) {
                size_t n;
                int r = npipe_read_timeout(h, g_out, 64, &n, 50);

                if (r == NPIPE_EPIPE) {
                        notice(me, r);
                        return;
                }
        }
}

static void transact_client(npipe_t *h, struct side *me, uint64_t *rng)
{
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        uint32_t seq;

        npipe_set_mode(h, &m, NULL);
        for (uint32_t i = 0; !atomic_load(&sh->stop); i++) {
                size_t len = make_msg(g_buf, 12 + rt_rand(rng) % 20000, i, rng), n = 0;
                int r = npipe_transact(h, g_buf, len, g_out, MAX_MSG, &n);

                if (r != 0) {
                        if (peer_gone(r))
                                notice(me, r);
                        else
                                fail_side(me, "transact: status %d at %d", r, (int)i);
                        return;
                }
                if (!check_msg(g_out, n, &seq) || seq != i) {
                        fail_side(me, "torn reply: %d bytes, seq %d", (int)n, (int)seq);
                        return;
                }
                atomic_fetch_add(&me->messages, 1);
        }
}

/* Answers each request with a reply of its own (same seq). */
static int serve_requests(npipe_t *h, struct side *me, uint64_t *rng, int once)
{
        uint32_t seq;

        for (;;) {
                size_t n = 0;
                int r = npipe_read_timeout(h, g_buf, MAX_MSG, &n, 100);

                if (r == NPIPE_ETIMEDOUT) {
                        if (atomic_load(&sh->stop))
                                return 0;
                        continue;
                }
                if (r != 0)
                        return r;
                if (!check_msg(g_buf, n, &seq)) {
                        fail_side(me, "torn request: %d bytes", (int)n, 0);
                        return NPIPE_EPROTO;
                }
                atomic_fetch_add(&me->messages, 1);
                n = make_msg(g_out, 12 + rt_rand(rng) % 30000, seq, rng);
                r = npipe_write_timeout(h, g_out, n, &n, 2000);
                if (r != 0)
                        return r;
                if (once)
                        return 0;
        }
}

static npipe_t *make_server(int instances, npipe_t **second)
{
        struct npipe_server_opts o;
        npipe_t *h = NULL;

        int r;

        npipe_server_opts_init(&o);
        o.in_quota = o.out_quota = 4096;
        o.flags = NPIPE_READMODE_MESSAGE;
        r = npipe_create(sh->name, &o, &h);
        if (r == 0 && instances > 1)
                r = npipe_create(sh->name, &o, second);
        if (r != 0) {
                fprintf(stderr, "chaos server: npipe_create: %s\n", npipe_err_name(r));
                return NULL;
        }
        return h;
}

static int server_main(void)
{
        struct side *me = &sh->side[0];
        uint64_t rng = sh->seed ^ 0x1111;
        npipe_t *h, *spare = NULL;
        int r;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        h = make_server(2, &spare);
        if (h == NULL)
                return 10;
        atomic_store(&me->ready, 1);
        switch (sh->scenario) {
        case SC_TRANSFER_S2C:
        case SC_TRANSFER_C2S:
        case SC_TRANSACT:
                /* listening since its creation (CREATE-10): a client that
                 * came first makes the listen say so (CONNECT-02) */
                r = npipe_listen(h, 10000);
                if (r != 0 && r != NPIPE_EISCONN)
                        return 11;
                atomic_store(&me->ready, 2);
                if (sh->scenario == SC_TRANSFER_S2C)
                        writer(h, me, &rng, sh->nmsgs);
                else if (sh->scenario == SC_TRANSFER_C2S)
                        reader(h, me, sh->nmsgs);
                else if ((r = serve_requests(h, me, &rng, 0)) != 0 && r != NPIPE_EPROTO) {
                        if (peer_gone(r))
                                notice(me, r);
                        else
                                fail_side(me, "serve: status %d", r, 0);
                }
                break;
        default:
                /* connect / disconnect: one client after the other */
                while (!atomic_load(&sh->stop)) {
                        r = npipe_listen(h, 100);
                        if (r == NPIPE_ETIMEDOUT)
                                continue;
                        if (r != 0 && r != NPIPE_EISCONN && r != NPIPE_ECLOSING) {
                                fail_side(me, "listen: status %d", r, 0);
                                break;
                        }
                        atomic_store(&me->ready, 2);
                        if (r == 0 || r == NPIPE_EISCONN) {
                                if (sh->scenario == SC_CONNECT) {
                                        r = serve_requests(h, me, &rng, 1);
                                        if (r != 0 && !peer_gone(r) && r != NPIPE_EPROTO)
                                                fail_side(me, "serve: status %d", r, 0);
                                } else {
                                        int k = 1 + (int)(rt_rand(&rng) % 4);

                                        for (int i = 0; i < k; i++) {
                                                size_t len = make_msg(g_out, pick_len(&rng),
                                                                      (uint32_t)i, &rng);

                                                r = npipe_write_timeout(h, g_out, len, &len, 500);
                                                if (r != 0 && r != NPIPE_ETIMEDOUT && !peer_gone(r))
                                                        fail_side(me, "write: status %d", r, 0);
                                                if (r != 0)
                                                        break;
                                        }
                                }
                        }
                        r = npipe_disconnect(h);
                        if (r != 0)
                                fail_side(me, "disconnect: status %d", r, 0);
                }
                break;
        }
        while (!atomic_load(&sh->stop)) {
                /* the spare instance stays listening for the adoption check */
                size_t n;

                if (npipe_read_timeout(h, g_out, 64, &n, 50) == NPIPE_EPIPE)
                        notice(me, NPIPE_EPIPE);
        }
        (void)spare;
        return 0;
}

static int client_main(void)
{
        struct side *me = &sh->side[1];
        uint64_t rng = sh->seed ^ 0x2222;
        npipe_t *h = NULL;
        int r;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        switch (sh->scenario) {
        case SC_TRANSFER_S2C:
        case SC_TRANSFER_C2S:
        case SC_TRANSACT:
                r = npipe_open(sh->name, NPIPE_READ | NPIPE_WRITE, 10000, &h);
                if (r != 0) {
                        fprintf(stderr, "chaos client: npipe_open: %s\n", npipe_err_name(r));
                        return 20;
                }
                atomic_store(&me->ready, 2);
                if (sh->scenario == SC_TRANSFER_S2C) {
                        enum npipe_read_mode m = NPIPE_READ_MESSAGE;

                        npipe_set_mode(h, &m, NULL);
                        reader(h, me, sh->nmsgs);
                } else if (sh->scenario == SC_TRANSFER_C2S) {
                        writer(h, me, &rng, sh->nmsgs);
                } else {
                        transact_client(h, me, &rng);
                }
                break;
        default:
                atomic_store(&me->ready, 2);
                for (uint32_t i = 0; !atomic_load(&sh->stop); i++) {
                        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
                        uint32_t seq;
                        size_t n;

                        r = npipe_open(sh->name, NPIPE_READ | NPIPE_WRITE, 100, &h);
                        if (r == NPIPE_ETIMEDOUT || r == NPIPE_EBUSY)
                                continue;
                        if (r == NPIPE_ENOENT) {
                                notice(me, r); /* the server (and its name) died */
                                continue;
                        }
                        if (r != 0) {
                                fail_side(me, "open: status %d", r, 0);
                                break;
                        }
                        npipe_set_mode(h, &m, NULL);
                        if (sh->scenario == SC_CONNECT) {
                                n = make_msg(g_buf, 12 + rt_rand(&rng) % 5000, i, &rng);
                                r = npipe_write_timeout(h, g_buf, n, &n, 500);
                                if (r == 0)
                                        r = npipe_read_timeout(h, g_out, MAX_MSG, &n, 1000);
                                if (r == 0 && (!check_msg(g_out, n, &seq) || seq != i))
                                        fail_side(me, "torn reply: %d bytes", (int)n, 0);
                                else if (r != 0 && r != NPIPE_ETIMEDOUT && !peer_gone(r))
                                        fail_side(me, "request: status %d", r, 0);
                                else if (r == 0)
                                        atomic_fetch_add(&me->messages, 1);
                        } else {
                                /* read until cut off; every message whole */
                                for (;;) {
                                        /* blocking: see reader() */
                                        r = npipe_read(h, g_buf, MAX_MSG, &n);
                                        if (r == 0 && check_msg(g_buf, n, &seq)) {
                                                atomic_fetch_add(&me->messages, 1);
                                                continue;
                                        }
                                        if (r == 0)
                                                fail_side(me, "torn message: %d bytes", (int)n, 0);
                                        else if (r != NPIPE_ENOTCONN && r != NPIPE_EPIPE &&
                                                 r != NPIPE_ETIMEDOUT)
                                                fail_side(me, "read: status %d", r, 0);
                                        break;
                                }
                        }
                        npipe_close(h);
                        h = NULL;
                }
                break;
        }
        while (!atomic_load(&sh->stop)) {
                size_t n;

                if (h == NULL)
                        break;
                if (npipe_read_timeout(h, g_out, 64, &n, 50) == NPIPE_EPIPE)
                        notice(me, NPIPE_EPIPE);
        }
        return 0;
}

static pid_t start(int (*fn)(void))
{
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(fn());
        return pid;
}

/* Spin on the shared flag (each check is a poll() with a short timeout:
 * a wait with a deadline, not a sleep that orders anything). */
static int wait_flag(_Atomic int *flag, int want, int timeout_ms)
{
        int64_t end = rt_now_ms() + timeout_ms;

        while (atomic_load(flag) < want) {
                if (rt_now_ms() > end)
                        return 0;
                poll(NULL, 0, 1);
        }
        return 1;
}

struct totals {
        unsigned trials, by[SC_N][3], noticed, within_100ms, recovered, adopted;
        int64_t worst_ms, worst_by[SC_N][3];
        unsigned long messages;
};

/* A fresh client in its own process, one request: proves the server (or
 * an adopted instance) takes new clients. */
static int probe_main(void)
{
        int64_t end = rt_now_ms() + 3000;
        npipe_t *h;
        int r;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Right after a broker restart the name is missing until its
         * server has adopted its instances again: ENOENT for a moment. */
        do
                r = npipe_open(sh->name, NPIPE_READ | NPIPE_WRITE, 3000, &h);
        while (r == NPIPE_ENOENT && rt_now_ms() < end && poll(NULL, 0, 1) == 0);
        if (r != 0) {
                fprintf(stderr, "probe: open: %s\n", npipe_err_name(r));
                return 30;
        }
        npipe_close(h);
        return 0;
}

static void check_exit(pid_t pid, const char *who, const char *trial)
{
        int st = rt_wait_exit(pid, 5000);

        if (st == -1) {
                rt_kill_reap(pid);
                ck_abort_msg("%s: the %s hangs (did not exit within 5 s)", trial, who);
        }
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the %s exited with %#x", trial,
                      who, st);
}

static void one_trial(uint64_t *rng, int scenario, int victim, struct totals *tot)
{
        char dir[64], trial[128];
        pid_t srv, cli, broker = -1, probe;
        int64_t delay_us, notice_ms = -1;
        int survivor = victim == V_SERVER ? 1 : 0;

        memset(sh, 0, sizeof *sh);
        sh->seed = rt_rand(rng);
        sh->scenario = scenario;
        sh->nmsgs = 8 + (int)(rt_rand(rng) % 24);
        snprintf(trial, sizeof trial, "trial %u (%s, kill %s, seed %llu)", tot->trials,
                 sc_names[scenario], v_names[victim], (unsigned long long)sh->seed);
        snprintf(dir, sizeof dir, "/tmp/npipe-chaos-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        setenv("NPIPE_RUNTIME_DIR", dir, 1);
        rt_name(sh->name, sizeof sh->name, "chaos");

        srv = start(server_main);
        if (!wait_flag(&sh->side[0].ready, 1, 10000)) {
                rt_dump_stacks(srv, "server");
                ck_abort_msg("%s: server not ready (exit status %#x)", trial, rt_wait_exit(srv, 0));
        }
        cli = start(client_main);
        if (!wait_flag(&sh->side[1].ready, 2, 10000)) {
                rt_dump_stacks(cli, "client");
                ck_abort_msg("%s: client not ready (exit status %#x)", trial, rt_wait_exit(cli, 0));
        }
        broker = rt_broker_pid(dir);
        ck_assert_msg(broker > 0, "%s: no broker", trial);

        /* the point of the kill: from at once to well into the transfer */
        delay_us = (int64_t)(rt_rand(rng) % 4 == 0 ? rt_rand(rng) % 2000 : rt_rand(rng) % 150000);
        {
                struct timespec ts = {0, (long)delay_us * 1000};

                nanosleep(&ts, NULL); /* picks the kill point; orders nothing */
        }
        atomic_store(&sh->kill_ns, rt_now_ns());
        ck_assert_int_eq(kill(victim == V_SERVER   ? srv
                              : victim == V_CLIENT ? cli
                                                   : broker,
                              SIGKILL),
                         0);

        if (victim == V_BROKER) {
                int st = rt_wait_exit(broker, 5000);
                int64_t end;

                ck_assert_msg(st != -1, "%s: broker did not die", trial);
                /* The connection does not notice: the transfer completes. */
                if (scenario != SC_TRANSACT) {
                        struct side *rd = &sh->side[scenario == SC_TRANSFER_S2C ? 1 : 0];

                        if (!wait_flag(&rd->done, 1, 20000)) {
                                rt_dump_stacks(srv, "server");
                                rt_dump_stacks(cli, "client");
                                ck_abort_msg("%s: transfer stalled after the broker died (%ld of "
                                             "%d; server: %s %d, client: %s %d)",
                                             trial, (long)atomic_load(&rd->messages), sh->nmsgs,
                                             sh->side[0].why, atomic_load(&sh->side[0].noticed_rc),
                                             sh->side[1].why, atomic_load(&sh->side[1].noticed_rc));
                        }
                } else {
                        long before = atomic_load(&sh->side[1].messages);

                        end = rt_now_ms() + 5000;
                        while (atomic_load(&sh->side[1].messages) < before + 5 && rt_now_ms() < end)
                                poll(NULL, 0, 1);
                        ck_assert_msg(atomic_load(&sh->side[1].messages) >= before + 5,
                                      "%s: transactions stopped after the broker died", trial);
                }
                for (int i = 0; i < 2; i++)
                        ck_assert_msg(!atomic_load(&sh->side[i].bad) &&
                                          atomic_load(&sh->side[i].noticed_ns) == 0,
                                      "%s: the %s saw the broker die: %s (status %d)", trial,
                                      i ? "client" : "server", sh->side[i].why,
                                      atomic_load(&sh->side[i].noticed_rc));
                /* A new broker adopted the server's spare listening instance. */
                probe = start(probe_main);
                check_exit(probe, "new client (adopted instance)", trial);
                tot->adopted++;
                /* Peer death is still noticed, through the new broker. */
                atomic_store(&sh->kill_ns, rt_now_ns());
                kill(cli, SIGKILL);
                rt_wait_exit(cli, 5000);
                cli = -1;
                end = rt_now_ms() + NOTICE_BOUND_MS;
                while (atomic_load(&sh->side[0].noticed_ns) == 0 && rt_now_ms() < end)
                        poll(NULL, 0, 1);
                ck_assert_msg(atomic_load(&sh->side[0].noticed_ns) != 0,
                              "%s: the server did not notice its client's death after the "
                              "broker restart",
                              trial);
                survivor = 0;
        } else {
                pid_t dead = victim == V_SERVER ? srv : cli;
                struct side *sv = &sh->side[survivor];
                int64_t end = rt_now_ms() + NOTICE_BOUND_MS;

                rt_wait_exit(dead, 5000);
                if (victim == V_SERVER)
                        srv = -1;
                else
                        cli = -1;
                if (scenario <= SC_TRANSACT || victim == V_SERVER) {
                        /* the survivor must hear of it */
                        while (atomic_load(&sv->noticed_ns) == 0 && !atomic_load(&sv->bad) &&
                               rt_now_ms() < end)
                                poll(NULL, 0, 1);
                        ck_assert_msg(!atomic_load(&sv->bad), "%s: %s", trial, sv->why);
                        ck_assert_msg(atomic_load(&sv->noticed_ns) != 0,
                                      "%s: the %s did not notice within %d ms", trial,
                                      survivor ? "client" : "server", NOTICE_BOUND_MS);
                } else {
                        /* a server that lost its client takes the next one */
                        probe = start(probe_main);
                        check_exit(probe, "next client", trial);
                        tot->recovered++;
                }
        }
        if (atomic_load(&sh->side[survivor].noticed_ns) != 0) {
                int rc = atomic_load(&sh->side[survivor].noticed_rc);

                notice_ms =
                    (atomic_load(&sh->side[survivor].noticed_ns) - atomic_load(&sh->kill_ns)) /
                    1000000;
                ck_assert_msg(rc == NPIPE_EPIPE || rc == NPIPE_ECLOSING || rc == NPIPE_ENOTCONN ||
                                  rc == NPIPE_ENOENT || rc == NPIPE_EBADPIPE,
                              "%s: wrong status %s", trial, npipe_err_name(rc));
                /* reads drain, then EPIPE; a new write ECLOSING; a message
                 * cut mid-write EPIPE */
                if (notice_ms < 0)
                        notice_ms = 0;
                tot->noticed++;
                if (notice_ms <= 100)
                        tot->within_100ms++;
                if (notice_ms > tot->worst_ms)
                        tot->worst_ms = notice_ms;
                if (notice_ms > tot->worst_by[scenario][victim])
                        tot->worst_by[scenario][victim] = notice_ms;
        }
        atomic_store(&sh->stop, 1);
        if (srv > 0)
                check_exit(srv, "server", trial);
        if (cli > 0)
                check_exit(cli, "client", trial);
        for (int i = 0; i < 2; i++) {
                ck_assert_msg(!atomic_load(&sh->side[i].bad), "%s: %s: %s", trial,
                              i ? "client" : "server", sh->side[i].why);
                tot->messages += (unsigned long)atomic_load(&sh->side[i].messages);
        }
        /* the trial's broker (the first, or the one started after a kill) */
        broker = rt_broker_pid(dir);
        if (broker > 0) {
                kill(broker, SIGTERM);
                rt_wait_exit(broker, 5000);
        }
        rt_rmtree(dir);
        tot->by[scenario][victim]++;
        tot->trials++;
}

static void run(int broker_only)
{
        uint64_t seed =
            rt_seed(broker_only ? "chaos (broker)" : "chaos (peers)", "NPIPE_CHAOS_SEED");
        uint64_t rng = seed;
        int64_t end = rt_now_ms() + 1000 * (int64_t)rt_env_ulong("NPIPE_CHAOS_SECONDS", 8);
        struct totals tot;

        memset(&tot, 0, sizeof tot);
        sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(sh, MAP_FAILED);
        g_buf = malloc(MAX_MSG);
        g_out = malloc(MAX_MSG);
        ck_assert(g_buf != NULL && g_out != NULL);
        setenv("NPIPE_BROKER_IDLE", "2", 1);
        do {
                int scenario, victim;

                if (broker_only) {
                        scenario = (int)(rt_rand(&rng) % 3); /* live connections */
                        victim = V_BROKER;
                } else {
                        scenario = (int)(rt_rand(&rng) % SC_N);
                        victim = (int)(rt_rand(&rng) % 2);
                }
                one_trial(&rng, scenario, victim, &tot);
        } while (rt_now_ms() < end);
        fprintf(stderr, "chaos (%s): %u trials, %lu messages verified; ",
                broker_only ? "broker" : "peers", tot.trials, tot.messages);
        for (int s = 0; s < SC_N; s++)
                for (int v = 0; v < 3; v++)
                        if (tot.by[s][v])
                                fprintf(stderr, "%s/kill %s: %u (worst %lld ms); ", sc_names[s],
                                        v_names[v], tot.by[s][v], (long long)tot.worst_by[s][v]);
        fprintf(stderr,
                "deaths noticed: %u (%u within 100 ms, worst %lld ms); servers that took the "
                "next client: %u; adoptions checked: %u\n",
                tot.noticed, tot.within_100ms, (long long)tot.worst_ms, tot.recovered, tot.adopted);
}

/* covers: issue 4 item 3 (SIGKILL of a client or a server at random
 * points: right error, bounded time, no torn message, no hang) */
START_TEST(test_chaos_peers)
{
        run(0);
}
END_TEST

/* covers: issue 4 item 4 (SIGKILL of the broker: connections go on, a new
 * broker adopts the live ends, peer death is still noticed) */
START_TEST(test_chaos_broker)
{
        run(1);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("chaos");
        TCase *tc = tcase_create("sigkill");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, (double)rt_env_ulong("NPIPE_CHAOS_SECONDS", 8) + 120);
        tcase_add_test(tc, test_chaos_peers);
        tcase_add_test(tc, test_chaos_broker);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
