/* main.c - the `analyze` command: parses argv, runs the analysis, picks the output format,
 * prints "analyze: ..." errors and chooses the exit status (0 success, 1 budget exceeded,
 * 2 usage error or unreadable/corrupt trace). The only file that prints to stderr or
 * exits. Three forms: `analyze TRACE...` (a report; several traces are merged),
 * `analyze diff BASE NEW` (diff.c) and `analyze check TRACE --budget FILE` (check.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "diff.h"
#include "model.h"
#include "report.h"

#define EXIT_BREACH 1
#define EXIT_USAGE 2
#define MAX_TRACES 64

static const char usage[] =
	"usage: analyze TRACE... [--format FORMAT] [-o FILE] [--weight COST] [--top N]\n"
	"               [--no-symbols] [--explain] [--between T1 T2]\n"
	"       analyze --follow TRACE [--refresh SECONDS] [--top N]\n"
	"       analyze diff BASE NEW [--format text|json] [-o FILE] [--top N]\n"
	"       analyze check TRACE... --budget FILE\n"
	"\n"
	"Reads traces written by libintercept.so (build/intercept -- PROG, or\n"
	"LD_PRELOAD=build/libintercept.so PROG) and reports SQL hotspots (SQLite\n"
	"statements: time, percentiles, lock waits, full scans, N+1 queries,\n"
	"re-prepares), HTTP requests made through libcurl by endpoint (latency, phases,\n"
	"errors), lock contention (the pthread mutexes and rwlocks threads waited on,\n"
	"from where), allocation hotspots and leaks.\n"
	"Several traces (a parent and its forked children) are merged into one report\n"
	"that keeps per-process totals (\"processes\"; docs/reports.md).\n"
	"\n"
	"  --format FORMAT  text (default: for a terminal), json (the schema in\n"
	"                   docs/report-json.md), or (docs/reports.md, docs/formats.md):\n"
	"                   html        one self-contained page: tables, flame graphs,\n"
	"                               heap over time (open it in a browser)\n"
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
	"  --top N          entries per section (text default 10, html tables 500, others\n"
	"                   all; never cuts folded, pprof, chrome or html flame graphs)\n"
	"  --no-symbols     do not read debug information: modules and addresses only\n"
	"  --explain        show EXPLAIN QUERY PLAN for the SQL hotspots, run on the\n"
	"                   recorded database files opened read-only (never written);\n"
	"                   says when a file is gone or changed since the trace\n"
	"  --between T1 T2  also report what grew between two moments of the run:\n"
	"                   times since the start (90, 90s, 1500ms, 2m, 1h; T2: or end)\n"
	"  --follow         watch a trace being written: print the growth report every\n"
	"                   --refresh seconds (default 2) until the process exits (its\n"
	"                   trace ends) or is gone (killed: its pid no longer exists)\n"
	"  -h, --help       this text\n"
	"  --version        the analyzer's and the trace format's versions\n"
	"\n"
	"diff BASE NEW: what got slower or grew from BASE to NEW, per SQL statement,\n"
	"  HTTP endpoint, lock and allocation site, in absolute and relative terms.\n"
	"  BASE and NEW are traces or JSON reports (analyze --format json).\n"
	"check TRACE... --budget FILE: compare the report with the maxima in FILE, a JSON\n"
	"  object such as {\"leaks.bytes\": 0, \"sql.p95_ns\": 5000000,\n"
	"  \"http[/checkout].p99_ns\": 250000000}; one line per breach on standard output;\n"
	"  exit 1 if any. TRACE may also be a JSON report. Keys: docs/reports.md.\n"
	"\n"
	"A trace of a process that is still running or was killed is read up to its last\n"
	"flush and reported with \"complete\": false. The growth section (live heap\n"
	"over time by site, growth rate, verdict growing / plateau / noise) needs heap\n"
	"snapshots (written by default; INTERCEPT_MALLOC=summary writes only them) or\n"
	"allocation events: docs/endurance.md. Exit status: 0 success, 1 a budget\n"
	"was exceeded (check), 2 usage error, bad budget file or unreadable trace (one\n"
	"line on stderr starting with \"analyze: \").\n"
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
	{"html", fmt_html, NULL, false},
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

static int fail_az(void)
{
	fprintf(stderr, "analyze: %s\n", az_error_msg());
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

/* parse_time() : "90", "90s", "1500ms", "250us", "2m", "1h" (a decimal number and a unit,
 * seconds by default) as nanoseconds; "end" (when end_ok) as UINT64_MAX. @return 0 or -1. */
static int parse_time(const char *s, bool end_ok, uint64_t *out)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"", 1e9}, {"s", 1e9},   {"ms", 1e6},  {"us", 1e3},
		     {"ns", 1}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}};
	if (end_ok && !strcmp(s, "end")) {
		*out = UINT64_MAX;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || v > 1e12)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			*out = (uint64_t)(v * units[i].ns);
			return 0;
		}
	}
	return -1;
}

struct args {
	const char *format, *outpath, *budget;
	bool weight_given;
	bool follow;	    /* --follow */
	unsigned refresh_s; /* --refresh, 0: the default */
	const char *traces[MAX_TRACES];
	size_t n_traces;
	struct az_options opt;
};

/* parse_args() : the options every form shares. @return 0, or an exit status (help and
 * version print and return -1 meaning "exit 0"). */
static int parse_args(int argc, char **argv, int first, struct args *a)
{
	char msg[512];
	for (int i = first; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			fputs(usage, stdout);
			return -1;
		} else if (!strcmp(s, "--version")) {
			printf("analyze %s (trace format %u)\n", INTERCEPT_VERSION_STRING, 1u);
			return -1;
		} else if (!strcmp(s, "--format") || !strcmp(s, "-f")) {
			if (++i >= argc)
				return fail("--format needs a value (see analyze --help)");
			a->format = argv[i];
		} else if (!strncmp(s, "--format=", 9)) {
			a->format = s + 9;
		} else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
			if (++i >= argc)
				return fail("-o needs a file name");
			a->outpath = argv[i];
		} else if (!strcmp(s, "--budget")) {
			if (++i >= argc)
				return fail("--budget needs a file name");
			a->budget = argv[i];
		} else if (!strncmp(s, "--budget=", 9)) {
			a->budget = s + 9;
		} else if (!strcmp(s, "--top")) {
			if (++i >= argc || parse_uint(argv[i], &a->opt.top))
				return fail("--top needs a whole number");
			a->opt.top_given = true;
		} else if (!strncmp(s, "--top=", 6)) {
			if (parse_uint(s + 6, &a->opt.top))
				return fail("--top needs a whole number");
			a->opt.top_given = true;
		} else if (!strcmp(s, "--weight") || !strncmp(s, "--weight=", 9)) {
			const char *v = s[8] == '=' ? s + 9 : ++i < argc ? argv[i] : NULL;
			if (!v)
				return fail("--weight needs a value (bytes, count, leaked, "
					    "httptime, lockwait, sqltime)");
			if (fmt_folded_weight(v, &a->opt.weight))
				return fail_az();
			a->weight_given = true;
		} else if (!strcmp(s, "--no-symbols")) {
			a->opt.no_symbols = true;
		} else if (!strcmp(s, "--explain")) {
			a->opt.explain = true;
		} else if (!strcmp(s, "--between")) {
			if (i + 2 >= argc || parse_time(argv[i + 1], false, &a->opt.between_t1_ns) ||
			    parse_time(argv[i + 2], true, &a->opt.between_t2_ns))
				return fail("--between needs two times (90, 90s, 1500ms, 2m, 1h; "
					    "the second may be 'end')");
			if (a->opt.between_t2_ns <= a->opt.between_t1_ns)
				return fail("--between T1 T2: T2 must be later than T1");
			a->opt.between = true;
			i += 2;
		} else if (!strcmp(s, "--follow")) {
			a->follow = true;
		} else if (!strcmp(s, "--refresh")) {
			if (++i >= argc || parse_uint(argv[i], &a->refresh_s) || !a->refresh_s ||
			    a->refresh_s > 3600)
				return fail("--refresh needs a number of seconds, 1..3600");
		} else if (!strcmp(s, "--")) {
			for (i++; i < argc; i++) {
				if (a->n_traces == MAX_TRACES)
					return fail("too many traces (at most 64)");
				a->traces[a->n_traces++] = argv[i];
			}
		} else if (s[0] == '-' && s[1]) {
			snprintf(msg, sizeof(msg), "unknown option %s (see analyze --help)", s);
			return fail(msg);
		} else {
			if (a->n_traces == MAX_TRACES)
				return fail("too many traces (at most 64)");
			a->traces[a->n_traces++] = s;
		}
	}
	/* Each symbolized module keeps a descriptor or two open (symbolize.c): allow as many
	 * as the hard limit does. */
	struct rlimit nofile;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	return 0;
}

/* open_out() : -o FILE or stdout. @return NULL after printing the error. */
static FILE *open_out(const char *path)
{
	FILE *out = path ? fopen(path, "w") : stdout;
	if (!out)
		fprintf(stderr, "analyze: %s: %s\n", path, strerror(errno));
	return out;
}

/* close_out() : flush and close; rc is the writer's result. @return the exit status. */
static int close_out(FILE *out, int rc)
{
	if (fflush(out) || ferror(out))
		rc = rc ? rc : az_error(AZ_EIO, "writing the report failed");
	if (out != stdout)
		fclose(out);
	return rc ? fail_az() : 0;
}

static int cmd_check(int argc, char **argv)
{
	struct args a = {0};
	struct ck_budget b;
	struct jv_doc doc;
	int rc = parse_args(argc, argv, 2, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!a.budget)
		return fail("check needs --budget FILE (usage: analyze check TRACE --budget FILE)");
	if (!a.n_traces)
		return fail("check needs a trace (usage: analyze check TRACE --budget FILE)");
	if (a.format || a.outpath || a.weight_given)
		return fail("check takes no --format, -o or --weight: breaches go to standard "
			    "output");
	if (ck_load(&b, a.budget))
		return fail_az();
	if (md_load(a.traces, a.n_traces, &a.opt, &doc)) {
		ck_free(&b);
		return fail_az();
	}
	rc = ck_run(&b, doc.root, stdout);
	for (size_t i = 0; rc >= 0 && i < b.notes.n; i++)
		fprintf(stderr, "analyze: warning: %s\n", b.notes.v[i]);
	jv_free(&doc);
	ck_free(&b);
	if (fflush(stdout))
		return fail("writing to standard output failed");
	return rc < 0 ? fail_az() : rc > 0 ? EXIT_BREACH : 0;
}

static int cmd_diff(int argc, char **argv)
{
	struct args a = {0};
	struct jv_doc base, neu;
	int rc = parse_args(argc, argv, 2, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (a.n_traces != 2)
		return fail("diff compares two reports (usage: analyze diff BASE NEW)");
	bool json = a.format && !strcmp(a.format, "json");
	if ((a.format && !json && strcmp(a.format, "text")) || a.weight_given)
		return fail("diff writes text or json (--format text|json; no --weight)");
	if (md_load(&a.traces[0], 1, &a.opt, &base))
		return fail_az();
	if (md_load(&a.traces[1], 1, &a.opt, &neu)) {
		jv_free(&base);
		return fail_az();
	}
	FILE *out = open_out(a.outpath);
	if (out) {
		struct df_options o = {.json = json,
				       .top = a.opt.top,
				       .top_given = a.opt.top_given,
				       .base_name = a.traces[0],
				       .new_name = a.traces[1]};
		rc = close_out(out, df_run(base.root, neu.root, &o, out));
	} else {
		rc = EXIT_USAGE;
	}
	jv_free(&base);
	jv_free(&neu);
	return rc;
}

static bool pid_gone(uint32_t pid)
{
	return pid && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* follow() : analyze --follow. Each round reads the whole trace again (a flight recorder
 * replaces its file; summary traces are small) and prints the growth section, until the
 * trace is complete or its process is gone. */
static int follow(const char *path, const struct az_options *opt, unsigned refresh_s)
{
	bool tty = isatty(STDOUT_FILENO);
	int waited = 0;
	for (;;) {
		struct report r;
		az_error_clear();
		int rc = az_load(&r, path, opt);
		if (rc) {
			/* not there yet, or no header flushed yet: a process just started */
			if (waited < 30 &&
			    (rc == AZ_EIO || rc == AZ_ECORRUPT || rc == AZ_ENOTTRACE)) {
				rp_free(&r);
				waited += (int)refresh_s;
				sleep(refresh_s);
				continue;
			}
			rp_free(&r);
			return fail_az();
		}
		bool done = r.tr.complete && !r.tr.truncated;
		uint32_t pid = r.tr.hdr.pid;
		bool gone = !done && pid_gone(pid);
		char b1[32];
		time_t now = time(NULL);
		struct tm tm;
		char clock[16] = "";
		if (localtime_r(&now, &tm))
			strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		printf("%s  %s (pid %u, %s): %s\n", clock, path, pid,
		       fmt_ns(b1, sizeof(b1), (double)tr_duration_ns(&r.tr)),
		       done   ? "the process has exited; final report"
		       : gone ? "the process is gone without ending its trace (killed?); last state"
			      : "running");
		if (r.growth.present)
			fmt_text_growth(stdout, &r);
		else
			printf("  no heap snapshots yet\n");
		if (!tty)
			printf("\n");
		fflush(stdout);
		rp_free(&r);
		if (done || gone)
			return 0;
		sleep(refresh_s);
	}
}

static int cmd_report(int argc, char **argv)
{
	struct args a = {0};
	char msg[512];
	int rc = parse_args(argc, argv, 1, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (a.n_traces == 0)
		return fail("no trace given (usage: analyze TRACE [--format FORMAT] [-o FILE])");
	if (a.follow) {
		if ((a.format && strcmp(a.format, "text")) || a.outpath || a.n_traces > 1)
			return fail("--follow watches one trace and prints text (no --format, no -o)");
		return follow(a.traces[0], &a.opt, a.refresh_s ? a.refresh_s : 2);
	}
	if (a.opt.between && a.n_traces > 1)
		return fail("--between reads one trace (the growth of each process: analyze "
			    "each trace)");
	const char *format = a.format ? a.format : "text";
	size_t fi = 0;
	while (fi < N_FORMATS && strcmp(format, formats[fi].name))
		fi++;
	if (fi == N_FORMATS) {
		snprintf(msg, sizeof(msg), "unknown format '%s' (known: text, json, html, folded, "
					   "pprof, chrome, csv, prometheus, sqlite)",
			 format);
		return fail(msg);
	}
	if (a.weight_given && strcmp(format, "folded"))
		return fail("--weight applies to --format folded only");
	if (!formats[fi].to_file && !a.outpath) {
		snprintf(msg, sizeof(msg), "--format %s needs -o FILE", format);
		return fail(msg);
	}
	if (formats[fi].binary && !a.outpath && isatty(STDOUT_FILENO)) {
		snprintf(msg, sizeof(msg), "--format %s is binary: use -o FILE or redirect "
					   "standard output",
			 format);
		return fail(msg);
	}
	struct report r;
	rc = a.n_traces == 1 ? az_load(&r, a.traces[0], &a.opt)
			     : az_load_many(&r, a.traces, a.n_traces, &a.opt);
	if (rc) {
		rp_free(&r);
		return fail_az();
	}
	size_t warned = r.warnings.n;
	if (a.outpath && formats[fi].to_path) {
		rc = formats[fi].to_path(&r, a.outpath) ? fail_az() : 0;
	} else {
		FILE *out = open_out(a.outpath);
		rc = out ? close_out(out, formats[fi].to_file(&r, out)) : EXIT_USAGE;
	}
	/* what a format had to leave out, said once on stderr (its file says it too) */
	for (size_t i = warned; i < r.warnings.n; i++)
		fprintf(stderr, "analyze: warning: %s\n", r.warnings.v[i]);
	rp_free(&r);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return cmd_diff(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "check"))
		return cmd_check(argc, argv);
	return cmd_report(argc, argv);
}
