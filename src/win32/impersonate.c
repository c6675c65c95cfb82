/*
 * impersonate.c - ImpersonateNamedPipeClient and RevertToSelf: the
 * calling thread takes the pipe client's credentials and gives them back.
 *
 * Its own file because it is a world of its own: per-thread saved ids,
 * raw credential system calls and account lookups, none of which the
 * rest of the layer needs (spec SEC).
 */
#include "win32/win32.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- ImpersonateNamedPipeClient, RevertToSelf ----------------------------------------------- */

/*
 * Windows gives the calling thread an impersonation token made from the
 * client's; file access and the like then run as the client until
 * RevertToSelf.  Here the thread takes the client's uid, gid and groups as
 * its effective ids (SEC-13: the peer credentials of the connection; for a
 * remote client the unix account and groups Samba mapped the SMB user to).
 *
 * Linux keeps credentials per thread, but glibc's setresuid(), setgid(),
 * setgroups() ... change every thread of the process (POSIX wants
 * process-wide ids, so glibc signals all threads to make the same call).
 * Impersonation must touch the calling thread only, so the raw system
 * calls are used: the kernel applies those to the calling task alone.
 * Only the effective ids change; the real and saved uid stay 0, which is
 * what lets RevertToSelf set the effective uid back to 0 unprivileged
 * (and the kernel gives back the capabilities with it).
 *
 * Without root there is nothing the thread may change, so the call can
 * succeed only when the client is our own uid: then the thread already
 * acts as it.  Any other client fails with ERROR_CANNOT_IMPERSONATE: a
 * success must never leave the thread running as itself while the caller
 * believes it runs as the client (SEC-12).
 */

/* What RevertToSelf puts back, per thread (thread-local: impersonation is
 * a property of the thread, as the token is on Windows). */
struct w_imp {
        int active; /* the ids below were replaced */
        uid_t euid;
        gid_t egid;
        int dumpable; /* PR_GET_DUMPABLE before (see revert) */
        int ngroups;
        gid_t *groups;
};

static pthread_key_t imp_key;
static pthread_once_t imp_once = PTHREAD_ONCE_INIT;
static _Thread_local struct w_imp *imp_self;

/* A thread that ends while impersonating loses its credentials with it;
 * only the saved list is ours to free. */
static void imp_free(void *v)
{
        struct w_imp *s = v;
        free(s->groups);
        free(s);
}

static void imp_init(void)
{
        pthread_key_create(&imp_key, imp_free);
}

static struct w_imp *imp_state(void)
{
        if (imp_self)
                return imp_self;
        pthread_once(&imp_once, imp_init);
        struct w_imp *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        if (pthread_setspecific(imp_key, s) != 0) {
                free(s);
                return NULL;
        }
        imp_self = s;
        return s;
}

/* The raw calls, with 32-bit ids (the plain numbers take 16-bit ids on
 * the 32-bit ABIs that have the *32 variants). */
static int raw_setgroups(size_t n, const gid_t *list)
{
#ifdef SYS_setgroups32
        return (int)syscall(SYS_setgroups32, n, list);
#else
        return (int)syscall(SYS_setgroups, n, list);
#endif
}

static int raw_setresgid(gid_t egid)
{
#ifdef SYS_setresgid32
        return (int)syscall(SYS_setresgid32, (gid_t)-1, egid, (gid_t)-1);
#else
        return (int)syscall(SYS_setresgid, (gid_t)-1, egid, (gid_t)-1);
#endif
}

static int raw_setresuid(uid_t euid)
{
#ifdef SYS_setresuid32
        return (int)syscall(SYS_setresuid32, (uid_t)-1, euid, (uid_t)-1);
#else
        return (int)syscall(SYS_setresuid, (uid_t)-1, euid, (uid_t)-1);
#endif
}

/* Back to the thread's own ids.  The uid first: while the effective uid is
 * the client's the thread has no CAP_SETGID, so the gid and the groups can
 * only be restored once it is 0 again. */
static BOOL revert(struct w_imp *s)
{
        if (!s || !s->active)
                return TRUE;
        if (raw_setresuid(s->euid) < 0)
                return np_win_fail(ERROR_ACCESS_DENIED);
        int r = raw_setresgid(s->egid);
        if (raw_setgroups((size_t)s->ngroups, s->groups) < 0)
                r = -1;
        s->active = 0;
        free(s->groups);
        s->groups = NULL;
        s->ngroups = 0;
        /* the kernel marks the whole process undumpable (no core files, a
         * root-owned /proc entry) when a thread's effective uid changes;
         * that protects memory the client's uid could read, which it
         * cannot any more once we are back */
        if (s->dumpable == 1)
                prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        if (r < 0)
                return np_win_fail(ERROR_ACCESS_DENIED);
        return TRUE;
}

/* The groups of a local client: the peer credentials carry its uid and
 * gid only, so the groups are those of its account (as a login would
 * give it), or its gid alone when the uid has no account.  malloc'ed. */
static gid_t *account_groups(uid_t uid, gid_t gid, int *n)
{
        struct passwd pw, *res = NULL;
        char tmp[1024];
        int cap = 32;
        gid_t *g = malloc(sizeof(*g) * (size_t)cap);
        if (!g)
                return NULL;
        if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || !res) {
                g[0] = gid;
                *n = 1;
                return g;
        }
        for (;;) {
                int want = cap;
                if (getgrouplist(res->pw_name, gid, g, &want) >= 0) {
                        *n = want;
                        return g;
                }
                /* too small: want is the size it takes */
                if (want <= cap || want > 65536) {
                        free(g);
                        return NULL;
                }
                gid_t *bigger = realloc(g, sizeof(*g) * (size_t)want);
                if (!bigger) {
                        free(g);
                        return NULL;
                }
                g = bigger;
                cap = want;
        }
}

/* Who the thread becomes: uid, gid and groups (malloc'ed), or the error. */
struct w_cred {
        uid_t uid;
        gid_t gid;
        int ngroups;
        gid_t *groups;
};

static DWORD client_cred(HANDLE h, struct w_cred *c)
{
        struct w_pipe *p = np_win_pipe_enter(h);
        if (!p)
                return ERROR_INVALID_HANDLE;
        if (!p->server) {
                np_win_pipe_leave(p);
                /* SEC-08, FSCTL-02: STATUS_ILLEGAL_FUNCTION */
                return np_win_op_error(WOP_QUERY, NPIPE_EFUNCTION, 0);
        }
        struct npipe_remote_client *rc = malloc(sizeof(*rc));
        if (!rc) {
                np_win_pipe_leave(p);
                return ERROR_NOT_ENOUGH_MEMORY;
        }
        c->groups = NULL;
        int local = 0;
        int r = npipe_remote_client(p->np, rc);
        if (r == NPIPE_ELOCAL) {
                local = 1;
                /* also once the client has closed its end (CLOSING): the
                 * credentials stay with the instance until it is
                 * disconnected (SEC-07) */
                r = npipe_peer_cred(p->np, &c->uid, &c->gid);
        }
        np_win_pipe_leave(p);
        if (r < 0) {
                free(rc);
                /* SEC-06: nobody there (listening, disconnected) */
                return ERROR_CANNOT_IMPERSONATE;
        }
        if (local) {
                c->groups = account_groups(c->uid, c->gid, &c->ngroups);
        } else {
                c->uid = rc->uid;
                c->gid = rc->gid;
                c->ngroups = (int)(rc->ngroups < 32 ? rc->ngroups : 32);
                c->groups = malloc(sizeof(gid_t) * (size_t)(c->ngroups ? c->ngroups : 1));
                if (c->groups)
                        memcpy(c->groups, rc->groups, sizeof(gid_t) * (size_t)c->ngroups);
        }
        free(rc);
        return c->groups ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
}

/* Save the thread's ids and take the client's; everything or nothing. */
static BOOL become(struct w_imp *s, const struct w_cred *c)
{
        int n = getgroups(0, NULL);
        if (n < 0)
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        gid_t *saved = malloc(sizeof(gid_t) * (size_t)(n ? n : 1));
        if (!saved)
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        n = getgroups(n, saved);
        if (n < 0) {
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        uid_t euid = geteuid();
        gid_t egid = getegid();
        int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        /* groups and gid while we still have CAP_SETGID, the uid last */
        if (raw_setgroups((size_t)c->ngroups, c->groups) < 0) {
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        if (raw_setresgid(c->gid) < 0) {
                raw_setgroups((size_t)n, saved);
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        if (raw_setresuid(c->uid) < 0) {
                raw_setresgid(egid);
                raw_setgroups((size_t)n, saved);
                free(saved);
                return np_win_fail(ERROR_CANNOT_IMPERSONATE);
        }
        s->euid = euid;
        s->egid = egid;
        s->dumpable = dumpable;
        s->ngroups = n;
        s->groups = saved;
        s->active = 1;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ImpersonateNamedPipeClient(HANDLE hNamedPipe)
{
        struct w_cred c;
        DWORD err = client_cred(hNamedPipe, &c);
        if (err != ERROR_SUCCESS)
                return np_win_fail(err);
        struct w_imp *s = imp_state();
        if (!s) {
                free(c.groups);
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        /* A new impersonation replaces the one in force, as a new token
         * does: first back to our own ids, which decide what we may do and
         * are what RevertToSelf must restore.  A failure below leaves the
         * thread as itself, never as the previous client. */
        if (!revert(s)) {
                free(c.groups);
                return FALSE;
        }
        BOOL ok;
        if (geteuid() == 0)
                ok = become(s, &c);
        else if (c.uid == geteuid())
                ok = TRUE; /* already acting as the client's uid */
        else
                ok = np_win_fail(ERROR_CANNOT_IMPERSONATE);
        free(c.groups);
        return ok;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_RevertToSelf(void)
{
        /* not impersonating: nothing to do, and that is success */
        return revert(imp_self);
}
