/*
 * opts.c - command-line helpers shared by the subcommands: numbers,
 * timeouts, pipe names, escapes, and the one format of error messages:
 *
 *   npipe: open \\.\pipe\x: all pipe instances are busy (ERROR_PIPE_BUSY)
 *
 * The Win32 name is there because it is what people search for and what
 * Windows documentation uses; the text before it is npipe_strerror().
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/name.h"

const char *cli_prog = "npipe";

int cli_usage_hint(const char *cmd)
{
        if (cmd)
                fprintf(stderr, "Try '%s %s --help' for more information.\n", cli_prog, cmd);
        else
                fprintf(stderr, "Try '%s --help' for more information.\n", cli_prog);
        return CLI_USAGE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        if (cmd)
                fprintf(stderr, "%s %s: ", cli_prog, cmd);
        else
                fprintf(stderr, "%s: ", cli_prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return cli_usage_hint(cmd);
}

int cli_getopt(const struct cli_opts *o, int argc, char **argv, void *ctx)
{
        int opt, r;

        while ((opt = getopt_long(argc, argv, o->shortopts, o->longopts, NULL)) != -1) {
                if (opt == 'h') {
                        o->usage(stdout);
                        return CLI_OK;
                }
                /* '?' (or ':'): getopt_long has printed its complaint */
                if (opt == '?' || opt == ':')
                        return cli_usage_hint(o->cmd);
                r = o->take(ctx, opt, optarg);
                if (r != 0)
                        return r;
        }
        return CLI_PARSED;
}

int cli_getopt_name(const struct cli_opts *o, int argc, char **argv, void *ctx, char *path,
                    size_t path_len)
{
        int r = cli_getopt(o, argc, argv, ctx);

        if (r != CLI_PARSED)
                return r;
        r = cli_name_operand(o->cmd, argc, argv, false);
        if (r == 0)
                r = cli_name_path(o->cmd, argv[optind], path, path_len);
        return r == 0 ? CLI_PARSED : r;
}

int cli_name_operand(const char *cmd, int argc, char **argv, bool more_ok)
{
        if (optind >= argc)
                return cli_usage_error(cmd, "missing pipe NAME");
        if (!more_ok && optind + 1 < argc)
                return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        return 0;
}

int cli_name_path(const char *cmd, const char *name, char *out, size_t out_len)
{
        int r = cli_pipe_path(name, out, out_len);

        if (r < 0) {
                cli_report(cmd, name, r);
                return CLI_FAIL;
        }
        return 0;
}

int cli_timeout_opt(const char *cmd, const char *arg, bool allow_default, int *out)
{
        if (cli_parse_timeout(arg, allow_default, out))
                return 0;
        if (allow_default)
                return cli_usage_error(cmd,
                                       "--timeout: milliseconds, 'infinite' or 'default', "
                                       "not '%s'",
                                       arg);
        return cli_usage_error(cmd, "--timeout: milliseconds or 'infinite', not '%s'", arg);
}

int cli_count_opt(const char *cmd, const char *name, const char *arg, uint64_t *out)
{
        if (cli_parse_u64(arg, 1, UINT64_MAX, out))
                return 0;
        return cli_usage_error(cmd, "--%s: a positive number, not '%s'", name, arg);
}

void cli_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", cli_prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void cli_report(const char *op, const char *path, int status)
{
        const char *w32 = cli_win32_name(status);

        fprintf(stderr, "%s: %s%s%s: %s", cli_prog, op, path ? " " : "", path ? path : "",
                npipe_strerror(status));
        if (w32)
                fprintf(stderr, " (%s)", w32);
        fputc('\n', stderr);
}

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
        char *end;
        unsigned long long v;

        /* strtoull accepts "-1" and leading blanks; a count never starts so */
        if (s == NULL || *s < '0' || *s > '9')
                return false;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return false;
        *out = v;
        return true;
}

bool cli_parse_timeout(const char *s, bool allow_default, int *out)
{
        uint64_t v;

        if (strcmp(s, "infinite") == 0 || strcmp(s, "inf") == 0 || strcmp(s, "-1") == 0) {
                *out = NPIPE_INFINITE;
                return true;
        }
        if (allow_default && strcmp(s, "default") == 0) {
                *out = NPIPE_WAIT_DEFAULT;
                return true;
        }
        /* INT_MAX ms is 24 days: more is "infinite" in every practical sense,
         * but say so rather than silently clamp. */
        if (!cli_parse_u64(s, 0, 0x7fffffff, &v))
                return false;
        *out = (int)v;
        return true;
}

int cli_pipe_path(const char *user, char *out, size_t out_len)
{
        return np_name_canonical(user, out, out_len);
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

long cli_unescape(const char *in, char *out, size_t out_len)
{
        size_t n = 0;

        for (const char *p = in; *p != '\0'; p++) {
                char c = *p;

                if (c == '\\') {
                        p++;
                        switch (*p) {
                        case 'n':
                                c = '\n';
                                break;
                        case 't':
                                c = '\t';
                                break;
                        case 'r':
                                c = '\r';
                                break;
                        case '0':
                                c = '\0';
                                break;
                        case '\\':
                                c = '\\';
                                break;
                        case 'x': {
                                int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

                                if (lo < 0)
                                        return -1;
                                c = (char)(hi * 16 + lo);
                                p += 2;
                                break;
                        }
                        default:
                                return -1;
                        }
                }
                if (n == out_len)
                        return -1;
                out[n++] = c;
        }
        return (long)n;
}
