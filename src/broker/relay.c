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
 *
 * This file is the thread: it waits, hands each event to the step it
 * belongs to, and runs the timers.  The steps are relay_handshake.c (1 to
 * 3), relay_copy.c (4) and relay_conn.c (what every step shares); relay.h
 * says which may call which.
 */
#include "broker/relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/limits.h"
#include "client/client.h"

/* ---- the thread ---------------------------------------------------------- */

static void adopt_incoming(void)
{
        struct np_rconn *list;

        pthread_mutex_lock(&np_relay.lock);
        list = np_relay.incoming;
        np_relay.incoming = NULL;
        pthread_mutex_unlock(&np_relay.lock);
        while (list != NULL) {
                struct np_rconn *rc = list;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = rc};

                list = rc->rnext;
                rc->rnext = NULL;
                rc->next = np_relay.all;
                if (np_relay.all != NULL)
                        np_relay.all->prev = rc;
                np_relay.all = rc;
                rc->events = EPOLLIN;
                rc->deadline_ns = np_now_ns() + (int64_t)NP_REMOTE_HANDSHAKE_MS * 1000000;
                if (epoll_ctl(np_relay.epfd, EPOLL_CTL_ADD, rc->fd, &ev) < 0)
                        np_relay_fail(rc, "epoll");
        }
}

static void handle_ready(void)
{
        for (;;) {
                struct np_rconn *rc;
                bool rd, wr;
                int rs, ws;
                size_t rb;

                pthread_mutex_lock(&np_relay.lock);
                rc = np_relay.ready;
                if (rc == NULL) {
                        pthread_mutex_unlock(&np_relay.lock);
                        return;
                }
                np_relay.ready = rc->rnext;
                rc->on_ready = false;
                rd = rc->rd_done;
                wr = rc->wr_done;
                rs = rc->rd_status;
                ws = rc->wr_status;
                rb = rc->rd_bytes;
                rc->rd_done = rc->wr_done = false;
                pthread_mutex_unlock(&np_relay.lock);

                /* both results are in hand: neither operation is pending
                 * any more, whatever happens to rc below */
                if (rd)
                        rc->rd_pending = false;
                if (wr)
                        rc->wr_pending = false;
                if (rc->dead) {
                        if (!rc->rd_pending && !rc->wr_pending)
                                np_relay_destroy(rc);
                        continue;
                }
                if (wr && (!np_relay_pipe_write_done(rc, ws) || !np_relay_sock_input(rc)))
                        continue;
                if (rd && !rc->eof)
                        np_relay_pipe_read_done(rc, rs, rb);
        }
}

static void timers(int64_t now)
{
        struct np_rconn *next;

        for (struct np_rconn *rc = np_relay.all; rc != NULL; rc = next) {
                next = rc->next;
                if (rc->st == NP_R_HANDSHAKE && now >= rc->deadline_ns) {
                        np_relay_fail(rc, "no handshake in time");
                } else if (rc->st == NP_R_WAITING && now >= rc->retry_ns) {
                        int r = np_relay_try_open(rc);

                        if (r == 0) {
                                np_relay_go_live(rc);
                        } else if (r != NPIPE_EBUSY) {
                                np_relay_fail(rc, npipe_strerror(r));
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

        for (struct np_rconn *rc = np_relay.all; rc != NULL; rc = rc->next) {
                int64_t t = rc->st == NP_R_HANDSHAKE ? rc->deadline_ns
                            : rc->st == NP_R_WAITING ? rc->retry_ns
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
        while (!atomic_load(&np_relay.stop)) {
                int n = epoll_wait(np_relay.epfd, evs, 64, next_timeout(np_now_ns()));

                for (int k = 0; k < n; k++) {
                        struct np_rconn *rc = evs[k].data.ptr;
                        uint32_t e = evs[k].events;

                        if (rc == NULL) {
                                uint64_t v;

                                if (read(np_relay.efd, &v, sizeof v) < 0) {
                                        /* nothing to drain */
                                }
                                continue;
                        }
                        /* closed earlier in this batch (epoll_wait had
                         * already copied its events) */
                        if (rc->dead)
                                continue;
                        if (rc->st == NP_R_HANDSHAKE) {
                                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                        np_relay_hs_input(rc);
                                continue;
                        }
                        if (rc->st == NP_R_WAITING) {
                                int avail = 0;

                                if (!(e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                                        continue;
                                /* it wrote before it left: deliver that
                                 * once an instance is free */
                                if (!(e & EPOLLERR) && ioctl(rc->fd, FIONREAD, &avail) == 0 &&
                                    avail > 0)
                                        np_relay_hung_up(rc);
                                else
                                        np_relay_fail(rc, "client closed while waiting");
                                continue;
                        }
                        if ((e & EPOLLOUT) && rc->out_len > rc->out_off) {
                                int r = np_relay_send_out(rc);

                                if (r < 0 || (r > 0 && !np_relay_start_pipe_read(rc)))
                                        continue;
                        }
                        if (!(e & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                                continue;
                        if (!rc->wr_pending) {
                                np_relay_sock_input(rc);
                        } else if (e & (EPOLLHUP | EPOLLERR)) {
                                /* a message waits for the quota: the rest
                                 * of the socket is read once the write
                                 * completed (handle_ready) */
                                np_relay_hung_up(rc);
                        }
                }
                adopt_incoming();
                handle_ready();
                timers(np_now_ns());
                np_relay_bury();
        }
        while (np_relay.all != NULL)
                np_relay_free(np_relay.all);
        np_relay_bury();
        return NULL;
}

int np_relay_start(void)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

        /* The relay is a client of this very broker: never start another */
        np_broker_autostart(0);
        np_relay.epfd = epoll_create1(EPOLL_CLOEXEC);
        np_relay.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (np_relay.epfd < 0 || np_relay.efd < 0 ||
            epoll_ctl(np_relay.epfd, EPOLL_CTL_ADD, np_relay.efd, &ev) < 0)
                return -1;
        if (pthread_create(&np_relay.thread, NULL, relay_main, NULL) != 0)
                return -1;
        np_relay.running = true;
        return 0;
}

/* Not joined: the thread may be waiting for this broker's reply to an
 * open, and the loop that would answer has ended.  The process exits
 * right after, and the connections end with it. */
void np_relay_stop(void)
{
        if (!np_relay.running)
                return;
        atomic_store(&np_relay.stop, true);
        np_relay_poke();
}

int np_relay_submit(int fd, const char *name, bool message)
{
        struct np_rconn *rc;

        if (atomic_fetch_add(&np_relay.count, 1) >= NP_LIM_REMOTE_CONNS) {
                atomic_fetch_sub(&np_relay.count, 1);
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
                atomic_fetch_sub(&np_relay.count, 1);
                return -1;
        }
        rc->fd = fd;
        rc->msg = message;
        rc->st = NP_R_HANDSHAKE;
        pthread_mutex_lock(&np_relay.lock);
        rc->rnext = np_relay.incoming;
        np_relay.incoming = rc;
        pthread_mutex_unlock(&np_relay.lock);
        np_relay_poke();
        return 0;
}
