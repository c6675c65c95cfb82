/*
 * notify.h - what the data path tells the completion engine above it.
 *
 * The data path (handle.c, wake.c, lifecycle.c, events.c) sits below the
 * completion engine (async.c), which is built on it: a write that
 * satisfies a local peer's pending read, a disconnect that ends it, or a
 * close that cancels a handle's operations must reach the engine without
 * the data path calling up into it.  It
 * does so through this file: two words it reads inline (no call on the
 * hot path while no overlapped operation exists) and the engine's hooks,
 * which the engine installs before its first operation can be pending.
 */
#ifndef NPIPE_CLIENT_NOTIFY_H
#define NPIPE_CLIENT_NOTIFY_H

#include <stdatomic.h>

struct conn;
struct npipe;

struct np_engine_hooks {
        /* complete now what this thread's calls satisfied (OVL-20, OVL-21) */
        void (*settle)(void);
        /* c changed state (disconnect, close, peer gone): wake the engine */
        void (*kick)(struct conn *c);
        /* h is being closed: its pending operations end, cancelled */
        void (*closed)(struct npipe *h);
};

/* Operations pending in this process that a local peer may satisfy: on a
 * connection with both ends here, and listens (np_op_enqueue); 0 means
 * np_async_note_local has nothing to note. */
extern _Atomic int np_live_ops;
/* This thread changed a connection whose peer is in this process while
 * operations were pending: it settles before its call returns. */
extern __thread int np_settle_wanted;

/* Once, by the engine, before it counts its first operation in np_live_ops. */
void np_engine_install(const struct np_engine_hooks *hooks);
/* The hooks, or nothing when the engine never ran in this process. */
void np_engine_settle(void);
void np_engine_kick(struct conn *c);
void np_engine_handle_closed(struct npipe *h);

#endif
