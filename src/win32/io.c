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
 * in this file from the handle lookup to the completion (completion.c).
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

static int run_sync(struct w_pipe *p, const struct w_io_req *rq, size_t *bytes)
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

/* One call of ReadFile, WriteFile, ConnectNamedPipe, TransactNamedPipe or
 * the Ex forms, through its three steps (do_io). */
struct io_call {
        struct w_pipe *p;
        const struct w_io_req *rq;
        OVERLAPPED *ov;
        LPOVERLAPPED_COMPLETION_ROUTINE routine;
        struct w_event *ev;  /* the OVERLAPPED's event, referenced */
        struct w_port *port; /* the bound port for this operation, referenced */
        ULONG_PTR key;
        size_t bytes;
        int later;   /* the result came from a wait: already signalled */
        int entered; /* still inside the pipe's calls (np_win_pipe_leave) */
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
                if (!ov || !p->overlapped || p->port) {
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
                k->ev = (struct w_event *)np_win_handle_get(np_win_ov_event(ov), W_EVENT);
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
                r = np_win_op_start(p, k->rq, NULL, NULL, NULL, 0, NULL, &sw, &k->bytes);
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
                        np_win_deliver(p, k->ov, k->ev, k->port, k->key, NULL, NULL,
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

/* ReadFile, WriteFile, ConnectNamedPipe, TransactNamedPipe and the Ex
 * forms (routine set). */
static BOOL do_io(HANDLE h, const struct w_io_req *rq, LPDWORD out_n, OVERLAPPED *ov,
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

/* ReadFileEx, WriteFileEx: do_io with the completion routine they
 * cannot do without, and no count (the routine gets it). */
static BOOL do_io_ex(HANDLE h, const struct w_io_req *rq, OVERLAPPED *ov,
                     LPOVERLAPPED_COMPLETION_ROUTINE routine)
{
        if (!routine)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        return do_io(h, rq, NULL, ov, routine);
}

/* ReadFile & co. on a handle over a file descriptor (file.c); FALSE with
 * *handled 0 when the handle is something else. */
static BOOL file_io(HANDLE h, int write, void *buf, DWORD len, LPDWORD done, OVERLAPPED *ov,
                    LPOVERLAPPED_COMPLETION_ROUTINE routine, int *handled)
{
        struct w_file *f = np_win_file_get(h);
        *handled = f != NULL;
        if (!f)
                return FALSE;
        BOOL ok = np_win_file_io(f, write, buf, len, done, ov, routine);
        np_win_put(&f->obj);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFile(HANDLE hFile, LPVOID lpBuffer,
                                             DWORD nNumberOfBytesToRead,
                                             LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped)
{
        int handled;
        BOOL ok = file_io(hFile, 0, lpBuffer, nNumberOfBytesToRead, lpNumberOfBytesRead,
                          lpOverlapped, NULL, &handled);
        if (handled)
                return ok;
        struct w_io_req rq = {.kind = WOP_READ, .buf = lpBuffer, .len = nNumberOfBytesToRead};
        return do_io(hFile, &rq, lpNumberOfBytesRead, lpOverlapped, NULL);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFile(HANDLE hFile, LPCVOID lpBuffer,
                                              DWORD nNumberOfBytesToWrite,
                                              LPDWORD lpNumberOfBytesWritten,
                                              LPOVERLAPPED lpOverlapped)
{
        int handled;
        BOOL ok = file_io(hFile, 1, (void *)lpBuffer, nNumberOfBytesToWrite,
                          lpNumberOfBytesWritten, lpOverlapped, NULL, &handled);
        if (handled)
                return ok;
        struct w_io_req rq = {.kind = WOP_WRITE, .wbuf = lpBuffer, .len = nNumberOfBytesToWrite};
        return do_io(hFile, &rq, lpNumberOfBytesWritten, lpOverlapped, NULL);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFileEx(HANDLE hFile, LPVOID lpBuffer,
                                               DWORD nNumberOfBytesToRead,
                                               LPOVERLAPPED lpOverlapped,
                                               LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
        int handled;
        BOOL ok = file_io(hFile, 0, lpBuffer, nNumberOfBytesToRead, NULL, lpOverlapped,
                          lpCompletionRoutine, &handled);
        if (handled)
                return ok;
        struct w_io_req rq = {.kind = WOP_READ, .buf = lpBuffer, .len = nNumberOfBytesToRead};
        return do_io_ex(hFile, &rq, lpOverlapped, lpCompletionRoutine);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFileEx(HANDLE hFile, LPCVOID lpBuffer,
                                                DWORD nNumberOfBytesToWrite,
                                                LPOVERLAPPED lpOverlapped,
                                                LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
        int handled;
        BOOL ok = file_io(hFile, 1, (void *)lpBuffer, nNumberOfBytesToWrite, NULL, lpOverlapped,
                          lpCompletionRoutine, &handled);
        if (handled)
                return ok;
        struct w_io_req rq = {.kind = WOP_WRITE, .wbuf = lpBuffer, .len = nNumberOfBytesToWrite};
        return do_io_ex(hFile, &rq, lpOverlapped, lpCompletionRoutine);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ConnectNamedPipe(HANDLE hNamedPipe, LPOVERLAPPED lpOverlapped)
{
        struct w_io_req rq = {.kind = WOP_LISTEN};
        return do_io(hNamedPipe, &rq, NULL, lpOverlapped, NULL);
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
        return do_io(hNamedPipe, &rq, lpBytesRead, lpOverlapped, NULL);
}

/* ---- the calls that never pend -------------------------------------------------------------- */

NPIPE_WIN_API BOOL WINAPI npipe_win_PeekNamedPipe(HANDLE hNamedPipe, LPVOID lpBuffer,
                                                  DWORD nBufferSize, LPDWORD lpBytesRead,
                                                  LPDWORD lpTotalBytesAvail,
                                                  LPDWORD lpBytesLeftThisMessage)
{
        struct w_file *f = np_win_file_get(hNamedPipe);
        if (f) {
                BOOL fok = np_win_file_peek(f, lpBuffer, nBufferSize, lpBytesRead,
                                            lpTotalBytesAvail, lpBytesLeftThisMessage);
                np_win_put(&f->obj);
                return fok;
        }
        struct w_pipe *p = np_win_pipe_enter_for(hNamedPipe, WACC_READ); /* PEEK-14 */
        if (!p)
                return FALSE;
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
        struct w_file *f = np_win_file_get(hFile);
        if (f) {
                /* a disk file reaches the disk; a pipe or terminal has nothing to wait for */
                int fr = f->type == FILE_TYPE_DISK ? fsync(f->fd) : 0;
                np_win_put(&f->obj);
                return fr == 0 ? TRUE : np_win_fail(ERROR_GEN_FAILURE);
        }
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
