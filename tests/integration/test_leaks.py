"""Leaks of known count, size and site through every allocation function (workload
leaks.c): the JSON report's sites equal the workload's own counts exactly, stacks start
at the allocating function, and the text report names them."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "leaks.zst")
out, _, _ = lib.run_traced([lib.workload("leaks")], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
lib.compare_sites(rep, truth)

s = rep["summary"]
lib.expect_eq(s["complete"], True, "summary.complete")
lib.expect_eq(s["dropped_events"], 0, "summary.dropped_events")
lib.expect_eq(rep["leaks"]["scanned"], False, "leaks.scanned")
lib.expect(os.path.basename(s["command"].split()[0]) == "leaks", "summary.command names the program")

# the innermost frame of a workload leak is the allocating function itself, with a line
for site in rep["leaks"]["sites"]:
    top = site["stack"][0] if site["stack"] else {}
    if top.get("function") in truth["sites"]:
        lib.expect(top["file"] and top["file"].endswith("leaks.c") and top["line"] > 0,
                   "leak frame %s has file:line" % top["function"])
        lib.expect(top["module"].endswith("/leaks"), "leak frame module is the program")

# totals cover at least the workload's own allocations (the C runtime adds its own)
want_allocs = sum(v["allocations"] for v in truth["sites"].values())
lib.expect(rep["alloc"]["allocations"] >= want_allocs, "alloc.allocations >= workload's")
lib.expect(rep["alloc"]["frees"] <= rep["alloc"]["allocations"], "frees <= allocations")
lib.expect_eq(rep["leaks"]["allocations"],
              rep["alloc"]["allocations"] - rep["alloc"]["frees"], "leaks = allocations - frees")

text = lib.analyze(trace, fmt="text").stdout
for fn in ("leak_malloc", "leak_realloc", "leak_aligned"):
    lib.expect(fn in text, "text report names %s" % fn)
lib.expect(all(len(line) <= 100 for line in text.splitlines()), "text fits 100 columns")
lib.done()
