/*
 * smb.c - remote pipes: \\host\pipe\NAME through the libnpipe-smb module
 * (src/smb/module.h, issue 14, docs/remote.md).
 *
 * The library itself stays free of GSSAPI and libcrypto: the first remote
 * name dlopen()s the module, and a remote handle is an ordinary npipe_t
 * whose h->rp is the module's handle.  The data calls reach here from
 * data_entry (io.c) only when the handle has no connection, so a local
 * pipe's path pays nothing for this file.
 *
 * Closing: npipe_close marks the handle closed, so no call enters the
 * module any more, then cancels what is in progress until every call has
 * left (np_smb_cancel, again each time it waits), and only then closes the module's handle: the
 * module never sees a call on a handle it freed.
 */
#include "os/lockorder.h"
#include "client/client.h"
#include "client/internal.h"
#include "core/name.h"
#include "smb/module.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bound of connecting and logging on when the caller gives none. */
#define NP_SMB_CONNECT_MS 20000

/* ---- the module ----------------------------------------------------------------------------- */

static pthread_once_t mod_once = PTHREAD_ONCE_INIT;
static const struct np_smb_module *mod;
static char mod_why[512];

/* dlopen path, keeping the first failure's words. */
static void *try_load(const char *path)
{
        void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl && !mod_why[0]) {
                const char *e = dlerror();
                snprintf(mod_why, sizeof(mod_why), "cannot load %s: %s", path, e ? e : "?");
        }
        return dl;
}

static void load(void)
{
        const char *path = np_env("NPIPE_SMB_MODULE");
        void *dl = NULL;
        if (path && *path) {
                dl = try_load(path);
        } else {
                /* where it is installed, LIBDIR/npipe/, beside the
                 * libnpipe this code is in; then beside it (an uninstalled
                 * build); then where ld.so looks */
                static const char *const sub[] = {"/npipe/", "/"};
                Dl_info di;
                if (dladdr((void *)&load, &di) && di.dli_fname) {
                        const char *slash = strrchr(di.dli_fname, '/');
                        int dlen = slash ? (int)(slash - di.dli_fname) : 0;
                        char p[PATH_MAX];
                        for (size_t i = 0; slash && !dl && i < 2; i++)
                                if ((size_t)snprintf(p, sizeof(p), "%.*s%s%s", dlen, di.dli_fname,
                                                     sub[i], NP_SMB_SONAME) < sizeof(p))
                                        dl = dlopen(p, RTLD_NOW | RTLD_LOCAL);
                }
                if (!dl)
                        dl = try_load(NP_SMB_SONAME);
        }
        if (!dl)
                return;
        const struct np_smb_module *m = dlsym(dl, NP_SMB_SYMBOL);
        if (!m || m->abi != NP_SMB_ABI || m->size < sizeof(*m)) {
                snprintf(mod_why, sizeof(mod_why),
                         "%s is not the module this libnpipe %s needs (ABI %u)", NP_SMB_SONAME,
                         NPIPE_VERSION_STRING, NP_SMB_ABI);
                dlclose(dl);
                return;
        }
        mod_why[0] = '\0';
        mod = m; /* never unloaded: its threads may run until exit */
}

/* The module, or NULL (NPIPE_ENOREMOTE; np_remote_why says why). */
static const struct np_smb_module *module(void)
{
        pthread_once(&mod_once, load);
        if (!mod)
                np_diag_remote_set(mod_why);
        return mod;
}

/* Keep the module's words for a failed call. */
static int failed(const struct np_smb_module *m, int r)
{
        if (r < 0 && r != NPIPE_EMOREDATA && r != NPIPE_EAGAIN)
                np_diag_remote_set(m->why());
        return r;
}

NPIPE_EXTERN int npipe_remote_credentials(const char *host, const struct npipe_remote_auth *auth)
{
        if (!auth)
                return NPIPE_EINVAL;
        const struct np_smb_module *m = module();
        if (!m)
                return NPIPE_ENOREMOTE;
        return failed(m, m->configure(host, auth));
}

/* ---- names ---------------------------------------------------------------------------------- */

int np_smb_name(const char *path, struct np_smb_name *n)
{
        const char *bare;
        size_t blen;
        int r = np_name_remote(path, n->host, sizeof(n->host), &bare, &blen);
        if (r <= 0)
                return r;
        memcpy(n->bare, bare, blen);
        n->bare[blen] = '\0';
        return 1;
}

/* ---- open, wait ----------------------------------------------------------------------------- */

int np_smb_wait(const struct np_smb_name *n, int timeout_ms)
{
        const struct np_smb_module *m = module();
        if (!m)
                return NPIPE_ENOREMOTE;
        return failed(m, m->wait(n->host, n->bare, timeout_ms));
}

int np_smb_open(const struct np_smb_name *n, unsigned access, int timeout_ms, npipe_t **ret)
{
        const struct np_smb_module *m = module();
        if (!m)
                return NPIPE_ENOREMOTE;
        int64_t deadline = np_deadline_of(timeout_ms);
        struct np_rpipe *rp;
        for (;;) {
                /* connecting and logging on are bounded even when the
                 * caller does not wait for an instance (0) or waits for
                 * ever: a host that does not answer must not hang it */
                int left = deadline < 0 || timeout_ms == 0 ? NP_SMB_CONNECT_MS
                                                           : np_remaining_ms(deadline);
                int r = m->open(n->host, n->bare, access, left, &rp);
                if (r == 0)
                        break;
                if (r != NPIPE_EBUSY || timeout_ms == 0)
                        return failed(m, r);
                if (deadline >= 0 && np_remaining(deadline) == 0)
                        return NPIPE_ETIMEDOUT;
                r = m->wait(n->host, n->bare, np_remaining_ms(deadline));
                if (r < 0)
                        return failed(m, r);
        }
        struct npipe *h = np_h_new(0);
        char *name = strdup(n->bare);
        if (!h || !name) {
                free(name);
                if (h)
                        np_h_free(h);
                m->close(rp);
                return NPIPE_ENOMEM;
        }
        h->rp = rp;
        h->name = name;
        h->state = NPIPE_STATE_CONNECTED;
        h->access = access;
        h->can_read = !!(access & NPIPE_READ);
        h->can_write = !!(access & NPIPE_WRITE);
        h->can_set_mode = !!(access & (NPIPE_WRITE | NPIPE_WRITE_ATTRIBUTES));
        atomic_store(&h->read_mode, NPIPE_READ_BYTE);
        /* What the pipe is comes from the server (QUERY_INFO).  Samba does
         * not answer it on IPC$: its pipes are message pipes (DCE/RPC, or
         * an npipe server behind the bridge), duplex, and a READ there
         * returns one message (docs/remote.md), so that is what the handle
         * says then. */
        struct npipe_info info;
        if (m->get_info(rp, &info) == 0) {
                h->params.type = info.type;
                h->params.dir = info.dir;
                h->params.in_quota = info.in_quota;
                h->params.out_quota = info.out_quota;
                atomic_store(&h->read_mode, info.read_mode);
        } else {
                h->params.type = NPIPE_TYPE_MESSAGE;
                h->params.dir = NPIPE_DUPLEX;
                h->remote_info_unknown = 1;
        }
        *ret = np_handle_value(h);
        return 0;
}

/* ---- calls on a remote handle --------------------------------------------------------------- */

/* A call that the close of its handle in another thread cancelled: the
 * handle is gone for it (CLOSE-06), as for a local pipe. */
static int result(struct npipe *h, int r)
{
        if (r == NPIPE_ECANCELED && __atomic_load_n(&h->closed, __ATOMIC_SEQ_CST))
                return NPIPE_EBADF;
        return failed(mod, r);
}

int np_smb_read(struct npipe *h, void *buf, size_t len, size_t *nread, int timeout_ms)
{
        if (!h->can_read)
                return NPIPE_EACCES;
        return result(h, mod->read(h->rp, buf, len, nread, timeout_ms));
}

int np_smb_write(struct npipe *h, const void *buf, size_t len, size_t *nwritten, int timeout_ms)
{
        if (!h->can_write)
                return NPIPE_EACCES;
        return result(h, mod->write(h->rp, buf, len, nwritten, timeout_ms));
}

int np_smb_transact(struct npipe *h, const void *in, size_t in_len, void *out, size_t out_len,
                    size_t *nread)
{
        if (!h->can_read || !h->can_write)
                return NPIPE_EACCES; /* TRANS-12 */
        return result(h, mod->transact(h->rp, in, in_len, out, out_len, nread));
}

int np_smb_peek(struct npipe *h, void *buf, size_t len, struct npipe_peek *ret)
{
        if (!h->can_read)
                return NPIPE_EACCES; /* PEEK-14 */
        return result(h, mod->peek(h->rp, buf, len, ret));
}

int np_smb_flush(struct npipe *h)
{
        return result(h, mod->flush(h->rp));
}

int np_smb_get_info(struct npipe *h, struct npipe_info *ret)
{
        int r = h->remote_info_unknown ? NPIPE_ENOTSUP : mod->get_info(h->rp, ret);
        if (r != NPIPE_ENOTSUP)
                return result(h, r);
        /* A server that does not say (Samba): what the handle knows */
        memset(ret, 0, sizeof(*ret));
        ret->type = (enum npipe_type)h->params.type;
        ret->dir = (enum npipe_dir)h->params.dir;
        ret->max_instances = NPIPE_UNLIMITED_INSTANCES;
        ret->state = NPIPE_STATE_CONNECTED;
        ret->read_mode = (enum npipe_read_mode)atomic_load(&h->read_mode);
        ret->nowait = atomic_load(&h->nowait);
        return 0;
}

int np_smb_set_mode(struct npipe *h, const enum npipe_read_mode *read_mode, const int *nowait)
{
        int r = mod->set_mode(h->rp, read_mode, nowait);
        /* Samba refuses SET_INFO on IPC$ (STATUS_NOT_SUPPORTED) and reads
         * messages whatever the mode: the handle keeps the mode, as the
         * Win32 calls that read it back expect (docs/remote.md) */
        if (r == NPIPE_ENOTSUP && !(nowait && *nowait))
                r = 0;
        if (r == 0 && read_mode)
                atomic_store(&h->read_mode, *read_mode);
        if (r == 0 && nowait)
                atomic_store(&h->nowait, !!*nowait);
        return result(h, r);
}

int np_smb_cancel(struct npipe *h)
{
        return mod->cancel(h->rp);
}


void np_smb_close(struct npipe *h)
{
        mod->close(h->rp);
        h->rp = NULL;
}
