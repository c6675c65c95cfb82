/*
 * <strsafe.h> for Windows sources built against npipe: the StringCch* and
 * StringCb* functions with the Windows results.  Every function null-
 * terminates its destination whenever its size is not 0; a result that
 * does not fit is truncated and reported as STRSAFE_E_INSUFFICIENT_BUFFER;
 * sizes of 0 or above STRSAFE_MAX_CCH are E_INVALIDARG (docs/win32.md).
 * The Printf forms format as wsprintf does (%s is a string of the
 * function's own width).  Implemented in src/win32/strsafe.c.
 */
#ifndef NPIPE_WIN32_STRSAFE_H
#define NPIPE_WIN32_STRSAFE_H

#include <npipe/windows.h>

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRSAFE_MAX_CCH               2147483647
#define STRSAFE_E_INSUFFICIENT_BUFFER ((HRESULT)0x8007007AL)
#define STRSAFE_E_INVALID_PARAMETER   ((HRESULT)0x80070057L)
#define STRSAFE_E_END_OF_FILE         ((HRESULT)0x80070026L)
#define STRSAFE_IGNORE_NULLS          0x00000100u
#define STRSAFE_FILL_BEHIND_NULL      0x00000200u
#define STRSAFE_FILL_ON_FAILURE       0x00000400u
#define STRSAFE_NULL_ON_FAILURE       0x00000800u
#define STRSAFE_NO_TRUNCATION         0x00001000u

typedef char *STRSAFE_LPSTR;
typedef const char *STRSAFE_LPCSTR;
typedef WCHAR *STRSAFE_LPWSTR;
typedef const WCHAR *STRSAFE_LPCWSTR;
NPIPE_WIN_API HRESULT npipe_win_StringCchCopyA(char *pszDest, size_t cchDest, const char *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCchCopyW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCchCopyNA(char *pszDest, size_t cchDest, const char *pszSrc, size_t cchToCopy);
NPIPE_WIN_API HRESULT npipe_win_StringCchCopyNW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszSrc, size_t cchToCopy);
NPIPE_WIN_API HRESULT npipe_win_StringCchCatA(char *pszDest, size_t cchDest, const char *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCchCatW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCchCatNA(char *pszDest, size_t cchDest, const char *pszSrc, size_t cchToAppend);
NPIPE_WIN_API HRESULT npipe_win_StringCchCatNW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszSrc, size_t cchToAppend);
NPIPE_WIN_API HRESULT npipe_win_StringCchLengthA(const char *psz, size_t cchMax, size_t *pcchLength);
NPIPE_WIN_API HRESULT npipe_win_StringCchLengthW(const WCHAR *psz, size_t cchMax, size_t *pcchLength);
NPIPE_WIN_API HRESULT npipe_win_StringCchPrintfA(char *pszDest, size_t cchDest, const char *pszFormat, ...);
NPIPE_WIN_API HRESULT npipe_win_StringCchPrintfW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszFormat, ...);
NPIPE_WIN_API HRESULT npipe_win_StringCchVPrintfA(char *pszDest, size_t cchDest, const char *pszFormat, va_list argList);
NPIPE_WIN_API HRESULT npipe_win_StringCchVPrintfW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszFormat, va_list argList);
NPIPE_WIN_API HRESULT npipe_win_StringCchCopyExA(char *pszDest, size_t cchDest, const char *pszSrc, char **ppszDestEnd, size_t *pcchRemaining, DWORD dwFlags);
NPIPE_WIN_API HRESULT npipe_win_StringCchCopyExW(WCHAR *pszDest, size_t cchDest, const WCHAR *pszSrc, WCHAR **ppszDestEnd, size_t *pcchRemaining, DWORD dwFlags);
NPIPE_WIN_API HRESULT npipe_win_StringCbCopyA(char *pszDest, size_t cbDest, const char *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCbCopyW(WCHAR *pszDest, size_t cbDest, const WCHAR *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCbCopyNA(char *pszDest, size_t cbDest, const char *pszSrc, size_t cbToCopy);
NPIPE_WIN_API HRESULT npipe_win_StringCbCopyNW(WCHAR *pszDest, size_t cbDest, const WCHAR *pszSrc, size_t cbToCopy);
NPIPE_WIN_API HRESULT npipe_win_StringCbCatA(char *pszDest, size_t cbDest, const char *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCbCatW(WCHAR *pszDest, size_t cbDest, const WCHAR *pszSrc);
NPIPE_WIN_API HRESULT npipe_win_StringCbCatNA(char *pszDest, size_t cbDest, const char *pszSrc, size_t cbToAppend);
NPIPE_WIN_API HRESULT npipe_win_StringCbCatNW(WCHAR *pszDest, size_t cbDest, const WCHAR *pszSrc, size_t cbToAppend);
NPIPE_WIN_API HRESULT npipe_win_StringCbLengthA(const char *psz, size_t cbMax, size_t *pcbLength);
NPIPE_WIN_API HRESULT npipe_win_StringCbLengthW(const WCHAR *psz, size_t cbMax, size_t *pcbLength);
NPIPE_WIN_API HRESULT npipe_win_StringCbPrintfA(char *pszDest, size_t cbDest, const char *pszFormat, ...);
NPIPE_WIN_API HRESULT npipe_win_StringCbPrintfW(WCHAR *pszDest, size_t cbDest, const WCHAR *pszFormat, ...);
NPIPE_WIN_API HRESULT npipe_win_StringCbVPrintfA(char *pszDest, size_t cbDest, const char *pszFormat, va_list argList);
NPIPE_WIN_API HRESULT npipe_win_StringCbVPrintfW(WCHAR *pszDest, size_t cbDest, const WCHAR *pszFormat, va_list argList);

#define StringCchCopyA       npipe_win_StringCchCopyA
#define StringCchCopyW       npipe_win_StringCchCopyW
#define StringCchCopyNA      npipe_win_StringCchCopyNA
#define StringCchCopyNW      npipe_win_StringCchCopyNW
#define StringCchCatA        npipe_win_StringCchCatA
#define StringCchCatW        npipe_win_StringCchCatW
#define StringCchCatNA       npipe_win_StringCchCatNA
#define StringCchCatNW       npipe_win_StringCchCatNW
#define StringCchLengthA     npipe_win_StringCchLengthA
#define StringCchLengthW     npipe_win_StringCchLengthW
#define StringCchPrintfA     npipe_win_StringCchPrintfA
#define StringCchPrintfW     npipe_win_StringCchPrintfW
#define StringCchVPrintfA    npipe_win_StringCchVPrintfA
#define StringCchVPrintfW    npipe_win_StringCchVPrintfW
#define StringCchCopyExA     npipe_win_StringCchCopyExA
#define StringCchCopyExW     npipe_win_StringCchCopyExW
#define StringCbCopyA        npipe_win_StringCbCopyA
#define StringCbCopyW        npipe_win_StringCbCopyW
#define StringCbCopyNA       npipe_win_StringCbCopyNA
#define StringCbCopyNW       npipe_win_StringCbCopyNW
#define StringCbCatA         npipe_win_StringCbCatA
#define StringCbCatW         npipe_win_StringCbCatW
#define StringCbCatNA        npipe_win_StringCbCatNA
#define StringCbCatNW        npipe_win_StringCbCatNW
#define StringCbLengthA      npipe_win_StringCbLengthA
#define StringCbLengthW      npipe_win_StringCbLengthW
#define StringCbPrintfA      npipe_win_StringCbPrintfA
#define StringCbPrintfW      npipe_win_StringCbPrintfW
#define StringCbVPrintfA     npipe_win_StringCbVPrintfA
#define StringCbVPrintfW     npipe_win_StringCbVPrintfW

#ifdef UNICODE
#define StringCchCopy       StringCchCopyW
#define StringCchCopyN      StringCchCopyNW
#define StringCchCat        StringCchCatW
#define StringCchCatN       StringCchCatNW
#define StringCchLength     StringCchLengthW
#define StringCchPrintf     StringCchPrintfW
#define StringCchVPrintf    StringCchVPrintfW
#define StringCchCopyEx     StringCchCopyExW
#define StringCbCopy        StringCbCopyW
#define StringCbCopyN       StringCbCopyNW
#define StringCbCat         StringCbCatW
#define StringCbCatN        StringCbCatNW
#define StringCbLength      StringCbLengthW
#define StringCbPrintf      StringCbPrintfW
#define StringCbVPrintf     StringCbVPrintfW
#else
#define StringCchCopy       StringCchCopyA
#define StringCchCopyN      StringCchCopyNA
#define StringCchCat        StringCchCatA
#define StringCchCatN       StringCchCatNA
#define StringCchLength     StringCchLengthA
#define StringCchPrintf     StringCchPrintfA
#define StringCchVPrintf    StringCchVPrintfA
#define StringCchCopyEx     StringCchCopyExA
#define StringCbCopy        StringCbCopyA
#define StringCbCopyN       StringCbCopyNA
#define StringCbCat         StringCbCatA
#define StringCbCatN        StringCbCatNA
#define StringCbLength      StringCbLengthA
#define StringCbPrintf      StringCbPrintfA
#define StringCbVPrintf     StringCbVPrintfA
#endif

#ifdef __cplusplus
}
#endif

#endif
