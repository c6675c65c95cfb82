/*
 * npipe/windows.h - the Win32 named-pipe API on Linux.
 *
 * Windows code that uses named pipes, events, overlapped I/O, completion
 * routines and I/O completion ports ports by replacing <windows.h> with this
 * header and linking with libnpipe (`pkg-config --libs npipe`).  Names,
 * parameter lists, types, constants and error codes are the Windows ones;
 * docs/win32.md lists every function and every known difference.
 *
 * Every function is exported as npipe_win_<Name> and reached through a
 * macro (#define CreateNamedPipeA npipe_win_CreateNamedPipeA), so libnpipe
 * never defines a symbol with a Win32 name that could clash with another
 * library (Wine, a Win32 shim) in the same process.
 *
 * Strings: the A functions take UTF-8 (the "ANSI code page" is UTF-8 here);
 * the W functions take UTF-16 (WCHAR is 16 bits, as on Windows: u"" literals
 * or TEXT() with UNICODE defined; L"" only with -fshort-wchar, which
 * `pkg-config --cflags npipe-windows` adds along with the directory whose
 * <windows.h>, <tchar.h>, <strsafe.h> and <conio.h> let Windows sources
 * build unchanged: docs/win32.md).
 */
#ifndef NPIPE_WINDOWS_H
#define NPIPE_WINDOWS_H

#if defined(_WINDOWS_) || defined(_WINDOWS_H) || defined(_INC_WINDOWS) || defined(_WIN32)
#error "npipe/windows.h emulates Win32 on Linux: do not combine it with a real <windows.h>"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NPIPE_WIN_API __attribute__((visibility("default")))
#else
#define NPIPE_WIN_API
#endif

/* ---- basic types ---------------------------------------------------------------------------- */

#define VOID void
#define WINAPI
#define CALLBACK
#define APIENTRY
#define WINBASEAPI
#ifndef CONST
#define CONST const
#endif

typedef int BOOL;
typedef BOOL *PBOOL, *LPBOOL;
typedef unsigned char BYTE, UCHAR, BOOLEAN;
typedef BYTE *PBYTE, *LPBYTE;
typedef uint16_t WORD, USHORT;
typedef uint32_t DWORD, ULONG, UINT32;
typedef int32_t LONG, INT32;
typedef int INT;
typedef unsigned int UINT;
typedef int64_t LONGLONG, LONG64, INT64;
typedef uint64_t ULONGLONG, DWORD64, ULONG64, UINT64;
typedef intptr_t INT_PTR, LONG_PTR, SSIZE_T;
typedef uintptr_t UINT_PTR, ULONG_PTR, DWORD_PTR, SIZE_T;
typedef ULONG_PTR *PULONG_PTR;
typedef SIZE_T *PSIZE_T;
typedef DWORD *PDWORD, *LPDWORD;
typedef ULONG *PULONG;
typedef LONG *PLONG, *LPLONG;
typedef WORD *PWORD, *LPWORD;
typedef void *PVOID, *LPVOID;
typedef const void *LPCVOID, *PCVOID;
typedef void *HANDLE;
typedef HANDLE *PHANDLE, *LPHANDLE;
typedef LONG NTSTATUS;
typedef LONG HRESULT;
typedef HANDLE HLOCAL, HGLOBAL, HMODULE, HINSTANCE, HWND;
typedef unsigned short LANGID;
typedef DWORD LCID;

typedef char CHAR;
typedef CHAR *PCHAR, *LPCH, *PCH, *LPSTR, *PSTR;
typedef const CHAR *LPCCH, *PCCH, *LPCSTR, *PCSTR;
/* UTF-16 code unit, as on Windows (not the 32-bit Linux wchar_t).  With
 * -fshort-wchar (what `pkg-config --cflags npipe-windows` adds) wchar_t is
 * this same type, so L"..." literals are WCHAR strings as on Windows. */
typedef uint16_t WCHAR;
typedef WCHAR *PWCHAR, *LPWCH, *PWCH, *LPWSTR, *PWSTR;
typedef const WCHAR *LPCWCH, *PCWCH, *LPCWSTR, *PCWSTR;

#if defined(_UNICODE) && !defined(UNICODE)
#define UNICODE
#endif
#ifdef UNICODE
typedef WCHAR TCHAR;
#if defined(__SIZEOF_WCHAR_T__) && __SIZEOF_WCHAR_T__ == 2
#define __TEXT(quote) L##quote
#else
#define __TEXT(quote) u##quote
#endif
#else
typedef char TCHAR;
#define __TEXT(quote) quote
#endif
#define TEXT(quote) __TEXT(quote)
typedef TCHAR *LPTSTR, *PTSTR;
typedef const TCHAR *LPCTSTR, *PCTSTR;

#define TRUE                 1
#define FALSE                0
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define INFINITE             0xFFFFFFFFu
#define MAXIMUM_WAIT_OBJECTS 64
#ifndef MAX_PATH
#define MAX_PATH 260
#endif

typedef struct _OVERLAPPED {
        ULONG_PTR Internal;     /* NTSTATUS of the operation; STATUS_PENDING while pending */
        ULONG_PTR InternalHigh; /* bytes transferred */
        union {
                struct {
                        DWORD Offset;
                        DWORD OffsetHigh;
                };
                PVOID Pointer;
        };
        HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;

typedef struct _OVERLAPPED_ENTRY {
        ULONG_PTR lpCompletionKey;
        LPOVERLAPPED lpOverlapped;
        ULONG_PTR Internal;
        DWORD dwNumberOfBytesTransferred;
} OVERLAPPED_ENTRY, *LPOVERLAPPED_ENTRY;

typedef struct _SECURITY_ATTRIBUTES {
        DWORD nLength;
        LPVOID lpSecurityDescriptor; /* CreateNamedPipe: only a NULL DACL counts (docs/win32.md) */
        BOOL bInheritHandle;         /* the new handle is inherited by CreateProcess children */
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

/* Security descriptors, in the Windows layout.  The layer reads one thing
 * from them: a present NULL DACL (everyone may connect; docs/win32.md). */
typedef PVOID PSID;
typedef struct _ACL {
        BYTE AclRevision;
        BYTE Sbz1;
        WORD AclSize;
        WORD AceCount;
        WORD Sbz2;
} ACL, *PACL;
typedef WORD SECURITY_DESCRIPTOR_CONTROL, *PSECURITY_DESCRIPTOR_CONTROL;
typedef struct _SECURITY_DESCRIPTOR {
        BYTE Revision;
        BYTE Sbz1;
        SECURITY_DESCRIPTOR_CONTROL Control;
        PSID Owner;
        PSID Group;
        PACL Sacl;
        PACL Dacl;
} SECURITY_DESCRIPTOR, *PISECURITY_DESCRIPTOR;
/* The self-relative form (SE_SELF_RELATIVE): offsets from its start, 0 for none. */
typedef struct _SECURITY_DESCRIPTOR_RELATIVE {
        BYTE Revision;
        BYTE Sbz1;
        SECURITY_DESCRIPTOR_CONTROL Control;
        DWORD Owner;
        DWORD Group;
        DWORD Sacl;
        DWORD Dacl;
} SECURITY_DESCRIPTOR_RELATIVE, *PISECURITY_DESCRIPTOR_RELATIVE;
typedef PVOID PSECURITY_DESCRIPTOR;

#define SECURITY_DESCRIPTOR_REVISION   1
#define SECURITY_DESCRIPTOR_REVISION1  1
#define SECURITY_DESCRIPTOR_MIN_LENGTH (sizeof(SECURITY_DESCRIPTOR))
#define SE_OWNER_DEFAULTED             0x0001u
#define SE_GROUP_DEFAULTED             0x0002u
#define SE_DACL_PRESENT                0x0004u
#define SE_DACL_DEFAULTED              0x0008u
#define SE_SACL_PRESENT                0x0010u
#define SE_SACL_DEFAULTED              0x0020u
#define SE_SELF_RELATIVE               0x8000u

typedef DWORD(WINAPI *LPTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
typedef LPTHREAD_START_ROUTINE PTHREAD_START_ROUTINE;
typedef VOID(WINAPI *PAPCFUNC)(ULONG_PTR Parameter);

typedef VOID(WINAPI *LPOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwErrorCode,
                                                      DWORD dwNumberOfBytesTransfered,
                                                      LPOVERLAPPED lpOverlapped);

#define HasOverlappedIoCompleted(lpOverlapped) (((DWORD)(lpOverlapped)->Internal) != STATUS_PENDING)

/* ---- access, creation, flags ---------------------------------------------------------------- */

#define DELETE                   0x00010000u
#define READ_CONTROL             0x00020000u
#define WRITE_DAC                0x00040000u
#define WRITE_OWNER              0x00080000u
#define SYNCHRONIZE              0x00100000u
#define STANDARD_RIGHTS_READ     READ_CONTROL
#define STANDARD_RIGHTS_WRITE    READ_CONTROL
#define STANDARD_RIGHTS_REQUIRED 0x000F0000u
#define ACCESS_SYSTEM_SECURITY   0x01000000u
#define MAXIMUM_ALLOWED          0x02000000u
#define GENERIC_READ             0x80000000u
#define GENERIC_WRITE            0x40000000u
#define GENERIC_EXECUTE          0x20000000u
#define GENERIC_ALL              0x10000000u

#define FILE_READ_DATA            0x0001u
#define FILE_LIST_DIRECTORY       0x0001u
#define FILE_WRITE_DATA           0x0002u
#define FILE_ADD_FILE             0x0002u
#define FILE_APPEND_DATA          0x0004u
#define FILE_ADD_SUBDIRECTORY     0x0004u
#define FILE_CREATE_PIPE_INSTANCE 0x0004u
#define FILE_READ_EA              0x0008u
#define FILE_READ_PROPERTIES      FILE_READ_EA
#define FILE_WRITE_EA             0x0010u
#define FILE_WRITE_PROPERTIES     FILE_WRITE_EA
#define FILE_EXECUTE              0x0020u
#define FILE_READ_ATTRIBUTES      0x0080u
#define FILE_WRITE_ATTRIBUTES     0x0100u
#define FILE_ALL_ACCESS           (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FFu)
#define FILE_GENERIC_READ                                                                          \
        (STANDARD_RIGHTS_READ | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE)
#define FILE_GENERIC_WRITE                                                                         \
        (STANDARD_RIGHTS_WRITE | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA |         \
         FILE_APPEND_DATA | SYNCHRONIZE)

#define FILE_SHARE_READ   0x00000001u
#define FILE_SHARE_WRITE  0x00000002u
#define FILE_SHARE_DELETE 0x00000004u

#define CREATE_NEW        1
#define CREATE_ALWAYS     2
#define OPEN_EXISTING     3
#define OPEN_ALWAYS       4
#define TRUNCATE_EXISTING 5

#define FILE_ATTRIBUTE_READONLY       0x00000001u
#define FILE_ATTRIBUTE_HIDDEN         0x00000002u
#define FILE_ATTRIBUTE_SYSTEM         0x00000004u
#define FILE_ATTRIBUTE_ARCHIVE        0x00000020u
#define FILE_ATTRIBUTE_NORMAL         0x00000080u
#define FILE_ATTRIBUTE_TEMPORARY      0x00000100u
#define FILE_FLAG_WRITE_THROUGH       0x80000000u
#define FILE_FLAG_OVERLAPPED          0x40000000u
#define FILE_FLAG_NO_BUFFERING        0x20000000u
#define FILE_FLAG_RANDOM_ACCESS       0x10000000u
#define FILE_FLAG_SEQUENTIAL_SCAN     0x08000000u
#define FILE_FLAG_DELETE_ON_CLOSE     0x04000000u
#define FILE_FLAG_BACKUP_SEMANTICS    0x02000000u
#define FILE_FLAG_POSIX_SEMANTICS     0x01000000u
#define FILE_FLAG_OPEN_REPARSE_POINT  0x00200000u
#define FILE_FLAG_OPEN_NO_RECALL      0x00100000u
#define FILE_FLAG_FIRST_PIPE_INSTANCE 0x00080000u

/* CreateFile dwFlagsAndAttributes: client impersonation level (accepted, see docs) */
#define SECURITY_ANONYMOUS        0x00000000u
#define SECURITY_IDENTIFICATION   0x00010000u
#define SECURITY_IMPERSONATION    0x00020000u
#define SECURITY_DELEGATION       0x00030000u
#define SECURITY_CONTEXT_TRACKING 0x00040000u
#define SECURITY_EFFECTIVE_ONLY   0x00080000u
#define SECURITY_SQOS_PRESENT     0x00100000u
#define SECURITY_VALID_SQOS_FLAGS 0x001F0000u

#define FILE_TYPE_UNKNOWN 0x0000u
#define FILE_TYPE_DISK    0x0001u
#define FILE_TYPE_CHAR    0x0002u
#define FILE_TYPE_PIPE    0x0003u

/* ---- pipes ---------------------------------------------------------------------------------- */

#define PIPE_ACCESS_INBOUND  0x00000001u
#define PIPE_ACCESS_OUTBOUND 0x00000002u
#define PIPE_ACCESS_DUPLEX   0x00000003u

#define PIPE_CLIENT_END 0x00000000u
#define PIPE_SERVER_END 0x00000001u
/* the NT names of the same values (FilePipeLocalInformation.NamedPipeEnd) */
#ifndef FILE_PIPE_CLIENT_END
#define FILE_PIPE_CLIENT_END 0x00000000u
#endif
#ifndef FILE_PIPE_SERVER_END
#define FILE_PIPE_SERVER_END 0x00000001u
#endif

#define PIPE_WAIT                  0x00000000u
#define PIPE_NOWAIT                0x00000001u
#define PIPE_READMODE_BYTE         0x00000000u
#define PIPE_READMODE_MESSAGE      0x00000002u
#define PIPE_TYPE_BYTE             0x00000000u
#define PIPE_TYPE_MESSAGE          0x00000004u
#define PIPE_ACCEPT_REMOTE_CLIENTS 0x00000000u
#define PIPE_REJECT_REMOTE_CLIENTS 0x00000008u

#define PIPE_UNLIMITED_INSTANCES 255

#define NMPWAIT_WAIT_FOREVER     0xFFFFFFFFu
#define NMPWAIT_NOWAIT           0x00000001u
#define NMPWAIT_USE_DEFAULT_WAIT 0x00000000u

/* ---- waits and status ----------------------------------------------------------------------- */

#define STATUS_WAIT_0           ((DWORD)0x00000000u)
#define STATUS_ABANDONED_WAIT_0 ((DWORD)0x00000080u)
#define STATUS_USER_APC         ((DWORD)0x000000C0u)
#define STATUS_TIMEOUT          ((DWORD)0x00000102u)
#define STATUS_PENDING          ((DWORD)0x00000103u)

/* NTSTATUS values of the pipe operations (OVERLAPPED.Internal, RtlNtStatusToDosError
 * in docs/win32.md); typed NTSTATUS as in the Windows SDK */
#define STATUS_SUCCESS                ((NTSTATUS)0x00000000L)
#define STATUS_BUFFER_OVERFLOW        ((NTSTATUS)0x80000005L)
#define STATUS_INVALID_HANDLE         ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER      ((NTSTATUS)0xC000000DL)
#define STATUS_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010L)
#define STATUS_END_OF_FILE            ((NTSTATUS)0xC0000011L)
#define STATUS_NO_MEMORY              ((NTSTATUS)0xC0000017L)
#define STATUS_ACCESS_DENIED          ((NTSTATUS)0xC0000022L)
#define STATUS_BUFFER_TOO_SMALL       ((NTSTATUS)0xC0000023L)
#define STATUS_OBJECT_NAME_INVALID    ((NTSTATUS)0xC0000033L)
#define STATUS_OBJECT_NAME_NOT_FOUND  ((NTSTATUS)0xC0000034L)
#define STATUS_OBJECT_NAME_COLLISION  ((NTSTATUS)0xC0000035L)
#define STATUS_OBJECT_PATH_NOT_FOUND  ((NTSTATUS)0xC000003AL)
#define STATUS_OBJECT_PATH_SYNTAX_BAD ((NTSTATUS)0xC000003BL)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#define STATUS_DEVICE_NOT_READY       ((NTSTATUS)0xC00000A3L)
#define STATUS_INSTANCE_NOT_AVAILABLE ((NTSTATUS)0xC00000ABL)
#define STATUS_PIPE_NOT_AVAILABLE     ((NTSTATUS)0xC00000ACL)
#define STATUS_INVALID_PIPE_STATE     ((NTSTATUS)0xC00000ADL)
#define STATUS_PIPE_BUSY              ((NTSTATUS)0xC00000AEL)
#define STATUS_ILLEGAL_FUNCTION       ((NTSTATUS)0xC00000AFL)
#define STATUS_PIPE_DISCONNECTED      ((NTSTATUS)0xC00000B0L)
#define STATUS_PIPE_CLOSING           ((NTSTATUS)0xC00000B1L)
#define STATUS_PIPE_CONNECTED         ((NTSTATUS)0xC00000B2L)
#define STATUS_PIPE_LISTENING         ((NTSTATUS)0xC00000B3L)
#define STATUS_INVALID_READ_MODE      ((NTSTATUS)0xC00000B4L)
#define STATUS_IO_TIMEOUT             ((NTSTATUS)0xC00000B5L)
#define STATUS_NOT_SUPPORTED          ((NTSTATUS)0xC00000BBL)
#define STATUS_PIPE_EMPTY             ((NTSTATUS)0xC00000D9L)
#define STATUS_NAME_TOO_LONG          ((NTSTATUS)0xC0000106L)
#define STATUS_CANCELLED              ((NTSTATUS)0xC0000120L)
#define STATUS_PIPE_BROKEN            ((NTSTATUS)0xC000014BL)
#define STATUS_NOT_FOUND              ((NTSTATUS)0xC0000225L)

#define WAIT_OBJECT_0      ((DWORD)(STATUS_WAIT_0 + 0))
#define WAIT_ABANDONED     ((DWORD)(STATUS_ABANDONED_WAIT_0 + 0))
#define WAIT_ABANDONED_0   ((DWORD)(STATUS_ABANDONED_WAIT_0 + 0))
#define WAIT_IO_COMPLETION STATUS_USER_APC
#define WAIT_TIMEOUT       258u
#define WAIT_FAILED        ((DWORD)0xFFFFFFFFu)

/* ---- threads ------------------------------------------------------------------------------- */

#define CREATE_SUSPENDED                  0x00000004u
#define MAXIMUM_SUSPEND_COUNT             0x7F
#define STACK_SIZE_PARAM_IS_A_RESERVATION 0x00010000u
#define STILL_ACTIVE                      ((DWORD)0x00000103u)

/* ---- completion notification modes (SetFileCompletionNotificationModes) --------------------- */

#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1u
#define FILE_SKIP_SET_EVENT_ON_HANDLE        0x2u

/* ---- error codes (the Windows values; spec section 0.4) ------------------------------------- */

#define ERROR_SUCCESS              0L
#define NO_ERROR                   0L
#define ERROR_INVALID_FUNCTION     1L
#define ERROR_FILE_NOT_FOUND       2L
#define ERROR_PATH_NOT_FOUND       3L
#define ERROR_TOO_MANY_OPEN_FILES  4L
#define ERROR_ACCESS_DENIED        5L
#define ERROR_INVALID_HANDLE       6L
#define ERROR_NOT_ENOUGH_MEMORY    8L
#define ERROR_INVALID_ACCESS       12L
#define ERROR_INVALID_DATA         13L
#define ERROR_OUTOFMEMORY          14L
#define ERROR_NOT_READY            21L
#define ERROR_BAD_LENGTH           24L
#define ERROR_GEN_FAILURE          31L
#define ERROR_HANDLE_EOF           38L
#define ERROR_NOT_SUPPORTED        50L
#define ERROR_BAD_NETPATH          53L
#define ERROR_NETNAME_DELETED      64L
#define ERROR_INVALID_PARAMETER    87L
#define ERROR_BROKEN_PIPE          109L
#define ERROR_CALL_NOT_IMPLEMENTED 120L
#define ERROR_SEM_TIMEOUT          121L
#define ERROR_INSUFFICIENT_BUFFER  122L
#define ERROR_INVALID_NAME         123L
#define ERROR_NOT_LOCKED           158L
#define ERROR_BAD_PATHNAME         161L
#define ERROR_ALREADY_EXISTS       183L
#define ERROR_FILENAME_EXCED_RANGE 206L
#define ERROR_PIPE_LOCAL           229L
#define ERROR_BAD_PIPE             230L
#define ERROR_PIPE_BUSY            231L
#define ERROR_NO_DATA              232L
#define ERROR_PIPE_NOT_CONNECTED   233L
#define ERROR_MORE_DATA            234L
#define ERROR_PIPE_CONNECTED       535L
#define ERROR_PIPE_LISTENING       536L
#define ERROR_ABANDONED_WAIT_0     735L
#define ERROR_OPERATION_ABORTED    995L
#define ERROR_IO_INCOMPLETE        996L
#define ERROR_IO_PENDING           997L
#define ERROR_NOACCESS             998L
#define ERROR_NOT_FOUND            1168L
#define ERROR_UNKNOWN_REVISION     1305L
#define ERROR_LOGON_FAILURE        1326L
#define ERROR_INVALID_SECURITY_DESCR 1338L
#define ERROR_CANNOT_IMPERSONATE   1368L
#define ERROR_NO_SYSTEM_RESOURCES  1450L
#define ERROR_TIMEOUT              1460L
#define ERROR_INVALID_USER_BUFFER  1784L
#define ERROR_NOT_ENOUGH_QUOTA     1816L
#define ERROR_NO_MORE_FILES        18L
#define ERROR_SHARING_VIOLATION    32L
#define ERROR_HANDLE_DISK_FULL     39L
#define ERROR_FILE_EXISTS          80L
#define ERROR_OPEN_FAILED          110L
#define ERROR_BUFFER_OVERFLOW      111L
#define ERROR_DISK_FULL            112L
#define ERROR_BAD_EXE_FORMAT       193L
#define ERROR_MOD_NOT_FOUND        126L
#define ERROR_NO_MORE_ITEMS        259L
#define ERROR_DIRECTORY            267L
#define ERROR_MR_MID_NOT_FOUND     317L
#define ERROR_INTERNAL_ERROR       1359L
#define ERROR_RESOURCE_TYPE_NOT_FOUND 1813L

/* HRESULTs (strsafe.h) */
#define S_OK                          ((HRESULT)0L)
#define S_FALSE                       ((HRESULT)1L)
#define E_INVALIDARG                  ((HRESULT)0x80070057L)
#define E_OUTOFMEMORY                 ((HRESULT)0x8007000EL)
#define E_FAIL                        ((HRESULT)0x80004005L)
#define SUCCEEDED(hr)                 (((HRESULT)(hr)) >= 0)
#define FAILED(hr)                    (((HRESULT)(hr)) < 0)
#define HRESULT_FROM_WIN32(x)                                                                      \
        ((HRESULT)(x) <= 0 ? ((HRESULT)(x)) : ((HRESULT)(((x)&0x0000FFFF) | (7 << 16) | 0x80000000)))

/* ---- processes, standard handles, inheritance --------------------------------------------- */

#define STD_INPUT_HANDLE  ((DWORD)-10)
#define STD_OUTPUT_HANDLE ((DWORD)-11)
#define STD_ERROR_HANDLE  ((DWORD)-12)

#define HANDLE_FLAG_INHERIT            0x00000001u
#define HANDLE_FLAG_PROTECT_FROM_CLOSE 0x00000002u
#define DUPLICATE_CLOSE_SOURCE         0x00000001u
#define DUPLICATE_SAME_ACCESS          0x00000002u

#define DEBUG_PROCESS              0x00000001u
#define DEBUG_ONLY_THIS_PROCESS    0x00000002u
#define DETACHED_PROCESS           0x00000008u
#define CREATE_NEW_CONSOLE         0x00000010u
#define NORMAL_PRIORITY_CLASS      0x00000020u
#define IDLE_PRIORITY_CLASS        0x00000040u
#define HIGH_PRIORITY_CLASS        0x00000080u
#define CREATE_NEW_PROCESS_GROUP   0x00000200u
#define CREATE_UNICODE_ENVIRONMENT 0x00000400u
#define CREATE_NO_WINDOW           0x08000000u

#define STARTF_USESHOWWINDOW  0x00000001u
#define STARTF_USESIZE        0x00000002u
#define STARTF_USEPOSITION    0x00000004u
#define STARTF_USESTDHANDLES  0x00000100u
#define SW_HIDE               0
#define SW_SHOWNORMAL         1
#define SW_SHOW               5

#define PROCESS_TERMINATE                 0x0001u
#define PROCESS_DUP_HANDLE                0x0040u
#define PROCESS_QUERY_INFORMATION         0x0400u
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000u
#define PROCESS_ALL_ACCESS                (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0xFFFFu)

typedef struct _STARTUPINFOA {
        DWORD cb;
        LPSTR lpReserved;
        LPSTR lpDesktop;
        LPSTR lpTitle;
        DWORD dwX, dwY, dwXSize, dwYSize, dwXCountChars, dwYCountChars, dwFillAttribute;
        DWORD dwFlags;
        WORD wShowWindow;
        WORD cbReserved2;
        LPBYTE lpReserved2;
        HANDLE hStdInput;
        HANDLE hStdOutput;
        HANDLE hStdError;
} STARTUPINFOA, *LPSTARTUPINFOA;

typedef struct _STARTUPINFOW {
        DWORD cb;
        LPWSTR lpReserved;
        LPWSTR lpDesktop;
        LPWSTR lpTitle;
        DWORD dwX, dwY, dwXSize, dwYSize, dwXCountChars, dwYCountChars, dwFillAttribute;
        DWORD dwFlags;
        WORD wShowWindow;
        WORD cbReserved2;
        LPBYTE lpReserved2;
        HANDLE hStdInput;
        HANDLE hStdOutput;
        HANDLE hStdError;
} STARTUPINFOW, *LPSTARTUPINFOW;

typedef struct _PROCESS_INFORMATION {
        HANDLE hProcess;
        HANDLE hThread;
        DWORD dwProcessId;
        DWORD dwThreadId;
} PROCESS_INFORMATION, *PPROCESS_INFORMATION, *LPPROCESS_INFORMATION;

/* ---- memory (heap, global, local) ------------------------------------------------------------ */

#define HEAP_NO_SERIALIZE          0x00000001u
#define HEAP_GENERATE_EXCEPTIONS   0x00000004u
#define HEAP_ZERO_MEMORY           0x00000008u
#define HEAP_REALLOC_IN_PLACE_ONLY 0x00000010u
#define GMEM_FIXED                 0x0000u
#define GMEM_MOVEABLE              0x0002u
#define GMEM_ZEROINIT              0x0040u
#define GPTR                       (GMEM_FIXED | GMEM_ZEROINIT)
#define GHND                       (GMEM_MOVEABLE | GMEM_ZEROINIT)
#define LMEM_FIXED                 0x0000u
#define LMEM_MOVEABLE              0x0002u
#define LMEM_ZEROINIT              0x0040u
#define LPTR                       (LMEM_FIXED | LMEM_ZEROINIT)
#define LHND                       (LMEM_MOVEABLE | LMEM_ZEROINIT)

/* ---- FormatMessage --------------------------------------------------------------------------- */

#define FORMAT_MESSAGE_ALLOCATE_BUFFER 0x00000100u
#define FORMAT_MESSAGE_IGNORE_INSERTS  0x00000200u
#define FORMAT_MESSAGE_FROM_STRING     0x00000400u
#define FORMAT_MESSAGE_FROM_HMODULE    0x00000800u
#define FORMAT_MESSAGE_FROM_SYSTEM     0x00001000u
#define FORMAT_MESSAGE_ARGUMENT_ARRAY  0x00002000u
#define FORMAT_MESSAGE_MAX_WIDTH_MASK  0x000000FFu
#define LANG_NEUTRAL                   0x00
#define LANG_ENGLISH                   0x09
#define SUBLANG_NEUTRAL                0x00
#define SUBLANG_DEFAULT                0x01
#define SUBLANG_ENGLISH_US             0x01
#define MAKELANGID(p, s)               ((WORD)((((WORD)(s)) << 10) | (WORD)(p)))

/* MessageBox (user32): the text goes to standard error (docs/win32.md) */
#define MB_OK              0x00000000u
#define MB_OKCANCEL        0x00000001u
#define MB_ICONERROR       0x00000010u
#define MB_ICONHAND        0x00000010u
#define MB_ICONWARNING     0x00000030u
#define MB_ICONINFORMATION 0x00000040u
#define IDOK               1
#define IDCANCEL           2

/* ---- functions ------------------------------------------------------------------------------ */

/* errors */
NPIPE_WIN_API DWORD WINAPI npipe_win_GetLastError(void);
NPIPE_WIN_API VOID WINAPI npipe_win_SetLastError(DWORD dwErrCode);

/* handles */
NPIPE_WIN_API BOOL WINAPI npipe_win_CloseHandle(HANDLE hObject);
NPIPE_WIN_API DWORD WINAPI npipe_win_GetFileType(HANDLE hFile);

/* pipes */
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateNamedPipeA(LPCSTR lpName, DWORD dwOpenMode,
                                                       DWORD dwPipeMode, DWORD nMaxInstances,
                                                       DWORD nOutBufferSize, DWORD nInBufferSize,
                                                       DWORD nDefaultTimeOut,
                                                       LPSECURITY_ATTRIBUTES lpSecurityAttributes);
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateNamedPipeW(LPCWSTR lpName, DWORD dwOpenMode,
                                                       DWORD dwPipeMode, DWORD nMaxInstances,
                                                       DWORD nOutBufferSize, DWORD nInBufferSize,
                                                       DWORD nDefaultTimeOut,
                                                       LPSECURITY_ATTRIBUTES lpSecurityAttributes);
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess,
                                                  DWORD dwShareMode,
                                                  LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                                                  DWORD dwCreationDisposition,
                                                  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess,
                                                  DWORD dwShareMode,
                                                  LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                                                  DWORD dwCreationDisposition,
                                                  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
NPIPE_WIN_API BOOL WINAPI npipe_win_CreatePipe(PHANDLE hReadPipe, PHANDLE hWritePipe,
                                               LPSECURITY_ATTRIBUTES lpPipeAttributes, DWORD nSize);
NPIPE_WIN_API BOOL WINAPI npipe_win_ConnectNamedPipe(HANDLE hNamedPipe, LPOVERLAPPED lpOverlapped);
NPIPE_WIN_API BOOL WINAPI npipe_win_DisconnectNamedPipe(HANDLE hNamedPipe);
NPIPE_WIN_API BOOL WINAPI npipe_win_WaitNamedPipeA(LPCSTR lpNamedPipeName, DWORD nTimeOut);
NPIPE_WIN_API BOOL WINAPI npipe_win_WaitNamedPipeW(LPCWSTR lpNamedPipeName, DWORD nTimeOut);
NPIPE_WIN_API BOOL WINAPI npipe_win_PeekNamedPipe(HANDLE hNamedPipe, LPVOID lpBuffer,
                                                  DWORD nBufferSize, LPDWORD lpBytesRead,
                                                  LPDWORD lpTotalBytesAvail,
                                                  LPDWORD lpBytesLeftThisMessage);
NPIPE_WIN_API BOOL WINAPI npipe_win_TransactNamedPipe(HANDLE hNamedPipe, LPVOID lpInBuffer,
                                                      DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                      DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                      LPOVERLAPPED lpOverlapped);
NPIPE_WIN_API BOOL WINAPI npipe_win_CallNamedPipeA(LPCSTR lpNamedPipeName, LPVOID lpInBuffer,
                                                   DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                   DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                   DWORD nTimeOut);
NPIPE_WIN_API BOOL WINAPI npipe_win_CallNamedPipeW(LPCWSTR lpNamedPipeName, LPVOID lpInBuffer,
                                                   DWORD nInBufferSize, LPVOID lpOutBuffer,
                                                   DWORD nOutBufferSize, LPDWORD lpBytesRead,
                                                   DWORD nTimeOut);
NPIPE_WIN_API BOOL WINAPI npipe_win_SetNamedPipeHandleState(HANDLE hNamedPipe, LPDWORD lpMode,
                                                            LPDWORD lpMaxCollectionCount,
                                                            LPDWORD lpCollectDataTimeout);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeHandleStateA(
    HANDLE hNamedPipe, LPDWORD lpState, LPDWORD lpCurInstances, LPDWORD lpMaxCollectionCount,
    LPDWORD lpCollectDataTimeout, LPSTR lpUserName, DWORD nMaxUserNameSize);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeHandleStateW(
    HANDLE hNamedPipe, LPDWORD lpState, LPDWORD lpCurInstances, LPDWORD lpMaxCollectionCount,
    LPDWORD lpCollectDataTimeout, LPWSTR lpUserName, DWORD nMaxUserNameSize);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeInfo(HANDLE hNamedPipe, LPDWORD lpFlags,
                                                     LPDWORD lpOutBufferSize,
                                                     LPDWORD lpInBufferSize,
                                                     LPDWORD lpMaxInstances);
/* Windows declares PULONG; ULONG and DWORD are the same type here, as on Windows. */
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientProcessId(HANDLE Pipe,
                                                                PULONG ClientProcessId);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeServerProcessId(HANDLE Pipe,
                                                                PULONG ServerProcessId);
/* Local clients (and client ends, and no client): FALSE, ERROR_PIPE_LOCAL.
 * Remote (SMB) clients: the client's IP address, not its computer name,
 * which Samba does not pass on (docs/win32.md).  The length is in bytes. */
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientComputerNameA(HANDLE Pipe,
                                                                    LPSTR ClientComputerName,
                                                                    ULONG ClientComputerNameLength);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientComputerNameW(HANDLE Pipe,
                                                                    LPWSTR ClientComputerName,
                                                                    ULONG ClientComputerNameLength);

/* impersonation: the calling thread takes the client's uid, gid and groups
 * (root only; otherwise only a client of our own uid can be "impersonated") */
NPIPE_WIN_API BOOL WINAPI npipe_win_ImpersonateNamedPipeClient(HANDLE hNamedPipe);
NPIPE_WIN_API BOOL WINAPI npipe_win_RevertToSelf(void);

/* security descriptors (for a NULL DACL: SECURITY_ATTRIBUTES of CreateNamedPipe) */
NPIPE_WIN_API BOOL WINAPI
npipe_win_InitializeSecurityDescriptor(PSECURITY_DESCRIPTOR pSecurityDescriptor, DWORD dwRevision);
NPIPE_WIN_API BOOL WINAPI npipe_win_SetSecurityDescriptorDacl(
    PSECURITY_DESCRIPTOR pSecurityDescriptor, BOOL bDaclPresent, PACL pDacl, BOOL bDaclDefaulted);

/* I/O */
NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFile(HANDLE hFile, LPVOID lpBuffer,
                                             DWORD nNumberOfBytesToRead,
                                             LPDWORD lpNumberOfBytesRead,
                                             LPOVERLAPPED lpOverlapped);
NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFile(HANDLE hFile, LPCVOID lpBuffer,
                                              DWORD nNumberOfBytesToWrite,
                                              LPDWORD lpNumberOfBytesWritten,
                                              LPOVERLAPPED lpOverlapped);
NPIPE_WIN_API BOOL WINAPI npipe_win_ReadFileEx(HANDLE hFile, LPVOID lpBuffer,
                                               DWORD nNumberOfBytesToRead,
                                               LPOVERLAPPED lpOverlapped,
                                               LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
NPIPE_WIN_API BOOL WINAPI npipe_win_WriteFileEx(
    HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite, LPOVERLAPPED lpOverlapped,
    LPOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
NPIPE_WIN_API BOOL WINAPI npipe_win_FlushFileBuffers(HANDLE hFile);

/* overlapped results, cancellation */
NPIPE_WIN_API BOOL WINAPI npipe_win_GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                                        LPDWORD lpNumberOfBytesTransferred,
                                                        BOOL bWait);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetOverlappedResultEx(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                                          LPDWORD lpNumberOfBytesTransferred,
                                                          DWORD dwMilliseconds, BOOL bAlertable);
NPIPE_WIN_API BOOL WINAPI npipe_win_CancelIo(HANDLE hFile);
NPIPE_WIN_API BOOL WINAPI npipe_win_CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
NPIPE_WIN_API BOOL WINAPI npipe_win_CancelSynchronousIo(HANDLE hThread);
NPIPE_WIN_API BOOL WINAPI npipe_win_SetFileCompletionNotificationModes(HANDLE FileHandle,
                                                                       UCHAR Flags);

/* completion ports */
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateIoCompletionPort(HANDLE FileHandle,
                                                             HANDLE ExistingCompletionPort,
                                                             ULONG_PTR CompletionKey,
                                                             DWORD NumberOfConcurrentThreads);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetQueuedCompletionStatus(HANDLE CompletionPort,
                                                              LPDWORD lpNumberOfBytesTransferred,
                                                              PULONG_PTR lpCompletionKey,
                                                              LPOVERLAPPED *lpOverlapped,
                                                              DWORD dwMilliseconds);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetQueuedCompletionStatusEx(
    HANDLE CompletionPort, LPOVERLAPPED_ENTRY lpCompletionPortEntries, ULONG ulCount,
    PULONG ulNumEntriesRemoved, DWORD dwMilliseconds, BOOL fAlertable);
NPIPE_WIN_API BOOL WINAPI npipe_win_PostQueuedCompletionStatus(HANDLE CompletionPort,
                                                               DWORD dwNumberOfBytesTransferred,
                                                               ULONG_PTR dwCompletionKey,
                                                               LPOVERLAPPED lpOverlapped);

/* events and waits */
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes,
                                                   BOOL bManualReset, BOOL bInitialState,
                                                   LPCSTR lpName);
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateEventW(LPSECURITY_ATTRIBUTES lpEventAttributes,
                                                   BOOL bManualReset, BOOL bInitialState,
                                                   LPCWSTR lpName);
NPIPE_WIN_API BOOL WINAPI npipe_win_SetEvent(HANDLE hEvent);
NPIPE_WIN_API BOOL WINAPI npipe_win_ResetEvent(HANDLE hEvent);
NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds,
                                                           BOOL bAlertable);
NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles,
                                                            BOOL bWaitAll, DWORD dwMilliseconds);
NPIPE_WIN_API DWORD WINAPI npipe_win_WaitForMultipleObjectsEx(DWORD nCount, const HANDLE *lpHandles,
                                                              BOOL bWaitAll, DWORD dwMilliseconds,
                                                              BOOL bAlertable);
NPIPE_WIN_API DWORD WINAPI npipe_win_SleepEx(DWORD dwMilliseconds, BOOL bAlertable);
NPIPE_WIN_API VOID WINAPI npipe_win_Sleep(DWORD dwMilliseconds);

/* threads: waitable handles, signalled when the thread function has returned */
NPIPE_WIN_API HANDLE WINAPI npipe_win_CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes,
                                                   SIZE_T dwStackSize,
                                                   LPTHREAD_START_ROUTINE lpStartAddress,
                                                   LPVOID lpParameter, DWORD dwCreationFlags,
                                                   LPDWORD lpThreadId);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);
/* the calling thread's pseudo-handle ((HANDLE)-2, as on Windows): valid for
 * QueueUserAPC and CancelSynchronousIo, not for waits or CloseHandle */
NPIPE_WIN_API HANDLE WINAPI npipe_win_GetCurrentThread(void);
NPIPE_WIN_API DWORD WINAPI npipe_win_QueueUserAPC(PAPCFUNC pfnAPC, HANDLE hThread,
                                                  ULONG_PTR dwData);
/* the main thread of a child made with CREATE_SUSPENDED (pi.hThread): the
 * previous suspend count, (DWORD)-1 on failure; threads of this process are
 * never suspended (ResumeThread 0, SuspendThread ERROR_NOT_SUPPORTED) */
NPIPE_WIN_API DWORD WINAPI npipe_win_ResumeThread(HANDLE hThread);
NPIPE_WIN_API DWORD WINAPI npipe_win_SuspendThread(HANDLE hThread);

/* process and thread ids (the OS ids: getpid() and gettid()) */
NPIPE_WIN_API DWORD WINAPI npipe_win_GetCurrentProcessId(void);
NPIPE_WIN_API DWORD WINAPI npipe_win_GetCurrentThreadId(void);

/* session ids: the Unix session (getsid) of the process at the other end, as
 * Windows gives its logon session; 0 when it is unknown (remote clients) */
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeClientSessionId(HANDLE Pipe,
                                                                PULONG ClientSessionId);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetNamedPipeServerSessionId(HANDLE Pipe,
                                                                PULONG ServerSessionId);
NPIPE_WIN_API BOOL WINAPI npipe_win_ProcessIdToSessionId(DWORD dwProcessId, DWORD *pSessionId);

/* time */
NPIPE_WIN_API DWORD WINAPI npipe_win_GetTickCount(void);
NPIPE_WIN_API ULONGLONG WINAPI npipe_win_GetTickCount64(void);

/* handles: duplication and inheritance */
NPIPE_WIN_API BOOL WINAPI npipe_win_DuplicateHandle(HANDLE hSourceProcessHandle,
                                                    HANDLE hSourceHandle,
                                                    HANDLE hTargetProcessHandle,
                                                    LPHANDLE lpTargetHandle, DWORD dwDesiredAccess,
                                                    BOOL bInheritHandle, DWORD dwOptions);
NPIPE_WIN_API BOOL WINAPI npipe_win_SetHandleInformation(HANDLE hObject, DWORD dwMask,
                                                         DWORD dwFlags);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetHandleInformation(HANDLE hObject, LPDWORD lpdwFlags);

/* standard handles: wrap the descriptors 0, 1 and 2 (files, terminals,
 * Linux pipes), or the inherited pipe ends of a CreateProcess parent */
NPIPE_WIN_API HANDLE WINAPI npipe_win_GetStdHandle(DWORD nStdHandle);
NPIPE_WIN_API BOOL WINAPI npipe_win_SetStdHandle(DWORD nStdHandle, HANDLE hHandle);

/* processes */
NPIPE_WIN_API BOOL WINAPI npipe_win_CreateProcessA(
    LPCSTR lpApplicationName, LPSTR lpCommandLine, LPSECURITY_ATTRIBUTES lpProcessAttributes,
    LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles, DWORD dwCreationFlags,
    LPVOID lpEnvironment, LPCSTR lpCurrentDirectory, LPSTARTUPINFOA lpStartupInfo,
    LPPROCESS_INFORMATION lpProcessInformation);
NPIPE_WIN_API BOOL WINAPI npipe_win_CreateProcessW(
    LPCWSTR lpApplicationName, LPWSTR lpCommandLine, LPSECURITY_ATTRIBUTES lpProcessAttributes,
    LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles, DWORD dwCreationFlags,
    LPVOID lpEnvironment, LPCWSTR lpCurrentDirectory, LPSTARTUPINFOW lpStartupInfo,
    LPPROCESS_INFORMATION lpProcessInformation);
NPIPE_WIN_API BOOL WINAPI npipe_win_GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode);
NPIPE_WIN_API BOOL WINAPI npipe_win_TerminateProcess(HANDLE hProcess, UINT uExitCode);
NPIPE_WIN_API DWORD WINAPI npipe_win_GetProcessId(HANDLE Process);
/* the pseudo-handle (HANDLE)-1, as on Windows */
NPIPE_WIN_API HANDLE WINAPI npipe_win_GetCurrentProcess(void);
NPIPE_WIN_API __attribute__((noreturn)) VOID WINAPI npipe_win_ExitProcess(UINT uExitCode);
NPIPE_WIN_API LPSTR WINAPI npipe_win_GetCommandLineA(void);
NPIPE_WIN_API LPWSTR WINAPI npipe_win_GetCommandLineW(void);
/* the path of this program (hModule NULL only: there are no modules) */
NPIPE_WIN_API DWORD WINAPI npipe_win_GetModuleFileNameA(HMODULE hModule, LPSTR lpFilename,
                                                        DWORD nSize);
NPIPE_WIN_API DWORD WINAPI npipe_win_GetModuleFileNameW(HMODULE hModule, LPWSTR lpFilename,
                                                        DWORD nSize);
/* Windows' command-line splitting; the array is one LocalAlloc block */
NPIPE_WIN_API LPWSTR *WINAPI npipe_win_CommandLineToArgvW(LPCWSTR lpCmdLine, int *pNumArgs);

/* memory: heap, global and local blocks are malloc blocks with their size */
NPIPE_WIN_API HANDLE WINAPI npipe_win_GetProcessHeap(void);
NPIPE_WIN_API LPVOID WINAPI npipe_win_HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
NPIPE_WIN_API LPVOID WINAPI npipe_win_HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem,
                                                  SIZE_T dwBytes);
NPIPE_WIN_API BOOL WINAPI npipe_win_HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);
NPIPE_WIN_API SIZE_T WINAPI npipe_win_HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
NPIPE_WIN_API HGLOBAL WINAPI npipe_win_GlobalAlloc(UINT uFlags, SIZE_T dwBytes);
NPIPE_WIN_API HGLOBAL WINAPI npipe_win_GlobalReAlloc(HGLOBAL hMem, SIZE_T dwBytes, UINT uFlags);
NPIPE_WIN_API HGLOBAL WINAPI npipe_win_GlobalFree(HGLOBAL hMem);
NPIPE_WIN_API SIZE_T WINAPI npipe_win_GlobalSize(HGLOBAL hMem);
NPIPE_WIN_API LPVOID WINAPI npipe_win_GlobalLock(HGLOBAL hMem);
NPIPE_WIN_API BOOL WINAPI npipe_win_GlobalUnlock(HGLOBAL hMem);
NPIPE_WIN_API HLOCAL WINAPI npipe_win_LocalAlloc(UINT uFlags, SIZE_T uBytes);
NPIPE_WIN_API HLOCAL WINAPI npipe_win_LocalReAlloc(HLOCAL hMem, SIZE_T uBytes, UINT uFlags);
NPIPE_WIN_API HLOCAL WINAPI npipe_win_LocalFree(HLOCAL hMem);
NPIPE_WIN_API SIZE_T WINAPI npipe_win_LocalSize(HLOCAL hMem);
NPIPE_WIN_API LPVOID WINAPI npipe_win_LocalLock(HLOCAL hMem);
NPIPE_WIN_API BOOL WINAPI npipe_win_LocalUnlock(HLOCAL hMem);

/* messages: the system texts of the error codes (docs/win32.md) */
NPIPE_WIN_API DWORD WINAPI npipe_win_FormatMessageA(DWORD dwFlags, LPCVOID lpSource,
                                                    DWORD dwMessageId, DWORD dwLanguageId,
                                                    LPSTR lpBuffer, DWORD nSize, va_list *Arguments);
NPIPE_WIN_API DWORD WINAPI npipe_win_FormatMessageW(DWORD dwFlags, LPCVOID lpSource,
                                                    DWORD dwMessageId, DWORD dwLanguageId,
                                                    LPWSTR lpBuffer, DWORD nSize, va_list *Arguments);
NPIPE_WIN_API int WINAPI npipe_win_MessageBoxA(HWND hWnd, LPCSTR lpText, LPCSTR lpCaption,
                                               UINT uType);
NPIPE_WIN_API int WINAPI npipe_win_MessageBoxW(HWND hWnd, LPCWSTR lpText, LPCWSTR lpCaption,
                                               UINT uType);

/* strings (lstrcmp and lstrcmpi order as CompareString does: docs/win32.md) */
NPIPE_WIN_API int WINAPI npipe_win_lstrlenA(LPCSTR lpString);
NPIPE_WIN_API int WINAPI npipe_win_lstrlenW(LPCWSTR lpString);
NPIPE_WIN_API LPSTR WINAPI npipe_win_lstrcpyA(LPSTR lpString1, LPCSTR lpString2);
NPIPE_WIN_API LPWSTR WINAPI npipe_win_lstrcpyW(LPWSTR lpString1, LPCWSTR lpString2);
NPIPE_WIN_API LPSTR WINAPI npipe_win_lstrcpynA(LPSTR lpString1, LPCSTR lpString2, int iMaxLength);
NPIPE_WIN_API LPWSTR WINAPI npipe_win_lstrcpynW(LPWSTR lpString1, LPCWSTR lpString2,
                                                int iMaxLength);
NPIPE_WIN_API LPSTR WINAPI npipe_win_lstrcatA(LPSTR lpString1, LPCSTR lpString2);
NPIPE_WIN_API LPWSTR WINAPI npipe_win_lstrcatW(LPWSTR lpString1, LPCWSTR lpString2);
NPIPE_WIN_API int WINAPI npipe_win_lstrcmpA(LPCSTR lpString1, LPCSTR lpString2);
NPIPE_WIN_API int WINAPI npipe_win_lstrcmpW(LPCWSTR lpString1, LPCWSTR lpString2);
NPIPE_WIN_API int WINAPI npipe_win_lstrcmpiA(LPCSTR lpString1, LPCSTR lpString2);
NPIPE_WIN_API int WINAPI npipe_win_lstrcmpiW(LPCWSTR lpString1, LPCWSTR lpString2);
NPIPE_WIN_API int WINAPI npipe_win_MultiByteToWideChar(UINT CodePage, DWORD dwFlags,
                                                       LPCSTR lpMultiByteStr, int cbMultiByte,
                                                       LPWSTR lpWideCharStr, int cchWideChar);
NPIPE_WIN_API int WINAPI npipe_win_WideCharToMultiByte(UINT CodePage, DWORD dwFlags,
                                                       LPCWSTR lpWideCharStr, int cchWideChar,
                                                       LPSTR lpMultiByteStr, int cbMultiByte,
                                                       LPCSTR lpDefaultChar,
                                                       LPBOOL lpUsedDefaultChar);
#define CP_ACP   0
#define CP_OEMCP 1
#define CP_UTF8  65001
/* wsprintf: printf with the Windows conversions (%s is a TCHAR string of the
 * function's width, %S the other width, %hs narrow, %ls wide), at most
 * 1024 units as on Windows */
NPIPE_WIN_API int WINAPI npipe_win_wsprintfA(LPSTR lpOut, LPCSTR lpFmt, ...);
NPIPE_WIN_API int WINAPI npipe_win_wsprintfW(LPWSTR lpOut, LPCWSTR lpFmt, ...);
NPIPE_WIN_API int WINAPI npipe_win_wvsprintfA(LPSTR lpOut, LPCSTR lpFmt, va_list arglist);
NPIPE_WIN_API int WINAPI npipe_win_wvsprintfW(LPWSTR lpOut, LPCWSTR lpFmt, va_list arglist);

/* ---- intrinsics and memory macros (inline, as on Windows) ------------------------------------ */

static inline LONG npipe_win_InterlockedIncrement(LONG volatile *p)
{
        return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST);
}
static inline LONG npipe_win_InterlockedDecrement(LONG volatile *p)
{
        return __atomic_sub_fetch(p, 1, __ATOMIC_SEQ_CST);
}
static inline LONG npipe_win_InterlockedExchange(LONG volatile *p, LONG v)
{
        return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
static inline LONG npipe_win_InterlockedExchangeAdd(LONG volatile *p, LONG v)
{
        return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
static inline LONG npipe_win_InterlockedCompareExchange(LONG volatile *p, LONG v, LONG cmp)
{
        __atomic_compare_exchange_n(p, &cmp, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        return cmp;
}
#define InterlockedIncrement       npipe_win_InterlockedIncrement
#define InterlockedDecrement       npipe_win_InterlockedDecrement
#define InterlockedExchange        npipe_win_InterlockedExchange
#define InterlockedExchangeAdd     npipe_win_InterlockedExchangeAdd
#define InterlockedCompareExchange npipe_win_InterlockedCompareExchange

#define ZeroMemory(dst, len)       memset((dst), 0, (len))
#define FillMemory(dst, len, fill) memset((dst), (fill), (len))
#define CopyMemory(dst, src, len)  memcpy((dst), (src), (len))
#define MoveMemory(dst, src, len)  memmove((dst), (src), (len))
#define SecureZeroMemory(dst, len) memset((dst), 0, (len))

/* ---- the Win32 names ------------------------------------------------------------------------ */

#define GetLastError                npipe_win_GetLastError
#define SetLastError                npipe_win_SetLastError
#define CloseHandle                 npipe_win_CloseHandle
#define GetFileType                 npipe_win_GetFileType
#define CreateNamedPipeA            npipe_win_CreateNamedPipeA
#define CreateNamedPipeW            npipe_win_CreateNamedPipeW
#define CreateFileA                 npipe_win_CreateFileA
#define CreateFileW                 npipe_win_CreateFileW
#define CreatePipe                  npipe_win_CreatePipe
#define ConnectNamedPipe            npipe_win_ConnectNamedPipe
#define DisconnectNamedPipe         npipe_win_DisconnectNamedPipe
#define WaitNamedPipeA              npipe_win_WaitNamedPipeA
#define WaitNamedPipeW              npipe_win_WaitNamedPipeW
#define PeekNamedPipe               npipe_win_PeekNamedPipe
#define TransactNamedPipe           npipe_win_TransactNamedPipe
#define CallNamedPipeA              npipe_win_CallNamedPipeA
#define CallNamedPipeW              npipe_win_CallNamedPipeW
#define SetNamedPipeHandleState     npipe_win_SetNamedPipeHandleState
#define GetNamedPipeHandleStateA    npipe_win_GetNamedPipeHandleStateA
#define GetNamedPipeHandleStateW    npipe_win_GetNamedPipeHandleStateW
#define GetNamedPipeInfo            npipe_win_GetNamedPipeInfo
#define GetNamedPipeClientProcessId npipe_win_GetNamedPipeClientProcessId
#define GetNamedPipeServerProcessId npipe_win_GetNamedPipeServerProcessId
#define GetNamedPipeClientComputerNameA npipe_win_GetNamedPipeClientComputerNameA
#define GetNamedPipeClientComputerNameW npipe_win_GetNamedPipeClientComputerNameW
#define ImpersonateNamedPipeClient  npipe_win_ImpersonateNamedPipeClient
#define RevertToSelf                npipe_win_RevertToSelf
#define InitializeSecurityDescriptor npipe_win_InitializeSecurityDescriptor
#define SetSecurityDescriptorDacl   npipe_win_SetSecurityDescriptorDacl
#define ReadFile                    npipe_win_ReadFile
#define WriteFile                   npipe_win_WriteFile
#define ReadFileEx                  npipe_win_ReadFileEx
#define WriteFileEx                 npipe_win_WriteFileEx
#define FlushFileBuffers            npipe_win_FlushFileBuffers
#define GetOverlappedResult         npipe_win_GetOverlappedResult
#define GetOverlappedResultEx       npipe_win_GetOverlappedResultEx
#define CancelIo                    npipe_win_CancelIo
#define CancelIoEx                  npipe_win_CancelIoEx
#define CancelSynchronousIo         npipe_win_CancelSynchronousIo
#define SetFileCompletionNotificationModes npipe_win_SetFileCompletionNotificationModes
#define CreateIoCompletionPort      npipe_win_CreateIoCompletionPort
#define GetQueuedCompletionStatus   npipe_win_GetQueuedCompletionStatus
#define GetQueuedCompletionStatusEx npipe_win_GetQueuedCompletionStatusEx
#define PostQueuedCompletionStatus  npipe_win_PostQueuedCompletionStatus
#define CreateEventA                npipe_win_CreateEventA
#define CreateEventW                npipe_win_CreateEventW
#define SetEvent                    npipe_win_SetEvent
#define ResetEvent                  npipe_win_ResetEvent
#define WaitForSingleObject         npipe_win_WaitForSingleObject
#define WaitForSingleObjectEx       npipe_win_WaitForSingleObjectEx
#define WaitForMultipleObjects      npipe_win_WaitForMultipleObjects
#define WaitForMultipleObjectsEx    npipe_win_WaitForMultipleObjectsEx
#define SleepEx                     npipe_win_SleepEx
#define Sleep                       npipe_win_Sleep
#define CreateThread                npipe_win_CreateThread
#define GetExitCodeThread           npipe_win_GetExitCodeThread
#define GetCurrentThread            npipe_win_GetCurrentThread
#define QueueUserAPC                npipe_win_QueueUserAPC
#define ResumeThread                npipe_win_ResumeThread
#define SuspendThread               npipe_win_SuspendThread
#define GetCurrentProcessId         npipe_win_GetCurrentProcessId
#define GetCurrentThreadId          npipe_win_GetCurrentThreadId
#define GetNamedPipeClientSessionId npipe_win_GetNamedPipeClientSessionId
#define GetNamedPipeServerSessionId npipe_win_GetNamedPipeServerSessionId
#define ProcessIdToSessionId        npipe_win_ProcessIdToSessionId
#define GetTickCount                npipe_win_GetTickCount
#define GetTickCount64              npipe_win_GetTickCount64
#define DuplicateHandle             npipe_win_DuplicateHandle
#define SetHandleInformation        npipe_win_SetHandleInformation
#define GetHandleInformation        npipe_win_GetHandleInformation
#define GetStdHandle                npipe_win_GetStdHandle
#define SetStdHandle                npipe_win_SetStdHandle
#define CreateProcessA              npipe_win_CreateProcessA
#define CreateProcessW              npipe_win_CreateProcessW
#define GetExitCodeProcess          npipe_win_GetExitCodeProcess
#define TerminateProcess            npipe_win_TerminateProcess
#define GetProcessId                npipe_win_GetProcessId
#define GetCurrentProcess           npipe_win_GetCurrentProcess
#define ExitProcess                 npipe_win_ExitProcess
#define GetCommandLineA             npipe_win_GetCommandLineA
#define GetCommandLineW             npipe_win_GetCommandLineW
#define GetModuleFileNameA          npipe_win_GetModuleFileNameA
#define GetModuleFileNameW          npipe_win_GetModuleFileNameW
#define CommandLineToArgvW          npipe_win_CommandLineToArgvW
#define GetProcessHeap              npipe_win_GetProcessHeap
#define HeapAlloc                   npipe_win_HeapAlloc
#define HeapReAlloc                 npipe_win_HeapReAlloc
#define HeapFree                    npipe_win_HeapFree
#define HeapSize                    npipe_win_HeapSize
#define GlobalAlloc                 npipe_win_GlobalAlloc
#define GlobalReAlloc               npipe_win_GlobalReAlloc
#define GlobalFree                  npipe_win_GlobalFree
#define GlobalSize                  npipe_win_GlobalSize
#define GlobalLock                  npipe_win_GlobalLock
#define GlobalUnlock                npipe_win_GlobalUnlock
#define LocalAlloc                  npipe_win_LocalAlloc
#define LocalReAlloc                npipe_win_LocalReAlloc
#define LocalFree                   npipe_win_LocalFree
#define LocalSize                   npipe_win_LocalSize
#define LocalLock                   npipe_win_LocalLock
#define LocalUnlock                 npipe_win_LocalUnlock
#define FormatMessageA              npipe_win_FormatMessageA
#define FormatMessageW              npipe_win_FormatMessageW
#define MessageBoxA                 npipe_win_MessageBoxA
#define MessageBoxW                 npipe_win_MessageBoxW
#define lstrlenA                    npipe_win_lstrlenA
#define lstrlenW                    npipe_win_lstrlenW
#define lstrcpyA                    npipe_win_lstrcpyA
#define lstrcpyW                    npipe_win_lstrcpyW
#define lstrcpynA                   npipe_win_lstrcpynA
#define lstrcpynW                   npipe_win_lstrcpynW
#define lstrcatA                    npipe_win_lstrcatA
#define lstrcatW                    npipe_win_lstrcatW
#define lstrcmpA                    npipe_win_lstrcmpA
#define lstrcmpW                    npipe_win_lstrcmpW
#define lstrcmpiA                   npipe_win_lstrcmpiA
#define lstrcmpiW                   npipe_win_lstrcmpiW
#define MultiByteToWideChar         npipe_win_MultiByteToWideChar
#define WideCharToMultiByte         npipe_win_WideCharToMultiByte
#define wsprintfA                   npipe_win_wsprintfA
#define wsprintfW                   npipe_win_wsprintfW
#define wvsprintfA                  npipe_win_wvsprintfA
#define wvsprintfW                  npipe_win_wvsprintfW

/* The TCHAR names follow UNICODE, as in the Windows SDK. */
#ifdef UNICODE
#define CreateNamedPipe         CreateNamedPipeW
#define CreateFile              CreateFileW
#define WaitNamedPipe           WaitNamedPipeW
#define CallNamedPipe           CallNamedPipeW
#define GetNamedPipeHandleState GetNamedPipeHandleStateW
#define GetNamedPipeClientComputerName GetNamedPipeClientComputerNameW
#define CreateEvent             CreateEventW
#define CreateProcess           CreateProcessW
#define STARTUPINFO             STARTUPINFOW
#define LPSTARTUPINFO           LPSTARTUPINFOW
#define GetCommandLine          GetCommandLineW
#define GetModuleFileName       GetModuleFileNameW
#define FormatMessage           FormatMessageW
#define MessageBox              MessageBoxW
#define lstrlen                 lstrlenW
#define lstrcpy                 lstrcpyW
#define lstrcpyn                lstrcpynW
#define lstrcat                 lstrcatW
#define lstrcmp                 lstrcmpW
#define lstrcmpi                lstrcmpiW
#define wsprintf                wsprintfW
#define wvsprintf               wvsprintfW
#else
#define CreateNamedPipe         CreateNamedPipeA
#define CreateFile              CreateFileA
#define WaitNamedPipe           WaitNamedPipeA
#define CallNamedPipe           CallNamedPipeA
#define GetNamedPipeHandleState GetNamedPipeHandleStateA
#define GetNamedPipeClientComputerName GetNamedPipeClientComputerNameA
#define CreateEvent             CreateEventA
#define CreateProcess           CreateProcessA
#define STARTUPINFO             STARTUPINFOA
#define LPSTARTUPINFO           LPSTARTUPINFOA
#define GetCommandLine          GetCommandLineA
#define GetModuleFileName       GetModuleFileNameA
#define FormatMessage           FormatMessageA
#define MessageBox              MessageBoxA
#define lstrlen                 lstrlenA
#define lstrcpy                 lstrcpyA
#define lstrcpyn                lstrcpynA
#define lstrcat                 lstrcatA
#define lstrcmp                 lstrcmpA
#define lstrcmpi                lstrcmpiA
#define wsprintf                wsprintfA
#define wvsprintf               wvsprintfA
#endif

#ifdef __cplusplus
}
#endif

#endif /* NPIPE_WINDOWS_H */
