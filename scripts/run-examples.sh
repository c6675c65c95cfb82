#!/bin/sh
# The main job: NT named pipes at work, against a broker that starts by
# itself.  A private runtime directory keeps the demo apart from any broker
# you run yourself.
set -eu
build=${1:-build}
dir=$(mktemp -d /tmp/npipe-demo.XXXXXX)
srv=""
cleanup() {
        [ -n "$srv" ] && kill "$srv" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$dir"
}
trap cleanup EXIT INT TERM
export NPIPE_RUNTIME_DIR="$dir"
export NPIPE_BROKER="$PWD/$build/src/broker/npiped"
export NPIPE_BROKER_IDLE=2
npipe="$build/src/cli/npipe"

echo "== npipe: Windows NT named pipes on Linux =="
echo
echo "-- 1. A C program: message-mode echo server, three instances, three client processes"
"$build/examples/npipe-echo-demo"

echo
echo "-- 2. The same from a shell, with the npipe command"
echo "\$ npipe serve --instances 2 demo-shell &     # an echo server with two instances"
"$npipe" serve --instances 2 --count 2 demo-shell &
srv=$!
echo "\$ npipe wait demo-shell                       # WaitNamedPipe: until an instance listens"
"$npipe" wait --timeout 5000 demo-shell
echo "\$ npipe list"
"$npipe" list
echo "\$ npipe call demo-shell 'hello, pipe'         # CallNamedPipe: one request, one reply"
"$npipe" call demo-shell 'hello, pipe'
echo "\$ npipe call //./pipe/demo-shell 'again'       # the same pipe, in another of its name forms"
"$npipe" call //./pipe/demo-shell 'again'
wait "$srv"
srv=""
echo "\$ npipe list --json                           # the server served its two clients and left"
"$npipe" list --json
