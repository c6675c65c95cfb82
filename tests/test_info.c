/*
 * test_info.c - spec section 20, INFO: npipe_get_info, the process ids and
 * the peer credentials; and the quota fields (QUOTA-10/11).
 */
#include "harness.h"

#include <string.h>
#include <unistd.h>

START_TEST(test_end_and_type)
{
        /* covers: INFO-01 */
        static const enum npipe_type types[] = {NPIPE_TYPE_BYTE, NPIPE_TYPE_MESSAGE};
        for (int i = 0; i < 2; i++) {
                for (int nowait = 0; nowait < 2; nowait++) {
                        H_NAME(name, "end");
                        npipe_t *s = h_server(name, types[i], nowait ? NPIPE_NOWAIT : 0);
                        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
                        struct npipe_info si, ci;
                        ck_assert_ok(npipe_get_info(s, &si));
                        ck_assert_ok(npipe_get_info(c, &ci));
                        ck_assert_int_eq(si.server_end, 1);
                        ck_assert_int_eq(ci.server_end, 0);
                        ck_assert_int_eq(si.type, types[i]);
                        ck_assert_int_eq(ci.type, types[i]);
                        ck_assert_int_eq(si.nowait, nowait);
                        npipe_close(c);
                        npipe_close(s);
                }
        }
}
END_TEST

START_TEST(test_sizes_and_max)
{
        /* covers: INFO-02 QUOTA-11 CREATE-06 */
        H_NAME(name, "sizes");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 3;
        o.in_quota = 0xF000;
        o.out_quota = 1024;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        struct npipe_info si, ci;
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_uint_eq(si.max_instances, 3);
        ck_assert_uint_eq(ci.max_instances, 3);
        ck_assert_uint_eq(si.in_quota, 0xF000);
        ck_assert_uint_eq(si.out_quota, 1024);
        ck_assert_uint_eq(ci.in_quota, 0xF000);
        ck_assert_uint_eq(ci.out_quota, 1024);
        npipe_close(c);
        npipe_close(s);
        /* unlimited is reported as such */
        H_NAME(name2, "unlimited");
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = NPIPE_UNLIMITED_INSTANCES;
        s = h_create(name2, &o);
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_uint_eq(si.max_instances, NPIPE_UNLIMITED_INSTANCES);
        npipe_close(s);
}
END_TEST

START_TEST(test_local_information_example)
{
        /* covers: INFO-04 QUOTA-10 QUOTA-11 */
        /* the verified example: outbound, message, max 1, in 100, out 200 */
        H_NAME(name, "example");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.dir = NPIPE_OUTBOUND;
        o.max_instances = 1;
        o.in_quota = 100;
        o.out_quota = 200;
        npipe_t *s = h_create(name, &o);
        struct npipe_info si, ci;
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_uint_eq(si.read_avail, 0); /* listening */
        ck_assert_int_eq(si.state, NPIPE_STATE_LISTENING);
        npipe_t *c = h_client(name, NPIPE_READ);
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_ok(npipe_get_info(c, &ci));
        const struct npipe_info *both[2] = {&si, &ci};
        for (int i = 0; i < 2; i++) {
                const struct npipe_info *in = both[i];
                ck_assert_int_eq(in->type, NPIPE_TYPE_MESSAGE);
                ck_assert_int_eq(in->dir, NPIPE_OUTBOUND); /* same on both ends */
                ck_assert_uint_eq(in->max_instances, 1);
                ck_assert_uint_eq(in->cur_instances, 1);
                ck_assert_uint_eq(in->in_quota, 100);
                ck_assert_uint_eq(in->out_quota, 200);
                ck_assert_uint_eq(in->read_avail, 0);
                ck_assert_int_eq(in->state, NPIPE_STATE_CONNECTED);
                ck_assert_int_eq(in->server_end, i == 0);
        }
        /* server writes outbound: its quota left is the out quota */
        ck_assert_uint_eq(si.write_quota_avail, 200);
        /* read_avail counts this end's readable bytes */
        H_WRITE(s, "0123456789", 10);
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_uint_eq(ci.read_avail, 10);
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_uint_eq(si.read_avail, 0);
        ck_assert_uint_eq(si.write_quota_avail, 190);
        ck_assert_ok(npipe_disconnect(s));
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_uint_eq(si.read_avail, 0);
        ck_assert_int_eq(si.state, NPIPE_STATE_DISCONNECTED);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_idle_write_quota)
{
        /* covers: QUOTA-10 */
        H_NAME(name, "idlequota");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_BYTE, 0);
        o.in_quota = 100;
        o.out_quota = 200;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        struct npipe_info si, ci;
        ck_assert_ok(npipe_get_info(s, &si));
        ck_assert_ok(npipe_get_info(c, &ci));
        ck_assert_uint_eq(si.write_quota_avail, 200);
        ck_assert_uint_eq(ci.write_quota_avail, 100);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Child server: reports its pid checks of the connection it serves. */
static int child_pid_server(int chan, void *arg)
{
        npipe_t *s = NULL;
        C_STATUS(npipe_create(arg, NULL, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        int r = npipe_listen(s, H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        pid_t pid = 0;
        C_STATUS(npipe_server_pid(s, &pid), NPIPE_OK);
        C_CHECK(pid == getpid());
        C_STATUS(npipe_client_pid(s, &pid), NPIPE_OK);
        C_CHECK(pid == getppid()); /* the test process opened the client */
        uid_t uid;
        gid_t gid;
        C_STATUS(npipe_peer_cred(s, &uid, &gid), NPIPE_OK);
        C_CHECK(uid == getuid() && gid == getgid());
        C_SEND(chan, 'p');
        /* the client closes: its pid is still known to the server */
        C_EXPECT(chan, 'c');
        char b[4];
        size_t n;
        C_STATUS(npipe_read_timeout(s, b, sizeof(b), &n, H_TIMEOUT_MS), NPIPE_EPIPE);
        pid = 0;
        C_STATUS(npipe_client_pid(s, &pid), NPIPE_OK);
        C_CHECK(pid == getppid());
        C_SEND(chan, 'k');
        C_EXPECT(chan, 'q');
        npipe_close(s);
        return 0;
}

START_TEST(test_process_ids_across_processes)
{
        /* covers: INFO-11 */
        H_NAME(name, "pids");
        struct h_child ch;
        h_spawn(&ch, child_pid_server, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        pid_t pid = 0;
        ck_assert_ok(npipe_server_pid(c, &pid));
        ck_assert_int_eq(pid, ch.pid);
        ck_assert_ok(npipe_client_pid(c, &pid));
        ck_assert_int_eq(pid, getpid());
        uid_t uid;
        gid_t gid;
        ck_assert_ok(npipe_peer_cred(c, &uid, &gid));
        ck_assert_int_eq(uid, getuid());
        ck_assert_int_eq(gid, getgid());
        H_EXPECT(ch.chan, 'p');
        npipe_close(c);
        h_send(ch.chan, 'c');
        H_EXPECT(ch.chan, 'k');
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

static int child_pid_server_closes(int chan, void *arg)
{
        npipe_t *s = NULL;
        C_STATUS(npipe_create(arg, NULL, &s), NPIPE_OK);
        C_SEND(chan, 'r');
        int r = npipe_listen(s, H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        C_STATUS(npipe_close(s), NPIPE_OK);
        C_SEND(chan, 'c');
        C_EXPECT(chan, 'q');
        return 0;
}

START_TEST(test_server_pid_after_server_closed)
{
        /* covers: INFO-11 */
        H_NAME(name, "srvclosed");
        struct h_child ch;
        h_spawn(&ch, child_pid_server_closes, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_EXPECT(ch.chan, 'c');
        pid_t pid = 0;
        ck_assert_ok(npipe_server_pid(c, &pid));
        ck_assert_int_eq(pid, ch.pid);
        ck_assert_ok(npipe_client_pid(c, &pid));
        ck_assert_int_eq(pid, getpid());
        npipe_close(c);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

START_TEST(test_pid_null_pointer)
{
        /* covers: INFO-11 */
        H_NAME(name, "nullptr");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        ck_assert_status(npipe_client_pid(s, NULL), NPIPE_EBUFFER);
        ck_assert_status(npipe_server_pid(c, NULL), NPIPE_EBUFFER);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_name_and_runtime_dir)
{
        /* covers: NAME-01 */
        H_NAME(name, "Named");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_BYTE, 0, 0, &s, &c);
        const char *bare = name + strlen("\\\\.\\pipe\\");
        ck_assert_str_eq(npipe_name(s), bare);
        ck_assert_str_eq(npipe_name(c), bare);
        ck_assert_str_eq(npipe_runtime_dir(), h_runtime_dir());
        npipe_close(c);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("info");
        TCase *tc = h_tcase("info", 60);
        tcase_add_test(tc, test_end_and_type);
        tcase_add_test(tc, test_sizes_and_max);
        tcase_add_test(tc, test_local_information_example);
        tcase_add_test(tc, test_idle_write_quota);
        tcase_add_test(tc, test_process_ids_across_processes);
        tcase_add_test(tc, test_server_pid_after_server_closed);
        tcase_add_test(tc, test_pid_null_pointer);
        tcase_add_test(tc, test_name_and_runtime_dir);
        suite_add_tcase(s, tc);
        return h_run(s);
}
