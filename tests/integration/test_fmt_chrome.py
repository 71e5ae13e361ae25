"""--format chrome on a multithreaded run (workload storm.c): the file parses as JSON (the
trace event format Perfetto UI and chrome://tracing open), and its events agree with the
JSON report: a name for the process and every thread, one slice per thread that recorded
events, one live-heap counter point per interval of the report's heap_timeline in which
something changed plus the final level, whose largest value is alloc.peak_bytes and whose
last is leaks.bytes; the peak instant matches. With the slice cap lowered, the longest
slices are kept and what was left out is counted in the file and on stderr."""
import json
import os
import subprocess

import fmtlib
import lib

trace, truth, rep = fmtlib.traced("storm", ["4", "20000"])
summ = rep["summary"]
out = fmtlib.analyze_raw(trace, "--format", "chrome").stdout
doc = json.loads(out)
ev = doc["traceEvents"]
by_ph = {}
for e in ev:
    by_ph.setdefault(e["ph"], []).append(e)
    lib.expect(e["pid"] == summ["pid"], "every event is the traced pid's")

threads = [e for e in by_ph.get("M", []) if e["name"] == "thread_name"]
procs = [e for e in by_ph.get("M", []) if e["name"] == "process_name"]
lib.expect_eq(len(procs), 1, "one process_name")
lib.expect_eq(len(threads), summ["threads"], "a thread_name per thread of the report")
lib.expect(summ["threads"] >= 5, "main + 4 workers")

all_slices = by_ph.get("X", [])
slices = [s for s in all_slices if s.get("cat") == "thread"]
lib.expect_eq(len(slices), summ["threads"], "one slice per thread (every thread allocated)")
# storm's threads take one mutex at their end: a wait for it is a "lock" slice
lib.expect_eq(len(all_slices) - len(slices), sum(l["contended"] for l in rep["locks"]),
              "one lock slice per contended acquisition")
lib.expect_eq(doc["otherData"]["slices"], len(all_slices), "otherData.slices")
lib.expect_eq(doc["otherData"]["slices_left_out"], 0, "nothing left out")
lib.expect_eq(sum(s["args"]["events"] for s in slices), summ["events"],
              "thread slices account for every event")
dur_us = summ["duration_ns"] / 1000.0
for s in slices:
    lib.expect(0 <= s["ts"] and s["ts"] + s["dur"] <= dur_us + 0.001,
               "slice within the run: %r" % s)

points = rep["alloc"]["heap_timeline"]["points"]
counters = by_ph.get("C", [])
lib.expect_eq(len(counters), sum(1 for p in points if p["changed"]) + 1,
              "a counter point per changed interval + the end")
lib.expect(len(points) <= 1024, "heap_timeline is bounded")
vals = [c["args"]["bytes"] for c in counters]
lib.expect_eq(max(vals), rep["alloc"]["peak_bytes"], "counter maximum = peak_bytes")
lib.expect_eq(vals[-1], rep["leaks"]["bytes"], "last counter = leaks.bytes")
lib.expect(all(counters[k]["ts"] <= counters[k + 1]["ts"] for k in range(len(counters) - 1)),
           "counter points in time order")
peak = by_ph.get("i", [])
lib.expect_eq(len(peak), 1, "one peak instant")
if peak:
    lib.expect_eq(peak[0]["args"]["bytes"], rep["alloc"]["peak_bytes"], "peak instant bytes")
    lib.expect_eq(round(peak[0]["ts"] * 1000), rep["alloc"]["peak_ns"], "peak instant time")
lib.expect_eq(max(p["max_bytes"] for p in points), rep["alloc"]["peak_bytes"],
              "heap_timeline keeps the peak")

# the cap: keep the 2 longest slices, say how many were left out
env = dict(os.environ, ANALYZE_CHROME_MAX_SLICES="2")
p = subprocess.run([lib.ANALYZE, trace, "--format", "chrome"], capture_output=True, text=True,
                   env=env, timeout=120)
lib.expect_eq(p.returncode, 0, "capped chrome exits 0")
capped = json.loads(p.stdout)
cs = [e for e in capped["traceEvents"] if e["ph"] == "X"]
lib.expect_eq(len(cs), 2, "capped to 2 slices")
lib.expect_eq(capped["otherData"]["slices_left_out"], len(all_slices) - 2, "left-out count")
longest = sorted((s["dur"] for s in all_slices), reverse=True)[:2]
lib.expect_eq(sorted((s["dur"] for s in cs), reverse=True), longest, "the longest are kept")
lib.expect(p.stderr.startswith("analyze: warning: chrome: %d of %d slices left out"
                               % (len(all_slices) - 2, len(all_slices))),
           "stderr says so: %r" % p.stderr)
lib.done()
