/*
 * npa.h - the handshake smbd performs on a named-pipe socket before any pipe
 * data flows ("named_pipe_auth", librpc/idl/named_pipe_auth.idl in Samba),
 * decoded and answered by our own code.
 *
 * smbd hands every open of \\host\pipe\NAME to a unix stream socket
 * <np dir>/<name>.  Right after connect() it sends one request: a 4-byte
 * big-endian length, then an NDR32 blob ("NPAM", a level, then the client's
 * address and the full auth_session_info of the SMB user).  The server must
 * answer at once with a 36-byte reply carrying the same level and the file
 * type (byte or message); smbd blocks the client's whole SMB connection
 * until then.  Levels: 5 (Samba 4.16-4.17.8, 4.18.0-4.18.2), 7 (4.17.9+,
 * 4.18.3-4.19), 8 (4.20+: same request as 7 but a changed session info).
 *
 * Everything smbd sends is treated as untrusted bytes: every read is
 * bounds-checked against the blob, every count against a limit, and any
 * inconsistency fails the whole request (the caller then closes the socket,
 * which is the only refusal smbd understands).  The decoder allocates
 * nothing; it fills a fixed-size struct and truncates nothing silently
 * (a field that does not fit is an error, except the lists documented
 * below, which stop at their limit and set a flag).
 *
 * This file is pure: no syscalls, so the fuzzer and the unit tests link it
 * alone.
 */
#ifndef NPIPE_REMOTE_NPA_H
#define NPIPE_REMOTE_NPA_H

#include <stddef.h>
#include <stdint.h>

/* Largest request accepted, length word included.  smbd's own limit is
 * 16 MiB; a real request is under 2 KiB (739 bytes for an NTLM user with 9
 * SIDs), a user in hundreds of groups a few KiB. */
#define NP_NPA_MAX_REQUEST (256u * 1024u)
#define NP_NPA_REPLY_SIZE 36u

#define NP_NPA_MAX_SIDS 32u   /* more are counted in nsids_total, not kept */
#define NP_NPA_MAX_GROUPS 32u /* likewise for unix groups */
#define NP_NPA_SID_STR 192u   /* "S-1-" + 48-bit authority + 15 sub-authorities + NUL */
#define NP_NPA_NAME_MAX 256u  /* account, domain, host names, in UTF-8 with the NUL */
#define NP_NPA_ADDR_MAX 64u   /* textual IPv4/IPv6 address with the NUL */

/* np_npa_identity.flags */
#define NP_NPA_HAVE_SESSION 0x01u   /* a session_info was present */
#define NP_NPA_HAVE_UNIX 0x02u      /* uid/gid/groups are valid */
#define NP_NPA_ANONYMOUS 0x04u      /* the user SID is S-1-5-7 (null session) */
#define NP_NPA_ENCRYPTED 0x08u      /* an S-1-22-1397571891-<dialect>-<encrypt>-<cipher>
                                      * pseudo-SID says the SMB transport was encrypted */
#define NP_NPA_SIDS_TRUNCATED 0x10u /* more than NP_NPA_MAX_SIDS SIDs */
#define NP_NPA_GROUPS_TRUNCATED 0x20u

struct np_npa_identity {
        uint32_t flags; /* NP_NPA_* */
        uint64_t uid, gid;
        uint32_t ngroups;      /* kept in groups[] */
        uint32_t ngroups_total;
        uint64_t groups[NP_NPA_MAX_GROUPS];
        /* SIDs of the security token, in token order; the Samba pseudo-SIDs
         * S-1-22-2041152804-* (NPA flags) and S-1-22-1397571891-* (transport)
         * are left out of this list (they describe the transport, not the
         * user: see flags). */
        uint32_t nsids;
        uint32_t nsids_total;
        char sids[NP_NPA_MAX_SIDS][NP_NPA_SID_STR];
        char account[NP_NPA_NAME_MAX]; /* auth_user_info account_name, "" if none */
        char domain[NP_NPA_NAME_MAX];  /* auth_user_info domain_name, "" if none */
        char unix_name[NP_NPA_NAME_MAX]; /* auth_user_info_unix unix_name, "" if none */
};

struct np_npa_request {
        uint32_t level;     /* 5, 7 or 8 */
        uint32_t transport; /* 1 = NCACN_NP */
        char remote_client_name[NP_NPA_NAME_MAX]; /* smbd puts its own host name here */
        char remote_client_addr[NP_NPA_ADDR_MAX];
        uint16_t remote_client_port;
        char local_server_name[NP_NPA_NAME_MAX];
        char local_server_addr[NP_NPA_ADDR_MAX];
        uint16_t local_server_port;
        uint8_t need_idle_server; /* level 5 only */
        struct np_npa_identity id;
};

/*
 * Given the first 4 bytes received, the size of the whole request (length
 * word included) in *total.  Returns 0, or a negative NPIPE_E* code
 * (NPIPE_EPROTO) when the length is 0 or exceeds NP_NPA_MAX_REQUEST.
 */
int np_npa_request_size(const uint8_t first4[4], size_t *total);

/*
 * Decode a whole request of `len` bytes (length word included, as
 * np_npa_request_size announced).  Returns 0, NPIPE_ENOTSUP for a level
 * this code does not know (the caller closes the socket: fail closed), or
 * NPIPE_EPROTO for anything malformed, including trailing bytes.
 */
int np_npa_parse(const uint8_t *buf, size_t len, struct np_npa_request *out);

/*
 * The reply smbd expects: NP_NPA_REPLY_SIZE bytes into out, the request's
 * level echoed, file type 2 (message) or 1 (byte), device state 0x05ff,
 * allocation size 4096, status 0.
 */
void np_npa_reply(uint8_t out[NP_NPA_REPLY_SIZE], uint32_t level, int message_mode);

#endif /* NPIPE_REMOTE_NPA_H */
