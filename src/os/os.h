/*
 * os.h - what npipe needs from the operating system, in one place.
 *
 * The core (src/core) calls none of these; the client library and the
 * broker do.  Linux only: futexes, memfd sealing, SCM_RIGHTS, SO_PEERCRED.
 */
#ifndef NPIPE_OS_H
#define NPIPE_OS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

/* Inside a spin-wait: tell the CPU (a hint, never a barrier) so the
 * sibling hyper-thread runs and the loop costs less power.  One per
 * architecture; elsewhere a compiler barrier keeps the loop honest. */
static inline void np_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#else
        __asm__ __volatile__("" ::: "memory");
#endif
}

/* An environment setting of ours: NULL when unset or empty, and always
 * NULL in a setuid, setgid or file-capability program (secure_getenv):
 * there the environment belongs to the caller, who must not choose the
 * broker program we run, the file it appends to or the directory whose
 * broker we trust (issue 12, defect 6). */
static inline const char *np_env(const char *name)
{
        const char *v = secure_getenv(name);
        return v && *v ? v : NULL;
}

/* futex.c: the monotonic clock in nanoseconds, and the futex calls.
 * `shared`: the word is in memory shared between processes (the rings'
 * segments); otherwise the private (faster) futex is used.  The waits
 * return 0 or -errno (-ETIMEDOUT, -EAGAIN when the word is not `val`,
 * -EINTR); a timeout < 0 is forever. */
int64_t np_now_ns(void);
int np_futex_wait(const _Atomic uint32_t *addr, uint32_t val, int shared, int64_t timeout_ns);
/* The same with an absolute CLOCK_MONOTONIC deadline (np_now_ns). */
int np_futex_wait_until(const _Atomic uint32_t *addr, uint32_t val, int shared,
                        int64_t deadline_ns);
void np_futex_wake(const _Atomic uint32_t *addr, int shared, int n);
/* ns (np_now_ns clock, or a length) as a timespec in *ts; NULL when
 * ns < 0 (no timeout), else ts. */
struct timespec *np_timespec(int64_t ns, struct timespec *ts);

/* The runtime directory: $NPIPE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/npipe,
 * else /tmp/npipe-UID.  Written to buf (NUL-terminated).  When `create` is
 * set the directory is made (mode 0700) if missing.  An existing directory
 * must be owned by the caller's uid and not accessible by group or others,
 * else NPIPE_EACCES (a directory someone else planted is never trusted).
 * Returns 0 or a negative NPIPE_E* code. */
int np_runtime_dir(char *buf, size_t len, int create);

/* For the library: as np_runtime_dir(create = 1), but an explicit
 * NPIPE_RUNTIME_DIR may also name a shared broker's directory (owned by root
 * or us, not writable by group or others); *shared is then set, and the
 * caller must not start a broker there. */
int np_runtime_dir_client(char *buf, size_t len, int *shared);

/* ---- spawn.c: the broker process ---- */
/* A SOCK_SEQPACKET connection to the broker socket of `dir`, or -errno. */
int np_broker_socket_connect(const char *dir);
/* Start a broker for `dir` and wait until it can be used: 0 or NPIPE_EBROKER. */
int np_broker_spawn(const char *dir);

/* The broker socket path inside the runtime directory. */
#define NP_BROKER_SOCKET "npiped.sock"
/* The lock file the running broker holds with flock(LOCK_EX). */
#define NP_BROKER_LOCK "npiped.lock"

/* Send one packet with an optional file descriptor (fd < 0: none) on a
 * SOCK_SEQPACKET socket.  MSG_NOSIGNAL; retries EINTR.  Returns 0 or -errno. */
int np_send_packet(int sock, const void *buf, size_t len, int fd);
/* The same without waiting for room: -EAGAIN when the socket is full. */
int np_send_packet_nowait(int sock, const void *buf, size_t len, int fd);

/* Receive one packet and at most one descriptor (*fd = -1 when none; extra
 * descriptors are closed; received descriptors are O_CLOEXEC).  Returns the
 * packet length, 0 at end of stream, or -errno (-EMSGSIZE for a truncated
 * packet, whose descriptors are closed).  `flags` are recvmsg flags
 * (MSG_DONTWAIT). */
ssize_t np_recv_packet(int sock, void *buf, size_t len, int *fd, int flags);

/* The most descriptors one packet can carry: the kernel's SCM_MAX_FD. */
#define NP_FDPASS_SCM_MAX 253

/* What came with one packet, for np_recv_packet_all. */
struct np_rcvd {
        int fds[NP_FDPASS_SCM_MAX];
        unsigned nfd;
        /* An SCM_CREDENTIALS message came along (only with SO_PASSCRED set
         * on sock): a packet was received, possibly an empty one, so a
         * return of 0 was not the end of the stream. */
        int creds;
        /* MSG_CTRUNC: the kernel dropped descriptors it could not install
         * (the table was full); their release ran in our context. */
        int ctrunc;
};

/* For the broker: receive one packet and *every* descriptor that came with
 * it, in r->fds, also with a truncated (-EMSGSIZE) or empty packet.  The
 * kernel releases the descriptors that do not fit the control buffer in
 * the receiver's context, and the last release of a file can block (a
 * TCP socket lingering on close), so the control buffer holds the most a
 * packet can carry and the caller decides how each descriptor is closed.
 * Returns as np_recv_packet (a truncated packet's first `len` bytes are
 * in buf); descriptors are O_CLOEXEC. */
ssize_t np_recv_packet_all(int sock, void *buf, size_t len, struct np_rcvd *r, int flags);

#endif /* NPIPE_OS_H */
