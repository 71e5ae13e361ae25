"""The growth report of a full trace without snapshots (INTERCEPT_SNAPSHOT_MS=0): the
analyzer samples every site's live bytes from the event stream itself (docs/endurance.md).
On tests/workloads/endurance.c the leak's rate is within 10% of the truth, the cache is a
plateau, the churn is not growing, and --between is exact at the moments asked."""
import os
import lib

SECONDS = 10
SITES = {"leak_site", "cache_site", "churn_site"}

d = lib.tmpdir()
trace = os.path.join(d, "events.zst")
out, _, _ = lib.run_traced([lib.workload("endurance"), str(SECONDS)], trace,
                           env={"INTERCEPT_SNAPSHOT_MS": "0"})
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace, "--between", "2s", "8s")
lib.check_schema(rep)
lib.compare_sites(rep, truth)
gr = rep["growth"]
lib.expect_eq(gr["source"], "events", "growth.source")
lib.expect_eq(gr["snapshots"], 0, "no snapshots")
lib.expect(len(gr["times_ns"]) >= 32, "points: %d" % len(gr["times_ns"]))
g = {}
for s in gr["sites"]:
    fn = lib.owner(s["stack"], SITES)
    if fn:
        g[fn] = s
lib.expect(set(g) == SITES, "growth has the three sites")
if set(g) == SITES:
    want = truth["leak_bytes_per_s"]
    lib.expect(abs(g["leak_site"]["bytes_per_s"] - want) <= 0.10 * want,
               "leak rate %.0f within 10%% of %d" % (g["leak_site"]["bytes_per_s"], want))
    lib.expect_eq(g["leak_site"]["verdict"], "growing", "leak_site verdict")
    lib.expect_eq(g["cache_site"]["verdict"], "plateau", "cache_site verdict")
    lib.expect(g["churn_site"]["verdict"] != "growing", "churn_site not growing")
btw = gr["between"]
lib.expect(abs(btw["from_ns"] - 2e9) < 5e6 and abs(btw["to_ns"] - 8e9) < 5e6,
           "between: at the moments asked (%d, %d)" % (btw["from_ns"], btw["to_ns"]))
lk = [s for s in btw["sites"] if lib.owner(s["stack"], SITES) == "leak_site"]
if lk:
    want = truth["leak_bytes_per_s"] * (btw["to_ns"] - btw["from_ns"]) / 1e9
    lib.expect(abs(lk[0]["delta_bytes"] - want) <= 0.02 * want + 2000,
               "between: leak grew %d, want %.0f" % (lk[0]["delta_bytes"], want))
else:
    lib.expect(False, "between lists the leak")
lib.done()
