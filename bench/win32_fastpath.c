/*
 * win32_fastpath.c - instructions per message of WriteFile + ReadFile on a
 * synchronous message pipe, against npipe_write + npipe_read, for
 * callgrind (bench/win32_fastpath.sh runs it; docs/performance.md,
 * "Win32 synchronous I/O: instructions per message").
 *
 *   npipe-bench-win32-fastpath win32|ovl|pend|native SIZE ROUNDS
 *
 * ovl: both ends FILE_FLAG_OVERLAPPED, every call with an OVERLAPPED and
 * an event, as an overlapped Windows program does; every call completes at
 * once (the data is there, the quota has room), so the count is that of
 * an overlapped call that does not pend.
 *
 * pend: as ovl, but one message per round, and the client end's ReadFile
 * is posted before the message is written: it pends, and the client's
 * GetOverlappedResult finds the message there and completes it.  The
 * count is that of the round trip's overlapped read (post, pend,
 * complete) with no wait in it.
 *
 * The server end writes K messages per round (as many as fit 16 KiB, at
 * most 64; one above 16 KiB) while the client end, a forked process, waits
 * on a plain pipe; then the client reads them.  No call ever waits in the
 * library, so a count covers the fast path alone, and two runs of
 * different lengths give the cost of one message by difference (start-up
 * and the hand-offs cancel out).  The last line says how many messages
 * went and which process was which, for the script to find the counts.
 */
#include <npipe/npipe.h>
#include <npipe/windows.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int go[2], back[2];
static int ovl;  /* mode ovl or pend */
static int pend; /* mode pend */
static HANDLE ovl_ev;

/* An overlapped call that completed at once has its count in *n (and the
 * event set); one that pends is waited for (not expected here). */
static BOOL ovl_done(HANDLE h, OVERLAPPED *ov, BOOL ok, DWORD *n)
{
        if (ok)
                return TRUE;
        if (GetLastError() != ERROR_IO_PENDING)
                return FALSE;
        return GetOverlappedResult(h, ov, n, TRUE);
}

static BOOL w_read(HANDLE h, void *buf, DWORD len, DWORD *n)
{
        if (!ovl)
                return ReadFile(h, buf, len, n, NULL);
        OVERLAPPED ov;
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ovl_ev;
        return ovl_done(h, &ov, ReadFile(h, buf, len, n, &ov), n);
}

static BOOL w_write(HANDLE h, const void *buf, DWORD len, DWORD *n)
{
        if (!ovl)
                return WriteFile(h, buf, len, n, NULL);
        OVERLAPPED ov;
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ovl_ev;
        return ovl_done(h, &ov, WriteFile(h, buf, len, n, &ov), n);
}
static size_t size;
static unsigned rounds, per_round;
static char name[128];

static _Noreturn void die(const char *what, long err)
{
        fprintf(stderr, "win32_fastpath: %s failed (%ld)\n", what, err);
        exit(1);
}

/* The client end: per round, wait for the go, read the round's messages,
 * say done.  Exit status 2 when a message came wrong. */
static int reader(int win32)
{
        HANDLE h = INVALID_HANDLE_VALUE;
        npipe_t *np = NULL;
        if (win32) {
                /* the instance listens since CreateNamedPipe: no wait needed */
                h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                                ovl ? FILE_FLAG_OVERLAPPED : 0, NULL);
                ovl_ev = CreateEventA(NULL, TRUE, FALSE, NULL);
                DWORD mode = PIPE_READMODE_MESSAGE;
                if (h == INVALID_HANDLE_VALUE || !SetNamedPipeHandleState(h, &mode, NULL, NULL))
                        die("CreateFile", (long)GetLastError());
        } else {
                int r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 10000, &np);
                enum npipe_read_mode m = NPIPE_READ_MESSAGE;
                if (r < 0 || (r = npipe_set_mode(np, &m, NULL)) < 0)
                        die("npipe_open", r);
        }
        char *buf = malloc(size + 64), t;
        int bad = 0;
        for (unsigned r = 0; buf && r < rounds; r++) {
                if (pend) {
                        /* posted before the message exists: it pends */
                        OVERLAPPED ov;
                        memset(&ov, 0, sizeof(ov));
                        ov.hEvent = ovl_ev;
                        DWORD n = 0;
                        BOOL ok = ReadFile(h, buf, (DWORD)(size + 64), &n, &ov);
                        bad += ok || GetLastError() != ERROR_IO_PENDING;
                        if (write(back[1], "p", 1) != 1 || read(go[0], &t, 1) != 1)
                                return 1;
                        bad += !GetOverlappedResult(h, &ov, &n, TRUE) || n != size;
                        if (write(back[1], "d", 1) != 1)
                                return 1;
                        continue;
                }
                if (read(go[0], &t, 1) != 1)
                        return 1;
                for (unsigned j = 0; j < per_round; j++) {
                        if (win32) {
                                DWORD n = 0;
                                bad += !w_read(h, buf, (DWORD)(size + 64), &n) || n != size;
                        } else {
                                size_t n = 0;
                                bad += npipe_read(np, buf, size + 64, &n) < 0 || n != size;
                        }
                }
                if (write(back[1], "d", 1) != 1)
                        return 1;
        }
        if (win32)
                CloseHandle(h);
        else
                npipe_close(np);
        free(buf);
        return bad ? 2 : 0;
}

int main(int argc, char **argv)
{
        if (argc != 4 ||
            (strcmp(argv[1], "win32") && strcmp(argv[1], "ovl") && strcmp(argv[1], "pend") &&
             strcmp(argv[1], "native"))) {
                fprintf(stderr, "usage: %s win32|ovl|pend|native SIZE ROUNDS\n", argv[0]);
                return 2;
        }
        pend = !strcmp(argv[1], "pend");
        ovl = pend || !strcmp(argv[1], "ovl");
        int win32 = ovl || !strcmp(argv[1], "win32");
        size = strtoul(argv[2], NULL, 10);
        rounds = (unsigned)strtoul(argv[3], NULL, 10);
        size_t span = size + 24; /* a message in the ring: its header and padding */
        per_round = size > 16384 ? 1 : (unsigned)(16384 / span);
        if (per_round < 1)
                per_round = 1;
        if (per_round > 64 || pend)
                per_round = pend ? 1 : 64;
        snprintf(name, sizeof(name), "\\\\.\\pipe\\win32-fastpath-%d", (int)getpid());
        char *msg = malloc(size + 1);
        if (!msg || pipe(go) < 0 || pipe(back) < 0)
                die("set-up", 0);
        memset(msg, 'x', size);
        HANDLE hs = INVALID_HANDLE_VALUE;
        npipe_t *ns = NULL;
        /* the server end first; the forked client only opens */
        if (win32) {
                ovl_ev = CreateEventA(NULL, TRUE, FALSE, NULL);
                hs = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | (ovl ? FILE_FLAG_OVERLAPPED : 0),
                                      PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1,
                                      65536, 65536, 0, NULL);
                if (hs == INVALID_HANDLE_VALUE)
                        die("CreateNamedPipe", (long)GetLastError());
        } else {
                struct npipe_server_opts o;
                npipe_server_opts_init(&o);
                o.flags |= NPIPE_READMODE_MESSAGE;
                int r = npipe_create(name, &o, &ns);
                if (r < 0)
                        die("npipe_create", r);
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                die("fork", 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                _exit(reader(win32));
        }
        if (win32) {
                OVERLAPPED ov;
                memset(&ov, 0, sizeof(ov));
                ov.hEvent = ovl_ev;
                DWORD n;
                BOOL ok = ConnectNamedPipe(hs, ovl ? &ov : NULL);
                if (!ok && GetLastError() == ERROR_IO_PENDING)
                        ok = GetOverlappedResult(hs, &ov, &n, TRUE);
                if (!ok && GetLastError() != ERROR_PIPE_CONNECTED)
                        die("ConnectNamedPipe", (long)GetLastError());
        } else {
                int r = npipe_listen(ns, 10000);
                if (r < 0 && r != NPIPE_EISCONN)
                        die("npipe_listen", r);
        }
        unsigned long long sent = 0;
        char t;
        for (unsigned r = 0; r < rounds; r++) {
                if (pend && read(back[0], &t, 1) != 1)
                        die("the hand-off", 0); /* the client's read is posted */
                for (unsigned j = 0; j < per_round; j++, sent++) {
                        if (win32) {
                                DWORD n = 0;
                                if (!w_write(hs, msg, (DWORD)size, &n) || n != size)
                                        die("WriteFile", (long)GetLastError());
                        } else {
                                size_t n = 0;
                                int e = npipe_write(ns, msg, size, &n);
                                if (e < 0 || n != size)
                                        die("npipe_write", e);
                        }
                }
                if (write(go[1], "g", 1) != 1 || read(back[0], &t, 1) != 1)
                        die("the hand-off", 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (win32)
                CloseHandle(hs);
        else
                npipe_close(ns);
        free(msg);
        printf("fastpath mode=%s size=%zu messages=%llu writer_pid=%d reader_pid=%d status=%d\n",
               argv[1], size, sent, (int)getpid(), (int)pid,
               WIFEXITED(st) ? WEXITSTATUS(st) : 128);
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
