/*
 * <conio.h> for Windows sources built against npipe: the console calls the
 * pipe samples make (_getch to wait for a key, _kbhit), over standard input.
 */
#ifndef NPIPE_WIN32_CONIO_H
#define NPIPE_WIN32_CONIO_H

#include <npipe/windows.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One byte of standard input, without echo and without waiting for a
 * newline when it is a terminal; EOF (-1) at the end of the input. */
NPIPE_WIN_API int npipe_win_getch(void);
/* Non-zero when a byte can be read from standard input without blocking. */
NPIPE_WIN_API int npipe_win_kbhit(void);

#define _getch npipe_win_getch
#define getch  npipe_win_getch
#define _kbhit npipe_win_kbhit
#define kbhit  npipe_win_kbhit

#ifdef __cplusplus
}
#endif

#endif
