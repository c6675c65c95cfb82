/*
 * requests.c - the namespace and the requests that change it.
 *
 * This file owns the NT rules the broker enforces (spec/semantics.md):
 * which creations may join an existing name (INST), which instance a
 * client gets (OPEN, INST-09's listen FIFO), when waiters are released
 * (WAIT), and what each end is told when the other disconnects, closes or
 * dies (DISC, CLOSE).  Every packet arrives through np_handle_packet()
 * after np_proto_check(); every reply carries the request's req_id and
 * every event req_id 0.
 *
 * Descriptor ownership is strict: a handler owns the descriptor that came
 * with its packet and either keeps it (a listening instance's server
 * segment), hands it to np_send() (which closes it once sent), or closes
 * it.  A descriptor is never silently lost: when a packet carrying one
 * cannot be sent, np_send() drops that client as if it had died.
 */
#include "broker/broker.h"
#include "core/ring_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/limits.h"
#include "broker/reap.h"
#include "core/name.h"
#include "npipe/npipe.h"

/* WAIT-07: a pipe created with default timeout 0 waits 50 ms by default. */
#define NP_DEFAULT_WAIT_MS 50u

static struct np_instance *instance_find(struct np_broker *b, uint64_t id)
{
        uint64_t h = np_hash_u64(id);

        for (struct np_hnode *n = np_htab_bucket(&b->instances, h); n != NULL; n = n->next) {
                struct np_instance *i = np_container_of(n, struct np_instance, hnode);

                if (i->id == id)
                        return i;
        }
        return NULL;
}

struct np_instance *np_instance_find(struct np_broker *b, uint64_t id)
{
        return instance_find(b, id);
}

static struct np_conn *conn_find(struct np_broker *b, uint64_t id)
{
        uint64_t h = np_hash_u64(id);

        for (struct np_hnode *n = np_htab_bucket(&b->conns, h); n != NULL; n = n->next) {
                struct np_conn *c = np_container_of(n, struct np_conn, hnode);

                if (c->id == id)
                        return c;
        }
        return NULL;
}

int np_state_init(struct np_broker *b)
{
        if (np_htab_init(&b->pipes) < 0 || np_htab_init(&b->instances) < 0 ||
            np_htab_init(&b->conns) < 0 || np_htab_init(&b->uaccts) < 0)
                return -ENOMEM;
        b->owner_uid = geteuid();
        if (getrandom(&b->hash_seed, sizeof b->hash_seed, GRND_NONBLOCK) !=
            (ssize_t)sizeof b->hash_seed)
                b->hash_seed = (uint64_t)np_now_ns() ^ ((uint64_t)getpid() << 32);
        /* proto.h, broker restart: ids start at the wall clock in
         * nanoseconds, so every id a broker that ran before us gave out is
         * smaller than ours and an adopted id never names one of ours. */
        {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                b->next_id = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
        return 0;
}

/* ---- accounting (limits.h) ------------------------------------------------- */

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
static bool pool_full(const struct np_client *c, size_t total, size_t mine, size_t lim)
{
        if (!c->acct->limited)
                return total >= lim;
        return total >= lim - lim / 8 || mine >= lim / NP_LIM_UID_SHARE;
}

bool np_pool_full(const struct np_client *c, size_t total, size_t mine, size_t lim)
{
        return pool_full(c, total, mine, lim);
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

/* ---- sending -------------------------------------------------------------- */

/* Header + fixed body + optional name, built on the stack (a packet is at
 * most NP_PROTO_MAX_PACKET bytes). */
static void send_msg(struct np_broker *b, struct np_client *c, uint16_t type, uint32_t req_id,
                     const void *body, size_t blen, const char *name, size_t nlen, int fd)
{
        unsigned char pkt[NP_PROTO_MAX_PACKET];
        struct np_hdr h = {
            .type = type,
            .version = NP_PROTO_VERSION,
            .len = (uint32_t)(sizeof h + blen + nlen),
            .req_id = req_id,
            .flags = 0,
        };

        memcpy(pkt, &h, sizeof h);
        if (blen > 0)
                memcpy(pkt + sizeof h, body, blen);
        if (nlen > 0)
                memcpy(pkt + sizeof h + blen, name, nlen);
        np_send(b, c, pkt, h.len, fd);
}

static void reply_status(struct np_broker *b, struct np_client *c, uint32_t req_id, int status)
{
        struct np_reply r = {.status = status, .reserved = 0};

        /* NP_HDR_NO_REPLY: nobody waits for a success */
        if (status == 0 && req_id != 0 && req_id == b->quiet_req && c == b->quiet_client)
                return;
        send_msg(b, c, NP_MSG_REPLY, req_id, &r, sizeof r, NULL, 0, -1);
}

void np_send_msg(struct np_broker *b, struct np_client *c, uint16_t type, uint32_t req_id,
                 const void *body, size_t blen, const char *name, size_t nlen, int fd)
{
        send_msg(b, c, type, req_id, body, blen, name, nlen, fd);
}

void np_reply_status(struct np_broker *b, struct np_client *c, uint32_t req_id, int status)
{
        reply_status(b, c, req_id, status);
}

static void send_peer_gone(struct np_broker *b, struct np_client *to, uint64_t instance_id,
                           uint64_t conn_id, uint32_t reason, uint32_t to_server)
{
        struct np_ev_peer_gone ev = {
            .instance_id = instance_id,
            .conn_id = conn_id,
            .reason = reason,
            .to_server = to_server,
        };

        send_msg(b, to, NP_MSG_EV_PEER_GONE, 0, &ev, sizeof ev, NULL, 0, -1);
}

/* A malformed or out-of-place packet: answer it when it can be answered,
 * and drop a client that keeps sending them. */
static void bad_packet(struct np_broker *b, struct np_client *c, uint32_t req_id, int status,
                       const char *what)
{
        c->proto_errors++;
        b->ctr.requests_malformed++;
        np_log(LOG_DEBUG, "client %llu (pid %ld): %s (%s)", (unsigned long long)c->serial,
               (long)c->pid, what, np_status_name(status));
        if (req_id != 0)
                reply_status(b, c, req_id, status);
        if (c->proto_errors > NP_LIM_PROTO_ERRORS) {
                static struct np_ratelimit rl; /* log.c: a flood must not fill the disk */

                np_log_limited(&rl, LOG_NOTICE,
                               "client %llu (pid %ld): too many protocol errors, dropped",
                               (unsigned long long)c->serial, (long)c->pid);
                b->ctr.processes_dropped++;
                np_client_doom(b, c, "protocol errors");
        }
}

/* ---- state changes --------------------------------------------------------- */

/* The pipe-wide values (first instance's) with this instance's quotas. */
static struct np_pipe_params instance_params(const struct np_instance *i)
{
        struct np_pipe_params p = i->pipe->params;

        p.in_quota = i->in_quota;
        p.out_quota = i->out_quota;
        return p;
}

/* The pipe's policy for one identity (INST-07, SEC-04); root may always. */
static bool policy_allows(const struct np_pipe *p, uid_t uid, gid_t gid, const gid_t *groups,
                          size_t ngroups)
{
        if (uid == 0 || uid == p->owner_uid)
                return true;
        switch (p->params.policy) {
        case NPIPE_ACCESS_EVERYONE:
                return true;
        case NPIPE_ACCESS_GROUP:
                if (gid == p->params.gid)
                        return true;
                for (size_t i = 0; i < ngroups; i++)
                        if (groups[i] == p->params.gid)
                                return true;
                return false;
        default:
                return false;
        }
}

/* May c open the pipe or create another instance of it?  The policy is
 * the first instance's, by the process's own credentials. */
static bool allowed(const struct np_pipe *p, const struct np_client *c)
{
        return policy_allows(p, c->uid, c->gid, c->groups, c->ngroups > 0 ? (size_t)c->ngroups : 0);
}

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "np_remote_id groups are gid_t");

/* The same rule for a remote (SMB) user, by the unix identity Samba mapped
 * it to; a null session is "everyone" at most, and only where the pipe's
 * first instance allowed it (NPIPE_ALLOW_ANONYMOUS). */
static bool allowed_remote(const struct np_pipe *p, const struct np_remote_id *id)
{
        if (id->flags & NPIPE_REMOTE_ANONYMOUS)
                return p->allow_anon && p->params.policy == NPIPE_ACCESS_EVERYONE;
        return policy_allows(p, id->uid, id->gid, (const gid_t *)id->groups, id->ngroups);
}

/* An instance's creation flags; the pipe counts the instances that take
 * remote clients, and has its SMB socket while there is one (remote.c). */
static void instance_set_flags(struct np_broker *b, struct np_instance *i, uint32_t flags)
{
        i->cflags = flags;
        if (!(flags & NP_CREATE_REJECT_REMOTE) && i->pipe->n_remote_ok++ == 0)
                np_remote_expose(b, i->pipe);
}

/* The segment a LISTENING instance holds, handed on (or closed) by the
 * caller: the owner's descriptor count follows it. */
static int inst_take_fd(struct np_instance *i)
{
        int fd = i->fd;

        if (fd >= 0)
                i->owner->acct->fds--;
        i->fd = -1;
        return fd;
}

/* Move an instance to a new state, keeping the pipe's counters and listen
 * FIFO right.  Leaving LISTENING closes a held segment (callers that hand
 * it on take it out first); entering LISTENING appends to the FIFO
 * (INST-09) and keeps `fd`. */
static void set_state(struct np_instance *i, uint32_t state, int fd)
{
        struct np_pipe *p = i->pipe;

        if (i->state == NPIPE_STATE_LISTENING) {
                np_link_del(&i->listen_link);
                p->n_listening--;
                if (i->fd >= 0)
                        close(inst_take_fd(i));
        } else if (i->state == NPIPE_STATE_CONNECTED) {
                p->n_connected--;
        }
        i->state = state;
        if (state == NPIPE_STATE_LISTENING) {
                i->fd = fd;
                if (fd >= 0)
                        i->owner->acct->fds++;
                np_link_add_tail(&p->listeners, &i->listen_link);
                p->n_listening++;
        } else if (state == NPIPE_STATE_CONNECTED) {
                p->n_connected++;
        }
}

static void wait_finish(struct np_broker *b, struct np_waiter *w, int status, bool reply)
{
        np_link_del(&w->pipe_link);
        np_link_del(&w->client_link);
        np_timer_del(b, w);
        w->client->n_waits--;
        w->client->acct->waits--;
        b->n_waits--;
        if (reply)
                reply_status(b, w->client, w->req_id, status);
        free(w);
}

/* WAIT-04/05: every waiter of the name is answered at once. */
static void wake_waiters(struct np_broker *b, struct np_pipe *p, int status)
{
        while (!np_link_empty(&p->waits))
                wait_finish(b, np_container_of(p->waits.next, struct np_waiter, pipe_link), status,
                            true);
}

void np_wait_expired(struct np_broker *b, struct np_waiter *w)
{
        b->ctr.waits_timed_out++;
        wait_finish(b, w, NPIPE_ETIMEDOUT, true);
}

static void pipe_free(struct np_pipe *p)
{
        free(p->key);
        free(p->display);
        free(p);
}

static void pipe_unref(struct np_pipe *p)
{
        if (--p->refs == 0 && p->dead)
                pipe_free(p);
}

/* A namespace that shrank to a quarter of its peak gives its memory back:
 * after one user's 25,000 names go, the broker should not keep their pages
 * (issue 15).  The tables shrink as they empty (hash.c); malloc_trim hands
 * the freed heap pages to the kernel.  Rare by construction: the peak is
 * reset each time. */
static void give_back_memory(struct np_broker *b)
{
        size_t live = b->n_pipes + b->n_instances + b->n_conns;

        if (live > b->mem_peak)
                b->mem_peak = live;
        else if (b->mem_peak >= 4096 && live < b->mem_peak / 4) {
                malloc_trim(0);
                b->mem_peak = live;
        }
}

/* NAME-17: with its last instance the name leaves the namespace; waiters
 * learn it is gone.  Connections and listings still pointing at the pipe
 * keep the memory (refs) and see it as dead. */
static void pipe_maybe_remove(struct np_broker *b, struct np_pipe *p)
{
        if (p->n_instances > 0)
                return;
        np_remote_unexpose(b, p);
        wake_waiters(b, p, NPIPE_ENOENT);
        np_htab_remove(&b->pipes, &p->hnode);
        b->n_pipes--;
        p->dead = true;
        if (p->owner_acct != NULL) {
                p->owner_acct->pipes--;
                np_uacct_put(b, p->owner_acct);
                p->owner_acct = NULL;
        }
        if (p->refs == 0)
                pipe_free(p);
        give_back_memory(b);
}

/* A pipe record with its name and parameters, in no table yet. */
static struct np_pipe *pipe_alloc(const char *name, uint32_t len,
                                  const struct np_pipe_params *params)
{
        struct np_pipe *p = calloc(1, sizeof *p);

        if (p == NULL)
                return NULL;
        char key[NP_NAME_KEY_MAX];
        size_t klen = np_name_key(name, len, key);

        p->key = malloc(klen);
        p->display = malloc(len + 1);
        if (p->key == NULL || p->display == NULL) {
                pipe_free(p);
                return NULL;
        }
        memcpy(p->key, key, klen);
        p->key_len = (uint32_t)klen;
        memcpy(p->display, name, len);
        p->display[len] = '\0';
        p->name_len = len;
        p->params = *params;
        np_link_init(&p->instances);
        np_link_init(&p->listeners);
        np_link_init(&p->waits);
        np_link_init(&p->sname_link);
        p->remote_why = NP_REMOTE_OFF;
        return p;
}

/* A new name created by c: counted in its uid's share, judged once by the
 * exposure policy (remote.c). */
static struct np_pipe *pipe_new(struct np_broker *b, const char *name, uint32_t len,
                                const struct np_pipe_params *params, struct np_client *c,
                                uint32_t flags)
{
        struct np_pipe *p = pipe_alloc(name, len, params);

        if (p == NULL)
                return NULL;
        p->owner_uid = c->uid;
        p->owner_acct = c->acct;
        c->acct->pipes++;
        p->allow_anon = (flags & NP_CREATE_ALLOW_ANONYMOUS) != 0;
        p->policy_why = np_remote_policy(b, p, c);
        /* until an instance takes remote clients (np_remote_expose) */
        p->remote_why = p->policy_why != NP_REMOTE_EXPOSED ? p->policy_why : NP_REMOTE_REJECTED;
        np_htab_insert(&b->pipes, &p->hnode, np_pipe_key_hash(b, p));
        b->n_pipes++;
        b->ctr.pipes_total++;
        give_back_memory(b);
        return p;
}

static void conn_pend_clear(struct np_broker *b, struct np_conn *conn);
static void inst_pend_clear(struct np_broker *b, struct np_instance *i);

static void conn_free(struct np_broker *b, struct np_conn *conn)
{
        conn_pend_clear(b, conn);
        np_htab_remove(&b->conns, &conn->hnode);
        np_link_del(&conn->client_link);
        conn->client->n_conns--;
        conn->client->acct->conns--;
        b->n_conns--;
        pipe_unref(conn->pipe);
        free(conn->remote);
        free(conn);
}

/*
 * Traffic of ended connections (docs/protocol.md, "Statistics").  The end
 * that leaves a connection first reports its final counts in its request
 * (np_end_req; `rep`); after that the other end cannot write any more, so
 * they are final.  When the first end leaves without them (it died: rep is
 * NULL, or it named another connection) the other end's report is taken
 * when it leaves in turn (owed_conn, owed), and if it dies too, the last
 * counts its server reported live.  So every connection is counted once.
 */
static bool report_names(const struct np_end_req *rep, uint64_t conn_id)
{
        return rep != NULL && conn_id != 0 && rep->conn_id == conn_id;
}

/* A server end that owed the counts of a connection whose client is gone
 * leaves now (DISCONNECT, close, death). */
static void instance_settle(struct np_broker *b, struct np_instance *i,
                            const struct np_end_req *rep)
{
        if (i->owed_conn == 0)
                return;
        np_traffic_fold(b, i->pipe, report_names(rep, i->owed_conn) ? &rep->traffic : &i->live);
        i->owed_conn = 0;
}

/* The server side left the connection (DISCONNECT, server close, server
 * death): the client keeps its conn record and hears why. */
static void conn_detach(struct np_broker *b, struct np_conn *conn, uint32_t state, uint32_t reason,
                        const struct np_end_req *rep)
{
        struct np_instance *i = conn->inst;

        if (report_names(rep, conn->id)) {
                np_traffic_fold(b, i->pipe, &rep->traffic);
        } else {
                conn->owed = true;
                conn->known = i->live;
        }
        i->conn = NULL;
        conn->inst = NULL;
        conn->detached_state = state;
        send_peer_gone(b, conn->client, i->id, conn->id, reason, 0);
}

/* The client end is closed (CLOSE_CLIENT, client death).  A still attached
 * instance goes CLOSING (its server must disconnect before reuse,
 * CLOSE-12) and the server hears why; WAIT-06: that releases no waiter. */
static void conn_close(struct np_broker *b, struct np_conn *conn, uint32_t reason,
                       const struct np_end_req *rep)
{
        struct np_instance *i = conn->inst;

        if (i != NULL) {
                if (report_names(rep, conn->id))
                        np_traffic_fold(b, i->pipe, &rep->traffic);
                else
                        i->owed_conn = conn->id;
                i->conn = NULL;
                conn->inst = NULL;
                set_state(i, NPIPE_STATE_CLOSING, -1);
                send_peer_gone(b, i->owner, i->id, conn->id, reason, 1);
        } else if (conn->owed) {
                np_traffic_fold(b, conn->pipe,
                                report_names(rep, conn->id) ? &rep->traffic : &conn->known);
        }
        conn_free(b, conn);
}

/* The server end is closed (CLOSE_SERVER, server death: rep NULL). */
static void instance_close(struct np_broker *b, struct np_instance *i, uint32_t reason,
                           const struct np_end_req *rep)
{
        struct np_pipe *p = i->pipe;

        if (i->conn != NULL)
                conn_detach(b, i->conn, NPIPE_STATE_CLOSING, reason, rep);
        instance_settle(b, i, rep);
        inst_pend_clear(b, i);
        set_state(i, NPIPE_STATE_CLOSING, -1);
        if (!(i->cflags & NP_CREATE_REJECT_REMOTE) && --p->n_remote_ok == 0)
                np_remote_unexpose(b, p);
        np_link_del(&i->pipe_link);
        p->n_instances--;
        np_link_del(&i->owner_link);
        i->owner->n_instances--;
        i->owner->acct->instances--;
        b->n_instances--;
        np_htab_remove(&b->instances, &i->hnode);
        free(i);
        pipe_maybe_remove(b, p);
}

/* ---- LIST ------------------------------------------------------------------ */

void np_listjob_free(struct np_broker *b, struct np_listjob *j)
{
        for (size_t k = 0; k < j->n; k++)
                pipe_unref(j->pipes[k]);
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

                        if (!allowed(p, j->client))
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
                send_msg(b, c, NP_MSG_LIST_ITEM, req_id, &it, sizeof it, NULL, 0, -1);
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
                it.params = instance_params(first);
        }
        it.name_len = p->name_len;
        send_msg(b, c, NP_MSG_LIST_ITEM, req_id, &it, sizeof it, p->display, p->name_len, -1);
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

static void do_list(struct np_broker *b, struct np_client *c, uint32_t req_id)
{
        struct np_listjob *j;

        if (c->n_lists >= NP_LIM_LISTS_PER_CLIENT) {
                reply_status(b, c, req_id, NPIPE_ELIMIT);
                return;
        }
        j = calloc(1, sizeof *j);
        if (j != NULL)
                j->client = c;
        if (j == NULL || np_snapshot(b, j) < 0) {
                free(j);
                reply_status(b, c, req_id, NPIPE_ENOMEM);
                return;
        }
        j->req_id = req_id;
        np_link_add_tail(&c->lists, &j->link);
        c->n_lists++;
        np_list_pump(b, c);
}

/* ---- requests -------------------------------------------------------------- */

static bool valid_params(const struct np_pipe_params *p)
{
        return p->type <= NPIPE_TYPE_MESSAGE && p->dir >= NPIPE_INBOUND && p->dir <= NPIPE_DUPLEX &&
               p->max_instances <= NPIPE_MAX_INSTANCES_LIMIT && p->policy <= NPIPE_ACCESS_EVERYONE;
}

/* A new instance of p owned by c, DISCONNECTED (callers set the state).
 * INST-04: type, limit, quotas and timeout may differ; the pipe keeps the
 * first instance's and this one its own quotas. */
static struct np_instance *instance_new(struct np_broker *b, struct np_client *c, struct np_pipe *p,
                                        const struct np_pipe_params *params, uint64_t id)
{
        struct np_instance *i = calloc(1, sizeof *i);

        if (i == NULL)
                return NULL;
        i->id = id;
        i->pipe = p;
        i->owner = c;
        i->in_quota = params->in_quota;
        i->out_quota = params->out_quota;
        i->state = NPIPE_STATE_DISCONNECTED;
        i->fd = -1;
        np_link_init(&i->listen_link);
        np_link_add_tail(&p->instances, &i->pipe_link);
        p->n_instances++;
        np_link_add_tail(&c->instances, &i->owner_link);
        c->n_instances++;
        c->acct->instances++;
        b->n_instances++;
        b->ctr.instances_total++;
        np_htab_insert(&b->instances, &i->hnode, np_hash_u64(i->id));
        return i;
}

static void do_create(struct np_broker *b, struct np_client *c, uint32_t req_id,
                      const unsigned char *body, const char *name, uint32_t name_len, int fd)
{
        struct np_create req;
        struct np_create_reply rep;
        struct np_instance *i;
        struct np_pipe *p;
        int status;

        memcpy(&req, body, sizeof req);
        status = NPIPE_EINVAL;
        if (!valid_params(&req.params) || (req.flags & ~NP_CREATE_FLAGS))
                goto fail;
        status = NPIPE_ELIMIT;
        if (c->n_instances >= NP_LIM_INSTANCES_PER_CLIENT ||
            pool_full(c, b->n_instances, c->acct->instances, NP_LIM_INSTANCES) ||
            np_fd_share_full(b, c->acct, 1))
                goto fail;
        p = np_pipe_find(b, name, name_len);
        if (p != NULL) {
                status = NPIPE_EACCES;
                if (!allowed(p, c)) /* INST-07 */
                        goto fail;
                if (req.flags & NP_CREATE_FIRST_INSTANCE) /* INST-06 */
                        goto fail;
                if (req.params.dir != p->params.dir) /* INST-03 */
                        goto fail;
                status = NPIPE_EBUSY; /* INST-02, INST-05 */
                if (p->params.max_instances != 0 && p->n_instances >= p->params.max_instances)
                        goto fail;
        } else {
                status = NPIPE_ELIMIT;
                if (pool_full(c, b->n_pipes, c->acct->pipes, NP_LIM_PIPES))
                        goto fail;
                status = NPIPE_ENOMEM;
                p = pipe_new(b, name, name_len, &req.params, c, req.flags);
                if (p == NULL)
                        goto fail;
        }
        i = instance_new(b, c, p, &req.params, ++b->next_id);
        if (i == NULL) {
                status = NPIPE_ENOMEM;
                pipe_maybe_remove(b, p);
                goto fail;
        }
        set_state(i, NPIPE_STATE_LISTENING, fd); /* CREATE-10, STATE-01 */
        instance_set_flags(b, i, req.flags);

        memset(&rep, 0, sizeof rep);
        rep.status = 0;
        rep.remote = (uint32_t)p->remote_why;
        rep.instance_id = i->id;
        rep.params = instance_params(i);
        send_msg(b, c, NP_MSG_CREATE_REPLY, req_id, &rep, sizeof rep, NULL, 0, -1);
        wake_waiters(b, p, 0); /* WAIT-04 */
        return;
fail:
        close(fd);
        reply_status(b, c, req_id, status);
}

static struct np_instance *own_instance(struct np_broker *b, struct np_client *c,
                                        const unsigned char *body)
{
        struct np_instance_req req;
        struct np_instance *i;

        memcpy(&req, body, sizeof req);
        i = instance_find(b, req.instance_id);
        return i != NULL && i->owner == c ? i : NULL;
}

static void do_listen(struct np_broker *b, struct np_client *c, uint32_t req_id,
                      const unsigned char *body, int fd)
{
        struct np_instance *i = own_instance(b, c, body);
        int status = 0;

        if (i == NULL) {
                status = NPIPE_EBADF;
        } else {
                switch (i->state) {
                case NPIPE_STATE_DISCONNECTED:
                        if (np_fd_share_full(b, c->acct, 1)) {
                                status = NPIPE_ELIMIT;
                                break;
                        }
                        /* STATE-05, INST-09: back to the end of the FIFO */
                        set_state(i, NPIPE_STATE_LISTENING, fd);
                        reply_status(b, c, req_id, 0);
                        wake_waiters(b, i->pipe, 0); /* WAIT-04 */
                        return;
                case NPIPE_STATE_LISTENING:
                        break; /* INST-09: keeps its place (and its segment) */
                case NPIPE_STATE_CONNECTED:
                        status = NPIPE_EISCONN; /* CONNECT-02 */
                        break;
                default:
                        status = NPIPE_ECLOSING; /* CONNECT-06 */
                        break;
                }
        }
        close(fd);
        reply_status(b, c, req_id, status);
}

/* The longest-listening instance that takes this client (INST-09): any
 * for a local one, one without NPIPE_REJECT_REMOTE for a remote one
 * (SEC-14: the instances of a pipe may differ in that). */
static struct np_instance *first_listener(struct np_pipe *p, bool remote)
{
        for (struct np_link *l = p->listeners.next; l != &p->listeners; l = l->next) {
                struct np_instance *i = np_container_of(l, struct np_instance, listen_link);

                if (!remote || !(i->cflags & NP_CREATE_REJECT_REMOTE))
                        return i;
        }
        return NULL;
}

/* OPEN and OPEN_REMOTE: rid is the SMB user's identity for the latter. */
static void open_common(struct np_broker *b, struct np_client *c, uint32_t req_id,
                        struct np_open req, const struct np_remote_id *rid, const char *name,
                        uint32_t name_len, int fd)
{
        struct np_open_reply rep;
        struct np_ev_connected_remote ev;
        struct np_remote_id *keep = NULL;
        struct np_instance *i;
        struct np_conn *conn;
        struct np_pipe *p;
        int status, sfd;

        status = NPIPE_EINVAL;
        if (req.access & ~(NP_ACCESS_READ | NP_ACCESS_WRITE))
                goto fail;
        status = NPIPE_ELIMIT;
        if (c->n_conns >= NP_LIM_CONNS_PER_CLIENT ||
            pool_full(c, b->n_conns, c->acct->conns, NP_LIM_CONNS))
                goto fail;
        status = NPIPE_ENOENT; /* NAME-05 */
        p = np_pipe_find(b, name, name_len);
        /* A pipe the caller may not open is not there for it either (a
         * shared broker shows nobody another user's private names; SEC-04
         * as documented in docs/reliability.md). */
        if (p == NULL || (rid == NULL && !allowed(p, c))) {
                b->ctr.opens_not_found++;
                goto fail;
        }
        status = NPIPE_EACCES; /* SEC-04, OPEN-03: checked before an instance is taken */
        if (rid != NULL && req.access == 0)
                req.access = (p->params.dir & NPIPE_INBOUND ? NP_ACCESS_WRITE : 0) |
                             (p->params.dir & NPIPE_OUTBOUND ? NP_ACCESS_READ : 0);
        /* A remote user reaches only a pipe that has its socket now: the
         * relay opens by name, and the name may since belong to a pipe the
         * policy keeps local. */
        if ((rid != NULL && (p->remote_why != NP_REMOTE_EXPOSED || !allowed_remote(p, rid))) ||
            ((req.access & NP_ACCESS_WRITE) && !(p->params.dir & NPIPE_INBOUND)) ||
            ((req.access & NP_ACCESS_READ) && !(p->params.dir & NPIPE_OUTBOUND))) {
                b->ctr.opens_denied++;
                goto fail;
        }
        status = NPIPE_EBUSY; /* OPEN-02 */
        i = first_listener(p, rid != NULL);
        if (i == NULL) {
                b->ctr.opens_busy++;
                goto fail;
        }
        /* The client's ring must hold a whole write that fits the quota, or
         * such a write could not complete at once (QUOTA-02).  The client
         * does not know the quota before it opens: tell it, and it comes
         * back with a larger ring (one more round trip, large quotas only). */
        {
                struct np_pipe_params ip = instance_params(i);
                struct stat st;
                uint64_t need = 2ull * ip.in_quota + NP_SEG_HDR_SIZE;
                if (need > (uint64_t)NP_RING_MAX + NP_SEG_HDR_SIZE)
                        need = (uint64_t)NP_RING_MAX + NP_SEG_HDR_SIZE;
                if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < need) {
                        memset(&rep, 0, sizeof rep);
                        rep.status = NPIPE_EBUFFER;
                        rep.params = ip;
                        close(fd);
                        send_msg(b, c, NP_MSG_OPEN_REPLY, req_id, &rep, sizeof rep, NULL, 0, -1);
                        return;
                }
        }
        status = NPIPE_ENOMEM;
        if (rid != NULL) {
                keep = malloc(sizeof *keep);
                if (keep == NULL)
                        goto fail;
                *keep = *rid;
        }
        conn = calloc(1, sizeof *conn);
        if (conn == NULL) {
                free(keep);
                goto fail;
        }

        /* INST-09: the instance that has been listening longest (i above). */
        sfd = inst_take_fd(i);
        set_state(i, NPIPE_STATE_CONNECTED, -1); /* OPEN-07, STATE-02 */
        i->conn = conn;
        np_stats_attach(b, i);
        b->ctr.connections_total++;
        p->connections++;

        conn->id = ++b->next_id;
        conn->inst = i;
        conn->instance_id = i->id;
        conn->pipe = p;
        p->refs++;
        conn->params = instance_params(i);
        conn->client = c;
        conn->pid = c->pid;
        conn->uid = rid != NULL ? rid->uid : c->uid;
        conn->gid = rid != NULL ? rid->gid : c->gid;
        conn->access = req.access;
        conn->remote = keep;
        np_link_add_tail(&c->conns, &conn->client_link);
        c->n_conns++;
        c->acct->conns++;
        b->n_conns++;
        np_htab_insert(&b->conns, &conn->hnode, np_hash_u64(conn->id));

        memset(&ev, 0, sizeof ev);
        ev.ev.instance_id = i->id;
        ev.ev.conn_id = conn->id;
        /* no process id crosses SMB: the relay's would mislead the server */
        ev.ev.client_pid = rid != NULL ? 0 : (uint32_t)c->pid;
        ev.ev.client_uid = (uint32_t)conn->uid;
        ev.ev.client_gid = (uint32_t)conn->gid;
        ev.ev.access = req.access;
        if (rid != NULL) {
                ev.id = *rid;
                send_msg(b, i->owner, NP_MSG_EV_CONNECTED_REMOTE, 0, &ev, sizeof ev, NULL, 0, fd);
        } else {
                send_msg(b, i->owner, NP_MSG_EV_CONNECTED, 0, &ev.ev, sizeof ev.ev, NULL, 0, fd);
        }

        memset(&rep, 0, sizeof rep);
        rep.status = 0;
        rep.server_pid = (uint32_t)i->owner->pid;
        rep.instance_id = i->id;
        rep.conn_id = conn->id;
        rep.server_uid = (uint32_t)i->owner->uid;
        rep.server_gid = (uint32_t)i->owner->gid;
        rep.params = conn->params;
        send_msg(b, c, NP_MSG_OPEN_REPLY, req_id, &rep, sizeof rep, NULL, 0, sfd);
        return;
fail:
        close(fd);
        reply_status(b, c, req_id, status);
}

static void do_open(struct np_broker *b, struct np_client *c, uint32_t req_id,
                    const unsigned char *body, const char *name, uint32_t name_len, int fd)
{
        struct np_open req;

        memcpy(&req, body, sizeof req);
        open_common(b, c, req_id, req, NULL, name, name_len, fd);
}

/* Only the broker's own SMB relay (remote.c) may speak for a remote user:
 * any other process sending this is refused as if the type were unknown. */
static void do_open_remote(struct np_broker *b, struct np_client *c, uint32_t req_id,
                           const unsigned char *body, const char *name, uint32_t name_len, int fd)
{
        struct np_open_remote req;

        if (c->pid != b->self_pid) {
                close(fd);
                bad_packet(b, c, req_id, NPIPE_EPROTO, "remote open from another process");
                return;
        }
        memcpy(&req, body, sizeof req);
        open_common(b, c, req_id, req.open, &req.id, name, name_len, fd);
}

static void do_wait(struct np_broker *b, struct np_client *c, uint32_t req_id,
                    const unsigned char *body, const char *name, uint32_t name_len)
{
        struct np_wait req;
        struct np_waiter *w;
        struct np_pipe *p;
        uint32_t ms;

        memcpy(&req, body, sizeof req);
        b->ctr.waits_total++;
        p = np_pipe_find(b, name, name_len);
        if (p == NULL || !allowed(p, c)) { /* WAIT-01; a pipe it may not open is none */
                reply_status(b, c, req_id, NPIPE_ENOENT);
                return;
        }
        if (p->n_listening > 0) { /* WAIT-02 */
                reply_status(b, c, req_id, 0);
                return;
        }
        if (c->n_waits >= NP_LIM_WAITS_PER_CLIENT ||
            pool_full(c, b->n_waits, c->acct->waits, NP_LIM_WAITS)) {
                reply_status(b, c, req_id, NPIPE_ELIMIT);
                return;
        }
        w = calloc(1, sizeof *w);
        if (w == NULL) {
                reply_status(b, c, req_id, NPIPE_ENOMEM);
                return;
        }
        w->pipe = p;
        w->client = c;
        w->req_id = req_id;
        w->heap_idx = NP_NOT_IN_HEAP;
        w->deadline_ns = -1;
        ms = req.timeout_ms;
        if (ms == NP_WAIT_DEFAULT) /* WAIT-07, WAIT-09 */
                ms = p->params.default_timeout_ms ? p->params.default_timeout_ms
                                                  : NP_DEFAULT_WAIT_MS;
        if (ms != NP_WAIT_FOREVER) {
                w->deadline_ns = np_now_ns() + (int64_t)ms * 1000000ll;
                if (np_timer_add(b, w) < 0) {
                        free(w);
                        reply_status(b, c, req_id, NPIPE_ENOMEM);
                        return;
                }
        }
        np_link_add_tail(&p->waits, &w->pipe_link);
        np_link_add_tail(&c->waits, &w->client_link);
        c->n_waits++;
        c->acct->waits++;
        b->n_waits++;
}

static void do_cancel(struct np_broker *b, struct np_client *c, uint32_t req_id,
                      const unsigned char *body)
{
        struct np_cancel req;

        memcpy(&req, body, sizeof req);
        if (req.reserved != 0) {
                reply_status(b, c, req_id, NPIPE_EINVAL);
                return;
        }
        for (struct np_link *l = c->waits.next; l != &c->waits; l = l->next) {
                struct np_waiter *w = np_container_of(l, struct np_waiter, client_link);

                if (w->req_id == req.target_req_id) { /* WAIT-10 */
                        wait_finish(b, w, NPIPE_ECANCELED, true);
                        reply_status(b, c, req_id, 0);
                        return;
                }
        }
        reply_status(b, c, req_id, NPIPE_ENOTFOUND);
}

static void do_disconnect(struct np_broker *b, struct np_client *c, uint32_t req_id,
                          const unsigned char *body)
{
        struct np_instance *i = own_instance(b, c, body);
        struct np_end_req rep;

        if (i == NULL) {
                reply_status(b, c, req_id, NPIPE_EBADF);
                return;
        }
        if (i->state == NPIPE_STATE_DISCONNECTED) { /* DISC-03 */
                reply_status(b, c, req_id, NPIPE_ENOTCONN);
                return;
        }
        /* DISC-01/04: the client is cut off; DISC-05: from CLOSING too;
         * DISC-08 (NPFS): a LISTENING instance drops its segment and
         * leaves the FIFO. */
        memcpy(&rep, body, sizeof rep);
        if (i->conn != NULL)
                conn_detach(b, i->conn, NPIPE_STATE_DISCONNECTED, NP_GONE_DISCONNECTED, &rep);
        instance_settle(b, i, &rep);
        inst_pend_clear(b, i);
        set_state(i, NPIPE_STATE_DISCONNECTED, -1);
        reply_status(b, c, req_id, 0);
}

static void do_close_server(struct np_broker *b, struct np_client *c, uint32_t req_id,
                            const unsigned char *body)
{
        struct np_instance *i = own_instance(b, c, body);
        struct np_end_req rep;

        if (i == NULL) {
                reply_status(b, c, req_id, NPIPE_EBADF);
                return;
        }
        memcpy(&rep, body, sizeof rep);
        instance_close(b, i, NP_GONE_CLOSED, &rep); /* STATE-03, CLOSE-13, NAME-17 */
        reply_status(b, c, req_id, 0);
}

static void do_close_client(struct np_broker *b, struct np_client *c, uint32_t req_id,
                            const unsigned char *body)
{
        struct np_end_req req;
        struct np_conn *conn;

        memcpy(&req, body, sizeof req);
        conn = conn_find(b, req.id);
        if (conn == NULL || conn->client != c) {
                reply_status(b, c, req_id, NPIPE_EBADF);
                return;
        }
        conn_close(b, conn, NP_GONE_CLOSED, &req); /* CLOSE-02, CLOSE-12 */
        reply_status(b, c, req_id, 0);
}

static void do_query(struct np_broker *b, struct np_client *c, uint32_t req_id,
                     const unsigned char *body)
{
        struct np_instance_req req;
        struct np_query_reply rep;
        struct np_instance *i;
        struct np_conn *conn;

        memcpy(&req, body, sizeof req);
        memset(&rep, 0, sizeof rep);
        i = instance_find(b, req.instance_id);
        if (i != NULL && i->owner == c) {
                rep.cur_instances = (uint32_t)i->pipe->n_instances; /* INST-10 */
                rep.state = i->state;
                /* an adopted instance still waiting for its client end
                 * names the client it expects */
                rep.client_pid = i->conn != NULL ? (uint32_t)i->conn->pid : (uint32_t)i->pend_pid;
                rep.params = instance_params(i);
        } else if ((conn = conn_find(b, req.instance_id)) != NULL && conn->client == c) {
                /* STATE-08: a pipe whose name is gone has 0 instances. */
                rep.cur_instances = conn->pipe->dead ? 0 : (uint32_t)conn->pipe->n_instances;
                if (conn->inst != NULL) {
                        rep.state = conn->inst->state;
                        rep.params = instance_params(conn->inst);
                } else {
                        rep.state = conn->detached_state; /* STATE-03, STATE-04 */
                        rep.params = conn->params;
                }
                rep.client_pid = (uint32_t)conn->pid;
        } else {
                reply_status(b, c, req_id, NPIPE_EBADF);
                return;
        }
        send_msg(b, c, NP_MSG_QUERY_REPLY, req_id, &rep, sizeof rep, NULL, 0, -1);
}

/* ---- adoption (broker restart) ------------------------------------------- */

/*
 * NP_MSG_ADOPT (proto.h): after a broker restart every process re-registers
 * its live ends, keeping the ids the old broker gave.  The two halves of a
 * connection arrive independently, in either order, possibly long apart; the
 * first to arrive waits (a server instance with pend_conn set, or a client
 * conn with `pending`) and is linked when the second arrives.  A half is
 * linked only to the half that names it back: the same conn id and instance
 * id, the same pipe name, and each side's claimed peer pid is the other
 * adopter's real pid (SO_PEERCRED), so that no process can attach itself to
 * someone else's connection by guessing ids.
 *
 * While a half waits, the peer process it names is watched through a pidfd:
 * if the peer exits before its half arrives, the waiting end hears
 * NP_GONE_DIED as it would have from the old broker.  A peer that is dead
 * already when the adoption arrives is reported at once.  A pidfd cannot be
 * fooled by pid reuse once open, and it sees a zombie as dead (kill(pid, 0)
 * would not); kill() is the fallback when no pidfd can be had.
 */

static void watch_release(struct np_broker *b, struct np_pidwatch **wp)
{
        if (*wp != NULL)
                np_watch_free(b, *wp);
        *wp = NULL;
}

static void inst_pend_clear(struct np_broker *b, struct np_instance *i)
{
        watch_release(b, &i->pend_watch);
        i->pend_conn = 0;
        i->pend_pid = 0;
}

static void conn_pend_clear(struct np_broker *b, struct np_conn *conn)
{
        watch_release(b, &conn->pend_watch);
        conn->pending = false;
        conn->pend_pid = 0;
}

/* Is pid gone?  Returns 1 when it has exited (or is a zombie), 0 when it
 * lives; with a watch wanted, *out gets a pidfd watch when one could be
 * set up (NULL otherwise: the death will then go unnoticed). */
static int peer_dead(struct np_broker *b, pid_t pid, struct np_pidwatch **out)
{
        struct np_pidwatch *w;
        struct pollfd pfd;
        int fd;

        *out = NULL;
        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                if (errno == ESRCH)
                        return 1;
                return kill(pid, 0) < 0 && errno == ESRCH;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 0) == 1) {
                close(fd); /* exited: readable at once */
                return 1;
        }
        /* limits.h, NP_LIM_FD_RESERVE: a watch is worth less than the
         * descriptors recvmsg() needs. */
        if (fd >= b->fd_budget || (w = calloc(1, sizeof *w)) == NULL) {
                close(fd);
                return 0;
        }
        w->fd = fd;
        if (np_watch_add(b, w) < 0) {
                close(fd);
                free(w);
                return 0;
        }
        *out = w;
        return 0;
}

/* Does the waiting server half i accept the client half conn? */
static bool halves_match(const struct np_instance *i, const struct np_conn *conn)
{
        return i->pend_conn == conn->id && conn->pending && conn->inst == NULL &&
               conn->instance_id == i->id && i->pend_pid == conn->pid &&
               conn->pend_pid == i->owner->pid && np_pipe_same_name(i->pipe, conn->pipe);
}

static void halves_link(struct np_broker *b, struct np_instance *i, struct np_conn *conn)
{
        inst_pend_clear(b, i);
        conn_pend_clear(b, conn);
        if (conn->pipe != i->pipe) {
                /* the client half came first, under a placeholder pipe */
                i->pipe->refs++;
                pipe_unref(conn->pipe);
                conn->pipe = i->pipe;
        }
        i->conn = conn;
        conn->inst = i;
        conn->detached_state = 0;
        conn->params = instance_params(i);
        np_stats_attach(b, i);
        np_log(LOG_DEBUG, "adopt: connection %llu linked", (unsigned long long)conn->id);
}

/* The peer a waiting half named has exited (or was found dead at once):
 * tell the waiting end as the old broker would have (CLOSE-09). */
static void inst_peer_died(struct np_broker *b, struct np_instance *i)
{
        uint64_t conn_id = i->pend_conn;

        inst_pend_clear(b, i);
        if (i->state == NPIPE_STATE_CONNECTED)
                set_state(i, NPIPE_STATE_CLOSING, -1);
        i->owed_conn = conn_id; /* its traffic: the survivor's to report */
        send_peer_gone(b, i->owner, i->id, conn_id, NP_GONE_DIED, 1);
}

static void conn_peer_died(struct np_broker *b, struct np_conn *conn)
{
        conn_pend_clear(b, conn);
        conn->detached_state = NPIPE_STATE_CLOSING;
        conn->owed = true;
        send_peer_gone(b, conn->client, conn->instance_id, conn->id, NP_GONE_DIED, 0);
}

void np_pidwatch_fired(struct np_broker *b, struct np_pidwatch *w)
{
        if (w->inst != NULL)
                inst_peer_died(b, w->inst);
        else if (w->conn != NULL)
                conn_peer_died(b, w->conn);
        else
                np_watch_free(b, w);
}

/* Ids are unique across instances and conns (one counter). */
static bool id_in_use(struct np_broker *b, uint64_t id)
{
        return instance_find(b, id) != NULL || conn_find(b, id) != NULL;
}

/* An adopted id came from an older broker's counter; ours must stay above
 * it even if the wall clock went backwards between the two. */
static void raise_ids(struct np_broker *b, uint64_t id)
{
        if (id > b->next_id)
                b->next_id = id;
}

/* A pipe outside the namespace for a client half whose server half has
 * not arrived: it carries the name (to match the server half by) and the
 * parameters the client opened with; it reads as dead (0 instances). */
static struct np_pipe *pipe_placeholder(const char *name, uint32_t len,
                                        const struct np_pipe_params *params)
{
        struct np_pipe *p = pipe_alloc(name, len, params);

        if (p != NULL)
                p->dead = true;
        return p;
}

static void adopt_reply(struct np_broker *b, struct np_client *c, uint32_t req_id, uint64_t id,
                        const struct np_pipe_params *params)
{
        struct np_create_reply rep;

        memset(&rep, 0, sizeof rep);
        rep.status = 0;
        rep.instance_id = id;
        rep.params = *params;
        send_msg(b, c, NP_MSG_CREATE_REPLY, req_id, &rep, sizeof rep, NULL, 0, -1);
}

static void adopt_server(struct np_broker *b, struct np_client *c, uint32_t req_id,
                         const struct np_adopt *req, const char *name, uint32_t name_len, int fd)
{
        struct np_pipe_params params;
        struct np_pidwatch *w = NULL;
        struct np_instance *i;
        struct np_conn *conn;
        struct np_pipe *p;
        bool attached = req->state == NPIPE_STATE_CONNECTED || req->state == NPIPE_STATE_CLOSING;
        uint64_t conn_id = attached ? req->conn_id : 0;
        int status = NPIPE_EINVAL;

        if (!valid_params(&req->params) ||
            (req->flags & ~NP_CREATE_FLAGS) ||
            req->access != 0 || req->instance_id == 0 || req->state < NPIPE_STATE_DISCONNECTED ||
            req->state > NPIPE_STATE_CLOSING)
                goto fail;
        /* A CONNECTED instance names its client; a CLOSING one may (its
         * client end may still be open and must hear of the server's end). */
        if ((req->state == NPIPE_STATE_CONNECTED && conn_id == 0) ||
            (conn_id != 0 && (req->peer_pid == 0 || conn_id == req->instance_id)))
                goto fail;
        status = NPIPE_EBUSY; /* an id that names something live */
        if (id_in_use(b, req->instance_id) || (conn_id != 0 && instance_find(b, conn_id) != NULL))
                goto fail;
        conn = conn_id != 0 ? conn_find(b, conn_id) : NULL;
        if (conn != NULL && !conn->pending)
                goto fail;
        status = NPIPE_ELIMIT;
        if (c->n_instances >= NP_LIM_INSTANCES_PER_CLIENT ||
            pool_full(c, b->n_instances, c->acct->instances, NP_LIM_INSTANCES) ||
            (fd >= 0 && np_fd_share_full(b, c->acct, 1)))
                goto fail;
        /* The same admission as NP_MSG_CREATE, but for INST-06: the
         * instance existed before the restart. */
        p = np_pipe_find(b, name, name_len);
        if (p != NULL) {
                status = NPIPE_EACCES;
                if (!allowed(p, c) || req->params.dir != p->params.dir) /* INST-07, INST-03 */
                        goto fail;
                status = NPIPE_EBUSY; /* INST-02 */
                if (p->params.max_instances != 0 && p->n_instances >= p->params.max_instances)
                        goto fail;
        } else {
                status = NPIPE_ELIMIT;
                if (pool_full(c, b->n_pipes, c->acct->pipes, NP_LIM_PIPES))
                        goto fail;
                status = NPIPE_ENOMEM;
                p = pipe_new(b, name, name_len, &req->params, c, req->flags);
                if (p == NULL)
                        goto fail;
        }
        i = instance_new(b, c, p, &req->params, req->instance_id);
        if (i == NULL) {
                status = NPIPE_ENOMEM;
                pipe_maybe_remove(b, p);
                goto fail;
        }
        instance_set_flags(b, i, req->flags);
        raise_ids(b, req->instance_id);
        raise_ids(b, conn_id);
        params = instance_params(i);
        if (req->state == NPIPE_STATE_LISTENING) {
                set_state(i, NPIPE_STATE_LISTENING, fd); /* at the end of the FIFO */
                adopt_reply(b, c, req_id, i->id, &params);
                wake_waiters(b, p, 0); /* WAIT-04 */
                return;
        }
        if (fd >= 0)
                close(fd);
        if (!attached) {
                adopt_reply(b, c, req_id, i->id, &params);
                return;
        }
        set_state(i, req->state, -1);
        if (conn_id == 0) {
                adopt_reply(b, c, req_id, i->id, &params);
                return;
        }
        i->pend_conn = conn_id;
        i->pend_pid = (pid_t)req->peer_pid;
        if (conn != NULL && halves_match(i, conn)) {
                halves_link(b, i, conn);
        } else if (peer_dead(b, i->pend_pid, &w)) {
                inst_peer_died(b, i); /* the event precedes the reply */
        } else {
                i->pend_watch = w;
                if (w != NULL)
                        w->inst = i;
        }
        adopt_reply(b, c, req_id, i->id, &params);
        return;
fail:
        if (fd >= 0)
                close(fd);
        reply_status(b, c, req_id, status);
}

static void adopt_client(struct np_broker *b, struct np_client *c, uint32_t req_id,
                         const struct np_adopt *req, const char *name, uint32_t name_len)
{
        struct np_pipe_params params;
        struct np_pidwatch *w = NULL;
        struct np_instance *i;
        struct np_conn *conn;
        struct np_pipe *p;
        int status = NPIPE_EINVAL;

        if (!valid_params(&req->params) || req->state != NPIPE_STATE_CONNECTED || req->flags != 0 ||
            (req->access & ~(NP_ACCESS_READ | NP_ACCESS_WRITE)) || req->conn_id == 0 ||
            req->instance_id == 0 || req->conn_id == req->instance_id || req->peer_pid == 0)
                goto fail;
        status = NPIPE_EBUSY;
        if (id_in_use(b, req->conn_id))
                goto fail;
        /* A server half waits for this very conn: only the process it
         * names may claim it (no squatting on a known connection). */
        status = NPIPE_EACCES;
        i = instance_find(b, req->instance_id);
        if (i != NULL && i->pend_conn == req->conn_id &&
            (i->pend_pid != c->pid || i->owner->pid != (pid_t)req->peer_pid))
                goto fail;
        status = NPIPE_ELIMIT;
        if (c->n_conns >= NP_LIM_CONNS_PER_CLIENT ||
            pool_full(c, b->n_conns, c->acct->conns, NP_LIM_CONNS))
                goto fail;
        status = NPIPE_ENOMEM;
        conn = calloc(1, sizeof *conn);
        if (conn == NULL)
                goto fail;
        p = np_pipe_find(b, name, name_len);
        if (p == NULL && (p = pipe_placeholder(name, name_len, &req->params)) == NULL) {
                free(conn);
                goto fail;
        }
        p->refs++;
        conn->id = req->conn_id;
        conn->instance_id = req->instance_id;
        conn->pipe = p;
        conn->params = req->params;
        conn->detached_state = NPIPE_STATE_CONNECTED;
        conn->client = c;
        conn->pid = c->pid;
        conn->uid = c->uid;
        conn->gid = c->gid;
        conn->access = req->access;
        conn->pending = true;
        conn->pend_pid = (pid_t)req->peer_pid;
        np_link_add_tail(&c->conns, &conn->client_link);
        c->n_conns++;
        c->acct->conns++;
        b->n_conns++;
        np_htab_insert(&b->conns, &conn->hnode, np_hash_u64(conn->id));
        raise_ids(b, req->conn_id);
        raise_ids(b, req->instance_id);

        if (i != NULL && halves_match(i, conn)) {
                halves_link(b, i, conn);
        } else if (peer_dead(b, conn->pend_pid, &w)) {
                conn_peer_died(b, conn); /* the event precedes the reply */
        } else {
                conn->pend_watch = w;
                if (w != NULL)
                        w->conn = conn;
        }
        params = conn->inst != NULL ? instance_params(conn->inst) : conn->params;
        adopt_reply(b, c, req_id, req->instance_id, &params);
        return;
fail:
        reply_status(b, c, req_id, status);
}

static void do_adopt(struct np_broker *b, struct np_client *c, uint32_t req_id,
                     const unsigned char *body, const char *name, uint32_t name_len, int fd)
{
        struct np_adopt req;

        memcpy(&req, body, sizeof req);
        /* Descriptor rules: a segment with a LISTENING server instance,
         * nothing otherwise. */
        if ((req.role == NP_ADOPT_SERVER && req.state == NPIPE_STATE_LISTENING) != (fd >= 0)) {
                if (fd >= 0)
                        close(fd);
                bad_packet(b, c, req_id, NPIPE_EPROTO, "adopt: descriptor rule");
                return;
        }
        b->ctr.adoptions++;
        if (req.role == NP_ADOPT_SERVER)
                adopt_server(b, c, req_id, &req, name, name_len, fd);
        else if (req.role == NP_ADOPT_CLIENT)
                adopt_client(b, c, req_id, &req, name, name_len);
        else
                reply_status(b, c, req_id, NPIPE_EINVAL);
}

/* ---- dispatch -------------------------------------------------------------- */

static void do_hello(struct np_broker *b, struct np_client *c, const struct np_hdr *h,
                     const unsigned char *pkt, ssize_t n, int fd)
{
        struct np_hello_reply rep = {.version = NP_PROTO_VERSION, .broker_pid = (uint32_t)getpid()};
        struct np_hello hello;
        int status = 0;

        /* The header version is checked here rather than by
         * np_proto_check(), so that a client of another protocol version
         * still gets a HELLO_REPLY naming ours. */
        if (n != (ssize_t)(sizeof *h + sizeof hello) || h->len != (uint32_t)n || h->flags != 0 ||
            fd >= 0) {
                status = NPIPE_EPROTO;
        } else {
                memcpy(&hello, pkt + sizeof *h, sizeof hello);
                if (h->version != NP_PROTO_VERSION || hello.magic != NP_PROTO_MAGIC32 ||
                    hello.version != NP_PROTO_VERSION)
                        status = NPIPE_EPROTO;
        }
        if (status == 0 && (c->flags & NP_CLIENT_REJECT))
                status = NPIPE_ELIMIT;
        rep.status = status;
        send_msg(b, c, NP_MSG_HELLO_REPLY, h->req_id, &rep, sizeof rep, NULL, 0, -1);
        /* after the reply: a discard may drop a client over its share */
        np_fd_discard(b, c, fd); /* reap.h: never closed blindly here */
        if (status == NPIPE_ELIMIT)
                b->ctr.processes_refused++;
        if (status != 0) {
                static struct np_ratelimit rl;

                np_log_limited(&rl, status == NPIPE_ELIMIT ? LOG_WARNING : LOG_NOTICE,
                               "client %llu (pid %ld): hello refused (%s)",
                               (unsigned long long)c->serial, (long)c->pid,
                               np_status_name(status));
                np_client_drain(b, c);
                return;
        }
        c->flags |= NP_CLIENT_HELLO;
        b->ctr.processes_total++;
}

/* Types a client may send, and whether they carry a descriptor. */
static int request_fd_rule(uint16_t type)
{
        switch (type) {
        case NP_MSG_CREATE:
        case NP_MSG_LISTEN:
        case NP_MSG_OPEN:
        case NP_MSG_OPEN_REMOTE:
                return 1;
        case NP_MSG_ADOPT:
                return 2; /* with a LISTENING server instance only (do_adopt) */
        case NP_MSG_WAIT:
        case NP_MSG_DISCONNECT:
        case NP_MSG_CLOSE_SERVER:
        case NP_MSG_CLOSE_CLIENT:
        case NP_MSG_QUERY:
        case NP_MSG_LIST:
        case NP_MSG_CANCEL:
        case NP_MSG_STATS:
        case NP_MSG_STATS_REPORT:
                return 0;
        default:
                return -1;
        }
}

void np_handle_packet(struct np_broker *b, struct np_client *c, const unsigned char *pkt, ssize_t n,
                      int fd)
{
        const unsigned char *body = pkt + sizeof(struct np_hdr);
        const char *name = NULL;
        uint32_t name_len = 0;
        struct np_hdr h;
        int r, rule;

        /* An oversized packet (n < 0) still left its first
         * NP_PROTO_MAX_PACKET bytes in pkt; anything shorter than a
         * header has no req_id to answer. */
        memset(&h, 0, sizeof h);
        if (n < 0 || (size_t)n >= sizeof h)
                memcpy(&h, pkt, sizeof h);

        if (!(c->flags & NP_CLIENT_HELLO)) {
                static struct np_ratelimit rl;

                if (n >= (ssize_t)sizeof h && h.type == NP_MSG_HELLO) {
                        do_hello(b, c, &h, pkt, n, fd);
                        return;
                }
                if (h.req_id != 0)
                        reply_status(b, c, h.req_id, NPIPE_EPROTO);
                np_fd_discard(b, c, fd);
                np_log_limited(&rl, LOG_NOTICE, "client %llu (pid %ld): no hello",
                               (unsigned long long)c->serial, (long)c->pid);
                np_client_drain(b, c);
                return;
        }

        r = n < 0 ? NPIPE_EPROTO : np_proto_check(pkt, (size_t)n, &name, &name_len);
        rule = request_fd_rule(h.type);
        if (r == 0 && rule < 0)
                r = NPIPE_EPROTO;
        if (r == 0 && rule != 2 && rule != (fd >= 0))
                r = NPIPE_EPROTO;
        if (r == 0 && h.req_id == 0)
                r = NPIPE_EPROTO;
        /* A descriptor the broker does not keep is closed here only if it
         * is a segment; anything else could block its last close (a
         * lingering TCP socket, a FUSE file) and goes to the reaper
         * (reap.h; issue 15).  The reply goes first, so that a client
         * dropped for it still reads it. */
        if (r < 0) {
                bad_packet(b, c, h.req_id, r, n < 0 ? "oversized packet" : "malformed packet");
                np_fd_discard(b, c, fd);
                return;
        }
        if (fd >= 0) {
                /* A segment must be a memfd sealed as the library seals
                 * it (np_fd_is_segment): a peer is never handed a socket,
                 * FIFO, device or writable file it could block on. */
                if (!np_fd_is_segment(fd)) {
                        bad_packet(b, c, h.req_id, NPIPE_EINVAL, "segment is not a sealed memfd");
                        np_fd_discard(b, c, fd);
                        return;
                }
                /* limits.h, NP_LIM_FD_RESERVE: never keep a descriptor
                 * that eats into the room recvmsg() needs. */
                if (fd >= b->fd_budget) {
                        close(fd); /* a segment: cannot block */
                        reply_status(b, c, h.req_id, NPIPE_ELIMIT);
                        return;
                }
        }

        /* Every name is checked once, here, by the rules the library
         * applies (src/core/name.c): strict UTF-8, no NUL, NAME-12.  A
         * raw client sending over-long forms such as C0 AF never gets one
         * into the namespace, a socket name or a log line. */
        if (name != NULL && (r = np_name_check(name, name_len)) < 0) {
                if (fd >= 0)
                        close(fd); /* a checked memfd (above) */
                bad_packet(b, c, h.req_id, r, "malformed pipe name");
                return;
        }

        b->ctr.requests_total++;
        b->quiet_req = (h.flags & NP_HDR_NO_REPLY) ? h.req_id : 0;
        b->quiet_client = c;
        switch (h.type) {
        case NP_MSG_CREATE:
                do_create(b, c, h.req_id, body, name, name_len, fd);
                break;
        case NP_MSG_LISTEN:
                do_listen(b, c, h.req_id, body, fd);
                break;
        case NP_MSG_OPEN:
                do_open(b, c, h.req_id, body, name, name_len, fd);
                break;
        case NP_MSG_OPEN_REMOTE:
                do_open_remote(b, c, h.req_id, body, name, name_len, fd);
                break;
        case NP_MSG_WAIT:
                do_wait(b, c, h.req_id, body, name, name_len);
                break;
        case NP_MSG_DISCONNECT:
                do_disconnect(b, c, h.req_id, body);
                break;
        case NP_MSG_CLOSE_SERVER:
                do_close_server(b, c, h.req_id, body);
                break;
        case NP_MSG_CLOSE_CLIENT:
                do_close_client(b, c, h.req_id, body);
                break;
        case NP_MSG_QUERY:
                do_query(b, c, h.req_id, body);
                break;
        case NP_MSG_LIST:
                do_list(b, c, h.req_id);
                break;
        case NP_MSG_CANCEL:
                do_cancel(b, c, h.req_id, body);
                break;
        case NP_MSG_ADOPT:
                do_adopt(b, c, h.req_id, body, name, name_len, fd);
                break;
        case NP_MSG_STATS:
                np_do_stats(b, c, h.req_id, body);
                break;
        case NP_MSG_STATS_REPORT:
                np_do_stats_report(b, c, body); /* never answered */
                break;
        }
        b->quiet_req = 0;
        b->quiet_client = NULL;
}

/* A process is gone (or was dropped).  Its waits vanish unanswered, its
 * client ends close as if it had closed them and its server ends as if it
 * had closed them, each peer being told NP_GONE_DIED (CLOSE-09). */
void np_client_gone(struct np_broker *b, struct np_client *c)
{
        while (!np_link_empty(&c->waits))
                wait_finish(b, np_container_of(c->waits.next, struct np_waiter, client_link), 0,
                            false);
        while (!np_link_empty(&c->lists))
                np_listjob_free(b, np_container_of(c->lists.next, struct np_listjob, link));
        while (!np_link_empty(&c->conns))
                conn_close(b, np_container_of(c->conns.next, struct np_conn, client_link),
                           NP_GONE_DIED, NULL);
        while (!np_link_empty(&c->instances))
                instance_close(b,
                               np_container_of(c->instances.next, struct np_instance, owner_link),
                               NP_GONE_DIED, NULL);
        /* last: a round this ends answers without c's pipes */
        np_stats_client_gone(b, c);
}
