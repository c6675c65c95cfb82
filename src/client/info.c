/*
 * info.c - modes and information about an end.
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

/* ---- state and information ---------------------------------------------------------------- */

NPIPE_EXTERN int npipe_get_mode(npipe_t *hv, enum npipe_read_mode *read_mode, int *nowait)
{
        struct npipe *h;
        int r = np_h_enter(hv, &h);
        if (r < 0)
                return r;
        int st = np_end_state_now(h);
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
        int st = np_end_state_now(h);
        if (!h->can_set_mode)
                r = NPIPE_EACCES; /* MODE-05: checked before the values */
        else if (!h->server && st == NPIPE_STATE_DISCONNECTED)
                r = NPIPE_ENOTCONN;
        else if (read_mode && *read_mode != NPIPE_READ_BYTE && *read_mode != NPIPE_READ_MESSAGE)
                r = NPIPE_EINVAL;
        else if (read_mode && *read_mode == NPIPE_READ_MESSAGE &&
                 h->params.type == NPIPE_TYPE_BYTE && !h->rp)
                r = NPIPE_EINVAL; /* MODE-01 (a remote server checks itself) */
        else if (h->rp)
                r = np_smb_set_mode(h, read_mode, nowait); /* the server checks */
        else {
                if (read_mode)
                        atomic_store(&h->read_mode, *read_mode);
                if (nowait)
                        atomic_store(&h->nowait, *nowait ? 1 : 0);
        }
        np_h_put(h);
        return r;
}


NPIPE_EXTERN int npipe_get_info(npipe_t *hv, struct npipe_info *ret)
{
        struct npipe *h;
        int r = np_h_enter_out(hv, ret, NPIPE_EINVAL, &h);
        if (r < 0)
                return r;
        if (h->rp) {
                /* the server's view of its pipe (QUERY_INFO) */
                r = np_smb_get_info(h, ret);
                np_h_put(h);
                return r;
        }
        np_sync_listening(h);
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
                np_rd_lock(h);
                int64_t a = np_cons_avail(&c->cons);
                if (a >= 0)
                        a += (int64_t)np_conn_carried(c);
                np_rd_unlock(h);
                info.read_avail = a < 0 ? 0 : (a > UINT32_MAX ? UINT32_MAX : (uint32_t)a);
                np_lock(&h->wr, NP_LK_WR);
                int64_t u = np_prod_unread(&c->prod);
                np_unlock(&h->wr, NP_LK_WR);
                info.write_quota_avail = u < 0 ? 0 : ((uint64_t)u >= quota ? 0 : quota - (uint32_t)u);
        }
        struct np_query_reply q;
        r = np_query(h, &q);
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
        struct npipe *h;
        int r = np_h_enter_out(hv, ret, NPIPE_EBUFFER, &h);
        if (r < 0)
                return r;
        np_sync_listening(h);
        int st = np_end_state_now(h);
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
        struct npipe *h;
        int r = np_h_enter_out(hv, ret, NPIPE_EBUFFER, &h);
        if (r < 0)
                return r;
        int st = np_end_state_now(h);
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
        np_sync_listening(h);
        int st = np_end_state_now(h);
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
