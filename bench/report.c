/*
 * report.c - the tables, from CSV (transport,size,metric,value).
 *
 * The report reads CSV rather than the run's memory so that the rows of
 * other programs of the same run (the Wine run, callgrind's instruction
 * counts from run-bench.sh) land in the same tables.
 *
 * Interleaved rounds (rounds.c) write one sample per round as METRIC@rN.
 * A value in the tables is the median of its rounds, with their min-max;
 * a ratio is the median of the per-round ratios (A and B of one round ran
 * next to each other), with their min-max, so a difference can be told
 * from a scheduling accident.  Rows without rounds (an older CSV, the Wine
 * run) fall back to the single value, and their ratios are marked "*".
 */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const size_t std_sizes[] = {0, 64, 1024, 4096, 65536, 1048576};
const int n_std_sizes = 6;

struct row {
        char tr[32];
        long size; /* -1: none */
        char metric[40];
        double value;
        char *text; /* notes */
};

static struct row *rows;
static size_t nrows, caprows;

/* The order of rows in every table; transports not listed follow in the
 * order they first appear. */
static const char *const order[] = {"seqpacket",   "npipe-msg",       "npipe-msg-buf",
                                    "npipe-byte",  "bare-ring",       "npipe-win32",
                                    "npipe-win32-ovl", "wine",        "stream",
                                    "pipe",        "memfd",           "unix-stream",
                                    "npipe-wait"};
static const char *const labels[] = {"SOCK_SEQPACKET",   "npipe message",    "npipe big quota",
                                     "npipe byte",       "bare SPSC ring",   "npipe Win32 API",
                                     "Win32 overlapped", "Wine (server)",    "SOCK_STREAM+len",
                                     "pipe2(O_DIRECT)",  "memfd/SCM_RIGHTS", "AF_UNIX stream",
                                     "npipe_wait only"};
#define NORDER (sizeof(order) / sizeof(order[0]))

#define MAXTR 96
static char trs[MAXTR][32];
static int ntrs;

static const char *label_of(const char *tr)
{
        for (size_t i = 0; i < NORDER; i++)
                if (strcmp(order[i], tr) == 0)
                        return labels[i];
        return tr;
}

static void add_tr(const char *tr)
{
        for (int i = 0; i < ntrs; i++)
                if (strcmp(trs[i], tr) == 0)
                        return;
        if (ntrs < MAXTR)
                snprintf(trs[ntrs++], sizeof(trs[0]), "%.31s", tr);
}

static int rank(const char *tr)
{
        for (size_t i = 0; i < NORDER; i++)
                if (strcmp(order[i], tr) == 0)
                        return (int)i;
        for (int i = 0; i < ntrs; i++)
                if (strcmp(trs[i], tr) == 0)
                        return (int)NORDER + i;
        return 1000;
}

static int cmp_tr(const void *a, const void *b)
{
        return rank((const char *)a) - rank((const char *)b);
}

static int load(const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        char line[1024];
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\r\n")] = 0;
                char *tr = line, *sz = strchr(tr, ',');
                if (!sz)
                        continue;
                *sz++ = 0;
                char *me = strchr(sz, ',');
                if (!me)
                        continue;
                *me++ = 0;
                char *va = strchr(me, ',');
                if (!va)
                        continue;
                *va++ = 0;
                if (strcmp(tr, "transport") == 0)
                        continue;
                if (nrows == caprows) {
                        caprows = caprows ? caprows * 2 : 256;
                        rows = realloc(rows, caprows * sizeof(*rows));
                        if (!rows)
                                fail("out of memory");
                }
                struct row *r = &rows[nrows++];
                memset(r, 0, sizeof(*r));
                snprintf(r->tr, sizeof(r->tr), "%.31s", tr);
                snprintf(r->metric, sizeof(r->metric), "%.39s", me);
                r->size = strcmp(sz, "-") == 0 ? -1 : strtol(sz, NULL, 10);
                if (*va == '"') {
                        va++;
                        va[strcspn(va, "\"")] = 0;
                        r->text = strdup(va);
                        r->value = NAN;
                } else {
                        r->value = strtod(va, NULL);
                        /* Every metric is a time, a rate, a count or a size:
                         * a negative one is the noise of a difference of two
                         * short runs (run-bench.sh's instruction counts of a
                         * --smoke run), not a measurement.  Shown as "-". */
                        if (r->value < 0) {
                                char text[160];
                                snprintf(text, sizeof(text),
                                         "%s%s%s%s came out negative: noise of too short a run, "
                                         "not shown",
                                         r->metric, r->size >= 0 ? " at " : "",
                                         r->size >= 0 ? sz : "", r->size >= 0 ? " B" : "");
                                r->value = NAN;
                                r->text = strdup(text);
                        }
                }
                add_tr(tr);
        }
        fclose(f);
        return 0;
}

/* ---- rounds --------------------------------------------------------------------------- */

#define MAXR 64

/* The per-round samples of a metric: v[r] for round r+1, NAN where that
 * round has none.  Returns how many rounds have one. */
static int samples(const char *tr, long size, const char *metric, double *v)
{
        for (int r = 0; r < MAXR; r++)
                v[r] = NAN;
        size_t ml = strlen(metric);
        int n = 0;
        for (size_t i = 0; i < nrows; i++) {
                const struct row *w = &rows[i];
                if (w->size != size || strncmp(w->metric, metric, ml) != 0 ||
                    w->metric[ml] != '@' || w->metric[ml + 1] != 'r' || strcmp(w->tr, tr) != 0 ||
                    isnan(w->value))
                        continue;
                int r = atoi(w->metric + ml + 2) - 1;
                if (r < 0 || r >= MAXR)
                        continue;
                if (isnan(v[r]))
                        n++;
                v[r] = w->value;
        }
        return n;
}

struct spread {
        double med, lo, hi;
        int n; /* rounds; 0: a single value without rounds */
};

static int cmp_dbl(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static struct spread spread_of(const double *v)
{
        double w[MAXR];
        int n = 0;
        for (int r = 0; r < MAXR; r++)
                if (!isnan(v[r]))
                        w[n++] = v[r];
        struct spread sp = {NAN, NAN, NAN, n};
        if (!n)
                return sp;
        qsort(w, (size_t)n, sizeof(w[0]), cmp_dbl);
        sp.med = n & 1 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
        sp.lo = w[0];
        sp.hi = w[n - 1];
        return sp;
}

/* The last plain value of a metric (a later file overrides an earlier one). */
static double get_plain(const char *tr, long size, const char *metric)
{
        for (size_t i = nrows; i-- > 0;)
                if (rows[i].size == size && strcmp(rows[i].tr, tr) == 0 &&
                    strcmp(rows[i].metric, metric) == 0)
                        return rows[i].value;
        return NAN;
}

/* A metric over the rounds: median, min, max. */
static struct spread spread_get(const char *tr, long size, const char *metric)
{
        double v[MAXR];
        if (samples(tr, size, metric, v) > 0)
                return spread_of(v);
        struct spread sp = {get_plain(tr, size, metric), NAN, NAN, 0};
        return sp;
}

/* The value of a metric: the median of its rounds, or its one value. */
static double get(const char *tr, long size, const char *metric)
{
        double v[MAXR];
        if (samples(tr, size, metric, v) > 0)
                return spread_of(v).med;
        return get_plain(tr, size, metric);
}

/* A / B, round by round (A and B of a round ran next to each other):
 * median and min-max of the per-round ratios.  Without rounds, the ratio
 * of the two values (n = 0). */
static struct spread pratio_m(const char *a, long sa, const char *b, long sb, const char *metric)
{
        double va[MAXR], vb[MAXR], q[MAXR];
        int na = samples(a, sa, metric, va), nb = samples(b, sb, metric, vb);
        if (na && nb) {
                for (int r = 0; r < MAXR; r++)
                        q[r] = !isnan(va[r]) && !isnan(vb[r]) && vb[r] != 0 ? va[r] / vb[r] : NAN;
                struct spread sp = spread_of(q);
                if (sp.n)
                        return sp;
        }
        double x = get(a, sa, metric), y = get(b, sb, metric);
        struct spread sp = {y != 0 ? x / y : NAN, NAN, NAN, 0};
        return sp;
}

static struct spread pratio(const char *a, const char *b, long size, const char *metric)
{
        return pratio_m(a, size, b, size, metric);
}

static int has_any(const char *tr, const char *prefix)
{
        size_t n = strlen(prefix);
        for (size_t i = 0; i < nrows; i++)
                if (strcmp(rows[i].tr, tr) == 0 && strncmp(rows[i].metric, prefix, n) == 0)
                        return 1;
        return 0;
}

const char *size_label(long size, char *buf, size_t len)
{
        if (size < 0)
                snprintf(buf, len, "-");
        else if (size >= 1048576 && size % 1048576 == 0)
                snprintf(buf, len, "%ld MiB", size / 1048576);
        else if (size >= 1024 && size % 1024 == 0)
                snprintf(buf, len, "%ld KiB", size / 1024);
        else
                snprintf(buf, len, "%ld B", size);
        return buf;
}

/* Numbers in a fixed width with 3 significant digits where it matters. */
static const char *num(double v, char *buf, size_t len)
{
        if (isnan(v))
                snprintf(buf, len, "-");
        else if (fabs(v) >= 1e6)
                snprintf(buf, len, "%.2fM", v / 1e6);
        else if (fabs(v) >= 1e4)
                snprintf(buf, len, "%.0fk", v / 1e3);
        else if (fabs(v) >= 100)
                snprintf(buf, len, "%.0f", v);
        else if (fabs(v) >= 10)
                snprintf(buf, len, "%.1f", v);
        else if (fabs(v) >= 0.01 || v == 0)
                snprintf(buf, len, "%.2f", v);
        else
                snprintf(buf, len, "%.4f", v);
        return buf;
}

static const char *range(struct spread sp, char *buf, size_t len)
{
        char a[32], b[32];
        if (sp.n < 2 || isnan(sp.lo))
                snprintf(buf, len, "%s", sp.n == 1 ? "(1 round)" : "");
        else
                snprintf(buf, len, "%s-%s", num(sp.lo, a, sizeof(a)), num(sp.hi, b, sizeof(b)));
        return buf;
}

/* a ratio with 3 significant digits (at least 2 decimals below 10) */
static const char *rnum(double v, char *buf, size_t len)
{
        snprintf(buf, len, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
        return buf;
}

static const char *xratio(struct spread sp, char *buf, size_t len)
{
        char a[16];
        if (isnan(sp.med))
                snprintf(buf, len, "-");
        else
                snprintf(buf, len, "%sx%s", rnum(sp.med, a, sizeof(a)), sp.n ? "" : "*");
        return buf;
}

static const char *xrange(struct spread sp, char *buf, size_t len)
{
        char a[16], b[16];
        if (sp.n < 2 || isnan(sp.lo))
                snprintf(buf, len, "%s", "");
        else
                snprintf(buf, len, "%s-%s", rnum(sp.lo, a, sizeof(a)), rnum(sp.hi, b, sizeof(b)));
        return buf;
}

/* "median [min-max]" in one column */
static const char *medrange(struct spread sp, char *buf, size_t len)
{
        char a[32], b[48];
        if (isnan(sp.med))
                snprintf(buf, len, "-");
        else if (sp.n < 2)
                snprintf(buf, len, "%s", num(sp.med, a, sizeof(a)));
        else
                snprintf(buf, len, "%s [%s]", num(sp.med, a, sizeof(a)), range(sp, b, sizeof(b)));
        return buf;
}

static int placed(const char *tr)
{
        return strstr(tr, "-apart") || strstr(tr, "-same");
}

static void sorted_trs(char out[][32], int *n)
{
        memcpy(out, trs, sizeof(trs));
        *n = ntrs;
        qsort(out, (size_t)*n, sizeof(out[0]), cmp_tr);
}

static void table_rtt(FILE *o)
{
        char t[MAXTR][32];
        int nt;
        sorted_trs(t, &nt);
        fprintf(o, "\nRound trip (one message each way, two processes, unpinned), microseconds\n");
        fprintf(o, "  %-7s %-17s %9s %-17s %8s %8s %8s %7s %9s %-11s\n", "size", "transport",
                "median", "  (min-max)", "p99", "p99.9", "cpu/rt", "vcsw/rt", "med/SP", "(min-max)");
        char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[48], k[32];
        for (int s = 0; s < n_std_sizes; s++) {
                long size = (long)std_sizes[s];
                int any = 0;
                for (int i = 0; i < nt; i++) {
                        if (!has_any(t[i], "rtt_") || placed(t[i]))
                                continue;
                        struct spread med = spread_get(t[i], size, "rtt_median_us");
                        if (isnan(med.med)) {
                                /* n/a: it cannot carry an empty message (rows
                                 * measured only at some sizes are left out) */
                                if (size == 0 && !isnan(get(t[i], 64, "rtt_median_us")))
                                        fprintf(o, "  %-7s %-17s %9s\n",
                                                size_label(size, a, sizeof(a)), label_of(t[i]),
                                                "n/a");
                                continue;
                        }
                        any = 1;
                        struct spread q = pratio(t[i], "seqpacket", size, "rtt_median_us");
                        fprintf(o, "  %-7s %-17s %9s %-17s %8s %8s %8s %7s %9s %-11s\n",
                                size_label(size, a, sizeof(a)), label_of(t[i]),
                                num(med.med, b, sizeof(b)), range(med, h, sizeof(h)),
                                num(get(t[i], size, "rtt_p99_us"), c, sizeof(c)),
                                num(get(t[i], size, "rtt_p999_us"), d, sizeof(d)),
                                num(get(t[i], size, "rtt_cpu_us"), e, sizeof(e)),
                                num(get(t[i], size, "rtt_vcsw"), f, sizeof(f)),
                                xratio(q, g, sizeof(g)), xrange(q, k, sizeof(k)));
                }
                if (any && s + 1 < n_std_sizes)
                        fprintf(o, "\n");
        }
}

static void table_stream(FILE *o)
{
        char t[MAXTR][32];
        int nt;
        sorted_trs(t, &nt);
        fprintf(o, "\nOne-way streaming (the reader checks every byte; unpinned)\n");
        fprintf(o, "  %-7s %-17s %9s %-17s %8s %8s %8s %6s %9s %-11s\n", "size", "transport",
                "msgs/s", "  (min-max)", "MB/s", "cpu us/m", "vcsw/m", "cores", "msgs/SP",
                "(min-max)");
        char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[48], k[32];
        for (int s = 0; s < n_std_sizes; s++) {
                long size = (long)std_sizes[s];
                int any = 0;
                for (int i = 0; i < nt; i++) {
                        if (!has_any(t[i], "stream_") || placed(t[i]))
                                continue;
                        struct spread r = spread_get(t[i], size, "stream_msgs_per_s");
                        if (isnan(r.med)) {
                                if (size == 0 && !isnan(get(t[i], 64, "stream_msgs_per_s")))
                                        fprintf(o, "  %-7s %-17s %9s\n",
                                                size_label(size, a, sizeof(a)), label_of(t[i]),
                                                "n/a");
                                continue;
                        }
                        any = 1;
                        struct spread q = pratio(t[i], "seqpacket", size, "stream_msgs_per_s");
                        fprintf(o, "  %-7s %-17s %9s %-17s %8s %8s %8s %6s %9s %-11s\n",
                                size_label(size, a, sizeof(a)), label_of(t[i]),
                                num(r.med, b, sizeof(b)), range(r, h, sizeof(h)),
                                num(get(t[i], size, "stream_mb_per_s"), c, sizeof(c)),
                                num(get(t[i], size, "stream_cpu_us"), d, sizeof(d)),
                                num(get(t[i], size, "stream_vcsw"), e, sizeof(e)),
                                num(get(t[i], size, "stream_cores"), f, sizeof(f)),
                                xratio(q, g, sizeof(g)), xrange(q, k, sizeof(k)));
                }
                if (any && s + 1 < n_std_sizes)
                        fprintf(o, "\n");
        }
}

static void table_misc(FILE *o)
{
        char a[32], b[32], c[32], d[32], e[32];
        double un = get("unix-stream", -1, "connect_per_s");
        if (!isnan(un) || !isnan(get("npipe-msg", -1, "connect_per_s"))) {
                fprintf(o, "\nConnection set-up (open + close, server re-listens; unpinned)\n");
                fprintf(o, "  %-17s %10s %-15s %10s %12s %12s %-11s\n", "transport", "per second",
                        "  (min-max)", "median us", "cpu us/conn", "rate/AF_UNIX", "(min-max)");
                const char *cs[] = {"unix-stream", "npipe-msg", "npipe-wait"};
                for (int i = 0; i < 3; i++) {
                        struct spread r = spread_get(cs[i], -1, "connect_per_s");
                        if (isnan(r.med))
                                continue;
                        struct spread q = pratio(cs[i], "unix-stream", -1, "connect_per_s");
                        char h[48], k[32];
                        fprintf(o, "  %-17s %10s %-15s %10s %12s %12s %-11s\n", label_of(cs[i]),
                                num(r.med, a, sizeof(a)), range(r, h, sizeof(h)),
                                num(get(cs[i], -1, "connect_median_us"), b, sizeof(b)),
                                num(get(cs[i], -1, "connect_cpu_us"), c, sizeof(c)),
                                xratio(q, d, sizeof(d)), xrange(q, k, sizeof(k)));
                }
                fprintf(o, "  (npipe's cpu includes the broker's)\n");
        }
        double sc = get("npipe-msg", -1, "scale_connections");
        if (!isnan(sc)) {
                fprintf(o, "\nScale: idle connections to one server process, ulimit -n %.0f\n",
                        get("npipe-msg", -1, "scale_nofile"));
                fprintf(o, "  connections %.0f of %.0f wanted, %.0f carried a message; "
                           "%s opens/s\n",
                        sc, get("npipe-msg", -1, "scale_wanted"),
                        get("npipe-msg", -1, "scale_verified"),
                        num(get("npipe-msg", -1, "scale_open_per_s"), a, sizeof(a)));
                fprintf(o, "  memory per idle connection: RSS %s B, PSS %s B (both processes; "
                           "server PSS %s B, client PSS %s B), broker PSS %s B\n",
                        num(get("npipe-msg", -1, "scale_rss_per_conn_b"), a, sizeof(a)),
                        num(get("npipe-msg", -1, "scale_pss_per_conn_b"), b, sizeof(b)),
                        num(get("npipe-msg", -1, "scale_srv_pss_per_conn_b"), c, sizeof(c)),
                        num(get("npipe-msg", -1, "scale_cli_pss_per_conn_b"), d, sizeof(d)),
                        num(get("npipe-msg", -1, "scale_broker_pss_per_conn_b"), e,
                            sizeof(e)));
        }
        static const char *const bigs[] = {"npipe-msg-100k", "npipe-msg-100k-maps"};
        for (size_t k = 0; k < 2; k++) {
                double big = get(bigs[k], -1, "scale_connections");
                if (isnan(big))
                        continue;
                fprintf(o, "  %s scale run, vm.max_map_count %.0f: %.0f of %.0f connections "
                           "made, %.0f carried a message; %s opens/s\n",
                        k ? "third" : "second", get(bigs[k], -1, "scale_max_map_count"), big,
                        get(bigs[k], -1, "scale_wanted"), get(bigs[k], -1, "scale_verified"),
                        num(get(bigs[k], -1, "scale_open_per_s"), a, sizeof(a)));
        }
        double idle = get("npipe-msg", -1, "idle_cpu_pct");
        if (!isnan(idle))
                fprintf(o, "\nIdle connected pair, both ends blocked in a read: %.4f %% of one "
                           "core over %.1f s (%s us CPU, %.0f context switches; broker %s "
                           "us)\n",
                        idle, get("npipe-msg", -1, "idle_window_s"),
                        num(get("npipe-msg", -1, "idle_cpu_us"), a, sizeof(a)),
                        get("npipe-msg", -1, "idle_vcsw"),
                        num(get("npipe-msg", -1, "idle_broker_cpu_us"), b, sizeof(b)));
        double q0 = get("memfd", -1, "memfd_queued_max");
        if (!isnan(q0))
                fprintf(o, "\nmemfd-per-message: unread messages a sender can queue: %.0f "
                           "(default SO_SNDBUF), %.0f (64 MiB SO_SNDBUF); see the notes\n",
                        q0, get("memfd", -1, "memfd_queued_max_bigbuf"));
        int hdr = 0;
        for (int s = 0; s < n_std_sizes; s++) {
                long size = (long)std_sizes[s];
                const char *ts[] = {"npipe-msg", "npipe-byte"};
                for (int i = 0; i < 2; i++) {
                        double w = get(ts[i], size, "instr_write");
                        double r = get(ts[i], size, "instr_read");
                        /* perf counts both processes together: a total only */
                        double t = isnan(w) || isnan(r) ? get(ts[i], size, "instr_total") : w + r;
                        if (isnan(w) && isnan(r) && isnan(t))
                                continue;
                        if (!hdr) {
                                fprintf(o, "\nInstructions per message on the fast path "
                                           "(no waiting, no syscalls)\n");
                                fprintf(o, "  %-7s %-17s %10s %10s %10s\n", "size",
                                        "transport", "write", "read", "total");
                                hdr = 1;
                        }
                        fprintf(o, "  %-7s %-17s %10s %10s %10s\n", size_label(size, a, sizeof(a)),
                                label_of(ts[i]), num(w, b, sizeof(b)), num(r, c, sizeof(c)),
                                num(t, d, sizeof(d)));
                }
        }
}

/* The largest busy-pair count measured for both transports (0: none). */
static long busy_max_pairs(void)
{
        long best = 0;
        for (size_t i = 0; i < nrows; i++)
                if (strncmp(rows[i].metric, "busy_total_per_s", 16) == 0 && rows[i].size > best &&
                    strcmp(rows[i].tr, "npipe-msg") == 0 &&
                    !isnan(get("seqpacket", rows[i].size, "busy_total_per_s")))
                        best = rows[i].size;
        return best;
}

/* Every figure of the comparison as a ratio, each placement its own row:
 * the median of the per-round ratios, their min-max, and both sides'
 * medians with their min-max. */
struct cmp {
        const char *what;
        const char *a, *b;
        long size;
        const char *metric;
        int placed; /* 1: unpinned, apart and same rows; 0: unpinned only */
};

static void cmp_row(FILE *o, const char *what, const char *place, const char *a, const char *b,
                    long size, const char *metric)
{
        struct spread q = pratio(a, b, size, metric);
        if (isnan(q.med))
                return;
        struct spread va = spread_get(a, size, metric), vb = spread_get(b, size, metric);
        char r[32], rr[32], x[64], y[64];
        fprintf(o, "  %-46s %-8s %7s %-11s %-22s %-22s\n", what, place, xratio(q, r, sizeof(r)),
                xrange(q, rr, sizeof(rr)), medrange(va, x, sizeof(x)), medrange(vb, y, sizeof(y)));
}

static void table_compare(FILE *o)
{
        static const struct cmp cs[] = {
                {"open+close / AF_UNIX connect+accept (rate)", "npipe-msg", "unix-stream", -1,
                 "connect_per_s", 0},
                {"64 B streaming / SOCK_SEQPACKET (msgs/s)", "npipe-msg", "seqpacket", 64,
                 "stream_msgs_per_s", 1},
                {"64 B streaming / bare SPSC ring (msgs/s)", "npipe-msg", "bare-ring", 64,
                 "stream_msgs_per_s", 1},
                {"  bare ring / SOCK_SEQPACKET (msgs/s)", "bare-ring", "seqpacket", 64,
                 "stream_msgs_per_s", 1},
                {"64 B round trip / SOCK_SEQPACKET (time)", "npipe-msg", "seqpacket", 64,
                 "rtt_median_us", 1},
                {"64 B round trip / bare SPSC ring (time)", "npipe-msg", "bare-ring", 64,
                 "rtt_median_us", 1},
                {"4 KiB streaming / SOCK_SEQPACKET (msgs/s)", "npipe-msg", "seqpacket", 4096,
                 "stream_msgs_per_s", 1},
                {"Win32 sync / native, 64 B streaming", "npipe-win32", "npipe-msg", 64,
                 "stream_msgs_per_s", 1},
                {"Win32 overlapped / native, 64 B streaming", "npipe-win32-ovl", "npipe-msg", 64,
                 "stream_msgs_per_s", 1},
                {"Win32 sync / native, 64 KiB streaming", "npipe-win32", "npipe-msg", 65536,
                 "stream_msgs_per_s", 1},
                {"Win32 overlapped / native, 64 KiB streaming", "npipe-win32-ovl", "npipe-msg",
                 65536, "stream_msgs_per_s", 1},
                {"Win32 sync / native, 64 B rtt (time)", "npipe-win32", "npipe-msg", 64,
                 "rtt_median_us", 1},
                {"Win32 overlapped / native, 64 B rtt (time)", "npipe-win32-ovl",
                 "npipe-msg", 64, "rtt_median_us", 1},
        };
        static const char *const sfx[] = {"", "-apart", "-same"};
        static const char *const pname[] = {"unpinned", "apart", "same"};
        double rounds = get_plain("run", -1, "rounds");
        int hdr = 0;
        char a[48], b[48];
        for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
                /* the busy rows go after the set-up row */
                for (int p = 0; p < (cs[i].placed ? 3 : 1); p++) {
                        snprintf(a, sizeof(a), "%s%s", cs[i].a, sfx[p]);
                        snprintf(b, sizeof(b), "%s%s", cs[i].b, sfx[p]);
                        if (isnan(pratio(a, b, cs[i].size, cs[i].metric).med))
                                continue;
                        if (!hdr) {
                                if (isnan(rounds))
                                        fprintf(o, "\nComparisons: every figure as a ratio A/B "
                                                   "(this CSV has no rounds: each ratio, marked *, "
                                                   "is of two single values).\n");
                                else
                                        fprintf(o, "\nComparisons: every figure as a ratio A/B. A "
                                                   "and B ran next to each other in each of %.0f "
                                                   "round%s;\nratio = median of the per-round "
                                                   "ratios, (min-max) = theirs; A and B = median "
                                                   "[min-max] of the rounds.\n",
                                                rounds, rounds == 1 ? "" : "s");
                                fprintf(o, "unpinned = the scheduler placed them; apart = CPU 0 "
                                           "and 1; same = both on CPU 0. (time): lower is better.\n");
                                fprintf(o, "  %-46s %-8s %7s %-11s %-22s %-22s\n", "figure",
                                        "placed", "ratio", "(min-max)", "A", "B");
                                hdr = 1;
                        }
                        cmp_row(o, p ? "" : cs[i].what, pname[p], a, b, cs[i].size,
                                cs[i].metric);
                }
                if (i == 0) {
                        long n = busy_max_pairs();
                        if (n <= 0)
                                continue;
                        static const char *const bm[] = {"busy_total_per_s",
                                                         "busy_median_pair_per_s",
                                                         "busy_min_pair_per_s"};
                        static const char *const bw[] = {"total", "median pair", "slowest pair"};
                        for (int k = 0; k < 3; k++) {
                                char what[80];
                                snprintf(what, sizeof(what), "%ld busy pairs, %s / SOCK_SEQPACKET",
                                         n, bw[k]);
                                cmp_row(o, what, "unpinned", "npipe-msg", "seqpacket", n, bm[k]);
                        }
                }
        }
}

/* Oversubscription: every pair count, both transports, the ratios. */
static void table_busy(FILE *o)
{
        int hdr = 0;
        char a[64], b[64], c[64], d[32], e[32], f[32];
        for (long n = 1; n <= 64; n++) {
                const char *ts[] = {"seqpacket", "npipe-msg"};
                for (int t = 0; t < 2; t++) {
                        struct spread tot = spread_get(ts[t], n, "busy_total_per_s");
                        if (isnan(tot.med))
                                continue;
                        if (!hdr) {
                                fprintf(o, "\nBusy pairs: N pairs of processes, each doing 64 B "
                                           "round trips as fast as it can, all at once (unpinned);\n"
                                           "round trips per second, median [min-max] of the "
                                           "rounds; npipe/SP = median of the per-round ratios\n");
                                fprintf(o, "  %5s %-15s %-21s %-19s %-19s %8s %8s %8s\n", "pairs",
                                        "transport", "total", "median pair", "slowest pair",
                                        "total", "median", "slowest");
                                fprintf(o, "  %5s %-15s %-21s %-19s %-19s %26s\n", "", "", "", "",
                                        "", "--- npipe/SP ---");
                                hdr = 1;
                        }
                        fprintf(o, "  %5ld %-15s %-21s %-19s %-19s", n, label_of(ts[t]),
                                medrange(tot, a, sizeof(a)),
                                medrange(spread_get(ts[t], n, "busy_median_pair_per_s"), b,
                                         sizeof(b)),
                                medrange(spread_get(ts[t], n, "busy_min_pair_per_s"), c,
                                         sizeof(c)));
                        if (t == 1)
                                fprintf(o, " %8s %8s %8s",
                                        xratio(pratio("npipe-msg", "seqpacket", n,
                                                      "busy_total_per_s"),
                                               d, sizeof(d)),
                                        xratio(pratio("npipe-msg", "seqpacket", n,
                                                      "busy_median_pair_per_s"),
                                               e, sizeof(e)),
                                        xratio(pratio("npipe-msg", "seqpacket", n,
                                                      "busy_min_pair_per_s"),
                                               f, sizeof(f)));
                        fprintf(o, "\n");
                }
        }
}

/* The unpinned 64 B streaming rows round by round, each with the share of
 * the watchdog's samples in which both processes were on one CPU: where
 * the scheduler put them, next to what it cost. */
static void table_unpinned_rounds(FILE *o)
{
        static const char *const ts[] = {"npipe-msg", "seqpacket", "bare-ring", "npipe-win32",
                                         "npipe-win32-ovl"};
        int hdr = 0;
        char a[32];
        for (size_t t = 0; t < sizeof(ts) / sizeof(ts[0]); t++) {
                double v[MAXR], pc[MAXR];
                if (samples(ts[t], 64, "stream_msgs_per_s", v) < 2)
                        continue;
                samples(ts[t], 64, "stream_same_cpu_pct", pc);
                if (!hdr) {
                        fprintf(o, "\nUnpinned 64 B streaming, round by round: msgs/s [%% of the "
                                   "time both processes were on one CPU]\n");
                        hdr = 1;
                }
                fprintf(o, "  %-17s", label_of(ts[t]));
                int col = 0;
                double apart[MAXR], same[MAXR];
                for (int r = 0; r < MAXR; r++) {
                        apart[r] = same[r] = NAN;
                        if (isnan(v[r]))
                                continue;
                        if (col && col % 6 == 0)
                                fprintf(o, "\n  %-17s", "");
                        col++;
                        if (isnan(pc[r]))
                                fprintf(o, "  r%d %s [?]", r + 1, num(v[r], a, sizeof(a)));
                        else
                                fprintf(o, "  r%d %s [%.0f%%]", r + 1, num(v[r], a, sizeof(a)),
                                        pc[r]);
                        if (!isnan(pc[r]) && pc[r] <= 20)
                                apart[r] = v[r];
                        else if (!isnan(pc[r]) && pc[r] >= 80)
                                same[r] = v[r];
                }
                fprintf(o, "\n");
                struct spread sa = spread_of(apart), ss = spread_of(same);
                char x[64], y[64];
                if (sa.n && ss.n)
                        fprintf(o, "  %-17s  rounds mostly on two CPUs: %s (%d); mostly on one: "
                                   "%s (%d)\n",
                                "", medrange(sa, x, sizeof(x)), sa.n, medrange(ss, y, sizeof(y)),
                                ss.n);
        }
}

static void target(FILE *o, const char *what, struct spread q, double floor, double aim,
                   int less)
{
        double v = q.med;
        const char *verdict;
        if (isnan(v))
                verdict = "not measured";
        else if (less ? v <= aim : v >= aim)
                verdict = "met, aim reached";
        else if (less ? v <= floor : v >= floor)
                verdict = "met";
        else
                verdict = "MISSED";
        char b[32], c[32];
        /* the median decides; say so when some rounds fell on the other side */
        int mixed = !isnan(q.lo) && (less ? (q.lo <= floor) != (q.hi <= floor)
                                          : (q.lo >= floor) != (q.hi >= floor));
        fprintf(o, "  %-44s %7s %-11s (floor %s%.1fx, aim %s%.1fx)  %s%s\n", what,
                xratio(q, b, sizeof(b)), xrange(q, c, sizeof(c)), less ? "<=" : ">=", floor,
                less ? "<=" : ">=", aim, verdict, mixed ? " (not in every round)" : "");
}

static struct spread rel(const char *tr, long size, const char *metric)
{
        return pratio(tr, "seqpacket", size, metric);
}

static void table_targets(FILE *o)
{
        /* A --smoke run checks every message but times each case for a
         * few milliseconds: its numbers cannot meet or miss anything. */
        if (!isnan(get("run", -1, "smoke"))) {
                fprintf(o, "\nTargets: not judged in a --smoke run (each case runs for a few "
                           "milliseconds to check\nthe messages, not to time them; make bench "
                           "measures and judges them)\n");
                return;
        }
        fprintf(o, "\nTargets (npipe message mode against SOCK_SEQPACKET, unpinned rows: median "
                   "of the per-round ratios, (min-max))\n");
        target(o, "64 B round trip (median)", rel("npipe-msg", 64, "rtt_median_us"), 0.5, 0.1, 1);
        target(o, "64 B streaming (msgs/s)", rel("npipe-msg", 64, "stream_msgs_per_s"), 5, 10, 0);
        target(o, "4 KiB streaming (msgs/s)", rel("npipe-msg", 4096, "stream_msgs_per_s"), 2, 3,
               0);
        target(o, "1 MiB streaming (msgs/s)", rel("npipe-msg", 1048576, "stream_msgs_per_s"), 1,
               1.2, 0);
        /* SOCK_SEQPACKET cannot carry a 1 MiB record with its default buffer:
         * the benchmark raises it to 2 x size + 64 KiB.  The same buffer as
         * npipe quotas (npipe-msg-buf) is the like-for-like comparison. */
        target(o, "1 MiB streaming, quotas = SEQPACKET's buffer",
               rel("npipe-msg-buf", 1048576, "stream_msgs_per_s"), 1, 1.2, 0);
        target(o, "connection set-up vs AF_UNIX connect+accept",
               pratio("npipe-msg", "unix-stream", -1, "connect_per_s"), 0.5, 0.5, 0);
        double sc = get("npipe-msg", -1, "scale_verified");
        double big = get("npipe-msg-100k", -1, "scale_verified");
        double bigm = get("npipe-msg-100k-maps", -1, "scale_verified");
        fprintf(o, "  %-44s %8.0f            (floor 10000, aim 100000)  %s\n",
                "connections under ulimit -n 1024", isnan(big) ? sc : (big > sc ? big : sc),
                isnan(sc) ? "not measured"
                          : (!isnan(big) && big >= 100000 ? "met, aim reached"
                                                          : (sc >= 10000 ? "met" : "MISSED")));
        if (!isnan(bigm))
                fprintf(o, "  %-44s %8.0f            (aim 100000)  %s\n",
                        "  the same, vm.max_map_count raised", bigm,
                        bigm >= 100000 ? "aim reached" : "MISSED");
        double idle = get("npipe-msg", -1, "idle_cpu_pct");
        fprintf(o, "  %-44s %7.4f%%            (goal 0%%)  %s\n", "idle CPU of a silent pair", idle,
                isnan(idle) ? "not measured" : (idle < 0.05 ? "met (below 0.05%)" : "MISSED"));
}

static void notes(FILE *o)
{
        int hdr = 0;
        for (size_t i = 0; i < nrows; i++) {
                if (!rows[i].text)
                        continue;
                int dup = 0;
                for (size_t j = 0; j < i; j++)
                        if (rows[j].text && strcmp(rows[j].text, rows[i].text) == 0 &&
                            strcmp(rows[j].tr, rows[i].tr) == 0)
                                dup = 1;
                if (dup)
                        continue;
                if (!hdr) {
                        fprintf(o, "\nNotes\n");
                        hdr = 1;
                }
                fprintf(o, "  %-17s %s\n", label_of(rows[i].tr), rows[i].text);
        }
}

int report_print(FILE *o, const char *const *files, int nfiles)
{
        for (int i = 0; i < nfiles; i++)
                if (load(files[i]) < 0)
                        return -1;
        if (nrows == 0)
                return -1;
        static const char *const lines[] = {"line_rtt_ns_start", "line_rtt_ns_end"};
        for (int k = 0; k < 2; k++) {
                /* every run's, in file order (a run is one npipe-bench) */
                int first = 1;
                for (size_t i = 0; i < nrows; i++) {
                        if (strcmp(rows[i].tr, "machine") != 0 ||
                            strcmp(rows[i].metric, lines[k]) != 0)
                                continue;
                        if (first)
                                fprintf(o, "%s", k ? "  at the end:  " : "Machine: one cache line "
                                                      "to the other CPU and back (ns), at the start: ");
                        fprintf(o, "%s%.0f", first ? "" : " ", rows[i].value);
                        first = 0;
                }
                if (!first)
                        fprintf(o, k ? "\n" : "");
        }
        double lr[MAXR];
        if (samples("machine", -1, "line_rtt_ns", lr) > 0) {
                fprintf(o, "  in each round:");
                for (int r = 0; r < MAXR; r++)
                        if (!isnan(lr[r]))
                                fprintf(o, " %.0f", lr[r]);
                fprintf(o, "\n");
        }
        table_compare(o);
        table_unpinned_rounds(o);
        table_busy(o);
        table_rtt(o);
        table_stream(o);
        table_misc(o);
        table_targets(o);
        notes(o);
        fprintf(o, "\nSP = SOCK_SEQPACKET at the same size; cpu = user+system time of both "
                   "processes; vcsw = voluntary context switches of both;\n"
                   "* = a ratio of two single values, not of interleaved rounds.\n");
        return 0;
}
