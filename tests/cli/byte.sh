#!/bin/bash
# Byte pipes: no messages, bytes copied unchanged in both directions,
# binary data larger than the quotas, cat --count in bytes.
. "$(dirname "$0")/lib.sh"
start_broker

# 300 KB with every byte value, far more than the 64 KiB quotas
python3 -c '
import sys
sys.stdout.buffer.write(bytes(range(256)) * 1200)' >"$T/blob"
bg serve raw --byte --print --count 1 >"$T/got"
server=$!
serve_ready raw
np send raw <"$T/blob"
wait_ok "$server" "the byte --print server"
cmp "$T/blob" "$T/got" || fail "the bytes through a byte pipe"
ok "send | serve --byte --print: 300 KB of binary, unchanged"

bg serve raw --byte --print --count 1 >"$T/got2"
server=$!
serve_ready raw
run send raw ab cd
wait_ok "$server" "the byte --print server"
expect_eq "$(cat "$T/got2")" "abcd" "arguments on a byte pipe"
ok "send arguments to a byte pipe"

bg serve src --byte --count 2 --exec 'printf "abc\ndef"'
server=$!
serve_ready src
run cat src
expect_rc 0 "cat of a byte pipe"
expect_eq "$(od -An -c "$T/out" | tr -d ' \n')" 'abc\ndef' "bytes unchanged, no separator"
serve_ready src
run cat src --count 4
expect_eq "$(od -An -c "$T/out" | tr -d ' \n')" 'abc\n' "cat --count counts bytes"
wait_ok "$server" "the byte --exec server"
ok "cat of a byte pipe"
