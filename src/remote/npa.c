/*
 * npa.c - decoder of the named_pipe_auth request smbd sends on a pipe
 * socket, and encoder of the fixed reply (npa.h).
 *
 * The request is NDR32 as Samba's PIDL marshals it (librpc/idl/
 * named_pipe_auth.idl, auth.idl, security.idl).  Only the shapes that
 * occur in it are needed, so this is a hand-written walk, not a general
 * NDR engine:
 *
 *   - scalars are little endian, except the leading length word;
 *   - alignment is counted from the first byte of the blob, length word
 *     included (the length is a member of the top-level struct; checked
 *     against smbd 4.17.12: the security token of a captured request sits
 *     at offset 200, which is 8-aligned only when counted that way);
 *   - NDR32 has no trailing struct padding (PIDL's trailer_align is an
 *     NDR64 feature), so the next member follows at its own alignment;
 *   - a unique pointer is a 4-byte referent id, 0 for NULL; its referent
 *     comes after all the scalars of the struct that holds it ("deferred"),
 *     in member order;
 *   - a [string] is conformant-varying: max_count, offset, actual_count,
 *     then actual_count bytes, the NUL included;
 *   - a conformant array inside a struct carries its count inline just
 *     before the elements, except in a struct whose last member is the
 *     array (security_unix_token), where it comes first.
 *
 * Levels.  7 is what smbd 4.17.9+ sends (the captures in tests/data/npa/
 * are 4.17.12).  5 has one more member, u8 need_idle_server after the
 * session pointer, and is decoded with the same session info as 7 (with
 * the u16 ticket_type; a session info from a release without it cannot be
 * told apart reliably and fails closed, as malformed, unless the padding
 * happens to absorb it).  8 (4.20+) keeps the request and changes two
 * structs inside the session info: auth_user_info ends in u32 user_flags
 * instead of u8 authenticated, and security_token gains claims and device
 * SIDs after rights_mask (see walk_token).
 *
 * Every read goes through struct cur, which proves the bytes are there
 * before touching them; counts are checked against the bytes left before
 * any loop, so the work is bounded by the blob's length.  The nesting is
 * fixed by the IDL (request > transport > session > token/user info), so
 * the code is a plain call chain with no recursion.
 */
#include "remote/npa.h"

#include <stdio.h>
#include <string.h>

#include "npipe/npipe.h"

/* ---- bounds-checked cursor ----------------------------------------------- */

struct cur {
        const uint8_t *p;
        size_t len; /* whole blob */
        size_t off; /* next byte; never above len */
};

static int need(const struct cur *c, size_t n)
{
        return n <= c->len - c->off ? 0 : NPIPE_EPROTO;
}

/* Skip the padding up to a multiple of a (1, 2, 4 or 8).  The pad bytes are
 * not checked: smbd writes zeros, but Samba's own reader ignores them, and
 * rejecting what smbd's peer would accept buys nothing. */
static int align(struct cur *c, size_t a)
{
        size_t pad = (a - (c->off & (a - 1))) & (a - 1);

        if (need(c, pad) < 0)
                return NPIPE_EPROTO;
        c->off += pad;
        return 0;
}

static int skip(struct cur *c, size_t n)
{
        if (need(c, n) < 0)
                return NPIPE_EPROTO;
        c->off += n;
        return 0;
}

static int get_u8(struct cur *c, uint8_t *v)
{
        if (need(c, 1) < 0)
                return NPIPE_EPROTO;
        *v = c->p[c->off++];
        return 0;
}

static int get_u16(struct cur *c, uint16_t *v)
{
        if (align(c, 2) < 0 || need(c, 2) < 0)
                return NPIPE_EPROTO;
        *v = (uint16_t)(c->p[c->off] | (unsigned)c->p[c->off + 1] << 8);
        c->off += 2;
        return 0;
}

static int get_u32(struct cur *c, uint32_t *v)
{
        const uint8_t *q;

        if (align(c, 4) < 0 || need(c, 4) < 0)
                return NPIPE_EPROTO;
        q = c->p + c->off;
        *v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        c->off += 4;
        return 0;
}

/* A hyper: 8-aligned, as uid_t, gid_t and the privilege mask are. */
static int get_u64(struct cur *c, uint64_t *v)
{
        uint32_t lo, hi;

        if (align(c, 8) < 0 || get_u32(c, &lo) < 0 || get_u32(c, &hi) < 0)
                return NPIPE_EPROTO;
        *v = (uint64_t)hi << 32 | lo;
        return 0;
}

/* A unique pointer: *present tells whether a referent follows later. */
static int get_ptr(struct cur *c, int *present)
{
        uint32_t id;

        if (get_u32(c, &id) < 0)
                return NPIPE_EPROTO;
        *present = id != 0;
        return 0;
}

/* A pointer the IDL marks [value(NULL), ignore]: smbd always sends 0, and a
 * referent we would have no way to skip is refused. */
static int get_null_ptr(struct cur *c)
{
        int present;

        if (get_ptr(c, &present) < 0 || present)
                return NPIPE_EPROTO;
        return 0;
}

/* DATA_BLOB: u32 length, then the bytes (session keys, GSSAPI credentials:
 * skipped, never kept). */
static int skip_blob(struct cur *c)
{
        uint32_t n;

        if (get_u32(c, &n) < 0)
                return NPIPE_EPROTO;
        return skip(c, n);
}

/* A conformant-varying string.  offset must be 0 and actual_count at most
 * max_count (what any NDR reader checks); it must end in its NUL and hold
 * no other, so the C string we hand on is exactly what was sent.  With dst
 * NULL it is validated and skipped (strings we do not keep have no length
 * limit of ours); otherwise it must fit cap bytes, NUL included. */
static int get_string(struct cur *c, char *dst, size_t cap)
{
        uint32_t max, ofs, act;
        const uint8_t *s;

        if (get_u32(c, &max) < 0 || get_u32(c, &ofs) < 0 || get_u32(c, &act) < 0)
                return NPIPE_EPROTO;
        if (ofs != 0 || act > max || act == 0 || need(c, act) < 0)
                return NPIPE_EPROTO;
        s = c->p + c->off;
        if (s[act - 1] != 0 || memchr(s, 0, act - 1) != NULL)
                return NPIPE_EPROTO;
        if (dst != NULL) {
                if (act > cap)
                        return NPIPE_EPROTO;
                memcpy(dst, s, act);
        }
        c->off += act;
        return 0;
}

/* The referent of a string pointer, if the pointer was not NULL (dst then
 * stays "", as the caller zeroed it). */
static int get_opt_string(struct cur *c, int present, char *dst, size_t cap)
{
        return present ? get_string(c, dst, cap) : 0;
}

/* ---- SIDs ----------------------------------------------------------------- */

struct sid {
        uint8_t rev;
        uint8_t n;     /* sub-authorities, 0..15 */
        uint64_t auth; /* 48-bit identifier authority */
        uint32_t sub[15];
};

/* dom_sid on the wire: u8 revision, int8 count, 6-byte big-endian
 * authority, count x u32.  Samba refuses a count outside 0..15; so do we
 * (an int8 above 15 or negative both read as > 15 here). */
static int get_sid(struct cur *c, struct sid *s)
{
        if (align(c, 4) < 0 || get_u8(c, &s->rev) < 0 || get_u8(c, &s->n) < 0 || s->n > 15 ||
            need(c, 6) < 0)
                return NPIPE_EPROTO;
        s->auth = 0;
        for (int i = 0; i < 6; i++)
                s->auth = s->auth << 8 | c->p[c->off + (size_t)i];
        c->off += 6;
        for (unsigned i = 0; i < s->n; i++) {
                if (get_u32(c, &s->sub[i]) < 0)
                        return NPIPE_EPROTO;
        }
        return 0;
}

/* "S-1-5-21-...".  An authority of 2^32 or more is written in hex, as
 * MS-DTYP 2.4.2.1 says; the longest result (revision 255, a 48-bit
 * authority, 15 sub-authorities of 10 digits) is 186 bytes with the NUL,
 * within NP_NPA_SID_STR. */
static void sid_format(const struct sid *s, char *out)
{
        size_t o;

        if (s->auth >> 32)
                o = (size_t)snprintf(out, NP_NPA_SID_STR, "S-%u-0x%012llX", (unsigned)s->rev,
                                     (unsigned long long)s->auth);
        else
                o = (size_t)snprintf(out, NP_NPA_SID_STR, "S-%u-%llu", (unsigned)s->rev,
                                     (unsigned long long)s->auth);
        for (unsigned i = 0; i < s->n && o < NP_NPA_SID_STR; i++)
                o +=
                    (size_t)snprintf(out + o, NP_NPA_SID_STR - o, "-%lu", (unsigned long)s->sub[i]);
}

/* Samba's pseudo-SIDs (libcli/security/dom_sid.c): S-1-22-2041152804-<flags>
 * carries smbd's NPA flags (need idle server, winbind off), and
 * S-1-22-1397571891-<dialect>-<encrypt>-<cipher> is added by open_np_file()
 * (smbd/smb2_pipes.c) only when the SMB2 request was encrypted.  Neither
 * describes the user. */
#define SID_AUTH_UNIX       22u
#define SID_SAMBA_NPA_FLAGS 2041152804u
#define SID_SAMBA_SMB3      1397571891u

static int is_samba_pseudo(const struct sid *s, uint32_t domain)
{
        return s->rev == 1 && s->auth == SID_AUTH_UNIX && s->n >= 1 && s->sub[0] == domain;
}

/* ---- the session info ----------------------------------------------------- */

struct walk {
        struct cur c;
        uint32_t level;
        struct np_npa_identity *id;
        unsigned smb3_sids;
};

/* security_token.  4.20 (level 8) appended claim counts and arrays, device
 * SIDs and a claims-evaluation enum.  Claims are CLAIM_SECURITY_ATTRIBUTE_
 * RELATIVE_V1 with relative pointers whose layout we have no real sample
 * of, so a token with claims is refused as unsupported (fail closed); smbd
 * sends none for NTLM or local users.  Device SIDs are walked and dropped:
 * they name the client machine's groups, not the user's. */
static int walk_token(struct walk *w)
{
        struct cur *c = &w->c;
        struct np_npa_identity *id = w->id;
        uint32_t num, conf;
        uint64_t priv;
        uint32_t rights;

        if (align(c, 8) < 0 || get_u32(c, &num) < 0 || get_u32(c, &conf) < 0 || conf != num)
                return NPIPE_EPROTO;
        /* a SID is at least 8 bytes: refuse a count the blob cannot hold
         * before looping over it */
        if (num > (c->len - c->off) / 8)
                return NPIPE_EPROTO;
        for (uint32_t i = 0; i < num; i++) {
                struct sid s;

                if (get_sid(c, &s) < 0)
                        return NPIPE_EPROTO;
                if (i == 0 && s.rev == 1 && s.auth == 5 && s.n == 1 && s.sub[0] == 7)
                        id->flags |= NP_NPA_ANONYMOUS; /* S-1-5-7 as the user SID */
                if (is_samba_pseudo(&s, SID_SAMBA_NPA_FLAGS))
                        continue;
                if (is_samba_pseudo(&s, SID_SAMBA_SMB3)) {
                        /* the same test as Samba's dcerpc_is_transport_
                         * encrypted(): exactly one such SID, with four
                         * sub-authorities in range, encrypt != 0.  smbd
                         * refuses to add a second one, so two are forged. */
                        if (s.n != 4)
                                continue;
                        if (++w->smb3_sids > 1)
                                return NPIPE_EPROTO;
                        if (s.sub[1] <= 0x03ffu && s.sub[2] != 0 && s.sub[2] <= 2u &&
                            s.sub[3] <= 256u)
                                id->flags |= NP_NPA_ENCRYPTED;
                        continue;
                }
                id->nsids_total++; /* no overflow: num <= len / 8 */
                if (id->nsids < NP_NPA_MAX_SIDS)
                        sid_format(&s, id->sids[id->nsids++]);
                else
                        id->flags |= NP_NPA_SIDS_TRUNCATED;
        }
        if (get_u64(c, &priv) < 0 || get_u32(c, &rights) < 0)
                return NPIPE_EPROTO;
        if (w->level >= 8) {
                uint32_t n_local, n_user, n_dev_claims, n_dev_sids;
                uint32_t k;
                uint16_t eval;

                if (get_u32(c, &n_local) < 0 || get_u32(c, &n_user) < 0 ||
                    get_u32(c, &n_dev_claims) < 0 || get_u32(c, &n_dev_sids) < 0)
                        return NPIPE_EPROTO;
                /* each claim array: inline count, which must match */
                if (get_u32(c, &k) < 0 || k != n_local)
                        return NPIPE_EPROTO;
                if (n_local != 0)
                        return NPIPE_ENOTSUP;
                if (get_u32(c, &k) < 0 || k != n_user)
                        return NPIPE_EPROTO;
                if (n_user != 0)
                        return NPIPE_ENOTSUP;
                if (get_u32(c, &k) < 0 || k != n_dev_claims)
                        return NPIPE_EPROTO;
                if (n_dev_claims != 0)
                        return NPIPE_ENOTSUP;
                if (get_u32(c, &k) < 0 || k != n_dev_sids || n_dev_sids > (c->len - c->off) / 8)
                        return NPIPE_EPROTO;
                for (uint32_t i = 0; i < n_dev_sids; i++) {
                        struct sid s;

                        if (get_sid(c, &s) < 0)
                                return NPIPE_EPROTO;
                }
                if (get_u16(c, &eval) < 0)
                        return NPIPE_EPROTO;
        }
        return 0;
}

/* security_unix_token: a conformant struct, so the group count comes first,
 * then (8-aligned) uid, gid, the count again and the groups. */
static int walk_unix_token(struct walk *w)
{
        struct cur *c = &w->c;
        struct np_npa_identity *id = w->id;
        uint32_t conf, n;

        if (get_u32(c, &conf) < 0 || get_u64(c, &id->uid) < 0 || get_u64(c, &id->gid) < 0 ||
            get_u32(c, &n) < 0 || n != conf)
                return NPIPE_EPROTO;
        if (n > (c->len - c->off) / 8)
                return NPIPE_EPROTO;
        id->ngroups_total = n;
        for (uint32_t i = 0; i < n; i++) {
                uint64_t g;

                if (get_u64(c, &g) < 0)
                        return NPIPE_EPROTO;
                if (id->ngroups < NP_NPA_MAX_GROUPS)
                        id->groups[id->ngroups++] = g;
                else
                        id->flags |= NP_NPA_GROUPS_TRUNCATED;
        }
        id->flags |= NP_NPA_HAVE_UNIX;
        return 0;
}

/* auth_user_info: ten string pointers (a boolean after the second), six
 * NTTIMEs (two u32, 4-aligned), two u16, acct_flags, then "authenticated"
 * (u8) up to level 7 or "user_flags" (u32) from 4.20 on; then the strings
 * that are not NULL.  Only the account and domain names are kept. */
enum {
        UI_ACCOUNT,
        UI_UPN,
        UI_DOMAIN,
        UI_DNS_DOMAIN,
        UI_FULL_NAME,
        UI_LOGON_SCRIPT,
        UI_PROFILE,
        UI_HOME_DIR,
        UI_HOME_DRIVE,
        UI_LOGON_SERVER,
        UI_NSTRINGS
};

static int walk_user_info(struct walk *w)
{
        struct cur *c = &w->c;
        int present[UI_NSTRINGS];
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;

        for (int i = 0; i < UI_NSTRINGS; i++) {
                if (get_ptr(c, &present[i]) < 0)
                        return NPIPE_EPROTO;
                if (i == UI_UPN && get_u8(c, &u8) < 0) /* user_principal_constructed */
                        return NPIPE_EPROTO;
        }
        for (int i = 0; i < 6; i++) {
                /* an NTTIME is NDR's udlong: two u32, only 4-aligned */
                if (get_u32(c, &u32) < 0 || get_u32(c, &u32) < 0)
                        return NPIPE_EPROTO;
        }
        if (get_u16(c, &u16) < 0 || get_u16(c, &u16) < 0 || get_u32(c, &u32) < 0)
                return NPIPE_EPROTO;
        if (w->level >= 8 ? get_u32(c, &u32) < 0 : get_u8(c, &u8) < 0)
                return NPIPE_EPROTO;
        for (int i = 0; i < UI_NSTRINGS; i++) {
                char *dst = NULL;

                if (i == UI_ACCOUNT)
                        dst = w->id->account;
                else if (i == UI_DOMAIN)
                        dst = w->id->domain;

                if (get_opt_string(c, present[i], dst, NP_NPA_NAME_MAX) < 0)
                        return NPIPE_EPROTO;
        }
        return 0;
}

/* auth_user_info_unix: unix_name and sanitized_username. */
static int walk_unix_info(struct walk *w)
{
        struct cur *c = &w->c;
        int name, sanitized;

        if (get_ptr(c, &name) < 0 || get_ptr(c, &sanitized) < 0 ||
            get_opt_string(c, name, w->id->unix_name, NP_NPA_NAME_MAX) < 0 ||
            get_opt_string(c, sanitized, NULL, 0) < 0)
                return NPIPE_EPROTO;
        return 0;
}

/* auth_session_info: four pointers, the NULL torture pointer, the session
 * key, the NULL credentials pointer, a GUID, the u16 ticket type; then the
 * referents of the four pointers, each in its own function. */
static int walk_session(struct walk *w)
{
        struct cur *c = &w->c;
        int token, utoken, info, uinfo;
        uint16_t ticket_type;
        int r;

        if (get_ptr(c, &token) < 0 || get_ptr(c, &utoken) < 0 || get_ptr(c, &info) < 0 ||
            get_ptr(c, &uinfo) < 0 || get_null_ptr(c) < 0 || skip_blob(c) < 0 ||
            get_null_ptr(c) < 0 || align(c, 4) < 0 || skip(c, 16) < 0 ||
            get_u16(c, &ticket_type) < 0)
                return NPIPE_EPROTO;
        w->id->flags |= NP_NPA_HAVE_SESSION;
        if (token && (r = walk_token(w)) < 0)
                return r;
        if (utoken && walk_unix_token(w) < 0)
                return NPIPE_EPROTO;
        if (info && walk_user_info(w) < 0)
                return NPIPE_EPROTO;
        if (uinfo && walk_unix_info(w) < 0)
                return NPIPE_EPROTO;
        return 0;
}

/* auth_session_info_transport: the session pointer and the exported GSSAPI
 * credentials (a blob we skip), then the session. */
static int walk_transport(struct walk *w)
{
        int session;

        if (get_ptr(&w->c, &session) < 0 || skip_blob(&w->c) < 0)
                return NPIPE_EPROTO;
        return session ? walk_session(w) : 0;
}

/* ---- entry points ---------------------------------------------------------- */

static uint32_t load_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int np_npa_request_size(const uint8_t first4[4], size_t *total)
{
        uint32_t n = load_be32(first4);

        *total = 0;
        if (n == 0 || n > NP_NPA_MAX_REQUEST - 4)
                return NPIPE_EPROTO;
        *total = (size_t)n + 4;
        return 0;
}

/* named_pipe_auth_req: BE length, "NPAM", level, then the union (the level
 * again as discriminant, then info5/7/8). */
static int parse(const uint8_t *buf, size_t len, struct np_npa_request *out)
{
        struct walk w = {.c = {.p = buf, .len = len, .off = 0}, .id = &out->id};
        struct cur *c = &w.c;
        size_t total;
        uint32_t disc;
        uint8_t transport;
        int rcn, rca, lsn, lsa, session, r;

        if (buf == NULL || len < 4 || np_npa_request_size(buf, &total) < 0 || total != len)
                return NPIPE_EPROTO;
        c->off = 4;
        if (need(c, 4) < 0 || memcmp(buf + 4, "NPAM", 4) != 0)
                return NPIPE_EPROTO;
        c->off = 8;
        if (get_u32(c, &w.level) < 0 || get_u32(c, &disc) < 0 || disc != w.level)
                return NPIPE_EPROTO;
        if (w.level != 5 && w.level != 7 && w.level != 8)
                return NPIPE_ENOTSUP;
        out->level = w.level;
        if (get_u8(c, &transport) < 0 || get_ptr(c, &rcn) < 0 || get_ptr(c, &rca) < 0 ||
            get_u16(c, &out->remote_client_port) < 0 || get_ptr(c, &lsn) < 0 ||
            get_ptr(c, &lsa) < 0 || get_u16(c, &out->local_server_port) < 0 ||
            get_ptr(c, &session) < 0)
                return NPIPE_EPROTO;
        out->transport = transport;
        if (w.level == 5 && get_u8(c, &out->need_idle_server) < 0)
                return NPIPE_EPROTO;
        if (get_opt_string(c, rcn, out->remote_client_name, NP_NPA_NAME_MAX) < 0 ||
            get_opt_string(c, rca, out->remote_client_addr, NP_NPA_ADDR_MAX) < 0 ||
            get_opt_string(c, lsn, out->local_server_name, NP_NPA_NAME_MAX) < 0 ||
            get_opt_string(c, lsa, out->local_server_addr, NP_NPA_ADDR_MAX) < 0)
                return NPIPE_EPROTO;
        if (session && (r = walk_transport(&w)) < 0)
                return r;
        /* smbd's reader takes the blob whole (ndr_pull_struct_blob_all):
         * anything after the last referent is as wrong as a short blob */
        return c->off == len ? 0 : NPIPE_EPROTO;
}

int np_npa_parse(const uint8_t *buf, size_t len, struct np_npa_request *out)
{
        int r;

        memset(out, 0, sizeof *out);
        r = parse(buf, len, out);
        if (r < 0)
                memset(out, 0, sizeof *out); /* no half-decoded identity */
        return r;
}

static void put_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

/* named_pipe_auth_rep: BE length 32, "NPAM", level twice, u16 file type,
 * u16 device state, 4 pad bytes (the hyper is 8-aligned), u64 allocation
 * size, NTSTATUS. */
void np_npa_reply(uint8_t out[NP_NPA_REPLY_SIZE], uint32_t level, int message_mode)
{
        memset(out, 0, NP_NPA_REPLY_SIZE);
        out[3] = NP_NPA_REPLY_SIZE - 4;
        memcpy(out + 4, "NPAM", 4);
        put_le32(out + 8, level);
        put_le32(out + 12, level);
        out[16] = message_mode ? 2 : 1;
        out[18] = 0xff; /* device state 0x05ff */
        out[19] = 0x05;
        put_le32(out + 24, 4096); /* allocation size, high half 0 */
        /* status 0 at 32 */
}
