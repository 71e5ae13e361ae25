/* check.c - owns budget files and their evaluation (`analyze check`): parsing keys such as
 * "leaks.bytes", "sql.p95_ns", "http[/checkout].p99_ns" or "leaks.definite.bytes" into path
 * segments, walking them through the report model (model.h) and printing one line per
 * breach. Keys name fields of the JSON report, so every section fmt_json.c writes can be
 * budgeted without a change here. Main thread only; never prints to stderr (main.c does).
 *
 * Key grammar (docs/reports.md):
 *   key     = segment ("." segment)*
 *   segment = name ["[" text "]"]      name: letters, digits, '_'
 *   text    = any characters; it ends at the first ']' that is followed by '.' or by the
 *             end of the key, so "sql[a[1]].p95_ns" filters on "a[1]".
 * A segment that reaches a list (sql, http, locks, alloc.sites, ...) applies the rest of
 * the key to every entry, or only to entries whose text fields or stack frames contain the
 * filter text. A name missing from an object is also looked up in its "kinds" object, so
 * "leaks.definite.bytes" reads leaks.kinds.definite.bytes. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_out.h"
#include "model.h"

#define BUDGET_MAX_BYTES (1u << 20)

void ck_free(struct ck_budget *b)
{
	for (size_t i = 0; i < b->n_rules; i++) {
		for (size_t j = 0; j < b->rules[i].n_segs; j++) {
			free(b->rules[i].segs[j].name);
			free(b->rules[i].segs[j].filter);
		}
		free(b->rules[i].segs);
	}
	free(b->rules);
	for (size_t i = 0; i < b->notes.n; i++)
		free(b->notes.v[i]);
	VEC_FREE(b->notes);
	jv_free(&b->doc);
	memset(b, 0, sizeof(*b));
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* parse_key() : split key into rule->segs. @return 0 or AZ_EUSAGE with the message set. */
static int parse_key(const char *path, struct ck_rule *rule)
{
	const char *key = rule->key, *p = key;
	VEC(struct ck_seg) segs = {0};
	int rc = 0;
	if (!*key) {
		rc = az_error(AZ_EUSAGE, "%s: an empty key", path);
		goto out_free;
	}
	for (;;) {
		struct ck_seg s = {0};
		const char *n0 = p;
		while (is_name_char(*p))
			p++;
		if (p == n0) {
			rc = az_error(AZ_EUSAGE,
				      "%s: key \"%s\": expected a field name at \"%s\" "
				      "(keys look like \"leaks.bytes\" or "
				      "\"sql[FROM orders].p95_ns\")",
				      path, key, n0);
			goto out_free;
		}
		s.name = xstrndup(n0, (size_t)(p - n0));
		bool filtered = *p == '[';
		if (filtered) {
			const char *t0 = ++p, *close = NULL;
			for (const char *q = p; *q; q++)
				if (*q == ']' && (q[1] == '.' || q[1] == '\0')) {
					close = q;
					break;
				}
			if (!close || close == t0) {
				free(s.name);
				rc = az_error(AZ_EUSAGE,
					      "%s: key \"%s\": '[' needs a text and a "
					      "closing ']' before the next '.'",
					      path, key);
				goto out_free;
			}
			s.filter = xstrndup(t0, (size_t)(close - t0));
			p = close + 1;
		}
		if (!s.name || (filtered && !s.filter) || VEC_PUSH(segs, s)) {
			free(s.name);
			free(s.filter);
			rc = az_error(AZ_ENOMEM, "out of memory");
			goto out_free;
		}
		if (!*p)
			break;
		if (*p != '.') {
			rc = az_error(AZ_EUSAGE,
				      "%s: key \"%s\": unexpected '%c' (segments are "
				      "separated by '.')",
				      path, key, *p);
			goto out_free;
		}
		p++;
	}
	rule->segs = segs.v;
	rule->n_segs = segs.n;
	return 0;
out_free:
	for (size_t i = 0; i < segs.n; i++) {
		free(segs.v[i].name);
		free(segs.v[i].filter);
	}
	VEC_FREE(segs);
	return rc;
}

int ck_load(struct ck_budget *b, const char *path)
{
	char *text = NULL;
	size_t len;
	int rc;
	memset(b, 0, sizeof(*b));
	if ((rc = md_read_file(path, BUDGET_MAX_BYTES, &text, &len)))
		return rc == AZ_ENOMEM ? az_error(AZ_EUSAGE, "budget file too large") : rc;
	rc = ck_parse(b, text, len, path);
	free(text);
	return rc;
}

int ck_parse(struct ck_budget *b, const char *text, size_t len, const char *path)
{
	int rc;
	memset(b, 0, sizeof(*b));
	b->path = path;
	rc = jv_parse(text, len, path, &b->doc);
	if (rc)
		return rc == AZ_ECORRUPT ? AZ_EUSAGE : rc;
	const struct jv *root = b->doc.root;
	if (root->type != JV_OBJ) {
		rc = az_error(AZ_EUSAGE,
			      "%s: a budget file is one JSON object, like "
			      "{\"leaks.bytes\": 0, \"sql.p95_ns\": 5000000}",
			      path);
		goto out_free;
	}
	if (!(b->rules = xcalloc(root->n ? root->n : 1, sizeof(*b->rules)))) {
		rc = az_error(AZ_ENOMEM, "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < root->n; i++) {
		struct ck_rule *r = &b->rules[i];
		const struct jv *v = &root->items[i];
		r->key = root->keys[i];
		b->n_rules = i + 1;
		if (v->type != JV_NUM || v->neg) {
			rc = az_error(AZ_EUSAGE,
				      "%s: line %u: \"%s\": the limit must be a number "
				      ">= 0 (the largest value allowed)",
				      path, v->line, r->key);
			goto out_free;
		}
		r->limit = v;
		if ((rc = parse_key(path, r)))
			goto out_free;
	}
	return 0;
out_free:
	ck_free(b);
	return rc;
}

/* ---- evaluation -------------------------------------------------------------------------- */

struct walk {
	struct ck_budget *b;
	const struct ck_rule *rule;
	FILE *out;
	int breaches;
	size_t compared;	   /* values compared with the limit */
	size_t missing;		   /* places where the path did not exist */
	const struct jv *miss_obj; /* the first such object, for the message */
	const char *miss_name;
	const char *bad_type; /* a value on the path that is not a number */
	char entry[256];      /* path of the current object or entry: "sql[2]" */
	const struct jv *entry_obj;
	const struct md_info *entry_info; /* the section entry_obj belongs to */
};

/* above() : whether value v exceeds the limit (exact when both are integers). */
static bool above(const struct jv *v, const struct jv *limit)
{
	if (v->is_int && limit->is_int)
		return !v->neg && v->u > limit->u;
	return v->d > limit->d;
}

static void put_num(FILE *o, const struct jv *v)
{
	if (v->is_int)
		fprintf(o, "%s%llu", v->neg ? "-" : "", (unsigned long long)v->u);
	else
		fprintf(o, "%.6g", v->d);
}

static void breach(struct walk *w, const struct jv *v)
{
	char label[1024];
	fprintf(w->out, "%s limit=", w->rule->key);
	put_num(w->out, w->rule->limit);
	fputs(" actual=", w->out);
	put_num(w->out, v);
	fprintf(w->out, " %s", w->entry);
	if (w->entry_obj) {
		md_entry_label(w->entry_info, w->entry_obj, label, sizeof(label));
		fputc(' ', w->out);
		jw_escape(w->out, label, strlen(label));
	}
	fputc('\n', w->out);
	w->breaches++;
}

static void walk(struct walk *w, const struct jv *node, size_t seg);

/* walk_list() : apply segments [seg, end) to every element of arr (that matches filter). */
static void walk_list(struct walk *w, const struct jv *arr, size_t seg, const char *filter)
{
	size_t base = strlen(w->entry);
	const struct jv *saved = w->entry_obj;
	const struct md_info *saved_info = w->entry_info;
	const struct md_info *info = md_info_for(w->entry); /* "sql", "alloc.sites" */
	for (size_t i = 0; i < arr->n; i++) {
		const struct jv *e = &arr->items[i];
		if (filter && (e->type != JV_OBJ || !md_entry_matches(e, filter)))
			continue;
		snprintf(w->entry + base, sizeof(w->entry) - base, "[%zu]", i);
		if (e->type == JV_OBJ) {
			w->entry_obj = e;
			w->entry_info = info;
		}
		walk(w, e, seg);
		w->entry_obj = saved;
		w->entry_info = saved_info;
	}
	w->entry[base] = '\0';
}

static void walk(struct walk *w, const struct jv *node, size_t seg)
{
	const struct ck_rule *r = w->rule;
	if (seg == r->n_segs) {
		if (node->type == JV_NUM) {
			w->compared++;
			if (above(node, r->limit))
				breach(w, node);
		} else if (!w->bad_type) {
			w->bad_type = node->type == JV_STR    ? "a string"
				      : node->type == JV_BOOL ? "true or false"
				      : node->type == JV_NULL ? "null"
							      : "not a single number";
		}
		return;
	}
	const struct ck_seg *s = &r->segs[seg];
	const struct jv *child = jv_get(node, s->name);
	bool via_kinds = false;
	if (!child) {
		child = jv_get(jv_get(node, "kinds"), s->name);
		via_kinds = child != NULL;
	}
	if (!child) {
		if (!w->missing++) {
			w->miss_obj = node;
			w->miss_name = s->name;
		}
		return;
	}
	/* the entry a breach names is the object holding the value, not the value */
	size_t base = strlen(w->entry);
	if (seg + 1 < r->n_segs || child->type == JV_ARR)
		snprintf(w->entry + base, sizeof(w->entry) - base, "%s%s%s", base ? "." : "",
			 via_kinds ? "kinds." : "", s->name);
	if (child->type == JV_ARR)
		walk_list(w, child, seg + 1, s->filter);
	else if (s->filter && !w->bad_type)
		w->bad_type = "not a list (a [text] filter applies to lists)";
	else
		walk(w, child, seg + 1);
	w->entry[base] = '\0';
}

static int add_note(struct ck_budget *b, const char *fmt, const char *key)
{
	char buf[512];
	snprintf(buf, sizeof(buf), fmt, key);
	char *s = xstrndup(buf, strlen(buf));
	if (!s || VEC_PUSH(b->notes, s)) {
		free(s);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	return 0;
}

int ck_run(struct ck_budget *b, const struct jv *report, FILE *out)
{
	int total = 0;
	for (size_t i = 0; i < b->n_rules; i++) {
		struct walk w = {.b = b, .rule = &b->rules[i], .out = out};
		walk(&w, report, 0);
		if (w.bad_type)
			return az_error(AZ_EUSAGE,
					"%s: \"%s\": the report's value there is %s, not "
					"a number",
					b->path, w.rule->key, w.bad_type);
		if (!w.compared && w.missing) {
			/* name what the object does have, to make a typo obvious */
			char have[256] = "";
			size_t o = 0;
			for (size_t k = 0; w.miss_obj && w.miss_obj->type == JV_OBJ &&
					   k < w.miss_obj->n && o + 1 < sizeof(have);
			     k++) {
				int n = snprintf(have + o, sizeof(have) - o, "%s%s", k ? ", " : "",
						 w.miss_obj->keys[k]);
				o += n > 0 ? (size_t)n : 0;
			}
			const struct jv *kinds = jv_get(w.miss_obj, "kinds");
			for (size_t k = 0;
			     kinds && kinds->type == JV_OBJ && k < kinds->n && o + 1 < sizeof(have);
			     k++) {
				int n = snprintf(have + o, sizeof(have) - o, "%s%s",
						 k ? ", " : "; kinds: ", kinds->keys[k]);
				o += n > 0 ? (size_t)n : 0;
			}
			return az_error(AZ_EUSAGE,
					"%s: \"%s\": the report has no field \"%s\" "
					"there (it has: %s)",
					b->path, w.rule->key, w.miss_name, o ? have : "no fields");
		}
		if (!w.compared) {
			int rc = add_note(b, "budget \"%s\" matched no entry in the report",
					  w.rule->key);
			if (rc)
				return rc;
		}
		total += w.breaches;
	}
	return total;
}
