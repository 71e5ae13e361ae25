/* trace.h - what a trace says about its process (trace.c): header, clock, modules by
 * generation, stacks, strings, threads, counters, completeness. Filled from META records;
 * read by aggregators and report building. */
#ifndef INTERCEPT_TRACE_H
#define INTERCEPT_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "util.h"

struct tr_module {
	uint32_t id;
	uint32_t gen_from; /* valid for stacks of generation >= gen_from ... */
	uint32_t gen_to;   /* ... and < gen_to (UINT32_MAX while loaded) */
	uint64_t bias, lo, hi;
	uint64_t load_ts, unload_ts;
	char *path;
	uint8_t build_id[64];
	size_t build_id_len;
};

struct tr_stack {
	uint32_t gen;
	uint32_t n;
	uint64_t *frames; /* NULL when the id was never defined */
};

struct tr_thread {
	uint32_t tid;
	char *name;
	uint64_t first_ts, last_ts;
	uint64_t events;
	bool exited;
};

struct tr_sync {
	uint64_t ts, mono; /* one CLOCK_SYNC pair */
};

struct trace {
	char *path;
	bool have_header;
	struct {
		uint32_t pid, ppid, clock, ts_shift, hooks, malloc_mode, stack_depth, flags;
		double clock_hz;
		uint64_t start_ts, start_mono_ns, start_realtime_ns, sample_bytes;
		char *command, *exe;
	} hdr;
	/* clock conversion: ns = (ts - ts0) * ns_per_tick + mono0 - start_mono_ns */
	VEC(struct tr_sync) syncs;
	double ns_per_tick;
	uint64_t conv_ts0, conv_mono0;

	VEC(struct tr_module) modules; /* by id - 1 */
	uint32_t cur_gen;
	VEC(struct tr_stack) stacks;   /* by id */
	VEC(char *) strings;	       /* by id; NULL when undefined */
	VEC(uint32_t) string_kinds;
	struct hmap threads;	       /* tid -> struct tr_thread */

	struct dec_counters counters;
	bool have_counters;
	bool complete;		      /* END record seen, or the trace ends with an EXEC */
	bool exec_last;		      /* an EXEC record with nothing after it (so far) */
	char *exec_path;	      /* the program exec'd, when exec_last */
	uint64_t end_ts;
	uint64_t first_ts, last_ts;   /* over events and clock syncs */
	uint64_t chunks, missing_chunks;
	uint64_t next_seq;
	uint64_t events;
	bool truncated;		      /* the file ended inside a frame */
	uint64_t file_bytes;	      /* size of the trace file as read */
};

int tr_init(struct trace *t, const char *path);
void tr_free(struct trace *t);

/*! tr_meta_sink() : fill *s with the callbacks that record META records into t (the event
 * callback is left NULL for the caller). */
void tr_meta_sink(struct trace *t, struct dec_sink *s);

/*! tr_note_event() : account an event (threads, first/last timestamps). */
void tr_note_event(struct trace *t, uint32_t tid, uint64_t ts);

/*! tr_finish_clock() : fit the clock (least squares over CLOCK_SYNC pairs, or the header
 * rate) once all syncs are read. Called before tr_ns() is used for output. */
void tr_finish_clock(struct trace *t);

/*! tr_ns() : a raw timestamp as nanoseconds since the start of tracing (may be negative for
 * events before the header's start: clamped to 0). */
uint64_t tr_ns(const struct trace *t, uint64_t ts);

/*! tr_ticks() : a duration in nanoseconds as raw clock units (for windows). */
uint64_t tr_ticks(const struct trace *t, uint64_t ns);

/*! tr_module_for() : the module that maps addr for a stack of generation gen (falls back to
 * any module that ever covered addr, latest first). @return NULL when none. */
const struct tr_module *tr_module_for(const struct trace *t, uint64_t addr, uint32_t gen);

/*! tr_stack_get() : stack id's definition, or NULL (unknown id, or never defined). */
const struct tr_stack *tr_stack_get(const struct trace *t, uint32_t id);

/*! tr_string() : string id's text, or NULL. */
const char *tr_string(const struct trace *t, uint32_t id);

/*! tr_finish() : settle completeness once every chunk is read (a trailing EXEC counts). */
void tr_finish(struct trace *t);

/*! tr_duration_ns() : from the start of tracing to the END record, or to the last thing the
 * trace shows when it is incomplete. */
uint64_t tr_duration_ns(const struct trace *t);

#endif /* INTERCEPT_TRACE_H */
