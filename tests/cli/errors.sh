#!/bin/bash
# Failures exit 1 with "npipe: OP \\.\pipe\NAME: text (ERROR_X)" on stderr
# and nothing on stdout: a missing pipe, a busy one, a bad name, a type
# mismatch, an instance limit, no broker.
. "$(dirname "$0")/lib.sh"
start_broker

# expect_failure 'MESSAGE' ARGS...: status 1, MESSAGE on stderr, stdout empty
expect_failure() {
        local msg=$1
        shift
        run "$@"
        expect_rc 1 "npipe $*"
        expect_grep "$msg" "$T/err" "npipe $*"
        [ ! -s "$T/out" ] || fail "npipe $*: wrote to stdout: $(cat "$T/out")"
}

missing='\\.\pipe\nope: no such pipe (ERROR_FILE_NOT_FOUND)'
expect_failure "npipe: open $missing" send nope hello
expect_failure "npipe: open $missing" cat nope
expect_failure "npipe: open $missing" call nope hello
expect_failure "npipe: wait $missing" wait nope --no-retry
expect_failure "npipe: wait $missing" wait nope --timeout 100
ok "a missing pipe"

expect_failure 'invalid pipe name (ERROR_INVALID_NAME)' serve ''
expect_failure 'invalid pipe name (ERROR_INVALID_NAME)' call '\\.\pipe\' x
expect_failure 'pipe name too long (ERROR_FILENAME_EXCED_RANGE)' \
        send "$(head -c 300 /dev/zero | tr '\0' n)" x
ok "bad names"

# one instance, held by a client: the server's child says "ready" first,
# so once we read that line the client is connected
bg serve busy --max-instances 1 --exec 'echo ready; cat >/dev/null'
server=$!
serve_ready busy
# read-write: opening a fifo so never blocks, and the writer's open neither
mkfifo "$T/held"
exec 3<>"$T/held"
bg cat busy >"$T/held"
holder=$!
read -r line <&3
expect_eq "$line" "ready" "the holding client"

expect_failure 'npipe: open \\.\pipe\busy: all pipe instances are busy (ERROR_PIPE_BUSY)' \
        cat busy --timeout 0
expect_failure 'npipe: wait \\.\pipe\busy: timed out (ERROR_SEM_TIMEOUT)' \
        wait busy --timeout 150
expect_failure 'npipe: open \\.\pipe\busy: timed out (ERROR_SEM_TIMEOUT)' \
        send busy --timeout 150 x
expect_failure 'npipe: open \\.\pipe\busy: timed out (ERROR_SEM_TIMEOUT)' \
        call busy --timeout 150 x
ok "a busy pipe: ERROR_PIPE_BUSY at once, ERROR_SEM_TIMEOUT after waiting"

expect_failure 'npipe: create \\.\pipe\busy: all pipe instances are busy (ERROR_PIPE_BUSY)' \
        serve busy --max-instances 1
expect_failure 'npipe: create \\.\pipe\busy: access denied (ERROR_ACCESS_DENIED)' \
        serve busy --first-instance
ok "instance limit and --first-instance"
kill "$holder" 2>/dev/null || true
exec 3<&-
kill "$server" 2>/dev/null || true

bg serve bytes --byte
serve_ready bytes
expect_failure 'the pipe state is invalid (ERROR_BAD_PIPE)' call bytes x
expect_grep "call needs a duplex message pipe" "$T/err" "the hint"
ok "call on a byte pipe"

# no broker can be started for a fresh runtime directory
NPIPE_RUNTIME_DIR="$T/run2" NPIPE_BROKER=/nonexistent/npiped \
        expect_failure 'npipe: list: the npipe broker is not reachable (ERROR_NOT_READY)' list
ok "no broker"
