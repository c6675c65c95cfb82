/*
 * engine.h - what the files of the async engine share (async.c: shards,
 * completion threads and cancellation; async_step.c: one step of each
 * kind of operation; async_start.c: starting operations).  Private to
 * them; the contract is async.h.
 */
#ifndef NPIPE_CLIENT_ENGINE_H
#define NPIPE_CLIENT_ENGINE_H

#include "client/async.h"
#include "client/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum op_kind { OP_READ, OP_WRITE, OP_LISTEN, OP_TRANSACT };

struct op {
        enum op_kind kind;
        struct npipe *h;
        struct conn *c; /* reference held (NULL for listens) */
        void *buf;
        const void *wbuf;
        size_t len;
        size_t done;
        int phase;       /* writes: 0 = data going into the ring, 1 = waiting for quota */
        uint64_t target; /* writes: our wbytes once this write is in */
        uint64_t first;  /* writes: ring position of the message's first chunk */
        uint64_t end;    /* writes: ring position after its last chunk (phase 1) */
        uint64_t wanting;
        struct np_wwait ww; /* writes: the consumed-bytes mark we wait for */
        int armed;
        /* a thread waiting for this operation steps it itself
         * (np_async_help): the completion thread leaves it alone until
         * that thread stops (under the shard's lock) */
        int helped;
        /* counted in its end's pending count (rpending / wpending, or a
         * version 2 peer's sleeper count), under the shard's lock: only
         * once a thread is about to sleep for it (shard_pass) */
        int counted;
        int live;        /* counted in np_live_ops (np_op_enqueue) */
        int ticketed;    /* a read taken out for completion: its turn is ticket */
        struct np_room room; /* a write's place in its connection's room queue */
        uint32_t ticket;
        np_async_cb cb;
        void *ctx;
        struct op *next, *prev;
};

struct np_shard {
        pthread_mutex_t lock;
        struct op *head, *tail;
        int handles; /* handles assigned (under shards_lock) */
        _Atomic uint32_t kick;
        /* operations unlinked by a pass whose callbacks have not returned */
        _Atomic uint32_t completing;
        /* kicks deferred (np_op_enqueue): counted by every start that
         * could defer; `ticking` while the completion thread sleeps at
         * most TICK_NS, so that a deferred kick costs that at the most */
        _Atomic uint32_t defers;
        _Atomic int ticking;
        struct np_shard *next;
};

/* ---- async_step.c ---- */

enum { STEP_DONE, STEP_WAIT, STEP_RETRY };

struct waitspec {
        const _Atomic uint32_t *addr;
        uint32_t val;
        int priv;
};

/* Step one operation once; STEP_DONE with its status and bytes, STEP_WAIT
 * with *w set to the futex word to sleep on, or STEP_RETRY.
 * `reads_blocked`: an earlier read of the same handle still waits. */
int np_op_step(struct op *o, int reads_blocked, int *status, size_t *bytes, struct waitspec *w);
/* The steps of a read (h->rd held) and a write (h->wr held); the start
 * of an operation tries them once before making it pending. */
int np_op_read_step(struct op *o, int msg_mode, int *status, struct waitspec *w);
int np_op_write_step(struct op *o, int *status, struct waitspec *w);
/* A write's consumed-bytes mark (what the peer wakes it for). */
void np_op_set_need(struct op *o, uint64_t need);

/* ---- async.c ---- */

struct op *np_op_new(enum op_kind kind, struct npipe *h, struct conn *c, np_async_cb cb,
                     void *ctx);
/* Make o pending (its shard, its counts, the kick), or a negative error. */
int np_op_enqueue(struct op *o);
/* The end of an operation: its callback, and the references it held. */
void np_op_finish(struct op *o, int status, size_t bytes);

#endif
