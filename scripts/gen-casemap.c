/*
 * gen-casemap.c - writes src/core/casemap.c, the case tables of pipe names.
 *
 * Regenerate (on a glibc system with the C.UTF-8 locale and Samba's
 * libraries installed, e.g. Debian's samba-libs; not run by the build, the
 * output is committed):
 *
 *     cc -std=c11 -O2 -o /tmp/gen-casemap scripts/gen-casemap.c -ldl
 *     /tmp/gen-casemap > src/core/casemap.c
 *
 * or "/tmp/gen-casemap /path/to/libsamba-util.so.0" for another Samba than
 * the one the dynamic linker finds; then run the unit tests (meson test
 * --suite unit) and fuzz_name.
 *
 * Why a generated table: the library must compare names the same way in
 * every process whatever its locale (setlocale() is the application's), so
 * nothing calls towupper() at run time, and it must not link Samba.  Only
 * the Basic Multilingual Plane is mapped, because NT compares UTF-16 units
 * one by one (RtlUpcaseUnicodeChar) and so never changes a surrogate pair.
 *
 * Two tables:
 *   upper  the NT comparison key (np_name_key): glibc's towupper() in
 *          C.UTF-8 (the Unicode simple case mapping of the Unicode version
 *          glibc carries) minus the exceptions below, where Windows
 *          (Wine's pipe namespace as oracle, and Microsoft's published
 *          upcase table) keeps the character as it is;
 *   lower  the socket name smbd asks for (np_name_smb): what Samba's own
 *          tolower_m() returns, called here for every BMP code point from
 *          the installed libsamba-util (dlopen; its behaviour is taken as
 *          data, no Samba code is copied).  smbd lower-cases the pipe name
 *          a client asks for with strlower_talloc(), i.e. tolower_m() code
 *          point by code point from Samba's built-in table, not the C
 *          library's, and connects to <np dir>/<that>.  The two differ:
 *          Samba 4.17 leaves 538 BMP code points alone that glibc lower-
 *          cases (U+0130, U+212A KELVIN SIGN, U+2126, U+212B, U+1E9E,
 *          U+2C6F, title-case digraphs, Georgian, Cherokee...), and a
 *          socket named by glibc's table would not be the one smbd opens.
 *
 * Output format: sorted, disjoint ranges {lo, hi, delta, stride}.  A code
 * point c with lo <= c <= hi and (c - lo) % stride == 0 maps to
 * (c + delta) mod 0x10000; every other code point maps to itself.  Stride
 * 2 covers the alternating upper/lower pairs of Latin Extended, Cyrillic,
 * Coptic... so the tables stay a few hundred entries each.
 *
 * The program refuses to write a table that breaks what name.c relies on
 * (every result in the BMP, not a surrogate, not NUL, not an ASCII
 * character other than a letter; ASCII mapped by the A-Z rule name.c
 * applies without the table; the mapping idempotent, so
 * np_name_key(np_name_key(x)) == np_name_key(x)).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/*
 * Where Windows does not upper-case a character that glibc does.
 *
 * Found by a Win32 program under Wine 8.0 that creates \\.\pipe\<a> with
 * CreateNamedPipeW and opens \\.\pipe\<b> with CreateFileW for every BMP
 * code point a and b = towupper(a), towlower(a) (2699 pairs): those pairs
 * were different pipes for exactly these 27 code points and the same pipe
 * for every other pair glibc relates; Wine's RtlUpcaseUnicodeChar agrees
 * on all 65536 code points.  Microsoft's published "Windows 8 Upper Case
 * Mapping Table" (MS-UCODEREF 3.1.5.3) leaves the ones it covers unmapped
 * as well.  What they share: each is not the lower-case form of its
 * upper-case partner (towlower(towupper(c)) != c), i.e. a second lower-case
 * spelling (final sigma, long s, dotless i, Greek symbol variants, the
 * Cyrillic historic variants U+1C80..U+1C88) or a title-case digraph.
 * Windows' table keeps only upper-case mappings that round-trip.
 */
static const struct {
        uint16_t cp;
        const char *what;
} upper_exceptions[] = {
    {0x00B5, "MICRO SIGN (glibc: U+039C)"},
    {0x0131, "LATIN SMALL LETTER DOTLESS I (glibc: I)"},
    {0x017F, "LATIN SMALL LETTER LONG S (glibc: S)"},
    {0x01C5, "LATIN CAPITAL LETTER D WITH SMALL LETTER Z WITH CARON (title case)"},
    {0x01C8, "LATIN CAPITAL LETTER L WITH SMALL LETTER J (title case)"},
    {0x01CB, "LATIN CAPITAL LETTER N WITH SMALL LETTER J (title case)"},
    {0x01F2, "LATIN CAPITAL LETTER D WITH SMALL LETTER Z (title case)"},
    {0x0345, "COMBINING GREEK YPOGEGRAMMENI (glibc: U+0399)"},
    {0x03C2, "GREEK SMALL LETTER FINAL SIGMA (glibc: U+03A3)"},
    {0x03D0, "GREEK BETA SYMBOL"},
    {0x03D1, "GREEK THETA SYMBOL"},
    {0x03D5, "GREEK PHI SYMBOL"},
    {0x03D6, "GREEK PI SYMBOL"},
    {0x03F0, "GREEK KAPPA SYMBOL"},
    {0x03F1, "GREEK RHO SYMBOL"},
    {0x03F5, "GREEK LUNATE EPSILON SYMBOL"},
    {0x1C80, "CYRILLIC SMALL LETTER ROUNDED VE"},
    {0x1C81, "CYRILLIC SMALL LETTER LONG-LEGGED DE"},
    {0x1C82, "CYRILLIC SMALL LETTER NARROW O"},
    {0x1C83, "CYRILLIC SMALL LETTER WIDE ES"},
    {0x1C84, "CYRILLIC SMALL LETTER TALL TE"},
    {0x1C85, "CYRILLIC SMALL LETTER THREE-LEGGED TE"},
    {0x1C86, "CYRILLIC SMALL LETTER TALL HARD SIGN"},
    {0x1C87, "CYRILLIC SMALL LETTER TALL YAT"},
    {0x1C88, "CYRILLIC SMALL LETTER UNBLENDED UK"},
    {0x1E9B, "LATIN SMALL LETTER LONG S WITH DOT ABOVE"},
    {0x1FBE, "GREEK PROSGEGRAMMENI (glibc: U+0399)"},
};

#define NEXC (sizeof upper_exceptions / sizeof upper_exceptions[0])

/* glibc_lower is only for the round-trip note on the upper table. */
static uint16_t upper[0x10000], lower[0x10000], glibc_lower[0x10000];

struct range {
        unsigned lo, hi, delta, stride;
};

static void die(const char *msg, unsigned cp)
{
        fprintf(stderr, "gen-casemap: %s (U+%04X)\n", msg, cp);
        exit(1);
}

static int is_surrogate(unsigned c)
{
        return c >= 0xD800 && c <= 0xDFFF;
}

/* The Unicode version glibc's i18n_ctype was generated from, when the
 * locale sources are installed; else "unknown" (the glibc version still
 * pins it). */
static void unicode_version(char *out, size_t cap)
{
        FILE *f = fopen("/usr/share/i18n/locales/i18n_ctype", "r");
        char line[256];

        snprintf(out, cap, "unknown");
        if (f == NULL)
                return;
        while (fgets(line, sizeof line, f)) {
                const char *p = strstr(line, "for Unicode ");
                if (p != NULL) {
                        p += strlen("for Unicode ");
                        /* "14.0.0." -> keep digits and inner dots */
                        size_t n = strspn(p, "0123456789.");
                        if (n > 0 && p[n - 1] == '.')
                                n--;
                        snprintf(out, cap, "%.*s", (int)n, p);
                        break;
                }
        }
        fclose(f);
}

/*
 * Samba's tolower_m (lib/util/charset): codepoint_t tolower_m(codepoint_t),
 * codepoint_t being uint32_t.  Loaded from libsamba-util, the library smbd
 * itself uses; lib is a file name or path for dlopen().
 */
typedef uint32_t (*samba_tolower_fn)(uint32_t);

struct samba {
        samba_tolower_fn tolower_m;
        char path[PATH_MAX]; /* the file tolower_m was found in */
        char version[64];    /* samba_version_string(), or "unknown" */
};

static void samba_load(const char *lib, struct samba *sb)
{
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        Dl_info info;

        if (h == NULL) {
                fprintf(stderr, "gen-casemap: %s\n", dlerror());
                die("cannot load Samba's libsamba-util (install samba-libs)", 0);
        }
        sb->tolower_m = (samba_tolower_fn)dlsym(h, "tolower_m");
        if (sb->tolower_m == NULL)
                die("the Samba library has no tolower_m", 0);
        snprintf(sb->path, sizeof sb->path, "%s", lib);
        if (dladdr((void *)sb->tolower_m, &info) != 0 && info.dli_fname != NULL &&
            realpath(info.dli_fname, sb->path) == NULL)
                snprintf(sb->path, sizeof sb->path, "%s", info.dli_fname);

        /* The release: samba_version_string() lives in libsmbconf, which
         * Samba installs next to libsamba-util (Debian's samba-libs, a
         * source build's lib directory); only that one is asked, so the
         * version cannot come from another Samba than the table.  The path
         * is recorded either way. */
        snprintf(sb->version, sizeof sb->version, "unknown");
        char conf[PATH_MAX + 32];
        const char *slash = strrchr(sb->path, '/');
        if (slash == NULL)
                return;
        snprintf(conf, sizeof conf, "%.*s/libsmbconf.so.0", (int)(slash - sb->path), sb->path);
        void *hc = dlopen(conf, RTLD_NOW | RTLD_LOCAL);
        if (hc == NULL)
                return;
        const char *(*version)(void) = (const char *(*)(void))dlsym(hc, "samba_version_string");
        if (version != NULL && version() != NULL)
                snprintf(sb->version, sizeof sb->version, "%s", version());
}

static size_t compress(const uint16_t *map, struct range *out)
{
        size_t n = 0;
        unsigned c = 0;

        while (c < 0x10000) {
                if (map[c] == c) {
                        c++;
                        continue;
                }
                unsigned delta = (map[c] - c) & 0xFFFF;
                struct range r = {c, c, delta, 1};
                if (c + 1 < 0x10000 && map[c + 1] != c + 1 &&
                    ((map[c + 1] - (c + 1)) & 0xFFFF) == delta) {
                        while (r.hi + 1 < 0x10000 && map[r.hi + 1] != r.hi + 1 &&
                               ((map[r.hi + 1] - (r.hi + 1)) & 0xFFFF) == delta)
                                r.hi++;
                } else {
                        /* alternating: c, c+2, c+4 ... mapped alike, the
                         * code points between them unchanged */
                        while (r.hi + 2 < 0x10000 && map[r.hi + 1] == r.hi + 1 &&
                               map[r.hi + 2] != r.hi + 2 &&
                               ((map[r.hi + 2] - (r.hi + 2)) & 0xFFFF) == delta)
                                r.hi += 2;
                        if (r.hi > r.lo)
                                r.stride = 2;
                }
                out[n++] = r;
                c = r.hi + 1;
        }
        return n;
}

/* Re-expand the ranges and compare with the map: the lookup in name.c
 * must give back exactly what glibc (and the exceptions) said. */
static void verify(const uint16_t *map, const struct range *r, size_t n)
{
        for (unsigned c = 0; c < 0x10000; c++) {
                unsigned m = c;
                for (size_t i = 0; i < n; i++)
                        if (c >= r[i].lo && c <= r[i].hi && (c - r[i].lo) % r[i].stride == 0)
                                m = (c + r[i].delta) & 0xFFFF;
                if (m != map[c])
                        die("range table does not reproduce the map", c);
        }
}

static void emit(const char *name, const struct range *r, size_t n)
{
        printf("const struct np_casemap_range %s[] = {\n", name);
        for (size_t i = 0; i < n; i++)
                printf("    {0x%04X, 0x%04X, 0x%04X, %u},\n", r[i].lo, r[i].hi, r[i].delta,
                       r[i].stride);
        printf("};\n");
        printf("const size_t %s_len = sizeof %s / sizeof %s[0];\n", name, name, name);
}

int main(int argc, char **argv)
{
        locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        static struct range ru[0x10000], rl[0x10000];
        static struct samba sb;
        char uver[32];
        unsigned differ = 0;

        if (argc > 2) {
                fprintf(stderr, "usage: %s [libsamba-util.so.0]\n", argv[0]);
                return 2;
        }
        if (loc == (locale_t)0)
                die("no C.UTF-8 locale", 0);
        /* tolower_m hands ASCII to the C library's tolower(): this program
         * never calls setlocale(), so that is the "C" locale, as in smbd */
        samba_load(argc == 2 ? argv[1] : "libsamba-util.so.0", &sb);
        for (unsigned c = 0; c < 0x10000; c++) {
                upper[c] = lower[c] = glibc_lower[c] = (uint16_t)c;
                if (is_surrogate(c))
                        continue;
                wint_t u = towupper_l((wint_t)c, loc), g = towlower_l((wint_t)c, loc);
                uint32_t l = sb.tolower_m(c);
                if (u >= 0x10000 || g >= 0x10000 || l >= 0x10000)
                        die("maps out of the BMP", c);
                upper[c] = (uint16_t)u;
                lower[c] = (uint16_t)l;
                glibc_lower[c] = (uint16_t)g;
                if (l != g)
                        differ++;
        }
        for (size_t i = 0; i < NEXC; i++) {
                unsigned c = upper_exceptions[i].cp;
                if (upper[c] == c)
                        die("exception for a code point glibc leaves alone: drop it", c);
                upper[c] = (uint16_t)c;
        }
        for (unsigned c = 0; c < 0x10000; c++) {
                const uint16_t *maps[2] = {upper, lower};
                for (int t = 0; t < 2; t++) {
                        unsigned m = maps[t][c];
                        if (is_surrogate(m) && m != c)
                                die("maps to a surrogate", c);
                        if (c != 0 && m == 0)
                                die("maps to NUL", c);
                        if (maps[t][m] != m)
                                die("mapping not idempotent", c);
                        /* np_name_smb's '/', "." and ".." tests look at
                         * the result, but nothing should become them */
                        if (c >= 0x80 && m < 0x80 &&
                            !((m >= 'a' && m <= 'z') || (m >= 'A' && m <= 'Z')))
                                die("maps to ASCII punctuation", c);
                        /* name.c maps ASCII without the table */
                        if (c < 0x80) {
                                unsigned want = c;
                                if (t == 0 && c >= 'a' && c <= 'z')
                                        want = c - 32;
                                if (t == 1 && c >= 'A' && c <= 'Z')
                                        want = c + 32;
                                if (m != want)
                                        die("ASCII not mapped by the A-Z rule", c);
                        }
                }
                /* A mapping Windows would not have (see the exceptions):
                 * tell whoever regenerates for a newer Unicode. */
                if (upper[c] != c && glibc_lower[upper[c]] != c)
                        fprintf(stderr,
                                "gen-casemap: note: U+%04X -> U+%04X does not round-trip; "
                                "check it against Windows and maybe add an exception\n",
                                c, upper[c]);
        }

        size_t nu = compress(upper, ru), nl = compress(lower, rl);
        verify(upper, ru, nu);
        verify(lower, rl, nl);
        unicode_version(uver, sizeof uver);
        fprintf(stderr,
                "gen-casemap: Samba %s (%s): lower differs from glibc's on %u code points\n",
                sb.version, sb.path, differ);

        printf("/*\n"
               " * casemap.c - case tables of pipe names (BMP simple case mappings).\n"
               " *\n"
               " * GENERATED by scripts/gen-casemap.c.  Do not edit; regenerate:\n"
               " *     cc -std=c11 -O2 -o /tmp/gen-casemap scripts/gen-casemap.c -ldl\n"
               " *     /tmp/gen-casemap > src/core/casemap.c\n"
               " *\n"
               " * upper: glibc %s's C.UTF-8 locale (Unicode %s), with %zu exceptions\n"
               " *        where Windows keeps the character (see the generator).\n"
               " * lower: Samba %s's tolower_m, from\n"
               " *        %s\n"
               " *        (differs from glibc's towlower on %u code points).\n"
               " */\n",
               gnu_get_libc_version(), uver, NEXC, sb.version, sb.path, differ);
        printf("#include \"core/casemap.h\"\n\n");
        printf("/* clang-format off */\n\n");
        printf("/* NT comparison key: the simple upper-case mapping. */\n");
        emit("np_casemap_upper", ru, nu);
        printf("\n/* smbd's socket name: Samba's tolower_m. */\n");
        emit("np_casemap_lower", rl, nl);
        printf("\n/* clang-format on */\n");
        return 0;
}
