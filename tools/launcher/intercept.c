/* intercept.c - the `intercept` launcher: turns its options into the INTERCEPT_*
 * environment (docs/configuration.md), puts libintercept.so (found next to this program)
 * in front of LD_PRELOAD, checks that the program can be profiled at all, and execs it.
 * Runs before the profiled program exists; the only place besides the preload that reads
 * the INTERCEPT_* names, which it only sets. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: intercept [OPTIONS] -- PROG [ARGS...]\n"
	"\n"
	"Runs PROG with libintercept.so preloaded; PROG writes a trace that `analyze TRACE`\n"
	"turns into a report: allocations and leaks, and the SQLite statements it runs\n"
	"through the shared libsqlite3. Forked children write their own traces; exec'd\n"
	"programs are traced too (LD_PRELOAD is kept).\n"
	"\n"
	"Options (each sets the environment variable in brackets):\n"
	"  -o, --output PATH     trace file; %p becomes the pid [INTERCEPT_OUTPUT]\n"
	"                        (default intercept-%p.zst in the working directory)\n"
	"  --hooks LIST          what to record: comma list of malloc,sqlite,curl,lock,\n"
	"                        or all / none [INTERCEPT_HOOKS] (default all)\n"
	"  --malloc MODE         full: every allocation and free; summary: only per-site\n"
	"                        heap snapshots and the live set at exit, for long runs\n"
	"                        (the trace grows with sites x time, not allocations)\n"
	"                        [INTERCEPT_MALLOC] (default full)\n"
	"  --max-mb N            flight recorder: keep the trace under N MiB, dropping\n"
	"                        the oldest events, never the snapshots, so leaks and\n"
	"                        totals stay exact [INTERCEPT_MAX_MB] (0: no bound)\n"
	"  --snapshot-ms N       heap snapshot interval, 10..3600000 ms, 0: none (full\n"
	"                        mode only) [INTERCEPT_SNAPSHOT_MS] (1000)\n"
	"  --sample N            record allocations by Poisson sampling, one per N bytes\n"
	"                        on average; reports give unbiased estimates\n"
	"                        [INTERCEPT_SAMPLE] (default 0: every allocation)\n"
	"  --stack-depth N       frames kept per stack, 1..256 [INTERCEPT_STACK_DEPTH] (64)\n"
	"  --flush-ms N          longest time between flushes, 10..1000\n"
	"                        [INTERCEPT_FLUSH_MS] (200)\n"
	"  --drop                when buffers are full, drop and count events instead of\n"
	"                        making the program wait [INTERCEPT_DROP=1]\n"
	"  --buffer-kb N         per-thread buffer size [INTERCEPT_BUFFER_KB] (512)\n"
	"  --pool-mb N           bound on all per-thread buffers [INTERCEPT_POOL_MB] (1024)\n"
	"  --zstd-level N        compression level, -7..19 [INTERCEPT_ZSTD_LEVEL] (3)\n"
	"  --max-stacks N        distinct stacks kept [INTERCEPT_MAX_STACKS] (1048576)\n"
	"  --lock-count          also count every pthread mutex and rwlock acquisition,\n"
	"                        per lock: contention as a share of acquisitions\n"
	"                        (a few ns per lock more) [INTERCEPT_LOCK_COUNT=1]\n"
	"  --sql-literals        keep literal values in recorded SQL text (by default\n"
	"                        they become ?: values never reach the trace)\n"
	"                        [INTERCEPT_SQL_LITERALS=1]\n"
	"  -q, --quiet           no \"intercept:\" messages from the profiled program\n"
	"                        [INTERCEPT_QUIET=1]\n"
	"  --url-query           keep query strings of HTTP URLs in the trace (credentials\n"
	"                        are always removed) [INTERCEPT_URL_QUERY=1]\n"
	"  -h, --help            this text\n"
	"\n"
	"A bad value is reported once by the profiled program as \"intercept: ...\" and the\n"
	"default is used. Statically linked and setuid/setgid programs cannot be profiled\n"
	"(the loader does not preload into them): intercept says so and exits with 2.\n"
	"\n"
	"Examples:\n"
	"  intercept -o trace.zst -- ./app --flag && analyze trace.zst\n"
	"  intercept -o svc.zst --malloc summary -- ./service &   # hours or days\n"
	"  analyze --follow svc.zst                               # what grows, live\n";

static int die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "intercept: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return code;
}

/* find_in_path() : execvp's search, done by hand so that the ELF checks see the file. */
static int find_in_path(const char *prog, char *out, size_t cap)
{
	if (strchr(prog, '/')) {
		if (strlen(prog) >= cap)
			return -1;
		strcpy(out, prog);
		return access(out, X_OK);
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (snprintf(out, cap, "%.*s/%s", (int)len, len ? p : ".", prog) < (int)cap &&
		    access(out, X_OK) == 0) {
			struct stat st;
			if (!stat(out, &st) && S_ISREG(st.st_mode))
				return 0;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return -1;
}

/* elf_is_static() : 1 when an ELF executable has no PT_INTERP (no dynamic loader, so no
 * LD_PRELOAD), 0 when dynamic or not ELF (a script: its interpreter is preloaded), -1 on
 * a read error. */
static int elf_is_static(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf64_Ehdr eh;
	int rc = 0;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phnum > 4096)
		goto out;
	rc = 1;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph)) {
			rc = -1;
			break;
		}
		if (ph.p_type == PT_INTERP) {
			rc = 0;
			break;
		}
	}
out:
	close(fd);
	return rc;
}

struct knob {
	const char *opt;   /* long option */
	const char *env;   /* variable it sets */
	const char *value; /* fixed value for flags, NULL when it takes an argument */
};

static const struct knob knobs[] = {
	{"--output", "INTERCEPT_OUTPUT", NULL},	   {"--hooks", "INTERCEPT_HOOKS", NULL},
	{"--malloc", "INTERCEPT_MALLOC", NULL},	   {"--max-mb", "INTERCEPT_MAX_MB", NULL},
	{"--snapshot-ms", "INTERCEPT_SNAPSHOT_MS", NULL}, {"--sample", "INTERCEPT_SAMPLE", NULL},
	{"--stack-depth", "INTERCEPT_STACK_DEPTH", NULL},
	{"--flush-ms", "INTERCEPT_FLUSH_MS", NULL}, {"--drop", "INTERCEPT_DROP", "1"},
	{"--buffer-kb", "INTERCEPT_BUFFER_KB", NULL}, {"--pool-mb", "INTERCEPT_POOL_MB", NULL},
	{"--zstd-level", "INTERCEPT_ZSTD_LEVEL", NULL},
	{"--max-stacks", "INTERCEPT_MAX_STACKS", NULL}, {"--quiet", "INTERCEPT_QUIET", "1"},
	{"--url-query", "INTERCEPT_URL_QUERY", "1"},
	{"--lock-count", "INTERCEPT_LOCK_COUNT", "1"},
	{"--sql-literals", "INTERCEPT_SQL_LITERALS", "1"},
};

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(a, "-o"))
			a = "--output";
		if (!strcmp(a, "-q"))
			a = "--quiet";
		const struct knob *k = NULL;
		const char *val = NULL;
		for (size_t j = 0; j < sizeof(knobs) / sizeof(knobs[0]); j++) {
			size_t n = strlen(knobs[j].opt);
			if (!strncmp(a, knobs[j].opt, n) && (a[n] == '\0' || a[n] == '=')) {
				k = &knobs[j];
				val = a[n] == '=' ? a + n + 1 : NULL;
				break;
			}
		}
		if (!k)
			return die(2, "unknown option %s (see intercept --help)", argv[i]);
		if (k->value) {
			val = k->value;
		} else if (!val) {
			if (i + 1 >= argc)
				return die(2, "%s needs a value", k->opt);
			val = argv[++i];
		}
		setenv(k->env, val, 1);
	}
	if (i >= argc - 1)
		return die(2, "%s", "no program given (usage: intercept [OPTIONS] -- PROG ARGS...)");
	char **prog_argv = argv + i + 1;

	/* libintercept.so next to this launcher (build/), unless INTERCEPT_LIB says where. */
	char lib[PATH_MAX];
	const char *env_lib = getenv("INTERCEPT_LIB");
	if (env_lib) {
		snprintf(lib, sizeof(lib), "%s", env_lib);
	} else {
		ssize_t n = readlink("/proc/self/exe", lib, sizeof(lib) - 32);
		if (n <= 0)
			return die(2, "%s", "cannot find my own path in /proc/self/exe");
		lib[n] = '\0';
		char *slash = strrchr(lib, '/');
		strcpy(slash ? slash + 1 : lib, "libintercept.so");
	}
	if (access(lib, R_OK))
		return die(2, "%s not found (set INTERCEPT_LIB to its path)", lib);

	char prog[PATH_MAX];
	if (find_in_path(prog_argv[0], prog, sizeof(prog)))
		return die(127, "%s: command not found or not executable", prog_argv[0]);
	struct stat st;
	if (stat(prog, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
		return die(2,
			   "%s is setuid or setgid: the dynamic loader ignores LD_PRELOAD for it, "
			   "so it cannot be profiled",
			   prog);
	if (elf_is_static(prog) == 1)
		return die(2,
			   "%s is statically linked: there is no dynamic loader to preload the "
			   "profiler, so it cannot be profiled",
			   prog);

	const char *old = getenv("LD_PRELOAD");
	size_t need = strlen(lib) + (old ? strlen(old) + 2 : 1);
	char *pre = malloc(need);
	if (!pre)
		return die(2, "%s", "out of memory");
	snprintf(pre, need, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", pre, 1);
	execv(prog, prog_argv);
	int e = errno;
	fprintf(stderr, "intercept: cannot run %s: %s\n", prog, strerror(e));
	return e == ENOENT ? 127 : 126;
}
