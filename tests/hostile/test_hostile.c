/*
 * test_hostile.c - a victim process against npipe-hostile (issue 4, item 1).
 *
 * The victim is an ordinary libnpipe server or client; its peer is
 * npipe-hostile, which scribbles on its own segment (all the victim can
 * see of it) for a bounded time while exchanging real messages.  The
 * victim reads, writes, peeks, transacts, flushes and queries at random
 * the whole time and afterwards, and checks that:
 *
 *   - it never crashes (under make check-asan, never touches memory
 *     outside its mappings or heap blocks either);
 *   - every call returns a status it is allowed to return, and never more
 *     bytes than its buffer;
 *   - no call outlives its timeout by more than a second, and those
 *     without one (transact, flush) end at the latest shortly after the
 *     hostile peer does;
 *   - once the pipe is broken (a corrupt peer, or the peer's death) it
 *     stays broken: reads give NPIPE_EPIPE, writes NPIPE_ECLOSING /
 *     NPIPE_EPIPE, within a bounded time of the peer's exit.
 *
 * NPIPE_HOSTILE_SECONDS (default 2) sets the length of each run;
 * NPIPE_HOSTILE_SEED replays one.
 *
 * covers: issue 4 item 1 (hostile peer), CLOSE-09 (peer death seen)
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "rt.h"

#define SLACK_MS 1500

struct stats {
        unsigned long ops, ok, broken, timeouts, other, episodes;
        int64_t worst_overshoot_ms;
};

static pid_t spawn_hostile(const char *role, const char *name, double seconds, uint64_t seed,
                           int *ready)
{
        const char *tool = getenv("NPIPE_HOSTILE_TOOL");
        int p[2] = {-1, -1};
        pid_t pid;

        ck_assert_msg(tool != NULL && *tool != '\0', "NPIPE_HOSTILE_TOOL is not set");
        if (ready != NULL)
                ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char a1[300], a2[64], a3[64], a4[32];

                snprintf(a1, sizeof a1, "--%s=%s", role, name);
                snprintf(a2, sizeof a2, "--seconds=%.3f", seconds);
                snprintf(a3, sizeof a3, "--seed=%llu", (unsigned long long)seed);
                if (ready != NULL) {
                        int fd = dup(p[1]); /* without O_CLOEXEC */

                        snprintf(a4, sizeof a4, "--ready-fd=%d", fd);
                } else {
                        snprintf(a4, sizeof a4, "--seed=%llu", (unsigned long long)seed);
                }
                execl(tool, tool, a1, a2, a3, a4, (char *)NULL);
                _exit(127);
        }
        if (ready != NULL) {
                close(p[1]);
                *ready = p[0];
        }
        return pid;
}

static int is_broken(int r)
{
        return r == NPIPE_EPIPE || r == NPIPE_ECLOSING || r == NPIPE_ENOTCONN;
}

/* One random operation; checks its result and its duration. */
static int victim_op(npipe_t *h, uint64_t *rng, struct stats *st, int64_t peer_end_ms)
{
        static unsigned char buf[200000], out[70000];
        size_t n = 0, len = (size_t)(rt_rand(rng) % sizeof buf);
        int64_t t0 = rt_now_ms(), limit;
        unsigned op = (unsigned)(rt_rand(rng) % 16);
        int r, tmo = (int)(rt_rand(rng) % 30);
        struct npipe_peek pk;
        struct npipe_info info;
        enum npipe_read_mode m;

        limit = tmo;
        switch (op) {
        case 0 ... 4:
                r = npipe_read_timeout(h, buf, len, &n, tmo);
                ck_assert_msg(r == 0 || r == NPIPE_EMOREDATA || r == NPIPE_ETIMEDOUT ||
                                  is_broken(r),
                              "read: %s", npipe_err_name(r));
                ck_assert_uint_le(n, len);
                break;
        case 5 ... 8:
                len = rt_rand(rng) % 2 ? len : len % 512;
                r = npipe_write_timeout(h, buf, len, &n, tmo);
                ck_assert_msg(r == 0 || r == NPIPE_ETIMEDOUT || is_broken(r), "write: %s",
                              npipe_err_name(r));
                ck_assert_uint_le(n, len);
                break;
        case 9:
        case 10:
                memset(&pk, 0, sizeof pk);
                r = npipe_peek(h, buf, len, &pk);
                ck_assert_msg(r == 0 || is_broken(r), "peek: %s", npipe_err_name(r));
                if (r == 0)
                        ck_assert_uint_le(pk.copied, len);
                limit = 0;
                break;
        case 11:
                /* transact needs message read mode; it has no timeout: it
                 * ends with a reply or with the pipe */
                m = NPIPE_READ_MESSAGE;
                npipe_set_mode(h, &m, NULL);
                r = npipe_transact(h, buf, len % 1024, out, rt_rand(rng) % sizeof out, &n);
                ck_assert_msg(r == 0 || r == NPIPE_EMOREDATA || r == NPIPE_EBUSY ||
                                  r == NPIPE_EBADPIPE || is_broken(r),
                              "transact: %s", npipe_err_name(r));
                ck_assert_uint_le(n, sizeof out);
                limit = peer_end_ms - t0 > 0 ? peer_end_ms - t0 : 0;
                break;
        case 12:
                if (rt_rand(rng) % 8 != 0) {
                        r = 0;
                        limit = 0;
                        break;
                }
                r = npipe_flush(h); /* no timeout either */
                ck_assert_msg(r == 0 || is_broken(r), "flush: %s", npipe_err_name(r));
                limit = peer_end_ms - t0 > 0 ? peer_end_ms - t0 : 0;
                break;
        case 13:
                r = npipe_get_info(h, &info);
                ck_assert_msg(r == 0 || is_broken(r), "get_info: %s", npipe_err_name(r));
                limit = 0;
                break;
        default:
                m = rt_rand(rng) % 2 ? NPIPE_READ_MESSAGE : NPIPE_READ_BYTE;
                r = npipe_set_mode(h, &m, NULL);
                ck_assert_msg(r == 0 || is_broken(r), "set_mode: %s", npipe_err_name(r));
                limit = 0;
                break;
        }
        {
                int64_t over = rt_now_ms() - t0 - limit;

                if (over > st->worst_overshoot_ms)
                        st->worst_overshoot_ms = over;
                ck_assert_msg(over <= SLACK_MS, "operation %u took %lld ms past its limit", op,
                              (long long)over);
        }
        st->ops++;
        if (r == 0 || r == NPIPE_EMOREDATA)
                st->ok++;
        else if (r == NPIPE_ETIMEDOUT)
                st->timeouts++;
        else if (is_broken(r))
                st->broken++;
        else
                st->other++;
        return r;
}

/* After the peer is gone: reads and writes fail, promptly, for good. */
static void expect_broken(npipe_t *h)
{
        unsigned char b[64];
        size_t n;
        int64_t end = rt_now_ms() + 3000;
        int r;

        /* drain what the peer left (it may have written before dying) */
        do {
                r = npipe_read_timeout(h, b, sizeof b, &n, 100);
                ck_assert_msg(rt_now_ms() < end, "the peer's death went unnoticed");
        } while (r == 0 || r == NPIPE_EMOREDATA || r == NPIPE_ETIMEDOUT);
        ck_assert_msg(r == NPIPE_EPIPE || r == NPIPE_ENOTCONN, "read after death: %s",
                      npipe_err_name(r));
        for (int i = 0; i < 3; i++) {
                ck_assert_msg(is_broken(npipe_read_timeout(h, b, sizeof b, &n, 100)),
                              "broken pipe came back");
                r = npipe_write_timeout(h, b, sizeof b, &n, 100);
                ck_assert_msg(r == NPIPE_ECLOSING || r == NPIPE_EPIPE || r == NPIPE_ENOTCONN,
                              "write after death: %s", npipe_err_name(r));
        }
}

static void report(const char *what, const struct stats *st)
{
        fprintf(stderr,
                "%s: %lu connections, %lu victim operations: %lu ok, %lu timed out, %lu broken, "
                "%lu other; worst overshoot %lld ms\n",
                what, st->episodes, st->ops, st->ok, st->timeouts, st->broken, st->other,
                (long long)st->worst_overshoot_ms);
}

static void run(int victim_server)
{
        double seconds = (double)rt_env_ulong("NPIPE_HOSTILE_SECONDS", 2);
        uint64_t seed =
            rt_seed(victim_server ? "hostile client" : "hostile server", "NPIPE_HOSTILE_SEED");
        uint64_t rng = seed;
        struct stats st = {0};
        char name[256];
        npipe_t *h = NULL;
        pid_t pid;
        int64_t peer_end;
        int status = -1, exited = 0, connected = 1;

        rt_private_runtime();
        rt_name(name, sizeof name, "hostile");
        if (victim_server) {
                struct npipe_server_opts o;

                npipe_server_opts_init(&o);
                o.in_quota = o.out_quota = 8192;
                ck_assert_int_eq(npipe_create(name, &o, &h), 0);
                pid = spawn_hostile("client", name, seconds, seed, NULL);
                /* listening since its creation (CREATE-10): a client that
                 * came first makes the listen say so (CONNECT-02), and one
                 * that came and went already says that (CONNECT-06: the
                 * loop below finds the pipe broken and listens again) */
                int lr = npipe_listen(h, 10000);
                ck_assert_msg(lr == 0 || lr == NPIPE_EISCONN || lr == NPIPE_ECLOSING, "listen: %s",
                              npipe_err_name(lr));
        } else {
                int ready;

                pid = spawn_hostile("server", name, seconds, seed, &ready);
                ck_assert_int_eq(rt_read_byte(ready, 10000), '1');
                close(ready);
                ck_assert_int_eq(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 10000, &h), 0);
        }
        peer_end = rt_now_ms() + (int64_t)(seconds * 1000) + 3000;
        st.episodes = 1;
        while (!exited) {
                int r = victim_op(h, &rng, &st, peer_end);

                status = rt_wait_exit(pid, 0);
                if (status != -1) {
                        exited = 1;
                        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                                      "npipe-hostile failed: %#x", status);
                        break;
                }
                ck_assert_msg(rt_now_ms() < peer_end + 10000, "npipe-hostile did not stop");
                if (!is_broken(r) || rt_rand(&rng) % 4 != 0)
                        continue;
                /* Broken: connect again, as a real program would. */
                if (victim_server) {
                        npipe_disconnect(h);
                        do {
                                r = npipe_listen(h, 100);
                                status = rt_wait_exit(pid, 0);
                        } while (r == NPIPE_ETIMEDOUT && status == -1);
                        if (r == NPIPE_EISCONN || r == NPIPE_ECLOSING)
                                r = 0; /* CONNECT-02: it came between two listens;
                                        * CONNECT-06: and went (broken, later
                                        * listened again) */
                        if (status != -1) {
                                exited = 1;
                                connected = 0;
                                break;
                        }
                        ck_assert_msg(r == 0, "listen: %s", npipe_err_name(r));
                } else {
                        npipe_close(h);
                        h = NULL;
                        do {
                                r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 100, &h);
                                status = rt_wait_exit(pid, 0);
                        } while (r < 0 && status == -1);
                        if (r < 0) {
                                exited = 1;
                                connected = 0;
                                break;
                        }
                }
                st.episodes++;
        }
        if (status != -1)
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                              "npipe-hostile failed: %#x", status);
        else
                ck_assert_msg(WIFEXITED(status = rt_wait_exit(pid, 10000)) &&
                                  WEXITSTATUS(status) == 0,
                              "npipe-hostile failed: %#x", status);
        if (connected)
                expect_broken(h);
        report(victim_server ? "victim server" : "victim client", &st);
        if (h != NULL)
                ck_assert_int_eq(npipe_close(h), 0);
}

/* covers: issue 4 item 1 (a hostile client cannot harm the server) */
START_TEST(test_hostile_client)
{
        run(1);
}
END_TEST

/* covers: issue 4 item 1 (a hostile server cannot harm the client) */
START_TEST(test_hostile_server)
{
        run(0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("hostile");
        TCase *tc = tcase_create("peer");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, (double)rt_env_ulong("NPIPE_HOSTILE_SECONDS", 2) + 60);
        tcase_add_test(tc, test_hostile_client);
        tcase_add_test(tc, test_hostile_server);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
