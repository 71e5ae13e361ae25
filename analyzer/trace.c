/* trace.c - owns the per-trace metadata tables and the clock conversion. Fed by decode.c's
 * META callbacks on the main thread. Bounds on ids keep a corrupt trace from making it
 * allocate without limit. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "trace.h"

#define TR_MAX_STACK_ID (1u << 26)
#define TR_MAX_STRING_ID (1u << 24)
#define TR_MAX_MODULES (1u << 16)
#define TR_MAX_THREADS (1u << 20)

int tr_init(struct trace *t, const char *path)
{
	memset(t, 0, sizeof(*t));
	t->path = xstrndup(path, strlen(path));
	if (!t->path || hmap_init(&t->threads, sizeof(struct tr_thread), 64))
		return az_error(AZ_ENOMEM, "out of memory");
	t->first_ts = UINT64_MAX;
	return 0;
}

void tr_free(struct trace *t)
{
	free(t->path);
	free(t->hdr.command);
	free(t->hdr.exe);
	free(t->exec_path);
	for (size_t i = 0; i < t->modules.n; i++)
		free(t->modules.v[i].path);
	VEC_FREE(t->modules);
	for (size_t i = 0; i < t->stacks.n; i++)
		free(t->stacks.v[i].frames);
	VEC_FREE(t->stacks);
	for (size_t i = 0; i < t->strings.n; i++)
		free(t->strings.v[i]);
	VEC_FREE(t->strings);
	VEC_FREE(t->string_kinds);
	VEC_FREE(t->syncs);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&t->threads, &it, &k, &v))
		free(((struct tr_thread *)v)->name);
	hmap_free(&t->threads);
	memset(t, 0, sizeof(*t));
}

static void seen_ts(struct trace *t, uint64_t ts)
{
	if (ts < t->first_ts)
		t->first_ts = ts;
	if (ts > t->last_ts)
		t->last_ts = ts;
}

static int cb_chunk(void *ctx, uint64_t seq, uint64_t emit_ts)
{
	struct trace *t = ctx;
	if (seq > t->next_seq)
		t->missing_chunks += seq - t->next_seq;
	t->next_seq = seq + 1;
	t->chunks++;
	(void)emit_ts;
	return 0;
}

static int cb_header(void *ctx, const struct dec_header *h)
{
	struct trace *t = ctx;
	RETURN_ERR_IF(t->have_header, AZ_ECORRUPT, "%s: two header records", t->path);
	t->have_header = true;
	t->hdr.pid = h->pid;
	t->hdr.ppid = h->ppid;
	t->hdr.clock = h->clock;
	t->hdr.ts_shift = h->ts_shift;
	t->hdr.clock_hz = h->clock_hz;
	t->hdr.start_ts = h->start_ts;
	t->hdr.start_mono_ns = h->start_mono_ns;
	t->hdr.start_realtime_ns = h->start_realtime_ns;
	t->hdr.hooks = h->hooks;
	t->hdr.malloc_mode = h->malloc_mode;
	t->hdr.stack_depth = h->stack_depth;
	t->hdr.flags = h->flags;
	t->hdr.sample_bytes = h->sample_bytes;
	t->hdr.command = xstrndup(h->command, h->command_len);
	t->hdr.exe = xstrndup(h->exe, h->exe_len);
	if (!t->hdr.command || !t->hdr.exe)
		return az_error(AZ_ENOMEM, "out of memory");
	seen_ts(t, h->start_ts);
	return 0;
}

static int cb_clock_sync(void *ctx, uint64_t ts, uint64_t mono)
{
	struct trace *t = ctx;
	if (t->syncs.n >= 1u << 20)
		return 0; /* a day at 10 per second; more adds nothing to the fit */
	seen_ts(t, ts);
	struct tr_sync s = {ts, mono};
	return VEC_PUSH(t->syncs, s) ? az_error(AZ_ENOMEM, "out of memory") : 0;
}

static int cb_module_load(void *ctx, const struct dec_module *m)
{
	struct trace *t = ctx;
	RETURN_ERR_IF(m->id > TR_MAX_MODULES, AZ_ECORRUPT, "%s: module id %u", t->path, m->id);
	if (vec_grow((void **)&t->modules.v, &t->modules.cap, m->id, sizeof(*t->modules.v)))
		return az_error(AZ_ENOMEM, "out of memory");
	while (t->modules.n < m->id) {
		memset(&t->modules.v[t->modules.n], 0, sizeof(t->modules.v[0]));
		t->modules.n++;
	}
	struct tr_module *d = &t->modules.v[m->id - 1];
	RETURN_ERR_IF(d->id, AZ_ECORRUPT, "%s: module %u defined twice", t->path, m->id);
	d->id = m->id;
	d->gen_from = t->cur_gen;
	d->gen_to = UINT32_MAX;
	d->bias = m->bias;
	d->lo = m->lo;
	d->hi = m->hi;
	d->load_ts = m->ts;
	d->build_id_len = m->build_id_len <= sizeof(d->build_id) ? m->build_id_len : 0;
	memcpy(d->build_id, m->build_id, d->build_id_len);
	d->path = xstrndup(m->path, m->path_len);
	return d->path ? 0 : az_error(AZ_ENOMEM, "out of memory");
}

static int cb_module_unload(void *ctx, uint32_t id, uint64_t ts)
{
	struct trace *t = ctx;
	RETURN_ERR_IF(id == 0 || id > t->modules.n || !t->modules.v[id - 1].id, AZ_ECORRUPT,
		      "%s: unload of unknown module %u", t->path, id);
	struct tr_module *m = &t->modules.v[id - 1];
	m->unload_ts = ts;
	m->gen_to = ++t->cur_gen;
	return 0;
}

static int cb_stack_def(void *ctx, uint32_t id, uint32_t gen, const uint64_t *frames, uint32_t n)
{
	struct trace *t = ctx;
	RETURN_ERR_IF(id >= TR_MAX_STACK_ID, AZ_ECORRUPT, "%s: stack id %u", t->path, id);
	if (vec_grow((void **)&t->stacks.v, &t->stacks.cap, (size_t)id + 1, sizeof(*t->stacks.v)))
		return az_error(AZ_ENOMEM, "out of memory");
	while (t->stacks.n <= id) {
		memset(&t->stacks.v[t->stacks.n], 0, sizeof(t->stacks.v[0]));
		t->stacks.n++;
	}
	struct tr_stack *s = &t->stacks.v[id];
	if (s->frames)
		return 0; /* a fork child re-emits definitions; identical by construction */
	s->gen = gen;
	s->n = n;
	s->frames = xmalloc((n ? n : 1) * sizeof(uint64_t));
	if (!s->frames)
		return az_error(AZ_ENOMEM, "out of memory");
	memcpy(s->frames, frames, n * sizeof(uint64_t));
	return 0;
}

static int cb_string_def(void *ctx, uint32_t id, uint32_t kind, const char *str, size_t len)
{
	struct trace *t = ctx;
	RETURN_ERR_IF(id >= TR_MAX_STRING_ID, AZ_ECORRUPT, "%s: string id %u", t->path, id);
	if (vec_grow((void **)&t->strings.v, &t->strings.cap, (size_t)id + 1,
		     sizeof(*t->strings.v)) ||
	    vec_grow((void **)&t->string_kinds.v, &t->string_kinds.cap, (size_t)id + 1,
		     sizeof(*t->string_kinds.v)))
		return az_error(AZ_ENOMEM, "out of memory");
	while (t->strings.n <= id) {
		t->strings.v[t->strings.n++] = NULL;
		t->string_kinds.v[t->string_kinds.n++] = 0;
	}
	if (t->strings.v[id])
		return 0;
	t->strings.v[id] = xstrndup(str, len);
	t->string_kinds.v[id] = kind;
	return t->strings.v[id] ? 0 : az_error(AZ_ENOMEM, "out of memory");
}

static struct tr_thread *thread_get(struct trace *t, uint32_t tid)
{
	bool is_new;
	if (t->threads.n >= TR_MAX_THREADS && !hmap_get(&t->threads, tid))
		return NULL;
	struct tr_thread *th = hmap_put(&t->threads, tid, &is_new);
	if (th && is_new) {
		th->tid = tid;
		th->first_ts = UINT64_MAX;
	}
	return th;
}

static int cb_thread(void *ctx, uint32_t tid, uint32_t state, uint64_t ts, const char *name,
		     size_t len)
{
	struct trace *t = ctx;
	struct tr_thread *th = thread_get(t, tid);
	if (!th)
		return az_error(AZ_ENOMEM, "out of memory (threads)");
	if (state == 1 && len && !th->name)
		th->name = xstrndup(name, len < 64 ? len : 64);
	if (state == 2)
		th->exited = true;
	(void)ts;
	return 0;
}

static int cb_counters(void *ctx, const struct dec_counters *c)
{
	struct trace *t = ctx;
	t->counters = *c;
	t->have_counters = true;
	return 0;
}

static int cb_end(void *ctx, uint64_t ts, uint32_t reason)
{
	struct trace *t = ctx;
	t->complete = true;
	t->end_ts = ts;
	seen_ts(t, ts);
	(void)reason;
	return 0;
}

static int cb_exec(void *ctx, uint64_t ts, const char *path, size_t len)
{
	struct trace *t = ctx;
	free(t->exec_path);
	t->exec_path = xstrndup(path, len);
	t->exec_last = true;
	t->end_ts = ts;
	seen_ts(t, ts);
	return t->exec_path ? 0 : az_error(AZ_ENOMEM, "out of memory");
}

void tr_meta_sink(struct trace *t, struct dec_sink *s)
{
	memset(s, 0, sizeof(*s));
	s->ctx = t;
	s->chunk = cb_chunk;
	s->header = cb_header;
	s->clock_sync = cb_clock_sync;
	s->module_load = cb_module_load;
	s->module_unload = cb_module_unload;
	s->stack_def = cb_stack_def;
	s->string_def = cb_string_def;
	s->thread = cb_thread;
	s->counters = cb_counters;
	s->end = cb_end;
	s->exec = cb_exec;
}

void tr_note_event(struct trace *t, uint32_t tid, uint64_t ts)
{
	t->events++;
	t->exec_last = false; /* the exec failed: the process went on */
	seen_ts(t, ts);
	struct tr_thread *th = thread_get(t, tid);
	if (th) {
		th->events++;
		if (ts < th->first_ts)
			th->first_ts = ts;
		if (ts > th->last_ts)
			th->last_ts = ts;
	}
}

void tr_finish_clock(struct trace *t)
{
	double hz = t->have_header ? t->hdr.clock_hz : 1e9;
	t->ns_per_tick = 1e9 / hz;
	t->conv_ts0 = t->have_header ? t->hdr.start_ts : 0;
	t->conv_mono0 = t->have_header ? t->hdr.start_mono_ns : 0;
	if (t->hdr.clock == ITF_CLOCK_MONOTONIC) {
		t->ns_per_tick = 1.0;
		return;
	}
	size_t n = t->syncs.n;
	if (n >= 2) {
		/* least squares of mono on ts, centred for precision */
		double mt = 0, mm = 0;
		for (size_t i = 0; i < n; i++) {
			mt += (double)(t->syncs.v[i].ts - t->syncs.v[0].ts);
			mm += (double)(t->syncs.v[i].mono - t->syncs.v[0].mono);
		}
		mt /= (double)n;
		mm /= (double)n;
		double sxy = 0, sxx = 0;
		for (size_t i = 0; i < n; i++) {
			double x = (double)(t->syncs.v[i].ts - t->syncs.v[0].ts) - mt;
			double y = (double)(t->syncs.v[i].mono - t->syncs.v[0].mono) - mm;
			sxy += x * y;
			sxx += x * x;
		}
		double span = (double)(t->syncs.v[n - 1].mono - t->syncs.v[0].mono);
		if (sxx > 0 && span >= 1e6) {
			double slope = sxy / sxx;
			if (slope > 1e-4 && slope < 1e4) {
				t->ns_per_tick = slope;
				t->conv_ts0 = t->syncs.v[0].ts + (uint64_t)mt;
				t->conv_mono0 = t->syncs.v[0].mono + (uint64_t)mm;
			}
		}
	}
}

uint64_t tr_ns(const struct trace *t, uint64_t ts)
{
	double mono = (double)t->conv_mono0 + ((double)ts - (double)t->conv_ts0) * t->ns_per_tick;
	double ns = mono - (double)t->hdr.start_mono_ns;
	return ns > 0 ? (uint64_t)llround(ns) : 0;
}

uint64_t tr_ticks(const struct trace *t, uint64_t ns)
{
	double npt = t->ns_per_tick > 0 ? t->ns_per_tick : (t->hdr.clock_hz > 0 ? 1e9 / t->hdr.clock_hz : 1);
	return (uint64_t)((double)ns / npt);
}

const struct tr_module *tr_module_for(const struct trace *t, uint64_t addr, uint32_t gen)
{
	const struct tr_module *fallback = NULL;
	for (size_t i = 0; i < t->modules.n; i++) {
		const struct tr_module *m = &t->modules.v[i];
		if (!m->id || addr < m->lo || addr >= m->hi)
			continue;
		if (gen >= m->gen_from && gen < m->gen_to)
			return m;
		fallback = m;
	}
	return fallback;
}

const struct tr_stack *tr_stack_get(const struct trace *t, uint32_t id)
{
	if (id == 0 || id >= t->stacks.n || !t->stacks.v[id].frames)
		return NULL;
	return &t->stacks.v[id];
}

const char *tr_string(const struct trace *t, uint32_t id)
{
	return id < t->strings.n ? t->strings.v[id] : NULL;
}

void tr_finish(struct trace *t)
{
	if (t->exec_last && !t->complete)
		t->complete = true;
	if (!t->exec_last) {
		free(t->exec_path);
		t->exec_path = NULL;
	}
}

uint64_t tr_duration_ns(const struct trace *t)
{
	uint64_t end = t->complete ? t->end_ts : t->last_ts;
	if (!t->have_header || end < t->hdr.start_ts)
		return 0;
	return tr_ns(t, end);
}
