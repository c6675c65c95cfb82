/*
 * main.c - npiped start-up and shut-down: options, the runtime directory,
 * the single-broker lock, the listening socket (bound here or inherited
 * from systemd), readiness notification and daemonizing.
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
 * accepting leaves it to the service manager (take_locks).
 * Readiness goes to $NOTIFY_SOCKET (Type=notify) as well.
 */
#include "broker/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/limits.h"
#include "client/client.h"
#include "npipe/npipe.h"
#include "npipe_config.h"
#include "os/os.h"

/* systemd's first passed descriptor (sd_listen_fds(3)). */
#define NP_LISTEN_FDS_START 3

/* The runtime directory of a shared (system) broker, --shared without
 * --runtime-dir. */
#define NP_SHARED_DIR "/run/npipe"

struct options {
        bool foreground;
        bool shared;
        const char *runtime_dir;
        int ready_fd;
        unsigned idle_exit_s;
        int log_level;
        const char *samba_np_dir;
        bool no_remote;
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: npiped [OPTION]...\n"
                   "The npipe broker: owns the named-pipe namespace of one user and sets up\n"
                   "connections between processes.  Normally started by libnpipe on demand.\n"
                   "\n"
                   "  --foreground          do not daemonize (implied by socket activation)\n"
                   "  --runtime-dir=DIR     use DIR instead of $NPIPE_RUNTIME_DIR,\n"
                   "                        $XDG_RUNTIME_DIR/npipe or /tmp/npipe-UID\n"
                   "  --ready-fd=N          write \"1\" to descriptor N once listening\n"
                   "  --idle-exit=SECONDS   exit after SECONDS without any client (0, the\n"
                   "                        default: never; libnpipe passes 10 when it starts\n"
                   "                        npiped; with socket activation the socket stays)\n"
                   "  --shared              serve every user: the runtime directory (default\n"
                   "                        " NP_SHARED_DIR ") is mode 0755 and the socket 0666;\n"
                   "                        pipe access policies decide who may open what\n"
                   "  --samba-np-dir=DIR    serve remote (SMB) clients: a socket per pipe in\n"
                   "                        DIR, Samba's <ncalrpc dir>/np (docs/remote.md)\n"
                   "  --no-remote           no remote clients, whatever else says so\n"
                   "  --remote-allow=WHO[:PATTERN]\n"
                   "                        also expose the pipes of WHO to remote clients:\n"
                   "                        a user, @group or * (everyone), optionally only\n"
                   "                        names matching PATTERN (a glob, lower case);\n"
                   "                        root's pipes need no rule (repeatable)\n"
                   "  --remote-allow-reserved=NAME\n"
                   "                        let NAME, one of Samba's own RPC pipe names, be\n"
                   "                        exposed (repeatable)\n"
                   "  --log-level=LEVEL     err, warning, notice (default), info or debug\n"
                   "  --version             print the version and exit\n"
                   "  --help                print this help and exit\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
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

enum {
        OPT_FOREGROUND = 256,
        OPT_RUNTIME,
        OPT_READY,
        OPT_IDLE,
        OPT_LOG,
        OPT_SHARED,
        OPT_SAMBA,
        OPT_NO_REMOTE,
        OPT_REMOTE_ALLOW,
        OPT_REMOTE_RESERVED,
        OPT_VERSION,
        OPT_HELP
};

/* A bad option's message; the exit status of a bad command line. */
static int bad_option(const char *msg)
{
        fprintf(stderr, "npiped: %s\n", msg);
        return 2;
}

static int samba_np_dir_option(struct options *o, const char *arg)
{
        struct stat st;

        if (arg[0] != '/')
                return bad_option("--samba-np-dir: an absolute path");
        /* checked again, through a descriptor, once we hold the lock
         * (np_remote_open_dir); this is for the starter to hear of it */
        if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "npiped: --samba-np-dir %s: %s\n", arg,
                        errno != 0 ? strerror(errno) : "not a directory");
                return 2;
        }
        o->samba_np_dir = arg;
        return 0;
}

/* One option from getopt_long: 0, or the status to exit with. */
static int take_option(int opt, const char *arg, struct options *o, struct np_broker *b)
{
        unsigned long v;

        switch (opt) {
        case OPT_FOREGROUND:
                o->foreground = true;
                break;
        case OPT_RUNTIME:
                if (arg[0] == '\0')
                        return bad_option("empty --runtime-dir");
                o->runtime_dir = arg;
                break;
        case OPT_READY:
                if (parse_uint(arg, INT_MAX, &v) < 0 || fcntl((int)v, F_GETFD) < 0)
                        return bad_option("--ready-fd: not an open descriptor");
                o->ready_fd = (int)v;
                break;
        case OPT_IDLE:
                if (parse_uint(arg, 1000000000ul, &v) < 0)
                        return bad_option("--idle-exit: not a number of seconds");
                o->idle_exit_s = (unsigned)v;
                break;
        case OPT_LOG:
                o->log_level = np_log_parse_level(arg);
                if (o->log_level < 0)
                        return bad_option("--log-level: err, warning, notice, info or debug");
                break;
        case OPT_SHARED:
                o->shared = true;
                break;
        case OPT_SAMBA:
                return samba_np_dir_option(o, arg);
        case OPT_NO_REMOTE:
                o->no_remote = true;
                break;
        case OPT_REMOTE_ALLOW:
                return np_remote_allow(b, arg) < 0 ? 2 : 0;
        case OPT_REMOTE_RESERVED:
                return np_remote_allow_reserved(b, arg) < 0 ? 2 : 0;
        case OPT_VERSION:
                printf("npiped %s (protocol %u)\n", NPIPE_VERSION, NP_PROTO_VERSION);
                exit(0);
        case OPT_HELP:
                usage(stdout);
                exit(0);
        default:
                usage(stderr);
                return 2;
        }
        return 0;
}

static int parse_options(int argc, char **argv, struct options *o, struct np_broker *b)
{
        static const struct option longopts[] = {
            {"foreground", no_argument, NULL, OPT_FOREGROUND},
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"ready-fd", required_argument, NULL, OPT_READY},
            {"idle-exit", required_argument, NULL, OPT_IDLE},
            {"log-level", required_argument, NULL, OPT_LOG},
            {"shared", no_argument, NULL, OPT_SHARED},
            {"samba-np-dir", required_argument, NULL, OPT_SAMBA},
            {"no-remote", no_argument, NULL, OPT_NO_REMOTE},
            {"remote-allow", required_argument, NULL, OPT_REMOTE_ALLOW},
            {"remote-allow-reserved", required_argument, NULL, OPT_REMOTE_RESERVED},
            {"version", no_argument, NULL, OPT_VERSION},
            {"help", no_argument, NULL, OPT_HELP},
            {NULL, 0, NULL, 0},
        };
        int opt, r;

        o->ready_fd = -1;
        o->log_level = LOG_NOTICE;
        while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                r = take_option(opt, optarg, o, b);
                if (r != 0)
                        return r;
        }
        if (optind < argc) {
                fprintf(stderr, "npiped: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }
        /* The descriptor is ours to close; no program we exec may get it. */
        if (o->ready_fd >= 0)
                fcntl(o->ready_fd, F_SETFD, FD_CLOEXEC);
        return 0;
}

static unsigned long long rlim_ull(rlim_t v)
{
        return v == RLIM_INFINITY ? ULLONG_MAX : (unsigned long long)v;
}

/* fs.nr_open: no process may have a higher RLIMIT_NOFILE, whatever its
 * hard limit says (an unlimited hard limit cannot be taken whole). */
static rlim_t nr_open(void)
{
        unsigned long long v = 0;
        FILE *f = fopen("/proc/sys/fs/nr_open", "re");

        if (f != NULL) {
                if (fscanf(f, "%llu", &v) != 1)
                        v = 0;
                fclose(f);
        }
        return v > 0 ? (rlim_t)v : 1048576;
}

/* Who started us, for a line about what we inherited from it: "pid N
 * (COMM)" of our parent; under socket activation, the service manager. */
static const char *starter(bool activated, char *buf, size_t len)
{
        char path[64], comm[64] = "?";
        pid_t ppid = getppid();
        FILE *f;

        if (activated)
                return "the service manager (socket activation)";
        snprintf(path, sizeof path, "/proc/%ld/comm", (long)ppid);
        f = fopen(path, "re");
        if (f != NULL) {
                if (fgets(comm, sizeof comm, f) != NULL)
                        comm[strcspn(comm, "\n")] = '\0';
                fclose(f);
        }
        snprintf(buf, len, "pid %ld (%s), which started npiped", (long)ppid, comm);
        return buf;
}

/*
 * Every listening instance holds its server segment's descriptor (the one
 * its first client gets with the OPEN reply: that is what makes an open
 * one round trip without the server), so the soft RLIMIT_NOFILE we
 * inherited from whichever process started us must not bound everybody's
 * listening instances: take all the hard limit allows, and budget that
 * (limits.h, NP_LIM_FD_RESERVE).  The hard limit is the administrator's
 * and is never raised, not even by root; when it is low, say so now and
 * where it came from, since the process that will run into it is
 * probably not the one that set it.
 */
static void raise_nofile(struct np_broker *b, bool activated)
{
        struct rlimit rl = {.rlim_cur = 1024, .rlim_max = 1024};
        unsigned long long was;
        char who[128];
        rlim_t cur;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                np_log(LOG_WARNING, "RLIMIT_NOFILE: %s", strerror(errno));
        was = rlim_ull(rl.rlim_cur);
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit want = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};

                if (want.rlim_cur == RLIM_INFINITY || want.rlim_cur > nr_open())
                        want.rlim_cur = nr_open();
                if (want.rlim_cur < rl.rlim_cur)
                        want = rl;
                if (setrlimit(RLIMIT_NOFILE, &want) == 0)
                        rl = want;
                else
                        np_log(LOG_WARNING, "RLIMIT_NOFILE: cannot raise %llu to %llu: %s", was,
                               rlim_ull(want.rlim_cur), strerror(errno));
        }
        b->nofile = rlim_ull(rl.rlim_cur);
        b->nofile_max = rlim_ull(rl.rlim_max);
        cur = rl.rlim_cur;
        if (cur == RLIM_INFINITY || cur > (rlim_t)INT_MAX)
                cur = INT_MAX;
        if (cur < 2 * NP_LIM_FD_RESERVE)
                b->fd_budget = (int)cur / 2;
        else
                b->fd_budget = (int)cur - NP_LIM_FD_RESERVE;
        b->seg_budget = b->fd_budget - b->fd_budget / NP_LIM_FD_OPEN_ROOM;
        np_log(LOG_INFO,
               "descriptors: RLIMIT_NOFILE %llu (hard %llu; %llu as inherited): %d for "
               "listening instances, %d more for processes and opens, %llu in reserve",
               b->nofile, b->nofile_max, was, b->seg_budget, b->fd_budget - b->seg_budget,
               b->nofile - (unsigned long long)b->fd_budget);
        if (b->seg_budget < NP_LIM_FD_WANT)
                np_log(LOG_NOTICE,
                       "descriptor limit %llu (RLIMIT_NOFILE, hard %llu, inherited from %s) "
                       "leaves room for %d listening instances, fewer than %d; raise the hard "
                       "limit (systemd: LimitNOFILE= in npiped.service; shell: ulimit -Hn "
                       "before the first npipe program starts npiped) and restart npiped",
                       b->nofile, b->nofile_max, starter(activated, who, sizeof who),
                       b->seg_budget, NP_LIM_FD_WANT);
}

/* Were we started by socket activation (sd_listen_fds(3), read by hand:
 * no libsystemd)?  LISTEN_PID must be ours and LISTEN_FDS at least 1;
 * the variables are consumed either way, so that nothing we start takes
 * them for its own.  Descriptors after the first are not ours to use. */
static bool socket_activated(void)
{
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        unsigned long p = 0, n = 0;
        bool ours;

        ours = parse_uint(pid, ULONG_MAX, &p) == 0 && p == (unsigned long)getpid() &&
               parse_uint(fds, INT_MAX - NP_LISTEN_FDS_START, &n) == 0 && n >= 1;
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
static int activated_socket(struct np_broker *b)
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

/* Fork; the parent waits for the child's readiness byte and exits with
 * 0 once it came (1 if the child died first), so `npiped` without
 * --foreground returns only when the broker can be used.  Returns the
 * write end of that readiness pipe in the child. */
static int daemonize(void)
{
        int p[2], devnull;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0) {
                np_log(LOG_ERR, "pipe: %s", strerror(errno));
                exit(1);
        }
        pid = fork();
        if (pid < 0) {
                np_log(LOG_ERR, "fork: %s", strerror(errno));
                exit(1);
        }
        if (pid > 0) {
                char ch = 0;
                ssize_t n;

                close(p[1]);
                do
                        n = read(p[0], &ch, 1);
                while (n < 0 && errno == EINTR);
                _exit(n == 1 && ch == '1' ? 0 : 1);
        }
        close(p[0]);
        setsid();
        if (chdir("/") < 0) {
                /* harmless: every path we use is absolute */
        }
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
                dup2(devnull, STDIN_FILENO);
                dup2(devnull, STDOUT_FILENO);
                if (devnull > STDERR_FILENO)
                        close(devnull);
        }
        return p[1];
}

static void write_ready(int *fd)
{
        if (*fd < 0)
                return;
        if (write(*fd, "1", 1) != 1)
                np_log(LOG_WARNING, "readiness descriptor: %s", strerror(errno));
        close(*fd);
        *fd = -1;
}

/* sd_notify(3) by hand: one datagram to $NOTIFY_SOCKET ('@' = abstract). */
static void sd_notify(const char *msg)
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

static int start_lock(int fd, bool take)
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
 * service manager can, once we hold the broker lock (take_locks). */
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
static int take_locks(const char *dir, const char *sock_path, int *ready_fd, int *daemon_fd)
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
        if (start_lock(fd, true) < 0) {
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
                write_ready(ready_fd);
                write_ready(daemon_fd);
                exit(0);
        }
        /* No broker of ours listens; a socket that still accepts is the
         * service manager's (npiped.socket, between two of its brokers),
         * not a stale one: it starts a broker of its own for whoever
         * connects, so there is nothing for us to do. */
        if (someone_listens(sock_path)) {
                np_log(LOG_NOTICE, "%s is served by socket activation (npiped.socket); not "
                       "starting another broker", sock_path);
                write_ready(ready_fd);
                write_ready(daemon_fd);
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

static int listen_socket(struct np_broker *b, bool shared)
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

static void remove_socket(struct np_broker *b)
{
        struct stat st;

        /* Only if it is still the one we bound: never someone else's. */
        if (b->own_socket && lstat(b->sock_path, &st) == 0 && st.st_dev == b->sock_dev &&
            st.st_ino == b->sock_ino)
                unlink(b->sock_path);
}

/* A broker started with 0, 1 or 2 closed would otherwise get its socket
 * there and write log lines into it. */
static void standard_fds(void)
{
        for (int fd = 0; fd <= 2; fd++) {
                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
                        exit(1);
        }
}

static int signal_fd(void)
{
        sigset_t set;

        /* An ignored signal is discarded before signalfd could see it. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -1;
        return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* The runtime directory (checked as the library checks it, or the shared
 * one) as an absolute path in abs_dir, and our socket's path in b.
 * 0 or -1 (logged). */
static int socket_path(struct np_broker *b, const struct options *o, char *abs_dir)
{
        char dir[PATH_MAX] = "";
        int r;

        /* --runtime-dir gets the same checks as the default location. */
        if (o->runtime_dir != NULL && setenv("NPIPE_RUNTIME_DIR", o->runtime_dir, 1) < 0) {
                np_log(LOG_ERR, "setenv: %s", strerror(errno));
                return -1;
        }
        if (o->shared) {
                snprintf(dir, sizeof dir, "%s",
                         o->runtime_dir != NULL ? o->runtime_dir : NP_SHARED_DIR);
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

/* The event loop until the broker has nothing left to do (idle exit) or
 * is told to stop; np_loop_run's result. */
static int run(struct np_broker *b)
{
        int r;

        for (;;) {
                r = np_loop_run(b);
                if (b->activated)
                        break;
                /* Hold the start lock from here on: a starter arriving now
                 * waits until we are gone, then takes over. */
                start_lock(b->lockfd, true);
                if (r == 1 && np_loop_accept(b) > 0) {
                        /* a client slipped in as we went idle: stay */
                        start_lock(b->lockfd, false);
                        continue;
                }
                break;
        }
        return r;
}

int main(int argc, char **argv)
{
        static struct np_broker b;
        struct options o = {0};
        char abs_dir[PATH_MAX];
        int r, daemon_fd = -1;

        standard_fds();
        r = parse_options(argc, argv, &o, &b);
        if (r != 0)
                return r;
        np_log_init(o.log_level);
        signal(SIGPIPE, SIG_IGN);
        b.activated = socket_activated();
        raise_nofile(&b, b.activated);
        b.idle_exit_s = o.idle_exit_s;
        b.lockfd = -1;

        if (socket_path(&b, &o, abs_dir) < 0) {
                if (b.activated)
                        np_log(LOG_ERR, "socket activation: the socket's directory must be as "
                                        "npipe programs check it (a user's npiped.socket: "
                                        "DirectoryMode=0700)");
                return 1;
        }

        /* The relay thread is a client of this very broker, so it must
         * find our socket: NPIPE_RUNTIME_DIR names our directory for it. */
        if (o.samba_np_dir != NULL && !o.no_remote &&
            setenv("NPIPE_RUNTIME_DIR", abs_dir, 1) < 0)
                return 1;

        /* A service manager watches the process it started: never fork
         * away from it. */
        if (b.activated && !o.foreground)
                np_log(LOG_INFO, "socket activation: staying in the foreground");
        if (!o.foreground && !b.activated)
                daemon_fd = daemonize();

        if (b.activated) {
                b.lfd = activated_socket(&b);
                if (b.lfd < 0)
                        return 1;
        } else {
                b.lockfd = take_locks(abs_dir, b.sock_path, &o.ready_fd, &daemon_fd);
                b.lfd = listen_socket(&b, o.shared);
                if (b.lfd < 0)
                        return 1;
                start_lock(b.lockfd, false);
        }
        /* --samba-np-dir: only now, holding the broker lock (or under
         * systemd, alone), may the registry of our sockets be recovered. */
        if (o.samba_np_dir != NULL && !o.no_remote &&
            np_remote_open_dir(&b, o.samba_np_dir, abs_dir) < 0) {
                remove_socket(&b);
                return 1;
        }
        /* From here on SIGTERM/SIGINT are events of the loop (a clean exit);
         * before, they simply end a broker that has nothing to clean. */
        b.sigfd = signal_fd();
        if (b.sigfd < 0) {
                np_log(LOG_ERR, "signalfd: %s", strerror(errno));
                remove_socket(&b);
                return 1;
        }
        b.self_pid = getpid();
        if (np_state_init(&b) < 0 || np_loop_init(&b) < 0 || np_remote_init(&b) < 0) {
                np_log(LOG_ERR, "out of memory or descriptors at start-up");
                remove_socket(&b);
                return 1;
        }
        if (b.activated)
                np_log(LOG_INFO, "listening on %s (socket activation; %s) (protocol %u)",
                       b.sock_path, b.idle_exit_s > 0 ? "exits when idle" : "never idle",
                       NP_PROTO_VERSION);
        else
                np_log(LOG_INFO, "listening on %s (protocol %u)", b.sock_path,
                       NP_PROTO_VERSION);
        write_ready(&o.ready_fd);
        write_ready(&daemon_fd);
        sd_notify("READY=1");

        r = run(&b);
        np_remote_shutdown(&b);
        sd_notify("STOPPING=1");
        remove_socket(&b);
        np_log(LOG_INFO, r == 1 ? "idle: exiting" : "exiting");
        return r < 0 ? 1 : 0;
}
