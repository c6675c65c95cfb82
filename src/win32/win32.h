/*
 * win32.h - internals of the Win32 layer: the handle table and its objects
 * (events, completion ports, pipe ends), the wait dispatcher, per-thread
 * state (APC queue), error translation and string conversion.
 *
 * Objects are reference counted.  The handle table holds one reference for
 * as long as the handle is open; every API call that looks a handle up
 * holds another until it returns (or, the I/O calls of io.c, keeps the
 * handle's slot, and with it the table's reference, until it returns:
 * np_win_handle_hold); a pending overlapped operation holds one
 * on its pipe end (and on its event and issuing thread) until its
 * completion has been delivered.
 */
#ifndef NPIPE_WIN32_INTERNAL_H
#define NPIPE_WIN32_INTERNAL_H

#include "client/cancel.h"
#include "os/os.h"

#include <npipe/npipe.h>
#include <npipe/windows.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- objects and the handle table (handle.c) ------------------------------------------------ */

/* W_STUB: a handle a child inherited of an object that cannot cross
 * processes (process.c); no call takes it. */
enum w_type {
        W_EVENT = 1,
        W_PORT = 2,
        W_PIPE = 3,
        W_THREAD = 4,
        W_FILE = 5,
        W_PROCESS = 6,
        W_STUB = 7,
};

struct w_obj {
        enum w_type type;
        _Atomic int refs;
        /* open handles (DuplicateHandle makes more than one) and holds of
         * the relays that carry a pipe end to a child (spawn.c): close
         * runs when the last of them goes */
        _Atomic int handles;
        /* slots of the handle table that name the object and are not
         * recycled yet: open handles, and closed ones that calls still
         * hold (np_win_handle_hold) */
        _Atomic int slots;
        void (*destroy)(struct w_obj *o); /* frees the object when refs reach 0 */
        void (*close)(struct w_obj *o);   /* CloseHandle of its last handle */
        /* NULL, or called when `slots` drops to 0, with no lock held (pipe
         * ends: a closed end's native end closes when its last call holding
         * a slot returns) */
        void (*unslotted)(struct w_obj *o);
};

void np_win_obj_init(struct w_obj *o, enum w_type type, void (*destroy)(struct w_obj *),
                     void (*close)(struct w_obj *));
void np_win_ref(struct w_obj *o);
void np_win_put(struct w_obj *o);

/* Give the object a handle; the table takes over the caller's reference.
 * NULL when the table is full (the reference is then dropped). */
HANDLE np_win_handle_new(struct w_obj *o);
/* Look a handle up: the object with a new reference, or NULL with the last
 * error set to ERROR_INVALID_HANDLE (type 0 accepts any type). */
struct w_obj *np_win_handle_get(HANDLE h, enum w_type type);
/* The same for the length of one call, without a reference: the object
 * of an open handle of any type, kept alive by the handle's slot until
 * np_win_handle_unhold(hold) (the slot is not recycled before, and the
 * object's `slots` stays above 0; a CloseHandle meanwhile still closes
 * the handle at once).  NULL with ERROR_INVALID_HANDLE.  For the calls of
 * io.c; unhold with no lock held (it may run the object's unslotted). */
struct w_obj *np_win_handle_hold(HANDLE h, void **hold);
void np_win_handle_unhold(void *hold);
/* Remove a handle; the table's reference goes to the caller.  NULL (and
 * ERROR_INVALID_HANDLE) when it is not an open handle. */
struct w_obj *np_win_handle_take(HANDLE h);
/* Call fn for every open handle's object of that type (with a reference). */
void np_win_handle_foreach(enum w_type type, void (*fn)(struct w_obj *o, void *arg), void *arg);
/* Call fn for every open handle with HANDLE_FLAG_INHERIT (with a reference). */
void np_win_handle_foreach_inheritable(void (*fn)(HANDLE h, struct w_obj *o, void *arg),
                                       void *arg);
/* Give the object a handle of exactly that value (a child taking over the
 * handles its parent passed on, before it has made any of its own; a
 * handle a parent duplicated into this process); NULL when the value is
 * taken or not a handle value. */
HANDLE np_win_handle_new_at(HANDLE value, struct w_obj *o);
/* Handle slots: a process gives its own handles slots below
 * NP_WIN_SLOT_LOCAL; the slots from there to NP_WIN_SLOT_END are values a
 * parent picks for the handles it duplicates into the process (handoff.c),
 * each used once. */
#define NP_WIN_SLOT_LOCAL (1u << 19)
#define NP_WIN_SLOT_END   (1u << 20)
/* The HANDLE_FLAG_* of a handle: get and set (mask, flags); 0 with
 * ERROR_INVALID_HANDLE when it is not open. */
int np_win_handle_flags(HANDLE h, DWORD *get, DWORD mask, DWORD flags);
/* Keep the object open as a handle would, without a handle; the release
 * closes it when it was the last. */
void np_win_obj_hold(struct w_obj *o);
void np_win_obj_release(struct w_obj *o);

/* ---- errors (error.c) ----------------------------------------------------------------------- */

void np_win_set_error(DWORD err);

/* What the operation reports, per kind of operation: the native layer's
 * status is the same for many situations that Win32 tells apart. */
enum w_op_kind {
        WOP_READ,
        WOP_WRITE,
        WOP_LISTEN,
        WOP_TRANSACT,
        WOP_PEEK,
        WOP_FLUSH,
        WOP_DISCONNECT,
        WOP_CREATE,
        WOP_OPEN,
        WOP_WAIT,
        WOP_QUERY,
        WOP_SETMODE,
};
/* The native status an operation of that kind reports for `status`;
 * `async` is set for completions of pending operations. */
int np_win_op_status(enum w_op_kind kind, int status, int async);
DWORD np_win_op_error(enum w_op_kind kind, int status, int async);
uint32_t np_win_op_ntstatus(enum w_op_kind kind, int status, int async);
/* RtlNtStatusToDosError for every NTSTATUS this layer produces. */
DWORD np_win_nt_to_error(uint32_t nt);
/* Fail: set the error and return FALSE. */
BOOL np_win_fail(DWORD err);

#define W_STATUS_SUCCESS         0x00000000u
#define W_STATUS_BUFFER_OVERFLOW 0x80000005u
#define W_STATUS_CANCELLED       0xC0000120u
#define W_NT_ERROR(s)            (((uint32_t)(s) >> 30) == 3u)
#define W_NT_SUCCESS(s)          ((int32_t)(uint32_t)(s) >= 0)

/* ---- strings and names (name.c) ------------------------------------------------------------- */

/* UTF-16 to UTF-8 (surrogate pairs combined); NULL with *err set to
 * ERROR_INVALID_NAME for unpaired surrogates, ERROR_NOT_ENOUGH_MEMORY. */
char *np_win_utf16_to_utf8(const WCHAR *s, DWORD *err);
/* UTF-8 to UTF-16 with the terminating 0: the number of units it takes;
 * written to out only when that is at most cap.  Bytes that are not
 * well-formed UTF-8 pass as Latin-1, one unit each. */
size_t np_win_utf8_to_utf16(const char *s, WCHAR *out, size_t cap);
/* The string argument of a W function for the code of its A form: NULL
 * stays NULL (the A form decides what that means), anything else is
 * converted into *out (free it).  0 with the last error set when it
 * cannot be. */
int np_win_utf16_arg(const WCHAR *s, char **out);

enum w_name_kind {
        WNAME_NULL,   /* no name at all */
        WNAME_EMPTY,  /* "" */
        WNAME_LOCAL,  /* \\.\pipe\NAME (any case, / or \ in the prefix, \\?\ too) */
        WNAME_REMOTE, /* \\server\pipe\NAME */
        WNAME_OTHER,  /* anything else: a file path */
};
/* Classify a Win32 path.  For WNAME_LOCAL, *canon gets a malloc'ed
 * "\\.\pipe\NAME" with the prefix in canonical form and NAME unchanged
 * (NULL without memory: then the kind is WNAME_LOCAL and *canon NULL); for
 * WNAME_REMOTE, likewise "\\server\pipe\NAME".  The caller frees it. */
enum w_name_kind np_win_name(const char *path, char **canon);
/* True for the characters Win32 refuses in file names: < > " | ? * */
int np_win_name_has_wildcards(const char *path);

/* ---- formatting and the kernel32 helpers (format.c, cmdline.c) ------------------------------- */

/* printf with the Microsoft conversions (format.c): a malloc'ed UTF-8
 * result and its length, NULL without memory.  fmt is UTF-16 when
 * fmt_wide; %s and %c take WCHAR strings when wide_default. */
/* A string that grows as it is written; oom once an allocation failed
 * (the rest is then dropped).  Always NUL-terminated when p != NULL. */
struct np_win_buf {
        char *p;
        size_t len, cap;
        int oom;
};
void np_win_buf_put(struct np_win_buf *b, const char *s, size_t n);
char *np_win_vformat(const void *fmt, int fmt_wide, int wide_default, va_list ap, size_t *len);
/* UTF-8 to a malloc'ed UTF-16 string (lenient, as np_win_utf8_to_utf16). */
WCHAR *np_win_utf8_to_utf16_dup(const char *s, size_t *units);
/* UTF-16 (n units, or up to the 0 for (size_t)-1) to malloc'ed UTF-8;
 * unpaired surrogates become U+FFFD. */
char *np_win_utf16_to_utf8_lenient(const WCHAR *s, size_t n);
/* The heap blocks of LocalAlloc & co. (heap.c), for FormatMessage and
 * CommandLineToArgvW. */
void *np_win_block_alloc(size_t n, int zero);

/* ---- the dispatcher ------------------------------------------------------------------------- */

/* Layered bottom up, each file calling only those below it:
 *   apc.c       per-thread state, the APC queue, the sleep of a thread
 *   waitable.c  signal states and the wait for them (np_win_wait)
 *   thread.c    thread handles (waitable objects of their own)
 *   wait.c      WaitForMultipleObjectsEx & co., SleepEx, QueueUserAPC */

struct w_wblock;

/* The signal state of an event, a pipe end or a thread handle. */
struct w_waitable {
        _Atomic int signalled;
        _Atomic int nwaiters;
        int manual;               /* 0: a satisfied wait resets it (auto-reset event) */
        struct w_wblock *waiters; /* under the dispatcher lock, FIFO */
};

struct w_apc {
        struct w_apc *next;
        LPOVERLAPPED_COMPLETION_ROUTINE routine;
        DWORD err, bytes;
        LPOVERLAPPED ov;
        PAPCFUNC user; /* QueueUserAPC: user(data) instead of routine */
        ULONG_PTR data;
};

/* Per-thread state: the futex word a thread sleeps on and its APC queue. */
struct w_thread {
        _Atomic uint32_t seq; /* bumped (and woken) by whoever wakes this thread */
        _Atomic int refs;
        _Atomic int alertable; /* in an alertable wait now */
        _Atomic int gone;      /* the thread has exited: APCs are dropped */
        pthread_mutex_t apc_lock;
        struct w_apc *apc_head, *apc_tail;
        /* under apc_lock: the synchronous connect on a synchronous handle
         * the thread is blocked in (CancelSynchronousIo, overlapped.c), or
         * NULL */
        struct w_op *sync_op;
        /* set while the thread is in a synchronous read, write, transact
         * or flush on a synchronous handle, which run the native blocking
         * calls: CancelSynchronousIo fires the token (client/cancel.h) */
        _Atomic int sync_native;
        struct np_synccancel sync_cancel;
};

/* apc.c */
extern _Thread_local struct w_thread *np_win_self_tls;
struct w_thread *np_win_self_make(void);
/* The calling thread's state, made on first use. */
static inline struct w_thread *np_win_self(void)
{
        struct w_thread *t = np_win_self_tls;
        return t ? t : np_win_self_make();
}
void np_win_thread_ref(struct w_thread *t);
void np_win_thread_put(struct w_thread *t);
void np_win_thread_wake(struct w_thread *t);
/* Queue a completion routine to a thread; it runs in the thread's next
 * alertable wait.  Takes ownership of apc. */
void np_win_queue_apc(struct w_thread *t, struct w_apc *apc);
int np_win_apc_pending(struct w_thread *t);
/* Run every queued APC of the calling thread; returns how many ran. */
int np_win_run_apcs(struct w_thread *t);
/* Sleep on t's futex word until *done >= 0 (done may be NULL), an APC is
 * queued (alertable) or the deadline passes; then clears t->alertable,
 * which the caller set when it wants queued APCs to wake it. */
void np_win_thread_sleep(struct w_thread *t, _Atomic int *done, int alertable, int64_t deadline);

/* waitable.c */
void np_win_waitable_init(struct w_waitable *w, int manual, int signalled);
void np_win_signal(struct w_waitable *w);
void np_win_unsignal(struct w_waitable *w);
/* np_win_unsignal of a pipe handle as a synchronous ReadFile or WriteFile
 * starts (io.c).  A release store is enough there: a thread that sees the
 * handle unsignalled must see what the call stored before it (its cancel
 * token, CANCEL-05), and the completion's np_win_signal, a later store to
 * the same word, stays sequentially consistent for the waiters.  It spares
 * a full barrier on every call. */
static inline void np_win_unsignal_io(struct w_waitable *w)
{
        atomic_store_explicit(&w->signalled, 0, memory_order_release);
}
/* Deadlines are np_now_ns() values (os/os.h, with the futex calls). */
int64_t np_win_deadline(DWORD ms); /* -1 for INFINITE */
/* Wait for waitables (the dispatcher core of WaitForMultipleObjectsEx). */
DWORD np_win_wait(DWORD n, struct w_waitable *const *objs, int all, DWORD ms, int alertable);
/* Completions of overlapped operations, for GetOverlappedResult's waits
 * on an OVERLAPPED whose object was signalled by another operation. */
void np_win_completion_bump(void);
/* Wait until ov->Internal is no longer STATUS_PENDING (or the deadline). */
int np_win_wait_ov(OVERLAPPED *ov, int64_t deadline_ns);
/* The same, completing the operation `ctx` of np in this thread meanwhile
 * (np_async_help): 1 complete, 0 deadline, -1 the engine cannot help. */
int np_win_help_ov(npipe_t *np, void *ctx, OVERLAPPED *ov, int64_t deadline_ns);

/* thread.c */
/* The thread of a thread handle (CreateThread's, or GetCurrentThread's
 * pseudo-handle) with a reference; NULL and ERROR_INVALID_HANDLE. */
struct w_thread *np_win_thread_of(HANDLE h);
struct w_waitable *np_win_thread_waitable(struct w_obj *o);

/* ---- events (event.c) ----------------------------------------------------------------------- */

struct w_event {
        struct w_obj obj;
        struct w_waitable wt;
        char *name;  /* named events are shared within the process */
        struct w_event *next;
};

/* ---- files and processes (file.c, process.c) ------------------------------------------------ */

/* A HANDLE over a file descriptor: the standard handles, files opened by
 * CreateFile, the pipe ends a child inherits from its parent.  I/O on it
 * is synchronous (an OVERLAPPED is completed before the call returns). */
struct w_file {
        struct w_obj obj;
        struct w_waitable wt;
        int fd;
        unsigned access; /* WACC_READ, WACC_WRITE */
        DWORD type;      /* FILE_TYPE_* */
};
HANDLE np_win_file_handle(int fd, unsigned access);
struct w_obj *np_win_file_new(int fd, unsigned access);
struct w_file *np_win_file_get(HANDLE h); /* NULL without an error set */
BOOL np_win_file_io(struct w_file *f, int write, void *buf, DWORD len, LPDWORD done,
                    OVERLAPPED *ov, LPOVERLAPPED_COMPLETION_ROUTINE routine);
BOOL np_win_file_peek(struct w_file *f, void *buf, DWORD size, LPDWORD read, LPDWORD avail,
                      LPDWORD left);
HANDLE np_win_file_open(const char *path, DWORD desired, DWORD disposition, DWORD flags);
/* The waitable of a process handle (process.c). */
struct w_waitable *np_win_process_waitable(struct w_obj *o);
/* The handles a child takes over (spawn.c writes the list, process.c
 * reads it before main): entries "HANDLE:FD:ACCESS:STD" separated by
 * commas (hex handle, decimal fd, WACC_* bits, the standard slots it
 * fills as bits 0..2).  FD -1: an inheritable handle of an object that
 * stays in the parent (event, port, thread, process), a W_STUB there. */
#define NP_WIN_HANDLES_ENV "NPIPE_WIN32_HANDLES"
/* A process object for a child CreateProcess has just started (spawn.c),
 * with a thread that reaps the child and signals the object: the caller's
 * reference, NULL without memory; *thread gets the object of its main
 * thread (pi.hThread; a reference too).  gate >= 0: the child was made
 * with CREATE_SUSPENDED and waits for a byte on that socket before exec
 * (the object owns it; ResumeThread sends the byte). */
struct w_obj *np_win_process_start(pid_t pid, int gate, int chan, uint32_t first_remote,
                                   struct w_obj **thread);
/* The child's DuplicateHandle channel (handoff.c): its descriptor in
 * NP_WIN_CHANNEL_ENV; the parent sends on its end (the process object's
 * `chan`), picking values from `first_remote` up. */
#define NP_WIN_CHANNEL_ENV "NPIPE_WIN32_CHANNEL"
/* Copies the parent keeps of what it gives a child live at or above this
 * descriptor, the child's targets below. */
#define NP_WIN_FD_BASE 64
/* The descriptor a child gets for an object: a copy of a file's, or the
 * child's side of a new relay for a pipe end (close-on-exec, at or above
 * NP_WIN_FD_BASE; WACC_* in *access).  -1 for objects that do not cross
 * processes (events, ports, threads, processes) and a closed end. */
int np_win_child_fd(struct w_obj *o, unsigned *access);
/* Send object o to a child as the handle of that slot: ERROR_SUCCESS, or
 * the error DuplicateHandle reports (ERROR_NOT_SUPPORTED for an object
 * that cannot cross, ERROR_ACCESS_DENIED when the child has ended). */
DWORD np_win_dup_send(int chan, uint32_t slot, struct w_obj *o, BOOL inherit);
/* In a child: take the channel's descriptor (before main); enter every
 * handle waiting on it, the number entered (handle.c calls it when a
 * value of the parent's range is not in the table). */
void np_win_dup_channel_take(int fd);
int np_win_dup_pull(void);
/* GetExitCodeThread of a child's main-thread handle (pi.hThread): 1 and
 * *code (STILL_ACTIVE while the child runs or is held), else 0. */
int np_win_main_thread_code(HANDLE h, DWORD *code);
/* What standard slot i of a child is when STARTUPINFO names none: 1 and
 * *h when this process set the slot to something other than a wrapper of
 * descriptor i itself, else 0 (the child keeps descriptor i as it is). */
int np_win_std_for_child(int i, HANDLE *h);
/* The path of this program, malloc'ed ("" when it cannot be read).  In
 * process.c so that cmdline.c, which calls it, links process.c's
 * constructor in (static library). */
char *np_win_self_exe(void);

/* ---- command lines (cmdline.c) -------------------------------------------------------------- */

/* The arguments of a command line: n malloc'ed UTF-8 strings in v, then
 * NULL. */
struct w_split {
        size_t n, cap;
        char **v;
};
/* Split a command line (UTF-8) the way CommandLineToArgvW does, adding
 * the arguments to out; -1 without memory (out is then freed). */
int np_win_split_command_line(const char *cmd, struct w_split *out);
void np_win_split_free(struct w_split *s);

/* ---- completion ports (port.c) -------------------------------------------------------------- */

struct w_port;
/* Queue a completion packet (dropped when the port is closed); -1 without
 * memory. */
int np_win_port_post(struct w_port *p, DWORD bytes, ULONG_PTR key, OVERLAPPED *ov, uint32_t nt);
struct w_port *np_win_port_from(struct w_obj *o);

/* ---- pipe ends (pipe.c) --------------------------------------------------------------------- */

/* Rights of a handle (CREATE-07, OPEN-04, ANON-02): what Windows grants
 * decides ERROR_ACCESS_DENIED before the pipe is looked at. */
#define WACC_READ       0x1u /* FILE_READ_DATA */
#define WACC_WRITE      0x2u /* FILE_WRITE_DATA */
#define WACC_READ_ATTR  0x4u /* FILE_READ_ATTRIBUTES */
#define WACC_WRITE_ATTR 0x8u /* FILE_WRITE_ATTRIBUTES */

struct w_op;

struct w_pipe {
        struct w_obj obj;
        struct w_waitable wt; /* the handle itself is waitable (OVL-14) */
        npipe_t *np;
        int server;
        int overlapped; /* FILE_FLAG_OVERLAPPED */
        unsigned access;
        pthread_mutex_t lock; /* ops, the port's binding */
        struct w_op *ops;     /* pending overlapped operations */
        /* bound completion port (a reference): set once, under lock, and
         * published (key first) with a release store; read with
         * np_win_pipe_port, without the lock */
        struct w_port *port;
        ULONG_PTR key;
        _Atomic int closed;      /* CloseHandle has been called */
        _Atomic int calls;       /* API calls using np right now (besides those
                                  * that only hold a handle's slot: obj.slots) */
        _Atomic int np_closed;   /* npipe_close has been called */
        _Atomic unsigned notify; /* SetFileCompletionNotificationModes flags (only ever added) */
};

/* The pipe object of a handle (a reference; no native calls allowed). */
struct w_pipe *np_win_pipe_get(HANDLE h);
/* The same for a call that uses the native end: until np_win_pipe_leave,
 * a CloseHandle in another thread leaves the native end open (the last
 * call out closes it).  Call leave with no lock held. */
struct w_pipe *np_win_pipe_enter(HANDLE h);
/* np_win_pipe_enter for a call that needs rights (WACC_*) of the handle:
 * NULL with ERROR_ACCESS_DENIED when the handle lacks one. */
struct w_pipe *np_win_pipe_enter_for(HANDLE h, unsigned rights);
void np_win_pipe_leave(struct w_pipe *p);
/* The same for a pipe the caller keeps alive itself (np_win_handle_hold):
 * 0 with ERROR_INVALID_HANDLE when CloseHandle has begun; np_win_pipe_exit
 * is np_win_pipe_leave without the reference.  A call that holds the
 * handle's slot needs neither: the hold alone keeps the native end open
 * (the end closes once `calls` and the object's `slots` are both 0; ReadFile
 * and WriteFile on a synchronous handle count on that, io.c). */
void np_win_pipe_last_out(struct w_pipe *p);
static inline void np_win_pipe_exit(struct w_pipe *p)
{
        if (atomic_fetch_sub(&p->calls, 1) == 1 && atomic_load(&p->closed))
                np_win_pipe_last_out(p);
}
static inline int np_win_pipe_in(struct w_pipe *p)
{
        atomic_fetch_add(&p->calls, 1);
        /* closed since we looked it up: its native end may be gone */
        if (atomic_load(&p->closed)) {
                np_win_pipe_exit(p);
                np_win_set_error(ERROR_INVALID_HANDLE);
                return 0;
        }
        return 1;
}
/* Give a new native end a handle; closes the end again when that fails
 * (INVALID_HANDLE_VALUE, last error set). */
HANDLE np_win_pipe_handle(npipe_t *np, int server, int overlapped, unsigned access);
/* Bind a pipe to a port (CreateIoCompletionPort). */
BOOL np_win_pipe_bind(struct w_pipe *p, struct w_port *port, ULONG_PTR key);
/* The port p is bound to, or NULL; *key its key.  A binding is made once
 * and kept until the end is freed, so no lock is needed to read it: the
 * per-call p->lock it took before cost every overlapped call a lock and an
 * unlock (docs/performance.md, "Stop 23"). */
static inline struct w_port *np_win_pipe_port(struct w_pipe *p, ULONG_PTR *key)
{
        struct w_port *port = __atomic_load_n(&p->port, __ATOMIC_ACQUIRE);
        if (port)
                *key = p->key;
        return port;
}

/* ---- I/O on pipe ends (io.c, overlapped.c, completion.c) ------------------------------------ */

/* io.c calls overlapped.c and completion.c; overlapped.c calls
 * completion.c; completion.c calls neither. */

/* What one call asks for. */
struct w_io_req {
        enum w_op_kind kind;
        void *buf;        /* read; transact: the reply buffer */
        const void *wbuf; /* write; transact: the request */
        size_t len;       /* read or write length; transact: reply size */
        size_t wlen;      /* transact: request size */
};

/* A synchronous call on an overlapped handle waits here for its operation,
 * as kernelbase waits on the handle after NtReadFile returns STATUS_PENDING.
 * Waiting outside the native layer lets a CloseHandle in another thread end
 * the operation (and the call) at once. */
struct w_sync {
        _Atomic uint32_t done;
        int status;
        size_t bytes;
};

/* The event of an OVERLAPPED: the low bit of hEvent only says "no packet". */
static inline HANDLE np_win_ov_event(const OVERLAPPED *ov)
{
        return (HANDLE)((uintptr_t)ov->hEvent & ~(uintptr_t)1);
}

static inline void np_win_ov_set_status(OVERLAPPED *ov, uint32_t nt)
{
        /* InternalHigh first: whoever sees Internal complete sees the count */
        __atomic_store_n(&ov->Internal, (ULONG_PTR)nt, __ATOMIC_RELEASE);
}

/* The first part of every completion, in the order NT does it: the
 * OVERLAPPED filled (when there is one), the event or the handle
 * signalled, the packet posted.  Returns the count delivered. */
static inline DWORD np_win_deliver_signal(struct w_pipe *p, OVERLAPPED *ov, struct w_event *ev,
                                          struct w_port *port, ULONG_PTR key, uint32_t nt,
                                          size_t bytes)
{
        DWORD n = W_NT_ERROR(nt) ? 0 : (DWORD)bytes;
        if (ov) {
                ov->InternalHigh = n;
                np_win_ov_set_status(ov, nt);
        }
        if (ev)
                np_win_signal(&ev->wt);
        else if (!ov || !p->overlapped ||
                 !(atomic_load(&p->notify) & FILE_SKIP_SET_EVENT_ON_HANDLE))
                /* OVL-13: the mode is about overlapped operations; a
                 * synchronous call still signals the handle it waited on */
                np_win_signal(&p->wt);
        if (port)
                np_win_port_post(port, n, key, ov, nt);
        return n;
}

/* A completion that has an OVERLAPPED and no routine - at once or
 * later: np_win_deliver without its APC part, inline for io.c's
 * io_ovl_rw. */
static inline void np_win_deliver_ov(struct w_pipe *p, OVERLAPPED *ov, struct w_event *ev,
                                     struct w_port *port, ULONG_PTR key, uint32_t nt,
                                     size_t bytes)
{
        np_win_deliver_signal(p, ov, ev, port, key, nt, bytes);
        /* only a GetOverlappedResult waiting for an OVERLAPPED written here
         * needs the bump (np_win_wait_ov) */
        np_win_completion_bump();
}

/* completion.c: a completion - at once or later: fill the OVERLAPPED,
 * then signal, post and queue, in the order NT does. */
void np_win_deliver(struct w_pipe *p, OVERLAPPED *ov, struct w_event *ev, struct w_port *port,
                    ULONG_PTR key, LPOVERLAPPED_COMPLETION_ROUTINE routine, struct w_thread *thread,
                    uint32_t nt, size_t bytes);

/* overlapped.c: start an operation of the engine, its record linked where
 * CancelIo(Ex) - or, for a synchronous call on a synchronous handle,
 * CancelSynchronousIo - finds it.  NP_ASYNC_PENDING, or the result of an
 * operation finished at once (the record is then gone).  With sync, the
 * end is reported there instead of through the OVERLAPPED. */
int np_win_op_start(struct w_pipe *p, const struct w_io_req *rq, OVERLAPPED *ov, struct w_event *ev,
                    struct w_port *port, ULONG_PTR key, LPOVERLAPPED_COMPLETION_ROUTINE routine,
                    struct w_sync *sync, size_t *bytes);
/* np_win_op_start for a ReadFile or WriteFile (kind) with an OVERLAPPED,
 * no routine and no waiting caller: io.c's io_ovl_rw. */
int np_win_op_rw(struct w_pipe *p, enum w_op_kind kind, void *buf, size_t len, OVERLAPPED *ov,
                 struct w_event *ev, struct w_port *port, ULONG_PTR key, size_t *bytes);
/* GetOverlappedResult's wait for the operation of p that writes ov, done
 * in the waiting thread where it can be: 1 complete, 0 deadline, -1 wait
 * as before. */
int np_win_op_help(struct w_pipe *p, OVERLAPPED *ov, int64_t deadline);

#endif
