/*
 * casemap.h - the generated case tables of pipe names (casemap.c, written
 * by scripts/gen-casemap.c).  Private to name.c.
 *
 * Each table is a sorted list of disjoint ranges of BMP code points.  A
 * code point c with lo <= c <= hi and (c - lo) % stride == 0 maps to
 * (c + delta) & 0xFFFF; every other code point maps to itself.
 */
#ifndef NPIPE_CASEMAP_H
#define NPIPE_CASEMAP_H

#include <stddef.h>
#include <stdint.h>

struct np_casemap_range {
        uint16_t lo, hi;
        uint16_t delta; /* added modulo 0x10000 */
        uint8_t stride; /* 1, or 2 for alternating upper/lower pairs */
};

/* NT's comparison key: simple upper case, minus what Windows keeps. */
extern const struct np_casemap_range np_casemap_upper[];
extern const size_t np_casemap_upper_len;

/* The socket name smbd looks for: Samba's tolower_m (not glibc's towlower:
 * Samba keeps e.g. U+0130, U+212A KELVIN SIGN, Georgian as they are). */
extern const struct np_casemap_range np_casemap_lower[];
extern const size_t np_casemap_lower_len;

#endif
