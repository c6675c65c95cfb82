/* Forwards Wine's <ntstatus.h> to npipe's Win32 header (tests/wine/README.md):
 * it has the STATUS_* values the test compares OVERLAPPED.Internal with. */
#ifndef NPIPE_WINETEST_NTSTATUS_H
#define NPIPE_WINETEST_NTSTATUS_H
#include <npipe/windows.h>
#endif
