/* decode.c - owns the record grammar of include/intercept/trace_format.h on the reading
 * side: chunk header, section headers, META and THREAD records, each field checked against
 * an end pointer (SQLite's aDataEnd idiom). Stateless between chunks; callable from any
 * thread on its own chunk. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <string.h>

#include "decode.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"
#include "util.h"

/* A cursor over one record's payload with the context for error messages. */
struct cur {
	const uint8_t *p, *end;
	uint64_t seq;
	unsigned sec;
	size_t off; /* offset of the record in the chunk */
};

#define GET_U(c, out)                                                                              \
	RETURN_ERR_IF(itf_get_u(&(c)->p, (c)->end, (out)), AZ_ECORRUPT,                            \
		      "chunk %llu, section %u, record at %zu: truncated varint",                  \
		      (unsigned long long)(c)->seq, (c)->sec, (c)->off)
#define GET_S(c, out)                                                                              \
	RETURN_ERR_IF(itf_get_s(&(c)->p, (c)->end, (out)), AZ_ECORRUPT,                            \
		      "chunk %llu, section %u, record at %zu: truncated varint",                  \
		      (unsigned long long)(c)->seq, (c)->sec, (c)->off)

static int get_u32(struct cur *c, uint32_t *out)
{
	uint64_t v;
	GET_U(c, &v);
	RETURN_ERR_IF(v > UINT32_MAX, AZ_ECORRUPT, "chunk %llu, section %u, record at %zu: value %llu "
		      "does not fit 32 bits", (unsigned long long)c->seq, c->sec, c->off,
		      (unsigned long long)v);
	*out = (uint32_t)v;
	return 0;
}

static int get_str(struct cur *c, const char **s, size_t *len)
{
	uint64_t n;
	GET_U(c, &n);
	RETURN_ERR_IF(n > (uint64_t)(c->end - c->p), AZ_ECORRUPT,
		      "chunk %llu, section %u, record at %zu: string of %llu bytes past the record",
		      (unsigned long long)c->seq, c->sec, c->off, (unsigned long long)n);
	*s = (const char *)c->p;
	*len = (size_t)n;
	c->p += n;
	return 0;
}

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_)                                                                           \
			return rc_;                                                                \
	} while (0)

static int dec_header(struct cur *c, const struct dec_sink *s)
{
	struct dec_header h = {0};
	uint64_t hz_bits;
	TRY(get_u32(c, &h.version));
	TRY(get_u32(c, &h.pid));
	TRY(get_u32(c, &h.ppid));
	TRY(get_u32(c, &h.clock));
	TRY(get_u32(c, &h.ts_shift));
	RETURN_ERR_IF(c->end - c->p < 8, AZ_ECORRUPT, "chunk %llu: header record truncated",
		      (unsigned long long)c->seq);
	hz_bits = itf_ld64(c->p);
	c->p += 8;
	memcpy(&h.clock_hz, &hz_bits, 8);
	GET_U(c, &h.start_ts);
	GET_U(c, &h.start_mono_ns);
	GET_U(c, &h.start_realtime_ns);
	TRY(get_u32(c, &h.hooks));
	TRY(get_u32(c, &h.malloc_mode));
	TRY(get_u32(c, &h.stack_depth));
	TRY(get_u32(c, &h.flags));
	TRY(get_str(c, &h.command, &h.command_len));
	TRY(get_str(c, &h.exe, &h.exe_len));
	if (c->p < c->end)
		GET_U(c, &h.sample_bytes);
	RETURN_ERR_IF(h.version != ITF_VERSION, AZ_EVERSION,
		      "header says format version %u, this analyzer reads %u", h.version,
		      ITF_VERSION);
	RETURN_ERR_IF(h.clock != ITF_CLOCK_TSC && h.clock != ITF_CLOCK_MONOTONIC, AZ_ECORRUPT,
		      "header: unknown clock source %u", h.clock);
	RETURN_ERR_IF(!(h.clock_hz >= 1e3 && h.clock_hz <= 1e12), AZ_ECORRUPT,
		      "header: implausible clock rate");
	RETURN_ERR_IF(h.ts_shift > 32, AZ_ECORRUPT, "header: ts_shift %u", h.ts_shift);
	return s->header ? s->header(s->ctx, &h) : 0;
}

static int dec_meta(struct cur *c, uint8_t type, const struct dec_sink *s)
{
	switch (type) {
	case ITF_META_HEADER:
		return dec_header(c, s);
	case ITF_META_CLOCK_SYNC: {
		uint64_t ts, mono;
		GET_U(c, &ts);
		GET_U(c, &mono);
		return s->clock_sync ? s->clock_sync(s->ctx, ts, mono) : 0;
	}
	case ITF_META_MODULE_LOAD: {
		struct dec_module m = {0};
		const char *bid;
		TRY(get_u32(c, &m.id));
		GET_U(c, &m.ts);
		TRY(get_u32(c, &m.gen));
		GET_U(c, &m.bias);
		GET_U(c, &m.lo);
		GET_U(c, &m.hi);
		TRY(get_str(c, &bid, &m.build_id_len));
		m.build_id = (const uint8_t *)bid;
		TRY(get_str(c, &m.path, &m.path_len));
		RETURN_ERR_IF(m.id == 0 || m.hi < m.lo || m.build_id_len > 64 || m.path_len > 4096,
			      AZ_ECORRUPT, "chunk %llu: bad module record (id %u)",
			      (unsigned long long)c->seq, m.id);
		return s->module_load ? s->module_load(s->ctx, &m) : 0;
	}
	case ITF_META_MODULE_UNLOAD: {
		uint32_t id;
		uint64_t ts;
		TRY(get_u32(c, &id));
		GET_U(c, &ts);
		return s->module_unload ? s->module_unload(s->ctx, id, ts) : 0;
	}
	case ITF_META_STACK_DEF: {
		uint32_t id, gen, n;
		uint64_t frames[ITF_MAX_FRAMES];
		TRY(get_u32(c, &id));
		TRY(get_u32(c, &gen));
		TRY(get_u32(c, &n));
		RETURN_ERR_IF(id == 0 || n > ITF_MAX_FRAMES, AZ_ECORRUPT,
			      "chunk %llu: stack %u with %u frames (at most %u)",
			      (unsigned long long)c->seq, id, n, ITF_MAX_FRAMES);
		for (uint32_t i = 0; i < n; i++) {
			if (i == 0) {
				GET_U(c, &frames[0]);
			} else {
				int64_t d;
				GET_S(c, &d);
				frames[i] = frames[i - 1] + (uint64_t)d;
			}
		}
		return s->stack_def ? s->stack_def(s->ctx, id, gen, frames, n) : 0;
	}
	case ITF_META_STRING_DEF: {
		uint32_t id, kind;
		const char *str;
		size_t len;
		TRY(get_u32(c, &id));
		TRY(get_u32(c, &kind));
		TRY(get_str(c, &str, &len));
		RETURN_ERR_IF(id == 0, AZ_ECORRUPT, "chunk %llu: string id 0",
			      (unsigned long long)c->seq);
		return s->string_def ? s->string_def(s->ctx, id, kind, str, len) : 0;
	}
	case ITF_META_THREAD: {
		uint32_t tid, state;
		uint64_t ts;
		const char *name;
		size_t len;
		TRY(get_u32(c, &tid));
		TRY(get_u32(c, &state));
		GET_U(c, &ts);
		TRY(get_str(c, &name, &len));
		return s->thread ? s->thread(s->ctx, tid, state, ts, name, len) : 0;
	}
	case ITF_META_COUNTERS: {
		struct dec_counters k = {0};
		uint64_t *f[] = {&k.ts,		    &k.dropped_events, &k.missed_events,
				 &k.stack_overflow, &k.truncated_stacks, &k.bytes_written,
				 &k.raw_bytes,	    &k.lost_bytes,     &k.pool_bytes,
				 &k.wait_ns,	    &k.events};
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && c->p < c->end; i++)
			GET_U(c, f[i]);
		return s->counters ? s->counters(s->ctx, &k) : 0;
	}
	case ITF_META_END: {
		uint64_t ts;
		uint32_t reason;
		GET_U(c, &ts);
		TRY(get_u32(c, &reason));
		return s->end ? s->end(s->ctx, ts, reason) : 0;
	}
	case ITF_META_EXEC: {
		uint64_t ts;
		const char *path;
		size_t len;
		GET_U(c, &ts);
		TRY(get_str(c, &path, &len));
		return s->exec ? s->exec(s->ctx, ts, path, len) : 0;
	}
	default:
		return s->meta_other ? s->meta_other(s->ctx, type, c->p, (size_t)(c->end - c->p)) : 0;
	}
}

static int dec_section_meta(const uint8_t *p, const uint8_t *end, uint64_t seq, unsigned sec,
			    const uint8_t *chunk, uint32_t n_records, const struct dec_sink *s)
{
	uint32_t n = 0;
	while (p < end) {
		struct cur c = {.p = p, .end = end, .seq = seq, .sec = sec, .off = (size_t)(p - chunk)};
		uint8_t type = *c.p++;
		uint64_t len;
		RETURN_ERR_IF(type < 0x20 || (type & ITF_EV_HOT), AZ_ECORRUPT,
			      "chunk %llu, section %u, record at %zu: type 0x%02x in a META section",
			      (unsigned long long)seq, sec, c.off, type);
		GET_U(&c, &len);
		RETURN_ERR_IF(len > (uint64_t)(end - c.p), AZ_ECORRUPT,
			      "chunk %llu, section %u, record at %zu: length %llu past the section",
			      (unsigned long long)seq, sec, c.off, (unsigned long long)len);
		const uint8_t *next = c.p + len;
		c.end = next;
		TRY(dec_meta(&c, type, s));
		p = next;
		n++;
	}
	RETURN_ERR_IF(n != n_records, AZ_ECORRUPT,
		      "chunk %llu, section %u: %u records, header says %u", (unsigned long long)seq,
		      sec, n, n_records);
	return 0;
}

static int dec_section_events(const uint8_t *p, const uint8_t *end, uint64_t seq, unsigned sec,
			      const uint8_t *chunk, uint64_t ts_base, uint32_t n_records,
			      const struct dec_sink *s)
{
	uint64_t ts = ts_base, ptr[ITF_EV_SLOTS] = {0};
	uint32_t tid[ITF_EV_SLOTS] = {0};
	bool bound[ITF_EV_SLOTS] = {false};
	uint32_t n = 0;
	while (p < end) {
		struct cur c = {.p = p, .end = end, .seq = seq, .sec = sec, .off = (size_t)(p - chunk)};
		uint8_t b = *c.p++;
		struct dec_event e = {0};
		int64_t dts, d;
		n++;
		if (b & ITF_EV_HOT) {
			unsigned slot = (b >> 4) & 7, type = b & 0x0f;
			if (type == ITF_EV_BIND) {
				TRY(get_u32(&c, &tid[slot]));
				bound[slot] = true;
				ptr[slot] = 0;
				p = c.p;
				continue;
			}
			RETURN_ERR_IF(type != ITF_EV_ALLOC && type != ITF_EV_FREE &&
					      type != ITF_EV_REALLOC,
				      AZ_ECORRUPT,
				      "chunk %llu, section %u, record at %zu: unknown event type 0x%02x",
				      (unsigned long long)seq, sec, c.off, b);
			RETURN_ERR_IF(!bound[slot], AZ_ECORRUPT,
				      "chunk %llu, section %u, record at %zu: thread slot %u not bound",
				      (unsigned long long)seq, sec, c.off, slot);
			GET_S(&c, &dts);
			GET_S(&c, &d);
			ts += (uint64_t)dts;
			ptr[slot] += (uint64_t)d;
			e.type = (uint8_t)type;
			e.tid = tid[slot];
			e.ts = ts;
			e.ptr = ptr[slot];
			if (type != ITF_EV_FREE) {
				uint64_t stack;
				GET_U(&c, &e.size);
				GET_U(&c, &stack);
				RETURN_ERR_IF(stack > UINT32_MAX, AZ_ECORRUPT,
					      "chunk %llu: stack id %llu", (unsigned long long)seq,
					      (unsigned long long)stack);
				e.stack = (uint32_t)stack;
			}
		} else {
			uint64_t len;
			uint32_t slot;
			RETURN_ERR_IF(b < 0x20, AZ_ECORRUPT,
				      "chunk %llu, section %u, record at %zu: invalid record byte 0x%02x",
				      (unsigned long long)seq, sec, c.off, b);
			GET_U(&c, &len);
			RETURN_ERR_IF(len > (uint64_t)(end - c.p), AZ_ECORRUPT,
				      "chunk %llu, section %u, record at %zu: length %llu past the "
				      "section",
				      (unsigned long long)seq, sec, c.off, (unsigned long long)len);
			const uint8_t *next = c.p + len;
			c.end = next;
			TRY(get_u32(&c, &slot));
			RETURN_ERR_IF(slot >= ITF_EV_SLOTS || !bound[slot], AZ_ECORRUPT,
				      "chunk %llu, section %u, record at %zu: thread slot %u not bound",
				      (unsigned long long)seq, sec, c.off, slot);
			GET_S(&c, &dts);
			ts += (uint64_t)dts;
			e.type = b;
			e.tid = tid[slot];
			e.ts = ts;
			e.payload = c.p;
			e.payload_len = (size_t)(next - c.p);
			c.p = next;
		}
		if (s->event)
			TRY(s->event(s->ctx, &e));
		p = c.p;
	}
	RETURN_ERR_IF(n != n_records, AZ_ECORRUPT,
		      "chunk %llu, section %u: %u records, header says %u", (unsigned long long)seq,
		      sec, n, n_records);
	return 0;
}

int dec_chunk(const uint8_t *chunk, size_t len, const struct dec_sink *s)
{
	RETURN_ERR_IF(len < sizeof(struct itf_chunk_hdr), AZ_ECORRUPT, "chunk of %zu bytes", len);
	uint32_t magic = itf_ld32(chunk);
	uint16_t hdr_size = itf_ld16(chunk + 4);
	uint64_t seq = itf_ld64(chunk + 8);
	uint64_t emit_ts = itf_ld64(chunk + 16);
	uint32_t n_sections = itf_ld32(chunk + 24);
	uint32_t payload = itf_ld32(chunk + 28);
	RETURN_ERR_IF(magic != ITF_CHUNK_MAGIC, AZ_ECORRUPT, "chunk %llu: bad magic",
		      (unsigned long long)seq);
	RETURN_ERR_IF(hdr_size < sizeof(struct itf_chunk_hdr) || hdr_size > len ||
			      payload != len - hdr_size,
		      AZ_ECORRUPT, "chunk %llu: header size %u / payload %u do not match %zu bytes",
		      (unsigned long long)seq, hdr_size, payload, len);
	if (s->chunk)
		TRY(s->chunk(s->ctx, seq, emit_ts));
	const uint8_t *p = chunk + hdr_size, *end = chunk + len;
	for (unsigned i = 0; i < n_sections; i++) {
		RETURN_ERR_IF((size_t)(end - p) < sizeof(struct itf_sec_hdr), AZ_ECORRUPT,
			      "chunk %llu: section %u header past the chunk end",
			      (unsigned long long)seq, i);
		uint16_t kind = itf_ld16(p);
		uint32_t size = itf_ld32(p + 4);
		uint32_t n_records = itf_ld32(p + 12);
		uint64_t ts_base = itf_ld64(p + 16);
		p += sizeof(struct itf_sec_hdr);
		RETURN_ERR_IF(size > (size_t)(end - p), AZ_ECORRUPT,
			      "chunk %llu: section %u of %u bytes past the chunk end",
			      (unsigned long long)seq, i, size);
		const uint8_t *send = p + size;
		if (kind == ITF_SEC_META)
			TRY(dec_section_meta(p, send, seq, i, chunk, n_records, s));
		else if (kind == ITF_SEC_EVENTS)
			TRY(dec_section_events(p, send, seq, i, chunk, ts_base, n_records, s));
		p = send; /* unknown kinds are skipped by size */
	}
	RETURN_ERR_IF(p != end, AZ_ECORRUPT, "chunk %llu: %zu bytes after the last section",
		      (unsigned long long)seq, (size_t)(end - p));
	return 0;
}
