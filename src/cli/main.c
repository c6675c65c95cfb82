/*
 * main.c - `npipe`, the command-line tool for npipe named pipes: global
 * options and the subcommand table.  Each subcommand lives in its own
 * cmd_*.c file, parses its own options with getopt_long and returns the
 * exit status (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct cli_command commands[] = {
    {"list", cmd_list, "list every pipe with its instances, owner and access"},
    {"serve", cmd_serve, "run an echo server, or connect clients to a command"},
    {"send", cmd_send, "write messages to a pipe"},
    {"cat", cmd_cat, "print the messages a pipe sends"},
    {"call", cmd_call, "send one message and print the reply (CallNamedPipe)"},
    {"wait", cmd_wait, "wait until an instance is listening (WaitNamedPipe)"},
    {"stat", cmd_stat, "show broker counters and per-pipe traffic, once or like top"},
    {"bench", cmd_bench, "run the npipe benchmarks (npipe-bench)"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s [--runtime-dir DIR] COMMAND [OPTION]... [ARG]...\n"
                "Windows NT named pipes (\\\\.\\pipe\\NAME) on Linux.\n"
                "\n"
                "Commands:\n",
                cli_prog);
        for (size_t i = 0; i < N_COMMANDS; i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fprintf(f,
                "\n"
                "A pipe NAME may be given as NAME, \\\\.\\pipe\\NAME or //./pipe/NAME.\n"
                "\n"
                "Options:\n"
                "      --runtime-dir DIR  talk to the broker of DIR, an existing directory\n"
                "                         (sets NPIPE_RUNTIME_DIR)\n"
                "  -h, --help             print this help and exit\n"
                "  -V, --version          print the version and exit\n"
                "\n"
                "'%s COMMAND --help' describes a command.  Exit status: 0 success,\n"
                "1 the operation failed, 2 bad usage.\n",
                cli_prog);
}

/* A closed standard descriptor would be handed out again by the next open
 * and end up as a child's stdin or our stdout: fill the holes first. */
static void fill_std_fds(void)
{
        for (int fd = 0; fd <= 2; fd++) {
                if (fcntl(fd, F_GETFD) >= 0)
                        continue;
                int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

                if (n >= 0 && n != fd) {
                        dup2(n, fd);
                        close(n);
                }
        }
}

/* --runtime-dir names a broker's directory that must be there already:
 * the library would create a missing one (with its parents) for a
 * broker of its own, so a typing error would silently start a second
 * broker nobody else talks to.  CLI_OK, or CLI_FAIL with the reason. */
static int runtime_dir_exists(const char *dir)
{
        char esc[CLI_ESC_MAX];
        struct stat st;

        if (stat(dir, &st) < 0) {
                int e = errno;

                cli_esc(dir, esc, sizeof esc);
                if (e == ENOENT)
                        cli_error("--runtime-dir %s: no such directory (it is not created here: "
                                  "make it with 'mkdir -m 700 %s', or leave --runtime-dir out "
                                  "for the default)",
                                  esc, esc);
                else
                        cli_error("--runtime-dir %s: %s", esc, strerror(e));
                return CLI_FAIL;
        }
        if (!S_ISDIR(st.st_mode)) {
                cli_error("--runtime-dir %s: not a directory", cli_esc(dir, esc, sizeof esc));
                return CLI_FAIL;
        }
        return CLI_OK;
}

int main(int argc, char **argv)
{
        enum { OPT_RUNTIME = 256 };
        static const struct option longopts[] = {
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        int opt, r;

        fill_std_fds();
        /* "+": stop at the subcommand; its options are its own */
        while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
                switch (opt) {
                case OPT_RUNTIME:
                        if (optarg[0] == '\0')
                                return cli_usage_error(NULL, "empty --runtime-dir");
                        r = runtime_dir_exists(optarg);
                        if (r != CLI_OK)
                                return r;
                        if (setenv("NPIPE_RUNTIME_DIR", optarg, 1) < 0) {
                                cli_error("setenv: out of memory");
                                return CLI_FAIL;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return CLI_OK;
                case 'V':
                        printf("%s %s (libnpipe %s)\n", cli_prog, NPIPE_VERSION_STRING,
                               NPIPE_VERSION_STRING);
                        return CLI_OK;
                default:
                        return cli_usage_hint(NULL);
                }
        }
        if (optind >= argc)
                return cli_usage_error(NULL, "missing COMMAND (list, serve, send, cat, call, "
                                             "wait, stat or bench)");
        const char *name = argv[optind];

        /* `npipe help CMD` is `npipe CMD --help` */
        if (strcmp(name, "help") == 0) {
                if (optind + 1 >= argc) {
                        usage(stdout);
                        return CLI_OK;
                }
                name = argv[optind + 1];
                for (size_t i = 0; i < N_COMMANDS; i++) {
                        if (strcmp(commands[i].name, name) == 0) {
                                char *hargv[] = {(char *)name, (char *)"--help", NULL};

                                optind = 0;
                                return commands[i].run(2, hargv);
                        }
                }
                return cli_usage_error(NULL, "unknown command '%s'", name);
        }
        int first = optind;

        for (size_t i = 0; i < N_COMMANDS; i++) {
                if (strcmp(commands[i].name, name) == 0) {
                        /* 0 resets getopt completely (GNU) for the subcommand's argv */
                        optind = 0;
                        r = commands[i].run(argc - first, argv + first);
                        fflush(stdout);
                        if (ferror(stdout) && r == CLI_OK) {
                                /* a full disk or closed pipe must not look like success */
                                cli_error("write error on standard output");
                                return CLI_FAIL;
                        }
                        return r;
                }
        }
        return cli_usage_error(NULL, "unknown command '%s'", name);
}
