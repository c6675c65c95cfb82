/*
 * heap.c - GetProcessHeap, HeapAlloc & co., GlobalAlloc & co., LocalAlloc
 * & co.: all three are the C library's heap, each block with a header that
 * keeps its size (HeapSize, GlobalSize, LocalSize answer it as Windows
 * does).  Moveable blocks (GMEM_MOVEABLE, LMEM_MOVEABLE) never move: their
 * handle is their address, which GlobalLock/LocalLock return.
 */
#include "win32/win32.h"

#include <stdlib.h>
#include <string.h>

/* 16 bytes, so that blocks keep malloc's alignment */
struct block {
        size_t size;
        size_t magic;
};
#define BLOCK_MAGIC ((size_t)0x6e7077696e68ull) /* catches frees of foreign pointers */

/* The one heap: a fixed, non-NULL value a program can pass back. */
#define PROCESS_HEAP ((HANDLE)(uintptr_t)0x7ff00000u)

void *np_win_block_alloc(size_t n, int zero)
{
        if (n > SIZE_MAX - sizeof(struct block))
                return NULL;
        struct block *b = zero ? calloc(1, sizeof(*b) + n) : malloc(sizeof(*b) + n);
        if (!b)
                return NULL;
        b->size = n;
        b->magic = BLOCK_MAGIC;
        return b + 1;
}

static struct block *block_of(const void *p)
{
        if (!p)
                return NULL;
        struct block *b = (struct block *)p - 1;
        return b->magic == BLOCK_MAGIC ? b : NULL;
}

static void block_free(struct block *b)
{
        b->magic = 0;
        free(b);
}

static void *block_realloc(void *p, size_t n, int zero)
{
        struct block *b = block_of(p);
        if (!b || n > SIZE_MAX - sizeof(*b))
                return NULL;
        size_t old = b->size;
        struct block *nb = realloc(b, sizeof(*nb) + n);
        if (!nb)
                return NULL;
        if (zero && n > old)
                memset((char *)(nb + 1) + old, 0, n - old);
        nb->size = n;
        return nb + 1;
}

NPIPE_WIN_API HANDLE WINAPI npipe_win_GetProcessHeap(void)
{
        return PROCESS_HEAP;
}

NPIPE_WIN_API LPVOID WINAPI npipe_win_HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes)
{
        if (hHeap != PROCESS_HEAP) {
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
        void *p = np_win_block_alloc(dwBytes, (dwFlags & HEAP_ZERO_MEMORY) != 0);
        if (!p)
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return p;
}

NPIPE_WIN_API LPVOID WINAPI npipe_win_HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem,
                                                  SIZE_T dwBytes)
{
        if (hHeap != PROCESS_HEAP || !block_of(lpMem)) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return NULL;
        }
        if ((dwFlags & HEAP_REALLOC_IN_PLACE_ONLY) && dwBytes > block_of(lpMem)->size) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        void *p = block_realloc(lpMem, dwBytes, (dwFlags & HEAP_ZERO_MEMORY) != 0);
        if (!p)
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return p;
}

NPIPE_WIN_API BOOL WINAPI npipe_win_HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem)
{
        (void)dwFlags;
        if (!lpMem)
                return TRUE;
        struct block *b = block_of(lpMem);
        if (hHeap != PROCESS_HEAP || !b)
                return np_win_fail(ERROR_INVALID_PARAMETER);
        block_free(b);
        return TRUE;
}

NPIPE_WIN_API SIZE_T WINAPI npipe_win_HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
        (void)dwFlags;
        struct block *b = block_of(lpMem);
        if (hHeap != PROCESS_HEAP || !b) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return (SIZE_T)-1;
        }
        return b->size;
}

/* Global and Local blocks are the same thing, as on Win32. */
static HANDLE mem_alloc(UINT flags, SIZE_T n)
{
        void *p = np_win_block_alloc(n, (flags & GMEM_ZEROINIT) != 0);
        if (!p)
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return p;
}

static HANDLE mem_realloc(HANDLE h, SIZE_T n, UINT flags)
{
        if (!block_of(h)) {
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
        void *p = block_realloc(h, n, (flags & GMEM_ZEROINIT) != 0);
        if (!p)
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return p;
}

static HANDLE mem_free(HANDLE h)
{
        if (!h)
                return NULL;
        struct block *b = block_of(h);
        if (!b) {
                np_win_set_error(ERROR_INVALID_HANDLE);
                return h;
        }
        block_free(b);
        return NULL;
}

static SIZE_T mem_size(HANDLE h)
{
        struct block *b = block_of(h);
        if (!b) {
                np_win_set_error(ERROR_INVALID_HANDLE);
                return 0;
        }
        return b->size;
}

static LPVOID mem_lock(HANDLE h)
{
        if (!block_of(h)) {
                np_win_set_error(ERROR_INVALID_HANDLE);
                return NULL;
        }
        return h;
}

NPIPE_WIN_API HGLOBAL WINAPI npipe_win_GlobalAlloc(UINT uFlags, SIZE_T dwBytes)
{
        return mem_alloc(uFlags, dwBytes);
}

NPIPE_WIN_API HGLOBAL WINAPI npipe_win_GlobalReAlloc(HGLOBAL hMem, SIZE_T dwBytes, UINT uFlags)
{
        return mem_realloc(hMem, dwBytes, uFlags);
}

NPIPE_WIN_API HGLOBAL WINAPI npipe_win_GlobalFree(HGLOBAL hMem)
{
        return mem_free(hMem);
}

NPIPE_WIN_API SIZE_T WINAPI npipe_win_GlobalSize(HGLOBAL hMem)
{
        return mem_size(hMem);
}

NPIPE_WIN_API LPVOID WINAPI npipe_win_GlobalLock(HGLOBAL hMem)
{
        return mem_lock(hMem);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_GlobalUnlock(HGLOBAL hMem)
{
        /* a fixed block has no lock count: FALSE with NO_ERROR, as Windows says */
        if (!block_of(hMem))
                return np_win_fail(ERROR_INVALID_HANDLE);
        np_win_set_error(NO_ERROR);
        return FALSE;
}

NPIPE_WIN_API HLOCAL WINAPI npipe_win_LocalAlloc(UINT uFlags, SIZE_T uBytes)
{
        return mem_alloc(uFlags, uBytes);
}

NPIPE_WIN_API HLOCAL WINAPI npipe_win_LocalReAlloc(HLOCAL hMem, SIZE_T uBytes, UINT uFlags)
{
        return mem_realloc(hMem, uBytes, uFlags);
}

NPIPE_WIN_API HLOCAL WINAPI npipe_win_LocalFree(HLOCAL hMem)
{
        return mem_free(hMem);
}

NPIPE_WIN_API SIZE_T WINAPI npipe_win_LocalSize(HLOCAL hMem)
{
        return mem_size(hMem);
}

NPIPE_WIN_API LPVOID WINAPI npipe_win_LocalLock(HLOCAL hMem)
{
        return mem_lock(hMem);
}

NPIPE_WIN_API BOOL WINAPI npipe_win_LocalUnlock(HLOCAL hMem)
{
        return npipe_win_GlobalUnlock(hMem);
}
