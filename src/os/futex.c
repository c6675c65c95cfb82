/*
 * futex.c - the clock and the futex calls (os.h), once for the library,
 * the Win32 layer and the broker.
 */
#include "os/os.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t np_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct timespec *np_timespec(int64_t ns, struct timespec *ts)
{
        if (ns < 0)
                return NULL;
        ts->tv_sec = (time_t)(ns / 1000000000);
        ts->tv_nsec = (long)(ns % 1000000000);
        return ts;
}

int np_futex_wait(const _Atomic uint32_t *addr, uint32_t val, int shared, int64_t timeout_ns)
{
        struct timespec ts;
        int op = shared ? FUTEX_WAIT : (FUTEX_WAIT | FUTEX_PRIVATE_FLAG);
        long r = syscall(SYS_futex, addr, op, val, np_timespec(timeout_ns, &ts), NULL, 0);
        return r < 0 ? -errno : 0;
}

int np_futex_wait_until(const _Atomic uint32_t *addr, uint32_t val, int shared,
                        int64_t deadline_ns)
{
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
         * wait that is woken early and retries never stretches its timeout */
        struct timespec ts;
        int op = shared ? FUTEX_WAIT_BITSET : (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG);
        long r = syscall(SYS_futex, addr, op, val, np_timespec(deadline_ns, &ts), NULL,
                         FUTEX_BITSET_MATCH_ANY);
        return r < 0 ? -errno : 0;
}

void np_futex_wake(const _Atomic uint32_t *addr, int shared, int n)
{
        int op = shared ? FUTEX_WAKE : (FUTEX_WAKE | FUTEX_PRIVATE_FLAG);
        syscall(SYS_futex, addr, op, n, NULL, NULL, 0);
}
