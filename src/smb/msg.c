/*
 * msg.c - SMB2 requests built and responses parsed (msg.h).
 *
 * The one rule of the parsers: nothing taken from the response is used as
 * an offset or a length before it has been checked against the message's
 * length, in 64-bit arithmetic so that no sum can wrap.  A buffer's
 * offset may not point back into the header or the fixed part either
 * (that would hand the header to the caller as data).
 */
#include "smb/msg.h"

#include <string.h>

#include "npipe/npipe.h"
#include "smb/crypto.h"

#define H NP_SMB2_HDR_LEN

/* The body of a response: its StructureSize must be ssize and its fixed
 * part (ssize rounded down to even: an odd size counts the first byte of
 * the variable part) must be there. */
static int body(const uint8_t *msg, size_t len, uint16_t ssize, const uint8_t **b)
{
        if (len < H + (size_t)(ssize & ~1u) || len < H + 2)
                return NPIPE_EPROTO;
        if (np_le16(msg + H) != ssize)
                return NPIPE_EPROTO;
        *b = msg + H;
        return 0;
}

/* A buffer [off, off + n) of a message of len bytes that starts at or after
 * min_off (the end of the fixed part).  An empty buffer may have any
 * offset (servers send 0) and yields no pointer. */
static int region(const uint8_t *msg, size_t len, uint64_t off, uint64_t n, size_t min_off,
                  const uint8_t **p, size_t *plen)
{
        if (n == 0) {
                *p = msg + len; /* never dereferenced: length 0 */
                *plen = 0;
                return 0;
        }
        if (off < min_off || off > len || n > len - off)
                return NPIPE_EPROTO;
        *p = msg + off;
        *plen = (size_t)n;
        return 0;
}

int np_smb_parse_hdr(const uint8_t *msg, size_t len, struct np_smb_hdr *h)
{
        if (len < H || np_le32(msg) != NP_SMB2_MAGIC || np_le16(msg + 4) != H)
                return NPIPE_EPROTO;
        h->credit_charge = np_le16(msg + NP_SMB2_H(credit_charge));
        h->status = np_le32(msg + NP_SMB2_H(status));
        h->command = np_le16(msg + NP_SMB2_H(command));
        h->credits = np_le16(msg + NP_SMB2_H(credits));
        h->flags = np_le32(msg + NP_SMB2_H(flags));
        h->next_command = np_le32(msg + NP_SMB2_H(next_command));
        h->message_id = np_le64(msg + NP_SMB2_H(message_id));
        h->async_id = np_le64(msg + NP_SMB2_H_ASYNC_ID);
        h->tree_id = np_le32(msg + NP_SMB2_H_TREE_ID);
        h->session_id = np_le64(msg + NP_SMB2_H(session_id));
        if (!(h->flags & NP_SMB2_FLAGS_SERVER_TO_REDIR))
                return NPIPE_EPROTO;
        return 0;
}

bool np_smb_async_consistent(bool async, uint64_t async_id, const struct np_smb_hdr *h)
{
        if (!async || !(h->flags & NP_SMB2_FLAGS_ASYNC_COMMAND))
                return true;
        return h->async_id == async_id;
}

void np_smb_put_hdr(uint8_t *msg, uint16_t command, uint16_t credit_charge, uint16_t credit_req,
                    uint64_t message_id, uint32_t tree_id, uint64_t session_id)
{
        memset(msg, 0, H);
        np_put32(msg, NP_SMB2_MAGIC);
        np_put16(msg + 4, H);
        np_put16(msg + NP_SMB2_H(credit_charge), credit_charge);
        np_put16(msg + NP_SMB2_H(command), command);
        np_put16(msg + NP_SMB2_H(credits), credit_req);
        np_put64(msg + NP_SMB2_H(message_id), message_id);
        np_put32(msg + NP_SMB2_H_TREE_ID, tree_id);
        np_put64(msg + NP_SMB2_H(session_id), session_id);
}

int np_smb_utf16(const char *s, uint8_t *out, size_t cap)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t n = 0;

        while (*p) {
                uint32_t c;
                unsigned more;

                if (p[0] < 0x80) {
                        c = p[0];
                        more = 0;
                } else if ((p[0] & 0xE0) == 0xC0) {
                        c = p[0] & 0x1F;
                        more = 1;
                } else if ((p[0] & 0xF0) == 0xE0) {
                        c = p[0] & 0x0F;
                        more = 2;
                } else if ((p[0] & 0xF8) == 0xF0) {
                        c = p[0] & 0x07;
                        more = 3;
                } else {
                        return NPIPE_EINVAL;
                }
                for (unsigned i = 1; i <= more; i++) {
                        if ((p[i] & 0xC0) != 0x80)
                                return NPIPE_EINVAL; /* also stops at the NUL */
                        c = c << 6 | (p[i] & 0x3F);
                }
                static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
                if (c < min[more] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                        return NPIPE_EINVAL;
                p += more + 1;
                if (c >= 0x10000) {
                        if (cap - n < 4 || n > cap)
                                return NPIPE_ENAMETOOLONG;
                        c -= 0x10000;
                        np_put16(out + n, (uint16_t)(0xD800 | c >> 10));
                        np_put16(out + n + 2, (uint16_t)(0xDC00 | (c & 0x3FF)));
                        n += 4;
                } else {
                        if (cap - n < 2 || n > cap)
                                return NPIPE_ENAMETOOLONG;
                        np_put16(out + n, (uint16_t)c);
                        n += 2;
                }
        }
        return (int)n;
}

/* ---- requests -------------------------------------------------------- */

static size_t align8(size_t n)
{
        return (n + 7) & ~(size_t)7;
}

int np_smb_build_negotiate(uint8_t *msg, size_t cap, const struct np_smb_negotiate_args *a)
{
        const size_t fixed = sizeof(struct np_smb2_negotiate_req);
        bool v311 = false;
        size_t end;

        if (a->n_dialects == 0 || a->n_dialects > 16 || a->n_ciphers > 8 || a->n_sign_algs > 8)
                return NPIPE_EINVAL;
        end = H + fixed + 2 * (size_t)a->n_dialects;
        for (unsigned i = 0; i < a->n_dialects; i++)
                v311 |= a->dialects[i] == NP_SMB_3_1_1;
        /* the worst case of the contexts below */
        if (cap < align8(end) + 3 * 8 + 38 + 8 + 2 + 16 + 8 + 2 + 16)
                return NPIPE_EINVAL;
        memset(msg + H, 0, fixed);
        uint8_t *b = msg + H;
        np_put16(b, 36);
        np_put16(b + 2, (uint16_t)a->n_dialects);
        np_put16(b + 4, a->security_mode);
        np_put32(b + 8, a->capabilities);
        memcpy(b + 12, a->client_guid, 16);
        for (unsigned i = 0; i < a->n_dialects; i++)
                np_put16(b + fixed + 2 * i, a->dialects[i]);
        if (!v311)
                return (int)end;

        /* 3.1.1: the contexts start 8-aligned (from the header's start) */
        size_t off = align8(end);
        unsigned count = 0;
        memset(msg + end, 0, off - end);
        np_put32(b + 28, (uint32_t)off);

        /* preauth integrity: SHA-512 with our salt */
        np_put16(msg + off, NP_SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
        np_put16(msg + off + 2, 6 + NP_SMB2_PREAUTH_SALT_LEN);
        np_put32(msg + off + 4, 0);
        np_put16(msg + off + 8, 1);
        np_put16(msg + off + 10, NP_SMB2_PREAUTH_SALT_LEN);
        np_put16(msg + off + 12, NP_SMB2_PREAUTH_SHA512);
        memcpy(msg + off + 14, a->salt, NP_SMB2_PREAUTH_SALT_LEN);
        end = off + 14 + NP_SMB2_PREAUTH_SALT_LEN;
        count++;

        if (a->n_ciphers > 0) {
                off = align8(end);
                memset(msg + end, 0, off - end);
                np_put16(msg + off, NP_SMB2_ENCRYPTION_CAPABILITIES);
                np_put16(msg + off + 2, (uint16_t)(2 + 2 * a->n_ciphers));
                np_put32(msg + off + 4, 0);
                np_put16(msg + off + 8, (uint16_t)a->n_ciphers);
                for (unsigned i = 0; i < a->n_ciphers; i++)
                        np_put16(msg + off + 10 + 2 * i, a->ciphers[i]);
                end = off + 10 + 2 * (size_t)a->n_ciphers;
                count++;
        }
        if (a->n_sign_algs > 0) {
                off = align8(end);
                memset(msg + end, 0, off - end);
                np_put16(msg + off, NP_SMB2_SIGNING_CAPABILITIES);
                np_put16(msg + off + 2, (uint16_t)(2 + 2 * a->n_sign_algs));
                np_put32(msg + off + 4, 0);
                np_put16(msg + off + 8, (uint16_t)a->n_sign_algs);
                for (unsigned i = 0; i < a->n_sign_algs; i++)
                        np_put16(msg + off + 10 + 2 * i, a->sign_algs[i]);
                end = off + 10 + 2 * (size_t)a->n_sign_algs;
                count++;
        }
        np_put16(b + 32, (uint16_t)count);
        return (int)end;
}

int np_smb_build_session_setup(uint8_t *msg, size_t cap, uint8_t security_mode,
                               const void *blob, size_t blob_len)
{
        const size_t fixed = sizeof(struct np_smb2_session_setup_req);

        if (blob_len > UINT16_MAX || cap < H + fixed + blob_len)
                return NPIPE_EINVAL;
        uint8_t *b = msg + H;
        memset(b, 0, fixed);
        np_put16(b, 25);
        b[3] = security_mode;
        np_put16(b + 12, (uint16_t)(H + fixed));
        np_put16(b + 14, (uint16_t)blob_len);
        if (blob_len)
                memcpy(b + fixed, blob, blob_len);
        return (int)(H + fixed + blob_len);
}

int np_smb_build_small(uint8_t *msg, size_t cap, uint16_t command)
{
        if (cap < H + 4)
                return NPIPE_EINVAL;
        np_put16(msg + H, 4);
        np_put16(msg + H + 2, 0);
        return H + 4;
}

int np_smb_build_tree_connect(uint8_t *msg, size_t cap, const char *path)
{
        const size_t fixed = sizeof(struct np_smb2_tree_connect_req);

        if (cap < H + fixed)
                return NPIPE_EINVAL;
        size_t room = cap - H - fixed;
        int n = np_smb_utf16(path, msg + H + fixed, room > UINT16_MAX ? UINT16_MAX : room);
        if (n <= 0)
                return n < 0 ? n : NPIPE_EINVAL;
        uint8_t *b = msg + H;
        np_put16(b, 9);
        np_put16(b + 2, 0);
        np_put16(b + 4, (uint16_t)(H + fixed));
        np_put16(b + 6, (uint16_t)n);
        return (int)(H + fixed + (size_t)n);
}

int np_smb_build_create(uint8_t *msg, size_t cap, const char *name, uint32_t desired_access)
{
        const size_t fixed = sizeof(struct np_smb2_create_req);

        if (cap < H + fixed + 8)
                return NPIPE_EINVAL;
        size_t room = cap - H - fixed;
        int n = np_smb_utf16(name, msg + H + fixed, room > UINT16_MAX ? UINT16_MAX : room);
        if (n < 0)
                return n;
        uint8_t *b = msg + H;
        memset(b, 0, fixed);
        np_put16(b, 57);
        np_put32(b + NP_SMB2_OFF(np_smb2_create_req, impersonation_level),
                 NP_SMB2_IMPERSONATION_IMPERSONATION);
        np_put32(b + NP_SMB2_OFF(np_smb2_create_req, desired_access), desired_access);
        np_put32(b + NP_SMB2_OFF(np_smb2_create_req, share_access),
                 NP_SMB2_FILE_SHARE_READ | NP_SMB2_FILE_SHARE_WRITE);
        np_put32(b + NP_SMB2_OFF(np_smb2_create_req, create_disposition), NP_SMB2_FILE_OPEN);
        np_put32(b + NP_SMB2_OFF(np_smb2_create_req, create_options),
                 NP_SMB2_FILE_NON_DIRECTORY_FILE);
        np_put16(b + NP_SMB2_OFF(np_smb2_create_req, name_offset), (uint16_t)(H + fixed));
        np_put16(b + NP_SMB2_OFF(np_smb2_create_req, name_length), (uint16_t)n);
        size_t len = H + fixed + (size_t)n;
        if (n == 0) /* the Buffer must hold at least one byte */
                msg[len++] = 0;
        return (int)len;
}

static int build_fid24(uint8_t *msg, size_t cap, const uint8_t fid[16])
{
        if (cap < H + 24)
                return NPIPE_EINVAL;
        memset(msg + H, 0, 24);
        np_put16(msg + H, 24);
        memcpy(msg + H + 8, fid, 16);
        return H + 24;
}

int np_smb_build_close(uint8_t *msg, size_t cap, const uint8_t fid[16])
{
        return build_fid24(msg, cap, fid);
}

int np_smb_build_flush(uint8_t *msg, size_t cap, const uint8_t fid[16])
{
        return build_fid24(msg, cap, fid);
}

int np_smb_build_read(uint8_t *msg, size_t cap, const uint8_t fid[16], uint32_t length)
{
        const size_t fixed = sizeof(struct np_smb2_read_req);

        if (cap < H + fixed + 1)
                return NPIPE_EINVAL;
        uint8_t *b = msg + H;
        memset(b, 0, fixed + 1);
        np_put16(b, 49);
        b[2] = 0x50; /* data right after the response's fixed part */
        np_put32(b + 4, length);
        memcpy(b + 16, fid, 16);
        return (int)(H + fixed + 1);
}

int np_smb_build_write(uint8_t *msg, size_t cap, const uint8_t fid[16], const void *data,
                       uint32_t len)
{
        const size_t fixed = sizeof(struct np_smb2_write_req);

        if (cap < H + fixed + 1 || cap - H - fixed - 1 < len)
                return NPIPE_EINVAL;
        uint8_t *b = msg + H;
        memset(b, 0, fixed);
        np_put16(b, 49);
        np_put16(b + 2, (uint16_t)(H + fixed));
        np_put32(b + 4, len);
        memcpy(b + 16, fid, 16);
        if (len)
                memcpy(b + fixed, data, len);
        else
                b[fixed] = 0; /* one byte of Buffer on the wire, as the size says */
        return (int)(H + fixed + (len ? len : 1));
}

int np_smb_build_ioctl(uint8_t *msg, size_t cap, const uint8_t fid[16], uint32_t ctl,
                       const void *in, uint32_t in_len, uint32_t max_out)
{
        const size_t fixed = sizeof(struct np_smb2_ioctl_req);

        if (cap < H + fixed + 1 || cap - H - fixed - 1 < in_len)
                return NPIPE_EINVAL;
        uint8_t *b = msg + H;
        memset(b, 0, fixed);
        np_put16(b, 57);
        np_put32(b + 4, ctl);
        memcpy(b + 8, fid, 16);
        np_put32(b + 24, in_len ? (uint32_t)(H + fixed) : 0);
        np_put32(b + 28, in_len);
        np_put32(b + 32, 0);                  /* MaxInputResponse */
        np_put32(b + 36, (uint32_t)(H + fixed)); /* OutputOffset (no output sent) */
        np_put32(b + 40, 0);
        np_put32(b + 44, max_out);
        np_put32(b + 48, NP_SMB2_0_IOCTL_IS_FSCTL);
        if (in_len)
                memcpy(b + fixed, in, in_len);
        else
                b[fixed] = 0;
        return (int)(H + fixed + (in_len ? in_len : 1));
}

int np_smb_build_query_info(uint8_t *msg, size_t cap, const uint8_t fid[16], uint8_t klass,
                            uint32_t out_len)
{
        const size_t fixed = sizeof(struct np_smb2_query_info_req);

        if (cap < H + fixed + 1)
                return NPIPE_EINVAL;
        uint8_t *b = msg + H;
        memset(b, 0, fixed + 1);
        np_put16(b, 41);
        b[2] = NP_SMB2_0_INFO_FILE;
        b[3] = klass;
        np_put32(b + 4, out_len);
        np_put16(b + 8, (uint16_t)(H + fixed));
        memcpy(b + 24, fid, 16);
        return (int)(H + fixed + 1);
}

int np_smb_build_set_info(uint8_t *msg, size_t cap, const uint8_t fid[16], uint8_t klass,
                          const void *buf, uint32_t len)
{
        const size_t fixed = sizeof(struct np_smb2_set_info_req);

        if (len == 0 || cap < H + fixed || cap - H - fixed < len)
                return NPIPE_EINVAL;
        uint8_t *b = msg + H;
        memset(b, 0, fixed);
        np_put16(b, 33);
        b[2] = NP_SMB2_0_INFO_FILE;
        b[3] = klass;
        np_put32(b + 4, len);
        np_put16(b + 8, (uint16_t)(H + fixed));
        memcpy(b + 16, fid, 16);
        memcpy(b + fixed, buf, len);
        return (int)(H + fixed + len);
}

int np_smb_build_pipe_wait(uint8_t *out, size_t cap, const char *name, int timeout_ms)
{
        const size_t fixed = sizeof(struct np_fscc_pipe_wait);

        if (cap < fixed)
                return NPIPE_EINVAL;
        int n = np_smb_utf16(name, out + fixed, cap - fixed);
        if (n <= 0)
                return n < 0 ? n : NPIPE_EINVAL;
        /* A relative time, as NT's own WaitNamedPipe sends: negative,
         * in 100 ns units; "for ever" is the most negative value. */
        bool given = timeout_ms != NP_SMB_WAIT_DEFAULT;
        int64_t t = !given ? 0 : timeout_ms < 0 ? INT64_MIN : -(int64_t)timeout_ms * 10000;
        np_put64(out, (uint64_t)t);
        np_put32(out + 8, (uint32_t)n);
        out[12] = given;
        out[13] = 0;
        return (int)(fixed + (size_t)n);
}

/* ---- responses ------------------------------------------------------- */

/* The 3.1.1 contexts of a NEGOTIATE response. */
static int parse_contexts(const uint8_t *msg, size_t len, uint32_t off, unsigned count,
                          struct np_smb_negotiate_info *ni)
{
        size_t pos = off;
        bool seen_pre = false, seen_enc = false, seen_sign = false;

        if (count > 64)
                return NPIPE_EPROTO;
        if (count > 0 && off < H + sizeof(struct np_smb2_negotiate_resp))
                return NPIPE_EPROTO;
        for (unsigned i = 0; i < count; i++) {
                pos = align8(pos);
                if (pos > len || len - pos < 8)
                        return NPIPE_EPROTO;
                uint16_t type = np_le16(msg + pos);
                uint16_t dlen = np_le16(msg + pos + 2);
                const uint8_t *d = msg + pos + 8;
                if (len - pos - 8 < dlen)
                        return NPIPE_EPROTO;
                switch (type) {
                case NP_SMB2_PREAUTH_INTEGRITY_CAPABILITIES:
                        /* exactly one algorithm chosen, and the salt fits */
                        if (seen_pre || dlen < 6 || np_le16(d) != 1 ||
                            (size_t)6 + np_le16(d + 2) > dlen)
                                return NPIPE_EPROTO;
                        if (np_le16(d + 4) != NP_SMB2_PREAUTH_SHA512)
                                return NPIPE_EPROTO;
                        ni->preauth_sha512 = true;
                        seen_pre = true;
                        break;
                case NP_SMB2_ENCRYPTION_CAPABILITIES:
                        if (seen_enc || dlen < 4 || np_le16(d) != 1)
                                return NPIPE_EPROTO;
                        ni->cipher = np_le16(d + 2);
                        if (ni->cipher > NP_SMB_CIPHER_AES256_GCM)
                                return NPIPE_EPROTO;
                        seen_enc = true;
                        break;
                case NP_SMB2_SIGNING_CAPABILITIES:
                        if (seen_sign || dlen < 4 || np_le16(d) != 1)
                                return NPIPE_EPROTO;
                        ni->sign_alg = np_le16(d + 2);
                        if (ni->sign_alg > NP_SMB_SIGN_AES_GMAC)
                                return NPIPE_EPROTO;
                        ni->have_sign_ctx = true;
                        seen_sign = true;
                        break;
                default:
                        break; /* others we did not offer: ignored */
                }
                pos += 8 + (size_t)dlen;
        }
        if (!seen_pre)
                return NPIPE_EPROTO; /* 3.1.1 requires it */
        return 0;
}

int np_smb_parse_negotiate(const uint8_t *msg, size_t len, struct np_smb_negotiate_info *ni)
{
        const uint8_t *b;
        const size_t fixed = sizeof(struct np_smb2_negotiate_resp);

        memset(ni, 0, sizeof(*ni));
        if (body(msg, len, 65, &b) < 0)
                return NPIPE_EPROTO;
        ni->security_mode = np_le16(b + 2);
        ni->dialect = np_le16(b + 4);
        ni->capabilities = np_le32(b + 24);
        ni->max_transact = np_le32(b + 28);
        ni->max_read = np_le32(b + 32);
        ni->max_write = np_le32(b + 36);
        ni->sign_alg = NP_SMB_SIGN_AES_CMAC;
        ni->cipher = NP_SMB_CIPHER_NONE;
        switch (ni->dialect) {
        case NP_SMB_2_0_2:
        case NP_SMB_2_1:
        case NP_SMB_3_0:
        case NP_SMB_3_0_2:
        case NP_SMB_3_1_1:
                break;
        default:
                return NPIPE_EPROTO; /* 0x02FF (wildcard) or one we did not offer */
        }
        if (region(msg, len, np_le16(b + 56), np_le16(b + 58), H + fixed, &ni->blob,
                   &ni->blob_len) < 0)
                return NPIPE_EPROTO;
        if (ni->dialect == NP_SMB_3_1_1)
                return parse_contexts(msg, len, np_le32(b + 60), np_le16(b + 6), ni);
        return 0;
}

int np_smb_parse_session_setup(const uint8_t *msg, size_t len, uint16_t *session_flags,
                               const uint8_t **blob, size_t *blob_len)
{
        const uint8_t *b;

        if (body(msg, len, 9, &b) < 0)
                return NPIPE_EPROTO;
        *session_flags = np_le16(b + 2);
        return region(msg, len, np_le16(b + 4), np_le16(b + 6),
                      H + sizeof(struct np_smb2_session_setup_resp), blob, blob_len);
}

int np_smb_parse_tree_connect(const uint8_t *msg, size_t len, uint8_t *share_type,
                              uint32_t *share_flags)
{
        const uint8_t *b;

        if (body(msg, len, 16, &b) < 0)
                return NPIPE_EPROTO;
        *share_type = b[2];
        *share_flags = np_le32(b + 4);
        return 0;
}

int np_smb_parse_create(const uint8_t *msg, size_t len, uint8_t fid[16])
{
        const uint8_t *b;

        if (body(msg, len, 89, &b) < 0)
                return NPIPE_EPROTO;
        memcpy(fid, b + NP_SMB2_OFF(np_smb2_create_resp, file_id), 16);
        return 0;
}

int np_smb_parse_fixed(const uint8_t *msg, size_t len, uint16_t structure_size)
{
        const uint8_t *b;

        return body(msg, len, structure_size, &b) < 0 ? NPIPE_EPROTO : 0;
}

int np_smb_parse_read(const uint8_t *msg, size_t len, const uint8_t **data, size_t *data_len)
{
        const uint8_t *b;

        if (body(msg, len, 17, &b) < 0)
                return NPIPE_EPROTO;
        return region(msg, len, b[2], np_le32(b + 4), H + sizeof(struct np_smb2_read_resp),
                      data, data_len);
}

int np_smb_parse_write(const uint8_t *msg, size_t len, uint32_t *count)
{
        const uint8_t *b;

        if (body(msg, len, 17, &b) < 0)
                return NPIPE_EPROTO;
        *count = np_le32(b + 4);
        return 0;
}

int np_smb_parse_ioctl(const uint8_t *msg, size_t len, const uint8_t **out, size_t *out_len)
{
        const uint8_t *b;

        if (body(msg, len, 49, &b) < 0)
                return NPIPE_EPROTO;
        return region(msg, len, np_le32(b + 32), np_le32(b + 36),
                      H + sizeof(struct np_smb2_ioctl_resp), out, out_len);
}

int np_smb_parse_query_info(const uint8_t *msg, size_t len, const uint8_t **out,
                            size_t *out_len)
{
        const uint8_t *b;

        if (body(msg, len, 9, &b) < 0)
                return NPIPE_EPROTO;
        return region(msg, len, np_le16(b + 2), np_le32(b + 4),
                      H + sizeof(struct np_smb2_query_info_resp), out, out_len);
}

int np_smb_parse_error(const uint8_t *msg, size_t len, uint32_t *byte_count)
{
        const uint8_t *b;

        if (body(msg, len, 9, &b) < 0)
                return NPIPE_EPROTO;
        *byte_count = np_le32(b + 4);
        if (*byte_count > len - H - 8)
                return NPIPE_EPROTO;
        return 0;
}

int np_smb_parse_pipe_peek(const uint8_t *buf, size_t len, struct np_smb_peek_info *pi)
{
        if (len < sizeof(struct np_fscc_pipe_peek))
                return NPIPE_EPROTO;
        pi->state = np_le32(buf);
        pi->avail = np_le32(buf + 4);
        pi->messages = np_le32(buf + 8);
        pi->message_len = np_le32(buf + 12);
        pi->data = buf + 16;
        pi->data_len = len - 16;
        return 0;
}

int np_smb_parse_pipe_local(const uint8_t *buf, size_t len, struct np_smb_pipe_local *pl)
{
        if (len < sizeof(struct np_fscc_pipe_local_info))
                return NPIPE_EPROTO;
        pl->type = np_le32(buf);
        pl->configuration = np_le32(buf + 4);
        pl->max_instances = np_le32(buf + 8);
        pl->cur_instances = np_le32(buf + 12);
        pl->in_quota = np_le32(buf + 16);
        pl->read_avail = np_le32(buf + 20);
        pl->out_quota = np_le32(buf + 24);
        pl->write_quota_avail = np_le32(buf + 28);
        pl->state = np_le32(buf + 32);
        pl->end = np_le32(buf + 36);
        return 0;
}

int np_smb_parse_pipe_info(const uint8_t *buf, size_t len, uint32_t *read_mode,
                           uint32_t *completion_mode)
{
        if (len < sizeof(struct np_fscc_pipe_info))
                return NPIPE_EPROTO;
        *read_mode = np_le32(buf);
        *completion_mode = np_le32(buf + 4);
        return 0;
}

/* ---- status ---------------------------------------------------------- */

static const struct {
        uint32_t nt;
        int st;
        const char *name;
} np_smb_statuses[] = {
#define S(x, st) {NP_STATUS_##x, st, "STATUS_" #x}
        S(SUCCESS, 0),
        S(BUFFER_OVERFLOW, NPIPE_EMOREDATA),
        S(OBJECT_NAME_NOT_FOUND, NPIPE_ENOENT),
        S(OBJECT_PATH_NOT_FOUND, NPIPE_ENOENT),
        S(NO_SUCH_FILE, NPIPE_ENOENT),
        S(OBJECT_NAME_INVALID, NPIPE_EBADNAME),
        S(OBJECT_PATH_SYNTAX_BAD, NPIPE_EBADPATH),
        S(PIPE_NOT_AVAILABLE, NPIPE_EBUSY),
        S(INSTANCE_NOT_AVAILABLE, NPIPE_EBUSY),
        S(PIPE_BUSY, NPIPE_EBUSY),
        /* NT tells these three apart and so does npipe (npipe.h's table) */
        S(PIPE_BROKEN, NPIPE_EPIPE),
        S(PIPE_DISCONNECTED, NPIPE_ENOTCONN),
        S(PIPE_CLOSING, NPIPE_ECLOSING),
        S(PIPE_CONNECTED, NPIPE_EISCONN),
        S(PIPE_LISTENING, NPIPE_ELISTENING),
        S(INVALID_PIPE_STATE, NPIPE_EBADPIPE),
        S(INVALID_READ_MODE, NPIPE_EBADPIPE),
        S(ILLEGAL_FUNCTION, NPIPE_EFUNCTION),
        S(PIPE_EMPTY, NPIPE_EAGAIN),
        S(ACCESS_DENIED, NPIPE_EACCES),
        S(NETWORK_ACCESS_DENIED, NPIPE_EACCES),
        S(LOGON_FAILURE, NPIPE_ELOGON),
        S(ACCOUNT_RESTRICTION, NPIPE_ELOGON),
        S(INVALID_LOGON_HOURS, NPIPE_ELOGON),
        S(INVALID_WORKSTATION, NPIPE_ELOGON),
        S(PASSWORD_EXPIRED, NPIPE_ELOGON),
        S(ACCOUNT_DISABLED, NPIPE_ELOGON),
        S(ACCOUNT_EXPIRED, NPIPE_ELOGON),
        S(ACCOUNT_LOCKED_OUT, NPIPE_ELOGON),
        S(PASSWORD_MUST_CHANGE, NPIPE_ELOGON),
        S(BAD_NETWORK_NAME, NPIPE_ENETPATH),
        S(BAD_NETWORK_PATH, NPIPE_ENETPATH),
        S(NETWORK_NAME_DELETED, NPIPE_ENETLOST),
        S(USER_SESSION_DELETED, NPIPE_ENETLOST),
        S(NETWORK_SESSION_EXPIRED, NPIPE_ENETLOST),
        S(IO_TIMEOUT, NPIPE_ETIMEDOUT),
        S(CANCELLED, NPIPE_ECANCELED),
        S(INVALID_PARAMETER, NPIPE_EINVAL),
        S(INVALID_HANDLE, NPIPE_EBADF),
        S(FILE_CLOSED, NPIPE_EBADF),
        S(NO_MEMORY, NPIPE_ENOMEM),
        S(INSUFFICIENT_RESOURCES, NPIPE_ELIMIT),
        S(BUFFER_TOO_SMALL, NPIPE_EBUFFER),
        /* smbd's answer to a pipe message over 65535 bytes */
        S(PORT_MESSAGE_TOO_LONG, NPIPE_EMSGSIZE),
        /* smbd 4.17 answers FSCTL_PIPE_PEEK and _WAIT with this */
        S(FS_DRIVER_REQUIRED, NPIPE_ENOTSUP),
        S(NOT_SUPPORTED, NPIPE_ENOTSUP),
        S(NOT_IMPLEMENTED, NPIPE_ENOTSUP),
        S(INVALID_DEVICE_REQUEST, NPIPE_ENOTSUP),
        S(INVALID_INFO_CLASS, NPIPE_ENOTSUP),
        S(NOT_FOUND, NPIPE_ENOTFOUND),
        S(END_OF_FILE, NPIPE_EPIPE),
        S(PENDING, NPIPE_EPROTO),
        S(MORE_PROCESSING_REQUIRED, NPIPE_EPROTO),
        S(INFO_LENGTH_MISMATCH, NPIPE_EPROTO),
#undef S
};

int np_smb_status(uint32_t nt)
{
        for (size_t i = 0; i < sizeof(np_smb_statuses) / sizeof(np_smb_statuses[0]); i++)
                if (np_smb_statuses[i].nt == nt)
                        return np_smb_statuses[i].st;
        return NPIPE_EPROTO;
}

const char *np_smb_status_name(uint32_t nt)
{
        for (size_t i = 0; i < sizeof(np_smb_statuses) / sizeof(np_smb_statuses[0]); i++)
                if (np_smb_statuses[i].nt == nt)
                        return np_smb_statuses[i].name;
        return NULL;
}
