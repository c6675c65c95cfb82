#!/bin/bash
# Failures exit 1 with "npipe: OP \\.\pipe\NAME: text (ERROR_X)" on stderr
# and nothing on stdout: a missing pipe, a busy one, a bad name (over the
# limit: the limit), a type mismatch, an instance limit, --first-instance;
# names escaped; no broker, a bad runtime directory or --runtime-dir: which
# program or directory, and what is wrong with it.
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
# the limit, in characters after \\.\pipe\ (UTF-16 units, as Windows counts)
expect_failure 'pipe name too long (ERROR_FILENAME_EXCED_RANGE): a name has at most 250 characters after \\.\pipe\; this one has 300' \
        send "$(head -c 300 /dev/zero | tr '\0' n)" x
expect_failure 'this one has 251' serve "$(head -c 251 /dev/zero | tr '\0' n)"
# U+1F600 is two UTF-16 units: 126 of them are 252
expect_failure 'this one has 252' call "$(for i in $(seq 126); do printf '\360\237\230\200'; done)" x
run send "$(head -c 250 /dev/zero | tr '\0' n)" --timeout 0 x
expect_grep 'no such pipe (ERROR_FILE_NOT_FOUND)' "$T/err" "250 characters are a name"
ok "bad names; a name over the limit says the limit"

# every name in a message is escaped: control characters as \xNN, C1
# controls and bytes that are not UTF-8 too; printable UTF-8 stays
run send "$(printf 'a\033[31mb\001c')" --timeout 0 x
expect_rc 1 "a name with control characters"
expect_grep 'npipe: open \\.\pipe\a\x1b[31mb\x01c: no such pipe' "$T/err" "escaped"
if LC_ALL=C grep -q "$(printf '[\001\033]')" "$T/err"; then
        fail "a control character reached the terminal: $(od -c "$T/err")"
fi
run send "$(printf 'bad\377\302\233caf\303\251')" x
expect_grep 'npipe: send bad\xff\xc2\x9bcafé: invalid pipe name (ERROR_INVALID_NAME)' \
        "$T/err" "bytes that are not UTF-8 and C1 controls"
ok "names in messages are escaped"

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

expect_failure 'npipe: create \\.\pipe\busy: all pipe instances are busy: the pipe allows at most 1 instance, and 1 exists (ERROR_PIPE_BUSY)' \
        serve busy --max-instances 1
expect_failure 'npipe: create \\.\pipe\busy: a pipe of this name exists already (--first-instance) (ERROR_ACCESS_DENIED)' \
        serve busy --first-instance
expect_failure 'npipe: create \\.\pipe\BUSY: a pipe of this name exists already (--first-instance) (ERROR_ACCESS_DENIED)' \
        serve BUSY --first-instance
ok "instance limit and --first-instance name what is in the way"
kill "$holder" 2>/dev/null || true
exec 3<&-
kill "$server" 2>/dev/null || true

bg serve bytes --byte
serve_ready bytes
expect_failure 'the pipe state is invalid (ERROR_BAD_PIPE)' call bytes x
expect_grep "call needs a duplex message pipe" "$T/err" "the hint"
ok "call on a byte pipe"

# no broker can be started for a fresh runtime directory: the message says
# which program was tried and what is wrong with it
NPIPE_RUNTIME_DIR="$T/run2" NPIPE_BROKER=/nonexistent/npiped \
        expect_failure 'npipe: list: the npipe broker is not reachable (ERROR_NOT_READY)' list
expect_grep 'the broker program /nonexistent/npiped (from NPIPE_BROKER) does not exist' \
        "$T/err" "which broker program"
NPIPE_RUNTIME_DIR="$T/run3" NPIPE_BROKER=/etc/passwd expect_failure 'is not executable' list
NPIPE_RUNTIME_DIR="$T/run4" NPIPE_BROKER=/bin/false \
        expect_failure 'the broker /bin/false (from NPIPE_BROKER) exited with status 1 before it listened' list
ok "no broker: the program tried, and why it did not run"

# a runtime directory that cannot be the broker's: named, with what is wrong
mkdir -m 755 "$T/open"
NPIPE_RUNTIME_DIR="$T/open" expect_failure 'npipe: list: the npipe broker is not reachable' list
expect_grep "mode 0755" "$T/err" "the mode of $T/open"
expect_grep "chmod 700 $T/open" "$T/err" "how to fix it"
touch "$T/file"
NPIPE_RUNTIME_DIR="$T/file" \
        expect_failure "the runtime directory $T/file (from NPIPE_RUNTIME_DIR) is not a directory" list
ln -s "$NPIPE_RUNTIME_DIR" "$T/link"
NPIPE_RUNTIME_DIR="$T/link" expect_failure "$T/link (from NPIPE_RUNTIME_DIR) is a symbolic link" list
NPIPE_RUNTIME_DIR="$T/file/sub" \
        expect_failure "cannot create the runtime directory $T/file/sub (from NPIPE_RUNTIME_DIR)" list
ok "a bad runtime directory: which one, and what is wrong with it"

# --runtime-dir names an existing directory: a missing one is not made
expect_failure "npipe: --runtime-dir $T/none/dir: no such directory" --runtime-dir "$T/none/dir" list
[ ! -e "$T/none" ] || fail "--runtime-dir created $T/none"
expect_failure "npipe: --runtime-dir $T/file: not a directory" --runtime-dir "$T/file" list
run --runtime-dir "$NPIPE_RUNTIME_DIR" list
expect_rc 0 "--runtime-dir of the running broker"
ok "--runtime-dir: a missing directory is an error naming it, never created"
