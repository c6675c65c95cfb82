/*
 * main.c - npiped start-up and shut-down: options, the descriptor limit,
 * daemonizing, signals and the run.  Where the broker listens (the
 * runtime directory, the single-broker lock, the listening socket bound
 * here or inherited from systemd, readiness) is listen.c's: main() calls
 * it in order.
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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/limits.h"
#include "npipe_config.h"

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
                if (np_parse_uint(arg, INT_MAX, &v) < 0 || fcntl((int)v, F_GETFD) < 0)
                        return bad_option("--ready-fd: not an open descriptor");
                o->ready_fd = (int)v;
                break;
        case OPT_IDLE:
                if (np_parse_uint(arg, 1000000000ul, &v) < 0)
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
                np_start_lock(b->lockfd, true);
                if (r == 1 && np_loop_accept(b) > 0) {
                        /* a client slipped in as we went idle: stay */
                        np_start_lock(b->lockfd, false);
                        continue;
                }
                break;
        }
        return r;
}

/* Options, the log, the descriptor limit and the runtime directory: all
 * that comes before listening.  0, or the status to exit with. */
static int prepare(int argc, char **argv, struct np_broker *b, struct options *o, char *abs_dir)
{
        int r;

        standard_fds();
        r = parse_options(argc, argv, o, b);
        if (r != 0)
                return r;
        np_log_init(o->log_level);
        signal(SIGPIPE, SIG_IGN);
        b->activated = np_socket_activated();
        raise_nofile(b, b->activated);
        b->idle_exit_s = o->idle_exit_s;
        b->lockfd = -1;

        if (np_socket_path(b, o->runtime_dir, o->shared, abs_dir) < 0) {
                if (b->activated)
                        np_log(LOG_ERR, "socket activation: the socket's directory must be as "
                                        "npipe programs check it (a user's npiped.socket: "
                                        "DirectoryMode=0700)");
                return 1;
        }

        /* The relay thread is a client of this very broker, so it must
         * find our socket: NPIPE_RUNTIME_DIR names our directory for it. */
        if (o->samba_np_dir != NULL && !o->no_remote && setenv("NPIPE_RUNTIME_DIR", abs_dir, 1) < 0)
                return 1;
        return 0;
}

/* Daemonize unless told not to, then the listening socket in b->lfd:
 * bound here under the locks (exits if another broker serves abs_dir),
 * or the one systemd passed.  0 or -1 (logged). */
static int start_listening(struct np_broker *b, struct options *o, const char *abs_dir,
                           int *daemon_fd)
{
        /* A service manager watches the process it started: never fork
         * away from it. */
        if (b->activated && !o->foreground)
                np_log(LOG_INFO, "socket activation: staying in the foreground");
        if (!o->foreground && !b->activated)
                *daemon_fd = daemonize();

        if (b->activated) {
                b->lfd = np_activated_socket(b);
                if (b->lfd < 0)
                        return -1;
        } else {
                b->lockfd = np_take_locks(abs_dir, b->sock_path, &o->ready_fd, daemon_fd);
                b->lfd = np_listen_socket(b, o->shared);
                if (b->lfd < 0)
                        return -1;
                np_start_lock(b->lockfd, false);
        }
        return 0;
}

/* The rest the loop needs: the np directory, the signals, the state.
 * 0, or -1 (logged) with our socket removed. */
static int start_serving(struct np_broker *b, const struct options *o, const char *abs_dir)
{
        /* --samba-np-dir: only now, holding the broker lock (or under
         * systemd, alone), may the registry of our sockets be recovered. */
        if (o->samba_np_dir != NULL && !o->no_remote &&
            np_remote_open_dir(b, o->samba_np_dir, abs_dir) < 0) {
                np_remove_socket(b);
                return -1;
        }
        /* From here on SIGTERM/SIGINT are events of the loop (a clean exit);
         * before, they simply end a broker that has nothing to clean. */
        b->sigfd = signal_fd();
        if (b->sigfd < 0) {
                np_log(LOG_ERR, "signalfd: %s", strerror(errno));
                np_remove_socket(b);
                return -1;
        }
        b->self_pid = getpid();
        if (np_state_init(b) < 0 || np_loop_init(b) < 0 || np_remote_init(b) < 0) {
                np_log(LOG_ERR, "out of memory or descriptors at start-up");
                np_remove_socket(b);
                return -1;
        }
        return 0;
}

/* Say we listen: in the log, to whoever waits for --ready-fd or for the
 * daemonizing parent, and to the service manager. */
static void announce(const struct np_broker *b, struct options *o, int *daemon_fd)
{
        if (b->activated)
                np_log(LOG_INFO, "listening on %s (socket activation; %s) (protocol %u)",
                       b->sock_path, b->idle_exit_s > 0 ? "exits when idle" : "never idle",
                       NP_PROTO_VERSION);
        else
                np_log(LOG_INFO, "listening on %s (protocol %u)", b->sock_path, NP_PROTO_VERSION);
        np_write_ready(&o->ready_fd);
        np_write_ready(daemon_fd);
        np_sd_notify("READY=1");
}

int main(int argc, char **argv)
{
        static struct np_broker b;
        struct options o = {0};
        char abs_dir[PATH_MAX];
        int r, daemon_fd = -1;

        r = prepare(argc, argv, &b, &o, abs_dir);
        if (r != 0)
                return r;
        if (start_listening(&b, &o, abs_dir, &daemon_fd) < 0 || start_serving(&b, &o, abs_dir) < 0)
                return 1;
        announce(&b, &o, &daemon_fd);

        r = run(&b);
        np_remote_shutdown(&b);
        np_sd_notify("STOPPING=1");
        np_remove_socket(&b);
        np_log(LOG_INFO, r == 1 ? "idle: exiting" : "exiting");
        return r < 0 ? 1 : 0;
}
