/*
 * fuzz_name.c - libFuzzer harness for pipe-name parsing.
 *
 * np_name_parse() sees every name an application passes in; it must stay
 * inside the string and return a bare name that lies within it, has no NUL
 * and is valid input to the protocol (1..NP_NAME_MAX bytes).
 * np_name_canonical() writes into a caller's buffer of any size: it must
 * never write past it, and what it produces must parse back to the same
 * name.  The input is the string (up to its first NUL); its first byte
 * also picks the size of the output buffer, exactly allocated.
 *
 * covers: issue 4 item 2 (the pipe name parser), NAME-01 NAME-03 NAME-12
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/name.h"
#include "npipe/npipe.h"
#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), *out, *folded;
        const char *bare = NULL;
        size_t blen = 0, olen;
        int r;

        if (s == NULL)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';

        r = np_name_parse(s, &bare, &blen);
        if (r == 0) {
                if (bare < s || bare + blen > s + strlen(s) || blen == 0 || blen > NP_NAME_MAX ||
                    memchr(bare, 0, blen) != NULL)
                        abort();
                folded = malloc(blen);
                if (folded == NULL)
                        abort();
                np_name_fold(bare, blen, folded);
                for (size_t i = 0; i < blen; i++)
                        if ((folded[i] >= 'a' && folded[i] <= 'z') ||
                            ((unsigned char)bare[i] >= 0x80 && folded[i] != bare[i]))
                                abort();
                free(folded);
        } else if (r != NPIPE_EBADNAME && r != NPIPE_ENAMETOOLONG && r != NPIPE_ENOPATH &&
                   r != NPIPE_EBADPATH) {
                abort();
        }

        /* Output buffers from 0 bytes to comfortably large. */
        olen = size == 0 ? 0 : (data[0] % 4 == 0 ? (size_t)data[0] : size + 16 + data[0] % 8);
        out = malloc(olen ? olen : 1);
        if (out == NULL)
                abort();
        r = np_name_canonical(s, olen ? out : out, olen);
        if (r == 0) {
                const char *b2;
                size_t l2;

                if (olen == 0 || memchr(out, 0, olen) == NULL)
                        abort(); /* a success is a terminated string in the buffer */
                if (np_name_parse(out, &b2, &l2) != 0)
                        abort(); /* canonical output must parse */
        }
        free(out);
        free(s);
        return 0;
}
