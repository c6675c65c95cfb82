/*
 * fuzz_ring.c - libFuzzer harness for the shared-memory ring (core/ring.c).
 *
 * A connection end trusts nothing in the memory its peer can write: the
 * peer's segment (its producer header and ring, its consumer indices).
 * Here the fuzzer *is* that peer.  Two segments are set up as in a real
 * connection:
 *
 *   A  the hostile peer's segment: an honest producer writes real messages
 *      into it (so the fuzzer starts from meaningful states), and the input
 *      then scribbles on any of it - head, wbytes, ring bytes, chunk
 *      headers, lengths, flags, and the consumer indices rpos/rbytes/rwant
 *      that the victim's producer reads;
 *   B  the victim's segment: its consumer (struct np_cons) reads A's ring
 *      and publishes into B; its producer (struct np_prod) writes B's ring
 *      against A's consumer indices.
 *
 * The input is a script of operations interleaving the scribbles with
 * every consumer and producer entry point: np_cons_read in byte and
 * message mode, np_cons_peek, np_cons_avail, np_cons_has_chunk,
 * np_prod_write, np_prod_unread, np_prod_room, np_prod_drained and
 * np_prod_abort.  Both segments are heap blocks of exactly their mapped
 * size, so ASan reports any access outside them, and UBSan any misaligned
 * or overflowing one.  The properties: no crash, no access outside the
 * segments and the caller's buffers, and the results stay within what the
 * API promises (a read never reports more than its buffer).
 *
 * covers: issue 4 item 2 (the ring reader over arbitrary shared memory)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ring.h"

struct input {
        const uint8_t *p;
        size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
        uint64_t v = 0;

        for (unsigned i = 0; i < bytes; i++) {
                v |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
                if (in->n) {
                        in->p++;
                        in->n--;
                }
        }
        return v;
}

/* A value near `base` most of the time, else anything: boundary and
 * adversarial values are where the checks live. */
static uint64_t near(struct input *in, uint64_t base)
{
        uint8_t how = (uint8_t)take(in, 1);

        switch (how % 8) {
        case 0:
                return take(in, 8);
        case 1:
                return base - take(in, 1);
        case 2:
                return UINT64_MAX - take(in, 1);
        default:
                return base + take(in, 2) - 64;
        }
}

static void store64(_Atomic uint64_t *a, uint64_t v)
{
        atomic_store_explicit(a, v, memory_order_relaxed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = {data, size};
        uint32_t cap_a = NP_RING_MIN << (take(&in, 1) % 2);
        uint32_t cap_b = NP_RING_MIN << (take(&in, 1) % 2);
        uint8_t *seg_a = malloc(NP_SEG_HDR_SIZE + cap_a);
        uint8_t *seg_b = malloc(NP_SEG_HDR_SIZE + cap_b);
        struct np_seg_hdr *ha = (struct np_seg_hdr *)seg_a, *hb = (struct np_seg_hdr *)seg_b;
        uint8_t *ring_a = seg_a + NP_SEG_HDR_SIZE;
        static uint8_t src[3 * 8192], dst[3 * 8192];
        struct np_cons cons;
        struct np_prod honest, victim;
        size_t hdone = 0, vdone = 0, hlen = 0, vlen = 0;
        unsigned ops = 0;

        if (seg_a == NULL || seg_b == NULL)
                abort();
        memset(seg_a, 0, NP_SEG_HDR_SIZE + cap_a);
        memset(seg_b, 0, NP_SEG_HDR_SIZE + cap_b);
        np_seg_init(ha, cap_a, NP_ROLE_SERVER);
        np_seg_init(hb, cap_b, NP_ROLE_CLIENT);
        if (np_seg_check(ha, NP_SEG_HDR_SIZE + cap_a, NP_ROLE_SERVER) != 0)
                abort();
        static int src_ready;

        if (!src_ready) {
                for (size_t i = 0; i < sizeof src; i++)
                        src[i] = (uint8_t)(i * 131u + 7u);
                src_ready = 1;
        }
        np_cons_init(&cons, ha, hb);
        np_prod_init(&honest, ha, hb);
        np_prod_init(&victim, hb, ha);

        while (in.n > 0 && ops++ < 512) {
                uint8_t op = (uint8_t)take(&in, 1);

                switch (op % 20) {
                case 0: /* the honest producer writes a message (maybe streaming) */
                        if (hdone >= hlen) {
                                hlen = (size_t)take(&in, 2) % (2 * cap_a + 64);
                                hdone = 0;
                        }
                        if (np_prod_write(&honest, src, hlen, &hdone) == NP_RING_OK)
                                hdone = hlen = 0;
                        break;
                case 1: /* scribble: producer head */
                        store64(&ha->head, near(&in, cons.pos));
                        break;
                case 2: /* scribble: payload written */
                        store64(&ha->wbytes, near(&in, cons.rbytes));
                        break;
                case 3: { /* scribble: ring bytes anywhere */
                        uint32_t off = (uint32_t)take(&in, 2) % cap_a;
                        uint32_t len = (uint32_t)take(&in, 1) % 32;

                        for (uint32_t i = 0; i < len; i++)
                                ring_a[(off + i) % cap_a] = (uint8_t)take(&in, 1);
                        break;
                }
                case 4: { /* scribble: a chunk header at (or near) the read position */
                        struct np_chunk ch;
                        uint64_t pos = cons.pos + 8 * (take(&in, 1) % 4);
                        uint8_t *hdr = (uint8_t *)&ch;

                        ch.f.len = (uint32_t)near(&in, take(&in, 1) % 64);
                        atomic_store_explicit(&ch.f.flags, (uint32_t)take(&in, 1),
                                              memory_order_relaxed);
                        ch.msg_len = (uint32_t)near(&in, ch.f.len);
                        ch.pofs = (uint32_t)take(&in, 4);
                        for (unsigned i = 0; i < sizeof ch; i++)
                                ring_a[(pos + i) % cap_a] = hdr[i];
                        if (take(&in, 1) & 1)
                                store64(&ha->head, pos + np_chunk_span(ch.f.len));
                        break;
                }
                case 5: { /* scribble: flip flags of the chunk at the read position */
                        uint32_t *f = (uint32_t *)(void *)(ring_a + ((cons.pos + 4) % cap_a));

                        *f ^= (uint32_t)take(&in, 1);
                        break;
                }
                case 6: /* scribble: the consumer indices the victim producer reads */
                        store64(&ha->rpos, near(&in, victim.head));
                        break;
                case 7:
                        store64(&ha->rbytes, near(&in, victim.wbytes));
                        break;
                case 8:
                        store64(&ha->rwant, take(&in, 8));
                        atomic_store_explicit(&ha->seq, (uint32_t)take(&in, 4),
                                              memory_order_relaxed);
                        atomic_store_explicit(&ha->state, (uint32_t)take(&in, 1),
                                              memory_order_relaxed);
                        break;
                case 9:
                case 10: { /* victim reads, byte or message mode */
                        size_t len = (size_t)take(&in, 2) % (sizeof dst + 1);
                        size_t done = 0;
                        uint8_t *buf = malloc(len ? len : 1);
                        int r;

                        if (buf == NULL)
                                abort();
                        /* a read in progress (message mode, PARTIAL) goes on
                         * with the same buffer in real use; start afresh */
                        r = np_cons_read(&cons, len ? buf : NULL, len, op % 20 == 10, &done);
                        if (done > len || r < NP_RING_CORRUPT || r > NP_RING_FULL)
                                abort();
                        free(buf);
                        break;
                }
                case 11: { /* victim peeks */
                        size_t len = (size_t)take(&in, 2) % (sizeof dst + 1);
                        uint8_t *buf = malloc(len ? len : 1);
                        struct np_peek_result res;

                        if (buf == NULL)
                                abort();
                        if (np_cons_peek(&cons, len ? buf : NULL, len, take(&in, 1) & 1, &res) ==
                                0 &&
                            res.copied > len)
                                abort();
                        free(buf);
                        break;
                }
                case 12:
                        (void)np_cons_avail(&cons);
                        (void)np_cons_has_chunk(&cons);
                        break;
                case 13: /* victim writes against hostile consumer indices */
                        if (vdone >= vlen) {
                                vlen = (size_t)take(&in, 2) % (2 * cap_b + 64);
                                vdone = 0;
                        }
                        if (np_prod_write(&victim, src, vlen, &vdone) != NP_RING_FULL)
                                vdone = vlen = 0;
                        break;
                case 14:
                        (void)np_prod_unread(&victim);
                        (void)np_prod_room(&victim);
                        (void)np_prod_drained(&victim);
                        break;
                case 15: { /* victim cancels a write (QUOTA-07) */
                        uint64_t end = victim.head - 8 * (take(&in, 1) % 64);
                        uint64_t first = end - 8 * (take(&in, 2) % 1024);
                        int streaming = victim.streaming && (take(&in, 1) & 1);

                        (void)np_prod_abort(&victim, first, end, streaming);
                        if (streaming)
                                vdone = vlen = 0;
                        break;
                }
                case 16: /* an honest consumer of the victim: indices that are right */
                        store64(&ha->rpos, victim.head - 8 * (take(&in, 1) % 8));
                        store64(&ha->rbytes, victim.wbytes - take(&in, 1));
                        break;
                default: /* the honest producer again: more real data */
                        hlen = (size_t)take(&in, 1) * 8;
                        hdone = 0;
                        if (np_prod_write(&honest, src, hlen, &hdone) == NP_RING_OK)
                                hdone = hlen = 0;
                        break;
                }
        }
        free(seg_a);
        free(seg_b);
        return 0;
}
