/*
 * segment.c - the shared segments of a connection: making our own, mapping the
 * peer's (checked, never trusted), and the connection that holds both.
 */
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

/* ---- segments ------------------------------------------------------------------ */


/* A server's ring holds twice its outbound quota (so a write that fits the
 * quota goes in whole, QUOTA-02), and at least MIN_SERVER_RING. */
uint32_t np_server_ring_cap(uint32_t out_quota)
{
        uint64_t want = (uint64_t)out_quota * 2;
        return np_pow2_at_least(want > MIN_SERVER_RING ? want : MIN_SERVER_RING);
}

uint32_t np_pow2_at_least(uint64_t n)
{
        uint64_t c = NP_RING_MIN;
        while (c < n && c < NP_RING_MAX)
                c <<= 1;
        return (uint32_t)c;
}

/* Map a segment's header page now (MADV_POPULATE_*, Linux 5.14), not in
 * the page fault its first access would take: a fault costs a null
 * system call's time several times over, and far more in a guest whose
 * faults go through the hypervisor (docs/performance.md, "Where an
 * open+close goes": 4 faults, ~80 us of a ~500 us open+close).  Only the
 * header: it is touched at once on both sides, while ring pages are
 * touched only if data flows and would cost memory on every idle
 * connection.  An older kernel says EINVAL and the fault happens as
 * before. */
static void seg_prefault(void *p, int advice)
{
        (void)madvise(p, NP_SEG_HDR_SIZE, advice);
}

/* Create, map and seal our segment.  Returns the fd (to send) or an error. */
int np_seg_create(uint32_t cap, uint32_t role, struct np_seg_hdr **ret, size_t *size)
{
        size_t sz = (size_t)NP_SEG_HDR_SIZE + cap;
        int fd = memfd_create("npipe-seg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return errno == EMFILE || errno == ENFILE ? NPIPE_ELIMIT : NPIPE_ENOMEM;
        if (ftruncate(fd, (off_t)sz) < 0) {
                close(fd);
                return NPIPE_ENOMEM;
        }
        void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                close(fd);
                return NPIPE_ENOMEM;
        }
        /* The header is written now and read by every call: map its page
         * in this call rather than in a fault (seg_prefault). */
        seg_prefault(p, MADV_POPULATE_WRITE);
        np_seg_init(p, cap, role);
        /* a forked child must not inherit a writable view of our ring */
        madvise(p, sz, MADV_DONTFORK);
        /* From here on nobody can get a writable mapping or change the size,
         * not even by reopening /proc/self/fd/N: only ours stays writable. */
        if (fcntl(fd, F_ADD_SEALS,
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
                munmap(p, sz);
                close(fd);
                return NPIPE_ENOMEM;
        }
        *ret = p;
        *size = sz;
        return fd;
}

/* A read-only stand-in for a peer whose segment could not be mapped: it
 * reads as closed and empty, so the pipe behaves as broken. */
/* Stand-ins for a peer segment we could not map, one per role: static, not
 * mapped on demand, because that happens exactly when mappings run out
 * (vm.max_map_count).  The connection must still be made, reading as
 * closed, or the client would hold a connection nobody serves.  Written
 * once, then only ever read (peers are const). */
static _Alignas(4096) unsigned char dummy_mem[2][NP_SEG_HDR_SIZE + NP_RING_MIN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
        for (uint32_t role = 0; role < 2; role++) {
                struct np_seg_hdr *d = (struct np_seg_hdr *)(void *)dummy_mem[role];
                np_seg_init(d, NP_RING_MIN, role);
                atomic_store(&d->state, NP_SEG_CLOSED);
        }
}

static const struct np_seg_hdr *dummy_peer(uint32_t role)
{
        pthread_once(&dummy_once, dummy_init);
        return (const struct np_seg_hdr *)(void *)dummy_mem[role ? 1 : 0];
}

/* Map the peer's segment read-only after checking it cannot change size
 * under us (a hostile peer shrinking its memfd would SIGBUS us). */
static int seg_map_peer(int fd, uint32_t role, const struct np_seg_hdr **ret, size_t *size)
{
        int seals = fcntl(fd, F_GET_SEALS);
        int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
        struct stat st;
        if (seals < 0 || (seals & need) != need || fstat(fd, &st) < 0)
                return -1;
        if (st.st_size < (off_t)(NP_SEG_HDR_SIZE + NP_RING_MIN) ||
            st.st_size > (off_t)(NP_SEG_HDR_SIZE + (size_t)NP_RING_MAX))
                return -1;
        size_t sz = (size_t)st.st_size;
        void *p = mmap(NULL, sz, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -1;
        seg_prefault(p, MADV_POPULATE_READ); /* the peer wrote its header already */
        if (np_seg_check(p, sz, role) < 0) {
                munmap(p, sz);
                return -1;
        }
        madvise(p, sz, MADV_DONTFORK);
        *ret = p;
        *size = sz;
        return 0;
}

/* Build a connection from our segment and the peer's descriptor (closed
 * here).  Never fails for the peer's reasons: a bad segment gives a
 * connection that reads as broken. */
struct conn *np_conn_new(struct np_seg_hdr *own, size_t own_size, int peer_fd,
                             uint32_t peer_role, uint64_t conn_id)
{
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->own = own;
        c->own_size = own_size;
        c->conn_id = conn_id;
        if (peer_fd < 0 || seg_map_peer(peer_fd, peer_role, &c->peer, &c->peer_size) < 0) {
                c->peer = dummy_peer(peer_role);
                c->peer_is_dummy = 1;
                atomic_store(&c->corrupt, 1);
                if (!c->peer) {
                        if (peer_fd >= 0)
                                close(peer_fd);
                        free(c);
                        return NULL;
                }
        }
        if (peer_fd >= 0)
                close(peer_fd);
        np_cons_init(&c->cons, c->peer, own);
        np_prod_init(&c->prod, own, c->peer);
        pthread_mutex_init(&c->wlock, NULL);
        atomic_store(&own->wake_rbytes, UINT64_MAX);
        atomic_store(&c->refs, 1);
        return c;
}

void np_conn_retire(struct npipe *h, struct conn *c)
{
        if (!c)
                return;
        np_lock(&h->lock, NP_LK_STATE);
        c->retired_next = h->retired;
        __atomic_store_n(&h->retired, c, __ATOMIC_RELAXED);
        np_unlock(&h->lock, NP_LK_STATE);
        np_conn_reap(h);
}

void np_conn_reap(struct npipe *h)
{
        /* The list is taken first, then the calls counted: a call that
         * borrowed one of its connections counted itself before it loaded
         * h->conn, which was before the retire's store, which was before
         * the list got it (np_conn_borrow) - so it is counted here unless
         * it has left.  The caller is a call itself: 1 is "alone".
         * Only tried: np_h_put may come with any lock held, and a retired
         * connection left now goes with a later call or the close. */
        if (np_trylock(&h->lock, NP_LK_STATE))
                return;
        struct conn *list = h->retired;
        if (list && (uint32_t)atomic_load_explicit(&h->slot->word, memory_order_seq_cst) == 1)
                __atomic_store_n(&h->retired, NULL, __ATOMIC_RELAXED);
        else
                list = NULL;
        np_unlock(&h->lock, NP_LK_STATE);
        while (list) {
                struct conn *next = list->retired_next;
                np_conn_put(list);
                list = next;
        }
}

void np_conn_free(struct conn *c)
{
        if (!c->peer_is_dummy)
                munmap((void *)c->peer, c->peer_size);
        munmap(c->own, c->own_size);
        pthread_mutex_destroy(&c->wlock);
        free(c->carry);
        free(c);
}

/* ---- what a connection's state and carry say ------------------------------------------ */

size_t np_conn_carried(const struct conn *c)
{
        return c->carry ? c->carry_len - c->carry_off : 0;
}

/* np_cons_read, with what an earlier read carried back first. */
int np_conn_read(struct conn *c, void *buf, size_t len, int msg_mode, size_t *done)
{
        size_t rem = np_conn_carried(c);
        if (rem && *done == 0) {
                if (len == 0)
                        return msg_mode ? NP_RING_MORE : NP_RING_OK; /* ZERO-08/09 */
                size_t n = rem < len ? rem : len;
                memcpy(buf, c->carry + c->carry_off, n);
                c->carry_off += n;
                *done = n;
                if (n < rem)
                        return msg_mode ? NP_RING_MORE : NP_RING_OK;
                free(c->carry);
                c->carry = NULL;
                c->carry_len = c->carry_off = 0;
                if (n == len)
                        return msg_mode && c->cons.in_msg ? NP_RING_MORE : NP_RING_OK;
        }
        return np_cons_read(&c->cons, buf, len, msg_mode, done);
}

/* A read gives up with `done` bytes of an unfinished message in buf: keep
 * them at the head of the queue. */
void np_conn_stash(struct conn *c, const void *buf, size_t done)
{
        uint8_t *p = malloc(done);
        if (!p)
                return; /* out of memory: those bytes are lost (the pipe goes on) */
        memcpy(p, buf, done);
        free(c->carry);
        c->carry = p;
        c->carry_len = done;
        c->carry_off = 0;
}

/* What the two ends of c wrote, from the producer counters of both
 * segments (a broken peer's dummy segment counts nothing). */
void np_conn_traffic(int server, const struct conn *c, struct np_traffic *t)
{
        const struct np_seg_hdr *cs = server ? c->peer : c->own;
        const struct np_seg_hdr *ss = server ? c->own : c->peer;

        t->c2s_bytes = atomic_load_explicit(&cs->wbytes, memory_order_relaxed);
        t->c2s_msgs = atomic_load_explicit(&cs->wframes, memory_order_relaxed);
        t->s2c_bytes = atomic_load_explicit(&ss->wbytes, memory_order_relaxed);
        t->s2c_msgs = atomic_load_explicit(&ss->wframes, memory_order_relaxed);
}
