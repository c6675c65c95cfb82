/*
 * tcrt.c - the UTF-16 C-library subset that <tchar.h> maps the _t names to
 * in UNICODE builds (the C library's own wide functions take a 32-bit
 * wchar_t), the wmain entry, and <conio.h>'s _getch and _kbhit.
 */
#include "win32/win32.h"
#include <npipe/win32/conio.h>
#include <npipe/win32/tchar.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

NPIPE_WIN_API size_t npipe_win_wcslen(const WCHAR *s)
{
        return (size_t)npipe_win_lstrlenW(s);
}

NPIPE_WIN_API WCHAR *npipe_win_wcscpy(WCHAR *d, const WCHAR *s)
{
        memmove(d, s, (npipe_win_wcslen(s) + 1) * sizeof(WCHAR));
        return d;
}

NPIPE_WIN_API WCHAR *npipe_win_wcsncpy(WCHAR *d, const WCHAR *s, size_t n)
{
        size_t i = 0;
        for (; i < n && s[i]; i++)
                d[i] = s[i];
        for (; i < n; i++)
                d[i] = 0;
        return d;
}

NPIPE_WIN_API WCHAR *npipe_win_wcscat(WCHAR *d, const WCHAR *s)
{
        npipe_win_wcscpy(d + npipe_win_wcslen(d), s);
        return d;
}

NPIPE_WIN_API WCHAR *npipe_win_wcsncat(WCHAR *d, const WCHAR *s, size_t n)
{
        WCHAR *e = d + npipe_win_wcslen(d);
        size_t i = 0;
        for (; i < n && s[i]; i++)
                e[i] = s[i];
        e[i] = 0;
        return d;
}

NPIPE_WIN_API int npipe_win_wcsncmp(const WCHAR *a, const WCHAR *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (a[i] != b[i])
                        return a[i] < b[i] ? -1 : 1;
                if (!a[i])
                        break;
        }
        return 0;
}

NPIPE_WIN_API int npipe_win_wcscmp(const WCHAR *a, const WCHAR *b)
{
        return npipe_win_wcsncmp(a, b, (size_t)-1);
}

/* _wcsicmp folds ASCII letters to lower case, as the C locale does */
static WCHAR fold(WCHAR c)
{
        return c >= 'A' && c <= 'Z' ? (WCHAR)(c + 32) : c;
}

NPIPE_WIN_API int npipe_win_wcsnicmp(const WCHAR *a, const WCHAR *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                WCHAR x = fold(a[i]), y = fold(b[i]);
                if (x != y)
                        return x < y ? -1 : 1;
                if (!x)
                        break;
        }
        return 0;
}

NPIPE_WIN_API int npipe_win_wcsicmp(const WCHAR *a, const WCHAR *b)
{
        return npipe_win_wcsnicmp(a, b, (size_t)-1);
}

NPIPE_WIN_API WCHAR *npipe_win_wcschr(const WCHAR *s, WCHAR c)
{
        for (;; s++) {
                if (*s == c)
                        return (WCHAR *)s;
                if (!*s)
                        return NULL;
        }
}

NPIPE_WIN_API WCHAR *npipe_win_wcsrchr(const WCHAR *s, WCHAR c)
{
        const WCHAR *r = NULL;
        for (;; s++) {
                if (*s == c)
                        r = s;
                if (!*s)
                        return (WCHAR *)r;
        }
}

NPIPE_WIN_API WCHAR *npipe_win_wcsstr(const WCHAR *s, const WCHAR *sub)
{
        size_t n = npipe_win_wcslen(sub);
        for (; *s; s++)
                if (!npipe_win_wcsncmp(s, sub, n))
                        return (WCHAR *)s;
        return n ? NULL : (WCHAR *)s;
}

NPIPE_WIN_API WCHAR *npipe_win_wcsdup(const WCHAR *s)
{
        size_t n = (npipe_win_wcslen(s) + 1) * sizeof(WCHAR);
        WCHAR *d = malloc(n);
        if (d)
                memcpy(d, s, n);
        return d;
}

/* Numbers are ASCII: narrow the digits and let strtoul do the rest. */
static char *narrow_ascii(const WCHAR *s, size_t *n)
{
        size_t len = npipe_win_wcslen(s);
        char *a = malloc(len + 1);
        if (!a)
                return NULL;
        for (size_t i = 0; i < len; i++)
                a[i] = s[i] < 0x80 ? (char)s[i] : '?';
        a[len] = 0;
        *n = len;
        return a;
}

NPIPE_WIN_API long npipe_win_wcstol(const WCHAR *s, WCHAR **end, int base)
{
        size_t n;
        char *a = narrow_ascii(s, &n), *e;
        if (!a) {
                if (end)
                        *end = (WCHAR *)s;
                return 0;
        }
        long v = strtol(a, &e, base);
        if (end)
                *end = (WCHAR *)s + (e - a);
        free(a);
        return v;
}

NPIPE_WIN_API unsigned long npipe_win_wcstoul(const WCHAR *s, WCHAR **end, int base)
{
        size_t n;
        char *a = narrow_ascii(s, &n), *e;
        if (!a) {
                if (end)
                        *end = (WCHAR *)s;
                return 0;
        }
        unsigned long v = strtoul(a, &e, base);
        if (end)
                *end = (WCHAR *)s + (e - a);
        free(a);
        return v;
}

NPIPE_WIN_API int npipe_win_wtoi(const WCHAR *s)
{
        return (int)npipe_win_wcstol(s, NULL, 10);
}

NPIPE_WIN_API int npipe_win_vfwprintf(FILE *f, const WCHAR *fmt, va_list ap)
{
        size_t len;
        char *s = np_win_vformat(fmt, 1, 1, ap, &len);
        if (!s)
                return -1;
        size_t n = fwrite(s, 1, len, f);
        free(s);
        /* the count is of characters written, as wprintf counts them */
        return n == len ? (int)len : -1;
}

NPIPE_WIN_API int npipe_win_fwprintf(FILE *f, const WCHAR *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = npipe_win_vfwprintf(f, fmt, ap);
        va_end(ap);
        return r;
}

NPIPE_WIN_API int npipe_win_vwprintf(const WCHAR *fmt, va_list ap)
{
        return npipe_win_vfwprintf(stdout, fmt, ap);
}

NPIPE_WIN_API int npipe_win_wprintf(const WCHAR *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = npipe_win_vfwprintf(stdout, fmt, ap);
        va_end(ap);
        return r;
}

/* _vsnwprintf: the count of units written, or -1 when it did not fit (then
 * `count` units are written, without a terminator: the Microsoft rule). */
NPIPE_WIN_API int npipe_win_vsnwprintf(WCHAR *buf, size_t count, const WCHAR *fmt, va_list ap)
{
        size_t len, units;
        char *s = np_win_vformat(fmt, 1, 1, ap, &len);
        WCHAR *w = s ? np_win_utf8_to_utf16_dup(s, &units) : NULL;
        free(s);
        if (!w)
                return -1;
        int r;
        if (units < count) {
                memcpy(buf, w, (units + 1) * sizeof(WCHAR));
                r = (int)units;
        } else {
                memcpy(buf, w, count * sizeof(WCHAR));
                r = units == count ? (int)units : -1;
        }
        free(w);
        return r;
}

NPIPE_WIN_API int npipe_win_snwprintf(WCHAR *buf, size_t count, const WCHAR *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = npipe_win_vsnwprintf(buf, count, fmt, ap);
        va_end(ap);
        return r;
}

NPIPE_WIN_API int npipe_win_fputws(const WCHAR *s, FILE *f)
{
        char *u = np_win_utf16_to_utf8_lenient(s, (size_t)-1);
        if (!u)
                return -1;
        int r = fputs(u, f);
        free(u);
        return r < 0 ? -1 : 0;
}

NPIPE_WIN_API WCHAR *npipe_win_fgetws(WCHAR *s, int n, FILE *f)
{
        if (n <= 0)
                return NULL;
        /* a UTF-8 line of at most n - 1 units once converted */
        char *line = malloc((size_t)n * 3 + 1);
        if (!line)
                return NULL;
        if (!fgets(line, n, f)) {
                free(line);
                return NULL;
        }
        np_win_utf8_to_utf16(line, s, (size_t)n);
        s[n - 1] = 0;
        free(line);
        return s;
}

NPIPE_WIN_API int npipe_win_wmain_run(int argc, char **argv, int (*wmain_fn)(int, WCHAR **))
{
        if (!wmain_fn) {
                fprintf(stderr, "npipe: no main, wmain or _tmain in this program\n");
                return 1;
        }
        WCHAR **wargv = calloc((size_t)argc + 1, sizeof(*wargv));
        if (!wargv)
                return 1;
        for (int i = 0; i < argc; i++)
                if (!(wargv[i] = np_win_utf8_to_utf16_dup(argv[i], NULL)))
                        return 1;
        int r = wmain_fn(argc, wargv);
        for (int i = 0; i < argc; i++)
                free(wargv[i]);
        free(wargv);
        return r;
}

/* ---- conio ---------------------------------------------------------------------------------- */

NPIPE_WIN_API int npipe_win_getch(void)
{
        unsigned char c;
        struct termios old, raw;
        int tty = tcgetattr(0, &old) == 0;
        if (tty) {
                raw = old;
                raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                tcsetattr(0, TCSANOW, &raw);
        }
        fflush(stdout);
        ssize_t n;
        do
                n = read(0, &c, 1);
        while (n < 0 && errno == EINTR);
        if (tty)
                tcsetattr(0, TCSANOW, &old);
        return n == 1 ? c : -1;
}

NPIPE_WIN_API int npipe_win_kbhit(void)
{
        struct pollfd p = {.fd = 0, .events = POLLIN};
        return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}
