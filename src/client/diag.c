/*
 * diag.c - what the library keeps in words for a caller that failed: why
 * the last attempt to reach a broker failed (np_broker_why), which of
 * the broker's limits refused the last request (np_broker_limit_why), and
 * what the SMB module said of the last remote failure (np_remote_why).
 * npipe prints both after an error; NPIPE_DEBUG=1 has the library print
 * them on stderr for any program.  Process-wide, the last one wins.
 */
#include "os/lockorder.h"
#include "client/client.h"
#include "os/os.h"
#include "proto/proto.h"
#include <npipe/npipe.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static char why[NP_BROKER_NOTE_MAX];     /* empty after a session was made */
static char limit_why[NP_LIMIT_TEXT_MAX]; /* empty when the broker said no more */
static char remote_why[512];              /* the last remote (SMB) failure */

void np_limit_text(uint32_t detail, char *buf, size_t len)
{
        static const char *const what[NP_LIMIT_WHAT_MAX + 1] = {
            "resources",           "file descriptors",     "server instances",
            "client ends",         "pending waits",        "pipe names",
            "connected processes", "listings in progress", "statistics requests in progress"};
        uint32_t w = NP_LIMIT_WHAT(detail), scope = NP_LIMIT_SCOPE(detail);
        const char *x = w <= NP_LIMIT_WHAT_MAX ? what[w] : what[0];

        if (w == NP_LIMIT_FDS && scope == NP_LIMIT_BROKER)
                snprintf(buf, len,
                         "npiped is out of file descriptors (each listening instance holds "
                         "one): raise the hard RLIMIT_NOFILE where npiped starts (systemd: "
                         "LimitNOFILE= in npiped.service; a shell: ulimit -Hn before the first "
                         "npipe program starts npiped) and restart npiped");
        else if (scope == NP_LIMIT_PROCESS)
                snprintf(buf, len, "this process holds as many %s as npiped allows one process",
                         x);
        else if (scope == NP_LIMIT_UID)
                snprintf(buf, len,
                         "your user's share of npiped's %s is used up (npiped gives each user "
                         "a part, so that one cannot lock the others out)",
                         x);
        else
                snprintf(buf, len, "npiped's limit of %s is reached", x);
}

static void keep(char *kept, size_t cap, const char *text, const char *debug_prefix)
{
        np_lock(&diag_lock, NP_LK_DIAG);
        snprintf(kept, cap, "%s", text ? text : "");
        np_unlock(&diag_lock, NP_LK_DIAG);
        if (text && np_env("NPIPE_DEBUG"))
                fprintf(stderr, "npipe: %s: %s\n", debug_prefix, text);
}

void np_diag_why_set(const char *text)
{
        keep(why, sizeof(why), text, "cannot reach the broker");
}

void np_diag_limit_set(uint32_t detail)
{
        char text[NP_LIMIT_TEXT_MAX];
        if (detail)
                np_limit_text(detail, text, sizeof(text));
        keep(limit_why, sizeof(limit_why), detail ? text : NULL, "a broker limit");
}

void np_diag_remote_set(const char *text)
{
        keep(remote_why, sizeof(remote_why), text, "remote pipe");
}

/* Copy a kept text into the caller's buffer (always NUL-terminated,
 * truncated); its length. */
static size_t copy_kept(const char *kept, char *buf, size_t len)
{
        if (buf == NULL || len == 0)
                return 0;
        np_lock(&diag_lock, NP_LK_DIAG);
        size_t n = strlen(kept);
        if (n >= len)
                n = len - 1;
        memcpy(buf, kept, n);
        buf[n] = '\0';
        np_unlock(&diag_lock, NP_LK_DIAG);
        return n;
}

size_t np_broker_why(char *buf, size_t len)
{
        return copy_kept(why, buf, len);
}

size_t np_broker_limit_why(char *buf, size_t len)
{
        return copy_kept(limit_why, buf, len);
}

size_t np_remote_why(char *buf, size_t len)
{
        return copy_kept(remote_why, buf, len);
}
