/*
 * test_name.c - spec section 1, NAME: pipe names and the namespace, through
 * npipe_create / npipe_open / npipe_wait.
 */
#include "harness.h"

#include <string.h>

/* A pipe made as `create_name` opened as `open_name`: connects, and bytes
 * go through (so it really is the same pipe). */
static void expect_same_pipe(const char *create_name, const char *open_name)
{
        npipe_t *s = h_server(create_name, NPIPE_TYPE_BYTE, 0);
        npipe_t *c = NULL;
        ck_assert_status(npipe_open(open_name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        H_WRITE_STR(c, "ping");
        H_READ_STR(s, 16, NPIPE_OK, "ping");
        ck_assert_ok(npipe_close(c));
        ck_assert_ok(npipe_close(s));
}

START_TEST(test_prefix_case_insensitive)
{
        /* covers: NAME-01 */
        char tail[128], a[160], b[160];
        H_NAME(base, "prefix");
        strcpy(tail, base + strlen("\\\\.\\pipe\\"));
        snprintf(a, sizeof(a), "\\\\.\\PiPe\\%s", tail);
        snprintf(b, sizeof(b), "\\\\.\\pipe\\%s", tail);
        expect_same_pipe(a, b);
        snprintf(a, sizeof(a), "\\\\.\\pipe\\%s", tail);
        snprintf(b, sizeof(b), "\\\\.\\PIPE\\%s", tail);
        expect_same_pipe(a, b);
}
END_TEST

START_TEST(test_name_case_insensitive)
{
        /* covers: NAME-02 WAIT-11 */
        const char *a = "\\\\.\\pipe\\Foo-Case-Test";
        const char *b = "\\\\.\\pipe\\FOO-CASE-TEST";
        const char *c = "\\\\.\\pipe\\foo-case-test";
        npipe_t *s = h_server(a, NPIPE_TYPE_BYTE, 0);
        /* waiters match case-insensitively too */
        ck_assert_status(npipe_wait(b, 0), NPIPE_OK);
        npipe_t *cl = NULL;
        ck_assert_status(npipe_open(b, NPIPE_READ | NPIPE_WRITE, 0, &cl), NPIPE_OK);
        H_WRITE_STR(cl, "x");
        H_READ_STR(s, 4, NPIPE_OK, "x");
        /* a second instance under yet another spelling joins the same pipe:
         * with max_instances 1 it would be refused if it were the same name,
         * so use FIRST_INSTANCE, which must fail */
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, NPIPE_FIRST_INSTANCE);
        npipe_t *s2 = NULL;
        ck_assert_status(npipe_create(c, &o, &s2), NPIPE_EACCES);
        npipe_close(cl);
        npipe_close(s);
}
END_TEST

START_TEST(test_not_a_pipe_name)
{
        /* covers: NAME-03 */
        npipe_t *h = NULL;
        ck_assert_status(npipe_create("not a named pipe", NULL, &h), NPIPE_EBADNAME);
        ck_assert_ptr_null(h);
        ck_assert_status(npipe_create("\\\\.\\notpipe\\x", NULL, &h), NPIPE_EBADNAME);
        ck_assert_status(npipe_open("not a named pipe", NPIPE_READ, 0, &h), NPIPE_EBADNAME);
        ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_null_name)
{
        /* covers: NAME-04 */
        npipe_t *h = NULL;
        ck_assert_status(npipe_create(NULL, NULL, &h), NPIPE_ENOPATH);
        ck_assert_ptr_null(h);
        ck_assert_status(npipe_open(NULL, NPIPE_READ, 0, &h), NPIPE_ENOPATH);
        ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_no_such_pipe)
{
        /* covers: NAME-05 WAIT-01 */
        H_NAME(name, "nosuch");
        npipe_t *h = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &h), NPIPE_ENOENT);
        ck_assert_ptr_null(h);
        /* WaitNamedPipe fails at once, whatever the timeout */
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_wait(name, 2000), NPIPE_ENOENT);
        ck_assert_status(npipe_wait(name, 0), NPIPE_ENOENT);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
}
END_TEST

START_TEST(test_odd_characters)
{
        /* covers: NAME-06 */
        H_NAME(base, "odd<>*?|\"/x");
        expect_same_pipe(base, base);
}
END_TEST

START_TEST(test_trailing_backslash)
{
        /* covers: NAME-07 */
        H_NAME(base, "trailingslash");
        char with[300];
        snprintf(with, sizeof(with), "%s\\", base);
        npipe_t *s = h_server(with, NPIPE_TYPE_BYTE, 0);
        npipe_t *c = NULL;
        ck_assert_status(npipe_open(base, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_ENOENT);
        ck_assert_status(npipe_open(with, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        H_WRITE_STR(c, "t");
        H_READ_STR(s, 4, NPIPE_OK, "t");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_inner_backslash)
{
        /* covers: NAME-08 */
        H_NAME(dir, "test3");
        char sub[300];
        snprintf(sub, sizeof(sub), "%s\\pipe", dir);
        npipe_t *s = h_server(sub, NPIPE_TYPE_BYTE, 0);
        /* no directory "test3" came into being */
        npipe_t *c = NULL;
        ck_assert_status(npipe_open(dir, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_ENOENT);
        ck_assert_status(npipe_wait(dir, 0), NPIPE_ENOENT);
        /* and "test3" is a distinct name that can be a pipe of its own */
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_FIRST_INSTANCE);
        npipe_t *s2 = h_create(dir, &o);
        ck_assert_status(npipe_open(sub, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_OK);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_int_eq(info.type, NPIPE_TYPE_BYTE); /* the sub-path pipe, not "test3" */
        npipe_close(c);
        npipe_close(s2);
        npipe_close(s);
}
END_TEST

START_TEST(test_length_limit)
{
        /* covers: NAME-12 */
        /* documented: the whole \\.\pipe\name may be up to 256 characters */
        char name[2100];
        strcpy(name, "\\\\.\\pipe\\");
        size_t p = strlen(name);
        memset(name + p, 'L', 256 - p);
        name[256] = 0;
        expect_same_pipe(name, name);
        /* far beyond every limit: refused, not truncated */
        memset(name + p, 'L', 2000);
        name[p + 2000] = 0;
        npipe_t *h = NULL;
        ck_assert_status(npipe_create(name, NULL, &h), NPIPE_ENAMETOOLONG);
        ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_name_disappears)
{
        /* covers: NAME-17 WAIT-01 */
        H_NAME(name, "gone");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = NPIPE_DUPLEX;
        npipe_t *s1 = h_create(name, &o);
        npipe_t *s2 = h_create(name, &o);
        ck_assert_ok(npipe_close(s1));
        /* one instance left: the name is still there */
        ck_assert_status(npipe_wait(name, 0), NPIPE_OK);
        ck_assert_ok(npipe_close(s2));
        npipe_t *c = NULL;
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c), NPIPE_ENOENT);
        ck_assert_status(npipe_wait(name, 1000), NPIPE_ENOENT);
        /* a new pipe of that name, with new, incompatible parameters */
        h_opts(&o, NPIPE_TYPE_BYTE, NPIPE_FIRST_INSTANCE);
        o.dir = NPIPE_INBOUND;
        npipe_t *s3 = h_create(name, &o);
        c = h_client(name, NPIPE_WRITE);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_int_eq(info.type, NPIPE_TYPE_BYTE);
        ck_assert_int_eq(info.dir, NPIPE_INBOUND);
        npipe_close(c);
        npipe_close(s3);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("name");
        TCase *tc = h_tcase("name", 30);
        tcase_add_test(tc, test_prefix_case_insensitive);
        tcase_add_test(tc, test_name_case_insensitive);
        tcase_add_test(tc, test_not_a_pipe_name);
        tcase_add_test(tc, test_null_name);
        tcase_add_test(tc, test_no_such_pipe);
        tcase_add_test(tc, test_odd_characters);
        tcase_add_test(tc, test_trailing_backslash);
        tcase_add_test(tc, test_inner_backslash);
        tcase_add_test(tc, test_length_limit);
        tcase_add_test(tc, test_name_disappears);
        suite_add_tcase(s, tc);
        return h_run(s);
}
