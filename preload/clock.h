/* clock.h - event timestamps (clock.c picks the source once). The TSC is read with the
 * ordering each event needs: a free's timestamp must precede the real free's stores, an
 * allocation's must follow the real allocation's loads, so that a block passed between
 * threads is freed before it is allocated again in timestamp order (trace_format.h,
 * ITF_EV_FREE). rdtsc ~ 11 ns, clock_gettime ~ 26 ns here (../shared/NOTES.md). */
#ifndef INTERCEPT_CLOCK_H
#define INTERCEPT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ic.h"

extern bool clk_use_tsc; /* set once by clk_init(); read-only afterwards */

static inline uint64_t clk_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*! clk_before() : timestamp for an event about to happen: later instructions do not start
 * before the clock is read (rdtsc; lfence). Hook-path safe. */
IC_INLINE uint64_t clk_before(void)
{
	if (IC_LIKELY(clk_use_tsc)) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc\n\tlfence" : "=a"(lo), "=d"(hi)::"memory");
		return ((uint64_t)hi << 32) | lo;
	}
	return clk_mono_ns();
}

/*! clk_after() : timestamp for an event that just happened: read after every earlier
 * instruction has executed and its loads are visible (rdtscp). Hook-path safe. */
IC_INLINE uint64_t clk_after(void)
{
	if (IC_LIKELY(clk_use_tsc)) {
		uint32_t lo, hi, aux;
		__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
		return ((uint64_t)hi << 32) | lo;
	}
	return clk_mono_ns();
}

/*! clk_fenced() : a timestamp read after every earlier instruction and before any later
 * one starts (rdtscp; lfence): the writer's drain cutoff, which must precede its reads of
 * the rings' positions. */
IC_INLINE uint64_t clk_fenced(void)
{
	if (IC_LIKELY(clk_use_tsc)) {
		uint32_t lo, hi, aux;
		__asm__ volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
		return ((uint64_t)hi << 32) | lo;
	}
	return clk_mono_ns();
}

/*! clk_fast() : a timestamp for a duration measured on one thread around a call (an SQL
 * step): plain rdtsc, no fence (a fence costs 10-20 ns here, the call it brackets runs
 * for hundreds). Not for events whose order across threads matters. Hook-path safe. */
IC_INLINE uint64_t clk_fast(void)
{
	if (IC_LIKELY(clk_use_tsc)) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
		return ((uint64_t)hi << 32) | lo;
	}
	return clk_mono_ns();
}

/*! clk_now() : a timestamp with no ordering requirement (writer, durations). */
IC_INLINE uint64_t clk_now(void)
{
	return clk_after();
}

/*! clk_init() : choose the TSC when the CPU says it is invariant, else CLOCK_MONOTONIC.
 * Idempotent. */
void clk_init(void);

/*! clk_nominal_hz() : clock units per second, estimated over the time since clk_init()
 * (at least ~1 ms of it, sleeping if needed); exact for CLOCK_MONOTONIC. The analyzer
 * refines it with CLOCK_SYNC pairs. */
double clk_nominal_hz(void);

/*! clk_sync() : read the clock and CLOCK_MONOTONIC back to back, the pair with the smaller
 * gap of a few tries. */
void clk_sync(uint64_t *ts, uint64_t *mono_ns);

#endif /* INTERCEPT_CLOCK_H */
