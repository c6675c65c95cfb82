/*
 * conn.c - everything that is not one message after another: connection
 * set-up rate, the scale run (many idle connections under ulimit -n 1024),
 * idle CPU of a connected pair, the descriptor ceiling of the memfd design,
 * and the fast-path mode that callgrind counts.
 */
#include "bench.h"

#include <npipe/npipe.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern struct shared *g_shared;

/* ---- /proc helpers ------------------------------------------------------------------------ */

pid_t broker_pid(void)
{
        const char *dir = npipe_runtime_dir();
        if (!dir)
                return -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/npiped.sock", dir);
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        pid_t pid = -1;
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                struct ucred cr;
                socklen_t l = sizeof(cr);
                if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0)
                        pid = cr.pid;
        }
        close(s);
        return pid;
}

/* CPU time of any process (utime + stime), in ns; clock-tick resolution. */
static int64_t proc_cpu_ns(pid_t pid)
{
        char buf[1024];
        const char *p = proc_stat_fields(pid, buf, sizeof(buf));
        unsigned long ut = 0, st = 0;
        /* from state(3) on: ... utime(14) stime(15) */
        if (!p || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
                return -1;
        long hz = sysconf(_SC_CLK_TCK);
        return (int64_t)(ut + st) * (1000000000 / hz);
}

struct mem {
        long rss_kb, pss_kb;
};

static int read_mem(pid_t pid, struct mem *m)
{
        char path[64], buf[4096];
        if (pid <= 0)
                snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
        else
                snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        m->rss_kb = m->pss_kb = -1;
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        char *p = strstr(buf, "\nRss:");
        if (p)
                m->rss_kb = strtol(p + 5, NULL, 10);
        p = strstr(buf, "\nPss:");
        if (p)
                m->pss_kb = strtol(p + 5, NULL, 10);
        return m->rss_kb >= 0 && m->pss_kb >= 0 ? 0 : -1;
}

static void set_nofile(rlim_t n)
{
        struct rlimit rl = {n, n};
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                fail("setrlimit(RLIMIT_NOFILE, %lu): %s", (unsigned long)n, strerror(errno));
}

/* ---- connection set-up rate ----------------------------------------------------------------- */

#define CONN_INSTANCES 4

struct conn_srv {
        npipe_t *h[CONN_INSTANCES];
        pthread_t t[CONN_INSTANCES];
        _Atomic int stop;
        _Atomic uint64_t served;
};

static struct conn_srv *g_srv;

/* One instance: listen, wait for the client to go, disconnect, listen
 * again: the NT server loop (ConnectNamedPipe / DisconnectNamedPipe). */
static void *conn_instance(void *arg)
{
        npipe_t *h = arg;
        char b[8];
        while (!atomic_load(&g_srv->stop)) {
                int r = npipe_listen(h, NPIPE_INFINITE);
                if (r < 0 && r != NPIPE_EISCONN)
                        break;
                size_t n;
                while ((r = npipe_read(h, b, sizeof(b), &n)) == 0)
                        ;
                atomic_fetch_add(&g_srv->served, 1);
                if (npipe_disconnect(h) < 0)
                        break;
        }
        return NULL;
}

struct conn_peer {
        const char *name; /* npipe name, or AF_UNIX path */
        int unix_sock;
        int wait_only; /* npipe_wait instead of open+close: one broker round trip */
};

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static int conn_client(void *arg)
{
        struct conn_peer *cp = arg;
        size_t max = g_opts.smoke ? 50 : g_opts.conn_n;
        int64_t *lat = malloc(max * sizeof(*lat));
        shared_barrier(g_shared, 1);
        struct usage u0, u1;
        usage_now(&u0);
        int64_t start = now_ns(), end = start + (int64_t)(g_opts.seconds * 1e9);
        size_t n = 0;
        while (n < max) {
                int64_t t0 = now_ns();
                if (cp->unix_sock) {
                        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        struct sockaddr_un sa = {.sun_family = AF_UNIX};
                        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cp->name);
                        if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                                snprintf(g_shared->peer_note, sizeof(g_shared->peer_note),
                                         "connect: %s", strerror(errno));
                                g_shared->peer_status = 1;
                                break;
                        }
                        close(s);
                } else if (cp->wait_only) {
                        int r = npipe_wait(cp->name, 10000);
                        if (r < 0) {
                                snprintf(g_shared->peer_note, sizeof(g_shared->peer_note),
                                         "npipe_wait: %s", npipe_err(r));
                                g_shared->peer_status = 1;
                                break;
                        }
                } else {
                        npipe_t *h;
                        int r = npipe_open(cp->name, NPIPE_READ | NPIPE_WRITE, 10000, &h);
                        if (r < 0) {
                                snprintf(g_shared->peer_note, sizeof(g_shared->peer_note),
                                         "npipe_open: %s", npipe_err(r));
                                g_shared->peer_status = 1;
                                break;
                        }
                        npipe_close(h);
                }
                lat[n++] = now_ns() - t0;
                if ((n & 15) == 0 && now_ns() >= end)
                        break;
        }
        g_shared->peer_end_ns = now_ns();
        usage_now(&u1);
        usage_sub(&u1, &u0);
        g_shared->peer_usage = u1;
        g_shared->peer_count = n;
        /* the median open+close, for the table */
        qsort(lat, n, sizeof(*lat), cmp_i64);
        g_shared->peer_median_ns = n ? lat[n / 2] : 0;
        shared_barrier(g_shared, 1);
        free(lat);
        return g_shared->peer_status;
}

static void conn_report(const char *tr, int64_t start, struct usage *srv, int64_t broker_ns)
{
        double secs = (double)(g_shared->peer_end_ns - start) / 1e9;
        uint64_t n = g_shared->peer_count;
        int64_t med = g_shared->peer_median_ns;
        double cpu = (double)(srv->cpu_ns + g_shared->peer_usage.cpu_ns +
                              (broker_ns > 0 ? broker_ns : 0));
        out_metric(tr, -1, "connect_per_s", (double)n / secs);
        out_metric(tr, -1, "connect_median_us", (double)med / 1000.0);
        out_metric(tr, -1, "connect_cpu_us", cpu / 1000.0 / (double)n);
        if (g_opts.verbose)
                say("  connect %-10s %8.0f /s  median %.1f us  (%llu)", tr, (double)n / secs,
                    (double)med / 1000.0, (unsigned long long)n);
}

static void conn_srv_stop(struct conn_srv *srv)
{
        atomic_store(&srv->stop, 1);
        for (int i = 0; i < CONN_INSTANCES; i++)
                npipe_close(srv->h[i]);
        for (int i = 0; i < CONN_INSTANCES; i++)
                pthread_join(srv->t[i], NULL);
}

/* One timed client run against a server that is up: the server side's
 * CPU in *u (and the broker's in *broker_ns, -1 when unknown), the start
 * in *start.  Returns the client's exit status. */
static int conn_run(struct conn_peer *cp, struct usage *u, int64_t *start, int64_t *broker_ns)
{
        shared_reset(g_shared);
        pid_t pid = spawn_peer(conn_client, cp);
        pid_t bp = cp->unix_sock ? -1 : broker_pid();
        int64_t b0 = bp > 0 ? proc_cpu_ns(bp) : -1;
        shared_barrier(g_shared, 0);
        struct usage u0;
        usage_now(&u0);
        *start = now_ns();
        shared_barrier(g_shared, 0);
        usage_now(u);
        int64_t b1 = bp > 0 ? proc_cpu_ns(bp) : -1;
        int st = wait_peer(pid);
        usage_sub(u, &u0);
        *broker_ns = b0 >= 0 && b1 >= 0 ? b1 - b0 : -1;
        return st;
}

static void connect_npipe(void)
{
        struct conn_srv srv = {0};
        g_srv = &srv;
        char name[96];
        npipe_unique_name(name, sizeof(name), "conn");
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        for (int i = 0; i < CONN_INSTANCES; i++) {
                int r = npipe_create(name, &o, &srv.h[i]);
                if (r < 0)
                        fail("connect: npipe_create: %s", npipe_err(r));
        }
        for (int i = 0; i < CONN_INSTANCES; i++)
                pthread_create(&srv.t[i], NULL, conn_instance, srv.h[i]);
        /* first open+close; then, with every instance listening and nobody
         * connecting, npipe_wait alone: the broker round trip that any
         * open pays, the floor of this design */
        for (int pass = 0; pass < 2; pass++) {
                struct conn_peer cp = {name, 0, pass};
                struct usage u;
                int64_t start, broker_ns;
                if (conn_run(&cp, &u, &start, &broker_ns) != 0) {
                        conn_srv_stop(&srv);
                        fail("connect npipe: client: %s", g_shared->peer_note);
                }
                conn_report(pass ? "npipe-wait" : "npipe-msg", start, &u, broker_ns);
        }
        conn_srv_stop(&srv);
        out_note("npipe-msg", "set-up: npipe_open+npipe_close against 4 instances that "
                              "listen, read to EPIPE, disconnect and listen again");
        out_note("npipe-wait", "npipe_wait against 4 listening instances: one broker round "
                               "trip, the least any npipe_open costs");
}

static void *unix_server(void *arg)
{
        int ls = *(int *)arg;
        char b[8];
        for (;;) {
                int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
                if (s < 0)
                        break;
                while (read(s, b, sizeof(b)) > 0)
                        ;
                close(s);
        }
        return NULL;
}

static void connect_unix(void)
{
        char path[108];
        const char *dir = npipe_runtime_dir();
        snprintf(path, sizeof(path), "%s/bench-%d.sock", dir ? dir : "/tmp", (int)getpid());
        unlink(path);
        int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0)
                fail("connect: AF_UNIX listen on %s: %s", path, strerror(errno));
        pthread_t t;
        pthread_create(&t, NULL, unix_server, &ls);
        struct conn_peer cp = {path, 1, 0};
        struct usage u1;
        int64_t start, broker_ns;
        int st = conn_run(&cp, &u1, &start, &broker_ns);
        shutdown(ls, SHUT_RDWR);
        pthread_join(t, NULL);
        close(ls);
        unlink(path);
        if (st != 0)
                fail("connect AF_UNIX: client: %s", g_shared->peer_note);
        conn_report("unix-stream", start, &u1, -1);
        out_note("unix-stream", "set-up: socket+connect+close against one thread that "
                                "accepts, reads to EOF and closes");
}

void bench_connect_rate(void)
{
        /* --only names the rows: stream for AF_UNIX, npipe-msg for npipe */
        if (name_selected("stream"))
                connect_unix();
        if (name_selected("npipe-msg"))
                connect_npipe();
}

/* ---- scale: many idle connections in one process under ulimit -n 1024 ------------------- */

struct scale_ctx {
        char name[96];
        char dir[256];  /* a runtime directory of its own: a broker under the same limit */
        unsigned n;     /* connections wanted */
        unsigned warm;  /* connections made before the memory baseline */
        _Atomic unsigned *made;
};

/* Results the server child hands back (peer_* fields are the client's). */
struct scale_res {
        struct mem srv0, srv1, brk0, brk1;
        unsigned connected;
        int verified;
        int64_t t_connect_ns;
        _Atomic int verified_done; /* every connection was checked; closing follows */
        char err[128];
};

static struct scale_res *g_scale;

static void scale_setup_env(struct scale_ctx *sc)
{
        set_nofile(1024);
        setenv("NPIPE_RUNTIME_DIR", sc->dir, 1);
}

static int scale_client(void *arg)
{
        struct scale_ctx *sc = arg;
        scale_setup_env(sc);
        npipe_t **hs = calloc(sc->n, sizeof(*hs));
        unsigned n = 0;
        struct mem m0 = {0}, m1 = {0};
        int phase_done = 0;
        shared_barrier(g_shared, 1); /* the server's name exists */
        while (n < sc->n) {
                int r = npipe_open(sc->name, NPIPE_READ | NPIPE_WRITE, 20000, &hs[n]);
                if (r < 0) {
                        snprintf(g_shared->peer_note, sizeof(g_shared->peer_note),
                                 "client: npipe_open #%u: %s (%s)", n + 1, npipe_err(r),
                                 npipe_strerror(r));
                        break;
                }
                n++;
                atomic_store(sc->made, n);
                if (n == sc->warm && !phase_done) {
                        /* baseline: the library is initialised, rings mapped */
                        read_mem(0, &m0);
                        shared_barrier(g_shared, 1);
                        phase_done = 1;
                }
        }
        /* stop the server waiting for more (before the barrier below: a
         * client that failed early must not leave the server polling) */
        atomic_store(sc->made, n | 0x80000000u);
        if (!phase_done) {
                read_mem(0, &m0);
                shared_barrier(g_shared, 1);
        }
        g_shared->peer_count = n;
        shared_barrier(g_shared, 1); /* both have all connections */
        read_mem(0, &m1);
        g_shared->peer_mem[0] = m0.rss_kb;
        g_shared->peer_mem[1] = m0.pss_kb;
        g_shared->peer_mem[2] = m1.rss_kb;
        g_shared->peer_mem[3] = m1.pss_kb;
        shared_barrier(g_shared, 1); /* memory read */
        /* then prove every connection works: one 8-byte message on each */
        int bad = 0;
        for (unsigned i = 0; i < n; i++) {
                uint64_t v = i;
                size_t w;
                if (npipe_write(hs[i], &v, sizeof(v), &w) < 0 || w != sizeof(v))
                        bad++;
        }
        shared_barrier(g_shared, 1); /* the server has read them */
        int64_t tc = now_ns();
        for (unsigned i = 0; i < n; i++)
                npipe_close(hs[i]);
        g_shared->peer_end_ns = now_ns() - tc; /* closing them all */
        free(hs);
        g_shared->peer_errors = bad;
        return 0;
}

static int scale_server(void *arg)
{
        struct scale_ctx *sc = arg;
        scale_setup_env(sc);
        struct scale_res *res = g_scale;
        npipe_t **hs = calloc(sc->n, sizeof(*hs));
        /* allocated now: once the connections used up vm.max_map_count,
         * malloc may fail (it did, and the server crashed) */
        uint8_t *seen = calloc(sc->n + 1, 1);
        if (!hs || !seen) {
                snprintf(res->err, sizeof(res->err), "server: out of memory");
                return 1;
        }
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        unsigned created = 0, connected = 0;
        /* A few listening instances ahead of the client: each one holds a
         * descriptor in the broker until a client takes it.  hs[0, connected)
         * are connected, hs[connected, created) listen; which listening
         * instance a client gets is the broker's business, so every
         * pending one is polled and the connected ones move to the front. */
        const unsigned ahead = 16;
        int64_t t0 = now_ns();
        int baseline = 0;
        int r0 = npipe_create(sc->name, &o, &hs[0]);
        if (r0 < 0)
                snprintf(res->err, sizeof(res->err), "server: npipe_create: %s", npipe_err(r0));
        else
                created = 1;
        shared_barrier(g_shared, 0); /* the client may start */
        for (;;) {
                unsigned made = atomic_load(sc->made);
                int client_done = (made & 0x80000000u) != 0;
                made &= 0x7fffffffu;
                if (client_done && connected >= made)
                        break;
                while (!res->err[0] && created < sc->n && created < connected + ahead) {
                        int r = npipe_create(sc->name, &o, &hs[created]);
                        if (r < 0) {
                                snprintf(res->err, sizeof(res->err),
                                         "server: npipe_create #%u: %s (%s)", created + 1,
                                         npipe_err(r), npipe_strerror(r));
                                break;
                        }
                        created++;
                }
                unsigned before = connected;
                for (unsigned i = connected; i < created; i++) {
                        int r = npipe_listen(hs[i], 0);
                        /* ECLOSING: a client came, but its connection reads
                         * as closed -- what the library makes of one whose
                         * segment it could not map (out of mappings) */
                        if (r == 0 || r == NPIPE_EISCONN || r == NPIPE_ECLOSING) {
                                npipe_t *t = hs[connected];
                                hs[connected++] = hs[i];
                                hs[i] = t;
                                if (r == NPIPE_ECLOSING && !res->err[0])
                                        snprintf(res->err, sizeof(res->err),
                                                 "server: connection #%u arrived closed "
                                                 "(its segment could not be mapped)",
                                                 connected);
                        } else if (r != NPIPE_ETIMEDOUT && r != NPIPE_ELISTENING) {
                                snprintf(res->err, sizeof(res->err), "server: listen: %s",
                                         npipe_err(r));
                        }
                }
                if (connected == before) {
                        /* nothing new: sleep on the oldest for a moment */
                        if (connected < created)
                                (void)npipe_listen(hs[connected], 2);
                        else
                                usleep(1000);
                }
                if (!baseline && connected >= sc->warm) {
                        read_mem(0, &res->srv0);
                        read_mem(broker_pid(), &res->brk0);
                        shared_barrier(g_shared, 0);
                        baseline = 1;
                }
        }
        if (!baseline) {
                read_mem(0, &res->srv0);
                read_mem(broker_pid(), &res->brk0);
                shared_barrier(g_shared, 0);
        }
        res->t_connect_ns = now_ns() - t0;
        res->connected = connected;
        shared_barrier(g_shared, 0);
        read_mem(0, &res->srv1);
        read_mem(broker_pid(), &res->brk1);
        shared_barrier(g_shared, 0);
        /* read one message from every connection, in order */
        /* connection i of the client sent i: every value once */
        int ok = 0;
        for (unsigned i = 0; i < connected; i++) {
                uint64_t v = ~0ull;
                size_t n;
                int r = npipe_read_timeout(hs[i], &v, sizeof(v), &n, 10000);
                if (r == 0 && n == sizeof(v) && v < connected && !seen[v]) {
                        seen[v] = 1;
                        ok++;
                }
        }
        free(seen);
        res->verified = ok;
        atomic_store(&res->verified_done, 1);
        shared_barrier(g_shared, 0);
        /* unused listening instances (a client that stopped early) */
        for (unsigned i = 0; i < created; i++)
                npipe_close(hs[i]);
        free(hs);
        return 0;
}

static void rmtree(const char *dir)
{
        char cmd[512];
        /* the directory holds the broker's socket and lock only */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)!system(cmd);
}

void bench_scale(void)
{
        struct scale_ctx sc = {0};
        npipe_unique_name(sc.name, sizeof(sc.name), "scale");
        const char *base = npipe_runtime_dir();
        snprintf(sc.dir, sizeof(sc.dir), "%s/scale-%d", base ? base : "/tmp", (int)getpid());
        mkdir(sc.dir, 0700);
        sc.n = g_opts.smoke ? 300 : g_opts.scale_n;
        sc.warm = sc.n >= 1000 ? 100 : 10;
        sc.made = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        g_scale = mmap(NULL, sizeof(*g_scale), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (sc.made == MAP_FAILED || g_scale == MAP_FAILED)
                fail("mmap: %s", strerror(errno));
        memset(g_scale, 0, sizeof(*g_scale));
        atomic_store(sc.made, 0);
        shared_reset(g_shared);
        /* The server creates the name first, then the client starts. */
        pid_t srv = spawn_peer(scale_server, &sc);
        pid_t cli = spawn_peer(scale_client, &sc);
        /* Wait for both; when one dies (at the kernel's mapping limit the
         * library may abort) the other would wait at a barrier for ever:
         * it gets a few seconds, then is killed (our own child, by pid). */
        int s1 = -1, s2 = -1;
        int64_t grace = 0, close_deadline = 0;
        int close_hung = 0;
        while (s1 < 0 || s2 < 0) {
                /* Closing is not measured, but it must end: give it a minute
                 * once every connection has been checked. */
                if (!close_deadline && atomic_load(&g_scale->verified_done))
                        close_deadline = now_ns() + 60000000000ll;
                if (close_deadline && now_ns() > close_deadline) {
                        if (s1 < 0)
                                kill(cli, SIGKILL);
                        if (s2 < 0)
                                kill(srv, SIGKILL);
                        close_hung = 1;
                        close_deadline = INT64_MAX;
                }
                int st;
                pid_t w = waitpid(-1, &st, WNOHANG);
                if (w == cli || w == srv) {
                        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                        if (w == cli)
                                s1 = code;
                        else
                                s2 = code;
                        if (code != 0 && !grace)
                                grace = now_ns() + 3000000000ll;
                        continue;
                }
                if (grace && now_ns() > grace) {
                        kill(s1 < 0 ? cli : srv, SIGKILL);
                        grace = 0;
                }
                usleep(5000);
        }
        if (close_hung) {
                char what[200];
                snprintf(what, sizeof(what),
                         "scale %u: closing the connections did not finish within 60 s: killed "
                         "(client %s, server %s)",
                         sc.n, s1 == 128 + SIGKILL ? "stuck" : "done",
                         s2 == 128 + SIGKILL ? "stuck" : "done");
                out_note("npipe-msg", what);
                g_errors++;
        } else if (s1 || s2) {
                char what[160];
                snprintf(what, sizeof(what),
                         "scale %u: client exit %d, server exit %d (128+6 = SIGABRT)", sc.n, s1,
                         s2);
                out_note("npipe-msg", what);
        }
        rmtree(sc.dir);
        struct scale_res *res = g_scale;
        struct mem c0 = {g_shared->peer_mem[0], g_shared->peer_mem[1]};
        struct mem c1 = {g_shared->peer_mem[2], g_shared->peer_mem[3]};
        /* the client's count survives a server that died */
        unsigned opened = atomic_load(sc.made) & 0x7fffffffu;
        unsigned n = res->connected ? res->connected : opened;
        unsigned idle = n > sc.warm ? n - sc.warm : 0;
        out_metric("npipe-msg", -1, "scale_wanted", sc.n);
        out_metric("npipe-msg", -1, "scale_connections", n);
        out_metric("npipe-msg", -1, "scale_verified", res->verified);
        out_metric("npipe-msg", -1, "scale_client_opened", opened);
        out_metric("npipe-msg", -1, "scale_nofile", 1024);
        /* two mappings per connection in each process: this, not the
         * descriptor limit, is the ceiling above 32,000 connections */
        FILE *mf = fopen("/proc/sys/vm/max_map_count", "r");
        long maps = -1;
        if (mf) {
                if (fscanf(mf, "%ld", &maps) != 1)
                        maps = -1;
                fclose(mf);
        }
        if (maps > 0)
                out_metric("npipe-msg", -1, "scale_max_map_count", (double)maps);
        if (!close_hung && s1 == 0 && g_shared->peer_end_ns > 0)
                out_metric("npipe-msg", -1, "scale_close_s", (double)g_shared->peer_end_ns / 1e9);
        if (res->t_connect_ns > 0)
                out_metric("npipe-msg", -1, "scale_open_per_s",
                           (double)n / ((double)res->t_connect_ns / 1e9));
        if (idle > 0) {
                double rss = (double)((res->srv1.rss_kb - res->srv0.rss_kb) +
                                      (c1.rss_kb - c0.rss_kb)) * 1024.0 / idle;
                double pss = (double)((res->srv1.pss_kb - res->srv0.pss_kb) +
                                      (c1.pss_kb - c0.pss_kb)) * 1024.0 / idle;
                out_metric("npipe-msg", -1, "scale_rss_per_conn_b", rss);
                out_metric("npipe-msg", -1, "scale_pss_per_conn_b", pss);
                out_metric("npipe-msg", -1, "scale_srv_pss_per_conn_b",
                           (double)(res->srv1.pss_kb - res->srv0.pss_kb) * 1024.0 / idle);
                out_metric("npipe-msg", -1, "scale_cli_pss_per_conn_b",
                           (double)(c1.pss_kb - c0.pss_kb) * 1024.0 / idle);
                if (res->brk0.pss_kb >= 0 && res->brk1.pss_kb >= 0)
                        out_metric("npipe-msg", -1, "scale_broker_pss_per_conn_b",
                                   (double)(res->brk1.pss_kb - res->brk0.pss_kb) * 1024.0 /
                                           idle);
        }
        char note[400];
        if (n < sc.n) {
                long mmc = maps;
                snprintf(note, sizeof(note),
                         "scale: %u of %u connections; stopped by %s%s%s; vm.max_map_count %ld "
                         "(each connection maps 2 segments in each process)",
                         n, sc.n, g_shared->peer_note[0] ? g_shared->peer_note : "",
                         g_shared->peer_note[0] && res->err[0] ? "; " : "",
                         res->err[0] ? res->err : "", mmc);
                out_note("npipe-msg", note);
        }
        if (g_opts.verbose || n < sc.n)
                say("  scale  %u/%u connections, %d verified%s%s", n, sc.n, res->verified,
                    n < sc.n ? ": " : "", n < sc.n ? note : "");
        if ((!close_hung && (s1 || s2)) || (unsigned)res->verified != n ||
            g_shared->peer_errors) {
                g_errors++;
                say("npipe-bench: scale run: %d of %u connections carried their message "
                    "(client %d, server %d)", res->verified, n, s1, s2);
        }
        munmap((void *)sc.made, 4096);
        munmap(g_scale, sizeof(*g_scale));
}

/* ---- idle CPU ------------------------------------------------------------------------------ */

struct idle_ctx {
        char name[96];
        int ms;
};

static int idle_client(void *arg)
{
        struct idle_ctx *ic = arg;
        npipe_t *h;
        int r = npipe_open(ic->name, NPIPE_READ | NPIPE_WRITE, 10000, &h);
        if (r < 0) {
                g_shared->peer_status = 1;
                shared_barrier(g_shared, 1);
                return 1;
        }
        char b[64] = "x";
        size_t n;
        npipe_write(h, b, 1, &n);
        shared_barrier(g_shared, 1);
        struct usage u0, u1;
        usage_now(&u0);
        /* blocked in a read that nothing will satisfy: both ends idle */
        r = npipe_read_timeout(h, b, sizeof(b), &n, ic->ms);
        usage_now(&u1);
        usage_sub(&u1, &u0);
        g_shared->peer_usage = u1;
        g_shared->peer_status = r == NPIPE_ETIMEDOUT ? 0 : 2;
        shared_barrier(g_shared, 1);
        npipe_close(h);
        return 0;
}

void bench_idle(void)
{
        struct idle_ctx ic;
        npipe_unique_name(ic.name, sizeof(ic.name), "idle");
        ic.ms = (int)(g_opts.idle_seconds * 1000);
        npipe_t *h;
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        int r = npipe_create(ic.name, &o, &h);
        if (r < 0)
                fail("idle: npipe_create: %s", npipe_err(r));
        shared_reset(g_shared);
        pid_t pid = spawn_peer(idle_client, &ic);
        r = npipe_listen(h, 10000);
        if (r < 0 && r != NPIPE_EISCONN)
                fail("idle: listen: %s", npipe_err(r));
        char b[64];
        size_t n;
        r = npipe_read(h, b, sizeof(b), &n);
        if (r < 0)
                fail("idle: first read: %s", npipe_err(r));
        pid_t bp = broker_pid();
        shared_barrier(g_shared, 0);
        int64_t b0 = bp > 0 ? proc_cpu_ns(bp) : -1;
        struct usage u0, u1;
        usage_now(&u0);
        int64_t t0 = now_ns();
        r = npipe_read_timeout(h, b, sizeof(b), &n, ic.ms);
        int64_t t1 = now_ns();
        usage_now(&u1);
        shared_barrier(g_shared, 0);
        int64_t b1 = bp > 0 ? proc_cpu_ns(bp) : -1;
        wait_peer(pid);
        npipe_close(h);
        if (r != NPIPE_ETIMEDOUT || g_shared->peer_status)
                fail("idle: a silent pair's read ended with %s", npipe_err(r));
        usage_sub(&u1, &u0);
        double win = (double)(t1 - t0);
        double cpu = (double)(u1.cpu_ns + g_shared->peer_usage.cpu_ns);
        out_metric("npipe-msg", -1, "idle_cpu_pct", cpu / win * 100.0);
        out_metric("npipe-msg", -1, "idle_cpu_us", cpu / 1000.0);
        out_metric("npipe-msg", -1, "idle_window_s", win / 1e9);
        out_metric("npipe-msg", -1, "idle_vcsw", (double)(u1.nvcsw + g_shared->peer_usage.nvcsw));
        if (b0 >= 0 && b1 >= 0)
                out_metric("npipe-msg", -1, "idle_broker_cpu_us", (double)(b1 - b0) / 1000.0);
        if (g_opts.verbose)
                say("  idle   %.3f %% of a core over %.2f s (%.0f us)", cpu / win * 100.0,
                    win / 1e9, cpu / 1000.0);
}

/* ---- the memfd design's descriptor ceiling -------------------------------------------------- */

/* Drop every capability: as root, CAP_SYS_RESOURCE/CAP_SYS_ADMIN lift the
 * in-flight descriptor limit, and an application would not run with them. */
static void drop_caps(void)
{
        struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        memset(data, 0, sizeof(data));
        syscall(SYS_capset, &hdr, data);
}

static int ceiling_child(void *arg)
{
        int raise = *(int *)arg;
        set_nofile(1024);
        drop_caps();
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return 1;
        if (raise) {
                /* take socket memory out of the way, to find the fd limit */
                int big = 64 << 20;
                setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        }
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        unsigned limit = g_opts.smoke ? 3000 : 200000;
        unsigned n = 0;
        int err = 0;
        for (; n < limit; n++) {
                int fd = memfd_create("npb-q", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fd < 0) {
                        err = errno;
                        break;
                }
                uint64_t v = n;
                if (write(fd, &v, sizeof(v)) != sizeof(v)) {
                        err = errno;
                        close(fd);
                        break;
                }
                fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
                struct iovec iov = {&v, sizeof(v)};
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } cm;
                memset(&cm, 0, sizeof(cm));
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                                    .msg_controllen = sizeof(cm.buf)};
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
                ssize_t s = sendmsg(sv[0], &mh, MSG_NOSIGNAL);
                int e = errno;
                close(fd);
                if (s < 0) {
                        err = e;
                        break;
                }
        }
        g_shared->peer_count = n;
        snprintf(g_shared->peer_note, sizeof(g_shared->peer_note), "%s",
                 err ? strerrorname_np(err) : "no limit reached");
        close(sv[0]);
        close(sv[1]);
        return 0;
}

void bench_memfd_ceiling(void)
{
        for (int raise = 0; raise < 2; raise++) {
                shared_reset(g_shared);
                pid_t pid = spawn_peer(ceiling_child, &raise);
                wait_peer(pid);
                const char *m = raise ? "memfd_queued_max_bigbuf" : "memfd_queued_max";
                out_metric("memfd", -1, m, (double)g_shared->peer_count);
                char note[256];
                snprintf(note, sizeof(note),
                         "%s: %llu messages queued unread, then %s (RLIMIT_NOFILE 1024, no "
                         "capabilities, %s)",
                         m, (unsigned long long)g_shared->peer_count, g_shared->peer_note,
                         raise ? "SO_SNDBUF 64 MiB requested" : "default SO_SNDBUF");
                out_note("memfd", note);
                if (g_opts.verbose)
                        say("  %s", note);
        }
}

/* ---- fast path for callgrind --------------------------------------------------------------- */

struct fp_ctx {
        struct xport *x;
        size_t size;
        unsigned rounds, k;
        int go[2], back[2]; /* plain pipes: writer -> reader "go", reader -> writer "done" */
};

static int fp_reader(void *arg)
{
        struct fp_ctx *fc = arg;
        struct xport *x = fc->x;
        if (x->ops->attach(x, 1) < 0)
                return 1;
        uint8_t *buf = malloc(fc->size + 64);
        uint64_t i = 0;
        int bad = 0;
        char t;
        for (unsigned r = 0; r < fc->rounds; r++) {
                if (read(fc->go[0], &t, 1) != 1)
                        return 1;
                for (unsigned k = 0; k < fc->k; k++, i++) {
                        size_t len;
                        if (x->ops->recv(x, buf, fc->size + 64, fc->size, &len) < 0 ||
                            pattern_check(i, buf, len, fc->size) < 0)
                                bad++;
                }
                if (write(fc->back[1], "d", 1) != 1)
                        return 1;
        }
        x->ops->detach(x, 1);
        free(buf);
        return bad ? 2 : 0;
}

int bench_fastpath(const char *transport, size_t size, unsigned rounds)
{
        const struct xport_ops *ops = xport_find(transport);
        if (!ops || (size == 0 && !ops->zero_ok) || size > 65536)
                fail("fastpath: no transport %s for %zu B", transport, size);
        struct xport x = {.ops = ops, .max_msg = size, .fd = {-1, -1, -1, -1}};
        if (ops->prepare(&x) < 0)
                fail("fastpath: prepare");
        /* K messages per round, well inside the 64 KiB quota and the ring,
         * so no write waits for room and no read waits for data */
        size_t span = size + 16 + 8;
        unsigned k = (unsigned)(16384 / span);
        if (k < 1)
                k = 1;
        if (k > 64)
                k = 64;
        if (size > 16384)
                k = 1;
        struct fp_ctx fc = {&x, size, rounds, k, {-1, -1}, {-1, -1}};
        if (pipe(fc.go) < 0 || pipe(fc.back) < 0)
                fail("pipe: %s", strerror(errno));
        pid_t pid = spawn_peer(fp_reader, &fc);
        if (ops->attach(&x, 0) < 0)
                fail("fastpath: attach");
        uint64_t i = 0;
        char t;
        for (unsigned r = 0; r < rounds; r++) {
                for (unsigned j = 0; j < k; j++, i++)
                        if (ops->send(&x, pattern_msg(i), size) < 0)
                                fail("fastpath: send");
                if (write(fc.go[1], "g", 1) != 1 || read(fc.back[0], &t, 1) != 1)
                        fail("fastpath: hand-off");
        }
        int st = wait_peer(pid);
        ops->detach(&x, 0);
        printf("fastpath transport=%s size=%zu messages=%llu writer_pid=%d reader_pid=%d "
               "status=%d\n",
               transport, size, (unsigned long long)i, (int)getpid(), (int)pid, st);
        fflush(stdout);
        return st;
}
