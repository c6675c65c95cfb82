#!/bin/bash
# serve on a name that exists: its instances join the pipe, whose type and
# instance limit are its first instance's; serve says so when its own
# options (given or default) disagree, and says nothing when they agree.
. "$(dirname "$0")/lib.sh"
start_broker

# joined NAME ARGS...: `serve -v ARGS... NAME` until it says its instances
# listen (after the warnings), its stderr in $T/joined; then it is stopped.
joined() {
        local name=$1 line
        shift
        rm -f "$T/joinfifo" "$T/joined"
        mkfifo "$T/joinfifo"
        exec 5<>"$T/joinfifo"
        bg serve -v "$@" "$name" 2>"$T/joinfifo"
        local pid=$!
        while :; do
                read -r -t "$LIMIT" line <&5 || fail "serve $* $name: no 'listening' line: $(cat "$T/joined")"
                echo "$line" >>"$T/joined"
                case $line in *"instance listening"* | *"instances listening"*) break ;; esac
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        exec 5<&-
}

bg serve --max-instances 4 demo
serve_ready demo

joined demo --max-instances 4
if grep -q warning "$T/joined"; then
        fail "options that agree gave a warning: $(cat "$T/joined")"
fi
ok "the same options: no warning"

joined demo --byte --max-instances 4
expect_grep 'npipe serve: warning: \\.\pipe\demo exists already as a message pipe: its type is its first instance'"'"'s, so these are message instances, not byte ones (--byte)' \
        "$T/joined" "the type"
expect_grep 'npipe serve: warning: \\.\pipe\demo is read in byte mode by these instances (--byte): a client'"'"'s messages may run together' \
        "$T/joined" "the read mode"
ok "--byte on a message pipe: the type and the read mode"

joined DEMO
expect_grep 'npipe serve: warning: \\.\pipe\DEMO exists already and allows at most 4 instances (its first instance'"'"'s limit), not unlimited (the default)' \
        "$T/joined" "the default instance limit"
joined demo --max-instances 2
expect_grep 'allows at most 4 instances (its first instance'"'"'s limit), not at most 2 (--max-instances)' \
        "$T/joined" "--max-instances"
ok "the instance limit, given or default"

bg serve --byte bytes
serve_ready bytes
joined bytes
expect_grep 'npipe serve: warning: \\.\pipe\bytes exists already as a byte pipe: its type is its first instance'"'"'s, so these are byte instances, not message ones (the default)' \
        "$T/joined" "the default type"
expect_grep 'is read in message mode by these instances (the default), but a byte pipe has no messages' \
        "$T/joined" "message read mode on a byte pipe"
ok "the default (message) on a byte pipe"

# a name with control characters is printed escaped in the warning too
name=$(printf 'ctl\001x')
bg serve --max-instances 3 "$name"
serve_ready "$name"
joined "$name"
expect_grep 'npipe serve: warning: \\.\pipe\ctl\x01x exists already' "$T/joined" "escaped"
if LC_ALL=C grep -q "$(printf '\001')" "$T/joined"; then
        fail "a raw control character in: $(od -c "$T/joined")"
fi
ok "names in warnings are escaped"
