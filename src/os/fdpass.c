/*
 * fdpass.c - one packet and at most one descriptor over a SOCK_SEQPACKET
 * socket (os.h: np_send_packet, np_recv_packet, np_recv_packet_all).
 *
 * Both the library and the broker move every control message through these
 * functions, so the descriptor rules live here once: a library receiver
 * never ends up holding a descriptor it did not ask for (extras and those
 * of a truncated packet are closed at once), and every received descriptor
 * is O_CLOEXEC so it cannot leak into a program the receiver execs.  The
 * broker receives every descriptor instead (np_recv_packet_all), because
 * closing an untrusted one can block and it must choose where that
 * happens (src/broker/reap.c).
 */
#include "os/os.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Room for more descriptors than the protocol allows, so that a peer that
 * sends several gets them closed by us rather than half-installed: the
 * kernel drops (and does not install) whatever does not fit, so a small
 * buffer is never a leak, only a smaller count to close. */
#define NP_FDPASS_MAX 16

static int send_packet(int sock, const void *buf, size_t len, int fd, int flags)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t r;

        if (fd >= 0) {
                struct cmsghdr *cm;

                memset(&ctl, 0, sizeof ctl);
                msg.msg_control = ctl.buf;
                msg.msg_controllen = sizeof ctl.buf;
                cm = CMSG_FIRSTHDR(&msg);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        }
        do
                r = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        /* SOCK_SEQPACKET sends all or nothing; anything else is a socket
         * of the wrong kind. */
        if ((size_t)r != len)
                return -EMSGSIZE;
        return 0;
}

int np_send_packet(int sock, const void *buf, size_t len, int fd)
{
        return send_packet(sock, buf, len, fd, 0);
}

int np_send_packet_nowait(int sock, const void *buf, size_t len, int fd)
{
        return send_packet(sock, buf, len, fd, MSG_DONTWAIT);
}

/* Walk the control data: keep the first descriptor in *keep (when keep is
 * not NULL) and close every other one. */
static void take_fds(struct msghdr *msg, int *keep)
{
        struct cmsghdr *cm;

        for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
                size_t i, nfd;

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
                    cm->cmsg_len < CMSG_LEN(0))
                        continue;
                nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (i = 0; i < nfd; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
                        if (keep != NULL && *keep < 0)
                                *keep = fd;
                        else
                                close(fd);
                }
        }
}

/* One recvmsg of a packet into buf with control room ctl, retrying EINTR;
 * every received descriptor is close-on-exec.  The length or -errno. */
static ssize_t recv_one(int sock, void *buf, size_t len, void *ctl, size_t ctl_len, int flags,
                        struct msghdr *msg, struct iovec *iov)
{
        ssize_t r;

        iov->iov_base = buf;
        iov->iov_len = len;
        do {
                memset(msg, 0, sizeof *msg);
                msg->msg_iov = iov;
                msg->msg_iovlen = 1;
                msg->msg_control = ctl;
                msg->msg_controllen = ctl_len;
                r = recvmsg(sock, msg, flags | MSG_CMSG_CLOEXEC);
        } while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : r;
}

/* On -EMSGSIZE the first `len` bytes of the packet are in buf, so a
 * receiver can still read the header of an oversized packet (the broker
 * uses its req_id to answer it). */
ssize_t np_recv_packet(int sock, void *buf, size_t len, int *fd, int flags)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(NP_FDPASS_MAX * sizeof(int))];
        } ctl;
        struct iovec iov;
        struct msghdr msg;
        ssize_t r;

        if (fd != NULL)
                *fd = -1;
        r = recv_one(sock, buf, len, ctl.buf, sizeof ctl.buf, flags, &msg, &iov);
        if (r < 0)
                return r;
        if ((msg.msg_flags & MSG_TRUNC) || r == 0) {
                /* A truncated packet is dropped whole, descriptors too; so
                 * is anything that came with the end of the stream. */
                take_fds(&msg, NULL);
                return r == 0 ? 0 : -EMSGSIZE;
        }
        take_fds(&msg, fd);
        return r;
}

/* Every descriptor the kernel delivered, into r (at most
 * NP_FDPASS_SCM_MAX: one packet never carries more). */
static void collect_fds(struct msghdr *msg, struct np_rcvd *r)
{
        struct cmsghdr *cm;

        for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
                size_t i, nfd;

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_len < CMSG_LEN(0))
                        continue;
                if (cm->cmsg_type == SCM_CREDENTIALS) {
                        r->creds = 1;
                        continue;
                }
                if (cm->cmsg_type != SCM_RIGHTS)
                        continue;
                nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (i = 0; i < nfd; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
                        if (r->nfd < NP_FDPASS_SCM_MAX)
                                r->fds[r->nfd++] = fd;
                        else
                                close(fd); /* cannot happen: the kernel caps a packet */
                }
        }
}

ssize_t np_recv_packet_all(int sock, void *buf, size_t len, struct np_rcvd *r, int flags)
{
        /* SCM_MAX_FD descriptors, plus credentials and room for whatever
         * else a socket option might add, so MSG_CTRUNC never drops one. */
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(NP_FDPASS_SCM_MAX * sizeof(int)) +
                         CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(256)];
        } ctl;
        struct iovec iov;
        struct msghdr msg;
        ssize_t n;

        r->nfd = 0;
        r->creds = 0;
        r->ctrunc = 0;
        n = recv_one(sock, buf, len, ctl.buf, sizeof ctl.buf, flags, &msg, &iov);
        if (n < 0)
                return n;
        collect_fds(&msg, r);
        r->ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
        if (msg.msg_flags & MSG_TRUNC)
                return -EMSGSIZE;
        return n;
}
