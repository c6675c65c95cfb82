/*
 * hash.c - the broker's chained hash tables (broker.h, struct np_htab).
 *
 * Keys are the caller's business: a node carries its full 64-bit hash, the
 * table only places nodes in buckets.  The table doubles when it holds
 * more nodes than buckets and shrinks to a quarter when they fall below an
 * eighth; if an allocation fails it simply keeps its size (slower, still
 * correct), so neither insertion nor removal ever fails.
 */
#include "broker/broker.h"

#include <stdlib.h>

#define NP_HTAB_INITIAL 64u

int np_htab_init(struct np_htab *t)
{
        t->buckets = calloc(NP_HTAB_INITIAL, sizeof *t->buckets);
        if (t->buckets == NULL)
                return -1;
        t->mask = NP_HTAB_INITIAL - 1;
        t->count = 0;
        return 0;
}

void np_htab_free(struct np_htab *t)
{
        free(t->buckets);
        t->buckets = NULL;
        t->mask = 0;
        t->count = 0;
}

/* Move every node into nb buckets (a power of two); on failure the table
 * stays as it is. */
static void rehash(struct np_htab *t, size_t nb)
{
        size_t i;
        struct np_hnode **b = calloc(nb, sizeof *b);

        if (b == NULL)
                return;
        for (i = 0; i <= t->mask; i++) {
                struct np_hnode *n = t->buckets[i], *next;

                for (; n != NULL; n = next) {
                        next = n->next;
                        n->next = b[n->hash & (nb - 1)];
                        b[n->hash & (nb - 1)] = n;
                }
        }
        free(t->buckets);
        t->buckets = b;
        t->mask = nb - 1;
}

void np_htab_insert(struct np_htab *t, struct np_hnode *n, uint64_t hash)
{
        struct np_hnode **head;

        if (t->count > t->mask)
                rehash(t, (t->mask + 1) * 2);
        n->hash = hash;
        head = &t->buckets[hash & t->mask];
        n->next = *head;
        *head = n;
        t->count++;
}

void np_htab_remove(struct np_htab *t, struct np_hnode *n)
{
        struct np_hnode **pp = &t->buckets[n->hash & t->mask];

        for (; *pp != NULL; pp = &(*pp)->next) {
                if (*pp == n) {
                        *pp = n->next;
                        n->next = NULL;
                        t->count--;
                        /* A table that held one user's 100,000 names gives
                         * its buckets back once they are gone (a quarter
                         * of the way down: no flapping at one size). */
                        if (t->mask + 1 > NP_HTAB_INITIAL && t->count < (t->mask + 1) / 8)
                                rehash(t, (t->mask + 1) / 4);
                        return;
                }
        }
}

struct np_hnode *np_htab_bucket(const struct np_htab *t, uint64_t hash)
{
        return t->buckets[hash & t->mask];
}

/* splitmix64's finaliser: ids are sequential, buckets want every bit. */
uint64_t np_hash_u64(uint64_t v)
{
        v ^= v >> 30;
        v *= 0xbf58476d1ce4e5b9ull;
        v ^= v >> 27;
        v *= 0x94d049bb133111ebull;
        v ^= v >> 31;
        return v;
}
