#!/bin/sh
# run.sh SERVER CLIENT - start an example server, run transact clients
# against it (one first, then three at once), and check that the clients
# got every reply right and that the server stopped after serving them all.
# A private runtime directory keeps the broker to this run.
set -u
server=$1 client=$2
NPIPE_RUNTIME_DIR=$(mktemp -d /tmp/npipe-example-XXXXXX)
export NPIPE_RUNTIME_DIR
trap 'rm -rf "$NPIPE_RUNTIME_DIR"' EXIT
name='\\.\pipe\npipe-example-run'
out="$NPIPE_RUNTIME_DIR/server.out"
# every client makes two connections: its transaction session and one
# CallNamedPipe
"$server" "$name" 8 >"$out" &
spid=$!
# the servers say "ready" once their first instance exists (and with it the
# broker, which one process at a time should start)
i=0
while [ $i -lt 200 ] && ! grep -q ready "$out"; do
        i=$((i + 1))
        sleep 0.05
done
fail=0
"$client" "$name" 5 || fail=1
pids=""
for c in 1 2 3; do
        "$client" "$name" 20 &
        pids="$pids $!"
done
for p in $pids; do
        wait "$p" || fail=1
done
wait "$spid" || fail=1
cat "$out"
exit $fail
