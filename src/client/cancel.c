/*
 * cancel.c - ending a blocked synchronous call from another thread (cancel.h).
 */
#include "client/cancel.h"
#include "client/client.h"

#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

__thread struct np_synccancel *np_synccancel_self;

void np_synccancel_enter(struct np_synccancel *t)
{
        /* only the owner's arm and the canceller's fire need to see each
         * other's stores in order (seq_cst there); this reset is ordered
         * before them by the caller's own later stores */
        atomic_store_explicit(&t->word, 0, memory_order_relaxed);
        atomic_store_explicit(&t->fired, 0, memory_order_release);
        np_synccancel_self = t;
}

void np_synccancel_leave(void)
{
        np_synccancel_self = NULL;
}

void np_synccancel_fire(struct np_synccancel *t)
{
        atomic_store(&t->fired, 1);
        /* The owner's word does not change on a cancel, so a wake that
         * comes between its registration and its FUTEX_WAIT is lost: wake
         * until it has left the wait.  Once fired it never sleeps again in
         * this call, so this ends as soon as it runs (bounded, in case it
         * does not). */
        for (int i = 0; i < 20000; i++) {
                uintptr_t w = atomic_load(&t->word);
                if (!w)
                        return;
                np_futex_wake((const _Atomic uint32_t *)(w & ~(uintptr_t)1), (int)(w & 1),
                              INT_MAX);
                if (i < 16) {
                        sched_yield();
                } else {
                        struct timespec ts = {0, 50000};
                        nanosleep(&ts, NULL);
                }
        }
}
