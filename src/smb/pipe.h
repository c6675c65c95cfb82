/*
 * pipe.h - inside a remote pipe handle: its layout and the helpers every
 * call on it uses (pipe_io.c), shared by pipe.c (the module's table,
 * open, close, the small calls) and pipe_io.c (the data path: read,
 * write, transact, peek).  pipe.c calls into pipe_io.c, never the other
 * way.
 */
#ifndef NPIPE_SMB_PIPE_H
#define NPIPE_SMB_PIPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npipe/npipe.h"
#include "smb/conn.h"

/* One remote pipe handle (module.h). */
struct np_rpipe {
        struct np_smb_owner own; /* what cancel() cancels by (conn.h) */
        struct np_smb_conn *conn;
        uint8_t fid[NP_SMB_FILE_ID_LEN];
        char *name; /* for messages: \\host\pipe\name */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned active; /* calls in progress */
        bool closing;
        /* What an adopted READ brought beyond the buffer of the read that
         * adopted it (conn.h, np_smb_adopt): served before the server. */
        uint8_t *stash;
        size_t stash_off, stash_len;
        bool stash_more; /* the server said BUFFER_OVERFLOW after it */
};

/* A call begins: *gen is the cancel generation it runs under (conn.h).
 * 0, or NPIPE_EBADF, NPIPE_EFORKED with why() set. */
int np_rpipe_enter(struct np_rpipe *p, unsigned *gen);
/* The call ends (close() waits for every call to have left). */
void np_rpipe_leave(struct np_rpipe *p);
/* The NPIPE_* status for a response's NTSTATUS nt to "what name", why()
 * set. */
int np_rpipe_nt_fail(const char *what, const char *name, uint32_t nt);
/* NPIPE_EPROTO, why() set: "what name: malformed response". */
int np_rpipe_malformed(const char *what, const char *name);

/* The module's read, write, transact and peek (module.h). */
int np_rpipe_read(struct np_rpipe *p, void *buf, size_t len, size_t *nread, int timeout_ms);
int np_rpipe_write(struct np_rpipe *p, const void *buf, size_t len, size_t *nwritten,
                   int timeout_ms);
int np_rpipe_transact(struct np_rpipe *p, const void *in, size_t in_len, void *out, size_t out_len,
                      size_t *nread);
int np_rpipe_peek(struct np_rpipe *p, void *buf, size_t len, struct npipe_peek *ret);

#endif
