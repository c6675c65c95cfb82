/*
 * users.c - the helpers of users.h.
 */
#include "users.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "rt.h"

const char *acc_user_get(const char *name, struct acc_user *u)
{
        struct passwd *pw;
        char cmd[256];

        if (geteuid() != 0)
                return "needs root to create and become other users";
        pw = getpwnam(name);
        if (pw == NULL) {
                if (access("/usr/sbin/useradd", X_OK) != 0)
                        return "no useradd to create the test users";
                snprintf(cmd, sizeof cmd,
                         "/usr/sbin/useradd --system --no-create-home --shell "
                         "/usr/sbin/nologin %s >/dev/null 2>&1",
                         name);
                if (system(cmd) != 0)
                        return "useradd failed";
                pw = getpwnam(name);
                if (pw == NULL)
                        return "a test user does not exist after useradd";
        }
        u->name = name;
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        return NULL;
}

void acc_put(int out, int32_t v)
{
        char m = 'r';

        if (write(out, &m, 1) != 1 || write(out, &v, sizeof v) != (ssize_t)sizeof v)
                _exit(4);
}

int acc_as(const struct acc_user *u, const gid_t *groups, int ngroups,
           void (*fn)(int out, void *ctx), void *ctx, int32_t *res, int max)
{
        int p[2], st, n;
        pid_t pid;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(p[0]);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* groups, gid, uid, in that order: after setuid nothing
                 * else may be dropped */
                if (setgroups((size_t)ngroups, groups) < 0 || setgid(u->gid) < 0 ||
                    setuid(u->uid) < 0 || geteuid() != u->uid)
                        _exit(3);
                fn(p[1], ctx);
                _exit(0);
        }
        close(p[1]);
        n = 0;
        while (n < max && rt_read_byte(p[0], 60000) >= 0) {
                /* one status = a marker byte then 4 bytes */
                ck_assert_int_eq(read(p[0], &res[n], sizeof res[n]), (ssize_t)sizeof res[n]);
                n++;
        }
        close(p[0]);
        st = rt_wait_exit(pid, 60000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "the %s process failed: %#x", u->name, st);
        return n;
}

pid_t acc_broker_start(char *dir, size_t cap, const char *const *extra)
{
        const char *broker = getenv("NPIPE_BROKER");
        const char *argv[32];
        char a1[160], a2[32];
        int p[2], n = 0;
        pid_t pid;

        ck_assert_msg(broker != NULL && *broker, "NPIPE_BROKER is not set");
        if (dir[0] == '\0') {
                snprintf(dir, cap, "/tmp/npipe-acc-XXXXXX");
                ck_assert_ptr_nonnull(mkdtemp(dir));
        }
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        snprintf(a1, sizeof a1, "--runtime-dir=%s", dir);
        argv[n++] = "npiped";
        argv[n++] = "--shared";
        argv[n++] = "--foreground";
        argv[n++] = a1;
        argv[n++] = a2;
        for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd = dup(p[1]);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                snprintf(a2, sizeof a2, "--ready-fd=%d", fd);
                execv(broker, (char *const *)argv);
                _exit(127);
        }
        close(p[1]);
        ck_assert_msg(rt_read_byte(p[0], 10000) == '1', "the broker did not become ready");
        close(p[0]);
        return pid;
}

void acc_broker_stop(pid_t pid, const char *dir)
{
        kill(pid, SIGTERM);
        ck_assert_int_ne(rt_wait_exit(pid, 10000), -1);
        rt_rmtree(dir);
}

long acc_rss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
        f = fopen(path, "r");
        if (f == NULL)
                return -1;
        while (fgets(line, sizeof line, f) != NULL)
                if (sscanf(line, "VmRSS: %ld", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

uint64_t acc_create(int s, const char *bare, size_t blen, uint32_t policy, uint32_t flags,
                    int *status, uint32_t *remote)
{
        return acc_create_gid(s, bare, blen, policy, 0, flags, status, remote);
}

uint64_t acc_create_gid(int s, const char *bare, size_t blen, uint32_t policy, uint32_t gid,
                        uint32_t flags, int *status, uint32_t *remote)
{
        struct np_create c;
        struct np_create_reply rep;
        struct rt_pkt p;
        uint32_t req;
        int seg = rt_segment(4096, 1);

        memset(&c, 0, sizeof c);
        c.params.type = NPIPE_TYPE_MESSAGE;
        c.params.dir = NPIPE_DUPLEX;
        c.params.in_quota = c.params.out_quota = 2048;
        c.params.policy = policy;
        c.params.gid = gid;
        c.flags = flags;
        c.name_len = (uint32_t)blen;
        req = rt_raw_send(s, NP_MSG_CREATE, &c, sizeof c, bare, blen, seg);
        close(seg);
        if (req == 0 || rt_raw_reply(s, req, &p, NULL, 10000) != 1) {
                *status = NPIPE_EBROKER;
                return 0;
        }
        memcpy(&rep, p.body, p.blen < sizeof rep ? p.blen : sizeof rep);
        *status = rep.status;
        if (remote != NULL)
                *remote = p.h.type == NP_MSG_CREATE_REPLY ? rep.remote : ~0u;
        return p.h.type == NP_MSG_CREATE_REPLY ? rep.instance_id : 0;
}

int acc_open(int s, const char *bare, size_t blen)
{
        struct np_open o = {.access = NP_ACCESS_READ | NP_ACCESS_WRITE, .name_len = (uint32_t)blen};
        struct rt_pkt p;
        int seg = rt_segment(65536, 0), st;
        uint32_t req = rt_raw_send(s, NP_MSG_OPEN, &o, sizeof o, bare, blen, seg);

        close(seg);
        if (req == 0 || rt_raw_reply(s, req, &p, NULL, 10000) != 1)
                return NPIPE_EBROKER;
        if (p.fd >= 0)
                close(p.fd);
        memcpy(&st, p.body, sizeof st);
        return st;
}

int acc_wait(int s, const char *bare, size_t blen, uint32_t timeout_ms)
{
        struct np_wait w;
        struct rt_pkt p;
        uint32_t req;
        int st;

        memset(&w, 0, sizeof w);
        w.timeout_ms = timeout_ms;
        w.name_len = (uint32_t)blen;
        req = rt_raw_send(s, NP_MSG_WAIT, &w, sizeof w, bare, blen, -1);
        if (req == 0 || rt_raw_reply(s, req, &p, NULL, 10000) != 1)
                return NPIPE_EBROKER;
        memcpy(&st, p.body, sizeof st);
        return st;
}

int acc_disconnect(int s, uint64_t instance_id)
{
        struct np_end_req e;
        struct rt_pkt p;
        uint32_t req;
        int st;

        memset(&e, 0, sizeof e);
        e.id = instance_id;
        req = rt_raw_send(s, NP_MSG_DISCONNECT, &e, sizeof e, NULL, 0, -1);
        if (req == 0 || rt_raw_reply(s, req, &p, NULL, 10000) != 1)
                return NPIPE_EBROKER;
        memcpy(&st, p.body, sizeof st);
        return st;
}

int acc_list(int s, const char *bare, int *found)
{
        uint32_t req = rt_raw_send(s, NP_MSG_LIST, NULL, 0, NULL, 0, -1);
        int n = 0;

        *found = 0;
        for (;;) {
                struct np_list_item it;
                struct rt_pkt p;

                if (req == 0 || rt_raw_reply(s, req, &p, NULL, 10000) != 1)
                        return NPIPE_EBROKER;
                if (p.h.type != NP_MSG_LIST_ITEM) {
                        int st;

                        memcpy(&st, p.body, sizeof st);
                        return st;
                }
                memcpy(&it, p.body, sizeof it);
                if (!(it.flags & NP_LIST_EMPTY)) {
                        n++;
                        if (bare != NULL && it.name_len == strlen(bare) &&
                            memcmp(p.body + sizeof it, bare, it.name_len) == 0)
                                *found = 1;
                }
                if (it.flags & NP_LIST_LAST)
                        return n;
        }
}

int acc_stats(int s, const char *bare, int *found)
{
        struct np_stats_req r = {0};
        uint32_t req = rt_raw_send(s, NP_MSG_STATS, &r, sizeof r, NULL, 0, -1);
        int n = 0;

        *found = 0;
        for (;;) {
                struct np_stats_item it;
                struct rt_pkt p;

                if (req == 0 || rt_raw_reply(s, req, &p, NULL, 10000) != 1)
                        return NPIPE_EBROKER;
                if (p.h.type != NP_MSG_STATS_ITEM) {
                        int st;

                        memcpy(&st, p.body, sizeof st);
                        return st;
                }
                memcpy(&it, p.body, sizeof it);
                if (it.flags & NP_STATS_BROKER)
                        return n; /* the broker's item is the last */
                n++;
                if (bare != NULL && it.name_len == strlen(bare) &&
                    memcmp(p.body + sizeof it, bare, it.name_len) == 0)
                        *found = 1;
        }
}

void acc_bg_start(struct acc_bg *bg, const struct acc_user *u, const gid_t *groups, int ngroups,
                  void (*fn)(int out, int go, void *ctx), void *ctx)
{
        int res[2], go[2];

        ck_assert_int_eq(pipe2(res, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        bg->pid = fork();
        ck_assert_int_ge(bg->pid, 0);
        if (bg->pid == 0) {
                close(res[0]);
                close(go[1]);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (setgroups((size_t)ngroups, groups) < 0 || setgid(u->gid) < 0 ||
                    setuid(u->uid) < 0 || geteuid() != u->uid)
                        _exit(3);
                fn(res[1], go[0], ctx);
                _exit(0);
        }
        close(res[1]);
        close(go[0]);
        bg->res = res[0];
        bg->go = go[1];
}

int32_t acc_bg_read(struct acc_bg *bg)
{
        int32_t v;

        ck_assert_msg(rt_read_byte(bg->res, 120000) == 'r', "no result from the user's process");
        ck_assert_int_eq(read(bg->res, &v, sizeof v), (ssize_t)sizeof v);
        return v;
}

void acc_bg_end(struct acc_bg *bg)
{
        int st;

        ck_assert_int_eq(write(bg->go, "g", 1), 1);
        close(bg->go);
        close(bg->res);
        st = rt_wait_exit(bg->pid, 60000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "the user's process failed: %#x", st);
}

void acc_hold(int go)
{
        rt_read_byte(go, 120000);
}
