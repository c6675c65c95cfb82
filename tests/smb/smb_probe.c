/*
 * smb_probe.c - drives libnpipe-smb's table (src/smb/module.h) directly,
 * for tests/smb/smb_test.py.
 *
 *   smb_probe [--module PATH] [--host H] [--port N] [--user U] [--password P]
 *             [--domain D] [--anonymous] [--encrypt] [--sign] [--kerberos]
 *             [--max-dialect 0xNNNN] [--timeout MS] [--access r|w|rw]
 *             PIPE [OP...]
 *
 * Opens \\H\pipe\PIPE (unless the first OP is wait), then runs each OP:
 *   bind            DCE/RPC bind to srvsvc v3.0 by transact; expects bind_ack
 *   bind-rw         the same by write, then read
 *   write:TEXT      one message
 *   read[:N]        one read of up to N bytes (default 65536), --timeout
 *   transact:TEXT   one transact (reply up to 65536 bytes)
 *   peek  info  flush  mode:byte|message
 *   wait[:MS]       FSCTL_PIPE_WAIT on PIPE (no open needed)
 *   concurrent      a second handle: a read blocks on the first while the
 *                   second binds; then cancel() ends the read (ECANCELED)
 *   pause           reads a line from stdin (the test's signal to go on)
 *   close
 * and prints one line per step: "STEP STATUS MS [detail]", STATUS as
 * OK, EMOREDATA, ELOGON... (the NPIPE_ name without its prefix).  Exit 0
 * when every step gave OK (or EMOREDATA), else 1; 2 for bad usage.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smb/module.h"

#include "../remote/dcerpc_bind.h"

static const struct np_smb_module *M;
static const char *host = "127.0.0.1";
static int timeout_ms = 10000;
static int failed;

static const char *stname(int st)
{
        switch (st) {
#define X(name, value, w32, nt, msg)                                                               \
        case value:                                                                                \
                return #name;
                NPIPE_STATUS_MAP(X)
#undef X
        }
        return "UNKNOWN";
}

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(const char *step, int st, long long t0, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void report(const char *step, int st, long long t0, const char *fmt, ...)
{
        va_list ap;
        printf("%s %s %lld", step, stname(st), now_ms() - t0);
        if (fmt && *fmt) {
                putchar(' ');
                va_start(ap, fmt);
                vprintf(fmt, ap);
                va_end(ap);
        }
        if (st < 0 && st != NPIPE_EMOREDATA)
                printf(" why=[%s]", M->why());
        putchar('\n');
        fflush(stdout);
        if (st < 0 && st != NPIPE_EMOREDATA)
                failed = 1;
}

/* The answer must be a bind_ack accepting NDR v2 for call 1. */
static int check_bind_ack(const unsigned char *b, size_t n, char *detail, size_t cap)
{
        const char *problem = bind_ack_problem(b, n);

        if (*problem) {
                snprintf(detail, cap, "%s: %zu bytes, type %d", problem, n, n > 2 ? b[2] : -1);
                return NPIPE_EPROTO;
        }
        snprintf(detail, cap, "bind_ack %zu bytes", n);
        return 0;
}

static int do_bind(struct np_rpipe *p, bool rw, char *detail, size_t cap)
{
        unsigned char out[4096];
        size_t n = 0, w = 0;
        int st;

        if (rw) {
                st = M->write(p, bind_pdu, sizeof(bind_pdu), &w, timeout_ms);
                if (st < 0)
                        return st;
                if (w != sizeof(bind_pdu)) {
                        snprintf(detail, cap, "short write %zu", w);
                        return NPIPE_EPROTO;
                }
                st = M->read(p, out, sizeof(out), &n, timeout_ms);
        } else {
                st = M->transact(p, bind_pdu, sizeof(bind_pdu), out, sizeof(out), &n);
        }
        if (st < 0)
                return st;
        return check_bind_ack(out, n, detail, cap);
}

struct bg {
        struct np_rpipe *p;
        int st;
        size_t n;
        long long t;
        bool done;
        pthread_mutex_t mu;
        pthread_cond_t cv;
};

static void *bg_read(void *arg)
{
        struct bg *b = arg;
        unsigned char buf[1024];
        int st = M->read(b->p, buf, sizeof(buf), &b->n, 60000);
        pthread_mutex_lock(&b->mu);
        b->st = st;
        b->t = now_ms();
        b->done = true;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return NULL;
}

/* Cancel p until the background read has ended: a cancel that comes
 * before the read has begun does not count (module.h: calls in
 * progress), so it is repeated, each time after waiting up to 100 ms for
 * the read to end.  The number of cancels. */
static int cancel_until_done(struct bg *b)
{
        int n = 0;
        pthread_mutex_lock(&b->mu);
        while (!b->done && n < 200) {
                pthread_mutex_unlock(&b->mu);
                M->cancel(b->p);
                n++;
                pthread_mutex_lock(&b->mu);
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 100000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                if (!b->done)
                        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        }
        pthread_mutex_unlock(&b->mu);
        return n;
}

static void usage(void)
{
        fprintf(stderr, "usage: smb_probe [--module PATH] [--host H] [--port N] [--user U] "
                        "[--password P] [--domain D] [--anonymous] [--encrypt] [--sign] "
                        "[--kerberos] [--max-dialect 0xNNNN] [--timeout MS] [--access r|w|rw] "
                        "PIPE [OP...]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        const char *module = getenv("NPIPE_SMB_MODULE");
        struct npipe_remote_auth auth = {0};
        bool have_auth = false;
        unsigned access = NPIPE_READ | NPIPE_WRITE;
        int i;

        for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                const char *o = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(o, "--anonymous") == 0) {
                        auth.flags |= NPIPE_AUTH_ANONYMOUS;
                        have_auth = true;
                        continue;
                }
                if (strcmp(o, "--encrypt") == 0) {
                        auth.flags |= NPIPE_AUTH_ENCRYPT;
                        continue;
                }
                if (strcmp(o, "--sign") == 0) {
                        auth.flags |= NPIPE_AUTH_SIGN;
                        continue;
                }
                if (strcmp(o, "--kerberos") == 0) {
                        auth.flags |= NPIPE_AUTH_KERBEROS;
                        continue;
                }
                if (!v)
                        usage();
                i++;
                if (strcmp(o, "--module") == 0)
                        module = v;
                else if (strcmp(o, "--host") == 0)
                        host = v;
                else if (strcmp(o, "--port") == 0)
                        auth.port = (uint16_t)atoi(v);
                else if (strcmp(o, "--user") == 0)
                        auth.user = v, have_auth = true;
                else if (strcmp(o, "--password") == 0)
                        auth.password = v;
                else if (strcmp(o, "--domain") == 0)
                        auth.domain = v;
                else if (strcmp(o, "--max-dialect") == 0)
                        auth.max_dialect = (uint16_t)strtoul(v, NULL, 0);
                else if (strcmp(o, "--timeout") == 0)
                        timeout_ms = atoi(v);
                else if (strcmp(o, "--access") == 0)
                        access = (strchr(v, 'r') ? NPIPE_READ : 0) |
                                 (strchr(v, 'w') ? NPIPE_WRITE : 0);
                else
                        usage();
        }
        if (i >= argc)
                usage();
        const char *pipe = argv[i++];

        void *h = dlopen(module ? module : NP_SMB_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "smb_probe: %s\n", dlerror());
                return 2;
        }
        M = dlsym(h, NP_SMB_SYMBOL);
        if (!M || M->abi != NP_SMB_ABI || M->size != sizeof(*M)) {
                fprintf(stderr, "smb_probe: no usable %s in the module\n", NP_SMB_SYMBOL);
                return 2;
        }
        if (have_auth || auth.port || auth.flags || auth.max_dialect) {
                int st = M->configure(host, &auth);
                if (st < 0) {
                        fprintf(stderr, "smb_probe: configure: %d\n", st);
                        return 2;
                }
        }

        struct np_rpipe *p = NULL;
        long long t0 = now_ms();
        int st;
        if (i >= argc || strncmp(argv[i], "wait", 4) != 0) {
                st = M->open(host, pipe, access, timeout_ms, &p);
                report("open", st, t0, "%s", "");
                if (st < 0)
                        return 1;
        }
        for (; i < argc; i++) {
                const char *op = argv[i];
                const char *arg = strchr(op, ':') ? strchr(op, ':') + 1 : NULL;
                char detail[256] = "";
                unsigned char buf[65536];
                size_t n = 0;
                t0 = now_ms();
                if (strcmp(op, "bind") == 0 || strcmp(op, "bind-rw") == 0) {
                        st = do_bind(p, op[4] == '-', detail, sizeof(detail));
                        report(op, st, t0, "%s", detail);
                } else if (strncmp(op, "write:", 6) == 0) {
                        st = M->write(p, arg, strlen(arg), &n, timeout_ms);
                        report("write", st, t0, "%zu", n);
                } else if (strncmp(op, "writelen:", 9) == 0) {
                        size_t len = strtoul(arg, NULL, 0);
                        char *big = calloc(1, len ? len : 1);
                        st = big ? M->write(p, big, len, &n, timeout_ms) : NPIPE_ENOMEM;
                        free(big);
                        report("writelen", st, t0, "%zu", n);
                } else if (strncmp(op, "read", 4) == 0 && (op[4] == 0 || op[4] == ':')) {
                        size_t want = arg ? strtoul(arg, NULL, 0) : sizeof(buf);
                        if (want > sizeof(buf))
                                want = sizeof(buf);
                        st = M->read(p, buf, want, &n, timeout_ms);
                        report("read", st, t0, "%zu %.*s", n, (int)(n > 40 ? 40 : n),
                               (char *)buf);
                } else if (strncmp(op, "transact:", 9) == 0) {
                        st = M->transact(p, arg, strlen(arg), buf, sizeof(buf), &n);
                        report("transact", st, t0, "%zu", n);
                } else if (strcmp(op, "peek") == 0) {
                        struct npipe_peek pk;
                        st = M->peek(p, buf, sizeof(buf), &pk);
                        report("peek", st, t0, "state=%u avail=%u copied=%u", pk.state, pk.avail,
                               pk.copied);
                } else if (strcmp(op, "info") == 0) {
                        struct npipe_info in;
                        st = M->get_info(p, &in);
                        report("info", st, t0, "type=%d state=%d read_mode=%d", in.type,
                               in.state, in.read_mode);
                } else if (strncmp(op, "mode:", 5) == 0) {
                        enum npipe_read_mode rm = strcmp(arg, "message") == 0
                                                          ? NPIPE_READ_MESSAGE
                                                          : NPIPE_READ_BYTE;
                        st = M->set_mode(p, &rm, NULL);
                        report("mode", st, t0, "%s", arg);
                } else if (strcmp(op, "flush") == 0) {
                        st = M->flush(p);
                        report("flush", st, t0, "%s", "");
                } else if (strncmp(op, "wait", 4) == 0) {
                        st = M->wait(host, pipe, arg ? atoi(arg) : NPIPE_WAIT_DEFAULT);
                        report("wait", st, t0, "%s", "");
                } else if (strcmp(op, "pause") == 0) {
                        char line[64];
                        printf("paused\n");
                        fflush(stdout);
                        if (!fgets(line, sizeof(line), stdin))
                                return 1;
                } else if (strcmp(op, "concurrent") == 0) {
                        struct np_rpipe *q = NULL;
                        struct bg b = {.p = p};
                        pthread_t t;
                        pthread_mutex_init(&b.mu, NULL);
                        pthread_cond_init(&b.cv, NULL);
                        st = M->open(host, pipe, access, timeout_ms, &q);
                        if (st == 0) {
                                pthread_create(&t, NULL, bg_read, &b);
                                st = do_bind(q, false, detail, sizeof(detail));
                                long long tb = now_ms();
                                int ncancel = cancel_until_done(&b);
                                pthread_join(t, NULL);
                                M->close(q);
                                if (st == 0 && b.st != NPIPE_ECANCELED)
                                        st = b.st < 0 ? b.st : NPIPE_EPROTO;
                                snprintf(detail + strlen(detail),
                                         sizeof(detail) - strlen(detail),
                                         "; blocked read ended %s %lld ms after the first "
                                         "cancel (%d cancel(s))",
                                         stname(b.st), b.t - tb, ncancel);
                        }
                        report("concurrent", st, t0, "%s", detail);
                } else if (strcmp(op, "close") == 0) {
                        st = M->close(p);
                        p = NULL;
                        report("close", st, t0, "%s", "");
                } else {
                        fprintf(stderr, "smb_probe: unknown op %s\n", op);
                        return 2;
                }
        }
        if (p)
                M->close(p);
        return failed;
}
