/*
 * lifecycle.c - listen, disconnect and close, and the final traffic counts a
 * disconnect or close reports to the broker.
 */
#include "os/lockorder.h"
#include "client/cancel.h"
#include "client/client.h"
#include "client/internal.h"
#include "core/name.h"
#include "core/ring.h"
#include "os/os.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* ---- the final counts ------------------------------------------------------------------- */

/* The body of DISCONNECT / CLOSE_*: our id and, when we leave a connection,
 * its final counts (proto.h, np_end_req). */
void np_end_body(struct npipe *h, const struct conn *c, struct np_end_req *r)
{
        memset(r, 0, sizeof(*r));
        r->id = h->id;
        if (c) {
                r->conn_id = c->conn_id;
                np_conn_traffic(h->server, c, &r->traffic);
        }
}

/* ---- the instance's state, from the broker ------------------------------------------------ */

/* QUERY: the broker's view of our instance. */
int np_query(struct npipe *h, struct np_query_reply *rep)
{
        struct np_instance_req body = {h->id};
        struct np_request req = {.type = NP_MSG_QUERY, .body = &body, .body_len = sizeof(body),
                                 .fd = -1, .reply = rep, .reply_cap = sizeof(*rep)};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r < 0)
                return r;
        if (req.reply_len < sizeof(int32_t))
                return NPIPE_EPROTO;
        if (rep->status < 0)
                return rep->status;
        if (req.reply_type != NP_MSG_QUERY_REPLY || req.reply_len < sizeof(*rep))
                return NPIPE_EPROTO;
        return 0;
}

/* A server end that still looks LISTENING may have a client already: the
 * broker tells us with an event, and a client's open returns as soon as
 * the broker answered it, maybe before our event thread has run.  A
 * round trip to the broker settles it: its reply comes after that event
 * (OPEN-07).  Costs nothing in the connected state. */
void np_sync_listening(struct npipe *h)
{
        if (!h->server)
                return;
        np_lock(&h->lock, NP_LK_STATE);
        int listening = h->state == NPIPE_STATE_LISTENING;
        np_unlock(&h->lock, NP_LK_STATE);
        if (listening) {
                struct np_query_reply q;
                (void)np_query(h, &q);
        }
}

/* ---- listen / disconnect ---------------------------------------------------------------- */

/* A disconnected server instance listens again with a fresh segment
 * (STATE-05): 1 once it listens, or an error (the instance then stays
 * disconnected).  `quick`: the caller will not wait (NOWAIT, timeout 0,
 * the overlapped listen). */
static int relisten(struct npipe *h, int quick)
{
        struct np_seg_hdr *seg;
        size_t sz;
        uint32_t cap = np_server_ring_cap(h->params.out_quota);
        int fd = np_seg_create(cap, NP_ROLE_SERVER, &seg, &sz);
        if (fd < 0)
                return fd;
        np_lock(&h->lock, NP_LK_STATE);
        h->listen_seg = seg;
        h->listen_size = sz;
        h->state = NPIPE_STATE_LISTENING;
        np_unlock(&h->lock, NP_LK_STATE);
        /* A listen that blocks is posted, not called: our state decides
         * every answer (CONNECT-02/06), the broker sees the DISCONNECT
         * before it on the same socket, and a broker lost later is told by
         * adoption, which registers the instance as listening.  The round
         * trip was two wakes per connection.  One that returns at once is
         * called: its caller may then tell a client to open, whose OPEN
         * travels on another socket and must find the instance listening
         * (test_open, OPEN-07).  With no session, call too: that starts
         * one, or says why it cannot. */
        struct np_instance_req body = {h->id};
        int r = quick ? NPIPE_EBROKER : np_broker_post(NP_MSG_LISTEN, &body, sizeof(body), fd);
        if (r < 0)
                r = np_broker_status(NP_MSG_LISTEN, &body, sizeof(body), NULL, 0, fd);
        close(fd);
        if (r >= 0)
                return 1;
        np_lock(&h->lock, NP_LK_STATE);
        if (h->listen_seg == seg) {
                h->listen_seg = NULL;
                h->state = NPIPE_STATE_DISCONNECTED;
                munmap(seg, sz);
        }
        np_unlock(&h->lock, NP_LK_STATE);
        return r;
}

/* Wait for the client of a listening instance. */
static int wait_connected(struct npipe *h, int64_t deadline)
{
        for (;;) {
                uint32_t ev = atomic_load(&h->ev);
                np_lock(&h->lock, NP_LK_STATE);
                int s = h->state, closed = h->closed;
                np_unlock(&h->lock, NP_LK_STATE);
                if (s == NPIPE_STATE_CONNECTED)
                        return 0;
                if (closed)
                        return NPIPE_EPIPE; /* CONNECT-14 */
                if (s != NPIPE_STATE_LISTENING)
                        return NPIPE_ENOTCONN; /* disconnected while listening */
                int64_t rem = np_remaining(deadline);
                if (rem == 0)
                        return NPIPE_ETIMEDOUT;
                np_futex_wait(&h->ev, ev, 0, rem);
        }
}

NPIPE_EXTERN int npipe_listen(npipe_t *hv, int timeout_ms)
{
        struct npipe *h;
        int r = np_h_enter_server(hv, &h); /* CONNECT-07 */
        if (r < 0)
                return r;
        int64_t deadline = np_deadline_of(timeout_ms);
        /* CONNECT-02, CONNECT-08: a client that opened before this call
         * counts, even when its EV_CONNECTED is still on its way to our
         * event thread (it comes before the reply on the same socket).  A
         * round trip only while the instance listens since its creation
         * or its last listen; after a disconnect the state decides. */
        np_sync_listening(h);
        np_lock(&h->op, NP_LK_OP);
        int st = np_end_state_now(h);
        if (st == NPIPE_STATE_CONNECTED) {
                r = NPIPE_EISCONN; /* CONNECT-02 */
        } else if (st == NPIPE_STATE_CLOSING) {
                r = NPIPE_ECLOSING; /* CONNECT-06 */
        } else if (st == NPIPE_STATE_DISCONNECTED) {
                /* STATE-05: back to listening with a fresh segment */
                r = relisten(h, atomic_load(&h->nowait) || timeout_ms == 0);
                /* CONNECT-08: a non-blocking server reports "listening" */
                if (r == 1 && atomic_load(&h->nowait))
                        r = NPIPE_ELISTENING;
        } else {
                r = atomic_load(&h->nowait) ? NPIPE_ELISTENING : 1;
        }
        np_unlock(&h->op, NP_LK_OP);

        if (r == 1)
                r = wait_connected(h, deadline);
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_disconnect(npipe_t *hv)
{
        struct npipe *h;
        int r = np_h_enter_server(hv, &h); /* DISC-07 */
        if (r < 0)
                return r;
        np_lock(&h->op, NP_LK_OP);
        np_lock(&h->lock, NP_LK_STATE);
        struct conn *c = h->conn;
        struct np_seg_hdr *lseg = h->listen_seg;
        size_t lsz = h->listen_size;
        int st = h->state;
        if (st == NPIPE_STATE_DISCONNECTED) {
                np_unlock(&h->lock, NP_LK_STATE);
                np_unlock(&h->op, NP_LK_OP);
                np_h_put(h);
                return NPIPE_ENOTCONN; /* DISC-03 */
        }
        np_conn_set(h, NULL);
        h->listen_seg = NULL;
        h->state = NPIPE_STATE_DISCONNECTED;
        np_unlock(&h->lock, NP_LK_STATE);
        if (c) {
                /* DISC-01/02: both ends lose everything, at once */
                atomic_store_explicit(&c->own->state, NP_SEG_DISCONNECTED, memory_order_release);
                atomic_fetch_add(&c->own->seq, 1);
                np_futex_wake(&c->own->seq, 1, INT_MAX);
                atomic_store(&c->gone, NP_GONE_DISCONNECTED);
                np_wake_own_sleepers(c);
                np_async_note_local(c); /* a local peer's pending I/O fails now */
        }
        np_bump_ev(h); /* pending listens end (CONNECT-14) */
        struct np_end_req body;
        np_end_body(h, c, &body);
        if (st == NPIPE_STATE_LISTENING) {
                /* Once we return, no client may take the instance: wait
                 * until the broker took it out of the listen queue. */
                (void)np_broker_status(NP_MSG_DISCONNECT, &body, sizeof(body), NULL, 0, -1);
        } else {
                /* A connected instance is nobody else's to take, and the
                 * client already sees the disconnect in shared memory;
                 * our later requests (LISTEN) follow this one on the same
                 * socket.  So no round trip: a server that disconnects
                 * and listens again pays one, not two. */
                np_broker_post(NP_MSG_DISCONNECT, &body, sizeof(body), -1);
        }
        np_unlock(&h->op, NP_LK_OP);
        /* calls of other threads may still be using c without a
         * reference of their own (np_conn_borrow) */
        np_conn_retire(h, c);
        if (lseg)
                munmap(lseg, lsz);
        np_h_put(h);
        /* The broker's view follows ours; a broker that is gone has
         * forgotten the instance anyway. */
        return 0;
}

NPIPE_EXTERN int npipe_close(npipe_t *value)
{
        struct npipe *h;
        int r = np_h_enter(value, &h);
        if (r < 0)
                return r;
        np_lock(&h->op, NP_LK_OP);
        np_lock(&np_reg_lock, NP_LK_REG);
        np_lock(&h->lock, NP_LK_STATE);
        if (h->closed) {
                /* another thread's close came first */
                np_unlock(&h->lock, NP_LK_STATE);
                np_unlock(&np_reg_lock, NP_LK_REG);
                np_unlock(&h->op, NP_LK_OP);
                np_handle_leave(h);
                return NPIPE_EBADF;
        }
        __atomic_store_n(&h->closed, 1, __ATOMIC_SEQ_CST);
        np_handle_retire(h); /* no call finds the handle any more */
        if (h->id)
                np_reg_del(h);
        struct conn *c = h->conn;
        struct np_seg_hdr *lseg = h->listen_seg;
        size_t lsz = h->listen_size;
        np_conn_set(h, NULL);
        h->listen_seg = NULL;
        np_unlock(&h->lock, NP_LK_STATE);
        np_unlock(&np_reg_lock, NP_LK_REG);

        /* Our blocking calls in other threads see h->closed and leave
         * (np_sync_closed_state), letting go of h->rd and h->wr, which the
         * cancel below may need. */
        if (c)
                np_wake_own_sleepers(c);
        /* Pending overlapped operations end now, with "cancelled": before
         * the connection is marked closed below, which the completion
         * thread would otherwise report as the pipe broken. */
        np_async_handle_closed(h);
        if (h->rp)
                np_smb_cancel(h); /* remote calls in progress end now */
        if (c) {
                /* CLOSE-01/02: what we wrote stays readable; the peer sees
                 * "closing" after it */
                atomic_store_explicit(&c->own->state, NP_SEG_CLOSED, memory_order_release);
                atomic_fetch_add(&c->own->seq, 1);
                np_futex_wake(&c->own->seq, 1, INT_MAX);
                int zero = 0;
                atomic_compare_exchange_strong(&c->gone, &zero, NP_GONE_CLOSED);
                np_wake_own_sleepers(c);
                np_async_note_local(c); /* a local peer's pending I/O ends now */
        }
        np_bump_ev(h);
        struct np_end_req end;
        np_end_body(h, c, &end);
        if (h->server) {
                /* NAME-17: once the last server handle is closed the name is
                 * gone for everybody, so wait for the broker to have done it */
                (void)np_broker_status_until(NP_MSG_CLOSE_SERVER, &end, sizeof(end), NULL, 0,
                                             -1, np_now_ns() + NP_BROKER_CLOSE_MS * 1000000ll);
        } else if (c)
                np_broker_post(NP_MSG_CLOSE_CLIENT, &end, sizeof(end), -1);
        np_unlock(&h->op, NP_LK_OP);

        /* wait for calls still running in other threads to leave (ours
         * is the one left) */
        np_handle_leave(h);
        for (;;) {
                uint32_t seen;
                if (np_handle_calls(h, &seen) == 0)
                        break;
                if (c)
                        np_wake_own_sleepers(c);
                if (h->rp)
                        np_smb_cancel(h); /* a call that entered the module since */
                np_bump_ev(h);
                np_handle_wait(h, seen, 10000000);
        }
        if (h->rp)
                np_smb_close(h);
        np_conn_put(c);
        /* no call is left to use them */
        for (struct conn *x = h->retired, *next; x; x = next) {
                next = x->retired_next;
                np_conn_put(x);
        }
        h->retired = NULL;
        if (lseg)
                munmap(lseg, lsz);
        np_h_free(h);
        np_async_settle();
        return 0;
}
