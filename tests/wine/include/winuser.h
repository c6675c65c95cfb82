/* Forwards Wine's <winuser.h> (included by dlls/ntdll/tests/pipe.c) to npipe's
 * Win32 header (tests/wine/README.md). */
#ifndef NPIPE_WINETEST_WINUSER_H
#define NPIPE_WINETEST_WINUSER_H
#include <npipe/windows.h>
#endif
