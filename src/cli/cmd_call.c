/*
 * cmd_call.c - `npipe call NAME MESSAGE`: CallNamedPipe from the shell.
 *
 * npipe_call reads the reply into a buffer of a size fixed in advance and
 * loses whatever does not fit (as CallNamedPipe does).  A shell user cannot
 * know the size of a reply, so this does what npipe_call does step by step
 * (open without waiting; if every instance is busy, wait once and retry
 * once, TRANS-15; message mode; transact) and then reads the rest of a
 * reply that did not fit, so the reply is always printed whole.
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s call [OPTION]... NAME MESSAGE\n"
                "Send MESSAGE to the pipe NAME and print the reply: one transaction\n"
                "(CallNamedPipe) on a duplex message pipe.\n"
                "\n"
                "  -t, --timeout MS   how long to wait when every instance is busy: a number,\n"
                "                     'infinite' (default) or 'default' (the pipe's own)\n"
                "  -n, --no-newline   do not print a newline after the reply\n"
                "  -h, --help         print this help and exit\n",
                cli_prog);
}

/* Open as CallNamedPipe does: at once, else one wait and one more try. */
static int open_for_call(const char *path, int timeout, npipe_t **h)
{
        int r = npipe_open(path, NPIPE_READ | NPIPE_WRITE, 0, h);

        if (r == NPIPE_EBUSY) {
                r = npipe_wait(path, timeout);
                if (r == 0)
                        r = npipe_open(path, NPIPE_READ | NPIPE_WRITE, 0, h);
        }
        return r;
}

struct call_args {
        int timeout;
        bool newline;
};

static int call_option(void *ctx, int opt, const char *arg)
{
        struct call_args *a = ctx;

        if (opt == 't')
                return cli_timeout_opt("call", arg, true, &a->timeout);
        if (opt == 'n')
                a->newline = false;
        return 0;
}

/* NAME and MESSAGE, nothing else: 0 or CLI_USAGE. */
static int call_operands(int argc, char **argv)
{
        int r = cli_name_operand("call", argc, argv, true);

        if (r != 0)
                return r;
        if (optind + 1 >= argc)
                return cli_usage_error("call", "missing MESSAGE");
        if (optind + 2 < argc)
                return cli_usage_error("call",
                                       "unexpected argument '%s' (quote a MESSAGE "
                                       "with spaces)",
                                       argv[optind + 2]);
        return 0;
}

/* Message read mode, then one transaction, the whole reply into b.  A byte
 * pipe would fail in set_mode with a bare "invalid argument": *wrong_kind
 * says what is wrong, with the status TransactNamedPipe gives. */
static int transact(npipe_t *h, const char *msg, struct cli_buf *b, struct npipe_info *info,
                    bool *wrong_kind)
{
        enum npipe_read_mode mode = NPIPE_READ_MESSAGE;
        size_t got = 0;
        int r = npipe_get_info(h, info);

        if (r == 0 && (info->type != NPIPE_TYPE_MESSAGE || info->dir != NPIPE_DUPLEX)) {
                *wrong_kind = true;
                r = NPIPE_EBADPIPE;
        }
        if (r == 0)
                r = npipe_set_mode(h, &mode, NULL);
        if (r == 0 && !cli_buf_reserve(b, 4096))
                r = NPIPE_ENOMEM;
        if (r == 0)
                r = npipe_transact(h, msg, strlen(msg), b->data, b->cap, &got);
        b->len = got;
        /* the reply did not fit: the rest is queued, read it as one message */
        while (r == NPIPE_EMOREDATA) {
                if (!cli_buf_reserve(b, b->cap)) {
                        r = NPIPE_ENOMEM;
                        break;
                }
                got = 0;
                r = npipe_read(h, b->data + b->len, b->cap - b->len, &got);
                b->len += got;
        }
        return r;
}

int cmd_call(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"timeout", required_argument, NULL, 't'},
            {"no-newline", no_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"call", "t:nh", longopts, usage, call_option};
        struct call_args a = {.timeout = NPIPE_INFINITE, .newline = true};
        struct npipe_info info;
        struct cli_buf b = {0};
        char path[CLI_PATH_MAX];
        bool wrong_kind = false;
        npipe_t *h;
        int r;

        r = cli_getopt(&opts, argc, argv, &a);
        if (r != CLI_PARSED)
                return r;
        r = call_operands(argc, argv);
        if (r == 0)
                r = cli_name_path("call", argv[optind], path, sizeof path);
        if (r != 0)
                return r;
        r = open_for_call(path, a.timeout, &h);
        if (r < 0) {
                cli_report("open", path, r);
                return CLI_FAIL;
        }
        r = transact(h, argv[optind + 1], &b, &info, &wrong_kind);
        npipe_close(h);
        if (r < 0) {
                cli_report("call", path, r);
                if (wrong_kind)
                        cli_error("call needs a duplex message pipe; %s is a%s %s pipe", path,
                                  info.type == NPIPE_TYPE_MESSAGE ? "n" : "",
                                  info.type == NPIPE_TYPE_MESSAGE ? cli_dir_word(info.dir)
                                                                  : "byte");
                cli_buf_free(&b);
                return CLI_FAIL;
        }
        fwrite(b.data, 1, b.len, stdout);
        if (a.newline)
                putchar('\n');
        cli_buf_free(&b);
        return CLI_OK;
}
