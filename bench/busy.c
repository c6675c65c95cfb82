/*
 * busy.c - oversubscription: N pairs of processes, each pair doing 64 B
 * round trips as fast as it can, all N at once, on a machine with fewer
 * CPUs than processes.  A transport whose waiters spin while their peer is
 * descheduled, or whose wakes go astray, shows here: in the total, and in
 * the slowest pair.
 *
 * Each pair is a driver process and an echo peer (its child), set up and
 * warmed up first; when every pair is ready the coordinator opens a common
 * window; each driver counts the round trips that complete inside it
 * (every echo checked).  Rows (size = number of pairs):
 *   busy_total_per_s        round trips per second, all pairs together
 *   busy_median_pair_per_s  the median pair
 *   busy_min_pair_per_s     the slowest pair
 *   busy_max_pair_per_s     the fastest pair
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUSY_MAX 64
#define BUSY_SIZE 64

struct busy_page {
        _Alignas(64) _Atomic uint32_t ready;
        _Alignas(64) _Atomic uint32_t go;
        int64_t end_ns;
        struct {
                uint64_t count;
                int status;
                char note[120];
        } pair[BUSY_MAX];
};

static void fwait(_Atomic uint32_t *w, uint32_t v)
{
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void fwake(_Atomic uint32_t *w)
{
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

struct echo_ctx {
        struct xport *x;
};

/* The peer: echo every 64 B message; anything else ends the run. */
static int busy_echo(void *arg)
{
        struct echo_ctx *ec = arg;
        struct xport *x = ec->x;
        if (x->ops->attach(x, 1) < 0)
                return 1;
        uint8_t buf[BUSY_SIZE + 64];
        size_t len;
        int r;
        for (;;) {
                if ((r = x->ops->recv(x, buf, sizeof(buf), BUSY_SIZE, &len)) < 0)
                        return 1;
                if (len != BUSY_SIZE)
                        break;
                if ((r = x->ops->send(x, buf, len)) < 0)
                        return 1;
        }
        x->ops->detach(x, 1);
        return 0;
}

static void pair_fail(struct busy_page *bp, int k, const char *what, int r)
{
        snprintf(bp->pair[k].note, sizeof(bp->pair[k].note), "pair %d: %s: %d", k, what, r);
        bp->pair[k].status = 1;
}

static int busy_pair(struct busy_page *bp, int k, const struct xport_ops *ops)
{
        struct xport x = {.ops = ops, .max_msg = BUSY_SIZE, .fd = {-1, -1, -1, -1}};
        int r = ops->prepare(&x);
        if (r < 0) {
                pair_fail(bp, k, "prepare", r);
                atomic_fetch_add(&bp->ready, 1);
                fwake(&bp->ready);
                return 1;
        }
        struct echo_ctx ec = {&x};
        pid_t peer = spawn_peer(busy_echo, &ec);
        if ((r = ops->attach(&x, 0)) < 0) {
                pair_fail(bp, k, "attach", r);
                atomic_fetch_add(&bp->ready, 1);
                fwake(&bp->ready);
                kill(peer, SIGKILL);
                wait_peer(peer);
                return 1;
        }
        uint8_t buf[BUSY_SIZE + 64];
        size_t len;
        uint64_t i = 0, warm = g_opts.smoke ? 4 : 200;
        for (; i < warm && r >= 0; i++) {
                if ((r = ops->send(&x, pattern_msg(i), BUSY_SIZE)) < 0 ||
                    (r = ops->recv(&x, buf, sizeof(buf), BUSY_SIZE, &len)) < 0)
                        pair_fail(bp, k, "warm-up", r);
                else if (pattern_check(i, buf, len, BUSY_SIZE) < 0) {
                        pair_fail(bp, k, "warm-up echo differs", 0);
                        r = -1;
                }
        }
        atomic_fetch_add(&bp->ready, 1);
        fwake(&bp->ready);
        while (!atomic_load(&bp->go))
                fwait(&bp->go, 0);
        int64_t end = bp->end_ns;
        uint64_t count = 0;
        while (r >= 0) {
                if ((r = ops->send(&x, pattern_msg(i), BUSY_SIZE)) < 0) {
                        pair_fail(bp, k, "send", r);
                        break;
                }
                if ((r = ops->recv(&x, buf, sizeof(buf), BUSY_SIZE, &len)) < 0) {
                        pair_fail(bp, k, "recv", r);
                        break;
                }
                if (pattern_check(i, buf, len, BUSY_SIZE) < 0) {
                        char what[64];
                        snprintf(what, sizeof(what), "echo %llu differs (length %zu)",
                                 (unsigned long long)i, len);
                        pair_fail(bp, k, what, 0);
                        break;
                }
                i++;
                if (now_ns() > end)
                        break;
                count++;
        }
        bp->pair[k].count = count;
        /* the end: a message of another size */
        if (r >= 0)
                ops->send(&x, buf, 1);
        else
                kill(peer, SIGKILL); /* our own child, stuck in its read */
        int st = wait_peer(peer);
        ops->detach(&x, 0);
        if (st != 0 && !bp->pair[k].status)
                pair_fail(bp, k, "echo peer exit status", st);
        return bp->pair[k].status;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

void bench_busy(const struct xport_ops *ops, size_t npairs)
{
        if (npairs < 1 || npairs > BUSY_MAX)
                return;
        struct busy_page *bp = mmap(NULL, sizeof(*bp), PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (bp == MAP_FAILED)
                fail("mmap: %s", strerror(errno));
        int n = (int)npairs;
        pid_t pids[BUSY_MAX];
        fflush(NULL);
        for (int k = 0; k < n; k++) {
                pids[k] = fork();
                if (pids[k] < 0)
                        fail("fork: %s", strerror(errno));
                if (pids[k] == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        _exit(busy_pair(bp, k, ops));
                }
        }
        uint32_t rd;
        while ((rd = atomic_load(&bp->ready)) < (uint32_t)n)
                fwait(&bp->ready, rd);
        double window = g_opts.smoke ? g_opts.seconds : (g_opts.seconds > 0.25 ? g_opts.seconds
                                                                               : 0.25);
        bp->end_ns = now_ns() + (int64_t)(window * 1e9);
        atomic_store(&bp->go, 1);
        fwake(&bp->go);
        int bad = 0;
        for (int k = 0; k < n; k++) {
                int st = wait_peer(pids[k]);
                if (st != 0 || bp->pair[k].status) {
                        if (!bad++)
                                say("npipe-bench: busy %s x%d: %s (status %d)", ops->name, n,
                                    bp->pair[k].note[0] ? bp->pair[k].note : "failed", st);
                }
        }
        if (bad) {
                g_errors++;
                return;
        }
        uint64_t c[BUSY_MAX], total = 0;
        for (int k = 0; k < n; k++) {
                c[k] = bp->pair[k].count;
                total += c[k];
        }
        qsort(c, (size_t)n, sizeof(c[0]), cmp_u64);
        double med = n & 1 ? (double)c[n / 2] : ((double)c[n / 2 - 1] + (double)c[n / 2]) / 2;
        out_metric(ops->name, (long)n, "busy_total_per_s", (double)total / window);
        out_metric(ops->name, (long)n, "busy_median_pair_per_s", med / window);
        out_metric(ops->name, (long)n, "busy_min_pair_per_s", (double)c[0] / window);
        out_metric(ops->name, (long)n, "busy_max_pair_per_s", (double)c[n - 1] / window);
        if (g_opts.verbose)
                say("  busy   %-11s %3d pairs  total %9.0f rt/s  median pair %8.0f  slowest %8.0f",
                    ops->name, n, (double)total / window, med / window, (double)c[0] / window);
        munmap(bp, sizeof(*bp));
}
