#!/bin/sh
# make bench: npipe against the Linux primitives (and Wine) in one run.
#
#   scripts/run-bench.sh BUILD_DIR [--wine] [--smoke] [--seconds S] [--rounds N] [--out DIR]
#
# npipe-bench runs every case once per round, the two sides of every
# comparison next to each other, for N rounds (default 5, or $BENCH_ROUNDS:
# `BENCH_ROUNDS=11 make bench` for more), unpinned, pinned apart and pinned
# together; each measurement lasts S seconds (default 0.1).  Every ratio
# printed is the median of the per-round ratios, with their min-max.
#
# Writes to DIR (default BUILD_DIR/bench-results):
#   bench.csv     every number, transport,size,metric,value (one row per
#                 round as METRIC@rN, then the median as METRIC)
#   table.txt     the tables (also printed): the comparisons as ratios first
#   machine.txt   lscpu summary, kernel, load before and after
#   latency.png/.svg, throughput.png/.svg   (gnuplot; skipped with a message
#                 when gnuplot cannot be installed)
# --wine also builds bench/win32-bench.c with mingw and runs it under Wine
# (installs wine and gcc-mingw-w64-x86-64 when missing, as root).
# Benchmarks never fail on timing; the run fails only when a message
# arrives wrong or a program breaks.
set -eu

usage() {
        echo "usage: $0 BUILD_DIR [--wine] [--smoke] [--seconds S] [--rounds N] [--out DIR]" >&2
        exit 2
}
[ $# -ge 1 ] || usage
build=$1
shift
wine=0 smoke=0 seconds=0.1 out="" rounds=${BENCH_ROUNDS:-5}
while [ $# -gt 0 ]; do
        case $1 in
        --wine) wine=1 ;;
        --smoke) smoke=1 ;;
        --seconds) seconds=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --out) out=$2; shift ;;
        *) usage ;;
        esac
        shift
done
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
out=${out:-$build/bench-results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bench=$build/bench/npipe-bench
[ -x "$bench" ] || { echo "run-bench.sh: $bench not built (run make first)" >&2; exit 1; }

# Install a Debian package when missing (as root); 0 when it is there.
need_pkg() {
        if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; then
                return 0
        fi
        if [ "$(id -u)" != 0 ]; then
                echo "run-bench.sh: $1 is missing (apt-get install -y $1 as root)" >&2
                return 1
        fi
        echo "run-bench.sh: installing $1" >&2
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "$1" >"$out/apt-$1.log" 2>&1; then
                # the package lists may be missing or stale on a fresh machine
                apt-get update -qq >>"$out/apt-$1.log" 2>&1 || true
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                        "$1" >>"$out/apt-$1.log" 2>&1 || return 1
        fi
        return 0
}

# A runtime directory and broker of our own, gone when we are.
rt=$(mktemp -d /tmp/npipe-bench-run.XXXXXX)
chmod 700 "$rt"
trap 'rm -rf "$rt"' EXIT
export NPIPE_RUNTIME_DIR="$rt"
export NPIPE_BROKER="$build/src/broker/npiped"
export NPIPE_BROKER_IDLE=2

# ---- the machine ---------------------------------------------------------------------------
{
        echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "commit:  $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "kernel:  $(uname -srm)"
        lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Hypervisor vendor|L2 cache|L3 cache|CPU max MHz)' |
                sed 's/  */ /g; s/^/cpu:     /'
        echo "build:   $(meson introspect --buildoptions "$build" 2>/dev/null |
                tr ',' '\n' | grep -A3 '"name": "buildtype"' | grep '"value"' |
                sed 's/.*"value": "\([a-z]*\)".*/\1/' || echo unknown)"
        echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.7) }'; then
        echo "run-bench.sh: load average $load: the machine is busy, numbers will be noisy" >&2
fi

args="--seconds $seconds --rounds $rounds"
[ $smoke = 1 ] && args="--smoke"

# ---- npipe-bench: every transport, interleaved rounds, three placements ----------------------
# Each round runs every case once: the transports of one size next to each
# other (their order reversed every other round), unpinned (all transports
# and sizes) and pinned apart and together (the compared cases: rows
# TRANSPORT-apart and TRANSPORT-same), the busy pairs, connection set-up;
# npipe-bench-win32 (sync and --overlapped) runs as a case of the same
# rounds.  Then scale, idle CPU and the memfd ceiling, once.
echo "== npipe-bench $args" >&2
# A failed check (a message that arrived wrong, a hang) fails the run at
# the end, after everything else has been measured and reported.
status=0
# shellcheck disable=SC2086
"$bench" $args --no-table --csv "$out/main.csv" -v || status=1
csvs="$out/main.csv"

# The 100,000-connection attempt (the aim); it reports where it stops.
if [ $smoke = 0 ]; then
        echo "== scale: 100,000 connections" >&2
        "$bench" --tests scale --scale 100000 --no-table --csv "$out/scale100k.raw.csv" -v || true
        sed 's/^npipe-msg,/npipe-msg-100k,/' "$out/scale100k.raw.csv" >"$out/scale100k.csv"
        csvs="$csvs $out/scale100k.csv"
        # Each connection is two mappings in each process, so the kernel's
        # vm.max_map_count (65,530 by default) stops it near 32,750.  As
        # root, run it once more with the limit raised for this run only
        # (restored at once), as a server for that many clients would be
        # configured.
        maps=/proc/sys/vm/max_map_count
        old_maps=$(cat $maps 2>/dev/null || echo 0)
        if [ "$(id -u)" = 0 ] && [ "$old_maps" -lt 262144 ] && echo 262144 >$maps 2>/dev/null; then
                trap 'echo "$old_maps" >$maps; rm -rf "$rt"' EXIT
                echo "== scale: 100,000 connections, vm.max_map_count 262144" >&2
                "$bench" --tests scale --scale 100000 --no-table --csv "$out/scale100k-maps.raw.csv" \
                        -v || true
                echo "$old_maps" >$maps
                trap 'rm -rf "$rt"' EXIT
                sed 's/^npipe-msg,/npipe-msg-100k-maps,/' "$out/scale100k-maps.raw.csv" \
                        >"$out/scale100k-maps.csv"
                csvs="$csvs $out/scale100k-maps.csv"
        fi
fi

# ---- win32_runs: the Win32 benchmark one test and size per process (for Wine) ---------------
# One process per test and size under `timeout`: a hang costs one row.
# The Wine rows are not interleaved: they are orders of magnitude apart.
# win32_runs NAME CSV COMMAND...
win32_runs() {
        name=$1 csv=$2
        shift 2
        echo "transport,size,metric,value" >"$csv"
        wa="--seconds $seconds"
        [ $smoke = 1 ] && wa="--smoke"
        for t in rtt stream; do
                for s in 0 64 1024 4096 65536 1048576; do
                        # shellcheck disable=SC2086
                        if ! timeout 120 "$@" $wa --test $t --sizes $s --no-header \
                                >>"$csv" 2>>"$out/$name.log" </dev/null; then
                                echo "$name,-,note,\"$t $s B: failed or HUNG (killed after 120 s)\"" >>"$csv"
                                echo "run-bench.sh: $name $t $s B failed or hung" >&2
                                status=1
                        fi
                done
        done
}
# The native Win32 rows (npipe-bench-win32, sync and --overlapped) are
# cases of npipe-bench's rounds above, interleaved with the native rows.

# ---- Wine: the server-queue design ----------------------------------------------------------
if [ $wine = 1 ]; then
        if need_pkg gcc-mingw-w64-x86-64 && need_pkg wine && need_pkg wine64; then
                echo "== Wine: win32-bench.exe (mingw)" >&2
                x86_64-w64-mingw32-gcc -O2 -D__USE_MINGW_ANSI_STDIO=1 -o "$out/win32-bench.exe" \
                        "$src/bench/win32-bench.c"
                export WINEPREFIX="$build/bench-wineprefix"
                export WINEDEBUG=-all
                # no Mono or Gecko prompts in a fresh prefix
                export WINEDLLOVERRIDES="mscoree,mshtml="
                if [ ! -d "$WINEPREFIX" ]; then
                        echo "run-bench.sh: creating $WINEPREFIX (once)" >&2
                        wineboot -i >"$out/wineboot.log" 2>&1 </dev/null || true
                        wineserver -w || true
                fi
                # Output to a file: Wine's helper processes (wineserver and
                # friends) inherit a pipe and hold it open after we exit.
                win32_runs wine "$out/wine.raw.csv" wine "$out/win32-bench.exe"
                tr -d '\r' <"$out/wine.raw.csv" >"$out/wine.csv"
                csvs="$csvs $out/wine.csv"
                wineserver -k 2>/dev/null || true
        else
                echo "run-bench.sh: no mingw/Wine: the Wine rows are skipped" >&2
        fi
fi

# ---- instructions per message on the fast path ----------------------------------------------
# perf where the CPU counters are visible; else callgrind (deterministic).
# Two runs of different lengths, so start-up costs cancel out.
instr="$out/instr.csv"
echo "transport,size,metric,value" >"$instr"
rounds1=10 rounds2=30
[ $smoke = 1 ] && rounds1=2 rounds2=4
fast_cases="npipe-msg:0 npipe-msg:64 npipe-msg:1024 npipe-msg:4096 npipe-byte:64 npipe-byte:4096"
[ $smoke = 1 ] && fast_cases="npipe-msg:64"
if perf stat -e instructions:u true 2>&1 | grep -q "instructions"; then
        perf_ok=1
        perf stat -e instructions:u true 2>&1 | grep -q "not supported" && perf_ok=0
else
        perf_ok=0
fi
count_run() { # transport size rounds -> "messages write_instr read_instr"
        tr=$1 sz=$2 rd=$3
        d=$(mktemp -d "$out/cg.XXXXXX")
        if [ $perf_ok = 1 ]; then
                # perf counts both processes together (write + read)
                line=$(perf stat -x, -e instructions:u -o "$d/perf" "$bench" --fastpath "$tr" \
                        --size "$sz" --rounds "$rd")
                m=$(echo "$line" | sed 's/.*messages=\([0-9]*\).*/\1/')
                tot=$(grep instructions "$d/perf" | cut -d, -f1)
                echo "$m $tot 0"
        else
                line=$(valgrind --tool=callgrind --callgrind-out-file="$d/cg.%p" \
                        --toggle-collect=npipe_write --toggle-collect=npipe_read \
                        "$bench" --fastpath "$tr" --size "$sz" --rounds "$rd" 2>"$d/log")
                m=$(echo "$line" | sed 's/.*messages=\([0-9]*\).*/\1/')
                w=$(echo "$line" | sed 's/.*writer_pid=\([0-9]*\).*/\1/')
                r=$(echo "$line" | sed 's/.*reader_pid=\([0-9]*\).*/\1/')
                wi=$(sed -n 's/^totals: *//p' "$d/cg.$w")
                ri=$(sed -n 's/^totals: *//p' "$d/cg.$r")
                echo "$m ${wi:-0} ${ri:-0}"
        fi
        rm -rf "$d"
}
have_counter=1
if [ $perf_ok = 0 ]; then
        need_pkg valgrind || have_counter=0
fi
if [ $have_counter = 1 ]; then
        echo "== instructions per message ($([ $perf_ok = 1 ] && echo perf || echo callgrind))" >&2
        for c in $fast_cases; do
                tr=${c%%:*} sz=${c##*:}
                set -- $(count_run "$tr" "$sz" $rounds1)
                m1=$1 w1=$2 r1=$3
                set -- $(count_run "$tr" "$sz" $rounds2)
                m2=$1 w2=$2 r2=$3
                awk -v t="$tr" -v s="$sz" -v m1="$m1" -v m2="$m2" -v w1="$w1" -v w2="$w2" \
                        -v r1="$r1" -v r2="$r2" -v perf="$perf_ok" 'BEGIN {
                        if (m2 <= m1) exit 1
                        if (perf) { printf "%s,%s,instr_total,%.1f\n", t, s, (w2 - w1) / (m2 - m1); exit }
                        printf "%s,%s,instr_write,%.1f\n", t, s, (w2 - w1) / (m2 - m1)
                        printf "%s,%s,instr_read,%.1f\n", t, s, (r2 - r1) / (m2 - m1)
                }' >>"$instr" || echo "run-bench.sh: instruction count failed for $c" >&2
        done
        csvs="$csvs $instr"
else
        echo "run-bench.sh: neither perf counters nor valgrind: no instruction counts" >&2
fi

# ---- the tables and the CSV -----------------------------------------------------------------
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
{
        echo "transport,size,metric,value"
        for f in $csvs; do
                grep -v '^transport,size,metric,value' "$f" || true
        done
} >"$out/bench.csv"
# shellcheck disable=SC2086
"$bench" --report $csvs >"$out/table.txt"
cat "$out/table.txt"
echo
tail -1 "$out/machine.txt"

# ---- the plot -------------------------------------------------------------------------------
if need_pkg gnuplot-nox; then
        plotdir="$out/plot"
        mkdir -p "$plotdir"
        # one data file per transport: size index, label, median rtt, MB/s, msgs/s
        # (the pinned placement rows are in the tables, not in the plot)
        trs=""
        for t in seqpacket npipe-msg npipe-byte bare-ring npipe-win32 wine stream pipe memfd; do
                grep -q "^$t,[0-9]*,rtt_median_us," "$out/bench.csv" && trs="$trs $t"
        done
        trs=${trs# }
        for t in $trs; do
                awk -F, -v t="$t" '
                BEGIN { n = split("0 64 1024 4096 65536 1048576", sz, " ")
                        split("0 64 1K 4K 64K 1M", lb, " ") }
                $1 == t && $3 == "rtt_median_us" { rtt[$2] = $4 }
                $1 == t && $3 == "stream_mb_per_s" { mb[$2] = $4 }
                $1 == t && $3 == "stream_msgs_per_s" { ms[$2] = $4 }
                END { for (i = 1; i <= n; i++) {
                        s = sz[i]
                        if (!(s in rtt) && !(s in mb)) continue
                        printf "%d %s %s %s %s\n", i - 1, lb[i], (s in rtt) ? rtt[s] : "NaN",
                               (s in mb) ? mb[s] : "NaN", (s in ms) ? ms[s] : "NaN" } }
                ' "$out/bench.csv" >"$plotdir/$t.dat"
        done
        for fmt in png svg; do
                gnuplot -e "outfile='$out/bench.$fmt'; fmt='$fmt'; dir='$plotdir'; trs='$trs'" \
                        "$src/bench/plot.gp" 2>"$out/gnuplot.log" ||
                        echo "run-bench.sh: gnuplot failed (see $out/gnuplot.log)" >&2
        done
        [ -f "$out/bench.png" ] && echo "plot: $out/bench.png $out/bench.svg"
else
        echo "run-bench.sh: gnuplot-nox could not be installed: no plot (tables and CSV are complete)" >&2
fi
echo "csv:  $out/bench.csv"
[ $status = 0 ] || echo "run-bench.sh: some checks failed or hung: see the notes above" >&2
exit $status
