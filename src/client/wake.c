/*
 * wake.c - waking and sleeping: the wake rules of ring_layout.h (a sleeper
 * announces itself, a waker wakes only what sleeps) and the bounded spin
 * before a sleep.
 */
#include "client/async.h"
#include "os/lockorder.h"
#include "client/cancel.h"
#include "client/client.h"
#include "client/internal.h"
#include "core/name.h"
#include "core/ring.h"
#include "os/os.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* After publishing data or a message: wake the peer's readers if any sleep. */
void np_wake_reader(struct conn *c)
{
        np_async_note_local(c);
        if ((atomic_load_explicit(&c->peer->rsleepers, memory_order_seq_cst) |
             atomic_load_explicit(&c->peer->rpending, memory_order_seq_cst)) == 0 ||
            !np_wake_due(&c->peer->rsleep, atomic_load(&c->own->seq), &c->rgen_woken))
                return;
        np_futex_wake(&c->own->seq, 1, INT_MAX);
        atomic_store_explicit(&c->woke_ns, np_now_ns(), memory_order_relaxed);
}

/* After consuming: wake the peer's writers only once we passed the mark
 * the first of them needs, not after every message. */
void np_wake_writer(struct conn *c)
{
        np_async_note_local(c);
        if ((atomic_load_explicit(&c->peer->wsleepers, memory_order_seq_cst) |
             atomic_load_explicit(&c->peer->wpending, memory_order_seq_cst)) == 0 ||
            c->cons.rbytes < atomic_load_explicit(&c->peer->wake_rbytes, memory_order_acquire))
                return;
        if (!np_wake_due(&c->peer->wsleep, atomic_load(&c->own->seq), &c->wgen_woken))
                return;
        np_futex_wake(&c->own->seq, 1, INT_MAX);
        atomic_store_explicit(&c->woke_ns, np_now_ns(), memory_order_relaxed);
}

static void wwait_publish(struct conn *c)
{
        uint64_t min = UINT64_MAX;
        for (struct np_wwait *w = c->wwaits; w; w = w->next)
                if (w->need < min)
                        min = w->need;
        atomic_store_explicit(&c->own->wake_rbytes, min, memory_order_seq_cst);
}

void np_wwait_arm(struct conn *c, struct np_wwait *w, uint64_t need)
{
        np_lock(&c->wlock, NP_LK_CONN);
        w->need = need;
        w->next = c->wwaits;
        c->wwaits = w;
        wwait_publish(c);
        np_unlock(&c->wlock, NP_LK_CONN);
}

void np_wwait_disarm(struct conn *c, struct np_wwait *w)
{
        np_lock(&c->wlock, NP_LK_CONN);
        for (struct np_wwait **pp = &c->wwaits; *pp; pp = &(*pp)->next)
                if (*pp == w) {
                        *pp = w->next;
                        break;
                }
        wwait_publish(c);
        np_unlock(&c->wlock, NP_LK_CONN);
}

/* Wake our own threads sleeping on the peer's seq, until none is left
 * (they re-check c->gone): the peer's seq will not change for them. */
void np_wake_own_sleepers(struct conn *c)
{
        np_async_kick(c);
        for (int i = 0; atomic_load(&c->local_sleepers) != 0; i++) {
                np_futex_wake(&c->peer->seq, 1, INT_MAX);
                if (i < 100) {
                        sched_yield();
                } else {
                        struct timespec ts = {0, 100000};
                        nanosleep(&ts, NULL);
                }
                if (i > 100000)
                        break; /* a thread that never returns: give up, never hang here */
        }
}

/* Sleep until the peer's seq moves from `seq` (or our own threads wake us).
 * need == 0: we wait for the peer's data or state (a reader); otherwise we
 * wait for the peer to have consumed `need` bytes (a writer), and it wakes
 * us only then.  Spins briefly first while the peer is not asleep itself:
 * on another CPU it is likely to answer sooner than a futex round trip. */
int np_conn_wait(struct conn *c, uint32_t seq, uint64_t need, int64_t deadline)
{
        return np_conn_wait_for(c, seq, need != 0, need, deadline);
}

/* Is a spin for the peer worth it?  Spinning pays only while the peer
 * can run meanwhile: on our own CPU it cannot make progress until we stop
 * (measured: a 64-byte round trip of 26 us with both ends on one CPU, 5 us
 * without the spin there).  A peer that sleeps will not answer before a
 * wake; one we woke within the spin's length is on its way (a 1 MiB write
 * into a 64 KiB quota hands over like this at every message: measured
 * 7.35 sleeps per message without this, the peer's wake not yet seen as
 * such).  Returns when to stop spinning, or 0 for no spin. */
static int64_t spin_end(struct conn *c)
{
        np_note_cpu(c);
        uint32_t mine = atomic_load_explicit(&c->own->cpu, memory_order_relaxed);
        uint32_t theirs = atomic_load_explicit(&c->peer->cpu, memory_order_relaxed);
        int peer_runs = atomic_load_explicit(&c->peer->rsleepers, memory_order_relaxed) == 0 &&
                        atomic_load_explicit(&c->peer->wsleepers, memory_order_relaxed) == 0;
        int64_t now = 0;
        if (!peer_runs) {
                int64_t w = atomic_load_explicit(&c->woke_ns, memory_order_relaxed);
                now = np_now_ns();
                peer_runs = w != 0 && now - w < SPIN_NS;
        }
        if ((mine != 0 && theirs == mine) || !peer_runs)
                return 0;
        return (now ? now : np_now_ns()) + SPIN_NS;
}

/* The spin itself: up to the end spin_end gives, until `word` leaves
 * `val`, or `extra` leaves `extra_val`, or `progress` leaves `seen` (the
 * last two optional). */
static int spin_until_moved(struct conn *c, const _Atomic uint32_t *word, uint32_t val,
                            const _Atomic uint32_t *extra, uint32_t extra_val,
                            const _Atomic uint64_t *progress, uint64_t seen)
{
        int64_t end = spin_end(c);
        if (!end)
                return 0;
        do {
                for (int i = 0; i < 64; i++) {
                        if (atomic_load_explicit(word, memory_order_acquire) != val ||
                            (extra && atomic_load_explicit(extra, memory_order_acquire) !=
                                          extra_val) ||
                            (progress &&
                             atomic_load_explicit(progress, memory_order_acquire) != seen))
                                return 1;
                        np_cpu_relax();
                }
        } while (np_now_ns() < end);
        return 0;
}

int np_conn_spin(struct conn *c, const _Atomic uint32_t *word, uint32_t val,
                 const _Atomic uint32_t *extra, uint32_t extra_val,
                 const _Atomic uint64_t *progress, uint64_t seen)
{
        return spin_until_moved(c, word, val, extra, extra_val, progress, seen);
}

int np_conn_spin_progress(struct conn *c, uint32_t seq, const _Atomic uint64_t *progress,
                          uint64_t seen)
{
        return spin_until_moved(c, &c->peer->seq, seq, NULL, 0, progress, seen);
}

/* As np_conn_wait; `writer` says we wait for the consumer, `need` is then
 * the mark (0: any consumption, also of empty messages, which move no
 * bytes). */
int np_conn_wait_for(struct conn *c, uint32_t seq, int writer, uint64_t need,
                     int64_t deadline)
{
        return np_conn_wait_spun(c, seq, writer, need, deadline, 0);
}

int np_conn_wait_spun(struct conn *c, uint32_t seq, int writer, uint64_t need, int64_t deadline,
                      int spun)
{
        if (!spun && np_conn_spin(c, &c->peer->seq, seq, NULL, 0, NULL, 0))
                return 0;
        struct np_wwait ww;
        _Atomic uint32_t *count = writer ? &c->own->wsleepers : &c->own->rsleepers;
        if (writer)
                np_wwait_arm(c, &ww, need);
        atomic_fetch_add_explicit(&c->local_sleepers, 1, memory_order_seq_cst);
        atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
        np_sleep_announce(writer ? &c->own->wsleep : &c->own->rsleep, seq);
        int r = 0;
        if (np_synccancel_arm(&c->peer->seq, 1)) {
                /* CancelSynchronousIo came first: do not sleep */
        } else if (atomic_load(&c->gone) == 0 &&
                   atomic_load_explicit(&c->peer->seq, memory_order_seq_cst) == seq) {
                /* a sleeping caller leaves no deferred kick behind: the
                 * peer may be waiting for one of our overlapped reads to
                 * drain another pipe */
                np_async_flush();
                int64_t rem = np_remaining(deadline);
                if (rem == 0)
                        r = NPIPE_ETIMEDOUT;
                else if (np_futex_wait(&c->peer->seq, seq, 1, rem) == -ETIMEDOUT)
                        r = NPIPE_ETIMEDOUT;
        }
        if (np_synccancel_disarm())
                r = NPIPE_ECANCELED;
        atomic_fetch_sub_explicit(count, 1, memory_order_seq_cst);
        atomic_fetch_sub_explicit(&c->local_sleepers, 1, memory_order_seq_cst);
        if (writer)
                np_wwait_disarm(c, &ww);
        return r;
}
