/*
 * anon_child.c - the child of anon_parent.c: reads its standard input to
 * the end and writes every block back to its standard output, upper-cased,
 * through the Win32 handles GetStdHandle gives it.  Its input and output
 * are the ends of the parent's anonymous pipes.
 *
 * Written as a Windows program: it builds unchanged with mingw-w64 against
 * the real <windows.h>, and against npipe's with
 * `pkg-config --cflags --libs npipe-windows`.
 */
#include <windows.h>
#include <tchar.h>
#include <stdio.h>

#define BUFSIZE 4096

int _tmain(int argc, TCHAR *argv[])
{
        CHAR chBuf[BUFSIZE];
        DWORD dwRead, dwWritten, i;
        HANDLE hStdin, hStdout;
        BOOL bSuccess;

        (void)argc;
        (void)argv;
        hStdout = GetStdHandle(STD_OUTPUT_HANDLE);
        hStdin = GetStdHandle(STD_INPUT_HANDLE);
        if (hStdout == INVALID_HANDLE_VALUE || hStdin == INVALID_HANDLE_VALUE)
                ExitProcess(1);

        for (;;) {
                /* the end of the input: the parent closed its write end */
                bSuccess = ReadFile(hStdin, chBuf, BUFSIZE, &dwRead, NULL);
                if (!bSuccess || dwRead == 0)
                        break;
                for (i = 0; i < dwRead; i++)
                        if (chBuf[i] >= 'a' && chBuf[i] <= 'z')
                                chBuf[i] = (CHAR)(chBuf[i] - 'a' + 'A');
                bSuccess = WriteFile(hStdout, chBuf, dwRead, &dwWritten, NULL);
                if (!bSuccess)
                        break;
        }
        return 0;
}
