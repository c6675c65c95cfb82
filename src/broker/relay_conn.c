/*
 * relay_conn.c - the SMB relay's connections (relay.h): the state the
 * relay's files share, the completion callbacks of the pipe side, the epoll
 * interest of a socket, and how a connection ends.
 *
 * Kept apart from the data path and the handshake because both end
 * connections and set their interest through these functions, and from
 * the thread (relay.c) because it drives all of them: this is the bottom
 * of the relay's files and calls none of them.
 */
#include "broker/relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/broker.h"
#include "client/async.h"

struct np_relay np_relay = {.lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .efd = -1};

void np_relay_poke(void)
{
        uint64_t one = 1;

        if (write(np_relay.efd, &one, sizeof one) < 0) {
                /* the counter is only saturated: the thread wakes anyway */
        }
}

/* ---- completions (on the library's completion thread) -------------------- */

static void push_ready_locked(struct np_rconn *rc)
{
        if (!rc->on_ready) {
                rc->on_ready = true;
                rc->rnext = np_relay.ready;
                np_relay.ready = rc;
        }
}

void np_relay_rd_cb(void *ctx, int status, size_t bytes)
{
        struct np_rconn *rc = (struct np_rconn *)((char *)ctx - offsetof(struct np_rconn, rd_ctx));

        pthread_mutex_lock(&np_relay.lock);
        rc->rd_done = true;
        rc->rd_status = status;
        rc->rd_bytes = bytes;
        push_ready_locked(rc);
        pthread_mutex_unlock(&np_relay.lock);
        np_relay_poke();
}

void np_relay_wr_cb(void *ctx, int status, size_t bytes)
{
        struct np_rconn *rc = (struct np_rconn *)((char *)ctx - offsetof(struct np_rconn, wr_ctx));

        (void)bytes;
        pthread_mutex_lock(&np_relay.lock);
        rc->wr_done = true;
        rc->wr_status = status;
        push_ready_locked(rc);
        pthread_mutex_unlock(&np_relay.lock);
        np_relay_poke();
}

/* ---- connections -------------------------------------------------------- */

void np_relay_set_events(struct np_rconn *rc)
{
        uint32_t want = 0;

        if (rc->eof)
                return; /* out of the epoll set: hang-ups are level-triggered */
        if (rc->st == NP_R_HANDSHAKE || (rc->st == NP_R_LIVE && !rc->wr_pending))
                want |= EPOLLIN;
        if (rc->st == NP_R_WAITING)
                want |= EPOLLRDHUP;
        if (rc->out_len > rc->out_off)
                want |= EPOLLOUT;
        if (want != rc->events) {
                struct epoll_event ev = {.events = want, .data.ptr = rc};

                epoll_ctl(np_relay.epfd, EPOLL_CTL_MOD, rc->fd, &ev);
                rc->events = want;
        }
}

/* Events later in the current epoll batch may still name rc: its memory
 * goes only after the batch (np_relay_bury), and they see rc->dead. */
void np_relay_destroy(struct np_rconn *rc)
{
        rc->rnext = np_relay.graveyard;
        np_relay.graveyard = rc;
        atomic_fetch_sub(&np_relay.count, 1);
}

void np_relay_bury(void)
{
        while (np_relay.graveyard != NULL) {
                struct np_rconn *rc = np_relay.graveyard;

                np_relay.graveyard = rc->rnext;
                free(rc->hs);
                free(rc->id);
                free(rc->name);
                free(rc);
        }
}

/* End a connection.  Its memory lives on while a completion callback is
 * still on its way: an operation the completion thread had already
 * finished when we cancelled is not cancelled, and its callback runs
 * later (exactly once, async.h).  relay.c's handle_ready frees such a
 * zombie when the last one arrived. */
void np_relay_free(struct np_rconn *rc)
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
        else if (np_relay.all == rc)
                np_relay.all = rc->next;
        if (rc->next != NULL)
                rc->next->prev = rc->prev;
        rc->prev = rc->next = NULL;
        close(rc->fd); /* smbd: the client's next call fails, PIPE_DISCONNECTED */
        rc->fd = -1;
        rc->dead = true;

        pthread_mutex_lock(&np_relay.lock);
        if (rc->rd_done)
                rc->rd_pending = false;
        if (rc->wr_done)
                rc->wr_pending = false;
        rc->rd_done = rc->wr_done = false;
        gone = !rc->rd_pending && !rc->wr_pending;
        if (gone)
                for (struct np_rconn **pp = &np_relay.ready; *pp != NULL; pp = &(*pp)->rnext)
                        if (*pp == rc) {
                                *pp = rc->rnext;
                                break;
                        }
        pthread_mutex_unlock(&np_relay.lock);
        if (gone)
                np_relay_destroy(rc);
}

void np_relay_fail(struct np_rconn *rc, const char *why)
{
        np_log(LOG_DEBUG, "remote client of %s: %s", rc->name, why);
        np_relay_free(rc);
}

/* smbd hung up, but what the client wrote before it closed its handle
 * must still reach the server (CLOSE-01): keep reading the socket to its
 * end, send nothing more to it, and stop watching it (a hang-up is
 * reported on every epoll_wait whatever the interest). */
void np_relay_hung_up(struct np_rconn *rc)
{
        epoll_ctl(np_relay.epfd, EPOLL_CTL_DEL, rc->fd, NULL);
        rc->eof = true;
        rc->out_off = rc->out_len = 0;
        if (rc->rd_pending && rc->h != NULL)
                np_async_cancel(rc->h, &rc->rd_ctx); /* what it took goes back */
}

/* One read of the socket, for the handshake and the data path alike. */
ssize_t np_relay_recv(struct np_rconn *rc, void *buf, size_t want, const char *eof_why)
{
        for (;;) {
                ssize_t n = recv(rc->fd, buf, want, MSG_DONTWAIT);

                if (n > 0)
                        return n;
                if (n < 0 && errno == EINTR)
                        continue;
                /* a socket smbd hung up on is read to its end (np_relay_hung_up):
                 * nothing more will come */
                if (n < 0 && errno == EAGAIN && !rc->eof)
                        return 0;
                np_relay_fail(rc, n < 0 ? "socket read failed" : eof_why);
                return -1;
        }
}
