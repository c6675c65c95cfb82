/*
 * w32_child.c - the child program of test_win32_process.c, itself a Win32
 * program built against <windows.h> from include/npipe/win32:
 *
 *   w32_child exit N          ExitProcess(N)
 *   w32_child write H TEXT    WriteFile(TEXT) to the inherited handle H (hex)
 *   w32_child echo            standard input to standard output
 *   w32_child block           waits for standard input to end (TerminateProcess)
 *   w32_child args ...        its arguments, one per line, on standard output
 *   w32_child type            GetFileType of its three standard handles
 *   w32_child say TEXT N      TEXT on standard output, then exit code N
 *   w32_child event H         uses the inherited event H (hex): prints the
 *                             errors of SetEvent and WaitForSingleObject,
 *                             whether an event of its own got another value,
 *                             and CloseHandle's result
 *   w32_child dup             reads one line of hex handle values from
 *                             standard input (handles the parent
 *                             duplicated into it) and for the k-th writes
 *                             "via k" to it, then prints "k FLAGS WERR
 *                             CLOSED" per handle (GetHandleInformation's
 *                             flags, WriteFile's error or 0, CloseHandle)
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(const char *s)
{
        DWORD n;
        return WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), s, (DWORD)strlen(s), &n, NULL) ? 0 : 1;
}

int main(int argc, char **argv)
{
        if (argc >= 3 && !strcmp(argv[1], "exit"))
                ExitProcess((UINT)atoi(argv[2]));
        if (argc >= 4 && !strcmp(argv[1], "write")) {
                HANDLE h = (HANDLE)(uintptr_t)strtoull(argv[2], NULL, 16);
                DWORD n;
                if (!WriteFile(h, argv[3], (DWORD)strlen(argv[3]), &n, NULL))
                        return 10 + (int)GetLastError();
                return CloseHandle(h) ? 0 : 3;
        }
        if (argc >= 2 && (!strcmp(argv[1], "echo") || !strcmp(argv[1], "block"))) {
                char buf[512];
                DWORD n, w;
                while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof(buf), &n, NULL) && n)
                        if (!strcmp(argv[1], "echo") &&
                            !WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), buf, n, &w, NULL))
                                return 4;
                return GetLastError() == ERROR_BROKEN_PIPE ? 0 : 5;
        }
        if (argc >= 2 && !strcmp(argv[1], "args")) {
                for (int i = 2; i < argc; i++) {
                        put("<");
                        put(argv[i]);
                        put(">\n");
                }
                return 0;
        }
        if (argc >= 4 && !strcmp(argv[1], "say"))
                return put(argv[2]) ? 1 : atoi(argv[3]);
        if (argc >= 3 && !strcmp(argv[1], "event")) {
                HANDLE h = (HANDLE)(uintptr_t)strtoull(argv[2], NULL, 16);
                HANDLE mine = CreateEventA(NULL, TRUE, FALSE, NULL);
                char s[64];
                DWORD set_err = SetEvent(h) ? 0 : GetLastError();
                DWORD wait_err = WaitForSingleObject(h, 0) == WAIT_FAILED ? GetLastError() : 0;
                snprintf(s, sizeof(s), "%lu %lu %d %d\n", (unsigned long)set_err,
                         (unsigned long)wait_err, mine != NULL && mine != h, CloseHandle(h));
                return put(s);
        }
        if (argc >= 2 && !strcmp(argv[1], "dup")) {
                char line[512], *p = line, *end;
                DWORD n, got = 0;
                while (got < sizeof(line) - 1 &&
                       ReadFile(GetStdHandle(STD_INPUT_HANDLE), line + got, 1, &n, NULL) && n &&
                       line[got] != '\n')
                        got++;
                line[got] = 0;
                for (int k = 0;; k++, p = end) {
                        HANDLE h = (HANDLE)(uintptr_t)strtoull(p, &end, 16);
                        if (end == p)
                                break;
                        DWORD fl = 99, w;
                        char msg[32], s[96];
                        GetHandleInformation(h, &fl);
                        snprintf(msg, sizeof(msg), "via %d", k);
                        DWORD werr = WriteFile(h, msg, (DWORD)strlen(msg), &w, NULL) ? 0
                                                                                 : GetLastError();
                        snprintf(s, sizeof(s), "%d %lu %lu %d\n", k, (unsigned long)fl,
                                 (unsigned long)werr, CloseHandle(h));
                        if (put(s))
                                return 1;
                }
                return 0;
        }
        if (argc >= 2 && !strcmp(argv[1], "type")) {
                char s[64];
                snprintf(s, sizeof(s), "%lu %lu %lu\n",
                         (unsigned long)GetFileType(GetStdHandle(STD_INPUT_HANDLE)),
                         (unsigned long)GetFileType(GetStdHandle(STD_OUTPUT_HANDLE)),
                         (unsigned long)GetFileType(GetStdHandle(STD_ERROR_HANDLE)));
                return put(s);
        }
        return 2;
}
