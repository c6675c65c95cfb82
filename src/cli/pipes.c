/*
 * pipes.c - a sorted snapshot of the namespace (npipe_list, or npipe_stats
 * for its counters), and the words and names `list` and `stat` print.
 *
 * npipe_list and npipe_stats hand entries to a callback whose strings live
 * only during the call; the snapshot copies them so the output can be sorted
 * (the broker walks a hash table, whose order means nothing to a reader).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { WORDS_TYPE, WORDS_DIR, WORDS_POLICY };

/* The words for the values of the enums `list` prints; a value without one
 * (NULL, or beyond a row) is printed as "?". */
static const char *const words[][4] = {
    [WORDS_TYPE] = {[NPIPE_TYPE_BYTE] = "byte", [NPIPE_TYPE_MESSAGE] = "message"},
    [WORDS_DIR] =
        {[NPIPE_INBOUND] = "inbound", [NPIPE_OUTBOUND] = "outbound", [NPIPE_DUPLEX] = "duplex"},
    [WORDS_POLICY] = {[NPIPE_ACCESS_OWNER] = "owner",
                      [NPIPE_ACCESS_GROUP] = "group",
                      [NPIPE_ACCESS_EVERYONE] = "everyone"},
};

static const char *word(int e, unsigned v)
{
        return v < sizeof(words[0]) / sizeof(words[0][0]) && words[e][v] ? words[e][v] : "?";
}

const char *cli_type_word(enum npipe_type t)
{
        return word(WORDS_TYPE, (unsigned)t);
}

const char *cli_dir_word(enum npipe_dir d)
{
        return word(WORDS_DIR, (unsigned)d);
}

const char *cli_policy_word(enum npipe_access_policy p)
{
        return word(WORDS_POLICY, (unsigned)p);
}

void cli_put_name(FILE *f, const char *s)
{
        char buf[CLI_ESC_MAX];

        fputs(cli_esc(s, buf, sizeof buf), f);
}

void cli_json_name(struct json *j, const char *name)
{
        static const char prefix[] = "\\\\.\\pipe\\";
        size_t n = strlen(name);
        char path[CLI_PATH_MAX];

        json_key(j, "name");
        json_string_n(j, name, n);
        json_key(j, "path");
        if (n + sizeof prefix <= sizeof path) {
                memcpy(path, prefix, sizeof prefix - 1);
                memcpy(path + sizeof prefix - 1, name, n);
                json_string_n(j, path, sizeof prefix - 1 + n);
        } else {
                json_null(j);
        }
}

/* One more record, from npipe_list (e) or npipe_stats (s), with its own
 * copy of the name. */
static int add(struct cli_pipes *ps, const struct npipe_pipe_entry *e,
               const struct npipe_pipe_stats *s)
{
        const char *name = e != NULL ? e->name : s->name;
        struct cli_pipe *p;

        if (ps->n == ps->cap) {
                size_t cap = ps->cap ? ps->cap * 2 : 16;
                struct cli_pipe *v = realloc(ps->v, cap * sizeof(*v));

                if (v == NULL)
                        return NPIPE_ENOMEM;
                ps->v = v;
                ps->cap = cap;
        }
        p = &ps->v[ps->n];
        p->name = strdup(name ? name : "");
        if (p->name == NULL)
                return NPIPE_ENOMEM;
        if (e != NULL) {
                p->e = *e;
                p->e.name = p->name;
        } else {
                p->s = *s;
                p->s.name = p->name;
        }
        ps->n++;
        return 0;
}

static int collect(void *ctx, const struct npipe_pipe_entry *e)
{
        return add(ctx, e, NULL);
}

static int collect_stats(void *ctx, const struct npipe_pipe_stats *s)
{
        return add(ctx, NULL, s);
}

static int by_name(const void *a, const void *b)
{
        const struct cli_pipe *x = a, *y = b;
        /* names compare as the namespace folds them (ASCII only, NAME-02);
         * the exact bytes break ties so the order is stable */
        int c = strcasecmp(x->name, y->name);

        return c != 0 ? c : strcmp(x->name, y->name);
}

/* The end of a load: r is the walk's status. */
static int loaded(struct cli_pipes *ps, int r)
{
        if (r < 0) {
                cli_pipes_free(ps);
                return r;
        }
        if (ps->n > 1)
                qsort(ps->v, ps->n, sizeof(ps->v[0]), by_name);
        return 0;
}

int cli_pipes_load(struct cli_pipes *ps)
{
        ps->v = NULL;
        ps->n = ps->cap = 0;
        return loaded(ps, npipe_list(collect, ps));
}

int cli_pipes_load_stats(struct cli_pipes *ps, struct npipe_broker_stats *b)
{
        ps->v = NULL;
        ps->n = ps->cap = 0;
        return loaded(ps, npipe_stats(b, collect_stats, ps));
}

void cli_pipes_free(struct cli_pipes *ps)
{
        for (size_t i = 0; i < ps->n; i++)
                free(ps->v[i].name);
        free(ps->v);
        ps->v = NULL;
        ps->n = ps->cap = 0;
}
