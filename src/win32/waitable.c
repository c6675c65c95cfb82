/*
 * waitable.c - the dispatcher core: the signal states of events, pipe
 * handles and thread handles, the wait for them (np_win_wait, under
 * WaitForMultipleObjectsEx and GetOverlappedResult), and the completion
 * counter GetOverlappedResult waits on.
 *
 * A waiting thread sleeps on a futex word of its own (struct w_thread.seq,
 * apc.c): no file descriptor and no thread per waitable object, and no CPU
 * while asleep.  A wait links one block per object into the object's
 * waiter list (FIFO) under a single dispatcher lock, so that a wait for
 * all objects can take them atomically, as NT's dispatcher does.  Whoever
 * makes an object signalled satisfies the waiters it now can, under that
 * lock, and bumps their futex word.
 *
 * Setting and resetting stay lock-free while nobody waits on the object
 * (the common case for pipe handles, which are reset and set on every
 * operation): the setter publishes the state, then looks for waiters; a
 * waiter registers, then looks at the state again.  Both steps are
 * sequentially consistent, so one of the two always sees the other.
 *
 * It is its own file, below the object types, so that every kind of
 * waitable object (event.c, pipe.c, thread.c) and the wait API (wait.c)
 * can use it without calling one another; it calls only apc.c.
 */
#include "client/async.h"
#include "win32/win32.h"

#include <limits.h>

/* ---- time and futexes ----------------------------------------------------------------------- */

int64_t np_win_deadline(DWORD ms)
{
        if (ms == INFINITE)
                return -1;
        return np_now_ns() + (int64_t)ms * 1000000;
}

/* ---- waitables and the dispatcher ----------------------------------------------------------- */

struct w_wait;

struct w_wblock {
        struct w_wblock *next, *prev;
        struct w_waitable *obj;
        struct w_wait *wait;
        int linked;
};

struct w_wait {
        struct w_thread *thread;
        int all;
        DWORD n;
        _Atomic int satisfied; /* -1, or the index that satisfied a wait for any */
        struct w_wblock blocks[MAXIMUM_WAIT_OBJECTS];
};

static pthread_mutex_t disp = PTHREAD_MUTEX_INITIALIZER;

void np_win_waitable_init(struct w_waitable *w, int manual, int signalled)
{
        atomic_init(&w->signalled, signalled ? 1 : 0);
        atomic_init(&w->nwaiters, 0);
        w->manual = manual;
        w->waiters = NULL;
}

/* Under disp: take one object's signal for a wait. */
static int consume(struct w_waitable *w)
{
        if (w->manual)
                return atomic_load(&w->signalled);
        return atomic_exchange(&w->signalled, 0);
}

/* Under disp: can the wait be satisfied now?  Returns the index, or -1. */
static int try_satisfy(struct w_wait *wt)
{
        if (!wt->all) {
                for (DWORD i = 0; i < wt->n; i++)
                        if (consume(wt->blocks[i].obj))
                                return (int)i;
                return -1;
        }
        for (DWORD i = 0; i < wt->n; i++)
                if (!atomic_load(&wt->blocks[i].obj->signalled))
                        return -1;
        for (DWORD i = 0; i < wt->n; i++)
                consume(wt->blocks[i].obj);
        return 0;
}

static void link_blocks(struct w_wait *wt)
{
        for (DWORD i = 0; i < wt->n; i++) {
                struct w_wblock *b = &wt->blocks[i];
                struct w_waitable *w = b->obj;
                b->wait = wt;
                b->next = NULL;
                /* append: waiters are satisfied in the order they came (FIFO) */
                if (!w->waiters) {
                        w->waiters = b;
                        b->prev = b;
                } else {
                        struct w_wblock *tail = w->waiters->prev;
                        tail->next = b;
                        b->prev = tail;
                        w->waiters->prev = b;
                }
                b->linked = 1;
                atomic_fetch_add(&w->nwaiters, 1);
        }
}

static void unlink_blocks(struct w_wait *wt)
{
        for (DWORD i = 0; i < wt->n; i++) {
                struct w_wblock *b = &wt->blocks[i];
                struct w_waitable *w = b->obj;
                if (!b->linked)
                        continue;
                /* head->prev is the tail; the tail's next is NULL */
                if (w->waiters == b) {
                        w->waiters = b->next;
                        if (b->next)
                                b->next->prev = b->prev;
                } else {
                        b->prev->next = b->next;
                        if (b->next)
                                b->next->prev = b->prev;
                        else
                                w->waiters->prev = b->prev;
                }
                b->linked = 0;
                atomic_fetch_sub(&w->nwaiters, 1);
        }
}

/* Under disp: hand the object's new signal to the waiters that can use it. */
static void satisfy_waiters(struct w_waitable *w)
{
        int again = 1;
        while (again && atomic_load(&w->signalled)) {
                again = 0;
                for (struct w_wblock *b = w->waiters; b; b = b->next) {
                        struct w_wait *wt = b->wait;
                        int r = try_satisfy(wt);
                        if (r < 0)
                                continue;
                        atomic_store(&wt->satisfied, r);
                        /* the list changes under us: start over */
                        unlink_blocks(wt);
                        np_win_thread_wake(wt->thread);
                        again = 1;
                        break;
                }
        }
}

/* An object already signalled stays so, with no store and no barrier: a
 * signal that comes while it is set is one NT also drops, and the waiters
 * it could release were released by the signal that set it (a waiter
 * sleeps on a set object only in a wait for all, which a signal of
 * another object ends).  An overlapped call that completes at once
 * signals its event every time (io.c). */
void np_win_signal(struct w_waitable *w)
{
        if (atomic_load_explicit(&w->signalled, memory_order_relaxed) == 1)
                return;
        atomic_store(&w->signalled, 1);
        if (atomic_load(&w->nwaiters) == 0)
                return;
        pthread_mutex_lock(&disp);
        satisfy_waiters(w);
        pthread_mutex_unlock(&disp);
}

void np_win_unsignal(struct w_waitable *w)
{
        atomic_store(&w->signalled, 0);
}

DWORD np_win_wait(DWORD n, struct w_waitable *const *objs, int all, DWORD ms, int alertable)
{
        struct w_thread *t = np_win_self();
        int64_t deadline = np_win_deadline(ms);
        /* on our stack: other threads touch it only while it is linked */
        struct w_wait wait_block, *wt = &wait_block;
        wt->thread = t;
        wt->all = all;
        wt->n = n;
        atomic_init(&wt->satisfied, -1);
        for (DWORD i = 0; i < n; i++) {
                wt->blocks[i].obj = objs[i];
                wt->blocks[i].linked = 0;
        }

        DWORD ret;
        pthread_mutex_lock(&disp);
        int r = try_satisfy(wt);
        if (r >= 0) {
                pthread_mutex_unlock(&disp);
                ret = WAIT_OBJECT_0 + (DWORD)r;
                goto out;
        }
        /* NT looks at the objects first, then at the APCs */
        if (alertable && np_win_apc_pending(t)) {
                pthread_mutex_unlock(&disp);
                np_win_run_apcs(t);
                ret = WAIT_IO_COMPLETION;
                goto out;
        }
        if (ms == 0) {
                pthread_mutex_unlock(&disp);
                ret = WAIT_TIMEOUT;
                goto out;
        }
        link_blocks(wt);
        /* a lock-free setter may have come between the first look and now */
        r = try_satisfy(wt);
        if (r >= 0) {
                unlink_blocks(wt);
                pthread_mutex_unlock(&disp);
                ret = WAIT_OBJECT_0 + (DWORD)r;
                goto out;
        }
        if (alertable)
                atomic_store(&t->alertable, 1);
        pthread_mutex_unlock(&disp);

        np_win_thread_sleep(t, &wt->satisfied, alertable, deadline);

        pthread_mutex_lock(&disp);
        r = atomic_load(&wt->satisfied);
        if (r < 0)
                unlink_blocks(wt);
        pthread_mutex_unlock(&disp);
        if (r >= 0)
                ret = WAIT_OBJECT_0 + (DWORD)r;
        else if (alertable && np_win_run_apcs(t))
                ret = WAIT_IO_COMPLETION;
        else
                ret = WAIT_TIMEOUT;
out:
        return ret;
}

/* ---- completions seen by GetOverlappedResult ------------------------------------------------ */

static _Atomic uint32_t completion_seq;
static _Atomic int completion_waiters;

void np_win_completion_bump(void)
{
        /* the OVERLAPPED is written; only a waiter in np_win_wait_ov needs
         * more (it counts itself before looking at the OVERLAPPED), so the
         * common case touches no shared cache line */
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load(&completion_waiters)) {
                atomic_fetch_add(&completion_seq, 1);
                np_futex_wake(&completion_seq, 0, INT_MAX);
        }
}

int np_win_wait_ov(OVERLAPPED *ov, int64_t deadline_ns)
{
        int done = 0;
        atomic_fetch_add(&completion_waiters, 1);
        for (;;) {
                uint32_t seen = atomic_load(&completion_seq);
                if (__atomic_load_n(&ov->Internal, __ATOMIC_ACQUIRE) != STATUS_PENDING) {
                        done = 1;
                        break;
                }
                if (deadline_ns >= 0 && np_now_ns() >= deadline_ns)
                        break;
                np_async_flush(); /* about to sleep: the deferred kicks first */
                np_futex_wait_until(&completion_seq, seen, 0, deadline_ns);
        }
        atomic_fetch_sub(&completion_waiters, 1);
        return done;
}

static int ov_done(void *arg)
{
        OVERLAPPED *ov = arg;
        return __atomic_load_n(&ov->Internal, __ATOMIC_ACQUIRE) != STATUS_PENDING;
}

int np_win_help_ov(npipe_t *np, void *ctx, OVERLAPPED *ov, int64_t deadline_ns)
{
        /* counted as np_win_wait_ov is, but only while it sleeps: a
         * completion elsewhere (the completion thread took the operation
         * first) bumps the word, the helper's own completions do not */
        int r = np_async_help(np, ctx, &completion_seq, &completion_waiters, ov_done, ov,
                              deadline_ns);
        if (r == NPIPE_ETIMEDOUT)
                return 0;
        if (r < 0)
                return -1;
        /* it left the engine: its callback may still be writing */
        return ov_done(ov) || np_win_wait_ov(ov, deadline_ns) ? 1 : 0;
}
