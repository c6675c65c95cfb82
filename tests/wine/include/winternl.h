/* Forwards Wine's <winternl.h> to npipe's Win32 header (tests/wine/README.md).
 * npipe has no NT native API (Nt* functions, IO_STATUS_BLOCK, ...): the
 * checks that need it are disabled by the edits file, not stubbed here.
 * FILE_PIPE_SERVER_END and FILE_PIPE_CLIENT_END are in npipe/windows.h. */
#ifndef NPIPE_WINETEST_WINTERNL_H
#define NPIPE_WINETEST_WINTERNL_H
#include <npipe/windows.h>
#endif
