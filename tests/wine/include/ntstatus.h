/* Forwards Wine's <ntstatus.h> to npipe's Win32 header (tests/wine/README.md). */
#ifndef NPIPE_WINETEST_NTSTATUS_H
#define NPIPE_WINETEST_NTSTATUS_H
#include <npipe/windows.h>

/* NTSTATUS values the test compares OVERLAPPED.Internal with that
 * npipe/windows.h does not define (yet): the Windows values. */
#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS ((NTSTATUS)0x00000000)
#endif
#ifndef STATUS_BUFFER_OVERFLOW
#define STATUS_BUFFER_OVERFLOW ((NTSTATUS)0x80000005)
#endif

#endif
