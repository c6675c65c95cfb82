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

#include <pthread.h>
#include <stdatomic.h>
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

struct option; /* <getopt.h> */

/* A subcommand's options, as its option loop (cli_getopt) needs them. */
struct cli_opts {
        const char *cmd; /* for messages: "npipe CMD: ..." */
        const char *shortopts;
        const struct option *longopts;
        void (*usage)(FILE *f); /* the --help text */
        /* every option but -h: 0, or the status to exit with (a usage error) */
        int (*take)(void *ctx, int opt, const char *arg);
};

/* What cli_getopt returns when every option has been taken: the operands
 * start at argv[optind].  Anything else is the status to exit with. */
#define CLI_PARSED (-1)

/* A subcommand's option loop, the same in every one: -h (--help) prints
 * usage on stdout and ends with CLI_OK; an option getopt_long rejected (its
 * complaint printed already) ends with the hint, CLI_USAGE; every other
 * option goes to o->take with ctx. */
int cli_getopt(const struct cli_opts *o, int argc, char **argv, void *ctx);

/* cli_getopt, then the operands of a command on one pipe and nothing else
 * (cat, wait): NAME, turned into its path.  CLI_PARSED, or the status to
 * exit with. */
int cli_getopt_name(const struct cli_opts *o, int argc, char **argv, void *ctx, char *path,
                    size_t path_len);

/* The operands of a command on one pipe: NAME at argv[optind] ("missing
 * pipe NAME"), and nothing after it unless more_ok ("unexpected argument").
 * 0 or CLI_USAGE. */
int cli_name_operand(const char *cmd, int argc, char **argv, bool more_ok);

/* cli_pipe_path, a bad NAME reported as the failure of cmd: 0 or CLI_FAIL. */
int cli_name_path(const char *cmd, const char *name, char *out, size_t out_len);

/* Option arguments for take(): a bad one is reported as cmd's usage error.
 * 0 or CLI_USAGE.  --timeout as cli_parse_timeout reads it: */
int cli_timeout_opt(const char *cmd, const char *arg, bool allow_default, int *out);
/* --name N, a count of at least 1: */
int cli_count_opt(const char *cmd, const char *name, const char *arg, uint64_t *out);

/* Parse a decimal number in [min, max]; false when s is not one. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A timeout in milliseconds: a number, or "infinite" (NPIPE_INFINITE) or
 * "default" (NPIPE_WAIT_DEFAULT, where the operation has one). */
bool cli_parse_timeout(const char *s, bool allow_default, int *out);

/* Turn NAME, \\.\pipe\NAME or //./pipe/NAME into the canonical path, and
 * \\HOST\pipe\NAME or //HOST/pipe/NAME into \\HOST\pipe\NAME (remote).
 * Returns 0 or an NPIPE_E* status (reported by the caller). */
int cli_pipe_path(const char *user, char *out, size_t out_len);

/* Decode backslash escapes (\n \t \r \0 \\ \xHH) for --separator.  Returns
 * the decoded length (the output may contain NUL) or -1 for a bad escape. */
long cli_unescape(const char *in, char *out, size_t out_len);

/* ---- opts.c: errors -------------------------------------------------------- */

/* The Win32 name of an NPIPE_E* status, "ERROR_PIPE_BUSY", or NULL. */
const char *cli_win32_name(int status);

/* "npipe: OP PATH: message (ERROR_X)" on stderr.  path may be NULL; it is
 * printed escaped (cli_esc).  A name over the length limit gets the limit
 * and its own length after the message; when the library could not reach
 * a broker, a second line "npipe: OP: WHY" says why (which runtime
 * directory or broker program, and what is wrong with it). */
void cli_report(const char *op, const char *path, int status);

/* cli_report's first line with TEXT in place of the status's own message:
 * "npipe: OP PATH: TEXT (ERROR_X)", then the broker's reason if any. */
void cli_report_text(const char *op, const char *path, int status, const char *text);


/* A name (or any string from the user or the broker) as it is safe to
 * print: control characters (C0, DEL and the C1 range) and bytes that are
 * not UTF-8 become \xNN; everything else is kept.  Written into buf (at
 * most len - 1 bytes, "..." at the end when cut); returns buf. */
#define CLI_ESC_MAX (4 * CLI_PATH_MAX + 8)
const char *cli_esc(const char *s, char *buf, size_t len);

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

/* --separator's argument into o, its escapes decoded into store; a bad
 * escape is cmd's usage error.  0 or CLI_USAGE. */
int cli_separator_opt(const char *cmd, struct cli_out *o, const char *arg, char *store,
                      size_t store_len);

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
/* "key": v, the most common member. */
void json_key_uint(struct json *j, const char *key, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* ---- pipes.c: the namespace snapshot shared by list and stat ------------------- */

const char *cli_type_word(enum npipe_type t);
const char *cli_dir_word(enum npipe_dir d);
const char *cli_policy_word(enum npipe_access_policy p);

/* A name for a table: control characters, which would move the cursor,
 * as \xHH (cli_esc). */
void cli_put_name(FILE *f, const char *s);

/* The "name" and "path" (\\.\pipe\NAME) members of a pipe's JSON object. */
void cli_json_name(struct json *j, const char *name);

/* A snapshot of npipe_list() or npipe_stats(), sorted by name (case-
 * insensitively, as the namespace compares them). */
struct cli_pipe {
        union {
                struct npipe_pipe_entry e; /* cli_pipes_load: e.name is name below */
                struct npipe_pipe_stats s; /* cli_pipes_load_stats: s.name is name */
        };
        char *name;
};
struct cli_pipes {
        struct cli_pipe *v;
        size_t n, cap;
};
int cli_pipes_load(struct cli_pipes *ps);
/* The broker's counters into *b, and every pipe's. */
int cli_pipes_load_stats(struct cli_pipes *ps, struct npipe_broker_stats *b);
void cli_pipes_free(struct cli_pipes *ps);

/* ---- cmd_serve.c, serve_loop.c: npipe serve ------------------------------------ */

/* What a client gets: its messages echoed, printed (--print), or a child's
 * stdin and stdout (--exec). */
enum serve_mode { SERVE_ECHO, SERVE_PRINT, SERVE_EXEC };
/* --exec on a message pipe: a line of the child's stdout per message
 * (--lines), or a read (--reads). */
enum serve_frame { SERVE_LINES, SERVE_READS };

/* The command, as its options made it; shared by every instance. */
struct serve {
        char path[CLI_PATH_MAX];
        struct npipe_server_opts o;
        enum serve_mode mode;
        const char *cmd; /* --exec */
        enum serve_frame frame;
        bool pty;
        bool verbose;
        struct cli_out out; /* --print */
        char sep[256];      /* out.sep, once --separator gave one */
        uint64_t count;     /* 0: serve forever */
        bool type_given;    /* -m or -b was on the command line */
        bool max_given;     /* -n */
        atomic_uint_least64_t claimed;
        atomic_int failed;
};

/* One server instance of the pipe, served by its own thread. */
struct serve_instance {
        struct serve *s;
        npipe_t *h;
        pthread_t thread;
        int index;
};

/* --count: claim the slot of the next client before listening for it;
 * false when all N are taken (always true without --count). */
bool serve_claim(struct serve *s);

/* A thread per instance, until every one is done.  Instances whose thread
 * could not start are closed unserved, and the command fails. */
void serve_run_instances(struct serve *s, struct serve_instance *ins, uint64_t n);

#endif
