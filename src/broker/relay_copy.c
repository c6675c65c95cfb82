/*
 * relay_copy.c - the SMB relay's data path (relay.h): what a remote client
 * and the pipe's server say to each other once the pipe is open.
 *
 * In message mode every message is a u16 little-endian length plus the
 * bytes on the socket, in byte mode bytes are raw.  Each direction has one
 * buffer and at most one operation in flight: a socket is read only when
 * the previous message went into the pipe, a pipe only when the previous
 * one went out to the socket, so a peer that stops reading holds back its
 * own connection and nothing else.  Apart from relay.c, which only decides
 * when to call these, so that the framing rules are in one place.
 */
#include "broker/relay.h"

#include <errno.h>
#include <sys/socket.h>
#include <syslog.h>

#include "broker/broker.h"
#include "client/async.h"

/* ---- pipe -> socket ------------------------------------------------------ */

/* Send what is buffered: 1 all sent, 0 the rest waits for EPOLLOUT, -1 the
 * connection was closed (rc is gone). */
int np_relay_send_out(struct np_rconn *rc)
{
        while (rc->out_off < rc->out_len) {
                ssize_t n = send(rc->fd, rc->out + rc->out_off, rc->out_len - rc->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                np_relay_set_events(rc);
                                return 0;
                        }
                        np_relay_fail(rc, "socket write failed");
                        return -1;
                }
                rc->out_off += (size_t)n;
        }
        rc->out_off = rc->out_len = 0;
        np_relay_set_events(rc);
        return 1;
}

/* A read of the pipe finished (status and count as async.h says): frame
 * it into rc->out.  False when the connection was closed. */
static bool frame(struct np_rconn *rc, int status, size_t n)
{
        /* the buffer is one byte over NP_RELAY_MSG_MAX, so a longer message shows
         * as a full buffer (or EMOREDATA) and never passes for a legal one */
        if (status == NPIPE_EMOREDATA || (status >= 0 && rc->msg && n > NP_RELAY_MSG_MAX)) {
                /* the server's library refuses such writes on remote
                 * connections, so only a broken peer gets here: end the
                 * connection rather than send half a message */
                np_relay_fail(rc, "message too long for SMB");
                return false;
        }
        if (status < 0) {
                np_relay_fail(rc, npipe_strerror(status)); /* server closed or disconnected */
                return false;
        }
        if (rc->msg) {
                if (n == 0) /* smbd cannot carry an empty message (refused too) */
                        return true;
                rc->out[0] = (uint8_t)(n & 0xff);
                rc->out[1] = (uint8_t)(n >> 8);
                rc->out_off = 0;
        } else {
                rc->out_off = 2;
        }
        rc->out_len = 2 + n;
        return true;
}

/* Keep one read of the pipe going while the socket takes what comes;
 * iterative, so a long queue of small messages costs no stack. */
bool np_relay_start_pipe_read(struct np_rconn *rc)
{
        while (rc->can_read && !rc->eof && !rc->rd_pending && rc->out_len == 0) {
                size_t n = 0;
                int r = np_async_read(rc->h, rc->out + 2,
                                      rc->msg ? NP_RELAY_MSG_MAX + 1 : NP_RELAY_MSG_MAX, &n,
                                      np_relay_rd_cb, &rc->rd_ctx);

                if (r == NP_ASYNC_PENDING) {
                        rc->rd_pending = true;
                        return true;
                }
                if (!frame(rc, r < 0 ? r : 0, n))
                        return false;
                r = np_relay_send_out(rc);
                if (r <= 0)
                        return r == 0;
        }
        return true;
}

/* The pending read completed (relay.c, handle_ready). */
bool np_relay_pipe_read_done(struct np_rconn *rc, int status, size_t n)
{
        int r;

        if (!frame(rc, status, n))
                return false;
        r = np_relay_send_out(rc);
        if (r <= 0)
                return r == 0;
        return np_relay_start_pipe_read(rc);
}

/* ---- socket -> pipe ------------------------------------------------------ */

bool np_relay_pipe_write_done(struct np_rconn *rc, int status)
{
        rc->in_len = 0;
        if (status < 0) {
                np_relay_fail(rc, npipe_strerror(status));
                return false;
        }
        np_relay_set_events(rc);
        return true;
}

/* A whole message (or a run of bytes) is in rc->in: into the pipe. */
static bool start_pipe_write(struct np_rconn *rc, const uint8_t *data, size_t len)
{
        size_t n = 0;
        int r;

        if (!rc->can_write) {
                /* An outbound pipe: a Windows client could not have opened
                 * it for writing, but smbd does not say how the client
                 * opened it.  What it writes goes nowhere. */
                np_log(LOG_DEBUG, "remote client of %s: %zu bytes to an outbound pipe dropped",
                       rc->name, len);
                return np_relay_pipe_write_done(rc, 0);
        }
        r = np_async_write(rc->h, data, len, &n, np_relay_wr_cb, &rc->wr_ctx);

        if (r == NP_ASYNC_PENDING) {
                rc->wr_pending = true;
                np_relay_set_events(rc);
                return true;
        }
        return np_relay_pipe_write_done(rc, r < 0 ? r : 0);
}

/* Readable socket in NP_R_LIVE: one message (or a run of bytes) at a time,
 * until the socket is drained or a write has to wait for the quota. */
bool np_relay_sock_input(struct np_rconn *rc)
{
        while (!rc->wr_pending) {
                size_t want;
                ssize_t n;

                if (!rc->msg)
                        want = NP_RELAY_MSG_MAX;
                else if (rc->in_len < 2)
                        want = 2 - rc->in_len;
                else
                        want = 2 + ((size_t)rc->in[0] | (size_t)rc->in[1] << 8) - rc->in_len;
                if (rc->msg && rc->in_len >= 2 && want == 0) {
                        if (!start_pipe_write(rc, rc->in + 2, rc->in_len - 2))
                                return false;
                        continue;
                }
                /* at the end of the stream the client closed its handle;
                 * a partial frame is dropped, as smbd never sends one */
                n = np_relay_recv(rc, rc->in + rc->in_len, want, "client closed");
                if (n <= 0)
                        return n == 0;
                rc->in_len += (size_t)n;
                if (!rc->msg && !start_pipe_write(rc, rc->in, rc->in_len))
                        return false;
        }
        return true;
}
