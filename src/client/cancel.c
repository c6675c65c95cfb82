/*
 * cancel.c - ending a blocked synchronous call from another thread (cancel.h).
 */
#include "client/cancel.h"
#include "client/client.h"

#include <limits.h>
#include <stdatomic.h>

__thread struct np_synccancel *np_synccancel_self;

void np_synccancel_enter(struct np_synccancel *t)
{
        atomic_store(&t->word, 0);
        atomic_store(&t->fired, 0);
        np_synccancel_self = t;
}

void np_synccancel_leave(void)
{
        np_synccancel_self = NULL;
}

void np_synccancel_fire(struct np_synccancel *t)
{
        atomic_store(&t->fired, 1);
        uintptr_t w = atomic_load(&t->word);
        if (w)
                np_futex_wake((const _Atomic uint32_t *)(w & ~(uintptr_t)1), (int)(w & 1),
                              INT_MAX);
}
