/*
 * spawn.c - reaching the broker process: its socket in a runtime
 * directory, and starting it when none answers (posix_spawn, with what it
 * inherits chosen here).  The library's policy (when to start one, the
 * hello) stays in client/broker_connect.c.
 */
#include "os/os.h"
#include "client/client.h"
#include "npipe_config.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int np_broker_socket_connect(const char *dir)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, NP_BROKER_SOCKET) >=
            (int)sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = -errno;
                close(s);
                return e;
        }
        return s;
}

/* The broker program: $NPIPE_BROKER (made absolute against the current
 * directory when relative), else the installed one.  Never a search of
 * $PATH, which would let the environment choose what we run. */
static const char *broker_path(char *buf, size_t len)
{
        const char *p = np_env("NPIPE_BROKER");
        if (!p)
                return NPIPE_BROKER_PATH;
        if (p[0] == '/')
                return p;
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)) || snprintf(buf, len, "%s/%s", cwd, p) >= (int)len) {
                np_broker_note("NPIPE_BROKER=%s is relative and the current directory cannot "
                               "make it absolute",
                               p);
                return NULL;
        }
        return buf;
}

/* Where the program's path came from, for the notes. */
static const char *broker_origin(void)
{
        return np_env("NPIPE_BROKER") ? "from NPIPE_BROKER"
                                      : "the installed one; NPIPE_BROKER names another";
}

/* Why `path` could not be run (posix_spawn said err): what is there. */
static void note_unrunnable(const char *path, int err)
{
        struct stat st;
        const char *what;

        if (stat(path, &st) < 0)
                what = errno == ENOENT ? "does not exist" : strerror(errno);
        else if (S_ISDIR(st.st_mode))
                what = "is a directory";
        else if (!S_ISREG(st.st_mode))
                what = "is not a regular file";
        else if (access(path, X_OK) < 0)
                what = "is not executable";
        else
                what = strerror(err);
        np_broker_note("the broker program %s (%s) %s", path, broker_origin(), what);
}

/* Start a broker for `dir` and wait until it listens (or gives way to
 * another one that holds the lock).  npiped without --foreground forks
 * itself into the background and exits only once the broker can be used,
 * so waiting for the process we start is waiting for readiness.
 * posix_spawn runs no atfork handlers (we hold our lock here) and the
 * broker inherits nothing of ours but /dev/null and the log.
 * Returns 0 or NPIPE_EBROKER, the reason noted (np_broker_note). */
int np_broker_spawn(const char *dir)
{
        char pathbuf[PATH_MAX];
        const char *path = broker_path(pathbuf, sizeof(pathbuf));
        if (!path)
                return NPIPE_EBROKER;
        char dirarg[PATH_MAX + 32], idlearg[64];
        snprintf(dirarg, sizeof(dirarg), "--runtime-dir=%s", dir);
        const char *idle = np_env("NPIPE_BROKER_IDLE");
        snprintf(idlearg, sizeof(idlearg), "--idle-exit=%s", idle ? idle : "10");
        const char *log = np_env("NPIPE_BROKER_LOG");

        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, log ? log : "/dev/null",
                                         O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        sigset_t none, def;
        sigemptyset(&none);
        sigemptyset(&def);
        sigaddset(&def, SIGPIPE);
        sigaddset(&def, SIGTERM);
        sigaddset(&def, SIGINT);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &def);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

        /* NPIPE_BROKER_LOG_LEVEL=debug with NPIPE_BROKER_LOG=FILE for diagnosis */
        char levelarg[64] = "--log-level=notice";
        const char *level = np_env("NPIPE_BROKER_LOG_LEVEL");
        if (level)
                snprintf(levelarg, sizeof(levelarg), "--log-level=%s", level);
        char *argv[] = {(char *)path, dirarg, idlearg, levelarg, NULL};
        pid_t pid;
        int r = posix_spawn(&pid, path, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0) {
                note_unrunnable(path, r);
                return NPIPE_EBROKER;
        }
        int st;
        while (waitpid(pid, &st, 0) < 0) {
                if (errno != EINTR)
                        return 0; /* SIGCHLD ignored: reaped already; connecting tells */
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
        char how[64];
        if (WIFEXITED(st))
                snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(st));
        else
                snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(st));
        if (log)
                np_broker_note("the broker %s (%s) %s before it listened on %s/%s; its messages "
                               "are in %s",
                               path, broker_origin(), how, dir, NP_BROKER_SOCKET, log);
        else
                np_broker_note("the broker %s (%s) %s before it listened on %s/%s; "
                               "NPIPE_BROKER_LOG=FILE keeps its messages",
                               path, broker_origin(), how, dir, NP_BROKER_SOCKET);
        return NPIPE_EBROKER;
}
