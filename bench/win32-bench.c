/*
 * win32-bench.c - one Win32 named-pipe benchmark, two builds:
 *
 *   native   against <npipe/windows.h> and libnpipe: rows "npipe-win32"
 *            (npipe through its Win32 layer);
 *   mingw    x86_64-w64-mingw32-gcc against the real <windows.h>, run under
 *            Wine: rows "wine", the server-queue design (every ReadFile and
 *            WriteFile is a request to wineserver).
 *
 * Two processes (CreateProcess under Windows, posix_spawn of ourselves
 * natively), one message pipe, the sizes of npipe-bench: round-trip latency
 * (median, p99, p99.9) and one-way streaming with every message checked.
 * Output is CSV (transport,size,metric,value) on stdout: run-bench.sh sends
 * it to a file, never a pipe, because Wine's helper processes keep a pipe
 * open long after the program has gone.  It runs one test and size per
 * invocation (--test rtt|stream --sizes N --no-header) under `timeout`, so
 * a hang costs one row.
 *
 * In-band control, since the two processes share no memory: messages of
 * the measured size are data; size+4 marks the start of the measured part
 * (the peer takes its CPU baseline); size+8 ends the run and carries the
 * number of data messages sent, and the peer answers with its own count,
 * error count and CPU time.
 *
 * --overlapped opens the server end with FILE_FLAG_OVERLAPPED and has the
 * driver do its I/O the way an overlapped Windows server does: every
 * ReadFile and WriteFile with an OVERLAPPED and an event, and a wait for
 * the event when the call pends.  Rows are then "<transport>-ovl".  In the
 * round trip the driver's read pends and the peer's echo completes it from
 * another process: the completion path of issue 18.  The peer (the client)
 * stays synchronous in both modes.
 *
 * --pin apart|same places the two processes as npipe-bench --pin does: the
 * driver on CPU 0, the peer on CPU 1 (apart) or on CPU 0 too (same).
 */
#ifdef _WIN32
#include <windows.h>
#else
#include <npipe/windows.h>
#include <errno.h>
#include <sched.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define TRANSPORT "wine"
#else
#define TRANSPORT "npipe-win32"
#endif

static const size_t sizes[] = {0, 64, 1024, 4096, 65536, 1048576};
#define NSIZES 6
#define SLOTS 509u

static double seconds = 0.5;
static int smoke;
static int overlapped;   /* --overlapped: the driver's end is FILE_FLAG_OVERLAPPED */
static HANDLE ovl_event; /* its manual-reset event, reused by every operation */
static const char *transport = TRANSPORT;
static uint8_t *pattern;
static const char *self_path;
static const char *pin; /* NULL, "apart" or "same" */

struct reply {
        uint64_t count;
        uint64_t errors;
        int64_t cpu_ns;
};

/* ---- portability -------------------------------------------------------------------------- */

static int64_t now_ns(void)
{
#ifdef _WIN32
        static LARGE_INTEGER f;
        LARGE_INTEGER c;
        if (!f.QuadPart)
                QueryPerformanceFrequency(&f);
        QueryPerformanceCounter(&c);
        return (int64_t)(c.QuadPart / f.QuadPart) * 1000000000 +
               (int64_t)(c.QuadPart % f.QuadPart) * 1000000000 / f.QuadPart;
#else
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#endif
}

static int64_t cpu_ns(void)
{
#ifdef _WIN32
        FILETIME c, e, k, u;
        GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u);
        uint64_t kt = ((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime;
        uint64_t ut = ((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime;
        return (int64_t)(kt + ut) * 100;
#else
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
               ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
#endif
}

/* --pin: side 0 (the driver) on CPU 0; side 1 (the peer) on CPU 1 when
 * apart, CPU 0 when same. */
static void pin_self(int side)
{
        if (!pin)
                return;
        int cpu = side == 1 && strcmp(pin, "apart") == 0 ? 1 : 0;
#ifdef _WIN32
        SetProcessAffinityMask(GetCurrentProcess(), (DWORD_PTR)1 << cpu);
#else
        cpu_set_t cs;
        CPU_ZERO(&cs);
        CPU_SET(cpu, &cs);
        if (sched_setaffinity(0, sizeof(cs), &cs) < 0)
                perror("win32-bench: sched_setaffinity");
#endif
}

/* Start ourselves as the peer; returns a process handle (Windows) or pid. */
static intptr_t spawn_child(const char *name, const char *mode, size_t size)
{
        char sz[32];
        snprintf(sz, sizeof(sz), "%zu", size);
#ifdef _WIN32
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "\"%s\" --child %s %s %s%s%s%s", self_path, name, mode, sz,
                 smoke ? " --smoke" : "", pin ? " --pin " : "", pin ? pin : "");
        STARTUPINFOA si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof(si));
        si.cb = sizeof(si);
        if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
                fprintf(stderr, "CreateProcess: %lu\n", (unsigned long)GetLastError());
                exit(1);
        }
        CloseHandle(pi.hThread);
        return (intptr_t)pi.hProcess;
#else
        char *argv[9] = {(char *)"npipe-bench-win32", (char *)"--child", (char *)name,
                         (char *)mode, sz, NULL, NULL, NULL, NULL};
        int a = 5;
        if (smoke)
                argv[a++] = (char *)"--smoke";
        if (pin) {
                argv[a++] = (char *)"--pin";
                argv[a++] = (char *)pin;
        }
        pid_t pid;
        /* the peer starts where --pin puts it (affinity is inherited) */
        pin_self(1);
        int r = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
        pin_self(0);
        if (r != 0) {
                errno = r;
                perror("posix_spawn");
                exit(1);
        }
        return pid;
#endif
}

static int wait_child(intptr_t c)
{
#ifdef _WIN32
        DWORD code = 1;
        WaitForSingleObject((HANDLE)c, INFINITE);
        GetExitCodeProcess((HANDLE)c, &code);
        CloseHandle((HANDLE)c);
        return (int)code;
#else
        int st;
        if (waitpid((pid_t)c, &st, 0) < 0)
                return 1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
#endif
}

/* ---- contents (as npipe-bench: message i is pattern + (i % SLOTS) * 8) ------------------------ */

static void pattern_init(size_t max)
{
        size_t n = max + SLOTS * 8 + 64;
        pattern = malloc(n);
        uint64_t x = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                pattern[i] = (uint8_t)(x >> 24);
        }
}

static const uint8_t *msg(uint64_t i)
{
        return pattern + (i % SLOTS) * 8;
}

/* ---- pipe plumbing ------------------------------------------------------------------------ */

static void die(const char *what)
{
        fprintf(stderr, "win32-bench: %s failed: error %lu\n", what,
                (unsigned long)GetLastError());
        exit(1);
}

static void put(HANDLE h, const void *buf, size_t len)
{
        DWORD n = 0;
        if (!WriteFile(h, buf, (DWORD)len, &n, NULL) || n != len)
                die("WriteFile");
}

static size_t get(HANDLE h, void *buf, size_t cap)
{
        DWORD n = 0;
        if (!ReadFile(h, buf, (DWORD)cap, &n, NULL))
                die("ReadFile");
        return n;
}

/* One I/O of the overlapped driver, as a Windows server does it: the call
 * with an OVERLAPPED and an event, and when it pends, the wait for the
 * event (GetOverlappedResult with bWait waits on hEvent).  An overlapped
 * handle must be given an OVERLAPPED; the operation resets the event when
 * it starts, so one manual-reset event serves every call in turn.  On
 * success at once the count is in *n already (the event is set too). */
static DWORD ovl_wait(HANDLE h, OVERLAPPED *ov, BOOL ok, DWORD n, const char *what)
{
        if (ok)
                return n;
        if (GetLastError() != ERROR_IO_PENDING)
                die(what);
        if (!GetOverlappedResult(h, ov, &n, TRUE))
                die(what);
        return n;
}

static void put_ovl(HANDLE h, const void *buf, size_t len)
{
        OVERLAPPED ov;
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ovl_event;
        DWORD n = 0;
        BOOL ok = WriteFile(h, buf, (DWORD)len, &n, &ov);
        if (ovl_wait(h, &ov, ok, n, "WriteFile (overlapped)") != len)
                die("WriteFile (overlapped)");
}

static size_t get_ovl(HANDLE h, void *buf, size_t cap)
{
        OVERLAPPED ov;
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = ovl_event;
        DWORD n = 0;
        BOOL ok = ReadFile(h, buf, (DWORD)cap, &n, &ov);
        return ovl_wait(h, &ov, ok, n, "ReadFile (overlapped)");
}

/* The driver's I/O: overlapped or not, by --overlapped (the peer always
 * uses put and get). */
static void sput(HANDLE h, const void *buf, size_t len)
{
        if (overlapped)
                put_ovl(h, buf, len);
        else
                put(h, buf, len);
}

static size_t sget(HANDLE h, void *buf, size_t cap)
{
        return overlapped ? get_ovl(h, buf, cap) : get(h, buf, cap);
}

static HANDLE open_client(const char *name)
{
        for (int tries = 0; tries < 5000; tries++) {
                HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                                       0, NULL);
                if (h != INVALID_HANDLE_VALUE) {
                        DWORD mode = PIPE_READMODE_MESSAGE;
                        if (!SetNamedPipeHandleState(h, &mode, NULL, NULL))
                                die("SetNamedPipeHandleState");
                        return h;
                }
                if (GetLastError() == ERROR_PIPE_BUSY)
                        WaitNamedPipeA(name, 1000);
                else
                        Sleep(1);
        }
        die("CreateFile (client)");
        return INVALID_HANDLE_VALUE;
}

/* ---- the peer ----------------------------------------------------------------------------- */

static int child(const char *name, const char *mode, size_t size)
{
        HANDLE h = open_client(name);
        int echo = strcmp(mode, "rtt") == 0;
        uint8_t *buf = malloc(size + 64);
        uint64_t i = 0, errors = 0;
        int64_t cpu0 = cpu_ns();
        for (;;) {
                size_t n = get(h, buf, size + 64);
                if (n == size) {
                        if (size && memcmp(buf, msg(i), size) != 0)
                                errors++;
                        i++;
                        if (echo)
                                put(h, buf, n);
                } else if (n == size + 4) {
                        cpu0 = cpu_ns();
                        if (echo)
                                put(h, buf, n);
                } else if (n == size + 8) {
                        uint64_t sent;
                        memcpy(&sent, buf, sizeof(sent));
                        struct reply r = {i, errors + (sent != i), cpu_ns() - cpu0};
                        put(h, &r, sizeof(r));
                        break;
                } else {
                        errors++;
                }
        }
        /* wait for the driver to close first: our close must not race its read */
        DWORD n;
        ReadFile(h, buf, (DWORD)(size + 64), &n, NULL);
        CloseHandle(h);
        return errors ? 2 : 0;
}

/* ---- the driver --------------------------------------------------------------------------- */

static int cmp64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static HANDLE server(char *name, size_t len)
{
        static unsigned counter;
        snprintf(name, len, "\\\\.\\pipe\\npbw-%lu-%u", (unsigned long)GetCurrentProcessId(),
                 ++counter);
        DWORD open_mode = PIPE_ACCESS_DUPLEX | (overlapped ? FILE_FLAG_OVERLAPPED : 0);
        HANDLE h = CreateNamedPipeA(name, open_mode,
                                    PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1,
                                    65536, 65536, 0, NULL);
        if (h == INVALID_HANDLE_VALUE)
                die("CreateNamedPipe");
        return h;
}

static void accept_client(HANDLE h)
{
        if (overlapped) {
                /* an overlapped connect pends until the client comes;
                 * ERROR_PIPE_CONNECTED: it came first (nothing signalled) */
                OVERLAPPED ov;
                DWORD n;
                memset(&ov, 0, sizeof(ov));
                ov.hEvent = ovl_event;
                if (ConnectNamedPipe(h, &ov) || GetLastError() == ERROR_PIPE_CONNECTED)
                        return;
                if (GetLastError() != ERROR_IO_PENDING || !GetOverlappedResult(h, &ov, &n, TRUE))
                        die("ConnectNamedPipe (overlapped)");
                return;
        }
        if (!ConnectNamedPipe(h, NULL) && GetLastError() != ERROR_PIPE_CONNECTED)
                die("ConnectNamedPipe");
}

/* Send the end marker, collect the peer's reply, check it. */
static struct reply finish(HANDLE h, uint8_t *buf, size_t size, uint64_t sent)
{
        memset(buf, 0, size + 8);
        memcpy(buf, &sent, sizeof(sent));
        sput(h, buf, size + 8);
        struct reply r;
        size_t n = sget(h, buf, size + 64);
        if (n != sizeof(r)) {
                fprintf(stderr, "win32-bench: bad end reply (%zu bytes)\n", n);
                exit(1);
        }
        memcpy(&r, buf, sizeof(r));
        if (r.errors || r.count != sent) {
                fprintf(stderr, "win32-bench: %zu B: peer saw %llu of %llu messages, %llu bad\n",
                        size, (unsigned long long)r.count, (unsigned long long)sent,
                        (unsigned long long)r.errors);
                exit(1);
        }
        return r;
}

static void rtt(size_t size)
{
        char name[128];
        HANDLE h = server(name, sizeof(name));
        intptr_t c = spawn_child(name, "rtt", size);
        accept_client(h);
        uint8_t *buf = malloc(size + 64);
        uint64_t warm = smoke ? 4 : (size >= 65536 ? 50 : 500), i = 0;
        for (; i < warm; i++) {
                sput(h, msg(i), size);
                if (sget(h, buf, size + 64) != size || (size && memcmp(buf, msg(i), size)))
                        die("warm-up echo");
        }
        memset(buf, 0, size + 4);
        sput(h, buf, size + 4);
        sget(h, buf, size + 64);
        size_t cap = smoke ? 50 : 1000000, n = 0;
        int64_t *lat = malloc(cap * sizeof(*lat));
        int64_t cpu0 = cpu_ns(), end = now_ns() + (int64_t)(seconds * 1e9);
        while (n < cap) {
                int64_t t0 = now_ns();
                sput(h, msg(i), size);
                size_t got = sget(h, buf, size + 64);
                int64_t t1 = now_ns();
                if (got != size || (size && memcmp(buf, msg(i), size))) {
                        fprintf(stderr, "win32-bench: echo %llu differs\n",
                                (unsigned long long)i);
                        exit(1);
                }
                lat[n++] = t1 - t0;
                i++;
                if (t1 >= end)
                        break;
        }
        int64_t cpu = cpu_ns() - cpu0;
        struct reply r = finish(h, buf, size, i);
        CloseHandle(h);
        if (wait_child(c) != 0)
                exit(1);
        qsort(lat, n, sizeof(*lat), cmp64);
        printf("%s,%zu,rtt_median_us,%.6g\n", transport, size, lat[n / 2] / 1000.0);
        printf("%s,%zu,rtt_p99_us,%.6g\n", transport, size, lat[n * 99 / 100] / 1000.0);
        printf("%s,%zu,rtt_p999_us,%.6g\n", transport, size, lat[n * 999 / 1000] / 1000.0);
        printf("%s,%zu,rtt_cpu_us,%.6g\n", transport, size, (double)(cpu + r.cpu_ns) / 1000.0 / n);
        printf("%s,%zu,rtt_samples,%zu\n", transport, size, n);
        fflush(stdout);
        free(lat);
        free(buf);
}

static void stream(size_t size)
{
        char name[128];
        HANDLE h = server(name, sizeof(name));
        intptr_t c = spawn_child(name, "stream", size);
        accept_client(h);
        uint8_t *buf = malloc(size + 64);
        uint64_t warm = smoke ? 4 : (size >= 65536 ? 200 : 2000), i = 0;
        for (; i < warm; i++)
                sput(h, msg(i), size);
        memset(buf, 0, size + 4);
        sput(h, buf, size + 4);
        uint64_t max = smoke ? 200 : UINT64_MAX, sent = 0;
        int64_t cpu0 = cpu_ns(), start = now_ns(), end = start + (int64_t)(seconds * 1e9);
        unsigned mask = size >= 4096 ? 0 : 63;
        for (; sent < max; sent++, i++) {
                if ((sent & mask) == 0 && now_ns() >= end)
                        break;
                sput(h, msg(i), size);
        }
        struct reply r = finish(h, buf, size, i);
        int64_t t = now_ns() - start, cpu = cpu_ns() - cpu0;
        CloseHandle(h);
        if (wait_child(c) != 0)
                exit(1);
        double rate = (double)sent / ((double)t / 1e9);
        printf("%s,%zu,stream_msgs_per_s,%.6g\n", transport, size, rate);
        printf("%s,%zu,stream_mb_per_s,%.6g\n", transport, size, rate * (double)size / 1e6);
        printf("%s,%zu,stream_cpu_us,%.6g\n", transport, size,
               (double)(cpu + r.cpu_ns) / 1000.0 / (double)sent);
        printf("%s,%zu,stream_messages,%llu\n", transport, size, (unsigned long long)sent);
        fflush(stdout);
        free(buf);
}

int main(int argc, char **argv)
{
        self_path = argv[0];
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--smoke") == 0)
                        smoke = 1;
                else if (strcmp(argv[i], "--pin") == 0 && i + 1 < argc)
                        pin = argv[++i];
        }
        if (pin && strcmp(pin, "apart") != 0 && strcmp(pin, "same") != 0) {
                fprintf(stderr, "win32-bench: --pin apart|same\n");
                return 2;
        }
        if (argc >= 5 && strcmp(argv[1], "--child") == 0) {
                size_t size = (size_t)strtoull(argv[4], NULL, 10);
                pin_self(1);
                pattern_init(size);
                return child(argv[2], argv[3], size);
        }
        const char *only = NULL, *test = NULL;
        int header = 1;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
                        seconds = strtod(argv[++i], NULL);
                else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
                        only = argv[++i];
                else if (strcmp(argv[i], "--test") == 0 && i + 1 < argc)
                        test = argv[++i]; /* rtt or stream */
                else if (strcmp(argv[i], "--no-header") == 0)
                        header = 0;
                else if (strcmp(argv[i], "--overlapped") == 0)
                        overlapped = 1;
        }
        if (overlapped) {
                transport = TRANSPORT "-ovl";
                ovl_event = CreateEventA(NULL, TRUE, FALSE, NULL);
                if (!ovl_event)
                        die("CreateEvent");
        }
        if (smoke)
                seconds = 0.02;
        pin_self(0);
        pattern_init(sizes[NSIZES - 1]);
        if (header)
                printf("transport,size,metric,value\n");
        for (int pass = 0; pass < 2; pass++)
                for (int s = 0; s < NSIZES; s++) {
                        if (test && strcmp(test, pass ? "stream" : "rtt") != 0)
                                continue;
                        if (only) {
                                char key[32];
                                snprintf(key, sizeof(key), ",%zu,", sizes[s]);
                                char list[256];
                                snprintf(list, sizeof(list), ",%s,", only);
                                if (!strstr(list, key))
                                        continue;
                        }
                        fprintf(stderr, "  %s %s %zu B\n", transport, pass ? "stream" : "rtt",
                                sizes[s]);
                        if (pass == 0)
                                rtt(sizes[s]);
                        else
                                stream(sizes[s]);
                }
        return 0;
}
