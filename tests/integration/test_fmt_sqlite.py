"""--format sqlite -o FILE, queried with the real sqlite3 shell (Debian's sqlite3): the
tables of docs/formats.md exist, their totals equal the JSON's, a join of leak_sites with
stack_frames gives each workload function's own leaks, every site's stack reads frame by
frame as the JSON's (function, file, line, module, address), and FILE is replaced whole
(no temporary left behind); without -o the format is a usage error."""
import json
import os
import subprocess

import fmtlib
import lib

SQLITE3 = fmtlib.need("sqlite3", "sqlite3")
trace, truth, rep = fmtlib.traced("leaks")
db = os.path.join(os.path.dirname(trace), "out.db")
with open(db, "w") as f:
    f.write("an older file at the same path is replaced\n")
fmtlib.analyze_raw(trace, "--format", "sqlite", "-o", db)
lib.expect_eq(sorted(os.listdir(os.path.dirname(db))), sorted(["leaks.zst", "out.db"]),
              "no temporary file left")


def q(sql):
    p = subprocess.run([SQLITE3, "-readonly", "-json", db, sql], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit("FAIL: sqlite3 %r: %s" % (sql, p.stderr))
    return json.loads(p.stdout) if p.stdout.strip() else []


tables = {r["name"] for r in q("SELECT name FROM sqlite_schema WHERE type IN ('table','view')")}
for t in ("meta", "summary", "threads", "frames", "stacks", "stack_frames", "alloc",
          "alloc_sites", "heap_timeline", "leaks", "leak_sites", "warnings"):
    lib.expect(t in tables, "table %s exists" % t)
lib.expect_eq(q("SELECT value FROM meta WHERE key = 'schema'"), [{"value": "intercept-sqlite/1"}],
              "schema version")
s = q("SELECT * FROM summary")[0]
for k in ("pid", "command", "duration_ns", "threads", "events", "dropped_events"):
    lib.expect_eq(s[k], rep["summary"][k], "summary.%s" % k)
a = q("SELECT * FROM alloc")[0]
for k in ("allocations", "frees", "bytes_allocated", "peak_bytes", "peak_ns"):
    lib.expect_eq(a[k], rep["alloc"][k], "alloc.%s" % k)
tot = q("SELECT count(*) AS n, sum(allocations) AS a, sum(bytes) AS b, sum(leaked_bytes) AS l "
        "FROM alloc_sites")[0]
lib.expect_eq((tot["n"], tot["a"], tot["b"], tot["l"]),
              (len(rep["alloc"]["sites"]), rep["alloc"]["allocations"],
               rep["alloc"]["bytes_allocated"], rep["leaks"]["bytes"]), "alloc_sites totals")
lk = q("SELECT l.bytes, l.allocations, (SELECT sum(bytes) FROM leak_sites) AS site_bytes "
       "FROM leaks l")[0]
lib.expect_eq((lk["bytes"], lk["allocations"], lk["site_bytes"]),
              (rep["leaks"]["bytes"], rep["leaks"]["allocations"], rep["leaks"]["bytes"]),
              "leaks totals")

# each workload function's leaks, by the innermost frame that is a workload function
rows = q("SELECT l.stack_id, l.bytes, l.allocations, group_concat(f.function, '|') AS fns "
         "FROM leak_sites l JOIN (SELECT * FROM stack_frames ORDER BY stack_id, depth) f "
         "USING(stack_id) GROUP BY l.stack_id")
per_fn = {}
for r in rows:
    fn = fmtlib.owner_of_names((r["fns"] or "").split("|"), set(truth["sites"]))
    if fn:
        per_fn[fn] = per_fn.get(fn, 0) + r["bytes"]
for fn, t in truth["sites"].items():
    lib.expect_eq(per_fn.get(fn, 0), t["leaked_bytes"], "leaked bytes of %s" % fn)

# stacks read as the JSON's, frame by frame, for every alloc site (same order as the JSON)
frames = q("SELECT stack_id, depth, function, file, line, module, address FROM stack_frames "
           "ORDER BY stack_id, depth")
stacks = {}
for f in frames:
    stacks.setdefault(f["stack_id"], []).append(
        (f["function"], f["file"], f["line"], f["module"], "0x%x" % f["address"]))
order = q("SELECT stack_id, function FROM alloc_sites ORDER BY bytes DESC, allocations DESC, "
          "stack_id")
for row, js in zip(order, rep["alloc"]["sites"]):
    want = [(f["function"], f["file"], f["line"], f["module"], f["address"]) for f in js["stack"]]
    lib.expect_eq(stacks.get(row["stack_id"], []), want, "stack %d" % row["stack_id"])
    lib.expect_eq(row["function"], fmtlib.frame_name(fmtlib.site_frame(js["stack"])),
                  "site function")
tl = q("SELECT count(*) AS n, max(max_bytes) AS m FROM heap_timeline")[0]
lib.expect_eq((tl["n"], tl["m"]), (len(rep["alloc"]["heap_timeline"]["points"]),
                                   rep["alloc"]["peak_bytes"]), "heap_timeline")

p = fmtlib.analyze_raw(trace, "--format", "sqlite", expect_rc=2)
lib.expect(p.stderr.decode() == "analyze: --format sqlite needs -o FILE\n",
           "sqlite without -o: %r" % p.stderr)
lib.done()
