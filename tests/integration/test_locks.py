"""Lock contention (issue 5), against ground truth the workloads know exactly.

- lockers contend: three waiter threads are made to block on hot_mutex and on table_lock (a
  rwlock, readers and writers) every round while the main thread holds it, and once to time
  out on hot_mutex; cold_mutex is only ever taken by the main thread. The report names the
  two hot locks with their exact contended counts, the waiting functions and the timeout,
  and never the cold one.
- the same with --lock-count: exact acquisitions per lock and in total (which also proves
  that the profiler's own lock use is not counted), first-seen stacks.
- lockers quiet: the same locks taken strictly in turn: no contention at all, and exact
  counts.
- lockers fork: a forked child counts its own acquisitions from zero.
- lock_early: acquisitions in another library's constructor, before any hook ran, are
  counted.
- lock_signals: a signal handler that takes a lock while the profiler is busy (inside a
  hook, a stack walk) neither deadlocks nor escapes the count.
- --hooks malloc: no lock section, and the program is unaffected.
- the sqlite3 CLI (a program nobody here wrote): intercept's acquisition count equals the one
  an independent counting shim (tests/workloads/lockshim.c) sees in a run without intercept.
Contention is forced deterministically (the holder releases only once every waiter sleeps
in the kernel), so no check depends on timing except lower bounds of waits."""
import glob
import os
import re
import subprocess

import lib

LOCKERS = lib.workload("lockers")
d = lib.tmpdir()


def waits_by_function(entry, functions):
    """Sum an entry's waiting stacks by the first frame naming a function of the workload."""
    got = {}
    for w in entry["waiters"]:
        fn = lib.owner(w["stack"], functions)
        got[fn] = got.get(fn, 0) + w["contended"]
    return got


def by_addr(rep):
    return {l["lock"]: l for l in rep["locks"]}


def check_contend(rep, truth, counting):
    t = truth["locks"]
    locks = by_addr(rep)
    lib.check_schema(rep)
    hot, table, cold = t["hot_mutex"], t["table_lock"], t["cold_mutex"]
    lib.expect_eq(truth["timeout_seen"], 1, "the workload's timedlock timed out")
    lib.expect(cold["addr"] not in locks, "the cold mutex is never reported")
    lib.expect_eq(sorted(locks), sorted([hot["addr"], table["addr"]]), "exactly the hot locks")
    w = [l["wait_ns"] for l in rep["locks"]]
    lib.expect(w == sorted(w, reverse=True), "locks sorted by total wait")
    total = 0
    for name, tl in (("hot_mutex", hot), ("table_lock", table)):
        l = locks.get(tl["addr"])
        if not l:
            continue
        total += l["wait_ns"]
        lib.expect_eq(l["kind"], tl["kind"], name + ".kind")
        lib.expect_eq(l["contended"], tl["contended"], name + ".contended")
        lib.expect_eq(l["timeouts"], tl["timeouts"], name + ".timeouts")
        lib.expect_eq(l["errors"], 0, name + ".errors")
        fns = set(tl["wait_functions"])
        lib.expect_eq(waits_by_function(l, fns), tl["wait_functions"],
                      name + ": waits by waiting function")
        lib.expect_eq(l["waiting_stacks"], len(tl["wait_functions"]), name + ".waiting_stacks")
        lib.expect_eq(lib.owner(l["stack"], fns), max(tl["wait_functions"],
                      key=tl["wait_functions"].get), name + ": stack is the top waiting site")
        lib.expect_eq(l["stack"][0]["function"] if l["stack"] else None,
                      lib.owner(l["stack"], fns), name + ": stack starts at the caller")
        lib.expect(0 < l["max_wait_ns"] <= l["wait_ns"], name + ": 0 < max_wait <= wait")
        lib.expect(abs(sum(x["wait_ns"] for x in l["waiters"]) - l["wait_ns"])
                   <= len(l["waiters"]), name + ": waiters' waits add up")
        if l["kind"] == "rwlock":
            lib.expect_eq(l["read_contended"], tl["read_contended"], name + ".read_contended")
            lib.expect_eq(l["write_contended"], tl["write_contended"],
                          name + ".write_contended")
            kinds = {lib.owner(x["stack"], fns): x["kind"] for x in l["waiters"]}
            lib.expect_eq(kinds, {"read_table": "read", "write_table": "write"},
                          name + ": waiter kinds")
        if counting:
            lib.expect_eq(l.get("acquisitions"), tl["acquisitions"], name + ".acquisitions")
            lib.expect(abs(l["contended_share"] - tl["contended"] / tl["acquisitions"]) < 1e-5,
                       name + ".contended_share")
            lib.expect_eq(l["first_seen"], "first acquisition", name + ".first_seen")
            lib.expect_eq(lib.owner(l["first_seen_stack"], {tl["first_acquired_in"]}),
                          tl["first_acquired_in"], name + ": first-seen stack")
            if l["kind"] == "rwlock":
                lib.expect_eq(l["read_acquisitions"], tl["read_acquisitions"],
                              name + ".read_acquisitions")
                lib.expect_eq(l["write_acquisitions"], tl["write_acquisitions"],
                              name + ".write_acquisitions")
        else:
            lib.expect("acquisitions" not in l, name + ": no acquisitions without counting")
            lib.expect_eq(l["first_seen"], "first contended acquisition", name + ".first_seen")
            lib.expect(lib.owner(l["first_seen_stack"], fns) is not None,
                       name + ": first-seen stack is a waiting site")
    # try_hot_briefly's timedlock waited its 2 ms before ETIMEDOUT (a lower bound only)
    hl = locks.get(hot["addr"])
    if hl:
        tw = [x for x in hl["waiters"] if lib.owner(x["stack"], {"try_hot_briefly"})]
        lib.expect(len(tw) == 1 and tw[0]["max_wait_ns"] >= 1500000,
                   "the timed-out wait lasted its timeout")
    s = rep["summary"]
    lib.expect_eq(s["pthread_lock_wait_ns"], total, "summary.pthread_lock_wait_ns")
    lib.expect(s["lock_wait_ns"] >= total, "summary.lock_wait_ns covers pthread waits")
    lib.expect_eq(s["lock_counting"], counting, "summary.lock_counting")
    if counting:
        want = hot["acquisitions"] + table["acquisitions"] + cold["acquisitions"]
        lib.expect_eq(s["lock_acquisitions"], want, "summary.lock_acquisitions (all locks)")
        lib.expect_eq(s["locks_counted"], 3, "summary.locks_counted")
        lib.expect_eq(s["lock_count_overflow"], 0, "summary.lock_count_overflow")


# ---- contention, default mode ----------------------------------------------------------------
trace = os.path.join(d, "contend.zst")
out, _, _ = lib.run_traced([LOCKERS, "contend", "40", "3"], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
check_contend(rep, truth, counting=False)
text = lib.analyze(trace, fmt="text").stdout
lib.expect("LOCK CONTENTION" in text, "text: lock section")
lib.expect("wait_hot_mutex" in text and "read_table" in text, "text: waiting functions")
lib.expect(truth["locks"]["cold_mutex"]["addr"] not in text, "text: never the cold mutex")
lib.expect(re.search(r"threads waited .* on locks: [0-9.]+% of the", text) is not None,
           "text: summary line with the share of the run spent waiting")

# ---- contention, counting mode ---------------------------------------------------------------
trace = os.path.join(d, "contend-count.zst")
out, _, _ = lib.run_traced([LOCKERS, "contend", "40", "3"], trace, opts=["--lock-count"])
truth = lib.truth_lines(out)[0]
check_contend(lib.analyze(trace), truth, counting=True)
text = lib.analyze(trace, fmt="text").stdout
lib.expect("acquisitions (" in text and "first seen (first acquisition)" in text,
           "text: counting mode shows acquisitions and first acquisition")

# ---- never contended ---------------------------------------------------------------------------
for counting in (False, True):
    trace = os.path.join(d, "quiet%d.zst" % counting)
    out, _, _ = lib.run_traced([LOCKERS, "quiet", "40", "3"], trace,
                               opts=["--lock-count"] if counting else [])
    truth = lib.truth_lines(out)[0]
    rep = lib.analyze(trace)
    lib.expect_eq(rep["locks"], [], "quiet: no contended lock")
    lib.expect_eq(rep["summary"]["pthread_lock_wait_ns"], 0, "quiet: no lock wait")
    lib.expect("no contention" in lib.analyze(trace, fmt="text").stdout, "quiet: text says so")
    if counting:
        lib.expect_eq(rep["summary"]["lock_acquisitions"], truth["total_acquisitions"],
                      "quiet: every acquisition counted (lock, timedlock, trylock, rd, wr)")

# ---- fork: the child counts from zero -------------------------------------------------------
trace = os.path.join(d, "fork.zst")
out, _, _ = lib.run_traced([LOCKERS, "fork"], trace, opts=["--lock-count"])
for t in lib.truth_lines(out):
    path = trace if not t["child"] else os.path.join(d, "fork.%d.zst" % t["pid"])
    rep = lib.analyze(path)
    lib.expect_eq(rep["summary"]["lock_acquisitions"], t["total_acquisitions"],
                  "fork: %s acquisitions" % ("child" if t["child"] else "parent"))

# ---- locks taken by signal handlers, which interrupt hooks and stack walks --------------------
trace = os.path.join(d, "signals.zst")
out, _, _ = lib.run_traced([lib.workload("lock_signals"), "3", "20000"], trace,
                           opts=["--lock-count"], timeout=120)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.expect(truth["handler_acquisitions"] > 0, "signals: the handler ran and took its lock")
lib.expect_eq(rep["summary"]["lock_acquisitions"], truth["total_acquisitions"],
              "signals: every acquisition counted, handlers' included")
lib.expect_eq(rep["summary"]["complete"], True, "signals: complete")

# ---- locks taken before the profiler initialized (a library's constructor) ----------------
trace = os.path.join(d, "early.zst")
out, _, _ = lib.run_traced([lib.workload("lock_early")], trace, opts=["--lock-count"])
truth = lib.truth_lines(out)[0]
lib.expect_eq(truth["early_acquisitions"], 6, "lock_early: its library's constructor ran")
lib.expect_eq(lib.analyze(trace)["summary"]["lock_acquisitions"], truth["total_acquisitions"],
              "lock_early: acquisitions before the profiler's constructor are counted")

# ---- lock hook off -------------------------------------------------------------------------------
trace = os.path.join(d, "nolock.zst")
out, _, _ = lib.run_traced([LOCKERS, "contend", "5", "2"], trace, opts=["--hooks", "malloc"])
lib.truth_lines(out)
rep = lib.analyze(trace)
lib.expect_eq(rep["locks"], [], "--hooks malloc: no locks recorded")
lib.expect("LOCK CONTENTION" not in lib.analyze(trace, fmt="text").stdout,
           "--hooks malloc: no lock section")

# ---- a program nobody here wrote: the sqlite3 CLI ------------------------------------------
sql = ("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);\n"
       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<3000)\n"
       "  INSERT INTO t SELECT x, 'v'||x FROM c;\n"
       "SELECT count(*), sum(length(b)) FROM t WHERE a % 3 = 0;\n")
shim = os.path.join(lib.WORKLOADS, "liblockshim.so")
env = dict(os.environ, LD_PRELOAD=shim)
native = subprocess.run(["sqlite3", ":memory:"], input=sql, capture_output=True, text=True,
                        env=env, timeout=60)
m = re.search(r"lockshim: mutex (\d+) read (\d+) write (\d+)", native.stderr)
lib.expect(m is not None, "the shim counted the native run: %r" % native.stderr[-300:])
trace = os.path.join(d, "sqlite3.zst")
p = subprocess.run([lib.INTERCEPT, "-o", trace, "--lock-count", "--", "sqlite3", ":memory:"],
                   input=sql, capture_output=True, text=True, timeout=60)
lib.expect_eq(p.stdout, native.stdout, "sqlite3 prints the same under intercept")
rep = lib.analyze(trace)
if m:
    shim_total = sum(int(x) for x in m.groups())
    lib.expect(shim_total > 1000, "sqlite3 takes its mutexes (%d)" % shim_total)
    lib.expect_eq(rep["summary"]["lock_acquisitions"], shim_total,
                  "sqlite3: intercept's count equals the independent shim's")
lib.expect_eq(rep["locks"], [], "sqlite3 (one thread): no contention")
lib.done()
