/*
 * requests.c - the requests a client sends, and the one table that routes
 * them.
 *
 * This file owns the NT rules the broker enforces per request
 * (spec/semantics.md): which creations may join an existing name (INST,
 * with policy.c), which instance a client gets (OPEN, INST-09's listen
 * FIFO), when waiters are released (WAIT), and what each end is told when
 * the other disconnects or closes (DISC, CLOSE; state.c carries the
 * changes out).  Every packet arrives through np_handle_packet(), which
 * checks it against proto.c's table (np_proto_check: header, body size,
 * name) and this file's (`requests`: who handles it, which descriptor it
 * carries) before the handler runs; every reply carries the request's
 * req_id and every event req_id 0.  LIST is in list.c, ADOPT in adopt.c,
 * STATS in stats.c.
 *
 * Descriptor ownership is strict: a handler owns the descriptor that came
 * with its packet and either keeps it (a listening instance's server
 * segment), hands it to np_send() (which closes it once sent), or closes
 * it.  A descriptor is never silently lost: when a packet carrying one
 * cannot be sent, np_send() drops that client as if it had died.
 */
#include "broker/broker.h"
#include "core/ring_layout.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/limits.h"
#include "broker/reap.h"
#include "core/name.h"
#include "npipe/npipe.h"

/* WAIT-07: a pipe created with default timeout 0 waits 50 ms by default. */
#define NP_DEFAULT_WAIT_MS 50u

/* ---- server ends --------------------------------------------------------- */

static void req_create(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_create req;
        struct np_create_reply rep;
        struct np_instance *i;
        int status;

        memcpy(&req, r->body, sizeof req);
        status = NPIPE_EINVAL;
        if (np_params_valid(&req.params) && !(req.flags & ~NP_CREATE_FLAGS))
                status = np_instance_admit(b, c, r->name, r->name_len, &req.params, req.flags, 0,
                                           r->fd, &i);
        if (status < 0) {
                close(r->fd);
                np_reply_status(b, c, r->id, status);
                return;
        }
        np_set_state(i, NPIPE_STATE_LISTENING, r->fd); /* CREATE-10, STATE-01 */
        np_instance_set_flags(b, i, req.flags);

        memset(&rep, 0, sizeof rep);
        rep.status = 0;
        rep.remote = (uint32_t)i->pipe->remote_why;
        rep.instance_id = i->id;
        rep.params = np_instance_params(i);
        np_send_msg(b, c, NP_MSG_CREATE_REPLY, r->id, &rep, sizeof rep, NULL, 0, -1);
        np_wake_waiters(b, i->pipe, 0); /* WAIT-04 */
}

static struct np_instance *own_instance(struct np_broker *b, struct np_client *c,
                                        const unsigned char *body)
{
        struct np_instance_req req;
        struct np_instance *i;

        memcpy(&req, body, sizeof req);
        i = np_instance_find(b, req.instance_id);
        return i != NULL && i->owner == c ? i : NULL;
}

static void req_listen(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_instance *i = own_instance(b, c, r->body);
        int status = 0;

        if (i == NULL) {
                status = NPIPE_EBADF;
        } else {
                switch (i->state) {
                case NPIPE_STATE_DISCONNECTED:
                        status = np_limit_segment(b, c, r->fd);
                        if (status < 0)
                                break;
                        /* STATE-05, INST-09: back to the end of the FIFO */
                        np_set_state(i, NPIPE_STATE_LISTENING, r->fd);
                        np_reply_status(b, c, r->id, 0);
                        np_wake_waiters(b, i->pipe, 0); /* WAIT-04 */
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
        close(r->fd);
        np_reply_status(b, c, r->id, status);
}

/* The instance of c a DISCONNECT or CLOSE_SERVER names, with the final
 * counts the request carries (np_end_req) in *rep; NULL, answered
 * NPIPE_EBADF, when c owns no such instance. */
static struct np_instance *end_target(struct np_broker *b, struct np_client *c,
                                      const struct np_req *r, struct np_end_req *rep)
{
        struct np_instance *i = own_instance(b, c, r->body);

        if (i == NULL) {
                np_reply_status(b, c, r->id, NPIPE_EBADF);
                return NULL;
        }
        memcpy(rep, r->body, sizeof *rep);
        return i;
}

static void req_disconnect(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_end_req rep;
        struct np_instance *i = end_target(b, c, r, &rep);

        if (i == NULL)
                return;
        if (i->state == NPIPE_STATE_DISCONNECTED) { /* DISC-03 */
                np_reply_status(b, c, r->id, NPIPE_ENOTCONN);
                return;
        }
        /* DISC-01/04: the client is cut off; DISC-05: from CLOSING too;
         * DISC-08 (NPFS): a LISTENING instance drops its segment and
         * leaves the FIFO. */
        if (i->conn != NULL)
                np_conn_detach(b, i->conn, NPIPE_STATE_DISCONNECTED, NP_GONE_DISCONNECTED, &rep);
        np_instance_settle(b, i, &rep);
        np_inst_pend_clear(b, i);
        np_set_state(i, NPIPE_STATE_DISCONNECTED, -1);
        np_reply_status(b, c, r->id, 0);
}

static void req_close_server(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_end_req rep;
        struct np_instance *i = end_target(b, c, r, &rep);

        if (i == NULL)
                return;
        np_instance_close(b, i, NP_GONE_CLOSED, &rep); /* STATE-03, CLOSE-13, NAME-17 */
        np_reply_status(b, c, r->id, 0);
}

/* ---- client ends ---------------------------------------------------------- */

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

/* The checks of OPEN and OPEN_REMOTE (rid: the SMB user of the latter), in
 * the order of their statuses; counts the refusals.  Returns 0 with *out
 * the instance to connect to, or the status to answer.  req->access 0 from
 * the relay becomes what the pipe's direction allows. */
static int open_pick(struct np_broker *b, struct np_client *c, struct np_open *req,
                     const struct np_remote_id *rid, const struct np_req *r,
                     struct np_instance **out)
{
        struct np_pipe *p;

        if (req->access & ~(NP_ACCESS_READ | NP_ACCESS_WRITE))
                return NPIPE_EINVAL;
        if (np_limit_check(b, c, NP_LIMIT_CONNS, c->n_conns, b->n_conns, c->acct->conns) < 0)
                return NPIPE_ELIMIT;
        p = np_pipe_find(b, r->name, r->name_len);
        /* NAME-05.  A pipe the caller may not open is not there for it
         * either (a shared broker shows nobody another user's private
         * names; SEC-04 as documented in docs/reliability.md). */
        if (p == NULL || (rid == NULL && !np_allowed(p, c))) {
                b->ctr.opens_not_found++;
                return NPIPE_ENOENT;
        }
        if (rid != NULL && req->access == 0)
                req->access = (p->params.dir & NPIPE_INBOUND ? NP_ACCESS_WRITE : 0) |
                              (p->params.dir & NPIPE_OUTBOUND ? NP_ACCESS_READ : 0);
        /* SEC-04, OPEN-03: checked before an instance is taken.  A remote
         * user reaches only a pipe that has its socket now: the relay opens
         * by name, and the name may since belong to a pipe the policy
         * keeps local. */
        if ((rid != NULL && (p->remote_why != NP_REMOTE_EXPOSED || !np_allowed_remote(p, rid))) ||
            ((req->access & NP_ACCESS_WRITE) && !(p->params.dir & NPIPE_INBOUND)) ||
            ((req->access & NP_ACCESS_READ) && !(p->params.dir & NPIPE_OUTBOUND))) {
                b->ctr.opens_denied++;
                return NPIPE_EACCES;
        }
        *out = first_listener(p, rid != NULL); /* INST-09 */
        if (*out == NULL) {
                b->ctr.opens_busy++;
                return NPIPE_EBUSY; /* OPEN-02 */
        }
        return 0;
}

/* The client's ring must hold a whole write that fits the quota, or such a
 * write could not complete at once (QUOTA-02).  The client does not know
 * the quota before it opens: tell it (NPIPE_EBUFFER with the instance's
 * parameters), and it comes back with a larger ring (one more round trip,
 * large quotas only).  Returns true when it was told; fd is then closed. */
static bool ring_too_small(struct np_broker *b, struct np_client *c, const struct np_req *r,
                           const struct np_instance *i)
{
        struct np_pipe_params ip = np_instance_params(i);
        uint64_t need = 2ull * ip.in_quota + NP_SEG_HDR_SIZE;
        struct np_open_reply rep;
        struct stat st;

        if (need > (uint64_t)NP_RING_MAX + NP_SEG_HDR_SIZE)
                need = (uint64_t)NP_RING_MAX + NP_SEG_HDR_SIZE;
        if (fstat(r->fd, &st) != 0 || (uint64_t)st.st_size >= need)
                return false;
        memset(&rep, 0, sizeof rep);
        rep.status = NPIPE_EBUFFER;
        rep.params = ip;
        close(r->fd);
        np_send_msg(b, c, NP_MSG_OPEN_REPLY, r->id, &rep, sizeof rep, NULL, 0, -1);
        return true;
}

/* The server hears of its client (with the client's segment, r->fd), then
 * the client of its server (with the server's segment, sfd). */
static void open_announce(struct np_broker *b, struct np_client *c, const struct np_req *r,
                          const struct np_conn *conn, const struct np_remote_id *rid, int sfd)
{
        const struct np_instance *i = conn->inst;
        struct np_ev_connected_remote ev;
        struct np_open_reply rep;

        memset(&ev, 0, sizeof ev);
        ev.ev.instance_id = i->id;
        ev.ev.conn_id = conn->id;
        /* no process id crosses SMB: the relay's would mislead the server */
        ev.ev.client_pid = rid != NULL ? 0 : (uint32_t)c->pid;
        ev.ev.client_uid = (uint32_t)conn->uid;
        ev.ev.client_gid = (uint32_t)conn->gid;
        ev.ev.access = conn->access;
        if (rid != NULL) {
                ev.id = *rid;
                np_send_msg(b, i->owner, NP_MSG_EV_CONNECTED_REMOTE, 0, &ev, sizeof ev, NULL, 0,
                            r->fd);
        } else {
                np_send_msg(b, i->owner, NP_MSG_EV_CONNECTED, 0, &ev.ev, sizeof ev.ev, NULL, 0,
                            r->fd);
        }

        memset(&rep, 0, sizeof rep);
        rep.status = 0;
        rep.server_pid = (uint32_t)i->owner->pid;
        rep.instance_id = i->id;
        rep.conn_id = conn->id;
        rep.server_uid = (uint32_t)i->owner->uid;
        rep.server_gid = (uint32_t)i->owner->gid;
        rep.params = conn->params;
        np_send_msg(b, c, NP_MSG_OPEN_REPLY, r->id, &rep, sizeof rep, NULL, 0, sfd);
}

/* OPEN and OPEN_REMOTE: rid is the SMB user's identity for the latter. */
static void open_common(struct np_broker *b, struct np_client *c, const struct np_req *r,
                        struct np_open req, const struct np_remote_id *rid)
{
        struct np_remote_id *keep = NULL;
        struct np_instance *i;
        struct np_conn *conn;
        int status, sfd;

        status = open_pick(b, c, &req, rid, r, &i);
        if (status == 0 && ring_too_small(b, c, r, i))
                return;
        if (status == 0 && rid != NULL) {
                keep = malloc(sizeof *keep);
                if (keep == NULL)
                        status = NPIPE_ENOMEM;
                else
                        *keep = *rid;
        }
        conn = status == 0 ? calloc(1, sizeof *conn) : NULL;
        if (conn == NULL) {
                free(keep);
                close(r->fd);
                np_reply_status(b, c, r->id, status < 0 ? status : NPIPE_ENOMEM);
                return;
        }

        /* INST-09: the instance that has been listening longest (i above). */
        sfd = np_inst_take_fd(i);
        np_set_state(i, NPIPE_STATE_CONNECTED, -1); /* OPEN-07, STATE-02 */
        i->conn = conn;
        np_stats_attach(b, i);
        b->ctr.connections_total++;
        i->pipe->connections++;

        np_conn_add(b, c, conn, ++b->next_id, i->pipe);
        conn->inst = i;
        conn->instance_id = i->id;
        conn->params = np_instance_params(i);
        if (rid != NULL) {
                conn->uid = rid->uid;
                conn->gid = rid->gid;
        }
        conn->access = req.access;
        conn->remote = keep;
        open_announce(b, c, r, conn, rid, sfd);
}

static void req_open(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_open req;

        memcpy(&req, r->body, sizeof req);
        open_common(b, c, r, req, NULL);
}

/* Only the broker's own SMB relay (remote.c) may speak for a remote user:
 * any other process sending this is refused as if the type were unknown. */
static void req_open_remote(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_open_remote req;

        if (c->pid != b->self_pid) {
                close(r->fd);
                np_bad_packet(b, c, r->id, NPIPE_EPROTO, "remote open from another process");
                return;
        }
        memcpy(&req, r->body, sizeof req);
        open_common(b, c, r, req.open, &req.id);
}

static void req_close_client(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_end_req req;
        struct np_conn *conn;

        memcpy(&req, r->body, sizeof req);
        conn = np_conn_find(b, req.id);
        if (conn == NULL || conn->client != c) {
                np_reply_status(b, c, r->id, NPIPE_EBADF);
                return;
        }
        np_conn_close(b, conn, NP_GONE_CLOSED, &req); /* CLOSE-02, CLOSE-12 */
        np_reply_status(b, c, r->id, 0);
}

/* ---- waits and queries --------------------------------------------------- */

static void req_wait(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_wait req;
        struct np_waiter *w;
        struct np_pipe *p;
        uint32_t ms;

        memcpy(&req, r->body, sizeof req);
        b->ctr.waits_total++;
        p = np_pipe_find(b, r->name, r->name_len);
        if (p == NULL || !np_allowed(p, c)) { /* WAIT-01; a pipe it may not open is none */
                np_reply_status(b, c, r->id, NPIPE_ENOENT);
                return;
        }
        if (p->n_listening > 0) { /* WAIT-02 */
                np_reply_status(b, c, r->id, 0);
                return;
        }
        if (np_limit_check(b, c, NP_LIMIT_WAITS, c->n_waits, b->n_waits, c->acct->waits) < 0) {
                np_reply_status(b, c, r->id, NPIPE_ELIMIT);
                return;
        }
        w = calloc(1, sizeof *w);
        if (w == NULL) {
                np_reply_status(b, c, r->id, NPIPE_ENOMEM);
                return;
        }
        w->pipe = p;
        w->client = c;
        w->req_id = r->id;
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
                        np_reply_status(b, c, r->id, NPIPE_ENOMEM);
                        return;
                }
        }
        np_link_add_tail(&p->waits, &w->pipe_link);
        np_link_add_tail(&c->waits, &w->client_link);
        c->n_waits++;
        c->acct->waits++;
        b->n_waits++;
}

static void req_cancel(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_cancel req;

        memcpy(&req, r->body, sizeof req);
        if (req.reserved != 0) {
                np_reply_status(b, c, r->id, NPIPE_EINVAL);
                return;
        }
        for (struct np_link *l = c->waits.next; l != &c->waits; l = l->next) {
                struct np_waiter *w = np_container_of(l, struct np_waiter, client_link);

                if (w->req_id == req.target_req_id) { /* WAIT-10 */
                        np_wait_finish(b, w, NPIPE_ECANCELED, true);
                        np_reply_status(b, c, r->id, 0);
                        return;
                }
        }
        np_reply_status(b, c, r->id, NPIPE_ENOTFOUND);
}

static void req_query(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_instance_req req;
        struct np_query_reply rep;
        struct np_instance *i;
        struct np_conn *conn;

        memcpy(&req, r->body, sizeof req);
        memset(&rep, 0, sizeof rep);
        i = np_instance_find(b, req.instance_id);
        if (i != NULL && i->owner == c) {
                rep.cur_instances = (uint32_t)i->pipe->n_instances; /* INST-10 */
                rep.state = i->state;
                /* an adopted instance still waiting for its client end
                 * names the client it expects */
                rep.client_pid = i->conn != NULL ? (uint32_t)i->conn->pid : (uint32_t)i->pend_pid;
                rep.params = np_instance_params(i);
        } else if ((conn = np_conn_find(b, req.instance_id)) != NULL && conn->client == c) {
                /* STATE-08: a pipe whose name is gone has 0 instances. */
                rep.cur_instances = conn->pipe->dead ? 0 : (uint32_t)conn->pipe->n_instances;
                if (conn->inst != NULL) {
                        rep.state = conn->inst->state;
                        rep.params = np_instance_params(conn->inst);
                } else {
                        rep.state = conn->detached_state; /* STATE-03, STATE-04 */
                        rep.params = conn->params;
                }
                rep.client_pid = (uint32_t)conn->pid;
        } else {
                np_reply_status(b, c, r->id, NPIPE_EBADF);
                return;
        }
        np_send_msg(b, c, NP_MSG_QUERY_REPLY, r->id, &rep, sizeof rep, NULL, 0, -1);
}

/* ---- dispatch -------------------------------------------------------------- */

/* Which descriptor a request carries (SCM_RIGHTS), checked before its
 * handler runs. */
enum np_fd_rule {
        NP_FD_NONE = 0, /* none */
        NP_FD_ONE,      /* exactly one segment */
        NP_FD_HANDLER,  /* the handler decides (ADOPT: a LISTENING server only) */
};

/*
 * One row a request type a client may send: what the broker does with it.
 * What the packet looks like (its body size, whether a name follows) is
 * proto.c's table, which np_proto_check applies first and which the
 * library uses too; this table adds only what is the broker's.  A type
 * without a row here (replies, events, unknown numbers) is a protocol
 * error; np_requests_check() makes sure every request type proto.c knows
 * has one.
 */
struct np_request_row {
        const char *name; /* for log lines */
        np_req_fn *fn;    /* NULL: not after the handshake (HELLO: np_handle_packet) */
        enum np_fd_rule fd;
};

static const struct np_request_row requests[] = {
    [NP_MSG_HELLO] = {"HELLO", NULL, NP_FD_NONE},
    [NP_MSG_CREATE] = {"CREATE", req_create, NP_FD_ONE},
    [NP_MSG_LISTEN] = {"LISTEN", req_listen, NP_FD_ONE},
    [NP_MSG_OPEN] = {"OPEN", req_open, NP_FD_ONE},
    [NP_MSG_WAIT] = {"WAIT", req_wait, NP_FD_NONE},
    [NP_MSG_DISCONNECT] = {"DISCONNECT", req_disconnect, NP_FD_NONE},
    [NP_MSG_CLOSE_SERVER] = {"CLOSE_SERVER", req_close_server, NP_FD_NONE},
    [NP_MSG_CLOSE_CLIENT] = {"CLOSE_CLIENT", req_close_client, NP_FD_NONE},
    [NP_MSG_QUERY] = {"QUERY", req_query, NP_FD_NONE},
    [NP_MSG_LIST] = {"LIST", np_req_list, NP_FD_NONE},
    [NP_MSG_CANCEL] = {"CANCEL", req_cancel, NP_FD_NONE},
    [NP_MSG_ADOPT] = {"ADOPT", np_req_adopt, NP_FD_HANDLER},
    [NP_MSG_STATS] = {"STATS", np_req_stats, NP_FD_NONE},
    [NP_MSG_OPEN_REMOTE] = {"OPEN_REMOTE", req_open_remote, NP_FD_ONE},
    [NP_MSG_STATS_REPORT] = {"STATS_REPORT", np_req_stats_report, NP_FD_NONE}, /* unanswered */
};
#define NP_N_REQUESTS (sizeof requests / sizeof requests[0])
/* Requests are the types below the first reply (proto.h). */
_Static_assert(NP_N_REQUESTS <= NP_MSG_REPLY, "a request row beyond the request types");

static const struct np_request_row *request_row(uint16_t type)
{
        if (type >= NP_N_REQUESTS || requests[type].name == NULL)
                return NULL;
        return &requests[type];
}

int np_requests_check(void)
{
        int bad = 0;

        for (unsigned t = 0; t < NP_MSG_REPLY; t++) {
                bool known = np_proto_body_size((uint16_t)t) >= 0;

                if (known != (request_row((uint16_t)t) != NULL)) {
                        np_log(LOG_ERR, "request type %u: %s", t,
                               known ? "no dispatch row" : "a dispatch row but no body size");
                        bad = -1;
                }
        }
        return bad;
}

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
        if (status == 0 && (c->flags & NP_CLIENT_REJECT)) {
                status = NPIPE_ELIMIT;
                rep.detail = c->reject_detail; /* logged when it was accepted */
        }
        rep.status = status;
        np_send_msg(b, c, NP_MSG_HELLO_REPLY, h->req_id, &rep, sizeof rep, NULL, 0, -1);
        /* after the reply: a discard may drop a client over its share */
        np_fd_discard(b, c, fd); /* reap.h: never closed blindly here */
        if (status == NPIPE_ELIMIT)
                b->ctr.processes_refused++;
        if (status != 0) {
                static struct np_ratelimit rl;

                np_log_limited(&rl, status == NPIPE_ELIMIT ? LOG_WARNING : LOG_NOTICE,
                               "client %llu (pid %ld): hello refused (%s)",
                               (unsigned long long)c->serial, (long)c->pid, npipe_err_name(status));
                np_client_drain(b, c);
                return;
        }
        c->flags |= NP_CLIENT_HELLO;
        b->ctr.processes_total++;
}

/* Before the handshake only HELLO is read; anything else ends the session. */
static void before_hello(struct np_broker *b, struct np_client *c, const struct np_hdr *h,
                         const unsigned char *pkt, ssize_t n, int fd)
{
        static struct np_ratelimit rl;

        if (n >= (ssize_t)sizeof *h && h->type == NP_MSG_HELLO) {
                do_hello(b, c, h, pkt, n, fd);
                return;
        }
        if (h->req_id != 0)
                np_reply_status(b, c, h->req_id, NPIPE_EPROTO);
        np_fd_discard(b, c, fd);
        np_log_limited(&rl, LOG_NOTICE, "client %llu (pid %ld): no hello",
                       (unsigned long long)c->serial, (long)c->pid);
        np_client_drain(b, c);
}

/* Check a packet after the handshake: the wire (proto.c), its row here,
 * the descriptor it carries and the name.  Returns the row with *r filled
 * in, or NULL when the packet was refused (answered, fd disposed of). */
static const struct np_request_row *packet_check(struct np_broker *b, struct np_client *c,
                                                 const struct np_hdr *h, const unsigned char *pkt,
                                                 ssize_t n, struct np_req *r)
{
        const struct np_request_row *row = request_row(h->type);
        int fd = r->fd, st;

        st = n < 0 ? NPIPE_EPROTO : np_proto_check(pkt, (size_t)n, &r->name, &r->name_len);
        if (st == 0 && (row == NULL || row->fn == NULL || h->req_id == 0 ||
                        (row->fd != NP_FD_HANDLER && (row->fd == NP_FD_ONE) != (fd >= 0))))
                st = NPIPE_EPROTO;
        /* A descriptor the broker does not keep is closed here only if it
         * is a segment; anything else could block its last close (a
         * lingering TCP socket, a FUSE file) and goes to the reaper
         * (reap.h; issue 15).  The reply goes first, so that a client
         * dropped for it still reads it. */
        if (st < 0) {
                np_bad_packet(b, c, h->req_id, st, n < 0 ? "oversized packet" : "malformed packet");
                np_fd_discard(b, c, fd);
                return NULL;
        }
        if (fd >= 0) {
                /* A segment must be a memfd sealed as the library seals
                 * it (np_fd_is_segment): a peer is never handed a socket,
                 * FIFO, device or writable file it could block on. */
                if (!np_fd_is_segment(fd)) {
                        np_bad_packet(b, c, h->req_id, NPIPE_EINVAL,
                                      "segment is not a sealed memfd");
                        np_fd_discard(b, c, fd);
                        return NULL;
                }
                /* limits.h, NP_LIM_FD_RESERVE: never keep a descriptor
                 * that eats into the room recvmsg() needs. */
                if (fd >= b->fd_budget) {
                        close(fd); /* a segment: cannot block */
                        np_reply_status(b, c, h->req_id,
                                        np_limit_hit(b, c->pid, c->acct,
                                                     NP_LIMIT_FDS | NP_LIMIT_BROKER));
                        return NULL;
                }
        }
        /* Every name is checked once, here, by the rules the library
         * applies (src/core/name.c): strict UTF-8, no NUL, NAME-12.  A
         * raw client sending over-long forms such as C0 AF never gets one
         * into the namespace, a socket name or a log line. */
        if (r->name != NULL && (st = np_name_check(r->name, r->name_len)) < 0) {
                if (fd >= 0)
                        close(fd); /* a checked memfd (above) */
                np_bad_packet(b, c, h->req_id, st, "malformed pipe name");
                return NULL;
        }
        return row;
}

void np_handle_packet(struct np_broker *b, struct np_client *c, const unsigned char *pkt, ssize_t n,
                      int fd)
{
        const struct np_request_row *row;
        struct np_hdr h;
        struct np_req r;

        /* An oversized packet (n < 0) still left its first
         * NP_PROTO_MAX_PACKET bytes in pkt; anything shorter than a
         * header has no req_id to answer. */
        memset(&h, 0, sizeof h);
        if (n < 0 || (size_t)n >= sizeof h)
                memcpy(&h, pkt, sizeof h);
        if (!(c->flags & NP_CLIENT_HELLO)) {
                before_hello(b, c, &h, pkt, n, fd);
                return;
        }
        memset(&r, 0, sizeof r);
        r.id = h.req_id;
        r.type = h.type;
        r.body = pkt + sizeof h;
        r.fd = fd;
        row = packet_check(b, c, &h, pkt, n, &r);
        if (row == NULL)
                return;

        b->ctr.requests_total++;
        b->quiet_req = (h.flags & NP_HDR_NO_REPLY) ? h.req_id : 0;
        b->quiet_client = c;
        row->fn(b, c, &r);
        b->limit_detail = 0;
        b->quiet_req = 0;
        b->quiet_client = NULL;
}
