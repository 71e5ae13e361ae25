/* analysis.c - owns the pipeline from a trace file to a filled struct report: reader ->
 * decoder -> metadata (trace.c) and events -> order.c (dispatch) -> aggregators. Adding
 * an aggregator for a new hook means one ord_add_consumer() call here and its results in
 * struct report. Main thread only. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "intercept/trace_format.h"
#include "reader.h"
#include "report.h"

struct pipe {
	struct report *r;
	struct dec_sink meta; /* trace.c's callbacks */
};


static int on_event(void *ctx, const struct dec_event *e)
{
	struct pipe *p = ctx;
	RETURN_ERR_IF(!p->r->tr.have_header, AZ_ECORRUPT, "%s: events before the header record",
		      p->r->tr.path);
	tr_note_event(&p->r->tr, e->tid, e->ts);
	return ord_event(&p->r->ord, e);
}

#define FORWARD(name, params, args)                                                                \
	static int fwd_##name params                                                               \
	{                                                                                          \
		struct pipe *p = ctx;                                                              \
		return p->meta.name args;                                                          \
	}
FORWARD(chunk, (void *ctx, uint64_t seq, uint64_t emit_ts), (&p->r->tr, seq, emit_ts))
FORWARD(header, (void *ctx, const struct dec_header *h), (&p->r->tr, h))
FORWARD(clock_sync, (void *ctx, uint64_t ts, uint64_t mono), (&p->r->tr, ts, mono))
FORWARD(module_load, (void *ctx, const struct dec_module *m), (&p->r->tr, m))
FORWARD(module_unload, (void *ctx, uint32_t id, uint64_t ts), (&p->r->tr, id, ts))
FORWARD(stack_def, (void *ctx, uint32_t id, uint32_t gen, const uint64_t *f, uint32_t n),
	(&p->r->tr, id, gen, f, n))
FORWARD(string_def, (void *ctx, uint32_t id, uint32_t kind, const char *s, size_t len),
	(&p->r->tr, id, kind, s, len))
FORWARD(thread, (void *ctx, uint32_t tid, uint32_t st, uint64_t ts, const char *n, size_t len),
	(&p->r->tr, tid, st, ts, n, len))
FORWARD(counters, (void *ctx, const struct dec_counters *c), (&p->r->tr, c))
FORWARD(end, (void *ctx, uint64_t ts, uint32_t reason), (&p->r->tr, ts, reason))
FORWARD(exec, (void *ctx, uint64_t ts, const char *path, size_t len), (&p->r->tr, ts, path, len))

/* http_warnings() : what the HTTP figures cannot show by themselves. */
static void http_warnings(struct report *r)
{
	const struct agg_http *h = &r->http;
	if (h->no_start)
		rp_warn(r, "%llu HTTP transfers were already in flight when recording began (or "
			   "the in-flight table was full): their time is libcurl's alone",
			(unsigned long long)h->no_start);
	if (h->no_result)
		rp_warn(r, "%llu HTTP transfers were removed before the program read their result "
			   "(curl_multi_info_read): counted as failed when they got no response",
			(unsigned long long)h->no_result);
	if (h->url_cut)
		rp_warn(r, "%llu HTTP URLs were longer than the 1 KiB the recorder keeps and were cut",
			(unsigned long long)h->url_cut);
}

/* META records the foundation does not know: each hook's own, by type. */
static int on_meta_other(void *ctx, uint8_t type, const uint8_t *payload, size_t len)
{
	struct pipe *p = ctx;
	if (type == ITF_META_LOCK_COUNTS)
		return agg_lock_counts(&p->r->locks, payload, len);
	if (type >= 0x50 && type <= 0x5f) /* heap snapshots (docs/endurance.md) */
		return agg_growth_meta(&p->r->growth, type, payload, len);
	return 0;
}

int az_load(struct report *r, const char *path, const struct az_options *opt)
{
	struct rd rd;
	struct pipe p = {.r = r};
	int rc;
	memset(r, 0, sizeof(*r));
	r->opt = *opt;
	r->growth.tr = &r->tr;
	r->growth.alloc = &r->alloc;
	r->growth.between = opt->between;
	r->growth.t1_ns = opt->between_t1_ns;
	r->growth.t2_ns = opt->between_t2_ns;
	if ((rc = tr_init(&r->tr, path)) || (rc = ord_init(&r->ord)) ||
	    (rc = agg_alloc_init(&r->alloc)) || (rc = agg_lock_init(&r->locks)) ||
	    (rc = agg_sql_init(&r->sql)) || (rc = agg_growth_init(&r->growth)) ||
	    (rc = hmap_init(&r->stacks, sizeof(struct rp_stack *), 256)))
		return rc;
	if (!(r->sym = sym_create()))
		return az_error(AZ_ENOMEM, "out of memory");
	/* growth samples agg_alloc's state before each event: it comes first */
	if ((rc = ord_add_consumer(&r->ord, &r->growth, agg_growth_event)) ||
	    (rc = ord_add_consumer(&r->ord, &r->alloc, agg_alloc_event)) ||
	    (rc = ord_add_consumer(&r->ord, &r->locks, agg_lock_event)) ||
	    (rc = ord_add_consumer(&r->ord, &r->sql, agg_sql_event)))
		return rc;
	if ((rc = agg_http_init(&r->http)) ||
	    (rc = ord_add_consumer(&r->ord, &r->http, agg_http_event)))
		return rc;
	tr_meta_sink(&r->tr, &p.meta);
	struct dec_sink sink = {
		.ctx = &p,
		.chunk = fwd_chunk,
		.header = fwd_header,
		.clock_sync = fwd_clock_sync,
		.module_load = fwd_module_load,
		.module_unload = fwd_module_unload,
		.stack_def = fwd_stack_def,
		.string_def = fwd_string_def,
		.thread = fwd_thread,
		.counters = fwd_counters,
		.end = fwd_end,
		.exec = fwd_exec,
		.meta_other = on_meta_other,
		.event = on_event,
	};
	if ((rc = rd_open(&rd, path)))
		return rc;
	const uint8_t *chunk;
	size_t len;
	while ((rc = rd_next(&rd, &chunk, &len)) == 1) {
		if ((rc = dec_chunk(chunk, len, &sink)))
			goto out_close;
	}
	if (rc < 0)
		goto out_close;
	r->tr.truncated = rd.truncated;
	r->tr.file_bytes = rd.file_off + rd.len;
	if (!r->tr.have_header) {
		rc = az_error(AZ_ECORRUPT, "%s: no header record (the process died before its "
					   "first flush, or this is not a whole trace)",
			      path);
		goto out_close;
	}
	if ((rc = agg_alloc_finish(&r->alloc)))
		goto out_close;
	tr_finish(&r->tr);
	tr_finish_clock(&r->tr);
	if ((rc = agg_http_finish(&r->http, &r->tr)))
		goto out_close;
	http_warnings(r);
	if ((rc = agg_lock_finish(&r->locks, &r->tr)))
		goto out_close;
	if ((rc = agg_sql_finish(&r->sql, &r->tr)))
		goto out_close;
	if (r->opt.explain && (rc = xp_explain(r)))
		goto out_close;
	if ((rc = agg_growth_finish(&r->growth, &r->tr)))
		goto out_close;
	if (agg_growth_rules(&r->growth, &r->tr) &&
	    (rc = agg_growth_apply(&r->growth, &r->alloc, &r->tr)))
		goto out_close;
	if (r->tr.hdr.malloc_mode == ITF_MALLOC_SUMMARY && r->tr.counters.events > r->tr.events)
		r->tr.events = r->tr.counters.events; /* recorded, applied, not written */
	rc = 0;
out_close:
	rd_close(&rd);
	return rc;
}
