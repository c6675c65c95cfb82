/*
 * format.c - printf with the conversions of the Microsoft C library, for
 * the functions Windows code formats with: wsprintf, StringCchPrintf,
 * FormatMessage's %n!fmt! inserts and, with UNICODE, the _t printf family
 * (tchar.h).
 *
 * What differs from glibc's printf, and why the numbers are not simply
 * passed through: a format may be UTF-16; %s and %c take a string or a
 * character of the function's own width (a WCHAR string for the W forms),
 * %S and %C the other width, h forces narrow and l or w wide; and `l' on
 * an integer is 32 bits (a Windows long), so "%lu" with a DWORD is right
 * here as it is on Windows.  I64 and ll are 64 bits, I, z, j and t the
 * size of a pointer.  Output is built as UTF-8 (the A functions' code page)
 * and converted once at the end for W destinations.
 */
#include "win32/win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string (win32.h, struct np_win_buf): FormatMessage
 * (message.c) builds its text with it too. */
void np_win_buf_put(struct np_win_buf *b, const char *s, size_t n)
{
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *q = realloc(b->p, cap);
                if (!q) {
                        b->oom = 1;
                        return;
                }
                b->p = q;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

static void put_cp(struct np_win_buf *b, uint32_t c)
{
        char u[4];
        size_t n;
        if (c < 0x80) {
                u[0] = (char)c;
                n = 1;
        } else if (c < 0x800) {
                u[0] = (char)(0xC0 | (c >> 6));
                u[1] = (char)(0x80 | (c & 0x3F));
                n = 2;
        } else if (c < 0x10000) {
                u[0] = (char)(0xE0 | (c >> 12));
                u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
                u[2] = (char)(0x80 | (c & 0x3F));
                n = 3;
        } else {
                u[0] = (char)(0xF0 | (c >> 18));
                u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
                u[3] = (char)(0x80 | (c & 0x3F));
                n = 4;
        }
        np_win_buf_put(b, u, n);
}

/* UTF-16 units to UTF-8; an unpaired surrogate becomes U+FFFD, since a
 * printed string cannot fail the call as a pipe name would. */
/* Code units before the terminating 0 (string.c's lstrlenW is above
 * this file: it formats through it). */
static size_t utf16_len(const WCHAR *s)
{
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

static void put_utf16(struct np_win_buf *b, const WCHAR *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                uint32_t c = s[i];
                if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 &&
                    s[i + 1] < 0xE000) {
                        c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
                        i++;
                } else if (c >= 0xD800 && c < 0xE000) {
                        c = 0xFFFD;
                }
                put_cp(b, c);
        }
}

static void pad(struct np_win_buf *b, int n, char c)
{
        for (; n > 0; n--)
                np_win_buf_put(b, &c, 1);
}

/* The format, one unit at a time, whatever its width. */
struct fmt_in {
        const void *p;
        int wide;
        size_t i;
};

static uint32_t peek(const struct fmt_in *f, size_t ahead)
{
        if (f->wide)
                return ((const WCHAR *)f->p)[f->i + ahead];
        return (unsigned char)((const char *)f->p)[f->i + ahead];
}

static int read_num(struct fmt_in *f, va_list *ap, int *out)
{
        if (peek(f, 0) == '*') {
                f->i++;
                *out = va_arg(*ap, int);
                return 1;
        }
        int got = 0, v = 0;
        while (peek(f, 0) >= '0' && peek(f, 0) <= '9') {
                if (v < 100000000)
                        v = v * 10 + (int)(peek(f, 0) - '0');
                f->i++;
                got = 1;
        }
        *out = v;
        return got;
}

enum width { W_DEFAULT, W_SHORT, W_CHAR, W_LONG32, W_LONG64, W_PTR, W_LDOUBLE };

/* A string or character argument, its width settled, padded as asked. */
static void put_str(struct np_win_buf *b, const void *s, int wide, int prec, int width, int left)
{
        struct np_win_buf t = {0};
        if (!s) {
                np_win_buf_put(&t, "(null)", 6);
        } else if (wide) {
                const WCHAR *w = s;
                size_t n = 0;
                while ((prec < 0 || n < (size_t)prec) && w[n])
                        n++;
                put_utf16(&t, w, n);
        } else {
                const char *c = s;
                size_t n = prec < 0 ? strlen(c) : strnlen(c, (size_t)prec);
                np_win_buf_put(&t, c, n);
        }
        /* the width counts characters, not UTF-8 bytes */
        int chars = 0;
        for (size_t i = 0; i < t.len; i++)
                chars += ((unsigned char)t.p[i] & 0xC0) != 0x80;
        if (!left)
                pad(b, width - chars, ' ');
        if (t.len)
                np_win_buf_put(b, t.p, t.len);
        if (left)
                pad(b, width - chars, ' ');
        free(t.p);
        if (t.oom)
                b->oom = 1;
}

/* One conversion specification, %[flags][width][.precision][size]type,
 * up to its type. */
struct conv {
        size_t start; /* where its % is in the format */
        char flags[8];
        int width, prec, left;
        enum width w;
        int force; /* -1 narrow, 1 wide */
};

/* The size prefix of a conversion: h, hh, l, ll, w, L, I, I32, I64, z, j, t. */
static void read_size(struct fmt_in *f, struct conv *cv)
{
        uint32_t c = peek(f, 0);
        if (c == 'h') {
                f->i++;
                cv->w = W_SHORT;
                cv->force = -1;
                if (peek(f, 0) == 'h')
                        f->i++, cv->w = W_CHAR;
        } else if (c == 'l') {
                f->i++;
                cv->w = W_LONG32;
                cv->force = 1;
                if (peek(f, 0) == 'l')
                        f->i++, cv->w = W_LONG64;
        } else if (c == 'w') {
                f->i++;
                cv->force = 1;
        } else if (c == 'L') {
                f->i++;
                cv->w = W_LDOUBLE;
        } else if (c == 'I') {
                if (peek(f, 1) == '6' && peek(f, 2) == '4')
                        f->i += 3, cv->w = W_LONG64;
                else if (peek(f, 1) == '3' && peek(f, 2) == '2')
                        f->i += 3, cv->w = W_LONG32;
                else
                        f->i++, cv->w = W_PTR;
        } else if (c == 'z' || c == 'j' || c == 't') {
                f->i++;
                cv->w = W_PTR;
        }
}

/* A conversion from its % up to its type, which is left unread. */
static void read_conv(struct fmt_in *f, va_list *ap, struct conv *cv)
{
        cv->start = f->i++;
        size_t nflags = 0;
        while (strchr("-+ #0", (int)peek(f, 0)) && peek(f, 0) && nflags < 6)
                cv->flags[nflags++] = (char)peek(f, 0), f->i++;
        cv->flags[nflags] = 0;
        cv->width = 0;
        cv->prec = -1;
        cv->left = strchr(cv->flags, '-') != NULL;
        read_num(f, ap, &cv->width);
        if (cv->width < 0) {
                cv->left = 1;
                cv->width = -cv->width;
        }
        if (peek(f, 0) == '.') {
                f->i++;
                read_num(f, ap, &cv->prec);
        }
        cv->w = W_DEFAULT;
        cv->force = 0;
        read_size(f, cv);
}

/* The width of a string or character argument: %s and %c the function's
 * own, %S and %C the other, unless the size prefix forces one. */
static int arg_wide(const struct conv *cv, int own, int wide_default)
{
        int wide = own ? wide_default : !wide_default;
        if (cv->force)
                wide = cv->force > 0;
        return wide;
}

static void put_char(struct np_win_buf *b, const struct conv *cv, int wide, va_list *ap)
{
        int v = va_arg(*ap, int);
        if (wide) {
                WCHAR u[2] = {(WCHAR)v, 0};
                put_str(b, u, 1, -1, cv->width, cv->left);
        } else {
                char u[2] = {(char)v, 0};
                put_str(b, u, 0, -1, cv->width, cv->left);
        }
}

/* Formatted output of glibc's snprintf, cut to what fits its buffer. */
static void put_num(struct np_win_buf *b, const char *num, int n, size_t size)
{
        if (n > 0)
                np_win_buf_put(b, num, (size_t)n < size ? (size_t)n : size - 1);
}

/* An integer argument of the size the conversion names; the glibc
 * length modifier for it ("h" and "hh" matter, anything else prints as
 * long long). */
static const char *int_arg(enum width w, int is_signed, va_list *ap, long long *sv,
                           unsigned long long *uv)
{
        const char *mod = "";
        switch (w) {
        case W_LONG64:
                mod = "ll";
                if (is_signed)
                        *sv = va_arg(*ap, long long);
                else
                        *uv = va_arg(*ap, unsigned long long);
                break;
        case W_PTR:
                mod = "ll";
                if (is_signed)
                        *sv = (long long)va_arg(*ap, intptr_t);
                else
                        *uv = (unsigned long long)va_arg(*ap, uintptr_t);
                break;
        default:
                mod = w == W_SHORT ? "h" : w == W_CHAR ? "hh" : "";
                /* int and a Windows long are both 32 bits */
                if (is_signed)
                        *sv = va_arg(*ap, int);
                else
                        *uv = va_arg(*ap, unsigned int);
                if (w != W_DEFAULT && w != W_LONG32 && w != W_SHORT && w != W_CHAR)
                        mod = "";
                break;
        }
        return mod;
}

/* %d %i %u %x %X %o */
static void put_int(struct np_win_buf *b, const struct conv *cv, uint32_t c, va_list *ap)
{
        long long sv = 0;
        unsigned long long uv = 0;
        int is_signed = c == 'd' || c == 'i';
        const char *mod = int_arg(cv->w, is_signed, ap, &sv, &uv);
        char prs[16] = "";
        if (cv->prec >= 0)
                snprintf(prs, sizeof(prs), ".%d", cv->prec);
        char spec[32];
        snprintf(spec, sizeof(spec), "%%%s%d%s%s%c", cv->flags, cv->width, prs,
                 *mod == 'h' ? mod : "ll", (char)c);
        char num[128];
        int n;
        if (*mod == 'h')
                n = is_signed ? snprintf(num, sizeof(num), spec, (int)sv)
                              : snprintf(num, sizeof(num), spec, (unsigned)uv);
        else
                n = is_signed ? snprintf(num, sizeof(num), spec, sv)
                              : snprintf(num, sizeof(num), spec, uv);
        put_num(b, num, n, sizeof(num));
}

/* %p: the Microsoft form, all the digits, upper case, no 0x */
static void put_ptr(struct np_win_buf *b, const struct conv *cv, va_list *ap)
{
        char num[40];
        int n = snprintf(num, sizeof(num), "%0*llX", (int)(2 * sizeof(void *)),
                         (unsigned long long)(uintptr_t)va_arg(*ap, void *));
        put_str(b, num, 0, -1, cv->width, cv->left);
        (void)n;
}

/* %e %E %f %F %g %G %a %A */
static void put_float(struct np_win_buf *b, const struct conv *cv, uint32_t c, va_list *ap)
{
        char prs[16] = "";
        if (cv->prec >= 0)
                snprintf(prs, sizeof(prs), ".%d", cv->prec);
        char spec[32];
        char num[512];
        int n;
        if (cv->w == W_LDOUBLE) {
                snprintf(spec, sizeof(spec), "%%%s%d%sL%c", cv->flags, cv->width, prs, (char)c);
                n = snprintf(num, sizeof(num), spec, va_arg(*ap, long double));
        } else {
                snprintf(spec, sizeof(spec), "%%%s%d%s%c", cv->flags, cv->width, prs, (char)c);
                n = snprintf(num, sizeof(num), spec, va_arg(*ap, double));
        }
        put_num(b, num, n, sizeof(num));
}

/* Format text of the format itself: from..to (a UTF-16 format becomes UTF-8). */
static void put_fmt_text(struct np_win_buf *b, const struct fmt_in *f, size_t from, size_t to)
{
        if (f->wide)
                put_utf16(b, (const WCHAR *)f->p + from, to - from);
        else
                np_win_buf_put(b, (const char *)f->p + from, to - from);
}

/* The conversion of type c, its argument taken from ap. */
static void put_conv(struct np_win_buf *b, const struct fmt_in *f, const struct conv *cv,
                     uint32_t c, int wide_default, va_list *ap)
{
        switch (c) {
        case '%':
                np_win_buf_put(b, "%", 1);
                break;
        case 's':
        case 'S':
                put_str(b, va_arg(*ap, const void *), arg_wide(cv, c == 's', wide_default),
                        cv->prec, cv->width, cv->left);
                break;
        case 'c':
        case 'C':
                put_char(b, cv, arg_wide(cv, c == 'c', wide_default), ap);
                break;
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o':
                put_int(b, cv, c, ap);
                break;
        case 'p':
                put_ptr(b, cv, ap);
                break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
                put_float(b, cv, c, ap);
                break;
        case 'n':
                /* %n is disabled in the Microsoft C library by default */
                (void)va_arg(*ap, void *);
                break;
        default:
                /* not a conversion: copied as it stands */
                put_fmt_text(b, f, cv->start, f->i);
                break;
        }
}

char *np_win_vformat(const void *fmt, int fmt_wide, int wide_default, va_list ap0, size_t *len)
{
        struct np_win_buf b = {0};
        struct fmt_in f = {fmt, fmt_wide, 0};
        va_list ap;
        va_copy(ap, ap0);
        np_win_buf_put(&b, "", 0);
        for (;;) {
                uint32_t c = peek(&f, 0);
                if (!c)
                        break;
                if (c != '%') {
                        /* plain text: a run of it (UTF-16), or a byte */
                        size_t n = 0;
                        if (fmt_wide)
                                while (peek(&f, n) && peek(&f, n) != '%')
                                        n++;
                        else
                                n = 1;
                        put_fmt_text(&b, &f, f.i, f.i + n);
                        f.i += n;
                        continue;
                }
                struct conv cv;
                read_conv(&f, &ap, &cv);
                c = peek(&f, 0);
                if (!c)
                        break;
                f.i++;
                put_conv(&b, &f, &cv, c, wide_default, &ap);
        }
        va_end(ap);
        if (b.oom) {
                free(b.p);
                return NULL;
        }
        *len = b.len;
        return b.p;
}

WCHAR *np_win_utf8_to_utf16_dup(const char *s, size_t *units)
{
        size_t n = np_win_utf8_to_utf16(s, NULL, 0);
        WCHAR *w = malloc(n * sizeof(WCHAR));
        if (!w)
                return NULL;
        np_win_utf8_to_utf16(s, w, n);
        if (units)
                *units = n - 1;
        return w;
}

char *np_win_utf16_to_utf8_lenient(const WCHAR *s, size_t n)
{
        struct np_win_buf b = {0};
        np_win_buf_put(&b, "", 0);
        if (s)
                put_utf16(&b, s, n == (size_t)-1 ? utf16_len(s) : n);
        if (b.oom) {
                free(b.p);
                return NULL;
        }
        return b.p;
}
