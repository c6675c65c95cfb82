#!/bin/bash
# check-summary.sh SRC: scripts/check-summary.sh on the build directories of
# made-up `make check` runs: every skip is named with its reason (the
# conformance suite and the spec missing, a test's SKIP: line, a test left
# out), failures make it fail, and a clean run says so.
set -euo pipefail
src=${1:?usage: $0 SRC}
summary="$src/scripts/check-summary.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/npipe-check-summary.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
        echo "FAIL: $*" >&2
        [ -f "$T/out" ] && cat "$T/out" >&2
        exit 1
}
# expect TEXT: in the summary, whatever its line wrapping (spaces squeezed)
expect() {
        local want
        want=$(printf '%s' "$1" | tr -s ' ')
        tr '\n' ' ' <"$T/out" | tr -s ' ' | grep -qF -- "$want" || fail "'$1' not in the summary"
}

# builddir DIR TESTS... with TESTS as name:suite:result[:stdout]; result "-"
# for a test meson defined but this run did not run
builddir() {
        local dir=$1
        shift
        mkdir -p "$dir/meson-info" "$dir/meson-logs"
        python3 - "$dir" "$@" <<'PY'
import json, sys
d = sys.argv[1]
intro, log = [], []
for spec in sys.argv[2:]:
    name, suite, result, *out = spec.split(":", 3)
    intro.append({"name": name, "suite": ["npipe:" + suite]})
    if result != "-":
        log.append({"name": "npipe:%s / %s" % (suite, name), "result": result,
                    "stdout": out[0] if out else "", "returncode": 0})
json.dump(intro, open(d + "/meson-info/intro-tests.json", "w"))
with open(d + "/meson-logs/testlog.json", "w") as f:
    for l in log:
        f.write(json.dumps(l) + "\n")
PY
}

skip_remote='remote:remote:SKIP:SKIP: remote_test: needs root (smbd, useradd and the samba np directory need it)'
builddir "$T/build" test_msg:semantics:OK cli-errors:cli:OK bench-smoke:bench-smoke:OK \
        test_ring:ring:OK "$skip_remote"
builddir "$T/asan" test_msg:semantics:OK cli-errors:cli:OK bench-smoke:bench-smoke:- \
        test_ring:ring:OK "$skip_remote"
builddir "$T/tsan" test_msg:semantics:- cli-errors:cli:- bench-smoke:bench-smoke:- \
        test_ring:ring:OK remote:remote:-

# a clone alone: no specification beside it
cd "$T"
env -u CONFORMANCE_DIR "$summary" --shared "$T/none" build asan tsan conf >"$T/out" ||
        fail "exit status $? without failures"
expect "native suites (build): 5 ran: 4 passed, 1 skipped, 0 failed"
expect "SKIPPED remote remote_test: needs root (smbd, useradd and the samba np directory need it)"
expect "SKIPPED semantics-coverage $T/none/spec/semantics.md not found"
expect "left out bench-smoke"
expect "ASan+UBSan (asan): 4 ran: 3 passed, 1 skipped, 0 failed"
expect "TSan (tsan): 1 ran: 1 passed, 0 skipped, 0 failed"
expect "Win32 conformance programs: SKIPPED: $T/none/conformance/run-native.sh not found"
expect "set CONFORMANCE_DIR to a checkout of it"
expect "Result: everything that ran passed; 4 items skipped or not run (above)"
if grep -q "NOT RUN" "$T/out"; then
        fail "what the Makefile leaves out on purpose is reported as not run"
fi
echo "ok - a clone alone: the conformance run, the coverage test and the remote skips named"

# the specification beside it, and the conformance suite ran
mkdir -p "$T/shared/spec" "$T/shared/conformance/visible" "$T/conf"
touch "$T/shared/spec/semantics.md" "$T/shared/conformance/visible/a.c"
printf '#!/bin/sh\n' >"$T/shared/conformance/run-native.sh"
chmod +x "$T/shared/conformance/run-native.sh"
builddir "$T/build" test_msg:semantics:OK semantics-coverage:coverage:OK
env -u CONFORMANCE_DIR "$summary" --shared "$T/shared" build asan tsan conf >"$T/out" ||
        fail "exit status $?"
expect "Win32 conformance programs: ran: 1 programs of $T/shared/conformance/visible"
if grep -q "SKIPPED semantics-coverage" "$T/out"; then
        fail "the coverage test was there"
fi
echo "ok - with the specification: the conformance run is reported as run"

# CONFORMANCE_DIR wins, as in scripts/run-conformance.sh
CONFORMANCE_DIR="$T/elsewhere" "$summary" --shared "$T/shared" build asan tsan conf >"$T/out" ||
        fail "exit status $?"
expect "SKIPPED: $T/elsewhere/run-native.sh not found"
echo "ok - CONFORMANCE_DIR is where the conformance suite is looked for"

# a failure fails the summary, and a test defined but not run is named
builddir "$T/build" test_msg:semantics:FAIL test_open:semantics:TIMEOUT test_zero:semantics:-
set +e
"$summary" --shared "$T/shared" build asan tsan conf >"$T/out"
rc=$?
set -e
[ "$rc" = 1 ] || fail "exit status $rc with failures"
expect "FAILED  test_msg                   FAIL"
expect "FAILED  test_open                  TIMEOUT"
expect "NOT RUN 1 defined test not in the last meson test here (a partial run?): test_zero"
expect "Result: FAILED"
echo "ok - failures fail it; a defined test that did not run is named"

# a build directory that is not there
"$summary" --shared "$T/shared" build asan nothere conf >"$T/out" || true
expect "TSan (nothere): not run: nothere is not a configured build directory"
echo "ok - a missing build directory is named"
