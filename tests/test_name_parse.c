/*
 * test_name_parse.c - unit tests of src/core/name.c (no broker): which
 * strings are pipe names, what the bare name is, case folding.
 */
#include "harness.h"

#include "core/name.h"

#include <string.h>

static int parse(const char *path, const char **bare, size_t *len)
{
        return np_name_parse(path, bare, len);
}

START_TEST(test_prefix_any_case)
{
        /* covers: NAME-01 */
        static const char *const forms[] = {"\\\\.\\pipe\\abc", "\\\\.\\PIPE\\abc",
                                            "\\\\.\\PiPe\\abc", "\\\\.\\pIpE\\abc"};
        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                const char *bare = NULL;
                size_t len = 0;
                ck_assert_status(parse(forms[i], &bare, &len), NPIPE_OK);
                ck_assert_uint_eq(len, 3);
                ck_assert_int_eq(memcmp(bare, "abc", 3), 0);
        }
}
END_TEST

START_TEST(test_not_a_pipe_name)
{
        /* covers: NAME-03 NAME-04 */
        const char *bare;
        size_t len;
        ck_assert_status(parse(NULL, &bare, &len), NPIPE_ENOPATH);
        ck_assert_status(parse("not a named pipe", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("\\\\.\\pip\\x", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("\\\\.\\mailslot\\x", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("//./pipe/x", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("", &bare, &len), NPIPE_EBADNAME);
}
END_TEST

START_TEST(test_name_kept_literally)
{
        /* covers: NAME-06 NAME-07 NAME-08 */
        static const char *const names[] = {
            "<>*?|\"/",        /* NAME-06: legal characters */
            "trailingslash\\", /* NAME-07: trailing backslash kept */
            "test3\\pipe",     /* NAME-08: inner backslash */
            "a\\.\\b",         /* no '.' collapsing */
            "a\\..\\b",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char path[256];
                snprintf(path, sizeof(path), "\\\\.\\pipe\\%s", names[i]);
                const char *bare = NULL;
                size_t len = 0;
                ck_assert_status(parse(path, &bare, &len), NPIPE_OK);
                ck_assert_uint_eq(len, strlen(names[i]));
                ck_assert_int_eq(memcmp(bare, names[i], len), 0);
        }
}
END_TEST

START_TEST(test_length_limit)
{
        /* covers: NAME-12 */
        /* the whole \\.\pipe\name string may be 256 characters (docs) */
        char path[2048];
        const char *bare;
        size_t len;
        strcpy(path, "\\\\.\\pipe\\");
        size_t p = strlen(path);
        memset(path + p, 'n', 256 - p);
        path[256] = 0;
        ck_assert_uint_eq(strlen(path), 256);
        ck_assert_status(parse(path, &bare, &len), NPIPE_OK);
        ck_assert_uint_eq(len, 256 - p);
        /* far too long */
        memset(path + p, 'n', 1500);
        path[p + 1500] = 0;
        ck_assert_status(parse(path, &bare, &len), NPIPE_ENAMETOOLONG);
}
END_TEST

START_TEST(test_fold)
{
        /* covers: NAME-02 */
        char a[16], b[16];
        np_name_fold("Foo-bar\\X1", 10, a);
        np_name_fold("FOO-BAR\\x1", 10, b);
        ck_assert_int_eq(memcmp(a, b, 10), 0);
        np_name_fold("foo", 3, a);
        np_name_fold("fop", 3, b);
        ck_assert_int_ne(memcmp(a, b, 3), 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("name_parse");
        TCase *tc = tcase_create("name_parse");
        tcase_add_test(tc, test_prefix_any_case);
        tcase_add_test(tc, test_not_a_pipe_name);
        tcase_add_test(tc, test_name_kept_literally);
        tcase_add_test(tc, test_length_limit);
        tcase_add_test(tc, test_fold);
        suite_add_tcase(s, tc);
        return h_run(s);
}
