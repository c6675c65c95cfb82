/*
 * client.c - what the broker says to a client, and how it drops one.
 *
 * Sending never blocks: a packet that does not fit a client's socket
 * buffer goes to that client's queue (bounded, limits.h) and out again on
 * EPOLLOUT.  A client that lets its queue overflow, or whose socket fails,
 * is *doomed*: it receives nothing more and the event loop reaps it -
 * handles it as a dead process - right after the packet being processed,
 * so that no request ever sees it half gone.  Here too are the packets
 * every handler builds (replies, PEER_GONE), the answer to a malformed
 * request, and the fate of a descriptor a client sent that the broker
 * does not keep.
 *
 * Apart from the event loop (loop.c), which reads and reaps clients,
 * because everything between the loop and the reaper answers clients:
 * with sending here, none of it calls up into the loop.  It calls only
 * the reaper, whose bounds decide whether a client may be read (reap.h).
 */
#include "broker/broker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/limits.h"
#include "broker/reap.h"
#include "npipe/npipe.h"
#include "os/os.h"

/* ---- the socket and its queue --------------------------------------------- */

void np_client_update(struct np_broker *b, struct np_client *c)
{
        uint32_t want = 0;
        struct epoll_event ev;

        if (c->flags & NP_CLIENT_DOOMED)
                return;
        if (!(c->flags & NP_CLIENT_DRAINING) && c->outq_len < NP_LIM_OUTQ_HIGH &&
            !np_reap_blocks(b, c->acct))
                want |= EPOLLIN;
        if (c->outq != NULL)
                want |= EPOLLOUT;
        if (want == c->events)
                return;
        ev.events = want;
        ev.data.ptr = &c->src;
        if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
                np_client_doom(b, c, "epoll_ctl failed");
                return;
        }
        c->events = want;
}

void np_client_doom(struct np_broker *b, struct np_client *c, const char *why)
{
        static struct np_ratelimit rl;

        if (c->flags & NP_CLIENT_DOOMED)
                return;
        c->flags |= NP_CLIENT_DOOMED;
        np_log_limited(&rl, LOG_INFO, "client %llu (pid %ld): %s", (unsigned long long)c->serial,
                       (long)c->pid, why);
        epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        np_link_del(&c->link);
        np_link_add_tail(&b->doomed, &c->link);
}

void np_client_drain(struct np_broker *b, struct np_client *c)
{
        c->flags |= NP_CLIENT_DRAINING;
        if (c->outq == NULL)
                np_client_doom(b, c, "closed by the broker");
        else
                np_client_update(b, c);
}

static bool retry_later(int r)
{
        /* ENOBUFS/ENOMEM: the kernel is short of memory for this one
         * packet; like a full buffer, it is worth trying again. */
        return r == -EAGAIN || r == -ENOBUFS || r == -ENOMEM;
}

/* limits.h, NP_LIM_OUTQ: what this client's own objects can explain. */
static size_t outq_limit(const struct np_client *c)
{
        return NP_LIM_OUTQ + 2 * c->n_instances + c->n_conns + c->n_waits;
}

void np_send(struct np_broker *b, struct np_client *c, const void *pkt, size_t len, int fd)
{
        struct np_outpkt *p;

        if (c->flags & NP_CLIENT_DOOMED)
                goto drop;
        if (c->outq == NULL) {
                int r = np_send_packet(c->fd, pkt, len, fd);

                if (r == 0) {
                        if (fd >= 0)
                                close(fd);
                        return;
                }
                if (!retry_later(r)) {
                        np_client_doom(b, c,
                                       r == -EPIPE || r == -ECONNRESET ? "gone" : "send failed");
                        goto drop;
                }
        }
        if (c->outq_len >= outq_limit(c)) {
                b->ctr.processes_dropped++;
                np_client_doom(b, c, "not reading its socket (queue full)");
                goto drop;
        }
        p = malloc(sizeof *p + len);
        if (p == NULL) {
                np_client_doom(b, c, "out of memory for its queue");
                goto drop;
        }
        p->next = NULL;
        p->fd = fd;
        p->len = (uint32_t)len;
        memcpy(p->data, pkt, len);
        if (c->outq == NULL)
                c->outq_tail = &c->outq;
        *c->outq_tail = p;
        c->outq_tail = &p->next;
        c->outq_len++;
        np_client_update(b, c);
        return;
drop:
        if (fd >= 0)
                close(fd);
}

/* Send what the queue holds while the socket takes it. */
void np_client_flush(struct np_broker *b, struct np_client *c)
{
        while (c->outq != NULL && !(c->flags & NP_CLIENT_DOOMED)) {
                struct np_outpkt *p = c->outq;
                int r = np_send_packet(c->fd, p->data, p->len, p->fd);

                if (retry_later(r))
                        break;
                if (r < 0) {
                        np_client_doom(b, c, "send failed");
                        return;
                }
                if (p->fd >= 0)
                        close(p->fd);
                c->outq = p->next;
                c->outq_len--;
                free(p);
        }
}

static void free_queue(struct np_client *c)
{
        struct np_outpkt *p, *next;

        for (p = c->outq; p != NULL; p = next) {
                next = p->next;
                if (p->fd >= 0)
                        close(p->fd);
                free(p);
        }
        c->outq = NULL;
        c->outq_len = 0;
}

/* A dropped client still gets what was queued for it as far as its socket
 * takes it now (never waiting): the replies up to its last request. */
static void flush_final(struct np_client *c)
{
        while (c->outq != NULL) {
                struct np_outpkt *p = c->outq;

                if (np_send_packet(c->fd, p->data, p->len, p->fd) < 0)
                        return;
                if (p->fd >= 0)
                        close(p->fd); /* a segment: a copy went out with it */
                c->outq = p->next;
                c->outq_len--;
                free(p);
        }
}

/* A reaped client's queue is sent as far as its socket takes it now, then
 * freed with what is left. */
void np_client_queue_end(struct np_client *c)
{
        flush_final(c);
        free_queue(c);
}

/* ---- packets ---------------------------------------------------------------- */

/* Header + fixed body + optional name, built on the stack (a packet is at
 * most NP_PROTO_MAX_PACKET bytes). */
void np_send_msg(struct np_broker *b, struct np_client *c, uint16_t type, uint32_t req_id,
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

void np_reply_status(struct np_broker *b, struct np_client *c, uint32_t req_id, int status)
{
        struct np_reply r = {.status = status, .detail = 0};

        /* which bound, when the handler said (np_limit_hit) */
        if (status == NPIPE_ELIMIT) {
                r.detail = b->limit_detail;
                b->limit_detail = 0;
        }

        /* NP_HDR_NO_REPLY: nobody waits for a success */
        if (status == 0 && req_id != 0 && req_id == b->quiet_req && c == b->quiet_client)
                return;
        np_send_msg(b, c, NP_MSG_REPLY, req_id, &r, sizeof r, NULL, 0, -1);
}

void np_send_peer_gone(struct np_broker *b, struct np_client *to, uint64_t instance_id,
                       uint64_t conn_id, uint32_t reason, uint32_t to_server)
{
        struct np_ev_peer_gone ev = {
            .instance_id = instance_id,
            .conn_id = conn_id,
            .reason = reason,
            .to_server = to_server,
        };

        np_send_msg(b, to, NP_MSG_EV_PEER_GONE, 0, &ev, sizeof ev, NULL, 0, -1);
}

/* ---- misbehaving clients ------------------------------------------------- */

/* A malformed or out-of-place packet: answer it when it can be answered,
 * and drop a client that keeps sending them. */
void np_bad_packet(struct np_broker *b, struct np_client *c, uint32_t req_id, int status,
                   const char *what)
{
        c->proto_errors++;
        b->ctr.requests_malformed++;
        np_log(LOG_DEBUG, "client %llu (pid %ld): %s (%s)", (unsigned long long)c->serial,
               (long)c->pid, what, npipe_err_name(status));
        if (req_id != 0)
                np_reply_status(b, c, req_id, status);
        if (c->proto_errors > NP_LIM_PROTO_ERRORS) {
                static struct np_ratelimit rl; /* log.c: a flood must not fill the disk */

                np_log_limited(&rl, LOG_NOTICE,
                               "client %llu (pid %ld): too many protocol errors, dropped",
                               (unsigned long long)c->serial, (long)c->pid);
                b->ctr.processes_dropped++;
                np_client_doom(b, c, "protocol errors");
        }
}

/* A descriptor c sent that the broker does not keep goes the reaper's way
 * (np_fd_drop); a uid that keeps the reaper busy beyond its bound drops
 * the process that sends one more (reap.h, NP_LIM_REAP_PER_UID). */
void np_fd_discard(struct np_broker *b, struct np_client *c, int fd)
{
        static struct np_ratelimit rl;

        if (np_fd_drop(b, c->acct, fd))
                return;
        if (c->acct->limited && c->acct->reaping > NP_LIM_REAP_PER_UID &&
            !(c->flags & NP_CLIENT_DOOMED)) {
                np_log_limited(&rl, LOG_NOTICE,
                               "client %llu (pid %ld): uid %lu has %zu descriptors waiting to be "
                               "closed; dropped",
                               (unsigned long long)c->serial, (long)c->pid, (unsigned long)c->uid,
                               c->acct->reaping);
                b->ctr.processes_dropped++;
                np_client_doom(b, c, "sends descriptors that are not segments");
        }
}
