"""Private by default: statements whose literals and comments hold a secret (strings, a
blob, a number) leave no byte of it in the trace (decompressed with the zstd CLI and
searched); --sql-literals (INTERCEPT_SQL_LITERALS=1) keeps literals, so the same search finds it (the check
can fail)."""
import os
import subprocess
import lib

SECRET = "hunter2-TOPSECRET-x7"
d = lib.tmpdir()


def raw_trace(env, opts=()):
    db = os.path.join(d, "p.db")
    trace = os.path.join(d, "p.zst")
    lib.run_traced([lib.workload("sql_app"), db], trace, opts=opts, env=env)
    raw = subprocess.run(["zstd", "-d", "-c", "-q", trace], capture_output=True, timeout=60,
                         check=True).stdout
    lib.expect(len(raw) > 10000, "the trace decompresses")
    return raw, lib.analyze(trace)


raw, rep = raw_trace({"SQL_SECRET": SECRET})
for needle in (SECRET, "TOPSECRET", "987654321", "0123abcd"):
    lib.expect(needle.encode() not in raw, "%r is not in the trace" % needle)
texts = [s["statement"] for s in rep["sql"]]
lib.expect("SELECT id FROM customers WHERE name = ? OR id = ?" in texts,
           "the secret's statement is there, normalized")
lib.expect(not any(SECRET in t for t in texts), "no secret in the report")

raw, rep = raw_trace({"SQL_SECRET": SECRET}, opts=["--sql-literals"])
lib.expect(SECRET.encode() in raw, "INTERCEPT_SQL_LITERALS=1 keeps the literal")
lib.expect(any(SECRET in (s["statement"] or "") for s in rep["sql"]),
           "INTERCEPT_SQL_LITERALS=1: the literal is in the report")
lib.done()
