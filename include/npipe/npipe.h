/*
 * npipe.h - the native C API of npipe: Windows NT named pipes on Linux.
 *
 * A pipe is a name (\\.\pipe\NAME, case-insensitive) with one or more server
 * *instances*; each instance connects to at most one client at a time.  Data
 * flows through shared-memory rings between the two processes; the broker
 * daemon (npiped, started on first use) only sets connections up.
 *
 * Conventions:
 *   - Every function returns 0 (or a non-negative count) on success and a
 *     negative NPIPE_E* code on failure.  NPIPE_E* values are negative errno
 *     numbers where an errno fits, and values in a reserved range
 *     (NPIPE_E__BASE and below) for NT states errno has no word for.
 *   - NPIPE_EMOREDATA is a *status*, not a failure: the bytes were delivered
 *     and the rest of the message stays queued (semantics MSG-02).
 *   - npipe_win32_error() and npipe_ntstatus() translate a code for the Win32
 *     boundary; the Win32 layer may pick a different code per operation.
 *   - Timeouts are in milliseconds; NPIPE_INFINITE waits forever.
 *   - All functions are thread-safe.  A handle belongs to the process that
 *     made it: used in a child after fork() it fails with NPIPE_EFORKED.
 */
#ifndef NPIPE_NPIPE_H
#define NPIPE_NPIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NPIPE_EXTERN __attribute__((visibility("default")))
#else
#define NPIPE_EXTERN
#endif

/* NPIPE_VERSION_MAJOR, _MINOR, _PATCH and _STRING: generated from the
 * project version (meson.build). */
#include <npipe/version.h>

/* ---- status codes --------------------------------------------------------
 * XX(name, value, Win32 error, NTSTATUS, message).  The Win32 and NTSTATUS
 * columns are the usual translation (spec section 0.4).  Two have no
 * NTSTATUS of their own: ERROR_PIPE_LOCAL (ELOCAL) comes from the Win32
 * call itself, so its NTSTATUS is the NT-level "invalid device request";
 * EMSGSIZE is what smbd answers an over-long SMB write with. */
#define NPIPE_E__BASE (-4000)

#define NPIPE_STATUS_MAP(XX)                                                                       \
        XX(OK, 0, 0u, 0x00000000u, "success")                                                     \
        XX(EINVAL, -22, 87u, 0xC000000Du, "invalid argument")                                     \
        XX(ENOENT, -2, 2u, 0xC0000034u, "no such pipe")                                           \
        XX(EACCES, -13, 5u, 0xC0000022u, "access denied")                                         \
        XX(EBADF, -9, 6u, 0xC0000008u, "invalid handle")                                          \
        XX(ENOMEM, -12, 8u, 0xC0000017u, "out of memory")                                         \
        XX(ETIMEDOUT, -110, 121u, 0xC00000B5u, "timed out")                                       \
        XX(ECANCELED, -125, 995u, 0xC0000120u, "operation cancelled")                             \
        XX(EPIPE, -32, 109u, 0xC000014Bu, "pipe broken: the other end closed")                    \
        XX(EAGAIN, -11, 232u, 0xC00000D9u, "no data available (non-blocking)")                    \
        XX(ENOTCONN, -107, 233u, 0xC00000B0u, "pipe not connected")                               \
        XX(EISCONN, -106, 535u, 0xC00000B2u, "a client is already connected")                     \
        XX(ENOTSUP, -95, 50u, 0xC00000BBu, "not supported")                                       \
        XX(ENAMETOOLONG, -36, 206u, 0xC0000106u, "pipe name too long")                            \
        XX(EBUSY, NPIPE_E__BASE - 1, 231u, 0xC00000AEu, "all pipe instances are busy")            \
        XX(ECLOSING, NPIPE_E__BASE - 2, 232u, 0xC00000B1u, "the other end is closing the pipe")   \
        XX(ELISTENING, NPIPE_E__BASE - 3, 536u, 0xC00000B3u, "waiting for a client to connect")   \
        XX(EBADPIPE, NPIPE_E__BASE - 4, 230u, 0xC00000ADu, "the pipe state is invalid")           \
        XX(EMOREDATA, NPIPE_E__BASE - 5, 234u, 0x80000005u, "more data is available")             \
        XX(EBADNAME, NPIPE_E__BASE - 6, 123u, 0xC0000033u, "invalid pipe name")                   \
        XX(ENOPATH, NPIPE_E__BASE - 7, 3u, 0xC000003Au, "no pipe name given")                     \
        XX(EFUNCTION, NPIPE_E__BASE - 8, 1u, 0xC00000AFu, "invalid function for this pipe end")   \
        XX(ENOTFOUND, NPIPE_E__BASE - 9, 1168u, 0xC0000225u, "not found")                         \
        XX(EBUFFER, NPIPE_E__BASE - 10, 122u, 0xC0000023u, "buffer too small")                    \
        XX(ELIMIT, NPIPE_E__BASE - 11, 1450u, 0xC000009Au, "resource limit reached")              \
        XX(EBROKER, NPIPE_E__BASE - 12, 21u, 0xC00000A3u, "the npipe broker is not reachable")    \
        XX(EPROTO, NPIPE_E__BASE - 13, 1359u, 0xC00000E5u, "broker protocol error or mismatch")     \
        XX(EFORKED, NPIPE_E__BASE - 14, 6u, 0xC0000008u, "handle belongs to the parent process") \
        XX(EBADPATH, NPIPE_E__BASE - 15, 161u, 0xC000003Bu, "malformed pipe path")               \
        XX(ELOCAL, NPIPE_E__BASE - 16, 229u, 0xC0000010u, "the client is local, not remote")      \
        XX(EMSGSIZE, -90, 87u, 0xC000002Fu,                                                       \
           "message size the remote (SMB) client cannot carry: 1 to 65535 bytes")                \
        XX(ELOGON, NPIPE_E__BASE - 17, 1326u, 0xC000006Du,                                        \
           "remote logon failure: unknown user name or bad password")                            \
        XX(ENETPATH, NPIPE_E__BASE - 18, 53u, 0xC00000BEu,                                        \
           "the network path was not found (no such host, or no SMB server there)")              \
        XX(ENETLOST, NPIPE_E__BASE - 19, 64u, 0xC000020Cu,                                        \
           "the connection to the remote host was lost")                                          \
        XX(ENOREMOTE, NPIPE_E__BASE - 20, 50u, 0xC00000BBu,                                       \
           "remote pipes are not available (the libnpipe-smb module is not installed)")

enum npipe_status {
#define NPIPE__XX(name, value, w32, nt, msg) NPIPE_##name = (value),
        NPIPE_STATUS_MAP(NPIPE__XX)
#undef NPIPE__XX
};

/* Text for a status code ("unknown error" for anything else). */
NPIPE_EXTERN const char *npipe_strerror(int status);
/* The symbolic name, e.g. "EMOREDATA". */
NPIPE_EXTERN const char *npipe_err_name(int status);
/* The Win32 ERROR_* value and the NTSTATUS for a status code. */
NPIPE_EXTERN uint32_t npipe_win32_error(int status);
NPIPE_EXTERN uint32_t npipe_ntstatus(int status);

/* ---- handles ------------------------------------------------------------ */

/* An opaque value naming a handle, not a pointer to its state: a value
 * that names no open handle (one already closed, say) gets NPIPE_EBADF. */
typedef struct npipe_handle npipe_t;

#define NPIPE_INFINITE (-1)

/* Pipe type: fixed for the pipe at creation (semantics CREATE-02). */
enum npipe_type { NPIPE_TYPE_BYTE = 0, NPIPE_TYPE_MESSAGE = 1 };
/* Read mode of one end. */
enum npipe_read_mode { NPIPE_READ_BYTE = 0, NPIPE_READ_MESSAGE = 1 };
/* Direction of the data, seen from the server: inbound = client to server. */
enum npipe_dir { NPIPE_INBOUND = 1, NPIPE_OUTBOUND = 2, NPIPE_DUPLEX = 3 };

/* Server creation flags. */
#define NPIPE_FIRST_INSTANCE 0x01u  /* fail with NPIPE_EACCES if the name exists */
#define NPIPE_REJECT_REMOTE 0x02u   /* refuse clients that come through SMB */
#define NPIPE_NOWAIT 0x04u          /* start in non-blocking (PIPE_NOWAIT) mode */
#define NPIPE_READMODE_MESSAGE 0x08u /* start the server end in message read mode */
#define NPIPE_ALLOW_ANONYMOUS 0x10u /* remote anonymous (null-session) users may open;
                                     * they count as everyone (NPIPE_ACCESS_EVERYONE) */

/* Who may open the pipe as a client or create further instances. */
enum npipe_access_policy {
        NPIPE_ACCESS_OWNER = 0,    /* the creating uid and root (default) */
        NPIPE_ACCESS_GROUP = 1,    /* plus members of `gid` */
        NPIPE_ACCESS_EVERYONE = 2, /* any local user */
};

#define NPIPE_UNLIMITED_INSTANCES 0u
#define NPIPE_MAX_INSTANCES_LIMIT 254u

struct npipe_server_opts {
        uint32_t size;             /* sizeof(struct npipe_server_opts) */
        uint32_t flags;            /* NPIPE_FIRST_INSTANCE | ... */
        enum npipe_type type;      /* byte or message */
        enum npipe_dir dir;        /* inbound, outbound or duplex */
        uint32_t max_instances;    /* 1..254, or NPIPE_UNLIMITED_INSTANCES */
        uint32_t in_quota;         /* bytes: client-to-server buffer (nInBufferSize) */
        uint32_t out_quota;        /* bytes: server-to-client buffer (nOutBufferSize) */
        uint32_t default_timeout_ms; /* for npipe_wait(NPIPE_WAIT_DEFAULT); 0 means 50 ms */
        enum npipe_access_policy policy;
        gid_t gid;                 /* with NPIPE_ACCESS_GROUP */
};

/* Fill `opts` with the defaults: message type, duplex, unlimited instances,
 * 64 KiB quotas, 50 ms default timeout, owner-only access. */
NPIPE_EXTERN void npipe_server_opts_init(struct npipe_server_opts *opts);

/* Create a server instance of `name` (\\.\pipe\NAME).  The new instance is
 * listening at once: a client may connect before npipe_listen (CREATE-10). */
NPIPE_EXTERN int npipe_create(const char *name, const struct npipe_server_opts *opts,
                              npipe_t **ret);

/* ConnectNamedPipe: wait up to timeout_ms for a client.  0 when a client
 * connected during the call; NPIPE_EISCONN when one was already connected
 * (a good connection, CONNECT-02); NPIPE_ELISTENING in non-blocking mode. */
NPIPE_EXTERN int npipe_listen(npipe_t *h, int timeout_ms);

/* Client access bits for npipe_open. */
#define NPIPE_READ 0x1u
#define NPIPE_WRITE 0x2u
#define NPIPE_WRITE_ATTRIBUTES 0x4u /* allows npipe_set_mode (granted with READ|WRITE too) */

/* Open the client end of `name`.  timeout_ms 0 fails at once with NPIPE_EBUSY
 * when no instance is listening; otherwise waits for one and retries. */
NPIPE_EXTERN int npipe_open(const char *name, unsigned access, int timeout_ms, npipe_t **ret);

/* Read.  Message read mode: at most one message; if it does not fit,
 * returns NPIPE_EMOREDATA with *nread = len and the rest stays queued.
 * Byte read mode: as many bytes as are there, across messages.
 * Blocks (blocking mode) until data arrives; NPIPE_EAGAIN in non-blocking mode. */
NPIPE_EXTERN int npipe_read(npipe_t *h, void *buf, size_t len, size_t *nread);
/* As npipe_read, with a timeout for the wait (NPIPE_ETIMEDOUT). */
NPIPE_EXTERN int npipe_read_timeout(npipe_t *h, void *buf, size_t len, size_t *nread,
                                    int timeout_ms);

/* Write one message (message pipes) or bytes.  Returns when the bytes fit
 * in the quota (QUOTA-03).  Non-blocking mode: writes all or nothing
 * (NOWAIT-04/05) and reports the count in *nwritten. */
NPIPE_EXTERN int npipe_write(npipe_t *h, const void *buf, size_t len, size_t *nwritten);
NPIPE_EXTERN int npipe_write_timeout(npipe_t *h, const void *buf, size_t len,
                                     size_t *nwritten, int timeout_ms);

struct npipe_peek {
        uint32_t state;        /* NPIPE_STATE_* of this end */
        uint32_t avail;        /* all unread bytes, including over-quota writes */
        uint32_t messages;     /* queued messages (message pipes), 0 for byte pipes */
        uint32_t message_len;  /* unread part of the head message (0 for byte pipes) */
        uint32_t copied;       /* bytes copied into the buffer */
        uint32_t left;         /* message_len - copied, in 32-bit arithmetic (PEEK-04) */
};
/* Look at queued data without removing it; never blocks. */
NPIPE_EXTERN int npipe_peek(npipe_t *h, void *buf, size_t len, struct npipe_peek *ret);

/* TransactNamedPipe: write one message and read one reply. */
NPIPE_EXTERN int npipe_transact(npipe_t *h, const void *in, size_t in_len, void *out,
                                size_t out_len, size_t *nread);

/* CallNamedPipe: open, message mode, transact, close. */
NPIPE_EXTERN int npipe_call(const char *name, const void *in, size_t in_len, void *out,
                            size_t out_len, size_t *nread, int timeout_ms);

#define NPIPE_WAIT_DEFAULT (-2) /* the pipe's default timeout (NMPWAIT_USE_DEFAULT_WAIT) */
/* WaitNamedPipe: 0 once an instance is listening; NPIPE_ENOENT at once when
 * the name does not exist; NPIPE_ETIMEDOUT.  Reserves nothing (WAIT-05). */
NPIPE_EXTERN int npipe_wait(const char *name, int timeout_ms);

/* DisconnectNamedPipe: drop the client and all unread data; the instance
 * is not listening again until npipe_listen. */
NPIPE_EXTERN int npipe_disconnect(npipe_t *h);

/* FlushFileBuffers: wait until the peer has read everything written. */
NPIPE_EXTERN int npipe_flush(npipe_t *h);

/* Close the handle.  Data already written stays readable by the peer. */
NPIPE_EXTERN int npipe_close(npipe_t *h);

/* Handle state. */
NPIPE_EXTERN int npipe_get_mode(npipe_t *h, enum npipe_read_mode *read_mode, int *nowait);
/* Either pointer may be NULL to leave that mode unchanged. */
NPIPE_EXTERN int npipe_set_mode(npipe_t *h, const enum npipe_read_mode *read_mode,
                                const int *nowait);

enum npipe_state {
        NPIPE_STATE_DISCONNECTED = 1,
        NPIPE_STATE_LISTENING = 2,
        NPIPE_STATE_CONNECTED = 3,
        NPIPE_STATE_CLOSING = 4,
};

struct npipe_info {
        enum npipe_type type;
        enum npipe_dir dir;
        int server_end;          /* 1 for the server end, 0 for the client end */
        uint32_t max_instances;  /* NPIPE_UNLIMITED_INSTANCES or 1..254 */
        uint32_t cur_instances;  /* instances of the name now (asks the broker) */
        uint32_t in_quota;       /* same on both ends (QUOTA-11) */
        uint32_t out_quota;
        uint32_t read_avail;     /* bytes this end can read */
        uint32_t write_quota_avail; /* quota left in the direction this end writes */
        enum npipe_state state;
        enum npipe_read_mode read_mode;
        int nowait;
        uint32_t default_timeout_ms;
};
NPIPE_EXTERN int npipe_get_info(npipe_t *h, struct npipe_info *ret);

/* Process ids of the two ends (INFO-11); after a disconnect the client pid
 * is NPIPE_ENOTFOUND on the server (DISC-10). */
NPIPE_EXTERN int npipe_client_pid(npipe_t *h, pid_t *ret);
NPIPE_EXTERN int npipe_server_pid(npipe_t *h, pid_t *ret);
/* Credentials of the other end, from SO_PEERCRED at connection time. */
NPIPE_EXTERN int npipe_peer_cred(npipe_t *h, uid_t *uid, gid_t *gid);

/*
 * Remote clients: Windows machines that open \\host\pipe\NAME reach the
 * pipe through Samba (docs/remote.md).  The server sees an ordinary
 * connect; this tells it who came.  Samba passes the SMB user's identity
 * and address, not the client's computer name or process id (a remote
 * client's pid reads as 0).
 */
#define NPIPE_REMOTE_ANONYMOUS 0x1u      /* null session (S-1-5-7) */
#define NPIPE_REMOTE_ENCRYPTED 0x2u      /* the SMB transport was encrypted */
#define NPIPE_REMOTE_SIDS_TRUNCATED 0x4u /* the token had more SIDs than sids[] holds */
#define NPIPE_REMOTE_MAX_SIDS 32
struct npipe_remote_client {
        uint32_t flags;           /* NPIPE_REMOTE_* */
        uid_t uid;                /* the unix account Samba mapped the user to */
        gid_t gid;
        uint32_t ngroups;
        gid_t groups[32];
        char user[256];           /* account name, UTF-8 */
        char domain[256];         /* domain (or the Samba server's name for local accounts) */
        char client_addr[64];     /* the SMB client's IP address */
        uint16_t client_port;
        char server_addr[64];     /* the address the client connected to */
        uint16_t server_port;
        uint32_t nsids;           /* the user's SIDs, user SID first */
        char sids[NPIPE_REMOTE_MAX_SIDS][192];
};
/* Server end: who the connected client is.  NPIPE_ELOCAL for a local
 * client, NPIPE_ENOTCONN with none, NPIPE_EFUNCTION on a client end. */
NPIPE_EXTERN int npipe_remote_client(npipe_t *h, struct npipe_remote_client *ret);

/*
 * Server end: can remote clients reach the pipe through Samba?  The
 * broker's verdict when this instance was created (docs/remote.md).  It is
 * pipe-wide and may change while the pipe lives (another pipe whose Samba
 * socket name is the same would take both off the network while both
 * exist); the broker logs each change.
 */
enum npipe_exposure {
        NPIPE_EXPOSED = 0,            /* it has its socket in Samba's np directory */
        NPIPE_EXPOSE_OFF = 1,         /* the broker serves no remote clients */
        NPIPE_EXPOSE_REJECTED = 2,    /* created with NPIPE_REJECT_REMOTE */
        NPIPE_EXPOSE_NOT_ALLOWED = 3, /* not allowed by npiped --remote-allow */
        NPIPE_EXPOSE_RESERVED = 4,    /* a name of Samba's own RPC services */
        NPIPE_EXPOSE_BAD_NAME = 5,    /* the name cannot be a file name there */
        NPIPE_EXPOSE_COLLISION = 6,   /* another pipe has the same socket name */
        NPIPE_EXPOSE_TAKEN = 7,       /* an entry of that name exists, not the broker's */
        NPIPE_EXPOSE_LIMIT = 8,       /* a limit (sockets, descriptors, the owner's share) */
};
NPIPE_EXTERN int npipe_remote_exposure(npipe_t *h, enum npipe_exposure *ret);
/* One line of English for an exposure verdict. */
NPIPE_EXTERN const char *npipe_exposure_text(enum npipe_exposure e);

/*
 * Remote pipes: npipe_open, npipe_wait and npipe_call (and the Win32
 * CreateFile, WaitNamedPipe, CallNamedPipe) accept \\host\pipe\NAME and
 * reach it over SMB2/3 (docs/remote.md).  Credentials come, in this order,
 * from npipe_remote_credentials() for that host, for every host, the
 * environment (NPIPE_SMB_USER, NPIPE_SMB_PASSWORD, NPIPE_SMB_DOMAIN,
 * NPIPE_SMB_PORT, NPIPE_SMB_ANONYMOUS=1, NPIPE_SMB_ENCRYPT=1), the
 * settings file ~/.config/npipe/remote.conf, and otherwise the Kerberos
 * ticket cache.
 */
#define NPIPE_AUTH_ANONYMOUS 0x1u /* null session: only when asked for */
#define NPIPE_AUTH_ENCRYPT 0x2u   /* encrypt (SMB 3), even if the server does not ask */
#define NPIPE_AUTH_SIGN 0x4u      /* sign every message, even if the server does not ask */
#define NPIPE_AUTH_KERBEROS 0x8u  /* Kerberos only (no NTLM fallback) */
struct npipe_remote_auth {
        const char *user;     /* NULL: the Kerberos ticket cache */
        const char *domain;   /* NULL: none (the server's own accounts) */
        const char *password; /* with user: NTLMv2 (or Kerberos with a password) */
        unsigned flags;       /* NPIPE_AUTH_* */
        uint16_t port;        /* 0: 445 */
        uint16_t max_dialect; /* 0: the best (3.1.1); 0x0210 for SMB 2.1... */
};
/* Credentials for the remote pipes of `host` (NULL: of every host without
 * its own); copied.  Connections already open keep theirs. */
NPIPE_EXTERN int npipe_remote_credentials(const char *host, const struct npipe_remote_auth *auth);

/* The handle's own name as created or opened (without the \\.\pipe\ prefix). */
NPIPE_EXTERN const char *npipe_name(npipe_t *h);

/* One pipe name as the broker knows it (npipe_list). */
struct npipe_pipe_entry {
        const char *name;        /* without the \\.\pipe\ prefix, as first created */
        enum npipe_type type;
        enum npipe_dir dir;
        uint32_t max_instances;  /* NPIPE_UNLIMITED_INSTANCES or 1..254 */
        uint32_t cur_instances;
        uint32_t listening;      /* instances waiting for a client */
        uint32_t connected;      /* instances with a client */
        uid_t owner_uid;         /* the first creator */
        pid_t server_pid;        /* the first instance's process */
        enum npipe_access_policy policy;
        uint32_t in_quota, out_quota, default_timeout_ms;
};
typedef int (*npipe_list_fn)(void *ctx, const struct npipe_pipe_entry *entry);
/* Call fn for every pipe name (a snapshot); a non-zero return from fn stops
 * the walk and is returned.  Starts the broker if none runs. */
NPIPE_EXTERN int npipe_list(npipe_list_fn fn, void *ctx);

/* Traffic of a pipe: what clients wrote to servers (c2s) and servers to
 * clients (s2c), in payload bytes and messages (writes, in byte pipes).
 * Written, not necessarily read: data a disconnect discarded counts. */
struct npipe_traffic {
        uint64_t c2s_bytes, c2s_messages;
        uint64_t s2c_bytes, s2c_messages;
};

/* One pipe name's counters (npipe_stats).  The traffic is that of every
 * connection since the name was created: those that ended, and the live
 * ones as their server processes reported them just now.  `missing`
 * connections' servers did not answer in time (about 200 ms); their
 * traffic so far is left out. */
struct npipe_pipe_stats {
        const char *name;       /* without the \\.\pipe\ prefix */
        uint32_t cur_instances;
        uint32_t listening;     /* instances waiting for a client now */
        uint32_t connected;     /* instances with a client now */
        uint64_t connections;   /* clients that connected since the name exists */
        struct npipe_traffic traffic;
        uint32_t missing;
};

/* The broker's counters.  The *_now fields are what exists at the moment,
 * the others count from the broker's start. */
struct npipe_broker_stats {
        uint64_t uptime_ms;
        pid_t broker_pid;
        uint32_t processes_now;   /* processes connected to the broker */
        uint32_t pipes_now, instances_now;
        uint32_t connections_now; /* client ends */
        uint32_t waits_now;       /* pending npipe_wait calls */
        uint64_t processes_total, processes_refused, processes_dropped;
        uint64_t pipes_total, instances_total, connections_total;
        uint64_t opens_busy;      /* npipe_open: NPIPE_EBUSY */
        uint64_t opens_denied;    /* NPIPE_EACCES */
        uint64_t opens_not_found; /* NPIPE_ENOENT */
        uint64_t waits_total, waits_timed_out;
        uint64_t requests_total, requests_malformed;
        uint64_t adoptions;       /* ends re-registered after a broker restart */
        uint64_t stats_queries;   /* times the servers were asked for live counts */
        struct npipe_traffic traffic; /* connections that ended, of every pipe */
        uint32_t servers_asked;   /* server processes asked for this call */
        uint32_t servers_missing; /* of which did not answer in time */
};

typedef int (*npipe_stats_fn)(void *ctx, const struct npipe_pipe_stats *pipe);
/* Fill *broker (may be NULL) and call fn (may be NULL) for every pipe name,
 * as npipe_list does: a non-zero return from fn stops the walk and is
 * returned.  A server process that does not answer delays the call by
 * about 200 ms (twice that if another call's query was under way), never
 * more.  Starts the broker if none runs. */
NPIPE_EXTERN int npipe_stats(struct npipe_broker_stats *broker, npipe_stats_fn fn, void *ctx);

/* The runtime directory in use (for diagnostics). */
NPIPE_EXTERN const char *npipe_runtime_dir(void);

#ifdef __cplusplus
}
#endif

#endif /* NPIPE_NPIPE_H */
