/*
 * pipe.c - the native API: handles, the NT state machine of each end, and
 * the blocking rules, over the rings (core/ring.c) and the broker
 * (client/broker.c).
 *
 * Each end owns a segment (ring_layout.h).  The state an operation sees is
 * derived from three sources, read in this order so that no data is lost:
 * our own local state (listening, connected, disconnected), what the broker
 * told us (the peer closed, died, or disconnected us) and the state word in
 * the peer's segment (closed, disconnected).  The peer publishes its data
 * before its state, so reading the state first and the ring second never
 * misses bytes written before a close.
 *
 * Locks, in order: h->op (control operations that talk to the broker),
 * reg_lock (id -> handle table), h->lock (state), h->rd / h->wr (one reader
 * and one producer at a time per end).  No lock is held across a broker
 * call except h->op, because the event thread needs reg_lock and h->lock to
 * deliver the reply's side effects.
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

#define DEFAULT_CLIENT_RING (128u * 1024u)
#define MIN_SERVER_RING (64u * 1024u)
/* Spin this long for the peer before sleeping, while it looks busy. */
#define SPIN_NS 20000

/* ---- the id table ------------------------------------------------------------ */

#define REG_BUCKETS 4096
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct npipe *reg[REG_BUCKETS];

void np_pipe_atfork(int phase)
{
        if (phase == 0) {
                pthread_mutex_lock(&reg_lock);
        } else if (phase == 1) {
                pthread_mutex_unlock(&reg_lock);
        } else {
                /* the parent's handles are not ours: forget them (EFORKED) */
                pthread_mutex_init(&reg_lock, NULL);
                memset(reg, 0, sizeof(reg));
        }
}

static unsigned reg_hash(uint64_t id, int server)
{
        uint64_t x = id * 0x9E3779B97F4A7C15ull + (uint64_t)server;
        return (unsigned)(x >> 52) % REG_BUCKETS;
}

static void reg_add(struct npipe *h)
{
        unsigned b = reg_hash(h->id, h->server);
        h->hnext = reg[b];
        reg[b] = h;
}

static void reg_del(struct npipe *h)
{
        unsigned b = reg_hash(h->id, h->server);
        for (struct npipe **pp = &reg[b]; *pp; pp = &(*pp)->hnext)
                if (*pp == h) {
                        *pp = h->hnext;
                        return;
                }
}

static struct npipe *reg_find(uint64_t id, int server)
{
        for (struct npipe *h = reg[reg_hash(id, server)]; h; h = h->hnext)
                if (h->id == id && h->server == server)
                        return h;
        return NULL;
}

/* ---- segments ------------------------------------------------------------------ */

static uint32_t pow2_at_least(uint64_t n);

/* A server's ring holds twice its outbound quota (so a write that fits the
 * quota goes in whole, QUOTA-02), and at least MIN_SERVER_RING. */
static uint32_t server_ring_cap(uint32_t out_quota)
{
        uint64_t want = (uint64_t)out_quota * 2;
        return pow2_at_least(want > MIN_SERVER_RING ? want : MIN_SERVER_RING);
}

static uint32_t pow2_at_least(uint64_t n)
{
        uint64_t c = NP_RING_MIN;
        while (c < n && c < NP_RING_MAX)
                c <<= 1;
        return (uint32_t)c;
}

/* Create, map and seal our segment.  Returns the fd (to send) or an error. */
static int seg_create(uint32_t cap, uint32_t role, struct np_seg_hdr **ret, size_t *size)
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
static struct conn *conn_new(struct np_seg_hdr *own, size_t own_size, int peer_fd,
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

void np_conn_put(struct conn *c)
{
        if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
                return;
        if (!c->peer_is_dummy)
                munmap((void *)c->peer, c->peer_size);
        munmap(c->own, c->own_size);
        pthread_mutex_destroy(&c->wlock);
        free(c->carry);
        free(c);
}

/* After publishing data or a message: wake the peer's readers if any sleep. */
void np_wake_reader(struct conn *c)
{
        np_async_note_local(c);
        if (atomic_load_explicit(&c->peer->rsleepers, memory_order_seq_cst) == 0 ||
            !np_wake_due(&c->peer->rsleep, atomic_load(&c->own->seq), &c->rgen_woken))
                return;
        np_futex_wake(&c->own->seq, 1, INT_MAX);
        atomic_store_explicit(&c->woke_ns, np_now_ns(), memory_order_relaxed);
}

/* After consuming: wake the peer's writers only once we passed the mark
 * the first of them needs, not after every message. */
void np_wake_writer(struct conn *c)
{
        np_async_note_local(c);
        if (atomic_load_explicit(&c->peer->wsleepers, memory_order_seq_cst) == 0 ||
            c->cons.rbytes < atomic_load_explicit(&c->peer->wake_rbytes, memory_order_acquire))
                return;
        if (!np_wake_due(&c->peer->wsleep, atomic_load(&c->own->seq), &c->wgen_woken))
                return;
        np_futex_wake(&c->own->seq, 1, INT_MAX);
        atomic_store_explicit(&c->woke_ns, np_now_ns(), memory_order_relaxed);
}

static void wwait_publish(struct conn *c)
{
        uint64_t min = UINT64_MAX;
        for (struct np_wwait *w = c->wwaits; w; w = w->next)
                if (w->need < min)
                        min = w->need;
        atomic_store_explicit(&c->own->wake_rbytes, min, memory_order_seq_cst);
}

void np_wwait_arm(struct conn *c, struct np_wwait *w, uint64_t need)
{
        pthread_mutex_lock(&c->wlock);
        w->need = need;
        w->next = c->wwaits;
        c->wwaits = w;
        wwait_publish(c);
        pthread_mutex_unlock(&c->wlock);
}

void np_wwait_disarm(struct conn *c, struct np_wwait *w)
{
        pthread_mutex_lock(&c->wlock);
        for (struct np_wwait **pp = &c->wwaits; *pp; pp = &(*pp)->next)
                if (*pp == w) {
                        *pp = w->next;
                        break;
                }
        wwait_publish(c);
        pthread_mutex_unlock(&c->wlock);
}

/* Wake our own threads sleeping on the peer's seq, until none is left
 * (they re-check c->gone): the peer's seq will not change for them. */
static void wake_own_sleepers(struct conn *c)
{
        np_async_kick(c);
        for (int i = 0; atomic_load(&c->local_sleepers) != 0; i++) {
                np_futex_wake(&c->peer->seq, 1, INT_MAX);
                if (i < 100) {
                        sched_yield();
                } else {
                        struct timespec ts = {0, 100000};
                        nanosleep(&ts, NULL);
                }
                if (i > 100000)
                        break; /* a thread that never returns: give up, never hang here */
        }
}

/* ---- handles -------------------------------------------------------------------- */

static struct npipe *handle_new(int server)
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

static void handle_free(struct npipe *h)
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
        pthread_mutex_lock(&h->lock);
        struct conn *c = h->conn;
        if (c)
                atomic_fetch_add(&c->refs, 1);
        pthread_mutex_unlock(&h->lock);
        return c;
}

/* The state of an end as NT reports it (STATE-01..05). */
int np_end_state(struct npipe *h, struct conn *c)
{
        if (!c) {
                int s;
                pthread_mutex_lock(&h->lock);
                s = h->state;
                pthread_mutex_unlock(&h->lock);
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

/* Deadline helpers: timeout_ms < 0 is forever. */
static int64_t deadline_of(int timeout_ms)
{
        return timeout_ms < 0 ? -1 : np_now_ns() + (int64_t)timeout_ms * 1000000;
}

static int64_t remaining(int64_t deadline)
{
        if (deadline < 0)
                return -1;
        int64_t r = deadline - np_now_ns();
        return r < 0 ? 0 : r;
}

/* Sleep until the peer's seq moves from `seq` (or our own threads wake us).
 * need == 0: we wait for the peer's data or state (a reader); otherwise we
 * wait for the peer to have consumed `need` bytes (a writer), and it wakes
 * us only then.  Spins briefly first while the peer is not asleep itself:
 * on another CPU it is likely to answer sooner than a futex round trip. */
static int conn_wait_for(struct conn *c, uint32_t seq, int writer, uint64_t need,
                         int64_t deadline);

static int conn_wait(struct conn *c, uint32_t seq, uint64_t need, int64_t deadline)
{
        return conn_wait_for(c, seq, need != 0, need, deadline);
}

/* As conn_wait; `writer` says we wait for the consumer, `need` is then the
 * mark (0: any consumption, also of empty messages, which move no bytes). */
/* Publish the CPU we run on (glibc's sched_getcpu reads rseq: no syscall). */
static void note_cpu(struct conn *c)
{
        int me = sched_getcpu();
        uint32_t mine = me < 0 ? 0 : (uint32_t)me + 1;
        if (atomic_load_explicit(&c->own->cpu, memory_order_relaxed) != mine)
                atomic_store_explicit(&c->own->cpu, mine, memory_order_relaxed);
}

static int conn_wait_for(struct conn *c, uint32_t seq, int writer, uint64_t need,
                         int64_t deadline)
{
        /* Spinning pays only while the peer can run meanwhile: on our own
         * CPU it cannot make progress until we stop (measured: a 64-byte
         * round trip of 26 us with both ends on one CPU, 5 us without the
         * spin there). */
        note_cpu(c);
        uint32_t mine = atomic_load_explicit(&c->own->cpu, memory_order_relaxed);
        uint32_t theirs = atomic_load_explicit(&c->peer->cpu, memory_order_relaxed);
        /* A peer that sleeps will not answer before a wake; one we woke
         * within the spin's length is on its way (a 1 MiB write into a
         * 64 KiB quota hands over like this at every message: measured
         * 7.35 sleeps per message without this, the peer's wake not yet
         * seen as such). */
        int peer_runs = atomic_load_explicit(&c->peer->rsleepers, memory_order_relaxed) == 0 &&
                        atomic_load_explicit(&c->peer->wsleepers, memory_order_relaxed) == 0;
        int64_t now = 0;
        if (!peer_runs) {
                int64_t w = atomic_load_explicit(&c->woke_ns, memory_order_relaxed);
                now = np_now_ns();
                peer_runs = w != 0 && now - w < SPIN_NS;
        }
        if ((mine == 0 || theirs != mine) && peer_runs) {
                int64_t end = (now ? now : np_now_ns()) + SPIN_NS;
                do {
                        for (int i = 0; i < 64; i++) {
                                if (atomic_load_explicit(&c->peer->seq, memory_order_acquire) !=
                                    seq)
                                        return 0;
                                np_cpu_relax();
                        }
                } while (np_now_ns() < end);
        }
        struct np_wwait ww;
        _Atomic uint32_t *count = writer ? &c->own->wsleepers : &c->own->rsleepers;
        if (writer)
                np_wwait_arm(c, &ww, need);
        atomic_fetch_add_explicit(&c->local_sleepers, 1, memory_order_seq_cst);
        atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
        np_sleep_announce(writer ? &c->own->wsleep : &c->own->rsleep, seq);
        int r = 0;
        if (np_synccancel_arm(&c->peer->seq, 1)) {
                /* CancelSynchronousIo came first: do not sleep */
        } else if (atomic_load(&c->gone) == 0 &&
                   atomic_load_explicit(&c->peer->seq, memory_order_seq_cst) == seq) {
                int64_t rem = remaining(deadline);
                if (rem == 0)
                        r = NPIPE_ETIMEDOUT;
                else if (np_futex_wait(&c->peer->seq, seq, 1, rem) == -ETIMEDOUT)
                        r = NPIPE_ETIMEDOUT;
        }
        if (np_synccancel_disarm())
                r = NPIPE_ECANCELED;
        atomic_fetch_sub_explicit(count, 1, memory_order_seq_cst);
        atomic_fetch_sub_explicit(&c->local_sleepers, 1, memory_order_seq_cst);
        if (writer)
                np_wwait_disarm(c, &ww);
        return r;
}

static void sync_listening(struct npipe *h);

/* ---- traffic counters ------------------------------------------------------------------ */

/* What the two ends of c wrote, from the producer counters of both
 * segments (a broken peer's dummy segment counts nothing). */
static void conn_traffic(int server, const struct conn *c, struct np_traffic *t)
{
        const struct np_seg_hdr *cs = server ? c->peer : c->own;
        const struct np_seg_hdr *ss = server ? c->own : c->peer;

        t->c2s_bytes = atomic_load_explicit(&cs->wbytes, memory_order_relaxed);
        t->c2s_msgs = atomic_load_explicit(&cs->wframes, memory_order_relaxed);
        t->s2c_bytes = atomic_load_explicit(&ss->wbytes, memory_order_relaxed);
        t->s2c_msgs = atomic_load_explicit(&ss->wframes, memory_order_relaxed);
}

/* The body of DISCONNECT / CLOSE_*: our id and, when we leave a connection,
 * its final counts (proto.h, np_end_req). */
static void end_req(struct npipe *h, const struct conn *c, struct np_end_req *r)
{
        memset(r, 0, sizeof(*r));
        r->id = h->id;
        if (c) {
                r->conn_id = c->conn_id;
                conn_traffic(h->server, c, &r->traffic);
        }
}

struct np_stats_live *np_stats_collect(size_t *n)
{
        struct np_stats_live *v = NULL;
        size_t cap = 0;
        *n = 0;
        pthread_mutex_lock(&reg_lock);
        for (unsigned b = 0; b < REG_BUCKETS; b++) {
                for (struct npipe *h = reg[b]; h; h = h->hnext) {
                        if (!h->server)
                                continue;
                        pthread_mutex_lock(&h->lock);
                        if (h->conn && !h->closed) {
                                if (*n == cap) {
                                        size_t nc = cap ? cap * 2 : 16;
                                        struct np_stats_live *nv = realloc(v, nc * sizeof(*nv));
                                        if (!nv) {
                                                pthread_mutex_unlock(&h->lock);
                                                goto out;
                                        }
                                        v = nv;
                                        cap = nc;
                                }
                                v[*n].instance_id = h->id;
                                v[*n].conn_id = h->conn->conn_id;
                                conn_traffic(1, h->conn, &v[*n].traffic);
                                (*n)++;
                        }
                        pthread_mutex_unlock(&h->lock);
                }
        }
out:
        pthread_mutex_unlock(&reg_lock);
        return v;
}

/* ---- broker events ---------------------------------------------------------------- */

void np_on_connected(const struct np_ev_connected *ev, const struct np_remote_id *remote, int fd)
{
        struct np_remote_id *rid = NULL;
        if (remote) {
                rid = malloc(sizeof(*rid));
                if (!rid) {
                        /* the server could not tell who came: better no connect */
                        if (fd >= 0)
                                close(fd);
                        return;
                }
                *rid = *remote;
        }
        pthread_mutex_lock(&reg_lock);
        struct npipe *h = reg_find(ev->instance_id, 1);
        if (!h) {
                pthread_mutex_unlock(&reg_lock);
                if (fd >= 0)
                        close(fd);
                free(rid);
                return;
        }
        pthread_mutex_lock(&h->lock);
        pthread_mutex_unlock(&reg_lock);
        if (h->closed || !h->listen_seg || h->conn) {
                pthread_mutex_unlock(&h->lock);
                if (fd >= 0)
                        close(fd);
                free(rid);
                return;
        }
        struct conn *c = conn_new(h->listen_seg, h->listen_size, fd, NP_ROLE_CLIENT, ev->conn_id);
        if (!c) {
                pthread_mutex_unlock(&h->lock);
                free(rid);
                return;
        }
        struct np_remote_id *old = h->remote;
        __atomic_store_n(&h->remote, rid, __ATOMIC_RELEASE);
        free(old);
        h->listen_seg = NULL;
        h->conn = c;
        h->state = NPIPE_STATE_CONNECTED;
        h->client_pid = (pid_t)ev->client_pid;
        h->peer_uid = ev->client_uid;
        h->peer_gid = ev->client_gid;
        int local = ev->client_pid != 0 && (pid_t)ev->client_pid == np_self_pid();
        c->peer_local = local;
        /* under h->lock: once it is released a disconnect may free c */
        if (local)
                np_async_note_local(c);
        /* a close in another thread may free h once h->lock is released:
         * count as a caller, which npipe_close waits for */
        np_h_hold(h);
        pthread_mutex_unlock(&h->lock);
        np_bump_ev(h);
        np_h_put(h);
        /* A client of this process: its open returns only after this
         * thread has read the reply that follows this event, so the
         * pending ConnectNamedPipe completes inside CreateFile, as on NT
         * (CONNECT-13). */
        if (local)
                np_async_settle();
}

void np_on_peer_gone(const struct np_ev_peer_gone *ev)
{
        int server = ev->to_server ? 1 : 0;
        pthread_mutex_lock(&reg_lock);
        struct npipe *h = reg_find(server ? ev->instance_id : ev->conn_id, server);
        if (!h) {
                pthread_mutex_unlock(&reg_lock);
                return;
        }
        pthread_mutex_lock(&h->lock);
        pthread_mutex_unlock(&reg_lock);
        struct conn *c = h->conn;
        if (!c && !h->server && h->id == ev->conn_id) {
                /* the server went before our open returned: keep it for then */
                h->early_gone = ev->reason == NP_GONE_DISCONNECTED ? NP_GONE_DISCONNECTED
                                                                   : NP_GONE_CLOSED;
        }
        if (c && c->conn_id == ev->conn_id) {
                int reason = ev->reason == NP_GONE_DISCONNECTED ? NP_GONE_DISCONNECTED
                                                                : NP_GONE_CLOSED;
                if (ev->reason == NP_GONE_DIED) {
                        /* CLOSE-09: a dead process's pending writes vanish */
                        uint32_t q = h->server ? h->params.in_quota : h->params.out_quota;
                        np_cons_cut(&c->cons, atomic_load(&c->own->rbytes), q);
                }
                int zero = 0;
                atomic_compare_exchange_strong(&c->gone, &zero, reason);
                atomic_fetch_add(&c->refs, 1);
        } else {
                c = NULL;
        }
        /* a close in another thread may free h once h->lock is released:
         * count as a caller, which npipe_close waits for */
        np_h_hold(h);
        pthread_mutex_unlock(&h->lock);
        np_bump_ev(h);
        np_h_put(h);
        if (c) {
                wake_own_sleepers(c);
                np_conn_put(c);
        }
}

/* Re-register one live end with a new broker (proto.h, NP_MSG_ADOPT). */
static void adopt_one(struct npipe *h)
{
        struct np_adopt b;
        memset(&b, 0, sizeof(b));
        b.params = h->params;
        int fd = -1;
        struct np_seg_hdr *seg = NULL, *old = NULL;
        size_t sz = 0, old_sz = 0;
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        if (h->server) {
                b.role = NP_ADOPT_SERVER;
                b.instance_id = h->id;
                b.flags = h->cflags;
                b.state = (uint32_t)st;
                if (c) {
                        b.conn_id = c->conn_id;
                        b.peer_pid = (uint32_t)h->client_pid;
                }
                if (st == NPIPE_STATE_LISTENING) {
                        /* the old broker closed the segment it held: offer a fresh one */
                        uint32_t cap = server_ring_cap(h->params.out_quota);
                        fd = seg_create(cap, NP_ROLE_SERVER, &seg, &sz);
                        if (fd < 0) {
                                np_conn_put(c);
                                return;
                        }
                        pthread_mutex_lock(&h->lock);
                        if (h->state == NPIPE_STATE_LISTENING && h->listen_seg && !h->conn) {
                                old = h->listen_seg;
                                old_sz = h->listen_size;
                                h->listen_seg = seg;
                                h->listen_size = sz;
                                seg = NULL;
                        }
                        pthread_mutex_unlock(&h->lock);
                        if (seg) {
                                /* it connected meanwhile: nothing to offer */
                                close(fd);
                                munmap(seg, sz);
                                np_conn_put(c);
                                return;
                        }
                }
        } else {
                if (st != NPIPE_STATE_CONNECTED || !c) {
                        np_conn_put(c);
                        return; /* nothing more will happen to it */
                }
                b.role = NP_ADOPT_CLIENT;
                b.state = NPIPE_STATE_CONNECTED;
                b.instance_id = h->instance_id;
                b.conn_id = h->id;
                b.peer_pid = (uint32_t)h->server_pid;
                b.access = h->access;
        }
        np_conn_put(c);
        b.name_len = (uint32_t)strlen(h->name);
        struct np_create_reply rep;
        struct np_request req = {.type = NP_MSG_ADOPT, .body = &b, .body_len = sizeof(b),
                                 .name = h->name, .name_len = b.name_len, .fd = fd,
                                 .reply = &rep, .reply_cap = sizeof(rep)};
        np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (fd >= 0)
                close(fd);
        if (old)
                munmap(old, old_sz);
}

void np_on_broker_lost(void)
{
        /* Existing connections live on in shared memory.  Re-register every
         * live end with a new broker (started now if need be), so that new
         * clients find our instances by name and peer deaths are noticed. */
        pthread_mutex_lock(&reg_lock);
        size_t n = 0;
        for (unsigned b = 0; b < REG_BUCKETS; b++)
                for (struct npipe *h = reg[b]; h; h = h->hnext)
                        n++;
        struct npipe **list = n ? calloc(n, sizeof(*list)) : NULL;
        size_t k = 0;
        for (unsigned b = 0; list && b < REG_BUCKETS; b++)
                for (struct npipe *h = reg[b]; h; h = h->hnext)
                        if (!__atomic_load_n(&h->closed, __ATOMIC_SEQ_CST)) {
                                /* a close waits for us to finish with it */
                                np_h_hold(h);
                                list[k++] = h;
                        }
        pthread_mutex_unlock(&reg_lock);
        for (size_t i = 0; i < k; i++) {
                adopt_one(list[i]);
                np_h_put(list[i]);
        }
        free(list);
}

/* ---- creating and opening ------------------------------------------------------------ */

NPIPE_EXTERN void npipe_server_opts_init(struct npipe_server_opts *o)
{
        memset(o, 0, sizeof(*o));
        o->size = sizeof(*o);
        o->type = NPIPE_TYPE_MESSAGE;
        o->dir = NPIPE_DUPLEX;
        o->max_instances = NPIPE_UNLIMITED_INSTANCES;
        o->in_quota = 65536;
        o->out_quota = 65536;
        o->default_timeout_ms = 50;
        o->policy = NPIPE_ACCESS_OWNER;
}

struct reg_ctx {
        struct npipe *h;
        int server;
};

/* Runs on the event thread with the reply: registers the handle before any
 * later event for it can be looked up. */
static int register_on_reply(void *ctx, const struct np_hdr *hdr, const void *body, size_t len)
{
        struct reg_ctx *rc = ctx;
        int32_t status;
        if (len < sizeof(status))
                return 1;
        memcpy(&status, body, sizeof(status));
        if (status != 0)
                return 1;
        if (rc->server && hdr->type == NP_MSG_CREATE_REPLY &&
            len >= sizeof(struct np_create_reply)) {
                struct np_create_reply r;
                memcpy(&r, body, sizeof(r));
                rc->h->id = r.instance_id;
        } else if (!rc->server && hdr->type == NP_MSG_OPEN_REPLY &&
                   len >= sizeof(struct np_open_reply)) {
                struct np_open_reply r;
                memcpy(&r, body, sizeof(r));
                rc->h->id = r.conn_id;
        } else {
                return 1;
        }
        pthread_mutex_lock(&reg_lock);
        reg_add(rc->h);
        pthread_mutex_unlock(&reg_lock);
        return 1;
}

NPIPE_EXTERN int npipe_create(const char *name, const struct npipe_server_opts *opts,
                              npipe_t **ret)
{
        const char *bare;
        size_t blen;
        struct npipe_server_opts def;
        if (!ret)
                return NPIPE_EINVAL;
        int r = np_name_parse(name, &bare, &blen);
        if (r < 0)
                return r;
        if (!opts) {
                npipe_server_opts_init(&def);
                opts = &def;
        }
        if (opts->size < sizeof(*opts) || (opts->type != NPIPE_TYPE_BYTE &&
                                           opts->type != NPIPE_TYPE_MESSAGE) ||
            opts->dir < NPIPE_INBOUND || opts->dir > NPIPE_DUPLEX ||
            opts->max_instances > NPIPE_MAX_INSTANCES_LIMIT ||
            (unsigned)opts->policy > NPIPE_ACCESS_EVERYONE ||
            (opts->flags & ~(NPIPE_FIRST_INSTANCE | NPIPE_REJECT_REMOTE | NPIPE_ALLOW_ANONYMOUS | NPIPE_NOWAIT |
                             NPIPE_READMODE_MESSAGE)))
                return NPIPE_EINVAL;
        /* CREATE-03: a byte pipe cannot start in message read mode */
        if (opts->type == NPIPE_TYPE_BYTE && (opts->flags & NPIPE_READMODE_MESSAGE))
                return NPIPE_EINVAL;

        struct npipe *h = handle_new(1);
        if (!h)
                return NPIPE_ENOMEM;
        h->name = strndup(bare, blen);
        uint32_t cap = server_ring_cap(opts->out_quota);
        int fd = seg_create(cap, NP_ROLE_SERVER, &h->listen_seg, &h->listen_size);
        if (fd < 0 || !h->name) {
                if (fd >= 0) {
                        close(fd);
                        munmap(h->listen_seg, h->listen_size);
                }
                handle_free(h);
                return fd < 0 ? fd : NPIPE_ENOMEM;
        }

        struct np_create body = {0};
        body.params.type = opts->type;
        body.params.dir = opts->dir;
        body.params.max_instances = opts->max_instances;
        body.params.in_quota = opts->in_quota;
        body.params.out_quota = opts->out_quota;
        body.params.default_timeout_ms = opts->default_timeout_ms;
        body.params.policy = opts->policy;
        body.params.gid = (uint32_t)opts->gid;
        body.flags = ((opts->flags & NPIPE_FIRST_INSTANCE) ? NP_CREATE_FIRST_INSTANCE : 0) |
                     ((opts->flags & NPIPE_REJECT_REMOTE) ? NP_CREATE_REJECT_REMOTE : 0) |
                     ((opts->flags & NPIPE_ALLOW_ANONYMOUS) ? NP_CREATE_ALLOW_ANONYMOUS : 0);
        body.name_len = (uint32_t)blen;

        struct np_create_reply rep;
        struct reg_ctx rc = {h, 1};
        /* state before the reply: an EV_CONNECTED may follow it at once */
        h->state = NPIPE_STATE_LISTENING;
        h->server_pid = np_self_pid();
        struct np_request req = {.type = NP_MSG_CREATE, .body = &body, .body_len = sizeof(body),
                                 .name = bare, .name_len = blen, .fd = fd, .reply = &rep,
                                 .reply_cap = sizeof(rep), .fn = register_on_reply, .fn_ctx = &rc};
        r = np_broker_call(&req);
        close(fd);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r == 0 && (req.reply_type != NP_MSG_CREATE_REPLY || req.reply_len < sizeof(rep))) {
                struct np_reply *plain = (struct np_reply *)(void *)&rep;
                r = req.reply_len >= sizeof(*plain) && plain->status < 0 ? plain->status
                                                                           : NPIPE_EPROTO;
        } else if (r == 0) {
                r = rep.status;
        }
        if (r < 0) {
                pthread_mutex_lock(&reg_lock);
                if (h->id)
                        reg_del(h);
                pthread_mutex_unlock(&reg_lock);
                munmap(h->listen_seg, h->listen_size);
                handle_free(h);
                return r;
        }
        h->params = rep.params;
        h->cflags = body.flags;
        h->exposure = rep.remote <= NP_REMOTE_WHY_MAX ? rep.remote : NP_REMOTE_LIMIT;
        h->can_read = opts->dir != NPIPE_OUTBOUND;
        h->can_write = opts->dir != NPIPE_INBOUND;
        /* CREATE-07/08: an inbound server handle lacks FILE_WRITE_ATTRIBUTES */
        h->can_set_mode = opts->dir != NPIPE_INBOUND;
        atomic_store(&h->read_mode, (opts->flags & NPIPE_READMODE_MESSAGE) ? NPIPE_READ_MESSAGE
                                                                           : NPIPE_READ_BYTE);
        atomic_store(&h->nowait, (opts->flags & NPIPE_NOWAIT) ? 1 : 0);
        *ret = np_handle_value(h);
        return 0;
}

/* One open attempt.  Returns 0 with *ret, or an error (NPIPE_EBUSY ...). */
static int open_once(const char *bare, size_t blen, unsigned access, int seg_fd,
                     struct np_seg_hdr *seg, size_t seg_size, npipe_t **ret, uint32_t *want_cap,
                     const struct np_remote_id *rid, int64_t deadline)
{
        struct npipe *h = handle_new(0);
        if (!h)
                return NPIPE_ENOMEM;
        struct np_open_remote rbody;
        struct np_open *body = &rbody.open;
        memset(body, 0, sizeof(*body));
        body->access = (access & NPIPE_READ ? NP_ACCESS_READ : 0) |
                       (access & NPIPE_WRITE ? NP_ACCESS_WRITE : 0);
        body->name_len = (uint32_t)blen;
        if (rid)
                rbody.id = *rid;
        struct np_open_reply rep;
        struct reg_ctx rc = {h, 0};
        h->state = NPIPE_STATE_CONNECTED;
        struct np_request req = {.type = rid ? NP_MSG_OPEN_REMOTE : NP_MSG_OPEN, .body = &rbody,
                                 .body_len = rid ? sizeof(rbody) : sizeof(*body), .name = bare,
                                 .name_len = blen, .fd = seg_fd, .reply = &rep,
                                 .reply_cap = sizeof(rep), .fn = register_on_reply, .fn_ctx = &rc,
                                 .deadline = deadline};
        int r = np_broker_call(&req);
        if (r == 0 && (req.reply_type != NP_MSG_OPEN_REPLY || req.reply_len < sizeof(rep))) {
                struct np_reply *plain = (struct np_reply *)(void *)&rep;
                r = req.reply_len >= sizeof(*plain) && plain->status < 0 ? plain->status
                                                                           : NPIPE_EPROTO;
        } else if (r == 0) {
                r = rep.status;
        }
        if (r == NPIPE_EBUFFER && req.reply_type == NP_MSG_OPEN_REPLY &&
            req.reply_len >= sizeof(rep))
                *want_cap = pow2_at_least(2ull * rep.params.in_quota);
        if (r < 0) {
                if (req.reply_fd >= 0)
                        close(req.reply_fd);
                pthread_mutex_lock(&reg_lock);
                if (h->id)
                        reg_del(h);
                pthread_mutex_unlock(&reg_lock);
                handle_free(h);
                return r;
        }
        struct conn *c = conn_new(seg, seg_size, req.reply_fd, NP_ROLE_SERVER, rep.conn_id);
        if (c)
                c->peer_local = (pid_t)rep.server_pid == np_self_pid();
        if (!c) {
                pthread_mutex_lock(&reg_lock);
                reg_del(h);
                pthread_mutex_unlock(&reg_lock);
                handle_free(h);
                struct np_end_req end = {.id = rep.conn_id, .conn_id = rep.conn_id};
                np_broker_post(NP_MSG_CLOSE_CLIENT, &end, sizeof(end), -1);
                return NPIPE_ENOMEM;
        }
        h->name = strndup(bare, blen);
        h->params = rep.params;
        h->instance_id = rep.instance_id;
        if (rid) {
                /* the broker granted what the direction allows */
                access = (rep.params.dir & NPIPE_INBOUND ? NPIPE_WRITE : 0) |
                         (rep.params.dir & NPIPE_OUTBOUND ? NPIPE_READ : 0);
                body->access = (access & NPIPE_READ ? NP_ACCESS_READ : 0) |
                               (access & NPIPE_WRITE ? NP_ACCESS_WRITE : 0);
        }
        h->access = body->access;
        h->server_pid = (pid_t)rep.server_pid;
        h->client_pid = np_self_pid();
        h->peer_uid = rep.server_uid;
        h->peer_gid = rep.server_gid;
        h->can_read = (access & NPIPE_READ) != 0;
        h->can_write = (access & NPIPE_WRITE) != 0;
        /* GENERIC_WRITE includes FILE_WRITE_ATTRIBUTES; GENERIC_READ does
         * not.  The relay must set message read mode on any pipe. */
        h->can_set_mode = rid || (access & (NPIPE_WRITE | NPIPE_WRITE_ATTRIBUTES)) != 0;
        /* OPEN-05: a client starts in byte read mode, blocking */
        atomic_store(&h->read_mode, NPIPE_READ_BYTE);
        atomic_store(&h->nowait, 0);
        pthread_mutex_lock(&h->lock);
        h->conn = c;
        if (h->early_gone)
                atomic_store(&c->gone, h->early_gone);
        pthread_mutex_unlock(&h->lock);
        *ret = np_handle_value(h);
        return 0;
}

NPIPE_EXTERN int npipe_wait(const char *name, int timeout_ms)
{
        const char *bare;
        size_t blen;
        int r = np_name_parse(name, &bare, &blen);
        if (r < 0)
                return r == NPIPE_EBADNAME ? NPIPE_EBADPATH : r;
        struct np_wait body = {.name_len = (uint32_t)blen};
        if (timeout_ms == NPIPE_WAIT_DEFAULT)
                body.timeout_ms = NP_WAIT_DEFAULT;
        else if (timeout_ms < 0)
                body.timeout_ms = NP_WAIT_FOREVER;
        else
                body.timeout_ms = (uint32_t)timeout_ms;
        /* the broker times the wait; we bound our wait for its answer by
         * the same timeout (a stopped broker), except for the pipe's
         * default, which only the broker knows, and forever */
        int64_t deadline = timeout_ms >= 0 ? np_broker_deadline(timeout_ms) : -1;
        return np_broker_status_until(NP_MSG_WAIT, &body, sizeof(body), bare, blen, -1,
                                      deadline);
}

/* One open with a fresh client segment of *cap bytes, again with a larger
 * one when the broker says the quota needs it (NPIPE_EBUFFER). */
static int open_sized(const char *bare, size_t blen, unsigned access,
                      const struct np_remote_id *rid, uint32_t *cap, npipe_t **ret,
                      int64_t deadline)
{
        for (;;) {
                struct np_seg_hdr *seg;
                size_t seg_size;
                uint32_t want_cap = 0;
                int fd = seg_create(*cap, NP_ROLE_CLIENT, &seg, &seg_size);
                if (fd < 0)
                        return fd;
                int r = open_once(bare, blen, access, fd, seg, seg_size, ret, &want_cap, rid,
                                  deadline);
                close(fd);
                if (r < 0)
                        munmap(seg, seg_size);
                if (r != NPIPE_EBUFFER || want_cap <= *cap)
                        return r;
                *cap = want_cap; /* the quota is larger than our ring */
        }
}

NPIPE_EXTERN int npipe_open(const char *name, unsigned access, int timeout_ms, npipe_t **ret)
{
        const char *bare;
        size_t blen;
        if (!ret || (access & ~(NPIPE_READ | NPIPE_WRITE | NPIPE_WRITE_ATTRIBUTES)))
                return NPIPE_EINVAL;
        int r = np_name_parse(name, &bare, &blen);
        if (r < 0)
                return r;
        uint32_t cap = DEFAULT_CLIENT_RING;
        const char *env = np_env("NPIPE_RING_SIZE");
        if (env)
                cap = pow2_at_least(strtoull(env, NULL, 0));
        int64_t deadline = deadline_of(timeout_ms);
        /* a stopped broker: the timeout bounds the wait for it too */
        int64_t bdl = np_broker_deadline(timeout_ms);
        for (;;) {
                r = open_sized(bare, blen, access, NULL, &cap, ret, bdl);
                if (r != NPIPE_EBUSY || timeout_ms == 0)
                        return r;
                int64_t rem = remaining(deadline);
                if (deadline >= 0 && rem == 0)
                        return NPIPE_ETIMEDOUT;
                int w = npipe_wait(name, deadline < 0 ? NPIPE_INFINITE
                                                     : (int)((rem + 999999) / 1000000));
                if (w < 0)
                        return w;
        }
}

int np_open_remote(const char *name, const struct np_remote_id *id, npipe_t **ret)
{
        /* the broker's own spelling of a pipe it has: no \\.\pipe\ prefix */
        uint32_t cap = DEFAULT_CLIENT_RING;
        return open_sized(name, strlen(name), 0, id, &cap, ret, 0);
}

int np_remote_write_error(struct npipe *h, size_t len)
{
        /* u16 framing, and smbd treats an empty frame as an error
         * (docs/remote.md): refuse here, the stream stays intact */
        if (h->server && h->params.type == NPIPE_TYPE_MESSAGE &&
            __atomic_load_n(&h->remote, __ATOMIC_ACQUIRE) != NULL && (len == 0 || len > 65535))
                return NPIPE_EMSGSIZE;
        return 0;
}

_Static_assert(NPIPE_EXPOSED == NP_REMOTE_EXPOSED && NPIPE_EXPOSE_OFF == NP_REMOTE_OFF &&
                   NPIPE_EXPOSE_REJECTED == NP_REMOTE_REJECTED &&
                   NPIPE_EXPOSE_NOT_ALLOWED == NP_REMOTE_NOT_ALLOWED &&
                   NPIPE_EXPOSE_RESERVED == NP_REMOTE_RESERVED &&
                   NPIPE_EXPOSE_BAD_NAME == NP_REMOTE_BAD_NAME &&
                   NPIPE_EXPOSE_COLLISION == NP_REMOTE_COLLISION &&
                   NPIPE_EXPOSE_TAKEN == NP_REMOTE_TAKEN && NPIPE_EXPOSE_LIMIT == NP_REMOTE_LIMIT,
               "npipe_exposure is the protocol's NP_REMOTE_*");

NPIPE_EXTERN int npipe_remote_exposure(npipe_t *hv, enum npipe_exposure *ret)
{
        if (!ret)
                return NPIPE_EBUFFER;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        if (!h->server) {
                np_h_put(h);
                return NPIPE_EFUNCTION;
        }
        *ret = (enum npipe_exposure)h->exposure;
        np_h_put(h);
        return 0;
}

NPIPE_EXTERN const char *npipe_exposure_text(enum npipe_exposure e)
{
        switch (e) {
        case NPIPE_EXPOSED:
                return "remote clients can reach it";
        case NPIPE_EXPOSE_OFF:
                return "the broker serves no remote clients";
        case NPIPE_EXPOSE_REJECTED:
                return "it rejects remote clients";
        case NPIPE_EXPOSE_NOT_ALLOWED:
                return "the administrator has not allowed its owner or name (npiped "
                       "--remote-allow)";
        case NPIPE_EXPOSE_RESERVED:
                return "the name is one of Samba's own RPC pipes";
        case NPIPE_EXPOSE_BAD_NAME:
                return "the name cannot be a socket name in Samba's np directory";
        case NPIPE_EXPOSE_COLLISION:
                return "another pipe maps to the same Samba socket name";
        case NPIPE_EXPOSE_TAKEN:
                return "Samba's np directory already has an entry of that name";
        case NPIPE_EXPOSE_LIMIT:
                return "a limit of the broker was reached";
        }
        return "unknown";
}

NPIPE_EXTERN int npipe_remote_client(npipe_t *hv, struct npipe_remote_client *ret)
{
        if (!ret)
                return NPIPE_EBUFFER;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        if (!h->server) {
                np_h_put(h);
                return NPIPE_EFUNCTION;
        }
        sync_listening(h);
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (st != NPIPE_STATE_CONNECTED && st != NPIPE_STATE_CLOSING) {
                np_h_put(h);
                return NPIPE_ENOTCONN;
        }
        pthread_mutex_lock(&h->lock);
        const struct np_remote_id *id = h->remote;
        if (!id) {
                r = NPIPE_ELOCAL;
        } else {
                memset(ret, 0, sizeof(*ret));
                ret->flags = id->flags;
                ret->uid = id->uid;
                ret->gid = id->gid;
                ret->ngroups = id->ngroups;
                for (uint32_t k = 0; k < id->ngroups && k < 32; k++)
                        ret->groups[k] = id->groups[k];
                snprintf(ret->user, sizeof(ret->user), "%s", np_remote_id_string(id, 0));
                snprintf(ret->domain, sizeof(ret->domain), "%s", np_remote_id_string(id, 1));
                snprintf(ret->client_addr, sizeof(ret->client_addr), "%s",
                         np_remote_id_string(id, 2));
                snprintf(ret->server_addr, sizeof(ret->server_addr), "%s",
                         np_remote_id_string(id, 3));
                ret->client_port = id->client_port;
                ret->server_port = id->server_port;
                ret->nsids = id->nsids;
                for (uint32_t k = 0; k < id->nsids && k < NPIPE_REMOTE_MAX_SIDS; k++)
                        snprintf(ret->sids[k], sizeof(ret->sids[k]), "%s",
                                 np_remote_id_string(id, 4 + k));
        }
        pthread_mutex_unlock(&h->lock);
        np_h_put(h);
        return r;
}

/* ---- listen / disconnect ---------------------------------------------------------------- */

NPIPE_EXTERN int npipe_listen(npipe_t *hv, int timeout_ms)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        if (!h->server) {
                np_h_put(h);
                return NPIPE_EFUNCTION; /* CONNECT-07 */
        }
        int64_t deadline = deadline_of(timeout_ms);
        if (atomic_load(&h->nowait) || timeout_ms == 0)
                sync_listening(h); /* CONNECT-08: a client that is there counts */
        pthread_mutex_lock(&h->op);
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (st == NPIPE_STATE_CONNECTED) {
                r = NPIPE_EISCONN; /* CONNECT-02 */
        } else if (st == NPIPE_STATE_CLOSING) {
                r = NPIPE_ECLOSING; /* CONNECT-06 */
        } else if (st == NPIPE_STATE_DISCONNECTED) {
                /* STATE-05: back to listening with a fresh segment */
                struct np_seg_hdr *seg;
                size_t sz;
                uint32_t cap = server_ring_cap(h->params.out_quota);
                int fd = seg_create(cap, NP_ROLE_SERVER, &seg, &sz);
                if (fd < 0) {
                        r = fd;
                } else {
                        pthread_mutex_lock(&h->lock);
                        h->listen_seg = seg;
                        h->listen_size = sz;
                        h->state = NPIPE_STATE_LISTENING;
                        pthread_mutex_unlock(&h->lock);
                        /* A listen that blocks is posted, not called:
                         * our state decides every answer (CONNECT-02/06
                         * above), the broker sees the DISCONNECT before
                         * it on the same socket, and a broker lost later
                         * is told by adoption, which registers the
                         * instance as listening.  The round trip was two
                         * wakes per connection.  One that returns at once
                         * (NOWAIT, timeout 0, the overlapped listen) is
                         * called: its caller may then tell a client to
                         * open, whose OPEN travels on another socket and
                         * must find the instance listening (test_open,
                         * OPEN-07).  With no session, call too: that
                         * starts one, or says why it cannot. */
                        struct np_instance_req body = {h->id};
                        int quick = atomic_load(&h->nowait) || timeout_ms == 0;
                        r = quick ? NPIPE_EBROKER
                                  : np_broker_post(NP_MSG_LISTEN, &body, sizeof(body), fd);
                        if (r < 0)
                                r = np_broker_status(NP_MSG_LISTEN, &body, sizeof(body), NULL,
                                                     0, fd);
                        close(fd);
                        if (r < 0) {
                                pthread_mutex_lock(&h->lock);
                                if (h->listen_seg == seg) {
                                        h->listen_seg = NULL;
                                        h->state = NPIPE_STATE_DISCONNECTED;
                                        munmap(seg, sz);
                                }
                                pthread_mutex_unlock(&h->lock);
                        } else {
                                r = 1; /* listening: wait below */
                        }
                }
                /* CONNECT-08: a non-blocking server reports "listening" */
                if (r == 1 && atomic_load(&h->nowait))
                        r = NPIPE_ELISTENING;
        } else {
                r = atomic_load(&h->nowait) ? NPIPE_ELISTENING : 1;
        }
        pthread_mutex_unlock(&h->op);

        while (r == 1) {
                uint32_t ev = atomic_load(&h->ev);
                pthread_mutex_lock(&h->lock);
                int s = h->state, closed = h->closed;
                pthread_mutex_unlock(&h->lock);
                if (s == NPIPE_STATE_CONNECTED) {
                        r = 0;
                        break;
                }
                if (closed) {
                        r = NPIPE_EPIPE; /* CONNECT-14 */
                        break;
                }
                if (s != NPIPE_STATE_LISTENING) {
                        r = NPIPE_ENOTCONN; /* disconnected while listening */
                        break;
                }
                int64_t rem = remaining(deadline);
                if (rem == 0) {
                        r = NPIPE_ETIMEDOUT;
                        break;
                }
                np_futex_wait(&h->ev, ev, 0, rem);
        }
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_disconnect(npipe_t *hv)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        if (!h->server) {
                np_h_put(h);
                return NPIPE_EFUNCTION; /* DISC-07 */
        }
        pthread_mutex_lock(&h->op);
        pthread_mutex_lock(&h->lock);
        struct conn *c = h->conn;
        struct np_seg_hdr *lseg = h->listen_seg;
        size_t lsz = h->listen_size;
        int st = h->state;
        if (st == NPIPE_STATE_DISCONNECTED) {
                pthread_mutex_unlock(&h->lock);
                pthread_mutex_unlock(&h->op);
                np_h_put(h);
                return NPIPE_ENOTCONN; /* DISC-03 */
        }
        h->conn = NULL;
        h->listen_seg = NULL;
        h->state = NPIPE_STATE_DISCONNECTED;
        pthread_mutex_unlock(&h->lock);
        if (c) {
                /* DISC-01/02: both ends lose everything, at once */
                atomic_store_explicit(&c->own->state, NP_SEG_DISCONNECTED, memory_order_release);
                atomic_fetch_add(&c->own->seq, 1);
                np_futex_wake(&c->own->seq, 1, INT_MAX);
                atomic_store(&c->gone, NP_GONE_DISCONNECTED);
                wake_own_sleepers(c);
                np_async_note_local(c); /* a local peer's pending I/O fails now */
        }
        np_bump_ev(h); /* pending listens end (CONNECT-14) */
        struct np_end_req body;
        end_req(h, c, &body);
        if (st == NPIPE_STATE_LISTENING) {
                /* Once we return, no client may take the instance: wait
                 * until the broker took it out of the listen queue. */
                (void)np_broker_status(NP_MSG_DISCONNECT, &body, sizeof(body), NULL, 0, -1);
        } else {
                /* A connected instance is nobody else's to take, and the
                 * client already sees the disconnect in shared memory;
                 * our later requests (LISTEN) follow this one on the same
                 * socket.  So no round trip: a server that disconnects
                 * and listens again pays one, not two. */
                np_broker_post(NP_MSG_DISCONNECT, &body, sizeof(body), -1);
        }
        pthread_mutex_unlock(&h->op);
        np_conn_put(c);
        if (lseg)
                munmap(lseg, lsz);
        np_h_put(h);
        /* The broker's view follows ours; a broker that is gone has
         * forgotten the instance anyway. */
        return 0;
}

NPIPE_EXTERN int npipe_close(npipe_t *value)
{
        struct npipe *h;
        int r = np_h_enter(value, &h);
        if (r < 0)
                return r;
        pthread_mutex_lock(&h->op);
        pthread_mutex_lock(&reg_lock);
        pthread_mutex_lock(&h->lock);
        if (h->closed) {
                /* another thread's close came first */
                pthread_mutex_unlock(&h->lock);
                pthread_mutex_unlock(&reg_lock);
                pthread_mutex_unlock(&h->op);
                np_handle_leave(h);
                return NPIPE_EBADF;
        }
        __atomic_store_n(&h->closed, 1, __ATOMIC_SEQ_CST);
        np_handle_retire(h); /* no call finds the handle any more */
        if (h->id)
                reg_del(h);
        struct conn *c = h->conn;
        struct np_seg_hdr *lseg = h->listen_seg;
        size_t lsz = h->listen_size;
        h->conn = NULL;
        h->listen_seg = NULL;
        pthread_mutex_unlock(&h->lock);
        pthread_mutex_unlock(&reg_lock);

        /* Pending overlapped operations end now, with "cancelled": before
         * the connection is marked closed below, which the completion
         * thread would otherwise report as the pipe broken. */
        np_async_handle_closed(h);
        if (c) {
                /* CLOSE-01/02: what we wrote stays readable; the peer sees
                 * "closing" after it */
                atomic_store_explicit(&c->own->state, NP_SEG_CLOSED, memory_order_release);
                atomic_fetch_add(&c->own->seq, 1);
                np_futex_wake(&c->own->seq, 1, INT_MAX);
                int zero = 0;
                atomic_compare_exchange_strong(&c->gone, &zero, NP_GONE_CLOSED);
                wake_own_sleepers(c);
                np_async_note_local(c); /* a local peer's pending I/O ends now */
        }
        np_bump_ev(h);
        struct np_end_req end;
        end_req(h, c, &end);
        if (h->server) {
                /* NAME-17: once the last server handle is closed the name is
                 * gone for everybody, so wait for the broker to have done it */
                (void)np_broker_status_until(NP_MSG_CLOSE_SERVER, &end, sizeof(end), NULL, 0,
                                             -1, np_now_ns() + NP_BROKER_CLOSE_MS * 1000000ll);
        } else if (c)
                np_broker_post(NP_MSG_CLOSE_CLIENT, &end, sizeof(end), -1);
        pthread_mutex_unlock(&h->op);

        /* wait for calls still running in other threads to leave (ours
         * is the one left) */
        np_handle_leave(h);
        for (;;) {
                uint32_t seen;
                if (np_handle_calls(h, &seen) == 0)
                        break;
                if (c)
                        wake_own_sleepers(c);
                np_bump_ev(h);
                np_handle_wait(h, seen, 10000000);
        }
        np_conn_put(c);
        if (lseg)
                munmap(lseg, lsz);
        handle_free(h);
        np_async_settle();
        return 0;
}

/* ---- read / write ------------------------------------------------------------------------ */

/* Common entry of data operations: the connection, or the state error. */
static int query(struct npipe *h, struct np_query_reply *rep);

/* A server end that still looks LISTENING may have a client already: the
 * broker tells us with an event, and a client's open returns as soon as
 * the broker answered it, maybe before our event thread has run.  A
 * round trip to the broker settles it: its reply comes after that event
 * (OPEN-07).  Costs nothing in the connected state. */
static void sync_listening(struct npipe *h)
{
        if (!h->server)
                return;
        pthread_mutex_lock(&h->lock);
        int listening = h->state == NPIPE_STATE_LISTENING;
        pthread_mutex_unlock(&h->lock);
        if (listening) {
                struct np_query_reply q;
                (void)query(h, &q);
        }
}

static void data_entry(struct npipe *h, struct conn **ret, int *st)
{
        sync_listening(h);
        struct conn *c = np_conn_get(h);
        *st = np_end_state(h, c);
        *ret = c;
}

int np_peer_closed_state(struct npipe *h, struct conn *c, int *disconnected)
{
        int gone = atomic_load(&c->gone);
        uint32_t ps = atomic_load_explicit(&c->peer->state, memory_order_acquire);
        *disconnected = gone == NP_GONE_DISCONNECTED || (!h->server && ps == NP_SEG_DISCONNECTED);
        return gone || ps != NP_SEG_OPEN || atomic_load(&c->corrupt);
}

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

/* Read with h->rd held while consuming.  The lock is dropped while we
 * sleep for data, so peeks and other readers are not held up, except in
 * the middle of a message that is still streaming in: that one read owns
 * the message until it is complete (never torn between readers). */
static int read_locked(struct npipe *h, struct conn *c, void *buf, size_t len, size_t *nread,
                       int force_msg, int nowait, int64_t deadline)
{
        size_t done = 0;
        uint64_t wanting = 0; /* what we added to rwant while blocked */
        int r;
        note_cpu(c);
        for (;;) {
                uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
                int disc;
                int closed = np_peer_closed_state(h, c, &disc);
                if (disc) {
                        r = NPIPE_ENOTCONN;
                        break;
                }
                if (atomic_load(&c->corrupt)) {
                        r = NPIPE_EPIPE;
                        break;
                }
                /* MODE-11: the read mode when the read is satisfied counts */
                int msg_mode = force_msg || (atomic_load(&h->read_mode) == NPIPE_READ_MESSAGE &&
                                             h->params.type == NPIPE_TYPE_MESSAGE);
                int rr = np_conn_read(c, buf, len, msg_mode, &done);
                if (rr == NP_RING_OK || rr == NP_RING_MORE) {
                        np_wake_writer(c);
                        r = rr == NP_RING_OK ? 0 : NPIPE_EMOREDATA;
                        break;
                }
                if (rr == NP_RING_CORRUPT) {
                        atomic_store(&c->corrupt, 1);
                        r = NPIPE_EPIPE;
                        break;
                }
                if (done)
                        np_wake_writer(c);
                if (closed) {
                        /* All the peer wrote is consumed (it published before
                         * closing).  Bytes are bytes; a message cut short is
                         * lost, never delivered torn. */
                        r = !msg_mode && done ? 0 : NPIPE_EPIPE;
                        if (msg_mode)
                                done = 0;
                        break;
                }
                if (nowait && rr == NP_RING_EMPTY) {
                        r = NPIPE_EAGAIN; /* NOWAIT-01 */
                        break;
                }
                if (nowait && !msg_mode && done) {
                        r = 0; /* non-blocking: what is there */
                        break;
                }
                int keep = rr == NP_RING_PARTIAL;
                if (!wanting && len > done) {
                        /* NOWAIT-04/05: a non-blocking writer may hand us this much */
                        wanting = len - done;
                        atomic_fetch_add(&c->own->rwant, wanting);
                }
                if (!keep)
                        pthread_mutex_unlock(&h->rd);
                int w = conn_wait(c, seq, 0, deadline);
                if (!keep)
                        pthread_mutex_lock(&h->rd);
                /* a cancel (CancelSynchronousIo) ends the read as a timeout does */
                if (w == NPIPE_ECANCELED ||
                    (w == NPIPE_ETIMEDOUT &&
                     atomic_load_explicit(&c->peer->seq, memory_order_acquire) == seq)) {
                        if (!msg_mode && done) {
                                r = 0; /* bytes are bytes: deliver what we took */
                                break;
                        }
                        /* the part of a message still streaming in that we
                         * took goes back to the head of the queue */
                        if (done)
                                np_conn_stash(c, buf, done);
                        done = 0;
                        r = w;
                        break;
                }
        }
        if (wanting)
                atomic_fetch_sub(&c->own->rwant, wanting);
        *nread = done;
        return r;
}

/* Why a read or a write cannot start in state `st` (STATE-09/10, CLOSE-04),
 * or 0: one rule for the blocking calls and the overlapped ones. */
int np_read_state_error(struct npipe *h, int st)
{
        if (st == NPIPE_STATE_LISTENING)
                return NPIPE_ELISTENING; /* STATE-09 */
        if (st == NPIPE_STATE_DISCONNECTED)
                return NPIPE_ENOTCONN; /* STATE-10 */
        if (!h->can_read)
                return NPIPE_EACCES;
        return 0;
}

int np_write_state_error(struct npipe *h, int st)
{
        if (st == NPIPE_STATE_LISTENING)
                return NPIPE_ELISTENING;
        if (st == NPIPE_STATE_DISCONNECTED)
                return NPIPE_ENOTCONN;
        if (!h->can_write)
                return NPIPE_EACCES;
        if (st == NPIPE_STATE_CLOSING)
                return NPIPE_ECLOSING; /* CLOSE-04 */
        return 0;
}

/* Synchronous reads are served in arrival order (ORDER-01, MSG-14): only
 * the reader at the head of the queue reads; the others sleep on their own
 * word until it is their turn. */
static int turn_enter(struct npipe *h, struct np_turn *t, int64_t deadline)
{
        t->next = NULL;
        atomic_store(&t->go, 0);
        pthread_mutex_lock(&h->lock);
        if (h->rdq_tail)
                h->rdq_tail->next = t;
        else
                h->rdq_head = t;
        h->rdq_tail = t;
        if (h->rdq_head == t)
                atomic_store(&t->go, 1);
        pthread_mutex_unlock(&h->lock);
        while (!atomic_load(&t->go)) {
                int64_t rem = remaining(deadline);
                int cancelled = np_synccancel_arm(&t->go, 0);
                if (rem == 0 || cancelled) {
                        /* leave the queue; being at the head now is fine too */
                        pthread_mutex_lock(&h->lock);
                        if (atomic_load(&t->go)) {
                                pthread_mutex_unlock(&h->lock);
                                return 0;
                        }
                        struct np_turn *prev = NULL;
                        for (struct np_turn *x = h->rdq_head; x; prev = x, x = x->next)
                                if (x == t) {
                                        if (prev)
                                                prev->next = t->next;
                                        else
                                                h->rdq_head = t->next;
                                        if (h->rdq_tail == t)
                                                h->rdq_tail = prev;
                                        break;
                                }
                        pthread_mutex_unlock(&h->lock);
                        np_synccancel_disarm();
                        return cancelled ? NPIPE_ECANCELED : NPIPE_ETIMEDOUT;
                }
                np_futex_wait(&t->go, 0, 0, rem);
                np_synccancel_disarm(); /* a cancel is seen at the next arm */
        }
        return 0;
}

static void turn_leave(struct npipe *h, struct np_turn *t)
{
        pthread_mutex_lock(&h->lock);
        h->rdq_head = t->next;
        if (!h->rdq_head)
                h->rdq_tail = NULL;
        struct np_turn *next = h->rdq_head;
        if (next) {
                atomic_store(&next->go, 1);
                np_futex_wake(&next->go, 0, 1);
        }
        pthread_mutex_unlock(&h->lock);
}

static int do_read(npipe_t *hv, void *buf, size_t len, size_t *nread, int timeout_ms)
{
        size_t dummy;
        if (!nread)
                nread = &dummy;
        *nread = 0;
        if (!buf && len)
                return NPIPE_EINVAL;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c;
        int st;
        data_entry(h, &c, &st);
        r = np_read_state_error(h, st);
        if (r == 0) {
                int64_t deadline = deadline_of(timeout_ms);
                struct np_turn t;
                r = turn_enter(h, &t, deadline);
                if (r == 0) {
                        pthread_mutex_lock(&h->rd);
                        r = read_locked(h, c, buf, len, nread, 0, atomic_load(&h->nowait),
                                        deadline);
                        pthread_mutex_unlock(&h->rd);
                        turn_leave(h, &t);
                }
        }
        np_conn_put(c);
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_read(npipe_t *h, void *buf, size_t len, size_t *nread)
{
        return do_read(h, buf, len, nread, NPIPE_INFINITE);
}

NPIPE_EXTERN int npipe_read_timeout(npipe_t *h, void *buf, size_t len, size_t *nread,
                                    int timeout_ms)
{
        return do_read(h, buf, len, nread, timeout_ms);
}

uint32_t np_write_quota(struct npipe *h)
{
        /* QUOTA-01: server writes go outbound, client writes inbound */
        return h->server ? h->params.out_quota : h->params.in_quota;
}

/* Wait until the unread bytes up to `target` (our wbytes after the write)
 * fit the quota (QUOTA-03), or the pipe ends. */
static int wait_quota(struct npipe *h, struct conn *c, uint64_t target, uint64_t quota,
                      int64_t deadline)
{
        for (;;) {
                uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
                int disc;
                int closed = np_peer_closed_state(h, c, &disc);
                uint64_t rb = atomic_load_explicit(&c->peer->rbytes, memory_order_acquire);
                pthread_mutex_lock(&h->wr);
                uint64_t wb = c->prod.wbytes;
                int64_t unread = np_prod_unread(&c->prod);
                pthread_mutex_unlock(&h->wr);
                if (rb > wb || unread < 0) {
                        atomic_store(&c->corrupt, 1);
                        return NPIPE_EPIPE;
                }
                /* unread bytes up to our write, less cancelled writes' (QUOTA-07) */
                uint64_t aborted = (wb - rb) - (uint64_t)unread;
                uint64_t upto = target > rb ? target - rb : 0;
                upto = upto > aborted ? upto - aborted : 0;
                if (upto <= quota)
                        return 0;
                if (disc)
                        return NPIPE_ENOTCONN; /* DISC-02 */
                if (closed)
                        return NPIPE_EPIPE; /* CLOSE-07 */
                /* the consumer must pass target - quota (less what was cancelled) */
                uint64_t need = rb + (upto - quota);
                int w = conn_wait(c, seq, need, deadline);
                if (w == NPIPE_ECANCELED)
                        return w;
                if (w == NPIPE_ETIMEDOUT &&
                    atomic_load_explicit(&c->peer->seq, memory_order_acquire) == seq)
                        return NPIPE_ETIMEDOUT;
        }
}

/* Put len bytes into the ring (streaming when needed).  Called with h->wr.
 * *first: the ring position where the message starts (for np_prod_abort). */
static int write_ring(struct npipe *h, struct conn *c, const void *buf, size_t len,
                      int64_t deadline, uint64_t *first)
{
        size_t done = 0;
        *first = np_prod_pos(&c->prod);
        note_cpu(c);
        for (;;) {
                uint32_t seq = atomic_load_explicit(&c->peer->seq, memory_order_seq_cst);
                int disc;
                int closed = np_peer_closed_state(h, c, &disc);
                if (disc)
                        return NPIPE_ENOTCONN;
                if (closed)
                        return done ? NPIPE_EPIPE : NPIPE_ECLOSING;
                int r = NP_RING_FULL;
                /* an async write is streaming a large message: wait our turn */
                if (!c->stream_owner) {
                        if (done == 0)
                                *first = np_prod_pos(&c->prod);
                        r = np_prod_write(&c->prod, buf, len, &done);
                }
                np_wake_reader(c);
                if (r == NP_RING_OK)
                        return 0;
                if (r == NP_RING_CORRUPT) {
                        atomic_store(&c->corrupt, 1);
                        return NPIPE_EPIPE;
                }
                /* no room: any consumption frees some, also of empty
                 * messages (which move no bytes: mark 0) */
                int w = conn_wait_for(c, seq, 1, 0, deadline);
                if (w == NPIPE_ECANCELED) {
                        /* QUOTA-07: what the reader has not taken of a
                         * message still streaming in vanishes */
                        if (done)
                                np_prod_abort(&c->prod, *first, 0, 1);
                        np_wake_reader(c);
                        return w;
                }
                if (w == NPIPE_ETIMEDOUT &&
                    atomic_load_explicit(&c->peer->seq, memory_order_acquire) == seq)
                        return NPIPE_ETIMEDOUT;
        }
}

/* flags for do_write */
#define W_NO_QUOTA_WAIT 0x1 /* TRANS-05 */
#define W_BLOCKING 0x2      /* ignore the handle's PIPE_NOWAIT */

static int write_conn(struct npipe *h, struct conn *c, const void *buf, size_t len,
                      size_t *nwritten, int flags, int64_t deadline)
{
        int nowait = !(flags & W_BLOCKING) && atomic_load(&h->nowait);
        int msg_pipe = h->params.type == NPIPE_TYPE_MESSAGE;
        uint64_t quota = np_write_quota(h);
        *nwritten = 0;
        if (len > NP_MSG_MAX)
                return NPIPE_EINVAL;
        if (len == 0 && !msg_pipe)
                return 0; /* ZERO-03: nothing is queued on a byte pipe */

        pthread_mutex_lock(&h->wr);
        if (nowait) {
                /* NOWAIT-04/05: all or (message) nothing, (byte) what readers take */
                int64_t unread = np_prod_unread(&c->prod);
                int64_t room = np_prod_room(&c->prod);
                uint64_t want = atomic_load_explicit(&c->peer->rwant, memory_order_acquire);
                if (unread < 0 || room < 0) {
                        pthread_mutex_unlock(&h->wr);
                        atomic_store(&c->corrupt, 1);
                        return NPIPE_EPIPE;
                }
                if (want > NP_MSG_MAX)
                        want = NP_MSG_MAX;
                uint64_t free_quota = (uint64_t)unread < quota ? quota - (uint64_t)unread : 0;
                uint64_t fits = free_quota + want;
                if ((uint64_t)room < fits)
                        fits = (uint64_t)room;
                if (len > fits) {
                        if (msg_pipe) {
                                pthread_mutex_unlock(&h->wr);
                                return 0;
                        }
                        len = (size_t)(want < (uint64_t)room ? want : (uint64_t)room);
                        if (len > fits)
                                len = (size_t)fits;
                        if (len == 0) {
                                pthread_mutex_unlock(&h->wr);
                                return 0;
                        }
                }
        }
        uint64_t first;
        int r = write_ring(h, c, buf, len, deadline, &first);
        uint64_t target = c->prod.wbytes, end = np_prod_pos(&c->prod);
        /* The common case, decided while we hold the lock anyway: the
         * unread bytes up to ours are within the quota (wait_quota's
         * first test, without taking h->wr again). */
        int fits = 0;
        if (r == 0) {
                uint64_t rb = atomic_load_explicit(&c->peer->rbytes, memory_order_acquire);
                int64_t unread = np_prod_unread(&c->prod);
                fits = rb <= target && unread >= 0 && (uint64_t)unread <= quota &&
                       target - rb <= quota;
        }
        pthread_mutex_unlock(&h->wr);
        if (r < 0)
                return r;
        /* ZERO-01: an empty message completes at once; so does a
         * non-blocking write, which only wrote what fits */
        if (len && !nowait && !fits && !(flags & W_NO_QUOTA_WAIT)) {
                r = wait_quota(h, c, target, quota, deadline);
                if (r == NPIPE_ECANCELED) {
                        /* QUOTA-07: the write's unread bytes vanish, and a
                         * FlushFileBuffers of ours waits for them no more
                         * (CANCEL-07; it sleeps on the peer's seq) */
                        pthread_mutex_lock(&h->wr);
                        np_prod_abort(&c->prod, first, end, 0);
                        pthread_mutex_unlock(&h->wr);
                        np_wake_reader(c);
                        np_futex_wake(&c->peer->seq, 1, INT_MAX);
                }
                if (r < 0)
                        return r;
        }
        *nwritten = len;
        return 0;
}

static int do_write(npipe_t *hv, const void *buf, size_t len, size_t *nwritten,
                    int timeout_ms)
{
        size_t dummy;
        if (!nwritten)
                nwritten = &dummy;
        *nwritten = 0;
        if (!buf && len)
                return NPIPE_EINVAL;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c;
        int st;
        data_entry(h, &c, &st);
        r = np_write_state_error(h, st);
        if (r == 0)
                r = np_remote_write_error(h, len);
        if (r == 0)
                r = write_conn(h, c, buf, len, nwritten, 0, deadline_of(timeout_ms));
        np_conn_put(c);
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_write(npipe_t *h, const void *buf, size_t len, size_t *nwritten)
{
        return do_write(h, buf, len, nwritten, NPIPE_INFINITE);
}

NPIPE_EXTERN int npipe_write_timeout(npipe_t *h, const void *buf, size_t len,
                                     size_t *nwritten, int timeout_ms)
{
        return do_write(h, buf, len, nwritten, timeout_ms);
}

/* ---- peek, transact, flush --------------------------------------------------------------- */

NPIPE_EXTERN int npipe_peek(npipe_t *hv, void *buf, size_t len, struct npipe_peek *ret)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct npipe_peek out = {0};
        struct conn *c;
        int st;
        data_entry(h, &c, &st);
        if (st == NPIPE_STATE_LISTENING || (st == NPIPE_STATE_DISCONNECTED && h->server))
                r = NPIPE_EBADPIPE; /* STATE-09/10, PEEK-07 */
        else if (st == NPIPE_STATE_DISCONNECTED)
                r = NPIPE_ENOTCONN;
        else if (!h->can_read)
                r = NPIPE_EACCES; /* PEEK-14 */
        else {
                struct np_peek_result pr;
                pthread_mutex_lock(&h->rd);
                int closed = st == NPIPE_STATE_CLOSING;
                /* what a timed-out read carried back comes first */
                size_t k = np_conn_carried(c);
                size_t kc = buf ? (k < len ? k : len) : 0;
                if (kc)
                        memcpy(buf, c->carry + c->carry_off, kc);
                int rr = np_cons_peek(&c->cons, buf ? (uint8_t *)buf + kc : NULL,
                                      buf ? len - kc : 0, h->params.type == NPIPE_TYPE_MESSAGE,
                                      &pr);
                if (k) {
                        pr.avail += k;
                        pr.copied += (uint32_t)kc;
                        pr.have_any = 1;
                        if (h->params.type == NPIPE_TYPE_MESSAGE)
                                pr.msg_len += (uint32_t)k;
                        if (!pr.messages)
                                pr.messages = 1;
                }
                pthread_mutex_unlock(&h->rd);
                if (rr < 0) {
                        atomic_store(&c->corrupt, 1);
                        r = NPIPE_EPIPE;
                } else if (closed && !pr.have_any) {
                        r = NPIPE_EPIPE; /* STATE-11: nothing left, outputs untouched */
                } else {
                        out.state = (uint32_t)st;
                        out.avail = pr.avail > UINT32_MAX ? UINT32_MAX : (uint32_t)pr.avail;
                        out.messages = h->params.type == NPIPE_TYPE_MESSAGE ? pr.messages : 0;
                        out.message_len = pr.msg_len;
                        out.copied = pr.copied;
                        out.left = out.message_len - out.copied; /* PEEK-04: wraps */
                        r = 0;
                }
        }
        np_conn_put(c);
        if (r == 0 && ret)
                *ret = out;
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_transact(npipe_t *hv, const void *in, size_t in_len, void *out,
                                size_t out_len, size_t *nread)
{
        size_t dummy;
        if (!nread)
                nread = &dummy;
        *nread = 0;
        if ((!in && in_len) || (!out && out_len))
                return NPIPE_EINVAL;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c;
        int st;
        data_entry(h, &c, &st);
        if (h->params.type != NPIPE_TYPE_MESSAGE || h->params.dir != NPIPE_DUPLEX ||
            atomic_load(&h->read_mode) != NPIPE_READ_MESSAGE)
                r = NPIPE_EBADPIPE; /* TRANS-02 */
        else if (st == NPIPE_STATE_DISCONNECTED && !h->server)
                r = NPIPE_ENOTCONN; /* TRANS-14 */
        else if (st != NPIPE_STATE_CONNECTED)
                r = NPIPE_EBADPIPE;
        else if (!h->can_read || !h->can_write)
                r = NPIPE_EACCES; /* TRANS-12 */
        else if ((r = np_remote_write_error(h, in_len)) < 0) {
                /* a remote client could not receive it */
        } else {
                pthread_mutex_lock(&h->rd);
                pthread_mutex_lock(&h->lock);
                int readers = h->rdq_head != NULL;
                pthread_mutex_unlock(&h->lock);
                if (np_cons_has_chunk(&c->cons) || c->cons.in_msg || np_conn_carried(c) ||
                    readers) {
                        /* TRANS-03: unread data or a read pending: nothing written */
                        r = NPIPE_EBUSY;
                } else {
                        size_t w;
                        r = write_conn(h, c, in, in_len, &w, W_NO_QUOTA_WAIT | W_BLOCKING, -1);
                        if (r == NPIPE_ECLOSING)
                                r = NPIPE_EBADPIPE;
                        if (r == 0)
                                r = read_locked(h, c, out, out_len, nread, 1, 0, -1);
                }
                pthread_mutex_unlock(&h->rd);
        }
        np_conn_put(c);
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_call(const char *name, const void *in, size_t in_len, void *out,
                            size_t out_len, size_t *nread, int timeout_ms)
{
        npipe_t *h;
        int r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &h);
        if (r == NPIPE_EBUSY) {
                /* TRANS-15: wait once, retry once */
                r = npipe_wait(name, timeout_ms);
                if (r == 0)
                        r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &h);
        }
        if (r < 0)
                return r;
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        r = npipe_set_mode(h, &m, NULL);
        if (r == 0)
                r = npipe_transact(h, in, in_len, out, out_len, nread);
        npipe_close(h);
        return r;
}

NPIPE_EXTERN int npipe_flush(npipe_t *hv)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c;
        int st;
        data_entry(h, &c, &st);
        if (st == NPIPE_STATE_DISCONNECTED && !h->server)
                r = NPIPE_ENOTCONN; /* QUOTA-14 */
        else if (st != NPIPE_STATE_CONNECTED || !c)
                r = 0;
        else {
                /* QUOTA-12: until the peer has read every byte we wrote */
                pthread_mutex_lock(&h->wr);
                uint64_t target = c->prod.wbytes;
                pthread_mutex_unlock(&h->wr);
                r = wait_quota(h, c, target, 0, -1);
        }
        np_conn_put(c);
        np_h_put(h);
        return r;
}

/* ---- state and information ---------------------------------------------------------------- */

NPIPE_EXTERN int npipe_get_mode(npipe_t *hv, enum npipe_read_mode *read_mode, int *nowait)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (!h->server && st == NPIPE_STATE_DISCONNECTED) {
                np_h_put(h);
                return NPIPE_ENOTCONN;
        }
        if (read_mode)
                *read_mode = (enum npipe_read_mode)atomic_load(&h->read_mode);
        if (nowait)
                *nowait = atomic_load(&h->nowait);
        np_h_put(h);
        return 0;
}

NPIPE_EXTERN int npipe_set_mode(npipe_t *hv, const enum npipe_read_mode *read_mode,
                                const int *nowait)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (!h->can_set_mode)
                r = NPIPE_EACCES; /* MODE-05: checked before the values */
        else if (!h->server && st == NPIPE_STATE_DISCONNECTED)
                r = NPIPE_ENOTCONN;
        else if (read_mode && *read_mode != NPIPE_READ_BYTE && *read_mode != NPIPE_READ_MESSAGE)
                r = NPIPE_EINVAL;
        else if (read_mode && *read_mode == NPIPE_READ_MESSAGE &&
                 h->params.type == NPIPE_TYPE_BYTE)
                r = NPIPE_EINVAL; /* MODE-01 */
        else {
                if (read_mode)
                        atomic_store(&h->read_mode, *read_mode);
                if (nowait)
                        atomic_store(&h->nowait, *nowait ? 1 : 0);
        }
        np_h_put(h);
        return r;
}

static int query(struct npipe *h, struct np_query_reply *rep)
{
        struct np_instance_req body = {h->id};
        struct np_request req = {.type = NP_MSG_QUERY, .body = &body, .body_len = sizeof(body),
                                 .fd = -1, .reply = rep, .reply_cap = sizeof(*rep)};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r < 0)
                return r;
        if (req.reply_len < sizeof(int32_t))
                return NPIPE_EPROTO;
        if (rep->status < 0)
                return rep->status;
        if (req.reply_type != NP_MSG_QUERY_REPLY || req.reply_len < sizeof(*rep))
                return NPIPE_EPROTO;
        return 0;
}

NPIPE_EXTERN int npipe_get_info(npipe_t *hv, struct npipe_info *ret)
{
        if (!ret)
                return NPIPE_EINVAL;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        sync_listening(h);
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        struct npipe_info info = {0};
        if (!h->server && st == NPIPE_STATE_DISCONNECTED) {
                r = NPIPE_ENOTCONN;
                goto out;
        }
        info.type = (enum npipe_type)h->params.type;
        info.dir = (enum npipe_dir)h->params.dir;
        info.server_end = h->server;
        info.max_instances = h->params.max_instances;
        info.in_quota = h->params.in_quota;
        info.out_quota = h->params.out_quota;
        info.default_timeout_ms = h->params.default_timeout_ms;
        info.state = (enum npipe_state)st;
        info.read_mode = (enum npipe_read_mode)atomic_load(&h->read_mode);
        info.nowait = atomic_load(&h->nowait);
        uint32_t quota = np_write_quota(h);
        info.write_quota_avail = quota;
        if (c && (st == NPIPE_STATE_CONNECTED || st == NPIPE_STATE_CLOSING)) {
                pthread_mutex_lock(&h->rd);
                int64_t a = np_cons_avail(&c->cons);
                if (a >= 0)
                        a += (int64_t)np_conn_carried(c);
                pthread_mutex_unlock(&h->rd);
                info.read_avail = a < 0 ? 0 : (a > UINT32_MAX ? UINT32_MAX : (uint32_t)a);
                pthread_mutex_lock(&h->wr);
                int64_t u = np_prod_unread(&c->prod);
                pthread_mutex_unlock(&h->wr);
                info.write_quota_avail = u < 0 ? 0 : ((uint64_t)u >= quota ? 0 : quota - (uint32_t)u);
        }
        struct np_query_reply q;
        r = query(h, &q);
        if (r == 0)
                info.cur_instances = q.cur_instances;
        else if (r == NPIPE_EBADF || r == NPIPE_EBROKER)
                r = 0; /* the pipe is gone: no instances (STATE-08) */
out:
        np_conn_put(c);
        if (r == 0)
                *ret = info;
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_client_pid(npipe_t *hv, pid_t *ret)
{
        if (!ret)
                return NPIPE_EBUFFER;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        sync_listening(h);
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (!h->server && st == NPIPE_STATE_DISCONNECTED)
                r = NPIPE_ENOTCONN;
        else if (h->server && (st == NPIPE_STATE_DISCONNECTED || st == NPIPE_STATE_LISTENING))
                r = NPIPE_ENOTFOUND; /* DISC-10 */
        else
                *ret = h->client_pid;
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_server_pid(npipe_t *hv, pid_t *ret)
{
        if (!ret)
                return NPIPE_EBUFFER;
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (!h->server && st == NPIPE_STATE_DISCONNECTED)
                r = NPIPE_ENOTCONN;
        else
                *ret = h->server_pid;
        np_h_put(h);
        return r;
}

NPIPE_EXTERN int npipe_peer_cred(npipe_t *hv, uid_t *uid, gid_t *gid)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        sync_listening(h);
        struct conn *c = np_conn_get(h);
        int st = np_end_state(h, c);
        np_conn_put(c);
        if (st == NPIPE_STATE_DISCONNECTED || st == NPIPE_STATE_LISTENING)
                r = h->server ? NPIPE_ENOTFOUND : NPIPE_ENOTCONN;
        else {
                if (uid)
                        *uid = h->peer_uid;
                if (gid)
                        *gid = h->peer_gid;
        }
        np_h_put(h);
        return r;
}

NPIPE_EXTERN const char *npipe_name(npipe_t *hv)
{
        /* the name lives as long as the handle */
        struct npipe *h;
        if (np_handle_enter(hv, &h) < 0)
                return NULL;
        const char *name = h->name;
        np_handle_leave(h);
        return name;
}

NPIPE_EXTERN const char *npipe_runtime_dir(void)
{
        static char dir[PATH_MAX];
        if (np_runtime_dir(dir, sizeof(dir), 0) < 0)
                return NULL;
        return dir;
}

/* ---- listing --------------------------------------------------------------------------- */

/* Items of a multi-packet reply (LIST, STATS), each with the name that
 * follows it in its packet, kept on the event thread until the caller
 * walks them.  Out of memory marks the walk failed. */
struct named_acc {
        unsigned char *items;
        char **names;
        size_t n, cap, isz;
        int failed;
};

static void named_push(struct named_acc *a, const void *item, const void *name, size_t nlen)
{
        if (a->failed)
                return;
        if (a->n == a->cap) {
                size_t nc = a->cap ? a->cap * 2 : 32;
                unsigned char *ni = realloc(a->items, nc * a->isz);
                char **nn = ni ? realloc(a->names, nc * sizeof(*nn)) : NULL;
                if (ni)
                        a->items = ni;
                if (nn)
                        a->names = nn;
                if (!ni || !nn) {
                        a->failed = 1;
                        return;
                }
                a->cap = nc;
        }
        a->names[a->n] = strndup(name, nlen);
        if (!a->names[a->n]) {
                a->failed = 1;
                return;
        }
        memcpy(a->items + a->n * a->isz, item, a->isz);
        a->n++;
}

static void named_free(struct named_acc *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->names[i]);
        free(a->items);
        free(a->names);
}

/* On the event thread: keep every item; the last one ends the reply. */
static int list_collect(void *ctx, const struct np_hdr *hdr, const void *body, size_t len)
{
        struct named_acc *a = ctx;
        if (hdr->type != NP_MSG_LIST_ITEM || len < sizeof(struct np_list_item))
                return 1;
        struct np_list_item it;
        memcpy(&it, body, sizeof(it));
        if (!(it.flags & NP_LIST_EMPTY) && it.name_len <= len - sizeof(it))
                named_push(a, &it, (const char *)body + sizeof(it), it.name_len);
        return (it.flags & NP_LIST_LAST) != 0;
}

NPIPE_EXTERN int npipe_list(npipe_list_fn fn, void *ctx)
{
        if (!fn)
                return NPIPE_EINVAL;
        struct named_acc acc = {.isz = sizeof(struct np_list_item)};
        unsigned char last[sizeof(struct np_list_item) + NP_NAME_MAX];
        struct np_request req = {.type = NP_MSG_LIST, .fd = -1, .reply = last,
                                 .reply_cap = sizeof(last), .fn = list_collect, .fn_ctx = &acc};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r == 0 && req.reply_type == NP_MSG_REPLY && req.reply_len >= sizeof(int32_t)) {
                int32_t st;
                memcpy(&st, last, sizeof(st));
                r = st < 0 ? st : NPIPE_EPROTO;
        }
        if (r == 0 && acc.failed)
                r = NPIPE_ENOMEM;
        for (size_t i = 0; i < acc.n && r == 0; i++) {
                struct np_list_item it;
                memcpy(&it, acc.items + i * acc.isz, sizeof(it));
                struct npipe_pipe_entry e = {
                        .name = acc.names[i],
                        .type = (enum npipe_type)it.params.type,
                        .dir = (enum npipe_dir)it.params.dir,
                        .max_instances = it.params.max_instances,
                        .cur_instances = it.cur_instances,
                        .listening = it.listening,
                        .connected = it.connected,
                        .owner_uid = it.owner_uid,
                        .server_pid = (pid_t)it.server_pid,
                        .policy = (enum npipe_access_policy)it.params.policy,
                        .in_quota = it.params.in_quota,
                        .out_quota = it.params.out_quota,
                        .default_timeout_ms = it.params.default_timeout_ms,
                };
                r = fn(ctx, &e);
        }
        named_free(&acc);
        return r;
}

/* ---- statistics -------------------------------------------------------------------------- */

struct stats_acc {
        struct named_acc pipes; /* struct np_stats_item */
        struct np_stats_broker broker;
        int have_broker;
};

static void traffic_out(const struct np_traffic *t, struct npipe_traffic *o)
{
        o->c2s_bytes = t->c2s_bytes;
        o->c2s_messages = t->c2s_msgs;
        o->s2c_bytes = t->s2c_bytes;
        o->s2c_messages = t->s2c_msgs;
}

/* On the event thread: keep every pipe's item; the broker's ends the reply. */
static int stats_collect(void *ctx, const struct np_hdr *hdr, const void *body, size_t len)
{
        struct stats_acc *a = ctx;
        if (hdr->type != NP_MSG_STATS_ITEM || len < sizeof(struct np_stats_item))
                return 1;
        struct np_stats_item it;
        memcpy(&it, body, sizeof(it));
        if (it.flags & NP_STATS_BROKER) {
                a->broker = it.u.broker;
                a->have_broker = 1;
        } else if (it.name_len <= len - sizeof(it)) {
                named_push(&a->pipes, &it, (const char *)body + sizeof(it), it.name_len);
        }
        return (it.flags & NP_STATS_LAST) != 0;
}

NPIPE_EXTERN int npipe_stats(struct npipe_broker_stats *broker, npipe_stats_fn fn, void *ctx)
{
        struct stats_acc acc = {.pipes = {.isz = sizeof(struct np_stats_item)}};
        struct np_stats_req body = {0};
        unsigned char last[sizeof(struct np_stats_item) + NP_NAME_MAX];
        struct np_request req = {.type = NP_MSG_STATS, .body = &body, .body_len = sizeof(body),
                                 .fd = -1, .reply = last, .reply_cap = sizeof(last),
                                 .fn = stats_collect, .fn_ctx = &acc};
        int r = np_broker_call(&req);
        if (req.reply_fd >= 0)
                close(req.reply_fd);
        if (r == 0 && req.reply_type == NP_MSG_REPLY && req.reply_len >= sizeof(int32_t)) {
                int32_t st;
                memcpy(&st, last, sizeof(st));
                r = st < 0 ? st : NPIPE_EPROTO;
        }
        if (r == 0 && !acc.have_broker)
                r = NPIPE_EPROTO;
        if (r == 0 && acc.pipes.failed)
                r = NPIPE_ENOMEM;
        if (r == 0 && broker) {
                const struct np_stats_broker *s = &acc.broker;
                memset(broker, 0, sizeof(*broker));
                broker->uptime_ms = s->uptime_ms;
                broker->broker_pid = (pid_t)s->broker_pid;
                broker->processes_now = s->processes_now;
                broker->pipes_now = s->pipes_now;
                broker->instances_now = s->instances_now;
                broker->connections_now = s->connections_now;
                broker->waits_now = s->waits_now;
                broker->processes_total = s->processes_total;
                broker->processes_refused = s->processes_refused;
                broker->processes_dropped = s->processes_dropped;
                broker->pipes_total = s->pipes_total;
                broker->instances_total = s->instances_total;
                broker->connections_total = s->connections_total;
                broker->opens_busy = s->opens_busy;
                broker->opens_denied = s->opens_denied;
                broker->opens_not_found = s->opens_not_found;
                broker->waits_total = s->waits_total;
                broker->waits_timed_out = s->waits_timed_out;
                broker->requests_total = s->requests_total;
                broker->requests_malformed = s->requests_malformed;
                broker->adoptions = s->adoptions;
                broker->stats_queries = s->stats_queries;
                traffic_out(&s->traffic, &broker->traffic);
                broker->servers_asked = s->servers_asked;
                broker->servers_missing = s->servers_missing;
        }
        for (size_t i = 0; i < acc.pipes.n && r == 0; i++) {
                if (fn) {
                        struct np_stats_item item;
                        memcpy(&item, acc.pipes.items + i * acc.pipes.isz, sizeof(item));
                        const struct np_stats_pipe *p = &item.u.pipe;
                        struct npipe_pipe_stats e = {
                                .name = acc.pipes.names[i],
                                .cur_instances = p->cur_instances,
                                .listening = p->listening,
                                .connected = p->connected,
                                .connections = p->connections,
                                .missing = p->missing,
                        };
                        traffic_out(&p->traffic, &e.traffic);
                        r = fn(ctx, &e);
                }
        }
        named_free(&acc.pipes);
        return r;
}
