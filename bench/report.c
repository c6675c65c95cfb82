/*
 * report.c - the tables, from CSV (transport,size,metric,value).
 *
 * The report reads CSV rather than the run's memory so that the rows of
 * other programs of the same run (the Win32 benchmark built natively and
 * under Wine, callgrind's instruction counts from run-bench.sh) land in the
 * same tables, with the ratio to SOCK_SEQPACKET of the same run.
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
static const char *const order[] = {"seqpacket", "npipe-msg", "npipe-byte", "npipe-win32",
                                    "wine",      "stream",    "pipe",       "memfd",
                                    "unix-stream", "npipe-wait"};
static const char *const labels[] = {"SOCK_SEQPACKET",  "npipe message",   "npipe byte",
                                     "npipe Win32 API", "Wine (server)",   "SOCK_STREAM+len",
                                     "pipe2(O_DIRECT)", "memfd/SCM_RIGHTS", "AF_UNIX stream",
                                     "npipe_wait only"};
#define NORDER (sizeof(order) / sizeof(order[0]))

static char trs[32][32];
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
        if (ntrs < 32)
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
                }
                add_tr(tr);
        }
        fclose(f);
        return 0;
}

/* The last value of a metric (a later file overrides an earlier one). */
static double get(const char *tr, long size, const char *metric)
{
        for (size_t i = nrows; i-- > 0;)
                if (rows[i].size == size && strcmp(rows[i].tr, tr) == 0 &&
                    strcmp(rows[i].metric, metric) == 0)
                        return rows[i].value;
        return NAN;
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

static const char *ratio(double v, double base, char *buf, size_t len)
{
        if (isnan(v) || isnan(base) || base == 0)
                snprintf(buf, len, "-");
        else
                snprintf(buf, len, "%.2fx", v / base);
        return buf;
}

static void sorted_trs(char out[][32], int *n)
{
        memcpy(out, trs, sizeof(trs));
        *n = ntrs;
        qsort(out, (size_t)*n, sizeof(out[0]), cmp_tr);
}

static void table_rtt(FILE *o)
{
        char t[32][32];
        int nt;
        sorted_trs(t, &nt);
        fprintf(o, "\nRound trip (one message each way, two processes), microseconds\n");
        fprintf(o, "  %-7s %-17s %9s %9s %9s %9s %8s %10s\n", "size", "transport", "median",
                "p99", "p99.9", "cpu/rt", "vcsw/rt", "median/SP");
        char a[32], b[32], c[32], d[32], e[32], f[32], g[32];
        for (int s = 0; s < n_std_sizes; s++) {
                long size = (long)std_sizes[s];
                double base = get("seqpacket", size, "rtt_median_us");
                int any = 0;
                for (int i = 0; i < nt; i++) {
                        if (!has_any(t[i], "rtt_") || strstr(t[i], "-apart") ||
                            strstr(t[i], "-same"))
                                continue;
                        double med = get(t[i], size, "rtt_median_us");
                        if (isnan(med)) {
                                fprintf(o, "  %-7s %-17s %9s\n", size_label(size, a, sizeof(a)),
                                        label_of(t[i]), "n/a");
                                continue;
                        }
                        any = 1;
                        fprintf(o, "  %-7s %-17s %9s %9s %9s %9s %8s %10s\n",
                                size_label(size, a, sizeof(a)), label_of(t[i]),
                                num(med, b, sizeof(b)),
                                num(get(t[i], size, "rtt_p99_us"), c, sizeof(c)),
                                num(get(t[i], size, "rtt_p999_us"), d, sizeof(d)),
                                num(get(t[i], size, "rtt_cpu_us"), e, sizeof(e)),
                                num(get(t[i], size, "rtt_vcsw"), f, sizeof(f)),
                                ratio(med, base, g, sizeof(g)));
                }
                if (any && s + 1 < n_std_sizes)
                        fprintf(o, "\n");
        }
}

static void table_stream(FILE *o)
{
        char t[32][32];
        int nt;
        sorted_trs(t, &nt);
        fprintf(o, "\nOne-way streaming (the reader checks every byte)\n");
        fprintf(o, "  %-7s %-17s %9s %9s %9s %9s %7s %10s\n", "size", "transport", "msgs/s",
                "MB/s", "cpu us/m", "vcsw/m", "cores", "msgs/SP");
        char a[32], b[32], c[32], d[32], e[32], f[32], g[32];
        for (int s = 0; s < n_std_sizes; s++) {
                long size = (long)std_sizes[s];
                double base = get("seqpacket", size, "stream_msgs_per_s");
                int any = 0;
                for (int i = 0; i < nt; i++) {
                        if (!has_any(t[i], "stream_") || strstr(t[i], "-apart") ||
                            strstr(t[i], "-same"))
                                continue;
                        double r = get(t[i], size, "stream_msgs_per_s");
                        if (isnan(r)) {
                                fprintf(o, "  %-7s %-17s %9s\n", size_label(size, a, sizeof(a)),
                                        label_of(t[i]), "n/a");
                                continue;
                        }
                        any = 1;
                        fprintf(o, "  %-7s %-17s %9s %9s %9s %9s %7s %10s\n",
                                size_label(size, a, sizeof(a)), label_of(t[i]),
                                num(r, b, sizeof(b)),
                                num(get(t[i], size, "stream_mb_per_s"), c, sizeof(c)),
                                num(get(t[i], size, "stream_cpu_us"), d, sizeof(d)),
                                num(get(t[i], size, "stream_vcsw"), e, sizeof(e)),
                                num(get(t[i], size, "stream_cores"), f, sizeof(f)),
                                ratio(r, base, g, sizeof(g)));
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
                fprintf(o, "\nConnection set-up (open + close, server re-listens)\n");
                fprintf(o, "  %-17s %10s %10s %12s %12s\n", "transport", "per second",
                        "median us", "cpu us/conn", "rate/AF_UNIX");
                const char *cs[] = {"unix-stream", "npipe-msg", "npipe-wait"};
                for (int i = 0; i < 3; i++) {
                        double r = get(cs[i], -1, "connect_per_s");
                        if (isnan(r))
                                continue;
                        fprintf(o, "  %-17s %10s %10s %12s %12s\n", label_of(cs[i]),
                                num(r, a, sizeof(a)),
                                num(get(cs[i], -1, "connect_median_us"), b, sizeof(b)),
                                num(get(cs[i], -1, "connect_cpu_us"), c, sizeof(c)),
                                ratio(r, un, d, sizeof(d)));
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
                        if (isnan(w) && isnan(r))
                                continue;
                        if (!hdr) {
                                fprintf(o, "\nInstructions per message on the fast path "
                                           "(callgrind; no waiting, no syscalls)\n");
                                fprintf(o, "  %-7s %-17s %10s %10s %10s\n", "size",
                                        "transport", "write", "read", "total");
                                hdr = 1;
                        }
                        fprintf(o, "  %-7s %-17s %10.0f %10.0f %10.0f\n",
                                size_label(size, a, sizeof(a)), label_of(ts[i]), w, r, w + r);
                }
        }
}

/* The same measurements with both processes pinned: where the scheduler
 * puts the two processes decides which design wins, so both placements
 * are shown (run-bench.sh names the rows TRANSPORT-apart / -same). */
static void table_placement(FILE *o)
{
        const char *pl[] = {"apart", "same"};
        const char *ts[] = {"seqpacket", "npipe-msg"};
        const long sz[] = {64, 4096};
        char name[48], a[32], b[32], c[32], d[32], e[32];
        if (!has_any("seqpacket-apart", "rtt_") && !has_any("seqpacket-same", "rtt_"))
                return;
        fprintf(o, "\nPlacement: pinned on two CPUs (apart) or one CPU (same)\n");
        fprintf(o, "  %-6s %-7s %-17s %11s %9s %12s %9s\n", "pin", "size", "transport",
                "rtt median", "vs SP", "stream msg/s", "vs SP");
        for (int p = 0; p < 2; p++)
                for (int z = 0; z < 2; z++)
                        for (int t = 0; t < 2; t++) {
                                snprintf(name, sizeof(name), "%s-%s", ts[t], pl[p]);
                                char base[48];
                                snprintf(base, sizeof(base), "seqpacket-%s", pl[p]);
                                double rt = get(name, sz[z], "rtt_median_us");
                                double st = get(name, sz[z], "stream_msgs_per_s");
                                if (isnan(rt) && isnan(st))
                                        continue;
                                fprintf(o, "  %-6s %-7s %-17s %11s %9s %12s %9s\n", pl[p],
                                        size_label(sz[z], a, sizeof(a)), label_of(ts[t]),
                                        num(rt, b, sizeof(b)),
                                        ratio(rt, get(base, sz[z], "rtt_median_us"), c,
                                              sizeof(c)),
                                        num(st, d, sizeof(d)),
                                        ratio(st, get(base, sz[z], "stream_msgs_per_s"), e,
                                              sizeof(e)));
                        }
}

static void target(FILE *o, const char *what, double v, double floor, double aim, int less)
{
        const char *verdict;
        if (isnan(v))
                verdict = "not measured";
        else if (less ? v <= aim : v >= aim)
                verdict = "met, aim reached";
        else if (less ? v <= floor : v >= floor)
                verdict = "met";
        else
                verdict = "MISSED";
        char b[32];
        if (isnan(v))
                snprintf(b, sizeof(b), "-");
        else
                snprintf(b, sizeof(b), "%.2fx", v);
        fprintf(o, "  %-44s %8s   (floor %s%.1fx, aim %s%.1fx)  %s\n", what, b, less ? "<=" : ">=",
                floor, less ? "<=" : ">=", aim, verdict);
}

static double rel(const char *tr, long size, const char *metric)
{
        return get(tr, size, metric) / get("seqpacket", size, metric);
}

static void table_targets(FILE *o)
{
        fprintf(o, "\nTargets (npipe message mode against SOCK_SEQPACKET, same run)\n");
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
               get("npipe-msg", -1, "connect_per_s") / get("unix-stream", -1, "connect_per_s"),
               0.5, 0.5, 0);
        double sc = get("npipe-msg", -1, "scale_verified");
        double big = get("npipe-msg-100k", -1, "scale_verified");
        double bigm = get("npipe-msg-100k-maps", -1, "scale_verified");
        fprintf(o, "  %-44s %8.0f   (floor 10000, aim 100000)  %s\n",
                "connections under ulimit -n 1024", isnan(big) ? sc : (big > sc ? big : sc),
                isnan(sc) ? "not measured"
                          : (!isnan(big) && big >= 100000 ? "met, aim reached"
                                                          : (sc >= 10000 ? "met" : "MISSED")));
        if (!isnan(bigm))
                fprintf(o, "  %-44s %8.0f   (aim 100000)  %s\n",
                        "  the same, vm.max_map_count raised", bigm,
                        bigm >= 100000 ? "aim reached" : "MISSED");
        double idle = get("npipe-msg", -1, "idle_cpu_pct");
        fprintf(o, "  %-44s %7.4f%%   (goal 0%%)  %s\n", "idle CPU of a silent pair", idle,
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
        table_rtt(o);
        table_stream(o);
        table_placement(o);
        table_misc(o);
        table_targets(o);
        notes(o);
        fprintf(o, "\nSP = SOCK_SEQPACKET at the same size; cpu = user+system time of both "
                   "processes; vcsw = voluntary context switches of both.\n");
        return 0;
}
