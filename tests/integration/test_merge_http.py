"""Several processes' HTTP requests in one report (merge.c's merge_http): the `curl` tool run
twice against the loopback server of the curl tests, each run its own trace. Merged, every
endpoint's requests, errors and total time are the sums of the two runs' and its
percentiles are computed over all requests (they lie between the runs' own and stay
ordered). Then the reports people use on real HTTP data: a budget on one endpoint
(`http[/items].p99_ns`), a diff between the runs, and the html page's HTTP table."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_server  # noqa: E402
import lib  # noqa: E402


def curl_run(srv, d, name, paths):
    trace = os.path.join(d, name + ".zst")
    argv = ["curl", "-sS", "--max-time", "10"]
    for p in paths:
        argv += ["-o", "/dev/null", "http://127.0.0.1:%d%s" % (srv.port, p)]
    _, err, rc = lib.run_traced(argv, trace, check=False)
    lib.expect(rc in (0, 22), "curl %s ran (%s)" % (name, err.strip()[-200:]))
    return trace


def by_endpoint(rep):
    return {(e["method"], e["endpoint"]): e for e in rep["http"]}


srv = http_server.start()
try:
    d = lib.tmpdir()
    t1 = curl_run(srv, d, "one", ["/items/1", "/items/2", "/items/3", "/slow/a", "/status/500"])
    t2 = curl_run(srv, d, "two", ["/items/7", "/items/8", "/status/404"])
finally:
    srv.stop()

r1, r2 = lib.analyze(t1), lib.analyze(t2)
p = subprocess.run([lib.ANALYZE, t1, t2, "--format", "json"], capture_output=True, text=True,
                   timeout=300)
lib.expect_eq(p.returncode, 0, "merged analyze exit status (%s)" % p.stderr)
m = json.loads(p.stdout)
lib.check_schema(m)
e1, e2, em = by_endpoint(r1), by_endpoint(r2), by_endpoint(m)
lib.expect_eq(sorted(em), sorted(set(e1) | set(e2)), "merged endpoints are the union")
for key, e in em.items():
    parts = [x[key] for x in (e1, e2) if key in x]
    for f in ("requests", "errors", "total_ns", "bytes_received", "new_connections", "dns_ns",
              "connect_ns", "ttfb_ns"):
        lib.expect_eq(e[f], sum(x[f] for x in parts), "%s %s: %s adds up" % (key[0], key[1], f))
    lib.expect_eq(e["max_ns"], max(x["max_ns"] for x in parts), "%s: max_ns" % key[1])
    for f in ("p50_ns", "p95_ns", "p99_ns"):
        lib.expect(min(x[f] for x in parts) <= e[f] <= max(x[f] for x in parts),
                   "%s: merged %s between the runs' own" % (key[1], f))
    lib.expect(e["p50_ns"] <= e["p95_ns"] <= e["p99_ns"] <= e["max_ns"], "%s: ordered" % key[1])
items = [k for k in em if k[1].endswith("/items/{id}")]
lib.expect(len(items) == 1 and em[items[0]]["requests"] == 5, "5 requests to /items/{id}")
slow = [e for k, e in em.items() if k[1].endswith("/slow/a")]
lib.expect(slow and slow[0]["p50_ns"] >= http_server.SLOW_S * 1e9, "the slow endpoint is slow")
lib.expect_eq(m["summary"]["events"], r1["summary"]["events"] + r2["summary"]["events"], "events")

# a budget on one endpoint of the merged report: its line names the entry
budget = os.path.join(d, "budget.json")
with open(budget, "w") as f:
    json.dump({"http[/items].p99_ns": 1, "http.errors": 0}, f)
p = subprocess.run([lib.ANALYZE, "check", t1, t2, "--budget", budget], capture_output=True,
                   text=True, timeout=300)
lib.expect_eq(p.returncode, 1, "check over budget: exit 1")
lines = p.stdout.splitlines()
want_items = 'http[/items].p99_ns limit=1 actual=%d http[%d] "GET %s"' % (
    em[items[0]]["p99_ns"], m["http"].index(em[items[0]]), items[0][1])
lib.expect(want_items in lines, "items breach line %r in %r" % (want_items, lines))
errs = [ln for ln in lines if ln.startswith("http.errors ")]
lib.expect_eq(len(errs), sum(1 for e in m["http"] if e["errors"]), "one errors line per failing endpoint")

# diff of the two runs: every endpoint is in the http section, statuses as expected
p = subprocess.run([lib.ANALYZE, "diff", t1, t2, "--format", "json"], capture_output=True,
                   text=True, timeout=300)
lib.expect_eq(p.returncode, 0, "diff exit status")
sec = {s["section"]: s for s in json.loads(p.stdout)["sections"]}["http"]
st = {e["key"]["endpoint"]: e["status"] for e in sec["entries"]}
lib.expect_eq(sorted(st), sorted({k[1] for k in em}), "diff: every endpoint")
lib.expect_eq(st[[k[1] for k in em if k[1].endswith("/slow/a")][0]], "removed", "diff: /slow/a gone")
lib.expect_eq(sum(1 for v in st.values() if v == "added"), 0, "diff: nothing new (/status/{id} in both)")
items_diff = [e for e in sec["entries"] if e["key"]["endpoint"].endswith("/items/{id}")][0]
lib.expect_eq((items_diff["fields"]["requests"]["base"], items_diff["fields"]["requests"]["new"]),
              (3, 2), "diff: /items/{id} requests 3 -> 2 (matched by method and endpoint only)")

# the html page of the merged report has the HTTP table with every endpoint
html = os.path.join(d, "m.html")
subprocess.run([lib.ANALYZE, t1, t2, "--format", "html", "-o", html], check=True, timeout=300)
text = open(html, encoding="utf-8").read()
sec_html = re.search(r'<section id="s-http">(.*?)</section>', text, re.S)
lib.expect(sec_html is not None, "html: http section")
if sec_html:
    lib.expect_eq(sec_html.group(1).count("<tr>"), len(m["http"]) + 1, "html: one row per endpoint")
lib.done()
