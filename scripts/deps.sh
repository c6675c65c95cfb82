#!/bin/sh
# Install the Debian packages npipe needs, when missing: `make deps` runs
# this, and nothing else in the build does.
#   scripts/deps.sh [GROUP]...
#     build     compiler, dpkg-dev, meson, ninja, pkg-config, Check, scdoc, the
#               GSSAPI and libcrypto headers: `make`, `make run`
#     check     + clang (ASan, TSan, fuzzers), Samba and impacket (the remote
#               tests' private smbd), gss-ntlmssp, xz-utils: the test targets
#     oracle    + wine and mingw-w64 (the Win32 oracle, `make bench-wine`)
#     package   + debhelper, lintian, fakeroot: `make deb`
#   No group: build and check.  --oracle (old spelling): build, check, oracle.
# As root it runs apt-get (after apt-get update); otherwise it prints the
# command to run.  Quiet and fast when everything is there.
set -eu
# dpkg-dev: meson asks dpkg-architecture for the multiarch libdir
# (lib/x86_64-linux-gnu); without it, it would pick lib64 on amd64, where
# neither ld.so nor pkg-config look
# libkrb5-dev, libssl-dev: the libnpipe-smb module (remote pipes over SMB:
# GSSAPI and libcrypto); libnpipe itself needs neither
build="gcc dpkg-dev meson ninja-build pkg-config check scdoc libkrb5-dev libssl-dev"
# gss-ntlmssp: NTLM as a GSSAPI mechanism, for the remote client's tests
check="clang samba python3-impacket xz-utils gss-ntlmssp"
oracle="wine wine64 gcc-mingw-w64-x86-64"
package="debhelper fakeroot lintian"

[ $# = 0 ] && set -- build check
pkgs=""
for g in "$@"; do
        case "$g" in
        build) pkgs="$pkgs $build" ;;
        check) pkgs="$pkgs $build $check" ;;
        oracle | --oracle) pkgs="$pkgs $build $check $oracle" ;;
        package) pkgs="$pkgs $build $package" ;;
        *)
                echo "deps.sh: unknown group '$g' (build, check, oracle, package)" >&2
                exit 2
                ;;
        esac
done

missing=""
for p in $pkgs; do
        case " $missing " in *" $p "*) continue ;; esac
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
