/*
 * test_broker_stop.c - a stopped broker (SIGSTOP) bounds every call by its
 * timeout (issue 12, defect 5).
 *
 * The broker is our own child here (npiped --foreground), so that it can
 * be stopped.  A stopped broker used to block npipe_open whatever its
 * timeout, a server's npipe_close, and - once a blocked send filled the
 * socket - a fork() in another thread, whose handler waited for the lock
 * the send held.
 */
#include "harness.h"
#include "os/os.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t g_broker;

static void broker_start(void)
{
        char dirarg[600];
        snprintf(dirarg, sizeof(dirarg), "--runtime-dir=%s", h_runtime_dir());
        const char *path = getenv("NPIPE_BROKER");
        ck_assert_ptr_nonnull(path);
        g_broker = fork();
        ck_assert_int_ge(g_broker, 0);
        if (g_broker == 0) {
                execl(path, path, "--foreground", dirarg, "--idle-exit=0", (char *)NULL);
                _exit(127);
        }
        /* ready once its socket accepts: before that a library call
         * would start a broker of its own */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", h_runtime_dir(), NP_BROKER_SOCKET);
        for (int i = 0;; i++) {
                int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(fd, 0);
                int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
                close(fd);
                if (ok)
                        break;
                ck_assert_msg(i < 10000, "the broker did not start");
                h_pause();
        }
}

static void broker_freeze(void)
{
        int st;
        ck_assert_int_eq(kill(g_broker, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(g_broker, &st, WUNTRACED), g_broker);
        ck_assert(WIFSTOPPED(st));
}

static void broker_thaw(void)
{
        ck_assert_int_eq(kill(g_broker, SIGCONT), 0);
}

static void broker_end(void)
{
        kill(g_broker, SIGCONT);
        kill(g_broker, SIGTERM);
        waitpid(g_broker, NULL, 0);
}

/* An open with a timeout returns within it (plus the floor of a broker
 * call) while the broker is stopped; the connection the broker made for
 * it once it runs again is closed, not left to the server forever. */
START_TEST(test_open_times_out)
{
        broker_start();
        H_NAME(name, "stopped");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        broker_freeze();
        npipe_t *c = NULL;
        int64_t t0 = h_now_ms();
        int r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 200, &c);
        int64_t took = h_now_ms() - t0;
        ck_assert_int_eq(r, NPIPE_ETIMEDOUT);
        ck_assert_ptr_null(c);
        /* the floor of a broker call is 1 s; far below "forever" */
        ck_assert_msg(took < 5000, "npipe_open took %lld ms", (long long)took);
        broker_thaw();
        /* the late connection is closed: the server sees its client come
         * and go (CLOSING), not a client that stays */
        int st = -1;
        for (int i = 0; i < 20000; i++) {
                st = h_state(s);
                if (st == NPIPE_STATE_CLOSING)
                        break;
                h_pause();
        }
        ck_assert_int_eq(st, NPIPE_STATE_CLOSING);
        ck_assert_ok(npipe_close(s));
        broker_end();
}
END_TEST

/* A server's close (which waits for the broker to drop the name,
 * NAME-17) returns while the broker is stopped. */
START_TEST(test_close_returns)
{
        broker_start();
        H_NAME(name, "closing");
        npipe_t *s = h_server(name, NPIPE_TYPE_BYTE, 0);
        broker_freeze();
        int64_t t0 = h_now_ms();
        ck_assert_ok(npipe_close(s));
        int64_t took = h_now_ms() - t0;
        ck_assert_msg(took < 10000, "npipe_close took %lld ms", (long long)took);
        broker_thaw();
        /* the broker got the close: the name is gone */
        for (int i = 0; npipe_wait(name, 0) != NPIPE_ENOENT; i++) {
                ck_assert_msg(i < 20000, "the name stayed");
                h_pause();
        }
        broker_end();
}
END_TEST

static _Atomic int g_started, g_done;
static char g_long[1100];

static void *waiter(void *arg)
{
        (void)arg;
        atomic_fetch_add(&g_started, 1);
        (void)npipe_wait(g_long, NPIPE_INFINITE);
        atomic_fetch_add(&g_done, 1);
        return NULL;
}

/* Is one of our threads waiting for room in the full socket: asleep in
 * sendmsg (a blocking send), or polling for room (the bounded one)?
 * /proc/self/task/TID/syscall names the call a sleeping thread is in. */
static int a_thread_waits_for_room(void)
{
        DIR *d = opendir("/proc/self/task");
        if (!d)
                return 0;
        int found = 0;
        struct dirent *e;
        while (!found && (e = readdir(d))) {
                char p[300];
                long nr = -1;
                snprintf(p, sizeof(p), "/proc/self/task/%s/syscall", e->d_name);
                FILE *f = fopen(p, "r");
                if (!f)
                        continue;
                if (fscanf(f, "%ld", &nr) == 1)
                        found = nr == SYS_sendmsg
#ifdef SYS_poll
                                || nr == SYS_poll
#endif
                                || nr == SYS_ppoll;
                fclose(f);
        }
        closedir(d);
        return found;
}

/* fork() while the broker is stopped and the socket is full of requests
 * (a thread waits for room to send one more): the fork returns. */
START_TEST(test_fork_while_send_waits)
{
        broker_start();
        strcpy(g_long, "\\\\.\\pipe\\");
        memset(g_long + strlen(g_long), 'w', 250);
        broker_freeze();
        enum { N = 400 };
        static pthread_t t[N];
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 * 1024);
        int n = 0, blocked = 0;
        for (; n < N && !blocked; n++) {
                ck_assert_int_eq(pthread_create(&t[n], &a, waiter, NULL), 0);
                while (atomic_load(&g_started) <= n)
                        h_pause();
                for (int i = 0; i < 20 && !(blocked = a_thread_waits_for_room()); i++)
                        h_pause();
        }
        if (!blocked) {
                fprintf(stderr, "test_fork_while_send_waits: skipped (socket never full)\n");
        } else {
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0)
                        _exit(0);
                int st;
                ck_assert_int_eq(waitpid(pid, &st, 0), pid);
                ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        broker_thaw();
        for (int i = 0; i < n; i++)
                pthread_join(t[i], NULL);
        ck_assert_int_eq(atomic_load(&g_done), n);
        broker_end();
}
END_TEST

int main(void)
{
        Suite *s = suite_create("broker-stop");
        TCase *tc = h_tcase("stop", 90);
        tcase_add_test(tc, test_open_times_out);
        tcase_add_test(tc, test_close_returns);
        tcase_add_test(tc, test_fork_while_send_waits);
        suite_add_tcase(s, tc);
        return h_run(s);
}
