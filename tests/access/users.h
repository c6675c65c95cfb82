/*
 * users.h - what the access tests share (tests/access): a root test that
 * becomes other real users in forked children, a private shared broker,
 * and raw requests (proto.h) as any of those users would send them.
 *
 * Every wait is a poll() with a deadline; nothing sleeps to synchronise.
 */
#ifndef NPIPE_TESTS_USERS_H
#define NPIPE_TESTS_USERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/proto.h"

struct acc_user {
        const char *name;
        uid_t uid;
        gid_t gid;
};

/* Find or make (useradd --system) the user `name`; NULL, or why the test
 * must be skipped (not root, no useradd). */
const char *acc_user_get(const char *name, struct acc_user *u);

/* Run fn as u in a forked child (supplementary groups `groups`, uid and gid
 * dropped before fn runs); fn reports int32 results with acc_put.  Returns
 * how many arrived (at most max) and fails the test if the child does. */
int acc_as(const struct acc_user *u, const gid_t *groups, int ngroups,
           void (*fn)(int out, void *ctx), void *ctx, int32_t *res, int max);
void acc_put(int out, int32_t v);

/* The same in the background: fn runs as u, reports with acc_put(out, ..)
 * and may then hold what it made with acc_hold(go) until acc_bg_end. */
struct acc_bg {
        pid_t pid;
        int res, go;
};
void acc_bg_start(struct acc_bg *bg, const struct acc_user *u, const gid_t *groups, int ngroups,
                  void (*fn)(int out, int go, void *ctx), void *ctx);
int32_t acc_bg_read(struct acc_bg *bg);
void acc_bg_end(struct acc_bg *bg);
void acc_hold(int go);

/* A broker of our own: npiped --shared --foreground --runtime-dir=DIR plus
 * `extra` (NULL-terminated, may be NULL).  DIR is `dir` when it is not
 * empty (a restart), else a new directory written there (cap bytes).
 * Returns its pid once it is ready. */
pid_t acc_broker_start(char *dir, size_t cap, const char *const *extra);
/* SIGTERM, reap, remove the directory. */
void acc_broker_stop(pid_t pid, const char *dir);
/* The broker's resident set (VmRSS, KiB). */
long acc_rss_kib(pid_t pid);

/* Raw requests on a connected socket (rt_raw_connect).  Statuses are the
 * broker's (0 or NPIPE_E*); NPIPE_EBROKER when no reply came. */
uint64_t acc_create(int s, const char *bare, size_t blen, uint32_t policy, uint32_t flags,
                    int *status, uint32_t *remote);
/* The same with the group of an NPIPE_ACCESS_GROUP policy. */
uint64_t acc_create_gid(int s, const char *bare, size_t blen, uint32_t policy, uint32_t gid,
                        uint32_t flags, int *status, uint32_t *remote);
int acc_open(int s, const char *bare, size_t blen);
int acc_wait(int s, const char *bare, size_t blen, uint32_t timeout_ms);
int acc_disconnect(int s, uint64_t instance_id);
/* NP_MSG_LIST: how many pipes the caller sees; *found is set when one of
 * them is `bare`. */
int acc_list(int s, const char *bare, int *found);
/* NP_MSG_STATS: the same for the per-pipe statistics. */
int acc_stats(int s, const char *bare, int *found);

#endif
