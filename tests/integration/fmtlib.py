"""fmtlib.py - what the export-format tests (test_fmt_*.py) share: the real consumers they
need (failing clearly when one is missing, since tools/setup.sh installs them), a traced
run of a workload with its ground truth and JSON report, and the frame-naming rules every
format follows (report.c: rp_frame_name(), rp_site_frame()), restated from the JSON so the
tests can check that each format names frames and stacks exactly as the JSON does."""
import os
import shutil
import subprocess

import lib

RUNTIME_PREFIXES = ("libc.so", "libc-", "libstdc++.so", "libc++.so", "libc++abi.so",
                    "libgcc_s.so", "ld-linux")


def need(tool, package):
    """The path of a consumer program; a missing one fails the test with the fix."""
    path = shutil.which(tool)
    if not path:
        raise SystemExit("FAIL: `%s` not found: this test needs Debian's %s "
                         "(tools/setup.sh installs it)" % (tool, package))
    return path


def traced(name, args=(), env=None):
    """Run workload `name` traced; return (trace path, its truth, the JSON report)."""
    d = lib.tmpdir()
    trace = os.path.join(d, name + ".zst")
    out, _, _ = lib.run_traced([lib.workload(name), *args], trace, env=env)
    truth = lib.truth_lines(out)[0]
    rep = lib.analyze(trace)
    return trace, truth, rep


def analyze_raw(trace, *args, expect_rc=0):
    """Run analyze with args; return the CompletedProcess (bytes)."""
    p = subprocess.run([lib.ANALYZE, trace, *args], capture_output=True, timeout=300)
    if p.returncode != expect_rc:
        raise SystemExit("FAIL: analyze %s %s exited %d (wanted %d)\nstderr: %s"
                         % (trace, " ".join(args), p.returncode, expect_rc,
                            p.stderr.decode(errors="replace")))
    return p


def frame_name(f):
    """rp_frame_name(): the function, else module file name + address."""
    if f["function"] is not None:
        return f["function"]
    mod = os.path.basename(f["module"]) if f["module"] else ""
    return "%s+%s" % (mod or "?", f["address"])


def frame_label(f):
    """rp_frame_label(): the text report's and CSV's label of a frame."""
    if f["function"] is not None and f["file"] and f["line"]:
        return "%s (%s:%d)" % (f["function"], os.path.basename(f["file"]), f["line"])
    mod = os.path.basename(f["module"]) if f["module"] else None
    if f["function"] is not None:
        return "%s (%s)" % (f["function"], mod or "?")
    return "%s+%s" % (mod or "?", f["address"])


def site_frame(stack):
    """rp_site_frame(): the first frame outside the C/C++ runtime, else the innermost."""
    for f in stack:
        base = os.path.basename(f["module"] or "")
        if not base.startswith(RUNTIME_PREFIXES):
            return f
    return stack[0] if stack else None


def owner_of_names(names, functions):
    """lib.owner() for a stack given as frame names, innermost first."""
    for n in names:
        if n in functions:
            return n
    return None
