/*
 * relay.h - the SMB relay thread of npiped: carries remote clients' data
 * between smbd's sockets and ordinary client ends of pipes.
 *
 * The first three functions are all the broker thread (remote.c) sees.
 * The rest is shared by the relay's own files only, which run on the relay
 * thread (and the library's completion thread) and never touch the
 * broker's state; it is kept here rather than in broker.h for that reason.
 * They call one another in this order only, each file the ones below it:
 *
 *   relay.c            the thread: events, timers, start, stop, submit
 *   relay_handshake.c  named_pipe_auth, the open for the remote user
 *   relay_copy.c       data both ways once the pipe is open
 *   relay_conn.c       connections: completions, epoll interest, ending
 */
#ifndef NPIPED_RELAY_H
#define NPIPED_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "npipe/npipe.h"

/* Start / stop the thread (stop closes every relayed connection). */
int np_relay_start(void);
void np_relay_stop(void);
/* Hand over an accepted socket of pipe `name`; the relay owns fd from here
 * on when this returns 0.  -1 (fd not taken) over NP_LIM_REMOTE_CONNS. */
int np_relay_submit(int fd, const char *name, bool message);

/* ---- the relay's own files ------------------------------------------------ */

#define NP_RELAY_MSG_MAX 65535u /* the u16 length prefix */

enum np_rstate { NP_R_HANDSHAKE, NP_R_WAITING, NP_R_LIVE };

struct np_rconn {
        struct np_rconn *prev, *next; /* every connection (relay thread only) */
        struct np_rconn *rnext;       /* the ready list (under np_relay.lock) */
        bool on_ready;
        bool rd_done, wr_done; /* completions not yet handled (under np_relay.lock) */
        int rd_status, wr_status;
        size_t rd_bytes;

        int fd;
        char *name;
        bool msg; /* message-type pipe: u16 framing */
        bool can_read, can_write; /* the pipe's direction, seen from the client */
        enum np_rstate st;
        int64_t deadline_ns; /* the handshake's */
        int64_t retry_ns;    /* NP_R_WAITING: next open attempt */
        int retry_ms;        /* NP_R_WAITING: the interval, doubling */
        uint32_t events;     /* epoll interest registered */
        uint32_t level;
        struct np_remote_id *id;

        uint8_t *hs; /* handshake bytes while NP_R_HANDSHAKE */
        size_t hs_len, hs_need;

        npipe_t *h;
        char rd_ctx, wr_ctx; /* their addresses name the operations (async.h) */
        bool rd_pending, wr_pending;
        bool eof;  /* smbd hung up with data still to carry to the pipe: out of
                    * epoll (hang-ups are level-triggered); nothing more goes to
                    * the socket */
        bool dead; /* closed; waiting for callbacks still on their way */

        /* pipe -> socket */
        size_t out_off, out_len;
        uint8_t out[2 + NP_RELAY_MSG_MAX + 1];
        /* socket -> pipe */
        size_t in_len;
        uint8_t in[2 + NP_RELAY_MSG_MAX + 1];
};

/* The relay's one instance (relay_conn.c), shared by its files: the thread
 * owns what is not marked as under lock. */
struct np_relay {
        pthread_t thread;
        bool running;
        int epfd, efd;
        pthread_mutex_t lock;
        struct np_rconn *ready;    /* completed operations, under lock */
        struct np_rconn *incoming; /* submitted sockets, under lock (linked by rnext) */
        _Atomic unsigned count;    /* connections alive */
        _Atomic bool stop;
        struct np_rconn *all;
        struct np_rconn *graveyard; /* freed after the epoll batch (linked by rnext) */
};
extern struct np_relay np_relay;

/* relay_conn.c */
/* Wake the thread (its eventfd). */
void np_relay_poke(void);
/* Completion callbacks of the pipe's read and write (async.h). */
void np_relay_rd_cb(void *ctx, int status, size_t bytes);
void np_relay_wr_cb(void *ctx, int status, size_t bytes);
/* Register the epoll interest rc's state calls for. */
void np_relay_set_events(struct np_rconn *rc);
/* Free the connections ended during the epoll batch. */
void np_relay_bury(void);
/* Forget a connection whose operations are all over (its memory goes at
 * np_relay_bury). */
void np_relay_destroy(struct np_rconn *rc);
/* End a connection (np_relay_fail: with a log line saying why). */
void np_relay_free(struct np_rconn *rc);
void np_relay_fail(struct np_rconn *rc, const char *why);
/* smbd hung up with data still to carry to the pipe. */
void np_relay_hung_up(struct np_rconn *rc);
/* Read up to want bytes of the socket: how many, 0 when none is there now,
 * or -1 when the connection was closed (rc is gone; eof_why is logged at
 * the end of the stream). */
ssize_t np_relay_recv(struct np_rconn *rc, void *buf, size_t want, const char *eof_why);

/* relay_copy.c: each returns false when the connection was closed. */
/* Keep one read of the pipe going while the socket takes what comes. */
bool np_relay_start_pipe_read(struct np_rconn *rc);
/* The pending read / write of the pipe completed. */
bool np_relay_pipe_read_done(struct np_rconn *rc, int status, size_t n);
bool np_relay_pipe_write_done(struct np_rconn *rc, int status);
/* Readable socket in NP_R_LIVE: into the pipe, a message at a time. */
bool np_relay_sock_input(struct np_rconn *rc);
/* Send what is buffered: 1 all sent, 0 the rest waits for EPOLLOUT, -1 the
 * connection was closed (rc is gone). */
int np_relay_send_out(struct np_rconn *rc);

/* relay_handshake.c */
/* Readable socket in NP_R_HANDSHAKE; false when the connection was closed. */
bool np_relay_hs_input(struct np_rconn *rc);
/* Open the pipe for the remote user; 0, NPIPE_EBUSY or another refusal. */
int np_relay_try_open(struct np_rconn *rc);
/* The pipe is open: carry data from now on; false when closed. */
bool np_relay_go_live(struct np_rconn *rc);

#endif
