/* fmt_html.c - owns `--format html`: one self-contained page (inline CSS, SVG and
 * JavaScript; a Content-Security-Policy that forbids every fetch) with the summary, a
 * heap-over-time chart, an SVG flame graph per cost and a sortable table for every section.
 *
 * It renders the report model (model.h), not struct report, so every section fmt_json.c
 * writes gets its table here without a change; model.c's table names a section's flame
 * graphs. Stacks and frame names are those of every other format (rp_stack() through the
 * JSON; rp_frame_name() in flame graphs as in --format folded, rp_frame_label() in tables). Flame
 * graphs use every entry whatever --top says; tables show
 * --top rows (default HTML_ROWS). Main thread only. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define HTML_ROWS    500    /* table rows per section unless --top */
#define FG_W	     1200.0 /* flame graph width in SVG units */
#define FG_ROW	     17	    /* height of one frame */
#define FG_MAX_RECTS 6000   /* frames drawn per flame graph, narrowest dropped first */
#define CH_W	     1200.0 /* heap chart */
#define CH_H	     280.0
#define CH_L	     78.0 /* left margin (axis labels) */
#define CH_B	     34.0 /* bottom margin */
#define MAX_SECTIONS 32

/* ---- escaping ---------------------------------------------------------------------------- */

static void esc_n(FILE *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '&':
			fputs("&amp;", o);
			break;
		case '<':
			fputs("&lt;", o);
			break;
		case '>':
			fputs("&gt;", o);
			break;
		case '"':
			fputs("&quot;", o);
			break;
		case '\'':
			fputs("&#39;", o);
			break;
		default:
			if (c < 0x20 && c != '\n' && c != '\t')
				fputs("\xef\xbf\xbd", o); /* U+FFFD for control characters */
			else
				fputc(c, o);
		}
	}
}

static void esc(FILE *o, const char *s)
{
	esc_n(o, s ? s : "", s ? strlen(s) : 0);
}

static const char *str_of(const struct jv *root, const char *obj, const char *key)
{
	const struct jv *v = jv_get(jv_get(root, obj), key);
	return v && v->type == JV_STR ? v->s : NULL;
}

static double num_of(const struct jv *o, const char *key)
{
	double v = 0;
	jv_num(jv_get(o, key), &v);
	return v;
}

/* ---- page frame --------------------------------------------------------------------------- */

static const char css[] =
	"*{box-sizing:border-box}"
	"body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"color:#1d2430;background:#f4f6f9}"
	"header{background:#1f2a3a;color:#fff;padding:18px 28px}"
	"header h1{margin:0;font-size:20px;font-weight:600}"
	"header .cmd{font-family:ui-monospace,Menlo,Consolas,monospace;color:#c9d6ea;"
	"margin:4px 0 0;word-break:break-all}"
	"header .meta{color:#9fb0c8;margin:4px 0 0;font-size:13px}"
	"nav{background:#fff;border-bottom:1px solid #dde3ea;padding:8px 28px;position:sticky;"
	"top:0;z-index:5}"
	"nav a{margin-right:16px;color:#2a5db0;text-decoration:none;font-size:13px}"
	"main{padding:8px 28px 40px;max-width:1400px}"
	"section{background:#fff;border:1px solid #dde3ea;border-radius:6px;margin:18px 0;"
	"padding:14px 18px}"
	"h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}"
	".cards{display:flex;flex-wrap:wrap;gap:10px}"
	".card{border:1px solid #e1e6ee;border-radius:6px;padding:8px 14px;min-width:150px;"
	"background:#fafbfd}"
	".card .k{color:#5d6b80;font-size:12px}.card .v{font-size:18px;font-weight:600}"
	".card.bad{border-color:#e0a3a3;background:#fff4f4}.card.bad .v{color:#b42318}"
	"table{border-collapse:collapse;width:100%;font-size:13px}"
	"th,td{padding:4px 8px;border-bottom:1px solid #edf0f4;text-align:left;"
	"vertical-align:top}"
	"th{background:#f0f3f7;cursor:pointer;user-select:none;white-space:nowrap}"
	".tw{overflow-x:auto}"
	"th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"td.s{max-width:560px;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,"
	"monospace;font-size:12px}"
	"td.stk summary{cursor:pointer;font-family:ui-monospace,Menlo,Consolas,monospace;"
	"font-size:12px}"
	"td.stk ol{margin:4px 0 2px;padding-left:22px;font-family:ui-monospace,Menlo,"
	"Consolas,monospace;font-size:12px;color:#3b4656}"
	"tr:hover td{background:#f7f9fc}"
	"table.kv{width:auto}table.kv td:first-child{color:#5d6b80}"
	".note{color:#5d6b80;font-size:12px;margin:6px 0}"
	".warn{color:#8a5300}"
	"svg{display:block;width:100%;height:auto}"
	"svg.flame text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#222;"
	"pointer-events:none}"
	"svg.flame g{cursor:pointer}svg.flame rect{stroke:#fff;stroke-width:.5}"
	"svg.flame g:hover rect{stroke:#000;stroke-width:1}"
	"svg.chart text{font:11px system-ui,sans-serif;fill:#5d6b80}"
	"svg.chart .grid{stroke:#e6eaf0}svg.chart .area{fill:#4c7bd9;fill-opacity:.25}"
	"svg.chart .line{fill:none;stroke:#2f5fbf;stroke-width:1.5}"
	"svg.chart .hit{fill:transparent}svg.chart .hit:hover{fill:#000;fill-opacity:.06}"
	".legend span{display:inline-block;margin-right:14px;font-size:12px}"
	".legend i{display:inline-block;width:12px;height:3px;margin-right:5px;"
	"vertical-align:middle}"
	"footer{color:#8090a5;font-size:12px;padding:0 28px 24px}";

/* Sorting, flame graph zoom, and a record of script errors on <body> (data-js-errors) so
 * tests and users can see one. Written for ES2017, no library. */
static const char js[] =
	"(function(){'use strict';\n"
	"var errs=0;window.addEventListener('error',function(){errs++;"
	"document.body.setAttribute('data-js-errors',String(errs));});\n"
	"function sortBy(th){var table=th.closest('table'),tb=table.tBodies[0];"
	"var i=Array.prototype.indexOf.call(th.parentNode.children,th);"
	"var num=th.getAttribute('data-t')==='n';"
	"var dir=th.getAttribute('data-dir')==='desc'?'asc':'desc';"
	"Array.prototype.forEach.call(th.parentNode.children,function(h){"
	"h.removeAttribute('data-dir');});th.setAttribute('data-dir',dir);"
	"var rows=Array.prototype.slice.call(tb.rows);var s=dir==='asc'?1:-1;"
	"rows.sort(function(a,b){var x=a.cells[i].getAttribute('data-v'),"
	"y=b.cells[i].getAttribute('data-v');"
	"if(num){return s*((parseFloat(x)||0)-(parseFloat(y)||0));}"
	"return s*String(x).localeCompare(String(y));});"
	"rows.forEach(function(r){tb.appendChild(r);});}\n"
	"Array.prototype.forEach.call(document.querySelectorAll('table.sortable th'),"
	"function(th){th.addEventListener('click',function(){sortBy(th);});});\n"
	"function fit(label,w){var n=Math.floor((w-6)/6.7);if(n<3)return '';"
	"return label.length<=n?label:label.slice(0,n-1)+'\\u2026';}\n"
	"function zoom(svg,g){var W=parseFloat(svg.getAttribute('data-w'));"
	"var x0=parseFloat(g.getAttribute('data-x')),w0=parseFloat(g.getAttribute('data-w')),"
	"d0=parseInt(g.getAttribute('data-d'),10),e=1e-6;"
	"Array.prototype.forEach.call(svg.querySelectorAll('g.f'),function(n){"
	"var x=parseFloat(n.getAttribute('data-x')),w=parseFloat(n.getAttribute('data-w')),"
	"d=parseInt(n.getAttribute('data-d'),10),nx=0,nw=0,vis=true;"
	"if(d<d0){vis=x<=x0+e&&x+w>=x0+w0-e;nx=0;nw=W;}"
	"else{vis=x>=x0-e&&x+w<=x0+w0+e;nx=(x-x0)*W/w0;nw=w*W/w0;}"
	"n.style.display=vis?'':'none';if(!vis)return;"
	"var r=n.querySelector('rect'),t=n.querySelector('text');"
	"r.setAttribute('x',nx.toFixed(2));r.setAttribute('width',nw.toFixed(2));"
	"t.setAttribute('x',(nx+3).toFixed(2));"
	"t.textContent=fit(n.getAttribute('data-l'),nw);});"
	"svg.setAttribute('data-zoom',g.getAttribute('data-l'));}\n"
	"Array.prototype.forEach.call(document.querySelectorAll('svg.flame'),function(svg){"
	"svg.addEventListener('click',function(ev){var g=ev.target.closest('g.f');"
	"if(g)zoom(svg,g);});});\n"
	"document.body.setAttribute('data-ready','1');})();\n";

/* ---- summary ------------------------------------------------------------------------------ */

static void card(FILE *o, const char *k, const char *v, bool bad)
{
	fprintf(o, "<div class=\"card%s\"><div class=\"k\">", bad ? " bad" : "");
	esc(o, k);
	fputs("</div><div class=\"v\">", o);
	esc(o, v);
	fputs("</div></div>\n", o);
}

static void summary_section(FILE *o, const struct jv *root, const struct md_section *secs,
			    size_t n_secs)
{
	const struct jv *sum = jv_get(root, "summary"), *alloc = jv_get(root, "alloc"),
			*leaks = jv_get(root, "leaks");
	const struct jv *complete = jv_get(sum, "complete");
	char b[64], b2[64], v[160];
	fputs("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">\n", o);
	card(o, "Duration", md_fmt(b, sizeof(b), "duration_ns", num_of(sum, "duration_ns"), false),
	     false);
	card(o, "Threads", md_fmt(b, sizeof(b), "threads", num_of(sum, "threads"), false), false);
	card(o, "Events", md_fmt(b, sizeof(b), "events", num_of(sum, "events"), false), false);
	bool whole = complete && complete->type == JV_BOOL && complete->b;
	card(o, "Trace", whole ? "complete" : "INCOMPLETE", !whole);
	double dropped = num_of(sum, "dropped_events");
	card(o, "Dropped events", md_fmt(b, sizeof(b), "dropped_events", dropped, false),
	     dropped > 0);
	if (alloc) {
		card(o, "Allocations",
		     md_fmt(b, sizeof(b), "allocations", num_of(alloc, "allocations"), false),
		     false);
		card(o, "Allocated",
		     md_fmt(b, sizeof(b), "bytes", num_of(alloc, "bytes_allocated"), false), false);
		card(o, "Peak heap",
		     md_fmt(b, sizeof(b), "bytes", num_of(alloc, "peak_bytes"), false), false);
	}
	if (leaks) {
		double lb = num_of(leaks, "bytes");
		snprintf(
			v, sizeof(v), "%s in %s blocks", md_fmt(b, sizeof(b), "bytes", lb, false),
			md_fmt(b2, sizeof(b2), "allocations", num_of(leaks, "allocations"), false));
		card(o, "Leaked (unfreed at the end)", v, lb > 0);
	}
	/* the contract's list sections: how many entries, and their summed cost */
	for (size_t i = 0; i < n_secs; i++) {
		const struct md_section *s = &secs[i];
		const char *cost = md_cost_field(s);
		if ((strcmp(s->path, "sql") && strcmp(s->path, "http") &&
		     strcmp(s->path, "locks")) ||
		    !s->arr->n)
			continue;
		double total = 0;
		for (size_t j = 0; cost && j < s->arr->n; j++)
			total += num_of(&s->arr->items[j], cost);
		snprintf(v, sizeof(v), "%zu \xc2\xb7 %s", s->arr->n,
			 cost ? md_fmt(b, sizeof(b), cost, total, false) : "");
		card(o, s->info->title ? s->info->title : s->path, v, false);
	}
	fputs("</div>\n", o);
	/* every summary field */
	fputs("<details><summary class=\"note\">all summary fields</summary>"
	      "<table class=\"kv\">\n",
	      o);
	for (size_t i = 0; sum && sum->type == JV_OBJ && i < sum->n; i++) {
		const struct jv *x = &sum->items[i];
		fputs("<tr><td>", o);
		esc(o, sum->keys[i]);
		fputs("</td><td>", o);
		if (x->type == JV_NUM)
			esc(o, md_fmt(b, sizeof(b), sum->keys[i], x->d, false));
		else if (x->type == JV_STR)
			esc_n(o, x->s, x->n);
		else if (x->type == JV_BOOL)
			fputs(x->b ? "yes" : "no", o);
		else if (x->type == JV_ARR)
			for (size_t k = 0; k < x->n; k++) {
				if (k)
					fputs(", ", o);
				if (x->items[k].type == JV_STR)
					esc(o, x->items[k].s);
			}
		else
			fputs("&mdash;", o);
		fputs("</td></tr>\n", o);
	}
	fputs("</table></details></section>\n", o);
}

/* ---- heap over time ------------------------------------------------------------------------ */

static double nice_step(double range, int ticks)
{
	double raw = range / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* One heap_timeline (alloc.heap_timeline, or a process's): point i covers
 * [t_ns, t_ns + interval_ns) and max_bytes is the most live in it. */
struct series {
	const struct jv *pts;		/* heap_timeline points, or NULL ... */
	const struct jv *times, *vals; /* ... growth.times_ns and growth.total_bytes */
	size_t n;
	double iv;
	const struct jv *pid; /* of a process's series */
};

static bool series_of(const struct jv *alloc, struct series *s)
{
	const struct jv *t = jv_get(alloc, "heap_timeline");
	const struct jv *pts = jv_get(t, "points");
	if (!pts || pts->type != JV_ARR || !pts->n)
		return false;
	memset(s, 0, sizeof(*s));
	s->pts = pts;
	s->n = pts->n;
	s->iv = num_of(t, "interval_ns");
	return s->iv > 0;
}

static double item_num(const struct jv *arr, size_t i)
{
	double v = 0;
	jv_num(&arr->items[i], &v);
	return v;
}

/* series_of_growth() : summary-mode, sampled and bounded traces have no heap_timeline (the
 * events are not the whole run); their heap over time is the snapshots' total live bytes. */
static bool series_of_growth(const struct jv *root, struct series *s)
{
	const struct jv *g = jv_get(root, "growth");
	const struct jv *t = jv_get(g, "times_ns"), *v = jv_get(g, "total_bytes");
	if (!t || !v || t->type != JV_ARR || v->type != JV_ARR || !t->n || t->n != v->n)
		return false;
	memset(s, 0, sizeof(*s));
	s->times = t;
	s->vals = v;
	s->n = t->n;
	s->iv = num_of(g, "interval_ns");
	if (s->iv <= 0 && t->n > 1)
		s->iv = (item_num(t, t->n - 1) - item_num(t, 0)) / (double)(t->n - 1);
	return s->iv > 0;
}

static double pt_t(const struct series *s, size_t i)
{
	return s->pts ? num_of(&s->pts->items[i], "t_ns") : item_num(s->times, i);
}

static double pt_v(const struct series *s, size_t i)
{
	return s->pts ? num_of(&s->pts->items[i], "max_bytes") : item_num(s->vals, i);
}

static const char *const palette[] = {"#d9534f", "#2e9e5b", "#8e5bd6", "#e08a1e",
				      "#1f9bb5", "#b5479a", "#6b7d1f", "#8a5a44"};

static void heap_chart(FILE *o, const struct jv *root)
{
	struct series total = {0}, procs[8];
	size_t np = 0;
	char b[64], b2[64], b3[64];
	const struct jv *alloc = jv_get(root, "alloc"), *pl = jv_get(root, "processes");
	fputs("<section id=\"heap\"><h2>Heap over time</h2>\n", o);
	if (!series_of(alloc, &total)) {
		if (!series_of_growth(root, &total)) {
			fputs("<p class=\"note\">No allocations recorded.</p></section>\n", o);
			return;
		}
		fputs("<p class=\"note\">From the heap snapshots (the trace does not hold every "
		      "event: summary mode, sampling or a size bound).</p>\n",
		      o);
	}
	for (size_t i = 0; pl && pl->type == JV_ARR && pl->n > 1 && i < pl->n && np < 8; i++)
		if (series_of(jv_get(&pl->items[i], "alloc"), &procs[np])) {
			procs[np].pid = jv_get(&pl->items[i], "pid");
			np++;
		}
	size_t nt = total.n;
	double t1 = pt_t(&total, nt - 1) + total.iv, ymax = 0;
	for (size_t i = 0; i < nt; i++)
		ymax = fmax(ymax, pt_v(&total, i));
	for (size_t k = 0; k < np; k++) {
		size_t n = procs[k].n;
		t1 = fmax(t1, pt_t(&procs[k], n - 1) + procs[k].iv);
		for (size_t i = 0; i < n; i++)
			ymax = fmax(ymax, pt_v(&procs[k], i));
	}
	if (ymax <= 0)
		ymax = 1;
	/* byte ticks at round binary values: 1, 2, 5 x a power of 1024 */
	double unit = 1;
	while (ymax / unit >= 1024 * 2)
		unit *= 1024;
	double ystep = nice_step(ymax / unit, 5) * unit, ytop = ceil(ymax / ystep) * ystep;
	double xstep = nice_step(t1 > 0 ? t1 : 1, 8);
	double pw = CH_W - CH_L - 10, ph = CH_H - CH_B - 10;
#define CX(t) (CH_L + (t) / (t1 > 0 ? t1 : 1) * pw)
#define CY(v) (10 + ph - (v) / ytop * ph)
	fprintf(o,
		"<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		"aria-label=\"live heap bytes over time\">\n",
		CH_W, CH_H);
	for (double y = 0; y <= ytop + ystep / 2; y += ystep) {
		fprintf(o,
			"<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			CH_L, CH_W - 10, CY(y), CY(y), CH_L - 6, CY(y) + 4,
			fmt_bytes(b, sizeof(b), y));
	}
	for (double t = 0; t <= t1 + 1e-9; t += xstep)
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n", CX(t),
			CH_H - CH_B + 16, CX(t) > CH_W - 50 ? "end" : "middle",
			fmt_ns(b, sizeof(b), t));
	/* the total as a step line over a filled area */
	for (int pass = 0; pass < 2; pass++) {
		fprintf(o, "<path class=\"%s\" d=\"", pass ? "line" : "area");
		if (!pass)
			fprintf(o, "M%.2f %.2f ", CX(pt_t(&total, 0)), CY(0));
		for (size_t i = 0; i < nt; i++) {
			double x0 = CX(pt_t(&total, i)), x1 = CX(pt_t(&total, i) + total.iv);
			double y = CY(pt_v(&total, i));
			fprintf(o, "%s%.2f %.2f L%.2f %.2f", i || !pass ? " L" : "M", x0, y, x1, y);
		}
		if (!pass)
			fprintf(o, " L%.2f %.2fZ", CX(pt_t(&total, nt - 1) + total.iv), CY(0));
		fputs("\"/>\n", o);
	}
	for (size_t k = 0; k < np; k++) {
		fprintf(o, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"",
			palette[k % 8]);
		for (size_t i = 0; i < procs[k].n; i++) {
			double x0 = CX(pt_t(&procs[k], i)),
			       x1 = CX(pt_t(&procs[k], i) + procs[k].iv);
			double y = CY(pt_v(&procs[k], i));
			fprintf(o, "%s%.2f %.2f L%.2f %.2f", i ? " L" : "M", x0, y, x1, y);
		}
		fputs("\"/>\n", o);
	}
	/* hover targets, one per interval */
	for (size_t i = 0; i < nt; i++) {
		double t = pt_t(&total, i), x0 = CX(t), x1 = CX(t + total.iv);
		fprintf(o,
			"<rect class=\"hit\" x=\"%.2f\" y=\"10\" width=\"%.2f\" height=\"%.1f\">"
			"<title>%s .. %s: up to %s live</title></rect>\n",
			x0, fmax(x1 - x0, 0.5), ph, fmt_ns(b, sizeof(b), t),
			fmt_ns(b2, sizeof(b2), t + total.iv),
			md_fmt(b3, sizeof(b3), "bytes", pt_v(&total, i), false));
	}
	double peak = num_of(alloc, "peak_bytes"), peak_ns = num_of(alloc, "peak_ns");
	if (peak > 0 && np == 0) {
		double px = CX(peak_ns), py = CY(peak);
		fprintf(o,
			"<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"#b42318\"/>"
			"<text x=\"%.2f\" y=\"%.2f\" fill=\"#b42318\">peak %s at %s</text>\n",
			px, py, fmin(px + 8, CH_W - 190), fmax(py - 6, 20),
			md_fmt(b, sizeof(b), "bytes", peak, false),
			fmt_ns(b2, sizeof(b2), peak_ns));
	}
	fputs("</svg>\n", o);
#undef CX
#undef CY
	if (np) {
		fputs("<div class=\"legend\"><span><i style=\"background:#4c7bd9\"></i>all "
		      "processes</span>",
		      o);
		for (size_t k = 0; k < np; k++)
			fprintf(o, "<span><i style=\"background:%s\"></i>pid %.0f</span>",
				palette[k % 8], procs[k].pid ? procs[k].pid->d : 0);
		fputs("</div>\n", o);
	}
	fprintf(o,
		"<p class=\"note\">Live heap bytes: the most in each of %zu intervals of %s. "
		"Hover for values.%s</p></section>\n",
		nt, fmt_ns(b, sizeof(b), total.iv),
		np ? " The total adds up the processes interval by interval." : "");
}

/* ---- flame graphs ------------------------------------------------------------------------- */

struct fg_node {
	uint32_t label; /* strmap id */
	uint32_t depth;
	uint32_t child, next; /* first child, next sibling (0: none; node 0 is the root) */
	double w;
};

struct fg {
	struct strmap labels;
	struct hmap edges; /* parent << 32 | label -> node index */
	VEC(struct fg_node) nodes;
	bool oom;
};

static uint32_t fg_child(struct fg *g, uint32_t parent, const char *label)
{
	bool is_new;
	uint32_t lid = strmap_intern(&g->labels, label, strlen(label), &is_new);
	uint32_t *slot = lid ? hmap_put(&g->edges, (uint64_t)parent << 32 | lid, &is_new) : NULL;
	if (!slot) {
		g->oom = true;
		return 0;
	}
	if (is_new) {
		struct fg_node n = {.label = lid,
				    .depth = g->nodes.v[parent].depth + 1,
				    .next = g->nodes.v[parent].child};
		if (VEC_PUSH(g->nodes, n)) {
			hmap_del(&g->edges, (uint64_t)parent << 32 | lid);
			g->oom = true;
			return 0;
		}
		*slot = (uint32_t)(g->nodes.n - 1);
		g->nodes.v[parent].child = *slot;
	}
	return *slot;
}

static int by_weight(const void *x, const void *y, void *ctx)
{
	const struct fg *g = ctx;
	double a = g->nodes.v[*(const uint32_t *)x].w, b = g->nodes.v[*(const uint32_t *)y].w;
	return a > b ? -1 : a < b ? 1 : 0;
}

static void fg_color(const char *label, char *buf, size_t cap)
{
	/* warm colours, stable per function name (a table label's part before " (") */
	const char *end = strstr(label, " (");
	size_t n = end ? (size_t)(end - label) : strlen(label);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)label[i]) * 1099511628211ull;
	snprintf(buf, cap, "rgb(%u,%u,%u)", 205 + (unsigned)(h % 50),
		 90 + (unsigned)((h >> 8) % 130), 40 + (unsigned)((h >> 16) % 50));
}

/* fg_walk() : lay out the nodes at least min_w wide: pass 0 counts them and the depth, pass
 * 1 writes them. */
static size_t fg_walk(struct fg *g, FILE *o, double min_w, uint32_t *max_depth, int pass,
		      uint32_t height, const char *field)
{
	struct item {
		uint32_t n;
		double x;
	};
	VEC(struct item) stack = {0};
	VEC(uint32_t) kids = {0};
	size_t count = 0;
	double total = g->nodes.v[0].w;
	struct item root = {0, 0};
	if (VEC_PUSH(stack, root))
		return 0;
	while (stack.n) {
		struct item it = stack.v[--stack.n];
		const struct fg_node *nd = &g->nodes.v[it.n];
		double w = nd->w / total * FG_W;
		if (w < min_w)
			continue;
		count++;
		if (nd->depth > *max_depth)
			*max_depth = nd->depth;
		if (pass == 1) {
			const char *label = it.n ? g->labels.keys.v[nd->label - 1].s : "all";
			char color[32], b[48];
			double y = (double)height - (double)(nd->depth + 1) * FG_ROW;
			size_t chars = w > 12 ? (size_t)((w - 6) / 6.7) : 0, len = strlen(label);
			fg_color(label, color, sizeof(color));
			fprintf(o,
				"<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\" data-d=\"%u\" "
				"data-l=\"",
				it.x, w, nd->depth);
			esc(o, label);
			fputs("\"><title>", o);
			esc(o, label);
			fprintf(o,
				"\n%s (%.2f%%)</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
				"height=\"%d\" fill=\"%s\"/><text x=\"%.2f\" y=\"%.1f\">",
				md_fmt(b, sizeof(b), field, nd->w, false), 100.0 * nd->w / total,
				it.x, y, w, FG_ROW - 1, it.n ? color : "rgb(200,200,205)", it.x + 3,
				y + 12);
			if (chars >= 3 && len <= chars) {
				esc(o, label);
			} else if (chars >= 3) {
				/* cut at a character boundary, then an ellipsis */
				size_t cut = chars - 1;
				while (cut && ((unsigned char)label[cut] & 0xc0) == 0x80)
					cut--;
				esc_n(o, label, cut);
				fputs("\xe2\x80\xa6", o);
			}
			fputs("</text></g>\n", o);
		}
		kids.n = 0;
		for (uint32_t c = nd->child; c; c = g->nodes.v[c].next)
			if (VEC_PUSH(kids, c))
				break;
		if (kids.n > 1)
			qsort_r(kids.v, kids.n, sizeof(uint32_t), by_weight, g);
		double cx = it.x;
		for (size_t i = 0; i < kids.n; i++) {
			struct item c = {kids.v[i], cx};
			cx += g->nodes.v[kids.v[i]].w / total * FG_W;
			if (VEC_PUSH(stack, c))
				break;
		}
	}
	VEC_FREE(stack);
	VEC_FREE(kids);
	return count;
}

/* flame_graph() : the graph of section s weighted by field; leaf, when set, names a text
 * field of each entry drawn as its innermost frame ("[mutex 0x...]"), prefixed by
 * "PREFIX: " when prefix is set, with ';' and line breaks made '_' as in --format folded
 * ("SQL: SELECT ..."). */
static void flame_graph(FILE *o, const struct md_section *s, const char *field, const char *title,
			const char *leaf, const char *prefix, unsigned index)
{
	struct fg g = {0};
	struct fg_node root = {0};
	char lbl[512], b[48];
	size_t used = 0;
	if (strmap_init(&g.labels) || hmap_init(&g.edges, sizeof(uint32_t), 1024) ||
	    VEC_PUSH(g.nodes, root))
		goto out_free;
	for (size_t i = 0; i < s->arr->n && !g.oom; i++) {
		const struct jv *e = &s->arr->items[i];
		const struct jv *st = md_stack(e);
		double w = num_of(e, field);
		if (!st || !(w > 0))
			continue;
		used++;
		g.nodes.v[0].w += w;
		uint32_t at = 0;
		const struct jv *lf = leaf ? jv_get(e, leaf) : NULL;
		/* outermost frame first; frames named as the folded format names them (function
		 * only), so this graph and one drawn from --format folded look the same */
		for (size_t k = st->n; k-- > 0 && !g.oom;) {
			struct rp_frame f;
			md_frame(&st->items[k], &f);
			at = fg_child(&g, at, rp_frame_name(&f, lbl, sizeof(lbl)));
			if (!g.oom)
				g.nodes.v[at].w += w;
		}
		if (lf && lf->type == JV_STR && !g.oom) { /* e.g. the lock waited for */
			char *name = NULL;
			if (asprintf(&name, "%s%s%s", prefix ? prefix : "", prefix ? ": " : "",
				     lf->s) < 0 ||
			    !name) {
				g.oom = true;
				break;
			}
			for (char *c = name; *c; c++)
				if (*c == ';' || *c == '\n' || *c == '\r')
					*c = '_';
			at = fg_child(&g, at, name);
			free(name);
			if (!g.oom)
				g.nodes.v[at].w += w;
		}
	}
	if (!used || g.oom)
		goto out_free;
	/* widen the threshold until the drawing stays small */
	double min_w = 0.25;
	uint32_t depth = 0;
	while (fg_walk(&g, o, min_w, &depth, 0, 0, field) > FG_MAX_RECTS)
		min_w *= 2, depth = 0;
	uint32_t height = (depth + 1) * FG_ROW + 2;
	fprintf(o, "<h3>");
	esc(o, title);
	fprintf(o,
		" <span class=\"note\">(%s in %zu %s; click a frame to zoom, the bottom bar to "
		"reset)</span></h3>\n",
		md_fmt(b, sizeof(b), field, g.nodes.v[0].w, false), used,
		s->info->title ? s->info->title : s->path);
	fprintf(o, "<svg class=\"flame\" id=\"flame-%u\" data-w=\"%.0f\" data-section=\"", index,
		FG_W);
	esc(o, s->path);
	fputs("\" data-field=\"", o);
	esc(o, field);
	fprintf(o,
		"\" data-total=\"%.17g\" data-entries=\"%zu\" viewBox=\"0 0 %.0f %u\" "
		"role=\"img\">\n",
		g.nodes.v[0].w, used, FG_W, height);
	fg_walk(&g, o, min_w, &depth, 1, height, field);
	fputs("</svg>\n", o);
	if (min_w > 0.25)
		fprintf(o,
			"<p class=\"note\">Frames narrower than %.1f units of %.0f are left "
			"out.</p>\n",
			min_w, FG_W);
out_free:
	strmap_free(&g.labels);
	hmap_free(&g.edges);
	VEC_FREE(g.nodes);
}

static void flame_section(FILE *o, const struct md_section *secs, size_t n)
{
	unsigned index = 0;
	fputs("<section id=\"flames\"><h2>Flame graphs</h2>\n"
	      "<p class=\"note\">Stacks from the outermost frame (bottom) to the innermost (top); "
	      "width is the cost. Hover a frame for its value.</p>\n",
	      o);
	for (size_t i = 0; i < n; i++) {
		const struct md_section *s = &secs[i];
		bool stacks = false;
		for (size_t j = 0; j < s->arr->n && !stacks; j++)
			stacks = md_stack(&s->arr->items[j]) != NULL;
		if (!stacks)
			continue;
		/* the flame graphs model.c's table names for the section (none: no graph) */
		char spec[256];
		snprintf(spec, sizeof(spec), "%s", s->info->flames ? s->info->flames : "");
		for (char *save = NULL, *t = strtok_r(spec, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			/* FIELD[:TITLE[:LEAF[:PREFIX]]] */
			char *part[4] = {t, NULL, NULL, NULL};
			for (int k = 1; k < 4 && part[k - 1]; k++)
				if ((part[k] = strchr(part[k - 1], ':')))
					*part[k]++ = '\0';
			flame_graph(o, s, part[0], part[1] ? part[1] : part[0], part[2], part[3],
				    index++);
		}
	}
	if (!index)
		fputs("<p class=\"note\">No stacks with a cost in this report.</p>\n", o);
	fputs("</section>\n", o);
}

/* ---- tables -------------------------------------------------------------------------------- */

struct col {
	char name[96];	 /* "bytes", or "alloc.peak_bytes" for a nested object's field */
	const char *key; /* top-level key in the entry */
	const char *sub; /* key inside that object, or NULL */
	bool numeric;
};

static const struct jv *cell_value(const struct jv *e, const struct col *c)
{
	const struct jv *v = jv_get(e, c->key);
	return c->sub ? jv_get(v, c->sub) : v;
}

static size_t table_columns(const struct jv *arr, struct col *cols, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < arr->n && i < 200; i++) {
		const struct jv *e = &arr->items[i];
		for (size_t k = 0; e->type == JV_OBJ && k < e->n; k++) {
			const struct jv *v = &e->items[k];
			size_t m = v->type == JV_OBJ ? v->n : 1;
			for (size_t j = 0; j < m && n < cap; j++) {
				if (v->type == JV_OBJ && !strcmp(v->keys[j], "heap_timeline"))
					continue;
				if (v->type == JV_OBJ && v->items[j].type == JV_OBJ)
					continue;
				struct col c = {.key = e->keys[k],
						.sub = v->type == JV_OBJ ? v->keys[j] : NULL};
				if (c.sub)
					snprintf(c.name, sizeof(c.name), "%s.%s", c.key, c.sub);
				else
					snprintf(c.name, sizeof(c.name), "%s", c.key);
				bool seen = false;
				for (size_t x = 0; x < n && !seen; x++)
					seen = !strcmp(cols[x].name, c.name);
				if (seen)
					continue;
				const struct jv *cv = c.sub ? &v->items[j] : v;
				c.numeric = cv->type == JV_NUM;
				cols[n++] = c;
			}
		}
	}
	return n;
}

static void stack_cell(FILE *o, const struct jv *st)
{
	char lbl[512];
	struct rp_frame f;
	if (!st->n) {
		fputs("<td class=\"stk\" data-v=\"\">(stack not recorded)</td>", o);
		return;
	}
	md_frame(&st->items[0], &f);
	rp_frame_label(&f, lbl, sizeof(lbl));
	fputs("<td class=\"stk\" data-v=\"", o);
	esc(o, lbl);
	fputs("\"><details><summary>", o);
	esc(o, lbl);
	if (st->n > 1)
		fprintf(o, " &lt; %zu more", st->n - 1);
	fputs("</summary><ol>", o);
	for (size_t i = 0; i < st->n; i++) {
		md_frame(&st->items[i], &f);
		fputs("<li>", o);
		if (f.inlined)
			fputs("(inlined) ", o);
		esc(o, rp_frame_label(&f, lbl, sizeof(lbl)));
		if (f.module) {
			fputs(" <span class=\"note\">", o);
			esc(o, f.module);
			fprintf(o, " 0x%llx</span>", (unsigned long long)f.address);
		}
		fputs("</li>", o);
	}
	fputs("</ol></details></td>", o);
}

static void table(FILE *o, const struct md_section *s, size_t limit, const struct jv *hooks)
{
	struct col cols[48];
	char b[64];
	size_t nc = table_columns(s->arr, cols, 48);
	if (!s->arr->n) {
		const char *hook = !strcmp(s->path, "sql")     ? "sqlite"
				   : !strcmp(s->path, "http")  ? "curl"
				   : !strcmp(s->path, "locks") ? "lock"
							       : NULL;
		bool on = !hook;
		for (size_t i = 0; hook && hooks && hooks->type == JV_ARR && i < hooks->n; i++)
			on = on ||
			     (hooks->items[i].type == JV_STR && !strcmp(hooks->items[i].s, hook));
		fprintf(o, "<p class=\"note\">No entries%s.</p>\n",
			on ? "" : " (its hook was not enabled for this run)");
		return;
	}
	fputs("<div class=\"tw\"><table class=\"sortable\"><thead><tr>", o);
	for (size_t c = 0; c < nc; c++) {
		fprintf(o, "<th data-t=\"%s\">", cols[c].numeric ? "n" : "s");
		esc(o, cols[c].name);
		fputs("</th>", o);
	}
	fputs("</tr></thead><tbody>\n", o);
	size_t lim = s->arr->n < limit ? s->arr->n : limit;
	for (size_t i = 0; i < lim; i++) {
		const struct jv *e = &s->arr->items[i];
		fputs("<tr>", o);
		for (size_t c = 0; c < nc; c++) {
			const struct jv *v = cell_value(e, &cols[c]);
			if (!v || v->type == JV_NULL) {
				fprintf(o, "<td data-v=\"%s\">&mdash;</td>",
					cols[c].numeric ? "0" : "");
			} else if (v->type == JV_NUM) {
				if (v->is_int)
					fprintf(o, "<td class=\"n\" data-v=\"%s%llu\">",
						v->neg ? "-" : "", (unsigned long long)v->u);
				else
					fprintf(o, "<td class=\"n\" data-v=\"%.17g\">", v->d);
				esc(o, md_fmt(b, sizeof(b), cols[c].sub ? cols[c].sub : cols[c].key,
					      v->d, false));
				fputs("</td>", o);
			} else if (v->type == JV_STR) {
				fputs("<td class=\"s\" data-v=\"", o);
				esc_n(o, v->s, v->n);
				fputs("\">", o);
				esc_n(o, v->s, v->n);
				fputs("</td>", o);
			} else if (v->type == JV_BOOL) {
				fprintf(o, "<td data-v=\"%d\">%s</td>", v->b, v->b ? "yes" : "no");
			} else if (v->type == JV_ARR && !strcmp(cols[c].key, "stack")) {
				stack_cell(o, v);
			} else {
				fprintf(o, "<td data-v=\"%zu\">[%zu]</td>", v->n, v->n);
			}
		}
		fputs("</tr>\n", o);
	}
	fputs("</tbody></table></div>\n", o);
	if (lim < s->arr->n)
		fprintf(o,
			"<p class=\"note\">%zu of %zu entries shown (--top N shows more; the "
			"JSON report has all).</p>\n",
			lim, s->arr->n);
}

/* kv_rows() : an object's scalar fields, nested objects as dotted names (heap_timeline left out:
 * it is the chart). */
static void kv_rows(FILE *o, const char *prefix, const struct jv *obj)
{
	char name[160], b[64];
	for (size_t i = 0; i < obj->n; i++) {
		const struct jv *v = &obj->items[i];
		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", obj->keys[i]);
		if (v->type == JV_OBJ) {
			if (strcmp(obj->keys[i], "heap_timeline"))
				kv_rows(o, name, v);
			continue;
		}
		if (v->type == JV_ARR)
			continue; /* lists are tables */
		fputs("<tr><td>", o);
		esc(o, name);
		fputs("</td><td>", o);
		if (v->type == JV_NUM)
			esc(o, md_fmt(b, sizeof(b), obj->keys[i], v->d, false));
		else if (v->type == JV_STR)
			esc_n(o, v->s, v->n);
		else if (v->type == JV_BOOL)
			fputs(v->b ? "yes" : "no", o);
		else
			fputs("&mdash;", o);
		fputs("</td></tr>\n", o);
	}
}

static void section_title(FILE *o, const char *id, const char *title)
{
	fprintf(o, "<section id=\"s-%s\"><h2>", id);
	esc(o, title);
	fputs("</h2>\n", o);
}

static void sections(FILE *o, const struct jv *root, const struct md_section *secs, size_t n,
		     size_t limit)
{
	const struct jv *hooks = jv_get(jv_get(root, "summary"), "hooks");
	char title[128];
	for (size_t i = 0; i < root->n; i++) {
		const char *name = root->keys[i];
		const struct jv *v = &root->items[i];
		if (!strcmp(name, "summary") || !strcmp(name, "warnings") ||
		    !strcmp(name, "schema"))
			continue;
		if (v->type == JV_OBJ) {
			const char *t = md_info_for(name)->title;
			snprintf(title, sizeof(title), "%s", t ? t : name);
			section_title(o, name, title);
			fputs("<table class=\"kv\">\n", o);
			kv_rows(o, "", v);
			fputs("</table>\n", o);
			for (size_t k = 0; k < n; k++) {
				size_t l = strlen(name);
				if (strncmp(secs[k].path, name, l) || secs[k].path[l] != '.')
					continue;
				fputs("<h3>", o);
				esc(o, secs[k].info->title ? secs[k].info->title : secs[k].path);
				fprintf(o, " <span class=\"note\">(%zu)</span></h3>\n",
					secs[k].arr->n);
				table(o, &secs[k], limit, hooks);
			}
			fputs("</section>\n", o);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			if (strcmp(secs[k].path, name))
				continue;
			if (!strcmp(name, "processes") && secs[k].arr->n < 2)
				continue; /* one process: the summary says it all */
			snprintf(title, sizeof(title), "%s (%zu)",
				 secs[k].info->title ? secs[k].info->title : name, secs[k].arr->n);
			section_title(o, name, title);
			table(o, &secs[k], limit, hooks);
			fputs("</section>\n", o);
		}
	}
}

static void nav(FILE *o, const struct jv *root)
{
	fputs("<nav><a href=\"#summary\">Summary</a><a href=\"#heap\">Heap</a>"
	      "<a href=\"#flames\">Flame graphs</a>",
	      o);
	for (size_t i = 0; i < root->n; i++) {
		const char *name = root->keys[i];
		const struct jv *v = &root->items[i];
		if (!strcmp(name, "summary") || !strcmp(name, "schema") ||
		    (v->type != JV_OBJ && v->type != JV_ARR))
			continue;
		if ((!strcmp(name, "warnings") && !v->n) ||
		    (!strcmp(name, "processes") && v->n < 2))
			continue;
		const char *title = md_info_for(name)->title;
		fprintf(o, "<a href=\"#s-%s\">", name);
		esc(o, title ? title : name);
		fputs("</a>", o);
	}
	fputs("</nav>\n", o);
}

static void warnings(FILE *o, const struct jv *root)
{
	const struct jv *w = jv_get(root, "warnings");
	if (!w || w->type != JV_ARR || !w->n)
		return;
	fputs("<section id=\"s-warnings\"><h2>Notes</h2><ul>\n", o);
	for (size_t i = 0; i < w->n; i++)
		if (w->items[i].type == JV_STR) {
			fputs("<li class=\"warn\">", o);
			esc_n(o, w->items[i].s, w->items[i].n);
			fputs("</li>\n", o);
		}
	fputs("</ul></section>\n", o);
}

int fmt_html(struct report *r, FILE *o)
{
	struct jv_doc doc;
	struct md_section secs[MAX_SECTIONS];
	char b[64];
	int rc = md_from_report(r, &doc);
	if (rc)
		return rc;
	const struct jv *root = doc.root;
	size_t n = md_sections(root, secs, MAX_SECTIONS, true);
	const char *cmd = str_of(root, "summary", "command");
	const struct jv *sum = jv_get(root, "summary");
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>intercept: ",
	      o);
	esc(o, cmd ? cmd : "report");
	fprintf(o,
		"</title>\n<style>%s</style></head>\n<body>\n<header><h1>intercept report"
		"</h1><p class=\"cmd\">",
		css);
	esc(o, cmd ? cmd : "?");
	fprintf(o, "</p><p class=\"meta\">pid %.0f &middot; ran %s &middot; trace ",
		num_of(sum, "pid"), fmt_ns(b, sizeof(b), num_of(sum, "duration_ns")));
	esc(o, str_of(root, "summary", "trace"));
	const struct jv *procs = jv_get(root, "processes");
	if (procs && procs->type == JV_ARR && procs->n > 1)
		fprintf(o, " &middot; merged from %zu processes", procs->n);
	fputs("</p></header>\n", o);
	nav(o, root);
	fputs("<main>\n", o);
	summary_section(o, root, secs, n);
	heap_chart(o, root);
	flame_section(o, secs, n);
	sections(o, root, secs, n, r->opt.top_given ? r->opt.top : HTML_ROWS);
	warnings(o, root);
	fprintf(o,
		"</main>\n<footer>Written by analyze %s (intercept). Self-contained: no "
		"network access.</footer>\n<script>%s</script>\n</body></html>\n",
		INTERCEPT_VERSION_STRING, js);
	jv_free(&doc);
	return ferror(o) ? az_error(AZ_EIO, "writing the report failed") : 0;
}
