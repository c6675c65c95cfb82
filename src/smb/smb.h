/*
 * smb.h - what the parts of libnpipe-smb share: the settings of one host
 * (config.c), the thread-local "why" text every failing call leaves, and
 * the clock.
 */
#ifndef NPIPE_SMB_SMB_H
#define NPIPE_SMB_SMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npipe/npipe.h"

/* The settings a connection is made with (config.c resolves them for a
 * host: configure(), the environment, remote.conf, the ticket cache). */
struct np_smb_cfg {
        char *host;
        uint16_t port;     /* 445 when nothing said otherwise */
        char *user;        /* NULL: default credentials (Kerberos ticket cache) */
        char *domain;      /* NULL: none */
        char *password;    /* NULL: none */
        unsigned flags;    /* NPIPE_AUTH_* */
        uint16_t max_dialect; /* 0: 3.1.1 */
        const char *source; /* where they came from, for why() */
};

/* Fill cfg for host (strings allocated; np_smb_cfg_free).  0 or a
 * negative NPIPE_* status with why() set (an unsafe remote.conf, a bad
 * value). */
int np_smb_config_resolve(const char *host, struct np_smb_cfg *cfg);
void np_smb_cfg_free(struct np_smb_cfg *cfg);
int np_smb_configure(const char *host, const struct npipe_remote_auth *auth);

/* The calling thread's why() text. */
void np_smb_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void np_smb_why_clear(void);
const char *np_smb_why_get(void);

/* CLOCK_MONOTONIC in ms. */
int64_t np_smb_now_ms(void);

/* "who": "DOMAIN\user", "user" or "(ticket cache)" for messages. */
void np_smb_cfg_who(const struct np_smb_cfg *cfg, char *buf, size_t cap);

#endif
