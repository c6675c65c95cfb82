/*
 * events.c - what the broker tells us: a client connected, a peer went away, the
 * broker itself went away (adoption by its successor).
 */
#include "os/lockorder.h"
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
        np_lock(&np_reg_lock, NP_LK_REG);
        struct npipe *h = np_reg_find(ev->instance_id, 1);
        if (!h) {
                np_unlock(&np_reg_lock, NP_LK_REG);
                if (fd >= 0)
                        close(fd);
                free(rid);
                return;
        }
        np_lock(&h->lock, NP_LK_STATE);
        np_unlock(&np_reg_lock, NP_LK_REG);
        if (h->closed || !h->listen_seg || h->conn) {
                np_unlock(&h->lock, NP_LK_STATE);
                if (fd >= 0)
                        close(fd);
                free(rid);
                return;
        }
        struct conn *c = np_conn_new(h->listen_seg, h->listen_size, fd, NP_ROLE_CLIENT, ev->conn_id);
        if (!c) {
                np_unlock(&h->lock, NP_LK_STATE);
                free(rid);
                return;
        }
        struct np_remote_id *old = h->remote;
        __atomic_store_n(&h->remote, rid, __ATOMIC_RELEASE);
        free(old);
        h->listen_seg = NULL;
        np_conn_set(h, c);
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
        np_unlock(&h->lock, NP_LK_STATE);
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
        np_lock(&np_reg_lock, NP_LK_REG);
        struct npipe *h = np_reg_find(server ? ev->instance_id : ev->conn_id, server);
        if (!h) {
                np_unlock(&np_reg_lock, NP_LK_REG);
                return;
        }
        np_lock(&h->lock, NP_LK_STATE);
        np_unlock(&np_reg_lock, NP_LK_REG);
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
        np_unlock(&h->lock, NP_LK_STATE);
        np_bump_ev(h);
        np_h_put(h);
        if (c) {
                np_wake_own_sleepers(c);
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
                        uint32_t cap = np_server_ring_cap(h->params.out_quota);
                        fd = np_seg_create(cap, NP_ROLE_SERVER, &seg, &sz);
                        if (fd < 0) {
                                np_conn_put(c);
                                return;
                        }
                        np_lock(&h->lock, NP_LK_STATE);
                        if (h->state == NPIPE_STATE_LISTENING && h->listen_seg && !h->conn) {
                                old = h->listen_seg;
                                old_sz = h->listen_size;
                                h->listen_seg = seg;
                                h->listen_size = sz;
                                seg = NULL;
                        }
                        np_unlock(&h->lock, NP_LK_STATE);
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
        size_t k;
        struct npipe **list = np_reg_hold_all(&k);
        for (size_t i = 0; i < k; i++) {
                adopt_one(list[i]);
                np_h_put(list[i]);
        }
        free(list);
}

/* fork: the handle table's lock, then the async engine's (after the
 * broker connection's, which broker.c takes first); undone in reverse. */
static void on_fork(int phase)
{
        if (phase == 0) {
                np_pipe_atfork(0);
                np_async_atfork(0);
        } else {
                np_async_atfork(phase);
                np_pipe_atfork(phase);
        }
}

static const struct np_broker_hooks events_hooks = {
    .connected = np_on_connected,
    .peer_gone = np_on_peer_gone,
    .stats = np_stats_collect,
    .lost = np_on_broker_lost,
    .atfork = on_fork,
};

static void install(void)
{
        np_broker_set_hooks(&events_hooks);
}

void np_events_install(void)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, install);
}
