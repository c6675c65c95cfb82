/*
 * apc.c - per-thread state: the futex word a thread of this layer sleeps
 * on (struct w_thread.seq), its APC queue (ReadFileEx / WriteFileEx
 * completion routines and QueueUserAPC), and the sleep on that word that
 * every wait of the layer ends in.
 *
 * This is the bottom of the dispatcher: it calls nothing else in the
 * layer.  waitable.c (the dispatcher core), port.c, thread.c, wait.c and
 * the I/O files build on it.
 */
#include "client/async.h"
#include "win32/win32.h"

#include <stdlib.h>

static pthread_key_t self_key;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;
/* the calling thread's state once made (np_win_self, inline in win32.h) */
_Thread_local struct w_thread *np_win_self_tls;

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
        np_win_self_tls = NULL;
        np_win_thread_put(t);
}

static void self_key_init(void)
{
        pthread_key_create(&self_key, thread_exit);
}

struct w_thread *np_win_self_make(void)
{
        pthread_once(&self_once, self_key_init);
        struct w_thread *t = calloc(1, sizeof(*t));
        if (!t)
                abort(); /* a few bytes per thread; nothing sensible to report */
        atomic_init(&t->refs, 1);
        pthread_mutex_init(&t->apc_lock, NULL);
        pthread_setspecific(self_key, t);
        np_win_self_tls = t;
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

void np_win_thread_sleep(struct w_thread *t, _Atomic int *done, int alertable, int64_t deadline)
{
        for (;;) {
                /* read the word before looking: a wake that comes after the
                 * look changes it, and the futex wait then returns at once */
                uint32_t seen = atomic_load(&t->seq);
                if (done && atomic_load(done) >= 0)
                        break;
                if (alertable && np_win_apc_pending(t))
                        break;
                if (deadline >= 0 && np_now_ns() >= deadline)
                        break;
                np_async_flush(); /* about to sleep: the deferred kicks first */
                np_futex_wait_until(&t->seq, seen, 0, deadline);
        }
        atomic_store(&t->alertable, 0);
}
