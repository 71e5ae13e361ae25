/* main.c - the `analyze` command: parses argv, runs the analysis, picks the output format,
 * prints "analyze: ..." errors and chooses the exit status (0 success, 1 budget exceeded,
 * 2 usage error or unreadable/corrupt trace). The only file that prints to stderr or
 * exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "report.h"

#define EXIT_USAGE 2

static const char usage[] =
	"usage: analyze TRACE [--format FORMAT] [-o FILE] [--weight COST] [--top N]\n"
	"               [--no-symbols] [--explain]\n"
	"\n"
	"Reads a trace written by libintercept.so (build/intercept -- PROG, or\n"
	"LD_PRELOAD=build/libintercept.so PROG) and reports SQL hotspots (SQLite\n"
	"statements: time, percentiles, lock waits, full scans, N+1 queries,\n"
	"re-prepares), HTTP requests made through libcurl by endpoint (latency, phases,\n"
	"errors), lock contention (the pthread mutexes and rwlocks threads waited on, from\n"
	"where), allocation hotspots and leaks.\n"
	"\n"
	"  --format FORMAT  text (default: for a terminal), json (the schema in\n"
	"                   docs/report-json.md), or an export format (docs/formats.md):\n"
	"                   folded      flame graphs (speedscope, flamegraph.pl)\n"
	"                   pprof       gzipped profile.proto (go tool pprof, Pyroscope)\n"
	"                   chrome      trace event JSON (Perfetto UI)\n"
	"                   csv         one table per section (-o DIR: a file each)\n"
	"                   prometheus  text exposition of the run's totals\n"
	"                   sqlite      every section as tables (needs -o FILE)\n"
	"  --weight COST    folded: what a stack costs: bytes (allocated; default),\n"
	"                   count (allocations), leaked (bytes never freed),\n"
	"                   httptime (ns in HTTP requests), lockwait (ns waited for\n"
	"                   pthread locks); sqltime once that section exists\n"
	"  -o FILE          write the report to FILE instead of standard output\n"
	"  --top N          entries per section (text default 10, others all; never\n"
	"                   cuts folded, pprof or chrome)\n"
	"  --no-symbols     do not read debug information: modules and addresses only\n"
	"  --explain        show EXPLAIN QUERY PLAN for the SQL hotspots, run on the\n"
	"                   recorded database files opened read-only (never written);\n"
	"                   says when a file is gone or changed since the trace\n"
	"  -h, --help       this text\n"
	"  --version        the analyzer's and the trace format's versions\n"
	"\n"
	"A trace of a process that is still running or was killed is read up to its last\n"
	"flush and reported with \"complete\": false. Exit status: 0 success, 2 usage error\n"
	"or unreadable trace (one line on stderr starting with \"analyze: \").\n"
	"\n"
	"Environment: ANALYZE_MAX_MB (largest single allocation the analyzer makes,\n"
	"default 16384),\n"
	"ANALYZE_CHROME_MAX_SLICES (slices in --format chrome, default 100000).\n";

/* The formats. to_file writes to standard output or -o FILE; to_path needs -o (a database
 * or a directory) and is used whenever -o is given. */
static const struct {
	const char *name;
	int (*to_file)(struct report *, FILE *);
	int (*to_path)(struct report *, const char *);
	bool binary; /* never written to a terminal */
} formats[] = {
	{"text", fmt_text, NULL, false},
	{"json", fmt_json, NULL, false},
	{"folded", fmt_folded, NULL, false},
	{"pprof", fmt_pprof, NULL, true},
	{"chrome", fmt_chrome, NULL, false},
	{"csv", fmt_csv, fmt_csv_dir, false},
	{"prometheus", fmt_prometheus, NULL, false},
	{"sqlite", NULL, fmt_sqlite, true},
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

static int fail(const char *msg)
{
	fprintf(stderr, "analyze: %s\n", msg);
	return EXIT_USAGE;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > 1000000000ul || s[0] == '-')
		return -1;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *format = "text", *outpath = NULL;
	const char *traces[64];
	size_t n_traces = 0;
	struct az_options opt = {0};
	char msg[512];
	bool weight_given = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("analyze %s (trace format %u)\n", INTERCEPT_VERSION_STRING, 1u);
			return 0;
		} else if (!strcmp(a, "--format") || !strcmp(a, "-f")) {
			if (++i >= argc)
				return fail("--format needs a value (see analyze --help)");
			format = argv[i];
		} else if (!strncmp(a, "--format=", 9)) {
			format = a + 9;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (++i >= argc)
				return fail("-o needs a file name");
			outpath = argv[i];
		} else if (!strcmp(a, "--top")) {
			if (++i >= argc || parse_uint(argv[i], &opt.top))
				return fail("--top needs a whole number");
			opt.top_given = true;
		} else if (!strncmp(a, "--top=", 6)) {
			if (parse_uint(a + 6, &opt.top))
				return fail("--top needs a whole number");
			opt.top_given = true;
		} else if (!strcmp(a, "--weight") || !strncmp(a, "--weight=", 9)) {
			const char *v = a[8] == '=' ? a + 9 : ++i < argc ? argv[i] : NULL;
			if (!v)
				return fail("--weight needs a value (bytes, count, leaked, "
					    "httptime, lockwait, sqltime)");
			if (fmt_folded_weight(v, &opt.weight))
				return fail(az_error_msg());
			weight_given = true;
		} else if (!strcmp(a, "--no-symbols")) {
			opt.no_symbols = true;
		} else if (!strcmp(a, "--explain")) {
			opt.explain = true;
		} else if (!strcmp(a, "--")) {
			for (i++; i < argc && n_traces < 64; i++)
				traces[n_traces++] = argv[i];
		} else if (a[0] == '-' && a[1]) {
			snprintf(msg, sizeof(msg), "unknown option %s (see analyze --help)", a);
			return fail(msg);
		} else {
			if (n_traces == 64)
				return fail("too many traces (at most 64)");
			traces[n_traces++] = a;
		}
	}
	if (n_traces == 0)
		return fail("no trace given (usage: analyze TRACE [--format FORMAT] [-o FILE])");
	if (n_traces > 1)
		return fail("one trace at a time: merging several traces is not supported yet");
	size_t fi = 0;
	while (fi < N_FORMATS && strcmp(format, formats[fi].name))
		fi++;
	if (fi == N_FORMATS) {
		snprintf(msg, sizeof(msg), "unknown format '%s' (known: text, json, folded, pprof, "
					   "chrome, csv, prometheus, sqlite)", format);
		return fail(msg);
	}
	if (weight_given && strcmp(format, "folded"))
		return fail("--weight applies to --format folded only");
	if (!formats[fi].to_file && !outpath) {
		snprintf(msg, sizeof(msg), "--format %s needs -o FILE", format);
		return fail(msg);
	}
	if (formats[fi].binary && !outpath && isatty(STDOUT_FILENO)) {
		snprintf(msg, sizeof(msg), "--format %s is binary: use -o FILE or redirect "
					   "standard output", format);
		return fail(msg);
	}

	/* Each symbolized module keeps a descriptor or two open (symbolize.c): allow as many
	 * as the hard limit does. */
	struct rlimit nofile;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	struct report r;
	int rc = az_load(&r, traces[0], &opt);
	if (rc) {
		fprintf(stderr, "analyze: %s\n", az_error_msg());
		rp_free(&r);
		return EXIT_USAGE;
	}
	size_t warned = r.warnings.n;
	if (outpath && formats[fi].to_path) {
		rc = formats[fi].to_path(&r, outpath);
	} else {
		FILE *out = stdout;
		if (outpath && !(out = fopen(outpath, "w"))) {
			fprintf(stderr, "analyze: %s: %s\n", outpath, strerror(errno));
			rp_free(&r);
			return EXIT_USAGE;
		}
		rc = formats[fi].to_file(&r, out);
		if (fflush(out) || ferror(out))
			rc = rc ? rc : az_error(AZ_EIO, "writing the report failed");
		if (out != stdout)
			fclose(out);
	}
	/* what a format had to leave out, said once on stderr (its file says it too) */
	for (size_t i = warned; i < r.warnings.n; i++)
		fprintf(stderr, "analyze: warning: %s\n", r.warnings.v[i]);
	if (rc)
		fprintf(stderr, "analyze: %s\n", az_error_msg());
	rp_free(&r);
	return rc ? EXIT_USAGE : 0;
}
