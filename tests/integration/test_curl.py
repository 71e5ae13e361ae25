"""test_curl.py - the libcurl hook end to end against a real HTTP server on 127.0.0.1
(tests/integration/http_server.py, started and stopped here): the workload http_client
(easy interface, multi with curl_multi_perform, multi with curl_multi_socket_action on a
second thread, transfers removed before completion) counts what it did; the report must
match it exactly per endpoint, in the JSON and in every export format. Then the `curl`
command-line tool, serial and parallel (-Z), fetching several URLs in one run; two libcurl
builds in one process; a program without libcurl. Privacy: secrets in URLs never reach the
trace. Loopback only; every request loop is bounded (the workload and curl have timeouts)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_server  # noqa: E402
from lib import (analyze, check_schema, done, expect, expect_eq, run_traced, tmpdir,  # noqa: E402
                 truth_lines, workload)

SLOW_NS = int(http_server.SLOW_S * 1e9)


def entry(report, method, endpoint):
    got = [e for e in report["http"] if e["method"] == method and e["endpoint"] == endpoint]
    return got[0] if len(got) == 1 else None


def check_http_shape(report, what):
    http = report["http"]
    expect(all(http[i]["total_ns"] >= http[i + 1]["total_ns"] for i in range(len(http) - 1)),
           "%s: http sorted by total_ns" % what)
    for e in http:
        for k in ("method", "endpoint", "requests", "errors", "total_ns", "p50_ns", "p95_ns",
                  "p99_ns", "max_ns", "dns_ns", "connect_ns", "tls_ns", "ttfb_ns",
                  "bytes_received", "new_connections"):
            expect(k in e, "%s: http entry has %s" % (what, k))
        expect(e["p50_ns"] <= e["p95_ns"] <= e["p99_ns"] <= e["max_ns"] <= e["total_ns"],
               "%s: %s percentiles ordered" % (what, e["endpoint"]))
        expect("?" not in e["endpoint"] and "@" not in e["endpoint"],
               "%s: %s has no query or credentials" % (what, e["endpoint"]))


def test_workload(srv, refused):
    d = tmpdir()
    trace = os.path.join(d, "http.zst")
    base = "http://127.0.0.1:%d" % srv.port
    rbase = "http://127.0.0.1:%d" % refused
    out, _, _ = run_traced([workload("http_client"), base, rbase], trace, timeout=120)
    truth = truth_lines(out)[0]
    report = analyze(trace)
    check_schema(report)
    check_http_shape(report, "workload")

    # exact per endpoint, and no endpoint the workload did not use
    want = {(t["method"], t["endpoint"]): t for t in truth["http"]}
    got = {(e["method"], e["endpoint"]): e for e in report["http"]}
    expect_eq(sorted(got), sorted(want), "the set of endpoints")
    for key, t in sorted(want.items()):
        e = got.get(key)
        if not e:
            continue
        for k in ("requests", "errors", "new_connections", "bytes_received"):
            expect_eq(e[k], t[k], "%s %s %s" % (key[0], key[1], k))
    expect_eq(sum(e["requests"] for e in report["http"]),
              sum(t["requests"] for t in truth["http"]), "total requests")

    # the slow endpoint's latency reflects the server's known delay
    slow = entry(report, "GET", base + "/slow")
    if slow:
        expect(SLOW_NS <= slow["p50_ns"] < SLOW_NS + 500_000_000,
               "slow p50 %d ns reflects the %d ns delay" % (slow["p50_ns"], SLOW_NS))
        expect(slow["ttfb_ns"] >= 4 * SLOW_NS, "slow: the wait is time to first byte")
    fast = entry(report, "GET", base + "/fast")
    if fast and slow:
        expect(fast["p50_ns"] < SLOW_NS, "fast p50 is below the slow delay")
    multi = entry(report, "GET", base + "/multi/{id}")
    sock = entry(report, "GET", base + "/sock/{id}")
    expect(multi and multi["multi_requests"] == 8, "multi_perform transfers counted as multi")
    expect(sock and sock["multi_requests"] == 5, "socket_action transfers counted as multi")
    post = entry(report, "POST", base + "/submit")
    expect(post and post["bytes_sent"] == 300, "POST bodies counted as bytes_sent")
    target = entry(report, "GET", base + "/target")
    expect(target and target["redirects"] == 2, "redirects followed")
    fresh = entry(report, "GET", base + "/fresh")
    expect(fresh and fresh["requests_with_new_connection"] == 6, "fresh connections")
    status = entry(report, "GET", base + "/status/{id}")
    if status:
        kinds = sorted((k["status"], k["count"]) for k in status["error_kinds"])
        expect_eq(kinds, [(404, 3), (500, 2)], "status error kinds")

    # findings with their evidence
    f = report["http_findings"]
    errs = {x["endpoint"] for x in f if x["kind"] == "errors"}
    expect_eq(errs, {base + "/status/{id}", base + "/mstatus/{id}", rbase + "/refused",
                     base + "/abort"}, "endpoints with an error finding")
    setup = {x["endpoint"] for x in f if x["kind"] == "connection_setup"}
    expect(base + "/fresh" in setup, "no-reuse finding for /fresh: %s" % sorted(setup))
    expect(base + "/fast" not in setup, "no set-up finding for the reused /fast")
    serial = [x for x in f if x["kind"] == "serial_requests"]
    expect(len(serial) == 1 and serial[0]["thread"] == truth["main_thread"]
           and serial[0]["host"] == base and serial[0]["requests"] >= 40,
           "serial finding for the main thread's easy loop: %r"
           % [(x["thread"], x["host"], x["requests"]) for x in serial])
    refused_f = [x for x in f if x["kind"] == "errors" and x["endpoint"] == rbase + "/refused"]
    expect(refused_f and "CURLE_COULDNT_CONNECT x2" in refused_f[0]["message"],
           "refused evidence names the CURLcode")

    # the slowest requests, with when and where
    sl = report["http_slowest"]
    expect_eq(len(sl), 5, "five slowest requests")
    expect(sl and sl[0]["duration_ns"] == max(e["max_ns"] for e in report["http"]),
           "the slowest request is the largest max")
    expect(all(0 < s["start_ns"] <= report["summary"]["duration_ns"] for s in sl),
           "slowest requests say when they started")
    expect(any(fr.get("function") in ("easy_once", "easy_part", "multi_part")
               for s in sl for fr in s["stack"]), "slowest requests carry the caller's stack")

    # attribution: the socket_action transfers were driven by their own thread; the stack
    # of an easy transfer starts at its caller
    for e in report["http"]:
        fns = [fr.get("function") for fr in e["stack"]]
        if e["endpoint"] == base + "/sock/{id}":
            expect("sock_thread" in fns, "sock stack: %s" % fns)
        if e["endpoint"] == base + "/slow":
            expect(fns and fns[0] in ("easy_once", "easy_part"),
                   "slow stack starts at the caller: %s" % fns[:3])

    # text report
    txt = analyze(trace, "--top", "50", fmt="text").stdout
    expect("HTTP ENDPOINTS" in txt and base + "/items/{id}" in txt, "text has the section")
    expect(all(f["message"] in txt for f in report["http_findings"]), "text has the findings")

    # privacy: no secret anywhere in the decompressed trace or the report
    raw = subprocess.run(["zstd", "-dc", trace], capture_output=True, timeout=60).stdout
    rep = analyze(trace, fmt="text").stdout + str(report)
    for s in truth["secrets"]:
        expect(s.encode() not in raw, "secret %s not in the trace" % s)
        expect(s not in rep, "secret %s not in the report" % s)
    return trace, report


def test_formats(trace, report):
    """The HTTP section in every export format agrees with the JSON (docs/formats.md)."""
    import csv
    import gzip
    import io
    import json
    import re
    import sqlite3
    import fmtlib
    http = report["http"]
    total_ns = sum(e["total_ns"] for e in http)
    total_req = sum(e["requests"] for e in http)

    # folded --weight httptime: every request's latency on the stack that made it
    out = fmtlib.analyze_raw(trace, "--format", "folded", "--weight", "httptime").stdout
    lines = out.decode().splitlines()
    expect_eq(sum(int(x.rsplit(" ", 1)[1]) for x in lines), total_ns, "folded httptime total")
    expect(any(x.split(" ", 1)[0].endswith(";easy_once") or ";easy_once;" in x
               for x in lines), "folded httptime names the calling function")

    # pprof: http_requests and http_time sample types, totals read back by go tool pprof
    prof = os.path.join(os.path.dirname(trace), "http.pb.gz")
    with open(prof, "wb") as f:
        f.write(fmtlib.analyze_raw(trace, "--format", "pprof").stdout)
    go = fmtlib.need("go", "golang-go")
    raw = subprocess.run([go, "tool", "pprof", "-raw", prof], capture_output=True, text=True,
                         timeout=120).stdout.splitlines()
    if "Samples:" in raw:
        i = raw.index("Samples:")
        types = [t.replace("[dflt]", "") for t in raw[i + 1].split()]
        vals = []
        for line in raw[i + 2:]:
            m = re.match(r"^\s+([\d\s]+): ", line)
            if not m:
                break
            vals.append([int(v) for v in m.group(1).split()])
        k_req, k_time = types.index("http_requests/count"), types.index("http_time/nanoseconds")
        expect_eq(sum(v[k_req] for v in vals), total_req, "pprof http_requests total")
        expect_eq(sum(v[k_time] for v in vals), total_ns, "pprof http_time total")
    else:
        expect(False, "go tool pprof -raw read the profile")

    # chrome: one slice per request; easy ones on their thread never overlap there
    doc = json.loads(fmtlib.analyze_raw(trace, "--format", "chrome").stdout)
    ev = [e for e in doc["traceEvents"] if e.get("cat") == "http"]
    xs = [e for e in ev if e["ph"] == "X"]
    bs = [e for e in ev if e["ph"] == "b"]
    es = [e for e in ev if e["ph"] == "e"]
    expect_eq(len(xs) + len(bs), total_req, "chrome: a slice per request")
    expect_eq(sorted(e["id"] for e in bs), sorted(e["id"] for e in es), "async slices end")
    expect_eq(len(bs), sum(e["multi_requests"] for e in http), "multi requests are async")
    by_tid = {}
    for x in xs:
        by_tid.setdefault(x["tid"], []).append((x["ts"], x["ts"] + x["dur"]))
    for tid, sl in by_tid.items():
        sl.sort()
        expect(all(sl[k][1] <= sl[k + 1][0] + 0.001 for k in range(len(sl) - 1)),
               "chrome: a thread's HTTP slices do not overlap")

    # csv: the http table is the JSON's http array
    out = fmtlib.analyze_raw(trace, "--format", "csv").stdout.decode()
    block = [b for b in out.split("\n\n") if b.startswith("# http\n")][0]
    rows = list(csv.DictReader(io.StringIO(block.split("\n", 1)[1], newline="")))
    expect_eq([(r["method"], r["endpoint"], int(r["requests"]), int(r["errors"]),
                int(r["total_ns"])) for r in rows],
              [(e["method"], e["endpoint"], e["requests"], e["errors"], e["total_ns"])
               for e in http], "csv http table")

    # prometheus: promtool accepts it; requests per endpoint as in the JSON
    prom = fmtlib.analyze_raw(trace, "--format", "prometheus").stdout.decode()
    p = subprocess.run([fmtlib.need("promtool", "prometheus"), "check", "metrics"],
                       input=prom, capture_output=True, text=True, timeout=60)
    expect_eq(p.returncode, 0, "promtool check metrics (%s)" % p.stdout + p.stderr)
    got = {}
    for m in re.finditer(r'^intercept_http_requests_total\{method="([^"]*)",'
                         r'endpoint="([^"]*)"\} (\d+)$', prom, re.M):
        got[(m.group(1), m.group(2))] = int(m.group(3))
    expect_eq(got, {(e["method"], e["endpoint"]): e["requests"] for e in http},
              "prometheus requests per endpoint")

    # sqlite: endpoints, every request, findings
    db = os.path.join(os.path.dirname(trace), "http.db")
    fmtlib.analyze_raw(trace, "--format", "sqlite", "-o", db)
    c = sqlite3.connect(db)
    expect_eq(c.execute("SELECT count(*), sum(duration_ns) FROM http_requests").fetchone(),
              (total_req, total_ns), "sqlite http_requests")
    per = dict(((m, ep), n) for m, ep, n in c.execute(
        "SELECT method, endpoint, count(*) FROM http_requests JOIN http USING(endpoint_id) "
        "GROUP BY endpoint_id"))
    expect_eq(per, {(e["method"], e["endpoint"]): e["requests"] for e in http},
              "sqlite requests per endpoint")
    expect_eq(c.execute("SELECT count(*) FROM http_findings").fetchone()[0],
              len(report["http_findings"]), "sqlite http_findings")
    c.close()


def test_query_opt_in(srv):
    """intercept --url-query (INTERCEPT_URL_QUERY=1) keeps query strings in the trace; endpoints still group
    without them, and credentials are still removed."""
    d = tmpdir()
    trace = os.path.join(d, "q.zst")
    base = "http://127.0.0.1:%d" % srv.port
    url1 = "http://bob:pw_Q@127.0.0.1:%d/q/1?page=KEPTQUERY" % srv.port
    url2 = "http://127.0.0.1:%d/q/2?page=2" % srv.port
    run_traced(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null",
                url1, url2], trace, opts=["--url-query"])
    raw = subprocess.run(["zstd", "-dc", trace], capture_output=True, timeout=60).stdout
    expect(b"KEPTQUERY" in raw, "opt-in keeps the query string")
    expect(b"pw_Q" not in raw, "opt-in still drops credentials")
    report = analyze(trace)
    q = entry(report, "GET", base + "/q/{id}")
    expect(q and q["requests"] == 2, "queries do not split the endpoint")


def test_curl_cli(srv):
    base = "http://127.0.0.1:%d" % srv.port
    for mode, extra in (("serial", []), ("parallel", ["-Z"])):
        d = tmpdir()
        trace = os.path.join(d, "cli.zst")
        srv.hits.clear()
        urls = [base + "/cli/%d" % i for i in (1, 2, 3)] + [base + "/status/404",
                                                            base + "/cli/x"]
        argv = ["curl", "-sS", "--max-time", "10", *extra]
        for u in urls:
            argv += ["-o", "/dev/null", u]
        out, err, rc = run_traced(argv, trace, check=False)
        expect_eq(rc, 0, "curl %s exit status (%s)" % (mode, err.strip()))
        report = analyze(trace)
        check_http_shape(report, "curl " + mode)
        got = {(e["method"], e["endpoint"]): (e["requests"], e["errors"])
               for e in report["http"]}
        expect_eq(got, {("GET", base + "/cli/{id}"): (3, 0),
                        ("GET", base + "/status/{id}"): (1, 1),
                        ("GET", base + "/cli/x"): (1, 0)}, "curl %s endpoints" % mode)
        expect_eq(sum(srv.hits.values()), 5, "the server answered curl %s 5 times" % mode)
        multi = sum(e["multi_requests"] for e in report["http"])
        expect_eq(multi, 5 if mode == "parallel" else 0, "curl %s interface" % mode)


def test_two_builds(srv):
    """libcurl.so.4 in the program, libcurl-gnutls.so.4 in a dlopen'ed plugin: every call
    reaches its own build (forwarding all to one build crashed), and all are recorded."""
    d = tmpdir()
    trace = os.path.join(d, "two.zst")
    url = "http://127.0.0.1:%d/two/builds" % srv.port
    out, err, rc = run_traced([workload("curl_flavours"), workload("libcurl_plugin.so"), url,
                               "4"], trace, check=False)
    expect_eq(rc, 0, "two libcurl builds in one process run (%s)" % err.strip()[-300:])
    if rc:
        return
    t = truth_lines(out)[0]
    expect_eq((t["main_gnutls"], t["plugin_gnutls"]), (0, 1), "the two builds differ")
    expect_eq(t["ok"], t["requests"], "every transfer of both builds succeeded")
    report = analyze(trace)
    e = entry(report, "GET", url)
    expect(e is not None, "two-builds endpoint present")
    if e:
        expect_eq(e["requests"], t["requests"], "two builds: requests")
        expect_eq(e["errors"], 0, "two builds: errors")
        expect_eq(e["bytes_received"], t["bytes_received"], "two builds: bytes")
        expect_eq(e["multi_requests"], t["requests"] // 3, "two builds: multi transfers")


def test_hook_off(srv):
    """--hooks malloc: the curl hook only forwards; transfers work, none is recorded."""
    d = tmpdir()
    trace = os.path.join(d, "off.zst")
    url = "http://127.0.0.1:%d/off/1" % srv.port
    srv.hits.clear()
    _, err, rc = run_traced(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", url, "-Z",
                             "-o", "/dev/null", url], trace, opts=["--hooks", "malloc"],
                            check=False)
    expect_eq(rc, 0, "curl with the curl hook off (%s)" % err.strip())
    expect_eq(sum(srv.hits.values()), 2, "both transfers reached the server")
    report = analyze(trace)
    expect_eq(report["http"], [], "nothing recorded with the curl hook off")
    expect(report["alloc"]["allocations"] > 0, "malloc still recorded")


def test_no_curl():
    """A program that never uses libcurl: no HTTP section, nothing recorded."""
    d = tmpdir()
    trace = os.path.join(d, "none.zst")
    run_traced([workload("leaks")], trace)
    report = analyze(trace)
    expect_eq(report["http"], [], "no http entries without libcurl")
    expect("HTTP ENDPOINTS" not in analyze(trace, fmt="text").stdout, "no HTTP text section")


def main():
    srv = http_server.start()
    try:
        trace, report = test_workload(srv, http_server.closed_port())
        test_formats(trace, report)
        test_query_opt_in(srv)
        test_curl_cli(srv)
        test_two_builds(srv)
        test_hook_off(srv)
        test_no_curl()
    finally:
        srv.stop()
    done()


main()
