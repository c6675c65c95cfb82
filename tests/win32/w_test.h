/*
 * w_test.h - helpers for the Win32-layer tests (on top of ../harness.h:
 * each test function runs in its own process with its own runtime
 * directory and broker, and a timeout).
 */
#ifndef NPIPE_TESTS_W_TEST_H
#define NPIPE_TESTS_W_TEST_H

#include "harness.h"

#include <npipe/windows.h>

#include <string.h>

/* A call that must fail with `err` (the last error is preset to a sentinel). */
#define WT_FAILS(call, err)                                                                        \
        do {                                                                                       \
                npipe_win_SetLastError(0xdeadbeef);                                                \
                BOOL w_ok_ = (call);                                                               \
                DWORD w_e_ = GetLastError();                                                       \
                ck_assert_msg(!w_ok_ && w_e_ == (DWORD)(err), "%s: ok %d err %lu, want err %lu",   \
                              #call, w_ok_, (unsigned long)w_e_, (unsigned long)(err));            \
        } while (0)

#define WT_OK(call)                                                                                \
        do {                                                                                       \
                npipe_win_SetLastError(0xdeadbeef);                                                \
                BOOL w_ok_ = (call);                                                               \
                ck_assert_msg(w_ok_, "%s failed: err %lu", #call, (unsigned long)GetLastError());  \
        } while (0)

#define W_SIGNALLED(h) (WaitForSingleObject((h), 0) == WAIT_OBJECT_0)
/* For "must happen": a generous bound, never an ordering device. */
#define W_LONG 10000

/* A unique \\.\pipe\ name. */
#define W_NAME(var) H_NAME(var, "w32")

static inline HANDLE w_server(const char *name, DWORD open_flags, DWORD mode, DWORD quota)
{
        HANDLE h = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | open_flags, mode,
                                    PIPE_UNLIMITED_INSTANCES, quota, quota, 0, NULL);
        ck_assert_msg(h != INVALID_HANDLE_VALUE, "CreateNamedPipe: %lu",
                      (unsigned long)GetLastError());
        return h;
}

static inline HANDLE w_client(const char *name, DWORD flags)
{
        HANDLE h =
            CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, flags, NULL);
        ck_assert_msg(h != INVALID_HANDLE_VALUE, "CreateFile: %lu", (unsigned long)GetLastError());
        return h;
}

/* A connected pair; message pipes read in message mode on the server. */
static inline void w_pair(DWORD type, DWORD srv_flags, DWORD cli_flags, DWORD quota, HANDLE *srv,
                          HANDLE *cli)
{
        W_NAME(name);
        *srv = w_server(name, srv_flags,
                        type == PIPE_TYPE_MESSAGE ? PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE
                                                  : PIPE_TYPE_BYTE,
                        quota);
        *cli = w_client(name, cli_flags);
}

static inline HANDLE w_event(BOOL manual, BOOL initial)
{
        HANDLE h = CreateEventA(NULL, manual, initial, NULL);
        ck_assert_msg(h != NULL, "CreateEvent: %lu", (unsigned long)GetLastError());
        return h;
}

static inline void w_ov(OVERLAPPED *ov, HANDLE ev)
{
        memset(ov, 0, sizeof(*ov));
        ov->hEvent = ev;
}

static inline void w_write(HANDLE h, const char *s)
{
        DWORD n = 0;
        WT_OK(WriteFile(h, s, (DWORD)strlen(s), &n, NULL));
        ck_assert_uint_eq(n, strlen(s));
}

#endif
