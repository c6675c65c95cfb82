/*
 * pipe_io.c - a remote handle's calls (pipe.h): entering and leaving a
 * call, and the data path - read, write, transact, peek.
 *
 * Why separate from pipe.c: reading is the subtle part of a handle.  A
 * READ that timed out is not cancelled by smbd; it stays pending on the
 * server as the handle's orphan (conn.h), and what it brings later is the
 * next read's, with whatever does not fit that read's buffer kept in the
 * handle's stash.  Transact and peek must respect that state (NT refuses
 * a transact while data is unread).  pipe.c (open, close, the module's
 * table) calls in here; nothing here calls pipe.c.
 */
#include "smb/pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb/msg.h"
#include "smb/smb.h"

/* ---- a call ------------------------------------------------------- */

/* A call begins: *gen is the cancel generation it runs under. */
int np_rpipe_enter(struct np_rpipe *p, unsigned *gen)
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

void np_rpipe_leave(struct np_rpipe *p)
{
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
                pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
}

/* The NPIPE_* status for a response's NTSTATUS, why() set. */
int np_rpipe_nt_fail(const char *what, const char *name, uint32_t nt)
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

int np_rpipe_malformed(const char *what, const char *name)
{
        np_smb_why("%s %s: malformed response", what, name);
        return NPIPE_EPROTO;
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
                        st = np_rpipe_malformed("read from", p->name);
                } else if (dlen > want && !adopted) {
                        np_smb_why("read from %s: %zu bytes for a READ of %u", p->name, dlen, want);
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
                st = np_rpipe_nt_fail("read from", p->name, nt);
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
static int read_once(struct np_rpipe *p, unsigned gen, uint8_t *buf, uint32_t want, size_t *got,
                     int timeout_ms)
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

int np_rpipe_read(struct np_rpipe *p, void *buf, size_t len, size_t *nread, int timeout_ms)
{
        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
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
        np_rpipe_leave(p);
        return st;
}

int np_rpipe_write(struct np_rpipe *p, const void *buf, size_t len, size_t *nwritten,
                   int timeout_ms)
{
        struct np_smb_resp r;
        uint32_t count = 0;

        if (nwritten)
                *nwritten = 0;
        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        if (len > np_smb_conn_max_write(p->conn)) {
                np_smb_why("write to %s: %zu bytes, more than the server takes in one "
                           "message (%u)",
                           p->name, len, np_smb_conn_max_write(p->conn));
                np_rpipe_leave(p);
                return NPIPE_EMSGSIZE;
        }
        size_t cap = NP_SMB2_HDR_LEN + 49 + len;
        uint8_t *msg = malloc(cap);
        if (!msg) {
                np_rpipe_leave(p);
                return NPIPE_ENOMEM;
        }
        np_smb_put_hdr(msg, NP_SMB2_WRITE, 1, 0, 0, 0, 0);
        int mlen = np_smb_build_write(msg, cap, p->fid, buf, (uint32_t)len);
        st = np_smb_call_ex(p->conn, msg, (size_t)mlen, len, &p->own, gen, timeout_ms, 0, &r);
        free(msg);
        if (st == 0) {
                if (r.h.status != NP_STATUS_SUCCESS)
                        st = np_rpipe_nt_fail("write to", p->name, r.h.status);
                else if (np_smb_parse_write(r.msg, r.len, &count) < 0)
                        st = np_rpipe_malformed("write to", p->name);
                else if (count > len)
                        st = np_rpipe_malformed("write to", p->name);
                else if (nwritten)
                        *nwritten = count;
                np_smb_resp_free(&r);
        }
        np_rpipe_leave(p);
        return st;
}

/* An IOCTL on p: in, and up to max_out bytes back into out (*got).  0,
 * NPIPE_EMOREDATA (BUFFER_OVERFLOW), or an error. */
static int ioctl_call(struct np_rpipe *p, unsigned gen, uint32_t ctl, const char *what,
                      const void *in, size_t in_len, void *out, uint32_t max_out, size_t *got,
                      int timeout_ms)
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
                        st = np_rpipe_malformed(what, p->name);
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
                st = np_rpipe_nt_fail(what, p->name, nt);
        }
        np_smb_resp_free(&r);
        return st;
}

int np_rpipe_transact(struct np_rpipe *p, const void *in, size_t in_len, void *out, size_t out_len,
                      size_t *nread)
{
        size_t have = 0;

        if (nread)
                *nread = 0;
        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        uint32_t max = np_smb_conn_max_transact(p->conn);
        if (in_len > max) {
                np_smb_why("transact on %s: %zu bytes, more than the server takes (%u)", p->name,
                           in_len, max);
                np_rpipe_leave(p);
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
                np_rpipe_leave(p);
                return NPIPE_EBUSY;
        }
        uint32_t want = out_len > max ? max : (uint32_t)out_len;
        st = ioctl_call(p, gen, NP_FSCTL_PIPE_TRANSCEIVE, "transact on", in, in_len, out, want,
                        &have, -1);
        if (st == NPIPE_EMOREDATA && have == want && have < out_len)
                st = read_rest(p, gen, out, out_len, &have, -1);
        if (nread)
                *nread = have;
        np_rpipe_leave(p);
        return st;
}

/* ---- peek ---------------------------------------------------------- */

int np_rpipe_peek(struct np_rpipe *p, void *buf, size_t len, struct npipe_peek *ret)
{
        struct np_smb_peek_info pi;
        size_t got;

        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        uint32_t max = np_smb_conn_max_transact(p->conn);
        size_t want = len + sizeof(struct np_fscc_pipe_peek);
        if (want > max)
                want = max;
        uint8_t *tmp = malloc(want);
        if (!tmp) {
                np_rpipe_leave(p);
                return NPIPE_ENOMEM;
        }
        st = ioctl_call(p, gen, NP_FSCTL_PIPE_PEEK, "peek on", NULL, 0, tmp, (uint32_t)want, &got,
                        -1);
        /* BUFFER_OVERFLOW: more than fits; what fits is there */
        if (st == 0 || st == NPIPE_EMOREDATA) {
                st = np_smb_parse_pipe_peek(tmp, got, &pi);
                if (st < 0) {
                        st = np_rpipe_malformed("peek on", p->name);
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
                                /* a byte-mode pipe has no message
                                 * (MessageLength 0), and a server's
                                 * lengths need not agree: never wrap */
                                ret->left = pi.message_len > n ? pi.message_len - (uint32_t)n : 0;
                        }
                }
        }
        free(tmp);
        np_rpipe_leave(p);
        return st;
}
