#!/bin/bash
# One measured run of bench/openprof/open_cycle: perf attached to the client,
# the server and the broker of an open+close loop (issue 16).
#
#   bench/openprof/run.sh [--freq HZ] [--warmup N] BUILD MODE KIND CYCLES PREFIX
#
#   BUILD   a build directory (meson, with bench/open_cycle and
#           src/broker/npiped built)
#   MODE    npipe (npipe_open+npipe_close against 4 instances) or unix (the
#           AF_UNIX socket+connect+close baseline)
#   KIND    what is attached to each process while the CYCLES cycles run:
#             none    nothing (the CPU comes from schedstat alone)
#             stat    perf stat: task-clock, context switches, migrations,
#                     page faults, raw_syscalls:sys_enter
#             count   perf stat of every syscalls:sys_enter_* tracepoint
#             ev      perf stat of scheduler, page-fault, IPI and TLB-flush
#                     tracepoints (tlb_flush once per reason 0-4)
#             trace   perf trace -s (calls and wall time per system call;
#                     slow, for the counts only)
#             record  perf record -a -g -e cpu-clock -F HZ (default 2000),
#                     system-wide: a per-process perf record would add its
#                     own cost to every context switch; bench/openprof/
#                     openprof.py classify splits the samples by pid
#   PREFIX  where the results go: PREFIX.pids ("server PID client PID
#           broker PID"), PREFIX.rate (the driver's "N cycles S s R /s" and
#           the wall-clock start and end), PREFIX.snap0/.snap1 (per process,
#           right before and after the cycles: the sum of the threads'
#           schedstat run time in ns, utime and stime in ticks, voluntary and
#           involuntary switches, thread count), PREFIX.out (the driver's
#           output), and the tool's files PREFIX.stat.ROLE, .count.ROLE,
#           .ev.ROLE, .trace.ROLE or .perf.data, with its messages in
#           PREFIX.perf.log.
#
# Every run gets its own runtime directory and broker (NPIPE_RUNTIME_DIR, and
# NPIPE_BROKER=BUILD/src/broker/npiped started by the library), so that no
# other program's pipes or broker are measured.  The driver does --warmup
# cycles (default 200) first and then waits; this script attaches the tool,
# gives it 1.5 s to start, takes the schedstat snapshot, releases the
# driver, and when the driver reports takes the second snapshot and stops
# the tool before the processes exit.  At the end it waits (up to 10 s) for
# the broker to leave (NPIPE_BROKER_IDLE=1), so that runs do not overlap.
# Prints the driver's rate line.  bench/openprof/batch.sh runs this many
# times; it is not needed by hand except for a single run.
#
# Needs bash 5.1 or later (wait -n with pids), perf (Debian: linux-perf)
# for every KIND but none, and root (or
# kernel.perf_event_paranoid = -1 and access to tracefs) for the
# tracepoints and for perf record -a.
set -eu

usage() {
        echo "usage: $0 [--freq HZ] [--warmup N] BUILD npipe|unix none|stat|count|ev|trace|record CYCLES PREFIX" >&2
        exit 2
}
freq=2000 warmup=200
while [ $# -gt 0 ]; do
        case $1 in
        --freq) [ $# -ge 2 ] || usage; freq=$2; shift 2 ;;
        --warmup) [ $# -ge 2 ] || usage; warmup=$2; shift 2 ;;
        -*) usage ;;
        *) break ;;
        esac
done
[ $# -eq 5 ] || usage
build=$1 mode=$2 kind=$3 n=$4 out=$5
case $mode in npipe|unix) ;; *) usage ;; esac
case $kind in none|stat|count|ev|trace|record) ;; *) usage ;; esac
case $n in ''|*[!0-9]*) usage ;; esac

driver=$build/bench/open_cycle
broker=$build/src/broker/npiped
for f in "$driver" "$broker"; do
        [ -x "$f" ] || { echo "run.sh: $f not built (ninja -C $build)" >&2; exit 1; }
done
if [ "$kind" != none ] && ! perf --version >/dev/null 2>&1; then
        echo "run.sh: perf is missing or does not run (Debian: apt-get install linux-perf)" >&2
        exit 1
fi
mkdir -p "$(dirname "$out")"

rt=$(mktemp -d "${TMPDIR:-/tmp}/openprof-rt.XXXXXX")
chmod 700 "$rt"
ctl=$rt/ctl
mkdir "$ctl"
mkfifo "$ctl/go" "$ctl/done" "$ctl/exit"
main='' catpid='' tools=()
cleanup() {
        # only what this script started, by pid
        for p in "${tools[@]}" $catpid $main; do kill "$p" 2>/dev/null || true; done
        rm -rf "$rt"
}
trap cleanup EXIT

export NPIPE_RUNTIME_DIR=$rt NPIPE_BROKER=$broker NPIPE_BROKER_IDLE=1
"$driver" "$mode" "$n" "$warmup" "$ctl" >"$out.out" 2>&1 &
main=$!

# the warm-up: wait for the driver's pids (at most 60 s)
for _ in $(seq 1200); do
        [ -f "$ctl/pids" ] && break
        if ! kill -0 "$main" 2>/dev/null; then
                echo "run.sh: open_cycle failed during the warm-up:" >&2
                cat "$out.out" >&2
                exit 1
        fi
        sleep 0.05
done
[ -f "$ctl/pids" ] || { echo "run.sh: open_cycle did not finish its warm-up in 60 s" >&2; exit 1; }
read -r spid cpid bpid <"$ctl/pids"
bpid=${bpid:-}
echo "server $spid client $cpid broker $bpid" >"$out.pids"
procs="server:$spid client:$cpid"
[ -n "$bpid" ] && procs="$procs broker:$bpid"

# per process: run time of all threads (ns, schedstat), utime, stime (ticks),
# voluntary and involuntary context switches of all threads, thread count
snap() {
        local pp p r v i a t tasks
        for pp in $procs; do
                p=${pp#*:} r=0 v=0 i=0 tasks=(/proc/"$p"/task/*)
                for t in "${tasks[@]}"; do
                        read -r a _ <"$t/schedstat" || continue
                        r=$((r + a))
                        v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")))
                        i=$((i + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")))
                done
                echo "${pp%%:*} $r $(awk '{print $14, $15}' /proc/"$p"/stat) $v $i ${#tasks[@]}"
        done
}

ev_events="sched:sched_waking,sched:sched_switch,exceptions:page_fault_user,ipi:ipi_send_cpu,ipi:ipi_send_cpumask"
ev_events="$ev_events,irq_vectors:call_function_entry,irq_vectors:call_function_single_entry,irq_vectors:reschedule_entry"
tlb=()
for reason in 0 1 2 3 4; do tlb+=(-e tlb:tlb_flush --filter "reason == $reason"); done

for pp in $procs; do
        role=${pp%%:*} p=${pp#*:}
        case $kind in
        stat)
                perf stat -x, -o "$out.stat.$role" -p "$p" \
                        -e task-clock,context-switches,cpu-migrations,page-faults,raw_syscalls:sys_enter,major-faults,minor-faults \
                        2>>"$out.perf.log" &
                tools+=($!) ;;
        count)
                perf stat -x, -o "$out.count.$role" -p "$p" -e 'syscalls:sys_enter_*' -e raw_syscalls:sys_enter \
                        2>>"$out.perf.log" &
                tools+=($!) ;;
        ev)
                perf stat -x, -o "$out.ev.$role" -p "$p" -e "$ev_events" "${tlb[@]}" 2>>"$out.perf.log" &
                tools+=($!) ;;
        trace)
                perf trace -s -p "$p" -o "$out.trace.$role" 2>>"$out.perf.log" &
                tools+=($!) ;;
        esac
done
if [ "$kind" = record ]; then
        perf record -a -g -e cpu-clock -F "$freq" -o "$out.perf.data" >/dev/null 2>>"$out.perf.log" &
        tools+=($!)
fi

sleep 1.5
snap >"$out.snap0"
t0=$(date +%s.%N)
echo go >"$ctl/go"
cat "$ctl/done" >"$out.rate" &
catpid=$!
wait -n "$catpid" "$main" || true
if kill -0 "$catpid" 2>/dev/null; then
        echo "run.sh: open_cycle failed during the measured cycles:" >&2
        cat "$out.out" >&2
        exit 1
fi
catpid=
t1=$(date +%s.%N)
snap >"$out.snap1"
for p in "${tools[@]}"; do kill -INT "$p"; done
for p in "${tools[@]}"; do wait "$p" || true; done
tools=()
echo go >"$ctl/exit"
rc=0
wait "$main" || rc=$?
main=
echo "$t0 $t1 rc=$rc" >>"$out.rate"
# let this run's broker leave (idle exit) before the next run starts
if [ -n "$bpid" ]; then
        for _ in $(seq 100); do
                kill -0 "$bpid" 2>/dev/null || break
                sleep 0.1
        done
fi
[ "$rc" -eq 0 ] || { echo "run.sh: open_cycle exited with status $rc" >&2; cat "$out.out" >&2; exit 1; }
head -1 "$out.rate"
