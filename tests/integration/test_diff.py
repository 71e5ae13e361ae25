"""analyze diff BASE NEW (diff.c). Real traces: the workload scaled.c run with N=1 and N=3
changes its sites by amounts it prints; every change the diff reports (absolute and
relative, per allocation and leak site, added and removed sites, totals) must equal the
ground truth. Synthetic JSON reports: sections the diff does not know by name (sql, http,
locks as the contract defines them) are compared the same generic way."""
import copy
import json
import os
import subprocess
import lib

d = lib.tmpdir()
runs = {}
for n in (1, 3):
    trace = os.path.join(d, "scaled%d.zst" % n)
    out, _, _ = lib.run_traced([lib.workload("scaled"), str(n)], trace)
    runs[n] = (trace, lib.truth_lines(out)[0])
base_trace, base_truth = runs[1]
new_trace, new_truth = runs[3]
base_rep = lib.analyze(base_trace)
new_rep = lib.analyze(new_trace)


def diff(*args, rc=0):
    p = subprocess.run([lib.ANALYZE, "diff", *args], capture_output=True, text=True, timeout=300)
    lib.expect_eq(p.returncode, rc, "analyze diff %s exit status (stderr %s)" % (args, p.stderr))
    return p


def entry_for(section, fn):
    """The diff entry of a section whose stack is owned by fn."""
    for e in section["entries"]:
        if lib.owner(e["key"].get("stack", []), {fn}) == fn:
            return e
    return None


out = json.loads(diff(base_trace, new_trace, "--format", "json").stdout)
lib.expect_eq(out["schema"], "intercept-diff/1", "schema")
secs = {s["section"]: s for s in out["sections"]}
lib.expect(set(secs) >= {"sql", "http", "locks", "alloc.sites", "leaks.sites"}, "sections present")

sites = secs["alloc.sites"]
lib.expect_eq(sites["cost"], "bytes", "alloc.sites ranked by bytes")
for fn in ("grow_site", "shrink_site", "fixed_site", "leak_site", "only_when_big", "only_when_small"):
    b = base_truth["sites"].get(fn, {"allocations": 0, "bytes": 0})
    n = new_truth["sites"].get(fn, {"allocations": 0, "bytes": 0})
    e = entry_for(sites, fn)
    lib.expect(e is not None, "alloc.sites entry for %s" % fn)
    if not e:
        continue
    lib.expect_eq((e["base"], e["new"], e["change"]), (b["bytes"], n["bytes"], n["bytes"] - b["bytes"]),
                  "%s bytes base/new/change" % fn)
    rel = None if b["bytes"] == 0 else (n["bytes"] - b["bytes"]) / b["bytes"]
    lib.expect(e["relative"] == rel or abs(e["relative"] - rel) < 1e-5, "%s relative %r" % (fn, e["relative"]))
    f = e["fields"]["allocations"]
    lib.expect_eq((f["base"], f["new"]), (b["allocations"], n["allocations"]), "%s allocations" % fn)
    want = ("added" if not b["bytes"] else "removed" if not n["bytes"] else
            "grown" if n["bytes"] > b["bytes"] else "shrunk" if n["bytes"] < b["bytes"] else "changed")
    lib.expect_eq(e["status"], want, "%s status" % fn)
# ranked by change: grow_site first (largest growth), shrink_site and the removed site last
lib.expect_eq(lib.owner(sites["entries"][0]["key"]["stack"], {"grow_site"}), "grow_site", "grow_site first")
changes = [e["change"] for e in sites["entries"]]
lib.expect(changes == sorted(changes, reverse=True), "entries sorted by change")
lib.expect_eq(sites["added"], 1, "one site added (only_when_big)")
lib.expect(sites["removed"] >= 1, "only_when_small removed")

leak = entry_for(secs["leaks.sites"], "leak_site")
lib.expect(leak is not None and (leak["base"], leak["new"]) ==
           (base_truth["sites"]["leak_site"]["leaked_bytes"], new_truth["sites"]["leak_site"]["leaked_bytes"]),
           "leak_site leaked bytes base/new")

totals = {t["field"]: t for t in out["totals"]}
for k in ("alloc.allocations", "alloc.bytes_allocated", "alloc.peak_bytes", "leaks.bytes"):
    sec, field = k.split(".")
    t = totals[k]
    lib.expect_eq((t["base"], t["new"], t["change"]), (base_rep[sec][field], new_rep[sec][field],
                  new_rep[sec][field] - base_rep[sec][field]), "total %s" % k)

# text: the grown sites first, with their change
txt = diff(base_trace, new_trace).stdout
lib.expect("Allocation sites by bytes" in txt, "text has the allocation section")
g = new_truth["sites"]["grow_site"]["bytes"] - base_truth["sites"]["grow_site"]["bytes"]
lib.expect(txt.index("grow_site") < txt.index("leak_site"), "text: grow_site ranked before leak_site")
lib.expect("+%d" % g in txt.replace(",", "") or "+19.5 KiB (+200.0%)" in txt, "text shows grow_site's change")
lib.expect("NEW" in txt, "text marks the added site")
# --top 1 keeps one entry per section in JSON
top1 = json.loads(diff(base_trace, new_trace, "--format", "json", "--top", "1").stdout)
lib.expect(all(len(s["entries"]) <= 1 for s in top1["sections"]), "--top 1")

# a diff of a report with itself: nothing grew
same = json.loads(diff(base_trace, base_trace, "--format", "json").stdout)
lib.expect(all(s["grown"] == 0 and s["shrunk"] == 0 for s in same["sections"]), "self diff: no change")

# ---- generic sections, from JSON reports -------------------------------------------------
def sql(stmt, n, total, p95):
    return {"statement": stmt, "executions": n, "rows": n, "total_ns": total, "p50_ns": p95 // 2,
            "p95_ns": p95, "p99_ns": p95, "max_ns": p95, "busy": 0, "lock_wait_ns": 0,
            "fullscan_steps": 0}


def http(ep, n, total, p99):
    return {"method": "GET", "endpoint": ep, "requests": n, "errors": 0, "total_ns": total,
            "p50_ns": p99 // 3, "p95_ns": p99 // 2, "p99_ns": p99, "max_ns": p99}


def lock(addr, fn, wait):
    return {"lock": addr, "kind": "mutex", "contended": 3, "wait_ns": wait, "max_wait_ns": wait,
            "stack": [{"function": fn, "file": "/src/app.c", "line": 10, "module": "/usr/bin/app",
                       "address": "0x401000", "inlined": False}]}


a = copy.deepcopy(base_rep)
b = copy.deepcopy(base_rep)
a["sql"] = [sql("SELECT v FROM kv WHERE k = ?", 100, 2000000, 30000),
            sql("SELECT * FROM orders WHERE id = ?", 10, 500000, 60000)]
b["sql"] = [sql("SELECT v FROM kv WHERE k = ?", 100, 2000000, 30000),
            sql("SELECT * FROM orders WHERE id = ?", 10, 1500000, 200000),
            sql("INSERT INTO log VALUES (?)", 5, 100000, 20000)]
a["http"] = [http("http://127.0.0.1:8080/items/{id}", 20, 8000000, 900000)]
b["http"] = [http("http://127.0.0.1:8080/items/{id}", 20, 6000000, 500000)]
# a lock at another address in the new run, same stack: the same lock
a["locks"] = [lock("0x7f0000001000", "cache_get", 1000000)]
b["locks"] = [lock("0x7f0000999000", "cache_get", 4000000)]
pa, pb = os.path.join(d, "a.json"), os.path.join(d, "b.json")
for path, rep in ((pa, a), (pb, b)):
    with open(path, "w") as f:
        json.dump(rep, f)
out = json.loads(diff(pa, pb, "--format", "json").stdout)
secs = {s["section"]: s for s in out["sections"]}
s = secs["sql"]
lib.expect_eq((s["cost"], s["grown"], s["shrunk"], s["added"], s["unchanged"]), ("total_ns", 2, 0, 1, 1),
              "sql counts")
top = s["entries"][0]
lib.expect_eq((top["key"]["statement"], top["change"], top["relative"]),
              ("SELECT * FROM orders WHERE id = ?", 1000000, 2.0), "sql: orders statement grew the most")
lib.expect_eq((top["fields"]["p95_ns"]["base"], top["fields"]["p95_ns"]["new"]), (60000, 200000), "sql p95")
h = secs["http"]["entries"][0]
lib.expect_eq((h["status"], h["change"], h["relative"]), ("shrunk", -2000000, -0.25), "http got faster")
lk = secs["locks"]
lib.expect_eq((len(lk["entries"]), lk["entries"][0]["status"], lk["entries"][0]["change"]),
              (1, "grown", 3000000), "lock matched across addresses by its stack")
totals = {t["field"]: t for t in out["totals"]}
lib.expect_eq((totals["sum(sql.total_ns)"]["base"], totals["sum(sql.total_ns)"]["new"]),
              (2500000, 3600000), "sum of sql time")
txt = diff(pa, pb).stdout
lib.expect("SQL statements by total_ns: 2 grew" in txt, "text sql heading")
lib.expect("SELECT * FROM orders WHERE id = ?" in txt and "+1.0 ms (+200.0%)" in txt, "text sql row")

# errors: one analyze: line, exit 2
for args in ((pa,), (pa, pb, pb), (pa, os.path.join(d, "missing.json")), (pa, pb, "--format", "html")):
    p = diff(*args, rc=2)
    lib.expect(p.stderr.startswith("analyze: ") and p.stderr.count("\n") == 1, "diff %s: one analyze: line" % (args,))
with open(os.path.join(d, "broken.json"), "w") as f:
    f.write('{"schema": "intercept-report/1", "sql": [1,}')
p = diff(pa, os.path.join(d, "broken.json"), rc=2)
lib.expect("line 1, column" in p.stderr, "broken JSON report: line and column")
lib.done()
