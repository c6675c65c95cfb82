/*
 * open_cycle.c - npipe_open+npipe_close in a loop, for perf to attach to.
 *
 *   open_cycle npipe|unix CYCLES WARMUP CTLDIR
 *
 * Issue 16 asks where the CPU of one open+close cycle goes.  npipe-bench's
 * conn test (bench/conn.c) gives the rate; this program runs the same loops
 * in processes that stay put, with named threads, and waits at a known point
 * so that perf can attach to the client, the server and the broker from
 * outside.  bench/openprof/run.sh starts it and does the attaching; it is
 * not meant to be run by hand.
 *
 * npipe  the process (the server) creates 4 instances of one pipe, each
 *        served by a thread that listens, reads until the client has gone
 *        (EPIPE), disconnects and listens again; a forked child (the client)
 *        does npipe_open+npipe_close.  The broker is the one the library
 *        starts (NPIPE_BROKER, NPIPE_RUNTIME_DIR: run.sh gives every run its
 *        own).
 * unix   the AF_UNIX baseline of bench/conn.c: a server thread that accept4s,
 *        reads to EOF and closes; the child does socket+connect+close.
 *
 * The hand-shake with the caller, through the directory CTLDIR, which holds
 * the FIFOs go, done and exit (made by the caller):
 *   1. the client does WARMUP cycles (libraries loaded, broker started, the
 *      library's event threads running);
 *   2. it writes "SERVER_PID CLIENT_PID [BROKER_PID]" to CTLDIR/pids (the
 *      broker's pid from SO_PEERCRED on its socket; written to pids.tmp and
 *      renamed, so a reader never sees half of it) and blocks on CTLDIR/go;
 *   3. once the caller has attached its tools and written to go, the client
 *      does CYCLES cycles and writes "CYCLES cycles SECONDS s RATE /s" to
 *      CTLDIR/done;
 *   4. it blocks on CTLDIR/exit, so that the tools can be stopped while the
 *      processes still exist, and exits; the server then closes its
 *      instances and exits with the client's status.
 *
 * Thread names, for the comm column of perf script: cli-call (the client's
 * caller), cli-evt (the client library's event thread), srv-inst (the
 * instance threads), srv-evt (the server library's event thread), srv-main
 * (the server's main thread, which only waits).  The library's event threads
 * take the name the thread that starts them has at that moment, hence the
 * renames around the first npipe_create and the first npipe_open.
 *
 * Exit status 0; 1 when a cycle or the set-up failed, 2 for a usage error.
 */
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INSTANCES 4

static _Atomic int stop;
static const char *ctl;

static void set_name(const char *s)
{
        prctl(PR_SET_NAME, s, 0, 0, 0);
}

/* One npipe instance: listen, read until the client has gone, disconnect. */
static void *instance(void *arg)
{
        npipe_t *h = arg;
        char b[8];
        size_t n;
        set_name("srv-inst");
        while (!atomic_load(&stop)) {
                int r = npipe_listen(h, NPIPE_INFINITE);
                if (r < 0 && r != NPIPE_EISCONN)
                        break;
                while (npipe_read(h, b, sizeof(b), &n) == 0)
                        ;
                if (npipe_disconnect(h) < 0)
                        break;
        }
        return NULL;
}

/* The AF_UNIX server: accept, read to EOF, close. */
static void *unix_server(void *arg)
{
        int ls = *(int *)arg;
        char b[8];
        set_name("srv-inst");
        for (;;) {
                int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
                if (s < 0)
                        break;
                while (read(s, b, sizeof(b)) > 0)
                        ;
                close(s);
        }
        return NULL;
}

static void ctl_path(char *p, size_t size, const char *leaf)
{
        if ((size_t)snprintf(p, size, "%s/%s", ctl, leaf) >= size) {
                fprintf(stderr, "open_cycle: CTLDIR too long\n");
                _exit(1);
        }
}

/* Block until the caller writes to the FIFO CTLDIR/LEAF. */
static void fifo_wait(const char *leaf)
{
        char p[PATH_MAX], c;
        ctl_path(p, sizeof(p), leaf);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                perror(p);
                _exit(1);
        }
        while (read(fd, &c, 1) < 0 && errno == EINTR)
                ;
        close(fd);
}

/* Write MSG to CTLDIR/LEAF (a FIFO, or a new file when TMP_LEAF is given:
 * written there and renamed to LEAF). */
static void ctl_write(const char *leaf, const char *tmp_leaf, const char *msg)
{
        char p[PATH_MAX], q[PATH_MAX];
        ctl_path(p, sizeof(p), tmp_leaf ? tmp_leaf : leaf);
        int fd = open(p, tmp_leaf ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_WRONLY | O_CLOEXEC,
                      0644);
        if (fd < 0 || write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
                perror(p);
                _exit(1);
        }
        close(fd);
        if (tmp_leaf) {
                ctl_path(q, sizeof(q), leaf);
                if (rename(p, q) < 0) {
                        perror(q);
                        _exit(1);
                }
        }
}

/* The broker's pid, from SO_PEERCRED on its socket (as bench/conn.c does). */
static long broker_pid(void)
{
        const char *dir = npipe_runtime_dir();
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (!dir || (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/npiped.sock", dir) >=
                        sizeof(sa.sun_path))
                return -1;
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        long pid = -1;
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                struct ucred cr;
                socklen_t l = sizeof(cr);
                if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0)
                        pid = cr.pid;
        }
        close(s);
        return pid;
}

/* One cycle of the client: open and close (npipe), connect and close (unix). */
static int one_cycle(int unix_mode, const char *name)
{
        if (unix_mode) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
                int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (s < 0)
                        return -1;
                int r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
                close(s);
                return r;
        }
        npipe_t *c;
        int r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 10000, &c);
        if (r < 0) {
                fprintf(stderr, "open_cycle: npipe_open: %s\n", npipe_strerror(r));
                return -1;
        }
        npipe_close(c);
        return 0;
}

static void client(int unix_mode, const char *name, long cycles, long warmup)
{
        char msg[128];
        set_name("cli-evt");
        for (long i = 0; i < warmup; i++) {
                if (one_cycle(unix_mode, name) < 0)
                        _exit(1);
                if (i == 0)
                        set_name("cli-call");
        }
        if (unix_mode)
                snprintf(msg, sizeof(msg), "%ld %ld\n", (long)getppid(), (long)getpid());
        else
                snprintf(msg, sizeof(msg), "%ld %ld %ld\n", (long)getppid(), (long)getpid(),
                         broker_pid());
        ctl_write("pids", "pids.tmp", msg);
        fifo_wait("go");

        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < cycles; i++)
                if (one_cycle(unix_mode, name) < 0)
                        _exit(1);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        snprintf(msg, sizeof(msg), "%ld cycles %.3f s %.0f /s\n", cycles, s, (double)cycles / s);
        ctl_write("done", NULL, msg);
        fifo_wait("exit");
        _exit(0);
}

static long number(const char *s)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        return errno || end == s || *end || v < 0 ? -1 : v;
}

int main(int argc, char **argv)
{
        if (argc != 5 || (strcmp(argv[1], "npipe") && strcmp(argv[1], "unix")) ||
            number(argv[2]) < 1 || number(argv[3]) < 1) {
                fprintf(stderr, "usage: open_cycle npipe|unix CYCLES WARMUP CTLDIR "
                                "(CYCLES, WARMUP >= 1; run by bench/openprof/run.sh)\n");
                return 2;
        }
        int unix_mode = strcmp(argv[1], "unix") == 0;
        long cycles = number(argv[2]), warmup = number(argv[3]);
        ctl = argv[4];

        char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
        npipe_t *h[INSTANCES];
        pthread_t t[INSTANCES];
        int nt = 0, ls = -1;
        set_name("srv-evt");
        if (unix_mode) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                if ((size_t)snprintf(name, sizeof(name), "%s/u.sock", ctl) >= sizeof(name)) {
                        fprintf(stderr, "open_cycle: CTLDIR too long for a socket path\n");
                        return 1;
                }
                memcpy(sa.sun_path, name, sizeof(name));
                unlink(name);
                ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    listen(ls, 128) < 0) {
                        perror(name);
                        return 1;
                }
                if (pthread_create(&t[nt], NULL, unix_server, &ls) != 0)
                        return 1;
                nt++;
        } else {
                snprintf(name, sizeof(name), "\\\\.\\pipe\\openprof-%ld", (long)getpid());
                struct npipe_server_opts o;
                npipe_server_opts_init(&o);
                for (int i = 0; i < INSTANCES; i++) {
                        int r = npipe_create(name, &o, &h[i]);
                        if (r < 0) {
                                fprintf(stderr, "open_cycle: npipe_create: %s\n",
                                        npipe_strerror(r));
                                return 1;
                        }
                }
                for (int i = 0; i < INSTANCES; i++) {
                        if (pthread_create(&t[nt], NULL, instance, h[i]) != 0)
                                return 1;
                        nt++;
                }
        }
        set_name("srv-main");

        pid_t pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0)
                client(unix_mode, name, cycles, warmup);

        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        atomic_store(&stop, 1);
        if (unix_mode) {
                shutdown(ls, SHUT_RDWR);
                pthread_join(t[0], NULL);
                close(ls);
                unlink(name);
        } else {
                for (int i = 0; i < INSTANCES; i++)
                        npipe_close(h[i]);
                for (int i = 0; i < nt; i++)
                        pthread_join(t[i], NULL);
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
