/*
 * session.h - what makes a connected transport usable (session.c):
 * NEGOTIATE, SESSION_SETUP with the keys, TREE_CONNECT to IPC$, and the
 * LOGOFF that ends it.
 */
#ifndef NPIPE_SMB_SESSION_H
#define NPIPE_SMB_SESSION_H

#include <stdint.h>

#include "smb/xport.h"

/* Negotiate, authenticate with cfg's credentials and connect IPC$ on c
 * (its transport started), before deadline.  0 or a negative NPIPE_*
 * status with why() set. */
int np_smb_session_establish(struct np_smb_conn *c, const struct np_smb_cfg *cfg, int64_t deadline);
/* LOGOFF, politely and quickly (a READY c); the caller's why() is kept. */
void np_smb_session_logoff(struct np_smb_conn *c);

#endif
