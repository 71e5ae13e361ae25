/* fmt_pprof.c - owns `--format pprof`: a gzipped profile.proto (the messages in
 * profile.proto beside this file, encoded by protobuf-c, compressed by zlib as it is packed)
 * that `go tool pprof`, Pyroscope, Parca and speedscope read. One sample per recorded stack;
 * its values are the columns below (one per sample type). Frames become locations (a return
 * address with its inlined calls) of functions named by rp_frame_name(), like every other
 * format's; mappings are the trace's modules. Main thread only; writes only to its FILE.
 *
 * Addresses are ELF virtual addresses inside their module (the JSON's `address`), and each
 * mapping spans its module's ELF range; every mapping says it is already symbolized, so the
 * tools never look for the binaries. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "report.h"
#include "strtab.h"

/* The sample types (columns of every sample's values). A section that brings a new cost
 * adds its columns here and its function to `sections` below; samples of other sections
 * carry 0 in them. The Go heap profile's names are kept for the allocation columns, so
 * pprof's -alloc_space / -inuse_space switches and Pyroscope's heap views work; "in use"
 * means still allocated when the trace ended: the leaks. The lock columns are named like Go's
 * mutex profile (contentions, delay), so `-sample_index=delay` reads them as Go users expect. */
enum {
	COL_ALLOC_OBJECTS,
	COL_ALLOC_SPACE,
	COL_INUSE_OBJECTS,
	COL_INUSE_SPACE,
	COL_HTTP_REQUESTS,
	COL_HTTP_TIME,
	COL_CONTENTIONS,
	COL_DELAY,
	N_COLS
};
static const struct {
	const char *type, *unit;
} cols[N_COLS] = {
	[COL_ALLOC_OBJECTS] = {"alloc_objects", "count"},
	[COL_ALLOC_SPACE] = {"alloc_space", "bytes"},
	[COL_INUSE_OBJECTS] = {"inuse_objects", "count"},
	[COL_INUSE_SPACE] = {"inuse_space", "bytes"},
	[COL_HTTP_REQUESTS] = {"http_requests", "count"},
	[COL_HTTP_TIME] = {"http_time", "nanoseconds"},
	[COL_CONTENTIONS] = {"contentions", "count"},
	[COL_DELAY] = {"delay", "nanoseconds"},
};
#define DEFAULT_COL COL_ALLOC_SPACE

struct pp_sample {
	size_t loc_off; /* into loc_ids */
	uint32_t n_locs;
};
struct pp_loc {
	uint64_t mapping, address;
	size_t line_off; /* into lines */
	uint32_t n_lines;
};
struct pp_fn {
	int64_t name, file;
};

struct pprof {
	struct report *r;
	struct strtab strs;
	struct hmap sample_of;	/* stack id -> index into samples */
	VEC(struct pp_sample) samples;
	VEC(int64_t) values;	/* N_COLS per sample */
	VEC(uint64_t) loc_ids;	/* every sample's location ids, leaf first */
	struct hmap loc_of;	/* (mapping << 48 | address) -> location id */
	VEC(struct pp_loc) locs;
	VEC(Intercept__Pprof__Line) lines;
	struct hmap fn_of;	/* name << 32 | file (string indices) -> function id */
	VEC(struct pp_fn) fns;
	struct hmap map_of;	/* module path's string index -> mapping id */
	VEC(Intercept__Pprof__Mapping) maps;
};

/* str() : the string table index of s (NULL as ""). @return the index, or -1 (no memory). */
static int64_t str(struct pprof *p, const char *s)
{
	return strtab_id(&p->strs, s ? s : "", s ? strlen(s) : 0, NULL);
}

static int oom(void)
{
	return az_error(AZ_ENOMEM, "out of memory building the pprof profile");
}

/* function_id() : the function for frame f (by name and file). @return its id, 0 (no
 * memory). */
static uint64_t function_id(struct pprof *p, const struct rp_frame *f)
{
	char name[1024];
	int64_t n = str(p, rp_frame_name(f, name, sizeof(name))), file = str(p, f->file);
	if (n < 0 || file < 0 || n > UINT32_MAX || file > UINT32_MAX)
		return 0;
	uint64_t key = (uint64_t)n << 32 | (uint64_t)file; /* never HMAP_EMPTY: n < 2^32 - 1 */
	bool is_new;
	uint64_t *id = hmap_put(&p->fn_of, key, &is_new);
	if (!id)
		return 0;
	if (is_new) {
		struct pp_fn fn = {n, file};
		if (VEC_PUSH(p->fns, fn)) {
			hmap_del(&p->fn_of, key);
			return 0;
		}
		*id = p->fns.n;
	}
	return *id;
}

/* location_id() : the location for frames f[0..n) (inlined calls, then their caller, all at
 * one address). @return its id, or 0 (no memory). */
static uint64_t location_id(struct pprof *p, const struct rp_frame *f, uint32_t n)
{
	const struct rp_frame *caller = &f[n - 1];
	uint64_t mapping = 0;
	if (caller->module) {
		int64_t path = str(p, caller->module);
		uint64_t *m = path >= 0 ? hmap_get(&p->map_of, (uint64_t)path) : NULL;
		mapping = m ? *m : 0;
	}
	/* the same address in the same module always expands to the same frames */
	bool keyed = mapping < 0xffff && caller->address < (1ull << 48);
	uint64_t key = mapping << 48 | caller->address;
	uint64_t *id = keyed ? hmap_get(&p->loc_of, key) : NULL;
	if (id)
		return *id;
	struct pp_loc loc = {mapping, caller->address, p->lines.n, n};
	for (uint32_t i = 0; i < n; i++) {
		Intercept__Pprof__Line line = INTERCEPT__PPROF__LINE__INIT;
		line.function_id = function_id(p, &f[i]);
		line.line = f[i].line;
		if (!line.function_id || VEC_PUSH(p->lines, line))
			return 0;
	}
	if (VEC_PUSH(p->locs, loc))
		return 0;
	if (keyed && (id = hmap_put(&p->loc_of, key, NULL)))
		*id = p->locs.n;
	return p->locs.n;
}

/* sample_values() : stack_id's sample (created with its locations on first use).
 * @return its N_COLS values, or NULL (no memory). */
static int64_t *sample_values(struct pprof *p, uint32_t stack_id)
{
	bool is_new;
	uint64_t *idx = hmap_put(&p->sample_of, stack_id, &is_new);
	if (!idx)
		return NULL;
	if (!is_new)
		return &p->values.v[*idx * N_COLS];
	const struct rp_stack *s = rp_stack(p->r, stack_id);
	struct pp_sample smp = {p->loc_ids.n, 0};
	for (uint32_t i = 0; i < s->n;) {
		uint32_t n = 1;
		while (s->frames[i + n - 1].inlined && i + n < s->n)
			n++;
		uint64_t loc = location_id(p, &s->frames[i], n);
		if (!loc || VEC_PUSH(p->loc_ids, loc))
			goto out_undo;
		smp.n_locs++;
		i += n;
	}
	if (!s->n) { /* a sample needs a frame to be seen at all */
		struct rp_frame none = {.function = RP_NO_STACK};
		uint64_t loc = location_id(p, &none, 1);
		if (!loc || VEC_PUSH(p->loc_ids, loc))
			goto out_undo;
		smp.n_locs = 1;
	}
	for (int c = 0; c < N_COLS; c++)
		if (VEC_PUSH(p->values, 0))
			goto out_undo;
	if (VEC_PUSH(p->samples, smp))
		goto out_undo;
	*idx = p->samples.n - 1;
	return &p->values.v[*idx * N_COLS];
out_undo:
	p->values.n = p->samples.n * N_COLS;
	hmap_del(&p->sample_of, stack_id);
	return NULL;
}

/* ---- sections: each adds its costs to the samples of its stacks ---- */

static int section_alloc(struct pprof *p)
{
	struct rp_site *sites;
	size_t n;
	int rc = rp_sites(p->r, RP_BY_BYTES, &sites, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct alloc_site *s = sites[i].s;
		int64_t *v = sample_values(p, sites[i].stack);
		if (!v) {
			free(sites);
			return oom();
		}
		v[COL_ALLOC_OBJECTS] += (int64_t)s->allocations;
		v[COL_ALLOC_SPACE] += (int64_t)s->bytes;
		v[COL_INUSE_OBJECTS] += (int64_t)s->live_count;
		v[COL_INUSE_SPACE] += (int64_t)s->live_bytes;
	}
	free(sites);
	return 0;
}

/* section_http() : HTTP requests and their latency by the stack that made them. */
static int section_http(struct pprof *p)
{
	struct http_stack_cost *c;
	size_t n;
	int rc = agg_http_by_stack(&p->r->http, &c, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int64_t *v = sample_values(p, c[i].stack);
		if (!v) {
			free(c);
			return oom();
		}
		v[COL_HTTP_REQUESTS] += (int64_t)c[i].requests;
		v[COL_HTTP_TIME] += (int64_t)c[i].ns;
	}
	free(c);
	return 0;
}

/* section_locks() : pthread lock waits by waiting stack (every lock, every waiting stack). */
static int section_locks(struct pprof *p)
{
	const struct agg_lock *a = &p->r->locks;
	for (size_t i = 0; i < a->n_sorted; i++) {
		const struct lock_ent *l = a->sorted[i];
		for (size_t j = 0; j < l->n_sorted; j++) {
			int64_t *v = sample_values(p, l->sorted[j].stack);
			if (!v)
				return oom();
			v[COL_CONTENTIONS] += (int64_t)l->sorted[j].waits;
			v[COL_DELAY] += (int64_t)l->sorted[j].wait_ns;
		}
	}
	return 0;
}

static int (*const sections[])(struct pprof *) = {section_alloc, section_http,
						  section_locks};

/* ---- mappings ---- */

static void hex(char *out, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* add_mappings() : one mapping per module file, the main program first. */
static int add_mappings(struct pprof *p)
{
	const struct trace *t = &p->r->tr;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->modules.n; i++) {
			const struct tr_module *m = &t->modules.v[i];
			bool is_main = t->hdr.exe && m->path && !strcmp(m->path, t->hdr.exe);
			if (!m->id || !m->path || (pass == 0) != is_main)
				continue;
			int64_t path = str(p, m->path);
			if (path < 0)
				return oom();
			bool is_new;
			uint64_t *id = hmap_put(&p->map_of, (uint64_t)path, &is_new);
			if (!id)
				return oom();
			uint64_t lo = m->lo - m->bias, hi = m->hi - m->bias;
			if (!is_new) { /* the same file loaded again: widen the range */
				Intercept__Pprof__Mapping *mp = &p->maps.v[*id - 1];
				mp->memory_start = lo < mp->memory_start ? lo : mp->memory_start;
				mp->memory_limit = hi > mp->memory_limit ? hi : mp->memory_limit;
				continue;
			}
			char bid[sizeof(m->build_id) * 2 + 1];
			hex(bid, m->build_id, m->build_id_len);
			Intercept__Pprof__Mapping mp = INTERCEPT__PPROF__MAPPING__INIT;
			mp.memory_start = lo;
			mp.memory_limit = hi;
			mp.filename = path;
			mp.build_id = str(p, bid);
			mp.has_functions = mp.has_filenames = mp.has_line_numbers = true;
			mp.has_inline_frames = true;
			if (mp.build_id < 0 || VEC_PUSH(p->maps, mp))
				return oom();
			mp.id = p->maps.n;
			p->maps.v[p->maps.n - 1].id = mp.id;
			*id = mp.id;
		}
	}
	return 0;
}

/* ---- output: protobuf-c packs into a sink that deflates into the FILE ---- */

struct gz_sink {
	ProtobufCBuffer base;
	z_stream zs;
	FILE *out;
	int err;
	unsigned char buf[1 << 16];
};

static void gz_pump(struct gz_sink *g, int flush)
{
	int zrc;
	do {
		g->zs.next_out = g->buf;
		g->zs.avail_out = sizeof(g->buf);
		zrc = deflate(&g->zs, flush);
		if (zrc == Z_STREAM_ERROR) {
			g->err = 1;
			return;
		}
		size_t have = sizeof(g->buf) - g->zs.avail_out;
		if (have && fwrite(g->buf, 1, have, g->out) != have)
			g->err = 1;
	} while (g->zs.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
}

static void gz_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct gz_sink *g = (struct gz_sink *)b;
	while (len && !g->err) {
		uInt part = len > (1u << 30) ? 1u << 30 : (uInt)len;
		g->zs.next_in = (Bytef *)data;
		g->zs.avail_in = part;
		gz_pump(g, Z_NO_FLUSH);
		data += part;
		len -= part;
	}
}

/* pack() : build the protobuf-c message from p's tables and write it gzipped. */
static int pack(struct pprof *p, FILE *out)
{
	const struct trace *t = &p->r->tr;
	Intercept__Pprof__Profile prof = INTERCEPT__PPROF__PROFILE__INIT;
	Intercept__Pprof__ValueType types[N_COLS], *type_ptrs[N_COLS];
	Intercept__Pprof__Sample *smp = NULL, **smp_ptrs = NULL;
	Intercept__Pprof__Mapping **map_ptrs = NULL;
	Intercept__Pprof__Location *loc = NULL, **loc_ptrs = NULL;
	Intercept__Pprof__Line **line_ptrs = NULL;
	Intercept__Pprof__Function *fn = NULL, **fn_ptrs = NULL;
	int64_t comments[4];
	char note[512];
	struct gz_sink *g = NULL;
	int rc = AZ_ENOMEM; /* until the end: every goto out before it is out of memory */

	/* strings first: the table must be complete before it is handed over */
	for (int c = 0; c < N_COLS; c++) {
		Intercept__Pprof__ValueType vt = INTERCEPT__PPROF__VALUE_TYPE__INIT;
		vt.type = str(p, cols[c].type);
		vt.unit = str(p, cols[c].unit);
		types[c] = vt;
		type_ptrs[c] = &types[c];
	}
	snprintf(note, sizeof(note), "intercept %s: trace %s, pid %u, %s", INTERCEPT_VERSION_STRING,
		 t->path ? t->path : "?", t->hdr.pid, t->hdr.command ? t->hdr.command : "?");
	comments[0] = str(p, note);
	comments[1] = str(p, t->hdr.sample_bytes ? "allocations sampled: values are estimates" :
						   "exact: every allocation and free recorded");
	comments[2] = str(p, "inuse_* = still allocated when the trace ended (leaks)");
	bool whole = t->complete && !t->truncated;
	comments[3] = str(p, whole ? "trace complete" :
				     "trace incomplete: read up to its last flush (killed or "
				     "still running)");
	for (int i = 0; i < 4; i++)
		if (comments[i] < 0)
			goto out;

	size_t ns = p->samples.n, nl = p->locs.n, nf = p->fns.n, nm = p->maps.n;
	if (!(smp = xcalloc(ns + 1, sizeof(*smp))) ||
	    !(smp_ptrs = xcalloc(ns + 1, sizeof(void *))) ||
	    !(map_ptrs = xcalloc(nm + 1, sizeof(void *))) ||
	    !(loc = xcalloc(nl + 1, sizeof(*loc))) ||
	    !(loc_ptrs = xcalloc(nl + 1, sizeof(void *))) ||
	    !(line_ptrs = xcalloc(p->lines.n + 1, sizeof(void *))) ||
	    !(fn = xcalloc(nf + 1, sizeof(*fn))) || !(fn_ptrs = xcalloc(nf + 1, sizeof(void *))))
		goto out;
	for (size_t i = 0; i < ns; i++) {
		Intercept__Pprof__Sample s = INTERCEPT__PPROF__SAMPLE__INIT;
		s.n_location_id = p->samples.v[i].n_locs;
		s.location_id = &p->loc_ids.v[p->samples.v[i].loc_off];
		s.n_value = N_COLS;
		s.value = &p->values.v[i * N_COLS];
		smp[i] = s;
		smp_ptrs[i] = &smp[i];
	}
	for (size_t i = 0; i < nm; i++)
		map_ptrs[i] = &p->maps.v[i];
	for (size_t i = 0; i < p->lines.n; i++)
		line_ptrs[i] = &p->lines.v[i];
	for (size_t i = 0; i < nl; i++) {
		Intercept__Pprof__Location l = INTERCEPT__PPROF__LOCATION__INIT;
		l.id = i + 1;
		l.mapping_id = p->locs.v[i].mapping;
		l.address = p->locs.v[i].address;
		l.n_line = p->locs.v[i].n_lines;
		l.line = &line_ptrs[p->locs.v[i].line_off];
		loc[i] = l;
		loc_ptrs[i] = &loc[i];
	}
	for (size_t i = 0; i < nf; i++) {
		Intercept__Pprof__Function f = INTERCEPT__PPROF__FUNCTION__INIT;
		f.id = i + 1;
		f.name = f.system_name = p->fns.v[i].name;
		f.filename = p->fns.v[i].file;
		fn[i] = f;
		fn_ptrs[i] = &fn[i];
	}
	prof.n_sample_type = N_COLS;
	prof.sample_type = type_ptrs;
	prof.n_sample = ns;
	prof.sample = smp_ptrs;
	prof.n_mapping = nm;
	prof.mapping = map_ptrs;
	prof.n_location = nl;
	prof.location = loc_ptrs;
	prof.n_function = nf;
	prof.function = fn_ptrs;
	prof.n_string_table = p->strs.strs.n;
	prof.string_table = p->strs.strs.v;
	prof.time_nanos = (int64_t)t->hdr.start_realtime_ns;
	prof.duration_nanos = (int64_t)tr_duration_ns(t);
	prof.n_comment = 4;
	prof.comment = comments;
	prof.default_sample_type = types[DEFAULT_COL].type;

	if (!(g = xcalloc(1, sizeof(*g))))
		goto out;
	g->base.append = gz_append;
	g->out = out;
	/* 15 + 16: a gzip wrapper around the deflate stream, as pprof expects */
	if (deflateInit2(&g->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	intercept__pprof__profile__pack_to_buffer(&prof, &g->base);
	if (!g->err)
		gz_pump(g, Z_FINISH);
	deflateEnd(&g->zs);
	rc = g->err || ferror(out) ? az_error(AZ_EIO, "writing the pprof profile failed") : 0;
out:
	free(g);
	free(fn_ptrs);
	free(fn);
	free(line_ptrs);
	free(loc_ptrs);
	free(loc);
	free(map_ptrs);
	free(smp_ptrs);
	free(smp);
	return rc == AZ_ENOMEM ? oom() : rc;
}

int fmt_pprof(struct report *r, FILE *out)
{
	struct pprof p = {.r = r};
	int rc = AZ_ENOMEM;
	if (strtab_init(&p.strs) || hmap_init(&p.sample_of, sizeof(uint64_t), 256) ||
	    hmap_init(&p.loc_of, sizeof(uint64_t), 1024) ||
	    hmap_init(&p.fn_of, sizeof(uint64_t), 1024) ||
	    hmap_init(&p.map_of, sizeof(uint64_t), 64))
		goto out_free;
	if (str(&p, "") != 0) /* the format wants "" first */
		goto out_free;
	if ((rc = add_mappings(&p)))
		goto out_free;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if ((rc = sections[i](&p)))
			goto out_free;
	rc = pack(&p, out);
out_free:
	hmap_free(&p.map_of);
	VEC_FREE(p.maps);
	hmap_free(&p.fn_of);
	VEC_FREE(p.fns);
	VEC_FREE(p.lines);
	hmap_free(&p.loc_of);
	VEC_FREE(p.locs);
	VEC_FREE(p.loc_ids);
	VEC_FREE(p.values);
	VEC_FREE(p.samples);
	hmap_free(&p.sample_of);
	strtab_free(&p.strs);
	return rc == AZ_ENOMEM ? oom() : rc; /* the first message set stays */
}
