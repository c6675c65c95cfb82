/*
 * msg.h - building SMB2 requests and parsing responses: pure functions,
 * no I/O, no allocation, no global state (fuzz/fuzz_smb2.c runs the
 * parsers on arbitrary bytes).
 *
 * A message is a whole SMB2 message as on the wire, from the 64-byte
 * header on, without the 4-byte transport length.  Builders write into
 * msg[0 .. cap) (header included: np_smb_put_hdr fills it) and return the
 * message's length, or NPIPE_EINVAL when it does not fit.  Parsers take
 * a server's response and check every offset and length before use: a
 * pointer they return always lies inside msg[0 .. len), and a malformed
 * response is NPIPE_EPROTO.
 */
#ifndef NPIPE_SMB_MSG_H
#define NPIPE_SMB_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smb/wire.h"

static inline uint16_t np_le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t np_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
}

static inline uint64_t np_le64(const uint8_t *p)
{
        return (uint64_t)np_le32(p) | (uint64_t)np_le32(p + 4) << 32;
}

static inline void np_put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static inline void np_put32(uint8_t *p, uint32_t v)
{
        np_put16(p, (uint16_t)v);
        np_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void np_put64(uint8_t *p, uint64_t v)
{
        np_put32(p, (uint32_t)v);
        np_put32(p + 4, (uint32_t)(v >> 32));
}

#define NP_SMB_FILE_ID_LEN 16

/* The fields of a response header. */
struct np_smb_hdr {
        uint16_t command;
        uint16_t credit_charge;
        uint16_t credits; /* granted */
        uint32_t status;
        uint32_t flags;
        uint32_t next_command;
        uint64_t message_id;
        uint64_t async_id; /* with NP_SMB2_FLAGS_ASYNC_COMMAND */
        uint32_t tree_id;  /* without it */
        uint64_t session_id;
};

/* Check and read a response header: the magic, StructureSize 64, the
 * server-to-redirector flag, len >= 64. */
int np_smb_parse_hdr(const uint8_t *msg, size_t len, struct np_smb_hdr *h);

/* May the response with header h answer a request to which an interim
 * STATUS_PENDING gave async_id (async: one did)?  Once a request is
 * asynchronous the server names it by that AsyncId (MS-SMB2 3.3.4.2):
 * a later interim or final answer with another is a protocol error, not
 * this request's. */
bool np_smb_async_consistent(bool async, uint64_t async_id, const struct np_smb_hdr *h);

/* Fill a request header (synchronous form). */
void np_smb_put_hdr(uint8_t *msg, uint16_t command, uint16_t credit_charge, uint16_t credit_req,
                    uint64_t message_id, uint32_t tree_id, uint64_t session_id);

/* UTF-8 to UTF-16LE (no terminator): the byte count, or NPIPE_EINVAL for
 * malformed UTF-8 (overlong forms, surrogates, above U+10FFFF) or
 * NPIPE_ENAMETOOLONG when it does not fit in cap bytes. */
int np_smb_utf16(const char *s, uint8_t *out, size_t cap);

/* ---- requests ---- */

struct np_smb_negotiate_args {
        const uint16_t *dialects;
        unsigned n_dialects;
        uint16_t security_mode;
        uint32_t capabilities;
        uint8_t client_guid[16];
        /* with 3.1.1 among the dialects: the contexts */
        uint8_t salt[NP_SMB2_PREAUTH_SALT_LEN];
        const uint16_t *ciphers; /* NP_SMB_CIPHER_* in order of preference */
        unsigned n_ciphers;
        const uint16_t *sign_algs; /* NP_SMB_SIGN_* */
        unsigned n_sign_algs;
};
int np_smb_build_negotiate(uint8_t *msg, size_t cap, const struct np_smb_negotiate_args *a);
int np_smb_build_session_setup(uint8_t *msg, size_t cap, uint8_t security_mode,
                               const void *blob, size_t blob_len);
/* LOGOFF, TREE_DISCONNECT, ECHO, CANCEL: the 4-byte body. */
int np_smb_build_small(uint8_t *msg, size_t cap, uint16_t command);
/* path: the share, "\\host\IPC$", UTF-8. */
int np_smb_build_tree_connect(uint8_t *msg, size_t cap, const char *path);
int np_smb_build_create(uint8_t *msg, size_t cap, const char *name, uint32_t desired_access);
int np_smb_build_close(uint8_t *msg, size_t cap, const uint8_t fid[16]);
int np_smb_build_flush(uint8_t *msg, size_t cap, const uint8_t fid[16]);
int np_smb_build_read(uint8_t *msg, size_t cap, const uint8_t fid[16], uint32_t length);
int np_smb_build_write(uint8_t *msg, size_t cap, const uint8_t fid[16], const void *data,
                       uint32_t len);
int np_smb_build_ioctl(uint8_t *msg, size_t cap, const uint8_t fid[16], uint32_t ctl,
                       const void *in, uint32_t in_len, uint32_t max_out);
int np_smb_build_query_info(uint8_t *msg, size_t cap, const uint8_t fid[16], uint8_t klass,
                            uint32_t out_len);
int np_smb_build_set_info(uint8_t *msg, size_t cap, const uint8_t fid[16], uint8_t klass,
                          const void *buf, uint32_t len);
/* The FSCTL_PIPE_WAIT input for name (UTF-8): timeout_ms
 * NP_SMB_WAIT_DEFAULT leaves the pipe's default (TimeoutSpecified 0), -1
 * waits for ever.  The byte count or negative. */
#define NP_SMB_WAIT_DEFAULT (-2) /* NPIPE_WAIT_DEFAULT */
int np_smb_build_pipe_wait(uint8_t *out, size_t cap, const char *name, int timeout_ms);

/* ---- responses ---- */

struct np_smb_negotiate_info {
        uint16_t dialect;
        uint16_t security_mode;
        uint32_t capabilities;
        uint32_t max_transact, max_read, max_write;
        const uint8_t *blob; /* the server's security blob (may be empty) */
        size_t blob_len;
        /* 3.1.1 */
        bool preauth_sha512;
        uint16_t cipher;   /* NP_SMB_CIPHER_NONE when none was chosen */
        uint16_t sign_alg; /* NP_SMB_SIGN_AES_CMAC when the context is missing */
        bool have_sign_ctx;
};
int np_smb_parse_negotiate(const uint8_t *msg, size_t len, struct np_smb_negotiate_info *ni);

int np_smb_parse_session_setup(const uint8_t *msg, size_t len, uint16_t *session_flags,
                               const uint8_t **blob, size_t *blob_len);
int np_smb_parse_tree_connect(const uint8_t *msg, size_t len, uint8_t *share_type,
                              uint32_t *share_flags);
int np_smb_parse_create(const uint8_t *msg, size_t len, uint8_t fid[16]);
/* A body of the given StructureSize and nothing to read from it (CLOSE,
 * FLUSH, ECHO, LOGOFF, TREE_DISCONNECT, SET_INFO). */
int np_smb_parse_fixed(const uint8_t *msg, size_t len, uint16_t structure_size);
int np_smb_parse_read(const uint8_t *msg, size_t len, const uint8_t **data, size_t *data_len);
int np_smb_parse_write(const uint8_t *msg, size_t len, uint32_t *count);
int np_smb_parse_ioctl(const uint8_t *msg, size_t len, const uint8_t **out, size_t *out_len);
int np_smb_parse_query_info(const uint8_t *msg, size_t len, const uint8_t **out,
                            size_t *out_len);
/* The ERROR body, if any (its data is not interpreted). */
int np_smb_parse_error(const uint8_t *msg, size_t len, uint32_t *byte_count);

struct np_smb_peek_info {
        uint32_t state, avail, messages, message_len;
        const uint8_t *data;
        size_t data_len;
};
int np_smb_parse_pipe_peek(const uint8_t *buf, size_t len, struct np_smb_peek_info *pi);

struct np_smb_pipe_local {
        uint32_t type, configuration, max_instances, cur_instances;
        uint32_t in_quota, read_avail, out_quota, write_quota_avail, state, end;
};
int np_smb_parse_pipe_local(const uint8_t *buf, size_t len, struct np_smb_pipe_local *pl);
int np_smb_parse_pipe_info(const uint8_t *buf, size_t len, uint32_t *read_mode,
                           uint32_t *completion_mode);

/* ---- status ---- */

/* The NPIPE_* status for an NTSTATUS (NPIPE_EPROTO for one we do not
 * know; NPIPE_EMOREDATA for STATUS_BUFFER_OVERFLOW; 0 for success). */
int np_smb_status(uint32_t nt);
/* Its name ("STATUS_PIPE_BROKEN"), or NULL when unknown. */
const char *np_smb_status_name(uint32_t nt);

#endif
