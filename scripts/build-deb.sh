#!/bin/sh
# build-deb.sh OUT: the Debian packages (libnpipe0, libnpipe-dev, npipe,
# libnpipe-smb0) with dpkg-buildpackage -us -uc -b, in a copy of the tree
# at OUT/npipe-VERSION (no .git, no build directories), then lintian on the
# .changes.  The .debs,
# the .changes and the .buildinfo are left in OUT.  Needs `make deps deb`
# (scripts/deps.sh package) and the build dependencies of debian/control.
set -eu
out=${1:?usage: $0 OUT}
src=$(cd "$(dirname "$0")/.." && pwd)
ver=$(make -s --no-print-directory -C "$src" version)
[ -n "$ver" ] || { echo "build-deb: no version in meson.build" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
tree=$out/npipe-$ver
rm -rf "$tree"
mkdir -p "$tree"
# the copy: what git would check out plus local changes, without build output
(cd "$src" && tar --exclude=./.git --exclude='./build' --exclude='./build-*' \
        --exclude='./debian/.debhelper' --exclude='./obj-*' -cf - .) | tar -C "$tree" -xf -
rm -f "$out"/npipe_"$ver"-*.changes "$out"/*npipe*_"$ver"-*.deb "$out"/npipe_"$ver"-*.buildinfo
(cd "$tree" && dpkg-checkbuilddeps && dpkg-buildpackage -us -uc -b)
changes=$(ls "$out"/npipe_"$ver"-*_*.changes)
echo "== lintian $changes"
# errors fail the build; warnings and the rest are printed
lintian --fail-on error --info "$changes"
ls -l "$out"/*.deb
