#!/bin/sh
# standalone.sh SRC: the README and docs/*.md stand alone in a clone.
#   - no path into ../shared (the project's specification, which is not part
#     of the repository);
#   - every relative link [text](path) names a file of the repository.
set -eu
src=${1:?usage: $0 SRC}
cd "$src"
status=0

{
        for f in README.md docs/*.md; do
                awk '{ print FILENAME ":" FNR ": " $0 }' "$f"
        done
} >"${TMPDIR:-/tmp}/npipe-standalone.$$"
trap 'rm -f "${TMPDIR:-/tmp}/npipe-standalone.$$"' EXIT
lines=${TMPDIR:-/tmp}/npipe-standalone.$$

if grep -F '../shared' "$lines" >&2; then
        echo "FAIL: the lines above point into ../shared, which a clone does not have" >&2
        status=1
else
        echo "ok - no ../shared in README.md and docs/*.md"
fi

# relative links: [text](path) or [text](path#anchor), not URLs
links=$(sed -n 's/^\([^:]*\):[0-9]*: .*/\1/p' "$lines" | sort -u)
for f in $links; do
        dir=$(dirname "$f")
        grep -o '\](\([^)#]*\)[^)]*)' "$f" | sed 's/^](\([^)#]*\).*/\1/' | while read -r target; do
                case $target in '' | http:* | https:* | mailto:*) continue ;; esac
                if [ ! -e "$dir/$target" ]; then
                        echo "FAIL: $f links to $target, which does not exist" >&2
                        echo broken
                fi
        done
done | grep -q broken && status=1 || echo "ok - every relative link names a file"

# for the report: what the others' parts still say
for f in docs/win32.md docs/abi.md; do
        [ -f "$f" ] && grep -n -F '../shared' "$f" | sed "s|^|note: $f:|" || true
done
awk '/^## / { own = ($0 == "## Two commands") } own && /\.\.\/shared/ { print "note: README.md:" FNR ": " $0 }' README.md
exit $status
