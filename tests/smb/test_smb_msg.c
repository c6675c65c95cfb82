/*
 * test_smb_msg.c - src/smb/msg.c: requests are laid out as MS-SMB2 says,
 * responses parse, and malformed responses (short, wrong sizes, offsets
 * into the header or past the end, lengths that would wrap) are refused.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npipe/npipe.h"
#include "smb/crypto.h"
#include "smb/msg.h"

#define H NP_SMB2_HDR_LEN

static const uint8_t fid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* A response header for command with status. */
static void resp_hdr(uint8_t *m, uint16_t command, uint32_t status)
{
        np_smb_put_hdr(m, command, 1, 7, 42, 5, 0x1122334455667788ull);
        np_put32(m + NP_SMB2_H(flags), NP_SMB2_FLAGS_SERVER_TO_REDIR);
        np_put32(m + NP_SMB2_H(status), status);
}

START_TEST(t_header)
{
        uint8_t m[H];
        struct np_smb_hdr h;

        resp_hdr(m, NP_SMB2_READ, NP_STATUS_BUFFER_OVERFLOW);
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), 0);
        ck_assert_uint_eq(h.command, NP_SMB2_READ);
        ck_assert_uint_eq(h.status, NP_STATUS_BUFFER_OVERFLOW);
        ck_assert_uint_eq(h.credits, 7);
        ck_assert_uint_eq(h.message_id, 42);
        ck_assert_uint_eq(h.tree_id, 5);
        ck_assert_uint_eq(h.session_id, 0x1122334455667788ull);
        ck_assert_int_eq(np_smb_parse_hdr(m, H - 1, &h), NPIPE_EPROTO);
        np_put32(m + NP_SMB2_H(flags), 0); /* a request, not a response */
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), NPIPE_EPROTO);
        resp_hdr(m, NP_SMB2_READ, 0);
        m[0] = 0xFF; /* SMB1 */
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), NPIPE_EPROTO);
        resp_hdr(m, NP_SMB2_READ, 0);
        np_put16(m + 4, 63);
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), NPIPE_EPROTO);
}
END_TEST

/* A request made asynchronous by an interim STATUS_PENDING is answered
 * under that AsyncId only; a hostile server's answer under another is
 * refused (the connection drops), whatever comes before the interim. */
START_TEST(t_async_consistent)
{
        uint8_t m[H];
        struct np_smb_hdr h;

        resp_hdr(m, NP_SMB2_READ, NP_STATUS_PENDING);
        np_put32(m + NP_SMB2_H(flags), NP_SMB2_FLAGS_SERVER_TO_REDIR | NP_SMB2_FLAGS_ASYNC_COMMAND);
        np_put64(m + NP_SMB2_H_ASYNC_ID, 0x77);
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), 0);
        ck_assert_uint_eq(h.async_id, 0x77);
        /* not yet asynchronous: the first interim gives the id */
        ck_assert(np_smb_async_consistent(false, 0, &h));
        /* the same id again (a second interim, or the final answer) */
        ck_assert(np_smb_async_consistent(true, 0x77, &h));
        /* another id */
        ck_assert(!np_smb_async_consistent(true, 0x78, &h));
        np_put64(m + NP_SMB2_H_ASYNC_ID, 0);
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), 0);
        ck_assert(!np_smb_async_consistent(true, 0x77, &h));
        /* a synchronous final answer names no AsyncId: matched by
         * MessageId alone */
        resp_hdr(m, NP_SMB2_READ, NP_STATUS_SUCCESS);
        ck_assert_int_eq(np_smb_parse_hdr(m, sizeof(m), &h), 0);
        ck_assert(np_smb_async_consistent(true, 0x77, &h));
}
END_TEST

START_TEST(t_utf16)
{
        uint8_t b[16];

        ck_assert_int_eq(np_smb_utf16("srv", b, sizeof(b)), 6);
        ck_assert_int_eq(b[0], 's');
        ck_assert_int_eq(b[1], 0);
        ck_assert_int_eq(np_smb_utf16("\xc3\xa9", b, sizeof(b)), 2); /* é */
        ck_assert_uint_eq(np_le16(b), 0xE9);
        ck_assert_int_eq(np_smb_utf16("\xf0\x9f\x98\x80", b, sizeof(b)), 4); /* U+1F600 */
        ck_assert_uint_eq(np_le16(b), 0xD83D);
        ck_assert_uint_eq(np_le16(b + 2), 0xDE00);
        ck_assert_int_eq(np_smb_utf16("\xc0\x80", b, sizeof(b)), NPIPE_EINVAL);     /* overlong */
        ck_assert_int_eq(np_smb_utf16("\xed\xa0\x80", b, sizeof(b)), NPIPE_EINVAL); /* surrogate */
        ck_assert_int_eq(np_smb_utf16("\xf4\x90\x80\x80", b, sizeof(b)), NPIPE_EINVAL);
        ck_assert_int_eq(np_smb_utf16("\xe2\x82", b, sizeof(b)), NPIPE_EINVAL); /* cut short */
        ck_assert_int_eq(np_smb_utf16("abcdefghi", b, sizeof(b)), NPIPE_ENAMETOOLONG);
}
END_TEST

START_TEST(t_build_negotiate)
{
        static const uint16_t d[] = {NP_SMB_2_0_2, NP_SMB_2_1, NP_SMB_3_0, NP_SMB_3_0_2,
                                     NP_SMB_3_1_1};
        static const uint16_t ciphers[] = {NP_SMB_CIPHER_AES128_GCM, NP_SMB_CIPHER_AES128_CCM};
        static const uint16_t signs[] = {NP_SMB_SIGN_AES_GMAC};
        struct np_smb_negotiate_args a = {.dialects = d,
                                          .n_dialects = 5,
                                          .ciphers = ciphers,
                                          .n_ciphers = 2,
                                          .sign_algs = signs,
                                          .n_sign_algs = 1};
        uint8_t m[512];

        memset(a.salt, 0xAB, sizeof(a.salt));
        np_smb_put_hdr(m, NP_SMB2_NEGOTIATE, 0, 0, 0, 0, 0);
        int len = np_smb_build_negotiate(m, sizeof(m), &a);
        ck_assert_int_gt(len, H + 36 + 10);
        ck_assert_uint_eq(np_le16(m + H), 36);
        ck_assert_uint_eq(np_le16(m + H + 2), 5);
        ck_assert_uint_eq(np_le16(m + H + 36 + 8), NP_SMB_3_1_1);
        uint32_t off = np_le32(m + H + 28);
        ck_assert_uint_eq(off % 8, 0);
        ck_assert_uint_eq(np_le16(m + H + 32), 3);
        ck_assert_uint_eq(np_le16(m + off), NP_SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
        ck_assert_uint_eq(np_le16(m + off + 2), 38);
        ck_assert_uint_eq(np_le16(m + off + 12), NP_SMB2_PREAUTH_SHA512);
        ck_assert_uint_eq(m[off + 14], 0xAB);
        uint32_t off2 = (off + 8 + 38 + 7) & ~7u;
        ck_assert_uint_eq(np_le16(m + off2), NP_SMB2_ENCRYPTION_CAPABILITIES);
        ck_assert_uint_eq(np_le16(m + off2 + 8), 2);
        ck_assert_int_eq(np_smb_build_negotiate(m, 100, &a), NPIPE_EINVAL);

        /* without 3.1.1: no contexts, and it ends after the dialects */
        a.n_dialects = 2;
        len = np_smb_build_negotiate(m, sizeof(m), &a);
        ck_assert_int_eq(len, H + 36 + 4);
        ck_assert_uint_eq(np_le16(m + H + 32), 0);
}
END_TEST

/* A NEGOTIATE response with dialect and a 4-byte blob right after the
 * fixed part; for 3.1.1, contexts as given. */
static size_t neg_resp(uint8_t *m, uint16_t dialect, const uint8_t *ctx, size_t ctx_len,
                       uint16_t nctx)
{
        memset(m, 0, 1024);
        resp_hdr(m, NP_SMB2_NEGOTIATE, 0);
        uint8_t *b = m + H;
        np_put16(b, 65);
        np_put16(b + 2, NP_SMB2_NEGOTIATE_SIGNING_ENABLED);
        np_put16(b + 4, dialect);
        np_put16(b + 6, nctx);
        np_put32(b + 24, NP_SMB2_GLOBAL_CAP_LARGE_MTU);
        np_put32(b + 28, 1 << 20);
        np_put32(b + 32, 1 << 20);
        np_put32(b + 36, 1 << 20);
        np_put16(b + 56, H + 64);
        np_put16(b + 58, 4);
        memcpy(m + H + 64, "blob", 4);
        size_t len = H + 64 + 4;
        if (ctx_len) {
                len = (len + 7) & ~(size_t)7;
                np_put32(b + 60, (uint32_t)len);
                memcpy(m + len, ctx, ctx_len);
                len += ctx_len;
        }
        return len;
}

START_TEST(t_parse_negotiate)
{
        uint8_t m[1024];
        struct np_smb_negotiate_info ni;
        size_t len = neg_resp(m, NP_SMB_2_1, NULL, 0, 0);

        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), 0);
        ck_assert_uint_eq(ni.dialect, NP_SMB_2_1);
        ck_assert_uint_eq(ni.max_read, 1 << 20);
        ck_assert_uint_eq(ni.blob_len, 4);
        ck_assert_int_eq(memcmp(ni.blob, "blob", 4), 0);
        /* the blob past the end, into the header, wrapping */
        ck_assert_int_eq(np_smb_parse_negotiate(m, len - 1, &ni), NPIPE_EPROTO);
        np_put16(m + H + 56, 8);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
        np_put16(m + H + 56, 0xFFFF);
        np_put16(m + H + 58, 0xFFFF);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
        /* an empty blob may have any offset */
        np_put16(m + H + 58, 0);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), 0);
        ck_assert_uint_eq(ni.blob_len, 0);
        /* the wildcard dialect, a short body, a wrong StructureSize */
        len = neg_resp(m, 0x02FF, NULL, 0, 0);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
        len = neg_resp(m, NP_SMB_2_1, NULL, 0, 0);
        ck_assert_int_eq(np_smb_parse_negotiate(m, H + 63, &ni), NPIPE_EPROTO);
        np_put16(m + H, 64);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);

        /* 3.1.1: preauth, cipher, signing */
        uint8_t ctx[64] = {0};
        np_put16(ctx, NP_SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
        np_put16(ctx + 2, 38);
        np_put16(ctx + 8, 1);
        np_put16(ctx + 10, 32);
        np_put16(ctx + 12, NP_SMB2_PREAUTH_SHA512);
        size_t c2 = 48; /* 8 + 38, aligned */
        np_put16(ctx + c2, NP_SMB2_ENCRYPTION_CAPABILITIES);
        np_put16(ctx + c2 + 2, 4);
        np_put16(ctx + c2 + 8, 1);
        np_put16(ctx + c2 + 10, NP_SMB_CIPHER_AES256_GCM);
        len = neg_resp(m, NP_SMB_3_1_1, ctx, c2 + 12, 2);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), 0);
        ck_assert(ni.preauth_sha512);
        ck_assert_uint_eq(ni.cipher, NP_SMB_CIPHER_AES256_GCM);
        ck_assert(!ni.have_sign_ctx);
        /* a context count beyond the message */
        len = neg_resp(m, NP_SMB_3_1_1, ctx, c2 + 12, 3);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
        /* a data length beyond the message */
        np_put16(ctx + c2 + 2, 400);
        len = neg_resp(m, NP_SMB_3_1_1, ctx, c2 + 12, 2);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
        /* 3.1.1 without the preauth context */
        np_put16(ctx + c2 + 2, 4);
        len = neg_resp(m, NP_SMB_3_1_1, ctx + c2, 12, 1);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
        /* an unknown hash */
        np_put16(ctx + 12, 2);
        len = neg_resp(m, NP_SMB_3_1_1, ctx, c2 + 12, 2);
        ck_assert_int_eq(np_smb_parse_negotiate(m, len, &ni), NPIPE_EPROTO);
}
END_TEST

START_TEST(t_read_write)
{
        uint8_t m[256];
        const uint8_t *d;
        size_t dl;

        np_smb_put_hdr(m, NP_SMB2_READ, 1, 0, 0, 0, 0);
        int len = np_smb_build_read(m, sizeof(m), fid, 4096);
        ck_assert_int_eq(len, H + 49);
        ck_assert_uint_eq(np_le16(m + H), 49);
        ck_assert_uint_eq(np_le32(m + H + 4), 4096);
        ck_assert_int_eq(memcmp(m + H + 16, fid, 16), 0);

        np_smb_put_hdr(m, NP_SMB2_WRITE, 1, 0, 0, 0, 0);
        len = np_smb_build_write(m, sizeof(m), fid, "hello", 5);
        ck_assert_int_eq(len, H + 48 + 5);
        ck_assert_uint_eq(np_le16(m + H + 2), H + 48);
        ck_assert_int_eq(memcmp(m + H + 48, "hello", 5), 0);
        ck_assert_int_eq(np_smb_build_write(m, H + 50, fid, "hello", 5), NPIPE_EINVAL);

        /* READ response: data at 80 */
        memset(m, 0, sizeof(m));
        resp_hdr(m, NP_SMB2_READ, 0);
        np_put16(m + H, 17);
        m[H + 2] = H + 16;
        np_put32(m + H + 4, 5);
        memcpy(m + H + 16, "world", 5);
        ck_assert_int_eq(np_smb_parse_read(m, H + 21, &d, &dl), 0);
        ck_assert_uint_eq(dl, 5);
        ck_assert_int_eq(memcmp(d, "world", 5), 0);
        ck_assert_int_eq(np_smb_parse_read(m, H + 20, &d, &dl), NPIPE_EPROTO);
        m[H + 2] = 10; /* into the header */
        ck_assert_int_eq(np_smb_parse_read(m, H + 21, &d, &dl), NPIPE_EPROTO);
        m[H + 2] = H + 16;
        np_put32(m + H + 4, 0xFFFFFFFF);
        ck_assert_int_eq(np_smb_parse_read(m, H + 21, &d, &dl), NPIPE_EPROTO);
        np_put32(m + H + 4, 5);
        np_put16(m + H, 16);
        ck_assert_int_eq(np_smb_parse_read(m, H + 21, &d, &dl), NPIPE_EPROTO);

        uint32_t count;
        memset(m, 0, sizeof(m));
        resp_hdr(m, NP_SMB2_WRITE, 0);
        np_put16(m + H, 17);
        np_put32(m + H + 4, 5);
        ck_assert_int_eq(np_smb_parse_write(m, H + 16, &count), 0);
        ck_assert_uint_eq(count, 5);
        ck_assert_int_eq(np_smb_parse_write(m, H + 15, &count), NPIPE_EPROTO);
}
END_TEST

START_TEST(t_ioctl)
{
        uint8_t m[256];
        const uint8_t *d;
        size_t dl;

        np_smb_put_hdr(m, NP_SMB2_IOCTL, 1, 0, 0, 0, 0);
        int len = np_smb_build_ioctl(m, sizeof(m), fid, NP_FSCTL_PIPE_TRANSCEIVE, "abc", 3, 1024);
        ck_assert_int_eq(len, H + 56 + 3);
        ck_assert_uint_eq(np_le32(m + H + 4), NP_FSCTL_PIPE_TRANSCEIVE);
        ck_assert_uint_eq(np_le32(m + H + 24), H + 56);
        ck_assert_uint_eq(np_le32(m + H + 28), 3);
        ck_assert_uint_eq(np_le32(m + H + 44), 1024);
        ck_assert_uint_eq(np_le32(m + H + 48), NP_SMB2_0_IOCTL_IS_FSCTL);

        memset(m, 0, sizeof(m));
        resp_hdr(m, NP_SMB2_IOCTL, 0);
        np_put16(m + H, 49);
        np_put32(m + H + 32, H + 48);
        np_put32(m + H + 36, 4);
        memcpy(m + H + 48, "pong", 4);
        ck_assert_int_eq(np_smb_parse_ioctl(m, H + 52, &d, &dl), 0);
        ck_assert_uint_eq(dl, 4);
        ck_assert_int_eq(memcmp(d, "pong", 4), 0);
        /* offset + count wrapping 32 bits */
        np_put32(m + H + 32, 0xFFFFFFF0u);
        np_put32(m + H + 36, 0x20);
        ck_assert_int_eq(np_smb_parse_ioctl(m, H + 52, &d, &dl), NPIPE_EPROTO);
        np_put32(m + H + 32, H + 48);
        np_put32(m + H + 36, 5);
        ck_assert_int_eq(np_smb_parse_ioctl(m, H + 52, &d, &dl), NPIPE_EPROTO);

        uint8_t w[64];
        int n = np_smb_build_pipe_wait(w, sizeof(w), "ab", 1000);
        ck_assert_int_eq(n, 14 + 4);
        ck_assert_int_eq((int64_t)np_le64(w), -10000000ll);
        ck_assert_uint_eq(np_le32(w + 8), 4);
        ck_assert_int_eq(w[12], 1);
        n = np_smb_build_pipe_wait(w, sizeof(w), "ab", NP_SMB_WAIT_DEFAULT);
        ck_assert_int_eq(w[12], 0);
        ck_assert_int_eq(np_smb_build_pipe_wait(w, sizeof(w), "", 0), NPIPE_EINVAL);
}
END_TEST

START_TEST(t_session_tree_create)
{
        uint8_t m[512];
        const uint8_t *blob;
        size_t bl;
        uint16_t sflags;

        memset(m, 0, sizeof(m));
        resp_hdr(m, NP_SMB2_SESSION_SETUP, NP_STATUS_MORE_PROCESSING_REQUIRED);
        np_put16(m + H, 9);
        np_put16(m + H + 2, NP_SMB2_SESSION_FLAG_ENCRYPT_DATA);
        np_put16(m + H + 4, H + 8);
        np_put16(m + H + 6, 3);
        ck_assert_int_eq(np_smb_parse_session_setup(m, H + 11, &sflags, &blob, &bl), 0);
        ck_assert_uint_eq(sflags, NP_SMB2_SESSION_FLAG_ENCRYPT_DATA);
        ck_assert_uint_eq(bl, 3);
        ck_assert_int_eq(np_smb_parse_session_setup(m, H + 10, &sflags, &blob, &bl), NPIPE_EPROTO);

        np_smb_put_hdr(m, NP_SMB2_TREE_CONNECT, 1, 0, 0, 0, 0);
        int len = np_smb_build_tree_connect(m, sizeof(m), "\\\\h\\IPC$");
        ck_assert_int_eq(len, H + 8 + 2 * 8);
        ck_assert_uint_eq(np_le16(m + H + 6), 16);

        np_smb_put_hdr(m, NP_SMB2_CREATE, 1, 0, 0, 0, 0);
        len = np_smb_build_create(m, sizeof(m), "srvsvc", NP_FILE_READ_DATA);
        ck_assert_int_eq(len, H + 56 + 12);
        ck_assert_uint_eq(np_le32(m + H + 4), NP_SMB2_IMPERSONATION_IMPERSONATION);
        ck_assert_uint_eq(np_le32(m + H + 24), NP_FILE_READ_DATA);
        ck_assert_uint_eq(np_le32(m + H + 32), NP_SMB2_FILE_SHARE_READ | NP_SMB2_FILE_SHARE_WRITE);
        ck_assert_uint_eq(np_le32(m + H + 36), NP_SMB2_FILE_OPEN);

        uint8_t f[16];
        memset(m, 0, sizeof(m));
        resp_hdr(m, NP_SMB2_CREATE, 0);
        np_put16(m + H, 89);
        memcpy(m + H + 64, fid, 16);
        ck_assert_int_eq(np_smb_parse_create(m, H + 88, f), 0);
        ck_assert_int_eq(memcmp(f, fid, 16), 0);
        ck_assert_int_eq(np_smb_parse_create(m, H + 87, f), NPIPE_EPROTO);
}
END_TEST

START_TEST(t_pipe_info)
{
        uint8_t b[40] = {0};
        struct np_smb_peek_info pi;
        struct np_smb_pipe_local pl;
        uint32_t rm, cm;

        np_put32(b, 3);
        np_put32(b + 4, 10);
        ck_assert_int_eq(np_smb_parse_pipe_peek(b, 20, &pi), 0);
        ck_assert_uint_eq(pi.state, 3);
        ck_assert_uint_eq(pi.avail, 10);
        ck_assert_uint_eq(pi.data_len, 4);
        ck_assert_int_eq(np_smb_parse_pipe_peek(b, 15, &pi), NPIPE_EPROTO);
        ck_assert_int_eq(np_smb_parse_pipe_local(b, 40, &pl), 0);
        ck_assert_int_eq(np_smb_parse_pipe_local(b, 39, &pl), NPIPE_EPROTO);
        ck_assert_int_eq(np_smb_parse_pipe_info(b, 8, &rm, &cm), 0);
        ck_assert_int_eq(np_smb_parse_pipe_info(b, 7, &rm, &cm), NPIPE_EPROTO);
}
END_TEST

START_TEST(t_status)
{
        ck_assert_int_eq(np_smb_status(NP_STATUS_SUCCESS), 0);
        ck_assert_int_eq(np_smb_status(NP_STATUS_BUFFER_OVERFLOW), NPIPE_EMOREDATA);
        ck_assert_int_eq(np_smb_status(NP_STATUS_OBJECT_NAME_NOT_FOUND), NPIPE_ENOENT);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PIPE_NOT_AVAILABLE), NPIPE_EBUSY);
        ck_assert_int_eq(np_smb_status(NP_STATUS_INSTANCE_NOT_AVAILABLE), NPIPE_EBUSY);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PIPE_BUSY), NPIPE_EBUSY);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PIPE_BROKEN), NPIPE_EPIPE);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PIPE_DISCONNECTED), NPIPE_ENOTCONN);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PIPE_CLOSING), NPIPE_ECLOSING);
        ck_assert_int_eq(np_smb_status(NP_STATUS_ACCESS_DENIED), NPIPE_EACCES);
        ck_assert_int_eq(np_smb_status(NP_STATUS_LOGON_FAILURE), NPIPE_ELOGON);
        ck_assert_int_eq(np_smb_status(NP_STATUS_ACCOUNT_DISABLED), NPIPE_ELOGON);
        ck_assert_int_eq(np_smb_status(NP_STATUS_BAD_NETWORK_NAME), NPIPE_ENETPATH);
        ck_assert_int_eq(np_smb_status(NP_STATUS_IO_TIMEOUT), NPIPE_ETIMEDOUT);
        ck_assert_int_eq(np_smb_status(NP_STATUS_CANCELLED), NPIPE_ECANCELED);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PIPE_EMPTY), NPIPE_EAGAIN);
        ck_assert_int_eq(np_smb_status(NP_STATUS_PORT_MESSAGE_TOO_LONG), NPIPE_EMSGSIZE);
        ck_assert_int_eq(np_smb_status(0xC0001234u), NPIPE_EPROTO);
        ck_assert_str_eq(np_smb_status_name(NP_STATUS_PIPE_BROKEN), "STATUS_PIPE_BROKEN");
        ck_assert_ptr_null(np_smb_status_name(0xC0001234u));
}
END_TEST

int main(void)
{
        Suite *s = suite_create("smb_msg");
        TCase *tc = tcase_create("msg");
        tcase_add_test(tc, t_header);
        tcase_add_test(tc, t_utf16);
        tcase_add_test(tc, t_async_consistent);
        tcase_add_test(tc, t_build_negotiate);
        tcase_add_test(tc, t_parse_negotiate);
        tcase_add_test(tc, t_read_write);
        tcase_add_test(tc, t_ioctl);
        tcase_add_test(tc, t_session_tree_create);
        tcase_add_test(tc, t_pipe_info);
        tcase_add_test(tc, t_status);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int n = srunner_ntests_failed(sr);
        srunner_free(sr);
        return n ? EXIT_FAILURE : EXIT_SUCCESS;
}
