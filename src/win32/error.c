/*
 * error.c - the thread's last error, and the one place where native npipe
 * statuses become Win32 error codes and NTSTATUS values.
 *
 * The native layer has one status per situation; Win32 sometimes reports
 * the same situation differently depending on the operation (a closed peer
 * is ERROR_BROKEN_PIPE for a read, ERROR_NO_DATA for a write or a connect,
 * ERROR_BAD_PIPE for a transaction) and on whether the operation failed at
 * once or completed later.  np_win_op_status() rewrites the native status
 * into the one the operation reports; the translation to Win32 and NTSTATUS
 * then comes from the shared table in npipe.h (spec section 0.4).
 */
#include "win32/win32.h"

static _Thread_local DWORD last_error;

void np_win_set_error(DWORD err)
{
        last_error = err;
}

BOOL np_win_fail(DWORD err)
{
        last_error = err;
        return FALSE;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetLastError(void)
{
        return last_error;
}

NPIPE_WIN_API VOID WINAPI npipe_win_SetLastError(DWORD dwErrCode)
{
        last_error = dwErrCode;
}

/* ReadFile: STATE-09..11, CLOSE-05/06, NOWAIT-01. */
static int read_status(int status, int async)
{
        (void)async;
        return status; /* EPIPE = ERROR_BROKEN_PIPE, EAGAIN = ERROR_NO_DATA */
}

/* WriteFile: an end whose peer has gone answers ERROR_NO_DATA when the
 * write fails at once (CLOSE-04; the native layer says NPIPE_ECLOSING), but
 * a write that was already pending when the peer closed completes with
 * ERROR_BROKEN_PIPE (CLOSE-07), however the engine words it. */
static int write_status(int status, int async)
{
        if (async && status == NPIPE_ECLOSING)
                return NPIPE_EPIPE;
        return status;
}

/* ConnectNamedPipe: a client that came and went is ERROR_NO_DATA
 * (CONNECT-06); one still there is ERROR_PIPE_CONNECTED (CONNECT-02). */
static int listen_status(int status, int async)
{
        if (!async && status == NPIPE_EPIPE)
                return NPIPE_ECLOSING;
        return status;
}

/* TransactNamedPipe: a closing pipe is "invalid pipe state" when the call
 * starts (TRANS-14; the native layer says so itself); a transaction whose
 * reply never comes because the peer closed is a broken pipe, like a read. */
static int transact_status(int status, int async)
{
        if (async && status == NPIPE_ECLOSING)
                return NPIPE_EPIPE;
        return status;
}

/* WaitNamedPipe: a path that is not a pipe path (NAME-13). */
static int wait_status(int status, int async)
{
        (void)async;
        if (status == NPIPE_EBADNAME)
                return NPIPE_EBADPATH;
        return status;
}

int np_win_op_status(enum w_op_kind kind, int status, int async)
{
        switch (kind) {
        case WOP_READ:
                return read_status(status, async);
        case WOP_WRITE:
                return write_status(status, async);
        case WOP_LISTEN:
                return listen_status(status, async);
        case WOP_TRANSACT:
                return transact_status(status, async);
        case WOP_WAIT:
                return wait_status(status, async);
        case WOP_PEEK:
        case WOP_FLUSH:
        case WOP_DISCONNECT:
        case WOP_CREATE:
        case WOP_OPEN:
        case WOP_QUERY:
        case WOP_SETMODE:
                break;
        }
        return status;
}

DWORD np_win_op_error(enum w_op_kind kind, int status, int async)
{
        return npipe_win32_error(np_win_op_status(kind, status, async));
}

uint32_t np_win_op_ntstatus(enum w_op_kind kind, int status, int async)
{
        return npipe_ntstatus(np_win_op_status(kind, status, async));
}

/* NTSTATUS -> Win32, the part of RtlNtStatusToDosError this layer needs:
 * every NTSTATUS of the native table, plus the ones the layer makes itself. */
DWORD np_win_nt_to_error(uint32_t nt)
{
        static const struct {
                uint32_t nt;
                DWORD err;
        } table[] = {
#define XX(name, value, w32, ntv, msg) {(ntv), (w32)},
            NPIPE_STATUS_MAP(XX)
#undef XX
        };
        switch (nt) {
        case W_STATUS_SUCCESS:
                return ERROR_SUCCESS;
        case STATUS_PENDING:
                return ERROR_IO_PENDING;
        case W_STATUS_BUFFER_OVERFLOW:
                return ERROR_MORE_DATA;
        case W_STATUS_CANCELLED:
                return ERROR_OPERATION_ABORTED;
        case 0xC00000ABu: /* STATUS_INSTANCE_NOT_AVAILABLE */
        case 0xC00000ACu: /* STATUS_PIPE_NOT_AVAILABLE */
                return ERROR_PIPE_BUSY;
        case 0xC00000B4u: /* STATUS_INVALID_READ_MODE */
                return ERROR_BAD_PIPE;
        case 0xC0000010u: /* STATUS_INVALID_DEVICE_REQUEST */
                return ERROR_INVALID_FUNCTION;
        case 0xC0000024u: /* STATUS_OBJECT_TYPE_MISMATCH */
                return ERROR_INVALID_HANDLE;
        }
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (table[i].nt == nt)
                        return table[i].err;
        return ERROR_GEN_FAILURE;
}
