/*
 * test_create.c - spec sections 2 and 3, CREATE and INST: npipe_create's
 * parameters and the instances of one name.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static int create_with(const char *name, struct npipe_server_opts *o, npipe_t **h)
{
        *h = NULL;
        return npipe_create(name, o, h);
}

START_TEST(test_direction_required)
{
        /* covers: CREATE-01 */
        H_NAME(name, "dir");
        struct npipe_server_opts o;
        npipe_t *h;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = 0; /* no access mode */
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        ck_assert_ptr_null(h);
        o.dir = 4;
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        o.dir = 7;
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        /* nothing was created by the failures */
        ck_assert_status(npipe_wait(name, 0), NPIPE_ENOENT);
        static const enum npipe_dir dirs[] = {NPIPE_INBOUND, NPIPE_OUTBOUND, NPIPE_DUPLEX};
        for (int i = 0; i < 3; i++) {
                H_NAME(n2, "dirok");
                o.dir = dirs[i];
                ck_assert_status(create_with(n2, &o, &h), NPIPE_OK);
                struct npipe_info info;
                ck_assert_ok(npipe_get_info(h, &info));
                ck_assert_int_eq(info.dir, dirs[i]);
                npipe_close(h);
        }
}
END_TEST

START_TEST(test_remote_name_not_created)
{
        /* covers: NAME-14 (a server cannot create a pipe on another
         * machine; the remote form is for clients, tests/remote) */
        struct npipe_server_opts o;
        npipe_t *h;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        ck_assert_status(create_with("\\\\otherhost\\pipe\\x", &o, &h), NPIPE_EBADNAME);
        ck_assert_ptr_null(h);
        ck_assert_status(create_with("//otherhost/pipe/x", &o, &h), NPIPE_EBADNAME);
        ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_mode_bits)
{
        /* covers: CREATE-02 CREATE-01 */
        H_NAME(name, "modebits");
        struct npipe_server_opts o;
        npipe_t *h;
        /* unknown flag bits fail */
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0x100);
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0x80000000u);
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        /* an unknown pipe type fails */
        h_opts(&o, (enum npipe_type)2, 0);
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        /* every defined combination is accepted and reported back */
        for (unsigned bits = 0; bits < 16; bits++) {
                uint32_t flags = 0;
                if (bits & 1)
                        flags |= NPIPE_NOWAIT;
                if (bits & 2)
                        flags |= NPIPE_READMODE_MESSAGE;
                if (bits & 4)
                        flags |= NPIPE_REJECT_REMOTE;
                enum npipe_type type = (bits & 8) ? NPIPE_TYPE_MESSAGE : NPIPE_TYPE_BYTE;
                if (type == NPIPE_TYPE_BYTE && (flags & NPIPE_READMODE_MESSAGE))
                        continue; /* CREATE-03 */
                H_NAME(n2, "combo");
                h_opts(&o, type, flags);
                ck_assert_status(create_with(n2, &o, &h), NPIPE_OK);
                enum npipe_read_mode rm;
                int nw;
                ck_assert_ok(npipe_get_mode(h, &rm, &nw));
                ck_assert_int_eq(rm, (flags & NPIPE_READMODE_MESSAGE) ? NPIPE_READ_MESSAGE
                                                                      : NPIPE_READ_BYTE);
                ck_assert_int_eq(nw, (flags & NPIPE_NOWAIT) ? 1 : 0);
                struct npipe_info info;
                ck_assert_ok(npipe_get_info(h, &info));
                ck_assert_int_eq(info.type, type);
                npipe_close(h);
        }
}
END_TEST

START_TEST(test_byte_type_message_read)
{
        /* covers: CREATE-03 */
        H_NAME(name, "bytemsg");
        struct npipe_server_opts o;
        npipe_t *h;
        h_opts(&o, NPIPE_TYPE_BYTE, NPIPE_READMODE_MESSAGE);
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        ck_assert_ptr_null(h);
        ck_assert_status(npipe_wait(name, 0), NPIPE_ENOENT);
}
END_TEST

START_TEST(test_max_instances_range)
{
        /* covers: CREATE-04 */
        H_NAME(name, "maxinst");
        struct npipe_server_opts o;
        npipe_t *h;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = NPIPE_MAX_INSTANCES_LIMIT + 1;
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        o.max_instances = 1000;
        ck_assert_status(create_with(name, &o, &h), NPIPE_EINVAL);
        o.max_instances = NPIPE_MAX_INSTANCES_LIMIT;
        ck_assert_status(create_with(name, &o, &h), NPIPE_OK);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(h, &info));
        ck_assert_uint_eq(info.max_instances, NPIPE_MAX_INSTANCES_LIMIT);
        npipe_close(h);
}
END_TEST

START_TEST(test_unlimited_instances)
{
        /* covers: CREATE-04 INST-01 INST-10 */
        /* unlimited really is more than the largest explicit limit */
        H_NAME(name, "unlimited");
        enum { N = 260 };
        npipe_t **hs = calloc(N, sizeof(*hs));
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = NPIPE_UNLIMITED_INSTANCES;
        o.in_quota = o.out_quota = 512; /* small rings: 260 of them */
        for (int i = 0; i < N; i++) {
                int r = npipe_create(name, &o, &hs[i]);
                ck_assert_msg(r == NPIPE_OK, "instance %d: %s", i, npipe_err_name(r));
        }
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(hs[0], &info));
        ck_assert_uint_eq(info.max_instances, NPIPE_UNLIMITED_INSTANCES);
        ck_assert_uint_eq(info.cur_instances, N);
        for (int i = 0; i < N; i++)
                npipe_close(hs[i]);
        free(hs);
}
END_TEST

START_TEST(test_default_timeout)
{
        /* covers: CREATE-05 WAIT-07 */
        /* the creation's default timeout is what a default wait waits */
        H_NAME(name, "deftimeout");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 1;
        o.default_timeout_ms = 400;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE); /* now busy */
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_wait(name, NPIPE_WAIT_DEFAULT), NPIPE_ETIMEDOUT);
        int64_t dt = h_now_ms() - t0;
        ck_assert_msg(dt >= 380, "default wait took %lld ms, expected about 400", (long long)dt);
        ck_assert_msg(dt < 400 + 3000, "default wait took %lld ms", (long long)dt);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_quotas_reported)
{
        /* covers: CREATE-06 QUOTA-11 INFO-02 QUOTA-08 */
        /* (QUOTA-08: quota 0 is legal and reported as 0; what a write does
         * with it is ?VERIFY and not encoded) */
        static const uint32_t sizes[][2] = {
            {0, 0}, {1024, 1024}, {0xF000, 0xF000}, {100, 200}, {1, 65537}};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                H_NAME(name, "quota");
                struct npipe_server_opts o;
                h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
                o.in_quota = sizes[i][0];
                o.out_quota = sizes[i][1];
                npipe_t *s = h_create(name, &o);
                npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
                struct npipe_info si, ci;
                ck_assert_ok(npipe_get_info(s, &si));
                ck_assert_ok(npipe_get_info(c, &ci));
                ck_assert_uint_eq(si.in_quota, sizes[i][0]);
                ck_assert_uint_eq(si.out_quota, sizes[i][1]);
                ck_assert_uint_eq(ci.in_quota, sizes[i][0]);
                ck_assert_uint_eq(ci.out_quota, sizes[i][1]);
                npipe_close(c);
                npipe_close(s);
        }
}
END_TEST

START_TEST(test_listening_at_once)
{
        /* covers: CREATE-10 CONNECT-02 STATE-01 */
        H_NAME(name, "atonce");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        ck_assert_int_eq(h_state(s), NPIPE_STATE_LISTENING);
        /* a client connects before any npipe_listen */
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_status(npipe_listen(s, NPIPE_INFINITE), NPIPE_EISCONN);
        H_WRITE_STR(c, "hi");
        H_READ_STR(s, 8, NPIPE_OK, "hi");
        H_WRITE_STR(s, "ho");
        H_READ_STR(c, 8, NPIPE_OK, "ho");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_instances_share_name)
{
        /* covers: INST-01 INST-02 INST-10 */
        H_NAME(name, "share");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.max_instances = 2;
        npipe_t *s1 = h_create(name, &o);
        npipe_t *s2 = h_create(name, &o);
        npipe_t *s3 = NULL;
        ck_assert_status(npipe_create(name, &o, &s3), NPIPE_EBUSY);
        ck_assert_ptr_null(s3);
        npipe_t *c1 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_t *c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_int_eq(h_state(s1), NPIPE_STATE_CONNECTED);
        ck_assert_int_eq(h_state(s2), NPIPE_STATE_CONNECTED);
        /* each client talks to its own instance */
        H_WRITE_STR(s1, "one");
        H_WRITE_STR(s2, "two");
        H_READ_STR(c1, 8, NPIPE_OK, "one");
        H_READ_STR(c2, 8, NPIPE_OK, "two");
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(c2, &info));
        ck_assert_uint_eq(info.cur_instances, 2);
        npipe_close(c1);
        npipe_close(c2);
        npipe_close(s1);
        npipe_close(s2);
}
END_TEST

START_TEST(test_max_one)
{
        /* covers: INST-02 */
        H_NAME(name, "maxone");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 1;
        npipe_t *s1 = h_create(name, &o);
        npipe_t *s2 = NULL;
        ck_assert_status(npipe_create(name, &o, &s2), NPIPE_EBUSY);
        ck_assert_ok(npipe_close(s1));
        /* the name is free again */
        s2 = h_create(name, &o);
        npipe_close(s2);
}
END_TEST

START_TEST(test_direction_must_match)
{
        /* covers: INST-03 */
        H_NAME(name, "dirmatch");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.max_instances = 4;
        o.dir = NPIPE_DUPLEX;
        npipe_t *s1 = h_create(name, &o);
        npipe_t *s2 = NULL;
        o.dir = NPIPE_INBOUND;
        ck_assert_status(npipe_create(name, &o, &s2), NPIPE_EACCES);
        o.dir = NPIPE_OUTBOUND;
        ck_assert_status(npipe_create(name, &o, &s2), NPIPE_EACCES);
        o.dir = NPIPE_DUPLEX;
        s2 = h_create(name, &o);
        npipe_close(s2);
        npipe_close(s1);
}
END_TEST

START_TEST(test_other_params_may_differ)
{
        /* covers: INST-04 */
        /* K32 test_CreateNamedPipe_instances_must_match: type, count,
         * sizes and timeout may all differ */
        H_NAME(name, "differ");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.max_instances = 4;
        o.in_quota = o.out_quota = 1024;
        o.default_timeout_ms = 0;
        npipe_t *s1 = h_create(name, &o);
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 3;
        o.in_quota = 102;
        o.out_quota = 24;
        o.default_timeout_ms = 1234;
        npipe_t *s2 = h_create(name, &o);
        /* both usable (what the second one reports is ?VERIFY: not checked) */
        npipe_t *c1 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_t *c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_close(c1);
        npipe_close(c2);
        npipe_close(s2);
        npipe_close(s1);
}
END_TEST

START_TEST(test_max_instances_pipe_wide)
{
        /* covers: INST-04 */
        /* the maximum instance count is the first instance's (NPFS keeps it
         * in the FCB): first 2, a later instance asking for 4 does not
         * raise it */
        H_NAME(name, "pipewide");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 2;
        npipe_t *s1 = h_create(name, &o);
        o.max_instances = 4;
        npipe_t *s2 = h_create(name, &o);
        npipe_t *s3 = NULL;
        ck_assert_status(npipe_create(name, &o, &s3), NPIPE_EBUSY);
        npipe_close(s2);
        npipe_close(s1);
}
END_TEST

START_TEST(test_closed_instance_stops_counting)
{
        /* covers: INST-05 */
        H_NAME(name, "stopcount");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 1;
        npipe_t *s1 = h_create(name, &o);
        npipe_t *c1 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_ok(npipe_close(s1));
        /* its client is still attached, yet a new instance may be made */
        npipe_t *s2 = h_create(name, &o);
        npipe_t *c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_WRITE_STR(s2, "new");
        H_READ_STR(c2, 8, NPIPE_OK, "new");
        /* the old client is in the closing state, untouched by the new one */
        char b[8];
        size_t n;
        ck_assert_status(npipe_read(c1, b, sizeof(b), &n), NPIPE_EPIPE);
        npipe_close(c1);
        npipe_close(c2);
        npipe_close(s2);
}
END_TEST

START_TEST(test_first_instance_flag)
{
        /* covers: INST-06 */
        H_NAME(name, "first");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_FIRST_INSTANCE);
        npipe_t *s1 = h_create(name, &o);
        npipe_t *s2 = NULL;
        ck_assert_status(npipe_create(name, &o, &s2), NPIPE_EACCES);
        ck_assert_ptr_null(s2);
        /* without the flag the second instance is fine */
        o.flags = 0;
        s2 = h_create(name, &o);
        npipe_close(s2);
        npipe_close(s1);
        /* after the last instance is gone the flag succeeds again */
        o.flags = NPIPE_FIRST_INSTANCE;
        s1 = h_create(name, &o);
        npipe_close(s1);
}
END_TEST

/* Which of the instances is connected (-1 when none, -2 when several). */
static int connected_one(npipe_t **s, int n, const int *before)
{
        int found = -1;
        for (int i = 0; i < n; i++) {
                int st = h_state(s[i]);
                if (st == NPIPE_STATE_CONNECTED && !before[i]) {
                        if (found != -1)
                                return -2;
                        found = i;
                }
        }
        return found;
}

/* Open one client and return the index of the instance that got it. */
static int next_instance(const char *name, npipe_t **s, int n, npipe_t **cli)
{
        int before[8];
        for (int i = 0; i < n; i++)
                before[i] = h_state(s[i]) == NPIPE_STATE_CONNECTED;
        *cli = h_client(name, NPIPE_READ | NPIPE_WRITE);
        return connected_one(s, n, before);
}

START_TEST(test_connection_order)
{
        /* covers: INST-09 OPEN-02 STATE-05 CONNECT-08 */
        H_NAME(name, "order");
        npipe_t *s[4];
        for (int i = 0; i < 4; i++)
                s[i] = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        /* a listen on S2, which is already listening, does not move it */
        h_set_nowait(s[2], 1);
        ck_assert_status(npipe_listen(s[2], 0), NPIPE_ELISTENING);
        h_set_nowait(s[2], 0);
        struct h_op listen2;
        h_async_listen(&listen2, s[2], NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&listen2);

        npipe_t *c[7];
        ck_assert_int_eq(next_instance(name, s, 4, &c[0]), 0);
        ck_assert_int_eq(next_instance(name, s, 4, &c[1]), 1);
        ck_assert_int_eq(next_instance(name, s, 4, &c[2]), 2);
        H_ASSERT_FINISHES(&listen2);
        ck_assert_status(listen2.status, NPIPE_OK);

        /* disconnect S0 and S2; re-listen S2, then S0 (non-blocking listens
         * enter the queue before they return: CONNECT-08) */
        ck_assert_ok(npipe_disconnect(s[0]));
        ck_assert_ok(npipe_disconnect(s[2]));
        h_set_nowait(s[2], 1);
        ck_assert_status(npipe_listen(s[2], 0), NPIPE_ELISTENING);
        h_set_nowait(s[0], 1);
        ck_assert_status(npipe_listen(s[0], 0), NPIPE_ELISTENING);
        ck_assert_int_eq(next_instance(name, s, 4, &c[3]), 3);
        ck_assert_int_eq(next_instance(name, s, 4, &c[4]), 2);
        ck_assert_int_eq(next_instance(name, s, 4, &c[5]), 0);
        /* none listening now */
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c[6]), NPIPE_EBUSY);
        for (int i = 0; i < 6; i++)
                npipe_close(c[i]);
        for (int i = 0; i < 4; i++)
                npipe_close(s[i]);
}
END_TEST

START_TEST(test_cur_instances)
{
        /* covers: INST-10 */
        H_NAME(name, "cur");
        npipe_t *s1 = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        struct npipe_info info;
        ck_assert_ok(npipe_get_info(s1, &info));
        ck_assert_uint_eq(info.cur_instances, 1);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_uint_eq(info.cur_instances, 1);
        npipe_t *s2 = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        npipe_t *s3 = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        ck_assert_ok(npipe_get_info(c, &info));
        ck_assert_uint_eq(info.cur_instances, 3);
        ck_assert_ok(npipe_get_info(s3, &info));
        ck_assert_uint_eq(info.cur_instances, 3);
        npipe_close(s2);
        ck_assert_ok(npipe_get_info(s1, &info));
        ck_assert_uint_eq(info.cur_instances, 2);
        npipe_close(s3);
        npipe_close(c);
        npipe_close(s1);
}
END_TEST

START_TEST(test_server_access_by_direction)
{
        /* covers: CREATE-07 CREATE-08 */
        /* what the granted access of each direction allows: an inbound
         * server only reads (and cannot change its mode), an outbound one
         * only writes */
        char b[8];
        size_t n;
        struct npipe_peek pk;
        H_NAME(in, "inbound");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.dir = NPIPE_INBOUND;
        npipe_t *s = h_create(in, &o);
        npipe_t *c = h_client(in, NPIPE_WRITE);
        ck_assert_status(npipe_write(s, "x", 1, &n), NPIPE_EACCES);
        int nw = 1;
        ck_assert_status(npipe_set_mode(s, NULL, &nw), NPIPE_EACCES);
        H_WRITE_STR(c, "in");
        H_READ_STR(s, 8, NPIPE_OK, "in");
        npipe_close(c);
        npipe_close(s);

        H_NAME(out, "outbound");
        o.dir = NPIPE_OUTBOUND;
        s = h_create(out, &o);
        c = h_client(out, NPIPE_READ);
        ck_assert_status(npipe_read(s, b, sizeof(b), &n), NPIPE_EACCES);
        ck_assert_status(npipe_peek(s, b, sizeof(b), &pk), NPIPE_EACCES);
        ck_assert_ok(npipe_set_mode(s, NULL, &nw)); /* has FILE_WRITE_ATTRIBUTES */
        nw = 0;
        ck_assert_ok(npipe_set_mode(s, NULL, &nw));
        H_WRITE_STR(s, "out");
        H_READ_STR(c, 8, NPIPE_OK, "out");
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_modes_differ_between_instances)
{
        /* covers: CREATE-11 */
        H_NAME(name, "instmodes");
        npipe_t *a = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_NOWAIT);
        npipe_t *b = h_server(name, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        enum npipe_read_mode rm;
        int nw;
        ck_assert_ok(npipe_get_mode(a, &rm, &nw));
        ck_assert_int_eq(rm, NPIPE_READ_BYTE);
        ck_assert_int_eq(nw, 1);
        ck_assert_ok(npipe_get_mode(b, &rm, &nw));
        ck_assert_int_eq(rm, NPIPE_READ_MESSAGE);
        ck_assert_int_eq(nw, 0);
        /* and they behave so */
        npipe_t *ca = h_client(name, NPIPE_READ | NPIPE_WRITE);
        npipe_t *cb = h_client(name, NPIPE_READ | NPIPE_WRITE);
        char buf[4];
        size_t n;
        ck_assert_status(npipe_read(a, buf, sizeof(buf), &n), NPIPE_EAGAIN);
        H_WRITE_STR(cb, "0123456789");
        H_READ_STR(b, 4, NPIPE_EMOREDATA, "0123");
        npipe_close(ca);
        npipe_close(cb);
        npipe_close(a);
        npipe_close(b);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("create");
        TCase *tc = h_tcase("create", 60);
        tcase_add_test(tc, test_direction_required);
        tcase_add_test(tc, test_mode_bits);
        tcase_add_test(tc, test_byte_type_message_read);
        tcase_add_test(tc, test_max_instances_range);
        tcase_add_test(tc, test_unlimited_instances);
        tcase_add_test(tc, test_default_timeout);
        tcase_add_test(tc, test_quotas_reported);
        tcase_add_test(tc, test_listening_at_once);
        tcase_add_test(tc, test_instances_share_name);
        tcase_add_test(tc, test_max_one);
        tcase_add_test(tc, test_direction_must_match);
        tcase_add_test(tc, test_other_params_may_differ);
        tcase_add_test(tc, test_max_instances_pipe_wide);
        tcase_add_test(tc, test_closed_instance_stops_counting);
        tcase_add_test(tc, test_first_instance_flag);
        tcase_add_test(tc, test_connection_order);
        tcase_add_test(tc, test_cur_instances);
        tcase_add_test(tc, test_server_access_by_direction);
        tcase_add_test(tc, test_modes_differ_between_instances);
        tcase_add_test(tc, test_remote_name_not_created);
        suite_add_tcase(s, tc);
        return h_run(s);
}
