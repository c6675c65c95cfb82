/*
 * unit_cost.c - what the kernel operations of one npipe open+close cost
 * alone, on this machine.
 *
 *   unit_cost [all|seg|sock|futex] [SEGMENT_BYTES]
 *
 * The profile of bench/openprof/run.sh says which kinds of kernel work an
 * open+close spends its CPU on (issue 16); this program times the same
 * operations one by one, outside npipe, so that the two can be compared:
 * e.g. a page fault or an munmap inside the cycle against the same
 * operation alone.  Each step is timed by clock_gettime (vDSO) around it,
 * REPS times; the median and the mean of each step are printed in
 * microseconds.  Run it a few times (the write-up in docs/performance.md
 * gives 3 runs) and, to see the effect of the other CPU, also under
 * `taskset -c 0`.
 *
 * seg    one side's segment life as np_seg_create, seg_map_peer and
 *        np_conn_free do it (src/client/segment.c): memfd_create,
 *        ftruncate, mmap, first write, madvise, seals, fstat, the peer's
 *        segment mapped read-only (here the same memfd through a second
 *        descriptor) and its first read, the closes and the two munmaps.
 *        Three times: the process has one thread; it has a second thread
 *        that sleeps; it has a second thread spinning (so running on the
 *        other CPU when there is one, which makes munmap flush there).
 *        SEGMENT_BYTES is the size (default 4 KiB + 128 KiB, the header and
 *        the default ring).
 * sock   AF_UNIX SOCK_SEQPACKET sendmsg/recvmsg of 64 bytes, with and
 *        without one descriptor (SCM_RIGHTS), and a null system call, in
 *        one thread; then socket/connect/close/accept4/read/close of an
 *        AF_UNIX stream socket in one thread (no sleep, no wake-up).
 * futex  the round trip of two threads waking each other by futex: both
 *        on CPU 0, on CPU 0 and CPU 1, and unpinned (wall time of two
 *        switches, not CPU time).
 *
 * Nothing is checked against a limit: it is a measurement, not a test.
 * Exit status 1 when an operation fails, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPS    4000
#define MAXSTEP 16

static int64_t samples[MAXSTEP][REPS];
static const char *step_name[MAXSTEP];
static int nstep;
static volatile int sink;

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
        perror(what);
        exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

/* Print the median and mean of every step recorded since the last report. */
static void report(const char *title)
{
        double total = 0;
        printf("%s\n", title);
        for (int s = 0; s < nstep; s++) {
                double sum = 0;
                for (int i = 0; i < REPS; i++)
                        sum += (double)samples[s][i];
                qsort(samples[s], REPS, sizeof(int64_t), cmp_i64);
                printf("  %-34s median %7.2f us  mean %7.2f us\n", step_name[s],
                       (double)samples[s][REPS / 2] / 1e3, sum / REPS / 1e3);
                total += sum / REPS / 1e3;
        }
        printf("  %-34s                   mean %7.2f us\n", "sum", total);
        fflush(stdout);
        nstep = 0;
}

/* Time STMT as step IDX of repetition i (a variable of the caller's loop). */
#define STEP(idx, label, stmt)                                                                     \
        do {                                                                                       \
                int64_t t0_ = now_ns();                                                            \
                stmt;                                                                              \
                samples[idx][i] = now_ns() - t0_;                                                  \
                step_name[idx] = label;                                                            \
                if ((idx) + 1 > nstep)                                                             \
                        nstep = (idx) + 1;                                                         \
        } while (0)

/* ---- seg: one side's segment life ----------------------------------------------------------- */

static _Atomic int other_stop;

static void *spinner(void *arg)
{
        (void)arg;
        while (!atomic_load(&other_stop))
                ;
        return NULL;
}

static void *sleeper(void *arg)
{
        (void)arg;
        while (!atomic_load(&other_stop))
                usleep(100000);
        return NULL;
}

static void seg_life(const char *title, size_t sz)
{
        for (int i = 0; i < REPS; i++) {
                int fd, pfd, seals, r1, r2, r3, r4, r5, r6;
                char *p, *q;
                struct stat st;
                STEP(0, "memfd_create", fd = memfd_create("s", MFD_CLOEXEC | MFD_ALLOW_SEALING));
                if (fd < 0)
                        die("memfd_create");
                STEP(1, "ftruncate", r1 = ftruncate(fd, (off_t)sz));
                STEP(2, "mmap RW", p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
                if (r1 < 0 || p == MAP_FAILED)
                        die("ftruncate/mmap");
                STEP(3, "first write (fault, page alloc)", p[0] = 1);
                STEP(4, "madvise DONTFORK", r2 = madvise(p, sz, MADV_DONTFORK));
                STEP(5, "F_ADD_SEALS",
                     r3 = fcntl(fd, F_ADD_SEALS,
                                F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL));
                /* the peer's segment: here our own, through a second descriptor */
                pfd = dup(fd);
                if (pfd < 0 || r2 < 0 || r3 < 0)
                        die("dup/madvise/F_ADD_SEALS");
                STEP(6, "F_GET_SEALS", seals = fcntl(pfd, F_GET_SEALS));
                STEP(7, "fstat", r4 = fstat(pfd, &st));
                STEP(8, "mmap RO (peer)", q = mmap(NULL, sz, PROT_READ, MAP_SHARED, pfd, 0));
                if (seals < 0 || r4 < 0 || q == MAP_FAILED)
                        die("F_GET_SEALS/fstat/mmap");
                STEP(9, "first read (fault, map page)", sink = q[0] + seals);
                STEP(10, "madvise DONTFORK (peer)", r5 = madvise(q, sz, MADV_DONTFORK));
                STEP(11, "close peer fd", close(pfd));
                STEP(12, "close own fd", close(fd));
                STEP(13, "munmap peer (RO, clean)", r6 = munmap(q, sz));
                STEP(14, "munmap own (RW, dirty, last ref)", r1 = munmap(p, sz));
                if (r5 < 0 || r6 < 0 || r1 < 0)
                        die("madvise/munmap");
        }
        report(title);
}

static void seg_all(size_t sz)
{
        pthread_t t;
        char title[160];
        snprintf(title, sizeof(title), "segment life, one thread in the process (%zu bytes)", sz);
        seg_life(title, sz);

        atomic_store(&other_stop, 0);
        if (pthread_create(&t, NULL, sleeper, NULL) != 0)
                die("pthread_create");
        usleep(1000);
        seg_life("segment life, a second (sleeping) thread in the process", sz);
        atomic_store(&other_stop, 1);
        pthread_join(t, NULL);

        atomic_store(&other_stop, 0);
        if (pthread_create(&t, NULL, spinner, NULL) != 0)
                die("pthread_create");
        usleep(1000);
        seg_life("segment life, a second thread of the process running (spinning) on the other CPU",
                 sz);
        atomic_store(&other_stop, 1);
        pthread_join(t, NULL);
}

/* ---- sock: AF_UNIX messages and connections in one thread ----------------------------------- */

static void sock_seqpacket(void)
{
        int sv[2];
        char buf[64] = {0};
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair");
        for (int i = 0; i < REPS; i++) {
                ssize_t n1, n2, n3, n4;
                STEP(0, "sendmsg 64 B (no waiter)", n1 = send(sv[0], buf, 64, 0));
                STEP(1, "recvmsg 64 B (queued)", n2 = recv(sv[1], buf, 64, 0));
                int fd = memfd_create("s", MFD_CLOEXEC);
                if (fd < 0)
                        die("memfd_create");
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = {buf, 64};
                struct msghdr m = {.msg_iov = &iov,
                                   .msg_iovlen = 1,
                                   .msg_control = cbuf,
                                   .msg_controllen = sizeof(cbuf)};
                struct cmsghdr *c = CMSG_FIRSTHDR(&m);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(fd));
                STEP(2, "sendmsg 64 B + SCM_RIGHTS 1 fd", n3 = sendmsg(sv[0], &m, 0));
                m.msg_controllen = sizeof(cbuf);
                STEP(3, "recvmsg 64 B + SCM_RIGHTS 1 fd",
                     n4 = recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC));
                c = CMSG_FIRSTHDR(&m);
                if (n1 != 64 || n2 != 64 || n3 != 64 || n4 != 64 || !c ||
                    c->cmsg_type != SCM_RIGHTS)
                        die("SOCK_SEQPACKET send/recv");
                int rfd;
                memcpy(&rfd, CMSG_DATA(c), sizeof(rfd));
                close(rfd);
                close(fd);
                STEP(4, "getppid (null syscall)", sink = (int)syscall(SYS_getppid));
        }
        report("AF_UNIX SOCK_SEQPACKET socketpair, same thread (no sleep, no wake)");
        close(sv[0]);
        close(sv[1]);
}

static void sock_stream_connect(void)
{
        const char *tmp = getenv("TMPDIR");
        char dir[96], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        snprintf(dir, sizeof(dir), "%s/unit_cost.XXXXXX",
                 tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
        if (!mkdtemp(dir))
                die(dir);
        snprintf(path, sizeof(path), "%s/s", dir);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, path, sizeof(path));
        int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0)
                die(path);
        for (int i = 0; i < REPS; i++) {
                int s, a, r;
                char b[8];
                STEP(0, "socket", s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
                STEP(1, "connect", r = connect(s, (struct sockaddr *)&sa, sizeof(sa)));
                if (s < 0 || r < 0)
                        die("socket/connect");
                STEP(2, "close (client)", close(s));
                STEP(3, "accept4", a = accept4(ls, NULL, NULL, SOCK_CLOEXEC));
                if (a < 0)
                        die("accept4");
                STEP(4, "read (EOF)", sink = (int)read(a, b, sizeof(b)));
                STEP(5, "close (server)", close(a));
        }
        report("AF_UNIX stream connect/accept in one thread (no sleep, no wake)");
        close(ls);
        unlink(path);
        rmdir(dir);
}

/* ---- futex: two threads waking each other --------------------------------------------------- */

static _Atomic int turn;
static cpu_set_t initial_cpus;

static void pin(int cpu)
{
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(cpu, &s);
        if (pthread_setaffinity_np(pthread_self(), sizeof(s), &s) != 0) {
                fprintf(stderr, "unit_cost: cannot pin to CPU %d\n", cpu);
                exit(1);
        }
}

static long futex(_Atomic int *addr, int op, int val)
{
        return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void *pong(void *arg)
{
        int cpu = (int)(intptr_t)arg;
        if (cpu >= 0)
                pin(cpu);
        for (int i = 0; i < REPS; i++) {
                while (atomic_load(&turn) != 1)
                        futex(&turn, FUTEX_WAIT_PRIVATE, 0);
                atomic_store(&turn, 0);
                futex(&turn, FUTEX_WAKE_PRIVATE, 1);
        }
        return NULL;
}

/* Hand the turn to pong and wait until it hands it back. */
static void round_trip(void)
{
        atomic_store(&turn, 1);
        futex(&turn, FUTEX_WAKE_PRIVATE, 1);
        while (atomic_load(&turn) != 0)
                futex(&turn, FUTEX_WAIT_PRIVATE, 1);
}

static void futex_pingpong(const char *title, int cpu_a, int cpu_b)
{
        pthread_t t;
        atomic_store(&turn, 0);
        if (cpu_a >= 0)
                pin(cpu_a);
        if (pthread_create(&t, NULL, pong, (void *)(intptr_t)cpu_b) != 0)
                die("pthread_create");
        usleep(10000);
        for (int i = 0; i < REPS; i++)
                STEP(0, "futex wake + wait (round trip)", round_trip());
        pthread_join(t, NULL);
        pthread_setaffinity_np(pthread_self(), sizeof(initial_cpus), &initial_cpus);
        report(title);
}

static void futex_all(void)
{
        if (pthread_getaffinity_np(pthread_self(), sizeof(initial_cpus), &initial_cpus) != 0 ||
            !CPU_ISSET(0, &initial_cpus) || !CPU_ISSET(1, &initial_cpus)) {
                printf("futex ping-pong: skipped (needs CPUs 0 and 1)\n");
                return;
        }
        futex_pingpong("futex ping-pong between two threads, both on CPU 0", 0, 0);
        futex_pingpong("futex ping-pong between two threads, CPU 0 and CPU 1", 0, 1);
        futex_pingpong("futex ping-pong between two threads, unpinned", -1, -1);
}

int main(int argc, char **argv)
{
        const char *what = argc > 1 ? argv[1] : "all";
        size_t sz = 4096 + 128 * 1024;
        if (argc > 2) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(argv[2], &end, 10);
                if (errno || end == argv[2] || *end || v == 0) {
                        fprintf(stderr, "unit_cost: bad SEGMENT_BYTES %s\n", argv[2]);
                        return 2;
                }
                sz = v;
        }
        int all = !strcmp(what, "all");
        if (argc > 3 ||
            (!all && strcmp(what, "seg") && strcmp(what, "sock") && strcmp(what, "futex"))) {
                fprintf(stderr, "usage: unit_cost [all|seg|sock|futex] [SEGMENT_BYTES]\n");
                return 2;
        }
        if (all || !strcmp(what, "seg"))
                seg_all(sz);
        if (all || !strcmp(what, "sock")) {
                sock_seqpacket();
                sock_stream_connect();
        }
        if (all || !strcmp(what, "futex"))
                futex_all();
        return 0;
}
