/*
 * harness.c - see harness.h.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- runtime directory ---------------------------------------------------- */

/* The runner (Check's parent process, which never calls npipe) makes one
 * base directory; every test process makes its own directory inside it.
 * The runner removes the whole tree when all tests are over: a test
 * process cannot safely remove its own directory at exit, because its
 * library may still be running (an event thread that sees the broker go
 * away recreates the directory and restarts a broker). */
static char base_dir[64];
static pid_t base_owner;
static char runtime_dir[128];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

static void base_cleanup(void)
{
        if (base_dir[0] && base_owner == getpid())
                nftw(base_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void make_base(void)
{
        if (base_dir[0])
                return;
        strcpy(base_dir, "/tmp/npipe-test-XXXXXX");
        if (!mkdtemp(base_dir)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                abort();
        }
        chmod(base_dir, 0700);
        base_owner = getpid();
        atexit(base_cleanup);
}

void h_private_runtime(void)
{
        make_base(); /* normally done by h_run() in the runner already */
        snprintf(runtime_dir, sizeof(runtime_dir), "%s/t-XXXXXX", base_dir);
        if (!mkdtemp(runtime_dir)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                abort();
        }
        chmod(runtime_dir, 0700);
        setenv("NPIPE_RUNTIME_DIR", runtime_dir, 1);
}

const char *h_runtime_dir(void)
{
        return runtime_dir;
}

TCase *h_tcase(const char *name, int timeout_s)
{
        TCase *tc = tcase_create(name);
        /* checked: runs in each test's own process, so every test function
         * gets its own directory and broker */
        tcase_add_checked_fixture(tc, h_private_runtime, NULL);
        tcase_set_timeout(tc, timeout_s);
        return tc;
}

int h_run(Suite *s)
{
        /* SIGPIPE must never kill a test: npipe reports broken pipes as
         * status codes (and uses MSG_NOSIGNAL), but a test bug should not
         * turn into a silent signal death either. */
        signal(SIGPIPE, SIG_IGN);
        make_base();
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- names ------------------------------------------------------------------ */

char *h_name(char *buf, size_t len, const char *tag)
{
        static unsigned counter;
        snprintf(buf, len, "\\\\.\\pipe\\npt-%d-%u-%s", (int)getpid(), ++counter, tag);
        return buf;
}

/* ---- pipes ------------------------------------------------------------------ */

void h_opts(struct npipe_server_opts *o, enum npipe_type type, uint32_t flags)
{
        npipe_server_opts_init(o);
        o->type = type;
        o->flags = flags;
}

npipe_t *h_create(const char *name, const struct npipe_server_opts *o)
{
        npipe_t *h = NULL;
        ck_assert_status(npipe_create(name, o, &h), NPIPE_OK);
        ck_assert_ptr_nonnull(h);
        return h;
}

npipe_t *h_server(const char *name, enum npipe_type type, uint32_t flags)
{
        struct npipe_server_opts o;
        h_opts(&o, type, flags);
        return h_create(name, &o);
}

npipe_t *h_client(const char *name, unsigned access)
{
        npipe_t *h = NULL;
        ck_assert_status(npipe_open(name, access, 0, &h), NPIPE_OK);
        ck_assert_ptr_nonnull(h);
        return h;
}

void h_set_read_mode(npipe_t *h, enum npipe_read_mode m)
{
        ck_assert_status(npipe_set_mode(h, &m, NULL), NPIPE_OK);
}

void h_set_nowait(npipe_t *h, int nowait)
{
        ck_assert_status(npipe_set_mode(h, NULL, &nowait), NPIPE_OK);
}

void h_pair(const char *name, enum npipe_type type, uint32_t flags, int cli_msg, npipe_t **srv,
            npipe_t **cli)
{
        *srv = h_server(name, type, flags);
        *cli = h_client(name, NPIPE_READ | NPIPE_WRITE);
        if (cli_msg)
                h_set_read_mode(*cli, NPIPE_READ_MESSAGE);
}

int h_state(npipe_t *h)
{
        struct npipe_info info;
        int r = npipe_get_info(h, &info);
        return r < 0 ? r : (int)info.state;
}

void h_pattern(void *buf, size_t n, unsigned seed)
{
        uint8_t *p = buf;
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                p[i] = (uint8_t)(x >> 16);
        }
}

int h_pattern_ok(const void *buf, size_t n, unsigned seed)
{
        const uint8_t *p = buf;
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                if (p[i] != (uint8_t)(x >> 16))
                        return 0;
        }
        return 1;
}

/* ---- time --------------------------------------------------------------------------- */

int64_t h_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_pause(void)
{
        poll(NULL, 0, 1);
}

/* ---- operations in a thread --------------------------------------------------------- */

static void *op_main(void *arg)
{
        struct h_op *op = arg;
        op->t_start = h_now_ms();
        op->status = op->fn(op);
        op->t_end = h_now_ms();
        char b = 1;
        while (write(op->notify[1], &b, 1) < 0 && errno == EINTR)
                ;
        return NULL;
}

void h_op_start(struct h_op *op, h_op_fn fn)
{
        op->fn = fn;
        op->status = 0x7fffffff;
        op->joined = 0;
        ck_assert_int_eq(pipe2(op->notify, O_CLOEXEC), 0);
        ck_assert_int_eq(pthread_create(&op->thread, NULL, op_main, op), 0);
}

static int op_poll(struct h_op *op, int ms)
{
        struct pollfd p = {.fd = op->notify[0], .events = POLLIN};
        int r;
        int64_t end = h_now_ms() + ms;
        do {
                int64_t left = end - h_now_ms();
                r = poll(&p, 1, left > 0 ? (int)left : 0);
        } while (r < 0 && errno == EINTR);
        return r > 0;
}

int h_op_blocked(struct h_op *op, int ms)
{
        return !op_poll(op, ms);
}

int h_op_finish(struct h_op *op, int ms)
{
        if (op->joined)
                return 1;
        if (!op_poll(op, ms))
                return 0;
        pthread_join(op->thread, NULL);
        close(op->notify[0]);
        close(op->notify[1]);
        op->joined = 1;
        return 1;
}

int h_op_read(struct h_op *op)
{
        return npipe_read(op->h, op->buf, op->len, &op->n);
}

int h_op_write(struct h_op *op)
{
        return npipe_write(op->h, op->in, op->in_len, &op->n);
}

int h_op_listen(struct h_op *op)
{
        return npipe_listen(op->h, op->timeout_ms);
}

int h_op_wait(struct h_op *op)
{
        return npipe_wait(op->name, op->timeout_ms);
}

int h_op_flush(struct h_op *op)
{
        return npipe_flush(op->h);
}

int h_op_open(struct h_op *op)
{
        return npipe_open(op->name, op->access, op->timeout_ms, &op->opened);
}

int h_op_transact(struct h_op *op)
{
        return npipe_transact(op->h, op->in, op->in_len, op->buf, op->len, &op->n);
}

int h_op_call(struct h_op *op)
{
        return npipe_call(op->name, op->in, op->in_len, op->buf, op->len, &op->n, op->timeout_ms);
}

void h_async_read(struct h_op *op, npipe_t *h, void *buf, size_t len)
{
        memset(op, 0, sizeof(*op));
        op->h = h;
        op->buf = buf;
        op->len = len;
        h_op_start(op, h_op_read);
}

void h_async_write(struct h_op *op, npipe_t *h, const void *buf, size_t len)
{
        memset(op, 0, sizeof(*op));
        op->h = h;
        op->in = buf;
        op->in_len = len;
        h_op_start(op, h_op_write);
}

void h_async_listen(struct h_op *op, npipe_t *h, int timeout_ms)
{
        memset(op, 0, sizeof(*op));
        op->h = h;
        op->timeout_ms = timeout_ms;
        h_op_start(op, h_op_listen);
}

void h_async_wait(struct h_op *op, const char *name, int timeout_ms)
{
        memset(op, 0, sizeof(*op));
        op->name = name;
        op->timeout_ms = timeout_ms;
        h_op_start(op, h_op_wait);
}

void h_async_flush(struct h_op *op, npipe_t *h)
{
        memset(op, 0, sizeof(*op));
        op->h = h;
        h_op_start(op, h_op_flush);
}

void h_async_transact(struct h_op *op, npipe_t *h, const void *in, size_t in_len, void *out,
                      size_t out_len)
{
        memset(op, 0, sizeof(*op));
        op->h = h;
        op->in = in;
        op->in_len = in_len;
        op->buf = out;
        op->len = out_len;
        h_op_start(op, h_op_transact);
}

void h_await_client(npipe_t *s)
{
        int nowait = 0;
        ck_assert_ok(npipe_get_mode(s, NULL, &nowait));
        if (nowait) {
                H_EVENTUALLY(h_state(s) != NPIPE_STATE_LISTENING);
                return;
        }
        int r = npipe_listen(s, H_TIMEOUT_MS);
        ck_assert_msg(r == NPIPE_OK || r == NPIPE_EISCONN || r == NPIPE_ECLOSING,
                      "waiting for the client: %s", npipe_err_name(r));
}

void h_listen_ready(struct h_op *op, npipe_t *s, const char *name)
{
        h_async_listen(op, s, NPIPE_INFINITE);
        ck_assert_status(npipe_wait(name, H_TIMEOUT_MS), NPIPE_OK);
}

/* ---- child processes ---------------------------------------------------------------- */

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
        return (int)syscall(SYS_pidfd_open, pid, 0);
#else
        (void)pid;
        errno = ENOSYS;
        return -1;
#endif
}

void h_spawn(struct h_child *c, h_child_fn fn, void *arg)
{
        int sv[2];
        memset(c, 0, sizeof(*c));
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(sv[0]);
                /* the parent's pipes are not ours: npipe refuses them with
                 * NPIPE_EFORKED, and the test never passes them in */
                int r = fn(sv[1], arg);
                fflush(NULL);
                _exit(r & 0xff);
        }
        close(sv[1]);
        c->pid = pid;
        c->chan = sv[0];
        c->pidfd = pidfd_open_(pid);
}

static int decode(int st)
{
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
        return 255;
}

static int child_wait(struct h_child *c, int ms)
{
        if (c->reaped)
                return 1;
        if (c->pidfd >= 0) {
                struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
                int r;
                int64_t end = h_now_ms() + ms;
                do {
                        int64_t left = end - h_now_ms();
                        r = poll(&p, 1, left > 0 ? (int)left : 0);
                } while (r < 0 && errno == EINTR);
                if (r <= 0)
                        return 0;
                waitpid(c->pid, &c->status, 0);
                c->reaped = 1;
                return 1;
        }
        /* no pidfd (old kernel): poll waitpid; only a bounded wait for the
         * child's end, nothing is ordered by it */
        int64_t end = h_now_ms() + ms;
        for (;;) {
                pid_t r = waitpid(c->pid, &c->status, WNOHANG);
                if (r == c->pid) {
                        c->reaped = 1;
                        return 1;
                }
                if (h_now_ms() >= end)
                        return 0;
                h_pause();
        }
}

int h_child_running(struct h_child *c, int ms)
{
        return !child_wait(c, ms);
}

int h_reap(struct h_child *c, int ms)
{
        if (!child_wait(c, ms)) {
                kill(c->pid, SIGKILL);
                child_wait(c, H_TIMEOUT_MS);
                if (c->pidfd >= 0)
                        close(c->pidfd);
                close(c->chan);
                c->pidfd = -1;
                return -1;
        }
        if (c->pidfd >= 0)
                close(c->pidfd);
        c->pidfd = -1;
        if (c->chan >= 0)
                close(c->chan);
        c->chan = -1;
        return decode(c->status);
}

void h_kill(struct h_child *c)
{
        kill(c->pid, SIGKILL);
        child_wait(c, H_TIMEOUT_MS);
}

int h_send(int chan, int byte)
{
        unsigned char b = (unsigned char)byte;
        ssize_t r;
        do
                r = send(chan, &b, 1, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        return r == 1 ? 0 : -1;
}

static int recv_exact(int chan, void *buf, size_t n, int timeout_ms)
{
        size_t got = 0;
        int64_t end = h_now_ms() + timeout_ms;
        while (got < n) {
                struct pollfd p = {.fd = chan, .events = POLLIN};
                int64_t left = end - h_now_ms();
                int r = poll(&p, 1, left > 0 ? (int)left : 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                ssize_t k = recv(chan, (char *)buf + got, n - got, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                got += (size_t)k;
        }
        return 0;
}

int h_recv(int chan, int timeout_ms)
{
        unsigned char b;
        return recv_exact(chan, &b, 1, timeout_ms) == 0 ? b : -1;
}

int h_send_u64(int chan, uint64_t v)
{
        ssize_t r;
        do
                r = send(chan, &v, sizeof(v), MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        return r == (ssize_t)sizeof(v) ? 0 : -1;
}

int h_recv_u64(int chan, uint64_t *v, int timeout_ms)
{
        return recv_exact(chan, v, sizeof(*v), timeout_ms);
}

int c_write_all(npipe_t *h, const void *buf, size_t len)
{
        size_t n = 0;
        int r = npipe_write(h, buf, len, &n);
        if (r == 0 && n != len)
                return NPIPE_EPROTO;
        return r;
}

int h_count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}
