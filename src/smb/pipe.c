/*
 * pipe.c - the module's table (module.h): remote pipe handles over the
 * connections of conn.c.
 *
 * A handle is the FileId of a CREATE on the connection's IPC$ tree.  Any
 * number of threads use it at once (each call is its own SMB2 request);
 * close() first cancels what is in progress and waits for those calls to
 * return, so the handle is never freed under a caller.  A handle made
 * before fork() is NPIPE_EFORKED in the child: the connection is the
 * parent's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smb/conn.h"
#include "smb/module.h"
#include "smb/msg.h"
#include "smb/smb.h"

/* How long CLOSE may take (close has no timeout of its own). */
#define NP_SMB_CLOSE_MS 5000
/* A FSCTL_PIPE_WAIT runs on the server for its timeout; our own deadline
 * for the answer is that plus this. */
#define NP_SMB_WAIT_SLACK_MS 5000

struct np_rpipe {
        struct np_smb_owner own; /* what cancel() cancels by (conn.h) */
        struct np_smb_conn *conn;
        uint8_t fid[NP_SMB_FILE_ID_LEN];
        char *name; /* for messages: \\host\pipe\name */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned active; /* calls in progress */
        bool closing;
        /* What an adopted READ brought beyond the buffer of the read that
         * adopted it (conn.h, np_smb_adopt): served before the server. */
        uint8_t *stash;
        size_t stash_off, stash_len;
        bool stash_more; /* the server said BUFFER_OVERFLOW after it */
};

/* ---- helpers ------------------------------------------------------- */

/* A call begins: *gen is the cancel generation it runs under. */
static int enter(struct np_rpipe *p, unsigned *gen)
{
        if (!p) {
                np_smb_why("no handle");
                return NPIPE_EBADF;
        }
        if (np_smb_conn_forked(p->conn)) {
                np_smb_why("%s belongs to the parent process (fork)", p->name);
                return NPIPE_EFORKED;
        }
        pthread_mutex_lock(&p->mu);
        if (p->closing) {
                pthread_mutex_unlock(&p->mu);
                np_smb_why("%s is being closed", p->name);
                return NPIPE_EBADF;
        }
        p->active++;
        /* under p->mu, so that close() (which cancels under it) cannot
         * slip between our count and our generation; the order is p->mu,
         * then the connection's lock */
        *gen = np_smb_owner_gen(p->conn, &p->own);
        pthread_mutex_unlock(&p->mu);
        np_smb_why_clear();
        return 0;
}

static void leave(struct np_rpipe *p)
{
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
                pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
}

/* The NPIPE_* status for a response's NTSTATUS, why() set. */
static int nt_fail(const char *what, const char *name, uint32_t nt)
{
        const char *s = np_smb_status_name(nt);
        int st = np_smb_status(nt);

        if (st == 0)
                st = NPIPE_EPROTO;
        if (s)
                np_smb_why("%s %s: %s (0x%08x)", what, name, s, nt);
        else
                np_smb_why("%s %s: unexpected NTSTATUS 0x%08x", what, name, nt);
        return st;
}

static int malformed(const char *what, const char *name)
{
        np_smb_why("%s %s: malformed response", what, name);
        return NPIPE_EPROTO;
}

/* ---- open, wait ---------------------------------------------------- */

static int m_configure(const char *host, const struct npipe_remote_auth *auth)
{
        return np_smb_configure(host, auth);
}

static int get_conn(const char *host, int timeout_ms, struct np_smb_conn **c)
{
        struct np_smb_cfg cfg;

        if (!host || !*host) {
                np_smb_why("no host name");
                return NPIPE_EINVAL;
        }
        int st = np_smb_config_resolve(host, &cfg);
        if (st < 0)
                return st;
        st = np_smb_conn_get(&cfg, timeout_ms, c);
        np_smb_cfg_free(&cfg);
        return st;
}

static uint32_t access_mask(unsigned access)
{
        uint32_t m = NP_FILE_READ_ATTRIBUTES | NP_SYNCHRONIZE;

        if (access & NPIPE_READ) /* FILE_GENERIC_READ */
                m |= NP_FILE_READ_DATA | NP_FILE_READ_EA | NP_READ_CONTROL;
        if (access & NPIPE_WRITE) /* FILE_GENERIC_WRITE */
                m |= NP_FILE_WRITE_DATA | NP_FILE_APPEND_DATA | NP_FILE_WRITE_EA |
                     NP_FILE_WRITE_ATTRIBUTES | NP_READ_CONTROL;
        if (access & NPIPE_WRITE_ATTRIBUTES)
                m |= NP_FILE_WRITE_ATTRIBUTES;
        return m;
}

static int m_open(const char *host, const char *bare, unsigned access, int timeout_ms,
                  struct np_rpipe **ret)
{
        struct np_smb_conn *c = NULL;
        struct np_smb_resp r;
        int64_t t0 = np_smb_now_ms();
        char name[600];
        int st;

        np_smb_why_clear();
        if (!bare || !*bare || !ret) {
                np_smb_why("no pipe name");
                return NPIPE_EINVAL;
        }
        snprintf(name, sizeof(name), "\\\\%s\\pipe\\%s", host ? host : "", bare);
        st = get_conn(host, timeout_ms, &c);
        if (st < 0)
                return st;

        size_t cap = NP_SMB2_HDR_LEN + 64 + 2 * strlen(bare) + 8;
        uint8_t *msg = malloc(cap);
        if (!msg) {
                np_smb_conn_put(c);
                return NPIPE_ENOMEM;
        }
        np_smb_put_hdr(msg, NP_SMB2_CREATE, 1, 0, 0, 0, 0);
        int len = np_smb_build_create(msg, cap, bare, access_mask(access));
        if (len < 0) {
                free(msg);
                np_smb_conn_put(c);
                np_smb_why("pipe name not valid UTF-8 or too long: %s", name);
                return len == NPIPE_ENAMETOOLONG ? len : NPIPE_EBADNAME;
        }
        int left = timeout_ms;
        if (timeout_ms >= 0) {
                left = timeout_ms - (int)(np_smb_now_ms() - t0);
                if (left < 1)
                        left = 1;
        }
        st = np_smb_call(c, msg, (size_t)len, 0, left, &r);
        free(msg);
        if (st < 0) {
                np_smb_conn_put(c);
                return st;
        }
        struct np_rpipe *p = NULL;
        if (r.h.status != NP_STATUS_SUCCESS) {
                st = nt_fail("open", name, r.h.status);
        } else if (!(p = calloc(1, sizeof(*p))) || !(p->name = strdup(name))) {
                st = NPIPE_ENOMEM;
        } else if (np_smb_parse_create(r.msg, r.len, p->fid) < 0) {
                st = malformed("open", name);
                /* the server may think it is open: nothing to close it by */
        }
        np_smb_resp_free(&r);
        if (st < 0) {
                if (p)
                        free(p->name);
                free(p);
                np_smb_conn_put(c);
                return st;
        }
        p->conn = c;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        *ret = p;
        return 0;
}

static int m_wait(const char *host, const char *bare, int timeout_ms)
{
        struct np_smb_conn *c = NULL;
        struct np_smb_resp r;
        uint8_t in[14 + 1024];
        char name[600];
        static const uint8_t all_ff[NP_SMB_FILE_ID_LEN] = {
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

        np_smb_why_clear();
        if (!bare || !*bare) {
                np_smb_why("no pipe name");
                return NPIPE_EINVAL;
        }
        snprintf(name, sizeof(name), "\\\\%s\\pipe\\%s", host ? host : "", bare);
        int n = np_smb_build_pipe_wait(in, sizeof(in), bare,
                                       timeout_ms == NPIPE_WAIT_DEFAULT ? NP_SMB_WAIT_DEFAULT
                                                                        : timeout_ms);
        if (n < 0) {
                np_smb_why("pipe name not valid UTF-8 or too long: %s", name);
                return NPIPE_EBADNAME;
        }
        int64_t t0 = np_smb_now_ms();
        int st = get_conn(host, timeout_ms < 0 ? -1 : timeout_ms, &c);
        if (st < 0)
                return st;
        size_t cap = NP_SMB2_HDR_LEN + 56 + (size_t)n + 1;
        uint8_t *msg = malloc(cap);
        if (!msg) {
                np_smb_conn_put(c);
                return NPIPE_ENOMEM;
        }
        np_smb_put_hdr(msg, NP_SMB2_IOCTL, 1, 0, 0, 0, 0);
        int len = np_smb_build_ioctl(msg, cap, all_ff, NP_FSCTL_PIPE_WAIT, in, (uint32_t)n, 0);
        int tmo = -1;
        if (timeout_ms >= 0)
                tmo = timeout_ms - (int)(np_smb_now_ms() - t0) + NP_SMB_WAIT_SLACK_MS;
        else if (timeout_ms == NPIPE_WAIT_DEFAULT)
                tmo = -1; /* the server knows the default, we do not */
        st = len < 0 ? len : np_smb_call(c, msg, (size_t)len, (size_t)n, tmo, &r);
        free(msg);
        if (st == 0) {
                if (r.h.status != NP_STATUS_SUCCESS)
                        st = nt_fail("wait for", name, r.h.status);
                np_smb_resp_free(&r);
        }
        np_smb_conn_put(c);
        return st;
}

/* ---- read, write, transact ----------------------------------------- */

/* Take a READ response: its data into buf (up to want bytes; an adopted
 * READ may bring more, which goes to the stash).  0 (the message ended),
 * NPIPE_EMOREDATA (more of it is on the server or in the stash), *got
 * set, or an error.  Frees r. */
static int read_result(struct np_rpipe *p, struct np_smb_resp *r, uint8_t *buf, uint32_t want,
                       size_t *got, bool adopted)
{
        const uint8_t *data;
        size_t dlen;
        int st;

        uint32_t nt = r->h.status;
        if (nt == NP_STATUS_SUCCESS || nt == NP_STATUS_BUFFER_OVERFLOW) {
                if (np_smb_parse_read(r->msg, r->len, &data, &dlen) < 0) {
                        st = malformed("read from", p->name);
                } else if (dlen > want && !adopted) {
                        np_smb_why("read from %s: %zu bytes for a READ of %u", p->name, dlen,
                                   want);
                        st = NPIPE_EPROTO;
                } else {
                        size_t n = dlen > want ? want : dlen;
                        if (n)
                                memcpy(buf, data, n);
                        *got = n;
                        st = nt == NP_STATUS_SUCCESS ? 0 : NPIPE_EMOREDATA;
                        if (dlen > n) {
                                uint8_t *keep = malloc(dlen - n);
                                if (!keep) {
                                        st = NPIPE_ENOMEM;
                                } else {
                                        memcpy(keep, data + n, dlen - n);
                                        pthread_mutex_lock(&p->mu);
                                        free(p->stash);
                                        p->stash = keep;
                                        p->stash_off = 0;
                                        p->stash_len = dlen - n;
                                        p->stash_more = nt == NP_STATUS_BUFFER_OVERFLOW;
                                        pthread_mutex_unlock(&p->mu);
                                        st = NPIPE_EMOREDATA;
                                }
                        }
                }
        } else {
                st = nt_fail("read from", p->name, nt);
        }
        np_smb_resp_free(r);
        return st;
}

/* Serve a read from the stash: 1 when it is empty. */
static int read_stash(struct np_rpipe *p, uint8_t *buf, size_t want, size_t *got)
{
        int st = 1;

        pthread_mutex_lock(&p->mu);
        if (p->stash_len > 0) {
                size_t n = want < p->stash_len ? want : p->stash_len;
                memcpy(buf, p->stash + p->stash_off, n);
                p->stash_off += n;
                p->stash_len -= n;
                *got = n;
                st = p->stash_len > 0 || p->stash_more ? NPIPE_EMOREDATA : 0;
                if (p->stash_len == 0) {
                        free(p->stash);
                        p->stash = NULL;
                        p->stash_off = 0;
                        p->stash_more = false;
                }
        }
        pthread_mutex_unlock(&p->mu);
        return st;
}

/* One READ of up to want bytes into buf: 0 (the message ended), or
 * NPIPE_EMOREDATA (more of it is on the server), *got set, or an error.
 * A READ that timed out earlier and still runs on the server is waited for
 * first: what it brings is this read's. */
static int read_once(struct np_rpipe *p, unsigned gen, uint8_t *buf, uint32_t want,
                     size_t *got, int timeout_ms)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 49];
        struct np_smb_resp r;

        *got = 0;
        int st = read_stash(p, buf, want, got);
        if (st <= 0)
                return st;
        st = np_smb_adopt(p->conn, &p->own, gen, timeout_ms, &r);
        if (st < 0)
                return st;
        if (st == 0) {
                if (r.h.status != NP_STATUS_CANCELLED)
                        return read_result(p, &r, buf, want, got, true);
                np_smb_resp_free(&r); /* it was cancelled after all: read anew */
        }
        np_smb_put_hdr(msg, NP_SMB2_READ, 1, 0, 0, 0, 0);
        int len = np_smb_build_read(msg, sizeof(msg), p->fid, want);
        st = np_smb_call_ex(p->conn, msg, (size_t)len, want, &p->own, gen, timeout_ms,
                            NP_SMB_CALL_ADOPTABLE, &r);
        if (st < 0)
                return st;
        return read_result(p, &r, buf, want, got, false);
}

/* Read into buf[have .. len) what is left of a message (after a
 * BUFFER_OVERFLOW), in READs of at most max_read. */
static int read_rest(struct np_rpipe *p, unsigned gen, uint8_t *buf, size_t len, size_t *have,
                     int timeout_ms)
{
        int st = NPIPE_EMOREDATA;
        uint32_t max = np_smb_conn_max_read(p->conn);

        while (st == NPIPE_EMOREDATA && *have < len) {
                size_t want = len - *have, got;
                if (want > max)
                        want = max;
                st = read_once(p, gen, buf + *have, (uint32_t)want, &got, timeout_ms);
                if (st < 0 && st != NPIPE_EMOREDATA)
                        return st;
                *have += got;
        }
        return st;
}

static int m_read(struct np_rpipe *p, void *buf, size_t len, size_t *nread, int timeout_ms)
{
        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        size_t have = 0;
        uint32_t max = np_smb_conn_max_read(p->conn);
        uint32_t want = len > max ? max : (uint32_t)len;
        st = read_once(p, gen, buf, want, &have, timeout_ms);
        /* a message larger than one READ but not than the buffer: the rest
         * is already on the server, fetch it */
        if (st == NPIPE_EMOREDATA && have == want && have < len)
                st = read_rest(p, gen, buf, len, &have, timeout_ms);
        if (nread)
                *nread = have;
        leave(p);
        return st;
}

static int m_write(struct np_rpipe *p, const void *buf, size_t len, size_t *nwritten,
                   int timeout_ms)
{
        struct np_smb_resp r;
        uint32_t count = 0;

        if (nwritten)
                *nwritten = 0;
        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        if (len > np_smb_conn_max_write(p->conn)) {
                np_smb_why("write to %s: %zu bytes, more than the server takes in one "
                           "message (%u)",
                           p->name, len, np_smb_conn_max_write(p->conn));
                leave(p);
                return NPIPE_EMSGSIZE;
        }
        size_t cap = NP_SMB2_HDR_LEN + 49 + len;
        uint8_t *msg = malloc(cap);
        if (!msg) {
                leave(p);
                return NPIPE_ENOMEM;
        }
        np_smb_put_hdr(msg, NP_SMB2_WRITE, 1, 0, 0, 0, 0);
        int mlen = np_smb_build_write(msg, cap, p->fid, buf, (uint32_t)len);
        st = np_smb_call_ex(p->conn, msg, (size_t)mlen, len, &p->own, gen, timeout_ms, 0, &r);
        free(msg);
        if (st == 0) {
                if (r.h.status != NP_STATUS_SUCCESS)
                        st = nt_fail("write to", p->name, r.h.status);
                else if (np_smb_parse_write(r.msg, r.len, &count) < 0)
                        st = malformed("write to", p->name);
                else if (count > len)
                        st = malformed("write to", p->name);
                else if (nwritten)
                        *nwritten = count;
                np_smb_resp_free(&r);
        }
        leave(p);
        return st;
}

/* An IOCTL on p: in, and up to max_out bytes back into out (*got).  0,
 * NPIPE_EMOREDATA (BUFFER_OVERFLOW), or an error. */
static int ioctl_call(struct np_rpipe *p, unsigned gen, uint32_t ctl, const char *what,
                      const void *in,
                      size_t in_len, void *out, uint32_t max_out, size_t *got, int timeout_ms)
{
        struct np_smb_resp r;
        const uint8_t *data;
        size_t dlen;

        *got = 0;
        size_t cap = NP_SMB2_HDR_LEN + 57 + in_len;
        uint8_t *msg = malloc(cap);
        if (!msg)
                return NPIPE_ENOMEM;
        np_smb_put_hdr(msg, NP_SMB2_IOCTL, 1, 0, 0, 0, 0);
        int len = np_smb_build_ioctl(msg, cap, p->fid, ctl, in, (uint32_t)in_len, max_out);
        int st = np_smb_call_ex(p->conn, msg, (size_t)len, in_len > max_out ? in_len : max_out,
                                &p->own, gen, timeout_ms, 0, &r);
        free(msg);
        if (st < 0)
                return st;
        uint32_t nt = r.h.status;
        if (nt == NP_STATUS_SUCCESS || nt == NP_STATUS_BUFFER_OVERFLOW) {
                if (np_smb_parse_ioctl(r.msg, r.len, &data, &dlen) < 0) {
                        st = malformed(what, p->name);
                } else if (dlen > max_out) {
                        np_smb_why("%s %s: %zu bytes back for at most %u", what, p->name, dlen,
                                   max_out);
                        st = NPIPE_EPROTO;
                } else {
                        if (dlen)
                                memcpy(out, data, dlen);
                        *got = dlen;
                        st = nt == NP_STATUS_SUCCESS ? 0 : NPIPE_EMOREDATA;
                }
        } else {
                st = nt_fail(what, p->name, nt);
        }
        np_smb_resp_free(&r);
        return st;
}

static int m_transact(struct np_rpipe *p, const void *in, size_t in_len, void *out,
                      size_t out_len, size_t *nread)
{
        size_t have = 0;

        if (nread)
                *nread = 0;
        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        uint32_t max = np_smb_conn_max_transact(p->conn);
        if (in_len > max) {
                np_smb_why("transact on %s: %zu bytes, more than the server takes (%u)",
                           p->name, in_len, max);
                leave(p);
                return NPIPE_EMSGSIZE;
        }
        pthread_mutex_lock(&p->mu);
        bool unread = p->stash_len > 0;
        pthread_mutex_unlock(&p->mu);
        if (unread || np_smb_has_orphan(p->conn, &p->own)) {
                /* as NT: no transact while a read is pending or data unread */
                np_smb_why("transact on %s: a read that timed out is still pending on the "
                           "server, or its data is unread",
                           p->name);
                leave(p);
                return NPIPE_EBUSY;
        }
        uint32_t want = out_len > max ? max : (uint32_t)out_len;
        st = ioctl_call(p, gen, NP_FSCTL_PIPE_TRANSCEIVE, "transact on", in, in_len, out, want,
                        &have, -1);
        if (st == NPIPE_EMOREDATA && have == want && have < out_len)
                st = read_rest(p, gen, out, out_len, &have, -1);
        if (nread)
                *nread = have;
        leave(p);
        return st;
}

/* ---- peek, info, mode, flush --------------------------------------- */

static int m_peek(struct np_rpipe *p, void *buf, size_t len, struct npipe_peek *ret)
{
        struct np_smb_peek_info pi;
        size_t got;

        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        uint32_t max = np_smb_conn_max_transact(p->conn);
        size_t want = len + sizeof(struct np_fscc_pipe_peek);
        if (want > max)
                want = max;
        uint8_t *tmp = malloc(want);
        if (!tmp) {
                leave(p);
                return NPIPE_ENOMEM;
        }
        st = ioctl_call(p, gen, NP_FSCTL_PIPE_PEEK, "peek on", NULL, 0, tmp, (uint32_t)want, &got,
                        -1);
        /* BUFFER_OVERFLOW: more than fits; what fits is there */
        if (st == 0 || st == NPIPE_EMOREDATA) {
                st = np_smb_parse_pipe_peek(tmp, got, &pi);
                if (st < 0) {
                        st = malformed("peek on", p->name);
                } else {
                        size_t n = pi.data_len > len ? len : pi.data_len;
                        if (n && buf)
                                memcpy(buf, pi.data, n);
                        if (ret) {
                                memset(ret, 0, sizeof(*ret));
                                ret->state = pi.state;
                                ret->avail = pi.avail;
                                ret->messages = pi.messages;
                                ret->message_len = pi.message_len;
                                ret->copied = (uint32_t)n;
                                ret->left = pi.message_len - (uint32_t)n;
                        }
                }
        }
        free(tmp);
        leave(p);
        return st;
}

static int query_info(struct np_rpipe *p, unsigned gen, uint8_t klass, uint8_t *out, uint32_t out_len,
                      size_t *got)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 41];
        struct np_smb_resp r;
        const uint8_t *data;
        size_t dlen;

        np_smb_put_hdr(msg, NP_SMB2_QUERY_INFO, 1, 0, 0, 0, 0);
        int len = np_smb_build_query_info(msg, sizeof(msg), p->fid, klass, out_len);
        int st = np_smb_call_ex(p->conn, msg, (size_t)len, out_len, &p->own, gen, -1, 0, &r);
        if (st < 0)
                return st;
        if (r.h.status != NP_STATUS_SUCCESS) {
                st = nt_fail("query info of", p->name, r.h.status);
        } else if (np_smb_parse_query_info(r.msg, r.len, &data, &dlen) < 0 || dlen > out_len) {
                st = malformed("query info of", p->name);
        } else {
                memcpy(out, data, dlen);
                *got = dlen;
        }
        np_smb_resp_free(&r);
        return st;
}

static int m_get_info(struct np_rpipe *p, struct npipe_info *ret)
{
        uint8_t buf[64];
        size_t got = 0;
        struct np_smb_pipe_local pl;
        uint32_t rm = 0, cm = 0;

        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        st = query_info(p, gen, NP_FILE_PIPE_LOCAL_INFORMATION, buf,
                        sizeof(struct np_fscc_pipe_local_info), &got);
        if (st == 0 && np_smb_parse_pipe_local(buf, got, &pl) < 0)
                st = malformed("query info of", p->name);
        if (st == 0) {
                st = query_info(p, gen, NP_FILE_PIPE_INFORMATION, buf, sizeof(struct np_fscc_pipe_info),
                                &got);
                if (st == 0 && np_smb_parse_pipe_info(buf, got, &rm, &cm) < 0)
                        st = malformed("query info of", p->name);
        }
        if (st == 0 && ret) {
                memset(ret, 0, sizeof(*ret));
                ret->type = pl.type ? NPIPE_TYPE_MESSAGE : NPIPE_TYPE_BYTE;
                ret->dir = pl.configuration == 0   ? NPIPE_INBOUND
                           : pl.configuration == 1 ? NPIPE_OUTBOUND
                                                   : NPIPE_DUPLEX;
                ret->server_end = pl.end == 1;
                ret->max_instances =
                        pl.max_instances == 0xFFFFFFFFu ? NPIPE_UNLIMITED_INSTANCES : pl.max_instances;
                ret->cur_instances = pl.cur_instances;
                ret->in_quota = pl.in_quota;
                ret->out_quota = pl.out_quota;
                ret->read_avail = pl.read_avail;
                ret->write_quota_avail = pl.write_quota_avail;
                ret->state = (enum npipe_state)pl.state;
                ret->read_mode = rm ? NPIPE_READ_MESSAGE : NPIPE_READ_BYTE;
                ret->nowait = cm != 0;
                ret->default_timeout_ms = 0; /* not carried by SMB */
        }
        leave(p);
        return st;
}

static int m_set_mode(struct np_rpipe *p, const enum npipe_read_mode *read_mode,
                      const int *nowait)
{
        uint8_t buf[8];
        size_t got = 0;
        uint32_t rm = 0, cm = 0;

        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        if (!read_mode || !nowait) {
                /* FilePipeInformation sets both: keep the one not given */
                st = query_info(p, gen, NP_FILE_PIPE_INFORMATION, buf, sizeof(buf), &got);
                if (st == 0 && np_smb_parse_pipe_info(buf, got, &rm, &cm) < 0)
                        st = malformed("query info of", p->name);
        }
        if (st == 0) {
                uint8_t info[8];
                uint8_t msg[NP_SMB2_HDR_LEN + 32 + 8];
                struct np_smb_resp r;
                if (read_mode)
                        rm = *read_mode == NPIPE_READ_MESSAGE;
                if (nowait)
                        cm = *nowait != 0;
                np_put32(info, rm);
                np_put32(info + 4, cm);
                np_smb_put_hdr(msg, NP_SMB2_SET_INFO, 1, 0, 0, 0, 0);
                int len = np_smb_build_set_info(msg, sizeof(msg), p->fid,
                                                NP_FILE_PIPE_INFORMATION, info, 8);
                st = np_smb_call_ex(p->conn, msg, (size_t)len, 8, &p->own, gen, -1, 0, &r);
                if (st == 0) {
                        if (r.h.status != NP_STATUS_SUCCESS)
                                st = nt_fail("set mode of", p->name, r.h.status);
                        else if (np_smb_parse_fixed(r.msg, r.len, 2) < 0)
                                st = malformed("set mode of", p->name);
                        np_smb_resp_free(&r);
                }
        }
        leave(p);
        return st;
}

static int m_flush(struct np_rpipe *p)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 24];
        struct np_smb_resp r;

        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        np_smb_put_hdr(msg, NP_SMB2_FLUSH, 1, 0, 0, 0, 0);
        int len = np_smb_build_flush(msg, sizeof(msg), p->fid);
        st = np_smb_call_ex(p->conn, msg, (size_t)len, 0, &p->own, gen, -1, 0, &r);
        if (st == 0) {
                if (r.h.status != NP_STATUS_SUCCESS)
                        st = nt_fail("flush", p->name, r.h.status);
                else if (np_smb_parse_fixed(r.msg, r.len, 4) < 0)
                        st = malformed("flush", p->name);
                np_smb_resp_free(&r);
        }
        leave(p);
        return st;
}

/* ---- cancel, close -------------------------------------------------- */

static int m_cancel(struct np_rpipe *p)
{
        unsigned gen;
        int st = enter(p, &gen);
        if (st < 0)
                return st;
        np_smb_cancel_owner(p->conn, &p->own);
        leave(p);
        return 0;
}

static int m_close(struct np_rpipe *p)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 24];
        struct np_smb_resp r;
        int st = 0;

        np_smb_why_clear();
        if (!p)
                return NPIPE_EBADF;
        if (np_smb_conn_forked(p->conn)) {
                /* the child's copy of a parent's handle: only memory */
                free(p->stash);
                free(p->name);
                free(p);
                return 0;
        }
        pthread_mutex_lock(&p->mu);
        if (p->closing) {
                pthread_mutex_unlock(&p->mu);
                return NPIPE_EBADF;
        }
        p->closing = true;
        /* calls in progress end first, with NPIPE_ECANCELED */
        if (p->active > 0) {
                /* the calls in progress all began before this: one cancel
                 * ends them, including those not yet sent (conn.h) */
                np_smb_cancel_owner(p->conn, &p->own);
                while (p->active > 0)
                        pthread_cond_wait(&p->cv, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);

        np_smb_drop_owner(p->conn, &p->own);
        free(p->stash);
        np_smb_put_hdr(msg, NP_SMB2_CLOSE, 1, 0, 0, 0, 0);
        int len = np_smb_build_close(msg, sizeof(msg), p->fid);
        st = np_smb_call(p->conn, msg, (size_t)len, 0, NP_SMB_CLOSE_MS, &r);
        if (st == 0) {
                if (r.h.status != NP_STATUS_SUCCESS &&
                    r.h.status != NP_STATUS_FILE_CLOSED)
                        st = nt_fail("close", p->name, r.h.status);
                np_smb_resp_free(&r);
        }
        /* the handle is gone either way: a lost connection took it along */
        if (st == NPIPE_ENETLOST)
                st = 0;
        np_smb_conn_put(p->conn);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p->name);
        free(p);
        return st;
}

static const char *m_why(void)
{
        return np_smb_why_get();
}

__attribute__((visibility("default"))) const struct np_smb_module npipe_smb_module = {
        .abi = NP_SMB_ABI,
        .size = sizeof(struct np_smb_module),
        .configure = m_configure,
        .open = m_open,
        .wait = m_wait,
        .read = m_read,
        .write = m_write,
        .transact = m_transact,
        .peek = m_peek,
        .get_info = m_get_info,
        .set_mode = m_set_mode,
        .flush = m_flush,
        .cancel = m_cancel,
        .close = m_close,
        .why = m_why,
};
