/*
 * handle.c - the native handle table, a handle's life, and the state of
 * an end as NT reports it.
 *
 * The npipe_t * a program holds is not the address of the handle's state
 * but a (slot, generation) pair: a program that calls with a handle it
 * already closed - or one whose slot a new handle now uses - gets
 * NPIPE_EBADF, never the freed or the other handle's memory (issue 12).
 * The Win32 layer's HANDLEs (win32/handle.c) work the same way.
 *
 * A slot's word holds its generation (high 32 bits) and the number of
 * calls inside the handle (low 32 bits).  Entering is one compare-and-swap
 * that checks the generation and counts the call, so a close can never
 * free the state under a call that has found it; closing bumps the
 * generation (no new call finds it) and waits for the count to drain.
 * Slots live in pages that are never freed, so a stale value at worst
 * reads a slot's word.  The table is bounded (NP_HANDLES_MAX): the
 * resource a program makes us allocate has a limit.
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

/* ---- the handle table ---------------------------------------------------------- */

_Static_assert(NP_HANDLES_MAX % NP_HANDLE_PAGE_SLOTS == 0, "whole pages");
_Static_assert(NP_HANDLES_MAX <= (1u << NP_HANDLE_IDX_BITS), "index fits the value");


struct np_hslot *_Atomic np_handle_pages[NP_HANDLE_PAGES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head;  /* index + 1 of the first free slot, 0: none */
static uint32_t used_slots; /* slots handed out at least once */

int np_handle_add(struct npipe *h)
{
        np_lock(&table_lock, NP_LK_TABLE);
        uint32_t idx;
        if (free_head) {
                idx = free_head - 1;
                free_head = np_handle_slot(idx)->next_free;
        } else {
                if (used_slots == NP_HANDLES_MAX) {
                        np_unlock(&table_lock, NP_LK_TABLE);
                        return NPIPE_ENOMEM; /* NP_HANDLES_MAX handles open */
                }
                idx = used_slots;
                if (idx % NP_HANDLE_PAGE_SLOTS == 0 && !np_handle_slot(idx)) {
                        struct np_hslot *p = calloc(NP_HANDLE_PAGE_SLOTS, sizeof(*p));
                        if (!p) {
                                np_unlock(&table_lock, NP_LK_TABLE);
                                return NPIPE_ENOMEM;
                        }
                        /* generation 0 is never live: a zero value is no handle */
                        for (unsigned i = 0; i < NP_HANDLE_PAGE_SLOTS; i++)
                                atomic_init(&p[i].word, (uint64_t)1 << 32);
                        atomic_store_explicit(&np_handle_pages[idx / NP_HANDLE_PAGE_SLOTS], p, memory_order_release);
                }
                used_slots++;
        }
        struct np_hslot *s = np_handle_slot(idx);
        s->next_free = 0;
        s->h = h;
        h->slot = s;
        h->hidx = idx;
        /* the slot's calls are 0 (it was drained before it was freed) */
        h->gen = (uint32_t)(atomic_load(&s->word) >> 32);
        np_unlock(&table_lock, NP_LK_TABLE);
        return 0;
}

npipe_t *np_handle_value(const struct npipe *h)
{
        uintptr_t v = ((uintptr_t)(h->gen & NP_HANDLE_GEN_MASK) << NP_HANDLE_IDX_BITS) | (uintptr_t)h->hidx;
        return (npipe_t *)v;
}

void np_handle_retire(struct npipe *h)
{
        /* a new generation: no call can enter any more */
        uint32_t gen = h->gen + 1;
        while ((gen & NP_HANDLE_GEN_MASK) == 0) /* generation 0 is never live */
                gen++;
        uint64_t next = (uint64_t)gen << 32;
        uint64_t w = atomic_load(&h->slot->word);
        do {
                if ((uint32_t)(w >> 32) != h->gen)
                        return; /* retired already */
        } while (!atomic_compare_exchange_weak(&h->slot->word, &w, next | (uint32_t)w));
}

int np_handle_calls(const struct npipe *h, uint32_t *seen)
{
        *seen = atomic_load(&h->slot->drained);
        return (int)(uint32_t)atomic_load_explicit(&h->slot->word, memory_order_acquire);
}

void np_handle_wait(const struct npipe *h, uint32_t seen, int64_t timeout_ns)
{
        np_futex_wait(&h->slot->drained, seen, 0, timeout_ns);
}

void np_handle_remove(struct npipe *h)
{
        np_handle_retire(h);
        np_lock(&table_lock, NP_LK_TABLE);
        struct np_hslot *s = h->slot;
        s->h = NULL;
        s->next_free = free_head;
        free_head = h->hidx + 1;
        np_unlock(&table_lock, NP_LK_TABLE);
}

/* ---- handles -------------------------------------------------------------------- */

struct npipe *np_h_new(int server)
{
        struct npipe *h = calloc(1, sizeof(*h));
        if (!h)
                return NULL;
        if (np_handle_add(h) < 0) {
                free(h);
                return NULL;
        }
        h->pid = np_self_pid();
        h->server = server;
        pthread_mutex_init(&h->op, NULL);
        pthread_mutex_init(&h->lock, NULL);
        pthread_mutex_init(&h->wr, NULL);
        return h;
}

void np_h_free(struct npipe *h)
{
        pthread_mutex_destroy(&h->op);
        pthread_mutex_destroy(&h->lock);
        pthread_mutex_destroy(&h->wr);
        free(h->name);
        free(h->remote);
        np_handle_remove(h);
        free(h);
}

void np_h_hold(struct npipe *h)
{
        atomic_fetch_add_explicit(&h->slot->word, 1, memory_order_relaxed);
}

void np_h_put(struct npipe *h)
{
        /* the last one out drops what a disconnect left to it */
        if (__builtin_expect(__atomic_load_n(&h->retired, __ATOMIC_RELAXED) != NULL, 0))
                np_conn_reap(h);
        /* Once the count drops to 0 a closing thread may free h at once:
         * np_handle_leave touches only the table's slot afterwards. */
        np_handle_leave(h);
        /* the end of an API call, no lock held: complete what it did for a
         * peer in this process (OVL-20, OVL-21) */
        np_async_settle();
}

void np_bump_ev(struct npipe *h)
{
        atomic_fetch_add(&h->ev, 1);
        np_futex_wake(&h->ev, 0, INT_MAX);
}

int np_end_state_now(struct npipe *h)
{
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        return st;
}

void np_handle_drained(struct np_hslot *s)
{
        atomic_fetch_add(&s->drained, 1);
        np_futex_wake(&s->drained, 0, INT_MAX);
}
