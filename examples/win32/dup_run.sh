#!/bin/sh
# dup_run.sh - the DuplicateHandle example (dup_child.c) end to end.
#
#   dup_run.sh native EXE
#       the program built against npipe's <windows.h>, with a private
#       runtime directory
#   dup_run.sh windows SRCDIR WORKDIR
#       the same source as a Windows program: built with
#       x86_64-w64-mingw32-gcc and run under Wine in a prefix of its own in
#       WORKDIR (exit 77, skipped, when either is missing), output to a file
#
# Both must print exactly the lines below: Wine is the reference.
set -u
want='server: connected
parent: client end duplicated into the child
server read:
first line from the child
second line from the child
server: then ERROR_BROKEN_PIPE
child exit code 0'
check() { # OUT-FILE STATUS WHAT
        got=$(tr -d '\r' <"$1")
        if [ "$2" != 0 ] || [ "$got" != "$want" ]; then
                echo "FAIL ($3): exit $2, output:"
                printf '%s\n' "$got"
                exit 1
        fi
        printf '%s\n' "$got"
        echo "$3: as expected"
}
case ${1:-} in
native)
        [ $# -eq 2 ] || { echo "usage: $0 native EXE" >&2; exit 2; }
        NPIPE_RUNTIME_DIR=$(mktemp -d /tmp/npipe-dup-XXXXXX)
        export NPIPE_RUNTIME_DIR
        trap 'rm -rf "$NPIPE_RUNTIME_DIR"' EXIT
        timeout 60 "$2" >"$NPIPE_RUNTIME_DIR/out" 2>&1 </dev/null
        check "$NPIPE_RUNTIME_DIR/out" $? native
        ;;
windows)
        [ $# -eq 3 ] || { echo "usage: $0 windows SRCDIR WORKDIR" >&2; exit 2; }
        src=$2 work=$3
        if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || ! command -v wine >/dev/null 2>&1; then
                echo "SKIPPED: x86_64-w64-mingw32-gcc or wine not found (Debian: gcc-mingw-w64-x86-64, wine)"
                exit 77
        fi
        mkdir -p "$work"
        x86_64-w64-mingw32-gcc -Wall -Wextra -D__USE_MINGW_ANSI_STDIO=0 -o "$work/dup_child.exe" \
                "$src/dup_child.c" || { echo "FAIL: mingw-w64 does not build dup_child.c"; exit 1; }
        WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
        export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
        trap 'wineserver -k >/dev/null 2>&1' EXIT
        if [ ! -f "$WINEPREFIX/system.reg" ] &&
                ! timeout 300 wineboot -i >"$work/wineboot.log" 2>&1 </dev/null; then
                echo "SKIPPED: wineboot failed ($work/wineboot.log)"
                exit 77
        fi
        # Wine's helper processes outlive the program: to a file, never a pipe
        timeout 120 wine "$work/dup_child.exe" >"$work/out" 2>"$work/err" </dev/null
        check "$work/out" $? wine
        ;;
*)
        echo "usage: $0 native EXE | windows SRCDIR WORKDIR" >&2
        exit 2
        ;;
esac
