/*
 * bench.h - npipe-bench: npipe against the Linux primitives, two processes.
 *
 * One driver process forks a peer for every measurement, so each number is
 * two processes talking through one transport, as applications do.  The
 * pieces:
 *
 *   transport.c  the transports behind one small interface (send one
 *                message, receive one message): npipe message and byte mode,
 *                AF_UNIX SOCK_SEQPACKET, SOCK_STREAM with a length prefix,
 *                pipe2(O_DIRECT), and a socketpair carrying one memfd per
 *                message (the seed's SCM_RIGHTS design, as a prototype)
 *   bare_ring.c  the reference: a minimal SPSC ring in shared memory, no
 *                NT semantics, no libnpipe (spin, then futex)
 *   rounds.c     the interleaved run: every case once per round, A and B of
 *                a comparison next to each other, several rounds, three
 *                placements (unpinned, pinned apart, pinned together); the
 *                placement the scheduler chose, sampled; npipe-bench-win32
 *                run as a case of the same rounds; medians at the end
 *   busy.c       oversubscription: N busy pairs doing 64 B round trips at once
 *   measure.c    round-trip latency and one-way streaming over any transport,
 *                with content verification and getrusage of both processes
 *   conn.c       connection set-up rate, the scale run, idle CPU, the memfd
 *                descriptor ceiling, and the fast-path mode for callgrind
 *   report.c     the CSV (transport,size,metric,value) and the tables with
 *                the ratio to SOCK_SEQPACKET, from one or more CSV files
 *   main.c       options and the order of the run
 *
 * Benchmarks are not tests: nothing here fails because it is slow.  It
 * fails (exit 1) when a message arrives wrong, which is what --smoke checks.
 */
#ifndef NPIPE_BENCH_H
#define NPIPE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- the run ------------------------------------------------------------------------------ */

struct bench_opts {
        double seconds;      /* per measurement (latency or streaming of one size) */
        int smoke;           /* tiny counts, correctness only */
        unsigned scale_n;    /* connections in the scale run */
        double idle_seconds; /* idle CPU window */
        unsigned conn_n;     /* set-up rate: open+close cycles (upper bound) */
        const char *only;    /* comma list of transports to run, NULL for all */
        const char *sizes;   /* comma list of sizes, NULL for the standard six */
        const char *tests;   /* comma list of rtt,stream,conn,scale,idle,memfd,fastpath */
        int verbose;
        int pin;             /* 0: let the scheduler place both; 1: peer on CPU 1, driver on
                              * CPU 0 ("apart"); 2: both on CPU 0 ("same"); set per case by
                              * the rounds (rounds.c) */
        int rounds;          /* interleaved rounds of every compared case */
        const char *places;  /* comma list of unpinned,apart,same (the first gets every
                              * transport and size, the others the comparison cases) */
        const char *pairs;   /* comma list of busy pair counts */
        const char *win32;   /* npipe-bench-win32 to run as a case ("" : none) */
};

/* Pin the calling process as --pin says (side 0 driver, 1 peer). */
void pin_side(int side);

extern struct bench_opts g_opts;

/* The CSV sink: every result goes here (and to the tables). */
void out_open(const char *path);
void out_metric(const char *transport, long size, const char *metric, double value);
void out_note(const char *transport, const char *what);
void out_close(void);
/* Set by the rounds for every case, inherited by the measurement's process:
 * metrics are written as METRIC@rROUND (one sample per round; medians are
 * appended at the end under the plain name) and transports as
 * TRANSPORT-apart / TRANSPORT-same when pinned. */
extern int g_round;           /* -1: not in a round */
extern const char *g_tr_suffix; /* "" , "-apart", "-same" */

/* Progress and errors go to stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fatal: a measurement that cannot be trusted (bad content, broken set-up). */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Counted failures (content errors) make the run exit 1 at the end. */
extern int g_errors;

/* ---- time and resources ------------------------------------------------------------------- */

int64_t now_ns(void);

struct usage {
        int64_t cpu_ns; /* user + system, all threads of the process */
        long nvcsw;     /* voluntary context switches */
        long nivcsw;
};
void usage_now(struct usage *u);
void usage_sub(struct usage *a, const struct usage *b); /* a -= b */

/* ---- process plumbing --------------------------------------------------------------------- */

/* Shared between the driver and its peer: a MAP_SHARED anonymous page made
 * before fork.  The barrier is a futex word; start_ns is the common time
 * zero of a measurement. */
struct shared {
        _Alignas(64) volatile uint32_t barrier[2];
        _Alignas(64) volatile uint64_t total; /* streaming: messages the writer sends */
        _Alignas(64) struct usage peer_usage;
        int64_t peer_end_ns;
        uint64_t peer_count;
        int peer_errors;
        int peer_status; /* 0 ok, else the peer's failure (it printed why) */
        char peer_note[128];
        long peer_mem[4]; /* scale run: the client's RSS/PSS before and after, kB */
        int64_t peer_median_ns;
};
struct shared *shared_new(void);
void shared_reset(struct shared *s);
/* Both processes call it: returns when both have arrived (side 0 or 1). */
void shared_barrier(struct shared *s, int side);

/* fork a peer that runs fn(arg) and _exit()s with its return value. */
pid_t spawn_peer(int (*fn)(void *), void *arg);
/* /proc/PID/stat into buf; field 3 on, or NULL (util.c). */
char *proc_stat_fields(pid_t pid, char *buf, size_t len);
/* Wait for it; returns its exit status (or 128+signal). */
int wait_peer(pid_t pid);

/* Where the scheduler put the two processes of a measurement: they post
 * their pids here for the measured window, and the watchdog (the main
 * process, which polls anyway) reads the CPU each runs on from /proc every
 * 2 ms.  A MAP_SHARED page made once, before any fork. */
struct placement {
        volatile int active;   /* inside the measured window */
        volatile pid_t pid[2]; /* driver, peer (0: the first child of pid[0]) */
};
extern struct placement *g_place;
void place_begin(pid_t driver, pid_t peer);
void place_end(void);

/* ---- message contents --------------------------------------------------------------------- */

/* Message i of a run is PATTERN[off(i) .. off(i)+size): every message
 * differs from its neighbours, so a lost, repeated, reordered or torn
 * message shows in the reader's memcmp, and the writer copies nothing. */
#define PATTERN_SLOTS 509u
const uint8_t *pattern_msg(uint64_t i);
void pattern_init(size_t max_size);
int pattern_check(uint64_t i, const void *buf, size_t len, size_t want);

/* ---- transports ----------------------------------------------------------------------------- */

struct xport;

struct xport_ops {
        const char *name;  /* CSV name */
        const char *label; /* table label */
        int zero_ok;       /* carries an empty message */
        /* Before fork: make whatever both ends share (socketpair, pipes, names). */
        int (*prepare)(struct xport *x);
        /* After fork, in each process: side 0 is the driver (server end),
         * side 1 the peer (client end). */
        int (*attach)(struct xport *x, int side);
        /* Send one message of len bytes. */
        int (*send)(struct xport *x, const void *buf, size_t len);
        /* Receive one message into buf (cap bytes); *len is its length.
         * Byte-stream transports are told the length to expect (want). */
        int (*recv)(struct xport *x, void *buf, size_t cap, size_t want, size_t *len);
        void (*detach)(struct xport *x, int side);
        int win32;         /* 1, 2: npipe-bench-win32 (sync, --overlapped) run as a case */
};

struct xport {
        const struct xport_ops *ops;
        size_t max_msg;
        int fd[4];       /* transport-specific descriptors */
        void *h;         /* npipe handle */
        char name[96];   /* npipe pipe name */
        /* SOCK_STREAM receive buffer (the length-prefix framer reads ahead) */
        uint8_t *rbuf;
        size_t rlen, roff, rcap;
        int chunk;       /* SEQPACKET: bytes per record when a message is chunked (0: none) */
        char note[160];  /* how the transport was configured, for the report */
};

extern const struct xport_ops xp_npipe_msg, xp_npipe_msg_buf, xp_npipe_byte, xp_seqpacket, xp_stream, xp_pipe,
        xp_memfd, xp_bare_ring, xp_win32, xp_win32_ovl;
extern const struct xport_ops *const all_xports[];
const struct xport_ops *xport_find(const char *name);
int xport_selected(const struct xport_ops *ops);
double machine_line_rtt_ns(void); /* util.c: cache line there and back, two CPUs */
int name_selected(const char *name); /* --only lists it (or no --only) */
int test_selected(const char *test);

/* npipe helpers shared with conn.c */
void npipe_unique_name(char *buf, size_t len, const char *tag);
const char *npipe_err(int r);

/* ---- measurements ------------------------------------------------------------------------- */

void measure_rtt(const struct xport_ops *ops, size_t size);
void measure_stream(const struct xport_ops *ops, size_t size);
/* The Win32 rows: npipe-bench-win32 for one test and size, its CSV taken in. */
void measure_win32(const struct xport_ops *ops, size_t size, const char *test);
/* npairs pairs of processes, 64 B round trips, all at once (busy.c). */
void bench_busy(const struct xport_ops *ops, size_t npairs);

/* The interleaved run of rtt, stream, busy and conn (rounds.c), and the
 * medians appended to the CSV at the end. */
void run_rounds(void);
void summarize_rounds(const char *csv);
/* One measurement in a process of its own under a watchdog (main.c);
 * `place` names the metric prefix of the placement sample (NULL: none). */
void isolated(const char *tr, long size, const char *what,
              void (*fn)(const struct xport_ops *, size_t), const struct xport_ops *ops,
              void (*fn0)(void), const char *place);

void bench_connect_rate(void);
void bench_scale(void);
void bench_idle(void);
void bench_memfd_ceiling(void);
/* --fastpath: write and read K messages at a time with the peer parked on
 * a plain pipe, so that no call ever waits: what callgrind counts is the
 * fast path alone (instructions per message, deterministic). */
int bench_fastpath(const char *transport, size_t size, unsigned rounds);

/* Broker pid (SO_PEERCRED on its socket), or -1. */
pid_t broker_pid(void);

/* ---- report ------------------------------------------------------------------------------- */

/* Print the tables from CSV files (the run's own and any extra ones, such
 * as the Win32 and Wine runs).  Returns 0, or -1 when a file is unreadable. */
int report_print(FILE *out, const char *const *files, int nfiles);

int size_selected(size_t size);
extern const size_t std_sizes[];
extern const int n_std_sizes;
const char *size_label(long size, char *buf, size_t len);

#endif
