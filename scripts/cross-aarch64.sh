#!/bin/bash
# Cross-build npipe for aarch64 and run its unit and single-machine tests
# there, under qemu-user (issue 12).  `make check-aarch64`; CI runs it.
#
#   scripts/cross-aarch64.sh [BUILD_DIR]      (default: build-aarch64)
#
# Toolchain: Debian's gcc-aarch64-linux-gnu and libc6-dev-arm64-cross; the
# arm64 Check library through Debian multiarch (check:arm64, which also
# brings libc6:arm64, the loader and libc qemu runs the tests with);
# qemu-user >= 8 (bookworm's 7.2 aborts - "cpu == current_cpu",
# qemu_plugin_vcpu_init_hook - when a forked child of a threaded program
# starts a thread, which most semantics tests do: on bookworm it comes from
# bookworm-backports).  As root the script installs what is missing;
# otherwise it prints the commands.  The cross file is
# cross/aarch64-linux-gnu.ini; the exe wrapper scripts/qemu-aarch64-run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${1:-build-aarch64}
export DEBIAN_FRONTEND=noninteractive

# ---- packages ---------------------------------------------------------------
installed() {
        case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" in
        *"install ok installed"*) return 0 ;;
        esac
        return 1
}
qemu_major() {
        command -v qemu-aarch64 >/dev/null || {
                echo 0
                return
        }
        qemu-aarch64 --version | sed -n 's/^qemu-aarch64 version \([0-9]*\).*/\1/p'
}
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross check:arm64"
missing=""
for p in $pkgs; do installed "$p" || missing="$missing $p"; done
old_qemu=""
[ "$(qemu_major)" -ge 8 ] || old_qemu=1
if [ -n "$missing$old_qemu" ]; then
        qemu_cmd="apt-get install -y qemu-user"
        bp=/etc/apt/sources.list.d/npipe-bookworm-backports.sources
        [ "$codename" = bookworm ] && qemu_cmd="apt-get install -y -t bookworm-backports qemu-user"
        if [ "$(id -u)" != 0 ]; then
                echo "check-aarch64 needs:$missing${old_qemu:+ qemu-user>=8}; as root:" >&2
                echo "  dpkg --add-architecture arm64" >&2
                [ "$codename" = bookworm ] && echo "  (and bookworm-backports in the apt sources, see $0)" >&2
                echo "  apt-get update && apt-get install -y$missing && $qemu_cmd" >&2
                exit 1
        fi
        dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
        if [ -n "$old_qemu" ] && [ "$codename" = bookworm ] && [ ! -f "$bp" ]; then
                # pinned low by default: only what -t names comes from here
                cat >"$bp" <<'EOF'
# Added by npipe's scripts/cross-aarch64.sh: qemu-user >= 8 for the aarch64
# tests (7.2 aborts when a forked child of a threaded program makes a thread).
# Backports are pinned low by default: only what is asked for with
# -t bookworm-backports comes from here.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        fi
        echo "check-aarch64: installing:$missing${old_qemu:+ qemu-user}" >&2
        apt-get update -qq
        # shellcheck disable=SC2086
        [ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing >&2
        # shellcheck disable=SC2086
        [ -z "$old_qemu" ] || $qemu_cmd -qq --no-install-recommends >&2 ||
                echo "check-aarch64: could not install qemu-user >= 8" >&2
fi
QEMU_MAJOR=$(qemu_major)
[ "$QEMU_MAJOR" -gt 0 ] || {
        echo "check-aarch64: no qemu-aarch64" >&2
        exit 1
}

# ---- build ------------------------------------------------------------------------
# A second cross file names the exe wrapper by its absolute path (Meson
# 1.0's machine files have no @DIRNAME@).
wrapper="[binaries]
exe_wrapper = ['$ROOT/scripts/qemu-aarch64-run.sh']"
if [ "$(cat "$B/qemu-wrapper.ini" 2>/dev/null)" != "$wrapper" ]; then
        # new, or the wrapper's path changed (another clone): start afresh
        # (meson setup --wipe would remove the cross file it was given)
        [ -d "$B/meson-private" ] && rm -rf "$B"
        mkdir -p "$B"
        echo "$wrapper" >"$B/qemu-wrapper.ini"
fi
[ -f "$B/build.ninja" ] ||
        meson setup "$B" --cross-file cross/aarch64-linux-gnu.ini --cross-file "$B/qemu-wrapper.ini"
ninja -C "$B"

# ---- glibc: the minimum docs/design.md states -------------------------------------
# The newest GLIBC_ symbol version the library, the broker and the command
# need; docs/design.md ("Portability") says 2.34.
GLIBC_MIN=2.34
need=$(for f in "$B"/libnpipe.so "$B"/src/broker/npiped "$B"/src/cli/npipe; do
        aarch64-linux-gnu-objdump -T "$f"
done | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
echo "check-aarch64: newest glibc symbol version needed: $need (documented minimum $GLIBC_MIN)"
if [ "$(printf '%s\n%s\n' "$need" "$GLIBC_MIN" | sort -V | tail -1)" != "$GLIBC_MIN" ]; then
        echo "check-aarch64: the binaries need glibc $need, newer than the documented $GLIBC_MIN:" >&2
        echo "  update docs/design.md (Portability) and GLIBC_MIN here" >&2
        exit 1
fi

# ---- tests ------------------------------------------------------------------------
# Suites: unit, ring, wake (no broker), semantics and win32 (one machine,
# each test with its own broker).  Not here: coverage (a Python script, no
# aarch64 code), broker, cli, hostile, chaos, access, remote (the brief of
# issue 12 is the unit and single-machine semantic tests).
suites="unit ring wake semantics win32"
# Tests of those suites that cannot run under qemu-user, each with why:
declare -A skip=(
        # run.sh starts the example programs itself: without binfmt_misc
        # (none in a container) the host cannot exec an aarch64 program
        [example-ovl_echo_server]="run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-thread_server]="run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-iocp_server]="run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-anon_pipe]="anon_run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-anon_pipe-unicode]="anon_run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-ms_samples]="ms_run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-ms_samples-unicode]="ms_run.sh execs aarch64 programs directly: no binfmt_misc here"
        [example-ms_samples-windows]="builds with mingw and runs Wine: nothing of aarch64 to test"
        # the program starts a copy of itself with CreateProcess (below)
        [example-dup_child]="dup_run.sh execs the aarch64 program, which execs itself: no binfmt_misc here"
        [example-dup_child-windows]="builds with mingw and runs Wine: nothing of aarch64 to test"
        # CreateProcess execs an aarch64 child from inside qemu-user, which
        # follows an exec only through binfmt_misc
        [test_win32_process]="CreateProcess execs an aarch64 child: no binfmt_misc here"
        # a Python driver that runs a private smbd against the server: the
        # remote (SMB) path, not a single-machine test, and it execs the
        # aarch64 server itself
        [test_win32_remote]="remote (SMB) test: private smbd, and it execs the aarch64 server itself"
)
if [ "$QEMU_MAJOR" -lt 8 ]; then
        # qemu-user 7.2 aborts in a forked child of a threaded process that
        # starts a thread: the tests that fork clients cannot run.
        echo "check-aarch64: SKIP suites semantics, win32: qemu-user $QEMU_MAJOR < 8 aborts in forked children of threaded programs" >&2
        suites="unit ring wake"
fi
tests=()
while read -r tsuites name; do
        for s in $suites; do
                case "+$tsuites+" in *"+$s+"*) ;; *) continue ;; esac
                if [ -n "${skip[$name]:-}" ]; then
                        echo "check-aarch64: SKIP $name: ${skip[$name]}"
                else
                        tests+=("$name")
                fi
                break
        done
done < <(meson test -C "$B" --no-rebuild --list 2>/dev/null | sed -n 's|^npipe:\([^ ]*\) / \(.*\)$|\1 \2|p')
[ "${#tests[@]}" -gt 0 ] || {
        echo "check-aarch64: no tests found in $B" >&2
        exit 1
}
echo "check-aarch64: ${#tests[@]} tests under $(qemu-aarch64 --version | head -1)"
# qemu-user is several times slower than the machine: every test's own
# timeout (tests/meson.build) times 4, and so is each Check test
# function's (CK_TIMEOUT_MULTIPLIER; test_broker_stop's 400 threads took
# longer than its 90 s on a loaded machine).
start=$(date +%s)
rc=0
CK_TIMEOUT_MULTIPLIER=4 meson test -C "$B" --no-rebuild --print-errorlogs --num-processes 2 \
        --timeout-multiplier 4 "${tests[@]}" || rc=$?
echo "check-aarch64: tests took $(($(date +%s) - start)) s"
exit $rc
