/*
 * pipe.c - the module's table (module.h): remote pipe handles over the
 * connections of conn.c; open, wait, close and the small calls here, the
 * data path in pipe_io.c.
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

#include "smb/conn.h"
#include "smb/module.h"
#include "smb/msg.h"
#include "smb/pipe.h"
#include "smb/smb.h"

/* How long CLOSE may take (close has no timeout of its own). */
#define NP_SMB_CLOSE_MS 5000
/* A FSCTL_PIPE_WAIT runs on the server for its timeout; our own deadline
 * for the answer is that plus this. */
#define NP_SMB_WAIT_SLACK_MS 5000

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
                st = np_rpipe_nt_fail("open", name, r.h.status);
        } else if (!(p = calloc(1, sizeof(*p))) || !(p->name = strdup(name))) {
                st = NPIPE_ENOMEM;
        } else if (np_smb_parse_create(r.msg, r.len, p->fid) < 0) {
                st = np_rpipe_malformed("open", name);
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
                        st = np_rpipe_nt_fail("wait for", name, r.h.status);
                np_smb_resp_free(&r);
        }
        np_smb_conn_put(c);
        return st;
}


/* ---- info, mode, flush -------------------------------------------- */

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
                st = np_rpipe_nt_fail("query info of", p->name, r.h.status);
        } else if (np_smb_parse_query_info(r.msg, r.len, &data, &dlen) < 0 || dlen > out_len) {
                st = np_rpipe_malformed("query info of", p->name);
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
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        st = query_info(p, gen, NP_FILE_PIPE_LOCAL_INFORMATION, buf,
                        sizeof(struct np_fscc_pipe_local_info), &got);
        if (st == 0 && np_smb_parse_pipe_local(buf, got, &pl) < 0)
                st = np_rpipe_malformed("query info of", p->name);
        if (st == 0) {
                st = query_info(p, gen, NP_FILE_PIPE_INFORMATION, buf, sizeof(struct np_fscc_pipe_info),
                                &got);
                if (st == 0 && np_smb_parse_pipe_info(buf, got, &rm, &cm) < 0)
                        st = np_rpipe_malformed("query info of", p->name);
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
        np_rpipe_leave(p);
        return st;
}

static int m_set_mode(struct np_rpipe *p, const enum npipe_read_mode *read_mode,
                      const int *nowait)
{
        uint8_t buf[8];
        size_t got = 0;
        uint32_t rm = 0, cm = 0;

        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        if (!read_mode || !nowait) {
                /* FilePipeInformation sets both: keep the one not given */
                st = query_info(p, gen, NP_FILE_PIPE_INFORMATION, buf, sizeof(buf), &got);
                if (st == 0 && np_smb_parse_pipe_info(buf, got, &rm, &cm) < 0)
                        st = np_rpipe_malformed("query info of", p->name);
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
                                st = np_rpipe_nt_fail("set mode of", p->name, r.h.status);
                        else if (np_smb_parse_fixed(r.msg, r.len, 2) < 0)
                                st = np_rpipe_malformed("set mode of", p->name);
                        np_smb_resp_free(&r);
                }
        }
        np_rpipe_leave(p);
        return st;
}

static int m_flush(struct np_rpipe *p)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 24];
        struct np_smb_resp r;

        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        np_smb_put_hdr(msg, NP_SMB2_FLUSH, 1, 0, 0, 0, 0);
        int len = np_smb_build_flush(msg, sizeof(msg), p->fid);
        st = np_smb_call_ex(p->conn, msg, (size_t)len, 0, &p->own, gen, -1, 0, &r);
        if (st == 0) {
                if (r.h.status != NP_STATUS_SUCCESS)
                        st = np_rpipe_nt_fail("flush", p->name, r.h.status);
                else if (np_smb_parse_fixed(r.msg, r.len, 4) < 0)
                        st = np_rpipe_malformed("flush", p->name);
                np_smb_resp_free(&r);
        }
        np_rpipe_leave(p);
        return st;
}

/* ---- cancel, close -------------------------------------------------- */

static int m_cancel(struct np_rpipe *p)
{
        unsigned gen;
        int st = np_rpipe_enter(p, &gen);
        if (st < 0)
                return st;
        np_smb_cancel_owner(p->conn, &p->own);
        np_rpipe_leave(p);
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
                        st = np_rpipe_nt_fail("close", p->name, r.h.status);
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
        .read = np_rpipe_read,
        .write = np_rpipe_write,
        .transact = np_rpipe_transact,
        .peek = np_rpipe_peek,
        .get_info = m_get_info,
        .set_mode = m_set_mode,
        .flush = m_flush,
        .cancel = m_cancel,
        .close = m_close,
        .why = m_why,
};
