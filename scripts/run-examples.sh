#!/bin/sh
# The main job: run the examples against a broker that starts by itself.
# A private runtime directory keeps the demo apart from any broker you run.
set -eu
build=${1:-build}
dir=$(mktemp -d /tmp/npipe-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export NPIPE_RUNTIME_DIR="$dir"
export NPIPE_BROKER="$PWD/$build/src/broker/npiped"
export NPIPE_BROKER_IDLE=2
echo "== npipe: Windows NT named pipes on Linux =="
echo
"$build/examples/npipe-echo-demo"
