/*
 * name.h - pipe names: \\.\pipe\NAME parsing, length limits, case folding.
 * Pure functions, no syscalls (fuzzable).
 */
#ifndef NPIPE_NAME_H
#define NPIPE_NAME_H

#include <stddef.h>
#include <stdint.h>

/* Parse a Win32 pipe path.  Accepted: "\\.\pipe\NAME" with the prefix in
 * any case (NAME-01).  NAME keeps every character, backslashes and
 * trailing backslashes included (NAME-06..08).  On success *bare points
 * into `path` at NAME and *bare_len is its length in bytes.
 * Errors: NPIPE_ENOPATH (NULL, NAME-04), NPIPE_EBADNAME (not a local pipe
 * path, empty NAME, invalid UTF-8 or a NUL; NAME-03), NPIPE_ENAMETOOLONG
 * (more than NP_NAME_MAX_CHARS characters, NAME-12). */
int np_name_parse(const char *path, const char **bare, size_t *bare_len);

/* Accept also the forms a shell user types: "NAME" alone and "//./pipe/NAME".
 * Writes the canonical "\\.\pipe\NAME" into out.  Returns 0 or an error as
 * np_name_parse. */
int np_name_canonical(const char *user, char *out, size_t out_len);

/* A remote pipe path, "\\HOST\pipe\NAME" (or "//HOST/pipe/NAME", as a
 * shell user types it), HOST not "." (docs/remote.md).  Returns 1 with
 * HOST copied NUL-terminated into host (host_cap bytes) and *bare, *bare_len
 * at NAME, checked as np_name_check does; 0 when the path is not a remote
 * pipe path (a local one, or something else); NPIPE_EBADPATH for a remote
 * form whose HOST is empty, too long (more than NP_HOST_MAX bytes) or holds
 * a control character, or a NAME error of np_name_check. */
#define NP_HOST_MAX 255u
int np_name_remote(const char *path, char *host, size_t host_cap, const char **bare,
                   size_t *bare_len);

/* Case-insensitive comparison key (NAME-02): ASCII letters fold to upper
 * case, other bytes stay.  out must hold len bytes.  (Kept for the
 * prefix; the namespace compares np_name_key()s.) */
void np_name_fold(const char *name, size_t len, char *out);

/*
 * The one canonical form of a pipe name, used by the library, the broker,
 * the SMB relay and the CLI alike (issue 15).
 *
 * np_name_check: is `bare` (len bytes, not NUL-terminated) a pipe name?
 * 0, NPIPE_EBADNAME (empty; not strict UTF-8: an over-long form, a
 * surrogate, a code point above U+10FFFF, a truncated sequence, a stray
 * continuation byte; or a NUL byte), or NPIPE_ENAMETOOLONG (more than
 * NP_NAME_MAX bytes or NP_NAME_MAX_CHARS UTF-16 units, NAME-12).
 */
int np_name_check(const char *bare, size_t len);

/* The longest key of a valid name: every BMP character maps to a BMP
 * character (at most 3 bytes of UTF-8), so 3 bytes per UTF-16 unit. */
#define NP_NAME_KEY_MAX (3u * 250u)

/*
 * np_name_key: the comparison key of a checked name, as NT compares pipe
 * names: each BMP code point replaced by its simple upper-case mapping
 * (RtlUpcaseUnicodeChar; code points outside the BMP stay as they are),
 * re-encoded as UTF-8 into out (NP_NAME_KEY_MAX bytes).  Two names are the
 * same pipe exactly when their keys are equal: "kelvin" and "KELVIN" are,
 * "\u212Aelvin" (KELVIN SIGN, already upper case) and "kelvin" are not.
 * Returns the key's length.  The name must have passed np_name_check; if
 * it did not (invalid UTF-8, a NUL, a key longer than NP_NAME_KEY_MAX) the
 * result is 0, which no name has, and nothing is written past
 * NP_NAME_KEY_MAX bytes.  A key is itself a valid name and its own key.
 * The mapping is a table generated from glibc's C.UTF-8 locale (no locale
 * is consulted at run time), with the characters Windows does not
 * upper-case left alone (dotless i, long s, final sigma, micro sign...;
 * scripts/gen-casemap.c lists them and why).
 */
size_t np_name_key(const char *bare, size_t len, char *out);

/*
 * np_name_smb: the file name smbd connects to for this pipe: smbd
 * lower-cases the name the client asked for with Samba's own table
 * (tolower_m; the table here was generated from Samba 4.17's, see
 * scripts/gen-casemap.c), which leaves alone many characters other tables
 * lower-case (KELVIN SIGN, U+0130...).  Returned as a NUL-terminated string
 * in out (cap bytes); the result is its length, or 0 when the name cannot
 * be one file of a directory: it would contain '/', be "." or "..", or not
 * fit in cap - 1 bytes.  The name must have passed np_name_check (so no
 * NUL and valid UTF-8); if not, the result is 0.  With this table no two
 * names with different keys share an smb name (test_name_parse checks
 * every code point), but callers must not rely on it: another Samba's
 * table could differ.
 */
size_t np_name_smb(const char *bare, size_t len, char *out, size_t cap);

#endif
