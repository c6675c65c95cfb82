/*
 * fuzz_smb2.c - libFuzzer harness for the SMB2 response parsers of
 * libnpipe-smb (src/smb/msg.c).
 *
 * Everything a server sends passes through these before any byte of it
 * is used: whatever the input, each parser must return 0 or NPIPE_EPROTO,
 * and a buffer it hands back must lie inside the message (checked here,
 * and by ASan: the input is copied into a buffer of exactly its size, so
 * a read one byte past the end is caught).  Each input is parsed twice:
 * as it is, and with a valid response header written over its first 64
 * bytes (magic, StructureSize, the server-to-redirector flag), so that
 * mutations of the header do not keep the fuzzer away from the bodies.
 * The seeds in fuzz/corpus/fuzz_smb2/ are well-formed responses of each
 * kind (NEGOTIATE 3.1.1 with contexts, SESSION_SETUP, READ, IOCTL...).
 *
 * covers: SMB2 response parsing (the remote pipe client)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npipe/npipe.h"
#include "smb/msg.h"

static void inside(const uint8_t *m, size_t n, const uint8_t *p, size_t len)
{
        if (len == 0)
                return;
        if (p < m || p > m + n || len > (size_t)(m + n - p))
                abort();
}

static void ok_or_proto(int r)
{
        if (r != 0 && r != NPIPE_EPROTO)
                abort();
}

static void parse_all(const uint8_t *m, size_t n)
{
        struct np_smb_hdr h;
        struct np_smb_negotiate_info ni;
        struct np_smb_peek_info pi;
        struct np_smb_pipe_local pl;
        const uint8_t *p;
        size_t len;
        uint16_t u16;
        uint8_t u8, fid[16];
        uint32_t u32, v32;
        int r;

        ok_or_proto(np_smb_parse_hdr(m, n, &h));
        r = np_smb_parse_negotiate(m, n, &ni);
        ok_or_proto(r);
        if (r == 0)
                inside(m, n, ni.blob, ni.blob_len);
        r = np_smb_parse_session_setup(m, n, &u16, &p, &len);
        ok_or_proto(r);
        if (r == 0)
                inside(m, n, p, len);
        ok_or_proto(np_smb_parse_tree_connect(m, n, &u8, &u32));
        ok_or_proto(np_smb_parse_create(m, n, fid));
        ok_or_proto(np_smb_parse_fixed(m, n, 4));
        ok_or_proto(np_smb_parse_write(m, n, &u32));
        ok_or_proto(np_smb_parse_error(m, n, &u32));
        r = np_smb_parse_read(m, n, &p, &len);
        ok_or_proto(r);
        if (r == 0)
                inside(m, n, p, len);
        r = np_smb_parse_query_info(m, n, &p, &len);
        ok_or_proto(r);
        if (r == 0)
                inside(m, n, p, len);
        r = np_smb_parse_ioctl(m, n, &p, &len);
        ok_or_proto(r);
        if (r == 0) {
                inside(m, n, p, len);
                /* what FSCTL_PIPE_PEEK and QUERY_INFO outputs go through */
                r = np_smb_parse_pipe_peek(p, len, &pi);
                ok_or_proto(r);
                if (r == 0)
                        inside(m, n, pi.data, pi.data_len);
                ok_or_proto(np_smb_parse_pipe_local(p, len, &pl));
                ok_or_proto(np_smb_parse_pipe_info(p, len, &u32, &v32));
        }
        (void)np_smb_status(n >= 12 ? np_le32(m + 8) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *exact = malloc(size ? size : 1);

        if (exact == NULL)
                abort();
        memcpy(exact, data, size);
        parse_all(exact, size);
        if (size >= NP_SMB2_HDR_LEN) {
                np_put32(exact, NP_SMB2_MAGIC);
                np_put16(exact + 4, NP_SMB2_HDR_LEN);
                exact[16] |= 1; /* SERVER_TO_REDIR */
                np_put32(exact + 20, 0);
                parse_all(exact, size);
        }
        free(exact);
        return 0;
}
