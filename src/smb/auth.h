/*
 * auth.h - the security blobs of SESSION_SETUP, through GSSAPI's SPNEGO
 * (NTLMv2 from gss-ntlmssp, Kerberos from MIT krb5).  Nothing of either
 * protocol is written here: GSSAPI makes and checks every token.
 */
#ifndef NPIPE_SMB_AUTH_H
#define NPIPE_SMB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smb/smb.h"

struct np_smb_auth;

/* A context for cfg's credentials towards "cifs@host".  0 or a negative
 * NPIPE_* status (NPIPE_ELOGON when GSSAPI has no usable credentials)
 * with why() set. */
int np_smb_auth_start(const struct np_smb_cfg *cfg, struct np_smb_auth **ret);
/* One step: in is the server's blob (NULL/0 on the first call), *out the
 * next one to send (malloc'ed, may be empty), *done once the context is
 * complete. */
int np_smb_auth_step(struct np_smb_auth *a, const uint8_t *in, size_t in_len, uint8_t **out,
                     size_t *out_len, bool *done);
/* The session key of a complete context (up to cap bytes). */
int np_smb_auth_session_key(struct np_smb_auth *a, uint8_t *key, size_t cap, size_t *len);
void np_smb_auth_free(struct np_smb_auth *a);

#endif
