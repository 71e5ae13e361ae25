"""analyze TRACE1 TRACE2 (merge.c): a parent and its forked child (workload forker.c)
merged into one report. Every site adds up exactly to the two processes' own ground
truth; the per-process list keeps each process's totals, equal to its own single-trace
report; the merged totals are the sums; text and html render the merged report."""
import json
import os
import subprocess
import lib

d = lib.tmpdir()
trace = os.path.join(d, "fork.zst")
out, _, _ = lib.run_traced([lib.workload("forker")], trace)
truths = {t["role"]: t for t in lib.truth_lines(out)}
child_trace = os.path.join(d, "fork.%d.zst" % truths["child"]["pid"])
lib.expect(os.path.exists(child_trace), "child trace exists")

parent = lib.analyze(trace)
child = lib.analyze(child_trace)
# the child first: the merged report orders processes by start time anyway
p = subprocess.run([lib.ANALYZE, child_trace, trace, "--format", "json"], capture_output=True,
                   text=True, timeout=300)
lib.expect_eq(p.returncode, 0, "merged analyze exit status")
merged = json.loads(p.stdout)
lib.check_schema(merged)

# ground truth: both processes' sites together
combined = {"sites": {}}
for t in truths.values():
    for fn, v in t["sites"].items():
        c = combined["sites"].setdefault(fn, {k: 0 for k in v})
        for k in v:
            c[k] += v[k]
lib.compare_sites(merged, combined, "merged: ")

# per-process totals, in start order (the parent started first)
procs = merged["processes"]
lib.expect_eq([x["pid"] for x in procs], [truths["parent"]["pid"], truths["child"]["pid"]],
              "processes in start order")
for rep, pr in ((parent, procs[0]), (child, procs[1])):
    lib.expect_eq(pr["ppid"], rep["summary"]["ppid"], "process %d ppid" % pr["pid"])
    lib.expect_eq(pr["fork_child"], rep["summary"]["fork_child"], "process %d fork_child" % pr["pid"])
    lib.expect_eq(pr["events"], rep["summary"]["events"], "process %d events" % pr["pid"])
    for k in ("allocations", "frees", "bytes_allocated", "peak_bytes"):
        lib.expect_eq(pr["alloc"][k], rep["alloc"][k], "process %d alloc.%s" % (pr["pid"], k))
    for k in ("bytes", "allocations"):
        lib.expect_eq(pr["leaks"][k], rep["leaks"][k], "process %d leaks.%s" % (pr["pid"], k))
    pts = pr["alloc"]["heap_timeline"]["points"]
    lib.expect(len(pts) > 0 and max(p["max_bytes"] for p in pts) == rep["alloc"]["peak_bytes"],
               "process %d timeline holds its peak" % pr["pid"])
    lib.expect(pts and pts[-1]["bytes"] == rep["leaks"]["bytes"], "process %d timeline ends at its leaks" % pr["pid"])
    lib.expect(pts and pts[0]["t_ns"] >= pr["start_ns"], "process %d timeline in the merged clock" % pr["pid"])
lib.expect(procs[1]["start_ns"] >= procs[0]["start_ns"], "child starts after the parent")

# merged totals are the sums (the peak: the sum of each process's own peak, documented)
for k in ("allocations", "frees", "bytes_allocated", "unmatched_frees", "peak_bytes"):
    lib.expect_eq(merged["alloc"][k], parent["alloc"][k] + child["alloc"][k], "merged alloc.%s" % k)
for k in ("bytes", "allocations"):
    lib.expect_eq(merged["leaks"][k], parent["leaks"][k] + child["leaks"][k], "merged leaks.%s" % k)
lib.expect_eq(merged["summary"]["events"], parent["summary"]["events"] + child["summary"]["events"],
              "merged events")
lib.expect_eq(merged["alloc"]["peak_is_sum_of_processes"], True, "merged peak says it is a sum")
lib.expect_eq(parent["alloc"]["peak_is_sum_of_processes"], False, "a single trace's peak is exact")
lib.expect_eq(merged["summary"]["pid"], truths["parent"]["pid"], "merged summary is the parent's")
lib.expect_eq(merged["summary"]["complete"], True, "merged complete")
lib.expect_eq(sum(s["bytes"] for s in merged["alloc"]["sites"]), merged["alloc"]["bytes_allocated"],
              "merged sites add up to the total")
lib.expect_eq(sum(s["bytes"] for s in merged["leaks"]["sites"]), merged["leaks"]["bytes"],
              "merged leak sites add up to the total")
# the merged heap timeline adds the processes up interval by interval
mpts = merged["alloc"]["heap_timeline"]["points"]
lib.expect(len(mpts) > 0, "merged timeline")
lib.expect(mpts and mpts[-1]["bytes"] == merged["leaks"]["bytes"], "merged timeline ends at the leaks")
top = max(p["max_bytes"] for p in mpts) if mpts else 0
lib.expect(max(parent["alloc"]["peak_bytes"], child["alloc"]["peak_bytes"]) <= top <= merged["alloc"]["peak_bytes"],
           "merged timeline's top between the largest process peak and the sum of peaks")

# text says what was merged; the same trace twice doubles every count and, its stacks being
# identical, keeps the number of sites (stacks merge by module and address)
t = lib.analyze(trace, child_trace, fmt="text")
lib.expect("merged from 2 processes" in t.stdout, "text names the merge")
twice = json.loads(subprocess.run([lib.ANALYZE, trace, trace, "--format", "json"],
                                  capture_output=True, text=True, timeout=300).stdout)
lib.expect_eq(twice["alloc"]["allocations"], 2 * parent["alloc"]["allocations"], "same trace twice")
lib.expect_eq(len(twice["alloc"]["sites"]), len(parent["alloc"]["sites"]), "same trace twice: same sites")

# a bad trace among several: exit 2, one analyze: line
bad = os.path.join(d, "bad.zst")
with open(bad, "wb") as f:
    f.write(b"not a trace at all")
p = subprocess.run([lib.ANALYZE, trace, bad], capture_output=True, text=True, timeout=60)
lib.expect_eq(p.returncode, 2, "bad trace in a merge: exit 2")
lib.expect(p.stderr.startswith("analyze: ") and p.stderr.count("\n") == 1, "one analyze: line")
lib.done()
