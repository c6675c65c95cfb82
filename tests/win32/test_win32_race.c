/*
 * test_win32_race.c - overlapped reads, writes and transactions from
 * several threads on both ends of one pipe, racing CancelIoEx and
 * CloseHandle (issue 12: the stress test of close and cancel against the
 * completion engine).  Every operation ends, with its result or an error
 * a cancel or a close explains; nothing hangs; ASan (CI) sees no access to
 * freed memory and TSan (this test is in the wake suite) no data race.
 */
#include "w_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The Win32 error of a completed OVERLAPPED's NTSTATUS, for the statuses
 * this race can produce; anything else stays the raw status (and fails). */
static DWORD ov_error(const OVERLAPPED *ov)
{
        switch ((DWORD)ov->Internal) {
        case 0x00000000u: return ERROR_SUCCESS;
        case 0x80000005u: return ERROR_MORE_DATA;          /* STATUS_BUFFER_OVERFLOW */
        case 0xC0000120u: return ERROR_OPERATION_ABORTED;  /* STATUS_CANCELLED */
        case 0xC000014Bu: return ERROR_BROKEN_PIPE;        /* STATUS_PIPE_BROKEN */
        case 0xC00000B1u: return ERROR_NO_DATA;            /* STATUS_PIPE_CLOSING */
        case 0xC00000B0u: return ERROR_PIPE_NOT_CONNECTED; /* STATUS_PIPE_DISCONNECTED */
        case 0xC0000008u: return ERROR_INVALID_HANDLE;     /* STATUS_INVALID_HANDLE */
        case 0xC00000AEu: return ERROR_PIPE_BUSY;          /* STATUS_PIPE_BUSY */
        case 0xC00000ADu: return ERROR_BAD_PIPE;           /* STATUS_INVALID_PIPE_STATE */
        default: return (DWORD)ov->Internal;
        }
}

enum { THREADS = 4, ROUNDS = 24 };

struct racer {
        HANDLE h;
        int kind;
        unsigned seed;
        _Atomic int started;
        _Atomic DWORD bad; /* an error nothing in this race explains */
        _Atomic int ops;
};

/* What an overlapped operation on an end whose handle (or peer) is being
 * cancelled or closed may end with. */
static int explained(DWORD err)
{
        switch (err) {
        case ERROR_SUCCESS:
        case ERROR_OPERATION_ABORTED: /* CancelIoEx, or our CloseHandle */
        case ERROR_INVALID_HANDLE:    /* our handle closed */
        case ERROR_BROKEN_PIPE:       /* the peer closed */
        case ERROR_NO_DATA:           /* writing to a closing pipe */
        case ERROR_PIPE_NOT_CONNECTED:
        case ERROR_MORE_DATA:  /* a long message read in part */
        case ERROR_PIPE_BUSY:  /* a transaction with data or a read pending */
        case ERROR_BAD_PIPE:   /* a transaction on a closing pipe */
        case ERROR_NOT_FOUND:  /* CancelIoEx after the operation completed */
                return 1;
        default:
                return 0;
        }
}

/* Start one operation of kind k; 0 if it ended at once (err set). */
static int start(struct racer *r, int k, OVERLAPPED *ov, char *buf, DWORD len, DWORD *err)
{
        static const char big[4096];
        DWORD n = 0;
        BOOL ok;
        switch (k) {
        case 0:
                ok = ReadFile(r->h, buf, len, &n, ov);
                break;
        case 1:
                ok = WriteFile(r->h, "m", 1, &n, ov);
                break;
        case 2:
                ok = WriteFile(r->h, big, sizeof big, &n, ov);
                break;
        default:
                ok = TransactNamedPipe(r->h, (void *)"q", 1, buf, len, &n, ov);
                break;
        }
        *err = ok ? ERROR_SUCCESS : GetLastError();
        return *err == ERROR_IO_PENDING;
}

static void *race(void *arg)
{
        struct racer *r = arg;
        HANDLE ev = CreateEventA(NULL, TRUE, FALSE, NULL);
        char buf[256];
        atomic_store(&r->started, 1);
        for (;;) {
                OVERLAPPED ov;
                DWORD err;
                w_ov(&ov, ev);
                ResetEvent(ev);
                int k = r->kind == 4 ? (int)(rand_r(&r->seed) % 4) : r->kind;
                int pending = start(r, k, &ov, buf, sizeof buf, &err);
                if (pending) {
                        /* let it run a moment, or cancel it at once */
                        if (rand_r(&r->seed) % 2)
                                WaitForSingleObject(ev, 1);
                        if (!CancelIoEx(r->h, &ov) && !explained(GetLastError())) {
                                r->bad = GetLastError();
                                break;
                        }
                        /* it ends whatever happened to the handle: the
                         * OVERLAPPED is ours again only then */
                        ck_assert_uint_eq(WaitForSingleObject(ev, W_LONG), WAIT_OBJECT_0);
                        err = ov_error(&ov);
                }
                atomic_fetch_add(&r->ops, 1);
                if (!explained(err)) {
                        r->bad = err;
                        break;
                }
                if (err == ERROR_INVALID_HANDLE)
                        break; /* gone for good */
        }
        CloseHandle(ev);
        return NULL;
}

/* covers: CANCEL-01 CANCEL-02 CLOSE-06 CLOSE-13 */
START_TEST(cancel_and_close_race_overlapped_calls)
{
        long total = 0;
        for (int round = 0; round < ROUNDS; round++) {
                HANDLE srv, cli;
                w_pair(PIPE_TYPE_MESSAGE, FILE_FLAG_OVERLAPPED, FILE_FLAG_OVERLAPPED, 1024, &srv,
                       &cli);
                DWORD mode = PIPE_READMODE_MESSAGE;
                WT_OK(SetNamedPipeHandleState(cli, &mode, NULL, NULL));
                struct racer rs[2 * THREADS];
                pthread_t t[2 * THREADS];
                for (int i = 0; i < 2 * THREADS; i++) {
                        rs[i] = (struct racer){.h = i < THREADS ? srv : cli,
                                               .kind = i % (THREADS + 1),
                                               .seed = (unsigned)(round * 131 + i)};
                        if (i % THREADS == THREADS - 1)
                                rs[i].kind = 4; /* a mix */
                        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &rs[i]), 0);
                }
                /* every thread has been through some operations (and
                                 * cancels), so the close meets them in all states */
                for (int i = 0; i < 2 * THREADS; i++)
                        while (atomic_load(&rs[i].ops) < 16 && !atomic_load(&rs[i].bad))
                                h_pause();
                /* one end closes under the calls, then the other */
                HANDLE first = round % 2 ? srv : cli, second = round % 2 ? cli : srv;
                WT_OK(CloseHandle(first));
                WT_OK(CloseHandle(second));
                for (int i = 0; i < 2 * THREADS; i++) {
                        pthread_join(t[i], NULL);
                        total += rs[i].ops;
                        ck_assert_msg(atomic_load(&rs[i].bad) == 0, "round %d thread %d kind %d: error %lu",
                                      round, i, rs[i].kind, (unsigned long)atomic_load(&rs[i].bad));
                }
        }
        fprintf(stderr, "# %ld overlapped operations in %d rounds\n", total, ROUNDS);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("win32-race");
        TCase *tc = h_tcase("race", 240);
        tcase_add_test(tc, cancel_and_close_race_overlapped_calls);
        suite_add_tcase(s, tc);
        return h_run(s);
}
