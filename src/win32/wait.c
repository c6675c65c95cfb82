/*
 * wait.c - the dispatcher: signal states of events and pipe handles,
 * WaitForSingleObject(Ex) / WaitForMultipleObjects(Ex) / SleepEx, and the
 * per-thread APC queue that ReadFileEx / WriteFileEx completions go to.
 *
 * A waiting thread sleeps on a futex word of its own (struct w_thread.seq):
 * no file descriptor and no thread per waitable object, and no CPU while
 * asleep.  A wait links one block per object into the object's waiter list
 * (FIFO) under a single dispatcher lock, so that a wait for all objects can
 * take them atomically, as NT's dispatcher does.  Whoever makes an object
 * signalled satisfies the waiters it now can, under that lock, and bumps
 * their futex word.
 *
 * Setting and resetting stay lock-free while nobody waits on the object
 * (the common case for pipe handles, which are reset and set on every
 * operation): the setter publishes the state, then looks for waiters; a
 * waiter registers, then looks at the state again.  Both steps are
 * sequentially consistent, so one of the two always sees the other.
 */
#include "win32/win32.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- time and futexes ----------------------------------------------------------------------- */

int64_t np_win_deadline(DWORD ms)
{
        if (ms == INFINITE)
                return -1;
        return np_now_ns() + (int64_t)ms * 1000000;
}

/* ---- threads and APCs ----------------------------------------------------------------------- */

static pthread_key_t self_key;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static _Thread_local struct w_thread *self;

static void thread_exit(void *p)
{
        struct w_thread *t = p;
        atomic_store(&t->gone, 1);
        /* APCs that can no longer run: the thread's pending I/O keeps its
         * OVERLAPPED results, only the routines are lost (docs/win32.md) */
        pthread_mutex_lock(&t->apc_lock);
        struct w_apc *a = t->apc_head;
        t->apc_head = t->apc_tail = NULL;
        pthread_mutex_unlock(&t->apc_lock);
        while (a) {
                struct w_apc *next = a->next;
                free(a);
                a = next;
        }
        self = NULL;
        np_win_thread_put(t);
}

static void self_key_init(void)
{
        pthread_key_create(&self_key, thread_exit);
}

struct w_thread *np_win_self(void)
{
        if (self)
                return self;
        pthread_once(&self_once, self_key_init);
        struct w_thread *t = calloc(1, sizeof(*t));
        if (!t)
                abort(); /* a few bytes per thread; nothing sensible to report */
        atomic_init(&t->refs, 1);
        pthread_mutex_init(&t->apc_lock, NULL);
        pthread_setspecific(self_key, t);
        self = t;
        return t;
}

void np_win_thread_ref(struct w_thread *t)
{
        atomic_fetch_add(&t->refs, 1);
}

void np_win_thread_put(struct w_thread *t)
{
        if (atomic_fetch_sub(&t->refs, 1) != 1)
                return;
        struct w_apc *a = t->apc_head;
        while (a) {
                struct w_apc *next = a->next;
                free(a);
                a = next;
        }
        pthread_mutex_destroy(&t->apc_lock);
        free(t);
}

void np_win_thread_wake(struct w_thread *t)
{
        atomic_fetch_add(&t->seq, 1);
        np_futex_wake(&t->seq, 0, 1);
}

void np_win_queue_apc(struct w_thread *t, struct w_apc *apc)
{
        apc->next = NULL;
        pthread_mutex_lock(&t->apc_lock);
        if (atomic_load(&t->gone)) {
                pthread_mutex_unlock(&t->apc_lock);
                free(apc);
                return;
        }
        if (t->apc_tail)
                t->apc_tail->next = apc;
        else
                t->apc_head = apc;
        t->apc_tail = apc;
        pthread_mutex_unlock(&t->apc_lock);
        /* only a thread in an alertable wait needs waking; one that enters
         * such a wait later finds the queue non-empty first */
        if (atomic_load(&t->alertable))
                np_win_thread_wake(t);
}

int np_win_apc_pending(struct w_thread *t)
{
        pthread_mutex_lock(&t->apc_lock);
        int r = t->apc_head != NULL;
        pthread_mutex_unlock(&t->apc_lock);
        return r;
}

int np_win_run_apcs(struct w_thread *t)
{
        int n = 0;
        for (;;) {
                pthread_mutex_lock(&t->apc_lock);
                struct w_apc *a = t->apc_head;
                if (a) {
                        t->apc_head = a->next;
                        if (!t->apc_head)
                                t->apc_tail = NULL;
                }
                pthread_mutex_unlock(&t->apc_lock);
                if (!a)
                        return n;
                /* copy first: the routine may start new I/O that queues more */
                struct w_apc c = *a;
                free(a);
                if (c.user)
                        c.user(c.data);
                else
                        c.routine(c.err, c.bytes, c.ov);
                n++;
        }
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

void np_win_signal(struct w_waitable *w)
{
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

        for (;;) {
                uint32_t seen = atomic_load(&t->seq);
                if (atomic_load(&wt->satisfied) >= 0)
                        break;
                if (alertable && np_win_apc_pending(t))
                        break;
                if (deadline >= 0 && np_now_ns() >= deadline)
                        break;
                np_futex_wait_until(&t->seq, seen, 0, deadline);
        }
        atomic_store(&t->alertable, 0);

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
                np_futex_wait_until(&completion_seq, seen, 0, deadline_ns);
        }
        atomic_fetch_sub(&completion_waiters, 1);
        return done;
}

/* ---- the API -------------------------------------------------------------------------------- */

/* The waitable inside an object that has one (events, pipe ends). */
static struct w_waitable *waitable_of(struct w_obj *o)
{
        if (o->type == W_EVENT)
                return &((struct w_event *)o)->wt;
        if (o->type == W_PIPE)
                return &((struct w_pipe *)o)->wt;
        if (o->type == W_THREAD)
                return np_win_thread_waitable(o);
        return NULL;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForMultipleObjectsEx(DWORD nCount, const HANDLE *lpHandles,
                                                              BOOL bWaitAll, DWORD dwMilliseconds,
                                                              BOOL bAlertable)
{
        if (nCount == 0 || nCount > MAXIMUM_WAIT_OBJECTS || !lpHandles) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return WAIT_FAILED;
        }
        struct w_obj *objs[MAXIMUM_WAIT_OBJECTS];
        struct w_waitable *ws[MAXIMUM_WAIT_OBJECTS];
        DWORD got = 0, ret = WAIT_FAILED;
        for (; got < nCount; got++) {
                objs[got] = np_win_handle_get(lpHandles[got], 0);
                if (!objs[got])
                        goto out;
                ws[got] = waitable_of(objs[got]);
                if (!ws[got]) {
                        /* ports and the like are not waitable here */
                        np_win_put(objs[got]);
                        np_win_set_error(ERROR_INVALID_HANDLE);
                        goto out;
                }
                /* the same object twice in a wait for all is refused, as on NT */
                if (bWaitAll)
                        for (DWORD j = 0; j < got; j++)
                                if (ws[j] == ws[got]) {
                                        np_win_put(objs[got]);
                                        np_win_set_error(ERROR_INVALID_PARAMETER);
                                        goto out;
                                }
        }
        ret = np_win_wait(nCount, ws, bWaitAll ? 1 : 0, dwMilliseconds, bAlertable ? 1 : 0);
out:
        for (DWORD i = 0; i < got; i++)
                np_win_put(objs[i]);
        return ret;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles,
                                                            BOOL bWaitAll, DWORD dwMilliseconds)
{
        return npipe_win_WaitForMultipleObjectsEx(nCount, lpHandles, bWaitAll, dwMilliseconds,
                                                  FALSE);
}

NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds,
                                                           BOOL bAlertable)
{
        return npipe_win_WaitForMultipleObjectsEx(1, &hHandle, FALSE, dwMilliseconds, bAlertable);
}

NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds)
{
        return npipe_win_WaitForMultipleObjectsEx(1, &hHandle, FALSE, dwMilliseconds, FALSE);
}

NPIPE_WIN_API DWORD WINAPI npipe_win_SleepEx(DWORD dwMilliseconds, BOOL bAlertable)
{
        struct w_thread *t = np_win_self();
        int64_t deadline = np_win_deadline(dwMilliseconds);
        if (bAlertable)
                atomic_store(&t->alertable, 1);
        for (;;) {
                uint32_t seen = atomic_load(&t->seq);
                if (bAlertable && np_win_apc_pending(t))
                        break;
                if (deadline >= 0 && np_now_ns() >= deadline)
                        break;
                np_futex_wait_until(&t->seq, seen, 0, deadline);
        }
        atomic_store(&t->alertable, 0);
        if (bAlertable && np_win_run_apcs(t))
                return WAIT_IO_COMPLETION;
        return 0;
}

NPIPE_WIN_API VOID WINAPI npipe_win_Sleep(DWORD dwMilliseconds)
{
        npipe_win_SleepEx(dwMilliseconds, FALSE);
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetCurrentProcessId(void)
{
        return (DWORD)getpid();
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetCurrentThreadId(void)
{
        return (DWORD)syscall(SYS_gettid);
}

/* OVL-10, OVL-19: a user APC is one more entry in the queue the completion
 * routines use, so it runs exactly where they do - in the thread's next
 * alertable wait - and never inside a pipe call, none of which is
 * alertable. */
NPIPE_WIN_API DWORD WINAPI npipe_win_QueueUserAPC(PAPCFUNC pfnAPC, HANDLE hThread, ULONG_PTR dwData)
{
        struct w_thread *t = np_win_thread_of(hThread);
        if (!t)
                return 0;
        DWORD ok = 0;
        struct w_apc *a;
        if (!pfnAPC) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
        } else if (atomic_load(&t->gone)) {
                /* NtQueueApcThread's STATUS_UNSUCCESSFUL for a thread that
                 * has terminated */
                np_win_set_error(ERROR_GEN_FAILURE);
        } else if (!(a = calloc(1, sizeof(*a)))) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        } else {
                a->user = pfnAPC;
                a->data = dwData;
                np_win_queue_apc(t, a);
                ok = 1;
        }
        np_win_thread_put(t);
        return ok;
}
