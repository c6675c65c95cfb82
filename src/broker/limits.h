/*
 * limits.h - every bound the broker enforces, in one place.
 *
 * The broker serves every process of a user from one thread, so nothing a
 * single client does may grow without bound: each table has a ceiling, and
 * reaching one answers the request with NPIPE_ELIMIT (or, for the outgoing
 * queue and protocol errors, drops the offending client) instead of letting
 * the broker slow down or run out of memory or descriptors for everyone.
 */
#ifndef NPIPED_LIMITS_H
#define NPIPED_LIMITS_H

/* Client processes connected at once.  One socket each; the library keeps
 * one per process, so this is a count of processes. */
#define NP_LIM_CLIENTS 4096u

/* Connections accepted beyond NP_LIM_CLIENTS only to answer their HELLO
 * with NPIPE_ELIMIT (a clear status rather than a bare hang-up).  Past
 * this many, a connection is closed at once. */
#define NP_LIM_CLIENTS_REJECTING 64u

/* Server instances one process may own.  Each listening instance holds a
 * descriptor in the broker, so the descriptor budget (below) usually
 * bites first. */
#define NP_LIM_INSTANCES_PER_CLIENT 100000u

/* Client connections one process may hold open (design.md: 10,000
 * connections in one process must work). */
#define NP_LIM_CONNS_PER_CLIENT 100000u

/* Pending WAIT requests per process. */
#define NP_LIM_WAITS_PER_CLIENT 1024u

/* Pipe names in the namespace, all users together. */
#define NP_LIM_PIPES 100000u

/* All processes together: every instance, connection and pending wait is
 * broker memory (a few hundred bytes each), so the per-process limits,
 * which a program can multiply by opening more sockets, are capped as a
 * whole too.  Reaching one answers NPIPE_ELIMIT. */
#define NP_LIM_INSTANCES 400000u
#define NP_LIM_CONNS     400000u
#define NP_LIM_WAITS     65536u

/* Fair share (a shared broker, --shared): a uid other than the broker's own
 * and root may hold at most 1/NP_LIM_UID_SHARE of the client slots
 * (NP_LIM_CLIENTS) and of each pool above, so that no other user can take
 * a whole broker from everybody else.  Its processes get NPIPE_ELIMIT
 * (HELLO_REPLY for a connection over its share). */
#define NP_LIM_UID_SHARE 4u

/* LIST requests in progress per process (each holds a snapshot of the
 * namespace until the client has read it). */
#define NP_LIM_LISTS_PER_CLIENT 8u

/* STATS requests in progress (waiting for their query round, or being
 * sent: each then holds a snapshot of the namespace like a LIST), per
 * process and for all processes together (with the fair share). */
#define NP_LIM_STATS_PER_CLIENT 4u
#define NP_LIM_STATS            256u

/* Packets queued for a client whose socket buffer is full, beyond what
 * its own objects can account for.  Without new requests (which stop at
 * NP_LIM_OUTQ_HIGH) each of its instances can cause at most two events
 * (connected, peer gone), each connection one and each wait one reply, so
 * the bound is NP_LIM_OUTQ + 2 * instances + connections + waits: a server
 * whose thousands of clients die at once is never dropped for the burst of
 * events.  A client past it is dropped like a dead process, so that its
 * peers learn about it. */
#define NP_LIM_OUTQ 8192u

/* Above this many queued packets the broker stops reading a client's
 * requests until it drains its replies (back-pressure, so a client that
 * pipelines requests faster than it reads never reaches NP_LIM_OUTQ by its
 * own requests alone). */
#define NP_LIM_OUTQ_HIGH 1024u

/* A LIST in progress emits items only while fewer than this many packets
 * are queued: a long listing is paced by the reader, not buffered. */
#define NP_LIM_OUTQ_LIST 64u

/* Malformed packets tolerated from one client before it is dropped. */
#define NP_LIM_PROTO_ERRORS 16u

/* Packets handled from one client per readiness event, so that one busy
 * client cannot starve the others. */
#define NP_LIM_PACKETS_PER_EVENT 64u

/* Descriptors kept free below RLIMIT_NOFILE.  The broker refuses to keep a
 * received descriptor (NPIPE_ELIMIT) or a new connection whose number is
 * at or above the limit minus this reserve, so recvmsg() always has room
 * for the descriptors arriving with one packet and never loses one. */
#define NP_LIM_FD_RESERVE 64

/* Remote clients through Samba (remote.c, relay.c): pipes with a socket in
 * the np directory (one descriptor each), and connections being relayed
 * (a descriptor, a client end and about 130 KiB of buffers each).  smbd
 * opens one connection per client handle. */
#define NP_LIM_REMOTE_PIPES 4096u
#define NP_LIM_REMOTE_CONNS 512u
/* A handshake must arrive this soon after connect (smbd sends it at once). */
#define NP_REMOTE_HANDSHAKE_MS 5000
/* A remote client that found every instance busy (Samba cannot say "busy")
 * waits for one as long as it keeps its handle open: the open is retried
 * after 10 ms, then at doubling intervals up to 100 ms.  What bounds the
 * cost is NP_LIM_REMOTE_CONNS. */
#define NP_REMOTE_BUSY_RETRY_MS 10
#define NP_REMOTE_BUSY_RETRY_MAX_MS 100

#endif /* NPIPED_LIMITS_H */
