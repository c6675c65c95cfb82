#!/bin/bash
# Where the CPU of one npipe open+close goes (issue 16): every measurement
# of docs/performance.md's section on it, interleaved with the AF_UNIX
# baseline, then the tables.
#
#   bench/openprof/batch.sh --build BUILD [--out DIR] [--rounds R] [--cycles N]
#                           [--count-rounds R] [--count-cycles N] [--only count|time]
#
# Two parts, each in rounds, every run of a round next to the others so that
# a change in the machine's load during the batch falls on all of them:
#   count  exact counts: per round, npipe and unix under `perf stat` of every
#          system call tracepoint, npipe under `perf stat` of the scheduler,
#          fault, IPI and TLB-flush tracepoints, and npipe under `perf trace
#          -s`; default 3 rounds of 3,000 cycles (--count-rounds,
#          --count-cycles)
#   time   CPU: per round, npipe and unix with no tool attached (CPU from
#          schedstat), under a system-wide `perf record` at 2 kHz, and under
#          `perf stat`; default 5 rounds of 10,000 cycles (--rounds, --cycles)
# --rounds and --cycles given alone set both parts (e.g. `--rounds 1
# --cycles 1000` for a quick check of the tooling).  The AF_UNIX runs do 10
# times as many cycles as the npipe runs, to last about as long.  Each run is
# bench/openprof/run.sh, writing DIR/runs/{n,u}-KIND-ROUND.*; the progress
# goes to DIR/batch.log, and at the end `bench/openprof/openprof.py tables DIR`
# writes DIR/tables.md (also printed), classifying the perf record samples
# on the way.  DIR defaults to a new directory from mktemp.  The defaults
# take about 8 minutes on 2 vCPUs (each run waits 1.5 s for its tool to
# attach and up to 10 s for its broker to leave); the files take ~100 MB.
#
# Benchmarks never fail on timing; this fails when a run breaks.  Needs perf
# (Debian: linux-perf), python3 and root (or kernel.perf_event_paranoid =
# -1 and access to tracefs): it stops at once, with a message, without them.
# Times on a loaded or virtual machine are noisy; counts are exact.  The
# unit costs the write-up compares with come from BUILD/bench/unit_cost,
# run on its own (see bench/openprof/unit_cost.c).
set -eu

usage() {
        echo "usage: $0 --build BUILD [--out DIR] [--rounds R] [--cycles N] [--count-rounds R] [--count-cycles N] [--only count|time]" >&2
        exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
build='' out='' rounds='' cycles='' crounds='' ccycles='' only=''
while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || usage
        case $1 in
        --build) build=$2 ;;
        --out) out=$2 ;;
        --rounds) rounds=$2 ;;
        --cycles) cycles=$2 ;;
        --count-rounds) crounds=$2 ;;
        --count-cycles) ccycles=$2 ;;
        --only) only=$2 ;;
        *) usage ;;
        esac
        shift 2
done
[ -n "$build" ] || usage
case $only in ''|count|time) ;; *) usage ;; esac
crounds=${crounds:-${rounds:-3}} ccycles=${ccycles:-${cycles:-3000}}
rounds=${rounds:-5} cycles=${cycles:-10000}
for v in "$rounds" "$cycles" "$crounds" "$ccycles"; do
        case $v in ''|*[!0-9]*|0) usage ;; esac
done

if ! command -v perf >/dev/null 2>&1 || ! perf --version >/dev/null 2>&1; then
        echo "batch.sh: perf is missing or does not run (Debian: apt-get install linux-perf)" >&2
        exit 1
fi
if ! perf stat -e raw_syscalls:sys_enter -e cpu-clock -a -o /dev/null -- true >/dev/null 2>&1; then
        echo "batch.sh: perf cannot count tracepoints system-wide here: run as root, or set" >&2
        echo "  kernel.perf_event_paranoid = -1 and make /sys/kernel/tracing readable" >&2
        exit 1
fi
command -v python3 >/dev/null 2>&1 || { echo "batch.sh: python3 is missing" >&2; exit 1; }
build=$(cd "$build" && pwd)
[ -x "$build/bench/open_cycle" ] || { echo "batch.sh: $build/bench/open_cycle not built (ninja -C $build)" >&2; exit 1; }
if [ -z "$out" ]; then
        out=$(mktemp -d "${TMPDIR:-/tmp}/openprof.XXXXXX")
else
        mkdir -p "$out"
        out=$(cd "$out" && pwd)
fi
mkdir -p "$out/runs"
log=$out/batch.log

# run MODE KIND CYCLES ROUND
run() {
        local r
        r=$("$here/run.sh" "$build" "$1" "$2" "$3" "$out/runs/${1:0:1}-$2-$4")
        echo "$(date +%T) $1 $2 $4: $r" | tee -a "$log"
}

{
        echo "# bench/openprof/batch.sh, $(date -u '+%F %T') UTC, $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "# build $build; count: $crounds x $ccycles cycles; time: $rounds x $cycles cycles"
        echo "# $(uname -sr); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); $(perf --version)"
} | tee "$log"

if [ "$only" != time ]; then
        for i in $(seq "$crounds"); do
                run npipe count "$ccycles" "$i"
                run unix count $((ccycles * 10)) "$i"
                run npipe ev "$ccycles" "$i"
                run npipe trace "$ccycles" "$i"
        done
fi
if [ "$only" != count ]; then
        for i in $(seq "$rounds"); do
                for k in none record stat; do
                        run npipe "$k" "$cycles" "$i"
                        run unix "$k" $((cycles * 10)) "$i"
                done
        done
fi
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"

echo "$(date +%T) tables (perf script of the record runs, classified)" | tee -a "$log"
python3 "$here/openprof.py" tables "$out" >"$out/tables.md"
cat "$out/tables.md"
echo
echo "batch.sh: results in $out (batch.log, tables.md, runs/)"
