/*
 * acct.c - what each uid holds in the broker (struct np_uacct) and its
 * fair share of every pool (limits.h, NP_LIM_UID_SHARE; issue 15).
 *
 * A file of its own at the bottom of the broker's files: the event loop
 * charges a uid its connections, the reaper the descriptors it closes,
 * remote.c its pipes' sockets and state.c its pipes, instances and client
 * ends, so the records must not depend on any of them.
 */
#include "broker/broker.h"

#include <stdlib.h>

#include "broker/limits.h"

struct np_uacct *np_uacct_get(struct np_broker *b, uid_t uid)
{
        uint64_t h = np_hash_u64((uint64_t)uid);
        struct np_uacct *a;

        for (struct np_hnode *n = np_htab_bucket(&b->uaccts, h); n != NULL; n = n->next) {
                a = np_container_of(n, struct np_uacct, hnode);
                if (a->uid == uid)
                        return a;
        }
        a = calloc(1, sizeof *a);
        if (a == NULL)
                return NULL;
        a->uid = uid;
        a->limited = uid != 0 && uid != b->owner_uid;
        np_htab_insert(&b->uaccts, &a->hnode, h);
        return a;
}

/* The record goes with the last thing it counts: a pipe or a descriptor
 * may outlive the uid's last process (another user's instance keeps an
 * EVERYONE pipe alive; the reaper closes late). */
void np_uacct_put(struct np_broker *b, struct np_uacct *a)
{
        if (a != NULL && a->clients == 0 && a->pipes == 0 && a->fds == 0 && a->rsocks == 0 &&
            a->reaping == 0) {
                np_htab_remove(&b->uaccts, &a->hnode);
                free(a);
        }
}

/* Would one more object exceed the pool of all clients, or c's uid's
 * fair share of it?  The last eighth of each pool is root's and the broker
 * owner's: however many users collude, root still gets in (issue 15). */
bool np_pool_full(const struct np_client *c, size_t total, size_t mine, size_t lim)
{
        if (!c->acct->limited)
                return total >= lim;
        return total >= lim - lim / 8 || mine >= lim / NP_LIM_UID_SHARE;
}

/* Every descriptor the broker holds for a uid (its processes' sockets, the
 * segments of its listening instances, its pipes' SMB sockets, what waits
 * in the reaper) counts against one share of the descriptor budget, so no
 * user can take the descriptors everybody else needs (issue 15). */
bool np_fd_share_full(const struct np_broker *b, const struct np_uacct *a, size_t more)
{
        size_t held = a->clients + a->fds + a->rsocks + a->reaping;

        return a->limited && held + more > (size_t)b->fd_budget / NP_LIM_UID_SHARE;
}
