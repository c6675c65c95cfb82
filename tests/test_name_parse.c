/*
 * test_name_parse.c - unit tests of src/core/name.c (no broker): which
 * strings are pipe names, what the bare name is, case folding, the NT
 * comparison key and the Samba socket name (issue 15).
 */
#include "harness.h"

#include "core/name.h"
#include "proto/proto.h"

#include <string.h>

static int parse(const char *path, const char **bare, size_t *len)
{
        return np_name_parse(path, bare, len);
}

START_TEST(test_prefix_any_case)
{
        /* covers: NAME-01 */
        static const char *const forms[] = {"\\\\.\\pipe\\abc", "\\\\.\\PIPE\\abc",
                                            "\\\\.\\PiPe\\abc", "\\\\.\\pIpE\\abc"};
        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                const char *bare = NULL;
                size_t len = 0;
                ck_assert_status(parse(forms[i], &bare, &len), NPIPE_OK);
                ck_assert_uint_eq(len, 3);
                ck_assert_int_eq(memcmp(bare, "abc", 3), 0);
        }
}
END_TEST

START_TEST(test_not_a_pipe_name)
{
        /* covers: NAME-03 NAME-04 */
        const char *bare;
        size_t len;
        ck_assert_status(parse(NULL, &bare, &len), NPIPE_ENOPATH);
        ck_assert_status(parse("not a named pipe", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("\\\\.\\pip\\x", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("\\\\.\\mailslot\\x", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("//./pipe/x", &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(parse("", &bare, &len), NPIPE_EBADNAME);
}
END_TEST

START_TEST(test_name_kept_literally)
{
        /* covers: NAME-06 NAME-07 NAME-08 */
        static const char *const names[] = {
            "<>*?|\"/",        /* NAME-06: legal characters */
            "trailingslash\\", /* NAME-07: trailing backslash kept */
            "test3\\pipe",     /* NAME-08: inner backslash */
            "a\\.\\b",         /* no '.' collapsing */
            "a\\..\\b",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char path[256];
                snprintf(path, sizeof(path), "\\\\.\\pipe\\%s", names[i]);
                const char *bare = NULL;
                size_t len = 0;
                ck_assert_status(parse(path, &bare, &len), NPIPE_OK);
                ck_assert_uint_eq(len, strlen(names[i]));
                ck_assert_int_eq(memcmp(bare, names[i], len), 0);
        }
}
END_TEST

START_TEST(test_length_limit)
{
        /* covers: NAME-12 */
        /* the whole \\.\pipe\name string may be 256 characters (docs) */
        char path[2048];
        const char *bare;
        size_t len;
        strcpy(path, "\\\\.\\pipe\\");
        size_t p = strlen(path);
        memset(path + p, 'n', 256 - p);
        path[256] = 0;
        ck_assert_uint_eq(strlen(path), 256);
        ck_assert_status(parse(path, &bare, &len), NPIPE_OK);
        ck_assert_uint_eq(len, 256 - p);
        /* far too long */
        memset(path + p, 'n', 1500);
        path[p + 1500] = 0;
        ck_assert_status(parse(path, &bare, &len), NPIPE_ENAMETOOLONG);
}
END_TEST

START_TEST(test_fold)
{
        /* covers: NAME-02 */
        char a[16], b[16];
        np_name_fold("Foo-bar\\X1", 10, a);
        np_name_fold("FOO-BAR\\x1", 10, b);
        ck_assert_int_eq(memcmp(a, b, 10), 0);
        np_name_fold("foo", 3, a);
        np_name_fold("fop", 3, b);
        ck_assert_int_ne(memcmp(a, b, 3), 0);
}
END_TEST

/* ---- issue 15: one strict validator, one key, one socket name ---------- */

/* np_name_check on a C string (no NUL inside). */
static int check(const char *s)
{
        return np_name_check(s, strlen(s));
}

/* np_name_key of two C strings: equal? */
static int same_key(const char *a, const char *b)
{
        char ka[NP_NAME_KEY_MAX], kb[NP_NAME_KEY_MAX];
        ck_assert_status(check(a), NPIPE_OK);
        ck_assert_status(check(b), NPIPE_OK);
        size_t la = np_name_key(a, strlen(a), ka);
        size_t lb = np_name_key(b, strlen(b), kb);
        ck_assert_uint_gt(la, 0);
        ck_assert_uint_gt(lb, 0);
        return la == lb && memcmp(ka, kb, la) == 0;
}

/* np_name_smb of two checked names gives the same socket file */
static int same_smb(const char *a, const char *b)
{
        char sa[64], sb[64];
        ck_assert_status(check(a), NPIPE_OK);
        ck_assert_status(check(b), NPIPE_OK);
        size_t la = np_name_smb(a, strlen(a), sa, sizeof(sa));
        size_t lb = np_name_smb(b, strlen(b), sb, sizeof(sb));
        ck_assert_uint_gt(la, 0);
        ck_assert_uint_gt(lb, 0);
        return la == lb && memcmp(sa, sb, la) == 0;
}

START_TEST(test_check_overlong)
{
        /* covers: issue 15 (names) NAME-03 */
        /* the bytes of the report: C0 AF decodes to '/' in a lenient
         * decoder, and C0 80 to NUL */
        static const char attack[] = "..\xC0\xAFvictim\xC0\xAFprecious.txt";
        static const char *const bad[] = {
            attack,
            "\xC0\x80",
            "\xC0\xAF",
            "\xC1\xBF",             /* U+007F in two bytes */
            "\xE0\x80\xAF",         /* '/' in three bytes */
            "\xE0\x9F\xBF",         /* U+07FF in three bytes */
            "\xF0\x80\x80\xAF",     /* '/' in four bytes */
            "\xF0\x8F\xBF\xBF",     /* U+FFFF in four bytes */
            "\xF8\x80\x80\x80\xAF", /* five-byte forms do not exist */
            "\xFC\x80\x80\x80\x80\xAF",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_status(check(bad[i]), NPIPE_EBADNAME);

        /* the library's parser is the same validator */
        char path[128];
        const char *bare;
        size_t len;
        snprintf(path, sizeof(path), "\\\\.\\pipe\\%s", attack);
        ck_assert_status(parse(path, &bare, &len), NPIPE_EBADNAME);
        ck_assert_status(np_name_canonical(attack, path, sizeof(path)), NPIPE_EBADNAME);

        /* and the socket name never comes out of it: even a caller that
         * skipped the check gets no file name, let alone one with '/' */
        char smb[128];
        ck_assert_uint_eq(np_name_smb(attack, strlen(attack), smb, sizeof(smb)), 0);
        ck_assert_uint_eq(np_name_smb("\xC0\xAF", 2, smb, sizeof(smb)), 0);
        char key[NP_NAME_KEY_MAX];
        ck_assert_uint_eq(np_name_key(attack, strlen(attack), key), 0);
}
END_TEST

START_TEST(test_check_surrogates_and_range)
{
        /* covers: issue 15 (names) NAME-03 */
        static const char *const bad[] = {
            "\xED\xA0\x80",             /* U+D800 */
            "\xED\xAF\xBF",             /* U+DBFF */
            "\xED\xB0\x80",             /* U+DC00 */
            "\xED\xBF\xBF",             /* U+DFFF */
            "\xED\xA0\xBD\xED\xB8\x80", /* CESU-8 pair for U+1F600 */
            "\xF4\x90\x80\x80",         /* U+110000 */
            "\xF5\x80\x80\x80",
            "\xF7\xBF\xBF\xBF",
            "\xFE",
            "\xFF",
            "a\xC0",
            "a\xC1",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_status(check(bad[i]), NPIPE_EBADNAME);

        /* the edges just inside */
        static const char *const good[] = {
            "\x7F",             /* U+007F */
            "\xC2\x80",         /* U+0080 */
            "\xDF\xBF",         /* U+07FF */
            "\xE0\xA0\x80",     /* U+0800 */
            "\xED\x9F\xBF",     /* U+D7FF */
            "\xEE\x80\x80",     /* U+E000 */
            "\xEF\xBF\xBF",     /* U+FFFF */
            "\xF0\x90\x80\x80", /* U+10000 */
            "\xF4\x8F\xBF\xBF", /* U+10FFFF */
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                ck_assert_status(check(good[i]), NPIPE_OK);
}
END_TEST

START_TEST(test_check_truncated_and_stray)
{
        /* covers: issue 15 (names) NAME-03 */
        static const char *const bad[] = {
            "\xC3",         /* two-byte lead at the end */
            "a\xE2\x82",    /* three-byte sequence cut short */
            "\xF0\x9F\x98", /* four-byte sequence cut short */
            "\xE2\x82"
            "a",        /* ... or interrupted */
            "\xC3\x28", /* second byte not a continuation */
            "\x80",     /* stray continuation bytes */
            "a\xBF"
            "b",
            "\xC3\xA9\xA9", /* one too many */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_status(check(bad[i]), NPIPE_EBADNAME);

        /* a length that cuts a valid sequence is a truncated one */
        ck_assert_status(np_name_check("\xC3\xA9", 1), NPIPE_EBADNAME);
        ck_assert_status(np_name_check("\xC3\xA9", 2), NPIPE_OK);

        /* NUL, empty, NULL */
        ck_assert_status(np_name_check("a\0b", 3), NPIPE_EBADNAME);
        ck_assert_status(np_name_check("\0", 1), NPIPE_EBADNAME);
        ck_assert_status(np_name_check("abc", 0), NPIPE_EBADNAME);
        ck_assert_status(np_name_check(NULL, 0), NPIPE_EBADNAME);
}
END_TEST

START_TEST(test_check_length)
{
        /* covers: NAME-12 */
        char buf[NP_NAME_MAX + 16];

        /* NP_NAME_MAX_CHARS UTF-16 units, ASCII */
        memset(buf, 'a', NP_NAME_MAX_CHARS + 1);
        ck_assert_status(np_name_check(buf, NP_NAME_MAX_CHARS), NPIPE_OK);
        ck_assert_status(np_name_check(buf, NP_NAME_MAX_CHARS + 1), NPIPE_ENAMETOOLONG);

        /* three-byte characters: 250 of them are 750 bytes and still fine */
        for (size_t i = 0; i <= NP_NAME_MAX_CHARS; i++)
                memcpy(buf + 3 * i, "\xE2\x82\xAC", 3); /* U+20AC */
        ck_assert_status(np_name_check(buf, 3 * NP_NAME_MAX_CHARS), NPIPE_OK);
        ck_assert_status(np_name_check(buf, 3 * (NP_NAME_MAX_CHARS + 1)), NPIPE_ENAMETOOLONG);

        /* outside the BMP a character is two units: 125 fit, 126 do not */
        for (size_t i = 0; i < 126; i++)
                memcpy(buf + 4 * i, "\xF0\x90\x90\x80", 4); /* U+10400 */
        ck_assert_status(np_name_check(buf, 4 * 125), NPIPE_OK);
        ck_assert_status(np_name_check(buf, 4 * 126), NPIPE_ENAMETOOLONG);
        /* one unit left over: a BMP character still fits, a pair does not */
        memcpy(buf + 4 * 124,
               "\xF0\x90\x90\x80"
               "a",
               5);
        ck_assert_status(np_name_check(buf, 4 * 124 + 4), NPIPE_OK);

        /* more than NP_NAME_MAX bytes is too long before anything else */
        memset(buf, 'a', sizeof(buf));
        ck_assert_status(np_name_check(buf, NP_NAME_MAX + 1), NPIPE_ENAMETOOLONG);
        buf[NP_NAME_MAX] = (char)0xC0;
        ck_assert_status(np_name_check(buf, NP_NAME_MAX + 1), NPIPE_ENAMETOOLONG);
        /* within NP_NAME_MAX bytes, bad bytes win over the unit count */
        buf[300] = (char)0xC0;
        ck_assert_status(np_name_check(buf, 400), NPIPE_EBADNAME);
}
END_TEST

/* covers: issue 14 (remote pipe paths: \\HOST\pipe\NAME and //HOST/pipe/NAME,
 * the host and the name as given; local and other paths are not remote;
 * an empty, over-long or control-character host is a bad path) */
START_TEST(test_remote_paths)
{
        char host[NP_HOST_MAX + 1];
        const char *bare = NULL;
        size_t len = 0;
        char big[NP_HOST_MAX + 20];

        ck_assert_int_eq(np_name_remote("\\\\srv1\\pipe\\x\\y", host, sizeof host, &bare, &len),
                         1);
        ck_assert_str_eq(host, "srv1");
        ck_assert_uint_eq(len, 3);
        ck_assert_int_eq(memcmp(bare, "x\\y", 3), 0);
        ck_assert_int_eq(np_name_remote("//127.0.0.1/PIPE/srvsvc", host, sizeof host, &bare, &len),
                         1);
        ck_assert_str_eq(host, "127.0.0.1");
        ck_assert_uint_eq(len, 6);
        /* not remote: local, bare names, other shares, a half-slashed form */
        ck_assert_int_eq(np_name_remote("\\\\.\\pipe\\x", host, sizeof host, &bare, &len), 0);
        ck_assert_int_eq(np_name_remote("x", host, sizeof host, &bare, &len), 0);
        ck_assert_int_eq(np_name_remote("\\\\srv\\share\\x", host, sizeof host, &bare, &len), 0);
        ck_assert_int_eq(np_name_remote("\\\\srv\\pipe", host, sizeof host, &bare, &len), 0);
        ck_assert_int_eq(np_name_remote("\\\\srv/pipe/x", host, sizeof host, &bare, &len), 0);
        ck_assert_int_eq(np_name_remote(NULL, host, sizeof host, &bare, &len), 0);
        /* remote, but bad */
        ck_assert_status(np_name_remote("\\\\\\pipe\\x", host, sizeof host, &bare, &len),
                         NPIPE_EBADPATH);
        ck_assert_status(np_name_remote("\\\\s\x01\\pipe\\x", host, sizeof host, &bare, &len),
                         NPIPE_EBADPATH);
        ck_assert_status(np_name_remote("\\\\srv\\pipe\\", host, sizeof host, &bare, &len),
                         NPIPE_EBADNAME);
        memset(big, 'h', sizeof big);
        memcpy(big, "\\\\", 2);
        memcpy(big + 2 + NP_HOST_MAX + 1, "\\pipe\\x", 8);
        ck_assert_status(np_name_remote(big, host, sizeof host, &bare, &len), NPIPE_EBADPATH);
}
END_TEST

START_TEST(test_key_case_insensitive)
{
        /* covers: NAME-02 */
        ck_assert(same_key("kelvin", "KELVIN"));
        ck_assert(same_key("WinReg", "winreg"));
        ck_assert(same_key("a\\B\\c\\", "A\\b\\C\\"));
        ck_assert(!same_key("foo", "fop"));
        /* Latin-1, Greek, Cyrillic, fullwidth, Latin Extended */
        ck_assert(same_key("\xC3\xBC", "\xC3\x9C"));         /* u-umlaut */
        ck_assert(same_key("\xC3\xBF", "\xC5\xB8"));         /* y-diaeresis, U+0178 */
        ck_assert(same_key("\xCF\x89", "\xCE\xA9"));         /* omega, OMEGA */
        ck_assert(same_key("\xCF\x83", "\xCE\xA3"));         /* sigma, SIGMA */
        ck_assert(same_key("\xD0\xB4", "\xD0\x94"));         /* de, DE */
        ck_assert(same_key("\xEF\xBD\x81", "\xEF\xBC\xA1")); /* fullwidth a, A */
        ck_assert(same_key("\xC9\x90", "\xE2\xB1\xAF"));     /* U+0250, U+2C6F */
        ck_assert(same_key("\xC7\x86", "\xC7\x84"));         /* dz caron, DZ caron */
}
END_TEST

START_TEST(test_key_nt_exceptions)
{
        /* covers: NAME-02 issue 15 (names) */
        /* already upper case: the Kelvin sign is not "K", the ohm sign is
         * not omega, capital sharp s is not sharp s */
        ck_assert(!same_key("\xE2\x84\xAA"
                            "elvin",
                            "kelvin")); /* U+212A */
        ck_assert(!same_key("\xE2\x84\xAA"
                            "elvin",
                            "KELVIN"));
        ck_assert(!same_key("\xE2\x84\xA6", "\xCF\x89")); /* U+2126, omega */
        ck_assert(!same_key("\xE2\x84\xA6", "\xCE\xA9")); /* U+2126, OMEGA */
        ck_assert(!same_key("\xC3\x9F", "\xE1\xBA\x9E")); /* U+00DF, U+1E9E */
        /* dotted capital I is its own letter */
        ck_assert(!same_key("winreg", "w\xC4\xB0nreg")); /* U+0130 */
        /* what Windows does not upper-case (scripts/gen-casemap.c) */
        ck_assert(!same_key("\xC4\xB1", "I"));        /* dotless i */
        ck_assert(!same_key("\xC5\xBF", "S"));        /* long s */
        ck_assert(!same_key("\xCF\x82", "\xCE\xA3")); /* final sigma, SIGMA */
        ck_assert(!same_key("\xCF\x82", "\xCF\x83")); /* final sigma, sigma */
        ck_assert(!same_key("\xC2\xB5", "\xCE\x9C")); /* micro sign, MU */
        ck_assert(!same_key("\xC7\x85", "\xC7\x84")); /* title case Dz caron */
        /* outside the BMP nothing is mapped (Deseret) */
        ck_assert(!same_key("\xF0\x90\x90\xA8", "\xF0\x90\x90\x80")); /* U+10428, U+10400 */
        ck_assert(same_key("\xF0\x90\x90\xA8", "\xF0\x90\x90\xA8"));
}
END_TEST

START_TEST(test_key_is_a_name)
{
        /* covers: NAME-02 issue 15 (names) */
        /* U+212A in octal: in "\xAAelvin" the 'e' would join the hex escape */
        static const char *const names[] = {
            "kelvin",
            "\342\204\252elvin",
            "w\xC4\xB0nreg",
            "\xC9\x90\xC9\x91",
            "\xF0\x90\x90\xA8x",
            "a/b\\..\\.",
            "\xCF\x82\xC4\xB1\xC5\xBF",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char k1[NP_NAME_KEY_MAX], k2[NP_NAME_KEY_MAX];
                size_t l1 = np_name_key(names[i], strlen(names[i]), k1);
                ck_assert_uint_gt(l1, 0);
                ck_assert_status(np_name_check(k1, l1), NPIPE_OK);
                size_t l2 = np_name_key(k1, l1, k2);
                ck_assert_uint_eq(l1, l2);
                ck_assert_int_eq(memcmp(k1, k2, l1), 0);
        }
}
END_TEST

START_TEST(test_key_growth)
{
        /* covers: NAME-12 issue 15 (names) */
        /* U+0250 (2 bytes) upper-cases to U+2C6F (3 bytes): the longest
         * name of them makes the longest key */
        char name[2 * NP_NAME_MAX_CHARS], key[NP_NAME_KEY_MAX], want[NP_NAME_KEY_MAX];
        for (size_t i = 0; i < NP_NAME_MAX_CHARS; i++) {
                memcpy(name + 2 * i, "\xC9\x90", 2);
                memcpy(want + 3 * i, "\xE2\xB1\xAF", 3);
        }
        ck_assert_status(np_name_check(name, sizeof(name)), NPIPE_OK);
        size_t kl = np_name_key(name, sizeof(name), key);
        ck_assert_uint_eq(kl, NP_NAME_KEY_MAX);
        ck_assert_uint_eq(kl, 3 * NP_NAME_MAX_CHARS);
        ck_assert_int_eq(memcmp(key, want, kl), 0);
        ck_assert_status(np_name_check(key, kl), NPIPE_OK);

        /* and dotless i shrinks nothing: Windows leaves it alone */
        ck_assert_uint_eq(np_name_key("\xC4\xB1", 2, key), 2);
        ck_assert_int_eq(memcmp(key, "\xC4\xB1", 2), 0);
}
END_TEST

START_TEST(test_smb_name)
{
        /* covers: issue 15 (names) */
        char out[64];

        /* what cannot be one file of the np directory */
        ck_assert_uint_eq(np_name_smb(".", 1, out, sizeof(out)), 0);
        ck_assert_uint_eq(np_name_smb("..", 2, out, sizeof(out)), 0);
        ck_assert_uint_eq(np_name_smb("a/b", 3, out, sizeof(out)), 0);
        ck_assert_uint_eq(np_name_smb("/", 1, out, sizeof(out)), 0);
        ck_assert_uint_eq(np_name_smb("../x", 4, out, sizeof(out)), 0);
        /* but dots and backslashes inside a name are fine */
        ck_assert_uint_eq(np_name_smb("...", 3, out, sizeof(out)), 3);
        ck_assert_uint_eq(np_name_smb("a\\..\\b", 6, out, sizeof(out)), 6);
        ck_assert_str_eq(out, "a\\..\\b");

        /* smbd lower-cases with Samba's own table (tolower_m), not the C
         * library's: KELVIN and kelvin meet, the Kelvin sign stays, as NT
         * keeps it apart too */
        ck_assert_uint_eq(np_name_smb("KELVIN", 6, out, sizeof(out)), 6);
        ck_assert_str_eq(out, "kelvin");
        ck_assert_uint_eq(np_name_smb("\xE2\x84\xAA"
                                      "elvin",
                                      8, out, sizeof(out)),
                          8);
        ck_assert_str_eq(out, "\xE2\x84\xAA"
                              "elvin");
        ck_assert(!same_smb("\xE2\x84\xAA"
                            "elvin",
                            "kelvin"));
        ck_assert_uint_eq(np_name_smb("\xCE\xA9mega", 6, out, sizeof(out)), 6);
        ck_assert_str_eq(out, "\xCF\x89mega");
        /* more that glibc lower-cases and Samba 4.17 keeps: dotted
         * capital I, the ohm sign, capital sharp s, title-case Dz caron */
        ck_assert_uint_eq(np_name_smb("W\xC4\xB0nreg", 7, out, sizeof(out)), 7);
        ck_assert_str_eq(out, "w\xC4\xB0nreg");
        ck_assert(!same_smb("\xE2\x84\xA6", "\xCF\x89")); /* U+2126, omega */
        ck_assert(!same_smb("\xE1\xBA\x9E", "\xC3\x9F")); /* U+1E9E, U+00DF */
        ck_assert(!same_smb("\xC7\x85", "\xC7\x86"));     /* U+01C5, U+01C6 */
        ck_assert(same_smb("\xC7\x84", "\xC7\x86"));      /* U+01C4, U+01C6 */
        /* NT-equal names that smbd sends to different sockets: Windows
         * upper-cases these lower-case letters, Samba 4.17 does not
         * lower-case their capitals (528 such pairs of code points) */
        ck_assert(same_key("\xE1\x82\xA0", "\xE2\xB4\x80")); /* Georgian U+10A0, U+2D00 */
        ck_assert(!same_smb("\xE1\x82\xA0", "\xE2\xB4\x80"));
        ck_assert(same_key("\xC9\x90", "\xE2\xB1\xAF")); /* U+0250, U+2C6F */
        ck_assert(!same_smb("\xC9\x90", "\xE2\xB1\xAF"));
        /* outside the BMP nothing changes */
        ck_assert_uint_eq(np_name_smb("\xF0\x90\x90\x80", 4, out, sizeof(out)), 4);
        ck_assert_str_eq(out, "\xF0\x90\x90\x80");
        /* glibc would grow U+023A (2 bytes) into U+2C65 (3); Samba keeps it */
        ck_assert_uint_eq(np_name_smb("\xC8\xBA", 2, out, sizeof(out)), 2);
        ck_assert_str_eq(out, "\xC8\xBA");

        /* room for the NUL: cap - 1 bytes of name at most */
        ck_assert_uint_eq(np_name_smb("ABC", 3, out, 4), 3);
        ck_assert_str_eq(out, "abc");
        ck_assert_uint_eq(np_name_smb("ABC", 3, out, 3), 0);
        ck_assert_uint_eq(np_name_smb("ABC", 3, out, 0), 0);
        ck_assert_uint_eq(np_name_smb("\xC8\xBA", 2, out, 3), 2);
        ck_assert_uint_eq(np_name_smb("\xE2\x84\xAA", 3, out, 3), 0);
        ck_assert_uint_eq(np_name_smb("\xE2\x84\xAA", 3, out, 4), 3);

        /* invalid input gives no name (the check rejects it first anyway) */
        ck_assert_uint_eq(np_name_smb("a\0b", 3, out, sizeof(out)), 0);
        ck_assert_uint_eq(np_name_smb("\xED\xA0\x80", 3, out, sizeof(out)), 0);
        ck_assert_uint_eq(np_name_smb("", 0, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_smb_no_collision)
{
        /* covers: issue 15 (collisions) */
        /* With Samba 4.17's lower-case table no two code points NT tells
         * apart (different np_name_key) get one smb name: every BMP code
         * point is checked.  Both mappings go code point by code point and
         * UTF-8 decodes one way, so no two names of any length collide
         * either (the glibc table made "\u212Aelvin" and "kelvin", U+0130
         * and "i", U+01C5 and U+01C6 collide).  A table regenerated from
         * another Samba that fails here brings collisions back: list the
         * pairs it prints and test them against the broker (remote.c). */
        static uint32_t key_of[0x10000]; /* by smb code point: key bytes + 1 */
        unsigned bad = 0;

        memset(key_of, 0, sizeof(key_of));
        for (uint32_t c = 1; c < 0x10000; c++) {
                char in[4], key[NP_NAME_KEY_MAX], smb[8];
                size_t n;

                if ((c >= 0xD800 && c <= 0xDFFF) || c == '/' || c == '.')
                        continue;
                if (c < 0x80) {
                        in[0] = (char)c;
                        n = 1;
                } else if (c < 0x800) {
                        in[0] = (char)(0xC0 | c >> 6);
                        in[1] = (char)(0x80 | (c & 0x3F));
                        n = 2;
                } else {
                        in[0] = (char)(0xE0 | c >> 12);
                        in[1] = (char)(0x80 | ((c >> 6) & 0x3F));
                        in[2] = (char)(0x80 | (c & 0x3F));
                        n = 3;
                }
                size_t kl = np_name_key(in, n, key);
                size_t sl = np_name_smb(in, n, smb, sizeof(smb));
                ck_assert_uint_gt(kl, 0);
                ck_assert_uint_gt(sl, 0);
                ck_assert_uint_le(kl, 3);
                ck_assert_uint_le(sl, 3);
                uint32_t s = 0, k = 0;
                for (size_t i = 0; i < sl; i++)
                        s = s << 8 | (unsigned char)smb[i];
                for (size_t i = 0; i < kl; i++)
                        k = k << 8 | (unsigned char)key[i];
                /* the one code point the smb name encodes */
                uint32_t cp = sl == 1 ? s
                              : sl == 2
                                  ? ((s >> 8) & 0x1F) << 6 | (s & 0x3F)
                                  : ((s >> 16) & 0x0F) << 12 | ((s >> 8) & 0x3F) << 6 | (s & 0x3F);
                if (key_of[cp] == 0)
                        key_of[cp] = k + 1;
                else if (key_of[cp] != k + 1 && bad++ < 20)
                        fprintf(stderr, "collision: U+%04X shares smb name U+%04X\n", (unsigned)c,
                                (unsigned)cp);
        }
        ck_assert_uint_eq(bad, 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("name_parse");
        TCase *tc = tcase_create("name_parse");
        tcase_add_test(tc, test_prefix_any_case);
        tcase_add_test(tc, test_not_a_pipe_name);
        tcase_add_test(tc, test_name_kept_literally);
        tcase_add_test(tc, test_length_limit);
        tcase_add_test(tc, test_fold);
        tcase_add_test(tc, test_check_overlong);
        tcase_add_test(tc, test_check_surrogates_and_range);
        tcase_add_test(tc, test_check_truncated_and_stray);
        tcase_add_test(tc, test_check_length);
        tcase_add_test(tc, test_key_case_insensitive);
        tcase_add_test(tc, test_remote_paths);
        tcase_add_test(tc, test_key_nt_exceptions);
        tcase_add_test(tc, test_key_is_a_name);
        tcase_add_test(tc, test_key_growth);
        tcase_add_test(tc, test_smb_name);
        tcase_add_test(tc, test_smb_no_collision);
        suite_add_tcase(s, tc);
        return h_run(s);
}
