/*
 * log.c - npiped's log lines on stderr.
 *
 * Plain stderr as `npiped[PID]: level: message`, or, when stderr is the
 * journal's stream (JOURNAL_STREAM names our stderr's device and inode),
 * `<N>message` so journald files each line under its syslog priority.
 * Each line goes out in one write() so lines of concurrent processes (the
 * daemon and its starter) never interleave.
 *
 * Lines a client can cause (a refused request, a dropped process, a
 * refused connection) go through np_log_limited(): a flood of them would
 * otherwise fill the disk at the default level, and the broker's log is
 * the first thing an administrator reads when something goes wrong.
 */
#include "broker/broker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker/limits.h"
#include "npipe/npipe.h"

/* The log state is the process's own and set once at start-up, so it is
 * file-local rather than threaded through every call. */
static int log_level = LOG_NOTICE;
static bool log_journal;

static const char *const level_names[] = {
    [LOG_ERR] = "err",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int np_log_parse_level(const char *s)
{
        int i;

        for (i = LOG_ERR; i <= LOG_DEBUG; i++)
                if (level_names[i] != NULL && strcmp(s, level_names[i]) == 0)
                        return i;
        return -1;
}

/* JOURNAL_STREAM is "DEV:INODE" of the stream journald gave us; it is
 * inherited, so it only counts if it still describes our stderr. */
static bool stderr_is_journal(void)
{
        const char *env = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void np_log_init(int level)
{
        log_level = level;
        log_journal = stderr_is_journal();
}

static void log_line(int level, const char *fmt, va_list ap)
{
        char line[1024];
        int n, m;

        if (level < LOG_ERR)
                level = LOG_ERR;
        if (log_journal)
                n = snprintf(line, sizeof line, "<%d>", level);
        else
                n = snprintf(line, sizeof line, "npiped[%ld]: %s: ", (long)getpid(),
                             level_names[level]);
        if (n < 0)
                n = 0;
        m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        if (m < 0)
                m = 0;
        n += m;
        if ((size_t)n > sizeof line - 2)
                n = (int)sizeof line - 2;
        line[n++] = '\n';
        if (write(STDERR_FILENO, line, (size_t)n) < 0) {
                /* nowhere left to complain to */
        }
}

void np_log(int level, const char *fmt, ...)
{
        int saved = errno;
        va_list ap;

        if (level > log_level)
                return;
        va_start(ap, fmt);
        log_line(level, fmt, ap);
        va_end(ap);
        errno = saved;
}

static void log_plain(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_plain(int level, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_line(level, fmt, ap);
        va_end(ap);
}

/* Called from the event loop only (the per-site state is not locked).
 * Lines below the log level are not counted: they would not have been
 * written anyway, and must not use up the share of those that are. */
void np_log_limited(struct np_ratelimit *rl, int level, const char *fmt, ...)
{
        int saved = errno;
        struct timespec ts;
        int64_t now;
        va_list ap;

        if (level > log_level)
                return;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
        if (rl->start_ns == 0 || now - rl->start_ns >= (int64_t)NP_LOG_INTERVAL_S * 1000000000ll) {
                if (rl->suppressed > 0)
                        log_plain(level, "(%u more lines like the next suppressed)",
                                  rl->suppressed);
                rl->start_ns = now;
                rl->lines = 0;
                rl->suppressed = 0;
        }
        if (rl->lines >= NP_LOG_BURST) {
                rl->suppressed++;
                errno = saved;
                return;
        }
        rl->lines++;
        va_start(ap, fmt);
        log_line(level, fmt, ap);
        va_end(ap);
        errno = saved;
}
