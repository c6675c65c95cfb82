/*
 * ms_ovl_server.c - a single-threaded named-pipe server with overlapped
 * I/O, written the way the Windows documentation writes one: several
 * instances of the pipe, each with an OVERLAPPED whose manual-reset event
 * goes into one WaitForMultipleObjects; ConnectNamedPipe, ReadFile and
 * WriteFile are started overlapped, GetOverlappedResult collects the ones
 * that pended, and a small state machine per instance (connecting,
 * reading, writing) says what comes next.  When a client goes, its
 * instance is disconnected and listens again.
 *
 *   ms_ovl_server [PIPENAME [CLIENTS]]
 *
 * CLIENTS makes it stop once that many clients have come and gone;
 * without it the server runs until it is killed.  The answer to a request
 * "TEXT" is "Answer to: TEXT", each with its terminating null.  Clients:
 * ms_client, ms_transact, ms_call.
 *
 * Our own program in the style of the Windows samples (not their code);
 * the same source builds with mingw-w64 against the real <windows.h>.
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define CONNECTING_STATE 0
#define READING_STATE    1
#define WRITING_STATE    2
#define INSTANCES        4
#define PIPE_TIMEOUT     5000
#define BUFSIZE          512 /* TCHARs */

typedef struct {
        OVERLAPPED oOverlap;
        HANDLE hPipeInst;
        TCHAR chRequest[BUFSIZE];
        DWORD cbRead;
        TCHAR chReply[BUFSIZE];
        DWORD cbToWrite;
        DWORD dwState;
        BOOL fPendingIO;
} PIPEINST, *LPPIPEINST;

VOID DisconnectAndReconnect(DWORD i);
BOOL ConnectToNewClient(HANDLE hPipe, LPOVERLAPPED lpo);
VOID GetAnswerToRequest(LPPIPEINST pipe);

static PIPEINST Pipe[INSTANCES];
static HANDLE hEvents[INSTANCES];
static int nServed;

int _tmain(int argc, TCHAR *argv[])
{
        LPCTSTR lpszPipename = TEXT("\\\\.\\pipe\\npipe_ms_sample");
        DWORD i, dwWait, cbRet, dwErr;
        BOOL fSuccess;
        int nClients = 0;

        if (argc > 1)
                lpszPipename = argv[1];
        if (argc > 2)
                nClients = _ttoi(argv[2]);

        /* Every instance: an event (manual reset, signalled so that the
         * first wait finds it), the pipe, and a ConnectNamedPipe. */
        for (i = 0; i < INSTANCES; i++) {
                hEvents[i] = CreateEvent(NULL, TRUE, TRUE, NULL);
                if (hEvents[i] == NULL) {
                        _tprintf(TEXT("Server: CreateEvent failed, GLE=%d\n"), (int)GetLastError());
                        return 1;
                }
                Pipe[i].oOverlap.hEvent = hEvents[i];
                Pipe[i].hPipeInst = CreateNamedPipe(lpszPipename,
                                                    PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                                    PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE |
                                                        PIPE_WAIT,
                                                    INSTANCES, BUFSIZE * sizeof(TCHAR),
                                                    BUFSIZE * sizeof(TCHAR), PIPE_TIMEOUT, NULL);
                if (Pipe[i].hPipeInst == INVALID_HANDLE_VALUE) {
                        _tprintf(TEXT("Server: CreateNamedPipe failed, GLE=%d\n"),
                                 (int)GetLastError());
                        return 1;
                }
                Pipe[i].fPendingIO = ConnectToNewClient(Pipe[i].hPipeInst, &Pipe[i].oOverlap);
                Pipe[i].dwState = Pipe[i].fPendingIO ? CONNECTING_STATE : READING_STATE;
        }
        _tprintf(TEXT("Server: %d instances awaiting clients on %s\n"), INSTANCES, lpszPipename);
        fflush(stdout);

        while (nClients == 0 || nServed < nClients) {
                /* the instance whose operation has finished */
                dwWait = WaitForMultipleObjects(INSTANCES, hEvents, FALSE, INFINITE);
                i = dwWait - WAIT_OBJECT_0;
                if (i >= INSTANCES) {
                        _tprintf(TEXT("Server: WaitForMultipleObjects: index out of range, GLE=%d\n"),
                                 (int)GetLastError());
                        return 1;
                }

                /* An operation that pended: its result. */
                if (Pipe[i].fPendingIO) {
                        fSuccess = GetOverlappedResult(Pipe[i].hPipeInst, &Pipe[i].oOverlap, &cbRet,
                                                       FALSE);
                        switch (Pipe[i].dwState) {
                        case CONNECTING_STATE:
                                if (!fSuccess) {
                                        _tprintf(TEXT("Server: connect failed, GLE=%d\n"),
                                                 (int)GetLastError());
                                        return 1;
                                }
                                Pipe[i].dwState = READING_STATE;
                                break;
                        case READING_STATE:
                                if (!fSuccess || cbRet == 0) {
                                        DisconnectAndReconnect(i);
                                        continue;
                                }
                                Pipe[i].cbRead = cbRet;
                                Pipe[i].dwState = WRITING_STATE;
                                break;
                        case WRITING_STATE:
                                if (!fSuccess || cbRet != Pipe[i].cbToWrite) {
                                        DisconnectAndReconnect(i);
                                        continue;
                                }
                                Pipe[i].dwState = READING_STATE;
                                break;
                        default:
                                _tprintf(TEXT("Server: invalid pipe state\n"));
                                return 1;
                        }
                }

                /* What comes next for this instance. */
                switch (Pipe[i].dwState) {
                case READING_STATE:
                        fSuccess = ReadFile(Pipe[i].hPipeInst, Pipe[i].chRequest,
                                            BUFSIZE * sizeof(TCHAR), &Pipe[i].cbRead,
                                            &Pipe[i].oOverlap);
                        /* done at once: the event is set, the next wait
                         * comes back here to answer */
                        if (fSuccess && Pipe[i].cbRead != 0) {
                                Pipe[i].fPendingIO = FALSE;
                                Pipe[i].dwState = WRITING_STATE;
                                continue;
                        }
                        dwErr = GetLastError();
                        if (!fSuccess && dwErr == ERROR_IO_PENDING) {
                                Pipe[i].fPendingIO = TRUE;
                                continue;
                        }
                        /* the client has gone (or sent too much) */
                        DisconnectAndReconnect(i);
                        break;

                case WRITING_STATE:
                        GetAnswerToRequest(&Pipe[i]);
                        fSuccess = WriteFile(Pipe[i].hPipeInst, Pipe[i].chReply, Pipe[i].cbToWrite,
                                             &cbRet, &Pipe[i].oOverlap);
                        if (fSuccess && cbRet == Pipe[i].cbToWrite) {
                                Pipe[i].fPendingIO = FALSE;
                                Pipe[i].dwState = READING_STATE;
                                continue;
                        }
                        dwErr = GetLastError();
                        if (!fSuccess && dwErr == ERROR_IO_PENDING) {
                                Pipe[i].fPendingIO = TRUE;
                                continue;
                        }
                        DisconnectAndReconnect(i);
                        break;

                default:
                        _tprintf(TEXT("Server: invalid pipe state\n"));
                        return 1;
                }
        }

        for (i = 0; i < INSTANCES; i++) {
                CloseHandle(Pipe[i].hPipeInst);
                CloseHandle(hEvents[i]);
        }
        _tprintf(TEXT("Server: served %d clients\n"), nServed);
        return 0;
}

/* The client of instance i has gone (or failed): listen again. */
VOID DisconnectAndReconnect(DWORD i)
{
        if (!DisconnectNamedPipe(Pipe[i].hPipeInst))
                _tprintf(TEXT("Server: DisconnectNamedPipe failed, GLE=%d\n"), (int)GetLastError());
        nServed++;
        _tprintf(TEXT("Server: client of instance %d disconnected\n"), (int)i);

        Pipe[i].fPendingIO = ConnectToNewClient(Pipe[i].hPipeInst, &Pipe[i].oOverlap);
        Pipe[i].dwState = Pipe[i].fPendingIO ? CONNECTING_STATE : READING_STATE;
}

/* An overlapped ConnectNamedPipe: TRUE while it pends, FALSE when a client
 * is connected already (then the event is set for the main loop). */
BOOL ConnectToNewClient(HANDLE hPipe, LPOVERLAPPED lpo)
{
        BOOL fConnected, fPendingIO = FALSE;

        /* overlapped, it returns FALSE */
        fConnected = ConnectNamedPipe(hPipe, lpo);
        if (fConnected) {
                _tprintf(TEXT("Server: ConnectNamedPipe returned TRUE, GLE=%d\n"),
                         (int)GetLastError());
                return FALSE;
        }

        switch (GetLastError()) {
        case ERROR_IO_PENDING:
                fPendingIO = TRUE;
                break;
        case ERROR_PIPE_CONNECTED:
                if (SetEvent(lpo->hEvent))
                        break;
                /* fall through */
        default:
                _tprintf(TEXT("Server: ConnectNamedPipe failed, GLE=%d\n"), (int)GetLastError());
                break;
        }
        return fPendingIO;
}

VOID GetAnswerToRequest(LPPIPEINST pipe)
{
        DWORD cchRequest = pipe->cbRead / sizeof(TCHAR);

        /* the client sends the terminating null; do not count on it */
        pipe->chRequest[cchRequest < BUFSIZE ? cchRequest : BUFSIZE - 1] = 0;
        _tprintf(TEXT("Server: request \"%s\"\n"), pipe->chRequest);

        if (FAILED(StringCchCopy(pipe->chReply, BUFSIZE, TEXT("Answer to: "))) ||
            FAILED(StringCchCat(pipe->chReply, BUFSIZE, pipe->chRequest))) {
                pipe->chReply[0] = 0;
                _tprintf(TEXT("Server: the answer does not fit\n"));
        }
        pipe->cbToWrite = (lstrlen(pipe->chReply) + 1) * sizeof(TCHAR);
}
