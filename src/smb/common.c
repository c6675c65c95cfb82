/*
 * common.c - what every part of libnpipe-smb needs and none owns (smb.h):
 * the thread-local why() text, the monotonic clock, and waiting on a
 * condition variable until a deadline.
 *
 * Separate so that the lowest layers (tcp.c, xport.c) and the highest
 * (config.c, pipe.c) can share these without depending on each other.
 */
#include "smb/smb.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static __thread char np_smb_why_buf[512];

void np_smb_why(const char *fmt, ...)
{
        va_list ap;
        char tmp[sizeof(np_smb_why_buf)];

        /* fmt's arguments may be the buffer itself */
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        memcpy(np_smb_why_buf, tmp, sizeof(tmp));
}

void np_smb_why_clear(void)
{
        np_smb_why_buf[0] = 0;
}

const char *np_smb_why_get(void)
{
        return np_smb_why_buf;
}

int64_t np_smb_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void np_smb_cond_init_mono(pthread_cond_t *cv)
{
        pthread_condattr_t a;

        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(cv, &a);
        pthread_condattr_destroy(&a);
}

bool np_smb_cv_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
        if (deadline < 0) {
                pthread_cond_wait(cv, mu);
                return true;
        }
        int64_t now = np_smb_now_ms();
        if (now >= deadline)
                return false;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (deadline - now) % 1000 * 1000000;
        ts.tv_sec += (deadline - now) / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(cv, mu, &ts);
        return true;
}

int64_t np_smb_deadline(int timeout_ms)
{
        return timeout_ms < 0 ? -1 : np_smb_now_ms() + timeout_ms;
}

int np_smb_ms_left(int64_t deadline)
{
        if (deadline < 0)
                return -1;
        int64_t left = deadline - np_smb_now_ms();
        return left <= 0 ? 1 : left > INT32_MAX ? INT32_MAX : (int)left;
}
