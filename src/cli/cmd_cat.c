/*
 * cmd_cat.c - `npipe cat NAME`: the client end, reading.
 *
 * A message pipe is read in message mode (a client starts in byte mode,
 * OPEN-05), so each message comes out whole followed by the separator,
 * or as a length-prefixed record when messages may hold the separator.
 * The end of the stream is the server closing or disconnecting: that is
 * success, not an error.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s cat [OPTION]... NAME\n"
                "Open the client end of the pipe NAME and print each message read, until\n"
                "the server closes the pipe.\n"
                "\n"
                "  -s, --separator SEP   print SEP after each message (default \\n; escapes\n"
                "                        \\n \\t \\r \\0 \\\\ \\xHH)\n"
                "  -l, --length-prefix   print each message as a u32 little-endian length\n"
                "                        and the bytes, with no separator\n"
                "  -c, --count N         stop after N messages (byte pipes: N bytes)\n"
                "  -t, --timeout MS      how long to wait for a free instance (default\n"
                "                        infinite; a name that does not exist fails at once)\n"
                "  -h, --help            print this help and exit\n"
                "\n"
                "A byte pipe has no messages: its bytes are copied as they are.\n",
                cli_prog);
}

static bool end_of_stream(int r)
{
        /* EPIPE: the server closed after we read all it wrote;
         * ENOTCONN: it disconnected us */
        return r == NPIPE_EPIPE || r == NPIPE_ENOTCONN;
}

static int cat_messages(npipe_t *h, const char *path, const struct cli_out *o, uint64_t count)
{
        struct cli_buf b = {0};
        int status = CLI_OK;

        for (uint64_t n = 0; count == 0 || n < count; n++) {
                int r = cli_read_message(h, &b, NPIPE_INFINITE);

                if (end_of_stream(r))
                        break;
                if (r < 0) {
                        cli_report("read", path, r);
                        status = CLI_FAIL;
                        break;
                }
                if (cli_out_message(o, stdout, b.data, b.len) < 0) {
                        cli_error("cat: write error on standard output: %s", strerror(errno));
                        status = CLI_FAIL;
                        break;
                }
        }
        cli_buf_free(&b);
        return status;
}

static int cat_bytes(npipe_t *h, const char *path, uint64_t count)
{
        static char buf[65536];
        uint64_t left = count;

        while (count == 0 || left > 0) {
                size_t want = count != 0 && left < sizeof buf ? (size_t)left : sizeof buf;
                size_t got = 0;
                int r = npipe_read(h, buf, want, &got);

                if (end_of_stream(r))
                        break;
                if (r < 0) {
                        cli_report("read", path, r);
                        return CLI_FAIL;
                }
                if (fwrite(buf, 1, got, stdout) != got || fflush(stdout) != 0) {
                        cli_error("cat: write error on standard output: %s", strerror(errno));
                        return CLI_FAIL;
                }
                left -= got;
        }
        return CLI_OK;
}

struct cat_args {
        struct cli_out o;
        char sep[256]; /* o.sep, once --separator gave one */
        int timeout;
        uint64_t count;
};

static int cat_option(void *ctx, int opt, const char *arg)
{
        struct cat_args *a = ctx;

        switch (opt) {
        case 's':
                return cli_separator_opt("cat", &a->o, arg, a->sep, sizeof a->sep);
        case 'l':
                a->o.length_prefix = true;
                break;
        case 'c':
                return cli_count_opt("cat", "count", arg, &a->count);
        case 't':
                return cli_timeout_opt("cat", arg, false, &a->timeout);
        }
        return 0;
}

/* Open path for reading, a message pipe in message read mode.  Returns
 * CLI_OK with *h open, or the status of the command: a failure (reported),
 * or CLI_OK with *h NULL when the stream has ended already. */
static int open_for_cat(const char *path, int timeout, npipe_t **h, struct npipe_info *info)
{
        enum npipe_read_mode mode = NPIPE_READ_MESSAGE;
        int r;

        /* read, plus the right to change our read mode (FILE_WRITE_ATTRIBUTES):
         * no write access, so an outbound pipe opens too */
        r = npipe_open(path, NPIPE_READ | NPIPE_WRITE_ATTRIBUTES, timeout, h);
        if (r < 0) {
                cli_report("open", path, r);
                return CLI_FAIL;
        }
        r = npipe_get_info(*h, info);
        if (r == 0 && info->type == NPIPE_TYPE_MESSAGE)
                r = npipe_set_mode(*h, &mode, NULL);
        if (r == 0)
                return CLI_OK;
        npipe_close(*h);
        *h = NULL;
        /* ENOTCONN: the server disconnected us before we could read: as when
         * that happens during the reads, the stream just ends */
        if (r == NPIPE_ENOTCONN)
                return CLI_OK;
        cli_report("open", path, r);
        return CLI_FAIL;
}

int cmd_cat(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"separator", required_argument, NULL, 's'},
            {"length-prefix", no_argument, NULL, 'l'},
            {"count", required_argument, NULL, 'c'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"cat", "s:lc:t:h", longopts, usage, cat_option};
        struct cat_args a = {.o = {.sep = "\n", .sep_len = 1}, .timeout = NPIPE_INFINITE};
        char path[CLI_PATH_MAX];
        struct npipe_info info;
        npipe_t *h = NULL;
        int r;

        r = cli_getopt_name(&opts, argc, argv, &a, path, sizeof path);
        if (r != CLI_PARSED)
                return r;
        r = open_for_cat(path, a.timeout, &h, &info);
        if (r != CLI_OK || h == NULL)
                return r;
        if (info.type == NPIPE_TYPE_MESSAGE)
                r = cat_messages(h, path, &a.o, a.count);
        else
                r = cat_bytes(h, path, a.count);
        npipe_close(h);
        return r;
}
