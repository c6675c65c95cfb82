/*
 * cmd_wait.c - `npipe wait NAME`: WaitNamedPipe from the shell.
 *
 * WaitNamedPipe fails at once when the name does not exist (WAIT-05).  A
 * script that has just started a server in the background needs the
 * opposite: to wait until the server has created the pipe *and* listens.
 * So by default a missing name is retried until the timeout (the broker
 * has no request that waits for a name to appear, so this polls, starting
 * at 1 ms and backing off to 50 ms); --no-retry gives the NT behaviour.
 */
#include "cli.h"

#include <getopt.h>
#include <time.h>

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s wait [OPTION]... NAME\n"
                "Wait until an instance of the pipe NAME is listening for a client\n"
                "(WaitNamedPipe).  Exit status 0 when one is, 1 on timeout or when the pipe\n"
                "does not exist.\n"
                "\n"
                "  -t, --timeout MS   give up after MS milliseconds: a number, 'infinite'\n"
                "                     (default) or 'default' (the pipe's default timeout)\n"
                "      --no-retry     fail at once if the name does not exist, as\n"
                "                     WaitNamedPipe does (default: wait for it to appear)\n"
                "  -h, --help         print this help and exit\n",
                cli_prog);
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

enum { OPT_NO_RETRY = 256 };

struct wait_args {
        int timeout;
        bool retry;
};

static int wait_option(void *ctx, int opt, const char *arg)
{
        struct wait_args *a = ctx;

        if (opt == 't')
                return cli_timeout_opt("wait", arg, true, &a->timeout);
        if (opt == OPT_NO_RETRY)
                a->retry = false;
        return 0;
}

/* npipe_wait, and with retry a missing name again until the timeout. */
static int wait_for(const char *path, int timeout, bool retry)
{
        int64_t deadline;
        int r, delay = 1;

        /* "default" is the pipe's own timeout, known only once it exists:
         * the retrying for the name gets none of it */
        deadline = timeout >= 0 ? now_ms() + timeout : -1;
        for (;;) {
                int left = timeout;

                if (timeout >= 0) {
                        int64_t rem = deadline - now_ms();

                        left = rem > 0 ? (int)rem : 0;
                }
                r = npipe_wait(path, left);
                if (r != NPIPE_ENOENT || !retry || timeout == NPIPE_WAIT_DEFAULT)
                        break;
                int pause = delay;

                if (deadline >= 0) {
                        int64_t rem = deadline - now_ms();

                        if (rem <= 0)
                                break;
                        if (rem < pause)
                                pause = (int)rem;
                }
                nap(pause);
                if (delay < 50)
                        delay *= 2;
        }
        return r;
}

int cmd_wait(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"timeout", required_argument, NULL, 't'},
            {"no-retry", no_argument, NULL, OPT_NO_RETRY},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_opts opts = {"wait", "t:h", longopts, usage, wait_option};
        struct wait_args a = {.timeout = NPIPE_INFINITE, .retry = true};
        char path[CLI_PATH_MAX];
        int r;

        r = cli_getopt_name(&opts, argc, argv, &a, path, sizeof path);
        if (r != CLI_PARSED)
                return r;
        r = wait_for(path, a.timeout, a.retry);
        if (r < 0) {
                cli_report("wait", path, r);
                return CLI_FAIL;
        }
        return CLI_OK;
}
