/*
 * ring.c - chunked messages through a single-producer single-consumer ring
 * in shared memory (layout in ring_layout.h, API in ring.h).
 *
 * Trust: the consumer reads the producer's memory and the producer reads the
 * consumer's indices; each may be hostile.  So every shared value is loaded
 * once into a local, checked against what it can possibly be, and only then
 * used; data bytes are copied out, never parsed in place.  Nothing here can
 * read or write outside the two mappings whatever the other side stores.
 */
#include "core/ring.h"
#include <string.h>

static inline uint32_t mask(uint32_t cap, uint64_t pos)
{
        return (uint32_t)(pos & (uint64_t)(cap - 1));
}

int np_seg_check(const struct np_seg_hdr *h, size_t mapped, uint32_t role)
{
        uint32_t magic = h->magic, version = h->version, cap = h->ring_cap, r = h->role;
        if (magic != NP_SEG_MAGIC || version < NP_SEG_VERSION_MIN || version > NP_SEG_VERSION ||
            r != role)
                return -1;
        if (cap < NP_RING_MIN || cap > NP_RING_MAX || (cap & (cap - 1)) != 0)
                return -1;
        if ((size_t)cap + NP_SEG_HDR_SIZE != mapped)
                return -1;
        return 0;
}

void np_seg_init(struct np_seg_hdr *h, uint32_t cap, uint32_t role)
{
        memset(h, 0, sizeof(*h));
        h->magic = NP_SEG_MAGIC;
        h->version = NP_SEG_VERSION;
        h->ring_cap = cap;
        h->role = role;
        atomic_store(&h->state, NP_SEG_OPEN);
}

void np_sleep_announce(_Atomic uint64_t *word, uint32_t snap)
{
        uint64_t old = atomic_load_explicit(word, memory_order_relaxed), nw;
        do {
                uint32_t ws = (uint32_t)old;
                /* serial maximum: seq wraps */
                if ((int32_t)(snap - ws) > 0)
                        ws = snap;
                nw = (((old >> 32) + 1) << 32) | ws;
        } while (!atomic_compare_exchange_weak_explicit(word, &old, nw, memory_order_seq_cst,
                                                        memory_order_relaxed));
}

int np_wake_due(const _Atomic uint64_t *word, uint32_t cur, _Atomic uint32_t *woken)
{
        uint64_t v = atomic_load_explicit(word, memory_order_seq_cst);
        uint32_t gen = (uint32_t)(v >> 32), ws = (uint32_t)v;
        if (gen == atomic_load_explicit(woken, memory_order_relaxed))
                return 0; /* served, and nobody slept since */
        /* Every sleeper of this generation waited on a seq older than
         * ours: this wake reaches each one (queued now, or its futex
         * compare fails).  One that saw our latest seq waits for the next
         * change, and so may one of an older generation that queues after
         * us: wake, but keep the generation open. */
        if ((int32_t)(cur - ws) > 0)
                atomic_store_explicit(woken, gen, memory_order_relaxed);
        return 1;
}

/* After a publication: increment our seq for the peer's threads, if any
 * is counted as waiting for this kind of change (ring_layout.h).  The
 * fence orders our publication before the read of the counts, as the
 * waiter's count is ordered before its read of what we published. */
static inline void bump_seq(struct np_seg_hdr *own, const struct np_seg_hdr *peer, int always,
                            int for_writers)
{
        if (!always) {
                atomic_thread_fence(memory_order_seq_cst);
                uint32_t n = for_writers
                                 ? atomic_load_explicit(&peer->wwaiting, memory_order_relaxed) |
                                       atomic_load_explicit(&peer->wsleepers, memory_order_relaxed) |
                                       atomic_load_explicit(&peer->wpending, memory_order_relaxed)
                                 : atomic_load_explicit(&peer->rwaiting, memory_order_relaxed) |
                                       atomic_load_explicit(&peer->rsleepers, memory_order_relaxed) |
                                       atomic_load_explicit(&peer->rpending, memory_order_relaxed);
                if (n == 0)
                        return;
        }
        atomic_fetch_add_explicit(&own->seq, 1, memory_order_seq_cst);
}

void np_cons_init(struct np_cons *c, const struct np_seg_hdr *peer, struct np_seg_hdr *own)
{
        memset(c, 0, sizeof(*c));
        c->peer = peer;
        c->own = own;
        c->cap = peer->ring_cap; /* validated by np_seg_check before */
        c->data = (const uint8_t *)peer + NP_SEG_HDR_SIZE;
        /* read once: a peer that changes it later changes nothing here */
        c->bump_always = peer->version < 3;
        atomic_store(&c->cutoff, UINT64_MAX);
}

void np_cons_cut(struct np_cons *c, uint64_t consumed, uint32_t quota)
{
        atomic_store(&c->cutoff, consumed + quota);
}

/* Does the message [rbytes, rbytes + left) end past the cutoff? */
static int beyond_cutoff(const struct np_cons *c, uint64_t rbytes, uint64_t left)
{
        uint64_t cut = atomic_load_explicit(&c->cutoff, memory_order_relaxed);
        return cut != UINT64_MAX && rbytes + left > cut;
}

void np_prod_init(struct np_prod *p, struct np_seg_hdr *own, const struct np_seg_hdr *peer)
{
        memset(p, 0, sizeof(*p));
        p->own = own;
        p->peer = peer;
        p->cap = own->ring_cap;
        p->data = (uint8_t *)own + NP_SEG_HDR_SIZE;
        p->head = atomic_load_explicit(&own->head, memory_order_relaxed);
        p->wbytes = atomic_load_explicit(&own->wbytes, memory_order_relaxed);
        p->pofs = p->wbytes;
        p->seen_rpos = p->head - p->cap; /* nothing known free: load it */
        p->seen_rbytes = 0;               /* a lower bound of any consumer's count */
        p->bump_always = peer->version < 3;
}

/* Copy out of the ring at pos (may wrap). */
static void ring_copy_out(const uint8_t *data, uint32_t cap, uint64_t pos, void *dst, size_t n)
{
        uint32_t off = mask(cap, pos);
        size_t first = cap - off;
        if (first > n)
                first = n;
        memcpy(dst, data + off, first);
        if (n > first)
                memcpy((uint8_t *)dst + first, data, n - first);
}

static void ring_copy_in(uint8_t *data, uint32_t cap, uint64_t pos, const void *src, size_t n)
{
        uint32_t off = mask(cap, pos);
        size_t first = cap - off;
        if (first > n)
                first = n;
        memcpy(data + off, src, first);
        if (n > first)
                memcpy(data, (const uint8_t *)src + first, n - first);
}

/* A chunk header as loaded: plain local copies, never the shared words.
 * Same field order as struct np_chunk, so a producer can copy one in. */
struct chunk_hdr {
        uint32_t len;     /* np_frame.len */
        uint32_t flags;   /* np_frame.flags */
        uint32_t msg_len; /* np_chunk.msg_len */
        uint32_t pofs;    /* np_chunk.pofs */
};
_Static_assert(offsetof(struct chunk_hdr, len) == offsetof(struct np_chunk, f.len) &&
                   offsetof(struct chunk_hdr, flags) == offsetof(struct np_chunk, f.flags) &&
                   offsetof(struct chunk_hdr, msg_len) == offsetof(struct np_chunk, msg_len) &&
                   offsetof(struct chunk_hdr, pofs) == offsetof(struct np_chunk, pofs) &&
                   sizeof(struct chunk_hdr) == sizeof(struct np_chunk),
               "chunk_hdr mirrors np_chunk");

/* The flags word of the chunk at pos.  Chunk positions are multiples of 8
 * and so is the ring: the np_frame half of a header never wraps. */
static inline const _Atomic uint32_t *frame_flags(const uint8_t *data, uint32_t cap, uint64_t pos)
{
        return &((const struct np_frame *)(data + mask(cap, pos)))->flags;
}

/* Read the chunk header at pos (8-aligned) into *h, each field once.
 *
 * The flags word is the one word of a published chunk that still changes:
 * np_prod_abort sets NP_FRAME_ABORTED in it at any time, from the other
 * process, so it is read with an atomic load, never as part of a memcpy
 * (that was a data race).  The other fields are written only before the
 * chunk is published (the release store of head, which the reader's
 * acquire load of head has seen) and not again until the consumer has
 * published an rpos past the chunk: plain copies are race-free.
 *
 * Relaxed is enough for the flags: the abort publishes no data of its own.
 * A reader that sees the bit only skips the chunk, using its len and
 * FIRST/LAST bits, which head's acquire already made visible, and anything
 * the producer writes after the abort (the terminating chunk) it reads only
 * under a later head, again acquired.  A reader that misses the bit reads
 * payload that is still intact (an abort changes no payload byte): that
 * part arrives, as if the cancel had come after it.  Seeing one chunk's bit
 * says nothing about the next chunk's (they are set one by one, whatever
 * the ordering): load_chunk drops the rest of the message anyway.  And the
 * load cannot see a newer chunk's word: the producer overwrites the chunk
 * only after acquiring our rpos past it, released after this load. */
static inline void read_chunk(const uint8_t *data, uint32_t cap, uint64_t pos, struct chunk_hdr *h)
{
        uint32_t off = mask(cap, pos);
        h->flags = atomic_load_explicit(frame_flags(data, cap, pos), memory_order_relaxed);
        memcpy(&h->len, data + off + offsetof(struct np_frame, len), sizeof(h->len));
        /* the second half (msg_len, pofs) may wrap to the ring's start */
        uint32_t rest[2];
        ring_copy_out(data, cap, pos + sizeof(struct np_frame), rest, sizeof(rest));
        h->msg_len = rest[0];
        h->pofs = rest[1];
}

/* Load the producer's head once and validate it against our position. */
static int load_head(const struct np_cons *c, uint64_t *head)
{
        uint64_t h = atomic_load_explicit(&c->peer->head, memory_order_acquire);
        if (h < c->pos || h - c->pos > c->cap)
                return -1;
        *head = h;
        return 0;
}

/* Load and validate the chunk header at `pos` (head already validated).
 * Returns 1 loaded, 0 nothing there, -1 corrupt.  `in_msg` says whether a
 * message is under way: then the chunk must continue it, else start one.
 * `skipping`: that message was found aborted; the chunk is returned aborted
 * whatever its own flag says.  np_prod_abort marks a message's chunks one
 * after the other while we read, so we may see one marked and the next one
 * not yet: the rest of a message seen cancelled goes with it (QUOTA-07). */
static int load_chunk(const struct np_cons *c, uint64_t pos, uint64_t head, int in_msg,
                      uint64_t msg_left, int skipping, struct chunk_hdr *out)
{
        if (head == pos)
                return 0;
        /* a head behind us (the producer moved it back) is never right */
        if (head < pos || head - pos < NP_CHUNK_HDR)
                return -1;
        /* pos is ours (8-aligned); the header is untrusted: load it once
         * into a local and validate the copy */
        struct chunk_hdr ch;
        read_chunk(c->data, c->cap, pos, &ch);
        uint32_t len = ch.len;
        uint32_t flags = ch.flags;
        if (skipping && in_msg)
                flags |= NP_FRAME_ABORTED;
        if ((uint64_t)len + NP_CHUNK_HDR > c->cap)
                return -1;
        if (np_chunk_span(len) > head - pos)
                return -1; /* chunks are published whole */
        if (flags & NP_FRAME_ABORTED) {
                /* an aborted message's chunks are dropped whatever their
                 * lengths say; only the structure must hold */
                if (in_msg ? (flags & NP_CHUNK_FIRST) != 0 : !(flags & NP_CHUNK_FIRST))
                        return -1;
                ch.flags = flags;
                *out = ch;
                return 1;
        }
        if (in_msg) {
                if ((flags & NP_CHUNK_FIRST) || len > msg_left)
                        return -1;
                if ((flags & NP_CHUNK_LAST) && len != msg_left)
                        return -1;
        } else {
                if (!(flags & NP_CHUNK_FIRST) || ch.msg_len > NP_MSG_MAX || len > ch.msg_len)
                        return -1;
                if ((flags & NP_CHUNK_LAST) && len != ch.msg_len)
                        return -1;
                if (!(flags & NP_CHUNK_LAST) && len == ch.msg_len)
                        return -1;
        }
        *out = ch;
        return 1;
}

int64_t np_cons_avail(const struct np_cons *c)
{
        uint64_t w = atomic_load_explicit(&c->peer->wbytes, memory_order_acquire);
        if (w < c->rbytes || w - c->rbytes > (uint64_t)NP_MSG_MAX * 4)
                return -1;
        uint64_t cut = atomic_load_explicit(&c->cutoff, memory_order_relaxed);
        if (cut != UINT64_MAX && w > cut)
                w = cut > c->rbytes ? cut : c->rbytes;
        return (int64_t)(w - c->rbytes);
}

static void publish_cons(struct np_cons *c)
{
        atomic_store_explicit(&c->own->rpos, c->pos, memory_order_release);
        atomic_store_explicit(&c->own->rbytes, c->rbytes, memory_order_release);
        bump_seq(c->own, c->peer, c->bump_always, 1);
}

/* The producer may mark the chunk we are in as aborted at any time; the
 * chunk is not consumed yet, so its header is still intact: re-read the
 * flag word (once; relaxed suffices, see read_chunk). */
static uint32_t chunk_flags_now(const struct np_cons *c, uint64_t pos)
{
        return atomic_load_explicit(frame_flags(c->data, c->cap, pos), memory_order_relaxed);
}

/* Drop the rest of an aborted message: its unread bytes count as consumed
 * (the producer's quota accounting expects that) and its chunks go. */
static void skip_aborted(struct np_cons *c)
{
        c->rbytes += c->msg_left;
        c->msg_left = 0;
        c->skipping = 1;
}

/* Make sure the chunk at c->pos is loaded, dropping aborted messages on the
 * way.  1 loaded, 0 none, -1 corrupt.  *dropped is set when anything was
 * dropped (the caller publishes). */
static int ensure_chunk_d(struct np_cons *c, uint64_t head, int *dropped)
{
        for (;;) {
                if (c->have_chunk) {
                        if (!(chunk_flags_now(c, c->pos) & NP_FRAME_ABORTED) &&
                            !beyond_cutoff(c, c->rbytes, c->msg_left))
                                return 1;
                        /* aborted under us (QUOTA-07): drop this chunk and the rest */
                        if (!c->skipping)
                                skip_aborted(c);
                        c->pos += np_chunk_span(c->chunk_len);
                        c->have_chunk = 0;
                        if (c->chunk_flags & NP_CHUNK_LAST) {
                                c->in_msg = 0;
                                c->skipping = 0;
                        }
                        *dropped = 1;
                        continue;
                }
                struct chunk_hdr ch;
                int r = load_chunk(c, c->pos, head, c->in_msg, c->msg_left, c->skipping, &ch);
                if (r <= 0)
                        return r;
                if (!(ch.flags & NP_FRAME_ABORTED) &&
                    beyond_cutoff(c, c->rbytes, c->in_msg ? c->msg_left : ch.msg_len))
                        ch.flags |= NP_FRAME_ABORTED; /* a dead writer's pending write */
                if (ch.flags & NP_FRAME_ABORTED) {
                        if (!c->in_msg) {
                                c->in_msg = 1;
                                c->msg_left = ch.msg_len;
                        }
                        if (!c->skipping)
                                skip_aborted(c);
                        c->pos += np_chunk_span(ch.len);
                        if (ch.flags & NP_CHUNK_LAST) {
                                c->in_msg = 0;
                                c->skipping = 0;
                        }
                        *dropped = 1;
                        continue;
                }
                /* never skipping here: load_chunk returns the rest of a
                 * message being dropped as aborted */
                c->have_chunk = 1;
                c->chunk_len = ch.len;
                c->chunk_flags = ch.flags;
                c->chunk_off = 0;
                if (!c->in_msg) {
                        c->in_msg = 1;
                        c->msg_left = ch.msg_len;
                }
                return 1;
        }
}

/* Consume n payload bytes of the loaded chunk into dst (dst may be NULL). */
static void take(struct np_cons *c, uint8_t *dst, size_t n)
{
        if (n) {
                if (dst)
                        ring_copy_out(c->data, c->cap, c->pos + NP_CHUNK_HDR + c->chunk_off, dst,
                                      n);
                c->chunk_off += (uint32_t)n;
                c->msg_left -= n;
                c->rbytes += n;
        }
        if (c->chunk_off == c->chunk_len) {
                /* chunk done: free its space */
                c->pos += np_chunk_span(c->chunk_len);
                c->have_chunk = 0;
                if (c->chunk_flags & NP_CHUNK_LAST)
                        c->in_msg = 0;
        }
}

int np_cons_has_chunk(const struct np_cons *c)
{
        if (c->have_chunk)
                return 1;
        uint64_t head;
        if (load_head(c, &head) < 0)
                return 1; /* let the reader find the corruption */
        return head != c->pos;
}

/* The consumer's hot loop (every read), kept whole on purpose: a chunk's
 * header is loaded and validated once, and the message, byte and skip
 * cases share that one load. */
int np_cons_read(struct np_cons *c, void *buf, size_t len, int msg_mode, size_t *done)
{
        uint8_t *out = buf;
        uint64_t head = c->seen_head;
        int consumed_any = 0, dropped_any = 0;

        /* The producer's head as last loaded while it is ahead of us: the
         * producer's line is read again only once we have taken all of
         * that (issue 16).  It was validated then, and we only move up to
         * it. */
        int fresh = head <= c->pos;
        if (fresh) {
                if (load_head(c, &head) < 0)
                        return NP_RING_CORRUPT;
                c->seen_head = head;
        }

        if (len == 0) {
                /* ZERO-07..09: a zero-length read completes when anything is
                 * queued and consumes nothing, except an empty message (it
                 * fits exactly), in either read mode: ZERO-04, the empty
                 * message of a 0-byte write wakes exactly one pending read,
                 * so the read after it must not find it again. */
                int dropped = 0;
                int r = ensure_chunk_d(c, head, &dropped);
                if (dropped)
                        publish_cons(c);
                if (r < 0)
                        return NP_RING_CORRUPT;
                if (r == 0)
                        return NP_RING_EMPTY;
                if (c->msg_left == 0 && c->chunk_len == 0) {
                        take(c, NULL, 0);
                        publish_cons(c);
                        return NP_RING_OK;
                }
                return msg_mode ? NP_RING_MORE : NP_RING_OK;
        }

        for (;;) {
                int dropped = 0;
                int r = ensure_chunk_d(c, head, &dropped);
                if (dropped) {
                        dropped_any = 1;
                        /* a message this call was still collecting was cancelled:
                         * it is gone as a whole, never delivered torn */
                        if (msg_mode)
                                *done = 0;
                }
                if (r < 0)
                        return NP_RING_CORRUPT;
                if (r == 0 && !fresh) {
                        /* all we knew of is taken: anything since? */
                        fresh = 1;
                        if (load_head(c, &head) < 0)
                                return NP_RING_CORRUPT;
                        c->seen_head = head;
                        continue;
                }
                if (r == 0) {
                        if (consumed_any || dropped_any)
                                publish_cons(c);
                        if (msg_mode)
                                return (c->in_msg || *done) ? NP_RING_PARTIAL : NP_RING_EMPTY;
                        /* Byte mode: the rest of a message that is still
                         * streaming in counts as available (QUOTA-05, PEEK-02),
                         * so a read with room for it waits for it. */
                        if (*done && *done < len && c->in_msg && c->msg_left > 0 && !c->skipping)
                                return NP_RING_PARTIAL;
                        return (*done || consumed_any) ? NP_RING_OK : NP_RING_EMPTY;
                }
                uint32_t in_chunk = c->chunk_len - c->chunk_off;
                size_t room = len - *done;
                size_t n = in_chunk < room ? in_chunk : room;
                int last = (c->chunk_flags & NP_CHUNK_LAST) != 0;
                take(c, out + *done, n);
                *done += n;
                consumed_any = 1;
                if (msg_mode) {
                        if (c->in_msg == 0 && last) {
                                publish_cons(c);
                                return NP_RING_OK; /* the message ended */
                        }
                        if (*done == len) {
                                publish_cons(c);
                                return NP_RING_MORE;
                        }
                        /* chunk used up, message goes on: next chunk */
                        continue;
                }
                /* byte mode: fill the buffer across chunks and messages; empty
                 * messages are consumed on the way (ZERO-06) */
                if (*done == len) {
                        publish_cons(c);
                        return NP_RING_OK;
                }
        }
}

/* One pass over the unread chunks without consuming them.  Longer than
 * most functions here on purpose: it walks the same untrusted chunks as
 * np_cons_read, with every check in the same place, and splitting the walk
 * would spread the validation of one chunk over several functions. */
int np_cons_peek(const struct np_cons *c, void *buf, size_t len, int msg_pipe,
                 struct np_peek_result *res)
{
        memset(res, 0, sizeof(*res));
        int64_t avail = np_cons_avail(c);
        uint64_t head;
        if (avail < 0 || load_head(c, &head) < 0)
                return NP_RING_CORRUPT;
        uint64_t av = (uint64_t)avail;

        /* Walk a private copy of the consumer state: nothing is consumed. */
        uint64_t pos = c->pos;
        int in_msg = c->in_msg; /* inside a message at pos */
        uint64_t msg_left = c->msg_left;
        uint32_t off = c->have_chunk ? c->chunk_off : 0;
        int have = c->have_chunk; /* chunk at pos already loaded (its header is ours) */
        int counted = 0;          /* the message at pos has been counted */
        int head_done = 0;        /* the head message has been copied */
        size_t copied = 0;
        unsigned steps = 0;
        int skip = c->skipping; /* the message at pos is being dropped */
        struct chunk_hdr ch = {0};
        if (have) {
                ch.len = c->chunk_len;
                ch.flags = c->chunk_flags;
                if (chunk_flags_now(c, pos) & NP_FRAME_ABORTED)
                        ch.flags |= NP_FRAME_ABORTED;
        }
        if (c->skipping) {
                /* the current message is being dropped already */
                in_msg = 1;
                msg_left = 0;
        }

        for (;;) {
                if (++steps > c->cap / NP_CHUNK_HDR + 2)
                        return NP_RING_CORRUPT;
                if (!have) {
                        int r = load_chunk(c, pos, head, in_msg, msg_left, skip, &ch);
                        if (r < 0)
                                return NP_RING_CORRUPT;
                        if (r == 0)
                                break;
                        off = 0;
                }
                have = 0;
                if (!in_msg) {
                        in_msg = 1;
                        msg_left = ch.msg_len;
                        counted = 0;
                }
                if ((ch.flags & NP_FRAME_ABORTED) || skip) {
                        /* a cancelled write is invisible (QUOTA-07): its
                         * unread bytes leave the count, its chunks are passed */
                        av = av > msg_left ? av - msg_left : 0;
                        msg_left = 0;
                        in_msg = !(ch.flags & NP_CHUNK_LAST);
                        skip = in_msg;
                        pos += np_chunk_span(ch.len);
                        continue;
                }
                if (!counted) {
                        if (res->messages == 0)
                                res->msg_len =
                                    msg_left > UINT32_MAX ? UINT32_MAX : (uint32_t)msg_left;
                        res->messages++;
                        counted = 1;
                }
                res->have_any = 1;
                uint32_t in_chunk = ch.len - off;
                if (!head_done || !msg_pipe) {
                        size_t n = in_chunk < len - copied ? in_chunk : len - copied;
                        if (n && buf)
                                ring_copy_out(c->data, c->cap, pos + NP_CHUNK_HDR + off,
                                              (uint8_t *)buf + copied, n);
                        copied += n;
                }
                msg_left -= in_chunk;
                pos += np_chunk_span(ch.len);
                if (ch.flags & NP_CHUNK_LAST) {
                        in_msg = 0;
                        head_done = 1;
                }
        }
        /* a message still streaming in counts with what is not published yet */
        if (in_msg && !counted && msg_left) {
                if (res->messages == 0)
                        res->msg_len = msg_left > UINT32_MAX ? UINT32_MAX : (uint32_t)msg_left;
                res->messages++;
        }
        res->avail = av;
        if (!msg_pipe)
                res->msg_len = 0;
        res->copied = (uint32_t)copied;
        return 0;
}

/* Our own chunk header at pos (our memory: trusted; only we write it). */
static struct chunk_hdr own_chunk(const struct np_prod *p, uint64_t pos)
{
        struct chunk_hdr ch;
        read_chunk(p->data, p->cap, pos, &ch);
        return ch;
}

/* Unread bytes of aborted messages between the consumer and our head: the
 * consumer drops them only when it gets there, but for quota and flush they
 * are gone already.  rpos and rbytes are validated by the caller. */
static uint64_t aborted_unread(const struct np_prod *p, uint64_t rpos, uint64_t rbytes)
{
        if (p->abort_hi <= rpos)
                return 0;
        uint64_t sum = 0;
        uint64_t end = p->abort_hi < p->head ? p->abort_hi : p->head;
        for (uint64_t pos = rpos; pos < end;) {
                struct chunk_hdr ch = own_chunk(p, pos);
                if (ch.flags & NP_FRAME_ABORTED) {
                        /* how much of this chunk the consumer has taken already */
                        uint32_t taken = (uint32_t)rbytes - ch.pofs;
                        if (pos != rpos || taken > ch.len)
                                taken = 0;
                        sum += ch.len - taken;
                }
                pos += np_chunk_span(ch.len);
        }
        return sum;
}

int64_t np_prod_unread(const struct np_prod *p)
{
        uint64_t r = atomic_load_explicit(&p->peer->rbytes, memory_order_acquire);
        uint64_t rpos = atomic_load_explicit(&p->peer->rpos, memory_order_acquire);
        /* rpos is a chunk position: 8-aligned, so a header read there stays
         * inside the ring */
        if (r > p->wbytes || rpos > p->head || p->head - rpos > p->cap ||
            (rpos & (NP_FRAME_ALIGN - 1)))
                return -1;
        uint64_t u = p->wbytes - r;
        uint64_t a = aborted_unread(p, rpos, r);
        return (int64_t)(u > a ? u - a : 0);
}

int np_prod_drained(const struct np_prod *p)
{
        int64_t u = np_prod_unread(p);
        return u < 0 ? -1 : u == 0;
}

/* Write the empty aborted chunk that ends a cancelled streaming message.
 * 1 written (or none owed), 0 no room yet, -1 corrupt consumer. */
static int write_terminator(struct np_prod *p)
{
        if (!p->term_pending)
                return 1;
        uint64_t rpos = atomic_load_explicit(&p->peer->rpos, memory_order_acquire);
        if (rpos > p->head || p->head - rpos > p->cap || (rpos & (NP_FRAME_ALIGN - 1)))
                return -1;
        if (p->cap - (p->head - rpos) < NP_CHUNK_HDR)
                return 0;
        /* Free space: the consumer reads it only after our next head
         * release, and left it (rpos, acquired above) before: plain stores
         * of the whole header, its flags word included, are race-free. */
        struct chunk_hdr ch = {.flags = NP_CHUNK_LAST | NP_FRAME_ABORTED,
                               .pofs = (uint32_t)p->pofs};
        ring_copy_in(p->data, p->cap, p->head, &ch, sizeof(ch));
        p->head += NP_CHUNK_HDR;
        atomic_store_explicit(&p->own->head, p->head, memory_order_release);
        p->term_pending = 0;
        return 1;
}

int np_prod_abort(struct np_prod *p, uint64_t first, uint64_t end, int streaming)
{
        if (streaming)
                end = p->head;
        if (end > p->head || first > end)
                return -1;
        /* Chunks the consumer has passed may already hold newer data: start
         * at its position (a chunk boundary) when it is inside the message. */
        uint64_t rpos = atomic_load_explicit(&p->peer->rpos, memory_order_acquire);
        if (rpos > p->head || p->head - rpos > p->cap || (rpos & (NP_FRAME_ALIGN - 1)))
                return -1;
        if (rpos > first)
                first = rpos;
        /* The consumer may be loading these headers right now: the flags
         * word is written atomically (read_chunk loads it atomically); len
         * is ours and unchanged since the chunk was published. */
        for (uint64_t pos = first; pos < end;) {
                struct np_frame *f = (struct np_frame *)(p->data + mask(p->cap, pos));
                uint32_t len = f->len;
                atomic_fetch_or_explicit(&f->flags, NP_FRAME_ABORTED, memory_order_release);
                pos += np_chunk_span(len);
        }
        if (streaming && p->streaming) {
                /* The message ends here, with an empty aborted chunk; the
                 * bytes never written count as passed, as the consumer
                 * counts them when it drops the message. */
                p->streaming = 0;
                p->pofs += p->msg_rest;
                p->msg_rest = 0;
                p->term_pending = 1;
                if (write_terminator(p) < 0)
                        return -1;
        }
        if (end > p->abort_hi)
                p->abort_hi = streaming ? p->head : end;
        atomic_fetch_add_explicit(&p->own->seq, 1, memory_order_seq_cst);
        return 0;
}

/* Free bytes of the ring (header included), or -1 when the consumer's
 * position cannot be right. */
static int64_t ring_free(const struct np_prod *p)
{
        uint64_t rpos = atomic_load_explicit(&p->peer->rpos, memory_order_acquire);
        if (rpos > p->head || p->head - rpos > p->cap || (rpos & (NP_FRAME_ALIGN - 1)))
                return -1;
        return (int64_t)(p->cap - (p->head - rpos));
}

int64_t np_prod_room(const struct np_prod *p)
{
        int64_t free = ring_free(p);
        if (free < 0)
                return -1;
        return free > (int64_t)NP_CHUNK_HDR ? free - (int64_t)NP_CHUNK_HDR : 0;
}

/* Free bytes by the consumer position we last loaded: never more than
 * the truth (positions only grow), so what fits here fits.  Reading the
 * consumer's line for every message made it travel between the two CPUs
 * with each one (issue 16); it is read again only when this says no. */
static int64_t ring_free_seen(const struct np_prod *p)
{
        /* the empty chunk that ends a cancelled message may have been
         * written by a fresher position than ours: then nothing is known */
        uint64_t used = p->head - p->seen_rpos;
        return used >= p->cap ? 0 : (int64_t)(p->cap - used);
}

int np_prod_write(struct np_prod *p, const void *buf, size_t len, size_t *done)
{
        const uint8_t *src = buf;
        if (len > NP_MSG_MAX || *done > len)
                return NP_RING_CORRUPT;
        int t = write_terminator(p);
        if (t < 0)
                return NP_RING_CORRUPT;
        if (t == 0)
                return NP_RING_FULL;
        for (;;) {
                int first = !p->streaming;
                size_t rest = len - *done;
                uint64_t want = rest;
                if (want > p->cap - NP_CHUNK_HDR)
                        want = p->cap - NP_CHUNK_HDR;
                int64_t free = ring_free_seen(p);
                if ((uint64_t)free < NP_CHUNK_HDR + want) {
                        free = ring_free(p);
                        if (free < 0)
                                return NP_RING_CORRUPT;
                        p->seen_rpos = p->head - (p->cap - (uint64_t)free);
                }
                if ((uint64_t)free < NP_CHUNK_HDR + want) {
                        /* Not all of it fits.  Stream in pieces of at least a
                         * quarter ring, so that producer and consumer work on
                         * different chunks instead of ping-ponging bytes. */
                        uint64_t room =
                            (uint64_t)free > NP_CHUNK_HDR ? (uint64_t)free - NP_CHUNK_HDR : 0;
                        uint64_t min_piece = p->cap / 4;
                        if (min_piece > rest)
                                min_piece = rest;
                        room &= ~(uint64_t)(NP_FRAME_ALIGN - 1);
                        if (room == 0 || room < min_piece)
                                return NP_RING_FULL;
                        want = room;
                }
                /* a plain local, copied into free space (see write_terminator) */
                struct chunk_hdr ch = {.len = (uint32_t)want, .pofs = (uint32_t)p->pofs};
                uint32_t flags = 0;
                if (first) {
                        flags |= NP_CHUNK_FIRST;
                        ch.msg_len = (uint32_t)len;
                }
                if (want == rest)
                        flags |= NP_CHUNK_LAST;
                ch.flags = flags;
                ring_copy_in(p->data, p->cap, p->head, &ch, sizeof(ch));
                if (want)
                        ring_copy_in(p->data, p->cap, p->head + NP_CHUNK_HDR, src + *done,
                                     (size_t)want);
                if (first) {
                        /* The whole message counts as written as soon as it starts
                         * (PEEK-02, QUOTA-05).  wbytes goes out before head, so a
                         * reader never sees more consumed than written. */
                        p->wbytes += len;
                        atomic_store_explicit(&p->own->wbytes, p->wbytes, memory_order_release);
                        /* only we write it (under the writers' lock): no
                         * locked read-modify-write per message */
                        atomic_store_explicit(
                            &p->own->wframes,
                            atomic_load_explicit(&p->own->wframes, memory_order_relaxed) + 1,
                            memory_order_relaxed);
                }
                p->pofs += want;
                p->head += np_chunk_span((uint32_t)want);
                atomic_store_explicit(&p->own->head, p->head, memory_order_release);
                bump_seq(p->own, p->peer, p->bump_always, 0);
                *done += (size_t)want;
                if (flags & NP_CHUNK_LAST) {
                        p->streaming = 0;
                        p->msg_rest = 0;
                        return NP_RING_OK;
                }
                p->streaming = 1;
                p->msg_rest = len - *done;
        }
}
