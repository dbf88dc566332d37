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
    (re.compile(r"kernel BUG at|\bBUG: (?!KASAN)"), "bug"),
    (re.compile(r"Kernel panic"), "panic"),
    (re.compile(r"rust_panic|panicked at"), "rust-panic"),
    (re.compile(r"BUG: KASAN|KASAN: "), "kasan"),
    (re.compile(r"UBSAN: "), "ubsan"),
    # Lockdep's reports all start with a "WARNING: " header line of their own (circular
    # dependency, inconsistent state, held lock freed, ...); these name the common ones.
    (re.compile(r"WARNING: (possible|suspicious RCU|inconsistent lock|bad unlock|lock held|"
                r"circular locking|.*-safe -> .*-unsafe lock order)|held lock freed!|"
                r"still has locks held!|Nested lock was not taken|bad contention detected|"
                r"chain_key collision|INFO: possible irq lock inversion"), "lockdep"),
    # Any other "WARNING: " line (7.3: "WARNING: file:line at func, CPU#n: comm/pid") and the
    # "cut here" line that precedes a WARN or BUG.
    (re.compile(r"\bWARNING: |------------\[ cut here \]------------"), "warn"),
    (re.compile(r"INFO: task \S+:\d+ blocked.* for more than"), "hung-task"),
    (re.compile(r"soft lockup|hard LOCKUP"), "lockup"),
    (re.compile(r"INFO: \S+ (self-)?detected (expedited )?stalls?"), "rcu-stall"),
    (re.compile(r"kmemleak: \d+ new suspected memory leaks|unreferenced object 0x"), "kmemleak"),
    (re.compile(r"Kernel memory leak detector disabled|kmemleak: .*[Pp]ool empty"), "kmemleak-off"),
    (re.compile(r"sleeping function called from invalid context"), "atomic-sleep"),
    (re.compile(r"list_add corruption|list_del corruption"), "list-corruption"),
    # A KUnit case that failed in a run whose KTAP did not reach the results channel (for
    # example a suite re-run by a load/unload cycle).
    (re.compile(r"^\[\s*[\d.]+\]\s*not ok \d+ (?!.*# SKIP)"), "kunit"),
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
    ap.add_argument("--qemu-status", type=int, default=0)
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
    if args.timed_out:
        # Also after PLAN-END: a power-off that hangs is a failure too.
        problems.append("FAIL-REASON timeout: the VM did not power off in time")
        failed += 1
    elif args.qemu_status != 0:
        problems.append(f"FAIL-REASON qemu: QEMU exited with status {args.qemu_status}")
        failed += 1
    if not began:
        problems.append("FAIL-REASON no-results: the plan never started")
        failed += 1
    elif not ended:
        problems.append("FAIL-REASON incomplete: the plan did not reach its end")
        failed += 1
    if not any(l.startswith("TEST ") or l.startswith("KUNIT-BEGIN ") for l in results):
        problems.append("FAIL-REASON no-tests: the plan reported no test")
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
