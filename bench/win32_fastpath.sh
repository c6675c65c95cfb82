#!/bin/sh
# win32_fastpath.sh BUILD [SIZE...] - instructions per message of the
# synchronous Win32 path (WriteFile + ReadFile), of the overlapped one
# (the same calls with an OVERLAPPED, completing at once) and of the native
# one (npipe_write + npipe_read), counted by callgrind (docs/performance.md,
# "Win32 synchronous I/O: instructions per message").
#
# For each size (default 64 and 65536) and each API: two runs of
# npipe-bench-win32-fastpath, 10 and 30 rounds, with only the two calls
# collected (--toggle-collect); the difference of the two runs divided by
# the difference in messages is one message's cost, start-up cancelled.
# Instruction counts do not depend on the machine's load, unlike rates.
# Needs valgrind.  Each run has a runtime directory and broker of its own.
set -eu
build=${1:?usage: $0 BUILD [SIZE...]}
shift
[ $# -gt 0 ] || set -- 64 65536
# WIN32_FASTPATH_MODES: which APIs (default all three; ovl = overlapped
# handles, every call with an OVERLAPPED, none pending; pend = ovl with the
# read posted before the write, so it pends and GetOverlappedResult
# completes it, one message per round: not in the default set)
modes=${WIN32_FASTPATH_MODES:-native win32 ovl}
bin=$build/bench/npipe-bench-win32-fastpath
broker=$build/src/broker/npiped
command -v valgrind >/dev/null 2>&1 || { echo "$0: valgrind is not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "$0: no $bin (build the bench programs first)" >&2; exit 1; }
work=$(mktemp -d /tmp/npipe-win32-fastpath-XXXXXX)
trap 'rm -rf "$work"' EXIT

# run MODE SIZE ROUNDS -> "messages writer_instructions reader_instructions"
run() {
        d=$(mktemp -d "$work/run.XXXXXX")
        if [ "$1" = pend ]; then
                tg="--toggle-collect=npipe_win_WriteFile --toggle-collect=npipe_win_ReadFile"
                tg="$tg --toggle-collect=npipe_win_GetOverlappedResult"
        elif [ "$1" != native ]; then
                tg="--toggle-collect=npipe_win_WriteFile --toggle-collect=npipe_win_ReadFile"
        else
                tg="--toggle-collect=npipe_write --toggle-collect=npipe_read"
        fi
        # shellcheck disable=SC2086
        line=$(NPIPE_BROKER=$broker NPIPE_RUNTIME_DIR=$d/rt valgrind --tool=callgrind \
                --callgrind-out-file="$d/cg.%p" $tg "$bin" "$1" "$2" "$3" 2>"$d/log") || {
                echo "$0: $1 $2 $3 failed:" >&2
                cat "$d/log" >&2
                exit 1
        }
        m=$(echo "$line" | sed 's/.*messages=\([0-9]*\).*/\1/')
        w=$(echo "$line" | sed 's/.*writer_pid=\([0-9]*\).*/\1/')
        r=$(echo "$line" | sed 's/.*reader_pid=\([0-9]*\).*/\1/')
        echo "$m $(sed -n 's/^totals: *//p' "$d/cg.$w") $(sed -n 's/^totals: *//p' "$d/cg.$r")"
}

printf '%-7s %8s %8s %8s %8s\n' api size write read total
for size in "$@"; do
        for mode in $modes; do
                # shellcheck disable=SC2046
                set -- $(run $mode "$size" 10)
                m1=$1 w1=$2 r1=$3
                # shellcheck disable=SC2046
                set -- $(run $mode "$size" 30)
                dm=$(($1 - m1))
                printf '%-7s %8s %8d %8d %8d\n' $mode "$size" $((($2 - w1) / dm)) \
                        $((($3 - r1) / dm)) $((($2 - w1 + $3 - r1) / dm))
        done
done
