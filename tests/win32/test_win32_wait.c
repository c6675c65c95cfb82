/*
 * test_win32_wait.c - events, WaitForSingleObject / WaitForMultipleObjects,
 * the signal state of pipe handles, handle validation, the thread-local last
 * error and wide-character names (spec MISC-01, CREATE-09, DISC-04, OVL-14).
 */
#include "w_test.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* covers: MISC-01 */
START_TEST(events)
{
        HANDLE m = w_event(TRUE, FALSE), a = w_event(FALSE, TRUE);
        ck_assert_uint_eq(WaitForSingleObject(m, 0), WAIT_TIMEOUT);
        WT_OK(SetEvent(m));
        /* manual reset: stays signalled */
        ck_assert_uint_eq(WaitForSingleObject(m, 0), WAIT_OBJECT_0);
        ck_assert_uint_eq(WaitForSingleObject(m, 0), WAIT_OBJECT_0);
        WT_OK(ResetEvent(m));
        ck_assert_uint_eq(WaitForSingleObject(m, 0), WAIT_TIMEOUT);
        /* auto reset: one wait takes the signal */
        ck_assert_uint_eq(WaitForSingleObject(a, 0), WAIT_OBJECT_0);
        ck_assert_uint_eq(WaitForSingleObject(a, 0), WAIT_TIMEOUT);
        WT_OK(SetEvent(a));
        WT_OK(SetEvent(a));
        ck_assert_uint_eq(WaitForSingleObject(a, 0), WAIT_OBJECT_0);
        ck_assert_uint_eq(WaitForSingleObject(a, 0), WAIT_TIMEOUT);
        /* wrong types and closed handles */
        HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
        WT_FAILS(SetEvent(port), ERROR_INVALID_HANDLE);
        CloseHandle(port);
        WT_OK(CloseHandle(m));
        WT_FAILS(SetEvent(m), ERROR_INVALID_HANDLE);
        WT_FAILS(CloseHandle(m), ERROR_INVALID_HANDLE);
        npipe_win_SetLastError(0);
        ck_assert_uint_eq(WaitForSingleObject(m, 0), WAIT_FAILED);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        /* a slot reused by a new handle does not answer to the old one */
        HANDLE again = w_event(TRUE, TRUE);
        if (again != m)
                WT_FAILS(SetEvent(m), ERROR_INVALID_HANDLE);
        CloseHandle(again);
        CloseHandle(a);
}
END_TEST

/* covers: MISC-01 */
START_TEST(named_events)
{
        HANDLE a = CreateEventA(NULL, TRUE, FALSE, "npipe-test-event");
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(GetLastError(), ERROR_SUCCESS);
        HANDLE b = CreateEventA(NULL, TRUE, FALSE, "npipe-test-event");
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(GetLastError(), ERROR_ALREADY_EXISTS);
        ck_assert_ptr_ne(a, b);
        SetEvent(a);
        ck_assert(W_SIGNALLED(b));
        CloseHandle(a);
        /* the name lives while one handle does */
        HANDLE c = CreateEventA(NULL, TRUE, FALSE, "npipe-test-event");
        ck_assert_uint_eq(GetLastError(), ERROR_ALREADY_EXISTS);
        ck_assert(W_SIGNALLED(c));
        CloseHandle(b);
        CloseHandle(c);
        WCHAR wname[] = {'n', 'p', '-', 'w', 0};
        HANDLE w = CreateEventW(NULL, FALSE, FALSE, wname);
        ck_assert_ptr_nonnull(w);
        HANDLE w2 = CreateEventA(NULL, FALSE, FALSE, "np-w");
        ck_assert_uint_eq(GetLastError(), ERROR_ALREADY_EXISTS);
        CloseHandle(w);
        CloseHandle(w2);
}
END_TEST

/* covers: MISC-01 */
START_TEST(wait_multiple)
{
        HANDLE e[3] = {w_event(TRUE, FALSE), w_event(TRUE, FALSE), w_event(FALSE, FALSE)};
        ck_assert_uint_eq(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_TIMEOUT);
        SetEvent(e[2]);
        SetEvent(e[1]);
        /* any: the lowest signalled index */
        ck_assert_uint_eq(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_OBJECT_0 + 1);
        /* all: not until every one is signalled, and nothing is taken before */
        ck_assert_uint_eq(WaitForMultipleObjects(3, e, TRUE, 0), WAIT_TIMEOUT);
        ck_assert(W_SIGNALLED(e[1]));
        SetEvent(e[0]);
        ck_assert_uint_eq(WaitForMultipleObjects(3, e, TRUE, 0), WAIT_OBJECT_0);
        /* the auto-reset one was taken by the wait for all */
        ck_assert_uint_eq(WaitForSingleObject(e[2], 0), WAIT_TIMEOUT);
        /* parameter errors */
        npipe_win_SetLastError(0);
        ck_assert_uint_eq(WaitForMultipleObjects(0, e, FALSE, 0), WAIT_FAILED);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        HANDLE many[MAXIMUM_WAIT_OBJECTS + 1];
        for (int i = 0; i <= MAXIMUM_WAIT_OBJECTS; i++)
                many[i] = e[0];
        ck_assert_uint_eq(WaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS + 1, many, FALSE, 0),
                          WAIT_FAILED);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        /* the same object twice: fine for any, refused for all */
        ck_assert_uint_eq(WaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, many, FALSE, 0),
                          WAIT_OBJECT_0);
        ck_assert_uint_eq(WaitForMultipleObjects(2, many, TRUE, 0), WAIT_FAILED);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        HANDLE bad[2] = {e[0], (HANDLE)(uintptr_t)0x12345678};
        ck_assert_uint_eq(WaitForMultipleObjects(2, bad, FALSE, 0), WAIT_FAILED);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        for (int i = 0; i < 3; i++)
                CloseHandle(e[i]);
}
END_TEST

struct setter {
        HANDLE ev, watch;
};

static void *set_later(void *arg)
{
        struct setter *s = arg;
        /* evidence that the other thread waits: nobody sets `watch` */
        WaitForSingleObject(s->watch, 150);
        SetEvent(s->ev);
        return NULL;
}

static int64_t cpu_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* covers: MISC-01 */
START_TEST(blocking_waits)
{
        HANDLE e[2] = {w_event(TRUE, FALSE), w_event(FALSE, FALSE)};
        HANDLE watch = w_event(TRUE, FALSE);
        /* a timeout is waited, without burning the CPU */
        int64_t t0 = h_now_ms(), c0 = cpu_ns();
        ck_assert_uint_eq(WaitForMultipleObjects(2, e, FALSE, 300), WAIT_TIMEOUT);
        int64_t dt = h_now_ms() - t0, dc = cpu_ns() - c0;
        ck_assert_msg(dt >= 290, "timed out after %lld ms", (long long)dt);
        ck_assert_msg(dc < 100000000, "waiting used %lld ms of CPU", (long long)(dc / 1000000));
        /* a waiter is released by SetEvent from another thread */
        struct setter s = {e[1], watch};
        pthread_t t;
        pthread_create(&t, NULL, set_later, &s);
        ck_assert_uint_eq(WaitForMultipleObjects(2, e, FALSE, W_LONG), WAIT_OBJECT_0 + 1);
        pthread_join(t, NULL);
        ck_assert_uint_eq(WaitForSingleObject(e[1], 0), WAIT_TIMEOUT);
        /* a wait for all is released only by the last one */
        s.ev = e[0];
        SetEvent(e[1]);
        pthread_create(&t, NULL, set_later, &s);
        ck_assert_uint_eq(WaitForMultipleObjects(2, e, TRUE, W_LONG), WAIT_OBJECT_0);
        pthread_join(t, NULL);
        ck_assert_uint_eq(WaitForSingleObject(e[1], 0), WAIT_TIMEOUT);
        CloseHandle(e[0]);
        CloseHandle(e[1]);
        CloseHandle(watch);
}
END_TEST

struct racer {
        HANDLE ev;
        int got;
};

static void *take_one(void *arg)
{
        struct racer *r = arg;
        r->got = WaitForSingleObject(r->ev, 2000) == WAIT_OBJECT_0;
        return NULL;
}

/* covers: MISC-01 */
START_TEST(auto_reset_releases_one)
{
        HANDLE ev = w_event(FALSE, FALSE);
        struct racer r[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
                r[i] = (struct racer){ev, 0};
                pthread_create(&t[i], NULL, take_one, &r[i]);
        }
        /* each SetEvent releases exactly one waiter */
        for (int i = 0; i < 4; i++) {
                HANDLE watch = w_event(TRUE, FALSE);
                WaitForSingleObject(watch, 20);
                CloseHandle(watch);
                SetEvent(ev);
        }
        int got = 0;
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                got += r[i].got;
        }
        /* a SetEvent before a thread started waiting is kept for it */
        ck_assert_int_eq(got, 4);
        CloseHandle(ev);
}
END_TEST

/* covers: CREATE-09 DISC-04 OVL-14 */
START_TEST(pipe_handle_signal)
{
        HANDLE srv, cli;
        char buf[8];
        DWORD n;
        w_pair(PIPE_TYPE_BYTE, 0, 0, 1024, &srv, &cli);
        ck_assert(W_SIGNALLED(srv));
        ck_assert(W_SIGNALLED(cli));
        w_write(cli, "x");
        ck_assert(W_SIGNALLED(cli));
        WT_OK(DisconnectNamedPipe(srv));
        /* the detached client's failing I/O leaves it unsignalled */
        WT_FAILS(ReadFile(cli, buf, sizeof(buf), &n, NULL), ERROR_PIPE_NOT_CONNECTED);
        ck_assert(!W_SIGNALLED(cli));
        /* a pipe handle in a wait with an event */
        HANDLE ev = w_event(TRUE, FALSE);
        HANDLE both[2] = {ev, srv};
        ck_assert_uint_eq(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0 + 1);
        CloseHandle(ev);
        CloseHandle(cli);
        CloseHandle(srv);
}
END_TEST

static void *other_thread_error(void *arg)
{
        DWORD *out = arg;
        *out = GetLastError();
        SetLastError(1234);
        return NULL;
}

/* covers: MISC-01 */
START_TEST(last_error_is_per_thread)
{
        SetLastError(42);
        DWORD seen = 0xdead;
        pthread_t t;
        pthread_create(&t, NULL, other_thread_error, &seen);
        pthread_join(t, NULL);
        ck_assert_uint_eq(seen, 0);
        ck_assert_uint_eq(GetLastError(), 42);
        ck_assert_uint_eq(GetCurrentProcessId(), (DWORD)getpid());
}
END_TEST

/* covers: NAME-01 NAME-03 NAME-04 NAME-05 NAME-13 */
START_TEST(names)
{
        /* wide names: UTF-16 with a surrogate pair, met by the same UTF-8 name */
        W_NAME(base);
        char utf8[300];
        snprintf(utf8, sizeof(utf8), "%s-\xF0\x9F\x98\x80-\xC3\xA9", base);
        WCHAR wide[300];
        size_t i = 0;
        for (; base[i]; i++)
                wide[i] = (WCHAR)base[i];
        wide[i++] = '-';
        wide[i++] = 0xD83D;
        wide[i++] = 0xDE00;
        wide[i++] = '-';
        wide[i++] = 0x00E9;
        wide[i] = 0;
        HANDLE srv = CreateNamedPipeW(wide, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 64, 64, 0, NULL);
        ck_assert_msg(srv != INVALID_HANDLE_VALUE, "CreateNamedPipeW: %lu",
                      (unsigned long)GetLastError());
        WT_OK(WaitNamedPipeA(utf8, 100));
        HANDLE cli = w_client(utf8, 0);
        CloseHandle(cli);
        CloseHandle(srv);
        /* an unpaired surrogate has no UTF-8 form */
        wide[i - 4] = 0xD83D;
        wide[i - 3] = 'x';
        ck_assert_ptr_eq(
            CreateNamedPipeW(wide, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 64, 64, 0, NULL),
            INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_NAME);
        /* the prefix in other spellings reaches the same pipe */
        W_NAME(n2);
        srv = w_server(n2, 0, PIPE_TYPE_BYTE, 64);
        char alt[300];
        snprintf(alt, sizeof(alt), "//./PIPE/%s", n2 + 9);
        cli = w_client(alt, 0);
        CloseHandle(cli);
        HANDLE srv2 = w_server(n2, 0, PIPE_TYPE_BYTE, 64);
        snprintf(alt, sizeof(alt), "\\\\?\\pipe\\%s", n2 + 9);
        cli = w_client(alt, 0);
        CloseHandle(cli);
        CloseHandle(srv2);
        CloseHandle(srv);
        /* not pipes */
        ck_assert_ptr_eq(
            CreateFileA("/etc/passwd-not", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL),
            INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_FILE_NOT_FOUND);
        ck_assert_ptr_eq(CreateFileA("C:\\a?b", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_NAME);
        ck_assert_ptr_eq(CreateFileA(NULL, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_PATH_NOT_FOUND);
        ck_assert_ptr_eq(CreateNamedPipeA("\\\\server\\pipe\\x", PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE,
                                          1, 64, 64, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_NAME);
        WT_FAILS(WaitNamedPipeA("no pipe path", 10), ERROR_BAD_PATHNAME);
        WT_FAILS(WaitNamedPipeA("\\\\.\\pipe\\npipe-never-made", 10), ERROR_FILE_NOT_FOUND);
        ck_assert_uint_eq(GetFileType(INVALID_HANDLE_VALUE), FILE_TYPE_UNKNOWN);
}
END_TEST

/* covers: CREATE-01 CREATE-02 CREATE-03 CREATE-04 CREATE-05 */
START_TEST(create_parameters)
{
        W_NAME(name);
        ck_assert_ptr_eq(CreateNamedPipeA(name, 0, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        ck_assert_ptr_eq(
            CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | 0x10, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL),
            INVALID_HANDLE_VALUE);
        ck_assert_ptr_eq(CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, 0x10, 1, 0, 0, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_ptr_eq(
            CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_READMODE_MESSAGE, 1, 0, 0, 0, NULL),
            INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        ck_assert_ptr_eq(
            CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 0, 0, 0, 0, NULL),
            INVALID_HANDLE_VALUE);
        ck_assert_ptr_eq(
            CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 256, 0, 0, 0, NULL),
            INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        /* 255 is unlimited, and reads back as 255 */
        HANDLE h = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE,
                                    PIPE_UNLIMITED_INSTANCES, 0, 0, 0, NULL);
        ck_assert(h != INVALID_HANDLE_VALUE);
        DWORD max = 0;
        WT_OK(GetNamedPipeInfo(h, NULL, NULL, NULL, &max));
        ck_assert_uint_eq(max, 255);
        /* nDefaultTimeOut 0 is 50 ms: WaitNamedPipe(default) on a busy pipe */
        HANDLE cli = w_client(name, 0);
        int64_t t0 = h_now_ms();
        WT_FAILS(WaitNamedPipeA(name, NMPWAIT_USE_DEFAULT_WAIT), ERROR_SEM_TIMEOUT);
        int64_t dt = h_now_ms() - t0;
        ck_assert_msg(dt >= 40 && dt < 1000, "default wait took %lld ms", (long long)dt);
        CloseHandle(cli);
        CloseHandle(h);
        /* FILE_FLAG_FIRST_PIPE_INSTANCE */
        h = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                             PIPE_TYPE_BYTE, 2, 0, 0, 0, NULL);
        ck_assert(h != INVALID_HANDLE_VALUE);
        ck_assert_ptr_eq(CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                          PIPE_TYPE_BYTE, 2, 0, 0, 0, NULL),
                         INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_ACCESS_DENIED);
        CloseHandle(h);
}
END_TEST

/* covers: ANON-01 ANON-02 ANON-03 */
START_TEST(anonymous_pipes)
{
        HANDLE r, w;
        DWORD flags, out, in, max, n, mode;
        char buf[64];
        WT_OK(CreatePipe(&r, &w, NULL, 0));
        WT_OK(GetNamedPipeInfo(r, &flags, &out, &in, &max));
        ck_assert_uint_eq(flags, PIPE_SERVER_END);
        ck_assert_uint_eq(out, 4096);
        ck_assert_uint_eq(in, 4096);
        ck_assert_uint_eq(max, 1);
        WT_OK(GetNamedPipeInfo(w, &flags, NULL, NULL, NULL));
        ck_assert_uint_eq(flags, PIPE_CLIENT_END);
        /* each end keeps to its direction */
        WT_FAILS(WriteFile(r, "x", 1, &n, NULL), ERROR_ACCESS_DENIED);
        WT_FAILS(ReadFile(w, buf, 1, &n, NULL), ERROR_ACCESS_DENIED);
        /* both ends may set the (byte) mode */
        mode = PIPE_READMODE_BYTE;
        WT_OK(SetNamedPipeHandleState(r, &mode, NULL, NULL));
        WT_OK(SetNamedPipeHandleState(w, &mode, NULL, NULL));
        mode = PIPE_READMODE_MESSAGE;
        WT_FAILS(SetNamedPipeHandleState(r, &mode, NULL, NULL), ERROR_INVALID_PARAMETER);
        w_write(w, "anon");
        w_write(w, "ymous");
        CloseHandle(w);
        WT_OK(ReadFile(r, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 9);
        WT_FAILS(ReadFile(r, buf, sizeof(buf), &n, NULL), ERROR_BROKEN_PIPE);
        CloseHandle(r);
        /* a size of 1 is 1 */
        WT_OK(CreatePipe(&r, &w, NULL, 1));
        WT_OK(GetNamedPipeInfo(w, NULL, &out, &in, NULL));
        ck_assert_uint_eq(out, 1);
        ck_assert_uint_eq(in, 1);
        CloseHandle(r);
        CloseHandle(w);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-wait");
        TCase *tc = h_tcase("wait", 60);
        tcase_add_test(tc, events);
        tcase_add_test(tc, named_events);
        tcase_add_test(tc, wait_multiple);
        tcase_add_test(tc, blocking_waits);
        tcase_add_test(tc, auto_reset_releases_one);
        tcase_add_test(tc, pipe_handle_signal);
        tcase_add_test(tc, last_error_is_per_thread);
        tcase_add_test(tc, names);
        tcase_add_test(tc, create_parameters);
        tcase_add_test(tc, anonymous_pipes);
        suite_add_tcase(s, tc);
        return h_run(s);
}
