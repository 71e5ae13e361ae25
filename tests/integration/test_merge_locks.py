"""Lock contention across processes and runs (merge.c's merge_locks, lock_stacks): the
workload lockers (deterministic contention with exact ground truth) run twice, each its own
trace. Merged, every lock of each process is its own entry with that process's exact
counts, and the lock waits by stack add up to the summary; a diff matches each lock across
the runs although its address differs; a budget on contention names each lock; the html
page draws the lock-wait flame graph with the lock as the innermost frame."""
import json
import os
import re
import subprocess

import lib

d = lib.tmpdir()
runs = []
for name, rounds in (("a", 4), ("b", 7)):
    trace = os.path.join(d, name + ".zst")
    out, _, _ = lib.run_traced([lib.workload("lockers"), "contend", str(rounds), "2"], trace)
    runs.append((trace, lib.truth_lines(out)[0]))
(ta, truth_a), (tb, truth_b) = runs
ra, rb = lib.analyze(ta), lib.analyze(tb)

p = subprocess.run([lib.ANALYZE, ta, tb, "--format", "json"], capture_output=True, text=True,
                   timeout=300)
lib.expect_eq(p.returncode, 0, "merged analyze (%s)" % p.stderr)
m = json.loads(p.stdout)
lib.check_schema(m)

# each process's contended locks, with their exact counts, as separate entries
want = sorted((t["locks"][n]["kind"], t["locks"][n]["contended"], t["locks"][n]["timeouts"])
              for t in (truth_a, truth_b) for n in t["locks"] if t["locks"][n]["contended"])
got = sorted((x["kind"], x["contended"], x["timeouts"]) for x in m["locks"])
lib.expect_eq(got, want, "merged locks: one entry per process's lock, exact counts")
lib.expect_eq(sum(x["wait_ns"] for x in m["locks"]),
              sum(x["wait_ns"] for x in ra["locks"]) + sum(x["wait_ns"] for x in rb["locks"]),
              "merged wait adds up")
for key in ("pthread_lock_wait_ns",):
    lib.expect_eq(m["summary"][key], ra["summary"][key] + rb["summary"][key], "summary " + key)
ls = m["lock_stacks"]
lib.expect_eq(sum(x["wait_ns"] for x in ls), m["summary"]["pthread_lock_wait_ns"],
              "lock_stacks add up to the summary's lock wait")
lib.expect_eq(sum(x["contended"] for x in ls), sum(x["contended"] for x in m["locks"]),
              "lock_stacks count every contended acquisition")
lib.expect(all(re.fullmatch(r"\[(mutex|rwlock) 0x[0-9a-f]+( read| write)?\]", x["frame"]) for x in ls),
           "lock frames named like --format folded's")
waited = {f["function"] for x in ls for f in x["stack"][:3]}
lib.expect({"wait_hot_mutex", "read_table", "write_table"} <= waited, "waiting functions: %s" % waited)
for r in (ra, m):  # lock_stacks in a single report too, adding up the same way
    lib.expect_eq(sum(x["wait_ns"] for x in r["lock_stacks"]), sum(x["wait_ns"] for x in r["locks"]),
                  "lock_stacks = locks' wait")

# a diff of the two runs matches every lock by kind and where it was first contended
p = subprocess.run([lib.ANALYZE, "diff", ta, tb, "--format", "json"], capture_output=True,
                   text=True, timeout=300)
sec = {s["section"]: s for s in json.loads(p.stdout)["sections"]}["locks"]
lib.expect_eq((sec["added"], sec["removed"]), (0, 0), "diff: each lock matched across runs")
hot = [e for e in sec["entries"] if e["key"]["kind"] == "mutex"]
lib.expect(len(hot) == 1 and (hot[0]["fields"]["contended"]["base"], hot[0]["fields"]["contended"]["new"])
           == (truth_a["locks"]["hot_mutex"]["contended"], truth_b["locks"]["hot_mutex"]["contended"]),
           "diff: hot_mutex contended base -> new")

# a budget on contention: one line per contended lock of either process
budget = os.path.join(d, "budget.json")
with open(budget, "w") as f:
    json.dump({"locks.contended": 1}, f)
p = subprocess.run([lib.ANALYZE, "check", ta, tb, "--budget", budget], capture_output=True,
                   text=True, timeout=300)
lib.expect_eq(p.returncode, 1, "check: exit 1")
lib.expect_eq(len(p.stdout.splitlines()), len(want), "check: a line per contended lock")

# html: the lock-wait flame graph totals the summary, with the lock frames in it
html = os.path.join(d, "locks.html")
subprocess.run([lib.ANALYZE, ta, tb, "--format", "html", "-o", html], check=True, timeout=300)
text = open(html, encoding="utf-8").read()
g = re.search(r'<svg class="flame"[^>]*data-section="lock_stacks" data-field="wait_ns" '
              r'data-total="([^"]*)"', text)
lib.expect(g is not None and float(g.group(1)) == m["summary"]["pthread_lock_wait_ns"],
           "html: lock-wait flame graph total")
lib.expect('data-l="[mutex 0x' in text and 'data-l="wait_hot_mutex"' in text, "html: lock frames")
lib.done()
