/*
 * open.c - creating server instances, opening and waiting for pipes, and what
 * the broker said about remote exposure and remote clients.
 */
#include "os/lockorder.h"
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

/* ---- creating and opening ------------------------------------------------------------ */

NPIPE_EXTERN void npipe_server_opts_init(struct npipe_server_opts *o)
{
        memset(o, 0, sizeof(*o));
        o->size = sizeof(*o);
        o->type = NPIPE_TYPE_MESSAGE;
        o->dir = NPIPE_DUPLEX;
        o->max_instances = NPIPE_UNLIMITED_INSTANCES;
        o->in_quota = 65536;
        o->out_quota = 65536;
        o->default_timeout_ms = 50;
        o->policy = NPIPE_ACCESS_OWNER;
}

struct reg_ctx {
        struct npipe *h;
        int server;
};

/* Runs on the event thread with the reply: registers the handle before any
 * later event for it can be looked up. */
static int register_on_reply(void *ctx, const struct np_hdr *hdr, const void *body, size_t len)
{
        struct reg_ctx *rc = ctx;
        int32_t status;
        if (len < sizeof(status))
                return 1;
        memcpy(&status, body, sizeof(status));
        if (status != 0)
                return 1;
        if (rc->server && hdr->type == NP_MSG_CREATE_REPLY &&
            len >= sizeof(struct np_create_reply)) {
                struct np_create_reply r;
                memcpy(&r, body, sizeof(r));
                rc->h->id = r.instance_id;
        } else if (!rc->server && hdr->type == NP_MSG_OPEN_REPLY &&
                   len >= sizeof(struct np_open_reply)) {
                struct np_open_reply r;
                memcpy(&r, body, sizeof(r));
                rc->h->id = r.conn_id;
        } else {
                return 1;
        }
        np_lock(&np_reg_lock, NP_LK_REG);
        np_reg_add(rc->h);
        np_unlock(&np_reg_lock, NP_LK_REG);
        return 1;
}

static int opts_valid(const struct npipe_server_opts *o)
{
        const unsigned flags = NPIPE_FIRST_INSTANCE | NPIPE_REJECT_REMOTE |
                               NPIPE_ALLOW_ANONYMOUS | NPIPE_NOWAIT | NPIPE_READMODE_MESSAGE;
        if (o->size < sizeof(*o) || (o->type != NPIPE_TYPE_BYTE && o->type != NPIPE_TYPE_MESSAGE) ||
            o->dir < NPIPE_INBOUND || o->dir > NPIPE_DUPLEX ||
            o->max_instances > NPIPE_MAX_INSTANCES_LIMIT ||
            (unsigned)o->policy > NPIPE_ACCESS_EVERYONE || (o->flags & ~flags))
                return 0;
        /* CREATE-03: a byte pipe cannot start in message read mode */
        return !(o->type == NPIPE_TYPE_BYTE && (o->flags & NPIPE_READMODE_MESSAGE));
}

/* The status of a call whose reply should be a `type` of `size` bytes
 * starting with its status; a short or plain reply (NP_MSG_REPLY, status
 * only) carries an error or is a protocol fault. */
static int reply_status(int r, const struct np_request *req, uint16_t type, size_t size,
                        const int32_t *status)
{
        if (r < 0)
                return r;
        if (req->reply_type == type && req->reply_len >= size)
                return *status;
        return req->reply_len >= sizeof(struct np_reply) && *status < 0 ? *status : NPIPE_EPROTO;
}

/* An end the broker refused, or that we cannot use: out of the registry
 * (its reply registered it, register_on_reply) and freed. */
static void unregister_free(struct npipe *h)
{
        np_lock(&np_reg_lock, NP_LK_REG);
        if (h->id)
                np_reg_del(h);
        np_unlock(&np_reg_lock, NP_LK_REG);
        np_h_free(h);
}

/* The CREATE request for opts (the name follows it). */
static void create_body(const struct npipe_server_opts *opts, size_t name_len,
                        struct np_create *body)
{
        memset(body, 0, sizeof(*body));
        body->params.type = opts->type;
        body->params.dir = opts->dir;
        body->params.max_instances = opts->max_instances;
        body->params.in_quota = opts->in_quota;
        body->params.out_quota = opts->out_quota;
        body->params.default_timeout_ms = opts->default_timeout_ms;
        body->params.policy = opts->policy;
        body->params.gid = (uint32_t)opts->gid;
        body->flags = ((opts->flags & NPIPE_FIRST_INSTANCE) ? NP_CREATE_FIRST_INSTANCE : 0) |
                      ((opts->flags & NPIPE_REJECT_REMOTE) ? NP_CREATE_REJECT_REMOTE : 0) |
                      ((opts->flags & NPIPE_ALLOW_ANONYMOUS) ? NP_CREATE_ALLOW_ANONYMOUS : 0);
        body->name_len = (uint32_t)name_len;
}

/* A server end the broker accepted: the pipe's parameters (the first
 * instance's, CREATE-05) and what the handle may do. */
static void created(struct npipe *h, const struct npipe_server_opts *opts,
                    const struct np_create *body, const struct np_create_reply *rep)
{
        h->params = rep->params;
        h->cflags = body->flags;
        h->exposure = rep->remote <= NP_REMOTE_WHY_MAX ? rep->remote : NP_REMOTE_LIMIT;
        h->can_read = opts->dir != NPIPE_OUTBOUND;
        h->can_write = opts->dir != NPIPE_INBOUND;
        /* CREATE-07/08: an inbound server handle lacks FILE_WRITE_ATTRIBUTES */
        h->can_set_mode = opts->dir != NPIPE_INBOUND;
        atomic_store(&h->read_mode, (opts->flags & NPIPE_READMODE_MESSAGE) ? NPIPE_READ_MESSAGE
                                                                           : NPIPE_READ_BYTE);
        atomic_store(&h->nowait, (opts->flags & NPIPE_NOWAIT) ? 1 : 0);
}

NPIPE_EXTERN int npipe_create(const char *name, const struct npipe_server_opts *opts,
                              npipe_t **ret)
{
        np_events_install();
        const char *bare;
        size_t blen;
        struct npipe_server_opts def;
        if (!ret)
                return NPIPE_EINVAL;
        int r = np_name_parse(name, &bare, &blen);
        if (r < 0)
                return r;
        if (!opts) {
                npipe_server_opts_init(&def);
                opts = &def;
        }
        if (!opts_valid(opts))
                return NPIPE_EINVAL;

        struct npipe *h = np_h_new(1);
        if (!h)
                return NPIPE_ENOMEM;
        h->name = strndup(bare, blen);
        uint32_t cap = np_server_ring_cap(opts->out_quota);
        int fd = np_seg_create(cap, NP_ROLE_SERVER, &h->listen_seg, &h->listen_size);
        if (fd < 0 || !h->name) {
                if (fd >= 0) {
                        close(fd);
                        munmap(h->listen_seg, h->listen_size);
                }
                np_h_free(h);
                return fd < 0 ? fd : NPIPE_ENOMEM;
        }

        struct np_create body;
        create_body(opts, blen, &body);
        struct np_create_reply rep;
        struct reg_ctx rc = {h, 1};
        /* state before the reply: an EV_CONNECTED may follow it at once */
        h->state = NPIPE_STATE_LISTENING;
        h->server_pid = np_self_pid();
        struct np_request req = {.type = NP_MSG_CREATE, .body = &body, .body_len = sizeof(body),
                                 .name = bare, .name_len = blen, .fd = fd, .reply = &rep,
                                 .reply_cap = sizeof(rep), .fn = register_on_reply, .fn_ctx = &rc};
        r = np_broker_call(&req);
        close(fd);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        r = reply_status(r, &req, NP_MSG_CREATE_REPLY, sizeof(rep), &rep.status);
        if (r < 0) {
                munmap(h->listen_seg, h->listen_size);
                unregister_free(h);
                return r;
        }
        created(h, opts, &body, &rep);
        *ret = np_handle_value(h);
        return 0;
}

/* One open attempt.  Returns 0 with *ret, or an error (NPIPE_EBUSY ...). */
static int open_once(const char *bare, size_t blen, unsigned access, int seg_fd,
                     struct np_seg_hdr *seg, size_t seg_size, npipe_t **ret, uint32_t *want_cap,
                     const struct np_remote_id *rid, int64_t deadline)
{
        struct npipe *h = np_h_new(0);
        if (!h)
                return NPIPE_ENOMEM;
        struct np_open_remote rbody;
        struct np_open *body = &rbody.open;
        memset(body, 0, sizeof(*body));
        body->access = (access & NPIPE_READ ? NP_ACCESS_READ : 0) |
                       (access & NPIPE_WRITE ? NP_ACCESS_WRITE : 0);
        body->name_len = (uint32_t)blen;
        if (rid)
                rbody.id = *rid;
        struct np_open_reply rep;
        struct reg_ctx rc = {h, 0};
        h->state = NPIPE_STATE_CONNECTED;
        struct np_request req = {.type = rid ? NP_MSG_OPEN_REMOTE : NP_MSG_OPEN, .body = &rbody,
                                 .body_len = rid ? sizeof(rbody) : sizeof(*body), .name = bare,
                                 .name_len = blen, .fd = seg_fd, .reply = &rep,
                                 .reply_cap = sizeof(rep), .fn = register_on_reply, .fn_ctx = &rc,
                                 .deadline = deadline};
        int r = np_broker_call(&req);
        r = reply_status(r, &req, NP_MSG_OPEN_REPLY, sizeof(rep), &rep.status);
        if (r == NPIPE_EBUFFER && req.reply_type == NP_MSG_OPEN_REPLY &&
            req.reply_len >= sizeof(rep))
                *want_cap = np_pow2_at_least(2ull * rep.params.in_quota);
        if (r < 0) {
                if (req.reply_fd >= 0)
                        close(req.reply_fd);
                unregister_free(h);
                return r;
        }
        struct conn *c = np_conn_new(seg, seg_size, req.reply_fd, NP_ROLE_SERVER, rep.conn_id);
        if (c)
                c->peer_local = (pid_t)rep.server_pid == np_self_pid();
        if (!c) {
                unregister_free(h);
                struct np_end_req end = {.id = rep.conn_id, .conn_id = rep.conn_id};
                np_broker_post(NP_MSG_CLOSE_CLIENT, &end, sizeof(end), -1);
                return NPIPE_ENOMEM;
        }
        h->name = strndup(bare, blen);
        h->params = rep.params;
        h->instance_id = rep.instance_id;
        if (rid) {
                /* the broker granted what the direction allows */
                access = (rep.params.dir & NPIPE_INBOUND ? NPIPE_WRITE : 0) |
                         (rep.params.dir & NPIPE_OUTBOUND ? NPIPE_READ : 0);
                body->access = (access & NPIPE_READ ? NP_ACCESS_READ : 0) |
                               (access & NPIPE_WRITE ? NP_ACCESS_WRITE : 0);
        }
        h->access = body->access;
        h->server_pid = (pid_t)rep.server_pid;
        h->client_pid = np_self_pid();
        h->peer_uid = rep.server_uid;
        h->peer_gid = rep.server_gid;
        h->can_read = (access & NPIPE_READ) != 0;
        h->can_write = (access & NPIPE_WRITE) != 0;
        /* GENERIC_WRITE includes FILE_WRITE_ATTRIBUTES; GENERIC_READ does
         * not.  The relay must set message read mode on any pipe. */
        h->can_set_mode = rid || (access & (NPIPE_WRITE | NPIPE_WRITE_ATTRIBUTES)) != 0;
        /* OPEN-05: a client starts in byte read mode, blocking */
        atomic_store(&h->read_mode, NPIPE_READ_BYTE);
        atomic_store(&h->nowait, 0);
        np_lock(&h->lock, NP_LK_STATE);
        np_conn_set(h, c);
        if (h->early_gone)
                atomic_store(&c->gone, h->early_gone);
        np_unlock(&h->lock, NP_LK_STATE);
        *ret = np_handle_value(h);
        return 0;
}

NPIPE_EXTERN int npipe_wait(const char *name, int timeout_ms)
{
        np_events_install();
        const char *bare;
        size_t blen;
        struct np_smb_name rn;
        int r = np_smb_name(name, &rn);
        if (r != 0)
                return r < 0 ? r : np_smb_wait(&rn, timeout_ms);
        r = np_name_parse(name, &bare, &blen);
        if (r < 0)
                return r == NPIPE_EBADNAME ? NPIPE_EBADPATH : r;
        struct np_wait body = {.name_len = (uint32_t)blen};
        if (timeout_ms == NPIPE_WAIT_DEFAULT)
                body.timeout_ms = NP_WAIT_DEFAULT;
        else if (timeout_ms < 0)
                body.timeout_ms = NP_WAIT_FOREVER;
        else
                body.timeout_ms = (uint32_t)timeout_ms;
        /* the broker times the wait; we bound our wait for its answer by
         * the same timeout (a stopped broker), except for the pipe's
         * default, which only the broker knows, and forever */
        int64_t deadline = timeout_ms >= 0 ? np_broker_deadline(timeout_ms) : -1;
        return np_broker_status_until(NP_MSG_WAIT, &body, sizeof(body), bare, blen, -1,
                                      deadline);
}

/* One open with a fresh client segment of *cap bytes, again with a larger
 * one when the broker says the quota needs it (NPIPE_EBUFFER). */
static int open_sized(const char *bare, size_t blen, unsigned access,
                      const struct np_remote_id *rid, uint32_t *cap, npipe_t **ret,
                      int64_t deadline)
{
        for (;;) {
                struct np_seg_hdr *seg;
                size_t seg_size;
                uint32_t want_cap = 0;
                int fd = np_seg_create(*cap, NP_ROLE_CLIENT, &seg, &seg_size);
                if (fd < 0)
                        return fd;
                int r = open_once(bare, blen, access, fd, seg, seg_size, ret, &want_cap, rid,
                                  deadline);
                close(fd);
                if (r < 0)
                        munmap(seg, seg_size);
                if (r != NPIPE_EBUFFER || want_cap <= *cap)
                        return r;
                *cap = want_cap; /* the quota is larger than our ring */
        }
}

NPIPE_EXTERN int npipe_open(const char *name, unsigned access, int timeout_ms, npipe_t **ret)
{
        np_events_install();
        const char *bare;
        size_t blen;
        if (!ret || (access & ~(NPIPE_READ | NPIPE_WRITE | NPIPE_WRITE_ATTRIBUTES)))
                return NPIPE_EINVAL;
        struct np_smb_name rn;
        int r = np_smb_name(name, &rn);
        if (r != 0)
                return r < 0 ? r : np_smb_open(&rn, access, timeout_ms, ret);
        r = np_name_parse(name, &bare, &blen);
        if (r < 0)
                return r;
        uint32_t cap = DEFAULT_CLIENT_RING;
        const char *env = np_env("NPIPE_RING_SIZE");
        if (env)
                cap = np_pow2_at_least(strtoull(env, NULL, 0));
        int64_t deadline = np_deadline_of(timeout_ms);
        /* a stopped broker: the timeout bounds the wait for it too */
        int64_t bdl = np_broker_deadline(timeout_ms);
        for (;;) {
                r = open_sized(bare, blen, access, NULL, &cap, ret, bdl);
                if (r != NPIPE_EBUSY || timeout_ms == 0)
                        return r;
                if (deadline >= 0 && np_remaining(deadline) == 0)
                        return NPIPE_ETIMEDOUT;
                int w = npipe_wait(name, np_remaining_ms(deadline));
                if (w < 0)
                        return w;
        }
}

int np_open_remote(const char *name, const struct np_remote_id *id, npipe_t **ret)
{
        np_events_install();
        /* the broker's own spelling of a pipe it has: no \\.\pipe\ prefix */
        uint32_t cap = DEFAULT_CLIENT_RING;
        return open_sized(name, strlen(name), 0, id, &cap, ret, 0);
}

_Static_assert(NPIPE_EXPOSED == NP_REMOTE_EXPOSED && NPIPE_EXPOSE_OFF == NP_REMOTE_OFF &&
                   NPIPE_EXPOSE_REJECTED == NP_REMOTE_REJECTED &&
                   NPIPE_EXPOSE_NOT_ALLOWED == NP_REMOTE_NOT_ALLOWED &&
                   NPIPE_EXPOSE_RESERVED == NP_REMOTE_RESERVED &&
                   NPIPE_EXPOSE_BAD_NAME == NP_REMOTE_BAD_NAME &&
                   NPIPE_EXPOSE_COLLISION == NP_REMOTE_COLLISION &&
                   NPIPE_EXPOSE_TAKEN == NP_REMOTE_TAKEN && NPIPE_EXPOSE_LIMIT == NP_REMOTE_LIMIT,
               "npipe_exposure is the protocol's NP_REMOTE_*");

NPIPE_EXTERN int npipe_remote_exposure(npipe_t *hv, enum npipe_exposure *ret)
{
        struct npipe *h;
        int r = np_h_enter_server_out(hv, ret, NPIPE_EBUFFER, &h);
        if (r < 0)
                return r;
        *ret = (enum npipe_exposure)h->exposure;
        np_h_put(h);
        return 0;
}

NPIPE_EXTERN const char *npipe_exposure_text(enum npipe_exposure e)
{
        switch (e) {
        case NPIPE_EXPOSED:
                return "remote clients can reach it";
        case NPIPE_EXPOSE_OFF:
                return "the broker serves no remote clients";
        case NPIPE_EXPOSE_REJECTED:
                return "it rejects remote clients";
        case NPIPE_EXPOSE_NOT_ALLOWED:
                return "the administrator has not allowed its owner or name (npiped "
                       "--remote-allow)";
        case NPIPE_EXPOSE_RESERVED:
                return "the name is one of Samba's own RPC pipes";
        case NPIPE_EXPOSE_BAD_NAME:
                return "the name cannot be a socket name in Samba's np directory";
        case NPIPE_EXPOSE_COLLISION:
                return "another pipe maps to the same Samba socket name";
        case NPIPE_EXPOSE_TAKEN:
                return "Samba's np directory already has an entry of that name";
        case NPIPE_EXPOSE_LIMIT:
                return "a limit of the broker was reached";
        }
        return "unknown";
}

NPIPE_EXTERN int npipe_remote_client(npipe_t *hv, struct npipe_remote_client *ret)
{
        struct npipe *h;
        int r = np_h_enter_server_out(hv, ret, NPIPE_EBUFFER, &h);
        if (r < 0)
                return r;
        np_sync_listening(h);
        int st = np_end_state_now(h);
        if (st != NPIPE_STATE_CONNECTED && st != NPIPE_STATE_CLOSING) {
                np_h_put(h);
                return NPIPE_ENOTCONN;
        }
        np_lock(&h->lock, NP_LK_STATE);
        const struct np_remote_id *id = h->remote;
        if (!id) {
                r = NPIPE_ELOCAL;
        } else {
                memset(ret, 0, sizeof(*ret));
                ret->flags = id->flags;
                ret->uid = id->uid;
                ret->gid = id->gid;
                ret->ngroups = id->ngroups;
                for (uint32_t k = 0; k < id->ngroups && k < 32; k++)
                        ret->groups[k] = id->groups[k];
                snprintf(ret->user, sizeof(ret->user), "%s", np_remote_id_string(id, 0));
                snprintf(ret->domain, sizeof(ret->domain), "%s", np_remote_id_string(id, 1));
                snprintf(ret->client_addr, sizeof(ret->client_addr), "%s",
                         np_remote_id_string(id, 2));
                snprintf(ret->server_addr, sizeof(ret->server_addr), "%s",
                         np_remote_id_string(id, 3));
                ret->client_port = id->client_port;
                ret->server_port = id->server_port;
                ret->nsids = id->nsids;
                for (uint32_t k = 0; k < id->nsids && k < NPIPE_REMOTE_MAX_SIDS; k++)
                        snprintf(ret->sids[k], sizeof(ret->sids[k]), "%s",
                                 np_remote_id_string(id, 4 + k));
        }
        np_unlock(&h->lock, NP_LK_STATE);
        np_h_put(h);
        return r;
}
