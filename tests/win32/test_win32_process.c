/*
 * test_win32_process.c - CreateProcess with redirected standard handles,
 * handle inheritance, process handles (waits, exit codes,
 * TerminateProcess), CREATE_SUSPENDED with ResumeThread, inheritable
 * events, and Windows command-line quoting, across real processes: the
 * children are w32_child (an npipe Win32 program) and /bin/cat,
 * /bin/echo (plain Linux programs).  What Windows does is what Wine 8.0
 * does for the same calls (the values are noted where they are checked).
 */
#include "w_test.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *child_path(void)
{
        const char *p = getenv("W32_CHILD");
        ck_assert_msg(p != NULL, "W32_CHILD not set");
        return p;
}

/* The pair of anonymous pipes of the tutorials: the child's ends
 * inheritable, ours not. */
struct redirect {
        HANDLE in_rd, in_wr, out_rd, out_wr;
};

static void redirect_make(struct redirect *r)
{
        SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
        WT_OK(CreatePipe(&r->out_rd, &r->out_wr, &sa, 0));
        WT_OK(SetHandleInformation(r->out_rd, HANDLE_FLAG_INHERIT, 0));
        WT_OK(CreatePipe(&r->in_rd, &r->in_wr, &sa, 0));
        WT_OK(SetHandleInformation(r->in_wr, HANDLE_FLAG_INHERIT, 0));
}

static HANDLE spawn(char *cmd, struct redirect *r, BOOL inherit)
{
        STARTUPINFOA si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof(si));
        memset(&pi, 0, sizeof(pi));
        si.cb = sizeof(si);
        if (r) {
                si.dwFlags = STARTF_USESTDHANDLES;
                si.hStdInput = r->in_rd;
                si.hStdOutput = r->out_wr;
                si.hStdError = r->out_wr;
        }
        WT_OK(CreateProcessA(NULL, cmd, NULL, NULL, inherit, 0, NULL, NULL, &si, &pi));
        ck_assert_uint_ne(pi.dwProcessId, 0);
        ck_assert_uint_eq(GetProcessId(pi.hProcess), pi.dwProcessId);
        WT_OK(CloseHandle(pi.hThread));
        if (r) {
                /* the child holds these now */
                WT_OK(CloseHandle(r->out_wr));
                WT_OK(CloseHandle(r->in_rd));
        }
        return pi.hProcess;
}

/* Everything until the writers are gone (ERROR_BROKEN_PIPE). */
static size_t read_all(HANDLE h, char *buf, size_t cap)
{
        size_t got = 0;
        DWORD n;
        while (got < cap - 1 && ReadFile(h, buf + got, (DWORD)(cap - 1 - got), &n, NULL))
                got += n;
        ck_assert_uint_eq(GetLastError(), ERROR_BROKEN_PIPE);
        buf[got] = 0;
        return got;
}

static DWORD wait_exit(HANDLE proc)
{
        DWORD code = 12345;
        ck_assert_uint_eq(WaitForSingleObject(proc, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetExitCodeProcess(proc, &code));
        WT_OK(CloseHandle(proc));
        return code;
}

static void echo_through(const char *cmd_fmt)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), cmd_fmt, child_path());
        HANDLE proc = spawn(cmd, &r, TRUE);
        w_write(r.in_wr, "through the child\n");
        WT_OK(CloseHandle(r.in_wr));
        char buf[256];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "through the child\n");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
}

/* covers: CreateProcess STARTF_USESTDHANDLES, GetStdHandle in an npipe child */
START_TEST(redirect_npipe_child)
{
        echo_through("\"%s\" echo");
}
END_TEST

/* covers: CreateProcess STARTF_USESTDHANDLES, a plain Linux child */
START_TEST(redirect_linux_child)
{
        (void)child_path;
        echo_through("/bin/cat");
}
END_TEST

/* The child's standard handles are pipes there too. */
START_TEST(child_std_types)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" type", child_path());
        HANDLE proc = spawn(cmd, &r, TRUE);
        WT_OK(CloseHandle(r.in_wr));
        char buf[64];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "3 3 3\n"); /* FILE_TYPE_PIPE */
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
}
END_TEST

/* covers: GetExitCodeProcess, ExitProcess, WaitForSingleObject on a process */
START_TEST(exit_code)
{
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" exit 42", child_path());
        HANDLE proc = spawn(cmd, NULL, FALSE);
        ck_assert_uint_eq(wait_exit(proc), 42);
}
END_TEST

/* covers: TerminateProcess, STILL_ACTIVE */
START_TEST(terminate)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" block", child_path());
        HANDLE proc = spawn(cmd, &r, TRUE);
        DWORD code = 0;
        /* it waits for the input we hold open */
        WT_OK(GetExitCodeProcess(proc, &code));
        ck_assert_uint_eq(code, STILL_ACTIVE);
        ck_assert_uint_eq(WaitForSingleObject(proc, 0), WAIT_TIMEOUT);
        WT_OK(TerminateProcess(proc, 77));
        ck_assert_uint_eq(WaitForSingleObject(proc, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetExitCodeProcess(proc, &code));
        ck_assert_uint_eq(code, 77);
        /* a second time: it has ended */
        WT_FAILS(TerminateProcess(proc, 1), ERROR_ACCESS_DENIED);
        WT_OK(CloseHandle(proc));
        /* its end of our output pipe is gone with it */
        char buf[16];
        read_all(r.out_rd, buf, sizeof(buf));
        WT_OK(CloseHandle(r.out_rd));
        WT_OK(CloseHandle(r.in_wr));
}
END_TEST

/* covers: MISC-02 (bInheritHandle: inherited handles keep their value in the
 * child) */
START_TEST(inherit_handle_value)
{
        SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
        HANDLE rd, wr;
        WT_OK(CreatePipe(&rd, &wr, &sa, 0));
        WT_OK(SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0));
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" write %llx \"by handle value\"", child_path(),
                 (unsigned long long)(uintptr_t)wr);
        HANDLE proc = spawn(cmd, NULL, TRUE);
        WT_OK(CloseHandle(wr));
        char buf[64];
        read_all(rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "by handle value");
        WT_OK(CloseHandle(rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
}
END_TEST

/* covers: SetHandleInformation(HANDLE_FLAG_INHERIT, 0), bInheritHandles FALSE */
START_TEST(not_inherited)
{
        SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
        HANDLE rd, wr;
        WT_OK(CreatePipe(&rd, &wr, &sa, 0));
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" write %llx x", child_path(),
                 (unsigned long long)(uintptr_t)wr);
        /* inheritable, but CreateProcess is told not to pass handles */
        HANDLE proc = spawn(cmd, NULL, FALSE);
        ck_assert_uint_eq(wait_exit(proc), 10 + ERROR_INVALID_HANDLE);
        WT_OK(SetHandleInformation(wr, HANDLE_FLAG_INHERIT, 0));
        proc = spawn(cmd, NULL, TRUE);
        ck_assert_uint_eq(wait_exit(proc), 10 + ERROR_INVALID_HANDLE);
        WT_OK(CloseHandle(wr));
        WT_OK(CloseHandle(rd));
}
END_TEST

/* covers: CreateProcess command-line splitting (CommandLineToArgvW rules) */
START_TEST(command_line_quoting)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" args \"a b\" c\\\"d \"\" e\\\\f \"g\\\\\" \"h\"\"i\"",
                 child_path());
        HANDLE proc = spawn(cmd, &r, TRUE);
        WT_OK(CloseHandle(r.in_wr));
        char buf[256];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "<a b>\n<c\"d>\n<>\n<e\\\\f>\n<g\\>\n<h\"i>\n");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
}
END_TEST

START_TEST(missing_program)
{
        STARTUPINFOA si = {.cb = sizeof(si)};
        PROCESS_INFORMATION pi;
        char cmd[] = "no-such-program-npipe arg";
        WT_FAILS(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi),
                 ERROR_FILE_NOT_FOUND);
}
END_TEST

/* covers: CreateProcessW, lpEnvironment (CREATE_UNICODE_ENVIRONMENT) */
START_TEST(create_process_w)
{
        struct redirect r;
        redirect_make(&r);
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof(si));
        si.cb = sizeof(si);
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = r.in_rd;
        si.hStdOutput = r.out_wr;
        si.hStdError = r.out_wr;
        WCHAR cmd[] = u"/bin/sh -c \"printf %s \\\"$NPIPE_T\\\"\"";
        WCHAR env[] = u"NPIPE_T=from the block\0PATH=/usr/bin:/bin\0";
        WT_OK(CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_UNICODE_ENVIRONMENT, env, NULL,
                             &si, &pi));
        WT_OK(CloseHandle(pi.hThread));
        WT_OK(CloseHandle(r.out_wr));
        WT_OK(CloseHandle(r.in_rd));
        WT_OK(CloseHandle(r.in_wr));
        char buf[64];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "from the block");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 0);
}
END_TEST

/* A child made with CREATE_SUSPENDED and the given redirection (its ends
 * closed here, as after spawn()); *pi gets both handles. */
static void spawn_suspended(char *cmd, struct redirect *r, PROCESS_INFORMATION *pi)
{
        STARTUPINFOA si;
        memset(&si, 0, sizeof(si));
        memset(pi, 0, sizeof(*pi));
        si.cb = sizeof(si);
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = r->in_rd;
        si.hStdOutput = r->out_wr;
        si.hStdError = r->out_wr;
        WT_OK(CreateProcessA(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, pi));
        ck_assert_uint_eq(pi->dwThreadId, pi->dwProcessId); /* Linux: the main thread's id */
        WT_OK(CloseHandle(r->out_wr));
        WT_OK(CloseHandle(r->in_rd));
}

/* Bytes waiting in our end of the child's output. */
static DWORD avail(HANDLE rd)
{
        DWORD n = 12345;
        WT_OK(PeekNamedPipe(rd, NULL, 0, NULL, &n, NULL));
        return n;
}

/* The child has not started: it has written nothing, it has not ended
 * (w32_child say exits as soon as it runs), its code is STILL_ACTIVE. */
static void assert_held(PROCESS_INFORMATION *pi, HANDLE out_rd, DWORD ms)
{
        DWORD code = 0;
        ck_assert_uint_eq(WaitForSingleObject(pi->hProcess, ms), WAIT_TIMEOUT);
        ck_assert_uint_eq(WaitForSingleObject(pi->hThread, 0), WAIT_TIMEOUT);
        ck_assert_uint_eq(avail(out_rd), 0);
        WT_OK(GetExitCodeProcess(pi->hProcess, &code));
        ck_assert_uint_eq(code, STILL_ACTIVE);
}

/* covers: CreateProcess CREATE_SUSPENDED, ResumeThread, SuspendThread
 * (Wine: 1, then ResumeThread 2, 1 - and only then it runs - then 0),
 * GetExitCodeThread of hThread */
START_TEST(suspended_resume)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" say started 7", child_path());
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &r, &pi);
        assert_held(&pi, r.out_rd, 50);
        ck_assert_uint_eq(SuspendThread(pi.hThread), 1);
        /* a process handle is not a thread handle (Wine: -1, 6) */
        ck_assert_uint_eq(ResumeThread(pi.hProcess), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 2);
        assert_held(&pi, r.out_rd, 50); /* suspended once more */
        ck_assert_uint_eq(ResumeThread(pi.hThread), 1);
        WT_OK(CloseHandle(r.in_wr));
        char buf[64];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "started");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(WaitForSingleObject(pi.hThread, W_LONG), WAIT_OBJECT_0);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 0);
        /* the main thread's code is the process's (Wine: 7); a process
         * handle is no thread handle (Wine: 6) */
        DWORD code = 0;
        WT_OK(GetExitCodeThread(pi.hThread, &code));
        ck_assert_uint_eq(code, 7);
        WT_FAILS(GetExitCodeThread(pi.hProcess, &code), ERROR_INVALID_HANDLE);
        code = 0;
        WT_OK(GetExitCodeThread(GetCurrentThread(), &code));
        ck_assert_uint_eq(code, STILL_ACTIVE);
        /* it has ended (Wine: -1, ERROR_ACCESS_DENIED) */
        ck_assert_uint_eq(SuspendThread(pi.hThread), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_ACCESS_DENIED);
        /* the thread handle is no process handle */
        ck_assert_uint_eq(GetProcessId(pi.hThread), 0);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        WT_OK(CloseHandle(pi.hThread));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 7);
}
END_TEST

/* covers: TerminateProcess of a suspended child (Wine: exit code 33, the
 * thread handle signalled, its suspend count still 1) */
START_TEST(suspended_terminate)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" say started 0", child_path());
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &r, &pi);
        assert_held(&pi, r.out_rd, 0);
        DWORD code = 0;
        WT_OK(GetExitCodeThread(pi.hThread, &code));
        ck_assert_uint_eq(code, STILL_ACTIVE);
        WT_OK(TerminateProcess(pi.hProcess, 33));
        ck_assert_uint_eq(WaitForSingleObject(pi.hThread, W_LONG), WAIT_OBJECT_0);
        /* the main thread ends with TerminateProcess's code (Wine: 33) */
        WT_OK(GetExitCodeThread(pi.hThread, &code));
        ck_assert_uint_eq(code, 33);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 1);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 0);
        WT_OK(CloseHandle(pi.hThread));
        /* it never ran: its output ends empty */
        char buf[64];
        ck_assert_uint_eq(read_all(r.out_rd, buf, sizeof(buf)), 0);
        WT_OK(CloseHandle(r.out_rd));
        WT_OK(CloseHandle(r.in_wr));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 33);
}
END_TEST

/* covers: CloseHandle of hThread without ResumeThread: the child stays
 * suspended (Windows and Wine: nothing resumes it; the process handle
 * still ends it) */
START_TEST(suspended_close_thread)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" say started 0", child_path());
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &r, &pi);
        WT_OK(CloseHandle(pi.hThread));
        ck_assert_uint_eq(ResumeThread(pi.hThread), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        ck_assert_uint_eq(WaitForSingleObject(pi.hProcess, 200), WAIT_TIMEOUT);
        ck_assert_uint_eq(avail(r.out_rd), 0);
        WT_OK(TerminateProcess(pi.hProcess, 5));
        char buf[64];
        ck_assert_uint_eq(read_all(r.out_rd, buf, sizeof(buf)), 0);
        WT_OK(CloseHandle(r.out_rd));
        WT_OK(CloseHandle(r.in_wr));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 5);
}
END_TEST

/* covers: CREATE_SUSPENDED of a plain Linux program, which is held too */
START_TEST(suspended_linux_child)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[] = "/bin/echo started";
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &r, &pi);
        assert_held(&pi, r.out_rd, 50);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 1);
        WT_OK(CloseHandle(pi.hThread));
        WT_OK(CloseHandle(r.in_wr));
        char buf[64];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "started\n");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 0);
}
END_TEST

/* A held child keeps none of our descriptors that close at exec: here the
 * Linux pipe of another child's standard input, which must still end when
 * we close our end of it. */
START_TEST(suspended_keeps_no_descriptors)
{
        struct redirect a, b;
        redirect_make(&a);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" echo", child_path());
        HANDLE echo = spawn(cmd, &a, TRUE);
        redirect_make(&b);
        snprintf(cmd, sizeof(cmd), "\"%s\" say held 0", child_path());
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &b, &pi);
        w_write(a.in_wr, "while the other is held");
        WT_OK(CloseHandle(a.in_wr));
        /* it sees the end of its input: nobody else holds the pipe */
        ck_assert_uint_eq(WaitForSingleObject(echo, W_LONG), WAIT_OBJECT_0);
        char buf[64];
        read_all(a.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "while the other is held");
        WT_OK(CloseHandle(a.out_rd));
        ck_assert_uint_eq(wait_exit(echo), 0);
        assert_held(&pi, b.out_rd, 0);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 1);
        WT_OK(CloseHandle(pi.hThread));
        WT_OK(CloseHandle(b.in_wr));
        read_all(b.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "held");
        WT_OK(CloseHandle(b.out_rd));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 0);
}
END_TEST

/* covers: CREATE_SUSPENDED with a directory that does not exist: fails in
 * CreateProcess, as without the flag */
START_TEST(suspended_bad_directory)
{
        STARTUPINFOA si = {.cb = sizeof(si)};
        PROCESS_INFORMATION pi;
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" exit 0", child_path());
        WT_FAILS(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, CREATE_SUSPENDED, NULL,
                                "/nonexistent-npipe-dir", &si, &pi),
                 ERROR_DIRECTORY);
        WT_FAILS(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, "/nonexistent-npipe-dir",
                                &si, &pi),
                 ERROR_DIRECTORY);
}
END_TEST

static DWORD WINAPI idle_thread(LPVOID arg)
{
        (void)arg;
        return 3;
}

/* covers: ResumeThread and SuspendThread on threads that are not a
 * suspended child's (Wine: ResumeThread of the current thread 0, of an
 * invalid handle -1 with ERROR_INVALID_HANDLE) */
START_TEST(resume_other_threads)
{
        ck_assert_uint_eq(ResumeThread(GetCurrentThread()), 0);
        ck_assert_uint_eq(ResumeThread(NULL), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        HANDLE ev = w_event(TRUE, FALSE);
        ck_assert_uint_eq(ResumeThread(ev), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        WT_OK(CloseHandle(ev));
        HANDLE t = CreateThread(NULL, 0, idle_thread, NULL, 0, NULL);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(ResumeThread(t), 0);
        /* suspending a running thread: not here (docs/win32.md) */
        ck_assert_uint_eq(SuspendThread(t), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_NOT_SUPPORTED);
        ck_assert_uint_eq(SuspendThread(GetCurrentThread()), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_NOT_SUPPORTED);
        ck_assert_uint_eq(WaitForSingleObject(t, W_LONG), WAIT_OBJECT_0);
        WT_OK(CloseHandle(t));
        /* the main thread of a child that runs */
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" block", child_path());
        STARTUPINFOA si = {.cb = sizeof(si), .dwFlags = STARTF_USESTDHANDLES};
        si.hStdInput = r.in_rd;
        si.hStdOutput = si.hStdError = r.out_wr;
        PROCESS_INFORMATION pi;
        WT_OK(CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi));
        WT_OK(CloseHandle(r.in_rd));
        WT_OK(CloseHandle(r.out_wr));
        ck_assert_uint_eq(ResumeThread(pi.hThread), 0);
        ck_assert_uint_eq(SuspendThread(pi.hThread), (DWORD)-1);
        ck_assert_uint_eq(GetLastError(), ERROR_NOT_SUPPORTED);
        WT_OK(CloseHandle(r.in_wr));
        ck_assert_uint_eq(WaitForSingleObject(pi.hThread, W_LONG), WAIT_OBJECT_0);
        WT_OK(CloseHandle(pi.hThread));
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 0);
}
END_TEST

/* covers: an inheritable event passed to a child.  Windows (and Wine)
 * share the event: the child's SetEvent is seen here.  npipe cannot, and
 * the child's calls fail clearly instead: ERROR_INVALID_HANDLE for
 * SetEvent and the wait, an event of its own made first does not take
 * the value (as it would without the placeholder: the event is the first
 * handle here, the child's first handle would get the same value), and
 * CloseHandle works as on any inherited handle. */
START_TEST(inherit_event_refused)
{
        SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
        HANDLE ev = CreateEventA(&sa, TRUE, FALSE, NULL);
        ck_assert_ptr_nonnull(ev);
        DWORD fl = 0;
        WT_OK(GetHandleInformation(ev, &fl));
        ck_assert_uint_eq(fl, HANDLE_FLAG_INHERIT);
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" event %llx", child_path(),
                 (unsigned long long)(uintptr_t)ev);
        HANDLE proc = spawn(cmd, &r, TRUE);
        WT_OK(CloseHandle(r.in_wr));
        char buf[64];
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "6 6 1 1\n");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
        /* ours is untouched */
        ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_TIMEOUT);
        WT_OK(CloseHandle(ev));
}
END_TEST

/* Tell a "w32_child dup" the values, as a Windows parent would (the
 * target's values mean nothing here). */
static void send_values(HANDLE in_wr, HANDLE a, HANDLE b)
{
        char line[64];
        if (b)
                snprintf(line, sizeof(line), "%llx %llx\n", (unsigned long long)(uintptr_t)a,
                         (unsigned long long)(uintptr_t)b);
        else
                snprintf(line, sizeof(line), "%llx\n", (unsigned long long)(uintptr_t)a);
        w_write(in_wr, line);
}

/* covers: MISC-02 (DuplicateHandle into a child held by CREATE_SUSPENDED, with
 * DUPLICATE_CLOSE_SOURCE: the source is gone when the call returns, the
 * child finds a working handle at the value once it runs, and the pipe
 * ends when the child closes it (Wine: TRUE, a new value; the source
 * closed at once)) */
START_TEST(duplicate_into_suspended)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" dup", child_path());
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &r, &pi);
        HANDLE rd, wr, t = NULL;
        WT_OK(CreatePipe(&rd, &wr, NULL, 0));
        WT_OK(DuplicateHandle(GetCurrentProcess(), wr, pi.hProcess, &t, 0, FALSE,
                              DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE));
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_ne(t, INVALID_HANDLE_VALUE);
        DWORD fl;
        WT_FAILS(GetHandleInformation(wr, &fl), ERROR_INVALID_HANDLE);
        assert_held(&pi, r.out_rd, 0);
        send_values(r.in_wr, t, NULL);
        ck_assert_uint_eq(ResumeThread(pi.hThread), 1);
        WT_OK(CloseHandle(pi.hThread));
        char buf[64];
        read_all(rd, buf, sizeof(buf)); /* to ERROR_BROKEN_PIPE: the child closed it */
        ck_assert_str_eq(buf, "via 0");
        WT_OK(CloseHandle(rd));
        WT_OK(CloseHandle(r.in_wr));
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "0 0 0 1\n"); /* not inheritable, written, closed */
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 0);
}
END_TEST

/* covers: MISC-02 (DuplicateHandle of a named pipe's client end and of an
 * anonymous pipe end into a child that is already running, with and
 * without bInheritHandle: two values, each its own handle in the child;
 * the parent's own copy closed after the call, the child's keeps the
 * client end connected until it closes it (then the server reads
 * ERROR_BROKEN_PIPE)) */
START_TEST(duplicate_into_running)
{
        W_NAME(name);
        HANDLE srv = w_server(name, 0, PIPE_TYPE_BYTE, 0);
        HANDLE cli = w_client(name, 0);
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" dup", child_path());
        HANDLE proc = spawn(cmd, &r, TRUE);
        HANDLE rd, wr, t1 = NULL, t2 = NULL;
        WT_OK(CreatePipe(&rd, &wr, NULL, 0));
        WT_OK(DuplicateHandle(GetCurrentProcess(), cli, proc, &t1, 0, TRUE,
                              DUPLICATE_SAME_ACCESS));
        WT_OK(DuplicateHandle(GetCurrentProcess(), wr, proc, &t2, 0, FALSE,
                              DUPLICATE_SAME_ACCESS));
        ck_assert_ptr_nonnull(t1);
        ck_assert_ptr_nonnull(t2);
        ck_assert_ptr_ne(t1, t2);
        /* ours stay ours without DUPLICATE_CLOSE_SOURCE */
        DWORD fl = 99;
        WT_OK(GetHandleInformation(cli, &fl));
        ck_assert_uint_eq(fl, 0);
        WT_OK(CloseHandle(cli));
        WT_OK(CloseHandle(wr));
        send_values(r.in_wr, t1, t2);
        char buf[64];
        size_t got = 0;
        DWORD n;
        while (got < 5 && ReadFile(srv, buf + got, (DWORD)(sizeof(buf) - 1 - got), &n, NULL))
                got += n;
        buf[got] = 0;
        ck_assert_str_eq(buf, "via 0");
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, NULL), ERROR_BROKEN_PIPE);
        read_all(rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "via 1");
        WT_OK(CloseHandle(rd));
        WT_OK(CloseHandle(srv));
        WT_OK(CloseHandle(r.in_wr));
        read_all(r.out_rd, buf, sizeof(buf));
        ck_assert_str_eq(buf, "0 1 0 1\n1 0 0 1\n");
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
}
END_TEST

/* A DuplicateHandle into a child that must fail with err and set *target
 * to NULL (Wine does both). */
static void dup_fails(HANDLE src, HANDLE target_process, DWORD options, DWORD err)
{
        HANDLE t = (HANDLE)(uintptr_t)0x777;
        WT_FAILS(DuplicateHandle(GetCurrentProcess(), src, target_process, &t, 0, FALSE,
                                 options),
                 err);
        ck_assert_ptr_null(t);
}

/* covers: what DuplicateHandle into a child refuses.  Wine 8.0 for the
 * same calls: an event TRUE (it shares events; npipe cannot,
 * ERROR_NOT_SUPPORTED), the thread handle as target 6, a bad source 6, no
 * target pointer TRUE, a child that has ended 5, and with
 * DUPLICATE_CLOSE_SOURCE the source closed (Wine says 6 there; NT's
 * status for a process that is ending is ERROR_ACCESS_DENIED's) */
START_TEST(duplicate_into_refusals)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" block", child_path());
        PROCESS_INFORMATION pi;
        spawn_suspended(cmd, &r, &pi);
        HANDLE rd, wr, ev = w_event(TRUE, FALSE);
        WT_OK(CreatePipe(&rd, &wr, NULL, 0));
        dup_fails(ev, pi.hProcess, DUPLICATE_SAME_ACCESS, ERROR_NOT_SUPPORTED);
        dup_fails(wr, pi.hThread, DUPLICATE_SAME_ACCESS, ERROR_INVALID_HANDLE);
        dup_fails((HANDLE)(uintptr_t)0x1234, pi.hProcess, DUPLICATE_SAME_ACCESS,
                  ERROR_INVALID_HANDLE);
        WT_OK(DuplicateHandle(GetCurrentProcess(), wr, pi.hProcess, NULL, 0, FALSE,
                              DUPLICATE_SAME_ACCESS));
        ck_assert_uint_eq(ResumeThread(pi.hThread), 1);
        WT_OK(CloseHandle(pi.hThread));
        WT_OK(CloseHandle(r.in_wr)); /* it ends */
        ck_assert_uint_eq(WaitForSingleObject(pi.hProcess, W_LONG), WAIT_OBJECT_0);
        dup_fails(wr, pi.hProcess, DUPLICATE_SAME_ACCESS, ERROR_ACCESS_DENIED);
        DWORD fl;
        WT_OK(GetHandleInformation(wr, &fl)); /* still ours */
        dup_fails(wr, pi.hProcess, DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE,
                  ERROR_ACCESS_DENIED);
        WT_FAILS(GetHandleInformation(wr, &fl), ERROR_INVALID_HANDLE);
        WT_OK(CloseHandle(rd));
        WT_OK(CloseHandle(ev));
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(pi.hProcess), 0);
}
END_TEST

/* covers: a child that never takes duplicated handles in (a plain Linux
 * program) holds a bounded number: then DuplicateHandle fails with
 * ERROR_NOT_ENOUGH_QUOTA at once instead of blocking the parent */
START_TEST(duplicate_into_linux_child_bounded)
{
        struct redirect r;
        redirect_make(&r);
        char cmd[] = "/bin/cat";
        HANDLE proc = spawn(cmd, &r, TRUE);
        HANDLE f = CreateFileA("/dev/null", GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        ck_assert_ptr_ne(f, INVALID_HANDLE_VALUE);
        HANDLE t = NULL, last = NULL;
        int n = 0;
        while (n < 100000 &&
               DuplicateHandle(GetCurrentProcess(), f, proc, &t, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
                ck_assert_ptr_ne(t, last); /* every value new */
                last = t;
                n++;
        }
        ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_QUOTA);
        ck_assert_ptr_null(t);
        ck_assert_int_gt(n, 10);
        ck_assert_int_lt(n, 100000);
        WT_OK(CloseHandle(f));
        WT_OK(CloseHandle(r.in_wr));
        char buf[16];
        read_all(r.out_rd, buf, sizeof(buf));
        WT_OK(CloseHandle(r.out_rd));
        ck_assert_uint_eq(wait_exit(proc), 0);
        fprintf(stderr, "a plain child held %d handles\n", n);
}
END_TEST

/* One record on a child's DuplicateHandle channel, as handoff.c writes
 * it ({magic, slot, access, inherit}), with fds[0..nfds) attached and len
 * bytes of it sent. */
static void chan_send(int s, uint32_t magic, uint32_t slot, const int *fds, int nfds, size_t len)
{
        uint32_t rec[4] = {magic, slot, 2 /* WACC_WRITE */, 0};
        struct iovec iov = {rec, len};
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } cm;
        memset(&cm, 0, sizeof(cm));
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds) {
                mh.msg_control = cm.buf;
                mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
                memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
        }
        ck_assert_int_eq(sendmsg(s, &mh, 0), (ssize_t)len);
}

/* covers: the child's side of the DuplicateHandle channel takes in only
 * well-formed records: a wrong magic, a slot outside the parent's range,
 * a short record, one without a descriptor, a slot sent twice are
 * dropped (their descriptors closed), and a good record after them still
 * gives a working handle.  The child is spawned by hand here, with the
 * channel and its standard handles on descriptors we hold. */
START_TEST(dup_channel_hostile_records)
{
        const uint32_t magic = 0x4e504448u, base = 1u << 19;
        int ch[2], in[2], out[2], junk[2], good[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch), 0);
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(junk, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(good, O_CLOEXEC), 0);
        chan_send(ch[0], magic ^ 1, base + 1, &junk[1], 1, 16);  /* wrong magic */
        chan_send(ch[0], magic, 7, &junk[1], 1, 16);             /* the child's own range */
        chan_send(ch[0], magic, base + 2, &junk[1], 1, 8);       /* short */
        chan_send(ch[0], magic, base + 3, NULL, 0, 16);          /* no descriptor */
        chan_send(ch[0], magic, 1u << 20, &junk[1], 1, 16);      /* past the range */
        chan_send(ch[0], magic, base + 4, &good[1], 1, 16);      /* good */
        chan_send(ch[0], magic, base + 4, &junk[1], 1, 16);      /* the same slot again */
        close(junk[1]);
        close(good[1]);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, ch[1], 10);
        char *argv[] = {(char *)child_path(), "dup", NULL};
        char *envp[] = {"NPIPE_WIN32_CHANNEL=10", NULL};
        pid_t pid;
        ck_assert_int_eq(posix_spawn(&pid, child_path(), &fa, NULL, argv, envp), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(in[0]);
        close(out[1]);
        close(ch[1]);
        char line[128];
        snprintf(line, sizeof(line), "%x %x %x %x %x\n", (base + 1) << 2, (base + 2) << 2,
                 (base + 3) << 2, (base + 4) << 2, (base + 5) << 2);
        ck_assert_int_eq(write(in[1], line, strlen(line)), (ssize_t)strlen(line));
        close(in[1]);
        char buf[256];
        size_t got = 0;
        ssize_t n;
        while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
                got += (size_t)n;
        buf[got] = 0;
        /* only the good one is a handle: flags 0, written, closed */
        ck_assert_str_eq(buf, "0 99 6 0\n1 99 6 0\n2 99 6 0\n3 0 0 1\n4 99 6 0\n");
        got = 0;
        while ((n = read(good[0], buf + got, sizeof(buf) - 1 - got)) > 0)
                got += (size_t)n;
        buf[got] = 0;
        ck_assert_str_eq(buf, "via 3");
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        /* every copy of the junk pipe the child was sent is closed */
        ck_assert_int_eq(read(junk[0], buf, sizeof(buf)), 0);
        close(junk[0]);
        close(good[0]);
        close(out[0]);
        close(ch[0]);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-process");
        TCase *tc = tcase_create("process");
        tcase_add_test(tc, redirect_npipe_child);
        tcase_add_test(tc, redirect_linux_child);
        tcase_add_test(tc, child_std_types);
        tcase_add_test(tc, exit_code);
        tcase_add_test(tc, terminate);
        tcase_add_test(tc, inherit_handle_value);
        tcase_add_test(tc, not_inherited);
        tcase_add_test(tc, command_line_quoting);
        tcase_add_test(tc, missing_program);
        tcase_add_test(tc, create_process_w);
        tcase_add_test(tc, suspended_resume);
        tcase_add_test(tc, suspended_terminate);
        tcase_add_test(tc, suspended_close_thread);
        tcase_add_test(tc, suspended_linux_child);
        tcase_add_test(tc, suspended_keeps_no_descriptors);
        tcase_add_test(tc, suspended_bad_directory);
        tcase_add_test(tc, resume_other_threads);
        tcase_add_test(tc, inherit_event_refused);
        tcase_add_test(tc, duplicate_into_suspended);
        tcase_add_test(tc, duplicate_into_running);
        tcase_add_test(tc, duplicate_into_refusals);
        tcase_add_test(tc, duplicate_into_linux_child_bounded);
        tcase_add_test(tc, dup_channel_hostile_records);
        suite_add_tcase(s, tc);
        return h_run(s);
}
