/*
 * loop.c - npiped's event loop: the epoll set, accepting and reading
 * client sockets, the timers, and reaping dead clients.  The top of the
 * broker's layers under main.c (broker.h): it calls into the others and
 * none of them calls it.
 *
 * Nothing here ever blocks on a client.  Every socket is non-blocking; a
 * packet that does not fit a client's socket buffer waits in that client's
 * queue (client.c) and goes out here on EPOLLOUT.  A doomed client (one
 * that let its queue overflow, whose socket failed, or that was dropped)
 * is reaped - handled as a dead process - right after the packet being
 * processed, so that no request ever sees it half gone.  The memory of a
 * reaped client lives until the end of the epoll batch, since later events
 * of the same batch may still point at it.
 *
 * Nothing here ever blocks on a close either (issue 15): every descriptor
 * of a packet is received (np_recv_packet_all), so the kernel never drops
 * one in our context; those the broker does not keep are closed here only
 * when they are segments, else by the reaper (reap.c).  A client's socket
 * is shut down and emptied before it is closed (close_socket), so that
 * nothing its peer queued is released here and the peer reads its replies
 * and then the end of the stream.  The reaper's bounds pause the reading
 * of a uid (or of everyone, when the descriptor table is nearly full)
 * until its threads report progress through an eventfd in the epoll set.
 */
#include "broker/broker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker/limits.h"
#include "broker/reap.h"
#include "npipe/npipe.h"
#include "os/os.h"

#define NP_EPOLL_BATCH 64
/* How long accepting pauses after accept() ran out of descriptors or
 * memory, so that a full table does not turn the loop into a busy spin. */
#define NP_ACCEPT_PAUSE_NS (100 * 1000000ll)

int np_loop_init(struct np_broker *b)
{
        /* a request type without its dispatch row is a build mistake: fail
         * at start rather than refuse the request in use */
        if (np_requests_check() < 0)
                return -EINVAL;
        b->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (b->epfd < 0)
                return -errno;
        b->listen_src.kind = NP_SRC_LISTEN;
        b->signal_src.kind = NP_SRC_SIGNAL;
        if (np_watch_fd(b, b->lfd, EPOLLIN, &b->listen_src) < 0 ||
            np_watch_fd(b, b->sigfd, EPOLLIN, &b->signal_src) < 0)
                return -errno;
        np_link_init(&b->clients);
        np_link_init(&b->doomed);
        np_link_init(&b->graveyard);
        np_link_init(&b->watch_graveyard);
        np_link_init(&b->stats_round);
        np_link_init(&b->stats_next);
        b->idle_since_ns = np_now_ns();
        b->started_ns = b->idle_since_ns;
        return np_reap_init(b);
}

static void watch_event(struct np_broker *b, struct np_pidwatch *w)
{
        /* Freed earlier in this batch: its event is stale. */
        if (w->fd < 0)
                return;
        np_pidwatch_fired(b, w);
}

/* ---- client sockets ------------------------------------------------------ */

/* Every client whose reading the reaper paused may read again: look at
 * each (np_client_update asks np_reap_blocks anew). */
static void resume_clients(struct np_broker *b)
{
        struct np_link *l, *next;

        for (l = b->clients.next; l != &b->clients; l = next) {
                next = l->next; /* np_client_update may doom it (moved to doomed) */
                np_client_update(b, np_container_of(l, struct np_client, link));
        }
}

static void flush_queue(struct np_broker *b, struct np_client *c)
{
        np_client_flush(b, c);
        if (c->flags & NP_CLIENT_DOOMED)
                return;
        if (!np_link_empty(&c->lists))
                np_list_pump(b, c);
        if ((c->flags & NP_CLIENT_DRAINING) && c->outq == NULL)
                np_client_doom(b, c, "closed by the broker");
        else
                np_client_update(b, c);
}

/* Close one of our client sockets (issue 15 (e), point 8).  Closing a unix
 * socket releases, in the closer's context, whatever its receive queue
 * holds - descriptors a hostile peer sent, whose last close can block -
 * and tells the peer ECONNRESET, which hides the replies it has not read
 * yet.  So: shut it down (the peer can add nothing; it reads what we sent,
 * then the end of the stream), then take its unread packets like received
 * ones (segments closed here, anything else to the reaper).  An empty
 * queue is closed here; a long one (limits.h, NP_LIM_CLOSE_DRAIN), or one
 * we may not read now (np_reap_blocks), goes to the reaper, charged to
 * acct.  SO_PASSCRED makes every packet, even an empty one, come with
 * credentials: 0 without them is the end of the queue. */
static void close_socket(struct np_broker *b, struct np_uacct *acct, int fd)
{
        unsigned char buf[64]; /* contents do not matter: truncated is fine */
        struct np_rcvd rc;
        int on = 1;

        shutdown(fd, SHUT_RDWR);
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
        for (unsigned i = 0; i < NP_LIM_CLOSE_DRAIN; i++) {
                ssize_t n;

                if (np_reap_blocks(b, acct))
                        break;
                n = np_recv_packet_all(fd, buf, sizeof buf, &rc, MSG_DONTWAIT);
                for (unsigned k = 0; k < rc.nfd; k++)
                        np_fd_drop(b, acct, rc.fds[k]);
                if ((n == 0 && !rc.creds) || n == -EAGAIN) {
                        close(fd);
                        return;
                }
                /* ECONNRESET: the peer closed with our replies unread
                 * (reported once); EMSGSIZE: a packet longer than buf */
                if (n < 0 && n != -EMSGSIZE && n != -ECONNRESET)
                        break;
        }
        np_reap_fd(b, acct, fd);
}

/* A process is gone (or was dropped).  Its waits vanish unanswered, its
 * client ends close as if it had closed them and its server ends as if it
 * had closed them, each peer being told NP_GONE_DIED (CLOSE-09). */
static void client_gone(struct np_broker *b, struct np_client *c)
{
        while (!np_link_empty(&c->waits))
                np_wait_finish(b, np_container_of(c->waits.next, struct np_waiter, client_link), 0,
                               false);
        while (!np_link_empty(&c->lists))
                np_listjob_free(b, np_container_of(c->lists.next, struct np_listjob, link));
        while (!np_link_empty(&c->conns))
                np_conn_close(b, np_container_of(c->conns.next, struct np_conn, client_link),
                              NP_GONE_DIED, NULL);
        while (!np_link_empty(&c->instances))
                np_instance_close(
                    b, np_container_of(c->instances.next, struct np_instance, owner_link),
                    NP_GONE_DIED, NULL);
        /* last: a round this ends answers without c's pipes */
        np_stats_client_gone(b, c);
}

/* Everything but freeing the memory: events later in this batch may still
 * name c, and find it doomed. */
static void reap_one(struct np_broker *b, struct np_client *c)
{
        np_link_del(&c->link);
        client_gone(b, c);
        np_client_queue_end(c);
        close_socket(b, c->acct, c->fd);
        c->fd = -1;
        if (c->flags & NP_CLIENT_REJECT)
                b->n_rejecting--;
        else
                b->n_clients--;
        c->acct->clients--;
        np_uacct_put(b, c->acct);
        c->acct = NULL;
        if (b->n_clients + b->n_rejecting == 0)
                b->idle_since_ns = np_now_ns();
        np_link_add_tail(&b->graveyard, &c->link);
}

/* Reap every doomed client except `keep` (the one whose packets are being
 * read; it is reaped once its loop ends). */
static void reap(struct np_broker *b, struct np_client *keep)
{
        for (;;) {
                struct np_link *l = b->doomed.next;

                if (keep != NULL && l == &keep->link)
                        l = l->next;
                if (l == &b->doomed)
                        return;
                reap_one(b, np_container_of(l, struct np_client, link));
        }
}

static void bury(struct np_broker *b)
{
        np_watch_bury(b);
        np_remote_bury(b);
        while (!np_link_empty(&b->graveyard)) {
                struct np_client *c = np_container_of(b->graveyard.next, struct np_client, link);

                np_link_del(&c->link);
                free(c->groups);
                free(c);
        }
}

/* Supplementary groups of the peer at connect time, for
 * NPIPE_ACCESS_GROUP.  Missing groups only narrow access. */
static void peer_groups(struct np_client *c)
{
        socklen_t len = 32 * sizeof(gid_t);

        for (int tries = 0; tries < 2; tries++) {
                gid_t *g = malloc(len ? len : sizeof(gid_t));

                if (g == NULL)
                        return;
                if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
                        c->groups = g;
                        c->ngroups = (int)(len / sizeof(gid_t));
                        return;
                }
                free(g);
                if (errno != ERANGE)
                        return;
        }
}

/* A new connection we do not keep: what its peer may already have queued
 * must not be released here either (close_socket). */
static void refuse(struct np_broker *b, struct np_uacct *acct, int fd)
{
        close_socket(b, acct, fd);
        np_uacct_put(b, acct);
}

static void client_new(struct np_broker *b, int fd)
{
        static struct np_ratelimit rl_many, rl_cred;
        struct np_client *c;
        struct ucred cred;
        socklen_t len = sizeof cred;
        struct np_uacct *acct;
        uint32_t why = 0; /* the NP_LIMIT_* its HELLO is refused for */

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                np_log_limited(&rl_cred, LOG_WARNING, "SO_PEERCRED: %s", strerror(errno));
                refuse(b, NULL, fd);
                return;
        }
        acct = np_uacct_get(b, cred.uid); /* NULL without memory: uncharged */
        /* A connection over a limit is kept only to answer its HELLO with
         * NPIPE_ELIMIT and the limit (limits.h, NP_LIM_CLIENTS_REJECTING,
         * NP_LIM_FD_RESERVE): the descriptor budget, the total, and
         * another user's share (NP_LIM_UID_SHARE). */
        if (fd >= b->fd_budget)
                why = NP_LIMIT_FDS | NP_LIMIT_BROKER;
        else if (b->n_clients >= NP_LIM_CLIENTS)
                why = NP_LIMIT_PROCESSES | NP_LIMIT_BROKER;
        else if (acct != NULL && acct->limited &&
                 acct->clients >= NP_LIM_CLIENTS / NP_LIM_UID_SHARE)
                why = NP_LIMIT_PROCESSES | NP_LIMIT_UID;
        if (why != 0) {
                np_limit_log(b, cred.pid, acct, why);
                if (b->n_rejecting >= NP_LIM_CLIENTS_REJECTING) {
                        np_log_limited(&rl_many, LOG_WARNING,
                                       "too many connections; closing a new one");
                        b->ctr.processes_refused++;
                        refuse(b, acct, fd);
                        return;
                }
        }
        if (acct == NULL) {
                refuse(b, NULL, fd);
                return;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
                refuse(b, acct, fd);
                return;
        }
        c->acct = acct;
        acct->clients++;
        c->src.kind = NP_SRC_CLIENT;
        c->fd = fd;
        c->serial = ++b->next_serial;
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->gid = cred.gid;
        c->flags = why != 0 ? NP_CLIENT_REJECT : 0;
        c->reject_detail = why;
        c->events = EPOLLIN;
        c->outq_tail = &c->outq;
        np_link_init(&c->instances);
        np_link_init(&c->conns);
        np_link_init(&c->waits);
        np_link_init(&c->lists);
        peer_groups(c);
        if (np_watch_fd(b, fd, EPOLLIN, &c->src) < 0) {
                acct->clients--;
                free(c->groups);
                free(c);
                refuse(b, acct, fd);
                return;
        }
        np_link_add_tail(&b->clients, &c->link);
        if (why != 0)
                b->n_rejecting++;
        else
                b->n_clients++;
        np_log(LOG_DEBUG, "client %llu: pid %ld uid %lu", (unsigned long long)c->serial,
               (long)c->pid, (unsigned long)c->uid);
}

int np_loop_accept(struct np_broker *b)
{
        int n = 0;

        for (int i = 0; i < NP_EPOLL_BATCH; i++) {
                int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd >= 0) {
                        client_new(b, fd);
                        n++;
                        continue;
                }
                if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                        continue;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        static struct np_ratelimit rl;
                        struct epoll_event ev = {.events = 0, .data.ptr = &b->listen_src};

                        np_log_limited(&rl, LOG_WARNING, "accept: %s; pausing", strerror(errno));
                        epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->lfd, &ev);
                        b->accept_paused_until_ns = np_now_ns() + NP_ACCEPT_PAUSE_NS;
                }
                break;
        }
        return n;
}

static void client_input(struct np_broker *b, struct np_client *c, uint32_t events)
{
        /* One static buffer: packets are handled to completion one at a
         * time.  Aligned for tidiness only; fields are memcpy'd out. */
        static _Alignas(8) unsigned char buf[NP_PROTO_MAX_PACKET];
        static struct np_rcvd rc;
        static struct np_ratelimit rl;
        bool hup = (events & (EPOLLHUP | EPOLLERR)) != 0;

        for (unsigned i = 0; i < NP_LIM_PACKETS_PER_EVENT; i++) {
                ssize_t n;

                if (c->flags & (NP_CLIENT_DOOMED | NP_CLIENT_DRAINING))
                        break;
                /* Back-pressure: leave requests in the socket while the
                 * client is not reading its replies (unless it hung up:
                 * then what it sent last still counts). */
                if (!hup && c->outq_len >= NP_LIM_OUTQ_HIGH)
                        break;
                /* The reaper's bounds (limits.h, NP_LIM_REAP_PER_UID,
                 * NP_LIM_REAP_HIGH): read nothing that could bring more.
                 * One that hung up meanwhile is not waited for (its
                 * hang-up would wake us for ever). */
                if (np_reap_blocks(b, c->acct)) {
                        if (hup)
                                np_client_doom(b, c, "hung up while paused (reaper)");
                        break;
                }
                n = np_recv_packet_all(c->fd, buf, sizeof buf, &rc, MSG_DONTWAIT);
                if (rc.ctrunc)
                        np_log_limited(&rl, LOG_WARNING,
                                       "client %llu (pid %ld): descriptors lost: table full",
                                       (unsigned long long)c->serial, (long)c->pid);
                if (n == -EAGAIN)
                        break;
                if (n == 0 || (n < 0 && n != -EMSGSIZE)) {
                        for (unsigned k = 0; k < rc.nfd; k++)
                                np_fd_discard(b, c, rc.fds[k]);
                        np_client_doom(b, c, n == 0 ? "disconnected" : "receive failed");
                        break;
                }
                np_handle_packet(b, c, buf, n, rc.nfd > 0 ? rc.fds[0] : -1);
                /* A packet carries one descriptor at most (protocol.md);
                 * the others are none of the handler's business, but are
                 * not ours to close here either. */
                for (unsigned k = 1; k < rc.nfd; k++)
                        np_fd_discard(b, c, rc.fds[k]);
                reap(b, c);
        }
        np_client_update(b, c);
}

static void client_event(struct np_broker *b, struct np_client *c, uint32_t events)
{
        if (c->flags & NP_CLIENT_DOOMED)
                return;
        if (events & EPOLLOUT)
                flush_queue(b, c);
        if (c->flags & NP_CLIENT_DOOMED)
                return;
        /* A client we only meant to say goodbye to hung up first: nothing
         * left to deliver (and level-triggered HUP would spin). */
        if ((c->flags & NP_CLIENT_DRAINING) && (events & (EPOLLHUP | EPOLLERR))) {
                np_client_doom(b, c, "gone");
                return;
        }
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                client_input(b, c, events);
}

static void signal_event(struct np_broker *b)
{
        struct signalfd_siginfo si;

        while (read(b->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                np_log(LOG_INFO, "signal %u: exiting", si.ssi_signo);
                b->stop = true;
        }
}

/* Milliseconds until the next thing the loop must do by itself, or -1. */
static int next_timeout(const struct np_broker *b, int64_t now)
{
        int64_t next = -1;

        if (b->heap_len > 0)
                next = b->heap[0]->deadline_ns;
        if (np_stats_deadline(b) >= 0 && (next < 0 || np_stats_deadline(b) < next))
                next = np_stats_deadline(b);
        if (b->idle_exit_s > 0 && b->n_clients + b->n_rejecting == 0 && np_reap_idle(b)) {
                int64_t t = b->idle_since_ns + (int64_t)b->idle_exit_s * 1000000000ll;

                if (next < 0 || t < next)
                        next = t;
        }
        if (b->accept_paused_until_ns > 0 && (next < 0 || b->accept_paused_until_ns < next))
                next = b->accept_paused_until_ns;
        {
                int64_t t = np_reap_deadline(b);

                if (t >= 0 && (next < 0 || t < next))
                        next = t;
        }
        if (next < 0)
                return -1;
        if (next <= now)
                return 0;
        /* Round up: waking a little late is fine, early is a spin. */
        next = (next - now + 999999) / 1000000;
        return next > 1000000 ? 1000000 : (int)next;
}

static void timers(struct np_broker *b, int64_t now)
{
        while (b->heap_len > 0 && b->heap[0]->deadline_ns <= now) {
                np_wait_expired(b, b->heap[0]);
                reap(b, NULL);
        }
        if (np_stats_deadline(b) >= 0 && now >= np_stats_deadline(b)) {
                np_stats_expired(b);
                reap(b, NULL);
        }
        if (b->accept_paused_until_ns > 0 && now >= b->accept_paused_until_ns) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->listen_src};

                b->accept_paused_until_ns = 0;
                epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->lfd, &ev);
        }
        if (np_reap_tick(b, now)) {
                resume_clients(b);
                reap(b, NULL);
        }
}

/* Returns 0 when a signal asked us to stop, 1 when idle for --idle-exit. */
int np_loop_run(struct np_broker *b)
{
        struct epoll_event evs[NP_EPOLL_BATCH];

        b->stop = false;
        while (!b->stop) {
                int64_t now = np_now_ns();
                int n, i;

                /* not before the reaper is done: a descriptor it still
                 * holds would be closed by our exit, in our context */
                if (b->idle_exit_s > 0 && b->n_clients + b->n_rejecting == 0 && np_reap_idle(b) &&
                    now - b->idle_since_ns >= (int64_t)b->idle_exit_s * 1000000000ll)
                        return 1;
                n = epoll_wait(b->epfd, evs, NP_EPOLL_BATCH, next_timeout(b, now));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        np_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
                        return -errno;
                }
                for (i = 0; i < n; i++) {
                        struct np_src *src = evs[i].data.ptr;

                        switch (src->kind) {
                        case NP_SRC_LISTEN:
                                np_loop_accept(b);
                                break;
                        case NP_SRC_SIGNAL:
                                signal_event(b);
                                break;
                        case NP_SRC_CLIENT:
                                client_event(b, np_container_of(src, struct np_client, src),
                                             evs[i].events);
                                break;
                        case NP_SRC_PIDWATCH:
                                watch_event(b, np_container_of(src, struct np_pidwatch, src));
                                break;
                        case NP_SRC_REMOTE:
                                /* src is the first member of the socket's record */
                                np_remote_accept(b, (struct np_rsock *)(void *)src);
                                break;
                        case NP_SRC_REAPER:
                                if (np_reap_settle(b))
                                        resume_clients(b);
                                break;
                        }
                        reap(b, NULL);
                }
                bury(b);
                timers(b, np_now_ns());
                bury(b);
        }
        return 0;
}
