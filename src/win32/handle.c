/*
 * handle.c - the HANDLE table: HANDLE values name slots of a table owned by
 * this layer, so every call can validate its handle (ERROR_INVALID_HANDLE)
 * instead of trusting a pointer the program may have closed.
 *
 * A HANDLE is (generation << 22) | (slot << 2): a multiple of 4 like a
 * Windows handle, below 2^31 so code that keeps handles in 32 bits still
 * works, never NULL or INVALID_HANDLE_VALUE.  A slot's generation moves on
 * each time it is reused, so a stale handle fails instead of reaching the
 * new object (for 511 reuses of that slot).
 *
 * Lookups are lock-free: a slot's state word holds its generation, an
 * "open" bit and a count of lookups in progress.  A lookup raises the count
 * only while the slot is open with the expected generation, then takes a
 * reference on the object and drops the count again.  CloseHandle clears
 * the open bit; whoever brings the count to zero with the bit clear
 * recycles the slot.  Slots live in pages that are never freed.
 *
 * The upper half of the slots (NP_WIN_SLOT_LOCAL and up) is never given
 * out here: those are the values a parent picks for handles it
 * duplicates into this process (handoff.c).  Such a slot is made when its
 * handle arrives, is used once, and a lookup of one that is not open
 * first takes in what the parent has sent.
 */
#include "win32/win32.h"

#include <stdlib.h>

#define PAGE_BITS  10
#define PAGE_SLOTS (1u << PAGE_BITS)
#define MAX_PAGES  1024u /* 2^20 slots */
#define SLOT_MASK  ((1u << 20) - 1)
#define GEN_BITS   9
#define GEN_MASK   ((1u << GEN_BITS) - 1)

#define ST_OPEN       (1ull << 31)
#define ST_COUNT_MASK (ST_OPEN - 1)
#define ST_GEN(s)     ((uint32_t)((s) >> 32))

struct slot {
        _Atomic uint64_t st; /* gen << 32 | open << 31 | lookups */
        struct w_obj *_Atomic obj;
        _Atomic uint32_t hflags; /* HANDLE_FLAG_INHERIT, HANDLE_FLAG_PROTECT_FROM_CLOSE */
        uint32_t next_free; /* under table_lock */
        uint32_t index;
};

static struct slot *_Atomic pages[MAX_PAGES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head; /* 0: none (slot 0 is never used) */
static uint32_t next_unused = 1;
static uint32_t remote_end = NP_WIN_SLOT_LOCAL; /* above every slot a parent gave */

void np_win_obj_init(struct w_obj *o, enum w_type type, void (*destroy)(struct w_obj *),
                     void (*close)(struct w_obj *))
{
        o->type = type;
        atomic_init(&o->refs, 1);
        atomic_init(&o->handles, 0);
        atomic_init(&o->slots, 0);
        o->destroy = destroy;
        o->close = close;
        o->unslotted = NULL;
}

void np_win_ref(struct w_obj *o)
{
        atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void np_win_put(struct w_obj *o)
{
        if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
                o->destroy(o);
}

void np_win_obj_hold(struct w_obj *o)
{
        atomic_fetch_add(&o->handles, 1);
}

/* The last handle (or hold) gone: the object's close, as NT's cleanup runs
 * when a file object's last handle closes. */
void np_win_obj_release(struct w_obj *o)
{
        if (atomic_fetch_sub(&o->handles, 1) == 1 && o->close)
                o->close(o);
}

static struct slot *slot_at(uint32_t i)
{
        struct slot *page = atomic_load_explicit(&pages[i >> PAGE_BITS], memory_order_acquire);
        return page ? &page[i & (PAGE_SLOTS - 1)] : NULL;
}

/* Under table_lock: make the page of slot i exist.  0, or -1 without
 * memory. */
static int page_ensure(uint32_t i)
{
        if (atomic_load_explicit(&pages[i >> PAGE_BITS], memory_order_relaxed))
                return 0;
        struct slot *page = calloc(PAGE_SLOTS, sizeof(*page));
        if (!page)
                return -1;
        atomic_store_explicit(&pages[i >> PAGE_BITS], page, memory_order_release);
        return 0;
}

HANDLE np_win_handle_new(struct w_obj *o)
{
        uint32_t i;
        pthread_mutex_lock(&table_lock);
        if (free_head) {
                i = free_head;
                free_head = slot_at(i)->next_free;
        } else {
                i = next_unused;
                if (i >= NP_WIN_SLOT_LOCAL) {
                        pthread_mutex_unlock(&table_lock);
                        np_win_put(o);
                        np_win_set_error(ERROR_NO_SYSTEM_RESOURCES);
                        return NULL;
                }
                if (page_ensure(i) < 0) {
                        pthread_mutex_unlock(&table_lock);
                        np_win_put(o);
                        np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                        return NULL;
                }
                next_unused++;
        }
        struct slot *s = slot_at(i);
        s->index = i;
        uint64_t st = atomic_load_explicit(&s->st, memory_order_relaxed);
        uint32_t gen = ST_GEN(st);
        np_win_obj_hold(o);
        atomic_fetch_add(&o->slots, 1);
        atomic_store_explicit(&s->hflags, 0, memory_order_relaxed);
        atomic_store_explicit(&s->obj, o, memory_order_relaxed);
        /* publish: the object pointer is visible to whoever sees the open bit */
        atomic_store_explicit(&s->st, ((uint64_t)gen << 32) | ST_OPEN | 1u, memory_order_release);
        pthread_mutex_unlock(&table_lock);
        return (HANDLE)(uintptr_t)(((uintptr_t)(gen & GEN_MASK) << 22) | ((uintptr_t)i << 2));
}

/* The slot a handle value names (*index), and the generation it expects. */
static struct slot *decode(HANDLE h, uint32_t *gen, uint32_t *index)
{
        uintptr_t v = (uintptr_t)h;
        *index = 0;
        if ((v & 3) || v >> 31)
                return NULL;
        uint32_t i = (uint32_t)(v >> 2) & SLOT_MASK;
        *gen = (uint32_t)(v >> 22) & GEN_MASK;
        *index = i;
        if (i == 0)
                return NULL;
        return slot_at(i);
}

/* The last user of a closed slot: drop the table's reference to the object
 * and make the slot reusable under a new generation; the object's last
 * slot gone runs its unslotted (with no lock held). */
static void recycle(struct slot *s, uint64_t st)
{
        struct w_obj *o = atomic_load_explicit(&s->obj, memory_order_relaxed);
        atomic_store_explicit(&s->obj, NULL, memory_order_relaxed);
        pthread_mutex_lock(&table_lock);
        atomic_store_explicit(&s->st, (uint64_t)(ST_GEN(st) + 1) << 32, memory_order_release);
        if (s->index < NP_WIN_SLOT_LOCAL) { /* a parent's values are not reused */
                s->next_free = free_head;
                free_head = s->index;
        }
        pthread_mutex_unlock(&table_lock);
        if (atomic_fetch_sub(&o->slots, 1) == 1 && o->unslotted)
                o->unslotted(o);
        np_win_put(o);
}

/* Drop one lookup count; the one that empties a closed slot recycles it. */
static void slot_release(struct slot *s)
{
        uint64_t st = atomic_fetch_sub_explicit(&s->st, 1, memory_order_acq_rel) - 1;
        if ((st & ST_COUNT_MASK) == 0 && !(st & ST_OPEN))
                recycle(s, st);
}

/* Raise the lookup count of an open slot of generation gen. */
static int slot_acquire(struct slot *s, uint32_t gen)
{
        uint64_t st = atomic_load_explicit(&s->st, memory_order_acquire);
        for (;;) {
                if (!(st & ST_OPEN) || (ST_GEN(st) & GEN_MASK) != gen)
                        return 0;
                if (atomic_compare_exchange_weak_explicit(&s->st, &st, st + 1, memory_order_acq_rel,
                                                          memory_order_acquire))
                        return 1;
        }
}

/* The slot of an open handle, its lookup count raised (drop it with
 * slot_release); NULL with ERROR_INVALID_HANDLE for a value that names no
 * open handle.  While the count is up the slot keeps its object. */
static inline struct slot *slot_enter(HANDLE h)
{
        uint32_t gen, i;
        struct slot *s = decode(h, &gen, &i);
        if (!s || !slot_acquire(s, gen)) {
                /* a value our parent may have just sent: take it in */
                if (i >= NP_WIN_SLOT_LOCAL && np_win_dup_pull() > 0 &&
                    (s = decode(h, &gen, &i)) && slot_acquire(s, gen))
                        return s;
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
        return s;
}

struct w_obj *np_win_handle_get(HANDLE h, enum w_type type)
{
        struct slot *s = slot_enter(h);
        if (!s)
                return NULL;
        struct w_obj *o = atomic_load_explicit(&s->obj, memory_order_acquire);
        if (type && o->type != type) {
                slot_release(s);
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
        np_win_ref(o);
        slot_release(s);
        return o;
}

/* The hold of a call: the slot's lookup count stays raised until
 * np_win_handle_unhold, which keeps the slot's object (the table's
 * reference) as a reference of the call would, one atomic operation less
 * each way, and keeps the object's `slots` above 0.  A CloseHandle
 * meanwhile clears the open bit at once; the slot is recycled when the
 * last hold goes. */
struct w_obj *np_win_handle_hold(HANDLE h, void **hold)
{
        /* the common case inline: an open slot of the expected generation,
         * raised by the first compare-exchange */
        uintptr_t v = (uintptr_t)h;
        uint32_t i = (uint32_t)(v >> 2) & SLOT_MASK, gen = (uint32_t)(v >> 22) & GEN_MASK;
        struct slot *page, *s;
        if (!(v & 3) && !(v >> 31) && i &&
            (page = atomic_load_explicit(&pages[i >> PAGE_BITS], memory_order_acquire))) {
                s = &page[i & (PAGE_SLOTS - 1)];
                uint64_t st = atomic_load_explicit(&s->st, memory_order_acquire);
                if ((st & ST_OPEN) && (ST_GEN(st) & GEN_MASK) == gen &&
                    atomic_compare_exchange_strong_explicit(
                        &s->st, &st, st + 1, memory_order_acq_rel, memory_order_acquire)) {
                        *hold = s;
                        return atomic_load_explicit(&s->obj, memory_order_acquire);
                }
        }
        /* anything else (a slot that changed meanwhile, a value of the
         * parent's range not taken in yet, no handle): the full lookup */
        s = slot_enter(h);
        if (!s)
                return NULL;
        *hold = s;
        return atomic_load_explicit(&s->obj, memory_order_acquire);
}

void np_win_handle_unhold(void *hold)
{
        struct slot *s = hold;
        uint64_t st = atomic_fetch_sub_explicit(&s->st, 1, memory_order_acq_rel) - 1;
        if ((st & ST_COUNT_MASK) == 0 && !(st & ST_OPEN))
                recycle(s, st); /* closed meanwhile, and this was the last hold */
}

struct w_obj *np_win_handle_take(HANDLE h)
{
        struct slot *s = slot_enter(h);
        if (!s)
                return NULL;
        struct w_obj *o = atomic_load_explicit(&s->obj, memory_order_acquire);
        np_win_ref(o);
        /* clear the open bit: only one CloseHandle gets past this */
        uint64_t st = atomic_load_explicit(&s->st, memory_order_acquire);
        for (;;) {
                if (!(st & ST_OPEN)) {
                        slot_release(s);
                        np_win_put(o);
                        np_win_set_error(ERROR_INVALID_HANDLE);
                        return NULL;
                }
                /* also drop the count the open state held */
                if (atomic_compare_exchange_weak_explicit(&s->st, &st, (st & ~ST_OPEN) - 1,
                                                          memory_order_acq_rel,
                                                          memory_order_acquire))
                        break;
        }
        slot_release(s);
        return o;
}

/* Every open handle in turn: fn(handle value, its object, its flags, arg)
 * with the object referenced for the call and no lock held. */
static void each_handle(void (*fn)(HANDLE h, struct w_obj *o, uint32_t hflags, void *arg),
                        void *arg)
{
        pthread_mutex_lock(&table_lock);
        uint32_t end = next_unused, rend = remote_end;
        pthread_mutex_unlock(&table_lock);
        for (uint32_t i = 1; i < rend; i++) {
                if (i == end)
                        i = NP_WIN_SLOT_LOCAL;
                if (i >= rend)
                        break;
                struct slot *s = slot_at(i);
                if (!s)
                        continue;
                uint64_t st = atomic_load_explicit(&s->st, memory_order_acquire);
                uint32_t gen = ST_GEN(st) & GEN_MASK;
                if (!slot_acquire(s, gen))
                        continue;
                struct w_obj *o = atomic_load_explicit(&s->obj, memory_order_acquire);
                uint32_t hflags = atomic_load(&s->hflags);
                np_win_ref(o);
                slot_release(s);
                fn((HANDLE)(uintptr_t)(((uintptr_t)gen << 22) | ((uintptr_t)i << 2)), o, hflags,
                   arg);
                np_win_put(o);
        }
}

struct of_type {
        enum w_type type;
        void (*fn)(struct w_obj *o, void *arg);
        void *arg;
};

static void if_of_type(HANDLE h, struct w_obj *o, uint32_t hflags, void *arg)
{
        struct of_type *t = arg;
        (void)h;
        (void)hflags;
        if (o->type == t->type)
                t->fn(o, t->arg);
}

void np_win_handle_foreach(enum w_type type, void (*fn)(struct w_obj *o, void *arg), void *arg)
{
        struct of_type t = {type, fn, arg};
        each_handle(if_of_type, &t);
}

HANDLE np_win_handle_new_at(HANDLE value, struct w_obj *o)
{
        uintptr_t v = (uintptr_t)value;
        uint32_t i = (uint32_t)(v >> 2) & SLOT_MASK, gen = (uint32_t)(v >> 22) & GEN_MASK;
        if ((v & 3) || v >> 31 || i == 0)
                return NULL;
        pthread_mutex_lock(&table_lock);
        if (i >= NP_WIN_SLOT_LOCAL) {
                /* a parent's value: its page only, nothing for the free list */
                if (page_ensure(i) < 0) {
                        pthread_mutex_unlock(&table_lock);
                        return NULL;
                }
                slot_at(i)->index = i;
                if (remote_end <= i)
                        remote_end = i + 1;
        }
        /* make every slot up to i exist; the ones skipped go on the free list */
        while (next_unused <= i && i < NP_WIN_SLOT_LOCAL) {
                uint32_t k = next_unused;
                if (page_ensure(k) < 0) {
                        pthread_mutex_unlock(&table_lock);
                        return NULL;
                }
                struct slot *s = slot_at(k);
                s->index = k;
                if (k != i) {
                        s->next_free = free_head;
                        free_head = k;
                }
                next_unused++;
        }
        struct slot *s = slot_at(i);
        uint64_t st = atomic_load_explicit(&s->st, memory_order_relaxed);
        if (st & ST_OPEN) {
                pthread_mutex_unlock(&table_lock);
                return NULL;
        }
        /* take i off the free list if it is there */
        for (uint32_t *pp = &free_head; i < NP_WIN_SLOT_LOCAL && *pp;
             pp = &slot_at(*pp)->next_free)
                if (*pp == i) {
                        *pp = s->next_free;
                        break;
                }
        np_win_obj_hold(o);
        atomic_fetch_add(&o->slots, 1);
        atomic_store_explicit(&s->hflags, 0, memory_order_relaxed);
        atomic_store_explicit(&s->obj, o, memory_order_relaxed);
        atomic_store_explicit(&s->st, ((uint64_t)gen << 32) | ST_OPEN | 1u, memory_order_release);
        pthread_mutex_unlock(&table_lock);
        return value;
}

int np_win_handle_flags(HANDLE h, DWORD *get, DWORD mask, DWORD flags)
{
        struct slot *s = slot_enter(h);
        if (!s)
                return 0;
        mask &= HANDLE_FLAG_INHERIT | HANDLE_FLAG_PROTECT_FROM_CLOSE;
        if (get)
                *get = atomic_load(&s->hflags);
        if (mask) {
                uint32_t old = atomic_load(&s->hflags);
                while (!atomic_compare_exchange_weak(&s->hflags, &old,
                                                     (old & ~mask) | (flags & mask)))
                        ;
        }
        slot_release(s);
        return 1;
}

struct inheritable {
        void (*fn)(HANDLE h, struct w_obj *o, void *arg);
        void *arg;
};

static void if_inheritable(HANDLE h, struct w_obj *o, uint32_t hflags, void *arg)
{
        struct inheritable *t = arg;
        if (hflags & HANDLE_FLAG_INHERIT)
                t->fn(h, o, t->arg);
}

void np_win_handle_foreach_inheritable(void (*fn)(HANDLE h, struct w_obj *o, void *arg),
                                       void *arg)
{
        struct inheritable t = {fn, arg};
        each_handle(if_inheritable, &t);
}

/* CloseHandle of any object: its type's close runs once its last handle
 * is gone from the table (pipe ends, events, ports, threads, files,
 * processes). */
NPIPE_WIN_API BOOL WINAPI npipe_win_CloseHandle(HANDLE hObject)
{
        DWORD fl = 0;
        if (np_win_handle_flags(hObject, &fl, 0, 0) && (fl & HANDLE_FLAG_PROTECT_FROM_CLOSE))
                return np_win_fail(ERROR_INVALID_HANDLE);
        struct w_obj *o = np_win_handle_take(hObject);
        if (!o)
                return FALSE;
        np_win_obj_release(o);
        np_win_put(o);
        return TRUE;
}
