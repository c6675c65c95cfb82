/*
 * cmd_stat.c - `npipe stat`: the broker's counters and every pipe's
 * traffic (npipe_stats), once or refreshed like top(1) with --watch.
 *
 * Traffic is counted per direction as the server sees it: IN is what
 * clients wrote to the server, OUT what the server wrote to its clients.
 * Numbers are printed in full, never rounded to KiB: they are what a
 * script compares, and the table stays greppable.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s stat [OPTION]...\n"
                "Show the broker's counters and, per pipe, its instances and the messages\n"
                "and bytes its clients and servers have written.\n"
                "\n"
                "  -j, --json              print one JSON object (with --watch: one per screen)\n"
                "  -w, --watch[=SECONDS]   redraw every SECONDS (default 1; fractions allowed)\n"
                "                          until interrupted, like top(1)\n"
                "  -c, --count N           with --watch: stop after N screens\n"
                "  -n, --iterations N      the same as --count\n"
                "  -i, --interval MS       with --watch: milliseconds between screens\n"
                "  -h, --help              print this help and exit\n"
                "\n"
                "Table columns: LISTEN, CONN, INST (instances waiting for a client, with one,\n"
                "in all), CONNS (clients connected since the name exists), IN MSGS and IN\n"
                "BYTES (written by clients to the server), OUT MSGS and OUT BYTES (written by\n"
                "the server to clients), MISS (connections whose server did not report its\n"
                "live counts in time: their traffic is left out), NAME.\n",
                cli_prog);
}

struct snapshot {
        struct npipe_broker_stats b;
        struct cli_pipes ps;
};

static int snapshot_load(struct snapshot *ss)
{
        memset(ss, 0, sizeof(*ss));
        return cli_pipes_load_stats(&ss->ps, &ss->b);
}

static unsigned long long u(uint64_t v)
{
        return (unsigned long long)v;
}

static void print_table(const struct snapshot *ss)
{
        const struct npipe_broker_stats *b = &ss->b;
        uint64_t up = b->uptime_ms / 1000;
        const char *dir = npipe_runtime_dir();
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
        printf("npipe stat  %s  broker %s  pid %ld  up %llu:%02u:%02u\n", stamp,
               dir ? dir : "(no runtime directory)", (long)b->broker_pid, u(up / 3600),
               (unsigned)(up / 60 % 60), (unsigned)(up % 60));
        printf("processes %u  pipes %u  instances %u  connections %u  waits %u\n", b->processes_now,
               b->pipes_now, b->instances_now, b->connections_now, b->waits_now);
        printf("total: processes %llu (refused %llu, dropped %llu)  pipes %llu  instances %llu\n",
               u(b->processes_total), u(b->processes_refused), u(b->processes_dropped),
               u(b->pipes_total), u(b->instances_total));
        printf("opens: connected %llu  busy %llu  denied %llu  not found %llu  waits %llu "
               "(timed out %llu)\n",
               u(b->connections_total), u(b->opens_busy), u(b->opens_denied), u(b->opens_not_found),
               u(b->waits_total), u(b->waits_timed_out));
        printf("requests %llu (malformed %llu)  adoptions %llu  queries %llu  servers asked %u "
               "(missing %u)\n",
               u(b->requests_total), u(b->requests_malformed), u(b->adoptions), u(b->stats_queries),
               b->servers_asked, b->servers_missing);
        printf("ended connections: in %llu msgs %llu bytes  out %llu msgs %llu bytes\n\n",
               u(b->traffic.c2s_messages), u(b->traffic.c2s_bytes), u(b->traffic.s2c_messages),
               u(b->traffic.s2c_bytes));
        printf("%6s  %4s  %4s  %6s  %10s  %12s  %10s  %12s  %4s  %s\n", "LISTEN", "CONN", "INST",
               "CONNS", "IN MSGS", "IN BYTES", "OUT MSGS", "OUT BYTES", "MISS", "NAME");
        for (size_t i = 0; i < ss->ps.n; i++) {
                const struct npipe_pipe_stats *p = &ss->ps.v[i].s;

                printf("%6u  %4u  %4u  %6llu  %10llu  %12llu  %10llu  %12llu  %4u  ", p->listening,
                       p->connected, p->cur_instances, u(p->connections),
                       u(p->traffic.c2s_messages), u(p->traffic.c2s_bytes),
                       u(p->traffic.s2c_messages), u(p->traffic.s2c_bytes), p->missing);
                cli_put_name(stdout, p->name);
                putchar('\n');
        }
}

static void json_traffic(struct json *j, const char *key, uint64_t msgs, uint64_t bytes)
{
        json_key(j, key);
        json_begin_object(j);
        json_key_uint(j, "messages", msgs);
        json_key_uint(j, "bytes", bytes);
        json_end_object(j);
}

/* The "now" and "total" objects of the broker's counters. */
static void json_broker_counts(struct json *j, const struct npipe_broker_stats *b)
{
        json_key(j, "now");
        json_begin_object(j);
        json_key_uint(j, "processes", b->processes_now);
        json_key_uint(j, "pipes", b->pipes_now);
        json_key_uint(j, "instances", b->instances_now);
        json_key_uint(j, "connections", b->connections_now);
        json_key_uint(j, "waits", b->waits_now);
        json_end_object(j);
        json_key(j, "total");
        json_begin_object(j);
        json_key_uint(j, "processes", b->processes_total);
        json_key_uint(j, "processes_refused", b->processes_refused);
        json_key_uint(j, "processes_dropped", b->processes_dropped);
        json_key_uint(j, "pipes", b->pipes_total);
        json_key_uint(j, "instances", b->instances_total);
        json_key_uint(j, "connections", b->connections_total);
        json_key_uint(j, "opens_busy", b->opens_busy);
        json_key_uint(j, "opens_denied", b->opens_denied);
        json_key_uint(j, "opens_not_found", b->opens_not_found);
        json_key_uint(j, "waits", b->waits_total);
        json_key_uint(j, "waits_timed_out", b->waits_timed_out);
        json_key_uint(j, "requests", b->requests_total);
        json_key_uint(j, "requests_malformed", b->requests_malformed);
        json_key_uint(j, "adoptions", b->adoptions);
        json_key_uint(j, "stats_queries", b->stats_queries);
        json_end_object(j);
}

static void json_broker(struct json *j, const struct npipe_broker_stats *b)
{
        const char *dir = npipe_runtime_dir();

        json_key(j, "broker");
        json_begin_object(j);
        json_key(j, "runtime_dir");
        if (dir)
                json_string(j, dir);
        else
                json_null(j);
        json_key(j, "pid");
        json_int(j, (int64_t)b->broker_pid);
        json_key_uint(j, "uptime_ms", b->uptime_ms);
        json_broker_counts(j, b);
        json_key(j, "ended");
        json_begin_object(j);
        json_traffic(j, "client_to_server", b->traffic.c2s_messages, b->traffic.c2s_bytes);
        json_traffic(j, "server_to_client", b->traffic.s2c_messages, b->traffic.s2c_bytes);
        json_end_object(j);
        json_key_uint(j, "servers_asked", b->servers_asked);
        json_key_uint(j, "servers_missing", b->servers_missing);
        json_end_object(j);
}

static void json_pipe(struct json *j, const struct npipe_pipe_stats *p)
{
        json_begin_object(j);
        cli_json_name(j, p->name);
        json_key(j, "instances");
        json_begin_object(j);
        json_key_uint(j, "current", p->cur_instances);
        json_key_uint(j, "listening", p->listening);
        json_key_uint(j, "connected", p->connected);
        json_end_object(j);
        json_key_uint(j, "connections", p->connections);
        json_traffic(j, "client_to_server", p->traffic.c2s_messages, p->traffic.c2s_bytes);
        json_traffic(j, "server_to_client", p->traffic.s2c_messages, p->traffic.s2c_bytes);
        json_key_uint(j, "missing", p->missing);
        json_end_object(j);
}

static void print_json(const struct snapshot *ss)
{
        struct json j;

        json_init(&j, stdout);
        json_begin_object(&j);
        json_broker(&j, &ss->b);
        json_key(&j, "pipes");
        json_begin_array(&j);
        for (size_t i = 0; i < ss->ps.n; i++)
                json_pipe(&j, &ss->ps.v[i].s);
        json_end_array(&j);
        json_end_object(&j);
}

static int screen(bool json, bool watch, bool tty)
{
        struct snapshot ss;
        int r = snapshot_load(&ss);

        if (r < 0) {
                cli_report("stat", NULL, r);
                return CLI_FAIL;
        }
        /* on a terminal: home and clear, as top does; into a file or pipe,
         * screens simply follow each other */
        if (watch && tty && !json)
                fputs("\033[H\033[2J", stdout);
        if (json)
                print_json(&ss);
        else
                print_table(&ss);
        if (watch && !tty && !json)
                putchar('\n');
        fflush(stdout);
        cli_pipes_free(&ss.ps);
        return CLI_OK;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        (void)sig;
        interrupted = 1;
}

/* --watch's argument: seconds, with an optional fraction ("0.5"), as
 * milliseconds in [1, 86400000]. */
static bool parse_seconds(const char *s, uint64_t *ms)
{
        char *end;
        double v;

        if (s == NULL || *s < '0' || *s > '9')
                return false;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || v * 1000 < 1 || v > 86400)
                return false;
        *ms = (uint64_t)(v * 1000 + 0.5);
        return true;
}

/* Until the next screen is due, or SIGINT. */
static void pause_until(const struct timespec *due)
{
        while (!interrupted && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, due, NULL) == EINTR)
                ;
}

struct stat_args {
        uint64_t count, interval;
        bool watch, json;
};

static int stat_option(void *ctx, int opt, const char *arg)
{
        struct stat_args *a = ctx;

        switch (opt) {
        case 'j':
                a->json = true;
                break;
        case 'w':
                a->watch = true;
                if (arg != NULL && !parse_seconds(arg, &a->interval))
                        return cli_usage_error("stat", "--watch: seconds (up to 86400), not '%s'",
                                               arg);
                break;
        case 'c':
        case 'n':
                return cli_count_opt("stat", opt == 'c' ? "count" : "iterations", arg, &a->count);
        case 'i':
                if (!cli_parse_u64(arg, 1, 86400000, &a->interval))
                        return cli_usage_error("stat", "--interval: milliseconds, not '%s'", arg);
                break;
        }
        return 0;
}

/* --watch: a screen every interval until count screens or ^C. */
static int watch(const struct stat_args *a)
{
        bool tty = isatty(STDOUT_FILENO);
        struct sigaction sa;
        struct timespec due;
        int r;

        /* top(1) ends on ^C with success: it is how a watch is stopped.  No
         * SA_RESTART, so that the pause between screens ends at once. */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);

        clock_gettime(CLOCK_MONOTONIC, &due);
        for (uint64_t n = 0; (a->count == 0 || n < a->count) && !interrupted; n++) {
                if (n > 0) {
                        due.tv_sec += (time_t)(a->interval / 1000);
                        due.tv_nsec += (long)(a->interval % 1000) * 1000000;
                        if (due.tv_nsec >= 1000000000) {
                                due.tv_sec++;
                                due.tv_nsec -= 1000000000;
                        }
                        pause_until(&due);
                        if (interrupted)
                                break;
                }
                r = screen(a->json, true, tty);
                if (r != CLI_OK)
                        return interrupted ? CLI_OK : r;
        }
        return CLI_OK;
}

int cmd_stat(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"json", no_argument, NULL, 'j'},
            {"watch", optional_argument, NULL, 'w'},
            {"count", required_argument, NULL, 'c'},
            {"iterations", required_argument, NULL, 'n'},
            {"interval", required_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"stat", "jw::c:n:i:h", longopts, usage, stat_option};
        struct stat_args a = {.count = 0, .interval = 1000};
        int r;

        r = cli_getopt(&opts, argc, argv, &a);
        if (r != CLI_PARSED)
                return r;
        if (optind < argc)
                return cli_usage_error("stat", "unexpected argument '%s'", argv[optind]);
        if (!a.watch)
                return screen(a.json, false, false);
        return watch(&a);
}
