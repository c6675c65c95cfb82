/* Forwards Wine's <windef.h> to npipe's Win32 header (tests/wine/README.md). */
#ifndef NPIPE_WINETEST_WINDEF_H
#define NPIPE_WINETEST_WINDEF_H
#include <npipe/windows.h>

/* Windows constants the test uses that npipe/windows.h does not define (yet):
 * the Windows values, and only where npipe has none. */
#ifndef MAX_PATH
#define MAX_PATH 260
#endif

#endif
