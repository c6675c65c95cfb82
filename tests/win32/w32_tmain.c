/*
 * w32_tmain.c - the entry points of Windows sources built against npipe's
 * <tchar.h>: _tmain(int argc, TCHAR *argv[]) with its arguments, and
 * _tmain(VOID) / _tmain(), the form of Windows samples that take none
 * (the overlapped and completion-routine pipe servers), in ANSI and
 * UNICODE builds (tests/win32/meson.build builds each).  Exit 0 when the
 * program's own _tmain ran; npipe's weak main() says "no main, wmain or
 * _tmain" and exits 1 when it found none.
 *
 *   w32_tmain x    (the argc/argv form checks that it got "x")
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>

#if defined(W32_TMAIN_VOID)
int _tmain(VOID)
{
        _tprintf(TEXT("%s\n"), TEXT("_tmain(VOID) ran"));
        return 0;
}
#elif defined(W32_TMAIN_EMPTY)
int _tmain()
{
        _tprintf(TEXT("%s\n"), TEXT("_tmain() ran"));
        return 0;
}
#else
int _tmain(int argc, TCHAR *argv[]);
int _tmain(int argc, TCHAR *argv[])
{
        if (argc != 2 || lstrcmp(argv[1], TEXT("x")) != 0) {
                _tprintf(TEXT("_tmain(argc, argv): want one argument \"x\", got %d arguments\n"),
                         argc);
                return 1;
        }
        _tprintf(TEXT("_tmain(argc, argv) ran with \"%s\"\n"), argv[1]);
        return 0;
}
#endif
