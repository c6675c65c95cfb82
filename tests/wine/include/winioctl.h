/* Forwards Wine's <winioctl.h> to npipe's Win32 header (tests/wine/README.md).
 * npipe has no FSCTL codes: the checks that need them are disabled by the
 * edits file, not stubbed here. */
#ifndef NPIPE_WINETEST_WINIOCTL_H
#define NPIPE_WINETEST_WINIOCTL_H
#include <npipe/windows.h>
#endif
