#!/bin/sh
# anon_run.sh PARENT CHILD - the anonymous-pipe example end to end: PARENT
# sends a file through CHILD (its standard input and output are the ends
# of two anonymous pipes) and must print it back upper-cased; then the
# same with a plain Linux child (tr).  A private runtime directory keeps
# the broker to this run.
set -u
parent=$1 child=$2
NPIPE_RUNTIME_DIR=$(mktemp -d /tmp/npipe-example-XXXXXX)
export NPIPE_RUNTIME_DIR
trap 'rm -rf "$NPIPE_RUNTIME_DIR"' EXIT
in="$NPIPE_RUNTIME_DIR/in.txt"
printf 'Anonymous pipes,\nredirected standard handles.\n' >"$in"
want='ANONYMOUS PIPES,
REDIRECTED STANDARD HANDLES.'
fail=0
got=$("$parent" "$in" "$child") || fail=1
[ "$got" = "$want" ] || { echo "npipe child: got '$got'"; fail=1; }
got=$("$parent" "$in" "tr a-z A-Z") || fail=1
[ "$got" = "$want" ] || { echo "Linux child: got '$got'"; fail=1; }
exit $fail
