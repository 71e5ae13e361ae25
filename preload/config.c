/* config.c - owns the opt_* knobs and their INTERCEPT_* environment variables. Runs once,
 * from the first hook or the constructor, on whichever thread gets there first (init.c
 * serializes it). Never: malloc (getenv only), stdio, exit on a bad value. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "config.h"
#include "ic.h"
#include "intercept/trace_format.h"

char opt_output[PATH_MAX] = "intercept-%p.zst";
unsigned opt_hooks = ITF_HOOK_ALL;
unsigned opt_malloc = ITF_MALLOC_FULL;
uint64_t opt_max_mb = 0;
unsigned opt_stack_depth = 64;
unsigned opt_flush_ms = 200;
bool opt_drop = false;
unsigned opt_buffer_kb = 512;
unsigned opt_pool_mb = 1024;
int opt_zstd_level = 3;
unsigned opt_max_stacks = 1u << 20;
unsigned opt_snapshot_ms = 1000;
uint64_t opt_sample_bytes = 0;
bool opt_quiet = false;
bool opt_url_query = false;
bool opt_lock_count = false;
bool opt_sql_literals = false;
bool opt_secure = false;

/* parse_u() : whole decimal number in [lo, hi]. @return 0 or -EINVAL. */
static int parse_u(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static void knob_u(const char *name, unsigned *dst, uint64_t lo, uint64_t hi)
{
	const char *s = getenv(name);
	uint64_t v;
	if (!s)
		return;
	if (parse_u(s, lo, hi, &v)) {
		ic_log("%s=%s is not a number in %lu..%lu; using %u", name, s, (unsigned long)lo,
		       (unsigned long)hi, *dst);
		return;
	}
	*dst = (unsigned)v;
}

static void knob_bool(const char *name, bool *dst)
{
	const char *s = getenv(name);
	if (!s)
		return;
	if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "true"))
		*dst = true;
	else if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "false"))
		*dst = false;
	else
		ic_log("%s=%s is not 0 or 1; using %d", name, s, (int)*dst);
}

/* parse_hooks() : "malloc,sqlite,curl,lock" (any subset, "all" or "none"). */
static void knob_hooks(void)
{
	const char *s = getenv("INTERCEPT_HOOKS");
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{"malloc", ITF_HOOK_MALLOC}, {"sqlite", ITF_HOOK_SQLITE}, {"curl", ITF_HOOK_CURL},
		{"lock", ITF_HOOK_LOCK},     {"all", ITF_HOOK_ALL},	  {"none", 0},
	};
	if (!s)
		return;
	unsigned mask = 0;
	const char *p = s;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		bool found = false;
		for (size_t i = 0; i < IC_ARRAY_LEN(names); i++) {
			if (strlen(names[i].name) == len && !strncmp(p, names[i].name, len)) {
				mask |= names[i].bit;
				found = true;
			}
		}
		if (!found && len) {
			ic_log("INTERCEPT_HOOKS=%s: unknown hook in the list (known: "
			       "malloc,sqlite,curl,lock); using all",
			       s);
			return;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	opt_hooks = mask;
}

static void knob_malloc(void)
{
	const char *s = getenv("INTERCEPT_MALLOC");
	if (!s)
		return;
	if (!strcmp(s, "full"))
		opt_malloc = ITF_MALLOC_FULL;
	else if (!strcmp(s, "summary"))
		opt_malloc = ITF_MALLOC_SUMMARY;
	else
		ic_log("INTERCEPT_MALLOC=%s is not full or summary; using full", s);
}

static void knob_output(void)
{
	const char *s = getenv("INTERCEPT_OUTPUT");
	if (!s)
		return;
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(opt_output) - 16) {
		ic_log("INTERCEPT_OUTPUT is empty or too long; using %s", opt_output);
		return;
	}
	memcpy(opt_output, s, n + 1);
}

static void knob_level(void)
{
	const char *s = getenv("INTERCEPT_ZSTD_LEVEL");
	uint64_t v;
	if (!s)
		return;
	bool neg = s[0] == '-';
	if (parse_u(s + neg, neg ? 1 : 1, neg ? 7 : 19, &v)) {
		ic_log("INTERCEPT_ZSTD_LEVEL=%s is not in -7..19 (0 excluded); using %d", s,
		       opt_zstd_level);
		return;
	}
	opt_zstd_level = neg ? -(int)v : (int)v;
}

/* knob_endurance() : the snapshot interval and byte sampling (docs/endurance.md). Summary
 * mode, the flight recorder and sampling all rest on snapshots, so they cannot be off then. */
static void knob_endurance(void)
{
	const char *s = getenv("INTERCEPT_SNAPSHOT_MS");
	uint64_t v;
	if (s && (parse_u(s, 0, 3600000, &v) || (v && v < 10)))
		ic_log("INTERCEPT_SNAPSHOT_MS=%s is not 0 or a number in 10..3600000; using %u", s,
		       opt_snapshot_ms);
	else if (s)
		opt_snapshot_ms = (unsigned)v;
	s = getenv("INTERCEPT_SAMPLE");
	if (s && parse_u(s, 0, 1ull << 40, &v))
		ic_log("INTERCEPT_SAMPLE=%s is not a number of bytes; using 0 (every allocation)",
		       s);
	else if (s)
		opt_sample_bytes = v;
	if (!opt_snapshot_ms &&
	    (opt_malloc == ITF_MALLOC_SUMMARY || opt_max_mb || opt_sample_bytes)) {
		ic_log("INTERCEPT_SNAPSHOT_MS=0 cannot be used with summary mode, INTERCEPT_MAX_MB "
		       "or INTERCEPT_SAMPLE (they rest on snapshots); using 1000");
		opt_snapshot_ms = 1000;
	}
}

void cfg_load(void)
{
	static bool loaded;
	if (loaded)
		return;
	loaded = true;
	knob_bool("INTERCEPT_QUIET", &opt_quiet);
	/* Secure-execution mode (setuid, file capabilities): the environment is not the
	 * user's to trust, and a trace of a privileged process must not be written where an
	 * unprivileged user points. Record nothing. */
	if (getauxval(AT_SECURE)) {
		opt_secure = true;
		opt_quiet = false;
		return;
	}
	knob_output();
	knob_hooks();
	knob_malloc();
	{
		const char *s = getenv("INTERCEPT_MAX_MB");
		uint64_t v;
		if (s && parse_u(s, 0, 1u << 30, &v))
			ic_log("INTERCEPT_MAX_MB=%s is not a number of MiB; using 0 (no bound)", s);
		else if (s)
			opt_max_mb = v;
	}
	knob_endurance();
	knob_u("INTERCEPT_STACK_DEPTH", &opt_stack_depth, 1, 256);
	knob_u("INTERCEPT_FLUSH_MS", &opt_flush_ms, 10, 1000);
	knob_bool("INTERCEPT_DROP", &opt_drop);
	knob_u("INTERCEPT_BUFFER_KB", &opt_buffer_kb, 64, 64 * 1024);
	knob_u("INTERCEPT_POOL_MB", &opt_pool_mb, 16, 64 * 1024);
	knob_level();
	knob_u("INTERCEPT_MAX_STACKS", &opt_max_stacks, 1024, 1u << 26);
	knob_bool("INTERCEPT_URL_QUERY", &opt_url_query);
	knob_bool("INTERCEPT_LOCK_COUNT", &opt_lock_count);
	knob_bool("INTERCEPT_SQL_LITERALS", &opt_sql_literals);
	/* rings are a power of two so that positions wrap with a mask */
	unsigned kb = 64;
	while (kb < opt_buffer_kb)
		kb <<= 1;
	opt_buffer_kb = kb;
}

int cfg_trace_path(char *buf, unsigned cap, int pid, bool is_fork_child)
{
	char pidbuf[16];
	size_t pidlen = ic_fmt(pidbuf, sizeof(pidbuf), "%d", pid);
	size_t o = 0;
	bool had_pid = false;
	for (const char *p = opt_output; *p; p++) {
		const char *ins = p;
		size_t len = 1;
		if (p[0] == '%' && p[1] == 'p') {
			ins = pidbuf;
			len = pidlen;
			had_pid = true;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			p++;
		}
		if (o + len + 1 > cap)
			return -ENAMETOOLONG;
		memcpy(buf + o, ins, len);
		o += len;
	}
	buf[o] = '\0';
	if (is_fork_child && !had_pid) {
		/* trace.zst -> trace.<pid>.zst; anything else -> name.<pid> */
		size_t stem = o;
		if (o >= 4 && !strcmp(buf + o - 4, ".zst"))
			stem = o - 4;
		if (o + pidlen + 2 > cap)
			return -ENAMETOOLONG;
		memmove(buf + stem + 1 + pidlen, buf + stem, o - stem + 1);
		buf[stem] = '.';
		memcpy(buf + stem + 1, pidbuf, pidlen);
	}
	return 0;
}
