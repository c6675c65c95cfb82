#!/bin/sh
# Install the Debian packages npipe's build and tests need, when missing.
#   scripts/deps.sh            build + tests
#   scripts/deps.sh --oracle   also wine and mingw-w64 (the Win32 oracle)
# As root it runs apt-get (after apt-get update); otherwise it prints the
# command to run.  Quiet and fast when everything is there.
set -eu
# samba and python3-impacket: the remote (SMB) tests run a private smbd
pkgs="gcc clang meson ninja-build pkg-config check scdoc samba python3-impacket xz-utils"
[ "${1:-}" = "--oracle" ] && pkgs="$pkgs wine wine64 gcc-mingw-w64-x86-64"

missing=""
for p in $pkgs; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
        echo "npipe needs these Debian packages:$missing" >&2
        echo "install them with: sudo apt-get install$missing" >&2
        exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
