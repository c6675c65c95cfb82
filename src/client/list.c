/*
 * list.c - listing the pipes and their statistics.
 */
#include "client/cancel.h"
#include "client/client.h"
#include "client/internal.h"
#include "core/name.h"
#include "core/ring.h"
#include "os/os.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- listing --------------------------------------------------------------------------- */

/* Items of a multi-packet reply (LIST, STATS), each with the name that
 * follows it in its packet, kept on the event thread until the caller
 * walks them.  Out of memory marks the walk failed. */
struct named_acc {
        unsigned char *items;
        char **names;
        size_t n, cap, isz;
        int failed;
};

static void named_push(struct named_acc *a, const void *item, const void *name, size_t nlen)
{
        if (a->failed)
                return;
        if (a->n == a->cap) {
                size_t nc = a->cap ? a->cap * 2 : 32;
                unsigned char *ni = realloc(a->items, nc * a->isz);
                char **nn = ni ? realloc(a->names, nc * sizeof(*nn)) : NULL;
                if (ni)
                        a->items = ni;
                if (nn)
                        a->names = nn;
                if (!ni || !nn) {
                        a->failed = 1;
                        return;
                }
                a->cap = nc;
        }
        a->names[a->n] = strndup(name, nlen);
        if (!a->names[a->n]) {
                a->failed = 1;
                return;
        }
        memcpy(a->items + a->n * a->isz, item, a->isz);
        a->n++;
}

static void named_free(struct named_acc *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->names[i]);
        free(a->items);
        free(a->names);
}

/* On the event thread: keep every item; the last one ends the reply. */
static int list_collect(void *ctx, const struct np_hdr *hdr, const void *body, size_t len)
{
        struct named_acc *a = ctx;
        if (hdr->type != NP_MSG_LIST_ITEM || len < sizeof(struct np_list_item))
                return 1;
        struct np_list_item it;
        memcpy(&it, body, sizeof(it));
        if (!(it.flags & NP_LIST_EMPTY) && it.name_len <= len - sizeof(it))
                named_push(a, &it, (const char *)body + sizeof(it), it.name_len);
        return (it.flags & NP_LIST_LAST) != 0;
}

NPIPE_EXTERN int npipe_list(npipe_list_fn fn, void *ctx)
{
        np_events_install();
        if (!fn)
                return NPIPE_EINVAL;
        struct named_acc acc = {.isz = sizeof(struct np_list_item)};
        unsigned char last[sizeof(struct np_list_item) + NP_NAME_MAX];
        struct np_request req = {.type = NP_MSG_LIST, .fd = -1, .reply = last,
                                 .reply_cap = sizeof(last), .fn = list_collect, .fn_ctx = &acc};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r == 0 && req.reply_type == NP_MSG_REPLY && req.reply_len >= sizeof(int32_t)) {
                int32_t st;
                memcpy(&st, last, sizeof(st));
                r = st < 0 ? st : NPIPE_EPROTO;
        }
        if (r == 0 && acc.failed)
                r = NPIPE_ENOMEM;
        for (size_t i = 0; i < acc.n && r == 0; i++) {
                struct np_list_item it;
                memcpy(&it, acc.items + i * acc.isz, sizeof(it));
                struct npipe_pipe_entry e = {
                        .name = acc.names[i],
                        .type = (enum npipe_type)it.params.type,
                        .dir = (enum npipe_dir)it.params.dir,
                        .max_instances = it.params.max_instances,
                        .cur_instances = it.cur_instances,
                        .listening = it.listening,
                        .connected = it.connected,
                        .owner_uid = it.owner_uid,
                        .server_pid = (pid_t)it.server_pid,
                        .policy = (enum npipe_access_policy)it.params.policy,
                        .in_quota = it.params.in_quota,
                        .out_quota = it.params.out_quota,
                        .default_timeout_ms = it.params.default_timeout_ms,
                };
                r = fn(ctx, &e);
        }
        named_free(&acc);
        return r;
}

/* ---- statistics -------------------------------------------------------------------------- */

struct stats_acc {
        struct named_acc pipes; /* struct np_stats_item */
        struct np_stats_broker broker;
        int have_broker;
};

static void traffic_out(const struct np_traffic *t, struct npipe_traffic *o)
{
        o->c2s_bytes = t->c2s_bytes;
        o->c2s_messages = t->c2s_msgs;
        o->s2c_bytes = t->s2c_bytes;
        o->s2c_messages = t->s2c_msgs;
}

/* On the event thread: keep every pipe's item; the broker's ends the reply. */
static int stats_collect(void *ctx, const struct np_hdr *hdr, const void *body, size_t len)
{
        struct stats_acc *a = ctx;
        if (hdr->type != NP_MSG_STATS_ITEM || len < sizeof(struct np_stats_item))
                return 1;
        struct np_stats_item it;
        memcpy(&it, body, sizeof(it));
        if (it.flags & NP_STATS_BROKER) {
                a->broker = it.u.broker;
                a->have_broker = 1;
        } else if (it.name_len <= len - sizeof(it)) {
                named_push(&a->pipes, &it, (const char *)body + sizeof(it), it.name_len);
        }
        return (it.flags & NP_STATS_LAST) != 0;
}

NPIPE_EXTERN int npipe_stats(struct npipe_broker_stats *broker, npipe_stats_fn fn, void *ctx)
{
        np_events_install();
        struct stats_acc acc = {.pipes = {.isz = sizeof(struct np_stats_item)}};
        struct np_stats_req body = {0};
        unsigned char last[sizeof(struct np_stats_item) + NP_NAME_MAX];
        struct np_request req = {.type = NP_MSG_STATS, .body = &body, .body_len = sizeof(body),
                                 .fd = -1, .reply = last, .reply_cap = sizeof(last),
                                 .fn = stats_collect, .fn_ctx = &acc};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r == 0 && req.reply_type == NP_MSG_REPLY && req.reply_len >= sizeof(int32_t)) {
                int32_t st;
                memcpy(&st, last, sizeof(st));
                r = st < 0 ? st : NPIPE_EPROTO;
        }
        if (r == 0 && !acc.have_broker)
                r = NPIPE_EPROTO;
        if (r == 0 && acc.pipes.failed)
                r = NPIPE_ENOMEM;
        if (r == 0 && broker) {
                const struct np_stats_broker *s = &acc.broker;
                memset(broker, 0, sizeof(*broker));
                broker->uptime_ms = s->uptime_ms;
                broker->broker_pid = (pid_t)s->broker_pid;
                broker->processes_now = s->processes_now;
                broker->pipes_now = s->pipes_now;
                broker->instances_now = s->instances_now;
                broker->connections_now = s->connections_now;
                broker->waits_now = s->waits_now;
                broker->processes_total = s->processes_total;
                broker->processes_refused = s->processes_refused;
                broker->processes_dropped = s->processes_dropped;
                broker->pipes_total = s->pipes_total;
                broker->instances_total = s->instances_total;
                broker->connections_total = s->connections_total;
                broker->opens_busy = s->opens_busy;
                broker->opens_denied = s->opens_denied;
                broker->opens_not_found = s->opens_not_found;
                broker->waits_total = s->waits_total;
                broker->waits_timed_out = s->waits_timed_out;
                broker->requests_total = s->requests_total;
                broker->requests_malformed = s->requests_malformed;
                broker->adoptions = s->adoptions;
                broker->stats_queries = s->stats_queries;
                traffic_out(&s->traffic, &broker->traffic);
                broker->servers_asked = s->servers_asked;
                broker->servers_missing = s->servers_missing;
        }
        for (size_t i = 0; i < acc.pipes.n && r == 0; i++) {
                if (fn) {
                        struct np_stats_item item;
                        memcpy(&item, acc.pipes.items + i * acc.pipes.isz, sizeof(item));
                        const struct np_stats_pipe *p = &item.u.pipe;
                        struct npipe_pipe_stats e = {
                                .name = acc.pipes.names[i],
                                .cur_instances = p->cur_instances,
                                .listening = p->listening,
                                .connected = p->connected,
                                .connections = p->connections,
                                .missing = p->missing,
                        };
                        traffic_out(&p->traffic, &e.traffic);
                        r = fn(ctx, &e);
                }
        }
        named_free(&acc.pipes);
        return r;
}
