/* diff.c - owns `analyze diff`: two report models (model.h) compared entry by entry. Every
 * section fmt_json.c writes takes part with no change here: entries are matched by
 * md_entry_key() (their text and their stack's function chain, so a site matches across
 * builds whose addresses and line numbers moved), entries with the same key on one side
 * are folded (sums, maxima for max_ and percentile fields), and each section is ranked by
 * the change of its cost field (model.c's table, else its first numeric field). Output:
 * text for people, JSON ("intercept-diff/1", docs/reports.md) for scripts. Main thread only;
 * writes only to the FILE it is given. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "json_out.h"
#include "model.h"

#define TEXT_TOP_DEFAULT 10
#define TEXT_FRAMES	 4
#define MAX_SECTIONS	 32

struct df_field {
	const char *name;
	double v[2];
	bool has[2];
};

struct df_entry {
	uint32_t id;		 /* key id: ties sort by first appearance */
	const struct jv *rep[2]; /* the first entry with this key on each side */
	VEC(struct df_field) f;
	double delta; /* change of the cost field */
};

struct df_section {
	char path[64];
	const struct md_info *info;
	const char *cost;
	struct strmap keys;
	VEC(struct df_entry) e; /* by key id - 1 */
	size_t grown, shrunk, added, removed, unchanged;
};

struct df {
	const struct df_options *o;
	struct df_section sec[MAX_SECTIONS];
	size_t n_sec;
	FILE *out;
};

static void df_free(struct df *d)
{
	for (size_t i = 0; i < d->n_sec; i++) {
		for (size_t j = 0; j < d->sec[i].e.n; j++)
			VEC_FREE(d->sec[i].e.v[j].f);
		VEC_FREE(d->sec[i].e);
		strmap_free(&d->sec[i].keys);
	}
}

static struct df_field *field_of(struct df_entry *e, const char *name)
{
	for (size_t i = 0; i < e->f.n; i++)
		if (!strcmp(e->f.v[i].name, name))
			return &e->f.v[i];
	struct df_field f = {.name = name};
	return VEC_PUSH(e->f, f) ? NULL : &e->f.v[e->f.n - 1];
}

static double value(const struct df_entry *e, const char *name, int side)
{
	for (size_t i = 0; name && i < e->f.n; i++)
		if (!strcmp(e->f.v[i].name, name))
			return e->f.v[i].has[side] ? e->f.v[i].v[side] : 0;
	return 0;
}

/* collect() : fold every entry of side's sections into d. */
static int collect(struct df *d, const struct jv *root, int side)
{
	struct md_section secs[MAX_SECTIONS];
	size_t n = md_sections(root, secs, MAX_SECTIONS, false);
	struct sbuf key = {0};
	for (size_t i = 0; i < n; i++) {
		struct df_section *s = NULL;
		for (size_t k = 0; k < d->n_sec; k++)
			if (!strcmp(d->sec[k].path, secs[i].path))
				s = &d->sec[k];
		if (!s) {
			if (d->n_sec == MAX_SECTIONS)
				continue;
			s = &d->sec[d->n_sec++];
			memcpy(s->path, secs[i].path, sizeof(s->path));
			s->info = secs[i].info;
			if (strmap_init(&s->keys))
				return AZ_ENOMEM;
		}
		if (!s->cost || (side == 1 && secs[i].arr->n))
			s->cost = md_cost_field(&secs[i]);
		for (size_t j = 0; j < secs[i].arr->n; j++) {
			const struct jv *ent = &secs[i].arr->items[j];
			bool is_new;
			if (ent->type != JV_OBJ)
				continue;
			key.len = 0;
			md_entry_key(s->info, ent, &key);
			uint32_t id = key.oom ? 0
					      : strmap_intern(&s->keys, key.s ? key.s : "", key.len,
							      &is_new);
			if (!id)
				goto out_oom;
			if (is_new) {
				struct df_entry e = {.id = id};
				if (VEC_PUSH(s->e, e))
					goto out_oom;
			}
			struct df_entry *e = &s->e.v[id - 1];
			if (!e->rep[side])
				e->rep[side] = ent;
			for (size_t k = 0; k < ent->n; k++) {
				if (ent->items[k].type != JV_NUM)
					continue;
				const char *name = ent->keys[k];
				struct df_field *f = field_of(e, name);
				if (!f)
					goto out_oom;
				double v = ent->items[k].d;
				if (!f->has[side])
					f->v[side] = v;
				else if (md_is_max(name))
					f->v[side] = v > f->v[side] ? v : f->v[side];
				else
					f->v[side] += v;
				f->has[side] = true;
			}
		}
	}
	sb_free(&key);
	return 0;
out_oom:
	sb_free(&key);
	return az_error(AZ_ENOMEM, "out of memory comparing reports");
}

static int by_delta(const void *x, const void *y)
{
	const struct df_entry *a = x, *b = y;
	if (a->delta != b->delta)
		return a->delta > b->delta ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void classify(struct df_section *s)
{
	for (size_t i = 0; i < s->e.n; i++) {
		struct df_entry *e = &s->e.v[i];
		e->delta = value(e, s->cost, 1) - value(e, s->cost, 0);
		bool same = e->rep[0] && e->rep[1];
		for (size_t k = 0; same && k < e->f.n; k++)
			same = e->f.v[k].v[0] == e->f.v[k].v[1];
		if (!e->rep[0])
			s->added++;
		else if (!e->rep[1])
			s->removed++;
		if (same)
			s->unchanged++;
		else if (e->delta > 0)
			s->grown++;
		else if (e->delta < 0)
			s->shrunk++;
	}
	if (s->e.n > 1)
		qsort(s->e.v, s->e.n, sizeof(*s->e.v), by_delta);
}

/* ---- totals: the report-wide numbers ------------------------------------------------------ */

struct df_total {
	char name[96];
	double v[2];
	bool has[2];
};

/* named (not VEC()) so that functions can take it */
struct df_totals {
	struct df_total *v;
	size_t n, cap;
};

static const char *const summary_fields[] = {"duration_ns", "threads", "events", "dropped_events"};

static void add_total(struct df_totals *t, const char *name, int side, double v)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name)) {
			t->v[i].v[side] = v;
			t->v[i].has[side] = true;
			return;
		}
	struct df_total x = {.v = {0, 0}};
	snprintf(x.name, sizeof(x.name), "%s", name);
	x.v[side] = v;
	x.has[side] = true;
	(void)VEC_PUSH(*t, x); /* out of memory: the row is left out */
}

/* is_instant() : a field that says when something happened, not how much it cost. */
static bool is_instant(const char *field)
{
	return !strcmp(field, "peak_ns") || !strcmp(field, "start_ns") ||
	       !strcmp(field, "start_realtime_ns") || !strcmp(field, "interval_ns");
}

/* totals_obj() : numeric fields of an object, and of objects inside it (leaks.kinds.*). */
static void totals_obj(struct df_totals *t, const char *prefix, const struct jv *o, int side,
		       int depth)
{
	char name[96];
	for (size_t i = 0; i < o->n; i++) {
		const struct jv *v = &o->items[i];
		snprintf(name, sizeof(name), "%s.%s", prefix, o->keys[i]);
		if (is_instant(o->keys[i]))
			continue;
		if (v->type == JV_NUM)
			add_total(t, name, side, v->d);
		else if (v->type == JV_OBJ && depth < 3 && strcmp(o->keys[i], "heap_timeline"))
			totals_obj(t, name, v, side, depth + 1);
	}
}

static void collect_totals(struct df_totals *t, const struct jv *root, int side)
{
	const struct jv *sum = jv_get(root, "summary");
	char name[96];
	for (size_t i = 0; i < sizeof(summary_fields) / sizeof(summary_fields[0]); i++) {
		const struct jv *v = jv_get(sum, summary_fields[i]);
		snprintf(name, sizeof(name), "summary.%s", summary_fields[i]);
		if (v && v->type == JV_NUM)
			add_total(t, name, side, v->d);
	}
	for (size_t i = 0; root->type == JV_OBJ && i < root->n; i++) {
		const struct jv *v = &root->items[i];
		if (v->type == JV_OBJ && strcmp(root->keys[i], "summary"))
			totals_obj(t, root->keys[i], v, side, 1);
	}
	/* list sections: the sum of their cost field over all entries ("sum(sql.total_ns)") */
	struct md_section secs[MAX_SECTIONS];
	size_t n = md_sections(root, secs, MAX_SECTIONS, false);
	for (size_t i = 0; i < n; i++) {
		const char *cost = md_cost_field(&secs[i]);
		if (!cost || strchr(secs[i].path, '.'))
			continue; /* nested lists (alloc.sites) add up to their object's totals */
		double s = 0;
		for (size_t j = 0; j < secs[i].arr->n; j++) {
			double v;
			if (jv_num(jv_get(&secs[i].arr->items[j], cost), &v))
				s += v;
		}
		snprintf(name, sizeof(name), "sum(%.40s.%.40s)", secs[i].path, cost);
		add_total(t, name, side, s);
	}
}

/* ---- output helpers ----------------------------------------------------------------------- */

static double relative(double base, double neu)
{
	return base != 0 ? (neu - base) / fabs(base) : NAN;
}

/* change_text() : "+1.5 MiB (+25.0%)", "+1.5 MiB (new)" or "0". */
static const char *change_text(char *buf, size_t cap, const char *field, double base, double neu)
{
	char a[48];
	double rel = relative(base, neu);
	if (neu == base)
		snprintf(buf, cap, "no change");
	else if (isnan(rel))
		snprintf(buf, cap, "%s (was 0)", md_fmt(a, sizeof(a), field, neu - base, true));
	else
		snprintf(buf, cap, "%s (%+.1f%%)", md_fmt(a, sizeof(a), field, neu - base, true),
			 rel * 100);
	return buf;
}

static void rule(FILE *o, const char *title)
{
	size_t n = strlen(title);
	fprintf(o, "\n%s ", title);
	for (size_t i = n + 1; i < 100; i++)
		fputc('-', o);
	fputc('\n', o);
}

static void side_line(FILE *o, const char *what, const char *name, const struct jv *root)
{
	const struct jv *s = jv_get(root, "summary");
	const struct jv *cmd = jv_get(s, "command"), *pid = jv_get(s, "pid");
	double dur = 0;
	char b[32];
	jv_num(jv_get(s, "duration_ns"), &dur);
	fprintf(o, "  %s %s: %s (pid %.0f), ran %s\n", what, name,
		cmd && cmd->type == JV_STR ? cmd->s : "?", pid ? pid->d : 0,
		fmt_ns(b, sizeof(b), dur));
}

static void text_entry_lines(FILE *o, const struct jv *ent)
{
	char lbl[512], line[1024];
	/* text fields first (a statement, an endpoint), each said once */
	size_t w = 0;
	line[0] = '\0';
	for (size_t i = 0; i < ent->n && w + 1 < sizeof(line); i++) {
		const struct jv *v = &ent->items[i];
		if (v->type != JV_STR || (w && strstr(line, v->s)))
			continue;
		int n = snprintf(line + w, sizeof(line) - w, "%s%s", w ? " " : "", v->s);
		w += n > 0 ? (size_t)n : 0;
	}
	if (w)
		fprintf(o, "        %s\n", line);
	const struct jv *st = md_stack(ent);
	for (size_t i = 0; st && i < st->n && i < TEXT_FRAMES; i++) {
		struct rp_frame f;
		md_frame(&st->items[i], &f);
		fprintf(o, "        %s %.88s\n", f.inlined ? "~" : "at",
			rp_frame_label(&f, lbl, sizeof(lbl)));
	}
	if (st && st->n > TEXT_FRAMES)
		fprintf(o, "           ... %zu more frames\n", st->n - TEXT_FRAMES);
}

/* columns() : the fields a text row shows: the cost, then the section's diff columns. */
static size_t columns(const struct df_section *s, const char **out, size_t cap)
{
	size_t n = 0;
	if (s->cost)
		out[n++] = s->cost;
	const char *c = s->info->columns;
	static char buf[256];
	if (!c)
		return n;
	snprintf(buf, sizeof(buf), "%s", c);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < cap;
	     t = strtok_r(NULL, ",", &save))
		if (!s->cost || strcmp(t, s->cost))
			out[n++] = t;
	return n;
}

static void text_section(struct df *d, struct df_section *s)
{
	FILE *o = d->out;
	char title[256], b1[48], b2[48], b3[64];
	const char *cols[12];
	size_t nc = columns(s, cols, 12);
	snprintf(title, sizeof(title),
		 "%s by %s: %zu grew, %zu shrank (%zu new, %zu gone), %zu same",
		 s->info->title ? s->info->title : s->path, s->cost ? s->cost : "?", s->grown,
		 s->shrunk, s->added, s->removed, s->unchanged);
	rule(o, title);
	if (!s->cost) {
		fprintf(o, "  (its entries have no numbers to compare)\n");
		return;
	}
	size_t lim = d->o->top_given ? d->o->top : TEXT_TOP_DEFAULT, shown = 0;
	for (size_t i = 0; i < s->e.n && shown < lim; i++) {
		const struct df_entry *e = &s->e.v[i];
		if (e->delta <= 0)
			break;
		shown++;
		fprintf(o, "  #%-3zu %s%s\n", shown, e->rep[0] ? "" : "NEW ",
			change_text(b3, sizeof(b3), s->cost, value(e, s->cost, 0),
				    value(e, s->cost, 1)));
		fputs("       ", o);
		for (size_t c = 0; c < nc; c++) {
			double a = value(e, cols[c], 0), b = value(e, cols[c], 1);
			fprintf(o, "%s%s %s -> %s", c ? "; " : "", cols[c] ? cols[c] : "?",
				md_fmt(b1, sizeof(b1), cols[c], a, false),
				md_fmt(b2, sizeof(b2), cols[c], b, false));
			if (c && a != b && a != 0)
				fprintf(o, " (%+.0f%%)", relative(a, b) * 100);
		}
		fputc('\n', o);
		text_entry_lines(o, e->rep[1] ? e->rep[1] : e->rep[0]);
	}
	if (!shown)
		fprintf(o, "  nothing grew\n");
	if (s->grown > shown)
		fprintf(o, "  ... %zu more grew (--top %zu shows them)\n", s->grown - shown,
			s->grown);
	if (s->shrunk) {
		const struct df_entry *e = &s->e.v[s->e.n - 1]; /* the largest decrease */
		char lbl[160];
		fprintf(o, "  %zu shrank or got faster; the most: %s %s\n", s->shrunk,
			change_text(b3, sizeof(b3), s->cost, value(e, s->cost, 0),
				    value(e, s->cost, 1)),
			md_entry_label(s->info, e->rep[0] ? e->rep[0] : e->rep[1], lbl,
				       sizeof(lbl)));
	}
}

static void text_out(struct df *d, const struct jv *base, const struct jv *neu, struct df_totals *t)
{
	FILE *o = d->out;
	char b1[48], b2[48], b3[64];
	fprintf(o, "intercept diff: what changed from BASE to NEW\n");
	side_line(o, "BASE", d->o->base_name, base);
	side_line(o, "NEW ", d->o->new_name, neu);
	rule(o, "TOTALS");
	size_t changed = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct df_total *x = &t->v[i];
		const char *f = strrchr(x->name, '.') ? strrchr(x->name, '.') + 1 : x->name;
		char field[96];
		snprintf(field, sizeof(field), "%s", f);
		char *paren = strchr(field, ')');
		if (paren)
			*paren = '\0';
		if (x->v[0] == x->v[1])
			continue;
		changed++;
		fprintf(o, "  %-36s %12s -> %-12s %s\n", x->name,
			md_fmt(b1, sizeof(b1), field, x->v[0], false),
			md_fmt(b2, sizeof(b2), field, x->v[1], false),
			change_text(b3, sizeof(b3), field, x->v[0], x->v[1]));
	}
	if (!changed)
		fprintf(o, "  no change\n");
	for (size_t i = 0; i < d->n_sec; i++)
		if (d->sec[i].e.n) /* a section empty in both is not worth a heading */
			text_section(d, &d->sec[i]);
}

/* ---- JSON output --------------------------------------------------------------------------- */

static void json_num(struct jw *w, const char *key, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 9.2e18)
		jw_i64(w, key, (int64_t)v);
	else
		jw_dbl(w, key, v);
}

static void json_change(struct jw *w, double base, double neu)
{
	json_num(w, "base", base);
	json_num(w, "new", neu);
	json_num(w, "change", neu - base);
	double rel = relative(base, neu);
	if (isnan(rel))
		jw_null(w, "relative");
	else
		jw_dbl(w, "relative", rel);
}

/* json_value() : copy a model value into the output (entry keys and stacks). */
static void json_value(struct jw *w, const char *key, const struct jv *v)
{
	switch (v->type) {
	case JV_NULL:
		jw_null(w, key);
		break;
	case JV_BOOL:
		jw_bool(w, key, v->b);
		break;
	case JV_NUM:
		if (v->is_int && !v->neg)
			jw_u64(w, key, v->u);
		else
			json_num(w, key, v->d);
		break;
	case JV_STR:
		jw_strn(w, key, v->s, v->n);
		break;
	case JV_ARR:
		jw_arr(w, key);
		for (size_t i = 0; i < v->n; i++)
			json_value(w, NULL, &v->items[i]);
		jw_arr_end(w);
		break;
	case JV_OBJ: {
		bool pretty = w->pretty;
		jw_obj(w, key);
		if (key == NULL)
			w->pretty = false; /* frames: one per line */
		for (size_t i = 0; i < v->n; i++)
			json_value(w, v->keys[i], &v->items[i]);
		jw_obj_end(w);
		w->pretty = pretty;
		break;
	}
	}
}

static void json_side(struct jw *w, const char *key, const char *name, const struct jv *root)
{
	const struct jv *s = jv_get(root, "summary");
	jw_obj(w, key);
	jw_str(w, "source", name);
	static const char *const keep[] = {"pid", "command", "duration_ns", "complete"};
	for (size_t i = 0; i < 4; i++) {
		const struct jv *v = jv_get(s, keep[i]);
		if (v)
			json_value(w, keep[i], v);
	}
	jw_obj_end(w);
}

static void json_out(struct df *d, const struct jv *base, const struct jv *neu, struct df_totals *t)
{
	struct jw w;
	char lbl[512];
	jw_init(&w, d->out, true);
	jw_obj(&w, NULL);
	jw_str(&w, "schema", "intercept-diff/1");
	json_side(&w, "base", d->o->base_name, base);
	json_side(&w, "new", d->o->new_name, neu);
	jw_arr(&w, "totals");
	for (size_t i = 0; i < t->n; i++) {
		jw_obj(&w, NULL);
		bool pretty = w.pretty;
		w.pretty = false;
		jw_str(&w, "field", t->v[i].name);
		json_change(&w, t->v[i].v[0], t->v[i].v[1]);
		jw_obj_end(&w);
		w.pretty = pretty;
	}
	jw_arr_end(&w);
	jw_arr(&w, "sections");
	for (size_t i = 0; i < d->n_sec; i++) {
		const struct df_section *s = &d->sec[i];
		jw_obj(&w, NULL);
		jw_str(&w, "section", s->path);
		jw_str(&w, "cost", s->cost);
		jw_u64(&w, "grown", s->grown);
		jw_u64(&w, "shrunk", s->shrunk);
		jw_u64(&w, "added", s->added);
		jw_u64(&w, "removed", s->removed);
		jw_u64(&w, "unchanged", s->unchanged);
		jw_arr(&w, "entries");
		size_t lim = d->o->top_given && d->o->top < s->e.n ? d->o->top : s->e.n;
		for (size_t j = 0; j < lim; j++) {
			const struct df_entry *e = &s->e.v[j];
			const struct jv *rep = e->rep[1] ? e->rep[1] : e->rep[0];
			jw_obj(&w, NULL);
			jw_str(&w, "status",
			       !e->rep[0]     ? "added"
			       : !e->rep[1]   ? "removed"
			       : e->delta > 0 ? "grown"
			       : e->delta < 0 ? "shrunk"
					      : "changed");
			jw_str(&w, "label", md_entry_label(s->info, rep, lbl, sizeof(lbl)));
			json_change(&w, value(e, s->cost, 0), value(e, s->cost, 1));
			jw_obj(&w, "key");
			for (size_t k = 0; k < rep->n; k++)
				if (rep->items[k].type == JV_STR || !strcmp(rep->keys[k], "stack"))
					json_value(&w, rep->keys[k], &rep->items[k]);
			jw_obj_end(&w);
			jw_obj(&w, "fields");
			for (size_t k = 0; k < e->f.n; k++) {
				bool pretty = w.pretty;
				jw_obj(&w, e->f.v[k].name);
				w.pretty = false;
				json_change(&w, e->f.v[k].v[0], e->f.v[k].v[1]);
				jw_obj_end(&w);
				w.pretty = pretty;
			}
			jw_obj_end(&w);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}

int df_run(const struct jv *base, const struct jv *neu, const struct df_options *o, FILE *out)
{
	struct df d = {.o = o, .out = out};
	struct df_totals t = {0};
	int rc;
	if ((rc = collect(&d, base, 0)) || (rc = collect(&d, neu, 1)))
		goto out_free;
	for (size_t i = 0; i < d.n_sec; i++)
		classify(&d.sec[i]);
	collect_totals(&t, base, 0);
	collect_totals(&t, neu, 1);
	if (o->json)
		json_out(&d, base, neu, &t);
	else
		text_out(&d, base, neu, &t);
	rc = ferror(out) ? az_error(AZ_EIO, "writing the diff failed") : 0;
out_free:
	VEC_FREE(t);
	df_free(&d);
	return rc;
}
