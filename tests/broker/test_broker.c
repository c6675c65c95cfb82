/*
 * test_broker.c - npiped over its raw protocol (proto.h), no library.
 *
 * Each test runs in its own process (Check fork mode) with a private
 * broker: a fresh mkdtemp() runtime directory, npiped (from $NPIPE_BROKER)
 * fork+exec'd with --foreground --runtime-dir --ready-fd, readiness read
 * from that descriptor.  The tests then speak the protocol byte for byte,
 * with memfds standing in for segments (the broker never maps them).
 * Nothing sleeps to synchronise: every wait is a poll() on a socket, a
 * pipe or a pidfd, with a deadline.
 *
 * Every test names the spec items (spec/semantics.md) it covers.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/limits.h"
#include "npipe/npipe.h"
#include "os/os.h"
#include "proto/proto.h"

#define TIMEOUT_MS 5000

/* ---- the private broker ---------------------------------------------------- */

static char g_dir[64];
static pid_t g_broker = -1;
static uint32_t g_req = 100;

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *broker_path(void)
{
        const char *p = getenv("NPIPE_BROKER");

        ck_assert_msg(p != NULL && p[0] != '\0', "NPIPE_BROKER is not set");
        return p;
}

static void make_dir(char *buf, size_t len)
{
        snprintf(buf, len, "/tmp/npiped-test-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* Remove a test runtime directory and the few files a broker leaves. */
static void remove_dir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[512];

        if (d == NULL)
                return;
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
        }
        closedir(d);
        rmdir(dir);
}

struct spawn {
        const char *extra[4]; /* more arguments, NULL-terminated */
        bool foreground;      /* pass --foreground (default in spawn_simple) */
        bool no_ready_fd;
        int listen_fd;      /* >= 0: pass as fd 3 with LISTEN_PID/LISTEN_FDS */
        const char *notify; /* NOTIFY_SOCKET */
};

/* fork+exec npiped; returns its pid and, unless no_ready_fd, the readiness
 * pipe's read end in *ready. */
static pid_t spawn_broker(const char *dir, const struct spawn *sp, int *ready)
{
        int p[2];
        pid_t pid;

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char rd[64], fdarg[32];
                const char *argv[12];
                int n = 0, wfd;

                /* The broker must not outlive a failed test. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                wfd = fcntl(p[1], F_DUPFD, 10);
                if (sp->listen_fd >= 0) {
                        char pidstr[32];

                        if (dup2(sp->listen_fd, 3) < 0)
                                _exit(126);
                        fcntl(3, F_SETFD, 0);
                        snprintf(pidstr, sizeof pidstr, "%ld", (long)getpid());
                        setenv("LISTEN_PID", pidstr, 1);
                        setenv("LISTEN_FDS", "1", 1);
                }
                if (sp->notify != NULL)
                        setenv("NOTIFY_SOCKET", sp->notify, 1);
                else
                        unsetenv("NOTIFY_SOCKET");
                unsetenv("JOURNAL_STREAM");
                snprintf(rd, sizeof rd, "--runtime-dir=%s", dir);
                snprintf(fdarg, sizeof fdarg, "--ready-fd=%d", wfd);
                argv[n++] = "npiped";
                if (sp->foreground)
                        argv[n++] = "--foreground";
                argv[n++] = rd;
                if (!sp->no_ready_fd) {
                        fcntl(wfd, F_SETFD, 0);
                        argv[n++] = fdarg;
                }
                for (int i = 0; i < 4 && sp->extra[i] != NULL; i++)
                        argv[n++] = sp->extra[i];
                argv[n] = NULL;
                execv(broker_path(), (char *const *)argv);
                _exit(127);
        }
        close(p[1]);
        if (ready != NULL)
                *ready = p[0];
        else
                close(p[0]);
        return pid;
}

/* Wait for the readiness byte: '1', or 0 when the descriptor closed. */
static char read_ready(int fd)
{
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char ch = 0;

        ck_assert_msg(poll(&pfd, 1, TIMEOUT_MS) == 1, "broker did not get ready");
        if (read(fd, &ch, 1) != 1)
                ch = 0;
        close(fd);
        return ch;
}

static pid_t start_broker(const char *dir)
{
        struct spawn sp = {.foreground = true, .listen_fd = -1};
        int ready;
        pid_t pid = spawn_broker(dir, &sp, &ready);

        ck_assert_int_eq(read_ready(ready), '1');
        return pid;
}

/* waitpid with a deadline, through a pidfd. */
static int wait_exit(pid_t pid, int timeout_ms)
{
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0), status = -1;
        struct pollfd p = {.fd = pfd, .events = POLLIN};

        ck_assert_int_ge(pfd, 0);
        ck_assert_msg(poll(&p, 1, timeout_ms) == 1, "process %ld did not exit", (long)pid);
        close(pfd);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return status;
}

static void stop_broker(pid_t pid)
{
        int st;

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        st = wait_exit(pid, TIMEOUT_MS);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker exit status %#x", st);
}

static bool sock_exists(const char *dir)
{
        char path[128];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", dir, NP_BROKER_SOCKET);
        return lstat(path, &st) == 0;
}

static void setup(void)
{
        make_dir(g_dir, sizeof g_dir);
        g_broker = start_broker(g_dir);
}

static void teardown(void)
{
        if (g_broker > 0) {
                stop_broker(g_broker);
                /* SIGTERM is a clean exit: the socket is removed. */
                ck_assert(!sock_exists(g_dir));
        }
        remove_dir(g_dir);
}

static int count_fds(pid_t pid)
{
        char path[64];
        DIR *d;
        struct dirent *e;
        int n = 0;

        snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* ---- raw protocol helpers ---------------------------------------------------- */

static int connect_dir(const char *dir)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(s, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, NP_BROKER_SOCKET);
        ck_assert_msg(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
                      strerror(errno));
        return s;
}

static void put_hdr(unsigned char *buf, uint16_t type, uint32_t len, uint32_t req_id)
{
        struct np_hdr h = {.type = type, .version = NP_PROTO_VERSION, .len = len, .req_id = req_id};

        memcpy(buf, &h, sizeof h);
}

/* Send type + body + tail (a name) with an optional fd; returns the req_id. */
static uint32_t send_msg(int s, uint16_t type, const void *body, size_t blen, const void *tail,
                         size_t tlen, int fd)
{
        unsigned char buf[NP_PROTO_MAX_PACKET + 256];
        uint32_t req = g_req++;
        size_t len = sizeof(struct np_hdr) + blen + tlen;

        put_hdr(buf, type, (uint32_t)len, req);
        if (blen)
                memcpy(buf + sizeof(struct np_hdr), body, blen);
        if (tlen)
                memcpy(buf + sizeof(struct np_hdr) + blen, tail, tlen);
        ck_assert_int_eq(np_send_packet(s, buf, len, fd), 0);
        return req;
}

static int send_bytes(int s, const void *buf, size_t len, int fd)
{
        return np_send_packet(s, buf, len, fd);
}

struct pkt {
        struct np_hdr h;
        unsigned char body[NP_PROTO_MAX_PACKET];
        size_t blen;
        int fd;
        const char *name;
        uint32_t name_len;
        unsigned char raw[NP_PROTO_MAX_PACKET];
};

/* 1: a packet; 0: end of stream; -ETIMEDOUT: nothing within timeout_ms. */
static int recv_pkt(int s, struct pkt *p, int timeout_ms)
{
        struct pollfd pfd = {.fd = s, .events = POLLIN};
        ssize_t n;

        p->fd = -1;
        if (poll(&pfd, 1, timeout_ms) == 0)
                return -ETIMEDOUT;
        n = np_recv_packet(s, p->raw, sizeof p->raw, &p->fd, 0);
        if (n == 0 || n == -ECONNRESET)
                return 0;
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(np_proto_check(p->raw, (size_t)n, &p->name, &p->name_len), 0);
        memcpy(&p->h, p->raw, sizeof p->h);
        p->blen = (size_t)n - sizeof p->h;
        memcpy(p->body, p->raw + sizeof p->h, p->blen);
        return 1;
}

static void recv_ok(int s, struct pkt *p)
{
        ck_assert_int_eq(recv_pkt(s, p, TIMEOUT_MS), 1);
}

static void expect_nothing(int s, int ms)
{
        struct pkt p;

        ck_assert_int_eq(recv_pkt(s, &p, ms), -ETIMEDOUT);
}

static void expect_eof(int s)
{
        struct pkt p;

        ck_assert_int_eq(recv_pkt(s, &p, TIMEOUT_MS), 0);
}

/* A reply of any kind starts with its int32 status. */
static int32_t pkt_status(const struct pkt *p)
{
        int32_t st;

        memcpy(&st, p->body, sizeof st);
        return st;
}

static void expect_reply(int s, uint32_t req, int status)
{
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_REPLY);
        ck_assert_uint_eq(p.h.req_id, req);
        ck_assert_int_eq(pkt_status(&p), status);
        ck_assert_int_eq(p.fd, -1);
}

static void hello(int s)
{
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct np_hello_reply r;
        struct pkt p;
        uint32_t req = send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_HELLO_REPLY);
        ck_assert_uint_eq(p.h.req_id, req);
        memcpy(&r, p.body, sizeof r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(r.version, NP_PROTO_VERSION);
}

static int client(void)
{
        int s = connect_dir(g_dir);

        hello(s);
        return s;
}

static int seg(void)
{
        int fd = memfd_create("seg", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        /* a client's segment must hold twice the inbound quota (the broker
         * checks); sparse, so the size costs nothing */
        ck_assert_int_eq(ftruncate(fd, 4096 + (1 << 20)), 0);
        /* the seals the library applies: the broker takes nothing else
         * as a segment (issue 15) */
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS,
                               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
                         0);
        return fd;
}

static ino_t inode_of(int fd)
{
        struct stat st;

        ck_assert_int_eq(fstat(fd, &st), 0);
        return st.st_ino;
}

static struct np_pipe_params defparams(void)
{
        struct np_pipe_params p = {
            .type = NPIPE_TYPE_MESSAGE,
            .dir = NPIPE_DUPLEX,
            .max_instances = 0,
            .in_quota = 4096,
            .out_quota = 4096,
            .default_timeout_ms = 0,
            .policy = NPIPE_ACCESS_OWNER,
        };
        return p;
}

static uint32_t send_create_fd(int s, const char *name, const struct np_pipe_params *pp,
                               uint32_t flags, int fd)
{
        struct np_create c = {.params = *pp, .flags = flags, .name_len = (uint32_t)strlen(name)};
        uint32_t req = send_msg(s, NP_MSG_CREATE, &c, sizeof c, name, strlen(name), fd);

        close(fd);
        return req;
}

/* Create an instance; returns the reply status, *id and *rep when given. */
static int create_x(int s, const char *name, const struct np_pipe_params *pp, uint32_t flags,
                    uint64_t *id, struct np_create_reply *rep)
{
        uint32_t req = send_create_fd(s, name, pp, flags, seg());
        struct np_create_reply r;
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.req_id, req);
        ck_assert_int_eq(p.fd, -1);
        if (p.h.type == NP_MSG_REPLY)
                return pkt_status(&p);
        ck_assert_uint_eq(p.h.type, NP_MSG_CREATE_REPLY);
        memcpy(&r, p.body, sizeof r);
        if (id != NULL)
                *id = r.instance_id;
        if (rep != NULL)
                *rep = r;
        return r.status;
}

static uint64_t create_ok(int s, const char *name, const struct np_pipe_params *pp)
{
        uint64_t id = 0;

        ck_assert_int_eq(create_x(s, name, pp, 0, &id, NULL), 0);
        ck_assert_uint_ne(id, 0);
        return id;
}

/* Open the client end; returns the status; on success *rep and the
 * server segment in *sfd (closed when sfd is NULL). */
static int open_x(int s, const char *name, uint32_t access, struct np_open_reply *rep, int *sfd)
{
        struct np_open o = {.access = access, .name_len = (uint32_t)strlen(name)};
        int fd = seg();
        uint32_t req = send_msg(s, NP_MSG_OPEN, &o, sizeof o, name, strlen(name), fd);
        struct np_open_reply r;
        struct pkt p;

        close(fd);
        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.req_id, req);
        if (p.h.type == NP_MSG_REPLY) {
                ck_assert_int_eq(p.fd, -1);
                return pkt_status(&p);
        }
        ck_assert_uint_eq(p.h.type, NP_MSG_OPEN_REPLY);
        ck_assert_int_ge(p.fd, 0);
        memcpy(&r, p.body, sizeof r);
        if (rep != NULL)
                *rep = r;
        if (sfd != NULL)
                *sfd = p.fd;
        else
                close(p.fd);
        return r.status;
}

static uint64_t open_ok(int s, const char *name, uint32_t access)
{
        struct np_open_reply r;

        ck_assert_int_eq(open_x(s, name, access, &r, NULL), 0);
        return r.conn_id;
}

/* The EV_CONNECTED a server receives; returns its instance id. */
static uint64_t expect_connected(int s, struct np_ev_connected *out)
{
        struct np_ev_connected ev;
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_EV_CONNECTED);
        ck_assert_uint_eq(p.h.req_id, 0);
        ck_assert_int_ge(p.fd, 0);
        close(p.fd);
        memcpy(&ev, p.body, sizeof ev);
        if (out != NULL)
                *out = ev;
        return ev.instance_id;
}

static void expect_gone(int s, uint64_t inst, uint64_t conn, uint32_t reason, uint32_t to_server)
{
        struct np_ev_peer_gone ev;
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_EV_PEER_GONE);
        ck_assert_uint_eq(p.h.req_id, 0);
        memcpy(&ev, p.body, sizeof ev);
        ck_assert_uint_eq(ev.instance_id, inst);
        ck_assert_uint_eq(ev.conn_id, conn);
        ck_assert_uint_eq(ev.reason, reason);
        ck_assert_uint_eq(ev.to_server, to_server);
}

/* A request whose body starts with an id (np_instance_req, np_end_req
 * without traffic counts). */
static uint32_t send_id(int s, uint16_t type, uint64_t id)
{
        unsigned char body[64];
        int n = np_proto_body_size(type);

        ck_assert(n >= (int)sizeof id && n <= (int)sizeof body);
        memset(body, 0, sizeof body);
        memcpy(body, &id, sizeof id);
        return send_msg(s, type, body, (size_t)n, NULL, 0, -1);
}

static void id_req(int s, uint16_t type, uint64_t id, int status)
{
        expect_reply(s, send_id(s, type, id), status);
}

static void listen_req(int s, uint64_t id, int status)
{
        int fd = seg();
        uint32_t req = send_msg(s, NP_MSG_LISTEN, &id, sizeof id, NULL, 0, fd);

        close(fd);
        expect_reply(s, req, status);
}

static struct np_query_reply query(int s, uint64_t id)
{
        struct np_query_reply q;
        uint32_t req = send_id(s, NP_MSG_QUERY, id);
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.req_id, req);
        ck_assert_uint_eq(p.h.type, NP_MSG_QUERY_REPLY);
        memcpy(&q, p.body, sizeof q);
        ck_assert_int_eq(q.status, 0);
        return q;
}

static uint32_t send_wait(int s, const char *name, uint32_t timeout_ms)
{
        struct np_wait w = {.timeout_ms = timeout_ms, .name_len = (uint32_t)strlen(name)};

        return send_msg(s, NP_MSG_WAIT, &w, sizeof w, name, strlen(name), -1);
}

/* ---- handshake --------------------------------------------------------------- */

/* covers: (protocol) HELLO */
START_TEST(test_hello)
{
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct np_hello_reply r;
        struct pkt p;
        int s = connect_dir(g_dir);
        uint32_t req = send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_HELLO_REPLY);
        ck_assert_uint_eq(p.h.req_id, req);
        ck_assert_uint_eq(p.h.version, NP_PROTO_VERSION);
        memcpy(&r, p.body, sizeof r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(r.version, NP_PROTO_VERSION);
        ck_assert_uint_eq(r.broker_pid, (uint32_t)g_broker);
        /* A second HELLO is out of place. */
        expect_reply(s, send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1), NPIPE_EPROTO);
        close(s);
}
END_TEST

/* covers: (protocol) versioning */
START_TEST(test_hello_mismatch)
{
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION + 1};
        unsigned char buf[32];
        struct np_hello_reply r;
        struct pkt p;
        int s;

        /* A future client: header version 2.  It still hears our version. */
        s = connect_dir(g_dir);
        put_hdr(buf, NP_MSG_HELLO, sizeof buf, 7);
        buf[2] = NP_PROTO_VERSION + 1;
        memcpy(buf + 16, &h, sizeof h);
        ck_assert_int_eq(send_bytes(s, buf, sizeof buf, -1), 0);
        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_HELLO_REPLY);
        ck_assert_uint_eq(p.h.req_id, 7);
        memcpy(&r, p.body, sizeof r);
        ck_assert_int_eq(r.status, NPIPE_EPROTO);
        ck_assert_uint_eq(r.version, NP_PROTO_VERSION);
        expect_eof(s);
        close(s);

        /* Body version mismatch. */
        s = connect_dir(g_dir);
        send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
        recv_ok(s, &p);
        ck_assert_int_eq(pkt_status(&p), NPIPE_EPROTO);
        expect_eof(s);
        close(s);

        /* Bad magic. */
        s = connect_dir(g_dir);
        h.version = NP_PROTO_VERSION;
        h.magic = 0x12345678;
        send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_HELLO_REPLY);
        ck_assert_int_eq(pkt_status(&p), NPIPE_EPROTO);
        expect_eof(s);
        close(s);

        /* A request before HELLO. */
        s = connect_dir(g_dir);
        expect_reply(s, send_msg(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1), NPIPE_EPROTO);
        expect_eof(s);
        close(s);

        /* The broker is fine. */
        s = client();
        close(s);
}
END_TEST

/* ---- malformed packets ------------------------------------------------------- */

static void expect_list_works(int s)
{
        struct pkt p;
        uint32_t req = send_msg(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1);

        do {
                recv_ok(s, &p);
                if (p.fd >= 0)
                        close(p.fd);
                if (p.h.req_id == 0)
                        continue; /* an event */
                ck_assert_uint_eq(p.h.req_id, req);
                ck_assert_uint_eq(p.h.type, NP_MSG_LIST_ITEM);
        } while (p.h.req_id == 0 || !(p.body[0] & NP_LIST_LAST));
}

/* Wait (by round trips, never by sleeping) until the broker holds `want`
 * descriptors: closes of other sockets may still be in its queue. */
static void expect_fds(int s, int want)
{
        int64_t end = now_ms() + TIMEOUT_MS;
        int n;

        while ((n = count_fds(g_broker)) != want && now_ms() < end)
                expect_list_works(s);
        ck_assert_int_eq(n, want);
}

/* covers: (protocol) np_proto_check, descriptor rules, NAME-12 */
START_TEST(test_malformed)
{
        struct np_pipe_params pp = defparams();
        unsigned char buf[NP_PROTO_MAX_PACKET + 256];
        struct np_create c = {.params = pp};
        char name[NP_NAME_MAX + 16];
        int s = client(), fd, base, fds[2];
        uint32_t req;

        base = count_fds(g_broker);

        /* Shorter than a header: nothing to answer, nothing breaks. */
        memset(buf, 0, sizeof buf);
        ck_assert_int_eq(send_bytes(s, buf, 8, -1), 0);
        expect_nothing(s, 100);
        expect_list_works(s);

        /* Header length disagrees with the packet. */
        put_hdr(buf, NP_MSG_LIST, 17, 501);
        ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
        expect_reply(s, 501, NPIPE_EPROTO);

        /* Reserved header field set. */
        put_hdr(buf, NP_MSG_LIST, 16, 502);
        buf[12] = 1;
        ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
        expect_reply(s, 502, NPIPE_EPROTO);

        /* Wrong header version after the handshake. */
        put_hdr(buf, NP_MSG_LIST, 16, 503);
        buf[2] = 9;
        ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
        expect_reply(s, 503, NPIPE_EPROTO);

        /* Unknown type, and a broker-to-client type. */
        put_hdr(buf, 200, 16, 504);
        ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
        expect_reply(s, 504, NPIPE_EPROTO);
        expect_reply(s, send_msg(s, NP_MSG_REPLY, buf, 8, NULL, 0, -1), NPIPE_EPROTO);

        /* Truncated body. */
        expect_reply(s, send_msg(s, NP_MSG_QUERY, buf, 4, NULL, 0, -1), NPIPE_EPROTO);

        /* Larger than NP_PROTO_MAX_PACKET: still answered by req_id. */
        put_hdr(buf, NP_MSG_LIST, NP_PROTO_MAX_PACKET + 100, 505);
        ck_assert_int_eq(send_bytes(s, buf, NP_PROTO_MAX_PACKET + 100, -1), 0);
        expect_reply(s, 505, NPIPE_EPROTO);

        /* Name and descriptor errors on a second connection, so that the
         * first stays under NP_LIM_PROTO_ERRORS. */
        expect_list_works(s);
        close(s);
        s = client();

        /* Oversize name (fits the packet, longer than NP_NAME_MAX). */
        memset(name, 'a', sizeof name);
        c.name_len = NP_NAME_MAX + 1;
        fd = seg();
        req = send_msg(s, NP_MSG_CREATE, &c, sizeof c, name, NP_NAME_MAX + 1, fd);
        close(fd);
        expect_reply(s, req, NPIPE_ENAMETOOLONG);
        /* NAME-12 counts UTF-16 units, in the broker too (issue 15: one
         * rule, np_name_check): one more than NP_NAME_MAX_CHARS is too
         * long, exactly that many of the longest BMP character (3 bytes
         * each) is fine. */
        name[NP_NAME_MAX_CHARS + 1] = '\0';
        ck_assert_int_eq(create_x(s, name, &pp, 0, NULL, NULL), NPIPE_ENAMETOOLONG);
        for (unsigned k = 0; k < NP_NAME_MAX_CHARS; k++)
                memcpy(name + 3 * k, "\xEF\xBF\xBD", 3); /* U+FFFD */
        name[3 * NP_NAME_MAX_CHARS] = '\0';
        ck_assert_int_eq(create_x(s, name, &pp, 0, NULL, NULL), 0);

        /* name_len not matching the bytes that follow. */
        c.name_len = 10;
        fd = seg();
        req = send_msg(s, NP_MSG_CREATE, &c, sizeof c, "short", 5, fd);
        close(fd);
        expect_reply(s, req, NPIPE_EPROTO);

        /* Empty name, NUL inside a name. */
        c.name_len = 0;
        fd = seg();
        req = send_msg(s, NP_MSG_CREATE, &c, sizeof c, NULL, 0, fd);
        close(fd);
        expect_reply(s, req, NPIPE_EBADNAME);
        c.name_len = 5;
        fd = seg();
        req = send_msg(s, NP_MSG_CREATE, &c, sizeof c, "ab\0cd", 5, fd);
        close(fd);
        expect_reply(s, req, NPIPE_EBADNAME);

        /* Descriptor rules: CREATE needs one, LIST takes none. */
        c.name_len = 3;
        expect_reply(s, send_msg(s, NP_MSG_CREATE, &c, sizeof c, "abc", 3, -1), NPIPE_EPROTO);
        fd = seg();
        expect_reply(s, send_msg(s, NP_MSG_LIST, NULL, 0, NULL, 0, fd), NPIPE_EPROTO);
        close(fd);
        /* Two descriptors: the extra one is closed on arrival (os.h), the
         * packet counts with the first. */
        {
                int two[2] = {seg(), seg()};
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof two)];
                } ctl;
                struct iovec iov;
                struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
                struct cmsghdr *cm;
                struct pkt p;

                c.name_len = 3;
                req = g_req++;
                put_hdr(buf, NP_MSG_CREATE, 16 + sizeof c + 3, req);
                memcpy(buf + 16, &c, sizeof c);
                memcpy(buf + 16 + sizeof c, "two", 3);
                iov.iov_base = buf;
                iov.iov_len = 16 + sizeof c + 3;
                memset(&ctl, 0, sizeof ctl);
                msg.msg_control = ctl.buf;
                msg.msg_controllen = sizeof ctl.buf;
                cm = CMSG_FIRSTHDR(&msg);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof two);
                memcpy(CMSG_DATA(cm), two, sizeof two);
                ck_assert_int_eq(sendmsg(s, &msg, MSG_NOSIGNAL), (ssize_t)iov.iov_len);
                close(two[0]);
                close(two[1]);
                recv_ok(s, &p);
                ck_assert_uint_eq(p.h.req_id, req);
                ck_assert_uint_eq(p.h.type, NP_MSG_CREATE_REPLY);
        }
        /* A segment that is not a memfd. */
        ck_assert_int_eq(pipe(fds), 0);
        expect_reply(s, send_msg(s, NP_MSG_CREATE, &c, sizeof c, "abc", 3, fds[0]), NPIPE_EINVAL);
        close(fds[0]);
        close(fds[1]);

        /* Bad field values. */
        c.params.dir = 4;
        fd = seg();
        expect_reply(s, send_msg(s, NP_MSG_CREATE, &c, sizeof c, "abc", 3, fd), NPIPE_EINVAL);
        close(fd);
        c.params = pp;
        c.params.max_instances = 255;
        fd = seg();
        expect_reply(s, send_msg(s, NP_MSG_CREATE, &c, sizeof c, "abc", 3, fd), NPIPE_EINVAL);
        close(fd);

        /* Request id 0 is not a request: no answer. */
        put_hdr(buf, NP_MSG_LIST, 16, 0);
        ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
        expect_nothing(s, 100);

        /* Still serving, and no descriptor leaked: only the two listening
         * instances (the longest name, "two") hold a segment.  What
         * the broker refused may still be with its reaper thread a moment
         * (src/broker/reap.c). */
        expect_fds(s, base + 2);
        close(s);
}
END_TEST

/* covers: (protocol) NP_LIM_PROTO_ERRORS */
START_TEST(test_proto_error_limit)
{
        int s = client(), other = client();
        unsigned char buf[16];
        struct pkt p;

        /* Sixteen errors are answered and tolerated... */
        for (uint32_t i = 1; i <= 16; i++) {
                put_hdr(buf, 222, 16, 1000 + i);
                ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
                expect_reply(s, 1000 + i, NPIPE_EPROTO);
        }
        expect_list_works(s);
        /* ...the seventeenth is answered, then the broker hangs up. */
        put_hdr(buf, 222, 16, 2000);
        ck_assert_int_eq(send_bytes(s, buf, 16, -1), 0);
        expect_reply(s, 2000, NPIPE_EPROTO);
        ck_assert_int_eq(recv_pkt(s, &p, TIMEOUT_MS), 0);
        close(s);
        expect_list_works(other);
        close(other);
}
END_TEST

/* ---- create / open / list ---------------------------------------------------- */

/* covers: NAME-02 CREATE-10 STATE-01 STATE-02 OPEN-01 OPEN-07 INST-10 */
START_TEST(test_create_open_list)
{
        struct np_pipe_params pp = defparams();
        struct np_create_reply cr;
        struct np_open_reply orp;
        struct np_ev_connected ev;
        struct np_list_item it;
        struct np_query_reply q;
        struct pkt p;
        int srv = client(), cli = client(), sfd_sent, cfd_sent, sfd;
        ino_t s_ino, c_ino;
        uint64_t id;
        uint32_t req;

        pp.in_quota = 1000;
        pp.out_quota = 2000;
        pp.default_timeout_ms = 123;
        sfd_sent = seg();
        s_ino = inode_of(sfd_sent);
        req = send_create_fd(srv, "Foo\\Bar", &pp, 0, sfd_sent);
        recv_ok(srv, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_CREATE_REPLY);
        ck_assert_uint_eq(p.h.req_id, req);
        memcpy(&cr, p.body, sizeof cr);
        ck_assert_int_eq(cr.status, 0);
        id = cr.instance_id;
        ck_assert_uint_eq(cr.params.in_quota, 1000);
        ck_assert_uint_eq(cr.params.out_quota, 2000);
        ck_assert_uint_eq(cr.params.default_timeout_ms, 123);
        ck_assert_uint_eq(cr.params.type, NPIPE_TYPE_MESSAGE);

        q = query(srv, id);
        ck_assert_uint_eq(q.state, NPIPE_STATE_LISTENING);
        ck_assert_uint_eq(q.cur_instances, 1);
        ck_assert_uint_eq(q.client_pid, 0);

        /* Opened under another case: the same pipe. */
        {
                struct np_open o = {.access = NP_ACCESS_READ | NP_ACCESS_WRITE, .name_len = 7};

                cfd_sent = seg();
                c_ino = inode_of(cfd_sent);
                req = send_msg(cli, NP_MSG_OPEN, &o, sizeof o, "fOO\\bAR", 7, cfd_sent);
                close(cfd_sent);
        }
        recv_ok(srv, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_EV_CONNECTED);
        ck_assert_uint_eq(p.h.req_id, 0);
        ck_assert_int_ge(p.fd, 0);
        ck_assert_uint_eq(inode_of(p.fd), c_ino); /* the client's segment */
        close(p.fd);
        memcpy(&ev, p.body, sizeof ev);
        ck_assert_uint_eq(ev.instance_id, id);
        ck_assert_uint_eq(ev.client_pid, (uint32_t)getpid());
        ck_assert_uint_eq(ev.client_uid, (uint32_t)getuid());
        ck_assert_uint_eq(ev.access, NP_ACCESS_READ | NP_ACCESS_WRITE);

        recv_ok(cli, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_OPEN_REPLY);
        ck_assert_uint_eq(p.h.req_id, req);
        ck_assert_int_ge(p.fd, 0);
        sfd = p.fd;
        ck_assert_uint_eq(inode_of(sfd), s_ino); /* the server's segment */
        close(sfd);
        memcpy(&orp, p.body, sizeof orp);
        ck_assert_int_eq(orp.status, 0);
        ck_assert_uint_eq(orp.instance_id, id);
        ck_assert_uint_eq(orp.conn_id, ev.conn_id);
        ck_assert_uint_ne(orp.conn_id, id);
        ck_assert_uint_eq(orp.server_pid, (uint32_t)getpid());
        ck_assert_uint_eq(orp.params.in_quota, 1000);
        ck_assert_uint_eq(orp.params.dir, NPIPE_DUPLEX);

        q = query(srv, id);
        ck_assert_uint_eq(q.state, NPIPE_STATE_CONNECTED);
        ck_assert_uint_eq(q.client_pid, (uint32_t)getpid());
        q = query(cli, orp.conn_id);
        ck_assert_uint_eq(q.state, NPIPE_STATE_CONNECTED);
        ck_assert_uint_eq(q.cur_instances, 1);
        /* Ids of others are not ours to ask about. */
        id_req(cli, NP_MSG_QUERY, id, NPIPE_EBADF);
        id_req(srv, NP_MSG_QUERY, orp.conn_id, NPIPE_EBADF);
        id_req(srv, NP_MSG_QUERY, 999999, NPIPE_EBADF);
        id_req(cli, NP_MSG_DISCONNECT, id, NPIPE_EBADF);
        id_req(cli, NP_MSG_CLOSE_SERVER, id, NPIPE_EBADF);
        id_req(srv, NP_MSG_CLOSE_CLIENT, orp.conn_id, NPIPE_EBADF);

        /* LIST: the first creator's spelling and the counts. */
        req = send_msg(cli, NP_MSG_LIST, NULL, 0, NULL, 0, -1);
        recv_ok(cli, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_LIST_ITEM);
        ck_assert_uint_eq(p.h.req_id, req);
        memcpy(&it, p.body, sizeof it);
        ck_assert_uint_eq(it.flags, NP_LIST_LAST);
        ck_assert_uint_eq(it.cur_instances, 1);
        ck_assert_uint_eq(it.listening, 0);
        ck_assert_uint_eq(it.connected, 1);
        ck_assert_uint_eq(it.owner_uid, (uint32_t)getuid());
        ck_assert_uint_eq(it.server_pid, (uint32_t)getpid());
        ck_assert_uint_eq(it.params.default_timeout_ms, 123);
        ck_assert_uint_eq(p.name_len, 7);
        ck_assert(memcmp(p.name, "Foo\\Bar", 7) == 0);
        close(cli);
        close(srv);
}
END_TEST

/* covers: NAME-16 (listing) */
START_TEST(test_list)
{
        struct np_pipe_params pp = defparams();
        struct np_list_item it;
        struct pkt p;
        int s = client();
        uint32_t req;
        int seen = 0;

        req = send_msg(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1);
        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.req_id, req);
        memcpy(&it, p.body, sizeof it);
        ck_assert_uint_eq(it.flags, NP_LIST_LAST | NP_LIST_EMPTY);
        ck_assert_uint_eq(it.name_len, 0);
        ck_assert_uint_eq(p.blen, sizeof it);

        create_ok(s, "one", &pp);
        create_ok(s, "two", &pp);
        create_ok(s, "two", &pp);
        create_ok(s, "three", &pp);
        req = send_msg(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1);
        do {
                recv_ok(s, &p);
                ck_assert_uint_eq(p.h.req_id, req);
                memcpy(&it, p.body, sizeof it);
                seen++;
                if (p.name_len == 3 && memcmp(p.name, "two", 3) == 0) {
                        ck_assert_uint_eq(it.cur_instances, 2);
                        ck_assert_uint_eq(it.listening, 2);
                }
                ck_assert(!(it.flags & NP_LIST_EMPTY));
        } while (!(it.flags & NP_LIST_LAST));
        ck_assert_int_eq(seen, 3);
        close(s);
}
END_TEST

/* ---- instances --------------------------------------------------------------- */

/* covers: INST-01 INST-02 INST-03 INST-04 INST-05 INST-06 */
START_TEST(test_instances)
{
        struct np_pipe_params pp = defparams(), other;
        struct np_create_reply r;
        int s = client();
        uint64_t a, b;

        pp.max_instances = 2;
        pp.default_timeout_ms = 77;
        a = create_ok(s, "inst", &pp);
        /* INST-06: the name exists. */
        ck_assert_int_eq(create_x(s, "INST", &pp, NP_CREATE_FIRST_INSTANCE, NULL, NULL),
                         NPIPE_EACCES);
        /* INST-03: another direction. */
        other = pp;
        other.dir = NPIPE_INBOUND;
        ck_assert_int_eq(create_x(s, "inst", &other, 0, NULL, NULL), NPIPE_EACCES);
        /* INST-04: other type, limit, quotas and timeout are fine; the
         * pipe-wide values stay the first instance's. */
        other = pp;
        other.type = NPIPE_TYPE_BYTE;
        other.max_instances = 5;
        other.in_quota = 10;
        other.default_timeout_ms = 9;
        ck_assert_int_eq(create_x(s, "inst", &other, 0, &b, &r), 0);
        ck_assert_uint_eq(r.params.type, NPIPE_TYPE_MESSAGE);
        ck_assert_uint_eq(r.params.max_instances, 2);
        ck_assert_uint_eq(r.params.default_timeout_ms, 77);
        ck_assert_uint_eq(r.params.in_quota, 10);
        ck_assert_uint_ne(a, b);
        /* INST-02: the first instance's limit (2), not the second's (5). */
        ck_assert_int_eq(create_x(s, "inst", &other, 0, NULL, NULL), NPIPE_EBUSY);
        ck_assert_uint_eq(query(s, a).cur_instances, 2);
        /* INST-05: a closed instance no longer counts. */
        id_req(s, NP_MSG_CLOSE_SERVER, a, 0);
        ck_assert_uint_eq(query(s, b).cur_instances, 1);
        ck_assert_int_eq(create_x(s, "inst", &pp, 0, NULL, NULL), 0);
        /* ids are never reused */
        id_req(s, NP_MSG_QUERY, a, NPIPE_EBADF);
        close(s);
}
END_TEST

/* covers: OPEN-02 OPEN-03 OPEN-04 NAME-05 */
START_TEST(test_open_access)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client();
        struct np_open_reply r;

        ck_assert_int_eq(open_x(cli, "nothere", NP_ACCESS_READ, NULL, NULL), NPIPE_ENOENT);

        pp.dir = NPIPE_INBOUND; /* client writes, server reads */
        create_ok(srv, "in", &pp);
        ck_assert_int_eq(open_x(cli, "in", NP_ACCESS_READ, NULL, NULL), NPIPE_EACCES);
        ck_assert_int_eq(open_x(cli, "in", NP_ACCESS_READ | NP_ACCESS_WRITE, NULL, NULL),
                         NPIPE_EACCES);
        /* OPEN-03: the refusals consumed nothing. */
        ck_assert_int_eq(open_x(cli, "in", NP_ACCESS_WRITE, &r, NULL), 0);
        expect_connected(srv, NULL);
        /* OPEN-02: the only instance is taken. */
        ck_assert_int_eq(open_x(cli, "in", NP_ACCESS_WRITE, NULL, NULL), NPIPE_EBUSY);

        pp.dir = NPIPE_OUTBOUND;
        create_ok(srv, "out", &pp);
        ck_assert_int_eq(open_x(cli, "out", NP_ACCESS_WRITE, NULL, NULL), NPIPE_EACCES);
        ck_assert_int_eq(open_x(cli, "out", NP_ACCESS_READ, NULL, NULL), 0);
        expect_connected(srv, NULL);

        /* OPEN-04: access 0 still connects. */
        pp.dir = NPIPE_DUPLEX;
        create_ok(srv, "dup", &pp);
        ck_assert_int_eq(open_x(cli, "dup", 0, NULL, NULL), 0);
        expect_connected(srv, NULL);
        /* unknown access bits */
        ck_assert_int_eq(open_x(cli, "dup", 0x10, NULL, NULL), NPIPE_EINVAL);
        close(cli);
        close(srv);
}
END_TEST

/* covers: SEC-14 (only the broker's own relay may open for a remote user) */
START_TEST(test_open_remote_refused)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client();
        struct np_open_remote o;
        static const char ids[] = "root\0X\0" "1.2.3.4\0" "5.6.7.8";
        uint32_t req;
        int fd = seg();

        create_ok(srv, "rem", &pp);
        memset(&o, 0, sizeof o);
        o.open.name_len = 3;
        o.id.strings_len = sizeof ids;
        memcpy(o.id.strings, ids, sizeof ids);
        /* a well-formed request from an ordinary process: refused, and
         * the instance is still there for a real client */
        req = send_msg(cli, NP_MSG_OPEN_REMOTE, &o, sizeof o, "rem", 3, fd);
        close(fd);
        expect_reply(cli, req, NPIPE_EPROTO);
        ck_assert_int_eq(open_x(cli, "rem", NP_ACCESS_READ | NP_ACCESS_WRITE, NULL, NULL), 0);
        expect_connected(srv, NULL);
        close(cli);
        close(srv);
}
END_TEST

/* covers: INST-09 OPEN-02 CONNECT-02 DISC-08 */
START_TEST(test_fifo_order)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client();
        uint64_t s[4], c[3];

        for (int i = 0; i < 4; i++)
                s[i] = create_ok(srv, "fifo", &pp);
        /* A listen on an instance already listening keeps its place. */
        listen_req(srv, s[2], 0);
        for (int i = 0; i < 3; i++) {
                c[i] = open_ok(cli, "fifo", NP_ACCESS_READ);
                ck_assert_uint_eq(expect_connected(srv, NULL), s[i]);
        }
        listen_req(srv, s[0], NPIPE_EISCONN);
        /* Disconnect S0 and S2, listen S2 then S0. */
        id_req(srv, NP_MSG_DISCONNECT, s[0], 0);
        expect_gone(cli, s[0], c[0], NP_GONE_DISCONNECTED, 0);
        id_req(srv, NP_MSG_DISCONNECT, s[2], 0);
        expect_gone(cli, s[2], c[2], NP_GONE_DISCONNECTED, 0);
        listen_req(srv, s[2], 0);
        listen_req(srv, s[0], 0);
        ck_assert_uint_eq(query(srv, s[0]).state, NPIPE_STATE_LISTENING);
        open_ok(cli, "fifo", NP_ACCESS_READ);
        ck_assert_uint_eq(expect_connected(srv, NULL), s[3]);
        open_ok(cli, "fifo", NP_ACCESS_READ);
        ck_assert_uint_eq(expect_connected(srv, NULL), s[2]);
        open_ok(cli, "fifo", NP_ACCESS_READ);
        ck_assert_uint_eq(expect_connected(srv, NULL), s[0]);
        ck_assert_int_eq(open_x(cli, "fifo", NP_ACCESS_READ, NULL, NULL), NPIPE_EBUSY);

        /* DISC-08: disconnecting a listening instance takes it out of the
         * queue (and a later listen appends it). */
        {
                uint64_t a = create_ok(srv, "fifo2", &pp), b = create_ok(srv, "fifo2", &pp);

                id_req(srv, NP_MSG_DISCONNECT, a, 0);
                ck_assert_uint_eq(query(srv, a).state, NPIPE_STATE_DISCONNECTED);
                open_ok(cli, "fifo2", NP_ACCESS_READ);
                ck_assert_uint_eq(expect_connected(srv, NULL), b);
                ck_assert_int_eq(open_x(cli, "fifo2", NP_ACCESS_READ, NULL, NULL), NPIPE_EBUSY);
                listen_req(srv, a, 0);
                open_ok(cli, "fifo2", NP_ACCESS_READ);
                ck_assert_uint_eq(expect_connected(srv, NULL), a);
        }
        close(cli);
        close(srv);
}
END_TEST

/* ---- disconnect and close ----------------------------------------------------- */

/* covers: DISC-01 DISC-03 DISC-04 DISC-05 DISC-06 DISC-10 STATE-04 STATE-05 CONNECT-06 CLOSE-12 */
START_TEST(test_disconnect)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client();
        struct np_query_reply q;
        uint64_t s, c;

        s = create_ok(srv, "disc", &pp);
        c = open_ok(cli, "disc", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        id_req(srv, NP_MSG_DISCONNECT, s, 0);
        expect_gone(cli, s, c, NP_GONE_DISCONNECTED, 0);
        id_req(srv, NP_MSG_DISCONNECT, s, NPIPE_ENOTCONN); /* DISC-03 */
        q = query(srv, s);
        ck_assert_uint_eq(q.state, NPIPE_STATE_DISCONNECTED);
        ck_assert_uint_eq(q.client_pid, 0); /* DISC-10 */
        q = query(cli, c);
        ck_assert_uint_eq(q.state, NPIPE_STATE_DISCONNECTED); /* DISC-04 */
        ck_assert_uint_eq(q.cur_instances, 1);
        ck_assert_int_eq(open_x(cli, "disc", NP_ACCESS_READ, NULL, NULL),
                         NPIPE_EBUSY); /* DISC-06 */
        /* The disconnected client's close is just acknowledged. */
        id_req(cli, NP_MSG_CLOSE_CLIENT, c, 0);
        expect_nothing(srv, 100);
        id_req(cli, NP_MSG_QUERY, c, NPIPE_EBADF);

        /* STATE-05: listening again. */
        listen_req(srv, s, 0);
        c = open_ok(cli, "disc", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        /* The client closes: CLOSING, the server hears it. */
        id_req(cli, NP_MSG_CLOSE_CLIENT, c, 0);
        expect_gone(srv, s, c, NP_GONE_CLOSED, 1);
        ck_assert_uint_eq(query(srv, s).state, NPIPE_STATE_CLOSING);
        listen_req(srv, s, NPIPE_ECLOSING); /* CONNECT-06 */
        ck_assert_int_eq(open_x(cli, "disc", NP_ACCESS_READ, NULL, NULL),
                         NPIPE_EBUSY);        /* CLOSE-12 */
        id_req(srv, NP_MSG_DISCONNECT, s, 0); /* DISC-05 */
        ck_assert_uint_eq(query(srv, s).state, NPIPE_STATE_DISCONNECTED);
        listen_req(srv, s, 0);
        open_ok(cli, "disc", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        close(cli);
        close(srv);
}
END_TEST

/* A request with NP_HDR_NO_REPLY (the library's posted requests). */
static uint32_t send_quiet(int s, uint16_t type, const void *body, size_t blen, int fd)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        uint32_t req = g_req++;
        size_t len = sizeof(struct np_hdr) + blen;
        struct np_hdr h = {.type = type, .version = NP_PROTO_VERSION, .len = (uint32_t)len,
                           .req_id = req, .flags = NP_HDR_NO_REPLY};

        memcpy(buf, &h, sizeof h);
        memcpy(buf + sizeof h, body, blen);
        ck_assert_int_eq(np_send_packet(s, buf, len, fd), 0);
        return req;
}

/* covers: (protocol) NP_HDR_NO_REPLY: a success is not answered, a
 * failure is, and only status-only requests may carry the flag */
START_TEST(test_no_reply)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client();
        unsigned char end[64] = {0};
        uint64_t s, c;
        int fd;

        s = create_ok(srv, "quiet", &pp);
        c = open_ok(cli, "quiet", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        memcpy(end, &s, sizeof s);
        send_quiet(srv, NP_MSG_DISCONNECT, end, (size_t)np_proto_body_size(NP_MSG_DISCONNECT),
                   -1);
        expect_gone(cli, s, c, NP_GONE_DISCONNECTED, 0);
        /* the broker took it: the instance is disconnected, and the query's
         * reply is the next packet, so none came for the disconnect */
        ck_assert_uint_eq(query(srv, s).state, NPIPE_STATE_DISCONNECTED);
        /* a failure is still answered */
        expect_reply(srv,
                     send_quiet(srv, NP_MSG_DISCONNECT, end,
                                (size_t)np_proto_body_size(NP_MSG_DISCONNECT), -1),
                     NPIPE_ENOTCONN);
        fd = seg();
        send_quiet(srv, NP_MSG_LISTEN, &s, sizeof s, fd);
        close(fd);
        ck_assert_uint_eq(query(srv, s).state, NPIPE_STATE_LISTENING);
        memcpy(end, &c, sizeof c);
        send_quiet(cli, NP_MSG_CLOSE_CLIENT, end,
                   (size_t)np_proto_body_size(NP_MSG_CLOSE_CLIENT), -1);
        expect_reply(cli, send_id(cli, NP_MSG_QUERY, c), NPIPE_EBADF);
        c = open_ok(cli, "quiet", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        /* the flag on a request with a real answer is a protocol error */
        expect_reply(srv, send_quiet(srv, NP_MSG_QUERY, &s, sizeof s, -1), NPIPE_EPROTO);
        close(cli);
        close(srv);
}
END_TEST

/* covers: STATE-03 STATE-08 NAME-17 CLOSE-13 */
START_TEST(test_close_server)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client();
        struct np_query_reply q;
        struct np_create_reply r;
        uint64_t s, s2, c;

        s = create_ok(srv, "cl", &pp);
        c = open_ok(cli, "cl", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        id_req(srv, NP_MSG_CLOSE_SERVER, s, 0);
        expect_gone(cli, s, c, NP_GONE_CLOSED, 0);
        q = query(cli, c);
        ck_assert_uint_eq(q.state, NPIPE_STATE_CLOSING);
        ck_assert_uint_eq(q.cur_instances, 0);
        ck_assert_uint_eq(q.params.in_quota, 4096);
        /* NAME-17: the name is gone although a client still holds it... */
        ck_assert_int_eq(open_x(cli, "cl", NP_ACCESS_READ, NULL, NULL), NPIPE_ENOENT);
        /* ...and may be created anew with new parameters. */
        pp.dir = NPIPE_INBOUND;
        pp.type = NPIPE_TYPE_BYTE;
        ck_assert_int_eq(create_x(srv, "cl", &pp, NP_CREATE_FIRST_INSTANCE, &s2, &r), 0);
        ck_assert_uint_eq(r.params.dir, NPIPE_INBOUND);
        /* the old conn still belongs to the old (dead) pipe */
        ck_assert_uint_eq(query(cli, c).cur_instances, 0);
        id_req(cli, NP_MSG_CLOSE_CLIENT, c, 0);
        expect_nothing(srv, 100);

        /* CLOSE-13: closing a listening instance removes the name. */
        id_req(srv, NP_MSG_CLOSE_SERVER, s2, 0);
        ck_assert_int_eq(open_x(cli, "cl", NP_ACCESS_WRITE, NULL, NULL), NPIPE_ENOENT);
        id_req(srv, NP_MSG_CLOSE_SERVER, s2, NPIPE_EBADF);
        close(cli);
        close(srv);
}
END_TEST

/* ---- waits ----------------------------------------------------------------- */

/* covers: WAIT-01 WAIT-02 WAIT-03 WAIT-04 WAIT-05 WAIT-06 WAIT-07 WAIT-10 WAIT-11 */
START_TEST(test_wait)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client(), w1 = client(), w2 = client();
        uint32_t r1, r2, r3;
        uint64_t s, s2, c;
        int64_t t0;

        expect_reply(w1, send_wait(w1, "wp", 5000), NPIPE_ENOENT); /* WAIT-01 */
        s = create_ok(srv, "wp", &pp);
        expect_reply(w1, send_wait(w1, "WP", 5000), 0); /* WAIT-02, WAIT-11 */
        c = open_ok(cli, "wp", NP_ACCESS_READ);
        expect_connected(srv, NULL);

        /* WAIT-03: busy: times out. */
        t0 = now_ms();
        expect_reply(w1, send_wait(w1, "wp", 100), NPIPE_ETIMEDOUT);
        ck_assert_int_ge(now_ms() - t0, 99);
        /* WAIT-07: default with a pipe default of 0 is 50 ms. */
        t0 = now_ms();
        expect_reply(w1, send_wait(w1, "wp", NP_WAIT_DEFAULT), NPIPE_ETIMEDOUT);
        ck_assert_int_ge(now_ms() - t0, 49);
        ck_assert_int_lt(now_ms() - t0, 2000);

        /* WAIT-04/05: both waiters released by a new instance. */
        r1 = send_wait(w1, "wp", NP_WAIT_FOREVER);
        r2 = send_wait(w2, "wp", 10000);
        expect_nothing(w1, 100);
        /* WAIT-06: the client closing does not release them. */
        id_req(cli, NP_MSG_CLOSE_CLIENT, c, 0);
        expect_gone(srv, s, c, NP_GONE_CLOSED, 1);
        expect_nothing(w1, 50);
        expect_nothing(w2, 0);
        s2 = create_ok(srv, "wp", &pp);
        expect_reply(w1, r1, 0);
        expect_reply(w2, r2, 0);

        /* Release by LISTEN after a disconnect. */
        open_ok(cli, "wp", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        r1 = send_wait(w1, "wp", NP_WAIT_FOREVER);
        expect_nothing(w1, 50);
        id_req(srv, NP_MSG_DISCONNECT, s, 0);
        expect_nothing(w1, 50);
        listen_req(srv, s, 0);
        expect_reply(w1, r1, 0);

        /* WAIT-10: cancel, by req_id, only one's own waits. */
        open_ok(cli, "wp", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        r1 = send_wait(w1, "wp", NP_WAIT_FOREVER);
        r2 = send_wait(w2, "wp", NP_WAIT_FOREVER);
        {
                struct np_cancel cn = {.target_req_id = r1};

                r3 = send_msg(w2, NP_MSG_CANCEL, &cn, sizeof cn, NULL, 0, -1);
                expect_reply(w2, r3, NPIPE_ENOTFOUND);
                r3 = send_msg(w1, NP_MSG_CANCEL, &cn, sizeof cn, NULL, 0, -1);
                expect_reply(w1, r1, NPIPE_ECANCELED);
                expect_reply(w1, r3, 0);
                r3 = send_msg(w1, NP_MSG_CANCEL, &cn, sizeof cn, NULL, 0, -1);
                expect_reply(w1, r3, NPIPE_ENOTFOUND);
        }

        /* The name disappearing answers waiters NPIPE_ENOENT. */
        id_req(srv, NP_MSG_CLOSE_SERVER, s, 0);
        expect_nothing(w2, 50);
        id_req(srv, NP_MSG_CLOSE_SERVER, s2, 0);
        expect_reply(w2, r2, NPIPE_ENOENT);
        close(w1);
        close(w2);
        close(cli);
        close(srv);
}
END_TEST

/* covers: (limits) NP_LIM_WAITS_PER_CLIENT */
START_TEST(test_wait_limit)
{
        struct np_pipe_params pp = defparams();
        int srv = client(), cli = client(), w = client(), w2 = client();
        uint32_t last = 0;

        create_ok(srv, "busy", &pp);
        open_ok(cli, "busy", NP_ACCESS_READ);
        expect_connected(srv, NULL);
        for (int i = 0; i <= 1024; i++)
                last = send_wait(w, "busy", NP_WAIT_FOREVER);
        expect_reply(w, last, NPIPE_ELIMIT);
        /* the limit is per process */
        expect_reply(w2, send_wait(w2, "busy", 10), NPIPE_ETIMEDOUT);
        close(w);
        close(w2);
        close(cli);
        close(srv);
}
END_TEST

/* ---- process death ----------------------------------------------------------- */

/* covers: CLOSE-09 STATE-03 STATE-08 NAME-17 (process exit) */
START_TEST(test_death)
{
        struct np_pipe_params pp = defparams();
        struct np_ev_connected ev;
        int srv = client(), go[2], done[2], st;
        uint64_t s;
        pid_t pid;
        char ch;

        /* A client process exits while connected. */
        s = create_ok(srv, "death", &pp);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int c = client();

                open_ok(c, "death", NP_ACCESS_READ);
                _exit(0); /* no CLOSE_CLIENT: the broker sees the socket go */
        }
        expect_connected(srv, &ev);
        ck_assert_uint_eq(ev.client_pid, (uint32_t)pid);
        expect_gone(srv, s, ev.conn_id, NP_GONE_DIED, 1);
        st = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ck_assert_uint_eq(query(srv, s).state, NPIPE_STATE_CLOSING);

        /* A server process exits while a client is connected. */
        ck_assert_int_eq(pipe(go), 0);
        ck_assert_int_eq(pipe(done), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int c = client();

                create_ok(c, "sdeath", &pp);
                /* also leaves a pending wait behind */
                send_wait(c, "death", NP_WAIT_FOREVER);
                if (write(done[1], "x", 1) != 1 || read(go[0], &ch, 1) != 1)
                        _exit(1);
                _exit(0);
        }
        ck_assert_int_eq(read(done[0], &ch, 1), 1);
        {
                int cli = client();
                struct np_open_reply r;
                struct np_query_reply q;

                ck_assert_int_eq(open_x(cli, "sdeath", NP_ACCESS_READ, &r, NULL), 0);
                ck_assert_uint_eq(r.server_pid, (uint32_t)pid);
                ck_assert_int_eq(write(go[1], "x", 1), 1);
                expect_gone(cli, r.instance_id, r.conn_id, NP_GONE_DIED, 0);
                q = query(cli, r.conn_id);
                ck_assert_uint_eq(q.state, NPIPE_STATE_CLOSING);
                ck_assert_uint_eq(q.cur_instances, 0);
                ck_assert_int_eq(open_x(cli, "sdeath", NP_ACCESS_READ, NULL, NULL), NPIPE_ENOENT);
                close(cli);
        }
        st = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(srv);
}
END_TEST

/* covers: SEC-04 INST-07 (access policy by uid and group) */
START_TEST(test_policy)
{
        struct np_pipe_params pp = defparams();
        char path[128];
        int srv = client(), res[2], st;
        int32_t got[6];
        pid_t pid;

        if (geteuid() != 0)
                return; /* needs to become another user */
        /* Let another uid reach the socket (the broker checked the
         * directory at start-up; this is the test's own business). */
        ck_assert_int_eq(chmod(g_dir, 0711), 0);
        snprintf(path, sizeof path, "%s/%s", g_dir, NP_BROKER_SOCKET);
        ck_assert_int_eq(chmod(path, 0666), 0);
        create_ok(srv, "owner-only", &pp);
        pp.policy = NPIPE_ACCESS_GROUP;
        pp.gid = 4242;
        create_ok(srv, "group", &pp);
        pp.policy = NPIPE_ACCESS_EVERYONE;
        create_ok(srv, "everyone", &pp);

        ck_assert_int_eq(pipe(res), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                gid_t groups[1] = {4242};
                struct np_pipe_params p2 = defparams();
                int c;

                if (setgroups(1, groups) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                c = client();
                got[0] = open_x(c, "owner-only", NP_ACCESS_READ, NULL, NULL);
                got[1] = open_x(c, "group", NP_ACCESS_READ, NULL, NULL);
                got[2] = open_x(c, "everyone", NP_ACCESS_READ, NULL, NULL);
                got[3] = create_x(c, "owner-only", &p2, 0, NULL, NULL);
                got[4] = create_x(c, "everyone", &p2, 0, NULL, NULL);
                got[5] = create_x(c, "new-by-nobody", &p2, 0, NULL, NULL);
                if (write(res[1], got, sizeof got) != (ssize_t)sizeof got)
                        _exit(1);
                _exit(0);
        }
        close(res[1]);
        ck_assert_int_eq(read(res[0], got, sizeof got), (ssize_t)sizeof got);
        st = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        /* issue 15: a pipe another process may not open is not there for it */
        ck_assert_int_eq(got[0], NPIPE_ENOENT);
        ck_assert_int_eq(got[1], 0); /* supplementary group (SO_PEERGROUPS) */
        ck_assert_int_eq(got[2], 0);
        ck_assert_int_eq(got[3], NPIPE_EACCES);
        ck_assert_int_eq(got[4], 0);
        ck_assert_int_eq(got[5], 0);
        close(srv);
}
END_TEST

/* covers: (broker) back-pressure: a pipelining client is slowed, not dropped */
START_TEST(test_backpressure)
{
        int s = client(), sent = 0, got = 0;
        unsigned char buf[24];
        uint32_t first = g_req;
        struct pkt p;

        /* Pipeline requests without reading.  The broker queues its
         * replies, then stops reading us (rather than dropping us): our
         * sends stall for good. */
        for (;;) {
                uint64_t id = 424242;
                struct pollfd pfd = {.fd = s, .events = POLLOUT};

                put_hdr(buf, NP_MSG_QUERY, sizeof buf, g_req);
                memcpy(buf + 16, &id, sizeof id);
                if (send(s, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                        ck_assert_int_eq(errno, EAGAIN);
                        if (poll(&pfd, 1, 300) == 0)
                                break;
                        continue;
                }
                g_req++;
                sent++;
                ck_assert_int_lt(sent, 100000);
        }
        ck_assert_int_gt(sent, 1024); /* past NP_LIM_OUTQ_HIGH */
        for (got = 0; got < sent; got++) {
                recv_ok(s, &p);
                ck_assert_uint_eq(p.h.req_id, first + (uint32_t)got);
                ck_assert_int_eq(pkt_status(&p), NPIPE_EBADF);
        }
        expect_list_works(s);
        close(s);
}
END_TEST

/* covers: CLOSE-09 (one process with thousands of connections dies) */
START_TEST(test_burst)
{
        enum { N = 5000 };
        struct np_pipe_params pp = defparams();
        int x = client(), y = client();
        uint64_t *ids = calloc(N, sizeof *ids);
        struct np_ev_peer_gone ev;
        struct pkt p;

        ck_assert_ptr_nonnull(ids);
        for (int i = 0; i < N; i++)
                ids[i] = create_ok(x, "burst", &pp);
        /* The server reads nothing while its clients connect and die:
         * 2 * N events pile up for it, more than NP_LIM_OUTQ alone. */
        for (int i = 0; i < N; i++)
                open_ok(y, "burst", NP_ACCESS_READ);
        close(y);
        for (int i = 0; i < N; i++)
                ck_assert_uint_eq(expect_connected(x, NULL), ids[i]);
        for (int i = 0; i < N; i++) {
                recv_ok(x, &p);
                ck_assert_uint_eq(p.h.type, NP_MSG_EV_PEER_GONE);
                memcpy(&ev, p.body, sizeof ev);
                ck_assert_uint_eq(ev.reason, NP_GONE_DIED);
                ck_assert_uint_eq(ev.to_server, 1);
        }
        ck_assert_uint_eq(query(x, ids[N - 1]).state, NPIPE_STATE_CLOSING);
        expect_list_works(x);
        free(ids);
        close(x);
}
END_TEST

/* covers: (limits) NP_LIM_CLIENTS */
START_TEST(test_client_limit)
{
        enum { LIMIT = 4096 };
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct rlimit rl;
        struct pkt p;
        int *socks = calloc(LIMIT, sizeof *socks), extra;

        ck_assert_ptr_nonnull(socks);
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < LIMIT + 64) {
                free(socks);
                return; /* cannot hold that many sockets here */
        }
        for (int i = 0; i < LIMIT; i++)
                socks[i] = client();
        /* One more process: told NPIPE_ELIMIT in its hello, then closed. */
        extra = connect_dir(g_dir);
        send_msg(extra, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
        recv_ok(extra, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_HELLO_REPLY);
        ck_assert_int_eq(pkt_status(&p), NPIPE_ELIMIT);
        expect_eof(extra);
        close(extra);
        /* A slot frees up when a process goes. */
        close(socks[0]);
        socks[0] = -1;
        {
                int64_t end = now_ms() + TIMEOUT_MS;
                int st;

                do {
                        extra = connect_dir(g_dir);
                        send_msg(extra, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
                        recv_ok(extra, &p);
                        st = pkt_status(&p);
                        if (st != 0)
                                close(extra);
                } while (st != 0 && now_ms() < end);
                ck_assert_int_eq(st, 0);
        }
        expect_list_works(extra);
        close(extra);
        for (int i = 1; i < LIMIT; i++)
                close(socks[i]);
        free(socks);
}
END_TEST

static uint64_t fz_state = 0x243f6a8885a308d3ull;

static uint32_t fz(void)
{
        fz_state ^= fz_state << 13;
        fz_state ^= fz_state >> 7;
        fz_state ^= fz_state << 17;
        return (uint32_t)fz_state;
}

/* Read whatever the broker sent, remembering ids worth reusing. */
static bool fuzz_drain(int s, uint64_t *pool, size_t npool)
{
        for (;;) {
                struct pkt p;
                int r = recv_pkt(s, &p, 0);
                uint64_t id = 0;

                if (r == -ETIMEDOUT)
                        return true;
                if (r == 0)
                        return false;
                if (p.fd >= 0)
                        close(p.fd);
                if (p.h.type == NP_MSG_CREATE_REPLY)
                        memcpy(&id, p.body + 8, 8);
                else if (p.h.type == NP_MSG_OPEN_REPLY)
                        memcpy(&id, p.body + 16, 8);
                else if (p.h.type == NP_MSG_EV_CONNECTED)
                        memcpy(&id, p.body + 8, 8);
                if (id != 0)
                        pool[fz() % npool] = id;
        }
}

/* covers: (protocol) random and mutated requests never hurt the broker */
START_TEST(test_fuzz)
{
        /* requests, and now and then a type a client may not send */
        static const uint16_t types[] = {2, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 13, 15};
        static const uint16_t bad_types[] = {1, 64, 66, 96, 0, 300};
        static const char *const names[] = {"fz0", "FZ0", "fz1", "nope", "fz\xc3\xa9"};
        struct np_pipe_params pp = defparams();
        uint64_t pool[32] = {0};
        int base, srv, check;

        /* Counted after a round trip: the broker has closed its readiness
         * descriptor by then.  base = what it holds without srv. */
        srv = client();
        base = count_fds(g_broker) - 1;
        pp.max_instances = 3;
        for (int i = 0; i < 2; i++) {
                pool[i] = create_ok(srv, "fz0", &pp);
                pool[2 + i] = create_ok(srv, "fz1", &pp);
        }
        for (int round = 0; round < 60; round++) {
                int s = round % 10 == 9 ? connect_dir(g_dir) : client();

                for (int k = 0; k < 300; k++) {
                        unsigned char buf[NP_PROTO_MAX_PACKET + 64], body[80];
                        uint16_t type = fz() % 64 == 0
                                            ? bad_types[fz() % 6]
                                            : types[fz() % (sizeof types / sizeof types[0])];
                        int blen = np_proto_body_size(type), fd = -1, r;
                        const char *name = names[fz() % 5];
                        size_t nlen = strlen(name), len;

                        if (blen < 0)
                                blen = (int)(fz() % 48);
                        for (int i = 0; i < 80; i++)
                                body[i] = (unsigned char)fz();
                        /* plausible field values most of the time */
                        if (fz() % 4 != 0 && blen >= 8) {
                                uint64_t id = pool[fz() % 32];

                                memcpy(body, &id, 8);
                        }
                        if (type == NP_MSG_CREATE && fz() % 4 != 0) {
                                struct np_pipe_params q = defparams();

                                q.dir = 1 + fz() % 3;
                                q.max_instances = fz() % 4;
                                q.policy = fz() % 3;
                                memcpy(body, &q, sizeof q);
                                memset(body + 32, 0, 4);
                        }
                        if (type == NP_MSG_OPEN && fz() % 4 != 0)
                                body[0] &= 3;
                        if (type == NP_MSG_ADOPT && fz() % 4 != 0) {
                                static const pid_t pids[] = {0, 1, 999999};
                                struct np_adopt a;

                                memset(&a, 0, sizeof a);
                                a.params = defparams();
                                a.params.dir = 1 + fz() % 3;
                                a.role = 1 + fz() % 2;
                                a.state = fz() % 5;
                                a.instance_id = fz() % 2 ? pool[fz() % 32] : 1000 + fz() % 16;
                                a.conn_id = fz() % 2 ? pool[fz() % 32] : 2000 + fz() % 16;
                                a.peer_pid = (uint32_t)(fz() % 2 ? getpid() : pids[fz() % 3]);
                                a.access = a.role == NP_ADOPT_CLIENT ? fz() % 4 : 0;
                                memcpy(body, &a, sizeof a);
                        }
                        if (type == NP_MSG_WAIT && fz() % 2 == 0) {
                                uint32_t t = fz() % 2 ? NP_WAIT_FOREVER : fz() % 20;

                                memcpy(body, &t, 4);
                        }
                        if (type == NP_MSG_CREATE || type == NP_MSG_OPEN || type == NP_MSG_WAIT ||
                            type == NP_MSG_ADOPT) {
                                uint32_t nl = (uint32_t)nlen;

                                memcpy(body + blen - 4, &nl, 4);
                        } else {
                                nlen = fz() % 64 == 0 ? fz() % 40 : 0;
                                name = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
                        }
                        len = 16 + (size_t)blen + nlen;
                        put_hdr(buf, type, (uint32_t)len, fz() % 128 == 0 ? 0 : g_req++);
                        memcpy(buf + 16, body, (size_t)blen);
                        memcpy(buf + 16 + blen, name, nlen);
                        /* and sometimes a broken header */
                        switch (fz() % 128) {
                        case 0:
                                buf[4] ^= 1; /* len */
                                break;
                        case 1:
                                buf[2] = 7; /* version */
                                break;
                        case 2:
                                len = fz() % 16;
                                break;
                        case 3:
                                len = NP_PROTO_MAX_PACKET + 1 + fz() % 40;
                                break;
                        }
                        /* a segment where one belongs, rarely where not */
                        if ((type == NP_MSG_CREATE || type == NP_MSG_LISTEN ||
                             type == NP_MSG_OPEN ||
                             (type == NP_MSG_ADOPT && body[32] == NP_ADOPT_SERVER &&
                              body[36] == NPIPE_STATE_LISTENING)) == (fz() % 64 != 0))
                                fd = seg();
                        else if (fz() % 128 == 0)
                                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        r = send_bytes(s, buf, len, fd);
                        if (fd >= 0)
                                close(fd);
                        if (r < 0 || !fuzz_drain(s, pool, 32))
                                break; /* dropped: fine */
                }
                close(s);
        }
        /* The broker is fine, and every descriptor of the fuzz clients is
         * gone: what remains is srv's socket and its listening segments. */
        check = client();
        expect_list_works(srv);
        close(srv);
        expect_fds(check, base + 1);
        close(check);
}
END_TEST

/* ---- statistics (issue 5) ---------------------------------------------------- */

static uint32_t send_stats(int s)
{
        struct np_stats_req r = {0};

        return send_msg(s, NP_MSG_STATS, &r, sizeof r, NULL, 0, -1);
}

static void send_report(int s, uint64_t query, uint32_t flags, const struct np_stats_live *items,
                        uint32_t n)
{
        struct np_stats_report r = {.query = query, .flags = flags, .count = n};

        send_msg(s, NP_MSG_STATS_REPORT, &r, sizeof r, items, n * sizeof *items, -1);
}

static uint64_t expect_query(int s)
{
        struct np_ev_stats_query q;
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_EV_STATS_QUERY);
        ck_assert_uint_eq(p.h.req_id, 0);
        memcpy(&q, p.body, sizeof q);
        ck_assert_uint_ne(q.query, 0);
        return q.query;
}

/* A reply to STATS with one pipe: its item (named `name`), then the
 * broker's, which is the last. */
static void expect_stats(int s, uint32_t req, const char *name, struct np_stats_pipe *pipe,
                         struct np_stats_broker *broker)
{
        struct np_stats_item it;
        struct pkt p;

        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_STATS_ITEM);
        ck_assert_uint_eq(p.h.req_id, req);
        memcpy(&it, p.body, sizeof it);
        ck_assert_uint_eq(it.flags, 0);
        ck_assert_uint_eq(p.name_len, strlen(name));
        ck_assert(memcmp(p.name, name, p.name_len) == 0);
        *pipe = it.u.pipe;
        recv_ok(s, &p);
        ck_assert_uint_eq(p.h.type, NP_MSG_STATS_ITEM);
        ck_assert_uint_eq(p.h.req_id, req);
        memcpy(&it, p.body, sizeof it);
        ck_assert_uint_eq(it.flags, NP_STATS_BROKER | NP_STATS_LAST);
        ck_assert_ptr_null(p.name);
        *broker = it.u.broker;
}

#define ASSERT_TRAFFIC(t, a, b, c, d)                                                              \
        do {                                                                                       \
                ck_assert_uint_eq((t).c2s_bytes, (a));                                             \
                ck_assert_uint_eq((t).c2s_msgs, (b));                                              \
                ck_assert_uint_eq((t).s2c_bytes, (c));                                             \
                ck_assert_uint_eq((t).s2c_msgs, (d));                                              \
        } while (0)

/* covers: (protocol) statistics: a query round asks the server, takes its
 * report and no one else's, ends at its deadline when the server is silent,
 * queues the requests that arrive meanwhile up to the per-process limit;
 * ended connections' counts come from the end that leaves first, once */
START_TEST(test_stats)
{
        struct np_pipe_params pp = defparams();
        struct np_stats_broker sb;
        struct np_stats_pipe sp;
        struct np_end_req end;
        int srv = client(), cli = client(), other = client();
        uint32_t req[NP_LIM_STATS_PER_CLIENT + 1];
        uint64_t inst, conn, q;

        inst = create_ok(srv, "st", &pp);
        conn = open_ok(cli, "st", NP_ACCESS_READ | NP_ACCESS_WRITE);
        expect_connected(srv, NULL);

        /* a round asks srv; requests arriving meanwhile wait, up to the limit */
        req[0] = send_stats(other);
        q = expect_query(srv);
        for (unsigned k = 1; k <= NP_LIM_STATS_PER_CLIENT; k++)
                req[k] = send_stats(other);
        expect_reply(other, req[NP_LIM_STATS_PER_CLIENT], NPIPE_ELIMIT);

        /* reports from a stranger, for a query never asked, are ignored */
        {
                struct np_stats_live it = {.instance_id = inst, .conn_id = conn};

                it.traffic = (struct np_traffic){1000, 1000, 1000, 1000};
                send_report(other, q, NP_STATS_LAST, &it, 1);
                send_report(srv, q + 5, NP_STATS_LAST, &it, 1);
                it.conn_id = conn + 1;
                send_report(srv, q, 0, &it, 1);
                it.conn_id = conn;
                it.traffic = (struct np_traffic){1, 2, 3, 4};
                send_report(srv, q, NP_STATS_LAST, &it, 1);
        }
        expect_stats(other, req[0], "st", &sp, &sb);
        ASSERT_TRAFFIC(sp.traffic, 1, 2, 3, 4);
        ck_assert_uint_eq(sp.connected, 1);
        ck_assert_uint_eq(sp.missing, 0);
        ck_assert_uint_eq(sp.connections, 1);
        ck_assert_uint_eq(sb.servers_asked, 1);
        ck_assert_uint_eq(sb.servers_missing, 0);
        ck_assert_uint_eq(sb.connections_total, 1);
        ck_assert_uint_eq(sb.stats_queries, 1);

        /* the next round serves the three waiting requests; srv stays
         * silent, so they are answered at the deadline, its counts missing */
        ck_assert_uint_eq(expect_query(srv), q + 1);
        for (unsigned k = 1; k < NP_LIM_STATS_PER_CLIENT; k++) {
                expect_stats(other, req[k], "st", &sp, &sb);
                ASSERT_TRAFFIC(sp.traffic, 0, 0, 0, 0);
                ck_assert_uint_eq(sp.missing, 1);
                ck_assert_uint_eq(sb.servers_asked, 1);
                ck_assert_uint_eq(sb.servers_missing, 1);
        }

        /* the client leaves first with its final counts: they are the pipe's */
        memset(&end, 0, sizeof end);
        end.id = conn;
        end.conn_id = conn;
        end.traffic = (struct np_traffic){5, 6, 7, 8};
        expect_reply(cli, send_msg(cli, NP_MSG_CLOSE_CLIENT, &end, sizeof end, NULL, 0, -1), 0);
        expect_gone(srv, inst, conn, NP_GONE_CLOSED, 1);
        expect_stats(other, send_stats(other), "st", &sp, &sb);
        ASSERT_TRAFFIC(sp.traffic, 5, 6, 7, 8);
        ASSERT_TRAFFIC(sb.traffic, 5, 6, 7, 8);
        ck_assert_uint_eq(sb.servers_asked, 0); /* nothing live to ask about */
        /* and the server's own report on disconnect is not counted again */
        end.id = inst;
        end.traffic = (struct np_traffic){100, 100, 100, 100};
        expect_reply(srv, send_msg(srv, NP_MSG_DISCONNECT, &end, sizeof end, NULL, 0, -1), 0);
        expect_stats(other, send_stats(other), "st", &sp, &sb);
        ASSERT_TRAFFIC(sp.traffic, 5, 6, 7, 8);
        ASSERT_TRAFFIC(sb.traffic, 5, 6, 7, 8);

        /* a malformed request */
        {
                struct np_stats_req r = {.flags = 1};

                expect_reply(other, send_msg(other, NP_MSG_STATS, &r, sizeof r, NULL, 0, -1),
                             NPIPE_EINVAL);
        }
        close(other);
        close(cli);
        close(srv);
}
END_TEST

/* ---- limits and fairness (issue 4, item 6) -------------------------------------- */

/* In a child running as another user (nobody): hello on n sockets; the
 * statuses go back through `out` as bytes (0 ok, 1 ELIMIT, 2 other). */
static void share_child(int out, int n)
{
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        int *socks = calloc((size_t)n, sizeof *socks);

        for (int i = 0; i < n; i++) {
                struct pkt p;
                char r;

                socks[i] = connect_dir(g_dir);
                send_msg(socks[i], NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
                recv_ok(socks[i], &p);
                r = pkt_status(&p) == 0 ? 0 : pkt_status(&p) == NPIPE_ELIMIT ? 1 : 2;
                if (write(out, &r, 1) != 1)
                        _exit(1);
        }
        /* then pending waits up to the uid's share of NP_LIM_WAITS: 1024
         * (the per-process limit) on each socket; a LIST after them shows
         * they were all handled (requests of one client are handled in
         * order), and any refusal would have been answered before it */
        {
                int waits = 0, st = 0;

                for (int k = 0; k < n && st == 0; k++) {
                        uint32_t list;
                        struct pkt p;

                        for (int i = 0; i < 1024; i++)
                                send_wait(socks[k], "share-busy", NP_WAIT_FOREVER);
                        list = send_msg(socks[k], NP_MSG_LIST, NULL, 0, NULL, 0, -1);
                        waits += 1024;
                        for (;;) {
                                recv_ok(socks[k], &p);
                                if (p.fd >= 0)
                                        close(p.fd);
                                if (p.h.type == NP_MSG_REPLY) {
                                        st = pkt_status(&p);
                                        waits--;
                                } else if (p.h.req_id == list && (p.body[0] & NP_LIST_LAST)) {
                                        break;
                                }
                        }
                }
                if (write(out, &waits, sizeof waits) != (ssize_t)sizeof waits ||
                    write(out, &st, sizeof st) != (ssize_t)sizeof st)
                        _exit(1);
        }
        _exit(0);
}

/* covers: issue 4 item 6 (another user's fair share of a shared broker:
 * connections and pending waits) */
START_TEST(test_uid_share)
{
        enum { SHARE = 4096 / 4 };
        struct np_pipe_params pp = defparams();
        char path[128];
        int res[2], st, srv, waits, wst, mine;
        struct rlimit rl = {SHARE + 256, SHARE + 256};
        pid_t pid;

        if (geteuid() != 0)
                return; /* needs to become another user */
        ck_assert_int_eq(chmod(g_dir, 0711), 0);
        snprintf(path, sizeof path, "%s/%s", g_dir, NP_BROKER_SOCKET);
        ck_assert_int_eq(chmod(path, 0666), 0);
        srv = client();
        pp.policy = NPIPE_ACCESS_EVERYONE;
        create_ok(srv, "share-busy", &pp);
        mine = open_ok(client(), "share-busy", NP_ACCESS_READ) != 0; /* now busy */
        ck_assert(mine);
        ck_assert_int_eq(pipe(res), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(res[0]);
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                share_child(res[1], SHARE + 1);
        }
        close(res[1]);
        for (int i = 0; i < SHARE + 1; i++) {
                char r = 9;

                ck_assert_int_eq(read(res[0], &r, 1), 1);
                /* its share of the process slots, then NPIPE_ELIMIT */
                ck_assert_int_eq(r, i < SHARE ? 0 : 1);
        }
        ck_assert_int_eq(read(res[0], &waits, sizeof waits), (ssize_t)sizeof waits);
        ck_assert_int_eq(read(res[0], &wst, sizeof wst), (ssize_t)sizeof wst);
        ck_assert_int_eq(wst, NPIPE_ELIMIT);
        ck_assert_int_eq(waits, 65536 / 4);
        st = wait_exit(pid, 60000);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        /* the broker's own user is not held to the share */
        {
                int s = client();

                expect_list_works(s);
                close(s);
        }
        close(srv);
}
END_TEST

/* A flooding process: kind 0 pipelines requests without reading replies,
 * 1 churns connections (hello, a request, close), 2 sends malformed
 * packets until dropped, then again, 3 asks for listings of many names,
 * 4 keeps its maximum of waits pending and cancels them. */
/* The flooders are forked children of a test, and every ck_assert in a
 * forked process writes to Check's message file, which they share with
 * the test and the runner: one killed in the middle of that left a torn
 * record ("Bad message type" from check_pack.c, once in CI).  So they use
 * these helpers, which never call Check, and just stop on any failure. */
static int q_send(int s, uint16_t type, const void *body, size_t blen, const void *tail,
                  size_t tlen)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        size_t len = sizeof(struct np_hdr) + blen + tlen;

        if (len > sizeof buf)
                return -1;
        put_hdr(buf, type, (uint32_t)len, g_req++);
        if (blen)
                memcpy(buf + sizeof(struct np_hdr), body, blen);
        if (tlen)
                memcpy(buf + sizeof(struct np_hdr) + blen, tail, tlen);
        return np_send_packet(s, buf, len, -1);
}

/* Up to max packets, each within timeout_ms; returns how many came. */
static int q_drain(int s, int max, int timeout_ms)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        int k = 0;

        for (; k < max; k++) {
                struct pollfd pfd = {.fd = s, .events = POLLIN};
                int fd = -1;

                if (poll(&pfd, 1, timeout_ms) != 1 ||
                    np_recv_packet(s, buf, sizeof buf, &fd, 0) <= 0)
                        break;
                if (fd >= 0)
                        close(fd);
        }
        return k;
}

static int q_client(void)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", g_dir, NP_BROKER_SOCKET);
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0 ||
            q_send(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0) < 0 || q_drain(s, 1, TIMEOUT_MS) != 1) {
                if (s >= 0)
                        close(s);
                return -1;
        }
        return s;
}

static void flood(int kind, int started)
{
        unsigned char junk[64];
        uint64_t id = 42;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        memset(junk, 0x5a, sizeof junk);
        for (;;) {
                int s = q_client();

                if (s < 0)
                        _exit(1);
                if (started >= 0) {
                        /* connected and answered: the flood is on */
                        if (write(started, "f", 1) != 1)
                                _exit(1);
                        close(started);
                        started = -1;
                }

                switch (kind) {
                case 0:
                        for (;;) {
                                unsigned char buf[24];
                                struct pollfd pfd = {.fd = s, .events = POLLOUT};

                                put_hdr(buf, NP_MSG_QUERY, sizeof buf, g_req++);
                                memcpy(buf + 16, &id, sizeof id);
                                if (send(s, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                                        if (errno != EAGAIN)
                                                break;
                                        /* the broker stopped reading us: read a
                                         * little, as a slow client would */
                                        poll(&pfd, 1, 1);
                                        q_drain(s, 256, 0);
                                }
                        }
                        break;
                case 1:
                case 3:
                        /* listings, each read to its end (or a stall) */
                        for (int i = 0; i < (kind == 1 ? 1 : 20); i++)
                                if (q_send(s, NP_MSG_LIST, NULL, 0, NULL, 0) < 0 ||
                                    q_drain(s, 400, 1000) == 0)
                                        break;
                        break;
                case 2:
                        for (int i = 0; i < 40; i++)
                                if (send_bytes(s, junk, 20, -1) < 0)
                                        break;
                        break;
                default:
                        for (int round = 0; round < 20; round++) {
                                uint32_t first = g_req;
                                struct np_wait w = {.timeout_ms = NP_WAIT_FOREVER,
                                                    .name_len = (uint32_t)strlen("flood-busy")};

                                for (int i = 0; i < 1024; i++)
                                        q_send(s, NP_MSG_WAIT, &w, sizeof w, "flood-busy",
                                               strlen("flood-busy"));
                                for (int i = 0; i < 1024; i++) {
                                        struct np_cancel c = {.target_req_id = first + (uint32_t)i};

                                        q_send(s, NP_MSG_CANCEL, &c, sizeof c, NULL, 0);
                                }
                                q_drain(s, 2048, 1000);
                        }
                        break;
                }
                close(s);
        }
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

/* Open latency of a well-behaved client: n instances, one OPEN each. */
static void open_latency(int srv, int cli, int n, const char *name, int64_t *us)
{
        struct np_pipe_params pp = defparams();

        for (int i = 0; i < n; i++)
                create_ok(srv, name, &pp);
        for (int i = 0; i < n; i++) {
                struct timespec a, b;

                clock_gettime(CLOCK_MONOTONIC, &a);
                ck_assert_int_eq(open_x(cli, name, NP_ACCESS_READ, NULL, NULL), 0);
                clock_gettime(CLOCK_MONOTONIC, &b);
                us[i] = (b.tv_sec - a.tv_sec) * 1000000ll + (b.tv_nsec - a.tv_nsec) / 1000;
        }
        qsort(us, (size_t)n, sizeof *us, cmp_i64);
}

/* covers: issue 4 item 6 (a flooding client cannot starve the others:
 * open latency of a well-behaved client, alone and under five floods) */
START_TEST(test_flood_latency)
{
        enum { N = 2000, KINDS = 5 };
        struct np_pipe_params pp = defparams();
        static int64_t base[N], busy[N];
        pid_t floods[KINDS];
        int on[2];
        int srv = client(), srv2 = client(), cli = client(), busy_srv = client(), events = client();

        /* names for the listings, and a busy pipe for the waits */
        for (int i = 0; i < 300; i++) {
                char nm[32];

                snprintf(nm, sizeof nm, "flood-name-%d", i);
                create_ok(events, nm, &pp);
        }
        create_ok(busy_srv, "flood-busy", &pp);
        open_ok(client(), "flood-busy", NP_ACCESS_READ);

        open_latency(srv, cli, N, "lat-alone", base);
        ck_assert_int_eq(pipe(on), 0);
        for (int k = 0; k < KINDS; k++) {
                floods[k] = fork();
                ck_assert_int_ge(floods[k], 0);
                if (floods[k] == 0) {
                        close(on[0]);
                        flood(k, on[1]);
                }
        }
        close(on[1]);
        /* every flood is running before the samples are taken */
        for (int k = 0; k < KINDS; k++) {
                struct pollfd pf = {.fd = on[0], .events = POLLIN};
                char ch;

                ck_assert_int_eq(poll(&pf, 1, TIMEOUT_MS), 1);
                ck_assert_int_eq(read(on[0], &ch, 1), 1);
        }
        close(on[0]);
        open_latency(srv2, cli, N, "lat-flood", busy);
        for (int k = 0; k < KINDS; k++) {
                kill(floods[k], SIGKILL);
                wait_exit(floods[k], TIMEOUT_MS);
        }
        fprintf(stderr,
                "open latency (us), alone: p50 %lld p99 %lld max %lld; under 5 floods: p50 %lld "
                "p99 %lld max %lld\n",
                (long long)base[N / 2], (long long)base[N * 99 / 100], (long long)base[N - 1],
                (long long)busy[N / 2], (long long)busy[N * 99 / 100], (long long)busy[N - 1]);
        /* not starved: a few packets of each flood per turn at most */
        ck_assert_int_lt(busy[N * 99 / 100], 100000);
        ck_assert_int_lt(busy[N - 1], 1000000);
        close(events);
        close(busy_srv);
        close(cli);
        close(srv2);
        close(srv);
}
END_TEST

/* ---- broker restart: NP_MSG_ADOPT ------------------------------------------------ */

/* An id as an older broker would have given it: its counter started at the
 * wall clock of its own start, before ours. */
static uint64_t old_id(unsigned k)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)(ts.tv_sec - 3600) * 1000000000ull + k;
}

static uint64_t realtime_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct adopt_args {
        uint32_t role, state;
        uint64_t inst, conn;
        pid_t peer;
        uint32_t access;
        const char *name;
        struct np_pipe_params params;
};

static uint32_t send_adopt(int s, const struct adopt_args *a, int fd)
{
        struct np_adopt b;

        memset(&b, 0, sizeof b);
        b.params = a->params;
        b.role = a->role;
        b.state = a->state;
        b.instance_id = a->inst;
        b.conn_id = a->conn;
        b.peer_pid = (uint32_t)a->peer;
        b.access = a->access;
        b.name_len = (uint32_t)strlen(a->name);
        return send_msg(s, NP_MSG_ADOPT, &b, sizeof b, a->name, strlen(a->name), fd);
}

/* Read the adoption's reply, skipping (and returning in *gone, when given)
 * an EV_PEER_GONE that precedes it.  Returns the status. */
static int adopt_reply(int s, uint32_t req, struct np_create_reply *rep,
                       struct np_ev_peer_gone *gone)
{
        struct pkt p;

        for (;;) {
                recv_ok(s, &p);
                ck_assert_int_eq(p.fd, -1);
                if (p.h.req_id == 0 && p.h.type == NP_MSG_EV_PEER_GONE && gone != NULL) {
                        memcpy(gone, p.body, sizeof *gone);
                        gone = NULL; /* at most one */
                        continue;
                }
                break;
        }
        ck_assert_uint_eq(p.h.req_id, req);
        if (p.h.type == NP_MSG_REPLY)
                return pkt_status(&p);
        ck_assert_uint_eq(p.h.type, NP_MSG_CREATE_REPLY);
        if (rep != NULL)
                memcpy(rep, p.body, sizeof *rep);
        return pkt_status(&p);
}

static int adopt(int s, const struct adopt_args *a, struct np_create_reply *rep)
{
        int fd = -1, r;
        uint32_t req;

        if (a->role == NP_ADOPT_SERVER && a->state == NPIPE_STATE_LISTENING)
                fd = seg();
        req = send_adopt(s, a, fd);
        if (fd >= 0)
                close(fd);
        r = adopt_reply(s, req, rep, NULL);
        return r;
}

static struct adopt_args server_args(const char *name, uint32_t state, uint64_t inst, uint64_t conn,
                                     pid_t peer)
{
        struct adopt_args a = {.role = NP_ADOPT_SERVER,
                               .state = state,
                               .inst = inst,
                               .conn = conn,
                               .peer = peer,
                               .name = name,
                               .params = defparams()};
        return a;
}

static struct adopt_args client_args(const char *name, uint64_t inst, uint64_t conn, pid_t peer)
{
        struct adopt_args a = {.role = NP_ADOPT_CLIENT,
                               .state = NPIPE_STATE_CONNECTED,
                               .inst = inst,
                               .conn = conn,
                               .peer = peer,
                               .access = NP_ACCESS_READ | NP_ACCESS_WRITE,
                               .name = name,
                               .params = defparams()};
        return a;
}

/* covers: issue 4 item 4 (a listening instance survives a broker restart:
 * adopted with a fresh segment, clients open it by name), WAIT-04 */
START_TEST(test_adopt_listening)
{
        struct np_pipe_params pp = defparams();
        struct adopt_args a;
        struct np_create_reply rep;
        struct np_open_reply orep;
        struct np_ev_connected ev;
        uint64_t t0 = realtime_ns(), inst = old_id(7), fresh;
        int srv = client(), cli = client(), waiter = client(), busy = client();
        uint32_t wreq;

        /* A new broker's ids come from the wall clock. */
        fresh = create_ok(srv, "other", &pp);
        ck_assert_uint_gt(fresh, t0 - 3600ull * 1000000000ull);
        ck_assert_uint_le(fresh, realtime_ns());

        /* A waiter on a name that only an adoption brings back: the name
         * must exist for WAIT to pend (WAIT-01), so another instance of it
         * is there, busy. */
        pp.max_instances = 0;
        create_ok(busy, "svc", &pp);
        open_ok(waiter, "svc", NP_ACCESS_READ);
        wreq = send_wait(waiter, "svc", NP_WAIT_FOREVER);
        expect_nothing(waiter, 50);

        a = server_args("SVC", NPIPE_STATE_LISTENING, inst, 0, 0);
        ck_assert_int_eq(adopt(srv, &a, &rep), 0);
        ck_assert_uint_eq(rep.instance_id, inst); /* keeps the old broker's id */
        ck_assert_uint_eq(rep.params.dir, NPIPE_DUPLEX);
        expect_reply(waiter, wreq, 0); /* released: an instance listens */

        /* The adopted instance takes the next client. */
        ck_assert_int_eq(open_x(cli, "svc", NP_ACCESS_READ, &orep, NULL), 0);
        ck_assert_uint_eq(orep.instance_id, inst);
        ck_assert_uint_gt(orep.conn_id, fresh);
        ck_assert_uint_eq(expect_connected(srv, &ev), inst);
        ck_assert_uint_eq(ev.conn_id, orep.conn_id);
        ck_assert_uint_eq(query(srv, inst).state, NPIPE_STATE_CONNECTED);

        /* The same id again names something live. */
        ck_assert_int_eq(adopt(srv, &a, NULL), NPIPE_EBUSY);
        a.inst = orep.conn_id;
        ck_assert_int_eq(adopt(srv, &a, NULL), NPIPE_EBUSY);

        /* An id from the future (the clock went back since the old broker
         * started) raises our counter above it. */
        a = server_args("late", NPIPE_STATE_DISCONNECTED, realtime_ns() + 1000000000000ull, 0, 0);
        ck_assert_int_eq(adopt(srv, &a, &rep), 0);
        ck_assert_uint_gt(create_ok(srv, "later", &pp), a.inst);
        ck_assert_uint_eq(query(srv, a.inst).state, NPIPE_STATE_DISCONNECTED);
        listen_req(srv, a.inst, 0); /* a DISCONNECTED adoptee listens again */
        close(waiter);
        close(busy);
        close(cli);
        close(srv);
}
END_TEST

/* covers: issue 4 item 4 (adoption errors and the descriptor rule) */
START_TEST(test_adopt_errors)
{
        struct np_pipe_params pp = defparams();
        struct adopt_args a;
        int s = client(), fd;
        uint32_t req;

        pp.dir = NPIPE_INBOUND;
        create_ok(s, "inbound", &pp);
        /* INST-03: the direction of the name in force */
        a = server_args("inbound", NPIPE_STATE_DISCONNECTED, old_id(1), 0, 0);
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EACCES);
        /* bad role, state, ids */
        a = server_args("x", NPIPE_STATE_DISCONNECTED, old_id(2), 0, 0);
        a.role = 3;
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL);
        a = server_args("x", 9, old_id(2), 0, 0);
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL);
        a = server_args("x", NPIPE_STATE_DISCONNECTED, 0, 0, 0);
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL);
        a = server_args("x", NPIPE_STATE_CONNECTED, old_id(2), 0, getpid());
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL); /* CONNECTED needs its conn */
        a = server_args("x", NPIPE_STATE_CONNECTED, old_id(2), old_id(3), 0);
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL); /* ... and its client's pid */
        a = client_args("x", old_id(2), 0, getpid());
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL);
        a = client_args("x", old_id(2), old_id(3), getpid());
        a.access = 4;
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL);
        a = server_args("x", NPIPE_STATE_DISCONNECTED, old_id(2), 0, 0);
        a.params.dir = 0;
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EINVAL);
        /* descriptor rule: a segment with a LISTENING server, none else */
        a = server_args("x", NPIPE_STATE_LISTENING, old_id(2), 0, 0);
        req = send_adopt(s, &a, -1);
        expect_reply(s, req, NPIPE_EPROTO);
        a = server_args("x", NPIPE_STATE_DISCONNECTED, old_id(2), 0, 0);
        fd = seg();
        req = send_adopt(s, &a, fd);
        close(fd);
        expect_reply(s, req, NPIPE_EPROTO);
        /* nothing was registered by any of these */
        ck_assert_int_eq(open_x(s, "x", NP_ACCESS_READ, NULL, NULL), NPIPE_ENOENT);
        close(s);
}
END_TEST

/* A process that adopts one end when told to, says so, and exits when told
 * to (its socket then closes: a process death, for the broker). */
struct adopter {
        pid_t pid;
        int sync; /* child -> parent: 'a' once its adoption was answered */
        int go;   /* parent -> child: a byte to adopt, end of file to exit */
};

static void adopter_start(struct adopter *ad, const struct adopt_args *a)
{
        int up[2], down[2];

        ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
        ad->pid = fork();
        ck_assert_int_ge(ad->pid, 0);
        if (ad->pid == 0) {
                int s;
                char ch;

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(up[0]);
                close(down[1]);
                s = client();
                if (read(down[0], &ch, 1) != 1)
                        _exit(2);
                if (adopt(s, a, NULL) != 0)
                        _exit(3);
                ch = 'a';
                if (write(up[1], &ch, 1) != 1)
                        _exit(4);
                /* until told to exit; events for us are left unread */
                if (read(down[0], &ch, 1) != 0)
                        _exit(5);
                _exit(0);
        }
        close(up[1]);
        close(down[0]);
        ad->sync = up[0];
        ad->go = down[1];
}

static void adopter_go(struct adopter *ad)
{
        struct pollfd pf = {.fd = ad->sync, .events = POLLIN};
        char ch = 'g';

        ck_assert_int_eq(write(ad->go, &ch, 1), 1);
        ck_assert_msg(poll(&pf, 1, TIMEOUT_MS) == 1, "adopter %ld silent", (long)ad->pid);
        ck_assert_int_eq(read(ad->sync, &ch, 1), 1);
        ck_assert_int_eq(ch, 'a');
}

static void adopter_end(struct adopter *ad)
{
        int st;

        close(ad->go);
        st = wait_exit(ad->pid, TIMEOUT_MS);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "adopter status %#x", st);
        close(ad->sync);
}

/* covers: issue 4 item 4 (both halves of a connection adopted, in either
 * order; the death of either end reaches the other as NP_GONE_DIED), CLOSE-09 */
START_TEST(test_adopt_pair)
{
        for (int mine_first = 0; mine_first < 2; mine_first++) {
                for (int me_server = 0; me_server < 2; me_server++) {
                        /* "me" survives; the other process adopts the other
                         * half and exits */
                        uint64_t inst = old_id(100u + 10u * (unsigned)mine_first +
                                               2u * (unsigned)me_server),
                                 conn = inst + 1;
                        int me = client();
                        struct adopter other;
                        struct adopt_args mine, theirs;
                        struct np_create_reply rep;
                        struct np_query_reply q;

                        if (me_server)
                                theirs = client_args("pair", inst, conn, getpid());
                        else
                                theirs = server_args("pair", NPIPE_STATE_CONNECTED, inst, conn,
                                                     getpid());
                        adopter_start(&other, &theirs);
                        if (me_server)
                                mine = server_args("PAIR", NPIPE_STATE_CONNECTED, inst, conn,
                                                   other.pid);
                        else
                                mine = client_args("PAIR", inst, conn, other.pid);
                        if (!mine_first)
                                adopter_go(&other);
                        ck_assert_int_eq(adopt(me, &mine, &rep), 0);
                        ck_assert_uint_eq(rep.instance_id, inst);
                        if (mine_first)
                                adopter_go(&other);
                        /* linked: nothing is reported while both live */
                        expect_nothing(me, 30);
                        q = query(me, me_server ? inst : conn);
                        ck_assert_uint_eq(q.state, NPIPE_STATE_CONNECTED);
                        if (me_server)
                                ck_assert_uint_eq(q.client_pid, (uint32_t)other.pid);
                        else
                                ck_assert_uint_eq(q.cur_instances, 1);
                        adopter_end(&other);
                        expect_gone(me, inst, conn, NP_GONE_DIED, me_server ? 1 : 0);
                        q = query(me, me_server ? inst : conn);
                        ck_assert_uint_eq(q.state, NPIPE_STATE_CLOSING);
                        if (me_server) {
                                /* the usual CLOSING rules from here (CONNECT-06) */
                                listen_req(me, inst, NPIPE_ECLOSING);
                                id_req(me, NP_MSG_DISCONNECT, inst, 0);
                                listen_req(me, inst, 0);
                        } else {
                                ck_assert_uint_eq(q.cur_instances, 0);
                        }
                        close(me);
                }
        }
}
END_TEST

/* covers: issue 4 item 4 (an adoption naming a dead peer hears NP_GONE_DIED
 * at once; a waiting half hears it when its peer exits before adopting;
 * halves that do not name each other are never linked) */
START_TEST(test_adopt_dead_peer)
{
        struct np_ev_peer_gone ev;
        struct adopt_args a;
        struct np_create_reply rep;
        int s = client(), st, hold[2];
        pid_t dead, zombie, live;
        uint64_t inst = old_id(300);
        uint32_t req;
        char ch;

        /* a reaped child: its pid names nothing */
        dead = fork();
        ck_assert_int_ge(dead, 0);
        if (dead == 0)
                _exit(0);
        st = wait_exit(dead, TIMEOUT_MS);
        ck_assert(WIFEXITED(st));

        a = server_args("dead", NPIPE_STATE_CONNECTED, inst, inst + 1, dead);
        memset(&ev, 0, sizeof ev);
        req = send_adopt(s, &a, -1);
        ck_assert_int_eq(adopt_reply(s, req, &rep, &ev), 0);
        ck_assert_uint_eq(ev.reason, NP_GONE_DIED); /* before the reply */
        ck_assert_uint_eq(ev.to_server, 1);
        ck_assert_uint_eq(ev.instance_id, inst);
        ck_assert_uint_eq(ev.conn_id, inst + 1);
        ck_assert_uint_eq(query(s, inst).state, NPIPE_STATE_CLOSING);
        id_req(s, NP_MSG_DISCONNECT, inst, 0); /* and it is reusable as usual */
        listen_req(s, inst, 0);

        a = client_args("dead", inst + 2, inst + 3, dead);
        memset(&ev, 0, sizeof ev);
        req = send_adopt(s, &a, -1);
        ck_assert_int_eq(adopt_reply(s, req, &rep, &ev), 0);
        ck_assert_uint_eq(ev.reason, NP_GONE_DIED);
        ck_assert_uint_eq(ev.to_server, 0);
        ck_assert_uint_eq(ev.conn_id, inst + 3);
        ck_assert_uint_eq(ev.instance_id, inst + 2);
        ck_assert_uint_eq(query(s, inst + 3).state, NPIPE_STATE_CLOSING);
        id_req(s, NP_MSG_CLOSE_CLIENT, inst + 3, 0);

        /* a zombie (exited, not reaped) is dead too */
        zombie = fork();
        ck_assert_int_ge(zombie, 0);
        if (zombie == 0)
                _exit(0);
        {
                siginfo_t si;

                /* wait for the exit without reaping it */
                ck_assert_int_eq(waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT), 0);
        }
        a = server_args("zombie", NPIPE_STATE_CONNECTED, inst + 4, inst + 5, zombie);
        memset(&ev, 0, sizeof ev);
        req = send_adopt(s, &a, -1);
        ck_assert_int_eq(adopt_reply(s, req, &rep, &ev), 0);
        ck_assert_uint_eq(ev.reason, NP_GONE_DIED);
        wait_exit(zombie, TIMEOUT_MS);

        /* A live peer that never adopts: nothing, until it exits. */
        ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
        live = fork();
        ck_assert_int_ge(live, 0);
        if (live == 0) {
                close(hold[1]);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (read(hold[0], &ch, 1) < 0)
                        _exit(1);
                _exit(0);
        }
        close(hold[0]);
        a = server_args("waiting", NPIPE_STATE_CONNECTED, inst + 6, inst + 7, live);
        ck_assert_int_eq(adopt(s, &a, NULL), 0);
        a = client_args("waiting2", inst + 8, inst + 9, live);
        ck_assert_int_eq(adopt(s, &a, NULL), 0);
        /* The waiting instance's conn can be claimed only by the process
         * it names (we are not `live`)... */
        a = client_args("waiting", inst + 6, inst + 7, getpid());
        ck_assert_int_eq(adopt(s, &a, NULL), NPIPE_EACCES);
        /* ...and another conn id is never linked to it: it waits. */
        a = client_args("waiting", inst + 6, inst + 10, getpid());
        ck_assert_int_eq(adopt(s, &a, NULL), 0);
        expect_nothing(s, 50);
        ck_assert_uint_eq(query(s, inst + 6).state, NPIPE_STATE_CONNECTED);
        ck_assert_uint_eq(query(s, inst + 6).client_pid, (uint32_t)live);
        ck_assert_uint_eq(query(s, inst + 9).state, NPIPE_STATE_CONNECTED);
        close(hold[1]); /* `live` exits */
        wait_exit(live, TIMEOUT_MS);
        {
                /* both waiting halves hear of it, in either order */
                int seen_server = 0, seen_client = 0;

                for (int k = 0; k < 2; k++) {
                        struct pkt p;

                        recv_ok(s, &p);
                        ck_assert_uint_eq(p.h.type, NP_MSG_EV_PEER_GONE);
                        memcpy(&ev, p.body, sizeof ev);
                        ck_assert_uint_eq(ev.reason, NP_GONE_DIED);
                        if (ev.to_server) {
                                ck_assert_uint_eq(ev.instance_id, inst + 6);
                                ck_assert_uint_eq(ev.conn_id, inst + 7);
                                seen_server++;
                        } else {
                                ck_assert_uint_eq(ev.instance_id, inst + 8);
                                ck_assert_uint_eq(ev.conn_id, inst + 9);
                                seen_client++;
                        }
                }
                ck_assert_int_eq(seen_server, 1);
                ck_assert_int_eq(seen_client, 1);
        }
        ck_assert_uint_eq(query(s, inst + 6).state, NPIPE_STATE_CLOSING);
        ck_assert_uint_eq(query(s, inst + 9).state, NPIPE_STATE_CLOSING);
        /* the unlinked half named us, who live: still nothing for it */
        expect_nothing(s, 30);
        close(s);
}
END_TEST

/* ---- start-up and shut-down ---------------------------------------------------- */

/* covers: (broker) single instance per runtime directory */
START_TEST(test_race)
{
        for (int round = 0; round < 5; round++) {
                struct spawn sp = {.foreground = true, .listen_fd = -1};
                char dir[64];
                int ra, rb, st, s;
                pid_t a, b, first, survivor;

                make_dir(dir, sizeof dir);
                a = spawn_broker(dir, &sp, &ra);
                b = spawn_broker(dir, &sp, &rb);
                /* Both report a usable broker... */
                ck_assert_int_eq(read_ready(ra), '1');
                ck_assert_int_eq(read_ready(rb), '1');
                /* ...and one of them leaves, successfully. */
                first = waitpid(-1, &st, 0);
                ck_assert(first == a || first == b);
                ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
                survivor = first == a ? b : a;
                ck_assert_int_eq(waitpid(survivor, &st, WNOHANG), 0);
                s = connect_dir(dir);
                {
                        struct np_hello h = {.magic = NP_PROTO_MAGIC32,
                                             .version = NP_PROTO_VERSION};
                        struct np_hello_reply r;
                        struct pkt p;

                        send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
                        recv_ok(s, &p);
                        memcpy(&r, p.body, sizeof r);
                        ck_assert_int_eq(r.status, 0);
                        ck_assert_uint_eq(r.broker_pid, (uint32_t)survivor);
                }
                close(s);
                stop_broker(survivor);
                ck_assert(!sock_exists(dir));
                /* A third one after it starts cleanly. */
                a = start_broker(dir);
                stop_broker(a);
                remove_dir(dir);
        }
}
END_TEST

/* covers: (broker) --idle-exit */
START_TEST(test_idle_exit)
{
        struct spawn sp = {.foreground = true, .listen_fd = -1, .extra = {"--idle-exit=1"}};
        char dir[64];
        int ready, st, s;
        int64_t t0;
        pid_t pid;

        make_dir(dir, sizeof dir);
        pid = spawn_broker(dir, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), '1');
        strcpy(g_dir, dir);
        s = client();
        close(s);
        t0 = now_ms();
        st = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ck_assert_int_ge(now_ms() - t0, 900);
        ck_assert(!sock_exists(dir));
        remove_dir(dir);
}
END_TEST

/* covers: (broker) daemon mode */
START_TEST(test_daemonize)
{
        struct spawn sp = {
            .foreground = false, .listen_fd = -1, .no_ready_fd = true, .extra = {"--idle-exit=20"}};
        struct np_hello h = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct np_hello_reply r;
        struct pkt p;
        char dir[64];
        int st, s;
        pid_t starter, daemon;

        /* Be the daemon's reaper, so that we can wait for it. */
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        make_dir(dir, sizeof dir);
        starter = spawn_broker(dir, &sp, NULL);
        /* The starter returns once the daemon is ready. */
        st = wait_exit(starter, TIMEOUT_MS);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        s = connect_dir(dir);
        send_msg(s, NP_MSG_HELLO, &h, sizeof h, NULL, 0, -1);
        recv_ok(s, &p);
        memcpy(&r, p.body, sizeof r);
        ck_assert_int_eq(r.status, 0);
        daemon = (pid_t)r.broker_pid;
        ck_assert_int_ne(daemon, starter);
        ck_assert_int_eq(getsid(daemon), daemon);
        close(s);
        stop_broker(daemon);
        ck_assert(!sock_exists(dir));
        remove_dir(dir);
}
END_TEST

static int notify_socket(const char *path, bool abstract)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        socklen_t len;
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(s, 0);
        if (abstract) {
                a.sun_path[0] = '\0';
                memcpy(a.sun_path + 1, path, strlen(path));
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path));
        } else {
                strcpy(a.sun_path, path);
                len = sizeof a;
        }
        ck_assert_int_eq(bind(s, (struct sockaddr *)&a, len), 0);
        return s;
}

static void expect_notify(int s, const char *what)
{
        struct pollfd pfd = {.fd = s, .events = POLLIN};
        char buf[64];
        ssize_t n;

        ck_assert_int_eq(poll(&pfd, 1, TIMEOUT_MS), 1);
        n = recv(s, buf, sizeof buf - 1, 0);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        ck_assert_str_eq(buf, what);
}

/* covers: (broker) sd_notify readiness */
START_TEST(test_notify)
{
        char dir[64], path[128], env[160];
        int ns, ready;
        pid_t pid;

        for (int abstract = 0; abstract < 2; abstract++) {
                struct spawn sp = {.foreground = true, .listen_fd = -1};

                make_dir(dir, sizeof dir);
                snprintf(path, sizeof path, "%s/notify", dir);
                ns = notify_socket(path, abstract);
                snprintf(env, sizeof env, "%s%s", abstract ? "@" : "", path);
                sp.notify = env;
                pid = spawn_broker(dir, &sp, &ready);
                ck_assert_int_eq(read_ready(ready), '1');
                expect_notify(ns, "READY=1");
                stop_broker(pid);
                expect_notify(ns, "STOPPING=1");
                close(ns);
                remove_dir(dir);
        }
}
END_TEST

/* covers: (broker) systemd socket activation */
START_TEST(test_socket_activation)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        struct spawn sp = {.foreground = true};
        char dir[64], lock[128];
        int ls, ready, s;
        struct stat st;
        pid_t pid;

        make_dir(dir, sizeof dir);
        ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, NP_BROKER_SOCKET);
        ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(listen(ls, 16), 0);
        sp.listen_fd = ls;
        pid = spawn_broker(dir, &sp, &ready);
        close(ls);
        ck_assert_int_eq(read_ready(ready), '1');
        strcpy(g_dir, dir);
        s = client();
        close(s);
        /* No lock taken under activation... */
        snprintf(lock, sizeof lock, "%s/%s", dir, NP_BROKER_LOCK);
        ck_assert_int_ne(lstat(lock, &st), 0);
        stop_broker(pid);
        /* ...and the socket is systemd's: left in place. */
        ck_assert(sock_exists(dir));
        remove_dir(dir);
}
END_TEST

/* covers: (broker) runtime directory checks */
START_TEST(test_bad_runtime_dir)
{
        struct spawn sp = {.foreground = true, .listen_fd = -1};
        char dir[64];
        int ready, st;
        pid_t pid;

        make_dir(dir, sizeof dir);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        pid = spawn_broker(dir, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), 0); /* closed without "1" */
        st = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        ck_assert(!sock_exists(dir));
        remove_dir(dir);
}
END_TEST

/* covers: issue 4 item 5 (--shared: a directory every user may traverse and
 * a socket every user may connect to, but only in a directory nobody else
 * can write) */
static bool np_socket(const char *npdir, const char *name)
{
        char path[160];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", npdir, name);
        return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600;
}

/* covers: SEC-14 (no socket for an instance that rejects remote clients),
 * NAME-17 (the remote name goes with the last instance) */
START_TEST(test_remote_sockets)
{
        char dir[64], npdir[80], arg[100];
        struct spawn sp = {.foreground = true, .listen_fd = -1, .extra = {arg}};
        struct np_pipe_params pp = defparams();
        uint64_t a, b, r;
        int ready, s;
        pid_t pid;

        make_dir(dir, sizeof dir);
        snprintf(npdir, sizeof npdir, "%s/np", dir);
        ck_assert_int_eq(mkdir(npdir, 0700), 0);
        /* --no-remote wins over --samba-np-dir */
        snprintf(arg, sizeof arg, "--samba-np-dir=%s", npdir);
        sp.extra[1] = "--no-remote";
        pid = spawn_broker(dir, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), '1');
        s = connect_dir(dir);
        hello(s);
        create_ok(s, "Off", &pp);
        ck_assert(!np_socket(npdir, "off"));
        close(s);
        stop_broker(pid);

        sp.extra[1] = NULL;
        pid = spawn_broker(dir, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), '1');
        s = connect_dir(dir);
        hello(s);
        /* the reply to CREATE comes after the socket exists; named by the
         * folded name, as smbd looks it up */
        a = create_ok(s, "Mixed.Case", &pp);
        ck_assert(np_socket(npdir, "mixed.case"));
        b = create_ok(s, "mixed.case", &pp);
        /* an instance that rejects remote clients gets none */
        ck_assert_int_eq(create_x(s, "Rejecting", &pp, NP_CREATE_REJECT_REMOTE, &r, NULL), 0);
        ck_assert(!np_socket(npdir, "rejecting"));
        /* names smbd refuses, or that cannot be a file, get none either */
        create_ok(s, "..", &pp);
        ck_assert(!np_socket(npdir, ".."));
        /* the socket stays while one instance takes remote clients */
        id_req(s, NP_MSG_CLOSE_SERVER, a, 0);
        ck_assert(np_socket(npdir, "mixed.case"));
        id_req(s, NP_MSG_CLOSE_SERVER, b, 0);
        ck_assert(!np_socket(npdir, "mixed.case"));
        /* a stopping broker removes what it made */
        create_ok(s, "Leftover", &pp);
        ck_assert(np_socket(npdir, "leftover"));
        stop_broker(pid); /* while the instance lives */
        ck_assert(!np_socket(npdir, "leftover"));
        close(s);
        remove_dir(npdir);
        remove_dir(dir);
}
END_TEST

START_TEST(test_shared_mode)
{
        struct spawn sp = {.foreground = true, .listen_fd = -1, .extra = {"--shared"}};
        char dir[64], path[128], link[80];
        struct stat st;
        int ready, status, s;
        pid_t pid;

        /* writable by others: refused */
        make_dir(dir, sizeof dir);
        ck_assert_int_eq(chmod(dir, 0777), 0);
        pid = spawn_broker(dir, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), 0);
        status = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        ck_assert(!sock_exists(dir));
        /* a symlink to a good directory: refused too */
        ck_assert_int_eq(chmod(dir, 0755), 0);
        snprintf(link, sizeof link, "%s-link", dir);
        ck_assert_int_eq(symlink(dir, link), 0);
        pid = spawn_broker(link, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), 0);
        status = wait_exit(pid, TIMEOUT_MS);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        ck_assert_int_eq(unlink(link), 0);
        /* ours, 0755 (a private 0700 one is opened up): served */
        ck_assert_int_eq(chmod(dir, 0700), 0);
        pid = spawn_broker(dir, &sp, &ready);
        ck_assert_int_eq(read_ready(ready), '1');
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0755);
        snprintf(path, sizeof path, "%s/%s", dir, NP_BROKER_SOCKET);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0666);
        s = connect_dir(dir);
        hello(s);
        close(s);
        stop_broker(pid);
        remove_dir(dir);
}
END_TEST

static Suite *broker_suite(void)
{
        Suite *s = suite_create("npiped");
        TCase *tc = tcase_create("protocol");
        TCase *tl = tcase_create("lifecycle");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_hello);
        tcase_add_test(tc, test_hello_mismatch);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_proto_error_limit);
        tcase_add_test(tc, test_create_open_list);
        tcase_add_test(tc, test_stats);
        tcase_add_test(tc, test_list);
        tcase_add_test(tc, test_instances);
        tcase_add_test(tc, test_open_access);
        tcase_add_test(tc, test_open_remote_refused);
        tcase_add_test(tc, test_fifo_order);
        tcase_add_test(tc, test_disconnect);
        tcase_add_test(tc, test_no_reply);
        tcase_add_test(tc, test_close_server);
        tcase_add_test(tc, test_wait);
        tcase_add_test(tc, test_wait_limit);
        tcase_add_test(tc, test_death);
        tcase_add_test(tc, test_policy);
        tcase_add_test(tc, test_backpressure);
        tcase_add_test(tc, test_burst);
        tcase_add_test(tc, test_client_limit);
        tcase_add_test(tc, test_fuzz);
        tcase_add_test(tc, test_adopt_listening);
        tcase_add_test(tc, test_adopt_errors);
        tcase_add_test(tc, test_adopt_pair);
        tcase_add_test(tc, test_adopt_dead_peer);
        tcase_add_test(tc, test_uid_share);
        tcase_add_test(tc, test_flood_latency);
        suite_add_tcase(s, tc);

        tcase_set_timeout(tl, 60);
        tcase_add_test(tl, test_race);
        tcase_add_test(tl, test_idle_exit);
        tcase_add_test(tl, test_daemonize);
        tcase_add_test(tl, test_notify);
        tcase_add_test(tl, test_socket_activation);
        tcase_add_test(tl, test_bad_runtime_dir);
        tcase_add_test(tl, test_shared_mode);
        tcase_add_test(tl, test_remote_sockets);
        suite_add_tcase(s, tl);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(broker_suite());
        int failed;

        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
