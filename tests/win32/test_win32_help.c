/*
 * test_win32_help.c - GetOverlappedResult with bWait completes the pending
 * operation in the waiting thread (issue 16: the completion thread's wake
 * and then the waiter's were two wake-ups in a row).  What a program sees
 * must not change: reads complete in order (ORDER-01), a wait that times
 * out leaves the operation pending and its completion still comes without
 * a waiter, the wait takes an auto-reset event's signal, a cancel or the
 * peer's close ends it with NT's error, a pending write completes once the
 * peer has read.
 *
 * The peer is another process (fork): with both ends in one process the
 * satisfying call completes the operation itself (OVL-20) and nothing is
 * left pending for a waiter.  The child opens the client end and acts on
 * one-byte commands from a Linux pipe, so every operation of the parent is
 * pending, checked, before the child is told to satisfy it.
 */
#include "w_test.h"

#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUOTA 1024

struct peer {
        pid_t pid;
        int ctl; /* commands to the child */
        HANDLE srv;
};

/* The child: A / B / h write "A" / "B" / "hello"; r reads one message; n
 * reads one message and checks that it carries the next number (its
 * first 4 bytes); W writes one message of 4 * QUOTA bytes and exits; q
 * closes its end and exits. */
static void child(const char *name, int ctl)
{
        char go;
        /* the server exists once the parent says so */
        if (read(ctl, &go, 1) != 1)
                _exit(1);
        HANDLE c = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (c == INVALID_HANDLE_VALUE)
                _exit(2);
        DWORD mode = PIPE_READMODE_MESSAGE, n;
        if (!SetNamedPipeHandleState(c, &mode, NULL, NULL))
                _exit(3);
        static char buf[4 * QUOTA];
        uint32_t next = 0;
        char cmd;
        while (read(ctl, &cmd, 1) == 1) {
                BOOL ok = TRUE;
                switch (cmd) {
                case 'A':
                case 'B':
                        ok = WriteFile(c, &cmd, 1, &n, NULL);
                        break;
                case 'h':
                        ok = WriteFile(c, "hello", 5, &n, NULL);
                        break;
                case 'r':
                        ok = ReadFile(c, buf, sizeof buf, &n, NULL);
                        break;
                case 'n': {
                        uint32_t got;
                        ok = ReadFile(c, buf, sizeof buf, &n, NULL);
                        memcpy(&got, buf, sizeof got);
                        if (ok && (n < sizeof got || got != next)) {
                                fprintf(stderr, "child: message %u where %u was due\n",
                                        (unsigned)got, (unsigned)next);
                                _exit(6); /* out of order */
                        }
                        next++;
                        break;
                }
                case 'W':
                        /* beyond the quota: returns once the parent's
                         * read has drained it; then the child ends */
                        memset(buf, 'w', sizeof buf);
                        if (!WriteFile(c, buf, sizeof buf, &n, NULL) || n != sizeof buf)
                                _exit(5);
                        CloseHandle(c);
                        _exit(0);
                case 'q':
                        CloseHandle(c);
                        _exit(0);
                }
                if (!ok)
                        _exit(4);
        }
        _exit(0);
}

static void tell(struct peer *p, char cmd)
{
        ck_assert_int_eq(write(p->ctl, &cmd, 1), 1);
}

static void peer_start(struct peer *p)
{
        W_NAME(name);
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        /* fork before the library starts its threads (ThreadSanitizer
         * does not allow threads in a child of a threaded process) */
        p->pid = fork();
        ck_assert_int_ge(p->pid, 0);
        if (p->pid == 0) {
                close(fds[1]);
                child(name, fds[0]);
        }
        close(fds[0]);
        p->ctl = fds[1];
        p->srv = w_server(name, FILE_FLAG_OVERLAPPED,
                          PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, QUOTA);
        HANDLE ev = w_event(TRUE, FALSE);
        OVERLAPPED ov;
        DWORD n;
        w_ov(&ov, ev);
        BOOL at_once = ConnectNamedPipe(p->srv, &ov);
        tell(p, 'c');
        if (!at_once) {
                DWORD e = GetLastError();
                ck_assert_msg(e == ERROR_IO_PENDING || e == ERROR_PIPE_CONNECTED, "connect %lu",
                              (unsigned long)e);
                if (e == ERROR_IO_PENDING && !GetOverlappedResultEx(p->srv, &ov, &n, W_LONG, FALSE)) {
                        int st = 0;
                        pid_t w = waitpid(p->pid, &st, WNOHANG);
                        ck_abort_msg("no client: err %lu, child %s status %d",
                                     (unsigned long)GetLastError(), w == p->pid ? "ended" : "runs",
                                     st);
                }
        }
        CloseHandle(ev);
}

static void peer_end(struct peer *p)
{
        int st;
        tell(p, 'q');
        close(p->ctl);
        ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
        CloseHandle(p->srv);
}

static void pending_read(HANDLE h, char *buf, DWORD len, OVERLAPPED *ov)
{
        WT_FAILS(ReadFile(h, buf, len, NULL, ov), ERROR_IO_PENDING);
}

/* covers: ORDER-01 (the waiter of the second read does not overtake the first) */
START_TEST(help_second_read_waits_for_first)
{
        struct peer p;
        OVERLAPPED ov1, ov2;
        HANDLE ev1 = w_event(TRUE, FALSE), ev2 = w_event(TRUE, FALSE);
        char b1[8] = {0}, b2[8] = {0};
        DWORD n = 0;

        peer_start(&p);
        w_ov(&ov1, ev1);
        w_ov(&ov2, ev2);
        pending_read(p.srv, b1, sizeof b1, &ov1);
        pending_read(p.srv, b2, sizeof b2, &ov2);
        tell(&p, 'A');
        tell(&p, 'B');
        WT_OK(GetOverlappedResult(p.srv, &ov2, &n, TRUE));
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(b2[0], 'B');
        /* the first completed before the second: no wait needed */
        ck_assert_uint_eq((DWORD)ov1.Internal, 0);
        ck_assert(W_SIGNALLED(ev1));
        WT_OK(GetOverlappedResult(p.srv, &ov1, &n, FALSE));
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(b1[0], 'A');
        CloseHandle(ev1);
        CloseHandle(ev2);
        peer_end(&p);
}
END_TEST

struct gor_arg {
        HANDLE h;
        OVERLAPPED *ov;
        BOOL ok;
};

static void *gor_thread(void *arg)
{
        struct gor_arg *a = arg;
        DWORD n = 0;
        a->ok = GetOverlappedResult(a->h, a->ov, &n, TRUE) && n == 1;
        return NULL;
}

/* covers: ORDER-01 (a thread that sees the second read's event set finds
 * the first complete too, while another thread's GetOverlappedResult
 * completes the second and the completion thread the first: the two
 * completions ran at once and could signal out of order) */
START_TEST(help_reads_signal_in_order_to_a_third_thread)
{
        struct peer p;
        HANDLE ev1 = w_event(TRUE, FALSE), ev2 = w_event(TRUE, FALSE);

        peer_start(&p);
        for (int round = 0; round < 200; round++) {
                OVERLAPPED ov1, ov2;
                char b1[8] = {0}, b2[8] = {0};
                w_ov(&ov1, ev1);
                w_ov(&ov2, ev2);
                pending_read(p.srv, b1, sizeof b1, &ov1);
                pending_read(p.srv, b2, sizeof b2, &ov2);
                struct gor_arg a = {p.srv, &ov2, FALSE};
                pthread_t t;
                ck_assert_int_eq(pthread_create(&t, NULL, gor_thread, &a), 0);
                tell(&p, 'A');
                tell(&p, 'B');
                ck_assert_uint_eq(WaitForSingleObject(ev2, W_LONG), WAIT_OBJECT_0);
                ck_assert_msg((DWORD)ov1.Internal == 0, "round %d: the second read signalled "
                              "before the first completed", round);
                ck_assert(W_SIGNALLED(ev1));
                ck_assert_int_eq(pthread_join(t, NULL), 0);
                ck_assert(a.ok);
                ck_assert_int_eq(b1[0], 'A');
                ck_assert_int_eq(b2[0], 'B');
        }
        CloseHandle(ev1);
        CloseHandle(ev2);
        peer_end(&p);
}
END_TEST

/* covers: ORDER-04 (pending writes go into the pipe in the order they
 * were issued: a write issued just as the reader made room must not pass
 * an earlier one that was waiting for room, whoever steps which) */
START_TEST(help_writes_keep_order_when_the_ring_is_full)
{
        enum { MSG = 1000, FILL = 80, ROUNDS = 300 };
        struct peer p;
        static char bufs[FILL + ROUNDS][MSG];
        static OVERLAPPED ov[FILL + ROUNDS];
        DWORD n;

        peer_start(&p);
        /* more than the ring holds: the last ones wait for room */
        int issued = 0, read = 0;
        for (; issued < FILL + ROUNDS; issued++) {
                uint32_t k = (uint32_t)issued;
                memset(bufs[issued], 'x', MSG);
                memcpy(bufs[issued], &k, sizeof k);
                w_ov(&ov[issued], w_event(TRUE, FALSE));
                if (issued >= FILL) {
                        /* the reader makes room for one, and this write
                         * comes at a varying moment around it */
                        tell(&p, 'n');
                        read++;
                        for (volatile int spin = 0; spin < (issued * 7919) % 30000; spin++)
                                ;
                }
                BOOL ok = WriteFile(p.srv, bufs[issued], MSG, NULL, &ov[issued]);
                ck_assert(ok || GetLastError() == ERROR_IO_PENDING);
                /* and at times waits for the one before it */
                if (issued % 5 == 0 && issued > FILL)
                        (void)GetOverlappedResultEx(p.srv, &ov[issued - 1], &n, 0, FALSE);
        }
        for (; read < issued; read++)
                tell(&p, 'n');
        for (int i = 0; i < issued; i++) {
                WT_OK(GetOverlappedResult(p.srv, &ov[i], &n, TRUE));
                ck_assert_uint_eq(n, MSG);
                CloseHandle(ov[i].hEvent);
        }
        /* the child exits 0 only if every number came in order */
        peer_end(&p);
}
END_TEST

/* covers: OVL-09 (a wait that times out leaves the operation pending; it
 * completes later without anybody waiting in GetOverlappedResult) */
START_TEST(help_timeout_hands_back)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(TRUE, FALSE);
        char buf[16];
        DWORD n = 0;

        peer_start(&p);
        w_ov(&ov, ev);
        pending_read(p.srv, buf, sizeof buf, &ov);
        WT_FAILS(GetOverlappedResultEx(p.srv, &ov, &n, 20, FALSE), WAIT_TIMEOUT);
        ck_assert_uint_eq((DWORD)ov.Internal, (DWORD)STATUS_PENDING);
        ck_assert(!W_SIGNALLED(ev));
        tell(&p, 'h');
        /* the completion thread has it back: the event is set with nobody
         * in GetOverlappedResult */
        ck_assert_uint_eq(WaitForSingleObject(ev, W_LONG), WAIT_OBJECT_0);
        ck_assert_uint_eq((DWORD)ov.Internal, 0);
        ck_assert_uint_eq(ov.InternalHigh, 5);
        ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
        CloseHandle(ev);
        peer_end(&p);
}
END_TEST

/* 50 reads that pend, each completed by GetOverlappedResult with an event
 * of the kind asked for; after each, a manual-reset event is still set. */
static void help_rounds(BOOL manual)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(manual, FALSE);
        char buf[16];
        DWORD n = 0;

        peer_start(&p);
        for (int i = 0; i < 50; i++) {
                w_ov(&ov, ev);
                pending_read(p.srv, buf, sizeof buf, &ov);
                tell(&p, 'h');
                WT_OK(GetOverlappedResult(p.srv, &ov, &n, TRUE));
                ck_assert_uint_eq(n, 5);
                ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
                if (manual) {
                        ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_OBJECT_0);
                        ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_OBJECT_0);
                }
        }
        CloseHandle(ev);
        peer_end(&p);
}

/* covers: OVL-14 (GetOverlappedResult waits on the OVERLAPPED's event, here
 * an auto-reset one).  When the operation was still pending as the call
 * began, the wait takes the event's signal, as Wine 8.0 does; when it had
 * completed before, the event stays signalled.  Which of the two happens
 * here is a race with the child, so only the results are asserted. */
START_TEST(help_with_auto_reset_event)
{
        help_rounds(FALSE);
}
END_TEST

/* covers: OVL-14 (a manual-reset event set by the completion stays set
 * after GetOverlappedResult, whichever thread completed the operation) */
START_TEST(help_leaves_manual_event_signalled)
{
        help_rounds(TRUE);
}
END_TEST

struct canceller {
        HANDLE h;
        OVERLAPPED *ov;
};

static void *cancel_until_found(void *arg)
{
        struct canceller *c = arg;
        while (!CancelIoEx(c->h, c->ov))
                if (GetLastError() != ERROR_NOT_FOUND)
                        return (void *)1;
        return NULL;
}

/* covers: CANCEL-01 (CancelIoEx from another thread ends the wait with
 * ERROR_OPERATION_ABORTED, whether it comes before or during the wait) */
START_TEST(help_cancelled_by_other_thread)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(TRUE, FALSE);
        char buf[16];
        DWORD n = 7;
        pthread_t t;

        peer_start(&p);
        for (int i = 0; i < 20; i++) {
                w_ov(&ov, ev);
                pending_read(p.srv, buf, sizeof buf, &ov);
                struct canceller c = {p.srv, &ov};
                ck_assert_int_eq(pthread_create(&t, NULL, cancel_until_found, &c), 0);
                WT_FAILS(GetOverlappedResult(p.srv, &ov, &n, TRUE), ERROR_OPERATION_ABORTED);
                void *r;
                ck_assert_int_eq(pthread_join(t, &r), 0);
                ck_assert_ptr_null(r);
                ck_assert_uint_eq((DWORD)ov.Internal, (DWORD)STATUS_CANCELLED);
        }
        /* the pipe still works */
        w_ov(&ov, ev);
        pending_read(p.srv, buf, sizeof buf, &ov);
        tell(&p, 'h');
        WT_OK(GetOverlappedResult(p.srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, 5);
        CloseHandle(ev);
        peer_end(&p);
}
END_TEST

/* covers: CLOSE-06 (the peer's close ends a waited read with ERROR_BROKEN_PIPE) */
START_TEST(help_peer_closes)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(TRUE, FALSE);
        char buf[16];
        DWORD n = 0;
        int st;

        peer_start(&p);
        w_ov(&ov, ev);
        pending_read(p.srv, buf, sizeof buf, &ov);
        tell(&p, 'q');
        WT_FAILS(GetOverlappedResult(p.srv, &ov, &n, TRUE), ERROR_BROKEN_PIPE);
        ck_assert_int_eq(waitpid(p.pid, &st, 0), p.pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(p.ctl);
        CloseHandle(ev);
        CloseHandle(p.srv);
}
END_TEST

/* covers: QUOTA-03 (a write beyond the quota pends until the peer reads;
 * the waiter completes it with the whole count) */
START_TEST(help_pending_write)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(TRUE, FALSE);
        static char big[3 * QUOTA];
        DWORD n = 0;

        memset(big, 'x', sizeof big);
        peer_start(&p);
        for (int i = 0; i < 10; i++) {
                w_ov(&ov, ev);
                WT_FAILS(WriteFile(p.srv, big, sizeof big, NULL, &ov), ERROR_IO_PENDING);
                tell(&p, 'r');
                WT_OK(GetOverlappedResult(p.srv, &ov, &n, TRUE));
                ck_assert_uint_eq(n, sizeof big);
        }
        CloseHandle(ev);
        peer_end(&p);
}
END_TEST

/* A pending read's completion without anybody waiting for it: the
 * completion thread takes it even when the start deferred its kick (the
 * starts after the first defer while it ticks; see np_op_enqueue). */
static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* covers: OVL-03 (a pending read completes, OVERLAPPED filled and event
 * set, with no thread in a wait: this one only polls the OVERLAPPED) */
START_TEST(help_completes_without_a_waiter)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(TRUE, FALSE);
        char buf[16];

        peer_start(&p);
        for (int i = 0; i < 20; i++) {
                memset(buf, 0, sizeof buf);
                w_ov(&ov, ev);
                pending_read(p.srv, buf, sizeof buf, &ov);
                tell(&p, 'h');
                /* HasOverlappedIoCompleted, read with acquire: the
                 * completion stores Internal last, with release, so the
                 * buffer is ours to read once it is seen */
                int64_t end = mono_ms() + W_LONG;
                while (__atomic_load_n(&ov.Internal, __ATOMIC_ACQUIRE) == STATUS_PENDING &&
                       mono_ms() < end)
                        sched_yield();
                ck_assert_msg(HasOverlappedIoCompleted(&ov), "round %d: still pending", i);
                ck_assert_uint_eq((DWORD)ov.Internal, 0);
                ck_assert_uint_eq(ov.InternalHigh, 5);
                ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
                ck_assert(W_SIGNALLED(ev));
        }
        CloseHandle(ev);
        peer_end(&p);
}
END_TEST

/* covers: QUOTA-03 (the peer's write beyond the quota returns once our
 * pending read has drained it, while this process blocks outside the
 * library: in waitpid, for the writer to end) */
START_TEST(help_pending_read_drains_while_blocked_elsewhere)
{
        struct peer p;
        OVERLAPPED ov;
        HANDLE ev = w_event(TRUE, FALSE);
        static char big[4 * QUOTA];
        char small[16];
        DWORD n = 0;
        int st = 0;

        peer_start(&p);
        /* one completed round first: the next start defers its kick */
        w_ov(&ov, ev);
        pending_read(p.srv, small, sizeof small, &ov);
        tell(&p, 'h');
        WT_OK(GetOverlappedResult(p.srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, 5);

        w_ov(&ov, ev);
        pending_read(p.srv, big, sizeof big, &ov);
        tell(&p, 'W');
        ck_assert_int_eq(waitpid(p.pid, &st, 0), p.pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
        WT_OK(GetOverlappedResult(p.srv, &ov, &n, TRUE));
        ck_assert_uint_eq(n, sizeof big);
        for (size_t i = 0; i < sizeof big; i++)
                ck_assert_int_eq(big[i], 'w');
        close(p.ctl);
        CloseHandle(ev);
        CloseHandle(p.srv);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-help");
        TCase *tc = h_tcase("help", 60);
        tcase_add_test(tc, help_second_read_waits_for_first);
        tcase_add_test(tc, help_reads_signal_in_order_to_a_third_thread);
        tcase_add_test(tc, help_writes_keep_order_when_the_ring_is_full);
        tcase_add_test(tc, help_timeout_hands_back);
        tcase_add_test(tc, help_with_auto_reset_event);
        tcase_add_test(tc, help_leaves_manual_event_signalled);
        tcase_add_test(tc, help_cancelled_by_other_thread);
        tcase_add_test(tc, help_peer_closes);
        tcase_add_test(tc, help_pending_write);
        tcase_add_test(tc, help_completes_without_a_waiter);
        tcase_add_test(tc, help_pending_read_drains_while_blocked_elsewhere);
        suite_add_tcase(s, tc);
        return h_run(s);
}
