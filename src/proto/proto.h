/*
 * proto.h - the control protocol between libnpipe and npiped.
 *
 * One AF_UNIX SOCK_SEQPACKET socket per process; every packet is one message:
 * a fixed 16-byte header, a fixed body per type, then optional variable
 * data (a pipe name, or the items of a stats report).  At most one file
 * descriptor travels with a packet (SCM_RIGHTS).  All integers are
 * little-endian host order (the socket never leaves the machine), every
 * field has an explicit width, and every size and offset is pinned by a
 * static assert: this header is the ABI, and docs/protocol.md describes it
 * in prose.
 *
 * Requests carry a non-zero req_id chosen by the client; the reply echoes it.
 * Events (broker to client, unsolicited) carry req_id 0.
 *
 * The broker decodes with np_proto_check(), which validates lengths and
 * the name before any field is used; the client decodes replies the same way.
 */
#ifndef NPIPE_PROTO_H
#define NPIPE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define NP_PROTO_MAGIC32 0x4e504950u /* "NPIP" */
/* 2: remote clients (NP_MSG_OPEN_REMOTE, NP_MSG_EV_CONNECTED_REMOTE, 4 KiB
 * packets); NP_MSG_STATS and its report, traffic counts in the close and
 * disconnect requests (np_end_req). */
#define NP_PROTO_VERSION 3u

/* Largest packet either side sends or accepts. */
#define NP_PROTO_MAX_PACKET 4096u
/* Longest pipe name in bytes of UTF-8, without the \\.\pipe\ prefix.  The
 * library also limits names to NP_NAME_MAX_CHARS characters (NAME-12). */
#define NP_NAME_MAX 1024u
#define NP_NAME_MAX_CHARS 250u

enum np_msg_type {
        /* client -> broker requests */
        NP_MSG_HELLO = 1,      /* np_hello; first packet on a socket */
        NP_MSG_CREATE = 2,     /* np_create + name, fd: server segment */
        NP_MSG_LISTEN = 3,     /* np_instance_req, fd: a fresh server segment */
        NP_MSG_OPEN = 4,       /* np_open + name, fd: client segment */
        NP_MSG_WAIT = 5,       /* np_wait + name */
        NP_MSG_DISCONNECT = 6, /* np_end_req (instance id) */
        NP_MSG_CLOSE_SERVER = 7, /* np_end_req (instance id): server handle closed */
        NP_MSG_CLOSE_CLIENT = 8, /* np_end_req (conn id): client handle closed */
        NP_MSG_QUERY = 9,      /* np_instance_req or np_conn_req (id of either kind) */
        NP_MSG_LIST = 10,      /* no body: reply is a series of NP_MSG_LIST_ITEM */
        NP_MSG_CANCEL = 11,    /* np_cancel: abandon a pending WAIT (by its req_id) */
        NP_MSG_ADOPT = 12,     /* np_adopt + name, fd: server segment when listening;
                                * re-registers an instance or client end after the
                                * broker was restarted */
        NP_MSG_STATS = 13,     /* np_stats_req: reply is a series of NP_MSG_STATS_ITEM */
        NP_MSG_OPEN_REMOTE = 14, /* np_open_remote + name, fd: client segment; only from
                                  * the broker's own process (its SMB relay) */
        NP_MSG_STATS_REPORT = 15, /* np_stats_report + items: answer to NP_MSG_EV_STATS_QUERY;
                                   * never replied to */

        /* broker -> client replies */
        NP_MSG_REPLY = 64,       /* np_reply: status only */
        NP_MSG_HELLO_REPLY = 65, /* np_hello_reply */
        NP_MSG_CREATE_REPLY = 66,/* np_create_reply */
        NP_MSG_OPEN_REPLY = 67,  /* np_open_reply, fd: server segment */
        NP_MSG_QUERY_REPLY = 68, /* np_query_reply */
        NP_MSG_LIST_ITEM = 69,   /* np_list_item + name; last one has flags NP_LIST_LAST */
        NP_MSG_STATS_ITEM = 70,  /* np_stats_item (+ name for a pipe); the last one is the
                                  * broker's, with NP_STATS_BROKER | NP_STATS_LAST */

        /* broker -> client events (req_id 0) */
        NP_MSG_EV_CONNECTED = 96, /* np_ev_connected, fd: client segment */
        NP_MSG_EV_PEER_GONE = 97, /* np_ev_peer_gone */
        NP_MSG_EV_STATS_QUERY = 98, /* np_ev_stats_query: answer with NP_MSG_STATS_REPORT */
        NP_MSG_EV_CONNECTED_REMOTE = 99, /* np_ev_connected_remote, fd: client segment */
};

struct np_hdr {
        uint16_t type;     /* enum np_msg_type */
        uint16_t version;  /* NP_PROTO_VERSION */
        uint32_t len;      /* total packet length in bytes, header included */
        uint32_t req_id;   /* request id, echoed in replies; 0 for events */
        uint32_t flags;    /* NP_HDR_* */
};

/* The sender does not wait for this request (the library's "posted"
 * requests: DISCONNECT of a connected instance, CLOSE_CLIENT, LISTEN).
 * The broker then sends no reply on success: every reply wakes the
 * sender's event thread, and on a guest a wake costs as much as the whole
 * request.  A failure is still answered.  Allowed only on the request
 * types np_proto_quiet_ok() names; any other bit is a protocol error. */
#define NP_HDR_NO_REPLY 0x1u
#define NP_HDR_FLAGS NP_HDR_NO_REPLY
_Static_assert(sizeof(struct np_hdr) == 16, "np_hdr");

struct np_hello {
        uint32_t magic;      /* NP_PROTO_MAGIC32 */
        uint32_t version;    /* NP_PROTO_VERSION */
        uint32_t lib_major;  /* NPIPE_VERSION_MAJOR, for diagnostics */
        uint32_t lib_minor;
};
_Static_assert(sizeof(struct np_hello) == 16, "np_hello");

struct np_hello_reply {
        int32_t status;      /* 0, NPIPE_EPROTO on a version mismatch, NPIPE_ELIMIT */
        uint32_t version;    /* broker's NP_PROTO_VERSION */
        uint32_t broker_pid;
        uint32_t detail;     /* with NPIPE_ELIMIT: NP_LIMIT_* (below); else 0 */
};
_Static_assert(sizeof(struct np_hello_reply) == 16, "np_hello_reply");

/* Pipe parameters, as given at creation and reported to clients. */
struct np_pipe_params {
        uint32_t type;          /* enum npipe_type */
        uint32_t dir;           /* enum npipe_dir */
        uint32_t max_instances; /* 0 = unlimited, else 1..254 */
        uint32_t in_quota;      /* bytes */
        uint32_t out_quota;     /* bytes */
        uint32_t default_timeout_ms;
        uint32_t policy;        /* enum npipe_access_policy */
        uint32_t gid;           /* with NPIPE_ACCESS_GROUP */
};
_Static_assert(sizeof(struct np_pipe_params) == 32, "np_pipe_params");

#define NP_CREATE_FIRST_INSTANCE 0x1u
#define NP_CREATE_REJECT_REMOTE 0x2u
#define NP_CREATE_ALLOW_ANONYMOUS 0x4u
#define NP_CREATE_FLAGS (NP_CREATE_FIRST_INSTANCE | NP_CREATE_REJECT_REMOTE | NP_CREATE_ALLOW_ANONYMOUS)

struct np_create {
        struct np_pipe_params params;
        uint32_t flags;    /* NP_CREATE_* */
        uint32_t name_len; /* bytes of name following this struct (no NUL) */
};
_Static_assert(sizeof(struct np_create) == 40, "np_create");

/* np_create_reply.remote: can remote (SMB) clients reach the pipe?  Said
 * at creation; it may change later (a colliding name appears or goes). */
#define NP_REMOTE_EXPOSED     0 /* yes: it has its socket in Samba's np directory */
#define NP_REMOTE_OFF         1 /* the broker serves no remote clients */
#define NP_REMOTE_REJECTED    2 /* every instance has NP_CREATE_REJECT_REMOTE */
#define NP_REMOTE_NOT_ALLOWED 3 /* its owner or name is not allowed (npiped --remote-allow) */
#define NP_REMOTE_RESERVED    4 /* one of Samba's own RPC pipe names */
#define NP_REMOTE_BAD_NAME    5 /* the name cannot be one file name in the np directory */
#define NP_REMOTE_COLLISION   6 /* another pipe maps to the same socket name */
#define NP_REMOTE_TAKEN       7 /* that socket name exists and is not the broker's */
#define NP_REMOTE_LIMIT       8 /* a limit (sockets, descriptors, the owner's share) */
#define NP_REMOTE_WHY_MAX     8u

struct np_create_reply {
        int32_t status;
        uint32_t remote; /* NP_REMOTE_* */
        uint64_t instance_id; /* broker-wide unique, never reused */
        struct np_pipe_params params; /* the pipe-wide values in force (first instance's) */
};
_Static_assert(sizeof(struct np_create_reply) == 48, "np_create_reply");

struct np_instance_req {
        uint64_t instance_id;
};
_Static_assert(sizeof(struct np_instance_req) == 8, "np_instance_req");

struct np_conn_req {
        uint64_t conn_id;
};
_Static_assert(sizeof(struct np_conn_req) == 8, "np_conn_req");

/*
 * Traffic of one connection, as written by each end: payload bytes and
 * messages (frames started: every write is one, in byte pipes too), read
 * from the two segments' producer counters (ring_layout.h: wbytes,
 * wframes).  c2s is what the client wrote, s2c what the server wrote.
 * Counts include data the reader never consumed (a disconnect discards it)
 * and a write cancelled midway in full.
 */
struct np_traffic {
        uint64_t c2s_bytes;
        uint64_t c2s_msgs;
        uint64_t s2c_bytes;
        uint64_t s2c_msgs;
};
_Static_assert(sizeof(struct np_traffic) == 32, "np_traffic");

/* NP_MSG_DISCONNECT, NP_MSG_CLOSE_SERVER (id: the instance) and
 * NP_MSG_CLOSE_CLIENT (id: the conn).  The end leaving a connection
 * reports that connection's final counts (conn_id 0: it had none); the
 * broker keeps them for the pipe's statistics (docs/protocol.md,
 * "Statistics"). */
struct np_end_req {
        uint64_t id;
        uint64_t conn_id;
        struct np_traffic traffic;
};
_Static_assert(sizeof(struct np_end_req) == 48, "np_end_req");

struct np_reply {
        int32_t status;
        uint32_t detail; /* with NPIPE_ELIMIT: NP_LIMIT_* (below); else 0 */
};
_Static_assert(sizeof(struct np_reply) == 8, "np_reply");

/*
 * Which of the broker's bounds an NPIPE_ELIMIT answer reached
 * (src/broker/limits.h, docs/reliability.md "Limits"), in the detail word
 * of np_reply and np_hello_reply: a resource (NP_LIMIT_WHAT) and whose
 * bound it was (NP_LIMIT_SCOPE).  0 says nothing: a broker older than the
 * field sent the reserved word as 0, and a client older than it never
 * reads it, so neither needs the other to be new.
 *
 * NP_LIMIT_FDS | NP_LIMIT_BROKER is the broker's descriptor table: its
 * RLIMIT_NOFILE (Max open files in /proc/BROKER_PID/limits; the pid is in
 * np_hello_reply) less a reserve.  Every listening instance holds one
 * descriptor there, so the hard limit of whatever started npiped bounds
 * the listening instances of everybody; raising it means restarting
 * npiped with a higher hard limit.  NP_LIMIT_UID is the caller's uid's
 * fair share of a shared broker (npiped --shared): a quarter.
 */
#define NP_LIMIT_WHAT(d)  ((d) & 0xffu)
#define NP_LIMIT_SCOPE(d) ((d) & 0xf00u)

#define NP_LIMIT_FDS        1u /* descriptors the broker holds */
#define NP_LIMIT_INSTANCES  2u /* server instances */
#define NP_LIMIT_CONNS      3u /* client ends */
#define NP_LIMIT_WAITS      4u /* pending waits */
#define NP_LIMIT_PIPES      5u /* pipe names */
#define NP_LIMIT_PROCESSES  6u /* connected processes */
#define NP_LIMIT_LISTS      7u /* listings in progress */
#define NP_LIMIT_STATS      8u /* statistics requests in progress */
#define NP_LIMIT_WHAT_MAX   8u

#define NP_LIMIT_BROKER  0x100u /* the broker's bound, all processes together */
#define NP_LIMIT_UID     0x200u /* the caller's uid's share of it */
#define NP_LIMIT_PROCESS 0x300u /* the calling process's own bound */

#define NP_ACCESS_READ 0x1u
#define NP_ACCESS_WRITE 0x2u

struct np_open {
        uint32_t access;   /* NP_ACCESS_* */
        uint32_t name_len;
};
_Static_assert(sizeof(struct np_open) == 8, "np_open");

struct np_open_reply {
        int32_t status;
        uint32_t server_pid;
        uint64_t instance_id;
        uint64_t conn_id;     /* broker-wide unique, never reused */
        uint32_t server_uid;
        uint32_t server_gid;
        struct np_pipe_params params; /* the pipe-wide values + this instance's quotas */
};
_Static_assert(sizeof(struct np_open_reply) == 64, "np_open_reply");

#define NP_WAIT_FOREVER 0xFFFFFFFFu
#define NP_WAIT_DEFAULT 0xFFFFFFFEu /* the pipe's default timeout */

struct np_wait {
        uint32_t timeout_ms; /* or NP_WAIT_FOREVER / NP_WAIT_DEFAULT */
        uint32_t name_len;
};
_Static_assert(sizeof(struct np_wait) == 8, "np_wait");

struct np_cancel {
        uint32_t target_req_id;
        uint32_t reserved;
};
_Static_assert(sizeof(struct np_cancel) == 8, "np_cancel");

struct np_query_reply {
        int32_t status;
        uint32_t cur_instances; /* instances (server handles) of the pipe now */
        uint32_t state;         /* enum npipe_state of the instance, broker's view */
        uint32_t client_pid;    /* 0 when none */
        struct np_pipe_params params;
};
_Static_assert(sizeof(struct np_query_reply) == 48, "np_query_reply");

#define NP_LIST_LAST 0x1u
#define NP_LIST_EMPTY 0x2u /* no pipes: the item carries no data */

struct np_list_item {
        uint32_t flags;
        uint32_t cur_instances;
        uint32_t listening;
        uint32_t connected;
        uint32_t owner_uid;
        uint32_t server_pid;   /* the first instance's creator */
        struct np_pipe_params params;
        uint32_t name_len;
        uint32_t reserved;
};
_Static_assert(sizeof(struct np_list_item) == 64, "np_list_item");

struct np_ev_connected {
        uint64_t instance_id;
        uint64_t conn_id;
        uint32_t client_pid;
        uint32_t client_uid;
        uint32_t client_gid;
        uint32_t access;   /* NP_ACCESS_* the client opened with */
};
_Static_assert(sizeof(struct np_ev_connected) == 32, "np_ev_connected");

enum np_gone_reason {
        NP_GONE_CLOSED = 1,       /* the other end closed its handle */
        NP_GONE_DISCONNECTED = 2, /* the server disconnected this client */
        NP_GONE_DIED = 3,         /* the other process exited */
};

struct np_ev_peer_gone {
        uint64_t instance_id; /* for the server end */
        uint64_t conn_id;     /* the connection concerned */
        uint32_t reason;      /* enum np_gone_reason */
        uint32_t to_server;   /* 1: addressed to the server end, 0: to the client end */
};
_Static_assert(sizeof(struct np_ev_peer_gone) == 24, "np_ev_peer_gone");

/*
 * Statistics (docs/protocol.md, "Statistics").  NP_MSG_STATS asks for the
 * broker's counters and every pipe's traffic.  Traffic of connections that
 * ended was reported by their ends (np_end_req); that of live connections
 * is only in shared memory, so the broker asks every process owning a
 * connected server instance with NP_MSG_EV_STATS_QUERY and waits for its
 * NP_MSG_STATS_REPORT packets (the last with NP_STATS_LAST) at most
 * NP_STATS_DEADLINE_MS; then it replies, counting what never came as
 * missing.  One query runs at a time; requests arriving meanwhile wait for
 * the next one, so that every reply counts what was written before its
 * request.
 */
#define NP_STATS_DEADLINE_MS 200u

struct np_stats_req {
        uint32_t flags;    /* 0 */
        uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct np_stats_req) == 8, "np_stats_req");

struct np_ev_stats_query {
        uint64_t query; /* echoed in the report */
};
_Static_assert(sizeof(struct np_ev_stats_query) == 8, "np_ev_stats_query");

/* One connected server end of the reporting process. */
struct np_stats_live {
        uint64_t instance_id;
        uint64_t conn_id;
        struct np_traffic traffic;
};
_Static_assert(sizeof(struct np_stats_live) == 48, "np_stats_live");

#define NP_STATS_LAST 0x1u   /* report: the process's last packet for this query;
                              * item: the last item of the reply */
#define NP_STATS_BROKER 0x2u /* item: the broker's counters, no name */

/* Followed by `count` np_stats_live, filling the packet exactly. */
struct np_stats_report {
        uint64_t query;
        uint32_t flags; /* NP_STATS_LAST */
        uint32_t count;
};
_Static_assert(sizeof(struct np_stats_report) == 16, "np_stats_report");
#define NP_STATS_REPORT_MAX                                                                        \
        ((NP_PROTO_MAX_PACKET - sizeof(struct np_hdr) - sizeof(struct np_stats_report)) /          \
         sizeof(struct np_stats_live))

struct np_stats_pipe {
        uint32_t cur_instances;
        uint32_t connected;
        uint32_t missing; /* connected instances whose live counts did not come */
        uint32_t listening;
        struct np_traffic traffic; /* ended connections + live ones */
        uint64_t connections;      /* clients connected since the name exists */
};
_Static_assert(sizeof(struct np_stats_pipe) == 56, "np_stats_pipe");

/* The broker's counters.  "now" values are gauges, the others count since
 * the broker started. */
struct np_stats_broker {
        uint64_t uptime_ms;
        uint32_t broker_pid;
        uint32_t processes_now;    /* connected processes */
        uint64_t processes_total;  /* sessions accepted (hello done) */
        uint64_t processes_refused; /* over a limit (NP_LIM_CLIENTS, fair share) */
        uint32_t pipes_now;
        uint32_t instances_now;
        uint32_t connections_now; /* client ends the broker knows */
        uint32_t waits_now;
        uint64_t pipes_total;     /* names created */
        uint64_t instances_total; /* instances created */
        uint64_t connections_total; /* opens that connected */
        uint64_t opens_busy;      /* NPIPE_EBUSY: no instance listening */
        uint64_t opens_denied;    /* NPIPE_EACCES */
        uint64_t opens_not_found; /* NPIPE_ENOENT */
        uint64_t waits_total;
        uint64_t waits_timed_out;
        uint64_t requests_total;  /* packets handled after the hello */
        uint64_t requests_malformed; /* protocol errors */
        uint64_t processes_dropped; /* for protocol errors or a full queue */
        uint64_t adoptions;       /* ends re-registered after a broker restart */
        uint64_t stats_queries;   /* NP_MSG_EV_STATS_QUERY rounds */
        struct np_traffic traffic; /* every pipe's ended connections */
        uint32_t servers_asked;   /* processes this reply's round asked */
        uint32_t servers_missing; /* of which never answered in time */
};
_Static_assert(sizeof(struct np_stats_broker) == 192, "np_stats_broker");

struct np_stats_item {
        uint32_t flags;    /* NP_STATS_* */
        uint32_t name_len; /* 0 for the broker's item */
        union {
                struct np_stats_pipe pipe;
                struct np_stats_broker broker;
        } u;
};
_Static_assert(sizeof(struct np_stats_item) == 200, "np_stats_item");
_Static_assert(offsetof(struct np_stats_item, u) == 8, "np_stats_item.u");

/*
 * Broker restart.  Existing connections live on in shared memory when the
 * broker dies; when a process sees its broker socket close it connects to
 * a new broker and re-registers every live end with NP_MSG_ADOPT, keeping
 * the ids the old broker gave (a broker starts its id counter at a value
 * derived from CLOCK_REALTIME in nanoseconds, so ids of an older broker are
 * smaller and never collide; adopted ids raise the counter above them).
 *
 * A server instance is adopted with its state: LISTENING (a fresh segment
 * fd attached: it is listening again at once, waiters are released),
 * CONNECTED or CLOSING (conn_id and peer_pid name its client),
 * DISCONNECTED.  A client end is adopted with role NP_ADOPT_CLIENT, its
 * conn_id, and the server's pid and instance_id.  The broker links the two
 * halves of a connection by conn_id whichever arrives first; when the
 * adopting process's peer is already dead (kill(pid, 0) fails with ESRCH)
 * it sends NP_MSG_EV_PEER_GONE (NP_GONE_DIED) at once; when the other half
 * never arrives while the peer lives, nothing is sent until it does.
 * Reply: np_create_reply (instance_id = the adopted id, params = the
 * pipe-wide values in force: the first adopter's if the name is new).
 */
#define NP_ADOPT_SERVER 1u
#define NP_ADOPT_CLIENT 2u

struct np_adopt {
        struct np_pipe_params params; /* as created (server) or as opened (client) */
        uint32_t role;        /* NP_ADOPT_* */
        uint32_t state;       /* enum npipe_state (server); NPIPE_STATE_CONNECTED (client) */
        uint64_t instance_id; /* the instance (both roles) */
        uint64_t conn_id;     /* the connection, 0 when none */
        uint32_t peer_pid;    /* the other end's process, 0 when none */
        uint32_t access;      /* client: NP_ACCESS_* it opened with */
        uint32_t flags;       /* server: NP_CREATE_* flags it was created with */
        uint32_t name_len;
};
_Static_assert(sizeof(struct np_adopt) == 72, "np_adopt");

/*
 * Remote clients (docs/remote.md).  Windows clients reach a pipe through
 * smbd, which connects to a socket of the broker's SMB relay; the relay
 * opens the pipe like any client, but with NP_MSG_OPEN_REMOTE, which
 * carries who the SMB user is.  The broker applies the pipe's policy to
 * that identity instead of the relay's own credentials, and hands it to
 * the server with NP_MSG_EV_CONNECTED_REMOTE.  Fixed size, so the
 * decoder checks one shape; strings[] holds, NUL-terminated and in this
 * order: user, domain, client address, server address, then nsids SIDs.
 */
#define NP_REMOTE_MAX_GROUPS 32u
#define NP_REMOTE_MAX_SIDS 32u
#define NP_REMOTE_STRINGS 2048u
#define NP_REMOTE_NAME_MAX 256u /* user, domain: bytes with the NUL */
#define NP_REMOTE_ADDR_MAX 64u
#define NP_REMOTE_SID_MAX 192u

struct np_remote_id {
        uint32_t flags; /* NPIPE_REMOTE_* */
        uint32_t uid;
        uint32_t gid;
        uint16_t client_port;
        uint16_t server_port;
        uint32_t ngroups; /* <= NP_REMOTE_MAX_GROUPS */
        uint32_t nsids;   /* <= NP_REMOTE_MAX_SIDS */
        uint32_t strings_len; /* bytes used in strings[] */
        uint32_t reserved;
        uint32_t groups[NP_REMOTE_MAX_GROUPS];
        char strings[NP_REMOTE_STRINGS];
};
_Static_assert(sizeof(struct np_remote_id) == 2208, "np_remote_id");

struct np_open_remote {
        struct np_open open; /* access 0: whatever the pipe's direction allows */
        struct np_remote_id id;
};
_Static_assert(sizeof(struct np_open_remote) == 2216, "np_open_remote");
_Static_assert(offsetof(struct np_open_remote, open.name_len) == 4, "np_open_remote name_len");

struct np_ev_connected_remote {
        struct np_ev_connected ev; /* client_pid 0: no process id crosses SMB */
        struct np_remote_id id;
};
_Static_assert(sizeof(struct np_ev_connected_remote) == 2240, "np_ev_connected_remote");

/* Check an identity's counts and strings (0 or NPIPE_EPROTO); on success
 * the strings can be walked with np_remote_id_string. */
int np_remote_id_check(const struct np_remote_id *id);
/* The k-th string of a checked identity (0 user, 1 domain, 2 client
 * address, 3 server address, 4.. the SIDs). */
const char *np_remote_id_string(const struct np_remote_id *id, unsigned k);

/* Body size expected for each type (fixed part, after the header);
 * returns -1 for an unknown type. */
int np_proto_body_size(uint16_t type);

/* Whether a request of this type may carry NP_HDR_NO_REPLY: those whose
 * only answer is a status. */
int np_proto_quiet_ok(uint16_t type);

/* Validate a received packet of `n` bytes: header, version, length, body
 * size for the type, and for types carrying a name its length against the
 * packet (<= NP_NAME_MAX).  Returns 0 or a negative NPIPE_E* code.  On success
 * `name` and `name_len` point into the packet (NULL/0 for types without one). */
int np_proto_check(const void *pkt, size_t n, const char **name, uint32_t *name_len);

#endif /* NPIPE_PROTO_H */
