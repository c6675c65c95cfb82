/*
 * tcp.c - resolve a host and connect to it, both bounded by the caller's
 * deadline (tcp.h).
 *
 * Why a file of its own: this is the only place that blocks on the
 * outside world before there is a connection, and bounding getaddrinfo
 * takes machinery (a helper thread) that the rest of the transport does
 * not need.  It knows nothing of SMB, so xport.c calls it and nothing here
 * calls back.
 *
 * getaddrinfo has no timeout of its own (a dead DNS server holds it for
 * resolv.conf's timeout times attempts times servers, easily half a
 * minute), and an open's timeout must bound the whole connect.  So a name
 * is looked up by a detached helper thread while the caller waits on a
 * condition variable until its deadline.  The lookup is shared by the two
 * and reference counted: when the caller gives up, the thread finishes on
 * its own and frees the results nobody wants.  A literal address, or an
 * open without a timeout, needs no thread.
 */
#include "smb/tcp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "npipe/npipe.h"
#include "smb/smb.h"

/* One lookup, shared by the caller and the helper thread. */
struct np_lookup {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned refs; /* the caller's and the thread's */
        bool done;
        int err;              /* getaddrinfo's */
        struct addrinfo *res; /* owned by whoever drops the last reference */
        char host[256];
        char port[8];
};

static const struct addrinfo np_hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};

/* Drop a reference (l->mu held; released). */
static void lookup_unref(struct np_lookup *l)
{
        bool last = --l->refs == 0;

        pthread_mutex_unlock(&l->mu);
        if (!last)
                return;
        if (l->res)
                freeaddrinfo(l->res);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l);
}

static void *lookup_thread(void *arg)
{
        struct np_lookup *l = arg;
        struct addrinfo *res = NULL;
        int err = getaddrinfo(l->host, l->port, &np_hints, &res);

        pthread_mutex_lock(&l->mu);
        l->err = err;
        l->res = err == 0 ? res : NULL;
        l->done = true;
        pthread_cond_signal(&l->cv);
        lookup_unref(l); /* the caller gone: this frees the results */
        return NULL;
}

/* Start the helper thread, with every signal blocked in it: the program's
 * handlers must not run on a thread it does not know about. */
static int lookup_spawn(struct np_lookup *l)
{
        pthread_attr_t attr;
        pthread_t t;
        sigset_t all, old;

        if (pthread_attr_init(&attr) != 0)
                return NPIPE_ENOMEM;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&t, &attr, lookup_thread, l);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        return rc == 0 ? 0 : NPIPE_ENOMEM;
}

/* getaddrinfo(host, port) before deadline: 0 with *err getaddrinfo's
 * answer (and *res when that is 0), or NPIPE_ETIMEDOUT, NPIPE_ENOMEM. */
static int lookup(const char *host, const char *port, int64_t deadline, struct addrinfo **res,
                  int *err)
{
        struct addrinfo numeric = np_hints;

        /* a literal address answers at once, without DNS */
        numeric.ai_flags |= AI_NUMERICHOST;
        *err = getaddrinfo(host, port, &numeric, res);
        if (*err != EAI_NONAME)
                return 0;
        if (deadline < 0) {
                *err = getaddrinfo(host, port, &np_hints, res);
                return 0;
        }

        struct np_lookup *l = calloc(1, sizeof(*l));
        if (!l)
                return NPIPE_ENOMEM;
        snprintf(l->host, sizeof(l->host), "%s", host);
        snprintf(l->port, sizeof(l->port), "%s", port);
        pthread_mutex_init(&l->mu, NULL);
        np_smb_cond_init_mono(&l->cv);
        l->refs = 2;
        if (lookup_spawn(l) < 0) {
                pthread_mutex_destroy(&l->mu);
                pthread_cond_destroy(&l->cv);
                free(l);
                return NPIPE_ENOMEM;
        }
        pthread_mutex_lock(&l->mu);
        while (!l->done && np_smb_cv_wait(&l->cv, &l->mu, deadline))
                ;
        int st = l->done ? 0 : NPIPE_ETIMEDOUT;
        if (l->done) {
                *err = l->err;
                *res = l->res;
                l->res = NULL; /* ours now */
        }
        lookup_unref(l);
        return st;
}

/* Connect fd to ai before deadline: 0, -1 with errno, or -2 when the
 * deadline passed. */
static int connect_one(int fd, const struct addrinfo *ai, int64_t deadline)
{
        int err = 0;

        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                return 0;
        if (errno != EINPROGRESS)
                return -1;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int wait = -1, pr;
        if (deadline >= 0) {
                int64_t left = deadline - np_smb_now_ms();
                wait = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
        }
        do
                pr = poll(&p, 1, wait);
        while (pr < 0 && errno == EINTR);
        if (pr == 0)
                return -2;
        socklen_t sl = sizeof(err);
        if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
                err = errno;
        errno = err;
        return err ? -1 : 0;
}

/* Connect to the first address of res that answers. */
static int connect_any(struct addrinfo *res, const char *desc, int64_t deadline, int *ret)
{
        int last = 0;

        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                ai->ai_protocol);
                if (fd < 0) {
                        last = errno;
                        continue;
                }
                int r = connect_one(fd, ai, deadline);
                if (r < 0) {
                        last = errno;
                        close(fd);
                        if (r == -2) {
                                np_smb_why("connecting to %s timed out", desc);
                                return NPIPE_ETIMEDOUT;
                        }
                        continue;
                }
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                *ret = fd;
                return 0;
        }
        np_smb_why("cannot connect to %s: %s", desc, strerror(last ? last : ECONNREFUSED));
        return last == ENOMEM ? NPIPE_ENOMEM : NPIPE_ENETPATH;
}

int np_smb_tcp_connect(const char *name, uint16_t port_no, const char *desc, int64_t deadline,
                       int *fd)
{
        struct addrinfo *res = NULL;
        char port[8], host[256];
        int err;

        snprintf(port, sizeof(port), "%u", port_no);
        /* a literal address in brackets ([::1]) */
        snprintf(host, sizeof(host), "%s", name);
        size_t hl = strlen(host);
        if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
                memmove(host, host + 1, hl - 2);
                host[hl - 2] = 0;
        }
        int st = lookup(host, port, deadline, &res, &err);
        if (st == NPIPE_ETIMEDOUT) {
                np_smb_why("resolving %s timed out", name);
                return st;
        }
        if (st < 0) {
                np_smb_why("cannot resolve %s: out of memory", name);
                return st;
        }
        if (err != 0) {
                np_smb_why("cannot resolve %s: %s", name, gai_strerror(err));
                return err == EAI_MEMORY  ? NPIPE_ENOMEM
                       : err == EAI_AGAIN ? NPIPE_ETIMEDOUT
                                          : NPIPE_ENETPATH;
        }
        st = connect_any(res, desc, deadline, fd);
        freeaddrinfo(res);
        return st;
}
