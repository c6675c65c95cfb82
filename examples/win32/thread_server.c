/*
 * thread_server.c - the thread-per-client pipe server Windows programmers
 * know: a loop that waits for a client with a blocking ConnectNamedPipe on
 * a fresh instance and hands the connection to a new thread, which reads
 * requests and answers them until the client leaves, then flushes,
 * disconnects and closes its instance.
 *
 *   thread_server [PIPE-NAME [CLIENTS]]
 *
 * Replies to every message with "echo: " and the message.  With CLIENTS it
 * waits for the threads of that many clients and exits.
 */
#ifdef _WIN32
#include <windows.h>
#else
#include <npipe/windows.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFSIZE     512
#define MAX_THREADS 64

static DWORD WINAPI InstanceThread(LPVOID lpvParam)
{
        HANDLE hPipe = (HANDLE)lpvParam;
        char chRequest[BUFSIZE], chReply[BUFSIZE + 8];
        DWORD cbBytesRead = 0, cbWritten = 0, cbReplyBytes;
        DWORD served = 0;

        for (;;) {
                if (!ReadFile(hPipe, chRequest, BUFSIZE, &cbBytesRead, NULL) || cbBytesRead == 0) {
                        if (GetLastError() != ERROR_BROKEN_PIPE)
                                printf("InstanceThread: ReadFile failed: %lu\n",
                                       (unsigned long)GetLastError());
                        break;
                }
                memcpy(chReply, "echo: ", 6);
                memcpy(chReply + 6, chRequest, cbBytesRead);
                cbReplyBytes = cbBytesRead + 6;
                if (!WriteFile(hPipe, chReply, cbReplyBytes, &cbWritten, NULL) ||
                    cbReplyBytes != cbWritten) {
                        printf("InstanceThread: WriteFile failed: %lu\n",
                               (unsigned long)GetLastError());
                        break;
                }
                served++;
        }
        /* let the client read what is left, then drop it */
        FlushFileBuffers(hPipe);
        DisconnectNamedPipe(hPipe);
        CloseHandle(hPipe);
        return served;
}

static HANDLE NewInstance(const char *lpszPipename)
{
        HANDLE hPipe = CreateNamedPipeA(lpszPipename, PIPE_ACCESS_DUPLEX,
                                        PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                        PIPE_UNLIMITED_INSTANCES, BUFSIZE, BUFSIZE, 0, NULL);
        if (hPipe == INVALID_HANDLE_VALUE)
                printf("CreateNamedPipe failed: %lu\n", (unsigned long)GetLastError());
        return hPipe;
}

int main(int argc, char **argv)
{
        const char *lpszPipename = argc > 1 ? argv[1] : "\\\\.\\pipe\\npipe-example";
        long maxClients = argc > 2 ? atol(argv[2]) : 0;
        HANDLE hThreads[MAX_THREADS];
        DWORD nThreads = 0, dwThreadId, dwExit, total = 0, i;
        long clients = 0;

        /* the next instance is made before a connected one is handed over, so
         * one always listens: clients see ERROR_PIPE_BUSY at worst, never a
         * name that has gone with the last instance (ERROR_FILE_NOT_FOUND) */
        HANDLE hPipe = NewInstance(lpszPipename);
        if (hPipe == INVALID_HANDLE_VALUE)
                return 1;
        printf("thread_server: %s ready\n", lpszPipename);
        fflush(stdout);
        while (maxClients == 0 || clients < maxClients) {
                /* TRUE, or FALSE with ERROR_PIPE_CONNECTED: the client was quicker */
                BOOL fConnected =
                    ConnectNamedPipe(hPipe, NULL) ? TRUE : (GetLastError() == ERROR_PIPE_CONNECTED);
                if (!fConnected) {
                        /* it came and went (ERROR_NO_DATA): recycle the instance */
                        DisconnectNamedPipe(hPipe);
                        continue;
                }
                clients++;
                HANDLE hNext = INVALID_HANDLE_VALUE;
                if (maxClients == 0 || clients < maxClients) {
                        hNext = NewInstance(lpszPipename);
                        if (hNext == INVALID_HANDLE_VALUE)
                                return 1;
                }
                HANDLE hThread =
                    CreateThread(NULL, 0, InstanceThread, (LPVOID)hPipe, 0, &dwThreadId);
                if (hThread == NULL) {
                        printf("CreateThread failed: %lu\n", (unsigned long)GetLastError());
                        return 1;
                }
                if (maxClients && nThreads < MAX_THREADS)
                        hThreads[nThreads++] = hThread;
                else
                        CloseHandle(hThread);
                hPipe = hNext;
        }
        /* every thread returns the number of requests it answered */
        for (i = 0; i < nThreads; i++) {
                WaitForSingleObject(hThreads[i], INFINITE);
                if (GetExitCodeThread(hThreads[i], &dwExit))
                        total += dwExit;
                CloseHandle(hThreads[i]);
        }
        printf("thread_server: served %ld clients, %lu requests\n", clients, (unsigned long)total);
        return 0;
}
