/*
 * test_mode.c - spec section 9, MODE: read mode and wait mode of each end
 * (npipe_get_mode / npipe_set_mode).
 */
#include "harness.h"

#include <string.h>

static void expect_mode(npipe_t *h, enum npipe_read_mode rm, int nowait)
{
        enum npipe_read_mode m = (enum npipe_read_mode) - 1;
        int nw = -1;
        ck_assert_ok(npipe_get_mode(h, &m, &nw));
        ck_assert_int_eq(m, rm);
        ck_assert_int_eq(nw, nowait);
}

START_TEST(test_byte_pipe_no_message_mode)
{
        /* covers: MODE-01 MODE-02 */
        H_NAME(name, "bytepipe");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        ck_assert_status(npipe_set_mode(s, &m, NULL), NPIPE_EINVAL);
        ck_assert_status(npipe_set_mode(c, &m, NULL), NPIPE_EINVAL);
        expect_mode(s, NPIPE_READ_BYTE, 0);
        expect_mode(c, NPIPE_READ_BYTE, 0);
        /* byte mode on a byte pipe: a no-op that succeeds */
        m = NPIPE_READ_BYTE;
        ck_assert_ok(npipe_set_mode(s, &m, NULL));
        ck_assert_ok(npipe_set_mode(c, &m, NULL));
        expect_mode(s, NPIPE_READ_BYTE, 0);
        expect_mode(c, NPIPE_READ_BYTE, 0);
        /* a failed change leaves the wait mode alone too */
        int nw = 1;
        m = NPIPE_READ_MESSAGE;
        ck_assert_status(npipe_set_mode(c, &m, &nw), NPIPE_EINVAL);
        expect_mode(c, NPIPE_READ_BYTE, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_message_pipe_switches_freely)
{
        /* covers: MODE-03 MODE-11 MSG-02 MSG-05 */
        H_NAME(name, "switch");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE, 0, &s, &c);
        expect_mode(s, NPIPE_READ_MESSAGE, 0);
        expect_mode(c, NPIPE_READ_BYTE, 0);
        /* independent ends: server to byte, client to message */
        h_set_read_mode(s, NPIPE_READ_BYTE);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        expect_mode(s, NPIPE_READ_BYTE, 0);
        expect_mode(c, NPIPE_READ_MESSAGE, 0);
        /* and each end reads by its own mode */
        H_WRITE_STR(s, "0123456789");
        H_READ_STR(c, 4, NPIPE_EMOREDATA, "0123");
        H_WRITE_STR(c, "abcdefghij");
        H_READ_STR(s, 4, NPIPE_OK, "abcd");
        /* switch back and forth at any time, also mid-message */
        h_set_read_mode(c, NPIPE_READ_BYTE);
        H_READ_STR(c, 2, NPIPE_OK, "45");
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        H_READ_STR(c, 2, NPIPE_EMOREDATA, "67");
        H_READ_STR(c, 8, NPIPE_OK, "89");
        h_set_read_mode(s, NPIPE_READ_MESSAGE);
        H_READ_STR(s, 16, NPIPE_OK, "efghij");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_wait_mode_any_pipe)
{
        /* covers: MODE-04 NOWAIT-01 */
        static const enum npipe_type types[] = {NPIPE_TYPE_BYTE, NPIPE_TYPE_MESSAGE};
        for (int i = 0; i < 2; i++) {
                H_NAME(name, "waitmode");
                npipe_t *s, *c;
                h_pair(name, types[i], 0, 0, &s, &c);
                h_set_nowait(s, 1);
                h_set_nowait(c, 1);
                expect_mode(s, NPIPE_READ_BYTE, 1);
                expect_mode(c, NPIPE_READ_BYTE, 1);
                char b[4];
                size_t n;
                ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EAGAIN);
                ck_assert_status(npipe_read(c, b, sizeof(b), &n), NPIPE_EAGAIN);
                h_set_nowait(c, 0);
                expect_mode(c, NPIPE_READ_BYTE, 0);
                struct h_op r;
                h_async_read(&r, c, b, sizeof(b));
                H_ASSERT_BLOCKED(&r);
                H_WRITE_STR(s, "x");
                H_ASSERT_FINISHES(&r);
                ck_assert_status(r.status, NPIPE_OK);
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_set_mode_needs_write_attributes)
{
        /* covers: MODE-05 CREATE-08 */
        H_NAME(name, "access");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = NPIPE_INBOUND;
        npipe_t *s = h_create(name, &o);
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        int nw = 1;
        /* an inbound server handle lacks FILE_WRITE_ATTRIBUTES */
        ck_assert_status(npipe_set_mode(s, &m, NULL), NPIPE_EACCES);
        ck_assert_status(npipe_set_mode(s, NULL, &nw), NPIPE_EACCES);
        /* access is checked before the values */
        enum npipe_read_mode bad = (enum npipe_read_mode)7;
        ck_assert_status(npipe_set_mode(s, &bad, NULL), NPIPE_EACCES);
        expect_mode(s, NPIPE_READ_BYTE, 0);
        /* its read mode comes from creation */
        H_NAME(name2, "access2");
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        o.dir = NPIPE_INBOUND;
        npipe_t *s2 = h_create(name2, &o);
        expect_mode(s2, NPIPE_READ_MESSAGE, 0);
        npipe_close(s2);
        npipe_close(s);

        /* clients: read-only lacks it, write implies it, or ask for it */
        H_NAME(name3, "access3");
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = NPIPE_OUTBOUND;
        o.max_instances = 2;
        s = h_create(name3, &o);
        s2 = h_create(name3, &o);
        npipe_t *ro = h_client(name3, NPIPE_READ);
        ck_assert_status(npipe_set_mode(ro, &m, NULL), NPIPE_EACCES);
        ck_assert_status(npipe_set_mode(ro, &bad, NULL), NPIPE_EACCES);
        expect_mode(ro, NPIPE_READ_BYTE, 0);
        npipe_t *ra = h_client(name3, NPIPE_READ | NPIPE_WRITE_ATTRIBUTES);
        ck_assert_ok(npipe_set_mode(ra, &m, NULL));
        expect_mode(ra, NPIPE_READ_MESSAGE, 0);
        npipe_close(ra);
        npipe_close(ro);
        npipe_close(s2);
        npipe_close(s);

        H_NAME(name4, "access4");
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = NPIPE_INBOUND;
        s = h_create(name4, &o);
        npipe_t *wo = h_client(name4, NPIPE_WRITE);
        ck_assert_ok(npipe_set_mode(wo, &m, NULL));
        expect_mode(wo, NPIPE_READ_MESSAGE, 0);
        npipe_close(wo);
        npipe_close(s);
}
END_TEST

START_TEST(test_get_mode_values)
{
        /* covers: MODE-08 */
        H_NAME(name, "getmode");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE | NPIPE_NOWAIT, 0, &s, &c);
        expect_mode(s, NPIPE_READ_MESSAGE, 1);
        expect_mode(c, NPIPE_READ_BYTE, 0);
        /* all-NULL pointers succeed */
        ck_assert_ok(npipe_get_mode(s, NULL, NULL));
        ck_assert_ok(npipe_get_mode(c, NULL, NULL));
        /* NULL leaves that mode unchanged when setting */
        int nw = 1;
        ck_assert_ok(npipe_set_mode(c, NULL, &nw));
        expect_mode(c, NPIPE_READ_BYTE, 1);
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        ck_assert_ok(npipe_set_mode(c, &m, NULL));
        expect_mode(c, NPIPE_READ_MESSAGE, 1);
        ck_assert_ok(npipe_set_mode(c, NULL, NULL));
        expect_mode(c, NPIPE_READ_MESSAGE, 1);
        /* npipe_get_info agrees */
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_int_eq(info.read_mode, NPIPE_READ_MESSAGE);
        ck_assert_int_eq(info.nowait, 1);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_mode_at_completion)
{
        /* covers: MODE-11 */
        H_NAME(name, "atcompletion");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        /* a completed byte-mode read is not re-interpreted by a later
         * switch to message mode */
        H_WRITE_STR(s, "0123456789");
        H_READ_STR(c, 4, NPIPE_OK, "0123");
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        H_READ_STR(c, 16, NPIPE_OK, "456789");
        /* a read pending in byte mode, satisfied after the switch to
         * message mode: message semantics apply (the mode at the moment
         * the read is satisfied) */
        h_set_read_mode(c, NPIPE_READ_BYTE);
        char b[4];
        struct h_op r;
        h_async_read(&r, c, b, sizeof(b));
        H_ASSERT_BLOCKED(&r);
        h_set_read_mode(c, NPIPE_READ_MESSAGE);
        H_WRITE_STR(s, "abcdefghij");
        H_ASSERT_FINISHES(&r);
        ck_assert_status(r.status, NPIPE_EMOREDATA);
        ck_assert_uint_eq(r.n, 4);
        ck_assert_int_eq(memcmp(b, "abcd", 4), 0);
        H_READ_STR(c, 16, NPIPE_OK, "efghij");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_mode_values_out_of_range)
{
        /* covers: MODE-06 */
        H_NAME(name, "range");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 0, &s, &c);
        enum npipe_read_mode bad = (enum npipe_read_mode)2;
        ck_assert_status(npipe_set_mode(s, &bad, NULL), NPIPE_EINVAL);
        ck_assert_status(npipe_set_mode(c, &bad, NULL), NPIPE_EINVAL);
        bad = (enum npipe_read_mode) - 1;
        ck_assert_status(npipe_set_mode(c, &bad, NULL), NPIPE_EINVAL);
        expect_mode(s, NPIPE_READ_BYTE, 0);
        expect_mode(c, NPIPE_READ_BYTE, 0);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("mode");
        TCase *tc = h_tcase("mode", 60);
        tcase_add_test(tc, test_byte_pipe_no_message_mode);
        tcase_add_test(tc, test_message_pipe_switches_freely);
        tcase_add_test(tc, test_wait_mode_any_pipe);
        tcase_add_test(tc, test_set_mode_needs_write_attributes);
        tcase_add_test(tc, test_get_mode_values);
        tcase_add_test(tc, test_mode_at_completion);
        tcase_add_test(tc, test_mode_values_out_of_range);
        suite_add_tcase(s, tc);
        return h_run(s);
}
