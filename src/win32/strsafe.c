/*
 * strsafe.c - StringCch* and StringCb* (<strsafe.h>) for both widths.
 *
 * The rules, checked against the reference (test_win32_kernel32.c): a
 * size of 0 or above STRSAFE_MAX_CCH is E_INVALIDARG; whenever the size is
 * not 0 the destination ends up null-terminated; what does not fit is cut
 * at size - 1 units and the call says STRSAFE_E_INSUFFICIENT_BUFFER; a Cat
 * whose destination holds no terminator within its size is E_INVALIDARG
 * and leaves it alone; StringCchLength of a string that does not end
 * within cchMax (or of NULL) is E_INVALIDARG with a length of 0.  The Cb
 * forms are the Cch forms with the size in bytes (rounded down to whole
 * units).  One body serves both widths through the macros below.
 */
#include "win32/win32.h"
#include <npipe/win32/strsafe.h>

#include <stdlib.h>
#include <string.h>

static size_t ulen(const void *s, int wide, size_t max)
{
        size_t n = 0;
        if (wide) {
                const WCHAR *w = s;
                while (n < max && w[n])
                        n++;
        } else {
                n = strnlen(s, max);
        }
        return n;
}

static void uset0(void *d, int wide, size_t at)
{
        if (wide)
                ((WCHAR *)d)[at] = 0;
        else
                ((char *)d)[at] = 0;
}

/* Copy up to `max` units of src to d (size cch), terminated.  The cut is
 * reported. */
static HRESULT copy_n(void *d, size_t cch, const void *src, size_t max, int wide)
{
        if (cch == 0 || cch > STRSAFE_MAX_CCH || !d)
                return STRSAFE_E_INVALID_PARAMETER;
        size_t u = wide ? sizeof(WCHAR) : 1;
        if (!src)
                src = wide ? (const void *)u"" : "";
        size_t n = ulen(src, wide, max);
        HRESULT hr = S_OK;
        if (n > cch - 1) {
                n = cch - 1;
                hr = STRSAFE_E_INSUFFICIENT_BUFFER;
        }
        memmove(d, src, n * u);
        uset0(d, wide, n);
        return hr;
}

static HRESULT cat_n(void *d, size_t cch, const void *src, size_t max, int wide)
{
        if (cch == 0 || cch > STRSAFE_MAX_CCH || !d)
                return STRSAFE_E_INVALID_PARAMETER;
        size_t have = ulen(d, wide, cch);
        if (have == cch)
                return STRSAFE_E_INVALID_PARAMETER;
        size_t u = wide ? sizeof(WCHAR) : 1;
        return copy_n((char *)d + have * u, cch - have, src, max, wide);
}

static HRESULT length(const void *s, size_t max, size_t *out, int wide)
{
        if (out)
                *out = 0;
        if (!s || max == 0 || max > STRSAFE_MAX_CCH)
                return STRSAFE_E_INVALID_PARAMETER;
        size_t n = ulen(s, wide, max);
        if (n == max)
                return STRSAFE_E_INVALID_PARAMETER;
        if (out)
                *out = n;
        return S_OK;
}

static HRESULT vprint(void *d, size_t cch, const void *fmt, va_list ap, int wide)
{
        if (cch == 0 || cch > STRSAFE_MAX_CCH || !d)
                return STRSAFE_E_INVALID_PARAMETER;
        if (!fmt) {
                uset0(d, wide, 0);
                return STRSAFE_E_INVALID_PARAMETER;
        }
        size_t len;
        char *s = np_win_vformat(fmt, wide, wide, ap, &len);
        if (!s) {
                uset0(d, wide, 0);
                return E_OUTOFMEMORY;
        }
        HRESULT hr;
        if (wide) {
                WCHAR *w = np_win_utf8_to_utf16_dup(s, NULL);
                hr = w ? copy_n(d, cch, w, (size_t)-1, 1) : E_OUTOFMEMORY;
                free(w);
        } else {
                hr = copy_n(d, cch, s, (size_t)-1, 0);
        }
        free(s);
        return hr;
}

#define CB_A(cb) (cb)
#define CB_W(cb) ((cb) / sizeof(WCHAR))

#define STRSAFE_FNS(S, T, WIDE)                                                                    \
        NPIPE_WIN_API HRESULT npipe_win_StringCchCopy##S(T *pszDest, size_t cchDest,              \
                                                         const T *pszSrc)                          \
        {                                                                                          \
                return copy_n(pszDest, cchDest, pszSrc, (size_t)-1, WIDE);                        \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchCopyN##S(T *pszDest, size_t cchDest,             \
                                                          const T *pszSrc, size_t cchToCopy)       \
        {                                                                                          \
                if (cchToCopy > STRSAFE_MAX_CCH) {                                                 \
                        if (cchDest && cchDest <= STRSAFE_MAX_CCH && pszDest)                      \
                                uset0(pszDest, WIDE, 0);                                           \
                        return STRSAFE_E_INVALID_PARAMETER;                                        \
                }                                                                                  \
                return copy_n(pszDest, cchDest, pszSrc, cchToCopy, WIDE);                         \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchCat##S(T *pszDest, size_t cchDest,               \
                                                        const T *pszSrc)                           \
        {                                                                                          \
                return cat_n(pszDest, cchDest, pszSrc, (size_t)-1, WIDE);                         \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchCatN##S(T *pszDest, size_t cchDest,              \
                                                         const T *pszSrc, size_t cchToAppend)      \
        {                                                                                          \
                return cat_n(pszDest, cchDest, pszSrc, cchToAppend, WIDE);                        \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchLength##S(const T *psz, size_t cchMax,           \
                                                           size_t *pcchLength)                     \
        {                                                                                          \
                return length(psz, cchMax, pcchLength, WIDE);                                      \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchVPrintf##S(T *pszDest, size_t cchDest,           \
                                                            const T *pszFormat, va_list argList)   \
        {                                                                                          \
                return vprint(pszDest, cchDest, pszFormat, argList, WIDE);                         \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchPrintf##S(T *pszDest, size_t cchDest,            \
                                                           const T *pszFormat, ...)                \
        {                                                                                          \
                va_list ap;                                                                        \
                va_start(ap, pszFormat);                                                           \
                HRESULT hr = vprint(pszDest, cchDest, pszFormat, ap, WIDE);                        \
                va_end(ap);                                                                        \
                return hr;                                                                         \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCchCopyEx##S(T *pszDest, size_t cchDest,            \
                                                           const T *pszSrc, T **ppszDestEnd,       \
                                                           size_t *pcchRemaining, DWORD dwFlags)   \
        {                                                                                          \
                if ((dwFlags & STRSAFE_IGNORE_NULLS) && !pszDest && cchDest == 0)                  \
                        return S_OK;                                                               \
                HRESULT hr = copy_n(pszDest, cchDest, pszSrc, (size_t)-1, WIDE);                  \
                if (FAILED(hr) && pszDest && cchDest && cchDest <= STRSAFE_MAX_CCH &&              \
                    (dwFlags & (STRSAFE_NULL_ON_FAILURE | STRSAFE_NO_TRUNCATION)))                 \
                        uset0(pszDest, WIDE, 0);                                                   \
                if (SUCCEEDED(hr) || hr == STRSAFE_E_INSUFFICIENT_BUFFER) {                        \
                        size_t n = ulen(pszDest, WIDE, cchDest);                                   \
                        if (ppszDestEnd)                                                           \
                                *ppszDestEnd = pszDest + n;                                        \
                        if (pcchRemaining)                                                         \
                                *pcchRemaining = cchDest - n;                                      \
                }                                                                                  \
                return hr;                                                                         \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbCopy##S(T *pszDest, size_t cbDest,                \
                                                        const T *pszSrc)                           \
        {                                                                                          \
                return copy_n(pszDest, CB_##S(cbDest), pszSrc, (size_t)-1, WIDE);                 \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbCopyN##S(T *pszDest, size_t cbDest,               \
                                                         const T *pszSrc, size_t cbToCopy)         \
        {                                                                                          \
                return npipe_win_StringCchCopyN##S(pszDest, CB_##S(cbDest), pszSrc,               \
                                                   CB_##S(cbToCopy));                              \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbCat##S(T *pszDest, size_t cbDest,                 \
                                                       const T *pszSrc)                            \
        {                                                                                          \
                return cat_n(pszDest, CB_##S(cbDest), pszSrc, (size_t)-1, WIDE);                  \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbCatN##S(T *pszDest, size_t cbDest,                \
                                                        const T *pszSrc, size_t cbToAppend)        \
        {                                                                                          \
                return cat_n(pszDest, CB_##S(cbDest), pszSrc, CB_##S(cbToAppend), WIDE);          \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbLength##S(const T *psz, size_t cbMax,             \
                                                          size_t *pcbLength)                       \
        {                                                                                          \
                size_t n;                                                                          \
                HRESULT hr = length(psz, CB_##S(cbMax), &n, WIDE);                                 \
                if (pcbLength)                                                                     \
                        *pcbLength = n * sizeof(T);                                                \
                return hr;                                                                         \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbVPrintf##S(T *pszDest, size_t cbDest,             \
                                                           const T *pszFormat, va_list argList)    \
        {                                                                                          \
                return vprint(pszDest, CB_##S(cbDest), pszFormat, argList, WIDE);                  \
        }                                                                                          \
        NPIPE_WIN_API HRESULT npipe_win_StringCbPrintf##S(T *pszDest, size_t cbDest,              \
                                                          const T *pszFormat, ...)                 \
        {                                                                                          \
                va_list ap;                                                                        \
                va_start(ap, pszFormat);                                                           \
                HRESULT hr = vprint(pszDest, CB_##S(cbDest), pszFormat, ap, WIDE);                 \
                va_end(ap);                                                                        \
                return hr;                                                                         \
        }

STRSAFE_FNS(A, char, 0)
STRSAFE_FNS(W, WCHAR, 1)
