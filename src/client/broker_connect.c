/*
 * broker_connect.c - reaching this process's broker: the connection that
 * becomes broker.c's session, and the start of a broker when none answers.
 *
 * Everything here runs while broker.c makes a session, under its lock
 * (NP_LK_BROKER), so one thread at a time connects or starts a broker; it
 * touches none of broker.c's state (the session, the pending requests)
 * and never runs on the event thread.  Kept apart from broker.c, which
 * carries requests and replies once connected: this is the part that
 * talks to the runtime directory, the broker program and the hello.
 *
 * The broker is started on first use when none answers: a double fork
 * detaches it from us (np_broker_spawn, os/spawn.c), and it tells us
 * through a pipe when it listens.  Two processes racing to start one end
 * with one broker: the loser's broker finds the lock taken and exits, and
 * both connect to the winner.  Every failure leaves its reason in words
 * (np_broker_note), which broker.c keeps for np_broker_why.
 */
#include "client/client.h"
#include "os/os.h"
#include <npipe/npipe.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Say hello on a new connection and read the answer (5 s at most): 0 when
 * the broker accepts us, NPIPE_ELIMIT (noted) when it is at a limit,
 * NPIPE_EPROTO when it speaks another protocol, NPIPE_EBROKER when it did
 * not answer. */
static int hello(int s)
{
        unsigned char pkt[sizeof(struct np_hdr) + sizeof(struct np_hello)];
        struct np_hdr h = {.type = NP_MSG_HELLO, .version = NP_PROTO_VERSION,
                           .len = sizeof(pkt), .req_id = 1};
        struct np_hello b = {.magic = NP_PROTO_MAGIC32, .version = NP_PROTO_VERSION,
                             .lib_major = NPIPE_VERSION_MAJOR, .lib_minor = NPIPE_VERSION_MINOR};
        memcpy(pkt, &h, sizeof(h));
        memcpy(pkt + sizeof(h), &b, sizeof(b));
        if (np_send_packet(s, pkt, sizeof(pkt), -1) < 0)
                return NPIPE_EBROKER;
        unsigned char buf[NP_PROTO_MAX_PACKET];
        int fd = -1;
        ssize_t n;
        struct pollfd pfd = {.fd = s, .events = POLLIN};
        int pr;
        do
                pr = poll(&pfd, 1, 5000);
        while (pr < 0 && errno == EINTR);
        if (pr <= 0)
                return NPIPE_EBROKER;
        do
                n = np_recv_packet(s, buf, sizeof(buf), &fd, 0);
        while (n == -EINTR);
        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return NPIPE_EBROKER;
        if (np_proto_check(buf, (size_t)n, NULL, NULL) < 0)
                return NPIPE_EPROTO;
        struct np_hdr rh;
        struct np_hello_reply rb;
        memcpy(&rh, buf, sizeof(rh));
        if (rh.type != NP_MSG_HELLO_REPLY)
                return NPIPE_EPROTO;
        memcpy(&rb, buf + sizeof(rh), sizeof(rb));
        if (rb.status == NPIPE_ELIMIT) {
                /* a broker at its descriptor or process limit answers
                 * the hello only to say so */
                char text[NP_LIMIT_TEXT_MAX];
                np_limit_text(rb.detail, text, sizeof(text));
                np_broker_note("%s", text);
                return NPIPE_ELIMIT;
        }
        if (rb.status != 0 || rb.version != NP_PROTO_VERSION)
                return NPIPE_EPROTO;
        return 0;
}

/* Whether connect_broker may start a broker (np_broker_autostart). */
static _Atomic int autostart = 1;

void np_broker_autostart(int on)
{
        atomic_store(&autostart, on);
}

/* A shared broker's directory (np_runtime_dir_client) with nobody
 * listening: say that it was taken for one, and why, since a private
 * directory with the wrong mode ends up here too. */
static void note_shared(const char *dir, int err)
{
        struct stat st;
        unsigned mode = 0;
        unsigned long uid = 0;
        if (lstat(dir, &st) == 0) {
                mode = (unsigned)(st.st_mode & 07777);
                uid = (unsigned long)st.st_uid;
        }
        np_broker_note("no broker listens on %s/%s (%s), and none is started there: the runtime "
                       "directory (from NPIPE_RUNTIME_DIR, owner uid %lu, mode %04o) is taken "
                       "for a shared broker's (npiped --shared) because group and others may "
                       "read it; a directory of your own must have mode 0700 (chmod 700 %s)",
                       dir, NP_BROKER_SOCKET, strerror(err), uid, mode, dir);
}

/* Connect to the broker of `dir`, starting one when none answers (never
 * in a shared broker's directory: that one is the administrator's).
 * Returns the socket or a negative code, the reason noted. */
static int connect_broker(const char *dir, int shared)
{
        int s = -ENOENT;
        for (int attempt = 0; attempt < 100; attempt++) {
                s = np_broker_socket_connect(dir);
                if (s >= 0)
                        return s;
                if (s == -ENAMETOOLONG) {
                        np_broker_note("the runtime directory %s is too long for a socket path "
                                       "(%zu bytes with /%s at most)",
                                       dir, sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
                                       NP_BROKER_SOCKET);
                        return NPIPE_EBROKER;
                }
                if (s == -EACCES || s == -EPERM) {
                        np_broker_note("cannot connect to %s/%s: %s", dir, NP_BROKER_SOCKET,
                                       strerror(-s));
                        return NPIPE_EACCES;
                }
                if (s != -ENOENT && s != -ECONNREFUSED) {
                        np_broker_note("cannot connect to %s/%s: %s", dir, NP_BROKER_SOCKET,
                                       strerror(-s));
                        return NPIPE_EBROKER;
                }
                if (shared) {
                        note_shared(dir, -s);
                        return NPIPE_EBROKER;
                }
                if (!atomic_load(&autostart)) {
                        np_broker_note("no broker listens on %s/%s: %s", dir, NP_BROKER_SOCKET,
                                       strerror(-s));
                        return NPIPE_EBROKER;
                }
                /* The first miss starts a broker.  Later ones wait for a broker
                 * another process is starting (it holds the lock but has not
                 * bound yet); np_broker_spawn returns once one listens. */
                if (attempt == 0 || attempt == 20) {
                        if (np_broker_spawn(dir) < 0)
                                return NPIPE_EBROKER;
                } else {
                        struct timespec ts = {0, 10 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
        }
        np_broker_note("a broker was started for %s, but nothing listens on %s/%s: %s", dir, dir,
                       NP_BROKER_SOCKET, strerror(-s));
        return NPIPE_EBROKER;
}

/* Connect to this process's broker (np_runtime_dir_client), starting one
 * if needed, and say hello.  Called with broker.c's lock held. */
int np_broker_connect(void)
{
        char dir[PATH_MAX];
        int shared;
        int r = np_runtime_dir_client(dir, sizeof(dir), &shared);
        if (r < 0)
                return r;
        int s = -1;
        /* A broker that is exiting idle may reset us right after accepting:
         * try again (a fresh one is started) before giving up. */
        for (int attempt = 0; attempt < 3; attempt++) {
                s = connect_broker(dir, shared);
                if (s < 0)
                        return s;
                r = hello(s);
                if (r == 0 || r == NPIPE_EPROTO || r == NPIPE_ELIMIT)
                        break;
                close(s);
                s = -1;
        }
        if (s < 0) {
                np_broker_note("the broker at %s/%s accepted the connection but did not answer "
                               "its hello",
                               dir, NP_BROKER_SOCKET);
                return r < 0 ? r : NPIPE_EBROKER;
        }
        if (r == NPIPE_ELIMIT) {
                close(s); /* the note says which limit (hello) */
                return r;
        }
        if (r < 0) {
                np_broker_note("the broker at %s/%s did not accept this library's hello "
                               "(protocol version %u): an npiped of another npipe version?",
                               dir, NP_BROKER_SOCKET, (unsigned)NP_PROTO_VERSION);
                close(s);
                return r;
        }
        return s;
}
