/* model.h - the report as a JSON tree (model.c): exactly what `--format json` writes, parsed
 * back with json_in.h, plus what check, diff and the html format need to walk it without
 * knowing each section: where the sections are, what identifies an entry, which field is
 * its cost, how a field's value reads (ns, bytes, counts).
 *
 * Working on the JSON model rather than on struct report means a section that appears in
 * fmt_json.c appears in budgets, diffs and HTML tables with no change here. What a section
 * may want beyond that (its cost field, the columns a diff shows, its flame graphs) is one
 * line in model.c's section table. */
#ifndef INTERCEPT_MODEL_H
#define INTERCEPT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "json_in.h"
#include "report.h"

/*! md_from_report() : render r as `--format json` does (every entry: --top is ignored) and
 * parse it into doc. @return 0, or AZ_ENOMEM / AZ_EIO with the message set. */
int md_from_report(struct report *r, struct jv_doc *doc);

/*! md_load() : the model of one report: a JSON report written by `analyze --format json`
 * (recognised by its first byte, '{'), or one or more traces analyzed (and merged) like
 * `analyze TRACE...` does. @return 0, or an AZ_* code with the message set (doc empty). */
int md_load(const char *const *paths, size_t n, const struct az_options *opt, struct jv_doc *doc);

/*! md_read_file() : a whole small file into a malloc'ed, NUL-terminated buffer (caller
 * frees). @return 0, or AZ_EIO / AZ_ENOMEM (file larger than max) with the message set. */
int md_read_file(const char *path, size_t max, char **out, size_t *len);

/* ---- sections ---------------------------------------------------------------------------- */

/* How check, diff and html treat one section (model.c's table). */
struct md_info {
	const char *path;    /* "sql", "alloc.sites": where the entries are */
	const char *title;   /* "SQL statements" */
	const char *key;     /* comma list of the fields that identify an entry across runs and
				processes ("method,endpoint"; "stack": the function chain);
				NULL: every text field that is not an address, and the stack */
	const char *cost;    /* the field an entry is ranked by in diffs ("total_ns"); NULL: the
				first numeric field, which the contract sorts arrays by */
	const char *columns; /* comma list: further fields a text diff shows per entry */
	const char *flames;  /* comma list of "field:title": one flame graph each (html), for
				entries that carry a "stack" */
};

struct md_section {
	char path[64];	      /* "sql", "alloc.sites" */
	const struct jv *arr; /* the array of entry objects */
	const struct md_info *info;
};

/*! md_sections() : every array of objects at the top level of the report or inside a
 * top-level object ("sql", "alloc.sites", "leaks.sites"), in document order; "processes"
 * (the per-trace list) is left out unless with_processes. @return how many (<= cap). */
size_t md_sections(const struct jv *root, struct md_section *out, size_t cap, bool with_processes);

/*! md_info_for() : the table entry for a section path, or a generic one (never NULL). */
const struct md_info *md_info_for(const char *path);

/*! md_cost_field() : the field entries of sec are ranked by (its info's cost, else the first
 * numeric field of the first entry). NULL when entries have no number. */
const char *md_cost_field(const struct md_section *sec);

/* ---- entries ----------------------------------------------------------------------------- */

/*! md_stack() : an entry's "stack" array, or NULL. */
const struct jv *md_stack(const struct jv *entry);

/*! md_frame() : a JSON FRAME as a struct rp_frame (strings point into the document), so
 * every format labels frames with the one rp_frame_label(). */
void md_frame(const struct jv *frame, struct rp_frame *out);

/*! md_entry_key() : what identifies an entry of section info across runs and processes:
 * the fields info->key names, else its text fields (values that are raw addresses "0x..."
 * left out) and its stack; a stack counts as its chain of function names (module+address
 * where there is none), so line numbers and load addresses may differ. */
void md_entry_key(const struct md_info *info, const struct jv *entry, struct sbuf *key);

/*! md_entry_label() : one line naming an entry for people: its text fields, then, when the
 * stack is what identifies it (or there is no text), its first frames
 * "f (a.c:3) < g (a.c:9)". @return buf. */
const char *md_entry_label(const struct md_info *info, const struct jv *entry, char *buf,
			   size_t cap);

/*! md_entry_matches() : whether an entry's text fields, or a frame's function, file or
 * module, contain text (budget filters "sql[FROM orders]"). */
bool md_entry_matches(const struct jv *entry, const char *text);

/* ---- values ------------------------------------------------------------------------------ */

enum md_unit { MD_COUNT, MD_NS, MD_BYTES, MD_RATE, MD_PLAIN, MD_ID };

/*! md_unit() : a field's unit from its name: *_ns time, *bytes_per_s byte rate, *bytes*
 * bytes, fit/ratio plain numbers, pid/ppid/tid/line identifiers, anything else a count. */
enum md_unit md_unit(const char *field);

/*! md_is_max() : whether values of field combine by maximum (max_*, *_max, p50_ns, ...,
 * peak_*) rather than by sum, when entries of several processes or sites are folded. */
bool md_is_max(const char *field);

/*! md_fmt() : v as people read field: "1.50 MiB", "12.3 ms", "1,234". With sign, a leading
 * '+' for positive values (changes in diffs). @return buf. */
const char *md_fmt(char *buf, size_t cap, const char *field, double v, bool sign);

#endif /* INTERCEPT_MODEL_H */
