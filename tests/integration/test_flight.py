"""The flight recorder (INTERCEPT_MAX_MB, docs/endurance.md) on tests/workloads/endurance.c
in full mode, which would write ~20 MB of events in 12 s:
- the trace file never exceeds the bound (polled all along), and is analyzable while the
  process runs (the path always names a whole trace: rewrites replace it by rename);
- afterwards the oldest chunks are gone (missing_chunks > 0) but every allocation count and
  every leak is exact (from the snapshots), the growth report covers the whole run (the
  snapshots of dropped chunks are kept) with the leak's rate within 10% and the cache a
  plateau, and no temporary file is left behind;
- killed with SIGKILL, a bounded trace is still under the bound and analyzable;
- in summary mode with big snapshots (1024 sites every 10 ms) under 1 MiB, the growth
  report still spans the whole run and the totals are exact."""
import glob
import os
import signal
import subprocess
import time
import lib

SECONDS = 12
BOUND_MB = 4
SITES = {"leak_site", "cache_site", "churn_site"}


def poll_size(path, until_dead, proc, max_seen, mid=None):
    analyzed = None
    t0 = time.time()
    while proc.poll() is None:
        try:
            max_seen = max(max_seen, os.stat(path).st_size)
        except FileNotFoundError:
            pass
        if mid and analyzed is None and time.time() - t0 > mid:
            analyzed = lib.analyze(path)
        time.sleep(0.05)
    return max_seen, analyzed


d = lib.tmpdir()
trace = os.path.join(d, "flight.zst")
env = dict(os.environ, INTERCEPT_MAX_MB=str(BOUND_MB), INTERCEPT_SNAPSHOT_MS="500")
p = subprocess.Popen([lib.INTERCEPT, "-o", trace, "--", lib.workload("endurance"), str(SECONDS)],
                     stdout=subprocess.PIPE, text=True, env=env)
max_seen, mid = poll_size(trace, True, p, 0, mid=SECONDS * 0.6)
out = p.stdout.read()
lib.expect_eq(p.wait(), 0, "workload exit status")
max_seen = max(max_seen, os.stat(trace).st_size)
lib.expect(max_seen <= BOUND_MB << 20, "file size %d <= bound %d" % (max_seen, BOUND_MB << 20))
lib.expect(max_seen >= (BOUND_MB << 20) // 3, "the bound was reached (max %d)" % max_seen)
lib.expect(mid is not None and mid["summary"]["complete"] is False, "analyzable while running")
lib.expect_eq(glob.glob(os.path.join(d, "*.tmp")), [], "no temporary file left")

truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
sm = rep["summary"]
lib.expect_eq(sm["complete"], True, "complete")
lib.expect(sm["missing_chunks"] > 0, "old chunks were dropped (%d)" % sm["missing_chunks"])
lib.compare_sites(rep, truth)  # exact: totals and leaks from the final snapshot
lib.expect_eq(rep["alloc"]["unmatched_frees"], 0, "no unmatched frees")
gr = rep["growth"]
lib.expect(gr["times_ns"][0] < 1e9, "growth starts at the start of the run (%d ns)"
           % gr["times_ns"][0])
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
text = lib.analyze(trace, fmt="text").stdout
lib.expect("flight recorder" in text, "text says the figures come from the snapshots")

# Killed while bounded.
trace2 = os.path.join(d, "killed.zst")
env2 = dict(env, INTERCEPT_MAX_MB="2")
p = subprocess.Popen([lib.INTERCEPT, "-o", trace2, "--", lib.workload("endurance"), "60"],
                     stdout=subprocess.PIPE, text=True, env=env2)
t0 = time.time()
seen = 0
while time.time() - t0 < 5:
    try:
        seen = max(seen, os.stat(trace2).st_size)
    except FileNotFoundError:
        pass
    time.sleep(0.05)
p.send_signal(signal.SIGKILL)
p.wait(timeout=10)
seen = max(seen, os.stat(trace2).st_size)
lib.expect(seen <= 2 << 20, "killed: size %d <= 2 MiB" % seen)
rep = lib.analyze(trace2)
lib.expect_eq(rep["summary"]["complete"], False, "killed: complete is false")
lk = [s for s in rep["leaks"]["sites"] if lib.owner(s["stack"], SITES) == "leak_site"]
lib.expect(len(lk) == 1, "killed: the leak is reported")
if lk:
    # as of the newest snapshot: ~rate x its time, give or take the start-up offset
    t = rep["growth"]["times_ns"][-1] / 1e9
    want = 100000 * t
    lib.expect(abs(lk[0]["bytes"] - want) <= 0.05 * want + 5000,
               "killed: leaked %d bytes by %.2f s, want ~%.0f" % (lk[0]["bytes"], t, want))
# Summary mode under a 1 MiB bound with 1024 sites changing every 10 ms: snapshots are the
# whole trace and each is ~11 KB, so the rewrites drop snapshots; the archive of the dropped
# ones keeps the growth report spanning the whole run, evenly.
trace3 = os.path.join(d, "many.zst")
env3 = dict(os.environ, INTERCEPT_MAX_MB="1", INTERCEPT_MALLOC="summary",
            INTERCEPT_SNAPSHOT_MS="10")
p = subprocess.Popen([lib.INTERCEPT, "-o", trace3, "--", lib.workload("manysites"), "10"],
                     stdout=subprocess.PIPE, text=True, env=env3)
seen, _ = poll_size(trace3, True, p, 0)
out3 = p.stdout.read()
lib.expect_eq(p.wait(), 0, "manysites exit status")
seen = max(seen, os.stat(trace3).st_size)
lib.expect(seen <= 1 << 20, "many sites: size %d <= 1 MiB" % seen)
rep = lib.analyze(trace3, "--no-symbols")
truth3 = lib.truth_lines(out3)[0]["sites"]["all"]
lib.expect(rep["summary"]["missing_chunks"] > 0, "many sites: chunks were dropped (%d snapshots, "
           "max size %d)" % (rep["growth"]["snapshots"], seen))
got = rep["alloc"]["allocations"]
lib.expect(truth3["allocations"] <= got <= truth3["allocations"] + 16,
           "many sites: allocations %d, truth %d (+ libc's own)" % (got, truth3["allocations"]))
t = [x / 1e9 for x in rep["growth"]["times_ns"]]
# (without the archive the series would begin where the kept chunks do, seconds in; its
# first point averages the run's first snapshot with the next one)
lib.expect(t[0] < 1.5, "many sites: the series starts at the start (%.2f s)" % t[0])
lib.expect(sum(1 for x in t if x < 5) >= 2,
           "many sites: the dropped first half is still drawn (%d points)"
           % sum(1 for x in t if x < 5))
lib.done()
