/*
 * string.c - the kernel32 string helpers: lstrlen, lstrcpy, lstrcpyn,
 * lstrcat, lstrcmp, lstrcmpi (A: UTF-8, W: UTF-16), MultiByteToWideChar,
 * WideCharToMultiByte and wsprintf.
 *
 * lstrcmp and lstrcmpi are not strcmp: Windows compares with the
 * linguistic "word sort" of CompareString, and programs see its order
 * when they sort names.  The order here is that of the reference (Wine,
 * tests/win32/test_win32_kernel32.c) for what pipe programs compare -
 * ASCII and the Latin-1 letters - in four levels, each looked at only
 * when the ones before it tie:
 *   1. the letters and digits and symbols, with case and accents folded;
 *      the hyphen and the apostrophe do not count (so "co-op" sorts next
 *      to "coop"); symbols sort before digits, digits before letters;
 *   2. accents (a < ä);
 *   3. case, lower before upper (lstrcmpi stops before this level);
 *   4. the hyphens and apostrophes that level 1 skipped.
 * Characters beyond Latin-1 sort after every letter, by code point.
 */
#include "win32/win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Symbols in the reference's order (space first).  ' and - are level 4. */
static const char symbol_order[] = " !\"#$%&()*,./:;?@[\\]^_`{|}~+<=>";

struct weight {
        uint32_t primary; /* 0: ignored at level 1 (hyphen, apostrophe) */
        uint8_t accent;
        uint8_t upper;
        uint8_t level4;
};

/* Latin-1 letters with accents: their base letter and an accent rank. */
static const char latin1_base[] = "AAAAAAACEEEEIIII" /* C0..CF */
                                  "DNOOOOO*OUUUUYTs" /* D0..DF */
                                  "aaaaaaaceeeeiiii" /* E0..EF */
                                  "dnooooo/ouuuuyty";  /* F0..FF */

static struct weight weigh(uint32_t c)
{
        struct weight w = {0, 0, 0, 0};
        if (c == '-' || c == '\'') {
                w.level4 = c == '\'' ? 1 : 2;
                return w;
        }
        if (c >= 0xC0 && c <= 0xFF && latin1_base[c - 0xC0] != '*' &&
            latin1_base[c - 0xC0] != '/') {
                char base = latin1_base[c - 0xC0];
                w = weigh((unsigned char)base);
                /* the accent rank: position within the letter's run */
                w.accent = (uint8_t)(1 + ((c - 0xC0) & 0x1F) % 8);
                w.upper = c < 0xE0;
                return w;
        }
        const char *sym = c && c < 0x80 ? strchr(symbol_order, (int)c) : NULL;
        if (sym) {
                w.primary = 1 + (uint32_t)(sym - symbol_order);
        } else if (c >= '0' && c <= '9') {
                w.primary = 0x100 + (c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
                w.primary = 0x200 + ((c | 0x20) - 'a');
                w.upper = c < 'a';
        } else {
                w.primary = 0x1000 + c;
        }
        return w;
}

/* Code points of either width. */
struct cp_iter {
        const void *s;
        int wide;
        size_t i;
};

static uint32_t next_cp(struct cp_iter *it)
{
        if (it->wide) {
                const WCHAR *w = it->s;
                uint32_t c = w[it->i];
                if (!c)
                        return 0;
                it->i++;
                if (c >= 0xD800 && c < 0xDC00 && w[it->i] >= 0xDC00 && w[it->i] < 0xE000)
                        c = 0x10000 + ((c - 0xD800) << 10) + (w[it->i++] - 0xDC00);
                return c;
        }
        const unsigned char *u = it->s;
        uint32_t c = u[it->i];
        if (!c)
                return 0;
        /* well-formed UTF-8 decoded; other bytes count as Latin-1 */
        int n = c >= 0xF0 && c < 0xF5 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : 0;
        if (c >= 0x80 && n) {
                uint32_t v = c & (0x3Fu >> n);
                int k;
                for (k = 1; k <= n; k++) {
                        if ((u[it->i + k] & 0xC0) != 0x80)
                                break;
                        v = (v << 6) | (u[it->i + k] & 0x3F);
                }
                if (k > n) {
                        it->i += (size_t)n + 1;
                        return v;
                }
        }
        it->i++;
        return c;
}

/* One level of the comparison: the sequence of that level's weights. */
static int compare_level(const void *a, const void *b, int wide, int level)
{
        struct cp_iter ia = {a, wide, 0}, ib = {b, wide, 0};
        for (;;) {
                uint32_t wa = 0, wb = 0;
                int ea = 1, eb = 1;
                uint32_t c;
                /* the next character that has a weight at this level */
                while ((c = next_cp(&ia))) {
                        struct weight w = weigh(c);
                        if (level == 4 ? w.level4 != 0 : w.primary != 0) {
                                wa = level == 1 ? w.primary
                                   : level == 2 ? w.accent
                                   : level == 3 ? w.upper
                                                : w.level4;
                                ea = 0;
                                break;
                        }
                }
                while ((c = next_cp(&ib))) {
                        struct weight w = weigh(c);
                        if (level == 4 ? w.level4 != 0 : w.primary != 0) {
                                wb = level == 1 ? w.primary
                                   : level == 2 ? w.accent
                                   : level == 3 ? w.upper
                                                : w.level4;
                                eb = 0;
                                break;
                        }
                }
                if (ea || eb)
                        return ea && eb ? 0 : ea ? -1 : 1;
                if (wa != wb)
                        return wa < wb ? -1 : 1;
        }
}

static int compare(const void *a, const void *b, int wide, int ignore_case)
{
        /* NULL sorts before everything, two NULLs are equal */
        if (!a || !b)
                return a == b ? 0 : a ? 1 : -1;
        for (int level = 1; level <= 4; level++) {
                if (ignore_case && level == 3)
                        continue;
                int r = compare_level(a, b, wide, level);
                if (r)
                        return r;
        }
        return 0;
}

NPIPE_WIN_API int WINAPI npipe_win_lstrcmpA(LPCSTR lpString1, LPCSTR lpString2)
{
        return compare(lpString1, lpString2, 0, 0);
}

NPIPE_WIN_API int WINAPI npipe_win_lstrcmpW(LPCWSTR lpString1, LPCWSTR lpString2)
{
        return compare(lpString1, lpString2, 1, 0);
}

NPIPE_WIN_API int WINAPI npipe_win_lstrcmpiA(LPCSTR lpString1, LPCSTR lpString2)
{
        return compare(lpString1, lpString2, 0, 1);
}

NPIPE_WIN_API int WINAPI npipe_win_lstrcmpiW(LPCWSTR lpString1, LPCWSTR lpString2)
{
        return compare(lpString1, lpString2, 1, 1);
}

NPIPE_WIN_API int WINAPI npipe_win_lstrlenA(LPCSTR lpString)
{
        return lpString ? (int)strlen(lpString) : 0;
}

NPIPE_WIN_API int WINAPI npipe_win_lstrlenW(LPCWSTR lpString)
{
        int n = 0;
        if (lpString)
                while (lpString[n])
                        n++;
        return n;
}

NPIPE_WIN_API LPSTR WINAPI npipe_win_lstrcpyA(LPSTR lpString1, LPCSTR lpString2)
{
        if (!lpString1 || !lpString2)
                return NULL;
        memmove(lpString1, lpString2, strlen(lpString2) + 1);
        return lpString1;
}

NPIPE_WIN_API LPWSTR WINAPI npipe_win_lstrcpyW(LPWSTR lpString1, LPCWSTR lpString2)
{
        if (!lpString1 || !lpString2)
                return NULL;
        memmove(lpString1, lpString2, ((size_t)npipe_win_lstrlenW(lpString2) + 1) * sizeof(WCHAR));
        return lpString1;
}

/* lstrcpyn: at most iMaxLength units including the terminating 0, which is
 * always written (the copy is cut, not failed). */
NPIPE_WIN_API LPSTR WINAPI npipe_win_lstrcpynA(LPSTR lpString1, LPCSTR lpString2, int iMaxLength)
{
        if (!lpString1 || !lpString2 || iMaxLength <= 0)
                return iMaxLength == 0 && lpString1 ? lpString1 : NULL;
        size_t n = strnlen(lpString2, (size_t)iMaxLength - 1);
        memmove(lpString1, lpString2, n);
        lpString1[n] = 0;
        return lpString1;
}

NPIPE_WIN_API LPWSTR WINAPI npipe_win_lstrcpynW(LPWSTR lpString1, LPCWSTR lpString2,
                                                int iMaxLength)
{
        if (!lpString1 || !lpString2 || iMaxLength <= 0)
                return iMaxLength == 0 && lpString1 ? lpString1 : NULL;
        int n = 0;
        while (n < iMaxLength - 1 && lpString2[n])
                n++;
        memmove(lpString1, lpString2, (size_t)n * sizeof(WCHAR));
        lpString1[n] = 0;
        return lpString1;
}

NPIPE_WIN_API LPSTR WINAPI npipe_win_lstrcatA(LPSTR lpString1, LPCSTR lpString2)
{
        if (!lpString1 || !lpString2)
                return NULL;
        npipe_win_lstrcpyA(lpString1 + strlen(lpString1), lpString2);
        return lpString1;
}

NPIPE_WIN_API LPWSTR WINAPI npipe_win_lstrcatW(LPWSTR lpString1, LPCWSTR lpString2)
{
        if (!lpString1 || !lpString2)
                return NULL;
        npipe_win_lstrcpyW(lpString1 + npipe_win_lstrlenW(lpString1), lpString2);
        return lpString1;
}

/* ---- code pages: CP_ACP, CP_OEMCP and CP_UTF8 are all UTF-8 here ---------------------------- */

NPIPE_WIN_API int WINAPI npipe_win_MultiByteToWideChar(UINT CodePage, DWORD dwFlags,
                                                       LPCSTR lpMultiByteStr, int cbMultiByte,
                                                       LPWSTR lpWideCharStr, int cchWideChar)
{
        (void)dwFlags;
        if (CodePage != CP_ACP && CodePage != CP_OEMCP && CodePage != CP_UTF8) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return 0;
        }
        if (!lpMultiByteStr || cbMultiByte == 0 || cchWideChar < 0 ||
            (cchWideChar && !lpWideCharStr)) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return 0;
        }
        /* -1: through the terminating 0, which is counted */
        size_t len = cbMultiByte < 0 ? strlen(lpMultiByteStr) + 1 : (size_t)cbMultiByte;
        char *tmp = malloc(len + 1);
        if (!tmp) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return 0;
        }
        /* converted piecewise at embedded zeros, which count as characters */
        size_t total = 0;
        size_t i = 0;
        int ok = 1;
        while (i < len) {
                size_t seg = strnlen(lpMultiByteStr + i, len - i);
                memcpy(tmp, lpMultiByteStr + i, seg);
                tmp[seg] = 0;
                size_t units = np_win_utf8_to_utf16(tmp, NULL, 0) - 1;
                int has_zero = i + seg < len;
                size_t need = units + (has_zero ? 1 : 0);
                if (cchWideChar) {
                        if (total + need > (size_t)cchWideChar) {
                                ok = 0;
                                break;
                        }
                        WCHAR *w = malloc((units + 1) * sizeof(WCHAR));
                        if (!w) {
                                free(tmp);
                                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                                return 0;
                        }
                        np_win_utf8_to_utf16(tmp, w, units + 1);
                        memcpy(lpWideCharStr + total, w, units * sizeof(WCHAR));
                        free(w);
                        if (has_zero)
                                lpWideCharStr[total + units] = 0;
                }
                total += need;
                i += seg + (has_zero ? 1 : 0);
        }
        free(tmp);
        if (!ok || total > INT32_MAX) {
                np_win_set_error(ERROR_INSUFFICIENT_BUFFER);
                return 0;
        }
        return (int)total;
}

NPIPE_WIN_API int WINAPI npipe_win_WideCharToMultiByte(UINT CodePage, DWORD dwFlags,
                                                       LPCWSTR lpWideCharStr, int cchWideChar,
                                                       LPSTR lpMultiByteStr, int cbMultiByte,
                                                       LPCSTR lpDefaultChar,
                                                       LPBOOL lpUsedDefaultChar)
{
        (void)dwFlags;
        (void)lpDefaultChar;
        if (CodePage != CP_ACP && CodePage != CP_OEMCP && CodePage != CP_UTF8) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return 0;
        }
        if (!lpWideCharStr || cchWideChar == 0 || cbMultiByte < 0 ||
            (cbMultiByte && !lpMultiByteStr)) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return 0;
        }
        if (lpUsedDefaultChar)
                *lpUsedDefaultChar = FALSE;
        size_t units = cchWideChar < 0 ? (size_t)npipe_win_lstrlenW(lpWideCharStr) + 1
                                       : (size_t)cchWideChar;
        /* embedded zeros stay: convert unit runs between them */
        size_t total = 0;
        for (size_t i = 0; i < units;) {
                size_t seg = 0;
                while (i + seg < units && lpWideCharStr[i + seg])
                        seg++;
                char *u = np_win_utf16_to_utf8_lenient(lpWideCharStr + i, seg);
                if (!u) {
                        np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                        return 0;
                }
                size_t n = strlen(u);
                int has_zero = i + seg < units;
                size_t need = n + (has_zero ? 1 : 0);
                if (cbMultiByte) {
                        if (total + need > (size_t)cbMultiByte) {
                                free(u);
                                np_win_set_error(ERROR_INSUFFICIENT_BUFFER);
                                return 0;
                        }
                        memcpy(lpMultiByteStr + total, u, n);
                        if (has_zero)
                                lpMultiByteStr[total + n] = 0;
                }
                free(u);
                total += need;
                i += seg + (has_zero ? 1 : 0);
        }
        return (int)total;
}

/* ---- wsprintf: at most 1024 units, as Windows writes ------------------------------------------ */

#define WSPRINTF_MAX 1024

NPIPE_WIN_API int WINAPI npipe_win_wvsprintfA(LPSTR lpOut, LPCSTR lpFmt, va_list arglist)
{
        size_t len;
        char *s = np_win_vformat(lpFmt, 0, 0, arglist, &len);
        if (!s)
                return -1;
        if (len > WSPRINTF_MAX - 1)
                len = WSPRINTF_MAX - 1;
        memcpy(lpOut, s, len);
        lpOut[len] = 0;
        free(s);
        return (int)len;
}

NPIPE_WIN_API int WINAPI npipe_win_wvsprintfW(LPWSTR lpOut, LPCWSTR lpFmt, va_list arglist)
{
        size_t len, units;
        char *s = np_win_vformat(lpFmt, 1, 1, arglist, &len);
        WCHAR *w = s ? np_win_utf8_to_utf16_dup(s, &units) : NULL;
        free(s);
        if (!w)
                return -1;
        if (units > WSPRINTF_MAX - 1)
                units = WSPRINTF_MAX - 1;
        memcpy(lpOut, w, units * sizeof(WCHAR));
        lpOut[units] = 0;
        free(w);
        return (int)units;
}

NPIPE_WIN_API int WINAPI npipe_win_wsprintfA(LPSTR lpOut, LPCSTR lpFmt, ...)
{
        va_list ap;
        va_start(ap, lpFmt);
        int r = npipe_win_wvsprintfA(lpOut, lpFmt, ap);
        va_end(ap);
        return r;
}

NPIPE_WIN_API int WINAPI npipe_win_wsprintfW(LPWSTR lpOut, LPCWSTR lpFmt, ...)
{
        va_list ap;
        va_start(ap, lpFmt);
        int r = npipe_win_wvsprintfW(lpOut, lpFmt, ap);
        va_end(ap);
        return r;
}
