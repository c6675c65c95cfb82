#!/usr/bin/env python3
"""Coverage of the NT named-pipe spec by the tests.

Reads every numbered item (**ITEM-NN**) of the behaviour checklist
(spec/semantics.md), finds the tests that name them in `covers:` comments,
and writes docs/semantics-coverage.md: one row per item with its flags and
the tests (file:function) that cover it, and a summary per section.

    scripts/coverage.py [SPEC] [--extra DIR ...] [--output FILE]
                        [--check DEFERRED] [--sections "NAME CREATE ..."]

SPEC defaults to ../shared/spec/semantics.md relative to the repository
root.  Test sources are tests/**/*.c; --extra adds another directory (for
example the Win32 conformance programs), whose files may also name items in
CHECK("ITEM-NN", ...)-style macros; those are listed in a column of their
own and do not count for --check.

With --check, the exit status is non-zero when an item of an applicable
section is neither covered by a test nor listed in the deferral file (lines
"ITEM reason"; '#' starts a comment), or when the deferral file names an
item the spec does not have or gives no reason.
"""

import argparse
import os
import re
import sys
from collections import OrderedDict

APPLICABLE = ("NAME CREATE INST OPEN STATE CONNECT DISC CLOSE MODE MSG ZERO PEEK "
              "QUOTA NOWAIT WAIT TRANS").split()

ITEM_RE = re.compile(r"^\*\s+\*\*([A-Z]+-\d+)\*\*\s*(.*)$")
SECTION_RE = re.compile(r"^##\s+(\d+)\.\s+([A-Z]+)\b\s*(.*)$")
ID_RE = re.compile(r"\b([A-Z]+-\d{2})\b")
COVERS_RE = re.compile(r"covers:(.*?)(?:\*/|$)")
START_TEST_RE = re.compile(r"^\s*START_TEST\s*\(\s*(\w+)\s*\)")
FUNC_RE = re.compile(r"^(?:static\s+|inline\s+)*[A-Za-z_][\w\s\*]*?\b(\w+)\s*\([^;]*$")
MACRO_ITEM_RE = re.compile(r"\b[A-Z_]+\s*\(\s*\"([A-Z]+-\d{2})\"")
FLAGS = ("⚠WINE", "⚠VER", "⚠DOC", "?VERIFY")


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_spec(path):
    """OrderedDict item -> {section, title, flags, text}."""
    items = OrderedDict()
    sections = OrderedDict()
    section = None
    current = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = SECTION_RE.match(line)
            if m:
                section = m.group(2)
                sections[section] = m.group(3).strip(" —-")
                current = None
                continue
            if line.startswith("#"):
                current = None
                continue
            m = ITEM_RE.match(line)
            if m:
                item = m.group(1)
                current = {"section": item.split("-")[0], "text": m.group(2)}
                items[item] = current
                continue
            if current is not None:
                if line.startswith("  ") and not line.lstrip().startswith("* "):
                    current["text"] += " " + line.strip()
                elif line.strip() == "" or line.startswith("* ") or line.startswith("|"):
                    current = None
    for item, d in items.items():
        d["flags"] = [f for f in FLAGS if f in d["text"]]
    return items, sections


def scan_sources(root, macros):
    """item -> list of 'file:function' for every .c file under root."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".c"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.dirname(root.rstrip("/")))
            scan_file(path, rel, found, macros)
    return found


def scan_file(path, rel, found, macros):
    func = None
    pending = []  # covers comments seen before the function they belong to
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for line in lines:
        m = START_TEST_RE.match(line)
        if m:
            func = m.group(1)
            for ids in pending:
                add(found, ids, rel, func)
            pending = []
        elif FUNC_RE.match(line) and not line.startswith((" ", "\t", "#", "}")):
            func = FUNC_RE.match(line).group(1)
            for ids in pending:
                add(found, ids, rel, func)
            pending = []
        if line.lstrip().startswith("}") and line.startswith("}"):
            # end of a top-level function: a following comment belongs to
            # the next one
            func = None
        m = COVERS_RE.search(line)
        if m:
            ids = ID_RE.findall(m.group(1))
            if func is None:
                pending.append(ids)
            else:
                add(found, ids, rel, func)
        if macros:
            for item in MACRO_ITEM_RE.findall(line):
                add(found, [item], rel, func or "?")


def add(found, ids, rel, func):
    for item in ids:
        where = "%s:%s" % (rel, func)
        lst = found.setdefault(item, [])
        if where not in lst:
            lst.append(where)


def read_deferred(path):
    deferred = OrderedDict()
    problems = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if not line:
                continue
            parts = line.split(None, 1)
            if len(parts) < 2 or not parts[1].strip():
                problems.append("%s:%d: %s has no reason" % (path, n, parts[0]))
                continue
            deferred[parts[0]] = parts[1].strip()
    return deferred, problems


def md_escape(s):
    return s.replace("|", "\\|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", nargs="?", help="spec/semantics.md")
    ap.add_argument("--spec", dest="spec_opt", help="spec/semantics.md")
    ap.add_argument("--root", default=repo_root(), help="repository root")
    ap.add_argument("--extra", action="append", default=[],
                    help="another directory of programs naming items (not counted by --check)")
    ap.add_argument("--output", help="where to write the table "
                    "(default docs/semantics-coverage.md)")
    ap.add_argument("--check", metavar="DEFERRED", help="fail on untested, undeferred items")
    ap.add_argument("--sections", default=" ".join(APPLICABLE),
                    help="applicable sections for --check")
    args = ap.parse_args()

    root = os.path.abspath(args.root)
    spec = args.spec_opt or args.spec or os.path.join(root, "..", "shared", "spec",
                                                       "semantics.md")
    output = args.output or os.path.join(root, "docs", "semantics-coverage.md")
    applicable = args.sections.split()

    items, sections = parse_spec(spec)
    if not items:
        print("coverage: no items found in %s" % spec, file=sys.stderr)
        return 2
    tests = scan_sources(os.path.join(root, "tests"), macros=False)
    extra = {}
    for d in args.extra:
        for item, where in scan_sources(os.path.abspath(d), macros=True).items():
            extra.setdefault(item, []).extend(w for w in where if w not in extra.get(item, []))
    deferred, problems = ({}, [])
    deferred_path = args.check or os.path.join(root, "tests", "deferred.txt")
    if os.path.exists(deferred_path):
        deferred, problems = read_deferred(deferred_path)

    unknown_tested = sorted(set(tests) - set(items))
    unknown_deferred = [i for i in deferred if i not in items]
    problems += ["%s: deferred item %s is not in the spec" % (deferred_path, i)
                 for i in unknown_deferred]

    # ---- the document ------------------------------------------------------
    out = []
    out.append("# Semantics coverage")
    out.append("")
    out.append("Generated by `scripts/coverage.py` from `%s` and the `covers:` comments of "
               "`tests/**/*.c`%s. Do not edit by hand." %
               (os.path.relpath(spec, root),
                "" if not args.extra else " (and, in the last column, the items named by "
                + ", ".join("`%s`" % os.path.relpath(os.path.abspath(d), root)
                            for d in args.extra) + ")"))
    out.append("")
    out.append("Applicable sections (checked by the `coverage` test suite): %s. "
               "Items there are either tested or deferred with a reason in "
               "`tests/deferred.txt`." % " ".join(applicable))
    out.append("")
    out.append("## Summary")
    out.append("")
    out.append("| section | items | tested | deferred | open |")
    out.append("| --- | ---: | ---: | ---: | ---: |")
    per = OrderedDict()
    for item, d in items.items():
        s = per.setdefault(d["section"], [0, 0, 0, 0])
        s[0] += 1
        if item in tests:
            s[1] += 1
        elif item in deferred:
            s[2] += 1
        else:
            s[3] += 1
    tot = [0, 0, 0, 0]
    for sec, s in per.items():
        mark = "" if sec in applicable else " (not applicable)"
        out.append("| %s%s | %d | %d | %d | %d |" % (sec, mark, s[0], s[1], s[2], s[3]))
        tot = [a + b for a, b in zip(tot, s)]
    out.append("| **all** | %d | %d | %d | %d |" % tuple(tot))
    out.append("")
    out.append("## Items")
    out.append("")
    head = "| section | item | flags | tests |"
    rule = "| --- | --- | --- | --- |"
    if args.extra:
        head += " conformance |"
        rule += " --- |"
    cur = None
    for item, d in items.items():
        if d["section"] != cur:
            cur = d["section"]
            out.append("")
            out.append("### %s — %s" % (cur, sections.get(cur, "")))
            out.append("")
            out.append(head)
            out.append(rule)
        cov = tests.get(item)
        if cov:
            cell = "<br>".join("`%s`" % w for w in cov)
        elif item in deferred:
            cell = "— deferred: %s" % md_escape(deferred[item])
        else:
            cell = "—"
        row = "| %s | %s | %s | %s |" % (d["section"], item, " ".join(d["flags"]), cell)
        if args.extra:
            ex = extra.get(item)
            row += " %s |" % ("<br>".join("`%s`" % w for w in ex) if ex else "—")
        out.append(row)
    out.append("")
    if unknown_tested:
        out.append("Items named by tests but not in the spec: %s" % ", ".join(unknown_tested))
        out.append("")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out))

    # ---- the check -----------------------------------------------------------
    print("coverage: %d items, %d tested, %d deferred, %d open; wrote %s" %
          (tot[0], tot[1], tot[2], tot[3], output))
    if unknown_tested:
        print("coverage: tests name items the spec does not have: %s" %
              ", ".join(unknown_tested), file=sys.stderr)
    if not args.check:
        return 0
    if not os.path.exists(args.check):
        print("coverage: no deferral file %s" % args.check, file=sys.stderr)
        return 1
    open_items = [i for i, d in items.items()
                  if d["section"] in applicable and i not in tests and i not in deferred]
    for p in problems:
        print("coverage: " + p, file=sys.stderr)
    for i in open_items:
        print("coverage: %s is neither tested nor deferred" % i, file=sys.stderr)
    covered_and_deferred = [i for i in deferred if i in tests]
    for i in covered_and_deferred:
        print("coverage: note: %s is deferred but also tested" % i)
    return 1 if (open_items or problems or unknown_tested) else 0


if __name__ == "__main__":
    sys.exit(main())
