/*
 * internal.h - what pipe.c shares with the async engine (async.c): the
 * handle and connection objects and the state helpers.
 */
#ifndef NPIPE_INTERNAL_H
#define NPIPE_INTERNAL_H

#include "core/ring.h"
#include "proto/proto.h"
#include <npipe/npipe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct np_async;

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

struct npipe {
        pid_t pid; /* the process the handle belongs to */
        int server;
        pthread_mutex_t op;
        pthread_mutex_t lock;
        pthread_mutex_t rd, wr;

        /* under lock */
        int state; /* local view: LISTENING, CONNECTED, DISCONNECTED (server);
                    * CONNECTED (client) */
        int closed;
        struct conn *conn;
        struct np_seg_hdr *listen_seg; /* server: segment offered while listening */
        size_t listen_size;
        uint64_t id;      /* server: instance id; client: conn id */
        int early_gone;   /* client: peer gone before the open returned (NP_GONE_*) */
        struct np_turn *rdq_head, *rdq_tail; /* synchronous readers, in arrival order */
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
        _Atomic int async_reads;  /* pending reads (later reads queue behind them) */
        _Atomic int async_ops;    /* all pending operations */
        _Atomic uint32_t completing; /* taken out for completion, callback not returned */
};


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
/* A slot for h (sets h->slot, hidx, gen); NPIPE_ENOMEM when full. */
int np_handle_add(struct npipe *h);
/* The value the program holds for h. */
npipe_t *np_handle_value(const struct npipe *h);
/* Find the handle of a value and count a call in it; NPIPE_EBADF for a
 * value that is no live handle (closed, reused, or never one). */
int np_handle_enter(npipe_t *value, struct npipe **ret);
/* Count one more call in h, which the caller already holds. */
void np_handle_hold(struct npipe *h);
/* The end of a call (of np_handle_enter or np_handle_hold): touches no
 * memory of h afterwards. */
void np_handle_leave(struct npipe *h);
/* Closing: no call enters h any more... */
void np_handle_retire(struct npipe *h);
/* ...the calls still inside (and the futex word to wait on)... */
int np_handle_calls(const struct npipe *h, uint32_t *seen);
void np_handle_wait(const struct npipe *h, uint32_t seen, int64_t timeout_ns);
/* ...and the slot free for another handle, once they have left. */
void np_handle_remove(struct npipe *h);

/* Enter an API call: the handle of `value`, counted as a caller (a close
 * waits for it), or NPIPE_EBADF / NPIPE_EFORKED. */
int np_h_enter(npipe_t *value, struct npipe **ret);
/* Count a caller for a handle already held (an internal thread's). */
void np_h_hold(struct npipe *h);
/* Leave: the end of np_h_enter or np_h_hold. */
void np_h_put(struct npipe *h);
void np_bump_ev(struct npipe *h);
struct conn *np_conn_get(struct npipe *h);
void np_conn_put(struct conn *c);
int np_end_state(struct npipe *h, struct conn *c);
/* After publishing data (producer) / consuming (consumer). */
void np_wake_reader(struct conn *c);
void np_wake_writer(struct conn *c);
int np_peer_closed_state(struct npipe *h, struct conn *c, int *disconnected);
uint32_t np_write_quota(struct npipe *h);
int np_read_state_error(struct npipe *h, int st);
int np_write_state_error(struct npipe *h, int st);
/* NPIPE_EMSGSIZE for a message a remote (SMB) client cannot receive. */
int np_remote_write_error(struct npipe *h, size_t len);

/* The engine learns of local changes to c (disconnect, close, peer gone). */
void np_async_kick(struct conn *c);
/* A change to c may have satisfied a pending operation of a peer in this
 * process: np_async_settle, at the end of the call, completes it. */
void np_async_note_local(const struct conn *c);
/* Complete now, in this thread, what local changes noted above satisfied
 * (at the end of a call, with no lock held). */
void np_async_settle(void);
/* Cancel every pending operation of h (it is being closed). */
void np_async_handle_closed(struct npipe *h);

#endif
