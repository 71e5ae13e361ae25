"""analyze check TRACE --budget FILE (check.c): exit 1 and one line per breach on stdout
(key, limit, actual value, entry), exit 0 within budget, exit 2 with one `analyze:` line
for a bad budget file. Budgets on the leaks workload are compared with the values it
counted itself; budgets on sql/http/locks (the contract's sections) run against JSON
reports; docs/examples/budget.json must stay a valid budget."""
import copy
import json
import os
import re
import subprocess
import lib

d = lib.tmpdir()
trace = os.path.join(d, "leaks.zst")
out, _, _ = lib.run_traced([lib.workload("leaks")], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
LINE = re.compile(r'^(.+?) limit=(\S+) actual=(\S+) (\S+)(?: (".*"))?$')


def check(target, budget, rc):
    path = os.path.join(d, "budget-%d.json" % check.n)
    check.n += 1
    with open(path, "w") as f:
        f.write(budget if isinstance(budget, str) else json.dumps(budget))
    p = subprocess.run([lib.ANALYZE, "check", target, "--budget", path], capture_output=True,
                       text=True, timeout=300)
    lib.expect_eq(p.returncode, rc, "check %s: exit status (stdout %r, stderr %r)"
                  % (budget, p.stdout[:300], p.stderr[:300]))
    if rc == 2:
        lib.expect(p.stderr.startswith("analyze: ") and p.stderr.count("\n") == 1 and not p.stdout,
                   "check %s: one analyze: line and nothing on stdout" % (budget,))
    lines = p.stdout.splitlines()
    for ln in lines:
        lib.expect(LINE.match(ln) is not None, "breach line format: %r" % ln)
    return [LINE.match(ln).groups() for ln in lines if LINE.match(ln)], p
check.n = 0


def index_of(entries, fn):
    return [i for i, s in enumerate(entries) if lib.owner(s["stack"], {fn}) == fn]


# a site budget, exact against the workload's own count
leaked = truth["sites"]["leak_malloc"]["leaked_bytes"]
i = index_of(rep["leaks"]["sites"], "leak_malloc")
lib.expect_eq(len(i), 1, "one leak site for leak_malloc")
b, _ = check(trace, {"leaks.sites[leak_malloc].bytes": leaked - 1, "summary.dropped_events": 0,
                     "alloc.peak_bytes": 1 << 40}, 1)
lib.expect_eq(len(b), 1, "one breach")
if b:
    key, limit, actual, entry, label = b[0]
    lib.expect_eq((key, int(limit), int(actual), entry),
                  ("leaks.sites[leak_malloc].bytes", leaked - 1, leaked, "leaks.sites[%d]" % i[0]),
                  "breach line fields")
    lib.expect(json.loads(label).startswith("unfreed: leak_malloc (leaks.c:"), "breach label: %s" % label)
b, p = check(trace, {"leaks.sites[leak_malloc].bytes": leaked}, 0)
lib.expect_eq((b, p.stdout, p.stderr), ([], "", ""), "at the limit: no breach, silent")

# every leak_* site at 0 bytes: one breach per workload leak site, in report order
want = [k for k, s in enumerate(rep["leaks"]["sites"])
        if any("leak_" in (f.get("function") or "") or "leak_" in (f.get("file") or "")
               or "leak_" in (f.get("module") or "") for f in s["stack"])]
b, _ = check(trace, {"leaks.sites[leak_].bytes": 0}, 1)
lib.expect_eq([e[3] for e in b], ["leaks.sites[%d]" % k for k in want], "one breach per matching entry")
lib.expect(len(want) >= 5, "several leak sites matched")
lib.expect_eq(sum(int(e[2]) for e in b),
              sum(v["leaked_bytes"] for k, v in truth["sites"].items() if k.startswith("leak_")),
              "breaches add up to the workload's leaked bytes")

# scalar keys, and a leak kind through "kinds"
lb = rep["leaks"]["bytes"]
b, _ = check(trace, {"leaks.bytes": lb - 1, "leaks.unfreed.allocations": 0}, 1)
lib.expect_eq([(e[0], int(e[2]), e[3]) for e in b],
              [("leaks.bytes", lb, "leaks"),
               ("leaks.unfreed.allocations", rep["leaks"]["allocations"], "leaks.kinds.unfreed")],
              "scalar breaches")
check(trace, {"leaks.bytes": lb, "alloc.sites.bytes": rep["alloc"]["sites"][0]["bytes"]}, 0)

# a section with no entries: not a breach, a warning
b, p = check(trace, {"locks.wait_ns": 0, "sql[orders].p99_ns": 0}, 0)
lib.expect(p.stderr.count("analyze: warning: ") == 2, "warnings for budgets that matched nothing")

# sql / http / locks as the contract writes them, in JSON reports
def sql(stmt, p95, p99):
    return {"statement": stmt, "executions": 3, "rows": 3, "total_ns": 3 * p95, "p50_ns": p95 // 2,
            "p95_ns": p95, "p99_ns": p99, "max_ns": p99, "busy": 0, "lock_wait_ns": 0,
            "fullscan_steps": 0}


def http(ep, p99, errors):
    return {"method": "POST", "endpoint": ep, "requests": 9, "errors": errors, "total_ns": 9 * p99,
            "p50_ns": p99 // 3, "p95_ns": p99 // 2, "p99_ns": p99, "max_ns": p99}


r2 = copy.deepcopy(rep)
r2["sql"] = [sql("SELECT * FROM orders WHERE id = ?", 4000000, 30000000),
             sql("SELECT v FROM kv WHERE k = ?", 6000000, 7000000),
             sql("UPDATE orders SET paid = ? WHERE id = ?", 1000000, 2000000)]
r2["http"] = [http("http://127.0.0.1:8080/checkout", 300000000, 0),
              http("http://127.0.0.1:8080/items/{id}", 400000000, 2)]
rp = os.path.join(d, "report.json")
with open(rp, "w") as f:
    json.dump(r2, f)
b, _ = check(rp, {"sql.p95_ns": 5000000, "sql[FROM orders].p99_ns": 20000000,
                  "http[/checkout].p99_ns": 250000000, "http.errors": 0,
                  "http[POST].p95_ns": 1000000000}, 1)
lib.expect_eq([(e[0], int(e[1]), int(e[2]), e[3], json.loads(e[4])) for e in b], [
    ("sql.p95_ns", 5000000, 6000000, "sql[1]", "SELECT v FROM kv WHERE k = ?"),
    ("sql[FROM orders].p99_ns", 20000000, 30000000, "sql[0]", "SELECT * FROM orders WHERE id = ?"),
    ("http[/checkout].p99_ns", 250000000, 300000000, "http[0]", "POST http://127.0.0.1:8080/checkout"),
    ("http.errors", 0, 2, "http[1]", "POST http://127.0.0.1:8080/items/{id}"),
], "sql and http breaches")

# the example budget in docs/ is valid (its sections empty here: warnings, never exit 2)
example = os.path.join(lib.HERE, "..", "..", "docs", "examples", "budget.json")
with open(example) as f:
    ex = f.read()
b, p = check(trace, ex, 0)

# bad budget files: exit 2, one line, nothing on stdout
for bad in ('', 'not json', '[1, 2]', '{"leaks.bytes": -1}', '{"leaks.bytes": "0"}',
            '{"leaks.bytes": 0, "leaks.bytes": 1}', '{"leaks.bites": 0}', '{"leaks..bytes": 0}',
            '{"sql[x.p95_ns": 0}', '{"sql[].p95_ns": 0}', '{".bytes": 0}', '{"leaks.bytes ": 0}',
            '{"leaks[x].bytes": 0}', '{"summary.command": 0}', '{"leaks.sites": 0}',
            '{"leaks.definite.bytes": 0}', '{"alloc.sites.nosuch": 0}', '{"a": 1} x'):
    check(trace, bad, 2)
_, p = check(trace, {"leaks.definite.bytes": 0}, 2)
lib.expect("kinds: unfreed" in p.stderr, "a missing kind names the kinds there are")
big = os.path.join(d, "big.json")
with open(big, "w") as f:
    f.write('{"leaks.bytes": 0, "x": "%s"}' % ("y" * (2 << 20)))
p = subprocess.run([lib.ANALYZE, "check", trace, "--budget", big], capture_output=True, text=True)
lib.expect_eq(p.returncode, 2, "budget file too large")
for args in (["check", trace], ["check", "--budget", example], ["check", trace, "--budget"],
             ["check", trace, "--budget", os.path.join(d, "nosuch.json")],
             ["check", os.path.join(d, "nosuch.zst"), "--budget", example],
             ["check", trace, "--budget", example, "--format", "json"]):
    p = subprocess.run([lib.ANALYZE, *args], capture_output=True, text=True, timeout=60)
    lib.expect_eq(p.returncode, 2, "%s: exit 2" % args)
    lib.expect(p.stderr.startswith("analyze: ") and p.stderr.count("\n") == 1, "%s: one line" % args)
lib.done()
