/*
 * cli.h - what the npipe command's files share: the subcommand entry points,
 * option parsing helpers, error reporting and message I/O.
 *
 * Conventions of every subcommand: data on stdout, diagnostics on stderr,
 * exit status CLI_OK (0), CLI_FAIL (1: the operation failed) or CLI_USAGE
 * (2: bad command line).  The library never prints; everything the user
 * sees is written here.
 */
#ifndef NPIPE_CLI_H
#define NPIPE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <npipe/npipe.h>

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

/* "\\.\pipe\" + NP_NAME_MAX bytes of name + NUL, with room to spare. */
#define CLI_PATH_MAX 1100

/* A subcommand: argv[0] is the subcommand's own name. */
struct cli_command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
};

int cmd_list(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* ---- opts.c: command line ------------------------------------------------ */

/* "npipe" or what argv[0] of the process said, for messages. */
extern const char *cli_prog;

/* Print "npipe CMD: MESSAGE" and the hint to run --help; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long's own complaint has been printed already: only the hint. */
int cli_usage_hint(const char *cmd);

/* Parse a decimal number in [min, max]; false when s is not one. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A timeout in milliseconds: a number, or "infinite" (NPIPE_INFINITE) or
 * "default" (NPIPE_WAIT_DEFAULT, where the operation has one). */
bool cli_parse_timeout(const char *s, bool allow_default, int *out);

/* Turn NAME, \\.\pipe\NAME or //./pipe/NAME into the canonical path.
 * Returns 0 or an NPIPE_E* status (reported by the caller). */
int cli_pipe_path(const char *user, char *out, size_t out_len);

/* Decode backslash escapes (\n \t \r \0 \\ \xHH) for --separator.  Returns
 * the decoded length (the output may contain NUL) or -1 for a bad escape. */
long cli_unescape(const char *in, char *out, size_t out_len);

/* ---- opts.c: errors -------------------------------------------------------- */

/* The Win32 name of an NPIPE_E* status, "ERROR_PIPE_BUSY", or NULL. */
const char *cli_win32_name(int status);

/* "npipe: OP PATH: message (ERROR_X)" on stderr.  path may be NULL. */
void cli_report(const char *op, const char *path, int status);

/* "npipe: " + printf on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- msgio.c: whole messages ------------------------------------------------ */

/* A growable buffer for one message. */
struct cli_buf {
        char *data;
        size_t len, cap;
};

void cli_buf_free(struct cli_buf *b);
/* Make room for `more` bytes after len; false when out of memory. */
bool cli_buf_reserve(struct cli_buf *b, size_t more);

/* Read one whole message into b (replacing its contents).  In message
 * read mode NPIPE_EMOREDATA is not an end: the buffer grows and the rest
 * is read, so the caller always gets the full message.  In byte read mode
 * it is one read of whatever is there.  Returns 0 or the read's status
 * (NPIPE_EPIPE when the peer closed, ...). */
int cli_read_message(npipe_t *h, struct cli_buf *b, int timeout_ms);

/* Write all of buf to a file descriptor (retrying short writes, EINTR).
 * Returns 0 or -errno. */
int cli_write_fd(int fd, const void *buf, size_t len);

/* How a message goes to stdout (cat, serve --print): followed by a
 * separator, or as a record of a u32 little-endian length and the bytes.
 * raw: bytes as they are (byte pipes have no messages to separate). */
struct cli_out {
        const char *sep;
        size_t sep_len;
        bool length_prefix;
        bool raw;
};

/* Parse --separator's argument into o (escapes decoded); false if bad. */
bool cli_out_set_separator(struct cli_out *o, const char *arg, char *store, size_t store_len);

/* Write one message to f and flush, so a reader downstream sees each one
 * as it arrives.  Returns 0, or -1 on a write error (errno set). */
int cli_out_message(const struct cli_out *o, FILE *f, const void *data, size_t len);

/* ---- json.c: a small JSON writer -------------------------------------------------- */

/* Writes compact JSON to f, with one element of the top-level array per
 * line.  Commas are the writer's business: callers just emit values. */
struct json {
        FILE *f;
        int depth;
        bool first[16]; /* per open container: nothing written into it yet */
        bool after_key; /* the next value follows "key": */
};

void json_init(struct json *j, FILE *f);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);
/* len bytes of s: any bytes, escaped as JSON needs; invalid UTF-8 becomes U+FFFD. */
void json_string_n(struct json *j, const char *s, size_t len);
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* ---- pipes.c: the namespace snapshot shared by list and stat ------------------- */

const char *cli_type_word(enum npipe_type t);
const char *cli_dir_word(enum npipe_dir d);
const char *cli_policy_word(enum npipe_access_policy p);

/* A snapshot of npipe_list(), sorted by name (case-insensitively, as the
 * namespace compares them). */
struct cli_pipe {
        struct npipe_pipe_entry e; /* e.name points at name below */
        char *name;
};
struct cli_pipes {
        struct cli_pipe *v;
        size_t n, cap;
};
int cli_pipes_load(struct cli_pipes *ps);
void cli_pipes_free(struct cli_pipes *ps);

#endif
