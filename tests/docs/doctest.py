#!/usr/bin/env python3
"""Run the commands and programs of a document, as a reader would.

    doctest.py DOC --build BUILD --src SRC [--broker NPIPED] [--expect N]

The document marks the code blocks to run with an HTML comment on the line
before the fence (invisible once rendered):

    <!-- test: file NAME -->               the block is the file NAME
    <!-- test: program NAME -->            the file NAME, a C program: built
                                           against the build tree, then run
    <!-- test: run -->                     sh -e runs the block; what it
                                           exports holds for later blocks
    <!-- test: start JOB until "TEXT" -->  the block in the background, as a
                                           second terminal; on once a line of
                                           its output contains TEXT
    <!-- test: output -->                  the output of the last run or
                                           program, exactly
    <!-- test: output of JOB -->           JOB's whole output, once it exited
                                           with status 0

Everything runs in a fresh directory where `build` and `include` are the
build tree and the sources' include/, with a private runtime directory
(NPIPE_RUNTIME_DIR), so `build/src/cli/npipe` and `cc -I include ...` work
there as they do in a clone.  Background jobs still running at the end are
stopped, and so is the broker the library started.  Synchronisation is a
line of output, never a sleep; every step has a deadline.  --expect N fails
unless the document has N marked blocks (a marker lost in an edit must not
make the test pass by running nothing).
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

MARK = re.compile(r"^<!--\s*test:\s*(.*?)\s*-->\s*$")
STEP_SECONDS = 60


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def marked_blocks(path):
    """[(line, directive, body)] for every marked block of the document."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            i += 1
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            fail("%s:%d: a test marker must be followed by a code block" % (path, i + 1))
        k = i + 2
        body = []
        while k < len(lines) and not lines[k].startswith("```"):
            body.append(lines[k])
            k += 1
        if k >= len(lines):
            fail("%s:%d: the code block does not end" % (path, i + 2))
        out.append((i + 1, m.group(1), "\n".join(body) + "\n"))
        i = k + 1
    return out


def same(got, want):
    g = [l.rstrip() for l in got.rstrip("\n").split("\n")]
    w = [l.rstrip() for l in want.rstrip("\n").split("\n")]
    return g == w


class Job:
    """A background block: its output read by a thread, line by line."""

    def __init__(self, name, body, cwd, env, until):
        self.name = name
        self.until = until
        self.lines = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(["sh", "-e", "-c", body], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if self.until in line:
                self.ready.set()
        self.ready.set()  # ended: whoever waits finds out below

    def output(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STEP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def stop_brokers(run_dir):
    """SIGTERM the brokers started for our runtime directory (by their
    command line, which names it), and wait until they are gone."""
    want = ("--runtime-dir=" + run_dir).encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if want in args:
            pids.append(int(d))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in pids:
        # not our child: pidfd_open + poll waits for its end without a sleep
        try:
            fd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            continue
        import select
        select.select([fd], [], [], STEP_SECONDS)
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("doc")
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--broker", help="NPIPE_BROKER for documents that do not set it")
    ap.add_argument("--expect", type=int, help="the number of marked blocks")
    ap.add_argument("--cc", default="cc", help="the compiler of `program` blocks")
    args = ap.parse_args()

    doc = os.path.abspath(args.doc)
    steps = marked_blocks(doc)
    if args.expect is not None and len(steps) != args.expect:
        fail("%s: %d marked blocks, expected %d" % (doc, len(steps), args.expect))
    if not steps:
        fail("%s: no marked blocks" % doc)

    work = tempfile.mkdtemp(prefix="npipe-doctest.")
    run_dir = os.path.join(work, ".run")
    os.symlink(os.path.abspath(args.build), os.path.join(work, "build"))
    os.symlink(os.path.join(os.path.abspath(args.src), "include"), os.path.join(work, "include"))
    env = dict(os.environ)
    env["NPIPE_RUNTIME_DIR"] = run_dir
    env["NPIPE_BROKER_IDLE"] = "2"
    env.pop("NPIPE_BROKER", None)
    if args.broker:
        env["NPIPE_BROKER"] = os.path.abspath(args.broker)
    env_file = os.path.join(work, ".env")
    jobs = {}
    last = None  # (where, output) of the last foreground step
    name = os.path.basename(doc)

    def run_fg(where, argv):
        try:
            p = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=STEP_SECONDS)
        except subprocess.TimeoutExpired:
            fail("%s: still running after %d s" % (where, STEP_SECONDS))
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            fail("%s: exit status %d; output:\n%s" % (where, p.returncode, out))
        return out

    try:
        for line, directive, body in steps:
            where = "%s:%d (%s)" % (name, line, directive)
            words = shlex.split(directive)
            kind = words[0] if words else ""
            if kind == "file" and len(words) == 2:
                with open(os.path.join(work, words[1]), "w") as f:
                    f.write(body)
            elif kind == "program" and len(words) == 2:
                src = os.path.join(work, words[1])
                with open(src, "w") as f:
                    f.write(body)
                exe = os.path.splitext(src)[0]
                run_fg(where + " build",
                       [args.cc, "-Wall", "-Werror", "-I", "include", "-I", "build/include",
                        src, "-o", exe, "build/libnpipe.a", "-lpthread"])
                last = (where, run_fg(where, [exe]))
            elif kind == "run" and len(words) == 1:
                out = run_fg(where, ["sh", "-e", "-c",
                                     body + "\nenv -0 >" + shlex.quote(env_file) + "\n"])
                with open(env_file, "rb") as f:
                    env = dict(kv.decode().split("=", 1) for kv in f.read().split(b"\0")
                               if b"=" in kv)
                last = (where, out)
            elif kind == "start" and len(words) == 4 and words[2] == "until":
                job = Job(words[1], body, work, env, words[3])
                jobs[words[1]] = job
                if not job.ready.wait(STEP_SECONDS) or job.until not in job.output():
                    fail("%s: no line with \"%s\" (exit status %s); output:\n%s" %
                         (where, job.until, job.proc.poll(), job.output()))
            elif kind == "output" and len(words) == 1:
                if last is None:
                    fail("%s: no run before it" % where)
                if not same(last[1], body):
                    fail("%s: the output of %s differs\n--- expected:\n%s--- got:\n%s" %
                         (where, last[0], body, last[1]))
            elif kind == "output" and len(words) == 3 and words[1] == "of":
                job = jobs.get(words[2])
                if job is None:
                    fail("%s: no job %s started before" % (where, words[2]))
                try:
                    st = job.proc.wait(timeout=STEP_SECONDS)
                except subprocess.TimeoutExpired:
                    fail("%s: %s still running after %d s" % (where, words[2], STEP_SECONDS))
                job.thread.join(STEP_SECONDS)
                if st != 0:
                    fail("%s: %s exited with status %d; output:\n%s" %
                         (where, words[2], st, job.output()))
                if not same(job.output(), body):
                    fail("%s: the output of %s differs\n--- expected:\n%s--- got:\n%s" %
                         (where, words[2], body, job.output()))
            else:
                fail("%s: unknown test marker '%s'" % (where, directive))
            print("ok - %s" % where)
    finally:
        for job in jobs.values():
            job.stop()
        stop_brokers(run_dir)
        shutil.rmtree(work, ignore_errors=True)
    print("ok - %s: %d blocks" % (name, len(steps)))


if __name__ == "__main__":
    main()
