"""A program nobody here wrote: python3's sqlite3 module (dlopen'ed with RTLD_LOCAL, see
NOTES.md), with /usr/bin/python3 and the python3 on PATH when that is another one.
executemany, repeated execute with a cached statement, and a query returning many rows:
executions and rows per statement are exactly what the script did."""
import os
import shutil
import subprocess
import lib
import sqllib

SCRIPT = r'''
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
N = 150
db.executemany("INSERT INTO items(name, qty) VALUES (?, ?)", [("n%d" % i, i) for i in range(N)])
db.commit()
rows = 0
for i in range(40):
    rows += len(db.execute("SELECT name FROM items WHERE id = ?", (i + 1,)).fetchall())
big = db.execute("SELECT id FROM items WHERE qty > 100").fetchall()
db.close()
print(json.dumps({"sql": {
    "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)":
        {"executions": 1, "rows": 0},
    "INSERT INTO items(name, qty) VALUES (?, ?)": {"executions": N, "rows": 0},
    "SELECT name FROM items WHERE id = ?": {"executions": 40, "rows": rows},
    "SELECT id FROM items WHERE qty > ?": {"executions": 1, "rows": len(big)},
}}))
'''

pythons = []
for p in ("/usr/bin/python3", shutil.which("python3")):
    if not p or not os.path.exists(p):
        continue
    # the interpreter itself, not a wrapper script (pyenv's shim forks a dozen shells)
    exe = subprocess.run([p, "-c", "import sys; print(sys.executable)"], capture_output=True,
                         text=True, check=True).stdout.strip()
    if os.path.realpath(exe) not in [os.path.realpath(x) for x in pythons]:
        pythons.append(exe)
lib.expect(pythons, "a python3 to test")

d = lib.tmpdir()
script = os.path.join(d, "script.py")
with open(script, "w") as f:
    f.write(SCRIPT)
for n, py in enumerate(pythons):
    db = os.path.join(d, "py%d.db" % n)
    trace = os.path.join(d, "py%d.zst" % n)
    out, _, _ = lib.run_traced([py, script, db], trace)
    truth = lib.truth_lines(out)[0]
    rep = lib.analyze(trace)
    sqllib.check_entries(rep)
    got = sqllib.compare(rep, truth["sql"], what="%s: " % py)
    ins = got.get("INSERT INTO items(name, qty) VALUES (?, ?)", {})
    lib.expect_eq(ins.get("prepares"), 1, "%s: executemany prepares once" % py)
    lib.expect(ins.get("stack"), "%s: a first-execution stack" % py)
    lib.expect_eq(ins.get("database"), db, "%s: database file" % py)
lib.done()
