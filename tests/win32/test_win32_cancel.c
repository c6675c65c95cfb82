/*
 * test_win32_cancel.c - CancelIo / CancelIoEx and the order of pending
 * operations through the Win32 layer (spec CANCEL, ORDER, QUOTA-07,
 * TRANS-09, CONNECT-12/14).
 */
#include "w_test.h"

#include <pthread.h>
#include <stdatomic.h>

/* covers: CANCEL-01 CANCEL-02 */
START_TEST(cancel_one)
{
        HANDLE srv, cli, e1 = w_event(TRUE, FALSE), e2 = w_event(TRUE, FALSE);
        OVERLAPPED o1, o2, other;
        char b1[8], b2[8];
        DWORD n = 0xdead;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        w_ov(&o1, e1);
        w_ov(&o2, e2);
        WT_FAILS(ReadFile(srv, b1, 1, NULL, &o1), ERROR_IO_PENDING);
        WT_FAILS(ReadFile(srv, b2, 1, NULL, &o2), ERROR_IO_PENDING);
        /* an OVERLAPPED that was never used: nothing to cancel */
        w_ov(&other, NULL);
        WT_FAILS(CancelIoEx(srv, &other), ERROR_NOT_FOUND);
        WT_OK(CancelIoEx(srv, &o1));
        ck_assert(W_SIGNALLED(e1)); /* done before CancelIoEx returned */
        WT_FAILS(GetOverlappedResult(srv, &o1, &n, FALSE), ERROR_OPERATION_ABORTED);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(o1.Internal, 0xC0000120u);
        /* again: gone */
        WT_FAILS(CancelIoEx(srv, &o1), ERROR_NOT_FOUND);
        /* the other read goes on and gets the data */
        ck_assert(!W_SIGNALLED(e2));
        w_write(cli, "A");
        ck_assert_uint_eq(WaitForSingleObject(e2, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &o2, &n, FALSE));
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(b2[0], 'A');
        /* a completed operation cannot be cancelled */
        WT_FAILS(CancelIoEx(srv, &o2), ERROR_NOT_FOUND);
        WT_FAILS(CancelIoEx(srv, NULL), ERROR_NOT_FOUND);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(e1);
        CloseHandle(e2);
}
END_TEST

/* covers: CANCEL-01 */
START_TEST(cancel_all)
{
        HANDLE srv, cli;
        OVERLAPPED o[5];
        char b[5][4];
        DWORD n;
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        for (int i = 0; i < 5; i++) {
                w_ov(&o[i], w_event(TRUE, FALSE));
                WT_FAILS(ReadFile(srv, b[i], sizeof(b[i]), NULL, &o[i]), ERROR_IO_PENDING);
        }
        WT_OK(CancelIoEx(srv, NULL));
        for (int i = 0; i < 5; i++) {
                ck_assert(W_SIGNALLED(o[i].hEvent));
                WT_FAILS(GetOverlappedResult(srv, &o[i], &n, FALSE), ERROR_OPERATION_ABORTED);
                CloseHandle(o[i].hEvent);
        }
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

struct issuer {
        HANDLE h, issued, done;
        OVERLAPPED ov;
        char buf[4];
};

static void *issue_read(void *arg)
{
        struct issuer *is = arg;
        ReadFile(is->h, is->buf, sizeof(is->buf), NULL, &is->ov);
        SetEvent(is->issued);
        return NULL;
}

/* covers: CANCEL-03 */
START_TEST(cancel_io_is_per_thread)
{
        HANDLE srv, cli, ev = w_event(TRUE, FALSE);
        OVERLAPPED mine;
        char buf[4];
        DWORD n;
        struct issuer is;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        memset(&is, 0, sizeof(is));
        is.h = srv;
        is.issued = w_event(TRUE, FALSE);
        is.ov.hEvent = w_event(TRUE, FALSE);
        pthread_t t;
        pthread_create(&t, NULL, issue_read, &is);
        ck_assert_uint_eq(WaitForSingleObject(is.issued, W_LONG), WAIT_OBJECT_0);
        pthread_join(t, NULL);
        w_ov(&mine, ev);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &mine), ERROR_IO_PENDING);
        /* CancelIo: only what this thread issued */
        WT_OK(CancelIo(srv));
        ck_assert(W_SIGNALLED(ev));
        WT_FAILS(GetOverlappedResult(srv, &mine, &n, FALSE), ERROR_OPERATION_ABORTED);
        ck_assert(!W_SIGNALLED(is.ov.hEvent));
        /* CancelIo with nothing of ours pending still succeeds */
        WT_OK(CancelIo(srv));
        ck_assert(!W_SIGNALLED(is.ov.hEvent));
        w_write(cli, "xy");
        ck_assert_uint_eq(WaitForSingleObject(is.ov.hEvent, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &is.ov, &n, FALSE));
        ck_assert_uint_eq(n, 2);
        CloseHandle(is.issued);
        CloseHandle(is.ov.hEvent);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: CANCEL-07 QUOTA-07 TRANS-09 */
START_TEST(cancel_write_and_transact)
{
        static char big[3000];
        HANDLE srv, cli, e1 = w_event(TRUE, FALSE), e2 = w_event(TRUE, FALSE);
        OVERLAPPED o1, o2;
        char buf[4096];
        DWORD n, avail;
        memset(big, 'B', sizeof(big));
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1000, &srv, &cli);
        w_ov(&o1, e1);
        WT_FAILS(WriteFile(srv, big, sizeof(big), NULL, &o1), ERROR_IO_PENDING);
        w_ov(&o2, e2);
        WT_FAILS(WriteFile(srv, "next", 4, NULL, &o2), ERROR_IO_PENDING);
        WT_OK(PeekNamedPipe(cli, NULL, 0, NULL, &avail, NULL));
        ck_assert_uint_eq(avail, sizeof(big) + 4);
        WT_OK(CancelIoEx(srv, &o1));
        WT_FAILS(GetOverlappedResult(srv, &o1, &n, FALSE), ERROR_OPERATION_ABORTED);
        ck_assert_uint_eq(n, 0);
        /* the cancelled write's bytes are gone; the next message is intact */
        WT_OK(ReadFile(cli, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 4);
        ck_assert_mem_eq(buf, "next", 4);
        ck_assert_uint_eq(WaitForSingleObject(e2, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &o2, &n, FALSE));
        ck_assert_uint_eq(n, 4);

        /* a cancelled transaction keeps the request it wrote */
        DWORD mode = PIPE_READMODE_MESSAGE;
        CloseHandle(cli);
        CloseHandle(srv);
        w_pair(PIPE_TYPE_MESSAGE, 0, FILE_FLAG_OVERLAPPED, 1024, &srv, &cli);
        WT_OK(SetNamedPipeHandleState(cli, &mode, NULL, NULL));
        w_ov(&o1, e1);
        ResetEvent(e1);
        WT_FAILS(TransactNamedPipe(cli, "req", 3, buf, sizeof(buf), NULL, &o1), ERROR_IO_PENDING);
        WT_OK(CancelIoEx(cli, &o1));
        WT_FAILS(GetOverlappedResult(cli, &o1, &n, FALSE), ERROR_OPERATION_ABORTED);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 3);
        ck_assert_mem_eq(buf, "req", 3);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(e1);
        CloseHandle(e2);
}
END_TEST

struct apc_ctx {
        OVERLAPPED ov;
        int calls;
        DWORD err;
};

static VOID WINAPI apc_routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
        struct apc_ctx *c = (struct apc_ctx *)ov;
        (void)n;
        c->calls++;
        c->err = err;
}

/* covers: CONNECT-12 CANCEL-03 OVL-07 */
START_TEST(cancel_listen_and_routine)
{
        W_NAME(name);
        HANDLE srv = w_server(name, FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1024);
        HANDLE ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        DWORD n;
        w_ov(&ov, ev);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_IO_PENDING);
        WT_OK(CancelIo(srv));
        ck_assert(W_SIGNALLED(ev));
        WT_FAILS(GetOverlappedResult(srv, &ov, &n, FALSE), ERROR_OPERATION_ABORTED);
        /* the instance still listens: a client connects and a new connect says so */
        HANDLE cli = w_client(name, 0);
        w_ov(&ov, ev);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_PIPE_CONNECTED);
        /* a cancelled ReadFileEx: the routine gets ERROR_OPERATION_ABORTED */
        struct apc_ctx r;
        char buf[4];
        memset(&r, 0, sizeof(r));
        WT_OK(ReadFileEx(srv, buf, sizeof(buf), &r.ov, apc_routine));
        WT_OK(CancelIoEx(srv, &r.ov));
        ck_assert_int_eq(r.calls, 0);
        ck_assert_uint_eq(SleepEx(W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(r.calls, 1);
        ck_assert_uint_eq(r.err, ERROR_OPERATION_ABORTED);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(ev);
}
END_TEST

/* covers: CONNECT-14 CLOSE-13 */
START_TEST(close_with_pending)
{
        W_NAME(name);
        HANDLE srv = w_server(name, FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, 1024);
        HANDLE ev = w_event(TRUE, FALSE), ev2 = w_event(TRUE, FALSE);
        HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
        OVERLAPPED ov;
        w_ov(&ov, ev);
        ck_assert_ptr_eq(CreateIoCompletionPort(srv, port, 77, 0), port);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_IO_PENDING);
        WT_OK(CloseHandle(srv));
        /* the operation ended, through its event and the port */
        ck_assert(W_SIGNALLED(ev));
        ck_assert(HasOverlappedIoCompleted(&ov));
        DWORD n;
        ULONG_PTR key;
        OVERLAPPED *got;
        BOOL ok = GetQueuedCompletionStatus(port, &n, &key, &got, W_LONG);
        ck_assert(!ok);
        ck_assert_ptr_eq(got, &ov);
        ck_assert_uint_eq(key, 77);
        /* CLOSE-13: the name went with its last instance */
        ck_assert_ptr_eq(CreateFileA(name, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_FILE_NOT_FOUND);
        /* a closed handle is invalid from then on */
        WT_FAILS(CloseHandle(srv), ERROR_INVALID_HANDLE);
        CloseHandle(port);
        CloseHandle(ev);
        CloseHandle(ev2);
}
END_TEST

/* covers: ORDER-01 ORDER-02 ORDER-03 */
START_TEST(read_order)
{
        HANDLE srv, cli;
        OVERLAPPED o[3];
        char b[3][8];
        DWORD n, err;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        for (int i = 0; i < 3; i++) {
                w_ov(&o[i], w_event(TRUE, FALSE));
                WT_FAILS(ReadFile(srv, b[i], 3, NULL, &o[i]), ERROR_IO_PENDING);
        }
        w_write(cli, "abcdefgh");
        for (int i = 0; i < 2; i++) {
                ck_assert_uint_eq(WaitForSingleObject(o[i].hEvent, W_LONG), WAIT_OBJECT_0);
                WT_OK(GetOverlappedResult(srv, &o[i], &n, FALSE));
                ck_assert_uint_eq(n, 3);
                ck_assert_mem_eq(b[i], i ? "def" : "abc", 3);
        }
        ck_assert_uint_eq(WaitForSingleObject(o[2].hEvent, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &o[2], &n, FALSE));
        ck_assert_uint_eq(n, 2);
        ck_assert_mem_eq(b[2], "gh", 2);
        for (int i = 0; i < 3; i++)
                ResetEvent(o[i].hEvent);
        /* ORDER-03 in message-read mode: R(0) gets ERROR_MORE_DATA, R(8) the data */
        CloseHandle(cli);
        CloseHandle(srv);
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        WT_FAILS(ReadFile(srv, b[0], 0, NULL, &o[0]), ERROR_IO_PENDING);
        WT_FAILS(ReadFile(srv, b[1], 8, NULL, &o[1]), ERROR_IO_PENDING);
        w_write(cli, "Y");
        ck_assert_uint_eq(WaitForSingleObject(o[0].hEvent, W_LONG), WAIT_OBJECT_0);
        err = GetOverlappedResult(srv, &o[0], &n, FALSE) ? 0 : GetLastError();
        ck_assert_uint_eq(err, ERROR_MORE_DATA);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(WaitForSingleObject(o[1].hEvent, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &o[1], &n, FALSE));
        ck_assert_uint_eq(n, 1);
        for (int i = 0; i < 3; i++)
                CloseHandle(o[i].hEvent);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: ORDER-04 QUOTA-06 ZERO-01 */
START_TEST(write_order)
{
        static char m1[1500], m3[700], in[2000];
        HANDLE srv, cli;
        OVERLAPPED o[3];
        DWORD n, mode = PIPE_READMODE_MESSAGE;
        memset(m1, '1', sizeof(m1));
        memset(m3, '3', sizeof(m3));
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        WT_OK(SetNamedPipeHandleState(cli, &mode, NULL, NULL));
        for (int i = 0; i < 3; i++)
                w_ov(&o[i], w_event(TRUE, FALSE));
        WT_FAILS(WriteFile(srv, m1, sizeof(m1), NULL, &o[0]), ERROR_IO_PENDING);
        WT_OK(WriteFile(srv, m1, 0, &n, &o[1]));
        ck_assert_uint_eq(n, 0);
        WT_FAILS(WriteFile(srv, m3, sizeof(m3), NULL, &o[2]), ERROR_IO_PENDING);
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, sizeof(m1));
        ck_assert_uint_eq(WaitForSingleObject(o[0].hEvent, W_LONG), WAIT_OBJECT_0);
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, 0);
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, sizeof(m3));
        ck_assert_uint_eq(WaitForSingleObject(o[2].hEvent, W_LONG), WAIT_OBJECT_0);
        WT_OK(GetOverlappedResult(srv, &o[2], &n, FALSE));
        ck_assert_uint_eq(n, sizeof(m3));
        for (int i = 0; i < 3; i++)
                CloseHandle(o[i].hEvent);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

/* covers: ORDER-04 (an overlapped write that found no room for its message
 * keeps its place: a smaller one issued after it, which would fit, waits) */
START_TEST(write_order_no_room)
{
        static char m1[50000], m2[20000], m3[100], in[60000];
        HANDLE srv, cli;
        OVERLAPPED o[3];
        DWORD n, mode = PIPE_READMODE_MESSAGE;
        memset(m1, '1', sizeof(m1));
        memset(m2, '2', sizeof(m2));
        memset(m3, '3', sizeof(m3));
        /* the server's ring: 64 KiB; a message streams in pieces of a
         * quarter of it at least */
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        WT_OK(SetNamedPipeHandleState(cli, &mode, NULL, NULL));
        for (int i = 0; i < 3; i++)
                w_ov(&o[i], w_event(TRUE, FALSE));
        WT_FAILS(WriteFile(srv, m1, sizeof(m1), NULL, &o[0]), ERROR_IO_PENDING);
        WT_FAILS(WriteFile(srv, m2, sizeof(m2), NULL, &o[1]), ERROR_IO_PENDING);
        WT_FAILS(WriteFile(srv, m3, sizeof(m3), NULL, &o[2]), ERROR_IO_PENDING);
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, sizeof(m1));
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, sizeof(m2));
        ck_assert_int_eq(in[0], '2');
        WT_OK(ReadFile(cli, in, sizeof(in), &n, NULL));
        ck_assert_uint_eq(n, sizeof(m3));
        ck_assert_int_eq(in[0], '3');
        for (int i = 0; i < 3; i++) {
                ck_assert_uint_eq(WaitForSingleObject(o[i].hEvent, W_LONG), WAIT_OBJECT_0);
                CloseHandle(o[i].hEvent);
        }
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

struct blocked {
        HANDLE h, done;
        BOOL ok;
        DWORD err, n;
        char buf[8];
};

static void *blocked_read(void *arg)
{
        struct blocked *b = arg;
        b->ok = ReadFile(b->h, b->buf, sizeof(b->buf), &b->n, NULL);
        b->err = GetLastError();
        SetEvent(b->done);
        return NULL;
}

struct hammer {
        HANDLE h;
        _Atomic int stop;
        int bad;
};

static void *hammer_calls(void *arg)
{
        struct hammer *hm = arg;
        char buf[4];
        DWORD n, avail;
        while (!atomic_load(&hm->stop)) {
                if (!PeekNamedPipe(hm->h, buf, sizeof(buf), &n, &avail, NULL) &&
                    GetLastError() != ERROR_INVALID_HANDLE)
                        hm->bad++;
                if (!GetNamedPipeHandleStateA(hm->h, &n, NULL, NULL, NULL, NULL, 0) &&
                    GetLastError() != ERROR_INVALID_HANDLE)
                        hm->bad++;
        }
        return NULL;
}

/* covers: CLOSE-01 CLOSE-02 CLOSE-06 */
START_TEST(close_racing_calls)
{
        HANDLE srv, cli;
        DWORD n;
        char buf[8];
        /* a synchronous read blocked in another thread keeps the end open
         * until it returns; new calls on the closed handle fail at once */
        w_pair(PIPE_TYPE_BYTE, 0, 0, 1024, &srv, &cli);
        struct blocked b = {.h = cli, .done = w_event(TRUE, FALSE)};
        pthread_t t;
        pthread_create(&t, NULL, blocked_read, &b);
        ck_assert_uint_eq(WaitForSingleObject(b.done, 150), WAIT_TIMEOUT);
        WT_OK(CloseHandle(cli));
        WT_FAILS(ReadFile(cli, buf, 1, &n, NULL), ERROR_INVALID_HANDLE);
        w_write(srv, "late");
        ck_assert_uint_eq(WaitForSingleObject(b.done, W_LONG), WAIT_OBJECT_0);
        pthread_join(t, NULL);
        ck_assert(b.ok);
        ck_assert_uint_eq(b.n, 4);
        /* ... and the end closes when the last call has left */
        WT_FAILS(ReadFile(srv, buf, 1, &n, NULL), ERROR_BROKEN_PIPE);
        CloseHandle(srv);

        /* on an overlapped handle a ReadFile without an OVERLAPPED waits like
         * kernelbase does, and the close ends it */
        w_pair(PIPE_TYPE_BYTE, 0, FILE_FLAG_OVERLAPPED, 1024, &srv, &cli);
        ResetEvent(b.done);
        b.h = cli;
        pthread_create(&t, NULL, blocked_read, &b);
        ck_assert_uint_eq(WaitForSingleObject(b.done, 150), WAIT_TIMEOUT);
        WT_OK(CloseHandle(cli));
        ck_assert_uint_eq(WaitForSingleObject(b.done, W_LONG), WAIT_OBJECT_0);
        pthread_join(t, NULL);
        ck_assert(!b.ok);
        ck_assert_uint_eq(b.err, ERROR_OPERATION_ABORTED);
        WT_FAILS(ReadFile(srv, buf, 1, &n, NULL), ERROR_BROKEN_PIPE);
        CloseHandle(srv);
        CloseHandle(b.done);

        /* calls racing with CloseHandle: an error, never a crash */
        for (int round = 0; round < 50; round++) {
                w_pair(PIPE_TYPE_MESSAGE, 0, 0, 1024, &srv, &cli);
                struct hammer hm = {.h = srv};
                pthread_t th[3];
                for (int i = 0; i < 3; i++)
                        pthread_create(&th[i], NULL, hammer_calls, &hm);
                WT_OK(CloseHandle(srv));
                atomic_store(&hm.stop, 1);
                for (int i = 0; i < 3; i++)
                        pthread_join(th[i], NULL);
                ck_assert_int_eq(hm.bad, 0);
                WT_FAILS(ReadFile(cli, buf, 1, &n, NULL), ERROR_BROKEN_PIPE);
                CloseHandle(cli);
        }
}
END_TEST

/* ---- writes queued behind one that streams (issue 12) ---- */

/* Two overlapped writes, the first larger than the ring.  The second used
 * to take the ring from the first (it found the producer streaming and
 * called itself the owner): its bytes went into the middle of the first
 * message, and a cancel of the first left that message's head readable. */

struct writer2 {
        HANDLE h;
        OVERLAPPED ov[2];
};

static void start_two_writes(struct writer2 *w, const char *big, DWORD big_len)
{
        for (int i = 0; i < 2; i++)
                w_ov(&w->ov[i], w_event(TRUE, FALSE));
        WT_FAILS(WriteFile(w->h, big, big_len, NULL, &w->ov[0]), ERROR_IO_PENDING);
        WT_FAILS(WriteFile(w->h, "x", 1, NULL, &w->ov[1]), ERROR_IO_PENDING);
}

/* covers: ORDER-02 MSG-01 */
START_TEST(write_queued_behind_streaming)
{
        HANDLE srv, cli;
        static char big[256 * 1024], got[256 * 1024 + 16];
        for (size_t i = 0; i < sizeof big; i++)
                big[i] = (char)('a' + i % 23);
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        DWORD mode = PIPE_READMODE_MESSAGE, n = 0;
        WT_OK(SetNamedPipeHandleState(cli, &mode, NULL, NULL));
        struct writer2 w = {.h = srv};
        start_two_writes(&w, big, sizeof big);
        /* the first message whole, then the second */
        WT_OK(ReadFile(cli, got, sizeof got, &n, NULL));
        ck_assert_uint_eq(n, sizeof big);
        ck_assert(memcmp(got, big, sizeof big) == 0);
        WT_OK(ReadFile(cli, got, sizeof got, &n, NULL));
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(got[0], 'x');
        for (int i = 0; i < 2; i++) {
                WT_OK(GetOverlappedResult(srv, &w.ov[i], &n, TRUE));
                CloseHandle(w.ov[i].hEvent);
        }
        CloseHandle(srv);
        CloseHandle(cli);
}
END_TEST

/* covers: CANCEL-02 QUOTA-07 CLOSE-13 */
START_TEST(close_with_write_queued_behind)
{
        HANDLE srv, cli;
        static char big[256 * 1024];
        w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        struct writer2 w = {.h = srv};
        start_two_writes(&w, big, sizeof big);
        WT_OK(CloseHandle(srv));
        /* both ended, cancelled, inside the close ... */
        for (int i = 0; i < 2; i++) {
                ck_assert(W_SIGNALLED(w.ov[i].hEvent));
                ck_assert_uint_eq(w.ov[i].Internal, 0xC0000120u); /* STATUS_CANCELLED */
                CloseHandle(w.ov[i].hEvent);
        }
        /* ... and what the reader had not taken of them vanished: nothing
         * of a torn message arrives, the pipe is simply broken */
        char buf[16];
        DWORD n = 0;
        WT_FAILS(ReadFile(cli, buf, sizeof buf, &n, NULL), ERROR_BROKEN_PIPE);
        ck_assert_uint_eq(n, 0);
        CloseHandle(cli);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-cancel");
        TCase *tc = h_tcase("cancel", 60);
        tcase_add_test(tc, cancel_one);
        tcase_add_test(tc, cancel_all);
        tcase_add_test(tc, cancel_io_is_per_thread);
        tcase_add_test(tc, cancel_write_and_transact);
        tcase_add_test(tc, cancel_listen_and_routine);
        tcase_add_test(tc, close_with_pending);
        tcase_add_test(tc, read_order);
        tcase_add_test(tc, write_order);
        tcase_add_test(tc, write_order_no_room);
        tcase_add_test(tc, close_racing_calls);
        tcase_add_test(tc, write_queued_behind_streaming);
        tcase_add_test(tc, close_with_write_queued_behind);
        suite_add_tcase(s, tc);
        return h_run(s);
}
