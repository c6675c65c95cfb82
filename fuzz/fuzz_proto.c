/*
 * fuzz_proto.c - libFuzzer harness for the control-protocol decoder.
 *
 * np_proto_check() is what the broker runs on every packet any local
 * process sends it, and the library on every packet the broker sends; it
 * must never read outside the packet, whatever its bytes and length.  The
 * input is the packet itself, handed over in a buffer of exactly its size
 * (ASan then flags a read one byte past the end) and again at an odd
 * address (UBSan flags an unaligned load).  On success the name it
 * returns must lie inside the packet and obey the name rules.
 *
 * covers: issue 4 item 2 (the broker protocol decoder)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npipe/npipe.h"
#include "proto/proto.h"

static void check_one(const unsigned char *pkt, size_t n)
{
        const char *name = (const char *)1;
        uint32_t nl = 7;
        int r = np_proto_check(pkt, n, &name, &nl);

        if (r == 0) {
                struct np_hdr h;

                memcpy(&h, pkt, sizeof h);
                if (h.len != n || np_proto_body_size(h.type) < 0)
                        abort();
                if (name != NULL) {
                        if (name < (const char *)pkt || name + nl != (const char *)pkt + n ||
                            nl == 0 || nl > NP_NAME_MAX || memchr(name, 0, nl) != NULL)
                                abort();
                } else if (nl != 0) {
                        abort();
                }
        } else if (r != NPIPE_EPROTO && r != NPIPE_EBADNAME && r != NPIPE_ENAMETOOLONG) {
                abort();
        } else if (name != NULL || nl != 0) {
                abort(); /* outputs are cleared on failure */
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned char *exact = malloc(size ? size : 1), *odd = malloc(size + 1);

        if (exact == NULL || odd == NULL)
                abort();
        memcpy(exact, data, size);
        check_one(exact, size);
        memcpy(odd + 1, data, size);
        check_one(odd + 1, size);
        if (size >= 2) {
                uint16_t t;

                memcpy(&t, data, 2);
                (void)np_proto_body_size(t);
        }
        free(exact);
        free(odd);
        return 0;
}
