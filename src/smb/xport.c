/*
 * xport.c - the transport of a connection and the multiplexing of its
 * requests (conn.h's calls, xport.h's start and stop).
 *
 * Why separate: this is the part that runs concurrently (any number of
 * callers, one receiver thread, the keep-alive) and owns every lock rule
 * in xport.h; session.c and conn.c only make calls through it, so they
 * need not know how an answer finds its caller.
 *
 * The wire: the Direct TCP transport (a zero byte, a 24-bit length), each
 * frame one SMB2 message, signed or encrypted once the session has keys
 * (session.c derives them; here they are used).  The receiver reads every
 * frame, checks it, and hands it to its request by MessageId.
 *
 * Credits (MS-SMB2 3.2.4.1.2, 3.2.5.1.4): we start with one, ask for
 * NP_SMB_CREDITS_ASK with each request, add what every response (interim
 * ones too) grants, and a request whose charge is not covered waits.  A
 * request given up on (no answer even to its CANCEL) takes its credits
 * with it; the server returns them with its late answer, which is read
 * and dropped.
 *
 * Bounds: a frame longer than c->frame_cap (derived from the sizes the
 * server announced, capped by NP_SMB_IO_CAP) drops the connection before
 * anything is allocated for it.
 */
#include "smb/xport.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smb/tcp.h"

/* ---- failure ---------------------------------------------------------- */

static void vfail_locked(struct np_smb_conn *c, int st, const char *fmt, va_list ap)
{
        if (c->state == NP_CONN_DEAD)
                return;
        c->state = NP_CONN_DEAD;
        c->dead_st = st;
        vsnprintf(c->dead_why, sizeof(c->dead_why), fmt, ap);
        if (c->fd >= 0 && c->pid == getpid()) /* never a parent's socket */
                shutdown(c->fd, SHUT_RDWR);
        pthread_cond_broadcast(&c->cv);
}

void np_smb_fail_locked(struct np_smb_conn *c, int st, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vfail_locked(c, st, fmt, ap);
        va_end(ap);
}

/* np_smb_fail_locked for the receiver, which does not hold c->mu. */
static void fail(struct np_smb_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct np_smb_conn *c, const char *fmt, ...)
{
        va_list ap;

        pthread_mutex_lock(&c->mu);
        va_start(ap, fmt);
        vfail_locked(c, NPIPE_ENETLOST, fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&c->mu);
}

/* ---- the socket ------------------------------------------------------- */

/* Write all of buf before deadline (-1: none). */
static int write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n > 0) {
                        buf += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                int wait = -1;
                if (deadline >= 0) {
                        int64_t left = deadline - np_smb_now_ms();
                        if (left <= 0)
                                return NPIPE_ETIMEDOUT;
                        wait = left > 1000000 ? 1000000 : (int)left;
                }
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                if (poll(&p, 1, wait) < 0 && errno != EINTR)
                        return -errno;
        }
        return 0;
}

/* Read exactly len bytes (blocking on poll; the receiver's only). */
static int read_all(int fd, uint8_t *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = recv(fd, buf, len, 0);
                if (n > 0) {
                        buf += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n == 0)
                        return NPIPE_ENETLOST;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return NPIPE_ENETLOST;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        return NPIPE_ENETLOST;
        }
        return 0;
}

/* Does command go signed?  (c's session keys exist.) */
static bool must_sign(const struct np_smb_conn *c, uint16_t command)
{
        if (command == NP_SMB2_NEGOTIATE || command == NP_SMB2_SESSION_SETUP)
                return false;
        if (c->sign)
                return true;
        /* 3.1.1: TREE_CONNECT is signed whatever the session says
         * (MS-SMB2 3.2.4.1.1), so that the negotiation is protected */
        return c->dialect == NP_SMB_3_1_1 && command == NP_SMB2_TREE_CONNECT;
}

/* Frame, sign or encrypt, and write one message.  Takes send_mu. */
static int send_msg(struct np_smb_conn *c, uint8_t *msg, size_t len, int64_t deadline)
{
        uint16_t command = np_le16(msg + NP_SMB2_H(command));
        uint8_t *frame = NULL;
        uint8_t stack[4 + NP_SMB_TRANSFORM_LEN + 128];
        size_t flen;
        int st = 0;

        if (len > 0xFFFFFF - NP_SMB_TRANSFORM_LEN)
                return NPIPE_EMSGSIZE;
        pthread_mutex_lock(&c->mu);
        bool keys = c->keys_ready;
        bool enc =
            c->encrypt && keys && command != NP_SMB2_NEGOTIATE && command != NP_SMB2_SESSION_SETUP;
        bool sign = keys && must_sign(c, command);
        pthread_mutex_unlock(&c->mu);
        flen = 4 + len + (enc ? NP_SMB_TRANSFORM_LEN : 0);
        frame = flen <= sizeof(stack) ? stack : malloc(flen);
        if (!frame)
                return NPIPE_ENOMEM;

        pthread_mutex_lock(&c->send_mu);
        if (enc) {
                size_t out_len;
                st = np_smb_encrypt(&c->keys, c->session_id, msg, len, frame + 4, flen - 4,
                                    &out_len);
                flen = 4 + out_len;
        } else {
                if (sign)
                        st = np_smb_sign(&c->keys, msg, len);
                if (st == 0)
                        memcpy(frame + 4, msg, len);
        }
        if (st == 0) {
                /* Direct TCP transport: a zero byte, then the length in 24
                 * bits, big-endian (MS-SMB2 2.1) */
                frame[0] = 0;
                frame[1] = (uint8_t)((flen - 4) >> 16);
                frame[2] = (uint8_t)((flen - 4) >> 8);
                frame[3] = (uint8_t)(flen - 4);
                st = write_all(c->fd, frame, flen, deadline);
        }
        pthread_mutex_unlock(&c->send_mu);
        if (frame != stack)
                free(frame);
        return st;
}

/* ---- the receiver ----------------------------------------------------- */

static void unlink_req(struct np_smb_conn *c, struct np_smb_req *r)
{
        for (struct np_smb_req **pp = &c->pending; *pp; pp = &(*pp)->next) {
                if (*pp == r) {
                        *pp = r->next;
                        return;
                }
        }
}

static struct np_smb_req *find_req(struct np_smb_conn *c, uint64_t mid)
{
        for (struct np_smb_req *r = c->pending; r; r = r->next)
                if (r->mid == mid)
                        return r;
        return NULL;
}

/* Is any request still to be answered (c->mu held)?  Only an answer
 * grants credits: with none outstanding, the credits we have are all we
 * will ever have. */
static bool outstanding(const struct np_smb_conn *c)
{
        for (const struct np_smb_req *r = c->pending; r; r = r->next)
                if (!r->done)
                        return true;
        return false;
}

/* Is msg (plain; encrypted says whether it came in a transform) authentic
 * enough for c (c->mu held)?  Once the session has keys a signed answer
 * must verify, and on a signed or encrypted session an unsigned one is
 * refused (interim answers aside: MS-SMB2 lets them go unsigned).  The
 * SESSION_SETUP answers are the session set-up's to check.  false: the
 * connection failed. */
static bool authentic(struct np_smb_conn *c, const struct np_smb_hdr *h, const uint8_t *msg,
                      size_t len, bool encrypted, bool interim)
{
        /* whatever SessionId it names: there is one session per connection,
         * and a forged answer must not escape the check by naming another */
        if (!c->keys_ready || h->command == NP_SMB2_SESSION_SETUP || encrypted)
                return true;
        if (h->flags & NP_SMB2_FLAGS_SIGNED) {
                if (np_smb_verify(&c->keys, msg, len) == 0)
                        return true;
                np_smb_fail_locked(c, NPIPE_ENETLOST,
                                   "a response from %s failed signature verification: "
                                   "connection dropped",
                                   c->desc);
                return false;
        }
        if (!(c->sign || c->encrypt) || interim)
                return true;
        np_smb_fail_locked(c, NPIPE_ENETLOST,
                           "an unsigned response from %s on a %s session: connection dropped",
                           c->desc, c->encrypt ? "encrypted" : "signed");
        return false;
}

/* One message msg[0 .. len) (plain; encrypted says whether it came in a
 * transform).  Owns msg.  c->mu held.  false: the connection failed. */
static bool dispatch(struct np_smb_conn *c, uint8_t *msg, size_t len, bool encrypted)
{
        struct np_smb_hdr h;

        if (np_smb_parse_hdr(msg, len, &h) < 0 || h.next_command != 0) {
                free(msg);
                np_smb_fail_locked(c, NPIPE_ENETLOST, "malformed SMB2 message from %s", c->desc);
                return false;
        }
        if (c->credits + (uint32_t)h.credits <= 65535)
                c->credits += h.credits;
        if (h.message_id == NP_SMB2_UNSOLICITED_ID) { /* an oplock break: none asked */
                free(msg);
                return true;
        }
        bool interim = h.status == NP_STATUS_PENDING && (h.flags & NP_SMB2_FLAGS_ASYNC_COMMAND);
        if (!authentic(c, &h, msg, len, encrypted, interim)) {
                free(msg);
                return false;
        }
        struct np_smb_req *r = find_req(c, h.message_id);
        if (!r) { /* given up on, or never ours */
                free(msg);
                return true;
        }
        if (!np_smb_async_consistent(r->async, r->async_id, &h)) {
                np_smb_fail_locked(c, NPIPE_ENETLOST,
                                   "%s answered an asynchronous request with another AsyncId: "
                                   "connection dropped",
                                   c->desc);
                free(msg);
                return false;
        }
        if (interim) {
                r->async = true;
                r->async_id = h.async_id;
                free(msg);
                pthread_cond_broadcast(&c->cv);
                return true;
        }
        if (r->echo || r->discard) {
                unlink_req(c, r);
                free(msg);
                if (c->echo == r)
                        c->echo = NULL;
                free(r);
                return true;
        }
        if (!r->orphan) /* an orphan stays listed until adopted or dropped */
                unlink_req(c, r);
        r->resp.msg = msg;
        r->resp.len = len;
        r->resp.h = h;
        r->done = true;
        pthread_cond_broadcast(&c->cv);
        return true;
}

/* ---- the keep-alive --------------------------------------------------- */

/* The keep-alive (receiver thread, c->mu held): an ECHO after
 * NP_SMB_ECHO_IDLE_MS of silence; the connection is lost when it is not
 * answered within NP_SMB_ECHO_WAIT_MS.  Returns the poll timeout. */
static int keepalive(struct np_smb_conn *c)
{
        int64_t now = np_smb_now_ms();

        if (c->state != NP_CONN_READY)
                return NP_SMB_ECHO_IDLE_MS;
        if (c->echo) {
                if (now - c->echo_sent_ms >= NP_SMB_ECHO_WAIT_MS) {
                        np_smb_fail_locked(c, NPIPE_ENETLOST,
                                           "%s did not answer a keep-alive ECHO within %d s",
                                           c->desc, NP_SMB_ECHO_WAIT_MS / 1000);
                        return 0;
                }
                return (int)(c->echo_sent_ms + NP_SMB_ECHO_WAIT_MS - now);
        }
        if (now - c->last_rx_ms < NP_SMB_ECHO_IDLE_MS)
                return (int)(c->last_rx_ms + NP_SMB_ECHO_IDLE_MS - now);
        if (c->credits < 1)
                return 1000;
        /* never wait for the send lock here: a writer holding it on a full
         * socket would stop the receiver */
        if (pthread_mutex_trylock(&c->send_mu) != 0)
                return 1000;
        pthread_mutex_unlock(&c->send_mu);
        struct np_smb_req *r = calloc(1, sizeof(*r));
        if (!r)
                return 1000;
        uint8_t msg[NP_SMB2_HDR_LEN + 4];
        np_smb_put_hdr(msg, NP_SMB2_ECHO, 1, NP_SMB_CREDITS_ASK, c->next_mid, 0, c->session_id);
        np_smb_build_small(msg, sizeof(msg), NP_SMB2_ECHO);
        if (c->dialect == NP_SMB_2_0_2)
                np_put16(msg + NP_SMB2_H(credit_charge), 0);
        r->mid = c->next_mid++;
        c->credits--;
        r->echo = true;
        r->next = c->pending;
        c->pending = r;
        c->echo = r;
        c->echo_sent_ms = now;
        pthread_mutex_unlock(&c->mu);
        int st = send_msg(c, msg, sizeof(msg), now + NP_SMB_ECHO_WAIT_MS);
        pthread_mutex_lock(&c->mu);
        if (st < 0)
                np_smb_fail_locked(c, NPIPE_ENETLOST, "sending a keep-alive to %s failed", c->desc);
        return NP_SMB_ECHO_WAIT_MS;
}

/* ---- the receiver ----------------------------------------------------- */

/* Read one frame into *msg (malloc'ed), *len.  false: the connection
 * failed (a frame too long for c->frame_cap fails it before anything is
 * allocated). */
static bool read_frame(struct np_smb_conn *c, uint8_t **msg, size_t *len)
{
        uint8_t lenbuf[4] = {0};

        int st = read_all(c->fd, lenbuf, 4);
        size_t n = (size_t)lenbuf[1] << 16 | (size_t)lenbuf[2] << 8 | lenbuf[3];
        pthread_mutex_lock(&c->mu);
        size_t cap = c->frame_cap;
        c->last_rx_ms = np_smb_now_ms();
        pthread_mutex_unlock(&c->mu);
        if (st == 0 && (lenbuf[0] != 0 || n > cap || n < 4)) {
                fail(c, "%s sent a frame of %zu bytes (at most %zu expected)", c->desc, n, cap);
                return false;
        }
        uint8_t *m = st == 0 ? malloc(n) : NULL;
        if (st == 0 && !m)
                st = NPIPE_ENOMEM;
        if (st == 0)
                st = read_all(c->fd, m, n);
        if (st < 0) {
                free(m);
                fail(c, "the connection to %s was lost%s", c->desc,
                     st == NPIPE_ENOMEM ? " (out of memory)" : "");
                return false;
        }
        *msg = m;
        *len = n;
        return true;
}

/* Take a frame's message out of its transform (in place; *len shrinks),
 * or check that a plain one may be plain: once an encrypted session is
 * set up, only an interim STATUS_PENDING may come unencrypted.  false:
 * the connection failed (msg is freed). */
static bool unwrap(struct np_smb_conn *c, uint8_t *msg, size_t *len, bool *encrypted)
{
        pthread_mutex_lock(&c->mu);
        bool keys = c->keys_ready;
        bool cipher = keys && c->keys.cipher != NP_SMB_CIPHER_NONE;
        bool need = c->encrypt && keys;
        uint64_t session_id = c->session_id;
        pthread_mutex_unlock(&c->mu);

        *encrypted = false;
        if (np_le32(msg) == NP_SMB2_TF_MAGIC) {
                size_t off, plen;
                uint64_t sid;
                /* the keys are not changed once keys_ready is set */
                if (!cipher || np_smb_decrypt(&c->keys, msg, *len, &off, &plen, &sid) < 0 ||
                    sid != session_id) {
                        free(msg);
                        fail(c,
                             "an encrypted message from %s did not decrypt: connection "
                             "dropped",
                             c->desc);
                        return false;
                }
                memmove(msg, msg + off, plen);
                *len = plen;
                *encrypted = true;
                return true;
        }
        if (need && *len >= NP_SMB2_HDR_LEN &&
            np_le32(msg + NP_SMB2_H(status)) != NP_STATUS_PENDING) {
                free(msg);
                fail(c,
                     "a plain-text response from %s on an encrypted session: connection "
                     "dropped",
                     c->desc);
                return false;
        }
        return true;
}

/* The receiver thread: frames until the connection dies, and the
 * keep-alive between them. */
static void *receiver(void *arg)
{
        struct np_smb_conn *c = arg;

        for (;;) {
                pthread_mutex_lock(&c->mu);
                int wait = keepalive(c);
                bool dead = c->state == NP_CONN_DEAD;
                pthread_mutex_unlock(&c->mu);
                if (dead)
                        break;
                struct pollfd p = {.fd = c->fd, .events = POLLIN};
                int n = poll(&p, 1, wait);
                if (n == 0 || (n < 0 && errno == EINTR))
                        continue;
                uint8_t *msg;
                size_t len;
                bool encrypted;
                if (!read_frame(c, &msg, &len) || !unwrap(c, msg, &len, &encrypted))
                        break;
                pthread_mutex_lock(&c->mu);
                bool ok = dispatch(c, msg, len, encrypted);
                if (ok && c->credits == 0 && !outstanding(c)) {
                        /* nothing will ever grant another: every call
                         * would wait for ever */
                        np_smb_fail_locked(c, NPIPE_ENETLOST,
                                           "%s left this client no SMB2 credits: connection "
                                           "dropped",
                                           c->desc);
                        ok = false;
                }
                pthread_mutex_unlock(&c->mu);
                if (!ok)
                        break;
        }
        return NULL;
}

/* ---- start, stop ------------------------------------------------------ */

void np_smb_xport_init(struct np_smb_conn *c)
{
        c->fd = -1;
        c->credits = 1;
        c->frame_cap = NP_SMB_FRAME_CAP_INITIAL;
        c->last_rx_ms = np_smb_now_ms();
        pthread_mutex_init(&c->mu, NULL);
        pthread_mutex_init(&c->send_mu, NULL);
        np_smb_cond_init_mono(&c->cv);
}

int np_smb_xport_start(struct np_smb_conn *c, int64_t deadline)
{
        int st = np_smb_tcp_connect(c->host, c->port, c->desc, deadline, &c->fd);
        if (st < 0)
                return st;
        if (pthread_create(&c->rx, NULL, receiver, c) != 0) {
                np_smb_why("cannot start the SMB receiver thread");
                return NPIPE_ENOMEM;
        }
        c->rx_started = true;
        return 0;
}

void np_smb_xport_destroy(struct np_smb_conn *c)
{
        if (c->rx_started)
                pthread_join(c->rx, NULL);
        if (c->fd >= 0)
                close(c->fd);
        while (c->pending) { /* only given-up keep-alives can be left */
                struct np_smb_req *r = c->pending;
                c->pending = r->next;
                free(r->resp.msg);
                free(r);
        }
        pthread_mutex_destroy(&c->mu);
        pthread_mutex_destroy(&c->send_mu);
        pthread_cond_destroy(&c->cv);
        memset(&c->keys, 0, sizeof(c->keys));
}

/* ---- calls ------------------------------------------------------------ */

static uint16_t charge_of(const struct np_smb_conn *c, size_t io_len)
{
        if (c->dialect == NP_SMB_2_0_2 || c->dialect == 0 || io_len <= 65536)
                return 1;
        return (uint16_t)(1 + (io_len - 1) / 65536);
}

static int send_cancel(struct np_smb_conn *c, const struct np_smb_req *r, bool async,
                       uint64_t async_id)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 4];

        np_smb_put_hdr(msg, NP_SMB2_CANCEL, 0, 0, r->mid, c->tree_id, c->session_id);
        if (async) {
                np_put32(msg + NP_SMB2_H(flags), NP_SMB2_FLAGS_ASYNC_COMMAND);
                np_put64(msg + NP_SMB2_H_ASYNC_ID, async_id);
        }
        np_smb_build_small(msg, sizeof(msg), NP_SMB2_CANCEL);
        return send_msg(c, msg, sizeof(msg), np_smb_now_ms() + NP_SMB_CANCEL_GRACE_MS);
}

static int wait_req(struct np_smb_conn *c, struct np_smb_req *r, uint16_t command, int64_t deadline,
                    bool adoptable, struct np_smb_resp *out);

int np_smb_call(struct np_smb_conn *c, uint8_t *msg, size_t len, size_t io_len, int timeout_ms,
                struct np_smb_resp *out)
{
        return np_smb_call_ex(c, msg, len, io_len, NULL, 0, timeout_ms, 0, out);
}

/* Has owner been cancelled since gen0?  (c->mu held.) */
static bool cancelled(const struct np_smb_owner *owner, unsigned gen0)
{
        return owner && owner->cancel_gen != gen0;
}

/* Wait until c has the credits for charge (c->mu held throughout): 0, or
 * why the request cannot be sent (with why()). */
static int await_credits(struct np_smb_conn *c, uint16_t charge, const struct np_smb_owner *owner,
                         unsigned gen0, int64_t deadline)
{
        for (;;) {
                if (c->state == NP_CONN_DEAD) {
                        np_smb_why("%s", c->dead_why);
                        return c->dead_st;
                }
                if (cancelled(owner, gen0)) {
                        np_smb_why("cancelled");
                        return NPIPE_ECANCELED;
                }
                if (c->credits >= charge)
                        return 0;
                if (!outstanding(c)) {
                        /* the server granted fewer than this request
                         * costs, and no answer will bring more */
                        np_smb_why("%s grants %u SMB2 credits, %u needed", c->desc, c->credits,
                                   charge);
                        return NPIPE_EPROTO;
                }
                if (!np_smb_cv_wait(&c->cv, &c->mu, deadline)) {
                        np_smb_why("no SMB2 credits from %s within the timeout", c->desc);
                        return NPIPE_ETIMEDOUT;
                }
        }
}

int np_smb_call_ex(struct np_smb_conn *c, uint8_t *msg, size_t len, size_t io_len,
                   struct np_smb_owner *owner, unsigned gen0, int timeout_ms, unsigned flags,
                   struct np_smb_resp *out)
{
        uint16_t command = np_le16(msg + NP_SMB2_H(command));
        int64_t deadline = np_smb_deadline(timeout_ms);

        memset(out, 0, sizeof(*out));
        struct np_smb_req *r = calloc(1, sizeof(*r));
        if (!r)
                return NPIPE_ENOMEM;
        r->owner = owner;
        r->gen0 = gen0;

        pthread_mutex_lock(&c->mu);
        uint16_t charge = charge_of(c, io_len);
        int st = await_credits(c, charge, owner, gen0, deadline);
        if (st < 0) {
                pthread_mutex_unlock(&c->mu);
                free(r);
                return st;
        }
        c->credits -= charge;
        r->mid = c->next_mid;
        c->next_mid += charge;
        np_put64(msg + NP_SMB2_H(message_id), r->mid);
        np_put16(msg + NP_SMB2_H(credit_charge),
                 c->dialect == NP_SMB_2_0_2 || command == NP_SMB2_NEGOTIATE ? 0 : charge);
        np_put16(msg + NP_SMB2_H(credits),
                 (uint16_t)(charge > NP_SMB_CREDITS_ASK ? charge : NP_SMB_CREDITS_ASK));
        np_put64(msg + NP_SMB2_H(session_id), c->session_id);
        if (command != NP_SMB2_NEGOTIATE && command != NP_SMB2_SESSION_SETUP &&
            command != NP_SMB2_TREE_CONNECT && command != NP_SMB2_LOGOFF)
                np_put32(msg + NP_SMB2_H_TREE_ID, c->tree_id);
        r->next = c->pending;
        c->pending = r;
        pthread_mutex_unlock(&c->mu);

        /* a request stuck half-written would garble the stream: a send that
         * cannot finish in time ends the connection */
        st = send_msg(c, msg, len, deadline < 0 ? -1 : deadline + NP_SMB_CANCEL_GRACE_MS);

        pthread_mutex_lock(&c->mu);
        if (st < 0) {
                unlink_req(c, r);
                np_smb_fail_locked(c, NPIPE_ENETLOST, "sending to %s failed (%s)", c->desc,
                                   st == NPIPE_ETIMEDOUT ? "timed out" : strerror(-st));
                np_smb_why("%s", c->dead_why);
                pthread_mutex_unlock(&c->mu);
                free(r);
                return NPIPE_ENETLOST;
        }
        return wait_req(c, r, command, deadline, flags & NP_SMB_CALL_ADOPTABLE, out);
}

/* Wait for r's final answer (c->mu held; released on return).  At the
 * deadline, or when np_smb_cancel_owner asks, the server is sent a CANCEL:
 * an adoptable request is then left as an orphan for np_smb_adopt and the
 * call returns at once; any other waits NP_SMB_CANCEL_GRACE_MS for the
 * server's answer and is then given up. */
static int wait_req(struct np_smb_conn *c, struct np_smb_req *r, uint16_t command, int64_t deadline,
                    bool adoptable, struct np_smb_resp *out)
{
        int why_st = 0;
        bool grace = false;
        int st;

        for (;;) {
                if (r->done)
                        break;
                if (c->state == NP_CONN_DEAD) {
                        unlink_req(c, r);
                        st = c->dead_st;
                        np_smb_why("%s", c->dead_why);
                        pthread_mutex_unlock(&c->mu);
                        free(r);
                        return st;
                }
                if (cancelled(r->owner, r->gen0)) {
                        r->gen0 = r->owner->cancel_gen; /* once */
                        why_st = NPIPE_ECANCELED;
                } else if (np_smb_cv_wait(&c->cv, &c->mu, deadline)) {
                        continue;
                } else if (!why_st) {
                        why_st = NPIPE_ETIMEDOUT;
                }
                if (r->done)
                        break;
                if (!r->cancel_sent) {
                        /* ask the server to end it; its answer (CANCELLED,
                         * or the result if it won the race) ends the wait */
                        r->cancel_sent = true;
                        bool async = r->async;
                        uint64_t aid = r->async_id;
                        pthread_mutex_unlock(&c->mu);
                        send_cancel(c, r, async, aid);
                        pthread_mutex_lock(&c->mu);
                        if (r->done)
                                break;
                }
                if (adoptable) {
                        /* smbd does not cancel pipe READs at all: the READ
                         * stays pending there, and whatever it brings is
                         * the next read's (np_smb_adopt), not lost */
                        r->orphan = true;
                        pthread_mutex_unlock(&c->mu);
                        np_smb_why("%s %s on %s", command == NP_SMB2_READ ? "read" : "request",
                                   why_st == NPIPE_ETIMEDOUT ? "timed out" : "cancelled", c->desc);
                        return why_st;
                }
                if (!grace) {
                        grace = true;
                        deadline = np_smb_now_ms() + NP_SMB_CANCEL_GRACE_MS;
                        continue;
                }
                /* no answer even to the CANCEL: give the request up (a late
                 * answer is read and dropped) */
                r->discard = true;
                pthread_mutex_unlock(&c->mu);
                np_smb_why("%s %s: no answer from %s", command == NP_SMB2_READ ? "read" : "request",
                           why_st == NPIPE_ETIMEDOUT ? "timed out" : "cancelled", c->desc);
                return why_st;
        }
        unlink_req(c, r);
        pthread_mutex_unlock(&c->mu);
        *out = r->resp;
        free(r);
        if (why_st && out->h.status == NP_STATUS_CANCELLED) {
                np_smb_resp_free(out);
                np_smb_why("%s", why_st == NPIPE_ETIMEDOUT ? "timed out" : "cancelled");
                return why_st;
        }
        return 0;
}

int np_smb_adopt(struct np_smb_conn *c, struct np_smb_owner *owner, unsigned gen0, int timeout_ms,
                 struct np_smb_resp *out)
{
        struct np_smb_req *r;

        memset(out, 0, sizeof(*out));
        pthread_mutex_lock(&c->mu);
        for (r = c->pending; r; r = r->next)
                if (r->orphan && r->owner == owner)
                        break;
        if (!r) {
                pthread_mutex_unlock(&c->mu);
                return 1;
        }
        r->orphan = false;
        r->gen0 = gen0;
        return wait_req(c, r, NP_SMB2_READ, np_smb_deadline(timeout_ms), true, out);
}

bool np_smb_has_orphan(struct np_smb_conn *c, const struct np_smb_owner *owner)
{
        bool found = false;

        pthread_mutex_lock(&c->mu);
        for (struct np_smb_req *r = c->pending; r && !found; r = r->next)
                found = r->orphan && r->owner == owner;
        pthread_mutex_unlock(&c->mu);
        return found;
}

void np_smb_drop_owner(struct np_smb_conn *c, const struct np_smb_owner *owner)
{
        pthread_mutex_lock(&c->mu);
        for (struct np_smb_req **pp = &c->pending; *pp;) {
                struct np_smb_req *r = *pp;
                if (r->owner == owner && r->orphan && r->done) {
                        *pp = r->next;
                        free(r->resp.msg);
                        free(r);
                        continue;
                }
                if (r->owner == owner) {
                        r->orphan = false;
                        r->discard = true;
                }
                pp = &r->next;
        }
        pthread_mutex_unlock(&c->mu);
}

void np_smb_cancel_owner(struct np_smb_conn *c, struct np_smb_owner *owner)
{
        pthread_mutex_lock(&c->mu);
        owner->cancel_gen++;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
}

unsigned np_smb_owner_gen(struct np_smb_conn *c, const struct np_smb_owner *owner)
{
        pthread_mutex_lock(&c->mu);
        unsigned g = owner->cancel_gen;
        pthread_mutex_unlock(&c->mu);
        return g;
}
