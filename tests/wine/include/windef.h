/* Forwards Wine's <windef.h> to npipe's Win32 header (tests/wine/README.md). */
#ifndef NPIPE_WINETEST_WINDEF_H
#define NPIPE_WINETEST_WINDEF_H
#include <npipe/windows.h>
#endif
