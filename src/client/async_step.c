/*
 * async_step.c - one step of each kind of pending operation: try it once
 * and say whether it is done or what futex word to wait on (engine.h).
 * The rules are those of the blocking calls (io.c): read order, quotas,
 * message mode, the peer's state.
 */
#include "os/lockorder.h"
#include "client/engine.h"
#include "client/client.h"
#include "client/internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>


/* Try a read once (h->rd held by the caller).  DONE with status/bytes, or
 * WAIT with *w set to what to wait for. */
int np_op_read_step(struct op *o, int msg_mode, int *status, struct waitspec *w)
{
        struct conn *c = o->c;
        struct npipe *h = o->h;
        uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
        int disc;
        int closed = np_peer_closed_state(h, c, &disc);
        if (disc) {
                *status = NPIPE_ENOTCONN;
                return STEP_DONE;
        }
        if (atomic_load(&c->corrupt)) {
                *status = NPIPE_EPIPE;
                return STEP_DONE;
        }
        int rr = np_conn_read(c, o->buf, o->len, msg_mode, &o->done);
        if (rr == NP_RING_OK || rr == NP_RING_MORE) {
                np_wake_writer(c);
                *status = rr == NP_RING_OK ? 0 : NPIPE_EMOREDATA;
                return STEP_DONE;
        }
        if (rr == NP_RING_CORRUPT) {
                atomic_store(&c->corrupt, 1);
                *status = NPIPE_EPIPE;
                return STEP_DONE;
        }
        if (o->done)
                np_wake_writer(c);
        if (closed) {
                /* CLOSE-06; bytes already taken are delivered, a message cut
                 * short is not */
                *status = !msg_mode && o->done ? 0 : NPIPE_EPIPE;
                if (msg_mode)
                        o->done = 0;
                return STEP_DONE;
        }
        if (!o->wanting && o->len > o->done) {
                o->wanting = o->len - o->done;
                atomic_fetch_add(&c->own->rwant, o->wanting);
        }
        w->addr = &c->peer->seq;
        w->val = seq;
        w->priv = 0;
        return STEP_WAIT;
}

/* Publish the consumed-bytes mark a pending write needs (ring_layout.h). */
void np_op_set_need(struct op *o, uint64_t need)
{
        if (o->armed && o->ww.need == need)
                return;
        if (o->armed)
                np_wwait_disarm(o->c, &o->ww);
        np_wwait_arm(o->c, &o->ww, need);
        o->armed = 1;
}

/* The room queue (internal.h, struct np_room) */
int np_room_turn(const struct conn *c, const struct np_room *r)
{
        return !c->room_head || c->room_head == r;
}

void np_room_join(struct conn *c, struct np_room *r)
{
        if (r->queued)
                return;
        r->queued = 1;
        r->next = NULL;
        if (c->room_tail)
                c->room_tail->next = r;
        else
                c->room_head = r;
        c->room_tail = r;
}

static struct np_room *room_before(const struct conn *c, const struct np_room *r)
{
        struct np_room *prev = NULL;
        for (struct np_room *q = c->room_head; q && q != r; q = q->next)
                prev = q;
        return prev;
}

void np_room_leave(struct conn *c, struct np_room *r)
{
        if (!r->queued)
                return;
        struct np_room *prev = room_before(c, r);
        if (prev)
                prev->next = r->next;
        else
                c->room_head = r->next;
        if (c->room_tail == r)
                c->room_tail = prev;
        r->queued = 0;
        r->next = NULL;
}

void np_room_move(struct conn *c, struct np_room *from, struct np_room *to)
{
        if (!from->queued)
                return;
        struct np_room *prev = room_before(c, from);
        if (prev)
                prev->next = to;
        else
                c->room_head = to;
        if (c->room_tail == from)
                c->room_tail = to;
        to->next = from->next;
        to->queued = 1;
}

/* Phase 0 of a write, h->wr held: put (more of) the message into the
 * ring.  Once it is whole the write waits for quota (phase 1); a message
 * it began and could not finish owns the ring until it is whole.  One
 * that found no room waits its turn in the room queue. */
static int write_put(struct op *o, struct conn *c)
{
        int rr = NP_RING_FULL, tried = 0;
        if (!c->stream_owner && o->done == 0)
                o->first = np_prod_pos(&c->prod);
        if ((!c->stream_owner || c->stream_owner == o) && np_room_turn(c, &o->room)) {
                rr = np_prod_write(&c->prod, o->wbuf, o->len, &o->done);
                tried = 1;
        }
        if (rr == NP_RING_OK) {
                if (c->stream_owner == o)
                        c->stream_owner = NULL;
                np_room_leave(c, &o->room);
                o->target = c->prod.wbytes;
                o->end = np_prod_pos(&c->prod);
                o->phase = 1;
        } else if (rr == NP_RING_FULL) {
                np_room_join(c, &o->room);
                if (tried && c->prod.streaming && !c->stream_owner)
                        c->stream_owner = o;
        }
        return rr;
}

int np_op_write_step(struct op *o, int *status, struct waitspec *w)
{
        struct conn *c = o->c;
        struct npipe *h = o->h;
        uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
        int disc;
        int closed = np_peer_closed_state(h, c, &disc);
        /* DISC-02: a disconnect fails a write that is still waiting.  A
         * write already queued within the quota has completed, whatever
         * happened after (the check below): on Windows it returned then. */
        if (disc && o->phase == 0) {
                *status = NPIPE_ENOTCONN;
                return STEP_DONE;
        }
        if (o->phase == 0) {
                if (closed) {
                        *status = NPIPE_EPIPE;
                        return STEP_DONE;
                }
                if (np_trylock(&h->wr, NP_LK_WR))
                        return STEP_RETRY;
                int rr = write_put(o, c);
                np_unlock(&h->wr, NP_LK_WR);
                np_wake_reader(c);
                if (rr == NP_RING_CORRUPT) {
                        atomic_store(&c->corrupt, 1);
                        *status = NPIPE_EPIPE;
                        return STEP_DONE;
                }
                if (o->phase == 0) {
                        if (o->armed)
                                np_op_set_need(o, 0); /* any consumption, empty messages too */
                        w->addr = &c->peer->seq;
                        w->val = seq;
                        w->priv = 0;
                        return STEP_WAIT;
                }
        }
        uint64_t rb = atomic_load_explicit(&c->peer->rbytes, memory_order_acquire);
        uint64_t quota = np_write_quota(h);
        if (np_trylock(&h->wr, NP_LK_WR))
                return STEP_RETRY;
        uint64_t wb = c->prod.wbytes;
        int64_t unread = np_prod_unread(&c->prod);
        np_unlock(&h->wr, NP_LK_WR);
        if (rb > wb || unread < 0) {
                atomic_store(&c->corrupt, 1);
                *status = NPIPE_EPIPE;
                return STEP_DONE;
        }
        uint64_t aborted = (wb - rb) - (uint64_t)unread;
        uint64_t upto = o->target > rb ? o->target - rb : 0;
        upto = upto > aborted ? upto - aborted : 0;
        if (o->len == 0 || upto <= quota) {
                *status = 0;
                return STEP_DONE;
        }
        if (disc) {
                *status = NPIPE_ENOTCONN; /* DISC-02 */
                return STEP_DONE;
        }
        if (closed) {
                *status = NPIPE_EPIPE; /* CLOSE-07 */
                return STEP_DONE;
        }
        if (o->armed)
                np_op_set_need(o, rb + (upto - quota));
        w->addr = &c->peer->seq;
        w->val = seq;
        w->priv = 0;
        return STEP_WAIT;
}

static int listen_step(struct op *o, int *status, struct waitspec *w)
{
        struct npipe *h = o->h;
        uint32_t ev = atomic_load(&h->ev);
        np_lock(&h->lock, NP_LK_STATE);
        int st = h->state, closed = h->closed;
        np_unlock(&h->lock, NP_LK_STATE);
        if (st == NPIPE_STATE_CONNECTED) {
                *status = 0;
                return STEP_DONE;
        }
        if (closed) {
                *status = NPIPE_EPIPE; /* CONNECT-14 */
                return STEP_DONE;
        }
        if (st != NPIPE_STATE_LISTENING) {
                *status = NPIPE_ENOTCONN;
                return STEP_DONE;
        }
        w->addr = &h->ev;
        w->val = ev;
        w->priv = 1;
        return STEP_WAIT;
}

/* One step of any operation; `reads_blocked` says an earlier read of the
 * same handle is still pending in this pass (reads complete in order). */
int np_op_step(struct op *o, int reads_blocked, int *status, size_t *bytes,
                struct waitspec *w)
{
        int r;
        switch (o->kind) {
        case OP_LISTEN:
                r = listen_step(o, status, w);
                *bytes = 0;
                return r;
        case OP_WRITE:
                r = np_op_write_step(o, status, w);
                *bytes = *status == 0 ? o->len : 0;
                return r;
        case OP_READ:
        case OP_TRANSACT:
                if (reads_blocked) {
                        w->addr = &o->c->peer->seq;
                        w->val = atomic_load(&o->c->peer->seq);
                        w->priv = 0;
                        return STEP_WAIT;
                }
                if (np_rd_trylock(o->h))
                        return STEP_RETRY;
                /* MODE-11: the read mode when the read is satisfied counts */
                int msg = o->kind == OP_TRANSACT ||
                          (atomic_load(&o->h->read_mode) == NPIPE_READ_MESSAGE &&
                           o->h->params.type == NPIPE_TYPE_MESSAGE);
                r = np_op_read_step(o, msg, status, w);
                np_rd_unlock(o->h);
                *bytes = o->done;
                return r;
        }
        return STEP_RETRY;
}
