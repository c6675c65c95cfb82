/*
 * client.h - libnpipe's side of the broker: one socket per process, request
 * ids, the event thread, broker autostart; and the hooks pipe.c provides
 * for broker events.
 */
#ifndef NPIPE_CLIENT_H
#define NPIPE_CLIENT_H

#include "os/os.h"
#include "proto/proto.h"

#include <npipe/npipe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <sys/types.h>

/* Reply handler for multi-packet replies (LIST): called on the event
 * thread for every packet of the reply; return non-zero when it was the
 * last one. */
typedef int (*np_reply_fn)(void *ctx, const struct np_hdr *hdr, const void *body, size_t len);

struct np_request {
        uint16_t type;
        const void *body;    /* fixed part */
        size_t body_len;
        const void *name;    /* appended after the body (may be NULL) */
        size_t name_len;
        int fd;              /* sent with the request, -1 for none; never closed here */
        void *reply;         /* the reply's body (after the header) lands here */
        size_t reply_cap;
        size_t reply_len;    /* out */
        uint16_t reply_type; /* out */
        int reply_fd;        /* out: descriptor that came with the reply, or -1 */
        np_reply_fn fn;      /* optional: multi-packet replies */
        void *fn_ctx;
        /* until when to wait for the reply (np_now_ns()): 0 for the
         * default (NP_BROKER_CALL_MS from now), -1 for no limit */
        int64_t deadline;
};

/* The bound of a broker call without a timeout of its caller's. */
#define NP_BROKER_CALL_MS 10000
/* The bound of a server close's wait for the broker to drop the name
 * (NAME-17): a close must not hang a program's shutdown. */
#define NP_BROKER_CLOSE_MS 2000
/* A caller's timeout as a broker call's deadline: none for NPIPE_INFINITE,
 * else at least NP_BROKER_MIN_MS from now (a timeout of 0 means "do not
 * wait for an instance", not "do not wait for the broker"). */
#define NP_BROKER_MIN_MS 1000
int64_t np_broker_deadline(int timeout_ms);

/* Send a request and wait for its reply.  Returns 0 when a reply arrived
 * (its status is in the reply body), or NPIPE_EBROKER / NPIPE_EPROTO /
 * NPIPE_ENOMEM, or NPIPE_ETIMEDOUT when no reply came by the deadline (a
 * stopped broker: the request is abandoned, and what a late reply made -
 * an instance, a connection - is closed when it comes).  Starts the
 * broker when none is running.  Never holds a lock while it waits, so a
 * fork() in another thread never waits for it. */
int np_broker_call(struct np_request *req);

/* np_broker_call for a request answered by a status only (np_reply):
 * that status, or the call's own error, or NPIPE_EPROTO for a short reply.
 * A descriptor that came with the reply is closed. */
int np_broker_status(uint16_t type, const void *body, size_t body_len, const void *name,
                     size_t name_len, int fd);
/* The same with a deadline (np_request.deadline). */
int np_broker_status_until(uint16_t type, const void *body, size_t body_len, const void *name,
                           size_t name_len, int fd, int64_t deadline);

/* Send a request whose reply nobody waits for (close notifications, a
 * server's LISTEN), with NP_HDR_NO_REPLY and optionally a descriptor
 * (-1 for none; the caller keeps it).  Never starts a session: returns
 * NPIPE_EBROKER when there is none or the send failed (a caller that
 * needs the request to arrive then calls np_broker_call, which starts
 * one and says why it could not); 0 once sent.  A broker that is gone
 * learns of closes from our socket anyway. */
int np_broker_post(uint16_t type, const void *body, size_t body_len, int fd);

/* Why this process could not reach a broker, for people.
 *
 * When np_broker_call cannot make a session (NPIPE_EBROKER, or the
 * NPIPE_EACCES / NPIPE_ENOENT / NPIPE_ENAMETOOLONG of a bad runtime
 * directory, or NPIPE_EPROTO) it records one line of English naming what
 * it tried: which runtime directory (and where that choice came from) and
 * what is wrong with it - missing, not a directory, a symbolic link, the
 * wrong owner, the wrong mode - or which broker program it tried to start
 * and why that failed.  np_broker_why copies that line into buf (always
 * NUL-terminated, truncated to len - 1 bytes) and returns its length, 0
 * when the last attempt succeeded or none was made.  The library prints
 * nothing, except the same line on stderr when NPIPE_DEBUG is set.
 * Not API: exported to npipe among the NPIPE_PRIVATE names
 * (src/libnpipe.sym), which prints it after an error. */
size_t np_broker_why(char *buf, size_t len);
/* The same for the last request a broker limit refused (NPIPE_ELIMIT):
 * which limit, whose, and how to raise it (proto.h NP_LIMIT_*); 0 when
 * the broker said nothing more (an older npiped). */
size_t np_broker_limit_why(char *buf, size_t len);
/* The same for the last remote pipe call that failed: the SMB module's
 * words ("logon failure for NPTEST\nptest at 127.0.0.1:4455"), or why the
 * module could not be loaded. */
size_t np_remote_why(char *buf, size_t len);

/* ---- diag.c: keeping those texts ---- */
#define NP_LIMIT_TEXT_MAX 320
/* The words for a reply's limit detail (proto.h NP_LIMIT_*). */
void np_limit_text(uint32_t detail, char *buf, size_t len);
/* Why the last attempt to make a session failed (NULL: it succeeded). */
void np_diag_why_set(const char *text);
/* The remote (SMB) module's words for a failed call, kept for np_remote_why. */
void np_diag_remote_set(const char *text);
/* The last request a limit refused: its detail (0: the broker said no more). */
void np_diag_limit_set(uint32_t detail);

/* For the layers below broker.c (os/runtime.c, os/spawn.c): note the
 * detail of a failure in progress, printf-style, for this thread; the
 * last note wins.  broker.c clears it before each attempt to make a
 * session and keeps it (np_broker_why) when the attempt fails.  Defined
 * in os/runtime.c, which npiped compiles too (it may note; nobody reads). */
#define NP_BROKER_NOTE_MAX 768
void np_broker_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void np_broker_note_clear(void);
/* This thread's note ("" when none). */
const char *np_broker_noted(void);

/* ---- broker_connect.c: reaching the broker ---- */
/* Whether a missing broker is started (default 1).  npiped's own SMB
 * relay is a client of the broker it runs in and must never start one. */
void np_broker_autostart(int on);
/* Connect to this process's broker (np_runtime_dir_client), starting one
 * when none answers (np_broker_autostart), and exchange the hello: the
 * connected socket, or a negative code with the reason noted
 * (np_broker_note).  broker.c calls it with its lock held, to make a
 * session; nothing else does. */
int np_broker_connect(void);

/* npiped's SMB relay: open `name` as a client for a remote user, with the
 * access the pipe's direction allows; never waits (NPIPE_EBUSY). */
struct npipe;
int np_open_remote(const char *name, const struct np_remote_id *id, npipe_t **ret);

/* Our pid as the broker knows it (getpid() of the connected process). */
pid_t np_self_pid(void);
/* The same word, for a caller that knows the library is initialised (it
 * holds a handle): no call on the data path.  Reset in a fork's child. */
extern _Atomic pid_t np_self_pid_now;

/* What the layer above the broker connection (the handles: events.c,
 * registry.c, async.c) does when the broker tells it something.  Set once,
 * by np_events_install(), before a session can start; broker.c calls
 * nothing above it except through these.  Run on the event thread; a
 * descriptor passed is owned by the callee. */
struct np_broker_hooks {
        /* remote: the SMB user for NP_MSG_EV_CONNECTED_REMOTE, else NULL */
        void (*connected)(const struct np_ev_connected *ev, const struct np_remote_id *remote,
                          int fd);
        void (*peer_gone)(const struct np_ev_peer_gone *ev);
        /* NP_MSG_EV_STATS_QUERY: the live connections of our server ends,
         * in a malloc'd array (*n entries; NULL when none or no memory) */
        struct np_stats_live *(*stats)(size_t *n);
        /* the connection was lost: pending requests have failed */
        void (*lost)(void);
        /* fork: 0 before (lock, after the connection's locks), 1 in the
         * parent after it (unlock), 2 in the child (reset) */
        void (*atfork)(int phase);
};
void np_broker_set_hooks(const struct np_broker_hooks *hooks);

#endif
