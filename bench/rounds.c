/*
 * rounds.c - the interleaved run: comparisons that can be trusted.
 *
 * On a 2-CPU machine the rate of one and the same transport depends on
 * where the scheduler puts its two processes (the 64 B streaming rate of
 * npipe has been 1.9 M/s in one run and 5.7 M/s in another), so a ratio of
 * two rows measured minutes apart can be a ratio of two placements.  Here
 * every case runs once per round, the transports of one comparison next to
 * each other (their order reversed every other round), for several rounds;
 * the report takes the median of the per-round ratios and shows their
 * spread.  Each placement is its own set of rows:
 *
 *   unpinned  the scheduler decides; the watchdog samples every 2 ms which
 *             CPU each of the two processes is on (PLACE_same_cpu_pct)
 *   apart     driver on CPU 0, peer on CPU 1 (rows TRANSPORT-apart)
 *   same      both on CPU 0 (rows TRANSPORT-same)
 *
 * The first placement listed gets every transport and size (the full
 * tables); the others get the comparison cases (64 B, 4 KiB and 64 KiB).
 * Busy pairs and connection set-up run once per round, unpinned.  The Win32
 * rows are npipe-bench-win32, run as a case of the same rounds (its CSV
 * taken in), so they interleave with the native rows too.
 *
 * Every sample is written as METRIC@rN; at the end summarize_rounds()
 * appends the median of each under the plain METRIC, so a reader of the CSV
 * that takes one value per metric (the plot) gets the median.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct placement *g_place;

void place_begin(pid_t driver, pid_t peer)
{
        if (!g_place)
                return;
        g_place->pid[0] = driver;
        g_place->pid[1] = peer;
        __atomic_store_n(&g_place->active, 1, __ATOMIC_SEQ_CST);
}

void place_end(void)
{
        if (g_place)
                __atomic_store_n(&g_place->active, 0, __ATOMIC_SEQ_CST);
}

/* ---- npipe-bench-win32 as a case -------------------------------------------------------- */

static char win32_path[4300];

static void win32_resolve(void)
{
        win32_path[0] = 0;
        if (g_opts.win32) {
                if (strcmp(g_opts.win32, "none") != 0 && access(g_opts.win32, X_OK) == 0)
                        snprintf(win32_path, sizeof(win32_path), "%s", g_opts.win32);
                return;
        }
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return;
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (!slash)
                return;
        *slash = 0;
        char cand[4200];
        snprintf(cand, sizeof(cand), "%s/npipe-bench-win32", self);
        if (access(cand, X_OK) == 0)
                snprintf(win32_path, sizeof(win32_path), "%s", cand);
}

void measure_win32(const struct xport_ops *ops, size_t size, const char *test)
{
        if (!win32_path[0])
                return;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                fail("pipe2: %s", strerror(errno));
        char sz[32], secs[32];
        snprintf(sz, sizeof(sz), "%zu", size);
        snprintf(secs, sizeof(secs), "%g", g_opts.seconds);
        const char *argv[16];
        int a = 0;
        argv[a++] = win32_path;
        argv[a++] = "--test";
        argv[a++] = test;
        argv[a++] = "--sizes";
        argv[a++] = sz;
        argv[a++] = "--no-header";
        if (g_opts.smoke) {
                argv[a++] = "--smoke";
        } else {
                argv[a++] = "--seconds";
                argv[a++] = secs;
        }
        if (ops->win32 == 2)
                argv[a++] = "--overlapped";
        if (g_opts.pin) {
                argv[a++] = "--pin";
                argv[a++] = g_opts.pin == 1 ? "apart" : "same";
        }
        argv[a] = NULL;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                fail("fork: %s", strerror(errno));
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(p[1], 1);
                dup2(p[1], 2);
                execv(win32_path, (char *const *)argv);
                _exit(127);
        }
        close(p[1]);
        place_begin(pid, 0); /* its peer is its first child */
        size_t cap = 8192, len = 0;
        char *out = malloc(cap);
        for (;;) {
                if (len + 1024 > cap) {
                        cap *= 2;
                        out = realloc(out, cap);
                        if (!out)
                                fail("out of memory");
                }
                ssize_t n = read(p[0], out + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        out[len] = 0;
        close(p[0]);
        place_end();
        int st = wait_peer(pid);
        /* take its rows in: transport,size,metric,value */
        int rows = 0;
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "npipe-win32");
        for (char *line = out, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strncmp(line, prefix, strlen(prefix)) != 0)
                        continue;
                char *f1 = strchr(line, ',');
                char *f2 = f1 ? strchr(f1 + 1, ',') : NULL;
                char *f3 = f2 ? strchr(f2 + 1, ',') : NULL;
                if (!f3)
                        continue;
                *f2 = 0;
                *f3 = 0;
                if (f3[1] == '"')
                        continue;
                out_metric(ops->name, (long)size, f2 + 1, strtod(f3 + 1, NULL));
                rows++;
        }
        if (st != 0 || rows == 0) {
                say("%s", out);
                free(out);
                fail("%s %s %zu B: npipe-bench-win32 failed (status %d)", ops->name, test, size,
                     st);
        }
        if (g_opts.verbose)
                say("  %-6s %-15s %8zu B  (npipe-bench-win32%s)", test, ops->name, size,
                    ops->win32 == 2 ? " --overlapped" : "");
        free(out);
}

/* ---- the cases ---------------------------------------------------------------------------- */

enum kind { K_RTT, K_STREAM, K_BUSY, K_CONN };

struct rcase {
        enum kind kind;
        const struct xport_ops *ops;
        long size; /* bytes, or pairs for K_BUSY */
        int place; /* 0 unpinned, 1 apart, 2 same */
};

#define MAX_GROUP 16
struct group {
        struct rcase c[MAX_GROUP];
        int n;
};

static struct group *groups;
static int ngroups, capgroups;

static struct group *group_new(void)
{
        if (ngroups == capgroups) {
                capgroups = capgroups ? 2 * capgroups : 64;
                groups = realloc(groups, (size_t)capgroups * sizeof(*groups));
                if (!groups)
                        fail("out of memory");
        }
        struct group *g = &groups[ngroups++];
        g->n = 0;
        return g;
}

static void group_add(struct group *g, enum kind k, const struct xport_ops *ops, long size,
                      int place)
{
        if (g->n < MAX_GROUP)
                g->c[g->n++] = (struct rcase){k, ops, size, place};
}

/* The comparison cases of the pinned placements: what the table of ratios
 * needs (64 B against SEQPACKET and the bare ring, 4 KiB, Win32 against
 * native at 64 B and 64 KiB). */
static int compared(enum kind k, const char *tr, long size)
{
        static const char *const small[] = {"seqpacket", "npipe-msg", "bare-ring", "npipe-win32",
                                            "npipe-win32-ovl", NULL};
        static const char *const mid[] = {"seqpacket", "npipe-msg", "bare-ring", NULL};
        static const char *const big[] = {"seqpacket", "npipe-msg", "npipe-win32",
                                          "npipe-win32-ovl", NULL};
        const char *const *l = NULL;
        if (size == 64)
                l = small;
        else if (k == K_STREAM && size == 4096)
                l = mid;
        else if (k == K_STREAM && size == 65536)
                l = big;
        for (int i = 0; l && l[i]; i++)
                if (strcmp(l[i], tr) == 0)
                        return 1;
        return 0;
}

static int case_wanted(enum kind k, const struct xport_ops *ops, long size, int full)
{
        if (!xport_selected(ops) || !size_selected((size_t)size))
                return 0;
        if (size == 0 && !ops->zero_ok)
                return 0;
        if (ops->win32 && !win32_path[0])
                return 0;
        /* npipe-msg-buf differs from npipe-msg only above the 64 KiB quota */
        if (strcmp(ops->name, "npipe-msg-buf") == 0 && size <= 65536)
                return 0;
        return full || compared(k, ops->name, size);
}

/* Can we pin to CPU 0, and to CPU 1? */
static int cpu_allowed(int cpu)
{
        cpu_set_t cs;
        if (sched_getaffinity(0, sizeof(cs), &cs) < 0)
                return 0;
        return CPU_ISSET(cpu, &cs);
}

static int parse_places(int *places)
{
        int n = 0;
        const char *p = g_opts.places;
        while (p && *p && n < 3) {
                size_t len = strcspn(p, ",");
                int v = -1;
                if (len == 8 && strncmp(p, "unpinned", 8) == 0)
                        v = 0;
                else if (len == 5 && strncmp(p, "apart", 5) == 0)
                        v = 1;
                else if (len == 4 && strncmp(p, "same", 4) == 0)
                        v = 2;
                if (v < 0)
                        fail("--places: unknown placement '%.*s' (unpinned, apart, same)",
                             (int)len, p);
                if ((v >= 1 && !cpu_allowed(0)) || (v == 1 && !cpu_allowed(1))) {
                        char note[96];
                        snprintf(note, sizeof(note), "placement %s skipped: CPU %d is not ours",
                                 v == 1 ? "apart" : "same", cpu_allowed(0) ? 1 : 0);
                        out_note("run", note);
                        say("npipe-bench: %s", note);
                } else {
                        places[n++] = v;
                }
                p += len;
                if (*p == ',')
                        p++;
        }
        return n;
}

static void build_cases(void)
{
        int places[3];
        int np = parse_places(places);
        for (int pi = 0; pi < np; pi++) {
                for (int k = K_RTT; k <= K_STREAM; k++) {
                        if (!test_selected(k == K_RTT ? "rtt" : "stream"))
                                continue;
                        for (int s = 0; s < n_std_sizes; s++) {
                                struct group *g = NULL;
                                for (int i = 0; all_xports[i]; i++) {
                                        if (!case_wanted(k, all_xports[i], (long)std_sizes[s],
                                                         pi == 0))
                                                continue;
                                        if (!g)
                                                g = group_new();
                                        group_add(g, k, all_xports[i], (long)std_sizes[s],
                                                  places[pi]);
                                }
                        }
                }
        }
        if (test_selected("busy")) {
                for (const char *p = g_opts.pairs; p && *p;) {
                        long n = strtol(p, NULL, 10);
                        if (n >= 1 && n <= 64) {
                                struct group *g = group_new();
                                if (name_selected("npipe-msg"))
                                        group_add(g, K_BUSY, &xp_npipe_msg, n, 0);
                                if (name_selected("seqpacket"))
                                        group_add(g, K_BUSY, &xp_seqpacket, n, 0);
                                if (!g->n)
                                        ngroups--;
                        }
                        p = strchr(p, ',');
                        if (p)
                                p++;
                }
        }
        if (test_selected("conn")) {
                struct group *g = group_new();
                group_add(g, K_CONN, NULL, -1, 0);
        }
}

static const char *const place_sfx[] = {"", "-apart", "-same"};

static void run_case(const struct rcase *c)
{
        g_opts.pin = c->place;
        g_tr_suffix = place_sfx[c->place];
        switch (c->kind) {
        case K_RTT:
                isolated(c->ops->name, c->size, "round trip", measure_rtt, c->ops, NULL, "rtt");
                break;
        case K_STREAM:
                isolated(c->ops->name, c->size, "streaming", measure_stream, c->ops, NULL,
                         "stream");
                break;
        case K_BUSY:
                isolated(c->ops->name, c->size, "busy pairs", bench_busy, c->ops, NULL, NULL);
                break;
        case K_CONN:
                isolated("npipe-msg", -1, "set-up", NULL, NULL, bench_connect_rate, NULL);
                break;
        }
        g_opts.pin = 0;
        g_tr_suffix = "";
}

void run_rounds(void)
{
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                fail("mmap: %s", strerror(errno));
        g_place = m;
        win32_resolve();
        ngroups = 0;
        build_cases();
        int ncases = 0;
        for (int g = 0; g < ngroups; g++)
                ncases += groups[g].n;
        if (!ncases)
                return;
        if (!win32_path[0] && (name_selected("npipe-win32") || name_selected("npipe-win32-ovl")))
                out_note("npipe-win32", "npipe-bench-win32 not found next to npipe-bench: no "
                                        "Win32 rows");
        out_metric("run", -1, "rounds", g_opts.rounds);
        say("%d cases x %d rounds (placements %s) ...", ncases, g_opts.rounds, g_opts.places);
        int64_t t0 = now_ns();
        for (int r = 0; r < g_opts.rounds; r++) {
                g_round = r;
                /* the host's state in this round (a slow round shows here) */
                if (!g_opts.smoke) {
                        double l = machine_line_rtt_ns();
                        if (!isnan(l))
                                out_metric("machine", -1, "line_rtt_ns", l);
                }
                for (int g = 0; g < ngroups; g++) {
                        struct group *gr = &groups[g];
                        /* ABAB... then BABA...: no transport always goes first */
                        for (int i = 0; i < gr->n; i++)
                                run_case(&gr->c[r & 1 ? gr->n - 1 - i : i]);
                }
                say("round %d of %d done (%.0f s)", r + 1, g_opts.rounds,
                    (double)(now_ns() - t0) / 1e9);
        }
        g_round = -1;
}

/* ---- medians at the end ------------------------------------------------------------------- */

struct srow {
        char *key;    /* "transport,size,metric" without the @rN */
        double value;
};

static int cmp_d(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Append METRIC = the median of its METRIC@rN samples, for every one. */
void summarize_rounds(const char *csv)
{
        FILE *f = fopen(csv, "r");
        if (!f)
                return;
        struct srow *rows = NULL;
        size_t n = 0, cap = 0;
        char line[1024];
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\r\n")] = 0;
                char *at = strstr(line, "@r");
                char *c3 = strrchr(line, ',');
                if (!at || !c3 || at > c3 || c3[1] == '"')
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 1024;
                        rows = realloc(rows, cap * sizeof(*rows));
                        if (!rows)
                                fail("out of memory");
                }
                rows[n].value = strtod(c3 + 1, NULL);
                *at = 0;
                rows[n].key = strdup(line);
                n++;
        }
        fclose(f);
        if (!n) {
                free(rows);
                return;
        }
        f = fopen(csv, "a");
        if (!f)
                fail("cannot append to %s: %s", csv, strerror(errno));
        double *v = malloc(n * sizeof(*v));
        char *done = calloc(n, 1);
        for (size_t i = 0; i < n; i++) {
                if (done[i])
                        continue;
                size_t k = 0;
                for (size_t j = i; j < n; j++)
                        if (!done[j] && strcmp(rows[j].key, rows[i].key) == 0) {
                                done[j] = 1;
                                if (!isnan(rows[j].value))
                                        v[k++] = rows[j].value;
                        }
                if (!k)
                        continue;
                qsort(v, k, sizeof(*v), cmp_d);
                double med = k & 1 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
                fprintf(f, "%s,%.6g\n", rows[i].key, med);
        }
        fclose(f);
        for (size_t i = 0; i < n; i++)
                free(rows[i].key);
        free(rows);
        free(v);
        free(done);
}
