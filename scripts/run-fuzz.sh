#!/bin/sh
# run-fuzz.sh BUILD_DIR SECONDS - run every libFuzzer harness of BUILD_DIR
# (configured with -Dfuzz=true) for SECONDS each, on its seed corpus in
# fuzz/corpus/<name>/.  New inputs go to a scratch corpus under BUILD_DIR,
# never into the seeds.  A crash, leak, timeout or sanitizer report fails the
# run; its reproducer is kept in BUILD_DIR/fuzz-artifacts/.  Prints the
# executions of each harness (for docs/reliability.md).
set -u
if [ $# -ne 2 ]; then
        echo "usage: $0 BUILD_DIR SECONDS" >&2
        exit 2
fi
build=$1
secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
art="$build/fuzz-artifacts"
mkdir -p "$art"
status=0
found=0
for seeds in "$root"/fuzz/corpus/*/; do
        name=$(basename "$seeds")
        exe="$build/fuzz/$name"
        if [ ! -x "$exe" ]; then
                echo "run-fuzz: $exe is missing (configure with -Dfuzz=true)" >&2
                status=1
                continue
        fi
        found=$((found + 1))
        work="$build/fuzz-corpus/$name"
        mkdir -p "$work"
        log="$art/$name.log"
        # -timeout: one input running longer than 10 s is a hang;
        # -rss_limit_mb bounds memory; -max_len covers a full packet and
        # long ring scripts.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
                -max_len=4096 -print_final_stats=1 -artifact_prefix="$art/$name-" \
                "$work" "$seeds" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        if [ $rc -ne 0 ]; then
                echo "run-fuzz: $name FAILED (exit $rc) after ${execs:-?} executions; log: $log" >&2
                grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -n 20 >&2
                status=1
        else
                echo "run-fuzz: $name ok: ${execs:-?} executions in ${secs}s"
        fi
done
if [ $found -eq 0 ]; then
        echo "run-fuzz: no harness found" >&2
        status=1
fi
exit $status
