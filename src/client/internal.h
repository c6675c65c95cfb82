/*
 * internal.h - what the files of the native API share: the handle and
 * connection objects and the helpers one file gives the others.
 *
 * The files, bottom up: handle.c (the handle table and a handle's life),
 * segment.c (the shared segments), wake.c (sleeping and waking), registry.c
 * (handles by broker id), events.c (what the broker tells us), open.c,
 * lifecycle.c (listen, disconnect, close), io.c (read, write, peek,
 * transact, flush), info.c, list.c; async.c runs the overlapped operations
 * over them, broker.c is the broker connection (it calls up through the
 * hooks of client.h), cancel.c ends blocked synchronous calls.
 *
 * Each end owns a segment (ring_layout.h).  The state an operation sees is
 * derived from three sources, read in this order so that no data is lost:
 * our own local state (listening, connected, disconnected), what the broker
 * told us (the peer closed, died, or disconnected us) and the state word in
 * the peer's segment (closed, disconnected).  The peer publishes its data
 * before its state, so reading the state first and the ring second never
 * misses bytes written before a close.
 *
 * Locks, in order (ranks in os/lockorder.h, checked in debug builds):
 * h->op (control operations that talk to the broker), the broker
 * connection's send_lock and lock (broker.c; a reply is delivered under
 * lock, which registers the handle), the handle table's lock, np_reg_lock
 * (registry.c), the async engine's shards_lock and a shard's lock (a pass
 * steps operations under it and reads their ends' state), h->lock (an
 * end's state), h->rd, h->wr (a transaction writes under h->rd), c->wlock.
 * No lock is held across a broker call except h->op, because the event
 * thread needs np_reg_lock and h->lock to deliver the reply's side
 * effects.
 */
#ifndef NPIPE_INTERNAL_H
#define NPIPE_INTERNAL_H

#include "client/async.h"
#include "client/client.h"
#include "client/notify.h"
#include "os/lockorder.h"
#include "core/name.h"
#include "core/ring.h"
#include "proto/proto.h"
#include <npipe/npipe.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct np_async;

#define DEFAULT_CLIENT_RING (128u * 1024u)
#define MIN_SERVER_RING (64u * 1024u)
/* Spin this long for the peer before sleeping, while it looks busy. */
#define SPIN_NS 20000

/* A live connection seen from one end: our segment, the peer's, and the
 * ring cursors.  Reference counted: handles the operations in flight hold
 * it while a disconnect or close detaches it. */
struct conn {
        struct np_seg_hdr *own;
        size_t own_size;
        const struct np_seg_hdr *peer;
        size_t peer_size;
        int peer_is_dummy;
        struct np_cons cons; /* under h->rd */
        struct np_prod prod; /* under h->wr */
        uint64_t conn_id;
        _Atomic int gone;    /* NP_GONE_* from the broker, or our own disconnect */
        _Atomic int corrupt; /* the peer's memory was inconsistent */
        _Atomic int refs;
        struct conn *retired_next; /* under h->lock: np_conn_retire's list */
        _Atomic uint32_t local_sleepers; /* our threads in conn_wait (not the engine) */
        /* When we last futex-woke the peer (np_now_ns), 0 never: a peer
         * we just woke is about to run, though it still counts as a
         * sleeper, so waiting for it may spin (conn_wait_for). */
        _Atomic int64_t woke_ns;
        /* The generations of the peer's rsleep / wsleep we served last
         * (np_wake_due). */
        _Atomic uint32_t rgen_woken, wgen_woken;
        /* Writers waiting for the consumer, each with the rbytes mark it
         * needs; the lowest is published as own->wake_rbytes (under wlock). */
        pthread_mutex_t wlock;
        struct np_wwait *wwaits;
        /* The other end is a handle of this very process: what we do to
         * the connection completes its pending operations before our call
         * returns (async.c, np_async_settle). */
        int peer_local;
        /* An async write streaming a message larger than the free ring owns
         * the producer until its last chunk is in (under h->wr). */
        const void *stream_owner;
        /* Writes that found no room for their message (nothing of it in
         * the ring yet, or part of it: then the head is the stream owner
         * or holds h->wr), in issue order; only the head may put, and no
         * write that comes later puts before them (ORDER-04).  Under
         * h->wr. */
        struct np_room *room_head, *room_tail;
        /* Bytes of a message a read had taken from the ring when it timed
         * out or was cancelled: the head of the queue now, delivered first
         * by the next read (never lost, never torn).  Under h->rd. */
        uint8_t *carry;
        size_t carry_len, carry_off;
};

/* Reading through the carry (pipe.c); all under h->rd. */
int np_conn_read(struct conn *c, void *buf, size_t len, int msg_mode, size_t *done);
void np_conn_stash(struct conn *c, const void *buf, size_t done);
size_t np_conn_carried(const struct conn *c);

/* A write's place in its connection's room queue (conn.room_head): an
 * async write's (in its op) or a blocking write's (on its stack).  The
 * functions take h->wr held (async_step.c). */
struct np_room {
        struct np_room *next;
        int queued;
};
int np_room_turn(const struct conn *c, const struct np_room *r);
void np_room_join(struct conn *c, struct np_room *r);
void np_room_leave(struct conn *c, struct np_room *r);
void np_room_move(struct conn *c, struct np_room *from, struct np_room *to);

struct np_rpipe;
struct npipe {
        pid_t pid; /* the process the handle belongs to */
        int server;
        /* a remote pipe's client end: the module's handle (smb.c); such an
         * end has no connection, fixed after creation */
        struct np_rpipe *rp;
        int remote_info_unknown; /* the server does not answer QUERY_INFO */
        pthread_mutex_t op;
        pthread_mutex_t lock;
        pthread_mutex_t wr;
        /* h->rd, one reader at a time, and the readers' turn count, in one
         * word (np_rd_lock): NP_RD_LOCKED, NP_RD_WAITERS (someone sleeps
         * on the word for the lock), and above them the synchronous
         * readers in the queue - the one whose turn it is, those waiting
         * and those entering.  A lone reader takes both with one locked
         * instruction and leaves both with one (issue 16). */
        _Atomic uint32_t rdw;

        /* under lock */
        int state; /* local view: LISTENING, CONNECTED, DISCONNECTED (server);
                    * CONNECTED (client) */
        int closed;
        /* Written under lock with atomic stores; read under lock, or
         * without by np_conn_borrow (a synchronous data call). */
        struct conn *conn;
        /* Connections taken off `conn` while calls that may have
         * borrowed them were inside: their reference goes once none is
         * (np_conn_retire).  Under lock; a plain load says "maybe some". */
        struct conn *retired;
        struct np_seg_hdr *listen_seg; /* server: segment offered while listening */
        size_t listen_size;
        uint64_t id;      /* server: instance id; client: conn id */
        int early_gone;   /* client: peer gone before the open returned (NP_GONE_*) */
        /* Synchronous readers waiting for their turn, in arrival order
         * (under h->lock; the reader whose turn it is is not linked) */
        struct np_turn *rdq_head, *rdq_tail;
        int rdq_free; /* under h->lock: the turn was left with nobody linked yet */
        pid_t client_pid, server_pid;
        uid_t peer_uid;
        gid_t peer_gid;
        struct np_remote_id *remote; /* server: the SMB user of a remote client, else NULL */

        /* fixed after creation */
        struct np_pipe_params params;
        uint64_t instance_id; /* client: the server instance (for re-registration) */
        uint32_t access;      /* client: NP_ACCESS_* opened with */
        uint32_t cflags;      /* server: NP_CREATE_* created with */
        uint32_t exposure;    /* server: NP_REMOTE_* the broker said at creation */
        int can_read, can_write, can_set_mode;
        char *name;

        _Atomic int read_mode; /* enum npipe_read_mode */
        _Atomic int nowait;
        _Atomic uint32_t ev;    /* private futex: bumped on every event for this handle */
        /* its slot in the handle table (handles.c): the value the program
         * holds, and the count of calls in progress */
        struct np_hslot *slot;
        uint32_t hidx, gen;
        struct npipe *hnext;

        /* async engine (async.c) */
        struct np_shard *shard;   /* the completion thread serving this handle */
        /* Pending operations: all of them in the low half, the reads
         * (later reads queue behind them) in the high half - one locked
         * instruction where a read pends or ends, not two (issue 16) */
        _Atomic uint64_t async_n;
        _Atomic uint32_t completing; /* taken out for completion, callback not returned */
        /* Reads call back in the order they were taken out for completion
         * (ORDER-01): each takes a ticket from rtickets (under the shard's
         * lock) and calls back when rturn reaches it (async.c, read_turn) */
        _Atomic uint32_t rtickets;
        _Atomic uint32_t rturn;
        _Atomic uint32_t rturn_waiters;
};


/* ---- remote pipes (smb.c) ---- */

/* What data_entry returns for a remote handle: the caller hands the call
 * to smb.c. */
#define NP_REMOTE_CALL 1
struct np_smb_name {
        char host[NP_HOST_MAX + 1];
        char bare[NP_NAME_MAX + 1];
};
/* 1: path is a remote pipe path, parsed into *n; 0: it is not; or an
 * error (np_name_remote). */
int np_smb_name(const char *path, struct np_smb_name *n);
int np_smb_open(const struct np_smb_name *n, unsigned access, int timeout_ms, npipe_t **ret);
int np_smb_wait(const struct np_smb_name *n, int timeout_ms);
int np_smb_read(struct npipe *h, void *buf, size_t len, size_t *nread, int timeout_ms);
int np_smb_write(struct npipe *h, const void *buf, size_t len, size_t *nwritten, int timeout_ms);
int np_smb_transact(struct npipe *h, const void *in, size_t in_len, void *out, size_t out_len,
                    size_t *nread);
int np_smb_peek(struct npipe *h, void *buf, size_t len, struct npipe_peek *ret);
int np_smb_flush(struct npipe *h);
int np_smb_get_info(struct npipe *h, struct npipe_info *ret);
int np_smb_set_mode(struct npipe *h, const enum npipe_read_mode *read_mode, const int *nowait);
int np_smb_cancel(struct npipe *h);
/* npipe_close: np_smb_cancel until the calls in progress have left, then
 * close. */
void np_smb_close(struct npipe *h);
/* Overlapped operations on a remote handle (smb_async.c): NP_ASYNC_PENDING
 * or an error; the callback as async.h says.  Cancel: those of h with ctx
 * (all: every one), returning once their callbacks ran; how many. */
int np_smb_async_read(struct npipe *h, void *buf, size_t len, np_async_cb cb, void *ctx);
int np_smb_async_write(struct npipe *h, const void *buf, size_t len, np_async_cb cb, void *ctx);
int np_smb_async_transact(struct npipe *h, const void *in, size_t in_len, void *out,
                          size_t out_len, np_async_cb cb, void *ctx);
int np_smb_async_cancel(struct npipe *h, void *ctx, int all);
/* async.c: run the start hook of np_async_on_start, if this thread set one. */
void np_async_started(void);
/* The ctx of an operation that pends from here on: the np_async_hooks
 * pend hook's record (NULL: out of memory), or ctx itself without one. */
void *np_async_pend_ctx(void *ctx);

/* A synchronous reader's place in the handle's queue (ORDER-01). */
struct np_turn {
        struct np_turn *next;
        _Atomic uint32_t go; /* private futex: 1 once it is this reader's turn */
};

/* A writer's wait for the consumer (linked in conn.wwaits while armed). */
struct np_wwait {
        uint64_t need;
        struct np_wwait *next;
};
void np_wwait_arm(struct conn *c, struct np_wwait *w, uint64_t need);
void np_wwait_disarm(struct conn *c, struct np_wwait *w);

/* ---- the handle table (handles.c) ---- */
#define NP_HANDLE_IDX_BITS 20
#define NP_HANDLES_MAX (1u << NP_HANDLE_IDX_BITS) /* native handles open at once */
struct np_hslot;
#define NP_HANDLE_PAGE_SLOTS 1024u
#define NP_HANDLE_PAGES (NP_HANDLES_MAX / NP_HANDLE_PAGE_SLOTS)
/* The generation bits a value carries (all 32 where pointers are 64 bits). */
#define NP_HANDLE_GEN_BITS ((unsigned)(sizeof(uintptr_t) * 8) - NP_HANDLE_IDX_BITS)
#define NP_HANDLE_GEN_MASK                                                                         \
        (NP_HANDLE_GEN_BITS >= 32 ? 0xffffffffu : ((1u << NP_HANDLE_GEN_BITS) - 1u))

#define NP_RD_LOCKED 1u
#define NP_RD_WAITERS 2u
#define NP_RD_TURN 4u /* one reader in the turn count */
/* Readers counted in the turn queue of a value of h->rdw. */
static inline uint32_t np_rd_turns(uint32_t w)
{
        return w / NP_RD_TURN;
}
void np_rd_lock_wait(_Atomic uint32_t *w);
static inline void np_rd_lock_word(_Atomic uint32_t *w)
{
        uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
        if (!(v & NP_RD_LOCKED) &&
            atomic_compare_exchange_strong_explicit(w, &v, v | NP_RD_LOCKED, memory_order_seq_cst,
                                                    memory_order_relaxed))
                return;
        np_rd_lock_wait(w);
}
static inline int np_rd_trylock_word(_Atomic uint32_t *w)
{
        uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
        while (!(v & NP_RD_LOCKED))
                if (atomic_compare_exchange_weak_explicit(w, &v, v | NP_RD_LOCKED,
                                                          memory_order_seq_cst,
                                                          memory_order_relaxed))
                        return 0;
        return 1;
}
void np_rd_unlock_word(_Atomic uint32_t *w);
/* As np_lock / np_trylock (0 when taken) / np_unlock for h->rd. */
#ifdef NPIPE_LOCK_CHECK
#define np_rd_lock(h)                                                                              \
        (np_lock_acquire(NP_LK_RD, "h->rd", __FILE__ ":" NP_LK_STR(__LINE__)),                     \
         np_rd_lock_word(&(h)->rdw))
#define np_rd_trylock(h)                                                                           \
        (np_rd_trylock_word(&(h)->rdw) == 0                                                        \
             ? (np_lock_taken(NP_LK_RD, "h->rd", __FILE__ ":" NP_LK_STR(__LINE__)), 0)            \
             : 1)
#define np_rd_unlock(h) (np_rd_unlock_word(&(h)->rdw), np_lock_release(NP_LK_RD))
#else
#define np_rd_lock(h) np_rd_lock_word(&(h)->rdw)
#define np_rd_trylock(h) np_rd_trylock_word(&(h)->rdw)
#define np_rd_unlock(h) np_rd_unlock_word(&(h)->rdw)
#endif

struct np_hslot {
        _Atomic uint64_t word;    /* generation << 32 | calls inside */
        _Atomic uint32_t drained; /* futex: bumped when a retired slot's last call leaves */
        uint32_t next_free;       /* under the table's lock: the free list (index + 1) */
        struct npipe *h;          /* valid while the generation matches */
};
/* Pages of slots, made on demand and never freed (handle.c). */
extern struct np_hslot *_Atomic np_handle_pages[NP_HANDLE_PAGES];

static inline struct np_hslot *np_handle_slot(uint32_t idx)
{
        struct np_hslot *p = atomic_load_explicit(&np_handle_pages[idx / NP_HANDLE_PAGE_SLOTS],
                                                  memory_order_acquire);
        return p ? &p[idx % NP_HANDLE_PAGE_SLOTS] : NULL;
}

/* A slot for h (sets h->slot, hidx, gen); NPIPE_ENOMEM when full. */
int np_handle_add(struct npipe *h);
/* The value the program holds for h. */
npipe_t *np_handle_value(const struct npipe *h);
/* Find the handle of a value and count a call in it; NPIPE_EBADF for a
 * value that is no live handle (closed, reused, or never one).  Inline:
 * it starts every call. */
static inline int np_handle_enter(npipe_t *value, struct npipe **ret)
{
        uintptr_t v = (uintptr_t)value;
        uint32_t idx = (uint32_t)(v & ((1u << NP_HANDLE_IDX_BITS) - 1u));
        uintptr_t high = v >> NP_HANDLE_IDX_BITS;
        uint32_t gen = (uint32_t)high & NP_HANDLE_GEN_MASK;
        *ret = NULL;
        /* bits above the generation: no value we made (a pointer, say) */
        if (gen == 0 || high != gen || idx >= NP_HANDLES_MAX)
                return NPIPE_EBADF;
        struct np_hslot *s = np_handle_slot(idx);
        if (!s)
                return NPIPE_EBADF;
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        do {
                if (((uint32_t)(w >> 32) & NP_HANDLE_GEN_MASK) != gen)
                        return NPIPE_EBADF; /* closed, or the slot is another handle's */
        /* seq_cst: ordered before the call's load of h->conn, as a
         * disconnect's store of it is before its count of the calls
         * (np_conn_borrow); on x86 the same locked instruction */
        } while (!atomic_compare_exchange_weak_explicit(&s->word, &w, w + 1, memory_order_seq_cst,
                                                        memory_order_acquire));
        *ret = s->h;
        return 0;
}
/* The last call out of a retired slot wakes the close (handle.c). */
void np_handle_drained(struct np_hslot *s);
/* The end of a call (of np_handle_enter or np_h_hold): touches no
 * memory of h afterwards. */
static inline void np_handle_leave(struct npipe *h)
{
        /* read before the count drops: a close may free h right after */
        struct np_hslot *s = h->slot;
        uint32_t gen = h->gen;
        uint64_t w = atomic_fetch_sub_explicit(&s->word, 1, memory_order_release);
        /* the slot itself is never freed, so touching it here is safe */
        if ((uint32_t)w == 1 && (uint32_t)(w >> 32) != gen)
                np_handle_drained(s);
}
/* Closing: no call enters h any more... */
void np_handle_retire(struct npipe *h);
/* ...the calls still inside (and the futex word to wait on)... */
int np_handle_calls(const struct npipe *h, uint32_t *seen);
void np_handle_wait(const struct npipe *h, uint32_t seen, int64_t timeout_ns);
/* ...and the slot free for another handle, once they have left. */
void np_handle_remove(struct npipe *h);

/* Enter an API call: the handle of `value`, counted as a caller (a close
 * waits for it), or NPIPE_EBADF / NPIPE_EFORKED (a handle of the process
 * we were forked from). */
static inline int np_h_enter(npipe_t *value, struct npipe **ret)
{
        struct npipe *h;
        int r = np_handle_enter(value, &h);
        *ret = NULL;
        if (r < 0)
                return r;
        if (h->pid != atomic_load_explicit(&np_self_pid_now, memory_order_relaxed)) {
                np_handle_leave(h);
                return NPIPE_EFORKED;
        }
        if (__atomic_load_n(&h->closed, __ATOMIC_SEQ_CST)) {
                np_handle_leave(h);
                return NPIPE_EBADF;
        }
        *ret = h;
        return 0;
}
/* Count a caller for a handle already held (an internal thread's). */
void np_h_hold(struct npipe *h);
/* Leave: the end of np_h_enter or np_h_hold. */
void np_h_put(struct npipe *h);

/* np_h_enter for a call that fills *out: `err` when out is NULL. */
static inline int np_h_enter_out(npipe_t *value, const void *out, int err, struct npipe **ret)
{
        *ret = NULL;
        if (!out)
                return err;
        return np_h_enter(value, ret);
}

/* np_h_enter for a call only a server end can make (NPIPE_EFUNCTION). */
static inline int np_h_enter_server(npipe_t *value, struct npipe **ret)
{
        int r = np_h_enter(value, ret);
        if (r == 0 && !(*ret)->server) {
                np_h_put(*ret);
                *ret = NULL;
                return NPIPE_EFUNCTION;
        }
        return r;
}

/* Both of the above. */
static inline int np_h_enter_server_out(npipe_t *value, const void *out, int err,
                                        struct npipe **ret)
{
        *ret = NULL;
        if (!out)
                return err;
        return np_h_enter_server(value, ret);
}
void np_bump_ev(struct npipe *h);
/* The hot helpers of every call, inline: a call into another file per
 * message was measurable (callgrind, bench/README.md). */
static inline struct conn *np_conn_get(struct npipe *h)
{
        np_lock(&h->lock, NP_LK_STATE);
        struct conn *c = h->conn;
        if (c)
                atomic_fetch_add(&c->refs, 1);
        np_unlock(&h->lock, NP_LK_STATE);
        return c;
}
void np_conn_free(struct conn *c); /* segment.c: the last reference went */
static inline void np_conn_put(struct conn *c)
{
        if (c && atomic_fetch_sub(&c->refs, 1) == 1)
                np_conn_free(c);
}
/* The handle's own reference of a connection it let go (disconnect):
 * dropped now if no other call is inside the handle, else when none is
 * (np_conn_reap).  c may be NULL. */
void np_conn_retire(struct npipe *h, struct conn *c);
/* Drop the retired references if the calling call is alone in h. */
void np_conn_reap(struct npipe *h);
/* Set h->conn (under h->lock). */
static inline void np_conn_set(struct npipe *h, struct conn *c)
{
        __atomic_store_n(&h->conn, c, __ATOMIC_SEQ_CST);
}
/* async_n's units: an operation, a read (np_async_unit). */
#define NP_ASYNC_OP 1ull
#define NP_ASYNC_READ ((1ull << 32) | NP_ASYNC_OP)
static inline uint32_t np_async_ops(struct npipe *h)
{
        return (uint32_t)atomic_load(&h->async_n);
}
static inline uint32_t np_async_reads(struct npipe *h)
{
        return (uint32_t)(atomic_load(&h->async_n) >> 32);
}
/* The connection of a synchronous call, without a reference of its own:
 * the call's count in the handle's slot keeps it (np_handle_enter counts
 * the call before this load; a disconnect drops the handle's reference
 * only once no call is counted besides its own, np_conn_retire).  Three
 * locked instructions and a lock fewer per message than np_conn_get,
 * which a call that keeps the connection beyond its return still uses
 * (issue 16).  Only between np_h_enter and np_h_put. */
static inline struct conn *np_conn_borrow(struct npipe *h)
{
        if (__builtin_expect(__atomic_load_n(&h->retired, __ATOMIC_RELAXED) != NULL, 0))
                np_conn_reap(h);
        return __atomic_load_n(&h->conn, __ATOMIC_SEQ_CST);
}
/* The state of an end as NT reports it (STATE-01..05). */
static inline int np_end_state(struct npipe *h, struct conn *c)
{
        if (!c) {
                int s;
                np_lock(&h->lock, NP_LK_STATE);
                s = h->state;
                np_unlock(&h->lock, NP_LK_STATE);
                return s;
        }
        int gone = atomic_load(&c->gone);
        uint32_t ps = atomic_load_explicit(&c->peer->state, memory_order_acquire);
        if (gone == NP_GONE_DISCONNECTED || (!h->server && ps == NP_SEG_DISCONNECTED))
                return NPIPE_STATE_DISCONNECTED;
        if (gone || ps != NP_SEG_OPEN || atomic_load(&c->corrupt))
                return NPIPE_STATE_CLOSING;
        return NPIPE_STATE_CONNECTED;
}

/* The same when the caller does not need the connection. */
int np_end_state_now(struct npipe *h);
/* After publishing data (producer) / consuming (consumer). */
void np_wake_reader(struct conn *c);
void np_wake_writer(struct conn *c);
int np_read_state_error(struct npipe *h, int st);
int np_write_state_error(struct npipe *h, int st);
/* The engine learns of local changes to c (disconnect, close, peer gone). */
static inline void np_async_kick(struct conn *c)
{
        np_engine_kick(c);
}
/* A change to c may have satisfied a pending operation of a peer in this
 * process: np_async_settle, at the end of the call, completes it.  Two
 * loads when no operation is pending anywhere (notify.h). */
static inline void np_async_note_local(const struct conn *c)
{
        if (c->peer_local && atomic_load_explicit(&np_live_ops, memory_order_relaxed) != 0)
                np_settle_wanted = 1;
}
/* Complete now, in this thread, what local changes noted above satisfied
 * (at the end of a call, with no lock held). */
static inline void np_async_settle(void)
{
        if (np_settle_wanted)
                np_engine_settle();
}
/* Cancel every pending operation of h (it is being closed; notify.h). */
static inline void np_async_handle_closed(struct npipe *h)
{
        np_engine_handle_closed(h);
}

/* ---- registry.c: handles by broker id ---- */
extern pthread_mutex_t np_reg_lock; /* guards the table; see the lock order above */
void np_reg_add(struct npipe *h);   /* under np_reg_lock */
void np_reg_del(struct npipe *h);   /* under np_reg_lock */
struct npipe *np_reg_find(uint64_t id, int server); /* under np_reg_lock */
/* Every open handle, each held (np_h_put each, then free the array). */
struct npipe **np_reg_hold_all(size_t *n);
void np_pipe_atfork(int phase);

/* ---- segment.c ---- */
uint32_t np_pow2_at_least(uint64_t n);
/* The ring a server instance needs for its out quota. */
uint32_t np_server_ring_cap(uint32_t out_quota);
/* A fresh sealed segment of `cap` ring bytes for `role`; its fd, mapped
 * at *ret (*size bytes), or a negative NPIPE_E*. */
int np_seg_create(uint32_t cap, uint32_t role, struct np_seg_hdr **ret, size_t *size);
/* A connection over our segment and the peer's (peer_fd: mapped and
 * checked here; a bad one gets a dummy that reads as closed). */
struct conn *np_conn_new(struct np_seg_hdr *own, size_t own_size, int peer_fd, uint32_t peer_role,
                         uint64_t conn_id);

/* ---- wake.c ---- */
/* Deadlines: timeout_ms < 0 is forever (-1). */
static inline int64_t np_deadline_of(int timeout_ms)
{
        return timeout_ms < 0 ? -1 : np_now_ns() + (int64_t)timeout_ms * 1000000;
}

/* Nanoseconds left until `deadline` (0 once passed), -1 for forever. */
static inline int64_t np_remaining(int64_t deadline)
{
        if (deadline < 0)
                return -1;
        int64_t r = deadline - np_now_ns();
        return r < 0 ? 0 : r;
}

/* The same as a timeout for a call that takes milliseconds, rounded up
 * (NPIPE_INFINITE without a deadline). */
static inline int np_remaining_ms(int64_t deadline)
{
        if (deadline < 0)
                return NPIPE_INFINITE;
        return (int)((np_remaining(deadline) + 999999) / 1000000);
}

/* Sleep until the peer's seq moves from `seq`, the deadline passes
 * (NPIPE_ETIMEDOUT) or a CancelSynchronousIo ends the call
 * (NPIPE_ECANCELED); need != 0: a writer waiting for the consumer to pass
 * `need`. */
int np_conn_wait(struct conn *c, uint32_t seq, uint64_t need, int64_t deadline);
int np_conn_wait_for(struct conn *c, uint32_t seq, int writer, uint64_t need, int64_t deadline);
/* A thread that is going to wait for the peer counts itself first
 * (ring_layout.h: the peer increments its seq only for counted waiters),
 * and only then reads the peer's seq and checks its condition: the loops
 * of the blocking calls count on their first turn that would wait, and
 * look again.  `writer`: waiting for the peer to consume. */
static inline void np_wait_begin(struct conn *c, int writer)
{
        atomic_fetch_add_explicit(writer ? &c->own->wwaiting : &c->own->rwaiting, 1,
                                  memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
}

static inline void np_wait_end(struct conn *c, int writer)
{
        atomic_fetch_sub_explicit(writer ? &c->own->wwaiting : &c->own->rwaiting, 1,
                                  memory_order_release);
}

/* As np_conn_wait_for; `spun`: the caller has spun already
 * (np_conn_spin_progress), go to sleep at once. */
int np_conn_wait_spun(struct conn *c, uint32_t seq, int writer, uint64_t need, int64_t deadline,
                      int spun);
/* The spin of a blocking call before it counts itself as waiting: while
 * the peer runs on another CPU, up to SPIN_NS for `progress` (the peer's
 * head for a reader, its consumed position for a writer) to leave `seen`
 * or the peer's seq to leave `seq`.  Nothing is written: a reply that
 * comes within the spin costs no shared write (issue 16).  1 when one
 * moved. */
int np_conn_spin_progress(struct conn *c, uint32_t seq, const _Atomic uint64_t *progress,
                          uint64_t seen);
/* The spin of np_conn_wait_for alone: while the peer runs on another CPU,
 * up to SPIN_NS for `word` to leave `val` (or `extra` to leave
 * `extra_val`, or `progress`, when not NULL, to leave `seen`).  1 when one
 * moved, 0 when it did not or no spin pays. */
int np_conn_spin(struct conn *c, const _Atomic uint32_t *word, uint32_t val,
                 const _Atomic uint32_t *extra, uint32_t extra_val,
                 const _Atomic uint64_t *progress, uint64_t seen);
/* Wake our own threads asleep on the peer's seq until none is left. */
void np_wake_own_sleepers(struct conn *c);

/* ---- handle.c ---- */
struct npipe *np_h_new(int server);
void np_h_free(struct npipe *h);

/* ---- segment.c ---- */
/* What the two ends of c wrote (the counts a disconnect or close reports). */
void np_conn_traffic(int server, const struct conn *c, struct np_traffic *t);

/* ---- lifecycle.c ---- */
/* The body of DISCONNECT / CLOSE_*: our id and the connection's counts. */
void np_end_body(struct npipe *h, const struct conn *c, struct np_end_req *r);
/* A server whose instance went back to listening takes its new segment. */
void np_sync_listening(struct npipe *h);
/* QUERY: the broker's view of our instance. */
int np_query(struct npipe *h, struct np_query_reply *rep);

/* ---- events.c: what the broker tells us (client.h, np_broker_hooks) ---- */
void np_on_connected(const struct np_ev_connected *ev, const struct np_remote_id *remote, int fd);
void np_on_peer_gone(const struct np_ev_peer_gone *ev);
void np_on_broker_lost(void);
/* Give the broker connection our hooks: before anything can start a
 * session (every entry point that calls the broker does it). */
void np_events_install(void);

/* ---- registry.c ---- */
struct np_stats_live *np_stats_collect(size_t *n);

/* ---- async.c ---- */
void np_async_atfork(int phase);


/* ---- small helpers of the data path, inline: each runs in every call ---- */

/* Publish the CPU we run on (glibc's sched_getcpu reads rseq: no syscall;
 * reading the rseq area inline would need glibc 2.35's __rseq_offset, past
 * the documented minimum of 2.34). */
static inline void np_note_cpu(struct conn *c)
{
        int me = sched_getcpu();
        uint32_t mine = me < 0 ? 0 : (uint32_t)me + 1;
        if (atomic_load_explicit(&c->own->cpu, memory_order_relaxed) != mine)
                atomic_store_explicit(&c->own->cpu, mine, memory_order_relaxed);
}

/* Is the peer on the CPU this thread runs on (as it last published, in
 * np_note_cpu's encoding)? */
static inline int np_peer_on_my_cpu(const struct conn *c)
{
        int me = sched_getcpu();
        uint32_t theirs = atomic_load_explicit(&c->peer->cpu, memory_order_relaxed);
        return me >= 0 && theirs == (uint32_t)me + 1;
}

static inline uint32_t np_write_quota(struct npipe *h)
{
        /* QUOTA-01: server writes go outbound, client writes inbound */
        return h->server ? h->params.out_quota : h->params.in_quota;
}

/* Under h->wr, right after a write queued its message, the unread bytes
 * up to it ending at `target` (wbytes after it): do they fit the quota,
 * so that the write completes at once (QUOTA-03)?  First by the consumed
 * bytes last seen, a lower bound of the truth: most writes fit by that
 * alone and leave the consumer's cache line where it is (issue 16); only
 * then by the consumer's count itself, which becomes the one last seen.
 * 0 also when the counts are inconsistent: the caller's wait sees that. */
static inline int np_write_fits(struct conn *c, uint64_t target, uint64_t quota)
{
        if (target - c->prod.seen_rbytes <= quota)
                return 1;
        uint64_t rb = atomic_load_explicit(&c->peer->rbytes, memory_order_acquire);
        int64_t unread = np_prod_unread(&c->prod);
        if (rb <= target && rb > c->prod.seen_rbytes)
                c->prod.seen_rbytes = rb;
        return rb <= target && unread >= 0 && (uint64_t)unread <= quota && target - rb <= quota;
}

/* Is the peer gone (closed, disconnected, or its segment corrupt)?
 * *disconnected: it was a disconnect (DISC-02), not a close. */
static inline int np_peer_closed_state(struct npipe *h, struct conn *c, int *disconnected)
{
        int gone = atomic_load(&c->gone);
        uint32_t ps = atomic_load_explicit(&c->peer->state, memory_order_acquire);
        *disconnected = gone == NP_GONE_DISCONNECTED || (!h->server && ps == NP_SEG_DISCONNECTED);
        return gone || ps != NP_SEG_OPEN || atomic_load(&c->corrupt);
}

/* As np_peer_closed_state, for the blocking calls: their own handle being
 * closed by another thread ends them as well.  npipe_close wakes them and
 * they leave (dropping h->rd, h->wr) before it cancels the overlapped
 * operations, whose cancel needs those locks: a blocking writer waiting
 * for room would otherwise hold h->wr until the peer read.  The engine's
 * steps use np_peer_closed_state alone: its operations end "cancelled". */
static inline int np_sync_closed_state(struct npipe *h, struct conn *c, int *disconnected)
{
        int closed = np_peer_closed_state(h, c, disconnected);
        return closed || __atomic_load_n(&h->closed, __ATOMIC_SEQ_CST);
}

/* NPIPE_EMSGSIZE for a message a remote (SMB) client cannot receive. */
static inline int np_remote_write_error(struct npipe *h, size_t len)
{
        /* u16 framing, and smbd treats an empty frame as an error
         * (docs/remote.md): refuse here, the stream stays intact */
        if (h->server && h->params.type == NPIPE_TYPE_MESSAGE &&
            __atomic_load_n(&h->remote, __ATOMIC_ACQUIRE) != NULL && (len == 0 || len > 65535))
                return NPIPE_EMSGSIZE;
        return 0;
}

#endif
