/*
 * relay.c - the SMB relay: one thread that carries every remote client.
 *
 * For each socket smbd connected to (remote.c accepted it), the relay
 *
 *   1. reads the named_pipe_auth request (npa.c decodes it) within
 *      NP_REMOTE_HANDSHAKE_MS, and closes the socket on anything it does
 *      not understand: closing is the only refusal smbd knows;
 *   2. opens the pipe as an ordinary client with NP_MSG_OPEN_REMOTE, which
 *      carries the SMB user, so the broker checks the pipe's policy against
 *      that user and the server hears who came;
 *   3. answers the handshake at once: smbd blocks the client's whole SMB
 *      connection until it has the answer.  When every instance is busy
 *      it still answers (Samba has no way to say "busy") and retries the
 *      open until an instance is free or the client gives up; the client's
 *      data waits in the socket meanwhile;
 *   4. then copies data both ways: in message mode every message is a
 *      u16 little-endian length plus the bytes, in byte mode bytes are raw.
 *
 * The thread never blocks on one connection: sockets are non-blocking in
 * one epoll set, and the pipe side uses the library's overlapped engine
 * (async.h), whose callbacks only queue the connection for this thread and
 * poke an eventfd.  Each direction has one buffer and at most one
 * operation in flight: a socket is read only when the previous message
 * went into the pipe, a pipe only when the previous one went out to the
 * socket, so a peer that stops reading holds back its own connection and
 * nothing else.
 */
#include "broker/relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/limits.h"
#include "client/async.h"
#include "client/client.h"
#include "npipe/npipe.h"
#include "remote/npa.h"

#define MSG_MAX 65535u /* the u16 length prefix */

enum rstate { R_HANDSHAKE, R_WAITING, R_LIVE };

struct rconn {
        struct rconn *prev, *next; /* every connection (relay thread only) */
        struct rconn *rnext;       /* the ready list (under R.lock) */
        bool on_ready;
        bool rd_done, wr_done; /* completions not yet handled (under R.lock) */
        int rd_status, wr_status;
        size_t rd_bytes;

        int fd;
        char *name;
        bool msg; /* message-type pipe: u16 framing */
        bool can_read, can_write; /* the pipe's direction, seen from the client */
        enum rstate st;
        int64_t deadline_ns; /* the handshake's */
        int64_t retry_ns;    /* R_WAITING: next open attempt */
        int retry_ms;        /* R_WAITING: the interval, doubling */
        uint32_t events;     /* epoll interest registered */
        uint32_t level;
        struct np_remote_id *id;

        uint8_t *hs; /* handshake bytes while R_HANDSHAKE */
        size_t hs_len, hs_need;

        npipe_t *h;
        char rd_ctx, wr_ctx; /* their addresses name the operations (async.h) */
        bool rd_pending, wr_pending;
        bool eof;  /* smbd hung up with data still to carry to the pipe: out of
                    * epoll (hang-ups are level-triggered); nothing more goes to
                    * the socket */
        bool dead; /* closed; waiting for callbacks still on their way */

        /* pipe -> socket */
        size_t out_off, out_len;
        uint8_t out[2 + MSG_MAX + 1];
        /* socket -> pipe */
        size_t in_len;
        uint8_t in[2 + MSG_MAX + 1];
};

static struct {
        pthread_t thread;
        bool running;
        int epfd, efd;
        pthread_mutex_t lock;
        struct rconn *ready;    /* completed operations, under lock */
        struct rconn *incoming; /* submitted sockets, under lock (linked by rnext) */
        _Atomic unsigned count; /* connections alive */
        _Atomic bool stop;
        struct rconn *all;
        struct rconn *graveyard; /* freed after the epoll batch (linked by rnext) */
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .efd = -1};

static void poke(void)
{
        uint64_t one = 1;

        if (write(R.efd, &one, sizeof one) < 0) {
                /* the counter is only saturated: the thread wakes anyway */
        }
}

/* ---- completions (on the library's completion thread) -------------------- */

static void push_ready_locked(struct rconn *rc)
{
        if (!rc->on_ready) {
                rc->on_ready = true;
                rc->rnext = R.ready;
                R.ready = rc;
        }
}

static void rd_cb(void *ctx, int status, size_t bytes)
{
        struct rconn *rc = (struct rconn *)((char *)ctx - offsetof(struct rconn, rd_ctx));

        pthread_mutex_lock(&R.lock);
        rc->rd_done = true;
        rc->rd_status = status;
        rc->rd_bytes = bytes;
        push_ready_locked(rc);
        pthread_mutex_unlock(&R.lock);
        poke();
}

static void wr_cb(void *ctx, int status, size_t bytes)
{
        struct rconn *rc = (struct rconn *)((char *)ctx - offsetof(struct rconn, wr_ctx));

        (void)bytes;
        pthread_mutex_lock(&R.lock);
        rc->wr_done = true;
        rc->wr_status = status;
        push_ready_locked(rc);
        pthread_mutex_unlock(&R.lock);
        poke();
}

/* ---- connections -------------------------------------------------------- */

static void set_events(struct rconn *rc)
{
        uint32_t want = 0;

        if (rc->eof)
                return; /* out of the epoll set: hang-ups are level-triggered */
        if (rc->st == R_HANDSHAKE || (rc->st == R_LIVE && !rc->wr_pending))
                want |= EPOLLIN;
        if (rc->st == R_WAITING)
                want |= EPOLLRDHUP;
        if (rc->out_len > rc->out_off)
                want |= EPOLLOUT;
        if (want != rc->events) {
                struct epoll_event ev = {.events = want, .data.ptr = rc};

                epoll_ctl(R.epfd, EPOLL_CTL_MOD, rc->fd, &ev);
                rc->events = want;
        }
}

/* Events later in the current epoll batch may still name rc: its memory
 * goes only after the batch (bury), and they see rc->dead. */
static void rconn_destroy(struct rconn *rc)
{
        rc->rnext = R.graveyard;
        R.graveyard = rc;
        atomic_fetch_sub(&R.count, 1);
}

static void bury(void)
{
        while (R.graveyard != NULL) {
                struct rconn *rc = R.graveyard;

                R.graveyard = rc->rnext;
                free(rc->hs);
                free(rc->id);
                free(rc->name);
                free(rc);
        }
}

/* End a connection.  Its memory lives on while a completion callback is
 * still on its way: an operation the completion thread had already
 * finished when we cancelled is not cancelled, and its callback runs
 * later (exactly once, async.h).  handle_ready frees such a zombie when
 * the last one arrived. */
static void rconn_free(struct rconn *rc)
{
        bool gone;

        if (rc->h != NULL) {
                /* callbacks of the operations this cancels run before it
                 * returns; after the close no new operation can start */
                np_async_cancel_all(rc->h);
                npipe_close(rc->h);
                rc->h = NULL;
        }
        if (rc->prev != NULL)
                rc->prev->next = rc->next;
        else if (R.all == rc)
                R.all = rc->next;
        if (rc->next != NULL)
                rc->next->prev = rc->prev;
        rc->prev = rc->next = NULL;
        close(rc->fd); /* smbd: the client's next call fails, PIPE_DISCONNECTED */
        rc->fd = -1;
        rc->dead = true;

        pthread_mutex_lock(&R.lock);
        if (rc->rd_done)
                rc->rd_pending = false;
        if (rc->wr_done)
                rc->wr_pending = false;
        rc->rd_done = rc->wr_done = false;
        gone = !rc->rd_pending && !rc->wr_pending;
        if (gone)
                for (struct rconn **pp = &R.ready; *pp != NULL; pp = &(*pp)->rnext)
                        if (*pp == rc) {
                                *pp = rc->rnext;
                                break;
                        }
        pthread_mutex_unlock(&R.lock);
        if (gone)
                rconn_destroy(rc);
}

static void fail(struct rconn *rc, const char *why)
{
        np_log(LOG_DEBUG, "remote client of %s: %s", rc->name, why);
        rconn_free(rc);
}

/* smbd hung up, but what the client wrote before it closed its handle
 * must still reach the server (CLOSE-01): keep reading the socket to its
 * end, send nothing more to it, and stop watching it (a hang-up is
 * reported on every epoll_wait whatever the interest). */
static void client_hung_up(struct rconn *rc)
{
        epoll_ctl(R.epfd, EPOLL_CTL_DEL, rc->fd, NULL);
        rc->eof = true;
        rc->out_off = rc->out_len = 0;
        if (rc->rd_pending && rc->h != NULL)
                np_async_cancel(rc->h, &rc->rd_ctx); /* what it took goes back */
}

/* ---- pipe -> socket ------------------------------------------------------ */

/* Send what is buffered: 1 all sent, 0 the rest waits for EPOLLOUT, -1 the
 * connection was closed (rc is gone). */
static int send_out(struct rconn *rc)
{
        while (rc->out_off < rc->out_len) {
                ssize_t n = send(rc->fd, rc->out + rc->out_off, rc->out_len - rc->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                set_events(rc);
                                return 0;
                        }
                        fail(rc, "socket write failed");
                        return -1;
                }
                rc->out_off += (size_t)n;
        }
        rc->out_off = rc->out_len = 0;
        set_events(rc);
        return 1;
}

/* A read of the pipe finished (status and count as async.h says): frame
 * it into rc->out.  False when the connection was closed. */
static bool frame(struct rconn *rc, int status, size_t n)
{
        /* the buffer is one byte over MSG_MAX, so a longer message shows
         * as a full buffer (or EMOREDATA) and never passes for a legal one */
        if (status == NPIPE_EMOREDATA || (status >= 0 && rc->msg && n > MSG_MAX)) {
                /* the server's library refuses such writes on remote
                 * connections, so only a broken peer gets here: end the
                 * connection rather than send half a message */
                fail(rc, "message too long for SMB");
                return false;
        }
        if (status < 0) {
                fail(rc, npipe_strerror(status)); /* server closed or disconnected */
                return false;
        }
        if (rc->msg) {
                if (n == 0) /* smbd cannot carry an empty message (refused too) */
                        return true;
                rc->out[0] = (uint8_t)(n & 0xff);
                rc->out[1] = (uint8_t)(n >> 8);
                rc->out_off = 0;
        } else {
                rc->out_off = 2;
        }
        rc->out_len = 2 + n;
        return true;
}

/* Keep one read of the pipe going while the socket takes what comes;
 * iterative, so a long queue of small messages costs no stack. */
static bool start_pipe_read(struct rconn *rc)
{
        while (rc->can_read && !rc->eof && !rc->rd_pending && rc->out_len == 0) {
                size_t n = 0;
                int r = np_async_read(rc->h, rc->out + 2, rc->msg ? MSG_MAX + 1 : MSG_MAX, &n,
                                      rd_cb, &rc->rd_ctx);

                if (r == NP_ASYNC_PENDING) {
                        rc->rd_pending = true;
                        return true;
                }
                if (!frame(rc, r < 0 ? r : 0, n))
                        return false;
                r = send_out(rc);
                if (r <= 0)
                        return r == 0;
        }
        return true;
}

/* The pending read completed (handle_ready). */
static bool pipe_read_done(struct rconn *rc, int status, size_t n)
{
        int r;

        if (!frame(rc, status, n))
                return false;
        r = send_out(rc);
        if (r <= 0)
                return r == 0;
        return start_pipe_read(rc);
}

/* ---- socket -> pipe ------------------------------------------------------ */

static bool pipe_write_done(struct rconn *rc, int status)
{
        rc->in_len = 0;
        if (status < 0) {
                fail(rc, npipe_strerror(status));
                return false;
        }
        set_events(rc);
        return true;
}

/* A whole message (or a run of bytes) is in rc->in: into the pipe. */
static bool start_pipe_write(struct rconn *rc, const uint8_t *data, size_t len)
{
        size_t n = 0;
        int r;

        if (!rc->can_write) {
                /* An outbound pipe: a Windows client could not have opened
                 * it for writing, but smbd does not say how the client
                 * opened it.  What it writes goes nowhere. */
                np_log(LOG_DEBUG, "remote client of %s: %zu bytes to an outbound pipe dropped",
                       rc->name, len);
                return pipe_write_done(rc, 0);
        }
        r = np_async_write(rc->h, data, len, &n, wr_cb, &rc->wr_ctx);

        if (r == NP_ASYNC_PENDING) {
                rc->wr_pending = true;
                set_events(rc);
                return true;
        }
        return pipe_write_done(rc, r < 0 ? r : 0);
}

/* Readable socket in R_LIVE: one message (or a run of bytes) at a time,
 * until the socket is drained or a write has to wait for the quota. */
static bool sock_input(struct rconn *rc)
{
        while (!rc->wr_pending) {
                size_t want;
                ssize_t n;

                if (!rc->msg)
                        want = MSG_MAX;
                else if (rc->in_len < 2)
                        want = 2 - rc->in_len;
                else
                        want = 2 + ((size_t)rc->in[0] | (size_t)rc->in[1] << 8) - rc->in_len;
                if (rc->msg && rc->in_len >= 2 && want == 0) {
                        if (!start_pipe_write(rc, rc->in + 2, rc->in_len - 2))
                                return false;
                        continue;
                }
                n = recv(rc->fd, rc->in + rc->in_len, want, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN && !rc->eof)
                                return true;
                        fail(rc, "socket read failed");
                        return false;
                }
                if (n == 0) {
                        /* the client closed its handle; a partial frame
                         * is dropped, as smbd never sends one */
                        fail(rc, "client closed");
                        return false;
                }
                rc->in_len += (size_t)n;
                if (!rc->msg && !start_pipe_write(rc, rc->in, rc->in_len))
                        return false;
        }
        return true;
}

/* ---- handshake ----------------------------------------------------------- */

_Static_assert(2 * NP_REMOTE_NAME_MAX + 2 * NP_REMOTE_ADDR_MAX <= NP_REMOTE_STRINGS,
              "the fixed strings of an identity always fit");

/* Append s (cut to max - 1 bytes) and its NUL to id->strings; false when
 * the area is full. */
static bool put_string(struct np_remote_id *id, size_t *off, const char *s, size_t max)
{
        size_t n = strnlen(s, max - 1);

        if (*off + n + 1 > NP_REMOTE_STRINGS)
                return false;
        memcpy(id->strings + *off, s, n);
        id->strings[*off + n] = '\0';
        *off += n + 1;
        return true;
}

/* The identity the broker and the server see, from the decoded request. */
static void build_id(struct np_remote_id *id, const struct np_npa_request *rq)
{
        const struct np_npa_identity *u = &rq->id;
        const char *str[4] = {u->account, u->domain, rq->remote_client_addr,
                              rq->local_server_addr};
        size_t off = 0;

        memset(id, 0, sizeof *id);
        if (u->flags & NP_NPA_ANONYMOUS)
                id->flags |= NPIPE_REMOTE_ANONYMOUS;
        if (u->flags & NP_NPA_ENCRYPTED)
                id->flags |= NPIPE_REMOTE_ENCRYPTED;
        if (u->flags & NP_NPA_SIDS_TRUNCATED)
                id->flags |= NPIPE_REMOTE_SIDS_TRUNCATED;
        if (u->flags & NP_NPA_HAVE_UNIX) {
                id->uid = u->uid > UINT32_MAX ? UINT32_MAX : (uint32_t)u->uid;
                id->gid = u->gid > UINT32_MAX ? UINT32_MAX : (uint32_t)u->gid;
                for (uint32_t k = 0; k < u->ngroups && k < NP_REMOTE_MAX_GROUPS; k++)
                        id->groups[id->ngroups++] =
                            u->groups[k] > UINT32_MAX ? UINT32_MAX : (uint32_t)u->groups[k];
        } else {
                /* no unix token: a user nobody can be the owner of */
                id->uid = id->gid = 65534;
                id->flags |= NPIPE_REMOTE_ANONYMOUS;
        }
        id->client_port = rq->remote_client_port;
        id->server_port = rq->local_server_port;
        /* the four fixed strings fit at their limits (2 x 256 + 2 x 64) */
        for (int k = 0; k < 4; k++)
                put_string(id, &off, str[k], k < 2 ? NP_REMOTE_NAME_MAX : NP_REMOTE_ADDR_MAX);
        for (uint32_t k = 0; k < u->nsids; k++) {
                if (!put_string(id, &off, u->sids[k], NP_REMOTE_SID_MAX)) {
                        id->flags |= NPIPE_REMOTE_SIDS_TRUNCATED;
                        break;
                }
                id->nsids++;
        }
        id->strings_len = (uint32_t)off;
}

/* Open the pipe for the remote user; 0, NPIPE_EBUSY or another refusal. */
static int try_open(struct rconn *rc)
{
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        int r = np_open_remote(rc->name, rc->id, &rc->h);

        if (r == 0 && rc->msg)
                npipe_set_mode(rc->h, &m, NULL);
        return r;
}

static bool go_live(struct rconn *rc)
{
        struct npipe_info info;

        if (npipe_get_info(rc->h, &info) < 0) {
                fail(rc, "pipe information unavailable");
                return false;
        }
        rc->can_read = (info.dir & NPIPE_OUTBOUND) != 0;
        rc->can_write = (info.dir & NPIPE_INBOUND) != 0;
        rc->st = R_LIVE;
        set_events(rc);
        return start_pipe_read(rc) && sock_input(rc);
}

static bool handshake_done(struct rconn *rc)
{
        static struct np_npa_request rq; /* large; this thread only */
        uint8_t rep[NP_NPA_REPLY_SIZE];
        int r = np_npa_parse(rc->hs, rc->hs_len, &rq);

        free(rc->hs);
        rc->hs = NULL;
        if (r < 0) {
                fail(rc, r == NPIPE_ENOTSUP ? "unknown handshake level" : "malformed handshake");
                return false;
        }
        rc->level = rq.level;
        rc->id = malloc(sizeof *rc->id);
        if (rc->id == NULL) {
                fail(rc, "out of memory");
                return false;
        }
        build_id(rc->id, &rq);
        r = try_open(rc);
        if (r < 0 && r != NPIPE_EBUSY) {
                /* denied, rejected or gone: the open fails for the client */
                np_log(LOG_INFO, "remote client %s\\%s from %s refused on %s: %s", rq.id.domain,
                       rq.id.account, rq.remote_client_addr, rc->name, npipe_strerror(r));
                rconn_free(rc);
                return false;
        }
        np_npa_reply(rep, rc->level, rc->msg);
        if (send(rc->fd, rep, sizeof rep, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof rep) {
                fail(rc, "handshake reply failed");
                return false;
        }
        np_log(LOG_INFO, "remote client %s\\%s from %s on %s%s", rq.id.domain, rq.id.account,
               rq.remote_client_addr, rc->name, r == NPIPE_EBUSY ? " (waiting for an instance)" : "");
        if (r == NPIPE_EBUSY) {
                rc->st = R_WAITING;
                rc->retry_ms = NP_REMOTE_BUSY_RETRY_MS;
                rc->retry_ns = np_now_ns() + (int64_t)rc->retry_ms * 1000000;
                set_events(rc);
                return true;
        }
        return go_live(rc);
}

static bool hs_input(struct rconn *rc)
{
        for (;;) {
                size_t want = rc->hs_need != 0 ? rc->hs_need - rc->hs_len : 4 - rc->hs_len;
                ssize_t n;

                if (want == 0) {
                        if (rc->hs_need == 0) {
                                size_t total;
                                uint8_t *nb;

                                if (np_npa_request_size(rc->hs, &total) < 0) {
                                        fail(rc, "bad handshake length");
                                        return false;
                                }
                                nb = realloc(rc->hs, total);
                                if (nb == NULL) {
                                        fail(rc, "out of memory");
                                        return false;
                                }
                                rc->hs = nb;
                                rc->hs_need = total;
                                continue;
                        }
                        return handshake_done(rc);
                }
                n = recv(rc->fd, rc->hs + rc->hs_len, want, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return true;
                        fail(rc, "socket read failed");
                        return false;
                }
                if (n == 0) {
                        fail(rc, "closed during the handshake");
                        return false;
                }
                rc->hs_len += (size_t)n;
        }
}

/* ---- the thread ---------------------------------------------------------- */

static void adopt_incoming(void)
{
        struct rconn *list;

        pthread_mutex_lock(&R.lock);
        list = R.incoming;
        R.incoming = NULL;
        pthread_mutex_unlock(&R.lock);
        while (list != NULL) {
                struct rconn *rc = list;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = rc};

                list = rc->rnext;
                rc->rnext = NULL;
                rc->next = R.all;
                if (R.all != NULL)
                        R.all->prev = rc;
                R.all = rc;
                rc->events = EPOLLIN;
                rc->deadline_ns = np_now_ns() + (int64_t)NP_REMOTE_HANDSHAKE_MS * 1000000;
                if (epoll_ctl(R.epfd, EPOLL_CTL_ADD, rc->fd, &ev) < 0)
                        fail(rc, "epoll");
        }
}

static void handle_ready(void)
{
        for (;;) {
                struct rconn *rc;
                bool rd, wr;
                int rs, ws;
                size_t rb;

                pthread_mutex_lock(&R.lock);
                rc = R.ready;
                if (rc == NULL) {
                        pthread_mutex_unlock(&R.lock);
                        return;
                }
                R.ready = rc->rnext;
                rc->on_ready = false;
                rd = rc->rd_done;
                wr = rc->wr_done;
                rs = rc->rd_status;
                ws = rc->wr_status;
                rb = rc->rd_bytes;
                rc->rd_done = rc->wr_done = false;
                pthread_mutex_unlock(&R.lock);

                /* both results are in hand: neither operation is pending
                 * any more, whatever happens to rc below */
                if (rd)
                        rc->rd_pending = false;
                if (wr)
                        rc->wr_pending = false;
                if (rc->dead) {
                        if (!rc->rd_pending && !rc->wr_pending)
                                rconn_destroy(rc);
                        continue;
                }
                if (wr && (!pipe_write_done(rc, ws) || !sock_input(rc)))
                        continue;
                if (rd && !rc->eof)
                        pipe_read_done(rc, rs, rb);
        }
}

static void timers(int64_t now)
{
        struct rconn *next;

        for (struct rconn *rc = R.all; rc != NULL; rc = next) {
                next = rc->next;
                if (rc->st == R_HANDSHAKE && now >= rc->deadline_ns) {
                        fail(rc, "no handshake in time");
                } else if (rc->st == R_WAITING && now >= rc->retry_ns) {
                        int r = try_open(rc);

                        if (r == 0) {
                                go_live(rc);
                        } else if (r != NPIPE_EBUSY) {
                                fail(rc, npipe_strerror(r));
                        } else {
                                rc->retry_ms *= 2;
                                if (rc->retry_ms > NP_REMOTE_BUSY_RETRY_MAX_MS)
                                        rc->retry_ms = NP_REMOTE_BUSY_RETRY_MAX_MS;
                                rc->retry_ns = now + (int64_t)rc->retry_ms * 1000000;
                        }
                }
        }
}

static int next_timeout(int64_t now)
{
        int64_t first = -1;

        for (struct rconn *rc = R.all; rc != NULL; rc = rc->next) {
                int64_t t = rc->st == R_HANDSHAKE ? rc->deadline_ns
                            : rc->st == R_WAITING ? rc->retry_ns
                                                  : -1;

                if (t >= 0 && (first < 0 || t < first))
                        first = t;
        }
        if (first < 0)
                return -1;
        return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

static void *relay_main(void *arg)
{
        struct epoll_event evs[64];

        (void)arg;
        while (!atomic_load(&R.stop)) {
                int n = epoll_wait(R.epfd, evs, 64, next_timeout(np_now_ns()));

                for (int k = 0; k < n; k++) {
                        struct rconn *rc = evs[k].data.ptr;
                        uint32_t e = evs[k].events;

                        if (rc == NULL) {
                                uint64_t v;

                                if (read(R.efd, &v, sizeof v) < 0) {
                                        /* nothing to drain */
                                }
                                continue;
                        }
                        /* closed earlier in this batch (epoll_wait had
                         * already copied its events) */
                        if (rc->dead)
                                continue;
                        if (rc->st == R_HANDSHAKE) {
                                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                        hs_input(rc);
                                continue;
                        }
                        if (rc->st == R_WAITING) {
                                int avail = 0;

                                if (!(e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                                        continue;
                                /* it wrote before it left: deliver that
                                 * once an instance is free */
                                if (!(e & EPOLLERR) && ioctl(rc->fd, FIONREAD, &avail) == 0 &&
                                    avail > 0)
                                        client_hung_up(rc);
                                else
                                        fail(rc, "client closed while waiting");
                                continue;
                        }
                        if ((e & EPOLLOUT) && rc->out_len > rc->out_off) {
                                int r = send_out(rc);

                                if (r < 0 || (r > 0 && !start_pipe_read(rc)))
                                        continue;
                        }
                        if (!(e & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                                continue;
                        if (!rc->wr_pending) {
                                sock_input(rc);
                        } else if (e & (EPOLLHUP | EPOLLERR)) {
                                /* a message waits for the quota: the rest
                                 * of the socket is read once the write
                                 * completed (handle_ready) */
                                client_hung_up(rc);
                        }
                }
                adopt_incoming();
                handle_ready();
                timers(np_now_ns());
                bury();
        }
        while (R.all != NULL)
                rconn_free(R.all);
        bury();
        return NULL;
}

int np_relay_start(void)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

        /* The relay is a client of this very broker: never start another */
        np_broker_autostart(0);
        R.epfd = epoll_create1(EPOLL_CLOEXEC);
        R.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (R.epfd < 0 || R.efd < 0 || epoll_ctl(R.epfd, EPOLL_CTL_ADD, R.efd, &ev) < 0)
                return -1;
        if (pthread_create(&R.thread, NULL, relay_main, NULL) != 0)
                return -1;
        R.running = true;
        return 0;
}

/* Not joined: the thread may be waiting for this broker's reply to an
 * open, and the loop that would answer has ended.  The process exits
 * right after, and the connections end with it. */
void np_relay_stop(void)
{
        if (!R.running)
                return;
        atomic_store(&R.stop, true);
        poke();
}

int np_relay_submit(int fd, const char *name, bool message)
{
        struct rconn *rc;

        if (atomic_fetch_add(&R.count, 1) >= NP_LIM_REMOTE_CONNS) {
                atomic_fetch_sub(&R.count, 1);
                return -1;
        }
        rc = calloc(1, sizeof *rc);
        if (rc != NULL) {
                rc->name = strdup(name);
                rc->hs = malloc(4);
        }
        if (rc == NULL || rc->name == NULL || rc->hs == NULL) {
                if (rc != NULL) {
                        free(rc->name);
                        free(rc->hs);
                        free(rc);
                }
                atomic_fetch_sub(&R.count, 1);
                return -1;
        }
        rc->fd = fd;
        rc->msg = message;
        rc->st = R_HANDSHAKE;
        pthread_mutex_lock(&R.lock);
        rc->rnext = R.incoming;
        R.incoming = rc;
        pthread_mutex_unlock(&R.lock);
        poke();
        return 0;
}
