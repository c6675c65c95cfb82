/*
 * wait.c - the wait API: WaitForSingleObject(Ex),
 * WaitForMultipleObjects(Ex), Sleep(Ex), QueueUserAPC and the process and
 * thread ids.
 *
 * The mechanism is below it: the dispatcher core in waitable.c, the
 * per-thread APC queue and sleep in apc.c; this file turns handles into
 * waitables (events, pipe ends, thread handles of thread.c) and checks
 * the parameters as Windows does.  It sits on top: nothing else in the
 * layer calls into it except through the public API.
 */
#include "win32/win32.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

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
        if (o->type == W_FILE)
                return &((struct w_file *)o)->wt;
        if (o->type == W_PROCESS)
                return np_win_process_waitable(o);
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
        np_win_thread_sleep(t, NULL, bAlertable ? 1 : 0, deadline);
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
