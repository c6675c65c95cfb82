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
        struct cli_out o = {.sep = "\n", .sep_len = 1};
        char path[CLI_PATH_MAX], sep[256];
        int timeout = NPIPE_INFINITE, opt, r, status;
        enum npipe_read_mode mode = NPIPE_READ_MESSAGE;
        struct npipe_info info;
        uint64_t count = 0;
        npipe_t *h;

        while ((opt = getopt_long(argc, argv, "s:lc:t:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 's':
                        if (!cli_out_set_separator(&o, optarg, sep, sizeof sep))
                                return cli_usage_error("cat", "--separator: bad escape in '%s'",
                                                       optarg);
                        break;
                case 'l':
                        o.length_prefix = true;
                        break;
                case 'c':
                        if (!cli_parse_u64(optarg, 1, UINT64_MAX, &count))
                                return cli_usage_error("cat",
                                                       "--count: a positive number, "
                                                       "not '%s'",
                                                       optarg);
                        break;
                case 't':
                        if (!cli_parse_timeout(optarg, false, &timeout))
                                return cli_usage_error("cat",
                                                       "--timeout: milliseconds or "
                                                       "'infinite', not '%s'",
                                                       optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return CLI_OK;
                default:
                        return cli_usage_hint("cat");
                }
        }
        if (optind >= argc)
                return cli_usage_error("cat", "missing pipe NAME");
        if (optind + 1 < argc)
                return cli_usage_error("cat", "unexpected argument '%s'", argv[optind + 1]);
        r = cli_pipe_path(argv[optind], path, sizeof path);
        if (r < 0) {
                cli_report("cat", argv[optind], r);
                return CLI_FAIL;
        }
        /* read, plus the right to change our read mode (FILE_WRITE_ATTRIBUTES):
         * no write access, so an outbound pipe opens too */
        r = npipe_open(path, NPIPE_READ | NPIPE_WRITE_ATTRIBUTES, timeout, &h);
        if (r < 0) {
                cli_report("open", path, r);
                return CLI_FAIL;
        }
        r = npipe_get_info(h, &info);
        if (r == 0 && info.type == NPIPE_TYPE_MESSAGE)
                r = npipe_set_mode(h, &mode, NULL);
        if (r == NPIPE_ENOTCONN) {
                /* the server disconnected us before we could read: as when
                 * that happens during the reads, the stream just ends */
                npipe_close(h);
                return 0;
        }
        if (r < 0) {
                cli_report("open", path, r);
                npipe_close(h);
                return CLI_FAIL;
        }
        if (info.type == NPIPE_TYPE_MESSAGE)
                status = cat_messages(h, path, &o, count);
        else
                status = cat_bytes(h, path, count);
        npipe_close(h);
        return status;
}
