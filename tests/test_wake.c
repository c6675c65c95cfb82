/*
 * test_wake.c - the wake protocol and the async engine, under threads only.
 *
 * Both ends live in this process and every actor is a thread, so the whole
 * data path -- ring, sleeper counts, consumed-bytes marks, FUTEX waits and
 * wakes, the FIFO reader queue, the completion engine -- runs under
 * ThreadSanitizer (CI runs this suite with TSan, which cannot follow a fork
 * after threads exist).  Small quotas make writers wait for the consumer;
 * messages larger than the ring make both sides stream.
 */
#include "harness.h"
#include "client/async.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define N_MSG 4000

static size_t msg_size(unsigned i)
{
        /* mostly small, sometimes empty, now and then larger than a ring */
        if (i % 97 == 0)
                return 0;
        if (i % 501 == 0)
                return 300000 + i;
        return 1 + (i * 37) % 3000;
}

struct stream {
        npipe_t *w, *r;
        unsigned seed;
        int status;
        char why[160];
};

static void *writer(void *arg)
{
        struct stream *s = arg;
        uint8_t *buf = malloc(310000 + N_MSG);
        for (unsigned i = 0; i < N_MSG && !s->status; i++) {
                size_t len = msg_size(i), n = 0;
                h_pattern(buf, len, s->seed + i);
                int r = npipe_write(s->w, buf, len, &n);
                if (r != 0 || n != len) {
                        snprintf(s->why, sizeof(s->why), "write %u: %s, %zu of %zu", i,
                                 npipe_err_name(r), n, len);
                        s->status = 1;
                }
        }
        free(buf);
        return NULL;
}

static void *reader(void *arg)
{
        struct stream *s = arg;
        uint8_t *buf = malloc(310000 + N_MSG);
        for (unsigned i = 0; i < N_MSG; i++) {
                size_t len = msg_size(i), n = 0;
                int r = npipe_read(s->r, buf, 310000 + N_MSG, &n);
                if (r != 0 || n != len || !h_pattern_ok(buf, n, s->seed + i)) {
                        snprintf(s->why, sizeof(s->why), "read %u: %s, %zu bytes, expected %zu",
                                 i, npipe_err_name(r), n, len);
                        s->status = 1;
                        break;
                }
        }
        free(buf);
        return NULL;
}

static void small_quota_pair(const char *name, npipe_t **s, npipe_t **c)
{
        struct npipe_server_opts o;
        h_opts(&o, NPIPE_TYPE_MESSAGE, NPIPE_READMODE_MESSAGE);
        o.in_quota = 1000;
        o.out_quota = 1500;
        *s = h_create(name, &o);
        *c = h_client(name, NPIPE_READ | NPIPE_WRITE);
        h_set_read_mode(*c, NPIPE_READ_MESSAGE);
}

START_TEST(test_stream_both_ways)
{
        /* covers: MSG-10 QUOTA-03 QUOTA-06 */
        H_NAME(name, "both");
        npipe_t *s, *c;
        small_quota_pair(name, &s, &c);
        struct stream up = {.w = c, .r = s, .seed = 1}, down = {.w = s, .r = c, .seed = 7};
        pthread_t t[4];
        pthread_create(&t[0], NULL, writer, &up);
        pthread_create(&t[1], NULL, reader, &up);
        pthread_create(&t[2], NULL, writer, &down);
        pthread_create(&t[3], NULL, reader, &down);
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        ck_assert_msg(up.status == 0, "client to server: %s", up.why);
        ck_assert_msg(down.status == 0, "server to client: %s", down.why);
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* Several readers on one end: every message arrives exactly once, whole. */
struct many {
        npipe_t *r;
        int timeout_ms; /* 0: block */
        _Atomic unsigned timeouts;
        _Atomic unsigned got;
        _Atomic unsigned seen[N_MSG];
        _Atomic int bad;
};

static void *many_reader(void *arg)
{
        struct many *m = arg;
        uint8_t *buf = malloc(64);
        unsigned last = 0;
        int any = 0;
        for (;;) {
                size_t n = 0;
                int r = m->timeout_ms ? npipe_read_timeout(m->r, buf, 64, &n, m->timeout_ms)
                                      : npipe_read(m->r, buf, 64, &n);
                if (r == NPIPE_EPIPE)
                        break;
                if (r == NPIPE_ETIMEDOUT && n == 0) {
                        atomic_fetch_add(&m->timeouts, 1);
                        continue;
                }
                unsigned idx;
                if (r != 0 || n != sizeof(idx) + 8) {
                        atomic_store(&m->bad, 1);
                        break;
                }
                memcpy(&idx, buf, sizeof(idx));
                /* one reader's turns come one after the other: what it
                 * reads comes later in the stream each time */
                if (idx >= N_MSG || !h_pattern_ok(buf + sizeof(idx), 8, idx) ||
                    (any && idx <= last)) {
                        atomic_store(&m->bad, 1);
                } else {
                        atomic_fetch_add(&m->seen[idx], 1);
                        last = idx;
                        any = 1;
                }
                atomic_fetch_add(&m->got, 1);
        }
        free(buf);
        return NULL;
}

/* `readers` threads read the server end of a new pipe (named after tag),
 * each with `timeout_ms` (0: blocking), and the writer sends N_MSG
 * messages from the client end, with a flush (the readers drain the pipe
 * and then find it empty) after every `burst` of them.  Returns how many
 * reads timed out. */
static unsigned many_run(const char *tag, int readers, unsigned burst, int timeout_ms)
{
        H_NAME(name, tag);
        npipe_t *s, *c;
        small_quota_pair(name, &s, &c);
        static struct many mm;
        struct many *m = &mm;
        memset(m, 0, sizeof(*m));
        m->timeout_ms = timeout_ms;
        m->r = s;
        pthread_t t[8];
        for (int i = 0; i < readers; i++)
                pthread_create(&t[i], NULL, many_reader, m);
        uint8_t msg[sizeof(unsigned) + 8];
        for (unsigned i = 0; i < N_MSG; i++) {
                size_t n;
                memcpy(msg, &i, sizeof(i));
                h_pattern(msg + sizeof(i), 8, i);
                ck_assert_status(npipe_write(c, msg, sizeof(msg), &n), NPIPE_OK);
                if (burst && i % burst == burst - 1) {
                        ck_assert_status(npipe_flush(c), NPIPE_OK);
                        /* the pipe is empty now: go on only once a reader
                         * gave up its wait (readers with a timeout), so
                         * that every burst begins with the queue in that
                         * state, however fast this machine is */
                        unsigned t0 = atomic_load(&m->timeouts);
                        while (m->timeout_ms && atomic_load(&m->timeouts) == t0)
                                sched_yield();
                }
        }
        ck_assert_status(npipe_flush(c), NPIPE_OK);
        npipe_close(c); /* the readers end with EPIPE */
        for (int i = 0; i < readers; i++)
                pthread_join(t[i], NULL);
        ck_assert_int_eq(atomic_load(&m->bad), 0);
        ck_assert_uint_eq(atomic_load(&m->got), N_MSG);
        for (unsigned i = 0; i < N_MSG; i++)
                ck_assert_uint_eq(atomic_load(&m->seen[i]), 1);
        npipe_close(s);
        return atomic_load(&m->timeouts);
}

START_TEST(test_many_readers)
{
        /* covers: ORDER-06 MSG-04 */
        many_run("many", 3, 0, 0);
}
END_TEST

START_TEST(test_many_readers_time_out)
{
        /* covers: ORDER-01 ORDER-06 */
        /* Readers that give up their place in the queue while others
         * enter and leave it: the turn passes from one to the next (the
         * single reader takes it without the lock, a waiter that timed
         * out leaves the queue, a turn left before the next one linked
         * itself is taken up), so every message is read exactly once and
         * no reader is stranded. */
        /* a timeout after each of the 80 bursts, at least */
        ck_assert_uint_ge(many_run("manyto", 6, 50, 1), N_MSG / 50);
}
END_TEST

/* The completion engine: reads pend and complete from its thread, writes
 * pend on quota, some are cancelled while they may be completing. */
struct acount {
        _Atomic unsigned done, cancelled, failed;
        _Atomic uint64_t bytes;
};

static void acb(void *ctx, int status, size_t bytes)
{
        struct acount *a = ctx;
        if (status == 0 || status == NPIPE_EMOREDATA)
                atomic_fetch_add(&a->bytes, bytes);
        else if (status == NPIPE_ECANCELED)
                atomic_fetch_add(&a->cancelled, 1);
        else
                atomic_fetch_add(&a->failed, 1);
        atomic_fetch_add(&a->done, 1);
}

START_TEST(test_async_engine)
{
        /* covers: OVL-01 OVL-03 CANCEL-01 ORDER-01 */
        H_NAME(name, "async");
        npipe_t *s, *c;
        small_quota_pair(name, &s, &c);
        static struct acount rd[64], wr;
        static char bufs[64][32];
        memset(rd, 0, sizeof(rd));
        memset(&wr, 0, sizeof(wr));
        unsigned pending_reads = 0, immediate = 0;
        for (int round = 0; round < 40; round++) {
                /* 8 reads pend, then 8 messages arrive through pending writes */
                for (int i = 0; i < 8; i++) {
                        size_t n = 0;
                        int r = np_async_read(s, bufs[i], sizeof(bufs[i]), &n, acb, &rd[i]);
                        if (r == NP_ASYNC_PENDING) {
                                pending_reads++;
                        } else {
                                /* completed at once: no callback (async.h) */
                                immediate++;
                                acb(&rd[i], r, n);
                        }
                }
                static const char msg[20] = "0123456789abcdefghi";
                for (int i = 0; i < 8; i++) {
                        size_t n = 0;
                        int r = np_async_write(c, msg, sizeof(msg), &n, acb, &wr);
                        ck_assert_msg(r == 0 || r == NP_ASYNC_PENDING, "write: %s",
                                      npipe_err_name(r));
                        if (r == 0)
                                atomic_fetch_add(&wr.done, 1);
                }
                /* cancel one read now: it either completed already or is cancelled */
                int cr = np_async_cancel(s, &rd[7]);
                ck_assert_msg(cr == 0 || cr == NPIPE_ENOTFOUND, "cancel: %s", npipe_err_name(cr));
                /* every read completes (with data, or cancelled) and so does
                 * every write: wait for the counters, bounded */
                int64_t end = h_now_ms() + H_TIMEOUT_MS;
                for (;;) {
                        unsigned d = 0;
                        for (int i = 0; i < 8; i++)
                                d += atomic_load(&rd[i].done);
                        if (d == (unsigned)(round + 1) * 8 &&
                            atomic_load(&wr.done) == (unsigned)(round + 1) * 8)
                                break;
                        ck_assert_msg(h_now_ms() < end, "round %d: %u of %u reads, %u writes",
                                      round, d, (round + 1) * 8, atomic_load(&wr.done));
                        h_pause();
                }
        }
        unsigned failed = 0;
        for (int i = 0; i < 8; i++)
                failed += atomic_load(&rd[i].failed);
        ck_assert_uint_eq(failed, 0);
        ck_assert_uint_eq(atomic_load(&wr.failed), 0);
        ck_assert_uint_gt(pending_reads, 0);
        (void)immediate;
        npipe_close(c);
        npipe_close(s);
}
END_TEST

/* A close while a thread is blocked in a read on the same handle ends the
 * read, and a writer blocked on quota learns that its reader went away. */
struct blocked {
        npipe_t *h;
        int status;
        _Atomic int returned;
};

static void *blocked_read(void *arg)
{
        struct blocked *b = arg;
        char buf[8];
        size_t n;
        b->status = npipe_read(b->h, buf, sizeof(buf), &n);
        atomic_store(&b->returned, 1);
        return NULL;
}

static void *blocked_write(void *arg)
{
        struct blocked *b = arg;
        static char big[5000];
        size_t n;
        b->status = npipe_write(b->h, big, sizeof(big), &n);
        atomic_store(&b->returned, 1);
        return NULL;
}

START_TEST(test_close_wakes)
{
        /* covers: CLOSE-06 CLOSE-07 CONNECT-14 */
        H_NAME(name, "closewakes");
        npipe_t *s, *c;
        small_quota_pair(name, &s, &c);
        struct blocked rb = {.h = c}, wb = {.h = s};
        pthread_t tr, tw;
        pthread_create(&tr, NULL, blocked_read, &rb);
        pthread_create(&tw, NULL, blocked_write, &wb);
        /* the write (5000 > quota 1500) delivers to the blocked read, whose
         * 8-byte buffer takes a piece; the rest waits for quota */
        pthread_join(tr, NULL);
        ck_assert_status(rb.status, NPIPE_EMOREDATA);
        ck_assert_int_eq(atomic_load(&wb.returned), 0);
        npipe_close(c); /* the writer's reader is gone */
        pthread_join(tw, NULL);
        ck_assert_status(wb.status, NPIPE_EPIPE);
        npipe_close(s);
}
END_TEST

int main(void)
{
        Suite *su = suite_create("wake");
        TCase *tc = h_tcase("wake", 240);
        tcase_add_test(tc, test_stream_both_ways);
        tcase_add_test(tc, test_many_readers);
        tcase_add_test(tc, test_many_readers_time_out);
        tcase_add_test(tc, test_async_engine);
        tcase_add_test(tc, test_close_wakes);
        suite_add_tcase(su, tc);
        return h_run(su);
}
