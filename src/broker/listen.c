/*
 * listen.c - where npiped listens: the runtime directory, the
 * single-broker lock, the listening socket (bound here or inherited from
 * systemd by socket activation) and the readiness notices that tell a
 * starter the broker listens.  Kept apart from main.c (options, the
 * descriptor limit, daemonizing, the run), which calls these in order, so
 * that the rules of who may listen where read in one place; this file
 * calls log.c only.
 *
 * One broker per runtime directory.  Starters race (every library process
 * that finds no broker starts one), so start-up is serialised by two locks
 * on DIR/npiped.lock, which do not interact with each other on Linux:
 *
 *   - the *broker lock*, flock(LOCK_EX), held for the broker's lifetime;
 *     a starter that cannot take it knows another broker runs and exits 0;
 *   - the *start lock*, an OFD write lock on byte 0 (fcntl F_OFD_SETLKW),
 *     held by a starter from before it tries the broker lock until its
 *     socket is listening, and by a broker from the moment it decides to
 *     exit until it is gone.
 *
 * So a starter that finds the broker lock taken while holding the start
 * lock knows the holder is listening (not half set up, not on its way
 * out), and can report readiness honestly before it exits.
 *
 * Socket activation (npiped.socket and npiped.service of a user's service
 * manager; sd_listen_fds(3) read by hand).  With LISTEN_PID ours and
 * LISTEN_FDS >= 1, descriptor 3 is the broker socket, already bound and
 * listening: it must be AF_UNIX, SOCK_SEQPACKET and bound to the path the
 * library computes (DIR/npiped.sock, DIR as --runtime-dir or the library's
 * default, with the same checks), or npiped refuses to start.  npiped then
 * stays in the foreground (`npiped --foreground` is the whole command
 * line), takes neither lock (the socket outlives it, so there is nothing
 * to hand over), never removes the socket, and exits when idle only if
 * told to with --idle-exit: the default is to stay, and with it a
 * connection arriving as it exits waits in systemd's socket for the next
 * npiped.  A starter that holds the broker lock and still finds the socket
 * accepting leaves it to the service manager (np_take_locks).
 * Readiness goes to $NOTIFY_SOCKET (Type=notify) as well.
 */
#include "broker/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "client/client.h"
#include "npipe/npipe.h"
#include "os/os.h"

/* systemd's first passed descriptor (sd_listen_fds(3)). */
#define NP_LISTEN_FDS_START 3

/* Digits only (no sign, no blanks), at most max: LISTEN_PID and
 * LISTEN_FDS here, main.c's numeric options.  0 or -1. */
int np_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
        char *end;
        unsigned long v;

        if (s == NULL || *s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > max)
                return -1;
        *out = v;
        return 0;
}

/* Were we started by socket activation (sd_listen_fds(3), read by hand:
 * no libsystemd)?  LISTEN_PID must be ours and LISTEN_FDS at least 1;
 * the variables are consumed either way, so that nothing we start takes
 * them for its own.  Descriptors after the first are not ours to use. */
bool np_socket_activated(void)
{
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        unsigned long p = 0, n = 0;
        bool ours;

        ours = np_parse_uint(pid, ULONG_MAX, &p) == 0 && p == (unsigned long)getpid() &&
               np_parse_uint(fds, INT_MAX - NP_LISTEN_FDS_START, &n) == 0 && n >= 1;
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        if (!ours)
                return false;
        if (n > 1) {
                np_log(LOG_WARNING,
                       "socket activation: %lu sockets passed; using descriptor %d, closing "
                       "the others (npiped.socket should listen on one path)",
                       n, NP_LISTEN_FDS_START);
                for (unsigned long k = 1; k < n; k++)
                        close(NP_LISTEN_FDS_START + (int)k);
        }
        return true;
}

/* The listening socket systemd passed, checked: an AF_UNIX SOCK_SEQPACKET
 * socket, listening, bound to the very file the library connects to (a
 * socket elsewhere would leave every library process finding no broker
 * and starting its own).  Returns it, or -1 (logged). */
int np_activated_socket(struct np_broker *b)
{
        struct sockaddr_un addr;
        socklen_t len = sizeof addr;
        int fd = NP_LISTEN_FDS_START, v = 0;
        struct stat ours, theirs;

        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX) {
                np_log(LOG_ERR, "socket activation: descriptor %d is not an AF_UNIX socket "
                       "(npiped.socket needs ListenSequentialPacket=)", fd);
                return -1;
        }
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_SEQPACKET) {
                np_log(LOG_ERR, "socket activation: descriptor %d is not a SOCK_SEQPACKET "
                       "socket (npiped.socket needs ListenSequentialPacket=)", fd);
                return -1;
        }
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v) {
                np_log(LOG_ERR, "socket activation: descriptor %d is not listening "
                       "(npiped.socket must not say Accept=yes)", fd);
                return -1;
        }
        len = sizeof addr;
        memset(&addr, 0, sizeof addr);
        if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 ||
            len <= offsetof(struct sockaddr_un, sun_path) || addr.sun_path[0] == '\0' ||
            stat(addr.sun_path, &theirs) < 0 || lstat(b->sock_path, &ours) < 0 ||
            theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino) {
                addr.sun_path[sizeof addr.sun_path - 1] = '\0';
                np_log(LOG_ERR, "socket activation: the socket passed is bound to %s, not to "
                       "%s, where npipe programs look for the broker "
                       "(ListenSequentialPacket=%%t/npipe/%s, or --runtime-dir)",
                       addr.sun_path[0] != '\0' ? addr.sun_path : "no path", b->sock_path,
                       NP_BROKER_SOCKET);
                return -1;
        }
        b->sock_dev = ours.st_dev;
        b->sock_ino = ours.st_ino;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
}

void np_write_ready(int *fd)
{
        if (*fd < 0)
                return;
        if (write(*fd, "1", 1) != 1)
                np_log(LOG_WARNING, "readiness descriptor: %s", strerror(errno));
        close(*fd);
        *fd = -1;
}

/* sd_notify(3) by hand: one datagram to $NOTIFY_SOCKET ('@' = abstract). */
void np_sd_notify(const char *msg)
{
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        socklen_t len;
        size_t n;
        int fd;

        if (path == NULL || (path[0] != '/' && path[0] != '@'))
                return;
        n = strlen(path);
        if (n >= sizeof addr.sun_path)
                return;
        memcpy(addr.sun_path, path, n);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        if (path[0] == '@')
                addr.sun_path[0] = '\0';
        else
                len++;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&addr, len) < 0)
                np_log(LOG_WARNING, "NOTIFY_SOCKET: %s", strerror(errno));
        close(fd);
}

int np_start_lock(int fd, bool take)
{
        struct flock fl = {
            .l_type = take ? F_WRLCK : F_UNLCK,
            .l_whence = SEEK_SET,
            .l_start = 0,
            .l_len = 1,
        };
        int r;

        do
                r = fcntl(fd, F_OFD_SETLKW, &fl);
        while (r < 0 && errno == EINTR);
        return r;
}

/* Does something accept connections on path?  Only a socket held by the
 * service manager can, once we hold the broker lock (np_take_locks). */
static bool someone_listens(const char *path)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int fd, r;

        memcpy(addr.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
        /* EAGAIN: listening, with a full backlog */
        r = r == 0 || errno == EAGAIN;
        close(fd);
        return r;
}

/* Take the locks (see the top of this file).  Returns the lock descriptor,
 * or exits: 0 when another broker already serves the directory. */
int np_take_locks(const char *dir, const char *sock_path, int *ready_fd, int *daemon_fd)
{
        char path[PATH_MAX];
        int fd;

        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, NP_BROKER_LOCK) >= sizeof path) {
                np_log(LOG_ERR, "%s: path too long", dir);
                exit(1);
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                np_log(LOG_ERR, "%s: %s", path, strerror(errno));
                exit(1);
        }
        if (np_start_lock(fd, true) < 0) {
                np_log(LOG_ERR, "%s: start lock: %s", path, strerror(errno));
                exit(1);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK) {
                        np_log(LOG_ERR, "%s: flock: %s", path, strerror(errno));
                        exit(1);
                }
                /* The holder is listening: it released the start lock only
                 * after listen(), and takes it again before it stops. */
                np_log(LOG_NOTICE, "already running in %s", dir);
                np_write_ready(ready_fd);
                np_write_ready(daemon_fd);
                exit(0);
        }
        /* No broker of ours listens; a socket that still accepts is the
         * service manager's (npiped.socket, between two of its brokers),
         * not a stale one: it starts a broker of its own for whoever
         * connects, so there is nothing for us to do. */
        if (someone_listens(sock_path)) {
                np_log(LOG_NOTICE, "%s is served by socket activation (npiped.socket); not "
                       "starting another broker", sock_path);
                np_write_ready(ready_fd);
                np_write_ready(daemon_fd);
                exit(0);
        }
        return fd;
}

/*
 * --shared: one broker for every user of the machine (issue 4, item 5).
 * Other users must be able to reach the socket, so the directory is
 * 0755 and the socket 0666; who may then open or create which pipe is
 * the pipes' access policy, by the SO_PEERCRED identity of each process
 * (NPIPE_ACCESS_OWNER, _GROUP, _EVERYONE).  The directory is still never
 * trusted blindly: it must be a real directory (not a symlink) owned by
 * us and writable by nobody else, or nobody could trust the socket in it.
 */
static int shared_dir(const char *path)
{
        struct stat st;

        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                np_log(LOG_ERR, "runtime directory %s: %s", path, strerror(errno));
                return -1;
        }
        if (lstat(path, &st) < 0) {
                np_log(LOG_ERR, "runtime directory %s: %s", path, strerror(errno));
                return -1;
        }
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
                np_log(LOG_ERR,
                       "runtime directory %s: not a directory of ours that only we "
                       "can write",
                       path);
                return -1;
        }
        if (chmod(path, 0755) < 0) {
                np_log(LOG_ERR, "runtime directory %s: %s", path, strerror(errno));
                return -1;
        }
        return 0;
}

int np_listen_socket(struct np_broker *b, bool shared)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        struct stat st;
        int fd;

        memcpy(addr.sun_path, b->sock_path, strlen(b->sock_path) + 1);
        /* We hold the broker lock: whatever socket is there is stale. */
        if (unlink(b->sock_path) < 0 && errno != ENOENT) {
                np_log(LOG_ERR, "%s: %s", b->sock_path, strerror(errno));
                return -1;
        }
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                np_log(LOG_ERR, "socket: %s", strerror(errno));
                return -1;
        }
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
            chmod(b->sock_path, shared ? 0666 : 0600) < 0 || listen(fd, 128) < 0 ||
            lstat(b->sock_path, &st) < 0) {
                np_log(LOG_ERR, "%s: %s", b->sock_path, strerror(errno));
                close(fd);
                return -1;
        }
        b->sock_dev = st.st_dev;
        b->sock_ino = st.st_ino;
        b->own_socket = true;
        return fd;
}

void np_remove_socket(struct np_broker *b)
{
        struct stat st;

        /* Only if it is still the one we bound: never someone else's. */
        if (b->own_socket && lstat(b->sock_path, &st) == 0 && st.st_dev == b->sock_dev &&
            st.st_ino == b->sock_ino)
                unlink(b->sock_path);
}

/* The runtime directory (checked as the library checks it, or the shared
 * one) as an absolute path in abs_dir, and our socket's path in b.
 * 0 or -1 (logged). */
int np_socket_path(struct np_broker *b, const char *runtime_dir, bool shared, char *abs_dir)
{
        char dir[PATH_MAX] = "";
        int r;

        /* --runtime-dir gets the same checks as the default location. */
        if (runtime_dir != NULL && setenv("NPIPE_RUNTIME_DIR", runtime_dir, 1) < 0) {
                np_log(LOG_ERR, "setenv: %s", strerror(errno));
                return -1;
        }
        if (shared) {
                snprintf(dir, sizeof dir, "%s", runtime_dir != NULL ? runtime_dir : NP_SHARED_DIR);
                if (shared_dir(dir) < 0)
                        return -1;
        } else {
                np_broker_note_clear();
                r = np_runtime_dir(dir, sizeof dir, 1);
                if (r < 0) {
                        /* what is wrong with it, in words, as the library
                         * would tell its caller (client.h, np_broker_noted) */
                        if (np_broker_noted()[0] != '\0')
                                np_log(LOG_ERR, "%s", np_broker_noted());
                        else
                                np_log(LOG_ERR, "runtime directory %s: %s", dir,
                                       npipe_err_name(r));
                        return -1;
                }
        }
        if (realpath(dir, abs_dir) == NULL) {
                np_log(LOG_ERR, "runtime directory %s: %s", dir, strerror(errno));
                return -1;
        }
        r = snprintf(b->sock_path, sizeof b->sock_path, "%s/%s", abs_dir, NP_BROKER_SOCKET);
        if (r < 0 || (size_t)r >= sizeof b->sock_path) {
                np_log(LOG_ERR, "runtime directory %s: path too long for a socket", abs_dir);
                return -1;
        }
        return 0;
}
