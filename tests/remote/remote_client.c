/*
 * remote_client.c - the client side of remote pipes (issue 14): an npipe
 * program opening \\HOST\pipe\NAME over SMB through the libnpipe-smb
 * module, against the private smbd of remote_test.py, whose pipes are
 * npipe servers (remote_server) reached through the broker's bridge.  So
 * an npipe client and an npipe server talk through real SMB.
 *
 *   remote_client SCENARIO \\HOST\pipe\NAME
 *
 * Credentials, port and options come from the environment (NPIPE_SMB_*,
 * docs/remote.md), as for any program.  Prints one line per step and
 * "PASS" at the end; exit 0 when every step held, 1 otherwise, 2 for bad
 * usage.  Every blocking call has a timeout.
 *
 * Scenarios (the server's --mode in brackets):
 *   echo        [echo] message mode; two writes then two reads, one message
 *               each; a transact; npipe_call; a 65,535-byte message
 *   overflow    [echo] a transact whose reply does not fit: NPIPE_EMOREDATA
 *               with the first bytes, the rest by a read
 *   win32       [echo] CreateFileA, SetNamedPipeHandleState, WriteFile,
 *               ReadFile, TransactNamedPipe, an overlapped ReadFile that
 *               completes with GetOverlappedResult, CallNamedPipeA
 *   handles     [echo, 3 instances] three handles at once, interleaved
 *   server-close [close-after-one] after the echo the server closes: a read
 *               fails, with an error, in bounded time
 *   rpc-bind    [Samba's srvsvc] a DCE/RPC bind by transact and by
 *               write+read, answered by a bind_ack accepting NDR v2
 *   no-leak     [echo] two rounds of open, echo, close leave the same
 *               number of descriptors
 *   drop        [echo] prints "READY PID" and blocks in a read; the test
 *               kills the smbd serving it: NPIPE_ENETLOST, then a new
 *               connection works
 *   expect-ERR  open and expect that status (ENOENT, ELOGON, ENETPATH...)
 */
#include <npipe/npipe.h>
#include <npipe/windows.h>

#include "dcerpc_bind.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T_MS 10000 /* every wait */

static bool ok = true;

static void step(bool cond, const char *fmt, ...)
{
        va_list ap;

        printf("%s - ", cond ? "ok" : "not ok");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
        if (!cond)
                ok = false;
}

static const char *st(int r)
{
        return npipe_err_name(r);
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static npipe_t *open_msg(const char *path)
{
        npipe_t *h = NULL;
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        int r = npipe_open(path, NPIPE_READ | NPIPE_WRITE, T_MS, &h);

        step(r == 0, "open %s: %s", path, st(r));
        if (r < 0)
                return NULL;
        r = npipe_set_mode(h, &m, NULL);
        step(r == 0, "message read mode: %s", st(r));
        return h;
}

static void echo_once(npipe_t *h, const char *msg, const char *what)
{
        char buf[256], want[256];
        size_t n = 0;
        int r = npipe_write_timeout(h, msg, strlen(msg), &n, T_MS);

        step(r == 0 && n == strlen(msg), "%s: write %s: %s, %zu bytes", what, msg, st(r), n);
        r = npipe_read_timeout(h, buf, sizeof buf, &n, T_MS);
        snprintf(want, sizeof want, "echo:%s", msg);
        step(r == 0 && n == strlen(want) && memcmp(buf, want, n) == 0, "%s: read: %s, %.*s", what,
             st(r), (int)n, buf);
}

static void scenario_echo(const char *path)
{
        npipe_t *h = open_msg(path);
        char buf[256];
        size_t n = 0;
        int r;

        if (!h)
                return;
        /* two messages each way, one per read */
        r = npipe_write_timeout(h, "one", 3, &n, T_MS);
        step(r == 0, "write one: %s", st(r));
        r = npipe_write_timeout(h, "two", 3, &n, T_MS);
        step(r == 0, "write two: %s", st(r));
        r = npipe_read_timeout(h, buf, sizeof buf, &n, T_MS);
        step(r == 0 && n == 8 && !memcmp(buf, "echo:one", 8), "read 1: %s %.*s", st(r), (int)n,
             buf);
        r = npipe_read_timeout(h, buf, sizeof buf, &n, T_MS);
        step(r == 0 && n == 8 && !memcmp(buf, "echo:two", 8), "read 2: %s %.*s", st(r), (int)n,
             buf);
        r = npipe_transact(h, "ping", 4, buf, sizeof buf, &n);
        step(r == 0 && n == 9 && !memcmp(buf, "echo:ping", 9), "transact: %s %.*s", st(r), (int)n,
             buf);
        /* the largest message SMB carries */
        {
                size_t big = 65535;
                unsigned char *m = malloc(big);
                char want[64];

                for (size_t i = 0; i < big; i++)
                        m[i] = (unsigned char)(i % 251);
                r = npipe_write_timeout(h, m, big, &n, T_MS);
                step(r == 0 && n == big, "write 65535: %s %zu", st(r), n);
                r = npipe_read_timeout(h, buf, sizeof buf, &n, T_MS);
                snprintf(want, sizeof want, "echo:len=65535,fnv=%08x", fnv1a(m, big));
                step(r == 0 && n == strlen(want) && !memcmp(buf, want, n),
                     "the 65535-byte message arrived whole: %s %.*s", st(r), (int)n, buf);
                free(m);
        }
        struct npipe_info info;
        r = npipe_get_info(h, &info);
        step(r == 0 && info.type == NPIPE_TYPE_MESSAGE && !info.server_end,
             "get_info: %s, type %d, server_end %d", st(r), info.type, info.server_end);
        r = npipe_close(h);
        step(r == 0, "close: %s", st(r));
        r = npipe_call(path, "call", 4, buf, sizeof buf, &n, T_MS);
        step(r == 0 && n == 9 && !memcmp(buf, "echo:call", 9), "npipe_call: %s %.*s", st(r),
             (int)n, buf);
}

static void scenario_overflow(const char *path)
{
        npipe_t *h = open_msg(path);
        char buf[256], msg[100];
        size_t n = 0;
        int r;

        if (!h)
                return;
        memset(msg, 'y', 95);
        r = npipe_transact(h, msg, 95, buf, 16, &n);
        step(r == NPIPE_EMOREDATA && n == 16 && !memcmp(buf, "echo:yyyyyyyyyyy", 16),
             "transact into 16 bytes: %s, %zu bytes", st(r), n);
        r = npipe_read_timeout(h, buf, sizeof buf, &n, T_MS);
        step(r == 0 && n == 95 - 11, "the rest by a read: %s, %zu bytes", st(r), n);
        echo_once(h, "after", "the next message");
        npipe_close(h);
}

static void scenario_handles(const char *path)
{
        npipe_t *h[3] = {0};
        char msg[32];

        for (int i = 0; i < 3; i++)
                h[i] = open_msg(path);
        if (!h[0] || !h[1] || !h[2])
                return;
        for (int round = 0; round < 2; round++)
                for (int i = 2; i >= 0; i--) {
                        snprintf(msg, sizeof msg, "h%d-r%d", i, round);
                        echo_once(h[i], msg, "interleaved");
                }
        for (int i = 0; i < 3; i++)
                step(npipe_close(h[i]) == 0, "close %d", i);
}

static void scenario_server_close(const char *path)
{
        npipe_t *h = open_msg(path);
        char buf[64];
        size_t n = 0;
        int64_t t0;
        int r;

        if (!h)
                return;
        echo_once(h, "bye", "the one message");
        t0 = now_ms();
        r = npipe_read_timeout(h, buf, sizeof buf, &n, T_MS);
        step(r == NPIPE_EPIPE || r == NPIPE_ENOTCONN || r == NPIPE_ECLOSING,
             "read after the server closed: %s in %lld ms", st(r), (long long)(now_ms() - t0));
        r = npipe_write_timeout(h, "late", 4, &n, T_MS);
        step(r < 0, "write after the server closed: %s", st(r));
        step(npipe_close(h) == 0, "close");
}

/* The descriptors this process has open. */
static int count_fds(void)
{
        int n = 0;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;

        if (!d)
                return -1;
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* opendir's own */
}

/* Two rounds of open, echo, close: the second leaves as many descriptors
 * as the first (the connection goes with its last handle, nothing stays
 * behind), and the module's threads let the process exit. */
static void scenario_no_leak(const char *path)
{
        int after[2];

        for (int round = 0; round < 2; round++) {
                npipe_t *h = open_msg(path);
                if (!h)
                        return;
                echo_once(h, "round", "a round");
                step(npipe_close(h) == 0, "close");
                after[round] = count_fds();
        }
        step(after[0] == after[1] && after[0] >= 0, "descriptors after each round: %d, %d",
             after[0], after[1]);
}

/* The connection dropped under a blocked read: the test kills the smbd
 * process serving us once we say READY, and the read ends with
 * NPIPE_ENETLOST (not a hang); the handle then fails the same way, and a
 * new open makes a new connection. */
static void scenario_drop(const char *path)
{
        npipe_t *h = open_msg(path);
        char buf[64];
        size_t n = 0;
        int64_t t0;
        int r;

        if (!h)
                return;
        echo_once(h, "before", "before the drop");
        printf("READY %d\n", (int)getpid());
        fflush(stdout);
        t0 = now_ms();
        r = npipe_read_timeout(h, buf, sizeof buf, &n, 30000);
        step(r == NPIPE_ENETLOST, "the blocked read when the connection drops: %s in %lld ms",
             st(r), (long long)(now_ms() - t0));
        r = npipe_write_timeout(h, "late", 4, &n, T_MS);
        step(r == NPIPE_ENETLOST, "a write on the handle afterwards: %s", st(r));
        step(npipe_close(h) == 0, "close");
        h = open_msg(path);
        if (!h)
                return;
        echo_once(h, "after", "a new connection");
        npipe_close(h);
}

static void CALLBACK nothing(ULONG_PTR p)
{
        (void)p;
}

static void scenario_win32(const char *path)
{
        HANDLE h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                               FILE_FLAG_OVERLAPPED, NULL);
        DWORD mode = PIPE_READMODE_MESSAGE, n = 0, err;
        char buf[128];
        OVERLAPPED ov;
        BOOL b;

        (void)nothing;
        step(h != INVALID_HANDLE_VALUE, "CreateFileA: error %lu", (unsigned long)GetLastError());
        if (h == INVALID_HANDLE_VALUE)
                return;
        b = SetNamedPipeHandleState(h, &mode, NULL, NULL);
        step(b, "SetNamedPipeHandleState: error %lu", (unsigned long)GetLastError());
        b = TransactNamedPipe(h, (void *)"ping", 4, buf, sizeof buf, &n, NULL);
        /* an overlapped handle with no OVERLAPPED: Windows allows it for a
         * call that completes; ours waits */
        step(b && n == 9 && !memcmp(buf, "echo:ping", 9), "TransactNamedPipe: %d error %lu %.*s",
             b, (unsigned long)GetLastError(), (int)n, buf);
        memset(&ov, 0, sizeof ov);
        ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
        b = WriteFile(h, "ovl", 3, &n, &ov);
        err = GetLastError();
        step(b || err == ERROR_IO_PENDING, "overlapped WriteFile: %d error %lu", b,
             (unsigned long)err);
        b = GetOverlappedResult(h, &ov, &n, TRUE);
        step(b && n == 3, "its result: %d, %lu bytes", b, (unsigned long)n);
        memset(&ov, 0, sizeof ov);
        ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
        b = ReadFile(h, buf, sizeof buf, &n, &ov);
        err = GetLastError();
        step(b || err == ERROR_IO_PENDING, "overlapped ReadFile: %d error %lu", b,
             (unsigned long)err);
        step(WaitForSingleObject(ov.hEvent, T_MS) == WAIT_OBJECT_0, "the read's event is set");
        b = GetOverlappedResult(h, &ov, &n, FALSE);
        step(b && n == 8 && !memcmp(buf, "echo:ovl", 8), "its result: %d, %lu bytes %.*s", b,
             (unsigned long)n, (int)n, buf);
        /* through a completion port */
        {
                HANDLE port = CreateIoCompletionPort(h, NULL, 42, 0);
                ULONG_PTR key = 0;
                LPOVERLAPPED got = NULL;

                step(port != NULL, "CreateIoCompletionPort: error %lu",
                     (unsigned long)GetLastError());
                memset(&ov, 0, sizeof ov);
                b = WriteFile(h, "port", 4, &n, &ov);
                err = GetLastError();
                step(b || err == ERROR_IO_PENDING, "WriteFile on the port's handle: %d %lu", b,
                     (unsigned long)err);
                b = GetQueuedCompletionStatus(port, &n, &key, &got, T_MS);
                step(b && key == 42 && got == &ov && n == 4, "the write's packet: %d key %lu %lu",
                     b, (unsigned long)key, (unsigned long)n);
                memset(&ov, 0, sizeof ov);
                b = ReadFile(h, buf, sizeof buf, &n, &ov);
                err = GetLastError();
                step(b || err == ERROR_IO_PENDING, "ReadFile on the port's handle: %d %lu", b,
                     (unsigned long)err);
                b = GetQueuedCompletionStatus(port, &n, &key, &got, T_MS);
                step(b && got == &ov && n == 9 && !memcmp(buf, "echo:port", 9),
                     "the read's packet: %d, %lu bytes %.*s", b, (unsigned long)n, (int)n, buf);
                CloseHandle(port);
        }
        /* a read that pends, cancelled */
        memset(&ov, 0, sizeof ov);
        ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
        b = ReadFile(h, buf, sizeof buf, &n, &ov);
        err = GetLastError();
        step(!b && err == ERROR_IO_PENDING, "a read with nothing to read pends: %d error %lu", b,
             (unsigned long)err);
        b = CancelIoEx(h, &ov);
        step(b, "CancelIoEx: error %lu", (unsigned long)GetLastError());
        b = GetOverlappedResult(h, &ov, &n, TRUE);
        err = GetLastError();
        step(!b && err == ERROR_OPERATION_ABORTED, "it ends cancelled: %d error %lu", b,
             (unsigned long)err);
        CloseHandle(h);
        b = CallNamedPipeA(path, (void *)"call", 4, buf, sizeof buf, &n, 10000);
        step(b && n == 9 && !memcmp(buf, "echo:call", 9), "CallNamedPipeA: %d error %lu", b,
             (unsigned long)GetLastError());
        h = CreateFileA("\\\\127.0.0.1\\pipe\\npipe-no-such-pipe", GENERIC_READ, 0, NULL,
                        OPEN_EXISTING, 0, NULL);
        err = GetLastError();
        step(h == INVALID_HANDLE_VALUE && err == ERROR_FILE_NOT_FOUND,
             "CreateFileA of a pipe that is not there: error %lu", (unsigned long)err);
}

/* Samba's own srvsvc (a server this project did not write): a bind by
 * transact, and by write then read on another handle. */
static void scenario_rpc_bind(const char *path)
{
        unsigned char out[1024];
        size_t n = 0;
        npipe_t *h = open_msg(path);
        int r;

        if (!h)
                return;
        r = npipe_transact(h, bind_pdu, sizeof bind_pdu, out, sizeof out, &n);
        step(r == 0 && !*bind_ack_problem(out, n), "bind by transact: %s, %zu bytes: %s", st(r),
             n, r == 0 ? bind_ack_problem(out, n) : "");
        npipe_close(h);
        h = open_msg(path);
        if (!h)
                return;
        r = npipe_write_timeout(h, bind_pdu, sizeof bind_pdu, &n, T_MS);
        step(r == 0 && n == sizeof bind_pdu, "bind by write: %s", st(r));
        r = npipe_read_timeout(h, out, sizeof out, &n, T_MS);
        step(r == 0 && !*bind_ack_problem(out, n), "bind_ack by read: %s, %zu bytes: %s", st(r),
             n, r == 0 ? bind_ack_problem(out, n) : "");
        npipe_close(h);
}

static int expect_status(const char *want, const char *path)
{
        npipe_t *h = NULL;
        int64_t t0 = now_ms();
        int r = npipe_open(path, NPIPE_READ | NPIPE_WRITE, 5000, &h);

        step(r < 0 && strcmp(st(r), want) == 0, "open %s: %s (expected %s) in %lld ms", path,
             st(r), want, (long long)(now_ms() - t0));
        if (r == 0)
                npipe_close(h);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: remote_client SCENARIO \\\\HOST\\pipe\\NAME\n");
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(argv[1], "echo") == 0)
                scenario_echo(argv[2]);
        else if (strcmp(argv[1], "overflow") == 0)
                scenario_overflow(argv[2]);
        else if (strcmp(argv[1], "handles") == 0)
                scenario_handles(argv[2]);
        else if (strcmp(argv[1], "server-close") == 0)
                scenario_server_close(argv[2]);
        else if (strcmp(argv[1], "win32") == 0)
                scenario_win32(argv[2]);
        else if (strcmp(argv[1], "rpc-bind") == 0)
                scenario_rpc_bind(argv[2]);
        else if (strcmp(argv[1], "no-leak") == 0)
                scenario_no_leak(argv[2]);
        else if (strcmp(argv[1], "drop") == 0)
                scenario_drop(argv[2]);
        else if (strncmp(argv[1], "expect-", 7) == 0)
                expect_status(argv[1] + 7, argv[2]);
        else {
                fprintf(stderr, "remote_client: unknown scenario %s\n", argv[1]);
                return 2;
        }
        if (ok)
                printf("PASS\n");
        return ok ? 0 : 1;
}
