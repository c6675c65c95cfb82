/*
 * test_status.c - the status code table: names, texts, and the Win32 and
 * NTSTATUS translations.
 *
 * The expected values are written out here from spec section 0.4 (and, for
 * codes the spec does not list, from the usual RtlNtStatusToDosError
 * mapping), not generated from NPIPE_STATUS_MAP: a test generated from the
 * table under test could never fail.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

struct expect {
        int code;
        const char *name;
        uint32_t win32;
        uint32_t nt;
};

/* Win32 / NTSTATUS pairs from spec 0.4. */
static const struct expect table[] = {
    {NPIPE_OK, "OK", 0, 0x00000000u},
    {NPIPE_EINVAL, "EINVAL", 87, 0xC000000Du},              /* INVALID_PARAMETER */
    {NPIPE_ENOENT, "ENOENT", 2, 0xC0000034u},               /* OBJECT_NAME_NOT_FOUND */
    {NPIPE_EACCES, "EACCES", 5, 0xC0000022u},               /* ACCESS_DENIED */
    {NPIPE_EBADF, "EBADF", 6, 0xC0000008u},                 /* INVALID_HANDLE */
    {NPIPE_ENOMEM, "ENOMEM", 8, 0xC0000017u},               /* NO_MEMORY */
    {NPIPE_ETIMEDOUT, "ETIMEDOUT", 121, 0xC00000B5u},       /* IO_TIMEOUT -> SEM_TIMEOUT */
    {NPIPE_ECANCELED, "ECANCELED", 995, 0xC0000120u},       /* CANCELLED -> OPERATION_ABORTED */
    {NPIPE_EPIPE, "EPIPE", 109, 0xC000014Bu},               /* PIPE_BROKEN -> BROKEN_PIPE */
    {NPIPE_EAGAIN, "EAGAIN", 232, 0xC00000D9u},             /* PIPE_EMPTY -> NO_DATA */
    {NPIPE_ENOTCONN, "ENOTCONN", 233, 0xC00000B0u},         /* PIPE_DISCONNECTED */
    {NPIPE_EISCONN, "EISCONN", 535, 0xC00000B2u},           /* PIPE_CONNECTED */
    {NPIPE_ENOTSUP, "ENOTSUP", 50, 0xC00000BBu},            /* NOT_SUPPORTED */
    {NPIPE_ENAMETOOLONG, "ENAMETOOLONG", 206, 0xC0000106u}, /* NAME_TOO_LONG */
    {NPIPE_EBUSY, "EBUSY", 231, 0xC00000AEu},               /* PIPE_BUSY */
    {NPIPE_ECLOSING, "ECLOSING", 232, 0xC00000B1u},         /* PIPE_CLOSING -> NO_DATA */
    {NPIPE_ELISTENING, "ELISTENING", 536, 0xC00000B3u},     /* PIPE_LISTENING */
    {NPIPE_EBADPIPE, "EBADPIPE", 230, 0xC00000ADu},         /* INVALID_PIPE_STATE -> BAD_PIPE */
    {NPIPE_EMOREDATA, "EMOREDATA", 234, 0x80000005u},       /* BUFFER_OVERFLOW -> MORE_DATA */
    {NPIPE_EBADNAME, "EBADNAME", 123, 0xC0000033u},         /* OBJECT_NAME_INVALID */
    {NPIPE_ENOPATH, "ENOPATH", 3, 0xC000003Au},             /* OBJECT_PATH_NOT_FOUND */
    {NPIPE_EFUNCTION, "EFUNCTION", 1, 0xC00000AFu},         /* ILLEGAL_FUNCTION */
    {NPIPE_ENOTFOUND, "ENOTFOUND", 1168, 0xC0000225u},      /* NOT_FOUND */
    {NPIPE_EBUFFER, "EBUFFER", 122, 0xC0000023u},           /* BUFFER_TOO_SMALL */
    {NPIPE_EBADPATH, "EBADPATH", 161, 0xC000003Bu},         /* OBJECT_PATH_SYNTAX_BAD */
    {NPIPE_EFORKED, "EFORKED", 6, 0xC0000008u},             /* a foreign handle: INVALID_HANDLE */
};

START_TEST(test_win32_and_ntstatus)
{
        /* covers: none (spec 0.4 translation table) */
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                const struct expect *e = &table[i];
                ck_assert_msg(npipe_win32_error(e->code) == e->win32, "%s: win32 %u, expected %u",
                              e->name, npipe_win32_error(e->code), e->win32);
                ck_assert_msg(npipe_ntstatus(e->code) == e->nt,
                              "%s: ntstatus 0x%08X, expected 0x%08X", e->name,
                              npipe_ntstatus(e->code), e->nt);
                ck_assert_str_eq(npipe_err_name(e->code), e->name);
        }
        /* the ones the brief singles out */
        ck_assert_uint_eq(npipe_win32_error(NPIPE_EMOREDATA), 234);
        ck_assert_uint_eq(npipe_ntstatus(NPIPE_EMOREDATA), 0x80000005u);
        ck_assert_uint_eq(npipe_win32_error(NPIPE_EBUSY), 231);
        ck_assert_uint_eq(npipe_win32_error(NPIPE_EPIPE), 109);
        ck_assert_uint_eq(npipe_win32_error(NPIPE_ECLOSING), 232);
        ck_assert_uint_eq(npipe_win32_error(NPIPE_ELISTENING), 536);
}
END_TEST

/* Every code of the table has a real text, a name and a failure NTSTATUS
 * (success only for OK; a warning only for EMOREDATA, MSG-02). */
START_TEST(test_every_code_has_text)
{
        /* covers: none (spec 0.4) */
        static const int codes[] = {
#define XX(name, value, w32, nt, msg) NPIPE_##name,
            NPIPE_STATUS_MAP(XX)
#undef XX
        };
        for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
                int c = codes[i];
                const char *s = npipe_strerror(c);
                ck_assert_ptr_nonnull(s);
                ck_assert_msg(strlen(s) > 0 && strcmp(s, "unknown error") != 0,
                              "code %d has no text", c);
                ck_assert_msg(strcmp(npipe_err_name(c), "EUNKNOWN") != 0, "code %d has no name", c);
                uint32_t nt = npipe_ntstatus(c);
                if (c == NPIPE_OK) {
                        ck_assert_uint_eq(nt, 0);
                        ck_assert_uint_eq(npipe_win32_error(c), 0);
                } else if (c == NPIPE_EMOREDATA) {
                        ck_assert_uint_eq(nt >> 30, 2); /* STATUS_SEVERITY_WARNING */
                } else {
                        ck_assert_msg(nt >> 30 == 3, "%s: NTSTATUS 0x%08X is not an error",
                                      npipe_err_name(c), nt);
                        ck_assert_msg(npipe_win32_error(c) != 0, "%s: Win32 error 0",
                                      npipe_err_name(c));
                }
                /* negative and distinct */
                ck_assert_int_le(c, 0);
                for (size_t j = 0; j < i; j++)
                        ck_assert_msg(codes[j] != c, "code %d twice", c);
        }
}
END_TEST

/* "negative errno numbers where an errno fits" (npipe.h). */
START_TEST(test_errno_values)
{
        /* covers: none (npipe.h conventions) */
        ck_assert_int_eq(NPIPE_EINVAL, -EINVAL);
        ck_assert_int_eq(NPIPE_ENOENT, -ENOENT);
        ck_assert_int_eq(NPIPE_EACCES, -EACCES);
        ck_assert_int_eq(NPIPE_EBADF, -EBADF);
        ck_assert_int_eq(NPIPE_ENOMEM, -ENOMEM);
        ck_assert_int_eq(NPIPE_ETIMEDOUT, -ETIMEDOUT);
        ck_assert_int_eq(NPIPE_ECANCELED, -ECANCELED);
        ck_assert_int_eq(NPIPE_EPIPE, -EPIPE);
        ck_assert_int_eq(NPIPE_EAGAIN, -EAGAIN);
        ck_assert_int_eq(NPIPE_ENOTCONN, -ENOTCONN);
        ck_assert_int_eq(NPIPE_EISCONN, -EISCONN);
        ck_assert_int_eq(NPIPE_ENOTSUP, -EOPNOTSUPP);
        ck_assert_int_eq(NPIPE_ENAMETOOLONG, -ENAMETOOLONG);
        /* the NT-only states are below NPIPE_E__BASE, clear of every errno */
        ck_assert_int_lt(NPIPE_EBUSY, NPIPE_E__BASE);
        ck_assert_int_lt(NPIPE_EMOREDATA, NPIPE_E__BASE);
}
END_TEST

START_TEST(test_unknown_code)
{
        /* covers: none (npipe.h conventions) */
        ck_assert_str_eq(npipe_strerror(12345), "unknown error");
        ck_assert_str_eq(npipe_strerror(-3999), "unknown error");
        ck_assert_str_eq(npipe_err_name(-3999), "EUNKNOWN");
        /* never "success" for something unknown */
        ck_assert_uint_ne(npipe_win32_error(-3999), 0);
        ck_assert_uint_eq(npipe_ntstatus(-3999) >> 30, 3);
}
END_TEST

/* The NTSTATUS and Win32 columns of each row should agree the way
 * RtlNtStatusToDosError maps them (npipe.h: "the usual translation").
 * The mapping of every NTSTATUS the table uses, from Wine's
 * dlls/ntdll/error.h (spec 0.4 for the pipe ones). */
START_TEST(test_pairs_consistent)
{
        /* covers: none (spec 0.4 translation table) */
        static const struct {
                uint32_t nt, win32;
        } rtl[] = {
            {0x00000000u, 0},    {0x80000005u, 234}, {0xC0000008u, 6},   {0xC000000Du, 87},
            {0xC0000017u, 8},    {0xC0000022u, 5},   {0xC0000023u, 122}, {0xC0000033u, 123},
            {0xC0000034u, 2},    {0xC000003Au, 3},   {0xC000003Bu, 161}, {0xC000007Eu, 158},
            {0xC000009Au, 1450}, {0xC00000A3u, 21},  {0xC00000ADu, 230}, {0xC00000AEu, 231},
            {0xC00000AFu, 1},    {0xC00000B0u, 233}, {0xC00000B1u, 232}, {0xC00000B2u, 535},
            {0xC00000B3u, 536},  {0xC00000B5u, 121}, {0xC00000BBu, 50},  {0xC00000D9u, 232},
            {0xC00000E5u, 1359}, {0xC0000106u, 206}, {0xC0000120u, 995}, {0xC000014Bu, 109},
            {0xC0000225u, 1168},
        };
        static const int codes[] = {
#define XX(name, value, w32, nt, msg) NPIPE_##name,
            NPIPE_STATUS_MAP(XX)
#undef XX
        };
        for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
                uint32_t nt = npipe_ntstatus(codes[i]);
                for (size_t j = 0; j < sizeof(rtl) / sizeof(rtl[0]); j++)
                        if (rtl[j].nt == nt)
                                ck_assert_msg(rtl[j].win32 == npipe_win32_error(codes[i]),
                                              "%s: NTSTATUS 0x%08X translates to Win32 %u, "
                                              "but the table says %u",
                                              npipe_err_name(codes[i]), nt, rtl[j].win32,
                                              npipe_win32_error(codes[i]));
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("status");
        TCase *tc = tcase_create("status");
        tcase_add_test(tc, test_win32_and_ntstatus);
        tcase_add_test(tc, test_every_code_has_text);
        tcase_add_test(tc, test_errno_values);
        tcase_add_test(tc, test_unknown_code);
        tcase_add_test(tc, test_pairs_consistent);
        suite_add_tcase(s, tc);
        return h_run(s);
}
