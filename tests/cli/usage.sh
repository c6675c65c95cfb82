#!/bin/bash
# The command line itself: every subcommand's --help exits 0 on stdout,
# usage errors exit 2 with a hint on stderr, --version prints the version.
. "$(dirname "$0")/lib.sh"

for cmd in list serve send cat call wait stat bench; do
        run "$cmd" --help
        expect_rc 0 "$cmd --help"
        expect_grep "Usage: " "$T/out" "$cmd --help"
        [ ! -s "$T/err" ] || fail "$cmd --help wrote to stderr"
        run help "$cmd"
        expect_rc 0 "help $cmd"
        expect_grep "Usage: " "$T/out" "help $cmd"
done
ok "every subcommand has --help"

run --help
expect_rc 0 "--help"
for cmd in list serve send cat call wait stat bench; do
        expect_grep "  $cmd " "$T/out" "--help lists $cmd"
done
run --version
expect_rc 0 "--version"
grep -qE '^npipe [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || fail "--version: $(cat "$T/out")"
ok "--help and --version"

# usage errors: status 2, a message and the hint on stderr, nothing on stdout
usage_error() {
        run "$@"
        expect_rc 2 "npipe $*"
        expect_grep "Try '" "$T/err" "npipe $*"
        [ ! -s "$T/out" ] || fail "npipe $*: wrote to stdout on a usage error"
}
usage_error
usage_error frobnicate
usage_error --no-such-option
usage_error help frobnicate
usage_error list --bogus
usage_error list extra
usage_error serve
usage_error serve a b
usage_error serve x --count 0
usage_error serve x --count -3
usage_error serve x --max-instances 255
usage_error serve x --max-instances 2 --instances 3
usage_error serve x --instances zero
usage_error serve x --access nobody
usage_error serve x --access group
usage_error serve x --lines
usage_error serve x --length-prefix
usage_error serve x --separator '\q' --print
usage_error send
usage_error send x --raw extra
usage_error send x --timeout soon
usage_error cat
usage_error cat x y
usage_error cat x --count 0
usage_error cat x --separator '\x4'
usage_error call
usage_error call x
usage_error call x a b
usage_error call x a --timeout -5
usage_error wait
usage_error wait x y
usage_error wait x --timeout 1.5
usage_error stat extra
usage_error stat --iterations 0
usage_error stat --interval x
usage_error stat --count 0
usage_error stat --watch=x
usage_error stat --watch=0
ok "usage errors exit 2 with a hint on stderr"

# nothing above needed a broker; a broker-less runtime directory stays empty
[ ! -e "$NPIPE_RUNTIME_DIR/npiped.sock" ] || fail "a usage error started the broker"
ok "usage errors do not start the broker"
