/*
 * remote_dir.c - the np directory and the registry of the sockets this
 * broker made there (remote.c makes and removes the sockets themselves).
 *
 * The registry is a file of the runtime directory, appended to as sockets
 * come and go, so that a broker started after one that died (SIGKILL, a
 * crash) knows exactly which entries of the np directory are leftovers it
 * may remove: those listed, still the same inode, still a socket, and
 * refusing connections.  Apart from remote.c because it is a file format
 * and a recovery of its own, used only at start, at exit and when a
 * socket is made or removed; and it is where the directory is opened and
 * checked, which everything else relies on.
 */
#include "broker/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

/* The file of the runtime directory that lists the sockets this broker
 * made (see np_registry_*). */
#define NP_REMOTE_REGISTRY "remote-sockets"
/* Compact the registry when it grows past this (it is appended to). */
#define NP_REMOTE_REGISTRY_COMPACT (1u << 20)

/* The configuration is made by whichever option needs it first
 * (--remote-allow, --remote-allow-reserved, --samba-np-dir). */
struct np_remote_cfg *np_remote_cfg_get(struct np_broker *b)
{
        if (b->rcfg == NULL) {
                b->rcfg = calloc(1, sizeof *b->rcfg);
                if (b->rcfg == NULL)
                        return NULL;
                b->rcfg->dirfd = -1;
                b->rcfg->regfd = -1;
                if (np_htab_init(&b->rcfg->snames) < 0) {
                        free(b->rcfg);
                        b->rcfg = NULL;
                }
        }
        return b->rcfg;
}

/* dirfd-relative path for bind and connect: the directory is never named
 * by its path again after it was opened and checked. */
int np_remote_proc_path(const struct np_remote_cfg *rc, const char *name, struct sockaddr_un *sa)
{
        int n;

        memset(sa, 0, sizeof *sa);
        sa->sun_family = AF_UNIX;
        n = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", rc->dirfd, name);
        return n < 0 || (size_t)n >= sizeof sa->sun_path ? -ENAMETOOLONG : 0;
}

/* Is anybody accepting on the socket `name`?  1 yes, 0 no (refused: its
 * broker is gone), -1 when it cannot tell. */
static int socket_alive(const struct np_remote_cfg *rc, const char *name)
{
        struct sockaddr_un sa;
        int fd, r;

        if (np_remote_proc_path(rc, name, &sa) < 0)
                return -1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
                r = 1;
        else
                r = errno == ECONNREFUSED ? 0 : -1;
        close(fd);
        return r;
}

/* Registry lines: "+ DEV INO HEXNAME" when a socket is made, "- DEV INO
 * HEXNAME" when it is removed.  Names are hex so that any character a
 * pipe name may hold (a newline) cannot forge a line. */
void np_registry_put(struct np_remote_cfg *rc, char op, dev_t dev, ino_t ino, const char *name)
{
        char line[64 + 2 * 256];
        size_t n, len = strlen(name);
        int k;

        if (rc->regfd < 0 || len > 255)
                return;
        k = snprintf(line, sizeof line, "%c %llu %llu ", op, (unsigned long long)dev,
                     (unsigned long long)ino);
        if (k < 0)
                return;
        n = (size_t)k;
        for (size_t i = 0; i < len; i++)
                n += (size_t)snprintf(line + n, sizeof line - n, "%02x", (unsigned char)name[i]);
        line[n++] = '\n';
        if (write(rc->regfd, line, n) == (ssize_t)n)
                rc->reg_bytes += n;
}

bool np_registry_clear(struct np_remote_cfg *rc)
{
        if (rc->regfd < 0 || ftruncate(rc->regfd, 0) < 0)
                return false;
        rc->reg_bytes = 0;
        return true;
}

/* Rewrite the registry with the sockets that exist now, once it has grown
 * well past what they need. */
void np_registry_maybe_compact(struct np_broker *b)
{
        struct np_remote_cfg *rc = b->rcfg;

        if (rc->reg_bytes <= NP_REMOTE_REGISTRY_COMPACT || rc->reg_bytes <= 256 * b->n_rsocks)
                return;
        if (!np_registry_clear(rc))
                return;
        for (struct np_link *l = b->rsocks.next; l != &b->rsocks; l = l->next) {
                struct np_rsock *rs = np_container_of(l, struct np_rsock, link);

                np_registry_put(rc, '+', rs->dev, rs->ino, rs->name);
        }
}

struct reg_entry {
        unsigned long long dev, ino;
        char name[256];
        bool live;
};

static int unhex(const char *s, char *out, size_t cap)
{
        size_t n = strlen(s);

        if (n % 2 != 0 || n / 2 + 1 > cap || n == 0)
                return -1;
        for (size_t i = 0; i < n / 2; i++) {
                unsigned v;

                if (sscanf(s + 2 * i, "%2x", &v) != 1)
                        return -1;
                out[i] = (char)v;
        }
        out[n / 2] = '\0';
        return memchr(out, '\0', n / 2) == NULL && strchr(out, '/') == NULL ? 0 : -1;
}

/* A previous broker of this runtime directory that died (SIGKILL, a
 * crash) left its sockets: smbd would get "connection refused" for them
 * instead of "no such pipe", and our own pipes of those names could not be
 * exposed.  Remove exactly those: listed by it, still the same inode,
 * still a socket, and refusing connections. */
static void registry_recover(struct np_remote_cfg *rc)
{
        struct reg_entry *e = NULL;
        size_t n = 0, cap = 0;
        char line[64 + 2 * 256];
        FILE *f;
        int fd = dup(rc->regfd);

        if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || (f = fdopen(fd, "r")) == NULL) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while (fgets(line, sizeof line, f) != NULL && n < 65536) {
                struct reg_entry x = {0};
                char op, hex[2 * 256 + 1];

                if (sscanf(line, "%c %llu %llu %512s", &op, &x.dev, &x.ino, hex) != 4 ||
                    (op != '+' && op != '-') || unhex(hex, x.name, sizeof x.name) < 0)
                        continue;
                if (op == '-') {
                        for (size_t i = 0; i < n; i++)
                                if (e[i].live && e[i].dev == x.dev && e[i].ino == x.ino &&
                                    strcmp(e[i].name, x.name) == 0)
                                        e[i].live = false;
                        continue;
                }
                if (n == cap) {
                        struct reg_entry *g = realloc(e, (cap ? cap * 2 : 64) * sizeof *e);

                        if (g == NULL)
                                break;
                        e = g;
                        cap = cap ? cap * 2 : 64;
                }
                x.live = true;
                e[n++] = x;
        }
        fclose(f);
        for (size_t i = 0; i < n; i++) {
                struct stat st;

                if (!e[i].live || fstatat(rc->dirfd, e[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISSOCK(st.st_mode) || (unsigned long long)st.st_dev != e[i].dev ||
                    (unsigned long long)st.st_ino != e[i].ino)
                        continue;
                if (socket_alive(rc, e[i].name) != 0)
                        continue;
                if (unlinkat(rc->dirfd, e[i].name, 0) == 0) {
                        char esc[NP_ESC_MAX];

                        np_log(LOG_INFO, "removed the stale socket %s of a broker that died",
                               np_name_esc(e[i].name, strlen(e[i].name), esc, sizeof esc));
                }
        }
        free(e);
        np_registry_clear(rc);
}

int np_remote_open_dir(struct np_broker *b, const char *dir, const char *runtime_dir)
{
        struct np_remote_cfg *rc = np_remote_cfg_get(b);
        struct stat st;
        size_t n = strlen(dir), proc_len;
        char reg[4096];
        int r;

        if (rc == NULL)
                return -1;
        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (n + 2 >= sizeof b->remote_dir) {
                np_log(LOG_ERR, "--samba-np-dir %s: too long for socket paths", dir);
                return -1;
        }
        memcpy(b->remote_dir, dir, n);
        b->remote_dir[n] = '\0';
        /* O_NOFOLLOW + O_DIRECTORY: a symlink in the last place is refused */
        rc->dirfd = open(b->remote_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rc->dirfd < 0 || fstat(rc->dirfd, &st) < 0) {
                np_log(LOG_ERR, "--samba-np-dir %s: %s", b->remote_dir, strerror(errno));
                return -1;
        }
        /* smbd insists on root and 0700; we insist that nobody but us can
         * add or swap entries under our feet */
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
                np_log(LOG_ERR, "--samba-np-dir %s: not a directory of ours that only we can write",
                       b->remote_dir);
                return -1;
        }
        /* both smbd's path and ours must fit sun_path (107 bytes and NUL) */
        proc_len = (size_t)snprintf(reg, sizeof reg, "/proc/self/fd/%d/", rc->dirfd);
        rc->name_max = 107 - (proc_len > n + 1 ? proc_len : n + 1);
        if (access("/proc/self/fd", X_OK) < 0) {
                np_log(LOG_ERR, "--samba-np-dir: /proc is not mounted (needed to bind "
                                "through the directory's descriptor)");
                return -1;
        }
        r = snprintf(reg, sizeof reg, "%s/%s", runtime_dir, NP_REMOTE_REGISTRY);
        if (r < 0 || (size_t)r >= sizeof reg)
                return -1;
        rc->regfd = open(reg, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (rc->regfd < 0) {
                np_log(LOG_ERR, "%s: %s", reg, strerror(errno));
                return -1;
        }
        registry_recover(rc);
        return 0;
}
