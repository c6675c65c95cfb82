/*
 * bare_ring.c - the reference for the small-message rate: a minimal
 * single-producer single-consumer ring in shared memory between the two
 * processes, with none of NT's semantics (no handles, no broker, no quotas,
 * no message modes, no locks, no readers' turn), and no libnpipe.  What npipe message mode costs above this row is what its
 * semantics cost; what this row costs is the ring idea itself on this
 * machine (the cache lines a message moves between two CPUs, and the wakes).
 *
 * Layout: one MAP_SHARED anonymous mapping made before fork, two rings (one
 * each way), each
 *
 *   line 0  head   bytes the producer has published (free-running u32;
 *                  the consumer's futex word), and the CPU the producer last
 *                  ran on
 *   line 1  tail   bytes the consumer has released (the producer's futex
 *                  word), and the CPU the consumer last ran on
 *   line 2  rwait  the consumer announces a sleep on head, and the head
 *                  it needs (rneed)
 *   line 3  wwait  the producer announces a sleep on tail, and the tail it
 *                  needs (wneed)
 *   then    128 KiB of data (npipe's default ring size)
 *
 * The ring carries a byte stream: a 4-byte length, then the message,
 * wrapping at the end of the data area; a message larger than the ring
 * flows through it in 16 KiB steps, each published as it is written, so
 * both copies overlap.  Each side caches the other's position and reads
 * the shared line only when the cached one says "full" or "empty".
 *
 * Waiting: spin up to BR_SPIN_NS re-reading the other's position (only
 * while the other side last ran on another CPU: on ours it cannot make
 * progress while we spin; npipe has the same rule), then announce
 * (rwait/wwait = 1, with the position needed: the rest of what is being
 * read or written, at most half the ring), fence, re-check, futex_wait on
 * the position.  The other side, after publishing, fences and checks the
 * announcement; it wakes only when the position needed is reached and it
 * takes the announcement (exchange to 0): one wake per sleep, whatever the
 * number of messages published meanwhile, and a large message moves in
 * half-rings, not in one wake per step.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BR_SIZE (128u * 1024)   /* data bytes per direction (power of two) */
#define BR_STEP (16u * 1024)    /* publish at least every this many bytes */
#define BR_SPIN_NS 10000        /* spin this long before sleeping */

struct br_ring {
        _Alignas(64) _Atomic uint32_t head;
        _Atomic int32_t pcpu;
        _Alignas(64) _Atomic uint32_t tail;
        _Atomic int32_t ccpu;
        _Alignas(64) _Atomic uint32_t rwait;
        _Atomic uint32_t rneed;
        _Alignas(64) _Atomic uint32_t wwait;
        _Atomic uint32_t wneed;
        _Alignas(64) uint8_t data[BR_SIZE];
};

struct br_side {
        struct br_ring *map; /* both rings */
        struct br_ring *tx, *rx;
        uint32_t tx_head;    /* what we have written (published or not) */
        uint32_t tx_pub;     /* what we have published */
        uint32_t tx_tail;    /* cached tail of tx */
        uint32_t rx_tail;    /* what we have consumed (released or not) */
        uint32_t rx_rel;     /* what we have released */
        uint32_t rx_head;    /* cached head of rx */
        int tx_cpu, rx_cpu;  /* the CPU we last published as producer, as consumer */
};

/* Publish the CPU we run on (sched_getcpu reads rseq: no system call),
 * on the line we write anyway; stored only when it changed. */
static inline int br_cpu(int *cached, _Atomic int32_t *mine)
{
        int c = sched_getcpu();
        if (c != *cached) {
                *cached = c;
                atomic_store_explicit(mine, c, memory_order_relaxed);
        }
        return c;
}

static void br_futex_wait(_Atomic uint32_t *w, uint32_t v)
{
        /* shared futex: the word is in a mapping both processes share */
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void br_futex_wake(_Atomic uint32_t *w)
{
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static inline void br_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
}

static int64_t br_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int reached(uint32_t v, uint32_t target)
{
        return (int32_t)(v - target) >= 0;
}

/* Publish a position and wake the other side if it announced a sleep
 * and the position it needs is reached. */
static void br_publish(_Atomic uint32_t *pos, uint32_t v, _Atomic uint32_t *announce,
                       _Atomic uint32_t *need)
{
        atomic_store_explicit(pos, v, memory_order_release);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(announce, memory_order_relaxed) &&
            reached(v, atomic_load_explicit(need, memory_order_relaxed)) &&
            atomic_exchange_explicit(announce, 0, memory_order_acq_rel))
                br_futex_wake(pos);
}

/* Wait until *pos reaches `target`; returns its value then.  Spins first
 * when the other side last ran on another CPU than `me`. */
static uint32_t br_wait(_Atomic uint32_t *pos, uint32_t target, _Atomic uint32_t *announce,
                        _Atomic uint32_t *need, _Atomic int32_t *other_cpu, int me)
{
        uint32_t v;
        int64_t end = 0;
        int spin = atomic_load_explicit(other_cpu, memory_order_relaxed) != me;
        for (unsigned i = 0; spin; i++) {
                v = atomic_load_explicit(pos, memory_order_acquire);
                if (reached(v, target))
                        return v;
                br_pause();
                if ((i & 31) == 31) {
                        int64_t t = br_now();
                        if (!end)
                                end = t + BR_SPIN_NS;
                        else if (t >= end)
                                break;
                }
        }
        atomic_store_explicit(need, target, memory_order_relaxed);
        atomic_store_explicit(announce, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        for (;;) {
                v = atomic_load_explicit(pos, memory_order_acquire);
                if (reached(v, target)) {
                        atomic_exchange_explicit(announce, 0, memory_order_acq_rel);
                        return v;
                }
                /* returns at once when *pos is no longer v; the waker wakes
                 * us only once target is reached (the announcement stays) */
                br_futex_wait(pos, v);
        }
}

static void br_put(struct br_side *s, const void *src, size_t n)
{
        struct br_ring *r = s->tx;
        const uint8_t *p = src;
        while (n) {
                uint32_t space = BR_SIZE - (s->tx_head - s->tx_tail);
                if (space == 0) {
                        s->tx_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
                        space = BR_SIZE - (s->tx_head - s->tx_tail);
                }
                if (space == 0) {
                        /* full: let the reader see everything, then wait for
                         * room for the rest (at most half the ring) */
                        if (s->tx_pub != s->tx_head) {
                                s->tx_pub = s->tx_head;
                                br_publish(&r->head, s->tx_pub, &r->rwait, &r->rneed);
                        }
                        uint32_t want = n < BR_SIZE / 2 ? (uint32_t)n : BR_SIZE / 2;
                        s->tx_tail = br_wait(&r->tail, s->tx_head + want - BR_SIZE, &r->wwait,
                                             &r->wneed, &r->ccpu, br_cpu(&s->tx_cpu, &r->pcpu));
                        continue;
                }
                uint32_t k = n < space ? (uint32_t)n : space;
                if (k > BR_STEP)
                        k = BR_STEP;
                uint32_t off = s->tx_head & (BR_SIZE - 1);
                uint32_t first = BR_SIZE - off < k ? BR_SIZE - off : k;
                memcpy(r->data + off, p, first);
                if (k > first)
                        memcpy(r->data, p + first, k - first);
                s->tx_head += k;
                p += k;
                n -= k;
                if (s->tx_head - s->tx_pub >= BR_STEP) {
                        s->tx_pub = s->tx_head;
                        br_publish(&r->head, s->tx_pub, &r->rwait, &r->rneed);
                }
        }
}

static void br_get(struct br_side *s, void *dst, size_t n)
{
        struct br_ring *r = s->rx;
        uint8_t *p = dst;
        while (n) {
                uint32_t avail = s->rx_head - s->rx_tail;
                if (avail == 0) {
                        s->rx_head = atomic_load_explicit(&r->head, memory_order_acquire);
                        avail = s->rx_head - s->rx_tail;
                }
                if (avail == 0) {
                        if (s->rx_rel != s->rx_tail) {
                                s->rx_rel = s->rx_tail;
                                br_publish(&r->tail, s->rx_rel, &r->wwait, &r->wneed);
                        }
                        uint32_t want = n < BR_SIZE / 2 ? (uint32_t)n : BR_SIZE / 2;
                        s->rx_head = br_wait(&r->head, s->rx_tail + want, &r->rwait, &r->rneed,
                                             &r->pcpu, br_cpu(&s->rx_cpu, &r->ccpu));
                        continue;
                }
                uint32_t k = n < avail ? (uint32_t)n : avail;
                if (k > BR_STEP)
                        k = BR_STEP;
                uint32_t off = s->rx_tail & (BR_SIZE - 1);
                uint32_t first = BR_SIZE - off < k ? BR_SIZE - off : k;
                memcpy(p, r->data + off, first);
                if (k > first)
                        memcpy(p + first, r->data, k - first);
                s->rx_tail += k;
                p += k;
                n -= k;
                if (s->rx_tail - s->rx_rel >= BR_STEP) {
                        s->rx_rel = s->rx_tail;
                        br_publish(&r->tail, s->rx_rel, &r->wwait, &r->wneed);
                }
        }
}

static int br_prepare(struct xport *x)
{
        void *m = mmap(NULL, 2 * sizeof(struct br_ring), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                return -errno;
        x->h = m; /* zero-filled: both rings empty */
        struct br_ring *r = m;
        for (int i = 0; i < 2; i++) {
                atomic_store(&r[i].pcpu, -1);
                atomic_store(&r[i].ccpu, -1);
        }
        snprintf(x->note, sizeof(x->note),
                 "SPSC byte ring in shared memory, 128 KiB each way, 4-byte length per message, "
                 "spin %d us (peer on another CPU) then futex; no libnpipe",
                 BR_SPIN_NS / 1000);
        return 0;
}

static int br_attach(struct xport *x, int side)
{
        struct br_side *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->map = x->h;
        s->tx = &s->map[side];
        s->rx = &s->map[!side];
        s->tx_cpu = s->rx_cpu = -2;
        x->h = s;
        return 0;
}

static int br_send(struct xport *x, const void *buf, size_t len)
{
        struct br_side *s = x->h;
        if (len > UINT32_MAX)
                return -EMSGSIZE;
        uint32_t hdr = (uint32_t)len;
        br_cpu(&s->tx_cpu, &s->tx->pcpu);
        br_put(s, &hdr, sizeof(hdr));
        br_put(s, buf, len);
        if (s->tx_pub != s->tx_head) {
                s->tx_pub = s->tx_head;
                br_publish(&s->tx->head, s->tx_pub, &s->tx->rwait, &s->tx->rneed);
        }
        return 0;
}

static int br_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        struct br_side *s = x->h;
        uint32_t hdr;
        br_cpu(&s->rx_cpu, &s->rx->ccpu);
        br_get(s, &hdr, sizeof(hdr));
        if (hdr > cap)
                return -EMSGSIZE;
        br_get(s, buf, hdr);
        if (s->rx_rel != s->rx_tail) {
                s->rx_rel = s->rx_tail;
                br_publish(&s->rx->tail, s->rx_rel, &s->rx->wwait, &s->rx->wneed);
        }
        *len = hdr;
        return 0;
}

static void br_detach(struct xport *x, int side)
{
        struct br_side *s = x->h;
        if (!s)
                return;
        munmap(s->map, 2 * sizeof(struct br_ring));
        free(s);
        x->h = NULL;
}

const struct xport_ops xp_bare_ring = {
        .name = "bare-ring",
        .label = "bare SPSC ring",
        .zero_ok = 1,
        .prepare = br_prepare,
        .attach = br_attach,
        .send = br_send,
        .recv = br_recv,
        .detach = br_detach,
};
