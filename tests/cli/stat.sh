#!/bin/bash
# stat: totals and per-pipe counts; --watch redraws --iterations times.
. "$(dirname "$0")/lib.sh"
start_broker

bg serve counted --instances 2
serve_ready counted
bg serve other --byte
serve_ready other

run stat
expect_rc 0 "stat"
expect_grep "broker $NPIPE_RUNTIME_DIR" "$T/out" "the runtime directory"
expect_grep "pipes 2  instances 3  listening 3  connected 0" "$T/out" "the totals"
grep -qE '^ +2 +0 +2 +unlim +message +counted$' "$T/out" || fail "the row: $(cat "$T/out")"
grep -qE '^ +1 +0 +1 +unlim +byte +other$' "$T/out" || fail "the row: $(cat "$T/out")"
ok "stat"

run stat --watch --iterations 3 --interval 20
expect_rc 0 "stat --watch"
expect_eq "$(grep -c '^npipe stat ' "$T/out")" 3 "three screens"
if grep -q $'\033' "$T/out"; then
        fail "no terminal escapes into a file"
fi
ok "stat --watch --iterations"
