/*
 * acct.c - what each uid holds in the broker (struct np_uacct) and its
 * fair share of every pool (limits.h, NP_LIM_UID_SHARE; issue 15).
 *
 * A file of its own at the bottom of the broker's files: the event loop
 * charges a uid its connections, the reaper the descriptors it closes,
 * remote.c its pipes' sockets and state.c its pipes, instances and client
 * ends, so the records must not depend on any of them.
 *
 * It also says, when a request reaches one of the bounds of limits.h,
 * which bound it was (np_limit_hit): a log line with the bound's value,
 * who reached it and how it is raised, and the NP_LIMIT_* detail the
 * reply carries (proto.h), so that the process refused hears more than
 * "resource limit reached" and the administrator reads what to change.
 */
#include "broker/broker.h"

#include <stdlib.h>
#include <syslog.h>

#include "broker/limits.h"
#include "npipe/npipe.h"

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

/* Which bound one more object would exceed: the pool of all clients
 * (NP_LIMIT_BROKER), c's uid's fair share of it (NP_LIMIT_UID) or none
 * (0).  The last eighth of each pool is root's and the broker owner's:
 * however many users collude, root still gets in (issue 15). */
static uint32_t pool_full(const struct np_client *c, size_t total, size_t mine, size_t lim)
{
        if (!c->acct->limited)
                return total >= lim ? NP_LIMIT_BROKER : 0;
        if (total >= lim - lim / 8)
                return NP_LIMIT_BROKER;
        return mine >= lim / NP_LIM_UID_SHARE ? NP_LIMIT_UID : 0;
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

/* ---- bounds reached ------------------------------------------------------- */

/* Each NP_LIMIT_* resource in log lines, and its bounds of limits.h by
 * name and value: per process, and for all processes (the pool; a uid's
 * fair share is 1/NP_LIM_UID_SHARE of it).  0: no such bound.  The
 * descriptors' pool is the budget (b->fd_budget), set at start-up. */
struct limit_row {
        const char *what;
        const char *proc_name;
        size_t proc;
        const char *pool_name;
        size_t pool;
};

#define LIM_BOTH(what, proc, pool) {what, #proc, proc, #pool, pool}
#define LIM_POOL(what, pool) {what, NULL, 0, #pool, pool}

static const struct limit_row limit_rows[NP_LIMIT_WHAT_MAX + 1] = {
    [NP_LIMIT_FDS] = {"descriptors", NULL, 0, NULL, 0},
    [NP_LIMIT_INSTANCES] =
        LIM_BOTH("server instances", NP_LIM_INSTANCES_PER_CLIENT, NP_LIM_INSTANCES),
    [NP_LIMIT_CONNS] = LIM_BOTH("client ends", NP_LIM_CONNS_PER_CLIENT, NP_LIM_CONNS),
    [NP_LIMIT_WAITS] = LIM_BOTH("pending waits", NP_LIM_WAITS_PER_CLIENT, NP_LIM_WAITS),
    [NP_LIMIT_PIPES] = LIM_POOL("pipe names", NP_LIM_PIPES),
    [NP_LIMIT_PROCESSES] = LIM_POOL("connected processes", NP_LIM_CLIENTS),
    [NP_LIMIT_LISTS] = {"listings in progress", "NP_LIM_LISTS_PER_CLIENT",
                        NP_LIM_LISTS_PER_CLIENT, NULL, 0},
    [NP_LIMIT_STATS] =
        LIM_BOTH("statistics requests in progress", NP_LIM_STATS_PER_CLIENT, NP_LIM_STATS),
};

/* Listening instances of every uid: each holds its segment's descriptor. */
static size_t segments_held(const struct np_broker *b)
{
        size_t n = 0;

        for (size_t k = 0; k <= b->uaccts.mask; k++)
                for (const struct np_hnode *h = b->uaccts.buckets[k]; h != NULL; h = h->next)
                        n += np_container_of(h, struct np_uacct, hnode)->fds;
        return n;
}

/* The broker's descriptor table is full to the budget: the one bound an
 * administrator must raise where npiped starts, so its line says how. */
static void log_fds(struct np_broker *b, struct np_ratelimit *rl, pid_t pid,
                    const struct np_uacct *a)
{
        np_log_limited(rl, LOG_WARNING,
                       "descriptor limit %llu (RLIMIT_NOFILE, hard %llu) reached: %zu listening "
                       "instances and %zu processes hold what it leaves (%d for listening "
                       "instances, %d more for processes and opens, %llu in reserve); uid %lu "
                       "holds %zu listening instances (pid %ld asked for more); raise the hard "
                       "limit where npiped starts (systemd: LimitNOFILE= in npiped.service; "
                       "shell: ulimit -Hn before the first npipe program starts npiped) and "
                       "restart npiped",
                       b->nofile, b->nofile_max, segments_held(b), b->n_clients, b->seg_budget,
                       b->fd_budget - b->seg_budget,
                       b->nofile - (unsigned long long)b->fd_budget,
                       a != NULL ? (unsigned long)a->uid : 0ul, a != NULL ? a->fds : 0,
                       (long)pid);
}

void np_limit_log(struct np_broker *b, pid_t pid, const struct np_uacct *a, uint32_t detail)
{
        static struct np_ratelimit rl[NP_LIMIT_WHAT_MAX + 1][4];
        uint32_t what = NP_LIMIT_WHAT(detail), scope = NP_LIMIT_SCOPE(detail) >> 8;
        const struct limit_row *row;
        unsigned long uid = a != NULL ? (unsigned long)a->uid : 0ul;

        if (what == 0 || what > NP_LIMIT_WHAT_MAX || scope == 0 || scope > 3)
                return;
        row = &limit_rows[what];
        if (what == NP_LIMIT_FDS && scope == NP_LIMIT_BROKER >> 8) {
                log_fds(b, &rl[what][scope], pid, a);
        } else if (what == NP_LIMIT_FDS) {
                np_log_limited(&rl[what][scope], LOG_WARNING,
                               "uid %lu reached its share of the broker's descriptors: %d, 1/%u "
                               "of the %d that RLIMIT_NOFILE %llu (hard %llu) leaves, held by "
                               "%zu listening instances and %zu processes (pid %ld asked for "
                               "more); the share grows with npiped's hard limit (systemd: "
                               "LimitNOFILE=)",
                               uid, b->fd_budget / (int)NP_LIM_UID_SHARE, NP_LIM_UID_SHARE,
                               b->fd_budget, b->nofile, b->nofile_max, a != NULL ? a->fds : 0,
                               a != NULL ? a->clients : 0, (long)pid);
        } else if (detail == (what | NP_LIMIT_PROCESS)) {
                np_log_limited(&rl[what][scope], LOG_WARNING,
                               "pid %ld (uid %lu) reached the limit of %zu %s per process (%s, "
                               "src/broker/limits.h); spread them over more processes",
                               (long)pid, uid, row->proc, row->what, row->proc_name);
        } else if (detail == (what | NP_LIMIT_UID)) {
                np_log_limited(&rl[what][scope], LOG_WARNING,
                               "uid %lu reached its share of %s: %zu, 1/%u of the broker's %zu "
                               "(%s, src/broker/limits.h; pid %ld asked for more)",
                               uid, row->what, row->pool / NP_LIM_UID_SHARE, NP_LIM_UID_SHARE,
                               row->pool, row->pool_name, (long)pid);
        } else {
                /* the last eighth of a pool is root's (pool_full); of the
                 * process slots, all are everybody's (loop.c) */
                bool limited = a != NULL && a->limited && what != NP_LIMIT_PROCESSES;

                np_log_limited(&rl[what][scope], LOG_WARNING,
                               "the broker's limit of %zu %s (%s, src/broker/limits.h%s) "
                               "reached; pid %ld (uid %lu) asked for more",
                               limited ? row->pool - row->pool / 8 : row->pool, row->what,
                               row->pool_name,
                               limited ? ": 7/8 of it for users other than root and npiped's"
                                         " own"
                                       : "",
                               (long)pid, uid);
        }
}

int np_limit_segment(struct np_broker *b, const struct np_client *c, int fd)
{
        if (fd >= b->seg_budget)
                return np_limit_hit(b, c->pid, c->acct, NP_LIMIT_FDS | NP_LIMIT_BROKER);
        if (np_fd_share_full(b, c->acct, 1))
                return np_limit_hit(b, c->pid, c->acct, NP_LIMIT_FDS | NP_LIMIT_UID);
        return 0;
}

int np_limit_hit(struct np_broker *b, pid_t pid, const struct np_uacct *a, uint32_t detail)
{
        np_limit_log(b, pid, a, detail);
        b->limit_detail = detail;
        return NPIPE_ELIMIT;
}

int np_limit_check(struct np_broker *b, const struct np_client *c, uint32_t what, size_t n_proc,
                   size_t total, size_t mine)
{
        const struct limit_row *row = &limit_rows[what];
        uint32_t scope = 0;

        if (row->proc != 0 && n_proc >= row->proc)
                scope = NP_LIMIT_PROCESS;
        else if (row->pool != 0)
                scope = pool_full(c, total, mine, row->pool);
        return scope != 0 ? np_limit_hit(b, c->pid, c->acct, what | scope) : 0;
}
