/*
 * async.c - the completion engine: operations that stay pending without a
 * thread blocked in each (contract in async.h).
 *
 * Pending operations live in *shards*.  Each shard has one completion
 * thread that waits with FUTEX_WAITV on every futex word its operations
 * depend on at once: the peer segment's seq for reads and writes, the
 * handle's event word for listens, and the shard's own kick word for
 * changes made in this process (a new operation, a cancel, a disconnect).
 * FUTEX_WAITV takes at most 128 words, so a shard serves at most
 * SHARD_HANDLES handles; a further shard (and thread) is made when all are
 * full.  The cost is one thread per 120 busy handles, never one per
 * operation, and no file descriptor at all.
 *
 * While an operation waits on a connection it counts in that end's
 * `rpending` (reads) or `wpending` with its mark (writes), so the peer
 * knows to FUTEX_WAKE: the protocol of a blocked synchronous call
 * (ring_layout.h), with counts of their own so that the peer does not
 * take a pending operation for a sleeping thread.
 *
 * Order: operations of one handle sit in one shard in issue order.  Reads
 * complete strictly in order (ORDER-01; a zero-length read ahead of a real
 * one is satisfied first without consuming, ORDER-03); writes queue their
 * data at once and complete in order (QUOTA-06).
 */
#include "os/lockorder.h"
#include "client/engine.h"
#include "client/client.h"
#include "client/internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE 128
#endif

#define SHARD_HANDLES 120 /* FUTEX_WAITV_MAX is 128: room for the kick word */
#define WAIT_MAX 128


/* Operations pending in this process, all shards: the completion of a
 * local peer's operations inside the satisfying call (np_async_settle)
 * costs nothing while there are none. */

/* Per thread: inside a pass over a shard (its lock held, stepping), so a
 * step's own wakes must not start another pass; a completion thread (it
 * never waits for completions in flight: they may be its own); a local
 * change that may have satisfied a local peer's pending operation. */
static __thread int tl_in_pass;
static __thread int tl_shard_thread;
static __thread int tl_in_settle; /* a callback's own calls do not nest passes */
/* np_async_on_start: what the caller wants done once its operation is
 * pending and findable, before anything can complete it. */
static __thread void (*tl_start_fn)(void *);
static __thread void *tl_start_arg;

void np_async_on_start(void (*fn)(void *), void *arg)
{
        tl_start_fn = fn;
        tl_start_arg = arg;
}

/* np_async_hooks' pend: the caller's record of the operation is made
 * only when it pends (an operation that completes at once needs none). */
static __thread void *(*tl_pend_fn)(void *);
static __thread void *tl_pend_arg;

void np_async_hooks(void *(*pend)(void *), void (*start)(void *), void *arg)
{
        tl_pend_fn = pend;
        tl_pend_arg = arg;
        tl_start_fn = start;
        tl_start_arg = arg;
}

void *np_async_pend_ctx(void *ctx)
{
        if (!tl_pend_fn)
                return ctx;
        void *(*fn)(void *) = tl_pend_fn;
        tl_pend_fn = NULL;
        return fn(tl_pend_arg);
}

void np_async_started(void)
{
        if (tl_start_fn) {
                void (*fn)(void *) = tl_start_fn;
                tl_start_fn = NULL;
                fn(tl_start_arg);
        }
}

static pthread_mutex_t shards_lock = PTHREAD_MUTEX_INITIALIZER;
static struct np_shard *shards;
static pid_t shards_pid;
/* `shards` as published for np_async_flush, which takes no lock: a
 * blocking call may flush holding h->rd or h->wr, ranked after
 * shards_lock.  Shards are added at the head, complete before they are
 * published, and never freed. */
static struct np_shard *_Atomic shards_pub;

struct futex_waitv_ {
        uint64_t val;
        uint64_t uaddr;
        uint32_t flags;
        uint32_t reserved;
};

void np_async_atfork(int phase)
{
        if (phase == 0) {
                pthread_mutex_lock(&shards_lock);
        } else if (phase == 1) {
                pthread_mutex_unlock(&shards_lock);
        } else {
                /* the completion threads are the parent's */
                pthread_mutex_init(&shards_lock, NULL);
                shards = NULL;
                atomic_store(&shards_pub, NULL);
                shards_pid = np_self_pid();
        }
}

static void kick(struct np_shard *s)
{
        atomic_fetch_add(&s->kick, 1);
        np_futex_wake(&s->kick, 0, 1);
}

static void engine_kick(struct conn *c)
{
        /* We do not know which shard serves c: kick them all (rare: only on
         * disconnect, close and peer death). */
        (void)c;
        np_lock(&shards_lock, NP_LK_SHARDS);
        if (shards_pid == np_self_pid())
                for (struct np_shard *s = shards; s; s = s->next)
                        kick(s);
        np_unlock(&shards_lock, NP_LK_SHARDS);
}

static void unlink_op(struct np_shard *s, struct op *o)
{
        if (o->prev)
                o->prev->next = o->next;
        else
                s->head = o->next;
        if (o->next)
                o->next->prev = o->prev;
        else
                s->tail = o->prev;
        o->next = o->prev = NULL;
}

/* Counts of completions in flight (a handle's, a shard's): one leaves,
 * and the last wakes whoever drains the count.  A drainer marks the word
 * before it sleeps, so the last one out makes a system call only when
 * somebody waits: a close or a cancel is rare, and every completion
 * leaves both counts (two futex wakes that woke nobody per operation). */
#define COUNT_DRAINER 0x80000000u

static void count_leave(_Atomic uint32_t *n)
{
        uint32_t v = atomic_fetch_sub(n, 1);
        if ((v & ~COUNT_DRAINER) == 1 && (v & COUNT_DRAINER)) {
                /* the mark goes with the wake (if nobody entered since:
                 * else the next last one out wakes them) */
                uint32_t marked = COUNT_DRAINER;
                atomic_compare_exchange_strong(n, &marked, 0);
                np_futex_wake(n, 0, INT_MAX);
        }
}

static void count_drain(_Atomic uint32_t *n)
{
        for (uint32_t v; ((v = atomic_load(n)) & ~COUNT_DRAINER) != 0;) {
                /* marked in the same word the leavers decrement: a leave
                 * that came first fails the exchange, and we look again */
                if (!(v & COUNT_DRAINER) &&
                    !atomic_compare_exchange_strong(n, &v, v | COUNT_DRAINER))
                        continue;
                np_futex_wait(n, v | COUNT_DRAINER, 0, -1);
        }
}

/* What a pending operation counts in on its end (ring_layout.h): the
 * pending counts, or for a peer of segment version 2, which knows only
 * the sleepers, those. */
static _Atomic uint32_t *op_count(const struct op *o)
{
        struct np_seg_hdr *own = o->c->own;
        int v2 = o->c->prod.bump_always;
        if (o->kind == OP_WRITE)
                return v2 ? &own->wsleepers : &own->wpending;
        return v2 ? &own->rsleepers : &own->rpending;
}

/* What an operation counts in its end's async_n. */
static uint64_t op_unit(const struct op *o)
{
        return o->kind == OP_READ || o->kind == OP_TRANSACT ? NP_ASYNC_READ : NP_ASYNC_OP;
}

/*
 * NT completes a handle's reads in the order they were issued (ORDER-01):
 * once a later read is complete, so is every earlier one.  Steps keep the
 * data in order (an earlier read still pending blocks later ones), but two
 * passes on two threads - the completion thread, a settle, a waiter that
 * helps - may each take one read out and run its callback at the same
 * time: the later read's OVERLAPPED and event could be set first.  So a
 * read taken out for completion gets a ticket, and calls back when the
 * handle's turn reaches it.  Tickets are handed out under the shard's
 * lock, so a pass's own reads are in turn order and a pass never waits
 * for a later one; a callback writes the caller's memory and returns, so
 * the wait is short.  No wait at all in the usual case.
 */
static void read_turn_wait(struct npipe *h, uint32_t ticket)
{
        for (int spins = 0;; spins++) {
                uint32_t t = atomic_load_explicit(&h->rturn, memory_order_acquire);
                if (t == ticket)
                        return;
                if (spins < 100) {
                        np_cpu_relax();
                        continue;
                }
                atomic_fetch_add(&h->rturn_waiters, 1);
                if (atomic_load(&h->rturn) == t)
                        np_futex_wait(&h->rturn, t, 0, -1);
                atomic_fetch_sub(&h->rturn_waiters, 1);
        }
}

static void read_turn_pass(struct npipe *h)
{
        atomic_fetch_add(&h->rturn, 1);
        if (atomic_load(&h->rturn_waiters))
                np_futex_wake(&h->rturn, 0, INT_MAX);
}

/* Release what an operation holds; run its callback; free it. */
void np_op_finish(struct op *o, int status, size_t bytes)
{
        int ticketed = o->ticketed;
        if (ticketed)
                read_turn_wait(o->h, o->ticket);
        if (o->wanting && o->c)
                atomic_fetch_sub(&o->c->own->rwant, o->wanting);
        if (o->room.queued) {
                /* a write that ended while it waited for room (a
                 * disconnect, the peer's close): the next one's turn */
                np_lock(&o->h->wr, NP_LK_WR);
                np_room_leave(o->c, &o->room);
                np_unlock(&o->h->wr, NP_LK_WR);
        }
        if (o->c) {
                if (o->kind == OP_WRITE && o->armed)
                        np_wwait_disarm(o->c, &o->ww);
                if (o->counted)
                        atomic_fetch_sub(op_count(o), 1);
                np_conn_put(o->c);
        }
        atomic_fetch_sub(&o->h->async_n, op_unit(o));
        if (o->live)
                atomic_fetch_sub(&np_live_ops, 1);
        struct npipe *h = o->h;
        o->cb(o->ctx, status, bytes);
        free(o);
        if (ticketed)
                read_turn_pass(h);
        /* the callback has written all it will: a cancel or a close that
         * waits for the handle's completions in flight may return */
        count_leave(&h->completing);
        np_h_put(h); /* taken in enqueue: a close waits for the callback */
}

/* An operation leaves its shard to be completed (under the shard's lock):
 * from here until its callback returned, the handle has a completion in
 * flight (completions_wait). */
static void unlink_for_completion(struct np_shard *s, struct op *o)
{
        atomic_fetch_add(&o->h->completing, 1);
        if (o->kind == OP_READ || o->kind == OP_TRANSACT) {
                /* also what a helper whose read waited behind this one
                 * looks at before it sleeps (help_round) */
                o->ticketed = 1;
                o->ticket = atomic_fetch_add(&o->h->rtickets, 1);
        }
        unlink_op(s, o);
}

/* Wait until no callback of h is running or about to run: after this, no
 * completion of h writes into the caller's memory.  Not on a completion
 * thread (a callback of h may be its own caller). */
static void completions_wait(struct npipe *h)
{
        if (!tl_shard_thread)
                count_drain(&h->completing);
}

/* ---- the completion thread ----------------------------------------------------------------- */

struct done_item {
        struct op *o;
        int status;
        size_t bytes;
};

/* What one pass over a shard collects (the completion thread keeps its
 * arrays across passes). */
struct pass {
        struct futex_waitv_ *wv; /* NULL for an inline pass: no sleeping */
        int n;                   /* words in wv */
        int retry;
        struct done_item *done;
        size_t done_cap;
        /* a helper's pass (np_async_help): step only the operation of
         * only_h started with only_ctx; found / completed say what became
         * of it, and a reference to its connection while it waits */
        const struct npipe *only_h;
        const void *only_ctx;
        int found, completed;
        struct conn *only_conn;
        int only_writes; /* it waits as a writer (wsleep), not as a reader */
        int declined;    /* the helper should wait the usual way */
        int count_helped; /* count the helper's operation (it is done spinning) */
        int only_counted; /* the helper's operation is counted */
        int only_alone;   /* it is the only operation of its shard */
        int only_blocked; /* it waits behind an earlier read of its handle */
        uint32_t only_reads_out; /* the handle's rtickets when it was stepped */
        /* what the helper's operation waits for: the peer's head (a read)
         * or consumed position (a write), as it was before the step */
        const _Atomic uint64_t *only_prog;
        uint64_t only_prog_val;
};

/*
 * A small write waiting for a reader on this CPU is better left to the
 * completion thread, and kicked at once (np_op_enqueue): woken late, the
 * writer lets the reader drain many messages at a time (64 B streaming on
 * one CPU: 1.40 M/s, 0.8 M/s helped).  A large one is not: the reader
 * drains one or two messages per wake either way, and the completion
 * thread is one more thread to switch to per message (64 KiB overlapped
 * streaming on one CPU: 0.46-0.74x native left to the thread, bimodal;
 * 0.81-0.90x helped, docs/performance.md, stop 25).
 */
#define HELPED_WRITE_MIN 4096u

static int write_left_to_thread(const struct op *o)
{
        return o->kind == OP_WRITE && o->len < HELPED_WRITE_MIN && o->c &&
               np_peer_on_my_cpu(o->c);
}

/*
 * Step every operation of s once, in order; complete those that are done
 * (their callbacks run in this thread, out of the shard's lock).  With
 * ps->wv, also collect the futex words to sleep on.  Returns how many
 * completed.  Both the completion thread and np_async_settle run passes;
 * the shard's lock makes each operation stepped by one at a time, and the
 * one that unlinks it completes it.
 */
static size_t shard_pass(struct np_shard *s, struct pass *ps)
{
        size_t nd = 0;

        tl_in_pass++;
        np_lock(&s->lock, NP_LK_SHARD);
        for (struct op *o = s->head, *next; o; o = next) {
                next = o->next;
                if (ps->only_h) {
                        if (o->h != ps->only_h || o->ctx != ps->only_ctx)
                                continue;
                        if (write_left_to_thread(o)) {
                                ps->declined = 1;
                                break;
                        }
                        ps->found = 1;
                        ps->only_alone = s->head == o && !o->next;
                        o->helped = 1;
                } else if (ps->wv && o->helped) {
                        /* the completion thread: a helper waits for this
                         * one and steps it (a pass that settles a local
                         * peer's operations, ps->wv NULL, still does) */
                        continue;
                }
                /* is an earlier read of this handle still waiting? */
                int blocked = 0;
                if (o->kind == OP_READ || o->kind == OP_TRANSACT)
                        for (struct op *p = s->head; p != o; p = p->next)
                                if (p->h == o->h &&
                                    (p->kind == OP_READ || p->kind == OP_TRANSACT)) {
                                        blocked = 1;
                                        break;
                                }
                /* Counted in its end's pending count before the step that
                 * reads the seq to sleep on, so that the peer, which sees
                 * the count, moves that seq for whatever it publishes
                 * after: only when this pass may sleep for the operation
                 * (the completion thread's, or a helper's that is done
                 * spinning).  The count's line is the one the peer reads
                 * at every publication: counted for the whole of every
                 * pending operation, its two locked updates were the
                 * largest item of an overlapped round trip
                 * (docs/performance.md, stop 23).  A helper spins on the
                 * peer's progress instead. */
                if (o->c && ps->wv && !o->counted && (!ps->only_h || ps->count_helped)) {
                        atomic_fetch_add(op_count(o), 1);
                        o->counted = 1;
                }
                if (ps->only_h) {
                        ps->only_blocked = blocked;
                        ps->only_reads_out = atomic_load(&o->h->rtickets);
                }
                if (ps->only_h && o->c) {
                        ps->only_prog = o->kind == OP_WRITE ? &o->c->peer->rpos : &o->c->peer->head;
                        ps->only_prog_val =
                            atomic_load_explicit(ps->only_prog, memory_order_acquire);
                        ps->only_counted = o->counted;
                }
                int status = 0;
                size_t bytes = 0;
                struct waitspec w;
                int r = np_op_step(o, blocked, &status, &bytes, &w);
                if (r == STEP_DONE) {
                        if (nd == ps->done_cap) {
                                size_t nc = ps->done_cap ? ps->done_cap * 2 : 16;
                                struct done_item *grown = realloc(ps->done, nc * sizeof(*grown));
                                if (!grown) {
                                        /* complete it next pass */
                                        ps->retry = 1;
                                        continue;
                                }
                                ps->done = grown;
                                ps->done_cap = nc;
                        }
                        unlink_for_completion(s, o);
                        atomic_fetch_add(&s->completing, 1);
                        ps->done[nd++] = (struct done_item){o, status, bytes};
                        if (ps->only_h)
                                ps->completed = 1;
                } else if (r == STEP_RETRY) {
                        ps->retry = 1;
                } else if (ps->wv) {
                        /* a new sleep for the peer to wake (ring_layout.h,
                         * rsleep): after np_op_step() took the seq, before
                         * futex_waitv */
                        if (!w.priv && o->c && !ps->only_h)
                                np_sleep_announce(o->kind == OP_WRITE ? &o->c->own->wsleep
                                                                      : &o->c->own->rsleep,
                                                  w.val);
                        int dup = 0;
                        for (int i = 0; i < ps->n; i++)
                                if (ps->wv[i].uaddr == (uintptr_t)w.addr) {
                                        dup = 1;
                                        break;
                                }
                        if (!dup && ps->n < WAIT_MAX)
                                ps->wv[ps->n++] = (struct futex_waitv_){
                                    .val = w.val,
                                    .uaddr = (uintptr_t)w.addr,
                                    .flags = FUTEX2_SIZE_U32 | (w.priv ? FUTEX2_PRIVATE : 0)};
                        else if (!dup)
                                ps->retry = 1;
                        if (ps->only_h && o->c && !w.priv && !ps->only_conn) {
                                /* the helper announces its sleep itself,
                                 * after its spin (np_async_help) */
                                atomic_fetch_add(&o->c->refs, 1);
                                ps->only_conn = o->c;
                                ps->only_writes = o->kind == OP_WRITE;
                        }
                }
                if (ps->only_h)
                        break; /* the one operation it came for */
        }
        np_unlock(&s->lock, NP_LK_SHARD);
        tl_in_pass--;
        for (size_t i = 0; i < nd; i++) {
                np_op_finish(ps->done[i].o, ps->done[i].status, ps->done[i].bytes);
                count_leave(&s->completing);
        }
        return nd;
}

/* futex_waitv needs Linux 5.16, and a seccomp filter (container
 * runtimes' older profiles) or qemu-user may refuse it: then every call
 * fails at once, and a thread that ignored that would spin.  Without it
 * the thread sleeps on one word - the only operation's, or its kick word
 * when there are several - with a timeout that grows from 50 us to 5 ms
 * while nothing happens (the others are polled), and on the kick word
 * with no timeout when nothing is pending: idle costs nothing, and a
 * pending operation at most a wake-up every 5 ms. */
static _Atomic int waitv_missing;

/*
 * Deferred kicks.  An overlapped ReadFile that pends used to kick the
 * completion thread so that it adds the operation's futex word to those
 * it sleeps on: a futex wake, and the thread's wake-up and sleep, for
 * every operation that pends.  Most are then waited for in
 * GetOverlappedResult, whose thread completes the operation itself
 * (np_async_help) and needs no completion thread at all; the kick was
 * half of what an overlapped round trip cost.  So the Win32 layer's starts
 * defer it, and it is given
 *   - when a thread of the process is about to sleep anyway, in a Win32
 *     wait or a blocking call (np_async_flush): what it waits for may be
 *     that operation, and a sleeping process must not leave it stranded;
 *   - or by the completion thread itself, which after a deferral sleeps
 *     at most TICK_NS for TICK_IDLE_NS: an operation nobody waits for
 *     (a program that polls HasOverlappedIoCompleted, or blocks outside
 *     this library while its peer waits for the read to drain a pipe) is
 *     completed within that bound instead of at once.
 * A start defers only while the thread ticks; the first after a quiet
 * spell kicks, as before, and starts the ticking.
 */
#define TICK_NS 1000000LL /* 1 ms */
#define TICK_IDLE_NS 50000000LL /* ticking stops after 50 ms without a deferral */

static _Atomic int defer_any; /* a kick was deferred since the last flush */

static int defer_kick(struct np_shard *s)
{
        /* counted before `ticking` is read, as the thread clears
         * `ticking` before it reads the count (shard_thread): one of the
         * two sees the other */
        atomic_fetch_add_explicit(&s->defers, 1, memory_order_seq_cst);
        if (!atomic_load_explicit(&s->ticking, memory_order_seq_cst))
                return 0;
        atomic_store_explicit(&defer_any, 1, memory_order_relaxed);
        return 1;
}

void np_async_flush(void)
{
        if (!atomic_load_explicit(&defer_any, memory_order_relaxed) ||
            !atomic_exchange(&defer_any, 0))
                return;
        for (struct np_shard *s = atomic_load_explicit(&shards_pub, memory_order_acquire); s;
             s = s->next)
                kick(s);
}

/* After futex_waitv failed with `err`: is it missing here (ENOSYS under
 * qemu, EPERM or EACCES from a seccomp filter)?  Then noted for good. */
static int waitv_unsupported(int err)
{
        if (err != ENOSYS && err != EPERM && err != EACCES)
                return 0;
        atomic_store(&waitv_missing, 1);
        return 1;
}

/* 1 when the wait ended by its deadline */
static int wait_words(struct futex_waitv_ *wv, int n, const struct timespec *deadline,
                      int64_t *backoff_ns)
{
        if (!atomic_load_explicit(&waitv_missing, memory_order_relaxed)) {
                if (syscall(SYS_futex_waitv, wv, n, 0, deadline, CLOCK_MONOTONIC) >= 0)
                        return 0;
                if (!waitv_unsupported(errno))
                        return errno == ETIMEDOUT;
        }
        /* wv[0] is the kick word; one operation's word: sleep on that */
        const struct futex_waitv_ *w = n == 2 ? &wv[1] : &wv[0];
        int64_t t = -1;
        if (n > 1) {
                t = *backoff_ns;
                *backoff_ns = t * 2 > 5000000 ? 5000000 : t * 2;
        }
        if (deadline && (t < 0 || t > 1000000))
                t = 1000000; /* the pass asked for a retry in 1 ms */
        np_futex_wait((const _Atomic uint32_t *)(uintptr_t)w->uaddr, (uint32_t)w->val,
                      !(w->flags & FUTEX2_PRIVATE), t);
        return 0; /* look again: the cheap wait cannot tell */
}

static void *shard_thread(void *arg)
{
        struct np_shard *s = arg;
        struct futex_waitv_ wv[WAIT_MAX];
        struct pass ps = {.wv = wv};
        int64_t backoff = 50000; /* without futex_waitv: wait_words */
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        tl_shard_thread = 1;
        uint32_t seen_defers = 0;
        int64_t last_defer = 0; /* when a deferral was last seen */

        for (;;) {
                uint32_t k = atomic_load(&s->kick);
                uint32_t d = atomic_load(&s->defers);
                ps.n = 0;
                ps.retry = 0;
                wv[ps.n++] = (struct futex_waitv_){
                    .val = k, .uaddr = (uintptr_t)&s->kick, .flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE};
                if (shard_pass(s, &ps)) {
                        backoff = 50000;
                        continue; /* completions may let others progress */
                }

                int64_t now = np_now_ns();
                if (d != seen_defers) {
                        seen_defers = d;
                        last_defer = now;
                }
                int tick = last_defer != 0 && now - last_defer < TICK_IDLE_NS;
                if (tick) {
                        atomic_store(&s->ticking, 1);
                } else if (atomic_load(&s->ticking)) {
                        /* from now on starts kick; one that deferred
                         * before it saw this is in the count */
                        atomic_store(&s->ticking, 0);
                        if (atomic_load(&s->defers) != d)
                                continue;
                }
                struct timespec ts, *tp = NULL;
                if (ps.retry || tick)
                        tp = np_timespec(np_now_ns() + TICK_NS, &ts);
                /* a tick that found no new operation waits again on the
                 * same words: the pass would find what it found before */
                while (wait_words(wv, ps.n, tp, &backoff) && tick && !ps.retry &&
                       atomic_load(&s->defers) == d && atomic_load(&s->kick) == k &&
                       np_now_ns() - last_defer < TICK_IDLE_NS)
                        np_timespec(np_now_ns() + TICK_NS, &ts);
        }
        return NULL;
}

/*
 * NT completes a pending operation inside the call that satisfies it: once
 * WriteFile returns, the peer's pending read has its event set and its
 * OVERLAPPED filled (OVL-20, OVL-21).  Within one process we do the same:
 * a call that published data, consumed some, disconnected or closed an end
 * whose peer is in this process (np_async_note_local) runs passes over
 * every shard before it returns, until one completes nothing, and then
 * waits for completions the completion threads had already started.  A
 * peer in another process completes on its own completion thread as soon
 * as it runs (docs/design.md, "Completion").
 */
static void engine_settle(void)
{
        if (!np_settle_wanted || tl_in_pass || tl_in_settle)
                return;
        np_settle_wanted = 0;
        tl_in_settle = 1;
        np_lock(&shards_lock, NP_LK_SHARDS);
        struct np_shard *first = shards_pid == np_self_pid() ? shards : NULL;
        np_unlock(&shards_lock, NP_LK_SHARDS);
        /* shards are only ever added at the head and never freed: the list
         * from `first` on is stable */
        struct pass ps = {0};
        for (int rounds = 0; rounds < 64; rounds++) {
                size_t done = 0;
                ps.retry = 0;
                for (struct np_shard *s = first; s; s = s->next)
                        done += shard_pass(s, &ps);
                /* a step that met a lock another thread held for a moment
                 * (a write's h->wr, a read's h->rd) asks for a retry: the
                 * operation may well be complete, and NT would have
                 * completed it inside this call (Wine's suite saw one
                 * pending right after the peer's close) */
                if (!done && !ps.retry)
                        break;
                if (!done)
                        sched_yield();
        }
        free(ps.done);
        tl_in_settle = 0;
        np_settle_wanted = 0;
        if (tl_shard_thread)
                return;
        /* what a completion thread unlinked before our pass saw it is
         * complete too before we return */
        for (struct np_shard *s = first; s; s = s->next)
                count_drain(&s->completing);
}

/*
 * A thread about to sleep until one pending operation ends
 * (GetOverlappedResult with bWait) takes part in it instead: it steps the
 * operation itself, spins while the peer runs on another CPU as a
 * blocking call does, and sleeps on the operation's own futex word.  The
 * completion thread would otherwise take the peer's wake, complete the
 * operation and only then wake the waiter: two wake-ups in a row for each
 * operation that pends, where NT and a synchronous call have one.  While
 * a helper is there the completion thread leaves the operation alone
 * (op.helped); when the helper stops before the end it hands it back.  A
 * pass that settles a local peer's operations (engine_settle) steps it
 * either way; whichever steps it first under the shard's lock completes
 * it, exactly once.
 */
static int help_round(struct np_shard *s, struct npipe *h, void *ctx,
                      const _Atomic uint32_t *extra, uint32_t extra_val,
                      _Atomic int *extra_waiters, int (*done)(void *), void *arg,
                      int64_t deadline, int *found, int *spun, int *count)
{
        struct futex_waitv_ wv[2];
        int n = 0;
        if (extra)
                wv[n++] = (struct futex_waitv_){.val = extra_val,
                                                .uaddr = (uintptr_t)extra,
                                                .flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE};
        struct pass ps = {
            .wv = wv, .n = n, .only_h = h, .only_ctx = ctx, .count_helped = *count};
        /* A step or a callback that satisfied a local peer asks for a
         * settle (OVL-20).  Not inside the pass: a settle waits for the
         * shard's completions in flight, which include the one this pass
         * is finishing.  After it, as a synchronous call does. */
        tl_in_settle = 1;
        shard_pass(s, &ps);
        tl_in_settle = 0;
        free(ps.done);
        engine_settle();
        *found = ps.found && !ps.completed;
        if (ps.declined)
                return NPIPE_ENOTFOUND;
        int r = 0;
        if (!*found || ps.n == n) {
                /* gone (done here or elsewhere), or a retry: look again */
                if (*found)
                        sched_yield();
        } else {
                const struct futex_waitv_ *w = &wv[n];
                const _Atomic uint32_t *word = (const _Atomic uint32_t *)(uintptr_t)w->uaddr;
                struct conn *c = ps.only_conn;
                if (c && !*spun) {
                        /* a spin that writes nothing: the operation is not
                         * counted yet, so the peer may not move its seq;
                         * what it publishes moves its progress */
                        if (np_conn_spin(c, word, (uint32_t)w->val, extra, extra_val,
                                         ps.only_prog, ps.only_prog_val))
                                goto out; /* look again (and spin again) */
                        *spun = 1;
                }
                if (c && !ps.only_counted) {
                        /* about to sleep: counted first, and stepped again,
                         * so that the seq slept on is read after the count */
                        *count = 1;
                        goto out;
                }
                /* the sleep the peer must know of (ring_layout.h): after the
                 * step took the seq, before futex_waitv compares it */
                if (c)
                        np_sleep_announce(ps.only_writes ? &c->own->wsleep : &c->own->rsleep,
                                          (uint32_t)w->val);
                struct timespec ts, *tp = np_timespec(deadline, &ts);
                /* counted where a disconnect or our end's close looks for
                 * sleepers to wake (np_wake_own_sleepers) */
                if (c)
                        atomic_fetch_add_explicit(&c->local_sleepers, 1, memory_order_seq_cst);
                /* Counted where a completion on another thread looks
                 * (extra_waiters) only now, about to sleep: counted for
                 * the whole help, every completion this thread made
                 * itself woke `extra` for nobody.  Counted, then `extra`
                 * and done() read again: a completion before the count
                 * is seen by done(), one after it moves `extra`.
                 * An operation that waited behind an earlier read when it
                 * was stepped is free once that read is taken out, which
                 * moves no word of the peer: the read taken out before
                 * the count shows in the handle's rtickets (read last),
                 * one after it moves `extra` when it calls back.  Without
                 * `extra` such a sleep is cut short instead. */
                int asleep = 1, cut = 0;
                /* other operations' deferred kicks: none when ours is
                 * the only operation of the process's only shard.  Its
                 * own deferred kick would wake the completion thread for
                 * nothing (a helped operation is left alone): once per
                 * sleep, a futex wake and two switches on one CPU */
                if (!ps.only_alone || s->next ||
                    atomic_load_explicit(&shards_pub, memory_order_acquire) != s)
                        np_async_flush();
                if (extra && extra_waiters) {
                        atomic_fetch_add_explicit(extra_waiters, 1, memory_order_seq_cst);
                        wv[0].val = atomic_load_explicit(extra, memory_order_seq_cst);
                        asleep = !done(arg);
                        if (ps.only_blocked && atomic_load(&h->rtickets) != ps.only_reads_out)
                                asleep = 0;
                } else if (ps.only_blocked) {
                        int64_t soon = np_now_ns() + TICK_NS;
                        cut = deadline < 0 || soon < deadline;
                        tp = np_timespec(cut ? soon : deadline, &ts);
                }
                if (asleep && (!c || atomic_load(&c->gone) == 0) &&
                    syscall(SYS_futex_waitv, wv, ps.n, 0, tp, CLOCK_MONOTONIC) < 0) {
                        if (errno == ETIMEDOUT && !cut)
                                r = NPIPE_ETIMEDOUT;
                        else if (waitv_unsupported(errno))
                                /* the caller waits the usual way */
                                r = NPIPE_ENOTFOUND;
                }
                if (extra && extra_waiters)
                        atomic_fetch_sub_explicit(extra_waiters, 1, memory_order_seq_cst);
                if (c)
                        atomic_fetch_sub_explicit(&c->local_sleepers, 1, memory_order_seq_cst);
                *spun = 0; /* woken: the next wait may spin again */
        }
out:
        np_conn_put(ps.only_conn);
        return r;
}

int np_async_help(npipe_t *hv, void *ctx, const _Atomic uint32_t *extra,
                  _Atomic int *extra_waiters, int (*done)(void *), void *arg, int64_t deadline)
{
        if (tl_in_pass || tl_shard_thread || tl_in_settle ||
            atomic_load_explicit(&waitv_missing, memory_order_relaxed))
                return NPIPE_ENOTFOUND;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        np_lock(&shards_lock, NP_LK_SHARDS);
        struct np_shard *s = shards_pid == np_self_pid() ? h->shard : NULL;
        np_unlock(&shards_lock, NP_LK_SHARDS);
        if (h->rp || !s) {
                np_h_put(h);
                return NPIPE_ENOTFOUND;
        }
        int found = 0, marked = 0, spun = 0, count = 0;
        for (int round = 0;; round++) {
                uint32_t seen = extra ? atomic_load(extra) : 0;
                if (done(arg)) {
                        r = 0;
                        break;
                }
                if (deadline >= 0 && np_now_ns() >= deadline) {
                        r = NPIPE_ETIMEDOUT;
                        break;
                }
                r = help_round(s, h, ctx, extra, seen, extra_waiters, done, arg, deadline,
                               &found, &spun, &count);
                marked |= found;
                if (r == NPIPE_ENOTFOUND) {
                        /* declined (a write with its reader on this CPU),
                         * or no futex_waitv: wait the usual way from here */
                        break;
                }
                if (!found) {
                        /* not pending here at all, or it left the shard:
                         * done, or its completion runs elsewhere */
                        r = round == 0 && !done(arg) ? NPIPE_ENOTFOUND : 0;
                        break;
                }
                if (r < 0)
                        break;
        }
        if (marked) {
                /* stopped before its end: the completion thread takes it
                 * back (it slept without the operation's word) */
                int back = 0;
                np_lock(&s->lock, NP_LK_SHARD);
                for (struct op *o = s->head; o; o = o->next)
                        if (o->h == h && o->ctx == ctx && o->helped) {
                                o->helped = 0;
                                back = 1;
                        }
                np_unlock(&s->lock, NP_LK_SHARD);
                if (back)
                        kick(s);
        }
        np_h_put(h);
        return r;
}

/* What the data path below calls (notify.h): installed with the first
 * shard, so before any operation is counted in np_live_ops. */
static void engine_handle_closed(struct npipe *h);
static const struct np_engine_hooks engine_hooks = {
    .settle = engine_settle, .kick = engine_kick, .closed = engine_handle_closed};

/* The shard for h: its own if it has one, else one with room. */
static struct np_shard *shard_for(struct npipe *h)
{
        np_lock(&shards_lock, NP_LK_SHARDS);
        if (shards_pid != np_self_pid()) {
                /* after fork the parent's threads do not exist here */
                shards = NULL;
                atomic_store(&shards_pub, NULL);
                shards_pid = np_self_pid();
        }
        if (h->shard) {
                np_unlock(&shards_lock, NP_LK_SHARDS);
                return h->shard;
        }
        struct np_shard *s = shards;
        while (s && s->handles >= SHARD_HANDLES)
                s = s->next;
        if (!s) {
                s = calloc(1, sizeof(*s));
                if (!s) {
                        np_unlock(&shards_lock, NP_LK_SHARDS);
                        return NULL;
                }
                pthread_mutex_init(&s->lock, NULL);
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                pthread_attr_setstacksize(&a, 128 * 1024);
                if (pthread_create(&t, &a, shard_thread, s) != 0) {
                        pthread_attr_destroy(&a);
                        free(s);
                        np_unlock(&shards_lock, NP_LK_SHARDS);
                        return NULL;
                }
                pthread_attr_destroy(&a);
                np_engine_install(&engine_hooks);
                s->next = shards;
                shards = s;
                atomic_store_explicit(&shards_pub, s, memory_order_release);
        }
        s->handles++;
        h->shard = s;
        np_unlock(&shards_lock, NP_LK_SHARDS);
        return s;
}

int np_op_enqueue(struct op *o)
{
        struct np_shard *s = shard_for(o->h);
        if (!s)
                return NPIPE_ENOMEM;
        /* a start with a record made on pending is the Win32 layer's
         * overlapped ReadFile or WriteFile: its kick may wait (below).
         * Not a small write whose reader shares our CPU, which a waiter
         * leaves to the completion thread (write_left_to_thread) */
        int may_defer = tl_pend_fn != NULL && !write_left_to_thread(o);
        /* the caller's record, now that it pends (np_async_hooks) */
        o->ctx = np_async_pend_ctx(o->ctx);
        if (!o->ctx)
                return NPIPE_ENOMEM;
        np_h_hold(o->h);
        if (o->c && o->kind == OP_WRITE)
                /* any consumption until the first step sets the real mark */
                np_op_set_need(o, 0);
        /* not counted in its end's pending count yet: see shard_pass */
        atomic_fetch_add(&o->h->async_n, op_unit(o));
        /* np_live_ops serves np_async_note_local, which only a connection
         * with both ends in this process calls for, and a listen, which a
         * client of this process may satisfy: the others leave the
         * process-wide counter alone (two locked instructions fewer per
         * pending operation, issue 16) */
        o->live = !o->c || o->c->peer_local;
        if (o->live)
                atomic_fetch_add(&np_live_ops, 1);
        np_lock(&s->lock, NP_LK_SHARD);
        if (tl_start_fn) {
                /* under the shard's lock: no pass can complete the
                 * operation before this ran, and a cancel that comes
                 * after it finds the operation */
                tl_start_fn(tl_start_arg);
                tl_start_fn = NULL;
        }
        o->prev = s->tail;
        if (s->tail)
                s->tail->next = o;
        else
                s->head = o;
        s->tail = o;
        np_unlock(&s->lock, NP_LK_SHARD);
        if (may_defer && defer_kick(s))
                return NP_ASYNC_PENDING;
        kick(s);
        return NP_ASYNC_PENDING;
}

struct op *np_op_new(enum op_kind kind, struct npipe *h, struct conn *c, np_async_cb cb,
                         void *ctx)
{
        /* malloc, not calloc: glibc's calloc bypasses the per-thread
         * cache (one operation per overlapped call) */
        struct op *o = malloc(sizeof(*o));
        if (!o)
                return NULL;
        *o = (struct op){0};
        o->kind = kind;
        o->h = h;
        o->c = c;
        o->cb = cb;
        o->ctx = ctx;
        return o;
}

/* ---- cancellation -------------------------------------------------------------------------------- */

/* QUOTA-07: a cancelled write's unread bytes disappear.  Called out of
 * the shard lock: a blocked writer may hold h->wr while it waits for a
 * reader this shard serves.  The op is unlinked, so nobody else touches
 * it, and while it owns a streaming message no other write starts. */
static void abort_write(struct npipe *h, struct op *o)
{
        np_lock(&h->wr, NP_LK_WR);
        if (o->phase == 1)
                np_prod_abort(&o->c->prod, o->first, o->end, 0);
        else if (o->c->stream_owner == o)
                np_prod_abort(&o->c->prod, o->first, 0, 1);
        if (o->c->stream_owner == o)
                o->c->stream_owner = NULL;
        /* the next write waiting for room may put now: the wake below */
        np_room_leave(o->c, &o->room);
        np_unlock(&h->wr, NP_LK_WR);
        np_wake_reader(o->c);
        /* CANCEL-07: a FlushFileBuffers of ours waiting for these bytes to
         * be read waits for nothing now; it sleeps on the peer's seq,
         * which will not move */
        np_futex_wake(&o->c->peer->seq, 1, INT_MAX);
}

/* Take the matching operations of h out of its shard (all when all_ops). */
static int cancel_matching(struct npipe *h, void *ctx, int all_ops)
{
        struct np_shard *s = h->shard;
        if (!s)
                return 0;
        struct op *list = NULL;
        np_lock(&s->lock, NP_LK_SHARD);
        for (struct op *o = s->head, *next; o; o = next) {
                next = o->next;
                if (o->h != h || (!all_ops && o->ctx != ctx))
                        continue;

                int stash = (o->kind == OP_READ || o->kind == OP_TRANSACT) && o->c && o->done;
                if (stash && np_rd_trylock(h)) {
                        /* A blocking read of this handle holds h->rd, maybe
                         * asleep in the middle of a message.  Never wait for
                         * it under the shard lock: that stops every handle
                         * the shard serves, the writer it waits for perhaps
                         * among them.  Wait holding nothing, then look again
                         * (the shard may have completed o meanwhile). */
                        np_unlock(&s->lock, NP_LK_SHARD);
                        np_rd_lock(h);
                        np_rd_unlock(h);
                        np_lock(&s->lock, NP_LK_SHARD);
                        next = s->head;
                        continue;
                }
                unlink_for_completion(s, o);
                if (stash) {
                        /* part of a message it took goes back to the head */
                        np_conn_stash(o->c, o->buf, o->done);
                        np_rd_unlock(h);
                        o->done = 0;
                }
                o->next = list;
                list = o;
                if (!all_ops)
                        break;
        }
        np_unlock(&s->lock, NP_LK_SHARD);
        int n = 0;
        /* callbacks in issue order */
        struct op *rev = NULL;
        while (list) {
                struct op *o = list;
                list = o->next;
                o->next = rev;
                rev = o;
        }
        while (rev) {
                struct op *o = rev;
                rev = o->next;
                if (o->kind == OP_WRITE && o->c)
                        abort_write(h, o);
                np_op_finish(o, NPIPE_ECANCELED, 0);
                n++;
        }
        kick(s);
        /* An operation its completion thread took a moment ago is not
         * found here but may still be writing its results: when this
         * returns (CancelIoEx, CloseHandle), nothing of h writes into the
         * caller's memory any more (issue 18). */
        completions_wait(h);
        return n;
}

int np_async_cancel(npipe_t *hv, void *ctx)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        if (h->rp)
                r = np_smb_async_cancel(h, ctx, 0) ? 0 : NPIPE_ENOTFOUND;
        else
                r = cancel_matching(h, ctx, 0) ? 0 : NPIPE_ENOTFOUND;
        np_h_put(h);
        return r;
}

int np_async_cancel_all(npipe_t *hv)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        r = h->rp ? np_smb_async_cancel(h, NULL, 1) : cancel_matching(h, NULL, 1);
        np_h_put(h);
        return r;
}

int np_async_quiesce(npipe_t *hv)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        completions_wait(h);
        np_handle_leave(h);
        return 0;
}

int np_async_pending(npipe_t *hv)
{
        struct npipe *h;
        if (np_handle_enter(hv, &h) < 0)
                return 0;
        int r = np_async_ops(h) != 0;
        np_handle_leave(h);
        return r;
}

static void engine_handle_closed(struct npipe *h)
{
        cancel_matching(h, NULL, 1);
        if (h->shard) {
                np_lock(&shards_lock, NP_LK_SHARDS);
                h->shard->handles--;
                np_unlock(&shards_lock, NP_LK_SHARDS);
                h->shard = NULL;
        }
}
