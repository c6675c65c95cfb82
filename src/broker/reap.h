/*
 * reap.h - closing descriptors the broker does not trust (reap.c).
 *
 * The last close of a file can block: a TCP socket with SO_LINGER and
 * unsent data waits up to its linger time, a FUSE file waits for its
 * daemon to answer FLUSH, a unix socket releases whatever its queue holds.
 * A local user could stall every client of the broker by handing it such
 * a descriptor (issue 15).  So the event loop closes only what it knows
 * cannot block (a segment: a memfd sealed as the library seals it, or a
 * client socket shut down and emptied); everything else is closed by the
 * reaper's threads, charged to the uid that sent it (np_uacct.reaping).
 */
#ifndef NPIPED_REAP_H
#define NPIPED_REAP_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"

/* Set up the reaper (its threads start when first needed); 0 or -errno. */
int np_reap_init(struct np_broker *b);

/* A segment as the library makes one (src/client/pipe.c, seg_create): a
 * memfd, open O_RDWR, sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL |
 * F_SEAL_FUTURE_WRITE, no larger than a header and the largest ring.  The
 * release of a shmem file asks nobody, so the loop may close one. */
bool np_fd_is_segment(int fd);

/* Hand fd to the reaper, charged to acct (NULL: to nobody).  Never blocks;
 * fd is the reaper's from here on. */
void np_reap_fd(struct np_broker *b, struct np_uacct *acct, int fd);

/* A received descriptor the broker does not keep: a segment is closed at
 * once, anything else goes to the reaper charged to acct.  Returns true
 * for a segment. */
bool np_fd_drop(struct np_broker *b, struct np_uacct *acct, int fd);

/* Must the loop leave the sockets of uid a unread (a over its
 * NP_LIM_REAP_PER_UID, or the reaper holding NP_LIM_REAP_HIGH descriptors
 * above the budget)?  A true answer is remembered, so that the next
 * np_reap_settle() says when to look again. */
bool np_reap_blocks(struct np_broker *b, const struct np_uacct *a);

/* The reaper's eventfd is readable: uncharge what its threads closed.
 * Returns true when clients were left unread since the last call (the
 * caller then looks at each again: its uid may be under its bound now). */
bool np_reap_settle(struct np_broker *b);

/* When the loop must call np_reap_tick (CLOCK_MONOTONIC ns), or -1: the
 * moment another thread is due because every thread is stuck on a close,
 * or to look again at clients left unread for the reaper's claim on the
 * descriptor table.  np_reap_tick returns true when the caller must look
 * at each client again, as after np_reap_settle. */
int64_t np_reap_deadline(const struct np_broker *b);
bool np_reap_tick(struct np_broker *b, int64_t now);

/* Nothing handed over is still waiting (the broker may exit when idle). */
bool np_reap_idle(const struct np_broker *b);

#endif /* NPIPED_REAP_H */
