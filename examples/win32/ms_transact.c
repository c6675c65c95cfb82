/*
 * ms_transact.c - a named-pipe client that writes its request and reads
 * the answer in one call, TransactNamedPipe, written the way the Windows
 * documentation writes one: open the pipe (waiting with WaitNamedPipe
 * while it is busy), switch to message-read mode, transact, and while the
 * answer does not fit (ERROR_MORE_DATA) read the rest with ReadFile.  The
 * read buffer is deliberately small, so a long answer comes in pieces.
 *
 *   ms_transact [PIPENAME [MESSAGE]]
 *
 * It prints the answer as   Transact: reply "TEXT" (N reads)   and exits
 * with 0 when it got one.  Servers: ms_mt_server, ms_ovl_server,
 * ms_cr_server.
 *
 * Our own program in the style of the Windows samples (not their code);
 * the same source builds with mingw-w64 against the real <windows.h>.
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define BUFSIZE   16  /* TCHARs per read: small on purpose */
#define REPLYSIZE 512 /* TCHARs of a whole answer */

int _tmain(int argc, TCHAR *argv[])
{
        HANDLE hPipe;
        LPCTSTR lpszPipename = TEXT("\\\\.\\pipe\\npipe_ms_sample");
        TCHAR chWriteBuf[REPLYSIZE] = TEXT("Default transaction from client.");
        TCHAR chReadBuf[BUFSIZE];
        TCHAR chReply[REPLYSIZE];
        BOOL fSuccess;
        DWORD cbRead, cbReply = 0, dwMode;
        int nReads = 0;

        if (argc > 1)
                lpszPipename = argv[1];
        if (argc > 2 && FAILED(StringCchCopy(chWriteBuf, REPLYSIZE, argv[2]))) {
                _tprintf(TEXT("Transact: the message is too long\n"));
                return 1;
        }

        /* Open the pipe; while all its instances are busy, wait for one. */
        for (;;) {
                hPipe = CreateFile(lpszPipename, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                                   OPEN_EXISTING, 0, NULL);
                if (hPipe != INVALID_HANDLE_VALUE)
                        break;

                if (GetLastError() != ERROR_PIPE_BUSY) {
                        _tprintf(TEXT("Transact: could not open %s, GLE=%d\n"), lpszPipename,
                                 (int)GetLastError());
                        return 1;
                }

                if (!WaitNamedPipe(lpszPipename, 20000)) {
                        _tprintf(TEXT("Transact: no free instance within 20 seconds, GLE=%d\n"),
                                 (int)GetLastError());
                        return 1;
                }
        }

        /* A transaction needs a message-mode handle. */
        dwMode = PIPE_READMODE_MESSAGE;
        fSuccess = SetNamedPipeHandleState(hPipe, &dwMode, NULL, NULL);
        if (!fSuccess) {
                _tprintf(TEXT("Transact: SetNamedPipeHandleState failed, GLE=%d\n"),
                         (int)GetLastError());
                return 1;
        }

        _tprintf(TEXT("Transact: sending \"%s\"\n"), chWriteBuf);
        fSuccess = TransactNamedPipe(hPipe, chWriteBuf,
                                     (lstrlen(chWriteBuf) + 1) * sizeof(TCHAR), /* with the null */
                                     chReadBuf, BUFSIZE * sizeof(TCHAR), &cbRead, NULL);
        if (!fSuccess && GetLastError() != ERROR_MORE_DATA) {
                _tprintf(TEXT("Transact: TransactNamedPipe failed, GLE=%d\n"), (int)GetLastError());
                return 1;
        }

        for (;;) {
                nReads++;
                if (cbReply + cbRead > sizeof(chReply)) {
                        _tprintf(TEXT("Transact: answer longer than %d bytes\n"),
                                 (int)sizeof(chReply));
                        return 1;
                }
                CopyMemory((BYTE *)chReply + cbReply, chReadBuf, cbRead);
                cbReply += cbRead;

                /* the whole message is here */
                if (fSuccess)
                        break;

                /* the rest of it */
                fSuccess = ReadFile(hPipe, chReadBuf, BUFSIZE * sizeof(TCHAR), &cbRead, NULL);
                if (!fSuccess && GetLastError() != ERROR_MORE_DATA) {
                        _tprintf(TEXT("Transact: ReadFile failed, GLE=%d\n"), (int)GetLastError());
                        return 1;
                }
        }

        if (cbReply < sizeof(TCHAR) || chReply[cbReply / sizeof(TCHAR) - 1] != 0) {
                _tprintf(TEXT("Transact: the answer is not a string (%d bytes)\n"), (int)cbReply);
                return 1;
        }
        _tprintf(TEXT("Transact: reply \"%s\" (%d reads)\n"), chReply, nReads);

        CloseHandle(hPipe);
        return 0;
}
