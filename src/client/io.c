/*
 * io.c - reading and writing (the NT blocking rules: quotas, message mode, read
 * order), peek, transact and flush.
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

/* ---- read / write ------------------------------------------------------------------------ */

/* Common entry of data operations: the connection (borrowed for the
 * call, np_conn_borrow; may be NULL)
 * and the state; NPIPE_EBADF when a close began after the call entered. */
static int data_entry(struct npipe *h, struct conn **ret, int *st)
{
        /* An end with a connection is past LISTENING (the connect event set
         * both at once): only one without may have a client the broker
         * told us of, and only it pays np_sync_listening's lock. */
        struct conn *c = np_conn_borrow(h);
        if (!c && h->server) {
                np_sync_listening(h);
                c = np_conn_borrow(h);
        } else if (!c && h->rp) {
                /* a remote pipe's end: smb.c does the call */
                *st = NPIPE_STATE_CONNECTED;
                *ret = NULL;
                return NP_REMOTE_CALL;
        }
        *st = np_end_state(h, c);
        *ret = c;
        /* A close in another thread began after this call entered: the
         * handle is gone for it (CLOSE-06), whatever state the close left
         * the connection in (it may have taken it, or marked it closed) */
        if (__atomic_load_n(&h->closed, __ATOMIC_SEQ_CST) ||
            (!c && (*st == NPIPE_STATE_CONNECTED || *st == NPIPE_STATE_CLOSING)))
                return NPIPE_EBADF;
        return 0;
}

/* Read with h->rd held while consuming.  The lock is dropped while we
 * sleep for data, so peeks and other readers are not held up, except in
 * the middle of a message that is still streaming in: that one read owns
 * the message until it is complete (never torn between readers).
 * One loop of about 80 lines on purpose: every exit (data, state, cancel,
 * timeout) must see the same `done` and `wanting`, and the loop is the
 * path of every blocking read. */
static int read_locked(struct npipe *h, struct conn *c, void *buf, size_t len, size_t *nread,
                       int force_msg, int nowait, int64_t deadline)
{
        size_t done = 0;
        uint64_t wanting = 0; /* what we added to rwant while blocked */
        int counted = 0;      /* in rwaiting (np_wait_begin) */
        int r;
        np_note_cpu(c);
        for (;;) {
                uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
                int disc;
                int closed = np_sync_closed_state(h, c, &disc);
                if (disc) {
                        r = NPIPE_ENOTCONN;
                        break;
                }
                if (atomic_load(&c->corrupt)) {
                        r = NPIPE_EPIPE;
                        break;
                }
                /* MODE-11: the read mode when the read is satisfied counts */
                int msg_mode = force_msg || (atomic_load(&h->read_mode) == NPIPE_READ_MESSAGE &&
                                             h->params.type == NPIPE_TYPE_MESSAGE);
                int rr = np_conn_read(c, buf, len, msg_mode, &done);
                if (rr == NP_RING_OK || rr == NP_RING_MORE) {
                        np_wake_writer(c);
                        r = rr == NP_RING_OK ? 0 : NPIPE_EMOREDATA;
                        break;
                }
                /* the producer's head this finding was made by: the spin
                 * below waits for it to move */
                uint64_t head = c->cons.seen_head;
                if (rr == NP_RING_CORRUPT) {
                        atomic_store(&c->corrupt, 1);
                        r = NPIPE_EPIPE;
                        break;
                }
                if (done)
                        np_wake_writer(c);
                if (closed) {
                        /* All the peer wrote is consumed (it published before
                         * closing).  Bytes are bytes; a message cut short is
                         * lost, never delivered torn. */
                        r = !msg_mode && done ? 0 : NPIPE_EPIPE;
                        if (msg_mode)
                                done = 0;
                        break;
                }
                if (nowait && rr == NP_RING_EMPTY) {
                        r = NPIPE_EAGAIN; /* NOWAIT-01 */
                        break;
                }
                if (nowait && !msg_mode && done) {
                        r = 0; /* non-blocking: what is there */
                        break;
                }
                int keep = rr == NP_RING_PARTIAL;
                if (!wanting && len > done) {
                        /* NOWAIT-04/05: a non-blocking writer may hand us this much */
                        wanting = len - done;
                        atomic_fetch_add(&c->own->rwant, wanting);
                }
                if (!counted) {
                        /* A spin that writes nothing first; then counted
                         * before the seq we sleep on is read (ring_layout.h) */
                        if (!keep)
                                np_rd_unlock(h);
                        int moved = np_conn_spin_progress(c, seq, &c->peer->head, head);
                        if (!keep)
                                np_rd_lock(h);
                        if (!moved) {
                                np_wait_begin(c, 0);
                                counted = 1;
                        }
                        continue;
                }
                if (!keep)
                        np_rd_unlock(h);
                int w = np_conn_wait_spun(c, seq, 0, 0, deadline, 1);
                if (!keep)
                        np_rd_lock(h);
                /* a cancel (CancelSynchronousIo) ends the read as a timeout does */
                if (w == NPIPE_ECANCELED ||
                    (w == NPIPE_ETIMEDOUT &&
                     atomic_load_explicit(&c->peer->seq, memory_order_acquire) == seq)) {
                        if (!msg_mode && done) {
                                r = 0; /* bytes are bytes: deliver what we took */
                                break;
                        }
                        /* the part of a message still streaming in that we
                         * took goes back to the head of the queue */
                        if (done)
                                np_conn_stash(c, buf, done);
                        done = 0;
                        r = w;
                        break;
                }
        }
        if (counted)
                np_wait_end(c, 0);
        if (wanting)
                atomic_fetch_sub(&c->own->rwant, wanting);
        *nread = done;
        return r;
}

/* Why a read or a write cannot start in state `st` (STATE-09/10, CLOSE-04),
 * or 0: one rule for the blocking calls and the overlapped ones. */
int np_read_state_error(struct npipe *h, int st)
{
        if (st == NPIPE_STATE_LISTENING)
                return NPIPE_ELISTENING; /* STATE-09 */
        if (st == NPIPE_STATE_DISCONNECTED)
                return NPIPE_ENOTCONN; /* STATE-10 */
        if (!h->can_read)
                return NPIPE_EACCES;
        return 0;
}

int np_write_state_error(struct npipe *h, int st)
{
        if (st == NPIPE_STATE_LISTENING)
                return NPIPE_ELISTENING;
        if (st == NPIPE_STATE_DISCONNECTED)
                return NPIPE_ENOTCONN;
        if (!h->can_write)
                return NPIPE_EACCES;
        if (st == NPIPE_STATE_CLOSING)
                return NPIPE_ECLOSING; /* CLOSE-04 */
        return 0;
}

/* h->rd's lock bit (internal.h): a futex lock in the bits the turn count
 * leaves free.  A thread that slept takes it with NP_RD_WAITERS set, as
 * others may sleep still; the unlock that finds the bit wakes one. */
void np_rd_lock_wait(_Atomic uint32_t *w)
{
        uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
        for (;;) {
                if (!(v & NP_RD_LOCKED)) {
                        if (atomic_compare_exchange_weak_explicit(
                                w, &v, v | NP_RD_LOCKED | NP_RD_WAITERS, memory_order_seq_cst,
                                memory_order_relaxed))
                                return;
                        continue;
                }
                if (!(v & NP_RD_WAITERS)) {
                        if (!atomic_compare_exchange_weak_explicit(w, &v, v | NP_RD_WAITERS,
                                                                   memory_order_relaxed,
                                                                   memory_order_relaxed))
                                continue;
                        v |= NP_RD_WAITERS;
                }
                /* a change of the turn count meanwhile makes the wait
                 * return at once (the word is not v): it looks again */
                np_futex_wait(w, v, 0, -1);
                v = atomic_load_explicit(w, memory_order_relaxed);
        }
}

void np_rd_unlock_word(_Atomic uint32_t *w)
{
        uint32_t v = atomic_fetch_and_explicit(w, ~(NP_RD_LOCKED | NP_RD_WAITERS),
                                               memory_order_seq_cst);
        if (v & NP_RD_WAITERS)
                np_futex_wake(w, 0, 1);
}

/* Synchronous reads are served in arrival order (ORDER-01, MSG-14): only
 * the reader whose turn it is reads; the others sleep on their own word
 * until it is theirs.  A reader that finds the queue empty (rdq_n was 0)
 * has the turn at once, and one that leaves it with nobody behind (rdq_n
 * back to 0) is done: the common case, a single reader, takes no lock
 * (two lock round trips per read before, issue 16).  Otherwise the queue
 * is h->lock's: the leaving reader hands the turn to the first one
 * linked, or, when the one counted behind it has not linked itself yet,
 * leaves the turn free (rdq_free) for it to take. */
static int turn_enter(struct npipe *h, struct np_turn *t, int64_t deadline)
{
        if (np_rd_turns(atomic_fetch_add(&h->rdw, NP_RD_TURN)) == 0)
                return 0;
        t->next = NULL;
        atomic_store(&t->go, 0);
        np_lock(&h->lock, NP_LK_STATE);
        if (h->rdq_free) {
                h->rdq_free = 0;
                np_unlock(&h->lock, NP_LK_STATE);
                return 0;
        }
        if (h->rdq_tail)
                h->rdq_tail->next = t;
        else
                h->rdq_head = t;
        h->rdq_tail = t;
        np_unlock(&h->lock, NP_LK_STATE);
        while (!atomic_load(&t->go)) {
                int64_t rem = np_remaining(deadline);
                int cancelled = np_synccancel_arm(&t->go, 0);
                if (rem == 0 || cancelled) {
                        /* leave the queue; given the turn now is fine too */
                        np_lock(&h->lock, NP_LK_STATE);
                        if (atomic_load(&t->go)) {
                                np_unlock(&h->lock, NP_LK_STATE);
                                np_synccancel_disarm();
                                return 0;
                        }
                        struct np_turn *prev = NULL;
                        for (struct np_turn *x = h->rdq_head; x; prev = x, x = x->next)
                                if (x == t) {
                                        if (prev)
                                                prev->next = t->next;
                                        else
                                                h->rdq_head = t->next;
                                        if (h->rdq_tail == t)
                                                h->rdq_tail = prev;
                                        break;
                                }
                        /* still behind the reader whose turn it is: that
                         * one's leave sees this count */
                        atomic_fetch_sub(&h->rdw, NP_RD_TURN);
                        np_unlock(&h->lock, NP_LK_STATE);
                        np_synccancel_disarm();
                        return cancelled ? NPIPE_ECANCELED : NPIPE_ETIMEDOUT;
                }
                np_futex_wait(&t->go, 0, 0, rem);
                np_synccancel_disarm(); /* a cancel is seen at the next arm */
        }
        return 0;
}

static void turn_leave(struct npipe *h)
{
        if (np_rd_turns(atomic_fetch_sub(&h->rdw, NP_RD_TURN)) == 1)
                return;
        np_lock(&h->lock, NP_LK_STATE);
        struct np_turn *next = h->rdq_head;
        if (next) {
                h->rdq_head = next->next;
                if (!h->rdq_head)
                        h->rdq_tail = NULL;
                atomic_store(&next->go, 1);
                np_futex_wake(&next->go, 0, 1);
        } else if (np_rd_turns(atomic_load(&h->rdw)) != 0) {
                /* counted, not linked yet (a waiter that gave up has
                 * uncounted itself under this lock) */
                h->rdq_free = 1;
        }
        np_unlock(&h->lock, NP_LK_STATE);
}

/* What a read or a write does first: check the arguments, enter the
 * handle, borrow its connection (data_entry).  *h stays NULL when the call
 * did not enter (nothing to release). */
static inline int data_begin(npipe_t *hv, const void *buf, size_t len, size_t *count,
                             struct npipe **h, struct conn **c, int *st)
{
        *count = 0;
        *h = NULL;
        *c = NULL;
        if (!buf && len)
                return NPIPE_EINVAL;
        int r = np_h_enter(hv, h);
        if (r < 0)
                return r;
        return data_entry(*h, c, st);
}

static int do_read(npipe_t *hv, void *buf, size_t len, size_t *nread, int timeout_ms)
{
        size_t dummy;
        if (!nread)
                nread = &dummy;
        struct npipe *h;
        struct conn *c;
        int st;
        int r = data_begin(hv, buf, len, nread, &h, &c, &st);
        if (!h)
                return r;
        if (r == NP_REMOTE_CALL) {
                r = np_smb_read(h, buf, len, nread, timeout_ms);
                np_h_put(h);
                return r;
        }
        if (r == 0)
                r = np_read_state_error(h, st);
        if (r == 0) {
                int64_t deadline = np_deadline_of(timeout_ms);
                struct np_turn t;
                /* alone: the turn and h->rd in one step, and back */
                uint32_t v = 0;
#ifdef NPIPE_LOCK_CHECK
                np_lock_acquire(NP_LK_RD, "h->rd", __FILE__);
                np_lock_release(NP_LK_RD);
#endif
                if (atomic_compare_exchange_strong_explicit(&h->rdw, &v,
                                                            NP_RD_LOCKED | NP_RD_TURN,
                                                            memory_order_seq_cst,
                                                            memory_order_relaxed)) {
#ifdef NPIPE_LOCK_CHECK
                        np_lock_taken(NP_LK_RD, "h->rd", __FILE__);
#endif
                } else {
                        r = turn_enter(h, &t, deadline);
                        if (r == 0)
                                np_rd_lock(h);
                }
                if (r == 0) {
                        r = read_locked(h, c, buf, len, nread, 0, atomic_load(&h->nowait),
                                        deadline);
                        v = NP_RD_LOCKED | NP_RD_TURN;
                        if (atomic_compare_exchange_strong_explicit(&h->rdw, &v, 0,
                                                                    memory_order_seq_cst,
                                                                    memory_order_relaxed)) {
#ifdef NPIPE_LOCK_CHECK
                                np_lock_release(NP_LK_RD);
#endif
                        } else {
                                np_rd_unlock(h);
                                turn_leave(h);
                        }
                }
        }
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_read(npipe_t *h, void *buf, size_t len, size_t *nread)
{
        return do_read(h, buf, len, nread, NPIPE_INFINITE);
}

NPIPE_EXTERN int npipe_read_timeout(npipe_t *h, void *buf, size_t len, size_t *nread,
                                    int timeout_ms)
{
        return do_read(h, buf, len, nread, timeout_ms);
}

/* Wait until the unread bytes up to `target` (our wbytes after the write)
 * fit the quota (QUOTA-03), or the pipe ends. */
static int wait_quota_counted(struct npipe *h, struct conn *c, uint64_t target, uint64_t quota,
                              int64_t deadline, int *counted)
{
        for (;;) {
                uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
                int disc;
                int closed = np_sync_closed_state(h, c, &disc);
                uint64_t rb = atomic_load_explicit(&c->peer->rbytes, memory_order_acquire);
                np_lock(&h->wr, NP_LK_WR);
                uint64_t wb = c->prod.wbytes;
                int64_t unread = np_prod_unread(&c->prod);
                np_unlock(&h->wr, NP_LK_WR);
                if (rb > wb || unread < 0) {
                        atomic_store(&c->corrupt, 1);
                        return NPIPE_EPIPE;
                }
                /* unread bytes up to our write, less cancelled writes' (QUOTA-07) */
                uint64_t aborted = (wb - rb) - (uint64_t)unread;
                uint64_t upto = target > rb ? target - rb : 0;
                upto = upto > aborted ? upto - aborted : 0;
                if (upto <= quota)
                        return 0;
                if (disc)
                        return NPIPE_ENOTCONN; /* DISC-02 */
                if (closed)
                        return NPIPE_EPIPE; /* CLOSE-07 */
                if (!*counted) {
                        /* a spin that writes nothing, then counted (read_locked) */
                        if (!np_conn_spin_progress(c, seq, &c->peer->rbytes, rb)) {
                                np_wait_begin(c, 1);
                                *counted = 1;
                        }
                        continue;
                }
                /* the consumer must pass target - quota (less what was cancelled) */
                uint64_t need = rb + (upto - quota);
                int w = np_conn_wait_spun(c, seq, 1, need, deadline, 1);
                if (w == NPIPE_ECANCELED)
                        return w;
                if (w == NPIPE_ETIMEDOUT &&
                    atomic_load_explicit(&c->peer->seq, memory_order_acquire) == seq)
                        return NPIPE_ETIMEDOUT;
        }
}

/* Put len bytes into the ring (streaming when needed).  Called with h->wr,
 * which it lets go of while it sleeps before writing anything; then it
 * keeps its place in the room queue (`place`).
 * *first: the ring position where the message starts (for np_prod_abort). */
static int write_ring_counted(struct npipe *h, struct conn *c, const void *buf, size_t len,
                              int64_t deadline, uint64_t *first, int *counted,
                              struct np_room *place)
{
        size_t done = 0;
        *first = np_prod_pos(&c->prod);
        np_note_cpu(c);
        for (;;) {
                uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
                uint64_t rpos = atomic_load_explicit(&c->peer->rpos, memory_order_acquire);
                int disc;
                int closed = np_sync_closed_state(h, c, &disc);
                if (disc)
                        return NPIPE_ENOTCONN;
                if (closed)
                        return done ? NPIPE_EPIPE : NPIPE_ECLOSING;
                int r = NP_RING_FULL;
                /* an async write is streaming a large message, or writes
                 * wait for room before us (ORDER-04): wait our turn */
                if (!c->stream_owner && np_room_turn(c, place)) {
                        if (done == 0)
                                *first = np_prod_pos(&c->prod);
                        r = np_prod_write(&c->prod, buf, len, &done);
                }
                np_wake_reader(c);
                if (r == NP_RING_OK)
                        return 0;
                if (r == NP_RING_CORRUPT) {
                        atomic_store(&c->corrupt, 1);
                        return NPIPE_EPIPE;
                }
                /* No room: any consumption frees some, also of empty
                 * messages (which move no bytes: mark 0).  With nothing of
                 * our message in the ring yet, h->wr has nothing to keep
                 * whole while we sleep: let it go, so that a cancel or a
                 * close that aborts another write (the streaming one we
                 * wait behind, say) never waits for us. */
                int drop = done == 0;
                if (drop)
                        np_room_join(c, place); /* no later write passes us */
                if (!*counted) {
                        /* a spin that writes nothing, then counted (read_locked) */
                        if (drop)
                                np_unlock(&h->wr, NP_LK_WR);
                        int moved = np_conn_spin_progress(c, seq, &c->peer->rpos, rpos);
                        if (drop)
                                np_lock(&h->wr, NP_LK_WR);
                        if (!moved) {
                                np_wait_begin(c, 1);
                                *counted = 1;
                        }
                        continue;
                }
                if (drop)
                        np_unlock(&h->wr, NP_LK_WR);
                int w = np_conn_wait_spun(c, seq, 1, 0, deadline, 1);
                if (drop)
                        np_lock(&h->wr, NP_LK_WR);
                if (w == NPIPE_ECANCELED) {
                        /* QUOTA-07: what the reader has not taken of a
                         * message still streaming in vanishes */
                        if (done)
                                np_prod_abort(&c->prod, *first, 0, 1);
                        np_wake_reader(c);
                        return w;
                }
                if (w == NPIPE_ETIMEDOUT &&
                    atomic_load_explicit(&c->peer->seq, memory_order_acquire) == seq)
                        return NPIPE_ETIMEDOUT;
        }
}

static int write_ring(struct npipe *h, struct conn *c, const void *buf, size_t len,
                      int64_t deadline, uint64_t *first)
{
        int counted = 0;
        struct np_room place = {0};
        int r = write_ring_counted(h, c, buf, len, deadline, first, &counted, &place);
        if (place.queued) {
                np_room_leave(c, &place);
                /* the next write waiting for room may put now; it sleeps
                 * on the peer's seq, which our leaving does not move */
                if (c->room_head)
                        np_futex_wake(&c->peer->seq, 1, INT_MAX);
        }
        if (counted)
                np_wait_end(c, 1);
        return r;
}

static int wait_quota(struct npipe *h, struct conn *c, uint64_t target, uint64_t quota,
                      int64_t deadline)
{
        int counted = 0;
        int r = wait_quota_counted(h, c, target, quota, deadline, &counted);
        if (counted)
                np_wait_end(c, 1);
        return r;
}

/* flags for do_write */
#define W_NO_QUOTA_WAIT 0x1 /* TRANS-05 */
#define W_BLOCKING 0x2      /* ignore the handle's PIPE_NOWAIT */

static int write_conn(struct npipe *h, struct conn *c, const void *buf, size_t len,
                      size_t *nwritten, int flags, int64_t deadline)
{
        int nowait = !(flags & W_BLOCKING) && atomic_load(&h->nowait);
        int msg_pipe = h->params.type == NPIPE_TYPE_MESSAGE;
        uint64_t quota = np_write_quota(h);
        *nwritten = 0;
        if (len > NP_MSG_MAX)
                return NPIPE_EINVAL;
        if (len == 0 && !msg_pipe)
                return 0; /* ZERO-03: nothing is queued on a byte pipe */

        np_lock(&h->wr, NP_LK_WR);
        if (nowait) {
                /* NOWAIT-04/05: all or (message) nothing, (byte) what readers take */
                int64_t unread = np_prod_unread(&c->prod);
                int64_t room = np_prod_room(&c->prod);
                uint64_t want = atomic_load_explicit(&c->peer->rwant, memory_order_acquire);
                if (unread < 0 || room < 0) {
                        np_unlock(&h->wr, NP_LK_WR);
                        atomic_store(&c->corrupt, 1);
                        return NPIPE_EPIPE;
                }
                if (want > NP_MSG_MAX)
                        want = NP_MSG_MAX;
                uint64_t free_quota = (uint64_t)unread < quota ? quota - (uint64_t)unread : 0;
                uint64_t fits = free_quota + want;
                if ((uint64_t)room < fits)
                        fits = (uint64_t)room;
                if (len > fits) {
                        if (msg_pipe) {
                                np_unlock(&h->wr, NP_LK_WR);
                                return 0;
                        }
                        len = (size_t)(want < (uint64_t)room ? want : (uint64_t)room);
                        if (len > fits)
                                len = (size_t)fits;
                        if (len == 0) {
                                np_unlock(&h->wr, NP_LK_WR);
                                return 0;
                        }
                }
        }
        uint64_t first;
        int r = write_ring(h, c, buf, len, deadline, &first);
        uint64_t target = c->prod.wbytes, end = np_prod_pos(&c->prod);
        /* The common case, decided while we hold the lock anyway: the
         * unread bytes up to ours are within the quota (wait_quota's
         * first test, without taking h->wr again). */
        int fits = r == 0 && np_write_fits(c, target, quota);
        np_unlock(&h->wr, NP_LK_WR);
        if (r < 0)
                return r;
        /* ZERO-01: an empty message completes at once; so does a
         * non-blocking write, which only wrote what fits */
        if (len && !nowait && !fits && !(flags & W_NO_QUOTA_WAIT)) {
                r = wait_quota(h, c, target, quota, deadline);
                if (r == NPIPE_ECANCELED) {
                        /* QUOTA-07: the write's unread bytes vanish, and a
                         * FlushFileBuffers of ours waits for them no more
                         * (CANCEL-07; it sleeps on the peer's seq) */
                        np_lock(&h->wr, NP_LK_WR);
                        np_prod_abort(&c->prod, first, end, 0);
                        np_unlock(&h->wr, NP_LK_WR);
                        np_wake_reader(c);
                        np_futex_wake(&c->peer->seq, 1, INT_MAX);
                }
                if (r < 0)
                        return r;
        }
        *nwritten = len;
        return 0;
}

static int do_write(npipe_t *hv, const void *buf, size_t len, size_t *nwritten,
                    int timeout_ms)
{
        size_t dummy;
        if (!nwritten)
                nwritten = &dummy;
        struct npipe *h;
        struct conn *c;
        int st;
        int r = data_begin(hv, buf, len, nwritten, &h, &c, &st);
        if (!h)
                return r;
        if (r == NP_REMOTE_CALL) {
                r = np_smb_write(h, buf, len, nwritten, timeout_ms);
                np_h_put(h);
                return r;
        }
        if (r == 0)
                r = np_write_state_error(h, st);
        if (r == 0)
                r = np_remote_write_error(h, len);
        if (r == 0)
                r = write_conn(h, c, buf, len, nwritten, 0, np_deadline_of(timeout_ms));
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_write(npipe_t *h, const void *buf, size_t len, size_t *nwritten)
{
        return do_write(h, buf, len, nwritten, NPIPE_INFINITE);
}

NPIPE_EXTERN int npipe_write_timeout(npipe_t *h, const void *buf, size_t len,
                                     size_t *nwritten, int timeout_ms)
{
        return do_write(h, buf, len, nwritten, timeout_ms);
}

/* ---- peek, transact, flush --------------------------------------------------------------- */

NPIPE_EXTERN int npipe_peek(npipe_t *hv, void *buf, size_t len, struct npipe_peek *ret)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct npipe_peek out = {0};
        struct conn *c;
        int st;
        r = data_entry(h, &c, &st);
        if (r < 0)
                ; /* closed meanwhile */
        else if (r == NP_REMOTE_CALL)
                r = np_smb_peek(h, buf, len, &out);
        else if (st == NPIPE_STATE_LISTENING || (st == NPIPE_STATE_DISCONNECTED && h->server))
                r = NPIPE_EBADPIPE; /* STATE-09/10, PEEK-07 */
        else if (st == NPIPE_STATE_DISCONNECTED)
                r = NPIPE_ENOTCONN;
        else if (!h->can_read)
                r = NPIPE_EACCES; /* PEEK-14 */
        else {
                struct np_peek_result pr;
                np_rd_lock(h);
                int closed = st == NPIPE_STATE_CLOSING;
                /* what a timed-out read carried back comes first */
                size_t k = np_conn_carried(c);
                size_t kc = buf ? (k < len ? k : len) : 0;
                if (kc)
                        memcpy(buf, c->carry + c->carry_off, kc);
                int rr = np_cons_peek(&c->cons, buf ? (uint8_t *)buf + kc : NULL,
                                      buf ? len - kc : 0, h->params.type == NPIPE_TYPE_MESSAGE,
                                      &pr);
                if (k) {
                        pr.avail += k;
                        pr.copied += (uint32_t)kc;
                        pr.have_any = 1;
                        if (h->params.type == NPIPE_TYPE_MESSAGE)
                                pr.msg_len += (uint32_t)k;
                        if (!pr.messages)
                                pr.messages = 1;
                }
                np_rd_unlock(h);
                if (rr < 0) {
                        atomic_store(&c->corrupt, 1);
                        r = NPIPE_EPIPE;
                } else if (closed && !pr.have_any) {
                        r = NPIPE_EPIPE; /* STATE-11: nothing left, outputs untouched */
                } else {
                        out.state = (uint32_t)st;
                        out.avail = pr.avail > UINT32_MAX ? UINT32_MAX : (uint32_t)pr.avail;
                        out.messages = h->params.type == NPIPE_TYPE_MESSAGE ? pr.messages : 0;
                        out.message_len = pr.msg_len;
                        out.copied = pr.copied;
                        out.left = out.message_len - out.copied; /* PEEK-04: wraps */
                        r = 0;
                }
        }
        if (r == 0 && ret)
                *ret = out;
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_transact(npipe_t *hv, const void *in, size_t in_len, void *out,
                                size_t out_len, size_t *nread)
{
        size_t dummy;
        if (!nread)
                nread = &dummy;
        *nread = 0;
        if ((!in && in_len) || (!out && out_len))
                return NPIPE_EINVAL;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c;
        int st;
        r = data_entry(h, &c, &st);
        if (r < 0)
                ; /* closed meanwhile */
        else if (r == NP_REMOTE_CALL)
                r = np_smb_transact(h, in, in_len, out, out_len, nread);
        else if (h->params.type != NPIPE_TYPE_MESSAGE || h->params.dir != NPIPE_DUPLEX ||
            atomic_load(&h->read_mode) != NPIPE_READ_MESSAGE)
                r = NPIPE_EBADPIPE; /* TRANS-02 */
        else if (st == NPIPE_STATE_DISCONNECTED && !h->server)
                r = NPIPE_ENOTCONN; /* TRANS-14 */
        else if (st != NPIPE_STATE_CONNECTED)
                r = NPIPE_EBADPIPE;
        else if (!h->can_read || !h->can_write)
                r = NPIPE_EACCES; /* TRANS-12 */
        else if ((r = np_remote_write_error(h, in_len)) < 0) {
                /* a remote client could not receive it */
        } else {
                np_rd_lock(h);
                /* a count, not the queue: h->lock comes before h->rd */
                int readers = np_rd_turns(atomic_load(&h->rdw)) != 0;
                if (np_cons_has_chunk(&c->cons) || c->cons.in_msg || np_conn_carried(c) ||
                    readers) {
                        /* TRANS-03: unread data or a read pending: nothing written */
                        r = NPIPE_EBUSY;
                } else {
                        size_t w;
                        r = write_conn(h, c, in, in_len, &w, W_NO_QUOTA_WAIT | W_BLOCKING, -1);
                        if (r == NPIPE_ECLOSING)
                                r = NPIPE_EBADPIPE;
                        if (r == 0)
                                r = read_locked(h, c, out, out_len, nread, 1, 0, -1);
                }
                np_rd_unlock(h);
        }
        np_h_put(h);
        return r;
}


NPIPE_EXTERN int npipe_flush(npipe_t *hv)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c;
        int st;
        r = data_entry(h, &c, &st);
        if (r < 0)
                ; /* closed meanwhile */
        else if (r == NP_REMOTE_CALL)
                r = np_smb_flush(h);
        else if (st == NPIPE_STATE_DISCONNECTED && !h->server)
                r = NPIPE_ENOTCONN; /* QUOTA-14 */
        else if (st != NPIPE_STATE_CONNECTED || !c)
                r = 0;
        else {
                /* QUOTA-12: until the peer has read every byte we wrote */
                np_lock(&h->wr, NP_LK_WR);
                uint64_t target = c->prod.wbytes;
                np_unlock(&h->wr, NP_LK_WR);
                r = wait_quota(h, c, target, 0, -1);
        }
        np_h_put(h);
        return r;
}
