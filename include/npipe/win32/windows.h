/*
 * <windows.h> for Windows sources built unchanged against npipe: the
 * directory of this file is on the include path (`pkg-config --cflags
 * npipe-windows`), so `#include <windows.h>` lands here and brings in the
 * Win32 layer (npipe/windows.h).  Nothing else of the Windows SDK is
 * emulated: what a pipe program needs around its pipes is in
 * npipe/windows.h (docs/win32.md lists it).
 */
#ifndef NPIPE_WIN32_WINDOWS_H
#define NPIPE_WIN32_WINDOWS_H
#include <npipe/windows.h>
#endif
