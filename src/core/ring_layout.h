/*
 * ring_layout.h - the shared-memory ABI of one connection end.
 *
 * Each end of a connection owns one *segment*: a memfd it creates, maps
 * read-write, and seals with F_SEAL_FUTURE_WRITE (plus shrink/grow/seal)
 * before handing it to the broker.  The other end maps it read-only, so a
 * peer can never write our pages, not even by reopening /proc/PID/fd/N
 * (design.md, "Isolation").  A segment holds:
 *
 *   - the header page: what this end publishes, as producer of the ring
 *     that follows (head, written payload) and as consumer of the peer's
 *     ring (read position, payload consumed), plus its state and the
 *     futex word the peer sleeps on;
 *   - the ring: `ring_cap` bytes of frames this end writes.
 *
 * Frames are [np_frame header][payload][pad to 8]: a header never straddles
 * the end of the ring (positions and capacity are multiples of 8); a payload
 * may wrap.  All positions are free-running 64-bit byte counts, masked at
 * use.  A producer may publish a frame's header before all of its payload
 * (a message larger than the free space streams through the ring); readers
 * never report such a message complete until its last byte has arrived.
 *
 * Waking (no syscall while both sides are busy): a thread that is going to
 * wait for the peer first counts itself in one of its own end's waiter
 * counts - `rwaiting` for the peer's data or state, `wwaiting` for the
 * peer's consumption (quota, ring space, flush) - then reads the peer's
 * `seq`, checks its condition, spins on `seq` for a while, and to sleep
 * counts itself in `rsleepers` or `wsleepers` too and FUTEX_WAITs on the
 * peer's `seq`.  A pending overlapped operation counts in `rpending` or
 * `wpending` from the moment a thread is about to sleep for it (the
 * completion thread, or a waiter that completes it itself once its spin
 * on the peer's `head` or `rpos` found nothing) until it ends; that thread
 * announces its sleeps as a blocked call does.  After publishing data the
 * producer increments its `seq` only when the consumer's end has a reader
 * counted (rwaiting, rsleepers or rpending), and after consuming the
 * consumer only when the producer's end has a writer counted (wwaiting,
 * wsleepers or wpending): a message
 * nobody waits for moves no `seq` line between the two CPUs (issue 16).
 * State changes always increment it.  The producer wakes sleeping readers
 * after publishing when `rsleepers` or `rpending` is non-zero; writers publish in
 * `wake_rbytes` the consumed-bytes mark they need, and the consumer wakes
 * them only once it has passed that mark, not after every message.  Both
 * orders (count, then read; publish, then read the count) are sequentially
 * consistent, so no wake is lost.  A peer segment of version 2 predates
 * the waiter counts: its end is sent every increment.
 *
 * Every value read from the peer's segment is loaded once and validated
 * before use (ring.c); a bad value breaks that one pipe, never the process.
 */
#ifndef NPIPE_RING_LAYOUT_H
#define NPIPE_RING_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NP_SEG_MAGIC 0x5345504eu /* "NPES" */
#define NP_SEG_VERSION 3u
#define NP_SEG_VERSION_MIN 2u /* the oldest peer segment we map */

#define NP_SEG_HDR_SIZE 4096u
#define NP_RING_MIN 4096u
#define NP_RING_MAX (64u << 20)
#define NP_FRAME_ALIGN 8u

/* Largest single message: 1 GiB. Longer writes fail with NPIPE_EINVAL. */
#define NP_MSG_MAX (1u << 30)

/* np_seg_hdr.state, written by the owner. */
enum np_seg_state {
        NP_SEG_OPEN = 1,         /* in use */
        NP_SEG_CLOSED = 2,       /* the owner closed its handle: drain, then broken */
        NP_SEG_DISCONNECTED = 3, /* the server disconnected: everything fails */
};

/* np_seg_hdr.role */
enum np_seg_role { NP_ROLE_CLIENT = 0, NP_ROLE_SERVER = 1 };

struct np_seg_hdr {
        /* identity: written once before sealing, read by the peer at map time */
        uint32_t magic;    /* NP_SEG_MAGIC */
        uint32_t version;  /* NP_SEG_VERSION */
        uint32_t ring_cap; /* bytes of ring after the header; power of two */
        uint32_t role;     /* enum np_seg_role */
        uint8_t pad0[48];

        /* cache line 1: what the peer waits on */
        _Atomic uint32_t seq;      /* futex word: bumped after every change below */
        _Atomic uint32_t state;    /* enum np_seg_state */
        _Atomic uint32_t rsleepers; /* our waiters for the peer's data or state */
        _Atomic uint32_t wsleepers; /* our waiters for the peer to consume */
        _Atomic uint32_t cpu;       /* 1 + the CPU we last read or wrote on (0: unknown):
                                     * the peer spins for us only on another CPU */
        _Atomic uint32_t rwaiting;  /* our threads about to wait for the peer's data
                                     * or state (version 3) */
        /* Our sleeping readers (writers) announce themselves here, after
         * counting in rsleepers (wsleepers) and before futex_wait compares
         * the peer's seq: high half a generation bumped by every sleep,
         * low half the latest (serial maximum) peer seq a sleeper waited
         * for.  The peer then wakes a generation once: a reader it woke
         * but that has not run yet still counts as a sleeper, and waking
         * it again for every message cost a system call per message with
         * both ends on one CPU.  The seq half says whether a wake brought
         * news to all of that generation's sleepers (ring.c, np_wake_due). */
        _Atomic uint64_t rsleep;
        _Atomic uint64_t wsleep;
        _Atomic uint32_t wwaiting; /* our threads about to wait for the peer to
                                    * consume (version 3) */
        /* Our pending overlapped reads and writes (version 3; a version 2
         * peer finds them in rsleepers and wsleepers).  Apart from the
         * sleepers because they pend while this process runs: a peer that
         * took them for sleeping threads stopped spinning for us. */
        _Atomic uint32_t rpending;
        _Atomic uint32_t wpending;
        uint8_t pad1b[12];

        /* cache line 2: producer side (the ring in this segment) */
        _Atomic uint64_t head;   /* bytes published in our ring (may end mid-frame) */
        _Atomic uint64_t wbytes; /* payload bytes written, counting a streaming frame
                                  * in full as soon as its header is published */
        _Atomic uint64_t wframes; /* frames started */
        _Atomic uint64_t wake_rbytes; /* wake a wsleeper once peer rbytes >= this */
        uint8_t pad2[32];

        /* cache line 3: consumer side (the peer's ring) */
        _Atomic uint64_t rpos;    /* bytes of the peer's ring we have consumed */
        _Atomic uint64_t rbytes;  /* payload bytes consumed or discarded */
        _Atomic uint64_t rwant;   /* bytes wanted by reads blocked right now (NOWAIT-04) */
        uint8_t pad3[40];
};

_Static_assert(offsetof(struct np_seg_hdr, seq) == 64, "seq on its own line");
_Static_assert(offsetof(struct np_seg_hdr, rwaiting) == 84 &&
                   offsetof(struct np_seg_hdr, wwaiting) == 104 &&
                   offsetof(struct np_seg_hdr, wpending) == 112,
               "the waiter counts on the line of seq, where version 2 had padding");
_Static_assert(offsetof(struct np_seg_hdr, head) == 128, "producer line");
_Static_assert(offsetof(struct np_seg_hdr, rpos) == 192, "consumer line");
_Static_assert(sizeof(struct np_seg_hdr) == 256, "np_seg_hdr size");
_Static_assert(sizeof(struct np_seg_hdr) <= NP_SEG_HDR_SIZE, "fits its page");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "64-bit atomics");
/* Two processes share these words: an atomic that is not lock-free is a
 * lock in one process's memory, which the other never takes. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "lock-free 32- and 64-bit atomics across processes");

/* np_frame.flags */
#define NP_FRAME_ABORTED 0x1u /* the write was cancelled: skip what is unread */

struct np_frame {
        uint32_t len;             /* payload bytes (0 is an empty message) */
        _Atomic uint32_t flags;   /* NP_FRAME_* */
};
_Static_assert(sizeof(struct np_frame) == NP_FRAME_ALIGN, "frame header size");

#endif /* NPIPE_RING_LAYOUT_H */
