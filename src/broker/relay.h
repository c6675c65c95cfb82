/*
 * relay.h - the SMB relay thread of npiped (relay.c): carries remote
 * clients' data between smbd's sockets and ordinary client ends of pipes.
 */
#ifndef NPIPED_RELAY_H
#define NPIPED_RELAY_H

#include <stdbool.h>

/* Start / stop the thread (stop closes every relayed connection). */
int np_relay_start(void);
void np_relay_stop(void);
/* Hand over an accepted socket of pipe `name`; the relay owns fd from here
 * on when this returns 0.  -1 (fd not taken) over NP_LIM_REMOTE_CONNS. */
int np_relay_submit(int fd, const char *name, bool message);

#endif
