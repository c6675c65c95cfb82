/*
 * w32_remote_server.c - a Win32-API pipe server for test_win32_remote.py:
 * what the Win32 layer tells about a remote (SMB) client.
 *
 *   w32_remote_server --name N [--ready-fd=FD]
 *
 * Creates \\.\pipe\N (message pipe, one instance, a NULL DACL so that the
 * SMB user's unix account may connect), writes "1" to FD once it exists,
 * and for every client: reads one message and answers with one line of
 * key=value pairs, separated by spaces:
 *
 *   addr      GetNamedPipeClientComputerNameA, or "error:N"
 *   addrw     the same through the W form (ASCII-folded)
 *   short     the error for a buffer one byte too short
 *   user      GetNamedPipeHandleStateA's user name, or "error:N"
 *   userw     the same through the W form
 *   pid       GetNamedPipeClientProcessId
 *   imp       ImpersonateNamedPipeClient in a new thread: 1, or "error:N"
 *   euid egid the ids of that thread while it impersonates
 *   ngroups   how many groups it has then
 *   other     the effective uid of this thread meanwhile
 *   revert    RevertToSelf in that thread: 1 or "error:N"
 *   after     its effective uid afterwards
 *
 * covers: INFO-13, MODE-09, SEC-07, SEC-13 (remote clients)
 */
#include <npipe/windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct imp {
        HANDLE srv;
        HANDLE impersonating, go; /* events */
        BOOL ok, ok_revert;
        DWORD err, err_revert;
        uid_t euid, euid_after;
        gid_t egid;
        int ngroups;
};

static DWORD WINAPI imp_thread(LPVOID arg)
{
        struct imp *m = arg;
        m->ok = ImpersonateNamedPipeClient(m->srv);
        m->err = GetLastError();
        m->euid = geteuid();
        m->egid = getegid();
        m->ngroups = getgroups(0, NULL);
        SetEvent(m->impersonating);
        WaitForSingleObject(m->go, 10000);
        m->ok_revert = RevertToSelf();
        m->err_revert = GetLastError();
        m->euid_after = geteuid();
        return 0;
}

/* A W string of ASCII back to char (anything else as '?'). */
static void fold(const WCHAR *w, char *out, size_t size)
{
        size_t i = 0;
        for (; w[i] && i + 1 < size; i++)
                out[i] = w[i] < 0x80 ? (char)w[i] : '?';
        out[i] = 0;
}

static void report(HANDLE srv, char *line, size_t size)
{
        char addr[128], addrw[128], user[256], userw[256], tmp[16];
        WCHAR wbuf[256];
        if (GetNamedPipeClientComputerNameA(srv, addr, sizeof(addr))) {
                /* one byte too short for the address and its 0 */
                char small[128];
                if (GetNamedPipeClientComputerNameA(srv, small, (ULONG)strlen(addr)))
                        snprintf(tmp, sizeof(tmp), "ok");
                else
                        snprintf(tmp, sizeof(tmp), "%lu", (unsigned long)GetLastError());
        } else {
                snprintf(addr, sizeof(addr), "error:%lu", (unsigned long)GetLastError());
                snprintf(tmp, sizeof(tmp), "-");
        }
        if (GetNamedPipeClientComputerNameW(srv, wbuf, sizeof(wbuf)))
                fold(wbuf, addrw, sizeof(addrw));
        else
                snprintf(addrw, sizeof(addrw), "error:%lu", (unsigned long)GetLastError());
        if (!GetNamedPipeHandleStateA(srv, NULL, NULL, NULL, NULL, user, sizeof(user)))
                snprintf(user, sizeof(user), "error:%lu", (unsigned long)GetLastError());
        if (GetNamedPipeHandleStateW(srv, NULL, NULL, NULL, NULL, wbuf, 256))
                fold(wbuf, userw, sizeof(userw));
        else
                snprintf(userw, sizeof(userw), "error:%lu", (unsigned long)GetLastError());
        ULONG pid = 0;
        if (!GetNamedPipeClientProcessId(srv, &pid))
                pid = 0xFFFFFFFFu;

        struct imp m;
        memset(&m, 0, sizeof(m));
        m.srv = srv;
        m.impersonating = CreateEventA(NULL, TRUE, FALSE, NULL);
        m.go = CreateEventA(NULL, TRUE, FALSE, NULL);
        uid_t other = (uid_t)-1;
        HANDLE th = CreateThread(NULL, 0, imp_thread, &m, 0, NULL);
        if (th) {
                WaitForSingleObject(m.impersonating, 10000);
                other = geteuid();
                SetEvent(m.go);
                WaitForSingleObject(th, 10000);
                CloseHandle(th);
        }
        CloseHandle(m.impersonating);
        CloseHandle(m.go);
        char imp[32], rev[32];
        if (m.ok)
                snprintf(imp, sizeof(imp), "1");
        else
                snprintf(imp, sizeof(imp), "error:%lu", (unsigned long)m.err);
        if (m.ok_revert)
                snprintf(rev, sizeof(rev), "1");
        else
                snprintf(rev, sizeof(rev), "error:%lu", (unsigned long)m.err_revert);
        snprintf(line, size,
                 "addr=%s addrw=%s short=%s user=%s userw=%s pid=%lu imp=%s euid=%u egid=%u "
                 "ngroups=%d other=%u revert=%s after=%u",
                 addr, addrw, tmp, user, userw, (unsigned long)pid, imp, (unsigned)m.euid,
                 (unsigned)m.egid, m.ngroups, (unsigned)other, rev, (unsigned)m.euid_after);
}

int main(int argc, char **argv)
{
        const char *name = NULL;
        int ready_fd = -1;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
                        name = argv[++i];
                else if (strncmp(argv[i], "--ready-fd=", 11) == 0)
                        ready_fd = atoi(argv[i] + 11);
                else {
                        fprintf(stderr, "usage: w32_remote_server --name N [--ready-fd=FD]\n");
                        return 2;
                }
        }
        if (!name) {
                fprintf(stderr, "w32_remote_server: --name is required\n");
                return 2;
        }
        char path[300];
        snprintf(path, sizeof(path), "\\\\.\\pipe\\%s", name);
        SECURITY_DESCRIPTOR sd;
        InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
        SetSecurityDescriptorDacl(&sd, TRUE, NULL, FALSE);
        SECURITY_ATTRIBUTES sa = {sizeof(sa), &sd, FALSE};
        HANDLE srv =
            CreateNamedPipeA(path, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                             65536, 65536, 0, &sa);
        if (srv == INVALID_HANDLE_VALUE) {
                fprintf(stderr, "w32_remote_server: CreateNamedPipe: %lu\n",
                        (unsigned long)GetLastError());
                return 1;
        }
        if (ready_fd >= 0) {
                if (write(ready_fd, "1", 1) != 1)
                        perror("w32_remote_server: ready fd");
                close(ready_fd);
        }
        for (;;) {
                if (!ConnectNamedPipe(srv, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
                        fprintf(stderr, "w32_remote_server: ConnectNamedPipe: %lu\n",
                                (unsigned long)GetLastError());
                        return 1;
                }
                char buf[65536];
                DWORD n = 0;
                if (ReadFile(srv, buf, sizeof(buf), &n, NULL)) {
                        char line[2048];
                        report(srv, line, sizeof(line));
                        fprintf(stderr, "w32_remote_server: %s\n", line);
                        WriteFile(srv, line, (DWORD)strlen(line), &n, NULL);
                        /* until the client goes */
                        while (ReadFile(srv, buf, sizeof(buf), &n, NULL))
                                ;
                }
                DisconnectNamedPipe(srv);
        }
}
