/*
 * test_wait.c - spec section 15, WAIT: npipe_wait (WaitNamedPipe).
 */
#include "harness.h"

#include <string.h>

/* A pipe with one instance, busy with a client. */
static void busy_pipe(const char *name, uint32_t default_timeout, npipe_t **s, npipe_t **c)
{
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 4;
        o.default_timeout_ms = default_timeout;
        *s = h_create(name, &o);
        *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
}

START_TEST(test_not_found_at_once)
{
        /* covers: WAIT-01 NAME-05 */
        H_NAME(name, "notfound");
        static const int timeouts[] = {0, 1, 100, 2000, NPIPE_INFINITE, NPIPE_WAIT_DEFAULT};
        for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
                int64_t t0 = h_now_ms();
                ck_assert_status(npipe_wait(name, timeouts[i]), NPIPE_ENOENT);
                ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        }
}
END_TEST

START_TEST(test_listening_at_once)
{
        /* covers: WAIT-02 */
        H_NAME(name, "listening");
        npipe_t *s = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        int64_t t0 = h_now_ms();
        /* a brand-new instance, never listened on */
        ck_assert_ok(npipe_wait(name, 0));
        ck_assert_ok(npipe_wait(name, NPIPE_INFINITE));
        ck_assert_ok(npipe_wait(name, NPIPE_WAIT_DEFAULT));
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS);
        /* one of several instances listening is enough */
        npipe_t *c = h_client(name, NPIPE_READ);
        npipe_t *s2 = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        ck_assert_ok(npipe_wait(name, 0));
        npipe_close(s2);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_busy_times_out)
{
        /* covers: WAIT-03 */
        H_NAME(name, "timeout");
        npipe_t *s, *c;
        busy_pipe(name, 50, &s, &c);
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_wait(name, 100), NPIPE_ETIMEDOUT);
        int64_t dt = h_now_ms() - t0;
        ck_assert_msg(dt >= 90, "100 ms wait returned after %lld ms", (long long)dt);
        ck_assert_status(npipe_wait(name, 1), NPIPE_ETIMEDOUT);
        /* a closing client does not make it listen either */
        npipe_close(c);
        ck_assert_status(npipe_wait(name, 100), NPIPE_ETIMEDOUT);
        npipe_close(s);
}
END_TEST

/* Child: creates a new instance of the name on 'n'. */
static int child_new_instance(int chan, void *arg)
{
        C_EXPECT(chan, 'n');
        npipe_t *s = NULL;
        struct npipe_server_opts o;
        npipe_server_opts_init(&o);
        o.max_instances = 4;
        C_STATUS(npipe_create(arg, &o, &s), NPIPE_OK);
        C_SEND(chan, 'c');
        C_EXPECT(chan, 'q');
        npipe_close(s);
        return 0;
}

START_TEST(test_released_by_new_instance)
{
        /* covers: WAIT-04 */
        H_NAME(name, "newinst");
        npipe_t *s, *c;
        busy_pipe(name, 50, &s, &c);
        struct h_child ch;
        h_spawn(&ch, child_new_instance, name);
        struct h_op w;
        h_async_wait(&w, name, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&w);
        h_send(ch.chan, 'n'); /* another process creates an instance */
        H_EXPECT(ch.chan, 'c');
        int64_t t0 = h_now_ms();
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        ck_assert_int_lt(h_now_ms() - t0, H_PROMPT_MS); /* prompt */
        h_send(ch.chan, 'q');
        H_ASSERT_CHILD_OK(&ch);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_released_by_relisten)
{
        /* covers: WAIT-04 WAIT-06 */
        H_NAME(name, "relisten");
        npipe_t *s, *c;
        busy_pipe(name, 50, &s, &c);
        struct h_op w;
        h_async_wait(&w, name, H_TIMEOUT_MS);
        H_ASSERT_BLOCKED(&w);
        npipe_close(c); /* the instance is CLOSING: no release */
        H_ASSERT_BLOCKED(&w);
        ck_assert_ok(npipe_disconnect(s)); /* DISCONNECTED: none yet */
        H_ASSERT_BLOCKED(&w);
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        npipe_close(s);
}
END_TEST

START_TEST(test_all_released_nothing_reserved)
{
        /* covers: WAIT-05 */
        H_NAME(name, "all");
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 1;
        npipe_t *s = h_create(name, &o);
        npipe_t *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        struct h_op w1, w2, w3;
        h_async_wait(&w1, name, H_TIMEOUT_MS);
        h_async_wait(&w2, name, H_TIMEOUT_MS);
        h_async_wait(&w3, name, NPIPE_INFINITE);
        H_ASSERT_BLOCKED(&w1);
        H_ASSERT_BLOCKED(&w2);
        H_ASSERT_BLOCKED(&w3);
        npipe_close(c);
        ck_assert_ok(npipe_disconnect(s));
        h_set_nowait(s, 1);
        ck_assert_status(npipe_listen(s, 0), NPIPE_ELISTENING);
        H_ASSERT_FINISHES(&w1);
        H_ASSERT_FINISHES(&w2);
        H_ASSERT_FINISHES(&w3);
        ck_assert_status(w1.status, NPIPE_OK);
        ck_assert_status(w2.status, NPIPE_OK);
        ck_assert_status(w3.status, NPIPE_OK);
        /* success reserved nothing: only one of the waiters gets in */
        npipe_t *c1 = NULL, *c2 = NULL;
        ck_assert_ok(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c1));
        ck_assert_status(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &c2), NPIPE_EBUSY);
        npipe_close(c1);
        npipe_close(s);
}
END_TEST

START_TEST(test_default_timeout_50ms)
{
        /* covers: WAIT-07 CREATE-05 */
        H_NAME(name, "default50");
        npipe_t *s, *c;
        busy_pipe(name, 0, &s, &c); /* 0 means 50 ms */
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_wait(name, NPIPE_WAIT_DEFAULT), NPIPE_ETIMEDOUT);
        int64_t dt = h_now_ms() - t0;
        ck_assert_msg(dt >= 40, "default wait returned after %lld ms, expected ~50", (long long)dt);
        ck_assert_msg(dt < 2000, "default wait took %lld ms, expected ~50", (long long)dt);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_default_timeout_first_instance)
{
        /* covers: WAIT-07 INST-04 */
        /* the pipe's default timeout is the first instance's */
        H_NAME(name, "deffirst");
        npipe_t *s, *c;
        busy_pipe(name, 0, &s, &c);
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, 0);
        o.max_instances = 4;
        o.default_timeout_ms = 5000;
        npipe_t *s2 = h_create(name, &o);
        npipe_t *c2 = h_client(name, NPIPE_READ | NPIPE_WRITE);
        int64_t t0 = h_now_ms();
        ck_assert_status(npipe_wait(name, NPIPE_WAIT_DEFAULT), NPIPE_ETIMEDOUT);
        int64_t dt = h_now_ms() - t0;
        ck_assert_msg(dt >= 40 && dt < 2000, "default wait took %lld ms, expected ~50",
                      (long long)dt);
        npipe_close(c2);
        npipe_close(s2);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_wait_forever)
{
        /* covers: WAIT-07 */
        H_NAME(name, "forever");
        npipe_t *s, *c;
        busy_pipe(name, 0, &s, &c);
        struct h_op w;
        h_async_wait(&w, name, NPIPE_INFINITE);
        /* well past the default timeout and a 1 ms "nowait" */
        ck_assert(h_op_blocked(&w, 300));
        npipe_t *s2 = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        npipe_close(s2);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_wait_case_insensitive)
{
        /* covers: WAIT-11 */
        H_NAME(name, "CaseWait");
        char upper[256];
        strcpy(upper, name);
        for (char *p = upper; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 32);
        npipe_t *s, *c;
        busy_pipe(name, 0, &s, &c);
        struct h_op w;
        h_async_wait(&w, upper, H_TIMEOUT_MS);
        H_ASSERT_BLOCKED(&w);
        npipe_t *s2 = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        H_ASSERT_FINISHES(&w);
        ck_assert_status(w.status, NPIPE_OK);
        npipe_close(s2);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_bad_names)
{
        /* covers: NAME-13 */
        /* malformed: ERROR_BAD_PATHNAME (ReactOS) / PATH_NOT_FOUND (Wine) */
        ck_assert_status2(npipe_wait("not a pipe path", 0), NPIPE_EBADPATH, NPIPE_ENOPATH);
        ck_assert_status(npipe_wait(NULL, 0), NPIPE_ENOPATH);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("wait");
        TCase *tc = h_tcase("wait", 60);
        tcase_add_test(tc, test_not_found_at_once);
        tcase_add_test(tc, test_listening_at_once);
        tcase_add_test(tc, test_busy_times_out);
        tcase_add_test(tc, test_released_by_new_instance);
        tcase_add_test(tc, test_released_by_relisten);
        tcase_add_test(tc, test_all_released_nothing_reserved);
        tcase_add_test(tc, test_default_timeout_50ms);
        tcase_add_test(tc, test_default_timeout_first_instance);
        tcase_add_test(tc, test_wait_forever);
        tcase_add_test(tc, test_wait_case_insensitive);
        tcase_add_test(tc, test_bad_names);
        suite_add_tcase(s, tc);
        return h_run(s);
}
