/*
 * test_security.c - a shared broker exposed to Samba, attacked by the
 * local users it serves (issue 15).
 *
 * The deployment under attack is docs/remote.md's: one root broker,
 * `npiped --shared --samba-np-dir=DIR`, DIR root's and 0700 as smbd makes
 * it.  No smbd is needed: every attack here is on the broker and on the
 * directory, and its outcome is read off the file system and the
 * broker's replies.  The attackers are two real unprivileged users
 * (npipe-test, npipe-test2) in forked children speaking the raw protocol,
 * as a hostile program would; the tests need root (CI runs as root) and
 * are skipped (77) otherwise.
 *
 *   names       over-long UTF-8 (C0 AF is '/', C0 80 NUL) is refused before
 *               it reaches the namespace or a path; names that are legal
 *               pipes but no single file name ("..", "a/b") get no socket;
 *               the file a traversal aimed at survives
 *   squatting   Samba's own RPC pipe names are never exposed by default,
 *               whoever creates them; an unprivileged user's pipes only
 *               with --remote-allow
 *   entries     a file, a symlink, a live socket and a stale socket that
 *               the broker did not make stay untouched; a dead broker's
 *               own sockets (its registry) are removed by the next one
 *   collisions  two pipes NT tells apart each get the socket smbd opens for
 *               its own name (no user receives another's remote clients)
 *   shares      one user at its name or descriptor share; the others (and
 *               root) still create and open; memory given back
 *   visibility  list, stat, wait and open show a user only the pipes it
 *               may open
 *
 * covers: issue 15, SEC-04, NAME-02, WAIT-01
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "broker/limits.h"
#include "rt.h"
#include "users.h"

#define TEST_GROUP 4243

static struct acc_user g_a, g_b; /* two attackers */

/* The deployment: <base>/np (root 0700, Samba's np directory), a victim
 * directory beside it, and a root broker pointed at the np directory. */
struct site {
        char base[64];
        char np[96];
        char run[128];
        pid_t broker;
};

static void site_make(struct site *st)
{
        snprintf(st->base, sizeof st->base, "/tmp/npipe-sec-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(st->base));
        ck_assert_int_eq(chmod(st->base, 0755), 0);
        snprintf(st->np, sizeof st->np, "%s/np", st->base);
        ck_assert_int_eq(mkdir(st->np, 0700), 0);
        st->run[0] = '\0';
}

/* The broker with --samba-np-dir and `rules` (NULL-terminated options). */
static void site_broker(struct site *st, const char *const *rules)
{
        char opt[160];
        const char *extra[16];
        int n = 0;

        snprintf(opt, sizeof opt, "--samba-np-dir=%s", st->np);
        extra[n++] = opt;
        for (int i = 0; rules != NULL && rules[i] != NULL && n < 15; i++)
                extra[n++] = rules[i];
        extra[n] = NULL;
        st->broker = acc_broker_start(st->run, sizeof st->run, extra);
}

static void site_drop(struct site *st)
{
        char cmd[128];

        acc_broker_stop(st->broker, st->run);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", st->base);
        ck_assert_int_eq(system(cmd), 0);
}

/* Is there an entry `name` in the np directory (and is it a socket)? */
static int np_entry(const struct site *st, const char *name, int *is_sock)
{
        char path[512];
        struct stat s;

        snprintf(path, sizeof path, "%s/%s", st->np, name);
        if (lstat(path, &s) < 0)
                return 0;
        if (is_sock != NULL)
                *is_sock = S_ISSOCK(s.st_mode);
        return 1;
}

static int has_socket(const struct site *st, const char *name)
{
        int sock = 0;

        return np_entry(st, name, &sock) && sock;
}

/* Every entry of a directory (for "nothing else appeared"). */
static int count_entries(const char *dir)
{
        char cmd[256], buf[32];
        FILE *f;
        int n = -1;

        snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
        f = popen(cmd, "r");
        if (f != NULL && fgets(buf, sizeof buf, f) != NULL)
                n = atoi(buf);
        if (f != NULL)
                pclose(f);
        return n;
}

/* ---- names ------------------------------------------------------------------ */

struct names_ctx {
        const char *run;
};

/* The names of the traversal attempts, each as a raw client sends it. */
static const struct {
        const char *bytes;
        int expect; /* create status */
} attack_names[] = {
    {"..\xC0\xAFvictim\xC0\xAFprecious.txt", NPIPE_EBADNAME}, /* over-long '/' */
    {"x\xC0\x80y", NPIPE_EBADNAME},                           /* over-long NUL */
    {"\xE0\x80\xAF..\xE0\x80\xAF", NPIPE_EBADNAME},           /* 3-byte '/' */
    {"\xED\xA0\x80", NPIPE_EBADNAME},                         /* a surrogate */
    {"../victim/precious.txt", 0}, /* a legal NT name; no single file name */
    {"..", 0},
    {".", 0},
};
#define N_ATTACKS (sizeof attack_names / sizeof attack_names[0])

static void names_user(int out, void *arg)
{
        struct names_ctx *c = arg;
        int s = rt_raw_connect(c->run), st;
        uint32_t remote;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        for (size_t i = 0; i < N_ATTACKS; i++) {
                const char *n = attack_names[i].bytes;

                acc_create(s, n, strlen(n), NPIPE_ACCESS_EVERYONE, 0, &st, &remote);
                acc_put(out, st);
                acc_put(out, st == 0 ? (int32_t)remote : -1);
        }
        /* the other requests that carry a name refuse it the same way */
        acc_put(out, acc_open(s, attack_names[0].bytes, strlen(attack_names[0].bytes)));
        acc_put(out, acc_wait(s, attack_names[0].bytes, strlen(attack_names[0].bytes), 0));
        close(s);
}

/* covers: issue 15 (names: over-long UTF-8, traversal; the file survives) */
START_TEST(test_traversal)
{
        static const char *const everyone[] = {"--remote-allow=*", NULL};
        struct site st;
        struct names_ctx c;
        char victim[128], precious[160], buf[64];
        int32_t res[2 + 2 * N_ATTACKS + 2];
        struct stat before, after;
        int fd, n;

        site_make(&st);
        snprintf(victim, sizeof victim, "%s/victim", st.base);
        ck_assert_int_eq(mkdir(victim, 0700), 0);
        snprintf(precious, sizeof precious, "%s/precious.txt", victim);
        fd = open(precious, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "root's own\n", 11), 11);
        close(fd);
        ck_assert_int_eq(lstat(precious, &before), 0);
        /* the worst case: the administrator lets everybody's pipes out */
        site_broker(&st, everyone);

        c.run = st.run;
        n = acc_as(&g_a, NULL, 0, names_user, &c, res, (int)(sizeof res / sizeof res[0]));
        ck_assert_int_eq(n, 1 + 2 * (int)N_ATTACKS + 2);
        ck_assert_int_eq(res[0], 0);
        for (size_t i = 0; i < N_ATTACKS; i++) {
                ck_assert_msg(res[1 + 2 * i] == attack_names[i].expect, "name %zu: create gave %s",
                              i, npipe_err_name(res[1 + 2 * i]));
                if (attack_names[i].expect == 0)
                        ck_assert_int_eq(res[2 + 2 * i], NP_REMOTE_BAD_NAME);
        }
        ck_assert_int_eq(res[1 + 2 * N_ATTACKS], NPIPE_EBADNAME);
        ck_assert_int_eq(res[2 + 2 * N_ATTACKS], NPIPE_EBADNAME);

        /* the file is there, the same file, unchanged; nothing was made
         * beside it or in the np directory */
        ck_assert_int_eq(lstat(precious, &after), 0);
        ck_assert(S_ISREG(after.st_mode));
        ck_assert_uint_eq(after.st_ino, before.st_ino);
        fd = open(precious, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, buf, sizeof buf), 11);
        close(fd);
        ck_assert_int_eq(memcmp(buf, "root's own\n", 11), 0);
        ck_assert_int_eq(count_entries(victim), 1);
        ck_assert_int_eq(count_entries(st.np), 0);
        ck_assert_int_eq(count_entries(st.base), 2); /* np, victim */
        site_drop(&st);
}
END_TEST

/* ---- who is exposed ------------------------------------------------------------ */

static const char *const samba_names[] = {"lsarpc", "SAMR",    "netlogon", "srvsvc",
                                          "winreg", "spoolss", "wkssvc"};
#define N_SAMBA (sizeof samba_names / sizeof samba_names[0])

struct squat_ctx {
        const char *run;
        const char *mine; /* an ordinary name to create too */
};

/* Create every Samba name and `mine`, and hold them until released. */
static void squat_user(int out, int go, void *arg)
{
        struct squat_ctx *c = arg;
        int s = rt_raw_connect(c->run), st;
        uint32_t remote;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        for (size_t i = 0; i < N_SAMBA; i++) {
                acc_create(s, samba_names[i], strlen(samba_names[i]), NPIPE_ACCESS_EVERYONE, 0, &st,
                           &remote);
                acc_put(out, st == 0 ? (int32_t)remote : st);
        }
        acc_create(s, c->mine, strlen(c->mine), NPIPE_ACCESS_EVERYONE, 0, &st, &remote);
        acc_put(out, st == 0 ? (int32_t)remote : st);
        acc_hold(go);
        close(s);
}

/* The user's verdicts in res[0..N_SAMBA] (Samba names, then `mine`), and
 * which sockets existed in the np directory while it held them. */
static void squat_and_look(struct site *st, const char *mine, int32_t *res, int *mine_sock)
{
        struct squat_ctx c = {.run = st->run, .mine = mine};
        struct acc_bg bg;
        char low[64];

        acc_bg_start(&bg, &g_a, NULL, 0, squat_user, &c);
        ck_assert_int_eq(acc_bg_read(&bg), 0);
        for (size_t i = 0; i <= N_SAMBA; i++)
                res[i] = acc_bg_read(&bg);
        for (size_t i = 0; i < N_SAMBA; i++) {
                size_t k;

                for (k = 0; samba_names[i][k] != '\0' && k < sizeof low - 1; k++)
                        low[k] = (char)(samba_names[i][k] | 0x20);
                low[k] = '\0';
                ck_assert_int_eq(has_socket(st, low), res[i] == NP_REMOTE_EXPOSED);
        }
        *mine_sock = has_socket(st, mine);
        ck_assert_int_eq(*mine_sock, res[N_SAMBA] == NP_REMOTE_EXPOSED);
        acc_bg_end(&bg);
}

/* covers: issue 15 (squatting: Samba's RPC names and unprivileged users'
 * pipes are not exposed by default) */
START_TEST(test_squatting)
{
        static const char *const dflt[] = {NULL};
        static const char *const everyone[] = {"--remote-allow=*", NULL};
        static const char *const spool[] = {"--remote-allow=*", "--remote-allow-reserved=spoolss",
                                            NULL};
        int32_t res[N_SAMBA + 1];
        struct site st;
        int mine, s, status;
        uint32_t remote;

        /* the default policy: an unprivileged user's pipes stay local */
        site_make(&st);
        site_broker(&st, dflt);
        squat_and_look(&st, "myapp", res, &mine);
        for (size_t i = 0; i < N_SAMBA; i++)
                ck_assert_msg(res[i] == NP_REMOTE_RESERVED, "%s: remote %d", samba_names[i],
                              res[i]);
        ck_assert_int_eq(res[N_SAMBA], NP_REMOTE_NOT_ALLOWED);
        ck_assert(!mine);
        ck_assert_int_eq(count_entries(st.np), 0);
        /* root's own pipes are exposed, but a Samba name not even for root */
        s = rt_raw_connect(st.run);
        ck_assert_int_ge(s, 0);
        acc_create(s, "rootapp", 7, NPIPE_ACCESS_OWNER, 0, &status, &remote);
        ck_assert_int_eq(status, 0);
        ck_assert_int_eq(remote, NP_REMOTE_EXPOSED);
        ck_assert(has_socket(&st, "rootapp"));
        acc_create(s, "LsaRpc", 6, NPIPE_ACCESS_OWNER, 0, &status, &remote);
        ck_assert_int_eq(status, 0);
        ck_assert_int_eq(remote, NP_REMOTE_RESERVED);
        ck_assert(!np_entry(&st, "lsarpc", NULL));
        close(s);
        site_drop(&st);

        /* everybody allowed: still no Samba name */
        site_make(&st);
        site_broker(&st, everyone);
        squat_and_look(&st, "myapp", res, &mine);
        for (size_t i = 0; i < N_SAMBA; i++)
                ck_assert_int_eq(res[i], NP_REMOTE_RESERVED);
        ck_assert(mine);
        site_drop(&st);

        /* the administrator names one: that one only */
        site_make(&st);
        site_broker(&st, spool);
        squat_and_look(&st, "myapp", res, &mine);
        for (size_t i = 0; i < N_SAMBA; i++)
                ck_assert_int_eq(res[i], strcmp(samba_names[i], "spoolss") == 0
                                             ? NP_REMOTE_EXPOSED
                                             : NP_REMOTE_RESERVED);
        site_drop(&st);
}
END_TEST

struct allow_ctx {
        const char *run;
};

static void allow_user(int out, void *arg)
{
        struct allow_ctx *c = arg;
        int s = rt_raw_connect(c->run), st;
        uint32_t remote;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        acc_create(s, "App-One", 7, NPIPE_ACCESS_EVERYONE, 0, &st, &remote);
        acc_put(out, st == 0 ? (int32_t)remote : st);
        acc_create(s, "other", 5, NPIPE_ACCESS_EVERYONE, 0, &st, &remote);
        acc_put(out, st == 0 ? (int32_t)remote : st);
        close(s);
}

/* covers: issue 15 (--remote-allow by user, group and name pattern) */
START_TEST(test_allow_rules)
{
        char by_user[96], by_group[96];
        const char *rules[3] = {by_user, NULL, NULL};
        struct allow_ctx c;
        struct site st;
        int32_t res[3];
        gid_t grp = TEST_GROUP;

        /* user npipe-test, names app-* only */
        snprintf(by_user, sizeof by_user, "--remote-allow=%s:app-*", g_a.name);
        site_make(&st);
        site_broker(&st, rules);
        c.run = st.run;
        ck_assert_int_eq(acc_as(&g_a, NULL, 0, allow_user, &c, res, 3), 3);
        ck_assert_int_eq(res[1], NP_REMOTE_EXPOSED);
        ck_assert_int_eq(res[2], NP_REMOTE_NOT_ALLOWED);
        /* the other user: nothing */
        ck_assert_int_eq(acc_as(&g_b, NULL, 0, allow_user, &c, res, 3), 3);
        ck_assert_int_eq(res[1], NP_REMOTE_NOT_ALLOWED);
        ck_assert_int_eq(res[2], NP_REMOTE_NOT_ALLOWED);
        site_drop(&st);

        /* a group (supplementary): its members, any name */
        snprintf(by_group, sizeof by_group, "--remote-allow=@%d", TEST_GROUP);
        rules[0] = by_group;
        site_make(&st);
        site_broker(&st, rules);
        c.run = st.run;
        ck_assert_int_eq(acc_as(&g_b, &grp, 1, allow_user, &c, res, 3), 3);
        ck_assert_int_eq(res[1], NP_REMOTE_EXPOSED);
        ck_assert_int_eq(res[2], NP_REMOTE_EXPOSED);
        ck_assert_int_eq(acc_as(&g_b, NULL, 0, allow_user, &c, res, 3), 3);
        ck_assert_int_eq(res[1], NP_REMOTE_NOT_ALLOWED);
        site_drop(&st);
}
END_TEST

/* ---- entries the broker did not make -------------------------------------------- */

struct entries_ctx {
        const char *run;
};

static const char *const entry_names[] = {"victimfile", "victimlink", "stale", "live"};
#define N_ENTRIES 4

static void entries_user(int out, void *arg)
{
        struct entries_ctx *c = arg;
        int s = rt_raw_connect(c->run), st;
        uint32_t remote;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        for (int i = 0; i < N_ENTRIES; i++) {
                acc_create(s, entry_names[i], strlen(entry_names[i]), NPIPE_ACCESS_EVERYONE, 0, &st,
                           &remote);
                acc_put(out, st == 0 ? (int32_t)remote : st);
        }
        close(s);
}

static int unix_socket_at(const char *path, int listen_too)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        if (listen_too)
                ck_assert_int_eq(listen(fd, 4), 0);
        return fd;
}

/* covers: issue 15 (entries in the np directory: never removed unless the
 * broker's registry names them; a dead broker's sockets are) */
START_TEST(test_np_entries)
{
        static const char *const everyone[] = {"--remote-allow=*", NULL};
        char path[N_ENTRIES][256], target[160], link_to[256];
        struct stat before[N_ENTRIES], after;
        struct entries_ctx c;
        struct site st;
        int32_t res[1 + N_ENTRIES];
        int fd, live, s, status;
        uint32_t remote;
        ssize_t n;

        site_make(&st);
        for (int i = 0; i < N_ENTRIES; i++)
                snprintf(path[i], sizeof path[i], "%s/%s", st.np, entry_names[i]);
        snprintf(target, sizeof target, "%s/target", st.base);
        fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        fd = open(path[0], O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "x", 1), 1);
        close(fd);
        ck_assert_int_eq(symlink(target, path[1]), 0);
        close(unix_socket_at(path[2], 0)); /* stale: nobody accepts */
        live = unix_socket_at(path[3], 1);
        for (int i = 0; i < N_ENTRIES; i++)
                ck_assert_int_eq(lstat(path[i], &before[i]), 0);

        site_broker(&st, everyone);
        c.run = st.run;
        ck_assert_int_eq(acc_as(&g_a, NULL, 0, entries_user, &c, res, 1 + N_ENTRIES),
                         1 + N_ENTRIES);
        for (int i = 0; i < N_ENTRIES; i++) {
                ck_assert_msg(res[1 + i] == NP_REMOTE_TAKEN, "%s: remote %d", entry_names[i],
                              res[1 + i]);
                ck_assert_int_eq(lstat(path[i], &after), 0);
                ck_assert_uint_eq(after.st_ino, before[i].st_ino);
                ck_assert_uint_eq(after.st_mode, before[i].st_mode);
        }
        n = readlink(path[1], link_to, sizeof link_to - 1);
        ck_assert_int_gt(n, 0);
        link_to[n] = '\0';
        ck_assert_str_eq(link_to, target);

        /* The broker's own socket outlives a broker killed with SIGKILL;
         * the next broker of this runtime directory removes it (it is in
         * the registry and nobody accepts on it), and nothing else. */
        s = rt_raw_connect(st.run);
        ck_assert_int_ge(s, 0);
        acc_create(s, "crashme", 7, NPIPE_ACCESS_OWNER, 0, &status, &remote);
        ck_assert_int_eq(status, 0);
        ck_assert_int_eq(remote, NP_REMOTE_EXPOSED);
        ck_assert(has_socket(&st, "crashme"));
        /* Kill while the creator is still connected: once its connection
         * closes, a live broker removes the pipe and its socket itself. */
        rt_kill_reap(st.broker);
        close(s);
        ck_assert(has_socket(&st, "crashme"));
        site_broker(&st, everyone);
        ck_assert(!np_entry(&st, "crashme", NULL));
        for (int i = 0; i < N_ENTRIES; i++) {
                ck_assert_int_eq(lstat(path[i], &after), 0);
                ck_assert_uint_eq(after.st_ino, before[i].st_ino);
        }
        close(live);
        site_drop(&st);
}
END_TEST

/* ---- collisions ------------------------------------------------------------------ */

struct hold_ctx {
        const char *run;
        const char *name; /* one pipe; NULL: flood until the broker refuses */
        int listening;    /* flood: keep each instance listening (a descriptor each) */
};

/* Create c->name (or flood), report, and hold it all until released. */
static void hold_user(int out, int go, void *arg)
{
        struct hold_ctx *c = arg;
        int s = rt_raw_connect(c->run), st = 0;
        uint32_t remote = 0;
        int32_t made = 0;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        if (c->name != NULL) {
                acc_create(s, c->name, strlen(c->name), NPIPE_ACCESS_EVERYONE, 0, &st, &remote);
                acc_put(out, st == 0 ? (int32_t)remote : st);
        } else {
                for (;;) {
                        char name[64];
                        int n = snprintf(name, sizeof name, "flood-%d", made);
                        uint64_t id =
                            acc_create(s, name, (size_t)n, NPIPE_ACCESS_OWNER, 0, &st, NULL);

                        if (st != 0)
                                break;
                        /* create + disconnect: the segment goes, the name stays */
                        if (!c->listening && (st = acc_disconnect(s, id)) != 0)
                                break;
                        if (++made > 500000)
                                break;
                }
                acc_put(out, made);
                acc_put(out, st);
        }
        acc_hold(go);
        close(s);
}

/* The user's pipe `a` is held while root creates `b`: another pipe for NT.
 * Each must get the socket smbd opens for its own name (`sock_a`,
 * `sock_b`): before issue 15 both mapped to one socket, and the first
 * creator received the other's remote clients. */
static void two_pipes(struct site *st, const char *a, const char *sock_a, const char *b,
                      const char *sock_b)
{
        struct hold_ctx c = {.run = st->run, .name = a};
        struct acc_bg bg;
        int s, status;
        uint32_t remote;

        acc_bg_start(&bg, &g_a, NULL, 0, hold_user, &c);
        ck_assert_int_eq(acc_bg_read(&bg), 0);
        ck_assert_int_eq(acc_bg_read(&bg), NP_REMOTE_EXPOSED);
        ck_assert_msg(has_socket(st, sock_a), "the user's pipe has no socket %s", sock_a);

        s = rt_raw_connect(st->run);
        ck_assert_int_ge(s, 0);
        acc_create(s, b, strlen(b), NPIPE_ACCESS_OWNER, 0, &status, &remote);
        ck_assert_int_eq(status, 0); /* another pipe for NT: not the user's */
        ck_assert_int_eq(remote, NP_REMOTE_EXPOSED);
        ck_assert_msg(has_socket(st, sock_b), "root's pipe has no socket %s", sock_b);
        ck_assert_str_ne(sock_a, sock_b);
        acc_bg_end(&bg);
        close(s);
}

/* covers: issue 15 (names that differ for NT get different sockets, named
 * as smbd looks them up), NAME-02 (NT's upcase: KELVIN SIGN is not K) */
START_TEST(test_collisions)
{
        static const char *const everyone[] = {"--remote-allow=*", NULL};
        struct site st;

        site_make(&st);
        site_broker(&st, everyone);
        /* U+212A KELVIN SIGN: Samba's lower-casing leaves it as it is */
        two_pipes(&st,
                  "\xE2\x84\xAA"
                  "elvin",
                  "\xE2\x84\xAA"
                  "elvin",
                  "Kelvin", "kelvin");
        /* U+0130: likewise */
        two_pipes(&st, "W\xC4\xB0nfoo", "w\xC4\xB0nfoo", "WINFOO", "winfoo");
        site_drop(&st);
}
END_TEST

/* ---- shares -------------------------------------------------------------------------- */

struct other_ctx {
        const char *run;
        int64_t ms; /* the slowest request */
};

static void other_user(int out, void *arg)
{
        struct other_ctx *c = arg;
        int s = rt_raw_connect(c->run), st;
        int64_t t0 = rt_now_ms(), slowest;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        acc_create(s, "others-pipe", 11, NPIPE_ACCESS_OWNER, 0, &st, NULL);
        acc_put(out, st);
        acc_put(out, acc_open(s, "others-pipe", 11));
        slowest = rt_now_ms() - t0;
        acc_put(out, (int32_t)slowest);
        close(s);
}

/* While the flooder holds its share: another user and root create and open. */
static void others_get_in(const char *run)
{
        struct other_ctx oc = {.run = run};
        int32_t res[4];
        int s, st;

        ck_assert_int_eq(acc_as(&g_b, NULL, 0, other_user, &oc, res, 4), 4);
        ck_assert_int_eq(res[0], 0);
        ck_assert_int_eq(res[1], 0);
        ck_assert_int_eq(res[2], 0);
        ck_assert_msg(res[3] < 1000, "the other user waited %d ms", res[3]);
        s = rt_raw_connect(run);
        ck_assert_int_ge(s, 0);
        acc_create(s, "roots-pipe", 10, NPIPE_ACCESS_OWNER, 0, &st, NULL);
        ck_assert_int_eq(st, 0);
        ck_assert_int_eq(acc_open(s, "roots-pipe", 10), 0);
        close(s);
}

/* covers: issue 15 (shares: names; the others and root still get in;
 * memory given back when the names go) */
START_TEST(test_share_names)
{
        char run[128] = "";
        pid_t broker = acc_broker_start(run, sizeof run, NULL);
        struct hold_ctx c = {.run = run, .name = NULL, .listening = 0};
        long rss0, rss_peak, rss_after;
        struct acc_bg bg;
        int32_t made;
        int s, found;

        rss0 = acc_rss_kib(broker);
        acc_bg_start(&bg, &g_a, NULL, 0, hold_user, &c);
        ck_assert_int_eq(acc_bg_read(&bg), 0);
        made = acc_bg_read(&bg);
        ck_assert_int_eq(acc_bg_read(&bg), NPIPE_ELIMIT);
        ck_assert_int_eq(made, (int32_t)(NP_LIM_PIPES / NP_LIM_UID_SHARE));
        rss_peak = acc_rss_kib(broker);
        others_get_in(run);
        acc_bg_end(&bg);

        /* the names go with the flooder's socket; then the memory */
        s = rt_raw_connect(run);
        ck_assert_int_ge(s, 0);
        {
                int64_t end = rt_now_ms() + 20000;

                while (acc_list(s, NULL, &found) > 1 && rt_now_ms() < end)
                        ;
        }
        rss_after = acc_rss_kib(broker);
        fprintf(stderr,
                "# broker RSS: %ld KiB before, %ld KiB with %d names, %ld KiB after they went\n",
                rss0, rss_peak, made, rss_after);
#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
        /* ASan's allocator keeps freed memory in quarantine: no figure to
         * judge here */
        (void)rss_peak;
#define SEC_RSS_CHECKED 0
#endif
#endif
#ifndef SEC_RSS_CHECKED
        ck_assert_msg(rss_after - rss0 < (rss_peak - rss0) / 4,
                      "RSS %ld -> %ld -> %ld KiB: not given back", rss0, rss_peak, rss_after);
#endif
        close(s);
        acc_broker_stop(broker, run);
}
END_TEST

/* covers: issue 15 (shares: descriptors; the others and root still get in
 * while one user holds its share of listening instances) */
START_TEST(test_share_fds)
{
        char run[128] = "";
        pid_t broker = acc_broker_start(run, sizeof run, NULL);
        struct hold_ctx c = {.run = run, .name = NULL, .listening = 1};
        struct acc_bg bg;
        int32_t made;

        acc_bg_start(&bg, &g_a, NULL, 0, hold_user, &c);
        ck_assert_int_eq(acc_bg_read(&bg), 0);
        made = acc_bg_read(&bg);
        ck_assert_int_eq(acc_bg_read(&bg), NPIPE_ELIMIT);
        fprintf(stderr, "# one user holds %d listening instances (its descriptor share)\n", made);
        ck_assert_int_gt(made, 100);
        others_get_in(run);
        acc_bg_end(&bg);
        acc_broker_stop(broker, run);
}
END_TEST

/* ---- visibility ----------------------------------------------------------------------- */

struct vis_ctx {
        const char *run;
};

static void vis_user(int out, void *arg)
{
        struct vis_ctx *c = arg;
        int s = rt_raw_connect(c->run), found;

        acc_put(out, s < 0 ? s : 0);
        if (s < 0)
                return;
        acc_put(out, acc_list(s, "secret", &found));
        acc_put(out, found);
        acc_list(s, "pub", &found);
        acc_put(out, found);
        acc_list(s, "grp", &found);
        acc_put(out, found);
        acc_stats(s, "secret", &found);
        acc_put(out, found);
        acc_stats(s, "pub", &found);
        acc_put(out, found);
        acc_put(out, acc_open(s, "secret", 6));
        acc_put(out, acc_wait(s, "secret", 6, 0));
        acc_put(out, acc_open(s, "grp", 3));
        acc_put(out, acc_open(s, "pub", 3));
        close(s);
}

/* covers: issue 15 (information: list, stat, wait, open), SEC-04, WAIT-01 */
START_TEST(test_visibility)
{
        char run[128] = "";
        pid_t broker = acc_broker_start(run, sizeof run, NULL);
        struct vis_ctx c = {.run = run};
        gid_t grp = TEST_GROUP;
        int32_t res[12];
        int s, st;

        s = rt_raw_connect(run);
        ck_assert_int_ge(s, 0);
        acc_create(s, "secret", 6, NPIPE_ACCESS_OWNER, 0, &st, NULL);
        ck_assert_int_eq(st, 0);
        acc_create(s, "pub", 3, NPIPE_ACCESS_EVERYONE, 0, &st, NULL);
        ck_assert_int_eq(st, 0);
        acc_create_gid(s, "grp", 3, NPIPE_ACCESS_GROUP, TEST_GROUP, 0, &st, NULL);
        ck_assert_int_eq(st, 0);

        /* not in the group */
        ck_assert_int_eq(acc_as(&g_b, NULL, 0, vis_user, &c, res, 11), 11);
        ck_assert_int_eq(res[1], 1); /* pub only */
        ck_assert_int_eq(res[2], 0);
        ck_assert_int_eq(res[3], 1);
        ck_assert_int_eq(res[4], 0);
        ck_assert_int_eq(res[5], 0); /* stat: not secret */
        ck_assert_int_eq(res[6], 1);
        ck_assert_int_eq(res[7], NPIPE_ENOENT); /* open secret: as if missing */
        ck_assert_int_eq(res[8], NPIPE_ENOENT); /* wait secret */
        ck_assert_int_eq(res[9], NPIPE_ENOENT); /* open grp */
        ck_assert_int_eq(res[10], 0);           /* open pub */
        /* a member sees the group's pipe */
        ck_assert_int_eq(acc_as(&g_b, &grp, 1, vis_user, &c, res, 11), 11);
        ck_assert_int_eq(res[1], 2);
        ck_assert_int_eq(res[4], 1);
        /* root sees everything */
        {
                int found;

                ck_assert_int_eq(acc_list(s, "secret", &found), 3);
                ck_assert_int_eq(found, 1);
        }
        close(s);
        acc_broker_stop(broker, run);
}
END_TEST

int main(void)
{
        const char *why = acc_user_get("npipe-test", &g_a);
        Suite *s;
        TCase *tc;
        SRunner *sr;
        int failed;

        if (why == NULL)
                why = acc_user_get("npipe-test2", &g_b);
        if (why != NULL) {
                printf("SKIP: %s\n", why);
                return 77;
        }
        s = suite_create("security");
        tc = tcase_create("issue15");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_traversal);
        tcase_add_test(tc, test_squatting);
        tcase_add_test(tc, test_allow_rules);
        tcase_add_test(tc, test_np_entries);
        tcase_add_test(tc, test_collisions);
        tcase_add_test(tc, test_share_names);
        tcase_add_test(tc, test_share_fds);
        tcase_add_test(tc, test_visibility);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
