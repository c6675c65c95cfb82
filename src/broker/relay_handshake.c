/*
 * relay_handshake.c - the start of an SMB relay connection (relay.h): the
 * named_pipe_auth request smbd sends first (npa.c decodes it), the
 * identity of the remote user built from it, and the open of the pipe as
 * that user.
 *
 * Apart from the data path because it is a protocol of its own, with its
 * own refusals (closing is the only one smbd knows) and the only place
 * that speaks to the broker on the user's behalf.
 */
#include "broker/relay.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "broker/broker.h"
#include "broker/limits.h"
#include "client/client.h"
#include "remote/npa.h"

/* ---- handshake ----------------------------------------------------------- */

_Static_assert(2 * NP_REMOTE_NAME_MAX + 2 * NP_REMOTE_ADDR_MAX <= NP_REMOTE_STRINGS,
               "the fixed strings of an identity always fit");

/* Append s (cut to max - 1 bytes) and its NUL to id->strings; false when
 * the area is full. */
static bool put_string(struct np_remote_id *id, size_t *off, const char *s, size_t max)
{
        size_t n = strnlen(s, max - 1);

        if (*off + n + 1 > NP_REMOTE_STRINGS)
                return false;
        memcpy(id->strings + *off, s, n);
        id->strings[*off + n] = '\0';
        *off += n + 1;
        return true;
}

/* The identity the broker and the server see, from the decoded request. */
static void build_id(struct np_remote_id *id, const struct np_npa_request *rq)
{
        const struct np_npa_identity *u = &rq->id;
        const char *str[4] = {u->account, u->domain, rq->remote_client_addr, rq->local_server_addr};
        size_t off = 0;

        memset(id, 0, sizeof *id);
        if (u->flags & NP_NPA_ANONYMOUS)
                id->flags |= NPIPE_REMOTE_ANONYMOUS;
        if (u->flags & NP_NPA_ENCRYPTED)
                id->flags |= NPIPE_REMOTE_ENCRYPTED;
        if (u->flags & NP_NPA_SIDS_TRUNCATED)
                id->flags |= NPIPE_REMOTE_SIDS_TRUNCATED;
        if (u->flags & NP_NPA_HAVE_UNIX) {
                id->uid = u->uid > UINT32_MAX ? UINT32_MAX : (uint32_t)u->uid;
                id->gid = u->gid > UINT32_MAX ? UINT32_MAX : (uint32_t)u->gid;
                for (uint32_t k = 0; k < u->ngroups && k < NP_REMOTE_MAX_GROUPS; k++)
                        id->groups[id->ngroups++] =
                            u->groups[k] > UINT32_MAX ? UINT32_MAX : (uint32_t)u->groups[k];
        } else {
                /* no unix token: a user nobody can be the owner of */
                id->uid = id->gid = 65534;
                id->flags |= NPIPE_REMOTE_ANONYMOUS;
        }
        id->client_port = rq->remote_client_port;
        id->server_port = rq->local_server_port;
        /* the four fixed strings fit at their limits (2 x 256 + 2 x 64) */
        for (int k = 0; k < 4; k++)
                put_string(id, &off, str[k], k < 2 ? NP_REMOTE_NAME_MAX : NP_REMOTE_ADDR_MAX);
        for (uint32_t k = 0; k < u->nsids; k++) {
                if (!put_string(id, &off, u->sids[k], NP_REMOTE_SID_MAX)) {
                        id->flags |= NPIPE_REMOTE_SIDS_TRUNCATED;
                        break;
                }
                id->nsids++;
        }
        id->strings_len = (uint32_t)off;
}

/* Open the pipe for the remote user; 0, NPIPE_EBUSY or another refusal. */
int np_relay_try_open(struct np_rconn *rc)
{
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        int r = np_open_remote(rc->name, rc->id, &rc->h);

        if (r == 0 && rc->msg)
                npipe_set_mode(rc->h, &m, NULL);
        return r;
}

bool np_relay_go_live(struct np_rconn *rc)
{
        struct npipe_info info;

        if (npipe_get_info(rc->h, &info) < 0) {
                np_relay_fail(rc, "pipe information unavailable");
                return false;
        }
        rc->can_read = (info.dir & NPIPE_OUTBOUND) != 0;
        rc->can_write = (info.dir & NPIPE_INBOUND) != 0;
        rc->st = NP_R_LIVE;
        np_relay_set_events(rc);
        return np_relay_start_pipe_read(rc) && np_relay_sock_input(rc);
}

static bool handshake_done(struct np_rconn *rc)
{
        static struct np_npa_request rq; /* large; this thread only */
        uint8_t rep[NP_NPA_REPLY_SIZE];
        int r = np_npa_parse(rc->hs, rc->hs_len, &rq);

        free(rc->hs);
        rc->hs = NULL;
        if (r < 0) {
                np_relay_fail(rc, r == NPIPE_ENOTSUP ? "unknown handshake level"
                                                     : "malformed handshake");
                return false;
        }
        rc->level = rq.level;
        rc->id = malloc(sizeof *rc->id);
        if (rc->id == NULL) {
                np_relay_fail(rc, "out of memory");
                return false;
        }
        build_id(rc->id, &rq);
        r = np_relay_try_open(rc);
        if (r < 0 && r != NPIPE_EBUSY) {
                /* denied, rejected or gone: the open fails for the client */
                np_log(LOG_INFO, "remote client %s\\%s from %s refused on %s: %s", rq.id.domain,
                       rq.id.account, rq.remote_client_addr, rc->name, npipe_strerror(r));
                np_relay_free(rc);
                return false;
        }
        np_npa_reply(rep, rc->level, rc->msg);
        if (send(rc->fd, rep, sizeof rep, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof rep) {
                np_relay_fail(rc, "handshake reply failed");
                return false;
        }
        np_log(LOG_INFO, "remote client %s\\%s from %s on %s%s", rq.id.domain, rq.id.account,
               rq.remote_client_addr, rc->name,
               r == NPIPE_EBUSY ? " (waiting for an instance)" : "");
        if (r == NPIPE_EBUSY) {
                rc->st = NP_R_WAITING;
                rc->retry_ms = NP_REMOTE_BUSY_RETRY_MS;
                rc->retry_ns = np_now_ns() + (int64_t)rc->retry_ms * 1000000;
                np_relay_set_events(rc);
                return true;
        }
        return np_relay_go_live(rc);
}

bool np_relay_hs_input(struct np_rconn *rc)
{
        for (;;) {
                size_t want = rc->hs_need != 0 ? rc->hs_need - rc->hs_len : 4 - rc->hs_len;
                ssize_t n;

                if (want == 0) {
                        if (rc->hs_need == 0) {
                                size_t total;
                                uint8_t *nb;

                                if (np_npa_request_size(rc->hs, &total) < 0) {
                                        np_relay_fail(rc, "bad handshake length");
                                        return false;
                                }
                                nb = realloc(rc->hs, total);
                                if (nb == NULL) {
                                        np_relay_fail(rc, "out of memory");
                                        return false;
                                }
                                rc->hs = nb;
                                rc->hs_need = total;
                                continue;
                        }
                        return handshake_done(rc);
                }
                n = np_relay_recv(rc, rc->hs + rc->hs_len, want, "closed during the handshake");
                if (n <= 0)
                        return n == 0;
                rc->hs_len += (size_t)n;
        }
}
