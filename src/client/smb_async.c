/*
 * smb_async.c - overlapped operations on a remote pipe's handle (async.h).
 *
 * A local operation pends in the completion engine, which watches the
 * ring's futex words; a remote one waits for an SMB reply, which only the
 * module sees.  So each pending remote operation runs the blocking call
 * on a thread of its own and completes from there: the network costs far
 * more than the thread, and a program has as many of these pending as it
 * has reads posted, a handful.  NT too answers a remote ReadFile with
 * ERROR_IO_PENDING: the request has to cross the network first.
 *
 * Cancelling: the module cancels every call in progress on a handle at
 * once (SMB2 CANCEL of each), so CancelIoEx of one operation also ends the
 * handle's others on a remote pipe (docs/remote.md).  A cancel returns
 * once the cancelled operations' callbacks have run, as the engine's does
 * (issue 18), unless it is called from one of them.
 */
#include "os/lockorder.h"
#include "client/async.h"
#include "client/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

enum rop_kind { ROP_READ, ROP_WRITE, ROP_TRANSACT };

struct rop {
        struct rop *next, *prev;
        struct npipe *h;
        enum rop_kind kind;
        void *out;
        size_t out_len;
        const void *in;
        size_t in_len;
        np_async_cb cb;
        void *ctx;
        pthread_t thread;
};

/* Every remote operation in flight, and a condition for "one ended". */
static pthread_mutex_t rops_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rops_ended = PTHREAD_COND_INITIALIZER;
static struct rop *rops;
static __thread struct rop *tl_running; /* the operation this thread runs */

static void unlink_rop(struct rop *o)
{
        if (o->prev)
                o->prev->next = o->next;
        else
                rops = o->next;
        if (o->next)
                o->next->prev = o->prev;
}

static uint64_t rop_unit(const struct rop *o)
{
        return o->kind == ROP_READ || o->kind == ROP_TRANSACT ? NP_ASYNC_READ : NP_ASYNC_OP;
}

static void *run(void *arg)
{
        struct rop *o = arg;
        struct npipe *h = o->h;
        size_t n = 0;
        int r;

        tl_running = o;
        switch (o->kind) {
        case ROP_READ:
                r = np_smb_read(h, o->out, o->out_len, &n, NPIPE_INFINITE);
                break;
        case ROP_WRITE:
                r = np_smb_write(h, o->in, o->in_len, &n, NPIPE_INFINITE);
                break;
        default:
                r = np_smb_transact(h, o->in, o->in_len, o->out, o->out_len, &n);
                break;
        }
        /* a close ends pending operations as cancelled (ERROR_OPERATION_ABORTED) */
        if (r == NPIPE_EBADF)
                r = NPIPE_ECANCELED;
        atomic_fetch_sub(&h->async_n, rop_unit(o));
        o->cb(o->ctx, r, n);
        pthread_mutex_lock(&rops_lock);
        unlink_rop(o);
        pthread_cond_broadcast(&rops_ended);
        pthread_mutex_unlock(&rops_lock);
        tl_running = NULL;
        free(o);
        np_h_put(h);
        return NULL;
}

/* Start o on its thread: NP_ASYNC_PENDING, or an error with nothing left. */
static int start(struct npipe *h, struct rop *o)
{
        pthread_attr_t attr;
        int e;

        o->h = h;
        np_h_hold(h); /* npipe_close waits for it (np_smb_cancel meanwhile) */
        atomic_fetch_add(&h->async_n, rop_unit(o));
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&rops_lock);
        /* before the thread can complete it: the Win32 layer's hook
         * (np_async_on_start), and findable by a cancel */
        np_async_started();
        o->next = rops;
        o->prev = NULL;
        if (rops)
                rops->prev = o;
        rops = o;
        e = pthread_create(&o->thread, &attr, run, o);
        if (e != 0)
                unlink_rop(o);
        pthread_mutex_unlock(&rops_lock);
        pthread_attr_destroy(&attr);
        if (e != 0) {
                atomic_fetch_sub(&h->async_n, rop_unit(o));
                free(o);
                np_h_put(h);
                return NPIPE_ENOMEM;
        }
        return NP_ASYNC_PENDING;
}

int np_smb_async_read(struct npipe *h, void *buf, size_t len, np_async_cb cb, void *ctx)
{
        if (!h->can_read)
                return NPIPE_EACCES;
        struct rop *o = calloc(1, sizeof(*o));
        if (!o)
                return NPIPE_ENOMEM;
        *o = (struct rop){.kind = ROP_READ, .out = buf, .out_len = len, .cb = cb, .ctx = ctx};
        return start(h, o);
}

int np_smb_async_write(struct npipe *h, const void *buf, size_t len, np_async_cb cb, void *ctx)
{
        if (!h->can_write)
                return NPIPE_EACCES;
        struct rop *o = calloc(1, sizeof(*o));
        if (!o)
                return NPIPE_ENOMEM;
        *o = (struct rop){.kind = ROP_WRITE, .in = buf, .in_len = len, .cb = cb, .ctx = ctx};
        return start(h, o);
}

int np_smb_async_transact(struct npipe *h, const void *in, size_t in_len, void *out,
                          size_t out_len, np_async_cb cb, void *ctx)
{
        if (!h->can_read || !h->can_write)
                return NPIPE_EACCES;
        struct rop *o = calloc(1, sizeof(*o));
        if (!o)
                return NPIPE_ENOMEM;
        *o = (struct rop){.kind = ROP_TRANSACT,
                          .in = in,
                          .in_len = in_len,
                          .out = out,
                          .out_len = out_len,
                          .cb = cb,
                          .ctx = ctx};
        return start(h, o);
}

/* Is one of h's operations (with ctx, or any when all) still in flight,
 * other than the caller's own?  Under rops_lock. */
static int count_matching(struct npipe *h, void *ctx, int all)
{
        int n = 0;
        for (struct rop *o = rops; o; o = o->next)
                if (o->h == h && (all || o->ctx == ctx) && o != tl_running)
                        n++;
        return n;
}

int np_smb_async_cancel(struct npipe *h, void *ctx, int all)
{
        pthread_mutex_lock(&rops_lock);
        int n = count_matching(h, ctx, all);
        pthread_mutex_unlock(&rops_lock);
        if (n == 0)
                return 0;
        /* until their callbacks have run: the caller may free the
         * OVERLAPPED and buffers once we return.  Cancelled again every
         * 10 ms: an operation whose thread had not yet sent its request
         * when the module cancelled would otherwise wait on. */
        pthread_mutex_lock(&rops_lock);
        while (count_matching(h, ctx, all) > 0) {
                struct timespec ts;
                pthread_mutex_unlock(&rops_lock);
                np_smb_cancel(h);
                pthread_mutex_lock(&rops_lock);
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 10000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                if (count_matching(h, ctx, all) > 0)
                        pthread_cond_timedwait(&rops_ended, &rops_lock, &ts);
        }
        pthread_mutex_unlock(&rops_lock);
        return n;
}
