#!/bin/sh
# check-abi.sh LIBNPIPE.so SYMFILE HEADER...
# The library's exported symbols (nm -D), the names SYMFILE (src/libnpipe.sym)
# lists, each with its version node, and the functions the public HEADERs
# declare (NPIPE_EXTERN, NPIPE_WIN_API) must be the same lists: every public
# node's names are declared, and NPIPE_PRIVATE names are not (docs/abi.md).
# Prints every difference and exits 1 on any.  NM names the nm to use.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 LIB SYMFILE HEADER..." >&2; exit 2; }
lib=$1 sym=$2
shift 2
nm=${NM:-nm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "name node" for every defined dynamic symbol (not the nodes themselves)
"$nm" -D --defined-only "$lib" |
        awk '$2 != "A" { n = split($3, p, "@"); print p[1], (n > 1 ? p[n] : "-") }' |
        sort >"$tmp/exported"

# "name node" for every name in a global: section of the version script
sed -e 's|/\*.*\*/||g' "$sym" | awk '
        /\/\*/ { incomment = 1 }
        incomment { if (/\*\//) incomment = 0; next }
        /^[ \t]*[A-Za-z_][A-Za-z0-9_.]*[ \t]*\{/ { node = $1; sub(/\{.*/, "", node); scope = ""; next }
        /^[ \t]*global:/ { scope = "global"; next }
        /^[ \t]*local:/ { scope = "local"; next }
        /^[ \t]*\}/ { node = ""; next }
        scope == "global" && /[*?\[]/ { print "WILDCARD", $0; next }
        scope == "global" && /;/ { name = $1; sub(/;.*/, "", name); if (name != "") print name, node }
' | sort >"$tmp/listed"

# the functions the headers declare: comments, string literals, preprocessor
# lines (with their continuations) left out; static inline functions carry
# neither macro.  Every exported function is named npipe_*.
for h in "$@"; do
        awk '
                cont { cont = /\\$/; next }
                !incomment && /^[ \t]*#/ { cont = /\\$/; next }
                {
                        out = ""
                        for (i = 1; i <= length($0); i++) {
                                c = substr($0, i, 2)
                                if (incomment) {
                                        if (c == "*/") { incomment = 0; i++ }
                                } else if (c == "/*") {
                                        incomment = 1; i++
                                } else if (c == "//") {
                                        break
                                } else if (substr(c, 1, 1) == "\"") {
                                        for (i++; i <= length($0) && substr($0, i, 1) != "\""; i++)
                                                if (substr($0, i, 1) == "\\") i++
                                        out = out "\"\""
                                } else {
                                        out = out substr(c, 1, 1)
                                }
                        }
                        print out
                }
        ' "$h"
done | tr '\n' ' ' | tr ';{}' '\n\n\n' |
        awk '/(^|[^A-Za-z0-9_])(NPIPE_EXTERN|NPIPE_WIN_API)([^A-Za-z0-9_]|$)/ {
                if (match($0, /npipe_[A-Za-z0-9_]*[ \t]*\(/)) {
                        s = substr($0, RSTART, RLENGTH); sub(/[ \t]*\($/, "", s); print s
                } else {
                        print "?" $0
                }
        }' | sort -u >"$tmp/declared"

status=0
if grep -q '^WILDCARD' "$tmp/listed"; then
        echo "$sym: wildcards in a global: section (list each name):" >&2
        grep '^WILDCARD' "$tmp/listed" | sed 's/^WILDCARD /  /' >&2
        status=1
fi
if ! cmp -s "$tmp/listed" "$tmp/exported"; then
        echo "$sym and the exports of $lib differ:" >&2
        comm -23 "$tmp/listed" "$tmp/exported" | grep -v '^WILDCARD' |
                sed 's/^\([^ ]*\) \(.*\)/  listed in \2 but not exported (not defined, or hidden): \1/' >&2
        comm -13 "$tmp/listed" "$tmp/exported" |
                sed 's/^\([^ ]*\) \(.*\)/  exported as \2 but not listed: \1/' >&2
        status=1
fi
awk '$2 != "NPIPE_PRIVATE" && $1 != "WILDCARD" { print $1 }' "$tmp/listed" | sort -u >"$tmp/public"
if ! cmp -s "$tmp/public" "$tmp/declared"; then
        echo "the public headers and $sym differ:" >&2
        comm -13 "$tmp/public" "$tmp/declared" |
                awk -v f="$sym" '{ printf "  declared but not in %s (add the line \"    %s;\"): %s\n", f, $1, $1 }' >&2
        comm -23 "$tmp/public" "$tmp/declared" | sed 's/^/  listed but declared in no public header: /' >&2
        status=1
fi
# The Debian symbols file (DEBIAN_SYMBOLS, debian/libnpipe0.symbols) must
# name every public symbol too, or the package build fails much later
# (dpkg-gensymbols adds it with the Debian revision, which lintian refuses).
if [ -n "${DEBIAN_SYMBOLS:-}" ] && [ -f "$DEBIAN_SYMBOLS" ]; then
        awk '/^ [A-Za-z_][A-Za-z0-9_]*@/ { split($1, p, "@"); if (p[1] != p[2]) print p[1], p[2] }' \
                "$DEBIAN_SYMBOLS" | sort >"$tmp/debian"
        awk '$2 != "NPIPE_PRIVATE" && $1 != "WILDCARD"' "$tmp/listed" >"$tmp/listed_public"
        if ! cmp -s "$tmp/listed_public" "$tmp/debian"; then
                echo "$DEBIAN_SYMBOLS and $sym differ:" >&2
                comm -23 "$tmp/listed_public" "$tmp/debian" |
                        sed 's/^\([^ ]*\) \(.*\)/  missing from the Debian file (add " \1@\2 VERSION"): \1/' >&2
                comm -13 "$tmp/listed_public" "$tmp/debian" |
                        sed 's/^/  in the Debian file only: /' >&2
                status=1
        fi
fi
if [ "$status" = 0 ]; then
        echo "abi: $(wc -l <"$tmp/exported") symbols exported, as $sym lists and the headers declare"
fi
exit "$status"
