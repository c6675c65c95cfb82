/*
 * port.c - I/O completion ports: CreateIoCompletionPort,
 * GetQueuedCompletionStatus(Ex), PostQueuedCompletionStatus.
 *
 * A port is a FIFO of packets under a mutex.  Threads waiting for packets
 * sleep on their own futex word (struct w_thread.seq), like every wait in
 * this layer, so an alertable GetQueuedCompletionStatusEx can be woken by a
 * queued completion routine as well.  A posted packet wakes the waiter that
 * came last (NT releases waiting threads last in, first out: the hottest
 * thread gets the work) and marks it, so that a burst of packets wakes as
 * many different threads as there are packets.
 */
#include "client/async.h"
#include "win32/win32.h"

#include <stdlib.h>

struct w_packet {
        struct w_packet *next;
        DWORD bytes;
        ULONG_PTR key;
        OVERLAPPED *ov;
        uint32_t nt;
};

struct w_pwait {
        struct w_pwait *next, *prev;
        struct w_thread *t;
        int woken;
};

struct w_port {
        struct w_obj obj;
        pthread_mutex_t lock;
        struct w_packet *head, *tail;
        struct w_pwait *waiters; /* most recent first */
        int closed;
};

struct w_port *np_win_port_from(struct w_obj *o)
{
        return o && o->type == W_PORT ? (struct w_port *)o : NULL;
}

static void free_packets(struct w_packet *p)
{
        while (p) {
                struct w_packet *next = p->next;
                free(p);
                p = next;
        }
}

static void port_destroy(struct w_obj *o)
{
        struct w_port *p = (struct w_port *)o;
        free_packets(p->head);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

/* CloseHandle: waiting threads return ERROR_ABANDONED_WAIT_0; packets of
 * operations still pending on bound pipes are dropped from now on. */
static void port_close(struct w_obj *o)
{
        struct w_port *p = (struct w_port *)o;
        pthread_mutex_lock(&p->lock);
        p->closed = 1;
        struct w_packet *pk = p->head;
        p->head = p->tail = NULL;
        for (struct w_pwait *w = p->waiters; w; w = w->next) {
                w->woken = 1;
                np_win_thread_wake(w->t);
        }
        pthread_mutex_unlock(&p->lock);
        free_packets(pk);
}

/* Under the lock: wake the most recent waiter that has not been woken. */
static void wake_one(struct w_port *p)
{
        for (struct w_pwait *w = p->waiters; w; w = w->next)
                if (!w->woken) {
                        w->woken = 1;
                        np_win_thread_wake(w->t);
                        return;
                }
}

int np_win_port_post(struct w_port *p, DWORD bytes, ULONG_PTR key, OVERLAPPED *ov, uint32_t nt)
{
        struct w_packet *pk = malloc(sizeof(*pk));
        if (!pk)
                return -1; /* for a completion: lost like one for a closed port */
        pk->next = NULL;
        pk->bytes = bytes;
        pk->key = key;
        pk->ov = ov;
        pk->nt = nt;
        pthread_mutex_lock(&p->lock);
        if (p->closed) {
                pthread_mutex_unlock(&p->lock);
                free(pk);
                return 0;
        }
        if (p->tail)
                p->tail->next = pk;
        else
                p->head = pk;
        p->tail = pk;
        wake_one(p);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

static struct w_port *port_new(void)
{
        struct w_port *p = calloc(1, sizeof(*p));
        if (!p) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        np_win_obj_init(&p->obj, W_PORT, port_destroy, port_close);
        pthread_mutex_init(&p->lock, NULL);
        return p;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateIoCompletionPort(HANDLE FileHandle,
                                                             HANDLE ExistingCompletionPort,
                                                             ULONG_PTR CompletionKey,
                                                             DWORD NumberOfConcurrentThreads)
{
        /* NumberOfConcurrentThreads: every waiting thread may run (docs) */
        (void)NumberOfConcurrentThreads;
        if (FileHandle == INVALID_HANDLE_VALUE) {
                if (ExistingCompletionPort) {
                        np_win_set_error(ERROR_INVALID_PARAMETER);
                        return NULL;
                }
                struct w_port *p = port_new();
                return p ? np_win_handle_new(&p->obj) : NULL;
        }
        struct w_pipe *pipe = np_win_pipe_get(FileHandle);
        if (!pipe)
                return NULL;
        struct w_port *port;
        HANDLE ret;
        if (ExistingCompletionPort) {
                port = np_win_port_from(np_win_handle_get(ExistingCompletionPort, W_PORT));
                ret = ExistingCompletionPort;
        } else {
                port = port_new();
                ret = NULL;
                if (port) {
                        /* a reference for the pipe's binding, one for the handle */
                        np_win_ref(&port->obj);
                        ret = np_win_handle_new(&port->obj);
                        if (!ret) {
                                np_win_put(&port->obj);
                                port = NULL;
                        }
                }
        }
        if (port && !np_win_pipe_bind(pipe, port, CompletionKey)) {
                if (!ExistingCompletionPort) {
                        DWORD err = npipe_win_GetLastError();
                        npipe_win_CloseHandle(ret);
                        np_win_set_error(err);
                }
                ret = NULL;
        }
        if (port)
                np_win_put(&port->obj);
        np_win_put(&pipe->obj);
        return port ? ret : NULL;
}

/* Take up to `count` packets; 0 on timeout (ERROR set), -1 on failure. */
static int dequeue(struct w_port *p, OVERLAPPED_ENTRY *out, ULONG count, DWORD ms, int alertable,
                   DWORD *err)
{
        struct w_thread *t = np_win_self();
        int64_t deadline = np_win_deadline(ms);
        struct w_pwait me = {.t = t};
        int n = 0;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                if (p->closed) {
                        *err = ERROR_ABANDONED_WAIT_0;
                        n = -1;
                        break;
                }
                while (p->head && (ULONG)n < count) {
                        struct w_packet *pk = p->head;
                        p->head = pk->next;
                        if (!p->head)
                                p->tail = NULL;
                        out[n].lpCompletionKey = pk->key;
                        out[n].lpOverlapped = pk->ov;
                        out[n].Internal = pk->nt;
                        out[n].dwNumberOfBytesTransferred = pk->bytes;
                        free(pk);
                        n++;
                }
                if (n) {
                        /* more work than we take: let another waiter have it */
                        if (p->head)
                                wake_one(p);
                        break;
                }
                if (alertable && np_win_apc_pending(t)) {
                        pthread_mutex_unlock(&p->lock);
                        np_win_run_apcs(t);
                        *err = WAIT_IO_COMPLETION;
                        return 0;
                }
                if (ms == 0 || (deadline >= 0 && np_now_ns() >= deadline)) {
                        *err = WAIT_TIMEOUT;
                        break;
                }
                uint32_t seen = atomic_load(&t->seq);
                me.woken = 0;
                me.prev = NULL;
                me.next = p->waiters;
                if (p->waiters)
                        p->waiters->prev = &me;
                p->waiters = &me;
                if (alertable)
                        atomic_store(&t->alertable, 1);
                pthread_mutex_unlock(&p->lock);
                if (!alertable || !np_win_apc_pending(t)) {
                        np_async_flush(); /* about to sleep: the deferred kicks first */
                        np_futex_wait_until(&t->seq, seen, 0, deadline);
                }
                atomic_store(&t->alertable, 0);
                pthread_mutex_lock(&p->lock);
                if (me.prev)
                        me.prev->next = me.next;
                else
                        p->waiters = me.next;
                if (me.next)
                        me.next->prev = me.prev;
        }
        pthread_mutex_unlock(&p->lock);
        return n;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetQueuedCompletionStatus(HANDLE CompletionPort,
                                                              LPDWORD lpNumberOfBytesTransferred,
                                                              PULONG_PTR lpCompletionKey,
                                                              LPOVERLAPPED *lpOverlapped,
                                                              DWORD dwMilliseconds)
{
        if (lpOverlapped)
                *lpOverlapped = NULL;
        struct w_port *p = np_win_port_from(np_win_handle_get(CompletionPort, W_PORT));
        if (!p)
                return FALSE;
        OVERLAPPED_ENTRY e;
        DWORD err = 0;
        int n = dequeue(p, &e, 1, dwMilliseconds, 0, &err);
        np_win_put(&p->obj);
        if (n <= 0)
                return np_win_fail(err);
        if (lpNumberOfBytesTransferred)
                *lpNumberOfBytesTransferred = e.dwNumberOfBytesTransferred;
        if (lpCompletionKey)
                *lpCompletionKey = e.lpCompletionKey;
        if (lpOverlapped)
                *lpOverlapped = e.lpOverlapped;
        /* a failed operation: FALSE with its OVERLAPPED and its error */
        if (!W_NT_SUCCESS(e.Internal))
                return np_win_fail(np_win_nt_to_error((uint32_t)e.Internal));
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetQueuedCompletionStatusEx(
    HANDLE CompletionPort, LPOVERLAPPED_ENTRY lpCompletionPortEntries, ULONG ulCount,
    PULONG ulNumEntriesRemoved, DWORD dwMilliseconds, BOOL fAlertable)
{
        if (ulNumEntriesRemoved)
                *ulNumEntriesRemoved = 0;
        if (!lpCompletionPortEntries || !ulCount || !ulNumEntriesRemoved)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct w_port *p = np_win_port_from(np_win_handle_get(CompletionPort, W_PORT));
        if (!p)
                return FALSE;
        DWORD err = 0;
        int n =
            dequeue(p, lpCompletionPortEntries, ulCount, dwMilliseconds, fAlertable ? 1 : 0, &err);
        np_win_put(&p->obj);
        if (n <= 0)
                return np_win_fail(err);
        *ulNumEntriesRemoved = (ULONG)n;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_PostQueuedCompletionStatus(HANDLE CompletionPort,
                                                               DWORD dwNumberOfBytesTransferred,
                                                               ULONG_PTR dwCompletionKey,
                                                               LPOVERLAPPED lpOverlapped)
{
        struct w_port *p = np_win_port_from(np_win_handle_get(CompletionPort, W_PORT));
        if (!p)
                return FALSE;
        int r = np_win_port_post(p, dwNumberOfBytesTransferred, dwCompletionKey, lpOverlapped,
                                 W_STATUS_SUCCESS);
        np_win_put(&p->obj);
        if (r < 0)
                return np_win_fail(ERROR_NO_SYSTEM_RESOURCES);
        return TRUE;
}
