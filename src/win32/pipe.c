/*
 * pipe.c - the pipe end object behind a pipe HANDLE: its life (reference
 * counts, CloseHandle, the native end closed by the last call out), the
 * entry and exit of every call that uses the native end, the binding to a
 * completion port, and GetFileType.
 *
 * The calls on pipe handles are in the files above it: create.c (making
 * and opening them), info.c (state and information queries),
 * impersonate.c, and the I/O files (io.c, overlapped.c, completion.c).
 */
#include "win32/win32.h"

#include <stdlib.h>

/* ---- the pipe object ------------------------------------------------------------------------ */

static void pipe_destroy(struct w_obj *o)
{
        struct w_pipe *p = (struct w_pipe *)o;
        if (p->port)
                np_win_put((struct w_obj *)p->port);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

/* Close the native end, once. */
static void native_close(struct w_pipe *p)
{
        int zero = 0;
        if (atomic_compare_exchange_strong(&p->np_closed, &zero, 1))
                npipe_close(p->np);
}

/* CloseHandle: the end closes now, as the NT cleanup of the last handle
 * does: pending operations complete (cancelled, through their event,
 * port or APC), the peer sees the close.  Calls still running in other
 * threads are woken by the native layer and fail. */
static void pipe_close(struct w_obj *o)
{
        struct w_pipe *p = (struct w_pipe *)o;
        atomic_store(&p->closed, 1);
        /* the native handle is freed by npipe_close: not while a call of
         * ours may still be about to use it - one counted in `calls`, or
         * one that holds a slot of the handle table (io.c: the slot is
         * recycled when it returns); the last call out closes it (here,
         * np_win_pipe_last_out or pipe_unslotted: every one of them makes
         * its change, then looks at the other two, all sequentially
         * consistent, so the last one sees all three) */
        if (atomic_load(&p->calls) == 0 && atomic_load(&p->obj.slots) == 0)
                native_close(p);
}

/* The object's last table slot recycled: a call that held it has
 * returned. */
static void pipe_unslotted(struct w_obj *o)
{
        struct w_pipe *p = (struct w_pipe *)o;
        if (atomic_load(&p->closed) && atomic_load(&p->calls) == 0)
                native_close(p);
}

static struct w_pipe *pipe_new(npipe_t *np, int server, int overlapped, unsigned access)
{
        struct w_pipe *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        np_win_obj_init(&p->obj, W_PIPE, pipe_destroy, pipe_close);
        p->obj.unslotted = pipe_unslotted;
        /* CREATE-09: a new handle is signalled */
        np_win_waitable_init(&p->wt, 1, 1);
        p->np = np;
        p->server = server;
        p->overlapped = overlapped;
        p->access = access;
        pthread_mutex_init(&p->lock, NULL);
        return p;
}

struct w_pipe *np_win_pipe_get(HANDLE h)
{
        return (struct w_pipe *)np_win_handle_get(h, W_PIPE);
}

/* np_win_pipe_in and np_win_pipe_exit are inline (win32.h): the last
 * call counted in `calls` out of a closed end closes it here, unless a
 * call still holds a slot (pipe_unslotted then does). */
void np_win_pipe_last_out(struct w_pipe *p)
{
        if (atomic_load(&p->obj.slots) == 0)
                native_close(p);
}

struct w_pipe *np_win_pipe_enter(HANDLE h)
{
        struct w_pipe *p = np_win_pipe_get(h);
        if (!p)
                return NULL;
        if (!np_win_pipe_in(p)) {
                np_win_put(&p->obj);
                return NULL;
        }
        return p;
}

struct w_pipe *np_win_pipe_enter_for(HANDLE h, unsigned rights)
{
        struct w_pipe *p = np_win_pipe_enter(h);
        if (p && (p->access & rights) != rights) {
                /* the right decides before anything the pipe's state would */
                np_win_set_error(ERROR_ACCESS_DENIED);
                np_win_pipe_leave(p);
                return NULL;
        }
        return p;
}

void np_win_pipe_leave(struct w_pipe *p)
{
        np_win_pipe_exit(p);
        np_win_put(&p->obj);
}

BOOL np_win_pipe_bind(struct w_pipe *p, struct w_port *port, ULONG_PTR key)
{
        /* a synchronous handle cannot complete through a port; a handle is
         * bound once, for good */
        if (!p->overlapped)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        pthread_mutex_lock(&p->lock);
        if (p->port) {
                pthread_mutex_unlock(&p->lock);
                return np_win_fail(ERROR_INVALID_PARAMETER);
        }
        np_win_ref((struct w_obj *)port);
        p->key = key;
        /* the key before the port: a call that sees the port reads its key
         * (np_win_pipe_port) */
        __atomic_store_n(&p->port, port, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&p->lock);
        return TRUE;
}

HANDLE np_win_pipe_handle(npipe_t *np, int server, int overlapped, unsigned access)
{
        struct w_pipe *p = pipe_new(np, server, overlapped, access);
        if (!p) {
                npipe_close(np);
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return INVALID_HANDLE_VALUE;
        }
        HANDLE h = np_win_handle_new(&p->obj);
        if (!h) {
                DWORD err = npipe_win_GetLastError();
                npipe_close(np);
                np_win_set_error(err);
                return INVALID_HANDLE_VALUE;
        }
        return h;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetFileType(HANDLE hFile)
{
        struct w_file *f = np_win_file_get(hFile);
        if (f) {
                DWORD type = f->type;
                np_win_put(&f->obj);
                np_win_set_error(ERROR_SUCCESS);
                return type;
        }
        struct w_pipe *p = np_win_pipe_get(hFile);
        if (!p)
                return FILE_TYPE_UNKNOWN;
        np_win_put(&p->obj);
        np_win_set_error(ERROR_SUCCESS);
        return FILE_TYPE_PIPE;
}
