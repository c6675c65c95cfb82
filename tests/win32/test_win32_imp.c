/*
 * test_win32_imp.c - who the client is: GetNamedPipeClientComputerName
 * (INFO-13), ImpersonateNamedPipeClient and RevertToSelf (SEC-06, SEC-07,
 * SEC-08, SEC-12, SEC-13), the user name of GetNamedPipeHandleState
 * (MODE-09), and the NULL DACL that lets every user connect.
 *
 * The cross-user test needs root (it is a pass with a message otherwise):
 * it runs a shared broker (npiped --shared, as tests/access does) so that
 * a child that has become uid 65534 can reach the pipe, and checks that
 * impersonation changes the ids of the impersonating thread only.  Remote
 * (SMB) clients are not reachable from here; tests/remote has the smbd.
 */
#include "w_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define OTHER_UID ((uid_t)65534)
#define OTHER_GID ((gid_t)65534)

/* The login name of a uid, as GetNamedPipeHandleState reports it. */
static void login_name(uid_t uid, char *buf, size_t size)
{
        struct passwd *pw = getpwuid(uid);
        if (pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned)uid);
}

/* ---- GetNamedPipeClientComputerName --------------------------------------------------------- */

static void pipe_local(HANDLE h)
{
        char a[64];
        WCHAR w[64];
        memset(a, 'x', sizeof(a));
        WT_FAILS(GetNamedPipeClientComputerNameA(h, a, sizeof(a)), ERROR_PIPE_LOCAL);
        ck_assert_int_eq(a[0], 'x');
        WT_FAILS(GetNamedPipeClientComputerNameW(h, w, sizeof(w)), ERROR_PIPE_LOCAL);
        /* the buffer is not what decides it */
        WT_FAILS(GetNamedPipeClientComputerNameA(h, a, 0), ERROR_PIPE_LOCAL);
}

/* A client in another thread, as the other tests have them. */
struct opener {
        const char *name;
        HANDLE cli;
        HANDLE opened, done; /* events: set by the thread / by the test */
};

static DWORD WINAPI open_and_write(LPVOID arg)
{
        struct opener *o = arg;
        o->cli =
            CreateFileA(o->name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        DWORD n = 0;
        if (o->cli != INVALID_HANDLE_VALUE)
                WriteFile(o->cli, "hi", 2, &n, NULL);
        SetEvent(o->opened);
        /* the client stays until the test lets it go, then closes its end */
        WaitForSingleObject(o->done, W_LONG);
        if (o->cli != INVALID_HANDLE_VALUE)
                CloseHandle(o->cli);
        return 0;
}

static HANDLE start_opener(struct opener *o, const char *name)
{
        o->name = name;
        o->cli = INVALID_HANDLE_VALUE;
        o->opened = w_event(TRUE, FALSE);
        o->done = w_event(TRUE, FALSE);
        HANDLE th = CreateThread(NULL, 0, open_and_write, o, 0, NULL);
        ck_assert_ptr_nonnull(th);
        return th;
}

/* Connect and read the client's "hi" (SEC-07: connected, data read). */
static void accept_hi(HANDLE srv, struct opener *o)
{
        ck_assert_uint_eq(WaitForSingleObject(o->opened, W_LONG), WAIT_OBJECT_0);
        ck_assert_msg(o->cli != INVALID_HANDLE_VALUE, "the client could not open the pipe");
        npipe_win_SetLastError(0);
        BOOL ok = ConnectNamedPipe(srv, NULL);
        ck_assert(ok || GetLastError() == ERROR_PIPE_CONNECTED);
        char buf[8];
        DWORD n = 0;
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 2);
}

/* The client closes; the server sees it (the instance is CLOSING). */
static void client_leaves(HANDLE srv, struct opener *o, HANDLE th)
{
        SetEvent(o->done);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        char buf[8];
        DWORD n;
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, NULL), ERROR_BROKEN_PIPE);
        CloseHandle(th);
        CloseHandle(o->opened);
        CloseHandle(o->done);
}

/* covers: INFO-13 */
START_TEST(computer_name_local)
{
        W_NAME(name);
        HANDLE srv = w_server(name, 0, PIPE_TYPE_BYTE, 4096);
        /* no client yet: a local pipe has no client computer */
        pipe_local(srv);
        struct opener o;
        HANDLE th = start_opener(&o, name);
        accept_hi(srv, &o);
        /* a local client, and the client end itself */
        pipe_local(srv);
        pipe_local(o.cli);
        WT_FAILS(GetNamedPipeClientComputerNameA(INVALID_HANDLE_VALUE, NULL, 0),
                 ERROR_INVALID_HANDLE);
        HANDLE ev = w_event(TRUE, FALSE);
        WT_FAILS(GetNamedPipeClientComputerNameW(ev, NULL, 0), ERROR_INVALID_HANDLE);
        CloseHandle(ev);
        client_leaves(srv, &o, th);
        pipe_local(srv);
        WT_OK(DisconnectNamedPipe(srv));
        pipe_local(srv);
        CloseHandle(srv);
        /* anonymous pipes are local pipes too */
        HANDLE r, w;
        WT_OK(CreatePipe(&r, &w, NULL, 0));
        pipe_local(r);
        pipe_local(w);
        CloseHandle(r);
        CloseHandle(w);
}
END_TEST

/* ---- ImpersonateNamedPipeClient: the refusals ----------------------------------------------- */

/* covers: SEC-06, SEC-08, SEC-12 */
START_TEST(impersonate_refused)
{
        uid_t me = geteuid();
        WT_OK(RevertToSelf()); /* not impersonating: nothing to undo */
        W_NAME(name);
        HANDLE srv = w_server(name, 0, PIPE_TYPE_BYTE, 4096);
        /* SEC-06: nobody has connected yet */
        WT_FAILS(ImpersonateNamedPipeClient(srv), ERROR_CANNOT_IMPERSONATE);
        ck_assert_uint_eq(geteuid(), me);
        WT_FAILS(ImpersonateNamedPipeClient(INVALID_HANDLE_VALUE), ERROR_INVALID_HANDLE);
        HANDLE ev = w_event(TRUE, FALSE);
        WT_FAILS(ImpersonateNamedPipeClient(ev), ERROR_INVALID_HANDLE);
        CloseHandle(ev);

        struct opener o;
        HANDLE th = start_opener(&o, name);
        accept_hi(srv, &o);
        /* SEC-08: only the server end impersonates */
        WT_FAILS(ImpersonateNamedPipeClient(o.cli), ERROR_INVALID_FUNCTION);
        ck_assert_uint_eq(geteuid(), me);
        client_leaves(srv, &o, th);
        /* after a disconnect there is nobody again */
        WT_OK(DisconnectNamedPipe(srv));
        WT_FAILS(ImpersonateNamedPipeClient(srv), ERROR_CANNOT_IMPERSONATE);
        ck_assert_uint_eq(geteuid(), me);
        WT_OK(RevertToSelf());
        CloseHandle(srv);
}
END_TEST

/* ---- a client of our own uid ---------------------------------------------------------------- */

/* covers: SEC-07, SEC-13, MODE-09 */
START_TEST(impersonate_same_user)
{
        uid_t me = geteuid();
        gid_t my_gid = getegid();
        char want[256], got[256];
        WCHAR wgot[256];
        login_name(me, want, sizeof(want));
        W_NAME(name);
        HANDLE srv = w_server(name, 0, PIPE_TYPE_BYTE, 4096);
        struct opener o;
        HANDLE th = start_opener(&o, name);
        accept_hi(srv, &o);
        WT_OK(ImpersonateNamedPipeClient(srv));
        ck_assert_uint_eq(geteuid(), me);
        /* MODE-09: the client's name (a local client: its login name) */
        WT_OK(GetNamedPipeHandleStateA(srv, NULL, NULL, NULL, NULL, got, sizeof(got)));
        ck_assert_str_eq(got, want);
        WT_OK(GetNamedPipeHandleStateW(srv, NULL, NULL, NULL, NULL, wgot, 256));
        for (size_t i = 0; i <= strlen(want); i++)
                ck_assert_uint_eq(wgot[i], (unsigned char)want[i]);
        WT_FAILS(GetNamedPipeHandleStateA(srv, NULL, NULL, NULL, NULL, got, 1),
                 ERROR_INSUFFICIENT_BUFFER);
        WT_OK(RevertToSelf());
        WT_OK(RevertToSelf());
        ck_assert_uint_eq(geteuid(), me);
        ck_assert_uint_eq(getegid(), my_gid);

        /* SEC-07: the client has closed its handle, the instance is
         * closing: impersonation still works */
        client_leaves(srv, &o, th);
        WT_OK(ImpersonateNamedPipeClient(srv));
        ck_assert_uint_eq(geteuid(), me);
        WT_OK(RevertToSelf());
        ck_assert_uint_eq(geteuid(), me);
        ck_assert_uint_eq(getegid(), my_gid);
        CloseHandle(srv);
}
END_TEST

/* ---- NULL DACL: everyone may connect -------------------------------------------------------- */

struct find_policy {
        const char *bare;
        int policy; /* -1 until found */
};

static int find_policy_fn(void *ctx, const struct npipe_pipe_entry *e)
{
        struct find_policy *f = ctx;
        if (strcmp(e->name, f->bare) == 0)
                f->policy = (int)e->policy;
        return 0;
}

/* The native access policy the broker has for a pipe. */
static int policy_of(const char *name)
{
        struct find_policy f = {name + strlen("\\\\.\\pipe\\"), -1};
        ck_assert_int_eq(npipe_list(find_policy_fn, &f), 0);
        return f.policy;
}

static HANDLE server_with(const char *name, SECURITY_ATTRIBUTES *sa)
{
        HANDLE h = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 4096, 4096, 0, sa);
        ck_assert_msg(h != INVALID_HANDLE_VALUE, "CreateNamedPipe: %lu",
                      (unsigned long)GetLastError());
        return h;
}

START_TEST(null_dacl)
{
        SECURITY_DESCRIPTOR sd;
        WT_FAILS(InitializeSecurityDescriptor(&sd, 2), ERROR_UNKNOWN_REVISION);
        WT_OK(InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION));
        SECURITY_ATTRIBUTES sa = {sizeof(sa), &sd, FALSE};

        /* no DACL at all: the default (the creator and root) */
        W_NAME(n1);
        HANDLE h1 = server_with(n1, &sa);
        ck_assert_int_eq(policy_of(n1), NPIPE_ACCESS_OWNER);
        /* a NULL DACL: everyone */
        WT_OK(SetSecurityDescriptorDacl(&sd, TRUE, NULL, FALSE));
        W_NAME(n2);
        HANDLE h2 = server_with(n2, &sa);
        ck_assert_int_eq(policy_of(n2), NPIPE_ACCESS_EVERYONE);
        /* a DACL with entries: not interpreted, the default */
        ACL acl = {2, 0, sizeof(ACL), 0, 0};
        WT_OK(SetSecurityDescriptorDacl(&sd, TRUE, &acl, FALSE));
        W_NAME(n3);
        HANDLE h3 = server_with(n3, &sa);
        ck_assert_int_eq(policy_of(n3), NPIPE_ACCESS_OWNER);
        /* no attributes */
        W_NAME(n4);
        HANDLE h4 = server_with(n4, NULL);
        ck_assert_int_eq(policy_of(n4), NPIPE_ACCESS_OWNER);
        /* the self-relative form of a NULL DACL (offset 0) */
        SECURITY_DESCRIPTOR_RELATIVE rel = {
            SECURITY_DESCRIPTOR_REVISION, 0, SE_SELF_RELATIVE | SE_DACL_PRESENT, 0, 0, 0, 0};
        WT_FAILS(SetSecurityDescriptorDacl(&rel, TRUE, NULL, FALSE), ERROR_INVALID_SECURITY_DESCR);
        sa.lpSecurityDescriptor = &rel;
        W_NAME(n5);
        HANDLE h5 = server_with(n5, &sa);
        ck_assert_int_eq(policy_of(n5), NPIPE_ACCESS_EVERYONE);
        CloseHandle(h1);
        CloseHandle(h2);
        CloseHandle(h3);
        CloseHandle(h4);
        CloseHandle(h5);
}
END_TEST

/* ---- a client of another uid (root only) ---------------------------------------------------- */

static char shared_dir[64];
static pid_t shared_pid;

/* A broker every user can reach (npiped --shared: directory 0755, socket
 * 0666), the same way tests/access starts one.  0, or a reason to skip. */
static const char *start_shared(void)
{
        const char *broker = getenv("NPIPE_BROKER");
        if (!broker || !*broker)
                return "NPIPE_BROKER is not set";
        snprintf(shared_dir, sizeof(shared_dir), "/tmp/npipe-w32imp-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(shared_dir));
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        shared_pid = fork();
        ck_assert_int_ge(shared_pid, 0);
        if (shared_pid == 0) {
                char a1[128], a2[32];
                int fd = dup(p[1]); /* without O_CLOEXEC: the broker's ready fd */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                snprintf(a1, sizeof(a1), "--runtime-dir=%s", shared_dir);
                snprintf(a2, sizeof(a2), "--ready-fd=%d", fd);
                execl(broker, "npiped", "--shared", "--foreground", a1, a2, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        struct pollfd pfd = {p[0], POLLIN, 0};
        char c = 0;
        ck_assert_int_eq(poll(&pfd, 1, W_LONG), 1);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        ck_assert_int_eq(c, '1');
        close(p[0]);
        /* this process and its children use it from their first call on */
        setenv("NPIPE_RUNTIME_DIR", shared_dir, 1);
        return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

static void stop_shared(void)
{
        kill(shared_pid, SIGTERM);
        int st;
        ck_assert_int_eq(waitpid(shared_pid, &st, 0), shared_pid);
        nftw(shared_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The child: becomes OTHER_UID before its first npipe call, opens the
 * pipe, writes one byte, and closes when told. */
static int other_user_client(int chan, void *arg)
{
        const char *name = arg;
        C_CHECK(setgroups(0, NULL) == 0);
        C_CHECK(setgid(OTHER_GID) == 0);
        C_CHECK(setuid(OTHER_UID) == 0);
        /* after setuid: a change of credentials clears it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        C_CHECK(geteuid() == OTHER_UID && getuid() == OTHER_UID);
        C_EXPECT(chan, 'g');
        HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE) {
                fprintf(stderr, "child: CreateFile: %lu\n", (unsigned long)GetLastError());
                return 1;
        }
        DWORD n = 0;
        C_CHECK(WriteFile(h, "u", 1, &n, NULL) && n == 1);
        C_SEND(chan, 'o');
        C_EXPECT(chan, 'q');
        CloseHandle(h);
        return 0;
}

/* What an impersonating thread saw; the test asserts in its own thread. */
struct imp_run {
        HANDLE srv;
        HANDLE impersonating, go; /* events */
        int nested;               /* impersonate a second time before reverting */
        BOOL ok, ok_nested, ok_revert, ok_revert2;
        DWORD err;
        uid_t euid, euid_nested, euid_after, ruid;
        gid_t egid, egid_after;
        int ngroups, ngroups_after;
        gid_t groups[64], groups_after[64];
        char user[256];
};

static DWORD WINAPI imp_thread(LPVOID arg)
{
        struct imp_run *r = arg;
        r->ok = ImpersonateNamedPipeClient(r->srv);
        r->err = GetLastError();
        r->euid = geteuid();
        r->ruid = getuid();
        r->egid = getegid();
        r->ngroups = getgroups(64, r->groups);
        /* the name is the client's, whoever asks */
        GetNamedPipeHandleStateA(r->srv, NULL, NULL, NULL, NULL, r->user, sizeof(r->user));
        SetEvent(r->impersonating);
        WaitForSingleObject(r->go, W_LONG);
        if (r->nested) {
                r->ok_nested = ImpersonateNamedPipeClient(r->srv);
                r->euid_nested = geteuid();
        }
        r->ok_revert = RevertToSelf();
        r->euid_after = geteuid();
        r->egid_after = getegid();
        r->ngroups_after = getgroups(64, r->groups_after);
        r->ok_revert2 = RevertToSelf();
        return 0;
}

/* Impersonate in a new thread; while it does, this thread must still be
 * root with its own groups; after RevertToSelf the thread is root again. */
static void impersonate_other_in_thread(HANDLE srv, int nested)
{
        gid_t mine[64];
        int nmine = getgroups(64, mine);
        ck_assert_int_ge(nmine, 0);
        char want[256];
        login_name(OTHER_UID, want, sizeof(want));

        struct imp_run r;
        memset(&r, 0, sizeof(r));
        r.srv = srv;
        r.nested = nested;
        r.impersonating = w_event(TRUE, FALSE);
        r.go = w_event(TRUE, FALSE);
        HANDLE th = CreateThread(NULL, 0, imp_thread, &r, 0, NULL);
        ck_assert_ptr_nonnull(th);
        ck_assert_uint_eq(WaitForSingleObject(r.impersonating, W_LONG), WAIT_OBJECT_0);
        /* the other thread is the client now; this one is not */
        ck_assert_uint_eq(geteuid(), 0);
        ck_assert_uint_eq(getegid(), 0);
        gid_t now[64];
        ck_assert_int_eq(getgroups(64, now), nmine);
        ck_assert_int_eq(memcmp(now, mine, sizeof(gid_t) * (size_t)nmine), 0);
        SetEvent(r.go);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        CloseHandle(th);
        CloseHandle(r.impersonating);
        CloseHandle(r.go);

        ck_assert_msg(r.ok, "ImpersonateNamedPipeClient: %lu", (unsigned long)r.err);
        ck_assert_uint_eq(r.euid, OTHER_UID);
        ck_assert_uint_eq(r.egid, OTHER_GID);
        ck_assert_uint_eq(r.ruid, 0); /* only the effective ids change */
        ck_assert_int_ge(r.ngroups, 0);
        for (int i = 0; i < r.ngroups; i++)
                ck_assert_uint_ne(r.groups[i], 0);
        ck_assert_str_eq(r.user, want);
        if (nested) {
                ck_assert(r.ok_nested);
                ck_assert_uint_eq(r.euid_nested, OTHER_UID);
        }
        /* one RevertToSelf undoes it, however often it was impersonated */
        ck_assert(r.ok_revert);
        ck_assert(r.ok_revert2);
        ck_assert_uint_eq(r.euid_after, 0);
        ck_assert_uint_eq(r.egid_after, 0);
        ck_assert_int_eq(r.ngroups_after, nmine);
        ck_assert_int_eq(memcmp(r.groups_after, mine, sizeof(gid_t) * (size_t)nmine), 0);
}

/* A thread whose effective uid is not 0 (set here with the raw call, so
 * for this thread alone) cannot become anyone else. */
struct unprivileged {
        HANDLE srv;
        uid_t as;
        BOOL ok, ok_revert;
        DWORD err;
        uid_t euid, euid_after;
};

static DWORD WINAPI unprivileged_thread(LPVOID arg)
{
        struct unprivileged *u = arg;
        if (syscall(SYS_setresuid, (uid_t)-1, u->as, (uid_t)-1) < 0)
                return 1;
        npipe_win_SetLastError(0);
        u->ok = ImpersonateNamedPipeClient(u->srv);
        u->err = GetLastError();
        u->euid = geteuid();
        u->ok_revert = RevertToSelf();
        u->euid_after = geteuid();
        syscall(SYS_setresuid, (uid_t)-1, (uid_t)0, (uid_t)-1);
        return 0;
}

static void unprivileged_try(HANDLE srv, uid_t as, struct unprivileged *u)
{
        memset(u, 0, sizeof(*u));
        u->srv = srv;
        u->as = as;
        HANDLE th = CreateThread(NULL, 0, unprivileged_thread, u, 0, NULL);
        ck_assert_ptr_nonnull(th);
        ck_assert_uint_eq(WaitForSingleObject(th, W_LONG), WAIT_OBJECT_0);
        DWORD code = 99;
        WT_OK(GetExitCodeThread(th, &code));
        ck_assert_uint_eq(code, 0);
        CloseHandle(th);
        ck_assert(u->ok_revert);
        ck_assert_uint_eq(u->euid, as);
        ck_assert_uint_eq(u->euid_after, as);
}

/* covers: SEC-07, SEC-12, SEC-13, MODE-09 */
START_TEST(impersonate_other_user)
{
        if (geteuid() != 0) {
                printf("impersonate_other_user: skipped, needs root\n");
                return;
        }
        const char *why = start_shared();
        if (why) {
                printf("impersonate_other_user: skipped, %s\n", why);
                return;
        }
        W_NAME(name);
        /* the child is forked before this process makes its first npipe
         * call, so it starts with a clean library */
        struct h_child c;
        h_spawn(&c, other_user_client, name);

        SECURITY_DESCRIPTOR sd;
        WT_OK(InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION));
        WT_OK(SetSecurityDescriptorDacl(&sd, TRUE, NULL, FALSE));
        SECURITY_ATTRIBUTES sa = {sizeof(sa), &sd, FALSE};
        HANDLE srv = server_with(name, &sa);
        ck_assert_int_eq(h_send(c.chan, 'g'), 0);
        npipe_win_SetLastError(0);
        BOOL ok = ConnectNamedPipe(srv, NULL);
        ck_assert_msg(ok || GetLastError() == ERROR_PIPE_CONNECTED, "ConnectNamedPipe: %lu",
                      (unsigned long)GetLastError());
        H_EXPECT(c.chan, 'o');
        char buf[4];
        DWORD n = 0;
        WT_OK(ReadFile(srv, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 1);
        ULONG pid = 0;
        WT_OK(GetNamedPipeClientProcessId(srv, &pid));
        ck_assert_uint_eq(pid, (ULONG)c.pid);

        impersonate_other_in_thread(srv, 0);
        impersonate_other_in_thread(srv, 1);

        /* SEC-12: without root, another uid cannot be impersonated, and
         * the thread stays who it was; its own uid can */
        struct unprivileged u;
        unprivileged_try(srv, 12345, &u);
        ck_assert(!u.ok);
        ck_assert_uint_eq(u.err, ERROR_CANNOT_IMPERSONATE);
        unprivileged_try(srv, OTHER_UID, &u);
        ck_assert_msg(u.ok, "ImpersonateNamedPipeClient as the client's uid: %lu",
                      (unsigned long)u.err);

        /* SEC-07: after the client has closed its handle */
        ck_assert_int_eq(h_send(c.chan, 'q'), 0);
        H_ASSERT_CHILD_OK(&c);
        WT_FAILS(ReadFile(srv, buf, sizeof(buf), &n, NULL), ERROR_BROKEN_PIPE);
        impersonate_other_in_thread(srv, 0);
        ck_assert_uint_eq(geteuid(), 0);
        CloseHandle(srv);
        stop_shared();
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-imp");
        TCase *tc = h_tcase("imp", 60);
        tcase_add_test(tc, computer_name_local);
        tcase_add_test(tc, impersonate_refused);
        tcase_add_test(tc, impersonate_same_user);
        tcase_add_test(tc, null_dacl);
        tcase_add_test(tc, impersonate_other_user);
        suite_add_tcase(s, tc);
        return h_run(s);
}
