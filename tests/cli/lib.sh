# lib.sh - sourced by every tests/cli/*.sh (bash).  Arguments of a test:
#   $1  the npipe binary under test
#   $2  the npiped binary
# Each test gets a private runtime directory and its own broker, started in
# the foreground here and stopped at the end, so tests can run in parallel
# and leave no process behind.  Synchronisation is always an event (a broker's
# readiness descriptor, `npipe wait`, a line read from a fifo), never a sleep.
set -euo pipefail

NPIPE=${1:?usage: $0 NPIPE NPIPED}
NPIPED=${2:?usage: $0 NPIPE NPIPED}
TEST=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/npipe-cli-$TEST.XXXXXX")
export NPIPE_RUNTIME_DIR="$T/run"
export NPIPE_BROKER="$NPIPED"
export NPIPE_BROKER_IDLE=2
# a child of a test never hangs for long: every client runs under timeout(1)
LIMIT=20

bg_pids=()
broker_pid=

cleanup() {
        local p
        for p in "${bg_pids[@]}"; do
                kill "$p" 2>/dev/null || true
        done
        for p in "${bg_pids[@]}"; do
                wait "$p" 2>/dev/null || true
        done
        if [ -n "$broker_pid" ]; then
                kill "$broker_pid" 2>/dev/null || true
                wait "$broker_pid" 2>/dev/null || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT
# a signal (meson's timeout) still ends in cleanup, through exit
trap 'exit 130' INT TERM

fail() {
        echo "FAIL ($TEST): $*" >&2
        if [ -s "$T/err" ]; then
                echo "--- stderr of the last command:" >&2
                cat "$T/err" >&2
        fi
        exit 1
}

ok() {
        echo "ok - $*"
}

# np ARGS...: the npipe under test, bounded in time.
np() {
        timeout "$LIMIT" "$NPIPE" "$@"
}

# run ARGS...: npipe with stdout in $T/out, stderr in $T/err, status in $rc.
run() {
        set +e
        timeout "$LIMIT" "$NPIPE" "$@" >"$T/out" 2>"$T/err"
        rc=$?
        set -e
}

# expect_rc N DESCRIPTION: the last run's status.
expect_rc() {
        [ "$rc" = "$1" ] || fail "$2: exit status $rc, expected $1"
}

# expect_eq ACTUAL EXPECTED DESCRIPTION
expect_eq() {
        [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# expect_grep PATTERN FILE DESCRIPTION (fixed string)
expect_grep() {
        grep -qF -- "$1" "$2" || fail "$3: '$1' not in $(basename "$2"): $(cat "$2")"
}

# bg ARGS...: start npipe in the background (bounded in time); its pid is $!
# and it is killed at the end of the test if still running.
bg() {
        timeout "$LIMIT" "$NPIPE" "$@" &
        bg_pids+=($!)
}

# wait_ok PID DESCRIPTION: the background process exits with status 0.
wait_ok() {
        local st=0
        wait "$1" || st=$?
        [ "$st" = 0 ] || fail "$2: exit status $st"
}

# The broker, in the foreground, ready when its readiness descriptor says so.
start_broker() {
        mkfifo "$T/ready"
        "$NPIPED" --foreground --runtime-dir="$NPIPE_RUNTIME_DIR" --ready-fd=3 \
                3>"$T/ready" 2>>"$T/broker.log" &
        broker_pid=$!
        local ready=
        read -r ready <"$T/ready" || true
        rm -f "$T/ready"
        [ "$ready" = 1 ] || fail "the broker did not start: $(cat "$T/broker.log")"
}

# serve_ready NAME: after `bg serve NAME ...`, wait until it listens.
serve_ready() {
        run wait "$1" --timeout 10000
        expect_rc 0 "wait for the server of $1"
}
