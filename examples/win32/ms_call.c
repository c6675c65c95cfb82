/*
 * ms_call.c - a named-pipe client that does all of it in one call,
 * CallNamedPipe (open, wait for an instance if busy, message mode, write,
 * read, close), written the way the Windows documentation writes one.  An
 * answer longer than the buffer is cut: CallNamedPipe then fails with
 * ERROR_MORE_DATA and the rest of the message is lost.
 *
 *   ms_call [PIPENAME [MESSAGE]]
 *
 * It prints the answer as   Call: reply "TEXT"   (and "Call: extra data in
 * the message was lost" when it was cut) and exits with 0 when it got an
 * answer.  Servers: ms_mt_server, ms_ovl_server, ms_cr_server.
 *
 * Our own program in the style of the Windows samples (not their code);
 * the same source builds with mingw-w64 against the real <windows.h>.
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>

#define BUFSIZE 32 /* TCHARs of the answer */

int _tmain(int argc, TCHAR *argv[])
{
        LPCTSTR lpszPipename = TEXT("\\\\.\\pipe\\npipe_ms_sample");
        LPCTSTR lpszWrite = TEXT("Default message from CallNamedPipe.");
        TCHAR chReadBuf[BUFSIZE + 1]; /* room for a null after a cut answer */
        BOOL fSuccess;
        DWORD cbRead = 0;

        if (argc > 1)
                lpszPipename = argv[1];
        if (argc > 2)
                lpszWrite = argv[2];

        _tprintf(TEXT("Call: sending \"%s\"\n"), lpszWrite);
        fSuccess = CallNamedPipe(lpszPipename,                                /* pipe name */
                                 (LPVOID)lpszWrite,                           /* message to server */
                                 (lstrlen(lpszWrite) + 1) * sizeof(TCHAR),    /* message length */
                                 chReadBuf,                                   /* buffer for answer */
                                 BUFSIZE * sizeof(TCHAR),                     /* buffer size */
                                 &cbRead,                                     /* bytes read */
                                 20000);                                      /* wait 20 seconds */

        if (fSuccess || GetLastError() == ERROR_MORE_DATA) {
                chReadBuf[cbRead / sizeof(TCHAR)] = 0;
                _tprintf(TEXT("Call: reply \"%s\"\n"), chReadBuf);

                /* the answer was longer than the buffer */
                if (!fSuccess) {
                        _tprintf(TEXT("Call: extra data in the message was lost\n"));
                        fSuccess = TRUE;
                }
        } else {
                _tprintf(TEXT("Call: CallNamedPipe failed, GLE=%d\n"), (int)GetLastError());
        }

        return fSuccess ? 0 : 1;
}
