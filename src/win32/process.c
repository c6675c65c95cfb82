/*
 * process.c - processes and the handles they share: GetStdHandle,
 * SetStdHandle, CreateProcess, the process handle (waitable, exit code,
 * TerminateProcess), handle inheritance and DuplicateHandle, ExitProcess,
 * the command line (GetCommandLine, CommandLineToArgvW), session ids and
 * GetTickCount.
 *
 * How a pipe end reaches a child.  A native pipe end belongs to the
 * process that opened it (npipe.h: it fails after fork), so the child
 * cannot use the parent's end itself.  What it gets instead is a Linux
 * pipe (a socket pair for a duplex end) and, in the parent, a relay thread
 * per direction that moves the bytes between that and the pipe end.  The
 * relay holds the end open like a handle would (np_win_obj_hold), so the
 * usual protocol works unchanged: the parent closes its copy of the
 * child's end after CreateProcess, and the end closes - ReadFile in the
 * parent fails with ERROR_BROKEN_PIPE - once the child and everything it
 * started have closed theirs.  A plain Linux child sees ordinary file
 * descriptors on 0, 1, 2 (and above, for other inherited handles); an
 * npipe Win32 child finds its inherited handles at the same HANDLE values
 * as in the parent (NPIPE_WIN32_HANDLES in its environment, read before
 * main) and its standard handles through GetStdHandle.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define HANDLES_ENV "NPIPE_WIN32_HANDLES"

/* ---- time ----------------------------------------------------------------------------------- */

NPIPE_WIN_API ULONGLONG WINAPI npipe_win_GetTickCount64(void)
{
        /* milliseconds since boot, suspend included, as Windows counts */
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (ULONGLONG)ts.tv_sec * 1000u + (ULONGLONG)ts.tv_nsec / 1000000u;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetTickCount(void)
{
        return (DWORD)npipe_win_GetTickCount64(); /* wraps after 49.7 days, as on Windows */
}

/* ---- process objects ------------------------------------------------------------------------ */

struct w_process {
        struct w_obj obj;
        struct w_waitable wt; /* signalled when the process has ended */
        pid_t pid;
        _Atomic DWORD exit_code;   /* STILL_ACTIVE while it runs */
        _Atomic int terminated;    /* TerminateProcess gave the exit code */
        _Atomic DWORD term_code;
        int self;                  /* this process (DuplicateHandle of GetCurrentProcess()) */
};

#define CURRENT_PROCESS ((HANDLE)(LONG_PTR)-1)

static void process_destroy(struct w_obj *o)
{
        free(o);
}

struct w_waitable *np_win_process_waitable(struct w_obj *o)
{
        return &((struct w_process *)o)->wt;
}

static struct w_process *process_new(pid_t pid, int self)
{
        struct w_process *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        np_win_obj_init(&p->obj, W_PROCESS, process_destroy, NULL);
        np_win_waitable_init(&p->wt, 1, 0);
        p->pid = pid;
        p->self = self;
        atomic_init(&p->exit_code, STILL_ACTIVE);
        return p;
}

/* The process of a handle (GetCurrentProcess()'s pseudo-handle too), with
 * a reference; NULL and ERROR_INVALID_HANDLE. */
static struct w_process *process_of(HANDLE h)
{
        if (h == CURRENT_PROCESS) {
                struct w_process *p = process_new(getpid(), 1);
                if (!p)
                        np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return p;
        }
        return (struct w_process *)np_win_handle_get(h, W_PROCESS);
}

/* Each child has a thread that reaps it and signals its handle: waits on
 * the handle cost no descriptor and no polling, like the other objects. */
static void *reaper(void *arg)
{
        struct w_process *p = arg;
        int st = 0;
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
                ;
        DWORD code;
        if (atomic_load(&p->terminated))
                code = atomic_load(&p->term_code);
        else if (WIFEXITED(st))
                code = (DWORD)WEXITSTATUS(st);
        else
                code = 128u + (DWORD)WTERMSIG(st); /* docs/win32.md: as a shell reports it */
        atomic_store(&p->exit_code, code);
        np_win_signal(&p->wt);
        np_win_put(&p->obj);
        return NULL;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_GetCurrentProcess(void)
{
        return CURRENT_PROCESS;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetProcessId(HANDLE Process)
{
        struct w_process *p = process_of(Process);
        if (!p)
                return 0;
        DWORD pid = (DWORD)p->pid;
        np_win_put(&p->obj);
        return pid;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode)
{
        struct w_process *p = process_of(hProcess);
        if (!p)
                return FALSE;
        if (lpExitCode)
                *lpExitCode = atomic_load(&p->exit_code);
        np_win_put(&p->obj);
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_TerminateProcess(HANDLE hProcess, UINT uExitCode)
{
        struct w_process *p = process_of(hProcess);
        if (!p)
                return FALSE;
        if (p->self) {
                fflush(NULL);
                _exit((int)uExitCode);
        }
        BOOL ok = TRUE;
        if (atomic_load(&p->exit_code) != STILL_ACTIVE || atomic_load(&p->terminated)) {
                /* it has ended already: Windows says access denied */
                ok = np_win_fail(ERROR_ACCESS_DENIED);
        } else {
                atomic_store(&p->term_code, (DWORD)uExitCode);
                atomic_store(&p->terminated, 1);
                /* the process exists until the reaper has waited for it */
                if (kill(p->pid, SIGKILL) < 0)
                        ok = np_win_fail(ERROR_ACCESS_DENIED);
        }
        np_win_put(&p->obj);
        return ok;
}

NPIPE_WIN_API VOID WINAPI npipe_win_ExitProcess(UINT uExitCode)
{
        /* exit() like Windows' ExitProcess: atexit handlers and stdio
         * flushes run.  Linux keeps the low 8 bits of the code. */
        exit((int)uExitCode);
}

/* ---- session ids ---------------------------------------------------------------------------- */

static DWORD session_of(pid_t pid)
{
        pid_t s = getsid(pid);
        return s < 0 ? 0 : (DWORD)s;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_ProcessIdToSessionId(DWORD dwProcessId, DWORD *pSessionId)
{
        if (!pSessionId)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        pid_t s = getsid((pid_t)dwProcessId);
        if (s < 0)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        *pSessionId = (DWORD)s;
        return TRUE;
}

static BOOL pipe_session(HANDLE h, PULONG out, int client)
{
        ULONG pid = 0;
        BOOL ok = client ? npipe_win_GetNamedPipeClientProcessId(h, &pid)
                         : npipe_win_GetNamedPipeServerProcessId(h, &pid);
        if (!ok)
                return FALSE;
        /* no room for the id: as GetNamedPipe*ProcessId (a 4-byte
         * FSCTL_PIPE_GET_*_ATTRIBUTE output buffer on Windows) */
        if (!out)
                return np_win_fail(ERROR_INSUFFICIENT_BUFFER);
        /* a remote client's process is on another machine: 0 */
        *out = pid ? session_of((pid_t)pid) : 0;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientSessionId(HANDLE Pipe, PULONG ClientSessionId)
{
        return pipe_session(Pipe, ClientSessionId, 1);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeServerSessionId(HANDLE Pipe, PULONG ServerSessionId)
{
        return pipe_session(Pipe, ServerSessionId, 0);
}

/* ---- handle information and duplication ----------------------------------------------------- */

NPIPE_WIN_API BOOL WINAPI npipe_win_SetHandleInformation(HANDLE hObject, DWORD dwMask,
                                                         DWORD dwFlags)
{
        if (!np_win_handle_flags(hObject, NULL, dwMask, dwFlags))
                return FALSE;
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GetHandleInformation(HANDLE hObject, LPDWORD lpdwFlags)
{
        DWORD fl = 0;
        if (!np_win_handle_flags(hObject, &fl, 0, 0))
                return FALSE;
        if (lpdwFlags)
                *lpdwFlags = fl;
        return TRUE;
}

static int is_self(HANDLE h)
{
        if (h == CURRENT_PROCESS)
                return 1;
        struct w_process *p = (struct w_process *)np_win_handle_get(h, W_PROCESS);
        if (!p)
                return -1;
        int self = p->pid == getpid();
        np_win_put(&p->obj);
        return self;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_DuplicateHandle(HANDLE hSourceProcessHandle,
                                                    HANDLE hSourceHandle,
                                                    HANDLE hTargetProcessHandle,
                                                    LPHANDLE lpTargetHandle, DWORD dwDesiredAccess,
                                                    BOOL bInheritHandle, DWORD dwOptions)
{
        (void)dwDesiredAccess; /* a duplicate has the source's access (docs/win32.md) */
        int src_self = is_self(hSourceProcessHandle);
        if (src_self < 0)
                return FALSE;
        if (!src_self)
                return np_win_fail(ERROR_NOT_SUPPORTED);
        int dst_self = 1;
        if (lpTargetHandle || hTargetProcessHandle) {
                dst_self = is_self(hTargetProcessHandle);
                if (dst_self < 0)
                        return FALSE;
        }
        if (!dst_self)
                /* into a running child: not possible, hand it over at
                 * CreateProcess instead (docs/win32.md) */
                return np_win_fail(ERROR_NOT_SUPPORTED);
        struct w_obj *o;
        if (hSourceHandle == CURRENT_PROCESS)
                o = (struct w_obj *)process_of(CURRENT_PROCESS);
        else
                o = np_win_handle_get(hSourceHandle, 0);
        if (!o)
                return FALSE;
        HANDLE h = NULL;
        if (lpTargetHandle) {
                np_win_ref(o);
                h = np_win_handle_new(o);
                if (!h) {
                        np_win_put(o);
                        return FALSE;
                }
                if (bInheritHandle)
                        np_win_handle_flags(h, NULL, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
                *lpTargetHandle = h;
        }
        np_win_put(o);
        if ((dwOptions & DUPLICATE_CLOSE_SOURCE) && hSourceHandle != CURRENT_PROCESS)
                npipe_win_CloseHandle(hSourceHandle);
        np_win_set_error(ERROR_SUCCESS);
        return TRUE;
}

/* ---- standard handles ----------------------------------------------------------------------- */

static pthread_mutex_t std_lock = PTHREAD_MUTEX_INITIALIZER;
static HANDLE std_handles[3];
static int std_made[3]; /* set (by SetStdHandle, inheritance or a first GetStdHandle) */

static int std_index(DWORD n)
{
        switch (n) {
        case STD_INPUT_HANDLE:
                return 0;
        case STD_OUTPUT_HANDLE:
                return 1;
        case STD_ERROR_HANDLE:
                return 2;
        default:
                return -1;
        }
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_GetStdHandle(DWORD nStdHandle)
{
        int i = std_index(nStdHandle);
        if (i < 0) {
                np_win_set_error(ERROR_INVALID_HANDLE);
                return INVALID_HANDLE_VALUE;
        }
        pthread_mutex_lock(&std_lock);
        if (!std_made[i]) {
                std_made[i] = 1;
                /* descriptor i, if the process has one */
                if (fcntl(i, F_GETFD) >= 0)
                        std_handles[i] = np_win_file_handle(i, i == 0 ? WACC_READ : WACC_WRITE);
        }
        HANDLE h = std_handles[i];
        pthread_mutex_unlock(&std_lock);
        return h;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_SetStdHandle(DWORD nStdHandle, HANDLE hHandle)
{
        int i = std_index(nStdHandle);
        if (i < 0)
                return np_win_fail(ERROR_INVALID_HANDLE);
        pthread_mutex_lock(&std_lock);
        std_handles[i] = hHandle;
        std_made[i] = 1;
        pthread_mutex_unlock(&std_lock);
        return TRUE;
}

/* A child of an npipe parent: the handles it was given, at their values,
 * before main() runs (and before this process makes a handle itself). */
__attribute__((constructor)) static void take_inherited_handles(void)
{
        const char *env = getenv(HANDLES_ENV);
        if (!env)
                return;
        char *copy = strdup(env);
        unsetenv(HANDLES_ENV); /* not for this process's own children */
        if (!copy)
                return;
        /* entries "HANDLE:FD:ACCESS:STD" (hex handle, decimal fd, WACC_*
         * bits, the standard slots it fills as bits 0..2) */
        for (char *save = NULL, *e = strtok_r(copy, ",", &save); e;
             e = strtok_r(NULL, ",", &save)) {
                unsigned long long hv;
                int fd;
                unsigned access, std;
                if (sscanf(e, "%llx:%d:%u:%u", &hv, &fd, &access, &std) != 4)
                        continue;
                struct w_obj *o = np_win_file_new(fd, access);
                if (!o)
                        continue;
                HANDLE h = np_win_handle_new_at((HANDLE)(uintptr_t)hv, o);
                if (!h) {
                        np_win_put(o);
                        continue;
                }
                /* the handle's reference now belongs to the table */
                np_win_handle_flags(h, NULL, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
                for (int i = 0; i < 3; i++)
                        if (std & (1u << i)) {
                                std_handles[i] = h;
                                std_made[i] = 1;
                        }
        }
        free(copy);
}

/* ---- command lines -------------------------------------------------------------------------- */

/* Split a command line the way CommandLineToArgvW does (the rules, checked
 * against the reference in test_win32_process.c):
 *   - the program name (argument 0) is taken literally: up to the closing
 *     quote when it starts with one (the argument ends there), else up to
 *     the first space or tab; a line that starts with blanks has an empty
 *     program name;
 *   - other arguments are separated by blanks outside quotes; 2n
 *     backslashes before a quote are n backslashes and the quote is a
 *     quote, 2n+1 are n and a literal quote; backslashes elsewhere are
 *     literal; inside quotes, "" is a literal quote.
 * Works on code points of either width: the result is an array of
 * malloc'ed UTF-8 strings (for the child's argv) or of UTF-16 ones. */
struct split {
        size_t n, cap;
        char **v;
};

static int split_push(struct split *s, const char *b, size_t len)
{
        if (s->n + 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 8;
                char **v = realloc(s->v, cap * sizeof(*v));
                if (!v)
                        return -1;
                s->v = v;
                s->cap = cap;
        }
        char *a = malloc(len + 1);
        if (!a)
                return -1;
        memcpy(a, b, len);
        a[len] = 0;
        s->v[s->n++] = a;
        s->v[s->n] = NULL;
        return 0;
}

static void split_free(struct split *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

/* cmd is UTF-8 (quotes, backslashes and blanks are ASCII in both widths). */
static int split_command_line(const char *cmd, struct split *out)
{
        size_t len = strlen(cmd);
        char *arg = malloc(len + 1);
        if (!arg)
                return -1;
        const char *p = cmd;
        size_t n = 0;
        /* argument 0 */
        if (*p == '"') {
                p++;
                while (*p && *p != '"')
                        arg[n++] = *p++;
                if (*p == '"')
                        p++;
        } else {
                while (*p && *p != ' ' && *p != '\t')
                        arg[n++] = *p++;
        }
        if (split_push(out, arg, n) < 0)
                goto oom;
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                n = 0;
                int quoted = 0;
                while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
                        if (*p == '\\') {
                                size_t bs = 0;
                                while (*p == '\\')
                                        bs++, p++;
                                if (*p == '"') {
                                        for (size_t k = 0; k < bs / 2; k++)
                                                arg[n++] = '\\';
                                        if (bs % 2) {
                                                arg[n++] = '"';
                                                p++;
                                        }
                                } else {
                                        for (size_t k = 0; k < bs; k++)
                                                arg[n++] = '\\';
                                }
                        } else if (*p == '"') {
                                if (quoted && p[1] == '"') {
                                        arg[n++] = '"';
                                        p += 2;
                                } else {
                                        quoted = !quoted;
                                        p++;
                                }
                        } else {
                                arg[n++] = *p++;
                        }
                }
                if (split_push(out, arg, n) < 0)
                        goto oom;
        }
        free(arg);
        return 0;
oom:
        free(arg);
        split_free(out);
        return -1;
}

static char *self_exe(void)
{
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n < 0)
                return strdup("");
        buf[n] = 0;
        return strdup(buf);
}

NPIPE_WIN_API LPWSTR *WINAPI npipe_win_CommandLineToArgvW(LPCWSTR lpCmdLine, int *pNumArgs)
{
        if (!pNumArgs) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return NULL;
        }
        char *cmd;
        /* an empty line is the program's own path */
        if (!lpCmdLine || !*lpCmdLine)
                cmd = self_exe();
        else
                cmd = np_win_utf16_to_utf8_lenient(lpCmdLine, (size_t)-1);
        struct split s = {0};
        int r = -1;
        if (cmd) {
                if (!lpCmdLine || !*lpCmdLine)
                        r = split_push(&s, cmd, strlen(cmd));
                else
                        r = split_command_line(cmd, &s);
        }
        free(cmd);
        if (r < 0) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        /* one LocalAlloc block: the pointers, then the strings (LocalFree) */
        size_t total = (s.n + 1) * sizeof(LPWSTR);
        WCHAR **conv = calloc(s.n + 1, sizeof(*conv));
        size_t *units = calloc(s.n + 1, sizeof(*units));
        int ok = conv && units;
        for (size_t i = 0; ok && i < s.n; i++) {
                conv[i] = np_win_utf8_to_utf16_dup(s.v[i], &units[i]);
                ok = conv[i] != NULL;
                total += (units[i] + 1) * sizeof(WCHAR);
        }
        LPWSTR *argv = ok ? np_win_block_alloc(total, 0) : NULL;
        if (argv) {
                WCHAR *at = (WCHAR *)(argv + s.n + 1);
                for (size_t i = 0; i < s.n; i++) {
                        memcpy(at, conv[i], (units[i] + 1) * sizeof(WCHAR));
                        argv[i] = at;
                        at += units[i] + 1;
                }
                argv[s.n] = NULL;
                *pNumArgs = (int)s.n;
        } else {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        }
        for (size_t i = 0; conv && i < s.n; i++)
                free(conv[i]);
        free(conv);
        free(units);
        split_free(&s);
        return argv;
}

/* Quote one argument so that the splitting above gives it back. */
static void quote_arg(struct split *acc, const char *a, int first)
{
        size_t len = strlen(a);
        char *q = malloc(len * 2 + 3);
        if (!q)
                return;
        size_t n = 0;
        int need = !*a || strpbrk(a, " \t\"") != NULL;
        if (first) {
                /* argument 0 cannot hold a quote */
                if (need)
                        q[n++] = '"';
                memcpy(q + n, a, len);
                n += len;
                if (need)
                        q[n++] = '"';
        } else if (!need) {
                memcpy(q, a, len);
                n = len;
        } else {
                q[n++] = '"';
                for (const char *p = a;; p++) {
                        size_t bs = 0;
                        while (*p == '\\')
                                bs++, p++;
                        if (!*p) {
                                for (size_t k = 0; k < bs * 2; k++)
                                        q[n++] = '\\';
                                break;
                        }
                        for (size_t k = 0; k < (*p == '"' ? bs * 2 + 1 : bs); k++)
                                q[n++] = '\\';
                        q[n++] = *p;
                }
                q[n++] = '"';
        }
        split_push(acc, q, n);
        free(q);
}

static pthread_once_t cmdline_once = PTHREAD_ONCE_INIT;
static char *cmdline_a;
static WCHAR *cmdline_w;

static void cmdline_init(void)
{
        struct split acc = {0};
        FILE *f = fopen("/proc/self/cmdline", "re");
        if (f) {
                char *arg = NULL;
                size_t cap = 0;
                ssize_t n;
                int first = 1;
                while ((n = getdelim(&arg, &cap, 0, f)) > 0) {
                        quote_arg(&acc, arg, first);
                        first = 0;
                }
                free(arg);
                fclose(f);
        }
        size_t total = 1;
        for (size_t i = 0; i < acc.n; i++)
                total += strlen(acc.v[i]) + 1;
        cmdline_a = calloc(total, 1);
        if (cmdline_a)
                for (size_t i = 0; i < acc.n; i++) {
                        if (i)
                                strcat(cmdline_a, " ");
                        strcat(cmdline_a, acc.v[i]);
                }
        split_free(&acc);
        cmdline_w = cmdline_a ? np_win_utf8_to_utf16_dup(cmdline_a, NULL) : NULL;
}

NPIPE_WIN_API LPSTR WINAPI npipe_win_GetCommandLineA(void)
{
        pthread_once(&cmdline_once, cmdline_init);
        return cmdline_a ? cmdline_a : (LPSTR) "";
}

NPIPE_WIN_API LPWSTR WINAPI npipe_win_GetCommandLineW(void)
{
        static WCHAR empty[1];
        pthread_once(&cmdline_once, cmdline_init);
        return cmdline_w ? cmdline_w : empty;
}

/* ---- relays: a pipe end carried to a child as a Linux pipe ---------------------------------- */

struct relay {
        struct w_pipe *p; /* a reference and a hold */
        int fd;           /* the parent's side of the Linux pipe or socket pair */
        int to_child;     /* 1: pipe end -> fd; 0: fd -> pipe end */
        _Atomic int *users; /* the two directions of a duplex end share p's hold */
};

static void relay_done(struct relay *r)
{
        if (!r->users || atomic_fetch_sub(r->users, 1) == 1) {
                np_win_obj_release(&r->p->obj);
                free(r->users);
        }
        np_win_put(&r->p->obj);
        free(r);
}

static void *relay_main(void *arg)
{
        struct relay *r = arg;
        char buf[16384];
        for (;;) {
                if (r->to_child) {
                        size_t n = 0;
                        int st = npipe_read(r->p->np, buf, sizeof(buf), &n);
                        if (st < 0 && st != NPIPE_EMOREDATA)
                                break; /* closed, broken: the child sees its end */
                        size_t off = 0;
                        while (off < n) {
                                ssize_t w = send(r->fd, buf + off, n - off, MSG_NOSIGNAL);
                                if (w < 0 && errno == ENOTSOCK)
                                        w = write(r->fd, buf + off, n - off);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w <= 0)
                                        goto out; /* the child's side is closed */
                                off += (size_t)w;
                        }
                } else {
                        ssize_t n = read(r->fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break; /* every writer in the child's tree closed */
                        size_t done = 0;
                        if (npipe_write(r->p->np, buf, (size_t)n, &done) < 0)
                                break;
                }
        }
out:
        if (r->to_child)
                shutdown(r->fd, SHUT_WR);
        close(r->fd);
        relay_done(r);
        return NULL;
}

static int relay_start(struct w_pipe *p, int fd, int to_child, _Atomic int *users)
{
        struct relay *r = calloc(1, sizeof(*r));
        if (!r)
                return -1;
        r->p = p;
        r->fd = fd;
        r->to_child = to_child;
        r->users = users;
        np_win_ref(&p->obj);
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        /* the relays take no signals: they belong to no part of the program */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t t;
        int e = pthread_create(&t, &at, relay_main, r);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&at);
        if (e) {
                np_win_put(&p->obj);
                free(r);
                return -1;
        }
        return 0;
}

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
        int next_target;
};

#define FD_BASE 64 /* the parent's copies live at or above this, the targets below */

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

/* The descriptor a child gets for an object: a copy of a file's, or the
 * child's side of a new relay for a pipe end.  -1 for objects that do not
 * cross processes (events, ports, threads, processes). */
static int child_fd_for(struct w_obj *o, unsigned *access)
{
        if (o->type == W_FILE) {
                struct w_file *f = (struct w_file *)o;
                *access = f->access;
                return f->fd >= 0 ? fcntl(f->fd, F_DUPFD_CLOEXEC, FD_BASE) : -1;
        }
        if (o->type != W_PIPE)
                return -1;
        struct w_pipe *p = (struct w_pipe *)o;
        if (atomic_load(&p->closed))
                return -1;
        int rd = (p->access & WACC_READ) != 0, wr = (p->access & WACC_WRITE) != 0;
        *access = p->access & (WACC_READ | WACC_WRITE);
        int sv[2];
        if (rd && wr) {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return -1;
        } else {
                if (pipe2(sv, O_CLOEXEC) < 0)
                        return -1;
                if (wr) { /* the child writes into sv[1], the relay reads sv[0] */
                        int t = sv[0];
                        sv[0] = sv[1];
                        sv[1] = t;
                }
                /* now sv[0] is the child's side, sv[1] the relay's */
        }
        int child = rd && wr ? sv[0] : sv[0];
        int mine = sv[1];
        int high = fcntl(child, F_DUPFD_CLOEXEC, FD_BASE);
        close(child);
        if (high < 0) {
                close(mine);
                return -1;
        }
        np_win_obj_hold(&p->obj);
        if (rd && wr) {
                _Atomic int *users = malloc(sizeof(*users));
                int mine2 = users ? fcntl(mine, F_DUPFD_CLOEXEC, 0) : -1;
                if (!users || mine2 < 0) {
                        free(users);
                        close(mine);
                        close(high);
                        np_win_obj_release(&p->obj);
                        return -1;
                }
                atomic_init(users, 2);
                relay_start(p, mine, 1, users);
                relay_start(p, mine2, 0, users);
        } else if (relay_start(p, mine, rd, NULL) < 0) {
                close(mine);
                close(high);
                np_win_obj_release(&p->obj);
                return -1;
        }
        return high;
}

static void plan_inherited(HANDLE h, struct w_obj *o, void *arg)
{
        struct spawn_plan *pl = arg;
        if (pl->failed)
                return;
        unsigned access = 0;
        int fd = child_fd_for(o, &access);
        if (fd < 0)
                return; /* not something another process can hold */
        struct handoff *e = plan_add(pl);
        if (!e) {
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
                if (pl->v[k].h && pl->v[k].h == h) {
                        pl->v[k].std |= 1u << i;
                        return;
                }
        struct handoff *e = plan_add(pl);
        if (!e)
                return;
        e->std = 1u << i;
        struct w_obj *o = (h && h != INVALID_HANDLE_VALUE) ? np_win_handle_get(h, 0) : NULL;
        if (o) {
                e->fd = child_fd_for(o, &e->access);
                np_win_put(o);
        }
        /* nothing usable: the child reads and writes /dev/null */
        if (e->fd < 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                e->fd = null >= 0 ? fcntl(null, F_DUPFD_CLOEXEC, FD_BASE) : -1;
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
                char *exe = self_exe();
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
static char **make_env(const void *block, int wide, const char *handles)
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
                if (!strncmp(e, HANDLES_ENV "=", sizeof(HANDLES_ENV))) {
                        free(e);
                        continue;
                }
                if (n + 3 > cap) {
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
                size_t l = strlen(HANDLES_ENV) + strlen(handles) + 2;
                char *e = malloc(l);
                if (!e)
                        goto oom;
                snprintf(e, l, "%s=%s", HANDLES_ENV, handles);
                env[n++] = e;
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

static BOOL create_process(const char *app, const char *cmdline, BOOL inherit, DWORD flags,
                           const void *envblock, const char *cwd, const STARTUPINFOA *si,
                           LPPROCESS_INFORMATION pi)
{
        if (!si || !pi || (!app && !cmdline))
                return np_win_fail(ERROR_INVALID_PARAMETER);
        struct split args = {0};
        if (split_command_line(cmdline ? cmdline : app, &args) < 0 || args.n == 0) {
                split_free(&args);
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        DWORD err;
        char *exe = find_program(app ? app : args.v[0], &err);
        if (!exe) {
                split_free(&args);
                return np_win_fail(err);
        }
        struct spawn_plan pl = {0};
        if (inherit)
                np_win_handle_foreach_inheritable(plan_inherited, &pl);
        /* the standard handles: as given, else ours when they are handles of
         * this layer set with SetStdHandle, else descriptors 0..2 as they are */
        for (int i = 0; i < 3 && !pl.failed; i++) {
                HANDLE h = NULL;
                int given = 0;
                if (si->dwFlags & STARTF_USESTDHANDLES) {
                        h = i == 0 ? si->hStdInput : i == 1 ? si->hStdOutput : si->hStdError;
                        given = 1;
                } else {
                        pthread_mutex_lock(&std_lock);
                        if (std_made[i]) {
                                struct w_file *f = np_win_file_get(std_handles[i]);
                                /* a wrapper of descriptor i itself changes nothing */
                                given = !(f && f->fd == i);
                                if (f)
                                        np_win_put(&f->obj);
                                h = std_handles[i];
                        }
                        pthread_mutex_unlock(&std_lock);
                }
                if (given)
                        plan_std(&pl, i, h);
        }
        if (pl.failed) {
                plan_free(&pl);
                free(exe);
                split_free(&args);
                return np_win_fail(pl.err);
        }
        /* targets: the standard slots, then 3, 4, ... for the others */
        char *list = calloc(pl.n + 1, 48);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        int next = 3;
        for (size_t k = 0; k < pl.n && list; k++) {
                struct handoff *e = &pl.v[k];
                int first = -1;
                for (int i = 0; i < 3; i++)
                        if (e->std & (1u << i)) {
                                posix_spawn_file_actions_adddup2(&fa, e->fd, i);
                                if (first < 0)
                                        first = i;
                        }
                if (first < 0 && e->h) {
                        first = next++;
                        posix_spawn_file_actions_adddup2(&fa, e->fd, first);
                }
                e->target = first;
                if (e->h) {
                        char item[48];
                        snprintf(item, sizeof(item), "%s%llx:%d:%u:%u", *list ? "," : "",
                                 (unsigned long long)(uintptr_t)e->h, first, e->access, e->std);
                        strcat(list, item);
                }
        }
        if (cwd)
                posix_spawn_file_actions_addchdir_np(&fa, cwd);
        char **envp = list ? make_env(envblock, (flags & CREATE_UNICODE_ENVIRONMENT) != 0, list)
                           : NULL;
        free(list);
        pid_t pid = -1;
        int e = envp ? posix_spawn(&pid, exe, &fa, NULL, args.v, envp) : ENOMEM;
        posix_spawn_file_actions_destroy(&fa);
        free_strv(envp);
        plan_free(&pl); /* the parent's copies: the child has its own now */
        free(exe);
        split_free(&args);
        if (e) {
                return np_win_fail(e == ENOEXEC  ? ERROR_BAD_EXE_FORMAT
                                   : e == EACCES ? ERROR_ACCESS_DENIED
                                   : e == ENOENT ? (cwd ? ERROR_DIRECTORY : ERROR_FILE_NOT_FOUND)
                                   : e == ENOMEM ? ERROR_NOT_ENOUGH_MEMORY
                                                 : ERROR_GEN_FAILURE);
        }
        struct w_process *p = process_new(pid, 0);
        if (!p)
                return np_win_fail(ERROR_NOT_ENOUGH_MEMORY);
        np_win_ref(&p->obj); /* the reaper's */
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        if (pthread_create(&t, &at, reaper, p) != 0) {
                np_win_put(&p->obj);
        }
        pthread_attr_destroy(&at);
        /* hProcess and hThread: two handles of the process (its main thread
         * ends with it, which is what a wait on hThread sees) */
        np_win_ref(&p->obj);
        pi->hProcess = np_win_handle_new(&p->obj);
        pi->hThread = np_win_handle_new(&p->obj);
        pi->dwProcessId = (DWORD)pid;
        pi->dwThreadId = (DWORD)pid;
        np_win_set_error(ERROR_SUCCESS);
        return pi->hProcess && pi->hThread;
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
