/*
 * create.c - making and opening pipe handles: CreateNamedPipe (and the
 * security descriptors it is given), CreateFile, CreatePipe, and the
 * client calls built on opening: WaitNamedPipe, CallNamedPipe.
 *
 * Parameter checks happen here, in the order and with the error codes of
 * Windows (spec CREATE, OPEN, ANON, WAIT); the native layer then decides
 * everything that depends on the pipe's state.  A new native end becomes
 * a handle through pipe.c (np_win_pipe_handle).
 */
#include "win32/win32.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
                free(canon);
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
        return np_win_pipe_handle(np, 1, (open_mode & FILE_FLAG_OVERLAPPED) != 0, access);
}

/* bInheritHandle of a SECURITY_ATTRIBUTES: the handle goes to CreateProcess
 * children (spawn.c). */
static HANDLE inheritable(HANDLE h, const SECURITY_ATTRIBUTES *sa)
{
        if (h && h != INVALID_HANDLE_VALUE && sa && sa->bInheritHandle)
                np_win_handle_flags(h, NULL, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
        return h;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateNamedPipeA(LPCSTR lpName, DWORD dwOpenMode,
                                                       DWORD dwPipeMode, DWORD nMaxInstances,
                                                       DWORD nOutBufferSize, DWORD nInBufferSize,
                                                       DWORD nDefaultTimeOut,
                                                       LPSECURITY_ATTRIBUTES lpSecurityAttributes)
{
        return inheritable(create_named_pipe(lpName, dwOpenMode, dwPipeMode, nMaxInstances,
                                             nOutBufferSize, nInBufferSize, nDefaultTimeOut,
                                             lpSecurityAttributes),
                           lpSecurityAttributes);
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateNamedPipeW(LPCWSTR lpName, DWORD dwOpenMode,
                                                       DWORD dwPipeMode, DWORD nMaxInstances,
                                                       DWORD nOutBufferSize, DWORD nInBufferSize,
                                                       DWORD nDefaultTimeOut,
                                                       LPSECURITY_ATTRIBUTES lpSecurityAttributes)
{
        char *name;
        if (!np_win_utf16_arg(lpName, &name))
                return INVALID_HANDLE_VALUE;
        HANDLE h = create_named_pipe(name, dwOpenMode, dwPipeMode, nMaxInstances, nOutBufferSize,
                                     nInBufferSize, nDefaultTimeOut, lpSecurityAttributes);
        free(name);
        return inheritable(h, lpSecurityAttributes);
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

/* CreateFile of a path in UTF-8 (the A and W forms, CallNamedPipe). */
static HANDLE create_file(const char *path, DWORD desired, DWORD disposition, DWORD flags)
{
        char *canon;
        enum w_name_kind kind = np_win_name(path, &canon);
        switch (kind) {
        case WNAME_NULL:
        case WNAME_EMPTY:
                np_win_set_error(ERROR_PATH_NOT_FOUND);
                return INVALID_HANDLE_VALUE;
        case WNAME_REMOTE: /* over SMB (docs/remote.md) */
        case WNAME_LOCAL:
                break;
        case WNAME_OTHER:
                if (np_win_name_has_wildcards(path)) {
                        np_win_set_error(ERROR_INVALID_NAME);
                        return INVALID_HANDLE_VALUE;
                }
                /* a Linux path: a file (file.c); a device or UNC path
                 * (\\...) other than a pipe is not there */
                if (path[0] == '\\' && path[1] == '\\') {
                        np_win_set_error(ERROR_FILE_NOT_FOUND);
                        return INVALID_HANDLE_VALUE;
                }
                return np_win_file_open(path, desired, disposition, flags);
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
        HANDLE h = np_win_pipe_handle(np, 0, (flags & FILE_FLAG_OVERLAPPED) != 0, access);
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
        (void)hTemplateFile;
        return inheritable(
            create_file(lpFileName, dwDesiredAccess, dwCreationDisposition, dwFlagsAndAttributes),
            lpSecurityAttributes);
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess,
                                                  DWORD dwShareMode,
                                                  LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                                                  DWORD dwCreationDisposition,
                                                  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
{
        char *path;
        if (!np_win_utf16_arg(lpFileName, &path))
                return INVALID_HANDLE_VALUE;
        HANDLE h =
            npipe_win_CreateFileA(path, dwDesiredAccess, dwShareMode, lpSecurityAttributes,
                                  dwCreationDisposition, dwFlagsAndAttributes, hTemplateFile);
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
        HANDLE rh = np_win_pipe_handle(srv, 1, 0, WACC_READ | WACC_READ_ATTR | WACC_WRITE_ATTR);
        if (rh == INVALID_HANDLE_VALUE) {
                npipe_close(cli);
                return FALSE;
        }
        HANDLE wh = np_win_pipe_handle(cli, 0, 0, WACC_WRITE | WACC_WRITE_ATTR | WACC_READ_ATTR);
        if (wh == INVALID_HANDLE_VALUE) {
                DWORD err = npipe_win_GetLastError();
                npipe_win_CloseHandle(rh);
                return np_win_fail(err);
        }
        *hReadPipe = inheritable(rh, lpPipeAttributes);
        *hWritePipe = inheritable(wh, lpPipeAttributes);
        return TRUE;
}

/* ---- WaitNamedPipe -------------------------------------------------------------------------- */

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

/* WaitNamedPipe of a path in UTF-8 (the A and W forms, CallNamedPipe). */
static BOOL wait_named_pipe(const char *path, DWORD timeout)
{
        char *canon;
        enum w_name_kind kind = np_win_name(path, &canon);
        switch (kind) {
        case WNAME_NULL:
        case WNAME_EMPTY:
                return np_win_fail(ERROR_PATH_NOT_FOUND);
        case WNAME_OTHER:
                /* NAME-13 */
                return np_win_fail(np_win_op_error(WOP_WAIT, NPIPE_EBADNAME, 0));
        case WNAME_REMOTE: /* over SMB (docs/remote.md) */
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
        return wait_named_pipe(lpNamedPipeName, nTimeOut);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_WaitNamedPipeW(LPCWSTR lpNamedPipeName, DWORD nTimeOut)
{
        char *name;
        if (!np_win_utf16_arg(lpNamedPipeName, &name))
                return FALSE;
        BOOL ok = wait_named_pipe(name, nTimeOut);
        free(name);
        return ok;
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
        HANDLE h = create_file(path, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING, 0);
        if (h == INVALID_HANDLE_VALUE && npipe_win_GetLastError() == ERROR_PIPE_BUSY) {
                if (!wait_named_pipe(path, timeout))
                        return FALSE;
                h = create_file(path, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING, 0);
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
        char *name;
        if (!np_win_utf16_arg(lpNamedPipeName, &name))
                return FALSE;
        BOOL ok = call_named_pipe(name, lpInBuffer, nInBufferSize, lpOutBuffer, nOutBufferSize,
                                  lpBytesRead, nTimeOut);
        free(name);
        return ok;
}
