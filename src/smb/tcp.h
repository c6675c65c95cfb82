/*
 * tcp.h - a TCP connection to host:port, name resolution included, made
 * within a deadline (tcp.c).  Knows nothing of SMB.
 */
#ifndef NPIPE_SMB_TCP_H
#define NPIPE_SMB_TCP_H

#include <stdint.h>

/* Resolve host (a name, an address, or an IPv6 address in brackets) and
 * connect to the first address that answers, before deadline (ms,
 * CLOCK_MONOTONIC; -1: none).  desc ("host:port") is for why().  *fd is
 * non-blocking, close-on-exec, with TCP_NODELAY and SO_KEEPALIVE.
 * 0, or NPIPE_ENETPATH (the name does not resolve; nothing accepts the
 * connection), NPIPE_ETIMEDOUT (the lookup or the connect outlived the
 * deadline), NPIPE_ENOMEM; why() set. */
int np_smb_tcp_connect(const char *host, uint16_t port, const char *desc, int64_t deadline,
                       int *fd);

#endif
