/*
 * message.c - FormatMessage (system messages and message strings with
 * inserts) and MessageBox.
 *
 * The system texts are those of the reference (Wine, whose English texts
 * are short: "File not found." rather than Windows' "The system cannot
 * find the file specified."), for every error code this layer sets and
 * the usual file and process ones; a code without a text fails with
 * ERROR_MR_MID_NOT_FOUND as it does there.  ERROR_PIPE_LOCAL and
 * ERROR_ABANDONED_WAIT_0, which the reference has no text for but Windows
 * has, have one here in the same style (docs/win32.md).
 */
#include "win32/win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
        DWORD code;
        const char *text;
} system_texts[] = {
        {0, "Success."},
        {1, "Invalid function."},
        {2, "File not found."},
        {3, "Path not found."},
        {4, "Too many open files."},
        {5, "Access denied."},
        {6, "Invalid handle."},
        {8, "Not enough memory."},
        {12, "Invalid access."},
        {13, "Invalid data."},
        {14, "Out of memory."},
        {18, "No more files."},
        {21, "Not ready."},
        {24, "Bad length."},
        {31, "General failure."},
        {32, "Sharing violation."},
        {38, "End of file."},
        {39, "Disk full."},
        {50, "Request not supported."},
        {53, "Bad network path."},
        {80, "File exists."},
        {87, "Invalid parameter."},
        {109, "Broken pipe."},
        {110, "Open failed."},
        {111, "Buffer overflow."},
        {112, "Disk full."},
        {120, "Call not implemented."},
        {121, "Semaphore timeout."},
        {122, "Insufficient buffer."},
        {123, "Invalid name."},
        {126, "Module not found."},
        {158, "Segment not locked."},
        {161, "Path is invalid."},
        {183, "File already exists."},
        {193, "Bad EXE format for %1."},
        {206, "File name is too long."},
        {229, "Pipe is local."},
        {230, "Bad pipe."},
        {231, "Pipe busy."},
        {232, "Pipe closed."},
        {233, "Pipe not connected."},
        {234, "More data available."},
        {259, "No more data available."},
        {267, "Directory name invalid."},
        {317, "Message 0x%1 not found in file %2."},
        {535, "Pipe connected."},
        {536, "Pipe listening."},
        {735, "Abandoned wait."},
        {995, "I/O operation aborted."},
        {996, "Overlapped I/O incomplete."},
        {997, "Overlapped I/O pending."},
        {998, "No access to memory location."},
        {1168, "Element not found."},
        {1305, "Unknown revision."},
        {1338, "Invalid security descriptor."},
        {1359, "Internal error."},
        {1368, "Cannot impersonate."},
        {1450, "No system resources."},
        {1460, "Timeout."},
        {1784, "Invalid user buffer."},
        {1816, "Not enough quota."},
};

static const char *system_text(DWORD code)
{
        for (size_t i = 0; i < sizeof(system_texts) / sizeof(system_texts[0]); i++)
                if (system_texts[i].code == code)
                        return system_texts[i].text;
        return NULL;
}

static int put_insert(struct np_win_buf *b, const char *spec, DWORD_PTR v, int wide)
{
        char conv = spec[strlen(spec) - 1];
        char out[512];
        int n;
        if (conv == 's' || conv == 'S' || conv == 'c' || conv == 'C') {
                int w = (conv == 's' || conv == 'c') ? wide : !wide;
                if (strchr(spec, 'h'))
                        w = 0;
                else if (strchr(spec, 'l') || strchr(spec, 'w'))
                        w = 1;
                char *u = NULL;
                const char *s;
                char one[2] = {0, 0};
                if (conv == 'c' || conv == 'C') {
                        WCHAR wc[2] = {(WCHAR)v, 0};
                        one[0] = (char)v;
                        s = w ? (u = np_win_utf16_to_utf8_lenient(wc, 1)) : one;
                } else if (!v) {
                        s = "(null)";
                } else {
                        s = w ? (u = np_win_utf16_to_utf8_lenient((const WCHAR *)v, (size_t)-1))
                              : (const char *)v;
                }
                if (!s)
                        return -1;
                /* width and precision of the spec apply to the string */
                char fmt[64];
                snprintf(fmt, sizeof(fmt), "%.*ss", (int)strcspn(spec, "hlwsScC"), spec);
                size_t need = strlen(s) + 600;
                char *tmp = malloc(need);
                if (!tmp) {
                        free(u);
                        return -1;
                }
                n = snprintf(tmp, need, fmt, s);
                if (n > 0)
                        np_win_buf_put(b, tmp, (size_t)n < need ? (size_t)n : need - 1);
                free(tmp);
                free(u);
                return 0;
        }
        /* integers: 32 bits unless I64 or ll says 64 (a Windows long is 32) */
        int is64 = strstr(spec, "I64") || strstr(spec, "ll");
        char fmt[64];
        size_t keep = strcspn(spec, "hlIwLzjt");
        if (keep > strlen(spec) - 1)
                keep = strlen(spec) - 1; /* without the conversion itself */
        if (conv == 'p') {
                n = snprintf(out, sizeof(out), "%0*llX", (int)(2 * sizeof(void *)),
                             (unsigned long long)v);
        } else {
                snprintf(fmt, sizeof(fmt), "%.*sll%c", (int)keep, spec, conv);
                long long sv = is64 ? (long long)v : (long long)(int32_t)(uint32_t)v;
                unsigned long long uv = is64 ? (unsigned long long)v : (uint32_t)v;
                if (conv == 'd' || conv == 'i')
                        n = snprintf(out, sizeof(out), fmt, sv);
                else
                        n = snprintf(out, sizeof(out), fmt, uv);
        }
        if (n > 0)
                np_win_buf_put(b, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
        return 0;
}

/* The message text with its inserts and escapes expanded.  args is the
 * argument array (indexes 1..99), NULL when there are none. */
static char *expand(const char *src, DWORD flags, const DWORD_PTR *args, size_t nargs, int wide,
                    DWORD *err)
{
        struct np_win_buf b = {0};
        unsigned maxw = flags & FORMAT_MESSAGE_MAX_WIDTH_MASK;
        np_win_buf_put(&b, "", 0);
        for (const char *p = src; *p;) {
                if (maxw && (*p == '\r' || *p == '\n')) {
                        /* with a maximum width the text's own line breaks go:
                         * only %n breaks a line */
                        if (p[0] == '\r' && p[1] == '\n')
                                p++;
                        p++;
                        np_win_buf_put(&b, " ", 1);
                        continue;
                }
                if (*p != '%' || (flags & FORMAT_MESSAGE_IGNORE_INSERTS)) {
                        np_win_buf_put(&b, p, 1);
                        p++;
                        continue;
                }
                p++;
                if (*p >= '1' && *p <= '9') {
                        unsigned idx = (unsigned)(*p++ - '0');
                        if (*p >= '0' && *p <= '9')
                                idx = idx * 10 + (unsigned)(*p++ - '0');
                        char spec[32] = "%s";
                        if (*p == '!') {
                                const char *e = strchr(p + 1, '!');
                                if (!e || e - p > 28) {
                                        *err = ERROR_INVALID_PARAMETER;
                                        free(b.p);
                                        return NULL;
                                }
                                snprintf(spec, sizeof(spec), "%%%.*s", (int)(e - p - 1), p + 1);
                                p = e + 1;
                        }
                        if (!args || idx > nargs) {
                                *err = ERROR_INVALID_PARAMETER;
                                free(b.p);
                                return NULL;
                        }
                        if (put_insert(&b, spec, args[idx - 1], wide) < 0)
                                b.oom = 1;
                        continue;
                }
                switch (*p) {
                case '0':
                        /* the end of the message, without a final line break */
                        goto done;
                case 'n':
                        np_win_buf_put(&b, "\r\n", 2);
                        break;
                case 't':
                        np_win_buf_put(&b, "\t", 1);
                        break;
                case 'r':
                        np_win_buf_put(&b, "\r", 1);
                        break;
                case 0:
                        continue;
                default:
                        /* %% %. %! %space: the character itself */
                        np_win_buf_put(&b, p, 1);
                        break;
                }
                p++;
        }
done:
        if (b.oom) {
                free(b.p);
                *err = ERROR_NOT_ENOUGH_MEMORY;
                return NULL;
        }
        return b.p;
}

/* The highest insert number a message uses. */
static unsigned max_insert(const char *s)
{
        unsigned m = 0;
        for (; *s; s++) {
                if (*s != '%')
                        continue;
                if (s[1] == '%') {
                        s++;
                        continue;
                }
                if (s[1] >= '1' && s[1] <= '9') {
                        unsigned idx = (unsigned)(s[1] - '0');
                        if (s[2] >= '0' && s[2] <= '9')
                                idx = idx * 10 + (unsigned)(s[2] - '0');
                        if (idx > m)
                                m = idx;
                }
        }
        return m;
}

/* Both widths: the source in UTF-8, the result in UTF-8 (malloc'ed). */
static char *format(DWORD flags, const char *string_src, DWORD id, va_list *args, int wide,
                    DWORD *err)
{
        const char *src;
        char *sys = NULL;
        if (flags & FORMAT_MESSAGE_FROM_STRING) {
                src = string_src;
                if (!src) {
                        *err = ERROR_INVALID_PARAMETER;
                        return NULL;
                }
        } else if (flags & FORMAT_MESSAGE_FROM_SYSTEM) {
                const char *t = system_text(id);
                if (!t) {
                        *err = ERROR_MR_MID_NOT_FOUND;
                        return NULL;
                }
                size_t n = strlen(t);
                if (!(sys = malloc(n + 3))) {
                        *err = ERROR_NOT_ENOUGH_MEMORY;
                        return NULL;
                }
                memcpy(sys, t, n);
                memcpy(sys + n, "\r\n", 3);
                src = sys;
        } else {
                /* FORMAT_MESSAGE_FROM_HMODULE alone: no message tables here */
                *err = ERROR_RESOURCE_TYPE_NOT_FOUND;
                return NULL;
        }
        DWORD_PTR *argv = NULL;
        size_t nargs = 0;
        if (!(flags & FORMAT_MESSAGE_IGNORE_INSERTS) && args) {
                nargs = max_insert(src);
                if (flags & FORMAT_MESSAGE_ARGUMENT_ARRAY) {
                        argv = (DWORD_PTR *)(void *)args;
                } else if (nargs) {
                        /* a va_list is read in order: every insert up to the
                         * highest takes one pointer-sized argument */
                        argv = malloc(nargs * sizeof(*argv));
                        if (!argv) {
                                free(sys);
                                *err = ERROR_NOT_ENOUGH_MEMORY;
                                return NULL;
                        }
                        va_list ap;
                        va_copy(ap, *args);
                        for (size_t i = 0; i < nargs; i++)
                                argv[i] = va_arg(ap, DWORD_PTR);
                        va_end(ap);
                }
        }
        char *r = expand(src, flags, argv, nargs, wide, err);
        if (argv && !(flags & FORMAT_MESSAGE_ARGUMENT_ARRAY))
                free(argv);
        free(sys);
        return r;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_FormatMessageA(DWORD dwFlags, LPCVOID lpSource,
                                                    DWORD dwMessageId, DWORD dwLanguageId,
                                                    LPSTR lpBuffer, DWORD nSize, va_list *Arguments)
{
        (void)dwLanguageId;
        if (!lpBuffer) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return 0;
        }
        DWORD err = 0;
        char *msg = format(dwFlags, lpSource, dwMessageId, Arguments, 0, &err);
        if (!msg) {
                np_win_set_error(err);
                return 0;
        }
        size_t len = strlen(msg);
        if (dwFlags & FORMAT_MESSAGE_ALLOCATE_BUFFER) {
                char *out = np_win_block_alloc(len + 1 > nSize ? len + 1 : nSize, 0);
                if (!out) {
                        free(msg);
                        np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                        return 0;
                }
                memcpy(out, msg, len + 1);
                *(LPSTR *)lpBuffer = out;
        } else {
                if (len + 1 > nSize) {
                        free(msg);
                        np_win_set_error(ERROR_INSUFFICIENT_BUFFER);
                        return 0;
                }
                memcpy(lpBuffer, msg, len + 1);
        }
        free(msg);
        return (DWORD)len;
}

NPIPE_WIN_API DWORD WINAPI npipe_win_FormatMessageW(DWORD dwFlags, LPCVOID lpSource,
                                                    DWORD dwMessageId, DWORD dwLanguageId,
                                                    LPWSTR lpBuffer, DWORD nSize, va_list *Arguments)
{
        (void)dwLanguageId;
        if (!lpBuffer) {
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return 0;
        }
        char *src = NULL;
        if ((dwFlags & FORMAT_MESSAGE_FROM_STRING) && lpSource &&
            !(src = np_win_utf16_to_utf8_lenient(lpSource, (size_t)-1))) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return 0;
        }
        DWORD err = 0;
        char *msg = format(dwFlags, src, dwMessageId, Arguments, 1, &err);
        free(src);
        if (!msg) {
                np_win_set_error(err);
                return 0;
        }
        size_t units;
        WCHAR *w = np_win_utf8_to_utf16_dup(msg, &units);
        free(msg);
        if (!w) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return 0;
        }
        if (dwFlags & FORMAT_MESSAGE_ALLOCATE_BUFFER) {
                size_t n = units + 1 > nSize ? units + 1 : nSize;
                WCHAR *out = np_win_block_alloc(n * sizeof(WCHAR), 0);
                if (!out) {
                        free(w);
                        np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                        return 0;
                }
                memcpy(out, w, (units + 1) * sizeof(WCHAR));
                *(LPWSTR *)lpBuffer = out;
        } else {
                if (units + 1 > nSize) {
                        free(w);
                        np_win_set_error(ERROR_INSUFFICIENT_BUFFER);
                        return 0;
                }
                memcpy(lpBuffer, w, (units + 1) * sizeof(WCHAR));
        }
        free(w);
        return (DWORD)units;
}

/* MessageBox: no windows here; the caption and text go to standard error
 * as one line each and the box is "answered" with its default button. */
NPIPE_WIN_API int WINAPI npipe_win_MessageBoxA(HWND hWnd, LPCSTR lpText, LPCSTR lpCaption,
                                               UINT uType)
{
        (void)hWnd;
        fprintf(stderr, "%s: %s\n", lpCaption ? lpCaption : "Error", lpText ? lpText : "");
        fflush(stderr);
        (void)uType;
        return IDOK;
}

NPIPE_WIN_API int WINAPI npipe_win_MessageBoxW(HWND hWnd, LPCWSTR lpText, LPCWSTR lpCaption,
                                               UINT uType)
{
        char *t = np_win_utf16_to_utf8_lenient(lpText, (size_t)-1);
        char *c = lpCaption ? np_win_utf16_to_utf8_lenient(lpCaption, (size_t)-1) : NULL;
        int r = npipe_win_MessageBoxA(hWnd, t, c, uType);
        free(t);
        free(c);
        return r;
}
