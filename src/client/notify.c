/*
 * notify.c - the words and hooks by which the data path reaches the
 * completion engine above it (notify.h).
 */
#include "client/notify.h"

#include <stddef.h>

_Atomic int np_live_ops;
__thread int np_settle_wanted;

static const struct np_engine_hooks *_Atomic engine;

void np_engine_install(const struct np_engine_hooks *hooks)
{
        atomic_store_explicit(&engine, hooks, memory_order_release);
}

void np_engine_settle(void)
{
        const struct np_engine_hooks *e = atomic_load_explicit(&engine, memory_order_acquire);

        /* np_settle_wanted is only set while operations are live, so after
         * the engine installed itself; without it there is nothing to do */
        if (e != NULL)
                e->settle();
        else
                np_settle_wanted = 0;
}

void np_engine_kick(struct conn *c)
{
        const struct np_engine_hooks *e = atomic_load_explicit(&engine, memory_order_acquire);

        if (e != NULL)
                e->kick(c);
}

void np_engine_handle_closed(struct npipe *h)
{
        const struct np_engine_hooks *e = atomic_load_explicit(&engine, memory_order_acquire);

        /* no engine: no operation was ever pending in this process */
        if (e != NULL)
                e->closed(h);
}
