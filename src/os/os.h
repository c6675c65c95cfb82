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
#include <sys/types.h>

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

/* The broker socket path inside the runtime directory. */
#define NP_BROKER_SOCKET "npiped.sock"
/* The lock file the running broker holds with flock(LOCK_EX). */
#define NP_BROKER_LOCK "npiped.lock"

/* Send one packet with an optional file descriptor (fd < 0: none) on a
 * SOCK_SEQPACKET socket.  MSG_NOSIGNAL; retries EINTR.  Returns 0 or -errno. */
int np_send_packet(int sock, const void *buf, size_t len, int fd);

/* Receive one packet and at most one descriptor (*fd = -1 when none; extra
 * descriptors are closed; received descriptors are O_CLOEXEC).  Returns the
 * packet length, 0 at end of stream, or -errno (-EMSGSIZE for a truncated
 * packet, whose descriptors are closed).  `flags` are recvmsg flags
 * (MSG_DONTWAIT). */
ssize_t np_recv_packet(int sock, void *buf, size_t len, int *fd, int flags);

#endif /* NPIPE_OS_H */
