/*
 * serve_loop.c - `npipe serve` once its instances exist: a thread per
 * instance that listens, serves each client as the mode says (echo, --print,
 * --exec with its child process) and listens again, until the command fails
 * or --count has no slot left.
 *
 * Split from cmd_serve.c, which keeps the command line, the creation of the
 * instances and what it says about a pipe that existed, so that neither file
 * outgrows the project's size limit.  The two share struct serve and the
 * serve_ functions declared in cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

/* ---- slots (--count) ------------------------------------------------------------ */

bool serve_claim(struct serve *s)
{
        if (s->count == 0)
                return true;
        return atomic_fetch_add(&s->claimed, 1) < s->count;
}

/* ---- echo and print -------------------------------------------------------------- */

static void serve_echo(struct serve_instance *in)
{
        struct cli_buf b = {0};

        for (;;) {
                size_t n;
                /* EPIPE here is the normal end: the client closed, and every
                 * message it wrote before has been read */
                if (cli_read_message(in->h, &b, NPIPE_INFINITE) < 0)
                        break;
                if (npipe_write(in->h, b.data, b.len, &n) < 0)
                        break;
        }
        cli_buf_free(&b);
}

static void serve_print(struct serve_instance *in)
{
        struct cli_buf b = {0};

        while (cli_read_message(in->h, &b, NPIPE_INFINITE) == 0) {
                if (cli_out_message(&in->s->out, stdout, b.data, b.len) < 0) {
                        cli_error("serve: write error on standard output: %s", strerror(errno));
                        atomic_store(&in->s->failed, 1);
                        break;
                }
        }
        cli_buf_free(&b);
}

/* ---- exec ------------------------------------------------------------------------------ */

struct child {
        struct serve_instance *in;
        pid_t pid;
        int to_child;   /* our end of its stdin, -1 once closed */
        int from_child; /* our end of its stdout (a pipe or a pty master) */
};

/* The environment of a child: ours, with the connection's facts added
 * (as inetd's children find TCPREMOTEIP).  Returns a malloc'd array whose
 * added strings are in `store`. */
static char **child_env(npipe_t *h, const char *path, char store[3][CLI_PATH_MAX + 16])
{
        static const char *const keys[] = {"NPIPE_PIPE=", "NPIPE_CLIENT_PID=", "NPIPE_CLIENT_UID="};
        size_t n = 0, k = 0;
        pid_t pid = 0;
        uid_t uid = 0;
        gid_t gid = 0;
        char **env;

        while (environ[n] != NULL)
                n++;
        env = calloc(n + 4, sizeof(*env));
        if (env == NULL)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                bool ours = false;

                for (size_t j = 0; j < 3; j++)
                        if (strncmp(environ[i], keys[j], strlen(keys[j])) == 0)
                                ours = true;
                if (!ours)
                        env[k++] = environ[i];
        }
        snprintf(store[0], CLI_PATH_MAX + 16, "NPIPE_PIPE=%s", path);
        env[k++] = store[0];
        if (npipe_client_pid(h, &pid) == 0) {
                snprintf(store[1], CLI_PATH_MAX + 16, "NPIPE_CLIENT_PID=%ld", (long)pid);
                env[k++] = store[1];
        }
        if (npipe_peer_cred(h, &uid, &gid) == 0) {
                snprintf(store[2], CLI_PATH_MAX + 16, "NPIPE_CLIENT_UID=%lu", (unsigned long)uid);
                env[k++] = store[2];
        }
        env[k] = NULL;
        return env;
}

/* A pseudo-terminal pair in raw mode: no echo, no \n -> \r\n, 8-bit clean,
 * so the bytes the child writes are the bytes the client gets. */
static int open_pty(int *master, int *slave)
{
        char name[128];
        struct termios t;
        int m, s;

        m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0)
                return -errno;
        if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
                int e = -errno;

                close(m);
                return e;
        }
        s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s < 0) {
                int e = -errno;

                close(m);
                return e;
        }
        if (tcgetattr(s, &t) == 0) {
                cfmakeraw(&t);
                tcsetattr(s, TCSANOW, &t);
        }
        *master = m;
        *slave = s;
        return 0;
}

/* Start the child with its stdin and stdout connected to us.  All our
 * descriptors are close-on-exec, so a child never holds another client's
 * pipe (which would keep that child's stdin from ever reaching EOF). */
static int spawn_child(struct child *c)
{
        struct serve *s = c->in->s;
        int in[2] = {-1, -1}, out[2] = {-1, -1};
        char store[3][CLI_PATH_MAX + 16];
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, def;
        char **env;
        int r;

        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        r = s->pty ? open_pty(&out[0], &out[1]) : (pipe2(out, O_CLOEXEC) < 0 ? -errno : 0);
        if (r < 0) {
                close(in[0]);
                close(in[1]);
                return r;
        }
        env = child_env(c->in->h, s->path, store);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        /* belt and braces: nothing of ours beyond stdio, whatever a library did */
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        sigemptyset(&def);
        /* we ignore SIGPIPE; the child must get the default (a writer into a
         * gone client dies as it would at the end of a shell pipeline) */
        sigaddset(&def, SIGPIPE);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &def);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        char *argv[] = {(char *)"sh", (char *)"-c", (char *)s->cmd, NULL};
        r = env == NULL ? ENOMEM : posix_spawn(&c->pid, "/bin/sh", &fa, &attr, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        free(env);
        close(in[0]);
        close(out[1]);
        if (r != 0) {
                close(in[1]);
                close(out[0]);
                return -r;
        }
        c->to_child = in[1];
        c->from_child = out[0];
        return 0;
}

/* Client -> child's stdin, on its own thread.  Ends when the client closes
 * (then the child sees EOF) or when the instance is disconnected. */
static void *to_child_thread(void *arg)
{
        struct child *c = arg;
        bool lines = c->in->s->frame == SERVE_LINES && c->in->s->o.type == NPIPE_TYPE_MESSAGE;
        struct cli_buf b = {0};

        while (cli_read_message(c->in->h, &b, NPIPE_INFINITE) == 0) {
                if (c->to_child < 0)
                        continue; /* the child stopped reading: drain, so the client never blocks */
                if (lines && (b.len == 0 || b.data[b.len - 1] != '\n')) {
                        if (!cli_buf_reserve(&b, 1))
                                break;
                        b.data[b.len++] = '\n';
                }
                if (b.len > 0 && cli_write_fd(c->to_child, b.data, b.len) < 0) {
                        close(c->to_child);
                        c->to_child = -1;
                }
        }
        cli_buf_free(&b);
        if (c->to_child >= 0) {
                close(c->to_child);
                c->to_child = -1;
        }
        return NULL;
}

static int send_msg(npipe_t *h, const char *p, size_t n)
{
        size_t w;

        return npipe_write(h, p, n, &w);
}

/* Child's stdout -> client, on the instance's thread, until the child
 * closes its stdout or the client is gone. */
static void from_child(struct child *c)
{
        struct serve *s = c->in->s;
        bool lines = s->frame == SERVE_LINES && s->o.type == NPIPE_TYPE_MESSAGE;
        struct cli_buf acc = {0};
        char buf[65536];
        int r = 0;

        for (;;) {
                ssize_t n = read(c->from_child, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                /* a pty master reads EIO once the slave side is closed: EOF */
                if (n <= 0)
                        break;
                if (!lines) {
                        r = send_msg(c->in->h, buf, (size_t)n);
                        if (r < 0)
                                break;
                        continue;
                }
                if (!cli_buf_reserve(&acc, (size_t)n)) {
                        r = NPIPE_ENOMEM;
                        break;
                }
                memcpy(acc.data + acc.len, buf, (size_t)n);
                acc.len += (size_t)n;
                size_t start = 0;
                char *nl;

                while (r == 0 && (nl = memchr(acc.data + start, '\n', acc.len - start)) != NULL) {
                        r = send_msg(c->in->h, acc.data + start, (size_t)(nl - acc.data) - start);
                        start = (size_t)(nl - acc.data) + 1;
                }
                memmove(acc.data, acc.data + start, acc.len - start);
                acc.len -= start;
                if (r < 0)
                        break;
        }
        /* a last line without its newline is still a message */
        if (r == 0 && lines && acc.len > 0)
                send_msg(c->in->h, acc.data, acc.len);
        cli_buf_free(&acc);
}

static void serve_exec(struct serve_instance *in)
{
        struct child c = {.in = in, .to_child = -1, .from_child = -1};
        pthread_t t;
        int r, st;

        char esc[CLI_ESC_MAX];

        r = spawn_child(&c);
        if (r < 0) {
                cli_error("serve %s: /bin/sh -c %s: %s", cli_esc(in->s->path, esc, sizeof esc),
                          in->s->cmd, strerror(-r));
                return;
        }
        if (pthread_create(&t, NULL, to_child_thread, &c) != 0) {
                cli_error("serve %s: cannot start a thread", cli_esc(in->s->path, esc, sizeof esc));
                close(c.to_child);
                close(c.from_child);
                kill(c.pid, SIGTERM);
                waitpid(c.pid, &st, 0);
                return;
        }
        from_child(&c);
        /* Closing our end makes a child that still writes get SIGPIPE: the
         * client it wrote for is gone, or it closed its own stdout. */
        close(c.from_child);
        /* DisconnectNamedPipe drops unread data: let the client read first
         * (returns at once if it closed) */
        npipe_flush(in->h);
        /* ... and the disconnect ends the reader thread's wait for data */
        npipe_disconnect(in->h);
        pthread_join(t, NULL);
        while (waitpid(c.pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (in->s->verbose) {
                if (WIFEXITED(st))
                        fprintf(stderr, "%s serve: instance %d: child %ld exited with %d\n",
                                cli_prog, in->index, (long)c.pid, WEXITSTATUS(st));
                else if (WIFSIGNALED(st))
                        fprintf(stderr, "%s serve: instance %d: child %ld killed by signal %d\n",
                                cli_prog, in->index, (long)c.pid, WTERMSIG(st));
        }
}

/* ---- the instance loop ---------------------------------------------------------- */

/* What an instance does with each client, by mode. */
static void (*const serve_client[])(struct serve_instance *in) = {
    [SERVE_ECHO] = serve_echo,
    [SERVE_PRINT] = serve_print,
    [SERVE_EXEC] = serve_exec,
};

static void *instance_thread(void *arg)
{
        struct serve_instance *in = arg;
        struct serve *s = in->s;

        /* the slot of the first client was claimed when the instance was made */
        for (;;) {
                int r = npipe_listen(in->h, NPIPE_INFINITE);

                /* EISCONN: a client came before we listened (CREATE-10);
                 * ECLOSING: it came and already closed, maybe after writing:
                 * both are clients to serve */
                if (r < 0 && r != NPIPE_EISCONN && r != NPIPE_ECLOSING) {
                        cli_report("listen", s->path, r);
                        atomic_store(&s->failed, 1);
                        break;
                }
                if (s->verbose) {
                        pid_t pid = 0;

                        npipe_client_pid(in->h, &pid);
                        fprintf(stderr, "%s serve: instance %d: client %ld connected\n", cli_prog,
                                in->index, (long)pid);
                }
                serve_client[s->mode](in);
                npipe_disconnect(in->h);
                if (s->verbose)
                        fprintf(stderr, "%s serve: instance %d: client done\n", cli_prog,
                                in->index);
                if (atomic_load(&s->failed) || !serve_claim(s))
                        break;
        }
        npipe_close(in->h);
        in->h = NULL;
        return NULL;
}

/* A thread per instance, until every one is done.  Instances whose thread
 * could not start are closed unserved, and the command fails. */
void serve_run_instances(struct serve *s, struct serve_instance *ins, uint64_t n)
{
        uint64_t started = 0;

        for (; started < n; started++) {
                if (pthread_create(&ins[started].thread, NULL, instance_thread, &ins[started]) !=
                    0) {
                        cli_error("serve: cannot start a thread");
                        atomic_store(&s->failed, 1);
                        break;
                }
        }
        for (uint64_t i = 0; i < started; i++)
                pthread_join(ins[i].thread, NULL);
        for (uint64_t i = started; i < n; i++)
                npipe_close(ins[i].h);
}
