/* report.h - the analysis as the output formats see it (report.c, analysis.c): the trace's
 * metadata, every aggregator's results, symbolized stacks (one code path for every
 * format), sorted site lists and warnings. fmt_*.c include this, never reader.h or
 * decode.h. */
#ifndef INTERCEPT_REPORT_H
#define INTERCEPT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agg_alloc.h"
#include "agg_http.h"
#include "agg_lock.h"
#include "agg_sql.h"
#include "explain.h"
#include "agg_growth.h"
#include "order.h"
#include "sym.h"
#include "trace.h"
#include "util.h"

/* --weight (--format folded): the cost each folded stack carries (fmt_folded.c's table) */
enum rp_weight { RP_WEIGHT_BYTES, RP_WEIGHT_COUNT, RP_WEIGHT_LEAKED, RP_WEIGHT_LOCKWAIT,
		 RP_WEIGHT_SQLTIME, RP_WEIGHT_HTTPTIME };

struct az_options {
	unsigned top;		 /* --top N: entries per section in text (0: default 10) */
	bool top_given;		 /* --top was given: JSON is cut too */
	bool no_symbols;	 /* --no-symbols: addresses only (tests, speed) */
	enum rp_weight weight;	 /* --weight for folded stacks (default bytes) */
	bool explain;		 /* --explain: EXPLAIN QUERY PLAN of the SQL hotspots */
	bool between;		 /* --between T1 T2: what grew between two moments */
	uint64_t between_t1_ns, between_t2_ns; /* since the start; t2 UINT64_MAX: the end */
};

struct rp_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	uint32_t line;	      /* 0 when unknown */
	const char *module;   /* NULL when the address is in no known module */
	uint64_t address;     /* ELF address in module (what addr2line takes), else runtime */
	bool inlined;	      /* an inlined call inside the next frame */
};

struct rp_stack {
	uint32_t n;
	struct rp_frame *frames; /* innermost first */
};

struct report {
	struct az_options opt;
	struct trace tr;
	struct order ord;
	struct agg_alloc alloc;
	struct agg_http http; /* agg_http.c: HTTP transfers by endpoint */
	struct agg_lock locks; /* pthread lock contention (agg_lock.c) */
	struct agg_sql sql;
	struct agg_growth growth; /* heap over time, per-site rates and verdicts */
	struct sym *sym;
	struct hmap stacks; /* stack id -> struct rp_stack * */
	VEC(char *) warnings;
	struct merge *merge; /* several traces merged (merge.c), or NULL */
};

/*! az_load() : read and analyze the trace at path into r (analysis.c). A truncated trace
 * is not an error (r->tr.complete is false).
 * @return 0, or an AZ_* code with the message set (r must still be freed). */
int az_load(struct report *r, const char *path, const struct az_options *opt);

/*! az_load_many() : analyze each of n traces (a parent and its children) and merge them
 * into one report (merge.c, docs/reports.md): sections summed by merged stack and text,
 * per-process totals in mg_parts() and the JSON "processes" list.
 * @return 0, or an AZ_* code with the message set (r must still be freed). */
int az_load_many(struct report *r, const char *const *paths, size_t n,
		 const struct az_options *opt);

/*! rp_free() : release everything az_load() built. */
void rp_free(struct report *r);

/*! rp_stack() : the symbolized stack for a stack id, built once and cached. Never NULL:
 * an unknown or undefined id gives an empty stack. */
const struct rp_stack *rp_stack(struct report *r, uint32_t stack_id);

/*! rp_warn() : add a warning line (printed by main.c as "analyze: warning: ..."). */
void rp_warn(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum rp_site_order {
	RP_BY_BYTES,	/* bytes allocated, then allocations */
	RP_BY_COUNT,	/* allocations, then bytes */
	RP_BY_LEAKED,	/* live bytes at the end, then live count; sites with none omitted */
	RP_BY_TEMPORARY /* temporary allocations; sites with none omitted */
};

struct rp_site {
	uint32_t stack;
	const struct alloc_site *s;
};

/*! rp_sites() : allocation sites sorted by `order`. *out is malloc'ed (caller frees).
 * @return 0 or AZ_ENOMEM. */
int rp_sites(struct report *r, enum rp_site_order order, struct rp_site **out, size_t *n);

/*! rp_lock_leaf() : the name every format gives lock l as the innermost frame of waiter
 * ws's stack: "[mutex 0x...]", "[rwlock 0x... read]" (--format folded, the JSON's
 * lock_stacks, the html flame graph). @return buf. */
const char *rp_lock_leaf(const struct lock_ent *l, const struct lock_waiter *ws, char *buf,
			 size_t cap);

/*! rp_lock_wait_ns() : the time threads spent waiting on locks of either kind, summed
 * over threads: pthread mutexes and rwlocks (agg_lock.c) plus SQLite's database locks. */
uint64_t rp_lock_wait_ns(const struct report *r);

/*! rp_limit() : how many of n entries a format shows: --top if given, else n (all) for
 * machine formats, or the text default. */
size_t rp_limit(const struct report *r, size_t n, bool for_text);

/*! rp_frame_label() : "function (file:line)" or "module+0xaddr" into buf. @return buf. */
const char *rp_frame_label(const struct rp_frame *f, char *buf, size_t cap);

/* The output formats (fmt_<name>.c). Each writes the whole report to out.
 * @return 0, or AZ_EIO when writing failed. */
int fmt_text(struct report *r, FILE *out);
int fmt_json(struct report *r, FILE *out);
int fmt_html(struct report *r, FILE *out);

/* The SQL sections (fmt_text_sql.c, fmt_json_sql.c), called by fmt_text() and fmt_json(). */
void fmt_text_sql(FILE *o, struct report *r);
struct jw;
void fmt_json_sql(struct jw *w, struct report *r);
/*! fmt_text_growth() : the text growth section alone (analyze --follow prints it). */
void fmt_text_growth(FILE *o, struct report *r);

struct jw;
/*! fmt_json_stack() : write stack_id as the contract's FRAME array under key (every
 * section of every JSON-based format uses this one function). */
void fmt_json_stack(struct jw *w, const char *key, struct report *r, uint32_t stack_id);

/*! rp_json_processes() / rp_text_processes() : the per-process list of a report (merge.c):
 * JSON "processes" (one entry for a single trace); text lines only for a merged report. */
void rp_json_processes(struct jw *w, struct report *r);
void rp_text_processes(FILE *o, struct report *r);

/*! fmt_text_stack() : the stack's first frames, one per line, each line prefixed by
 * indent (every text section uses this one function). */
void fmt_text_stack(FILE *o, struct report *r, uint32_t stack_id, const char *indent);

/* ---- shared by the export formats (folded, pprof, chrome, csv, prometheus, sqlite) ---- */

/* What every format writes for a stack with no frames (not recorded, or the stack table
 * overflowed). */
#define RP_NO_STACK "(stack not recorded)"

/*! rp_frame_name() : a frame's name as every export format writes it: the function, or
 * "module+0xADDRESS" (the module's file name, the ELF address) when no symbol covers it,
 * or "?+0xADDRESS" outside every known module. @return buf (always NUL-terminated). */
const char *rp_frame_name(const struct rp_frame *f, char *buf, size_t cap);

/*! rp_site_frame() : the frame that names an allocation site in per-site labels and
 * columns: the first frame outside the C and C++ runtime (libc, libstdc++, libgcc_s, the
 * dynamic loader), so a C++ `new` or a `strdup` is named after its caller; the innermost
 * frame when all are in the runtime. @return NULL for an empty stack. */
const struct rp_frame *rp_site_frame(const struct rp_stack *s);

/* One point of the live heap over time (rp_heap_series()). */
struct rp_heap_point {
	uint64_t t_ns;	    /* start of the interval, ns since the start of tracing */
	uint64_t bytes;	    /* live at the end of the interval */
	uint64_t blocks;    /* live blocks at the end of the interval */
	uint64_t max_bytes; /* the most live at any moment of the interval */
	bool changed;	    /* something was allocated or freed in it (else carried over) */
};

/*! rp_heap_series() : the live heap over the run as at most ALLOC_SERIES_MAX intervals of
 * equal width (agg_alloc.h), oldest first; the largest max_bytes is alloc.peak_bytes and the
 * last bytes is what was still allocated at the end. *interval_ns gets the width.
 * @return the count (0 without allocation events); *out is malloc'ed (caller frees), NULL
 * when the count is 0 or memory ran out (then 0 is returned). */
size_t rp_heap_series(struct report *r, struct rp_heap_point **out, uint64_t *interval_ns);

/* The export formats (one file each). Same contract as fmt_json(). */
int fmt_folded(struct report *r, FILE *out);
int fmt_pprof(struct report *r, FILE *out);
int fmt_chrome(struct report *r, FILE *out);
int fmt_csv(struct report *r, FILE *out);
int fmt_prometheus(struct report *r, FILE *out);

/*! fmt_csv_dir() : `--format csv -o DIR`: one file per table in DIR (created if missing,
 * 0777 & ~umask; existing files of the same names are replaced; symlinks are not followed).
 * @return 0, or AZ_EIO with the message set. */
int fmt_csv_dir(struct report *r, const char *dir);

/*! fmt_sqlite() : `--format sqlite -o FILE`: every section as tables of a new SQLite
 * database (schema in docs/formats.md), built beside FILE and renamed over it when
 * complete. @return 0, or AZ_EIO / AZ_ENOMEM with the message set (FILE left untouched). */
int fmt_sqlite(struct report *r, const char *path);

/*! fmt_folded_weight() : parse a --weight name. @return 0, or AZ_EUSAGE with the message
 * set (an unknown name, or a cost whose section this analyzer does not have). */
int fmt_folded_weight(const char *name, enum rp_weight *out);

#endif /* INTERCEPT_REPORT_H */
