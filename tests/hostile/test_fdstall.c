/*
 * test_fdstall.c - a local user cannot stall the broker by handing it a
 * descriptor whose close blocks, and a dropped client reads what it was
 * sent (issue 15, points 5 and 8).
 *
 * The weapon: a TCP socket with SO_LINGER {1, 20} and unsent data (its
 * peer, held by the test, never reads and has a tiny receive buffer).
 * Closing the last reference of it waits up to 20 s.  Each test passes
 * it to a private broker in one more way - as a segment, with a request
 * that takes no descriptor, before HELLO, as one of 253 descriptors of a
 * packet, inside a unix socket's queue, in the unread queue of a client
 * the broker drops - closes its own copies at once (the copy in flight
 * keeps it alive, so the test's close is never the last), and then times
 * a LIST round trip on a second connection: it must take less than
 * 100 ms (a broker that closes the socket itself takes 20 s).
 *
 * The other tests: what is not a segment is refused; a dropped client
 * reads its replies then the end of the stream, not ECONNRESET; a flood
 * of refused requests writes few log lines; a close that blocks for good
 * (made with userfaultfd: a pipe whose writer holds its mutex) holds one
 * reaper thread and another takes over; another uid with too many
 * descriptors in the reaper is paused, dropped, and served again later.
 *
 * Every test runs in its own process (CK_FORK) with its own broker,
 * started with --foreground --ready-fd; nothing sleeps to synchronise,
 * every wait is a poll() with a deadline (a burst meant to be queued
 * whole is sent while the broker is stopped with SIGSTOP).
 */
#include <check.h>
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <npipe/npipe.h>

#include "broker/limits.h"
#include "core/ring_layout.h"
#include "os/os.h"
#include "rt.h"

/* The broker must answer this fast while the weapon is being closed. */
#define PROBE_MAX_MS 100
/* Long enough to see the 20 s stall of a broker without the fix. */
#define REPLY_WAIT_MS 30000

static char g_dir[80];
static char g_log[192];
static pid_t g_broker = -1;

/* ---- a private broker ------------------------------------------------------ */

/* npiped --foreground in a private runtime directory (--shared: served to
 * every user), its log (at --log-level=notice) in g_log. */
static void start_broker_as(bool shared)
{
        const char *broker = getenv("NPIPE_BROKER");
        int p[2];

        ck_assert_msg(broker != NULL && *broker, "NPIPE_BROKER is not set");
        snprintf(g_dir, sizeof g_dir, "%s", rt_private_runtime());
        snprintf(g_log, sizeof g_log, "%s/npiped.log", g_dir);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        g_broker = fork();
        ck_assert_int_ge(g_broker, 0);
        if (g_broker == 0) {
                char a1[192], a2[32];
                int fd = dup(p[1]), log = open(g_log, O_WRONLY | O_CREAT | O_APPEND, 0600);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (log < 0 || dup2(log, STDERR_FILENO) < 0)
                        _exit(126);
                snprintf(a1, sizeof a1, "--runtime-dir=%s", g_dir);
                snprintf(a2, sizeof a2, "--ready-fd=%d", fd);
                if (shared)
                        execl(broker, "npiped", "--shared", "--foreground", "--log-level=notice",
                              a1, a2, (char *)NULL);
                else
                        execl(broker, "npiped", "--foreground", "--log-level=notice", a1, a2,
                              (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        ck_assert_int_eq(rt_read_byte(p[0], 10000), '1');
        close(p[0]);
}

static void start_broker(void)
{
        start_broker_as(false);
}

/* Freeze the broker (SIGSTOP, and wait until it is stopped) so that a
 * burst of packets is queued whole before it reads any of them: what
 * follows the packet that gets a client dropped then stays unread. */
static void freeze_broker(void)
{
        int st;

        ck_assert_int_eq(kill(g_broker, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(g_broker, &st, WUNTRACED), g_broker);
        ck_assert(WIFSTOPPED(st));
}

static void thaw_broker(void)
{
        ck_assert_int_eq(kill(g_broker, SIGCONT), 0);
}

/* Room in s for a burst the frozen broker does not read. */
static void big_sndbuf(int s)
{
        int big = 8 << 20;

        if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
                ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
}

/* The broker's log on our stderr (for a failure's diagnosis); returns
 * whether a sanitizer complained in it. */
static bool show_log(void)
{
        char line[2048];
        FILE *f = fopen(g_log, "r");
        bool bad = false;

        if (f == NULL)
                return false;
        while (fgets(line, sizeof line, f) != NULL) {
                if (strstr(line, "Sanitizer") != NULL || strstr(line, "runtime error") != NULL)
                        bad = true;
                if (bad)
                        fputs(line, stderr);
        }
        fclose(f);
        return bad;
}

/* SIGTERM: a clean exit (status 0), and a log no sanitizer wrote in. */
static void stop_broker(void)
{
        int st;

        kill(g_broker, SIGTERM);
        st = rt_wait_exit(g_broker, 10000);
        if (st == -1) {
                rt_dump_stacks(g_broker, "broker");
                rt_kill_reap(g_broker);
        }
        g_broker = -1;
        ck_assert_msg(!show_log(), "the broker's log has sanitizer reports");
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker exit status %#x",
                      st);
}

/* A connection without HELLO. */
static int raw_socket(void)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(s, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", g_dir, NP_BROKER_SOCKET);
        ck_assert_int_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
        return s;
}

static int hello_socket(void)
{
        int s = rt_raw_connect(g_dir);

        ck_assert_int_ge(s, 0);
        return s;
}

/* The status of the reply to req (within REPLY_WAIT_MS), and how long it
 * took in *ms. */
static int reply_status(int s, uint32_t req, int64_t t0, int64_t *ms)
{
        struct rt_pkt p;
        struct np_reply r;

        ck_assert_uint_ne(req, 0);
        ck_assert_int_eq(rt_raw_reply(s, req, &p, NULL, REPLY_WAIT_MS), 1);
        if (ms != NULL)
                *ms = rt_now_ms() - t0;
        if (p.fd >= 0)
                close(p.fd);
        if (p.h.type != NP_MSG_REPLY && p.h.type != NP_MSG_HELLO_REPLY)
                return 0;
        memcpy(&r, p.body, sizeof r);
        return r.status;
}

/* A LIST round trip on s, in ms: the broker's loop is free. */
static int64_t probe(int s)
{
        int64_t t0 = rt_now_ms(), ms;
        uint32_t req = rt_raw_send(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1);

        reply_status(s, req, t0, &ms);
        return ms;
}

#define ASSERT_FAST(ms, what)                                                                      \
        ck_assert_msg((ms) < PROBE_MAX_MS, "%s: the broker took %lld ms (limit %d)", (what),       \
                      (long long)(ms), PROBE_MAX_MS)

/* ---- the weapon -------------------------------------------------------------- */

struct jam {
        int lst, srv, cli;
};

/* A connected TCP socket whose close lingers: SO_LINGER {1, 20}, its send
 * queue full of data its peer (srv, which we keep and never read, with a
 * tiny receive buffer) will not take.  Returns jam->cli. */
static int jam_tcp(struct jam *j)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        struct linger l = {.l_onoff = 1, .l_linger = 20};
        int small = 1024, outq = 0;
        char buf[4096];

        memset(buf, 'j', sizeof buf);
        j->lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(j->lst, 0);
        /* inherited by the accepted socket: a small window */
        ck_assert_int_eq(setsockopt(j->lst, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        ck_assert_int_eq(bind(j->lst, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(listen(j->lst, 1), 0);
        ck_assert_int_eq(getsockname(j->lst, (struct sockaddr *)&a, &len), 0);
        j->cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(j->cli, 0);
        ck_assert_int_eq(setsockopt(j->cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
        ck_assert_int_eq(connect(j->cli, (struct sockaddr *)&a, len), 0);
        j->srv = accept4(j->lst, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(j->srv, 0);
        ck_assert_int_eq(setsockopt(j->cli, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
        ck_assert_int_eq(fcntl(j->cli, F_SETFL, O_NONBLOCK), 0);
        while (send(j->cli, buf, sizeof buf, MSG_NOSIGNAL) > 0) {
        }
        ck_assert_int_eq(errno, EAGAIN);
        /* data the peer has not acknowledged: what the close waits for */
        ck_assert_int_eq(ioctl(j->cli, SIOCOUTQ, &outq), 0);
        ck_assert_int_gt(outq, 0);
        return j->cli;
}

/* The test's own copy goes at once (only after it is in flight: then
 * ours is never the last close). */
static void jam_sent(struct jam *j)
{
        close(j->cli);
        j->cli = -1;
}

/* The broker (its reaper) closed the weapon abortively: our end is reset
 * (POLLERR/POLLHUP; POLLIN, always there, is not asked for).  Returns the
 * ms it took from `since`, or -1 if not within timeout_ms. */
static int64_t jam_reset_ms(struct jam *j, int64_t since, int timeout_ms)
{
        struct pollfd p = {.fd = j->srv, .events = 0};

        if (poll(&p, 1, timeout_ms) != 1 || !(p.revents & (POLLERR | POLLHUP)))
                return -1;
        return rt_now_ms() - since;
}

static void jam_free(struct jam *j)
{
        /* the weapon really was closed, and at once: not left to a
         * reaper thread lingering for 20 s */
        if (j->cli < 0)
                ck_assert_msg(jam_reset_ms(j, rt_now_ms(), 5000) >= 0,
                              "the weapon was not closed within 5 s");
        if (j->cli >= 0)
                close(j->cli);
        close(j->srv);
        close(j->lst);
}

/* ---- requests ---------------------------------------------------------------- */

static uint32_t send_create(int s, const char *bare, int fd)
{
        struct np_create c;

        memset(&c, 0, sizeof c);
        c.params.type = NPIPE_TYPE_MESSAGE;
        c.params.dir = NPIPE_DUPLEX;
        c.params.in_quota = c.params.out_quota = 4096;
        c.name_len = (uint32_t)strlen(bare);
        return rt_raw_send(s, NP_MSG_CREATE, &c, sizeof c, bare, c.name_len, fd);
}

static uint32_t send_open(int s, const char *bare, int fd)
{
        struct np_open o = {.access = NP_ACCESS_READ, .name_len = (uint32_t)strlen(bare)};

        return rt_raw_send(s, NP_MSG_OPEN, &o, sizeof o, bare, o.name_len, fd);
}

static uint32_t send_listen(int s, int fd)
{
        struct np_instance_req r = {.instance_id = 12345};

        return rt_raw_send(s, NP_MSG_LISTEN, &r, sizeof r, NULL, 0, fd);
}

/* One packet (a LIST request) with n descriptors. */
static uint32_t send_list_fds(int s, const int *fds, size_t n)
{
        static uint32_t req = 900000;
        struct np_hdr h = {
            .type = NP_MSG_LIST, .version = NP_PROTO_VERSION, .len = sizeof h, .req_id = ++req};
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(NP_FDPASS_SCM_MAX * sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof h};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        struct cmsghdr *cm;

        ck_assert_uint_le(n, NP_FDPASS_SCM_MAX);
        memset(&ctl, 0, sizeof ctl);
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
        ck_assert_int_eq(sendmsg(s, &msg, MSG_NOSIGNAL), (ssize_t)sizeof h);
        return h.req_id;
}

/* A packet of an unknown type: a protocol error. */
static uint32_t send_garbage(int s, int fd)
{
        return rt_raw_send(s, 222, NULL, 0, NULL, 0, fd);
}

/* ---- (a) the weapon as a segment ----------------------------------------------- */

/* covers: issue 15 (point 5, variant a: a lingering TCP socket as the
 * segment of CREATE, OPEN and LISTEN) */
START_TEST(test_stall_segment)
{
        int s, probe_s;

        start_broker();
        s = hello_socket();
        probe_s = hello_socket();
        for (int kind = 0; kind < 3; kind++) {
                static const char *const what[] = {"CREATE", "OPEN", "LISTEN"};
                struct jam j;
                int64_t t0, ms;
                uint32_t req;
                int fd = jam_tcp(&j);

                t0 = rt_now_ms();
                req = kind == 0   ? send_create(s, "fdstall-a", fd)
                      : kind == 1 ? send_open(s, "fdstall-a", fd)
                                  : send_listen(s, fd);
                jam_sent(&j);
                ck_assert_int_eq(reply_status(s, req, t0, &ms), NPIPE_EINVAL);
                ASSERT_FAST(ms, what[kind]);
                ASSERT_FAST(probe(probe_s), what[kind]);
                jam_free(&j);
        }
        close(s);
        close(probe_s);
        stop_broker();
}
END_TEST

/* ---- (b) with a request that takes none, or before HELLO ------------------------- */

/* covers: issue 15 (point 5, variant b: the socket with LIST, with a
 * malformed packet, with HELLO, and before HELLO) */
START_TEST(test_stall_wrong_request)
{
        int probe_s, s;

        start_broker();
        probe_s = hello_socket();
        for (int kind = 0; kind < 4; kind++) {
                static const char *const what[] = {"LIST", "garbage", "HELLO", "before HELLO"};
                struct np_hello hello = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
                struct jam j;
                int64_t t0, ms;
                uint32_t req;
                int fd = jam_tcp(&j);

                s = kind < 2 ? hello_socket() : raw_socket();
                t0 = rt_now_ms();
                req = kind == 0   ? rt_raw_send(s, NP_MSG_LIST, NULL, 0, NULL, 0, fd)
                      : kind == 1 ? send_garbage(s, fd)
                      : kind == 2 ? rt_raw_send(s, NP_MSG_HELLO, &hello, sizeof hello, NULL, 0, fd)
                                  : rt_raw_send(s, NP_MSG_LIST, NULL, 0, NULL, 0, fd);
                jam_sent(&j);
                ck_assert_int_eq(reply_status(s, req, t0, &ms), NPIPE_EPROTO);
                ASSERT_FAST(ms, what[kind]);
                ASSERT_FAST(probe(probe_s), what[kind]);
                close(s);
                jam_free(&j);
        }
        close(probe_s);
        stop_broker();
}
END_TEST

/* ---- (c) one of 253 descriptors -------------------------------------------------- */

/* covers: issue 15 (point 5, variant c: SCM_MAX_FD descriptors in one
 * packet, the weapon beyond the 16 the broker used to make room for, so
 * that the kernel released it inside the broker's recvmsg) */
START_TEST(test_stall_many_fds)
{
        int fds[NP_FDPASS_SCM_MAX], s, probe_s, seg;
        struct jam j;
        int64_t t0, ms;
        uint32_t req;

        start_broker();
        s = hello_socket();
        probe_s = hello_socket();
        seg = rt_segment(NP_RING_MIN, NP_ROLE_SERVER);
        jam_tcp(&j);
        for (int i = 0; i < NP_FDPASS_SCM_MAX; i++)
                fds[i] = i < 16 ? seg : j.cli;
        t0 = rt_now_ms();
        req = send_list_fds(s, fds, NP_FDPASS_SCM_MAX);
        jam_sent(&j);
        close(seg);
        ck_assert_int_eq(reply_status(s, req, t0, &ms), NPIPE_EPROTO);
        ASSERT_FAST(ms, "253 descriptors");
        ASSERT_FAST(probe(probe_s), "253 descriptors");
        /* and once more, the weapon first */
        jam_free(&j);
        jam_tcp(&j);
        for (int i = 0; i < NP_FDPASS_SCM_MAX; i++)
                fds[i] = j.cli;
        t0 = rt_now_ms();
        req = send_list_fds(s, fds, NP_FDPASS_SCM_MAX);
        jam_sent(&j);
        ck_assert_int_eq(reply_status(s, req, t0, &ms), NPIPE_EPROTO);
        ASSERT_FAST(ms, "253 times the weapon");
        ASSERT_FAST(probe(probe_s), "253 times the weapon");
        jam_free(&j);
        close(s);
        close(probe_s);
        stop_broker();
}
END_TEST

/* ---- (d) inside a unix socket ------------------------------------------------------ */

/* Send fd over sock (SCM_RIGHTS, one byte): the library's own sender. */
static void send_fd(int sock, int fd)
{
        ck_assert_int_eq(np_send_packet(sock, "x", 1, fd), 0);
}

/* covers: issue 15 (point 5, variant d: the weapon in the receive queue
 * of a unix socket given as a segment - of a connected one, of one two
 * sockets deep, of a connection still waiting in a listening socket's
 * backlog - whose close would release it in the closer's context) */
START_TEST(test_stall_nested)
{
        int s, probe_s;

        start_broker();
        s = hello_socket();
        probe_s = hello_socket();
        for (int kind = 0; kind < 4; kind++) {
                static const char *const what[] = {"in a seqpacket socket", "in a stream socket",
                                                   "two sockets deep", "in a listener's backlog"};
                struct jam j;
                int sv[2], outer[2] = {-1, -1}, carrier, lst = -1;
                int64_t t0, ms;
                uint32_t req;

                jam_tcp(&j);
                if (kind < 3) {
                        ck_assert_int_eq(
                            socketpair(AF_UNIX,
                                       (kind == 1 ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0,
                                       sv),
                            0);
                        send_fd(sv[0], j.cli);
                        carrier = sv[1];
                        if (kind == 2) {
                                ck_assert_int_eq(
                                    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, outer), 0);
                                send_fd(outer[0], sv[1]);
                                close(sv[1]);
                                carrier = outer[1];
                        }
                } else {
                        struct sockaddr_un a = {.sun_family = AF_UNIX};

                        /* abstract name: nothing to clean up */
                        snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "fdstall-%ld",
                                 (long)getpid());
                        lst = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        ck_assert_int_ge(lst, 0);
                        ck_assert_int_eq(bind(lst, (struct sockaddr *)&a, sizeof a), 0);
                        ck_assert_int_eq(listen(lst, 4), 0);
                        sv[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        ck_assert_int_eq(connect(sv[0], (struct sockaddr *)&a, sizeof a), 0);
                        /* queued in the not yet accepted connection */
                        send_fd(sv[0], j.cli);
                        sv[1] = -1;
                        carrier = lst;
                }
                jam_sent(&j);
                t0 = rt_now_ms();
                req = send_create(s, "fdstall-d", carrier);
                close(carrier);
                close(sv[0]);
                if (outer[0] >= 0)
                        close(outer[0]);
                ck_assert_int_eq(reply_status(s, req, t0, &ms), NPIPE_EINVAL);
                ASSERT_FAST(ms, what[kind]);
                ASSERT_FAST(probe(probe_s), what[kind]);
                jam_free(&j);
        }
        close(s);
        close(probe_s);
        stop_broker();
}
END_TEST

/* ---- (e) in the unread queue of a dropped client ----------------------------------- */

/* Read from s until the end of the stream: how many replies came, and
 * that it ended with 0 rather than an error (ECONNRESET). */
static int replies_then_eof(int s, int *replies)
{
        int64_t end = rt_now_ms() + REPLY_WAIT_MS;
        unsigned char buf[NP_PROTO_MAX_PACKET];

        *replies = 0;
        for (;;) {
                struct pollfd p = {.fd = s, .events = POLLIN};
                int left = (int)(end - rt_now_ms()), fd = -1;
                ssize_t n;

                if (left <= 0 || poll(&p, 1, left) != 1)
                        return -ETIMEDOUT;
                n = np_recv_packet(s, buf, sizeof buf, &fd, MSG_DONTWAIT);
                if (fd >= 0)
                        close(fd);
                if (n <= 0)
                        return (int)n;
                (*replies)++;
        }
}

/* covers: issue 15 (point 5, variant e: packets carrying the weapon left
 * unread in a client's queue when the broker drops it - after too many
 * protocol errors, after a missing HELLO, and more of them than the broker
 * drains itself - must not be released in the broker's context) */
START_TEST(test_stall_client_queue)
{
        int probe_s;

        start_broker();
        probe_s = hello_socket();
        for (int kind = 0; kind < 3; kind++) {
                static const char *const what[] = {"protocol errors", "no hello", "long queue"};
                int s = kind == 1 ? raw_socket() : hello_socket();
                int errs = kind == 1 ? 1 : NP_LIM_PROTO_ERRORS + 1;
                int extra = kind == 2 ? (int)NP_LIM_CLOSE_DRAIN + 64 : 8, replies;
                struct jam j;
                int64_t t0, ms;

                big_sndbuf(s);
                jam_tcp(&j);
                freeze_broker();
                for (int i = 0; i < errs; i++)
                        ck_assert_uint_ne(send_garbage(s, -1), 0);
                /* the broker stops reading at the last error: these stay */
                for (int i = 0; i < extra; i++)
                        ck_assert_uint_ne(rt_raw_send(s, NP_MSG_LIST, NULL, 0, NULL, 0, j.cli), 0);
                jam_sent(&j);
                t0 = rt_now_ms();
                thaw_broker();
                ck_assert_int_eq(replies_then_eof(s, &replies), 0);
                ck_assert_int_eq(replies, errs);
                ms = rt_now_ms() - t0;
                ASSERT_FAST(ms, what[kind]);
                ASSERT_FAST(probe(probe_s), what[kind]);
                close(s);
                jam_free(&j);
        }
        close(probe_s);
        stop_broker();
}
END_TEST

/* ---- what is not a segment --------------------------------------------------------- */

/* covers: issue 15 (point 5: only a memfd sealed as the library seals it,
 * open read-write, is a segment; a tmpfs file without seals, a memfd
 * with F_SEAL_WRITE alone or unsealed, a read-only one or an oversized
 * one are refused with NPIPE_EINVAL) */
START_TEST(test_not_a_segment)
{
        int s, fd, st;
        char proc[64];

        start_broker();
        s = hello_socket();

        /* a memfd that cannot be sealed (F_SEAL_SEAL alone) */
        fd = memfd_create("fdstall", MFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, NP_SEG_HDR_SIZE + NP_RING_MIN), 0);
        ck_assert_int_eq(reply_status(s, send_create(s, "fdstall-s", fd), rt_now_ms(), NULL),
                         NPIPE_EINVAL);
        close(fd);

        /* a tmpfs file that is not a memfd */
        fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0) {
                ck_assert_int_eq(ftruncate(fd, NP_SEG_HDR_SIZE + NP_RING_MIN), 0);
                ck_assert_int_eq(
                    reply_status(s, send_create(s, "fdstall-s", fd), rt_now_ms(), NULL),
                    NPIPE_EINVAL);
                close(fd);
        }

        /* sealed, but with F_SEAL_WRITE alone */
        fd = memfd_create("fdstall", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, NP_SEG_HDR_SIZE + NP_RING_MIN), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
        ck_assert_int_eq(reply_status(s, send_create(s, "fdstall-s", fd), rt_now_ms(), NULL),
                         NPIPE_EINVAL);
        close(fd);

        /* sealed like a segment, but not sealed against growing... */
        fd = memfd_create("fdstall", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, NP_SEG_HDR_SIZE + NP_RING_MIN), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
                         0);
        ck_assert_int_eq(reply_status(s, send_create(s, "fdstall-s", fd), rt_now_ms(), NULL),
                         NPIPE_EINVAL);
        close(fd);

        /* ...larger than any segment... */
        fd = memfd_create("fdstall", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)NP_SEG_HDR_SIZE + NP_RING_MAX + 4096), 0);
        ck_assert_int_eq(
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
            0);
        ck_assert_int_eq(reply_status(s, send_create(s, "fdstall-s", fd), rt_now_ms(), NULL),
                         NPIPE_EINVAL);
        close(fd);

        /* ...or a real segment opened read-only */
        st = rt_segment(NP_RING_MIN, NP_ROLE_SERVER);
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", st);
        fd = open(proc, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(reply_status(s, send_create(s, "fdstall-s", fd), rt_now_ms(), NULL),
                         NPIPE_EINVAL);
        close(fd);

        /* the real one is taken (the broker did not drop us: our uid is
         * its own) */
        {
                struct rt_pkt p;
                uint32_t req = send_create(s, "fdstall-s", st);

                ck_assert_int_eq(rt_raw_reply(s, req, &p, NULL, REPLY_WAIT_MS), 1);
                ck_assert_uint_eq(p.h.type, NP_MSG_CREATE_REPLY);
                ck_assert_int_eq(((struct np_create_reply *)(void *)p.body)->status, 0);
        }
        close(st);
        close(s);
        stop_broker();
}
END_TEST

/* ---- a dropped client reads its replies, then the end ------------------------------- */

/* covers: issue 15 (point 8: a client dropped for protocol errors with
 * packets still unread reads every reply sent to it, the last one
 * included, then the end of the stream - not ECONNRESET) */
START_TEST(test_dropped_reads_eof)
{
        int s, replies;

        start_broker();
        s = hello_socket();
        freeze_broker();
        for (unsigned i = 0; i < NP_LIM_PROTO_ERRORS + 1; i++)
                ck_assert_uint_ne(send_garbage(s, -1), 0);
        /* unread by the broker when it drops us */
        for (int i = 0; i < 32; i++)
                ck_assert_uint_ne(send_garbage(s, -1), 0);
        thaw_broker();
        ck_assert_int_eq(replies_then_eof(s, &replies), 0);
        ck_assert_int_eq(replies, NP_LIM_PROTO_ERRORS + 1);
        close(s);
        /* the library reports it as a lost broker: a new connection works */
        s = hello_socket();
        ASSERT_FAST(probe(s), "after a drop");
        close(s);
        stop_broker();
}
END_TEST

/* ---- the log of a flood ------------------------------------------------------------- */

static int count_lines(const char *path, const char *needle, int *total)
{
        char line[2048];
        FILE *f = fopen(path, "r");
        int n = 0;

        ck_assert_ptr_nonnull(f);
        *total = 0;
        while (fgets(line, sizeof line, f) != NULL) {
                (*total)++;
                if (strstr(line, needle) != NULL)
                        n++;
        }
        fclose(f);
        return n;
}

/* covers: issue 15 (point 8: a flood of refused requests - processes
 * dropped for protocol errors, connections without HELLO - writes at most
 * NP_LOG_BURST lines per kind at the default level, notice) */
START_TEST(test_log_flood)
{
        enum { FLOOD = 40 };
        int probe_s, dropped, nohello, total;

        start_broker();
        for (int i = 0; i < FLOOD; i++) {
                int s = hello_socket(), replies;

                for (unsigned k = 0; k < NP_LIM_PROTO_ERRORS + 1; k++)
                        ck_assert_uint_ne(send_garbage(s, -1), 0);
                ck_assert_int_eq(replies_then_eof(s, &replies), 0);
                close(s);
                s = raw_socket();
                ck_assert_uint_ne(rt_raw_send(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1), 0);
                ck_assert_int_eq(replies_then_eof(s, &replies), 0);
                ck_assert_int_eq(replies, 1);
                close(s);
        }
        /* every line of the flood is written before this is answered */
        probe_s = hello_socket();
        probe(probe_s);
        close(probe_s);
        dropped = count_lines(g_log, "too many protocol errors", &total);
        nohello = count_lines(g_log, "no hello", &total);
        ck_assert_int_ge(dropped, 1);
        ck_assert_int_ge(nohello, 1);
        ck_assert_msg(dropped <= (int)NP_LOG_BURST && nohello <= (int)NP_LOG_BURST,
                      "%d + %d lines for %d + %d events (limit %u each)", dropped, nohello, FLOOD,
                      FLOOD, NP_LOG_BURST);
        ck_assert_int_le(total, 2 * (int)NP_LOG_BURST + 4);
        stop_broker();
}
END_TEST

/* ---- a close that blocks for as long as we like ---------------------------------- */

/* A pipe whose mutex is held: a thread writes to it from a page that is
 * missing under userfaultfd, so pipe_write() waits for us with the mutex
 * held, and the last close of the read end (pipe_release) waits too.  A
 * stand-in for a FUSE file whose daemon does not answer. */
struct blocker {
        int uffd;
        void *page;
        int p[2];
        pthread_t writer;
};

static void *blocker_writer(void *arg)
{
        struct blocker *k = arg;

        if (write(k->p[1], k->page, 4096) < 0) {
                /* the test is over */
        }
        return NULL;
}

/* false: userfaultfd is not available here (the caller skips). */
static bool blocker_start(struct blocker *k)
{
        struct uffdio_api api = {.api = UFFD_API};
        struct uffdio_register reg;
        struct uffd_msg msg;
        struct pollfd p;

        k->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (k->uffd < 0)
                return false;
        if (ioctl(k->uffd, UFFDIO_API, &api) < 0) {
                close(k->uffd);
                return false;
        }
        k->page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(k->page, MAP_FAILED);
        memset(&reg, 0, sizeof reg);
        reg.range.start = (uintptr_t)k->page;
        reg.range.len = 4096;
        reg.mode = UFFDIO_REGISTER_MODE_MISSING;
        ck_assert_int_eq(ioctl(k->uffd, UFFDIO_REGISTER, &reg), 0);
        ck_assert_int_eq(pipe2(k->p, O_CLOEXEC), 0);
        ck_assert_int_eq(pthread_create(&k->writer, NULL, blocker_writer, k), 0);
        /* the writer is inside pipe_write, mutex held, once it faults */
        p.fd = k->uffd;
        p.events = POLLIN;
        ck_assert_int_eq(poll(&p, 1, 10000), 1);
        ck_assert_int_eq(read(k->uffd, &msg, sizeof msg), (ssize_t)sizeof msg);
        ck_assert_uint_eq(msg.event, UFFD_EVENT_PAGEFAULT);
        return true;
}

static void blocker_release(struct blocker *k)
{
        struct uffdio_zeropage z;

        memset(&z, 0, sizeof z);
        z.range.start = (uintptr_t)k->page;
        z.range.len = 4096;
        ck_assert_int_eq(ioctl(k->uffd, UFFDIO_ZEROPAGE, &z), 0);
        ck_assert_int_eq(pthread_join(k->writer, NULL), 0);
        close(k->p[1]);
        close(k->uffd);
        munmap(k->page, 4096);
}

/* covers: issue 15 (point 5: a close that blocks for good - a FUSE file
 * whose daemon never answers - holds one reaper thread only; another
 * starts after NP_REAP_SLOW_MS and closes what follows; the loop is never
 * held) */
START_TEST(test_reaper_pool)
{
        struct blocker k;
        struct jam j;
        int s, probe_s;
        int64_t t0, ms;
        uint32_t req;

        if (geteuid() != 0) {
                fprintf(stderr, "test_reaper_pool: skipped (not root)\n");
                return; /* userfaultfd of kernel faults needs privilege */
        }
        start_broker();
        s = hello_socket();
        probe_s = hello_socket();
        if (!blocker_start(&k)) {
                fprintf(stderr, "test_reaper_pool: skipped (no userfaultfd)\n");
                stop_broker();
                return;
        }
        /* the reaper's first thread gets stuck closing the pipe; the
         * broker is frozen until our copy is closed, so that its close is
         * the last one (the one that blocks), never ours */
        freeze_broker();
        req = send_create(s, "fdstall-p", k.p[0]);
        close(k.p[0]);
        thaw_broker();
        ck_assert_int_eq(reply_status(s, req, rt_now_ms(), NULL), NPIPE_EINVAL);
        ASSERT_FAST(probe(probe_s), "reaper stuck");
        /* the weapon waits behind it until a second thread starts */
        t0 = rt_now_ms();
        ck_assert_int_eq(reply_status(s, send_create(s, "fdstall-p", jam_tcp(&j)), t0, &ms),
                         NPIPE_EINVAL);
        jam_sent(&j);
        ASSERT_FAST(ms, "reaper stuck, weapon");
        ASSERT_FAST(probe(probe_s), "reaper stuck, weapon");
        ms = jam_reset_ms(&j, t0, 5000);
        fprintf(stderr, "test_reaper_pool: the weapon was closed after %lld ms\n", (long long)ms);
        ck_assert_msg(ms >= NP_REAP_SLOW_MS - 5 && ms < 2000,
                      "the weapon was closed after %lld ms (a second thread is due after %d ms)",
                      (long long)ms, NP_REAP_SLOW_MS);
        jam_free(&j);
        ASSERT_FAST(probe(probe_s), "after the second thread");
        /* let the first thread go (a thread in pipe_release cannot die) */
        blocker_release(&k);
        ASSERT_FAST(probe(probe_s), "released");
        close(s);
        close(probe_s);
        stop_broker();
}
END_TEST

/* The attacker of test_uid_pause, as nobody: the exit code says which
 * step failed. */
static int pause_attacker(const int *pipes, int npipes, int ctl_out, int ctl_in)
{
        int c1, c2, c4, nulls[40], replies;
        struct rt_pkt p;
        uint32_t req, reqs[NP_REAP_THREADS_MAX];
        char ch;

        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                return 10;
        c1 = rt_raw_connect(g_dir);
        c2 = rt_raw_connect(g_dir);
        if (c1 < 0 || c2 < 0)
                return 11;
        /* every reaper thread gets stuck on one of these: sent while the
         * parent holds the broker frozen, and our copies closed before it
         * runs, so that the broker's close of each is the last one */
        if (write(ctl_out, "c", 1) != 1 || read(ctl_in, &ch, 1) != 1)
                return 18;
        for (int i = 0; i < npipes; i++) {
                reqs[i] = send_create(c1, "fdstall-u", pipes[i]);
                close(pipes[i]);
        }
        if (write(ctl_out, "s", 1) != 1)
                return 18;
        for (int i = 0; i < npipes; i++)
                if (reply_status(c1, reqs[i], rt_now_ms(), NULL) != NPIPE_EINVAL)
                        return 12;
        /* 40 more in one packet: over NP_LIM_REAP_PER_UID, dropped */
        for (int i = 0; i < 40; i++)
                nulls[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        send_list_fds(c1, nulls, 40);
        for (int i = 0; i < 40; i++)
                close(nulls[i]);
        if (replies_then_eof(c1, &replies) != 0 || replies != 1)
                return 13;
        close(c1);
        /* the uid's other process is not read meanwhile */
        req = rt_raw_send(c2, NP_MSG_LIST, NULL, 0, NULL, 0, -1);
        if (req == 0 || rt_raw_reply(c2, req, &p, NULL, 300) != -ETIMEDOUT)
                return 14;
        /* gone with a request unread: its socket waits in the reaper too,
         * and the uid's record with no process left */
        close(c2);
        if (write(ctl_out, "1", 1) != 1 || read(ctl_in, &ch, 1) != 1)
                return 15;
        /* the reaper is free again: the uid is served */
        c4 = rt_raw_connect(g_dir);
        if (c4 < 0)
                return 16;
        req = rt_raw_send(c4, NP_MSG_LIST, NULL, 0, NULL, 0, -1);
        if (rt_raw_reply(c4, req, &p, NULL, 5000) != 1)
                return 17;
        close(c4);
        return 0;
}

/* covers: issue 15 (point 5: descriptors waiting in the reaper are charged
 * to the uid that sent them; over NP_LIM_REAP_PER_UID another uid is not
 * read from and the sender of more is dropped; it is served again, and
 * its accounting freed, once the reaper is done - while the broker's own
 * uid is served throughout) */
START_TEST(test_uid_pause)
{
        struct blocker k[NP_REAP_THREADS_MAX];
        int pipes[NP_REAP_THREADS_MAX], up[2], down[2], probe_s, st;
        pid_t pid;
        unsigned nk = 0;

        if (geteuid() != 0) {
                fprintf(stderr, "test_uid_pause: skipped (not root)\n");
                return; /* needs another user, and userfaultfd */
        }
        start_broker_as(true);
        probe_s = hello_socket();
        for (nk = 0; nk < NP_REAP_THREADS_MAX; nk++) {
                if (!blocker_start(&k[nk])) {
                        ck_assert_uint_eq(nk, 0);
                        fprintf(stderr, "test_uid_pause: skipped (no userfaultfd)\n");
                        stop_broker();
                        return;
                }
                pipes[nk] = k[nk].p[0];
        }
        ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(pause_attacker(pipes, (int)nk, up[1], down[0]));
        close(up[1]);
        close(down[0]);
        for (unsigned i = 0; i < nk; i++)
                close(pipes[i]);
        /* the broker frozen while the attacker sends the pipes and closes
         * its copies (pause_attacker) */
        ck_assert_int_eq(rt_read_byte(up[0], 10000), 'c');
        freeze_broker();
        ck_assert_int_eq(write(down[1], "f", 1), 1);
        ck_assert_int_eq(rt_read_byte(up[0], 10000), 's');
        thaw_broker();
        /* the attacker's uid is paused, the reaper stuck: we are served */
        ck_assert_int_eq(rt_read_byte(up[0], 60000), '1');
        ASSERT_FAST(probe(probe_s), "another uid paused");
        for (unsigned i = 0; i < nk; i++)
                blocker_release(&k[i]);
        ck_assert_int_eq(write(down[1], "1", 1), 1);
        st = rt_wait_exit(pid, 20000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "attacker: %#x", st);
        ASSERT_FAST(probe(probe_s), "after the pause");
        close(up[0]);
        close(down[1]);
        close(probe_s);
        stop_broker();
}
END_TEST

int main(void)
{
        Suite *s = suite_create("fdstall");
        TCase *tc = tcase_create("stall");
        SRunner *sr;
        int failed;

        signal(SIGPIPE, SIG_IGN);
        /* a broker without the fix takes 20 s per weapon: let it fail on
         * the time assertions rather than on this timeout */
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_stall_segment);
        tcase_add_test(tc, test_stall_wrong_request);
        tcase_add_test(tc, test_stall_many_fds);
        tcase_add_test(tc, test_stall_nested);
        tcase_add_test(tc, test_stall_client_queue);
        tcase_add_test(tc, test_not_a_segment);
        tcase_add_test(tc, test_dropped_reads_eof);
        tcase_add_test(tc, test_log_flood);
        tcase_add_test(tc, test_reaper_pool);
        tcase_add_test(tc, test_uid_pause);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
