/*
 * cmd_stat.c - `npipe stat`: what the broker's namespace holds, once or
 * refreshed like top(1) with --watch.
 *
 * The broker has no statistics request yet: it counts nothing per pipe
 * beyond instances.  So this shows what npipe_list reports (instances,
 * listening, connected) with totals; messages and bytes per pipe would
 * need a STATS request in the protocol (see the CLI's report).
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s stat [OPTION]...\n"
                "Show the broker's runtime directory, totals, and per pipe its instances\n"
                "waiting for a client and connected to one.\n"
                "\n"
                "  -w, --watch          redraw every second until interrupted\n"
                "  -n, --iterations N   with --watch: stop after N screens\n"
                "  -i, --interval MS    with --watch: time between screens (default 1000)\n"
                "  -h, --help           print this help and exit\n",
                cli_prog);
}

static int screen(bool watch, bool tty)
{
        struct cli_pipes ps;
        uint64_t inst = 0, listening = 0, connected = 0;
        const char *dir;
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        int r;

        r = cli_pipes_load(&ps);
        if (r < 0) {
                cli_report("stat", NULL, r);
                return CLI_FAIL;
        }
        for (size_t i = 0; i < ps.n; i++) {
                inst += ps.v[i].e.cur_instances;
                listening += ps.v[i].e.listening;
                connected += ps.v[i].e.connected;
        }
        /* on a terminal: home and clear, as top does; into a file or pipe,
         * screens simply follow each other */
        if (watch && tty)
                fputs("\033[H\033[2J", stdout);
        localtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
        dir = npipe_runtime_dir();
        printf("npipe stat  %s  broker %s\n", stamp, dir ? dir : "(no runtime directory)");
        printf("pipes %zu  instances %llu  listening %llu  connected %llu\n\n", ps.n,
               (unsigned long long)inst, (unsigned long long)listening,
               (unsigned long long)connected);
        printf("%6s  %4s  %6s  %4s  %-7s  %s\n", "LISTEN", "CONN", "INST", "MAX", "TYPE", "NAME");
        for (size_t i = 0; i < ps.n; i++) {
                const struct npipe_pipe_entry *e = &ps.v[i].e;
                char max[16];

                if (e->max_instances == NPIPE_UNLIMITED_INSTANCES)
                        snprintf(max, sizeof max, "unlim");
                else
                        snprintf(max, sizeof max, "%u", e->max_instances);
                printf("%6u  %4u  %6u  %4s  %-7s  ", e->listening, e->connected, e->cur_instances,
                       max, cli_type_word(e->type));
                for (const char *p = e->name; *p != '\0'; p++) {
                        unsigned char c = (unsigned char)*p;

                        if (c < 0x20 || c == 0x7F)
                                printf("\\x%02x", c);
                        else
                                putchar(c);
                }
                putchar('\n');
        }
        if (watch && !tty)
                putchar('\n');
        fflush(stdout);
        cli_pipes_free(&ps);
        return CLI_OK;
}

int cmd_stat(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"watch", no_argument, NULL, 'w'},
            {"iterations", required_argument, NULL, 'n'},
            {"interval", required_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        uint64_t iterations = 0, interval = 1000;
        bool watch = false;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "wn:i:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'w':
                        watch = true;
                        break;
                case 'n':
                        if (!cli_parse_u64(optarg, 1, UINT64_MAX, &iterations))
                                return cli_usage_error("stat",
                                                       "--iterations: a positive "
                                                       "number, not '%s'",
                                                       optarg);
                        break;
                case 'i':
                        if (!cli_parse_u64(optarg, 1, 86400000, &interval))
                                return cli_usage_error("stat",
                                                       "--interval: milliseconds, "
                                                       "not '%s'",
                                                       optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return CLI_OK;
                default:
                        return cli_usage_hint("stat");
                }
        }
        if (optind < argc)
                return cli_usage_error("stat", "unexpected argument '%s'", argv[optind]);
        if (!watch)
                return screen(false, false);

        bool tty = isatty(STDOUT_FILENO);

        for (uint64_t n = 0; iterations == 0 || n < iterations; n++) {
                if (n > 0) {
                        struct timespec ts = {(time_t)(interval / 1000),
                                              (long)(interval % 1000) * 1000000};

                        nanosleep(&ts, NULL);
                }
                r = screen(true, tty);
                if (r != CLI_OK)
                        return r;
        }
        return CLI_OK;
}
