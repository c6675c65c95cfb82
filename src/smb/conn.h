/*
 * conn.h - one SMB2/3 connection to a server: TCP, the session and the
 * IPC$ tree, shared by every handle of the process that uses the same
 * host, port, user and options, reference counted.
 *
 * Requests are multiplexed: any number of threads call np_smb_call at
 * once; a receiver thread reads the responses and hands each to its
 * caller by MessageId.  A blocking READ therefore never holds up a WRITE.
 *
 * Implemented in layers (xport.h): conn.c (the cache: get, put), session.c
 * (set-up; the dialect and sizes), xport.c (the calls, cancel, orphans).
 */
#ifndef NPIPE_SMB_CONN_H
#define NPIPE_SMB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smb/msg.h"
#include "smb/smb.h"

/* How long a call waits for the server's answer to its CANCEL before it
 * gives up on the request (the late answer is then dropped). */
#define NP_SMB_CANCEL_GRACE_MS 2000
/* Keep-alive: an ECHO after this long without a word from the server... */
#define NP_SMB_ECHO_IDLE_MS 30000
/* ...and the connection is declared lost when it is not answered in this. */
#define NP_SMB_ECHO_WAIT_MS 15000
/* No single read, write or transact moves more than this (a server may
 * offer 8 MiB; a pipe message is smaller). */
#define NP_SMB_IO_CAP (1u << 20)

struct np_smb_conn;

/* The connection for cfg (an existing one, or a new one set up within
 * timeout_ms: -1 for ever).  A new reference; np_smb_conn_put drops it.
 * 0 or a negative NPIPE_* status with why() set. */
int np_smb_conn_get(const struct np_smb_cfg *cfg, int timeout_ms, struct np_smb_conn **ret);
void np_smb_conn_put(struct np_smb_conn *c);

/* Made by another process (we are a forked child): not to be used. */
bool np_smb_conn_forked(const struct np_smb_conn *c);
/* "host:port" for messages. */
const char *np_smb_conn_desc(const struct np_smb_conn *c);
uint16_t np_smb_conn_dialect(const struct np_smb_conn *c);
uint32_t np_smb_conn_max_read(const struct np_smb_conn *c);
uint32_t np_smb_conn_max_write(const struct np_smb_conn *c);
uint32_t np_smb_conn_max_transact(const struct np_smb_conn *c);

/* What calls are cancelled by: a handle's.  Calls made with gen0 =
 * np_smb_owner_gen() when they began end with NPIPE_ECANCELED once
 * np_smb_cancel_owner() has been called after that (even those that had
 * not yet sent their request). */
struct np_smb_owner {
        unsigned cancel_gen; /* guarded by the connection's lock */
};
unsigned np_smb_owner_gen(struct np_smb_conn *c, const struct np_smb_owner *owner);

/* A response (np_smb_resp_free). */
struct np_smb_resp {
        uint8_t *msg;
        size_t len;
        struct np_smb_hdr h;
};
void np_smb_resp_free(struct np_smb_resp *r);

/* Send the request msg[0 .. len) (built with np_smb_put_hdr; this fills
 * MessageId, CreditCharge, CreditRequest, SessionId and TreeId, then signs
 * or encrypts it) and wait for its final response.  io_len: the larger of
 * the bytes sent and the bytes asked for (for the CreditCharge).
 * timeout_ms (-1: none): at the deadline the request is cancelled on the
 * server.
 * 0 with *r (whatever NTSTATUS it carries) or NPIPE_ETIMEDOUT (timed out
 * and cancelled), NPIPE_ENETLOST (the connection dropped), NPIPE_ENOMEM;
 * why() set. */
int np_smb_call(struct np_smb_conn *c, uint8_t *msg, size_t len, size_t io_len,
                int timeout_ms, struct np_smb_resp *r);
/* np_smb_call for a handle: owner and gen0 (np_smb_owner_gen when the
 * handle's call began) make it cancellable (NPIPE_ECANCELED).  flags:
 * NP_SMB_CALL_ADOPTABLE (a READ): on timeout or cancel the request is not
 * given up but left pending as owner's orphan, and the call returns at
 * once (smbd never cancels a pipe READ: what the READ brings later belongs
 * to the next read, np_smb_adopt). */
#define NP_SMB_CALL_ADOPTABLE 0x1u
int np_smb_call_ex(struct np_smb_conn *c, uint8_t *msg, size_t len, size_t io_len,
                   struct np_smb_owner *owner, unsigned gen0, int timeout_ms, unsigned flags,
                   struct np_smb_resp *r);
/* Wait (timeout_ms) for owner's orphaned READ: 1 when there is none, else
 * as np_smb_call (a timeout leaves it an orphan again). */
int np_smb_adopt(struct np_smb_conn *c, struct np_smb_owner *owner, unsigned gen0,
                 int timeout_ms, struct np_smb_resp *r);
bool np_smb_has_orphan(struct np_smb_conn *c, const struct np_smb_owner *owner);
/* Forget owner's orphans (its handle is being closed). */
void np_smb_drop_owner(struct np_smb_conn *c, const struct np_smb_owner *owner);
/* Cancel every call of owner in progress (they end with NPIPE_ECANCELED
 * unless their answer was already on its way). */
void np_smb_cancel_owner(struct np_smb_conn *c, struct np_smb_owner *owner);

#endif
