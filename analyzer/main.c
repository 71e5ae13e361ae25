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

#include "report.h"

#define EXIT_USAGE 2

static const char usage[] =
	"usage: analyze TRACE [--format FORMAT] [-o FILE] [--top N] [--no-symbols]\n"
	"\n"
	"Reads a trace written by libintercept.so (build/intercept -- PROG, or\n"
	"LD_PRELOAD=build/libintercept.so PROG) and reports allocation hotspots and leaks.\n"
	"\n"
	"  --format FORMAT  text (default: for a terminal) or json (the schema in\n"
	"                   docs/report-json.md)\n"
	"  -o FILE          write the report to FILE instead of standard output\n"
	"  --top N          entries per section (text default 10; JSON default all)\n"
	"  --no-symbols     do not read debug information: modules and addresses only\n"
	"  -h, --help       this text\n"
	"  --version        the analyzer's and the trace format's versions\n"
	"\n"
	"A trace of a process that is still running or was killed is read up to its last\n"
	"flush and reported with \"complete\": false. Exit status: 0 success, 2 usage error\n"
	"or unreadable trace (one line on stderr starting with \"analyze: \").\n"
	"\n"
	"Environment: ANALYZE_SLACK_MS (merge window slack, default 50), ANALYZE_MAX_MB\n"
	"(largest single allocation the analyzer makes, default 16384).\n";

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
				return fail("--format needs a value (text or json)");
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
		} else if (!strcmp(a, "--no-symbols")) {
			opt.no_symbols = true;
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
		return fail("no trace given (usage: analyze TRACE [--format text|json])");
	if (n_traces > 1)
		return fail("one trace at a time: merging several traces is not supported yet");
	int (*fmt)(struct report *, FILE *) = NULL;
	if (!strcmp(format, "text"))
		fmt = fmt_text;
	else if (!strcmp(format, "json"))
		fmt = fmt_json;
	if (!fmt) {
		snprintf(msg, sizeof(msg), "unknown format '%s' (known: text, json)", format);
		return fail(msg);
	}
	const char *slack = getenv("ANALYZE_SLACK_MS");
	if (slack)
		opt.slack_ms = strtoull(slack, NULL, 10);

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
	FILE *out = stdout;
	if (outpath && !(out = fopen(outpath, "w"))) {
		fprintf(stderr, "analyze: %s: %s\n", outpath, strerror(errno));
		rp_free(&r);
		return EXIT_USAGE;
	}
	rc = fmt(&r, out);
	if (fflush(out) || ferror(out))
		rc = rc ? rc : az_error(AZ_EIO, "writing the report failed");
	if (out != stdout)
		fclose(out);
	if (rc)
		fprintf(stderr, "analyze: %s\n", az_error_msg());
	rp_free(&r);
	return rc ? EXIT_USAGE : 0;
}
