/*
 * crypto.h - SMB2/3 message signing, key derivation, the 3.1.1
 * pre-authentication integrity hash and encryption (MS-SMB2 3.1.4), all
 * through libcrypto: nothing here is hand-written cryptography, only the
 * protocol's arrangement of it.
 *
 * Messages are whole SMB2 messages as on the wire (64-byte header first,
 * without the 4-byte transport length), signed in place.  Results are 0
 * or a negative NPIPE_* status: NPIPE_EPROTO for a message that fails
 * verification or decryption, NPIPE_EINVAL for bad arguments,
 * NPIPE_ENOMEM.
 */
#ifndef NPIPE_SMB_CRYPTO_H
#define NPIPE_SMB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Dialects (MS-SMB2 2.2.3). */
#define NP_SMB_2_0_2 0x0202u
#define NP_SMB_2_1 0x0210u
#define NP_SMB_3_0 0x0300u
#define NP_SMB_3_0_2 0x0302u
#define NP_SMB_3_1_1 0x0311u

/* Signing algorithms (2.2.3.1.7) and ciphers (2.2.3.1.2), wire values. */
#define NP_SMB_SIGN_HMAC_SHA256 0x0000u
#define NP_SMB_SIGN_AES_CMAC 0x0001u
#define NP_SMB_SIGN_AES_GMAC 0x0002u
#define NP_SMB_CIPHER_NONE 0x0000u
#define NP_SMB_CIPHER_AES128_CCM 0x0001u
#define NP_SMB_CIPHER_AES128_GCM 0x0002u
#define NP_SMB_CIPHER_AES256_CCM 0x0003u
#define NP_SMB_CIPHER_AES256_GCM 0x0004u

#define NP_SMB_PREAUTH_LEN 64 /* SHA-512 */
#define NP_SMB_TRANSFORM_LEN 52

/* The keys of one session (or channel). */
struct np_smb_keys {
        uint16_t dialect;
        uint16_t sign_alg; /* NP_SMB_SIGN_* */
        uint16_t cipher;   /* NP_SMB_CIPHER_*, NONE: no encryption */
        uint8_t signing[16];
        uint8_t encrypt[32]; /* client to server (16 used with AES-128) */
        uint8_t decrypt[32]; /* server to client */
        uint64_t nonce_ctr;  /* the next encryption nonce's counter part */
        uint8_t nonce_salt[8]; /* random per session: the rest of the nonce */
};

/* The 3.1.1 hash: h = SHA-512(h || msg).  Start with h all zero. */
int np_smb_preauth_update(uint8_t h[NP_SMB_PREAUTH_LEN], const void *msg, size_t len);

/* Derive the session's keys from the session key of the GSSAPI context
 * (the first 16 bytes are used; shorter ones are zero-padded, as MS-SMB2
 * 3.2.5.3.1 says) and, for 3.1.1, the pre-authentication hash of the
 * session setup exchange.  sign_alg and cipher are what NEGOTIATE chose
 * (for dialects before 3.1.1: HMAC-SHA256 for 2.x, AES-CMAC and AES-128-CCM
 * for 3.0 / 3.0.2).  The 256-bit ciphers take the full session key
 * (the key length is 32 bytes: K = the session key as given, zero padded). */
int np_smb_derive(struct np_smb_keys *k, uint16_t dialect, const uint8_t *session_key,
                  size_t key_len, const uint8_t preauth[NP_SMB_PREAUTH_LEN], uint16_t sign_alg,
                  uint16_t cipher);

/* Sign msg in place: sets SMB2_FLAGS_SIGNED and writes the signature. */
int np_smb_sign(const struct np_smb_keys *k, uint8_t *msg, size_t len);
/* Check a signed message (it is not changed: the signature is computed
 * over a copy of the header with the field zeroed). */
int np_smb_verify(const struct np_smb_keys *k, const uint8_t *msg, size_t len);

/* Encrypt msg into out: the 52-byte transform header, then the
 * ciphertext (out_cap >= len + NP_SMB_TRANSFORM_LEN).  session_id goes into
 * the transform header.  Uses and advances k->nonce_ctr. */
int np_smb_encrypt(struct np_smb_keys *k, uint64_t session_id, const uint8_t *msg, size_t len,
                   uint8_t *out, size_t out_cap, size_t *out_len);
/* Decrypt a message that starts with a transform header (0xFD 'S' 'M'
 * 'B'), in place: on success the plain message is buf[*off .. *off+*plen).
 * *session_id: the transform header's. */
int np_smb_decrypt(const struct np_smb_keys *k, uint8_t *buf, size_t len, size_t *off,
                   size_t *plen, uint64_t *session_id);

#endif
