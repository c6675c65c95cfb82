/*
 * test_win32_notify.c - SetFileCompletionNotificationModes (spec OVL-12,
 * OVL-13), QueueUserAPC and alertable waits (OVL-10, OVL-19, CONNECT-09),
 * CancelSynchronousIo (CANCEL-05, CONNECT-10) of connects, reads, writes,
 * transactions and flushes.
 */
#include "w_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static HANDLE new_port(void)
{
        HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
        ck_assert_msg(port != NULL, "CreateIoCompletionPort: %lu", (unsigned long)GetLastError());
        return port;
}

/* No packet within a short while. */
static void no_packet(HANDLE port)
{
        DWORD n;
        ULONG_PTR key;
        OVERLAPPED *o = (OVERLAPPED *)1;
        WT_FAILS(GetQueuedCompletionStatus(port, &n, &key, &o, 50), WAIT_TIMEOUT);
        ck_assert_ptr_null(o);
}

/* covers: OVL-12 */
START_TEST(skip_port_on_success)
{
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, FILE_FLAG_OVERLAPPED, 4096, &srv, &cli);
        HANDLE port = new_port();
        ck_assert_ptr_eq(CreateIoCompletionPort(srv, port, 7, 0), port);
        WT_FAILS(SetFileCompletionNotificationModes(srv, 0x80), ERROR_INVALID_PARAMETER);
        WT_FAILS(SetFileCompletionNotificationModes(port, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
                 ERROR_INVALID_HANDLE);
        WT_OK(SetFileCompletionNotificationModes(srv, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));

        /* a write that completes at once: TRUE, the event is set, no packet */
        HANDLE ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        w_ov(&ov, ev);
        DWORD n = 0;
        WT_OK(WriteFile(srv, "hello", 5, &n, &ov));
        ck_assert_uint_eq(n, 5);
        ck_assert(W_SIGNALLED(ev));
        no_packet(port);

        /* a read that completes at once in full: no packet either */
        char buf[16];
        w_write(cli, "abc");
        w_ov(&ov, ev);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, &ov));
        ck_assert_uint_eq(n, 3);
        no_packet(port);

        /* a partial message read at once: the Windows 8+ behaviour, pending
         * and a packet with ERROR_MORE_DATA and the count */
        w_write(cli, "0123456789");
        w_ov(&ov, ev);
        n = 99;
        WT_FAILS(ReadFile(srv, buf, 4, &n, &ov), ERROR_IO_PENDING);
        ck_assert_uint_eq(n, 0);
        ULONG_PTR key = 0;
        OVERLAPPED *o = NULL;
        WT_FAILS(GetQueuedCompletionStatus(port, &n, &key, &o, W_LONG),
                 ERROR_MORE_DATA);
        ck_assert_ptr_eq(o, &ov);
        ck_assert_uint_eq(key, 7);
        ck_assert_uint_eq(n, 4);
        WT_FAILS(GetOverlappedResult(srv, &ov, &n, FALSE), ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 4);

        /* an operation that pends still posts its packet */
        w_ov(&ov, ev);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, &ov)); /* the rest: 6 bytes at once */
        ck_assert_uint_eq(n, 6);
        w_ov(&ov, ev);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_IO_PENDING);
        w_write(cli, "xy");
        WT_OK(GetQueuedCompletionStatus(port, &n, &key, &o, W_LONG));
        ck_assert_ptr_eq(o, &ov);
        ck_assert_uint_eq(n, 2);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(port);
        CloseHandle(ev);
}
END_TEST

/* covers: OVL-13 */
START_TEST(skip_set_event_on_handle)
{
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, FILE_FLAG_OVERLAPPED, 4096, &srv, &cli);
        HANDLE port = new_port();
        ck_assert_ptr_eq(CreateIoCompletionPort(srv, port, 3, 0), port);
        WT_OK(SetFileCompletionNotificationModes(srv, FILE_SKIP_SET_EVENT_ON_HANDLE));
        char buf[8];
        OVERLAPPED ov;
        w_ov(&ov, NULL);
        DWORD n;
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_IO_PENDING);
        ck_assert(!W_SIGNALLED(srv));
        w_write(cli, "q");
        ULONG_PTR key = 0;
        OVERLAPPED *o = NULL;
        WT_OK(GetQueuedCompletionStatus(port, &n, &key, &o, W_LONG));
        ck_assert_ptr_eq(o, &ov);
        ck_assert_uint_eq(key, 3);
        ck_assert_uint_eq(n, 1);
        /* completed, packet posted, the handle not signalled */
        ck_assert(!W_SIGNALLED(srv));
        /* a completion at once does not signal it either */
        w_ov(&ov, NULL);
        WT_OK(WriteFile(srv, "z", 1, &n, &ov));
        ck_assert(!W_SIGNALLED(srv));
        WT_OK(GetQueuedCompletionStatus(port, &n, &key, &o, W_LONG));
        ck_assert_ptr_eq(o, &ov);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(port);
}
END_TEST

static _Atomic int apc_runs;
static _Atomic ULONG_PTR apc_data;
static _Atomic DWORD apc_tid;

static VOID WINAPI apc(ULONG_PTR data)
{
        atomic_fetch_add(&apc_runs, 1);
        atomic_store(&apc_data, data);
        atomic_store(&apc_tid, GetCurrentThreadId());
}

/* covers: OVL-10 */
START_TEST(user_apc_self)
{
        HANDLE ev = w_event(TRUE, FALSE);
        WT_FAILS(QueueUserAPC(apc, (HANDLE)(ULONG_PTR)0x1234, 0), ERROR_INVALID_HANDLE);
        WT_FAILS(QueueUserAPC(apc, ev, 0), ERROR_INVALID_HANDLE);
        ck_assert(QueueUserAPC(apc, GetCurrentThread(), 42));
        /* the pseudo-handle is not a real handle */
        WT_FAILS(CloseHandle(GetCurrentThread()), ERROR_INVALID_HANDLE);
        ck_assert_uint_eq(WaitForSingleObject(GetCurrentThread(), 0), WAIT_FAILED);
        /* non-alertable waits never run it */
        ck_assert_uint_eq(WaitForSingleObjectEx(ev, 10, FALSE), WAIT_TIMEOUT);
        ck_assert_uint_eq(SleepEx(10, FALSE), 0);
        ck_assert_int_eq(atomic_load(&apc_runs), 0);
        ck_assert_uint_eq(WaitForSingleObjectEx(ev, W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(atomic_load(&apc_runs), 1);
        ck_assert_uint_eq(atomic_load(&apc_data), 42);
        /* each alertable wait: SleepEx, WaitForMultipleObjectsEx, the port */
        ck_assert(QueueUserAPC(apc, GetCurrentThread(), 1));
        ck_assert_uint_eq(SleepEx(W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert(QueueUserAPC(apc, GetCurrentThread(), 2));
        ck_assert_uint_eq(WaitForMultipleObjectsEx(1, &ev, FALSE, W_LONG, TRUE),
                          WAIT_IO_COMPLETION);
        HANDLE port = new_port();
        OVERLAPPED_ENTRY e;
        ULONG got = 99;
        ck_assert(QueueUserAPC(apc, GetCurrentThread(), 3));
        WT_FAILS(GetQueuedCompletionStatusEx(port, &e, 1, &got, W_LONG, TRUE),
                 WAIT_IO_COMPLETION);
        ck_assert_int_eq(atomic_load(&apc_runs), 4);

        /* GetOverlappedResultEx (OVL-10) */
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 4096, &srv, &cli);
        char buf[4];
        OVERLAPPED ov;
        w_ov(&ov, ev);
        DWORD n;
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, &ov), ERROR_IO_PENDING);
        ck_assert(QueueUserAPC(apc, GetCurrentThread(), 5));
        WT_FAILS(GetOverlappedResultEx(srv, &ov, &n, 0, TRUE), ERROR_IO_INCOMPLETE);
        WT_FAILS(GetOverlappedResultEx(srv, &ov, &n, 10, FALSE), WAIT_TIMEOUT);
        ck_assert_int_eq(atomic_load(&apc_runs), 4);
        WT_FAILS(GetOverlappedResultEx(srv, &ov, &n, W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(atomic_load(&apc_runs), 5);
        ck_assert_uint_eq(atomic_load(&apc_data), 5);
        w_write(cli, "k");
        WT_OK(GetOverlappedResultEx(srv, &ov, &n, W_LONG, TRUE));
        ck_assert_uint_eq(n, 1);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(port);
        CloseHandle(ev);
}
END_TEST

static DWORD WINAPI alertable_sleeper(LPVOID arg)
{
        (void)arg;
        return SleepEx(INFINITE, TRUE);
}

/* covers: OVL-10 */
START_TEST(user_apc_other_thread)
{
        DWORD tid = 0;
        HANDLE th = CreateThread(NULL, 0, alertable_sleeper, NULL, 0, &tid);
        ck_assert_ptr_nonnull(th);
        ck_assert(QueueUserAPC(apc, th, 9));
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        DWORD code = 0;
        WT_OK(GetExitCodeThread(th, &code));
        ck_assert_uint_eq(code, WAIT_IO_COMPLETION);
        ck_assert_int_eq(atomic_load(&apc_runs), 1);
        ck_assert_uint_eq(atomic_load(&apc_data), 9);
        ck_assert_uint_eq(atomic_load(&apc_tid), tid);
        CloseHandle(th);
}
END_TEST

struct connector {
        HANDLE srv;
        BOOL ok;
        DWORD err;
        int runs_at_return; /* APCs run by the time ConnectNamedPipe returned */
        DWORD after;        /* the alertable wait after it */
};

static DWORD WINAPI sync_connect(LPVOID arg)
{
        struct connector *c = arg;
        SetLastError(0);
        c->ok = ConnectNamedPipe(c->srv, NULL);
        c->err = c->ok ? 0 : GetLastError();
        c->runs_at_return = atomic_load(&apc_runs);
        c->after = SleepEx(0, TRUE);
        return 0;
}

/* covers: OVL-19 CONNECT-09 */
START_TEST(no_apc_in_sync_connect)
{
        W_NAME(name);
        struct connector c = {0};
        c.srv = w_server(name, 0, PIPE_TYPE_BYTE, 4096);
        HANDLE th = CreateThread(NULL, 0, sync_connect, &c, 0, NULL);
        ck_assert_ptr_nonnull(th);
        /* the call has started once the handle is unsignalled (CONNECT-09) */
        for (int i = 0; i < W_LONG && W_SIGNALLED(c.srv); i++)
                Sleep(1);
        ck_assert(!W_SIGNALLED(c.srv));
        ck_assert(QueueUserAPC(apc, th, 77));
        Sleep(50);
        ck_assert_int_eq(atomic_load(&apc_runs), 0);
        HANDLE cli = w_client(name, 0);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert_msg(c.ok, "ConnectNamedPipe: %lu", (unsigned long)c.err);
        ck_assert_int_eq(c.runs_at_return, 0);
        ck_assert_uint_eq(c.after, WAIT_IO_COMPLETION);
        ck_assert_int_eq(atomic_load(&apc_runs), 1);
        CloseHandle(th);
        CloseHandle(cli);
        CloseHandle(c.srv);
}
END_TEST

/* covers: CANCEL-05 CONNECT-10 */
START_TEST(cancel_synchronous_connect)
{
        W_NAME(name);
        WT_FAILS(CancelSynchronousIo((HANDLE)(ULONG_PTR)0x1234), ERROR_INVALID_HANDLE);
        WT_FAILS(CancelSynchronousIo(GetCurrentThread()), ERROR_NOT_FOUND);
        struct connector c = {0};
        c.srv = w_server(name, 0, PIPE_TYPE_BYTE, 4096);
        HANDLE th = CreateThread(NULL, 0, sync_connect, &c, 0, NULL);
        ck_assert_ptr_nonnull(th);
        /* retried until the thread is inside the call */
        BOOL ok = FALSE;
        for (int i = 0; i < W_LONG && !ok; i++) {
                SetLastError(0x1234);
                ok = CancelSynchronousIo(th);
                if (!ok) {
                        ck_assert_uint_eq(GetLastError(), ERROR_NOT_FOUND);
                        Sleep(1);
                }
        }
        ck_assert(ok);
        ck_assert_uint_eq(GetLastError(), 0x1234); /* left alone */
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert(!c.ok);
        ck_assert_uint_eq(c.err, ERROR_OPERATION_ABORTED);
        /* nothing in progress any more */
        WT_FAILS(CancelSynchronousIo(th), ERROR_NOT_FOUND);
        CloseHandle(th);
        /* the instance still listens for a new connect */
        c.ok = FALSE;
        th = CreateThread(NULL, 0, sync_connect, &c, 0, NULL);
        HANDLE cli = w_client(name, 0);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert(c.ok || c.err == ERROR_PIPE_CONNECTED);
        w_write(cli, "hi");
        char buf[4];
        DWORD n = 0;
        WT_OK(ReadFile(c.srv, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 2);
        CloseHandle(th);
        CloseHandle(cli);
        CloseHandle(c.srv);
}
END_TEST

/* A synchronous call in another thread, for CancelSynchronousIo. */
enum sync_kind { S_READ, S_WRITE, S_TRANSACT, S_FLUSH };
struct sync_call {
        enum sync_kind kind;
        HANDLE h;
        const char *wbuf;
        DWORD wlen;
        char rbuf[64];
        BOOL ok;
        DWORD err, n;
};

static DWORD WINAPI sync_call_run(LPVOID arg)
{
        struct sync_call *c = arg;
        c->n = 0xdead;
        switch (c->kind) {
        case S_READ:
                c->ok = ReadFile(c->h, c->rbuf, sizeof(c->rbuf), &c->n, NULL);
                break;
        case S_WRITE:
                c->ok = WriteFile(c->h, c->wbuf, c->wlen, &c->n, NULL);
                break;
        case S_TRANSACT:
                c->ok = TransactNamedPipe(c->h, (void *)c->wbuf, c->wlen, c->rbuf,
                                          sizeof(c->rbuf), &c->n, NULL);
                break;
        case S_FLUSH:
                c->ok = FlushFileBuffers(c->h);
                break;
        }
        c->err = c->ok ? 0 : GetLastError();
        return 0;
}

/* Start the call, wait until it is in progress (the handle turns
 * unsignalled), cancel it: it ends with ERROR_OPERATION_ABORTED inside
 * CancelSynchronousIo's wake, and there is nothing left to cancel. */
static void start_and_cancel(struct sync_call *c)
{
        HANDLE th = CreateThread(NULL, 0, sync_call_run, c, 0, NULL);
        ck_assert_ptr_nonnull(th);
        for (int i = 0; i < W_LONG && W_SIGNALLED(c->h); i++)
                Sleep(1);
        ck_assert(!W_SIGNALLED(c->h));
        SetLastError(0x1234);
        ck_assert(CancelSynchronousIo(th));
        ck_assert_uint_eq(GetLastError(), 0x1234);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert_msg(!c->ok, "kind %d completed", (int)c->kind);
        ck_assert_uint_eq(c->err, ERROR_OPERATION_ABORTED);
        if (c->kind != S_FLUSH)
                ck_assert_uint_eq(c->n, 0);
        WT_FAILS(CancelSynchronousIo(th), ERROR_NOT_FOUND);
        CloseHandle(th);
}

static void client_message_mode(HANDLE cli)
{
        DWORD mode = PIPE_READMODE_MESSAGE;
        WT_OK(SetNamedPipeHandleState(cli, &mode, NULL, NULL));
}

static void read_is(HANDLE h, const char *want)
{
        char buf[64];
        DWORD n = 0;
        WT_OK(ReadFile(h, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, strlen(want));
        ck_assert(memcmp(buf, want, n) == 0);
}

/* covers: CANCEL-05
 * A blocked synchronous ReadFile ends; the data that comes later is read
 * by the next call, nothing lost. */
START_TEST(cancel_synchronous_read)
{
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_MESSAGE, 0, 0, 4096, &srv, &cli);
        struct sync_call c = {.kind = S_READ, .h = srv};
        start_and_cancel(&c);
        w_write(cli, "after");
        read_is(srv, "after");
        /* a second reader queued behind a first one: cancelling it leaves
         * the first in place */
        struct sync_call first = {.kind = S_READ, .h = srv};
        HANDLE th = CreateThread(NULL, 0, sync_call_run, &first, 0, NULL);
        for (int i = 0; i < W_LONG && W_SIGNALLED(srv); i++)
                Sleep(1);
        struct sync_call second = {.kind = S_READ, .h = srv};
        HANDLE th2 = CreateThread(NULL, 0, sync_call_run, &second, 0, NULL);
        /* cancelled wherever it is: waiting for its turn or for data */
        BOOL ok = FALSE;
        for (int i = 0; i < W_LONG && !ok; i++) {
                ok = CancelSynchronousIo(th2);
                if (!ok)
                        Sleep(1);
        }
        ck_assert(ok);
        ck_assert_uint_eq(WaitForSingleObject(th2, W_LONG), WAIT_OBJECT_0);
        ck_assert(!second.ok);
        ck_assert_uint_eq(second.err, ERROR_OPERATION_ABORTED);
        ck_assert_uint_eq(WaitForSingleObject(th, 0), WAIT_TIMEOUT);
        w_write(cli, "one");
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert(first.ok);
        ck_assert_uint_eq(first.n, 3);
        CloseHandle(th);
        CloseHandle(th2);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: CANCEL-05 CANCEL-07 QUOTA-07
 * A synchronous WriteFile blocked over the quota ends, and its bytes the
 * reader has not taken vanish, also from the middle of the message. */
START_TEST(cancel_synchronous_write)
{
        static char big[200];
        memset(big, 'x', sizeof(big));
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_MESSAGE, 0, 0, 16, &srv, &cli);
        client_message_mode(cli);
        struct sync_call c = {.kind = S_WRITE, .h = srv, .wbuf = big, .wlen = sizeof(big)};
        start_and_cancel(&c);
        DWORD avail = 0xdead;
        WT_OK(PeekNamedPipe(cli, NULL, 0, NULL, &avail, NULL));
        ck_assert_uint_eq(avail, 0);
        w_write(srv, "next");
        read_is(cli, "next");

        /* the reader took 10 bytes of it: the other 190 vanish */
        struct sync_call d = {.kind = S_WRITE, .h = srv, .wbuf = big, .wlen = sizeof(big)};
        HANDLE th = CreateThread(NULL, 0, sync_call_run, &d, 0, NULL);
        char part[10];
        DWORD n = 0;
        WT_FAILS(ReadFile(cli, part, sizeof(part), &n, NULL), ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 10);
        for (int i = 0; i < W_LONG && W_SIGNALLED(srv); i++)
                Sleep(1);
        WT_OK(CancelSynchronousIo(th));
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert(!d.ok);
        ck_assert_uint_eq(d.err, ERROR_OPERATION_ABORTED);
        w_write(srv, "then");
        read_is(cli, "then");
        CloseHandle(th);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: CANCEL-05 CANCEL-07 TRANS-09
 * A synchronous TransactNamedPipe waiting for its reply ends; its message
 * stays written, and the reply is read by the next call.  A
 * FlushFileBuffers waiting for the reader ends, and the data stays. */
START_TEST(cancel_synchronous_transact_flush)
{
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_MESSAGE, 0, 0, 4096, &srv, &cli);
        client_message_mode(cli);
        struct sync_call c = {.kind = S_TRANSACT, .h = cli, .wbuf = "ask", .wlen = 3};
        start_and_cancel(&c);
        read_is(srv, "ask");
        w_write(srv, "answer");
        read_is(cli, "answer");

        w_write(cli, "unread");
        struct sync_call f = {.kind = S_FLUSH, .h = cli};
        start_and_cancel(&f);
        read_is(srv, "unread");
        /* and a flush with nothing unread returns at once */
        WT_OK(FlushFileBuffers(cli));
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

static DWORD WINAPI ovl_connect_then_sleep(LPVOID arg)
{
        struct connector *c = arg;
        OVERLAPPED ov;
        HANDLE ev = CreateEventA(NULL, TRUE, FALSE, NULL);
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ev;
        c->ok = ConnectNamedPipe(c->srv, &ov);
        c->err = c->ok ? 0 : GetLastError();
        /* in an overlapped operation, not a synchronous one */
        WaitForSingleObject(ev, INFINITE);
        CloseHandle(ev);
        return 0;
}

/* covers: CANCEL-05 */
START_TEST(cancel_synchronous_not_overlapped)
{
        W_NAME(name);
        struct connector c = {0};
        c.srv = w_server(name, FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 4096);
        HANDLE th = CreateThread(NULL, 0, ovl_connect_then_sleep, &c, 0, NULL);
        for (int i = 0; i < W_LONG && W_SIGNALLED(c.srv); i++)
                Sleep(1);
        Sleep(20);
        WT_FAILS(CancelSynchronousIo(th), ERROR_NOT_FOUND);
        HANDLE cli = w_client(name, 0);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        ck_assert_uint_eq(c.err, ERROR_IO_PENDING);
        CloseHandle(th);
        CloseHandle(cli);
        CloseHandle(c.srv);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-notify");
        TCase *tc = h_tcase("notify", 60);
        tcase_add_test(tc, skip_port_on_success);
        tcase_add_test(tc, skip_set_event_on_handle);
        tcase_add_test(tc, user_apc_self);
        tcase_add_test(tc, user_apc_other_thread);
        tcase_add_test(tc, no_apc_in_sync_connect);
        tcase_add_test(tc, cancel_synchronous_connect);
        tcase_add_test(tc, cancel_synchronous_not_overlapped);
        tcase_add_test(tc, cancel_synchronous_read);
        tcase_add_test(tc, cancel_synchronous_write);
        tcase_add_test(tc, cancel_synchronous_transact_flush);
        suite_add_tcase(s, tc);
        return h_run(s);
}
