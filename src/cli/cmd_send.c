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

struct send_args {
        int timeout;
        bool raw;
};

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

static int send_option(void *ctx, int opt, const char *arg)
{
        struct send_args *a = ctx;

        if (opt == 'r')
                a->raw = true;
        else if (opt == 't')
                return cli_timeout_opt("send", arg, false, &a->timeout);
        return 0;
}

/* Open path for writing: 0 with *h open and *info filled, or CLI_FAIL
 * (reported). */
static int open_for_send(const char *path, int timeout, npipe_t **h, struct npipe_info *info)
{
        int r = npipe_open(path, NPIPE_WRITE, timeout, h);

        if (r == 0) {
                r = npipe_get_info(*h, info);
                if (r < 0)
                        npipe_close(*h);
        }
        if (r < 0) {
                cli_report("open", path, r);
                return CLI_FAIL;
        }
        return 0;
}

int cmd_send(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"raw", no_argument, NULL, 'r'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"send", "rt:h", longopts, usage, send_option};
        struct send_args a = {.timeout = NPIPE_INFINITE, .raw = false};
        char path[CLI_PATH_MAX];
        struct npipe_info info;
        npipe_t *h;
        int r;

        r = cli_getopt(&opts, argc, argv, &a);
        if (r != CLI_PARSED)
                return r;
        r = cli_name_operand("send", argc, argv, true);
        if (r != 0)
                return r;
        if (a.raw && optind + 1 < argc)
                return cli_usage_error("send", "--raw reads standard input: no MESSAGE "
                                               "arguments");
        r = cli_name_path("send", argv[optind], path, sizeof path);
        if (r == 0)
                r = open_for_send(path, a.timeout, &h, &info);
        if (r != 0)
                return r;
        if (optind + 1 < argc) {
                for (int i = optind + 1; i < argc && r == 0; i++)
                        r = put(h, path, argv[i], strlen(argv[i]));
        } else if (a.raw || info.type == NPIPE_TYPE_BYTE) {
                r = send_raw(h, path);
        } else {
                r = send_lines(h, path);
        }
        /* what we wrote stays readable by the server after the close */
        npipe_close(h);
        return r < 0 ? CLI_FAIL : CLI_OK;
}
