/*
 * test_handle.c - native handle values (issue 12): a value that names no
 * open handle - closed, its slot reused by a new handle, or never one -
 * gets NPIPE_EBADF and touches no memory, also while another thread
 * closes the handle.  Run under ASan in CI: the old pointer handles read
 * freed memory here.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Every call that takes a handle, on a value that is not one. */
static void all_refuse(npipe_t *h)
{
        char buf[8];
        size_t n = 99;
        struct npipe_info info;
        struct npipe_peek pk;
        enum npipe_read_mode m = NPIPE_READ_BYTE;
        int nowait;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        ck_assert_int_eq(npipe_read(h, buf, sizeof(buf), &n), NPIPE_EBADF);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(npipe_read_timeout(h, buf, sizeof(buf), &n, 0), NPIPE_EBADF);
        ck_assert_int_eq(npipe_write(h, "x", 1, &n), NPIPE_EBADF);
        ck_assert_int_eq(npipe_write_timeout(h, "x", 1, &n, 0), NPIPE_EBADF);
        ck_assert_int_eq(npipe_peek(h, buf, sizeof(buf), &pk), NPIPE_EBADF);
        ck_assert_int_eq(npipe_transact(h, "x", 1, buf, sizeof(buf), &n), NPIPE_EBADF);
        ck_assert_int_eq(npipe_flush(h), NPIPE_EBADF);
        ck_assert_int_eq(npipe_listen(h, 0), NPIPE_EBADF);
        ck_assert_int_eq(npipe_disconnect(h), NPIPE_EBADF);
        ck_assert_int_eq(npipe_get_mode(h, &m, &nowait), NPIPE_EBADF);
        ck_assert_int_eq(npipe_set_mode(h, &m, NULL), NPIPE_EBADF);
        ck_assert_int_eq(npipe_get_info(h, &info), NPIPE_EBADF);
        ck_assert_int_eq(npipe_client_pid(h, &pid), NPIPE_EBADF);
        ck_assert_int_eq(npipe_server_pid(h, &pid), NPIPE_EBADF);
        ck_assert_int_eq(npipe_peer_cred(h, &uid, &gid), NPIPE_EBADF);
        ck_assert_ptr_null(npipe_name(h));
        ck_assert_int_eq(npipe_close(h), NPIPE_EBADF);
}

START_TEST(test_closed_handle)
{
        H_NAME(name, "stale");
        npipe_t *s, *c;
        h_pair(name, NPIPE_TYPE_MESSAGE, 0, 1, &s, &c);
        ck_assert_ok(npipe_close(c));
        all_refuse(c);
        ck_assert_ok(npipe_close(s));
        all_refuse(s);
}
END_TEST

/* The slot of a closed handle goes to the next new one: the old value
 * still names nothing, and a close through it leaves the new handle be. */
START_TEST(test_reused_slot)
{
        H_NAME(name, "reuse");
        npipe_t *old = h_server(name, NPIPE_TYPE_MESSAGE, 0);
        ck_assert_ok(npipe_close(old));
        H_NAME(name2, "reuse2");
        npipe_t *s = h_server(name2, NPIPE_TYPE_MESSAGE, 0);
        ck_assert_ptr_ne(s, old);
        all_refuse(old);
        /* the new handle is untouched by all that */
        npipe_t *c = h_client(name2, NPIPE_READ | NPIPE_WRITE);
        size_t n;
        ck_assert_ok(npipe_write(c, "hello", 5, &n));
        char buf[8];
        ck_assert_ok(npipe_read(s, buf, sizeof(buf), &n));
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(npipe_name(s), name2 + strlen("\\\\.\\pipe\\"));
        /* many generations of one slot: none of the old values works */
        npipe_t *seen[64];
        for (int i = 0; i < 64; i++) {
                H_NAME(n3, "gen");
                seen[i] = h_server(n3, NPIPE_TYPE_BYTE, 0);
                ck_assert_ok(npipe_close(seen[i]));
                for (int j = 0; j <= i; j++)
                        ck_assert_int_eq(npipe_close(seen[j]), NPIPE_EBADF);
        }
        npipe_close(c);
        npipe_close(s);
}
END_TEST

START_TEST(test_never_a_handle)
{
        static int some_int;
        all_refuse(NULL);
        all_refuse((npipe_t *)(uintptr_t)1);
        all_refuse((npipe_t *)(void *)&some_int);
        all_refuse((npipe_t *)(uintptr_t)UINTPTR_MAX);
        all_refuse((npipe_t *)(uintptr_t)0xfffff); /* the last index, generation 0 */
}
END_TEST

struct racer {
        npipe_t *h;
        _Atomic int go, stop, calls, refused;
};

static void *race_calls(void *arg)
{
        struct racer *r = arg;
        atomic_store(&r->go, 1);
        while (!atomic_load(&r->stop)) {
                struct npipe_info info;
                int e = npipe_get_info(r->h, &info);
                if (e == NPIPE_EBADF) {
                        atomic_fetch_add(&r->refused, 1);
                        /* refused from then on */
                        ck_assert_int_eq(npipe_get_info(r->h, &info), NPIPE_EBADF);
                        break;
                }
                ck_assert_int_eq(e, 0);
                atomic_fetch_add(&r->calls, 1);
        }
        return NULL;
}

/* Calls racing a close: each either works or gets NPIPE_EBADF, and ASan
 * sees no read of freed memory. */
START_TEST(test_close_racing_calls)
{
        for (int round = 0; round < 50; round++) {
                H_NAME(name, "race");
                struct racer r = {0};
                r.h = h_server(name, NPIPE_TYPE_MESSAGE, 0);
                pthread_t t[3];
                for (int i = 0; i < 3; i++)
                        ck_assert_int_eq(pthread_create(&t[i], NULL, race_calls, &r), 0);
                while (!atomic_load(&r.go))
                        h_pause();
                ck_assert_ok(npipe_close(r.h));
                /* a new handle may take the slot at once */
                H_NAME(name2, "race2");
                npipe_t *s2 = h_server(name2, NPIPE_TYPE_MESSAGE, 0);
                for (int i = 0; i < 3; i++)
                        pthread_join(t[i], NULL);
                ck_assert_int_eq(atomic_load(&r.refused), 3);
                ck_assert_ok(npipe_close(s2));
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("handle");
        TCase *tc = h_tcase("handle", 60);
        tcase_add_test(tc, test_closed_handle);
        tcase_add_test(tc, test_reused_slot);
        tcase_add_test(tc, test_never_a_handle);
        tcase_add_test(tc, test_close_racing_calls);
        suite_add_tcase(s, tc);
        return h_run(s);
}
