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

#define PAGE_SLOTS 1024u
#define PAGES (NP_HANDLES_MAX / PAGE_SLOTS)
_Static_assert(NP_HANDLES_MAX % PAGE_SLOTS == 0, "whole pages");
_Static_assert(NP_HANDLES_MAX <= (1u << NP_HANDLE_IDX_BITS), "index fits the value");

struct np_hslot {
        _Atomic uint64_t word;    /* generation << 32 | calls inside */
        _Atomic uint32_t drained; /* futex: bumped when a retired slot's last call leaves */
        uint32_t next_free;       /* under table_lock: the free list (index + 1, 0 = end) */
        struct npipe *h;          /* valid while the generation matches */
};

static struct np_hslot *_Atomic pages[PAGES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head;  /* index + 1 of the first free slot, 0: none */
static uint32_t used_slots; /* slots handed out at least once */

/* The generation bits a value carries (all 32 where pointers are 64 bits). */
#define GEN_BITS ((unsigned)(sizeof(uintptr_t) * CHAR_BIT) - NP_HANDLE_IDX_BITS)
#define GEN_MASK (GEN_BITS >= 32 ? 0xffffffffu : ((1u << GEN_BITS) - 1u))

static struct np_hslot *slot_at(uint32_t idx)
{
        struct np_hslot *p = atomic_load_explicit(&pages[idx / PAGE_SLOTS], memory_order_acquire);
        return p ? &p[idx % PAGE_SLOTS] : NULL;
}

int np_handle_add(struct npipe *h)
{
        np_lock(&table_lock, NP_LK_TABLE);
        uint32_t idx;
        if (free_head) {
                idx = free_head - 1;
                free_head = slot_at(idx)->next_free;
        } else {
                if (used_slots == NP_HANDLES_MAX) {
                        np_unlock(&table_lock, NP_LK_TABLE);
                        return NPIPE_ENOMEM; /* NP_HANDLES_MAX handles open */
                }
                idx = used_slots;
                if (idx % PAGE_SLOTS == 0 && !slot_at(idx)) {
                        struct np_hslot *p = calloc(PAGE_SLOTS, sizeof(*p));
                        if (!p) {
                                np_unlock(&table_lock, NP_LK_TABLE);
                                return NPIPE_ENOMEM;
                        }
                        /* generation 0 is never live: a zero value is no handle */
                        for (unsigned i = 0; i < PAGE_SLOTS; i++)
                                atomic_init(&p[i].word, (uint64_t)1 << 32);
                        atomic_store_explicit(&pages[idx / PAGE_SLOTS], p, memory_order_release);
                }
                used_slots++;
        }
        struct np_hslot *s = slot_at(idx);
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
        uintptr_t v = ((uintptr_t)(h->gen & GEN_MASK) << NP_HANDLE_IDX_BITS) | (uintptr_t)h->hidx;
        return (npipe_t *)v;
}

int np_handle_enter(npipe_t *value, struct npipe **ret)
{
        uintptr_t v = (uintptr_t)value;
        uint32_t idx = (uint32_t)(v & ((1u << NP_HANDLE_IDX_BITS) - 1u));
        uintptr_t high = v >> NP_HANDLE_IDX_BITS;
        uint32_t gen = (uint32_t)high & GEN_MASK;
        *ret = NULL;
        /* bits above the generation: no value we made (a pointer, say) */
        if (gen == 0 || high != gen || idx >= NP_HANDLES_MAX)
                return NPIPE_EBADF;
        struct np_hslot *s = slot_at(idx);
        if (!s)
                return NPIPE_EBADF;
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        do {
                if (((uint32_t)(w >> 32) & GEN_MASK) != gen)
                        return NPIPE_EBADF; /* closed, or the slot is another handle's */
        } while (!atomic_compare_exchange_weak_explicit(&s->word, &w, w + 1, memory_order_acquire,
                                                        memory_order_acquire));
        *ret = s->h;
        return 0;
}

void np_handle_hold(struct npipe *h)
{
        atomic_fetch_add_explicit(&h->slot->word, 1, memory_order_relaxed);
}

void np_handle_leave(struct npipe *h)
{
        /* read before the count drops: a close may free h right after */
        struct np_hslot *s = h->slot;
        uint32_t gen = h->gen;
        uint64_t w = atomic_fetch_sub_explicit(&s->word, 1, memory_order_release);
        /* the last call out of a retired slot wakes the close; the slot
         * itself is never freed, so touching it here is safe */
        if ((uint32_t)w == 1 && (uint32_t)(w >> 32) != gen) {
                atomic_fetch_add(&s->drained, 1);
                np_futex_wake(&s->drained, 0, INT_MAX);
        }
}

void np_handle_retire(struct npipe *h)
{
        /* a new generation: no call can enter any more */
        uint32_t gen = h->gen + 1;
        while ((gen & GEN_MASK) == 0) /* generation 0 is never live */
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
        pthread_mutex_init(&h->rd, NULL);
        pthread_mutex_init(&h->wr, NULL);
        return h;
}

void np_h_free(struct npipe *h)
{
        pthread_mutex_destroy(&h->op);
        pthread_mutex_destroy(&h->lock);
        pthread_mutex_destroy(&h->rd);
        pthread_mutex_destroy(&h->wr);
        free(h->name);
        free(h->remote);
        np_handle_remove(h);
        free(h);
}

/* Enter an API call.  A value that is no live handle (closed, or its slot
 * reused) and a handle made by another process (inherited through fork)
 * are refused cleanly. */
int np_h_enter(npipe_t *value, struct npipe **ret)
{
        struct npipe *h;
        int r = np_handle_enter(value, &h);
        *ret = NULL;
        if (r < 0)
                return r;
        if (h->pid != np_self_pid()) {
                np_handle_leave(h);
                return NPIPE_EFORKED;
        }
        if (__atomic_load_n(&h->closed, __ATOMIC_SEQ_CST)) {
                np_handle_leave(h);
                return NPIPE_EBADF;
        }
        *ret = h;
        return 0;
}

void np_h_hold(struct npipe *h)
{
        np_handle_hold(h);
}

void np_h_put(struct npipe *h)
{
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

struct conn *np_conn_get(struct npipe *h)
{
        np_lock(&h->lock, NP_LK_STATE);
        struct conn *c = h->conn;
        if (c)
                atomic_fetch_add(&c->refs, 1);
        np_unlock(&h->lock, NP_LK_STATE);
        return c;
}

/* The state of an end as NT reports it (STATE-01..05). */
int np_end_state(struct npipe *h, struct conn *c)
{
        if (!c) {
                int s;
                np_lock(&h->lock, NP_LK_STATE);
                s = h->state;
                np_unlock(&h->lock, NP_LK_STATE);
                return s;
        }
        int gone = atomic_load(&c->gone);
        uint32_t ps = atomic_load_explicit(&c->peer->state, memory_order_acquire);
        if (gone == NP_GONE_DISCONNECTED || (!h->server && ps == NP_SEG_DISCONNECTED))
                return NPIPE_STATE_DISCONNECTED;
        if (gone || ps != NP_SEG_OPEN || atomic_load(&c->corrupt))
                return NPIPE_STATE_CLOSING;
        return NPIPE_STATE_CONNECTED;
}

int np_end_state_now(struct npipe *h)
{
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        return st;
}
