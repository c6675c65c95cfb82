/*
 * name.c - pipe name rules (spec section NAME).
 *
 * Windows matches the "\\.\pipe\" prefix and the name case-insensitively
 * and otherwise takes the name literally: '/', '.', '..', '<>*?|"' and
 * backslashes, trailing ones included, are all part of it.  We keep that
 * and only reject what Linux cannot carry (NUL, invalid UTF-8).
 */
#include "core/name.h"
#include "proto/proto.h"
#include <npipe/npipe.h>
#include <string.h>

static int fold_eq(const char *a, const char *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char x = a[i], y = b[i];
                if (x >= 'a' && x <= 'z')
                        x = (char)(x - 32);
                if (y >= 'a' && y <= 'z')
                        y = (char)(y - 32);
                if (x != y)
                        return 0;
        }
        return 1;
}

/* Count UTF-8 characters; -1 when the bytes are not valid UTF-8. */
static long utf8_chars(const unsigned char *s, size_t n)
{
        long chars = 0;
        for (size_t i = 0; i < n;) {
                unsigned c = s[i];
                size_t k;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        chars++;
                        continue;
                }
                if ((c & 0xE0) == 0xC0) {
                        k = 1;
                        cp = c & 0x1F;
                } else if ((c & 0xF0) == 0xE0) {
                        k = 2;
                        cp = c & 0x0F;
                } else if ((c & 0xF8) == 0xF0) {
                        k = 3;
                        cp = c & 0x07;
                } else {
                        return -1;
                }
                if (i + k >= n) /* needs bytes i..i+k */
                        return -1;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xC0) != 0x80)
                                return -1;
                        cp = (cp << 6) | (s[i + j] & 0x3F);
                }
                if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
                    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return -1;
                i += k + 1;
                /* characters outside the BMP are two UTF-16 units on Windows */
                chars += cp >= 0x10000 ? 2 : 1;
        }
        return chars;
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
        if (len == 0)
                return NPIPE_EBADNAME;
        if (len > NP_NAME_MAX)
                return NPIPE_ENAMETOOLONG;
        long chars = utf8_chars((const unsigned char *)name, len);
        if (chars < 0)
                return NPIPE_EBADNAME;
        if ((unsigned long)chars > NP_NAME_MAX_CHARS)
                return NPIPE_ENAMETOOLONG;
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

void np_name_fold(const char *name, size_t len, char *out)
{
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                out[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
}
