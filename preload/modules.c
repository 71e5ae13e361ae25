/* modules.c - owns the module table and its load/unload log. mod_rescan() runs from init,
 * from the dlopen/dlclose hooks (hook_dl.c) on application threads, and from the writer.
 * The module lock is a spinlock of ours taken inside dl_iterate_phdr's callback, so no path
 * ever waits for the loader's lock while holding it. Never: malloc, stdio. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "ic.h"
#include "modules.h"

#define MOD_MAX 16384u		    /* distinct modules tracked */
#define MOD_EVENTS_MAX (1u << 20)   /* loads + unloads logged */
#define MOD_ARENA (4u << 20)	    /* path bytes */

_Atomic uint32_t mod_gen;

/* Protects mod_entries' present/unload fields, mod_n, mod_arena_used and appends to the
 * event log; held only inside a dl_iterate_phdr walk, never across a syscall. */
static atomic_flag mod_lock = ATOMIC_FLAG_INIT;
static struct mod_entry *mod_entries;
static _Atomic uint32_t mod_n; /* entries in use; grows under mod_lock */
static struct mod_event *mod_log;
static _Atomic uint32_t mod_log_n; /* published with release after each append */
static char *mod_arena;
static uint32_t mod_arena_used;
static char mod_exe[4096]; /* the main program's path: its dlpi_name is "" */
static unsigned long long mod_adds, mod_subs;
static _Atomic uint32_t mod_overflow_warned;

static void *map_anon(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int mod_init(void)
{
	mod_entries = map_anon(MOD_MAX * sizeof(*mod_entries));
	mod_log = map_anon(MOD_EVENTS_MAX * sizeof(*mod_log));
	mod_arena = map_anon(MOD_ARENA);
	if (!mod_entries || !mod_log || !mod_arena)
		return -ENOMEM;
	ssize_t n = readlink("/proc/self/exe", mod_exe, sizeof(mod_exe) - 1);
	mod_exe[n > 0 ? n : 0] = '\0';
	mod_rescan();
	return 0;
}

/* Per-walk state: which entries were seen (by index), the lock, the time. */
struct walk {
	uint64_t ts;
	bool locked;
	uint8_t *seen; /* bitmap over MOD_MAX, on the caller's stack */
};

static void read_build_id(const struct dl_phdr_info *info, struct mod_entry *m)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
			const uint8_t *next = desc + ((nh->n_descsz + 3) & ~3u);
			if (next > end || next <= p)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && nh->n_descsz <= sizeof(m->build_id)) {
				memcpy(m->build_id, desc, nh->n_descsz);
				m->build_id_len = (uint8_t)nh->n_descsz;
				return;
			}
			p = next;
		}
	}
}

static int walk_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	(void)size;
	if (!w->locked) {
		while (atomic_flag_test_and_set_explicit(&mod_lock, memory_order_acquire))
			sched_yield();
		w->locked = true;
		mod_adds = info->dlpi_adds;
		mod_subs = info->dlpi_subs;
	}
	const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : mod_exe;
	size_t plen = strlen(path);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (hi == 0)
		return 0;
	for (uint32_t i = 0; i < mod_n; i++) {
		struct mod_entry *m = &mod_entries[i];
		if (m->present && m->bias == info->dlpi_addr && m->lo == lo &&
		    m->path_len == plen && !memcmp(mod_arena + m->path_off, path, plen)) {
			w->seen[i / 8] |= (uint8_t)(1u << (i % 8));
			return 0;
		}
	}
	uint32_t nlog = atomic_load_explicit(&mod_log_n, memory_order_relaxed);
	if (mod_n >= MOD_MAX || nlog >= MOD_EVENTS_MAX || mod_arena_used + plen + 1 > MOD_ARENA) {
		if (!atomic_exchange(&mod_overflow_warned, 1))
			ic_log("too many modules loaded; later ones are not symbolized");
		return 0;
	}
	struct mod_entry *m = &mod_entries[mod_n];
	memset(m, 0, sizeof(*m));
	m->id = mod_n + 1;
	m->gen = atomic_load_explicit(&mod_gen, memory_order_relaxed);
	m->bias = info->dlpi_addr;
	m->lo = lo;
	m->hi = hi;
	m->load_ts = w->ts;
	m->path_off = mod_arena_used;
	m->path_len = (uint32_t)plen;
	memcpy(mod_arena + mod_arena_used, path, plen + 1);
	mod_arena_used += (uint32_t)plen + 1;
	read_build_id(info, m);
	m->present = true;
	w->seen[mod_n / 8] |= (uint8_t)(1u << (mod_n % 8));
	mod_n++;
	mod_log[nlog] = (struct mod_event){.module = m->id - 1, .unload = 0};
	atomic_store_explicit(&mod_log_n, nlog + 1, memory_order_release);
	return 0;
}

void mod_rescan(void)
{
	if (!mod_entries)
		return;
	uint8_t seen[MOD_MAX / 8];
	memset(seen, 0, sizeof(seen));
	struct walk w = {.ts = clk_now(), .locked = false, .seen = seen};
	dl_iterate_phdr(walk_cb, &w);
	if (!w.locked)
		return;
	for (uint32_t i = 0; i < mod_n; i++) {
		struct mod_entry *m = &mod_entries[i];
		if (!m->present || (seen[i / 8] & (1u << (i % 8))))
			continue;
		uint32_t nlog = atomic_load_explicit(&mod_log_n, memory_order_relaxed);
		if (nlog >= MOD_EVENTS_MAX)
			break;
		m->present = false;
		m->unload_ts = w.ts;
		mod_log[nlog] = (struct mod_event){.module = i, .unload = 1};
		atomic_store_explicit(&mod_log_n, nlog + 1, memory_order_release);
		atomic_fetch_add_explicit(&mod_gen, 1, memory_order_release);
	}
	atomic_flag_clear_explicit(&mod_lock, memory_order_release);
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	unsigned long long *out = arg;
	out[0] = info->dlpi_adds;
	out[1] = info->dlpi_subs;
	return 1; /* the counters are the same in every entry: one is enough */
}

bool mod_changed(void)
{
	unsigned long long c[2] = {0, 0};
	dl_iterate_phdr(count_cb, c);
	return c[0] != mod_adds || c[1] != mod_subs;
}

const struct mod_event *mod_events(uint32_t *n, const struct mod_entry **entries,
				   const char **arena)
{
	*n = atomic_load_explicit(&mod_log_n, memory_order_acquire);
	*entries = mod_entries;
	*arena = mod_arena;
	return mod_log;
}

void mod_fork_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&mod_lock, memory_order_acquire))
		sched_yield();
}

void mod_fork_unlock(void)
{
	atomic_flag_clear_explicit(&mod_lock, memory_order_release);
}

bool mod_covers(uint64_t addr)
{
	/* Reads entries without the lock: an entry's range is immutable once published
	 * (mod_n only grows); a stale `present` only makes the writer rescan once more. */
	uint32_t n = atomic_load_explicit(&mod_n, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++)
		if (mod_entries[i].present && addr >= mod_entries[i].lo && addr < mod_entries[i].hi)
			return true;
	return false;
}
