/*
 * test_torn.c - a message-mode read that times out while a large message
 * is still streaming in must not deliver the rest of it as a message.
 *
 * Found by test_chaos (a reader polling with npipe_read_timeout saw "torn"
 * messages after a broker kill had slowed its writer down).  A message
 * larger than the ring streams: the reader copies out what is there and
 * waits for the rest (NP_RING_PARTIAL).  If its timeout fires then,
 * read_locked() (src/client/pipe.c) returns NPIPE_ETIMEDOUT with the bytes
 * it already consumed from the ring; the consumer stays inside the
 * message, and the next read returns the message's tail as if it were a
 * whole message.  NT never splits a message this way: a timed-out read
 * reads nothing, and a message is read whole or with NPIPE_EMOREDATA.
 *
 * Here the writer (another process) is stopped with SIGSTOP in the middle
 * of a 1 MiB message, so the reader's timeout fires mid-message for sure;
 * SIGCONT lets it finish.  Every read must then return either nothing
 * (timeout) or a whole, intact message.
 *
 * covers: issue 4 item 3 (no message is ever delivered torn as if whole),
 * MSG-01, MSG-02
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "rt.h"

#define LEN (1024 * 1024)

/* covers: issue 4 item 3 (never torn), MSG-01 */
START_TEST(test_timeout_mid_message)
{
        static unsigned char msg[LEN], buf[2 * LEN];
        struct npipe_server_opts o;
        struct npipe_peek pk;
        char name[256];
        npipe_t *srv;
        size_t n = 0;
        pid_t writer;
        int r, st;

        rt_private_runtime();
        rt_name(name, sizeof name, "torn");
        npipe_server_opts_init(&o);
        o.flags = NPIPE_READMODE_MESSAGE;
        ck_assert_int_eq(npipe_create(name, &o, &srv), 0);
        for (size_t i = 0; i < LEN; i++)
                msg[i] = (unsigned char)(i * 31u + 1u);
        writer = fork();
        ck_assert_int_ge(writer, 0);
        if (writer == 0) {
                npipe_t *h;

                if (npipe_open(name, NPIPE_READ | NPIPE_WRITE, 10000, &h) != 0)
                        _exit(1);
                _exit(npipe_write(h, msg, LEN, &n) == 0 && n == LEN ? 0 : 2);
        }
        /* the instance listens from its creation (CREATE-10): a writer
         * that connected first makes the listen say so (CONNECT-02) */
        r = npipe_listen(srv, 10000);
        ck_assert_msg(r == 0 || r == NPIPE_EISCONN, "listen: %s", npipe_err_name(r));
        /* the message has started (its first chunk is in the ring) */
        do
                ck_assert_int_eq(npipe_peek(srv, NULL, 0, &pk), 0);
        while (pk.avail == 0);
        ck_assert_uint_eq(pk.avail, LEN); /* declared in full at once */
        /* stop the writer mid-message: the ring holds a part, no more comes */
        ck_assert_int_eq(kill(writer, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(writer, &st, WUNTRACED), writer);
        ck_assert(WIFSTOPPED(st));

        r = npipe_read_timeout(srv, buf, sizeof buf, &n, 100);
        ck_assert_msg(r == NPIPE_ETIMEDOUT, "first read: %s", npipe_err_name(r));
        ck_assert_msg(n == 0,
                      "a timed-out message-mode read consumed %zu bytes of a message still "
                      "streaming in (they are lost, and the next read gets a torn message)",
                      n);
        ck_assert_int_eq(kill(writer, SIGCONT), 0);
        r = npipe_read_timeout(srv, buf, sizeof buf, &n, 10000);
        ck_assert_msg(r == 0, "second read: %s", npipe_err_name(r));
        ck_assert_msg(n == LEN, "the message came out torn: %zu of %d bytes", n, LEN);
        ck_assert_int_eq(memcmp(buf, msg, LEN), 0);
        st = rt_wait_exit(writer, 10000);
        ck_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        npipe_close(srv);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("torn");
        TCase *tc = tcase_create("timeout");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_timeout_mid_message);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
