/*
 * measure.c - round-trip latency and one-way streaming over one transport.
 *
 * Both run the same way: prepare the transport, fork the peer, attach both
 * ends, warm up (connections, page faults, caches, the spin heuristics),
 * meet at a barrier, then measure.  getrusage of each process is taken at
 * the barrier and at its end, so CPU time and voluntary context switches
 * cover the measured messages only, in both processes, all threads.
 *
 * The driver tells the peer how many messages there will be through the
 * shared page (`total`), written before the last message is sent: the peer
 * reads it after each message, so a time-bounded run needs no in-band stop
 * marker (an empty message has no room for one).
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern struct shared *g_shared;

struct peer_ctx {
        struct xport *x;
        size_t size;
        uint64_t warm;
};

static uint64_t total_get(void)
{
        return __atomic_load_n(&g_shared->total, __ATOMIC_SEQ_CST);
}

static void total_set(uint64_t v)
{
        __atomic_store_n(&g_shared->total, v, __ATOMIC_SEQ_CST);
}

static void peer_fail(const char *what, int r)
{
        snprintf(g_shared->peer_note, sizeof(g_shared->peer_note), "%s: %d (%s)", what, r,
                 r < 0 && r > -4096 ? strerror(-r) : "npipe status");
        g_shared->peer_status = 1;
}

static uint64_t warm_count(size_t size)
{
        if (g_opts.smoke)
                return 4;
        return size >= 65536 ? 50 : 500;
}

/* Time checks every `mask`+1 messages: clock reads stay out of the way of
 * small messages and never delay the end of a run of large ones. */
static uint64_t clock_mask(size_t size)
{
        return size >= 4096 ? 0 : 63;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* ---- round trip ----------------------------------------------------------------------------- */

static int rtt_peer(void *arg)
{
        struct peer_ctx *pc = arg;
        struct xport *x = pc->x;
        int r = x->ops->attach(x, 1);
        if (r < 0) {
                peer_fail("attach", r);
                shared_barrier(g_shared, 1);
                return 1;
        }
        uint8_t *buf = malloc(pc->size + 64);
        size_t len;
        for (uint64_t i = 0; i < pc->warm; i++) {
                if ((r = x->ops->recv(x, buf, pc->size + 64, pc->size, &len)) < 0 ||
                    (r = x->ops->send(x, buf, len)) < 0) {
                        peer_fail("warm-up echo", r);
                        break;
                }
        }
        shared_barrier(g_shared, 1);
        struct usage u0, u1;
        usage_now(&u0);
        uint64_t i = pc->warm;
        while (r >= 0 && i < total_get()) {
                r = x->ops->recv(x, buf, pc->size + 64, pc->size, &len);
                if (r < 0) {
                        peer_fail("echo recv", r);
                        break;
                }
                if (pattern_check(i, buf, len, pc->size) < 0) {
                        g_shared->peer_errors++;
                        peer_fail("content", 0);
                }
                r = x->ops->send(x, buf, len);
                if (r < 0)
                        peer_fail("echo send", r);
                i++;
        }
        usage_now(&u1);
        usage_sub(&u1, &u0);
        g_shared->peer_usage = u1;
        g_shared->peer_count = i - pc->warm;
        x->ops->detach(x, 1);
        free(buf);
        return g_shared->peer_status;
}

void measure_rtt(const struct xport_ops *ops, size_t size)
{
        if (size == 0 && !ops->zero_ok)
                return;
        if (ops->win32) {
                measure_win32(ops, size, "rtt");
                return;
        }
        struct xport x = {.ops = ops, .max_msg = size, .fd = {-1, -1, -1, -1}};
        shared_reset(g_shared);
        int r = ops->prepare(&x);
        if (r < 0)
                fail("%s: prepare: %d", ops->name, r);
        if (x.note[0]) {
                char n[200];
                snprintf(n, sizeof(n), "%s (%zu B)", x.note, size);
                if (x.chunk || strstr(x.note, "raised"))
                        out_note(ops->name, n);
        }
        struct peer_ctx pc = {&x, size, warm_count(size)};
        pid_t pid = spawn_peer(rtt_peer, &pc);
        r = ops->attach(&x, 0);
        if (r < 0)
                fail("%s: attach: %d", ops->name, r);

        uint8_t *buf = malloc(size + 64);
        size_t len;
        for (uint64_t i = 0; i < pc.warm; i++) {
                if ((r = ops->send(&x, pattern_msg(i), size)) < 0 ||
                    (r = ops->recv(&x, buf, size + 64, size, &len)) < 0)
                        fail("%s %zu B: warm-up: %d", ops->name, size, r);
                if (pattern_check(i, buf, len, size) < 0)
                        fail("%s %zu B: warm-up echo differs from what was sent", ops->name,
                             size);
        }
        shared_barrier(g_shared, 0);
        if (g_shared->peer_status)
                fail("%s: peer: %s", ops->name, g_shared->peer_note);

        size_t max_samples = g_opts.smoke ? 200 : 2000000;
        int64_t *lat = malloc(max_samples * sizeof(*lat));
        if (!lat || !buf)
                fail("out of memory");
        struct usage u0, u1;
        place_begin(getpid(), pid);
        usage_now(&u0);
        int64_t start = now_ns(), end = start + (int64_t)(g_opts.seconds * 1e9);
        size_t n = 0;
        for (uint64_t i = pc.warm;; i++) {
                int last = n + 1 == max_samples || (g_opts.smoke && n + 1 == 50);
                if (!last && (n & clock_mask(size)) == 0 && now_ns() >= end)
                        last = 1;
                if (last)
                        total_set(i + 1);
                int64_t t0 = now_ns();
                if ((r = ops->send(&x, pattern_msg(i), size)) < 0)
                        fail("%s %zu B: send: %d", ops->name, size, r);
                if ((r = ops->recv(&x, buf, size + 64, size, &len)) < 0)
                        fail("%s %zu B: recv: %d", ops->name, size, r);
                int64_t t1 = now_ns();
                lat[n++] = t1 - t0;
                if (pattern_check(i, buf, len, size) < 0) {
                        g_errors++;
                        fail("%s %zu B: echo of message %llu differs (length %zu)", ops->name,
                             size, (unsigned long long)i, len);
                }
                if (last)
                        break;
        }
        usage_now(&u1);
        place_end();
        int st = wait_peer(pid);
        ops->detach(&x, 0);
        free(buf);
        if (st != 0 || g_shared->peer_errors)
                fail("%s %zu B: peer failed (%d): %s", ops->name, size, st,
                     g_shared->peer_note);
        usage_sub(&u1, &u0);
        qsort(lat, n, sizeof(*lat), cmp_i64);
        double med = (double)lat[n / 2] / 1000.0;
        double p99 = (double)lat[(n * 99) / 100] / 1000.0;
        double p999 = (double)lat[(n * 999) / 1000] / 1000.0;
        double cpu = (double)(u1.cpu_ns + g_shared->peer_usage.cpu_ns) / 1000.0 / (double)n;
        double vcsw = (double)(u1.nvcsw + g_shared->peer_usage.nvcsw) / (double)n;
        out_metric(ops->name, (long)size, "rtt_median_us", med);
        out_metric(ops->name, (long)size, "rtt_p99_us", p99);
        out_metric(ops->name, (long)size, "rtt_p999_us", p999);
        out_metric(ops->name, (long)size, "rtt_cpu_us", cpu);
        out_metric(ops->name, (long)size, "rtt_vcsw", vcsw);
        out_metric(ops->name, (long)size, "rtt_samples", (double)n);
        if (g_opts.verbose)
                say("  rtt    %-11s %8zu B  median %8.2f us  p99 %8.2f  p99.9 %8.2f  (%zu)",
                    ops->name, size, med, p99, p999, n);
        free(lat);
}

/* ---- streaming ------------------------------------------------------------------------------ */

static int stream_peer(void *arg)
{
        struct peer_ctx *pc = arg;
        struct xport *x = pc->x;
        int r = x->ops->attach(x, 1);
        if (r < 0) {
                peer_fail("attach", r);
                shared_barrier(g_shared, 1);
                return 1;
        }
        uint8_t *buf = malloc(pc->size + 64);
        size_t len;
        uint64_t i = 0;
        for (; i < pc->warm; i++) {
                if ((r = x->ops->recv(x, buf, pc->size + 64, pc->size, &len)) < 0) {
                        peer_fail("warm-up recv", r);
                        break;
                }
                if (pattern_check(i, buf, len, pc->size) < 0) {
                        g_shared->peer_errors++;
                        peer_fail("warm-up content", 0);
                }
        }
        shared_barrier(g_shared, 1);
        struct usage u0, u1;
        usage_now(&u0);
        while (r >= 0 && i < total_get()) {
                r = x->ops->recv(x, buf, pc->size + 64, pc->size, &len);
                if (r < 0) {
                        peer_fail("recv", r);
                        break;
                }
                /* every message, every byte: length and content */
                if (pattern_check(i, buf, len, pc->size) < 0) {
                        if (g_shared->peer_errors++ == 0) {
                                char what[64];
                                snprintf(what, sizeof(what), "message %llu (length %zu)",
                                         (unsigned long long)i, len);
                                peer_fail(what, 0);
                        }
                }
                i++;
        }
        g_shared->peer_end_ns = now_ns();
        usage_now(&u1);
        usage_sub(&u1, &u0);
        g_shared->peer_usage = u1;
        g_shared->peer_count = i - pc->warm;
        /* stay until the driver has seen the end: closing first would
         * turn the writer's last wait into an error on some transports */
        shared_barrier(g_shared, 1);
        x->ops->detach(x, 1);
        free(buf);
        return g_shared->peer_status;
}

void measure_stream(const struct xport_ops *ops, size_t size)
{
        if (size == 0 && !ops->zero_ok)
                return;
        if (ops->win32) {
                measure_win32(ops, size, "stream");
                return;
        }
        struct xport x = {.ops = ops, .max_msg = size, .fd = {-1, -1, -1, -1}};
        shared_reset(g_shared);
        int r = ops->prepare(&x);
        if (r < 0)
                fail("%s: prepare: %d", ops->name, r);
        struct peer_ctx pc = {&x, size, warm_count(size) * 4};
        pid_t pid = spawn_peer(stream_peer, &pc);
        r = ops->attach(&x, 0);
        if (r < 0)
                fail("%s: attach: %d", ops->name, r);
        uint64_t i = 0;
        for (; i < pc.warm; i++)
                if ((r = ops->send(&x, pattern_msg(i), size)) < 0)
                        fail("%s %zu B: warm-up send: %d", ops->name, size, r);
        shared_barrier(g_shared, 0);
        if (g_shared->peer_status)
                fail("%s: peer: %s", ops->name, g_shared->peer_note);

        struct usage u0, u1;
        place_begin(getpid(), pid);
        usage_now(&u0);
        int64_t start = now_ns(), end = start + (int64_t)(g_opts.seconds * 1e9);
        uint64_t mask = clock_mask(size), sent = 0;
        /* The smoke run wraps the ring many times for small messages
         * (20,000 x 64 B against a 128 KiB ring) and fills it with empty
         * messages (20,000 chunk headers > 8,192 per ring): ring-full waits
         * are where wake-up bugs live. */
        uint64_t max = UINT64_MAX;
        if (g_opts.smoke)
                max = size <= 64 ? 20000 : 200;
        for (;; i++, sent++) {
                int last = sent + 1 >= max;
                if (!last && (sent & mask) == 0 && now_ns() >= end)
                        last = 1;
                if (last)
                        total_set(i + 1);
                if ((r = ops->send(&x, pattern_msg(i), size)) < 0)
                        fail("%s %zu B: send: %d", ops->name, size, r);
                if (last)
                        break;
        }
        sent++;
        usage_now(&u1);
        shared_barrier(g_shared, 0); /* the reader is done */
        place_end();
        int st = wait_peer(pid);
        ops->detach(&x, 0);
        if (st != 0 || g_shared->peer_errors)
                fail("%s %zu B: reader failed (%d, %d bad messages): %s", ops->name, size, st,
                     g_shared->peer_errors, g_shared->peer_note);
        if (g_shared->peer_count != sent)
                fail("%s %zu B: %llu messages sent, %llu read", ops->name, size,
                     (unsigned long long)sent, (unsigned long long)g_shared->peer_count);
        usage_sub(&u1, &u0);
        double secs = (double)(g_shared->peer_end_ns - start) / 1e9;
        double rate = (double)sent / secs;
        double cpu_ns = (double)(u1.cpu_ns + g_shared->peer_usage.cpu_ns);
        out_metric(ops->name, (long)size, "stream_msgs_per_s", rate);
        out_metric(ops->name, (long)size, "stream_mb_per_s", rate * (double)size / 1e6);
        out_metric(ops->name, (long)size, "stream_cpu_us", cpu_ns / 1000.0 / (double)sent);
        out_metric(ops->name, (long)size, "stream_vcsw",
                   (double)(u1.nvcsw + g_shared->peer_usage.nvcsw) / (double)sent);
        out_metric(ops->name, (long)size, "stream_cores", cpu_ns / 1e9 / secs);
        out_metric(ops->name, (long)size, "stream_messages", (double)sent);
        if (g_opts.verbose)
                say("  stream %-11s %8zu B  %10.0f msg/s  %9.1f MB/s  (%llu)", ops->name, size,
                    rate, rate * (double)size / 1e6, (unsigned long long)sent);
}
