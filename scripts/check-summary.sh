#!/bin/sh
# check-summary.sh: the closing summary of `make check`, from what the run
# left behind: what ran, what passed, and everything that was skipped or
# left out, each with its reason.  A skip must not hide on line 71 of 568.
#
#   scripts/check-summary.sh [--shared DIR] [BUILD [ASAN_BUILD [TSAN_BUILD [CONF_BUILD]]]]
#
# Defaults: build build-asan build-tsan build-conf (the Makefile's).  Reads,
# per build directory, meson-info/intro-tests.json (the tests meson
# defined) and meson-logs/testlog.json (the last `meson test` there), and
# checks the conditions under which the Makefile's targets and
# tests/meson.build skip or leave things out:
#   - the Win32 conformance programs (make check-conformance,
#     scripts/run-conformance.sh) need $CONFORMANCE_DIR, by default
#     DIR/conformance, with an executable run-native.sh;
#   - the semantics-coverage test is defined only when python3 and
#     DIR/spec/semantics.md exist (tests/meson.build);
#   - tests that exit 77 (remote and test_win32_remote: root, smbd, impacket;
#     the access tests: root and useradd) say why on a "SKIP:" line;
#   - the ASan run leaves out the bench-smoke suite, the TSan run runs the
#     ring and wake suites only (the Makefile).
# DIR (--shared) is the project's shared specification, by default ../shared
# beside the repository.  Exit status: 1 when a test that ran failed (or a
# log is unreadable), else 0; skips alone never fail.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
if [ "${1:-}" = "--shared" ]; then
        [ $# -ge 2 ] || { echo "usage: $0 [--shared DIR] [BUILD [ASAN [TSAN [CONF]]]]" >&2; exit 2; }
        shared=$2
        shift 2
fi
build=${1:-build}
asan=${2:-build-asan}
tsan=${3:-build-tsan}
conf_build=${4:-build-conf}
[ -d "$shared" ] && shared=$(cd "$shared" && pwd)
conf=${CONFORMANCE_DIR:-$shared/conformance}
spec=$shared/spec/semantics.md

python=$(command -v python3 || true)
if [ -z "$python" ]; then
        echo "check-summary.sh: python3 is needed to read meson's logs" >&2
        exit 1
fi

# the conformance run: ran when its runner is there (as run-conformance.sh decides)
if [ -x "$conf/run-native.sh" ]; then
        nconf=$(ls "$conf/visible" 2>/dev/null | grep -c '\.c$' || true)
        if [ -d "$conf_build" ]; then
                conf_state="ran: $nconf programs of $conf/visible against <npipe/windows.h> (installed from $conf_build)"
        else
                conf_state="not run: $conf_build does not exist (make check-conformance)"
        fi
else
        conf_state="SKIPPED: $conf/run-native.sh not found (the Win32 conformance suite is not part of this repository; set CONFORMANCE_DIR to a checkout of it)"
fi
if [ -f "$spec" ]; then
        spec_state=present
else
        spec_state="SKIPPED: $spec not found (the behaviour checklist is kept with the shared specification, outside this repository)"
fi

exec "$python" - "$build" "$asan" "$tsan" "$conf_state" "$spec_state" <<'EOF'
import json, os, sys, textwrap

build, asan, tsan, conf_state, spec_state = sys.argv[1:6]
failed_any = False
skips = 0


def load(bdir):
    """(defined tests {name: suites}, ran [(name, result, output)]) or None."""
    intro = os.path.join(bdir, "meson-info", "intro-tests.json")
    log = os.path.join(bdir, "meson-logs", "testlog.json")
    if not os.path.isfile(intro):
        return None
    with open(intro) as f:
        defined = {t["name"]: t.get("suite", []) for t in json.load(f)}
    ran = []
    if os.path.isfile(log):
        with open(log) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                d = json.loads(line)
                name = d["name"].split(" / ", 1)[-1]
                out = (d.get("stdout") or "") + "\n" + (d.get("stderr") or "")
                ran.append((name, d.get("result", "?"), out))
    return defined, ran


def line(text):
    """One item of the summary, wrapped to 79 columns."""
    print(textwrap.fill(text, width=79, initial_indent="  ", subsequent_indent="      ",
                        break_on_hyphens=False, break_long_words=False))


def reason(out):
    """The SKIP: line a skipped test printed, else its last line."""
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    for l in lines:
        if l.startswith("SKIP:") or l.startswith("SKIP "):
            return l[5:].strip()
    for l in lines:
        if "skipped" in l.lower():
            return l
    return lines[-1] if lines else "no reason printed"


def suites_of(defined, name):
    s = defined.get(name, [])
    return [x.split(":")[-1] for x in s]


def report(label, bdir, left_out):
    """left_out(name, suites): why the Makefile does not run a defined test
    there (printed), False (expected and not worth a line), or None (it
    should have run)."""
    global failed_any, skips
    got = load(bdir)
    if got is None:
        print("%s (%s): not run: %s is not a configured build directory" % (label, bdir, bdir))
        skips += 1
        return None
    defined, ran = got
    if not ran:
        print("%s (%s): no test log (meson test did not run there)" % (label, bdir))
        skips += 1
        return defined
    res = {}
    for name, result, out in ran:
        res.setdefault(result, []).append((name, out))
    ok = len(res.get("OK", [])) + len(res.get("EXPECTEDFAIL", []))
    bad = [(r, n, o) for r, l in res.items() if r not in ("OK", "EXPECTEDFAIL", "SKIP")
           for n, o in l]
    skipped = res.get("SKIP", [])
    print("%s (%s): %d ran: %d passed, %d skipped, %d failed" %
          (label, bdir, len(ran), ok, len(skipped), len(bad)))
    for r, n, o in sorted(bad):
        print("  FAILED  %-26s %s" % (n, r))
        failed_any = True
    for n, o in sorted(skipped):
        line("SKIPPED %-26s %s" % (n, reason(o)))
        skips += 1
    names_ran = {n for n, _, _ in ran}
    missing = []
    for n in sorted(set(defined) - names_ran):
        why = left_out(n, suites_of(defined, n))
        if why is False:
            continue  # not this run's business (said once, below)
        if why:
            line("left out %-25s %s" % (n, why))
        else:
            missing.append(n)
    if missing:
        skips += len(missing)
        line("NOT RUN %d defined test%s not in the last meson test here (a partial run?): %s" %
             (len(missing), "" if len(missing) == 1 else "s", ", ".join(missing)))
    return defined


print()
print("== make check: summary " + "=" * 56)
d = report("native suites", build, lambda n, s: None)
if d is not None and "semantics-coverage" not in d:
    if spec_state != "present":
        line("SKIPPED %-26s %s" % ("semantics-coverage", spec_state[len("SKIPPED: "):]))
    else:
        line("SKIPPED %-26s python3 was not found when %s was configured" %
             ("semantics-coverage", build))
    skips += 1
report("ASan+UBSan", asan,
       lambda n, s: "(on purpose: suite bench-smoke forks while its threads start, which "
       "clang's ASan does not survive)" if "bench-smoke" in s else
       "(on purpose: suite docs builds the documents' programs with plain cc, "
       "without the sanitizer runtime; it ran in the native build)" if "docs" in s else None)
report("TSan", tsan,
       lambda n, s: None if ("ring" in s or "wake" in s) else False)
print("  (TSan runs the suites ring and wake only: the rest ran in the builds above)")
state = conf_state
if state.startswith("SKIPPED"):
    skips += 1
print(textwrap.fill("Win32 conformance programs: " + state, width=79, subsequent_indent="      ",
                    break_on_hyphens=False, break_long_words=False))
print("-" * 79)
if failed_any:
    print("Result: FAILED (see above)")
elif skips:
    print("Result: everything that ran passed; %d item%s skipped or not run (above)" %
          (skips, "" if skips == 1 else "s"))
else:
    print("Result: everything ran and passed")
sys.exit(1 if failed_any else 0)
EOF
