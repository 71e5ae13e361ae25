/* symbolize.c - owns symbolization: (module id, return address) -> function, file, line and
 * the inline chain, through elfutils libdwfl; implements sym.h. Called by the analyzer's
 * main thread (one struct sym per thread; nothing here is shared between instances except
 * read-only constants). Owns every libdwfl session, every file descriptor it opens and
 * every string it hands out; all of them live until sym_destroy().
 * Never: prints or exits (warnings are collected), opens a path from the trace that is not
 * a regular file of at most 2 GiB (the trace is untrusted input: a FIFO would hang us, a
 * device may have side effects on open), decompresses a file that is not plain ELF, trusts
 * a debug file whose build-id differs from its main file, or uses the network. */

/* Built as part of a -std=c11 project: asprintf(), strdup(), pread(), O_CLOEXEC need it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sym.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libstdc++'s demangler (the analyzer links libstdc++). Not in any C header. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* Files from the trace larger than this are refused: no shared object comes close, and a
 * bound keeps a hostile trace from making libelf map something absurd. */
static const off_t sym_file_max_bytes = (off_t)2 << 30;

/* Most bytes a path takes in a warning (an escaped control byte takes 4); longer ones are
 * cut and end in "...". */
enum { SYM_WARN_PATH_MAX = 1024 };

/* Where separate debug info is looked up by build-id (.build-id/xx/yyyy.debug below it),
 * Debian's -dbg and -dbgsym layout. libdwfl wants a char ** it never writes through. */
static char sym_debug_dir[] = "/usr/lib/debug";
static char *sym_debuginfo_path = sym_debug_dir;

/* Hash tables: open addressing, linear probing, power-of-two capacity, load <= 1/2. A slot
 * holds an index into the owner's entity array (plus one; 0 is empty) and the entity's
 * hash, so growing needs no callback and most mismatches cost no entity access. */
struct sym_slot {
	uint32_t idx1; /* entity index + 1; 0: empty */
	uint32_t hash;
};

struct sym_ht {
	struct sym_slot *slots;
	uint32_t mask; /* capacity - 1; meaningless while slots == NULL */
	uint32_t n;    /* used slots */
};

/* A file on disk, shared by all modules recorded with the same path and bias (a library
 * that is dlclose()d and dlopen()ed again gets a new module id but is the same file). */
enum sym_file_state {
	SYM_FILE_NEW,	 /* not opened yet */
	SYM_FILE_READY,	 /* dwfl and mod are valid */
	SYM_FILE_FAILED, /* refused or broken; its warning (if any) is recorded */
};

/* One address range of a compilation unit, for the fallback CU index (cu_find()). */
struct sym_cu_range {
	Dwarf_Addr lo, hi; /* DWARF addresses, hi exclusive */
	Dwarf_Die cu;
};

/* One function symbol, for the symbol index (symtab_name()). */
struct sym_fsym {
	Dwarf_Addr lo, hi; /* libdwfl addresses; hi == lo for a symbol without size */
	const char *name;  /* in libdwfl's string table, valid until dwfl_end() */
	uint32_t rank;	   /* binding: 2 global, 1 weak, 0 local */
	uint32_t ndx;	   /* position in the symbol table, to keep sorting deterministic */
};

struct sym_file {
	const char *path; /* interned */
	uint64_t bias;	  /* recorded load bias */
	uint64_t adj;	  /* libdwfl address - runtime address (nonzero only for ET_EXEC) */
	enum sym_file_state state;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	bool cu_index_built;
	Dwarf_Addr cu_bias; /* libdwfl address - DWARF address, for cu_ranges */
	struct sym_cu_range *cu_ranges; /* sorted by lo; NULL when none */
	size_t n_cu_ranges;
	bool syms_built;
	struct sym_fsym *syms; /* function symbols sorted by (lo, rank, -ndx); NULL when none */
	size_t n_syms;
};

enum sym_mod_state {
	SYM_MOD_NEW,	/* file not resolved yet */
	SYM_MOD_READY,	/* file usable and build-id checked */
	SYM_MOD_FAILED, /* frames stay unsymbolized */
};

struct sym_module {
	uint32_t id;
	uint32_t file; /* index into files; valid once state != SYM_MOD_NEW */
	enum sym_mod_state state;
	const char *path; /* interned */
	uint64_t bias, lo, hi;
	uint8_t *build_id; /* malloc'd copy, NULL when empty */
	size_t build_id_len;
};

/* One symbolized address: its frames live in a block and never move. */
struct sym_cached {
	uint64_t ret_addr;
	uint32_t id;
	uint32_t n_frames;
	const struct sym_frame *frames;
};

/* Frames are carved from blocks that are never reallocated, so pointers handed out by
 * sym_lookup() stay valid until sym_destroy(). */
struct sym_block {
	struct sym_block *next;
	size_t used, cap;
	struct sym_frame frames[];
};

enum { SYM_BLOCK_FRAMES = 4096 };

struct sym {
	char **strs; /* interned strings, each malloc'd */
	uint32_t n_strs, cap_strs;
	struct sym_ht str_ht;

	struct sym_module *mods;
	uint32_t n_mods, cap_mods;
	struct sym_ht mod_ht;

	struct sym_file *files;
	uint32_t n_files, cap_files;
	struct sym_ht file_ht;

	struct sym_cached *cache;
	uint32_t n_cache, cap_cache;
	struct sym_ht cache_ht;

	struct sym_block *blocks; /* newest first */

	struct sym_frame *tmp; /* scratch expansion of one address */
	size_t cap_tmp;
	Dwarf_Die *dies; /* scratch function DIEs of one address, outermost first */
	size_t cap_dies;

	const char **warns; /* interned; each text at most once */
	uint32_t n_warns, cap_warns;
};

/* What sym_lookup() returns when nothing is known or memory ran out. */
static const struct sym_frame sym_unknown_frame = { NULL, NULL, 0, false };

static const uint32_t SYM_HT_START = UINT32_MAX;

/* ------------------------------------------------------------------ small helpers */

static uint32_t hash_u64(uint64_t x)
{
	/* splitmix64 finalizer: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (uint32_t)x;
}

static uint32_t hash_str(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return hash_u64(h);
}

/* Makes room for one element after the first n of arr (cap elements of elem bytes each).
 * @return arr or its reallocated successor (*cap updated), or NULL when out of memory
 * (arr and *cap untouched). */
static void *vec_grow(void *arr, uint32_t *cap, uint32_t n, size_t elem)
{
	uint32_t new_cap;
	void *p;

	if (n < *cap)
		return arr;
	if (*cap >= UINT32_MAX / 2)
		return NULL;
	new_cap = *cap ? *cap * 2 : 16;
	if ((size_t)new_cap > SIZE_MAX / elem)
		return NULL;
	p = realloc(arr, (size_t)new_cap * elem);
	if (p)
		*cap = new_cap;
	return p;
}

/* Next entity (index + 1) on hash's probe sequence whose stored hash equals hash; 0 at the
 * first empty slot. *pos starts at SYM_HT_START. This function can't fail. */
static uint32_t ht_next(const struct sym_ht *t, uint32_t hash, uint32_t *pos)
{
	uint32_t i;

	if (!t->slots)
		return 0;
	i = *pos == SYM_HT_START ? hash & t->mask : (*pos + 1) & t->mask;
	for (;; i = (i + 1) & t->mask) {
		if (!t->slots[i].idx1)
			return 0;
		if (t->slots[i].hash == hash) {
			*pos = i;
			return t->slots[i].idx1;
		}
	}
}

static void ht_place(struct sym_slot *slots, uint32_t mask, uint32_t hash, uint32_t idx1)
{
	uint32_t i = hash & mask;

	while (slots[i].idx1)
		i = (i + 1) & mask;
	slots[i].idx1 = idx1;
	slots[i].hash = hash;
}

/* Inserts entity idx (known to be absent). @return 0 or -ENOMEM (table unchanged). */
static int ht_insert(struct sym_ht *t, uint32_t hash, uint32_t idx)
{
	uint32_t cap = t->slots ? t->mask + 1 : 0;

	if ((uint64_t)(t->n + 1) * 2 > cap) {
		uint32_t new_cap = cap ? cap * 2 : 64;
		struct sym_slot *slots;

		if (cap > UINT32_MAX / 4)
			return -ENOMEM;
		slots = calloc(new_cap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (uint32_t i = 0; i < cap; i++)
			if (t->slots[i].idx1)
				ht_place(slots, new_cap - 1, t->slots[i].hash, t->slots[i].idx1);
		free(t->slots);
		t->slots = slots;
		t->mask = new_cap - 1;
	}
	ht_place(t->slots, t->mask, hash, idx + 1);
	t->n++;
	return 0;
}

/* @return the interned copy of str, or NULL when out of memory. */
static const char *intern(struct sym *s, const char *str)
{
	uint32_t h = hash_str(str), pos = SYM_HT_START, idx1;
	char *copy, **strs;

	while ((idx1 = ht_next(&s->str_ht, h, &pos)) != 0)
		if (!strcmp(s->strs[idx1 - 1], str))
			return s->strs[idx1 - 1];
	strs = vec_grow(s->strs, &s->cap_strs, s->n_strs, sizeof(*s->strs));
	if (!strs)
		return NULL;
	s->strs = strs;
	copy = strdup(str);
	if (!copy)
		return NULL;
	if (ht_insert(&s->str_ht, h, s->n_strs)) {
		free(copy);
		return NULL;
	}
	s->strs[s->n_strs++] = copy;
	return copy;
}

/* Interns a symbol name, demangled when it is an Itanium C++ name that demangles.
 * @return the interned name, or NULL when out of memory. */
static const char *intern_symbol(struct sym *s, const char *name)
{
	const char *r;
	char *d;
	int status = -1;

	if (name[0] != '_' || name[1] != 'Z')
		return intern(s, name);
	d = __cxa_demangle(name, NULL, NULL, &status);
	r = intern(s, d && status == 0 ? d : name);
	free(d);
	return r;
}

/* Records one warning line "PATH: what" (once per distinct text); path is quoted with
 * control bytes escaped and cut at SYM_WARN_PATH_MAX, because it comes from the trace and main.c
 * prints it to a terminal. Out of memory drops the warning. This function can't fail. */
static void warn_path(struct sym *s, const char *path, const char *what)
{
	char buf[SYM_WARN_PATH_MAX + 256];
	const char *w, **warns;
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (o > SYM_WARN_PATH_MAX - 4) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	snprintf(buf + o, sizeof(buf) - o, ": %s", what);

	w = intern(s, buf);
	if (!w)
		return;
	for (uint32_t i = 0; i < s->n_warns; i++)
		if (s->warns[i] == w)
			return;
	warns = vec_grow(s->warns, &s->cap_warns, s->n_warns, sizeof(*s->warns));
	if (!warns)
		return;
	s->warns = warns;
	s->warns[s->n_warns++] = w;
}

/* Opens path read-only if, and only if, it is a regular file of at most max bytes. stat()
 * first so that devices, FIFOs and sockets are never opened (opening one can block or have
 * side effects); O_NONBLOCK and a second check on the descriptor close the window in which
 * the path could be swapped for something else.
 * @return the descriptor, or -errno: -ENOENT/-ENOTDIR missing, -ENODEV not a regular file,
 * -EFBIG too large, another -errno from stat() or open(). */
static int open_regular(const char *path, off_t max)
{
	struct stat st, fst;
	int fd;

	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	if (st.st_size > max)
		return -EFBIG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino || fst.st_size > max) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

/* ------------------------------------------------------------------ libdwfl callbacks */

/* Modules are always reported with an open descriptor, so libdwfl never needs to find a
 * main file by itself; refusing keeps it from opening anything by guesswork. */
static int find_elf_never(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, char **file_name, Elf **elfp)
{
	(void)mod, (void)userdata, (void)modname, (void)base, (void)file_name, (void)elfp;
	errno = ENOENT;
	return -1;
}

/* @return true when fd is an ELF file carrying exactly this build-id. */
static bool fd_has_build_id(int fd, const unsigned char *id, int id_len)
{
	const void *got;
	ssize_t got_len;
	bool same;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);

	if (!elf)
		return false;
	got_len = dwelf_elf_gnu_build_id(elf, &got);
	same = got_len == id_len && memcmp(got, id, (size_t)id_len) == 0;
	elf_end(elf);
	return same;
}

/* Separate debug info. First by build-id below sym_debug_dir, with libdwfl's own lookup,
 * which validates the id and also finds dwz alternate files. Then by .gnu_debuglink next
 * to the main file, in its .debug/ and below sym_debug_dir. That second half is done here
 * rather than by dwfl_standard_find_debuginfo() for two reasons: it open()s candidates
 * blocking and unchecked, in a directory the trace chose; and in libdw 0.188 it asks
 * debuginfod over the network whenever DEBUGINFOD_URLS is set (seen with strace), which an
 * analyzer of untrusted traces should not do behind the user's back, while
 * dwfl_build_id_find_debuginfo() stays local. Only debuglinks that are plain file names,
 * and only files whose build-id equals the main file's, are accepted. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink,
			  GElf_Word crc, char **debuginfo_file_name)
{
	const unsigned char *id;
	GElf_Addr id_vaddr;
	const char *slash;
	int fd, id_len;

	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
					  crc, debuginfo_file_name);
	if (fd >= 0)
		return fd;
	if (!file_name || !debuglink || !debuglink[0] || strchr(debuglink, '/') ||
	    !strcmp(debuglink, ".") || !strcmp(debuglink, ".."))
		goto out_none;
	id_len = dwfl_module_build_id(mod, &id, &id_vaddr);
	slash = strrchr(file_name, '/');
	if (id_len <= 0 || !slash)
		goto out_none;

	for (int i = 0; i < 3; i++) {
		int dir_len = (int)(slash - file_name), n = -1;
		struct stat main_st, st;
		char *cand = NULL;

		if (i == 0)
			n = asprintf(&cand, "%.*s/%s", dir_len, file_name, debuglink);
		else if (i == 1)
			n = asprintf(&cand, "%.*s/.debug/%s", dir_len, file_name, debuglink);
		else if (file_name[0] == '/')
			n = asprintf(&cand, "%s%.*s/%s", sym_debug_dir, dir_len, file_name,
				     debuglink);
		if (n < 0)
			continue;
		fd = open_regular(cand, sym_file_max_bytes);
		if (fd >= 0 && stat(file_name, &main_st) == 0 && fstat(fd, &st) == 0 &&
		    !(st.st_dev == main_st.st_dev && st.st_ino == main_st.st_ino) &&
		    fd_has_build_id(fd, id, id_len)) {
			*debuginfo_file_name = cand;
			return fd;
		}
		if (fd >= 0)
			close(fd);
		free(cand);
	}
out_none:
	errno = 0;
	return -1;
}

static const Dwfl_Callbacks sym_dwfl_callbacks = {
	.find_elf = find_elf_never,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &sym_debuginfo_path,
};

/* ------------------------------------------------------------------ files and modules */

/* A recorded path that names no file: the vdso ("linux-vdso.so.1", "[vdso]"), anonymous
 * code, an empty name. Such modules stay unsymbolized without a warning. */
static bool path_is_pseudo(const char *path)
{
	return !path[0] || path[0] == '[' || !strchr(path, '/');
}

/* Opens f: checks the path, reports the ELF file to a fresh libdwfl session at its bias.
 * @return 0 (f READY) or -errno (f FAILED, one warning recorded unless the path is a
 * pseudo path). */
static int file_open(struct sym *s, struct sym_file *f)
{
	static const unsigned char elf_magic[4] = { 0x7f, 'E', 'L', 'F' };
	unsigned char magic[4];
	GElf_Ehdr ehdr_mem, *ehdr;
	Dwarf_Addr dwfl_bias;
	Elf *elf;
	int fd, rc;

	f->state = SYM_FILE_FAILED;
	if (path_is_pseudo(f->path))
		return -ENOENT;

	fd = open_regular(f->path, sym_file_max_bytes);
	if (fd < 0) {
		char what[128];

		rc = fd;
		if (rc == -ENOENT || rc == -ENOTDIR)
			warn_path(s, f->path, "not found; frames left unsymbolized");
		else if (rc == -ENODEV)
			warn_path(s, f->path, "not a regular file; frames left unsymbolized");
		else if (rc == -EFBIG)
			warn_path(s, f->path, "larger than 2 GiB; frames left unsymbolized");
		else {
			snprintf(what, sizeof(what), "%s; frames left unsymbolized", strerror(-rc));
			warn_path(s, f->path, what);
		}
		return rc;
	}

	/* libdwfl transparently decompresses gzip/bzip2/xz/zstd images; a small compressed file
	 * could expand without bound, so only plain ELF goes in. */
	if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
	    memcmp(magic, elf_magic, sizeof(magic)) != 0) {
		warn_path(s, f->path, "not an ELF file; frames left unsymbolized");
		rc = -ENOEXEC;
		goto out_close_fd;
	}

	f->dwfl = dwfl_begin(&sym_dwfl_callbacks);
	if (!f->dwfl) {
		rc = -ENOMEM;
		goto out_close_fd;
	}
	dwfl_report_begin(f->dwfl);
	/* add_p_vaddr: base is the load bias, the module starts at bias + first p_vaddr. */
	f->mod = dwfl_report_elf(f->dwfl, f->path, f->path, fd, f->bias, true);
	if (!f->mod) {
		warn_path(s, f->path, "unreadable ELF file; frames left unsymbolized");
		rc = -ENOEXEC;
		goto out_end_dwfl;
	}
	fd = -1; /* libdwfl owns it now and closes it in dwfl_end() */
	if (dwfl_report_end(f->dwfl, NULL, NULL) != 0) {
		rc = -ENOMEM;
		goto out_end_dwfl;
	}

	/* Only executables and shared objects have a load bias. libdwfl ignores the base for
	 * ET_EXEC (it is where the file says), so lookups are shifted by the difference. */
	elf = dwfl_module_getelf(f->mod, &dwfl_bias);
	ehdr = elf ? gelf_getehdr(elf, &ehdr_mem) : NULL;
	if (!ehdr || (ehdr->e_type != ET_DYN && ehdr->e_type != ET_EXEC)) {
		warn_path(s, f->path,
			  "not an executable or shared object; frames left unsymbolized");
		rc = -ENOEXEC;
		goto out_end_dwfl;
	}
	f->adj = dwfl_bias - f->bias;
	f->state = SYM_FILE_READY;
	return 0;

out_end_dwfl:
	dwfl_end(f->dwfl);
	f->dwfl = NULL;
	f->mod = NULL;
out_close_fd:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* @return the index of the file for (path, bias), added when new, or -ENOMEM. */
static int64_t file_get(struct sym *s, const char *path, uint64_t bias)
{
	uint32_t h = hash_u64((uint64_t)(uintptr_t)path * 31 + bias), pos = SYM_HT_START, idx1;
	struct sym_file *f;

	while ((idx1 = ht_next(&s->file_ht, h, &pos)) != 0) {
		f = &s->files[idx1 - 1];
		if (f->path == path && f->bias == bias)
			return idx1 - 1;
	}
	f = vec_grow(s->files, &s->cap_files, s->n_files, sizeof(*s->files));
	if (!f)
		return -ENOMEM;
	s->files = f;
	if (ht_insert(&s->file_ht, h, s->n_files))
		return -ENOMEM;
	f = &s->files[s->n_files];
	memset(f, 0, sizeof(*f));
	f->path = path;
	f->bias = bias;
	f->state = SYM_FILE_NEW;
	return s->n_files++;
}

static struct sym_module *module_find(const struct sym *s, uint32_t id)
{
	uint32_t h = hash_u64(id), pos = SYM_HT_START, idx1;

	while ((idx1 = ht_next(&s->mod_ht, h, &pos)) != 0)
		if (s->mods[idx1 - 1].id == id)
			return &s->mods[idx1 - 1];
	return NULL;
}

/* First lookup in m: open its file (shared with modules of the same path and bias) and
 * check the build-id. Leaves m READY or FAILED; only when the file table cannot grow does
 * m stay NEW, to be retried on the next lookup. This function can't fail otherwise. */
static void module_open(struct sym *s, struct sym_module *m)
{
	const unsigned char *id;
	GElf_Addr id_vaddr;
	struct sym_file *f;
	int64_t fi;
	int id_len;

	fi = file_get(s, m->path, m->bias);
	if (fi < 0)
		return;
	f = &s->files[fi];
	if (f->state == SYM_FILE_NEW)
		file_open(s, f);
	m->file = (uint32_t)fi;
	m->state = SYM_MOD_FAILED;
	if (f->state != SYM_FILE_READY)
		return;
	if (m->build_id_len) {
		id_len = dwfl_module_build_id(f->mod, &id, &id_vaddr);
		if (id_len < 0 || (size_t)id_len != m->build_id_len ||
		    memcmp(id, m->build_id, m->build_id_len) != 0) {
			warn_path(s, m->path, "build-id differs from the trace; not symbolized");
			return;
		}
	}
	m->state = SYM_MOD_READY;
}

/* ------------------------------------------------------------------ DWARF */

static bool tag_is_function(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/* The function a DIE stands for. A C++ linkage name, demangled, carries namespaces,
 * classes and parameter types, so it wins; otherwise DW_AT_name, the name in the source
 * (a C linkage name differs from it only through asm labels, like glibc's "__GI_fputs").
 * dwarf_attr_integrate() follows DW_AT_abstract_origin and DW_AT_specification, so inlined
 * instances and out-of-line method definitions find the names on their declarations.
 * @return the interned name, or NULL when there is none or memory ran out. */
static const char *die_function_name(struct sym *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *linkage, *name;

	linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!linkage)
		linkage = dwarf_formstring(
			dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (linkage && linkage[0] == '_' && linkage[1] == 'Z')
		return intern_symbol(s, linkage);
	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
	if (!name)
		name = linkage;
	return name ? intern_symbol(s, name) : NULL;
}

/* Grows the scratch expansion to hold n frames. @return 0 or -ENOMEM. */
static int tmp_reserve(struct sym *s, size_t n)
{
	struct sym_frame *p;
	size_t cap = s->cap_tmp ? s->cap_tmp : 16;

	if (n <= s->cap_tmp)
		return 0;
	while (cap < n)
		cap *= 2;
	p = realloc(s->tmp, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->tmp = p;
	s->cap_tmp = cap;
	return 0;
}

/* Appends *die to the scratch list of function DIEs. @return 0 or -ENOMEM. */
static int dies_push(struct sym *s, size_t *n, const Dwarf_Die *die)
{
	if (*n == s->cap_dies) {
		size_t cap = s->cap_dies ? s->cap_dies * 2 : 16;
		Dwarf_Die *p = realloc(s->dies, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->dies = p;
		s->cap_dies = cap;
	}
	s->dies[(*n)++] = *die;
	return 0;
}

/* The fast way to the function DIEs around pc: from the CU DIE, step into the one child
 * (subprogram, inlined instance, lexical block) whose ranges hold pc, and again, down to
 * the innermost; dwarf_siblingof() skips whole subtrees. Fills s->dies outermost first.
 * dwarf_getscopes() plus dwarf_getscopes_die() walk the CU from the top, and for inlined
 * code once more for the abstract origin: 10,000 addresses across libc 2.36 with its -dbg
 * package took 75 us each that way, 23 us this way, with identical answers.
 * @return the number of function DIEs, 0 when no top-level DIE holds pc (code in a
 * namespace-nested definition or an imported unit: the caller then asks libdw). */
static size_t scopes_descend(struct sym *s, Dwarf_Die *cu, Dwarf_Addr pc)
{
	Dwarf_Die die = *cu, child;
	size_t n = 0;

	while (dwarf_child(&die, &child) == 0) {
		bool found = false;

		do {
			int tag = dwarf_tag(&child);

			if ((tag_is_function(tag) || tag == DW_TAG_lexical_block) &&
			    dwarf_haspc(&child, pc) == 1) {
				found = true;
				break;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
		if (!found)
			break;
		die = child;
		if (tag_is_function(dwarf_tag(&die)) && dies_push(s, &n, &die))
			return 0;
	}
	return n;
}

/* The general way, for what scopes_descend() cannot see. dwarf_getscopes() finds the
 * innermost function-like scope, but past an inlined instance it continues with the
 * abstract origin's scopes, so the concrete callers come from dwarf_getscopes_die() on
 * that instance. Fills s->dies outermost first. @return the count, 0 on any failure. */
static size_t scopes_libdw(struct sym *s, Dwarf_Die *cu, Dwarf_Addr pc)
{
	Dwarf_Die *scopes = NULL, inner;
	int n_scopes, i;
	size_t n = 0;

	n_scopes = dwarf_getscopes(cu, pc, &scopes);
	for (i = 0; i < n_scopes && !tag_is_function(dwarf_tag(&scopes[i])); i++)
		;
	if (i >= n_scopes)
		goto out_free_scopes;
	inner = scopes[i];
	free(scopes);
	scopes = NULL;

	n_scopes = dwarf_getscopes_die(&inner, &scopes);
	for (i = n_scopes - 1; i >= 0; i--) {
		if (tag_is_function(dwarf_tag(&scopes[i])) && dies_push(s, &n, &scopes[i])) {
			n = 0;
			break;
		}
	}

out_free_scopes:
	free(scopes);
	return n;
}

/* Expands pc (a CU-relative address in cu) into the inline chain, innermost first, into
 * s->tmp. file/line are the line table's answer for pc and belong to the innermost frame;
 * every outer frame takes the DW_AT_call_file/DW_AT_call_line of the inlined instance it
 * contains. The chain ends at the first function that was not inlined.
 * @return the number of frames, 0 when no function DIE covers pc or on any failure. */
static size_t dwarf_chain(struct sym *s, Dwarf_Die *cu, Dwarf_Addr pc, const char *file,
			  uint32_t line)
{
	Dwarf_Files *files = NULL;
	size_t n_files = 0, n_dies, n = 0;

	n_dies = scopes_descend(s, cu, pc);
	if (n_dies == 0)
		n_dies = scopes_libdw(s, cu, pc);
	if (n_dies == 0 || tmp_reserve(s, n_dies))
		return 0;

	for (size_t i = n_dies; i-- > 0;) {
		Dwarf_Die *die = &s->dies[i];
		Dwarf_Attribute attr;
		Dwarf_Word v;

		s->tmp[n].function = die_function_name(s, die);
		s->tmp[n].file = file;
		s->tmp[n].line = line;
		s->tmp[n].inlined = true;
		n++;
		if (dwarf_tag(die) != DW_TAG_inlined_subroutine)
			break;
		/* The caller's location is where this instance was inlined. */
		if (!files && dwarf_getsrcfiles(cu, &files, &n_files) != 0)
			files = NULL;
		file = NULL;
		line = 0;
		if (files && dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &v) == 0 &&
		    v < n_files) {
			const char *name = dwarf_filesrc(files, v, NULL, NULL);

			file = name ? intern(s, name) : NULL;
		}
		if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &v) == 0 &&
		    v <= UINT32_MAX)
			line = (uint32_t)v;
	}
	s->tmp[n - 1].inlined = false;
	return n;
}

static int cu_range_cmp(const void *a, const void *b)
{
	const struct sym_cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Builds f's CU index: every address range of every compilation unit, sorted. Needed
 * because libdw 0.188 maps addresses to CUs only through .debug_aranges, which clang does
 * not emit unless given -gdwarf-aranges (libdw 0.191 stopped relying on it); without this,
 * code built by clang would get no file, line or inline chain. On out of memory the index
 * stays partial or empty. This function can't fail. */
static void cu_index_build(struct sym_file *f)
{
	Dwarf *dw = dwfl_module_getdwarf(f->mod, &f->cu_bias);
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	size_t cap = 0;
	uint8_t type;

	f->cu_index_built = true;
	if (!dw)
		return;
	while (dwarf_get_units(dw, cu, &cu, NULL, &type, &cudie, NULL) == 0) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		if (type != DW_UT_compile && type != DW_UT_skeleton)
			continue;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (lo >= hi)
				continue;
			if (f->n_cu_ranges == cap) {
				size_t new_cap = cap ? cap * 2 : 64;
				struct sym_cu_range *r;

				if (new_cap > SIZE_MAX / sizeof(*r))
					goto out_sort;
				r = realloc(f->cu_ranges, new_cap * sizeof(*r));
				if (!r)
					goto out_sort;
				f->cu_ranges = r;
				cap = new_cap;
			}
			f->cu_ranges[f->n_cu_ranges++] = (struct sym_cu_range){ lo, hi, cudie };
		}
	}
out_sort:
	if (f->n_cu_ranges)
		qsort(f->cu_ranges, f->n_cu_ranges, sizeof(*f->cu_ranges), cu_range_cmp);
}

/* The CU whose ranges hold libdwfl address addr, found in f's own index; *bias is set like
 * dwfl_module_addrdie()'s. @return the CU DIE (owned by f), or NULL. */
static Dwarf_Die *cu_find(struct sym_file *f, Dwarf_Addr addr, Dwarf_Addr *bias)
{
	size_t lo = 0, hi;
	Dwarf_Addr pc;

	if (!f->cu_index_built)
		cu_index_build(f);
	pc = addr - f->cu_bias;
	hi = f->n_cu_ranges;
	/* Last range starting at or before pc; CU ranges do not overlap in sane DWARF. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->cu_ranges[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pc >= f->cu_ranges[lo - 1].hi)
		return NULL;
	*bias = f->cu_bias;
	return &f->cu_ranges[lo - 1].cu;
}

static int fsym_cmp(const void *a, const void *b)
{
	const struct sym_fsym *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->ndx > y->ndx ? -1 : x->ndx < y->ndx;
}

/* Builds f's index of function symbols (.symtab, else .dynsym, from the main file, the
 * debug file or .gnu_debugdata, as libdwfl finds them). dwfl_module_addrinfo() scans the
 * whole table on every call: measured at 59 us per address for a libc.so.6 without its
 * debug package and 117 us for libstdc++.so.6, against about 1 us with this index. On out
 * of memory the index stays empty. This function can't fail. */
static void syms_build(struct sym_file *f)
{
	int n = dwfl_module_getsymtab(f->mod);
	size_t cap;

	f->syms_built = true;
	if (n <= 1)
		return;
	cap = (size_t)n;
	if (cap > SIZE_MAX / sizeof(*f->syms))
		return;
	f->syms = malloc(cap * sizeof(*f->syms));
	if (!f->syms)
		return;
	for (int i = 1; i < n; i++) {
		GElf_Addr lo;
		GElf_Word shndx;
		GElf_Sym sym;
		const char *name =
			dwfl_module_getsym_info(f->mod, i, &sym, &lo, &shndx, NULL, NULL);
		int type, bind;

		if (!name || !name[0] || shndx == SHN_UNDEF || shndx == (GElf_Word)-1)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		bind = GELF_ST_BIND(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		f->syms[f->n_syms++] = (struct sym_fsym){
			.lo = lo,
			.hi = sym.st_size <= UINT64_MAX - lo ? lo + sym.st_size : UINT64_MAX,
			.name = name,
			.rank = bind == STB_GLOBAL || bind == STB_GNU_UNIQUE ? 2 : bind == STB_WEAK,
			.ndx = (uint32_t)i,
		};
	}
	qsort(f->syms, f->n_syms, sizeof(*f->syms), fsym_cmp);
}

/* The function symbol for libdwfl address addr: the sized symbol holding it that starts
 * last (the innermost, should symbols nest), the best bound of those starting there;
 * failing that, a symbol without size when it is the nearest one below addr (assembly
 * without .size). @return the raw (mangled) name, or NULL. */
static const char *symtab_name(struct sym_file *f, Dwarf_Addr addr)
{
	size_t lo = 0, hi, k;

	if (!f->syms_built)
		syms_build(f);
	hi = f->n_syms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* f->syms[0..lo) start at or below addr. Nesting is rare and shallow: look back a
	 * bounded distance, so a miss in a gap between functions stays cheap. */
	for (k = 1; k <= lo && k <= 64; k++)
		if (f->syms[lo - k].hi > addr)
			return f->syms[lo - k].name;
	if (lo && f->syms[lo - 1].hi == f->syms[lo - 1].lo)
		return f->syms[lo - 1].name;
	return NULL;
}

/* Symbolizes the runtime address pc (already the call instruction) of file f into s->tmp.
 * @return the number of frames (>= 1), or 0 when out of memory. */
static size_t resolve(struct sym *s, struct sym_file *f, uint64_t pc)
{
	Dwarf_Addr addr = pc + f->adj, cu_bias;
	const char *file = NULL, *name;
	uint32_t line = 0;
	Dwarf_Die *cu;
	size_t n = 0;

	cu = dwfl_module_addrdie(f->mod, addr, &cu_bias);
	if (!cu)
		cu = cu_find(f, addr, &cu_bias);
	if (cu) {
		/* Straight from the CU: dwfl_module_getsrc() fails where dwfl_module_addrdie()
		 * did (no .debug_aranges), and this is the same line table. */
		Dwarf_Line *dl = dwarf_getsrc_die(cu, addr - cu_bias);
		const char *src = dl ? dwarf_linesrc(dl, NULL, NULL) : NULL;
		int lineno = 0;

		if (src)
			file = intern(s, src);
		if (dl && dwarf_lineno(dl, &lineno) == 0 && lineno > 0)
			line = (uint32_t)lineno;
		n = dwarf_chain(s, cu, addr - cu_bias, file, line);
	}
	if (n && s->tmp[n - 1].function)
		return n;

	/* No function DIE (stripped file without debug package, assembly) or a nameless one:
	 * the symbol table names the function; the line table may still say where it is. */
	if (n == 0) {
		if (tmp_reserve(s, 1))
			return 0;
		s->tmp[0] = (struct sym_frame){ NULL, file, line, false };
		n = 1;
	}
	name = symtab_name(f, addr);
	s->tmp[n - 1].function = name ? intern_symbol(s, name) : NULL;
	return n;
}

/* Copies s->tmp[0..n) to stable storage. @return the copy, or NULL when out of memory. */
static const struct sym_frame *frames_store(struct sym *s, size_t n)
{
	struct sym_block *b = s->blocks;
	struct sym_frame *out;

	if (!b || b->cap - b->used < n) {
		size_t cap = n > SYM_BLOCK_FRAMES ? n : SYM_BLOCK_FRAMES;

		b = malloc(sizeof(*b) + cap * sizeof(b->frames[0]));
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = s->blocks;
		s->blocks = b;
	}
	out = &b->frames[b->used];
	memcpy(out, s->tmp, n * sizeof(*out));
	b->used += n;
	return out;
}

/* ------------------------------------------------------------------ public */

struct sym *sym_create(void)
{
	/* libdwfl calls elf_version() itself; debuglink validation uses libelf before any
	 * session may have been created in this process. */
	elf_version(EV_CURRENT);
	return calloc(1, sizeof(struct sym));
}

void sym_destroy(struct sym *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_files; i++) {
		if (s->files[i].dwfl)
			dwfl_end(s->files[i].dwfl);
		free(s->files[i].cu_ranges);
		free(s->files[i].syms);
	}
	for (uint32_t i = 0; i < s->n_mods; i++)
		free(s->mods[i].build_id);
	for (uint32_t i = 0; i < s->n_strs; i++)
		free(s->strs[i]);
	while (s->blocks) {
		struct sym_block *next = s->blocks->next;

		free(s->blocks);
		s->blocks = next;
	}
	free(s->strs);
	free(s->str_ht.slots);
	free(s->mods);
	free(s->mod_ht.slots);
	free(s->files);
	free(s->file_ht.slots);
	free(s->cache);
	free(s->cache_ht.slots);
	free(s->tmp);
	free(s->dies);
	free(s->warns);
	free(s);
}

int sym_add_module(struct sym *s, uint32_t id, const char *path, uint64_t bias, uint64_t lo,
		   uint64_t hi, const uint8_t *build_id, size_t build_id_len)
{
	struct sym_module *m;
	uint8_t *id_copy = NULL;
	const char *ipath;
	int rc;

	if (id == 0 || !path || (build_id_len && !build_id) || module_find(s, id))
		return -EINVAL;
	ipath = intern(s, path);
	if (!ipath)
		return -ENOMEM;
	if (build_id_len) {
		id_copy = malloc(build_id_len);
		if (!id_copy)
			return -ENOMEM;
		memcpy(id_copy, build_id, build_id_len);
	}
	m = vec_grow(s->mods, &s->cap_mods, s->n_mods, sizeof(*s->mods));
	if (!m) {
		rc = -ENOMEM;
		goto out_free_id;
	}
	s->mods = m;
	rc = ht_insert(&s->mod_ht, hash_u64(id), s->n_mods);
	if (rc)
		goto out_free_id;
	m = &s->mods[s->n_mods++];
	*m = (struct sym_module){
		.id = id,
		.state = SYM_MOD_NEW,
		.path = ipath,
		.bias = bias,
		.lo = lo,
		.hi = hi,
		.build_id = id_copy,
		.build_id_len = build_id_len,
	};
	return 0;

out_free_id:
	free(id_copy);
	return rc;
}

size_t sym_lookup(struct sym *s, uint32_t id, uint64_t ret_addr, const struct sym_frame **frames)
{
	uint32_t h = hash_u64(ret_addr ^ ((uint64_t)id << 40 | (uint64_t)id >> 24));
	uint32_t pos = SYM_HT_START;
	const struct sym_frame *stored;
	struct sym_module *m;
	struct sym_cached *c;
	uint64_t pc;
	uint32_t idx1;
	size_t n;

	m = module_find(s, id);
	if (!m) {
		*frames = NULL;
		return 0;
	}
	while ((idx1 = ht_next(&s->cache_ht, h, &pos)) != 0) {
		c = &s->cache[idx1 - 1];
		if (c->ret_addr == ret_addr && c->id == id) {
			*frames = c->frames;
			return c->n_frames;
		}
	}

	*frames = &sym_unknown_frame;
	if (m->state == SYM_MOD_NEW)
		module_open(s, m);
	if (m->state != SYM_MOD_READY || ret_addr == 0)
		return 1;
	/* The return address follows the call; the call itself is what the user wrote. */
	pc = ret_addr - 1;
	if (m->lo < m->hi && (pc < m->lo || pc >= m->hi))
		return 1;

	n = resolve(s, &s->files[m->file], pc);
	if (n == 0 || n > UINT32_MAX)
		return 1;
	/* Out of memory below: the scratch frames would dangle, so say nothing is known. */
	stored = frames_store(s, n);
	if (!stored)
		return 1;
	c = vec_grow(s->cache, &s->cap_cache, s->n_cache, sizeof(*s->cache));
	if (!c)
		return 1;
	s->cache = c;
	if (ht_insert(&s->cache_ht, h, s->n_cache))
		return 1;
	s->cache[s->n_cache++] = (struct sym_cached){
		.ret_addr = ret_addr,
		.id = id,
		.n_frames = (uint32_t)n,
		.frames = stored,
	};
	*frames = stored;
	return n;
}

uint64_t sym_module_elf_addr(const struct sym *s, uint32_t id, uint64_t addr)
{
	const struct sym_module *m = module_find(s, id);

	return m ? addr - m->bias : 0;
}

size_t sym_warnings(const struct sym *s, const char *const **out)
{
	*out = s->warns;
	return s->n_warns;
}
