/*
 * list.c - NP_MSG_LIST: the namespace as a client may see it.
 *
 * A listing is a snapshot of the pipes taken when the request arrives
 * (each pipe referenced, so that one closing meanwhile is still there to
 * describe) and sent one item a packet at the reader's pace: only while
 * the client's queue is short (limits.h, NP_LIM_OUTQ_LIST), so a client
 * that lists and never reads holds a snapshot, not the broker's memory.
 * STATS replies are made and sent here too, by the same pump, once their
 * query round (stats.c) is over: stats.c calls this file, never the other
 * way round.
 */
#include "broker/broker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/limits.h"
#include "npipe/npipe.h"

void np_listjob_free(struct np_broker *b, struct np_listjob *j)
{
        for (size_t k = 0; k < j->n; k++)
                np_pipe_unref(j->pipes[k]);
        free(j->pipes);
        np_link_del(&j->link);
        if (j->stats) {
                j->client->n_stats--;
                j->client->acct->stats--;
                b->n_stats--;
        } else {
                j->client->n_lists--;
        }
        free(j);
}

/* Only the pipes j->client may open: a listing (and `npipe stat`) on a
 * shared broker shows nobody another user's private pipes, their server
 * pids or their traffic; root sees every pipe. */
int np_snapshot(struct np_broker *b, struct np_listjob *j)
{
        if (b->n_pipes > 0 && !(j->pipes = calloc(b->n_pipes, sizeof *j->pipes)))
                return -1;
        for (size_t k = 0; k <= b->pipes.mask; k++) {
                for (struct np_hnode *n = b->pipes.buckets[k]; n != NULL; n = n->next) {
                        struct np_pipe *p = np_container_of(n, struct np_pipe, hnode);

                        if (!np_allowed(p, j->client))
                                continue;
                        p->refs++;
                        j->pipes[j->n++] = p;
                }
        }
        return 0;
}

static void send_list_item(struct np_broker *b, struct np_client *c, uint32_t req_id,
                           const struct np_pipe *p, uint32_t flags)
{
        struct np_list_item it;

        memset(&it, 0, sizeof it);
        it.flags = flags;
        if (p == NULL) {
                np_send_msg(b, c, NP_MSG_LIST_ITEM, req_id, &it, sizeof it, NULL, 0, -1);
                return;
        }
        it.params = p->params;
        if (!p->dead) {
                it.cur_instances = (uint32_t)p->n_instances;
                it.listening = (uint32_t)p->n_listening;
                it.connected = (uint32_t)p->n_connected;
        }
        it.owner_uid = (uint32_t)p->owner_uid;
        if (!np_link_empty(&p->instances)) {
                const struct np_instance *first =
                    np_container_of(p->instances.next, struct np_instance, pipe_link);

                it.server_pid = (uint32_t)first->owner->pid;
                it.params = np_instance_params(first);
        }
        it.name_len = p->name_len;
        np_send_msg(b, c, NP_MSG_LIST_ITEM, req_id, &it, sizeof it, p->display, p->name_len, -1);
}

/* The next pipe's item of a STATS job: its ended traffic, and the live
 * counts of the round the job was served by (stats.c). */
static void send_stats_pipe(struct np_broker *b, struct np_client *c, struct np_listjob *j,
                            struct np_pipe *p)
{
        struct np_stats_item it;
        struct np_stats_pipe *s = &it.u.pipe;

        memset(&it, 0, sizeof it);
        it.name_len = p->name_len;
        s->traffic = p->ended;
        s->connections = p->connections;
        if (!p->dead) {
                s->cur_instances = (uint32_t)p->n_instances;
                s->connected = (uint32_t)p->n_connected;
                s->listening = (uint32_t)p->n_listening;
        }
        for (const struct np_link *l = p->instances.next; l != &p->instances; l = l->next) {
                const struct np_instance *i = np_container_of(l, struct np_instance, pipe_link);

                /* attached after the round began: nobody was asked about
                 * it, and it has hardly any traffic yet */
                if (!np_inst_live(i) || i->attach_q >= j->q)
                        continue;
                if (i->live_q >= j->q)
                        np_traffic_add(&s->traffic, &i->live);
                else
                        s->missing++;
        }
        np_send_msg(b, c, NP_MSG_STATS_ITEM, j->req_id, &it, sizeof it, p->display, p->name_len,
                    -1);
}

/* The broker's item, the last of a STATS reply. */
static void send_stats_broker(struct np_broker *b, struct np_client *c, struct np_listjob *j)
{
        struct np_stats_item it;
        struct np_stats_broker *s = &it.u.broker;
        const struct np_counters *k = &b->ctr;

        memset(&it, 0, sizeof it);
        it.flags = NP_STATS_BROKER | NP_STATS_LAST;
        s->uptime_ms = (uint64_t)(np_now_ns() - b->started_ns) / 1000000u;
        s->broker_pid = (uint32_t)getpid();
        s->processes_now = (uint32_t)b->n_clients;
        s->processes_total = k->processes_total;
        s->processes_refused = k->processes_refused;
        s->pipes_now = (uint32_t)b->n_pipes;
        s->instances_now = (uint32_t)b->n_instances;
        s->connections_now = (uint32_t)b->n_conns;
        s->waits_now = (uint32_t)b->n_waits;
        s->pipes_total = k->pipes_total;
        s->instances_total = k->instances_total;
        s->connections_total = k->connections_total;
        s->opens_busy = k->opens_busy;
        s->opens_denied = k->opens_denied;
        s->opens_not_found = k->opens_not_found;
        s->waits_total = k->waits_total;
        s->waits_timed_out = k->waits_timed_out;
        s->requests_total = k->requests_total;
        s->requests_malformed = k->requests_malformed;
        s->processes_dropped = k->processes_dropped;
        s->adoptions = k->adoptions;
        s->stats_queries = k->stats_queries;
        s->traffic = k->traffic;
        s->servers_asked = j->asked;
        s->servers_missing = j->missing;
        np_send_msg(b, c, NP_MSG_STATS_ITEM, j->req_id, &it, sizeof it, NULL, 0, -1);
}

void np_list_pump(struct np_broker *b, struct np_client *c)
{
        while (!np_link_empty(&c->lists) && !(c->flags & NP_CLIENT_DOOMED) &&
               c->outq_len < NP_LIM_OUTQ_LIST) {
                struct np_listjob *j = np_container_of(c->lists.next, struct np_listjob, link);

                if (j->stats) {
                        /* every pipe, then the broker's item, which is the last */
                        if (j->next < j->n)
                                send_stats_pipe(b, c, j, j->pipes[j->next]);
                        else
                                send_stats_broker(b, c, j);
                        if (j->next++ == j->n)
                                np_listjob_free(b, j);
                        continue;
                }
                if (j->n == 0) {
                        send_list_item(b, c, j->req_id, NULL, NP_LIST_LAST | NP_LIST_EMPTY);
                        np_listjob_free(b, j);
                        continue;
                }
                j->next++;
                send_list_item(b, c, j->req_id, j->pipes[j->next - 1],
                               j->next == j->n ? NP_LIST_LAST : 0);
                if (j->next == j->n)
                        np_listjob_free(b, j);
        }
}

void np_req_list(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        uint32_t req_id = r->id;
        struct np_listjob *j;

        if (np_limit_check(b, c, NP_LIMIT_LISTS, c->n_lists, 0, 0) < 0) {
                np_reply_status(b, c, req_id, NPIPE_ELIMIT);
                return;
        }
        j = calloc(1, sizeof *j);
        if (j != NULL)
                j->client = c;
        if (j == NULL || np_snapshot(b, j) < 0) {
                free(j);
                np_reply_status(b, c, req_id, NPIPE_ENOMEM);
                return;
        }
        j->req_id = req_id;
        np_link_add_tail(&c->lists, &j->link);
        c->n_lists++;
        np_list_pump(b, c);
}
