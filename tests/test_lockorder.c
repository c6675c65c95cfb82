/*
 * test_lockorder.c - blocking and overlapped calls mixed on one end, where
 * one used to wait for a lock the other slept holding (issue 12, defect 3).
 *
 * A blocking write that found the ring owned by an overlapped write still
 * streaming a large message slept holding h->wr; closing the end cancels
 * the overlapped write, which needs h->wr to take its bytes back, and the
 * blocking write waited for the very write the close was cancelling: the
 * close never returned.  The debug builds' lock checker (src/os/lockorder.h)
 * also watches the other half of the defect on every run of the suites: no
 * h->rd or h->wr is ever waited for under a shard lock.
 */
#include "harness.h"
#include "client/async.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct done {
        _Atomic int called;
        int status;
};

static void on_done(void *ctx, int status, size_t bytes)
{
        struct done *d = ctx;
        (void)bytes;
        d->status = status;
        atomic_store(&d->called, 1);
}

struct writer {
        npipe_t *h;
        _Atomic pid_t tid;
        int status;
};

static void *blocking_write(void *arg)
{
        struct writer *w = arg;
        size_t n;
        atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
        w->status = npipe_write(w->h, "x", 1, &n);
        return NULL;
}

/* Has thread `tid` of this process gone to sleep (state S in /proc)? */
static int thread_sleeps(pid_t tid)
{
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
        FILE *f = fopen(path, "r");
        if (!f)
                return 0;
        int got = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        const char *p = got ? strrchr(line, ')') : NULL;
        return p && p[1] == ' ' && p[2] == 'S';
}

/* covers: CLOSE-06 QUOTA-07 */
START_TEST(test_close_with_blocking_write_behind_overlapped)
{
        H_NAME(name, "lockorder");
        static char big[256 * 1024];
        npipe_t *s, *c;
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        o.in_quota = o.out_quota = 1024;
        s = h_create(name, &o);
        ck_assert_ok(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 1000, &c));
        /* larger than the ring: it streams and owns the ring until whole;
         * the client never reads */
        struct done d = {0};
        size_t n = 0;
        ck_assert_int_eq(np_async_write(s, big, sizeof big, &n, on_done, &d), NP_ASYNC_PENDING);
        struct writer w = {.h = s};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, blocking_write, &w), 0);
        /* until the blocking write sleeps behind the overlapped one */
        for (int i = 0; !(atomic_load(&w.tid) && thread_sleeps(atomic_load(&w.tid))); i++) {
                ck_assert_msg(i < 10000000, "the blocking write never slept");
                sched_yield();
        }
        /* before the fix this close waited for h->wr for good */
        ck_assert_ok(npipe_close(s));
        ck_assert(atomic_load(&d.called));
        ck_assert_int_eq(d.status, NPIPE_ECANCELED);
        pthread_join(t, NULL);
        /* the blocking write's handle was closed under it (CLOSE-06) */
        ck_assert_msg(w.status == NPIPE_EBADF || w.status == NPIPE_ECLOSING ||
                          w.status == NPIPE_EPIPE,
                      "blocking write: %s", npipe_err_name(w.status));
        /* nothing of the cancelled message reaches the reader */
        char buf[16];
        ck_assert_status(npipe_read(c, buf, sizeof buf, &n), NPIPE_EPIPE);
        npipe_close(c);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("lockorder");
        TCase *tc = h_tcase("lockorder", 60);
        tcase_add_test(tc, test_close_with_blocking_write_behind_overlapped);
        suite_add_tcase(s, tc);
        return h_run(s);
}
