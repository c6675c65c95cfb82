/*
 * iocp_server.c - an echo server on an I/O completion port: a pool of
 * pipe instances bound to one port, a few worker threads taking completion
 * packets with GetQueuedCompletionStatus, one context per instance carrying
 * its OVERLAPPED, and disconnect-and-listen-again when a client leaves.
 *
 *   iocp_server [PIPE-NAME [CLIENTS]]
 *
 * Replies to every message with "echo: " and the message.  With CLIENTS it
 * stops after that many clients have come and gone.
 */
#ifdef _WIN32
#include <windows.h>
#else
#include <npipe/windows.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSTANCES 8
#define WORKERS   2
#define BUFSIZE   4096
#define KEY_QUIT  0

typedef enum { OP_CONNECT, OP_READ, OP_WRITE } OPKIND;

typedef struct {
        OVERLAPPED ov; /* first: the packet's OVERLAPPED is the context */
        HANDLE hPipe;
        OPKIND op;
        char buf[BUFSIZE + 8];
        DWORD len;
} CONTEXT_PIPE;

static HANDLE hPort;
static CONTEXT_PIPE ctx[INSTANCES];
static volatile LONG clientsDone;
static LONG maxClients;

static void ClientLeft(CONTEXT_PIPE *c);

static void StartRead(CONTEXT_PIPE *c)
{
        memset(&c->ov, 0, sizeof(c->ov));
        c->op = OP_READ;
        /* whatever happens, the result arrives as a packet: a success at
         * once is posted too, a failure at once is handled here */
        if (!ReadFile(c->hPipe, c->buf + 6, BUFSIZE, NULL, &c->ov) &&
            GetLastError() != ERROR_IO_PENDING && GetLastError() != ERROR_MORE_DATA)
                ClientLeft(c);
}

/* Listen for the next client on an instance. */
static void Listen(CONTEXT_PIPE *c)
{
        for (;;) {
                memset(&c->ov, 0, sizeof(c->ov));
                c->op = OP_CONNECT;
                if (ConnectNamedPipe(c->hPipe, &c->ov))
                        return; /* connected at once: the packet follows */
                switch (GetLastError()) {
                case ERROR_IO_PENDING:
                        return;
                case ERROR_PIPE_CONNECTED:
                        StartRead(c); /* nothing is posted for this case */
                        return;
                case ERROR_NO_DATA:
                        /* a client came and went already: recycle */
                        DisconnectNamedPipe(c->hPipe);
                        continue;
                default:
                        printf("ConnectNamedPipe failed: %lu\n", (unsigned long)GetLastError());
                        return;
                }
        }
}

static void ClientLeft(CONTEXT_PIPE *c)
{
        DisconnectNamedPipe(c->hPipe);
        if (maxClients && InterlockedIncrement(&clientsDone) >= maxClients)
                PostQueuedCompletionStatus(hPort, 0, KEY_QUIT, NULL);
        Listen(c);
}

static DWORD WINAPI Worker(LPVOID arg)
{
        (void)arg;
        for (;;) {
                DWORD n;
                ULONG_PTR key;
                OVERLAPPED *ov;
                BOOL ok = GetQueuedCompletionStatus(hPort, &n, &key, &ov, INFINITE);
                if (ov == NULL) {
                        if (key == KEY_QUIT) {
                                /* pass it on to the next worker */
                                PostQueuedCompletionStatus(hPort, 0, KEY_QUIT, NULL);
                                return 0;
                        }
                        continue;
                }
                CONTEXT_PIPE *c = (CONTEXT_PIPE *)ov;
                switch (c->op) {
                case OP_CONNECT:
                        if (ok)
                                StartRead(c);
                        else
                                Listen(c);
                        break;
                case OP_READ:
                        if (!ok || n == 0) { /* broken pipe, or a message too long */
                                ClientLeft(c);
                                break;
                        }
                        memcpy(c->buf, "echo: ", 6);
                        c->len = n + 6;
                        memset(&c->ov, 0, sizeof(c->ov));
                        c->op = OP_WRITE;
                        if (!WriteFile(c->hPipe, c->buf, c->len, NULL, &c->ov) &&
                            GetLastError() != ERROR_IO_PENDING)
                                ClientLeft(c);
                        break;
                case OP_WRITE:
                        if (ok && n == c->len)
                                StartRead(c);
                        else
                                ClientLeft(c);
                        break;
                }
        }
}

int main(int argc, char **argv)
{
        const char *lpszPipename = argc > 1 ? argv[1] : "\\\\.\\pipe\\npipe-example";
        HANDLE hWorkers[WORKERS];
        int i;

        maxClients = argc > 2 ? atol(argv[2]) : 0;
        hPort = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, WORKERS);
        if (hPort == NULL) {
                printf("CreateIoCompletionPort failed: %lu\n", (unsigned long)GetLastError());
                return 1;
        }
        for (i = 0; i < INSTANCES; i++) {
                ctx[i].hPipe =
                    CreateNamedPipeA(lpszPipename, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                     PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                                     PIPE_UNLIMITED_INSTANCES, BUFSIZE, BUFSIZE, 0, NULL);
                if (ctx[i].hPipe == INVALID_HANDLE_VALUE ||
                    CreateIoCompletionPort(ctx[i].hPipe, hPort, (ULONG_PTR)(i + 1), 0) == NULL) {
                        printf("instance %d failed: %lu\n", i, (unsigned long)GetLastError());
                        return 1;
                }
                Listen(&ctx[i]);
        }
        printf("iocp_server: %d instances of %s, %d workers ready\n", INSTANCES, lpszPipename,
               WORKERS);
        fflush(stdout);
        for (i = 0; i < WORKERS; i++)
                hWorkers[i] = CreateThread(NULL, 0, Worker, NULL, 0, NULL);
        WaitForMultipleObjects(WORKERS, hWorkers, TRUE, INFINITE);
        printf("iocp_server: served %ld clients\n", (long)clientsDone);
        for (i = 0; i < WORKERS; i++)
                CloseHandle(hWorkers[i]);
        for (i = 0; i < INSTANCES; i++)
                CloseHandle(ctx[i].hPipe);
        CloseHandle(hPort);
        return 0;
}
