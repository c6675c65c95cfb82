/*
 * lockorder.h - the library's locks in the one order they are taken, and a
 * checker of that order for debug builds.
 *
 * Every lock has a rank; a thread may take a lock only when it holds none
 * of a higher rank (the same rank again is allowed: two handles' locks are
 * never nested, but a rank is a kind of lock, not one lock).  With
 * NPIPE_LOCK_CHECK (the debug buildtype, so the ASan and TSan runs of
 * CI) each thread keeps the ranks it holds and aborts, naming both locks,
 * at the first acquisition out of order: an order violation is found
 * where it happens, not only when two threads deadlock on it.  Otherwise
 * np_lock, np_trylock (0 when taken) and np_unlock are the pthread calls.
 *
 * The fork handlers take and reset these locks outside the checker (the
 * child's copy of the thread state would otherwise hold them forever).
 */
#ifndef NPIPE_OS_LOCKORDER_H
#define NPIPE_OS_LOCKORDER_H

#include <pthread.h>

enum np_lock_rank {
        NP_LK_OP = 1,    /* h->op: control operations that talk to the broker */
        NP_LK_SEND,      /* broker.c send_lock: one packet at a time, never held waiting */
        NP_LK_BROKER,    /* broker.c lock: the session and the pending requests;
                          * held while a reply is delivered, which registers
                          * the handle (np_reg_lock) */
        NP_LK_TABLE,     /* handle.c table_lock: slots */
        NP_LK_REG,       /* registry.c np_reg_lock: handles by broker id */
        NP_LK_SHARDS,    /* async.c shards_lock: the list of shards */
        NP_LK_SHARD,     /* a shard's lock: a pass steps operations under it, and
                          * a step reads an end's state.  Under it h->rd and
                          * h->wr are only ever tried (np_trylock), never
                          * waited for: a blocking call may sleep holding
                          * them, and the shard serves many handles */
        NP_LK_STATE,     /* h->lock: an end's state */
        NP_LK_RD,        /* h->rd: one reader at a time */
        NP_LK_WR,        /* h->wr: one producer at a time (a transaction writes under h->rd) */
        NP_LK_CONN,      /* c->wlock: a connection's writer marks */
        NP_LK_DIAG,      /* diag.c: the kept texts of the last failure */
        NP_LK_MAX
};

#ifdef NPIPE_LOCK_CHECK
void np_lock_acquire(int rank, const char *what, const char *where);
/* A lock taken by trylock: counted, not checked (it cannot deadlock). */
void np_lock_taken(int rank, const char *what, const char *where);
void np_lock_release(int rank);
#define NP_LK_STR2(x) #x
#define NP_LK_STR(x) NP_LK_STR2(x)
#define np_lock(m, rank)                                                                           \
        (np_lock_acquire((rank), #m, __FILE__ ":" NP_LK_STR(__LINE__)), pthread_mutex_lock(m))
#define np_trylock(m, rank)                                                                        \
        (pthread_mutex_trylock(m) == 0                                                             \
             ? (np_lock_taken((rank), #m, __FILE__ ":" NP_LK_STR(__LINE__)), 0)                   \
             : 1)
#define np_unlock(m, rank) (pthread_mutex_unlock(m), np_lock_release(rank))
#else
#define np_lock(m, rank) pthread_mutex_lock(m)
#define np_trylock(m, rank) (pthread_mutex_trylock(m) != 0)
#define np_unlock(m, rank) pthread_mutex_unlock(m)
#endif

#endif
