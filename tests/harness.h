/*
 * harness.h - what every npipe test program shares.
 *
 *   - a private runtime directory (and so a private broker) per test
 *     function: h_tcase() installs a checked fixture, which Check runs in
 *     the forked process of each test (CK_FORK, the default).  With
 *     CK_FORK=no (debugging) the library's broker connection outlives a
 *     test, so run one test at a time then;
 *   - unique pipe names;
 *   - status assertions that print npipe_err_name() of both sides;
 *   - "the call really blocks" evidence: an operation runs in a thread that
 *     writes to a notification pipe when it returns; the test polls that pipe
 *     briefly to see the call is still blocked, releases it, and then waits
 *     for the notification with a generous timeout.  No sleep orders events;
 *   - real child processes (fork) with a socketpair channel for
 *     synchronisation and a pidfd to wait for them with a timeout.  A child
 *     never uses Check's assertions (it is not the test process): it returns
 *     non-zero from its function, and C_CHECK() prints where it failed.
 */
#ifndef NPIPE_TESTS_HARNESS_H
#define NPIPE_TESTS_HARNESS_H

#include <check.h>
#include <npipe/npipe.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* How long something that must happen may take (generous: CI machines are
 * slow, sanitizers slower). */
#define H_TIMEOUT_MS 10000
/* How long a call is watched to count as "still blocked".  Not a
 * synchronisation: only evidence that the call did not return at once. */
#define H_BLOCKED_MS 150
/* Upper bound for "returns at once" (only separates that from "waits"). */
#define H_PROMPT_MS 1000

/* ---- status assertions -------------------------------------------------- */

#define ck_assert_status(expr, want)                                                               \
        do {                                                                                       \
                int h_r_ = (expr);                                                                 \
                int h_w_ = (want);                                                                 \
                ck_assert_msg(h_r_ == h_w_, "%s: got %s (%d), expected %s (%d)", #expr,            \
                              npipe_err_name(h_r_), h_r_, npipe_err_name(h_w_), h_w_);             \
        } while (0)

/* Either of two results (spec items marked ⚠VER accept both). */
#define ck_assert_status2(expr, want1, want2)                                                      \
        do {                                                                                       \
                int h_r_ = (expr);                                                                 \
                int h_w1_ = (want1), h_w2_ = (want2);                                              \
                ck_assert_msg(h_r_ == h_w1_ || h_r_ == h_w2_,                                      \
                              "%s: got %s (%d), expected %s or %s", #expr, npipe_err_name(h_r_),   \
                              h_r_, npipe_err_name(h_w1_), npipe_err_name(h_w2_));                 \
        } while (0)

#define ck_assert_ok(expr) ck_assert_status((expr), NPIPE_OK)

/* ---- fixture, suite ------------------------------------------------------ */

/* A fresh runtime directory (mkdtemp, mode 0700, inside the runner's own
 * 0700 directory under /tmp) exported as NPIPE_RUNTIME_DIR; the runner
 * removes them all when the suite is over. */
void h_private_runtime(void);
const char *h_runtime_dir(void);

/* A test case with the private-runtime fixture and a per-test timeout. */
TCase *h_tcase(const char *name, int timeout_s);
/* Run the suite; returns the exit status for main(). */
int h_run(Suite *s);

/* ---- names ---------------------------------------------------------------- */

/* "\\.\pipe\npt-<pid>-<n>-<tag>" into buf; returns buf. */
char *h_name(char *buf, size_t len, const char *tag);
#define H_NAME(var, tag)                                                                           \
        char var[256];                                                                             \
        h_name(var, sizeof(var), (tag))

/* ---- pipes ------------------------------------------------------------------ */

/* Options with the defaults and the given type; flags as NPIPE_* bits. */
void h_opts(struct npipe_server_opts *o, enum npipe_type type, uint32_t flags);
/* Create (asserting success). */
npipe_t *h_create(const char *name, const struct npipe_server_opts *o);
npipe_t *h_server(const char *name, enum npipe_type type, uint32_t flags);
/* Open a client (timeout 0), asserting success. */
npipe_t *h_client(const char *name, unsigned access);
/* A connected pair in this process: server of `type` with `flags`, duplex,
 * client with read|write.  Client switched to message read mode when
 * `cli_msg` is set. */
void h_pair(const char *name, enum npipe_type type, uint32_t flags, int cli_msg, npipe_t **srv,
            npipe_t **cli);
void h_set_read_mode(npipe_t *h, enum npipe_read_mode m);
void h_set_nowait(npipe_t *h, int nowait);
int h_state(npipe_t *h); /* npipe_get_info().state, or the error */

/* Write all of buf (asserting status 0 and the full count). */
#define H_WRITE(h, buf, len)                                                                       \
        do {                                                                                       \
                size_t h_n_ = (size_t)-1;                                                          \
                ck_assert_status(npipe_write((h), (buf), (len), &h_n_), NPIPE_OK);                 \
                ck_assert_msg(h_n_ == (size_t)(len), "wrote %zu of %zu", h_n_, (size_t)(len));     \
        } while (0)
#define H_WRITE_STR(h, s) H_WRITE((h), (s), strlen(s))

/* Read with a buffer of `cap` bytes; assert the status, the count and the
 * bytes (`want` of length `want_len`). */
#define H_READ(h, cap, want_status, want, want_len)                                                \
        do {                                                                                       \
                char h_b_[(cap) + 1];                                                              \
                size_t h_n_ = (size_t)-1;                                                          \
                ck_assert_status(npipe_read((h), h_b_, (cap), &h_n_), (want_status));              \
                ck_assert_msg(h_n_ == (size_t)(want_len), "read %zu bytes, expected %zu", h_n_,    \
                              (size_t)(want_len));                                                 \
                ck_assert_msg(memcmp(h_b_, (want), (want_len)) == 0, "read wrong bytes");          \
        } while (0)
#define H_READ_STR(h, cap, want_status, s) H_READ((h), (cap), (want_status), (s), strlen(s))

/* Fill `n` bytes with a pattern depending on `seed` / check it. */
void h_pattern(void *buf, size_t n, unsigned seed);
int h_pattern_ok(const void *buf, size_t n, unsigned seed);

/* ---- time ------------------------------------------------------------------------- */

int64_t h_now_ms(void);

/* Re-evaluate `cond` until it is true or H_TIMEOUT_MS passed (for states
 * that become visible asynchronously, e.g. bytes of a write another
 * thread or process has started).  Not an ordering device: the condition
 * is what is waited for. */
#define H_EVENTUALLY(cond)                                                                         \
        do {                                                                                       \
                int64_t h_end_ = h_now_ms() + H_TIMEOUT_MS;                                        \
                while (!(cond) && h_now_ms() < h_end_)                                             \
                        h_pause();                                                                 \
                ck_assert_msg((cond), "never became true: %s", #cond);                             \
        } while (0)
void h_pause(void); /* yield the CPU for about a millisecond */

/* ---- operations in a thread ----------------------------------------------------- */

struct h_op;
typedef int (*h_op_fn)(struct h_op *op);

struct h_op {
        /* inputs */
        npipe_t *h;
        const char *name;
        void *buf;
        size_t len;
        const void *in;
        size_t in_len;
        int timeout_ms;
        unsigned access;
        void *user;
        /* outputs */
        int status;
        size_t n;
        npipe_t *opened;
        int64_t t_start, t_end; /* ms */
        /* private */
        h_op_fn fn;
        pthread_t thread;
        int notify[2];
        int joined;
};

void h_op_start(struct h_op *op, h_op_fn fn);
/* 1 when the operation has not returned within `ms`. */
int h_op_blocked(struct h_op *op, int ms);
/* Wait up to `ms` for it to return; 1 when it did (then it is joined). */
int h_op_finish(struct h_op *op, int ms);

/* Predefined operations (fill the inputs first, or use the starters). */
int h_op_read(struct h_op *op);     /* npipe_read(h, buf, len, &n) */
int h_op_write(struct h_op *op);    /* npipe_write(h, in, in_len, &n) */
int h_op_listen(struct h_op *op);   /* npipe_listen(h, timeout_ms) */
int h_op_wait(struct h_op *op);     /* npipe_wait(name, timeout_ms) */
int h_op_flush(struct h_op *op);    /* npipe_flush(h) */
int h_op_open(struct h_op *op);     /* npipe_open(name, access, timeout_ms, &opened) */
int h_op_transact(struct h_op *op); /* npipe_transact(h, in, in_len, buf, len, &n) */
int h_op_call(struct h_op *op);     /* npipe_call(name, in, in_len, buf, len, &n, timeout_ms) */

void h_async_read(struct h_op *op, npipe_t *h, void *buf, size_t len);
void h_async_write(struct h_op *op, npipe_t *h, const void *buf, size_t len);
void h_async_listen(struct h_op *op, npipe_t *h, int timeout_ms);
void h_async_wait(struct h_op *op, const char *name, int timeout_ms);
void h_async_flush(struct h_op *op, npipe_t *h);
void h_async_transact(struct h_op *op, npipe_t *h, const void *in, size_t in_len, void *out,
                      size_t out_len);

/* Wait until the server end knows its client (ConnectNamedPipe returns
 * connected, already connected, or closing when the client has already
 * gone).  Tests whose subject is not OPEN-07 use it after another process
 * opened the client: the dedicated OPEN-07 test checks that no wait is
 * needed. */
void h_await_client(npipe_t *s);

/* Start a blocking listen on the (only) instance of `name` in a thread and
 * return once the broker has it listening (npipe_wait succeeds). */
void h_listen_ready(struct h_op *op, npipe_t *s, const char *name);

#define H_ASSERT_BLOCKED(op)                                                                       \
        ck_assert_msg(h_op_blocked((op), H_BLOCKED_MS),                                            \
                      "operation returned although it should block: %s (%d), n=%zu",               \
                      npipe_err_name((op)->status), (op)->status, (op)->n)
#define H_ASSERT_FINISHES(op)                                                                      \
        ck_assert_msg(h_op_finish((op), H_TIMEOUT_MS), "operation still blocked after %d ms",      \
                      H_TIMEOUT_MS)

/* ---- child processes ------------------------------------------------------------------ */

/* The child's function: `chan` is its end of the channel; returns the exit
 * status (0 = everything as expected). */
typedef int (*h_child_fn)(int chan, void *arg);

struct h_child {
        pid_t pid;
        int pidfd;
        int chan; /* the parent's end */
        int reaped;
        int status; /* raw wait status once reaped */
};

/* Fork; the child runs fn(chan, arg) and _exit()s with its result. */
void h_spawn(struct h_child *c, h_child_fn fn, void *arg);
/* 1 when the child is still running after `ms`. */
int h_child_running(struct h_child *c, int ms);
/* Wait up to `ms` for the child; returns its exit code, 128+signal when
 * killed, or -1 on timeout (the child is then killed). */
int h_reap(struct h_child *c, int ms);
/* SIGKILL the child by its pid and reap it. */
void h_kill(struct h_child *c);

#define H_ASSERT_CHILD_OK(c)                                                                       \
        do {                                                                                       \
                int h_e_ = h_reap((c), H_TIMEOUT_MS);                                              \
                ck_assert_msg(h_e_ == 0, "child failed: exit %d (see its stderr)", h_e_);          \
        } while (0)

/* Channel: one byte at a time.  h_recv returns the byte, or -1 on timeout
 * or when the other side is gone. */
int h_send(int chan, int byte);
int h_recv(int chan, int timeout_ms);
/* A 64-bit value (pids, lengths). */
int h_send_u64(int chan, uint64_t v);
int h_recv_u64(int chan, uint64_t *v, int timeout_ms);

/* The parent waits for byte `b` from the child (asserting). */
#define H_EXPECT(chan, b)                                                                          \
        do {                                                                                       \
                int h_g_ = h_recv((chan), H_TIMEOUT_MS);                                           \
                ck_assert_msg(h_g_ == (b), "channel: got %d, expected %d", h_g_, (int)(b));        \
        } while (0)

/* In a child: report and fail. */
#define C_CHECK(cond)                                                                              \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "child %s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                                #cond);                                                            \
                        return 1;                                                                  \
                }                                                                                  \
        } while (0)
#define C_STATUS(expr, want)                                                                       \
        do {                                                                                       \
                int c_r_ = (expr);                                                                 \
                int c_w_ = (want);                                                                 \
                if (c_r_ != c_w_) {                                                                \
                        fprintf(stderr, "child %s:%d: %s: got %s (%d), expected %s (%d)\n",        \
                                __FILE__, __LINE__, #expr, npipe_err_name(c_r_), c_r_,             \
                                npipe_err_name(c_w_), c_w_);                                       \
                        return 1;                                                                  \
                }                                                                                  \
        } while (0)
#define C_SEND(chan, b)   C_CHECK(h_send((chan), (b)) == 0)
#define C_EXPECT(chan, b) C_CHECK(h_recv((chan), H_TIMEOUT_MS) == (b))

/* Child helpers: create/open without Check. */
int c_write_all(npipe_t *h, const void *buf, size_t len);

/* Count the entries of /proc/self/fd. */
int h_count_fds(void);

#endif /* NPIPE_TESTS_HARNESS_H */
