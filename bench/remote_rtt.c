/*
 * remote_rtt.c - round-trip time of small calls on a remote pipe
 * \\HOST\pipe\NAME over SMB, through the public API only (npipe.h), so
 * the libnpipe-smb module does the SMB.  bench/remote_rtt.py runs it next
 * to python3-impacket against the same echo server (tests/remote/
 * remote_server behind a private smbd); it can also run on its own
 * against any echo pipe that answers "echo:" + the message.
 *
 *   remote_rtt [--mode transact|write-read|open-transact-close]
 *              [--count N] [--warmup W] [--size B] [--samples FILE]
 *              \\HOST\pipe\NAME
 *
 * Modes, each timed per call with CLOCK_MONOTONIC:
 *   transact             npipe_transact of one B-byte message (FSCTL_PIPE_
 *                        TRANSCEIVE) on one handle in message read mode
 *   write-read           npipe_write then npipe_read (SMB2 WRITE, SMB2 READ)
 *   open-transact-close  npipe_open, npipe_transact, npipe_close: a new
 *                        handle per call.  A first handle stays open all the
 *                        time, so every call shares one SMB connection (the
 *                        module drops a connection with its last handle).
 *
 * Credentials, port and options come from the environment as for any
 * program (NPIPE_SMB_USER, NPIPE_SMB_PASSWORD, NPIPE_SMB_PORT,
 * NPIPE_SMB_ENCRYPT=1, NPIPE_SMB_SIGN=1; NPIPE_SMB_MODULE: the module).
 * W untimed calls come first.  Every reply is checked ("echo:" + the
 * message); a wrong one ends the run with exit 1.  Prints one line: median,
 * p10, p90 and mean in microseconds, and transactions (or round trips)
 * per second (N / the wall time of the timed loop); --samples FILE also
 * writes every call's time in ns, one per line.
 */
#include <npipe/npipe.h>

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T_MS 10000 /* every open, read and write */

enum mode { M_TRANSACT, M_WRITE_READ, M_OPEN_TRANSACT_CLOSE };
static const char *const mode_names[] = {"transact", "write-read", "open-transact-close"};

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0 .. n), interpolated between neighbours. */
static double quantile(const int64_t *v, size_t n, double q)
{
        double pos = q * (double)(n - 1);
        size_t i = (size_t)pos;
        double f = pos - (double)i;

        return i + 1 < n ? (double)v[i] * (1 - f) + (double)v[i + 1] * f : (double)v[n - 1];
}

static int fail(const char *what, int r)
{
        fprintf(stderr, "remote_rtt: %s: %s (%s)\n", what, npipe_err_name(r), npipe_strerror(r));
        return 1;
}

static int open_msg(const char *path, npipe_t **h)
{
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        int r = npipe_open(path, NPIPE_READ | NPIPE_WRITE, T_MS, h);

        if (r < 0)
                return fail("npipe_open", r);
        r = npipe_set_mode(*h, &m, NULL);
        if (r < 0)
                return fail("npipe_set_mode (message read mode)", r);
        return 0;
}

/* One call of the mode; 0, or 1 after saying why. */
static int one(enum mode mode, const char *path, npipe_t *h, const unsigned char *msg, size_t size,
               unsigned char *buf, size_t cap)
{
        size_t n = 0;
        int r;

        switch (mode) {
        case M_TRANSACT:
                r = npipe_transact(h, msg, size, buf, cap, &n);
                if (r < 0)
                        return fail("npipe_transact", r);
                break;
        case M_WRITE_READ:
                r = npipe_write_timeout(h, msg, size, &n, T_MS);
                if (r < 0)
                        return fail("npipe_write", r);
                r = npipe_read_timeout(h, buf, cap, &n, T_MS);
                if (r < 0)
                        return fail("npipe_read", r);
                break;
        case M_OPEN_TRANSACT_CLOSE: {
                npipe_t *t = NULL;
                r = npipe_open(path, NPIPE_READ | NPIPE_WRITE, T_MS, &t);
                if (r < 0)
                        return fail("npipe_open (per call)", r);
                r = npipe_transact(t, msg, size, buf, cap, &n);
                int c = npipe_close(t);
                if (r < 0)
                        return fail("npipe_transact (per call)", r);
                if (c < 0)
                        return fail("npipe_close (per call)", c);
                break;
        }
        }
        if (n != size + 5 || memcmp(buf, "echo:", 5) != 0 || memcmp(buf + 5, msg, size) != 0) {
                fprintf(stderr, "remote_rtt: %s: a wrong reply (%zu bytes, expected %zu)\n",
                        mode_names[mode], n, size + 5);
                return 1;
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: remote_rtt [--mode transact|write-read|open-transact-close]\n"
                   "                  [--count N] [--warmup W] [--size B] [--samples FILE]\n"
                   "                  \\\\HOST\\pipe\\NAME\n");
}

static int parse_count(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
        char *end;

        errno = 0;
        *v = strtoul(s, &end, 10);
        return errno == 0 && end != s && *end == 0 && *v >= lo && *v <= hi;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {{"mode", required_argument, NULL, 'm'},
                                                 {"count", required_argument, NULL, 'n'},
                                                 {"warmup", required_argument, NULL, 'w'},
                                                 {"size", required_argument, NULL, 's'},
                                                 {"samples", required_argument, NULL, 'o'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
        enum mode mode = M_TRANSACT;
        unsigned long count = 2000, warmup = 100, size = 64;
        const char *samples = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        if (strcmp(optarg, "transact") == 0)
                                mode = M_TRANSACT;
                        else if (strcmp(optarg, "write-read") == 0)
                                mode = M_WRITE_READ;
                        else if (strcmp(optarg, "open-transact-close") == 0)
                                mode = M_OPEN_TRANSACT_CLOSE;
                        else {
                                usage(stderr);
                                return 2;
                        }
                        break;
                case 'n':
                        if (!parse_count(optarg, 1, 10000000, &count)) {
                                fprintf(stderr, "remote_rtt: --count: 1..10000000\n");
                                return 2;
                        }
                        break;
                case 'w':
                        if (!parse_count(optarg, 0, 10000000, &warmup)) {
                                fprintf(stderr, "remote_rtt: --warmup: 0..10000000\n");
                                return 2;
                        }
                        break;
                case 's':
                        /* the reply, "echo:" + the message, fits in one SMB message */
                        if (!parse_count(optarg, 1, 65530, &size)) {
                                fprintf(stderr, "remote_rtt: --size: 1..65530\n");
                                return 2;
                        }
                        break;
                case 'o':
                        samples = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return 2;
        }
        const char *path = argv[optind];

        unsigned char *msg = malloc(size), *buf = malloc(size + 64);
        int64_t *t = calloc(count, sizeof *t);
        if (!msg || !buf || !t) {
                fprintf(stderr, "remote_rtt: out of memory\n");
                return 1;
        }
        for (size_t i = 0; i < size; i++)
                msg[i] = (unsigned char)('a' + i % 26);

        /* the handle of transact and write-read; the anchor that keeps the
         * connection for open-transact-close */
        npipe_t *h = NULL;
        if (open_msg(path, &h) != 0)
                return 1;
        for (unsigned long i = 0; i < warmup; i++)
                if (one(mode, path, h, msg, size, buf, size + 64) != 0)
                        return 1;
        int64_t start = now_ns();
        for (unsigned long i = 0; i < count; i++) {
                int64_t t0 = now_ns();
                if (one(mode, path, h, msg, size, buf, size + 64) != 0)
                        return 1;
                t[i] = now_ns() - t0;
        }
        int64_t wall = now_ns() - start;
        int r = npipe_close(h);
        if (r < 0)
                return fail("npipe_close", r);

        if (samples) {
                FILE *f = fopen(samples, "w");
                if (!f) {
                        fprintf(stderr, "remote_rtt: %s: %s\n", samples, strerror(errno));
                        return 1;
                }
                for (unsigned long i = 0; i < count; i++)
                        fprintf(f, "%lld\n", (long long)t[i]);
                if (fclose(f) != 0) {
                        fprintf(stderr, "remote_rtt: %s: %s\n", samples, strerror(errno));
                        return 1;
                }
        }
        double sum = 0;
        for (unsigned long i = 0; i < count; i++)
                sum += (double)t[i];
        qsort(t, count, sizeof *t, cmp_i64);
        printf("%s %lu B x %lu: median %.1f us, p10 %.1f us, p90 %.1f us, mean %.1f us, "
               "%.0f %s/s\n",
               mode_names[mode], size, count, quantile(t, count, 0.5) / 1e3,
               quantile(t, count, 0.1) / 1e3, quantile(t, count, 0.9) / 1e3,
               sum / (double)count / 1e3, (double)count * 1e9 / (double)wall,
               mode == M_WRITE_READ ? "round trips" : "transactions");
        free(msg);
        free(buf);
        free(t);
        return 0;
}
