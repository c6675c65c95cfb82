/*
 * npipe-hostile - a hostile peer for testing (issue 4, item 1).
 *
 *   npipe-hostile --server|--client NAME [--seconds=S] [--seed=N] [--ready-fd=FD]
 *
 * Connects as a normal server or client of NAME through libnpipe, then
 * scribbles on every shared page it can write - its own segment, which
 * the victim maps read-only: the header (seq, state, sleeper counts, head,
 * wbytes, wframes, wake_rbytes, rpos, rbytes, rwant, even the identity
 * fields) and the ring (chunk headers, lengths, flags, payload), with
 * random, boundary and adversarial values (aimed at the victim's current
 * read position, which it reads from the victim's segment).  Meanwhile a
 * second thread reads and writes real messages through the library, so
 * the victim sees valid traffic between the scribbles.  It works in
 * episodes: one connection each, with its own scribbling intensity (from
 * a few scribbles to a storm), ended by the victim breaking it off or after
 * a random time; then it connects again (a server disconnects and listens,
 * a client reopens).  It stops after S seconds (exits without closing, as
 * a crash would: the victim's broker reports its death) and prints how
 * many episodes and scribbles it made.
 *
 * The library does not expose segments: the tool finds its own through
 * /proc/self/maps, the one writable shared mapping of "memfd:npipe-seg"
 * (the victim's is the read-only one).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "core/ring.h"
#include "core/ring_layout.h"
#include "rt.h"

struct mapping {
        uint8_t *start;
        size_t len;
};

/* Our own (rw-s) and the peer's (r--s) segment mappings. */
static int find_segments(struct mapping *own, struct mapping *peer)
{
        FILE *f = fopen("/proc/self/maps", "r");
        char line[512];
        int n = 0;

        if (f == NULL)
                return -1;
        own->start = peer->start = NULL;
        while (fgets(line, sizeof line, f) != NULL) {
                unsigned long lo, hi;
                char perms[8];

                if (strstr(line, "memfd:npipe-seg") == NULL)
                        continue;
                if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
                        continue;
                if (perms[0] == 'r' && perms[1] == 'w' && perms[3] == 's' && own->start == NULL) {
                        own->start = (uint8_t *)lo;
                        own->len = hi - lo;
                        n++;
                } else if (perms[0] == 'r' && perms[1] == '-' && peer->start == NULL) {
                        peer->start = (uint8_t *)lo;
                        peer->len = hi - lo;
                        n++;
                }
        }
        fclose(f);
        return own->start != NULL && peer->start != NULL ? 0 : -1;
}

static npipe_t *g_h;
static atomic_int g_stop, g_broken;
static uint64_t g_rng;

/* Real traffic: messages of every size, including larger than the ring. */
static void *io_thread(void *arg)
{
        static uint8_t buf[300000];
        uint64_t rng = g_rng ^ 0x5555;

        (void)arg;
        memset(buf, 0x5a, sizeof buf);
        while (!atomic_load(&g_stop)) {
                size_t n = 0, len;
                int r;

                switch (rt_rand(&rng) % 4) {
                case 0:
                        len = rt_rand(&rng) % 300000;
                        break;
                case 1:
                        len = 0;
                        break;
                default:
                        len = rt_rand(&rng) % 4096;
                        break;
                }
                r = npipe_write_timeout(g_h, buf, len, &n, 20);
                if (r == NPIPE_EPIPE || r == NPIPE_ENOTCONN || r == NPIPE_ECLOSING)
                        break;
                r = npipe_read_timeout(g_h, buf, rt_rand(&rng) % sizeof buf, &n, 20);
                if (r == NPIPE_EPIPE || r == NPIPE_ENOTCONN)
                        break;
        }
        atomic_store(&g_broken, 1);
        return NULL;
}

static uint64_t pick(uint64_t *rng, uint64_t near, uint32_t cap)
{
        switch (rt_rand(rng) % 10) {
        case 0:
                return 0;
        case 1:
                return UINT64_MAX - rt_rand(rng) % 16;
        case 2:
                return rt_rand(rng);
        case 3:
                return near + cap + rt_rand(rng) % 3 * 8;
        case 4:
                return near - 1 - rt_rand(rng) % 16;
        case 5:
                return (uint64_t)1 << (rt_rand(rng) % 64);
        default:
                return near + rt_rand(rng) % 64 - 16;
        }
}

static void wake(_Atomic uint32_t *word)
{
        syscall(SYS_futex, word, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

/* One scribble on our own segment. */
static void scribble(uint64_t *rng, struct np_seg_hdr *own, const struct np_seg_hdr *victim)
{
        uint8_t *ring = (uint8_t *)own + NP_SEG_HDR_SIZE;
        uint32_t cap = own->ring_cap; /* ours: the value the victim validated at map time */
        uint64_t vpos = atomic_load(&victim->rpos); /* the victim's read position in our ring */
        uint64_t vbytes = atomic_load(&victim->rbytes);

        if (cap < NP_RING_MIN || cap > NP_RING_MAX || (cap & (cap - 1)))
                cap = NP_RING_MIN; /* we scribbled it ourselves */
        switch (rt_rand(rng) % 16) {
        case 0:
                atomic_store(&own->head, pick(rng, vpos, cap));
                break;
        case 1:
                atomic_store(&own->wbytes, pick(rng, vbytes, cap));
                break;
        case 2:
                atomic_store(&own->rpos, pick(rng, atomic_load(&victim->head), cap));
                break;
        case 3:
                atomic_store(&own->rbytes, pick(rng, atomic_load(&victim->wbytes), cap));
                break;
        case 4:
                atomic_store(&own->rwant, pick(rng, 0, cap));
                atomic_store(&own->wake_rbytes, pick(rng, 0, cap));
                break;
        case 5:
                atomic_store(&own->state, (uint32_t)(rt_rand(rng) % 5));
                break;
        case 6:
                atomic_store(&own->rsleepers, (uint32_t)pick(rng, 1, cap));
                atomic_store(&own->wsleepers, (uint32_t)pick(rng, 1, cap));
                break;
        case 7:
                atomic_fetch_add(&own->seq, 1);
                wake(&own->seq);
                break;
        case 8:
                atomic_store(&own->wframes, rt_rand(rng));
                own->ring_cap = (uint32_t)pick(rng, cap, cap); /* read only at map time */
                own->role = (uint32_t)rt_rand(rng);
                own->ring_cap = cap;
                break;
        case 9:
        case 10:
        case 11: { /* a chunk header where the victim reads next */
                struct np_chunk ch;
                uint8_t *b = (uint8_t *)&ch;
                uint64_t pos = vpos + 8 * (rt_rand(rng) % 3);

                memset(&ch, 0, sizeof ch);
                ch.f.len = (uint32_t)pick(rng, rt_rand(rng) % 256, cap);
                atomic_store(&ch.f.flags,
                             (uint32_t)(rt_rand(rng) % 2 ? rt_rand(rng) % 64 : rt_rand(rng)));
                ch.msg_len = (uint32_t)pick(rng, ch.f.len, cap);
                ch.pofs = (uint32_t)rt_rand(rng);
                for (unsigned i = 0; i < sizeof ch; i++)
                        ring[(pos + i) & (cap - 1)] = b[i];
                if (rt_rand(rng) % 2)
                        atomic_store(&own->head, pos + np_chunk_span(ch.f.len % cap));
                if (rt_rand(rng) % 2)
                        atomic_store(&own->wbytes, vbytes + ch.msg_len);
                atomic_fetch_add(&own->seq, 1);
                wake(&own->seq);
                break;
        }
        case 12: { /* flags of whatever chunk is at the victim's position */
                _Atomic uint32_t *f =
                    (_Atomic uint32_t *)(void *)(ring + ((vpos + 4) & (cap - 1) & ~3u));

                atomic_fetch_xor(f, (uint32_t)(1u << (rt_rand(rng) % 8)));
                break;
        }
        default: { /* payload bytes anywhere */
                uint32_t off = (uint32_t)(rt_rand(rng) % cap);
                unsigned len = (unsigned)(rt_rand(rng) % 64);

                for (unsigned i = 0; i < len; i++)
                        ring[(off + i) & (cap - 1)] = (uint8_t)rt_rand(rng);
                break;
        }
        }
}

int main(int argc, char **argv)
{
        enum { OPT_SERVER = 256, OPT_CLIENT, OPT_SECONDS, OPT_SEED, OPT_READY };
        static const struct option opts[] = {
            {"server", required_argument, NULL, OPT_SERVER},
            {"client", required_argument, NULL, OPT_CLIENT},
            {"seconds", required_argument, NULL, OPT_SECONDS},
            {"seed", required_argument, NULL, OPT_SEED},
            {"ready-fd", required_argument, NULL, OPT_READY},
            {NULL, 0, NULL, 0},
        };
        const char *name = NULL;
        int server = -1, ready = -1, opt, r;
        double seconds = 3;
        struct mapping own, peer;
        uint64_t scribbles = 0;
        unsigned episodes = 0;
        int64_t end;
        pthread_t io;

        g_rng = 1;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_SERVER:
                case OPT_CLIENT:
                        server = opt == OPT_SERVER;
                        name = optarg;
                        break;
                case OPT_SECONDS:
                        seconds = strtod(optarg, NULL);
                        break;
                case OPT_SEED:
                        g_rng = strtoull(optarg, NULL, 0) | 1;
                        break;
                case OPT_READY:
                        ready = atoi(optarg);
                        break;
                default:
                        return 2;
                }
        }
        if (name == NULL) {
                fprintf(stderr, "usage: npipe-hostile --server|--client NAME [--seconds=S] "
                                "[--seed=N] [--ready-fd=FD]\n");
                return 2;
        }
        if (server) {
                struct npipe_server_opts o;

                npipe_server_opts_init(&o);
                o.in_quota = o.out_quota = 16384;
                r = npipe_create(name, &o, &g_h);
                if (r == 0 && ready >= 0 && write(ready, "1", 1) != 1)
                        r = NPIPE_EPIPE;
        }
        if (ready >= 0)
                close(ready);
        end = rt_now_ms() + (int64_t)(seconds * 1000);
        for (int first = 1; rt_now_ms() < end; first = 0) {
                int64_t ep_end = rt_now_ms() + 20 + (int64_t)(rt_rand(&g_rng) % 400);
                /* scribbles per burst: 0 (a well-behaved episode) to a storm */
                unsigned intensity =
                    (unsigned)(rt_rand(&g_rng) % 5 == 0 ? 0 : 1 << (rt_rand(&g_rng) % 7));

                if (server) {
                        if (!first)
                                npipe_disconnect(g_h);
                        do
                                r = npipe_listen(g_h, 200);
                        while (r == NPIPE_ETIMEDOUT && rt_now_ms() < end);
                        /* CONNECT-02: the client came between two listens */
                        if (r == NPIPE_EISCONN)
                                r = 0;
                } else {
                        do
                                r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 200, &g_h);
                        while ((r == NPIPE_ETIMEDOUT || r == NPIPE_EBUSY || r == NPIPE_ENOENT) &&
                               rt_now_ms() < end);
                }
                if (r == NPIPE_ETIMEDOUT || r == NPIPE_EBUSY || r == NPIPE_ENOENT)
                        break; /* out of time while waiting for the victim */
                if (r < 0) {
                        fprintf(stderr, "npipe-hostile: connect: %s\n", npipe_err_name(r));
                        return 1;
                }
                if (find_segments(&own, &peer) < 0) {
                        fprintf(stderr, "npipe-hostile: segments not found in /proc/self/maps\n");
                        return 1;
                }
                episodes++;
                atomic_store(&g_stop, 0);
                atomic_store(&g_broken, 0);
                pthread_create(&io, NULL, io_thread, NULL);
                while (rt_now_ms() < ep_end && rt_now_ms() < end && !atomic_load(&g_broken)) {
                        /* bursts, then a pause in which valid traffic can flow */
                        unsigned burst =
                            intensity ? (unsigned)(rt_rand(&g_rng) % (2 * intensity)) : 0;

                        for (unsigned i = 0; i < burst; i++, scribbles++)
                                scribble(&g_rng, (struct np_seg_hdr *)own.start,
                                         (const struct np_seg_hdr *)peer.start);
                        for (unsigned i = 0; i < rt_rand(&g_rng) % 200; i++)
                                sched_yield();
                }
                if (rt_now_ms() >= end)
                        break; /* the last connection ends with our death */
                atomic_store(&g_stop, 1);
                pthread_join(io, NULL);
                if (!server)
                        npipe_close(g_h);
        }
        printf("npipe-hostile: %s, %u episodes, %" PRIu64 " scribbles in %.1f s\n",
               server ? "server" : "client", episodes, scribbles, seconds);
        fflush(stdout);
        /* No close: the process just ends, as a crash would. */
        _exit(0);
}
