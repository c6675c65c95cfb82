/*
 * test_fd.c - a connection costs no file descriptor (design.md, "Data
 * path"): a process holding 100 open client connections has exactly as
 * many entries in /proc/self/fd as with one, and so does the process
 * serving them.  The servers live in a child process, the clients in the
 * test process.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define N_CONN 100

/* Child: N_CONN instances of the name; counts its descriptors once the
 * first is connected and once all are; sends both counts. */
static int child_servers(int chan, void *arg)
{
        const char *name = arg;
        npipe_t *s[N_CONN];
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.type = NPIPE_TYPE_BYTE;
        C_STATUS(npipe_create(name, &o, &s[0]), NPIPE_OK);
        C_SEND(chan, 'r');
        C_EXPECT(chan, '1'); /* the first client is open */
        int r = npipe_listen(s[0], H_TIMEOUT_MS);
        C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
        C_STATUS(c_write_all(s[0], "x", 1), NPIPE_OK);
        int one = h_count_fds();
        for (int i = 1; i < N_CONN; i++)
                C_STATUS(npipe_create(name, &o, &s[i]), NPIPE_OK);
        C_CHECK(h_send_u64(chan, (uint64_t)one) == 0);
        C_EXPECT(chan, 'n'); /* all clients are open */
        for (int i = 1; i < N_CONN; i++) {
                r = npipe_listen(s[i], H_TIMEOUT_MS);
                C_CHECK(r == NPIPE_OK || r == NPIPE_EISCONN);
                C_STATUS(c_write_all(s[i], "x", 1), NPIPE_OK);
        }
        int hundred = h_count_fds();
        C_CHECK(h_send_u64(chan, (uint64_t)hundred) == 0);
        C_EXPECT(chan, 'q');
        for (int i = 0; i < N_CONN; i++)
                npipe_close(s[i]);
        return 0;
}

START_TEST(test_hundred_connections_no_fds)
{
        /* covers: none (design.md: a connection costs no file descriptor) */
        H_NAME(name, "fds");
        struct h_child ch;
        h_spawn(&ch, child_servers, name);
        H_EXPECT(ch.chan, 'r');
        npipe_t *c[N_CONN];
        c[0] = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_send(ch.chan, '1');
        /* data from the server: the connection is complete on our side */
        H_READ_STR(c[0], 4, NPIPE_OK, "x");
        uint64_t child_one = 0, child_hundred = 0;
        ck_assert_int_eq(h_recv_u64(ch.chan, &child_one, H_TIMEOUT_MS), 0);
        int one = h_count_fds();
        for (int i = 1; i < N_CONN; i++)
                c[i] = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_send(ch.chan, 'n');
        for (int i = 1; i < N_CONN; i++)
                H_READ_STR(c[i], 4, NPIPE_OK, "x");
        ck_assert_int_eq(h_recv_u64(ch.chan, &child_hundred, H_TIMEOUT_MS), 0);
        int hundred = h_count_fds();
        ck_assert_msg(one == hundred,
                      "client process: %d descriptors with 1 connection, %d with %d", one, hundred,
                      N_CONN);
        ck_assert_msg(child_one == child_hundred,
                      "server process: %llu descriptors with 1 connection, %llu with %d",
                      (unsigned long long)child_one, (unsigned long long)child_hundred, N_CONN);
        /* and every connection still works */
        for (int i = 0; i < N_CONN; i++) {
                H_WRITE_STR(c[i], "y");
                npipe_close(c[i]);
        }
        ck_assert_int_eq(h_count_fds(), one);
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
}
END_TEST

/* The same within one process: 100 pairs cost no more than one. */
START_TEST(test_pairs_in_one_process)
{
        /* covers: none (design.md: a connection costs no file descriptor) */
        H_NAME(name, "pairs");
        npipe_t *s[N_CONN], *c[N_CONN];
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        s[0] = h_create(name, &o);
        c[0] = h_client(name, NPIPE_READ | NPIPE_WRITE);
        H_WRITE_STR(s[0], "m");
        H_READ_STR(c[0], 4, NPIPE_OK, "m");
        int one = h_count_fds();
        for (int i = 1; i < N_CONN; i++) {
                s[i] = h_create(name, &o);
                c[i] = h_client(name, NPIPE_READ | NPIPE_WRITE);
                H_WRITE_STR(c[i], "m");
                H_READ_STR(s[i], 4, NPIPE_OK, "m");
        }
        int hundred = h_count_fds();
        ck_assert_msg(one == hundred, "%d descriptors with 1 pair, %d with %d", one, hundred,
                      N_CONN);
        for (int i = 0; i < N_CONN; i++) {
                npipe_close(c[i]);
                npipe_close(s[i]);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("fd");
        TCase *tc = h_tcase("fd", 120);
        tcase_add_test(tc, test_hundred_connections_no_fds);
        tcase_add_test(tc, test_pairs_in_one_process);
        suite_add_tcase(s, tc);
        return h_run(s);
}
