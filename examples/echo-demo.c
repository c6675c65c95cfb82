/*
 * echo-demo.c - NT named pipes on Linux, shown in one run.
 *
 * A message-mode echo server with three instances of \\.\pipe\npipe-demo,
 * and three clients in separate processes.  It shows what Linux sockets
 * cannot do: each write is one message, a short read keeps the rest of the
 * message queued (ERROR_MORE_DATA on Windows), an empty message exists,
 * several instances share one name, and a transaction writes a request and
 * reads the reply in one call.  The broker (npiped) starts by itself on the
 * first call.
 */
#include <npipe/npipe.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PIPE_NAME "\\\\.\\pipe\\npipe-demo"
#define INSTANCES 3
#define CLIENTS 3

static void say(const char *who, const char *fmt, ...)
{
        char line[512];
        int n = snprintf(line, sizeof(line), "%-10s ", who);
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (n > (int)sizeof(line) - 2)
                n = (int)sizeof(line) - 2;
        line[n++] = '\n';
        /* one write per line: lines of several processes never mix */
        (void)!write(1, line, (size_t)n);
}

static void die(const char *who, const char *what, int r)
{
        say(who, "%s failed: %s (%s)", what, npipe_strerror(r), npipe_err_name(r));
        exit(1);
}

static int broker_running(void)
{
        const char *dir = npipe_runtime_dir();
        if (!dir)
                return 0;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/npiped.sock", dir);
        int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        int ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (s >= 0)
                close(s);
        return ok;
}

/* ---- the server: one thread per instance ------------------------------------ */

static void *serve_instance(void *arg)
{
        npipe_t *h = arg;
        char who[16];
        char buf[256];
        int served = 0;
        snprintf(who, sizeof(who), "[server]");
        while (served < 1) {
                int r = npipe_listen(h, NPIPE_INFINITE);
                if (r < 0 && r != NPIPE_EISCONN)
                        die(who, "listen", r);
                pid_t pid = 0;
                npipe_client_pid(h, &pid);
                say(who, "instance %p: client pid %d connected", (void *)h, (int)pid);
                for (;;) {
                        size_t n;
                        r = npipe_read(h, buf, sizeof(buf) - 1, &n);
                        if (r == NPIPE_EPIPE)
                                break; /* the client closed: ERROR_BROKEN_PIPE */
                        if (r < 0)
                                die(who, "read", r);
                        buf[n] = 0;
                        say(who, "got one message of %zu bytes from %d: \"%s\"", n, (int)pid,
                            buf);
                        /* echo it back in capitals, as one message */
                        for (size_t i = 0; i < n; i++)
                                buf[i] = (char)toupper((unsigned char)buf[i]);
                        if (n >= 5 && strncmp(buf, "WHAT ", 5) == 0)
                                snprintf(buf, sizeof(buf), "it is %ld seconds past the epoch",
                                         (long)time(NULL));
                        r = npipe_write(h, buf, strlen(buf), &n);
                        if (r < 0)
                                die(who, "write", r);
                }
                /* the graceful NT way to reuse an instance: disconnect, listen */
                npipe_disconnect(h);
                served++;
        }
        return NULL;
}

/* ---- a client ------------------------------------------------------------------ */

static int client(int id)
{
        char who[16], buf[256];
        snprintf(who, sizeof(who), "[client %d]", id);
        npipe_t *h;
        /* waits (WaitNamedPipe) while all instances are busy */
        int r = npipe_open(PIPE_NAME, NPIPE_READ | NPIPE_WRITE, 5000, &h);
        if (r < 0)
                die(who, "open", r);
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        npipe_set_mode(h, &m, NULL); /* clients start in byte mode (OPEN-05) */

        /* three writes are three messages: the server reads them one by one */
        const char *words[] = {"alpha", "beta", "gamma"};
        for (int i = 0; i < 3; i++) {
                size_t n;
                r = npipe_write(h, words[i], strlen(words[i]), &n);
                if (r < 0)
                        die(who, "write", r);
        }
        /* read the first echo with a 3-byte buffer: a short read */
        size_t n;
        r = npipe_read(h, buf, 3, &n);
        say(who, "read into a 3-byte buffer: \"%.*s\" + %s (the rest stays queued)", (int)n,
            buf, r == NPIPE_EMOREDATA ? "MORE DATA" : npipe_err_name(r));
        r = npipe_read(h, buf, sizeof(buf), &n);
        say(who, "next read returns the rest of the same message: \"%.*s\"", (int)n, buf);
        for (int i = 1; i < 3; i++) {
                r = npipe_read(h, buf, sizeof(buf), &n);
                say(who, "echo %d: \"%.*s\"", i + 1, (int)n, buf);
        }
        /* a transaction: write a request and read the reply in one call */
        r = npipe_transact(h, "what time is it?", 16, buf, sizeof(buf), &n);
        if (r < 0)
                die(who, "transact", r);
        say(who, "transact(\"what time is it?\") -> \"%.*s\"", (int)n, buf);
        npipe_close(h);
        return 0;
}

int main(int argc, char **argv)
{
        /* each client is this program again, in a process of its own */
        if (argc == 3 && strcmp(argv[1], "client") == 0)
                return client(atoi(argv[2]));
        setvbuf(stdout, NULL, _IONBF, 0);
        say("[demo]", "runtime directory: %s", npipe_runtime_dir());
        say("[demo]", "broker running before the first call: %s",
            broker_running() ? "yes" : "no");

        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.type = NPIPE_TYPE_MESSAGE;
        o.flags = NPIPE_READMODE_MESSAGE;
        o.max_instances = INSTANCES;
        npipe_t *inst[INSTANCES];
        for (int i = 0; i < INSTANCES; i++) {
                int r = npipe_create(PIPE_NAME, &o, &inst[i]);
                if (r < 0)
                        die("[server]", "create", r);
        }
        say("[server]", "%d instances of %s, message mode; broker running now: %s", INSTANCES,
            PIPE_NAME, broker_running() ? "yes (it started by itself)" : "no");
        npipe_t *extra;
        int r = npipe_create(PIPE_NAME, &o, &extra);
        say("[server]", "a 4th instance is refused: %s (ERROR_PIPE_BUSY = %u)",
            npipe_err_name(r), npipe_win32_error(r));

        pthread_t t[INSTANCES];
        for (int i = 0; i < INSTANCES; i++)
                pthread_create(&t[i], NULL, serve_instance, inst[i]);

        pid_t kids[CLIENTS];
        for (int i = 0; i < CLIENTS; i++) {
                char num[16];
                snprintf(num, sizeof(num), "%d", i + 1);
                char *args[] = {argv[0], "client", num, NULL};
                if (posix_spawn(&kids[i], "/proc/self/exe", NULL, NULL, args, environ) != 0)
                        die("[demo]", "spawn", NPIPE_ENOMEM);
        }
        int failed = 0;
        for (int i = 0; i < CLIENTS; i++) {
                int st;
                waitpid(kids[i], &st, 0);
                failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        }
        for (int i = 0; i < INSTANCES; i++) {
                pthread_join(t[i], NULL);
                npipe_close(inst[i]);
        }
        r = npipe_open(PIPE_NAME, NPIPE_READ, 0, &extra);
        say("[demo]", "after the server closed every instance the name is gone: %s",
            npipe_err_name(r));
        say("[demo]", failed ? "a client failed" : "done: every client got its replies");
        return failed;
}
