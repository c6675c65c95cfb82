/*
 * test_win32_iocp.c - I/O completion ports through the Win32 layer (spec
 * OVL-04/05/11/12/16, CONNECT-05, CANCEL-01), several waiting threads,
 * closing a port under a waiter, and 1,000 overlapped connections in one
 * process with at most 256 file descriptors.
 */
#include "w_test.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>

struct packet {
        BOOL ok;
        DWORD err, n;
        ULONG_PTR key;
        OVERLAPPED *ov;
};

static int get_packet(HANDLE port, DWORD ms, struct packet *p)
{
        p->n = 0xdead;
        p->key = 0xdead;
        p->ov = (OVERLAPPED *)1;
        SetLastError(0xdeadbeef);
        p->ok = GetQueuedCompletionStatus(port, &p->n, &p->key, &p->ov, ms);
        p->err = p->ok ? 0 : GetLastError();
        return p->ok || p->ov != NULL;
}

static HANDLE new_port(void)
{
        HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
        ck_assert_msg(port != NULL, "CreateIoCompletionPort: %lu", (unsigned long)GetLastError());
        return port;
}

/* covers: OVL-11 */
START_TEST(port_basics)
{
        HANDLE port = new_port();
        struct packet p;
        OVERLAPPED ov;
        /* an empty port times out with a NULL OVERLAPPED */
        ck_assert(!get_packet(port, 10, &p));
        ck_assert_uint_eq(p.err, WAIT_TIMEOUT);
        ck_assert_ptr_null(p.ov);
        ck_assert(!get_packet(port, 0, &p));
        /* posted packets come back as posted, in order */
        WT_OK(PostQueuedCompletionStatus(port, 42, 7, &ov));
        WT_OK(PostQueuedCompletionStatus(port, 0, 8, NULL));
        ck_assert(get_packet(port, W_LONG, &p) && p.ok);
        ck_assert_uint_eq(p.n, 42);
        ck_assert_uint_eq(p.key, 7);
        ck_assert_ptr_eq(p.ov, &ov);
        ck_assert(get_packet(port, W_LONG, &p) && p.ok);
        ck_assert_uint_eq(p.key, 8);
        ck_assert_ptr_null(p.ov);
        /* several at once with the Ex form */
        OVERLAPPED_ENTRY e[8];
        ULONG got = 99;
        for (int i = 0; i < 5; i++)
                WT_OK(PostQueuedCompletionStatus(port, (DWORD)i, 100 + (ULONG_PTR)i, NULL));
        WT_OK(GetQueuedCompletionStatusEx(port, e, 8, &got, W_LONG, FALSE));
        ck_assert_uint_eq(got, 5);
        for (int i = 0; i < 5; i++) {
                ck_assert_uint_eq(e[i].lpCompletionKey, 100 + (ULONG_PTR)i);
                ck_assert_uint_eq(e[i].dwNumberOfBytesTransferred, (DWORD)i);
        }
        WT_FAILS(GetQueuedCompletionStatusEx(port, e, 8, &got, 0, FALSE), WAIT_TIMEOUT);
        ck_assert_uint_eq(got, 0);
        /* not a port */
        HANDLE ev = w_event(TRUE, FALSE);
        WT_FAILS(PostQueuedCompletionStatus(ev, 0, 0, NULL), ERROR_INVALID_HANDLE);
        WT_FAILS(GetQueuedCompletionStatus(ev, &p.n, &p.key, &p.ov, 0), ERROR_INVALID_HANDLE);
        ck_assert_ptr_null(p.ov);
        /* a port is not waitable with WaitForSingleObject here */
        ck_assert_uint_eq(WaitForSingleObject(port, 0), WAIT_FAILED);
        CloseHandle(ev);
        CloseHandle(port);
}
END_TEST

/* covers: CONNECT-05 OVL-04 OVL-05 OVL-11 CANCEL-01 CLOSE-06 CONNECT-03 */
START_TEST(pipe_packets)
{
        W_NAME(name);
        HANDLE port = new_port();
        HANDLE srv =
            w_server(name, FILE_FLAG_OVERLAPPED, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1024);
        struct packet p;
        OVERLAPPED ov, ov2;
        char buf[64];
        DWORD n;
        ck_assert_ptr_eq(CreateIoCompletionPort(srv, port, 0x5151, 0), port);
        w_ov(&ov, NULL);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_IO_PENDING);
        ck_assert(!get_packet(port, 20, &p));
        HANDLE cli = w_client(name, FILE_FLAG_OVERLAPPED);
        ck_assert(get_packet(port, W_LONG, &p) && p.ok);
        ck_assert_uint_eq(p.key, 0x5151);
        ck_assert_ptr_eq(p.ov, &ov);
        ck_assert_uint_eq(p.n, 0);
        ck_assert_ptr_eq(CreateIoCompletionPort(cli, port, 0xC11, 0), port);
        /* ERROR_PIPE_CONNECTED posts nothing */
        w_ov(&ov, NULL);
        WT_FAILS(ConnectNamedPipe(srv, &ov), ERROR_PIPE_CONNECTED);
        ck_assert(!get_packet(port, 20, &p));
        /* a pending read and an immediate write: one packet each */
        w_ov(&ov, NULL);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_IO_PENDING);
        w_ov(&ov2, NULL);
        WT_OK(WriteFile(cli, "iocp!", 5, &n, &ov2));
        int got_read = 0, got_write = 0;
        for (int i = 0; i < 2; i++) {
                ck_assert(get_packet(port, W_LONG, &p) && p.ok && p.n == 5);
                if (p.ov == &ov && p.key == 0x5151)
                        got_read++;
                if (p.ov == &ov2 && p.key == 0xC11)
                        got_write++;
        }
        ck_assert_int_eq(got_read, 1);
        ck_assert_int_eq(got_write, 1);
        ck_assert(!get_packet(port, 20, &p));
        /* a partial message read: FALSE with ERROR_MORE_DATA and the count */
        WT_OK(WriteFile(cli, "0123456789", 10, &n, &ov2));
        get_packet(port, W_LONG, &p);
        w_ov(&ov, NULL);
        WT_FAILS(ReadFile(srv, buf, 4, NULL, &ov), ERROR_MORE_DATA);
        ck_assert(get_packet(port, W_LONG, &p));
        ck_assert(!p.ok);
        ck_assert_uint_eq(p.err, ERROR_MORE_DATA);
        ck_assert_uint_eq(p.n, 4);
        ck_assert_ptr_eq(p.ov, &ov);
        w_ov(&ov, NULL);
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, &ov));
        get_packet(port, W_LONG, &p);
        /* the low bit of hEvent: no packet, but the event is set */
        HANDLE ev = w_event(TRUE, FALSE);
        w_ov(&ov, (HANDLE)((uintptr_t)ev | 1));
        WT_OK(WriteFile(cli, "quiet", 5, &n, &ov));
        ck_assert(W_SIGNALLED(ev));
        ck_assert(!get_packet(port, 20, &p));
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, NULL));
        /* a cancelled read posts ERROR_OPERATION_ABORTED */
        w_ov(&ov, NULL);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_IO_PENDING);
        WT_OK(CancelIoEx(srv, &ov));
        ck_assert(get_packet(port, W_LONG, &p));
        ck_assert(!p.ok);
        ck_assert_uint_eq(p.err, ERROR_OPERATION_ABORTED);
        ck_assert_uint_eq(p.n, 0);
        ck_assert_uint_eq(p.key, 0x5151);
        /* the peer closing completes a pending read with ERROR_BROKEN_PIPE */
        w_ov(&ov, NULL);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_IO_PENDING);
        CloseHandle(cli);
        ck_assert(get_packet(port, W_LONG, &p));
        ck_assert(!p.ok);
        ck_assert_uint_eq(p.err, ERROR_BROKEN_PIPE);
        ck_assert_ptr_eq(p.ov, &ov);
        /* immediate failures post nothing */
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), NULL, &ov), ERROR_BROKEN_PIPE);
        WT_FAILS(WriteFile(srv, "x", 1, NULL, &ov), ERROR_NO_DATA);
        ck_assert(!get_packet(port, 20, &p));
        CloseHandle(ev);
        CloseHandle(srv);
        CloseHandle(port);
}
END_TEST

static VOID WINAPI nop_routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
        (void)err;
        (void)n;
        (void)ov;
}

/* covers: OVL-16 */
START_TEST(binding_rules)
{
        HANDLE port = new_port(), port2 = new_port();
        HANDLE srv, cli;
        char buf[4];
        OVERLAPPED ov;
        /* a synchronous handle cannot be bound */
        w_pair(PIPE_TYPE_BYTE, 0, 0, 1024, &srv, &cli);
        ck_assert_ptr_null(CreateIoCompletionPort(srv, port, 1, 0));
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        CloseHandle(cli);
        CloseHandle(srv);
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &srv, &cli);
        ck_assert_ptr_eq(CreateIoCompletionPort(srv, port, 1, 0), port);
        /* bound once, for good */
        ck_assert_ptr_null(CreateIoCompletionPort(srv, port2, 1, 0));
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        /* no completion routines on a bound handle */
        w_ov(&ov, NULL);
        WT_FAILS(ReadFileEx(srv, buf, sizeof(buf), &ov, nop_routine), ERROR_INVALID_PARAMETER);
        /* a port made while binding */
        HANDLE s2, c2;
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, 0, 1024, &s2, &c2);
        HANDLE port3 = CreateIoCompletionPort(s2, NULL, 9, 0);
        ck_assert_ptr_nonnull(port3);
        DWORD n;
        WT_OK(WriteFile(s2, "a", 1, &n, &ov));
        struct packet p;
        ck_assert(get_packet(port3, W_LONG, &p) && p.ok && p.key == 9);
        /* bad handles */
        ck_assert_ptr_null(CreateIoCompletionPort((HANDLE)(uintptr_t)0x40, port, 1, 0));
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        ck_assert_ptr_null(CreateIoCompletionPort(INVALID_HANDLE_VALUE, port, 1, 0));
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        CloseHandle(c2);
        CloseHandle(s2);
        CloseHandle(port3);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(port);
        CloseHandle(port2);
}
END_TEST

struct taker {
        HANDLE port;
        int count;
        DWORD last_err;
};

static void *take_until_quit(void *arg)
{
        struct taker *t = arg;
        for (;;) {
                DWORD n;
                ULONG_PTR key;
                OVERLAPPED *ov;
                if (!GetQueuedCompletionStatus(t->port, &n, &key, &ov, W_LONG)) {
                        t->last_err = GetLastError();
                        return NULL;
                }
                if (key == 0)
                        return NULL;
                t->count++;
        }
}

/* covers: OVL-11 */
START_TEST(several_waiters)
{
        HANDLE port = new_port();
        struct taker t[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
                t[i] = (struct taker){port, 0, 0};
                pthread_create(&th[i], NULL, take_until_quit, &t[i]);
        }
        for (int i = 0; i < 2000; i++)
                WT_OK(PostQueuedCompletionStatus(port, 1, 1, NULL));
        for (int i = 0; i < 4; i++)
                WT_OK(PostQueuedCompletionStatus(port, 0, 0, NULL));
        int total = 0;
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                total += t[i].count;
                ck_assert_uint_eq(t[i].last_err, 0);
        }
        /* every packet went to exactly one thread */
        ck_assert_int_eq(total, 2000);
        CloseHandle(port);
}
END_TEST

static void *wait_forever(void *arg)
{
        struct taker *t = arg;
        DWORD n;
        ULONG_PTR key;
        OVERLAPPED *ov = (OVERLAPPED *)1;
        if (!GetQueuedCompletionStatus(t->port, &n, &key, &ov, INFINITE))
                t->last_err = GetLastError();
        t->count = ov == NULL;
        return NULL;
}

/* covers: OVL-11 */
START_TEST(close_port_under_waiter)
{
        HANDLE port = new_port();
        struct taker t = {port, 0, 0};
        pthread_t th;
        pthread_create(&th, NULL, wait_forever, &t);
        /* evidence that it is waiting, not a synchronisation */
        HANDLE ev = w_event(TRUE, FALSE);
        WaitForSingleObject(ev, 100);
        WT_OK(CloseHandle(port));
        pthread_join(th, NULL);
        ck_assert_uint_eq(t.last_err, ERROR_ABANDONED_WAIT_0);
        ck_assert_int_eq(t.count, 1);
        CloseHandle(ev);
}
END_TEST

struct apc_ctx {
        OVERLAPPED ov;
        int calls;
};

static VOID WINAPI count_routine(DWORD err, DWORD n, LPOVERLAPPED ov)
{
        (void)err;
        (void)n;
        ((struct apc_ctx *)ov)->calls++;
}

/* covers: OVL-07 */
START_TEST(alertable_port_wait)
{
        HANDLE port = new_port(), srv, cli;
        struct apc_ctx r;
        OVERLAPPED_ENTRY e[2];
        ULONG got;
        memset(&r, 0, sizeof(r));
        w_pair(PIPE_TYPE_BYTE, FILE_FLAG_OVERLAPPED, FILE_FLAG_OVERLAPPED, 1024, &srv, &cli);
        WT_OK(WriteFileEx(srv, "q", 1, &r.ov, count_routine));
        WT_FAILS(GetQueuedCompletionStatusEx(port, e, 2, &got, W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(r.calls, 1);
        /* a routine that completes while the thread already waits wakes it */
        char buf[4];
        memset(&r, 0, sizeof(r));
        WT_OK(ReadFileEx(cli, buf, 2, &r.ov, count_routine));
        WT_OK(WriteFile(srv, "ab", 2, NULL, &(OVERLAPPED){0}));
        WT_FAILS(GetQueuedCompletionStatusEx(port, e, 2, &got, W_LONG, TRUE), WAIT_IO_COMPLETION);
        ck_assert_int_eq(r.calls, 1);
        CloseHandle(cli);
        CloseHandle(srv);
        CloseHandle(port);
}
END_TEST

#define CONNS 1000

struct conn {
        HANDLE srv, cli;
        OVERLAPPED sov, cov;
        char sbuf[64], cbuf[64];
        int state;
};

/* keys: server i -> 2i+1, client i -> 2i+2 */
START_TEST(thousand_connections)
{
        static struct conn c[CONNS];
        W_NAME(name);
        HANDLE port = new_port();
        /* start the broker before the limit: it is a separate daemon (and
         * normally started by systemd), what is measured is this process */
        HANDLE warm = w_server(name, 0, PIPE_TYPE_BYTE, 64);
        CloseHandle(warm);
        struct rlimit rl = {256, 256};
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);

        for (int i = 0; i < CONNS; i++) {
                c[i].srv = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                                            PIPE_UNLIMITED_INSTANCES, 256, 256, 0, NULL);
                ck_assert_msg(c[i].srv != INVALID_HANDLE_VALUE, "instance %d: %lu", i,
                              (unsigned long)GetLastError());
                ck_assert_ptr_eq(CreateIoCompletionPort(c[i].srv, port, 2 * (ULONG_PTR)i + 1, 0),
                                 port);
                WT_FAILS(ConnectNamedPipe(c[i].srv, &c[i].sov), ERROR_IO_PENDING);
        }
        for (int i = 0; i < CONNS; i++) {
                c[i].cli = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                                       FILE_FLAG_OVERLAPPED, NULL);
                ck_assert_msg(c[i].cli != INVALID_HANDLE_VALUE, "client %d: %lu", i,
                              (unsigned long)GetLastError());
                ck_assert_ptr_eq(CreateIoCompletionPort(c[i].cli, port, 2 * (ULONG_PTR)i + 2, 0),
                                 port);
        }
        /* every connect completes through the port */
        int connected = 0;
        while (connected < CONNS) {
                DWORD n;
                ULONG_PTR key;
                OVERLAPPED *ov;
                ck_assert_msg(GetQueuedCompletionStatus(port, &n, &key, &ov, W_LONG),
                              "connect packet %d: %lu", connected, (unsigned long)GetLastError());
                ck_assert(key % 2 == 1);
                ck_assert_ptr_eq(ov, &c[(key - 1) / 2].sov);
                connected++;
        }
        /* every server reads; every client writes its number; the server
         * echoes it; the client reads the echo */
        for (int i = 0; i < CONNS; i++) {
                memset(&c[i].sov, 0, sizeof(OVERLAPPED));
                BOOL ok = ReadFile(c[i].srv, c[i].sbuf, sizeof(c[i].sbuf), NULL, &c[i].sov);
                ck_assert(!ok && GetLastError() == ERROR_IO_PENDING);
        }
        for (int i = 0; i < CONNS; i++) {
                int len = snprintf(c[i].cbuf, sizeof(c[i].cbuf), "hello %d", i);
                memset(&c[i].cov, 0, sizeof(OVERLAPPED));
                BOOL ok = WriteFile(c[i].cli, c[i].cbuf, (DWORD)len, NULL, &c[i].cov);
                ck_assert(ok || GetLastError() == ERROR_IO_PENDING);
        }
        /* every completion, immediate or not, comes through the port (OVL-04) */
        int echoed = 0, written = 0, srv_wrote = 0;
        while (echoed < CONNS || written < CONNS || srv_wrote < CONNS) {
                DWORD n;
                ULONG_PTR key;
                OVERLAPPED *ov;
                ck_assert_msg(GetQueuedCompletionStatus(port, &n, &key, &ov, W_LONG),
                              "packet: %lu (echoed %d written %d)", (unsigned long)GetLastError(),
                              echoed, written);
                int i = (int)((key - 1) / 2);
                struct conn *k = &c[i];
                char want[64];
                int len = snprintf(want, sizeof(want), "hello %d", i);
                if (key % 2 == 1) {
                        ck_assert_ptr_eq(ov, &k->sov);
                        if (!(k->state & 1)) {
                                /* the request arrived: echo it */
                                ck_assert_uint_eq(n, (DWORD)len);
                                ck_assert_mem_eq(k->sbuf, want, (size_t)len);
                                k->state |= 1;
                                memset(&k->sov, 0, sizeof(OVERLAPPED));
                                BOOL ok = WriteFile(k->srv, k->sbuf, n, NULL, &k->sov);
                                ck_assert(ok || GetLastError() == ERROR_IO_PENDING);
                        } else {
                                srv_wrote++;
                        }
                } else {
                        ck_assert_ptr_eq(ov, &k->cov);
                        if (!(k->state & 2)) {
                                /* the client's request is written: read the echo */
                                written++;
                                k->state |= 2;
                                memset(&k->cov, 0, sizeof(OVERLAPPED));
                                memset(k->cbuf, 0, sizeof(k->cbuf));
                                BOOL ok = ReadFile(k->cli, k->cbuf, sizeof(k->cbuf), NULL, &k->cov);
                                ck_assert(ok || GetLastError() == ERROR_IO_PENDING);
                        } else {
                                ck_assert_uint_eq(n, (DWORD)len);
                                ck_assert_mem_eq(k->cbuf, want, (size_t)len);
                                echoed++;
                        }
                }
        }
        for (int i = 0; i < CONNS; i++) {
                WT_OK(CloseHandle(c[i].cli));
                WT_OK(CloseHandle(c[i].srv));
        }
        CloseHandle(port);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-iocp");
        TCase *tc = h_tcase("iocp", 60);
        tcase_add_test(tc, port_basics);
        tcase_add_test(tc, pipe_packets);
        tcase_add_test(tc, binding_rules);
        tcase_add_test(tc, several_waiters);
        tcase_add_test(tc, close_port_under_waiter);
        tcase_add_test(tc, alertable_port_wait);
        suite_add_tcase(s, tc);
        TCase *big = h_tcase("scale", 180);
        tcase_add_test(big, thousand_connections);
        suite_add_tcase(s, big);
        return h_run(s);
}
