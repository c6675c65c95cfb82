/*
 * <tchar.h> for Windows sources built against npipe: the _t names of the C
 * library follow UNICODE (or _UNICODE) as with the Windows SDK.
 *
 * Without UNICODE a TCHAR is a char and the _t names are the C library's.
 * With UNICODE a TCHAR is a 16-bit WCHAR, which the C library's wide
 * functions (32-bit wchar_t) cannot take: the _t names then reach npipe's
 * own UTF-16 versions (npipe_win_wcs*, npipe_win_wprintf & co., whose %s is
 * a WCHAR string as in the Microsoft C library), and _tmain is entered
 * with the arguments converted from UTF-8 to UTF-16.
 */
#ifndef NPIPE_WIN32_TCHAR_H
#define NPIPE_WIN32_TCHAR_H

#include <npipe/windows.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef __cplusplus
extern "C" {
#endif

#define _T(x)    TEXT(x)
#define _TEXT(x) TEXT(x)
typedef TCHAR _TCHAR;
typedef TCHAR _TSCHAR;
typedef TCHAR _TUCHAR;
typedef TCHAR _TXCHAR;
typedef int _TINT;

/* the UTF-16 C-library subset (src/win32/tcrt.c) */
NPIPE_WIN_API size_t npipe_win_wcslen(const WCHAR *s);
NPIPE_WIN_API WCHAR *npipe_win_wcscpy(WCHAR *d, const WCHAR *s);
NPIPE_WIN_API WCHAR *npipe_win_wcsncpy(WCHAR *d, const WCHAR *s, size_t n);
NPIPE_WIN_API WCHAR *npipe_win_wcscat(WCHAR *d, const WCHAR *s);
NPIPE_WIN_API WCHAR *npipe_win_wcsncat(WCHAR *d, const WCHAR *s, size_t n);
NPIPE_WIN_API int npipe_win_wcscmp(const WCHAR *a, const WCHAR *b);
NPIPE_WIN_API int npipe_win_wcsncmp(const WCHAR *a, const WCHAR *b, size_t n);
NPIPE_WIN_API int npipe_win_wcsicmp(const WCHAR *a, const WCHAR *b);
NPIPE_WIN_API int npipe_win_wcsnicmp(const WCHAR *a, const WCHAR *b, size_t n);
NPIPE_WIN_API WCHAR *npipe_win_wcschr(const WCHAR *s, WCHAR c);
NPIPE_WIN_API WCHAR *npipe_win_wcsrchr(const WCHAR *s, WCHAR c);
NPIPE_WIN_API WCHAR *npipe_win_wcsstr(const WCHAR *s, const WCHAR *sub);
NPIPE_WIN_API WCHAR *npipe_win_wcsdup(const WCHAR *s);
NPIPE_WIN_API long npipe_win_wcstol(const WCHAR *s, WCHAR **end, int base);
NPIPE_WIN_API unsigned long npipe_win_wcstoul(const WCHAR *s, WCHAR **end, int base);
NPIPE_WIN_API int npipe_win_wtoi(const WCHAR *s);
NPIPE_WIN_API int npipe_win_wprintf(const WCHAR *fmt, ...);
NPIPE_WIN_API int npipe_win_vwprintf(const WCHAR *fmt, va_list ap);
NPIPE_WIN_API int npipe_win_fwprintf(FILE *f, const WCHAR *fmt, ...);
NPIPE_WIN_API int npipe_win_vfwprintf(FILE *f, const WCHAR *fmt, va_list ap);
NPIPE_WIN_API int npipe_win_snwprintf(WCHAR *buf, size_t count, const WCHAR *fmt, ...);
NPIPE_WIN_API int npipe_win_vsnwprintf(WCHAR *buf, size_t count, const WCHAR *fmt, va_list ap);
NPIPE_WIN_API int npipe_win_fputws(const WCHAR *s, FILE *f);
NPIPE_WIN_API WCHAR *npipe_win_fgetws(WCHAR *s, int n, FILE *f);
NPIPE_WIN_API int npipe_win_wmain_run(int argc, char **argv, int (*wmain)(int, WCHAR **));

#if defined(UNICODE)

#define _tcslen   npipe_win_wcslen
#define _tcscpy   npipe_win_wcscpy
#define _tcsncpy  npipe_win_wcsncpy
#define _tcscat   npipe_win_wcscat
#define _tcsncat  npipe_win_wcsncat
#define _tcscmp   npipe_win_wcscmp
#define _tcsncmp  npipe_win_wcsncmp
#define _tcsicmp  npipe_win_wcsicmp
#define _tcsnicmp npipe_win_wcsnicmp
#define _tcschr   npipe_win_wcschr
#define _tcsrchr  npipe_win_wcsrchr
#define _tcsstr   npipe_win_wcsstr
#define _tcsdup   npipe_win_wcsdup
#define _tcstol   npipe_win_wcstol
#define _tcstoul  npipe_win_wcstoul
#define _ttoi     npipe_win_wtoi
#define _tstoi    npipe_win_wtoi
#define _ttol     npipe_win_wtoi
#define _tprintf  npipe_win_wprintf
#define _vtprintf npipe_win_vwprintf
#define _ftprintf npipe_win_fwprintf
#define _vftprintf npipe_win_vfwprintf
#define _sntprintf npipe_win_snwprintf
#define _vsntprintf npipe_win_vsnwprintf
#define _fputts   npipe_win_fputws
#define _fgetts   npipe_win_fgetws

/* _tmain(argc, argv) becomes the program's wmain, entered from the main()
 * below with UTF-16 arguments; _tmain(VOID) (or _tmain()), the form of
 * Windows samples that take no arguments, is entered without them.  The
 * parameter list picks the name: _tmain and wmain are function-like macros
 * that count their parameters (the three-parameter form with envp is not
 * supported).  main is weak so that a program that has a main() of its own
 * keeps it (and its wmain stays an ordinary function). */
#define NPIPE_WIN_TMAIN_PICK_(p1, p2, p3, name, ...) name
#define NPIPE_WIN_TMAIN_(...)                                                                      \
        NPIPE_WIN_TMAIN_PICK_(__VA_ARGS__, npipe_win_tmain_envp_unsupported, npipe_win_tmain,      \
                              npipe_win_tmain0, npipe_win_tmain0)(__VA_ARGS__)
#define _tmain(...) NPIPE_WIN_TMAIN_(__VA_ARGS__)
#define wmain(...)  NPIPE_WIN_TMAIN_(__VA_ARGS__)
int npipe_win_tmain(int argc, WCHAR *argv[]) __attribute__((weak));
int npipe_win_tmain0(void) __attribute__((weak));
__attribute__((weak)) int main(int argc, char **argv);
__attribute__((weak)) int main(int argc, char **argv)
{
        if (!npipe_win_tmain && npipe_win_tmain0)
                return npipe_win_tmain0();
        return npipe_win_wmain_run(argc, argv, npipe_win_tmain);
}

#else

#define _tcslen    strlen
#define _tcscpy    strcpy
#define _tcsncpy   strncpy
#define _tcscat    strcat
#define _tcsncat   strncat
#define _tcscmp    strcmp
#define _tcsncmp   strncmp
#define _tcsicmp   strcasecmp
#define _tcsnicmp  strncasecmp
#define _tcschr    strchr
#define _tcsrchr   strrchr
#define _tcsstr    strstr
#define _tcsdup    strdup
#define _tcstol    strtol
#define _tcstoul   strtoul
#define _ttoi      atoi
#define _tstoi     atoi
#define _ttol      atol
#define _tprintf   printf
#define _vtprintf  vprintf
#define _ftprintf  fprintf
#define _vftprintf vfprintf
#define _sntprintf snprintf
#define _vsntprintf vsnprintf
#define _fputts    fputs
#define _fgetts    fgets
#define _tmain     main

#endif

#ifdef __cplusplus
}
#endif

#endif
