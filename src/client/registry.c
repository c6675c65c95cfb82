/*
 * registry.c - the table of handles by broker id (instance or connection), which the
 * broker's events and a restarted broker's adoption look handles up in, and
 * the live statistics collected from it.
 */
#include "os/lockorder.h"
#include "client/cancel.h"
#include "client/client.h"
#include "client/internal.h"
#include "core/name.h"
#include "core/ring.h"
#include "os/os.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the id table ------------------------------------------------------------ */

#define REG_BUCKETS 4096
pthread_mutex_t np_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct npipe *reg[REG_BUCKETS];

void np_pipe_atfork(int phase)
{
        if (phase == 0) {
                pthread_mutex_lock(&np_reg_lock);
        } else if (phase == 1) {
                pthread_mutex_unlock(&np_reg_lock);
        } else {
                /* the parent's handles are not ours: forget them (EFORKED) */
                pthread_mutex_init(&np_reg_lock, NULL);
                memset(reg, 0, sizeof(reg));
        }
}

static unsigned reg_hash(uint64_t id, int server)
{
        uint64_t x = id * 0x9E3779B97F4A7C15ull + (uint64_t)server;
        return (unsigned)(x >> 52) % REG_BUCKETS;
}

void np_reg_add(struct npipe *h)
{
        unsigned b = reg_hash(h->id, h->server);
        h->hnext = reg[b];
        reg[b] = h;
}

void np_reg_del(struct npipe *h)
{
        unsigned b = reg_hash(h->id, h->server);
        for (struct npipe **pp = &reg[b]; *pp; pp = &(*pp)->hnext)
                if (*pp == h) {
                        *pp = h->hnext;
                        return;
                }
}

struct npipe *np_reg_find(uint64_t id, int server)
{
        for (struct npipe *h = reg[reg_hash(id, server)]; h; h = h->hnext)
                if (h->id == id && h->server == server)
                        return h;
        return NULL;
}

struct np_stats_live *np_stats_collect(size_t *n)
{
        struct np_stats_live *v = NULL;
        size_t cap = 0;
        *n = 0;
        np_lock(&np_reg_lock, NP_LK_REG);
        for (unsigned b = 0; b < REG_BUCKETS; b++) {
                for (struct npipe *h = reg[b]; h; h = h->hnext) {
                        if (!h->server)
                                continue;
                        np_lock(&h->lock, NP_LK_STATE);
                        if (h->conn && !h->closed) {
                                if (*n == cap) {
                                        size_t nc = cap ? cap * 2 : 16;
                                        struct np_stats_live *nv = realloc(v, nc * sizeof(*nv));
                                        if (!nv) {
                                                np_unlock(&h->lock, NP_LK_STATE);
                                                goto out;
                                        }
                                        v = nv;
                                        cap = nc;
                                }
                                v[*n].instance_id = h->id;
                                v[*n].conn_id = h->conn->conn_id;
                                np_conn_traffic(1, h->conn, &v[*n].traffic);
                                (*n)++;
                        }
                        np_unlock(&h->lock, NP_LK_STATE);
                }
        }
out:
        np_unlock(&np_reg_lock, NP_LK_REG);
        return v;
}

struct npipe **np_reg_hold_all(size_t *n)
{
        np_lock(&np_reg_lock, NP_LK_REG);
        size_t all = 0;
        for (unsigned b = 0; b < REG_BUCKETS; b++)
                for (struct npipe *h = reg[b]; h; h = h->hnext)
                        all++;
        struct npipe **list = all ? calloc(all, sizeof(*list)) : NULL;
        size_t k = 0;
        for (unsigned b = 0; list && b < REG_BUCKETS; b++)
                for (struct npipe *h = reg[b]; h; h = h->hnext)
                        if (!__atomic_load_n(&h->closed, __ATOMIC_SEQ_CST)) {
                                /* a close waits for the holder to finish */
                                np_h_hold(h);
                                list[k++] = h;
                        }
        np_unlock(&np_reg_lock, NP_LK_REG);
        *n = k;
        return list;
}
