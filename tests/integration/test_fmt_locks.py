"""Lock contention in every export format, on the lockers workload (deterministic
contention, counting mode on), each read by its real consumer where there is one, and
compared with the JSON report and the workload's truth:
- folded --weight lockwait: one line per (lock, waiting stack), the lock as leaf frame
  `[mutex 0x...]`; weights add up to each lock's wait_ns and to the summary's;
- pprof: `go tool pprof -raw` shows the contentions and delay sample types, totalling the
  JSON's contended acquisitions and wait;
- csv: the locks and lock_waiters tables equal the JSON's locks and waiters;
- prometheus: `promtool check metrics` passes; the totals and per-lock series equal the JSON;
- sqlite: the locks, lock_waiters and lock_waits tables, queried with the sqlite3 shell;
- chrome: one "lock" slice per contended acquisition, on the waiting thread."""
import csv
import io
import json
import os
import re
import subprocess

import fmtlib
import lib

trace, truth, rep = fmtlib.traced("lockers", ["contend", "20", "3"],
                                  env={"INTERCEPT_LOCK_COUNT": "1"})
locks = rep["locks"]
by_addr = {l["lock"]: l for l in locks}
total_wait = rep["summary"]["pthread_lock_wait_ns"]
total_cont = sum(l["contended"] for l in locks)
lib.expect_eq(sorted(by_addr), sorted([truth["locks"]["hot_mutex"]["addr"],
                                       truth["locks"]["table_lock"]["addr"]]),
              "the JSON names the two hot locks")
lib.expect_eq(total_cont, truth["locks"]["hot_mutex"]["contended"] +
              truth["locks"]["table_lock"]["contended"], "contended = truth")

# ---- folded ----
out = fmtlib.analyze_raw(trace, "--format", "folded", "--weight", "lockwait").stdout.decode()
per_lock = {}
n_lines = 0
for line in out.splitlines():
    frames, w = line.rsplit(" ", 1)
    leaf = frames.split(";")[-1]
    m = re.match(r"^\[(mutex|rwlock) (0x[0-9a-f]+)( read| write)?\]$", leaf)
    lib.expect(m is not None, "folded: the leaf names the lock: %r" % leaf)
    if m:
        per_lock[m.group(2)] = per_lock.get(m.group(2), 0) + int(w)
        lib.expect_eq(m.group(1), by_addr.get(m.group(2), {}).get("kind"), "folded: kind")
    n_lines += 1
lib.expect_eq(n_lines, sum(l["waiting_stacks"] for l in locks), "folded: a line per waiter")
lib.expect_eq(per_lock, {a: l["wait_ns"] for a, l in by_addr.items()},
              "folded: waits per lock = JSON wait_ns")
lib.expect_eq(sum(per_lock.values()), total_wait, "folded: total = summary")

# ---- pprof ----
go = fmtlib.need("go", "golang-go")
prof = os.path.join(os.path.dirname(trace), "locks.pb.gz")
fmtlib.analyze_raw(trace, "--format", "pprof", "-o", prof)
raw = subprocess.run([go, "tool", "pprof", "-raw", prof], capture_output=True, text=True,
                     timeout=120)
lib.expect_eq(raw.returncode, 0, "go tool pprof -raw reads it")
lines = raw.stdout.splitlines()
i = lines.index("Samples:")
types = [t.replace("[dflt]", "") for t in lines[i + 1].split()]
lib.expect(types[-2:] == ["contentions/count", "delay/nanoseconds"], "pprof: lock types")
vals = []
for line in lines[i + 2:]:
    m = re.match(r"^\s+([\d\s]+): ([\d ]+?)\s*$", line)
    if not m:
        break
    vals.append([int(v) for v in m.group(1).split()])
lib.expect_eq(sum(v[-2] for v in vals), total_cont, "pprof: contentions = JSON")
lib.expect_eq(sum(v[-1] for v in vals), total_wait, "pprof: delay = JSON")

# ---- csv ----
out = fmtlib.analyze_raw(trace, "--format", "csv").stdout.decode()
tables = {}
for block in out.split("\n\n"):
    head, body = block.split("\n", 1)
    tables[head[2:]] = list(csv.DictReader(io.StringIO(body, newline="")))
rows = tables.get("locks", [])
lib.expect_eq([(r["lock"], r["kind"], int(r["contended"]), int(r["wait_ns"]),
                int(r["acquisitions"]), r["function"]) for r in rows],
              [(l["lock"], l["kind"], l["contended"], l["wait_ns"], l["acquisitions"],
                fmtlib.frame_name(l["stack"][0])) for l in locks], "csv: locks = JSON")
w = tables.get("lock_waiters", [])
lib.expect_eq(sorted((r["lock"], r["function"], int(r["contended"]), int(r["wait_ns"]))
                     for r in w),
              sorted((l["lock"], fmtlib.frame_name(x["stack"][0]), x["contended"],
                      x["wait_ns"]) for l in locks for x in l["waiters"]),
              "csv: lock_waiters = JSON waiters")

# ---- prometheus ----
prom = fmtlib.analyze_raw(trace, "--format", "prometheus").stdout.decode()
chk = subprocess.run([fmtlib.need("promtool", "prometheus"), "check", "metrics"], input=prom,
                     capture_output=True, text=True, timeout=60)
lib.expect_eq(chk.returncode, 0, "promtool check metrics: %s" % chk.stdout + chk.stderr)
m = re.search(r"^intercept_locks_wait_seconds_total (\d+)\.(\d{9})$", prom, re.M)
lib.expect(m and int(m.group(1)) * 10**9 + int(m.group(2)) == total_wait,
           "prometheus: total wait = JSON")
m = re.search(r"^intercept_locks_acquisitions_total (\d+)$", prom, re.M)
lib.expect(m and int(m.group(1)) == rep["summary"]["lock_acquisitions"],
           "prometheus: acquisitions = JSON")
for l in locks:
    m = re.search(r'^intercept_lock_contentions_total\{lock="%s",kind="%s",function="%s",'
                  r'[^}]*\} (\d+)$' % (l["lock"], l["kind"], fmtlib.frame_name(l["stack"][0])),
                  prom, re.M)
    lib.expect(m and int(m.group(1)) == l["contended"], "prometheus: %s contended" % l["lock"])

# ---- sqlite ----
db = os.path.join(os.path.dirname(trace), "locks.db")
fmtlib.analyze_raw(trace, "--format", "sqlite", "-o", db)
q = subprocess.run([fmtlib.need("sqlite3", "sqlite3"), "-json", db,
                    "SELECT lock, kind, contended, wait_ns, acquisitions, function FROM locks "
                    "ORDER BY wait_ns DESC"], capture_output=True, text=True, timeout=60)
got = json.loads(q.stdout or "[]")
lib.expect_eq([(r["lock"], r["kind"], r["contended"], r["wait_ns"], r["acquisitions"],
                r["function"]) for r in got],
              [(l["lock"], l["kind"], l["contended"], l["wait_ns"], l["acquisitions"],
                fmtlib.frame_name(l["stack"][0])) for l in locks], "sqlite: locks = JSON")
q = subprocess.run(["sqlite3", db, "SELECT count(*), sum(wait_ns) FROM lock_waits;"
                    "SELECT sum(contended) FROM lock_waiters;"
                    "SELECT count(*) FROM lock_waits w WHERE NOT EXISTS "
                    "(SELECT 1 FROM stacks s WHERE s.stack_id = w.stack_id)"],
                   capture_output=True, text=True, timeout=60)
res = q.stdout.split()
n, s = (int(x) for x in res[0].split("|")) if res else (0, 0)
lib.expect_eq(n, total_cont, "sqlite: every wait kept")
lib.expect(abs(s - total_wait) <= n, "sqlite: single waits add up to the JSON's (rounding)")
lib.expect_eq(res[1:], [str(total_cont), "0"], "sqlite: waiters add up, every stack defined")

# ---- chrome ----
doc = json.loads(fmtlib.analyze_raw(trace, "--format", "chrome").stdout)
ls = [e for e in doc["traceEvents"] if e["ph"] == "X" and e.get("cat") == "lock"]
lib.expect_eq(len(ls), total_cont, "chrome: a lock slice per contended acquisition")
lib.expect(abs(sum(e["dur"] for e in ls) * 1000 - total_wait) <= len(ls),
           "chrome: slice durations add up to the JSON's wait")
names = {e["args"]["waiting_in"] for e in ls}
lib.expect_eq(names, {"wait_hot_mutex", "try_hot_briefly", "read_table", "write_table"},
              "chrome: waiting functions")
lib.done()
