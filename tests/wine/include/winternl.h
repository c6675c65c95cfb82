/* Forwards Wine's <winternl.h> to npipe's Win32 header (tests/wine/README.md).
 * npipe has no NT native API (Nt* functions, IO_STATUS_BLOCK, ...): the
 * checks that need it are disabled by the edits file, not stubbed here. */
#ifndef NPIPE_WINETEST_WINTERNL_H
#define NPIPE_WINETEST_WINTERNL_H
#include <npipe/windows.h>

/* FilePipeLocalInformation's NamedPipeEnd values (GetNamedPipeInfo's flags
 * use the same bit): not in npipe/windows.h (yet); the Windows value. */
#ifndef FILE_PIPE_SERVER_END
#define FILE_PIPE_SERVER_END 0x00000001
#endif

#endif
