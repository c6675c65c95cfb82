/*
 * dup_child.c - handing a pipe end to a child process with DuplicateHandle,
 * written as a Windows program is (the same source builds with mingw-w64
 * against the real <windows.h> and runs under Wine with the same output).
 *
 * The parent creates a named pipe, opens its client end, starts a second
 * copy of itself suspended, duplicates the client end into it (closing its
 * own copy), tells it the handle's value through its standard input and
 * lets it run.  The child writes two lines to the handle it was given and
 * closes it; the parent reads until the pipe breaks.
 *
 *   dup_child            the parent
 *   dup_child child      the child (reads the handle value from stdin)
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPE_NAME "\\\\.\\pipe\\npipe-example-dup-child"

static int child(void)
{
        char line[64];
        DWORD n, got = 0;
        /* one line: the value the parent's DuplicateHandle returned */
        while (got < sizeof(line) - 1 &&
               ReadFile(GetStdHandle(STD_INPUT_HANDLE), line + got, 1, &n, NULL) && n &&
               line[got] != '\n')
                got++;
        line[got] = 0;
        HANDLE pipe = (HANDLE)(ULONG_PTR)strtoull(line, NULL, 16);
        const char *msgs[] = {"first line from the child\n", "second line from the child\n"};
        for (int i = 0; i < 2; i++)
                if (!WriteFile(pipe, msgs[i], (DWORD)strlen(msgs[i]), &n, NULL)) {
                        printf("child: WriteFile failed, GLE=%d\n", GetLastError());
                        return 1;
                }
        CloseHandle(pipe);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "child") == 0)
                return child();

        HANDLE server = CreateNamedPipeA(PIPE_NAME, PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 4096,
                                         4096, 0, NULL);
        if (server == INVALID_HANDLE_VALUE) {
                printf("CreateNamedPipe failed, GLE=%d\n", GetLastError());
                return 1;
        }
        HANDLE client = CreateFileA(PIPE_NAME, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (client == INVALID_HANDLE_VALUE) {
                printf("CreateFile failed, GLE=%d\n", GetLastError());
                return 1;
        }
        if (ConnectNamedPipe(server, NULL) || GetLastError() == ERROR_PIPE_CONNECTED)
                printf("server: connected\n");

        /* the child's standard input: an anonymous pipe, its read end inherited */
        SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
        HANDLE in_rd, in_wr;
        if (!CreatePipe(&in_rd, &in_wr, &sa, 0) ||
            !SetHandleInformation(in_wr, HANDLE_FLAG_INHERIT, 0)) {
                printf("CreatePipe failed, GLE=%d\n", GetLastError());
                return 1;
        }
        char self[MAX_PATH], cmd[MAX_PATH + 16];
        GetModuleFileNameA(NULL, self, sizeof(self));
        snprintf(cmd, sizeof(cmd), "\"%s\" child", self);
        STARTUPINFOA si;
        PROCESS_INFORMATION pi;
        ZeroMemory(&si, sizeof(si));
        si.cb = sizeof(si);
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = in_rd;
        si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
        si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
        if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si,
                            &pi)) {
                printf("CreateProcess failed, GLE=%d\n", GetLastError());
                return 1;
        }
        CloseHandle(in_rd);

        HANDLE in_child;
        if (!DuplicateHandle(GetCurrentProcess(), client, pi.hProcess, &in_child, 0, FALSE,
                             DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)) {
                printf("DuplicateHandle failed, GLE=%d\n", GetLastError());
                TerminateProcess(pi.hProcess, 1);
                return 1;
        }
        printf("parent: client end duplicated into the child\n");
        char line[32];
        DWORD n;
        snprintf(line, sizeof(line), "%llx\n", (unsigned long long)(ULONG_PTR)in_child);
        WriteFile(in_wr, line, (DWORD)strlen(line), &n, NULL);
        CloseHandle(in_wr);
        ResumeThread(pi.hThread);
        CloseHandle(pi.hThread);

        /* the child's lines, until it has closed the end it was given */
        char buf[256];
        DWORD total = 0;
        while (total < sizeof(buf) - 1 &&
               ReadFile(server, buf + total, (DWORD)(sizeof(buf) - 1 - total), &n, NULL))
                total += n;
        buf[total] = 0;
        DWORD err = GetLastError();
        printf("server read:\n%s", buf);
        printf("server: then %s\n", err == ERROR_BROKEN_PIPE ? "ERROR_BROKEN_PIPE" : "another error");

        DWORD code = 1;
        WaitForSingleObject(pi.hProcess, INFINITE);
        GetExitCodeProcess(pi.hProcess, &code);
        printf("child exit code %d\n", code);
        CloseHandle(pi.hProcess);
        CloseHandle(server);
        return code == 0 && err == ERROR_BROKEN_PIPE ? 0 : 1;
}
