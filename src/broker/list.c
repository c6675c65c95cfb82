/*
 * list.c - NP_MSG_LIST: the namespace as a client may see it.
 *
 * A listing is a snapshot of the pipes taken when the request arrives
 * (each pipe referenced, so that one closing meanwhile is still there to
 * describe) and sent one item a packet at the reader's pace: only while
 * the client's queue is short (limits.h, NP_LIM_OUTQ_LIST), so a client
 * that lists and never reads holds a snapshot, not the broker's memory.
 * STATS replies (stats.c) are sent by the same pump.
 */
#include "broker/broker.h"

#include <stdlib.h>
#include <string.h>

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

void np_list_pump(struct np_broker *b, struct np_client *c)
{
        while (!np_link_empty(&c->lists) && !(c->flags & NP_CLIENT_DOOMED) &&
               c->outq_len < NP_LIM_OUTQ_LIST) {
                struct np_listjob *j = np_container_of(c->lists.next, struct np_listjob, link);

                if (j->stats) {
                        /* every pipe, then the broker's item, which is the last */
                        if (j->next < j->n)
                                np_stats_send_pipe(b, c, j, j->pipes[j->next]);
                        else
                                np_stats_send_broker(b, c, j);
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

        if (c->n_lists >= NP_LIM_LISTS_PER_CLIENT) {
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
