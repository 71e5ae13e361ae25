"""sqllib.py - helpers the SQL integration tests share: the `sql` entries of a report by
statement text, exact comparison with a workload's per-statement ground truth, and the
contract's shape of each entry."""
import lib

CONTRACT_FIELDS = ("statement", "executions", "rows", "total_ns", "p50_ns", "p95_ns",
                   "p99_ns", "max_ns", "busy", "lock_wait_ns", "fullscan_steps")


def by_statement(report):
    out = {}
    for s in report["sql"]:
        lib.expect(s["statement"] not in out, "one entry per statement: %s" % s["statement"])
        out[s["statement"]] = s
    return out


def check_entries(report):
    """Every sql entry has the contract's fields, ordered percentiles, and the array is
    sorted by total_ns, largest first."""
    sql = report["sql"]
    for s in sql:
        for k in CONTRACT_FIELDS:
            lib.expect(k in s, "sql entry has %s" % k)
        if s["executions"]:
            lib.expect(s["p50_ns"] <= s["p95_ns"] <= s["p99_ns"] <= s["max_ns"] <= s["total_ns"],
                       "percentiles ordered for %s" % s["statement"])
    lib.expect(all(sql[i]["total_ns"] >= sql[i + 1]["total_ns"] for i in range(len(sql) - 1)),
               "sql sorted by total_ns")
    for s in sql:
        text = s["statement"] or ""
        lib.expect("sqlite_master" not in text and "sqlite_schema" not in text,
                   "SQLite's own schema statements are not the application's: %s" % text)


def compare(report, truth, fields=("executions", "rows"), what=""):
    got = by_statement(report)
    for stmt, want in sorted(truth.items()):
        g = got.get(stmt)
        lib.expect(g is not None, "%sstatement reported: %s" % (what, stmt))
        if g is None:
            continue
        for k in fields:
            lib.expect_eq(g[k], want[k], "%s%s: %s" % (what, stmt, k))
    return got


def functions(stack):
    return [f.get("function") for f in stack]


def findings(report, kind):
    return {f["statement"]: f for f in report["sql_findings"] if f["kind"] == kind}
