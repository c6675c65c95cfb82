/*
 * msgio.c - whole messages in and bytes out.
 *
 * A message pipe's read returns NPIPE_EMOREDATA when the message does not
 * fit the buffer and keeps the rest queued (MSG-02).  The subcommands want
 * whole messages (one message = one line of output, one echo, one
 * length-prefixed record), so reads grow the buffer and continue until
 * the message is complete, instead of guessing a size up front.
 */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* First read size: most messages are small; big ones double from here. */
#define CLI_BUF_START 4096

void cli_buf_free(struct cli_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

bool cli_buf_reserve(struct cli_buf *b, size_t more)
{
        size_t want, cap;
        char *p;

        if (more > SIZE_MAX - b->len)
                return false;
        want = b->len + more;
        if (want <= b->cap)
                return true;
        cap = b->cap ? b->cap : CLI_BUF_START;
        while (cap < want)
                cap = cap > SIZE_MAX / 2 ? want : cap * 2;
        p = realloc(b->data, cap);
        if (p == NULL)
                return false;
        b->data = p;
        b->cap = cap;
        return true;
}

int cli_read_message(npipe_t *h, struct cli_buf *b, int timeout_ms)
{
        b->len = 0;
        for (;;) {
                size_t got = 0;
                int r;

                /* full (at the start, or after "more data"): double */
                if (b->len == b->cap && !cli_buf_reserve(b, b->cap ? b->cap : CLI_BUF_START))
                        return NPIPE_ENOMEM;
                r = npipe_read_timeout(h, b->data + b->len, b->cap - b->len, &got, timeout_ms);
                b->len += got;
                if (r != NPIPE_EMOREDATA)
                        return r;
        }
}

int cli_write_fd(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int cli_separator_opt(const char *cmd, struct cli_out *o, const char *arg, char *store,
                      size_t store_len)
{
        long n = cli_unescape(arg, store, store_len);

        if (n < 0)
                return cli_usage_error(cmd, "--separator: bad escape in '%s'", arg);
        o->sep = store;
        o->sep_len = (size_t)n;
        return 0;
}

/* serve --print writes from one thread per instance: a record must never be
 * split by another thread's. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

int cli_out_message(const struct cli_out *o, FILE *f, const void *data, size_t len)
{
        int r = 0;

        pthread_mutex_lock(&out_lock);
        if (o->length_prefix && !o->raw) {
                /* messages are at most 1 GiB (NP_MSG_MAX): a u32 always holds it */
                unsigned char le[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                                       (unsigned char)(len >> 16), (unsigned char)(len >> 24)};

                if (fwrite(le, 1, 4, f) != 4)
                        r = -1;
        }
        if (r == 0 && len > 0 && fwrite(data, 1, len, f) != len)
                r = -1;
        if (r == 0 && !o->length_prefix && !o->raw && o->sep_len > 0 &&
            fwrite(o->sep, 1, o->sep_len, f) != o->sep_len)
                r = -1;
        if (fflush(f) != 0)
                r = -1;
        pthread_mutex_unlock(&out_lock);
        return r;
}
