/*
 * test_win32_complete.c - when overlapped I/O completes (spec OVL-20,
 * OVL-21; issue 18).
 *
 * NT completes a pending operation inside the call that satisfies it: once
 * WriteFile returns, the peer's pending read has its OVERLAPPED filled,
 * its event set, its packet posted and its APC queued.  Every check here
 * looks at the state right after the call (a wait of 0 ms,
 * GetOverlappedResult without waiting), as Wine's tests do: a test that
 * waited with a timeout could not tell "completed inside the call" from
 * "completed soon after".  Both ends are in this process, where npipe
 * completes inline (docs/design.md, "Completion").
 *
 * The last tests try to break the rule that nothing is written into the
 * caller's memory after CancelIoEx or CloseHandle returned for an
 * operation: each OVERLAPPED is a heap block freed right after the call,
 * while another thread keeps writing into the pipe; AddressSanitizer
 * (make check-asan) reports a late write as a use after free.
 */
#include "w_test.h"

#include <pthread.h>
#include <stdlib.h>

static void pending_read(HANDLE h, char *buf, DWORD len, OVERLAPPED *ov)
{
        WT_FAILS(ReadFile(h, buf, len, NULL, ov), ERROR_IO_PENDING);
}

/* covers: OVL-20 (a write completes the peer's pending read before it returns) */
START_TEST(write_completes_pending_read)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        char buf[16];
        DWORD n = 0;

        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, FILE_FLAG_OVERLAPPED, 1024, &srv, &cli);
        w_ov(&ov, ev);
        pending_read(srv, buf, sizeof buf, &ov);
        ck_assert(!W_SIGNALLED(ev));
        WT_OK(WriteFile(cli, "hello", 5, &n, &(OVERLAPPED){0}));
        /* no wait: the read is complete now */
        ck_assert(W_SIGNALLED(ev));
        ck_assert_uint_eq((DWORD)ov.Internal, 0);
        ck_assert_uint_eq(ov.InternalHigh, 5);
        WT_OK(GetOverlappedResult(srv, &ov, &n, FALSE));
        ck_assert_uint_eq(n, 5);
        ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
        CloseHandle(ev);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: OVL-20 (the packet is posted to the port inside the write) */
START_TEST(write_posts_packet_at_once)
{
        HANDLE srv, cli, port;
        OVERLAPPED ov, *got = NULL;
        char buf[16];
        DWORD n = 0;
        ULONG_PTR key = 0;

        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        port = CreateIoCompletionPort(srv, NULL, 77, 0);
        ck_assert_ptr_nonnull(port);
        w_ov(&ov, NULL);
        pending_read(srv, buf, sizeof buf, &ov);
        WT_FAILS(GetQueuedCompletionStatus(port, &n, &key, &got, 0), WAIT_TIMEOUT);
        WT_OK(WriteFile(cli, "abc", 3, &n, NULL));
        WT_OK(GetQueuedCompletionStatus(port, &n, &key, &got, 0));
        ck_assert_ptr_eq(got, &ov);
        ck_assert_uint_eq(key, 77);
        ck_assert_uint_eq(n, 3);
        CloseHandle(port);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

static int apc_ran;
static DWORD apc_bytes;
static void WINAPI read_done(DWORD err, DWORD bytes, LPOVERLAPPED ov)
{
        (void)ov;
        apc_ran = err == 0 ? 1 : -1;
        apc_bytes = bytes;
}

/* covers: OVL-20 (the completion routine is queued inside the write) */
START_TEST(write_queues_apc_at_once)
{
        HANDLE srv, cli;
        OVERLAPPED ov;
        char buf[16];
        DWORD n = 0;

        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&ov, NULL);
        WT_OK(ReadFileEx(srv, buf, sizeof buf, &ov, read_done));
        ck_assert_uint_eq(SleepEx(0, TRUE), 0); /* nothing queued yet */
        WT_OK(WriteFile(cli, "xy", 2, &n, NULL));
        ck_assert_uint_eq(SleepEx(0, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(apc_ran, 1);
        ck_assert_uint_eq(apc_bytes, 2);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: OVL-20 OVL-21 (a read that drains a pending write over the
 * quota completes that write before it returns; that read itself
 * completes at once) */
START_TEST(read_completes_pending_write)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE), rev = w_event(TRUE, FALSE);
        OVERLAPPED ov, rov;
        static char big[4096], out[4096];
        DWORD n = 0;

        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, FILE_FLAG_OVERLAPPED, 1024, &srv, &cli);
        w_ov(&ov, ev);
        WT_FAILS(WriteFile(cli, big, sizeof big, NULL, &ov), ERROR_IO_PENDING);
        ck_assert(!W_SIGNALLED(ev));
        w_ov(&rov, rev);
        /* data of a write still pending over the quota: no ERROR_IO_PENDING */
        WT_OK(ReadFile(srv, out, sizeof out, &n, &rov));
        ck_assert_uint_eq(n, sizeof out);
        ck_assert(W_SIGNALLED(rev));
        ck_assert(W_SIGNALLED(ev));
        WT_OK(GetOverlappedResult(cli, &ov, &n, FALSE));
        ck_assert_uint_eq(n, sizeof big);
        CloseHandle(ev);
        CloseHandle(rev);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: OVL-20 (the client's CreateFile completes the pending
 * ConnectNamedPipe before it returns) */
START_TEST(createfile_completes_pending_connect)
{
        W_NAME(name);
        HANDLE srv = w_server(name, FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1024), cli;
        HANDLE ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        DWORD n;

        w_ov(&ov, ev);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_IO_PENDING);
        ck_assert(!W_SIGNALLED(ev));
        cli = w_client(name, 0);
        ck_assert(W_SIGNALLED(ev));
        WT_OK(GetOverlappedResult(srv, &ov, &n, FALSE));
        CloseHandle(ev);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: OVL-20, CLOSE-06 (closing one end fails the other's pending read
 * before CloseHandle returns) */
START_TEST(close_completes_pending_read)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        char buf[8];
        DWORD n;

        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&ov, ev);
        pending_read(srv, buf, sizeof buf, &ov);
        CloseHandle(cli);
        ck_assert(W_SIGNALLED(ev));
        WT_FAILS(GetOverlappedResult(srv, &ov, &n, FALSE), ERROR_BROKEN_PIPE);
        CloseHandle(ev);
        CloseHandle(srv);
}
END_TEST

/* ---- nothing written after the caller was told it is over --------------------------------- */

struct feeder {
        HANDLE h;
        _Atomic int stop;
};

static void *feed(void *arg)
{
        struct feeder *f = arg;
        DWORD n;

        while (!f->stop)
                if (!WriteFile(f->h, "z", 1, &n, NULL))
                        break;
        return NULL;
}

/* covers: CANCEL-01, issue 18 (no write into a freed OVERLAPPED after
 * CancelIoEx returned, while another thread completes reads) */
START_TEST(no_write_after_cancel)
{
        HANDLE srv, cli;
        struct feeder f = {0};
        pthread_t t;
        int completed = 0, cancelled = 0;

        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 65536, &srv, &cli);
        f.h = cli;
        ck_assert_int_eq(pthread_create(&t, NULL, feed, &f), 0);
        for (int i = 0; i < 2000; i++) {
                OVERLAPPED *ov = calloc(1, sizeof(*ov));
                char *buf = malloc(64);
                DWORD n;

                ck_assert_ptr_nonnull(ov);
                if (ReadFile(srv, buf, 64, &n, ov)) {
                        completed++;
                } else {
                        ck_assert_uint_eq(GetLastError(), ERROR_IO_PENDING);
                        if (CancelIoEx(srv, ov))
                                cancelled++;
                        else
                                ck_assert_uint_eq(GetLastError(), ERROR_NOT_FOUND);
                        /* either way the operation is over now */
                        ck_assert_uint_ne((DWORD)ov->Internal, STATUS_PENDING);
                }
                free(ov);
                free(buf);
        }
        f.stop = 1;
        CloseHandle(srv); /* ends the feeder's blocked write, if any */
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        CloseHandle(cli);
        ck_assert_int_gt(completed + cancelled, 0);
}
END_TEST

/* covers: CLOSE-11, issue 18 (no write into a freed OVERLAPPED after
 * CloseHandle returned) */
START_TEST(no_write_after_close)
{
        for (int i = 0; i < 200; i++) {
                HANDLE srv, cli;
                struct feeder f = {0};
                pthread_t t;
                OVERLAPPED *ov = calloc(1, sizeof(*ov));
                char *buf = malloc(64);
                DWORD n;

                w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 65536, &srv, &cli);
                f.h = cli;
                ck_assert_int_eq(pthread_create(&t, NULL, feed, &f), 0);
                if (!ReadFile(srv, buf, 64, &n, ov))
                        ck_assert_uint_eq(GetLastError(), ERROR_IO_PENDING);
                CloseHandle(srv);
                ck_assert_uint_ne((DWORD)ov->Internal, STATUS_PENDING);
                free(ov);
                free(buf);
                f.stop = 1;
                ck_assert_int_eq(pthread_join(t, NULL), 0);
                CloseHandle(cli);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-complete");
        TCase *tc = h_tcase("complete", 60);
        tcase_add_test(tc, write_completes_pending_read);
        tcase_add_test(tc, write_posts_packet_at_once);
        tcase_add_test(tc, write_queues_apc_at_once);
        tcase_add_test(tc, read_completes_pending_write);
        tcase_add_test(tc, createfile_completes_pending_connect);
        tcase_add_test(tc, close_completes_pending_read);
        tcase_add_test(tc, no_write_after_cancel);
        tcase_add_test(tc, no_write_after_close);
        suite_add_tcase(s, tc);
        return h_run(s);
}
