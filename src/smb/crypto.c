/*
 * crypto.c - SMB2/3 signing, key derivation, the 3.1.1 pre-authentication
 * hash and encryption (crypto.h; MS-SMB2 3.1.4.1 to 3.1.4.3, 3.1.5.1,
 * 3.2.5.3.1, 2.2.41), everything through libcrypto.
 *
 * What is ours is only the arrangement MS-SMB2 prescribes: which bytes go
 * into which primitive, with which key, label and nonce.  Every primitive
 * (HMAC-SHA256, AES-CMAC, AES-GMAC, the SP800-108 KDF, AES-CCM/GCM,
 * SHA-512) is an OpenSSL 3 EVP object fetched per call: fetching is
 * thread-safe and cached inside libcrypto, so there is no global state
 * here and sign/verify/decrypt (const keys) may run in any number of
 * threads at once.  np_smb_encrypt() changes only k->nonce_ctr, with an
 * atomic fetch-and-add, so it too may run in several threads on one keys
 * structure; np_smb_derive() writes the whole structure and must not race
 * with anything that uses it.
 *
 * Hostile input.  Whatever a server sends (a message to verify, a frame to
 * decrypt) is bounds-checked before any field is read, and failures of
 * that kind are NPIPE_EPROTO, the same as a bad signature or tag: the
 * caller drops the connection either way.  NPIPE_EINVAL is kept for the
 * caller's own mistakes (NULL pointers, keys that cannot do what is
 * asked).  Decryption is in place, so a message whose tag does not verify
 * has already been overwritten by unauthenticated plaintext (GCM writes
 * before it checks); that region is wiped before NPIPE_EPROTO is returned
 * so nothing of it can be mistaken for data.
 *
 * Key material passing through a local buffer is wiped with
 * OPENSSL_cleanse() on the way out.
 */
#include "smb/crypto.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "npipe/npipe.h"

/* The SMB2 header (MS-SMB2 2.2.1): the fields this file reads. */
#define HDR_LEN        64
#define HDR_COMMAND    12
#define HDR_FLAGS      16
#define HDR_MESSAGE_ID 24
#define HDR_SIGNATURE  48
#define SIG_LEN        16

#define SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define SMB2_FLAGS_SIGNED          0x00000008u
#define SMB2_CANCEL                0x000Cu

/* The TRANSFORM_HEADER (2.2.41). */
#define TH_SIGNATURE  4
#define TH_NONCE      20
#define TH_ORIG_SIZE  36
#define TH_FLAGS      42
#define TH_SESSION_ID 44
#define TH_AAD_LEN    (NP_SMB_TRANSFORM_LEN - TH_NONCE) /* Nonce .. SessionId */
#define TH_ENCRYPTED  0x0001u
#define CCM_NONCE_LEN 11
#define GCM_NONCE_LEN 12
#define AEAD_TAG_LEN  16

#define KEY128 16
#define KEY256 32

static const uint8_t smb2_magic[4] = {0xFE, 'S', 'M', 'B'};
static const uint8_t transform_magic[4] = {0xFD, 'S', 'M', 'B'};

/* ---- little-endian fields ------------------------------------------------ */

static uint16_t get_le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
               ((uint32_t)p[3] << 24);
}

static uint64_t get_le64(const uint8_t *p)
{
        return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

static void put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- what the keys can do ------------------------------------------------- */

static bool dialect_known(uint16_t d)
{
        return d == NP_SMB_2_0_2 || d == NP_SMB_2_1 || d == NP_SMB_3_0 || d == NP_SMB_3_0_2 ||
               d == NP_SMB_3_1_1;
}

static bool dialect_is_3x(uint16_t d)
{
        return d == NP_SMB_3_0 || d == NP_SMB_3_0_2 || d == NP_SMB_3_1_1;
}

static bool cipher_is_256(uint16_t c)
{
        return c == NP_SMB_CIPHER_AES256_CCM || c == NP_SMB_CIPHER_AES256_GCM;
}

static bool cipher_is_ccm(uint16_t c)
{
        return c == NP_SMB_CIPHER_AES128_CCM || c == NP_SMB_CIPHER_AES256_CCM;
}

static const char *cipher_name(uint16_t c)
{
        switch (c) {
        case NP_SMB_CIPHER_AES128_CCM:
                return "AES-128-CCM";
        case NP_SMB_CIPHER_AES128_GCM:
                return "AES-128-GCM";
        case NP_SMB_CIPHER_AES256_CCM:
                return "AES-256-CCM";
        case NP_SMB_CIPHER_AES256_GCM:
                return "AES-256-GCM";
        default:
                return NULL;
        }
}

/* ---- pre-authentication integrity (3.1.4.4 ... 3.2.5.3.1) ----------------- */

int np_smb_preauth_update(uint8_t h[NP_SMB_PREAUTH_LEN], const void *msg, size_t len)
{
        if (h == NULL || (msg == NULL && len > 0))
                return NPIPE_EINVAL;
        EVP_MD *md = EVP_MD_fetch(NULL, "SHA512", NULL);
        if (md == NULL)
                return NPIPE_ENOTSUP;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t out[EVP_MAX_MD_SIZE];
        unsigned int out_len = 0;
        int r = NPIPE_ENOMEM;
        /* h is only replaced once the new value is complete: a failure
         * leaves the caller's chain as it was. */
        if (ctx != NULL && EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
            EVP_DigestUpdate(ctx, h, NP_SMB_PREAUTH_LEN) == 1 &&
            (len == 0 || EVP_DigestUpdate(ctx, msg, len) == 1) &&
            EVP_DigestFinal_ex(ctx, out, &out_len) == 1 && out_len == NP_SMB_PREAUTH_LEN) {
                memcpy(h, out, NP_SMB_PREAUTH_LEN);
                r = 0;
        }
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
        return r;
}

/* ---- key derivation (3.1.4.2) --------------------------------------------- */

/* SP800-108 in counter mode with HMAC-SHA256, r = 32, i = 1: one block of
 * HMAC(ki, [1]_32 || label || 0x00 || context || [L]_32), L = out_len * 8.
 * OpenSSL's KBKDF writes the separator byte and L itself (both on by
 * default), so label and context are passed exactly as MS-SMB2 lists them,
 * terminating NUL included. */
static int kdf(const uint8_t *ki, size_t ki_len, const char *label, size_t label_len,
               const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len)
{
        EVP_KDF *alg = EVP_KDF_fetch(NULL, "KBKDF", NULL);
        if (alg == NULL)
                return NPIPE_ENOTSUP;
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(alg);
        EVP_KDF_free(alg);
        if (ctx == NULL)
                return NPIPE_ENOMEM;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"counter", 0),
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0),
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ki, ki_len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, label_len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)context, context_len),
            OSSL_PARAM_construct_end(),
        };
        int r = EVP_KDF_derive(ctx, out, out_len, params) == 1 ? 0 : NPIPE_ENOMEM;
        EVP_KDF_CTX_free(ctx);
        return r;
}

/* A label or context given as a C string literal, with its NUL. */
#define LIT(s) s, sizeof(s)

/* The three keys of the dialect into sign (its first 16 bytes are the
 * signing key), nk->encrypt and nk->decrypt, from ki (ki_len bytes). */
static int derive_keys(struct np_smb_keys *nk, const uint8_t *ki, size_t ki_len,
                       const uint8_t preauth[NP_SMB_PREAUTH_LEN], size_t out_len,
                       uint8_t sign[KEY256])
{
        int r = 0;
        if (nk->dialect == NP_SMB_3_1_1) {
                r = kdf(ki, ki_len, LIT("SMBSigningKey"), preauth, NP_SMB_PREAUTH_LEN, sign,
                        out_len);
                if (r == 0)
                        r = kdf(ki, ki_len, LIT("SMBC2SCipherKey"), preauth, NP_SMB_PREAUTH_LEN,
                                nk->encrypt, out_len);
                if (r == 0)
                        r = kdf(ki, ki_len, LIT("SMBS2CCipherKey"), preauth, NP_SMB_PREAUTH_LEN,
                                nk->decrypt, out_len);
        } else if (dialect_is_3x(nk->dialect)) {
                r = kdf(ki, ki_len, LIT("SMB2AESCMAC"), (const uint8_t *)LIT("SmbSign"), sign,
                        out_len);
                /* "ServerIn " has its space: 10 bytes with the NUL, like
                 * "ServerOut". */
                if (r == 0)
                        r = kdf(ki, ki_len, LIT("SMB2AESCCM"), (const uint8_t *)LIT("ServerIn "),
                                nk->encrypt, out_len);
                if (r == 0)
                        r = kdf(ki, ki_len, LIT("SMB2AESCCM"), (const uint8_t *)LIT("ServerOut"),
                                nk->decrypt, out_len);
        } else {
                /* 2.0.2 and 2.1 sign with the session key itself. */
                memcpy(sign, ki, KEY128);
        }
        return r;
}

int np_smb_derive(struct np_smb_keys *k, uint16_t dialect, const uint8_t *session_key,
                  size_t key_len, const uint8_t preauth[NP_SMB_PREAUTH_LEN], uint16_t sign_alg,
                  uint16_t cipher)
{
        if (k == NULL || session_key == NULL || key_len == 0 || !dialect_known(dialect))
                return NPIPE_EINVAL;
        if (dialect == NP_SMB_3_1_1) {
                if (preauth == NULL || sign_alg > NP_SMB_SIGN_AES_GMAC ||
                    cipher > NP_SMB_CIPHER_AES256_GCM)
                        return NPIPE_EINVAL;
        } else if (dialect_is_3x(dialect)) {
                /* Nothing is negotiated before 3.1.1: AES-CMAC always, and
                 * AES-128-CCM whenever encryption is wanted at all. */
                sign_alg = NP_SMB_SIGN_AES_CMAC;
                if (cipher != NP_SMB_CIPHER_NONE)
                        cipher = NP_SMB_CIPHER_AES128_CCM;
        } else {
                sign_alg = NP_SMB_SIGN_HMAC_SHA256;
                cipher = NP_SMB_CIPHER_NONE;
        }

        /* Session.SessionKey is the first 16 bytes of the GSS key, zero
         * padded (3.2.1.3); with an AES-256 cipher every key is derived from
         * the full key (up to 32 bytes here) and with L = 256 (3.1.4.2),
         * the signing key being the first 16 bytes of that output.  HMAC
         * pads its key with zeros to the block size itself, so handing it
         * the zero-padded buffer is the same as handing it the short key. */
        bool wide = cipher_is_256(cipher);
        size_t ki_len = wide ? KEY256 : KEY128;
        size_t out_len = wide ? KEY256 : KEY128;
        uint8_t ki[KEY256] = {0};
        memcpy(ki, session_key, key_len < ki_len ? key_len : ki_len);

        struct np_smb_keys nk;
        memset(&nk, 0, sizeof(nk));
        nk.dialect = dialect;
        nk.sign_alg = sign_alg;
        nk.cipher = cipher;

        uint8_t sign[KEY256];
        int r = derive_keys(&nk, ki, ki_len, preauth, out_len, sign);
        if (r == 0)
                memcpy(nk.signing, sign, sizeof(nk.signing));

        /* The nonce: a 64-bit counter, starting at a random value, and a
         * random salt (np_smb_encrypt).  Both random so that two structures
         * derived for one session (a rederivation, a copy per channel, which
         * the caller should avoid) are still most unlikely to meet. */
        if (r == 0 && (RAND_bytes(nk.nonce_salt, sizeof(nk.nonce_salt)) != 1 ||
                       RAND_bytes((unsigned char *)&nk.nonce_ctr, sizeof(nk.nonce_ctr)) != 1))
                r = NPIPE_ENOMEM;
        if (r == 0)
                *k = nk;
        OPENSSL_cleanse(ki, sizeof(ki));
        OPENSSL_cleanse(sign, sizeof(sign));
        OPENSSL_cleanse(&nk, sizeof(nk));
        return r;
}

/* ---- signing (3.1.4.1, 3.1.5.1) ------------------------------------------- */

/* The 16-byte signature of msg (len >= HDR_LEN, checked by the caller) as
 * if its Signature field were zero: the MAC is fed the bytes before the
 * field, 16 zeros, and the rest, so the message is never copied and a
 * message being verified is never written. */
static int compute_signature(const struct np_smb_keys *k, const uint8_t *msg, size_t len,
                             uint8_t sig[SIG_LEN])
{
        static const uint8_t zero[SIG_LEN] = {0};
        const char *name;
        OSSL_PARAM params[3];
        uint8_t nonce[GCM_NONCE_LEN];
        uint16_t alg = dialect_is_3x(k->dialect) ? k->sign_alg : NP_SMB_SIGN_HMAC_SHA256;

        switch (alg) {
        case NP_SMB_SIGN_HMAC_SHA256:
                name = "HMAC";
                params[0] =
                    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
                params[1] = OSSL_PARAM_construct_end();
                break;
        case NP_SMB_SIGN_AES_CMAC:
                name = "CMAC";
                params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
                                                             (char *)"AES-128-CBC", 0);
                params[1] = OSSL_PARAM_construct_end();
                break;
        case NP_SMB_SIGN_AES_GMAC:
                if (k->dialect != NP_SMB_3_1_1)
                        return NPIPE_EINVAL;
                /* RFC 4543 nonce: MessageId as on the wire (8 bytes LE),
                 * then a 32-bit LE word: bit 0 set for a server's message,
                 * bit 1 for a CANCEL request.  Both are read from the
                 * header, so sign and verify agree on either side. */
                memcpy(nonce, msg + HDR_MESSAGE_ID, 8);
                {
                        uint32_t flags = get_le32(msg + HDR_FLAGS);
                        uint32_t word = 0;
                        if (flags & SMB2_FLAGS_SERVER_TO_REDIR)
                                word |= 1u;
                        else if (get_le16(msg + HDR_COMMAND) == SMB2_CANCEL)
                                word |= 2u;
                        put_le32(nonce + 8, word);
                }
                name = "GMAC";
                params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
                                                             (char *)"AES-128-GCM", 0);
                params[1] =
                    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_IV, nonce, sizeof(nonce));
                params[2] = OSSL_PARAM_construct_end();
                break;
        default:
                return NPIPE_EINVAL;
        }

        EVP_MAC *mac = EVP_MAC_fetch(NULL, name, NULL);
        if (mac == NULL)
                return NPIPE_ENOTSUP;
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);
        if (ctx == NULL)
                return NPIPE_ENOMEM;
        uint8_t out[EVP_MAX_MD_SIZE];
        size_t out_len = 0;
        int r = NPIPE_ENOMEM;
        if (EVP_MAC_init(ctx, k->signing, sizeof(k->signing), params) == 1 &&
            EVP_MAC_update(ctx, msg, HDR_SIGNATURE) == 1 &&
            EVP_MAC_update(ctx, zero, SIG_LEN) == 1 &&
            EVP_MAC_update(ctx, msg + HDR_LEN, len - HDR_LEN) == 1 &&
            EVP_MAC_final(ctx, out, &out_len, sizeof(out)) == 1 && out_len >= SIG_LEN) {
                /* HMAC-SHA256 gives 32 bytes: the signature is the first 16. */
                memcpy(sig, out, SIG_LEN);
                r = 0;
        }
        EVP_MAC_CTX_free(ctx);
        return r;
}

static bool keys_can_sign(const struct np_smb_keys *k)
{
        return dialect_known(k->dialect) &&
               (!dialect_is_3x(k->dialect) || k->sign_alg <= NP_SMB_SIGN_AES_GMAC);
}

int np_smb_sign(const struct np_smb_keys *k, uint8_t *msg, size_t len)
{
        if (k == NULL || msg == NULL || len < HDR_LEN || !keys_can_sign(k) ||
            memcmp(msg, smb2_magic, sizeof(smb2_magic)) != 0)
                return NPIPE_EINVAL;
        /* The flag is part of what is signed, so it is set first. */
        put_le32(msg + HDR_FLAGS, get_le32(msg + HDR_FLAGS) | SMB2_FLAGS_SIGNED);
        uint8_t sig[SIG_LEN];
        int r = compute_signature(k, msg, len, sig);
        if (r == 0)
                memcpy(msg + HDR_SIGNATURE, sig, SIG_LEN);
        return r;
}

int np_smb_verify(const struct np_smb_keys *k, const uint8_t *msg, size_t len)
{
        if (k == NULL || msg == NULL || !keys_can_sign(k))
                return NPIPE_EINVAL;
        /* From here on the bytes are the server's. */
        if (len < HDR_LEN || memcmp(msg, smb2_magic, sizeof(smb2_magic)) != 0 ||
            !(get_le32(msg + HDR_FLAGS) & SMB2_FLAGS_SIGNED))
                return NPIPE_EPROTO;
        uint8_t sig[SIG_LEN];
        int r = compute_signature(k, msg, len, sig);
        if (r != 0)
                return r;
        return CRYPTO_memcmp(sig, msg + HDR_SIGNATURE, SIG_LEN) == 0 ? 0 : NPIPE_EPROTO;
}

/* ---- encryption (3.1.4.3, 3.2.5.1.1) -------------------------------------- */

/* One AEAD operation: out = E(in) or D(in) (len bytes, out == in allowed),
 * aad authenticated.  Encrypting writes tag; decrypting checks it and
 * returns NPIPE_EPROTO when it does not match. */
static int aead(bool enc, uint16_t cipher, const uint8_t *key, const uint8_t *nonce,
                const uint8_t *aad, size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
                uint8_t tag[AEAD_TAG_LEN])
{
        bool ccm = cipher_is_ccm(cipher);
        int nonce_len = ccm ? CCM_NONCE_LEN : GCM_NONCE_LEN;
        EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cipher_name(cipher), NULL);
        if (c == NULL)
                return NPIPE_ENOTSUP;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int r = NPIPE_ENOMEM;
        int n = 0;
        if (ctx == NULL || EVP_CipherInit_ex2(ctx, c, NULL, NULL, enc, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, nonce_len, NULL) != 1)
                goto out;
        /* CCM wants the tag (or, encrypting, its length) before the key,
         * GCM only before the final step. */
        if (ccm &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, enc ? NULL : tag) != 1)
                goto out;
        if (!ccm && !enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
                goto out;
        if (EVP_CipherInit_ex2(ctx, NULL, key, nonce, enc, NULL) != 1)
                goto out;
        /* CCM encodes the length of the data in its first block. */
        if (ccm && EVP_CipherUpdate(ctx, NULL, &n, NULL, (int)len) != 1)
                goto out;
        if (EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
                goto out;
        if (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1) {
                /* CCM decryption checks the tag here. */
                r = enc ? NPIPE_ENOMEM : NPIPE_EPROTO;
                goto out;
        }
        if (enc || !ccm) {
                int fin = 0;
                if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1) {
                        /* GCM decryption checks the tag here. */
                        r = enc ? NPIPE_ENOMEM : NPIPE_EPROTO;
                        goto out;
                }
        }
        if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, tag) != 1)
                goto out;
        r = 0;
out:
        EVP_CIPHER_CTX_free(ctx);
        EVP_CIPHER_free(c);
        return r;
}

static bool keys_can_encrypt(const struct np_smb_keys *k)
{
        return dialect_is_3x(k->dialect) && cipher_name(k->cipher) != NULL &&
               (k->dialect == NP_SMB_3_1_1 || k->cipher == NP_SMB_CIPHER_AES128_CCM);
}

/* The largest message either way: OriginalMessageSize is 32 bits and
 * EVP_CipherUpdate counts in int. */
#define MAX_PLAIN ((size_t)INT_MAX - NP_SMB_TRANSFORM_LEN)

int np_smb_encrypt(struct np_smb_keys *k, uint64_t session_id, const uint8_t *msg, size_t len,
                   uint8_t *out, size_t out_cap, size_t *out_len)
{
        if (k == NULL || msg == NULL || out == NULL || out_len == NULL || !keys_can_encrypt(k) ||
            len < HDR_LEN || len > MAX_PLAIN || out_cap < len + NP_SMB_TRANSFORM_LEN)
                return NPIPE_EINVAL;
        /* msg may sit right after the room for the transform header
         * (encryption in place); any other overlap would have the cipher
         * read what it already wrote. */
        uintptr_t m = (uintptr_t)msg, o = (uintptr_t)out;
        if (m != o + NP_SMB_TRANSFORM_LEN && m < o + NP_SMB_TRANSFORM_LEN + len && o < m + len)
                return NPIPE_EINVAL;

        /* Nonce: the counter (8 bytes LE) then salt bytes up to the
         * cipher's nonce length; the rest of the 16-byte field is zero.
         * The atomic add hands every caller its own counter value, and the
         * 64-bit counter only comes back to a value after 2^64 messages. */
        uint64_t ctr = __atomic_fetch_add(&k->nonce_ctr, 1, __ATOMIC_RELAXED);
        size_t nonce_len = cipher_is_ccm(k->cipher) ? CCM_NONCE_LEN : GCM_NONCE_LEN;
        uint8_t *th = out;
        memset(th, 0, NP_SMB_TRANSFORM_LEN);
        memcpy(th, transform_magic, sizeof(transform_magic));
        put_le64(th + TH_NONCE, ctr);
        memcpy(th + TH_NONCE + 8, k->nonce_salt, nonce_len - 8);
        put_le32(th + TH_ORIG_SIZE, (uint32_t)len);
        put_le16(th + TH_FLAGS, TH_ENCRYPTED);
        put_le64(th + TH_SESSION_ID, session_id);

        uint8_t tag[AEAD_TAG_LEN];
        int r = aead(true, k->cipher, k->encrypt, th + TH_NONCE, th + TH_NONCE, TH_AAD_LEN, msg,
                     out + NP_SMB_TRANSFORM_LEN, len, tag);
        if (r != 0)
                return r;
        memcpy(th + TH_SIGNATURE, tag, AEAD_TAG_LEN);
        *out_len = len + NP_SMB_TRANSFORM_LEN;
        return 0;
}

int np_smb_decrypt(const struct np_smb_keys *k, uint8_t *buf, size_t len, size_t *off, size_t *plen,
                   uint64_t *session_id)
{
        if (k == NULL || buf == NULL || off == NULL || plen == NULL || session_id == NULL ||
            !keys_can_encrypt(k))
                return NPIPE_EINVAL;
        /* From here on the bytes are the server's.  The frame is one
         * transform header and exactly OriginalMessageSize bytes of
         * ciphertext, itself at least an SMB2 header. */
        if (len < NP_SMB_TRANSFORM_LEN + HDR_LEN || len > (size_t)INT_MAX ||
            memcmp(buf, transform_magic, sizeof(transform_magic)) != 0 ||
            get_le16(buf + TH_FLAGS) != TH_ENCRYPTED)
                return NPIPE_EPROTO;
        uint32_t orig = get_le32(buf + TH_ORIG_SIZE);
        if (orig < HDR_LEN || (size_t)orig != len - NP_SMB_TRANSFORM_LEN)
                return NPIPE_EPROTO;
        /* The nonce bytes past the cipher's nonce length are not checked:
         * they are authenticated as part of the AAD, and Windows has been
         * seen to send non-zero ones with CCM. */
        uint8_t tag[AEAD_TAG_LEN];
        memcpy(tag, buf + TH_SIGNATURE, AEAD_TAG_LEN);
        uint8_t *data = buf + NP_SMB_TRANSFORM_LEN;
        int r = aead(false, k->cipher, k->decrypt, buf + TH_NONCE, buf + TH_NONCE, TH_AAD_LEN, data,
                     data, orig, tag);
        if (r != 0) {
                OPENSSL_cleanse(data, orig);
                return r;
        }
        *off = NP_SMB_TRANSFORM_LEN;
        *plen = orig;
        *session_id = get_le64(buf + TH_SESSION_ID);
        return 0;
}
