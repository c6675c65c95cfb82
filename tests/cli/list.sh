#!/bin/bash
# list and list --json: every pipe with its type, direction, instances,
# owner, server and access; JSON parsed by Python, names that need escaping.
. "$(dirname "$0")/lib.sh"
start_broker

run list --json
expect_rc 0 "list --json with no pipe"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$T/out" ||
        fail "an empty list is []: $(cat "$T/out")"
run list
expect_rc 0 "list with no pipe"
expect_eq "$(wc -l <"$T/out")" 1 "only the header"
ok "an empty namespace"

weird='we\ird "quoted" sp\ace é ∑ \'
tabbed=$'tab\there'
bg serve "$weird" --instances 2 --max-instances 3 --access everyone
s1=$!
serve_ready "$weird"
bg serve "$tabbed" --byte --in-quota 1000 --out-quota 2000 --timeout 75
serve_ready "$tabbed"

run list --json
expect_rc 0 "list --json"
python3 - "$T/out" "$weird" "$tabbed" "$s1" <<'PY' || fail "list --json: $(cat "$T/out")"
import json, os, sys
doc, weird, tabbed = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
by = {p["name"]: p for p in doc}
assert set(by) == {weird, tabbed}, by.keys()
w, t = by[weird], by[tabbed]
assert w["path"] == "\\\\.\\pipe\\" + weird, w["path"]
assert w["type"] == "message" and w["direction"] == "duplex", w
assert w["instances"] == {"max": 3, "current": 2, "listening": 2, "connected": 0}, w
assert w["owner_uid"] == os.getuid(), w
# the server is `npipe serve` itself, the child of the timeout(1) we started
stat = open("/proc/%d/stat" % w["server_pid"]).read()
assert int(stat.rsplit(")", 1)[1].split()[1]) == int(sys.argv[4]), (stat, sys.argv[4])
assert w["access"] == "everyone", w
assert w["in_quota"] == 65536 and w["out_quota"] == 65536, w
assert t["type"] == "byte", t
assert t["instances"]["max"] is None and t["instances"]["current"] == 1, t
assert t["access"] == "owner", t
assert (t["in_quota"], t["out_quota"], t["default_timeout_ms"]) == (1000, 2000, 75), t
PY
# the escapes themselves, not only what a parser makes of them
expect_grep '"tab\there"' "$T/out" "a tab is escaped as \\t"
expect_grep '"we\\ird \"quoted\" sp\\ace é ∑ \\"' "$T/out" "backslashes and quotes escaped"
ok "list --json: fields and escaping"

run list
expect_rc 0 "list"
expect_grep "NAME" "$T/out" "the header"
expect_grep "$weird" "$T/out" "the name as it is"
expect_grep 'tab\x09here' "$T/out" "a control character shown as \\xHH"
grep -F "$weird" "$T/out" | grep -qE '^message +duplex +3 +2 +2 +0 +[0-9]+ +[0-9]+ +everyone ' ||
        fail "the row of the message pipe: $(cat "$T/out")"
grep -F 'tab\x09here' "$T/out" | grep -qE '^byte +duplex +unlim +1 +1 +0 ' ||
        fail "the row of the byte pipe: $(cat "$T/out")"
run list --no-header
expect_eq "$(wc -l <"$T/out")" 2 "--no-header: one line per pipe"
ok "list: the table"
