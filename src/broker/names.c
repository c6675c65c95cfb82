/*
 * names.c - the namespace's index: pipe names to pipes.
 *
 * A name arrives as the bytes a client sent.  np_handle_packet() has
 * checked it with np_name_check() (strict UTF-8, no NUL, NAME-12) before
 * any handler sees it, so everything here works on valid names only.  Two
 * names are one pipe exactly when their NT keys (np_name_key, src/core) are
 * equal: NT upcases both names with its table, so "kelvin" and "KELVIN" meet
 * while "\u212Aelvin" (KELVIN SIGN) stays apart (NAME-02, WAIT-11).  The
 * library, the relay and the CLI use the same core functions, so no two
 * components can disagree about which pipe a name means.
 */
#include "broker/broker.h"

#include <string.h>

#include "core/name.h"

/* FNV-1a over the key, seeded per broker run and finished with a mixer, so
 * that the bucket of a name cannot be predicted. */
uint64_t np_name_hash(const struct np_broker *b, const char *key, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ull ^ b->hash_seed;

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)key[i];
                h *= 0x100000001b3ull;
        }
        return np_hash_u64(h);
}

uint64_t np_pipe_key_hash(const struct np_broker *b, const struct np_pipe *p)
{
        return np_name_hash(b, p->key, p->key_len);
}

struct np_pipe *np_pipe_find(struct np_broker *b, const char *name, uint32_t len)
{
        char key[NP_NAME_KEY_MAX];
        size_t klen = np_name_key(name, len, key);
        uint64_t h = np_name_hash(b, key, klen);

        for (struct np_hnode *n = np_htab_bucket(&b->pipes, h); n != NULL; n = n->next) {
                struct np_pipe *p = np_container_of(n, struct np_pipe, hnode);

                if (n->hash == h && p->key_len == klen && memcmp(p->key, key, klen) == 0)
                        return p;
        }
        return NULL;
}

bool np_pipe_same_name(const struct np_pipe *x, const struct np_pipe *y)
{
        return x == y || (x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0);
}

/*
 * A name as it may appear in a log line: names may hold any character but
 * NUL, so control characters and DEL are written as \xNN (a name with a
 * newline must not forge a second log line, nor one with ESC drive the
 * terminal of whoever reads it).  Backslashes stay: they are common in
 * pipe names.  Truncated with "..." when it does not fit.  Returns out.
 */
const char *np_name_esc(const char *s, size_t n, char *out, size_t cap)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                bool plain = ch >= 0x20 && ch != 0x7f;

                if (o + (plain ? 1 : 4) + 4 > cap) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                if (plain) {
                        out[o++] = (char)ch;
                } else {
                        static const char hex[] = "0123456789abcdef";

                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[ch >> 4];
                        out[o++] = hex[ch & 15];
                }
        }
        out[o] = '\0';
        return out;
}
