/*
 * xport.h - inside a connection (conn.h): its layout, and the transport
 * and request multiplexing (xport.c) that session.c and conn.c build on.
 * Not for pipe.c, which sees a connection only through conn.h.
 *
 * The layers call downwards only: conn.c (the cache) -> session.c
 * (NEGOTIATE, SESSION_SETUP, TREE_CONNECT, LOGOFF) -> xport.c (socket,
 * frames, receiver, MessageIds, credits, cancel, keep-alive) -> tcp.c
 * (resolve and connect within a deadline).
 *
 * Locks.  np_conns_mu (conn.c) guards the table and the reference counts;
 * c->mu guards the state, the credits, the MessageIds and the list of
 * requests waiting for their answer; c->send_mu keeps frames whole on the
 * socket and guards the encryption nonce.  The order is np_conns_mu, then
 * c->mu; c->send_mu is never taken with c->mu held, so a sender stuck on a
 * full socket never stops the receiver (which takes only c->mu, and
 * send_mu only with trylock, for the keep-alive).
 */
#ifndef NPIPE_SMB_XPORT_H
#define NPIPE_SMB_XPORT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "smb/conn.h"
#include "smb/crypto.h"

/* Credits asked for with each request: enough for many blocking reads. */
#define NP_SMB_CREDITS_ASK 64
/* Frames before NEGOTIATE told us the sizes (a SESSION_SETUP blob is at
 * most 64 KiB). */
#define NP_SMB_FRAME_CAP_INITIAL (128u * 1024)
/* Slack over the payload: header, fixed part, transform header. */
#define NP_SMB_FRAME_SLACK 4096u

enum np_conn_state { NP_CONN_SETUP, NP_CONN_READY, NP_CONN_DEAD };

/* One request waiting for its answer, on c->pending (c->mu). */
struct np_smb_req {
        struct np_smb_req *next;
        uint64_t mid;
        uint64_t async_id;
        bool async; /* an interim STATUS_PENDING gave async_id */
        bool done;  /* final answer in resp */
        bool cancel_sent;
        bool echo;    /* the keep-alive's own (freed by the receiver) */
        bool discard; /* nobody wants the answer: freed by the receiver */
        bool orphan;  /* given up by its caller, kept for np_smb_adopt */
        struct np_smb_owner *owner;
        unsigned gen0; /* owner's cancel generation when the call began */
        struct np_smb_resp resp;
};

struct np_smb_conn {
        /* conn.c: the table's (np_conns_mu) and the key, fixed once made */
        struct np_smb_conn *next;
        unsigned refs;
        pid_t pid;
        char *host, *user, *domain;
        uint16_t port;
        unsigned flags;
        uint16_t max_dialect;
        char desc[300];

        /* xport.c: the socket and the multiplexing (mu, except fd, rx) */
        int fd;
        pthread_t rx;
        bool rx_started;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_mutex_t send_mu;
        enum np_conn_state state;
        int dead_st;
        char dead_why[256];
        uint64_t next_mid;
        uint32_t credits;
        struct np_smb_req *pending;
        int64_t last_rx_ms;
        struct np_smb_req *echo; /* outstanding keep-alive */
        int64_t echo_sent_ms;
        size_t frame_cap;

        /* session.c: what NEGOTIATE and SESSION_SETUP settled (written under
         * mu before any request that depends on them is sent) */
        uint16_t dialect;
        uint32_t caps;
        uint32_t max_read, max_write, max_transact;
        uint64_t session_id;
        uint32_t tree_id;
        bool keys_ready; /* keys derived: verify signed answers */
        bool sign;       /* sign every request */
        bool encrypt;    /* encrypt every request (and expect it back) */
        struct np_smb_keys keys;
};

/* ---- the transport ---- */

/* Set up c's transport fields (before anything else touches c). */
void np_smb_xport_init(struct np_smb_conn *c);
/* Connect (tcp.c) and start the receiver. */
int np_smb_xport_start(struct np_smb_conn *c, int64_t deadline);
/* Join the receiver, close the socket, free what is left (c is dead). */
void np_smb_xport_destroy(struct np_smb_conn *c);

/* Mark c dead (c->mu held): every waiter ends with st, the socket is shut
 * down so that the receiver ends too.  The first reason is kept. */
void np_smb_fail_locked(struct np_smb_conn *c, int st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
