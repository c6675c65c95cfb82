/*
 * ovl_echo_server.c - a single-threaded echo server with several pipe
 * instances and overlapped I/O, in the style of the classic Win32 sample:
 * one event per instance, WaitForMultipleObjects, and a small state machine
 * per instance (connecting, reading, writing).
 *
 *   ovl_echo_server [PIPE-NAME [CLIENTS]]
 *
 * Replies to every message with "echo: " and the message.  With CLIENTS it
 * exits after that many clients have come and gone.  The same source builds
 * on Windows (<windows.h>) and on Linux (<npipe/windows.h>).
 */
#ifdef _WIN32
#include <windows.h>
#else
#include <npipe/windows.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSTANCES    4
#define BUFSIZE      4096
#define PIPE_TIMEOUT 5000

enum state { CONNECTING, READING, WRITING };

typedef struct {
        OVERLAPPED oOverlap;
        HANDLE hPipeInst;
        char chRequest[BUFSIZE];
        DWORD cbRead;
        char chReply[BUFSIZE + 8];
        DWORD cbToWrite;
        enum state dwState;
        BOOL fPendingIO;
} PIPEINST;

static PIPEINST Pipe[INSTANCES];
static HANDLE hEvents[INSTANCES];
static long clientsDone;

/* Start listening on an instance.  TRUE when the connect is pending. */
static BOOL ConnectToNewClient(HANDLE hPipe, LPOVERLAPPED lpo)
{
        /* an overlapped ConnectNamedPipe returns FALSE: pending or connected */
        if (ConnectNamedPipe(hPipe, lpo)) {
                printf("ConnectNamedPipe failed: %lu\n", (unsigned long)GetLastError());
                return FALSE;
        }
        switch (GetLastError()) {
        case ERROR_IO_PENDING:
                return TRUE;
        case ERROR_PIPE_CONNECTED:
                /* a client came before we listened: tell the loop ourselves,
                 * the event is not set for this case */
                SetEvent(lpo->hEvent);
                return FALSE;
        default:
                printf("ConnectNamedPipe failed: %lu\n", (unsigned long)GetLastError());
                return FALSE;
        }
}

static void DisconnectAndReconnect(DWORD i)
{
        if (!DisconnectNamedPipe(Pipe[i].hPipeInst))
                printf("DisconnectNamedPipe failed: %lu\n", (unsigned long)GetLastError());
        clientsDone++;
        Pipe[i].fPendingIO = ConnectToNewClient(Pipe[i].hPipeInst, &Pipe[i].oOverlap);
        Pipe[i].dwState = Pipe[i].fPendingIO ? CONNECTING : READING;
}

static void BuildReply(PIPEINST *p)
{
        memcpy(p->chReply, "echo: ", 6);
        memcpy(p->chReply + 6, p->chRequest, p->cbRead);
        p->cbToWrite = p->cbRead + 6;
}

int main(int argc, char **argv)
{
        const char *lpszPipename = argc > 1 ? argv[1] : "\\\\.\\pipe\\npipe-example";
        long maxClients = argc > 2 ? atol(argv[2]) : 0;
        DWORD i, dwWait, cbRet, dwErr;
        BOOL fSuccess;

        for (i = 0; i < INSTANCES; i++) {
                /* manual-reset, signalled: the first pass starts every instance */
                hEvents[i] = CreateEventA(NULL, TRUE, TRUE, NULL);
                if (hEvents[i] == NULL) {
                        printf("CreateEvent failed: %lu\n", (unsigned long)GetLastError());
                        return 1;
                }
                memset(&Pipe[i].oOverlap, 0, sizeof(OVERLAPPED));
                Pipe[i].oOverlap.hEvent = hEvents[i];
                Pipe[i].hPipeInst =
                    CreateNamedPipeA(lpszPipename, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                     PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                     INSTANCES, BUFSIZE, BUFSIZE, PIPE_TIMEOUT, NULL);
                if (Pipe[i].hPipeInst == INVALID_HANDLE_VALUE) {
                        printf("CreateNamedPipe failed: %lu\n", (unsigned long)GetLastError());
                        return 1;
                }
                Pipe[i].fPendingIO = ConnectToNewClient(Pipe[i].hPipeInst, &Pipe[i].oOverlap);
                Pipe[i].dwState = Pipe[i].fPendingIO ? CONNECTING : READING;
        }
        printf("ovl_echo_server: %d instances of %s ready\n", INSTANCES, lpszPipename);
        fflush(stdout);

        while (maxClients == 0 || clientsDone < maxClients) {
                dwWait = WaitForMultipleObjects(INSTANCES, hEvents, FALSE, INFINITE);
                i = dwWait - WAIT_OBJECT_0;
                if (i >= INSTANCES) {
                        printf("WaitForMultipleObjects failed: %lu\n",
                               (unsigned long)GetLastError());
                        return 1;
                }

                /* finish the operation that was pending */
                if (Pipe[i].fPendingIO) {
                        fSuccess = GetOverlappedResult(Pipe[i].hPipeInst, &Pipe[i].oOverlap, &cbRet,
                                                       FALSE);
                        switch (Pipe[i].dwState) {
                        case CONNECTING:
                                if (!fSuccess) {
                                        printf("connect failed: %lu\n",
                                               (unsigned long)GetLastError());
                                        return 1;
                                }
                                Pipe[i].dwState = READING;
                                break;
                        case READING:
                                if (!fSuccess || cbRet == 0) {
                                        DisconnectAndReconnect(i);
                                        continue;
                                }
                                Pipe[i].cbRead = cbRet;
                                Pipe[i].dwState = WRITING;
                                break;
                        case WRITING:
                                if (!fSuccess || cbRet != Pipe[i].cbToWrite) {
                                        DisconnectAndReconnect(i);
                                        continue;
                                }
                                Pipe[i].dwState = READING;
                                break;
                        }
                }

                /* start the next operation */
                switch (Pipe[i].dwState) {
                case READING:
                        fSuccess = ReadFile(Pipe[i].hPipeInst, Pipe[i].chRequest, BUFSIZE,
                                            &Pipe[i].cbRead, &Pipe[i].oOverlap);
                        if (fSuccess && Pipe[i].cbRead != 0) {
                                /* done at once: the event is set, come round again */
                                Pipe[i].fPendingIO = FALSE;
                                Pipe[i].dwState = WRITING;
                                continue;
                        }
                        dwErr = GetLastError();
                        if (!fSuccess && dwErr == ERROR_IO_PENDING) {
                                Pipe[i].fPendingIO = TRUE;
                                continue;
                        }
                        /* the client left (ERROR_BROKEN_PIPE) or sent too much */
                        DisconnectAndReconnect(i);
                        break;
                case WRITING:
                        BuildReply(&Pipe[i]);
                        fSuccess = WriteFile(Pipe[i].hPipeInst, Pipe[i].chReply, Pipe[i].cbToWrite,
                                             &cbRet, &Pipe[i].oOverlap);
                        if (fSuccess && cbRet == Pipe[i].cbToWrite) {
                                Pipe[i].fPendingIO = FALSE;
                                Pipe[i].dwState = READING;
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
                        printf("invalid pipe state\n");
                        return 1;
                }
        }
        printf("ovl_echo_server: served %ld clients\n", clientsDone);
        for (i = 0; i < INSTANCES; i++) {
                CloseHandle(Pipe[i].hPipeInst);
                CloseHandle(hEvents[i]);
        }
        return 0;
}
