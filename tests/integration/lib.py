"""lib.py - shared helpers of the integration tests: run a workload under the real
launcher and preload, run the real analyzer, and compare its JSON report with the ground
truth the workload printed (tests/workloads/truth.h). Every check is exact.

Environment: INTERCEPT_BUILD (the build directory; default ../../build from here)."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("INTERCEPT_BUILD", os.path.join(HERE, "..", "..", "build")))
INTERCEPT = os.path.join(BUILD, "intercept")
ANALYZE = os.path.join(BUILD, "analyze")
WORKLOADS = os.path.join(BUILD, "tests", "workloads")

failures = []


def workload(name):
    return os.path.join(WORKLOADS, name)


def tmpdir():
    return tempfile.mkdtemp(prefix="intercept-test-")


def run_traced(argv, trace, opts=(), env=None, timeout=120, check=True):
    """Run argv under `intercept -o trace`; return (stdout, stderr, returncode)."""
    cmd = [INTERCEPT, "-o", trace, *opts, "--", *argv]
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise SystemExit("FAIL: %s exited %d\nstdout: %s\nstderr: %s"
                         % (" ".join(cmd), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout, p.stderr, p.returncode


def truth_lines(stdout):
    """The JSON objects a workload printed, one per line (a forking one prints several)."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    if not out:
        raise SystemExit("FAIL: the workload printed no ground truth:\n" + stdout)
    return out


def analyze(trace, *args, fmt="json", expect_rc=0):
    p = subprocess.run([ANALYZE, trace, "--format", fmt, *args], capture_output=True,
                       text=True, timeout=300)
    if p.returncode != expect_rc:
        raise SystemExit("FAIL: analyze %s exited %d (wanted %d)\nstderr: %s"
                         % (trace, p.returncode, expect_rc, p.stderr))
    if fmt == "json" and expect_rc == 0:
        return json.loads(p.stdout)
    return p


def owner(stack, functions):
    """The first frame of a stack whose function is one the workload counted: the site a
    test attributes an allocation to (frames of operator new, libc and the like above it
    are skipped). None when no frame matches."""
    for f in stack:
        if f.get("function") in functions:
            return f["function"]
    return None


def by_function(report, functions):
    """Sum the report's allocation and leak sites by owning function."""
    tot = {fn: {"allocations": 0, "bytes": 0, "leaked_allocations": 0, "leaked_bytes": 0}
           for fn in functions}
    for s in report["alloc"]["sites"]:
        fn = owner(s["stack"], functions)
        if fn:
            tot[fn]["allocations"] += s["allocations"]
            tot[fn]["bytes"] += s["bytes"]
    for s in report["leaks"]["sites"]:
        fn = owner(s["stack"], functions)
        if fn:
            tot[fn]["leaked_allocations"] += s["allocations"]
            tot[fn]["leaked_bytes"] += s["bytes"]
    return tot


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def expect_eq(got, want, what):
    expect(got == want, "%s: got %r, want %r" % (what, got, want))


def compare_sites(report, truth, what=""):
    """Every site the workload counted must match exactly: allocations, bytes, leaks."""
    names = set(truth["sites"])
    got = by_function(report, names)
    for fn, want in sorted(truth["sites"].items()):
        for k in ("allocations", "bytes", "leaked_allocations", "leaked_bytes"):
            expect_eq(got[fn][k], want[k], "%s%s.%s" % (what, fn, k))


def check_schema(report):
    """The fields of ../shared/CONTRACT.md that every report carries."""
    expect_eq(report.get("schema"), "intercept-report/1", "schema")
    for k in ("pid", "command", "duration_ns", "threads", "events", "dropped_events",
              "complete"):
        expect(k in report["summary"], "summary.%s present" % k)
    for k in ("sql", "http", "locks"):
        expect(isinstance(report.get(k), list), "%s is an array" % k)
    for k in ("allocations", "frees", "bytes_allocated", "peak_bytes", "sites"):
        expect(k in report["alloc"], "alloc.%s present" % k)
    for k in ("bytes", "allocations", "scanned", "kinds", "sites"):
        expect(k in report["leaks"], "leaks.%s present" % k)
    for s in report["alloc"]["sites"][:50] + report["leaks"]["sites"][:50]:
        for f in s["stack"]:
            for k in ("function", "file", "line", "module", "address"):
                expect(k in f, "frame field %s" % k)
    sites = report["alloc"]["sites"]
    expect(all(sites[i]["bytes"] >= sites[i + 1]["bytes"] for i in range(len(sites) - 1)),
           "alloc.sites sorted by bytes")
    leaks = report["leaks"]["sites"]
    expect(all(leaks[i]["bytes"] >= leaks[i + 1]["bytes"] for i in range(len(leaks) - 1)),
           "leaks.sites sorted by bytes")


def done():
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("ok")
    sys.exit(0)
