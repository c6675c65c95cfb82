/*
 * cmd_serve.c - `npipe serve NAME`: server instances, one thread each.
 *
 * Three things a connection can be:
 *   echo     (default) every message read is written back unchanged;
 *   --print  every message read goes to stdout, as `npipe cat` prints it;
 *   --exec   a fresh `/bin/sh -c CMD` per client: client messages go to the
 *            child's stdin, the child's stdout comes back as messages.
 *
 * An instance serves one client at a time (NT's model), so K instances
 * serve K clients at once.  After a client the instance is flushed,
 * disconnected and listens again: the pattern of a Windows server loop.
 *
 * --count N claims a slot per client *before* an instance listens, never
 * after a client connected: an instance that cannot claim one is closed
 * while it is disconnected, so no client is ever accepted and then dropped.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

enum mode { MODE_ECHO, MODE_PRINT, MODE_EXEC };
enum frame { FRAME_LINES, FRAME_READS };

struct serve {
        char path[CLI_PATH_MAX];
        struct npipe_server_opts o;
        enum mode mode;
        const char *cmd; /* --exec */
        enum frame frame;
        bool pty;
        bool verbose;
        struct cli_out out; /* --print */
        char sep[256];      /* out.sep, once --separator gave one */
        uint64_t count;     /* 0: serve forever */
        bool type_given;    /* -m or -b was on the command line */
        bool max_given;     /* -n */
        atomic_uint_least64_t claimed;
        atomic_int failed;
};

struct instance {
        struct serve *s;
        npipe_t *h;
        pthread_t thread;
        int index;
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s serve [OPTION]... NAME\n"
                "Create server instances of the pipe NAME and serve clients: echo each\n"
                "message back (default), print it (--print), or connect the client to a\n"
                "command (--exec).\n"
                "\n"
                "Pipe:\n"
                "  -m, --message            a message pipe, read in message mode (default)\n"
                "  -b, --byte               a byte pipe\n"
                "  -n, --max-instances N    allow at most N instances of the name, 1-254\n"
                "                           (default: unlimited)\n"
                "  -i, --instances K        create K instances, serving K clients at once,\n"
                "                           one thread each (default 1)\n"
                "  -c, --count N            exit after serving N clients (default: never)\n"
                "      --access POLICY      who may connect: owner (default), group, everyone\n"
                "      --group GROUP        the group (name or gid) of --access group\n"
                "      --first-instance     fail if the name exists already\n"
                "      --in-quota BYTES     client-to-server buffer (default 65536)\n"
                "      --out-quota BYTES    server-to-client buffer (default 65536)\n"
                "      --timeout MS         the pipe's default wait timeout (default 50)\n"
                "\n"
                "What a client gets:\n"
                "  -p, --print              print what clients send on stdout instead of\n"
                "                           echoing it\n"
                "  -s, --separator SEP      with --print: after each message (default \\n;\n"
                "                           escapes \\n \\t \\r \\0 \\\\ \\xHH)\n"
                "  -l, --length-prefix      with --print: u32 little-endian length + bytes\n"
                "  -e, --exec CMD           run /bin/sh -c CMD per client; its stdin gets\n"
                "                           the client's data, its stdout goes back\n"
                "      --lines              (message pipes) one line of the child's stdout\n"
                "                           is one message, and each message reaches its\n"
                "                           stdin as a line (default)\n"
                "      --reads              (message pipes) one read of the child's stdout\n"
                "                           is one message; messages reach stdin unchanged\n"
                "      --pty                the child's stdout is a pseudo-terminal, so that\n"
                "                           programs which buffer a pipe (stdio) write each\n"
                "                           line at once\n"
                "  -v, --verbose            report each client on stderr\n"
                "  -h, --help               print this help and exit\n"
                "\n"
                "The child's environment has NPIPE_PIPE, NPIPE_CLIENT_PID and\n"
                "NPIPE_CLIENT_UID.  NT pipes have no half-close: a child that writes only\n"
                "at the end of its input answers a client that has closed.\n",
                cli_prog);
}

/* ---- slots (--count) ------------------------------------------------------------ */

static bool claim(struct serve *s)
{
        if (s->count == 0)
                return true;
        return atomic_fetch_add(&s->claimed, 1) < s->count;
}

/* ---- echo and print -------------------------------------------------------------- */

static void serve_echo(struct instance *in)
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

static void serve_print(struct instance *in)
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
        struct instance *in;
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
                /* set by us for the library (cli_broker_why_fallback), not the user */
                if (cli_debug_set && strncmp(environ[i], "NPIPE_DEBUG=", 12) == 0)
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
        bool lines = c->in->s->frame == FRAME_LINES && c->in->s->o.type == NPIPE_TYPE_MESSAGE;
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
        bool lines = s->frame == FRAME_LINES && s->o.type == NPIPE_TYPE_MESSAGE;
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

static void serve_exec(struct instance *in)
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
static void (*const serve_client[])(struct instance *in) = {
    [MODE_ECHO] = serve_echo,
    [MODE_PRINT] = serve_print,
    [MODE_EXEC] = serve_exec,
};

static void *instance_thread(void *arg)
{
        struct instance *in = arg;
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
                if (atomic_load(&s->failed) || !claim(s))
                        break;
        }
        npipe_close(in->h);
        in->h = NULL;
        return NULL;
}

/* ---- options ------------------------------------------------------------------------ */

enum {
        /* the pipe's (from OPT_ACCESS to OPT_TIMEOUT: see is_pipe_option) */
        OPT_ACCESS = 256,
        OPT_GROUP,
        OPT_FIRST,
        OPT_INQ,
        OPT_OUTQ,
        OPT_TIMEOUT,
        /* how a client is served */
        OPT_LINES,
        OPT_READS,
        OPT_PTY
};

/* The command line, beyond what goes straight into struct serve: what the
 * checks after the options need. */
struct serve_args {
        struct serve *s;
        uint64_t instances; /* --instances */
        bool have_group, framing, have_sep;
};

static bool parse_group(const char *arg, gid_t *gid)
{
        uint64_t v;
        struct group *g;

        if (cli_parse_u64(arg, 0, 0xfffffffe, &v)) {
                *gid = (gid_t)v;
                return true;
        }
        g = getgrnam(arg);
        if (g == NULL)
                return false;
        *gid = g->gr_gid;
        return true;
}

static int max_instances_opt(struct serve *s, const char *arg)
{
        uint64_t v;

        if (strcmp(arg, "unlimited") == 0)
                s->o.max_instances = NPIPE_UNLIMITED_INSTANCES;
        else if (cli_parse_u64(arg, 1, NPIPE_MAX_INSTANCES_LIMIT, &v))
                s->o.max_instances = (uint32_t)v;
        else
                return cli_usage_error("serve", "--max-instances: 1-%u or 'unlimited', not '%s'",
                                       NPIPE_MAX_INSTANCES_LIMIT, arg);
        return 0;
}

/* --access takes the words `list` prints for a policy. */
static int access_opt(struct serve *s, const char *arg)
{
        for (int p = NPIPE_ACCESS_OWNER; p <= NPIPE_ACCESS_EVERYONE; p++) {
                if (strcmp(arg, cli_policy_word((enum npipe_access_policy)p)) == 0) {
                        s->o.policy = (enum npipe_access_policy)p;
                        return 0;
                }
        }
        return cli_usage_error("serve", "--access: owner, group or everyone, not '%s'", arg);
}

/* --in-quota and --out-quota. */
static int quota_opt(struct serve *s, int opt, const char *arg)
{
        uint64_t v;

        if (!cli_parse_u64(arg, 0, 0xffffffffu, &v))
                return cli_usage_error("serve", "--%s: a number of bytes, not '%s'",
                                       opt == OPT_INQ ? "in-quota" : "out-quota", arg);
        if (opt == OPT_INQ)
                s->o.in_quota = (uint32_t)v;
        else
                s->o.out_quota = (uint32_t)v;
        return 0;
}

static bool is_pipe_option(int opt)
{
        return opt == 'm' || opt == 'b' || opt == 'n' || (opt >= OPT_ACCESS && opt <= OPT_TIMEOUT);
}

/* What npipe_create gets. */
static int pipe_option(struct serve_args *a, int opt, const char *arg)
{
        struct serve *s = a->s;
        uint64_t v;

        switch (opt) {
        case 'm':
                s->o.type = NPIPE_TYPE_MESSAGE;
                s->type_given = true;
                break;
        case 'b':
                s->o.type = NPIPE_TYPE_BYTE;
                s->type_given = true;
                break;
        case 'n':
                s->max_given = true;
                return max_instances_opt(s, arg);
        case OPT_ACCESS:
                return access_opt(s, arg);
        case OPT_GROUP:
                if (!parse_group(arg, &s->o.gid))
                        return cli_usage_error("serve", "--group: no group '%s'", arg);
                a->have_group = true;
                break;
        case OPT_FIRST:
                s->o.flags |= NPIPE_FIRST_INSTANCE;
                break;
        case OPT_INQ:
        case OPT_OUTQ:
                return quota_opt(s, opt, arg);
        case OPT_TIMEOUT:
                if (!cli_parse_u64(arg, 0, 0xfffffffeu, &v))
                        return cli_usage_error("serve", "--timeout: milliseconds, not '%s'", arg);
                s->o.default_timeout_ms = (uint32_t)v;
                break;
        }
        return 0;
}

/* How many clients, and what each gets. */
static int client_option(struct serve_args *a, int opt, const char *arg)
{
        struct serve *s = a->s;

        switch (opt) {
        case 'i':
                if (!cli_parse_u64(arg, 1, NPIPE_MAX_INSTANCES_LIMIT, &a->instances))
                        return cli_usage_error("serve", "--instances: 1-%u, not '%s'",
                                               NPIPE_MAX_INSTANCES_LIMIT, arg);
                break;
        case 'c':
                return cli_count_opt("serve", "count", arg, &s->count);
        case 'p':
                s->mode = MODE_PRINT;
                break;
        case 's':
                a->have_sep = true;
                return cli_separator_opt("serve", &s->out, arg, s->sep, sizeof s->sep);
        case 'l':
                s->out.length_prefix = true;
                break;
        case 'e':
                s->mode = MODE_EXEC;
                s->cmd = arg;
                break;
        case OPT_LINES:
        case OPT_READS:
                s->frame = opt == OPT_LINES ? FRAME_LINES : FRAME_READS;
                a->framing = true;
                break;
        case OPT_PTY:
                s->pty = true;
                break;
        case 'v':
                s->verbose = true;
                break;
        }
        return 0;
}

static int serve_option(void *ctx, int opt, const char *arg)
{
        return is_pipe_option(opt) ? pipe_option(ctx, opt, arg) : client_option(ctx, opt, arg);
}

/* The operand, and the options that only make sense together: 0 with
 * s->path set, or the status to exit with. */
static int check_args(struct serve_args *a, int argc, char **argv)
{
        struct serve *s = a->s;
        int r = cli_name_operand("serve", argc, argv, false);

        if (r != 0)
                return r;
        if ((a->framing || s->pty) && s->mode != MODE_EXEC)
                return cli_usage_error("serve", "--lines, --reads and --pty need --exec");
        if ((a->have_sep || s->out.length_prefix) && s->mode != MODE_PRINT)
                return cli_usage_error("serve", "--separator and --length-prefix need --print");
        if (s->o.policy == NPIPE_ACCESS_GROUP && !a->have_group)
                return cli_usage_error("serve", "--access group needs --group");
        if (s->o.max_instances != NPIPE_UNLIMITED_INSTANCES && a->instances > s->o.max_instances)
                return cli_usage_error("serve", "--instances %llu is more than --max-instances %u",
                                       (unsigned long long)a->instances, s->o.max_instances);
        if (s->o.type == NPIPE_TYPE_MESSAGE)
                s->o.flags |= NPIPE_READMODE_MESSAGE;
        else
                s->out.raw = true; /* a byte pipe has no messages to frame */
        r = cli_name_path("serve", argv[optind], s->path, sizeof s->path);
        if (r != 0)
                return r;
        if (s->count != 0 && a->instances > s->count)
                a->instances = s->count; /* an instance more would have no client to serve */
        return 0;
}

/* ---- the command --------------------------------------------------------------------- */

/* ---- the existing pipe ------------------------------------------------------------- */

struct find_ctx {
        const char *name;
        struct npipe_pipe_entry e;
        bool found;
};

static int find_entry(void *ctx, const struct npipe_pipe_entry *e)
{
        struct find_ctx *f = ctx;

        /* NT folds the case of every letter; ASCII's is enough here: this
         * only explains a failure, and a miss explains less */
        if (e->name != NULL && strcasecmp(e->name, f->name) == 0) {
                f->e = *e;
                f->e.name = NULL; /* valid only during the call */
                f->found = true;
                return 1;
        }
        return 0;
}

/* The pipe `path` (\\.\pipe\NAME) as npipe list sees it: true with *e
 * filled when it exists and we may see it. */
static bool find_pipe(const char *path, struct npipe_pipe_entry *e)
{
        static const char prefix[] = "\\\\.\\pipe\\";
        struct find_ctx f = {.name = path + sizeof prefix - 1, .found = false};

        if (strncasecmp(path, prefix, sizeof prefix - 1) != 0 || npipe_list(find_entry, &f) < 0 ||
            !f.found)
                return false;
        *e = f.e;
        return true;
}

static const char *instances_word(uint32_t max, char *buf, size_t len)
{
        if (max == NPIPE_UNLIMITED_INSTANCES)
                return "unlimited";
        snprintf(buf, len, "at most %u", max);
        return buf;
}

/* npipe_create failed with r: say so, and what about the existing pipe
 * made it fail where that is what did. */
static void report_create(const struct serve *s, int r, bool first)
{
        struct npipe_pipe_entry e;
        char text[256], n1[32];
        /* only these come from the existing pipe (a broker that cannot be
         * reached must not be tried again here) */
        bool exists = (r == NPIPE_EACCES || r == NPIPE_EBUSY) && find_pipe(s->path, &e);

        if (r == NPIPE_EACCES && first && (s->o.flags & NPIPE_FIRST_INSTANCE) &&
            (exists || npipe_wait(s->path, 0) != NPIPE_ENOENT)) {
                cli_report_text("create", s->path, r,
                                "a pipe of this name exists already (--first-instance)");
                return;
        }
        if (r == NPIPE_EACCES && exists && e.dir != s->o.dir) {
                snprintf(text, sizeof text,
                         "access denied: the existing pipe is %s, and serve makes %s instances",
                         cli_dir_word(e.dir), cli_dir_word(s->o.dir));
                cli_report_text("create", s->path, r, text);
                return;
        }
        if (r == NPIPE_EACCES && exists && e.owner_uid != geteuid()) {
                snprintf(text, sizeof text,
                         "access denied: the pipe belongs to uid %lu and lets %s add instances",
                         (unsigned long)e.owner_uid, cli_policy_word(e.policy));
                cli_report_text("create", s->path, r, text);
                return;
        }
        if (r == NPIPE_EBUSY && exists && e.max_instances != NPIPE_UNLIMITED_INSTANCES) {
                snprintf(text, sizeof text,
                         "all pipe instances are busy: the pipe allows %s instance%s, and %u "
                         "exist%s",
                         instances_word(e.max_instances, n1, sizeof n1),
                         e.max_instances == 1 ? "" : "s", e.cur_instances,
                         e.cur_instances == 1 ? "s" : "");
                cli_report_text("create", s->path, r, text);
                return;
        }
        cli_report("create", s->path, r);
}

/* One "serve: warning:" line: the pipe existed, and what it is differs
 * from what the command line asked for. */
static void warn(const struct serve *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const struct serve *s, const char *fmt, ...)
{
        char esc[CLI_ESC_MAX];
        va_list ap;

        fprintf(stderr, "%s serve: warning: %s ", cli_prog, cli_esc(s->path, esc, sizeof esc));
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* Our instances joined a pipe that existed: the first instance fixed its
 * type and instance limit, so options that disagree were not applied.
 * Say which, once, after the instances are made. */
static void check_joined(const struct serve *s, npipe_t *h)
{
        struct npipe_info info;
        char n1[32], n2[32];

        if (npipe_get_info(h, &info) < 0)
                return;
        if (info.type != s->o.type)
                warn(s,
                     "exists already as a %s pipe: its type is its first instance's, so these "
                     "are %s instances, not %s ones (%s)",
                     cli_type_word(info.type), cli_type_word(info.type), cli_type_word(s->o.type),
                     s->type_given ? (s->o.type == NPIPE_TYPE_BYTE ? "--byte" : "--message")
                                   : "the default");
        /* the read mode serve asked for follows the type it asked for: a
         * joined pipe of the other type leaves the two disagreeing */
        if (info.type == NPIPE_TYPE_MESSAGE && info.read_mode == NPIPE_READ_BYTE)
                warn(s,
                     "is read in byte mode by these instances (%s): a client's messages may "
                     "run together (serve it with --message)",
                     s->type_given ? "--byte" : "the default");
        else if (info.type == NPIPE_TYPE_BYTE && info.read_mode == NPIPE_READ_MESSAGE)
                warn(s,
                     "is read in message mode by these instances (%s), but a byte pipe has "
                     "no messages (serve it with --byte)",
                     s->type_given ? "--message" : "the default");
        if (info.max_instances != s->o.max_instances)
                warn(s,
                     "exists already and allows %s instances (its first instance's limit), "
                     "not %s (%s)",
                     instances_word(info.max_instances, n1, sizeof n1),
                     instances_word(s->o.max_instances, n2, sizeof n2),
                     s->max_given ? "--max-instances" : "the default");
}

/* Every instance, before any serves: a name that cannot be created fails
 * the command at once, with nothing half started.  NULL on failure
 * (reported). */
static struct instance *create_instances(struct serve *s, uint64_t n)
{
        struct instance *ins = calloc(n, sizeof(*ins));
        int r;

        if (ins == NULL) {
                cli_error("serve: out of memory");
                return NULL;
        }
        for (uint64_t i = 0; i < n; i++) {
                ins[i].s = s;
                ins[i].index = (int)i;
                r = npipe_create(s->path, &s->o, &ins[i].h);
                if (r < 0) {
                        report_create(s, r, i == 0);
                        for (uint64_t k = 0; k < i; k++)
                                npipe_close(ins[k].h);
                        free(ins);
                        return NULL;
                }
                /* the first client's slot (count >= instances here) */
                claim(s);
                /* after the first create: FIRST_INSTANCE means the name was free,
                 * not that our own second instance must fail */
                s->o.flags &= ~NPIPE_FIRST_INSTANCE;
        }
        check_joined(s, ins[0].h);
        return ins;
}

/* A broker that serves remote clients but keeps this pipe local says why;
 * the user asked for nothing local-only. */
static void note_exposure(const struct serve *s, npipe_t *h)
{
        enum npipe_exposure e;
        char esc[CLI_ESC_MAX];

        if (npipe_remote_exposure(h, &e) == 0 && e != NPIPE_EXPOSED && e != NPIPE_EXPOSE_OFF &&
            e != NPIPE_EXPOSE_REJECTED)
                fprintf(stderr, "%s serve: note: remote clients cannot reach %s: %s\n", cli_prog,
                        cli_esc(s->path, esc, sizeof esc), npipe_exposure_text(e));
}

/* A thread per instance, until every one is done.  Instances whose thread
 * could not start are closed unserved, and the command fails. */
static void run_instances(struct serve *s, struct instance *ins, uint64_t n)
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

int cmd_serve(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"message", no_argument, NULL, 'm'},
            {"byte", no_argument, NULL, 'b'},
            {"max-instances", required_argument, NULL, 'n'},
            {"instances", required_argument, NULL, 'i'},
            {"count", required_argument, NULL, 'c'},
            {"access", required_argument, NULL, OPT_ACCESS},
            {"group", required_argument, NULL, OPT_GROUP},
            {"first-instance", no_argument, NULL, OPT_FIRST},
            {"in-quota", required_argument, NULL, OPT_INQ},
            {"out-quota", required_argument, NULL, OPT_OUTQ},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"print", no_argument, NULL, 'p'},
            {"separator", required_argument, NULL, 's'},
            {"length-prefix", no_argument, NULL, 'l'},
            {"exec", required_argument, NULL, 'e'},
            {"lines", no_argument, NULL, OPT_LINES},
            {"reads", no_argument, NULL, OPT_READS},
            {"pty", no_argument, NULL, OPT_PTY},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"serve", "mbn:i:c:ps:le:vh", longopts, usage,
                                             serve_option};
        static struct serve s;
        struct serve_args a = {.s = &s, .instances = 1};
        struct instance *ins;
        int r;

        memset(&s, 0, sizeof s);
        npipe_server_opts_init(&s.o);
        s.out.sep = "\n";
        s.out.sep_len = 1;
        r = cli_getopt(&opts, argc, argv, &a);
        if (r != CLI_PARSED)
                return r;
        r = check_args(&a, argc, argv);
        if (r != 0)
                return r;

        /* a client gone while we write to its child must not kill the server */
        signal(SIGPIPE, SIG_IGN);

        ins = create_instances(&s, a.instances);
        if (ins == NULL)
                return CLI_FAIL;
        note_exposure(&s, ins[0].h);
        char esc[CLI_ESC_MAX];

        if (s.verbose)
                fprintf(stderr, "%s serve: %s: %llu instance%s listening\n", cli_prog,
                        cli_esc(s.path, esc, sizeof esc), (unsigned long long)a.instances,
                        a.instances == 1 ? "" : "s");
        run_instances(&s, ins, a.instances);
        free(ins);
        return atomic_load(&s.failed) ? CLI_FAIL : CLI_OK;
}
