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
#include <strings.h>

#include "client/client.h"
#include "core/name.h"
#include "proto/proto.h"

/* np_broker_why, np_broker_limit_why and np_remote_why (client/client.h),
 * and np_name_remote (core/name.h), are library
 * internals the shared library exports to npipe among its NPIPE_PRIVATE
 * names (src/libnpipe.sym). */

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

/* The length of a UTF-8 sequence starting at s (n bytes left), or 0 when
 * s does not start one.  Lenient on over-long forms: this only decides
 * what is printed as is. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
        size_t k = s[0] >= 0xF0 && s[0] <= 0xF4  ? 4
                   : s[0] >= 0xE0                ? 3
                   : s[0] >= 0xC2 && s[0] < 0xE0 ? 2
                                                 : 0;
        if (k == 0 || k > n)
                return 0;
        for (size_t i = 1; i < k; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return k;
}

const char *cli_esc(const char *s, char *buf, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t n = strlen(s), o = 0;

        if (len == 0)
                return buf;
        for (size_t i = 0; i < n;) {
                size_t k = p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i);
                /* C1 controls (U+0080..U+009F) are C2 80..C2 9F */
                int control = k == 1 ? p[i] < 0x20 || p[i] == 0x7F
                                     : k == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0;
                size_t need = k == 0 || control ? 4 * (k ? k : 1) : k;

                if (o + need + 4 > len) {
                        if (o + 4 <= len) {
                                memcpy(buf + o, "...", 3);
                                o += 3;
                        }
                        break;
                }
                if (k == 0 || control) {
                        for (size_t j = 0; j < (k ? k : 1); j++)
                                o += (size_t)snprintf(buf + o, len - o, "\\x%02x", p[i + j]);
                } else {
                        memcpy(buf + o, p + i, k);
                        o += k;
                }
                i += k ? k : 1;
        }
        buf[o] = '\0';
        return buf;
}

/* The name part of what the user typed or of a canonical path: after
 * \\.\pipe\ or //./pipe/ (any case), else all of it. */
static const char *bare_name(const char *path)
{
        static const char *const prefixes[] = {"\\\\.\\pipe\\", "//./pipe/"};

        for (size_t i = 0; i < 2; i++) {
                size_t n = strlen(prefixes[i]);

                if (strncasecmp(path, prefixes[i], n) == 0)
                        return path + n;
        }
        return path;
}

/* ": N characters, at most 250" for a name over the limit (UTF-16 units,
 * as Windows counts: a character beyond the BMP is two), else "". */
static void name_limit(const char *path, char *out, size_t len)
{
        const unsigned char *p = (const unsigned char *)bare_name(path);
        size_t n = strlen((const char *)p), units = 0;

        out[0] = '\0';
        for (size_t i = 0; i < n;) {
                size_t k = p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i);

                if (k == 0)
                        k = 1;
                units += k == 4 ? 2 : 1;
                i += k;
        }
        if (units > NP_NAME_MAX_CHARS)
                snprintf(out, len,
                         ": a name has at most %u characters after \\\\.\\pipe\\; this one has %zu",
                         NP_NAME_MAX_CHARS, units);
        else if (n > NP_NAME_MAX)
                snprintf(out, len, ": a name has at most %u bytes of UTF-8; this one has %zu",
                         NP_NAME_MAX, n);
}

void cli_report_text(const char *op, const char *path, int status, const char *text)
{
        char esc[CLI_ESC_MAX], limit[160] = "", why[1024];
        const char *w32 = cli_win32_name(status);

        /* the library could not reach a broker (a bad runtime directory
         * gives NPIPE_EACCES or NPIPE_ENOENT, which would read as if about
         * the pipe): say so, and why on the next line */
        size_t nwhy = np_broker_why(why, sizeof why);

        if (nwhy > 0)
                text = npipe_strerror(NPIPE_EBROKER);
        else if (path != NULL && status == NPIPE_ENAMETOOLONG)
                name_limit(path, limit, sizeof limit);
        fprintf(stderr, "%s: %s%s%s: %s", cli_prog, op, path ? " " : "",
                path ? cli_esc(path, esc, sizeof esc) : "", text);
        if (w32)
                fprintf(stderr, " (%s)", w32);
        fprintf(stderr, "%s\n", limit);
        /* a remote pipe: what the SMB module said */
        if (nwhy == 0 && path != NULL && (path[0] == '\\' || path[0] == '/') &&
            path[1] == path[0] && np_remote_why(why, sizeof why) > 0)
                fprintf(stderr, "%s: %s: %s\n", cli_prog, op, cli_esc(why, esc, sizeof esc));
        else if (nwhy > 0)
                fprintf(stderr, "%s: %s: %s\n", cli_prog, op, cli_esc(why, esc, sizeof esc));
        /* which of the broker's limits, and how to raise it */
        else if (status == NPIPE_ELIMIT && np_broker_limit_why(why, sizeof why) > 0)
                fprintf(stderr, "%s: %s: %s\n", cli_prog, op, why);
}

void cli_report(const char *op, const char *path, int status)
{
        cli_report_text(op, path, status, npipe_strerror(status));
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
        char host[NP_HOST_MAX + 1];
        const char *bare;
        size_t blen;
        int r = np_name_remote(user, host, sizeof host, &bare, &blen);

        if (r < 0)
                return r;
        if (r == 0)
                return np_name_canonical(user, out, out_len);
        /* a remote pipe: \\HOST\pipe\NAME, with backslashes */
        if ((size_t)snprintf(out, out_len, "\\\\%s\\pipe\\%.*s", host, (int)blen, bare) >=
            out_len)
                return NPIPE_ENAMETOOLONG;
        return 0;
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
