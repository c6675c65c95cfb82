/*
 * module.h - the contract between libnpipe and libnpipe-smb, the module
 * that opens \\host\pipe\NAME on a remote Windows or Samba machine over
 * SMB2/3 (issue 14, docs/remote.md).
 *
 * Why a module: local pipes need nothing beyond libc, remote ones need
 * GSSAPI (Kerberos, NTLM through gss-ntlmssp) and libcrypto.  libnpipe
 * dlopen()s the module the first time a remote name is opened and finds
 * this one table in it, by the name NP_SMB_SYMBOL.  A program that never
 * opens a remote name never loads either dependency.
 *
 * Every function returns 0 or a negative NPIPE_* status (npipe.h), as the
 * native API does; the Win32 layer translates as usual.  A remote handle
 * (struct np_rpipe) is used by one or several threads at once: a read may
 * block while another thread writes on the same handle, as on Windows.
 * Timeouts are in ms; -1 waits for ever.
 */
#ifndef NPIPE_SMB_MODULE_H
#define NPIPE_SMB_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "npipe/npipe.h"

/* Bumped on any change of the table below; libnpipe refuses another. */
#define NP_SMB_ABI 1u
#define NP_SMB_SYMBOL "npipe_smb_module"
/* The module's file, looked for in NPIPE_SMB_MODULE (a path), then next
 * to libnpipe.so.0 (dladdr), then in the library path. */
#define NP_SMB_SONAME "libnpipe-smb.so.0"

struct np_rpipe; /* one remote pipe handle (the module's) */

struct np_smb_module {
        uint32_t abi;  /* NP_SMB_ABI */
        uint32_t size; /* sizeof(struct np_smb_module) */

        /* Credentials and options for host (NULL: every host without its
         * own); copied.  npipe_remote_credentials(). */
        int (*configure)(const char *host, const struct npipe_remote_auth *auth);

        /* Open the client end of \\host\pipe\bare (bare: UTF-8, as after
         * the third backslash).  access: NPIPE_READ | NPIPE_WRITE |
         * NPIPE_WRITE_ATTRIBUTES.  timeout_ms bounds connecting and
         * authenticating; an instance that is busy is NPIPE_EBUSY at once
         * (the caller waits with wait()). */
        int (*open)(const char *host, const char *bare, unsigned access, int timeout_ms,
                    struct np_rpipe **ret);
        /* FSCTL_PIPE_WAIT on \\host\pipe\bare: 0 once an instance is free,
         * NPIPE_ENOENT, NPIPE_ETIMEDOUT.  timeout_ms NPIPE_WAIT_DEFAULT: the
         * pipe's default. */
        int (*wait)(const char *host, const char *bare, int timeout_ms);

        /* As npipe_read: a message longer than len gives NPIPE_EMOREDATA,
         * *nread = len, and the rest stays on the server for the next read. */
        int (*read)(struct np_rpipe *p, void *buf, size_t len, size_t *nread, int timeout_ms);
        int (*write)(struct np_rpipe *p, const void *buf, size_t len, size_t *nwritten,
                     int timeout_ms);
        /* FSCTL_PIPE_TRANSCEIVE; NPIPE_EMOREDATA as read. */
        int (*transact)(struct np_rpipe *p, const void *in, size_t in_len, void *out,
                        size_t out_len, size_t *nread);
        /* FSCTL_PIPE_PEEK. */
        int (*peek)(struct np_rpipe *p, void *buf, size_t len, struct npipe_peek *ret);
        /* QUERY_INFO (FilePipeInformation, FilePipeLocalInformation). */
        int (*get_info)(struct np_rpipe *p, struct npipe_info *ret);
        /* SET_INFO FilePipeInformation; NULL leaves that mode as it is. */
        int (*set_mode)(struct np_rpipe *p, const enum npipe_read_mode *read_mode,
                        const int *nowait);
        /* FLUSH. */
        int (*flush)(struct np_rpipe *p);
        /* Ends every call in progress on p with NPIPE_ECANCELED (SMB2
         * CANCEL); p stays usable. */
        int (*cancel)(struct np_rpipe *p);
        /* CLOSE, and free p.  Calls in progress end with NPIPE_ECANCELED
         * first; p must not be used afterwards. */
        int (*close)(struct np_rpipe *p);

        /* Why the calling thread's last call failed, in words ("logon
         * failure for NPTEST\nptest at 127.0.0.1:4455"), or "". */
        const char *(*why)(void);
};

#endif
