#!/bin/sh
# The main job: NT named pipes at work, against a broker that starts by
# itself.  A private runtime directory keeps the demo apart from any broker
# you run yourself.
#
# Every command shown with "$ " is printed by the function that runs it,
# from the same arguments, quoted as a shell would need them: what you see
# is what ran (tests/docs/run-examples.sh checks it), and you can paste it.
set -eu
build=${1:-build}
build=$(cd "$build" && pwd)
dir=$(mktemp -d /tmp/npipe-demo.XXXXXX)
srv=""
cleanup() {
        [ -n "$srv" ] && kill "$srv" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$dir"
}
trap cleanup EXIT INT TERM
export NPIPE_RUNTIME_DIR="$dir"
export NPIPE_BROKER="$build/src/broker/npiped"
export NPIPE_BROKER_IDLE=2
npipe="$build/src/cli/npipe"

# quote ARG: ARG as one shell word (kept as it is when nothing in it is special)
quote() {
        case $1 in
        '' | *[!A-Za-z0-9_./:=,@%+-]*)
                printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
                ;;
        *) printf '%s' "$1" ;;
        esac
}

# show COMMENT SUFFIX ARG...: print "$ npipe ARG...SUFFIX   # COMMENT"
# (no comment when it is empty)
show() {
        comment=$1 suffix=$2
        shift 2
        line="\$ npipe"
        for a in "$@"; do
                line="$line $(quote "$a")"
        done
        line="$line$suffix"
        if [ -n "$comment" ]; then
                printf '%-48s # %s\n' "$line" "$comment"
        else
                printf '%s\n' "$line"
        fi
}

# np COMMENT ARG...: show the command, then run it
np() {
        comment=$1
        shift
        show "$comment" "" "$@"
        "$npipe" "$@"
}

# np_bg COMMENT ARG...: the same, in the background (its pid in $srv)
np_bg() {
        comment=$1
        shift
        show "$comment" " &" "$@"
        "$npipe" "$@" &
        srv=$!
}

echo "== npipe: Windows NT named pipes on Linux =="
echo
echo "-- 1. A C program: message-mode echo server, three instances, three client processes"
echo "\$ $build/examples/npipe-echo-demo"
"$build/examples/npipe-echo-demo"

echo
echo "-- 2. The same from a shell, with the npipe command (NPIPE_RUNTIME_DIR=$dir)"
np_bg "an echo server: two instances, two clients" serve --instances 2 --count 2 demo-shell
np "WaitNamedPipe: until an instance listens" wait --timeout 5000 demo-shell
np "" list
np "CallNamedPipe: one request, one reply" call demo-shell 'hello, pipe'
np "the same pipe, in another of its name forms" call //./pipe/demo-shell again
wait "$srv"
srv=""
np "the server served its two clients and left" list --json
