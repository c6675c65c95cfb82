/*
 * wire.h - SMB2/3 message layouts, as MS-SMB2 section 2.2 gives them, and
 * the few MS-FSCC structures the pipe operations carry.
 *
 * Each fixed part is a packed struct of little-endian fields, used only for
 * its offsets and size (msg.c reads and writes through np_le*() at
 * offsetof(), never through a cast pointer, so alignment and the host's
 * byte order never matter).  Every size and every offset the code relies
 * on is checked below against the document.  Variable parts (buffers)
 * follow the fixed part; their offsets on the wire count from the start of
 * the SMB2 header.
 */
#ifndef NPIPE_SMB_WIRE_H
#define NPIPE_SMB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define NP_SMB2_PACKED __attribute__((packed))

/* ---- the header (2.2.1) ------------------------------------------------ */

#define NP_SMB2_MAGIC 0x424d53feu      /* 0xFE 'S' 'M' 'B', read little-endian */
#define NP_SMB2_TF_MAGIC 0x424d53fdu   /* 0xFD 'S' 'M' 'B': transform header */
#define NP_SMB1_MAGIC 0x424d53ffu      /* 0xFF 'S' 'M' 'B': an SMB1 server */
#define NP_SMB2_HDR_LEN 64

struct np_smb2_hdr {
        uint32_t protocol_id;
        uint16_t structure_size; /* 64 */
        uint16_t credit_charge;
        uint32_t status; /* ChannelSequence/Reserved in requests */
        uint16_t command;
        uint16_t credits; /* CreditRequest / CreditResponse */
        uint32_t flags;
        uint32_t next_command;
        uint64_t message_id;
        union {
                struct {
                        uint32_t process_id; /* Reserved */
                        uint32_t tree_id;
                } NP_SMB2_PACKED sync;
                uint64_t async_id;
        } NP_SMB2_PACKED u;
        uint64_t session_id;
        uint8_t signature[16];
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_hdr) == NP_SMB2_HDR_LEN, "SMB2 header");
_Static_assert(offsetof(struct np_smb2_hdr, credit_charge) == 6, "CreditCharge");
_Static_assert(offsetof(struct np_smb2_hdr, status) == 8, "Status");
_Static_assert(offsetof(struct np_smb2_hdr, command) == 12, "Command");
_Static_assert(offsetof(struct np_smb2_hdr, credits) == 14, "Credit");
_Static_assert(offsetof(struct np_smb2_hdr, flags) == 16, "Flags");
_Static_assert(offsetof(struct np_smb2_hdr, next_command) == 20, "NextCommand");
_Static_assert(offsetof(struct np_smb2_hdr, message_id) == 24, "MessageId");
_Static_assert(offsetof(struct np_smb2_hdr, u.async_id) == 32, "AsyncId");
_Static_assert(offsetof(struct np_smb2_hdr, u.sync.tree_id) == 36, "TreeId");
_Static_assert(offsetof(struct np_smb2_hdr, session_id) == 40, "SessionId");
_Static_assert(offsetof(struct np_smb2_hdr, signature) == 48, "Signature");

#define NP_SMB2_OFF(type, field) ((size_t)offsetof(struct type, field))
#define NP_SMB2_H(field) NP_SMB2_OFF(np_smb2_hdr, field)
#define NP_SMB2_H_TREE_ID ((size_t)offsetof(struct np_smb2_hdr, u.sync.tree_id))
#define NP_SMB2_H_ASYNC_ID ((size_t)offsetof(struct np_smb2_hdr, u.async_id))

/* Commands (2.2.1.2). */
enum {
        NP_SMB2_NEGOTIATE = 0x0000,
        NP_SMB2_SESSION_SETUP = 0x0001,
        NP_SMB2_LOGOFF = 0x0002,
        NP_SMB2_TREE_CONNECT = 0x0003,
        NP_SMB2_TREE_DISCONNECT = 0x0004,
        NP_SMB2_CREATE = 0x0005,
        NP_SMB2_CLOSE = 0x0006,
        NP_SMB2_FLUSH = 0x0007,
        NP_SMB2_READ = 0x0008,
        NP_SMB2_WRITE = 0x0009,
        NP_SMB2_LOCK = 0x000A,
        NP_SMB2_IOCTL = 0x000B,
        NP_SMB2_CANCEL = 0x000C,
        NP_SMB2_ECHO = 0x000D,
        NP_SMB2_QUERY_DIRECTORY = 0x000E,
        NP_SMB2_CHANGE_NOTIFY = 0x000F,
        NP_SMB2_QUERY_INFO = 0x0010,
        NP_SMB2_SET_INFO = 0x0011,
        NP_SMB2_OPLOCK_BREAK = 0x0012,
};

/* Header flags (2.2.1.2). */
#define NP_SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define NP_SMB2_FLAGS_ASYNC_COMMAND 0x00000002u
#define NP_SMB2_FLAGS_RELATED_OPERATIONS 0x00000004u
#define NP_SMB2_FLAGS_SIGNED 0x00000008u
#define NP_SMB2_FLAGS_PRIORITY_MASK 0x00000070u
#define NP_SMB2_FLAGS_DFS_OPERATIONS 0x10000000u
#define NP_SMB2_FLAGS_REPLAY_OPERATION 0x20000000u

/* The MessageId of an unsolicited oplock break (3.2.5.19). */
#define NP_SMB2_UNSOLICITED_ID UINT64_C(0xFFFFFFFFFFFFFFFF)

/* ---- NEGOTIATE (2.2.3, 2.2.4) ------------------------------------------ */

#define NP_SMB2_NEGOTIATE_SIGNING_ENABLED 0x0001u
#define NP_SMB2_NEGOTIATE_SIGNING_REQUIRED 0x0002u

#define NP_SMB2_GLOBAL_CAP_DFS 0x00000001u
#define NP_SMB2_GLOBAL_CAP_LEASING 0x00000002u
#define NP_SMB2_GLOBAL_CAP_LARGE_MTU 0x00000004u
#define NP_SMB2_GLOBAL_CAP_MULTI_CHANNEL 0x00000008u
#define NP_SMB2_GLOBAL_CAP_PERSISTENT_HANDLES 0x00000010u
#define NP_SMB2_GLOBAL_CAP_DIRECTORY_LEASING 0x00000020u
#define NP_SMB2_GLOBAL_CAP_ENCRYPTION 0x00000040u

struct np_smb2_negotiate_req {
        uint16_t structure_size; /* 36 */
        uint16_t dialect_count;
        uint16_t security_mode;
        uint16_t reserved;
        uint32_t capabilities;
        uint8_t client_guid[16];
        uint32_t context_offset; /* 3.1.1; ClientStartTime before */
        uint16_t context_count;
        uint16_t reserved2;
        /* uint16_t dialects[dialect_count], padding, contexts */
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_negotiate_req) == 36, "NEGOTIATE request");
_Static_assert(offsetof(struct np_smb2_negotiate_req, security_mode) == 4, "SecurityMode");
_Static_assert(offsetof(struct np_smb2_negotiate_req, capabilities) == 8, "Capabilities");
_Static_assert(offsetof(struct np_smb2_negotiate_req, client_guid) == 12, "ClientGuid");
_Static_assert(offsetof(struct np_smb2_negotiate_req, context_offset) == 28, "CtxOffset");
_Static_assert(offsetof(struct np_smb2_negotiate_req, context_count) == 32, "CtxCount");

struct np_smb2_negotiate_resp {
        uint16_t structure_size; /* 65 */
        uint16_t security_mode;
        uint16_t dialect;
        uint16_t context_count; /* 3.1.1 */
        uint8_t server_guid[16];
        uint32_t capabilities;
        uint32_t max_transact;
        uint32_t max_read;
        uint32_t max_write;
        uint64_t system_time;
        uint64_t server_start_time;
        uint16_t sec_offset;
        uint16_t sec_length;
        uint32_t context_offset; /* 3.1.1 */
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_negotiate_resp) == 64, "NEGOTIATE response");
_Static_assert(offsetof(struct np_smb2_negotiate_resp, dialect) == 4, "DialectRevision");
_Static_assert(offsetof(struct np_smb2_negotiate_resp, capabilities) == 24, "Capabilities");
_Static_assert(offsetof(struct np_smb2_negotiate_resp, max_transact) == 28, "MaxTransact");
_Static_assert(offsetof(struct np_smb2_negotiate_resp, max_write) == 36, "MaxWrite");
_Static_assert(offsetof(struct np_smb2_negotiate_resp, sec_offset) == 56, "SecBufOffset");
_Static_assert(offsetof(struct np_smb2_negotiate_resp, context_offset) == 60, "CtxOffset");

/* Negotiate contexts (2.2.3.1): each starts 8-aligned. */
struct np_smb2_neg_ctx {
        uint16_t type;
        uint16_t data_length;
        uint32_t reserved;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_neg_ctx) == 8, "negotiate context header");

#define NP_SMB2_PREAUTH_INTEGRITY_CAPABILITIES 0x0001u
#define NP_SMB2_ENCRYPTION_CAPABILITIES 0x0002u
#define NP_SMB2_COMPRESSION_CAPABILITIES 0x0003u
#define NP_SMB2_NETNAME_NEGOTIATE_CONTEXT_ID 0x0005u
#define NP_SMB2_SIGNING_CAPABILITIES 0x0008u
#define NP_SMB2_PREAUTH_SHA512 0x0001u
#define NP_SMB2_PREAUTH_SALT_LEN 32

/* ---- SESSION_SETUP, LOGOFF (2.2.5 - 2.2.8) ------------------------------ */

struct np_smb2_session_setup_req {
        uint16_t structure_size; /* 25 */
        uint8_t flags;
        uint8_t security_mode;
        uint32_t capabilities;
        uint32_t channel;
        uint16_t sec_offset;
        uint16_t sec_length;
        uint64_t previous_session_id;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_session_setup_req) == 24, "SESSION_SETUP request");
_Static_assert(offsetof(struct np_smb2_session_setup_req, sec_offset) == 12, "SecBufOffset");

#define NP_SMB2_SESSION_FLAG_IS_GUEST 0x0001u
#define NP_SMB2_SESSION_FLAG_IS_NULL 0x0002u
#define NP_SMB2_SESSION_FLAG_ENCRYPT_DATA 0x0004u

struct np_smb2_session_setup_resp {
        uint16_t structure_size; /* 9 */
        uint16_t session_flags;
        uint16_t sec_offset;
        uint16_t sec_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_session_setup_resp) == 8, "SESSION_SETUP response");

/* LOGOFF, TREE_DISCONNECT, ECHO, CANCEL, FLUSH response: StructureSize 4 */
struct np_smb2_small {
        uint16_t structure_size; /* 4 */
        uint16_t reserved;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_small) == 4, "4-byte body");

/* ---- TREE_CONNECT (2.2.9, 2.2.10) -------------------------------------- */

struct np_smb2_tree_connect_req {
        uint16_t structure_size; /* 9 */
        uint16_t flags;
        uint16_t path_offset;
        uint16_t path_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_tree_connect_req) == 8, "TREE_CONNECT request");

#define NP_SMB2_SHARE_TYPE_PIPE 0x02u
#define NP_SMB2_SHAREFLAG_ENCRYPT_DATA 0x00008000u

struct np_smb2_tree_connect_resp {
        uint16_t structure_size; /* 16 */
        uint8_t share_type;
        uint8_t reserved;
        uint32_t share_flags;
        uint32_t capabilities;
        uint32_t maximal_access;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_tree_connect_resp) == 16, "TREE_CONNECT response");
_Static_assert(offsetof(struct np_smb2_tree_connect_resp, share_flags) == 4, "ShareFlags");

/* ---- CREATE, CLOSE, FLUSH (2.2.13 - 2.2.18) ---------------------------- */

struct np_smb2_create_req {
        uint16_t structure_size; /* 57 */
        uint8_t security_flags;
        uint8_t oplock_level;
        uint32_t impersonation_level;
        uint64_t create_flags;
        uint64_t reserved;
        uint32_t desired_access;
        uint32_t file_attributes;
        uint32_t share_access;
        uint32_t create_disposition;
        uint32_t create_options;
        uint16_t name_offset;
        uint16_t name_length;
        uint32_t contexts_offset;
        uint32_t contexts_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_create_req) == 56, "CREATE request");
_Static_assert(offsetof(struct np_smb2_create_req, desired_access) == 24, "DesiredAccess");
_Static_assert(offsetof(struct np_smb2_create_req, name_offset) == 44, "NameOffset");
_Static_assert(offsetof(struct np_smb2_create_req, contexts_length) == 52, "CtxLength");

#define NP_SMB2_IMPERSONATION_IMPERSONATION 0x00000002u
#define NP_SMB2_FILE_OPEN 0x00000001u
#define NP_SMB2_FILE_NON_DIRECTORY_FILE 0x00000040u
#define NP_SMB2_FILE_SHARE_READ 0x00000001u
#define NP_SMB2_FILE_SHARE_WRITE 0x00000002u

/* Access rights (MS-SMB2 2.2.13.1.1). */
#define NP_FILE_READ_DATA 0x00000001u
#define NP_FILE_WRITE_DATA 0x00000002u
#define NP_FILE_APPEND_DATA 0x00000004u
#define NP_FILE_READ_EA 0x00000008u
#define NP_FILE_WRITE_EA 0x00000010u
#define NP_FILE_READ_ATTRIBUTES 0x00000080u
#define NP_FILE_WRITE_ATTRIBUTES 0x00000100u
#define NP_READ_CONTROL 0x00020000u
#define NP_SYNCHRONIZE 0x00100000u

struct np_smb2_create_resp {
        uint16_t structure_size; /* 89 */
        uint8_t oplock_level;
        uint8_t flags;
        uint32_t create_action;
        uint64_t creation_time;
        uint64_t last_access_time;
        uint64_t last_write_time;
        uint64_t change_time;
        uint64_t allocation_size;
        uint64_t end_of_file;
        uint32_t file_attributes;
        uint32_t reserved2;
        uint8_t file_id[16];
        uint32_t contexts_offset;
        uint32_t contexts_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_create_resp) == 88, "CREATE response");
_Static_assert(offsetof(struct np_smb2_create_resp, file_id) == 64, "FileId");

struct np_smb2_close_req {
        uint16_t structure_size; /* 24 */
        uint16_t flags;
        uint32_t reserved;
        uint8_t file_id[16];
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_close_req) == 24, "CLOSE request");
_Static_assert(offsetof(struct np_smb2_close_req, file_id) == 8, "FileId");
#define NP_SMB2_CLOSE_RESP_SIZE 60

struct np_smb2_flush_req {
        uint16_t structure_size; /* 24 */
        uint16_t reserved1;
        uint32_t reserved2;
        uint8_t file_id[16];
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_flush_req) == 24, "FLUSH request");

/* ---- READ, WRITE (2.2.19 - 2.2.22) ------------------------------------- */

struct np_smb2_read_req {
        uint16_t structure_size; /* 49 */
        uint8_t padding;
        uint8_t flags;
        uint32_t length;
        uint64_t offset;
        uint8_t file_id[16];
        uint32_t minimum_count;
        uint32_t channel;
        uint32_t remaining_bytes;
        uint16_t channel_info_offset;
        uint16_t channel_info_length;
        /* one byte of Buffer is required on the wire */
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_read_req) == 48, "READ request");
_Static_assert(offsetof(struct np_smb2_read_req, length) == 4, "Length");
_Static_assert(offsetof(struct np_smb2_read_req, file_id) == 16, "FileId");
_Static_assert(offsetof(struct np_smb2_read_req, minimum_count) == 32, "MinimumCount");

struct np_smb2_read_resp {
        uint16_t structure_size; /* 17 */
        uint8_t data_offset;
        uint8_t reserved;
        uint32_t data_length;
        uint32_t data_remaining;
        uint32_t reserved2;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_read_resp) == 16, "READ response");
_Static_assert(offsetof(struct np_smb2_read_resp, data_length) == 4, "DataLength");

struct np_smb2_write_req {
        uint16_t structure_size; /* 49 */
        uint16_t data_offset;
        uint32_t length;
        uint64_t offset;
        uint8_t file_id[16];
        uint32_t channel;
        uint32_t remaining_bytes;
        uint16_t channel_info_offset;
        uint16_t channel_info_length;
        uint32_t flags;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_write_req) == 48, "WRITE request");
_Static_assert(offsetof(struct np_smb2_write_req, file_id) == 16, "FileId");
_Static_assert(offsetof(struct np_smb2_write_req, flags) == 44, "Flags");

struct np_smb2_write_resp {
        uint16_t structure_size; /* 17 */
        uint16_t reserved;
        uint32_t count;
        uint32_t remaining;
        uint16_t channel_info_offset;
        uint16_t channel_info_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_write_resp) == 16, "WRITE response");

/* ---- IOCTL (2.2.31, 2.2.32) -------------------------------------------- */

struct np_smb2_ioctl_req {
        uint16_t structure_size; /* 57 */
        uint16_t reserved;
        uint32_t ctl_code;
        uint8_t file_id[16];
        uint32_t input_offset;
        uint32_t input_count;
        uint32_t max_input_response;
        uint32_t output_offset;
        uint32_t output_count;
        uint32_t max_output_response;
        uint32_t flags;
        uint32_t reserved2;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_ioctl_req) == 56, "IOCTL request");
_Static_assert(offsetof(struct np_smb2_ioctl_req, input_offset) == 24, "InputOffset");
_Static_assert(offsetof(struct np_smb2_ioctl_req, max_output_response) == 44, "MaxOutput");
_Static_assert(offsetof(struct np_smb2_ioctl_req, flags) == 48, "Flags");

struct np_smb2_ioctl_resp {
        uint16_t structure_size; /* 49 */
        uint16_t reserved;
        uint32_t ctl_code;
        uint8_t file_id[16];
        uint32_t input_offset;
        uint32_t input_count;
        uint32_t output_offset;
        uint32_t output_count;
        uint32_t flags;
        uint32_t reserved2;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_ioctl_resp) == 48, "IOCTL response");
_Static_assert(offsetof(struct np_smb2_ioctl_resp, output_offset) == 32, "OutputOffset");

#define NP_SMB2_0_IOCTL_IS_FSCTL 0x00000001u
#define NP_FSCTL_PIPE_PEEK 0x0011400Cu
#define NP_FSCTL_PIPE_WAIT 0x00110018u
#define NP_FSCTL_PIPE_TRANSCEIVE 0x0011C017u

/* FSCTL_PIPE_WAIT input (MS-FSCC 2.3.49); the name follows. */
struct np_fscc_pipe_wait {
        int64_t timeout; /* 100 ns units */
        uint32_t name_length;
        uint8_t timeout_specified;
        uint8_t padding;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_fscc_pipe_wait) == 14, "FSCTL_PIPE_WAIT request");

/* FSCTL_PIPE_PEEK output (MS-FSCC 2.3.47); the data follows. */
struct np_fscc_pipe_peek {
        uint32_t state;
        uint32_t read_data_available;
        uint32_t number_of_messages;
        uint32_t message_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_fscc_pipe_peek) == 16, "FSCTL_PIPE_PEEK reply");

/* ---- QUERY_INFO, SET_INFO (2.2.37 - 2.2.40) ---------------------------- */

struct np_smb2_query_info_req {
        uint16_t structure_size; /* 41 */
        uint8_t info_type;
        uint8_t file_info_class;
        uint32_t output_buffer_length;
        uint16_t input_buffer_offset;
        uint16_t reserved;
        uint32_t input_buffer_length;
        uint32_t additional_information;
        uint32_t flags;
        uint8_t file_id[16];
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_query_info_req) == 40, "QUERY_INFO request");
_Static_assert(offsetof(struct np_smb2_query_info_req, file_id) == 24, "FileId");

struct np_smb2_query_info_resp {
        uint16_t structure_size; /* 9 */
        uint16_t output_offset;
        uint32_t output_length;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_query_info_resp) == 8, "QUERY_INFO response");

struct np_smb2_set_info_req {
        uint16_t structure_size; /* 33 */
        uint8_t info_type;
        uint8_t file_info_class;
        uint32_t buffer_length;
        uint16_t buffer_offset;
        uint16_t reserved;
        uint32_t additional_information;
        uint8_t file_id[16];
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_set_info_req) == 32, "SET_INFO request");
_Static_assert(offsetof(struct np_smb2_set_info_req, file_id) == 16, "FileId");

#define NP_SMB2_0_INFO_FILE 0x01u
#define NP_FILE_PIPE_INFORMATION 23
#define NP_FILE_PIPE_LOCAL_INFORMATION 24

/* FilePipeInformation (MS-FSCC 2.4.33). */
struct np_fscc_pipe_info {
        uint32_t read_mode;       /* 0 byte, 1 message */
        uint32_t completion_mode; /* 0 queue (blocking), 1 complete (nowait) */
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_fscc_pipe_info) == 8, "FilePipeInformation");

/* FilePipeLocalInformation (MS-FSCC 2.4.34). */
struct np_fscc_pipe_local_info {
        uint32_t type;          /* 0 byte, 1 message */
        uint32_t configuration; /* 0 inbound, 1 outbound, 2 full duplex */
        uint32_t maximum_instances;
        uint32_t current_instances;
        uint32_t inbound_quota;
        uint32_t read_data_available;
        uint32_t outbound_quota;
        uint32_t write_quota_available;
        uint32_t state;
        uint32_t end; /* 0 client, 1 server */
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_fscc_pipe_local_info) == 40, "FilePipeLocalInformation");

/* ---- ERROR (2.2.2), transform header (2.2.41) -------------------------- */

struct np_smb2_error_resp {
        uint16_t structure_size; /* 9 */
        uint8_t context_count;
        uint8_t reserved;
        uint32_t byte_count;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_error_resp) == 8, "ERROR response");

struct np_smb2_transform_hdr {
        uint32_t protocol_id; /* 0xFD 'S' 'M' 'B' */
        uint8_t signature[16];
        uint8_t nonce[16];
        uint32_t original_message_size;
        uint16_t reserved;
        uint16_t flags; /* Encrypted (1) */
        uint64_t session_id;
} NP_SMB2_PACKED;
_Static_assert(sizeof(struct np_smb2_transform_hdr) == 52, "transform header");
_Static_assert(offsetof(struct np_smb2_transform_hdr, original_message_size) == 36, "OrigSize");
_Static_assert(offsetof(struct np_smb2_transform_hdr, session_id) == 44, "SessionId");

/* ---- NTSTATUS values used (MS-ERREF 2.3.1) ----------------------------- */

#define NP_STATUS_SUCCESS 0x00000000u
#define NP_STATUS_PENDING 0x00000103u
#define NP_STATUS_BUFFER_OVERFLOW 0x80000005u
#define NP_STATUS_NOT_IMPLEMENTED 0xC0000002u
#define NP_STATUS_INVALID_INFO_CLASS 0xC0000003u
#define NP_STATUS_INFO_LENGTH_MISMATCH 0xC0000004u
#define NP_STATUS_INVALID_HANDLE 0xC0000008u
#define NP_STATUS_INVALID_PARAMETER 0xC000000Du
#define NP_STATUS_NO_SUCH_FILE 0xC000000Fu
#define NP_STATUS_INVALID_DEVICE_REQUEST 0xC0000010u
#define NP_STATUS_END_OF_FILE 0xC0000011u
#define NP_STATUS_MORE_PROCESSING_REQUIRED 0xC0000016u
#define NP_STATUS_NO_MEMORY 0xC0000017u
#define NP_STATUS_ACCESS_DENIED 0xC0000022u
#define NP_STATUS_BUFFER_TOO_SMALL 0xC0000023u
#define NP_STATUS_PORT_MESSAGE_TOO_LONG 0xC000002Fu
#define NP_STATUS_OBJECT_NAME_INVALID 0xC0000033u
#define NP_STATUS_OBJECT_NAME_NOT_FOUND 0xC0000034u
#define NP_STATUS_OBJECT_PATH_NOT_FOUND 0xC000003Au
#define NP_STATUS_OBJECT_PATH_SYNTAX_BAD 0xC000003Bu
#define NP_STATUS_LOGON_FAILURE 0xC000006Du
#define NP_STATUS_ACCOUNT_RESTRICTION 0xC000006Eu
#define NP_STATUS_INVALID_LOGON_HOURS 0xC000006Fu
#define NP_STATUS_INVALID_WORKSTATION 0xC0000070u
#define NP_STATUS_PASSWORD_EXPIRED 0xC0000071u
#define NP_STATUS_ACCOUNT_DISABLED 0xC0000072u
#define NP_STATUS_INSUFFICIENT_RESOURCES 0xC000009Au
#define NP_STATUS_INSTANCE_NOT_AVAILABLE 0xC00000ABu
#define NP_STATUS_PIPE_NOT_AVAILABLE 0xC00000ACu
#define NP_STATUS_INVALID_PIPE_STATE 0xC00000ADu
#define NP_STATUS_PIPE_BUSY 0xC00000AEu
#define NP_STATUS_ILLEGAL_FUNCTION 0xC00000AFu
#define NP_STATUS_PIPE_DISCONNECTED 0xC00000B0u
#define NP_STATUS_PIPE_CLOSING 0xC00000B1u
#define NP_STATUS_PIPE_CONNECTED 0xC00000B2u
#define NP_STATUS_PIPE_LISTENING 0xC00000B3u
#define NP_STATUS_INVALID_READ_MODE 0xC00000B4u
#define NP_STATUS_IO_TIMEOUT 0xC00000B5u
#define NP_STATUS_NOT_SUPPORTED 0xC00000BBu
#define NP_STATUS_BAD_NETWORK_PATH 0xC00000BEu
#define NP_STATUS_NETWORK_NAME_DELETED 0xC00000C9u
#define NP_STATUS_NETWORK_ACCESS_DENIED 0xC00000CAu
#define NP_STATUS_BAD_NETWORK_NAME 0xC00000CCu
#define NP_STATUS_PIPE_EMPTY 0xC00000D9u
#define NP_STATUS_CANCELLED 0xC0000120u
#define NP_STATUS_FILE_CLOSED 0xC0000128u
#define NP_STATUS_PIPE_BROKEN 0xC000014Bu
#define NP_STATUS_ACCOUNT_EXPIRED 0xC0000193u
#define NP_STATUS_FS_DRIVER_REQUIRED 0xC000019Cu
#define NP_STATUS_USER_SESSION_DELETED 0xC0000203u
#define NP_STATUS_PASSWORD_MUST_CHANGE 0xC0000224u
#define NP_STATUS_NOT_FOUND 0xC0000225u
#define NP_STATUS_ACCOUNT_LOCKED_OUT 0xC0000234u
#define NP_STATUS_NETWORK_SESSION_EXPIRED 0xC000035Cu

#endif
