#!/bin/bash
# serve --instances K: K clients at once, one thread each; what list shows
# meanwhile; --count across instances.
. "$(dirname "$0")/lib.sh"
start_broker

bg serve multi --instances 2 --count 3 --exec 'echo "ready $$"; cat >/dev/null'
server=$!
serve_ready multi

# client A connects and stays
# (the fifo open read-write first: then neither open blocks)
mkfifo "$T/a"
exec 3<>"$T/a"
bg cat multi >"$T/a"
a=$!
read -r line <&3
case "$line" in "ready "*) ;; *) fail "client A got '$line'" ;; esac

# the second instance still listens while A is connected
run wait multi --timeout 5000
expect_rc 0 "wait while one instance is busy"
run list --json
python3 - "$T/out" <<'PY' || fail "instances while A is connected: $(cat "$T/out")"
import json, sys
(p,) = json.load(open(sys.argv[1]))
assert p["instances"] == {"max": None, "current": 2, "listening": 1, "connected": 1}, p
PY
ok "two instances: one connected, one listening"

# client B is served by the other instance at the same time
run cat multi --count 1
expect_rc 0 "client B"
case "$(cat "$T/out")" in "ready "*) ;; *) fail "client B got '$(cat "$T/out")'" ;; esac
[ "$(cat "$T/out")" != "$line" ] || fail "A and B share a child"
ok "a second client is served while the first stays connected"

# A leaves; a third client is the last one of --count 3
kill "$a"
exec 3<&-
run cat multi --count 1
expect_rc 0 "client C"
wait_ok "$server" "serve --instances 2 --count 3"
ok "--count counts the clients of every instance"

# --count smaller than --instances creates only what it can serve
bg serve few --instances 5 --count 1
server=$!
serve_ready few
run list --json
python3 - "$T/out" <<'PY' || fail "serve --instances 5 --count 1: $(cat "$T/out")"
import json, sys
(p,) = json.load(open(sys.argv[1]))
assert p["instances"]["current"] == 1, p
PY
run call few x
wait_ok "$server" "serve --instances 5 --count 1"
ok "--count 1 creates one instance"
