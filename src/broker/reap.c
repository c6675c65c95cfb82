/*
 * reap.c - the reaper: threads that close the descriptors the event loop
 * must not close itself (reap.h; issue 15, points 5 and 8).
 *
 * The event loop hands over a descriptor with np_reap_fd() and forgets it.
 * A thread takes it from the queue and, for a socket, first makes the
 * close quick: a unix socket is shut down (nobody can add to its queue)
 * and emptied, each descriptor found in it reaped in turn (that is where a
 * TCP socket sent inside a socket would otherwise be released: by whoever
 * closes the outer one), and a listening one's pending connections are
 * accepted and reaped the same way; then SO_LINGER {1, 0} makes the close
 * of a TCP socket abortive and instant.  What can still block (a FUSE file
 * whose daemon never answers FLUSH blocks uninterruptibly) only holds that
 * thread: when every thread has spent NP_REAP_SLOW_MS on one close while
 * work waits, the loop starts another, up to NP_REAP_THREADS_MAX.
 *
 * Bounds.  Each descriptor handed over is charged to the uid that sent it
 * (np_uacct.reaping) until a thread has closed it and the loop has read
 * the news from the eventfd; a uid other than root and the broker's own
 * with more than NP_LIM_REAP_PER_UID waiting is not read from (no request
 * of it can bring more) and a process of it sending one more is dropped
 * (np_fd_discard, client.c).
 * Such a uid can therefore have at most NP_LIM_REAP_PER_UID + one
 * packet's NP_FDPASS_SCM_MAX + the sockets of its processes waiting here.
 * Root and the broker's own uid are not limited: they own the broker.
 * Descriptors found inside sockets are the reaper's own cost, not
 * charged: there are at most as many as their sender could have in
 * flight (the kernel's per-user limit), and the thread closes them one at
 * a time as it finds them.  The descriptor table is shared with the loop,
 * so what the reaper holds above the budget is counted (claim; limits.h,
 * NP_LIM_FD_RESERVE, NP_LIM_REAP_HIGH).
 *
 * Threads and loop share only the queue, the list of finished items and
 * their counters, under one mutex; the accounting (np_uacct) is the
 * loop's alone, updated when it reads the eventfd.
 */
#include "broker/reap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker/limits.h"
#include "core/ring_layout.h"
#include "os/os.h"

/* The seals the library puts on every segment before sending it. */
#define NP_SEG_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | F_SEAL_FUTURE_WRITE)

/* A close that took this long is worth a log line. */
#define NP_REAP_LOG_SLOW_NS (1000 * 1000000ll)

struct np_reap_item {
        struct np_reap_item *next;
        int fd;
        bool high;             /* numbered at or above the budget: counted in claim */
        struct np_uacct *acct; /* charged (->reaping), or NULL */
        int64_t took_ns;       /* how long the close took (set by the thread) */
};

struct np_reap_thread {
        bool alive;
        int64_t busy_since; /* the close in progress started then; 0: none */
};

struct np_reaper {
        struct np_src src; /* NP_SRC_REAPER, for the eventfd */
        int efd;           /* a thread closed something */
        int budget;        /* b->fd_budget */

        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* under lock */
        struct np_reap_item *todo, **todo_tail;
        struct np_reap_item *done;
        unsigned threads, idle;
        struct np_reap_thread thr[NP_REAP_THREADS_MAX];

        /* Descriptors numbered at or above the budget that the reaper
         * holds, plus NP_FDPASS_SCM_MAX for each receive in progress. */
        atomic_size_t claim;

        /* the loop's alone */
        size_t items;       /* handed over, not settled yet */
        bool blocked;       /* np_reap_blocks said yes since the last settle */
        int64_t recheck_ns; /* blocked for claim: look again then (0: not) */
        struct np_ratelimit rl_slow, rl_thread;
};

static int64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* ---- the threads ----------------------------------------------------------- */

static void claim_add(struct np_reaper *r, int fd)
{
        if (fd >= r->budget)
                atomic_fetch_add(&r->claim, 1);
}

static void claim_sub(struct np_reaper *r, int fd)
{
        if (fd >= r->budget)
                atomic_fetch_sub(&r->claim, 1);
}

/* Room for one more receive (limits.h, NP_LIM_REAP_HIGH)?  Reserved in
 * claim until unreserve(). */
static bool reserve(struct np_reaper *r)
{
        size_t cur = atomic_load(&r->claim);

        do {
                if (cur > NP_LIM_REAP_HIGH)
                        return false;
        } while (!atomic_compare_exchange_weak(&r->claim, &cur, cur + NP_FDPASS_SCM_MAX));
        return true;
}

static void unreserve(struct np_reaper *r)
{
        atomic_fetch_sub(&r->claim, NP_FDPASS_SCM_MAX);
}

static void reap_close(struct np_reaper *r, int fd, int depth);

/* Take whatever a unix socket holds, so that its close releases nothing:
 * shut down first, so that nothing more arrives (a peer gets EPIPE, a
 * connect ECONNREFUSED), then accept or receive until it is empty.
 * SO_PASSCRED makes every packet, even an empty one, bring credentials,
 * which tells an empty packet from the end of the stream.  Each
 * descriptor found is reaped at once, one level deeper. */
static void empty_unix(struct np_reaper *r, int fd, int depth)
{
        unsigned char buf[4096];
        int on = 1, listening = 0, fl;
        socklen_t len = sizeof listening;
        struct np_rcvd rc;

        shutdown(fd, SHUT_RDWR);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
                /* accept4() has no per-call "don't wait" */
                fl = fcntl(fd, F_GETFL);
                if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                        return;
                for (unsigned i = 0; i < NP_REAP_DRAIN; i++) {
                        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                        if (c < 0)
                                break;
                        claim_add(r, c);
                        reap_close(r, c, depth + 1);
                        claim_sub(r, c);
                }
                return;
        }
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
        for (unsigned i = 0; i < NP_REAP_DRAIN; i++) {
                ssize_t n;

                /* No room above the budget: close it as it is (what it
                 * holds is released here, which may take long, but only
                 * on this thread). */
                if (!reserve(r))
                        return;
                n = np_recv_packet_all(fd, buf, sizeof buf, &rc, MSG_DONTWAIT);
                for (unsigned k = 0; k < rc.nfd; k++)
                        claim_add(r, rc.fds[k]);
                unreserve(r);
                for (unsigned k = 0; k < rc.nfd; k++) {
                        reap_close(r, rc.fds[k], depth + 1);
                        claim_sub(r, rc.fds[k]);
                }
                if (n < 0 && n != -EMSGSIZE && n != -ECONNRESET)
                        return; /* EAGAIN: empty */
                if (n == 0 && !rc.creds && rc.nfd == 0)
                        return; /* end of stream */
        }
}

/* Close fd so that it cannot block if we can help it. */
static void reap_close(struct np_reaper *r, int fd, int depth)
{
        int v;
        socklen_t len = sizeof v;

        /* SO_TYPE fails with ENOTSOCK at once on anything else; nothing
         * here asks a file system (fstat of a FUSE file would). */
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0) {
                struct linger l = {.l_onoff = 1, .l_linger = 0};

                len = sizeof v;
                if (depth < NP_REAP_DEPTH && getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0 &&
                    v == AF_UNIX)
                        empty_unix(r, fd, depth);
                /* abortive: a lingering TCP close becomes a reset */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        close(fd);
}

static void *reap_thread(void *arg)
{
        struct np_reaper *r = arg;
        struct np_reap_thread *me = NULL;
        sigset_t all;

        /* signals are the loop's (signalfd) */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        pthread_mutex_lock(&r->lock);
        for (unsigned i = 0; i < NP_REAP_THREADS_MAX && me == NULL; i++)
                if (r->thr[i].alive && r->thr[i].busy_since == -1)
                        me = &r->thr[i];
        me->busy_since = 0;
        for (;;) {
                struct np_reap_item *it;
                int64_t t0;
                bool kick;

                while (r->todo == NULL) {
                        struct timespec ts;
                        int e;

                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        ts.tv_sec += NP_REAP_IDLE_S;
                        r->idle++;
                        e = pthread_cond_timedwait(&r->cond, &r->lock, &ts);
                        r->idle--;
                        if (e == ETIMEDOUT && r->todo == NULL) {
                                me->alive = false;
                                r->threads--;
                                pthread_mutex_unlock(&r->lock);
                                return NULL;
                        }
                }
                it = r->todo;
                r->todo = it->next;
                if (r->todo == NULL)
                        r->todo_tail = &r->todo;
                t0 = mono_ns();
                me->busy_since = t0;
                /* Work still waits and nobody is free to take it: the
                 * loop must (re)arm the deadline for one more thread, in
                 * case this close never ends (np_reap_deadline). */
                kick = r->todo != NULL && r->idle == 0;
                pthread_mutex_unlock(&r->lock);
                if (kick && eventfd_write(r->efd, 1) < 0) {
                        /* cannot fail short of a counter overflow */
                }

                reap_close(r, it->fd, 0);
                if (it->high)
                        atomic_fetch_sub(&r->claim, 1);
                it->took_ns = mono_ns() - t0;

                pthread_mutex_lock(&r->lock);
                me->busy_since = 0;
                it->next = r->done;
                r->done = it;
                pthread_mutex_unlock(&r->lock);
                if (eventfd_write(r->efd, 1) < 0) {
                        /* cannot fail short of a counter overflow */
                }
                pthread_mutex_lock(&r->lock);
        }
}

/* Under lock: start one more thread.  Failure is not fatal: the work
 * waits, and the next deadline tries again. */
static void spawn(struct np_reaper *r)
{
        pthread_attr_t attr;
        pthread_t t;
        unsigned i;
        int e;

        for (i = 0; i < NP_REAP_THREADS_MAX; i++)
                if (!r->thr[i].alive)
                        break;
        if (i == NP_REAP_THREADS_MAX)
                return;
        /* claimed by the new thread: alive, not yet running (-1) */
        r->thr[i].alive = true;
        r->thr[i].busy_since = -1;
        r->threads++;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        e = pthread_create(&t, &attr, reap_thread, r);
        if (e != 0) {
                r->thr[i].alive = false;
                r->threads--;
                np_log_limited(&r->rl_thread, LOG_WARNING, "reaper: cannot start a thread: %s",
                               strerror(e));
        }
        pthread_attr_destroy(&attr);
}

/* Under lock: is another thread due, and when?  -1: not needed (none
 * waits, or a thread is free or just starting: it will take the work, and
 * kicks the loop through the eventfd should it get stuck with work still
 * waiting).  Otherwise once every thread has spent NP_REAP_SLOW_MS on its
 * current close. */
static int64_t spawn_due(struct np_reaper *r, int64_t now)
{
        int64_t due = -1;

        if (r->todo == NULL || r->idle > 0)
                return -1;
        if (r->threads == 0)
                return now;
        if (r->threads >= NP_REAP_THREADS_MAX)
                return -1;
        for (unsigned i = 0; i < NP_REAP_THREADS_MAX; i++) {
                int64_t since = r->thr[i].busy_since, t;

                if (!r->thr[i].alive)
                        continue;
                /* one thread free (or about to be): no need yet */
                if (since == 0 || since == -1)
                        return -1;
                t = since + (int64_t)NP_REAP_SLOW_MS * 1000000ll;
                if (due < 0 || t > due)
                        due = t; /* every thread must be slow */
        }
        return due;
}

/* ---- the loop's side ------------------------------------------------------- */

int np_reap_init(struct np_broker *b)
{
        struct np_reaper *r = calloc(1, sizeof *r);
        struct epoll_event ev;

        if (r == NULL)
                return -ENOMEM;
        r->src.kind = NP_SRC_REAPER;
        r->budget = b->fd_budget;
        r->todo_tail = &r->todo;
        atomic_init(&r->claim, 0);
        r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (r->efd < 0) {
                int e = -errno;

                free(r);
                return e;
        }
        pthread_mutex_init(&r->lock, NULL);
        /* timed waits on the monotonic clock: a clock step must not keep
         * an idle thread alive or end it early */
        {
                pthread_condattr_t ca;

                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&r->cond, &ca);
                pthread_condattr_destroy(&ca);
        }
        ev.events = EPOLLIN;
        ev.data.ptr = &r->src;
        if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, r->efd, &ev) < 0) {
                int e = -errno;

                close(r->efd);
                free(r);
                return e;
        }
        b->reaper = r;
        return 0;
}

bool np_fd_is_segment(int fd)
{
        int seals = fcntl(fd, F_GET_SEALS), fl;
        struct stat st;

        /* F_GET_SEALS works on shmem (and hugetlbfs) files only, and a
         * tmpfs file that is not a memfd carries F_SEAL_SEAL alone; only
         * then is fstat() safe (it asks nobody). */
        if (seals < 0 || (seals & NP_SEG_SEALS) != NP_SEG_SEALS)
                return false;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
                return false;
        /* A huge one would take long to free on its last close. */
        return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               st.st_size <= (off_t)NP_SEG_HDR_SIZE + (off_t)NP_RING_MAX;
}

void np_reap_fd(struct np_broker *b, struct np_uacct *acct, int fd)
{
        struct np_reaper *r = b->reaper;
        struct np_reap_item *it;

        if (fd < 0)
                return;
        it = malloc(sizeof *it);
        if (it == NULL) {
                /* Out of memory: close it here after all, abortively if
                 * it is a socket (setsockopt may wait for the socket's
                 * lock; far better than a linger or a leak). */
                struct linger l = {.l_onoff = 1, .l_linger = 0};

                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                close(fd);
                return;
        }
        it->next = NULL;
        it->fd = fd;
        it->high = fd >= r->budget;
        it->acct = acct;
        it->took_ns = 0;
        if (it->high)
                atomic_fetch_add(&r->claim, 1);
        if (acct != NULL)
                acct->reaping++;
        r->items++;
        pthread_mutex_lock(&r->lock);
        *r->todo_tail = it;
        r->todo_tail = &it->next;
        if (r->idle > 0) {
                pthread_cond_signal(&r->cond);
        } else {
                int64_t now = np_now_ns(), due = spawn_due(r, now);

                if (due >= 0 && due <= now)
                        spawn(r);
        }
        pthread_mutex_unlock(&r->lock);
}

bool np_fd_drop(struct np_broker *b, struct np_uacct *acct, int fd)
{
        if (fd < 0)
                return true;
        if (np_fd_is_segment(fd)) {
                close(fd);
                return true;
        }
        np_reap_fd(b, acct, fd);
        return false;
}

bool np_reap_blocks(struct np_broker *b, const struct np_uacct *a)
{
        struct np_reaper *r = b->reaper;

        if (a != NULL && a->limited && a->reaping > NP_LIM_REAP_PER_UID) {
                r->blocked = true; /* until a close of its is settled */
                return true;
        }
        if (atomic_load(&r->claim) >= NP_LIM_REAP_HIGH) {
                /* claim also falls without a settle (a receive ends):
                 * look again soon */
                r->blocked = true;
                if (r->recheck_ns == 0)
                        r->recheck_ns = np_now_ns() + (int64_t)NP_REAP_SLOW_MS * 1000000ll;
                return true;
        }
        return false;
}

bool np_reap_settle(struct np_broker *b)
{
        struct np_reaper *r = b->reaper;
        struct np_reap_item *done;
        eventfd_t v;
        bool was_blocked;

        if (eventfd_read(r->efd, &v) < 0)
                return false;
        pthread_mutex_lock(&r->lock);
        done = r->done;
        r->done = NULL;
        pthread_mutex_unlock(&r->lock);
        while (done != NULL) {
                struct np_reap_item *it = done;

                done = it->next;
                if (it->took_ns >= NP_REAP_LOG_SLOW_NS)
                        np_log_limited(&r->rl_slow, LOG_NOTICE,
                                       "reaper: closing a descriptor of uid %ld took %lld ms",
                                       it->acct != NULL ? (long)it->acct->uid : -1L,
                                       (long long)(it->took_ns / 1000000));
                if (it->acct != NULL) {
                        it->acct->reaping--;
                        np_uacct_put(b, it->acct);
                }
                r->items--;
                free(it);
        }
        was_blocked = r->blocked;
        r->blocked = false;
        return was_blocked;
}

int64_t np_reap_deadline(const struct np_broker *b)
{
        struct np_reaper *r = b->reaper;
        int64_t due = -1;

        if (r == NULL)
                return -1;
        if (r->items > 0) {
                pthread_mutex_lock(&r->lock);
                due = spawn_due(r, np_now_ns());
                pthread_mutex_unlock(&r->lock);
        }
        if (r->recheck_ns > 0 && (due < 0 || r->recheck_ns < due))
                due = r->recheck_ns;
        return due;
}

bool np_reap_tick(struct np_broker *b, int64_t now)
{
        struct np_reaper *r = b->reaper;

        if (r == NULL)
                return false;
        if (r->items > 0) {
                int64_t due;

                pthread_mutex_lock(&r->lock);
                due = spawn_due(r, now);
                if (due >= 0 && due <= now)
                        spawn(r);
                pthread_mutex_unlock(&r->lock);
        }
        if (r->recheck_ns > 0 && now >= r->recheck_ns) {
                r->recheck_ns = 0;
                r->blocked = false;
                return true;
        }
        return false;
}

bool np_reap_idle(const struct np_broker *b)
{
        return b->reaper == NULL || b->reaper->items == 0;
}
