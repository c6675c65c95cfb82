/*
 * handoff.c - how a handle of this process reaches another process: the
 * descriptor a child gets for an object (a copy of a file's, or a Linux
 * pipe with relay threads for a pipe end), and DuplicateHandle into a
 * child through the channel CreateProcess gives every child, with the
 * child's side that takes such handles in.
 *
 * How a pipe end reaches a child.  A native pipe end belongs to the
 * process that opened it (npipe.h: it fails after fork), so the child
 * cannot use the parent's end itself.  What it gets instead is a Linux
 * pipe (a socket pair for a duplex end) and, in the parent, a relay thread
 * per direction that moves the bytes between that and the pipe end.  The
 * relay holds the end open like a handle would (np_win_obj_hold), so the
 * usual protocol works unchanged: the parent closes its copy of the
 * child's end, and the end closes - ReadFile in the parent fails with
 * ERROR_BROKEN_PIPE - once the child and everything it started have
 * closed theirs.
 *
 * DuplicateHandle into a child.  On Windows the target process's table
 * picks the value and the caller passes it on (a pipe, the command line
 * of a held child...).  Here the parent picks it, from the slots a
 * process never gives its own handles (NP_WIN_SLOT_LOCAL and up, one
 * counter per child, never reused), and sends the descriptor with the
 * value over the child's channel (SOCK_SEQPACKET, SCM_RIGHTS) before the
 * call returns.  The child needs no thread: a lookup of a value in that
 * range that is not in its table first takes in what the channel holds
 * (np_win_dup_pull).  The value can only reach the child after the send,
 * so whatever path carries it, the descriptor is already queued when the
 * child looks: the handle is there as soon as the child can name it, as
 * on Windows.  A child that never reads the channel holds at most a
 * socket buffer of them; the parent is then told ERROR_NOT_ENOUGH_QUOTA
 * instead of blocking.
 */
#include "win32/win32.h"
#include "os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- relays: a pipe end carried to a child as a Linux pipe ---------------------------------- */

struct relay {
        struct w_pipe *p; /* a reference and a hold */
        int fd;           /* the parent's side of the Linux pipe or socket pair */
        int to_child;     /* 1: pipe end -> fd; 0: fd -> pipe end */
        struct duplex *dx;  /* the two directions of a duplex end share p's hold */
};

/* A duplex end's two relays: the first to end releases the hold, since
 * either one ending means the child's side is gone (the child closed it:
 * end of input; it cannot take more: a failed send) or the pipe is
 * (broken, closed).  The other may be blocked in npipe_read until then:
 * when ours was the end's last hold, the close wakes it.  Waiting for both
 * kept a named pipe's client end open for ever after the child closed
 * it, until the server wrote something. */
struct duplex {
        _Atomic int users;
        _Atomic int released;
};

static void relay_done(struct relay *r)
{
        if (!r->dx) {
                np_win_obj_release(&r->p->obj);
        } else {
                if (!atomic_exchange(&r->dx->released, 1))
                        np_win_obj_release(&r->p->obj);
                if (atomic_fetch_sub(&r->dx->users, 1) == 1)
                        free(r->dx);
        }
        np_win_put(&r->p->obj);
        free(r);
}

static void *relay_main(void *arg)
{
        struct relay *r = arg;
        char buf[16384];
        for (;;) {
                if (r->to_child) {
                        size_t n = 0;
                        int st = npipe_read(r->p->np, buf, sizeof(buf), &n);
                        if (st < 0 && st != NPIPE_EMOREDATA)
                                break; /* closed, broken: the child sees its end */
                        size_t off = 0;
                        while (off < n) {
                                ssize_t w = send(r->fd, buf + off, n - off, MSG_NOSIGNAL);
                                if (w < 0 && errno == ENOTSOCK)
                                        w = write(r->fd, buf + off, n - off);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w <= 0)
                                        goto out; /* the child's side is closed */
                                off += (size_t)w;
                        }
                } else {
                        ssize_t n = read(r->fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break; /* every writer in the child's tree closed */
                        size_t done = 0;
                        if (npipe_write(r->p->np, buf, (size_t)n, &done) < 0)
                                break;
                }
        }
out:
        if (r->to_child)
                shutdown(r->fd, SHUT_WR);
        close(r->fd);
        relay_done(r);
        return NULL;
}

static int relay_start(struct w_pipe *p, int fd, int to_child, struct duplex *dx)
{
        struct relay *r = calloc(1, sizeof(*r));
        if (!r)
                return -1;
        r->p = p;
        r->fd = fd;
        r->to_child = to_child;
        r->dx = dx;
        np_win_ref(&p->obj);
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        /* the relays take no signals: they belong to no part of the program */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t t;
        int e = pthread_create(&t, &at, relay_main, r);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&at);
        if (e) {
                np_win_put(&p->obj);
                free(r);
                return -1;
        }
        return 0;
}

/* The descriptor a child gets for an object: a copy of a file's, or the
 * child's side of a new relay for a pipe end.  -1 for objects that do not
 * cross processes (events, ports, threads, processes). */
int np_win_child_fd(struct w_obj *o, unsigned *access)
{
        if (o->type == W_FILE) {
                struct w_file *f = (struct w_file *)o;
                *access = f->access;
                return f->fd >= 0 ? fcntl(f->fd, F_DUPFD_CLOEXEC, NP_WIN_FD_BASE) : -1;
        }
        if (o->type != W_PIPE)
                return -1;
        struct w_pipe *p = (struct w_pipe *)o;
        if (atomic_load(&p->closed))
                return -1;
        int rd = (p->access & WACC_READ) != 0, wr = (p->access & WACC_WRITE) != 0;
        *access = p->access & (WACC_READ | WACC_WRITE);
        int sv[2];
        if (rd && wr) {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return -1;
        } else {
                if (pipe2(sv, O_CLOEXEC) < 0)
                        return -1;
                if (wr) { /* the child writes into sv[1], the relay reads sv[0] */
                        int t = sv[0];
                        sv[0] = sv[1];
                        sv[1] = t;
                }
                /* now sv[0] is the child's side, sv[1] the relay's */
        }
        int child = rd && wr ? sv[0] : sv[0];
        int mine = sv[1];
        int high = fcntl(child, F_DUPFD_CLOEXEC, NP_WIN_FD_BASE);
        close(child);
        if (high < 0) {
                close(mine);
                return -1;
        }
        np_win_obj_hold(&p->obj);
        if (rd && wr) {
                struct duplex *dx = malloc(sizeof(*dx));
                int mine2 = dx ? fcntl(mine, F_DUPFD_CLOEXEC, 0) : -1;
                if (!dx || mine2 < 0) {
                        free(dx);
                        close(mine);
                        close(high);
                        np_win_obj_release(&p->obj);
                        return -1;
                }
                atomic_init(&dx->users, 2);
                atomic_init(&dx->released, 0);
                if (relay_start(p, mine, 1, dx) < 0) {
                        free(dx);
                        close(mine);
                        close(mine2);
                        close(high);
                        np_win_obj_release(&p->obj);
                        return -1;
                }
                if (relay_start(p, mine2, 0, dx) < 0) {
                        /* the first ends at its next send: the child's side
                         * is closed with `high`; it releases the hold */
                        close(mine2);
                        close(high);
                        if (atomic_fetch_sub(&dx->users, 1) == 1)
                                free(dx);
                        return -1;
                }
        } else if (relay_start(p, mine, rd, NULL) < 0) {
                close(mine);
                close(high);
                np_win_obj_release(&p->obj);
                return -1;
        }
        return high;
}

/* ---- DuplicateHandle into a child ----------------------------------------------------------- */

/* One handle on the channel, with its descriptor (SCM_RIGHTS). */
struct dup_msg {
        uint32_t magic;
        uint32_t slot;   /* the value is slot << 2 (generation 0) */
        uint32_t access; /* WACC_* */
        uint32_t inherit;
};
#define DUP_MAGIC 0x4e504448u /* "NPDH" */
_Static_assert(sizeof(struct dup_msg) == 16, "the channel's record");

DWORD np_win_dup_send(int chan, uint32_t slot, struct w_obj *o, BOOL inherit)
{
        if (o->type != W_FILE && o->type != W_PIPE)
                return ERROR_NOT_SUPPORTED; /* events, ports... stay here (docs/win32.md) */
        unsigned access = 0;
        int fd = np_win_child_fd(o, &access);
        if (fd < 0)
                return o->type == W_PIPE ? ERROR_INVALID_HANDLE : ERROR_NOT_ENOUGH_MEMORY;
        struct dup_msg m = {DUP_MAGIC, slot, access, inherit ? 1u : 0u};
        int e = -np_send_packet_nowait(chan, &m, sizeof(m), fd);
        /* the queued copy is the child's now; ours goes (for a pipe end
         * whose send failed, that ends its relays) */
        close(fd);
        if (!e)
                return ERROR_SUCCESS;
        if (e == EAGAIN || e == ENOBUFS || e == ETOOMANYREFS)
                return ERROR_NOT_ENOUGH_QUOTA; /* the child does not take them in */
        if (e == ENOMEM)
                return ERROR_NOT_ENOUGH_MEMORY;
        return ERROR_ACCESS_DENIED; /* EPIPE...: the child has ended */
}

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static int chan = -1;
/* what `chan` was when we took it: a program that closed the descriptor
 * and reused the number must not have its own socket read (or closed) */
static dev_t chan_dev;
static ino_t chan_ino;
/* set while this thread enters received handles: a lookup from there
 * must not take chan_lock again */
static _Thread_local int pulling;

static int chan_is_ours(void)
{
        struct stat st;
        return fstat(chan, &st) == 0 && st.st_dev == chan_dev && st.st_ino == chan_ino;
}

void np_win_dup_channel_take(int fd)
{
        int type = 0;
        socklen_t len = sizeof(type);
        /* anything but the socket our parent made (a stale variable, a
         * descriptor the program put there) is left alone */
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
                return;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return;
        fcntl(fd, F_SETFD, FD_CLOEXEC); /* ours, not our children's */
        shutdown(fd, SHUT_WR);          /* nothing goes back to the parent */
        pthread_mutex_lock(&chan_lock);
        chan = fd;
        chan_dev = st.st_dev;
        chan_ino = st.st_ino;
        pthread_mutex_unlock(&chan_lock);
}

/* Enter one received record; its descriptor is consumed either way. */
static int dup_enter(const struct dup_msg *m, int fd)
{
        if (m->magic != DUP_MAGIC || m->slot < NP_WIN_SLOT_LOCAL ||
            m->slot >= NP_WIN_SLOT_END || (m->access & ~(unsigned)(WACC_READ | WACC_WRITE))) {
                close(fd);
                return 0;
        }
        struct w_obj *o = np_win_file_new(fd, m->access);
        if (!o) {
                close(fd);
                return 0;
        }
        HANDLE h = np_win_handle_new_at((HANDLE)(uintptr_t)((uintptr_t)m->slot << 2), o);
        if (!h) { /* a value already taken: a confused or hostile parent */
                np_win_put(o);
                return 0;
        }
        if (m->inherit)
                np_win_handle_flags(h, NULL, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
        return 1;
}

int np_win_dup_pull(void)
{
        int entered = 0;
        if (pulling)
                return 0;
        pulling = 1;
        pthread_mutex_lock(&chan_lock);
        if (chan >= 0 && !chan_is_ours())
                chan = -1; /* not ours any more: leave it to the program */
        while (chan >= 0) {
                struct dup_msg m;
                int fd = -1;
                ssize_t n = np_recv_packet(chan, &m, sizeof(m), &fd, MSG_DONTWAIT);
                if (n == -EINTR || n == -EMSGSIZE) /* a truncated one's descriptors are closed */
                        continue;
                if (n == -EAGAIN || n == -EWOULDBLOCK)
                        break;
                if (n == 0) { /* the parent has closed its end: nothing more comes */
                        close(chan);
                        chan = -1;
                        break;
                }
                if (n < 0) {
                        chan = -1;
                        break;
                }
                if (fd < 0)
                        continue;
                if (n != (ssize_t)sizeof(m)) {
                        close(fd);
                        continue;
                }
                entered += dup_enter(&m, fd);
        }
        pthread_mutex_unlock(&chan_lock);
        pulling = 0;
        return entered;
}
