/*
 * cmd_bench.c - `npipe bench [ARG]...`: run the benchmark program.
 *
 * The benchmarks are their own program (bench/), built only on request;
 * this finds it and execs it with the remaining arguments, so `npipe bench`
 * works the same from an installed system and from a build tree:
 *   $NPIPE_BENCH, then npipe-bench next to this npipe binary, then the
 *   build tree's bench/ (this binary in BUILD/src/cli), then $PATH.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "npipe-bench"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s bench [--] [ARG]...\n"
                "Run the npipe benchmarks: exec " BENCH_NAME " with the ARGs.\n"
                "\n"
                "  -h, --help   print this help and exit ('%s bench -- --help' shows the\n"
                "               benchmark program's own options)\n"
                "\n"
                "The program is looked for as $NPIPE_BENCH, next to the npipe binary, in\n"
                "the build tree (bench/), then in PATH.  Build it with 'make bench'.\n",
                cli_prog, cli_prog);
}

static bool executable(const char *p)
{
        return access(p, X_OK) == 0;
}

/* The directory of the running binary, with a trailing '/'. */
static bool self_dir(char *out, size_t len)
{
        ssize_t n = readlink("/proc/self/exe", out, len - 1);
        char *slash;

        if (n <= 0 || (size_t)n >= len - 1)
                return false;
        out[n] = '\0';
        slash = strrchr(out, '/');
        if (slash == NULL)
                return false;
        slash[1] = '\0';
        return true;
}

/* Found in PATH?  execvp would tell only by failing; say which one we run. */
static bool in_path(char *out, size_t len)
{
        const char *path = getenv("PATH");

        if (path == NULL || *path == '\0')
                return false;
        while (*path != '\0') {
                const char *end = strchr(path, ':');
                size_t n = end ? (size_t)(end - path) : strlen(path);

                if (n > 0 &&
                    (size_t)snprintf(out, len, "%.*s/%s", (int)n, path, BENCH_NAME) < len &&
                    executable(out))
                        return true;
                path += n;
                if (*path == ':')
                        path++;
        }
        return false;
}

int cmd_bench(int argc, char **argv)
{
        char prog[PATH_MAX + 32], dir[PATH_MAX];
        const char *env = getenv("NPIPE_BENCH");
        int first = 1;
        bool found = false;

        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                usage(stdout);
                return CLI_OK;
        }
        if (argc > 1 && strcmp(argv[1], "--") == 0)
                first = 2;

        if (env != NULL && *env != '\0') {
                if (!executable(env)) {
                        cli_error("bench: NPIPE_BENCH=%s: %s", env, strerror(errno));
                        return CLI_FAIL;
                }
                snprintf(prog, sizeof prog, "%s", env);
                found = true;
        }
        if (!found && self_dir(dir, sizeof dir)) {
                snprintf(prog, sizeof prog, "%s%s", dir, BENCH_NAME);
                found = executable(prog);
                if (!found) {
                        snprintf(prog, sizeof prog, "%s../../bench/%s", dir, BENCH_NAME);
                        found = executable(prog);
                }
        }
        if (!found)
                found = in_path(prog, sizeof prog);
        if (!found) {
                cli_error("bench: %s not found (looked next to %s%s, in the build tree and "
                          "in PATH); build it with 'make bench'",
                          BENCH_NAME, self_dir(dir, sizeof dir) ? dir : "", cli_prog);
                return CLI_FAIL;
        }

        char **args = calloc((size_t)(argc - first) + 2, sizeof(*args));

        if (args == NULL) {
                cli_error("bench: out of memory");
                return CLI_FAIL;
        }
        args[0] = prog;
        for (int i = first; i < argc; i++)
                args[i - first + 1] = argv[i];
        fflush(stdout);
        execv(prog, args);
        cli_error("bench: %s: %s", prog, strerror(errno));
        free(args);
        return CLI_FAIL;
}
