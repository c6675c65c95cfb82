/*
 * smb.h - what the parts of libnpipe-smb share: the settings of one host
 * (config.c), the thread-local "why" text every failing call leaves, the
 * clock and waiting for a deadline (common.c).
 */
#ifndef NPIPE_SMB_SMB_H
#define NPIPE_SMB_SMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

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
/* A condition variable on CLOCK_MONOTONIC (for np_smb_cv_wait). */
void np_smb_cond_init_mono(pthread_cond_t *cv);
/* Wait on cv until deadline (ms, CLOCK_MONOTONIC; -1: none).  false once
 * the deadline has passed (a wakeup before it is true: check and wait
 * again). */
bool np_smb_cv_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline);
/* The deadline timeout_ms (-1: none) from now. */
int64_t np_smb_deadline(int timeout_ms);
/* What is left of deadline as a timeout: -1 for none, else at least 1 (a
 * step that starts at the deadline still gets to fail as a timeout of its
 * own, with its own why()). */
int np_smb_ms_left(int64_t deadline);

/* "who": "DOMAIN\user", "user" or "(ticket cache)" for messages. */
void np_smb_cfg_who(const struct np_smb_cfg *cfg, char *buf, size_t cap);

#endif
