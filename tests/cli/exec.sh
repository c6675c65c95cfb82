#!/bin/bash
# serve --exec: a fresh child per client, its stdin fed by the client's
# messages (one line each), its stdout returned as messages (one per line,
# or one per read with --reads), the connection's facts in its environment,
# and EOF on its stdin when the client closes.
. "$(dirname "$0")/lib.sh"
start_broker

# tr buffers its output on a pipe (stdio); with --pty its stdout is a
# terminal, so it writes each line at once and answers every message
bg serve upper --count 2 --pty --exec 'tr a-z A-Z'
server=$!
serve_ready upper
run call upper hello
expect_rc 0 "call through tr"
expect_eq "$(cat "$T/out")" "HELLO" "--exec 'tr a-z A-Z' --pty"
run call upper 'Mixed Case 123'
expect_eq "$(cat "$T/out")" "MIXED CASE 123" "a second client gets a fresh child"
wait_ok "$server" "the tr server"
ok "--exec 'tr a-z A-Z' --pty answers each message"

# plain pipes with a child that writes each line itself (shell builtins)
bg serve loop --count 2 --exec 'while read -r l; do echo "got $l"; done'
server=$!
serve_ready loop
run call loop one
expect_eq "$(cat "$T/out")" "got one" "a shell loop answers"
run call loop two
expect_eq "$(cat "$T/out")" "got two" "another child answers"
wait_ok "$server" "the loop server"
ok "--exec with plain pipes"

# --reads: one read of the child's stdout is one message, newlines and all
bg serve reads --count 1 --reads --exec 'printf "a\nb\n"'
server=$!
serve_ready reads
np cat reads --length-prefix >"$T/reads"
python3 - "$T/reads" <<'PY' || fail "--reads framing"
import struct, sys
d = open(sys.argv[1], "rb").read()
(n,) = struct.unpack_from("<I", d, 0)
assert n == 4 and d[4:] == b"a\nb\n", d
PY
wait_ok "$server" "the --reads server"
ok "--reads: one read, one message"

# the child's environment names the pipe and the client
bg serve envp --count 1 \
        --exec 'printf "%s\n%s\n%s\n" "$NPIPE_PIPE" "$NPIPE_CLIENT_PID" "$NPIPE_CLIENT_UID"'
server=$!
serve_ready envp
np cat envp >"$T/env"
wait_ok "$server" "the env server"
expect_eq "$(sed -n 1p "$T/env")" '\\.\pipe\envp' "NPIPE_PIPE"
sed -n 2p "$T/env" | grep -qE '^[1-9][0-9]*$' || fail "NPIPE_CLIENT_PID: $(cat "$T/env")"
expect_eq "$(sed -n 3p "$T/env")" "$(id -u)" "NPIPE_CLIENT_UID"
ok "NPIPE_PIPE, NPIPE_CLIENT_PID, NPIPE_CLIENT_UID"

# the client's messages reach stdin as lines, and its close is EOF: the
# child finishes its file before the server (which waits for it) exits
export OUT="$T/received"
bg serve store --count 1 --exec 'cat >"$OUT"; echo done >>"$OUT"'
server=$!
serve_ready store
run send store first "" 'third "q"'
expect_rc 0 "send to the storing child"
wait_ok "$server" "the storing server"
expect_eq "$(cat "$OUT")" $'first\n\nthird "q"\ndone' "the child's stdin and its EOF"
ok "client messages become lines; the client's close is the child's EOF"

# a child that exits at once: the client sees the end of the stream
bg serve quick --count 1 --exec 'exit 3'
server=$!
serve_ready quick
run cat quick
expect_rc 0 "cat of a child that exits at once"
expect_eq "$(cat "$T/out")" "" "no output"
wait_ok "$server" "the quick server"
ok "a child that exits ends the connection"
