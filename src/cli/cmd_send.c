/*
 * cmd_send.c - `npipe send NAME [MESSAGE]...`: the client end, writing.
 *
 * Each argument is one message; without arguments each line of stdin is
 * one message (its newline is the boundary, not part of it), so
 * `printf 'a\n\nb\n' | npipe send X` writes "a", "" and "b": an empty line
 * is a zero-length message, which message pipes carry (ZERO-01).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s send [OPTION]... NAME [MESSAGE]...\n"
                "Open the client end of the pipe NAME and write each MESSAGE as one message,\n"
                "or, without MESSAGE, each line of standard input (without its newline).\n"
                "\n"
                "  -r, --raw          copy standard input as bytes, not as lines\n"
                "  -t, --timeout MS   how long to wait for a free instance (default infinite;\n"
                "                     a name that does not exist fails at once)\n"
                "  -h, --help         print this help and exit\n"
                "\n"
                "On a byte pipe there are no messages: the arguments are written one after\n"
                "the other and standard input is copied as it is.\n",
                cli_prog);
}

static int put(npipe_t *h, const char *path, const void *p, size_t n)
{
        size_t w;
        int r = npipe_write(h, p, n, &w);

        if (r < 0)
                cli_report("write", path, r);
        return r;
}

/* One message per line; the last line needs no newline. */
static int send_lines(npipe_t *h, const char *path)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int r = 0;

        while ((n = getline(&line, &cap, stdin)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        n--;
                r = put(h, path, line, (size_t)n);
                if (r < 0)
                        break;
        }
        if (r == 0 && ferror(stdin)) {
                cli_error("send: reading standard input: %s", strerror(errno));
                r = -1;
        }
        free(line);
        return r;
}

/* Each read of stdin is one write: on a message pipe, one message of
 * whatever size the read returned. */
static int send_raw(npipe_t *h, const char *path)
{
        static char buf[65536];

        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        cli_error("send: reading standard input: %s", strerror(errno));
                        return -1;
                }
                if (n == 0)
                        return 0;
                if (put(h, path, buf, (size_t)n) < 0)
                        return -1;
        }
}

int cmd_send(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"raw", no_argument, NULL, 'r'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        char path[CLI_PATH_MAX];
        int timeout = NPIPE_INFINITE, opt, r;
        struct npipe_info info;
        bool raw = false;
        npipe_t *h;

        while ((opt = getopt_long(argc, argv, "rt:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        raw = true;
                        break;
                case 't':
                        if (!cli_parse_timeout(optarg, false, &timeout))
                                return cli_usage_error("send",
                                                       "--timeout: milliseconds or "
                                                       "'infinite', not '%s'",
                                                       optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return CLI_OK;
                default:
                        return cli_usage_hint("send");
                }
        }
        if (optind >= argc)
                return cli_usage_error("send", "missing pipe NAME");
        if (raw && optind + 1 < argc)
                return cli_usage_error("send", "--raw reads standard input: no MESSAGE "
                                               "arguments");
        r = cli_pipe_path(argv[optind], path, sizeof path);
        if (r < 0) {
                cli_report("send", argv[optind], r);
                return CLI_FAIL;
        }
        r = npipe_open(path, NPIPE_WRITE, timeout, &h);
        if (r < 0) {
                cli_report("open", path, r);
                return CLI_FAIL;
        }
        r = npipe_get_info(h, &info);
        if (r < 0) {
                cli_report("open", path, r);
                npipe_close(h);
                return CLI_FAIL;
        }
        if (optind + 1 < argc) {
                for (int i = optind + 1; i < argc && r == 0; i++)
                        r = put(h, path, argv[i], strlen(argv[i]));
        } else if (raw || info.type == NPIPE_TYPE_BYTE) {
                r = send_raw(h, path);
        } else {
                r = send_lines(h, path);
        }
        /* what we wrote stays readable by the server after the close */
        npipe_close(h);
        return r < 0 ? CLI_FAIL : CLI_OK;
}
