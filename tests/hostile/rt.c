/*
 * rt.c - see rt.h.
 */
#include "rt.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char rt_dir[64];
static pid_t rt_dir_owner;

void rt_rmtree(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[512];

        if (d == NULL)
                return;
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
        }
        closedir(d);
        rmdir(dir);
}

static void rt_cleanup(void)
{
        /* only the process that made it (children exit through here too) */
        if (rt_dir[0] != '\0' && getpid() == rt_dir_owner)
                rt_rmtree(rt_dir);
}

const char *rt_private_runtime(void)
{
        snprintf(rt_dir, sizeof rt_dir, "/tmp/npipe-rt-XXXXXX");
        if (mkdtemp(rt_dir) == NULL) {
                perror("mkdtemp");
                abort();
        }
        chmod(rt_dir, 0700);
        setenv("NPIPE_RUNTIME_DIR", rt_dir, 1);
        setenv("NPIPE_BROKER_IDLE", "1", 1);
        if (rt_dir_owner == 0)
                atexit(rt_cleanup);
        rt_dir_owner = getpid();
        return rt_dir;
}

int64_t rt_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int64_t rt_now_ms(void)
{
        return rt_now_ns() / 1000000;
}

unsigned long rt_env_ulong(const char *name, unsigned long dflt)
{
        const char *v = getenv(name);
        char *end;
        unsigned long x;

        if (v == NULL || *v == '\0')
                return dflt;
        errno = 0;
        x = strtoul(v, &end, 0);
        return errno != 0 || *end != '\0' ? dflt : x;
}

uint64_t rt_seed(const char *what, const char *env_var)
{
        uint64_t s;
        const char *v = env_var != NULL ? getenv(env_var) : NULL;

        if (v != NULL && *v != '\0')
                s = strtoull(v, NULL, 0);
        else
                s = (uint64_t)rt_now_ns() ^ ((uint64_t)getpid() << 40);
        if (s == 0)
                s = 1;
        fprintf(stderr, "%s: seed %llu (replay with %s=%llu)\n", what, (unsigned long long)s,
                env_var != NULL ? env_var : "?", (unsigned long long)s);
        return s;
}

uint64_t rt_rand(uint64_t *state)
{
        uint64_t x = *state;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        return x * 0x2545F4914F6CDD1Dull;
}

int rt_wait_exit(pid_t pid, int timeout_ms)
{
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0), st = -1;
        struct pollfd p = {.fd = pfd, .events = POLLIN};

        if (pfd < 0) {
                /* already reaped or never ours */
                return waitpid(pid, &st, WNOHANG) == pid ? st : -1;
        }
        if (poll(&p, 1, timeout_ms) != 1) {
                close(pfd);
                return -1;
        }
        close(pfd);
        for (;;) {
                if (waitpid(pid, &st, 0) == pid)
                        return st;
                if (errno == ECHILD)
                        return 0; /* exited, but not our child (a daemon) */
                if (errno != EINTR)
                        return -1;
        }
}

void rt_kill_reap(pid_t pid)
{
        int st;

        if (pid <= 0)
                return;
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
}

int rt_read_byte(int fd, int timeout_ms)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        unsigned char ch;

        if (poll(&p, 1, timeout_ms) != 1 || read(fd, &ch, 1) != 1)
                return -1;
        return ch;
}

void rt_dump_stacks(pid_t pid, const char *who)
{
        char cmd[256];

        if (pid <= 0 || access("/usr/bin/gdb", X_OK) != 0)
                return;
        fprintf(stderr, "---- stacks of the %s (pid %ld) ----\n", who, (long)pid);
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/gdb -q -batch -p %ld -ex 'thread apply all bt' </dev/null 2>&1 | "
                 "grep -E '^(Thread|#)' >&2",
                 (long)pid);
        if (system(cmd) != 0) {
                /* best effort */
        }
}

char *rt_name(char *buf, size_t len, const char *tag)
{
        static unsigned n;

        snprintf(buf, len, "\\\\.\\pipe\\rt-%ld-%u-%s", (long)getpid(), n++, tag);
        return buf;
}

uint32_t rt_fnv(const void *p, size_t n)
{
        const unsigned char *b = p;
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 16777619u;
        }
        return h;
}

/* ---- raw protocol ---------------------------------------------------------- */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/ring.h"
#include "npipe/npipe.h"
#include "os/os.h"

static uint32_t rt_req = 1000;

uint32_t rt_raw_send(int s, uint16_t type, const void *body, size_t blen, const char *name,
                     size_t nlen, int fd)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        struct np_hdr h = {.type = type,
                           .version = NP_PROTO_VERSION,
                           .len = (uint32_t)(sizeof h + blen + nlen),
                           .req_id = ++rt_req};

        if (h.len > sizeof buf)
                return 0;
        memcpy(buf, &h, sizeof h);
        if (blen)
                memcpy(buf + sizeof h, body, blen);
        if (nlen)
                memcpy(buf + sizeof h + blen, name, nlen);
        return np_send_packet(s, buf, h.len, fd) == 0 ? h.req_id : 0;
}

int rt_raw_recv(int s, struct rt_pkt *p, int timeout_ms)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        struct pollfd pfd = {.fd = s, .events = POLLIN};
        ssize_t n;

        p->fd = -1;
        if (poll(&pfd, 1, timeout_ms) != 1)
                return -ETIMEDOUT;
        n = np_recv_packet(s, buf, sizeof buf, &p->fd, 0);
        if (n == 0 || n == -ECONNRESET)
                return 0;
        if (n < 0)
                return (int)n;
        if (np_proto_check(buf, (size_t)n, NULL, NULL) != 0) {
                if (p->fd >= 0)
                        close(p->fd);
                p->fd = -1;
                return -EPROTO;
        }
        memcpy(&p->h, buf, sizeof p->h);
        p->blen = (size_t)n - sizeof p->h;
        memcpy(p->body, buf + sizeof p->h, p->blen);
        return 1;
}

int rt_raw_reply(int s, uint32_t req_id, struct rt_pkt *p, struct rt_pkt *ev, int timeout_ms)
{
        int64_t end = rt_now_ms() + timeout_ms;

        for (;;) {
                int left = (int)(end - rt_now_ms()), r;

                r = rt_raw_recv(s, p, left > 0 ? left : 0);
                if (r != 1)
                        return r;
                if (p->h.req_id == req_id)
                        return 1;
                if (p->h.req_id == 0 && ev != NULL) {
                        *ev = *p;
                        ev = NULL;
                        continue;
                }
                if (p->fd >= 0)
                        close(p->fd);
        }
}

int rt_raw_connect(const char *dir)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        struct np_hello hello = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct np_hello_reply rep;
        struct rt_pkt p;
        uint32_t req;
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

        if (s < 0)
                return -errno;
        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, NP_BROKER_SOCKET);
        if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
                r = -errno;
                close(s);
                return r;
        }
        req = rt_raw_send(s, NP_MSG_HELLO, &hello, sizeof hello, NULL, 0, -1);
        r = rt_raw_reply(s, req, &p, NULL, 5000);
        if (r != 1 || p.h.type != NP_MSG_HELLO_REPLY) {
                close(s);
                return r < 0 ? r : NPIPE_EPROTO;
        }
        memcpy(&rep, p.body, sizeof rep);
        if (rep.status != 0) {
                close(s);
                return rep.status;
        }
        return s;
}

pid_t rt_broker_pid(const char *dir)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        struct np_hello hello = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION};
        struct np_hello_reply rep;
        struct rt_pkt p;
        uint32_t req;
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        if (s < 0)
                return -1;
        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, NP_BROKER_SOCKET);
        if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
                close(s);
                return -1;
        }
        req = rt_raw_send(s, NP_MSG_HELLO, &hello, sizeof hello, NULL, 0, -1);
        if (rt_raw_reply(s, req, &p, NULL, 5000) != 1 || p.h.type != NP_MSG_HELLO_REPLY) {
                close(s);
                return -1;
        }
        close(s);
        memcpy(&rep, p.body, sizeof rep);
        return (pid_t)rep.broker_pid;
}

int rt_segment(uint32_t cap, uint32_t role)
{
        size_t sz = NP_SEG_HDR_SIZE + cap;
        int fd = memfd_create("npipe-seg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        void *m;

        if (fd < 0 || ftruncate(fd, (off_t)sz) < 0)
                abort();
        m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
                abort();
        np_seg_init(m, cap, role);
        munmap(m, sz);
        if (fcntl(fd, F_ADD_SEALS,
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
                abort();
        return fd;
}
