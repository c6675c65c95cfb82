#!/bin/sh
# ms_run.sh - the programs in the style of the Windows documentation's
# named-pipe samples (examples/win32/ms_*.c), end to end.
#
#   ms_run.sh native MT_SERVER OVL_SERVER CR_SERVER CLIENT TRANSACT CALL
#       every server (built against npipe's <windows.h>) with all three
#       kinds of client, each a separate process: one client alone, three
#       clients and a transaction at once, then two CallNamedPipe calls
#       (one whose answer does not fit).  Every answer, every request the
#       server logged, and every exit status are checked.
#   ms_run.sh windows SRCDIR WORKDIR
#       the same sources as Windows programs: built with
#       x86_64-w64-mingw32-gcc, ANSI and UNICODE (exit 77, skipped, when it
#       is not installed); then, when wine is installed, the overlapped
#       server with the three clients (ANSI) and the completion-routine
#       server with a client (UNICODE) under Wine, in a prefix of their own
#       in WORKDIR, all output to files.
set -u
mode=${1:-}
[ $# -gt 0 ] && shift
fail=0
bad() {
        echo "FAIL: $*"
        fail=1
}

# the reply line a client prints for MESSAGE: the answer comes in reads of
# 16 characters (ms_client.c, ms_transact.c), its terminating null included
reply_line() { # PREFIX MESSAGE
        n=$((11 + ${#2} + 1))
        echo "$1: reply \"Answer to: $2\" ($(((n + 15) / 16)) reads)"
}
# the answer of CallNamedPipe, cut at 32 characters (ms_call.c)
call_reply() {
        printf 'Call: reply "%.32s"\n' "Answer to: $1"
}
# expect FILE LINE: FILE has LINE as one of its lines
expect() {
        grep -qxF -- "$2" "$1" || bad "$(basename "$1"): no line '$2'"
}
wait_ready() { # FILE: until the server says it listens (20 s)
        i=0
        while [ $i -lt 400 ] && ! grep -q awaiting "$1" 2>/dev/null; do
                i=$((i + 1))
                sleep 0.05
        done
        grep -q awaiting "$1" 2>/dev/null
}

case $mode in
native)
        [ $# -eq 6 ] || { echo "usage: $0 native MT OVL CR CLIENT TRANSACT CALL" >&2; exit 2; }
        client=$4 transact=$5 call=$6
        NPIPE_RUNTIME_DIR=$(mktemp -d /tmp/npipe-ms-XXXXXX)
        export NPIPE_RUNTIME_DIR
        trap 'rm -rf "$NPIPE_RUNTIME_DIR"' EXIT
        d=$NPIPE_RUNTIME_DIR
        a1='Message one from client A'
        a2='Message two from client A, long enough to need several reads'
        b1='Hello from client B'
        c1='Hello from client C'
        t1='Transaction from client D, its answer in pieces'
        e1='Call from E'
        f1='Call from F, with an answer longer than the buffer'
        default='Default message from client.'
        for server in "$1" "$2" "$3"; do
                kind=$(basename "$server")
                echo "== $kind"
                name="\\\\.\\pipe\\npipe-ms-$kind"
                rm -f "$d"/*.out
                # seven connections: 1 + 4 at once + 2
                timeout 60 "$server" "$name" 7 >"$d/server.out" 2>&1 &
                spid=$!
                if ! wait_ready "$d/server.out"; then
                        bad "$kind did not start"
                        kill "$spid" 2>/dev/null
                        wait "$spid"
                        cat "$d/server.out"
                        continue
                fi
                timeout 60 "$client" "$name" >"$d/1.out" 2>&1 || bad "$kind: client 1 exited $?"
                timeout 60 "$client" "$name" "$a1" "$a2" >"$d/a.out" 2>&1 &
                pa=$!
                timeout 60 "$client" "$name" "$b1" >"$d/b.out" 2>&1 &
                pb=$!
                timeout 60 "$client" "$name" "$c1" >"$d/c.out" 2>&1 &
                pc=$!
                timeout 60 "$transact" "$name" "$t1" >"$d/d.out" 2>&1 &
                pd=$!
                for p in $pa $pb $pc $pd; do
                        wait "$p" || bad "$kind: a client exited $?"
                done
                timeout 60 "$call" "$name" "$e1" >"$d/e.out" 2>&1 || bad "$kind: call E exited $?"
                timeout 60 "$call" "$name" "$f1" >"$d/f.out" 2>&1 || bad "$kind: call F exited $?"
                wait "$spid" || bad "$kind exited $?"

                expect "$d/1.out" "$(reply_line Client "$default")"
                expect "$d/a.out" "$(reply_line Client "$a1")"
                expect "$d/a.out" "$(reply_line Client "$a2")"
                expect "$d/b.out" "$(reply_line Client "$b1")"
                expect "$d/c.out" "$(reply_line Client "$c1")"
                expect "$d/d.out" "$(reply_line Transact "$t1")"
                expect "$d/e.out" "$(call_reply "$e1")"
                grep -q 'lost' "$d/e.out" && bad "call E: its answer was cut"
                expect "$d/f.out" "$(call_reply "$f1")"
                expect "$d/f.out" "Call: extra data in the message was lost"
                for m in "$default" "$a1" "$a2" "$b1" "$c1" "$t1" "$e1" "$f1"; do
                        expect "$d/server.out" "Server: request \"$m\""
                done
                expect "$d/server.out" "Server: served 7 clients"
                [ "$(grep -c '^Server: request' "$d/server.out")" = 8 ] ||
                        bad "$kind: not 8 requests"
                cat "$d/server.out" "$d/1.out" "$d/a.out" "$d/b.out" "$d/c.out" "$d/d.out" \
                        "$d/e.out" "$d/f.out"
        done
        exit $fail
        ;;
windows) ;;
*)
        echo "usage: $0 native ... | windows SRCDIR WORKDIR" >&2
        exit 2
        ;;
esac

[ $# -eq 2 ] || { echo "usage: $0 windows SRCDIR WORKDIR" >&2; exit 2; }
src=$1 work=$2
samples='ms_client ms_mt_server ms_ovl_server ms_cr_server ms_transact ms_call'
if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
        echo "SKIPPED: x86_64-w64-mingw32-gcc not found (Debian: gcc-mingw-w64-x86-64): the sources were not built as Windows programs"
        exit 77
fi
mkdir -p "$work"
# The samples assume the Microsoft C library's printf, whose %s is a TCHAR
# string in _tprintf; mingw-w64's own C99 printf (__USE_MINGW_ANSI_STDIO,
# its default) takes %s as narrow in wprintf, so ask for msvcrt's.
for s in $samples; do
        for v in ansi unicode; do
                flags=""
                [ $v = unicode ] && flags="-municode -DUNICODE -D_UNICODE"
                # shellcheck disable=SC2086
                if x86_64-w64-mingw32-gcc -Wall -Wextra -D__USE_MINGW_ANSI_STDIO=0 $flags \
                        -o "$work/$s-$v.exe" "$src/$s.c" >"$work/$s-$v.log" 2>&1; then
                        echo "mingw-w64: $s.c ($v) built$([ -s "$work/$s-$v.log" ] && echo ', with warnings:')"
                else
                        echo "mingw-w64: $s.c ($v) does not build:"
                        fail=1
                fi
                cat "$work/$s-$v.log"
        done
done
[ $fail = 0 ] || exit 1

if ! command -v wine >/dev/null 2>&1; then
        echo "wine not found: the Windows builds were not run (Debian: wine, wine64)"
        exit 0
fi
WINEPREFIX=$work/wineprefix
WINEDEBUG=-all
WINEDLLOVERRIDES='mscoree,mshtml='
export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
# our prefix's wineserver only (it has started for this run)
trap 'wineserver -k >/dev/null 2>&1' EXIT
# Wine's helper processes outlive the programs: every output goes to a
# file, never into a pipe (the caller would wait for them).
if [ ! -f "$WINEPREFIX/system.reg" ]; then
        echo "wine: creating $WINEPREFIX (once)"
        if ! timeout 300 wineboot -i >"$work/wineboot.log" 2>&1 </dev/null; then
                echo "wine: wineboot failed ($work/wineboot.log): not run under Wine"
                exit 0
        fi
fi
wrun() { # OUT PROG ARGS...: PROG.exe under wine, its output (less CRs) in OUT
        out=$1 prog=$2
        shift 2
        timeout 60 wine "$work/$prog" "$@" >"$out.raw" 2>"$out.err" </dev/null
        r=$?
        tr -d '\r' <"$out.raw" >"$out"
        return $r
}
w=$work/wine
mkdir -p "$w"
rm -f "$w"/*

echo "== Wine: ms_ovl_server (ANSI) with ms_client, ms_transact, ms_call"
name='\\.\pipe\npipe-ms-wine-ovl'
a1='Hello from a Windows client'
t1='A transaction under Wine, in pieces'
f1='CallNamedPipe under Wine, answer cut'
wrun "$w/server.out" ms_ovl_server-ansi.exe "$name" 3 &
spid=$!
if ! wait_ready "$w/server.out.raw"; then
        sleep 10 # Wine's first start in a new prefix can be slow
        wait_ready "$w/server.out.raw" || bad "ms_ovl_server.exe did not start under Wine"
fi
wrun "$w/a.out" ms_client-ansi.exe "$name" "$a1" || bad "ms_client.exe exited $?"
wrun "$w/t.out" ms_transact-ansi.exe "$name" "$t1" || bad "ms_transact.exe exited $?"
wrun "$w/f.out" ms_call-ansi.exe "$name" "$f1" || bad "ms_call.exe exited $?"
wait "$spid" || bad "ms_ovl_server.exe exited $?"
expect "$w/a.out" "$(reply_line Client "$a1")"
expect "$w/t.out" "$(reply_line Transact "$t1")"
expect "$w/f.out" "$(call_reply "$f1")"
expect "$w/f.out" "Call: extra data in the message was lost"
for m in "$a1" "$t1" "$f1"; do
        expect "$w/server.out" "Server: request \"$m\""
done
expect "$w/server.out" "Server: served 3 clients"
cat "$w/server.out" "$w/a.out" "$w/t.out" "$w/f.out"

echo "== Wine: ms_cr_server (UNICODE) with ms_client (UNICODE)"
name='\\.\pipe\npipe-ms-wine-cr'
u1='Unicode request one'
u2='Unicode request two, a longer one'
wrun "$w/userver.out" ms_cr_server-unicode.exe "$name" 1 &
spid=$!
wait_ready "$w/userver.out.raw" || bad "ms_cr_server.exe did not start under Wine"
wrun "$w/u.out" ms_client-unicode.exe "$name" "$u1" "$u2" || bad "ms_client.exe (UNICODE) exited $?"
wait "$spid" || bad "ms_cr_server.exe exited $?"
expect "$w/u.out" "$(reply_line Client "$u1")"
expect "$w/u.out" "$(reply_line Client "$u2")"
expect "$w/userver.out" "Server: request \"$u1\""
expect "$w/userver.out" "Server: request \"$u2\""
expect "$w/userver.out" "Server: served 1 clients"
cat "$w/userver.out" "$w/u.out"
exit $fail
