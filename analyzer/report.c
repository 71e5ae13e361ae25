/* report.c - owns what every output format shares: symbolized stacks (each stack id built
 * once: modules by generation from trace.c, frames from symbolize.c, inline expansion),
 * sorted site lists, the --top rule, frame labels and warnings. Main thread only. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "merge.h"
#include "report.h"

#define TEXT_TOP_DEFAULT 10

void rp_warn(struct report *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < r->warnings.n; i++)
		if (!strcmp(r->warnings.v[i], buf))
			return;
	char *s = xstrndup(buf, strlen(buf));
	if (s && VEC_PUSH(r->warnings, s))
		free(s);
}

void rp_free(struct report *r)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	mg_free(r);
	while (hmap_next(&r->stacks, &it, &k, &v)) {
		struct rp_stack *s = *(struct rp_stack **)v;
		free(s->frames);
		free(s);
	}
	hmap_free(&r->stacks);
	for (size_t i = 0; i < r->warnings.n; i++)
		free(r->warnings.v[i]);
	VEC_FREE(r->warnings);
	sym_destroy(r->sym);
	agg_alloc_free(&r->alloc);
	agg_http_free(&r->http);
	agg_lock_free(&r->locks);
	xp_free(r);
	agg_sql_free(&r->sql);
	agg_growth_free(&r->growth);
	ord_free(&r->ord);
	tr_free(&r->tr);
	memset(r, 0, sizeof(*r));
}

/* ensure_module() : tell the symbolizer about module m once (its id is the trace's). */
static void ensure_module(struct report *r, const struct tr_module *m)
{
	static const char *const pseudo[] = {"linux-vdso.so.1", "linux-gate.so.1", "[vdso]"};
	/* sym_add_module() refuses a second registration of the same id: that is fine */
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
		if (!strcmp(m->path, pseudo[i]))
			return;
	sym_add_module(r->sym, m->id, m->path, m->bias, m->lo, m->hi, m->build_id,
		       m->build_id_len);
}

static const struct rp_stack empty_stack = {0, NULL};

const struct rp_stack *rp_stack(struct report *r, uint32_t stack_id)
{
	if (r->merge)
		return mg_rp_stack(r, stack_id);
	struct rp_stack **cached = hmap_get(&r->stacks, stack_id);
	if (cached)
		return *cached;
	const struct tr_stack *ts = tr_stack_get(&r->tr, stack_id);
	if (!ts)
		return &empty_stack;
	struct rp_stack *s = xcalloc(1, sizeof(*s));
	size_t cap = ts->n + 4;
	if (!s || !(s->frames = xcalloc(cap, sizeof(struct rp_frame)))) {
		free(s);
		return &empty_stack;
	}
	for (uint32_t i = 0; i < ts->n; i++) {
		uint64_t addr = ts->frames[i];
		const struct tr_module *m = tr_module_for(&r->tr, addr, ts->gen);
		const struct sym_frame *sf = NULL;
		size_t nf = 0;
		if (m && !r->opt.no_symbols) {
			ensure_module(r, m);
			nf = sym_lookup(r->sym, m->id, addr, &sf);
		}
		if (nf == 0)
			nf = 1; /* one frame with module and address only */
		if (s->n + nf > cap) {
			size_t ncap = (s->n + nf) * 2;
			struct rp_frame *nfr = xrealloc(s->frames, ncap * sizeof(*nfr));
			if (!nfr)
				break;
			s->frames = nfr;
			cap = ncap;
		}
		for (size_t j = 0; j < nf; j++) {
			struct rp_frame *f = &s->frames[s->n++];
			memset(f, 0, sizeof(*f));
			f->module = m ? m->path : NULL;
			f->address = m ? addr - m->bias : addr;
			if (sf) {
				f->function = sf[j].function;
				f->file = sf[j].file;
				f->line = sf[j].line;
				f->inlined = sf[j].inlined;
			}
		}
	}
	struct rp_stack **slot = hmap_put(&r->stacks, stack_id, NULL);
	if (!slot) {
		free(s->frames);
		free(s);
		return &empty_stack;
	}
	*slot = s;
	return s;
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;
}

static int by_bytes(const void *x, const void *y)
{
	const struct rp_site *a = x, *b = y;
	int c = cmp_u64_desc(a->s->bytes, b->s->bytes);
	if (!c)
		c = cmp_u64_desc(a->s->allocations, b->s->allocations);
	return c ? c : (a->stack < b->stack ? -1 : a->stack > b->stack);
}

static int by_count(const void *x, const void *y)
{
	const struct rp_site *a = x, *b = y;
	int c = cmp_u64_desc(a->s->allocations, b->s->allocations);
	if (!c)
		c = cmp_u64_desc(a->s->bytes, b->s->bytes);
	return c ? c : (a->stack < b->stack ? -1 : a->stack > b->stack);
}

static int by_leaked(const void *x, const void *y)
{
	const struct rp_site *a = x, *b = y;
	int c = cmp_u64_desc(a->s->live_bytes, b->s->live_bytes);
	if (!c)
		c = cmp_u64_desc(a->s->live_count, b->s->live_count);
	return c ? c : (a->stack < b->stack ? -1 : a->stack > b->stack);
}

static int by_temporary(const void *x, const void *y)
{
	const struct rp_site *a = x, *b = y;
	int c = cmp_u64_desc(a->s->temporary, b->s->temporary);
	return c ? c : (a->stack < b->stack ? -1 : a->stack > b->stack);
}

int rp_sites(struct report *r, enum rp_site_order order, struct rp_site **out, size_t *n)
{
	size_t cap = r->alloc.sites.n ? r->alloc.sites.n : 1, k = 0, it = 0;
	struct rp_site *v = xmalloc(cap * sizeof(*v));
	uint64_t key;
	void *val;
	if (!v)
		return az_error(AZ_ENOMEM, "out of memory");
	while (hmap_next(&r->alloc.sites, &it, &key, &val)) {
		const struct alloc_site *s = val;
		if (order == RP_BY_LEAKED && !s->live_count)
			continue;
		if (order == RP_BY_TEMPORARY && !s->temporary)
			continue;
		if ((order == RP_BY_BYTES || order == RP_BY_COUNT) && !s->allocations)
			continue;
		v[k].stack = (uint32_t)key;
		v[k].s = s;
		k++;
	}
	int (*cmp)(const void *, const void *) = order == RP_BY_BYTES ? by_bytes :
						 order == RP_BY_COUNT ? by_count :
						 order == RP_BY_LEAKED ? by_leaked : by_temporary;
	qsort(v, k, sizeof(*v), cmp);
	*out = v;
	*n = k;
	return 0;
}

size_t rp_limit(const struct report *r, size_t n, bool for_text)
{
	size_t top = r->opt.top_given ? r->opt.top : (for_text ? TEXT_TOP_DEFAULT : n);
	return top < n ? top : n;
}

const char *rp_frame_label(const struct rp_frame *f, char *buf, size_t cap)
{
	const char *mod = f->module ? strrchr(f->module, '/') : NULL;
	mod = mod ? mod + 1 : f->module;
	if (f->function && f->file && f->line) {
		const char *file = strrchr(f->file, '/');
		snprintf(buf, cap, "%s (%s:%u)", f->function, file ? file + 1 : f->file, f->line);
	} else if (f->function) {
		snprintf(buf, cap, "%s (%s)", f->function, mod ? mod : "?");
	} else {
		snprintf(buf, cap, "%s+0x%llx", mod ? mod : "?", (unsigned long long)f->address);
	}
	return buf;
}

const char *rp_frame_name(const struct rp_frame *f, char *buf, size_t cap)
{
	if (f->function) {
		snprintf(buf, cap, "%s", f->function);
	} else {
		const char *mod = f->module ? strrchr(f->module, '/') : NULL;
		mod = mod ? mod + 1 : f->module;
		snprintf(buf, cap, "%s+0x%llx", mod && *mod ? mod : "?",
			 (unsigned long long)f->address);
	}
	return buf;
}

/* is_runtime() : module is the C or C++ runtime (by file name: libc.so.6, libstdc++.so.6,
 * libgcc_s.so.1, ld-linux-x86-64.so.2, ...). */
static bool is_runtime(const char *module)
{
	static const char *const prefixes[] = {"libc.so", "libc-", "libstdc++.so", "libc++.so",
					       "libc++abi.so", "libgcc_s.so", "ld-linux"};
	if (!module)
		return false;
	const char *base = strrchr(module, '/');
	base = base ? base + 1 : module;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(base, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

const struct rp_frame *rp_site_frame(const struct rp_stack *s)
{
	if (!s->n)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++)
		if (!is_runtime(s->frames[i].module))
			return &s->frames[i];
	return &s->frames[0];
}

size_t rp_heap_series(struct report *r, struct rp_heap_point **out, uint64_t *interval_ns)
{
	const struct alloc_series *h = &r->alloc.series;
	*out = NULL;
	*interval_ns = 0;
	if (!h->n)
		return 0;
	struct rp_heap_point *p = xcalloc(h->n, sizeof(*p));
	if (!p)
		return 0;
	uint64_t width = h->shift < 64 ? (uint64_t)1 << h->shift : UINT64_MAX;
	uint64_t bytes = 0, blocks = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		const struct alloc_bucket *b = &h->b[i];
		uint64_t room = UINT64_MAX - h->t0; /* saturate: a corrupt clock must not wrap */
		uint64_t off = i && width > room / i ? room : (uint64_t)i * width;
		p[i].t_ns = tr_ns(&r->tr, h->t0 + off);
		if (b->events) {
			bytes = b->end_bytes;
			blocks = b->end_count;
		}
		p[i].bytes = bytes;
		p[i].blocks = blocks;
		p[i].max_bytes = b->events ? b->max_bytes : bytes;
		p[i].changed = b->events != 0;
	}
	double w_ns = (double)width * r->tr.ns_per_tick;
	*interval_ns = w_ns > 0 && w_ns < 1e19 ? (uint64_t)w_ns : 0;
	*out = p;
	return h->n;
}

const char *rp_lock_leaf(const struct lock_ent *l, const struct lock_waiter *ws, char *buf,
			 size_t cap)
{
	static const char *const mode[] = {"", "", " read", " write"};
	unsigned k = ws->kinds == (1u << ITF_LOCK_READ)	 ? ITF_LOCK_READ :
		     ws->kinds == (1u << ITF_LOCK_WRITE) ? ITF_LOCK_WRITE : 0;
	snprintf(buf, cap, "[%s 0x%llx%s]", lock_kind_name(l), (unsigned long long)l->addr,
		 mode[k]);
	return buf;
}

uint64_t rp_lock_wait_ns(const struct report *r)
{
	/* pthread mutexes and rwlocks, plus SQLite's database locks (time in busy handlers
	 * inside sqlite3_step): the summary's figure covers locks of either kind. */
	return r->locks.wait_ns + r->sql.lock_wait_ns;
}
