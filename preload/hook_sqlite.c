/* hook_sqlite.c - interposes SQLite's statement API: the six sqlite3_prepare* variants,
 * sqlite3_step, sqlite3_reset, sqlite3_finalize, sqlite3_exec and sqlite3_busy_handler.
 * Owns their real functions (resolved here, lazily, rather than in resolve.c: libsqlite3
 * is often loaded long after start-up, by dlopen, and with RTLD_LOCAL, as python3 does),
 * the table of statement handles, the busy-handler wrappers and the SQL records of
 * trace_format.h (0x20..0x24). docs/sqlite.md explains the design.
 *
 * Runs on application threads, possibly on one statement handle from several threads,
 * nested in itself (sqlite3_exec calls our prepare and step through the PLT), before the
 * constructor, and from its destructor at exit.
 * Never: malloc; stdio; a lock the application could hold; the guard held across a real
 * SQLite call (SQLite's own allocations and mutexes must stay visible to the other hooks);
 * opening the database file (closing any descriptor of a file drops every POSIX lock the
 * process holds on it, SQLite's included: see "POSIX advisory locks are broken" in
 * SQLite's os_unix.c). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "config.h"
#include "hook.h"
#include "intercept/trace_format.h"
#include "record.h"
#include "sqlnorm.h"
#include "stack.h"

/* ---- the real functions ------------------------------------------------------------------ */

struct sq_real {
	__typeof__(sqlite3_step) *step;
	__typeof__(sqlite3_reset) *reset;
	__typeof__(sqlite3_finalize) *finalize;
	__typeof__(sqlite3_prepare) *prepare;
	__typeof__(sqlite3_prepare_v2) *prepare_v2;
	__typeof__(sqlite3_prepare_v3) *prepare_v3;
	__typeof__(sqlite3_prepare16) *prepare16;
	__typeof__(sqlite3_prepare16_v2) *prepare16_v2;
	__typeof__(sqlite3_prepare16_v3) *prepare16_v3;
	__typeof__(sqlite3_exec) *exec;
	__typeof__(sqlite3_busy_handler) *busy_handler;
	__typeof__(sqlite3_sql) *sql;
	__typeof__(sqlite3_db_handle) *db_handle;
	__typeof__(sqlite3_db_filename) *db_filename;
	__typeof__(sqlite3_stmt_status) *stmt_status;
	uintptr_t lo, hi;	/* libsqlite3's mapped range: a caller inside it is SQLite */
	uintptr_t ex_lo, ex_hi; /* sqlite3_exec's code: its prepares and steps run exec's SQL */
	uintptr_t gt_lo, gt_hi; /* sqlite3_get_table's code: its sqlite3_exec is the app's */
};

/* Filled once by the thread that wins sq_resolving, then published through sq_realp
 * (release) and never changed: libsqlite3 is pinned by our dlopen handle, so the pointers
 * cannot dangle even if the application dlcloses its module. */
static struct sq_real sq_real_g;
static _Atomic(const struct sq_real *) sq_realp;
static _Atomic int sq_resolving; /* 1 while (or after) a thread fills sq_real_g */

struct range_arg {
	uintptr_t addr, lo, hi;
	const char *want; /* find_by_name: a substring of the module's file name */
	char path[256];
};

static int range_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct range_arg *a = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t b = info->dlpi_addr + ph->p_vaddr;
		if (b < lo)
			lo = b;
		if (b + ph->p_memsz > hi)
			hi = b + ph->p_memsz;
	}
	if (a->want) {
		const char *name = info->dlpi_name ? info->dlpi_name : "";
		const char *base = strrchr(name, '/');
		base = base ? base + 1 : name;
		if (!strstr(base, a->want) || strlen(name) >= sizeof(a->path))
			return 0;
		strcpy(a->path, name);
		return 1;
	}
	if (a->addr >= lo && a->addr < hi) {
		a->lo = lo;
		a->hi = hi;
		return 1;
	}
	return 0;
}

/* sq_find_library() : a handle on the loaded SQLite library (which pins it). Python loads
 * libsqlite3 with RTLD_LOCAL, so dlsym(RTLD_NEXT) finds nothing there; then the library is
 * found by its usual name, or by any loaded module whose name contains "sqlite" (an
 * SQLCipher build, say). RTLD_NOLOAD: never loads anything. */
static void *sq_find_library(void)
{
	void *lib = NULL;
	Dl_info di;
	void *step = dlsym(RTLD_NEXT, "sqlite3_step");
	if (step && dladdr(step, &di) && di.dli_fname)
		lib = dlopen(di.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
	if (!lib)
		lib = dlopen("libsqlite3.so.0", RTLD_NOLOAD | RTLD_LAZY);
	if (!lib) {
		struct range_arg a = {.want = "sqlite"};
		if (dl_iterate_phdr(range_cb, &a))
			lib = dlopen(a.path, RTLD_NOLOAD | RTLD_LAZY);
	}
	return lib;
}

static void sym_range(void *lib, const char *name, uintptr_t *lo, uintptr_t *hi)
{
	void *f = dlsym(lib, name);
	Dl_info di;
	const ElfW(Sym) *sym = NULL;
	if (f && dladdr1(f, &di, (void **)&sym, RTLD_DL_SYMENT) && sym) {
		*lo = (uintptr_t)f;
		*hi = (uintptr_t)f + sym->st_size;
	}
}

static bool sq_fill(struct sq_real *r)
{
	void *lib = sq_find_library();
	if (!lib)
		return false;
#define SQ_SYM(f) r->f = (__typeof__(r->f))dlsym(lib, "sqlite3_" #f)
	SQ_SYM(step);
	SQ_SYM(reset);
	SQ_SYM(finalize);
	SQ_SYM(prepare);
	SQ_SYM(prepare_v2);
	SQ_SYM(prepare_v3);
	SQ_SYM(prepare16);
	SQ_SYM(prepare16_v2);
	SQ_SYM(prepare16_v3);
	SQ_SYM(exec);
	SQ_SYM(busy_handler);
	SQ_SYM(sql);
	SQ_SYM(db_handle);
	SQ_SYM(db_filename);
	SQ_SYM(stmt_status);
#undef SQ_SYM
	if (!r->step)
		return false;
	struct range_arg a = {.addr = (uintptr_t)r->step};
	if (dl_iterate_phdr(range_cb, &a)) {
		r->lo = a.lo;
		r->hi = a.hi;
	}
	/* Code ranges from the symbols' sizes: calls from sqlite3_exec's body run the SQL it
	 * was given; sqlite3_get_table is sqlite3_exec with a callback of SQLite's, so the exec
	 * it makes is the application's, not SQLite's own. */
	sym_range(lib, "sqlite3_exec", &r->ex_lo, &r->ex_hi);
	sym_range(lib, "sqlite3_get_table", &r->gt_lo, &r->gt_hi);
	return true;
}

/* sq_resolve() : the slow path of sq_get(). The first thread fills the shared table; a
 * thread that finds another one at it resolves into its own `local` copy instead of
 * waiting (the other may wait for the loader lock this thread holds). @return NULL when no
 * SQLite library is loaded (our sqlite3_* was found by a dlsym(RTLD_DEFAULT) probe): the
 * hook then fails as SQLite would on a bad call. */
static IC_NOINLINE const struct sq_real *sq_resolve(struct sq_real *local)
{
	int e = errno;
	uint8_t saved = ic_tls.in_hook;
	ic_tls.in_hook = 2; /* dlopen and dlsym allocate */
	int expect = 0;
	bool mine = atomic_compare_exchange_strong(&sq_resolving, &expect, 1);
	struct sq_real *dst = mine ? &sq_real_g : local;
	memset(dst, 0, sizeof(*dst));
	bool ok = sq_fill(dst);
	if (mine) {
		if (ok) {
			atomic_store_explicit(&sq_realp, dst, memory_order_release);
		} else {
			static _Atomic int said;
			if (!atomic_exchange(&said, 1))
				ic_log("sqlite3_* was called but no SQLite library is loaded; "
				       "answering SQLITE_MISUSE");
			atomic_store(&sq_resolving, 0);
		}
	}
	ic_tls.in_hook = saved;
	errno = e;
	return ok ? dst : NULL;
}

IC_INLINE const struct sq_real *sq_get(struct sq_real *local)
{
	const struct sq_real *r = atomic_load_explicit(&sq_realp, memory_order_acquire);
	return IC_LIKELY(r != NULL) ? r : sq_resolve(local);
}

/* ---- per-thread state -------------------------------------------------------------------- */

enum sq_flag {
	SQ_OPEN = 0x100,      /* an execution is running: its first step was seen */
	SQ_DESCRIBED = 0x200, /* sql and db are known */
	SQ_STACKED = 0x400,   /* the first execution's stack was captured */
	/* the low bits hold ITF_SQL_* flags written to the trace */
};

/* One statement handle's recording state. */
struct sq_stmt {
	_Atomic uint32_t lock; /* taken (exchange) while a thread updates the fields below */
	uint32_t flags;	       /* enum sq_flag | ITF_SQL_* */
	uint32_t sql, db, stack;
	uint32_t rows, steps;
	uint64_t serial;		 /* handle number in this process */
	uint64_t start, step_time, wait; /* of the open execution, clock units */
	uint32_t base[5];		 /* stmt_status counters when the last execution ended */
};

/* One running sqlite3_exec; lives in its hook's C frame. sqlite3_exec finalizes its
 * statements without calling sqlite3_finalize through the PLT, so the state of the one it
 * runs lives here, never in the shared table (no stale entries). */
struct sq_frame {
	bool app;	 /* the application's (or sqlite3_get_table's), not SQLite's own */
	sqlite3_stmt *h; /* the statement it runs now, or NULL */
	struct sq_stmt st;
};

/* The sqlite3_exec calls running on this thread, innermost last. Only addresses are kept
 * in the array, and a frame is dereferenced only after its address shows it is still on
 * the stack: an exception or longjmp that leaves an exec callback skips our hook's return,
 * so frames below the current stack frame are dropped as dead, never read (their memory
 * may be reused by then). */
#define SQ_EXEC_MAX 8
struct sq_thread {
	struct sq_frame *exec[SQ_EXEC_MAX];
	uint32_t n_exec;  /* running execs; beyond SQ_EXEC_MAX they have no slot (unknown) */
	uint64_t wait;	  /* clock units spent in busy handlers, cumulative */
};
static IC_TLS struct sq_thread sq_t;

/* Process-wide counters (shown in the report; written at exit in ITF_EV_SQL_STATS). */
static struct {
	_Alignas(IC_CACHELINE) _Atomic uint64_t untracked;
	_Alignas(IC_CACHELINE) _Atomic uint64_t unwrapped;
	_Alignas(IC_CACHELINE) _Atomic uint64_t internal;
	_Alignas(IC_CACHELINE) _Atomic uint64_t serial;
} sq_count;

/* sq_active() : should this call be recorded? Like hook_enter() but takes no guard: the
 * real SQLite call runs unguarded, and only the bookkeeping around it is guarded. */
IC_INLINE bool sq_active(void)
{
	if (IC_UNLIKELY(ic_tls.in_hook))
		return false;
	if (IC_LIKELY(atomic_load_explicit(&ic_active, memory_order_relaxed) & ITF_HOOK_SQLITE))
		return true;
	if (atomic_load_explicit(&ic_state, memory_order_relaxed) != IC_UNINIT)
		return false;
	ic_tls.in_hook = 2;
	ic_lazy_init();
	ic_tls.in_hook = 0;
	return atomic_load_explicit(&ic_active, memory_order_relaxed) & ITF_HOOK_SQLITE;
}

enum sq_owner {
	SQ_OWN_APP,    /* the application called */
	SQ_OWN_EXEC,   /* the application's sqlite3_exec called, running the app's SQL */
	SQ_OWN_SQLITE, /* SQLite called for itself: schema loading, FTS, auto-reset, ... */
};

/* sq_exec_live() : the innermost sqlite3_exec still running on this thread, or NULL (also
 * when nesting passed SQ_EXEC_MAX). Frames below this function's own stack frame were
 * left without returning (see struct sq_thread) and are dropped. */
static IC_NOINLINE struct sq_frame *sq_exec_live(void)
{
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	uint32_t n = sq_t.n_exec;
	while (n && n <= SQ_EXEC_MAX && (uintptr_t)sq_t.exec[n - 1] < here)
		n--;
	sq_t.n_exec = n;
	return n && n <= SQ_EXEC_MAX ? sq_t.exec[n - 1] : NULL;
}

/* sq_owner() : who made this call, from its return address. Debian's libsqlite3 calls its
 * own API through the PLT (NOTES.md), so the hooks see SQLite's internal calls too. A
 * caller inside libsqlite3 is SQLite itself, except sqlite3_exec's own body when the
 * application (or sqlite3_get_table) called that sqlite3_exec. */
IC_INLINE enum sq_owner sq_owner(const struct sq_real *R, uintptr_t ra)
{
	if (IC_LIKELY(ra < R->lo || ra >= R->hi))
		return SQ_OWN_APP;
	if (ra >= R->ex_lo && ra < R->ex_hi) {
		const struct sq_frame *f = sq_exec_live();
		return f && f->app ? SQ_OWN_EXEC : SQ_OWN_SQLITE;
	}
	return SQ_OWN_SQLITE;
}

/* ---- the statement table ------------------------------------------------------------------
 * Open addressing over the handle's address, mmap'd at first use. A key is 0 (never used),
 * SQ_TOMB (finalized) or the handle. Keys are claimed by CAS and released by a store, so
 * lookups never lock; each entry's fields are guarded by its own lock word, held for a few
 * dozen instructions and never across a real call. A handle is unique while it lives, so
 * only one thread ever inserts it; a stale key (a handle freed without our finalize
 * seeing it) is reused in place when the address comes back from a prepare. */
#define SQ_SLOTS (1u << 16)
#define SQ_PROBES 64
#define SQ_TOMB ((uintptr_t)1)

struct sq_table {
	_Atomic uintptr_t keys[SQ_SLOTS];
	struct sq_stmt st[SQ_SLOTS];
};
static _Atomic(struct sq_table *) sq_tab;

static struct sq_table *tab_get(void)
{
	struct sq_table *T = atomic_load_explicit(&sq_tab, memory_order_acquire);
	if (IC_LIKELY(T != NULL))
		return T;
	void *m = mmap(NULL, sizeof(struct sq_table), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct sq_table *expect = NULL;
	if (!atomic_compare_exchange_strong(&sq_tab, &expect, (struct sq_table *)m)) {
		munmap(m, sizeof(struct sq_table));
		return expect;
	}
	return m;
}

IC_INLINE uint32_t tab_hash(const void *h)
{
	uint64_t x = (uintptr_t)h;
	x ^= x >> 21;
	x *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 48); /* 16 bits: SQ_SLOTS */
}

static struct sq_stmt *tab_find(struct sq_table *T, const void *h, uint32_t *slot)
{
	uint32_t i = tab_hash(h);
	for (unsigned p = 0; p < SQ_PROBES; p++, i = (i + 1) & (SQ_SLOTS - 1)) {
		uintptr_t k = atomic_load_explicit(&T->keys[i], memory_order_acquire);
		if (k == (uintptr_t)h) {
			*slot = i;
			return &T->st[i];
		}
		if (k == 0)
			return NULL;
	}
	return NULL;
}

static void st_init(struct sq_stmt *s)
{
	memset((char *)s + sizeof(s->lock), 0, sizeof(*s) - sizeof(s->lock));
	s->serial = atomic_fetch_add_explicit(&sq_count.serial, 1, memory_order_relaxed) + 1;
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* tab_add() : the entry for a new handle h, initialized. @return NULL when no slot is free
 * within SQ_PROBES (the handle goes unrecorded; counted). */
static struct sq_stmt *tab_add(struct sq_table *T, const void *h, uint32_t *slot)
{
	struct sq_stmt *s = tab_find(T, h, slot);
	if (s) {
		st_init(s); /* stale: a handle we never saw finalized, at the same address */
		return s;
	}
	uint32_t i = tab_hash(h);
	for (unsigned p = 0; p < SQ_PROBES; p++, i = (i + 1) & (SQ_SLOTS - 1)) {
		uintptr_t k = atomic_load_explicit(&T->keys[i], memory_order_relaxed);
		if ((k == 0 || k == SQ_TOMB) &&
		    atomic_compare_exchange_strong_explicit(&T->keys[i], &k, (uintptr_t)h,
							    memory_order_acquire,
							    memory_order_relaxed)) {
			*slot = i;
			st_init(&T->st[i]);
			return &T->st[i];
		}
	}
	return NULL;
}

/* st_lock() : take an entry's lock; a bounded spin, because the holder only ever runs a
 * few dozen instructions (or was forked away mid-update: then give up). */
static bool st_lock(struct sq_stmt *s)
{
	for (int i = 0; i < 1000; i++) {
		if (!atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
			return true;
		__builtin_ia32_pause();
	}
	return false;
}

static void st_unlock(struct sq_stmt *s)
{
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* ---- describing a statement ---------------------------------------------------------------- */

static uint32_t sq_intern_sql(const char *text, size_t len)
{
	char buf[STR_MAX];
	size_t n = sqn_normalize(text, len, buf, sizeof(buf), opt_sql_literals);
	return str_intern(ITF_STR_SQL, buf, n);
}

/* Database files this process has used (string ids), for their DBFILE records. */
#define SQ_MAX_DBS 256
static _Atomic uint32_t sq_dbs[SQ_MAX_DBS];

/* sq_db_record() : an ITF_EV_SQL_DBFILE record: stat(2) only, never open(2) (see the top of
 * this file). One system call per database file at first use, and one at exit. */
static void sq_db_record(uint32_t id, const char *path, unsigned when, uint64_t ts)
{
	struct stat st;
	bool exists = stat(path, &st) == 0;
	struct rec r;
	if (rec_begin(&r, ITF_EV_SQL_DBFILE, 8 * ITF_VARINT_MAX, ts))
		return;
	rec_u(&r, id);
	rec_u(&r, when);
	rec_u(&r, exists);
	rec_u(&r, exists ? (uint64_t)st.st_size : 0);
	rec_u(&r, exists ? (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec
			 : 0);
	rec_u(&r, exists ? (uint64_t)st.st_ino : 0);
	rec_u(&r, exists ? (uint64_t)st.st_dev : 0);
	rec_end(&r);
}

static const char sq_memory[] = ":memory:";

/* sq_db_id() : the string id of db's main database file; the first time this process sees
 * a file, its size and mtime are recorded too. */
static uint32_t sq_db_id(const struct sq_real *R, sqlite3 *db, uint64_t ts)
{
	const char *path = db && R->db_filename ? R->db_filename(db, "main") : NULL;
	if (!path || !*path)
		path = sq_memory; /* in-memory and temporary databases have no file name */
	size_t len = strnlen(path, 4096);
	uint32_t id = str_intern(ITF_STR_PATH, path, len);
	if (!id || path == sq_memory || len >= 4096)
		return id;
	for (unsigned i = 0; i < SQ_MAX_DBS; i++) {
		uint32_t v = atomic_load_explicit(&sq_dbs[i], memory_order_relaxed);
		if (v == id)
			return id;
		if (v == 0) {
			if (atomic_compare_exchange_strong(&sq_dbs[i], &v, id)) {
				sq_db_record(id, path, 1, ts);
				return id;
			}
			if (v == id)
				return id;
		}
	}
	return id;
}

static void sq_describe(const struct sq_real *R, sqlite3_stmt *h, struct sq_stmt *s, uint64_t ts)
{
	const char *text = R->sql ? R->sql(h) : NULL;
	s->sql = text ? sq_intern_sql(text, strnlen(text, 1u << 24)) : 0;
	s->db = sq_db_id(R, R->db_handle ? R->db_handle(h) : NULL, ts);
	s->flags |= SQ_DESCRIBED;
}

/* ---- recording ------------------------------------------------------------------------------ */

static const int sq_counter_ops[5] = {
	SQLITE_STMTSTATUS_FULLSCAN_STEP, SQLITE_STMTSTATUS_SORT, SQLITE_STMTSTATUS_AUTOINDEX,
	SQLITE_STMTSTATUS_VM_STEP, SQLITE_STMTSTATUS_REPREPARE,
};

/* sq_close() : end s's open execution at ts and write its ITF_EV_SQL_EXEC record. h is the
 * live handle (its counters are read), or NULL when it may be gone. */
static void sq_close(const struct sq_real *R, sqlite3_stmt *h, struct sq_stmt *s, uint64_t ts,
		     int rc, unsigned how)
{
	uint32_t d[5] = {0};
	unsigned flags = s->flags & ITF_SQL_VIA_EXEC;
	if (h && R->stmt_status) {
		for (int i = 0; i < 5; i++) {
			uint32_t v = (uint32_t)R->stmt_status(h, sq_counter_ops[i], 0);
			d[i] = v >= s->base[i] ? v - s->base[i] : v;
			s->base[i] = v;
		}
	} else {
		flags |= ITF_SQL_NO_COUNTERS;
	}
	s->flags &= ~(uint32_t)SQ_OPEN;
	struct rec r;
	if (rec_begin(&r, ITF_EV_SQL_EXEC, 20 * ITF_VARINT_MAX, ts))
		return;
	rec_u(&r, s->sql);
	rec_u(&r, s->db);
	rec_u(&r, s->stack);
	rec_u(&r, ts >= s->start ? ts - s->start : 0);
	rec_u(&r, s->step_time);
	rec_u(&r, s->wait);
	rec_u(&r, s->rows);
	rec_u(&r, s->steps);
	rec_u(&r, (uint32_t)rc);
	rec_u(&r, how);
	for (int i = 0; i < 5; i++)
		rec_u(&r, d[i]);
	rec_u(&r, flags);
	rec_u(&r, s->serial);
	rec_end(&r);
}

/* sq_state() : the recording state of handle h for a call by `own`, or NULL. */
static struct sq_stmt *sq_state(sqlite3_stmt *h, enum sq_owner own, bool create, uint32_t *slot)
{
	if (own == SQ_OWN_EXEC) {
		struct sq_frame *f = sq_exec_live();
		return f && f->h == h ? &f->st : NULL;
	}
	struct sq_table *T = create ? tab_get() : atomic_load_explicit(&sq_tab, memory_order_acquire);
	if (!T)
		return NULL;
	struct sq_stmt *s = tab_find(T, h, slot);
	if (!s && create)
		s = tab_add(T, h, slot);
	return s;
}

static IC_NOINLINE void sq_after_step(const struct sq_real *R, sqlite3_stmt *h,
				      enum sq_owner own, int rc, uint64_t t0, uint64_t t1,
				      uint64_t wait)
{
	if (!hook_enter(ITF_HOOK_SQLITE))
		return;
	int e = errno;
	uint32_t slot;
	struct sq_stmt *s = sq_state(h, own, true, &slot);
	if (!s || !st_lock(s)) {
		if (rc != SQLITE_ROW)
			atomic_fetch_add_explicit(&sq_count.untracked, 1, memory_order_relaxed);
		goto out;
	}
	if (!(s->flags & SQ_OPEN)) {
		if (!(s->flags & SQ_DESCRIBED))
			sq_describe(R, h, s, t1);
		if (!(s->flags & SQ_STACKED)) {
			/* once per handle: a walk costs about a point query's third */
			struct tstate *t = tls_state();
			s->stack = t ? stk_capture(t) : 0;
			s->flags |= SQ_STACKED;
		}
		s->flags |= SQ_OPEN;
		s->start = t0;
		s->step_time = s->wait = 0;
		s->rows = s->steps = 0;
	}
	s->steps++;
	s->step_time += t1 - t0;
	s->wait += wait;
	if (rc == SQLITE_ROW)
		s->rows++;
	else
		sq_close(R, h, s, t1, rc, ITF_SQL_END_STEP);
	st_unlock(s);
out:
	errno = e;
	hook_leave();
}

/* sq_end() : sqlite3_reset or sqlite3_finalize is about to run on h: an execution still
 * open ends here; a finalized handle leaves the table. */
static IC_NOINLINE void sq_end(const struct sq_real *R, sqlite3_stmt *h, enum sq_owner own,
			       unsigned how)
{
	if (!hook_enter(ITF_HOOK_SQLITE))
		return;
	int e = errno;
	uint32_t slot;
	struct sq_stmt *s = sq_state(h, own, false, &slot);
	/* The usual reset follows SQLITE_DONE, when nothing is open: a relaxed look at the
	 * flags spares the lock (a racing step on another thread can only open it later). */
	bool open = s && (__atomic_load_n(&s->flags, __ATOMIC_RELAXED) & SQ_OPEN);
	if (s && (open || how == ITF_SQL_END_FINALIZE) && st_lock(s)) {
		if (s->flags & SQ_OPEN)
			sq_close(R, h, s, clk_fast(), 0, how);
		st_unlock(s);
		if (how == ITF_SQL_END_FINALIZE && own != SQ_OWN_EXEC) {
			struct sq_table *T = atomic_load_explicit(&sq_tab, memory_order_acquire);
			atomic_store_explicit(&T->keys[slot], SQ_TOMB, memory_order_release);
		}
	}
	errno = e;
	hook_leave();
}

static IC_NOINLINE void sq_after_prepare(const struct sq_real *R, sqlite3 *db, sqlite3_stmt *h,
					 enum sq_owner own, int rc, const char *text8,
					 int nbytes, uint64_t t0, uint64_t t1)
{
	if (!hook_enter(ITF_HOOK_SQLITE))
		return;
	int e = errno;
	uint32_t sql = 0, dbid = 0, slot;
	uint64_t serial = 0;
	unsigned flags = own == SQ_OWN_EXEC ? ITF_SQL_VIA_EXEC : 0;
	if (h) {
		struct sq_stmt *s = NULL;
		if (own == SQ_OWN_EXEC) {
			struct sq_frame *f = sq_exec_live();
			if (f) {
				if (f->h && (f->st.flags & SQ_OPEN))
					sq_close(R, NULL, &f->st, t1, 0, ITF_SQL_END_EXEC);
				f->h = h;
				s = &f->st;
				st_init(s);
			}
		} else {
			struct sq_table *T = tab_get();
			s = T ? tab_add(T, h, &slot) : NULL;
		}
		if (s) {
			s->flags |= flags;
			sq_describe(R, h, s, t1);
			sql = s->sql;
			dbid = s->db;
			serial = s->serial;
		}
	} else if (text8) {
		size_t len = nbytes < 0 ? strnlen(text8, 1u << 24) : strnlen(text8, (size_t)nbytes);
		sql = sq_intern_sql(text8, len);
		dbid = sq_db_id(R, db, t1);
	}
	if (h || rc != SQLITE_OK) {
		struct rec r;
		if (!rec_begin(&r, ITF_EV_SQL_PREPARE, 6 * ITF_VARINT_MAX, t1)) {
			rec_u(&r, sql);
			rec_u(&r, dbid);
			rec_u(&r, t1 - t0);
			rec_u(&r, (uint32_t)rc);
			rec_u(&r, flags);
			rec_u(&r, serial);
			rec_end(&r);
		}
	}
	errno = e;
	hook_leave();
}

static IC_NOINLINE void sq_after_internal(const struct sq_real *R, sqlite3 *db, const char *sql,
					  int rc, uint64_t t0, uint64_t t1)
{
	if (!hook_enter(ITF_HOOK_SQLITE))
		return;
	int e = errno;
	uint32_t id = sql ? sq_intern_sql(sql, strnlen(sql, 1u << 24)) : 0;
	uint32_t dbid = sq_db_id(R, db, t1);
	struct rec r;
	if (!rec_begin(&r, ITF_EV_SQL_INTERNAL, 4 * ITF_VARINT_MAX, t1)) {
		rec_u(&r, id);
		rec_u(&r, dbid);
		rec_u(&r, t1 - t0);
		rec_u(&r, (uint32_t)rc);
		rec_end(&r);
		atomic_fetch_add_explicit(&sq_count.internal, 1, memory_order_relaxed);
	}
	errno = e;
	hook_leave();
}

/* The application's sqlite3_exec returned with one of its statements still running: its
 * callback asked to stop, and sqlite3_exec finalized the statement internally. */
static IC_NOINLINE void sq_after_exec(const struct sq_real *R, struct sq_frame *f, int rc)
{
	uint64_t ts = clk_after();
	if (!hook_enter(ITF_HOOK_SQLITE))
		return;
	int e = errno;
	sq_close(R, NULL, &f->st, ts, rc, ITF_SQL_END_EXEC);
	errno = e;
	hook_leave();
}

/* ---- busy handlers ---------------------------------------------------------------------------
 * A connection has one busy handler; sqlite3_busy_timeout installs SQLite's default one
 * (which sleeps 1, 2, 5, 10 ... ms up to the timeout) by calling sqlite3_busy_handler
 * through the PLT. Every handler is installed wrapped: the wrapper calls the handler with
 * its own argument and the same count, returns what it returns, and adds the time it took
 * (the sleeps: waiting for a database lock) to the thread's sq_t.wait, which the step
 * around it attributes to its statement. SQLite's behaviour is unchanged: the same
 * sleeps, the same give-up time (the default handler reads the timeout from the
 * connection, which sqlite3_busy_timeout sets after installing it).
 * Wrappers are interned by (handler, argument) and never change once published, so a
 * connection at a reused address, or a handler replaced while another thread waits in it,
 * can never see a torn pair. */
#define SQ_BUSY_SLOTS 4096
struct sq_busy {
	_Atomic uint32_t state; /* 0 free, 1 being written, 2 ready (release) */
	int (*fn)(void *, int);
	void *arg;
};
static struct sq_busy sq_busy_tab[SQ_BUSY_SLOTS];

static int sq_busy_wrap(void *ctx, int count)
{
	const struct sq_busy *b = ctx;
	uint64_t t0 = clk_now();
	int r = b->fn(b->arg, count);
	sq_t.wait += clk_now() - t0;
	return r;
}

static struct sq_busy *busy_get(int (*fn)(void *, int), void *arg)
{
	uint64_t x = ((uintptr_t)fn ^ ((uintptr_t)arg * 0x9e3779b97f4a7c15ull));
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	uint32_t i = (uint32_t)(x >> 52); /* 12 bits: SQ_BUSY_SLOTS */
	for (unsigned p = 0; p < SQ_PROBES; p++, i = (i + 1) & (SQ_BUSY_SLOTS - 1)) {
		struct sq_busy *b = &sq_busy_tab[i];
		uint32_t st = atomic_load_explicit(&b->state, memory_order_acquire);
		if (st == 2 && b->fn == fn && b->arg == arg)
			return b;
		if (st == 0 && atomic_compare_exchange_strong(&b->state, &st, 1)) {
			b->fn = fn;
			b->arg = arg;
			atomic_store_explicit(&b->state, 2, memory_order_release);
			return b;
		}
		/* state 1: another thread is writing this slot; a duplicate further on is harmless */
	}
	return NULL;
}

/* ---- the hooks ------------------------------------------------------------------------------ */

IC_EXPORT int sqlite3_step(sqlite3_stmt *h)
{
	struct sq_real local;
	const struct sq_real *R = sq_get(&local);
	if (IC_UNLIKELY(!R || !R->step))
		return SQLITE_MISUSE;
	if ((uintptr_t)h <= SQ_TOMB || !sq_active())
		return R->step(h); /* NULL: SQLite answers SQLITE_MISUSE */
	enum sq_owner own = sq_owner(R, (uintptr_t)__builtin_return_address(0));
	if (own == SQ_OWN_SQLITE)
		return R->step(h);
	uint64_t w0 = sq_t.wait;
	uint64_t t0 = clk_fast();
	int rc = R->step(h);
	uint64_t t1 = clk_fast();
	sq_after_step(R, h, own, rc, t0, t1, sq_t.wait - w0);
	return rc;
}

IC_EXPORT int sqlite3_reset(sqlite3_stmt *h)
{
	struct sq_real local;
	const struct sq_real *R = sq_get(&local);
	if (IC_UNLIKELY(!R || !R->reset))
		return SQLITE_MISUSE;
	if ((uintptr_t)h <= SQ_TOMB || !sq_active())
		return R->reset(h);
	enum sq_owner own = sq_owner(R, (uintptr_t)__builtin_return_address(0));
	if (own != SQ_OWN_SQLITE)
		sq_end(R, h, own, ITF_SQL_END_RESET);
	return R->reset(h);
}

IC_EXPORT int sqlite3_finalize(sqlite3_stmt *h)
{
	struct sq_real local;
	const struct sq_real *R = sq_get(&local);
	if (IC_UNLIKELY(!R || !R->finalize))
		return SQLITE_MISUSE;
	if ((uintptr_t)h <= SQ_TOMB || !sq_active())
		return R->finalize(h);
	enum sq_owner own = sq_owner(R, (uintptr_t)__builtin_return_address(0));
	if (own != SQ_OWN_SQLITE)
		sq_end(R, h, own, ITF_SQL_END_FINALIZE);
	return R->finalize(h);
}

/* The six prepare variants share one body; text8 is the SQL for the UTF-8 ones (named in
 * the record when the prepare fails), NULL for the UTF-16 ones. */
#define SQ_PREPARE_BODY(fn, args, text8)                                                           \
	struct sq_real local;                                                                      \
	const struct sq_real *R = sq_get(&local);                                                  \
	if (IC_UNLIKELY(!R || !R->fn))                                                             \
		return SQLITE_MISUSE;                                                              \
	if (!sq_active())                                                                          \
		return R->fn args;                                                                 \
	enum sq_owner own = sq_owner(R, (uintptr_t)__builtin_return_address(0));                   \
	if (own == SQ_OWN_SQLITE)                                                                  \
		return R->fn args;                                                                 \
	uint64_t t0 = clk_fast();                                                                  \
	int rc = R->fn args;                                                                       \
	uint64_t t1 = clk_fast();                                                                  \
	sq_after_prepare(R, db, rc == SQLITE_OK && out ? *out : NULL, own, rc, text8, n, t0, t1);  \
	return rc

IC_EXPORT int sqlite3_prepare(sqlite3 *db, const char *sql, int n, sqlite3_stmt **out,
			      const char **tail)
{
	SQ_PREPARE_BODY(prepare, (db, sql, n, out, tail), sql);
}

IC_EXPORT int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **out,
				 const char **tail)
{
	SQ_PREPARE_BODY(prepare_v2, (db, sql, n, out, tail), sql);
}

IC_EXPORT int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned int prep_flags,
				 sqlite3_stmt **out, const char **tail)
{
	SQ_PREPARE_BODY(prepare_v3, (db, sql, n, prep_flags, out, tail), sql);
}

IC_EXPORT int sqlite3_prepare16(sqlite3 *db, const void *sql, int n, sqlite3_stmt **out,
				const void **tail)
{
	SQ_PREPARE_BODY(prepare16, (db, sql, n, out, tail), NULL);
}

IC_EXPORT int sqlite3_prepare16_v2(sqlite3 *db, const void *sql, int n, sqlite3_stmt **out,
				   const void **tail)
{
	SQ_PREPARE_BODY(prepare16_v2, (db, sql, n, out, tail), NULL);
}

IC_EXPORT int sqlite3_prepare16_v3(sqlite3 *db, const void *sql, int n, unsigned int prep_flags,
				   sqlite3_stmt **out, const void **tail)
{
	SQ_PREPARE_BODY(prepare16_v3, (db, sql, n, prep_flags, out, tail), NULL);
}

IC_EXPORT int sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),
			   void *arg, char **errmsg)
{
	struct sq_real local;
	const struct sq_real *R = sq_get(&local);
	if (IC_UNLIKELY(!R || !R->exec))
		return SQLITE_MISUSE;
	if (!sq_active())
		return R->exec(db, sql, cb, arg, errmsg);
	uintptr_t ra = (uintptr_t)__builtin_return_address(0);
	struct sq_frame f = {.app = ra < R->lo || ra >= R->hi || (ra >= R->gt_lo && ra < R->gt_hi)};
	/* push: frames at or below this one were left without returning */
	uint32_t n = sq_t.n_exec;
	while (n && n <= SQ_EXEC_MAX && (uintptr_t)sq_t.exec[n - 1] <= (uintptr_t)&f)
		n--;
	if (n < SQ_EXEC_MAX)
		sq_t.exec[n] = &f;
	sq_t.n_exec = n + 1;
	uint64_t t0 = f.app ? 0 : clk_fast();
	int rc = R->exec(db, sql, cb, arg, errmsg);
	/* pop */
	n = sq_t.n_exec;
	if (n > SQ_EXEC_MAX)
		sq_t.n_exec = n - 1;
	else
		while (n && (uintptr_t)sq_t.exec[n - 1] <= (uintptr_t)&f)
			sq_t.n_exec = --n;
	if (!f.app)
		sq_after_internal(R, db, sql, rc, t0, clk_fast());
	else if (IC_UNLIKELY(f.h && (f.st.flags & SQ_OPEN)))
		sq_after_exec(R, &f, rc);
	return rc;
}

IC_EXPORT int sqlite3_busy_handler(sqlite3 *db, int (*fn)(void *, int), void *arg)
{
	struct sq_real local;
	const struct sq_real *R = sq_get(&local);
	if (IC_UNLIKELY(!R || !R->busy_handler))
		return SQLITE_MISUSE;
	if (!fn || fn == sq_busy_wrap || !sq_active())
		return R->busy_handler(db, fn, arg);
	struct sq_busy *b = busy_get(fn, arg);
	if (!b) {
		atomic_fetch_add_explicit(&sq_count.unwrapped, 1, memory_order_relaxed);
		return R->busy_handler(db, fn, arg);
	}
	return R->busy_handler(db, sq_busy_wrap, b);
}

/* ---- exit -----------------------------------------------------------------------------------
 * Runs before init.c's destructor (priority 101) writes the final chunk: executions still
 * running are recorded as ended by the exit (their counters are not read: the handle may
 * belong to a connection being torn down on another thread), every database file is
 * stat'ed once more, and the counters are written. */
__attribute__((destructor(102))) static void sq_destructor(void)
{
	const struct sq_real *R = atomic_load_explicit(&sq_realp, memory_order_acquire);
	if (!R || ic_tls.in_hook || !hook_enter(ITF_HOOK_SQLITE))
		return;
	int e = errno;
	uint64_t ts = clk_after();
	struct sq_table *T = atomic_load_explicit(&sq_tab, memory_order_acquire);
	for (uint32_t i = 0; T && i < SQ_SLOTS; i++) {
		uintptr_t k = atomic_load_explicit(&T->keys[i], memory_order_acquire);
		struct sq_stmt *s = &T->st[i];
		if (k <= SQ_TOMB || !(s->flags & SQ_OPEN) || !st_lock(s))
			continue;
		if (s->flags & SQ_OPEN)
			sq_close(R, NULL, s, ts, 0, ITF_SQL_END_EXIT);
		st_unlock(s);
	}
	for (unsigned i = 0; i < SQ_MAX_DBS; i++) {
		uint32_t id = atomic_load_explicit(&sq_dbs[i], memory_order_relaxed), len;
		const uint8_t *b = id ? intern_bytes(&str_table, id, &len) : NULL;
		char path[4096];
		if (!b || len < 2 || len > sizeof(path))
			continue;
		memcpy(path, b + 1, len - 1); /* the key is a kind byte, then the text */
		path[len - 1] = '\0';
		sq_db_record(id, path, 2, ts);
	}
	struct rec r;
	if (!rec_begin(&r, ITF_EV_SQL_STATS, 3 * ITF_VARINT_MAX, ts)) {
		rec_u(&r, atomic_load(&sq_count.untracked));
		rec_u(&r, atomic_load(&sq_count.unwrapped));
		rec_u(&r, atomic_load(&sq_count.internal));
		rec_end(&r);
	}
	errno = e;
	hook_leave();
}
