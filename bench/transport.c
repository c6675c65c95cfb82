/*
 * transport.c - every transport behind one interface: send one message,
 * receive one message (bench.h).
 *
 * Each baseline is set up the way a careful application would use it, in
 * its default configuration unless a message cannot pass otherwise:
 *
 *   seqpacket  socketpair(AF_UNIX, SOCK_SEQPACKET): one record per message.
 *              A record must fit the sender's SO_SNDBUF (default 212992 on
 *              Debian, minus 32 bytes), so for larger messages the socket
 *              buffers are raised to 2 x size + 64 KiB with SO_SNDBUFFORCE
 *              (root) or SO_SNDBUF (capped by net.core.wmem_max); when even
 *              that is too small the message is sent as several records and
 *              reassembled.  What was done is written to the CSV as a note.
 *   stream     socketpair(AF_UNIX, SOCK_STREAM), a 4-byte length before each
 *              message (one writev), and a reader that reads ahead into a
 *              64 KiB buffer, as any framing library does.
 *   pipe       two pipe2(O_DIRECT) pipes (packet mode, 4 KiB packets, 64 KiB
 *              default capacity); no empty messages.
 *   memfd      the seed's design: a SOCK_SEQPACKET socketpair carrying one
 *              sealed memfd per message with SCM_RIGHTS (write, seal, send,
 *              close; receive, check seals and size, pread, close).
 *   npipe-msg  npipe message pipe, message read mode, default 64 KiB quotas.
 *   npipe-byte npipe byte pipe; the reader knows the message size (records
 *              of a fixed size, as for the pipe).
 */
#include "bench.h"

#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Read exactly len bytes (byte streams and pipes). */
static int read_exact(int fd, void *buf, size_t len)
{
        uint8_t *p = buf;
        while (len) {
                ssize_t n = read(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static void close_fds(struct xport *x)
{
        for (int i = 0; i < 4; i++)
                if (x->fd[i] >= 0) {
                        close(x->fd[i]);
                        x->fd[i] = -1;
                }
}

/* ---- AF_UNIX SOCK_SEQPACKET ------------------------------------------------------------- */

/* Make a record of max_msg bytes possible: raise the send buffers, and
 * fall back to chunking when the kernel will not go that far. */
static void seqpacket_buffers(struct xport *x, int a, int b)
{
        int cur = 0;
        socklen_t sl = sizeof(cur);
        getsockopt(a, SOL_SOCKET, SO_SNDBUF, &cur, &sl);
        x->chunk = 0;
        if (x->max_msg + 32 <= (size_t)cur) {
                snprintf(x->note, sizeof(x->note), "default SO_SNDBUF %d", cur);
                return;
        }
        int want = (int)(2 * x->max_msg + 65536);
        const char *how = "SO_SNDBUFFORCE";
        if (setsockopt(a, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0 ||
            setsockopt(b, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0) {
                how = "SO_SNDBUF";
                setsockopt(a, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
                setsockopt(b, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
        }
        sl = sizeof(cur);
        getsockopt(a, SOL_SOCKET, SO_SNDBUF, &cur, &sl);
        if (x->max_msg + 32 <= (size_t)cur) {
                snprintf(x->note, sizeof(x->note), "%zu B records: %s raised to %d", x->max_msg,
                         how, cur);
                return;
        }
        /* records of half the buffer, so two can be in flight */
        x->chunk = (cur / 2) & ~4095;
        if (x->chunk < 4096)
                x->chunk = 4096;
        snprintf(x->note, sizeof(x->note), "%zu B messages chunked in %d B records (%s %d)",
                 x->max_msg, x->chunk, how, cur);
}

static int sp_prepare(struct xport *x)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        x->fd[0] = sv[0];
        x->fd[1] = sv[1];
        seqpacket_buffers(x, sv[0], sv[1]);
        return 0;
}

static int sp_attach(struct xport *x, int side)
{
        close(x->fd[!side]);
        x->fd[!side] = -1;
        x->fd[2] = x->fd[side];
        return 0;
}

static int sp_send(struct xport *x, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        size_t step = x->chunk ? (size_t)x->chunk : len;
        do {
                size_t n = len < step ? len : step;
                ssize_t w = send(x->fd[2], p, n, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if ((size_t)w != n)
                        return -EMSGSIZE;
                p += n;
                len -= n;
        } while (len);
        return 0;
}

static int sp_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        uint8_t *p = buf;
        size_t got = 0;
        do {
                ssize_t n = recv(x->fd[2], p + got, cap - got, MSG_TRUNC);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if ((size_t)n > cap - got)
                        return -EMSGSIZE;
                got += (size_t)n;
                if (!x->chunk)
                        break; /* one record is one message (0 bytes included) */
                if (n == 0)
                        return -EPIPE;
        } while (got < want);
        *len = got;
        return 0;
}

static void fd_detach(struct xport *x, int side)
{
        close_fds(x);
}

const struct xport_ops xp_seqpacket = {
        .name = "seqpacket",
        .label = "SOCK_SEQPACKET",
        .zero_ok = 1,
        .prepare = sp_prepare,
        .attach = sp_attach,
        .send = sp_send,
        .recv = sp_recv,
        .detach = fd_detach,
};

/* ---- AF_UNIX SOCK_STREAM with a length prefix ------------------------------------------- */

static int st_prepare(struct xport *x)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        x->fd[0] = sv[0];
        x->fd[1] = sv[1];
        snprintf(x->note, sizeof(x->note), "4-byte length prefix, 64 KiB read-ahead");
        return 0;
}

static int st_attach(struct xport *x, int side)
{
        sp_attach(x, side);
        x->rcap = 65536;
        x->rbuf = malloc(x->rcap);
        x->rlen = x->roff = 0;
        return x->rbuf ? 0 : -ENOMEM;
}

static int st_send(struct xport *x, const void *buf, size_t len)
{
        uint32_t hdr = (uint32_t)len;
        struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)buf, len}};
        size_t total = sizeof(hdr) + len;
        int idx = 0;
        while (total) {
                ssize_t n = writev(x->fd[2], iov + idx, 2 - idx);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                total -= (size_t)n;
                while (n > 0 && idx < 2) {
                        size_t take = (size_t)n < iov[idx].iov_len ? (size_t)n : iov[idx].iov_len;
                        iov[idx].iov_base = (uint8_t *)iov[idx].iov_base + take;
                        iov[idx].iov_len -= take;
                        n -= (ssize_t)take;
                        if (iov[idx].iov_len == 0)
                                idx++;
                }
        }
        return 0;
}

/* Read what the socket has, at least `need` bytes buffered. */
static int st_fill(struct xport *x, size_t need)
{
        if (x->roff && x->rlen - x->roff < need) {
                memmove(x->rbuf, x->rbuf + x->roff, x->rlen - x->roff);
                x->rlen -= x->roff;
                x->roff = 0;
        }
        while (x->rlen - x->roff < need) {
                ssize_t n = read(x->fd[2], x->rbuf + x->rlen, x->rcap - x->rlen);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPIPE;
                x->rlen += (size_t)n;
        }
        return 0;
}

static int st_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        int r = st_fill(x, 4);
        if (r < 0)
                return r;
        uint32_t hdr;
        memcpy(&hdr, x->rbuf + x->roff, 4);
        x->roff += 4;
        if (hdr > cap)
                return -EMSGSIZE;
        size_t have = x->rlen - x->roff;
        size_t n = have < hdr ? have : hdr;
        memcpy(buf, x->rbuf + x->roff, n);
        x->roff += n;
        if (x->roff == x->rlen)
                x->roff = x->rlen = 0;
        /* the rest of a large message goes straight to the caller's buffer */
        if (n < hdr) {
                r = read_exact(x->fd[2], (uint8_t *)buf + n, hdr - n);
                if (r < 0)
                        return r;
        }
        *len = hdr;
        return 0;
}

static void st_detach(struct xport *x, int side)
{
        free(x->rbuf);
        x->rbuf = NULL;
        close_fds(x);
}

const struct xport_ops xp_stream = {
        .name = "stream",
        .label = "SOCK_STREAM+len",
        .zero_ok = 1, /* the prefix carries an empty message */
        .prepare = st_prepare,
        .attach = st_attach,
        .send = st_send,
        .recv = st_recv,
        .detach = st_detach,
};

/* ---- pipe2(O_DIRECT) -------------------------------------------------------------------- */

static int pp_prepare(struct xport *x)
{
        int a[2], b[2];
        if (pipe2(a, O_DIRECT | O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(b, O_DIRECT | O_CLOEXEC) < 0) {
                close(a[0]);
                close(a[1]);
                return -errno;
        }
        /* a: driver -> peer, b: peer -> driver */
        x->fd[0] = a[0];
        x->fd[1] = a[1];
        x->fd[2] = b[0];
        x->fd[3] = b[1];
        snprintf(x->note, sizeof(x->note), "packet mode, default capacity");
        return 0;
}

static int pp_attach(struct xport *x, int side)
{
        int rd, wr;
        if (side == 0) {
                rd = x->fd[2];
                wr = x->fd[1];
                close(x->fd[0]);
                close(x->fd[3]);
        } else {
                rd = x->fd[0];
                wr = x->fd[3];
                close(x->fd[1]);
                close(x->fd[2]);
        }
        x->fd[0] = rd;
        x->fd[1] = wr;
        x->fd[2] = x->fd[3] = -1;
        return 0;
}

static int pp_send(struct xport *x, const void *buf, size_t len)
{
        return write_all(x->fd[1], buf, len);
}

static int pp_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        if (want > cap)
                return -EMSGSIZE;
        int r = read_exact(x->fd[0], buf, want);
        if (r == 0)
                *len = want;
        return r;
}

const struct xport_ops xp_pipe = {
        .name = "pipe",
        .label = "pipe2(O_DIRECT)",
        .zero_ok = 0,
        .prepare = pp_prepare,
        .attach = pp_attach,
        .send = pp_send,
        .recv = pp_recv,
        .detach = fd_detach,
};

/* ---- one memfd per message over SCM_RIGHTS ---------------------------------------------- */

static int mf_prepare(struct xport *x)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        x->fd[0] = sv[0];
        x->fd[1] = sv[1];
        snprintf(x->note, sizeof(x->note),
                 "memfd_create+write+seal+sendmsg(SCM_RIGHTS)+close; recvmsg+seals+fstat+pread");
        return 0;
}

#define MF_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static int mf_send(struct xport *x, const void *buf, size_t len)
{
        int fd = memfd_create("npb-msg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, buf, len);
        /* sealed: the receiver can trust the contents not to change after
         * it checked them, which is the point of this design */
        if (r == 0 && fcntl(fd, F_ADD_SEALS, MF_SEALS) < 0)
                r = -errno;
        if (r == 0) {
                uint64_t n = len;
                struct iovec iov = {&n, sizeof(n)};
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } cm;
                memset(&cm, 0, sizeof(cm));
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                                    .msg_controllen = sizeof(cm.buf)};
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
                while (sendmsg(x->fd[2], &mh, MSG_NOSIGNAL) < 0) {
                        if (errno != EINTR) {
                                r = -errno;
                                break;
                        }
                }
        }
        close(fd);
        return r;
}

static int mf_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        uint64_t n = 0;
        struct iovec iov = {&n, sizeof(n)};
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } cm;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                            .msg_controllen = sizeof(cm.buf)};
        ssize_t got;
        while ((got = recvmsg(x->fd[2], &mh, MSG_CMSG_CLOEXEC)) < 0)
                if (errno != EINTR)
                        return -errno;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (got != sizeof(n) || !c || c->cmsg_type != SCM_RIGHTS)
                return -EPROTO;
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        int r = 0;
        struct stat st;
        int seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & MF_SEALS) != MF_SEALS || fstat(fd, &st) < 0 ||
            (uint64_t)st.st_size != n || n > cap) {
                r = -EPROTO;
        } else {
                size_t done = 0;
                while (done < n) {
                        ssize_t k = pread(fd, (uint8_t *)buf + done, n - done, (off_t)done);
                        if (k <= 0) {
                                r = k < 0 ? -errno : -EPROTO;
                                break;
                        }
                        done += (size_t)k;
                }
        }
        close(fd);
        *len = (size_t)n;
        return r;
}

const struct xport_ops xp_memfd = {
        .name = "memfd",
        .label = "memfd/SCM_RIGHTS",
        .zero_ok = 1,
        .prepare = mf_prepare,
        .attach = sp_attach,
        .send = mf_send,
        .recv = mf_recv,
        .detach = fd_detach,
};

/* ---- npipe -------------------------------------------------------------------------------- */

const char *npipe_err(int r)
{
        return npipe_err_name(r);
}

void npipe_unique_name(char *buf, size_t len, const char *tag)
{
        static unsigned counter;
        snprintf(buf, len, "\\\\.\\pipe\\npb-%d-%u-%s", (int)getpid(), ++counter, tag);
}

static int np_prepare_type(struct xport *x, enum npipe_type type, int matched)
{
        npipe_unique_name(x->name, sizeof(x->name), type == NPIPE_TYPE_MESSAGE ? "msg" : "byte");
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.type = type;
        /* npipe-msg-buf: the buffer SOCK_SEQPACKET gets for records this
         * large (seqpacket_buffers: 2 x size + 64 KiB), as quotas, so two
         * messages can be in flight on both transports */
        uint32_t q = o.out_quota;
        if (matched && x->max_msg > q) {
                uint64_t want = 2ull * x->max_msg + 65536;
                q = want > 16u * 1024 * 1024 ? 16u * 1024 * 1024 : (uint32_t)want;
                o.in_quota = o.out_quota = q;
        }
        o.flags = NPIPE_FIRST_INSTANCE |
                  (type == NPIPE_TYPE_MESSAGE ? NPIPE_READMODE_MESSAGE : 0);
        o.max_instances = 1;
        npipe_t *h;
        int r = npipe_create(x->name, &o, &h);
        if (r < 0) {
                say("npipe_create: %s", npipe_err(r));
                return r;
        }
        x->h = h;
        if (q != 65536)
                snprintf(x->note, sizeof(x->note), "%u B quotas, as SOCK_SEQPACKET's buffer", q);
        else
                snprintf(x->note, sizeof(x->note), "default 64 KiB quotas (rings: server 128 KiB, "
                                                   "client 128 KiB)");
        return 0;
}

static int npm_prepare(struct xport *x)
{
        return np_prepare_type(x, NPIPE_TYPE_MESSAGE, 0);
}

static int npmb_prepare(struct xport *x)
{
        return np_prepare_type(x, NPIPE_TYPE_MESSAGE, 1);
}

static int npb_prepare(struct xport *x)
{
        return np_prepare_type(x, NPIPE_TYPE_BYTE, 0);
}

static int np_attach_mode(struct xport *x, int side, enum npipe_read_mode mode)
{
        int r;
        if (side == 0) {
                r = npipe_listen(x->h, 10000);
                if (r == NPIPE_EISCONN)
                        r = 0;
                if (r < 0)
                        say("npipe_listen: %s", npipe_err(r));
                return r;
        }
        /* the peer: the driver's handle is not ours (it belongs to the
         * parent process); open our own end */
        npipe_t *h;
        r = npipe_open(x->name, NPIPE_READ | NPIPE_WRITE, 10000, &h);
        if (r < 0) {
                say("npipe_open: %s", npipe_err(r));
                return r;
        }
        r = npipe_set_mode(h, &mode, NULL);
        if (r < 0) {
                npipe_close(h);
                return r;
        }
        x->h = h;
        return 0;
}

static int npm_attach(struct xport *x, int side)
{
        return np_attach_mode(x, side, NPIPE_READ_MESSAGE);
}

static int npb_attach(struct xport *x, int side)
{
        return np_attach_mode(x, side, NPIPE_READ_BYTE);
}

static int np_send(struct xport *x, const void *buf, size_t len)
{
        size_t n;
        int r = npipe_write(x->h, buf, len, &n);
        if (r < 0)
                return r;
        return n == len ? 0 : -EIO;
}

static int npm_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        return npipe_read(x->h, buf, cap, len);
}

static int npb_recv(struct xport *x, void *buf, size_t cap, size_t want, size_t *len)
{
        size_t done = 0;
        if (want > cap)
                return -EMSGSIZE;
        while (done < want) {
                size_t n;
                int r = npipe_read(x->h, (uint8_t *)buf + done, want - done, &n);
                if (r < 0)
                        return r;
                done += n;
        }
        *len = done;
        return 0;
}

static void np_detach(struct xport *x, int side)
{
        if (x->h)
                npipe_close(x->h);
        x->h = NULL;
}

const struct xport_ops xp_npipe_msg = {
        .name = "npipe-msg",
        .label = "npipe message",
        .zero_ok = 1,
        .prepare = npm_prepare,
        .attach = npm_attach,
        .send = np_send,
        .recv = npm_recv,
        .detach = np_detach,
};

/* The same with quotas as large as SOCK_SEQPACKET's buffer for the size
 * (an application streaming large messages sets nOutBufferSize as a socket
 * user sets SO_SNDBUF); rows differ from npipe-msg only above 64 KiB. */
const struct xport_ops xp_npipe_msg_buf = {
        .name = "npipe-msg-buf",
        .label = "npipe msg, big quota",
        .zero_ok = 1,
        .prepare = npmb_prepare,
        .attach = npm_attach,
        .send = np_send,
        .recv = npm_recv,
        .detach = np_detach,
};

const struct xport_ops xp_npipe_byte = {
        .name = "npipe-byte",
        .label = "npipe byte",
        .zero_ok = 0,
        .prepare = npb_prepare,
        .attach = npb_attach,
        .send = np_send,
        .recv = npb_recv,
        .detach = np_detach,
};

/* npipe through its Win32 API: npipe-bench-win32 (the same source Wine
 * runs), run by the rounds as a case of its own (rounds.c: measure_win32);
 * the overlapped one has the server's I/O FILE_FLAG_OVERLAPPED. */
const struct xport_ops xp_win32 = {
        .name = "npipe-win32",
        .label = "npipe Win32 API",
        .zero_ok = 1,
        .win32 = 1,
};

const struct xport_ops xp_win32_ovl = {
        .name = "npipe-win32-ovl",
        .label = "Win32 overlapped",
        .zero_ok = 1,
        .win32 = 2,
};

/* The order of a round (rounds.c): SOCK_SEQPACKET first, as most ratios
 * are to it, then npipe, the bare ring and the Win32 rows next to it. */
const struct xport_ops *const all_xports[] = {
        &xp_seqpacket, &xp_npipe_msg, &xp_npipe_msg_buf, &xp_npipe_byte, &xp_bare_ring,
        &xp_win32,     &xp_win32_ovl, &xp_stream,        &xp_pipe,       &xp_memfd,
        NULL,
};

const struct xport_ops *xport_find(const char *name)
{
        for (int i = 0; all_xports[i]; i++)
                if (strcmp(all_xports[i]->name, name) == 0)
                        return all_xports[i];
        return NULL;
}

/* Is `name` in the comma-separated list (NULL: everything)? */
static int in_list(const char *list, const char *name)
{
        if (!list)
                return 1;
        size_t n = strlen(name);
        for (const char *p = list; *p;) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len == n && strncmp(p, name, n) == 0)
                        return 1;
                if (!e)
                        break;
                p = e + 1;
        }
        return 0;
}

int xport_selected(const struct xport_ops *ops)
{
        return in_list(g_opts.only, ops->name);
}

int name_selected(const char *name)
{
        return in_list(g_opts.only, name);
}

int test_selected(const char *test)
{
        return in_list(g_opts.tests, test);
}
