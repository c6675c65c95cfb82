/*
 * remote.c - pipes reachable from Windows machines through Samba.
 *
 * smbd sends every open of \\host\pipe\NAME to the unix stream socket
 * <np dir>/<lower-case NAME> (docs/remote.md, ../research/samba.md).  So a
 * broker started with --samba-np-dir gives each pipe that takes remote
 * clients (an instance without NPIPE_REJECT_REMOTE) a socket there, named
 * by the folded name, and removes it with the last such instance: a pipe
 * that does not exist is then STATUS_OBJECT_NAME_NOT_FOUND for the client,
 * as on Windows.
 *
 * The broker thread only binds, accepts and checks the peer: smbd connects
 * as root, and since the first bytes it sends carry the user's session key,
 * nobody else may talk to these sockets.  Each accepted connection goes to
 * the relay thread (relay.c), which answers the handshake and then carries
 * the data between the socket and an ordinary client end of the pipe.  The
 * broker loop never reads from these sockets, so a slow or hostile peer
 * cannot stall it.
 */
#include "broker/broker.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <wctype.h>

#include "broker/limits.h"
#include "broker/relay.h"
#include "npipe/npipe.h"

struct np_rsock {
        struct np_src src;
        struct np_link link; /* b->rsocks, then b->rsock_graveyard once closed */
        struct np_pipe *pipe;
        int fd;
        dev_t dev; /* to unlink the path only while it is still ours */
        ino_t ino;
        char path[108];
};

int np_remote_init(struct np_broker *b)
{
        np_link_init(&b->rsocks);
        np_link_init(&b->rsock_graveyard);
        if (b->remote_dir[0] == '\0')
                return 0;
        return np_relay_start();
}

static void rsock_unlink(const struct np_rsock *rs)
{
        struct stat st;

        if (lstat(rs->path, &st) == 0 && st.st_dev == rs->dev && st.st_ino == rs->ino)
                unlink(rs->path);
}

/* A broker that stops takes its sockets with it: smbd then reports a
 * missing pipe (OBJECT_NAME_NOT_FOUND), not a refused connection. */
void np_remote_shutdown(struct np_broker *b)
{
        if (b->remote_dir[0] == '\0')
                return;
        np_relay_stop();
        for (struct np_link *l = b->rsocks.next; l != &b->rsocks; l = l->next)
                rsock_unlink(np_container_of(l, struct np_rsock, link));
}

/* Can this folded name be a file in the np directory?  smbd itself refuses
 * names with '/' and the dot entries (CVE-2023-3961). */
static bool usable_name(const char *key, uint32_t len)
{
        if (len == 0 || memchr(key, '/', len) != NULL || memchr(key, '\0', len) != NULL)
                return false;
        if ((len == 1 && key[0] == '.') || (len == 2 && key[0] == '.' && key[1] == '.'))
                return false;
        return true;
}

/* One UTF-8 sequence at s (n bytes left): the code point and its length,
 * or length 0 for a malformed one. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
        size_t len;

        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, *cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, *cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, *cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                *cp = *cp << 6 | (s[k] & 0x3f);
        }
        return len;
}

static size_t utf8_put(char *out, uint32_t cp)
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | cp >> 6);
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | cp >> 12);
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | cp >> 18);
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

/*
 * The file name smbd looks for: it lower-cases the pipe name with Unicode
 * rules (its own tables cover the Basic Multilingual Plane), where our
 * namespace folds ASCII only.  So "Ωmega" is the socket "ωmega".  Two of
 * our pipes that differ only in non-ASCII case meet in one socket; the
 * second is not exposed (bind_path finds the first alive).  Returns the
 * length written to out (cap bytes), 0 when it does not fit.
 */
static size_t smb_lower(const char *name, size_t n, char *out, size_t cap)
{
        static locale_t utf8;
        const unsigned char *s = (const unsigned char *)name;
        size_t o = 0;

        if (utf8 == (locale_t)0)
                utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        while (n > 0) {
                uint32_t cp;
                size_t len = utf8_next(s, n, &cp);

                if (len == 0)
                        return 0; /* names are valid UTF-8 (name.c) */
                if (cp < 0x80)
                        cp = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
                else if (cp < 0x10000 && utf8 != (locale_t)0)
                        cp = (uint32_t)towlower_l((wint_t)cp, utf8);
                if (o + 4 >= cap)
                        return 0;
                o += utf8_put(out + o, cp);
                s += len;
                n -= len;
        }
        out[o] = '\0';
        return o;
}

/* Bind path, replacing a stale socket (a dead broker's: nobody accepts on
 * it) but never a live one, which belongs to someone else (samba-dcerpcd
 * keeps Samba's own pipes in the same directory). */
static int bind_path(int fd, const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int probe, r;

        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
                return 0;
        if (errno != EADDRINUSE)
                return -errno;
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (probe < 0)
                return -errno;
        r = connect(probe, (struct sockaddr *)&sa, sizeof sa);
        if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
                close(probe);
                return -EADDRINUSE;
        }
        close(probe);
        if (errno != ECONNREFUSED)
                return -EADDRINUSE; /* not a socket, or not ours to judge */
        if (unlink(path) < 0)
                return -errno;
        return bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno;
}

void np_remote_expose(struct np_broker *b, struct np_pipe *p)
{
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
        struct np_rsock *rs;
        struct stat st;
        int n, r;

        if (b->remote_dir[0] == '\0' || p->rsock != NULL || p->dead)
                return;
        if (!usable_name(p->key, p->name_len)) {
                np_log(LOG_INFO, "pipe %s: no remote socket (name unusable as a file)",
                       p->display);
                return;
        }
        if (b->n_rsocks >= NP_LIM_REMOTE_PIPES) {
                np_log(LOG_WARNING, "pipe %s: no remote socket (limit of %u reached)", p->display,
                       NP_LIM_REMOTE_PIPES);
                return;
        }
        rs = calloc(1, sizeof *rs);
        if (rs == NULL)
                return;
        n = snprintf(rs->path, sizeof rs->path, "%s/", b->remote_dir);
        if (n < 0 || (size_t)n >= sizeof rs->path ||
            smb_lower(p->display, p->name_len, rs->path + n, sizeof rs->path - (size_t)n) == 0) {
                np_log(LOG_INFO, "pipe %s: no remote socket (path too long for a socket)",
                       p->display);
                free(rs);
                return;
        }
        rs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (rs->fd < 0 || rs->fd >= b->fd_budget) {
                if (rs->fd >= 0)
                        close(rs->fd);
                np_log(LOG_WARNING, "pipe %s: no remote socket (out of descriptors)", p->display);
                free(rs);
                return;
        }
        r = bind_path(rs->fd, rs->path);
        /* smbd connects as root; no one else has business here */
        if (r == 0 && (chmod(rs->path, 0600) < 0 || listen(rs->fd, 128) < 0 ||
                       lstat(rs->path, &st) < 0))
                r = -errno;
        if (r < 0) {
                np_log(r == -EADDRINUSE ? LOG_WARNING : LOG_ERR, "pipe %s: remote socket %s: %s",
                       p->display, rs->path,
                       r == -EADDRINUSE ? "taken by another server" : strerror(-r));
                if (r != -EADDRINUSE)
                        unlink(rs->path);
                close(rs->fd);
                free(rs);
                return;
        }
        rs->dev = st.st_dev;
        rs->ino = st.st_ino;
        rs->src.kind = NP_SRC_REMOTE;
        rs->pipe = p;
        ev.data.ptr = &rs->src;
        if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, rs->fd, &ev) < 0) {
                unlink(rs->path);
                close(rs->fd);
                free(rs);
                return;
        }
        p->rsock = rs;
        np_link_add_tail(&b->rsocks, &rs->link);
        b->n_rsocks++;
        np_log(LOG_DEBUG, "pipe %s: remote socket %s", p->display, rs->path);
}

void np_remote_unexpose(struct np_broker *b, struct np_pipe *p)
{
        struct np_rsock *rs = p->rsock;

        if (rs == NULL)
                return;
        p->rsock = NULL;
        b->n_rsocks--;
        np_link_del(&rs->link);
        rsock_unlink(rs);
        close(rs->fd); /* also leaves the epoll set */
        rs->fd = -1;
        rs->pipe = NULL;
        /* events later in this epoll batch may still point at it */
        np_link_add_tail(&b->rsock_graveyard, &rs->link);
}

void np_remote_bury(struct np_broker *b)
{
        while (!np_link_empty(&b->rsock_graveyard)) {
                struct np_rsock *rs =
                    np_container_of(b->rsock_graveyard.next, struct np_rsock, link);

                np_link_del(&rs->link);
                free(rs);
        }
}

void np_remote_accept(struct np_broker *b, struct np_rsock *rs)
{
        /* Edge-triggered: take everything now.  On a resource error the
         * rest waits for the next connection (smbd retries nothing, but a
         * full descriptor table must not spin the loop). */
        while (rs->fd >= 0 && rs->pipe != NULL) {
                struct ucred cred;
                socklen_t len = sizeof cred;
                int fd = accept4(rs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                np_log(LOG_WARNING, "remote socket %s: accept: %s", rs->path,
                                       strerror(errno));
                        return;
                }
                if (fd >= b->fd_budget) {
                        close(fd);
                        continue;
                }
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                        np_log(LOG_NOTICE, "remote socket %s: refused a non-root peer (pid %ld)",
                               rs->path, (long)cred.pid);
                        close(fd);
                        continue;
                }
                if (np_relay_submit(fd, rs->pipe->display,
                                    rs->pipe->params.type == NPIPE_TYPE_MESSAGE) < 0) {
                        np_log(LOG_WARNING, "pipe %s: remote client refused (limit of %u reached)",
                               rs->pipe->display, NP_LIM_REMOTE_CONNS);
                        close(fd);
                }
        }
}
