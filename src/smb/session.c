/*
 * session.c - what turns a connected transport into a usable connection
 * (session.h): NEGOTIATE, SESSION_SETUP (GSSAPI's tokens from auth.c, the
 * 3.1.1 pre-authentication hash, the signing and encryption keys),
 * TREE_CONNECT to IPC$, and LOGOFF at the end.
 *
 * Why separate: this is a fixed sequence of ordinary calls made once per
 * connection, with the security decisions (what to sign, what to encrypt,
 * what to refuse) in one place; it uses xport.c's np_smb_call like any
 * caller and never touches the socket or the receiver.  It writes the
 * session fields of struct np_smb_conn (xport.h) under c->mu, each before
 * any request that relies on it is sent.
 */
#include "smb/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "smb/auth.h"
#include "smb/crypto.h"

/* Session setup round trips before we call it a loop. */
#define NP_SMB_AUTH_ROUNDS 8
/* How long the polite LOGOFF at the end may take. */
#define NP_SMB_LOGOFF_MS 2000

uint16_t np_smb_conn_dialect(const struct np_smb_conn *c)
{
        return c->dialect;
}

uint32_t np_smb_conn_max_read(const struct np_smb_conn *c)
{
        return c->max_read;
}

uint32_t np_smb_conn_max_write(const struct np_smb_conn *c)
{
        return c->max_write;
}

uint32_t np_smb_conn_max_transact(const struct np_smb_conn *c)
{
        return c->max_transact;
}

static uint32_t cap_size(uint32_t v, bool large_mtu)
{
        uint32_t cap = large_mtu ? NP_SMB_IO_CAP : 65536;
        return v > cap ? cap : v;
}

/* A response that is not success: its NPIPE_* status with why(). */
static int fail_status(struct np_smb_conn *c, const char *what, uint32_t nt)
{
        const char *name = np_smb_status_name(nt);
        np_smb_why("%s on %s: %s%s(0x%08x)", what, c->desc, name ? name : "", name ? " " : "", nt);
        return np_smb_status(nt) == 0 ? NPIPE_EPROTO : np_smb_status(nt);
}

static int do_negotiate(struct np_smb_conn *c, int64_t deadline, uint8_t preauth[64],
                        struct np_smb_negotiate_info *ni, struct np_smb_resp *keep)
{
        static const uint16_t all[] = {NP_SMB_2_0_2, NP_SMB_2_1, NP_SMB_3_0, NP_SMB_3_0_2,
                                       NP_SMB_3_1_1};
        static const uint16_t ciphers[] = {NP_SMB_CIPHER_AES128_GCM, NP_SMB_CIPHER_AES128_CCM,
                                           NP_SMB_CIPHER_AES256_GCM, NP_SMB_CIPHER_AES256_CCM};
        static const uint16_t signs[] = {NP_SMB_SIGN_AES_GMAC, NP_SMB_SIGN_AES_CMAC,
                                         NP_SMB_SIGN_HMAC_SHA256};
        struct np_smb_negotiate_args a = {0};
        uint16_t dialects[5];
        unsigned n = 0;
        uint16_t maxd = c->max_dialect ? c->max_dialect : NP_SMB_3_1_1;
        uint8_t msg[512];
        int len, st;

        for (unsigned i = 0; i < 5; i++)
                if (all[i] <= maxd)
                        dialects[n++] = all[i];
        if (n == 0) {
                np_smb_why("no SMB dialect at or below 0x%04x", maxd);
                return NPIPE_EINVAL;
        }
        a.dialects = dialects;
        a.n_dialects = n;
        a.security_mode = NP_SMB2_NEGOTIATE_SIGNING_ENABLED |
                          ((c->flags & NPIPE_AUTH_SIGN) ? NP_SMB2_NEGOTIATE_SIGNING_REQUIRED : 0);
        if (dialects[n - 1] >= NP_SMB_3_0)
                a.capabilities = NP_SMB2_GLOBAL_CAP_LARGE_MTU | NP_SMB2_GLOBAL_CAP_ENCRYPTION;
        else if (dialects[n - 1] >= NP_SMB_2_1)
                a.capabilities = NP_SMB2_GLOBAL_CAP_LARGE_MTU;
        if (getrandom(a.client_guid, sizeof(a.client_guid), 0) != sizeof(a.client_guid) ||
            getrandom(a.salt, sizeof(a.salt), 0) != sizeof(a.salt)) {
                np_smb_why("no random bytes for the client GUID");
                return NPIPE_ENOMEM;
        }
        a.ciphers = ciphers;
        a.n_ciphers = 4;
        a.sign_algs = signs;
        a.n_sign_algs = 3;
        np_smb_put_hdr(msg, NP_SMB2_NEGOTIATE, 0, 0, 0, 0, 0);
        len = np_smb_build_negotiate(msg, sizeof(msg), &a);
        if (len < 0)
                return len;
        st = np_smb_call(c, msg, (size_t)len, 0, np_smb_ms_left(deadline), keep);
        if (st < 0) {
                if (st == NPIPE_ENETLOST)
                        np_smb_why("%s closed the connection at NEGOTIATE (no SMB2 server?)",
                                   c->desc);
                return st == NPIPE_ENETLOST ? NPIPE_ENETPATH : st;
        }
        if (keep->h.status != NP_STATUS_SUCCESS)
                return fail_status(c, "NEGOTIATE", keep->h.status);
        if (np_smb_parse_negotiate(keep->msg, keep->len, ni) < 0) {
                np_smb_why("a malformed NEGOTIATE response from %s", c->desc);
                return NPIPE_EPROTO;
        }
        bool offered = false;
        for (unsigned i = 0; i < n; i++)
                offered |= dialects[i] == ni->dialect;
        if (!offered) {
                np_smb_why("%s chose dialect 0x%04x, which we did not offer", c->desc, ni->dialect);
                return NPIPE_EPROTO;
        }
        if (ni->dialect == NP_SMB_3_1_1) {
                memset(preauth, 0, 64);
                if (np_smb_preauth_update(preauth, msg, (size_t)len) < 0 ||
                    np_smb_preauth_update(preauth, keep->msg, keep->len) < 0) {
                        np_smb_why("the pre-authentication hash failed");
                        return NPIPE_ENOMEM;
                }
        }
        return 0;
}

/* What NEGOTIATE settled, for the calls to come: the dialect, the sizes
 * (capped: NP_SMB_IO_CAP, or 64 KiB without LARGE_MTU) and the frame cap
 * the receiver holds frames to. */
static int apply_negotiate(struct np_smb_conn *c, const struct np_smb_negotiate_info *ni)
{
        bool mtu = ni->capabilities & NP_SMB2_GLOBAL_CAP_LARGE_MTU && ni->dialect != NP_SMB_2_0_2;

        pthread_mutex_lock(&c->mu);
        c->dialect = ni->dialect;
        c->caps = ni->capabilities;
        c->max_read = cap_size(ni->max_read, mtu);
        c->max_write = cap_size(ni->max_write, mtu);
        c->max_transact = cap_size(ni->max_transact, mtu);
        size_t big = c->max_read > c->max_transact ? c->max_read : c->max_transact;
        c->frame_cap = big + NP_SMB_FRAME_SLACK > NP_SMB_FRAME_CAP_INITIAL
                           ? big + NP_SMB_FRAME_SLACK
                           : NP_SMB_FRAME_CAP_INITIAL;
        pthread_mutex_unlock(&c->mu);
        if (c->max_read < 4096 || c->max_write < 4096 || c->max_transact < 4096) {
                np_smb_why("%s announced sizes too small to use", c->desc);
                return NPIPE_EPROTO;
        }
        return 0;
}

/* The SecurityMode we send: signing enabled, required when asked for. */
static uint8_t security_mode(const struct np_smb_conn *c)
{
        return NP_SMB2_NEGOTIATE_SIGNING_ENABLED |
               ((c->flags & NPIPE_AUTH_SIGN) ? NP_SMB2_NEGOTIATE_SIGNING_REQUIRED : 0);
}

/* One SESSION_SETUP round: send tok, *r the answer (the previous one is
 * freed).  The request goes into the 3.1.1 pre-authentication hash (the
 * answer only when another round follows: the caller's), and the first
 * answer gives the session its id. */
static int setup_round(struct np_smb_conn *c, int64_t deadline,
                       const struct np_smb_negotiate_info *ni, uint8_t preauth[64],
                       const uint8_t *tok, size_t tok_len, struct np_smb_resp *r)
{
        size_t cap = NP_SMB2_HDR_LEN + 24 + tok_len;
        uint8_t *msg = malloc(cap);

        if (!msg)
                return NPIPE_ENOMEM;
        np_smb_put_hdr(msg, NP_SMB2_SESSION_SETUP, 1, 0, 0, 0, 0);
        int len = np_smb_build_session_setup(msg, cap, security_mode(c), tok, tok_len);
        if (len < 0) {
                free(msg);
                np_smb_why("a security token too large for SESSION_SETUP");
                return len;
        }
        np_smb_resp_free(r);
        int st = np_smb_call(c, msg, (size_t)len, 0, np_smb_ms_left(deadline), r);
        if (st == 0 && ni->dialect == NP_SMB_3_1_1)
                np_smb_preauth_update(preauth, msg, (size_t)len);
        free(msg);
        if (st == 0 && c->session_id == 0) {
                pthread_mutex_lock(&c->mu);
                c->session_id = r->h.session_id;
                pthread_mutex_unlock(&c->mu);
        }
        return st;
}

/* SESSION_SETUP refused with nt: its status, and a logon failure said as
 * one (NPIPE_ELOGON, naming who). */
static int setup_refused(struct np_smb_conn *c, const char *who, uint32_t nt)
{
        int st = fail_status(c, "session setup", nt);

        if (st == NPIPE_ELOGON || nt == NP_STATUS_ACCESS_DENIED) {
                const char *name = np_smb_status_name(nt);
                np_smb_why("logon failure for %s at %s (%s)", who, c->desc,
                           name ? name : "refused");
                st = NPIPE_ELOGON;
        }
        return st;
}

/* The SESSION_SETUP rounds, GSSAPI's token out and the server's back,
 * until the server says SUCCESS: *r is that last answer, *sflags its
 * SessionFlags.  GSSAPI must finish too (its last step checks the
 * server's mechListMIC), except for an anonymous session. */
static int authenticate(struct np_smb_conn *c, const struct np_smb_cfg *cfg, struct np_smb_auth *a,
                        int64_t deadline, const struct np_smb_negotiate_info *ni,
                        uint8_t preauth[64], struct np_smb_resp *r, uint16_t *sflags)
{
        uint8_t *tok = NULL;
        size_t tok_len = 0;
        bool done = false;
        char who[300];

        np_smb_cfg_who(cfg, who, sizeof(who));
        int st = np_smb_auth_step(a, NULL, 0, &tok, &tok_len, &done);
        for (int round = 0; st == 0; round++) {
                if (round >= NP_SMB_AUTH_ROUNDS) {
                        np_smb_why("session setup with %s did not end after %d rounds", c->desc,
                                   round);
                        st = NPIPE_EPROTO;
                        break;
                }
                st = setup_round(c, deadline, ni, preauth, tok, tok_len, r);
                free(tok);
                tok = NULL;
                if (st < 0)
                        break;
                uint32_t nt = r->h.status;
                if (nt != NP_STATUS_SUCCESS && nt != NP_STATUS_MORE_PROCESSING_REQUIRED) {
                        st = setup_refused(c, who, nt);
                        break;
                }
                const uint8_t *blob;
                size_t blob_len;
                if (np_smb_parse_session_setup(r->msg, r->len, sflags, &blob, &blob_len) < 0) {
                        np_smb_why("a malformed SESSION_SETUP response from %s", c->desc);
                        st = NPIPE_EPROTO;
                        break;
                }
                if (nt == NP_STATUS_MORE_PROCESSING_REQUIRED) {
                        if (ni->dialect == NP_SMB_3_1_1)
                                np_smb_preauth_update(preauth, r->msg, r->len);
                        if (done) {
                                np_smb_why("%s wants more session setup rounds than GSSAPI",
                                           c->desc);
                                st = NPIPE_EPROTO;
                                break;
                        }
                        st = np_smb_auth_step(a, blob, blob_len, &tok, &tok_len, &done);
                        continue;
                }
                /* success: the last token (SPNEGO's mechListMIC) completes
                 * and checks our side */
                if (!done && blob_len > 0)
                        st = np_smb_auth_step(a, blob, blob_len, &tok, &tok_len, &done);
                if (st == 0 && !done && !(cfg->flags & NPIPE_AUTH_ANONYMOUS)) {
                        np_smb_why("%s accepted the session before GSSAPI finished", c->desc);
                        st = NPIPE_EPROTO;
                }
                break;
        }
        free(tok);
        return st;
}

/* Can the session give the encryption asked for?  (Not below SMB 3, not
 * without keys.) */
static int check_encryption(struct np_smb_conn *c, const struct np_smb_negotiate_info *ni,
                            bool guest, bool want_enc)
{
        if (want_enc && ni->dialect < NP_SMB_3_0) {
                np_smb_why("encryption asked for, but %s speaks SMB %x.%x only (encryption "
                           "needs SMB 3)",
                           c->desc, ni->dialect >> 8, (ni->dialect >> 4) & 0xF);
                return NPIPE_EACCES;
        }
        if (want_enc && guest) {
                np_smb_why("encryption asked for, but the session with %s is anonymous or "
                           "guest (no keys)",
                           c->desc);
                return NPIPE_EACCES;
        }
        return 0;
}

/* The signing algorithm and the cipher the dialect (and, for 3.1.1, the
 * negotiate contexts) settled. */
static void choose_algs(const struct np_smb_negotiate_info *ni, uint16_t *alg, uint16_t *cipher)
{
        *cipher = NP_SMB_CIPHER_NONE;
        if (ni->dialect < NP_SMB_3_0) {
                *alg = NP_SMB_SIGN_HMAC_SHA256;
        } else if (ni->dialect < NP_SMB_3_1_1) {
                *alg = NP_SMB_SIGN_AES_CMAC;
                if (ni->capabilities & NP_SMB2_GLOBAL_CAP_ENCRYPTION)
                        *cipher = NP_SMB_CIPHER_AES128_CCM;
        } else {
                *alg = ni->have_sign_ctx ? ni->sign_alg : NP_SMB_SIGN_AES_CMAC;
                *cipher = ni->cipher;
        }
}

/* Derive the session's keys, check the final SESSION_SETUP answer r with
 * them, and only then turn signing and encryption on (keys_ready makes
 * xport.c sign, encrypt and verify). */
static int install_keys(struct np_smb_conn *c, struct np_smb_auth *a,
                        const struct np_smb_negotiate_info *ni, const uint8_t preauth[64],
                        const struct np_smb_resp *r, bool want_sign, bool want_enc)
{
        uint8_t key[64];
        size_t key_len = 0;
        uint16_t alg, cipher;
        int st = 0;

        choose_algs(ni, &alg, &cipher);
        if (want_enc && cipher == NP_SMB_CIPHER_NONE) {
                np_smb_why("encryption asked for, but %s agreed on no cipher", c->desc);
                st = NPIPE_EACCES;
        }
        if (st == 0)
                st = np_smb_auth_session_key(a, key, sizeof(key), &key_len);
        if (st == 0) {
                pthread_mutex_lock(&c->mu);
                st = np_smb_derive(&c->keys, ni->dialect, key, key_len, preauth, alg, cipher);
                pthread_mutex_unlock(&c->mu);
                if (st < 0)
                        np_smb_why("deriving the session keys failed (%d)", st);
        }
        memset(key, 0, sizeof(key));
        /* the final SESSION_SETUP answer is signed with the new keys
         * (3.1.1 always; else when signing is on): check it before
         * anything relies on the session */
        bool signed_ok = r->h.flags & NP_SMB2_FLAGS_SIGNED;
        if (st == 0 && signed_ok && np_smb_verify(&c->keys, r->msg, r->len) < 0) {
                np_smb_why("the final SESSION_SETUP response from %s failed signature "
                           "verification",
                           c->desc);
                st = NPIPE_EPROTO;
        } else if (st == 0 && !signed_ok && (ni->dialect == NP_SMB_3_1_1 || want_sign)) {
                np_smb_why("the final SESSION_SETUP response from %s is not signed", c->desc);
                st = NPIPE_EPROTO;
        }
        if (st == 0) {
                pthread_mutex_lock(&c->mu);
                c->keys_ready = true;
                c->sign = want_sign;
                c->encrypt = want_enc;
                pthread_mutex_unlock(&c->mu);
        }
        return st;
}

static int do_session_setup(struct np_smb_conn *c, const struct np_smb_cfg *cfg, int64_t deadline,
                            const struct np_smb_negotiate_info *ni, uint8_t preauth[64])
{
        struct np_smb_auth *a = NULL;
        struct np_smb_resp r = {0};
        uint16_t sflags = 0;

        int st = np_smb_auth_start(cfg, &a);
        if (st < 0)
                return st;
        st = authenticate(c, cfg, a, deadline, ni, preauth, &r, &sflags);
        if (st == 0) {
                bool guest =
                    sflags & (NP_SMB2_SESSION_FLAG_IS_GUEST | NP_SMB2_SESSION_FLAG_IS_NULL);
                bool want_enc =
                    (c->flags & NPIPE_AUTH_ENCRYPT) || (sflags & NP_SMB2_SESSION_FLAG_ENCRYPT_DATA);
                bool want_sign = (c->flags & NPIPE_AUTH_SIGN) ||
                                 (ni->security_mode & NP_SMB2_NEGOTIATE_SIGNING_REQUIRED);
                st = check_encryption(c, ni, guest, want_enc);
                if (st == 0 && !guest) {
                        st = install_keys(c, a, ni, preauth, &r, want_sign, want_enc);
                } else if (st == 0 && want_sign) {
                        np_smb_why("signing required, but the session with %s is anonymous "
                                   "or guest",
                                   c->desc);
                        st = NPIPE_EACCES;
                }
        }
        np_smb_resp_free(&r);
        np_smb_auth_free(a);
        return st;
}

static int do_tree_connect(struct np_smb_conn *c, int64_t deadline)
{
        uint8_t msg[NP_SMB2_HDR_LEN + 8 + 600];
        char path[300];
        struct np_smb_resp r;
        uint8_t type;
        uint32_t flags;

        snprintf(path, sizeof(path), "\\\\%s\\IPC$", c->host);
        np_smb_put_hdr(msg, NP_SMB2_TREE_CONNECT, 1, 0, 0, 0, 0);
        int len = np_smb_build_tree_connect(msg, sizeof(msg), path);
        if (len < 0) {
                np_smb_why("host name too long or not UTF-8: %s", c->host);
                return NPIPE_EINVAL;
        }
        int st = np_smb_call(c, msg, (size_t)len, 0, np_smb_ms_left(deadline), &r);
        if (st < 0)
                return st;
        if (r.h.status != NP_STATUS_SUCCESS) {
                st = fail_status(c, "TREE_CONNECT \\IPC$", r.h.status);
                np_smb_resp_free(&r);
                return st;
        }
        st = np_smb_parse_tree_connect(r.msg, r.len, &type, &flags);
        uint32_t tid = r.h.tree_id;
        np_smb_resp_free(&r);
        if (st < 0 || type != NP_SMB2_SHARE_TYPE_PIPE) {
                np_smb_why("IPC$ on %s is not a pipe share", c->desc);
                return NPIPE_EPROTO;
        }
        pthread_mutex_lock(&c->mu);
        c->tree_id = tid;
        if ((flags & NP_SMB2_SHAREFLAG_ENCRYPT_DATA) && !c->encrypt) {
                if (c->dialect < NP_SMB_3_0 || !c->keys_ready ||
                    c->keys.cipher == NP_SMB_CIPHER_NONE)
                        st = NPIPE_EACCES;
                else
                        c->encrypt = true;
        }
        pthread_mutex_unlock(&c->mu);
        if (st < 0)
                np_smb_why("IPC$ on %s must be encrypted, which this session cannot", c->desc);
        return st;
}

int np_smb_session_establish(struct np_smb_conn *c, const struct np_smb_cfg *cfg, int64_t deadline)
{
        struct np_smb_negotiate_info ni;
        struct np_smb_resp neg = {0};
        uint8_t preauth[64] = {0};

        int st = do_negotiate(c, deadline, preauth, &ni, &neg);
        if (st == 0)
                st = apply_negotiate(c, &ni);
        /* ni points into the answer: done with it */
        np_smb_resp_free(&neg);
        if (st == 0)
                st = do_session_setup(c, cfg, deadline, &ni, preauth);
        if (st == 0)
                st = do_tree_connect(c, deadline);
        return st;
}

void np_smb_session_logoff(struct np_smb_conn *c)
{
        char why[256];
        uint8_t msg[NP_SMB2_HDR_LEN + 4];
        struct np_smb_resp r;

        snprintf(why, sizeof(why), "%s", np_smb_why_get());
        np_smb_put_hdr(msg, NP_SMB2_LOGOFF, 1, 0, 0, 0, 0);
        np_smb_build_small(msg, sizeof(msg), NP_SMB2_LOGOFF);
        if (np_smb_call(c, msg, sizeof(msg), 0, NP_SMB_LOGOFF_MS, &r) == 0)
                np_smb_resp_free(&r);
        np_smb_why("%s", why);
}
