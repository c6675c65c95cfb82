/*
 * name.c - Win32 strings and paths: UTF-16 to UTF-8 for the W functions,
 * and telling pipe paths from other paths.
 *
 * Win32 converts a path to NT form before the pipe driver sees it: "/" is
 * a separator like "\", and "\\?\" is another spelling of "\\.\".  That
 * matters only for the prefix; the pipe name after "\\.\pipe\" is passed on
 * untouched, so names with "/", ".", "..", trailing backslashes and the
 * like stay distinct (NAME-06..09) - both ends go through the same code, so
 * a program that uses one spelling on both sides always meets itself.
 */
#include "win32/win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One pass of np_win_utf8_to_utf16: counts, and writes when out is set. */
static size_t utf8_to_utf16(const char *s, WCHAR *out)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t n = 0;
        for (size_t i = 0;;) {
                uint32_t c = u[i];
                size_t len = 1;
                /* the length and value of a well-formed sequence; anything
                 * else is one byte taken as Latin-1, as before this existed */
                if (c >= 0xC2 && c <= 0xDF)
                        len = 2;
                else if (c >= 0xE0 && c <= 0xEF)
                        len = 3;
                else if (c >= 0xF0 && c <= 0xF4)
                        len = 4;
                if (len > 1) {
                        uint32_t v = c & (0x7Fu >> len);
                        size_t k = 1;
                        for (; k < len && (u[i + k] & 0xC0) == 0x80; k++)
                                v = (v << 6) | (u[i + k] & 0x3F);
                        uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
                        if (k == len && v >= min && v <= 0x10FFFF && (v < 0xD800 || v > 0xDFFF))
                                c = v;
                        else
                                len = 1;
                }
                if (c >= 0x10000) {
                        if (out) {
                                out[n] = (WCHAR)(0xD800 + ((c - 0x10000) >> 10));
                                out[n + 1] = (WCHAR)(0xDC00 + ((c - 0x10000) & 0x3FF));
                        }
                        n += 2;
                } else {
                        if (out)
                                out[n] = (WCHAR)c;
                        n++;
                }
                if (!u[i])
                        return n;
                i += len;
        }
}

size_t np_win_utf8_to_utf16(const char *s, WCHAR *out, size_t cap)
{
        size_t n = utf8_to_utf16(s, NULL);
        if (n <= cap)
                utf8_to_utf16(s, out);
        return n;
}

char *np_win_utf16_to_utf8(const WCHAR *s, DWORD *err)
{
        size_t n = 0, out = 0;
        while (s[n])
                n++;
        /* at most 3 bytes per UTF-16 unit (a pair of 2 units makes 4 bytes) */
        char *buf = malloc(n * 3 + 1);
        if (!buf) {
                *err = ERROR_NOT_ENOUGH_MEMORY;
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                uint32_t c = s[i];
                if (c >= 0xD800 && c <= 0xDBFF) {
                        uint32_t lo = i + 1 < n ? s[i + 1] : 0;
                        if (lo < 0xDC00 || lo > 0xDFFF)
                                goto bad;
                        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                        i++;
                } else if (c >= 0xDC00 && c <= 0xDFFF) {
                        goto bad;
                }
                if (c < 0x80) {
                        buf[out++] = (char)c;
                } else if (c < 0x800) {
                        buf[out++] = (char)(0xC0 | (c >> 6));
                        buf[out++] = (char)(0x80 | (c & 0x3F));
                } else if (c < 0x10000) {
                        buf[out++] = (char)(0xE0 | (c >> 12));
                        buf[out++] = (char)(0x80 | ((c >> 6) & 0x3F));
                        buf[out++] = (char)(0x80 | (c & 0x3F));
                } else {
                        buf[out++] = (char)(0xF0 | (c >> 18));
                        buf[out++] = (char)(0x80 | ((c >> 12) & 0x3F));
                        buf[out++] = (char)(0x80 | ((c >> 6) & 0x3F));
                        buf[out++] = (char)(0x80 | (c & 0x3F));
                }
        }
        buf[out] = 0;
        return buf;
bad:
        /* an unpaired surrogate has no UTF-8 form: no pipe can carry it */
        free(buf);
        *err = ERROR_INVALID_NAME;
        return NULL;
}

static int is_sep(char c)
{
        return c == '\\' || c == '/';
}

static int fold_eq(const char *a, const char *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char x = a[i], y = b[i];
                if (x >= 'A' && x <= 'Z')
                        x = (char)(x + 32);
                if (y >= 'A' && y <= 'Z')
                        y = (char)(y + 32);
                if (x != y)
                        return 0;
        }
        return 1;
}

enum w_name_kind np_win_name(const char *path, char **canon)
{
        static const char prefix[] = "\\\\.\\pipe\\";
        *canon = NULL;
        if (!path)
                return WNAME_NULL;
        if (!*path)
                return WNAME_EMPTY;
        if (!is_sep(path[0]) || !is_sep(path[1]))
                return WNAME_OTHER;
        /* \\server\pipe\NAME: the server component runs to the next separator */
        const char *server = path + 2, *p = server;
        while (*p && !is_sep(*p))
                p++;
        size_t slen = (size_t)(p - server);
        if (!*p || slen == 0 || !fold_eq(p + 1, "pipe", 4) || !is_sep(p[5]))
                return WNAME_OTHER;
        const char *name = p + 6;
        size_t nlen = strlen(name);
        if (!((slen == 1 && (server[0] == '.' || server[0] == '?')))) {
                /* \\server\pipe\NAME, spelt with backslashes for
                 * npipe_open (docs/remote.md) */
                char *c = malloc(slen + nlen + 9);
                if (c)
                        snprintf(c, slen + nlen + 9, "\\\\%.*s\\pipe\\%s", (int)slen, server,
                                 name);
                *canon = c;
                return WNAME_REMOTE;
        }
        char *c = malloc(sizeof(prefix) + nlen);
        if (c) {
                memcpy(c, prefix, sizeof(prefix) - 1);
                memcpy(c + sizeof(prefix) - 1, name, nlen + 1);
        }
        *canon = c;
        return WNAME_LOCAL;
}

int np_win_name_has_wildcards(const char *path)
{
        /* the "\\?\" of a verbatim path is not a wildcard */
        if (!strncmp(path, "\\\\?\\", 4))
                path += 4;
        return strpbrk(path, "<>\"|?*") != NULL;
}

int np_win_utf16_arg(const WCHAR *s, char **out)
{
        *out = NULL;
        if (!s)
                return 1;
        DWORD err;
        *out = np_win_utf16_to_utf8(s, &err);
        if (!*out) {
                np_win_set_error(err);
                return 0;
        }
        return 1;
}
