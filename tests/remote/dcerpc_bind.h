/*
 * dcerpc_bind.h - a DCE/RPC bind to srvsvc and the check of its answer,
 * for the test programs that talk to Samba's own RPC server through a
 * remote pipe: tests/remote/remote_client.c (the ordinary API) and
 * tests/smb/smb_probe.c (the module's table).  Header-only: each program
 * is one file.
 */
#ifndef NPIPE_TEST_DCERPC_BIND_H
#define NPIPE_TEST_DCERPC_BIND_H

#include <stddef.h>
#include <string.h>

/* A DCE/RPC bind (C706 12.6.4.3, MS-RPCE) to srvsvc
 * 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 with the NDR transfer syntax
 * 8a885d04-1ceb-11c9-9fe8-08002b104860 v2, little-endian. */
static const unsigned char bind_pdu[72] = {
        5, 0, 11, 0x03, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0, /* bind, 72 bytes, call 1 */
        0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0,                     /* frags 4280, assoc 0 */
        1, 0, 0, 0,                                             /* one context */
        0, 0, 1, 0,                                             /* id 0, one syntax */
        0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e,
        0xe1, 0x88, 3, 0, 0, 0, /* srvsvc v3.0 */
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10,
        0x48, 0x60, 2, 0, 0, 0, /* NDR v2 */
};

static unsigned le16(const unsigned char *p)
{
        return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* A bind_ack for call 1 that accepts context 0 with NDR v2: the header,
 * the secondary address (a counted string), padding to 4, then the
 * result list.  "" when it is one, else what is wrong. */
static const char *bind_ack_problem(const unsigned char *b, size_t n)
{
        static const unsigned char ndr[20] = {0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9,
                                              0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10,
                                              0x48, 0x60, 2,    0,    0,    0};
        size_t off;

        if (n < 26 || b[0] != 5 || b[1] != 0)
                return "not a DCE/RPC v5.0 PDU";
        if (b[2] != 12)
                return "not a bind_ack (PDU type 12)";
        if (le16(b + 8) != n)
                return "frag_length is not the length read";
        if (b[12] != 1 || b[13] || b[14] || b[15])
                return "not the answer to call 1";
        off = 24 + 2 + le16(b + 24);
        off = (off + 3) & ~(size_t)3;
        if (off + 4 + 24 > n)
                return "too short for a result list";
        if (b[off] != 1)
                return "not one result";
        if (le16(b + off + 4) != 0)
                return "the context was not accepted";
        if (memcmp(b + off + 8, ndr, sizeof ndr) != 0)
                return "the transfer syntax is not NDR v2";
        return "";
}

#endif
