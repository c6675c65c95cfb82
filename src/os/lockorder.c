/*
 * lockorder.c - the lock-order checker of debug builds (lockorder.h).
 */
#include "os/lockorder.h"

#ifdef NPIPE_LOCK_CHECK
#include <stdio.h>
#include <stdlib.h>

/* Per thread: how many locks of each rank it holds, and the name and
 * place of the last one taken of each rank (for the report). */
static __thread unsigned char held[NP_LK_MAX];
static __thread const char *held_what[NP_LK_MAX], *held_where[NP_LK_MAX];

void np_lock_acquire(int rank, const char *what, const char *where)
{
        for (int r = rank + 1; r < NP_LK_MAX; r++) {
                if (held[r]) {
                        fprintf(stderr,
                                "npipe: lock order violated: %s (rank %d) at %s taken while "
                                "holding %s (rank %d) taken at %s\n",
                                what, rank, where, held_what[r], r, held_where[r]);
                        abort();
                }
        }
        if ((rank == NP_LK_RD || rank == NP_LK_WR) && held[NP_LK_SHARD]) {
                /* in order, but a blocking read or write may sleep holding
                 * it: waiting here would stop every handle of the shard */
                fprintf(stderr,
                        "npipe: %s (rank %d) at %s waited for under a shard lock taken "
                        "at %s: take it with np_trylock\n",
                        what, rank, where, held_where[NP_LK_SHARD]);
                abort();
        }
        np_lock_taken(rank, what, where);
}

void np_lock_taken(int rank, const char *what, const char *where)
{
        held[rank]++;
        held_what[rank] = what;
        held_where[rank] = where;
}

void np_lock_release(int rank)
{
        if (held[rank] == 0) {
                fprintf(stderr, "npipe: lock of rank %d released but not held\n", rank);
                abort();
        }
        held[rank]--;
}
#else
/* ISO C wants a translation unit to declare something */
typedef int np_lockorder_unused;
#endif
