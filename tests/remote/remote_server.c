/*
 * remote_server.c - the pipe server of the remote-endpoint tests
 * (tests/remote/remote_test.py).  It uses only the public native API
 * (include/npipe/npipe.h), so what it sees is what any server would see
 * when a Windows/SMB client reaches one of its pipes through smbd.
 *
 *   remote_server --name N [--byte] [--instances K]
 *                 [--policy owner|group|everyone] [--gid G]
 *                 [--reject-remote] [--allow-anonymous]
 *                 [--mode echo|whoami|big|close-after-one|disconnect-after-one]
 *                 [--ready-fd N]
 *
 * K instances are created up front (max_instances = K), each served by its
 * own thread, which listens again after every client.  "1" is written to
 * the --ready-fd once all K exist.  Messages are read in message read mode
 * (byte read mode on a --byte pipe) into a 70000-byte buffer, larger than
 * any message an SMB client can send (65535).
 *
 * Modes (the reply to each message, or to each chunk of a byte pipe):
 *   echo       "echo:" + the message.  When that would not fit in one SMB
 *              message (the message is longer than 65530 bytes) the reply is
 *              "echo:len=L,fnv=XXXXXXXX" instead (FNV-1a 32 of the message), so
 *              a 65535-byte message can be checked.  On a byte pipe the bytes
 *              come back unchanged.
 *   whoami     one line "user=%s domain=%s uid=%u gid=%u addr=%s anonymous=%d
 *              encrypted=%d local=%d nsids=%u" from npipe_remote_client()
 *              (local=1 when it says NPIPE_ELOCAL; uid/gid then come from
 *              npipe_peer_cred(); "error=NAME" when it fails otherwise).
 *   big        per message: write a 65536-byte and a 0-byte message, reply
 *              "65536=NAME 0=NAME" (npipe_err_name of the two results), then
 *              write a 65535-byte message whose byte i is i % 251.
 *   close-after-one       echo one message, then npipe_close the instance
 *                         (a fresh instance is created in its place).
 *   disconnect-after-one  echo one message, then npipe_flush, npipe_disconnect
 *                         and listen again.
 *   burst      a message "N SIZE" is answered with N messages of SIZE bytes
 *              (4..65535): message k starts with k as a 4-byte big-endian
 *              number, byte i >= 4 is (k + i) % 251.
 *   greet      on connect, write "greeting", "m00" .. "m19" and "bye" (for an
 *              outbound pipe, where the server cannot read).  On an outbound pipe the
 *              instance then stays as it is (nothing tells it the client
 *              left); otherwise it echoes as in echo mode.
 *
 * --dir inbound|outbound|duplex (default duplex) sets the pipe's direction,
 * --quota both buffer quotas (default 128 KiB).
 * Each message read is logged as "message: TEXT" (its first 64 bytes, '.'
 * for anything not printable), which the test can wait for on an inbound
 * pipe, where no reply can come back.
 *
 * Every event goes to stderr, prefixed with the pipe name and the instance.
 * The process runs until it is killed.
 */
#include <npipe/npipe.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_BUF 70000u
#define SMB_MAX_MSG 65535u

enum mode {
        MODE_ECHO,
        MODE_WHOAMI,
        MODE_BIG,
        MODE_CLOSE_AFTER_ONE,
        MODE_DISCONNECT_AFTER_ONE,
        MODE_BURST,
        MODE_GREET,
};

static const char *pipe_name; /* as given (for the log) */
static char pipe_path[512];    /* \\.\pipe\NAME, what npipe_create takes */
static bool byte_pipe;
static enum mode mode = MODE_ECHO;
static struct npipe_server_opts sopts;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void logf_(unsigned inst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(unsigned inst, const char *fmt, ...)
{
        va_list ap;

        pthread_mutex_lock(&log_lock);
        fprintf(stderr, "remote_server[%s#%u]: ", pipe_name, inst);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
        pthread_mutex_unlock(&log_lock);
}

static void usage(FILE *f, const char *prog)
{
        fprintf(f,
                "Usage: %s --name NAME [--byte] [--instances K]\n"
                "       [--policy owner|group|everyone] [--gid GID] [--reject-remote]\n"
                "       [--allow-anonymous]\n"
                "       [--mode echo|whoami|big|close-after-one|disconnect-after-one|\n"
                "               burst|greet]\n"
                "       [--dir inbound|outbound|duplex] [--quota BYTES] [--ready-fd FD]\n",
                prog);
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 16777619u;
        }
        return h;
}

/* Write one message or chunk; log a failure.  Returns the status. */
static int put(unsigned inst, npipe_t *h, const void *buf, size_t len)
{
        size_t n = 0;
        int r = npipe_write(h, buf, len, &n);

        if (r < 0)
                logf_(inst, "write of %zu bytes: %s (%s)", len, npipe_err_name(r),
                      npipe_strerror(r));
        else if (n != len)
                logf_(inst, "write of %zu bytes wrote %zu", len, n);
        return r;
}

static int reply_echo(unsigned inst, npipe_t *h, const unsigned char *msg, size_t len)
{
        static const char prefix[] = "echo:";
        const size_t plen = sizeof prefix - 1;
        unsigned char *out;
        int r;

        if (byte_pipe)
                return put(inst, h, msg, len);
        if (len + plen > SMB_MAX_MSG) {
                char line[64];
                int n = snprintf(line, sizeof line, "echo:len=%zu,fnv=%08x", len,
                                 (unsigned)fnv1a(msg, len));
                return put(inst, h, line, (size_t)n);
        }
        out = malloc(len + plen);
        if (!out)
                return NPIPE_ENOMEM;
        memcpy(out, prefix, plen);
        memcpy(out + plen, msg, len);
        r = put(inst, h, out, len + plen);
        free(out);
        return r;
}

static int reply_whoami(unsigned inst, npipe_t *h)
{
        struct npipe_remote_client rc;
        char line[1024];
        int r, n;

        memset(&rc, 0, sizeof rc);
        r = npipe_remote_client(h, &rc);
        if (r == NPIPE_ELOCAL) {
                uid_t uid = (uid_t)-1;
                gid_t gid = (gid_t)-1;
                int pr = npipe_peer_cred(h, &uid, &gid);

                if (pr < 0)
                        logf_(inst, "npipe_peer_cred: %s", npipe_err_name(pr));
                n = snprintf(line, sizeof line,
                             "user= domain= uid=%u gid=%u addr= anonymous=0 encrypted=0 "
                             "local=1 nsids=0",
                             (unsigned)uid, (unsigned)gid);
        } else if (r < 0) {
                n = snprintf(line, sizeof line, "error=%s", npipe_err_name(r));
        } else {
                n = snprintf(line, sizeof line,
                             "user=%s domain=%s uid=%u gid=%u addr=%s anonymous=%d "
                             "encrypted=%d local=0 nsids=%u",
                             rc.user, rc.domain, (unsigned)rc.uid, (unsigned)rc.gid,
                             rc.client_addr, (rc.flags & NPIPE_REMOTE_ANONYMOUS) ? 1 : 0,
                             (rc.flags & NPIPE_REMOTE_ENCRYPTED) ? 1 : 0, (unsigned)rc.nsids);
                for (uint32_t i = 0; i < rc.nsids && i < NPIPE_REMOTE_MAX_SIDS; i++)
                        logf_(inst, "sid[%u] %s", (unsigned)i, rc.sids[i]);
        }
        if (n < 0)
                return NPIPE_EINVAL;
        if ((size_t)n >= sizeof line)
                n = (int)sizeof line - 1;
        logf_(inst, "whoami: %s", line);
        return put(inst, h, line, (size_t)n);
}

static int reply_big(unsigned inst, npipe_t *h)
{
        unsigned char *big = malloc(SMB_MAX_MSG + 1);
        char line[128];
        size_t n = 0;
        int r1, r0, r, len;

        if (!big)
                return NPIPE_ENOMEM;
        for (size_t i = 0; i < SMB_MAX_MSG + 1; i++)
                big[i] = (unsigned char)(i % 251);
        r1 = npipe_write(h, big, SMB_MAX_MSG + 1, &n);
        logf_(inst, "write of 65536 bytes: %s (%zu written)", npipe_err_name(r1), n);
        n = 0;
        r0 = npipe_write(h, big, 0, &n);
        logf_(inst, "write of 0 bytes: %s", npipe_err_name(r0));
        len = snprintf(line, sizeof line, "65536=%s 0=%s", npipe_err_name(r1), npipe_err_name(r0));
        r = put(inst, h, line, (size_t)len);
        if (r >= 0)
                r = put(inst, h, big, SMB_MAX_MSG);
        free(big);
        return r;
}

static int reply_burst(unsigned inst, npipe_t *h, const unsigned char *msg, size_t len)
{
        char req[64];
        unsigned long n = 0, size = 0;
        unsigned char *out;
        int r = 0;

        if (len >= sizeof req)
                len = sizeof req - 1;
        memcpy(req, msg, len);
        req[len] = '\0';
        if (sscanf(req, "%lu %lu", &n, &size) != 2 || size < 4 || size > SMB_MAX_MSG ||
            n > 100000) {
                static const char bad[] = "burst: want \"N SIZE\", SIZE 4..65535";
                return put(inst, h, bad, sizeof bad - 1);
        }
        out = malloc(size);
        if (!out)
                return NPIPE_ENOMEM;
        for (unsigned long k = 0; k < n; k++) {
                out[0] = (unsigned char)(k >> 24);
                out[1] = (unsigned char)(k >> 16);
                out[2] = (unsigned char)(k >> 8);
                out[3] = (unsigned char)k;
                for (size_t i = 4; i < size; i++)
                        out[i] = (unsigned char)((k + i) % 251);
                r = put(inst, h, out, size);
                if (r < 0) {
                        logf_(inst, "burst stopped at %lu of %lu: %s", k, n, npipe_err_name(r));
                        break;
                }
        }
        if (r >= 0)
                logf_(inst, "burst of %lu x %lu bytes written", n, size);
        free(out);
        return r;
}

/* The client is gone or the connection broke: these end one client. */
static bool client_gone(int r)
{
        return r == NPIPE_EPIPE || r == NPIPE_ENOTCONN || r == NPIPE_ECLOSING ||
               r == NPIPE_EBADPIPE || r == NPIPE_ELISTENING;
}

struct instance {
        unsigned idx;
        npipe_t *h;
        pthread_t thread;
};

/* Serve one connected client until it goes, or after one message in the
 * *-after-one modes. */
static void serve_client(struct instance *in)
{
        unsigned char *buf = malloc(READ_BUF);
        unsigned served = 0;

        if (!buf) {
                logf_(in->idx, "out of memory");
                return;
        }
        for (;;) {
                size_t got = 0, total = 0;
                unsigned char *msg = buf;
                unsigned char *acc = NULL;
                int r;

                r = npipe_read(in->h, buf, READ_BUF, &got);
                total = got;
                /* A local client may send more than 70000 bytes: gather it. */
                while (r == NPIPE_EMOREDATA) {
                        unsigned char *grown = realloc(acc, total + READ_BUF);

                        if (!grown) {
                                r = NPIPE_ENOMEM;
                                break;
                        }
                        if (!acc)
                                memcpy(grown, buf, total);
                        acc = grown;
                        got = 0;
                        r = npipe_read(in->h, acc + total, READ_BUF, &got);
                        total += got;
                }
                if (acc)
                        msg = acc;
                if (r < 0) {
                        free(acc);
                        if (client_gone(r))
                                logf_(in->idx, "client gone: %s", npipe_err_name(r));
                        else
                                logf_(in->idx, "read: %s (%s)", npipe_err_name(r),
                                      npipe_strerror(r));
                        break;
                }
                {
                        char text[65];
                        size_t tl = total < 64 ? total : 64;

                        for (size_t i = 0; i < tl; i++)
                                text[i] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? (char)msg[i] : '.';
                        text[tl] = '\0';
                        logf_(in->idx, "read %zu bytes", total);
                        logf_(in->idx, "message: %s", text);
                }
                switch (mode) {
                case MODE_WHOAMI:
                        r = reply_whoami(in->idx, in->h);
                        break;
                case MODE_BIG:
                        r = reply_big(in->idx, in->h);
                        break;
                case MODE_BURST:
                        r = reply_burst(in->idx, in->h, msg, total);
                        break;
                default:
                        r = reply_echo(in->idx, in->h, msg, total);
                        break;
                }
                free(acc);
                served++;
                /* a client that is closing may have queued more: read on
                 * (NT keeps what it wrote readable) until its end says EPIPE */
                if (r < 0 && client_gone(r) && r != NPIPE_ECLOSING)
                        break;
                if (mode == MODE_CLOSE_AFTER_ONE || mode == MODE_DISCONNECT_AFTER_ONE)
                        break;
        }
        free(buf);
}

static void *instance_main(void *arg)
{
        struct instance *in = arg;

        for (;;) {
                int r = npipe_listen(in->h, NPIPE_INFINITE);
                struct npipe_remote_client rc;

                if (r != 0 && r != NPIPE_EISCONN) {
                        logf_(in->idx, "listen: %s (%s)", npipe_err_name(r), npipe_strerror(r));
                        if (r == NPIPE_ECLOSING || r == NPIPE_ENOTCONN || r == NPIPE_EPIPE) {
                                npipe_disconnect(in->h);
                                continue;
                        }
                        return NULL;
                }
                r = npipe_remote_client(in->h, &rc);
                if (r == 0)
                        logf_(in->idx, "connected: remote %s\\%s from %s:%u uid=%u gid=%u",
                              rc.domain, rc.user, rc.client_addr, (unsigned)rc.client_port,
                              (unsigned)rc.uid, (unsigned)rc.gid);
                else
                        logf_(in->idx, "connected: %s",
                              r == NPIPE_ELOCAL ? "local" : npipe_err_name(r));

                if (mode == MODE_GREET) {
                        static const char hi[] = "greeting", bye[] = "bye";

                        /* many small messages back to back: a reader in
                         * byte read mode would get them merged */
                        r = put(in->idx, in->h, hi, sizeof hi - 1);
                        for (int k = 0; k < 20 && r >= 0; k++) {
                                char m[8];
                                int n = snprintf(m, sizeof m, "m%02d", k);
                                r = put(in->idx, in->h, m, (size_t)n);
                        }
                        if (r >= 0)
                                put(in->idx, in->h, bye, sizeof bye - 1);
                        if (sopts.dir == NPIPE_OUTBOUND) {
                                /* an outbound server end cannot read, so
                                 * nothing tells this thread that the client
                                 * left; and a disconnect would drop what it
                                 * has not read.  Keep the instance as it is:
                                 * one client per process in this mode. */
                                logf_(in->idx, "greeted; parked");
                                for (;;)
                                        pause();
                        }
                }
                serve_client(in);

                if (mode == MODE_CLOSE_AFTER_ONE) {
                        npipe_t *fresh = NULL;

                        r = npipe_close(in->h);
                        logf_(in->idx, "closed: %s", npipe_err_name(r));
                        in->h = NULL;
                        r = npipe_create(pipe_path, &sopts, &fresh);
                        if (r < 0) {
                                logf_(in->idx, "create again: %s", npipe_err_name(r));
                                return NULL;
                        }
                        in->h = fresh;
                        continue;
                }
                /* as on Windows, DisconnectNamedPipe drops what the
                 * client has not read yet: a server that wants its last
                 * reply delivered flushes first (DISC-01) */
                if (mode == MODE_DISCONNECT_AFTER_ONE)
                        npipe_flush(in->h);
                r = npipe_disconnect(in->h);
                logf_(in->idx, "disconnected: %s", npipe_err_name(r));
        }
        return NULL;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > max)
                return false;
        *out = v;
        return true;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"name", required_argument, NULL, 'n'},
            {"byte", no_argument, NULL, 'b'},
            {"instances", required_argument, NULL, 'k'},
            {"policy", required_argument, NULL, 'p'},
            {"gid", required_argument, NULL, 'g'},
            {"reject-remote", no_argument, NULL, 'R'},
            {"allow-anonymous", no_argument, NULL, 'A'},
            {"mode", required_argument, NULL, 'm'},
            {"ready-fd", required_argument, NULL, 'r'},
            {"dir", required_argument, NULL, 'd'},
            {"quota", required_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        enum npipe_dir pipe_dir = NPIPE_DUPLEX;
        uint32_t quota = 128u * 1024u;
        unsigned long instances = 1, v;
        int ready_fd = -1, opt;
        struct instance *inst;

        npipe_server_opts_init(&sopts);
        while ((opt = getopt_long(argc, argv, "n:bk:p:g:RAm:r:d:q:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'n':
                        pipe_name = optarg;
                        break;
                case 'b':
                        byte_pipe = true;
                        break;
                case 'k':
                        if (!parse_uint(optarg, NPIPE_MAX_INSTANCES_LIMIT, &instances) ||
                            instances == 0) {
                                fprintf(stderr, "remote_server: --instances: 1..%u\n",
                                        NPIPE_MAX_INSTANCES_LIMIT);
                                return 2;
                        }
                        break;
                case 'p':
                        if (!strcmp(optarg, "owner"))
                                sopts.policy = NPIPE_ACCESS_OWNER;
                        else if (!strcmp(optarg, "group"))
                                sopts.policy = NPIPE_ACCESS_GROUP;
                        else if (!strcmp(optarg, "everyone"))
                                sopts.policy = NPIPE_ACCESS_EVERYONE;
                        else {
                                fprintf(stderr, "remote_server: --policy: owner, group or "
                                                "everyone\n");
                                return 2;
                        }
                        break;
                case 'g':
                        if (!parse_uint(optarg, (gid_t)-2, &v)) {
                                fprintf(stderr, "remote_server: --gid: a number\n");
                                return 2;
                        }
                        sopts.gid = (gid_t)v;
                        break;
                case 'R':
                        sopts.flags |= NPIPE_REJECT_REMOTE;
                        break;
                case 'A':
                        sopts.flags |= NPIPE_ALLOW_ANONYMOUS;
                        break;
                case 'm':
                        if (!strcmp(optarg, "echo"))
                                mode = MODE_ECHO;
                        else if (!strcmp(optarg, "whoami"))
                                mode = MODE_WHOAMI;
                        else if (!strcmp(optarg, "big"))
                                mode = MODE_BIG;
                        else if (!strcmp(optarg, "close-after-one"))
                                mode = MODE_CLOSE_AFTER_ONE;
                        else if (!strcmp(optarg, "disconnect-after-one"))
                                mode = MODE_DISCONNECT_AFTER_ONE;
                        else if (!strcmp(optarg, "burst"))
                                mode = MODE_BURST;
                        else if (!strcmp(optarg, "greet"))
                                mode = MODE_GREET;
                        else {
                                fprintf(stderr, "remote_server: unknown --mode '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'r':
                        if (!parse_uint(optarg, 1u << 20, &v)) {
                                fprintf(stderr, "remote_server: --ready-fd: a number\n");
                                return 2;
                        }
                        ready_fd = (int)v;
                        break;
                case 'q':
                        if (!parse_uint(optarg, 1u << 30, &v) || v == 0) {
                                fprintf(stderr, "remote_server: --quota: bytes, 1 or more\n");
                                return 2;
                        }
                        quota = (uint32_t)v;
                        break;
                case 'd':
                        if (!strcmp(optarg, "inbound"))
                                pipe_dir = NPIPE_INBOUND;
                        else if (!strcmp(optarg, "outbound"))
                                pipe_dir = NPIPE_OUTBOUND;
                        else if (!strcmp(optarg, "duplex"))
                                pipe_dir = NPIPE_DUPLEX;
                        else {
                                fprintf(stderr, "remote_server: --dir: inbound, outbound or "
                                                "duplex\n");
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout, argv[0]);
                        return 0;
                default:
                        usage(stderr, argv[0]);
                        return 2;
                }
        }
        if (!pipe_name || optind != argc) {
                usage(stderr, argv[0]);
                return 2;
        }
        /* a bare NAME becomes \\.\pipe\NAME; a full path is taken as it is */
        if ((size_t)snprintf(pipe_path, sizeof pipe_path, "%s%s",
                             (pipe_name[0] == '\\' || pipe_name[0] == '/') ? "" : "\\\\.\\pipe\\",
                             pipe_name) >= sizeof pipe_path) {
                fprintf(stderr, "remote_server: --name: too long\n");
                return 2;
        }
        sopts.type = byte_pipe ? NPIPE_TYPE_BYTE : NPIPE_TYPE_MESSAGE;
        if (!byte_pipe)
                sopts.flags |= NPIPE_READMODE_MESSAGE;
        sopts.dir = pipe_dir;
        sopts.max_instances = (uint32_t)instances;
        /* by default room for a whole 65535-byte message (and the 65536-byte
         * attempt); --quota makes both smaller or larger */
        sopts.in_quota = quota;
        sopts.out_quota = quota;

        inst = calloc(instances, sizeof *inst);
        if (!inst)
                return 1;
        for (unsigned long i = 0; i < instances; i++) {
                int r = npipe_create(pipe_path, &sopts, &inst[i].h);

                if (r < 0) {
                        fprintf(stderr, "remote_server: npipe_create(%s) #%lu: %s (%s)\n",
                                pipe_name, i, npipe_err_name(r), npipe_strerror(r));
                        return 1;
                }
                inst[i].idx = (unsigned)i;
        }
        logf_(0, "%lu instance(s) created (%s pipe, runtime dir %s)", instances,
              byte_pipe ? "byte" : "message", npipe_runtime_dir());
        for (unsigned long i = 0; i < instances; i++) {
                int e = pthread_create(&inst[i].thread, NULL, instance_main, &inst[i]);

                if (e) {
                        fprintf(stderr, "remote_server: pthread_create: %s\n", strerror(e));
                        return 1;
                }
        }
        if (ready_fd >= 0) {
                if (write(ready_fd, "1", 1) != 1)
                        fprintf(stderr, "remote_server: write to the ready fd: %s\n",
                                strerror(errno));
                close(ready_fd);
        }
        for (unsigned long i = 0; i < instances; i++)
                pthread_join(inst[i].thread, NULL);
        return 0;
}
