#!/bin/bash
# run-examples.sh SRC NPIPE NPIPED ECHO_DEMO: `make run` (scripts/run-examples.sh)
# prints "$ npipe ..." for every npipe command it runs; each printed line,
# read by a shell, must be exactly one of the commands that ran, and every
# command that ran must have been printed.  The script runs against a build
# tree of links whose npipe records its arguments, then runs the real one.
set -euo pipefail
src=${1:?usage: $0 SRC NPIPE NPIPED ECHO_DEMO}
npipe=$(realpath "$2")
npiped=$(realpath "$3")
demo=$(realpath "$4")
T=$(mktemp -d "${TMPDIR:-/tmp}/npipe-run-examples.XXXXXX")
trap 'rm -rf "$T"' EXIT

mkdir -p "$T/build/src/cli" "$T/build/src/broker" "$T/build/examples" "$T/calls"
ln -s "$npiped" "$T/build/src/broker/npiped"
ln -s "$demo" "$T/build/examples/npipe-echo-demo"
cat >"$T/build/src/cli/npipe" <<SH
#!/bin/sh
# one file per call, its arguments NUL-terminated
printf '%s\\0' "\$@" >"\$(mktemp "$T/calls/call.XXXXXX")"
exec "$npipe" "\$@"
SH
chmod +x "$T/build/src/cli/npipe"

# bounded: the script's own commands have timeouts, this is the backstop
timeout 120 sh "$src/scripts/run-examples.sh" "$T/build" >"$T/out" 2>"$T/err" || {
        echo "FAIL: run-examples.sh exited with status $?" >&2
        cat "$T/out" "$T/err" >&2
        exit 1
}

python3 - "$T/out" "$T/calls" "$T/build" <<'PY'
import os, shlex, sys
out, calls, build = sys.argv[1:4]
printed = []
demo_shown = False
for line in open(out):
    line = line.rstrip("\n")
    if line == "$ " + os.path.join(build, "examples", "npipe-echo-demo"):
        demo_shown = True
    if not line.startswith("$ npipe "):
        continue
    words = shlex.split(line[2:], comments=True)  # "# ..." is a comment, as in a shell
    if words and words[-1] == "&":
        words.pop()
    printed.append(tuple(words[1:]))
ran = []
for f in os.listdir(calls):
    data = open(os.path.join(calls, f), "rb").read()
    ran.append(tuple(a.decode() for a in data.split(b"\0")[:-1]))
ok = True
if not demo_shown:
    print("FAIL: the echo demo's command line is not shown", file=sys.stderr)
    ok = False
if sorted(printed) != sorted(ran):
    print("FAIL: printed and run differ", file=sys.stderr)
    for p in sorted(set(printed) - set(ran)):
        print("  printed, not run: npipe %s" % " ".join(map(shlex.quote, p)), file=sys.stderr)
    for r in sorted(set(ran) - set(printed)):
        print("  run, not printed: npipe %s" % " ".join(map(shlex.quote, r)), file=sys.stderr)
    ok = False
if len(ran) < 6:
    print("FAIL: only %d npipe commands ran" % len(ran), file=sys.stderr)
    ok = False
if not ok:
    print(open(out).read(), file=sys.stderr)
    sys.exit(1)
print("ok - make run: the %d npipe commands shown are the ones that ran" % len(ran))
PY
