#!/usr/bin/env python3
"""Judge one VM run from its console log and its results channel.

Runs inside the toolchain root (it calls the kernel's own KTAP parser,
tools/testing/kunit/kunit.py parse). Prints one line per problem, a final
"N passed, M failed" line, writes the counts to --counts, and exits non-zero when
anything failed: a failed test or KUnit case, a kernel report on the console (oops, BUG,
WARN, KASAN, UBSAN, lockdep, hung task, soft lockup, RCU stall, kmemleak), a plan that
did not reach its end, or missing results.
"""

import argparse
import re
import subprocess
import sys
import tempfile

# Console patterns that make a run red, with the kind each one reports.
KERNEL_REPORTS = [
    (re.compile(r"Internal error: Oops|\bOops\b|Unable to handle kernel"), "oops"),
    (re.compile(r"\bBUG: (?!KASAN)"), "bug"),
    (re.compile(r"kernel BUG at"), "bug"),
    (re.compile(r"Kernel panic"), "panic"),
    (re.compile(r"rust_panic|panicked at"), "rust-panic"),
    (re.compile(r"WARNING: possible|WARNING: suspicious RCU|WARNING: inconsistent lock|"
                r"WARNING: bad unlock|WARNING: lock held|WARNING: circular locking|"
                r"possible recursive locking|INFO: possible irq lock inversion"), "lockdep"),
    (re.compile(r"WARNING: CPU: \d+ PID: \d+|------------\[ cut here \]------------"), "warn"),
    (re.compile(r"BUG: KASAN|KASAN: "), "kasan"),
    (re.compile(r"UBSAN: "), "ubsan"),
    (re.compile(r"INFO: task .* blocked for more than"), "hung-task"),
    (re.compile(r"soft lockup|hard LOCKUP"), "lockup"),
    (re.compile(r"rcu: INFO: .* detected stalls|rcu_.* self-detected stall"), "rcu-stall"),
    (re.compile(r"kmemleak: \d+ new suspected memory leaks|unreferenced object 0x"), "kmemleak"),
    (re.compile(r"sleeping function called from invalid context"), "atomic-sleep"),
    (re.compile(r"list_add corruption|list_del corruption"), "list-corruption"),
]

KUNIT_SUMMARY = re.compile(r"Ran (\d+) tests?: (.*)")


def kunit_counts(kunit_py, ktap):
    """Run kunit.py parse on one KTAP document; return (passed, failed, output)."""
    with tempfile.NamedTemporaryFile("w", suffix=".ktap", delete=False) as f:
        f.write(ktap)
        path = f.name
    proc = subprocess.run([sys.executable, kunit_py, "parse", path],
                          capture_output=True, text=True)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    passed = failed = 0
    m = None
    for m in KUNIT_SUMMARY.finditer(out):
        pass
    if m:
        fields = dict((k.strip(), int(v)) for k, v in
                      (p.split(":") for p in m.group(2).split(",") if ":" in p))
        passed = fields.get("passed", 0)
        failed = fields.get("failed", 0) + fields.get("crashed", 0) + fields.get("errors", 0)
    if proc.returncode != 0 and failed == 0:
        failed = 1  # kunit.py found the document itself bad
    return passed, failed, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--kunit", required=True, help="path of tools/testing/kunit/kunit.py")
    ap.add_argument("--counts", required=True)
    ap.add_argument("--timed-out", action="store_true")
    args = ap.parse_args()

    passed = failed = 0
    problems = []

    with open(args.console, errors="replace") as f:
        console = f.read().splitlines()
    try:
        with open(args.results, errors="replace") as f:
            results = f.read().splitlines()
    except FileNotFoundError:
        results = []

    reports = {}
    for line in console:
        for pat, kind in KERNEL_REPORTS:
            if pat.search(line):
                reports.setdefault(kind, line.strip())
                break
    for kind, line in reports.items():
        problems.append(f"FAIL-REASON {kind}: {line}")
        failed += 1

    began = any(l.startswith("PLAN-BEGIN") for l in results)
    ended = any(l.startswith("PLAN-END") for l in results)
    if not began:
        problems.append("FAIL-REASON no-results: the plan never started")
        failed += 1
    elif not ended:
        why = "timeout" if args.timed_out else "the plan did not reach its end"
        problems.append(f"FAIL-REASON {'timeout' if args.timed_out else 'incomplete'}: {why}")
        failed += 1

    suite, ktap = None, []
    for line in results:
        if line.startswith("KUNIT-BEGIN "):
            suite, ktap = line.split(" ", 1)[1], []
        elif line.startswith("KUNIT-END ") and suite is not None:
            p, fl, out = kunit_counts(args.kunit, "\n".join(ktap) + "\n")
            passed += p
            failed += fl
            print(f"kunit {suite}: {p} passed, {fl} failed")
            if fl:
                problems.append(f"FAIL-REASON kunit: suite {suite}\n{out}")
            suite = None
        elif suite is not None:
            ktap.append(line)
        elif line.startswith("TEST ok "):
            passed += 1
        elif line.startswith("TEST not ok "):
            failed += 1
            problems.append(f"FAIL-REASON test: {line[len('TEST not ok '):]}")

    for p in problems:
        print(p)
    print(f"{passed} passed, {failed} failed")
    with open(args.counts, "w") as f:
        f.write(f"{passed} {failed}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
