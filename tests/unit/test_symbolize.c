/* test_symbolize.c - unit test of analyzer/symbolize.c (sym.h).
 * Usage: test_symbolize FIXTURE_SO FIXTURE_CPP_SO FIXTURE_CPP_NODEBUG_SO
 *                       [FIXTURE_NOARANGES_SO [FIXTURE_DEBUGLINK_SO]]
 * (shared objects built from fixture_sym.c and fixture_sym_cpp.cpp, see symbolize.cmake;
 * the optional ones are FIXTURE_SO without .debug_aranges, as clang builds by default, and
 * FIXTURE_SO stripped of debug info that sits in a .gnu_debuglink file next to it). It
 * dlopen()s them, makes them record return addresses of known call sites, describes each
 * loaded object to the symbolizer the way the preload would (path, load bias, PT_LOAD
 * range, GNU build-id) and checks the answers. Exit 0 when every check passes, 1 when one
 * fails (each failure is printed on stderr), 2 on a usage or setup error. */

/* -std=c11: dl_iterate_phdr(), mkdtemp(), realpath(), inotify need it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sym.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ harness */

static const char *cur_test;
static int n_checks, n_failed;

#define TEST(fn) static void fn(void)
#define RUN(fn) run_test(fn, #fn)
#define EXPECT(c) expect_true((c), #c, __LINE__)
#define EXPECT_EQ(a, b) expect_eq((uint64_t)(a), (uint64_t)(b), #a " == " #b, __LINE__)
#define EXPECT_STR(a, b) expect_str((a), (b), #a, __LINE__)

static bool expect_true(bool ok, const char *what, int line)
{
	n_checks++;
	if (!ok) {
		n_failed++;
		fprintf(stderr, "FAIL %s (line %d): %s\n", cur_test, line, what);
	}
	return ok;
}

static bool expect_eq(uint64_t a, uint64_t b, const char *what, int line)
{
	if (a != b)
		fprintf(stderr, "  got 0x%llx, want 0x%llx\n", (unsigned long long)a,
			(unsigned long long)b);
	return expect_true(a == b, what, line);
}

/* Equal strings, or both NULL. */
static bool expect_str(const char *a, const char *b, const char *what, int line)
{
	bool ok = a == b || (a && b && !strcmp(a, b));

	if (!ok)
		fprintf(stderr, "  %s is \"%s\", want \"%s\"\n", what, a ? a : "(null)",
			b ? b : "(null)");
	return expect_true(ok, what, line);
}

static void run_test(void (*fn)(void), const char *name)
{
	int before = n_failed;

	cur_test = name;
	fn();
	printf("%s %s\n", n_failed == before ? "ok  " : "FAIL", name);
}

/* ------------------------------------------------------------------ fixtures */

enum { FX_C, FX_CPP, FX_CPP_NODEBUG, FX_C_NOARANGES, FX_C_DEBUGLINK, FX_COUNT };

static const char *fixture_path[FX_COUNT]; /* realpath()s of argv[1..] */
static void *fixture[FX_COUNT];		   /* dlopen() handles */
static int fx_c = FX_C;			   /* the C fixture the C tests use */
static char tmp_dir[] = "/tmp/test_symbolize.XXXXXX";

/* A loaded object as the preload would record it. */
struct mod_info {
	char path[4096];
	uint64_t bias, lo, hi;
	uint8_t build_id[64];
	size_t build_id_len;
};

struct find_arg {
	uintptr_t addr;
	struct mod_info *out;
	bool found;
};

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

/* Reads the GNU build-id from a loaded PT_NOTE segment. */
static void read_build_id(const struct dl_phdr_info *info, const ElfW(Phdr) *ph,
			  struct mod_info *m)
{
	const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
	const unsigned char *end = p + ph->p_memsz;
	size_t a = ph->p_align == 8 ? 8 : 4;

	while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
		const ElfW(Nhdr) *nh = (const void *)p;
		const unsigned char *name = p + sizeof(*nh);
		const unsigned char *desc = name + align_up(nh->n_namesz, a);

		if (desc + nh->n_descsz > end)
			return;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
		    nh->n_descsz <= sizeof(m->build_id)) {
			memcpy(m->build_id, desc, nh->n_descsz);
			m->build_id_len = nh->n_descsz;
			return;
		}
		p = desc + align_up(nh->n_descsz, a);
	}
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *varg)
{
	struct find_arg *arg = varg;
	uint64_t lo = UINT64_MAX, hi = 0;
	bool hit = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;

		if (ph->p_type != PT_LOAD)
			continue;
		lo = a < lo ? a : lo;
		hi = b > hi ? b : hi;
		hit |= arg->addr >= a && arg->addr < b;
	}
	if (!hit)
		return 0;
	memset(arg->out, 0, sizeof(*arg->out));
	snprintf(arg->out->path, sizeof(arg->out->path), "%s", info->dlpi_name);
	arg->out->bias = info->dlpi_addr;
	arg->out->lo = lo;
	arg->out->hi = hi;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_NOTE && !arg->out->build_id_len)
			read_build_id(info, &info->dlpi_phdr[i], arg->out);
	arg->found = true;
	return 1;
}

/* Describes the loaded object containing addr. */
static bool find_module(uintptr_t addr, struct mod_info *out)
{
	struct find_arg arg = { addr, out, false };

	dl_iterate_phdr(find_cb, &arg);
	return arg.found;
}

static void *must_dlsym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (!p) {
		fprintf(stderr, "test_symbolize: dlsym %s: %s\n", name, dlerror());
		exit(2);
	}
	return p;
}

/* Calls fixture function fn(x) and returns the return address it recorded in *ret. */
static uint64_t call_and_record(void *h, const char *fn, const char *ret)
{
	int (*f)(int) = (int (*)(int))must_dlsym(h, fn);
	void **slot = must_dlsym(h, ret);

	*slot = NULL;
	f(1);
	return (uint64_t)(uintptr_t)*slot;
}

static int line_of(void *h, const char *var)
{
	return *(int *)must_dlsym(h, var);
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static bool has_warning(const struct sym *s, const char *text)
{
	const char *const *w;
	size_t n = sym_warnings(s, &w);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(w[i], text))
			return true;
	return false;
}

static size_t n_warnings(const struct sym *s)
{
	const char *const *w;

	return sym_warnings(s, &w);
}

/* Adds the module containing addr under id; with_build_id: record the real build-id. */
static struct mod_info add_loaded(struct sym *s, uint32_t id, uint64_t addr, bool with_build_id)
{
	struct mod_info m;

	if (!find_module((uintptr_t)addr, &m)) {
		fprintf(stderr, "test_symbolize: no loaded object holds 0x%llx\n",
			(unsigned long long)addr);
		exit(2);
	}
	EXPECT_EQ(sym_add_module(s, id, m.path, m.bias, m.lo, m.hi, m.build_id,
				 with_build_id ? m.build_id_len : 0),
		  0);
	return m;
}

/* ------------------------------------------------------------------ tests */

TEST(plain_function)
{
	struct sym *s = sym_create();
	uint64_t ret = call_and_record(fixture[fx_c], "fx_plain", "fx_ret");
	const struct sym_frame *f, *again;
	struct mod_info m = add_loaded(s, 1, ret, true);
	size_t n;

	EXPECT(m.build_id_len > 0);
	n = sym_lookup(s, 1, ret, &f);
	if (EXPECT_EQ(n, 1)) {
		EXPECT_STR(f[0].function, "fx_plain");
		EXPECT_STR(base_name(f[0].file), "fixture_sym.c");
		EXPECT_EQ(f[0].line, line_of(fixture[fx_c], "fx_line_plain"));
		EXPECT(!f[0].inlined);
	}
	/* Cached: the same frames, not a copy. */
	EXPECT_EQ(sym_lookup(s, 1, ret, &again), n);
	EXPECT(again == f);
	EXPECT_EQ(sym_module_elf_addr(s, 1, ret), ret - m.bias);
	EXPECT_EQ(n_warnings(s), 0);
	sym_destroy(s);
}

TEST(inline_chain)
{
	struct sym *s = sym_create();
	uint64_t ret = call_and_record(fixture[fx_c], "fx_outer", "fx_ret");
	uint64_t ret_plain = call_and_record(fixture[fx_c], "fx_plain", "fx_ret");
	const struct sym_frame *f, *fp;
	size_t n;

	add_loaded(s, 7, ret, true);
	n = sym_lookup(s, 7, ret, &f);
	if (EXPECT_EQ(n, 3)) {
		EXPECT_STR(f[0].function, "fx_inner");
		EXPECT_EQ(f[0].line, line_of(fixture[fx_c], "fx_line_inner"));
		EXPECT(f[0].inlined);
		EXPECT_STR(f[1].function, "fx_mid");
		EXPECT_EQ(f[1].line, line_of(fixture[fx_c], "fx_line_mid"));
		EXPECT(f[1].inlined);
		EXPECT_STR(f[2].function, "fx_outer");
		EXPECT_EQ(f[2].line, line_of(fixture[fx_c], "fx_line_outer"));
		EXPECT(!f[2].inlined);
		for (size_t i = 0; i < n; i++)
			EXPECT_STR(base_name(f[i].file), "fixture_sym.c");
		/* Interned: one copy of the file name for every frame and address. */
		EXPECT(f[0].file == f[2].file);
		if (EXPECT_EQ(sym_lookup(s, 7, ret_plain, &fp), 1))
			EXPECT(fp[0].file == f[0].file);
	}
	sym_destroy(s);
}

TEST(cpp_demangled_from_dwarf)
{
	struct sym *s = sym_create();
	uint64_t ret = call_and_record(fixture[FX_CPP], "fx_cpp_entry", "fx_cpp_ret");
	const struct sym_frame *f;

	add_loaded(s, 3, ret, true);
	if (EXPECT_EQ(sym_lookup(s, 3, ret, &f), 1)) {
		EXPECT_STR(f[0].function, "ns::Klass::method(int)");
		EXPECT_STR(base_name(f[0].file), "fixture_sym_cpp.cpp");
		EXPECT_EQ(f[0].line, line_of(fixture[FX_CPP], "fx_cpp_line"));
	}
	sym_destroy(s);
}

TEST(cpp_demangled_from_symtab)
{
	struct sym *s = sym_create();
	uint64_t ret = call_and_record(fixture[FX_CPP_NODEBUG], "fx_cpp_entry", "fx_cpp_ret");
	const struct sym_frame *f;

	add_loaded(s, 4, ret, true);
	if (EXPECT_EQ(sym_lookup(s, 4, ret, &f), 1)) {
		EXPECT_STR(f[0].function, "ns::Klass::method(int)");
		EXPECT_STR(f[0].file, NULL);
		EXPECT_EQ(f[0].line, 0);
	}
	EXPECT_EQ(n_warnings(s), 0);
	sym_destroy(s);
}

/* A system library: exported names resolve with or without a debug package. */
TEST(libc_symbol)
{
	struct sym *s = sym_create();
	uint64_t fn = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
	const struct sym_frame *f;

	if (!EXPECT(fn != 0))
		goto out;
	add_loaded(s, 5, fn, true);
	/* As if getpid's first instruction were a return address + 1. */
	if (EXPECT_EQ(sym_lookup(s, 5, fn + 1, &f), 1)) {
		EXPECT(f[0].function && strstr(f[0].function, "getpid"));
		printf("     libc getpid -> %s %s:%u\n", f[0].function ? f[0].function : "?",
		       f[0].file ? f[0].file : "?", f[0].line);
	}
out:
	sym_destroy(s);
}

TEST(unknown_id_and_bad_arguments)
{
	struct sym *s = sym_create();
	const struct sym_frame *f = &(struct sym_frame){ 0 };
	uint64_t ret = call_and_record(fixture[FX_C], "fx_plain", "fx_ret");
	struct mod_info m = add_loaded(s, 1, ret, false);

	EXPECT_EQ(sym_lookup(s, 2, ret, &f), 0);
	EXPECT_EQ(sym_lookup(s, 0, ret, &f), 0);
	EXPECT_EQ(sym_module_elf_addr(s, 2, ret), 0);
	EXPECT_EQ(sym_add_module(s, 0, m.path, m.bias, m.lo, m.hi, NULL, 0), -EINVAL);
	EXPECT_EQ(sym_add_module(s, 1, m.path, m.bias, m.lo, m.hi, NULL, 0), -EINVAL);
	/* Outside the recorded range, or no address at all: one unknown frame. */
	if (EXPECT_EQ(sym_lookup(s, 1, m.hi + 100, &f), 1))
		EXPECT_STR(f[0].function, NULL);
	if (EXPECT_EQ(sym_lookup(s, 1, 0, &f), 1))
		EXPECT_STR(f[0].function, NULL);
	sym_destroy(s);
	sym_destroy(NULL);
}

TEST(missing_file)
{
	struct sym *s = sym_create();
	const struct sym_frame *f;

	EXPECT_EQ(sym_add_module(s, 1, "/nonexistent/dir/libnope.so", 0x7f0000000000,
				 0x7f0000000000, 0x7f0000100000, NULL, 0),
		  0);
	EXPECT_EQ(sym_add_module(s, 2, "/nonexistent/dir/libnope.so", 0x7f1000000000,
				 0x7f1000000000, 0x7f1000100000, NULL, 0),
		  0);
	if (EXPECT_EQ(sym_lookup(s, 1, 0x7f0000001234, &f), 1)) {
		EXPECT_STR(f[0].function, NULL);
		EXPECT_STR(f[0].file, NULL);
		EXPECT_EQ(f[0].line, 0);
	}
	EXPECT_EQ(sym_lookup(s, 2, 0x7f1000001234, &f), 1);
	EXPECT(has_warning(s, "/nonexistent/dir/libnope.so: not found; frames left unsymbolized"));
	EXPECT_EQ(n_warnings(s), 1); /* once, although two modules name it */
	sym_destroy(s);
}

TEST(build_id_mismatch)
{
	struct sym *s = sym_create();
	uint64_t ret = call_and_record(fixture[FX_C], "fx_plain", "fx_ret");
	const struct sym_frame *f;
	struct mod_info m;
	char want[4200];

	if (!find_module((uintptr_t)ret, &m) || !EXPECT(m.build_id_len > 0))
		goto out;
	m.build_id[0] ^= 0xff;
	EXPECT_EQ(sym_add_module(s, 1, m.path, m.bias, m.lo, m.hi, m.build_id, m.build_id_len), 0);
	/* A recorded build-id of another length is a mismatch too. */
	EXPECT_EQ(sym_add_module(s, 2, m.path, m.bias, m.lo, m.hi, m.build_id, 4), 0);
	m.build_id[0] ^= 0xff;
	/* The same file, recorded with its true build-id, is still usable. */
	EXPECT_EQ(sym_add_module(s, 3, m.path, m.bias, m.lo, m.hi, m.build_id, m.build_id_len), 0);

	if (EXPECT_EQ(sym_lookup(s, 1, ret, &f), 1))
		EXPECT_STR(f[0].function, NULL);
	if (EXPECT_EQ(sym_lookup(s, 2, ret, &f), 1))
		EXPECT_STR(f[0].function, NULL);
	if (EXPECT_EQ(sym_lookup(s, 3, ret, &f), 1))
		EXPECT_STR(f[0].function, "fx_plain");
	snprintf(want, sizeof(want), "%s: build-id differs from the trace; not symbolized", m.path);
	EXPECT(has_warning(s, want));
	EXPECT_EQ(n_warnings(s), 1);
out:
	sym_destroy(s);
}

/* Devices, FIFOs (also behind a symlink) and directories are never opened: a blocking
 * open of the FIFO would hang here (alarm() in main turns that into a failure), and an
 * inotify watch on the FIFO proves that not even a non-blocking open happened. */
TEST(not_regular_files)
{
	struct sym *s = sym_create();
	char fifo[sizeof(tmp_dir) + 16], link[sizeof(tmp_dir) + 16], want[256];
	const char *paths[4] = { "/dev/zero", fifo, link, "/tmp" };
	const struct sym_frame *f;
	char ev[4096];
	int ifd;

	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp_dir);
	snprintf(link, sizeof(link), "%s/link.so", tmp_dir);
	if (!EXPECT(mkfifo(fifo, 0600) == 0) || !EXPECT(symlink(fifo, link) == 0))
		goto out;
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!EXPECT(ifd >= 0) || !EXPECT(inotify_add_watch(ifd, fifo, IN_OPEN) >= 0))
		goto out;

	for (uint32_t i = 0; i < 4; i++) {
		EXPECT_EQ(sym_add_module(s, i + 1, paths[i], 0x10000, 0x10000, 0x20000, NULL, 0),
			  0);
		if (EXPECT_EQ(sym_lookup(s, i + 1, 0x10100, &f), 1))
			EXPECT_STR(f[0].function, NULL);
		snprintf(want, sizeof(want), "%s: not a regular file; frames left unsymbolized",
			 paths[i]);
		EXPECT(has_warning(s, want));
	}
	EXPECT(read(ifd, ev, sizeof(ev)) < 0 && errno == EAGAIN);
	close(ifd);
out:
	unlink(link);
	unlink(fifo);
	sym_destroy(s);
}

TEST(not_elf)
{
	struct sym *s = sym_create();
	char path[sizeof(tmp_dir) + 16], want[256];
	const struct sym_frame *f;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/text.so", tmp_dir);
	fp = fopen(path, "w");
	if (!EXPECT(fp != NULL))
		goto out;
	fputs("not an ELF file at all\n", fp);
	fclose(fp);
	EXPECT_EQ(sym_add_module(s, 1, path, 0x10000, 0x10000, 0x20000, NULL, 0), 0);
	if (EXPECT_EQ(sym_lookup(s, 1, 0x10100, &f), 1))
		EXPECT_STR(f[0].function, NULL);
	snprintf(want, sizeof(want), "%s: not an ELF file; frames left unsymbolized", path);
	EXPECT(has_warning(s, want));
	unlink(path);
out:
	sym_destroy(s);
}

/* Names that are not files (the vdso, anonymous code): unsymbolized, no warning. */
TEST(pseudo_paths)
{
	struct sym *s = sym_create();
	const char *paths[3] = { "linux-vdso.so.1", "[vdso]", "" };
	const struct sym_frame *f;

	for (uint32_t i = 0; i < 3; i++) {
		EXPECT_EQ(sym_add_module(s, i + 1, paths[i], 0x10000, 0x10000, 0x20000, NULL, 0),
			  0);
		if (EXPECT_EQ(sym_lookup(s, i + 1, 0x10100, &f), 1))
			EXPECT_STR(f[0].function, NULL);
	}
	EXPECT_EQ(n_warnings(s), 0);
	sym_destroy(s);
}

/* Control bytes in a path from the trace are escaped in the warning. */
TEST(warning_escapes_path)
{
	struct sym *s = sym_create();
	const struct sym_frame *f;

	EXPECT_EQ(sym_add_module(s, 1, "/nonexistent/a\nb\x1b[31m.so", 0x10000, 0x10000, 0x20000,
				 NULL, 0),
		  0);
	EXPECT_EQ(sym_lookup(s, 1, 0x10100, &f), 1);
	EXPECT(has_warning(s, "/nonexistent/a\\x0ab\\x1b[31m.so: "
			      "not found; frames left unsymbolized"));
	sym_destroy(s);
}

int main(int argc, char **argv)
{
	static const char *const libs[FX_COUNT] = { "fixture_sym", "fixture_sym_cpp",
						    "fixture_sym_cpp_nodebug",
						    "fixture_sym_noaranges",
						    "fixture_sym_debuglink" };
	int n_fx = argc - 1;

	if (n_fx < 3 || n_fx > FX_COUNT) {
		fprintf(stderr,
			"usage: %s FIXTURE_SO FIXTURE_CPP_SO FIXTURE_CPP_NODEBUG_SO "
			"[FIXTURE_NOARANGES_SO [FIXTURE_DEBUGLINK_SO]]\n",
			argv[0]);
		return 2;
	}
	for (int i = 0; i < n_fx; i++) {
		fixture_path[i] = realpath(argv[i + 1], NULL);
		if (fixture_path[i])
			fixture[i] = dlopen(fixture_path[i], RTLD_NOW | RTLD_LOCAL);
		if (!fixture[i]) {
			fprintf(stderr, "test_symbolize: cannot load %s (%s): %s\n", libs[i],
				argv[i + 1], fixture_path[i] ? dlerror() : strerror(errno));
			return 2;
		}
	}
	if (!mkdtemp(tmp_dir)) {
		perror("test_symbolize: mkdtemp");
		return 2;
	}
	/* A hang (say, a blocking open of a FIFO) becomes a failure, not a stuck test run;
	 * generous because valgrind runs this too. */
	alarm(300);

	RUN(plain_function);
	RUN(inline_chain);
	RUN(cpp_demangled_from_dwarf);
	RUN(cpp_demangled_from_symtab);
	RUN(libc_symbol);
	RUN(unknown_id_and_bad_arguments);
	RUN(missing_file);
	RUN(build_id_mismatch);
	RUN(not_regular_files);
	RUN(not_elf);
	RUN(pseudo_paths);
	RUN(warning_escapes_path);
	if (fixture[FX_C_NOARANGES]) {
		/* libdw 0.188 finds no CU without .debug_aranges; symbolize.c's CU index must. */
		fx_c = FX_C_NOARANGES;
		run_test(plain_function, "plain_function (no .debug_aranges)");
		run_test(inline_chain, "inline_chain (no .debug_aranges)");
	}
	if (fixture[FX_C_DEBUGLINK]) {
		/* File and line can only come from the .debug file named by .gnu_debuglink. */
		fx_c = FX_C_DEBUGLINK;
		run_test(plain_function, "plain_function (separate .gnu_debuglink file)");
		run_test(inline_chain, "inline_chain (separate .gnu_debuglink file)");
	}

	rmdir(tmp_dir);
	for (int i = 0; i < n_fx; i++) {
		dlclose(fixture[i]);
		free((void *)fixture_path[i]);
	}
	printf("%d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
