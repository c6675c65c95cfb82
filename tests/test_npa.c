/*
 * test_npa.c - unit tests of src/remote/npa.c (no broker, no smbd): the
 * named_pipe_auth request smbd sends on a pipe socket, and our reply.
 *
 * The blobs live in tests/data/npa/ (NPA_DATA_DIR, set by meson).  The
 * level7-*.bin files were captured from smbd 4.17.12 on loopback port 4455
 * (see the README there); the expected values below are what that capture
 * saw: user nptest (uid and gid 1001 by `id nptest`), server NPTESTSRV on
 * host "vm", client 127.0.0.1.  level5-*, level8-* and synth7-* are made by
 * gen.py from the captures.
 *
 * Every blob is handed to the decoder in a heap buffer of exactly its size,
 * so ASan (the sanitizer build) catches a read one byte past the end.
 */
#include "harness.h"

#include "remote/npa.h"

#include <stdlib.h>
#include <string.h>

#ifndef NPA_DATA_DIR
#error "NPA_DATA_DIR must name tests/data/npa (tests/meson.build sets it)"
#endif

struct blob {
        uint8_t *p;
        size_t n;
};

static struct blob load(const char *name)
{
        char path[1024];
        struct blob b = {NULL, 0};
        FILE *f;
        long sz;

        snprintf(path, sizeof path, "%s/%s", NPA_DATA_DIR, name);
        f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        sz = ftell(f);
        ck_assert_int_gt(sz, 0);
        rewind(f);
        b.n = (size_t)sz;
        b.p = malloc(b.n);
        ck_assert_ptr_nonnull(b.p);
        ck_assert_uint_eq(fread(b.p, 1, b.n, f), b.n);
        fclose(f);
        return b;
}

/* A copy of the first n bytes in a buffer of exactly n bytes. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
        uint8_t *q = malloc(n ? n : 1);

        ck_assert_ptr_nonnull(q);
        memcpy(q, p, n);
        return q;
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

static struct np_npa_request req; /* large: keep it off the stack */

static int parse_exact(const uint8_t *p, size_t n, struct np_npa_request *out)
{
        uint8_t *q = exact_copy(p, n);
        int r = np_npa_parse(q, n, out);

        free(q);
        return r;
}

static int parse_file(const char *name, struct np_npa_request *out)
{
        struct blob b = load(name);
        int r = parse_exact(b.p, b.n, out);

        free(b.p);
        return r;
}

/* Whatever the decoder returned, the struct must be safe to use: every
 * string NUL-terminated inside its array, every count within its array. */
static void assert_sane(const struct np_npa_request *r)
{
        ck_assert_ptr_nonnull(memchr(r->remote_client_name, 0, NP_NPA_NAME_MAX));
        ck_assert_ptr_nonnull(memchr(r->remote_client_addr, 0, NP_NPA_ADDR_MAX));
        ck_assert_ptr_nonnull(memchr(r->local_server_name, 0, NP_NPA_NAME_MAX));
        ck_assert_ptr_nonnull(memchr(r->local_server_addr, 0, NP_NPA_ADDR_MAX));
        ck_assert_ptr_nonnull(memchr(r->id.account, 0, NP_NPA_NAME_MAX));
        ck_assert_ptr_nonnull(memchr(r->id.domain, 0, NP_NPA_NAME_MAX));
        ck_assert_ptr_nonnull(memchr(r->id.unix_name, 0, NP_NPA_NAME_MAX));
        ck_assert_uint_le(r->id.nsids, NP_NPA_MAX_SIDS);
        ck_assert_uint_le(r->id.nsids, r->id.nsids_total);
        ck_assert_uint_le(r->id.ngroups, NP_NPA_MAX_GROUPS);
        ck_assert_uint_le(r->id.ngroups, r->id.ngroups_total);
        for (unsigned i = 0; i < r->id.nsids; i++) {
                ck_assert_ptr_nonnull(memchr(r->id.sids[i], 0, NP_NPA_SID_STR));
                ck_assert_int_eq(strncmp(r->id.sids[i], "S-", 2), 0);
        }
}

static const char *const user_sids[] = {
    "S-1-5-21-537953111-1755232657-3710416304-1000",
    "S-1-5-21-537953111-1755232657-3710416304-513",
    "S-1-22-2-1001",
    "S-1-1-0",
    "S-1-5-2",
    "S-1-5-11",
    "S-1-22-1-1001",
};

static const char *const anon_sids[] = {
    "S-1-5-7", "S-1-1-0", "S-1-5-2", "S-1-22-1-65534", "S-1-22-2-65534",
};

static void assert_sids(const struct np_npa_identity *id, const char *const *want, unsigned n)
{
        ck_assert_uint_eq(id->nsids, n);
        ck_assert_uint_eq(id->nsids_total, n);
        for (unsigned i = 0; i < n; i++)
                ck_assert_str_eq(id->sids[i], want[i]);
}

/* The request fields every capture shares (smbd puts its own host name in
 * both name fields). */
static void assert_loopback(const struct np_npa_request *r, uint32_t level, uint16_t port)
{
        ck_assert_uint_eq(r->level, level);
        ck_assert_uint_eq(r->transport, 1); /* NCACN_NP */
        ck_assert_str_eq(r->remote_client_name, "vm");
        ck_assert_str_eq(r->remote_client_addr, "127.0.0.1");
        ck_assert_uint_eq(r->remote_client_port, port);
        ck_assert_str_eq(r->local_server_name, "vm");
        ck_assert_str_eq(r->local_server_addr, "127.0.0.1");
        ck_assert_uint_eq(r->local_server_port, 4455);
}

static void assert_nptest(const struct np_npa_identity *id)
{
        ck_assert_uint_eq(id->uid, 1001);
        ck_assert_uint_eq(id->gid, 1001);
        ck_assert_uint_eq(id->ngroups, 1);
        ck_assert_uint_eq(id->ngroups_total, 1);
        ck_assert_uint_eq(id->groups[0], 1001);
        ck_assert_str_eq(id->account, "nptest");
        ck_assert_str_eq(id->domain, "NPTESTSRV");
        ck_assert_str_eq(id->unix_name, "nptest");
        assert_sids(id, user_sids, sizeof user_sids / sizeof user_sids[0]);
}

static void assert_anonymous(const struct np_npa_identity *id)
{
        ck_assert_uint_eq(id->flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ANONYMOUS);
        ck_assert_uint_eq(id->uid, 65534);
        ck_assert_uint_eq(id->gid, 65534);
        ck_assert_uint_eq(id->ngroups, 1);
        ck_assert_uint_eq(id->groups[0], 65534);
        ck_assert_str_eq(id->account, "ANONYMOUS LOGON");
        ck_assert_str_eq(id->domain, "NT AUTHORITY");
        ck_assert_str_eq(id->unix_name, "nobody");
        assert_sids(id, anon_sids, sizeof anon_sids / sizeof anon_sids[0]);
}

/* Every blob a valid request is made of. */
static const char *const valid_blobs[] = {
    "level7-user.bin",          "level7-anon.bin",        "level7-user-smb21.bin",
    "level7-user-40groups.bin", "level5-user.bin",        "level8-user.bin",
    "level8-anon.bin",          "level8-device-sids.bin", "synth7-no-session.bin",
    "synth7-no-info.bin",       "synth7-no-names.bin",    "synth7-big-authority.bin",
};
#define N_VALID (sizeof valid_blobs / sizeof valid_blobs[0])

START_TEST(test_user_encrypted)
{
        /* covers: remote handshake decoding (real SMB 3.0 encrypted login) */
        /* The parse succeeding at all checks the alignment rule: the token
         * sits at offset 200, 8-aligned only counting the length word. */
        ck_assert_ok(parse_file("level7-user.bin", &req));
        assert_loopback(&req, 7, 42800);
        ck_assert_uint_eq(req.need_idle_server, 0);
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ENCRYPTED);
        assert_nptest(&req.id);
}
END_TEST

START_TEST(test_user_unencrypted)
{
        /* covers: remote handshake decoding (real SMB 2.1 login, no SMB3 SID) */
        ck_assert_ok(parse_file("level7-user-smb21.bin", &req));
        assert_loopback(&req, 7, 42820);
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX);
        assert_nptest(&req.id);
}
END_TEST

START_TEST(test_anonymous)
{
        /* covers: remote handshake decoding (real null session) */
        ck_assert_ok(parse_file("level7-anon.bin", &req));
        assert_loopback(&req, 7, 42804);
        assert_anonymous(&req.id);
}
END_TEST

START_TEST(test_lists_truncated)
{
        /* covers: remote handshake decoding (real login, 41 groups) */
        ck_assert_ok(parse_file("level7-user-40groups.bin", &req));
        assert_loopback(&req, 7, 40442);
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ENCRYPTED |
                                            NP_NPA_SIDS_TRUNCATED | NP_NPA_GROUPS_TRUNCATED);
        ck_assert_uint_eq(req.id.uid, 1001);
        ck_assert_uint_eq(req.id.gid, 1001);
        ck_assert_uint_eq(req.id.ngroups, NP_NPA_MAX_GROUPS);
        ck_assert_uint_eq(req.id.ngroups_total, 41);
        for (unsigned i = 0; i < NP_NPA_MAX_GROUPS; i++)
                ck_assert_uint_eq(req.id.groups[i], 1001 + i);
        /* user, primary group, 41 x S-1-22-2-gid, world, network,
         * authenticated users, S-1-22-1-1001: 47; the two pseudo-SIDs are
         * not counted */
        ck_assert_uint_eq(req.id.nsids, NP_NPA_MAX_SIDS);
        ck_assert_uint_eq(req.id.nsids_total, 47);
        ck_assert_str_eq(req.id.sids[0], user_sids[0]);
        ck_assert_str_eq(req.id.sids[1], user_sids[1]);
        for (unsigned i = 2; i < NP_NPA_MAX_SIDS; i++) {
                char want[32];

                snprintf(want, sizeof want, "S-1-22-2-%u", 1001 + i - 2);
                ck_assert_str_eq(req.id.sids[i], want);
        }
        ck_assert_str_eq(req.id.account, "nptest");
}
END_TEST

START_TEST(test_level5)
{
        /* covers: remote handshake decoding (level 5, synthetic) */
        ck_assert_ok(parse_file("level5-user.bin", &req));
        assert_loopback(&req, 5, 42800);
        ck_assert_uint_eq(req.need_idle_server, 1);
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ENCRYPTED);
        assert_nptest(&req.id);
}
END_TEST

START_TEST(test_level8)
{
        /* covers: remote handshake decoding (level 8, synthetic) */
        ck_assert_ok(parse_file("level8-user.bin", &req));
        assert_loopback(&req, 8, 42800);
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ENCRYPTED);
        assert_nptest(&req.id);

        ck_assert_ok(parse_file("level8-anon.bin", &req));
        assert_loopback(&req, 8, 42804);
        assert_anonymous(&req.id);

        /* device SIDs are walked over, not reported as the user's */
        ck_assert_ok(parse_file("level8-device-sids.bin", &req));
        assert_nptest(&req.id);

        /* claims: refused, not guessed at */
        ck_assert_status(parse_file("level8-claims.bin", &req), NPIPE_ENOTSUP);
}
END_TEST

START_TEST(test_optional_parts)
{
        /* covers: remote handshake decoding (NULL pointers, synthetic) */
        ck_assert_ok(parse_file("synth7-no-session.bin", &req));
        assert_loopback(&req, 7, 42800);
        ck_assert_uint_eq(req.id.flags, 0);
        ck_assert_uint_eq(req.id.nsids, 0);
        ck_assert_str_eq(req.id.account, "");

        ck_assert_ok(parse_file("synth7-no-info.bin", &req));
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX | NP_NPA_ENCRYPTED);
        ck_assert_str_eq(req.id.account, "");
        ck_assert_str_eq(req.id.domain, "");
        ck_assert_str_eq(req.id.unix_name, "");
        ck_assert_uint_eq(req.id.uid, 1001);

        ck_assert_ok(parse_file("synth7-no-names.bin", &req));
        ck_assert_str_eq(req.remote_client_name, "");
        ck_assert_str_eq(req.remote_client_addr, "");
        ck_assert_uint_eq(req.remote_client_port, 42800);
        ck_assert_str_eq(req.id.account, "nptest");
}
END_TEST

START_TEST(test_pseudo_sids)
{
        /* covers: remote handshake decoding (Samba's SMB3 and NPA SIDs) */
        /* an SMB3 SID with encrypt = 0 does not mean encrypted */
        ck_assert_ok(parse_file("synth7-smb3-unencrypted.bin", &req));
        ck_assert_uint_eq(req.id.flags, NP_NPA_HAVE_SESSION | NP_NPA_HAVE_UNIX);
        assert_sids(&req.id, user_sids, sizeof user_sids / sizeof user_sids[0]);
        /* smbd never adds a second SMB3 SID: two are forged */
        ck_assert_status(parse_file("synth7-two-smb3.bin", &req), NPIPE_EPROTO);
        /* the longest SID there is still fits */
        ck_assert_ok(parse_file("synth7-big-authority.bin", &req));
        ck_assert_uint_eq(req.id.nsids, 8);
        ck_assert_str_eq(req.id.sids[7],
                         "S-255-0xFFFFFFFFFFFF-4294967295-4294967295-4294967295-4294967295-"
                         "4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-"
                         "4294967295-4294967295-4294967295-4294967295-4294967295");
        ck_assert_uint_lt(strlen(req.id.sids[7]), NP_NPA_SID_STR);
}
END_TEST

START_TEST(test_string_limits)
{
        /* covers: remote handshake decoding (string length limits) */
        ck_assert_ok(parse_file("synth7-addr63.bin", &req));
        ck_assert_uint_eq(strlen(req.remote_client_addr), NP_NPA_ADDR_MAX - 1);
        ck_assert_status(parse_file("synth7-addr64.bin", &req), NPIPE_EPROTO);
        ck_assert_ok(parse_file("synth7-account255.bin", &req));
        ck_assert_uint_eq(strlen(req.id.account), NP_NPA_NAME_MAX - 1);
        ck_assert_status(parse_file("synth7-account256.bin", &req), NPIPE_EPROTO);
        /* a failed parse leaves nothing behind */
        ck_assert_uint_eq(req.level, 0);
        ck_assert_uint_eq(req.id.flags, 0);
        ck_assert_str_eq(req.remote_client_name, "");
}
END_TEST

/* Offsets in level7-user.bin (see gen.py / the hex dump in the README):
 * remote_client_name's string header at 48, its bytes "vm\0" at 60; the
 * torture pointer at 152; the token's counts at 200 and 204, its first SID
 * at 208 (sub-authority count at 209). */
enum {
        OFF_RCN_MAX = 48,
        OFF_RCN_OFS = 52,
        OFF_RCN_ACT = 56,
        OFF_RCN_BYTES = 60,
        OFF_TORTURE = 152,
        OFF_NUM_SIDS = 200,
        OFF_SIDS_CONF = 204,
        OFF_SID0_COUNT = 209,
};

static int parse_patched(const struct blob *b, size_t off, uint32_t v32)
{
        uint8_t *q = exact_copy(b->p, b->n);
        int r;

        put_le32(q + off, v32);
        r = np_npa_parse(q, b->n, &req);
        assert_sane(&req);
        free(q);
        return r;
}

static int parse_patched8(const struct blob *b, size_t off, uint8_t v)
{
        uint8_t *q = exact_copy(b->p, b->n);
        int r;

        q[off] = v;
        r = np_npa_parse(q, b->n, &req);
        assert_sane(&req);
        free(q);
        return r;
}

START_TEST(test_malformed_fields)
{
        /* covers: remote handshake decoding (malformed strings, SIDs, pointers) */
        struct blob b = load("level7-user.bin");

        /* the offsets are right: the unpatched values are the originals */
        ck_assert_ok(parse_patched(&b, OFF_RCN_ACT, 3));
        ck_assert_ok(parse_patched(&b, OFF_NUM_SIDS, 9));
        ck_assert_ok(parse_patched8(&b, OFF_RCN_BYTES, 'v'));
        /* a larger max_count than actual_count is legal NDR */
        ck_assert_ok(parse_patched(&b, OFF_RCN_MAX, 100));

        ck_assert_status(parse_patched(&b, OFF_RCN_OFS, 1), NPIPE_EPROTO);
        ck_assert_status(parse_patched(&b, OFF_RCN_MAX, 2), NPIPE_EPROTO); /* actual > max */
        ck_assert_status(parse_patched8(&b, OFF_RCN_BYTES + 2, 'x'), NPIPE_EPROTO); /* no NUL */
        ck_assert_status(parse_patched8(&b, OFF_RCN_BYTES, 0), NPIPE_EPROTO);       /* inner NUL */
        ck_assert_status(parse_patched(&b, OFF_RCN_ACT, 0xffffffffu), NPIPE_EPROTO);
        ck_assert_status(parse_patched(&b, OFF_TORTURE, 0x20000), NPIPE_EPROTO);
        ck_assert_status(parse_patched(&b, OFF_SIDS_CONF, 8), NPIPE_EPROTO);
        ck_assert_status(parse_patched(&b, OFF_NUM_SIDS, 8), NPIPE_EPROTO);
        ck_assert_status(parse_patched8(&b, OFF_SID0_COUNT, 16), NPIPE_EPROTO);
        ck_assert_status(parse_patched8(&b, OFF_SID0_COUNT, 0xff), NPIPE_EPROTO);
        {
                /* a huge SID count with matching conformance fails at once */
                uint8_t *q = exact_copy(b.p, b.n);

                put_le32(q + OFF_NUM_SIDS, 0x7fffffffu);
                put_le32(q + OFF_SIDS_CONF, 0x7fffffffu);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_EPROTO);
                free(q);
        }
        free(b.p);
}
END_TEST

START_TEST(test_truncations)
{
        /* covers: remote handshake decoding (every prefix of every blob) */
        for (size_t k = 0; k < N_VALID; k++) {
                struct blob b = load(valid_blobs[k]);

                for (size_t n = 0; n < b.n; n++) {
                        uint8_t *q = exact_copy(b.p, n);

                        /* as cut, the length word disagrees */
                        ck_assert_msg(np_npa_parse(q, n, &req) == NPIPE_EPROTO, "%s cut at %zu",
                                      valid_blobs[k], n);
                        assert_sane(&req);
                        /* with the length word fixed, the walk itself
                         * must find the end */
                        if (n > 4) {
                                put_be32(q, (uint32_t)(n - 4));
                                ck_assert_msg(np_npa_parse(q, n, &req) == NPIPE_EPROTO,
                                              "%s cut at %zu (length fixed)", valid_blobs[k], n);
                                assert_sane(&req);
                        }
                        free(q);
                }
                free(b.p);
        }
}
END_TEST

START_TEST(test_bit_flips)
{
        /* covers: remote handshake decoding (every single-bit corruption) */
        for (size_t k = 0; k < N_VALID; k++) {
                struct blob b = load(valid_blobs[k]);
                uint8_t *q = exact_copy(b.p, b.n);

                for (size_t bit = 0; bit < b.n * 8; bit++) {
                        int r;

                        q[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                        r = np_npa_parse(q, b.n, &req);
                        ck_assert_msg(r == 0 || r == NPIPE_EPROTO || r == NPIPE_ENOTSUP,
                                      "%s bit %zu: %d", valid_blobs[k], bit, r);
                        assert_sane(&req);
                        q[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
                free(q);
                free(b.p);
        }
}
END_TEST

START_TEST(test_trailing_bytes)
{
        /* covers: remote handshake decoding (the blob is consumed exactly) */
        for (size_t k = 0; k < N_VALID; k++) {
                struct blob b = load(valid_blobs[k]);
                uint8_t *q = malloc(b.n + 1);

                ck_assert_ptr_nonnull(q);
                memcpy(q, b.p, b.n);
                q[b.n] = 0;
                /* length word left alone: it disagrees with len */
                ck_assert_status(np_npa_parse(q, b.n + 1, &req), NPIPE_EPROTO);
                /* length word covering the extra byte: trailing garbage */
                put_be32(q, (uint32_t)(b.n + 1 - 4));
                ck_assert_status(np_npa_parse(q, b.n + 1, &req), NPIPE_EPROTO);
                assert_sane(&req);
                free(q);
                free(b.p);
        }
}
END_TEST

START_TEST(test_levels)
{
        /* covers: remote handshake decoding (level dispatch) */
        static const uint32_t unknown[] = {0, 1, 4, 6, 9, 0xffffffffu};
        struct blob b = load("level7-user.bin");

        for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
                uint8_t *q = exact_copy(b.p, b.n);

                put_le32(q + 8, unknown[i]);
                put_le32(q + 12, unknown[i]);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_ENOTSUP);
                free(q);
        }
        /* level and union discriminant must agree */
        ck_assert_status(parse_patched(&b, 12, 8), NPIPE_EPROTO);
        /* a level-7 body announced as level 8 or 5 is malformed, not
         * unsupported */
        {
                uint8_t *q = exact_copy(b.p, b.n);

                put_le32(q + 8, 8);
                put_le32(q + 12, 8);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_EPROTO);
                put_le32(q + 8, 5);
                put_le32(q + 12, 5);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_EPROTO);
                free(q);
        }
        /* the magic */
        ck_assert_status(parse_patched8(&b, 4, 'X'), NPIPE_EPROTO);
        free(b.p);
}
END_TEST

START_TEST(test_length_word)
{
        /* covers: remote handshake decoding (the length word) */
        uint8_t w[4];
        size_t total = 99;

        put_be32(w, 0);
        ck_assert_status(np_npa_request_size(w, &total), NPIPE_EPROTO);
        ck_assert_uint_eq(total, 0);
        put_be32(w, 0xffffffffu);
        ck_assert_status(np_npa_request_size(w, &total), NPIPE_EPROTO);
        put_be32(w, 0x00ffffffu); /* smbd's own limit: above ours */
        ck_assert_status(np_npa_request_size(w, &total), NPIPE_EPROTO);
        put_be32(w, NP_NPA_MAX_REQUEST - 3);
        ck_assert_status(np_npa_request_size(w, &total), NPIPE_EPROTO);
        put_be32(w, NP_NPA_MAX_REQUEST - 4);
        ck_assert_ok(np_npa_request_size(w, &total));
        ck_assert_uint_eq(total, NP_NPA_MAX_REQUEST);
        put_be32(w, 759);
        ck_assert_ok(np_npa_request_size(w, &total));
        ck_assert_uint_eq(total, 763);

        struct blob b = load("level7-user.bin");
        ck_assert_ok(np_npa_request_size(b.p, &total));
        ck_assert_uint_eq(total, b.n);
        {
                uint8_t *q = exact_copy(b.p, b.n);

                put_be32(q, 0);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_EPROTO);
                put_be32(q, 0xffffffffu);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_EPROTO);
                put_be32(q, (uint32_t)b.n - 5);
                ck_assert_status(np_npa_parse(q, b.n, &req), NPIPE_EPROTO);
                free(q);
        }
        ck_assert_status(np_npa_parse(b.p, 3, &req), NPIPE_EPROTO);
        ck_assert_status(np_npa_parse(b.p, 0, &req), NPIPE_EPROTO);
        ck_assert_status(np_npa_parse(NULL, 0, &req), NPIPE_EPROTO);
        free(b.p);
}
END_TEST

START_TEST(test_reply)
{
        /* covers: remote handshake decoding (the reply smbd expects) */
        /* samba.md section 1.2: level 7, message mode */
        static const uint8_t want7[NP_NPA_REPLY_SIZE] = {
            0x00, 0x00, 0x00, 0x20, 0x4e, 0x50, 0x41, 0x4d, 0x07, 0x00, 0x00, 0x00,
            0x07, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff, 0x05, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        uint8_t out[NP_NPA_REPLY_SIZE];

        memset(out, 0xaa, sizeof out);
        np_npa_reply(out, 7, 1);
        ck_assert_int_eq(memcmp(out, want7, sizeof out), 0);

        /* byte mode: file type 1, nothing else changes */
        np_npa_reply(out, 7, 0);
        ck_assert_uint_eq(out[16], 1);
        out[16] = 2;
        ck_assert_int_eq(memcmp(out, want7, sizeof out), 0);

        /* the request's level is echoed, twice */
        np_npa_reply(out, 8, 1);
        ck_assert_int_eq(memcmp(out, want7, 8), 0);
        ck_assert_uint_eq(out[8], 8);
        ck_assert_uint_eq(out[12], 8);
        ck_assert_int_eq(memcmp(out + 16, want7 + 16, NP_NPA_REPLY_SIZE - 16), 0);
        np_npa_reply(out, 5, 1);
        ck_assert_uint_eq(out[8], 5);
        ck_assert_uint_eq(out[12], 5);

        /* the reply's own length word describes it */
        size_t total = 0;
        ck_assert_ok(np_npa_request_size(out, &total));
        ck_assert_uint_eq(total, NP_NPA_REPLY_SIZE);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("npa");
        TCase *tc = tcase_create("npa");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_user_encrypted);
        tcase_add_test(tc, test_user_unencrypted);
        tcase_add_test(tc, test_anonymous);
        tcase_add_test(tc, test_lists_truncated);
        tcase_add_test(tc, test_level5);
        tcase_add_test(tc, test_level8);
        tcase_add_test(tc, test_optional_parts);
        tcase_add_test(tc, test_pseudo_sids);
        tcase_add_test(tc, test_string_limits);
        tcase_add_test(tc, test_malformed_fields);
        tcase_add_test(tc, test_truncations);
        tcase_add_test(tc, test_bit_flips);
        tcase_add_test(tc, test_trailing_bytes);
        tcase_add_test(tc, test_levels);
        tcase_add_test(tc, test_length_word);
        tcase_add_test(tc, test_reply);
        suite_add_tcase(s, tc);
        return h_run(s);
}
