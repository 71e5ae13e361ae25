/* fmt_folded.c - owns `--format folded`: Brendan Gregg's folded stacks, one line per
 * recorded stack, "root;caller;...;leaf WEIGHT", which flamegraph.pl, inferno, speedscope
 * and Pyroscope read. `--weight` picks the cost; each cost is one entry of the table below
 * and one function that hands (stack, weight) pairs to folded_line(). Frame names come from
 * rp_frame_name() (report.c), like every other format's. Main thread only; writes only to
 * the FILE it is given.
 *
 * Two recorded stacks can fold to the same line (they differ only in call lines inside the
 * same functions): both lines are written and every consumer adds them up. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "report.h"

/* folded_line() : write stack_id's frames root first, then leaf (when not NULL) as one more
 * frame, then the weight. Zero weights are left out (a flame graph has nothing to draw for
 * them). @return 1 if a line was written. */
static int folded_line(FILE *o, struct report *r, uint32_t stack_id, const char *leaf,
		       uint64_t weight)
{
	char name[1024];
	if (!weight)
		return 0;
	const struct rp_stack *s = rp_stack(r, stack_id);
	if (!s->n)
		fputs(RP_NO_STACK, o);
	for (uint32_t i = s->n; i-- > 0;) {
		rp_frame_name(&s->frames[i], name, sizeof(name));
		/* ';' separates frames and a line ends the sample: neither may appear in a name */
		for (char *c = name; *c; c++)
			if (*c == ';' || *c == '\n' || *c == '\r')
				*c = '_';
		fputs(name, o);
		if (i)
			fputc(';', o);
	}
	if (leaf)
		fprintf(o, ";%s", leaf);
	fprintf(o, " %llu\n", (unsigned long long)weight);
	return 1;
}

/* weight_alloc() : allocation sites, by bytes, count or leaked bytes (the same order and
 * --top cut as the JSON's arrays of that cost). */
static int weight_alloc(FILE *o, struct report *r, enum rp_weight w, size_t *lines)
{
	enum rp_site_order order = w == RP_WEIGHT_COUNT ? RP_BY_COUNT :
				   w == RP_WEIGHT_LEAKED ? RP_BY_LEAKED : RP_BY_BYTES;
	struct rp_site *sites;
	size_t n;
	int rc = rp_sites(r, order, &sites, &n);
	if (rc)
		return rc;
	size_t lim = rp_limit(r, n, false);
	for (size_t i = 0; i < lim; i++) {
		const struct alloc_site *s = sites[i].s;
		uint64_t v = w == RP_WEIGHT_COUNT ? s->allocations :
			     w == RP_WEIGHT_LEAKED ? s->live_bytes : s->bytes;
		*lines += (size_t)folded_line(o, r, sites[i].stack, NULL, v);
	}
	free(sites);
	return 0;
}

/* weight_http() : HTTP request time (ns, libcurl's total per request) by the stack that
 * made the requests. */
static int weight_http(FILE *o, struct report *r, enum rp_weight w, size_t *lines)
{
	(void)w;
	struct http_stack_cost *v;
	size_t n;
	int rc = agg_http_by_stack(&r->http, &v, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		*lines += (size_t)folded_line(o, r, v[i].stack, NULL, v[i].ns);
	free(v);
	return 0;
}

/* weight_lockwait() : nanoseconds waited for pthread locks, by waiting stack, with the lock
 * as the leaf frame ("[mutex 0x...]", "[rwlock 0x... read]"), so that waits for different
 * locks from one place stay apart. Every lock: --top never cuts a profile. */
static int weight_lockwait(FILE *o, struct report *r, enum rp_weight w, size_t *lines)
{
	const struct agg_lock *a = &r->locks;
	char leaf[96];
	(void)w;
	for (size_t i = 0; i < a->n_sorted; i++) {
		const struct lock_ent *l = a->sorted[i];
		for (size_t j = 0; j < l->n_sorted; j++) {
			const struct lock_waiter *ws = &l->sorted[j];
			rp_lock_leaf(l, ws, leaf, sizeof(leaf));
			*lines += (size_t)folded_line(o, r, ws->stack, leaf, ws->wait_ns);
		}
	}
	return 0;
}

/* weight_sql() : SQL statements, by time inside sqlite3_step (ns), each under the stack of
 * its first execution with the statement as the innermost frame ("SQL: SELECT ..."). */
static int weight_sql(FILE *o, struct report *r, enum rp_weight w, size_t *lines)
{
	(void)w;
	const struct agg_sql *a = &r->sql;
	struct sbuf leaf = {0};
	for (size_t i = 0; i < a->stmts.n; i++) {
		const struct sql_stmt *s = &a->stmts.v[a->order[i]];
		const char *text = tr_string(&r->tr, s->sql);
		leaf.len = 0;
		sb_puts(&leaf, "SQL: ");
		sb_puts(&leaf, text ? text : "(statement text not recorded)");
		if (leaf.oom) {
			sb_free(&leaf);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		/* a trigger's body holds ';': frames and samples must not */
		for (char *c = leaf.s; *c; c++)
			if (*c == ';' || *c == '\n' || *c == '\r')
				*c = '_';
		*lines += (size_t)folded_line(o, r, s->first_stack, leaf.s, s->total_ns);
	}
	sb_free(&leaf);
	return 0;
}

/* The costs. A section that brings a new one replaces its NULL `fold` with its function
 * and drops `missing`. */
static const struct {
	const char *name;
	enum rp_weight w;
	int (*fold)(FILE *o, struct report *r, enum rp_weight w, size_t *lines);
	const char *missing; /* why the cost is not available yet */
} weights[] = {
	{"bytes", RP_WEIGHT_BYTES, weight_alloc, NULL},
	{"count", RP_WEIGHT_COUNT, weight_alloc, NULL},
	{"leaked", RP_WEIGHT_LEAKED, weight_alloc, NULL},
	{"lockwait", RP_WEIGHT_LOCKWAIT, weight_lockwait, NULL},
	{"sqltime", RP_WEIGHT_SQLTIME, weight_sql, NULL},
	{"httptime", RP_WEIGHT_HTTPTIME, weight_http, NULL},
};
#define N_WEIGHTS (sizeof(weights) / sizeof(weights[0]))

int fmt_folded_weight(const char *name, enum rp_weight *out)
{
	for (size_t i = 0; i < N_WEIGHTS; i++) {
		if (strcmp(name, weights[i].name))
			continue;
		if (!weights[i].fold)
			return az_error(AZ_EUSAGE, "--weight %s: %s", name, weights[i].missing);
		*out = weights[i].w;
		return 0;
	}
	return az_error(AZ_EUSAGE, "unknown --weight '%s' (known: bytes, count, leaked, "
				   "lockwait, sqltime, httptime)", name);
}

int fmt_folded(struct report *r, FILE *out)
{
	for (size_t i = 0; i < N_WEIGHTS; i++) {
		if (weights[i].w != r->opt.weight)
			continue;
		if (!weights[i].fold)
			return az_error(AZ_EUSAGE, "--weight %s: %s", weights[i].name,
					weights[i].missing);
		size_t lines = 0;
		int rc = weights[i].fold(out, r, r->opt.weight, &lines);
		if (rc)
			return rc;
		if (!lines) /* flame graph tools reject an empty file with a puzzling message */
			rp_warn(r, "folded: no stack has a %s cost in this trace: the output is "
				   "empty", weights[i].name);
		return ferror(out) ? az_error(AZ_EIO, "writing the report failed") : 0;
	}
	return az_error(AZ_EUSAGE, "unknown weight");
}
