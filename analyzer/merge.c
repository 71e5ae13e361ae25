/* merge.c - owns merged reports (`analyze TRACE1 TRACE2 ...`): each trace analyzed into its
 * own report (a part), then one report built from them: a merged trace (the first
 * process's header and clock, everyone's counters and threads), merged stack and string
 * ids, and each section's results folded by the mergers in the table below. The parts stay
 * alive inside the merged report: symbolized stacks come from them, and every format can
 * show per-process totals (the "processes" list). Main thread only.
 *
 * Exactness: counts, bytes and leaks add up exactly. The heap peak of a merged report is
 * the sum of each process's own peak, an upper bound of what they held at once (their
 * events are not merged in time); each process's exact peak is in its processes[] entry. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "intercept/trace_format.h"
#include "json_out.h"
#include "merge.h"

struct mg_src {
	uint32_t part; /* index into parts */
	uint32_t id;   /* the part's stack id */
};

struct merge {
	struct report **parts; /* each allocated alone: reports are never moved once loaded
				  (aggregators may keep pointers into their report) */
	size_t n_parts;
	VEC(struct mg_src) stack_src; /* by merged stack id - 1 */
	struct strmap stacks, strings;
	size_t *sym_seen; /* per part: symbolizer warnings already copied */
	bool oom;
};

/* ---- maps for section mergers ------------------------------------------------------------ */

uint32_t mg_stack(const struct mg_map *m, uint32_t src_stack)
{
	struct merge *g = m->g;
	const struct tr_stack *ts = src_stack ? tr_stack_get(&m->src->tr, src_stack) : NULL;
	struct sbuf key = {0};
	bool is_new;
	if (!ts)
		return 0;
	/* the stack as (module path, ELF address) per frame: the same in a fork child, and in
	 * any process that runs the same binaries, whatever their load addresses */
	for (uint32_t i = 0; i < ts->n; i++) {
		const struct tr_module *mod = tr_module_for(&m->src->tr, ts->frames[i], ts->gen);
		if (mod) {
			sb_puts(&key, mod->path);
			sb_printf(&key, "+%llx;", (unsigned long long)(ts->frames[i] - mod->bias));
		} else {
			sb_printf(&key, "?+%llx;", (unsigned long long)ts->frames[i]);
		}
	}
	uint32_t id = key.oom ? 0 : strmap_intern(&g->stacks, key.s ? key.s : "", key.len, &is_new);
	sb_free(&key);
	if (id && is_new) {
		struct mg_src src = {(uint32_t)m->part, src_stack};
		while (g->stack_src.n < id)
			if (VEC_PUSH(g->stack_src, src)) {
				g->oom = true;
				return 0;
			}
	}
	if (!id)
		g->oom = true;
	return id;
}

uint32_t mg_string(const struct mg_map *m, uint32_t src_string)
{
	const char *s = tr_string(&m->src->tr, src_string);
	struct trace *t = &m->dst->tr;
	bool is_new;
	if (!s)
		return 0;
	uint32_t id = strmap_intern(&m->g->strings, s, strlen(s), &is_new);
	if (!id) {
		m->g->oom = true;
		return 0;
	}
	if (is_new) {
		uint32_t kind = src_string < m->src->tr.string_kinds.n
					? m->src->tr.string_kinds.v[src_string]
					: 0;
		char *copy = xstrndup(s, strlen(s));
		while (t->strings.n <= id && !VEC_PUSH(t->strings, NULL) &&
		       !VEC_PUSH(t->string_kinds, 0))
			;
		if (!copy || t->strings.n <= id || t->string_kinds.n <= id) {
			free(copy);
			m->g->oom = true;
			return 0;
		}
		t->strings.v[id] = copy;
		t->string_kinds.v[id] = kind;
	}
	return id;
}

/* mono_of() : a part's raw timestamp as absolute CLOCK_MONOTONIC nanoseconds. */
static double mono_of(const struct trace *t, uint64_t ts)
{
	return (double)t->conv_mono0 + ((double)ts - (double)t->conv_ts0) * t->ns_per_tick;
}

static uint64_t ts_of(const struct trace *t, double mono)
{
	double ts = (double)t->conv_ts0 + (mono - (double)t->conv_mono0) / t->ns_per_tick;
	return ts > 0 ? (uint64_t)llround(ts) : 0;
}

uint64_t mg_ts(const struct mg_map *m, uint64_t src_ts)
{
	return ts_of(&m->dst->tr, mono_of(&m->src->tr, src_ts));
}

const struct rp_stack *mg_rp_stack(struct report *r, uint32_t stack_id)
{
	struct merge *g = r->merge;
	uint32_t part = 0, id = 0;
	if (stack_id && stack_id <= g->stack_src.n) {
		part = g->stack_src.v[stack_id - 1].part;
		id = g->stack_src.v[stack_id - 1].id;
	}
	struct report *p = g->parts[part];
	const struct rp_stack *s = rp_stack(p, id);
	/* the part's symbolizer may have found something to say about this stack's modules */
	const char *const *w;
	size_t n = sym_warnings(p->sym, &w);
	for (; g->sym_seen[part] < n; g->sym_seen[part]++)
		rp_warn(r, "%s", w[g->sym_seen[part]]);
	return s;
}

void mg_free(struct report *r)
{
	struct merge *g = r->merge;
	if (!g)
		return;
	for (size_t i = 0; i < g->n_parts; i++) {
		if (g->parts[i])
			rp_free(g->parts[i]);
		free(g->parts[i]);
	}
	free(g->parts);
	free(g->sym_seen);
	VEC_FREE(g->stack_src);
	strmap_free(&g->stacks);
	strmap_free(&g->strings);
	free(g);
	r->merge = NULL;
}

size_t mg_count(const struct report *r)
{
	return r->merge ? r->merge->n_parts : 1;
}

struct report *mg_part(struct report *r, size_t k)
{
	return r->merge ? r->merge->parts[k] : r;
}

/* ---- section mergers ----------------------------------------------------------------------
 * One function per section that keeps results in struct report. Each folds part m->src into
 * m->dst, translating ids and timestamps with mg_stack(), mg_string(), mg_ts(); a section
 * whose figures are not sums (percentiles) keeps the raw inputs and computes them once in
 * its finish function. @return 0, or AZ_ENOMEM. */

static int merge_alloc(const struct mg_map *m)
{
	struct agg_alloc *d = &m->dst->alloc;
	const struct agg_alloc *s = &m->src->alloc;
	size_t it = 0;
	uint64_t key;
	void *v;
	while (hmap_next(&s->sites, &it, &key, &v)) {
		const struct alloc_site *ss = v;
		uint32_t id = mg_stack(m, (uint32_t)key);
		if (m->g->oom)
			return az_error(AZ_ENOMEM, "out of memory merging stacks");
		struct alloc_site *ds = hmap_put(&d->sites, id, NULL);
		if (!ds)
			return az_error(AZ_ENOMEM, "out of memory");
		ds->allocations += ss->allocations;
		ds->bytes += ss->bytes;
		ds->frees += ss->frees;
		ds->temporary += ss->temporary;
		ds->live_count += ss->live_count;
		ds->live_bytes += ss->live_bytes;
		/* processes may hold their most at different times: the sum bounds it */
		ds->max_live_bytes += ss->max_live_bytes;
	}
	d->allocations += s->allocations;
	d->frees += s->frees;
	d->reallocs += s->reallocs;
	d->bytes_allocated += s->bytes_allocated;
	d->bytes_freed += s->bytes_freed;
	d->live_bytes += s->live_bytes;
	d->live_count += s->live_count;
	d->temporary += s->temporary;
	d->unmatched_frees += s->unmatched_frees;
	d->orphans_dropped += s->orphans_dropped;
	d->repaired += s->repaired;
	d->peak_count += s->peak_count;
	d->peak_bytes += s->peak_bytes;
	return 0;
}

/* merge_http() : the part's requests, as recorded, into the merged request list (ids and
 * clock translated); finish_http() then groups and measures them all at once, so
 * percentiles, the slowest requests and the findings are exact over every process. */
static int merge_http(const struct mg_map *m)
{
	struct agg_http *d = &m->dst->http;
	const struct agg_http *s = &m->src->http;
	int rc = 0;
	/* after agg_http_finish a request's group is its endpoint: one merged group per
	 * endpoint, from any of the raw URLs that normalized to it */
	uint32_t *grp = xcalloc(s->eps.n ? s->eps.n : 1, sizeof(*grp));
	bool *have = xcalloc(s->eps.n ? s->eps.n : 1, sizeof(*have));
	if (!grp || !have) {
		rc = az_error(AZ_ENOMEM, "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < s->groups.n; i++) {
		const struct http_group *pg = &s->groups.v[i];
		bool is_new;
		if (pg->endpoint >= s->eps.n || have[pg->endpoint])
			continue;
		struct http_group g = {.url = mg_string(m, pg->url),
				       .method = mg_string(m, pg->method)};
		uint32_t *gi = hmap_put(&d->group_of, (uint64_t)g.url << 32 | g.method, &is_new);
		if (!gi || m->g->oom || (is_new && VEC_PUSH(d->groups, g))) {
			rc = az_error(AZ_ENOMEM, "out of memory");
			goto out_free;
		}
		if (is_new)
			*gi = (uint32_t)(d->groups.n - 1);
		grp[pg->endpoint] = *gi;
		have[pg->endpoint] = true;
	}
	for (size_t i = 0; i < s->reqs.n; i++) {
		const struct http_req *q = &s->reqs.v[i];
		struct http_req c = *q;
		if (q->group >= s->eps.n || !have[q->group])
			continue; /* cannot happen: every endpoint has a group */
		c.group = grp[q->group];
		c.end_ts = mg_ts(m, q->end_ts);
		uint64_t start = q->wall_ticks ? mg_ts(m, q->end_ts - q->wall_ticks) : c.end_ts;
		c.wall_ticks = c.end_ts > start ? c.end_ts - start : 0;
		c.stack = mg_stack(m, q->stack);
		c.dur_ns = c.start_ns = c.end_ns = 0; /* agg_http_finish computes them */
		if (m->g->oom || VEC_PUSH(d->reqs, c)) {
			rc = az_error(AZ_ENOMEM, "out of memory (HTTP requests)");
			goto out_free;
		}
	}
	d->no_start += s->no_start;
	d->no_result += s->no_result;
	d->url_cut += s->url_cut;
	d->query_kept = d->query_kept || s->query_kept;
out_free:
	free(grp);
	free(have);
	return rc;
}

static int finish_http(struct report *m)
{
	return agg_http_finish(&m->http, &m->tr);
}

/* merge_locks() : the part's locks, each its own entry (a lock address means nothing in
 * another process: a fork child's copy of a mutex is another mutex), with their waiting
 * stacks translated; finish_locks() then totals and sorts them as agg_lock_finish() does
 * for one trace (values are already in ns: it runs with a clock of 1 ns per unit). */
static int merge_locks(const struct mg_map *m)
{
	struct agg_lock *d = &m->dst->locks;
	const struct agg_lock *s = &m->src->locks;
	size_t it = 0;
	uint64_t addr;
	void *v;
	while (hmap_next(&s->locks, &it, &addr, &v)) {
		const struct lock_ent *sl = *(struct lock_ent *const *)v;
		/* user addresses fit in 48 bits: the part index above them keeps keys apart */
		uint64_t key = (addr & ((1ull << 48) - 1)) | (uint64_t)m->part << 48;
		bool is_new;
		struct lock_ent *l = xmalloc(sizeof(*l));
		if (!l)
			return az_error(AZ_ENOMEM, "out of memory");
		*l = *sl;
		l->sorted = NULL; /* finish_locks() sorts */
		l->n_sorted = 0;
		l->first_wait_ts = mg_ts(m, sl->first_wait_ts);
		l->first_wait_stack = mg_stack(m, sl->first_wait_stack);
		l->first_acq_stack = mg_stack(m, sl->first_acq_stack);
		struct lock_ent **slot = hmap_put(&d->locks, key, &is_new);
		if (!slot || !is_new || hmap_init(&l->waiters, sizeof(struct lock_waiter), 4)) {
			if (slot && is_new)
				hmap_del(&d->locks, key);
			free(l);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		*slot = l; /* owned by d from here (agg_lock_free) */
		for (size_t j = 0; j < sl->n_sorted; j++) {
			struct lock_waiter w = sl->sorted[j];
			w.stack = mg_stack(m, w.stack);
			struct lock_waiter *dw = hmap_put(&l->waiters, w.stack, &is_new);
			if (!dw || m->g->oom)
				return az_error(AZ_ENOMEM, "out of memory");
			if (is_new) {
				*dw = w;
			} else { /* two stacks of the part that merged into one */
				dw->kinds |= w.kinds;
				dw->waits += w.waits;
				dw->wait_ns += w.wait_ns;
				dw->max_wait_ns = w.max_wait_ns > dw->max_wait_ns ? w.max_wait_ns
										  : dw->max_wait_ns;
			}
		}
	}
	for (size_t i = 0; i < s->waits_kept.n; i++) {
		struct lock_wait_ev ev = s->waits_kept.v[i];
		if (d->waits_kept.n >= LOCK_WAITS_KEPT) {
			d->waits_not_kept++;
			continue;
		}
		ev.end_ts = mg_ts(m, ev.end_ts);
		ev.stack = mg_stack(m, ev.stack);
		if (m->g->oom || VEC_PUSH(d->waits_kept, ev))
			return az_error(AZ_ENOMEM, "out of memory");
	}
	d->waits += s->waits;
	d->timeouts += s->timeouts;
	d->errors += s->errors;
	d->count_overflow += s->count_overflow;
	d->waits_not_kept += s->waits_not_kept;
	d->counting = d->counting || s->counting;
	return 0;
}

static int finish_locks(struct report *m)
{
	struct trace ns_clock;
	memset(&ns_clock, 0, sizeof(ns_clock));
	ns_clock.ns_per_tick = 1.0;
	bool counting = m->locks.counting;
	int rc = agg_lock_finish(&m->locks, &ns_clock);
	m->locks.counting = counting;
	return rc;
}

/* merge_sql() : the part's statements into the merged ones, keyed by (statement text,
 * database file) as agg_sql keys them: counts add up, clock-unit figures are converted to
 * the merged clock, latency sketches merge (so percentiles are over every execution of
 * every process), N+1 evidence keeps the strongest; finish_sql() then computes nanoseconds,
 * percentiles, order and findings once, as for one trace (and --explain runs on it). */
static int merge_sql(const struct mg_map *m)
{
	struct agg_sql *d = &m->dst->sql;
	const struct agg_sql *s = &m->src->sql;
	double dn = m->dst->tr.ns_per_tick > 0 ? m->dst->tr.ns_per_tick : 1;
	double scale = m->src->tr.ns_per_tick / dn;
	uint32_t *map = xcalloc(s->stmts.n ? s->stmts.n : 1, sizeof(*map));
	int rc = 0;
	if (!map)
		return az_error(AZ_ENOMEM, "out of memory");
#define SC(x)	  ((uint64_t)llround((double)(x)*scale))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
	/* pass 1: the merged statement of each of the part's */
	for (size_t i = 0; i < s->stmts.n; i++) {
		const struct sql_stmt *ps = &s->stmts.v[i];
		uint32_t sql = mg_string(m, ps->sql), db = mg_string(m, ps->db);
		bool is_new;
		uint32_t *ix = hmap_put(&d->index, (uint64_t)sql << 32 | db, &is_new);
		if (!ix || m->g->oom) {
			rc = az_error(AZ_ENOMEM, "out of memory");
			goto out_free;
		}
		if (is_new) {
			struct sql_stmt n = {.sql = sql, .db = db, .first_start = UINT64_MAX};
			if (VEC_PUSH(d->stmts, n)) {
				hmap_del(&d->index, (uint64_t)sql << 32 | db);
				rc = az_error(AZ_ENOMEM, "out of memory");
				goto out_free;
			}
			*ix = (uint32_t)d->stmts.n;
		}
		map[i] = *ix - 1;
	}
	/* pass 2: the figures */
	for (size_t i = 0; i < s->stmts.n; i++) {
		const struct sql_stmt *ps = &s->stmts.v[i];
		struct sql_stmt *t = &d->stmts.v[map[i]];
		if (qs_merge(&t->lat, &ps->lat, scale)) {
			rc = az_error(AZ_ENOMEM, "out of memory");
			goto out_free;
		}
		t->executions += ps->executions;
		t->rows += ps->rows;
		t->steps += ps->steps;
		t->total += SC(ps->total);
		t->busy += ps->busy;
		t->errors += ps->errors;
		t->lock_wait += SC(ps->lock_wait);
		t->lock_wait_execs += ps->lock_wait_execs;
		t->max_lock_wait = MAX(t->max_lock_wait, SC(ps->max_lock_wait));
		t->fullscan += ps->fullscan;
		t->sorts += ps->sorts;
		t->autoindex += ps->autoindex;
		t->vm_steps += ps->vm_steps;
		t->reprepares += ps->reprepares;
		t->counted += ps->counted;
		t->fullscan_execs += ps->fullscan_execs;
		t->via_exec += ps->via_exec;
		t->prepares += ps->prepares;
		t->prepare_errors += ps->prepare_errors;
		t->prepare_time += SC(ps->prepare_time);
		t->handles_max = MAX(t->handles_max, ps->handles_max);
		if (ps->first_start != UINT64_MAX && mg_ts(m, ps->first_start) < t->first_start) {
			t->first_start = mg_ts(m, ps->first_start);
			t->first_stack = mg_stack(m, ps->first_stack);
			t->first_tid = ps->first_tid;
		}
		if (ps->np_outer && ps->np_nested > t->np_nested) { /* the strongest evidence */
			t->np_outer = map[ps->np_outer - 1] + 1;
			t->np_nested = ps->np_nested;
			t->np_outer_execs = ps->np_outer_execs;
			t->np_outer_rows = ps->np_outer_rows;
			t->np_time = SC(ps->np_time);
			t->np_truncated = ps->np_truncated;
		}
		t->bursts += ps->bursts;
		t->burst_execs += ps->burst_execs;
		t->burst_time += SC(ps->burst_time);
		if (ps->burst_max > t->burst_max) {
			t->burst_max = ps->burst_max;
			t->burst_max_span = SC(ps->burst_max_span);
			t->burst_prev = ps->burst_prev ? map[ps->burst_prev - 1] + 1 : 0;
			t->burst_prev_rows = ps->burst_prev_rows;
			t->burst_first = mg_ts(m, ps->burst_first);
		}
	}
	/* the slowest executions of all processes, slowest first */
	for (unsigned i = 0; i < s->n_slow; i++) {
		struct sql_slow x = s->slow[i];
		x.time = SC(x.time);
		x.lock_wait = SC(x.lock_wait);
		x.start = mg_ts(m, x.start);
		x.stmt = map[x.stmt];
		unsigned at = d->n_slow;
		if (at == SQL_SLOWEST) {
			if (d->slow[at - 1].time >= x.time)
				continue; /* not slower than any kept */
			at--;
		} else {
			d->n_slow++;
		}
		for (; at > 0 && d->slow[at - 1].time < x.time; at--)
			d->slow[at] = d->slow[at - 1];
		d->slow[at] = x;
	}
	for (size_t i = 0; i < s->dbs.n; i++) {
		const struct sql_db *pd = &s->dbs.v[i];
		uint32_t db = mg_string(m, pd->db);
		struct sql_db *t = NULL;
		for (size_t k = 0; k < d->dbs.n && !t; k++)
			if (d->dbs.v[k].db == db)
				t = &d->dbs.v[k];
		if (!t) {
			struct sql_db n = {.db = db, .first = pd->first};
			if (VEC_PUSH(d->dbs, n)) {
				rc = az_error(AZ_ENOMEM, "out of memory");
				goto out_free;
			}
			t = &d->dbs.v[d->dbs.n - 1];
		}
		t->executions += pd->executions;
		if (pd->exit.seen)
			t->exit = pd->exit; /* parts come in start order: the last one's */
	}
	d->executions += s->executions;
	d->rows += s->rows;
	d->total += SC(s->total);
	d->prepares += s->prepares;
	d->prepare_time += SC(s->prepare_time);
	d->busy += s->busy;
	d->lock_wait += SC(s->lock_wait);
	d->internal_execs += s->internal_execs;
	d->internal_time += SC(s->internal_time);
	d->untracked += s->untracked;
	d->unwrapped += s->unwrapped;
	d->nest_cut += s->nest_cut;
	d->have_stats = d->have_stats || s->have_stats;
	d->any = d->any || s->any;
#undef SC
#undef MAX
out_free:
	free(map);
	return rc;
}

static int finish_sql(struct report *m)
{
	int rc = agg_sql_finish(&m->sql, &m->tr);
	return !rc && m->opt.explain ? xp_explain(m) : rc;
}

/* One line per section: merge folds one part in (called for each, in start order), finish
 * (may be NULL) completes the section once every part is in. */
static const struct {
	int (*merge)(const struct mg_map *m);
	int (*finish)(struct report *m);
} mergers[] = {
	{merge_alloc, NULL},
	{merge_http, finish_http},
	{merge_locks, finish_locks},
	{merge_sql, finish_sql},
	/* a new section adds its line here */
};

/* merge_series() : the merged live heap over time (struct alloc_series, agg_alloc.h), so
 * that rp_heap_series() and every format reading it work on a merged report: one grid from
 * the first process's first event to the last one's last, in the merged clock; each bucket
 * holds the sum over processes of their most live in it and of their live bytes and blocks
 * at its end (a process counts 0 before its first event and its final level after its
 * last). The largest bucket is therefore at most alloc.peak_bytes (the sum of the peaks). */
static int merge_series(struct report *m)
{
	struct merge *g = m->merge;
	struct alloc_series *d = &m->alloc.series;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	memset(d, 0, sizeof(*d));
	for (size_t k = 0; k < g->n_parts; k++) {
		const struct alloc_series *s = &g->parts[k]->alloc.series;
		struct mg_map map = {.g = g, .part = k, .dst = m, .src = g->parts[k]};
		if (!s->n || s->shift >= 63)
			continue;
		uint64_t a = mg_ts(&map, s->t0),
			 b = mg_ts(&map, s->t0 + ((uint64_t)s->n << s->shift));
		t0 = a < t0 ? a : t0;
		t1 = b > t1 ? b : t1;
	}
	if (t0 == UINT64_MAX)
		return 0;
	uint32_t shift = 0;
	while (shift < 62 && ((t1 - t0) >> shift) >= ALLOC_SERIES_MAX)
		shift++;
	uint32_t n = (uint32_t)((t1 - t0) >> shift) + 1;
	if (n > ALLOC_SERIES_MAX)
		n = ALLOC_SERIES_MAX;
	/* per process: the most live, events, and the level at the end of each merged bucket */
	uint64_t *mx = xcalloc(n, sizeof(*mx)), *eb = xcalloc(n, sizeof(*eb));
	uint64_t *ec = xcalloc(n, sizeof(*ec));
	bool *set = xcalloc(n, sizeof(*set));
	if (!mx || !eb || !ec || !set) {
		free(mx), free(eb), free(ec), free(set);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	for (size_t k = 0; k < g->n_parts; k++) {
		const struct alloc_series *s = &g->parts[k]->alloc.series;
		struct mg_map map = {.g = g, .part = k, .dst = m, .src = g->parts[k]};
		uint64_t bytes = 0, count = 0;
		if (!s->n || s->shift >= 63)
			continue;
		memset(mx, 0, n * sizeof(*mx));
		memset(set, 0, n * sizeof(*set));
		for (uint32_t j = 0; j < s->n; j++) {
			const struct alloc_bucket *b = &s->b[j];
			uint64_t a = mg_ts(&map, s->t0 + ((uint64_t)j << s->shift));
			uint64_t e = mg_ts(&map, s->t0 + ((uint64_t)(j + 1) << s->shift));
			uint64_t lo = (a > t0 ? a - t0 : 0) >> shift;
			uint64_t hi = (e > t0 + 1 ? e - 1 - t0 : 0) >> shift;
			lo = lo < n ? lo : n - 1;
			hi = hi < n ? (hi > lo ? hi : lo) : n - 1;
			if (b->events) {
				bytes = b->end_bytes;
				count = b->end_count;
			}
			uint64_t most = b->events ? b->max_bytes : bytes;
			for (uint64_t i = lo; i <= hi; i++) {
				if (most > mx[i])
					mx[i] = most;
				d->b[i].events += b->events;
			}
			eb[hi] = bytes; /* the level at the end of merged bucket hi, so far */
			ec[hi] = count;
			set[hi] = true;
		}
		uint64_t cb = 0, cc = 0, prev = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (set[i])
				cb = eb[i], cc = ec[i];
			uint64_t most = mx[i] > cb ? mx[i] : cb;
			most = most > prev ? most : prev; /* the level it began at */
			d->b[i].max_bytes += most;
			d->b[i].end_bytes += cb;
			d->b[i].end_count += cc;
			prev = cb;
		}
		d->level += cb;
	}
	free(mx), free(eb), free(ec), free(set);
	d->t0 = t0;
	d->shift = shift;
	d->n = n;
	return 0;
}

/* merge_trace() : the merged trace: header and clock of root, everyone's counts. */
static int merge_trace(struct report *m, size_t root)
{
	struct merge *g = m->merge;
	struct trace *d = &m->tr;
	const struct trace *r = &g->parts[root]->tr;
	int rc;
	if ((rc = tr_init(d, r->path)))
		return rc;
	d->have_header = true;
	d->hdr = r->hdr;
	d->hdr.command = xstrndup(r->hdr.command ? r->hdr.command : "",
				  r->hdr.command ? strlen(r->hdr.command) : 0);
	d->hdr.exe = xstrndup(r->hdr.exe ? r->hdr.exe : "", r->hdr.exe ? strlen(r->hdr.exe) : 0);
	if (!d->hdr.command || !d->hdr.exe)
		return az_error(AZ_ENOMEM, "out of memory");
	d->ns_per_tick = r->ns_per_tick;
	d->conv_ts0 = r->conv_ts0;
	d->conv_mono0 = r->conv_mono0;
	d->complete = true;
	d->first_ts = UINT64_MAX;
	struct mg_map map = {.g = g, .dst = m};
	for (size_t k = 0; k < g->n_parts; k++) {
		const struct trace *t = &g->parts[k]->tr;
		map.part = k;
		map.src = g->parts[k];
		d->hdr.hooks |= t->hdr.hooks;
		if (t->hdr.stack_depth > d->hdr.stack_depth)
			d->hdr.stack_depth = t->hdr.stack_depth;
		d->complete = d->complete && t->complete;
		d->truncated = d->truncated || t->truncated;
		uint64_t end = mg_ts(&map, t->complete ? t->end_ts : t->last_ts);
		if (end > d->end_ts)
			d->end_ts = end;
		if (end > d->last_ts)
			d->last_ts = end;
		if (t->first_ts != UINT64_MAX && mg_ts(&map, t->first_ts) < d->first_ts)
			d->first_ts = mg_ts(&map, t->first_ts);
		d->chunks += t->chunks;
		d->missing_chunks += t->missing_chunks;
		d->events += t->events;
		d->file_bytes += t->file_bytes;
		struct dec_counters *c = &d->counters;
		const struct dec_counters *s = &t->counters;
		c->dropped_events += s->dropped_events;
		c->missed_events += s->missed_events;
		c->stack_overflow += s->stack_overflow;
		c->truncated_stacks += s->truncated_stacks;
		c->bytes_written += s->bytes_written;
		c->raw_bytes += s->raw_bytes;
		c->lost_bytes += s->lost_bytes;
		c->pool_bytes += s->pool_bytes;
		c->wait_ns += s->wait_ns;
		c->events += s->events;
		d->have_counters = d->have_counters || t->have_counters;
		size_t it = 0;
		uint64_t tid;
		void *v;
		while (hmap_next(&t->threads, &it, &tid, &v)) {
			const struct tr_thread *st = v;
			bool is_new;
			struct tr_thread *dt = hmap_put(&d->threads, tid, &is_new);
			if (!dt)
				return az_error(AZ_ENOMEM, "out of memory");
			if (is_new) {
				*dt = *st;
				dt->first_ts = mg_ts(&map, st->first_ts);
				dt->last_ts = mg_ts(&map, st->last_ts);
				dt->name = st->name ? xstrndup(st->name, strlen(st->name)) : NULL;
			}
		}
	}
	return 0;
}

int az_load_many(struct report *m, const char *const *paths, size_t n, const struct az_options *opt)
{
	struct merge *g;
	int rc;
	memset(m, 0, sizeof(*m));
	m->opt = *opt;
	if (!(g = xcalloc(1, sizeof(*g))) || !(g->parts = xcalloc(n, sizeof(*g->parts))) ||
	    !(g->sym_seen = xcalloc(n, sizeof(*g->sym_seen)))) {
		if (g)
			free(g->parts);
		free(g);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	m->merge = g;
	if ((rc = strmap_init(&g->stacks)) || (rc = strmap_init(&g->strings)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		g->n_parts = i + 1;
		if (!(g->parts[i] = xcalloc(1, sizeof(struct report))))
			return az_error(AZ_ENOMEM, "out of memory");
		if ((rc = az_load(g->parts[i], paths[i], opt)))
			return rc;
	}
	/* parts in the order their processes started; the first is the merged clock's */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && g->parts[j]->tr.hdr.start_mono_ns <
						    g->parts[j - 1]->tr.hdr.start_mono_ns;
		     j--) {
			struct report *t = g->parts[j];
			g->parts[j] = g->parts[j - 1];
			g->parts[j - 1] = t;
		}
	if ((rc = merge_trace(m, 0)) || (rc = ord_init(&m->ord)) ||
	    (rc = agg_alloc_init(&m->alloc)) || (rc = agg_http_init(&m->http)) ||
	    (rc = agg_lock_init(&m->locks)) || (rc = agg_sql_init(&m->sql)) ||
	    (rc = hmap_init(&m->stacks, sizeof(struct rp_stack *), 16)))
		return rc;
	if (!(m->sym = sym_create()))
		return az_error(AZ_ENOMEM, "out of memory");
	for (size_t k = 0; k < n; k++) {
		struct mg_map map = {.g = g, .part = k, .dst = m, .src = g->parts[k]};
		m->ord.late += g->parts[k]->ord.late;
		for (size_t i = 0; i < g->parts[k]->warnings.n; i++)
			rp_warn(m, "%s", g->parts[k]->warnings.v[i]);
		for (size_t i = 0; i < sizeof(mergers) / sizeof(mergers[0]); i++)
			if ((rc = mergers[i].merge(&map)))
				return rc;
	}
	for (size_t i = 0; i < sizeof(mergers) / sizeof(mergers[0]); i++)
		if (mergers[i].finish && (rc = mergers[i].finish(m)))
			return rc;
	/* peak_ns: when the largest of the processes' peaks happened */
	size_t big = 0;
	for (size_t k = 1; k < n; k++)
		if (g->parts[k]->alloc.peak_bytes > g->parts[big]->alloc.peak_bytes)
			big = k;
	struct mg_map bm = {.g = g, .part = big, .dst = m, .src = g->parts[big]};
	m->alloc.peak_ts = mg_ts(&bm, g->parts[big]->alloc.peak_ts);
	return merge_series(m);
}

/* ---- output shared by the formats ---------------------------------------------------------- */

/* heap_timeline() : a process's alloc.heap_timeline as fmt_json.c writes the report's, with
 * times counted from the start of the merged report (offset_ns later than the process's). */
static void heap_timeline(struct jw *w, struct report *p, uint64_t offset_ns)
{
	struct rp_heap_point *pt;
	uint64_t interval_ns;
	size_t n = rp_heap_series(p, &pt, &interval_ns);
	jw_obj(w, "heap_timeline");
	jw_u64(w, "interval_ns", interval_ns);
	jw_arr(w, "points");
	for (size_t i = 0; i < n; i++) {
		bool pretty = w->pretty;
		jw_obj(w, NULL);
		w->pretty = false;
		jw_u64(w, "t_ns", offset_ns + pt[i].t_ns);
		jw_u64(w, "bytes", pt[i].bytes);
		jw_u64(w, "blocks", pt[i].blocks);
		jw_u64(w, "max_bytes", pt[i].max_bytes);
		jw_bool(w, "changed", pt[i].changed);
		jw_obj_end(w);
		w->pretty = pretty;
	}
	jw_arr_end(w);
	jw_obj_end(w);
	free(pt);
}

void rp_json_processes(struct jw *w, struct report *r)
{
	size_t n = mg_count(r);
	jw_arr(w, "processes");
	for (size_t k = 0; k < n; k++) {
		struct report *p = mg_part(r, k);
		const struct trace *t = &p->tr;
		struct mg_map map = {.g = r->merge, .part = k, .dst = r, .src = p};
		uint64_t start = r->merge ? tr_ns(&r->tr, mg_ts(&map, t->hdr.start_ts)) : 0;
		jw_obj(w, NULL);
		jw_u64(w, "pid", t->hdr.pid);
		jw_u64(w, "ppid", t->hdr.ppid);
		jw_str(w, "command", t->hdr.command);
		jw_str(w, "executable", t->hdr.exe);
		jw_str(w, "trace", t->path);
		jw_bool(w, "fork_child", (t->hdr.flags & ITF_HDR_FORK_CHILD) != 0);
		jw_str(w, "exec", t->exec_path);
		jw_bool(w, "complete", t->complete && !t->truncated);
		jw_u64(w, "start_ns", start);
		jw_u64(w, "duration_ns", tr_duration_ns(t));
		jw_u64(w, "threads", t->threads.n);
		jw_u64(w, "events", t->events);
		jw_u64(w, "dropped_events", t->counters.dropped_events);
		jw_obj(w, "alloc");
		jw_u64(w, "allocations", p->alloc.allocations);
		jw_u64(w, "frees", p->alloc.frees);
		jw_u64(w, "bytes_allocated", p->alloc.bytes_allocated);
		jw_u64(w, "peak_bytes", p->alloc.peak_bytes);
		jw_u64(w, "peak_ns", p->alloc.peak_bytes ? start + tr_ns(t, p->alloc.peak_ts) : 0);
		heap_timeline(w, p, start);
		jw_obj_end(w);
		jw_obj(w, "leaks");
		jw_u64(w, "bytes", p->alloc.live_bytes);
		jw_u64(w, "allocations", p->alloc.live_count);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void rp_text_processes(FILE *o, struct report *r)
{
	size_t n = mg_count(r);
	char b1[32], b2[32], b3[32];
	if (n < 2)
		return;
	fprintf(o, "  merged from %zu processes (per process: --format json, \"processes\"):\n", n);
	for (size_t k = 0; k < n; k++) {
		const struct report *p = mg_part(r, k);
		const struct trace *t = &p->tr;
		fprintf(o, "    pid %-7u %s%s: %s allocations, %s peak, %s leaked%s\n", t->hdr.pid,
			t->hdr.flags & ITF_HDR_FORK_CHILD ? "(fork child) " : "",
			t->hdr.command ? t->hdr.command : "?",
			fmt_count(b1, sizeof(b1), p->alloc.allocations),
			fmt_bytes(b2, sizeof(b2), (double)p->alloc.peak_bytes),
			fmt_bytes(b3, sizeof(b3), (double)p->alloc.live_bytes),
			t->complete && !t->truncated ? "" : " (INCOMPLETE)");
	}
}
