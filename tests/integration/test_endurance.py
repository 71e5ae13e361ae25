"""Endurance runs in summary mode (docs/endurance.md) on tests/workloads/endurance.c, which
leaks from leak_site() at a known rate, holds a level cache in cache_site() and churns
200,000 allocations a second in churn_site():
- while it runs: its trace is analyzable (complete false), and `analyze --follow` prints
  the growth report every second and stops when the process exits;
- after it: the leaking site's growth rate is within 10% of the truth and called growing,
  the cache is a plateau, the churn is not growing; every count and leak is exact (the
  snapshots carry the writer's exact live heap); --between reports what grew between two
  moments; the trace stays under the size bound docs/endurance.md states;
- a killed process: --follow notices the pid is gone and stops."""
import os
import signal
import subprocess
import time
import lib

SECONDS = 12
SITES = {"leak_site", "cache_site", "churn_site"}


def growth_by_owner(rep):
    out = {}
    for s in rep["growth"]["sites"]:
        fn = lib.owner(s["stack"], SITES)
        if fn:
            lib.expect(fn not in out, "one growth site for %s (got two stacks)" % fn)
            out[fn] = s
    return out


d = lib.tmpdir()
trace = os.path.join(d, "endurance.zst")
env = dict(os.environ, INTERCEPT_MALLOC="summary", INTERCEPT_SNAPSHOT_MS="500")
p = subprocess.Popen([lib.INTERCEPT, "-o", trace, "--", lib.workload("endurance"), str(SECONDS)],
                     stdout=subprocess.PIPE, text=True, env=env)
time.sleep(0.5)
fol = subprocess.Popen([lib.ANALYZE, "--follow", trace, "--refresh", "1", "--top", "3"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

# halfway: the trace of a running process
time.sleep(SECONDS / 2)
mid = lib.analyze(trace)
lib.expect_eq(mid["summary"]["complete"], False, "running: complete is false")
lib.expect("growth" in mid, "running: growth section present")
if "growth" in mid:
    g = growth_by_owner(mid)
    lib.expect_eq(g.get("leak_site", {}).get("verdict"), "growing", "running: leak_site verdict")

out, _ = p.communicate(timeout=SECONDS * 5)
lib.expect_eq(p.returncode, 0, "workload exit status")
truth = lib.truth_lines(out)[0]
t_exit = time.time()
fout, ferr = fol.communicate(timeout=60)
lib.expect_eq(fol.returncode, 0, "--follow exit status (stderr: %s)" % ferr.strip())
lib.expect(time.time() - t_exit < 10, "--follow stopped within 10 s of the exit")
rounds = fout.count("GROWTH ---")
lib.expect(rounds >= 4, "--follow printed %d reports (want >= 4)" % rounds)
last = fout[fout.rfind("(pid"):]
lib.expect("exited" in last.splitlines()[0], "--follow's last report says the process exited")
lib.expect("leak_site" in last and "growing" in last, "--follow's last report shows the leak")

rep = lib.analyze(trace)
lib.check_schema(rep)
lib.expect_eq(rep["summary"]["complete"], True, "complete")
lib.expect_eq(rep["summary"]["malloc_mode"], "summary", "malloc_mode")
lib.compare_sites(rep, truth)

gr = rep["growth"]
lib.expect_eq(gr["source"], "snapshots", "growth.source")
lib.expect_eq(gr["interval_ns"], 500000000, "growth.interval_ns")
lib.expect(gr["snapshots"] >= 2 * SECONDS - 2, "snapshots: %d" % gr["snapshots"])
rates = [s["bytes_per_s"] for s in gr["sites"]]
lib.expect(rates == sorted(rates, reverse=True), "growth.sites sorted by bytes_per_s")
for s in gr["sites"]:
    lib.expect(s["verdict"] in ("growing", "plateau", "noise"), "verdict word")
    lib.expect(0 <= s["fit"] <= 1, "fit in 0..1")
    lib.expect_eq(len(s["series"]), len(gr["times_ns"]), "series length")
g = growth_by_owner(rep)
leak, cache, churn = g.get("leak_site"), g.get("cache_site"), g.get("churn_site")
lib.expect(leak and cache and churn, "growth has the three sites")
if leak and cache and churn:
    want = truth["leak_bytes_per_s"]
    lib.expect(abs(leak["bytes_per_s"] - want) <= 0.10 * want,
               "leak rate %.0f B/s within 10%% of %d" % (leak["bytes_per_s"], want))
    lib.expect_eq(leak["verdict"], "growing", "leak_site verdict")
    lib.expect(leak["fit"] >= 0.9, "leak_site fit %.3f" % leak["fit"])
    lib.expect_eq(leak["live_bytes"], truth["sites"]["leak_site"]["leaked_bytes"],
                  "leak_site live_bytes at the end")
    lib.expect_eq(cache["verdict"], "plateau", "cache_site verdict")
    lib.expect(churn["verdict"] != "growing", "churn_site not growing (%s)" % churn["verdict"])
    lib.expect(max(cache["series"]) >= 0.9 * truth["cache_live_bytes"], "cache level drawn")

# The size bound of docs/endurance.md ("Summary mode: what it costs").
sm = rep["summary"]
bound = (4096 + 300 * sm["modules"] + 200 * sm["stacks"] + 256 * gr["snapshots"] +
         24 * gr["site_entries"])
lib.expect(sm["trace_bytes"] <= bound,
           "trace %d bytes <= documented bound %d" % (sm["trace_bytes"], bound))
lib.expect(gr["snapshot_bytes"] <= 64 * gr["snapshots"] + 24 * gr["site_entries"],
           "snapshot records %d bytes within 64/snapshot + 24/site" % gr["snapshot_bytes"])

# What grew between 3 s and 9 s
btw = lib.analyze(trace, "--between", "3s", "9000ms")["growth"]["between"]
span = (btw["to_ns"] - btw["from_ns"]) / 1e9
lib.expect(abs(btw["from_ns"] / 1e9 - 3) < 0.3 and abs(btw["to_ns"] / 1e9 - 9) < 0.3,
           "between: nearest snapshots (%.2f s, %.2f s)" % (btw["from_ns"] / 1e9,
                                                            btw["to_ns"] / 1e9))
bsites = {}
for s in btw["sites"]:
    fn = lib.owner(s["stack"], SITES)
    if fn:
        bsites[fn] = s
lib.expect(btw["sites"] and lib.owner(btw["sites"][0]["stack"], SITES) == "leak_site",
           "between: the leak grew the most")
if "leak_site" in bsites:
    want = truth["leak_bytes_per_s"] * span
    got = bsites["leak_site"]["delta_bytes"]
    lib.expect(abs(got - want) <= 0.05 * want + 2000,
               "between: leak grew %d bytes, want %.0f" % (got, want))
if "cache_site" in bsites:
    lib.expect(abs(bsites["cache_site"]["delta_bytes"]) < 0.05 * truth["cache_live_bytes"],
               "between: the cache stayed level")
text = lib.analyze(trace, "--between", "3", "end", fmt="text").stdout
lib.expect("GROWTH ---" in text and "GROWTH BETWEEN" in text, "text growth sections")
lib.expect("summary mode" in text, "text says summary mode")
# the html heap chart draws the snapshots' totals when the events are not in the trace
html = lib.analyze(trace, fmt="html").stdout
lib.expect("From the heap snapshots" in html and 'class="line"' in html,
           "html heap chart drawn from the snapshots")
lib.expect(any(c in text for c in "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"),
           "text has a sparkline")
bad = subprocess.run([lib.ANALYZE, trace, "--between", "9s", "3s"], capture_output=True,
                     text=True)
lib.expect(bad.returncode == 2 and bad.stderr.startswith("analyze: "), "--between T2 < T1")

# A killed process: --follow stops once the pid is gone.
trace2 = os.path.join(d, "killed.zst")
p = subprocess.Popen([lib.INTERCEPT, "-o", trace2, "--", lib.workload("endurance"), "60"],
                     stdout=subprocess.PIPE, text=True, env=env)
time.sleep(1)
fol = subprocess.Popen([lib.ANALYZE, "--follow", trace2, "--refresh", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(2.5)
p.send_signal(signal.SIGKILL)
p.wait(timeout=10)
t_kill = time.time()
fout, ferr = fol.communicate(timeout=30)
lib.expect_eq(fol.returncode, 0, "--follow of a killed process: exit status")
lib.expect(time.time() - t_kill < 6, "--follow stopped within 6 s of the kill")
lib.expect("gone" in fout[fout.rfind("(pid"):].splitlines()[0],
           "--follow says the process is gone")
lib.done()
