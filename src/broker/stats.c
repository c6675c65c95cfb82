/*
 * stats.c - NP_MSG_STATS: the broker's counters and every pipe's traffic.
 *
 * The bytes of a connection never pass through the broker: they are
 * counted in the two shared-memory segments (ring_layout.h), which only the
 * two processes map.  So the traffic of a pipe has two parts:
 *
 *   - connections that ended: the end that left reported their final
 *     counts in its DISCONNECT or CLOSE request (state.c folds them
 *     into the pipe, np_traffic_fold);
 *   - live connections: only their server process can read them.  A
 *     STATS request starts a query round: every process owning a connected
 *     server instance gets NP_MSG_EV_STATS_QUERY, and its library's event
 *     thread answers from its mapped segments with NP_MSG_STATS_REPORT
 *     packets.  The round ends when all have answered or at its deadline
 *     (NP_STATS_DEADLINE_MS), whichever comes first; the replies are then
 *     sent, counting connections whose counts never came as `missing`
 *     (list.c builds them and paces them like a LIST's).
 *
 * Nothing here waits for a process: a round is a deadline in the loop,
 * answers are packets handled like any other, and a process that never
 * answers (stopped, busy, hostile) only makes its own pipes' counts
 * missing.  Why not have the broker map the segments and read the counters
 * itself?  It would have to keep a descriptor and a mapping per live
 * connection (400,000 of them, limits.h) where it now keeps none, and map
 * memory a client chose; asking costs one packet per server process.
 *
 * One round runs at a time.  Requests arriving during a round wait for the
 * next one, so that every reply counts what was written before its request
 * (a caller that wrote N messages and then asks sees N), while any number
 * of requesters share one round's queries.
 */
#include "broker/broker.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker/limits.h"
#include "npipe/npipe.h"

void np_stats_attach(struct np_broker *b, struct np_instance *i)
{
        /* The previous connection's counts are still owed only if its
         * server never said goodbye; what it reported last is all we get. */
        if (i->owed_conn != 0)
                np_traffic_fold(b, i->pipe, &i->live);
        i->owed_conn = 0;
        i->attach_q = b->stats_q;
        i->live_q = 0;
        memset(&i->live, 0, sizeof i->live);
}

static bool has_live(const struct np_client *c)
{
        for (const struct np_link *l = c->instances.next; l != &c->instances; l = l->next)
                if (np_inst_live(np_container_of(l, struct np_instance, owner_link)))
                        return true;
        return false;
}

/* The active round is over: its requesters get their replies. */
static void finish_round(struct np_broker *b)
{
        if (b->stats_waiting > 0)
                np_log(LOG_DEBUG, "stats round %llu: %u of %u processes did not answer",
                       (unsigned long long)b->stats_q, b->stats_waiting, b->stats_asked);
        b->stats_active = false;
        while (!np_link_empty(&b->stats_round)) {
                struct np_listjob *j =
                    np_container_of(b->stats_round.next, struct np_listjob, link);
                struct np_client *c = j->client;

                np_link_del(&j->link);
                j->q = b->stats_q;
                j->asked = b->stats_asked;
                j->missing = b->stats_waiting;
                if (np_snapshot(b, j) < 0) {
                        np_reply_status(b, c, j->req_id, NPIPE_ENOMEM);
                        np_listjob_free(b, j);
                        continue;
                }
                np_link_add_tail(&c->lists, &j->link);
                np_list_pump(b, c);
        }
}

/* Start rounds while requests wait and none is active.  A round nobody
 * needs to be asked in is over at once. */
static void advance(struct np_broker *b)
{
        while (!b->stats_active && !np_link_empty(&b->stats_next)) {
                struct np_ev_stats_query ev;
                struct np_link *l, *next;

                while (!np_link_empty(&b->stats_next)) {
                        l = b->stats_next.next;
                        np_link_del(l);
                        np_link_add_tail(&b->stats_round, l);
                }
                ev.query = ++b->stats_q;
                b->ctr.stats_queries++;
                b->stats_asked = 0;
                b->stats_waiting = 0;
                b->stats_active = true;
                b->stats_deadline_ns = np_now_ns() + (int64_t)NP_STATS_DEADLINE_MS * 1000000ll;
                /* np_send may doom the client it sends to, which unlinks
                 * it from the list: take the next one first.  A doomed
                 * client's answer is released by np_stats_client_gone. */
                for (l = b->clients.next; l != &b->clients; l = next) {
                        struct np_client *c = np_container_of(l, struct np_client, link);

                        next = l->next;
                        if (!(c->flags & NP_CLIENT_HELLO) ||
                            (c->flags & (NP_CLIENT_DOOMED | NP_CLIENT_DRAINING)) || !has_live(c))
                                continue;
                        c->stats_asked = ev.query;
                        b->stats_asked++;
                        b->stats_waiting++;
                        np_send_msg(b, c, NP_MSG_EV_STATS_QUERY, 0, &ev, sizeof ev, NULL, 0, -1);
                }
                if (b->stats_waiting == 0)
                        finish_round(b);
        }
}

void np_req_stats(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        uint32_t req_id = r->id;
        struct np_stats_req req;
        struct np_listjob *j;

        memcpy(&req, r->body, sizeof req);
        if (req.flags != 0 || req.reserved != 0) {
                np_reply_status(b, c, req_id, NPIPE_EINVAL);
                return;
        }
        if (np_limit_check(b, c, NP_LIMIT_STATS, c->n_stats, b->n_stats, c->acct->stats) < 0) {
                np_reply_status(b, c, req_id, NPIPE_ELIMIT);
                return;
        }
        j = calloc(1, sizeof *j);
        if (j == NULL) {
                np_reply_status(b, c, req_id, NPIPE_ENOMEM);
                return;
        }
        j->client = c;
        j->req_id = req_id;
        j->stats = true;
        c->n_stats++;
        c->acct->stats++;
        b->n_stats++;
        np_link_add_tail(&b->stats_next, &j->link);
        advance(b);
}

void np_req_stats_report(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        const unsigned char *body = r->body;
        struct np_stats_report rep;

        memcpy(&rep, body, sizeof rep);
        /* only answers to queries that were asked (np_proto_check bounded
         * the count by the packet) */
        if (rep.query == 0 || rep.query > b->stats_q)
                return;
        for (uint32_t k = 0; k < rep.count; k++) {
                struct np_stats_live it;
                struct np_instance *i;

                memcpy(&it, body + sizeof rep + k * sizeof it, sizeof it);
                i = np_instance_find(b, it.instance_id);
                /* The counts of the connection the broker holds for that
                 * instance, not of one it has folded already. */
                if (i == NULL || i->owner != c || it.conn_id == 0 ||
                    !((i->conn != NULL && i->conn->id == it.conn_id) || i->owed_conn == it.conn_id))
                        continue;
                if (rep.query >= i->live_q) {
                        i->live = it.traffic;
                        i->live_q = rep.query;
                }
        }
        if ((rep.flags & NP_STATS_LAST) && b->stats_active && rep.query == b->stats_q &&
            c->stats_asked == rep.query) {
                c->stats_asked = 0;
                if (--b->stats_waiting == 0) {
                        finish_round(b);
                        advance(b);
                }
        }
}

void np_stats_client_gone(struct np_broker *b, struct np_client *c)
{
        struct np_link *lists[2] = {&b->stats_next, &b->stats_round};

        for (int k = 0; k < 2; k++) {
                struct np_link *l, *next;

                for (l = lists[k]->next; l != lists[k]; l = next) {
                        struct np_listjob *j = np_container_of(l, struct np_listjob, link);

                        next = l->next;
                        if (j->client == c)
                                np_listjob_free(b, j);
                }
        }
        if (b->stats_active && c->stats_asked == b->stats_q) {
                c->stats_asked = 0;
                if (--b->stats_waiting == 0) {
                        finish_round(b);
                        advance(b);
                }
        }
}

int64_t np_stats_deadline(const struct np_broker *b)
{
        return b->stats_active ? b->stats_deadline_ns : -1;
}

void np_stats_expired(struct np_broker *b)
{
        finish_round(b);
        advance(b);
}
