#!/usr/bin/env python3
"""tools/bench/endurance.py [BUILD_DIR] - what the endurance modes cost (docs/endurance.md),
measured in one run, medians of REPEAT runs each:
  1. the allocation storm (tests/workloads/storm 2 500000) natively, in full mode, in
     summary mode and sampled: wall time, ratio to native, trace size;
  2. trace bytes per changed site per snapshot (tests/workloads/manysites: 1024 sites all
     changing every snapshot), from two run lengths so that the fixed part cancels;
  3. analysis time of a long summary-mode trace (manysites with 10 ms snapshots: as many
     snapshots as an hour at 1 s).
A benchmark program, not a test: it prints numbers and never fails on them."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.join(os.path.dirname(__file__), "..", "..", "build"))
W = os.path.join(BUILD, "tests", "workloads")
REPEAT = int(os.environ.get("REPEAT", "5"))
tmp = tempfile.mkdtemp(prefix="intercept-bench-")


def run(argv, env=None, trace=None):
    e = dict(os.environ)
    e.update(env or {})
    cmd = argv if trace is None else [os.path.join(BUILD, "intercept"), "-q", "-o", trace,
                                      "--", *argv]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=e)
    return time.perf_counter() - t


def analyze(trace, *args):
    p = subprocess.run([os.path.join(BUILD, "analyze"), trace, "--format", "json",
                        "--no-symbols", *args], check=True, capture_output=True, text=True)
    return json.loads(p.stdout)


print("== allocation storm: storm 2 500000 (medians of %d)" % REPEAT)
storm = [os.path.join(W, "storm"), "2", "500000"]
modes = [("native", None), ("full", {}), ("summary", {"INTERCEPT_MALLOC": "summary"}),
         ("full, sampled 512 KiB", {"INTERCEPT_SAMPLE": "524288"}),
         ("summary, sampled 512 KiB", {"INTERCEPT_MALLOC": "summary",
                                       "INTERCEPT_SAMPLE": "524288"})]
# interleaved (one run of each mode per round), so that a machine whose load drifts
# treats every mode alike
times = {name: [] for name, _ in modes}
sizes = {}
for _ in range(REPEAT):
    for name, env in modes:
        trace = os.path.join(tmp, "storm.zst")
        times[name].append(run(storm, env, None if env is None else trace))
        sizes[name] = os.path.getsize(trace) if env is not None else 0
base = statistics.median(times["native"])
for name, _ in modes:
    med = statistics.median(times[name])
    print("  %-26s %7.3f s  %5.2fx  trace %10d bytes" % (name, med, med / base, sizes[name]))

print("== bytes per changed site per snapshot: manysites, 1024 sites, summary mode")
res = {}
for secs in (5, 15):
    trace = os.path.join(tmp, "many%d.zst" % secs)
    run([os.path.join(W, "manysites"), str(secs)], {"INTERCEPT_MALLOC": "summary"}, trace)
    r = analyze(trace)
    res[secs] = (r["summary"]["trace_bytes"], r["growth"]["site_entries"],
                 r["growth"]["snapshot_bytes"], r["growth"]["snapshots"])
(f5, e5, s5, n5), (f15, e15, s15, n15) = res[5], res[15]
print("  %d -> %d snapshots, %d -> %d site entries, file %d -> %d bytes"
      % (n5, n15, e5, e15, f5, f15))
print("  per site entry: %.1f bytes compressed (file), %.1f bytes before compression"
      % ((f15 - f5) / (e15 - e5), (s15 - s5) / (e15 - e5)))

print("== analysis of a long summary trace: manysites 36 s, 10 ms snapshots")
trace = os.path.join(tmp, "long.zst")
run([os.path.join(W, "manysites"), "36"], {"INTERCEPT_MALLOC": "summary",
                                           "INTERCEPT_SNAPSHOT_MS": "10"}, trace)
r = analyze(trace)
times = []
for _ in range(REPEAT):
    t = time.perf_counter()
    analyze(trace)
    times.append(time.perf_counter() - t)
print("  %d snapshots, %d site entries, trace %d bytes: analyze --format json %.2f s"
      % (r["growth"]["snapshots"], r["growth"]["site_entries"], r["summary"]["trace_bytes"],
         statistics.median(times)))
