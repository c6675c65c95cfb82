/*
 * pipes.c - a sorted snapshot of the namespace (npipe_list), and the words
 * `list` and `stat` print for its fields.
 *
 * npipe_list hands entries to a callback whose strings live only during
 * the call; the snapshot copies them so the output can be sorted (the
 * broker walks a hash table, whose order means nothing to a reader).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *cli_type_word(enum npipe_type t)
{
        return t == NPIPE_TYPE_MESSAGE ? "message" : t == NPIPE_TYPE_BYTE ? "byte" : "?";
}

const char *cli_dir_word(enum npipe_dir d)
{
        switch (d) {
        case NPIPE_INBOUND:
                return "inbound";
        case NPIPE_OUTBOUND:
                return "outbound";
        case NPIPE_DUPLEX:
                return "duplex";
        }
        return "?";
}

const char *cli_policy_word(enum npipe_access_policy p)
{
        switch (p) {
        case NPIPE_ACCESS_OWNER:
                return "owner";
        case NPIPE_ACCESS_GROUP:
                return "group";
        case NPIPE_ACCESS_EVERYONE:
                return "everyone";
        }
        return "?";
}

static int collect(void *ctx, const struct npipe_pipe_entry *e)
{
        struct cli_pipes *ps = ctx;
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
        p->name = strdup(e->name ? e->name : "");
        if (p->name == NULL)
                return NPIPE_ENOMEM;
        p->e = *e;
        p->e.name = p->name;
        ps->n++;
        return 0;
}

static int by_name(const void *a, const void *b)
{
        const struct cli_pipe *x = a, *y = b;
        /* names compare as the namespace folds them (ASCII only, NAME-02);
         * the exact bytes break ties so the order is stable */
        int c = strcasecmp(x->name, y->name);

        return c != 0 ? c : strcmp(x->name, y->name);
}

int cli_pipes_load(struct cli_pipes *ps)
{
        int r;

        ps->v = NULL;
        ps->n = ps->cap = 0;
        r = npipe_list(collect, ps);
        if (r < 0) {
                cli_pipes_free(ps);
                return r;
        }
        if (ps->n > 1)
                qsort(ps->v, ps->n, sizeof(ps->v[0]), by_name);
        return 0;
}

void cli_pipes_free(struct cli_pipes *ps)
{
        for (size_t i = 0; i < ps->n; i++)
                free(ps->v[i].name);
        free(ps->v);
        ps->v = NULL;
        ps->n = ps->cap = 0;
}
