/* Forwards Wine's <winbase.h> to npipe's Win32 header (tests/wine/README.md). */
#ifndef NPIPE_WINETEST_WINBASE_H
#define NPIPE_WINETEST_WINBASE_H
#include <npipe/windows.h>
#endif
