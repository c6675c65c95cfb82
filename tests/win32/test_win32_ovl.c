/*
 * test_win32_ovl.c - overlapped I/O through the Win32 layer (spec OVL,
 * MSG-08, CONNECT-03/04): what a pending, an immediately completed and an
 * immediately failed operation look like, completion routines, and
 * GetOverlappedResult(Ex).
 */
#include "w_test.h"

#include <pthread.h>

/* covers: OVL-01 OVL-02 OVL-03 OVL-09 */
START_TEST(pending_read)
{
        HANDLE srv, cli, ev = w_event(TRUE, TRUE);
        OVERLAPPED ov;
        char buf[32];
        DWORD n = 0xdead;
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&ov, ev);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_IO_PENDING);
        ck_assert_uint_eq(n, 0);
        ck_assert(!W_SIGNALLED(ev));
        ck_assert(!W_SIGNALLED(srv));
        ck_assert_uint_eq(ov.Internal, STATUS_PENDING);
        ck_assert(!HasOverlappedIoCompleted(&ov));
        WT_FAILS(GetOverlappedResult(srv, &ov, &n, FALSE), ERROR_IO_INCOMPLETE);
        w_write(cli, "payload");
        ck_assert_uint_eq(WaitForSingleObject(ev, W_LONG), WAIT_OBJECT_0);
        ck_assert(HasOverlappedIoCompleted(&ov));
        ck_assert_uint_eq(ov.Internal, 0);
        ck_assert_uint_eq(ov.InternalHigh, 7);
        /* OVL-14: with an event, only the event is signalled */
        ck_assert(!W_SIGNALLED(srv));
        n = 0;
        WT_OK(GetOverlappedResult(srv, &ov, &n, FALSE));
        ck_assert_uint_eq(n, 7);
        ck_assert_mem_eq(buf, "payload", 7);
        n = 0;
        WT_OK(GetOverlappedResult(srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, 7);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-04 */
START_TEST(immediate_success)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        char buf[32];
        DWORD n = 0;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_write(cli, "ready");
        w_ov(&ov, ev);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, &ov));
        ck_assert_uint_eq(n, 5);
        ck_assert(W_SIGNALLED(ev));
        ck_assert_uint_eq(ov.Internal, 0);
        ck_assert_uint_eq(ov.InternalHigh, 5);
        ResetEvent(ev);
        n = 0;
        WT_OK(WriteFile(srv, "pong", 4, &n, &ov));
        ck_assert_uint_eq(n, 4);
        ck_assert(W_SIGNALLED(ev));
        WT_OK(GetOverlappedResult(srv, &ov, &n, FALSE));
        ck_assert_uint_eq(n, 4);
        /* without an event the handle is signalled instead (OVL-14) */
        w_ov(&ov, NULL);
        WT_OK(WriteFile(srv, "x", 1, &n, &ov));
        ck_assert(W_SIGNALLED(srv));
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-05 CLOSE-04 CLOSE-05 CONNECT-06 */
START_TEST(immediate_failure)
{
        HANDLE srv, cli, ev = w_event(TRUE, TRUE);
        OVERLAPPED ov;
        char buf[8];
        DWORD n = 0xdead;
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        CloseHandle(cli);
        w_ov(&ov, ev);
        ov.InternalHigh = 0xbeef;
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_BROKEN_PIPE);
        ck_assert_uint_eq(n, 0);
        ck_assert(!W_SIGNALLED(ev));
        ck_assert(!W_SIGNALLED(srv));
        ck_assert_uint_eq(ov.Internal, STATUS_PENDING);
        ck_assert_uint_eq(ov.InternalHigh, 0xbeef);
        SetEvent(ev);
        WT_FAILS(WriteFile(srv, "x", 1, NULL, &ov), ERROR_NO_DATA);
        ck_assert(!W_SIGNALLED(ev));
        SetEvent(ev);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_NO_DATA);
        ck_assert(!W_SIGNALLED(ev));
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-14 OVL-03 */
START_TEST(no_event_signals_handle)
{
        HANDLE srv, cli;
        OVERLAPPED ov;
        char buf[8];
        DWORD n = 0;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        ck_assert(W_SIGNALLED(srv)); /* CREATE-09 */
        w_ov(&ov, NULL);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_IO_PENDING);
        ck_assert(!W_SIGNALLED(srv));
        w_write(cli, "abc");
        ck_assert_uint_eq(WaitForSingleObject(srv, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, 3);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: MSG-08 OVL-15 MSG-02 */
START_TEST(partial_message)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        char buf[32];
        DWORD n = 0xdead;
        /* overlapped handle: ERROR_MORE_DATA at once, count 0, InternalHigh */
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_write(cli, "0123456789");
        w_ov(&ov, ev);
        WT_FAILS(ReadFile(srv, buf, 4, &n, &ov), ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(ov.InternalHigh, 4);
        ck_assert(HasOverlappedIoCompleted(&ov));
        ck_assert_uint_eq(ov.Internal, 0x80000005u);
        ck_assert(W_SIGNALLED(ev));
        n = 0;
        WT_FAILS(GetOverlappedResult(srv, &ov, &n, FALSE), ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 4);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, &ov));
        ck_assert_uint_eq(n, 6);
        CloseHandle(cli);
        CloseHandle(srv);

        /* synchronous handle with an OVERLAPPED: the same, synchronously */
        w_pair(PIPE_TYPE_MESSAGE, 0, 0, 1024, &srv, &cli);
        w_write(cli, "0123456789");
        w_ov(&ov, NULL);
        n = 0xdead;
        WT_FAILS(ReadFile(srv, buf, 1, &n, &ov), ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(ov.InternalHigh, 1);
        /* without an OVERLAPPED the count is direct */
        WT_FAILS(ReadFile(srv, buf, 1, &n, NULL), ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 1);
        w_ov(&ov, NULL);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, &ov));
        ck_assert_uint_eq(n, 8);
        ck_assert_uint_eq(ov.Internal, 0);
        ck_assert_uint_eq(ov.InternalHigh, 8);
        /* an immediate error leaves Internal pending and InternalHigh alone */
        DisconnectNamedPipe(srv);
        w_ov(&ov, NULL);
        ov.InternalHigh = 0xdeadbeef;
        WT_FAILS(ReadFile(srv, buf, 1, &n, &ov), ERROR_PIPE_NOT_CONNECTED);
        ck_assert_uint_eq(ov.Internal, STATUS_PENDING);
        ck_assert_uint_eq(ov.InternalHigh, 0xdeadbeef);
        WT_FAILS(WriteFile(srv, buf, 1, &n, &ov), ERROR_PIPE_NOT_CONNECTED);
        ck_assert_uint_eq(n, 0);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

struct apc_ctx {
        OVERLAPPED ov; /* first: the routine gets &ov back */
        int calls;
        DWORD err, n;
        DWORD tid;
};

static VOID WINAPI apc_routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
        struct apc_ctx *c = (struct apc_ctx *)ov;
        c->calls++;
        c->err = err;
        c->n = n;
        c->tid = GetCurrentThreadId();
}

static void *alertable_sleeper(void *arg)
{
        DWORD *ret = arg;
        /* another thread's alertable wait must not run our routines */
        *ret = SleepEx(200, TRUE);
        return NULL;
}

/* covers: OVL-07 OVL-08 OVL-03 */
START_TEST(completion_routines)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE);
        struct apc_ctx r, w;
        char buf[32];
        DWORD n;
        memset(&r, 0, sizeof(r));
        memset(&w, 0, sizeof(w));
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        WT_OK(ReadFileEx(srv, buf, sizeof(buf), &r.ov, apc_routine));
        w_write(cli, "routine");
        /* not in a non-alertable wait */
        ck_assert_uint_eq(WaitForSingleObject(ev, 100), WAIT_TIMEOUT);
        ck_assert_int_eq(r.calls, 0);
        pthread_t t;
        DWORD other = 0xdead;
        pthread_create(&t, NULL, alertable_sleeper, &other);
        pthread_join(t, NULL);
        ck_assert_uint_eq(other, 0);
        ck_assert_int_eq(r.calls, 0);
        /* the issuing thread's alertable wait runs it */
        ck_assert_uint_eq(SleepEx(W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(r.calls, 1);
        ck_assert_uint_eq(r.err, 0);
        ck_assert_uint_eq(r.n, 7);
        ck_assert_uint_eq(r.tid, GetCurrentThreadId());
        ck_assert_mem_eq(buf, "routine", 7);
        /* an immediate completion queues the routine too, never runs it inside */
        WT_OK(WriteFileEx(srv, "back", 4, &w.ov, apc_routine));
        ck_assert_int_eq(w.calls, 0);
        ck_assert_uint_eq(WaitForSingleObjectEx(ev, W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(w.calls, 1);
        ck_assert_uint_eq(w.n, 4);
        WT_OK(ReadFile(cli, buf, sizeof(buf), &n, NULL));
        /* a signalled object wins over queued routines; they wait for the
         * next alertable wait */
        memset(&w, 0, sizeof(w));
        WT_OK(WriteFileEx(srv, "more", 4, &w.ov, apc_routine));
        SetEvent(ev);
        ck_assert_uint_eq(WaitForSingleObjectEx(ev, 0, TRUE), WAIT_OBJECT_0);
        ck_assert_int_eq(w.calls, 0);
        ck_assert_uint_eq(SleepEx(0, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(w.calls, 1);
        /* OVL-08: a synchronous handle cannot take a completion routine */
        HANDLE s2, c2;
        w_pair(PIPE_TYPE_BYTE, 0, 0, 1024, &s2, &c2);
        WT_FAILS(ReadFileEx(s2, buf, 1, &r.ov, apc_routine), ERROR_INVALID_PARAMETER);
        CloseHandle(c2);
        CloseHandle(s2);
        /* SleepEx without routines: the full time, 0 */
        ck_assert_uint_eq(SleepEx(10, TRUE), 0);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-07 CLOSE-06 */
START_TEST(routine_gets_error)
{
        HANDLE srv, cli;
        struct apc_ctx r;
        char buf[8];
        memset(&r, 0, sizeof(r));
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        WT_OK(ReadFileEx(srv, buf, sizeof(buf), &r.ov, apc_routine));
        CloseHandle(cli);
        ck_assert_uint_eq(SleepEx(W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(r.calls, 1);
        ck_assert_uint_eq(r.err, ERROR_BROKEN_PIPE);
        ck_assert_uint_eq(r.n, 0);
        CloseHandle(srv);
}
END_TEST

struct later {
        HANDLE h, go;
        const char *data;
};

static void *later_writer(void *arg)
{
        struct later *l = arg;
        DWORD n;
        /* evidence that the reader waits: nobody sets `go` */
        WaitForSingleObject(l->go, 200);
        WriteFile(l->h, l->data, (DWORD)strlen(l->data), &n, NULL);
        return NULL;
}

/* covers: OVL-09 OVL-10 */
START_TEST(overlapped_result_waits)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE), go = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        char buf[16];
        DWORD n = 0;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&ov, ev);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_IO_PENDING);
        /* GetOverlappedResultEx: 0 ms, a short timeout, alertable with a routine */
        WT_FAILS(GetOverlappedResultEx(srv, &ov, &n, 0, TRUE), ERROR_IO_INCOMPLETE);
        WT_FAILS(GetOverlappedResultEx(srv, &ov, &n, 10, FALSE), WAIT_TIMEOUT);
        {
                HANDLE s2, c2;
                struct apc_ctx r;
                memset(&r, 0, sizeof(r));
                w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &s2, &c2);
                WT_OK(WriteFileEx(s2, "z", 1, &r.ov, apc_routine));
                WT_FAILS(GetOverlappedResultEx(srv, &ov, &n, W_LONG, TRUE), WAIT_IO_COMPLETION);
                ck_assert_int_eq(r.calls, 1);
                CloseHandle(c2);
                CloseHandle(s2);
        }
        struct later l = {cli, go, "later"};
        pthread_t t;
        pthread_create(&t, NULL, later_writer, &l);
        WT_OK(GetOverlappedResult(srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, 5);
        ck_assert_mem_eq(buf, "later", 5);
        pthread_join(t, NULL);
        /* the event set by hand does not make a pending operation complete */
        w_ov(&ov, ev);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_IO_PENDING);
        SetEvent(ev);
        WT_FAILS(GetOverlappedResult(srv, &ov, &n, FALSE), ERROR_IO_INCOMPLETE);
        pthread_create(&t, NULL, later_writer, &l);
        WT_OK(GetOverlappedResult(srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, 5);
        pthread_join(t, NULL);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
        CloseHandle(go);
}
END_TEST

/* covers: OVL-18 */
START_TEST(read_and_write_at_once)
{
        HANDLE srv, cli, ev1 = w_event(TRUE, FALSE), ev2 = w_event(TRUE, FALSE);
        OVERLAPPED o1, o2;
        char buf[16], in[16];
        DWORD n;
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&o1, ev1);
        w_ov(&o2, ev2);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &o1), ERROR_IO_PENDING);
        BOOL ok = WriteFile(srv, "both ways", 9, &n, &o2);
        ck_assert(ok || GetLastError() == ERROR_IO_PENDING);
        ck_assert_uint_eq(WaitForSingleObject(ev2, W_LONG), WAIT_OBJECT_0);
        ck_assert(!W_SIGNALLED(ev1));
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, 9);
        w_write(cli, "reply");
        ck_assert_uint_eq(WaitForSingleObject(ev1, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &o1, &n, FALSE));
        ck_assert_uint_eq(n, 5);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev1);
        CloseHandle(ev2);
}
END_TEST

/* covers: CONNECT-03 CONNECT-04 OPEN-07 */
START_TEST(overlapped_connect)
{
        W_NAME(name);
        HANDLE ev = w_event(TRUE, TRUE);
        HANDLE srv = w_server(name, FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1024);
        OVERLAPPED ov;
        DWORD n = 0xdead;
        w_ov(&ov, ev);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_IO_PENDING);
        ck_assert(!W_SIGNALLED(ev));
        ck_assert(!W_SIGNALLED(srv));
        HANDLE cli = w_client(name, 0);
        ck_assert_uint_eq(WaitForSingleObject(ev, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &ov, &n, FALSE));
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(ov.Internal, 0);
        /* already connected: ERROR_PIPE_CONNECTED, Internal untouched, event reset */
        w_ov(&ov, ev);
        SetEvent(ev);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_PIPE_CONNECTED);
        ck_assert(!W_SIGNALLED(ev));
        ck_assert_uint_eq(ov.Internal, STATUS_PENDING);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-06 */
START_TEST(bad_handles)
{
        HANDLE srv, cli, ev = w_event(TRUE, TRUE);
        OVERLAPPED ov;
        char buf[4];
        DWORD n;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        CloseHandle(cli);
        w_ov(&ov, ev);
        /* a closed file handle: ERROR_INVALID_HANDLE and the event untouched */
        WT_FAILS(ReadFile(cli, buf, sizeof(buf), &n, &ov), ERROR_INVALID_HANDLE);
        ck_assert(W_SIGNALLED(ev));
        WT_FAILS(WriteFile(NULL, buf, 1, &n, NULL), ERROR_INVALID_HANDLE);
        WT_FAILS(ReadFile(INVALID_HANDLE_VALUE, buf, 1, &n, NULL), ERROR_INVALID_HANDLE);
        /* an event handle is not a pipe */
        WT_FAILS(ReadFile(ev, buf, 1, &n, NULL), ERROR_INVALID_HANDLE);
        /* a bad event handle in the OVERLAPPED */
        w_ov(&ov, (HANDLE)(uintptr_t)0x7fff0000);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_INVALID_HANDLE);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-05 */
START_TEST(bad_event_writes_nothing)
{
        /* The OVERLAPPED's event is looked up before the I/O starts: a
         * handle that is not an event, or one closed already, fails the
         * call with ERROR_INVALID_HANDLE and nothing is queued, read or
         * signalled (the call of the fast path io_ovl_rw as of the others) */
        HANDLE srv, cli, gone = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        char buf[8];
        DWORD n = 0xdead, avail = 0xdead;
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&ov, cli); /* a pipe handle */
        WT_FAILS(WriteFile(srv, "abc", 3, &n, &ov), ERROR_INVALID_HANDLE);
        ck_assert_uint_eq(n, 0);
        WT_OK(PeekNamedPipe(cli, NULL, 0, NULL, &avail, NULL));
        ck_assert_uint_eq(avail, 0);
        CloseHandle(gone);
        w_ov(&ov, gone); /* closed */
        WT_FAILS(WriteFile(srv, "abc", 3, &n, &ov), ERROR_INVALID_HANDLE);
        WT_OK(PeekNamedPipe(cli, NULL, 0, NULL, &avail, NULL));
        ck_assert_uint_eq(avail, 0);
        /* and a read takes nothing */
        w_write(cli, "xy");
        w_ov(&ov, cli);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_INVALID_HANDLE);
        WT_OK(PeekNamedPipe(srv, NULL, 0, NULL, &avail, NULL));
        ck_assert_uint_eq(avail, 2);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-ovl");
        TCase *tc = h_tcase("ovl", 60);
        tcase_add_test(tc, pending_read);
        tcase_add_test(tc, immediate_success);
        tcase_add_test(tc, immediate_failure);
        tcase_add_test(tc, no_event_signals_handle);
        tcase_add_test(tc, partial_message);
        tcase_add_test(tc, completion_routines);
        tcase_add_test(tc, routine_gets_error);
        tcase_add_test(tc, overlapped_result_waits);
        tcase_add_test(tc, read_and_write_at_once);
        tcase_add_test(tc, overlapped_connect);
        tcase_add_test(tc, bad_handles);
        tcase_add_test(tc, bad_event_writes_nothing);
        suite_add_tcase(s, tc);
        return h_run(s);
}
