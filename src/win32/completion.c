/*
 * completion.c - what the program sees when an operation ends: the
 * OVERLAPPED filled in, the event or the handle signalled, the packet
 * posted to the bound port, the completion routine queued
 * (np_win_deliver), and the calls that read it back or tune it:
 * GetOverlappedResult(Ex), SetFileCompletionNotificationModes (spec OVL).
 *
 * Both the synchronous path (io.c) and the engine's callbacks
 * (overlapped.c) complete through here, so it is below both and calls
 * neither.
 */
#include "client/async.h"
#include "win32/win32.h"

#include <stdlib.h>

/* A completion - at once or later: fill the OVERLAPPED, then signal,
 * post and queue, in the order NT does. */
void np_win_deliver(struct w_pipe *p, OVERLAPPED *ov, struct w_event *ev, struct w_port *port,
                    ULONG_PTR key, LPOVERLAPPED_COMPLETION_ROUTINE routine, struct w_thread *thread,
                    uint32_t nt, size_t bytes)
{
        DWORD n = np_win_deliver_signal(p, ov, ev, port, key, nt, bytes);
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
        if (ov)
                np_win_completion_bump();
}

/* ---- GetOverlappedResult, notification modes ------------------------------------------------ */

static int ov_pending(const OVERLAPPED *ov)
{
        return (DWORD)__atomic_load_n(&ov->Internal, __ATOMIC_ACQUIRE) == STATUS_PENDING;
}

/* After GetOverlappedResult completed the operation itself: the wait
 * that NT does here would have taken the object's signal, and an
 * auto-reset event's is gone after it.  A wait of no time on a
 * manual-reset event, or on the pipe handle (manual too, pipe.c), changes
 * nothing, so only an auto-reset event goes through the wait (some 500
 * instructions on the round trip's path: docs/performance.md, "Stop
 * 24"). */
static void take_signal(HANDLE evh)
{
        if (!evh)
                return;
        void *hold = NULL;
        struct w_obj *o = np_win_handle_hold(evh, &hold);
        if (!o)
                return;
        int manual = o->type == W_EVENT && ((struct w_event *)o)->wt.manual;
        np_win_handle_unhold(hold);
        if (!manual)
                npipe_win_WaitForSingleObjectEx(evh, 0, FALSE);
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
                        /* a program that polls: its operation is watched
                         * from now on, not only from the next tick */
                        np_async_flush();
                        np_win_set_error(ERROR_IO_INCOMPLETE);
                        goto out;
                }
                int64_t deadline = np_win_deadline(ms);
                /* Complete it in this thread if the engine can: the
                 * completion thread would take the peer's wake and then
                 * wake us, two wake-ups in a row.  Not for an alertable
                 * wait, which must also end for an APC. */
                if (!alertable) {
                        int h = np_win_op_help(p, ov, deadline);
                        if (h == 0) {
                                np_win_set_error(WAIT_TIMEOUT);
                                goto out;
                        }
                        if (h == 1) {
                                take_signal(np_win_ov_event(ov));
                                goto done;
                        }
                }
                /* the event, or the handle when there is none (OVL-14) */
                DWORD w;
                if (np_win_ov_event(ov)) {
                        w = npipe_win_WaitForSingleObjectEx(np_win_ov_event(ov), ms, alertable);
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
done:;
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
