"""A multithreaded allocation storm (workload storm.c: 4 threads, malloc/calloc/realloc,
rings, 7 leaks per thread): exact per-site counts and bytes, every thread seen, nothing
dropped, and the same run again in drop mode with tiny buffers still accounts for every
event as recorded or dropped."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "storm.zst")
out, _, _ = lib.run_traced([lib.workload("storm"), "4", "50000"], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
lib.compare_sites(rep, truth)
s = rep["summary"]
lib.expect_eq(s["dropped_events"], 0, "no drops in lossless mode")
lib.expect(s["threads"] >= 5, "main + 4 workers seen (got %d)" % s["threads"])
lib.expect_eq(s["complete"], True, "complete")
lib.expect_eq(rep["alloc"]["unmatched_frees"], 0, "every free matched a block")
# events the storm itself made: every malloc/calloc block is freed (FREE), realloc is one
# REALLOC event, the kept blocks are never freed
t = truth["sites"]
m, c = t["storm_malloc"]["allocations"], t["storm_calloc"]["allocations"]
r, k = t["storm_realloc"]["allocations"], t["storm_keep"]["allocations"]
storm_events = 2 * m + 2 * c + r + k
lib.expect(s["events"] >= storm_events, "events (%d) cover the storm's %d" % (s["events"], storm_events))

# drop mode with the smallest buffers: drops are counted, and recorded + dropped covers
# the storm (allocation and free events)
trace2 = os.path.join(d, "storm-drop.zst")
out2, _, _ = lib.run_traced([lib.workload("storm"), "4", "50000"], trace2,
                            opts=["--drop", "--buffer-kb", "64", "--flush-ms", "1000"])
rep2 = lib.analyze(trace2)
s2 = rep2["summary"]
lib.expect(s2["events"] + s2["dropped_events"] >= storm_events,
           "drop mode: recorded + dropped >= storm events")
print("drop mode: %d events recorded, %d dropped" % (s2["events"], s2["dropped_events"]))
lib.done()
