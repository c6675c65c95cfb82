/*
 * name.c - pipe name rules (spec section NAME).
 *
 * Windows matches the "\\.\pipe\" prefix and the name case-insensitively
 * and otherwise takes the name literally: '/', '.', '..', '<>*?|"' and
 * backslashes, trailing ones included, are all part of it.  We keep that
 * and only reject what Linux cannot carry (NUL, invalid UTF-8).
 *
 * This file is the one place that says what a name is (np_name_check),
 * which names are the same pipe (np_name_key) and which socket file smbd
 * reaches a name by (np_name_smb); the library, the broker, the SMB relay
 * and the CLI all call these (issue 15: a second, lenient copy of the rules
 * in the broker let "..\xC0\xAF" become "../").
 */
#include "core/name.h"
#include "core/casemap.h"
#include "proto/proto.h"
#include <npipe/npipe.h>
#include <string.h>

/* The one ASCII case fold: to upper case, as NT compares names (the
 * prefix, np_name_fold, and the ASCII fast path of np_name_key).  Samba's
 * lower-casing (np_name_smb) goes through the table both ways. */
static char ascii_upper(char c)
{
        return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

static int fold_eq(const char *a, const char *b, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (ascii_upper(a[i]) != ascii_upper(b[i]))
                        return 0;
        return 1;
}

/*
 * Strict UTF-8 (the Unicode Standard, table 3-7 "well-formed UTF-8 byte
 * sequences"): the first byte fixes the length and the range the second
 * byte may take, so over-long forms (C0 AF for '/', E0 80 AF, F0 80 80
 * AF...), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..,
 * F5..FF) are refused by construction instead of by checking the decoded
 * value afterwards.  This matters because a name becomes a file name in a
 * root-owned directory (np_name_smb): a lenient decoder turns C0 AF into
 * '/'.
 * Returns the sequence's length and its code point in *cp, or 0 when s
 * (n > 0 bytes) does not start with a well-formed sequence.
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
        unsigned c = s[0];
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        size_t k;

        if (c < 0x80) {
                *cp = c;
                return 1;
        }
        if (c >= 0xC2 && c <= 0xDF) {
                k = 2;
                *cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
                k = 3;
                *cp = c & 0x0F;
                if (c == 0xE0)
                        lo = 0xA0; /* below: over-long */
                else if (c == 0xED)
                        hi = 0x9F; /* above: U+D800..U+DFFF */
        } else if (c >= 0xF0 && c <= 0xF4) {
                k = 4;
                *cp = c & 0x07;
                if (c == 0xF0)
                        lo = 0x90; /* below: over-long */
                else if (c == 0xF4)
                        hi = 0x8F; /* above: beyond U+10FFFF */
        } else {
                return 0; /* continuation byte, C0, C1, F5..FF */
        }
        if (n < k || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t j = 1; j < k; j++) {
                if ((s[j] & 0xC0) != 0x80)
                        return 0;
                *cp = (*cp << 6) | (s[j] & 0x3Fu);
        }
        return k;
}

static size_t utf8_len(uint32_t cp)
{
        return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static size_t utf8_put(char *out, uint32_t cp)
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xC0 | cp >> 6);
                out[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xE0 | cp >> 12);
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | cp >> 18);
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* The generated tables (casemap.c) are fixed at build time: a process's
 * locale never changes which names are the same pipe.  Code points outside
 * the BMP are never mapped, as NT maps UTF-16 units one at a time and
 * leaves surrogates alone. */
static uint32_t casemap(const struct np_casemap_range *t, size_t n, uint32_t cp)
{
        size_t a = 0, b = n;

        if (cp >= 0x10000)
                return cp;
        /* the last range with lo <= cp */
        while (a < b) {
                size_t m = a + (b - a) / 2;
                if (t[m].lo <= cp)
                        a = m + 1;
                else
                        b = m;
        }
        if (a == 0)
                return cp;
        const struct np_casemap_range *r = &t[a - 1];
        if (cp > r->hi || (cp - r->lo) % r->stride != 0)
                return cp;
        return (cp + r->delta) & 0xFFFF;
}

static uint32_t to_upper(uint32_t cp)
{
        if (cp < 0x80) /* the common case, and the table agrees */
                return (uint32_t)(unsigned char)ascii_upper((char)cp);
        return casemap(np_casemap_upper, np_casemap_upper_len, cp);
}

/* No ASCII shortcut here: this is the only lower-casing, and the table
 * covers ASCII too. */
static uint32_t to_lower(uint32_t cp)
{
        return casemap(np_casemap_lower, np_casemap_lower_len, cp);
}

/* A key holds at most 3 bytes per UTF-16 unit: a BMP character is one unit
 * and maps to a BMP character (<= 3 bytes), a supplementary one is two
 * units and 4 bytes.  So a checked name's key always fits, and it is
 * itself short enough to be a name. */
_Static_assert(NP_NAME_KEY_MAX == 3 * NP_NAME_MAX_CHARS, "NP_NAME_KEY_MAX is 3 bytes a unit");
_Static_assert(NP_NAME_KEY_MAX <= NP_NAME_MAX, "a key must itself pass np_name_check");

int np_name_check(const char *bare, size_t len)
{
        const unsigned char *s = (const unsigned char *)bare;
        size_t units = 0;

        if (bare == NULL || len == 0)
                return NPIPE_EBADNAME;
        /* bounded work before looking at the bytes */
        if (len > NP_NAME_MAX)
                return NPIPE_ENAMETOOLONG;
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t k = utf8_next(s + i, len - i, &cp);
                if (k == 0 || cp == 0)
                        return NPIPE_EBADNAME;
                i += k;
                /* characters outside the BMP are two UTF-16 units on Windows */
                units += cp >= 0x10000 ? 2 : 1;
        }
        /* invalid bytes anywhere win over the unit count: such a string is
         * no name at all */
        if (units > NP_NAME_MAX_CHARS)
                return NPIPE_ENAMETOOLONG;
        return 0;
}

size_t np_name_key(const char *bare, size_t len, char *out)
{
        const unsigned char *s = (const unsigned char *)bare;
        size_t o = 0;

        /* Defensive only: a checked name cannot fail these, but a caller
         * that skipped np_name_check must not get a key that aliases a real
         * one, nor a write past NP_NAME_KEY_MAX. */
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t k = utf8_next(s + i, len - i, &cp);
                if (k == 0 || cp == 0)
                        return 0;
                cp = to_upper(cp);
                if (o + utf8_len(cp) > NP_NAME_KEY_MAX)
                        return 0;
                o += utf8_put(out + o, cp);
                i += k;
        }
        return o;
}

size_t np_name_smb(const char *bare, size_t len, char *out, size_t cap)
{
        const unsigned char *s = (const unsigned char *)bare;
        size_t o = 0;

        if (cap == 0 || len == 0)
                return 0;
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t k = utf8_next(s + i, len - i, &cp);
                if (k == 0)
                        return 0;
                cp = to_lower(cp);
                /* checked on the result, not the input: it is what lands in
                 * the directory (and a mapping to '/' would be caught too) */
                if (cp == 0 || cp == '/')
                        return 0;
                if (o + utf8_len(cp) > cap - 1)
                        return 0;
                o += utf8_put(out + o, cp);
                i += k;
        }
        out[o] = '\0';
        if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
                return 0;
        return o;
}

int np_name_parse(const char *path, const char **bare, size_t *bare_len)
{
        static const char prefix[] = "\\\\.\\pipe\\";
        const size_t plen = sizeof(prefix) - 1;

        if (!path)
                return NPIPE_ENOPATH;
        size_t n = strlen(path);
        if (n < plen || !fold_eq(path, prefix, plen))
                return NPIPE_EBADNAME;
        const char *name = path + plen;
        size_t len = n - plen;
        int r = np_name_check(name, len);
        if (r < 0)
                return r;
        *bare = name;
        *bare_len = len;
        return 0;
}

int np_name_canonical(const char *user, char *out, size_t out_len)
{
        static const char prefix[] = "\\\\.\\pipe\\";
        static const char slashed[] = "//./pipe/";
        const size_t plen = sizeof(prefix) - 1;
        const char *name = user;

        if (!user)
                return NPIPE_ENOPATH;
        if (strlen(user) >= plen && fold_eq(user, slashed, plen))
                name = user + plen;
        else if (strlen(user) >= plen && fold_eq(user, prefix, plen))
                name = user + plen;
        size_t len = strlen(name);
        if (plen + len + 1 > out_len)
                return NPIPE_ENAMETOOLONG;
        memcpy(out, prefix, plen);
        memcpy(out + plen, name, len + 1);
        const char *b;
        size_t bl;
        return np_name_parse(out, &b, &bl);
}

int np_name_remote(const char *path, char *host, size_t host_cap, const char **bare,
                   size_t *bare_len)
{
        if (!path)
                return 0;
        char sep = path[0];
        if ((sep != '\\' && sep != '/') || path[1] != sep)
                return 0;
        const char *h = path + 2, *end = strchr(h, sep);
        if (!end)
                return 0;
        size_t hlen = (size_t)(end - h);
        /* "pipe" and its separator, in any case */
        if (!fold_eq(end + 1, "PIPE", 4) || end[5] != sep)
                return 0;
        if (hlen == 1 && h[0] == '.')
                return 0; /* \\.\pipe\: local */
        if (hlen == 0 || hlen > NP_HOST_MAX || hlen >= host_cap)
                return NPIPE_EBADPATH;
        for (size_t i = 0; i < hlen; i++) {
                unsigned char c = (unsigned char)h[i];
                /* the other separator too: "\\a/b\pipe\x" names no host */
                if (c < 0x20 || c == 0x7f || c == '\\' || c == '/')
                        return NPIPE_EBADPATH;
        }
        const char *name = end + 6;
        size_t len = strlen(name);
        int r = np_name_check(name, len);
        if (r < 0)
                return r;
        memcpy(host, h, hlen);
        host[hlen] = '\0';
        *bare = name;
        *bare_len = len;
        return 1;
}

void np_name_fold(const char *name, size_t len, char *out)
{
        for (size_t i = 0; i < len; i++)
                out[i] = ascii_upper(name[i]);
}
