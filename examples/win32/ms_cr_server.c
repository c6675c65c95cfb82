/*
 * ms_cr_server.c - a single-threaded named-pipe server with completion
 * routines, written the way the Windows documentation writes one: one
 * instance at a time listens with an overlapped ConnectNamedPipe whose
 * event the main thread waits for with WaitForSingleObjectEx, alertable;
 * each connected client gets a block from GlobalAlloc that begins with
 * its OVERLAPPED, and ReadFileEx / WriteFileEx with completion routines
 * carry its requests and answers: a finished read starts the write of the
 * answer, a finished write starts the next read.  The routines run inside
 * the alertable wait (WAIT_IO_COMPLETION).
 *
 *   ms_cr_server [PIPENAME [CLIENTS]]
 *
 * CLIENTS makes it stop once that many clients have come and gone (after
 * the last one has connected it waits in SleepEx, alertable); without it
 * the server runs until it is killed.  The answer to a request "TEXT" is
 * "Answer to: TEXT", each with its terminating null.  Clients: ms_client,
 * ms_transact, ms_call.
 *
 * Our own program in the style of the Windows samples (not their code);
 * the same source builds with mingw-w64 against the real <windows.h>.
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define PIPE_TIMEOUT 5000
#define BUFSIZE      512 /* TCHARs */

typedef struct {
        OVERLAPPED oOverlap; /* first: the routines get the block as their OVERLAPPED */
        HANDLE hPipeInst;
        TCHAR chRequest[BUFSIZE];
        DWORD cbRead;
        TCHAR chReply[BUFSIZE];
        DWORD cbToWrite;
} PIPEINST, *LPPIPEINST;

VOID DisconnectAndClose(LPPIPEINST lpPipeInst);
BOOL CreateAndConnectInstance(LPOVERLAPPED lpoOverlap);
BOOL ConnectToNewClient(HANDLE hInstance, LPOVERLAPPED lpo);
VOID GetAnswerToRequest(LPPIPEINST pipe);
VOID WINAPI CompletedWriteRoutine(DWORD dwErr, DWORD cbWritten, LPOVERLAPPED lpOverLap);
VOID WINAPI CompletedReadRoutine(DWORD dwErr, DWORD cbBytesRead, LPOVERLAPPED lpOverLap);

static HANDLE hPipe;
static LPCTSTR lpszPipename = TEXT("\\\\.\\pipe\\npipe_ms_sample");
static int nClosed;

int _tmain(int argc, TCHAR *argv[])
{
        HANDLE hConnectEvent;
        OVERLAPPED oConnect;
        LPPIPEINST lpPipeInst;
        DWORD dwWait, cbRet;
        BOOL fSuccess, fPendingIO, fListening = TRUE;
        int nClients = 0, nConnected = 0;

        if (argc > 1)
                lpszPipename = argv[1];
        if (argc > 2)
                nClients = _ttoi(argv[2]);

        /* the event of the connect operation: manual reset, signalled */
        hConnectEvent = CreateEvent(NULL, TRUE, TRUE, NULL);
        if (hConnectEvent == NULL) {
                _tprintf(TEXT("Server: CreateEvent failed, GLE=%d\n"), (int)GetLastError());
                return 1;
        }
        ZeroMemory(&oConnect, sizeof(oConnect));
        oConnect.hEvent = hConnectEvent;

        fPendingIO = CreateAndConnectInstance(&oConnect);
        if (hPipe == INVALID_HANDLE_VALUE)
                return 1;
        _tprintf(TEXT("Server: awaiting clients on %s\n"), lpszPipename);
        fflush(stdout);

        while (nClients == 0 || nClosed < nClients) {
                /* Alertable: the read and write routines run in here. */
                if (fListening)
                        dwWait = WaitForSingleObjectEx(hConnectEvent, INFINITE, TRUE);
                else
                        dwWait = SleepEx(INFINITE, TRUE);

                switch (dwWait) {
                case 0:
                        /* a client has connected */
                        if (fPendingIO) {
                                fSuccess = GetOverlappedResult(hPipe, &oConnect, &cbRet, FALSE);
                                if (!fSuccess) {
                                        _tprintf(TEXT("Server: ConnectNamedPipe failed, GLE=%d\n"),
                                                 (int)GetLastError());
                                        return 1;
                                }
                        }
                        nConnected++;
                        _tprintf(TEXT("Server: client %d connected\n"), nConnected);

                        lpPipeInst = (LPPIPEINST)GlobalAlloc(GPTR, sizeof(PIPEINST));
                        if (lpPipeInst == NULL) {
                                _tprintf(TEXT("Server: GlobalAlloc failed, GLE=%d\n"),
                                         (int)GetLastError());
                                return 1;
                        }
                        lpPipeInst->hPipeInst = hPipe;

                        /* as if a write had finished: this starts the first read */
                        lpPipeInst->cbToWrite = 0;
                        CompletedWriteRoutine(0, 0, (LPOVERLAPPED)lpPipeInst);

                        /* a new instance for the next client */
                        if (nClients == 0 || nConnected < nClients) {
                                fPendingIO = CreateAndConnectInstance(&oConnect);
                                if (hPipe == INVALID_HANDLE_VALUE)
                                        return 1;
                        } else
                                fListening = FALSE;
                        break;

                case WAIT_IO_COMPLETION:
                        /* a read or write routine ran */
                        break;

                default:
                        _tprintf(TEXT("Server: WaitForSingleObjectEx returned %d, GLE=%d\n"),
                                 (int)dwWait, (int)GetLastError());
                        return 1;
                }
        }

        CloseHandle(hConnectEvent);
        _tprintf(TEXT("Server: served %d clients\n"), nClosed);
        return 0;
}

/* A write has finished (or none has been made yet): read the next request. */
VOID WINAPI CompletedWriteRoutine(DWORD dwErr, DWORD cbWritten, LPOVERLAPPED lpOverLap)
{
        LPPIPEINST lpPipeInst = (LPPIPEINST)lpOverLap;
        BOOL fRead = FALSE;

        if (dwErr == 0 && cbWritten == lpPipeInst->cbToWrite)
                fRead = ReadFileEx(lpPipeInst->hPipeInst, lpPipeInst->chRequest,
                                   BUFSIZE * sizeof(TCHAR), (LPOVERLAPPED)lpPipeInst,
                                   (LPOVERLAPPED_COMPLETION_ROUTINE)CompletedReadRoutine);

        /* the client has gone, or the read could not start */
        if (!fRead)
                DisconnectAndClose(lpPipeInst);
}

/* A read has finished: write the answer. */
VOID WINAPI CompletedReadRoutine(DWORD dwErr, DWORD cbBytesRead, LPOVERLAPPED lpOverLap)
{
        LPPIPEINST lpPipeInst = (LPPIPEINST)lpOverLap;
        BOOL fWrite = FALSE;

        if (dwErr == 0 && cbBytesRead != 0) {
                lpPipeInst->cbRead = cbBytesRead;
                GetAnswerToRequest(lpPipeInst);
                fWrite = WriteFileEx(lpPipeInst->hPipeInst, lpPipeInst->chReply,
                                     lpPipeInst->cbToWrite, (LPOVERLAPPED)lpPipeInst,
                                     (LPOVERLAPPED_COMPLETION_ROUTINE)CompletedWriteRoutine);
        }

        if (!fWrite)
                DisconnectAndClose(lpPipeInst);
}

VOID DisconnectAndClose(LPPIPEINST lpPipeInst)
{
        if (!DisconnectNamedPipe(lpPipeInst->hPipeInst))
                _tprintf(TEXT("Server: DisconnectNamedPipe failed, GLE=%d\n"), (int)GetLastError());
        CloseHandle(lpPipeInst->hPipeInst);
        GlobalFree(lpPipeInst);
        nClosed++;
        _tprintf(TEXT("Server: client disconnected\n"));
}

/* A new instance and an overlapped ConnectNamedPipe on it. */
BOOL CreateAndConnectInstance(LPOVERLAPPED lpoOverlap)
{
        hPipe = CreateNamedPipe(lpszPipename, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                PIPE_UNLIMITED_INSTANCES, BUFSIZE * sizeof(TCHAR),
                                BUFSIZE * sizeof(TCHAR), PIPE_TIMEOUT, NULL);
        if (hPipe == INVALID_HANDLE_VALUE) {
                _tprintf(TEXT("Server: CreateNamedPipe failed, GLE=%d\n"), (int)GetLastError());
                return FALSE;
        }
        return ConnectToNewClient(hPipe, lpoOverlap);
}

/* TRUE while the connect pends; FALSE when a client is connected already
 * (then the event is set for the main loop). */
BOOL ConnectToNewClient(HANDLE hInstance, LPOVERLAPPED lpo)
{
        BOOL fConnected, fPendingIO = FALSE;

        fConnected = ConnectNamedPipe(hInstance, lpo);
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
