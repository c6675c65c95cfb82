/*
 * adopt.c - live ends re-registered after a broker restart.
 *
 * After a broker restart every process re-registers (proto.h, NP_MSG_ADOPT)
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
#include "broker/broker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/limits.h"
#include "npipe/npipe.h"

/* Is pid, the peer a waiting half names, gone?  Returns 1 when it has
 * exited (or is a zombie), 0 when it lives.  The waiting half (inst, or
 * else conn) then watches it through a pidfd when one can be set up;
 * without one its death goes unnoticed. */
static int peer_dead(struct np_broker *b, pid_t pid, struct np_instance *inst, struct np_conn *conn)
{
        struct np_pidwatch *w;
        struct pollfd pfd;
        int fd;

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
        w->inst = inst;
        w->conn = conn;
        if (inst != NULL)
                inst->pend_watch = w;
        else
                conn->pend_watch = w;
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
        np_inst_pend_clear(b, i);
        np_conn_pend_clear(b, conn);
        if (conn->pipe != i->pipe) {
                /* the client half came first, under a placeholder pipe */
                i->pipe->refs++;
                np_pipe_unref(conn->pipe);
                conn->pipe = i->pipe;
        }
        i->conn = conn;
        conn->inst = i;
        conn->detached_state = 0;
        conn->params = np_instance_params(i);
        np_stats_attach(b, i);
        np_log(LOG_DEBUG, "adopt: connection %llu linked", (unsigned long long)conn->id);
}

/* The peer a waiting half named has exited (or was found dead at once):
 * tell the waiting end as the old broker would have (CLOSE-09). */
static void inst_peer_died(struct np_broker *b, struct np_instance *i)
{
        uint64_t conn_id = i->pend_conn;

        np_inst_pend_clear(b, i);
        if (i->state == NPIPE_STATE_CONNECTED)
                np_set_state(i, NPIPE_STATE_CLOSING, -1);
        i->owed_conn = conn_id; /* its traffic: the survivor's to report */
        np_send_peer_gone(b, i->owner, i->id, conn_id, NP_GONE_DIED, 1);
}

static void conn_peer_died(struct np_broker *b, struct np_conn *conn)
{
        np_conn_pend_clear(b, conn);
        conn->detached_state = NPIPE_STATE_CLOSING;
        conn->owed = true;
        np_send_peer_gone(b, conn->client, conn->instance_id, conn->id, NP_GONE_DIED, 0);
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
        return np_instance_find(b, id) != NULL || np_conn_find(b, id) != NULL;
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
        struct np_pipe *p = np_pipe_alloc(name, len, params);

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
        np_send_msg(b, c, NP_MSG_CREATE_REPLY, req_id, &rep, sizeof rep, NULL, 0, -1);
}

/* The checks of a server half before anything is made: its fields, and
 * ids that name nothing live.  *conn: the waiting client half it names. */
static int server_check(struct np_broker *b, const struct np_adopt *req, uint64_t conn_id,
                        struct np_conn **conn)
{
        *conn = NULL;
        if (!np_params_valid(&req->params) || (req->flags & ~NP_CREATE_FLAGS) || req->access != 0 ||
            req->instance_id == 0 || req->state < NPIPE_STATE_DISCONNECTED ||
            req->state > NPIPE_STATE_CLOSING)
                return NPIPE_EINVAL;
        /* A CONNECTED instance names its client; a CLOSING one may (its
         * client end may still be open and must hear of the server's end). */
        if ((req->state == NPIPE_STATE_CONNECTED && conn_id == 0) ||
            (conn_id != 0 && (req->peer_pid == 0 || conn_id == req->instance_id)))
                return NPIPE_EINVAL;
        /* an id that names something live */
        if (id_in_use(b, req->instance_id) ||
            (conn_id != 0 && np_instance_find(b, conn_id) != NULL))
                return NPIPE_EBUSY;
        *conn = conn_id != 0 ? np_conn_find(b, conn_id) : NULL;
        if (*conn != NULL && !(*conn)->pending)
                return NPIPE_EBUSY;
        return 0;
}

/* A server half attached to conn_id: link it to its client half if that
 * one is here, else wait for it, watching the client's process. */
static void server_pend(struct np_broker *b, struct np_instance *i, struct np_conn *conn,
                        uint64_t conn_id, pid_t peer)
{
        i->pend_conn = conn_id;
        i->pend_pid = peer;
        if (conn != NULL && halves_match(i, conn))
                halves_link(b, i, conn);
        else if (peer_dead(b, i->pend_pid, i, NULL))
                inst_peer_died(b, i); /* the event precedes the reply */
}

static void adopt_server(struct np_broker *b, struct np_client *c, const struct np_req *r,
                         const struct np_adopt *req)
{
        bool attached = req->state == NPIPE_STATE_CONNECTED || req->state == NPIPE_STATE_CLOSING;
        uint64_t conn_id = attached ? req->conn_id : 0;
        struct np_pipe_params params;
        struct np_instance *i;
        struct np_conn *conn;
        int status;

        status = server_check(b, req, conn_id, &conn);
        /* The same admission as NP_MSG_CREATE, but for INST-06: the
         * instance existed before the restart. */
        if (status == 0)
                status = np_instance_admit(b, c, r->name, r->name_len, &req->params, req->flags,
                                           req->instance_id, r->fd, &i);
        if (status < 0) {
                if (r->fd >= 0)
                        close(r->fd);
                np_reply_status(b, c, r->id, status);
                return;
        }
        np_instance_set_flags(b, i, req->flags);
        raise_ids(b, req->instance_id);
        raise_ids(b, conn_id);
        params = np_instance_params(i);
        if (req->state == NPIPE_STATE_LISTENING) {
                np_set_state(i, NPIPE_STATE_LISTENING, r->fd); /* at the end of the FIFO */
                adopt_reply(b, c, r->id, i->id, &params);
                np_wake_waiters(b, i->pipe, 0); /* WAIT-04 */
                return;
        }
        if (r->fd >= 0)
                close(r->fd);
        if (attached)
                np_set_state(i, req->state, -1);
        if (conn_id != 0)
                server_pend(b, i, conn, conn_id, (pid_t)req->peer_pid);
        adopt_reply(b, c, r->id, i->id, &params);
}

/* The checks of a client half, in the order of their statuses; *inst: the
 * server instance it names, if that one is here. */
static int client_check(struct np_broker *b, struct np_client *c, const struct np_adopt *req,
                        struct np_instance **inst)
{
        struct np_instance *i;

        *inst = NULL;
        if (!np_params_valid(&req->params) || req->state != NPIPE_STATE_CONNECTED ||
            req->flags != 0 || (req->access & ~(NP_ACCESS_READ | NP_ACCESS_WRITE)) ||
            req->conn_id == 0 || req->instance_id == 0 || req->conn_id == req->instance_id ||
            req->peer_pid == 0)
                return NPIPE_EINVAL;
        if (id_in_use(b, req->conn_id))
                return NPIPE_EBUSY;
        /* A server half waits for this very conn: only the process it
         * names may claim it (no squatting on a known connection). */
        i = np_instance_find(b, req->instance_id);
        if (i != NULL && i->pend_conn == req->conn_id &&
            (i->pend_pid != c->pid || i->owner->pid != (pid_t)req->peer_pid))
                return NPIPE_EACCES;
        if (np_limit_check(b, c, NP_LIMIT_CONNS, c->n_conns, b->n_conns, c->acct->conns) < 0)
                return NPIPE_ELIMIT;
        *inst = i;
        return 0;
}

static void adopt_client(struct np_broker *b, struct np_client *c, const struct np_req *r,
                         const struct np_adopt *req)
{
        struct np_pipe_params params;
        struct np_instance *i;
        struct np_conn *conn = NULL;
        struct np_pipe *p;
        int status;

        status = client_check(b, c, req, &i);
        if (status == 0) {
                status = NPIPE_ENOMEM;
                conn = calloc(1, sizeof *conn);
        }
        if (conn == NULL) {
                np_reply_status(b, c, r->id, status);
                return;
        }
        p = np_pipe_find(b, r->name, r->name_len);
        if (p == NULL && (p = pipe_placeholder(r->name, r->name_len, &req->params)) == NULL) {
                free(conn);
                np_reply_status(b, c, r->id, NPIPE_ENOMEM);
                return;
        }
        np_conn_add(b, c, conn, req->conn_id, p);
        conn->instance_id = req->instance_id;
        conn->params = req->params;
        conn->detached_state = NPIPE_STATE_CONNECTED;
        conn->access = req->access;
        conn->pending = true;
        conn->pend_pid = (pid_t)req->peer_pid;
        raise_ids(b, req->conn_id);
        raise_ids(b, req->instance_id);

        if (i != NULL && halves_match(i, conn))
                halves_link(b, i, conn);
        else if (peer_dead(b, conn->pend_pid, NULL, conn))
                conn_peer_died(b, conn); /* the event precedes the reply */
        params = conn->inst != NULL ? np_instance_params(conn->inst) : conn->params;
        adopt_reply(b, c, r->id, req->instance_id, &params);
}

void np_req_adopt(struct np_broker *b, struct np_client *c, const struct np_req *r)
{
        struct np_adopt req;

        memcpy(&req, r->body, sizeof req);
        /* Descriptor rules: a segment with a LISTENING server instance,
         * nothing otherwise. */
        if ((req.role == NP_ADOPT_SERVER && req.state == NPIPE_STATE_LISTENING) != (r->fd >= 0)) {
                if (r->fd >= 0)
                        close(r->fd);
                np_bad_packet(b, c, r->id, NPIPE_EPROTO, "adopt: descriptor rule");
                return;
        }
        b->ctr.adoptions++;
        if (req.role == NP_ADOPT_SERVER)
                adopt_server(b, c, r, &req);
        else if (req.role == NP_ADOPT_CLIENT)
                adopt_client(b, c, r, &req);
        else
                np_reply_status(b, c, r->id, NPIPE_EINVAL);
}
