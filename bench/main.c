/*
 * main.c - npipe-bench: options and the order of a run (see bench.h).
 *
 *   npipe-bench [--csv FILE] [--seconds S (0.1)] [--only T,..] [--sizes N,..]
 *               [--tests rtt,stream,busy,conn,scale,idle,memfd] [--scale N] [-v]
 *               [--rounds N]         interleaved rounds of every case (default 5)
 *               [--places unpinned,apart,same]   the placements, each its own rows
 *               [--pin apart|same]   only that placement: peer on CPU 1 and driver on
 *                                    CPU 0, or both on 0
 *               [--pairs 1,2,4,8,16] busy pairs (oversubscription)
 *               [--win32 PATH|none]  npipe-bench-win32 (default: next to us)
 *   npipe-bench --smoke            every benchmark, tiny, content checked
 *   npipe-bench --report A.csv ..  the tables from CSV files
 *   npipe-bench --fastpath T --size N --rounds R   (run under callgrind)
 *
 * Without NPIPE_RUNTIME_DIR the run makes a private runtime directory (its
 * own broker, removed at exit); without NPIPE_BROKER it uses the npiped
 * built next to it.
 */
#include "bench.h"

#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct bench_opts g_opts = {
        .seconds = 0.1, /* per measurement, per round */
        .rounds = 5,
        .places = "unpinned,apart,same",
        .pairs = "1,2,4,8,16",
        .scale_n = 10000,
        .idle_seconds = 2.0,
        .conn_n = 200000,
};
struct shared *g_shared;

static char private_dir[PATH_MAX];
static pid_t private_owner;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

static void private_cleanup(void)
{
        if (private_dir[0] && private_owner == getpid())
                nftw(private_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A runtime directory (and so a broker) of our own, unless told otherwise:
 * a benchmark must not share a broker with whatever else runs. */
static void setup_env(void)
{
        const char *d = getenv("NPIPE_RUNTIME_DIR");
        if (!d || !*d) {
                snprintf(private_dir, sizeof(private_dir), "/tmp/npipe-bench-XXXXXX");
                if (!mkdtemp(private_dir))
                        fail("mkdtemp: %s", strerror(errno));
                chmod(private_dir, 0700);
                private_owner = getpid();
                setenv("NPIPE_RUNTIME_DIR", private_dir, 1);
                atexit(private_cleanup);
        }
        if (!getenv("NPIPE_BROKER_IDLE"))
                setenv("NPIPE_BROKER_IDLE", "2", 1);
        const char *b = getenv("NPIPE_BROKER");
        if (!b || !*b) {
                char self[PATH_MAX], cand[PATH_MAX + 32];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n > 0) {
                        self[n] = 0;
                        char *slash = strrchr(self, '/');
                        if (slash) {
                                *slash = 0;
                                snprintf(cand, sizeof(cand), "%s/../src/broker/npiped", self);
                                if (access(cand, X_OK) == 0)
                                        setenv("NPIPE_BROKER", cand, 1);
                        }
                }
        }
}

static int in_csv_list(const char *list, long v)
{
        if (!list)
                return 1;
        for (const char *p = list; *p;) {
                char *e;
                long x = strtol(p, &e, 0);
                if (e != p && x == v)
                        return 1;
                p = strchr(p, ',');
                if (!p)
                        break;
                p++;
        }
        return 0;
}

int size_selected(size_t size)
{
        return in_csv_list(g_opts.sizes, (long)size);
}

/* The CPU a process runs on now (or last ran on): field 39 of /proc/PID/stat. */
static int proc_cpu(pid_t pid)
{
        char buf[1024];
        char *p = proc_stat_fields(pid, buf, sizeof(buf));
        if (!p)
                return -1;
        /* p is field 3 (state); field 39 is 36 fields on */
        for (int f = 3; f < 39; f++) {
                p = strchr(p, ' ');
                if (!p)
                        return -1;
                p++;
        }
        return atoi(p);
}

static pid_t first_child(pid_t pid)
{
        char path[96], buf[128];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        return (pid_t)atoi(buf);
}

/* One sample of where the measured pair runs: 1 on one CPU, 0 apart, -1 none. */
static int place_sample(void)
{
        if (!g_place || !g_place->active)
                return -1;
        pid_t a = g_place->pid[0], b = g_place->pid[1];
        if (a > 0 && b <= 0)
                b = first_child(a);
        if (a <= 0 || b <= 0)
                return -1;
        int ca = proc_cpu(a), cb = proc_cpu(b);
        if (ca < 0 || cb < 0)
                return -1;
        return ca == cb;
}

/* Run one measurement in a process of its own, with a watchdog: a
 * transport that hangs (a bug) costs that row, not the run.  The limit is
 * generous and is never a timing check: only a measurement that makes no
 * progress at all reaches it.  The watchdog also samples, every 2 ms, which
 * CPUs the two measured processes are on; with `place` (the metric prefix,
 * "rtt" or "stream") the share of samples with both on one CPU is written
 * as PLACE_same_cpu_pct. */
void isolated(const char *tr, long size, const char *what,
              void (*fn)(const struct xport_ops *, size_t), const struct xport_ops *ops,
              void (*fn0)(void), const char *place)
{
        fflush(NULL);
        if (g_place)
                memset((void *)g_place, 0, sizeof(*g_place));
        pid_t pid = fork();
        if (pid < 0)
                fail("fork: %s", strerror(errno));
        if (pid == 0) {
                g_errors = 0; /* the child's own count is its exit status */
                pin_side(0);
                if (fn)
                        fn(ops, (size_t)size);
                else
                        fn0();
                fflush(NULL);
                _exit(g_errors ? 1 : 0);
        }
        int64_t limit = (int64_t)((g_opts.seconds * 20 + 20 + g_opts.idle_seconds) * 1e9);
        if (fn0 == bench_scale)
                limit += 300 * (int64_t)1000000000; /* 100,000 connections take a while */
        int64_t end = now_ns() + limit;
        int st = 0;
        long same = 0, samples = 0;
        for (;;) {
                pid_t w = waitpid(pid, &st, WNOHANG);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR) {
                        st = 1;
                        break;
                }
                if (now_ns() >= end) {
                        kill(pid, SIGKILL); /* our own child; its peer dies with it */
                        waitpid(pid, &st, 0);
                        char note[200];
                        char at[32] = "";
                        if (size >= 0)
                                snprintf(at, sizeof(at), " %ld B", size);
                        snprintf(note, sizeof(note),
                                 "%s%s: HUNG, no progress for %.0f s: killed (a bug: see the "
                                 "performance notes)",
                                 what, at, (double)limit / 1e9);
                        out_note(tr, note);
                        say("npipe-bench: %s%s: %s", tr, g_tr_suffix, note);
                        g_errors++;
                        return;
                }
                usleep(2000);
                int one = place ? place_sample() : -1;
                if (one >= 0) {
                        samples++;
                        same += one;
                }
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char note[200];
                char at[32] = "";
                if (size >= 0)
                        snprintf(at, sizeof(at), " %ld B", size);
                snprintf(note, sizeof(note), "%s%s: failed (exit status %d)", what, at,
                         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                out_note(tr, note);
                g_errors++;
                return;
        }
        if (place && samples > 0) {
                char m[48];
                snprintf(m, sizeof(m), "%s_same_cpu_pct", place);
                out_metric(tr, size, m, 100.0 * (double)same / (double)samples);
        }
}

static void usage(void)
{
        fprintf(stderr,
                "usage: npipe-bench [--csv FILE] [--seconds S] [--only T,...] [--sizes N,...]\n"
                "                   [--tests rtt,stream,busy,conn,scale,idle,memfd] [--scale N]\n"
                "                   [--rounds N] [--places unpinned,apart,same] [--pairs N,...]\n"
                "                   [--win32 PATH|none] [--idle S] [--pin apart|same] [--smoke]\n"
                "                   [--no-table] [-v]\n"
                "       npipe-bench --report FILE.csv...\n"
                "       npipe-bench --fastpath TRANSPORT --size N [--rounds R]\n"
                "transports: seqpacket npipe-msg npipe-msg-buf npipe-byte bare-ring npipe-win32\n"
                "            npipe-win32-ovl stream pipe memfd\n");
        exit(2);
}

int main(int argc, char **argv)
{
        const char *csv = "bench-results.csv", *fastpath = NULL;
        long fp_size = 64;
        unsigned fp_rounds = 50;
        int report = 0, no_table = 0, rounds_set = 0;
        enum { O_CSV = 256, O_SECONDS, O_ONLY, O_SIZES, O_TESTS, O_SCALE, O_IDLE, O_SMOKE,
               O_REPORT, O_FAST, O_SIZE, O_ROUNDS, O_NOTABLE, O_PIN, O_PLACES, O_PAIRS,
               O_WIN32 };
        static const struct option lo[] = {
                {"csv", required_argument, NULL, O_CSV},
                {"seconds", required_argument, NULL, O_SECONDS},
                {"only", required_argument, NULL, O_ONLY},
                {"sizes", required_argument, NULL, O_SIZES},
                {"tests", required_argument, NULL, O_TESTS},
                {"scale", required_argument, NULL, O_SCALE},
                {"idle", required_argument, NULL, O_IDLE},
                {"smoke", no_argument, NULL, O_SMOKE},
                {"report", no_argument, NULL, O_REPORT},
                {"fastpath", required_argument, NULL, O_FAST},
                {"size", required_argument, NULL, O_SIZE},
                {"rounds", required_argument, NULL, O_ROUNDS},
                {"no-table", no_argument, NULL, O_NOTABLE},
                {"pin", required_argument, NULL, O_PIN},
                {"places", required_argument, NULL, O_PLACES},
                {"pairs", required_argument, NULL, O_PAIRS},
                {"win32", required_argument, NULL, O_WIN32},
                {"verbose", no_argument, NULL, 'v'},
                {NULL, 0, NULL, 0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
                switch (c) {
                case O_CSV: csv = optarg; break;
                case O_SECONDS: g_opts.seconds = strtod(optarg, NULL); break;
                case O_ONLY: g_opts.only = optarg; break;
                case O_SIZES: g_opts.sizes = optarg; break;
                case O_TESTS: g_opts.tests = optarg; break;
                case O_SCALE: g_opts.scale_n = (unsigned)strtoul(optarg, NULL, 0); break;
                case O_IDLE: g_opts.idle_seconds = strtod(optarg, NULL); break;
                case O_SMOKE: g_opts.smoke = 1; break;
                case O_REPORT: report = 1; break;
                case O_FAST: fastpath = optarg; break;
                case O_SIZE: fp_size = strtol(optarg, NULL, 0); break;
                case O_ROUNDS: /* --fastpath: messages; otherwise interleaved rounds */
                        fp_rounds = (unsigned)strtoul(optarg, NULL, 0);
                        g_opts.rounds = atoi(optarg);
                        rounds_set = 1;
                        break;
                case O_PLACES: g_opts.places = optarg; break;
                case O_PAIRS: g_opts.pairs = optarg; break;
                case O_WIN32: g_opts.win32 = optarg; break;
                case O_NOTABLE: no_table = 1; break;
                case O_PIN:
                        g_opts.pin = strcmp(optarg, "apart") == 0 ? 1
                                     : strcmp(optarg, "same") == 0 ? 2 : -1;
                        if (g_opts.pin < 0)
                                usage();
                        /* that placement alone, every case */
                        g_opts.places = optarg;
                        break;
                case 'v': g_opts.verbose = 1; break;
                default: usage();
                }
        }
        if (report) {
                if (optind >= argc)
                        usage();
                return report_print(stdout, (const char *const *)argv + optind, argc - optind) < 0
                               ? 1
                               : 0;
        }
        if (optind != argc || g_opts.seconds <= 0 ||
            (!fastpath && (g_opts.rounds < 1 || g_opts.rounds > 64)))
                usage();
        signal(SIGPIPE, SIG_IGN);
        setup_env();
        g_shared = shared_new();

        if (fastpath) {
                pin_side(0);
                pattern_init((size_t)fp_size);
                return bench_fastpath(fastpath, (size_t)fp_size, fp_rounds) ? 1 : 0;
        }

        if (g_opts.smoke) {
                g_opts.seconds = 0.02;
                g_opts.idle_seconds = 0.2;
                /* one round of every case and placement: correctness only */
                if (!rounds_set)
                        g_opts.rounds = 1;
        }
        size_t max = 0;
        for (int s = 0; s < n_std_sizes; s++)
                if (size_selected(std_sizes[s]) && std_sizes[s] > max)
                        max = std_sizes[s];
        pattern_init(max);
        out_open(csv);
        int64_t t0 = now_ns();
        if (!g_opts.smoke) {
                double l = machine_line_rtt_ns();
                if (!isnan(l))
                        out_metric("machine", -1, "line_rtt_ns_start", l);
        }

        /* round trips, streaming, busy pairs and connection set-up:
         * interleaved rounds, every placement (rounds.c) */
        int legacy_pin = g_opts.pin;
        run_rounds();
        g_opts.pin = legacy_pin;
        if (test_selected("scale")) {
                say("scale: %u connections under ulimit -n 1024 ...",
                    g_opts.smoke ? 300 : g_opts.scale_n);
                isolated("npipe-msg", -1, "scale", NULL, NULL, bench_scale, NULL);
        }
        if (test_selected("idle")) {
                say("idle pair for %.1f s ...", g_opts.idle_seconds);
                isolated("npipe-msg", -1, "idle", NULL, NULL, bench_idle, NULL);
        }
        if (test_selected("memfd")) {
                say("memfd-per-message descriptor ceiling ...");
                isolated("memfd", -1, "ceiling", NULL, NULL, bench_memfd_ceiling, NULL);
        }
        if (g_opts.smoke) {
                /* the fast-path mode callgrind runs, checked once */
                if (bench_fastpath("npipe-msg", 64, 3) != 0 ||
                    bench_fastpath("npipe-byte", 4096, 3) != 0)
                        g_errors++;
        }
        if (!g_opts.smoke) {
                double l = machine_line_rtt_ns();
                if (!isnan(l))
                        out_metric("machine", -1, "line_rtt_ns_end", l);
        }
        out_metric("run", -1, "seconds", (double)(now_ns() - t0) / 1e9);
        /* the report judges no targets on a smoke run's numbers */
        if (g_opts.smoke)
                out_metric("run", -1, "smoke", 1);
        out_close();
        summarize_rounds(csv);
        if (!no_table) {
                const char *files[] = {csv};
                report_print(stdout, files, 1);
        }
        if (g_errors) {
                say("npipe-bench: %d content or correctness errors", g_errors);
                return 1;
        }
        if (g_opts.smoke)
                printf("npipe-bench --smoke: every message arrived intact\n");
        return 0;
}
