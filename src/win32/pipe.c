/*
 * pipe.c - pipe handles: CreateNamedPipe, CreateFile, CreatePipe,
 * WaitNamedPipe, CallNamedPipe, the state and information queries,
 * DisconnectNamedPipe, FlushFileBuffers, CloseHandle of a pipe end.
 *
 * Parameter checks happen here, in the order and with the error codes of
 * Windows (spec CREATE, OPEN, MODE, INFO); the native layer then decides
 * everything that depends on the pipe's state.
 */
#include "win32/win32.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
         * ours may still be about to use it; the last call out closes it */
        if (atomic_load(&p->calls) == 0)
                native_close(p);
}

struct w_pipe *np_win_pipe_new(npipe_t *np, int server, int overlapped, unsigned access)
{
        struct w_pipe *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        np_win_obj_init(&p->obj, W_PIPE, pipe_destroy, pipe_close);
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

struct w_pipe *np_win_pipe_enter(HANDLE h)
{
        struct w_pipe *p = np_win_pipe_get(h);
        if (!p)
                return NULL;
        atomic_fetch_add(&p->calls, 1);
        /* closed since we looked it up: its native end may be gone */
        if (atomic_load(&p->closed)) {
                np_win_pipe_leave(p);
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
        return p;
}

void np_win_pipe_leave(struct w_pipe *p)
{
        if (atomic_fetch_sub(&p->calls, 1) == 1 && atomic_load(&p->closed))
                native_close(p);
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
        p->port = port;
        pthread_mutex_unlock(&p->lock);
        return TRUE;
}

/* Give a new native end a handle; closes it again when that fails. */
static HANDLE pipe_handle(npipe_t *np, int server, int overlapped, unsigned access)
{
        struct w_pipe *p = np_win_pipe_new(np, server, overlapped, access);
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

/* The reason a pipe operation refused a handle (ERROR_INVALID_HANDLE is
 * already set when the handle is not a pipe). */
static BOOL access_denied(void)
{
        return np_win_fail(ERROR_ACCESS_DENIED);
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetFileType(HANDLE hFile)
{
        struct w_pipe *p = np_win_pipe_get(hFile);
        if (!p)
                return FILE_TYPE_UNKNOWN;
        np_win_put(&p->obj);
        np_win_set_error(ERROR_SUCCESS);
        return FILE_TYPE_PIPE;
}

/* ---- CreateNamedPipe ------------------------------------------------------------------------ */

#define OPEN_MODE_ALLOWED                                                                          \
        (PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE | FILE_FLAG_WRITE_THROUGH |            \
         FILE_FLAG_OVERLAPPED | WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY)
#define PIPE_MODE_ALLOWED                                                                          \
        (PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_NOWAIT | PIPE_REJECT_REMOTE_CLIENTS)

/* Who may open the pipe, from CreateNamedPipe's SECURITY_ATTRIBUTES.  The
 * native policies are owner, group and everyone, and ACEs name SIDs this
 * layer cannot map to uids; so one case is understood: a present NULL
 * DACL, which on Windows grants everyone every right, becomes
 * NPIPE_ACCESS_EVERYONE (local users; remote anonymous users still need
 * NPIPE_ALLOW_ANONYMOUS).  Anything else keeps the native default, the
 * creating user and root (docs/win32.md). */
static enum npipe_access_policy sa_policy(const SECURITY_ATTRIBUTES *sa)
{
        if (!sa || !sa->lpSecurityDescriptor)
                return NPIPE_ACCESS_OWNER;
        const SECURITY_DESCRIPTOR *sd = sa->lpSecurityDescriptor;
        if (sd->Revision != SECURITY_DESCRIPTOR_REVISION || !(sd->Control & SE_DACL_PRESENT))
                return NPIPE_ACCESS_OWNER;
        int null_dacl;
        if (sd->Control & SE_SELF_RELATIVE)
                null_dacl = ((const SECURITY_DESCRIPTOR_RELATIVE *)sd)->Dacl == 0;
        else
                null_dacl = sd->Dacl == NULL;
        return null_dacl ? NPIPE_ACCESS_EVERYONE : NPIPE_ACCESS_OWNER;
}

static HANDLE create_named_pipe(const char *name, DWORD open_mode, DWORD pipe_mode,
                                DWORD max_instances, DWORD out_size, DWORD in_size, DWORD timeout,
                                const SECURITY_ATTRIBUTES *sa)
{
        /* NAME-04 */
        if (!name) {
                np_win_set_error(ERROR_PATH_NOT_FOUND);
                return INVALID_HANDLE_VALUE;
        }
        /* CREATE-01: exactly one direction, and only the documented flags */
        DWORD dir = open_mode & PIPE_ACCESS_DUPLEX;
        if (!dir || (open_mode & ~(DWORD)OPEN_MODE_ALLOWED)) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return INVALID_HANDLE_VALUE;
        }
        /* CREATE-02/03: defined mode bits only; no message reads of a byte pipe */
        if ((pipe_mode & ~(DWORD)PIPE_MODE_ALLOWED) ||
            ((pipe_mode & PIPE_READMODE_MESSAGE) && !(pipe_mode & PIPE_TYPE_MESSAGE))) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return INVALID_HANDLE_VALUE;
        }
        /* CREATE-04: 1..255, 255 meaning unlimited */
        if (max_instances == 0 || max_instances > PIPE_UNLIMITED_INSTANCES) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return INVALID_HANDLE_VALUE;
        }
        char *canon;
        enum w_name_kind kind = np_win_name(name, &canon);
        if (kind == WNAME_EMPTY) {
                np_win_set_error(ERROR_PATH_NOT_FOUND);
                return INVALID_HANDLE_VALUE;
        }
        if (kind != WNAME_LOCAL) {
                /* NAME-03, NAME-14: not a pipe here */
                np_win_set_error(ERROR_INVALID_NAME);
                return INVALID_HANDLE_VALUE;
        }
        if (!canon) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return INVALID_HANDLE_VALUE;
        }
        struct npipe_server_opts opts;
        npipe_server_opts_init(&opts);
        opts.type = (pipe_mode & PIPE_TYPE_MESSAGE) ? NPIPE_TYPE_MESSAGE : NPIPE_TYPE_BYTE;
        opts.dir = (enum npipe_dir)dir; /* the same numbers: 1 in, 2 out, 3 duplex */
        opts.max_instances =
            max_instances == PIPE_UNLIMITED_INSTANCES ? NPIPE_UNLIMITED_INSTANCES : max_instances;
        opts.in_quota = in_size;
        opts.out_quota = out_size;
        /* CREATE-05: 0 means 50 ms */
        opts.default_timeout_ms = timeout ? timeout : 50;
        opts.policy = sa_policy(sa);
        opts.flags = 0;
        if (open_mode & FILE_FLAG_FIRST_PIPE_INSTANCE)
                opts.flags |= NPIPE_FIRST_INSTANCE;
        if (pipe_mode & PIPE_REJECT_REMOTE_CLIENTS)
                opts.flags |= NPIPE_REJECT_REMOTE;
        if (pipe_mode & PIPE_NOWAIT)
                opts.flags |= NPIPE_NOWAIT;
        if (pipe_mode & PIPE_READMODE_MESSAGE)
                opts.flags |= NPIPE_READMODE_MESSAGE;
        npipe_t *np;
        int r = npipe_create(canon, &opts, &np);
        free(canon);
        if (r < 0) {
                np_win_set_error(np_win_op_error(WOP_CREATE, r, 0));
                return INVALID_HANDLE_VALUE;
        }
        /* CREATE-07: the rights of the direction; an inbound server has no
         * FILE_WRITE_ATTRIBUTES, an outbound one no FILE_READ_ATTRIBUTES */
        unsigned access = 0;
        if (dir & PIPE_ACCESS_INBOUND)
                access |= WACC_READ | WACC_READ_ATTR;
        if (dir & PIPE_ACCESS_OUTBOUND)
                access |= WACC_WRITE | WACC_WRITE_ATTR;
        return pipe_handle(np, 1, (open_mode & FILE_FLAG_OVERLAPPED) != 0, access);
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateNamedPipeA(LPCSTR lpName, DWORD dwOpenMode,
                                                       DWORD dwPipeMode, DWORD nMaxInstances,
                                                       DWORD nOutBufferSize, DWORD nInBufferSize,
                                                       DWORD nDefaultTimeOut,
                                                       LPSECURITY_ATTRIBUTES lpSecurityAttributes)
{
        return create_named_pipe(lpName, dwOpenMode, dwPipeMode, nMaxInstances, nOutBufferSize,
                                 nInBufferSize, nDefaultTimeOut, lpSecurityAttributes);
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateNamedPipeW(LPCWSTR lpName, DWORD dwOpenMode,
                                                       DWORD dwPipeMode, DWORD nMaxInstances,
                                                       DWORD nOutBufferSize, DWORD nInBufferSize,
                                                       DWORD nDefaultTimeOut,
                                                       LPSECURITY_ATTRIBUTES lpSecurityAttributes)
{
        if (!lpName)
                return create_named_pipe(NULL, dwOpenMode, dwPipeMode, nMaxInstances,
                                         nOutBufferSize, nInBufferSize, nDefaultTimeOut,
                                         lpSecurityAttributes);
        DWORD err;
        char *name = np_win_utf16_to_utf8(lpName, &err);
        if (!name) {
                np_win_set_error(err);
                return INVALID_HANDLE_VALUE;
        }
        HANDLE h = create_named_pipe(name, dwOpenMode, dwPipeMode, nMaxInstances, nOutBufferSize,
                                     nInBufferSize, nDefaultTimeOut, lpSecurityAttributes);
        free(name);
        return h;
}

/* ---- CreateFile ----------------------------------------------------------------------------- */

/* The rights a client handle gets (OPEN-04: always FILE_READ_ATTRIBUTES;
 * GENERIC_WRITE includes FILE_WRITE_ATTRIBUTES, GENERIC_READ does not). */
static unsigned client_access(DWORD desired)
{
        unsigned a = WACC_READ_ATTR;
        if (desired & (GENERIC_ALL | MAXIMUM_ALLOWED))
                desired |= GENERIC_READ | GENERIC_WRITE;
        if (desired & (GENERIC_READ | FILE_READ_DATA))
                a |= WACC_READ;
        if (desired & GENERIC_WRITE)
                a |= WACC_WRITE | WACC_WRITE_ATTR;
        if (desired & (FILE_WRITE_DATA | FILE_APPEND_DATA))
                a |= WACC_WRITE;
        if (desired & FILE_WRITE_ATTRIBUTES)
                a |= WACC_WRITE_ATTR;
        return a;
}

HANDLE np_win_create_file(const char *path, DWORD desired, DWORD disposition, DWORD flags)
{
        char *canon;
        enum w_name_kind kind = np_win_name(path, &canon);
        switch (kind) {
        case WNAME_NULL:
        case WNAME_EMPTY:
                np_win_set_error(ERROR_PATH_NOT_FOUND);
                return INVALID_HANDLE_VALUE;
        case WNAME_REMOTE:
                /* remote pipes are reached through Samba from Windows, not
                 * from this side (docs/win32.md) */
                np_win_set_error(ERROR_BAD_NETPATH);
                return INVALID_HANDLE_VALUE;
        case WNAME_OTHER:
                /* not a pipe: what Windows says about a file that is not there */
                np_win_set_error(np_win_name_has_wildcards(path) ? ERROR_INVALID_NAME
                                                                 : ERROR_FILE_NOT_FOUND);
                return INVALID_HANDLE_VALUE;
        case WNAME_LOCAL:
                break;
        }
        if (!canon) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return INVALID_HANDLE_VALUE;
        }
        /* a pipe can only be opened: NPFS refuses to create or truncate one */
        if (disposition != OPEN_EXISTING && disposition != OPEN_ALWAYS) {
                free(canon);
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return INVALID_HANDLE_VALUE;
        }
        unsigned access = client_access(desired);
        unsigned nacc = 0;
        if (access & WACC_READ)
                nacc |= NPIPE_READ;
        if (access & WACC_WRITE)
                nacc |= NPIPE_WRITE;
        if (access & WACC_WRITE_ATTR)
                nacc |= NPIPE_WRITE_ATTRIBUTES;
        npipe_t *np;
        /* OPEN-08: CreateFile never waits; WaitNamedPipe is the waiting call */
        int r = npipe_open(canon, nacc, 0, &np);
        free(canon);
        if (r < 0) {
                np_win_set_error(np_win_op_error(WOP_OPEN, r, 0));
                return INVALID_HANDLE_VALUE;
        }
        HANDLE h = pipe_handle(np, 0, (flags & FILE_FLAG_OVERLAPPED) != 0, access);
        if (h != INVALID_HANDLE_VALUE)
                np_win_set_error(disposition == OPEN_ALWAYS ? ERROR_ALREADY_EXISTS : ERROR_SUCCESS);
        return h;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess,
                                                  DWORD dwShareMode,
                                                  LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                                                  DWORD dwCreationDisposition,
                                                  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
{
        (void)dwShareMode;
        (void)lpSecurityAttributes;
        (void)hTemplateFile;
        return np_win_create_file(lpFileName, dwDesiredAccess, dwCreationDisposition,
                           dwFlagsAndAttributes);
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess,
                                                  DWORD dwShareMode,
                                                  LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                                                  DWORD dwCreationDisposition,
                                                  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
{
        (void)dwShareMode;
        (void)lpSecurityAttributes;
        (void)hTemplateFile;
        if (!lpFileName)
                return np_win_create_file(NULL, dwDesiredAccess, dwCreationDisposition,
                                   dwFlagsAndAttributes);
        DWORD err;
        char *path = np_win_utf16_to_utf8(lpFileName, &err);
        if (!path) {
                np_win_set_error(err);
                return INVALID_HANDLE_VALUE;
        }
        HANDLE h = np_win_create_file(path, dwDesiredAccess, dwCreationDisposition, dwFlagsAndAttributes);
        free(path);
        return h;
}

/* ---- CreatePipe ----------------------------------------------------------------------------- */

/* ANON-01..04: an anonymous pipe is a byte pipe under a generated unique
 * name with one instance; the read end is its server end.  The server is
 * duplex underneath so that the read end keeps FILE_WRITE_ATTRIBUTES
 * (ANON-02); the rights below keep each end to its direction. */
NPIPE_WIN_API BOOL WINAPI npipe_win_CreatePipe(PHANDLE hReadPipe, PHANDLE hWritePipe,
                                               LPSECURITY_ATTRIBUTES lpPipeAttributes, DWORD nSize)
{
        static _Atomic unsigned serial;
        (void)lpPipeAttributes;
        if (!hReadPipe || !hWritePipe)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char name[96];
        snprintf(name, sizeof(name), "\\\\.\\pipe\\npipe-anon.%ld.%u.%08lx", (long)getpid(),
                 atomic_fetch_add(&serial, 1), (unsigned long)ts.tv_nsec);
        struct npipe_server_opts opts;
        npipe_server_opts_init(&opts);
        opts.type = NPIPE_TYPE_BYTE;
        opts.dir = NPIPE_DUPLEX;
        opts.max_instances = 1;
        opts.in_quota = opts.out_quota = nSize ? nSize : 4096;
        opts.flags = NPIPE_FIRST_INSTANCE;
        npipe_t *srv, *cli;
        int r = npipe_create(name, &opts, &srv);
        if (r < 0)
                return np_win_fail(np_win_op_error(WOP_CREATE, r, 0));
        r = npipe_open(name, NPIPE_WRITE, 0, &cli);
        if (r < 0) {
                npipe_close(srv);
                return np_win_fail(np_win_op_error(WOP_OPEN, r, 0));
        }
        HANDLE rh = pipe_handle(srv, 1, 0, WACC_READ | WACC_READ_ATTR | WACC_WRITE_ATTR);
        if (rh == INVALID_HANDLE_VALUE) {
                npipe_close(cli);
                return FALSE;
        }
        HANDLE wh = pipe_handle(cli, 0, 0, WACC_WRITE | WACC_WRITE_ATTR | WACC_READ_ATTR);
        if (wh == INVALID_HANDLE_VALUE) {
                DWORD err = npipe_win_GetLastError();
                npipe_win_CloseHandle(rh);
                return np_win_fail(err);
        }
        *hReadPipe = rh;
        *hWritePipe = wh;
        return TRUE;
}

/* ---- WaitNamedPipe, CallNamedPipe ----------------------------------------------------------- */

/* WAIT-07: 0 is the pipe's default, 0xFFFFFFFF forever, 1 (NMPWAIT_NOWAIT)
 * simply one millisecond. */
static int wait_timeout(DWORD t)
{
        if (t == NMPWAIT_USE_DEFAULT_WAIT)
                return NPIPE_WAIT_DEFAULT;
        if (t == NMPWAIT_WAIT_FOREVER)
                return NPIPE_INFINITE;
        return t > INT_MAX ? INT_MAX : (int)t;
}

BOOL np_win_wait_named_pipe(const char *path, DWORD timeout)
{
        char *canon;
        enum w_name_kind kind = np_win_name(path, &canon);
        switch (kind) {
        case WNAME_NULL:
        case WNAME_EMPTY:
                return np_win_fail(ERROR_PATH_NOT_FOUND);
        case WNAME_REMOTE:
                return np_win_fail(ERROR_BAD_NETPATH);
        case WNAME_OTHER:
                /* NAME-13 */
                return np_win_fail(np_win_op_error(WOP_WAIT, NPIPE_EBADNAME, 0));
        case WNAME_LOCAL:
                break;
        }
        if (!canon)
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        int r = npipe_wait(canon, wait_timeout(timeout));
        free(canon);
        if (r < 0)
                return np_win_fail(np_win_op_error(WOP_WAIT, r, 0));
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WaitNamedPipeA(LPCSTR lpNamedPipeName, DWORD nTimeOut)
{
        return np_win_wait_named_pipe(lpNamedPipeName, nTimeOut);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WaitNamedPipeW(LPCWSTR lpNamedPipeName, DWORD nTimeOut)
{
        if (!lpNamedPipeName)
                return np_win_wait_named_pipe(NULL, nTimeOut);
        DWORD err;
        char *name = np_win_utf16_to_utf8(lpNamedPipeName, &err);
        if (!name)
                return np_win_fail(err);
        BOOL ok = np_win_wait_named_pipe(name, nTimeOut);
        free(name);
        return ok;
}

/* ---- handle state and information ----------------------------------------------------------- */

NPIPE_WIN_API BOOL WINAPI npipe_win_SetNamedPipeHandleState(HANDLE hNamedPipe, LPDWORD lpMode,
                                                            LPDWORD lpMaxCollectionCount,
                                                            LPDWORD lpCollectDataTimeout)
{
        struct w_pipe *p = np_win_pipe_enter(hNamedPipe);
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
        /* MODE-05 / CREATE-08: the right is checked before the values */
        if (!(p->access & WACC_WRITE_ATTR)) {
                ok = access_denied();
                goto out;
        }
        if (lpMode) {
                /* MODE-06: only the read mode and the wait mode can be set */
                if (*lpMode & ~(DWORD)(PIPE_READMODE_MESSAGE | PIPE_NOWAIT)) {
                        ok = np_win_fail(ERROR_INVALID_PARAMETER);
                        goto out;
                }
                enum npipe_read_mode rm =
                    (*lpMode & PIPE_READMODE_MESSAGE) ? NPIPE_READ_MESSAGE : NPIPE_READ_BYTE;
                int nowait = (*lpMode & PIPE_NOWAIT) != 0;
                int r = npipe_set_mode(p->np, &rm, &nowait);
                if (r < 0) {
                        ok = np_win_fail(np_win_op_error(WOP_SETMODE, r, 0));
                        goto out;
                }
        }
        /* MODE-07: collection count and timeout belong to remote client
         * handles; a local pipe refuses them (after the mode is set) */
        if (lpMaxCollectionCount || lpCollectDataTimeout)
                ok = np_win_fail(ERROR_INVALID_PARAMETER);
out:
        np_win_pipe_leave(p);
        return ok;
}

/* The client's user name for GetNamedPipeHandleState (MODE-09).  Windows
 * impersonates the client and asks GetUserName, so a remote (SMB) client
 * is named by its SMB account, as its token would be - not by the unix
 * account Samba mapped it to, whose name may be another (a guest account,
 * an idmap range).  A local client is the login name of the peer
 * credentials the connection was made with. */
static BOOL user_name(struct w_pipe *p, char *buf, size_t size)
{
        if (!p->server)
                return np_win_fail(ERROR_INVALID_FUNCTION); /* SEC-08 */
        struct npipe_remote_client *rc = malloc(sizeof(*rc));
        if (!rc)
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        struct passwd pw, *res = NULL;
        char tmp[1024];
        char num[16];
        const char *name = num;
        int r = npipe_remote_client(p->np, rc);
        if (r == 0) {
                /* a null session's token is ANONYMOUS LOGON (S-1-5-7) */
                name = rc->user[0] || !(rc->flags & NPIPE_REMOTE_ANONYMOUS) ? rc->user
                                                                            : "ANONYMOUS LOGON";
        } else {
                uid_t uid;
                r = npipe_peer_cred(p->np, &uid, NULL);
                if (r < 0) {
                        free(rc);
                        return np_win_fail(ERROR_CANNOT_IMPERSONATE);
                }
                if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
                        name = res->pw_name;
                else
                        snprintf(num, sizeof(num), "%u", (unsigned)uid);
        }
        BOOL ok = TRUE;
        if (strlen(name) + 1 > size)
                ok = np_win_fail(ERROR_INSUFFICIENT_BUFFER);
        else
                memcpy(buf, name, strlen(name) + 1);
        free(rc);
        return ok;
}

static BOOL get_state(HANDLE h, LPDWORD lpState, LPDWORD lpCurInstances,
                      LPDWORD lpMaxCollectionCount, LPDWORD lpCollectDataTimeout, char *user,
                      DWORD user_size)
{
        struct w_pipe *p = np_win_pipe_enter(h);
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
        /* INFO-03 */
        if (!(p->access & WACC_READ_ATTR)) {
                ok = access_denied();
                goto out;
        }
        if (lpState) {
                enum npipe_read_mode rm;
                int nowait;
                int r = npipe_get_mode(p->np, &rm, &nowait);
                if (r < 0) {
                        ok = np_win_fail(np_win_op_error(WOP_QUERY, r, 0));
                        goto out;
                }
                *lpState = (rm == NPIPE_READ_MESSAGE ? PIPE_READMODE_MESSAGE : 0) |
                           (nowait ? PIPE_NOWAIT : 0);
        }
        if (lpCurInstances) {
                struct npipe_info info;
                int r = npipe_get_info(p->np, &info);
                if (r < 0) {
                        ok = np_win_fail(np_win_op_error(WOP_QUERY, r, 0));
                        goto out;
                }
                /* INST-10 (ReactOS clamps to 255) */
                *lpCurInstances = info.cur_instances > 255 ? 255 : info.cur_instances;
        }
        /* MODE-07: remote-only values */
        if (lpMaxCollectionCount || lpCollectDataTimeout) {
                ok = np_win_fail(ERROR_INVALID_PARAMETER);
                goto out;
        }
        if (user && user_size)
                ok = user_name(p, user, user_size);
out:
        np_win_pipe_leave(p);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeHandleStateA(
    HANDLE hNamedPipe, LPDWORD lpState, LPDWORD lpCurInstances, LPDWORD lpMaxCollectionCount,
    LPDWORD lpCollectDataTimeout, LPSTR lpUserName, DWORD nMaxUserNameSize)
{
        return get_state(hNamedPipe, lpState, lpCurInstances, lpMaxCollectionCount,
                         lpCollectDataTimeout, lpUserName, lpUserName ? nMaxUserNameSize : 0);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeHandleStateW(
    HANDLE hNamedPipe, LPDWORD lpState, LPDWORD lpCurInstances, LPDWORD lpMaxCollectionCount,
    LPDWORD lpCollectDataTimeout, LPWSTR lpUserName, DWORD nMaxUserNameSize)
{
        char user[256];
        BOOL ok = get_state(hNamedPipe, lpState, lpCurInstances, lpMaxCollectionCount,
                            lpCollectDataTimeout, lpUserName ? user : NULL,
                            lpUserName && nMaxUserNameSize ? sizeof(user) : 0);
        /* SMB account names are UTF-8; bytes of a unix login name that are
         * not pass as Latin-1 */
        if (ok && lpUserName && nMaxUserNameSize &&
            np_win_utf8_to_utf16(user, lpUserName, nMaxUserNameSize) > nMaxUserNameSize)
                return np_win_fail(ERROR_INSUFFICIENT_BUFFER);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeInfo(HANDLE hNamedPipe, LPDWORD lpFlags,
                                                     LPDWORD lpOutBufferSize,
                                                     LPDWORD lpInBufferSize, LPDWORD lpMaxInstances)
{
        struct w_pipe *p = np_win_pipe_enter(hNamedPipe);
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
        struct npipe_info info;
        int r;
        if (!(p->access & WACC_READ_ATTR)) {
                ok = access_denied(); /* INFO-03 */
        } else if ((r = npipe_get_info(p->np, &info)) < 0) {
                ok = np_win_fail(np_win_op_error(WOP_QUERY, r, 0));
        } else {
                /* INFO-01, INFO-02 (unlimited reads back as 255), QUOTA-11 */
                if (lpFlags)
                        *lpFlags = (info.server_end ? PIPE_SERVER_END : PIPE_CLIENT_END) |
                                   (info.type == NPIPE_TYPE_MESSAGE ? PIPE_TYPE_MESSAGE : 0);
                if (lpOutBufferSize)
                        *lpOutBufferSize = info.out_quota;
                if (lpInBufferSize)
                        *lpInBufferSize = info.in_quota;
                if (lpMaxInstances)
                        *lpMaxInstances = info.max_instances == NPIPE_UNLIMITED_INSTANCES
                                              ? PIPE_UNLIMITED_INSTANCES
                                              : info.max_instances;
        }
        np_win_pipe_leave(p);
        return ok;
}

static BOOL process_id(HANDLE h, PULONG out, int client)
{
        struct w_pipe *p = np_win_pipe_enter(h);
        if (!p)
                return FALSE;
        pid_t pid = 0;
        /* INFO-11: a NULL pointer is refused (npipe: NPIPE_EBUFFER) */
        int r = out ? (client ? npipe_client_pid(p->np, &pid) : npipe_server_pid(p->np, &pid))
                    : NPIPE_EBUFFER;
        np_win_pipe_leave(p);
        if (r < 0)
                return np_win_fail(np_win_op_error(WOP_QUERY, r, 0));
        *out = (ULONG)pid;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientProcessId(HANDLE Pipe, PULONG ClientProcessId)
{
        return process_id(Pipe, ClientProcessId, 1);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeServerProcessId(HANDLE Pipe, PULONG ServerProcessId)
{
        return process_id(Pipe, ServerProcessId, 0);
}

/* ---- GetNamedPipeClientComputerName --------------------------------------------------------- */

/* The remote client's address into buf (size bytes).  Windows keeps a
 * ClientComputerName attribute only for connections that came through the
 * redirector; a local pipe has none, and kernelbase reports its absence as
 * ERROR_PIPE_LOCAL whichever end is asked and whether or not a client is
 * there (INFO-13; the client end and the anonymous-pipe ends too, as the
 * firehazard crate's doc tests observe on Windows).  So the native
 * ELOCAL, ENOTCONN and EFUNCTION all read as ERROR_PIPE_LOCAL here - a
 * client end in this layer is always local anyway. */
static BOOL client_address(HANDLE h, char *buf, size_t size)
{
        struct w_pipe *p = np_win_pipe_enter(h);
        if (!p)
                return FALSE;
        struct npipe_remote_client *rc = malloc(sizeof(*rc));
        if (!rc) {
                np_win_pipe_leave(p);
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        int r = p->server ? npipe_remote_client(p->np, rc) : NPIPE_ELOCAL;
        np_win_pipe_leave(p);
        BOOL ok = TRUE;
        if (r == NPIPE_ELOCAL || r == NPIPE_ENOTCONN || r == NPIPE_EFUNCTION)
                ok = np_win_fail(ERROR_PIPE_LOCAL);
        else if (r < 0)
                ok = np_win_fail(np_win_op_error(WOP_QUERY, r, 0));
        else
                /* Samba hands the broker the SMB session's identity and
                 * socket addresses, not the NetBIOS/DNS name the client
                 * calls itself: the IP address is what there is to give
                 * (docs/win32.md) */
                snprintf(buf, size, "%s", rc->client_addr);
        free(rc);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientComputerNameA(HANDLE Pipe,
                                                                    LPSTR ClientComputerName,
                                                                    ULONG ClientComputerNameLength)
{
        char addr[sizeof(((struct npipe_remote_client *)0)->client_addr)];
        if (!client_address(Pipe, addr, sizeof(addr)))
                return FALSE;
        /* the documentation gives no error for a short buffer; this is the
         * Win32 word for it (unverified on Windows) */
        size_t n = strlen(addr) + 1;
        if (n > ClientComputerNameLength)
                return np_win_fail(ERROR_INSUFFICIENT_BUFFER);
        if (!ClientComputerName)
                return np_win_fail(ERROR_NOACCESS);
        memcpy(ClientComputerName, addr, n);
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientComputerNameW(HANDLE Pipe,
                                                                    LPWSTR ClientComputerName,
                                                                    ULONG ClientComputerNameLength)
{
        char addr[sizeof(((struct npipe_remote_client *)0)->client_addr)];
        if (!client_address(Pipe, addr, sizeof(addr)))
                return FALSE;
        /* the length is in bytes for the W form too */
        size_t units = np_win_utf8_to_utf16(addr, NULL, 0);
        if (units * sizeof(WCHAR) > ClientComputerNameLength)
                return np_win_fail(ERROR_INSUFFICIENT_BUFFER);
        if (!ClientComputerName)
                return np_win_fail(ERROR_NOACCESS);
        np_win_utf8_to_utf16(addr, ClientComputerName, units);
        return TRUE;
}

/* ---- ImpersonateNamedPipeClient, RevertToSelf ----------------------------------------------- */

/*
 * Windows gives the calling thread an impersonation token made from the
 * client's; file access and the like then run as the client until
 * RevertToSelf.  Here the thread takes the client's uid, gid and groups as
 * its effective ids (SEC-13: the peer credentials of the connection; for a
 * remote client the unix account and groups Samba mapped the SMB user to).
 *
 * Linux keeps credentials per thread, but glibc's setresuid(), setgid(),
 * setgroups() ... change every thread of the process (POSIX wants
 * process-wide ids, so glibc signals all threads to make the same call).
 * Impersonation must touch the calling thread only, so the raw system
 * calls are used: the kernel applies those to the calling task alone.
 * Only the effective ids change; the real and saved uid stay 0, which is
 * what lets RevertToSelf set the effective uid back to 0 unprivileged
 * (and the kernel gives back the capabilities with it).
 *
 * Without root there is nothing the thread may change, so the call can
 * succeed only when the client is our own uid: then the thread already
 * acts as it.  Any other client fails with ERROR_CANNOT_IMPERSONATE: a
 * success must never leave the thread running as itself while the caller
 * believes it runs as the client (SEC-12).
 */

/* What RevertToSelf puts back, per thread (thread-local: impersonation is
 * a property of the thread, as the token is on Windows). */
struct w_imp {
        int active; /* the ids below were replaced */
        uid_t euid;
        gid_t egid;
        int dumpable; /* PR_GET_DUMPABLE before (see revert) */
        int ngroups;
        gid_t *groups;
};

static pthread_key_t imp_key;
static pthread_once_t imp_once = PTHREAD_ONCE_INIT;
static _Thread_local struct w_imp *imp_self;

/* A thread that ends while impersonating loses its credentials with it;
 * only the saved list is ours to free. */
static void imp_free(void *v)
{
        struct w_imp *s = v;
        free(s->groups);
        free(s);
}

static void imp_init(void)
{
        pthread_key_create(&imp_key, imp_free);
}

static struct w_imp *imp_state(void)
{
        if (imp_self)
                return imp_self;
        pthread_once(&imp_once, imp_init);
        struct w_imp *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        if (pthread_setspecific(imp_key, s) != 0) {
                free(s);
                return NULL;
        }
        imp_self = s;
        return s;
}

/* The raw calls, with 32-bit ids (the plain numbers take 16-bit ids on
 * the 32-bit ABIs that have the *32 variants). */
static int raw_setgroups(size_t n, const gid_t *list)
{
#ifdef SYS_setgroups32
        return (int)syscall(SYS_setgroups32, n, list);
#else
        return (int)syscall(SYS_setgroups, n, list);
#endif
}

static int raw_setresgid(gid_t egid)
{
#ifdef SYS_setresgid32
        return (int)syscall(SYS_setresgid32, (gid_t)-1, egid, (gid_t)-1);
#else
        return (int)syscall(SYS_setresgid, (gid_t)-1, egid, (gid_t)-1);
#endif
}

static int raw_setresuid(uid_t euid)
{
#ifdef SYS_setresuid32
        return (int)syscall(SYS_setresuid32, (uid_t)-1, euid, (uid_t)-1);
#else
        return (int)syscall(SYS_setresuid, (uid_t)-1, euid, (uid_t)-1);
#endif
}

/* Back to the thread's own ids.  The uid first: while the effective uid is
 * the client's the thread has no CAP_SETGID, so the gid and the groups can
 * only be restored once it is 0 again. */
static BOOL revert(struct w_imp *s)
{
        if (!s || !s->active)
                return TRUE;
        if (raw_setresuid(s->euid) < 0)
                return np_win_fail(ERROR_ACCESS_DENIED);
        int r = raw_setresgid(s->egid);
        if (raw_setgroups((size_t)s->ngroups, s->groups) < 0)
                r = -1;
        s->active = 0;
        free(s->groups);
        s->groups = NULL;
        s->ngroups = 0;
        /* the kernel marks the whole process undumpable (no core files, a
         * root-owned /proc entry) when a thread's effective uid changes;
         * that protects memory the client's uid could read, which it
         * cannot any more once we are back */
        if (s->dumpable == 1)
                prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        if (r < 0)
                return np_win_fail(ERROR_ACCESS_DENIED);
        return TRUE;
}

/* The groups of a local client: the peer credentials carry its uid and
 * gid only, so the groups are those of its account (as a login would
 * give it), or its gid alone when the uid has no account.  malloc'ed. */
static gid_t *account_groups(uid_t uid, gid_t gid, int *n)
{
        struct passwd pw, *res = NULL;
        char tmp[1024];
        int cap = 32;
        gid_t *g = malloc(sizeof(*g) * (size_t)cap);
        if (!g)
                return NULL;
        if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || !res) {
                g[0] = gid;
                *n = 1;
                return g;
        }
        for (;;) {
                int want = cap;
                if (getgrouplist(res->pw_name, gid, g, &want) >= 0) {
                        *n = want;
                        return g;
                }
                /* too small: want is the size it takes */
                if (want <= cap || want > 65536) {
                        free(g);
                        return NULL;
                }
                gid_t *bigger = realloc(g, sizeof(*g) * (size_t)want);
                if (!bigger) {
                        free(g);
                        return NULL;
                }
                g = bigger;
                cap = want;
        }
}

/* Who the thread becomes: uid, gid and groups (malloc'ed), or the error. */
struct w_cred {
        uid_t uid;
        gid_t gid;
        int ngroups;
        gid_t *groups;
};

static DWORD client_cred(HANDLE h, struct w_cred *c)
{
        struct w_pipe *p = np_win_pipe_enter(h);
        if (!p)
                return ERROR_INVALID_HANDLE;
        if (!p->server) {
                np_win_pipe_leave(p);
                /* SEC-08, FSCTL-02: STATUS_ILLEGAL_FUNCTION */
                return np_win_op_error(WOP_QUERY, NPIPE_EFUNCTION, 0);
        }
        struct npipe_remote_client *rc = malloc(sizeof(*rc));
        if (!rc) {
                np_win_pipe_leave(p);
                return ERROR_NOT_ENOUGH_MEMORY;
        }
        c->groups = NULL;
        int local = 0;
        int r = npipe_remote_client(p->np, rc);
        if (r == NPIPE_ELOCAL) {
                local = 1;
                /* also once the client has closed its end (CLOSING): the
                 * credentials stay with the instance until it is
                 * disconnected (SEC-07) */
                r = npipe_peer_cred(p->np, &c->uid, &c->gid);
        }
        np_win_pipe_leave(p);
        if (r < 0) {
                free(rc);
                /* SEC-06: nobody there (listening, disconnected) */
                return ERROR_CANNOT_IMPERSONATE;
        }
        if (local) {
                c->groups = account_groups(c->uid, c->gid, &c->ngroups);
        } else {
                c->uid = rc->uid;
                c->gid = rc->gid;
                c->ngroups = (int)(rc->ngroups < 32 ? rc->ngroups : 32);
                c->groups = malloc(sizeof(gid_t) * (size_t)(c->ngroups ? c->ngroups : 1));
                if (c->groups)
                        memcpy(c->groups, rc->groups, sizeof(gid_t) * (size_t)c->ngroups);
        }
        free(rc);
        return c->groups ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
}

/* Save the thread's ids and take the client's; everything or nothing. */
static BOOL become(struct w_imp *s, const struct w_cred *c)
{
        int n = getgroups(0, NULL);
        if (n < 0)
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        gid_t *saved = malloc(sizeof(gid_t) * (size_t)(n ? n : 1));
        if (!saved)
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        n = getgroups(n, saved);
        if (n < 0) {
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        uid_t euid = geteuid();
        gid_t egid = getegid();
        int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        /* groups and gid while we still have CAP_SETGID, the uid last */
        if (raw_setgroups((size_t)c->ngroups, c->groups) < 0) {
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        if (raw_setresgid(c->gid) < 0) {
                raw_setgroups((size_t)n, saved);
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        if (raw_setresuid(c->uid) < 0) {
                raw_setresgid(egid);
                raw_setgroups((size_t)n, saved);
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        s->euid = euid;
        s->egid = egid;
        s->dumpable = dumpable;
        s->ngroups = n;
        s->groups = saved;
        s->active = 1;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ImpersonateNamedPipeClient(HANDLE hNamedPipe)
{
        struct w_cred c;
        DWORD err = client_cred(hNamedPipe, &c);
        if (err != ERROR_SUCCESS)
                return np_win_fail(err);
        struct w_imp *s = imp_state();
        if (!s) {
                free(c.groups);
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        /* A new impersonation replaces the one in force, as a new token
         * does: first back to our own ids, which decide what we may do and
         * are what RevertToSelf must restore.  A failure below leaves the
         * thread as itself, never as the previous client. */
        if (!revert(s)) {
                free(c.groups);
                return FALSE;
        }
        BOOL ok;
        if (geteuid() == 0)
                ok = become(s, &c);
        else if (c.uid == geteuid())
                ok = TRUE; /* already acting as the client's uid */
        else
                ok = np_win_fail(ERROR_CANNOT_IMPERSONATE);
        free(c.groups);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_RevertToSelf(void)
{
        /* not impersonating: nothing to do, and that is success */
        return revert(imp_self);
}

/* ---- security descriptors ------------------------------------------------------------------- */

NPIPE_WIN_API BOOL WINAPI
npipe_win_InitializeSecurityDescriptor(PSECURITY_DESCRIPTOR pSecurityDescriptor, DWORD dwRevision)
{
        if (dwRevision != SECURITY_DESCRIPTOR_REVISION)
                return np_win_fail(ERROR_UNKNOWN_REVISION);
        if (!pSecurityDescriptor)
                return np_win_fail(ERROR_NOACCESS);
        SECURITY_DESCRIPTOR *sd = pSecurityDescriptor;
        memset(sd, 0, sizeof(*sd));
        sd->Revision = SECURITY_DESCRIPTOR_REVISION;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_SetSecurityDescriptorDacl(
    PSECURITY_DESCRIPTOR pSecurityDescriptor, BOOL bDaclPresent, PACL pDacl, BOOL bDaclDefaulted)
{
        if (!pSecurityDescriptor)
                return np_win_fail(ERROR_NOACCESS);
        SECURITY_DESCRIPTOR *sd = pSecurityDescriptor;
        if (sd->Revision != SECURITY_DESCRIPTOR_REVISION)
                return np_win_fail(ERROR_UNKNOWN_REVISION);
        /* RtlSetDaclSecurityDescriptor: STATUS_INVALID_SECURITY_DESCR */
        if (sd->Control & SE_SELF_RELATIVE)
                return np_win_fail(ERROR_INVALID_SECURITY_DESCR);
        sd->Control &= (SECURITY_DESCRIPTOR_CONTROL) ~(SE_DACL_PRESENT | SE_DACL_DEFAULTED);
        if (bDaclPresent) {
                sd->Control |= SE_DACL_PRESENT;
                sd->Dacl = pDacl;
                if (bDaclDefaulted)
                        sd->Control |= SE_DACL_DEFAULTED;
        } else {
                sd->Dacl = NULL;
        }
        return TRUE;
}
