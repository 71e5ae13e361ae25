/* clock.c - owns the choice of clock source and its rough calibration. clk_init() runs in
 * the first hook or the constructor; clk_nominal_hz() and clk_sync() run on the writer.
 * Never: malloc, locks. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <time.h>

#include "clock.h"

bool clk_use_tsc;
static uint64_t init_ts, init_mono;

void clk_init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;
	/* CPUID 0x80000007 EDX bit 8: invariant TSC (constant rate, runs in deep C-states). */
	if (__get_cpuid_max(0x80000000u, 0) >= 0x80000007u &&
	    __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8)))
		clk_use_tsc = true;
#endif
	clk_sync(&init_ts, &init_mono);
}

void clk_sync(uint64_t *ts, uint64_t *mono_ns)
{
	uint64_t best_gap = UINT64_MAX;
	for (int i = 0; i < 5; i++) {
		uint64_t m0 = clk_mono_ns();
		uint64_t t = clk_now();
		uint64_t m1 = clk_mono_ns();
		if (m1 - m0 < best_gap) {
			best_gap = m1 - m0;
			*ts = t;
			*mono_ns = m0 + (m1 - m0) / 2;
		}
	}
}

double clk_nominal_hz(void)
{
	if (!clk_use_tsc)
		return 1e9;
	uint64_t ts, mono;
	clk_sync(&ts, &mono);
	if (mono - init_mono < 1000000) {
		struct timespec d = {0, 2000000};
		nanosleep(&d, NULL);
		clk_sync(&ts, &mono);
	}
	return (double)(ts - init_ts) * 1e9 / (double)(mono - init_mono);
}
