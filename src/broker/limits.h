/*
 * limits.h - every bound the broker enforces, in one place.
 *
 * The broker serves every process of a user from one thread, so nothing a
 * single client does may grow without bound: each table has a ceiling, and
 * reaching one answers the request with NPIPE_ELIMIT (or, for the outgoing
 * queue and protocol errors, drops the offending client) instead of letting
 * the broker slow down or run out of memory or descriptors for everyone.
 * The answer says which ceiling (np_reply.detail, NP_LIMIT_* in proto.h)
 * and the log names it, its value and how to raise it (acct.c,
 * np_limit_hit).
 */
#ifndef NPIPED_LIMITS_H
#define NPIPED_LIMITS_H

/* Client processes connected at once.  One socket each; the library keeps
 * one per process, so this is a count of processes. */
#define NP_LIM_CLIENTS 4096u

/* Connections accepted beyond NP_LIM_CLIENTS (or a uid's share of it, or
 * the descriptor budget) only to answer their HELLO with NPIPE_ELIMIT and
 * the limit (a clear status rather than a bare hang-up).  Past this many,
 * a connection is closed at once. */
#define NP_LIM_CLIENTS_REJECTING 64u

/* Server instances one process may own.  Each listening instance holds a
 * descriptor in the broker (its server segment, handed to the client that
 * connects), so the descriptor budget (below) usually bites first. */
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
 * (NP_LIM_CLIENTS), of the names (NP_LIM_PIPES), of each pool above, of
 * the sockets in Samba's np directory (NP_LIM_REMOTE_PIPES) and of the
 * descriptor budget (np_fd_share_full: its processes' sockets, its
 * listening instances' segments, its pipes' Samba sockets and what waits
 * in the reaper together), so that no other user can take a whole broker
 * from everybody else; and all such uids together at most 7/8 of each
 * pool, so that root always gets in (issue 15).  Their processes get
 * NPIPE_ELIMIT (HELLO_REPLY for a connection over its share). */
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
 * for the descriptors arriving with one packet and never loses one: a
 * descriptor the kernel cannot install is released in the receiver's
 * context, and that release can block (issue 15; reap.c).  A packet
 * carries up to SCM_MAX_FD = 253 descriptors (NP_FDPASS_SCM_MAX).  Above
 * the budget live only what is being received and what the reaper holds
 * (reap.c): the loop receives a packet only while the reaper holds fewer
 * than NP_LIM_REAP_HIGH (256) there, and the reaper receives (253 at a
 * time, while it empties a socket it closes) only while it holds at most
 * that many, so at worst 255 + 253 (the loop's packet) + 253 (the
 * reaper's) = 761.  The rest covers accept4() and pidfds: a pidfd that
 * lands above the budget is closed at once, a connection is kept only to
 * answer its HELLO with NPIPE_ELIMIT (NP_LIM_CLIENTS_REJECTING of them at
 * most, then closed at once). */
#define NP_LIM_FD_RESERVE 1024

/* Listening instances' segments may take all of the descriptor budget but
 * 1/NP_LIM_FD_OPEN_ROOM of it (b->seg_budget): that part stays for what
 * every open holds for a moment (the client's segment, on its way to the
 * server) and for new processes' sockets.  Without it a server that
 * filled the budget with listening instances left no client able to
 * connect to any of them. */
#define NP_LIM_FD_OPEN_ROOM 8

/* Room for fewer listening instances than this (RLIMIT_NOFILE, raised to
 * the hard limit at start, less the reserve and the room for opens) gets
 * a notice at start-up naming the hard limit and who passed it on:
 * design.md promises 10,000. */
#define NP_LIM_FD_WANT 10000

/* The reaper (reap.c) closes, on threads of its own, every received
 * descriptor that is not a segment (closing one can block: a TCP socket
 * with SO_LINGER and unsent data, a FUSE file), and the sockets of dropped
 * clients with packets still queued.  Each waits there charged to the uid
 * that sent it (np_uacct.reaping).  While another uid (NP_LIM_UID_SHARE)
 * has more than this many waiting, the broker reads nothing from its
 * processes, and a process of it that sends one more such descriptor is
 * dropped: the library never sends one. */
#define NP_LIM_REAP_PER_UID 32u

/* Descriptors numbered at or above the budget that the reaper may hold
 * (with NP_FDPASS_SCM_MAX counted for each receive in progress) before the
 * broker stops reading every client, and before the reaper stops emptying
 * the sockets it closes: see NP_LIM_FD_RESERVE.  Only a nearly full table
 * gets there. */
#define NP_LIM_REAP_HIGH 256u

/* Reaper threads: one is started when there is something to close; one
 * more whenever every thread has spent NP_REAP_SLOW_MS on one close while
 * work waits, up to this many (a FUSE file whose daemon never answers
 * FLUSH keeps its thread for ever; the others go on); a thread idle for
 * NP_REAP_IDLE_S exits. */
#define NP_REAP_THREADS_MAX 4u
#define NP_REAP_SLOW_MS     100
#define NP_REAP_IDLE_S      5

/* Closing a unix socket releases whatever its queue holds in the closer's
 * context, so the reaper first empties it (taking each descriptor like
 * one of its own), at most this many packets per socket and this deep in
 * sockets found inside sockets (the kernel nests SCM_RIGHTS 4 deep). */
#define NP_REAP_DRAIN 4096u
#define NP_REAP_DEPTH 6

/* A dropped or departed client's socket is shut down, then up to this many
 * of its unread packets are received by the loop itself (their segments
 * closed, other descriptors to the reaper) so that the socket closes with
 * an empty queue: the process then reads every reply sent to it and an end
 * of stream, not ECONNRESET.  A longer queue goes to the reaper. */
#define NP_LIM_CLOSE_DRAIN 256u

/* Log lines a single call site may write per NP_LOG_INTERVAL_S about what
 * clients do (refused requests, dropped processes, refused connections);
 * the rest are counted in one line when the next interval starts, so that
 * a flood cannot fill the disk at the default level (log.c). */
#define NP_LOG_BURST      10u
#define NP_LOG_INTERVAL_S 60u

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
