/*
 * util.c - the benchmark's plumbing: CSV output, clocks, getrusage, the
 * shared page with its barrier, forking the peer, and message contents.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

int g_errors;

/* ---- output ------------------------------------------------------------------------------- */

static FILE *csv;
int g_round = -1;
const char *g_tr_suffix = "";

void out_open(const char *path)
{
        csv = fopen(path, "w");
        if (!csv)
                fail("cannot write %s: %s", path, strerror(errno));
        fprintf(csv, "transport,size,metric,value\n");
        fflush(csv);
}

void out_metric(const char *transport, long size, const char *metric, double value)
{
        if (!csv)
                return;
        /* in a round: TRANSPORT[-apart|-same],SIZE,METRIC@rN (the machine's
         * own rows keep their name: they are not placed) */
        const char *sfx = strcmp(transport, "machine") == 0 ? "" : g_tr_suffix;
        char m[64];
        if (g_round >= 0)
                snprintf(m, sizeof(m), "%s@r%d", metric, g_round + 1);
        else
                snprintf(m, sizeof(m), "%s", metric);
        if (size < 0)
                fprintf(csv, "%s%s,-,%s,%.6g\n", transport, sfx, m, value);
        else
                fprintf(csv, "%s%s,%ld,%s,%.6g\n", transport, sfx, size, m, value);
        fflush(csv);
}

/* Notes are CSV rows too (metric "note", the text in quotes) so that one
 * file carries everything the report prints. */
void out_note(const char *transport, const char *what)
{
        if (!csv)
                return;
        fprintf(csv, "%s%s,-,note,\"", transport, g_tr_suffix);
        for (const char *p = what; *p; p++)
                fputc(*p == '"' ? '\'' : *p, csv);
        fprintf(csv, "\"\n");
        fflush(csv);
}

void out_close(void)
{
        if (csv)
                fclose(csv);
        csv = NULL;
}

void say(const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (n > (int)sizeof(line) - 2)
                n = (int)sizeof(line) - 2;
        line[n++] = '\n';
        /* one write: lines of the two processes never interleave */
        (void)!write(2, line, (size_t)n);
}

void fail(const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        say("npipe-bench: error: %s", line);
        exit(1);
}

/* ---- time --------------------------------------------------------------------------------- */

int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void usage_now(struct usage *u)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        u->cpu_ns = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
        u->nvcsw = ru.ru_nvcsw;
        u->nivcsw = ru.ru_nivcsw;
}

void usage_sub(struct usage *a, const struct usage *b)
{
        a->cpu_ns -= b->cpu_ns;
        a->nvcsw -= b->nvcsw;
        a->nivcsw -= b->nivcsw;
}

/* ---- the shared page ---------------------------------------------------------------------- */

struct shared *shared_new(void)
{
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                fail("mmap: %s", strerror(errno));
        shared_reset(p);
        return p;
}

void shared_reset(struct shared *s)
{
        memset((void *)s, 0, sizeof(*s));
        s->total = UINT64_MAX;
}

static void futex_wait_u32(volatile uint32_t *w, uint32_t v)
{
        syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake_u32(volatile uint32_t *w)
{
        syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A two-party barrier that can be used any number of times: each side
 * bumps its own word and waits until the other's has caught up.  Sleeping
 * (not spinning) keeps the barrier out of the CPU numbers. */
void shared_barrier(struct shared *s, int side)
{
        _Atomic uint32_t *mine = (_Atomic uint32_t *)&s->barrier[side];
        _Atomic uint32_t *other = (_Atomic uint32_t *)&s->barrier[!side];
        uint32_t me = atomic_fetch_add(mine, 1) + 1;
        futex_wake_u32(&s->barrier[side]);
        for (;;) {
                uint32_t o = atomic_load(other);
                if ((int32_t)(o - me) >= 0)
                        return;
                futex_wait_u32(&s->barrier[!side], o);
        }
}

void pin_side(int side)
{
        if (!g_opts.pin)
                return;
        cpu_set_t cs;
        CPU_ZERO(&cs);
        CPU_SET(g_opts.pin == 1 && side == 1 ? 1 : 0, &cs);
        if (sched_setaffinity(0, sizeof(cs), &cs) < 0)
                say("npipe-bench: sched_setaffinity: %s", strerror(errno));
}

/* ---- the machine itself: one cache line bounced between two CPUs ---------------- */

#define LINE_ROUNDS 200000

static _Alignas(64) _Atomic uint32_t line_flag;

static int pin_to(int cpu)
{
        cpu_set_t cs;
        CPU_ZERO(&cs);
        CPU_SET(cpu, &cs);
        return pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
}

static void *line_peer(void *arg)
{
        if (pin_to((int)(intptr_t)arg) != 0)
                return NULL;
        for (uint32_t i = 0; i < LINE_ROUNDS; i++) {
                while (atomic_load_explicit(&line_flag, memory_order_acquire) != 2 * i + 1)
                        ; /* no pause: it would be most of what we measure */
                atomic_store_explicit(&line_flag, 2 * i + 2, memory_order_release);
        }
        return NULL;
}

static void *line_driver(void *arg)
{
        double *ns = arg;
        int cpus[2], n = 0;
        cpu_set_t cs;
        if (sched_getaffinity(0, sizeof(cs), &cs) < 0)
                return NULL;
        for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
                if (CPU_ISSET(c, &cs))
                        cpus[n++] = c;
        if (n < 2 || pin_to(cpus[0]) != 0)
                return NULL;
        pthread_t t;
        atomic_store(&line_flag, 0);
        if (pthread_create(&t, NULL, line_peer, (void *)(intptr_t)cpus[1]) != 0)
                return NULL;
        int64_t t0 = now_ns();
        for (uint32_t i = 0; i < LINE_ROUNDS; i++) {
                atomic_store_explicit(&line_flag, 2 * i + 1, memory_order_release);
                while (atomic_load_explicit(&line_flag, memory_order_acquire) != 2 * i + 2)
                        ;
        }
        *ns = (double)(now_ns() - t0) / LINE_ROUNDS;
        pthread_join(t, NULL);
        return NULL;
}

/* What it costs to move one cache line to the other CPU and back, with
 * two threads pinned to the first two CPUs we may use: the floor of every
 * shared-memory hand-off, and a record of the host's state during the
 * run (on this KVM guest it is about 55 ns, and some runs see it jump to
 * 300 ns and more while the host places the vCPUs elsewhere: every
 * cross-CPU row of such a run is slower).  NAN with fewer than 2 CPUs. */
double machine_line_rtt_ns(void)
{
        double ns = NAN;
        pthread_t t;
        /* in a thread of its own, so our own affinity stays as it was */
        if (pthread_create(&t, NULL, line_driver, &ns) == 0)
                pthread_join(t, NULL);
        return ns;
}

/* /proc/PID/stat read into buf: a pointer to field 3 (the state), just
 * after the command name (which may hold spaces and parentheses), or NULL. */
char *proc_stat_fields(pid_t pid, char *buf, size_t len)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        ssize_t n = read(fd, buf, len - 1);
        close(fd);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        return p && p[1] == ' ' ? p + 2 : NULL;
}

pid_t spawn_peer(int (*fn)(void *), void *arg)
{
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                fail("fork: %s", strerror(errno));
        if (pid == 0) {
                /* the peer dies with the driver: a crashed driver never
                 * leaves a process spinning on a ring */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                pin_side(1);
                _exit(fn(arg));
        }
        return pid;
}

int wait_peer(pid_t pid)
{
        int st;
        while (waitpid(pid, &st, 0) < 0) {
                if (errno != EINTR)
                        return 255;
        }
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
        return 255;
}

/* ---- contents ----------------------------------------------------------------------------- */

static uint8_t *pattern;
static size_t pattern_max;

void pattern_init(size_t max_size)
{
        size_t n = max_size + PATTERN_SLOTS * 8 + 64;
        pattern = malloc(n);
        if (!pattern)
                fail("out of memory");
        /* xorshift: fixed seed, so the driver and the peer (forked after
         * this) agree on every byte */
        uint64_t x = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                pattern[i] = (uint8_t)(x >> 24);
        }
        pattern_max = max_size;
}

const uint8_t *pattern_msg(uint64_t i)
{
        return pattern + (i % PATTERN_SLOTS) * 8;
}

int pattern_check(uint64_t i, const void *buf, size_t len, size_t want)
{
        if (len != want)
                return -1;
        if (want && memcmp(buf, pattern_msg(i), want) != 0)
                return -1;
        return 0;
}
