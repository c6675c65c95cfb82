/*
 * overlapped.c - the operations of the native engine (client/async.h) as
 * Win32 sees them: the record of each pending operation, its start and
 * its end (the engine's callback), CancelIo, CancelIoEx,
 * CancelSynchronousIo and the cancellation at process exit (spec OVL,
 * CANCEL).
 *
 * io.c starts operations here (np_win_op_start) for overlapped calls, for
 * synchronous calls on overlapped handles and for the blocking connect
 * that CancelSynchronousIo must be able to end; their completions are
 * handed to completion.c.  The record lives apart from io.c because
 * nothing on the plain synchronous path needs it.
 */
#include "client/async.h"
#include "win32/win32.h"

#include <stdlib.h>

/* A pending overlapped operation, known to the engine by its address
 * (the `ctx` of np_async_*, so cancelling names exactly this one). */
struct w_op {
        struct w_op *next, *prev; /* in pipe->ops, under pipe->lock */
        _Atomic int refs;
        int linked;
        enum w_op_kind kind;
        struct w_pipe *pipe;
        OVERLAPPED *ov;
        struct w_event *event;
        struct w_port *port; /* post the completion here (a reference) */
        ULONG_PTR key;
        LPOVERLAPPED_COMPLETION_ROUTINE routine;
        struct w_thread *thread; /* the issuing thread: APCs, CancelIo */
        struct w_sync *sync;     /* a synchronous call waiting for this */
};

static void op_put(struct w_op *op)
{
        if (atomic_fetch_sub(&op->refs, 1) != 1)
                return;
        if (op->event)
                np_win_put(&op->event->obj);
        if (op->port)
                np_win_put((struct w_obj *)op->port);
        if (op->thread)
                np_win_thread_put(op->thread);
        np_win_put(&op->pipe->obj);
        free(op);
}

static void op_link(struct w_op *op)
{
        struct w_pipe *p = op->pipe;
        pthread_mutex_lock(&p->lock);
        op->prev = NULL;
        op->next = p->ops;
        if (p->ops)
                p->ops->prev = op;
        p->ops = op;
        op->linked = 1;
        pthread_mutex_unlock(&p->lock);
}

static void op_unlink(struct w_op *op)
{
        struct w_pipe *p = op->pipe;
        pthread_mutex_lock(&p->lock);
        if (op->linked) {
                if (op->prev)
                        op->prev->next = op->next;
                else
                        p->ops = op->next;
                if (op->next)
                        op->next->prev = op->prev;
                op->linked = 0;
        }
        pthread_mutex_unlock(&p->lock);
}

/* CancelSynchronousIo finds the synchronous call a thread is blocked in
 * through the thread (w_thread.sync_op); the entry is made before the
 * operation starts and removed before its record can go away, both under
 * the thread's apc_lock, so a canceller that finds it can take a
 * reference. */
static void sync_register(struct w_op *op)
{
        pthread_mutex_lock(&op->thread->apc_lock);
        op->thread->sync_op = op;
        pthread_mutex_unlock(&op->thread->apc_lock);
}

static void sync_unregister(struct w_op *op)
{
        pthread_mutex_lock(&op->thread->apc_lock);
        if (op->thread->sync_op == op)
                op->thread->sync_op = NULL;
        pthread_mutex_unlock(&op->thread->apc_lock);
}

/* Set once the process exits: see at_exit(). */
static _Atomic int exiting;

/* The engine's callback: a pending operation has ended. */
static void op_done(void *ctx, int status, size_t bytes)
{
        struct w_op *op = ctx;
        op_unlink(op);
        if (op->sync) {
                struct w_sync *sw = op->sync;
                struct w_pipe *p = op->pipe;
                sync_unregister(op);
                np_win_ref(&p->obj);
                op_put(op);
                sw->status = status;
                sw->bytes = bytes;
                atomic_store(&sw->done, 1);
                np_futex_wake(&sw->done, 0, 1);
                np_win_signal(&p->wt);
                np_win_put(&p->obj);
                return;
        }
        /* at exit the OVERLAPPED may be in a stack frame that is gone, as
         * Windows programs often leave it: write nothing */
        if (atomic_load(&exiting)) {
                op_put(op);
                return;
        }
        uint32_t nt = np_win_op_ntstatus(op->kind, status, 1);
        np_win_deliver(op->pipe, op->ov, op->event, op->port, op->key, op->routine, op->thread, nt,
                       bytes);
        op_put(op);
}

static int start_async(struct w_pipe *p, const struct w_io_req *rq, size_t *bytes, struct w_op *op)
{
        switch (rq->kind) {
        case WOP_READ:
                return np_async_read(p->np, rq->buf, rq->len, bytes, op_done, op);
        case WOP_WRITE:
                return np_async_write(p->np, rq->wbuf, rq->len, bytes, op_done, op);
        case WOP_LISTEN:
                *bytes = 0;
                return np_async_listen(p->np, op_done, op);
        case WOP_TRANSACT:
                return np_async_transact(p->np, rq->wbuf, rq->wlen, rq->buf, rq->len, bytes,
                                         op_done, op);
        default:
                return NPIPE_EINVAL;
        }
}

static int cancel(struct w_pipe *p, const OVERLAPPED *ov, struct w_thread *thread, int writes);

/* CLOSE-09, CANCEL-08: process exit cancels the process's pending I/O.
 * What matters to the peer is the writes: the unread rest of a pending
 * write vanishes (QUOTA-07) instead of staying readable after we are gone.
 * Reads and listens need nothing: the close of the ends tells the peer. */
static void cancel_writes_of(struct w_obj *o, void *arg)
{
        struct w_pipe *p = (struct w_pipe *)o;
        (void)arg;
        /* as np_win_pipe_enter: a native end being closed is left alone */
        np_win_ref(o);
        atomic_fetch_add(&p->calls, 1);
        if (!atomic_load(&p->closed))
                cancel(p, NULL, NULL, 1);
        np_win_pipe_leave(p);
}

static void at_exit(void)
{
        atomic_store(&exiting, 1);
        np_win_handle_foreach(W_PIPE, cancel_writes_of, NULL);
}

static void at_exit_register(void)
{
        atexit(at_exit);
}

/* The handle turns unsignalled once its operation is pending in the
 * engine (np_async_on_start). */
static void unsignal_handle(void *arg)
{
        struct w_pipe *p = arg;
        np_win_unsignal(&p->wt);
}

/* A record's references: the pipe, the event, the port, the thread. */
static void op_take_refs(struct w_op *op)
{
        np_win_ref(&op->pipe->obj);
        if (op->event)
                np_win_ref(&op->event->obj);
        if (op->port)
                np_win_ref((struct w_obj *)op->port);
        op->thread = np_win_self();
        np_win_thread_ref(op->thread);
}

/* A read or write with an OVERLAPPED: its record is made only when it
 * pends (np_async_hooks), from the fields kept here on the stack.  Most
 * overlapped calls complete at once (the data is there, the quota has
 * room); a record per call, its references and its link were most of
 * their cost (docs/performance.md, "Win32 overlapped I/O"). */
struct lazy_op {
        struct w_pipe *pipe;
        enum w_op_kind kind;
        OVERLAPPED *ov;
        struct w_event *event;
        struct w_port *port;
        ULONG_PTR key;
        LPOVERLAPPED_COMPLETION_ROUTINE routine;
        struct w_op *op; /* the record, once made */
};

static void *lazy_make(void *arg)
{
        struct lazy_op *l = arg;
        /* malloc, not calloc: glibc's calloc bypasses the per-thread cache */
        struct w_op *op = malloc(sizeof(*op));
        if (!op)
                return NULL;
        *op = (struct w_op){.kind = l->kind,
                            .pipe = l->pipe,
                            .ov = l->ov,
                            .event = l->event,
                            .port = l->port,
                            .key = l->key,
                            .routine = l->routine};
        /* one reference for the starting call, one for the callback */
        atomic_init(&op->refs, 2);
        op_take_refs(op);
        l->op = op;
        return op;
}

/* Under the engine's lock, before the operation can complete: findable
 * by CancelIo(Ex) and GetOverlappedResult, and the handle unsignalled
 * (CANCEL-05), in that order; and the event, which io_ovl_rw leaves set
 * until the call pends. */
static void lazy_link(void *arg)
{
        struct lazy_op *l = arg;
        op_link(l->op);
        if (l->event)
                np_win_unsignal(&l->event->wt);
        np_win_unsignal(&l->pipe->wt);
}

/* After the engine's start of l's operation, which returned r. */
static int lazy_started(struct lazy_op *l, int r)
{
        np_async_hooks(NULL, NULL, NULL);
        if (r == NP_ASYNC_PENDING) {
                op_put(l->op); /* the starting call's reference */
                return r;
        }
        /* do_io: the I/O started and ended.  A release store, as a
         * synchronous call's (np_win_unsignal_io): nothing waits for the
         * handle to drop */
        np_win_unsignal_io(&l->pipe->wt);
        if (l->op) {
                /* made, then finished at once (a remote start that failed):
                 * the callback will not run */
                op_unlink(l->op);
                op_put(l->op);
                op_put(l->op);
        }
        return r;
}

static int op_start_lazy(struct w_pipe *p, const struct w_io_req *rq, OVERLAPPED *ov,
                         struct w_event *ev, struct w_port *port, ULONG_PTR key,
                         LPOVERLAPPED_COMPLETION_ROUTINE routine, size_t *bytes)
{
        struct lazy_op l = {.pipe = p,
                            .kind = rq->kind,
                            .ov = ov,
                            .event = ev,
                            .port = port,
                            .key = key,
                            .routine = routine};
        np_async_hooks(lazy_make, lazy_link, &l);
        /* &l stands for the record until there is one: the engine keeps
         * it only if the operation pends, and then takes the record's
         * address instead */
        return lazy_started(&l, start_async(p, rq, bytes, (struct w_op *)(void *)&l));
}

/* Process exit cancels our pending writes (at_exit), once there can be
 * any. */
static void exit_hook(void)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, at_exit_register);
}

int np_win_op_rw(struct w_pipe *p, enum w_op_kind kind, void *buf, size_t len, OVERLAPPED *ov,
                 struct w_event *ev, struct w_port *port, ULONG_PTR key, size_t *bytes)
{
        struct lazy_op l = {
            .pipe = p, .kind = kind, .ov = ov, .event = ev, .port = port, .key = key};
        if (kind == WOP_WRITE)
                exit_hook();
        np_async_hooks(lazy_make, lazy_link, &l);
        int r = kind == WOP_WRITE ? np_async_write(p->np, buf, len, bytes, op_done, &l)
                                  : np_async_read(p->np, buf, len, bytes, op_done, &l);
        return lazy_started(&l, r);
}

/* Start an overlapped operation: its record, linked where CancelIo finds
 * it.  NP_ASYNC_PENDING, or the result of an operation finished at once
 * (the record is then gone). */
int np_win_op_start(struct w_pipe *p, const struct w_io_req *rq, OVERLAPPED *ov, struct w_event *ev,
                    struct w_port *port, ULONG_PTR key, LPOVERLAPPED_COMPLETION_ROUTINE routine,
                    struct w_sync *sync, size_t *bytes)
{
        if (rq->kind == WOP_WRITE)
                exit_hook();
        if (!sync && (rq->kind == WOP_READ || rq->kind == WOP_WRITE))
                return op_start_lazy(p, rq, ov, ev, port, key, routine, bytes);
        struct w_op *op = malloc(sizeof(*op));
        if (!op)
                return NPIPE_ENOMEM;
        *op = (struct w_op){0};
        /* one reference for this call, one for the engine's callback */
        atomic_init(&op->refs, 2);
        op->kind = rq->kind;
        op->pipe = p;
        op->ov = ov;
        op->event = ev;
        op->port = port;
        op->key = key;
        op->routine = routine;
        op->sync = sync;
        op_take_refs(op);
        /* a synchronous call on a synchronous handle is not one of the
         * handle's overlapped operations: CancelIo(Ex) do not see it, only
         * CancelSynchronousIo does (CANCEL-05) */
        int sync_handle = sync && !p->overlapped;
        if (sync_handle)
                sync_register(op);
        else
                op_link(op);
        np_async_on_start(unsignal_handle, p);
        int r = start_async(p, rq, bytes, op);
        np_async_on_start(NULL, NULL);
        if (r != NP_ASYNC_PENDING)
                np_win_unsignal(&p->wt); /* do_io: the I/O started and ended */
        if (r != NP_ASYNC_PENDING) {
                /* finished at once: the callback will not run (a CancelIoEx
                 * may hold a reference of its own for a moment) */
                if (sync_handle)
                        sync_unregister(op);
                op_unlink(op);
                op_put(op);
        }
        op_put(op);
        return r;
}

/* GetOverlappedResult's wait for the pending operation of p that writes
 * `ov`: completed in the waiting thread where the engine can
 * (np_async_help, np_win_help_ov).  1 when the OVERLAPPED is complete,
 * 0 at the deadline, -1 when it cannot help: wait as before. */
int np_win_op_help(struct w_pipe *p, OVERLAPPED *ov, int64_t deadline)
{
        /* as np_win_pipe_enter: the native end stays open meanwhile; a
         * handle being closed is left to the usual wait */
        atomic_fetch_add(&p->calls, 1);
        int r = -1;
        if (!atomic_load(&p->closed)) {
                void *ctx = NULL;
                pthread_mutex_lock(&p->lock);
                for (struct w_op *op = p->ops; op; op = op->next)
                        if (op->ov == ov) {
                                ctx = op;
                                break;
                        }
                pthread_mutex_unlock(&p->lock);
                /* ctx only names the operation to the engine, which
                 * compares it and never follows it */
                if (ctx)
                        r = np_win_help_ov(p->np, ctx, ov, deadline);
        }
        np_win_pipe_exit(p);
        return r;
}

/* ---- cancellation --------------------------------------------------------------------------- */

/* Cancel the pending operations of a handle that match: one OVERLAPPED
 * (CancelIoEx), every one (CancelIoEx with NULL), or the calling thread's
 * (CancelIo, CANCEL-03).  Their callbacks run before this returns. */
static int cancel(struct w_pipe *p, const OVERLAPPED *ov, struct w_thread *thread, int writes)
{
        struct w_op *list[64];
        int total = 0;
        for (;;) {
                int n = 0, more = 0;
                pthread_mutex_lock(&p->lock);
                for (struct w_op *op = p->ops; op; op = op->next) {
                        if ((ov && op->ov != ov) || (thread && op->thread != thread) ||
                            (writes && op->kind != WOP_WRITE))
                                continue;
                        if (n == 64) {
                                more = 1;
                                break;
                        }
                        atomic_fetch_add(&op->refs, 1);
                        list[n++] = op;
                }
                pthread_mutex_unlock(&p->lock);
                int done = 0;
                /* no lock held: the callback runs in np_async_cancel */
                for (int i = 0; i < n; i++) {
                        if (np_async_cancel(p->np, list[i]) == 0)
                                done++;
                        op_put(list[i]);
                }
                total += done;
                /* go on only while progress is made (ops that are completing
                 * right now are not found and leave the list by themselves) */
                if (!more || !done)
                        break;
        }
        /* An operation a completion had already taken is not found, but its
         * callback may still be writing the OVERLAPPED: when CancelIo(Ex)
         * returns - found or not - it is over (issue 18). */
        np_async_quiesce(p->np);
        return total;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped)
{
        struct w_pipe *p = np_win_pipe_enter(hFile);
        if (!p)
                return FALSE;
        int n = cancel(p, lpOverlapped, NULL, 0);
        np_win_pipe_leave(p);
        /* CANCEL-02: nothing (left) to cancel */
        if (n == 0)
                return np_win_fail(ERROR_NOT_FOUND);
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_CancelIo(HANDLE hFile)
{
        struct w_pipe *p = np_win_pipe_enter(hFile);
        if (!p)
                return FALSE;
        cancel(p, NULL, np_win_self(), 0);
        np_win_pipe_leave(p);
        return TRUE;
}

/* CANCEL-05, CONNECT-10: the synchronous call on a synchronous handle the
 * thread is blocked in (ConnectNamedPipe, ReadFile, WriteFile,
 * TransactNamedPipe, FlushFileBuffers) fails with ERROR_OPERATION_ABORTED. */
NPIPE_WIN_API BOOL WINAPI npipe_win_CancelSynchronousIo(HANDLE hThread)
{
        struct w_thread *t = np_win_thread_of(hThread);
        if (!t)
                return FALSE;
        pthread_mutex_lock(&t->apc_lock);
        struct w_op *op = t->sync_op;
        if (op)
                atomic_fetch_add(&op->refs, 1);
        pthread_mutex_unlock(&t->apc_lock);
        if (!op && atomic_load(&t->sync_native)) {
                /* a native blocking call: its waits end (client/cancel.h).
                 * Our reference keeps the token's memory alive. */
                np_synccancel_fire(&t->sync_cancel);
                np_win_thread_put(t);
                return TRUE;
        }
        np_win_thread_put(t);
        if (!op)
                return np_win_fail(ERROR_NOT_FOUND);
        /* as cancel_writes_of: enter the pipe so its native end stays open
         * while we cancel, and leave a closed one alone */
        struct w_pipe *p = op->pipe;
        np_win_ref(&p->obj);
        atomic_fetch_add(&p->calls, 1);
        int r = NPIPE_ENOTFOUND;
        if (!atomic_load(&p->closed))
                r = np_async_cancel(p->np, op);
        np_win_pipe_leave(p);
        op_put(op);
        if (r != 0)
                return np_win_fail(ERROR_NOT_FOUND);
        /* the last error is left alone on success */
        return TRUE;
}
