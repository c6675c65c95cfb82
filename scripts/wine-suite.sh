#!/usr/bin/env bash
# make check-wine-suite: Wine 8.0's own named-pipe conformance test,
# dlls/kernel32/tests/pipe.c, built natively against <npipe/windows.h> and
# libnpipe, each test function in its own process, then the whole file in
# one process (tests/wine/README.md).
#
#   scripts/wine-suite.sh BUILD_DIR [--asan] [--suite kernel32|ntdll]
#                         [--only UNIT] [--timeout S] [--file-timeout S]
#                         [--out DIR] [--meson]
#
# BUILD_DIR     the meson build whose libnpipe.a and npiped are used (set up
#               and built here when it has no build.ninja yet; with --asan as
#               clang -Db_sanitize=address,undefined -Db_lundef=false)
# --asan        build the test with clang -fsanitize=address,undefined;
#               BUILD_DIR must be a sanitized build (e.g. build-asan-wine)
# --suite       kernel32 (default): dlls/kernel32/tests/pipe.c;
#               ntdll: dlls/ntdll/tests/pipe.c (NT native API; see README)
# --only UNIT   run that unit alone (a call of `PROG --list`, or a function
#               name), no whole-file run
# --timeout S   per unit (default 60); --file-timeout S: the whole file (600)
# --out DIR     results (default BUILD_DIR/wine-suite, ntdll: .../ntdll)
# --meson       exit 77 instead of 0 when the source cannot be fetched
#               (also when MESON_TEST_ITERATION is set)
#
# Wine's source is fetched once with Debian's own client, `apt-get source
# --download-only wine=8.0~repack-4` (Debian 12's source package), through
# a private deb-src list derived from the machine's apt sources; the orig
# tarball's pinned sha256 is checked and it is kept in BUILD_DIR/wine-src/
# (or $NPIPE_WINE_CACHE). $NPIPE_WINE_TARBALL=FILE uses a local copy of
# wine_8.0~repack.orig.tar.xz instead (its sha256 checked too).
# Without network or apt: "SKIPPED: cannot fetch Wine 8.0 source: ..." and
# exit 0.
# Exit 1 when a check fails, a unit crashes or hangs, or the test does not
# build.
set -euo pipefail

WINE_DEB_PKG='wine'
WINE_DEB_VERSION='8.0~repack-4' # Debian 12's wine
WINE_TAR='wine_8.0~repack.orig.tar.xz'
WINE_SHA256='537c6889647a528ee9092b109e65b0fde288ba55d535044907cf168ca6f6e745'
WINE_TOP='wine-8.0'

me=wine-suite.sh
usage() {
        sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
        exit 2
}
die() {
        echo "$me: $*" >&2
        exit 1
}

[ $# -ge 1 ] || usage
case $1 in -h | --help) usage ;; esac
build=$1
shift
asan=0 suite=kernel32 only="" unit_timeout=60 file_timeout=600 out="" meson=0
[ -n "${MESON_TEST_ITERATION:-}" ] && meson=1
while [ $# -gt 0 ]; do
        case $1 in
        --asan) asan=1 ;;
        --suite) suite=${2:?}; shift ;;
        --only) only=${2:?}; shift ;;
        --timeout) unit_timeout=${2:?}; shift ;;
        --file-timeout) file_timeout=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        --meson) meson=1 ;;
        *) usage ;;
        esac
        shift
done
case $suite in
kernel32 | ntdll) ;;
*) die "--suite is kernel32 or ntdll" ;;
esac

src=$(cd "$(dirname "$0")/.." && pwd)
edits=$src/tests/wine/$suite-pipe.edits
[ -f "$edits" ] || die "$edits missing"

skipped() {
        echo "SKIPPED: cannot fetch Wine 8.0 source: $*"
        if [ "$meson" = 1 ]; then exit 77; fi
        exit 0
}

# ---- the library -------------------------------------------------------------------------------

if [ ! -f "$build/build.ninja" ]; then
        echo "$me: setting up $build"
        if [ "$asan" = 1 ]; then
                CC=clang meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
                        -Dbuildtype=debug >/dev/null
        else
                meson setup "$build" >/dev/null
        fi
fi
build=$(cd "$build" && pwd)
if [ "$asan" = 1 ] && ! grep -q 'fsanitize=address' "$build/build.ninja"; then
        die "--asan needs a sanitized build dir ($build is not; try build-asan-wine)"
fi
if [ "$asan" = 0 ] && grep -q 'fsanitize=address' "$build/build.ninja"; then
        die "$build is a sanitized build: add --asan"
fi
ninja -C "$build" libnpipe.a src/broker/npiped >/dev/null ||
        die "building libnpipe.a and npiped in $build failed (ninja -C $build)"
lib=$build/libnpipe.a
broker=$build/src/broker/npiped
[ -f "$lib" ] && [ -x "$broker" ] || die "$lib or $broker missing"

if [ -z "$out" ]; then
        out=$build/wine-suite
        [ "$suite" = kernel32 ] || out=$out/$suite
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# ---- Wine's source: fetched, verified, cached ---------------------------------------------------

# the temporary dirs, removed on exit
apt_tmp="" rt=""
trap 'rm -rf ${apt_tmp:+"$apt_tmp"} ${rt:+"$rt"}' EXIT

cache=${NPIPE_WINE_CACHE:-$build/wine-src}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
tarball=$cache/$WINE_TAR

sha_ok() {
        [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$WINE_SHA256" ]
}

if [ ! -f "$tarball" ] || ! sha_ok "$tarball"; then
        rm -f "$tarball"
        # another build dir of this tree may have it already (not when
        # NPIPE_WINE_CACHE names the cache)
        if [ -z "${NPIPE_WINE_CACHE:-}" ]; then
                for f in "$src"/build*/wine-src/"$WINE_TAR"; do
                        if [ -f "$f" ] && sha_ok "$f"; then
                                cp "$f" "$tarball.part" && mv "$tarball.part" "$tarball"
                                break
                        fi
                done
        fi
fi

# apt's messages with the addresses of the machine's package sources masked
# (a reason printed here may be quoted in a note)
masked() {
        sed -E -e "s#[a-z][a-z0-9+.-]*://[^ ']*#<apt source>#g" \
                -e "s#'[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+'#<host>#g"
}

# the first line of $1 matching the ERE $2, without apt's "E: Failed to
# fetch ADDRESS" prefix, masked
first_msg() {
        grep -m1 -E "$2" "$1" | sed -E -e 's/^[EW]: //' -e 's/^Failed to fetch [^ ]+ +//' | masked || true
}

# Debian's source package, downloaded by apt-get itself into $apt_tmp/dl:
# apt checks the signature of the Release file and the checksums of the
# Sources index and of every file it downloads. The deb-src list is made from
# the machine's own apt sources (each deb source also as deb-src), and the
# lists and cache are private, so the machine's apt state is not touched and
# the script names no host. Moves the orig tarball to $part.
fetch_with_apt() {
        local SL="" SP="" f urc=0 src_rc=0 why
        if ! command -v apt-get >/dev/null || ! command -v apt-config >/dev/null; then
                skipped "apt-get is not installed (Debian 12's apt sources are needed; NPIPE_WINE_TARBALL can name a local $WINE_TAR)"
        fi
        eval "$(apt-config shell SL Dir::Etc::SourceList/f SP Dir::Etc::SourceParts/d)"
        apt_tmp=$(mktemp -d "${TMPDIR:-/tmp}/npipe-wine-apt.XXXXXX")
        chmod 755 "$apt_tmp" # apt's download sandbox user must reach it
        mkdir -p "$apt_tmp/sources.list.d" "$apt_tmp/lists/partial" "$apt_tmp/cache/archives/partial" \
                "$apt_tmp/dl"
        if [ -n "$SL" ] && [ -f "$SL" ]; then
                sed -E 's/^([[:space:]]*)deb([[:space:]])/\1deb-src\2/' "$SL" >"$apt_tmp/sources.list"
        fi
        if [ -n "$SP" ]; then
                for f in "${SP%/}"/*.list "${SP%/}"/*.sources; do
                        [ -f "$f" ] || continue
                        case $f in
                        *.list) sed -E 's/^([[:space:]]*)deb([[:space:]])/\1deb-src\2/' "$f" ;;
                        *) sed -E 's/^([Tt][Yy][Pp][Ee][Ss]:).*$/\1 deb-src/' "$f" ;;
                        esac >"$apt_tmp/sources.list.d/${f##*/}"
                done
        fi
        grep -qsiE '^[[:space:]]*(deb-src[[:space:]]|types:)' "$apt_tmp/sources.list" \
                "$apt_tmp/sources.list.d/"* ||
                skipped "the machine's apt configuration has no package sources"
        # apt downloads as its sandbox user when it is root
        if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
                chown _apt "$apt_tmp/dl"
        fi
        local opts=(-q -o "Dir::Etc::SourceList=$apt_tmp/sources.list"
                -o "Dir::Etc::SourceParts=$apt_tmp/sources.list.d"
                -o "Dir::State::Lists=$apt_tmp/lists" -o "Dir::Cache=$apt_tmp/cache")
        local log=$out/fetch.log
        echo "$me: fetching Debian 12's source package $WINE_DEB_PKG $WINE_DEB_VERSION (apt-get source --download-only)"
        {
                echo "== apt-get update"
                LC_ALL=C timeout 900 apt-get "${opts[@]}" update </dev/null 2>&1 || urc=$?
        } >"$log"
        [ "$urc" != 124 ] || skipped "apt-get update timed out (apt-get's output: $log)"
        {
                echo "== apt-get source --download-only $WINE_DEB_PKG=$WINE_DEB_VERSION"
                (cd "$apt_tmp/dl" && LC_ALL=C timeout 900 apt-get "${opts[@]}" source --download-only \
                        "$WINE_DEB_PKG=$WINE_DEB_VERSION" </dev/null 2>&1) || src_rc=$?
        } >>"$log"
        [ "$src_rc" != 124 ] || skipped "apt-get source timed out (apt-get's output: $log)"
        if [ "$src_rc" = 0 ] && [ -f "$apt_tmp/dl/$WINE_TAR" ]; then
                mv "$apt_tmp/dl/$WINE_TAR" "$part"
                rm -rf "$apt_tmp"
                apt_tmp=""
                return
        fi
        [ "$src_rc" != 0 ] || die "cannot fetch Wine 8.0 source: apt-get source $WINE_DEB_PKG=$WINE_DEB_VERSION gave no $WINE_TAR ($log)"
        # a file or an index that fails apt's checks: refused, not skipped
        why=$(first_msg "$log" '^[EW]: .*(GPG error|is not signed|Hash Sum mismatch|[Ss]ignature|File has unexpected size)')
        [ -z "$why" ] || die "cannot fetch Wine 8.0 source: $why (not used; apt-get's output: $log)"
        why=$(first_msg "$log" '^[EW]: .*(Temporary failure resolving|Could not resolve|Could not connect|Unable to connect|Connection timed out|Connection failed|Connection refused|Network is unreachable|No route to host)')
        [ -z "$why" ] || skipped "$why (apt-get's output: $log)"
        why=$(first_msg "$log" '^E: ')
        if [ "$(id -u)" != 0 ] && grep -qE '^E: .*(Permission denied|are you root|Could not open lock)' "$log"; then
                skipped "apt-get needs root here: $why"
        fi
        # apt's sources have the package, but not the pinned version: not a
        # network problem, and a skip would hide the suite for good
        grep -q '^E: Can not find version' "$log" &&
                die "cannot fetch Wine 8.0 source: $why: the pinned version has left the machine's apt sources (NPIPE_WINE_TARBALL can name a local $WINE_TAR; its sha256 stays checked)"
        if grep -qE "^E: (Unable to find a source package|You must put some 'deb-src')" "$log"; then
                why="the machine's apt sources have no source package $WINE_DEB_PKG (Debian 12's are needed; NPIPE_WINE_TARBALL can name a local $WINE_TAR)"
                [ "$urc" = 0 ] || why="$why; apt-get update: $(first_msg "$log" '^E: ')"
                skipped "$why"
        fi
        die "cannot fetch Wine 8.0 source: apt-get source $WINE_DEB_PKG=$WINE_DEB_VERSION failed: $why ($log)"
}

if [ ! -f "$tarball" ]; then
        part=$tarball.part
        rm -f "$part"
        if [ -n "${NPIPE_WINE_TARBALL:-}" ]; then
                from=$NPIPE_WINE_TARBALL
                [ -f "$from" ] || die "NPIPE_WINE_TARBALL=$from: no such file"
                echo "$me: using $from"
                cp "$from" "$part"
        else
                from="apt-get source $WINE_DEB_PKG=$WINE_DEB_VERSION"
                fetch_with_apt
        fi
        got=$(sha256sum "$part" | cut -d' ' -f1)
        if [ "$got" != "$WINE_SHA256" ]; then
                rm -f "$part"
                die "$from: $WINE_TAR has sha256 $got, expected $WINE_SHA256 (not the pinned file: not used)"
        fi
        mv "$part" "$tarball"
fi

# only the two test files; again when the tarball is newer than them
wsrc=$cache/$WINE_TOP
k32=$wsrc/dlls/kernel32/tests/pipe.c
ntd=$wsrc/dlls/ntdll/tests/pipe.c
if [ ! -f "$k32" ] || [ ! -f "$ntd" ] || [ "$tarball" -nt "$k32" ]; then
        tar -xJf "$tarball" -C "$cache" "$WINE_TOP/dlls/kernel32/tests/pipe.c" \
                "$WINE_TOP/dlls/ntdll/tests/pipe.c" || die "cannot extract the test files from $tarball"
        touch "$k32" "$ntd"
fi
orig=$k32
[ "$suite" = kernel32 ] || orig=$ntd
wine_path=dlls/$suite/tests/pipe.c

# ---- the edited test --------------------------------------------------------------------------

mkdir -p "$out/src"
sed -f "$edits" "$orig" >"$out/src/pipe.edited.c"
# Each test call of the START_TEST body becomes a unit (wine/test.h):
#   "    test_X(args);"         -> "    if (winetest_unit("test_X(args)")) test_X(args);"
#   "    if (test_X())"         -> "    if (winetest_unit("test_X()") && test_X())"
# on the same line, so the line numbers stay Wine's.
sed -e '/^START_TEST(/,/^}/{
s/^    if (\([a-z_][A-Za-z0-9_]*([^;"]*)\))$/    if (winetest_unit("\1") \&\& \1)/
t
s/^    \([a-z_][A-Za-z0-9_]*([^;"]*)\);$/    if (winetest_unit("\1")) \1;/
}' "$out/src/pipe.edited.c" >"$out/src/pipe.c"
rm -f "$out/src/pipe.edited.c"
grep -q 'winetest_unit("' "$out/src/pipe.c" || die "no test calls found in START_TEST of $orig"

# ---- build -------------------------------------------------------------------------------------

prog=$out/$suite-pipe
if [ "$asan" = 1 ]; then
        cc=clang
        san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
else
        cc=${CC:-cc}
        san=()
fi
cflags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -pthread
        -I "$src/include" -I "$src/tests/wine" -I "$src/tests/wine/include"
        -Wall -Wno-format -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function
        -Wno-unknown-warning-option
        -Werror=implicit-function-declaration -Werror=implicit-int -Werror=int-conversion
        -Werror=incompatible-pointer-types)
ldflags=(-rdynamic -Wl,--whole-archive "$lib" -Wl,--no-whole-archive -pthread -ldl)
echo "$me: building $wine_path (Wine 8.0, edited by tests/wine/$suite-pipe.edits) with $cc"
if ! LC_ALL=C "$cc" "${cflags[@]}" "${san[@]}" -o "$prog" "$out/src/pipe.c" "${ldflags[@]}" \
        >"$out/build.log" 2>&1; then
        echo "$me: $wine_path does not build against npipe/windows.h ($out/build.log):"
        awk '/error/ && n++ < 40' "$out/build.log" | sed "s|^$out/src/||"
        # the names the compiler did not know, less those the test defines
        # itself (unknown only in the wake of an earlier error)
        names=$(grep -oE "(function|type name|identifier) '[A-Za-z_0-9]+'|'[A-Za-z_0-9]+' undeclared" \
                "$out/build.log" | grep -oE "'[A-Za-z_0-9]+'" | tr -d "'" | sort -u |
                while read -r n; do
                        grep -qE "^static[^=;]*[ *(]$n\)? *\(|^#define $n[ (]" "$out/src/pipe.c" ||
                                echo "$n"
                done | grep -vE '^(func_pipe|Data)$' | tr '\n' ' ')
        echo "unknown names (functions, types, constants): $names" | fold -s -w 100
        {
                echo "# Wine 8.0 $wine_path on npipe: does not build"
                echo
                echo "Errors: $(grep -c 'error' "$out/build.log") (see build.log)."
                echo
                echo "Unknown names: $names"
        } >"$out/table.md"
        exit 1
fi

# ---- run ---------------------------------------------------------------------------------------

rt=$(mktemp -d /tmp/npipe-wine.XXXXXX)
export NPIPE_BROKER=$broker NPIPE_BROKER_IDLE=2
if [ "$asan" = 1 ]; then
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
fi

# run PROG [ARG] with timeout T into LOG in a runtime dir (a broker) of its
# own; sets rc, timed_out (1 when the timeout ended it) and secs
run_one() {
        local t=$1 log=$2 dir t0 t1
        shift 2
        dir=$(mktemp -d "$rt/r.XXXXXX")
        rc=0
        t0=$(date +%s%N)
        # (the group's 2>> puts bash's "Segmentation fault" note in the log too;
        # --foreground keeps the program in our process group, so that
        # stopping this script stops it)
        { NPIPE_RUNTIME_DIR=$dir timeout --foreground -k 5 "$t" "$prog" "$@" >"$log" 2>&1 || rc=$?; } 2>>"$log"
        t1=$(date +%s%N)
        secs=$(((t1 - t0) / 1000000000)).$((((t1 - t0) / 100000000) % 10))
        timed_out=0
        # timeout says 124, or 137 when it had to KILL
        if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ $(((t1 - t0) / 1000000000)) -ge "$t" ]; }; then
                timed_out=1
        fi
}

# the result for an exit code: PASS FAIL HUNG "CRASHED (SIGxxx)" "EXIT n, no summary"
status_of() {
        local rc=$1 failed=$2 has_summary=$3
        if [ "$timed_out" = 1 ]; then
                echo HUNG
        elif [ "$rc" -gt 128 ]; then
                echo "CRASHED (SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
        elif [ "$has_summary" = 0 ]; then
                echo "EXIT $rc, no summary"
        elif [ "$failed" != 0 ] || [ "$rc" != 0 ]; then
                echo FAIL
        else
                echo PASS
        fi
}

# the counts "executed failures skipped" of NAME's summary line in LOG, or ""
counts_of() {
        awk -v n="$1: " 'index($0, n) == 1 && / tests executed \(/ {
                s = substr($0, length(n) + 1)
                split(s, a, /[ (,)]+/)   # N tests executed M failures K skipped
                c = a[1] " " a[4] " " a[6]
        } END { print c }' "$2"
}

units=$out/units.tsv
"$prog" --list >"$units" 2>"$out/list.log" || die "$prog --list failed ($out/list.log)"
[ -s "$units" ] || die "$prog --list printed no units"

rm -rf "$out/units"
mkdir -p "$out/units"
failures=$out/failures.txt
: >"$failures"
rows=()
US=$'\x1f' # field separator of rows (calls contain "|")
tot_pass=0 tot_fail=0 tot_skip=0 n_pass=0 n_fail=0 n_crash=0 n_hang=0 n_dis=0 bad=0
i=0
echo "$me: running each unit in its own process (timeout ${unit_timeout}s)"
while IFS=$'\t' read -r kind call why; do
        i=$((i + 1))
        if [ -n "$only" ]; then
                fn=${call%%(*}
                [ "$only" = "$call" ] || [ "$only" = "$fn" ] || continue
        fi
        if [ "$kind" = disabled ]; then
                n_dis=$((n_dis + 1))
                rows+=("$i$US$call${US}DISABLED$US-$US-$US-$US$why")
                printf '  %-58s DISABLED: %s\n' "$call" "$why"
                continue
        fi
        log=$out/units/$(printf '%02d' "$i")-${call%%(*}.log
        run_one "$unit_timeout" "$log" "$call"
        c=$(counts_of "$call" "$log")
        has=1
        if [ -z "$c" ]; then
                has=0
                c="0 $(grep -c 'Test failed:' "$log" || true) 0"
        fi
        read -r executed failed skip <<<"$c"
        st=$(status_of "$rc" "$failed" "$has")
        passed=$((executed - failed))
        case $st in
        PASS) n_pass=$((n_pass + 1)) ;;
        FAIL) n_fail=$((n_fail + 1)) bad=1 ;;
        HUNG) n_hang=$((n_hang + 1)) bad=1 ;;
        *) n_crash=$((n_crash + 1)) bad=1 ;;
        esac
        tot_pass=$((tot_pass + passed)) tot_fail=$((tot_fail + failed)) tot_skip=$((tot_skip + skip))
        note=""
        if grep -q 'Test failed:' "$log"; then
                note=$(grep -m1 'Test failed:' "$log" | sed 's/Test failed: //')
                {
                        echo "== $call: $st ($failed failed)"
                        grep 'Test failed:' "$log"
                        echo
                } >>"$failures"
        fi
        if [ "$st" != PASS ] && [ "$st" != FAIL ]; then
                last=$(grep -m1 -oE 'last check seen at [^ ]*' "$log" || true)
                asanmsg=$(grep -m1 -oE 'ERROR: AddressSanitizer: [a-z-]+|runtime error: .{0,60}' "$log" || true)
                note="${last:+$last}${asanmsg:+; $asanmsg}${note:+; first failure: $note}"
                [ "$has" = 0 ] && passed="?"
        fi
        rows+=("$i$US$call$US$st$US$passed$US$failed$US$skip$US$note")
        printf '  %-58s %-8s %5s passed %4s failed %3s skipped  %5ss\n' "$call" "$st" "$passed" \
                "$failed" "$skip" "$secs"
done <"$units"
[ ${#rows[@]} -gt 0 ] || die "no unit named $only ($units)"

whole="" wlog=""
if [ -z "$only" ]; then
        echo "$me: running the whole file in one process (timeout ${file_timeout}s)"
        wlog=$out/whole-file.log
        run_one "$file_timeout" "$wlog"
        c=$(counts_of pipe "$wlog")
        has=1
        if [ -z "$c" ]; then
                has=0
                c="0 $(grep -c 'Test failed:' "$wlog" || true) 0"
        fi
        read -r executed failed skip <<<"$c"
        st=$(status_of "$rc" "$failed" "$has")
        [ "$st" = PASS ] || bad=1
        passed=$((executed - failed))
        [ "$has" = 0 ] && passed="?"
        whole="$st: $passed passed, $failed failed, $skip skipped"
        if [ "$st" != PASS ] && [ "$st" != FAIL ]; then
                last=$(grep -m1 'last check seen at' "$wlog" || true)
                whole="$whole${last:+ ($last)}"
        fi
        echo "  whole file: $whole"
fi

# ---- the table ---------------------------------------------------------------------------------

md() { sed -e 's/|/\\|/g'; }
# a unit's result in the whole-file run
whole_of() {
        local c e f k
        [ -n "$whole" ] || { echo "-"; return; }
        c=$(counts_of "$1" "$wlog")
        if [ -z "$c" ]; then
                echo "not reached"
                return
        fi
        read -r e f k <<<"$c"
        if grep -F "$1: " "$wlog" | grep -q '\[crashed\]'; then
                echo "CRASHED here ($f failed)"
        elif grep -F "$1: " "$wlog" | grep -q '\[terminated\]'; then
                echo "HUNG here ($f failed)"
        elif [ "$f" = 0 ]; then
                echo "PASS"
        else
                echo "FAIL ($f failed)"
        fi
}
{
        echo "# Wine 8.0 $wine_path on npipe"
        echo
        echo "Source: $WINE_TAR of Debian 12's source package $WINE_DEB_PKG $WINE_DEB_VERSION (sha256 $WINE_SHA256),"
        echo "$wine_path,"
        echo "edited by tests/wine/$suite-pipe.edits; built with $cc${san[*]:+ ${san[*]}}"
        echo "against $lib; $(date -u '+%Y-%m-%d %H:%M UTC')."
        echo "Each unit ran in its own process (timeout ${unit_timeout} s); logs in units/, every failure line in failures.txt."
        echo
        echo "| # | unit | result | passed | failed | skipped | in the whole-file run | notes |"
        echo "|---:|---|---|---:|---:|---:|---|---|"
        for r in "${rows[@]}"; do
                IFS=$US read -r n call st p f s note <<<"$r"
                w=-
                [ "$st" = DISABLED ] || w=$(whole_of "$call")
                printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$n" "$(md <<<"$call")" "$st" "$p" \
                        "$f" "$s" "$w" "$(md <<<"$note")"
        done
        echo
        echo "Units: $n_pass PASS, $n_fail FAIL, $n_crash CRASHED, $n_hang HUNG, $n_dis DISABLED."
        echo
        echo "**Totals (one process per unit): $tot_pass passed, $tot_fail failed** ($tot_skip skipped)."
        if [ -n "$whole" ]; then
                echo
                echo "**Whole file in one process** (timeout ${file_timeout} s): $whole."
        fi
} >"$out/table.md"

echo "$me: $tot_pass passed, $tot_fail failed ($tot_skip skipped; units: $n_pass PASS, $n_fail FAIL, $n_crash CRASHED, $n_hang HUNG, $n_dis DISABLED)"
[ -n "$whole" ] && echo "$me: whole file: $whole"
echo "$me: table in $out/table.md, failures in $out/failures.txt"
exit "$bad"
