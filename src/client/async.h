/*
 * async.h - pending operations that complete later without a thread blocked
 * in them (the base of the Win32 layer's overlapped I/O).
 *
 * An operation is started with np_async_*.  It either completes at once
 * (the return value is its final status, >= 0 or a negative NPIPE_E* code,
 * and the callback is NOT called), or returns NP_ASYNC_PENDING: then the
 * callback runs exactly once, later, on the library's completion thread,
 * with the final status and byte count -- also when the operation is
 * cancelled (NPIPE_ECANCELED) or the handle is closed.
 *
 * Completion costs no thread per operation: one completion thread per
 * process waits on the futex words of all pending operations at once
 * (FUTEX_WAITV, up to 128 per call; one more thread per further 128).
 *
 * Callbacks run on the completion thread with no library lock held: they
 * may start new operations on any handle, but must not block, and must not
 * close the handle whose operation completes.
 */
#ifndef NPIPE_ASYNC_H
#define NPIPE_ASYNC_H

#include <npipe/npipe.h>
#include <stddef.h>
#include <stdint.h>

#define NP_ASYNC_PENDING 1

/* A pending operation is named by its handle and the `ctx` given when it
 * started (the Win32 layer passes the OVERLAPPED); the engine owns and frees
 * its own state, so no pointer to it can dangle. */

/* status: 0, NPIPE_EMOREDATA (bytes delivered, message goes on) or an error. */
typedef void (*np_async_cb)(void *ctx, int status, size_t bytes);

/* ReadFile with an OVERLAPPED.  The buffer must stay valid until completion.
 * Immediate results follow npipe_read (data there, or an error such as
 * NPIPE_EPIPE / NPIPE_ENOTCONN / NPIPE_EAGAIN in non-blocking mode).
 * A zero-length read pends until data arrives (ZERO-07). *bytes gets the
 * count of an immediate completion. */
int np_async_read(npipe_t *h, void *buf, size_t len, size_t *bytes, np_async_cb cb, void *ctx);

/* WriteFile with an OVERLAPPED.  The data is queued at once (visible to the
 * peer: QUOTA-05); the operation pends until it fits the quota
 * (QUOTA-03).  Cancelling a pending write removes its unread bytes
 * (QUOTA-07) where possible. */
int np_async_write(npipe_t *h, const void *buf, size_t len, size_t *bytes, np_async_cb cb,
                   void *ctx);

/* ConnectNamedPipe with an OVERLAPPED.  Immediate results follow
 * npipe_listen(h, 0) (NPIPE_EISCONN, NPIPE_ECLOSING, NPIPE_ELISTENING in
 * non-blocking mode); otherwise pends until a client connects. */
int np_async_listen(npipe_t *h, np_async_cb cb, void *ctx);

/* TransactNamedPipe with an OVERLAPPED: the write happens now, the read pends. */
int np_async_transact(npipe_t *h, const void *in, size_t in_len, void *out, size_t out_len,
                      size_t *bytes, np_async_cb cb, void *ctx);

/* Cancel the pending operation of h started with `ctx`: its callback runs
 * with NPIPE_ECANCELED before this returns.  NPIPE_ENOTFOUND when there is
 * none (it completed, or its callback is running right now). */
int np_async_cancel(npipe_t *h, void *ctx);

/* Cancel every pending operation on h (CancelIo); returns how many. */
int np_async_cancel_all(npipe_t *h);

/* For the next operation this thread starts: call fn(arg) once it is
 * pending, before anything can complete or cancel it (the Win32 layer
 * turns the handle unsignalled there: a program that waits for that and
 * then cancels finds the operation, CANCEL-05).  Not called when the
 * operation completes at once; cleared by the start either way. */
void np_async_on_start(void (*fn)(void *), void *arg);

/* For a thread that would sleep until the operation of h started with
 * `ctx` ends: complete it in this thread (step it; spin while the peer
 * runs elsewhere; sleep on its futex word and on `extra`, a private word
 * whose change means "look again"; counted in `extra_waiters`, when not
 * NULL, only while it sleeps, and done(arg) asked again after the count,
 * so that whoever moves `extra` may skip it when nobody is counted) until
 * done(arg) says so, it left the
 * engine (its callback ran, or runs on another thread now: 0; the caller
 * waits for its results the usual way), or `deadline` (np_now_ns clock,
 * -1: none; NPIPE_ETIMEDOUT).  NPIPE_ENOTFOUND when the engine cannot
 * help: wait the usual way. */
int np_async_help(npipe_t *h, void *ctx, const _Atomic uint32_t *extra,
                  _Atomic int *extra_waiters, int (*done)(void *), void *arg, int64_t deadline);

/* For the next read or write this thread starts: `ctx` is a stand-in
 * until the operation pends; then pend(arg) is called once, before
 * anything can complete, cancel or find the operation, and its result is
 * the ctx from then on (the callback's, np_async_cancel's).  NULL from
 * pend fails the start with NPIPE_ENOMEM.  Not called when the operation
 * completes at once, so a caller's record of it costs nothing then.  And
 * start(arg), as np_async_on_start(start, arg).  The caller clears both
 * after the start with (NULL, NULL, NULL). */
void np_async_hooks(void *(*pend)(void *), void (*start)(void *), void *arg);

/* Before a thread sleeps (a Win32 wait, a blocking call): the kicks
 * that starts deferred are given now, so that an operation the sleeper
 * may be waiting for is watched by its completion thread (np_op_enqueue).
 * One relaxed load when none is deferred. */
void np_async_flush(void);

/* Does h have operations pending (its Win32 handle is then unsignalled)? */
/* Wait until no callback of h is running or about to run (an operation a
 * completion thread or another thread's call had taken when a cancel did
 * not find it): after this, no completion of h writes into the caller's
 * memory.  Not from a callback. */
int np_async_quiesce(npipe_t *h);
int np_async_pending(npipe_t *h);

#endif
