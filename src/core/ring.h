/*
 * ring.h - one direction of a connection: the producer writes chunks into
 * its own ring, the consumer reads them out of the peer's (read-only) ring.
 *
 * A message is one or more chunks: the first carries NP_CHUNK_FIRST and the
 * message's full length, the last NP_CHUNK_LAST.  Messages that fit the free
 * space are one chunk; larger ones stream.  Pure logic over memory: no
 * syscalls and no waiting (the caller waits on the seq futex and retries),
 * so the same code is unit-tested, fuzzed over arbitrary memory, and used
 * by the library.
 *
 * Every value read from the other side is loaded once and validated; a
 * value that cannot be right returns NP_RING_CORRUPT and the caller breaks
 * the pipe (ERROR_BROKEN_PIPE).
 */
#ifndef NPIPE_RING_H
#define NPIPE_RING_H

#include "core/ring_layout.h"
#include <stddef.h>
#include <stdint.h>

enum np_ring_result {
        NP_RING_OK = 0,       /* done */
        NP_RING_MORE = 1,     /* message read: buffer full, the message goes on */
        NP_RING_EMPTY = 2,    /* nothing to consume yet: wait for the producer */
        NP_RING_PARTIAL = 3,  /* part copied, the rest of the message not published yet:
                               * call again with the same progress (message mode, or
                               * byte mode with room for more of a streaming message) */
        NP_RING_FULL = 4,     /* producer: no room; wait for the consumer */
        NP_RING_CORRUPT = -1, /* the other side's memory is inconsistent */
};

/* Consumer of the peer's ring.  Local fields are protected by the end's
 * read lock; `own` and `peer` are the two mapped headers. */
struct np_cons {
        const struct np_seg_hdr *peer; /* read-only mapping: the producer's */
        const uint8_t *data;           /* the producer's ring */
        uint32_t cap;                  /* validated copy of peer->ring_cap */
        struct np_seg_hdr *own;        /* where we publish rpos/rbytes/rwant */

        uint64_t pos;      /* position of the current chunk header (= published rpos) */
        uint64_t rbytes;   /* payload bytes consumed (published) */
        int have_chunk;    /* chunk header at pos is loaded */
        uint32_t chunk_len;   /* its payload length */
        uint32_t chunk_flags; /* its flags at load time */
        uint32_t chunk_off;   /* payload bytes consumed of it */
        int in_msg;        /* inside a message (its first chunk has been consumed from) */
        uint64_t msg_left; /* unread bytes of the current message */
        int skipping;      /* the current message was aborted: drop its chunks */
        /* The producer died: messages ending beyond this many consumed bytes
         * were still pending (over quota) and vanish with it (CLOSE-09). */
        _Atomic uint64_t cutoff;
        int bump_always; /* the producer's segment is of version 2 (ring_layout.h) */
        uint64_t seen_head; /* the producer's head as last loaded (>= pos) */
};

/* Producer of our own ring. */
struct np_prod {
        struct np_seg_hdr *own; /* our writable header */
        uint8_t *data;          /* our ring */
        uint32_t cap;
        const struct np_seg_hdr *peer; /* the consumer's header (for rpos/rbytes) */

        uint64_t head;   /* local copy of own->head */
        uint64_t wbytes; /* local copy of own->wbytes */
        /* streaming state of the message being written */
        int streaming;
        uint64_t msg_rest; /* bytes of the streaming message not in the ring yet */
        int term_pending;  /* a cancelled streaming message still owes its end chunk */
        uint64_t pofs;     /* payload offset of the next chunk's first byte */
        uint64_t abort_hi; /* end of the highest aborted message not yet passed by the
                            * consumer (0: none) */
        int bump_always;   /* the consumer's segment is of version 2 (ring_layout.h) */
        /* The consumer's position and consumed bytes as last loaded (and
         * validated): lower bounds of the truth, enough to decide that a
         * message fits the ring or the quota without reading its line. */
        uint64_t seen_rpos;
        uint64_t seen_rbytes;
};

/* Chunk header (ring frame) flags, stored in np_frame.flags. */
#define NP_CHUNK_FIRST 0x10u
#define NP_CHUNK_LAST 0x20u

/* A chunk header is the np_frame plus the message length (first chunk). */
struct np_chunk {
        struct np_frame f;
        uint32_t msg_len; /* full message length (meaningful in a FIRST chunk) */
        uint32_t pofs;    /* low 32 bits of the payload offset of this chunk's first byte
                           * (the producer's wbytes count), so the producer can tell how
                           * much of an aborted chunk was read */
};
_Static_assert(sizeof(struct np_chunk) == 16, "chunk header");

#define NP_CHUNK_HDR ((uint64_t)sizeof(struct np_chunk))
static inline uint64_t np_chunk_span(uint32_t len)
{
        return (NP_CHUNK_HDR + len + (NP_FRAME_ALIGN - 1)) & ~(uint64_t)(NP_FRAME_ALIGN - 1);
}

/* Check a peer header at map time (magic, version, capacity vs mapping size).
 * Returns 0 or -1. */
int np_seg_check(const struct np_seg_hdr *h, size_t mapped, uint32_t role);

/* Initialise our own header (before sealing). */
void np_seg_init(struct np_seg_hdr *h, uint32_t cap, uint32_t role);

/* A sleeper's announcement (np_seg_hdr.rsleep / wsleep): a new
 * generation, and `snap`, the peer seq it is about to futex_wait on. */
void np_sleep_announce(_Atomic uint64_t *word, uint32_t snap);

/* Whether a waker whose own seq is now `cur` (read after its bump) must
 * futex-wake the sleepers announced in `word` (the peer's rsleep/wsleep).
 * *woken is the waker's record of the generation it last served; it is
 * updated only when that wake brought every sleeper of the generation
 * news (each waited on an older seq), so that no later sleeper of an old
 * generation is skipped. */
int np_wake_due(const _Atomic uint64_t *word, uint32_t cur, _Atomic uint32_t *woken);

void np_cons_init(struct np_cons *c, const struct np_seg_hdr *peer, struct np_seg_hdr *own);
void np_prod_init(struct np_prod *p, struct np_seg_hdr *own, const struct np_seg_hdr *peer);

/* Bytes the consumer could read now (unread payload, including a
 * streaming message's bytes not published yet: PEEK-02), or -1 if corrupt. */
int64_t np_cons_avail(const struct np_cons *c);

/* The producer is gone for good (its process died): keep only what it had
 * completed, i.e. messages that end within `quota` bytes of what we have
 * consumed now. */
void np_cons_cut(struct np_cons *c, uint64_t consumed, uint32_t quota);

/* Read.  `msg_mode`: message read mode.  `*done` is the progress of this
 * read call so far (bytes already copied into buf; start at 0) and is
 * updated.  Results: OK (read complete: a message ended, or byte mode got
 * something), MORE (message mode, buffer full with the message unfinished),
 * EMPTY (nothing at all: wait), PARTIAL (wait for the rest of a message that
 * is still streaming in: in message mode always, in byte mode while the
 * buffer has room for it, since its bytes count as available), CORRUPT.  A zero-length buffer follows ZERO-07..09. */
int np_cons_read(struct np_cons *c, void *buf, size_t len, int msg_mode, size_t *done);

struct np_peek_result {
        uint64_t avail;     /* as np_cons_avail */
        uint32_t messages;  /* queued messages, the partly read one included */
        uint32_t msg_len;   /* unread bytes of the head message */
        uint32_t copied;    /* bytes copied */
        int have_any;       /* at least one chunk (even empty) is queued */
};
/* Copy without consuming: the head message only (`msg_pipe`) or across
 * messages (byte pipe).  Returns 0 or NP_RING_CORRUPT. */
int np_cons_peek(const struct np_cons *c, void *buf, size_t len, int msg_pipe,
                 struct np_peek_result *res);

/* Does the queue hold at least one chunk (possibly an empty message)? */
int np_cons_has_chunk(const struct np_cons *c);

/* Write a whole message (or bytes) of `len`, as far as the ring has room.
 * `*done` is progress (bytes of buf already written; start at 0).  Returns
 * OK when all of it is in the ring, FULL when it must wait for room (call
 * again with the same buf/len/done), CORRUPT. */
int np_prod_write(struct np_prod *p, const void *buf, size_t len, size_t *done);

/* Free bytes of the ring right now (for a whole message: minus the header),
 * or -1 if the consumer's values are corrupt. */
int64_t np_prod_room(const struct np_prod *p);

/* Payload bytes written but not yet consumed by the peer, aborted messages
 * excluded, or -1. */
int64_t np_prod_unread(const struct np_prod *p);

/* Our ring position now: where the next message starts (for np_prod_abort). */
static inline uint64_t np_prod_pos(const struct np_prod *p)
{
        return p->head;
}

/* Cancel the message whose chunks are at ring positions [first, end)
 * (QUOTA-07): its unread bytes disappear, even mid-message.  `streaming`:
 * it is the message still streaming in (end is then our head); it is ended
 * with an empty aborted chunk (written by the next np_prod_write if there
 * is no room now).  Returns 0, or -1 on bad arguments or a corrupt consumer. */
int np_prod_abort(struct np_prod *p, uint64_t first, uint64_t end, int streaming);

/* Is everything the consumer has not read yet aborted (the queue is
 * empty for FlushFileBuffers, CANCEL-07)?  -1 if corrupt. */
int np_prod_drained(const struct np_prod *p);

#endif
