/*
 * io.c - the calls that move data or wait for a client: ReadFile,
 * WriteFile, ReadFileEx, WriteFileEx, ConnectNamedPipe, TransactNamedPipe
 * (one path, do_io), and PeekNamedPipe, DisconnectNamedPipe,
 * FlushFileBuffers, which never pend (spec OVL, CANCEL, ORDER).
 *
 * Which path a call takes is Windows' rule: an OVERLAPPED on a handle made
 * with FILE_FLAG_OVERLAPPED starts an operation that may stay pending (the
 * native engine in client/async.h, through overlapped.c); everything else
 * runs the blocking native call, and an OVERLAPPED given with a
 * synchronous handle only receives the result (OVL-15).  The synchronous
 * path on a synchronous handle - the common ReadFile / WriteFile - stays
 * in this file from the handle lookup to the completion (io_sync_native).
 *
 * Every call looks its handle up once, whatever it turns out to be (a pipe
 * end, or a file for ReadFile & co.), and keeps the handle's slot for the
 * length of the call instead of taking a reference (np_win_handle_hold).
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

#include <unistd.h>

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

/* Forced inline, as the other helpers of the synchronous path: ReadFile
 * and WriteFile (io_rw) then run without a switch on the kind. */
#define IO_INLINE static inline __attribute__((always_inline))

IO_INLINE int run_sync(struct w_pipe *p, enum w_op_kind kind, const struct w_io_req *rq,
                       size_t *bytes)
{
        *bytes = 0;
        switch (kind) {
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

IO_INLINE unsigned rights_needed(enum w_op_kind kind)
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

/* One call of ReadFile, WriteFile, ConnectNamedPipe, TransactNamedPipe or
 * the Ex forms, through its three steps (do_io). */
struct io_call {
        struct w_pipe *p;
        const struct w_io_req *rq;
        OVERLAPPED *ov;
        LPOVERLAPPED_COMPLETION_ROUTINE routine;
        struct w_event *ev;  /* the OVERLAPPED's event, held by ev_hold */
        void *ev_hold;       /* np_win_handle_hold of the event */
        struct w_port *port; /* the bound port for this operation (the end's) */
        ULONG_PTR key;
        size_t bytes;
        int later;   /* the result came from a wait: already signalled */
        int entered; /* still inside the pipe's calls (np_win_pipe_exit) */
        void **hold; /* the caller's hold of the handle (NULL once let go) */
        int ref;     /* a reference on p taken instead of the hold */
};

/* The checks NT makes before any I/O starts, and the start's side effects
 * on the event and the handle; 0 with the last error set when the call
 * fails before starting (OVL-05: then nothing is signalled). */
static int io_begin(struct io_call *k, struct w_thread **native)
{
        struct w_pipe *p = k->p;
        const struct w_io_req *rq = k->rq;
        OVERLAPPED *ov = k->ov;
        if (k->routine) {
                /* OVL-08, OVL-16: completion routines need an overlapped
                 * handle that is not bound to a port */
                if (!ov || !p->overlapped || __atomic_load_n(&p->port, __ATOMIC_ACQUIRE)) {
                        np_win_set_error(ERROR_INVALID_PARAMETER);
                        return 0;
                }
        }
        if (ov)
                np_win_ov_set_status(ov, STATUS_PENDING);
        if ((p->access & rights_needed(rq->kind)) != rights_needed(rq->kind)) {
                np_win_set_error(ERROR_ACCESS_DENIED);
                return 0;
        }
        if (ov && !k->routine && np_win_ov_event(ov)) {
                /* held for the call, not referenced: a record made when
                 * the operation pends takes its own reference */
                struct w_obj *o = np_win_handle_hold(np_win_ov_event(ov), &k->ev_hold);
                if (!o)
                        return 0; /* ERROR_INVALID_HANDLE */
                if (o->type != W_EVENT) {
                        np_win_set_error(ERROR_INVALID_HANDLE);
                        return 0;
                }
                k->ev = (struct w_event *)o;
        }
        /* the event drops as the I/O starts (a release store: see
         * np_win_unsignal_io; its completion's signal is a full one) */
        if (k->ev)
                np_win_unsignal_io(&k->ev->wt);
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
        ULONG_PTR key = 0;
        struct w_port *port = np_win_pipe_port(p, &key);
        /* borrowed: the end keeps its port, and the call keeps the end */
        if (port && !k->routine && !((uintptr_t)k->ov->hEvent & 1)) {
                k->port = port;
                k->key = key;
        }
        *r = np_win_op_start(p, k->rq, k->ov, k->ev, k->port, k->key, k->routine, NULL, &k->bytes);
        if (*r == 0 && k->rq->kind == WOP_LISTEN) {
                /* a client came during the call: NPFS never finishes a listen
                 * at once (it pends, then the client completes it), and
                 * programs written for Windows treat TRUE from an overlapped
                 * connect as a failure */
                np_win_deliver(p, k->ov, k->ev, k->port, k->key, NULL, NULL, W_STATUS_SUCCESS, 0);
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
                r = np_win_op_start(p, k->rq, NULL, NULL, NULL, 0, NULL, &sw, &k->bytes);
                if (r == NP_ASYNC_PENDING) {
                        /* a CloseHandle meanwhile may close the end now: the
                         * call lets its hold of the handle go (which keeps
                         * the end open) and keeps a reference instead */
                        np_win_ref(&p->obj);
                        k->ref = 1;
                        np_win_pipe_exit(p);
                        k->entered = 0;
                        np_win_handle_unhold(*k->hold);
                        *k->hold = NULL;
                        np_async_flush();
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
                r = np_win_op_start(p, k->rq, NULL, NULL, NULL, 0, NULL, &sw, &k->bytes);
                if (r == NP_ASYNC_PENDING) {
                        np_async_flush();
                        while (!atomic_load(&sw.done))
                                np_futex_wait_until(&sw.done, 0, 0, -1);
                        r = sw.status;
                        k->bytes = sw.bytes;
                }
        } else {
                r = run_sync(p, k->rq->kind, k->rq, &k->bytes);
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
                        np_win_deliver(p, k->ov, k->ev, k->port, k->key, NULL, NULL,
                                       W_STATUS_BUFFER_OVERFLOW, k->bytes);
                        np_win_set_error(ERROR_IO_PENDING);
                        return FALSE;
                }
                /* OVL-12: the caller handles a success at once itself */
                if (r >= 0)
                        k->port = NULL;
        }
        if (r < 0 && r != NPIPE_EMOREDATA) {
                /* OVL-05: nothing signalled, posted or queued */
                np_win_set_error(np_win_op_error(k->rq->kind, r, k->later));
                return FALSE;
        }
        uint32_t nt = r >= 0 ? W_STATUS_SUCCESS : W_STATUS_BUFFER_OVERFLOW;
        /* (a synchronous call that waited has been signalled already) */
        if (!k->later)
                np_win_deliver(p, k->ov, k->ev, k->port, k->key, k->routine,
                               k->routine ? np_win_self() : NULL, nt, k->bytes);
        /* MSG-02 / MSG-08: the count is direct without an OVERLAPPED */
        if (out_n && (r >= 0 || !k->ov))
                *out_n = (DWORD)k->bytes;
        if (r >= 0)
                return TRUE;
        np_win_set_error(ERROR_MORE_DATA);
        return FALSE;
}

/* The common call - ReadFile, WriteFile or TransactNamedPipe without an
 * OVERLAPPED on a synchronous handle - as io_begin, io_run_sync and
 * io_result run it, without the steps that need what it does not have (an
 * OVERLAPPED, an event, a port, a routine): the rights, the handle
 * unsignalled, the native blocking call with the cancel token in place,
 * and the completion, which then only signals the handle (np_win_deliver
 * without an OVERLAPPED). */
IO_INLINE BOOL io_sync_native(struct w_pipe *p, enum w_op_kind kind, const struct w_io_req *rq,
                              LPDWORD out_n)
{
        unsigned need = rights_needed(kind);
        if ((p->access & need) != need)
                return np_win_fail(ERROR_ACCESS_DENIED);
        struct w_thread *native = native_enter();
        np_win_unsignal_io(&p->wt);
        size_t bytes;
        int r = run_sync(p, kind, rq, &bytes);
        native_leave(native);
        if (r < 0 && r != NPIPE_EMOREDATA) /* OVL-05: nothing signalled */
                return np_win_fail(np_win_op_error(kind, r, 0));
        np_win_signal(&p->wt);
        /* MSG-02 / MSG-08: the count is direct without an OVERLAPPED */
        if (out_n)
                *out_n = (DWORD)bytes;
        if (r >= 0)
                return TRUE;
        return np_win_fail(ERROR_MORE_DATA);
}

/* ReadFile, WriteFile, ConnectNamedPipe, TransactNamedPipe and the Ex
 * forms (routine set) on a pipe end the caller holds (*hold; set to NULL
 * when the call lets it go); *out_n is 0 already. */
static BOOL do_io(struct w_pipe *p, void **hold, const struct w_io_req *rq, LPDWORD out_n,
                  OVERLAPPED *ov, LPOVERLAPPED_COMPLETION_ROUTINE routine)
{
        if (!np_win_pipe_in(p))
                return FALSE;
        if (!ov && !routine && !p->overlapped && rq->kind != WOP_LISTEN) {
                BOOL ok = io_sync_native(p, rq->kind, rq, out_n);
                np_win_pipe_exit(p);
                return ok;
        }
        struct io_call k = {
            .p = p, .rq = rq, .ov = ov, .routine = routine, .entered = 1, .hold = hold};
        BOOL ret = FALSE;
        struct w_thread *native = NULL;
        if (io_begin(&k, &native)) {
                int r;
                if (ov && p->overlapped) {
                        if (!io_start_overlapped(&k, &r, &ret))
                                ret = io_result(&k, r, out_n);
                } else {
                        r = io_run_sync(&k, native);
                        ret = io_result(&k, r, out_n);
                }
        }
        if (k.ev_hold)
                np_win_handle_unhold(k.ev_hold);
        if (k.entered)
                np_win_pipe_exit(p);
        if (k.ref)
                np_win_put(&p->obj);
        return ret;
}

/* Every call above once its handle is looked up (o, held by hold; NULL
 * when it names no open handle, the last error set).  ReadFile & co.
 * (files 1) also take a handle over a file descriptor (file.c); the Ex
 * forms (ex 1) cannot do without their completion routine, which decides
 * before the handle does. */
static __attribute__((noinline)) BOOL
io_held(struct w_obj *o, void *hold, const struct w_io_req *rq, LPDWORD out_n, OVERLAPPED *ov,
        LPOVERLAPPED_COMPLETION_ROUTINE routine, int files, int ex)
{
        BOOL ok;
        if (files && o && o->type == W_FILE) {
                int write = rq->kind == WOP_WRITE;
                ok = np_win_file_io((struct w_file *)o, write, write ? (void *)rq->wbuf : rq->buf,
                                    (DWORD)rq->len, out_n, ov, routine);
        } else if (ex && !routine) {
                ok = np_win_fail(ERROR_INVALID_PARAMETER);
        } else {
                if (out_n)
                        *out_n = 0;
                if (!o)
                        ok = FALSE; /* ERROR_INVALID_HANDLE */
                else if (o->type != W_PIPE)
                        ok = np_win_fail(ERROR_INVALID_HANDLE);
                else
                        ok = do_io((struct w_pipe *)o, &hold, rq, out_n, ov, routine);
        }
        if (hold)
                np_win_handle_unhold(hold);
        return ok;
}

static BOOL io_handle(HANDLE h, const struct w_io_req *rq, LPDWORD out_n, OVERLAPPED *ov,
                      LPOVERLAPPED_COMPLETION_ROUTINE routine, int files, int ex)
{
        void *hold = NULL;
        struct w_obj *o = np_win_handle_hold(h, &hold);
        return io_held(o, hold, rq, out_n, ov, routine, files, ex);
}

/* The request of a ReadFile or WriteFile. */
IO_INLINE void io_rw_req(struct w_io_req *rq, enum w_op_kind kind, void *buf, DWORD len)
{
        *rq = (struct w_io_req){.kind = kind, .len = len};
        if (kind == WOP_WRITE)
                rq->wbuf = buf;
        else
                rq->buf = buf;
}

static __attribute__((noinline)) BOOL io_rw_other(struct w_obj *o, void *hold, enum w_op_kind kind,
                                                  void *buf, DWORD len, LPDWORD out_n,
                                                  OVERLAPPED *ov)
{
        struct w_io_req rq;
        io_rw_req(&rq, kind, buf, len);
        return io_held(o, hold, &rq, out_n, ov, NULL, 1, 0);
}

/* ReadFile or WriteFile with an OVERLAPPED on an overlapped pipe end,
 * the call of every overlapped server loop: what do_io does with it, in
 * the same order (io_begin, io_start_overlapped, io_result), without the
 * steps only other calls need (a routine, a listen, a synchronous wait),
 * and, as io_rw's synchronous path, with the caller's hold of the handle
 * instead of `calls`: the hold keeps the native end open, and a pending
 * operation's record references the end.  The event is held, not
 * referenced, and the port borrowed from the end.  Together that halved
 * what the Win32 layer adds to an overlapped call that completes at once
 * (docs/performance.md, "Stop 23"). */
static __attribute__((noinline)) BOOL io_ovl_rw(struct w_pipe *p, enum w_op_kind kind, void *buf,
                                                DWORD len, LPDWORD out_n, OVERLAPPED *ov)
{
        if (out_n)
                *out_n = 0;
        if (atomic_load(&p->closed))
                return np_win_fail(ERROR_INVALID_HANDLE);
        np_win_ov_set_status(ov, STATUS_PENDING);
        unsigned need = rights_needed(kind);
        if ((p->access & need) != need)
                return np_win_fail(ERROR_ACCESS_DENIED);
        struct w_event *ev = NULL;
        void *ev_hold = NULL;
        HANDLE evh = np_win_ov_event(ov);
        if (evh) {
                struct w_obj *o = np_win_handle_hold(evh, &ev_hold);
                if (!o)
                        return FALSE; /* ERROR_INVALID_HANDLE */
                if (o->type != W_EVENT) {
                        np_win_handle_unhold(ev_hold);
                        return np_win_fail(ERROR_INVALID_HANDLE);
                }
                /* not unsignalled here but where the call pends or fails
                 * (overlapped.c, lazy_link; below): one that completes at
                 * once leaves it set either way, and a set event takes no
                 * store (np_win_signal) */
                ev = (struct w_event *)o;
        }
        ULONG_PTR key = 0;
        struct w_port *port = np_win_pipe_port(p, &key);
        if ((uintptr_t)ov->hEvent & 1)
                port = NULL; /* the low bit: no packet */
        size_t bytes = 0;
        int r = np_win_op_rw(p, kind, buf, len, ov, ev, port, key, &bytes);
        BOOL ok = FALSE;
        if (r == NP_ASYNC_PENDING) {
                np_win_set_error(ERROR_IO_PENDING); /* OVL-02: the count is 0 */
        } else if (port && r == NPIPE_EMOREDATA &&
                   (atomic_load(&p->notify) & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)) {
                /* OVL-12, the Windows 8+ variant, as io_result */
                np_win_deliver_ov(p, ov, ev, port, key, W_STATUS_BUFFER_OVERFLOW, bytes);
                np_win_set_error(ERROR_IO_PENDING);
        } else if (r < 0 && r != NPIPE_EMOREDATA) {
                /* OVL-05: the event was reset as the call began */
                if (ev)
                        np_win_unsignal_io(&ev->wt);
                np_win_set_error(np_win_op_error(kind, r, 0));
        } else {
                if (r >= 0 && port && (atomic_load(&p->notify) & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
                        port = NULL; /* OVL-12 */
                np_win_deliver_ov(p, ov, ev, port, key,
                                  r >= 0 ? W_STATUS_SUCCESS : W_STATUS_BUFFER_OVERFLOW, bytes);
                if (r >= 0) {
                        if (out_n)
                                *out_n = (DWORD)bytes;
                        ok = TRUE;
                } else {
                        np_win_set_error(ERROR_MORE_DATA);
                }
        }
        if (ev_hold)
                np_win_handle_unhold(ev_hold);
        return ok;
}

/* ReadFile, WriteFile: the common call on a synchronous pipe end without
 * an OVERLAPPED goes straight to io_sync_native (what do_io would do with
 * it, in the same order), everything else through io_held.  Its atomic
 * read-modify-writes: the hold and its release, and the handle's signal
 * (io_sync_native); no reference and no `calls` (docs/performance.md,
 * "Win32 synchronous I/O: instructions per message"). */
IO_INLINE BOOL io_rw(HANDLE h, enum w_op_kind kind, void *buf, DWORD len, LPDWORD out_n,
                     OVERLAPPED *ov)
{
        void *hold = NULL;
        struct w_obj *o = np_win_handle_hold(h, &hold);
        if (__builtin_expect(!o || o->type != W_PIPE || !ov != !((struct w_pipe *)o)->overlapped, 0))
                return io_rw_other(o, hold, kind, buf, len, out_n, ov);
        if (ov) {
                BOOL ok = io_ovl_rw((struct w_pipe *)o, kind, buf, len, out_n, ov);
                np_win_handle_unhold(hold);
                return ok;
        }
        struct w_io_req rq;
        io_rw_req(&rq, kind, buf, len);
        struct w_pipe *p = (struct w_pipe *)o;
        BOOL ok;
        if (out_n)
                *out_n = 0;
        /* np_win_pipe_in without `calls`: the hold keeps the native end
         * open (pipe.c, pipe_close); a CloseHandle that began since the
         * lookup fails the call as np_win_pipe_in would */
        if (atomic_load(&p->closed))
                ok = np_win_fail(ERROR_INVALID_HANDLE);
        else
                ok = io_sync_native(p, kind, &rq, out_n);
        np_win_handle_unhold(hold);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFile(HANDLE hFile, LPVOID lpBuffer,
                                             DWORD nNumberOfBytesToRead,
                                             LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped)
{
        return io_rw(hFile, WOP_READ, lpBuffer, nNumberOfBytesToRead, lpNumberOfBytesRead,
                     lpOverlapped);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFile(HANDLE hFile, LPCVOID lpBuffer,
                                              DWORD nNumberOfBytesToWrite,
                                              LPDWORD lpNumberOfBytesWritten,
                                              LPOVERLAPPED lpOverlapped)
{
        return io_rw(hFile, WOP_WRITE, (void *)lpBuffer, nNumberOfBytesToWrite,
                     lpNumberOfBytesWritten, lpOverlapped);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFileEx(HANDLE hFile, LPVOID lpBuffer,
                                               DWORD nNumberOfBytesToRead,
                                               LPOVERLAPPED lpOverlapped,
                                               LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
        struct w_io_req rq = {.kind = WOP_READ, .buf = lpBuffer, .len = nNumberOfBytesToRead};
        return io_handle(hFile, &rq, NULL, lpOverlapped, lpCompletionRoutine, 1, 1);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFileEx(HANDLE hFile, LPCVOID lpBuffer,
                                                DWORD nNumberOfBytesToWrite,
                                                LPOVERLAPPED lpOverlapped,
                                                LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
        struct w_io_req rq = {.kind = WOP_WRITE, .wbuf = lpBuffer, .len = nNumberOfBytesToWrite};
        return io_handle(hFile, &rq, NULL, lpOverlapped, lpCompletionRoutine, 1, 1);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ConnectNamedPipe(HANDLE hNamedPipe, LPOVERLAPPED lpOverlapped)
{
        struct w_io_req rq = {.kind = WOP_LISTEN};
        return io_handle(hNamedPipe, &rq, NULL, lpOverlapped, NULL, 0, 0);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_TransactNamedPipe(HANDLE hNamedPipe, LPVOID lpInBuffer,
                                                      DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                      DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                      LPOVERLAPPED lpOverlapped)
{
        struct w_io_req rq = {.kind = WOP_TRANSACT,
                              .buf = lpOutBuffer,
                              .len = nOutBufferSize,
                              .wbuf = lpInBuffer,
                              .wlen = nInBufferSize};
        return io_handle(hNamedPipe, &rq, lpBytesRead, lpOverlapped, NULL, 0, 0);
}

/* ---- the calls that never pend -------------------------------------------------------------- */

static BOOL peek_pipe(struct w_pipe *p, LPVOID lpBuffer, DWORD nBufferSize, LPDWORD lpBytesRead,
                      LPDWORD lpTotalBytesAvail, LPDWORD lpBytesLeftThisMessage)
{
        if (!np_win_pipe_in(p))
                return FALSE;
        if (!(p->access & WACC_READ)) { /* PEEK-14 */
                np_win_pipe_exit(p);
                return np_win_fail(ERROR_ACCESS_DENIED);
        }
        BOOL ok = FALSE;
        struct npipe_peek pk;
        np_win_unsignal(&p->wt);
        /* PEEK-05: a buffer of size 0 is never touched */
        int r = npipe_peek(p->np, nBufferSize ? lpBuffer : NULL, lpBuffer ? nBufferSize : 0, &pk);
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
        np_win_pipe_exit(p);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_PeekNamedPipe(HANDLE hNamedPipe, LPVOID lpBuffer,
                                                  DWORD nBufferSize, LPDWORD lpBytesRead,
                                                  LPDWORD lpTotalBytesAvail,
                                                  LPDWORD lpBytesLeftThisMessage)
{
        void *hold;
        struct w_obj *o = np_win_handle_hold(hNamedPipe, &hold);
        if (!o)
                return FALSE;
        BOOL ok;
        if (o->type == W_FILE)
                ok = np_win_file_peek((struct w_file *)o, lpBuffer, nBufferSize, lpBytesRead,
                                      lpTotalBytesAvail, lpBytesLeftThisMessage);
        else if (o->type == W_PIPE)
                ok = peek_pipe((struct w_pipe *)o, lpBuffer, nBufferSize, lpBytesRead,
                               lpTotalBytesAvail, lpBytesLeftThisMessage);
        else
                ok = np_win_fail(ERROR_INVALID_HANDLE);
        np_win_handle_unhold(hold);
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

static BOOL flush_pipe(struct w_pipe *p)
{
        if (!np_win_pipe_in(p))
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
        np_win_pipe_exit(p);
        if (r < 0)
                return np_win_fail(np_win_op_error(WOP_FLUSH, r, 0));
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_FlushFileBuffers(HANDLE hFile)
{
        void *hold;
        struct w_obj *o = np_win_handle_hold(hFile, &hold);
        if (!o)
                return FALSE;
        BOOL ok;
        if (o->type == W_FILE) {
                /* a disk file reaches the disk; a pipe or terminal has nothing to wait for */
                struct w_file *f = (struct w_file *)o;
                int fr = f->type == FILE_TYPE_DISK ? fsync(f->fd) : 0;
                ok = fr == 0 ? TRUE : np_win_fail(ERROR_GEN_FAILURE);
        } else if (o->type == W_PIPE) {
                ok = flush_pipe((struct w_pipe *)o);
        } else {
                ok = np_win_fail(ERROR_INVALID_HANDLE);
        }
        np_win_handle_unhold(hold);
        return ok;
}
