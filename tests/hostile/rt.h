/*
 * rt.h - small helpers shared by the reliability tests (tests/hostile,
 * tests/chaos, tests/access): a private runtime directory per test, a
 * seeded random source whose seed is printed, clocks, and waiting for a
 * child with a deadline through a pidfd.  Nothing here sleeps to
 * synchronise; every wait is a poll() on a descriptor, with a deadline.
 */
#ifndef NPIPE_TESTS_RT_H
#define NPIPE_TESTS_RT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdtemp("/tmp/npipe-rt-XXXXXX"), exported as NPIPE_RUNTIME_DIR, with a
 * broker that exits 1 s after its last client (NPIPE_BROKER_IDLE); the
 * directory is removed at exit.  Returns the path. */
const char *rt_private_runtime(void);

/* Remove a runtime directory and the files a broker leaves in it. */
void rt_rmtree(const char *dir);

int64_t rt_now_ms(void);
int64_t rt_now_ns(void);

/* Seed from $env_var if set, else from the clock; printed to stderr with
 * the test's name so a failing run can be replayed. */
uint64_t rt_seed(const char *what, const char *env_var);
/* xorshift64* over *state. */
uint64_t rt_rand(uint64_t *state);
/* Unsigned integer from the environment, or dflt. */
unsigned long rt_env_ulong(const char *name, unsigned long dflt);

/* Wait for pid to exit within timeout_ms: returns its wait status (0 for
 * a process that is not our child), or -1 on timeout (it is left running). */
int rt_wait_exit(pid_t pid, int timeout_ms);
/* SIGKILL and reap (for cleanup after a failure). */
void rt_kill_reap(pid_t pid);
/* Read one byte from fd within timeout_ms: the byte, or -1. */
int rt_read_byte(int fd, int timeout_ms);

/* On a failure: the stacks of every thread of pid on stderr, when gdb is
 * installed (a hang is then diagnosed from the CI log). */
void rt_dump_stacks(pid_t pid, const char *who);

/* "\\.\pipe\rt-<pid>-<n>-<tag>" */
char *rt_name(char *buf, size_t len, const char *tag);

/* 32-bit FNV-1a, for checksums embedded in test messages. */
uint32_t rt_fnv(const void *p, size_t n);

#endif

/* ---- the raw broker protocol (proto.h), for tests that must hold what
 * the library never keeps (segment descriptors) or speak as another user */

#include "proto/proto.h"

struct rt_pkt {
        struct np_hdr h;
        unsigned char body[NP_PROTO_MAX_PACKET];
        size_t blen;
        int fd; /* received descriptor, -1 if none; the caller closes it */
};

/* Connect to DIR/npiped.sock and say hello: the socket, or -errno /
 * NPIPE_E* (the hello's status). */
int rt_raw_connect(const char *dir);
/* Send a request (type, body, name, optional fd); returns its req_id, or 0. */
uint32_t rt_raw_send(int s, uint16_t type, const void *body, size_t blen, const char *name,
                     size_t nlen, int fd);
/* Receive one checked packet within timeout_ms: 1, 0 at end of stream,
 * -ETIMEDOUT, or another negative code. */
int rt_raw_recv(int s, struct rt_pkt *p, int timeout_ms);
/* The reply to req_id (events before it are skipped, their descriptors
 * closed, unless `ev` is given: then the first event is copied there). */
int rt_raw_reply(int s, uint32_t req_id, struct rt_pkt *p, struct rt_pkt *ev, int timeout_ms);
/* The pid of the broker serving dir (from its HELLO_REPLY), or -1. */
pid_t rt_broker_pid(const char *dir);
/* A sealed memfd segment as the library makes one (header initialised),
 * of cap bytes of ring; returns the descriptor. */
int rt_segment(uint32_t cap, uint32_t role);
