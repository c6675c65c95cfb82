/*
 * transact_client.c - a message-mode client as Windows programs write it:
 * CreateFile in a loop that waits with WaitNamedPipe while every instance
 * is busy, SetNamedPipeHandleState to message read mode, TransactNamedPipe
 * for each request, and ReadFile while the reply says ERROR_MORE_DATA.
 * The last request goes through CallNamedPipe (open, transact, close in
 * one call).
 *
 *   transact_client [PIPE-NAME [REQUESTS]]
 *
 * Talks to any of the example servers (they answer "echo: " + request)
 * and checks every reply.  Exit status 0 when all replies were right.
 */
#ifdef _WIN32
#include <windows.h>
#else
#include <npipe/windows.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFSIZE 512
/* deliberately small: long replies come in several ERROR_MORE_DATA parts */
#define CHUNK 16

static HANDLE OpenPipe(const char *lpszPipename)
{
        for (;;) {
                HANDLE hPipe = CreateFileA(lpszPipename, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                                           OPEN_EXISTING, 0, NULL);
                if (hPipe != INVALID_HANDLE_VALUE)
                        return hPipe;
                if (GetLastError() != ERROR_PIPE_BUSY) {
                        printf("could not open the pipe: %lu\n", (unsigned long)GetLastError());
                        return INVALID_HANDLE_VALUE;
                }
                /* all instances busy: wait for one (20 s), then try again */
                if (!WaitNamedPipeA(lpszPipename, 20000) && GetLastError() != ERROR_SEM_TIMEOUT) {
                        printf("WaitNamedPipe failed: %lu\n", (unsigned long)GetLastError());
                        return INVALID_HANDLE_VALUE;
                }
        }
}

int main(int argc, char **argv)
{
        const char *lpszPipename = argc > 1 ? argv[1] : "\\\\.\\pipe\\npipe-example";
        int requests = argc > 2 ? atoi(argv[2]) : 5;
        char chRequest[BUFSIZE], chReply[BUFSIZE + 8], chWant[BUFSIZE + 8];
        DWORD dwMode = PIPE_READMODE_MESSAGE, cbRead, cbTotal;
        int i, bad = 0;

        HANDLE hPipe = OpenPipe(lpszPipename);
        if (hPipe == INVALID_HANDLE_VALUE)
                return 1;
        /* a client starts in byte read mode: transactions need message mode */
        if (!SetNamedPipeHandleState(hPipe, &dwMode, NULL, NULL)) {
                printf("SetNamedPipeHandleState failed: %lu\n", (unsigned long)GetLastError());
                return 1;
        }
        for (i = 0; i < requests; i++) {
                int len = snprintf(chRequest, sizeof(chRequest),
                                   "request %d from process %lu, long enough to need parts", i,
                                   (unsigned long)GetCurrentProcessId());
                snprintf(chWant, sizeof(chWant), "echo: %s", chRequest);
                BOOL fSuccess =
                    TransactNamedPipe(hPipe, chRequest, (DWORD)len, chReply, CHUNK, &cbRead, NULL);
                cbTotal = cbRead;
                /* the rest of the reply stays queued: read it in parts */
                while (!fSuccess && GetLastError() == ERROR_MORE_DATA) {
                        fSuccess = ReadFile(hPipe, chReply + cbTotal, CHUNK, &cbRead, NULL);
                        cbTotal += cbRead;
                }
                if (!fSuccess) {
                        printf("transaction %d failed: %lu\n", i, (unsigned long)GetLastError());
                        bad++;
                        break;
                }
                if (cbTotal != strlen(chWant) || memcmp(chReply, chWant, cbTotal) != 0) {
                        printf("transaction %d: wrong reply\n", i);
                        bad++;
                }
        }
        CloseHandle(hPipe);

        /* CallNamedPipe: one more request on a connection of its own */
        strcpy(chRequest, "called");
        BOOL fCalled;
        /* CallNamedPipe waits once and tries once more: another client may
         * take the instance in between, so busy is worth another call */
        for (i = 0; i < 100; i++) {
                fCalled = CallNamedPipeA(lpszPipename, chRequest, 6, chReply, sizeof(chReply),
                                         &cbRead, 20000);
                if (fCalled || GetLastError() != ERROR_PIPE_BUSY)
                        break;
        }
        if (!fCalled) {
                printf("CallNamedPipe failed: %lu\n", (unsigned long)GetLastError());
                bad++;
        } else if (cbRead != 12 || memcmp(chReply, "echo: called", 12) != 0) {
                printf("CallNamedPipe: wrong reply\n");
                bad++;
        }
        printf("transact_client: %d requests, %d bad\n", requests + 1, bad);
        return bad != 0;
}
