"""--format html (fmt_html.c), checked by a real browser: headless Chromium (Debian
`chromium`, installed by tools/setup.sh) loads the page with the network off, takes a
screenshot, and dumps the DOM after the page's script ran. The test fails on any console
message (a script error, a blocked fetch), on a page whose script did not finish, on flame
graph totals that differ from the JSON report, and when sorting or zooming does not work
(a test script clicks a column header and a frame). The page must fetch nothing: no src,
no external href, a Content-Security-Policy that forbids every load.

Screenshots are left in the test's temporary directory (printed) for people to look at."""
import html as htmllib
import json
import os
import re
import shutil
import struct
import subprocess
import lib

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    raise SystemExit("FAIL: chromium not found: tools/setup.sh installs the Debian package "
                     "'chromium' (apt-get install chromium)")

d = lib.tmpdir()


def chromium(html, png=None):
    """Load html in a fresh headless Chromium; return (dom, console lines)."""
    profile = os.path.join(d, "profile-%d" % chromium.n)
    chromium.n += 1
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
            "--window-size=1300,2400", "--dump-dom"]
    if png:
        args.append("--screenshot=" + png)
    p = subprocess.run(args + ["file://" + os.path.abspath(html)], capture_output=True, text=True,
                       timeout=120)
    lib.expect_eq(p.returncode, 0, "chromium exit status for %s" % html)
    console = [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln]
    return p.stdout, console
chromium.n = 0


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    lib.expect(head[:8] == b"\x89PNG\r\n\x1a\n", "%s is a PNG" % path)
    return struct.unpack(">II", head[16:24])


def static_checks(html_text, what):
    lib.expect(html_text.startswith("<!DOCTYPE html>"), "%s: doctype" % what)
    lib.expect("Content-Security-Policy" in html_text and "default-src 'none'" in html_text,
               "%s: CSP forbids loads" % what)
    for pat in (r"\ssrc\s*=", r"<link\b", r"@import", r"url\(", r"<iframe", r"<object", r"<embed"):
        lib.expect(not re.search(pat, html_text, re.I), "%s: no %s" % (what, pat))
    hrefs = re.findall(r'href="([^"]*)"', html_text)
    lib.expect(all(h.startswith("#") for h in hrefs), "%s: only in-page links" % what)


def render(html, what, png):
    dom, console = chromium(html, png)
    lib.expect_eq(console, [], "%s: console messages" % what)
    lib.expect('data-ready="1"' in dom, "%s: the page script ran to the end" % what)
    lib.expect('data-js-errors="' not in dom, "%s: no script errors" % what)
    w, h = png_size(png)
    lib.expect(w >= 1000 and h >= 1000 and os.path.getsize(png) > 20000, "%s: screenshot %dx%d" % (what, w, h))
    print("screenshot:", png)
    return dom


# ---- the demo program: threads, temporaries, leaks ---------------------------------------
trace = os.path.join(d, "demo.zst")
lib.run_traced([os.path.join(lib.BUILD, "demo")], trace)
rep = lib.analyze(trace)
html = os.path.join(d, "demo.html")
lib.analyze(trace, "-o", html, fmt="html")
text = open(html, encoding="utf-8").read()
static_checks(text, "demo")
# ---- interaction: sort a column, zoom a frame ----------------------------------------------
selftest = """<script>(function(){
var out=[];
function col(table,name){var hs=table.tHead.rows[0].cells;for(var i=0;i<hs.length;i++)
 if(hs[i].textContent===name)return i;return -1;}
var t=document.querySelector('#s-alloc table.sortable'),i=col(t,'allocations');
function vals(){return Array.prototype.map.call(t.tBodies[0].rows,function(r){
 return parseFloat(r.cells[i].getAttribute('data-v'));});}
t.tHead.rows[0].cells[i].click();var a=vals();
for(var k=1;k<a.length;k++)if(a[k-1]<a[k])out.push('not descending');
t.tHead.rows[0].cells[i].click();var b=vals();
for(var k=1;k<b.length;k++)if(b[k-1]>b[k])out.push('not ascending');
if(t.tHead.rows[0].cells[i].getAttribute('data-dir')!=='asc')out.push('no direction mark');
var svg=document.querySelector('svg.flame[data-section="alloc.sites"]'),g=null;
Array.prototype.forEach.call(svg.querySelectorAll('g.f'),function(n){
 if(!g&&n.getAttribute('data-d')!=='0'&&parseFloat(n.getAttribute('data-w'))<1000)g=n;});
if(!g){out.push('no frame to zoom');}else{
 g.querySelector('rect').dispatchEvent(new MouseEvent('click',{bubbles:true}));
 if(svg.getAttribute('data-zoom')!==g.getAttribute('data-l'))out.push('zoom not recorded');
 var w=parseFloat(g.querySelector('rect').getAttribute('width'));
 if(Math.abs(w-1200)>0.5)out.push('zoomed frame width '+w);
 var hidden=svg.querySelectorAll('g.f[style*="none"]').length;
 if(!hidden)out.push('nothing hidden by zoom');
 var root=svg.querySelector('g.f[data-l="all"]');
 root.querySelector('rect').dispatchEvent(new MouseEvent('click',{bubbles:true}));
 if(svg.querySelectorAll('g.f[style*="none"]').length)out.push('reset left frames hidden');}
document.body.setAttribute('data-selftest',out.length?out.join('; '):'ok');})();</script>"""
# one browser run: the page plus a test script that sorts a column and zooms a frame (and
# zooms back out, so the screenshot shows the page as it opens)
html2 = os.path.join(d, "demo-selftest.html")
with open(html2, "w", encoding="utf-8") as f:
    f.write(text.replace("</body>", selftest + "</body>"))
dom = render(html2, "demo", os.path.join(d, "demo.png"))
m = re.search(r'data-selftest="([^"]*)"', dom)
lib.expect_eq(m.group(1) if m else None, "ok", "sorting and zooming")

# flame graphs: one per cost, each total equal to the JSON report's
flames = re.findall(r'<svg class="flame"[^>]*data-section="([^"]*)" data-field="([^"]*)" '
                    r'data-total="([^"]*)" data-entries="(\d+)"', dom)
got = {(s, f): (float(t), int(n)) for s, f, t, n in flames}
want = {("alloc.sites", "bytes"): (rep["alloc"]["bytes_allocated"], len(rep["alloc"]["sites"])),
        ("alloc.sites", "allocations"): (rep["alloc"]["allocations"], len(rep["alloc"]["sites"])),
        ("leaks.sites", "bytes"): (rep["leaks"]["bytes"], len(rep["leaks"]["sites"]))}
if rep.get("http"):  # the demo asks an HTTP service (libcurl): HTTP time by calling stack
    want[("http_stacks", "total_ns")] = (sum(e["total_ns"] for e in rep["http"]),
                                         len(rep["http_stacks"]))
if rep.get("sql"):  # it keeps orders in SQLite: SQL time, statements as innermost frames
    want[("sql", "total_ns")] = (sum(e["total_ns"] for e in rep["sql"]), len(rep["sql"]))
if rep.get("locks"):  # its workers contend for the cache lock: lock waits by waiting stack
    want[("lock_stacks", "wait_ns")] = (sum(e["wait_ns"] for e in rep["locks"]),
                                        len(rep["lock_stacks"]))
if rep.get("growth"):  # heap snapshots (issue 7): live bytes of the sites with a growth entry
    live = [e["live_bytes"] for e in rep["growth"]["sites"] if e["live_bytes"] > 0]
    want[("growth.sites", "live_bytes")] = (sum(live), len(live))
lib.expect_eq(got, {k: (float(v[0]), v[1]) for k, v in want.items()}, "flame graphs and their totals")
lib.expect_eq(len(re.findall(r'<g class="f"[^>]*data-l="all"', dom)), len(want),
              "each flame graph has its root frame")
# frames named by function, as --format folded names them: worker's two call sites are one
for fn in ("format_line", "validate", "worker"):
    lib.expect(('data-l="%s"' % fn) in dom, "a flame frame for %s" % fn)
folded_frames = set()
for weight in ("bytes", "count", "leaked", "httptime", "lockwait", "sqltime"):
    p = subprocess.run([lib.ANALYZE, trace, "--format", "folded", "--weight", weight],
                       capture_output=True, text=True, check=True, timeout=120)
    for line in p.stdout.splitlines():
        folded_frames.update(line.rsplit(" ", 1)[0].split(";"))
svg_frames = {htmllib.unescape(x) for x in re.findall(r'<g class="f" [^>]*data-l="([^"]*)"', dom)}
svg_frames.discard("all")
lib.expect(svg_frames and svg_frames <= folded_frames,
           "flame graph frames are named as in --format folded: %s" % (svg_frames - folded_frames))
# the heap chart, with the peak the report has
lib.expect('<svg class="chart"' in dom and 'class="area"' in dom, "heap chart drawn")
pts = rep["alloc"]["heap_timeline"]["points"]
lib.expect_eq(dom.count('class="hit"'), len(pts), "one hover interval per heap_timeline point")
lib.expect(">peak " in dom, "the peak is marked")
# every section has its table: one row per entry
# every section has its table: one row per entry, at most 500 by default
for sec, n in (("alloc", len(rep["alloc"]["sites"])), ("leaks", len(rep["leaks"]["sites"])),
               ("http", len(rep["http"]))):
    m = re.search(r'<section id="s-%s">.*?<table class="sortable">.*?<tbody>(.*?)</tbody>' % sec, dom, re.S)
    lib.expect(m is not None or n == 0, "%s table" % sec)
    if m:
        lib.expect_eq(m.group(1).count("<tr>"), min(n, 500), "%s table rows" % sec)
for sec in ("sql", "http", "locks", "http_findings", "http_slowest", "http_stacks"):
    lib.expect(('<section id="s-%s">' % sec) in dom, "%s section present" % sec)
# --top 3 cuts tables (not flame graphs)
html3 = os.path.join(d, "demo-top3.html")
lib.analyze(trace, "-o", html3, "--top", "3", fmt="html")
t3 = open(html3, encoding="utf-8").read()
m = re.search(r'<section id="s-alloc">.*?<tbody>(.*?)</tbody>', t3, re.S)
lib.expect(m and m.group(1).count("<tr>") == 3, "--top 3: three rows")
lib.expect(('data-entries="%d"' % len(rep["alloc"]["sites"])) in t3, "--top 3: flame graphs keep every site")


# ---- a merged report: a line per process in the heap chart, the processes table ----------
ftrace = os.path.join(d, "fork.zst")
out, _, _ = lib.run_traced([lib.workload("forker")], ftrace)
truths = {t["role"]: t for t in lib.truth_lines(out)}
child = os.path.join(d, "fork.%d.zst" % truths["child"]["pid"])
mhtml = os.path.join(d, "merged.html")
p = subprocess.run([lib.ANALYZE, ftrace, child, "--format", "html", "-o", mhtml], capture_output=True,
                   text=True, timeout=300)
lib.expect_eq(p.returncode, 0, "merged html exit status")
static_checks(open(mhtml, encoding="utf-8").read(), "merged")
mdom = render(mhtml, "merged", os.path.join(d, "merged.png"))
lib.expect("merged from 2 processes" in mdom, "merged header")
lib.expect('<section id="s-processes">' in mdom, "processes table")
for role in ("parent", "child"):
    lib.expect(("pid %d</span>" % truths[role]["pid"]) in mdom, "chart legend for the %s" % role)

# hostile text in a report cannot break out of the page: a trace of a program whose
# command line holds markup (checked in the file: the only way in would be verbatim)
evil = os.path.join(d, "evil.zst")
lib.run_traced([lib.workload("scaled"), "2", "</title><script>document.body.setAttribute('data-pwned','1')</script>"],
               evil, check=False)
ehtml = os.path.join(d, "evil.html")
lib.analyze(evil, "-o", ehtml, fmt="html")
etext = open(ehtml, encoding="utf-8").read()
lib.expect("<script>document.body" not in etext and "</title><script>" not in etext,
           "markup in the command line is never written as markup")
lib.expect("&lt;/title&gt;&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;" in etext,
           "markup in the command line is escaped")
lib.done()
