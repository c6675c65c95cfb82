/*
 * watch.c - the event loop's epoll set as the files below the loop see
 * it: registering a descriptor, and the pidfd watches that follow the peer
 * process of a half-adopted connection (adopt.c).
 *
 * A file of its own so that adopt.c, state.c and requests.c, which start
 * and stop watches, never call up into the loop (loop.c).  The loop hands
 * a watch's event to adopt.c (np_pidwatch_fired) and frees the watches
 * that died during each epoll batch (np_watch_bury).
 */
#include "broker/broker.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

int np_watch_fd(struct np_broker *b, int fd, uint32_t events, struct np_src *src)
{
        struct epoll_event ev = {.events = events, .data.ptr = src};

        return epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- pidfd watches (adoption) -------------------------------------------- */

int np_watch_add(struct np_broker *b, struct np_pidwatch *w)
{
        w->src.kind = NP_SRC_PIDWATCH;
        np_link_init(&w->link);
        if (np_watch_fd(b, w->fd, EPOLLIN, &w->src) < 0)
                return -errno;
        b->n_watches++;
        return 0;
}

void np_watch_free(struct np_broker *b, struct np_pidwatch *w)
{
        if (w->fd >= 0) {
                epoll_ctl(b->epfd, EPOLL_CTL_DEL, w->fd, NULL);
                close(w->fd);
                w->fd = -1;
                b->n_watches--;
        }
        w->inst = NULL;
        w->conn = NULL;
        np_link_del(&w->link);
        np_link_add_tail(&b->watch_graveyard, &w->link);
}

void np_watch_bury(struct np_broker *b)
{
        while (!np_link_empty(&b->watch_graveyard)) {
                struct np_pidwatch *w =
                    np_container_of(b->watch_graveyard.next, struct np_pidwatch, link);

                np_link_del(&w->link);
                free(w);
        }
}

static void watch_release(struct np_broker *b, struct np_pidwatch **wp)
{
        if (*wp != NULL)
                np_watch_free(b, *wp);
        *wp = NULL;
}

void np_inst_pend_clear(struct np_broker *b, struct np_instance *i)
{
        watch_release(b, &i->pend_watch);
        i->pend_conn = 0;
        i->pend_pid = 0;
}

void np_conn_pend_clear(struct np_broker *b, struct np_conn *conn)
{
        watch_release(b, &conn->pend_watch);
        conn->pending = false;
        conn->pend_pid = 0;
}
