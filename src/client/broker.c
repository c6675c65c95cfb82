/*
 * broker.c - the library's connection to npiped.
 *
 * One SOCK_SEQPACKET socket per process carries every request of every
 * thread; each request has an id, and one event thread reads the socket and
 * hands replies to the waiting requester and events (a client connected, a
 * peer went away) to pipe.c.  The data path never comes here.
 *
 * The session is made on first use, under `lock`: broker_connect.c
 * connects (starting a broker when none answers) and says hello, and
 * this file starts the event thread on the socket it returns.
 *
 * After fork() the child owns nothing of ours: the atfork handler drops
 * the inherited socket (its broker session is the parent's) and the child
 * makes a session of its own on first use.
 */
#include "os/lockorder.h"
#include "client/client.h"
#include "os/os.h"
#include "npipe_config.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* ---- state ----------------------------------------------------------------- */

struct pending {
        uint32_t id;
        struct np_request *req;
        _Atomic uint32_t done; /* futex: 0 waiting, 1 replied, 2 failed */
        int status;
        struct pending *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* `lock` guards the session and the pending requests; sends happen under
 * `send_lock` only.  A send may block while the broker is busy (it stops
 * reading a process whose replies queue up): holding `lock` then would keep
 * our event thread from draining those replies, a deadlock.  The socket is
 * closed only under both, so a send never uses a closed or reused number. */
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int sock = -1;   /* written under lock (and send_lock to close) */
static pid_t sock_pid;          /* process that made `sock` */
static uint32_t next_id = 1;
static struct pending *pendings;
/* Requests whose caller gave up waiting (a deadline passed): what their
 * late replies made is undone when they come (handle_packet).  Under
 * lock; at most one per call in flight, so bounded by the threads. */
struct abandoned {
        uint32_t id;
        struct abandoned *next;
};
static struct abandoned *abandoned;
static _Atomic uint64_t generation; /* bumped for every new broker session */


/* getpid() is a system call (glibc stopped caching it); every API call
 * checks that a handle belongs to this process, so keep our own copy,
 * refreshed in the child after fork(). */
_Atomic pid_t np_self_pid_now;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

static void lib_init(void)
{
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        atomic_store(&np_self_pid_now, getpid());
}

pid_t np_self_pid(void)
{
        pthread_once(&init_once, lib_init);
        return atomic_load_explicit(&np_self_pid_now, memory_order_relaxed);
}

/* fork() while another thread holds one of our global locks would leave
 * it locked forever in the child: hold them all across the fork, in lock
 * order (broker lock, then pipe.c's table, then the async shards). */
static const struct np_broker_hooks *_Atomic hooks;

void np_broker_set_hooks(const struct np_broker_hooks *h)
{
        atomic_store(&hooks, h);
}

static void hook_atfork(int phase)
{
        const struct np_broker_hooks *h = atomic_load(&hooks);
        if (h && h->atfork)
                h->atfork(phase);
}

static void atfork_prepare(void)
{
        pthread_mutex_lock(&send_lock);
        pthread_mutex_lock(&lock);
        hook_atfork(0);
}

static void atfork_parent(void)
{
        hook_atfork(1);
        pthread_mutex_unlock(&lock);
        pthread_mutex_unlock(&send_lock);
}

static void atfork_child(void)
{
        atomic_store(&np_self_pid_now, getpid());
        hook_atfork(2);
        /* The socket is the parent's session: closing our copy does not end
         * it (the parent still holds it).  Pending requests belong to the
         * parent's threads, which do not exist here. */
        if (sock >= 0)
                close(sock);
        sock = -1;
        pendings = NULL;
        pthread_mutex_init(&lock, NULL);
        pthread_mutex_init(&send_lock, NULL);
}

static void drop_abandoned(void)
{
        while (abandoned) {
                struct abandoned *a = abandoned;
                abandoned = a->next;
                free(a);
        }
}

/* Is `id` an abandoned request?  Forgets it once its last packet came. */
static int take_abandoned(uint32_t id, int last)
{
        for (struct abandoned **ap = &abandoned; *ap; ap = &(*ap)->next) {
                if ((*ap)->id == id) {
                        if (last) {
                                struct abandoned *a = *ap;
                                *ap = a->next;
                                free(a);
                        }
                        return 1;
                }
        }
        return 0;
}

/* Fail every pending request (the broker went away). Called with lock held. */
static void fail_pendings(void)
{
        drop_abandoned();
        for (struct pending *p = pendings; p; p = p->next) {
                p->status = NPIPE_EBROKER;
                atomic_store(&p->done, 2);
                np_futex_wake(&p->done, 0, 1);
        }
        pendings = NULL;
}

static struct pending *take_pending(uint32_t id)
{
        for (struct pending **pp = &pendings; *pp; pp = &(*pp)->next) {
                if ((*pp)->id == id) {
                        struct pending *p = *pp;
                        *pp = p->next;
                        return p;
                }
        }
        return NULL;
}

static struct pending *find_pending(uint32_t id)
{
        for (struct pending *p = pendings; p; p = p->next)
                if (p->id == id)
                        return p;
        return NULL;
}

static int build_packet(unsigned char *pkt, uint16_t type, uint32_t id, uint32_t flags,
                        const void *body, size_t body_len, const void *name, size_t name_len);
static uint32_t post_id(void);

/* ---- the event thread --------------------------------------------------------- */

/* How long the event thread may wait, in all, for room in the socket to
 * send one stats report (the broker waits NP_STATS_DEADLINE_MS for it). */
#define REPORT_BUDGET_MS 100

/*
 * Answer NP_MSG_EV_STATS_QUERY with the counters of our connected server
 * ends (proto.h, "Statistics").  This runs on the event thread, which must
 * never block on the socket: the broker stops reading a process whose
 * replies pile up, and only this thread drains them.  So it sends on its
 * own descriptor (which only it closes, so no send_lock is needed), without
 * waiting, and when the socket is full waits for room at most
 * REPORT_BUDGET_MS in all; what did not fit is simply missing in the
 * broker's answer.
 */
static void answer_stats(int s, uint64_t query)
{
        unsigned char pkt[NP_PROTO_MAX_PACKET];
        size_t n = 0, done = 0;
        const struct np_broker_hooks *hk = atomic_load(&hooks);
        struct np_stats_live *items = hk && hk->stats ? hk->stats(&n) : NULL;
        int64_t deadline = np_now_ns() + (int64_t)REPORT_BUDGET_MS * 1000000;

        do {
                size_t k = n - done < NP_STATS_REPORT_MAX ? n - done : NP_STATS_REPORT_MAX;
                struct np_stats_report rep = {.query = query, .count = (uint32_t)k,
                                              .flags = done + k == n ? NP_STATS_LAST : 0};
                int len = build_packet(pkt, NP_MSG_STATS_REPORT, post_id(), 0, &rep,
                                       sizeof(rep), k ? items + done : NULL, k * sizeof(*items));
                for (;;) {
                        if (send(s, pkt, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == len)
                                break;
                        int64_t left = (deadline - np_now_ns()) / 1000000;
                        struct pollfd pfd = {.fd = s, .events = POLLOUT};
                        if ((errno != EAGAIN && errno != EINTR) || left <= 0 ||
                            (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)) {
                                free(items);
                                return;
                        }
                }
                done += k;
        } while (done < n);
        free(items);
}

/* A CREATE or OPEN whose caller gave up succeeded after all: tell the
 * broker the instance or connection is closed, as the caller would have.
 * From the event thread, which must never block on the socket: without
 * waiting (a full socket loses it; the instance then lasts until this
 * process ends). */
static void undo_late_reply(int s, const struct np_hdr *hdr, const unsigned char *body,
                            size_t blen)
{
        struct np_end_req end = {0};
        uint16_t type;
        if (hdr->type == NP_MSG_CREATE_REPLY && blen >= sizeof(struct np_create_reply)) {
                struct np_create_reply r;
                memcpy(&r, body, sizeof(r));
                if (r.status != 0)
                        return;
                type = NP_MSG_CLOSE_SERVER;
                end.id = r.instance_id;
        } else if (hdr->type == NP_MSG_OPEN_REPLY && blen >= sizeof(struct np_open_reply)) {
                struct np_open_reply r;
                memcpy(&r, body, sizeof(r));
                if (r.status != 0)
                        return;
                type = NP_MSG_CLOSE_CLIENT;
                end.id = end.conn_id = r.conn_id;
        } else {
                return;
        }
        unsigned char pkt[sizeof(struct np_hdr) + sizeof(end)];
        int len = build_packet(pkt, type, post_id(), NP_HDR_NO_REPLY, &end, sizeof(end), NULL, 0);
        if (len > 0)
                (void)np_send_packet_nowait(s, pkt, (size_t)len, -1);
}

/* An event (no request id): the layer above's hooks, or a stats query.
 * np_proto_check has validated the body's size (and a remote identity). */
static void handle_event(int s, const struct np_hdr *hdr, const unsigned char *body, int fd)
{
        const struct np_broker_hooks *hk = atomic_load(&hooks);
        if (hdr->type == NP_MSG_EV_CONNECTED && hk && hk->connected) {
                struct np_ev_connected ev;
                memcpy(&ev, body, sizeof(ev));
                hk->connected(&ev, NULL, fd);
                return;
        }
        if (hdr->type == NP_MSG_EV_CONNECTED_REMOTE && hk && hk->connected) {
                struct np_ev_connected_remote ev;
                memcpy(&ev, body, sizeof(ev));
                hk->connected(&ev.ev, &ev.id, fd);
                return;
        }
        if (hdr->type == NP_MSG_EV_PEER_GONE && hk && hk->peer_gone) {
                struct np_ev_peer_gone ev;
                memcpy(&ev, body, sizeof(ev));
                hk->peer_gone(&ev);
        }
        if (hdr->type == NP_MSG_EV_STATS_QUERY) {
                struct np_ev_stats_query ev;
                memcpy(&ev, body, sizeof(ev));
                answer_stats(s, ev.query);
        }
        if (fd >= 0)
                close(fd);
}

static void handle_packet(int s, const unsigned char *buf, size_t n, int fd)
{
        const char *name;
        uint32_t name_len;
        if (np_proto_check(buf, n, &name, &name_len) < 0) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct np_hdr hdr;
        memcpy(&hdr, buf, sizeof(hdr));
        const unsigned char *body = buf + sizeof(hdr);
        size_t blen = n - sizeof(hdr);

        if (hdr.req_id == 0) {
                handle_event(s, &hdr, body, fd);
                return;
        }

        np_lock(&lock, NP_LK_BROKER);
        struct pending *p = find_pending(hdr.req_id);
        if (!p) {
                /* a posted request's reply, or one whose waiter gave up:
                 * close what that one's success made */
                int last = 1;
                if (hdr.type == NP_MSG_LIST_ITEM || hdr.type == NP_MSG_STATS_ITEM) {
                        /* both items start with their flags, bit 0 "last" */
                        uint32_t fl = 0;
                        if (blen >= sizeof(fl))
                                memcpy(&fl, body, sizeof(fl));
                        _Static_assert(NP_LIST_LAST == 1 && NP_STATS_LAST == 1, "last bit");
                        last = (fl & 1u) != 0;
                }
                int gave_up = take_abandoned(hdr.req_id, last);
                np_unlock(&lock, NP_LK_BROKER);
                if (gave_up)
                        undo_late_reply(s, &hdr, body, blen);
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct np_request *req = p->req;
        int last = 1;
        if (req->fn)
                last = hdr.type == NP_MSG_REPLY || req->fn(req->fn_ctx, &hdr, body, blen);
        if (last) {
                take_pending(hdr.req_id);
                size_t c = blen < req->reply_cap ? blen : req->reply_cap;
                memcpy(req->reply, body, c);
                req->reply_len = c;
                req->reply_type = hdr.type;
                if (req->reply_fd >= 0)
                        close(req->reply_fd);
                req->reply_fd = fd;
                fd = -1;
                p->status = 0;
                atomic_store(&p->done, 1);
                np_futex_wake(&p->done, 0, 1);
        }
        np_unlock(&lock, NP_LK_BROKER);
        if (fd >= 0)
                close(fd);
}

static void *event_thread(void *arg)
{
        int s = (int)(intptr_t)arg;
        unsigned char *buf = malloc(NP_PROTO_MAX_PACKET);
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        for (;;) {
                int fd = -1;
                ssize_t n = buf ? np_recv_packet(s, buf, NP_PROTO_MAX_PACKET, &fd, 0) : -ENOMEM;
                if (n == -EINTR)
                        continue;
                if (n <= 0 && n != -EMSGSIZE)
                        break;
                if (n > 0)
                        handle_packet(s, buf, (size_t)n, fd);
                else if (fd >= 0)
                        close(fd);
        }
        free(buf);
        np_lock(&send_lock, NP_LK_SEND);
        np_lock(&lock, NP_LK_BROKER);
        if (sock == s) {
                sock = -1;
                generation++;
                fail_pendings();
        }
        close(s);
        np_unlock(&lock, NP_LK_BROKER);
        np_unlock(&send_lock, NP_LK_SEND);
        const struct np_broker_hooks *hk = atomic_load(&hooks);
        if (hk && hk->lost)
                hk->lost();
        return NULL;
}

/* ---- the session ------------------------------------------------------------------ */

/* Connect (starting the broker if needed: broker_connect.c), say hello
 * and start the event thread.  Called with the lock held. */
static int make_session(void)
{
        int s = np_broker_connect();
        if (s < 0)
                return s;
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 * 1024);
        if (pthread_create(&t, &a, event_thread, (void *)(intptr_t)s) != 0) {
                pthread_attr_destroy(&a);
                np_broker_note("cannot start the thread that reads the broker's socket");
                close(s);
                return NPIPE_ENOMEM;
        }
        pthread_attr_destroy(&a);
        sock = s;
        sock_pid = np_self_pid();
        generation++;
        return 0;
}

/* make_session, keeping its reason on failure (np_broker_why; on stderr
 * with NPIPE_DEBUG).  Called with the lock held. */
static int ensure_session(void)
{
        if (sock >= 0 && sock_pid == np_self_pid())
                return 0;
        np_broker_note_clear();
        int r = make_session();
        if (r == 0) {
                np_diag_why_set(NULL);
                return 0;
        }
        const char *note = np_broker_noted();
        np_diag_why_set(note[0] ? note : npipe_strerror(r));
        return r;
}

static int build_packet(unsigned char *pkt, uint16_t type, uint32_t id, uint32_t flags,
                        const void *body, size_t body_len, const void *name, size_t name_len)
{
        size_t len = sizeof(struct np_hdr) + body_len + name_len;
        if (len > NP_PROTO_MAX_PACKET)
                return NPIPE_ENAMETOOLONG;
        struct np_hdr h = {.type = type, .version = NP_PROTO_VERSION, .len = (uint32_t)len,
                           .req_id = id, .flags = flags};
        memcpy(pkt, &h, sizeof(h));
        if (body_len)
                memcpy(pkt + sizeof(h), body, body_len);
        if (name_len)
                memcpy(pkt + sizeof(h) + body_len, name, name_len);
        return (int)len;
}

int64_t np_broker_deadline(int timeout_ms)
{
        if (timeout_ms < 0)
                return -1;
        int64_t ms = timeout_ms < NP_BROKER_MIN_MS ? NP_BROKER_MIN_MS : timeout_ms;
        return np_now_ns() + ms * 1000000;
}

static int64_t left_ns(int64_t deadline)
{
        if (deadline < 0)
                return -1;
        int64_t r = deadline - np_now_ns();
        return r < 0 ? 0 : r;
}

/* Send one packet on session (s, gen) by the deadline.  send_lock is held
 * only for each attempt, never while waiting for room: a broker that
 * stopped reading must not keep other threads' sends - or a fork(), whose
 * handler takes send_lock - waiting with us.  SOCK_SEQPACKET sends a
 * packet whole or not at all, so attempts never interleave. */
static int send_bounded(int s, uint64_t gen, const unsigned char *pkt, size_t len, int fd,
                        int64_t deadline)
{
        for (;;) {
                np_lock(&send_lock, NP_LK_SEND);
                int r = sock == s && generation == gen ? np_send_packet_nowait(s, pkt, len, fd)
                                                       : -EPIPE;
                np_unlock(&send_lock, NP_LK_SEND);
                if (r != -EAGAIN)
                        return r;
                int64_t rem = left_ns(deadline);
                if (rem == 0)
                        return -ETIMEDOUT;
                /* the number may be closed and reused meanwhile: a poll on
                 * it only wakes us early, the next attempt checks it */
                struct pollfd pf = {.fd = s, .events = POLLOUT};
                int ms = rem < 0 || rem > 100000000 ? 100 : (int)((rem + 999999) / 1000000);
                (void)poll(&pf, 1, ms);
        }
}

int np_broker_call(struct np_request *req)
{
        unsigned char pkt[NP_PROTO_MAX_PACKET];
        struct pending p = {.req = req};
        req->reply_fd = -1;
        req->reply_len = 0;
        int64_t deadline = req->deadline ? req->deadline
                                         : np_now_ns() + (int64_t)NP_BROKER_CALL_MS * 1000000;

        np_lock(&lock, NP_LK_BROKER);
        int r = ensure_session();
        if (r < 0) {
                np_unlock(&lock, NP_LK_BROKER);
                return r;
        }
        p.id = next_id++;
        if (next_id == 0)
                next_id = 1;
        int len = build_packet(pkt, req->type, p.id, 0, req->body, req->body_len, req->name,
                               req->name_len);
        if (len < 0) {
                np_unlock(&lock, NP_LK_BROKER);
                return len;
        }
        p.next = pendings;
        pendings = &p;
        int s = sock;
        uint64_t gen = generation;
        np_unlock(&lock, NP_LK_BROKER);

        r = send_bounded(s, gen, pkt, (size_t)len, req->fd, deadline);
        if (r < 0) {
                /* unless the event thread failed it already, it is ours */
                np_lock(&lock, NP_LK_BROKER);
                take_pending(p.id);
                np_unlock(&lock, NP_LK_BROKER);
                return r == -ETIMEDOUT ? NPIPE_ETIMEDOUT : NPIPE_EBROKER;
        }

        while (atomic_load(&p.done) == 0) {
                int64_t rem = left_ns(deadline);
                if (rem == 0) {
                        /* Give up, unless the reply is being delivered: the
                         * event thread delivers under lock, so once we hold
                         * it the request is either done or still ours. */
                        np_lock(&lock, NP_LK_BROKER);
                        if (atomic_load(&p.done) != 0) {
                                np_unlock(&lock, NP_LK_BROKER);
                                break;
                        }
                        take_pending(p.id);
                        struct abandoned *a = malloc(sizeof(*a));
                        if (a) {
                                a->id = p.id;
                                a->next = abandoned;
                                abandoned = a;
                        }
                        np_unlock(&lock, NP_LK_BROKER);
                        if (req->type == NP_MSG_WAIT) {
                                /* the broker would keep the wait: end it */
                                struct np_cancel c = {.target_req_id = p.id};
                                (void)np_broker_post(NP_MSG_CANCEL, &c, sizeof(c), -1);
                        }
                        return NPIPE_ETIMEDOUT;
                }
                np_futex_wait(&p.done, 0, 0, rem);
        }
        if (p.status == 0 && req->reply_type == NP_MSG_REPLY &&
            req->reply_len >= sizeof(struct np_reply)) {
                struct np_reply rep;
                memcpy(&rep, req->reply, sizeof(rep));
                if (rep.status == NPIPE_ELIMIT)
                        np_diag_limit_set(rep.detail);
        }
        return p.status;
}

int np_broker_status(uint16_t type, const void *body, size_t body_len, const void *name,
                     size_t name_len, int fd)
{
        return np_broker_status_until(type, body, body_len, name, name_len, fd, 0);
}

int np_broker_status_until(uint16_t type, const void *body, size_t body_len, const void *name,
                           size_t name_len, int fd, int64_t deadline)
{
        struct np_reply rep;
        struct np_request req = {.type = type, .body = body, .body_len = body_len,
                                 .name = name, .name_len = name_len, .fd = fd,
                                 .reply = &rep, .reply_cap = sizeof(rep), .deadline = deadline};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r < 0)
                return r;
        return req.reply_len >= sizeof(rep) ? rep.status : NPIPE_EPROTO;
}

/* A request id for a packet nobody waits a reply for. */
static uint32_t post_id(void)
{
        np_lock(&lock, NP_LK_BROKER);
        uint32_t id = next_id++;
        if (next_id == 0)
                next_id = 1;
        np_unlock(&lock, NP_LK_BROKER);
        return id;
}

int np_broker_post(uint16_t type, const void *body, size_t body_len, int fd)
{
        unsigned char pkt[NP_PROTO_MAX_PACKET];
        int len = -1, s = -1, r = NPIPE_EBROKER;
        uint64_t gen = 0;
        np_lock(&lock, NP_LK_BROKER);
        if (sock >= 0 && sock_pid == np_self_pid()) {
                uint32_t id = next_id++;
                if (next_id == 0)
                        next_id = 1;
                /* nobody waits: no reply to wake our event thread for */
                len = build_packet(pkt, type, id, NP_HDR_NO_REPLY, body, body_len, NULL, 0);
                s = sock;
                gen = generation;
        }
        np_unlock(&lock, NP_LK_BROKER);
        if (len <= 0)
                return len < 0 && s >= 0 ? len : NPIPE_EBROKER;
        if (send_bounded(s, gen, pkt, (size_t)len, fd,
                         np_now_ns() + (int64_t)NP_BROKER_CALL_MS * 1000000) == 0)
                r = 0;
        return r;
}
