/*
 * cmdline.c - command lines: GetCommandLine, CommandLineToArgvW, and the
 * splitting and quoting rules behind them, which CreateProcess (spawn.c)
 * uses too to turn a Windows command line into a child's argv.
 *
 * A file of its own because the rules are a self-contained piece of text
 * processing - Windows' quoting conventions, checked against the reference
 * in test_win32_process.c - with nothing to do with the process objects
 * or the handles a child inherits.  (CommandLineToArgvW calls process.c's
 * np_win_self_exe: a program linked with the static library that uses
 * only these functions still gets process.c's constructor, win32.h.)
 */
#include "win32/win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split a command line the way CommandLineToArgvW does (the rules, checked
 * against the reference in test_win32_process.c):
 *   - the program name (argument 0) is taken literally: up to the closing
 *     quote when it starts with one (the argument ends there), else up to
 *     the first space or tab; a line that starts with blanks has an empty
 *     program name;
 *   - other arguments are separated by blanks outside quotes; 2n
 *     backslashes before a quote are n backslashes and the quote is a
 *     quote, 2n+1 are n and a literal quote; backslashes elsewhere are
 *     literal; inside quotes, "" is a literal quote.
 * Works on code points of either width: the result is an array of
 * malloc'ed UTF-8 strings (for the child's argv) or of UTF-16 ones. */

static int split_push(struct w_split *s, const char *b, size_t len)
{
        if (s->n + 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 8;
                char **v = realloc(s->v, cap * sizeof(*v));
                if (!v)
                        return -1;
                s->v = v;
                s->cap = cap;
        }
        char *a = malloc(len + 1);
        if (!a)
                return -1;
        memcpy(a, b, len);
        a[len] = 0;
        s->v[s->n++] = a;
        s->v[s->n] = NULL;
        return 0;
}

void np_win_split_free(struct w_split *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

/* cmd is UTF-8 (quotes, backslashes and blanks are ASCII in both widths). */
int np_win_split_command_line(const char *cmd, struct w_split *out)
{
        size_t len = strlen(cmd);
        char *arg = malloc(len + 1);
        if (!arg)
                return -1;
        const char *p = cmd;
        size_t n = 0;
        /* argument 0 */
        if (*p == '"') {
                p++;
                while (*p && *p != '"')
                        arg[n++] = *p++;
                if (*p == '"')
                        p++;
        } else {
                while (*p && *p != ' ' && *p != '\t')
                        arg[n++] = *p++;
        }
        if (split_push(out, arg, n) < 0)
                goto oom;
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                n = 0;
                int quoted = 0;
                while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
                        if (*p == '\\') {
                                size_t bs = 0;
                                while (*p == '\\')
                                        bs++, p++;
                                if (*p == '"') {
                                        for (size_t k = 0; k < bs / 2; k++)
                                                arg[n++] = '\\';
                                        if (bs % 2) {
                                                arg[n++] = '"';
                                                p++;
                                        }
                                } else {
                                        for (size_t k = 0; k < bs; k++)
                                                arg[n++] = '\\';
                                }
                        } else if (*p == '"') {
                                if (quoted && p[1] == '"') {
                                        arg[n++] = '"';
                                        p += 2;
                                } else {
                                        quoted = !quoted;
                                        p++;
                                }
                        } else {
                                arg[n++] = *p++;
                        }
                }
                if (split_push(out, arg, n) < 0)
                        goto oom;
        }
        free(arg);
        return 0;
oom:
        free(arg);
        np_win_split_free(out);
        return -1;
}

NPIPE_WIN_API LPWSTR *WINAPI npipe_win_CommandLineToArgvW(LPCWSTR lpCmdLine, int *pNumArgs)
{
        if (!pNumArgs) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return NULL;
        }
        char *cmd;
        /* an empty line is the program's own path */
        if (!lpCmdLine || !*lpCmdLine)
                cmd = np_win_self_exe();
        else
                cmd = np_win_utf16_to_utf8_lenient(lpCmdLine, (size_t)-1);
        struct w_split s = {0};
        int r = -1;
        if (cmd) {
                if (!lpCmdLine || !*lpCmdLine)
                        r = split_push(&s, cmd, strlen(cmd));
                else
                        r = np_win_split_command_line(cmd, &s);
        }
        free(cmd);
        if (r < 0) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        /* one LocalAlloc block: the pointers, then the strings (LocalFree) */
        size_t total = (s.n + 1) * sizeof(LPWSTR);
        WCHAR **conv = calloc(s.n + 1, sizeof(*conv));
        size_t *units = calloc(s.n + 1, sizeof(*units));
        int ok = conv && units;
        for (size_t i = 0; ok && i < s.n; i++) {
                conv[i] = np_win_utf8_to_utf16_dup(s.v[i], &units[i]);
                ok = conv[i] != NULL;
                total += (units[i] + 1) * sizeof(WCHAR);
        }
        LPWSTR *argv = ok ? np_win_block_alloc(total, 0) : NULL;
        if (argv) {
                WCHAR *at = (WCHAR *)(argv + s.n + 1);
                for (size_t i = 0; i < s.n; i++) {
                        memcpy(at, conv[i], (units[i] + 1) * sizeof(WCHAR));
                        argv[i] = at;
                        at += units[i] + 1;
                }
                argv[s.n] = NULL;
                *pNumArgs = (int)s.n;
        } else {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        }
        for (size_t i = 0; conv && i < s.n; i++)
                free(conv[i]);
        free(conv);
        free(units);
        np_win_split_free(&s);
        return argv;
}

/* Quote one argument so that the splitting above gives it back. */
static void quote_arg(struct w_split *acc, const char *a, int first)
{
        size_t len = strlen(a);
        char *q = malloc(len * 2 + 3);
        if (!q)
                return;
        size_t n = 0;
        int need = !*a || strpbrk(a, " \t\"") != NULL;
        if (first) {
                /* argument 0 cannot hold a quote */
                if (need)
                        q[n++] = '"';
                memcpy(q + n, a, len);
                n += len;
                if (need)
                        q[n++] = '"';
        } else if (!need) {
                memcpy(q, a, len);
                n = len;
        } else {
                q[n++] = '"';
                for (const char *p = a;; p++) {
                        size_t bs = 0;
                        while (*p == '\\')
                                bs++, p++;
                        if (!*p) {
                                for (size_t k = 0; k < bs * 2; k++)
                                        q[n++] = '\\';
                                break;
                        }
                        for (size_t k = 0; k < (*p == '"' ? bs * 2 + 1 : bs); k++)
                                q[n++] = '\\';
                        q[n++] = *p;
                }
                q[n++] = '"';
        }
        split_push(acc, q, n);
        free(q);
}

static pthread_once_t cmdline_once = PTHREAD_ONCE_INIT;
static char *cmdline_a;
static WCHAR *cmdline_w;

static void cmdline_init(void)
{
        struct w_split acc = {0};
        FILE *f = fopen("/proc/self/cmdline", "re");
        if (f) {
                char *arg = NULL;
                size_t cap = 0;
                ssize_t n;
                int first = 1;
                while ((n = getdelim(&arg, &cap, 0, f)) > 0) {
                        quote_arg(&acc, arg, first);
                        first = 0;
                }
                free(arg);
                fclose(f);
        }
        size_t total = 1;
        for (size_t i = 0; i < acc.n; i++)
                total += strlen(acc.v[i]) + 1;
        cmdline_a = calloc(total, 1);
        if (cmdline_a)
                for (size_t i = 0; i < acc.n; i++) {
                        if (i)
                                strcat(cmdline_a, " ");
                        strcat(cmdline_a, acc.v[i]);
                }
        np_win_split_free(&acc);
        cmdline_w = cmdline_a ? np_win_utf8_to_utf16_dup(cmdline_a, NULL) : NULL;
}

NPIPE_WIN_API LPSTR WINAPI npipe_win_GetCommandLineA(void)
{
        pthread_once(&cmdline_once, cmdline_init);
        return cmdline_a ? cmdline_a : (LPSTR) "";
}

NPIPE_WIN_API LPWSTR WINAPI npipe_win_GetCommandLineW(void)
{
        static WCHAR empty[1];
        pthread_once(&cmdline_once, cmdline_init);
        return cmdline_w ? cmdline_w : empty;
}
