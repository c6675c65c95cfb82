/*
 * event.c - CreateEvent, SetEvent, ResetEvent.
 *
 * Manual-reset events stay signalled until ResetEvent; auto-reset events
 * release one waiter and reset themselves.  A named event is shared by the
 * handles of this process that name it (ERROR_ALREADY_EXISTS for the
 * second); names do not reach other processes, nor do events that a child
 * inherits: it gets their values as handles it cannot use (docs/win32.md).
 */
#include "win32/win32.h"

#include <stdlib.h>
#include <string.h>

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct w_event *named;

static void event_destroy(struct w_obj *o)
{
        struct w_event *e = (struct w_event *)o;
        free(e->name);
        free(e);
}

static void event_close(struct w_obj *o)
{
        struct w_event *e = (struct w_event *)o;
        if (!e->name)
                return;
        /* the name lives as long as one of its handles (not longer); a
         * CreateEvent of the name may have given it a new one meanwhile */
        pthread_mutex_lock(&names_lock);
        if (atomic_load(&e->obj.handles) == 0)
                for (struct w_event **p = &named; *p; p = &(*p)->next)
                        if (*p == e) {
                                *p = e->next;
                                break;
                        }
        pthread_mutex_unlock(&names_lock);
}

static HANDLE create_event(BOOL manual, BOOL initial, const char *name)
{
        HANDLE h = NULL;
        if (name && !*name)
                name = NULL;
        /* the names lock is held across lookup and insertion, so two threads
         * creating one name get one event */
        if (name) {
                pthread_mutex_lock(&names_lock);
                for (struct w_event *e = named; e; e = e->next)
                        if (!strcmp(e->name, name) && atomic_load(&e->obj.handles) > 0) {
                                np_win_ref(&e->obj);
                                h = np_win_handle_new(&e->obj);
                                if (h) {
                                        np_win_set_error(ERROR_ALREADY_EXISTS);
                                }
                                pthread_mutex_unlock(&names_lock);
                                return h;
                        }
        }
        struct w_event *e = calloc(1, sizeof(*e));
        if (!e || (name && !(e->name = strdup(name)))) {
                free(e);
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                goto out;
        }
        np_win_obj_init(&e->obj, W_EVENT, event_destroy, event_close);
        np_win_waitable_init(&e->wt, manual ? 1 : 0, initial ? 1 : 0);
        h = np_win_handle_new(&e->obj);
        if (!h)
                goto out;
        if (name) {
                e->next = named;
                named = e;
        }
        np_win_set_error(ERROR_SUCCESS);
out:
        if (name)
                pthread_mutex_unlock(&names_lock);
        return h;
}

/* bInheritHandle: the handle is marked for CreateProcess, which passes
 * the value on but not the event (docs/win32.md, spawn.c). */
static HANDLE inheritable(HANDLE h, const SECURITY_ATTRIBUTES *sa)
{
        if (h && sa && sa->bInheritHandle)
                np_win_handle_flags(h, NULL, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
        return h;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes,
                                                   BOOL bManualReset, BOOL bInitialState,
                                                   LPCSTR lpName)
{
        return inheritable(create_event(bManualReset, bInitialState, lpName), lpEventAttributes);
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateEventW(LPSECURITY_ATTRIBUTES lpEventAttributes,
                                                   BOOL bManualReset, BOOL bInitialState,
                                                   LPCWSTR lpName)
{
        char *name;
        if (!np_win_utf16_arg(lpName, &name))
                return NULL;
        HANDLE h = inheritable(create_event(bManualReset, bInitialState, name), lpEventAttributes);
        free(name);
        return h;
}

static BOOL event_op(HANDLE hEvent, int set)
{
        struct w_obj *o = np_win_handle_get(hEvent, W_EVENT);
        if (!o)
                return FALSE;
        struct w_event *e = (struct w_event *)o;
        if (set)
                np_win_signal(&e->wt);
        else
                np_win_unsignal(&e->wt);
        np_win_put(o);
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_SetEvent(HANDLE hEvent)
{
        return event_op(hEvent, 1);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ResetEvent(HANDLE hEvent)
{
        return event_op(hEvent, 0);
}
