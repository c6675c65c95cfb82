/*
 * thread.c - CreateThread and thread handles, so that thread-per-client
 * servers port unchanged: a thread handle is waitable (signalled when the
 * thread has returned) and GetExitCodeThread reads its result.
 *
 * The thread is a detached pthread that holds a reference to its object;
 * the handle holds another, so either may go first.
 *
 * A thread handle is one more kind of waitable object: this file builds
 * on the dispatcher below it (apc.c, waitable.c) and wait.c, above it,
 * asks it for the waitable and the thread state of a handle.
 */
#include "win32/win32.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct w_threadobj {
        struct w_obj obj;
        struct w_waitable wt;
        LPTHREAD_START_ROUTINE fn;
        LPVOID arg;
        _Atomic DWORD exit_code;
        _Atomic uint32_t started; /* futex: the thread id is known */
        DWORD tid;
        struct w_thread *self; /* its APC queue and sync call (a reference) */
};

static void threadobj_destroy(struct w_obj *o)
{
        struct w_threadobj *t = (struct w_threadobj *)o;
        if (t->self)
                np_win_thread_put(t->self);
        free(o);
}

static void *trampoline(void *p)
{
        struct w_threadobj *t = p;
        t->tid = (DWORD)syscall(SYS_gettid);
        t->self = np_win_self();
        np_win_thread_ref(t->self);
        atomic_store(&t->started, 1);
        np_futex_wake(&t->started, 0, 1);
        DWORD code = t->fn(t->arg);
        atomic_store(&t->exit_code, code);
        np_win_signal(&t->wt);
        np_win_put(&t->obj);
        return NULL;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes,
                                                   SIZE_T dwStackSize,
                                                   LPTHREAD_START_ROUTINE lpStartAddress,
                                                   LPVOID lpParameter, DWORD dwCreationFlags,
                                                   LPDWORD lpThreadId)
{
        (void)lpThreadAttributes;
        if (!lpStartAddress) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return NULL;
        }
        /* suspended threads would need a scheduler of our own */
        if (dwCreationFlags & CREATE_SUSPENDED) {
                np_win_set_error(ERROR_NOT_SUPPORTED);
                return NULL;
        }
        struct w_threadobj *t = calloc(1, sizeof(*t));
        if (!t) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        np_win_obj_init(&t->obj, W_THREAD, threadobj_destroy, NULL);
        np_win_waitable_init(&t->wt, 1, 0);
        t->fn = lpStartAddress;
        t->arg = lpParameter;
        atomic_init(&t->exit_code, STILL_ACTIVE);
        /* one reference for the handle, one for the thread */
        np_win_ref(&t->obj);
        HANDLE h = np_win_handle_new(&t->obj);
        if (!h) {
                np_win_put(&t->obj);
                return NULL;
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (dwStackSize)
                pthread_attr_setstacksize(&attr, dwStackSize < 65536 ? 65536 : dwStackSize);
        pthread_t pt;
        int r = pthread_create(&pt, &attr, trampoline, t);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                np_win_put(&t->obj);
                npipe_win_CloseHandle(h);
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        /* always: QueueUserAPC and CancelSynchronousIo on the handle need
         * the thread's state from the moment CreateThread returns */
        while (!atomic_load(&t->started))
                np_futex_wait_until(&t->started, 0, 0, -1);
        if (lpThreadId)
                *lpThreadId = t->tid;
        return h;
}

/* A CreateThread handle, GetCurrentThread() (running, so STILL_ACTIVE) or
 * a child's main thread (process.c: its process's code, as the main thread
 * ends with the process and carries its exit or TerminateProcess code). */
NPIPE_WIN_API BOOL WINAPI npipe_win_GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode)
{
        DWORD code;
        if (hThread == (HANDLE)(LONG_PTR)-2) {
                code = STILL_ACTIVE;
        } else if (!np_win_main_thread_code(hThread, &code)) {
                struct w_obj *o = np_win_handle_get(hThread, W_THREAD);
                if (!o)
                        return FALSE;
                code = atomic_load(&((struct w_threadobj *)o)->exit_code);
                np_win_put(o);
        }
        if (lpExitCode)
                *lpExitCode = code;
        return TRUE;
}

struct w_waitable *np_win_thread_waitable(struct w_obj *o)
{
        return &((struct w_threadobj *)o)->wt;
}

#define W_CURRENT_THREAD ((HANDLE)(LONG_PTR)-2)

NPIPE_WIN_API HANDLE WINAPI npipe_win_GetCurrentThread(void)
{
        return W_CURRENT_THREAD;
}

struct w_thread *np_win_thread_of(HANDLE h)
{
        if (h == W_CURRENT_THREAD) {
                struct w_thread *me = np_win_self();
                np_win_thread_ref(me);
                return me;
        }
        struct w_obj *o = np_win_handle_get(h, W_THREAD);
        if (!o)
                return NULL;
        struct w_thread *t = ((struct w_threadobj *)o)->self;
        np_win_thread_ref(t);
        np_win_put(o);
        return t;
}
