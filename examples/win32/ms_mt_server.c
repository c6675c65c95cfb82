/*
 * ms_mt_server.c - a multithreaded named-pipe server written the way the
 * Windows documentation writes one: the main thread creates an instance
 * with CreateNamedPipe and blocks in ConnectNamedPipe; each client it
 * gets is handed to a thread of its own (CreateThread), which reads
 * requests and writes answers with buffers from HeapAlloc until the client
 * goes, then FlushFileBuffers, DisconnectNamedPipe and CloseHandle.
 *
 *   ms_mt_server [PIPENAME [CLIENTS]]
 *
 * CLIENTS (at most 64) makes it stop once that many clients have come and
 * gone, their threads waited for with WaitForMultipleObjects; without it
 * the server runs until it is killed.  The next instance is created before
 * a connected one is handed over, so the pipe name never disappears while
 * clients come (a client then sees ERROR_PIPE_BUSY and waits, never
 * ERROR_FILE_NOT_FOUND).
 *
 * The answer to a request "TEXT" is "Answer to: TEXT", each with its
 * terminating null.  Clients: ms_client, ms_transact, ms_call.
 *
 * Our own program in the style of the Windows samples (not their code);
 * the same source builds with mingw-w64 against the real <windows.h>.
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define BUFSIZE    512 /* TCHARs */
#define MAXCLIENTS MAXIMUM_WAIT_OBJECTS

DWORD WINAPI InstanceThread(LPVOID lpvParam);
VOID GetAnswerToRequest(LPTSTR pchRequest, DWORD cbRequest, LPTSTR pchReply, LPDWORD pcbReply);
HANDLE CreateInstance(LPCTSTR lpszPipename);

int _tmain(int argc, TCHAR *argv[])
{
        LPCTSTR lpszPipename = TEXT("\\\\.\\pipe\\npipe_ms_sample");
        HANDLE hPipe, hNext, hThread;
        HANDLE hThreads[MAXCLIENTS];
        DWORD dwThreadId = 0, nThreads = 0;
        int nClients = 0, nConnected = 0;
        BOOL fConnected;

        if (argc > 1)
                lpszPipename = argv[1];
        if (argc > 2)
                nClients = _ttoi(argv[2]);
        if (nClients < 0 || nClients > MAXCLIENTS) {
                _tprintf(TEXT("Server: CLIENTS is 0 (no end) to %d\n"), MAXCLIENTS);
                return 1;
        }

        hPipe = CreateInstance(lpszPipename);
        if (hPipe == INVALID_HANDLE_VALUE)
                return 1;
        _tprintf(TEXT("Server: main thread awaiting clients on %s\n"), lpszPipename);
        fflush(stdout);

        for (;;) {
                /* TRUE when a client connected now; ERROR_PIPE_CONNECTED when
                 * it did between CreateNamedPipe and ConnectNamedPipe */
                fConnected = ConnectNamedPipe(hPipe, NULL) ? TRUE
                                                           : (GetLastError() == ERROR_PIPE_CONNECTED);
                if (!fConnected) {
                        /* the client went before we saw it: listen again */
                        _tprintf(TEXT("Server: ConnectNamedPipe failed, GLE=%d\n"),
                                 (int)GetLastError());
                        DisconnectNamedPipe(hPipe);
                        continue;
                }
                nConnected++;

                /* the next instance first, then the thread for this one */
                hNext = INVALID_HANDLE_VALUE;
                if (nClients == 0 || nConnected < nClients) {
                        hNext = CreateInstance(lpszPipename);
                        if (hNext == INVALID_HANDLE_VALUE)
                                return 1;
                }

                hThread = CreateThread(NULL, 0, InstanceThread, (LPVOID)hPipe, 0, &dwThreadId);
                if (hThread == NULL) {
                        _tprintf(TEXT("Server: CreateThread failed, GLE=%d\n"),
                                 (int)GetLastError());
                        return 1;
                }
                _tprintf(TEXT("Server: client %d connected, thread created\n"), nConnected);
                fflush(stdout);
                if (nClients == 0)
                        CloseHandle(hThread);
                else
                        hThreads[nThreads++] = hThread;

                if (hNext == INVALID_HANDLE_VALUE)
                        break;
                hPipe = hNext;
        }

        /* every client has connected: wait for their threads */
        if (WaitForMultipleObjects(nThreads, hThreads, TRUE, INFINITE) == WAIT_FAILED) {
                _tprintf(TEXT("Server: WaitForMultipleObjects failed, GLE=%d\n"),
                         (int)GetLastError());
                return 1;
        }
        while (nThreads > 0)
                CloseHandle(hThreads[--nThreads]);
        _tprintf(TEXT("Server: served %d clients\n"), nConnected);
        return 0;
}

HANDLE CreateInstance(LPCTSTR lpszPipename)
{
        HANDLE hPipe = CreateNamedPipe(lpszPipename,            /* pipe name */
                                       PIPE_ACCESS_DUPLEX,      /* read/write access */
                                       PIPE_TYPE_MESSAGE |      /* message type pipe */
                                           PIPE_READMODE_MESSAGE | /* message-read mode */
                                           PIPE_WAIT,           /* blocking mode */
                                       PIPE_UNLIMITED_INSTANCES, /* max. instances */
                                       BUFSIZE * sizeof(TCHAR), /* output buffer size */
                                       BUFSIZE * sizeof(TCHAR), /* input buffer size */
                                       0,                       /* client time-out */
                                       NULL);                   /* default security */
        if (hPipe == INVALID_HANDLE_VALUE)
                _tprintf(TEXT("Server: CreateNamedPipe failed, GLE=%d\n"), (int)GetLastError());
        return hPipe;
}

/* One client: requests and answers until it closes its end. */
DWORD WINAPI InstanceThread(LPVOID lpvParam)
{
        HANDLE hHeap = GetProcessHeap();
        TCHAR *pchRequest = (TCHAR *)HeapAlloc(hHeap, 0, BUFSIZE * sizeof(TCHAR));
        TCHAR *pchReply = (TCHAR *)HeapAlloc(hHeap, 0, BUFSIZE * sizeof(TCHAR));
        DWORD cbBytesRead = 0, cbReplyBytes = 0, cbWritten = 0;
        BOOL fSuccess;
        HANDLE hPipe = (HANDLE)lpvParam;

        if (pchRequest == NULL || pchReply == NULL) {
                printf("Server: HeapAlloc failed\n");
                HeapFree(hHeap, 0, pchRequest);
                HeapFree(hHeap, 0, pchReply);
                CloseHandle(hPipe);
                return (DWORD)-1;
        }

        for (;;) {
                fSuccess = ReadFile(hPipe, pchRequest, BUFSIZE * sizeof(TCHAR), &cbBytesRead, NULL);
                if (!fSuccess || cbBytesRead == 0) {
                        if (GetLastError() == ERROR_BROKEN_PIPE)
                                printf("Server: client disconnected\n");
                        else
                                printf("Server: ReadFile failed, GLE=%d\n", (int)GetLastError());
                        break;
                }

                GetAnswerToRequest(pchRequest, cbBytesRead, pchReply, &cbReplyBytes);

                fSuccess = WriteFile(hPipe, pchReply, cbReplyBytes, &cbWritten, NULL);
                if (!fSuccess || cbReplyBytes != cbWritten) {
                        printf("Server: WriteFile failed, GLE=%d\n", (int)GetLastError());
                        break;
                }
        }

        /* let the client read what is left before the instance goes */
        FlushFileBuffers(hPipe);
        DisconnectNamedPipe(hPipe);
        CloseHandle(hPipe);

        HeapFree(hHeap, 0, pchRequest);
        HeapFree(hHeap, 0, pchReply);
        return 1;
}

VOID GetAnswerToRequest(LPTSTR pchRequest, DWORD cbRequest, LPTSTR pchReply, LPDWORD pcbReply)
{
        DWORD cchRequest = cbRequest / sizeof(TCHAR);

        /* the client sends the terminating null; do not count on it */
        pchRequest[cchRequest < BUFSIZE ? cchRequest : BUFSIZE - 1] = 0;
        _tprintf(TEXT("Server: request \"%s\"\n"), pchRequest);

        if (FAILED(StringCchCopy(pchReply, BUFSIZE, TEXT("Answer to: "))) ||
            FAILED(StringCchCat(pchReply, BUFSIZE, pchRequest))) {
                *pcbReply = 0;
                pchReply[0] = 0;
                _tprintf(TEXT("Server: the answer does not fit\n"));
                return;
        }
        *pcbReply = (lstrlen(pchReply) + 1) * sizeof(TCHAR);
}
