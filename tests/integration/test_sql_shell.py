"""A program nobody here wrote: the sqlite3 shell running a script of statements with
different literals. Each statement of the script is one normalized statement with exactly
the executions and rows the script implies, and the shell runs nothing else."""
import os
import lib
import sqllib

d = lib.tmpdir()
db = os.path.join(d, "shell.db")
script = os.path.join(d, "script.sql")
trace = os.path.join(d, "shell.zst")
N_INSERT, N_SELECT = 25, 7
with open(script, "w") as f:
    f.write("CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER);\n")
    for i in range(N_INSERT):
        f.write("INSERT INTO kv VALUES('key%d', %d);\n" % (i, i))
    for i in range(N_SELECT):
        f.write("SELECT v FROM kv   WHERE k = 'key%d';\n" % (i * 3))
    f.write("SELECT count(*) FROM kv;\n")
    f.write("UPDATE kv SET v = v + 1 WHERE v > 10;\n")
truth = {
    "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER)": {"executions": 1, "rows": 0, "prepares": 1},
    "INSERT INTO kv VALUES(?, ?)": {"executions": N_INSERT, "rows": 0, "prepares": N_INSERT},
    "SELECT v FROM kv WHERE k = ?": {"executions": N_SELECT, "rows": N_SELECT,
                                     "prepares": N_SELECT},
    "SELECT count(*) FROM kv": {"executions": 1, "rows": 1, "prepares": 1},
    "UPDATE kv SET v = v + ? WHERE v > ?": {"executions": 1, "rows": 0, "prepares": 1},
}
with open(script) as stdin:
    import subprocess
    p = subprocess.run([lib.INTERCEPT, "-o", trace, "--", "sqlite3", "-batch", "-init",
                        os.devnull, db], stdin=stdin, capture_output=True, text=True,
                       timeout=60)
lib.expect_eq(p.returncode, 0, "sqlite3 exit status (%s)" % p.stderr[-300:])
lib.expect_eq(p.stdout.split(), [str(i * 3) for i in range(N_SELECT)] + [str(N_INSERT)],
              "the shell's output")
rep = lib.analyze(trace)
sqllib.check_entries(rep)
got = sqllib.compare(rep, truth, ("executions", "rows", "prepares"))
lib.expect_eq(sorted(got), sorted(truth), "the script's statements and nothing else")
st = got.get("INSERT INTO kv VALUES(?, ?)", {}).get("stack", [])
lib.expect(any((f.get("module") or "").endswith("sqlite3") for f in st),
           "the first-execution stack is in the shell: %s" % [f.get("module") for f in st[:3]])
churn = sqllib.findings(rep, "reprepare")
lib.expect("INSERT INTO kv VALUES(?, ?)" in churn, "the shell prepares each line anew")
lib.done()
