/*
 * fuzz_name.c - libFuzzer harness for pipe-name parsing and the canonical
 * name rules.
 *
 * np_name_parse() sees every name an application passes in; it must stay
 * inside the string and return a bare name that lies within it, has no NUL
 * and is valid input to the protocol (1..NP_NAME_MAX bytes).
 * np_name_canonical() writes into a caller's buffer of any size: it must
 * never write past it, and what it produces must parse back to the same
 * name.  For these the input is the string (up to its first NUL); its
 * first byte also picks the size of the output buffer, exactly allocated.
 *
 * np_name_check(), np_name_key() and np_name_smb() get the raw bytes, NULs
 * included (issue 15: the broker maps names it receives to files in a
 * root-owned directory).  Properties:
 *   - check fails: with EBADNAME or ENAMETOOLONG only; np_name_parse of
 *     the same bytes fails too (one validator); for EBADNAME neither a key
 *     nor a socket name comes out.
 *   - check passes: the key is 1..NP_NAME_KEY_MAX bytes, itself a valid
 *     name, and its own key (idempotent); the socket name has no '/' and
 *     no NUL, is not "." or "..", is valid UTF-8, is its own socket name,
 *     and is refused only for '/', "." or ".." (or, with a small buffer,
 *     for want of room).
 * Output buffers are allocated to their exact size so that AddressSanitizer
 * catches any write past NP_NAME_KEY_MAX or cap.
 *
 * covers: issue 4 item 2 (the pipe name parser), issue 15 (names),
 * NAME-01 NAME-02 NAME-03 NAME-12
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/name.h"
#include "npipe/npipe.h"
#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (p == NULL)
                abort();
        return p;
}

static int parse_bytes(const uint8_t *data, size_t size)
{
        static const char prefix[] = "\\\\.\\pipe\\";
        char *path = xmalloc(sizeof prefix + size);
        const char *bare;
        size_t blen;
        int r;

        memcpy(path, prefix, sizeof prefix - 1);
        memcpy(path + sizeof prefix - 1, data, size);
        path[sizeof prefix - 1 + size] = '\0';
        r = np_name_parse(path, &bare, &blen);
        if (r == 0 && (blen != size || memcmp(bare, data, size) != 0))
                abort(); /* the bare name is the input, unchanged */
        free(path);
        return r;
}

static void check_rules(const uint8_t *data, size_t size)
{
        const char *name = (const char *)data;
        /* room for any checked name's socket name and its NUL */
        const size_t big = NP_NAME_KEY_MAX + 1;
        size_t small = size > 1 ? (size_t)data[1] * 3 % big : 0;
        char *key = xmalloc(NP_NAME_KEY_MAX), *key2 = xmalloc(NP_NAME_KEY_MAX);
        char *smb = xmalloc(big), *smb2 = xmalloc(big), *smbs = xmalloc(small);
        size_t kl, sl, sl2;
        int r = np_name_check(name, size);

        if (r != 0) {
                if (r != NPIPE_EBADNAME && r != NPIPE_ENAMETOOLONG)
                        abort();
                /* the library refuses what the broker refuses */
                if (memchr(data, 0, size) == NULL && parse_bytes(data, size) == 0)
                        abort();
                /* the defensive paths never write out of bounds and give
                 * nothing for bytes that are not a name */
                kl = np_name_key(name, size, key);
                sl = np_name_smb(name, size, smb, big);
                if (r == NPIPE_EBADNAME && (kl != 0 || sl != 0))
                        abort();
                goto out;
        }

        if (memchr(data, 0, size) != NULL || parse_bytes(data, size) != 0)
                abort();

        /* the key: short, a name itself, its own key */
        kl = np_name_key(name, size, key);
        if (kl == 0 || kl > NP_NAME_KEY_MAX || np_name_check(key, kl) != 0)
                abort();
        if (np_name_key(key, kl, key2) != kl || memcmp(key, key2, kl) != 0)
                abort();

        /* the socket name */
        sl = np_name_smb(name, size, smb, big);
        int special = memchr(data, '/', size) != NULL || (size == 1 && data[0] == '.') ||
                      (size == 2 && data[0] == '.' && data[1] == '.');
        if ((sl == 0) != special)
                abort();
        if (sl != 0) {
                if (sl >= big || smb[sl] != '\0' || strlen(smb) != sl ||
                    memchr(smb, '/', sl) != NULL || strcmp(smb, ".") == 0 ||
                    strcmp(smb, "..") == 0 || np_name_check(smb, sl) != 0)
                        abort();
                sl2 = np_name_smb(smb, sl, smb2, big);
                if (sl2 != sl || memcmp(smb, smb2, sl) != 0)
                        abort(); /* lower-casing twice changes nothing */
                /* a smaller buffer: the same name, or none for want of room */
                sl2 = np_name_smb(name, size, smbs, small);
                if (sl2 != 0 && (sl2 != sl || memcmp(smbs, smb, sl + 1) != 0))
                        abort();
                if (sl2 == 0 && sl + 1 <= small)
                        abort();
        }
out:
        free(key);
        free(key2);
        free(smb);
        free(smb2);
        free(smbs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xmalloc(size + 1), *out, *folded;
        const char *bare = NULL;
        size_t blen = 0, olen;
        int r;

        check_rules(data, size);

        memcpy(s, data, size);
        s[size] = '\0';

        r = np_name_parse(s, &bare, &blen);
        if (r == 0) {
                if (bare < s || bare + blen > s + strlen(s) || blen == 0 || blen > NP_NAME_MAX ||
                    memchr(bare, 0, blen) != NULL)
                        abort();
                if (np_name_check(bare, blen) != 0)
                        abort();
                folded = xmalloc(blen);
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
        out = xmalloc(olen);
        r = np_name_canonical(s, out, olen);
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
