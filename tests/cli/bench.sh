#!/bin/bash
# bench: finds npipe-bench ($NPIPE_BENCH, next to npipe, the build tree,
# PATH), execs it with the remaining arguments; a clear failure without it.
. "$(dirname "$0")/lib.sh"

# a copy of npipe in a directory of our own: nothing is next to it
mkdir -p "$T/a/b" "$T/bin"
cp "$NPIPE" "$T/a/b/npipe"
cat >"$T/bin/npipe-bench" <<'SH'
#!/bin/sh
echo "bench args: $*"
exit 7
SH
chmod +x "$T/bin/npipe-bench"

set +e
PATH=/usr/bin:/bin "$T/a/b/npipe" bench >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_rc 1 "bench with no npipe-bench anywhere"
expect_grep "npipe: bench: npipe-bench not found" "$T/err" "the message"
expect_grep "make bench" "$T/err" "how to build it"
ok "no benchmark program: exit 1 with a clear message"

set +e
NPIPE_BENCH="$T/bin/npipe-bench" "$T/a/b/npipe" bench --size 64 -x >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_rc 7 "the benchmark's own status"
expect_eq "$(cat "$T/out")" "bench args: --size 64 -x" "the arguments passed on"
ok "\$NPIPE_BENCH, arguments passed on"

set +e
PATH="$T/bin:/usr/bin:/bin" "$T/a/b/npipe" bench -- --help >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "$(cat "$T/out")" "bench args: --help" "-- passes --help on, found in PATH"
ok "found in PATH; -- ends npipe's options"

cp "$T/bin/npipe-bench" "$T/a/b/npipe-bench"
set +e
PATH=/usr/bin:/bin "$T/a/b/npipe" bench one >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "$(cat "$T/out")" "bench args: one" "next to npipe"
ok "found next to npipe"

set +e
NPIPE_BENCH="$T/nothing" "$T/a/b/npipe" bench >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_rc 1 "a bad NPIPE_BENCH"
expect_grep "NPIPE_BENCH=$T/nothing" "$T/err" "the message"
ok "a bad \$NPIPE_BENCH"
