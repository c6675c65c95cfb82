/*
 * cancel.h - ending a blocked synchronous call from another thread.
 *
 * CancelSynchronousIo (CANCEL-05) must end a ReadFile, WriteFile,
 * TransactNamedPipe or FlushFileBuffers that another thread is blocked in
 * on a synchronous handle.  Those calls run the native blocking calls, so
 * the token is theirs: the Win32 layer puts the calling thread's token in
 * place around the call (np_synccancel_enter/leave), every blocking wait of
 * the native layer registers the futex word it sleeps on (np_synccancel_arm)
 * and looks at the token when it wakes (np_synccancel_disarm), and the call
 * then ends with NPIPE_ECANCELED as a timeout would, undoing what a
 * timeout undoes (a read gives back what it took; a write's unread bytes
 * vanish, QUOTA-07).
 *
 * No lock anywhere: the waiter stores the word and then reads `fired`;
 * the canceller stores `fired` and then reads the word (both seq_cst), so
 * at least one of them sees the other: either the waiter does not sleep,
 * or the canceller wakes the word until the waiter has left its wait (a
 * single wake could come before the waiter's FUTEX_WAIT, and the word's
 * value does not change).  A wake that comes late hits a word that is no
 * longer slept on (a spurious wake, which every futex user tolerates) or
 * memory that is unmapped (EFAULT, ignored).  Threads without a token
 * (every native caller) pay one thread-local load per blocking wait.
 */
#ifndef NPIPE_CLIENT_CANCEL_H
#define NPIPE_CLIENT_CANCEL_H

#include <stdatomic.h>
#include <stdint.h>

struct np_synccancel {
        _Atomic uint32_t fired;
        /* the futex word the owner sleeps on, its low bit set when the
         * word is process-shared; 0 while it does not sleep */
        _Atomic uintptr_t word;
};

/* The calling thread's token while it is inside a cancellable call. */
extern __thread struct np_synccancel *np_synccancel_self;

/* Around a cancellable call: `t` starts unfired. */
void np_synccancel_enter(struct np_synccancel *t);
void np_synccancel_leave(void);

/* From another thread: end the owner's blocking waits, now and until it
 * leaves the call. */
void np_synccancel_fire(struct np_synccancel *t);

/* Before sleeping on `word`: 1 if the call is cancelled already (do not
 * sleep).  After the sleep (or instead of it): np_synccancel_disarm, 1 if the
 * call is cancelled.  Both do nothing and return 0 without a token. */
static inline int np_synccancel_arm(const _Atomic uint32_t *word, int shared)
{
        struct np_synccancel *t = np_synccancel_self;
        if (!t)
                return 0;
        atomic_store(&t->word, (uintptr_t)word | (shared ? 1u : 0u));
        return atomic_load(&t->fired) != 0;
}

static inline int np_synccancel_disarm(void)
{
        struct np_synccancel *t = np_synccancel_self;
        if (!t)
                return 0;
        atomic_store(&t->word, 0);
        return atomic_load(&t->fired) != 0;
}

#endif
