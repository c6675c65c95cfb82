/*
 * test_broker_limits.c - the broker's limits do not depend on the program
 * that happened to start it (issue 17).
 *
 * Every listening instance holds a descriptor in npiped (its server
 * segment, handed to the client that connects), so npiped takes all the
 * descriptors its hard RLIMIT_NOFILE allows, whatever soft limit the
 * process that started it had; when the hard limit itself is too low the
 * server is told which limit it reached (NPIPE_ELIMIT, and the detail word
 * NP_LIMIT_FDS | NP_LIMIT_BROKER of proto.h) and npiped's log names the
 * limit, its value and how to raise it.  Started by socket activation
 * (npiped.socket), npiped serves the socket it is given.
 *
 * Each test is a process of its own (Check's fork) with its own runtime
 * directory, so the limits set here reach only the broker that the test
 * starts: the library starts it with the test's limits, exactly as a
 * first server of a user starts it.
 */
#include "harness.h"
#include "client/client.h"
#include "core/ring_layout.h"
#include "os/os.h"
#include "proto/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* What the broker the library starts logs, and where. */
static char g_log[256];

static void log_to_file(void)
{
        snprintf(g_log, sizeof(g_log), "%s/broker.log", h_runtime_dir());
        setenv("NPIPE_BROKER_LOG", g_log, 1);
        setenv("NPIPE_BROKER_LOG_LEVEL", "info", 1);
}

/* Does the broker's log hold a line containing `what`? */
static int log_has(const char *what)
{
        char line[2048];
        int found = 0;
        FILE *f = fopen(g_log, "re");

        if (f == NULL)
                return 0;
        while (!found && fgets(line, sizeof(line), f) != NULL)
                found = strstr(line, what) != NULL;
        fclose(f);
        return found;
}

static void socket_path(struct sockaddr_un *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", h_runtime_dir(), NP_BROKER_SOCKET);
}

/* ---- the raw protocol: what the library does not show (yet) ---------------- */

static uint32_t g_req = 100;

/* Send a request; its req_id. */
static uint32_t raw_send(int s, uint16_t type, const void *body, size_t blen, const char *name,
                         size_t nlen, int fd)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        struct np_hdr h = {.type = type,
                           .version = NP_PROTO_VERSION,
                           .len = (uint32_t)(sizeof(h) + blen + nlen),
                           .req_id = ++g_req};

        memcpy(buf, &h, sizeof(h));
        if (blen)
                memcpy(buf + sizeof(h), body, blen);
        if (nlen)
                memcpy(buf + sizeof(h) + blen, name, nlen);
        ck_assert_int_eq(np_send_packet(s, buf, h.len, fd), 0);
        return h.req_id;
}

/* The reply to req_id (events skipped): its type, body in `body`. */
static uint16_t raw_reply(int s, uint32_t req_id, void *body, size_t cap)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        struct pollfd p = {.fd = s, .events = POLLIN};
        struct np_hdr h;

        for (;;) {
                int fd = -1;
                ssize_t n;

                ck_assert_int_eq(poll(&p, 1, H_TIMEOUT_MS), 1);
                n = np_recv_packet(s, buf, sizeof(buf), &fd, 0);
                if (fd >= 0)
                        close(fd);
                ck_assert_int_gt(n, 0);
                ck_assert_int_eq(np_proto_check(buf, (size_t)n, NULL, NULL), 0);
                memcpy(&h, buf, sizeof(h));
                if (h.req_id != req_id)
                        continue;
                memcpy(body, buf + sizeof(h), (size_t)n - sizeof(h) < cap ? (size_t)n - sizeof(h)
                                                                           : cap);
                return h.type;
        }
}

/* Connect and say hello: the socket, with the HELLO_REPLY in *rep. */
static int raw_hello(struct np_hello_reply *rep)
{
        struct np_hello hello = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct sockaddr_un sa;
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(s, 0);
        socket_path(&sa);
        ck_assert_int_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_uint_eq(raw_reply(s, raw_send(s, NP_MSG_HELLO, &hello, sizeof(hello), NULL, 0, -1),
                                    rep, sizeof(*rep)),
                          NP_MSG_HELLO_REPLY);
        return s;
}

/* A session of our own with the broker: the socket; *pid its pid. */
static int raw_session(pid_t *pid)
{
        struct np_hello_reply rep;
        int s = raw_hello(&rep);

        ck_assert_status(rep.status, NPIPE_OK);
        ck_assert_uint_eq(rep.detail, 0);
        if (pid != NULL)
                *pid = (pid_t)rep.broker_pid;
        return s;
}

/* A segment as the broker accepts one: a sealed memfd (it never maps it). */
static int segment(void)
{
        int fd = memfd_create("npipe-seg", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, NP_SEG_HDR_SIZE + 65536), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS,
                               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
                         0);
        return fd;
}

/* CREATE one more instance of `name` (the library's form, without its
 * \\.\pipe\ prefix) on our own session: the reply's status and detail. */
static int raw_create(int s, const char *name, uint32_t *detail)
{
        struct np_create req;
        union {
                struct np_reply r;
                struct np_create_reply cr;
        } rep;
        const char *bare = strrchr(name, '\\') + 1;
        int seg = segment();
        uint16_t type;

        memset(&req, 0, sizeof(req));
        req.params.type = NPIPE_TYPE_MESSAGE;
        req.params.dir = NPIPE_DUPLEX;
        req.params.in_quota = req.params.out_quota = 4096;
        req.name_len = (uint32_t)strlen(bare);
        type = raw_reply(s, raw_send(s, NP_MSG_CREATE, &req, sizeof(req), bare, strlen(bare), seg),
                         &rep, sizeof(rep));
        close(seg);
        *detail = type == NP_MSG_REPLY ? rep.r.detail : 0;
        return type == NP_MSG_REPLY ? rep.r.status : rep.cr.status;
}

/* ---- limits inherited from the starter -------------------------------------- */

static int open_one(int chan, void *arg)
{
        npipe_t *c = NULL;
        (void)chan;
        int r = npipe_open(arg, NPIPE_READ | NPIPE_WRITE, 0, &c);
        if (r != NPIPE_OK)
                fprintf(stderr, "open in a new process: %s\n", npipe_err_name(r));
        return r == NPIPE_OK ? 0 : 1;
}

/* A first server whose soft limit is 1,024 (the hard one higher: a shell's
 * default) starts npiped, which still takes what the hard limit allows:
 * 10,000 listening instances, and clients in other processes still get
 * in. */
START_TEST(test_soft_limit_is_raised)
{
        struct rlimit rl;
        unsigned want = 10000;

        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 16384) {
                /* root may raise it; anybody else gets what fits (the
                 * broker keeps 1,024 in reserve and 1/8 of the rest for
                 * processes and opens) */
                struct rlimit up = {.rlim_cur = rl.rlim_cur, .rlim_max = 16384};
                if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                        rl = up;
                else
                        want = rl.rlim_max > 2048 ? (unsigned)((rl.rlim_max - 1024) / 8 * 7) - 64
                                                  : 0;
        }
        if (want <= 1024) {
                fprintf(stderr, "hard RLIMIT_NOFILE %llu: too low for this test, skipped\n",
                        (unsigned long long)rl.rlim_max);
                return;
        }
        rl.rlim_cur = 1024;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        log_to_file();

        H_NAME(name, "soft");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.in_quota = o.out_quota = 4096;
        npipe_t **srv = calloc(want, sizeof(*srv));
        ck_assert_ptr_nonnull(srv);
        for (unsigned i = 0; i < want; i++) {
                int r = npipe_create(name, &o, &srv[i]);
                ck_assert_msg(r == NPIPE_OK, "instance %u of %u: %s", i, want, npipe_err_name(r));
        }
        /* the broker said what it took, and from what */
        ck_assert_msg(log_has("1024 as inherited"), "no descriptor line in %s", g_log);

        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        struct h_child ch;
        h_spawn(&ch, open_one, name);
        H_ASSERT_CHILD_OK(&ch);
        ck_assert_ok(npipe_close(c));
        for (unsigned i = 0; i < want; i++)
                ck_assert_ok(npipe_close(srv[i]));
        free(srv);
}
END_TEST

/* The hard limit itself is 1,024 (`ulimit -n 1024` in the shell of the
 * first server): the server gets as many instances as fit and then
 * NPIPE_ELIMIT with the detail "the broker's descriptors", npiped's log
 * says which limit, its value and how to raise it, and clients, in this
 * process and in new ones, can still connect to the instances there are. */
START_TEST(test_hard_limit_is_named)
{
        struct rlimit rl = {.rlim_cur = 1024, .rlim_max = 1024};

        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        log_to_file();

        H_NAME(name, "hard");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.in_quota = o.out_quota = 4096;
        npipe_t *srv[1024];
        int n = 0, r = NPIPE_OK;
        while (n < 1024 && (r = npipe_create(name, &o, &srv[n])) == NPIPE_OK)
                n++;
        ck_assert_status(r, NPIPE_ELIMIT);
        ck_assert_msg(n > 100, "only %d instances", n);
        /* ... and the library keeps it in words, with the remedy */
        char why[512];
        ck_assert_uint_gt(np_broker_limit_why(why, sizeof why), 0);
        ck_assert_msg(strstr(why, "file descriptors") && strstr(why, "LimitNOFILE="), "%s", why);

        /* the reply says which limit */
        pid_t broker = 0;
        int s = raw_session(&broker);
        uint32_t detail = 0;
        ck_assert_status(raw_create(s, name, &detail), NPIPE_ELIMIT);
        ck_assert_uint_eq(detail, NP_LIMIT_FDS | NP_LIMIT_BROKER);
        close(s);

        /* the log names it, with its value and the remedy, and at start
         * said who passed it on */
        ck_assert_msg(log_has("descriptor limit 1024 (RLIMIT_NOFILE, hard 1024) reached"),
                      "no limit line in %s", g_log);
        ck_assert(log_has("LimitNOFILE="));
        ck_assert(log_has("ulimit -Hn"));
        char who[64];
        snprintf(who, sizeof(who), "inherited from pid %ld", (long)getpid());
        ck_assert_msg(log_has(who), "the start-up line does not name pid %ld", (long)getpid());

        /* there is room left for the clients of the instances there are */
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        struct h_child ch;
        h_spawn(&ch, open_one, name);
        H_ASSERT_CHILD_OK(&ch);
        ck_assert_ok(npipe_close(c));

        /* until processes take that room too: then a new one hears why
         * in its HELLO_REPLY, and gets in again once some have gone */
        int sess[256], k;
        struct np_hello_reply rep = {0};
        for (k = 0; k < 256; k++) {
                sess[k] = raw_hello(&rep);
                if (rep.status != NPIPE_OK)
                        break;
        }
        ck_assert_msg(k < 256, "256 more processes got in");
        ck_assert_status(rep.status, NPIPE_ELIMIT);
        ck_assert_uint_eq(rep.detail, NP_LIMIT_FDS | NP_LIMIT_BROKER);
        ck_assert_int_eq(rep.broker_pid, broker);
        for (int j = 0; j <= k; j++)
                close(sess[j]);
        for (int tries = 0;; tries++) {
                s = raw_hello(&rep);
                close(s);
                if (rep.status == NPIPE_OK)
                        break;
                ck_assert_msg(tries < H_TIMEOUT_MS, "no room after the processes left");
                h_pause();
        }

        for (int i = 0; i < n; i++)
                ck_assert_ok(npipe_close(srv[i]));
}
END_TEST

/* ---- socket activation ------------------------------------------------------------ */

/* A listening socket at the runtime directory's socket path, as
 * npiped.socket makes one (ListenSequentialPacket=), or of `type`. */
static int service_socket(int type)
{
        struct sockaddr_un sa;
        int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(s, 0);
        socket_path(&sa);
        ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(s, 16), 0);
        return s;
}

struct exec_args {
        int sock;       /* passed as descriptor 3, or -1 */
        int err;        /* stderr goes here */
        const char *arg; /* one more argument, or NULL */
};

/* Be the service manager's child: the socket as descriptor 3, LISTEN_PID
 * and LISTEN_FDS, then npiped with `npiped --foreground` as its whole
 * command line (the runtime directory is NPIPE_RUNTIME_DIR, as for any
 * npipe program of the test). */
static int exec_broker(int chan, void *arg)
{
        const struct exec_args *a = arg;
        const char *path = getenv("NPIPE_BROKER");
        char pid[32];
        (void)chan;

        if (path == NULL)
                return 100;
        if (a->err >= 0)
                dup2(a->err, STDERR_FILENO);
        if (a->sock >= 0) {
                if (dup2(a->sock, 3) != 3)
                        return 101;
                fcntl(3, F_SETFD, 0);
                snprintf(pid, sizeof(pid), "%ld", (long)getpid());
                setenv("LISTEN_PID", pid, 1);
                setenv("LISTEN_FDS", "1", 1);
        }
        execl(path, path, "--foreground", a->arg, (char *)NULL);
        return 127;
}

/* What a child wrote into pipe `fd` (up to cap - 1 bytes, NUL-ended). */
static void read_all(int fd, char *buf, size_t cap)
{
        size_t n = 0;
        ssize_t r;

        while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
                n += (size_t)r;
        buf[n] = '\0';
}

/* Started by socket activation, npiped serves the socket it was given:
 * the library of a server and of a client reach it there (and start no
 * broker of their own), and it leaves the socket, which is the service
 * manager's, in place when it exits. */
START_TEST(test_socket_activation)
{
        int s = service_socket(SOCK_SEQPACKET);
        struct exec_args a = {.sock = s, .err = -1};
        struct h_child broker;

        h_spawn(&broker, exec_broker, &a);
        /* the service manager keeps its copy, as systemd does */

        H_NAME(name, "activated");
        npipe_t *srv = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_WRITE_STR(c, "through npiped.socket");
        H_READ_STR(srv, 64, NPIPE_OK, "through npiped.socket");

        /* the broker that serves us is the activated one */
        pid_t pid = 0;
        close(raw_session(&pid));
        ck_assert_int_eq(pid, broker.pid);

        ck_assert_ok(npipe_close(c));
        ck_assert_ok(npipe_close(srv));
        ck_assert_int_eq(kill(broker.pid, SIGTERM), 0);
        ck_assert_int_eq(h_reap(&broker, H_TIMEOUT_MS), 0);
        struct stat st;
        struct sockaddr_un sa;
        socket_path(&sa);
        ck_assert_msg(lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode),
                      "the service manager's socket was removed");
        close(s);
}
END_TEST

/* What is passed must be the broker socket: a stream socket, or one bound
 * elsewhere, is refused with a line that says what is wrong. */
START_TEST(test_activation_refuses)
{
        static const struct {
                int type;
                const char *elsewhere;
                const char *says;
        } cases[] = {
            {SOCK_STREAM, NULL, "not a SOCK_SEQPACKET socket"},
            {SOCK_SEQPACKET, "other.sock", "where npipe programs look for the broker"},
        };

        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                int s = socket(AF_UNIX, cases[k].type | SOCK_CLOEXEC, 0), err[2];
                struct sockaddr_un sa;
                struct h_child broker;
                char out[4096];

                ck_assert_int_ge(s, 0);
                socket_path(&sa);
                if (cases[k].elsewhere != NULL)
                        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", h_runtime_dir(),
                                 cases[k].elsewhere);
                unlink(sa.sun_path);
                ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
                ck_assert_int_eq(listen(s, 4), 0);
                ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
                struct exec_args a = {.sock = s, .err = err[1]};
                h_spawn(&broker, exec_broker, &a);
                close(err[1]);
                ck_assert_int_eq(h_reap(&broker, H_TIMEOUT_MS), 1);
                read_all(err[0], out, sizeof(out));
                close(err[0]);
                ck_assert_msg(strstr(out, cases[k].says) != NULL, "case %zu said: %s", k, out);
                close(s);
                unlink(sa.sun_path);
        }
}
END_TEST

/* A broker started the usual way (by a library, or by hand) while the
 * service manager holds the socket leaves it alone: it exits 0 at once,
 * and the socket still leads to the service manager. */
START_TEST(test_starter_leaves_activation_socket)
{
        int s = service_socket(SOCK_SEQPACKET), err[2];
        struct exec_args a = {.sock = -1, .arg = "--idle-exit=0"};
        struct h_child starter;
        char out[4096];

        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        a.err = err[1];
        h_spawn(&starter, exec_broker, &a);
        close(err[1]);
        ck_assert_int_eq(h_reap(&starter, H_TIMEOUT_MS), 0);
        read_all(err[0], out, sizeof(out));
        close(err[0]);
        ck_assert_msg(strstr(out, "served by socket activation") != NULL, "it said: %s", out);

        /* still ours: a connection lands in its backlog */
        struct sockaddr_un sa;
        socket_path(&sa);
        int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
        int got = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(got, 0);
        close(got);
        close(c);
        close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("broker limits");
        TCase *tc = h_tcase("limits", 120);
        tcase_add_test(tc, test_soft_limit_is_raised);
        tcase_add_test(tc, test_hard_limit_is_named);
        suite_add_tcase(s, tc);
        tc = h_tcase("activation", 60);
        tcase_add_test(tc, test_socket_activation);
        tcase_add_test(tc, test_activation_refuses);
        tcase_add_test(tc, test_starter_leaves_activation_socket);
        suite_add_tcase(s, tc);
        return h_run(s);
}
