/*
 * test_proto.c - np_proto_check() and np_proto_body_size() on their own.
 *
 * The decoder is the broker's attack surface (it will be fuzzed): these
 * tests pin the rules packet by packet, then throw random and mutated
 * packets at it, at every length and at odd alignments, so that ASan and
 * UBSan builds (make check-asan) catch any out-of-bounds or unaligned read.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npipe/npipe.h"
#include "proto/proto.h"

static size_t build(unsigned char *buf, uint16_t type, const void *body, size_t blen,
                    const char *name, size_t nlen)
{
        struct np_hdr h = {.type = type,
                           .version = NP_PROTO_VERSION,
                           .len = (uint32_t)(sizeof h + blen + nlen),
                           .req_id = 1};

        memcpy(buf, &h, sizeof h);
        if (blen)
                memcpy(buf + sizeof h, body, blen);
        if (nlen)
                memcpy(buf + sizeof h + blen, name, nlen);
        return h.len;
}

/* covers: (protocol) body sizes */
START_TEST(test_body_sizes)
{
        ck_assert_int_eq(np_proto_body_size(NP_MSG_HELLO), 16);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_CREATE), 40);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_LISTEN), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_OPEN), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_WAIT), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_DISCONNECT), 48);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_CLOSE_SERVER), 48);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_CLOSE_CLIENT), 48);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_QUERY), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_LIST), 0);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_CANCEL), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_ADOPT), 72);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_STATS), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_STATS_REPORT), 16);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_STATS_ITEM), 200);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_EV_STATS_QUERY), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_REPLY), 8);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_HELLO_REPLY), 16);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_CREATE_REPLY), 48);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_OPEN_REPLY), 64);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_QUERY_REPLY), 48);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_LIST_ITEM), 64);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_EV_CONNECTED), 32);
        ck_assert_int_eq(np_proto_body_size(NP_MSG_EV_PEER_GONE), 24);
        ck_assert_int_eq(np_proto_body_size(0), -1);
        ck_assert_int_eq(np_proto_body_size(16), -1);
        ck_assert_int_eq(np_proto_body_size(63), -1);
        ck_assert_int_eq(np_proto_body_size(0xffff), -1);
}
END_TEST

/* covers: (protocol) header rules */
START_TEST(test_header)
{
        unsigned char buf[NP_PROTO_MAX_PACKET + 16];
        const char *name = (const char *)1;
        uint32_t nl = 7;
        size_t n = build(buf, NP_MSG_LIST, NULL, 0, NULL, 0);

        ck_assert_int_eq(np_proto_check(buf, n, &name, &nl), 0);
        ck_assert_ptr_null(name);
        ck_assert_uint_eq(nl, 0);
        ck_assert_int_eq(np_proto_check(NULL, 16, NULL, NULL), NPIPE_EPROTO);
        ck_assert_int_eq(np_proto_check(buf, 15, NULL, NULL), NPIPE_EPROTO);
        ck_assert_int_eq(np_proto_check(buf, 17, NULL, NULL), NPIPE_EPROTO); /* len != n */
        buf[2] = NP_PROTO_VERSION + 1;                                       /* version */
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        buf[2] = NP_PROTO_VERSION;
        buf[15] = 1; /* an unknown flag */
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        buf[15] = 0;
        buf[12] = NP_HDR_NO_REPLY; /* LIST has more than a status to answer */
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        buf[12] = 0;
        {
                uint64_t id = 5;
                unsigned char end[64] = {0};
                size_t m = build(end, NP_MSG_LISTEN, &id, sizeof id, NULL, 0);

                end[12] = NP_HDR_NO_REPLY;
                ck_assert_int_eq(np_proto_check(end, m, NULL, NULL), 0);
                memset(end + 8, 0, 4); /* req_id 0 */
                ck_assert_int_eq(np_proto_check(end, m, NULL, NULL), NPIPE_EPROTO);
        }
        buf[0] = 77; /* unknown type */
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);

        /* A fixed body must be exactly its size. */
        {
                uint64_t id = 5;

                n = build(buf, NP_MSG_QUERY, &id, sizeof id, NULL, 0);
                ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), 0);
                n = build(buf, NP_MSG_QUERY, &id, 4, NULL, 0);
                ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
                n = build(buf, NP_MSG_QUERY, &id, sizeof id, "x", 1);
                ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        }
        /* Over the maximum, even if self-consistent. */
        {
                struct np_hdr h = {.type = NP_MSG_LIST,
                                   .version = NP_PROTO_VERSION,
                                   .len = NP_PROTO_MAX_PACKET + 1};

                memset(buf, 0, sizeof buf);
                memcpy(buf, &h, sizeof h);
                ck_assert_int_eq(np_proto_check(buf, h.len, NULL, NULL), NPIPE_EPROTO);
        }
}
END_TEST

/* covers: NAME-06 NAME-08 NAME-12 (names on the wire) */
START_TEST(test_names)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        char name[NP_NAME_MAX + 2];
        struct np_open o = {.access = 1};
        struct np_list_item it;
        const char *got;
        uint32_t nl;
        size_t n;

        memset(name, 'x', sizeof name);
        for (uint32_t len = 1; len <= NP_NAME_MAX; len += 51) {
                o.name_len = len;
                n = build(buf, NP_MSG_OPEN, &o, sizeof o, name, len);
                ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
                ck_assert_uint_eq(nl, len);
                ck_assert_ptr_eq(got, (const char *)buf + 16 + sizeof o);
        }
        o.name_len = NP_NAME_MAX;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, name, NP_NAME_MAX);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
        o.name_len = NP_NAME_MAX + 1;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, name, NP_NAME_MAX + 1);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), NPIPE_ENAMETOOLONG);
        ck_assert_ptr_null(got);
        o.name_len = 0;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EBADNAME);
        o.name_len = 3;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, "a\0b", 3);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EBADNAME);
        /* name_len and the bytes present must agree both ways */
        o.name_len = 4;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, "abc", 3);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        o.name_len = 2;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, "abc", 3);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        o.name_len = 0xffffffffu;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, "abc", 3);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        /* Characters NT allows (NAME-06, NAME-08) and UTF-8 pass. */
        o.name_len = 12;
        n = build(buf, NP_MSG_OPEN, &o, sizeof o, "<>*?|\"/\\\xc3\xa9.:", 12);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), 0);

        /* LIST_ITEM: the empty marker carries no name, others need one. */
        memset(&it, 0, sizeof it);
        it.flags = NP_LIST_LAST | NP_LIST_EMPTY;
        n = build(buf, NP_MSG_LIST_ITEM, &it, sizeof it, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
        ck_assert_ptr_null(got);
        it.name_len = 1;
        n = build(buf, NP_MSG_LIST_ITEM, &it, sizeof it, "a", 1);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        it.flags = NP_LIST_LAST;
        n = build(buf, NP_MSG_LIST_ITEM, &it, sizeof it, "a", 1);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
        ck_assert_uint_eq(nl, 1);
        it.name_len = 0;
        n = build(buf, NP_MSG_LIST_ITEM, &it, sizeof it, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EBADNAME);
}
END_TEST

/* covers: (protocol) statistics: a report's items fill the packet, the
 * broker's item has no name and a pipe's has one (issue 5) */
START_TEST(test_stats)
{
        unsigned char buf[NP_PROTO_MAX_PACKET + 16]; /* room for one byte too many */
        unsigned char body[NP_PROTO_MAX_PACKET];
        struct np_stats_report rep = {.query = 1, .flags = NP_STATS_LAST};
        struct np_stats_item it;
        const char *got;
        uint32_t nl;
        size_t n;

        memset(body, 0, sizeof body);
        for (uint32_t count = 0; count <= NP_STATS_REPORT_MAX; count++) {
                size_t blen = sizeof rep + count * sizeof(struct np_stats_live);

                rep.count = count;
                memcpy(body, &rep, sizeof rep);
                n = build(buf, NP_MSG_STATS_REPORT, body, blen, NULL, 0);
                ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
                ck_assert_ptr_null(got);
                /* one byte more or less than the count says */
                n = build(buf, NP_MSG_STATS_REPORT, body, blen + 1, NULL, 0);
                ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
                if (count > 0) {
                        n = build(buf, NP_MSG_STATS_REPORT, body, blen - 1, NULL, 0);
                        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
                }
        }
        ck_assert_uint_ge(NP_STATS_REPORT_MAX, 40);
        /* a count whose items could not fit, and one that would overflow */
        rep.count = (uint32_t)NP_STATS_REPORT_MAX + 1;
        memcpy(body, &rep, sizeof rep);
        n = build(buf, NP_MSG_STATS_REPORT, body,
                  sizeof rep + NP_STATS_REPORT_MAX * sizeof(struct np_stats_live), NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        rep.count = 0x55555556u; /* times 48 is 32 modulo 2^32 */
        memcpy(body, &rep, sizeof rep);
        n = build(buf, NP_MSG_STATS_REPORT, body, sizeof rep + 32, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);

        memset(&it, 0, sizeof it);
        it.flags = NP_STATS_BROKER | NP_STATS_LAST;
        n = build(buf, NP_MSG_STATS_ITEM, &it, sizeof it, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
        ck_assert_ptr_null(got);
        it.name_len = 1;
        n = build(buf, NP_MSG_STATS_ITEM, &it, sizeof it, "a", 1);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        it.flags = 0;
        n = build(buf, NP_MSG_STATS_ITEM, &it, sizeof it, "a", 1);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
        ck_assert_uint_eq(nl, 1);
        it.name_len = 0;
        n = build(buf, NP_MSG_STATS_ITEM, &it, sizeof it, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EBADNAME);
}
END_TEST

/* covers: (protocol) NP_MSG_ADOPT carries a required name (issue 4, item 4) */
START_TEST(test_adopt)
{
        unsigned char buf[NP_PROTO_MAX_PACKET];
        char name[NP_NAME_MAX + 1];
        struct np_adopt a;
        const char *got;
        uint32_t nl;
        size_t n;

        memset(&a, 0, sizeof a);
        a.role = NP_ADOPT_SERVER;
        a.name_len = 5;
        n = build(buf, NP_MSG_ADOPT, &a, sizeof a, "alpha", 5);
        ck_assert_uint_eq(n, 16 + 72 + 5);
        ck_assert_int_eq(np_proto_check(buf, n, &got, &nl), 0);
        ck_assert_ptr_eq(got, (const char *)buf + 16 + 72);
        ck_assert_uint_eq(nl, 5);
        /* the name is required */
        a.name_len = 0;
        n = build(buf, NP_MSG_ADOPT, &a, sizeof a, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EBADNAME);
        /* and must fill the packet */
        a.name_len = 6;
        n = build(buf, NP_MSG_ADOPT, &a, sizeof a, "alpha", 5);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        a.name_len = 2;
        n = build(buf, NP_MSG_ADOPT, &a, sizeof a, "x\0", 3);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        a.name_len = 3;
        n = build(buf, NP_MSG_ADOPT, &a, sizeof a, "x\0y", 3);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EBADNAME);
        memset(name, 'n', sizeof name);
        a.name_len = NP_NAME_MAX + 1;
        n = build(buf, NP_MSG_ADOPT, &a, sizeof a, name, NP_NAME_MAX + 1);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_ENAMETOOLONG);
        /* a body cut short */
        n = build(buf, NP_MSG_ADOPT, &a, 40, NULL, 0);
        ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t)rng_state;
}

/* A valid identity: user, domain, two addresses, two SIDs. */
static void make_id(struct np_remote_id *id)
{
        static const char s[] = "nptest\0NPTESTSRV\0" "127.0.0.1\0" "127.0.0.1\0"
                                "S-1-5-21-1-2-3-1000\0S-1-22-1-1001";

        memset(id, 0, sizeof *id);
        id->uid = id->gid = 1001;
        id->ngroups = 1;
        id->groups[0] = 1001;
        id->nsids = 2;
        id->strings_len = sizeof s;
        memcpy(id->strings, s, sizeof s);
}

/* covers: (protocol) the remote identity of NP_MSG_OPEN_REMOTE and
 * NP_MSG_EV_CONNECTED_REMOTE */
START_TEST(test_remote_id)
{
        static unsigned char buf[NP_PROTO_MAX_PACKET + 16];
        struct np_open_remote o;
        struct np_remote_id id;
        const char *name;
        uint32_t nl;
        size_t n;

        make_id(&id);
        ck_assert_int_eq(np_remote_id_check(&id), 0);
        ck_assert_str_eq(np_remote_id_string(&id, 0), "nptest");
        ck_assert_str_eq(np_remote_id_string(&id, 1), "NPTESTSRV");
        ck_assert_str_eq(np_remote_id_string(&id, 5), "S-1-22-1-1001");

        /* the strings must fill strings_len exactly, each NUL-terminated */
        id.strings_len--;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        make_id(&id);
        id.strings_len++;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        make_id(&id);
        id.nsids = 3;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        make_id(&id);
        id.nsids = NP_REMOTE_MAX_SIDS + 1;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        make_id(&id);
        id.ngroups = NP_REMOTE_MAX_GROUPS + 1;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        make_id(&id);
        id.strings_len = NP_REMOTE_STRINGS + 1;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        make_id(&id);
        id.reserved = 1;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        /* an address longer than NP_REMOTE_ADDR_MAX */
        memset(&id, 0, sizeof id);
        memset(id.strings + 2, 'a', NP_REMOTE_ADDR_MAX);
        id.strings_len = 2 + NP_REMOTE_ADDR_MAX + 2;
        ck_assert_int_eq(np_remote_id_check(&id), NPIPE_EPROTO);
        /* an identity with no SIDs and empty strings is fine */
        memset(&id, 0, sizeof id);
        id.strings_len = 4;
        ck_assert_int_eq(np_remote_id_check(&id), 0);

        /* whole packets: the identity is checked with the rest */
        memset(&o, 0, sizeof o);
        make_id(&o.id);
        o.open.name_len = 4;
        n = build(buf, NP_MSG_OPEN_REMOTE, &o, sizeof o, "echo", 4);
        ck_assert_int_eq(np_proto_check(buf, n, &name, &nl), 0);
        ck_assert_uint_eq(nl, 4);
        o.id.strings_len = 3;
        n = build(buf, NP_MSG_OPEN_REMOTE, &o, sizeof o, "echo", 4);
        ck_assert_int_eq(np_proto_check(buf, n, &name, &nl), NPIPE_EPROTO);
        {
                struct np_ev_connected_remote ev;

                memset(&ev, 0, sizeof ev);
                make_id(&ev.id);
                n = build(buf, NP_MSG_EV_CONNECTED_REMOTE, &ev, sizeof ev, NULL, 0);
                ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), 0);
                ev.id.nsids = 0;
                n = build(buf, NP_MSG_EV_CONNECTED_REMOTE, &ev, sizeof ev, NULL, 0);
                ck_assert_int_eq(np_proto_check(buf, n, NULL, NULL), NPIPE_EPROTO);
        }
}
END_TEST

/* covers: (protocol) robustness on arbitrary input */
START_TEST(test_random)
{
        static const uint16_t types[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
                                         14, 15, 64, 65, 66, 67, 68, 69, 70, 96, 97, 98, 99};
        unsigned char *mem = malloc(NP_PROTO_MAX_PACKET + 64);
        int ok = 0;

        ck_assert_ptr_nonnull(mem);
        for (int iter = 0; iter < 300000; iter++) {
                /* Odd offsets: the decoder must not assume alignment. */
                unsigned char *buf = mem + (rnd() % 8);
                size_t n = rnd() % (NP_PROTO_MAX_PACKET + 32);
                const char *name;
                uint32_t nl;
                int r;

                for (size_t i = 0; i < n; i++)
                        buf[i] = (unsigned char)rnd();
                /* Mostly well-formed headers, so the body paths get reached. */
                if (n >= 16 && (iter & 3) != 0) {
                        struct np_hdr h = {.type = types[rnd() % (sizeof types / sizeof types[0])],
                                           .version = NP_PROTO_VERSION,
                                           .len = (uint32_t)n};
                        int body = np_proto_body_size(h.type);

                        memcpy(buf, &h, sizeof h);
                        /* and often a plausible name length */
                        if ((iter & 4) && (size_t)body + 16 + 8 <= n) {
                                uint32_t want = (uint32_t)(n - 16 - (size_t)body);

                                for (size_t off = 0; off + 4 <= (size_t)body; off += 4)
                                        if (rnd() % 3 == 0)
                                                memcpy(buf + 16 + off, &want, 4);
                        }
                }
                /* Hand the decoder an exact-size copy so ASan sees the end. */
                {
                        unsigned char *exact = malloc(n ? n : 1);

                        memcpy(exact, buf, n);
                        r = np_proto_check(exact, n, &name, &nl);
                        if (r == 0) {
                                ok++;
                                if (name != NULL) {
                                        ck_assert(name >= (const char *)exact &&
                                                  name + nl == (const char *)exact + n);
                                        ck_assert(nl >= 1 && nl <= NP_NAME_MAX);
                                        ck_assert_ptr_null(memchr(name, 0, nl));
                                }
                        } else {
                                ck_assert(r == NPIPE_EPROTO || r == NPIPE_EBADNAME ||
                                          r == NPIPE_ENAMETOOLONG);
                        }
                        free(exact);
                }
        }
        ck_assert_int_gt(ok, 0);
        free(mem);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("proto");
        TCase *tc = tcase_create("check");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_body_sizes);
        tcase_add_test(tc, test_header);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_adopt);
        tcase_add_test(tc, test_remote_id);
        tcase_add_test(tc, test_stats);
        tcase_add_test(tc, test_random);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
