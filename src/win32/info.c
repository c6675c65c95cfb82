/*
 * info.c - what a pipe handle tells about itself and its pipe:
 * SetNamedPipeHandleState, GetNamedPipeHandleState, GetNamedPipeInfo,
 * GetNamedPipeClientProcessId / ServerProcessId and
 * GetNamedPipeClientComputerName (spec MODE, INFO).
 *
 * None of these moves data or waits; each enters the handle, checks the
 * right Windows asks for (np_win_pipe_enter_for) and asks the native layer.
 */
#include "win32/win32.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- handle state and information ----------------------------------------------------------- */

NPIPE_WIN_API BOOL WINAPI npipe_win_SetNamedPipeHandleState(HANDLE hNamedPipe, LPDWORD lpMode,
                                                            LPDWORD lpMaxCollectionCount,
                                                            LPDWORD lpCollectDataTimeout)
{
        /* MODE-05 / CREATE-08: the right is checked before the values */
        struct w_pipe *p = np_win_pipe_enter_for(hNamedPipe, WACC_WRITE_ATTR);
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
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
        struct w_pipe *p = np_win_pipe_enter_for(h, WACC_READ_ATTR); /* INFO-03 */
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
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
        struct w_pipe *p = np_win_pipe_enter_for(hNamedPipe, WACC_READ_ATTR); /* INFO-03 */
        if (!p)
                return FALSE;
        BOOL ok = TRUE;
        struct npipe_info info;
        int r = npipe_get_info(p->np, &info);
        if (r < 0) {
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

/* Both forms: the address as the caller's string, of `size` bytes (the
 * length is in bytes for the W form too). */
static BOOL computer_name(HANDLE h, void *out, ULONG size, int wide)
{
        char addr[sizeof(((struct npipe_remote_client *)0)->client_addr)];
        if (!client_address(h, addr, sizeof(addr)))
                return FALSE;
        size_t units = wide ? np_win_utf8_to_utf16(addr, NULL, 0) : strlen(addr) + 1;
        /* the documentation gives no error for a short buffer; this is the
         * Win32 word for it (unverified on Windows) */
        if (units * (wide ? sizeof(WCHAR) : 1) > size)
                return np_win_fail(ERROR_INSUFFICIENT_BUFFER);
        if (!out)
                return np_win_fail(ERROR_NOACCESS);
        if (wide)
                np_win_utf8_to_utf16(addr, out, units);
        else
                memcpy(out, addr, units);
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientComputerNameA(HANDLE Pipe,
                                                                    LPSTR ClientComputerName,
                                                                    ULONG ClientComputerNameLength)
{
        return computer_name(Pipe, ClientComputerName, ClientComputerNameLength, 0);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientComputerNameW(HANDLE Pipe,
                                                                    LPWSTR ClientComputerName,
                                                                    ULONG ClientComputerNameLength)
{
        return computer_name(Pipe, ClientComputerName, ClientComputerNameLength, 1);
}
