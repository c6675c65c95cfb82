#!/bin/sh
# The exe_wrapper of cross/aarch64-linux-gnu.ini: runs one aarch64 program
# under qemu-user (scripts/cross-aarch64.sh, `make check-aarch64`).
#
#   scripts/qemu-aarch64-run.sh PROGRAM [ARG...]
#
# -L /: the arm64 loader and libc of Debian multiarch (libc6:arm64, which
# check:arm64 pulls in).  Not libc6-arm64-cross's /usr/aarch64-linux-gnu:
# its ld.so (2.36-8cross1) would load the multiarch libc.so.6 (newer, found
# through /etc/ld.so.cache), and with that mismatch every fork() child
# loops forever in glibc's __reclaim_stacks.
#
# Without binfmt_misc (a container has none) an emulated program cannot
# exec another aarch64 program: the kernel refuses it.  The tests start the
# broker named by $NPIPE_BROKER (the library spawns it, some tests exec it),
# so when that is an aarch64 program it is replaced here by a shim script
# next to it, PROGRAM.qemu, which runs it under qemu-user as well.  The
# shim execs qemu, so the broker keeps the pid its starter knows.
set -eu
QEMU=${NPIPE_QEMU:-qemu-aarch64}

is_aarch64_elf() {
        [ -f "$1" ] || return 1
        [ "$(od -An -tx1 -N4 "$1" | tr -d ' \n')" = 7f454c46 ] || return 1
        [ "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' \n')" = b700 ]
}

if [ -n "${NPIPE_BROKER:-}" ] && is_aarch64_elf "$NPIPE_BROKER"; then
        shim="$NPIPE_BROKER.qemu"
        body=$(printf '#!/bin/sh\nexec %s -L / "%s" "$@"' "$QEMU" "$NPIPE_BROKER")
        if [ ! -x "$shim" ] || [ "$(cat "$shim")" != "$body" ]; then
                tmp=$(mktemp "$shim.XXXXXX")
                printf '%s\n' "$body" >"$tmp"
                chmod 755 "$tmp"
                mv -f "$tmp" "$shim" # atomic: tests run in parallel
        fi
        NPIPE_BROKER=$shim
        export NPIPE_BROKER
fi
exec "$QEMU" -L / "$@"
