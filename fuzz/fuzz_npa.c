/*
 * fuzz_npa.c - libFuzzer harness for the named_pipe_auth decoder
 * (remote/npa.c).
 *
 * np_npa_parse() reads what smbd sends on a pipe socket before any pipe
 * data: an NDR blob with nested pointers, counts and strings.  Whatever its
 * bytes, it must stay inside the blob, return 0, NPIPE_EPROTO or
 * NPIPE_ENOTSUP, leave the output all zero on failure, and on success fill
 * it with NUL-terminated strings and counts within their arrays.
 *
 * The input is decoded three ways: as it is, in a buffer of exactly its
 * size (ASan flags a read one byte past the end); at an odd address (UBSan
 * flags an unaligned load); and with its length word rewritten to match
 * its size, so mutations that break the length do not stop the fuzzer
 * from reaching the NDR walk behind it.  The seeds are the captured and
 * generated requests of tests/data/npa/.
 *
 * covers: remote handshake decoding (the named_pipe_auth decoder)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npipe/npipe.h"
#include "remote/npa.h"

static struct np_npa_request req, again;

static int terminated(const char *s, size_t cap)
{
        return memchr(s, 0, cap) != NULL;
}

static void check_one(const uint8_t *p, size_t n)
{
        static const struct np_npa_request zero;
        const struct np_npa_identity *id = &req.id;
        int r = np_npa_parse(p, n, &req);

        if (r != 0) {
                if (r != NPIPE_EPROTO && r != NPIPE_ENOTSUP)
                        abort();
                if (memcmp(&req, &zero, sizeof req) != 0)
                        abort(); /* nothing half-decoded is left behind */
                return;
        }
        size_t total = 0;
        if (n < 4 || np_npa_request_size(p, &total) != 0 || total != n)
                abort();
        if (req.level != 5 && req.level != 7 && req.level != 8)
                abort();
        if (req.level != 5 && req.need_idle_server != 0)
                abort();
        if (!terminated(req.remote_client_name, NP_NPA_NAME_MAX) ||
            !terminated(req.remote_client_addr, NP_NPA_ADDR_MAX) ||
            !terminated(req.local_server_name, NP_NPA_NAME_MAX) ||
            !terminated(req.local_server_addr, NP_NPA_ADDR_MAX) ||
            !terminated(id->account, NP_NPA_NAME_MAX) || !terminated(id->domain, NP_NPA_NAME_MAX) ||
            !terminated(id->unix_name, NP_NPA_NAME_MAX))
                abort();
        if (id->nsids > NP_NPA_MAX_SIDS || id->nsids > id->nsids_total ||
            (id->nsids_total > id->nsids) != !!(id->flags & NP_NPA_SIDS_TRUNCATED))
                abort();
        if (id->ngroups > NP_NPA_MAX_GROUPS || id->ngroups > id->ngroups_total ||
            (id->ngroups_total > id->ngroups) != !!(id->flags & NP_NPA_GROUPS_TRUNCATED))
                abort();
        for (uint32_t i = 0; i < id->nsids; i++) {
                if (!terminated(id->sids[i], NP_NPA_SID_STR) || strncmp(id->sids[i], "S-", 2) != 0)
                        abort();
        }
        if ((id->flags & ~(NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ANONYMOUS |
                           NP_NPA_ENCRYPTED | NP_NPA_SIDS_TRUNCATED | NP_NPA_GROUPS_TRUNCATED)) !=
            0)
                abort();
        if (id->flags != 0 && !(id->flags & NP_NPA_HAVE_SESSION))
                abort(); /* every other flag comes from the session info */
        /* deterministic: the same bytes decode to the same struct */
        if (np_npa_parse(p, n, &again) != 0 || memcmp(&req, &again, sizeof req) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *exact = malloc(size ? size : 1), *odd = malloc(size + 1);
        uint8_t rep[NP_NPA_REPLY_SIZE];

        if (exact == NULL || odd == NULL)
                abort();
        memcpy(exact, data, size);
        check_one(exact, size);
        memcpy(odd + 1, data, size);
        check_one(odd + 1, size);
        if (size > 4) {
                uint32_t n = (uint32_t)(size - 4);

                exact[0] = (uint8_t)(n >> 24);
                exact[1] = (uint8_t)(n >> 16);
                exact[2] = (uint8_t)(n >> 8);
                exact[3] = (uint8_t)n;
                check_one(exact, size);
        }
        if (size >= 4) {
                size_t total = 0;
                int r = np_npa_request_size(data, &total);

                if (r == 0 ? total < 5 || total > NP_NPA_MAX_REQUEST : r != NPIPE_EPROTO || total)
                        abort();
                /* the reply is fixed apart from the level and the mode */
                np_npa_reply(rep, (uint32_t)total, data[0] & 1);
                if (memcmp(rep + 4, "NPAM", 4) != 0 || (rep[16] != 1 && rep[16] != 2))
                        abort();
        }
        free(exact);
        free(odd);
        return 0;
}
