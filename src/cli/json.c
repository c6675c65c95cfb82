/*
 * json.c - a small JSON writer (RFC 8259) for `npipe list --json`.
 *
 * Pipe names may hold any character a Windows name may: backslashes,
 * quotes, control characters.  The broker only accepts valid UTF-8, but the
 * writer does not rely on that: it escapes what JSON requires and replaces
 * every byte that is not part of a valid UTF-8 sequence by U+FFFD, so the
 * output is always a valid document.
 */
#include "cli.h"

#include <inttypes.h>
#include <string.h>

void json_init(struct json *j, FILE *f)
{
        j->f = f;
        j->depth = 0;
        j->first[0] = true;
        j->after_key = false;
}

/* Before any value or key: the comma, and a line break between the
 * elements of the top-level container so that output diffs and greps well. */
static void sep(struct json *j)
{
        if (j->after_key) {
                j->after_key = false;
                return;
        }
        if (j->depth > 0 && !j->first[j->depth])
                fputc(',', j->f);
        if (j->depth == 1)
                fputc('\n', j->f);
        j->first[j->depth] = false;
}

static void open_container(struct json *j, char c)
{
        sep(j);
        fputc(c, j->f);
        if (j->depth + 1 < (int)(sizeof(j->first) / sizeof(j->first[0])))
                j->depth++;
        j->first[j->depth] = true;
}

static void close_container(struct json *j, char c)
{
        bool empty = j->first[j->depth];

        if (j->depth > 0)
                j->depth--;
        if (j->depth == 0 && !empty)
                fputc('\n', j->f);
        fputc(c, j->f);
        if (j->depth == 0)
                fputc('\n', j->f);
}

void json_begin_object(struct json *j)
{
        open_container(j, '{');
}

void json_end_object(struct json *j)
{
        close_container(j, '}');
}

void json_begin_array(struct json *j)
{
        open_container(j, '[');
}

void json_end_array(struct json *j)
{
        close_container(j, ']');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
        unsigned c = s[0];
        size_t k;
        uint32_t cp;

        if (c < 0x80)
                return 1;
        if ((c & 0xE0) == 0xC0) {
                k = 2;
                cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
                k = 3;
                cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
                k = 4;
                cp = c & 0x07;
        } else {
                return 0;
        }
        if (k > n)
                return 0;
        for (size_t i = 1; i < k; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3F);
        }
        /* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        return k;
}

static void put_string(FILE *f, const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;

        fputc('"', f);
        for (size_t i = 0; i < len;) {
                unsigned c = s[i];
                size_t k;

                switch (c) {
                case '"':
                        fputs("\\\"", f);
                        i++;
                        continue;
                case '\\':
                        fputs("\\\\", f);
                        i++;
                        continue;
                case '\b':
                        fputs("\\b", f);
                        i++;
                        continue;
                case '\f':
                        fputs("\\f", f);
                        i++;
                        continue;
                case '\n':
                        fputs("\\n", f);
                        i++;
                        continue;
                case '\r':
                        fputs("\\r", f);
                        i++;
                        continue;
                case '\t':
                        fputs("\\t", f);
                        i++;
                        continue;
                default:
                        break;
                }
                if (c < 0x20 || c == 0x7F) {
                        /* DEL is legal JSON, but escaped it survives terminals */
                        fprintf(f, "\\u%04x", c);
                        i++;
                        continue;
                }
                k = utf8_seq(s + i, len - i);
                if (k == 0) {
                        fputs("\\ufffd", f);
                        i++;
                        continue;
                }
                fwrite(s + i, 1, k, f);
                i += k;
        }
        fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
        sep(j);
        put_string(j->f, key, strlen(key));
        fputc(':', j->f);
        j->after_key = true;
}

void json_string_n(struct json *j, const char *s, size_t len)
{
        sep(j);
        put_string(j->f, s, len);
}

void json_string(struct json *j, const char *s)
{
        json_string_n(j, s, strlen(s));
}

void json_uint(struct json *j, uint64_t v)
{
        sep(j);
        fprintf(j->f, "%" PRIu64, v);
}

void json_key_uint(struct json *j, const char *key, uint64_t v)
{
        json_key(j, key);
        json_uint(j, v);
}

void json_int(struct json *j, int64_t v)
{
        sep(j);
        fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, bool v)
{
        sep(j);
        fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
        sep(j);
        fputs("null", j->f);
}
