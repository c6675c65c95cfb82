#!/bin/sh
# The differential conformance suite (../shared/conformance) natively:
# install npipe into a private prefix, build every visible program against
# <npipe/windows.h> from there, run each (run-native.sh), fail on any check.
# Skipped, with a message, where the suite is not beside the project.
set -eu
conf=${CONFORMANCE_DIR:-../shared/conformance}
if [ ! -x "$conf/run-native.sh" ]; then
        echo "conformance: $conf/run-native.sh not found: skipped" >&2
        exit 0
fi
conf=$(cd "$conf" && pwd)
build=build-conf
prefix=$PWD/$build/prefix
[ -f $build/build.ninja ] || meson setup $build --prefix="$prefix" --libdir=lib >/dev/null
ninja -C $build >/dev/null
meson install -C $build --no-rebuild >/dev/null
dir=$(mktemp -d /tmp/npipe-conf.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export NPIPE_RUNTIME_DIR="$dir/run" NPIPE_BROKER="$prefix/bin/npiped" NPIPE_BROKER_IDLE=2
export OUT="$dir/out"
# the suite writes into its own folder's parent only through OUT; it is
# read-only in CI, so run it from a copy
cp -r "$conf" "$dir/conformance"
"$dir/conformance/run-native.sh" "$prefix" visible
