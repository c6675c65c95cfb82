/*
 * test_race.c - closes racing every kind of call on the same end, from
 * several threads (issue 12): blocking reads, writes over the quota,
 * transactions, flushes and mode and information calls, on both ends of
 * one connection in one process, while another thread closes one end.
 * Every call returns (with its result or an error of the closed handle
 * or broken pipe), nothing hangs, and ASan (CI) sees no access to freed
 * memory.  The lock-order checker of debug builds watches every lock.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum { THREADS = 6, ROUNDS = 40 };

struct racer {
        npipe_t *h;
        int kind;
        _Atomic int *stop;
        _Atomic int started;
        int bad; /* a status no racing close explains */
};

/* What a call on an end whose handle (or peer) is being closed may say. */
static int explained(int r)
{
        switch (r) {
        case NPIPE_OK:
        case NPIPE_EBADF:       /* our handle closed */
        case NPIPE_EPIPE:       /* the peer closed */
        case NPIPE_ECLOSING:    /* the peer closed, data gone */
        case NPIPE_ENOTCONN:    /* disconnected */
        case NPIPE_ETIMEDOUT:   /* the bounded waits of the loop */
        case NPIPE_EMOREDATA:   /* a long message read in part */
        case NPIPE_EBUSY:       /* a transaction with data or a read pending */
        case NPIPE_EBADPIPE:    /* a transaction on a closing pipe */
        case NPIPE_EAGAIN:
                return 1;
        default:
                return 0;
        }
}

static void *race(void *arg)
{
        struct racer *r = arg;
        static char big[8192];
        char buf[256];
        size_t n;
        atomic_store(&r->started, 1);
        while (!atomic_load(r->stop)) {
                int s;
                switch (r->kind) {
                case 0:
                        s = npipe_read_timeout(r->h, buf, sizeof(buf), &n, 5);
                        break;
                case 1:
                        s = npipe_write_timeout(r->h, big, sizeof(big), &n, 5);
                        break;
                case 2:
                        s = npipe_transact(r->h, "q", 1, buf, sizeof(buf), &n);
                        break;
                case 3: {
                        struct npipe_info info;
                        s = npipe_get_info(r->h, &info);
                        break;
                }
                case 4: {
                        struct npipe_peek pk;
                        s = npipe_peek(r->h, buf, sizeof(buf), &pk);
                        break;
                }
                default:
                        s = npipe_write_timeout(r->h, "m", 1, &n, 5);
                        break;
                }
                if (!explained(s)) {
                        r->bad = s;
                        break;
                }
                if (s == NPIPE_EBADF)
                        break; /* gone for good */
        }
        return NULL;
}

START_TEST(test_close_races_calls)
{
        /* covers: CLOSE-06 (the survivor's blocked calls end when the peer
         * closes), and issue 12 (calls racing their own handle's close) */
        for (int round = 0; round < ROUNDS; round++) {
                H_NAME(name, "race");
                npipe_t *s, *c;
                struct npipe_server_opts o;
                h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
                o.in_quota = o.out_quota = 1024;
                s = h_create(name, &o);
                ck_assert_ok(npipe_open(name, NPIPE_READ | NPIPE_WRITE, 1000, &c));
                enum npipe_read_mode m = NPIPE_READ_MESSAGE;
                ck_assert_ok(npipe_set_mode(c, &m, NULL));
                _Atomic int stop = 0;
                struct racer rs[2 * THREADS];
                pthread_t t[2 * THREADS];
                for (int i = 0; i < 2 * THREADS; i++) {
                        rs[i] = (struct racer){.h = i < THREADS ? s : c, .kind = i % THREADS,
                                               .stop = &stop};
                        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &rs[i]), 0);
                }
                for (int i = 0; i < 2 * THREADS; i++)
                        while (!atomic_load(&rs[i].started))
                                h_pause();
                /* one end closes under the calls; the other side's calls see
                 * the peer go; then the other end closes too */
                npipe_t *first = round % 2 ? s : c, *second = round % 2 ? c : s;
                ck_assert_ok(npipe_close(first));
                ck_assert_ok(npipe_close(second));
                atomic_store(&stop, 1);
                for (int i = 0; i < 2 * THREADS; i++) {
                        pthread_join(t[i], NULL);
                        ck_assert_msg(rs[i].bad == 0, "round %d kind %d: %s", round, rs[i].kind,
                                      npipe_err_name(rs[i].bad));
                }
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("race");
        TCase *tc = h_tcase("race", 120);
        tcase_add_test(tc, test_close_races_calls);
        suite_add_tcase(s, tc);
        return h_run(s);
}
