/*
 * broker.h - npiped's internal types, shared by the files of src/broker.
 *
 * The broker is one thread around one epoll set.  Its state is a handful
 * of plain objects linked by intrusive lists and found through three hash
 * tables:
 *
 *   client    one connected process (one socket); owns instances, client
 *             connections, pending waits and LIST jobs;
 *   pipe      one name (folded to ASCII lower case); pipe-wide parameters
 *             of its first instance, its instances in creation order, its
 *             listen FIFO and its waiters;
 *   instance  one server end: state, the server segment fd held while
 *             LISTENING, the connection attached while CONNECTED;
 *   conn      one client end, kept until its client closes it, so that
 *             QUERY still answers after the server went away;
 *   wait      one pending WAIT, in its pipe's list and the deadline heap;
 *   listjob   a LIST or STATS reply being sent (stats.c: a STATS request
 *             first waits for its query round).
 *
 * Everything here is private to npiped; nothing is exported.
 *
 * Who calls whom.  The files are layers: each calls only files on lines
 * below its own, so that none calls back into a file that calls it, and
 * each can be read knowing only what is under it.  Files sharing a line
 * do not call each other, except the relay's, in the order shown.
 *
 *   main.c            options, start-up, the run
 *   listen.c          the runtime directory, the locks, the listening
 *                     socket (socket activation), readiness (calls log.c
 *                     only)
 *   loop.c            the event loop: accept, read, reap, timers
 *   requests.c        the dispatch table; the requests of the NT rules
 *   adopt.c           ADOPT: ends re-registered after a broker restart
 *   stats.c           STATS: query rounds, the live counts reported
 *   list.c            LIST and STATS replies, at the reader's pace
 *   state.c           the namespace: admission, states, ended traffic
 *   remote.c          the pipes' sockets in Samba's np directory
 *   relay.c > relay_handshake.c > relay_copy.c > relay_conn.c
 *                     the SMB relay thread (relay.h; they call log.c only)
 *   remote_dir.c      the np directory, the registry of our sockets
 *   client.c          sending to a client, dropping one
 *   reap.c            closing what the loop must not close (reap.h)
 *   acct.c names.c    each uid's holdings; names, keys, their hashes
 *   hash.c log.c policy.c timer.c watch.c
 *                     call no other broker file
 *
 * Nothing below loop.c needs to call it back: the loop finds what is left
 * to do in the broker's state after each packet and each batch (the
 * doomed clients, the deadline heap, the graveyards), so no layer needs a
 * hook into the one above.
 */
#ifndef NPIPED_BROKER_H
#define NPIPED_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/proto.h"

/* ---- intrusive circular doubly-linked lists ----------------------------- */

struct np_link {
        struct np_link *prev, *next;
};

static inline void np_link_init(struct np_link *l)
{
        l->prev = l->next = l;
}

static inline bool np_link_empty(const struct np_link *l)
{
        return l->next == l;
}

/* Append n before head, i.e. at the tail. */
static inline void np_link_add_tail(struct np_link *head, struct np_link *n)
{
        n->prev = head->prev;
        n->next = head;
        head->prev->next = n;
        head->prev = n;
}

/* Unlink n and make it self-linked, so a second removal is harmless. */
static inline void np_link_del(struct np_link *n)
{
        n->prev->next = n->next;
        n->next->prev = n->prev;
        np_link_init(n);
}

#define np_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- hash tables (hash.c) ----------------------------------------------- */

/* Chained, power-of-two buckets; the caller computes the hash and compares
 * keys while walking a bucket, so one table type serves every key kind. */
struct np_hnode {
        struct np_hnode *next;
        uint64_t hash;
};

struct np_htab {
        struct np_hnode **buckets;
        size_t mask; /* bucket count - 1 */
        size_t count;
};

int np_htab_init(struct np_htab *t);
void np_htab_free(struct np_htab *t);
void np_htab_insert(struct np_htab *t, struct np_hnode *n, uint64_t hash);
void np_htab_remove(struct np_htab *t, struct np_hnode *n);
/* First node of the bucket `hash` falls in; walk ->next and check ->hash. */
struct np_hnode *np_htab_bucket(const struct np_htab *t, uint64_t hash);
uint64_t np_hash_u64(uint64_t v);

/* ---- objects ------------------------------------------------------------ */

/* What an epoll event points at: the first member of each watched object. */
enum np_src_kind {
        NP_SRC_LISTEN = 1,
        NP_SRC_SIGNAL,
        NP_SRC_CLIENT,
        NP_SRC_PIDWATCH,
        NP_SRC_REMOTE, /* a pipe's SMB socket (remote.c) */
        NP_SRC_REAPER, /* the reaper's eventfd: closes done (reap.c) */
};
struct np_src {
        enum np_src_kind kind;
};

/* One queued outgoing packet (only when the socket buffer was full). */
struct np_outpkt {
        struct np_outpkt *next;
        int fd; /* descriptor to send with it, owned by the queue; -1 if none */
        uint32_t len;
        unsigned char data[];
};

/* What one uid holds in the broker, for the fair share (limits.h,
 * NP_LIM_UID_SHARE).  Lives while the uid has a client. */
struct np_uacct {
        struct np_hnode hnode; /* broker->uaccts, by uid */
        uid_t uid;
        bool limited; /* neither root nor the broker's own uid */
        size_t clients, instances, conns, waits, stats;
        size_t pipes;   /* names it created first (np_pipe.owner_uid) */
        size_t fds;     /* descriptors the broker holds for it (sockets, segments) */
        size_t rsocks;  /* its pipes' sockets in the Samba np directory */
        size_t reaping; /* its descriptors waiting in the reaper (reap.c) */
};

#define NP_CLIENT_HELLO    0x1u /* handshake done */
#define NP_CLIENT_REJECT   0x2u /* over NP_LIM_CLIENTS: answer HELLO with ELIMIT */
#define NP_CLIENT_DRAINING 0x4u /* read no more; close once the queue is empty */
#define NP_CLIENT_DOOMED   0x8u /* gone or dropped: send nothing more, reap soon */

struct np_client {
        struct np_src src;
        struct np_link link; /* broker->clients or broker->doomed */
        int fd;
        uint64_t serial; /* for log lines */
        pid_t pid;       /* SO_PEERCRED at accept time */
        uid_t uid;
        gid_t gid;
        gid_t *groups;         /* SO_PEERGROUPS, for NPIPE_ACCESS_GROUP */
        struct np_uacct *acct; /* its uid's share */
        int ngroups;
        unsigned flags; /* NP_CLIENT_* */
        uint32_t reject_detail; /* NP_CLIENT_REJECT: the NP_LIMIT_* its HELLO is answered with */
        unsigned proto_errors;
        uint32_t events; /* epoll interest currently registered */

        struct np_outpkt *outq, **outq_tail;
        size_t outq_len;

        struct np_link instances; /* np_instance.owner_link */
        size_t n_instances;
        struct np_link conns; /* np_conn.client_link */
        size_t n_conns;
        struct np_link waits; /* np_waiter.client_link */
        size_t n_waits;
        struct np_link lists; /* np_listjob.link, oldest first */
        size_t n_lists;
        size_t n_stats; /* STATS requests waiting or being sent (stats.c) */
        /* The stats query round this process was asked in and has not
         * answered yet (0: none). */
        uint64_t stats_asked;
};

struct np_pipe {
        struct np_hnode hnode; /* broker->pipes, by key */
        char *key;             /* np_name_key of the name (names.c) */
        uint32_t key_len;
        char *display; /* the first creator's spelling */
        uint32_t name_len;
        struct np_pipe_params params; /* pipe-wide, from the first instance */
        uid_t owner_uid;              /* the first creator */
        struct np_uacct *owner_acct;  /* counts it in ->pipes; NULL for a placeholder */
        struct np_link instances;     /* np_instance.pipe_link, creation order */
        size_t n_instances;
        struct np_link listeners; /* np_instance.listen_link, longest listening first */
        size_t n_listening;
        size_t n_connected;
        struct np_link waits;    /* np_waiter.pipe_link */
        unsigned refs;           /* conns and LIST snapshots that point here */
        bool dead;               /* last instance gone; out of the namespace */
        bool allow_anon;         /* first instance: NP_CREATE_ALLOW_ANONYMOUS */
        size_t n_remote_ok;      /* instances without NP_CREATE_REJECT_REMOTE */
        /* remote.c: NP_REMOTE_* (proto.h) - why remote clients cannot reach
         * it, NP_REMOTE_EXPOSED while they can (rsock set); policy_why is
         * the verdict of the exposure policy, fixed at creation. */
        int remote_why;
        int policy_why;
        struct np_rsock *rsock;  /* its SMB socket while exposed */
        struct np_sname *sname;  /* the socket name it competes for */
        struct np_link sname_link;
        struct np_traffic ended; /* connections that ended (state.c, np_traffic_fold) */
        uint64_t connections;    /* clients connected to it */
};

struct np_conn;
struct np_instance;
struct np_rsock;
struct np_sname;
struct np_remote_cfg;

/* A half-adopted connection (NP_MSG_ADOPT) waits for its other half; while
 * it waits, the peer process is watched through a pidfd so that its death
 * is still reported (adopt.c).  Freed after the epoll batch
 * (events later in the batch may still point at it). */
struct np_pidwatch {
        struct np_src src;
        struct np_link link;      /* broker->watch_graveyard once dead */
        int fd;                   /* pidfd, -1 once closed */
        struct np_instance *inst; /* the waiting server half, or */
        struct np_conn *conn;     /* the waiting client half */
};

struct np_instance {
        struct np_hnode hnode; /* broker->instances, by id */
        uint64_t id;
        struct np_pipe *pipe;
        struct np_client *owner;
        struct np_link pipe_link;
        struct np_link owner_link;
        struct np_link listen_link; /* in pipe->listeners while LISTENING */
        uint32_t in_quota;
        uint32_t out_quota;
        uint32_t state;       /* enum npipe_state */
        uint32_t cflags;      /* NP_CREATE_* it was created (or adopted) with */
        int fd;               /* server segment, held while LISTENING */
        struct np_conn *conn; /* the attached client while CONNECTED */
        /* Adopted CONNECTED or CLOSING before its client end was: the
         * conn id and client pid it expects (0 when nothing is pending). */
        uint64_t pend_conn;
        pid_t pend_pid;
        struct np_pidwatch *pend_watch; /* NULL when the pid is not watched */
        /* Statistics (stats.c).  attach_q: the last query round started
         * before the connection attached (rounds up to it never asked about
         * it).  live: the counts the owner last reported, for round live_q.
         * owed_conn: a connection that ended without its final counts
         * (its client died, or closed without naming it): this end's
         * report on disconnect or close is still wanted. */
        uint64_t attach_q;
        uint64_t live_q;
        struct np_traffic live;
        uint64_t owed_conn;
};

struct np_conn {
        struct np_hnode hnode; /* broker->conns, by id */
        uint64_t id;
        struct np_instance *inst; /* NULL once detached (server closed or disconnected) */
        uint64_t instance_id;
        struct np_pipe *pipe;         /* counted in pipe->refs */
        struct np_pipe_params params; /* as reported at OPEN, for QUERY after detach */
        uint32_t detached_state;      /* NPIPE_STATE_CLOSING or _DISCONNECTED once detached */
        struct np_client *client;
        struct np_link client_link;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        uint32_t access;
        struct np_remote_id *remote; /* the SMB user, for a remote client; else NULL */
        /* Adopted before its server end: not attached yet (inst NULL,
         * detached_state CONNECTED), expecting that server's pid. */
        bool pending;
        pid_t pend_pid;
        struct np_pidwatch *pend_watch;
        /* The server side left without final counts (it died): this end's
         * report on close is wanted; `known` is the server's last report,
         * kept in case this end dies too (stats.c). */
        bool owed;
        struct np_traffic known;
};

struct np_waiter {
        struct np_link pipe_link;
        struct np_link client_link;
        struct np_pipe *pipe;
        struct np_client *client;
        uint32_t req_id;
        int64_t deadline_ns; /* CLOCK_MONOTONIC; -1: forever */
        size_t heap_idx;     /* position in broker->heap, or NP_NOT_IN_HEAP */
};
#define NP_NOT_IN_HEAP ((size_t)-1)

/* A LIST or STATS being sent: a snapshot of the namespace, emitted at the
 * reader's pace (limits.h, NP_LIM_OUTQ_LIST).  A STATS job waits in
 * broker->stats_next or ->stats_round (linked by `link`, no snapshot yet)
 * until its query round is over. */
struct np_listjob {
        struct np_link link;
        struct np_client *client;
        uint32_t req_id;
        bool stats;
        uint64_t q;              /* stats: the round its live counts come from */
        uint32_t asked, missing; /* stats: that round's processes */
        struct np_pipe **pipes;  /* each counted in ->refs */
        size_t n, next;
};

/* What the broker counts for `npipe stat` (NP_MSG_STATS); every field only
 * grows, from the broker's start. */
struct np_counters {
        uint64_t processes_total, processes_refused, processes_dropped;
        uint64_t pipes_total, instances_total, connections_total;
        uint64_t opens_busy, opens_denied, opens_not_found;
        uint64_t waits_total, waits_timed_out;
        uint64_t requests_total, requests_malformed;
        uint64_t adoptions, stats_queries;
        struct np_traffic traffic; /* ended connections of every pipe */
};

struct np_broker {
        int epfd;
        /* The request being handled carries NP_HDR_NO_REPLY: its success
         * is not answered (reply_status).  Both 0/NULL between requests. */
        uint32_t quiet_req;
        struct np_client *quiet_client;
        struct np_src listen_src;
        int lfd;
        struct np_src signal_src;
        int sigfd;
        int lockfd;     /* -1 under socket activation */
        bool activated; /* listening socket came from systemd */
        char sock_path[108];
        dev_t sock_dev; /* to unlink the socket only if still ours */
        ino_t sock_ino;
        bool own_socket;
        int fd_budget;         /* keep no descriptor numbered at or above this */
        int seg_budget;        /* nor a listening instance's segment at or above this */
        /* RLIMIT_NOFILE once raised (main.c; RLIM_INFINITY as ULLONG_MAX),
         * for the line that says the budget ran out (acct.c) */
        unsigned long long nofile, nofile_max;
        /* The NP_LIMIT_* the request being handled reached (acct.c,
         * np_limit_hit): np_reply_status sends it with NPIPE_ELIMIT.  0
         * between requests. */
        uint32_t limit_detail;
        unsigned idle_exit_s;  /* 0: never */
        int64_t idle_since_ns; /* when the last client left */
        bool stop;

        struct np_htab pipes;
        size_t n_pipes;
        size_t mem_peak; /* state.c, give_back_memory */
        struct np_htab instances;
        struct np_htab conns;
        struct np_htab uaccts;                /* struct np_uacct by uid */
        uid_t owner_uid;                      /* our euid: not limited by the fair share */
        size_t n_instances, n_conns, n_waits; /* all clients together */
        uint64_t next_id;                     /* instance and conn ids share one counter, started at
                                               * CLOCK_REALTIME ns, raised above adopted ids */
        uint64_t hash_seed;

        struct np_link clients;
        size_t n_clients; /* excluding rejecting ones */
        size_t n_rejecting;
        uint64_t next_serial;
        struct np_link doomed;          /* clients to reap after the current packet */
        struct np_link graveyard;       /* reaped clients, freed after the epoll batch */
        struct np_link watch_graveyard; /* dead np_pidwatch, freed likewise */
        size_t n_watches;               /* live pidfds (counted against fd_budget) */
        int64_t accept_paused_until_ns; /* accept() failed for lack of resources */

        struct np_waiter **heap; /* pending waits with a deadline, min-heap */
        size_t heap_len, heap_cap;

        pid_t self_pid; /* requests from this pid may be the SMB relay's */
        /* Remote clients through Samba (remote.c); remote_dir[0] == 0: off. */
        char remote_dir[108];
        struct np_remote_cfg *rcfg; /* the np directory, the exposure policy */
        size_t n_rsocks;
        struct np_link rsocks;          /* np_rsock.link of the exposed pipes */
        struct np_link rsock_graveyard; /* closed sockets, freed after the epoll batch */
        int64_t started_ns;
        struct np_counters ctr;
        /* stats.c: one query round at a time */
        uint64_t stats_q;  /* the latest round started (0: none yet) */
        bool stats_active; /* round stats_q is waiting for answers */
        int64_t stats_deadline_ns;
        uint32_t stats_asked, stats_waiting;
        struct np_link stats_round; /* np_listjob served by the active round */
        struct np_link stats_next;  /* np_listjob waiting for the next one */
        size_t n_stats;             /* STATS requests in progress, all clients */
        struct np_reaper *reaper;   /* reap.c: closes untrusted descriptors */
};

/* What a request handler gets (requests.c, and the handlers of adopt.c,
 * list.c and stats.c).  One request that passed np_handle_packet's checks:
 * its fixed body is as long as proto.c's table says (unaligned: copy it
 * out), its name (NULL for types without one) passed np_name_check, and
 * fd is what the type's descriptor rule allows (-1: none).  The handler
 * owns fd. */
struct np_req {
        uint32_t id; /* req_id, never 0 */
        uint16_t type;
        const unsigned char *body;
        const char *name;
        uint32_t name_len;
        int fd;
};
/* A row's handler in the dispatch table (requests.c, `requests`). */
typedef void np_req_fn(struct np_broker *b, struct np_client *c, const struct np_req *r);

/* CLOCK_MONOTONIC in nanoseconds (src/os, os.h). */
int64_t np_now_ns(void);

/* ---- log.c -------------------------------------------------------------- */

/* Levels are the syslog priorities (LOG_ERR .. LOG_DEBUG). */
int np_log_parse_level(const char *s);
void np_log_init(int level);
void np_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One call site's share of the log (limits.h, NP_LOG_BURST lines per
 * NP_LOG_INTERVAL_S): a static `struct np_ratelimit rl;` (zero) beside
 * each line a client can cause; lines over the share are only counted. */
struct np_ratelimit {
        int64_t start_ns; /* the current interval's start (0: none yet) */
        unsigned lines, suppressed;
};
void np_log_limited(struct np_ratelimit *rl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- policy.c: who may do what -------------------------------------------- */

/* Is want c's primary or a supplementary group? */
bool np_client_in_group(const struct np_client *c, gid_t want);
/* May c (or the remote user id) open p or add an instance to it? */
bool np_allowed(const struct np_pipe *p, const struct np_client *c);
bool np_allowed_remote(const struct np_pipe *p, const struct np_remote_id *id);
/* May c add an instance with these parameters and NP_CREATE_* flags to
 * the existing pipe p (adopted: re-registered after a restart)?  0 or the
 * NPIPE_E* status to answer. */
int np_join_check(const struct np_pipe *p, const struct np_client *c,
                  const struct np_pipe_params *params, uint32_t flags, bool adopted);

/* ---- names.c ------------------------------------------------------------- */

/* The live pipe of this (checked) name, or NULL. */
struct np_pipe *np_pipe_find(struct np_broker *b, const char *name, uint32_t len);
uint64_t np_pipe_key_hash(const struct np_broker *b, const struct np_pipe *p);
/* The seeded hash of a name's bytes (keys, socket names). */
uint64_t np_name_hash(const struct np_broker *b, const char *bytes, size_t n);
bool np_pipe_same_name(const struct np_pipe *x, const struct np_pipe *y);
/* A name made safe for a log line (control characters as \xNN). */
const char *np_name_esc(const char *s, size_t n, char *out, size_t cap);
#define NP_ESC_MAX 200
#define NP_PIPE_ESC(p, buf) np_name_esc((p)->display, (p)->name_len, (buf), sizeof(buf))

/* ---- acct.c: what each uid holds ------------------------------------------ */

/* The accounting record of uid (made on first use; NULL without memory)
 * and its release when the uid's last client is gone. */
struct np_uacct *np_uacct_get(struct np_broker *b, uid_t uid);
void np_uacct_put(struct np_broker *b, struct np_uacct *a);
/* Would `more` descriptors put uid a over its share of the budget? */
bool np_fd_share_full(const struct np_broker *b, const struct np_uacct *a, size_t more);
/* May c keep a segment, descriptor fd, for a listening instance?  0, or
 * np_limit_hit's NPIPE_ELIMIT: fd is not below b->seg_budget (limits.h,
 * NP_LIM_FD_OPEN_ROOM), or c's uid has its share of the descriptors. */
int np_limit_segment(struct np_broker *b, const struct np_client *c, int fd);
/* A request of process pid (of uid a, NULL when unknown) reached the bound
 * `detail` (NP_LIMIT_WHAT | NP_LIMIT_SCOPE, proto.h): log which bound,
 * its value and how to raise it (rate-limited per bound).  np_limit_hit
 * also notes it for the reply (b->limit_detail: np_reply_status sends it)
 * and returns NPIPE_ELIMIT. */
void np_limit_log(struct np_broker *b, pid_t pid, const struct np_uacct *a, uint32_t detail);
int np_limit_hit(struct np_broker *b, pid_t pid, const struct np_uacct *a, uint32_t detail);
/* Would one more `what` (NP_LIMIT_*) of c exceed its process's bound (it
 * holds n_proc), the pool of all clients (total) or its uid's fair share
 * (mine)?  0, or np_limit_hit's NPIPE_ELIMIT for the first it would.
 * The bounds are limits.h's, by `what`. */
int np_limit_check(struct np_broker *b, const struct np_client *c, uint32_t what, size_t n_proc,
                   size_t total, size_t mine);

/* ---- timer.c: the deadline heap of waits ---------------------------------- */

/* -1 when the heap cannot grow; np_timer_del of a wait not in it is harmless. */
int np_timer_add(struct np_broker *b, struct np_waiter *w);
void np_timer_del(struct np_broker *b, struct np_waiter *w);

/* ---- watch.c: the epoll set below the loop -------------------------------- */

/* Add fd to the loop's epoll set; its events come with src. */
int np_watch_fd(struct np_broker *b, int fd, uint32_t events, struct np_src *src);
/* Watch a pidfd in the epoll set (np_pidwatch_fired when it is readable);
 * np_watch_free takes it out, closes it and frees it after the batch
 * (np_watch_bury, at the batch's end). */
int np_watch_add(struct np_broker *b, struct np_pidwatch *w);
void np_watch_free(struct np_broker *b, struct np_pidwatch *w);
void np_watch_bury(struct np_broker *b);
/* Forget what an adopted half waits for (and stop watching its peer). */
void np_inst_pend_clear(struct np_broker *b, struct np_instance *i);
void np_conn_pend_clear(struct np_broker *b, struct np_conn *conn);

/* ---- client.c: sending to a client, dropping one --------------------------- */

/* Send a packet to c, taking ownership of fd (closed once sent or when the
 * packet cannot be delivered).  Queues when the socket buffer is full;
 * drops the client when the queue overflows or the send fails. */
void np_send(struct np_broker *b, struct np_client *c, const void *pkt, size_t len, int fd);
/* Header + fixed body + optional name as one packet (np_send owns fd). */
void np_send_msg(struct np_broker *b, struct np_client *c, uint16_t type, uint32_t req_id,
                 const void *body, size_t blen, const char *name, size_t nlen, int fd);
/* NP_MSG_REPLY; a success is not sent for an NP_HDR_NO_REPLY request. */
void np_reply_status(struct np_broker *b, struct np_client *c, uint32_t req_id, int status);
void np_send_peer_gone(struct np_broker *b, struct np_client *to, uint64_t instance_id,
                       uint64_t conn_id, uint32_t reason, uint32_t to_server);
/* Drop c: the loop reaps it (handles it as dead) after the current packet. */
void np_client_doom(struct np_broker *b, struct np_client *c, const char *why);
/* Read nothing more from c; close it once its queue has been sent. */
void np_client_drain(struct np_broker *b, struct np_client *c);
/* Register the epoll interest c's state calls for (reading unless paused
 * by its queue or the reaper, writing while it has a queue). */
void np_client_update(struct np_broker *b, struct np_client *c);
/* Send what c's queue holds while its socket takes it (EPOLLOUT). */
void np_client_flush(struct np_broker *b, struct np_client *c);
/* A reaped client's queue: sent as far as the socket takes it now, freed. */
void np_client_queue_end(struct np_client *c);
/* A malformed or out-of-place request: answered when it can be, and the
 * client dropped after too many. */
void np_bad_packet(struct np_broker *b, struct np_client *c, uint32_t req_id, int status,
                   const char *what);
/* A descriptor client c sent that the broker does not keep (reap.h,
 * np_fd_drop); a c of another uid (np_uacct.limited) whose uid has more
 * than NP_LIM_REAP_PER_UID descriptors waiting is then dropped as a
 * protocol offender. */
void np_fd_discard(struct np_broker *b, struct np_client *c, int fd);

/* ---- remote_dir.c: the np directory and the registry of our sockets -------- */

struct np_remote_rule;
struct sockaddr_un;

/* The np directory, the exposure policy and the socket names in use
 * (broker->rcfg, made by the first option that needs it). */
struct np_remote_cfg {
        int dirfd; /* the np directory, O_PATH; -1 until opened */
        int regfd; /* the registry, O_APPEND; -1 when none */
        size_t reg_bytes;
        size_t name_max; /* longest socket name both paths can hold */
        struct np_remote_rule *rules;
        size_t n_rules;
        char **reserved_ok;
        size_t n_reserved_ok;
        struct np_htab snames;
};

/* A pipe's socket in the np directory (remote.c). */
struct np_rsock {
        struct np_src src;
        struct np_link link; /* b->rsocks, then b->rsock_graveyard once closed */
        struct np_pipe *pipe;
        int fd;
        dev_t dev; /* to unlink the entry only while it is still ours */
        ino_t ino;
        char name[]; /* in the np directory */
};

/* broker->rcfg, made on first use; NULL without memory. */
struct np_remote_cfg *np_remote_cfg_get(struct np_broker *b);
/* Open the np directory (checked: a directory only root can write) and
 * the registry of the sockets a broker of this runtime directory made,
 * removing those a dead broker left behind.  0 or -1 (logged). */
int np_remote_open_dir(struct np_broker *b, const char *dir, const char *runtime_dir);
/* The path of `name` in the np directory, through the directory's
 * descriptor (/proc/self/fd/N/NAME); 0 or -ENAMETOOLONG. */
int np_remote_proc_path(const struct np_remote_cfg *rc, const char *name, struct sockaddr_un *sa);
/* Registry lines: op '+' when a socket is made, '-' when it is removed. */
void np_registry_put(struct np_remote_cfg *rc, char op, dev_t dev, ino_t ino, const char *name);
/* After a socket was made: rewrite the registry when it grew too long. */
void np_registry_maybe_compact(struct np_broker *b);
/* Empty the registry (false when it cannot be). */
bool np_registry_clear(struct np_remote_cfg *rc);

/* ---- remote.c: the pipes' sockets for Samba -------------------------------- */

/* The exposure policy, from npiped's options (main.c); see docs/remote.md.
 * `spec`: USER, @GROUP or * (users by name or number), optionally followed
 * by :PATTERN (a glob over the lower-case name).  Returns 0, or -1 with a
 * message on stderr. */
int np_remote_allow(struct np_broker *b, const char *spec);
/* Let a reserved name (one of Samba's own RPC pipes) be exposed. */
int np_remote_allow_reserved(struct np_broker *b, const char *name);
/* Start the SMB relay thread (when b->remote_dir is set); 0 or -1. */
int np_remote_init(struct np_broker *b);
void np_remote_shutdown(struct np_broker *b);
/* The policy's verdict for a new pipe created by c: NP_REMOTE_EXPOSED (0)
 * when remote clients may reach it, else why not (NP_REMOTE_*). */
int np_remote_policy(const struct np_broker *b, const struct np_pipe *p,
                     const struct np_client *c);
/* Give p its socket in remote_dir / take it away (both idempotent). */
void np_remote_expose(struct np_broker *b, struct np_pipe *p);
void np_remote_unexpose(struct np_broker *b, struct np_pipe *p);
/* Its socket is readable: accept what smbd connected. */
void np_remote_accept(struct np_broker *b, struct np_rsock *rs);
/* Free the sockets closed during the epoll batch. */
void np_remote_bury(struct np_broker *b);

/* ---- state.c: the namespace's objects ------------------------------------ */

int np_state_init(struct np_broker *b);
struct np_instance *np_instance_find(struct np_broker *b, uint64_t id);
struct np_conn *np_conn_find(struct np_broker *b, uint64_t id);

/* The pipe-wide values (first instance's) with this instance's quotas. */
struct np_pipe_params np_instance_params(const struct np_instance *i);
bool np_params_valid(const struct np_pipe_params *p);
/* Move i to a state, keeping the pipe's counters and listen FIFO right;
 * entering LISTENING keeps fd, leaving it closes a held segment. */
void np_set_state(struct np_instance *i, uint32_t state, int fd);
/* Take the segment a LISTENING instance holds (-1 if none). */
int np_inst_take_fd(struct np_instance *i);
void np_instance_set_flags(struct np_broker *b, struct np_instance *i, uint32_t flags);
struct np_instance *np_instance_new(struct np_broker *b, struct np_client *c, struct np_pipe *p,
                                    const struct np_pipe_params *params, uint64_t id);
/* A new DISCONNECTED instance of name for c, joining or creating its pipe
 * (adopt_id: the id of an adopted instance, 0 for a new one; fd: the
 * segment it will hold as a LISTENING one, or -1); 0 or the NPIPE_E*
 * status to answer. */
int np_instance_admit(struct np_broker *b, struct np_client *c, const char *name, uint32_t len,
                      const struct np_pipe_params *params, uint32_t flags, uint64_t adopt_id,
                      int fd, struct np_instance **out);
void np_conn_add(struct np_broker *b, struct np_client *c, struct np_conn *conn, uint64_t id,
                 struct np_pipe *p);

/* Pipes: a record in no table (adopt.c's placeholders), a new name of c,
 * removal with the last instance, release of a reference. */
struct np_pipe *np_pipe_alloc(const char *name, uint32_t len, const struct np_pipe_params *params);
struct np_pipe *np_pipe_new(struct np_broker *b, const char *name, uint32_t len,
                            const struct np_pipe_params *params, struct np_client *c,
                            uint32_t flags);
void np_pipe_maybe_remove(struct np_broker *b, struct np_pipe *p);
void np_pipe_unref(struct np_pipe *p);

/* Waits: answered (reply) and freed; every waiter of p answered. */
void np_wait_finish(struct np_broker *b, struct np_waiter *w, int status, bool reply);
void np_wake_waiters(struct np_broker *b, struct np_pipe *p, int status);
/* A wait's deadline passed. */
void np_wait_expired(struct np_broker *b, struct np_waiter *w);

/* Connection ends; rep: the leaving end's final counts, NULL when it died. */
void np_instance_settle(struct np_broker *b, struct np_instance *i, const struct np_end_req *rep);
void np_conn_detach(struct np_broker *b, struct np_conn *conn, uint32_t state, uint32_t reason,
                    const struct np_end_req *rep);
void np_conn_close(struct np_broker *b, struct np_conn *conn, uint32_t reason,
                   const struct np_end_req *rep);
void np_instance_close(struct np_broker *b, struct np_instance *i, uint32_t reason,
                       const struct np_end_req *rep);
/* Counts of connections: t added to `to` (saturating), and the final
 * counts of an ended connection of p folded into p and the broker. */
void np_traffic_add(struct np_traffic *to, const struct np_traffic *t);
void np_traffic_fold(struct np_broker *b, struct np_pipe *p, const struct np_traffic *t);

/* Is i's traffic not folded yet: a connection attached, or one that ended
 * without its counts (stats.c asks its owner, list.c reports it)? */
static inline bool np_inst_live(const struct np_instance *i)
{
        return i->conn != NULL || i->owed_conn != 0;
}

/* ---- list.c --------------------------------------------------------------- */

np_req_fn np_req_list;
/* Emit more of c's LIST (and STATS) replies while its queue is short. */
void np_list_pump(struct np_broker *b, struct np_client *c);
/* Fill j->pipes with every pipe of the namespace c may see (each
 * referenced); -1 without memory. */
int np_snapshot(struct np_broker *b, struct np_listjob *j);
void np_listjob_free(struct np_broker *b, struct np_listjob *j);

/* ---- stats.c ------------------------------------------------------------ */

/* NP_MSG_STATS and NP_MSG_STATS_REPORT (never answered). */
np_req_fn np_req_stats;
np_req_fn np_req_stats_report;
/* c is going away: its waiting requests vanish, its answer is not awaited. */
void np_stats_client_gone(struct np_broker *b, struct np_client *c);
/* The round's deadline (loop.c's timers); -1 when no round is active. */
int64_t np_stats_deadline(const struct np_broker *b);
void np_stats_expired(struct np_broker *b);
/* A connection attached to i now: what later rounds must ask for. */
void np_stats_attach(struct np_broker *b, struct np_instance *i);

/* ---- adopt.c -------------------------------------------------------------- */

np_req_fn np_req_adopt;
/* The process a pending adoption waited for exited (its pidfd fired). */
void np_pidwatch_fired(struct np_broker *b, struct np_pidwatch *w);

/* ---- requests.c --------------------------------------------------------- */

/* One received packet (n < 0: -EMSGSIZE, the first bytes are in pkt);
 * takes ownership of fd. */
void np_handle_packet(struct np_broker *b, struct np_client *c, const unsigned char *pkt, ssize_t n,
                      int fd);
/* Does every request type proto.c knows have its dispatch row, and no row
 * lack a body size?  0, or -1 (logged). */
int np_requests_check(void);

/* ---- loop.c ------------------------------------------------------------- */

int np_loop_init(struct np_broker *b);
int np_loop_run(struct np_broker *b);
/* Accept whatever is waiting in the listen backlog; returns how many. */
int np_loop_accept(struct np_broker *b);

/* ---- listen.c: where npiped listens (main.c's start-up) ----------------- */

/* The runtime directory of a shared (system) broker, --shared without
 * --runtime-dir. */
#define NP_SHARED_DIR "/run/npipe"

/* A decimal number, digits only, at most max, in *out; 0 or -1. */
int np_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* The runtime directory (runtime_dir: --runtime-dir or NULL; shared:
 * --shared) checked and made absolute in abs_dir (PATH_MAX), our socket's
 * path in b->sock_path; 0 or -1 (logged). */
int np_socket_path(struct np_broker *b, const char *runtime_dir, bool shared, char *abs_dir);
/* Were we started by socket activation (consumes LISTEN_*)? */
bool np_socket_activated(void);
/* The socket systemd passed, checked against b->sock_path; it, or -1
 * (logged). */
int np_activated_socket(struct np_broker *b);
/* Take the start lock and the broker lock of dir: the lock descriptor;
 * exits 0 (readiness written) when another broker serves dir, 1 on error. */
int np_take_locks(const char *dir, const char *sock_path, int *ready_fd, int *daemon_fd);
/* Take (take) or release the start lock on the lock descriptor fd. */
int np_start_lock(int fd, bool take);
/* Bind and listen on b->sock_path (mode 0666 if shared, else 0600); the
 * socket, or -1 (logged).  np_remove_socket unlinks it if still ours. */
int np_listen_socket(struct np_broker *b, bool shared);
void np_remove_socket(struct np_broker *b);
/* Write "1" to *fd and close it (nothing if -1); *fd becomes -1. */
void np_write_ready(int *fd);
/* sd_notify(3): msg to $NOTIFY_SOCKET, if set. */
void np_sd_notify(const char *msg);

#endif /* NPIPED_BROKER_H */
