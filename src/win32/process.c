/*
 * process.c - processes and the handles they share: GetStdHandle,
 * SetStdHandle, the process handle (waitable, exit code,
 * TerminateProcess) and its main thread's (ResumeThread, SuspendThread of
 * a CREATE_SUSPENDED child), handle information and DuplicateHandle,
 * ExitProcess, session ids and GetTickCount.
 *
 * Also the child's side of handle inheritance: the handles an npipe
 * parent passed on, taken over before main() (NP_WIN_HANDLES_ENV).
 * CreateProcess and the parent's side are in spawn.c, which gets its
 * process objects and the standard handles from here
 * (np_win_process_start, np_win_std_for_child); the command line -
 * GetCommandLine, CommandLineToArgvW and the quoting rules - is in
 * cmdline.c.
 */
#include "win32/win32.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* A process handle's object, or that of the main-thread handle
 * CreateProcess returns with it (thread_of set): a handle of its own type
 * on Windows, so the process calls refuse it and ResumeThread takes only
 * it.  The thread's state lives in its process. */
struct w_process {
        struct w_obj obj;
        struct w_waitable wt;        /* signalled when the process has ended */
        struct w_process *thread_of; /* a main thread: its process (a reference) */
        pid_t pid;
        _Atomic DWORD exit_code;   /* STILL_ACTIVE while it runs */
        _Atomic int terminated;    /* TerminateProcess gave the exit code */
        _Atomic DWORD term_code;
        int self;                  /* this process (DuplicateHandle of GetCurrentProcess()) */
        struct w_waitable main_wt; /* its main thread's: ends with the process */
        /* CREATE_SUSPENDED: the child waits before exec until it reads a
         * byte from the gate (spawn.c); the main thread's suspend count */
        pthread_mutex_t gate_lock;
        int gate; /* our end, -1 once released or for a child that runs */
        DWORD suspend;
        /* DuplicateHandle into the child (handoff.c): our end of its
         * channel (-1: none) and the next value's slot; under gate_lock */
        int chan;
        uint32_t next_remote;
};

#define CURRENT_PROCESS ((HANDLE)(LONG_PTR)-1)
#define CURRENT_THREAD  ((HANDLE)(LONG_PTR)-2)

static void process_destroy(struct w_obj *o)
{
        struct w_process *p = (struct w_process *)o;
        if (p->thread_of)
                np_win_put(&p->thread_of->obj);
        /* never resumed: the child, if it still lives, sees the end of its
         * gate and exits without running the program (spawn.c) */
        if (p->gate >= 0)
                close(p->gate);
        if (p->chan >= 0)
                close(p->chan);
        pthread_mutex_destroy(&p->gate_lock);
        free(o);
}

struct w_waitable *np_win_process_waitable(struct w_obj *o)
{
        struct w_process *p = (struct w_process *)o;
        return p->thread_of ? &p->thread_of->main_wt : &p->wt;
}

static struct w_process *process_new(pid_t pid, int self)
{
        struct w_process *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        np_win_obj_init(&p->obj, W_PROCESS, process_destroy, NULL);
        np_win_waitable_init(&p->wt, 1, 0);
        np_win_waitable_init(&p->main_wt, 1, 0);
        pthread_mutex_init(&p->gate_lock, NULL);
        p->gate = -1;
        p->chan = -1;
        p->pid = pid;
        p->self = self;
        atomic_init(&p->exit_code, STILL_ACTIVE);
        return p;
}

/* The object of a handle of either kind, with a reference; NULL and
 * ERROR_INVALID_HANDLE. */
static struct w_process *process_obj(HANDLE h, int thread)
{
        struct w_process *p = (struct w_process *)np_win_handle_get(h, W_PROCESS);
        if (p && (p->thread_of != NULL) != thread) {
                np_win_put(&p->obj);
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
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
        return process_obj(h, 0);
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
        /* ended while held: its suspend count stays, as Windows keeps a
         * terminated thread's (ResumeThread still counts down) */
        pthread_mutex_lock(&p->gate_lock);
        if (p->gate >= 0)
                close(p->gate);
        p->gate = -1;
        pthread_mutex_unlock(&p->gate_lock);
        np_win_signal(&p->wt);
        np_win_signal(&p->main_wt);
        np_win_put(&p->obj);
        return NULL;
}

struct w_obj *np_win_process_start(pid_t pid, int gate, int chan, uint32_t first_remote,
                                   struct w_obj **thread)
{
        struct w_process *p = process_new(pid, 0);
        struct w_process *t = process_new(pid, 0);
        if (!p || !t) {
                free(p);
                free(t);
                return NULL;
        }
        if (gate >= 0) {
                p->gate = gate;
                p->suspend = 1;
        }
        p->chan = chan;
        p->next_remote = first_remote;
        np_win_ref(&p->obj);
        t->thread_of = p;
        *thread = &t->obj;
        np_win_ref(&p->obj); /* the reaper's */
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t tid;
        if (pthread_create(&tid, &at, reaper, p) != 0) {
                np_win_put(&p->obj);
        }
        pthread_attr_destroy(&at);
        return &p->obj;
}

/* ---- the main thread of a child: ResumeThread, SuspendThread --------------------------------- */

int np_win_main_thread_code(HANDLE h, DWORD *code)
{
        struct w_process *p = (struct w_process *)np_win_handle_get(h, W_PROCESS);
        if (!p)
                return 0;
        int r = p->thread_of != NULL;
        if (r)
                *code = atomic_load(&p->thread_of->exit_code);
        np_win_put(&p->obj);
        return r;
}

/* What a thread handle is for these calls: 1 and *p (a reference to its
 * process) for the main thread of a child, 0 for a thread of this process
 * (CreateThread's, GetCurrentThread()), -1 with ERROR_INVALID_HANDLE. */
static int main_thread_of(HANDLE h, struct w_process **p)
{
        if (h == CURRENT_THREAD)
                return 0;
        struct w_obj *o = np_win_handle_get(h, 0);
        if (!o)
                return -1;
        int r = -1;
        struct w_process *t = (struct w_process *)o;
        if (o->type == W_THREAD) {
                r = 0;
        } else if (o->type == W_PROCESS && t->thread_of) {
                *p = t->thread_of;
                np_win_ref(&(*p)->obj);
                r = 1;
        } else {
                np_win_set_error(ERROR_INVALID_HANDLE);
        }
        np_win_put(o);
        return r;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_ResumeThread(HANDLE hThread)
{
        struct w_process *p = NULL;
        int r = main_thread_of(hThread, &p);
        if (r <= 0)
                return r < 0 ? (DWORD)-1 : 0; /* our threads are never suspended */
        pthread_mutex_lock(&p->gate_lock);
        DWORD prev = p->suspend;
        if (prev && --p->suspend == 0 && p->gate >= 0) {
                /* the byte lets the child go on to exec; the end of the
                 * gate without one would make it exit instead */
                if (send(p->gate, "r", 1, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
                    errno != ECONNRESET) {
                        p->suspend = prev;
                        prev = (DWORD)-1;
                        np_win_set_error(ERROR_GEN_FAILURE);
                } else {
                        close(p->gate);
                        p->gate = -1;
                }
        }
        pthread_mutex_unlock(&p->gate_lock);
        np_win_put(&p->obj);
        return prev;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_SuspendThread(HANDLE hThread)
{
        struct w_process *p = NULL;
        int r = main_thread_of(hThread, &p);
        if (r < 0)
                return (DWORD)-1;
        /* a running thread cannot be stopped alone on Linux (SIGSTOP stops
         * the whole process): only a child still held before exec counts
         * up (docs/win32.md) */
        DWORD prev = (DWORD)-1, err = ERROR_NOT_SUPPORTED;
        if (r > 0) {
                pthread_mutex_lock(&p->gate_lock);
                if (atomic_load(&p->exit_code) != STILL_ACTIVE)
                        err = ERROR_ACCESS_DENIED; /* it has ended (Wine's answer) */
                else if (p->suspend && p->suspend < MAXIMUM_SUSPEND_COUNT)
                        prev = p->suspend++;
                pthread_mutex_unlock(&p->gate_lock);
                np_win_put(&p->obj);
        }
        if (prev == (DWORD)-1)
                np_win_set_error(err);
        return prev;
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
        struct w_process *p = process_obj(h, 0);
        if (!p)
                return -1;
        int self = p->pid == getpid();
        np_win_put(&p->obj);
        return self;
}

/* DuplicateHandle into a child this process started: the value picked
 * here, the descriptor sent on the child's channel (handoff.c). */
static BOOL duplicate_into(struct w_process *p, HANDLE src, LPHANDLE out, BOOL inherit,
                           DWORD options)
{
        DWORD err = ERROR_SUCCESS;
        HANDLE h = NULL;
        struct w_obj *o = src == CURRENT_PROCESS ? NULL : np_win_handle_get(src, 0);
        if (!o) {
                err = src == CURRENT_PROCESS ? ERROR_NOT_SUPPORTED : ERROR_INVALID_HANDLE;
        } else if (atomic_load(&p->exit_code) != STILL_ACTIVE) {
                err = ERROR_ACCESS_DENIED; /* as Windows and Wine: it has ended */
        } else if (out) {
                /* no target pointer: Windows makes a handle nobody can name;
                 * nothing to send then */
                pthread_mutex_lock(&p->gate_lock);
                if (p->chan < 0)
                        err = ERROR_NOT_SUPPORTED;
                else if (p->next_remote >= NP_WIN_SLOT_END)
                        err = ERROR_NO_SYSTEM_RESOURCES;
                else if ((err = np_win_dup_send(p->chan, p->next_remote, o, inherit)) == 0)
                        h = (HANDLE)(uintptr_t)((uintptr_t)p->next_remote++ << 2);
                pthread_mutex_unlock(&p->gate_lock);
        }
        if (o)
                np_win_put(o);
        if (out)
                *out = h;
        /* the source goes whatever happened, as on Windows */
        if ((options & DUPLICATE_CLOSE_SOURCE) && src != CURRENT_PROCESS && o)
                npipe_win_CloseHandle(src);
        if (err)
                return np_win_fail(err);
        np_win_set_error(ERROR_SUCCESS);
        return TRUE;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_DuplicateHandle(HANDLE hSourceProcessHandle,
                                                    HANDLE hSourceHandle,
                                                    HANDLE hTargetProcessHandle,
                                                    LPHANDLE lpTargetHandle, DWORD dwDesiredAccess,
                                                    BOOL bInheritHandle, DWORD dwOptions)
{
        (void)dwDesiredAccess; /* a duplicate has the source's access (docs/win32.md) */
        if (lpTargetHandle)
                *lpTargetHandle = NULL; /* what a failure leaves there, as on Windows */
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
        if (!dst_self) {
                struct w_process *p = process_obj(hTargetProcessHandle, 0);
                if (!p)
                        return FALSE;
                BOOL ok = duplicate_into(p, hSourceHandle, lpTargetHandle, bInheritHandle,
                                         dwOptions);
                np_win_put(&p->obj);
                return ok;
        }
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

int np_win_std_for_child(int i, HANDLE *h)
{
        int given = 0;
        pthread_mutex_lock(&std_lock);
        if (std_made[i]) {
                struct w_file *f = np_win_file_get(std_handles[i]);
                /* a wrapper of descriptor i itself changes nothing */
                given = !(f && f->fd == i);
                if (f)
                        np_win_put(&f->obj);
                *h = std_handles[i];
        }
        pthread_mutex_unlock(&std_lock);
        return given;
}

static void stub_destroy(struct w_obj *o)
{
        free(o);
}

/* An inherited handle of an object that stays in the parent (an event, a
 * port, a thread, a process: docs/win32.md).  Its value is taken, so no
 * handle of the child's own aliases it, and every call on it fails with
 * ERROR_INVALID_HANDLE, since none accepts the type; CloseHandle and
 * DuplicateHandle work, as on any handle. */
static struct w_obj *stub_new(void)
{
        struct w_obj *o = calloc(1, sizeof(*o));
        if (o)
                np_win_obj_init(o, W_STUB, stub_destroy, NULL);
        return o;
}

/* A child of an npipe parent: the handles it was given, at their values,
 * before main() runs (and before this process makes a handle itself).
 * Here, not in spawn.c with the parent's side: a program linked with the
 * static library gets this constructor only with process.c, which every
 * use of the standard handles, the command line (cmdline.c calls
 * np_win_self_exe) or CreateProcess (spawn.c) brings in. */
__attribute__((constructor)) static void take_inherited_handles(void)
{
        const char *chan = getenv(NP_WIN_CHANNEL_ENV);
        if (chan) {
                char *end;
                long fd = strtol(chan, &end, 10);
                if (!*end && end != chan && fd >= 3 && fd < NP_WIN_FD_BASE)
                        np_win_dup_channel_take((int)fd);
                unsetenv(NP_WIN_CHANNEL_ENV);
        }
        const char *env = getenv(NP_WIN_HANDLES_ENV);
        if (!env)
                return;
        char *copy = strdup(env);
        unsetenv(NP_WIN_HANDLES_ENV); /* not for this process's own children */
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
                struct w_obj *o = fd >= 0 ? np_win_file_new(fd, access) : stub_new();
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

/* ---- this program --------------------------------------------------------------------------- */

char *np_win_self_exe(void)
{
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n < 0)
                return strdup("");
        buf[n] = 0;
        return strdup(buf);
}

/* GetModuleFileName of the program (hModule NULL; there are no other
 * modules): its Linux path.  Too small a buffer gets the path cut to
 * nSize - 1 characters and terminated, the result nSize and
 * ERROR_INSUFFICIENT_BUFFER, as on Windows since Vista (Wine 8.0, as XP,
 * leaves it unterminated). */
static DWORD module_file_name(HMODULE m, void *out, DWORD size, int wide)
{
        if (m) {
                np_win_set_error(ERROR_MOD_NOT_FOUND);
                return 0;
        }
        char *path = np_win_self_exe();
        WCHAR *w = NULL;
        size_t len = 0;
        if (path && wide)
                w = np_win_utf8_to_utf16_dup(path, &len);
        else if (path)
                len = strlen(path);
        if (!path || (wide && !w)) {
                free(path);
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return 0;
        }
        size_t unit = wide ? sizeof(WCHAR) : 1;
        const void *src = wide ? (const void *)w : (const void *)path;
        DWORD r;
        if (len >= size) {
                if (size) {
                        memcpy(out, src, (size - 1) * unit);
                        memset((char *)out + (size - 1) * unit, 0, unit);
                }
                np_win_set_error(ERROR_INSUFFICIENT_BUFFER);
                r = size;
        } else {
                memcpy(out, src, (len + 1) * unit);
                np_win_set_error(ERROR_SUCCESS);
                r = (DWORD)len;
        }
        free(w);
        free(path);
        return r;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetModuleFileNameA(HMODULE hModule, LPSTR lpFilename,
                                                        DWORD nSize)
{
        return module_file_name(hModule, lpFilename, nSize, 0);
}

NPIPE_WIN_API DWORD WINAPI npipe_win_GetModuleFileNameW(HMODULE hModule, LPWSTR lpFilename,
                                                        DWORD nSize)
{
        return module_file_name(hModule, lpFilename, nSize, 1);
}
