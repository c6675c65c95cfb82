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

/* Case-insensitive comparison key (NAME-02): ASCII letters fold to upper
 * case, other bytes stay.  out must hold len bytes. */
void np_name_fold(const char *name, size_t len, char *out);

#endif
