/*
 * secure_probe.c - test_secure_env's program: opens a pipe, which starts a
 * broker when none runs, and prints the status.  The test runs a setuid
 * copy of it as an unprivileged user with an environment that names a
 * broker program, a log file and a runtime directory.
 */
#include <stdio.h>

#include <npipe/npipe.h>

int main(void)
{
        npipe_t *h = NULL;
        int r = npipe_open("\\\\.\\pipe\\secure-probe", NPIPE_READ, 0, &h);
        printf("%d\n", r);
        if (r == 0)
                npipe_close(h);
        return 0;
}
