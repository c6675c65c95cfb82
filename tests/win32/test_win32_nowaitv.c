/*
 * test_win32_nowaitv.c - the async engine without futex_waitv (issue 12,
 * defect 2): under a seccomp filter that refuses it (as older container
 * profiles do; a kernel before 5.16 and qemu-user give ENOSYS the same
 * way) overlapped operations still complete when a peer in another
 * process satisfies them, and a pending operation costs almost no CPU
 * while it waits (the engine used to spin on the failing call).
 */
#include "w_test.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

/* futex_waitv fails with ENOSYS in this process and its children. */
static int deny_futex_waitv(void)
{
#ifdef ARCH
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex_waitv, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
                return -1;
        return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
#else
        return -1;
#endif
}

static int64_t cpu_ns(void)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
               (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

struct names {
        char a[128], b[128];
};

/* The peer: opens both pipes, waits for the go byte, writes to each. */
static int writer(int chan, void *arg)
{
        struct names *n = arg;
        HANDLE a = CreateFileA(n->a, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        HANDLE b = CreateFileA(n->b, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (a == INVALID_HANDLE_VALUE || b == INVALID_HANDLE_VALUE)
                return 1;
        char go;
        if (write(chan, "o", 1) != 1 || read(chan, &go, 1) != 1)
                return 2;
        DWORD w;
        if (!WriteFile(a, "one", 3, &w, NULL))
                return 3;
        if (read(chan, &go, 1) != 1)
                return 4;
        if (!WriteFile(b, "two", 3, &w, NULL))
                return 5;
        if (read(chan, &go, 1) != 1) /* until the parent has read */
                return 6;
        CloseHandle(a);
        CloseHandle(b);
        return 0;
}

/* The server end has seen its client (the connect completes). */
static void connected(HANDLE srv, HANDLE ev)
{
        OVERLAPPED ov;
        w_ov(&ov, ev);
        if (ConnectNamedPipe(srv, &ov))
                return;
        if (GetLastError() == ERROR_PIPE_CONNECTED)
                return;
        ck_assert_uint_eq(GetLastError(), ERROR_IO_PENDING);
        ck_assert_uint_eq(WaitForSingleObject(ev, W_LONG), WAIT_OBJECT_0);
        DWORD n;
        WT_OK(GetOverlappedResult(srv, &ov, &n, FALSE));
}

START_TEST(overlapped_without_futex_waitv)
{
        if (deny_futex_waitv() != 0) {
                fprintf(stderr, "overlapped_without_futex_waitv: skipped (no seccomp: %s)\n",
                        strerror(errno));
                return;
        }
        errno = 0;
        ck_assert_int_eq(syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0), -1);
        ck_assert_int_eq(errno, ENOSYS);

        struct names n;
        h_name(n.a, sizeof(n.a), "nowaitv-a");
        h_name(n.b, sizeof(n.b), "nowaitv-b");
        HANDLE a = w_server(n.a, FILE_FLAG_OVERLAPPED, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                            4096);
        HANDLE b = w_server(n.b, FILE_FLAG_OVERLAPPED, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                            4096);
        struct h_child ch;
        h_spawn(&ch, writer, &n);
        char c;
        ck_assert_int_eq(read(ch.chan, &c, 1), 1); /* both opened */

        HANDLE ea = w_event(TRUE, FALSE), eb = w_event(TRUE, FALSE);
        OVERLAPPED oa, ob;
        connected(a, ea);
        connected(b, eb);
        char ba[8], bb[8];
        w_ov(&oa, ea);
        w_ov(&ob, eb);
        WT_FAILS(ReadFile(a, ba, sizeof(ba), NULL, &oa), ERROR_IO_PENDING);
        WT_FAILS(ReadFile(b, bb, sizeof(bb), NULL, &ob), ERROR_IO_PENDING);
        /* GetOverlappedResultEx completes in the waiting thread where it
         * can (np_async_help); without futex_waitv it waits the usual way,
         * and its timeout still ends it (it used to spin past it) */
        DWORD none = 7;
        WT_FAILS(GetOverlappedResultEx(a, &oa, &none, 50, FALSE), WAIT_TIMEOUT);
        WT_FAILS(GetOverlappedResultEx(b, &ob, &none, 50, FALSE), WAIT_TIMEOUT);

        /* two operations pending and nothing happening: the engine sleeps
         * (a spinning thread would use all of the 400 ms) */
        int64_t cpu0 = cpu_ns();
        ck_assert_uint_eq(WaitForSingleObject(ea, 400), WAIT_TIMEOUT);
        int64_t used = cpu_ns() - cpu0;
        ck_assert_msg(used < 100000000, "idle with two reads pending: %lld ms of CPU",
                      (long long)(used / 1000000));

        /* the peer's writes complete them */
        ck_assert_int_eq(write(ch.chan, "g", 1), 1);
        ck_assert_uint_eq(WaitForSingleObject(ea, W_LONG), WAIT_OBJECT_0);
        DWORD got = 0;
        WT_OK(GetOverlappedResult(a, &oa, &got, FALSE));
        ck_assert_uint_eq(got, 3);
        ck_assert(memcmp(ba, "one", 3) == 0);

        /* one operation pending: the engine sleeps on its word */
        cpu0 = cpu_ns();
        ck_assert_uint_eq(WaitForSingleObject(eb, 400), WAIT_TIMEOUT);
        used = cpu_ns() - cpu0;
        ck_assert_msg(used < 100000000, "idle with one read pending: %lld ms of CPU",
                      (long long)(used / 1000000));
        ck_assert_int_eq(write(ch.chan, "g", 1), 1);
        ck_assert_uint_eq(WaitForSingleObject(eb, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(b, &ob, &got, FALSE));
        ck_assert_uint_eq(got, 3);
        ck_assert(memcmp(bb, "two", 3) == 0);
        ck_assert_int_eq(write(ch.chan, "g", 1), 1);
        H_ASSERT_CHILD_OK(&ch);
        CloseHandle(ea);
        CloseHandle(eb);
        CloseHandle(a);
        CloseHandle(b);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-nowaitv");
        TCase *tc = h_tcase("nowaitv", 60);
        tcase_add_test(tc, overlapped_without_futex_waitv);
        suite_add_tcase(s, tc);
        return h_run(s);
}
