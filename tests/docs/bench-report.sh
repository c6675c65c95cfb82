#!/bin/bash
# bench-report.sh NPIPE_BENCH NPIPED: what docs/performance.md promises of the
# documented smoke run (`scripts/run-bench.sh build --smoke`, `npipe-bench
# --smoke`): its tables judge no targets ("not judged", never "MISSED"), and
# no figure is printed negative (a negative one - the instruction counts of
# two short runs differ by noise - is "-" with a note).  A full run's
# targets are still judged.
set -euo pipefail
bench=${1:?usage: $0 NPIPE_BENCH NPIPED}
npiped=${2:?usage: $0 NPIPE_BENCH NPIPED}
T=$(mktemp -d "${TMPDIR:-/tmp}/npipe-bench-report.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

# rows as run-bench.sh gathers them: npipe-bench's, and instruction counts
# (perf's total of both processes) that came out negative
cat >"$T/run.csv" <<'CSV'
transport,size,metric,value
seqpacket,64,rtt_median_us,13.1
npipe-msg,64,rtt_median_us,11.0
seqpacket,64,stream_msgs_per_s,247000
npipe-msg,64,stream_msgs_per_s,-1620000
npipe-msg,-,idle_cpu_pct,0.16
CSV
cat >"$T/instr.csv" <<'CSV'
transport,size,metric,value
npipe-msg,64,instr_total,-2211.5
npipe-byte,64,instr_write,1564.0
npipe-byte,64,instr_read,2148.0
CSV
cp "$T/run.csv" "$T/smoke.csv"
echo "run,-,smoke,1" >>"$T/smoke.csv"

"$bench" --report "$T/smoke.csv" "$T/instr.csv" >"$T/table" || fail "--report: status $?"
if grep -q MISSED "$T/table"; then
        fail "a smoke run's targets were judged: $(cat "$T/table")"
fi
grep -q "Targets: not judged in a --smoke run" "$T/table" || fail "no 'not judged': $(cat "$T/table")"
if grep -E '(^|[[:space:](])-[0-9]' "$T/table"; then
        fail "a negative figure is printed (above)"
fi
grep -q "instr_total at 64 B came out negative: noise of too short a run, not shown" \
        "$T/table" || fail "no note for the negative count: $(cat "$T/table")"
grep -q "stream_msgs_per_s at 64 B came out negative" "$T/table" || fail "no note for the rate"
grep -Eq '^  64 B +npipe byte +1564 +2148 +3712$' "$T/table" ||
        fail "the valid counts are gone: $(cat "$T/table")"
echo "ok - a smoke run's report: no targets judged, no negative figures"

"$bench" --report "$T/run.csv" >"$T/table" || fail "--report: status $?"
grep -q "^Targets (npipe message mode against SOCK_SEQPACKET" "$T/table" ||
        fail "a full run's targets are not judged: $(cat "$T/table")"
grep -q "MISSED" "$T/table" || fail "idle CPU 0.16% is a miss in a full run: $(cat "$T/table")"
echo "ok - a full run's targets are judged"

# the smoke run itself marks its CSV (a private runtime directory and broker:
# npipe-bench makes one when NPIPE_RUNTIME_DIR is unset)
env -u NPIPE_RUNTIME_DIR NPIPE_BROKER="$npiped" timeout 120 "$bench" --smoke --tests rtt \
        --only seqpacket,npipe-msg --sizes 64 --csv "$T/real.csv" >"$T/table" 2>"$T/err" ||
        fail "npipe-bench --smoke: status $?: $(cat "$T/err")"
grep -q '^run,-,smoke,1$' "$T/real.csv" || fail "the smoke run's CSV is not marked: $(cat "$T/real.csv")"
grep -q "Targets: not judged in a --smoke run" "$T/table" || fail "$(cat "$T/table")"
if grep -q MISSED "$T/table"; then
        fail "npipe-bench --smoke judged targets: $(cat "$T/table")"
fi
echo "ok - npipe-bench --smoke marks its CSV and judges nothing"
