/*
 * conn.c - SMB2/3 connections (conn.h).
 *
 * A connection is found by (host, port, user, domain, options) in one
 * table, per process: a forked child never touches its parent's (the pid
 * is part of the match, and a child forgets the table at fork), since the
 * socket and the message sequence are shared with the parent.
 *
 * Locks.  np_conns_mu guards the table and the reference counts; c->mu
 * guards the state, the credits, the MessageIds and the list of requests
 * waiting for their answer; c->send_mu keeps frames whole on the socket
 * and guards the encryption nonce.  The order is np_conns_mu, then c->mu;
 * c->send_mu is never taken with c->mu held, so a sender stuck on a full
 * socket never stops the receiver (which takes only c->mu, and send_mu
 * only with trylock, for the keep-alive).
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
#include "smb/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smb/auth.h"
#include "smb/crypto.h"

/* Credits asked for with each request: enough for many blocking reads. */
#define NP_SMB_CREDITS_ASK 64
/* Frames before NEGOTIATE told us the sizes (a SESSION_SETUP blob is at
 * most 64 KiB). */
#define NP_SMB_FRAME_CAP_INITIAL (128u * 1024)
/* Slack over the payload: header, fixed part, transform header. */
#define NP_SMB_FRAME_SLACK 4096u
/* Session setup round trips before we call it a loop. */
#define NP_SMB_AUTH_ROUNDS 8
/* How long the polite LOGOFF at the end may take. */
#define NP_SMB_LOGOFF_MS 2000

enum np_conn_state { NP_CONN_SETUP, NP_CONN_READY, NP_CONN_DEAD };

struct np_smb_req {
        struct np_smb_req *next;
        uint64_t mid;
        uint64_t async_id;
        bool async;     /* an interim STATUS_PENDING gave async_id */
        bool done;      /* final answer in resp */
        bool cancel_sent;
        bool echo;      /* the keep-alive's own (freed by the receiver) */
        bool discard;   /* nobody wants the answer: freed by the receiver */
        bool orphan;    /* given up by its caller, kept for np_smb_adopt */
        struct np_smb_owner *owner;
        unsigned gen0; /* owner's cancel generation when the call began */
        struct np_smb_resp resp;
};

struct np_smb_conn {
        struct np_smb_conn *next;
        unsigned refs;
        pid_t pid;
        /* the key */
        char *host, *user, *domain;
        uint16_t port;
        unsigned flags;
        uint16_t max_dialect;
        char desc[300];

        int fd;
        pthread_t rx;
        bool rx_started;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_mutex_t send_mu;

        enum np_conn_state state;
        int dead_st;
        char dead_why[256];
        uint64_t next_mid;
        uint32_t credits;
        struct np_smb_req *pending;
        int64_t last_rx_ms;
        struct np_smb_req *echo; /* outstanding keep-alive */
        int64_t echo_sent_ms;

        /* what NEGOTIATE and SESSION_SETUP settled (written before any
         * request that depends on them is sent) */
        uint16_t dialect;
        uint32_t caps;
        uint32_t max_read, max_write, max_transact;
        size_t frame_cap;
        uint64_t session_id;
        uint32_t tree_id;
        bool keys_ready; /* keys derived: verify signed answers */
        bool sign;       /* sign every request */
        bool encrypt;    /* encrypt every request (and expect it back) */
        struct np_smb_keys keys;
};

static pthread_mutex_t np_conns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t np_conns_cv; /* a connection finished its set-up */
static struct np_smb_conn *np_conns;
static pthread_once_t np_conns_once = PTHREAD_ONCE_INIT;

static void conns_child(void)
{
        /* The parent's connections are the parent's: forget them (the
         * memory stays; their sockets stay open for the parent). */
        pthread_mutex_init(&np_conns_mu, NULL);
        np_conns = NULL;
}

static void conns_prepare(void)
{
        pthread_mutex_lock(&np_conns_mu);
}

static void conns_parent(void)
{
        pthread_mutex_unlock(&np_conns_mu);
}

static void cond_init_mono(pthread_cond_t *cv)
{
        pthread_condattr_t a;

        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(cv, &a);
        pthread_condattr_destroy(&a);
}

static void conns_init(void)
{
        cond_init_mono(&np_conns_cv);
        pthread_atfork(conns_prepare, conns_parent, conns_child);
}

/* Wait on cv until deadline (ms, CLOCK_MONOTONIC; -1: none).  false once
 * the deadline has passed. */
static bool cv_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
        if (deadline < 0) {
                pthread_cond_wait(cv, mu);
                return true;
        }
        int64_t now = np_smb_now_ms();
        if (now >= deadline)
                return false;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (deadline - now) % 1000 * 1000000;
        ts.tv_sec += (deadline - now) / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(cv, mu, &ts);
        return true;
}

static int64_t deadline_of(int timeout_ms)
{
        return timeout_ms < 0 ? -1 : np_smb_now_ms() + timeout_ms;
}

bool np_smb_conn_forked(const struct np_smb_conn *c)
{
        return c->pid != getpid();
}

const char *np_smb_conn_desc(const struct np_smb_conn *c)
{
        return c->desc;
}

uint16_t np_smb_conn_dialect(const struct np_smb_conn *c)
{
        return c->dialect;
}

uint32_t np_smb_conn_max_read(const struct np_smb_conn *c)
{
        return c->max_read;
}

uint32_t np_smb_conn_max_write(const struct np_smb_conn *c)
{
        return c->max_write;
}

uint32_t np_smb_conn_max_transact(const struct np_smb_conn *c)
{
        return c->max_transact;
}

void np_smb_resp_free(struct np_smb_resp *r)
{
        free(r->msg);
        r->msg = NULL;
        r->len = 0;
}

/* ---- failure ---------------------------------------------------------- */

/* Mark c dead (c->mu held): every waiter ends with st, the socket is shut
 * down so that the receiver ends too. */
static void fail_locked(struct np_smb_conn *c, int st, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fail_locked(struct np_smb_conn *c, int st, const char *fmt, ...)
{
        va_list ap;

        if (c->state == NP_CONN_DEAD)
                return;
        c->state = NP_CONN_DEAD;
        c->dead_st = st;
        va_start(ap, fmt);
        vsnprintf(c->dead_why, sizeof(c->dead_why), fmt, ap);
        va_end(ap);
        if (c->fd >= 0 && !np_smb_conn_forked(c))
                shutdown(c->fd, SHUT_RDWR);
        pthread_cond_broadcast(&c->cv);
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
        bool enc = c->encrypt && keys && command != NP_SMB2_NEGOTIATE &&
                   command != NP_SMB2_SESSION_SETUP;
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

/* One message msg[0 .. len) (plain; encrypted says whether it came in a
 * transform).  Owns msg.  c->mu held.  false: the connection failed. */
static bool dispatch(struct np_smb_conn *c, uint8_t *msg, size_t len, bool encrypted)
{
        struct np_smb_hdr h;

        if (np_smb_parse_hdr(msg, len, &h) < 0 || h.next_command != 0) {
                free(msg);
                fail_locked(c, NPIPE_ENETLOST, "malformed SMB2 message from %s", c->desc);
                return false;
        }
        if (c->credits + (uint32_t)h.credits <= 65535)
                c->credits += h.credits;
        if (h.message_id == NP_SMB2_UNSOLICITED_ID) { /* an oplock break: none asked */
                free(msg);
                return true;
        }
        bool interim = h.status == NP_STATUS_PENDING && (h.flags & NP_SMB2_FLAGS_ASYNC_COMMAND);
        /* Authenticity, once the session has keys (the SESSION_SETUP
         * answers are the session set-up's to check). */
        if (c->keys_ready && h.command != NP_SMB2_SESSION_SETUP &&
            h.session_id == c->session_id && !encrypted) {
                if (h.flags & NP_SMB2_FLAGS_SIGNED) {
                        if (np_smb_verify(&c->keys, msg, len) < 0) {
                                free(msg);
                                fail_locked(c, NPIPE_ENETLOST,
                                            "a response from %s failed signature "
                                            "verification: connection dropped",
                                            c->desc);
                                return false;
                        }
                } else if ((c->sign || c->encrypt) && !interim) {
                        free(msg);
                        fail_locked(c, NPIPE_ENETLOST,
                                    "an unsigned response from %s on a %s session: "
                                    "connection dropped",
                                    c->desc, c->encrypt ? "encrypted" : "signed");
                        return false;
                }
        }
        struct np_smb_req *r = find_req(c, h.message_id);
        if (!r) { /* given up on, or never ours */
                free(msg);
                return true;
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
                        fail_locked(c, NPIPE_ENETLOST,
                                    "%s did not answer a keep-alive ECHO within %d s", c->desc,
                                    NP_SMB_ECHO_WAIT_MS / 1000);
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
                fail_locked(c, NPIPE_ENETLOST, "sending a keep-alive to %s failed", c->desc);
        return NP_SMB_ECHO_WAIT_MS;
}

static void *receiver(void *arg)
{
        struct np_smb_conn *c = arg;

        for (;;) {
                uint8_t lenbuf[4];

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
                int st = read_all(c->fd, lenbuf, 4);
                size_t len = (size_t)lenbuf[1] << 16 | (size_t)lenbuf[2] << 8 | lenbuf[3];
                pthread_mutex_lock(&c->mu);
                size_t cap = c->frame_cap;
                c->last_rx_ms = np_smb_now_ms();
                pthread_mutex_unlock(&c->mu);
                if (st == 0 && (lenbuf[0] != 0 || len > cap || len < 4)) {
                        pthread_mutex_lock(&c->mu);
                        fail_locked(c, NPIPE_ENETLOST,
                                    "%s sent a frame of %zu bytes (at most %zu expected)",
                                    c->desc, len, cap);
                        pthread_mutex_unlock(&c->mu);
                        break;
                }
                uint8_t *msg = st == 0 ? malloc(len) : NULL;
                if (st == 0 && !msg)
                        st = NPIPE_ENOMEM;
                if (st == 0)
                        st = read_all(c->fd, msg, len);
                if (st < 0) {
                        free(msg);
                        pthread_mutex_lock(&c->mu);
                        fail_locked(c, NPIPE_ENETLOST, "the connection to %s was lost%s",
                                    c->desc, st == NPIPE_ENOMEM ? " (out of memory)" : "");
                        pthread_mutex_unlock(&c->mu);
                        break;
                }
                bool encrypted = false;
                if (np_le32(msg) == NP_SMB2_TF_MAGIC) {
                        size_t off, plen;
                        uint64_t sid;
                        pthread_mutex_lock(&c->mu);
                        bool ok = c->keys_ready && c->keys.cipher != NP_SMB_CIPHER_NONE;
                        pthread_mutex_unlock(&c->mu);
                        if (!ok || np_smb_decrypt(&c->keys, msg, len, &off, &plen, &sid) < 0 ||
                            sid != c->session_id) {
                                free(msg);
                                pthread_mutex_lock(&c->mu);
                                fail_locked(c, NPIPE_ENETLOST,
                                            "an encrypted message from %s did not decrypt: "
                                            "connection dropped",
                                            c->desc);
                                pthread_mutex_unlock(&c->mu);
                                break;
                        }
                        memmove(msg, msg + off, plen);
                        len = plen;
                        encrypted = true;
                } else {
                        pthread_mutex_lock(&c->mu);
                        bool need = c->encrypt && c->keys_ready;
                        pthread_mutex_unlock(&c->mu);
                        if (need && len >= NP_SMB2_HDR_LEN &&
                            np_le32(msg + NP_SMB2_H(status)) != NP_STATUS_PENDING) {
                                free(msg);
                                pthread_mutex_lock(&c->mu);
                                fail_locked(c, NPIPE_ENETLOST,
                                            "a plain-text response from %s on an encrypted "
                                            "session: connection dropped",
                                            c->desc);
                                pthread_mutex_unlock(&c->mu);
                                break;
                        }
                }
                pthread_mutex_lock(&c->mu);
                bool ok = dispatch(c, msg, len, encrypted);
                pthread_mutex_unlock(&c->mu);
                if (!ok)
                        break;
        }
        return NULL;
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

static int wait_req(struct np_smb_conn *c, struct np_smb_req *r, uint16_t command,
                    int64_t deadline, bool adoptable, struct np_smb_resp *out);

int np_smb_call(struct np_smb_conn *c, uint8_t *msg, size_t len, size_t io_len,
                int timeout_ms, struct np_smb_resp *out)
{
        return np_smb_call_ex(c, msg, len, io_len, NULL, 0, timeout_ms, 0, out);
}

/* Has owner been cancelled since gen0?  (c->mu held.) */
static bool cancelled(const struct np_smb_owner *owner, unsigned gen0)
{
        return owner && owner->cancel_gen != gen0;
}

int np_smb_call_ex(struct np_smb_conn *c, uint8_t *msg, size_t len, size_t io_len,
                   struct np_smb_owner *owner, unsigned gen0, int timeout_ms, unsigned flags,
                   struct np_smb_resp *out)
{
        uint16_t command = np_le16(msg + NP_SMB2_H(command));
        int64_t deadline = deadline_of(timeout_ms);
        int st;

        memset(out, 0, sizeof(*out));
        struct np_smb_req *r = calloc(1, sizeof(*r));
        if (!r)
                return NPIPE_ENOMEM;
        r->owner = owner;
        r->gen0 = gen0;

        pthread_mutex_lock(&c->mu);
        uint16_t charge = charge_of(c, io_len);
        for (;;) {
                if (c->state == NP_CONN_DEAD) {
                        st = c->dead_st;
                        np_smb_why("%s", c->dead_why);
                        pthread_mutex_unlock(&c->mu);
                        free(r);
                        return st;
                }
                if (cancelled(owner, gen0)) {
                        pthread_mutex_unlock(&c->mu);
                        free(r);
                        np_smb_why("cancelled");
                        return NPIPE_ECANCELED;
                }
                if (c->credits >= charge)
                        break;
                if (!cv_wait(&c->cv, &c->mu, deadline)) {
                        pthread_mutex_unlock(&c->mu);
                        free(r);
                        np_smb_why("no SMB2 credits from %s within the timeout", c->desc);
                        return NPIPE_ETIMEDOUT;
                }
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
                fail_locked(c, NPIPE_ENETLOST, "sending to %s failed (%s)", c->desc,
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
static int wait_req(struct np_smb_conn *c, struct np_smb_req *r, uint16_t command,
                    int64_t deadline, bool adoptable, struct np_smb_resp *out)
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
                } else if (cv_wait(&c->cv, &c->mu, deadline)) {
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
                                   why_st == NPIPE_ETIMEDOUT ? "timed out" : "cancelled",
                                   c->desc);
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

int np_smb_adopt(struct np_smb_conn *c, struct np_smb_owner *owner, unsigned gen0,
                 int timeout_ms, struct np_smb_resp *out)
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
        return wait_req(c, r, NP_SMB2_READ, deadline_of(timeout_ms), true, out);
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

/* ---- set-up ----------------------------------------------------------- */

/* Resolve and connect before deadline. */
static int tcp_connect(struct np_smb_conn *c, int64_t deadline)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
        struct addrinfo *res = NULL;
        char port[8];
        int err, last = 0;

        snprintf(port, sizeof(port), "%u", c->port);
        /* a literal address in brackets ([::1]) */
        char host[256];
        snprintf(host, sizeof(host), "%s", c->host);
        size_t hl = strlen(host);
        if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
                memmove(host, host + 1, hl - 2);
                host[hl - 2] = 0;
        }
        err = getaddrinfo(host, port, &hints, &res);
        if (err != 0) {
                np_smb_why("cannot resolve %s: %s", c->host, gai_strerror(err));
                return err == EAI_MEMORY ? NPIPE_ENOMEM
                       : err == EAI_AGAIN ? NPIPE_ETIMEDOUT
                                          : NPIPE_ENETPATH;
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                ai->ai_protocol);
                if (fd < 0) {
                        last = errno;
                        continue;
                }
                int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
                if (r < 0 && errno == EINPROGRESS) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        int wait = -1, pr;
                        if (deadline >= 0) {
                                int64_t left = deadline - np_smb_now_ms();
                                wait = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
                        }
                        do
                                pr = poll(&p, 1, wait);
                        while (pr < 0 && errno == EINTR);
                        if (pr == 0) {
                                close(fd);
                                freeaddrinfo(res);
                                np_smb_why("connecting to %s timed out", c->desc);
                                return NPIPE_ETIMEDOUT;
                        }
                        socklen_t sl = sizeof(err);
                        if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
                                err = errno;
                        r = err ? -1 : 0;
                        errno = err;
                }
                if (r < 0) {
                        last = errno;
                        close(fd);
                        continue;
                }
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                c->fd = fd;
                freeaddrinfo(res);
                return 0;
        }
        freeaddrinfo(res);
        np_smb_why("cannot connect to %s: %s", c->desc, strerror(last ? last : ECONNREFUSED));
        return last == ENOMEM ? NPIPE_ENOMEM : NPIPE_ENETPATH;
}

static uint32_t cap_size(uint32_t v, bool large_mtu)
{
        uint32_t cap = large_mtu ? NP_SMB_IO_CAP : 65536;
        return v > cap ? cap : v;
}

/* A response that is not success: its NPIPE_* status with why(). */
static int fail_status(struct np_smb_conn *c, const char *what, uint32_t nt)
{
        const char *name = np_smb_status_name(nt);
        np_smb_why("%s on %s: %s%s(0x%08x)", what, c->desc, name ? name : "", name ? " " : "", nt);
        return np_smb_status(nt) == 0 ? NPIPE_EPROTO : np_smb_status(nt);
}

static int do_negotiate(struct np_smb_conn *c, int64_t deadline, uint8_t preauth[64],
                        struct np_smb_negotiate_info *ni, struct np_smb_resp *keep)
{
        static const uint16_t all[] = {NP_SMB_2_0_2, NP_SMB_2_1, NP_SMB_3_0, NP_SMB_3_0_2,
                                       NP_SMB_3_1_1};
        static const uint16_t ciphers[] = {NP_SMB_CIPHER_AES128_GCM, NP_SMB_CIPHER_AES128_CCM,
                                           NP_SMB_CIPHER_AES256_GCM, NP_SMB_CIPHER_AES256_CCM};
        static const uint16_t signs[] = {NP_SMB_SIGN_AES_GMAC, NP_SMB_SIGN_AES_CMAC,
                                         NP_SMB_SIGN_HMAC_SHA256};
        struct np_smb_negotiate_args a = {0};
        uint16_t dialects[5];
        unsigned n = 0;
        uint16_t maxd = c->max_dialect ? c->max_dialect : NP_SMB_3_1_1;
        uint8_t msg[512];
        int len, st;

        for (unsigned i = 0; i < 5; i++)
                if (all[i] <= maxd)
                        dialects[n++] = all[i];
        if (n == 0) {
                np_smb_why("no SMB dialect at or below 0x%04x", maxd);
                return NPIPE_EINVAL;
        }
        a.dialects = dialects;
        a.n_dialects = n;
        a.security_mode = NP_SMB2_NEGOTIATE_SIGNING_ENABLED |
                          ((c->flags & NPIPE_AUTH_SIGN) ? NP_SMB2_NEGOTIATE_SIGNING_REQUIRED : 0);
        if (dialects[n - 1] >= NP_SMB_3_0)
                a.capabilities = NP_SMB2_GLOBAL_CAP_LARGE_MTU | NP_SMB2_GLOBAL_CAP_ENCRYPTION;
        else if (dialects[n - 1] >= NP_SMB_2_1)
                a.capabilities = NP_SMB2_GLOBAL_CAP_LARGE_MTU;
        if (getrandom(a.client_guid, sizeof(a.client_guid), 0) != sizeof(a.client_guid) ||
            getrandom(a.salt, sizeof(a.salt), 0) != sizeof(a.salt)) {
                np_smb_why("no random bytes for the client GUID");
                return NPIPE_ENOMEM;
        }
        a.ciphers = ciphers;
        a.n_ciphers = 4;
        a.sign_algs = signs;
        a.n_sign_algs = 3;
        np_smb_put_hdr(msg, NP_SMB2_NEGOTIATE, 0, 0, 0, 0, 0);
        len = np_smb_build_negotiate(msg, sizeof(msg), &a);
        if (len < 0)
                return len;
        int tmo = deadline < 0 ? -1 : (int)(deadline - np_smb_now_ms());
        if (deadline >= 0 && tmo <= 0)
                tmo = 1;
        st = np_smb_call(c, msg, (size_t)len, 0, tmo, keep);
        if (st < 0) {
                if (st == NPIPE_ENETLOST)
                        np_smb_why("%s closed the connection at NEGOTIATE (no SMB2 server?)",
                                   c->desc);
                return st == NPIPE_ENETLOST ? NPIPE_ENETPATH : st;
        }
        if (keep->h.status != NP_STATUS_SUCCESS)
                return fail_status(c, "NEGOTIATE", keep->h.status);
        if (np_smb_parse_negotiate(keep->msg, keep->len, ni) < 0) {
                np_smb_why("a malformed NEGOTIATE response from %s", c->desc);
                return NPIPE_EPROTO;
        }
        bool offered = false;
        for (unsigned i = 0; i < n; i++)
                offered |= dialects[i] == ni->dialect;
        if (!offered) {
                np_smb_why("%s chose dialect 0x%04x, which we did not offer", c->desc,
                           ni->dialect);
                return NPIPE_EPROTO;
        }
        if (ni->dialect == NP_SMB_3_1_1) {
                memset(preauth, 0, 64);
                if (np_smb_preauth_update(preauth, msg, (size_t)len) < 0 ||
                    np_smb_preauth_update(preauth, keep->msg, keep->len) < 0) {
                        np_smb_why("the pre-authentication hash failed");
                        return NPIPE_ENOMEM;
                }
        }
        return 0;
}

static int do_session_setup(struct np_smb_conn *c, const struct np_smb_cfg *cfg,
                            int64_t deadline, const struct np_smb_negotiate_info *ni,
                            uint8_t preauth[64])
{
        struct np_smb_auth *a = NULL;
        uint8_t *tok = NULL;
        size_t tok_len = 0;
        bool done = false;
        uint8_t *msg = NULL;
        struct np_smb_resp r = {0};
        uint16_t sflags = 0;
        char who[300];
        int st;
        bool anon = cfg->flags & NPIPE_AUTH_ANONYMOUS;

        np_smb_cfg_who(cfg, who, sizeof(who));
        st = np_smb_auth_start(cfg, &a);
        if (st < 0)
                return st;
        st = np_smb_auth_step(a, NULL, 0, &tok, &tok_len, &done);
        for (int round = 0; st == 0; round++) {
                if (round >= NP_SMB_AUTH_ROUNDS) {
                        np_smb_why("session setup with %s did not end after %d rounds", c->desc,
                                   round);
                        st = NPIPE_EPROTO;
                        break;
                }
                free(msg);
                msg = malloc(NP_SMB2_HDR_LEN + 24 + tok_len);
                if (!msg) {
                        st = NPIPE_ENOMEM;
                        break;
                }
                np_smb_put_hdr(msg, NP_SMB2_SESSION_SETUP, 1, 0, 0, 0, 0);
                int len = np_smb_build_session_setup(
                        msg, NP_SMB2_HDR_LEN + 24 + tok_len,
                        NP_SMB2_NEGOTIATE_SIGNING_ENABLED |
                                ((c->flags & NPIPE_AUTH_SIGN) ? NP_SMB2_NEGOTIATE_SIGNING_REQUIRED
                                                              : 0),
                        tok, tok_len);
                free(tok);
                tok = NULL;
                if (len < 0) {
                        np_smb_why("a security token too large for SESSION_SETUP");
                        st = len;
                        break;
                }
                int tmo = deadline < 0 ? -1 : (int)(deadline - np_smb_now_ms());
                if (deadline >= 0 && tmo <= 0)
                        tmo = 1;
                np_smb_resp_free(&r);
                st = np_smb_call(c, msg, (size_t)len, 0, tmo, &r);
                if (st < 0)
                        break;
                if (ni->dialect == NP_SMB_3_1_1)
                        np_smb_preauth_update(preauth, msg, (size_t)len);
                if (c->session_id == 0) {
                        pthread_mutex_lock(&c->mu);
                        c->session_id = r.h.session_id;
                        pthread_mutex_unlock(&c->mu);
                }
                uint32_t nt = r.h.status;
                if (nt != NP_STATUS_SUCCESS && nt != NP_STATUS_MORE_PROCESSING_REQUIRED) {
                        st = fail_status(c, "session setup", nt);
                        if (st == NPIPE_ELOGON || nt == NP_STATUS_ACCESS_DENIED) {
                                const char *name = np_smb_status_name(nt);
                                np_smb_why("logon failure for %s at %s (%s)", who, c->desc,
                                           name ? name : "refused");
                                st = NPIPE_ELOGON;
                        }
                        break;
                }
                const uint8_t *blob;
                size_t blob_len;
                if (np_smb_parse_session_setup(r.msg, r.len, &sflags, &blob, &blob_len) < 0) {
                        np_smb_why("a malformed SESSION_SETUP response from %s", c->desc);
                        st = NPIPE_EPROTO;
                        break;
                }
                if (nt == NP_STATUS_MORE_PROCESSING_REQUIRED) {
                        if (ni->dialect == NP_SMB_3_1_1)
                                np_smb_preauth_update(preauth, r.msg, r.len);
                        if (done) {
                                np_smb_why("%s wants more session setup rounds than GSSAPI",
                                           c->desc);
                                st = NPIPE_EPROTO;
                                break;
                        }
                        st = np_smb_auth_step(a, blob, blob_len, &tok, &tok_len, &done);
                        continue;
                }
                /* success: the last token (SPNEGO's mechListMIC) completes
                 * and checks our side */
                if (!done && blob_len > 0)
                        st = np_smb_auth_step(a, blob, blob_len, &tok, &tok_len, &done);
                free(tok);
                tok = NULL;
                if (st == 0 && !done && !anon) {
                        np_smb_why("%s accepted the session before GSSAPI finished", c->desc);
                        st = NPIPE_EPROTO;
                }
                break;
        }
        free(msg);
        free(tok);
        if (st < 0) {
                np_smb_resp_free(&r);
                np_smb_auth_free(a);
                return st;
        }

        /* keys, signing, encryption */
        bool guest = sflags & (NP_SMB2_SESSION_FLAG_IS_GUEST | NP_SMB2_SESSION_FLAG_IS_NULL);
        bool want_enc = (c->flags & NPIPE_AUTH_ENCRYPT) ||
                        (sflags & NP_SMB2_SESSION_FLAG_ENCRYPT_DATA);
        bool want_sign = (c->flags & NPIPE_AUTH_SIGN) ||
                         (ni->security_mode & NP_SMB2_NEGOTIATE_SIGNING_REQUIRED);
        if (want_enc && ni->dialect < NP_SMB_3_0) {
                np_smb_why("encryption asked for, but %s speaks SMB %x.%x only (encryption "
                           "needs SMB 3)",
                           c->desc, ni->dialect >> 8, (ni->dialect >> 4) & 0xF);
                st = NPIPE_EACCES;
        } else if (want_enc && guest) {
                np_smb_why("encryption asked for, but the session with %s is anonymous or "
                           "guest (no keys)",
                           c->desc);
                st = NPIPE_EACCES;
        }
        if (st == 0 && !guest) {
                uint8_t key[64];
                size_t key_len = 0;
                uint16_t alg, cipher = NP_SMB_CIPHER_NONE;
                if (ni->dialect < NP_SMB_3_0) {
                        alg = NP_SMB_SIGN_HMAC_SHA256;
                } else if (ni->dialect < NP_SMB_3_1_1) {
                        alg = NP_SMB_SIGN_AES_CMAC;
                        if (ni->capabilities & NP_SMB2_GLOBAL_CAP_ENCRYPTION)
                                cipher = NP_SMB_CIPHER_AES128_CCM;
                } else {
                        alg = ni->have_sign_ctx ? ni->sign_alg : NP_SMB_SIGN_AES_CMAC;
                        cipher = ni->cipher;
                }
                if (want_enc && cipher == NP_SMB_CIPHER_NONE) {
                        np_smb_why("encryption asked for, but %s agreed on no cipher", c->desc);
                        st = NPIPE_EACCES;
                }
                if (st == 0)
                        st = np_smb_auth_session_key(a, key, sizeof(key), &key_len);
                if (st == 0) {
                        pthread_mutex_lock(&c->mu);
                        st = np_smb_derive(&c->keys, ni->dialect, key, key_len, preauth, alg,
                                           cipher);
                        pthread_mutex_unlock(&c->mu);
                        if (st < 0)
                                np_smb_why("deriving the session keys failed (%d)", st);
                }
                memset(key, 0, sizeof(key));
                /* the final SESSION_SETUP answer is signed with the new keys
                 * (3.1.1 always; else when signing is on): check it before
                 * anything relies on the session */
                bool signed_ok = r.h.flags & NP_SMB2_FLAGS_SIGNED;
                if (st == 0 && signed_ok && np_smb_verify(&c->keys, r.msg, r.len) < 0) {
                        np_smb_why("the final SESSION_SETUP response from %s failed signature "
                                   "verification",
                                   c->desc);
                        st = NPIPE_EPROTO;
                } else if (st == 0 && !signed_ok &&
                           (ni->dialect == NP_SMB_3_1_1 || want_sign)) {
                        np_smb_why("the final SESSION_SETUP response from %s is not signed",
                                   c->desc);
                        st = NPIPE_EPROTO;
                }
                if (st == 0) {
                        pthread_mutex_lock(&c->mu);
                        c->keys_ready = true;
                        c->sign = want_sign;
                        c->encrypt = want_enc;
                        pthread_mutex_unlock(&c->mu);
                }
        } else if (st == 0 && want_sign) {
                np_smb_why("signing required, but the session with %s is anonymous or guest",
                           c->desc);
                st = NPIPE_EACCES;
        }
        np_smb_resp_free(&r);
        np_smb_auth_free(a);
        return st;
}

static int do_tree_connect(struct np_smb_conn *c, int64_t deadline)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 8 + 600];
        char path[300];
        struct np_smb_resp r;
        uint8_t type;
        uint32_t flags;

        snprintf(path, sizeof(path), "\\\\%s\\IPC$", c->host);
        np_smb_put_hdr(msg, NP_SMB2_TREE_CONNECT, 1, 0, 0, 0, 0);
        int len = np_smb_build_tree_connect(msg, sizeof(msg), path);
        if (len < 0) {
                np_smb_why("host name too long or not UTF-8: %s", c->host);
                return NPIPE_EINVAL;
        }
        int tmo = deadline < 0 ? -1 : (int)(deadline - np_smb_now_ms());
        if (deadline >= 0 && tmo <= 0)
                tmo = 1;
        int st = np_smb_call(c, msg, (size_t)len, 0, tmo, &r);
        if (st < 0)
                return st;
        if (r.h.status != NP_STATUS_SUCCESS) {
                st = fail_status(c, "TREE_CONNECT \\IPC$", r.h.status);
                np_smb_resp_free(&r);
                return st;
        }
        st = np_smb_parse_tree_connect(r.msg, r.len, &type, &flags);
        uint32_t tid = r.h.tree_id;
        np_smb_resp_free(&r);
        if (st < 0 || type != NP_SMB2_SHARE_TYPE_PIPE) {
                np_smb_why("IPC$ on %s is not a pipe share", c->desc);
                return NPIPE_EPROTO;
        }
        pthread_mutex_lock(&c->mu);
        c->tree_id = tid;
        if ((flags & NP_SMB2_SHAREFLAG_ENCRYPT_DATA) && !c->encrypt) {
                if (c->dialect < NP_SMB_3_0 || !c->keys_ready ||
                    c->keys.cipher == NP_SMB_CIPHER_NONE)
                        st = NPIPE_EACCES;
                else
                        c->encrypt = true;
        }
        pthread_mutex_unlock(&c->mu);
        if (st < 0)
                np_smb_why("IPC$ on %s must be encrypted, which this session cannot", c->desc);
        return st;
}

static int setup(struct np_smb_conn *c, const struct np_smb_cfg *cfg, int64_t deadline)
{
        struct np_smb_negotiate_info ni;
        struct np_smb_resp neg = {0};
        uint8_t preauth[64] = {0};
        int st;

        st = tcp_connect(c, deadline);
        if (st < 0)
                return st;
        if (pthread_create(&c->rx, NULL, receiver, c) != 0) {
                np_smb_why("cannot start the SMB receiver thread");
                return NPIPE_ENOMEM;
        }
        c->rx_started = true;
        st = do_negotiate(c, deadline, preauth, &ni, &neg);
        if (st == 0) {
                bool mtu = ni.capabilities & NP_SMB2_GLOBAL_CAP_LARGE_MTU &&
                           ni.dialect != NP_SMB_2_0_2;
                pthread_mutex_lock(&c->mu);
                c->dialect = ni.dialect;
                c->caps = ni.capabilities;
                c->max_read = cap_size(ni.max_read, mtu);
                c->max_write = cap_size(ni.max_write, mtu);
                c->max_transact = cap_size(ni.max_transact, mtu);
                size_t big = c->max_read > c->max_transact ? c->max_read : c->max_transact;
                c->frame_cap = big + NP_SMB_FRAME_SLACK > NP_SMB_FRAME_CAP_INITIAL
                                       ? big + NP_SMB_FRAME_SLACK
                                       : NP_SMB_FRAME_CAP_INITIAL;
                pthread_mutex_unlock(&c->mu);
                if (c->max_read < 4096 || c->max_write < 4096 || c->max_transact < 4096) {
                        np_smb_why("%s announced sizes too small to use", c->desc);
                        st = NPIPE_EPROTO;
                }
        }
        np_smb_resp_free(&neg);
        if (st == 0)
                st = do_session_setup(c, cfg, deadline, &ni, preauth);
        if (st == 0)
                st = do_tree_connect(c, deadline);
        return st;
}

/* ---- the table -------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static bool key_match(const struct np_smb_conn *c, const struct np_smb_cfg *cfg)
{
        return strcasecmp(c->host, cfg->host) == 0 && c->port == cfg->port &&
               same(c->user, cfg->user) && same(c->domain, cfg->domain) &&
               c->flags == cfg->flags && c->max_dialect == cfg->max_dialect;
}

static void conn_free(struct np_smb_conn *c)
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
        free(c->host);
        free(c->user);
        free(c->domain);
        free(c);
}

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

int np_smb_conn_get(const struct np_smb_cfg *cfg, int timeout_ms, struct np_smb_conn **ret)
{
        int64_t deadline = deadline_of(timeout_ms);
        struct np_smb_conn *c;

        pthread_once(&np_conns_once, conns_init);
        pthread_mutex_lock(&np_conns_mu);
again:
        for (c = np_conns; c; c = c->next) {
                if (c->pid != getpid() || !key_match(c, cfg))
                        continue;
                pthread_mutex_lock(&c->mu);
                enum np_conn_state s = c->state;
                pthread_mutex_unlock(&c->mu);
                if (s == NP_CONN_DEAD)
                        continue;
                if (s == NP_CONN_SETUP) {
                        /* another thread is setting it up: wait for it */
                        if (!cv_wait(&np_conns_cv, &np_conns_mu, deadline)) {
                                pthread_mutex_unlock(&np_conns_mu);
                                np_smb_why("connecting to %s:%u timed out", cfg->host,
                                           cfg->port);
                                return NPIPE_ETIMEDOUT;
                        }
                        goto again;
                }
                c->refs++;
                pthread_mutex_unlock(&np_conns_mu);
                *ret = c;
                return 0;
        }

        c = calloc(1, sizeof(*c));
        if (!c || !(c->host = strdup(cfg->host)) || (cfg->user && !(c->user = strdup(cfg->user))) ||
            (cfg->domain && !(c->domain = dup_or_null(cfg->domain)))) {
                pthread_mutex_unlock(&np_conns_mu);
                if (c) {
                        free(c->host);
                        free(c->user);
                        free(c);
                }
                np_smb_why("out of memory");
                return NPIPE_ENOMEM;
        }
        c->refs = 1;
        c->pid = getpid();
        c->port = cfg->port;
        c->flags = cfg->flags;
        c->max_dialect = cfg->max_dialect;
        c->fd = -1;
        c->credits = 1;
        c->frame_cap = NP_SMB_FRAME_CAP_INITIAL;
        c->last_rx_ms = np_smb_now_ms();
        snprintf(c->desc, sizeof(c->desc), strchr(cfg->host, ':') ? "[%s]:%u" : "%s:%u",
                 cfg->host, cfg->port);
        pthread_mutex_init(&c->mu, NULL);
        pthread_mutex_init(&c->send_mu, NULL);
        cond_init_mono(&c->cv);
        c->next = np_conns;
        np_conns = c;
        pthread_mutex_unlock(&np_conns_mu);

        int st = setup(c, cfg, deadline);

        pthread_mutex_lock(&np_conns_mu);
        pthread_mutex_lock(&c->mu);
        if (st == 0 && c->state == NP_CONN_SETUP) {
                c->state = NP_CONN_READY;
        } else {
                if (st == 0) {
                        st = c->dead_st;
                        np_smb_why("%s", c->dead_why);
                }
                fail_locked(c, st, "set-up failed");
        }
        pthread_mutex_unlock(&c->mu);
        pthread_cond_broadcast(&np_conns_cv);
        pthread_mutex_unlock(&np_conns_mu);
        if (st < 0) {
                np_smb_conn_put(c);
                return st;
        }
        *ret = c;
        return 0;
}

void np_smb_conn_put(struct np_smb_conn *c)
{
        if (!c)
                return;
        if (np_smb_conn_forked(c))
                return; /* the parent's: never touched */
        pthread_mutex_lock(&np_conns_mu);
        if (--c->refs > 0) {
                pthread_mutex_unlock(&np_conns_mu);
                return;
        }
        for (struct np_smb_conn **pp = &np_conns; *pp; pp = &(*pp)->next) {
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        }
        pthread_mutex_unlock(&np_conns_mu);

        pthread_mutex_lock(&c->mu);
        bool ready = c->state == NP_CONN_READY;
        pthread_mutex_unlock(&c->mu);
        if (ready) {
                /* polite, and quick: LOGOFF ends the tree and the session */
                char why[256];
                snprintf(why, sizeof(why), "%s", np_smb_why_get());
                uint8_t msg[NP_SMB2_HDR_LEN + 4];
                struct np_smb_resp r;
                np_smb_put_hdr(msg, NP_SMB2_LOGOFF, 1, 0, 0, 0, 0);
                np_smb_build_small(msg, sizeof(msg), NP_SMB2_LOGOFF);
                if (np_smb_call(c, msg, sizeof(msg), 0, NP_SMB_LOGOFF_MS, &r) == 0)
                        np_smb_resp_free(&r);
                np_smb_why("%s", why);
        }
        pthread_mutex_lock(&c->mu);
        fail_locked(c, NPIPE_ENETLOST, "the connection to %s was closed", c->desc);
        pthread_mutex_unlock(&c->mu);
        conn_free(c);
}
