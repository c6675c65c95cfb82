/*
 * test_win32_kernel32.c - the kernel32 helpers around pipe code: strings,
 * strsafe.h, heap/global/local memory, FormatMessage, standard handles,
 * DuplicateHandle and handle information, GetTickCount, session ids, files.
 * Expected values are those a mingw-w64 build of the same calls prints
 * under Wine (the reference; docs/win32.md).
 */
#include "w_test.h"
#include <npipe/win32/strsafe.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* covers: lstrlen, lstrcpy, lstrcpyn, lstrcat (A and W) */
START_TEST(lstr_copy)
{
        char a[8];
        ck_assert_int_eq(lstrlenA("abc"), 3);
        ck_assert_int_eq(lstrlenA(NULL), 0);
        ck_assert_ptr_eq(lstrcpynA(a, "abcdef", 4), a);
        ck_assert_str_eq(a, "abc");
        lstrcpyA(a, "ab");
        lstrcatA(a, "cd");
        ck_assert_str_eq(a, "abcd");
        WCHAR w[8];
        lstrcpyW(w, u"xy");
        lstrcatW(w, u"z");
        ck_assert_int_eq(lstrlenW(w), 3);
        lstrcpynW(w, u"12345", 3);
        ck_assert_int_eq(lstrlenW(w), 2);
        ck_assert_int_eq(lstrcmpW(w, u"12"), 0);
}
END_TEST

/* covers: lstrcmp, lstrcmpi (the word sort of the reference) */
START_TEST(lstr_compare)
{
        static const struct {
                const char *a, *b;
                int cmp, cmpi;
        } v[] = {
            {"a", "A", -1, 0},       {"a", "b", -1, -1},     {"B", "a", 1, 1},
            {"a-", "a", 1, 1},       {"-", "'", 1, 1},       {"-", "", 1, 1},
            {"a-b", "a'b", 1, 1},    {"a--b", "a-b", 1, 1},  {"-b", "a", 1, 1},
            {"b-", "ba", -1, -1},    {"ab", "aB", -1, 0},    {"Ab", "aB", 1, 0},
            {"AB", "ab", 1, 0},      {"a1", "a-1", -1, -1},  {"a", "a ", -1, -1},
            {"A-b", "a-B", 1, 0},    {"co-op", "coop", 1, 1}, {"_", "1", -1, -1},
            {"9", "a", -1, -1},      {"_", "~", -1, -1},     {"[", "_", -1, -1},
            {" ", "!", -1, -1},      {"ab", "a b", 1, 1},    {"\xc3\xa4", "a", 1, 1},
            {"\xc3\xa4", "b", -1, -1}, {"\xc3\x84", "\xc3\xa4", 1, 0}, {"\xc3\xa9", "f", -1, -1},
        };
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                ck_assert_msg(lstrcmpA(v[i].a, v[i].b) == v[i].cmp, "lstrcmp(%s, %s)", v[i].a,
                              v[i].b);
                ck_assert_msg(lstrcmpiA(v[i].a, v[i].b) == v[i].cmpi, "lstrcmpi(%s, %s)",
                              v[i].a, v[i].b);
                ck_assert_int_eq(lstrcmpA(v[i].b, v[i].a), -v[i].cmp);
        }
        /* the whole printable ASCII order of the reference */
        const char *order = "'- !\"#$%&()*,./:;?@[\\]^_`{|}~+<=>0123456789aAbBcCdDeEfFgGhHiIjJkKlLmM"
                            "nNoOpPqQrRsStTuUvVwWxXyYzZ";
        for (size_t i = 0; order[i + 1]; i++) {
                char x[2] = {order[i], 0}, y[2] = {order[i + 1], 0};
                ck_assert_msg(lstrcmpA(x, y) == -1, "%s < %s", x, y);
        }
        ck_assert_int_eq(lstrcmpA(NULL, "a"), -1);
        ck_assert_int_eq(lstrcmpA("a", NULL), 1);
        ck_assert_int_eq(lstrcmpA(NULL, NULL), 0);
        ck_assert_int_eq(lstrcmpiW(u"Pipe", u"PIPE"), 0);
        ck_assert_int_eq(lstrcmpW(u"pipe", u"Pipe"), -1);
}
END_TEST

/* covers: StringCchCopy, StringCchCat, StringCchPrintf, StringCchLength, StringCbCopy, StringCchCopyN, StringCchCopyEx */
START_TEST(strsafe_results)
{
        char d[5];
        ck_assert_int_eq(StringCchCopyA(d, 5, "abcdefg"), STRSAFE_E_INSUFFICIENT_BUFFER);
        ck_assert_str_eq(d, "abcd");
        ck_assert_int_eq(StringCchCopyA(d, 5, "abcd"), S_OK);
        ck_assert_int_eq(StringCchCopyA(d, 0, "abcd"), STRSAFE_E_INVALID_PARAMETER);
        strcpy(d, "ab");
        ck_assert_int_eq(StringCchCatA(d, 5, "cdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
        ck_assert_str_eq(d, "abcd");
        memcpy(d, "abcde", 5);
        ck_assert_int_eq(StringCchCatA(d, 4, "x"), STRSAFE_E_INVALID_PARAMETER);
        ck_assert_int_eq(d[0], 'a');
        ck_assert_int_eq(StringCchPrintfA(d, 5, "%d-%s", 123, "xyz"),
                         STRSAFE_E_INSUFFICIENT_BUFFER);
        ck_assert_str_eq(d, "123-");
        ck_assert_int_eq(StringCchPrintfA(d, 5, "%d", 1234), S_OK);
        size_t len = 99;
        ck_assert_int_eq(StringCchLengthA("abc", 5, &len), S_OK);
        ck_assert_uint_eq(len, 3);
        ck_assert_int_eq(StringCchLengthA("abcdef", 5, &len), STRSAFE_E_INVALID_PARAMETER);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(StringCchLengthA(NULL, 5, &len), STRSAFE_E_INVALID_PARAMETER);
        ck_assert_int_eq(StringCbCopyA(d, 3, "abcdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
        ck_assert_str_eq(d, "ab");
        WCHAR w[5];
        ck_assert_int_eq(StringCbCopyW(w, 7, u"abcdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
        ck_assert_int_eq(lstrlenW(w), 2);
        ck_assert_int_eq(StringCchCopyNA(d, 5, "abcdef", 2), S_OK);
        ck_assert_str_eq(d, "ab");
        /* %s is of the function's width, %S the other one */
        ck_assert_int_eq(StringCchPrintfW(w, 5, u"%s|%S", u"ab", "c"), S_OK);
        ck_assert_int_eq(lstrcmpW(w, u"ab|c"), 0);
        ck_assert_int_eq(StringCchCopyA(d, STRSAFE_MAX_CCH, "ab"), S_OK);
        ck_assert_int_eq(StringCchCopyExA(d, 5, "abcdefg", NULL, NULL, STRSAFE_NULL_ON_FAILURE),
                         STRSAFE_E_INSUFFICIENT_BUFFER);
        ck_assert_int_eq(d[0], 0);
}
END_TEST

/* covers: wsprintf (the Windows conversions), MultiByteToWideChar, WideCharToMultiByte */
START_TEST(format_and_convert)
{
        char a[64];
        DWORD big = 0xFFFFFFFFu;
        ck_assert_int_eq(wsprintfA(a, "%lu %ls %c %5s|%-3d|", big, u"w", 'c', "ab", 7), 25);
        ck_assert_str_eq(a, "4294967295 w c    ab|7  |");
        WCHAR w[64];
        ck_assert_int_eq(wsprintfW(w, u"%s=%d", u"n\u00e9", -5), 5);
        ck_assert_int_eq(lstrcmpW(w, u"n\u00e9=-5"), 0);
        ck_assert_int_eq(MultiByteToWideChar(CP_UTF8, 0, "h\xc3\xa9", -1, NULL, 0), 3);
        ck_assert_int_eq(MultiByteToWideChar(CP_ACP, 0, "h\xc3\xa9", -1, w, 64), 3);
        ck_assert_uint_eq(w[1], 0xE9);
        ck_assert_int_eq(WideCharToMultiByte(CP_UTF8, 0, w, -1, a, sizeof(a), NULL, NULL), 4);
        ck_assert_str_eq(a, "h\xc3\xa9");
        WT_FAILS(WideCharToMultiByte(CP_UTF8, 0, w, -1, a, 2, NULL, NULL) != 0,
                 ERROR_INSUFFICIENT_BUFFER);
}
END_TEST

/* covers: GetProcessHeap, HeapAlloc, HeapReAlloc, HeapSize, HeapFree, GlobalAlloc, GlobalFree, GlobalSize, LocalAlloc, LocalFree, LocalSize */
START_TEST(memory)
{
        HANDLE heap = GetProcessHeap();
        ck_assert_ptr_nonnull(heap);
        unsigned char *p = HeapAlloc(heap, HEAP_ZERO_MEMORY, 7);
        ck_assert_ptr_nonnull(p);
        for (int i = 0; i < 7; i++)
                ck_assert_int_eq(p[i], 0);
        ck_assert_uint_eq(HeapSize(heap, 0, p), 7);
        p = HeapReAlloc(heap, HEAP_ZERO_MEMORY, p, 100);
        ck_assert_uint_eq(HeapSize(heap, 0, p), 100);
        ck_assert_int_eq(p[99], 0);
        ck_assert(HeapFree(heap, 0, p));
        ck_assert(HeapFree(heap, 0, NULL));
        HGLOBAL g = GlobalAlloc(GPTR, 10);
        ck_assert_uint_eq(GlobalSize(g), 10);
        ck_assert_ptr_eq(GlobalLock(g), g);
        ck_assert_ptr_null(GlobalFree(g));
        HLOCAL l = LocalAlloc(LPTR, 0);
        ck_assert_ptr_nonnull(l);
        ck_assert_uint_eq(LocalSize(l), 0);
        ck_assert_ptr_null(LocalFree(l));
        ck_assert_ptr_null(LocalFree(NULL));
}
END_TEST

/* covers: FormatMessage (system messages of every error code the layer sets, inserts, buffers) */
START_TEST(format_message)
{
        static const struct {
                DWORD code;
                const char *text;
        } v[] = {
            {ERROR_SUCCESS, "Success.\r\n"},
            {ERROR_FILE_NOT_FOUND, "File not found.\r\n"},
            {ERROR_ACCESS_DENIED, "Access denied.\r\n"},
            {ERROR_INVALID_HANDLE, "Invalid handle.\r\n"},
            {ERROR_INVALID_PARAMETER, "Invalid parameter.\r\n"},
            {ERROR_BROKEN_PIPE, "Broken pipe.\r\n"},
            {ERROR_BAD_PIPE, "Bad pipe.\r\n"},
            {ERROR_PIPE_BUSY, "Pipe busy.\r\n"},
            {ERROR_NO_DATA, "Pipe closed.\r\n"},
            {ERROR_PIPE_NOT_CONNECTED, "Pipe not connected.\r\n"},
            {ERROR_MORE_DATA, "More data available.\r\n"},
            {ERROR_PIPE_CONNECTED, "Pipe connected.\r\n"},
            {ERROR_PIPE_LISTENING, "Pipe listening.\r\n"},
            {ERROR_SEM_TIMEOUT, "Semaphore timeout.\r\n"},
            {ERROR_OPERATION_ABORTED, "I/O operation aborted.\r\n"},
            {ERROR_IO_INCOMPLETE, "Overlapped I/O incomplete.\r\n"},
            {ERROR_IO_PENDING, "Overlapped I/O pending.\r\n"},
            {ERROR_CANNOT_IMPERSONATE, "Cannot impersonate.\r\n"},
            {ERROR_NO_SYSTEM_RESOURCES, "No system resources.\r\n"},
        };
        char buf[256];
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                         NULL, v[i].code, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT),
                                         buf, sizeof(buf), NULL);
                ck_assert_uint_eq(n, strlen(v[i].text));
                ck_assert_str_eq(buf, v[i].text);
        }
        /* every code in the native status map has a text */
        static const DWORD native[] = {1, 2, 3, 5, 6, 8, 21, 50, 87, 109, 121, 122, 123, 161,
                                       206, 229, 230, 231, 232, 233, 234, 535, 536, 995, 1168,
                                       1359, 1450};
        for (size_t i = 0; i < sizeof(native) / sizeof(native[0]); i++)
                ck_assert_msg(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, native[i], 0, buf,
                                             sizeof(buf), NULL) > 0,
                              "no text for %lu", (unsigned long)native[i]);
        WT_FAILS(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, 0x12345, 0, buf, sizeof(buf),
                                NULL) != 0,
                 ERROR_MR_MID_NOT_FOUND);
        char small[8];
        WT_FAILS(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, 2, 0, small, sizeof(small),
                                NULL) != 0,
                 ERROR_INSUFFICIENT_BUFFER);
        char *out = NULL;
        ck_assert_uint_eq(FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                             FORMAT_MESSAGE_MAX_WIDTH_MASK,
                                         NULL, 2, 0, (LPSTR)&out, 0, NULL),
                          16);
        ck_assert_str_eq(out, "File not found. ");
        LocalFree(out);
        DWORD_PTR args[] = {(DWORD_PTR) "X", 42};
        ck_assert_uint_eq(FormatMessageA(FORMAT_MESSAGE_FROM_STRING | FORMAT_MESSAGE_ALLOCATE_BUFFER |
                                             FORMAT_MESSAGE_ARGUMENT_ARRAY,
                                         "a %1 b %2!d! %% %n c %0 d", 0, 0, (LPSTR)&out, 0,
                                         (va_list *)(void *)args),
                          16);
        ck_assert_str_eq(out, "a X b 42 % \r\n c ");
        LocalFree(out);
        WCHAR *wout = NULL;
        ck_assert_uint_eq(FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                             FORMAT_MESSAGE_IGNORE_INSERTS,
                                         NULL, ERROR_BROKEN_PIPE, 0, (LPWSTR)&wout, 0, NULL),
                          14);
        ck_assert_int_eq(lstrcmpW(wout, u"Broken pipe.\r\n"), 0);
        LocalFree(wout);
}
END_TEST

/* covers: CommandLineToArgvW */
START_TEST(command_line_to_argv)
{
        static const struct {
                const WCHAR *line;
                int n;
                const char *args[4];
        } v[] = {
            {u"a b c", 3, {"a", "b", "c"}},
            {u"\"a b\" c", 2, {"a b", "c"}},
            {u"a\\\\b c", 2, {"a\\\\b", "c"}},
            {u"\"a\\\\\" b", 2, {"a\\\\", "b"}},
            {u"a\\\"b c", 2, {"a\\\"b", "c"}},
            {u"\"a\"\"b\" c", 3, {"a", "b", "c"}},
            {u"  a   b  ", 3, {"", "a", "b"}},
            {u"prog \"\" x", 3, {"prog", "", "x"}},
            {u"x \"a\\\\\\\\\"b c\"", 3, {"x", "a\\\\b", "c"}},
            {u"prog a\"b c\"d e", 3, {"prog", "ab cd", "e"}},
            {u"p \"a\"\"b\"", 2, {"p", "a\"b"}},
            {u"p \"\"\"a\"", 2, {"p", "\"a"}},
            {u"p a\"\"b", 2, {"p", "ab"}},
            {u"p \"a b", 2, {"p", "a b"}},
        };
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                int n = -1;
                LPWSTR *argv = CommandLineToArgvW(v[i].line, &n);
                ck_assert_ptr_nonnull(argv);
                ck_assert_int_eq(n, v[i].n);
                for (int k = 0; k < n; k++) {
                        char a[64];
                        WideCharToMultiByte(CP_UTF8, 0, argv[k], -1, a, sizeof(a), NULL, NULL);
                        ck_assert_msg(!strcmp(a, v[i].args[k]), "line %zu arg %d: <%s>", i, k, a);
                }
                ck_assert_ptr_null(argv[n]);
                LocalFree(argv);
        }
        int n = 0;
        LPWSTR *argv = CommandLineToArgvW(u"", &n);
        ck_assert_int_eq(n, 1); /* the program's own path */
        ck_assert_int_gt(lstrlenW(argv[0]), 0);
        LocalFree(argv);
        ck_assert_ptr_nonnull(GetCommandLineA());
        ck_assert_int_gt(lstrlenW(GetCommandLineW()), 0);
}
END_TEST

/* covers: DuplicateHandle (within the process), GetHandleInformation, SetHandleInformation, HANDLE_FLAG_PROTECT_FROM_CLOSE */
START_TEST(duplicate_handle)
{
        HANDLE rd, wr, dup = NULL;
        WT_OK(CreatePipe(&rd, &wr, NULL, 0));
        DWORD fl = 99;
        WT_OK(GetHandleInformation(wr, &fl));
        ck_assert_uint_eq(fl, 0);
        WT_OK(DuplicateHandle(GetCurrentProcess(), wr, GetCurrentProcess(), &dup, 0, TRUE,
                              DUPLICATE_SAME_ACCESS));
        ck_assert_ptr_ne(dup, wr);
        WT_OK(GetHandleInformation(dup, &fl));
        ck_assert_uint_eq(fl, HANDLE_FLAG_INHERIT);
        /* the end stays open while one of its handles is */
        WT_OK(CloseHandle(wr));
        w_write(dup, "dup");
        char buf[8];
        DWORD n;
        WT_OK(ReadFile(rd, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 3);
        WT_OK(SetHandleInformation(dup, HANDLE_FLAG_PROTECT_FROM_CLOSE,
                                   HANDLE_FLAG_PROTECT_FROM_CLOSE));
        WT_FAILS(CloseHandle(dup), ERROR_INVALID_HANDLE);
        WT_OK(SetHandleInformation(dup, HANDLE_FLAG_PROTECT_FROM_CLOSE, 0));
        /* DUPLICATE_CLOSE_SOURCE moves the handle */
        HANDLE moved;
        WT_OK(DuplicateHandle(GetCurrentProcess(), dup, GetCurrentProcess(), &moved, 0, FALSE,
                              DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE));
        WT_FAILS(CloseHandle(dup), ERROR_INVALID_HANDLE);
        WT_OK(CloseHandle(moved));
        WT_FAILS(ReadFile(rd, buf, sizeof(buf), &n, NULL), ERROR_BROKEN_PIPE);
        WT_OK(CloseHandle(rd));
        WT_FAILS(GetHandleInformation(rd, &fl), ERROR_INVALID_HANDLE);
        /* events too: both handles signal one event */
        HANDLE ev = w_event(TRUE, FALSE), ev2;
        WT_OK(DuplicateHandle(GetCurrentProcess(), ev, GetCurrentProcess(), &ev2, 0, FALSE,
                              DUPLICATE_SAME_ACCESS));
        WT_OK(SetEvent(ev));
        ck_assert(W_SIGNALLED(ev2));
        WT_OK(CloseHandle(ev));
        WT_OK(CloseHandle(ev2));
}
END_TEST

/* covers: GetStdHandle, SetStdHandle, files through CreateFile, GetFileType */
START_TEST(std_handles_and_files)
{
        char path[] = "/tmp/npipe-w32-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        HANDLE f = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL,
                               NULL);
        ck_assert_ptr_ne(f, INVALID_HANDLE_VALUE);
        ck_assert_uint_eq(GetLastError(), ERROR_ALREADY_EXISTS);
        ck_assert_uint_eq(GetFileType(f), FILE_TYPE_DISK);
        w_write(f, "file text");
        WT_OK(CloseHandle(f));
        f = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
        char buf[32];
        DWORD n;
        WT_OK(ReadFile(f, buf, sizeof(buf), &n, NULL));
        ck_assert_uint_eq(n, 9);
        WT_OK(ReadFile(f, buf, sizeof(buf), &n, NULL)); /* a file's end reads 0 */
        ck_assert_uint_eq(n, 0);
        WT_FAILS(WriteFile(f, "x", 1, &n, NULL), ERROR_ACCESS_DENIED);
        /* SetStdHandle: GetStdHandle gives it back */
        HANDLE old = GetStdHandle(STD_INPUT_HANDLE);
        WT_OK(SetStdHandle(STD_INPUT_HANDLE, f));
        ck_assert_ptr_eq(GetStdHandle(STD_INPUT_HANDLE), f);
        WT_OK(SetStdHandle(STD_INPUT_HANDLE, old));
        WT_OK(CloseHandle(f));
        unlink(path);
        WT_FAILS(CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) !=
                     INVALID_HANDLE_VALUE,
                 ERROR_FILE_NOT_FOUND);
        WT_FAILS(CreateFileA("/nonexistent-dir/x", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) !=
                     INVALID_HANDLE_VALUE,
                 ERROR_PATH_NOT_FOUND);
        /* the standard error of the test is a handle over descriptor 2 */
        HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_eq(GetStdHandle(STD_ERROR_HANDLE), err);
        ck_assert_ptr_eq(GetStdHandle(12345), INVALID_HANDLE_VALUE);
}
END_TEST

/* covers: GetTickCount, GetTickCount64, GetCurrentProcess, GetProcessId, ProcessIdToSessionId, GetNamedPipeClientSessionId, GetNamedPipeServerSessionId */
START_TEST(ids_and_time)
{
        ULONGLONG t0 = GetTickCount64();
        DWORD t1 = GetTickCount();
        ck_assert_uint_ge(GetTickCount64(), t0);
        ck_assert_uint_eq((DWORD)t0 <= t1, 1);
        ck_assert_ptr_eq(GetCurrentProcess(), (HANDLE)(LONG_PTR)-1);
        ck_assert_uint_eq(GetProcessId(GetCurrentProcess()), GetCurrentProcessId());
        DWORD sid = 0;
        WT_OK(ProcessIdToSessionId(GetCurrentProcessId(), &sid));
        ck_assert_uint_eq(sid, (DWORD)getsid(0));
        HANDLE srv, cli;
        w_pair(PIPE_TYPE_BYTE, 0, 0, 4096, &srv, &cli);
        ULONG s1 = 99, s2 = 99;
        WT_OK(GetNamedPipeClientSessionId(srv, &s1));
        WT_OK(GetNamedPipeServerSessionId(cli, &s2));
        ck_assert_uint_eq(s1, sid);
        ck_assert_uint_eq(s2, sid);
        WT_FAILS(GetNamedPipeClientSessionId((HANDLE)(uintptr_t)0x1230, &s1),
                 ERROR_INVALID_HANDLE);
        /* no place for the id: ERROR_INSUFFICIENT_BUFFER, as for the process ids
         * (Wine's pipe.c test_namedpipe_session_id) */
        WT_FAILS(GetNamedPipeServerSessionId(srv, NULL), ERROR_INSUFFICIENT_BUFFER);
        WT_FAILS(GetNamedPipeClientSessionId(cli, NULL), ERROR_INSUFFICIENT_BUFFER);
        WT_FAILS(GetNamedPipeClientProcessId(srv, NULL), ERROR_INSUFFICIENT_BUFFER);
        WT_OK(CloseHandle(cli));
        WT_OK(CloseHandle(srv));
        /* the NT names of the constants Wine's tests use */
        ck_assert_uint_eq(FILE_READ_PROPERTIES, FILE_READ_EA);
        ck_assert_uint_eq(FILE_WRITE_PROPERTIES, FILE_WRITE_EA);
        ck_assert_uint_eq(FILE_PIPE_SERVER_END, PIPE_SERVER_END);
        ck_assert_uint_eq((DWORD)STATUS_PIPE_BROKEN, 0xC000014Bu);
        ck_assert_uint_eq((DWORD)STATUS_BUFFER_OVERFLOW, 0x80000005u);
}
END_TEST

/* covers: GetModuleFileNameA/W of the program (Wine 8.0: the length and
 * ERROR_SUCCESS; 5 and ERROR_INSUFFICIENT_BUFFER for 5 characters, 0 and
 * ERROR_INSUFFICIENT_BUFFER for none; a module that is not there 0 and
 * ERROR_MOD_NOT_FOUND.  A cut name ends in 0 here, as on Windows since
 * Vista; Wine leaves it unterminated, as XP did) */
START_TEST(module_file_name)
{
        char want[4096], got[4096];
        ssize_t n = readlink("/proc/self/exe", want, sizeof(want) - 1);
        ck_assert_int_gt(n, 5);
        want[n] = 0;
        SetLastError(0xdead);
        ck_assert_uint_eq(GetModuleFileNameA(NULL, got, sizeof(got)), (DWORD)n);
        ck_assert_uint_eq(GetLastError(), ERROR_SUCCESS);
        ck_assert_str_eq(got, want);
        memset(got, 'x', sizeof(got));
        ck_assert_uint_eq(GetModuleFileNameA(NULL, got, 5), 5);
        ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
        ck_assert_int_eq(memcmp(got, want, 4), 0);
        ck_assert_int_eq(got[4], 0);
        ck_assert_int_eq(got[5], 'x');
        SetLastError(0xdead);
        ck_assert_uint_eq(GetModuleFileNameA(NULL, got, 0), 0);
        ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
        WCHAR w[4096];
        ck_assert_uint_eq(GetModuleFileNameW(NULL, w, 4096), (DWORD)n);
        char back[4096];
        WideCharToMultiByte(CP_UTF8, 0, w, -1, back, sizeof(back), NULL, NULL);
        ck_assert_str_eq(back, want);
        ck_assert_uint_eq(GetModuleFileNameW(NULL, w, 8), 8);
        ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
        ck_assert_uint_eq(w[7], 0);
        ck_assert_uint_eq(GetModuleFileNameA((HMODULE)(uintptr_t)0x1234, got, sizeof(got)), 0);
        ck_assert_uint_eq(GetLastError(), ERROR_MOD_NOT_FOUND);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-kernel32");
        TCase *tc = tcase_create("kernel32");
        tcase_add_test(tc, lstr_copy);
        tcase_add_test(tc, lstr_compare);
        tcase_add_test(tc, strsafe_results);
        tcase_add_test(tc, format_and_convert);
        tcase_add_test(tc, memory);
        tcase_add_test(tc, format_message);
        tcase_add_test(tc, command_line_to_argv);
        tcase_add_test(tc, duplicate_handle);
        tcase_add_test(tc, std_handles_and_files);
        tcase_add_test(tc, ids_and_time);
        tcase_add_test(tc, module_file_name);
        suite_add_tcase(s, tc);
        return h_run(s);
}
