/*
 * state.c - the namespace's objects and their lifecycle.
 *
 * Pipes, instances, client ends (conns) and waits: how they are made
 * (admission of a new instance: the limits of limits.h, charged to the
 * uid's record in acct.c), found, moved from state to state and freed, and
 * the traffic of the connections that end.  The requests that drive these
 * changes are in requests.c (and adopt.c, list.c); the rules of who may
 * make them are in policy.c.
 *
 * Every state change that the other end of a connection must hear of is
 * sent from here (np_send_peer_gone), so that no handler can change an
 * instance's state without the peer being told.
 */
#include "broker/broker.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker/limits.h"
#include "core/name.h"
#include "npipe/npipe.h"

/* ---- finding ---------------------------------------------------------------- */

struct np_instance *np_instance_find(struct np_broker *b, uint64_t id)
{
        uint64_t h = np_hash_u64(id);

        for (struct np_hnode *n = np_htab_bucket(&b->instances, h); n != NULL; n = n->next) {
                struct np_instance *i = np_container_of(n, struct np_instance, hnode);

                if (i->id == id)
                        return i;
        }
        return NULL;
}

struct np_conn *np_conn_find(struct np_broker *b, uint64_t id)
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

/* ---- state changes --------------------------------------------------------- */

/* The pipe-wide values (first instance's) with this instance's quotas. */
struct np_pipe_params np_instance_params(const struct np_instance *i)
{
        struct np_pipe_params p = i->pipe->params;

        p.in_quota = i->in_quota;
        p.out_quota = i->out_quota;
        return p;
}
/* An instance's creation flags; the pipe counts the instances that take
 * remote clients, and has its SMB socket while there is one (remote.c). */
void np_instance_set_flags(struct np_broker *b, struct np_instance *i, uint32_t flags)
{
        i->cflags = flags;
        if (!(flags & NP_CREATE_REJECT_REMOTE) && i->pipe->n_remote_ok++ == 0)
                np_remote_expose(b, i->pipe);
}

/* The segment a LISTENING instance holds, handed on (or closed) by the
 * caller: the owner's descriptor count follows it. */
int np_inst_take_fd(struct np_instance *i)
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
void np_set_state(struct np_instance *i, uint32_t state, int fd)
{
        struct np_pipe *p = i->pipe;

        if (i->state == NPIPE_STATE_LISTENING) {
                np_link_del(&i->listen_link);
                p->n_listening--;
                if (i->fd >= 0)
                        close(np_inst_take_fd(i));
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

void np_wait_finish(struct np_broker *b, struct np_waiter *w, int status, bool reply)
{
        np_link_del(&w->pipe_link);
        np_link_del(&w->client_link);
        np_timer_del(b, w);
        w->client->n_waits--;
        w->client->acct->waits--;
        b->n_waits--;
        if (reply)
                np_reply_status(b, w->client, w->req_id, status);
        free(w);
}

/* WAIT-04/05: every waiter of the name is answered at once. */
void np_wake_waiters(struct np_broker *b, struct np_pipe *p, int status)
{
        while (!np_link_empty(&p->waits))
                np_wait_finish(b, np_container_of(p->waits.next, struct np_waiter, pipe_link),
                               status, true);
}

void np_wait_expired(struct np_broker *b, struct np_waiter *w)
{
        b->ctr.waits_timed_out++;
        np_wait_finish(b, w, NPIPE_ETIMEDOUT, true);
}

static void pipe_free(struct np_pipe *p)
{
        free(p->key);
        free(p->display);
        free(p);
}

void np_pipe_unref(struct np_pipe *p)
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
void np_pipe_maybe_remove(struct np_broker *b, struct np_pipe *p)
{
        if (p->n_instances > 0)
                return;
        np_remote_unexpose(b, p);
        np_wake_waiters(b, p, NPIPE_ENOENT);
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
struct np_pipe *np_pipe_alloc(const char *name, uint32_t len, const struct np_pipe_params *params)
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
struct np_pipe *np_pipe_new(struct np_broker *b, const char *name, uint32_t len,
                            const struct np_pipe_params *params, struct np_client *c,
                            uint32_t flags)
{
        struct np_pipe *p = np_pipe_alloc(name, len, params);

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

static void conn_free(struct np_broker *b, struct np_conn *conn)
{
        np_conn_pend_clear(b, conn);
        np_htab_remove(&b->conns, &conn->hnode);
        np_link_del(&conn->client_link);
        conn->client->n_conns--;
        conn->client->acct->conns--;
        b->n_conns--;
        np_pipe_unref(conn->pipe);
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

/* Counts come from clients' memory: a lying client may inflate them but
 * never wrap them around. */
static void add_sat(uint64_t *to, uint64_t v)
{
        *to = *to + v < *to ? UINT64_MAX : *to + v;
}

void np_traffic_add(struct np_traffic *to, const struct np_traffic *t)
{
        add_sat(&to->c2s_bytes, t->c2s_bytes);
        add_sat(&to->c2s_msgs, t->c2s_msgs);
        add_sat(&to->s2c_bytes, t->s2c_bytes);
        add_sat(&to->s2c_msgs, t->s2c_msgs);
}

void np_traffic_fold(struct np_broker *b, struct np_pipe *p, const struct np_traffic *t)
{
        np_traffic_add(&p->ended, t);
        np_traffic_add(&b->ctr.traffic, t);
}

static bool report_names(const struct np_end_req *rep, uint64_t conn_id)
{
        return rep != NULL && conn_id != 0 && rep->conn_id == conn_id;
}

/* A server end that owed the counts of a connection whose client is gone
 * leaves now (DISCONNECT, close, death). */
void np_instance_settle(struct np_broker *b, struct np_instance *i, const struct np_end_req *rep)
{
        if (i->owed_conn == 0)
                return;
        np_traffic_fold(b, i->pipe, report_names(rep, i->owed_conn) ? &rep->traffic : &i->live);
        i->owed_conn = 0;
}

/* The server side left the connection (DISCONNECT, server close, server
 * death): the client keeps its conn record and hears why. */
void np_conn_detach(struct np_broker *b, struct np_conn *conn, uint32_t state, uint32_t reason,
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
        np_send_peer_gone(b, conn->client, i->id, conn->id, reason, 0);
}

/* The client end is closed (CLOSE_CLIENT, client death).  A still attached
 * instance goes CLOSING (its server must disconnect before reuse,
 * CLOSE-12) and the server hears why; WAIT-06: that releases no waiter. */
void np_conn_close(struct np_broker *b, struct np_conn *conn, uint32_t reason,
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
                np_set_state(i, NPIPE_STATE_CLOSING, -1);
                np_send_peer_gone(b, i->owner, i->id, conn->id, reason, 1);
        } else if (conn->owed) {
                np_traffic_fold(b, conn->pipe,
                                report_names(rep, conn->id) ? &rep->traffic : &conn->known);
        }
        conn_free(b, conn);
}

/* The server end is closed (CLOSE_SERVER, server death: rep NULL). */
void np_instance_close(struct np_broker *b, struct np_instance *i, uint32_t reason,
                       const struct np_end_req *rep)
{
        struct np_pipe *p = i->pipe;

        if (i->conn != NULL)
                np_conn_detach(b, i->conn, NPIPE_STATE_CLOSING, reason, rep);
        np_instance_settle(b, i, rep);
        np_inst_pend_clear(b, i);
        np_set_state(i, NPIPE_STATE_CLOSING, -1);
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
        np_pipe_maybe_remove(b, p);
}

bool np_params_valid(const struct np_pipe_params *p)
{
        return p->type <= NPIPE_TYPE_MESSAGE && p->dir >= NPIPE_INBOUND && p->dir <= NPIPE_DUPLEX &&
               p->max_instances <= NPIPE_MAX_INSTANCES_LIMIT && p->policy <= NPIPE_ACCESS_EVERYONE;
}

/* A new instance of p owned by c, DISCONNECTED (callers set the state).
 * INST-04: type, limit, quotas and timeout may differ; the pipe keeps the
 * first instance's and this one its own quotas. */
struct np_instance *np_instance_new(struct np_broker *b, struct np_client *c, struct np_pipe *p,
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

/* Register conn (zeroed, not yet in any table) as a client end of c on p
 * with that id: the caller fills in the rest (instance, parameters). */
void np_conn_add(struct np_broker *b, struct np_client *c, struct np_conn *conn, uint64_t id,
                 struct np_pipe *p)
{
        conn->id = id;
        conn->pipe = p;
        p->refs++;
        conn->client = c;
        conn->pid = c->pid;
        conn->uid = c->uid;
        conn->gid = c->gid;
        np_link_add_tail(&c->conns, &conn->client_link);
        c->n_conns++;
        c->acct->conns++;
        b->n_conns++;
        np_htab_insert(&b->conns, &conn->hnode, np_hash_u64(conn->id));
}

/* ---- admission ------------------------------------------------------------ */

/*
 * A new DISCONNECTED instance of `name` for c (CREATE, or ADOPT of a
 * server instance: adopt_id is then the id it had, else 0 for a fresh
 * one), joining the pipe of that name or creating it.  fd: the segment it
 * will hold as a LISTENING instance (-1: none).  Returns 0 with *out set,
 * or the status to answer; the caller sets the state and the creation
 * flags.
 */
int np_instance_admit(struct np_broker *b, struct np_client *c, const char *name, uint32_t len,
                      const struct np_pipe_params *params, uint32_t flags, uint64_t adopt_id,
                      int fd, struct np_instance **out)
{
        struct np_instance *i;
        struct np_pipe *p;
        int status;

        if (np_limit_check(b, c, NP_LIMIT_INSTANCES, c->n_instances, b->n_instances,
                           c->acct->instances) < 0)
                return NPIPE_ELIMIT;
        if (fd >= 0 && np_limit_segment(b, c, fd) < 0)
                return NPIPE_ELIMIT;
        p = np_pipe_find(b, name, len);
        if (p != NULL) {
                status = np_join_check(p, c, params, flags, adopt_id != 0);
                if (status < 0)
                        return status;
        } else {
                if (np_limit_check(b, c, NP_LIMIT_PIPES, 0, b->n_pipes, c->acct->pipes) < 0)
                        return NPIPE_ELIMIT;
                p = np_pipe_new(b, name, len, params, c, flags);
                if (p == NULL)
                        return NPIPE_ENOMEM;
        }
        i = np_instance_new(b, c, p, params, adopt_id != 0 ? adopt_id : ++b->next_id);
        if (i == NULL) {
                np_pipe_maybe_remove(b, p);
                return NPIPE_ENOMEM;
        }
        *out = i;
        return 0;
}
