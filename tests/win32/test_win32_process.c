/*
 * test_win32_process.c - CreateProcess with redirected standard handles,
 * handle inheritance, process handles (waits, exit codes,
 * TerminateProcess) and Windows command-line quoting, across real
 * processes: the children are w32_child (an npipe Win32 program) and
 * /bin/cat (a plain Linux program).
 */
#include "w_test.h"

#include <stdio.h>
#include <stdlib.h>

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

/* covers: bInheritHandle, inherited handles keep their value in the child */
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
        suite_add_tcase(s, tc);
        return h_run(s);
}
