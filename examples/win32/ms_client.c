/*
 * ms_client.c - a named-pipe client written the way the Windows
 * documentation writes one: open the pipe with CreateFile, and while every
 * instance is busy wait for one with WaitNamedPipe; switch the handle to
 * message-read mode with SetNamedPipeHandleState; then for each message
 * WriteFile it and ReadFile the answer, again while ReadFile says
 * ERROR_MORE_DATA (the read buffer is deliberately small, so a long
 * answer comes in pieces).
 *
 *   ms_client [PIPENAME [MESSAGE...]]
 *
 * Without a message it sends one default message.  It prints each answer
 * as   Client: reply "TEXT" (N reads)   and exits with 0 when every
 * message had one.  Any of the servers ms_mt_server, ms_ovl_server,
 * ms_cr_server answers it.
 *
 * Our own program in the style of the Windows samples (not their code).
 * The same source builds with mingw-w64 against the real <windows.h>, and
 * against npipe's with `pkg-config --cflags --libs npipe-windows`, as ANSI
 * or with -DUNICODE -D_UNICODE (mingw: also -municode).
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define BUFSIZE   16  /* TCHARs per ReadFile: small on purpose */
#define REPLYSIZE 512 /* TCHARs of a whole answer */

static BOOL SendAndReceive(HANDLE hPipe, LPCTSTR lpvMessage);

int _tmain(int argc, TCHAR *argv[])
{
        HANDLE hPipe;
        LPCTSTR lpszPipename = TEXT("\\\\.\\pipe\\npipe_ms_sample");
        LPCTSTR lpvDefault = TEXT("Default message from client.");
        BOOL fSuccess;
        DWORD dwMode;
        int i, nFailed = 0;

        if (argc > 1)
                lpszPipename = argv[1];

        /* Open the pipe; while all its instances are busy, wait for one. */
        for (;;) {
                hPipe = CreateFile(lpszPipename, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                                   OPEN_EXISTING, 0, NULL);
                if (hPipe != INVALID_HANDLE_VALUE)
                        break;

                if (GetLastError() != ERROR_PIPE_BUSY) {
                        _tprintf(TEXT("Client: could not open %s, GLE=%d\n"), lpszPipename,
                                 (int)GetLastError());
                        return 1;
                }

                if (!WaitNamedPipe(lpszPipename, 20000)) {
                        _tprintf(TEXT("Client: no free instance within 20 seconds, GLE=%d\n"),
                                 (int)GetLastError());
                        return 1;
                }
        }

        /* The server writes messages: read them as messages. */
        dwMode = PIPE_READMODE_MESSAGE;
        fSuccess = SetNamedPipeHandleState(hPipe, &dwMode, NULL, NULL);
        if (!fSuccess) {
                _tprintf(TEXT("Client: SetNamedPipeHandleState failed, GLE=%d\n"),
                         (int)GetLastError());
                CloseHandle(hPipe);
                return 1;
        }

        if (argc <= 2) {
                if (!SendAndReceive(hPipe, lpvDefault))
                        nFailed++;
        }
        for (i = 2; i < argc; i++) {
                if (!SendAndReceive(hPipe, argv[i]))
                        nFailed++;
        }

        CloseHandle(hPipe);
        return nFailed ? 1 : 0;
}

/* One request and its answer. */
static BOOL SendAndReceive(HANDLE hPipe, LPCTSTR lpvMessage)
{
        TCHAR chBuf[BUFSIZE];
        TCHAR chReply[REPLYSIZE];
        DWORD cbRead, cbToWrite, cbWritten, cbReply = 0;
        BOOL fSuccess;
        int nReads = 0;

        /* the message goes with its terminating null */
        cbToWrite = (lstrlen(lpvMessage) + 1) * sizeof(TCHAR);
        _tprintf(TEXT("Client: sending %d byte message \"%s\"\n"), (int)cbToWrite, lpvMessage);

        fSuccess = WriteFile(hPipe, lpvMessage, cbToWrite, &cbWritten, NULL);
        if (!fSuccess || cbWritten != cbToWrite) {
                _tprintf(TEXT("Client: WriteFile failed, GLE=%d\n"), (int)GetLastError());
                return FALSE;
        }

        /* The answer is one message; ERROR_MORE_DATA says there is more of it. */
        do {
                fSuccess = ReadFile(hPipe, chBuf, BUFSIZE * sizeof(TCHAR), &cbRead, NULL);
                if (!fSuccess && GetLastError() != ERROR_MORE_DATA)
                        break;
                nReads++;
                if (cbReply + cbRead > sizeof(chReply)) {
                        _tprintf(TEXT("Client: answer longer than %d bytes\n"),
                                 (int)sizeof(chReply));
                        return FALSE;
                }
                CopyMemory((BYTE *)chReply + cbReply, chBuf, cbRead);
                cbReply += cbRead;
        } while (!fSuccess);

        if (!fSuccess) {
                _tprintf(TEXT("Client: ReadFile failed, GLE=%d\n"), (int)GetLastError());
                return FALSE;
        }
        if (cbReply < sizeof(TCHAR) || chReply[cbReply / sizeof(TCHAR) - 1] != 0) {
                _tprintf(TEXT("Client: the answer is not a string (%d bytes)\n"), (int)cbReply);
                return FALSE;
        }

        _tprintf(TEXT("Client: reply \"%s\" (%d reads)\n"), chReply, nReads);
        return TRUE;
}
