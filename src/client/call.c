/*
 * call.c - CallNamedPipe: open, transact, close in one call.  It sits on top
 * of the rest of the client (open.c, info.c, io.c, lifecycle.c), which
 * never calls it.
 */
#include "client/internal.h"
#include <npipe/npipe.h>

NPIPE_EXTERN int npipe_call(const char *name, const void *in, size_t in_len, void *out,
                            size_t out_len, size_t *nread, int timeout_ms)
{
        npipe_t *h;
        int r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &h);
        if (r == NPIPE_EBUSY) {
                /* TRANS-15: wait once, retry once */
                r = npipe_wait(name, timeout_ms);
                if (r == 0)
                        r = npipe_open(name, NPIPE_READ | NPIPE_WRITE, 0, &h);
        }
        if (r < 0)
                return r;
        enum npipe_read_mode m = NPIPE_READ_MESSAGE;
        r = npipe_set_mode(h, &m, NULL);
        if (r == 0)
                r = npipe_transact(h, in, in_len, out, out_len, nread);
        npipe_close(h);
        return r;
}
