/* decode.h - decoding one chunk's sections and records (decode.c) into calls on a sink.
 * The decoder validates every length against the chunk's end and the format's bounds; it
 * keeps no state between chunks (chunks are self-contained, trace_format.h). */
#ifndef INTERCEPT_DECODE_H
#define INTERCEPT_DECODE_H

#include <stddef.h>
#include <stdint.h>

struct dec_header {
	uint32_t version, pid, ppid, clock, ts_shift;
	double clock_hz;
	uint64_t start_ts, start_mono_ns, start_realtime_ns;
	uint32_t hooks, malloc_mode, stack_depth, flags;
	const char *command; /* not NUL-terminated: use the lengths */
	size_t command_len;
	const char *exe;
	size_t exe_len;
	uint64_t sample_bytes;
};

struct dec_module {
	uint32_t id, gen;
	uint64_t ts, bias, lo, hi;
	const uint8_t *build_id;
	size_t build_id_len;
	const char *path;
	size_t path_len;
};

struct dec_counters {
	uint64_t ts, dropped_events, missed_events, stack_overflow, truncated_stacks,
		bytes_written, raw_bytes, lost_bytes, pool_bytes, wait_ns, events;
};

/* One event of an EVENTS section, in stream order. For ALLOC/FREE/REALLOC the fields are
 * decoded (REALLOC is the allocation half of a realloc; its old block was freed by a FREE
 * earlier in the stream); for hook types (0x20..0x7f) payload points at the bytes after
 * slot and dts, valid only during the call. */
struct dec_event {
	uint8_t type;
	uint32_t tid;
	uint64_t ts;	  /* ALLOC, REALLOC: after the call; FREE: before it */
	uint64_t ptr;	  /* the block */
	uint64_t size;	  /* ALLOC, REALLOC */
	uint32_t stack;	  /* ALLOC, REALLOC */
	const uint8_t *payload;
	size_t payload_len;
};

struct dec_sink {
	void *ctx;
	/* Each returns 0 to go on, or an AZ_* error (message set) to stop decoding. */
	int (*chunk)(void *ctx, uint64_t seq, uint64_t emit_ts);
	int (*header)(void *ctx, const struct dec_header *h);
	int (*clock_sync)(void *ctx, uint64_t ts, uint64_t mono_ns);
	int (*module_load)(void *ctx, const struct dec_module *m);
	int (*module_unload)(void *ctx, uint32_t id, uint64_t ts);
	int (*stack_def)(void *ctx, uint32_t id, uint32_t gen, const uint64_t *frames, uint32_t n);
	int (*string_def)(void *ctx, uint32_t id, uint32_t kind, const char *s, size_t len);
	int (*thread)(void *ctx, uint32_t tid, uint32_t state, uint64_t ts, const char *name,
		      size_t len);
	int (*counters)(void *ctx, const struct dec_counters *c);
	int (*end)(void *ctx, uint64_t ts, uint32_t reason);
	int (*exec)(void *ctx, uint64_t ts, const char *path, size_t len);
	/* An unknown META record type (>= 0x20): offered raw, for hooks' own META records. */
	int (*meta_other)(void *ctx, uint8_t type, const uint8_t *payload, size_t len);
	int (*event)(void *ctx, const struct dec_event *e);
};

/*! dec_chunk() : decode one chunk (as returned by rd_next()) into calls on sink.
 * @return 0, the first non-zero return of a sink callback, or AZ_ECORRUPT with a message
 * naming the chunk, section and offset. Never reads outside [chunk, chunk + len). */
int dec_chunk(const uint8_t *chunk, size_t len, const struct dec_sink *sink);

#endif /* INTERCEPT_DECODE_H */
