/*
 * io.c - ReadFile, WriteFile, ReadFileEx, WriteFileEx, ConnectNamedPipe,
 * TransactNamedPipe, PeekNamedPipe, DisconnectNamedPipe, FlushFileBuffers,
 * GetOverlappedResult(Ex), CancelIo(Ex): synchronous and overlapped I/O
 * (spec OVL, CANCEL, ORDER).
 *
 * Which path a call takes is Windows' rule: an OVERLAPPED on a handle made
 * with FILE_FLAG_OVERLAPPED starts an operation that may stay pending (the
 * native engine in client/async.h); everything else runs the blocking
 * native call, and an OVERLAPPED given with a synchronous handle only
 * receives the result (OVL-15).
 *
 * What the program sees follows NT's I/O manager:
 *   - OVERLAPPED.Internal is STATUS_PENDING from the start of the call; an
 *     operation that fails at once leaves it so and writes nothing else
 *     (OVL-05, OVL-15, CONNECT-03);
 *   - the event is reset when the operation starts, and the handle too
 *     (OVL-02, CONNECT-04); a completion - at once or later - sets the
 *     event, or the handle when there is no event (OVL-03, OVL-04, OVL-14),
 *     posts a packet to the bound port and queues the completion routine;
 *     a failure at once does none of these (OVL-05);
 *   - ERROR_MORE_DATA is a completion (STATUS_BUFFER_OVERFLOW): with an
 *     OVERLAPPED the immediate count is 0 and the real one is in
 *     InternalHigh (MSG-08).
 */
#include "client/async.h"
#include "win32/win32.h"

#include <stdlib.h>
#include <string.h>

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

/* A synchronous call on an overlapped handle waits here for its operation,
 * as kernelbase waits on the handle after NtReadFile returns STATUS_PENDING.
 * Waiting outside the native layer lets a CloseHandle in another thread end
 * the operation (and the call) at once. */
struct w_sync {
        _Atomic uint32_t done;
        int status;
        size_t bytes;
};

/* What one call asks for. */
struct io_req {
        enum w_op_kind kind;
        void *buf;        /* read; transact: the reply buffer */
        const void *wbuf; /* write; transact: the request */
        size_t len;       /* read or write length; transact: reply size */
        size_t wlen;      /* transact: request size */
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

static void store_internal(OVERLAPPED *ov, uint32_t nt)
{
        /* InternalHigh first: whoever sees Internal complete sees the count */
        __atomic_store_n(&ov->Internal, (ULONG_PTR)nt, __ATOMIC_RELEASE);
}

/* A completion - at once or later: fill the OVERLAPPED, then signal,
 * post and queue, in the order NT does. */
static void deliver(struct w_pipe *p, OVERLAPPED *ov, struct w_event *ev, struct w_port *port,
                    ULONG_PTR key, LPOVERLAPPED_COMPLETION_ROUTINE routine, struct w_thread *thread,
                    uint32_t nt, size_t bytes)
{
        DWORD n = W_NT_ERROR(nt) ? 0 : (DWORD)bytes;
        if (ov) {
                ov->InternalHigh = n;
                store_internal(ov, nt);
        }
        if (ev)
                np_win_signal(&ev->wt);
        else if (!ov || !p->overlapped ||
                 !(atomic_load(&p->notify) & FILE_SKIP_SET_EVENT_ON_HANDLE))
                /* OVL-13: the mode is about overlapped operations; a
                 * synchronous call still signals the handle it waited on */
                np_win_signal(&p->wt);
        if (port)
                np_win_port_post(port, n, key, ov, nt);
        if (routine && thread) {
                struct w_apc *a = calloc(1, sizeof(*a));
                if (a) {
                        a->routine = routine;
                        a->err = np_win_nt_to_error(nt);
                        a->bytes = n;
                        a->ov = ov;
                        np_win_queue_apc(thread, a);
                }
        }
        np_win_completion_bump();
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
        deliver(op->pipe, op->ov, op->event, op->port, op->key, op->routine, op->thread, nt, bytes);
        op_put(op);
}

static int start_async(struct w_pipe *p, const struct io_req *rq, size_t *bytes, struct w_op *op)
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

/* A synchronous call on a synchronous handle runs the native blocking
 * call with the thread's cancel token in place, so that
 * CancelSynchronousIo can end it (CANCEL-05, client/cancel.h).  The flag
 * is set before the handle turns unsignalled: a program that waits for
 * that and then cancels finds the call. */
static struct w_thread *native_enter(void)
{
        struct w_thread *t = np_win_self();
        np_synccancel_enter(&t->sync_cancel);
        /* release: a canceller that sees the flag sees the token reset */
        atomic_store_explicit(&t->sync_native, 1, memory_order_release);
        return t;
}

static void native_leave(struct w_thread *t)
{
        atomic_store_explicit(&t->sync_native, 0, memory_order_relaxed);
        np_synccancel_leave();
}

static int run_sync(struct w_pipe *p, const struct io_req *rq, size_t *bytes)
{
        *bytes = 0;
        switch (rq->kind) {
        case WOP_READ:
                return npipe_read(p->np, rq->buf, rq->len, bytes);
        case WOP_WRITE:
                return npipe_write(p->np, rq->wbuf, rq->len, bytes);
        case WOP_LISTEN:
                return npipe_listen(p->np, NPIPE_INFINITE);
        case WOP_TRANSACT:
                return npipe_transact(p->np, rq->wbuf, rq->wlen, rq->buf, rq->len, bytes);
        default:
                return NPIPE_EINVAL;
        }
}

static unsigned rights_needed(enum w_op_kind kind)
{
        switch (kind) {
        case WOP_READ:
        case WOP_PEEK:
                return WACC_READ; /* PEEK-14 */
        case WOP_WRITE:
        case WOP_FLUSH:
                return WACC_WRITE;
        case WOP_TRANSACT:
                return WACC_READ | WACC_WRITE; /* TRANS-12 */
        default:
                return 0;
        }
}

/* The event of an OVERLAPPED: the low bit of hEvent only says "no packet". */
static HANDLE ov_event(const OVERLAPPED *ov)
{
        return (HANDLE)((uintptr_t)ov->hEvent & ~(uintptr_t)1);
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

/* Start an overlapped operation: its record, linked where CancelIo finds
 * it.  NP_ASYNC_PENDING, or the result of an operation finished at once
 * (the record is then gone). */
static int start_op(struct w_pipe *p, const struct io_req *rq, OVERLAPPED *ov, struct w_event *ev,
                    struct w_port *port, ULONG_PTR key, LPOVERLAPPED_COMPLETION_ROUTINE routine,
                    struct w_sync *sync, size_t *bytes)
{
        struct w_op *op = calloc(1, sizeof(*op));
        if (!op)
                return NPIPE_ENOMEM;
        /* one reference for this call, one for the engine's callback */
        atomic_init(&op->refs, 2);
        op->kind = rq->kind;
        op->pipe = p;
        np_win_ref(&p->obj);
        op->ov = ov;
        op->event = ev;
        if (ev)
                np_win_ref(&ev->obj);
        op->port = port;
        if (port)
                np_win_ref((struct w_obj *)port);
        op->key = key;
        op->routine = routine;
        op->sync = sync;
        op->thread = np_win_self();
        np_win_thread_ref(op->thread);
        if (rq->kind == WOP_WRITE) {
                static pthread_once_t once = PTHREAD_ONCE_INIT;
                pthread_once(&once, at_exit_register);
        }
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

/* One call of ReadFile, WriteFile, ConnectNamedPipe, TransactNamedPipe or
 * the Ex forms, through its three steps (do_io). */
struct io_call {
        struct w_pipe *p;
        const struct io_req *rq;
        OVERLAPPED *ov;
        LPOVERLAPPED_COMPLETION_ROUTINE routine;
        struct w_event *ev;   /* the OVERLAPPED's event, referenced */
        struct w_port *port;  /* the bound port for this operation, referenced */
        ULONG_PTR key;
        size_t bytes;
        int later;            /* the result came from a wait: already signalled */
        int entered;          /* still inside the pipe's calls (np_win_pipe_leave) */
};

/* The checks NT makes before any I/O starts, and the start's side effects
 * on the event and the handle; 0 with the last error set when the call
 * fails before starting (OVL-05: then nothing is signalled). */
static int io_begin(struct io_call *k, struct w_thread **native)
{
        struct w_pipe *p = k->p;
        const struct io_req *rq = k->rq;
        OVERLAPPED *ov = k->ov;
        if (k->routine) {
                /* OVL-08, OVL-16: completion routines need an overlapped
                 * handle that is not bound to a port */
                if (!ov || !p->overlapped || p->port) {
                        np_win_set_error(ERROR_INVALID_PARAMETER);
                        return 0;
                }
        }
        if (ov)
                store_internal(ov, STATUS_PENDING);
        if ((p->access & rights_needed(rq->kind)) != rights_needed(rq->kind)) {
                np_win_set_error(ERROR_ACCESS_DENIED);
                return 0;
        }
        if (ov && !k->routine && ov_event(ov)) {
                k->ev = (struct w_event *)np_win_handle_get(ov_event(ov), W_EVENT);
                if (!k->ev)
                        return 0; /* ERROR_INVALID_HANDLE */
        }
        if (k->ev)
                np_win_unsignal(&k->ev->wt);
        /* The handle turns unsignalled when the I/O starts; for the
         * operations of the engine that is once the operation is linked
         * where CancelIo(Ex) and CancelSynchronousIo find it (start_op):
         * a program that waits for the handle to drop and then cancels
         * must find it (CANCEL-05). */
        if (!p->overlapped && rq->kind != WOP_LISTEN) {
                *native = native_enter();
                np_win_unsignal(&p->wt);
        }
        return 1;
}

/* An overlapped operation on an overlapped handle: 1 when the call's
 * answer is final (pending, or a listen that found its client), with
 * *ret set; else 0 with *r the result of an operation that ended at once. */
static int io_start_overlapped(struct io_call *k, int *r, BOOL *ret)
{
        struct w_pipe *p = k->p;
        /* the port binding is fixed once made; read it once */
        pthread_mutex_lock(&p->lock);
        if (p->port && !k->routine && !((uintptr_t)k->ov->hEvent & 1)) {
                k->port = p->port;
                k->key = p->key;
                np_win_ref((struct w_obj *)k->port);
        }
        pthread_mutex_unlock(&p->lock);
        *r = start_op(p, k->rq, k->ov, k->ev, k->port, k->key, k->routine, NULL, &k->bytes);
        if (*r == 0 && k->rq->kind == WOP_LISTEN) {
                /* a client came during the call: NPFS never finishes a listen
                 * at once (it pends, then the client completes it), and
                 * programs written for Windows treat TRUE from an overlapped
                 * connect as a failure */
                deliver(p, k->ov, k->ev, k->port, k->key, NULL, NULL, W_STATUS_SUCCESS, 0);
                np_win_set_error(ERROR_IO_PENDING);
                *ret = FALSE;
                return 1;
        }
        if (*r == NP_ASYNC_PENDING) {
                /* OVL-02: the count of a pending operation is 0 */
                if (k->routine) {
                        *ret = TRUE;
                } else {
                        np_win_set_error(ERROR_IO_PENDING);
                        *ret = FALSE;
                }
                return 1;
        }
        return 0;
}

/* A synchronous call: the engine's operation waited for here (an
 * overlapped handle without an OVERLAPPED, or a connect that
 * CancelSynchronousIo must be able to end), or the native blocking call. */
static int io_run_sync(struct io_call *k, struct w_thread *native)
{
        struct w_pipe *p = k->p;
        int r;
        if (p->overlapped) {
                /* no OVERLAPPED on an overlapped handle: synchronous, but the
                 * wait is ours (struct w_sync) */
                struct w_sync sw = {0};
                r = start_op(p, k->rq, NULL, NULL, NULL, 0, NULL, &sw, &k->bytes);
                if (r == NP_ASYNC_PENDING) {
                        /* a CloseHandle meanwhile may close the end now */
                        np_win_ref(&p->obj);
                        np_win_pipe_leave(p);
                        k->entered = 0;
                        while (!atomic_load(&sw.done))
                                np_futex_wait_until(&sw.done, 0, 0, -1);
                        r = sw.status;
                        k->bytes = sw.bytes;
                        k->later = 1;
                }
        } else if (k->rq->kind == WOP_LISTEN) {
                /* a blocking connect on a synchronous handle: the engine's
                 * listen, waited for here instead of inside npipe_listen, so
                 * that CancelSynchronousIo can end it (CANCEL-05,
                 * CONNECT-10).  The call stays entered: a CloseHandle in
                 * another thread still leaves the end open until the call
                 * returns, as with the blocking native call.  No APC runs
                 * in this wait (CONNECT-09, OVL-19). */
                struct w_sync sw = {0};
                r = start_op(p, k->rq, NULL, NULL, NULL, 0, NULL, &sw, &k->bytes);
                if (r == NP_ASYNC_PENDING) {
                        while (!atomic_load(&sw.done))
                                np_futex_wait_until(&sw.done, 0, 0, -1);
                        r = sw.status;
                        k->bytes = sw.bytes;
                }
        } else {
                r = run_sync(p, k->rq, &k->bytes);
                native_leave(native);
        }
        return r;
}

/* What the caller sees of an operation that ended (at once or after a
 * wait): the event, the port's packet, the routine, the count and the
 * last error, as NT's I/O manager gives them. */
static BOOL io_result(struct io_call *k, int r, LPDWORD out_n)
{
        struct w_pipe *p = k->p;
        if (k->port && (atomic_load(&p->notify) & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)) {
                if (r == NPIPE_EMOREDATA) {
                        /* OVL-12, the Windows 8+ variant (docs/win32.md): a
                         * partial message read is a warning, not a success,
                         * so it is reported as pending and its packet
                         * (STATUS_BUFFER_OVERFLOW) is posted */
                        deliver(p, k->ov, k->ev, k->port, k->key, NULL, NULL,
                                W_STATUS_BUFFER_OVERFLOW, k->bytes);
                        np_win_set_error(ERROR_IO_PENDING);
                        return FALSE;
                }
                /* OVL-12: the caller handles a success at once itself */
                if (r >= 0) {
                        np_win_put((struct w_obj *)k->port);
                        k->port = NULL;
                }
        }
        if (r < 0 && r != NPIPE_EMOREDATA) {
                /* OVL-05: nothing signalled, posted or queued */
                np_win_set_error(np_win_op_error(k->rq->kind, r, k->later));
                return FALSE;
        }
        uint32_t nt = r >= 0 ? W_STATUS_SUCCESS : W_STATUS_BUFFER_OVERFLOW;
        /* (a synchronous call that waited has been signalled already) */
        if (!k->later)
                deliver(p, k->ov, k->ev, k->port, k->key, k->routine,
                        k->routine ? np_win_self() : NULL, nt, k->bytes);
        /* MSG-02 / MSG-08: the count is direct without an OVERLAPPED */
        if (out_n && (r >= 0 || !k->ov))
                *out_n = (DWORD)k->bytes;
        if (r >= 0)
                return TRUE;
        np_win_set_error(ERROR_MORE_DATA);
        return FALSE;
}

/* ReadFile, WriteFile, ConnectNamedPipe, TransactNamedPipe and the Ex
 * forms (routine set). */
static BOOL do_io(HANDLE h, const struct io_req *rq, LPDWORD out_n, OVERLAPPED *ov,
                  LPOVERLAPPED_COMPLETION_ROUTINE routine)
{
        if (out_n)
                *out_n = 0;
        struct io_call k = {.rq = rq, .ov = ov, .routine = routine, .entered = 1};
        k.p = np_win_pipe_enter(h);
        if (!k.p)
                return FALSE;
        BOOL ret = FALSE;
        struct w_thread *native = NULL;
        if (io_begin(&k, &native)) {
                int r;
                if (ov && k.p->overlapped) {
                        if (!io_start_overlapped(&k, &r, &ret))
                                ret = io_result(&k, r, out_n);
                } else {
                        r = io_run_sync(&k, native);
                        ret = io_result(&k, r, out_n);
                }
        }
        if (k.port)
                np_win_put((struct w_obj *)k.port);
        if (k.ev)
                np_win_put(&k.ev->obj);
        if (k.entered)
                np_win_pipe_leave(k.p);
        else
                np_win_put(&k.p->obj);
        return ret;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFile(HANDLE hFile, LPVOID lpBuffer,
                                             DWORD nNumberOfBytesToRead,
                                             LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped)
{
        struct io_req rq = {.kind = WOP_READ, .buf = lpBuffer, .len = nNumberOfBytesToRead};
        return do_io(hFile, &rq, lpNumberOfBytesRead, lpOverlapped, NULL);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFile(HANDLE hFile, LPCVOID lpBuffer,
                                              DWORD nNumberOfBytesToWrite,
                                              LPDWORD lpNumberOfBytesWritten,
                                              LPOVERLAPPED lpOverlapped)
{
        struct io_req rq = {.kind = WOP_WRITE, .wbuf = lpBuffer, .len = nNumberOfBytesToWrite};
        return do_io(hFile, &rq, lpNumberOfBytesWritten, lpOverlapped, NULL);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFileEx(HANDLE hFile, LPVOID lpBuffer,
                                               DWORD nNumberOfBytesToRead,
                                               LPOVERLAPPED lpOverlapped,
                                               LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
        if (!lpCompletionRoutine)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct io_req rq = {.kind = WOP_READ, .buf = lpBuffer, .len = nNumberOfBytesToRead};
        return do_io(hFile, &rq, NULL, lpOverlapped, lpCompletionRoutine);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFileEx(HANDLE hFile, LPCVOID lpBuffer,
                                                DWORD nNumberOfBytesToWrite,
                                                LPOVERLAPPED lpOverlapped,
                                                LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
        if (!lpCompletionRoutine)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct io_req rq = {.kind = WOP_WRITE, .wbuf = lpBuffer, .len = nNumberOfBytesToWrite};
        return do_io(hFile, &rq, NULL, lpOverlapped, lpCompletionRoutine);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ConnectNamedPipe(HANDLE hNamedPipe, LPOVERLAPPED lpOverlapped)
{
        struct io_req rq = {.kind = WOP_LISTEN};
        return do_io(hNamedPipe, &rq, NULL, lpOverlapped, NULL);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_TransactNamedPipe(HANDLE hNamedPipe, LPVOID lpInBuffer,
                                                      DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                      DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                      LPOVERLAPPED lpOverlapped)
{
        struct io_req rq = {.kind = WOP_TRANSACT,
                            .buf = lpOutBuffer,
                            .len = nOutBufferSize,
                            .wbuf = lpInBuffer,
                            .wlen = nInBufferSize};
        return do_io(hNamedPipe, &rq, lpBytesRead, lpOverlapped, NULL);
}

/* ---- the calls that never pend -------------------------------------------------------------- */

NPIPE_WIN_API BOOL WINAPI npipe_win_PeekNamedPipe(HANDLE hNamedPipe, LPVOID lpBuffer,
                                                  DWORD nBufferSize, LPDWORD lpBytesRead,
                                                  LPDWORD lpTotalBytesAvail,
                                                  LPDWORD lpBytesLeftThisMessage)
{
        struct w_pipe *p = np_win_pipe_enter(hNamedPipe);
        if (!p)
                return FALSE;
        BOOL ok = FALSE;
        if (!(p->access & WACC_READ)) {
                np_win_set_error(ERROR_ACCESS_DENIED);
        } else {
                struct npipe_peek pk;
                np_win_unsignal(&p->wt);
                /* PEEK-05: a buffer of size 0 is never touched */
                int r = npipe_peek(p->np, nBufferSize ? lpBuffer : NULL, lpBuffer ? nBufferSize : 0,
                                   &pk);
                if (r < 0) {
                        /* PEEK-07, STATE-11: the outputs stay untouched */
                        np_win_set_error(np_win_op_error(WOP_PEEK, r, 0));
                } else {
                        if (lpBytesRead)
                                *lpBytesRead = pk.copied;
                        if (lpTotalBytesAvail)
                                *lpTotalBytesAvail = pk.avail;
                        if (lpBytesLeftThisMessage)
                                *lpBytesLeftThisMessage = pk.left; /* PEEK-04 */
                        np_win_signal(&p->wt);
                        ok = TRUE;
                }
        }
        np_win_pipe_leave(p);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_DisconnectNamedPipe(HANDLE hNamedPipe)
{
        struct w_pipe *p = np_win_pipe_enter(hNamedPipe);
        if (!p)
                return FALSE;
        np_win_unsignal(&p->wt);
        int r = npipe_disconnect(p->np);
        if (r >= 0)
                np_win_signal(&p->wt);
        np_win_pipe_leave(p);
        if (r < 0)
                return np_win_fail(np_win_op_error(WOP_DISCONNECT, r, 0));
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_FlushFileBuffers(HANDLE hFile)
{
        struct w_pipe *p = np_win_pipe_enter(hFile);
        if (!p)
                return FALSE;
        int r;
        /* NtFlushBuffersFile wants write access; QUOTA-12: it blocks even on
         * an overlapped handle */
        if (!(p->access & WACC_WRITE)) {
                r = NPIPE_EACCES;
        } else {
                /* on a synchronous handle CancelSynchronousIo ends it (on
                 * an overlapped one NT waits for a pending flush in
                 * kernel32, and nothing cancels it that way) */
                struct w_thread *native = p->overlapped ? NULL : native_enter();
                np_win_unsignal(&p->wt);
                r = npipe_flush(p->np);
                if (native)
                        native_leave(native);
                if (r >= 0)
                        np_win_signal(&p->wt);
        }
        np_win_pipe_leave(p);
        if (r < 0)
                return np_win_fail(np_win_op_error(WOP_FLUSH, r, 0));
        return TRUE;
}

/* ---- results and cancellation --------------------------------------------------------------- */

static int ov_pending(const OVERLAPPED *ov)
{
        return (DWORD)__atomic_load_n(&ov->Internal, __ATOMIC_ACQUIRE) == STATUS_PENDING;
}

static BOOL overlapped_result(HANDLE hFile, LPOVERLAPPED ov, LPDWORD n, DWORD ms, BOOL alertable)
{
        if (!ov)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct w_pipe *p = np_win_pipe_get(hFile);
        if (!p)
                return FALSE;
        BOOL ok = FALSE;
        if (ov_pending(ov)) {
                /* OVL-09, OVL-10 */
                if (ms == 0) {
                        np_win_set_error(ERROR_IO_INCOMPLETE);
                        goto out;
                }
                int64_t deadline = np_win_deadline(ms);
                /* the event, or the handle when there is none (OVL-14) */
                DWORD w;
                if (ov_event(ov)) {
                        w = npipe_win_WaitForSingleObjectEx(ov_event(ov), ms, alertable);
                } else {
                        struct w_waitable *wt = &p->wt;
                        w = np_win_wait(1, &wt, 0, ms, alertable ? 1 : 0);
                }
                if (w == WAIT_FAILED)
                        goto out;
                if (w == WAIT_IO_COMPLETION || w == WAIT_TIMEOUT) {
                        np_win_set_error(w);
                        goto out;
                }
                /* the object was signalled by someone else (another operation
                 * on the handle, SetEvent by hand): wait for this operation */
                if (ov_pending(ov) && !np_win_wait_ov(ov, deadline)) {
                        np_win_set_error(WAIT_TIMEOUT);
                        goto out;
                }
        }
        uint32_t nt = (uint32_t)__atomic_load_n(&ov->Internal, __ATOMIC_ACQUIRE);
        if (n)
                *n = (DWORD)ov->InternalHigh;
        if (!W_NT_SUCCESS(nt))
                np_win_set_error(np_win_nt_to_error(nt));
        else
                ok = TRUE;
out:
        np_win_put(&p->obj);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                                        LPDWORD lpNumberOfBytesTransferred,
                                                        BOOL bWait)
{
        return overlapped_result(hFile, lpOverlapped, lpNumberOfBytesTransferred,
                                 bWait ? INFINITE : 0, FALSE);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetOverlappedResultEx(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                                          LPDWORD lpNumberOfBytesTransferred,
                                                          DWORD dwMilliseconds, BOOL bAlertable)
{
        return overlapped_result(hFile, lpOverlapped, lpNumberOfBytesTransferred, dwMilliseconds,
                                 bAlertable);
}

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

/* OVL-12, OVL-13.  The modes are kept on the pipe object and, as on
 * Windows, can be added but never taken back. */
NPIPE_WIN_API BOOL WINAPI npipe_win_SetFileCompletionNotificationModes(HANDLE FileHandle,
                                                                       UCHAR Flags)
{
        struct w_pipe *p = np_win_pipe_get(FileHandle);
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
        if (Flags & ~(FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE))
                ok = np_win_fail(ERROR_INVALID_PARAMETER);
        else
                atomic_fetch_or(&p->notify, (unsigned)Flags);
        np_win_put(&p->obj);
        return ok;
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

/* ---- CallNamedPipe -------------------------------------------------------------------------- */

/* TRANS-15: CreateFile(GENERIC_READ | GENERIC_WRITE); when the pipe is
 * busy, WaitNamedPipe(nTimeOut) and one more try; message read mode;
 * TransactNamedPipe; CloseHandle.  A reply longer than the buffer fails
 * with ERROR_MORE_DATA and the rest is lost with the handle. */
static BOOL call_named_pipe(const char *path, LPVOID in, DWORD in_size, LPVOID out, DWORD out_size,
                            LPDWORD nread, DWORD timeout)
{
        if (nread)
                *nread = 0;
        HANDLE h = np_win_create_file(path, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING, 0);
        if (h == INVALID_HANDLE_VALUE && npipe_win_GetLastError() == ERROR_PIPE_BUSY) {
                if (!np_win_wait_named_pipe(path, timeout))
                        return FALSE;
                h = np_win_create_file(path, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING, 0);
        }
        if (h == INVALID_HANDLE_VALUE)
                return FALSE;
        DWORD mode = PIPE_READMODE_MESSAGE;
        BOOL ok = npipe_win_SetNamedPipeHandleState(h, &mode, NULL, NULL);
        if (ok)
                ok = npipe_win_TransactNamedPipe(h, in, in_size, out, out_size, nread, NULL);
        DWORD err = npipe_win_GetLastError();
        npipe_win_CloseHandle(h);
        np_win_set_error(err);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_CallNamedPipeA(LPCSTR lpNamedPipeName, LPVOID lpInBuffer,
                                                   DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                   DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                   DWORD nTimeOut)
{
        return call_named_pipe(lpNamedPipeName, lpInBuffer, nInBufferSize, lpOutBuffer,
                               nOutBufferSize, lpBytesRead, nTimeOut);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_CallNamedPipeW(LPCWSTR lpNamedPipeName, LPVOID lpInBuffer,
                                                   DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                   DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                   DWORD nTimeOut)
{
        if (!lpNamedPipeName)
                return call_named_pipe(NULL, lpInBuffer, nInBufferSize, lpOutBuffer, nOutBufferSize,
                                       lpBytesRead, nTimeOut);
        DWORD err;
        char *name = np_win_utf16_to_utf8(lpNamedPipeName, &err);
        if (!name)
                return np_win_fail(err);
        BOOL ok = call_named_pipe(name, lpInBuffer, nInBufferSize, lpOutBuffer, nOutBufferSize,
                                  lpBytesRead, nTimeOut);
        free(name);
        return ok;
}
