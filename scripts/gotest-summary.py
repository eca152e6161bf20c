#!/usr/bin/env python3
"""Reads `go test -json` on stdin, prints each package's result line and the
output of every failed test, then the totals as "N passed, N failed, N skipped".
Exits 1 when any test or package failed (a build failure included)."""
import json
import sys

passed = failed = skipped = 0
pkg_failed = False
output = {}  # (package, test) -> lines, kept until the test ends
builds = {}  # import path -> the compiler's lines, shown if its build failed

for line in sys.stdin:
    try:
        ev = json.loads(line)
    except ValueError:
        sys.stdout.write(line)  # a build error printed outside the JSON stream
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
    if action == "build-output":
        # Since Go 1.24 the compiler's errors come as events of their own,
        # named by ImportPath; a package's "fail" names them in FailedBuild.
        builds.setdefault(ev.get("ImportPath", ""), []).append(ev.get("Output", ""))
        continue
    if action == "fail" and ev.get("FailedBuild"):
        sys.stdout.write("".join(builds.pop(ev["FailedBuild"], [])))
    key = (pkg, test)
    if action == "output":
        output.setdefault(key, []).append(ev.get("Output", ""))
        continue
    if action not in ("pass", "fail", "skip"):
        continue
    lines = output.pop(key, [])
    if test is None:  # the package itself
        if action == "fail":
            pkg_failed = True
            sys.stdout.write("".join(l for l in lines if not l.startswith(("=== ", "--- ", "    --- ", "FAIL\t", "ok"))))
        for l in lines:
            if l.startswith(("ok ", "FAIL\t", "ok\t", "?   ")):
                sys.stdout.write(l)
        continue
    if action == "pass":
        passed += 1
    elif action == "skip":
        skipped += 1
    else:
        failed += 1
        sys.stdout.write("".join(lines))
    sys.stdout.flush()

def own_goroutines(dump, limit=600):
    """The goroutines of a timeout's dump that run the module's own code
    (the hung one among them), without the runtime's and the testing
    package's own, at most limit lines."""
    out, block = [], []
    for l in dump + ["\n"]:
        if l.strip():
            block.append(l)
            continue
        if any("github.com/xtramail/" in b for b in block[1:]):
            out += block + ["\n"]
        block = []
    if len(out) > limit:
        out = out[:limit] + [f"... {len(out) - limit} more lines\n"]
    return out


# Tests that never ended: their package was killed (a timeout's panic and
# its goroutine dump are in their output). Count them as failed and show
# the end of what they printed, or the reason would be lost.
for (pkg, test), lines in output.items():
    if test is None or not lines:
        continue
    failed += 1
    sys.stdout.write(f"--- UNFINISHED {test} ({pkg}), last lines:\n")
    panic = next((i for i, l in enumerate(lines) if l.startswith("panic: ")), len(lines))
    sys.stdout.write("".join(lines[max(0, panic - 20):panic + 4]))
    sys.stdout.write("".join(own_goroutines(lines[panic:])))

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or pkg_failed else 0)
