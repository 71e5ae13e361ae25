/* model.c - owns the report model: the JSON report parsed back into a tree (json_in.c), and
 * the generic rules check.c, diff.c and fmt_html.c use to walk it: where sections are, what
 * identifies an entry, its cost field, units of fields. Also the one table that says how
 * each section is shown beyond what is generic (md_infos below). Main thread only. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "intercept/trace_format.h"
#include "model.h"

/* How each section is shown. A section missing here still works everywhere (tables,
 * budgets, diffs: by its first numeric field); add a line to pick its identity, its cost
 * field, the columns a text diff prints and its flame graphs. Paths are where fmt_json.c
 * writes it. A flame graph needs one entry per stack with that stack's whole cost (alloc
 * sites, locks, http_stacks); a section whose entries carry one representative stack each
 * (http endpoints, SQL statements) gets its flame graph from a by-stack list like
 * http_stacks. */
static const struct md_info md_infos[] = {
	/* path, title, key, cost, diff columns, flame graphs ("field:title[:leaf[:prefix]],...":
	 * leaf names a text field drawn as the innermost frame, "prefix: text") */
	{"sql", "SQL statements", "statement,database", "total_ns", "executions,p95_ns,p99_ns,rows",
	 "total_ns:SQL time:statement:SQL"},
	{"sql_findings", "SQL findings", "kind,statement,database", "cost_ns", NULL, NULL},
	{"sql_slowest", "Slowest SQL executions", "statement,database,start_ns", "ns", "rows",
	 NULL},
	{"http", "HTTP endpoints", "method,endpoint", "total_ns", "requests,errors,p95_ns,p99_ns",
	 NULL},
	{"http_stacks", "HTTP time by calling stack", "stack", "total_ns", "requests",
	 "total_ns:HTTP time"},
	{"http_findings", "HTTP findings", "kind,method,endpoint,host", "time_ns", "requests",
	 NULL},
	{"http_slowest", "Slowest HTTP requests", "method,endpoint,start_ns", "duration_ns",
	 "ttfb_ns,bytes_received", NULL},
	{"locks", "Locks", "kind,first_seen_stack", "wait_ns", "contended,max_wait_ns", NULL},
	{"lock_stacks", "Lock waits by waiting stack", "wait,stack", "wait_ns",
	 "contended,max_wait_ns", "wait_ns:Lock wait:frame"},
	{"alloc.sites", "Allocation sites", "stack", "bytes", "allocations,leaked_bytes,temporary",
	 "bytes:Allocated bytes,allocations:Allocations"},
	{"leaks.sites", "Leak sites", "kind,stack", "bytes", "allocations", "bytes:Leaked bytes"},
	{"growth.sites", "Growing sites", "stack", "bytes_per_s", "live_bytes",
	 "live_bytes:Growing live bytes"},
	{"processes", "Processes", "command", "duration_ns", NULL, NULL},
	/* objects: only their titles are used */
	{"alloc", "Allocations", NULL, NULL, NULL, NULL},
	{"sql_summary", "SQL summary", NULL, NULL, NULL, NULL},
	{"leaks", "Leaks", NULL, NULL, NULL, NULL},
	{"growth", "Heap growth", NULL, NULL, NULL, NULL},
};

static const struct md_info md_generic = {"", NULL, NULL, NULL, NULL, NULL};

const struct md_info *md_info_for(const char *path)
{
	for (size_t i = 0; i < sizeof(md_infos) / sizeof(md_infos[0]); i++)
		if (!strcmp(md_infos[i].path, path))
			return &md_infos[i];
	return &md_generic;
}

int md_read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	int rc;
	char *buf = NULL;
	*out = NULL;
	*len = 0;
	if (!f)
		return az_error(AZ_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		rc = az_error(AZ_EIO, "%s: not a regular file", path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rc = az_error(AZ_ENOMEM, "%s: larger than %zu bytes", path, max);
		goto out_close;
	}
	size_t size = (size_t)st.st_size;
	if (!(buf = xmalloc(size + 1))) {
		rc = az_error(AZ_ENOMEM, "%s: out of memory", path);
		goto out_close;
	}
	size_t got = fread(buf, 1, size, f);
	if (got != size || ferror(f)) {
		rc = az_error(AZ_EIO, "%s: read error", path);
		goto out_free;
	}
	buf[size] = '\0';
	*out = buf;
	*len = size;
	fclose(f);
	return 0;
out_free:
	free(buf);
out_close:
	fclose(f);
	return rc;
}

int md_from_report(struct report *r, struct jv_doc *doc)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;
	memset(doc, 0, sizeof(*doc));
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return az_error(AZ_ENOMEM, "out of memory");
	bool top = r->opt.top_given;
	r->opt.top_given = false; /* the model holds every entry */
	rc = fmt_json(r, f);
	r->opt.top_given = top;
	if (fclose(f) && !rc)
		rc = az_error(AZ_ENOMEM, "out of memory rendering the report");
	if (!rc)
		rc = jv_parse(buf, len, "the report", doc);
	free(buf);
	return rc;
}

/* looks_like_json() : whether the file starts (after whitespace) with '{'. */
static bool looks_like_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	int c = EOF;
	if (!f)
		return false;
	for (int i = 0; i < 4096; i++) {
		c = fgetc(f);
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			break;
	}
	fclose(f);
	return c == '{';
}

int md_load(const char *const *paths, size_t n, const struct az_options *opt, struct jv_doc *doc)
{
	struct report r;
	int rc;
	memset(doc, 0, sizeof(*doc));
	if (n == 1 && looks_like_json(paths[0])) {
		char *text;
		size_t len;
		/* a JSON report can be as large as the analyzer may allocate */
		if ((rc = md_read_file(paths[0], (size_t)16384 << 20, &text, &len)))
			return rc;
		rc = jv_parse(text, len, paths[0], doc);
		free(text);
		if (rc)
			return rc;
		const struct jv *schema = jv_get(doc->root, "schema");
		if (!schema || schema->type != JV_STR ||
		    strncmp(schema->s, "intercept-report/", 17)) {
			jv_free(doc);
			return az_error(AZ_ECORRUPT,
					"%s: not a report of `analyze --format json` "
					"(no \"schema\": \"intercept-report/1\")",
					paths[0]);
		}
		return 0;
	}
	rc = n == 1 ? az_load(&r, paths[0], opt) : az_load_many(&r, paths, n, opt);
	if (!rc)
		rc = md_from_report(&r, doc);
	rp_free(&r);
	return rc;
}

/* ---- sections ---------------------------------------------------------------------------- */

static bool is_entry_array(const struct jv *v, const char *path, bool top)
{
	if (v->type != JV_ARR)
		return false;
	if (v->n)
		return v->items[0].type == JV_OBJ;
	/* empty: a section when it is a known one or a top-level list other than warnings */
	return md_info_for(path) != &md_generic || (top && strcmp(path, "warnings"));
}

size_t md_sections(const struct jv *root, struct md_section *out, size_t cap, bool with_processes)
{
	size_t k = 0;
	if (!root || root->type != JV_OBJ)
		return 0;
	for (size_t i = 0; i < root->n && k < cap; i++) {
		const struct jv *v = &root->items[i];
		const char *name = root->keys[i];
		if (!with_processes && !strcmp(name, "processes"))
			continue;
		if (is_entry_array(v, name, true)) {
			snprintf(out[k].path, sizeof(out[k].path), "%s", name);
			out[k].arr = v;
			out[k].info = md_info_for(out[k].path);
			k++;
		} else if (v->type == JV_OBJ) {
			for (size_t j = 0; j < v->n && k < cap; j++) {
				char path[64];
				snprintf(path, sizeof(path), "%s.%s", name, v->keys[j]);
				if (!is_entry_array(&v->items[j], path, false))
					continue;
				memcpy(out[k].path, path, sizeof(path));
				out[k].arr = &v->items[j];
				out[k].info = md_info_for(path);
				k++;
			}
		}
	}
	return k;
}

const char *md_cost_field(const struct md_section *sec)
{
	const struct jv *first = sec->arr->n ? &sec->arr->items[0] : NULL;
	if (sec->info->cost && (!first || jv_get(first, sec->info->cost)))
		return sec->info->cost;
	for (size_t i = 0; first && i < first->n; i++)
		if (first->items[i].type == JV_NUM)
			return first->keys[i];
	return NULL;
}

/* ---- entries ----------------------------------------------------------------------------- */

const struct jv *md_stack(const struct jv *entry)
{
	const struct jv *s = jv_get(entry, "stack");
	return s && s->type == JV_ARR ? s : NULL;
}

static const char *str_or_null(const struct jv *v)
{
	return v && v->type == JV_STR ? v->s : NULL;
}

void md_frame(const struct jv *frame, struct rp_frame *out)
{
	memset(out, 0, sizeof(*out));
	out->function = str_or_null(jv_get(frame, "function"));
	out->file = str_or_null(jv_get(frame, "file"));
	out->module = str_or_null(jv_get(frame, "module"));
	const struct jv *line = jv_get(frame, "line");
	if (line && line->type == JV_NUM && line->is_int && !line->neg && line->u <= UINT32_MAX)
		out->line = (uint32_t)line->u;
	const char *addr = str_or_null(jv_get(frame, "address"));
	if (addr)
		out->address = strtoull(addr, NULL, 16);
	const struct jv *inl = jv_get(frame, "inlined");
	out->inlined = inl && inl->type == JV_BOOL && inl->b;
}

static bool is_address(const char *s)
{
	return s[0] == '0' && s[1] == 'x';
}

static void key_stack(const struct jv *st, struct sbuf *key)
{
	sb_puts(key, "stack=");
	for (size_t i = 0; st && i < st->n; i++) {
		struct rp_frame f;
		md_frame(&st->items[i], &f);
		if (i)
			sb_putc(key, '<');
		if (f.function) {
			sb_puts(key, f.function);
		} else {
			const char *m = f.module ? strrchr(f.module, '/') : NULL;
			sb_printf(key, "%s+0x%llx",
				  m	     ? m + 1
				  : f.module ? f.module
					     : "?",
				  (unsigned long long)f.address);
		}
	}
	sb_putc(key, '\x1f');
}

/* key_has() : whether info's key list names field. */
static bool key_has(const struct md_info *info, const char *field)
{
	size_t n = strlen(field);
	for (const char *p = info->key; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !strncmp(p, field, n))
			return true;
		p = end ? end + 1 : p + len;
	}
	return false;
}

void md_entry_key(const struct md_info *info, const struct jv *entry, struct sbuf *key)
{
	if (info->key) {
		char field[64];
		for (const char *p = info->key; *p;) {
			const char *end = strchr(p, ',');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			snprintf(field, sizeof(field), "%.*s", (int)len, p);
			p = end ? end + 1 : p + len;
			const struct jv *v = jv_get(entry, field);
			if (v && v->type == JV_ARR) { /* a stack: "stack", "first_seen_stack" */
				sb_printf(key, "%s:", field);
				key_stack(v, key);
				continue;
			}
			sb_printf(key, "%s=", field);
			if (v && v->type == JV_STR)
				sb_put(key, v->s, v->n);
			else if (v && v->type == JV_NUM)
				sb_printf(key, "%.17g", v->d);
			sb_putc(key, '\x1f');
		}
		return;
	}
	for (size_t i = 0; entry->type == JV_OBJ && i < entry->n; i++) {
		const struct jv *v = &entry->items[i];
		if (v->type != JV_STR || is_address(v->s))
			continue;
		sb_printf(key, "%s=", entry->keys[i]);
		sb_put(key, v->s, v->n);
		sb_putc(key, '\x1f');
	}
	if (md_stack(entry))
		key_stack(md_stack(entry), key);
}

const char *md_entry_label(const struct md_info *info, const struct jv *entry, char *buf,
			   size_t cap)
{
	size_t o = 0;
	bool text = false;
	buf[0] = '\0';
	for (size_t i = 0; entry->type == JV_OBJ && i < entry->n && o + 1 < cap; i++) {
		const struct jv *v = &entry->items[i];
		if (v->type != JV_STR || (o && strstr(buf, v->s)))
			continue; /* a host already in the endpoint says nothing new */
		int w = snprintf(buf + o, cap - o, "%s%s", o ? " " : "", v->s);
		o += w > 0 ? (size_t)w : 0;
		text = true;
	}
	const struct jv *st = md_stack(entry);
	bool frames =
		info->key ? key_has(info, "stack") || key_has(info, "first_seen_stack") : !text;
	if (frames && !(st && st->n))
		st = jv_get(entry, "first_seen_stack");
	for (size_t i = 0; frames && st && i < st->n && i < 3 && o + 1 < cap; i++) {
		struct rp_frame f;
		char lbl[512];
		md_frame(&st->items[i], &f);
		rp_frame_label(&f, lbl, sizeof(lbl));
		int w = snprintf(buf + o, cap - o, "%s%s", i ? " < " : o ? ": " : "", lbl);
		o += w > 0 ? (size_t)w : 0;
	}
	if (frames && st && st->n > 3 && o + 1 < cap)
		snprintf(buf + o, cap - o, " < ...");
	if (!buf[0])
		snprintf(buf, cap, "(no text)");
	return buf;
}

bool md_entry_matches(const struct jv *entry, const char *text)
{
	for (size_t i = 0; entry->type == JV_OBJ && i < entry->n; i++)
		if (entry->items[i].type == JV_STR && strstr(entry->items[i].s, text))
			return true;
	const struct jv *st = md_stack(entry);
	for (size_t i = 0; st && i < st->n; i++) {
		struct rp_frame f;
		md_frame(&st->items[i], &f);
		if ((f.function && strstr(f.function, text)) || (f.file && strstr(f.file, text)) ||
		    (f.module && strstr(f.module, text)))
			return true;
	}
	return false;
}

/* ---- values ------------------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

enum md_unit md_unit(const char *field)
{
	if (ends_with(field, "_ns"))
		return MD_NS;
	if (ends_with(field, "_per_s"))
		return MD_RATE;
	if (strstr(field, "bytes"))
		return MD_BYTES;
	if (!strcmp(field, "fit") || strstr(field, "ratio") || strstr(field, "relative"))
		return MD_PLAIN;
	if (!strcmp(field, "pid") || !strcmp(field, "ppid") || !strcmp(field, "tid") ||
	    !strcmp(field, "line"))
		return MD_ID;
	return MD_COUNT;
}

bool md_is_max(const char *field)
{
	if (!strncmp(field, "max_", 4) || ends_with(field, "_max") || !strncmp(field, "peak", 4) ||
	    !strcmp(field, "fit"))
		return true;
	/* percentiles: p50_ns, p95_ns, p99_ns, p999_ns ... */
	if (field[0] == 'p' && field[1] >= '0' && field[1] <= '9') {
		const char *q = field + 1;
		while (*q >= '0' && *q <= '9')
			q++;
		return *q == '_' || *q == '\0';
	}
	return false;
}

const char *md_fmt(char *buf, size_t cap, const char *field, double v, bool sign)
{
	char tmp[64];
	double a = fabs(v);
	const char *pre = v < 0 ? "-" : sign && v > 0 ? "+" : "";
	if (!isfinite(v)) {
		snprintf(buf, cap, "-");
		return buf;
	}
	switch (md_unit(field)) {
	case MD_NS:
		fmt_ns(tmp, sizeof(tmp), a);
		break;
	case MD_BYTES:
		fmt_bytes(tmp, sizeof(tmp), a);
		break;
	case MD_RATE:
		fmt_bytes(tmp, sizeof(tmp), a);
		strncat(tmp, "/s", sizeof(tmp) - strlen(tmp) - 1);
		break;
	case MD_PLAIN:
		snprintf(tmp, sizeof(tmp), "%.3g", a);
		break;
	case MD_ID:
		snprintf(tmp, sizeof(tmp), "%.0f", a);
		break;
	default:
		if (a == floor(a) && a < 1.8e19)
			fmt_count(tmp, sizeof(tmp), (uint64_t)a);
		else
			snprintf(tmp, sizeof(tmp), "%.3g", a);
	}
	snprintf(buf, cap, "%s%s", pre, tmp);
	return buf;
}
