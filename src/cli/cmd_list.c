/*
 * cmd_list.c - `npipe list`: every pipe name the broker knows.
 *
 * The table puts NAME last: names may hold spaces and any other character,
 * and as the last column they never shift the others.  --json is the
 * machine interface: exact names, every field, stable keys.
 */
#include "cli.h"

#include <getopt.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s list [OPTION]...\n"
                "List every pipe with its type, instances, owner, server and access policy,\n"
                "sorted by name.\n"
                "\n"
                "  -j, --json        print a JSON array, one object per pipe\n"
                "  -H, --no-header   leave out the header line of the table\n"
                "  -h, --help        print this help and exit\n"
                "\n"
                "Table columns: TYPE (message or byte), DIR (direction seen from the server),\n"
                "MAX, CUR, LISTEN, CONN (instances: the limit, existing, waiting for a client,\n"
                "with a client), UID (owner), PID (first server), ACCESS (owner, group or\n"
                "everyone), NAME (without the \\\\.\\pipe\\ prefix; control characters are\n"
                "shown as \\xHH).\n",
                cli_prog);
}

static void print_table(const struct cli_pipes *ps, bool header)
{
        if (header)
                printf("%-7s  %-8s  %5s  %4s  %6s  %4s  %6s  %7s  %-8s  %s\n", "TYPE", "DIR", "MAX",
                       "CUR", "LISTEN", "CONN", "UID", "PID", "ACCESS", "NAME");
        for (size_t i = 0; i < ps->n; i++) {
                const struct npipe_pipe_entry *e = &ps->v[i].e;
                char max[16];

                if (e->max_instances == NPIPE_UNLIMITED_INSTANCES)
                        snprintf(max, sizeof max, "unlim");
                else
                        snprintf(max, sizeof max, "%u", e->max_instances);
                printf("%-7s  %-8s  %5s  %4u  %6u  %4u  %6lu  %7ld  %-8s  ", cli_type_word(e->type),
                       cli_dir_word(e->dir), max, e->cur_instances, e->listening, e->connected,
                       (unsigned long)e->owner_uid, (long)e->server_pid,
                       cli_policy_word(e->policy));
                cli_put_name(stdout, e->name);
                putchar('\n');
        }
}

static void print_json(const struct cli_pipes *ps)
{
        struct json j;

        json_init(&j, stdout);
        json_begin_array(&j);
        for (size_t i = 0; i < ps->n; i++) {
                const struct npipe_pipe_entry *e = &ps->v[i].e;

                json_begin_object(&j);
                cli_json_name(&j, e->name);
                json_key(&j, "type");
                json_string(&j, cli_type_word(e->type));
                json_key(&j, "direction");
                json_string(&j, cli_dir_word(e->dir));
                json_key(&j, "instances");
                json_begin_object(&j);
                json_key(&j, "max");
                /* null: unlimited (PIPE_UNLIMITED_INSTANCES) */
                if (e->max_instances == NPIPE_UNLIMITED_INSTANCES)
                        json_null(&j);
                else
                        json_uint(&j, e->max_instances);
                json_key_uint(&j, "current", e->cur_instances);
                json_key_uint(&j, "listening", e->listening);
                json_key_uint(&j, "connected", e->connected);
                json_end_object(&j);
                json_key_uint(&j, "owner_uid", (uint64_t)e->owner_uid);
                json_key(&j, "server_pid");
                json_int(&j, (int64_t)e->server_pid);
                json_key(&j, "access");
                json_string(&j, cli_policy_word(e->policy));
                json_key_uint(&j, "in_quota", e->in_quota);
                json_key_uint(&j, "out_quota", e->out_quota);
                json_key_uint(&j, "default_timeout_ms", e->default_timeout_ms);
                json_end_object(&j);
        }
        json_end_array(&j);
}

struct list_args {
        bool json, header;
};

static int list_option(void *ctx, int opt, const char *arg)
{
        struct list_args *a = ctx;

        (void)arg;
        if (opt == 'j')
                a->json = true;
        else if (opt == 'H')
                a->header = false;
        return 0;
}

int cmd_list(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"json", no_argument, NULL, 'j'},
            {"no-header", no_argument, NULL, 'H'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"list", "jHh", longopts, usage, list_option};
        struct list_args a = {.json = false, .header = true};
        struct cli_pipes ps;
        int r;

        r = cli_getopt(&opts, argc, argv, &a);
        if (r != CLI_PARSED)
                return r;
        if (optind < argc)
                return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);

        r = cli_pipes_load(&ps);
        if (r < 0) {
                cli_report("list", NULL, r);
                return CLI_FAIL;
        }
        if (a.json)
                print_json(&ps);
        else
                print_table(&ps, a.header);
        cli_pipes_free(&ps);
        return CLI_OK;
}
