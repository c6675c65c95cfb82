/*
 * timer.c - the deadline heap of pending waits: a binary min-heap of
 * np_waiter on deadline_ns, in broker->heap.
 *
 * Below the files that add and drop waits (requests.c, state.c) so that
 * neither calls up into the event loop; the loop only reads the earliest
 * deadline (broker->heap[0]) and expires it (np_wait_expired, state.c).
 */
#include "broker/broker.h"

#include <stdlib.h>

static void heap_set(struct np_broker *b, size_t i, struct np_waiter *w)
{
        b->heap[i] = w;
        w->heap_idx = i;
}

static void heap_up(struct np_broker *b, size_t i)
{
        struct np_waiter *w = b->heap[i];

        while (i > 0) {
                size_t parent = (i - 1) / 2;

                if (b->heap[parent]->deadline_ns <= w->deadline_ns)
                        break;
                heap_set(b, i, b->heap[parent]);
                i = parent;
        }
        heap_set(b, i, w);
}

static void heap_down(struct np_broker *b, size_t i)
{
        struct np_waiter *w = b->heap[i];

        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = l;

                if (l >= b->heap_len)
                        break;
                if (r < b->heap_len && b->heap[r]->deadline_ns < b->heap[l]->deadline_ns)
                        m = r;
                if (b->heap[m]->deadline_ns >= w->deadline_ns)
                        break;
                heap_set(b, i, b->heap[m]);
                i = m;
        }
        heap_set(b, i, w);
}

/* The heap only grows as far as the waits it must hold (bounded by
 * NP_LIM_WAITS_PER_CLIENT per client).  Returns -1 when it cannot grow. */
int np_timer_add(struct np_broker *b, struct np_waiter *w)
{
        if (b->heap_len == b->heap_cap) {
                size_t cap = b->heap_cap ? b->heap_cap * 2 : 64;
                struct np_waiter **h = realloc(b->heap, cap * sizeof *h);

                if (h == NULL)
                        return -1;
                b->heap = h;
                b->heap_cap = cap;
        }
        b->heap_len++;
        heap_set(b, b->heap_len - 1, w);
        heap_up(b, b->heap_len - 1);
        return 0;
}

void np_timer_del(struct np_broker *b, struct np_waiter *w)
{
        size_t i = w->heap_idx;
        struct np_waiter *last;

        if (i == NP_NOT_IN_HEAP)
                return;
        w->heap_idx = NP_NOT_IN_HEAP;
        last = b->heap[--b->heap_len];
        if (i == b->heap_len)
                return;
        heap_set(b, i, last);
        heap_up(b, i);
        heap_down(b, last->heap_idx);
}
