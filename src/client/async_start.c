/*
 * async_start.c - starting overlapped operations (async.h): each completes
 * at once when it can, as NT does (OVL-20, OVL-21), and is otherwise made
 * pending in the engine.
 */
#include "os/lockorder.h"
#include "client/engine.h"
#include "client/client.h"
#include "client/internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>


/* h->rd, unless a blocking read keeps it (asleep in the middle of a
 * message, possibly for long): an overlapped call must not wait for that.
 * Other holders (a peek, a completion step) keep it for moments only, so
 * a few tries tell the two apart. */
static int rd_take_brief(struct npipe *h)
{
        for (int i = 0; i < 64; i++) {
                if (np_rd_trylock(h) == 0)
                        return 1;
                sched_yield();
        }
        return 0;
}

/* What a data operation's start does first: check the arguments (no
 * callback, or `bad_args`), clear *bytes, enter the handle. */
static int start_begin(npipe_t *hv, np_async_cb cb, int bad_args, size_t *bytes,
                       struct npipe **h)
{
        *bytes = 0;
        if (!cb || bad_args)
                return NPIPE_EINVAL;
        return np_h_enter(hv, h);
}

/* A start that ends without pending (done at once, or refused): what it
 * held goes (o, a heap operation, may be NULL). */
static int start_end(struct npipe *h, struct conn *c, struct op *o, int r)
{
        (void)c; /* borrowed for the call (np_conn_borrow) */
        free(o);
        np_h_put(h);
        return r;
}

/* Pend o, which holds the connection from now on (a reference of its
 * own: the call's borrow ends with it); or end as refused. */
static int start_pend(struct npipe *h, struct conn *c, struct op *o)
{
        if (c)
                atomic_fetch_add(&c->refs, 1);
        int r = np_op_enqueue(o);
        if (r < 0) {
                np_conn_put(c);
                return start_end(h, c, o, r);
        }
        np_h_put(h);
        return r;
}

/* Reads and writes are tried with the operation on the stack: most
 * complete at once, and then no operation is allocated (one malloc and
 * free per overlapped call, docs/performance.md "Win32 overlapped I/O").
 * One that pends moves to the heap here, before anything else can see it:
 * only a write that began streaming a message has left its address, in
 * c->stream_owner (compared, never followed), which moves with it. */
static int start_pend_stack(struct npipe *h, struct conn *c, struct op *so)
{
        struct op *o = malloc(sizeof(*o));
        if (o) {
                if (so->kind == OP_WRITE) {
                        /* copied under h->wr: a later write may be joining
                         * the room queue behind this one (so->room.next) */
                        np_lock(&h->wr, NP_LK_WR);
                        *o = *so;
                        if (c->stream_owner == so)
                                c->stream_owner = o;
                        np_room_move(c, &so->room, &o->room);
                        np_unlock(&h->wr, NP_LK_WR);
                } else {
                        *o = *so;
                }
                return start_pend(h, c, o);
        }
        if (so->kind == OP_WRITE) {
                /* out of memory with the message queued: withdrawn as a
                 * cancel withdraws it (QUOTA-07), so the write fails whole */
                np_lock(&h->wr, NP_LK_WR);
                if (so->phase == 1)
                        np_prod_abort(&c->prod, so->first, so->end, 0);
                else if (c->stream_owner == so)
                        np_prod_abort(&c->prod, so->first, 0, 1);
                if (c->stream_owner == so)
                        c->stream_owner = NULL;
                np_room_leave(c, &so->room);
                np_unlock(&h->wr, NP_LK_WR);
                np_wake_reader(c);
        } else if (so->wanting) {
                atomic_fetch_sub(&c->own->rwant, so->wanting);
        }
        return start_end(h, c, NULL, NPIPE_ENOMEM);
}

int np_async_read(npipe_t *hv, void *buf, size_t len, size_t *bytes, np_async_cb cb, void *ctx)
{
        size_t dummy;
        if (!bytes)
                bytes = &dummy;
        struct npipe *h;
        int r = start_begin(hv, cb, !buf && len, bytes, &h);
        if (r < 0)
                return r;
        if (h->rp) {
                /* a remote operation always pends */
                ctx = np_async_pend_ctx(ctx);
                return start_end(h, NULL, NULL,
                                 ctx ? np_smb_async_read(h, buf, len, cb, ctx) : NPIPE_ENOMEM);
        }
        struct conn *c = np_conn_borrow(h);
        int st = np_end_state(h, c);
        r = np_read_state_error(h, st);
        if (r < 0)
                return start_end(h, c, NULL, r);
        struct op so = {.kind = OP_READ, .h = h, .c = c, .cb = cb, .ctx = ctx}, *o = &so;
        o->buf = buf;
        o->len = len;
        /* Try at once unless earlier reads are queued (they come first),
         * or a blocking read holds h->rd: an overlapped call never waits
         * for it (it may sleep in the middle of a message); the engine
         * steps the read once it can. */
        if (np_async_reads(h) == 0 && rd_take_brief(h)) {
                int msg = atomic_load(&h->read_mode) == NPIPE_READ_MESSAGE &&
                          h->params.type == NPIPE_TYPE_MESSAGE;
                struct waitspec w;
                int status;
                int sr = np_op_read_step(o, msg, &status, &w);
                np_rd_unlock(h);
                if (sr == STEP_DONE || (atomic_load(&h->nowait) && o->done == 0)) {
                        if (sr != STEP_DONE)
                                status = NPIPE_EAGAIN; /* NOWAIT-01: never pends */
                        if (o->wanting)
                                atomic_fetch_sub(&c->own->rwant, o->wanting);
                        *bytes = o->done;
                        return start_end(h, c, NULL, status);
                }
        }
        return start_pend_stack(h, c, o);
}

int np_async_write(npipe_t *hv, const void *buf, size_t len, size_t *bytes, np_async_cb cb,
                   void *ctx)
{
        size_t dummy;
        if (!bytes)
                bytes = &dummy;
        struct npipe *h;
        int r = start_begin(hv, cb, !buf && len, bytes, &h);
        if (r < 0)
                return r;
        if (h->rp) {
                ctx = np_async_pend_ctx(ctx);
                return start_end(h, NULL, NULL,
                                 ctx ? np_smb_async_write(h, buf, len, cb, ctx) : NPIPE_ENOMEM);
        }
        if (atomic_load(&h->nowait) || (len == 0 && h->params.type == NPIPE_TYPE_BYTE)) {
                /* NOWAIT-07: non-blocking writes never pend; ZERO-03 */
                np_h_put(h);
                return npipe_write(hv, buf, len, bytes);
        }
        struct conn *c = np_conn_borrow(h);
        int st = np_end_state(h, c);
        r = np_write_state_error(h, st);
        if (r == 0 && len > NP_MSG_MAX)
                r = NPIPE_EINVAL;
        if (r == 0)
                r = np_remote_write_error(h, len);
        if (r < 0)
                return start_end(h, c, NULL, r);
        struct op so = {.kind = OP_WRITE, .h = h, .c = c, .cb = cb, .ctx = ctx}, *o = &so;
        o->wbuf = buf;
        o->len = len;
        struct waitspec w;
        int status;
        np_lock(&h->wr, NP_LK_WR);
        int wr = NP_RING_FULL, fits = 0, tried = 0;
        o->first = np_prod_pos(&c->prod);
        /* not before an earlier write that waits for room (ORDER-04) */
        if (!c->stream_owner && !c->room_head) {
                wr = np_prod_write(&c->prod, buf, len, &o->done);
                tried = 1;
        }
        if (wr == NP_RING_OK) {
                o->target = c->prod.wbytes;
                o->end = np_prod_pos(&c->prod);
                o->phase = 1;
                /* the common case, decided as write_conn decides it while
                 * we hold h->wr anyway: queued whole and within the quota,
                 * so complete (QUOTA-03; ZERO-01), without
                 * np_op_write_step's second h->wr and loads */
                fits = len == 0 || np_write_fits(c, o->target, np_write_quota(h));
        } else if (wr == NP_RING_FULL) {
                /* it waits for room, behind those that waited before it */
                np_room_join(c, &o->room);
                /* it began a message it could not finish: it owns the ring
                 * until the message is whole.  A write that found another
                 * one streaming wrote nothing and owns nothing. */
                if (tried && c->prod.streaming && !c->stream_owner)
                        c->stream_owner = o;
        }
        np_unlock(&h->wr, NP_LK_WR);
        np_wake_reader(c);
        if (wr == NP_RING_CORRUPT) {
                atomic_store(&c->corrupt, 1);
                return start_end(h, c, NULL, NPIPE_EPIPE);
        }
        if (fits) {
                *bytes = len;
                return start_end(h, c, NULL, 0);
        }
        if (o->phase == 1 && np_op_write_step(o, &status, &w) == STEP_DONE) {
                *bytes = status == 0 ? len : 0;
                return start_end(h, c, NULL, status);
        }
        return start_pend_stack(h, c, o);
}

int np_async_listen(npipe_t *hv, np_async_cb cb, void *ctx)
{
        struct npipe *h;
        if (!cb)
                return NPIPE_EINVAL;
        /* the immediate part (state checks, back to listening after a
         * disconnect) is the synchronous call with no wait */
        int r = npipe_listen(hv, 0);
        if (r != NPIPE_ETIMEDOUT)
                return r;
        r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct op *o = np_op_new(OP_LISTEN, h, NULL, cb, ctx);
        if (!o) {
                np_h_put(h);
                return NPIPE_ENOMEM;
        }
        r = np_op_enqueue(o);
        if (r < 0)
                free(o);
        np_h_put(h);
        return r;
}

int np_async_transact(npipe_t *hv, const void *in, size_t in_len, void *out, size_t out_len,
                      size_t *bytes, np_async_cb cb, void *ctx)
{
        size_t dummy;
        if (!bytes)
                bytes = &dummy;
        struct npipe *h;
        int r = start_begin(hv, cb, (!in && in_len) || (!out && out_len), bytes, &h);
        if (r < 0)
                return r;
        if (h->rp)
                return start_end(h, NULL, NULL,
                                 np_smb_async_transact(h, in, in_len, out, out_len, cb, ctx));
        struct conn *c = np_conn_borrow(h);
        int st = np_end_state(h, c);
        if (h->params.type != NPIPE_TYPE_MESSAGE || h->params.dir != NPIPE_DUPLEX ||
            atomic_load(&h->read_mode) != NPIPE_READ_MESSAGE)
                r = NPIPE_EBADPIPE; /* TRANS-02 */
        else if (st == NPIPE_STATE_DISCONNECTED && !h->server)
                r = NPIPE_ENOTCONN;
        else if (st != NPIPE_STATE_CONNECTED)
                r = NPIPE_EBADPIPE;
        else if (!h->can_read || !h->can_write)
                r = NPIPE_EACCES;
        else
                r = np_remote_write_error(h, in_len);
        if (r < 0)
                return start_end(h, c, NULL, r);
        /* a blocking read holding h->rd counts as a read pending (it may
         * sleep there): busy, and the overlapped call does not wait */
        int busy = 1;
        if (rd_take_brief(h)) {
                busy = np_cons_has_chunk(&c->cons) || c->cons.in_msg || np_conn_carried(c) ||
                       np_async_reads(h) != 0;
                np_rd_unlock(h);
        }
        if (busy)
                return start_end(h, c, NULL, NPIPE_EBUSY); /* TRANS-03 */
        /* TRANS-05: the write half never waits for quota */
        np_lock(&h->wr, NP_LK_WR);
        size_t done = 0;
        int wr = NP_RING_FULL;
        if (!c->stream_owner && !c->room_head)
                wr = np_prod_write(&c->prod, in, in_len, &done);
        np_unlock(&h->wr, NP_LK_WR);
        np_wake_reader(c);
        if (wr != NP_RING_OK) {
                /* no room for the request at all: a deviation we report
                 * as busy rather than block an overlapped caller */
                return start_end(h, c, NULL, wr == NP_RING_CORRUPT ? NPIPE_EPIPE : NPIPE_EBUSY);
        }
        struct op *o = np_op_new(OP_TRANSACT, h, c, cb, ctx);
        if (!o)
                return start_end(h, c, NULL, NPIPE_ENOMEM);
        o->buf = out;
        o->len = out_len;
        return start_pend(h, c, o);
}
