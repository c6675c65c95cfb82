/*
 * tests/wine/wine/test.h - a stand-in for Wine's include/wine/test.h, so that
 * Wine's conformance tests (dlls/kernel32/tests/pipe.c, fetched at test time
 * by scripts/wine-suite.sh) build natively against <npipe/windows.h>.
 *
 * Written for npipe from the documented behaviour of Wine's test framework;
 * no code is taken from Wine.  The test file is one translation unit that
 * includes this header once, so everything here is static.
 *
 * What the test sees:
 *   ok(cond, fmt, ...), ok_(file, line)(cond, fmt, ...)  a check
 *   skip(fmt, ...)        a skipped part (counted, never a failure)
 *   win_skip(fmt, ...)    Wine's rule off Windows: a failure (a feature the
 *                         suite expects is missing)
 *   trace(fmt, ...)       a note (WINETEST_DEBUG=0 silences it)
 *   todo_wine, todo_wine_if(x)
 *                         inactive: we are not Wine, so checks in these
 *                         blocks are ordinary checks and must pass, as they
 *                         do on Windows
 *   todo_if(x)            Wine's meaning (a check expected to fail
 *                         everywhere; a success is a failure)
 *   flaky, flaky_if(x)    Wine's meaning: a failure is counted as flaky,
 *                         not as a failure (WINETEST_REPORT_FLAKY=1: failure)
 *   broken(x)             0: this is not a broken old Windows
 *   winetest_push_context(fmt, ...), winetest_pop_context()
 *   winetest_get_mainargs(&argv), winetest_debug, winetest_interactive,
 *   winetest_platform ("npipe"), ARRAY_SIZE, U(), S(), wine_dbgstr_w()...
 *   START_TEST(name)      defines main()
 *
 * Messages use the Windows printf length modifiers (%ld is 32 bits as DWORD
 * is, %Ix is pointer-sized): they are rewritten for glibc before printing.
 *
 * Output: "pipe.c:LINE: Test failed: MESSAGE" per failure, and per unit
 * "<unit>: N tests executed (M failures, K skipped)".
 *
 * Units.  scripts/wine-suite.sh rewrites each test call of the START_TEST
 * body, `test_X(args);`, into `if (winetest_unit("test_X(args)")) test_X(args);`
 * (line numbers unchanged).  The program then runs:
 *   prog                  every unit in one process, a summary line per unit
 *                         and one for the file
 *   prog UNIT             only that unit: UNIT is the call text
 *                         ("test_CreateNamedPipe(PIPE_TYPE_BYTE)") or the
 *                         function name (all its calls)
 *   prog --list           the units, one a line ("disabled<TAB>unit<TAB>why"
 *                         for those the edits file disabled)
 * The START_TEST code before the first unit (binding optional functions)
 * runs in every mode.
 *
 * Optional functions.  Wine's tests find optional functions with
 * GetModuleHandleA + GetProcAddress.  There is no DLL loader natively: the
 * edits file renames those calls to winetest_GetModuleHandleA and
 * winetest_GetProcAddress, which look the name up among libnpipe's exported
 * functions (npipe_win_<name>) and give NULL where npipe has none, so the
 * test takes its "not available" path.  (Link with -rdynamic.)
 */
#ifndef NPIPE_WINETEST_H
#define NPIPE_WINETEST_H

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <windef.h>
#include <winbase.h>

#if defined(__GNUC__)
#define WINETEST_UNUSED __attribute__((unused))
#else
#define WINETEST_UNUSED
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WINETEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WINETEST_ASAN 1
#endif
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#endif
/* nameless unions and structs are on */
#define U(x)  (x)
#define U1(x) (x)
#define U2(x) (x)
#define U3(x) (x)
#define U4(x) (x)
#define U5(x) (x)
#define S(x)  (x)
#define S1(x) (x)
#define S2(x) (x)
#define S3(x) (x)
#define S4(x) (x)
#define S5(x) (x)

/* ---- settings ------------------------------------------------------------------------------- */

static int winetest_debug = 1;
static int winetest_interactive = 0;
static int winetest_report_success = 0;
static int winetest_report_flaky = 0;
static const char *winetest_platform = "npipe";
/* todo_wine and flaky_wine apply to Wine only */
static const int winetest_on_wine = 0;
/* traces, skips (and printed failures) per source line before muting */
enum { WINETEST_MUTE_THRESHOLD = 42, WINETEST_FAIL_PRINT_LIMIT = 100 };

/* ---- state ---------------------------------------------------------------------------------- */

struct winetest_thread {
        const char *file;
        int line;
        unsigned todo_level, flaky_level;
        int todo_loop, flaky_loop;
        char context[8][128];
        unsigned context_count;
};
static __thread struct winetest_thread winetest_tls;

struct winetest_counts {
        long successes, failures, flaky_failures, skipped, todo_successes, todo_failures;
};
static struct winetest_counts winetest_total; /* updated atomically */
static struct winetest_counts winetest_unit_start;
static pthread_mutex_t winetest_print_lock = PTHREAD_MUTEX_INITIALIZER;
static int winetest_argc;
static char **winetest_argv;
static const char *winetest_test_name = "pipe";
static const char *winetest_current_unit; /* the unit being run, NULL outside */
static const char *winetest_select;       /* argv[1]: the unit to run, NULL for all */
static int winetest_list_mode, winetest_units_matched;
static volatile const char *winetest_last_file; /* last check seen, for crash reports */
static volatile int winetest_last_line;
static unsigned short winetest_line_count[16384];

static void winetest_add(long *counter)
{
        __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}
static long winetest_get(long *counter)
{
        return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* ---- output --------------------------------------------------------------------------------- */

/* Rewrite a Windows (msvcrt) printf format for glibc: %l[diouxX] is 32 bits,
 * %I[diouxX] and %Ix pointer-sized, %I64 and %ll 64 bits, %I32 32 bits. */
static void winetest_fix_format(const char *in, char *out, size_t outsz)
{
        size_t o = 0;
        while (*in && o + 8 < outsz) {
                if (*in != '%') {
                        out[o++] = *in++;
                        continue;
                }
                out[o++] = *in++;
                if (*in == '%') {
                        out[o++] = *in++;
                        continue;
                }
                /* flags, width, precision */
                while (*in && strchr("-+ #0123456789.*", *in) && o + 8 < outsz)
                        out[o++] = *in++;
                if (!strncmp(in, "I64", 3)) {
                        in += 3;
                        out[o++] = 'l';
                        out[o++] = 'l';
                } else if (!strncmp(in, "I32", 3)) {
                        in += 3;
                } else if (*in == 'I') {
                        in++;
                        out[o++] = 'z';
                } else if (in[0] == 'l' && in[1] == 'l') {
                        in += 2;
                        out[o++] = 'l';
                        out[o++] = 'l';
                } else if (*in == 'l' && in[1] && strchr("diouxX", in[1])) {
                        in++; /* long is 32 bits on Windows */
                } else if (*in == 'h' || *in == 'z' || *in == 'j' || *in == 't' || *in == 'L') {
                        out[o++] = *in++;
                        if (*in == 'h')
                                out[o++] = *in++;
                }
                if (*in)
                        out[o++] = *in++;
        }
        out[o] = 0;
}

static WINETEST_UNUSED void winetest_write(const char *s)
{
        size_t n = strlen(s);
        while (n) {
                ssize_t w = write(1, s, n);
                if (w <= 0)
                        return;
                s += w;
                n -= (size_t)w;
        }
}

/* "file:line: " kind contexts message, as one write */
static void winetest_vprint(const char *kind, const char *fmt, va_list ap)
{
        char f[1024], msg[4096];
        size_t n;
        unsigned i;
        const char *file = winetest_tls.file ? winetest_tls.file : winetest_test_name;

        n = (size_t)snprintf(msg, sizeof(msg), "%s:%d: %s", file, winetest_tls.line, kind);
        for (i = 0; i < winetest_tls.context_count && i < ARRAY_SIZE(winetest_tls.context) &&
                    n < sizeof(msg);
             i++)
                n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s: ", winetest_tls.context[i]);
        if (n < sizeof(msg)) {
                winetest_fix_format(fmt, f, sizeof(f));
                vsnprintf(msg + n, sizeof(msg) - n, f, ap);
        }
        n = strlen(msg);
        if (n == 0 || msg[n - 1] != '\n') {
                if (n + 1 >= sizeof(msg))
                        n = sizeof(msg) - 2;
                msg[n++] = '\n';
                msg[n] = 0;
        }
        pthread_mutex_lock(&winetest_print_lock);
        winetest_write(msg);
        pthread_mutex_unlock(&winetest_print_lock);
}

/* how often this source line has printed (for muting) */
static unsigned winetest_line_seen(void)
{
        unsigned short *c = &winetest_line_count[(unsigned)winetest_tls.line % 16384u];
        return __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- the checks ----------------------------------------------------------------------------- */

static WINETEST_UNUSED void winetest_set_location(const char *file, int line)
{
        const char *slash = strrchr(file, '/');
        winetest_tls.file = slash ? slash + 1 : file;
        winetest_tls.line = line;
        winetest_last_file = winetest_tls.file;
        winetest_last_line = line;
}

static int winetest_vok(int condition, const char *fmt, va_list ap)
{
        if (winetest_tls.todo_level) {
                if (condition) {
                        winetest_vprint(winetest_tls.flaky_level
                                            ? "Test succeeded inside flaky todo block: "
                                            : "Test succeeded inside todo block: ",
                                        fmt, ap);
                        winetest_add(winetest_tls.flaky_level ? &winetest_total.flaky_failures
                                                              : &winetest_total.todo_failures);
                        return 0;
                }
                if (winetest_debug > 0 && winetest_line_seen() < WINETEST_MUTE_THRESHOLD)
                        winetest_vprint("Test marked todo: ", fmt, ap);
                winetest_add(&winetest_total.todo_successes);
                return 1;
        }
        if (!condition) {
                if (winetest_tls.flaky_level) {
                        winetest_vprint("Test marked flaky: ", fmt, ap);
                        winetest_add(&winetest_total.flaky_failures);
                } else {
                        unsigned seen = winetest_line_seen();
                        if (seen < WINETEST_FAIL_PRINT_LIMIT)
                                winetest_vprint("Test failed: ", fmt, ap);
                        else if (seen == WINETEST_FAIL_PRINT_LIMIT)
                                winetest_vprint("Test failed: ",
                                                "(further failures of this line are counted, "
                                                "not printed)\n",
                                                ap);
                        winetest_add(&winetest_total.failures);
                }
                return 0;
        }
        if (winetest_report_success)
                winetest_vprint("Test succeeded", "\n", ap);
        winetest_add(&winetest_total.successes);
        return 1;
}

static WINETEST_UNUSED void winetest_ok(int condition, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        winetest_vok(condition, fmt, ap);
        va_end(ap);
}

static WINETEST_UNUSED void winetest_trace(const char *fmt, ...)
{
        va_list ap;
        if (!winetest_debug || winetest_line_seen() >= WINETEST_MUTE_THRESHOLD)
                return;
        va_start(ap, fmt);
        winetest_vprint("", fmt, ap);
        va_end(ap);
}

static void winetest_vskip(const char *fmt, va_list ap)
{
        if (winetest_line_seen() < WINETEST_MUTE_THRESHOLD)
                winetest_vprint("Tests skipped: ", fmt, ap);
        winetest_add(&winetest_total.skipped);
}

static WINETEST_UNUSED void winetest_skip(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        winetest_vskip(fmt, ap);
        va_end(ap);
}

/* Off Windows (Wine included) a win_skip is a failure: the suite expected
 * the feature. */
static WINETEST_UNUSED void winetest_win_skip(const char *fmt, ...)
{
        char f[1024];
        va_list ap;
        snprintf(f, sizeof(f), "win_skip: %s", fmt);
        va_start(ap, fmt);
        winetest_vok(0, f, ap);
        va_end(ap);
}

static WINETEST_UNUSED void winetest_subtest(const char *name)
{
        winetest_trace("Subtest %s\n", name);
}

static WINETEST_UNUSED void winetest_ignore_exceptions(BOOL ignore)
{
        (void)ignore;
}

static WINETEST_UNUSED int broken(int condition)
{
        (void)condition;
        return 0;
}

static WINETEST_UNUSED void winetest_start_todo(int is_todo)
{
        winetest_tls.todo_level = (winetest_tls.todo_level << 1) | (is_todo != 0);
        winetest_tls.todo_loop = 1;
}
static WINETEST_UNUSED int winetest_loop_todo(void)
{
        int again = winetest_tls.todo_loop;
        winetest_tls.todo_loop = 0;
        return again;
}
static WINETEST_UNUSED void winetest_end_todo(void)
{
        winetest_tls.todo_level >>= 1;
}
static WINETEST_UNUSED void winetest_start_flaky(int is_flaky)
{
        winetest_tls.flaky_level = (winetest_tls.flaky_level << 1) | (is_flaky != 0);
        winetest_tls.flaky_loop = 1;
}
static WINETEST_UNUSED int winetest_loop_flaky(void)
{
        int again = winetest_tls.flaky_loop;
        winetest_tls.flaky_loop = 0;
        return again;
}
static WINETEST_UNUSED void winetest_end_flaky(void)
{
        winetest_tls.flaky_level >>= 1;
}

static WINETEST_UNUSED void winetest_push_context(const char *fmt, ...)
{
        char f[1024];
        va_list ap;
        if (winetest_tls.context_count < ARRAY_SIZE(winetest_tls.context)) {
                char *c = winetest_tls.context[winetest_tls.context_count];
                winetest_fix_format(fmt, f, sizeof(f));
                va_start(ap, fmt);
                vsnprintf(c, sizeof(winetest_tls.context[0]), f, ap);
                va_end(ap);
        }
        winetest_tls.context_count++;
}
static WINETEST_UNUSED void winetest_pop_context(void)
{
        if (winetest_tls.context_count)
                winetest_tls.context_count--;
}

static WINETEST_UNUSED int winetest_get_mainargs(char ***pargv)
{
        *pargv = winetest_argv;
        return winetest_argc;
}
static WINETEST_UNUSED LONG winetest_get_failures(void)
{
        return (LONG)winetest_get(&winetest_total.failures);
}
static WINETEST_UNUSED void winetest_add_failures(LONG n)
{
        while (n-- > 0)
                winetest_add(&winetest_total.failures);
}

#define ok_(file, line)       (winetest_set_location(file, line), 0) ? (void)0 : winetest_ok
#define skip_(file, line)     (winetest_set_location(file, line), 0) ? (void)0 : winetest_skip
#define win_skip_(file, line) (winetest_set_location(file, line), 0) ? (void)0 : winetest_win_skip
#define trace_(file, line)    (winetest_set_location(file, line), 0) ? (void)0 : winetest_trace
#define subtest_(file, line)  (winetest_set_location(file, line), 0) ? (void)0 : winetest_subtest
#define ignore_exceptions_(file, line)                                                             \
        (winetest_set_location(file, line), 0) ? (void)0 : winetest_ignore_exceptions
#define ok                ok_(__FILE__, __LINE__)
#define skip              skip_(__FILE__, __LINE__)
#define win_skip          win_skip_(__FILE__, __LINE__)
#define trace             trace_(__FILE__, __LINE__)
#define subtest           subtest_(__FILE__, __LINE__)
#define ignore_exceptions ignore_exceptions_(__FILE__, __LINE__)
/* no wait_child_process: there are no child processes (the edits file
 * takes out what creates them) */

#define todo_if(is_todo)                                                                           \
        for (winetest_start_todo(is_todo); winetest_loop_todo(); winetest_end_todo())
#define todo_wine             todo_if(winetest_on_wine)
#define todo_wine_if(is_todo) todo_if((is_todo) && winetest_on_wine)
#define flaky_if(is_flaky)                                                                         \
        for (winetest_start_flaky(is_flaky); winetest_loop_flaky(); winetest_end_flaky())
#define flaky                   flaky_if(TRUE)
#define flaky_wine              flaky_if(winetest_on_wine)
#define flaky_wine_if(is_flaky) flaky_if((is_flaky) && winetest_on_wine)

/* ---- wine/debug.h pieces used in messages --------------------------------------------------- */

static WINETEST_UNUSED char *winetest_dbg_buffer(size_t size)
{
        static __thread char ring[8][512];
        static __thread unsigned next;
        (void)size;
        return ring[next++ % 8];
}
static WINETEST_UNUSED const char *wine_dbgstr_wn(const WCHAR *s, int n)
{
        char *b = winetest_dbg_buffer(512), *p = b;
        if (!s)
                return "(null)";
        if ((ULONG_PTR)s < 0x10000) {
                snprintf(b, 512, "#%04x", (unsigned)(ULONG_PTR)s);
                return b;
        }
        if (n < 0)
                for (n = 0; s[n]; n++)
                        ;
        *p++ = 'L';
        *p++ = '"';
        for (int i = 0; i < n && p < b + 500; i++) {
                WCHAR c = s[i];
                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                        *p++ = (char)c;
                else
                        p += sprintf(p, "\\x%04x", (unsigned)c);
        }
        *p++ = '"';
        *p = 0;
        return b;
}
static WINETEST_UNUSED const char *wine_dbgstr_w(const WCHAR *s)
{
        return wine_dbgstr_wn(s, -1);
}
static WINETEST_UNUSED const char *wine_dbgstr_an(const char *s, int n)
{
        char *b = winetest_dbg_buffer(512);
        if (!s)
                return "(null)";
        if (n < 0)
                n = (int)strlen(s);
        snprintf(b, 512, "\"%.*s\"", n > 480 ? 480 : n, s);
        return b;
}
static WINETEST_UNUSED const char *wine_dbgstr_a(const char *s)
{
        return wine_dbgstr_an(s, -1);
}
static WINETEST_UNUSED const char *wine_dbg_sprintf(const char *fmt, ...)
{
        char f[1024], *b = winetest_dbg_buffer(512);
        va_list ap;
        winetest_fix_format(fmt, f, sizeof(f));
        va_start(ap, fmt);
        vsnprintf(b, 512, f, ap);
        va_end(ap);
        return b;
}
#define debugstr_w  wine_dbgstr_w
#define debugstr_wn wine_dbgstr_wn
#define debugstr_a  wine_dbgstr_a
#define debugstr_an wine_dbgstr_an

/* ---- optional functions (see the top of this file) ------------------------------------------ */

static WINETEST_UNUSED void *winetest_GetModuleHandleA(const char *name)
{
        return (void *)(name ? name : "");
}

static WINETEST_UNUSED void *winetest_GetProcAddress(void *module, const char *name)
{
        char sym[256];
        (void)module;
        snprintf(sym, sizeof(sym), "npipe_win_%s", name);
        return dlsym(RTLD_DEFAULT, sym);
}

/* ---- units and the summary lines ------------------------------------------------------------ */

static void winetest_snapshot(struct winetest_counts *c)
{
        c->successes = winetest_get(&winetest_total.successes);
        c->failures = winetest_get(&winetest_total.failures);
        c->flaky_failures = winetest_get(&winetest_total.flaky_failures);
        c->skipped = winetest_get(&winetest_total.skipped);
        c->todo_successes = winetest_get(&winetest_total.todo_successes);
        c->todo_failures = winetest_get(&winetest_total.todo_failures);
}

/* "NAME: N tests executed (M failures, K skipped)", counted from `since`
 * (NULL: from the start) */
static void winetest_summary(const char *name, const struct winetest_counts *since,
                             const char *note)
{
        struct winetest_counts now, zero = {0, 0, 0, 0, 0, 0};
        char line[1024];
        long executed, failures;
        winetest_snapshot(&now);
        if (!since)
                since = &zero;
        failures = (now.failures - since->failures) + (now.todo_failures - since->todo_failures);
        if (winetest_report_flaky)
                failures += now.flaky_failures - since->flaky_failures;
        executed = (now.successes - since->successes) + (now.failures - since->failures) +
                   (now.flaky_failures - since->flaky_failures) +
                   (now.todo_successes - since->todo_successes) +
                   (now.todo_failures - since->todo_failures);
        snprintf(line, sizeof(line), "%s: %ld tests executed (%ld failure%s, %ld skipped)%s%s\n",
                 name, executed, failures, failures == 1 ? "" : "s", now.skipped - since->skipped,
                 note ? " " : "", note ? note : "");
        pthread_mutex_lock(&winetest_print_lock);
        winetest_write(line);
        pthread_mutex_unlock(&winetest_print_lock);
}

static void winetest_end_unit(void)
{
        if (!winetest_current_unit)
                return;
        winetest_summary(winetest_current_unit, &winetest_unit_start, NULL);
        winetest_current_unit = NULL;
}

/* does `sel` name `call`: the call text, or its function name */
static int winetest_unit_matches(const char *sel, const char *call)
{
        size_t n = strlen(sel);
        if (!strcmp(sel, call))
                return 1;
        return !strncmp(sel, call, n) && call[n] == '(';
}

/* Called (by the rewritten START_TEST body) before each unit: nonzero when
 * the unit is to run now. */
static WINETEST_UNUSED int winetest_unit(const char *call)
{
        winetest_end_unit();
        if (winetest_list_mode) {
                printf("unit\t%s\n", call);
                fflush(stdout);
                return 0;
        }
        if (winetest_select && !winetest_unit_matches(winetest_select, call))
                return 0;
        winetest_units_matched++;
        winetest_current_unit = call;
        winetest_snapshot(&winetest_unit_start);
        winetest_tls.context_count = 0;
        if (winetest_debug > 0) {
                char line[1024];
                snprintf(line, sizeof(line), "%s: unit %s\n", winetest_test_name, call);
                pthread_mutex_lock(&winetest_print_lock);
                winetest_write(line);
                pthread_mutex_unlock(&winetest_print_lock);
        }
        return 1;
}

/* A unit the edits file took out, with its reason (never runs). */
static WINETEST_UNUSED void winetest_disabled(const char *call, const char *why)
{
        winetest_end_unit();
        if (winetest_list_mode) {
                printf("disabled\t%s\t%s\n", call, why);
                fflush(stdout);
                return;
        }
        if (winetest_select && !winetest_unit_matches(winetest_select, call))
                return;
        if (winetest_select)
                winetest_units_matched++;
        {
                char line[1024];
                snprintf(line, sizeof(line), "%s: disabled by the edits file: %s\n", call, why);
                pthread_mutex_lock(&winetest_print_lock);
                winetest_write(line);
                pthread_mutex_unlock(&winetest_print_lock);
        }
}

/* A crash or the driver's timeout: say where the last check was, and what
 * the unit had counted so far, then die of the same signal. */
static void winetest_fatal_signal(int sig)
{
        char line[512];
        const char *file = (const char *)winetest_last_file;
        snprintf(line, sizeof(line), "%s: %s; last check seen at %s:%d\n",
                 winetest_current_unit ? winetest_current_unit : winetest_test_name,
                 sig == SIGTERM ? "terminated (timeout?)" : strsignal(sig), file ? file : "(none)",
                 winetest_last_line);
        winetest_write(line);
        if (winetest_current_unit)
                winetest_summary(winetest_current_unit, &winetest_unit_start,
                                 sig == SIGTERM ? "[terminated]" : "[crashed]");
        if (!winetest_select) /* the whole file: its count so far too */
                winetest_summary(winetest_test_name, NULL,
                                 sig == SIGTERM ? "[terminated]" : "[crashed]");
        signal(sig, SIG_DFL);
        raise(sig);
}

static WINETEST_UNUSED int winetest_main(int argc, char **argv, const char *name,
                                         void (*func)(void))
{
        const char *e;
        winetest_argc = argc;
        winetest_argv = argv;
        winetest_test_name = name;
        if ((e = getenv("WINETEST_DEBUG")))
                winetest_debug = atoi(e);
        if ((e = getenv("WINETEST_INTERACTIVE")))
                winetest_interactive = atoi(e);
        if ((e = getenv("WINETEST_REPORT_SUCCESS")))
                winetest_report_success = atoi(e);
        if ((e = getenv("WINETEST_REPORT_FLAKY")))
                winetest_report_flaky = atoi(e);
        if (argc > 1) {
                if (!strcmp(argv[1], "--list")) {
                        winetest_list_mode = 1;
                } else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                        printf("usage: %s [--list | UNIT]\n"
                               "  no argument: every unit in this process\n"
                               "  UNIT: a call of --list, or a function name\n",
                               argv[0]);
                        return 0;
                } else {
                        winetest_select = argv[1];
                }
        }
        setvbuf(stdout, NULL, _IONBF, 0);
        signal(SIGTERM, winetest_fatal_signal);
        signal(SIGABRT, winetest_fatal_signal);
#ifndef WINETEST_ASAN /* ASan's own reports are better */
        signal(SIGSEGV, winetest_fatal_signal);
        signal(SIGBUS, winetest_fatal_signal);
        signal(SIGILL, winetest_fatal_signal);
        signal(SIGFPE, winetest_fatal_signal);
#endif
        func();
        winetest_end_unit();
        if (winetest_list_mode)
                return 0;
        if (winetest_select && !winetest_units_matched) {
                fprintf(stderr, "%s: no unit %s (see --list)\n", argv[0], winetest_select);
                return 2;
        }
        /* the file's line (one unit selected: its line already says it all) */
        if (!winetest_select || winetest_units_matched > 1)
                winetest_summary(winetest_select ? winetest_select : name, NULL, NULL);
        return (winetest_get(&winetest_total.failures) +
                winetest_get(&winetest_total.todo_failures) +
                (winetest_report_flaky ? winetest_get(&winetest_total.flaky_failures) : 0)) != 0;
}

#define START_TEST(name)                                                                           \
        static void func_##name(void);                                                             \
        int main(int argc, char **argv)                                                            \
        {                                                                                          \
                return winetest_main(argc, argv, #name, func_##name);                              \
        }                                                                                          \
        static void func_##name(void)

#endif /* NPIPE_WINETEST_H */
