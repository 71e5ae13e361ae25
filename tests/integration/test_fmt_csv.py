"""--format csv, read by python3's csv module: `-o DIR` writes one file per table and
standard output carries the same tables one after another; the tables agree with the JSON
report row for row (sites in the same order, with the same totals), the site columns and
stack labels name frames as the JSON does, each workload function's leaks equal its own
count, and a command line holding commas, quotes and a newline survives quoting."""
import csv
import io
import os

import fmtlib
import lib

# an argument the workload ignores, but which lands in summary.command
trace, truth, rep = fmtlib.traced("leaks", ['a,b "c"\nd'])
names = set(truth["sites"])
TABLES = ["summary", "sql", "http", "http_findings", "http_slowest", "alloc", "alloc_sites",
          "locks", "lock_waiters", "leaks", "leak_sites", "heap_timeline"]

d = os.path.join(os.path.dirname(trace), "csv")
fmtlib.analyze_raw(trace, "--format", "csv", "-o", d)
lib.expect_eq(sorted(os.listdir(d)), sorted(t + ".csv" for t in TABLES), "one file per table")
files = {}
for t in TABLES:
    with open(os.path.join(d, t + ".csv"), newline="", encoding="utf-8") as f:
        files[t] = list(csv.DictReader(f))

# standard output: "# table" line, the table, an empty line between tables
out = fmtlib.analyze_raw(trace, "--format", "csv").stdout.decode()
blocks = out.split("\n\n")
lib.expect_eq([b.split("\n", 1)[0] for b in blocks], ["# " + t for t in TABLES],
              "stdout tables in order")
for t, b in zip(TABLES, blocks):
    rows = list(csv.DictReader(io.StringIO(b.split("\n", 1)[1], newline="")))
    lib.expect_eq(rows, files[t], "stdout table %s = %s.csv" % (t, t))

s = files["summary"]
lib.expect_eq(len(s), 1, "summary has one row")
lib.expect_eq(int(s[0]["pid"]), rep["summary"]["pid"], "summary.pid")
lib.expect_eq(s[0]["command"], rep["summary"]["command"].replace("\n", " "),
              "command with comma, quotes, newline (newline as a space)")
lib.expect_eq(int(s[0]["events"]), rep["summary"]["events"], "summary.events")
a = files["alloc"][0]
for k in ("allocations", "frees", "bytes_allocated", "peak_bytes", "peak_ns"):
    lib.expect_eq(int(a[k]), rep["alloc"][k], "alloc.%s" % k)
lk = files["leaks"][0]
lib.expect_eq((int(lk["bytes"]), int(lk["allocations"])),
              (rep["leaks"]["bytes"], rep["leaks"]["allocations"]), "leaks totals")

sites, jsites = files["alloc_sites"], rep["alloc"]["sites"]
lib.expect_eq(len(sites), len(jsites), "a row per JSON alloc site")
for row, js in zip(sites, jsites):
    lib.expect_eq((int(row["allocations"]), int(row["bytes"]), int(row["leaked_bytes"])),
                  (js["allocations"], js["bytes"], js["leaked_bytes"]), "site row = JSON site")
    sf = fmtlib.site_frame(js["stack"])
    lib.expect_eq(row["function"], fmtlib.frame_name(sf), "site function as the JSON names it")
    lib.expect_eq(row["address"], sf["address"], "site address")
    lib.expect_eq(row["stack"], " <- ".join(fmtlib.frame_label(f) for f in js["stack"]),
                  "stack column = the JSON stack's labels")
lib.expect_eq(sum(int(r["bytes"]) for r in sites), rep["alloc"]["bytes_allocated"],
              "alloc_sites bytes sum")

leaks, jleaks = files["leak_sites"], rep["leaks"]["sites"]
lib.expect_eq(len(leaks), len(jleaks), "a row per JSON leak site")
per_fn = {}
for row in leaks:
    if row["function"] in names:
        per_fn[row["function"]] = per_fn.get(row["function"], 0) + int(row["bytes"])
for fn, t in truth["sites"].items():
    lib.expect_eq(per_fn.get(fn, 0), t["leaked_bytes"], "leak_sites bytes of %s" % fn)

tl = files["heap_timeline"]
lib.expect_eq(len(tl), len(rep["alloc"]["heap_timeline"]["points"]), "heap_timeline rows")
lib.expect_eq(max(int(r["max_bytes"]) for r in tl), rep["alloc"]["peak_bytes"], "timeline peak")

# --top cuts the site tables like the JSON's arrays
top = fmtlib.analyze_raw(trace, "--format", "csv", "--top", "2").stdout.decode()
lib.expect_eq(len(list(csv.reader(io.StringIO(top.split("# alloc_sites\n")[1].split("\n\n")[0]))))
              - 1, 2, "--top 2 keeps 2 alloc sites")

# -o naming a file that is not a directory is a clear error
notdir = os.path.join(os.path.dirname(trace), "plain")
open(notdir, "w").close()
p = fmtlib.analyze_raw(trace, "--format", "csv", "-o", notdir, expect_rc=2)
lib.expect(p.stderr.decode().startswith("analyze: ") and b"directory" in p.stderr,
           "csv -o FILE: %r" % p.stderr)
lib.done()
