#!/bin/bash
# stat and stat --json: the broker's counters, and per pipe its instances
# and the messages and bytes written each way, of connections that ended
# and of a live one; --watch redraws --count times and ends on SIGINT with
# status 0.  JSON parsed by Python.
. "$(dirname "$0")/lib.sh"
start_broker

run stat --json
expect_rc 0 "stat --json with no pipe"
python3 - "$T/out" <<'PY' || fail "stat --json, no pipe: $(cat "$T/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["pipes"] == [], doc
b = doc["broker"]
assert b["now"]["pipes"] == 0 and b["now"]["instances"] == 0, b
assert b["total"]["connections"] == 0, b
assert b["servers_asked"] == 0 and b["servers_missing"] == 0, b
PY
ok "stat --json: an empty namespace"

# two connections that end: 3 + 5 bytes each way (the echo server answers
# every message with the same bytes)
bg serve counted --instances 2
serve_ready counted
bg serve other --byte
serve_ready other
run call counted abc
expect_rc 0 "call"
run call counted hello
expect_rc 0 "call"
run call nope x
expect_rc 1 "call of a missing name"

# one that lives: 3 messages, 1 + 2 + 3 bytes, client to server.  The
# server prints them; reading them back is the sign they went through.
mkfifo "$T/in" "$T/printed"
exec 8<>"$T/printed"
bg serve live --print >"$T/printed"
serve_ready live
exec 7<>"$T/in"
# (not through bg: a background job's stdin would be /dev/null)
timeout "$LIMIT" "$NPIPE" send live <"$T/in" 7>&- &
sender=$!
bg_pids+=("$sender")
printf 'a\nbb\nccc\n' >&7
for want in a bb ccc; do
        read -r -t "$LIMIT" -u 8 line || fail "the server did not print $want"
        expect_eq "$line" "$want" "the server got the message"
done

run stat --json
expect_rc 0 "stat --json"
python3 - "$T/out" "$NPIPE_RUNTIME_DIR" "$broker_pid" <<'PY' || fail "stat --json: $(cat "$T/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
by = {p["name"]: p for p in doc["pipes"]}
assert list(by) == ["counted", "live", "other"], list(by)
c, l, o = by["counted"], by["live"], by["other"]
assert c["path"] == "\\\\.\\pipe\\counted", c
assert c["instances"] == {"current": 2, "listening": 2, "connected": 0}, c
assert c["connections"] == 2, c
assert c["client_to_server"] == {"messages": 2, "bytes": 8}, c
assert c["server_to_client"] == {"messages": 2, "bytes": 8}, c
assert c["missing"] == 0, c
# the live connection, as its server reported it just now
assert l["instances"] == {"current": 1, "listening": 0, "connected": 1}, l
assert l["client_to_server"] == {"messages": 3, "bytes": 6}, l
assert l["server_to_client"] == {"messages": 0, "bytes": 0}, l
assert l["connections"] == 1 and l["missing"] == 0, l
assert o["connections"] == 0 and o["client_to_server"]["messages"] == 0, o
b = doc["broker"]
assert b["runtime_dir"] == sys.argv[2] and b["pid"] == int(sys.argv[3]), b
assert b["now"]["pipes"] == 3 and b["now"]["instances"] == 4, b
assert b["now"]["connections"] == 1, b
assert b["total"]["connections"] == 3, b
assert b["total"]["pipes"] == 3 and b["total"]["instances"] == 4, b
assert b["total"]["opens_not_found"] >= 1, b
assert b["total"]["requests"] > 0 and b["total"]["requests_malformed"] == 0, b
assert b["ended"]["client_to_server"] == {"messages": 2, "bytes": 8}, b
assert b["servers_asked"] == 1 and b["servers_missing"] == 0, b
PY
ok "stat --json: ended and live connections, broker counters"

run stat
expect_rc 0 "stat"
expect_grep "broker $NPIPE_RUNTIME_DIR  pid $broker_pid" "$T/out" "the runtime directory"
expect_grep "processes " "$T/out" "the broker's counters"
expect_grep "opens: connected 3 " "$T/out" "connections so far"
grep -qE '^ +2 +0 +2 +2 +2 +8 +2 +8 +0  counted$' "$T/out" || fail "the row: $(cat "$T/out")"
grep -qE '^ +0 +1 +1 +1 +3 +6 +0 +0 +0  live$' "$T/out" || fail "the row: $(cat "$T/out")"
ok "stat: the table"

# the sender's end closes: its counts are final and stay with the pipe
exec 7>&-
wait_ok "$sender" "send ends with its input"
run stat --json
expect_rc 0 "stat --json after the close"
python3 - "$T/out" <<'PY' || fail "stat --json after the close: $(cat "$T/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
l = {p["name"]: p for p in doc["pipes"]}["live"]
assert l["client_to_server"] == {"messages": 3, "bytes": 6}, l
assert l["connections"] == 1 and l["missing"] == 0, l
PY
ok "stat --json: a connection's counts after it ended"

run stat --watch=0.02 --count 3
expect_rc 0 "stat --watch --count"
expect_eq "$(grep -c '^npipe stat ' "$T/out")" 3 "three screens"
if grep -q $'\033' "$T/out"; then
        fail "no terminal escapes into a file"
fi
run stat --watch --iterations 2 --interval 20
expect_rc 0 "stat --watch --iterations --interval"
expect_eq "$(grep -c '^npipe stat ' "$T/out")" 2 "two screens"
run stat --json --watch=0.02 --count 2
expect_rc 0 "stat --json --watch"
expect_eq "$(grep -c '^"pipes":' "$T/out")" 2 "two documents"
ok "stat --watch --count"

# SIGINT ends a watch with status 0 (as q ends top); the first screen read
# back from a fifo says it is running
mkfifo "$T/screens"
exec 9<>"$T/screens"
bg stat --watch=0.05 >"$T/screens"
watcher=$!
read -r -t "$LIMIT" -u 9 line || fail "no screen from stat --watch"
case "$line" in "npipe stat "*) ;; *) fail "the first line of a screen: $line" ;; esac
# To npipe itself, not to the timeout(1) that `bg` runs it under: timeout
# forwards the signal and then sends SIGCONT, and a SIGCONT discards the
# SIGSTOP with which LeakSanitizer stops the threads of an exiting process
# under ASan, which then never ends (1 run in 6 on a loaded machine).
npipe_pid=$(cat "/proc/$watcher/task/$watcher/children")
[ -n "$npipe_pid" ] || fail "no npipe under timeout $watcher"
kill -INT $npipe_pid
wait_ok "$watcher" "stat --watch ends with status 0 on SIGINT"
ok "stat --watch: SIGINT"
