/*
 * spawn.c - CreateProcess and the parent's side of handle inheritance:
 * what each inheritable handle and standard handle becomes in the child
 * (a descriptor from handoff.c: a copy, or a Linux pipe with relay threads
 * for a pipe end), the program search, the environment block and the
 * spawn itself.  Kept apart from process.c - the process objects and
 * standard handles this uses, and the child's side, which takes the
 * handles over before main() - because starting a child is a piece of its
 * own: descriptor plumbing and the held child.
 *
 * A plain Linux child sees ordinary file descriptors on 0, 1, 2 (and
 * above, for other inherited handles); an npipe Win32 child finds its
 * inherited handles at the same HANDLE values as in the parent
 * (NPIPE_WIN32_HANDLES in its environment, read before main) and its
 * standard handles through GetStdHandle.  Handles of objects that stay
 * here (events...) reach it as placeholders at their values, which every
 * call there refuses.  Every child also gets the channel DuplicateHandle
 * sends further handles on (handoff.c; NPIPE_WIN32_CHANNEL), on the
 * descriptor after the inherited ones.
 *
 * CREATE_SUSPENDED: the child is forked and held before exec until
 * ResumeThread (process.c) writes to its gate; see "a child held before
 * exec" below.
 */
#include "win32/win32.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- CreateProcess -------------------------------------------------------------------------- */

/* What the child gets: descriptors (close-on-exec in the parent, above
 * every target number) and where they go. */
struct handoff {
        HANDLE h;       /* the parent's handle (NULL: a standard slot only) */
        int fd;         /* the parent's copy for the child */
        int target;     /* the child's descriptor */
        unsigned access;
        unsigned std;   /* standard slots it fills (bits 0..2) */
};

struct spawn_plan {
        struct handoff *v;
        size_t n, cap;
        int failed;
        DWORD err;
        /* the DuplicateHandle channel (handoff.c): the child's copy and
         * descriptor, our end; the first slot we may pick in the child */
        int chan_fd, chan_target, chan_mine;
        uint32_t first_remote;
};


static struct handoff *plan_add(struct spawn_plan *pl)
{
        if (pl->n == pl->cap) {
                size_t cap = pl->cap ? pl->cap * 2 : 8;
                struct handoff *v = realloc(pl->v, cap * sizeof(*v));
                if (!v) {
                        pl->failed = 1;
                        pl->err = ERROR_NOT_ENOUGH_MEMORY;
                        return NULL;
                }
                pl->v = v;
                pl->cap = cap;
        }
        struct handoff *e = &pl->v[pl->n++];
        memset(e, 0, sizeof(*e));
        e->fd = -1;
        e->target = -1;
        return e;
}

static void plan_inherited(HANDLE h, struct w_obj *o, void *arg)
{
        struct spawn_plan *pl = arg;
        if (pl->failed)
                return;
        unsigned access = 0;
        int fd = np_win_child_fd(o, &access);
        if (fd < 0 && (o->type == W_PIPE || o->type == W_FILE))
                return; /* a closed end, a descriptor we cannot copy */
        /* fd -1: an object that stays here (an event...); the child takes
         * its value as a handle every call refuses, not a value its own
         * handles could take (docs/win32.md) */
        struct handoff *e = plan_add(pl);
        if (!e) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        e->h = h;
        e->fd = fd;
        e->access = access;
}

/* Standard slot i of the child gets handle h: the inherited entry of h,
 * or a new one (a handle not marked inheritable still works here). */
static void plan_std(struct spawn_plan *pl, int i, HANDLE h)
{
        for (size_t k = 0; k < pl->n; k++)
                if (pl->v[k].h && pl->v[k].h == h && pl->v[k].fd >= 0) {
                        pl->v[k].std |= 1u << i;
                        return;
                }
        struct handoff *e = plan_add(pl);
        if (!e)
                return;
        e->std = 1u << i;
        struct w_obj *o = (h && h != INVALID_HANDLE_VALUE) ? np_win_handle_get(h, 0) : NULL;
        if (o) {
                e->fd = np_win_child_fd(o, &e->access);
                np_win_put(o);
        }
        /* nothing usable: the child reads and writes /dev/null */
        if (e->fd < 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                e->fd = null >= 0 ? fcntl(null, F_DUPFD_CLOEXEC, NP_WIN_FD_BASE) : -1;
                if (null >= 0)
                        close(null);
                e->access = WACC_READ | WACC_WRITE;
        }
}

static void plan_free(struct spawn_plan *pl)
{
        for (size_t k = 0; k < pl->n; k++)
                if (pl->v[k].fd >= 0)
                        close(pl->v[k].fd);
        free(pl->v);
        if (pl->chan_fd >= 0)
                close(pl->chan_fd);
        if (pl->chan_mine >= 0)
                close(pl->chan_mine);
}

/* The channel DuplicateHandle sends handles on, and the first value it
 * may pick in the child: above any inherited handle that is itself in the
 * range (a handle this process was given by its own parent). */
static void plan_channel(struct spawn_plan *pl)
{
        pl->first_remote = NP_WIN_SLOT_LOCAL;
        for (size_t k = 0; k < pl->n; k++) {
                uint32_t slot = (uint32_t)((uintptr_t)pl->v[k].h >> 2) & (NP_WIN_SLOT_END - 1);
                if (slot >= pl->first_remote)
                        pl->first_remote = slot + 1;
        }
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                pl->failed = 1;
                pl->err = errno == EMFILE || errno == ENFILE ? ERROR_TOO_MANY_OPEN_FILES
                                                             : ERROR_NOT_ENOUGH_MEMORY;
                return;
        }
        pl->chan_mine = sv[0];
        pl->chan_fd = fcntl(sv[1], F_DUPFD_CLOEXEC, NP_WIN_FD_BASE);
        close(sv[1]);
        shutdown(pl->chan_mine, SHUT_RD); /* nothing comes back from the child */
        if (pl->chan_fd < 0) {
                pl->failed = 1;
                pl->err = ERROR_TOO_MANY_OPEN_FILES;
        }
}

/* An executable for a program name as Windows looks for one: a path is
 * taken as it is; a bare name is looked for in the directory of this
 * program, the current directory, then PATH.  "child.exe" also finds
 * "child", since Linux programs have no extension. */
static char *find_program(const char *name, DWORD *err)
{
        char *cands[2] = {strdup(name), NULL};
        size_t len = strlen(name);
        if (len > 4 && !strcasecmp(name + len - 4, ".exe"))
                cands[1] = strndup(name, len - 4);
        char *found = NULL;
        *err = ERROR_FILE_NOT_FOUND;
        for (int c = 0; c < 2 && !found; c++) {
                const char *cand = cands[c];
                if (!cand)
                        continue;
                if (strchr(cand, '/')) {
                        struct stat st;
                        if (stat(cand, &st) == 0 && !S_ISDIR(st.st_mode)) {
                                found = strdup(cand);
                                break;
                        }
                        continue;
                }
                char *exe = np_win_self_exe();
                char *dirs[3] = {NULL, NULL, NULL};
                if (exe && strrchr(exe, '/')) {
                        *strrchr(exe, '/') = 0;
                        dirs[0] = exe;
                }
                dirs[1] = ".";
                const char *path = getenv("PATH");
                char *pathcopy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
                for (int d = 0; d < 3 && !found; d++) {
                        char *list = d < 2 ? dirs[d] : pathcopy;
                        if (!list)
                                continue;
                        char *save = NULL;
                        char *copy = strdup(list);
                        for (char *dir = d < 2 ? copy : strtok_r(copy, ":", &save); dir && !found;
                             dir = d < 2 ? NULL : strtok_r(NULL, ":", &save)) {
                                size_t n = strlen(dir) + strlen(cand) + 2;
                                char *full = malloc(n);
                                if (!full)
                                        continue;
                                snprintf(full, n, "%s/%s", *dir ? dir : ".", cand);
                                struct stat st;
                                if (stat(full, &st) == 0 && !S_ISDIR(st.st_mode))
                                        found = full;
                                else
                                        free(full);
                        }
                        free(copy);
                }
                free(pathcopy);
                free(exe);
        }
        free(cands[0]);
        free(cands[1]);
        if (found && access(found, X_OK) != 0) {
                *err = ERROR_ACCESS_DENIED;
                free(found);
                found = NULL;
        }
        return found;
}

/* The environment block of the child: lpEnvironment (A or W strings, each
 * ended by 0, the block by another) or ours, less a stale handle list. */
static char **make_env(const void *block, int wide, const char *handles, int chan)
{
        size_t n = 0, cap = 16;
        char **env = malloc(cap * sizeof(*env));
        if (!env)
                return NULL;
        char **src = environ;
        size_t bi = 0;
        for (;;) {
                char *e = NULL;
                if (block) {
                        if (wide) {
                                const WCHAR *w = (const WCHAR *)block + bi;
                                if (!*w)
                                        break;
                                size_t l = (size_t)npipe_win_lstrlenW(w);
                                e = np_win_utf16_to_utf8_lenient(w, l);
                                bi += l + 1;
                        } else {
                                const char *c = (const char *)block + bi;
                                if (!*c)
                                        break;
                                e = strdup(c);
                                bi += strlen(c) + 1;
                        }
                } else {
                        if (!src || !*src)
                                break;
                        e = strdup(*src++);
                }
                if (!e)
                        goto oom;
                if (!strncmp(e, NP_WIN_HANDLES_ENV "=", sizeof(NP_WIN_HANDLES_ENV)) ||
                    !strncmp(e, NP_WIN_CHANNEL_ENV "=", sizeof(NP_WIN_CHANNEL_ENV))) {
                        free(e);
                        continue;
                }
                if (n + 4 > cap) {
                        char **v = realloc(env, (cap *= 2) * sizeof(*env));
                        if (!v) {
                                free(e);
                                goto oom;
                        }
                        env = v;
                }
                env[n++] = e;
        }
        if (handles && *handles) {
                size_t l = strlen(NP_WIN_HANDLES_ENV) + strlen(handles) + 2;
                char *e = malloc(l);
                if (!e)
                        goto oom;
                snprintf(e, l, "%s=%s", NP_WIN_HANDLES_ENV, handles);
                env[n++] = e;
        }
        if (chan >= 0) {
                char item[48];
                snprintf(item, sizeof(item), "%s=%d", NP_WIN_CHANNEL_ENV, chan);
                if (!(env[n] = strdup(item)))
                        goto oom;
                n++;
        }
        env[n] = NULL;
        return env;
oom:
        for (size_t i = 0; i < n; i++)
                free(env[i]);
        free(env);
        return NULL;
}

static void free_strv(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* The handles the child gets: the inheritable ones when asked for, and
 * the standard handles - as given, else ours when they are handles of
 * this layer set with SetStdHandle, else descriptors 0..2 as they are. */
static void plan_handoffs(struct spawn_plan *pl, BOOL inherit, const STARTUPINFOA *si)
{
        if (inherit)
                np_win_handle_foreach_inheritable(plan_inherited, pl);
        for (int i = 0; i < 3 && !pl->failed; i++) {
                HANDLE h = NULL;
                int given = 0;
                if (si->dwFlags & STARTF_USESTDHANDLES) {
                        h = i == 0 ? si->hStdInput : i == 1 ? si->hStdOutput : si->hStdError;
                        given = 1;
                } else {
                        given = np_win_std_for_child(i, &h);
                }
                if (given)
                        plan_std(pl, i, h);
        }
}

/* The spawn's file actions for the plan - targets: the standard slots,
 * then 3, 4, ... for the others - and the list of the inherited handles
 * for the child's NP_WIN_HANDLES_ENV (malloc'ed; NULL without memory,
 * and then no actions). */
static char *plan_actions(struct spawn_plan *pl, posix_spawn_file_actions_t *fa)
{
        char *list = calloc(pl->n + 1, 48);
        int next = 3;
        for (size_t k = 0; k < pl->n && list; k++) {
                struct handoff *e = &pl->v[k];
                int first = -1;
                for (int i = 0; i < 3; i++)
                        if (e->std & (1u << i)) {
                                posix_spawn_file_actions_adddup2(fa, e->fd, i);
                                if (first < 0)
                                        first = i;
                        }
                if (first < 0 && e->h && e->fd >= 0) {
                        first = next++;
                        posix_spawn_file_actions_adddup2(fa, e->fd, first);
                }
                e->target = first;
                if (e->h) {
                        char item[48];
                        snprintf(item, sizeof(item), "%s%llx:%d:%u:%u", *list ? "," : "",
                                 (unsigned long long)(uintptr_t)e->h, first, e->access, e->std);
                        strcat(list, item);
                }
        }
        if (pl->chan_fd >= 0) { /* after the inherited ones, so their numbers stay */
                pl->chan_target = next++;
                posix_spawn_file_actions_adddup2(fa, pl->chan_fd, pl->chan_target);
        }
        return list;
}

/* ---- CREATE_SUSPENDED: a child held before exec ------------------------------------------- */

/* posix_spawn cannot stop between fork and exec, so a suspended child is
 * made with _Fork (no atfork handlers: the child calls async-signal-safe
 * functions only) and waits before execve for a byte on a socket that
 * ResumeThread writes.  Everything it needs was made before the fork. */

struct linux_dirent64_ {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
};

/* In the held child: close the descriptors that would close at exec but
 * that it would otherwise keep open while it waits - our relays' ends,
 * other children's gates, the library's own - so that they end when we
 * close them, as for a child that has run exec. */
static void close_cloexec_fds(int keep1, int keep2)
{
        int d = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0) {
                for (int fd = 3; fd < 65536; fd++) {
                        int fl = fcntl(fd, F_GETFD);
                        if (fd != keep1 && fd != keep2 && fl >= 0 && (fl & FD_CLOEXEC))
                                close(fd);
                }
                return;
        }
        _Alignas(8) char buf[4096];
        long n;
        while ((n = syscall(SYS_getdents64, d, buf, sizeof(buf))) > 0) {
                for (long off = 0; off < n;) {
                        struct linux_dirent64_ *e = (struct linux_dirent64_ *)(buf + off);
                        off += e->reclen;
                        int fd = 0;
                        const char *c = e->name;
                        for (; *c >= '0' && *c <= '9'; c++)
                                fd = fd * 10 + (*c - '0');
                        if (*c || c == e->name || fd == d || fd == keep1 || fd == keep2)
                                continue;
                        int fl = fcntl(fd, F_GETFD);
                        if (fl >= 0 && (fl & FD_CLOEXEC))
                                close(fd);
                }
        }
        close(d);
}

struct held {
        const struct spawn_plan *pl;
        const char *exe, *cwd;
        char **argv, **envp;
        int gate, report; /* the child's ends */
        sigset_t mask;    /* the caller's signal mask, for the program */
};

/* The child of _Fork: descriptors and directory as posix_spawn would set
 * them (a failure goes to the parent through `report`), then the wait. */
static _Noreturn void held_child(const struct held *hd)
{
        /* the handlers are the parent's code: default, as after exec */
        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa;
                if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN &&
                    sa.sa_handler != SIG_DFL) {
                        sa.sa_handler = SIG_DFL;
                        sa.sa_flags = 0;
                        sigaction(sig, &sa, NULL);
                }
        }
        int err = 0;
        for (size_t k = 0; k < hd->pl->n && !err; k++) {
                const struct handoff *e = &hd->pl->v[k];
                for (int i = 0; i < 3 && !err; i++)
                        if ((e->std & (1u << i)) && dup2(e->fd, i) < 0)
                                err = errno;
                if (!err && e->target >= 3 && e->fd >= 0 && dup2(e->fd, e->target) < 0)
                        err = errno;
        }
        if (!err && hd->pl->chan_fd >= 0 && dup2(hd->pl->chan_fd, hd->pl->chan_target) < 0)
                err = errno;
        if (!err && hd->cwd && chdir(hd->cwd) < 0)
                err = errno;
        if (err) {
                (void)!write(hd->report, &err, sizeof(err));
                _exit(127);
        }
        close_cloexec_fds(hd->gate, hd->report);
        sigprocmask(SIG_SETMASK, &hd->mask, NULL);
        close(hd->report); /* CreateProcess returns */
        char c;
        ssize_t n;
        while ((n = read(hd->gate, &c, 1)) < 0 && errno == EINTR)
                ;
        /* no byte: our parent ended without resuming us; no one can now
         * (Windows would keep the process suspended for ever) */
        if (n != 1)
                _exit(127);
        close(hd->gate);
        execve(hd->exe, hd->argv, hd->envp);
        _exit(127); /* as a shell reports a program it could not run */
}

/* Fork a held child: 0 with *pid and *gate (our end of its gate), or the
 * errno value of the failure (its descriptors or directory). */
static int spawn_held(struct held *hd, pid_t *pid, int *gate)
{
        int g[2], r[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g) < 0)
                return errno;
        if (pipe2(r, O_CLOEXEC) < 0) {
                int e = errno;
                close(g[0]);
                close(g[1]);
                return e;
        }
        hd->gate = g[1];
        hd->report = r[1];
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &hd->mask);
        pid_t p = _Fork();
        if (p == 0) {
                close(g[0]);
                close(r[0]);
                held_child(hd);
        }
        int e = p < 0 ? errno : 0;
        pthread_sigmask(SIG_SETMASK, &hd->mask, NULL);
        close(g[1]);
        close(r[1]);
        if (p > 0) {
                int cerr = 0;
                ssize_t n;
                while ((n = read(r[0], &cerr, sizeof(cerr))) < 0 && errno == EINTR)
                        ;
                if (n == (ssize_t)sizeof(cerr)) { /* it could not be set up, and has exited */
                        e = cerr ? cerr : EINVAL;
                        while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
                                ;
                }
        }
        close(r[0]);
        if (e) {
                close(g[0]);
                return e;
        }
        *pid = p;
        *gate = g[0];
        return 0;
}

/* Start the child: its descriptors as planned, its directory, its
 * environment with the list of the handles it takes over; held before
 * exec with *gate set for CREATE_SUSPENDED.  0 with *pid, or the errno
 * value of the failure. */
static int spawn_child(struct spawn_plan *pl, const char *exe, char **argv, const void *envblock,
                       DWORD flags, const char *cwd, pid_t *pid, int *gate)
{
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        char *list = plan_actions(pl, &fa);
        if (cwd)
                posix_spawn_file_actions_addchdir_np(&fa, cwd);
        char **envp = list ? make_env(envblock, (flags & CREATE_UNICODE_ENVIRONMENT) != 0, list,
                                      pl->chan_target)
                           : NULL;
        free(list);
        int e = ENOMEM;
        if (envp && (flags & CREATE_SUSPENDED)) {
                struct held hd = {.pl = pl, .exe = exe, .cwd = cwd, .argv = argv, .envp = envp};
                e = spawn_held(&hd, pid, gate);
        } else if (envp) {
                e = posix_spawn(pid, exe, &fa, NULL, argv, envp);
        }
        posix_spawn_file_actions_destroy(&fa);
        free_strv(envp);
        return e;
}

/* The error CreateProcess reports for a failed spawn. */
static DWORD spawn_error(int e, const char *cwd)
{
        return e == ENOEXEC  ? ERROR_BAD_EXE_FORMAT
               : e == EACCES ? ERROR_ACCESS_DENIED
               : e == ENOENT ? (cwd ? ERROR_DIRECTORY : ERROR_FILE_NOT_FOUND)
               : e == ENOMEM ? ERROR_NOT_ENOUGH_MEMORY
                             : ERROR_GEN_FAILURE;
}

/* The process object of a started child (process.c reaps it) and its
 * handles in *pi. */
static BOOL child_handles(pid_t pid, int gate, int chan, uint32_t first_remote,
                          LPPROCESS_INFORMATION pi)
{
        struct w_obj *thread = NULL;
        struct w_obj *o = np_win_process_start(pid, gate, chan, first_remote, &thread);
        if (!o) {
                if (gate >= 0)
                        close(gate); /* the held child ends */
                if (chan >= 0)
                        close(chan);
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        /* hThread: the main thread's handle (ResumeThread; signalled when
         * the process ends, as the main thread ends with it) */
        pi->hProcess = np_win_handle_new(o);
        pi->hThread = np_win_handle_new(thread);
        pi->dwProcessId = (DWORD)pid;
        pi->dwThreadId = (DWORD)pid;
        np_win_set_error(ERROR_SUCCESS);
        return pi->hProcess && pi->hThread;
}

static BOOL create_process(const char *app, const char *cmdline, BOOL inherit, DWORD flags,
                           const void *envblock, const char *cwd, const STARTUPINFOA *si,
                           LPPROCESS_INFORMATION pi)
{
        if (!si || !pi || (!app && !cmdline))
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct w_split args = {0};
        if (np_win_split_command_line(cmdline ? cmdline : app, &args) < 0 || args.n == 0) {
                np_win_split_free(&args);
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        DWORD err;
        char *exe = find_program(app ? app : args.v[0], &err);
        if (!exe) {
                np_win_split_free(&args);
                return np_win_fail(err);
        }
        struct spawn_plan pl = {.chan_fd = -1, .chan_target = -1, .chan_mine = -1};
        plan_handoffs(&pl, inherit, si);
        if (!pl.failed)
                plan_channel(&pl);
        if (pl.failed) {
                plan_free(&pl);
                free(exe);
                np_win_split_free(&args);
                return np_win_fail(pl.err);
        }
        pid_t pid = -1;
        int gate = -1;
        int e = spawn_child(&pl, exe, args.v, envblock, flags, cwd, &pid, &gate);
        int chan = e ? -1 : pl.chan_mine;
        uint32_t first_remote = pl.first_remote;
        if (!e)
                pl.chan_mine = -1; /* the process object's */
        plan_free(&pl); /* the parent's copies: the child has its own now */
        free(exe);
        np_win_split_free(&args);
        if (e)
                return np_win_fail(spawn_error(e, cwd));
        return child_handles(pid, gate, chan, first_remote, pi);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_CreateProcessA(
    LPCSTR lpApplicationName, LPSTR lpCommandLine, LPSECURITY_ATTRIBUTES lpProcessAttributes,
    LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles, DWORD dwCreationFlags,
    LPVOID lpEnvironment, LPCSTR lpCurrentDirectory, LPSTARTUPINFOA lpStartupInfo,
    LPPROCESS_INFORMATION lpProcessInformation)
{
        (void)lpProcessAttributes;
        (void)lpThreadAttributes;
        return create_process(lpApplicationName, lpCommandLine, bInheritHandles, dwCreationFlags,
                              lpEnvironment, lpCurrentDirectory, lpStartupInfo,
                              lpProcessInformation);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_CreateProcessW(
    LPCWSTR lpApplicationName, LPWSTR lpCommandLine, LPSECURITY_ATTRIBUTES lpProcessAttributes,
    LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles, DWORD dwCreationFlags,
    LPVOID lpEnvironment, LPCWSTR lpCurrentDirectory, LPSTARTUPINFOW lpStartupInfo,
    LPPROCESS_INFORMATION lpProcessInformation)
{
        (void)lpProcessAttributes;
        (void)lpThreadAttributes;
        if (!lpStartupInfo)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        char *app = lpApplicationName
                        ? np_win_utf16_to_utf8_lenient(lpApplicationName, (size_t)-1)
                        : NULL;
        char *cmd = lpCommandLine ? np_win_utf16_to_utf8_lenient(lpCommandLine, (size_t)-1) : NULL;
        char *cwd = lpCurrentDirectory
                        ? np_win_utf16_to_utf8_lenient(lpCurrentDirectory, (size_t)-1)
                        : NULL;
        /* the fields CreateProcess reads are the same in both layouts */
        STARTUPINFOA si;
        memset(&si, 0, sizeof(si));
        si.cb = sizeof(si);
        si.dwFlags = lpStartupInfo->dwFlags;
        si.hStdInput = lpStartupInfo->hStdInput;
        si.hStdOutput = lpStartupInfo->hStdOutput;
        si.hStdError = lpStartupInfo->hStdError;
        BOOL ok;
        if ((lpApplicationName && !app) || (lpCommandLine && !cmd) ||
            (lpCurrentDirectory && !cwd))
                ok = np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        else
                ok = create_process(app, cmd, bInheritHandles, dwCreationFlags, lpEnvironment, cwd,
                                    &si, lpProcessInformation);
        free(app);
        free(cmd);
        free(cwd);
        return ok;
}
