/*
 * remote.c - pipes reachable from Windows machines through Samba.
 *
 * smbd sends every open of \\host\pipe\NAME to the unix stream socket
 * <np dir>/<lower-case NAME> (docs/remote.md, research/samba.md).  So a
 * broker started with --samba-np-dir gives each pipe that takes remote
 * clients (an instance without NPIPE_REJECT_REMOTE) a socket there, and
 * removes it with the last such instance: a pipe that does not exist is then
 * STATUS_OBJECT_NAME_NOT_FOUND for the client, as on Windows.
 *
 * The np directory belongs to root and to Samba, so everything here is
 * written against a local user who names pipes to hurt root (issue 15):
 *
 *  - The socket name comes from np_name_smb (src/core/name.c), applied to
 *    a name np_handle_packet checked as strict UTF-8: it can hold no '/'
 *    or NUL and is never "." or "..".  Sockets are bound through the
 *    directory's descriptor (/proc/self/fd/N/NAME) and removed with
 *    unlinkat on it, so no path is ever joined from a string.
 *  - An existing entry is never replaced at run time: a file, a symlink,
 *    Samba's own socket, another broker's, all stay, and the pipe is not
 *    exposed (NP_REMOTE_TAKEN).  Only the sockets a broker of this runtime
 *    directory made, listed in its registry file (remote_dir.c), are
 *    removed, and only when nobody accepts on them (the broker that made
 *    them died).
 *  - Who is exposed is the administrator's choice (np_remote_policy):
 *    root's pipes and those allowed by --remote-allow; never, by default,
 *    a name of Samba's own RPC services, whoever asks.
 *  - Sockets are named with Samba's own lower-casing (np_name_smb), so
 *    "\u212Aelvin" and "kelvin", two pipes for NT, get two sockets, each
 *    the one smbd opens for that name.  Should two pipes NT tells apart
 *    still map to one socket name (another Samba's table), both are kept
 *    local while both exist: neither user captures the other's remote
 *    clients.
 *  - Sockets count against their owner's share (limits.h).
 *
 * The broker thread only binds, accepts and checks the peer: smbd connects
 * as root, and since the first bytes it sends carry the user's session key,
 * nobody else may talk to these sockets.  Each accepted connection goes to
 * the relay thread (relay.c), which answers the handshake and then carries
 * the data between the socket and an ordinary client end of the pipe.  The
 * broker loop never reads from these sockets, so a slow or hostile peer
 * cannot stall it.
 */
#include "broker/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/limits.h"
#include "broker/relay.h"
#include "core/name.h"
#include "npipe/npipe.h"

/* The pipe names of Samba's own RPC services (its np directory holds their
 * sockets, started on demand by samba-dcerpcd) and of the Windows services
 * clients expect behind them.  A local server under one of these names
 * would receive every remote client of that service with its SMB identity,
 * so none is exposed unless the administrator names it
 * (--remote-allow-reserved).  Lower case, as np_name_smb gives. */
static const char *const reserved_names[] = {
    "atsvc",       "browser",      "dssetup",  "epmapper", "eventlog",
    "fssagentrpc", "initshutdown", "keysvc",   "lsarpc",   "lsass",
    "mdssvc",      "netdfs",       "netlogon", "ntsvcs",   "protected_storage",
    "rpcecho",     "samr",         "scerpc",   "spoolss",  "srvsvc",
    "svcctl",      "trkwks",       "unixinfo", "winreg",   "witness",
    "wkssvc",      "efsrpc",       "ntlsa",    "msgsvc",   "w32time",
};

enum { RULE_ANY, RULE_UID, RULE_GID };

struct np_remote_rule {
        int kind;
        uint32_t id;
        char *pattern; /* a glob over the np_name_smb form; NULL: every name */
};

/* One socket name and the pipes that want it.  It has a socket only while
 * exactly one pipe wants it (the others would share it). */
struct np_sname {
        struct np_hnode hnode; /* rcfg->snames */
        struct np_link pipes;  /* np_pipe.sname_link */
        size_t n_pipes;
        size_t len;
        char name[];
};

/* ---- the exposure policy ------------------------------------------------- */

static int parse_id(const char *s, size_t n, bool group, uint32_t *out)
{
        char buf[256], *end;
        unsigned long v;

        if (n == 0 || n >= sizeof buf)
                return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (buf[0] >= '0' && buf[0] <= '9') {
                errno = 0;
                v = strtoul(buf, &end, 10);
                if (errno != 0 || *end != '\0' || v > UINT32_MAX - 1)
                        return -1;
                *out = (uint32_t)v;
                return 0;
        }
        if (group) {
                struct group *g = getgrnam(buf);

                if (g == NULL)
                        return -1;
                *out = (uint32_t)g->gr_gid;
        } else {
                struct passwd *pw = getpwnam(buf);

                if (pw == NULL)
                        return -1;
                *out = (uint32_t)pw->pw_uid;
        }
        return 0;
}

int np_remote_allow(struct np_broker *b, const char *spec)
{
        struct np_remote_cfg *rc = np_remote_cfg_get(b);
        const char *colon = strchr(spec, ':');
        size_t wlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
        struct np_remote_rule r = {.kind = RULE_ANY}, *grown;

        if (rc == NULL)
                return -1;
        if (wlen == 1 && spec[0] == '*') {
                r.kind = RULE_ANY;
        } else if (wlen > 1 && spec[0] == '@') {
                r.kind = RULE_GID;
                if (parse_id(spec + 1, wlen - 1, true, &r.id) < 0) {
                        fprintf(stderr, "npiped: --remote-allow=%s: no such group\n", spec);
                        return -1;
                }
        } else {
                r.kind = RULE_UID;
                if (parse_id(spec, wlen, false, &r.id) < 0) {
                        fprintf(stderr, "npiped: --remote-allow=%s: no such user\n", spec);
                        return -1;
                }
        }
        if (colon != NULL) {
                char low[NP_NAME_KEY_MAX + 1];
                size_t plen = strlen(colon + 1);

                /* the pattern is matched against the socket's (lower-case)
                 * name, so it is lower-cased the same way */
                if (plen == 0 || np_name_check(colon + 1, plen) < 0 ||
                    np_name_smb(colon + 1, plen, low, sizeof low) == 0) {
                        fprintf(stderr, "npiped: --remote-allow=%s: not a name pattern\n", spec);
                        return -1;
                }
                r.pattern = strdup(low);
                if (r.pattern == NULL)
                        return -1;
        }
        grown = realloc(rc->rules, (rc->n_rules + 1) * sizeof *grown);
        if (grown == NULL) {
                free(r.pattern);
                return -1;
        }
        rc->rules = grown;
        rc->rules[rc->n_rules++] = r;
        return 0;
}

int np_remote_allow_reserved(struct np_broker *b, const char *name)
{
        struct np_remote_cfg *rc = np_remote_cfg_get(b);
        char low[NP_NAME_KEY_MAX + 1];
        char **grown;

        if (rc == NULL)
                return -1;
        if (np_name_check(name, strlen(name)) < 0 ||
            np_name_smb(name, strlen(name), low, sizeof low) == 0) {
                fprintf(stderr, "npiped: --remote-allow-reserved=%s: not a pipe name\n", name);
                return -1;
        }
        grown = realloc(rc->reserved_ok, (rc->n_reserved_ok + 1) * sizeof *grown);
        if (grown == NULL)
                return -1;
        rc->reserved_ok = grown;
        rc->reserved_ok[rc->n_reserved_ok] = strdup(low);
        return rc->reserved_ok[rc->n_reserved_ok++] != NULL ? 0 : -1;
}

static bool is_reserved(const struct np_remote_cfg *rc, const char *smb)
{
        bool reserved = false;

        for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
                if (strcmp(smb, reserved_names[i]) == 0)
                        reserved = true;
        for (size_t i = 0; reserved && i < rc->n_reserved_ok; i++)
                if (strcmp(smb, rc->reserved_ok[i]) == 0)
                        reserved = false;
        return reserved;
}

/* The one place a pipe's socket name is made: Samba's lower-casing of
 * its name (np_name_smb), short enough for both smbd's path and ours.
 * Returns its length, or 0 when the pipe can have no socket. */
static size_t sock_name(const struct np_remote_cfg *rc, const struct np_pipe *p,
                        char out[NP_NAME_KEY_MAX + 1])
{
        size_t len = np_name_smb(p->display, p->name_len, out, NP_NAME_KEY_MAX + 1);

        return len > rc->name_max ? 0 : len;
}

int np_remote_policy(const struct np_broker *b, const struct np_pipe *p, const struct np_client *c)
{
        const struct np_remote_cfg *rc = b->rcfg;
        char smb[NP_NAME_KEY_MAX + 1];

        if (b->remote_dir[0] == '\0' || rc == NULL || rc->dirfd < 0)
                return NP_REMOTE_OFF;
        if (sock_name(rc, p, smb) == 0)
                return NP_REMOTE_BAD_NAME;
        if (is_reserved(rc, smb))
                return NP_REMOTE_RESERVED;
        /* root's pipes, and the broker owner's (a broker that is not root
         * serves only its own user), need nobody's permission */
        if (c->uid == 0 || c->uid == b->owner_uid)
                return NP_REMOTE_EXPOSED;
        for (size_t i = 0; i < rc->n_rules; i++) {
                const struct np_remote_rule *r = &rc->rules[i];

                if ((r->kind == RULE_UID && (uid_t)r->id != c->uid) ||
                    (r->kind == RULE_GID && !np_client_in_group(c, (gid_t)r->id)))
                        continue;
                if (r->pattern == NULL || fnmatch(r->pattern, smb, 0) == 0)
                        return NP_REMOTE_EXPOSED;
        }
        return NP_REMOTE_NOT_ALLOWED;
}

static const char *why_text(int why)
{
        switch (why) {
        case NP_REMOTE_NOT_ALLOWED:
                return "its owner is not allowed remote clients (npiped --remote-allow)";
        case NP_REMOTE_RESERVED:
                return "the name is one of Samba's own RPC pipes (--remote-allow-reserved)";
        case NP_REMOTE_BAD_NAME:
                return "the name cannot be a file name in the np directory";
        case NP_REMOTE_COLLISION:
                return "another pipe has the same socket name";
        case NP_REMOTE_TAKEN:
                return "the socket name exists and is not the broker's";
        case NP_REMOTE_LIMIT:
                return "a limit was reached";
        default:
                return "remote clients are off";
        }
}

int np_remote_init(struct np_broker *b)
{
        np_link_init(&b->rsocks);
        np_link_init(&b->rsock_graveyard);
        if (b->remote_dir[0] == '\0')
                return 0;
        return np_relay_start();
}

static void rsock_unlink(struct np_broker *b, const struct np_rsock *rs)
{
        struct np_remote_cfg *rc = b->rcfg;
        struct stat st;

        if (fstatat(rc->dirfd, rs->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == rs->dev &&
            st.st_ino == rs->ino && unlinkat(rc->dirfd, rs->name, 0) == 0)
                np_registry_put(rc, '-', rs->dev, rs->ino, rs->name);
}

/* A broker that stops takes its sockets with it: smbd then reports a
 * missing pipe (OBJECT_NAME_NOT_FOUND), not a refused connection. */
void np_remote_shutdown(struct np_broker *b)
{
        if (b->remote_dir[0] == '\0')
                return;
        np_relay_stop();
        for (struct np_link *l = b->rsocks.next; l != &b->rsocks; l = l->next)
                rsock_unlink(b, np_container_of(l, struct np_rsock, link));
        if (b->rcfg != NULL)
                np_registry_clear(b->rcfg);
}

/* ---- sockets ---------------------------------------------------------------- */

static void set_why(struct np_pipe *p, int why)
{
        char esc[NP_ESC_MAX];

        if (why != NP_REMOTE_EXPOSED && why != p->remote_why)
                np_log(why == NP_REMOTE_COLLISION || why == NP_REMOTE_TAKEN ? LOG_WARNING
                                                                            : LOG_INFO,
                       "pipe %s: not reachable from remote clients: %s", NP_PIPE_ESC(p, esc),
                       why_text(why));
        p->remote_why = why;
}

/* Make rs's listening socket, rs->name in the np directory, and check
 * that the entry is ours.  0 (NP_REMOTE_EXPOSED) with rs->fd, dev and ino
 * set; else why p cannot have it (NP_REMOTE_*), with nothing left behind. */
static int rsock_listen(struct np_broker *b, struct np_rsock *rs, const struct np_pipe *p)
{
        struct np_remote_cfg *rc = b->rcfg;
        struct sockaddr_un sa;
        struct stat st;
        char esc[NP_ESC_MAX];

        if (np_remote_proc_path(rc, rs->name, &sa) < 0)
                return NP_REMOTE_LIMIT;
        rs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (rs->fd < 0 || rs->fd >= b->fd_budget) {
                if (rs->fd >= 0)
                        close(rs->fd);
                return NP_REMOTE_LIMIT;
        }
        /* bind creates the entry and never follows or replaces one: an
         * existing file, symlink or socket is EADDRINUSE, and stays */
        if (bind(rs->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                int e = errno;

                close(rs->fd);
                if (e != EADDRINUSE)
                        np_log(LOG_ERR, "pipe %s: remote socket: %s", NP_PIPE_ESC(p, esc),
                               strerror(e));
                return e == EADDRINUSE ? NP_REMOTE_TAKEN : NP_REMOTE_LIMIT;
        }
        /* smbd connects as root; no one else has business here */
        memset(&st, 0, sizeof st);
        if (fstatat(rc->dirfd, rs->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode) ||
            fchmodat(rc->dirfd, rs->name, 0600, 0) < 0 || listen(rs->fd, 128) < 0) {
                np_log(LOG_ERR, "pipe %s: remote socket: %s", NP_PIPE_ESC(p, esc), strerror(errno));
                /* the entry bind made is ours: it must not stay behind,
                 * unlisted, to block the name (only root writes here) */
                if (S_ISSOCK(st.st_mode))
                        unlinkat(rc->dirfd, rs->name, 0);
                close(rs->fd);
                return NP_REMOTE_LIMIT;
        }
        rs->dev = st.st_dev;
        rs->ino = st.st_ino;
        return NP_REMOTE_EXPOSED;
}

/* Bind the socket of sn for p, its only pipe.  Sets p->remote_why. */
static void rsock_open(struct np_broker *b, struct np_sname *sn, struct np_pipe *p)
{
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
        struct np_uacct *a = p->owner_acct;
        struct np_rsock *rs;
        char esc[NP_ESC_MAX];
        int why;

        if (b->n_rsocks >= NP_LIM_REMOTE_PIPES || a == NULL ||
            (a->limited && a->rsocks >= NP_LIM_REMOTE_PIPES / NP_LIM_UID_SHARE) ||
            np_fd_share_full(b, a, 1)) {
                set_why(p, NP_REMOTE_LIMIT);
                return;
        }
        rs = calloc(1, sizeof *rs + sn->len + 1);
        if (rs == NULL) {
                set_why(p, NP_REMOTE_LIMIT);
                return;
        }
        memcpy(rs->name, sn->name, sn->len + 1);
        why = rsock_listen(b, rs, p);
        if (why == NP_REMOTE_EXPOSED) {
                np_registry_put(b->rcfg, '+', rs->dev, rs->ino, rs->name);
                rs->src.kind = NP_SRC_REMOTE;
                rs->pipe = p;
                ev.data.ptr = &rs->src;
                if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, rs->fd, &ev) < 0) {
                        rsock_unlink(b, rs);
                        close(rs->fd);
                        why = NP_REMOTE_LIMIT;
                }
        }
        if (why != NP_REMOTE_EXPOSED) {
                free(rs);
                set_why(p, why);
                return;
        }
        p->rsock = rs;
        np_link_add_tail(&b->rsocks, &rs->link);
        b->n_rsocks++;
        a->rsocks++;
        np_registry_maybe_compact(b);
        set_why(p, NP_REMOTE_EXPOSED);
        np_log(LOG_DEBUG, "pipe %s: remote socket %s", NP_PIPE_ESC(p, esc), rs->name);
}

static void rsock_close(struct np_broker *b, struct np_pipe *p)
{
        struct np_rsock *rs = p->rsock;

        if (rs == NULL)
                return;
        p->rsock = NULL;
        b->n_rsocks--;
        p->owner_acct->rsocks--;
        np_link_del(&rs->link);
        rsock_unlink(b, rs);
        close(rs->fd); /* also leaves the epoll set */
        rs->fd = -1;
        rs->pipe = NULL;
        /* events later in this epoll batch may still point at it */
        np_link_add_tail(&b->rsock_graveyard, &rs->link);
}

static struct np_sname *sname_get(struct np_broker *b, const char *name, size_t len)
{
        struct np_remote_cfg *rc = b->rcfg;
        uint64_t h = np_name_hash(b, name, len);
        struct np_sname *sn;

        for (struct np_hnode *n = np_htab_bucket(&rc->snames, h); n != NULL; n = n->next) {
                sn = np_container_of(n, struct np_sname, hnode);
                if (n->hash == h && sn->len == len && memcmp(sn->name, name, len) == 0)
                        return sn;
        }
        sn = calloc(1, sizeof *sn + len + 1);
        if (sn == NULL)
                return NULL;
        np_link_init(&sn->pipes);
        sn->len = len;
        memcpy(sn->name, name, len + 1);
        np_htab_insert(&rc->snames, &sn->hnode, h);
        return sn;
}

void np_remote_expose(struct np_broker *b, struct np_pipe *p)
{
        char smb[NP_NAME_KEY_MAX + 1];
        struct np_sname *sn;
        size_t len;

        if (p->sname != NULL || p->dead)
                return;
        if (p->policy_why != NP_REMOTE_EXPOSED) {
                set_why(p, p->policy_why);
                return;
        }
        len = sock_name(b->rcfg, p, smb);
        sn = len > 0 ? sname_get(b, smb, len) : NULL;
        if (sn == NULL) {
                set_why(p, len > 0 ? NP_REMOTE_LIMIT : NP_REMOTE_BAD_NAME);
                return;
        }
        p->sname = sn;
        np_link_add_tail(&sn->pipes, &p->sname_link);
        if (++sn->n_pipes == 1) {
                rsock_open(b, sn, p);
                return;
        }
        /* Two pipes NT tells apart, one socket name: expose neither, or
         * whichever came first would receive the other's remote clients. */
        for (struct np_link *l = sn->pipes.next; l != &sn->pipes; l = l->next) {
                struct np_pipe *q = np_container_of(l, struct np_pipe, sname_link);

                rsock_close(b, q);
                set_why(q, NP_REMOTE_COLLISION);
        }
}

void np_remote_unexpose(struct np_broker *b, struct np_pipe *p)
{
        struct np_sname *sn = p->sname;

        rsock_close(b, p);
        p->remote_why = p->policy_why != NP_REMOTE_EXPOSED ? p->policy_why : NP_REMOTE_REJECTED;
        if (sn == NULL)
                return;
        p->sname = NULL;
        np_link_del(&p->sname_link);
        if (--sn->n_pipes == 1) {
                /* the collision is over: the pipe left gets its socket */
                struct np_pipe *q = np_container_of(sn->pipes.next, struct np_pipe, sname_link);

                rsock_open(b, sn, q);
        } else if (sn->n_pipes == 0) {
                np_htab_remove(&b->rcfg->snames, &sn->hnode);
                free(sn);
        }
}

void np_remote_bury(struct np_broker *b)
{
        while (!np_link_empty(&b->rsock_graveyard)) {
                struct np_rsock *rs =
                    np_container_of(b->rsock_graveyard.next, struct np_rsock, link);

                np_link_del(&rs->link);
                free(rs);
        }
}

void np_remote_accept(struct np_broker *b, struct np_rsock *rs)
{
        char esc[NP_ESC_MAX];

        /* Edge-triggered: take everything now.  On a resource error the
         * rest waits for the next connection (smbd retries nothing, but a
         * full descriptor table must not spin the loop). */
        while (rs->fd >= 0 && rs->pipe != NULL) {
                struct ucred cred;
                socklen_t len = sizeof cred;
                int fd = accept4(rs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                np_log(LOG_WARNING, "pipe %s: remote socket: accept: %s",
                                       NP_PIPE_ESC(rs->pipe, esc), strerror(errno));
                        return;
                }
                if (fd >= b->fd_budget) {
                        close(fd);
                        continue;
                }
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                        np_log(LOG_NOTICE,
                               "pipe %s: remote socket: refused a non-root peer "
                               "(pid %ld)",
                               NP_PIPE_ESC(rs->pipe, esc), (long)cred.pid);
                        close(fd);
                        continue;
                }
                if (np_relay_submit(fd, rs->pipe->display,
                                    rs->pipe->params.type == NPIPE_TYPE_MESSAGE) < 0) {
                        np_log(LOG_WARNING, "pipe %s: remote client refused (limit of %u reached)",
                               NP_PIPE_ESC(rs->pipe, esc), NP_LIM_REMOTE_CONNS);
                        close(fd);
                }
        }
}
