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
 *
 * This file: the command line and its checks, the instances' creation, and
 * what an existing pipe of the name made fail or differ.  Serving clients,
 * the instance threads and the modes, is serve_loop.c's.
 */
#include "cli.h"

#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
                s->mode = SERVE_PRINT;
                break;
        case 's':
                a->have_sep = true;
                return cli_separator_opt("serve", &s->out, arg, s->sep, sizeof s->sep);
        case 'l':
                s->out.length_prefix = true;
                break;
        case 'e':
                s->mode = SERVE_EXEC;
                s->cmd = arg;
                break;
        case OPT_LINES:
        case OPT_READS:
                s->frame = opt == OPT_LINES ? SERVE_LINES : SERVE_READS;
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
        if ((a->framing || s->pty) && s->mode != SERVE_EXEC)
                return cli_usage_error("serve", "--lines, --reads and --pty need --exec");
        if ((a->have_sep || s->out.length_prefix) && s->mode != SERVE_PRINT)
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

/* ---- the command --------------------------------------------------------------------- */

/* Every instance, before any serves: a name that cannot be created fails
 * the command at once, with nothing half started.  NULL on failure
 * (reported). */
static struct serve_instance *create_instances(struct serve *s, uint64_t n)
{
        struct serve_instance *ins = calloc(n, sizeof(*ins));
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
                serve_claim(s);
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
        struct serve_instance *ins;
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
        serve_run_instances(&s, ins, a.instances);
        free(ins);
        return atomic_load(&s.failed) ? CLI_FAIL : CLI_OK;
}
