/* hook_curl.c - interposes libcurl's transfer boundaries: curl_easy_perform (a whole transfer
 * in one call) and, for the multi interface, curl_multi_add_handle (start),
 * curl_multi_info_read (CURLMSG_DONE: end and result), curl_multi_remove_handle and
 * curl_multi_cleanup (end of transfers whose result the application never read). Each
 * transfer becomes one ITF_EV_HTTP record (trace_format.h) with libcurl's own phase times,
 * read through the real curl_easy_getinfo once the transfer is over.
 *
 * Runs on application threads, possibly before our constructor, during exit and after fork.
 * The guard is NOT held across the real libcurl calls: a transfer takes milliseconds and
 * allocates, and those allocations belong to the application's profile. It is held only
 * while recording. Never: malloc of our own, stdio, a lock, a link-time dependency on
 * libcurl (real functions come from dlsym, lazily, because libcurl may be dlopen'ed long
 * after our constructor ran), request or response bodies and headers, URL secrets.
 *
 * Counting each transfer once. Debian's libcurl calls its own curl_multi_add_handle,
 * curl_multi_info_read and curl_multi_remove_handle through the PLT from inside
 * curl_easy_perform (../shared/NOTES.md; objdump shows the @plt calls), so the multi hooks
 * see easy transfers too. A thread-local "handle inside curl_easy_perform on this thread"
 * makes them pass those through. curl_multi_perform and curl_multi_socket_action are not
 * interposed: whatever drives a multi handle, an application learns that a transfer ended
 * only from curl_multi_info_read (or stops caring and removes it), and both are hooked. */
#define _GNU_SOURCE
#define CURL_DISABLE_DEPRECATION /* the pre-7.61 *_TIME (double) fallbacks are deprecated */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>

#include "config.h"
#include "hook.h"
#include "intercept/trace_format.h"
#include "intercept/url.h"
#include "modules.h"
#include "record.h"
#include "resolve.h"
#include "stack.h"

/* ---- the real libcurl ----------------------------------------------------------------- */

enum cu_fn {
	CU_EASY_PERFORM,
	CU_EASY_GETINFO,
	CU_MULTI_ADD_HANDLE,
	CU_MULTI_REMOVE_HANDLE,
	CU_MULTI_INFO_READ,
	CU_MULTI_CLEANUP,
	CU_VERSION_INFO,
	CU_N
};

static const char *const cu_names[CU_N] = {
	"curl_easy_perform",	    "curl_easy_getinfo",    "curl_multi_add_handle",
	"curl_multi_remove_handle", "curl_multi_info_read", "curl_multi_cleanup",
	"curl_version_info",
};

typedef CURLcode (*easy_perform_fn)(CURL *);
typedef CURLcode (*easy_getinfo_fn)(CURL *, CURLINFO, ...);
typedef CURLMcode (*multi_handle_fn)(CURLM *, CURL *);
typedef CURLMsg *(*multi_info_read_fn)(CURLM *, int *);
typedef CURLMcode (*multi_cleanup_fn)(CURLM *);
typedef curl_version_info_data *(*version_info_fn)(CURLversion);

/* Version thresholds (LIBCURL_VERSION_NUM) of the CURLINFO values we read. */
#define CU_V_SIZE_T 0x073700u	  /* 7.55.0: SIZE_DOWNLOAD_T, SIZE_UPLOAD_T */
#define CU_V_TIME_T 0x073d00u	  /* 7.61.0: *_TIME_T in microseconds */
#define CU_V_METHOD 0x074800u	  /* 7.72.0: EFFECTIVE_METHOD */
#define CU_V_CONN_ID 0x080200u	  /* 8.2.0: CONN_ID */
#define CU_V_QUEUE 0x080600u	  /* 8.6.0: QUEUE_TIME_T */
#define CU_V_POSTXFER 0x080a00u /* 8.10.0: POSTTRANSFER_TIME_T */
/* Not in the 7.88.1 headers we build against; values from later curl.h. */
#define CU_INFO_CONN_ID ((CURLINFO)(CURLINFO_OFF_T + 64))
#define CU_INFO_QUEUE_TIME_T ((CURLINFO)(CURLINFO_OFF_T + 65))
#define CU_INFO_POSTTRANSFER_TIME_T ((CURLINFO)(CURLINFO_OFF_T + 67))

/* ---- the real libcurl, per caller --------------------------------------------------------
 * Debian ships three libcurl builds (libcurl.so.4 with OpenSSL, libcurl-gnutls.so.4,
 * libcurl-nss.so.4) with the same function names under different symbol versions, made to
 * coexist in one process. Our unversioned definitions interpose all of them, so each call
 * must go back to the build its caller was linked with: a handle made by one build handed
 * to another crashes (measured: a program linked with libcurl.so.4 that dlopens a plugin
 * linked with libcurl-gnutls.so.4 segfaulted while every call went to the definition
 * RTLD_NEXT finds). The build is found from the caller's return address: the module it lies
 * in, then dlsym on that module's own handle, which searches the module and its
 * dependencies breadth first - the module's libcurl, or libcurl itself for its own PLT
 * calls - and never the global scope where the preload sits. The main program's handle is
 * the global scope, so for it (and for a module whose dependencies hold no libcurl) the
 * default build is used: the one RTLD_NEXT finds, else one found by soname with
 * RTLD_NOLOAD (a libcurl loaded into a local scope is invisible to RTLD_NEXT, the way
 * python's _sqlite3 hides libsqlite3; NOTES). Module ranges are cached behind a seqlock
 * per entry and keyed by the module generation (a dlclose invalidates them): the fast path
 * is a few compares. Each build found is pinned with a handle that is never closed, so no
 * pointer can dangle after the application unloads it. */
struct cu_lib {
	void *fn[CU_N];
	unsigned version; /* LIBCURL_VERSION_NUM (curl_version_info) */
	_Atomic int ready; /* fn and version written (release) */
};

#define CU_LIBS 8
static struct cu_lib cu_libs[CU_LIBS];
static _Atomic uint32_t cu_n_libs; /* slots claimed (may pass CU_LIBS: then full) */
static _Atomic(struct cu_lib *) cu_default;

/* Sonames tried with RTLD_NOLOAD when RTLD_NEXT finds no libcurl. */
static const char *const cu_sonames[] = {"libcurl.so.4", "libcurl-gnutls.so.4",
					 "libcurl-nss.so.4", "libcurl.so"};

struct cu_caller {
	_Atomic uint32_t seq; /* 0 empty; odd while being written; even and > 0 valid */
	_Atomic uint32_t gen; /* mod_gen when cached */
	_Atomic uintptr_t lo, hi; /* the calling module's range */
	_Atomic(struct cu_lib *) lib;
};

#define CU_CALLERS 16
static struct cu_caller cu_callers[CU_CALLERS];
static _Atomic uint32_t cu_caller_next; /* round-robin replacement */

/* is_own() : is f inside the preload (a lookup that found the hook itself)? */
static bool is_own(void *f)
{
	Dl_info a, b;
	return dladdr(f, &a) && dladdr((void *)&is_own, &b) && a.dli_fbase == b.dli_fbase;
}

static void close_handle(void *h)
{
	if (!real_dlclose)
		resolve_all();
	if (real_dlclose)
		real_dlclose(h);
}

/* lib_intern() : the cu_lib for the function set f, added (and pinned) when new.
 * @return NULL when CU_LIBS builds are known already. */
static struct cu_lib *lib_intern(void *const f[CU_N])
{
	uint32_t n = atomic_load_explicit(&cu_n_libs, memory_order_acquire);
	for (uint32_t i = 0; i < n && i < CU_LIBS; i++)
		if (atomic_load_explicit(&cu_libs[i].ready, memory_order_acquire) &&
		    cu_libs[i].fn[CU_EASY_PERFORM] == f[CU_EASY_PERFORM])
			return &cu_libs[i];
	uint32_t i = atomic_fetch_add_explicit(&cu_n_libs, 1, memory_order_acq_rel);
	if (i >= CU_LIBS)
		return NULL;
	struct cu_lib *L = &cu_libs[i];
	memcpy(L->fn, f, sizeof(L->fn));
	curl_version_info_data *v = ((version_info_fn)f[CU_VERSION_INFO])(CURLVERSION_NOW);
	L->version = v ? v->version_num : 0;
	Dl_info info;
	if (dladdr(f[CU_EASY_PERFORM], &info) && info.dli_fname)
		(void)dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY); /* the pin: never closed */
	atomic_store_explicit(&L->ready, 1, memory_order_release);
	return L;
}

/* lib_from() : the libcurl that dlsym finds through handle h, or NULL. */
static struct cu_lib *lib_from(void *h)
{
	void *f[CU_N];
	for (int i = 0; i < CU_N; i++) {
		f[i] = dlsym(h, cu_names[i]);
		if (!f[i] || is_own(f[i]))
			return NULL;
	}
	return lib_intern(f);
}

static struct cu_lib *default_lib(void)
{
	struct cu_lib *L = atomic_load_explicit(&cu_default, memory_order_acquire);
	if (L)
		return L;
	L = lib_from(RTLD_NEXT);
	for (size_t i = 0; !L && i < IC_ARRAY_LEN(cu_sonames); i++) {
		void *h = dlopen(cu_sonames[i], RTLD_NOLOAD | RTLD_LAZY);
		if (h) {
			L = lib_from(h);
			close_handle(h);
		}
	}
	if (L)
		atomic_store_explicit(&cu_default, L, memory_order_release);
	return L;
}

struct mod_find {
	uintptr_t addr, lo, hi;
	bool found;
	char name[1024];
};

static int mod_find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct mod_find *m = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	bool in = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		in |= m->addr >= a && m->addr < a + ph->p_memsz;
		lo = a < lo ? a : lo;
		hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
	}
	if (!in)
		return 0;
	m->lo = lo;
	m->hi = hi;
	m->found = true;
	size_t n = info->dlpi_name ? strnlen(info->dlpi_name, sizeof(m->name) - 1) : 0;
	memcpy(m->name, info->dlpi_name ? info->dlpi_name : "", n);
	m->name[n] = '\0';
	return 1;
}

static void cache_put(uintptr_t lo, uintptr_t hi, uint32_t gen, struct cu_lib *L)
{
	uint32_t i = atomic_fetch_add_explicit(&cu_caller_next, 1, memory_order_relaxed) %
		     CU_CALLERS;
	struct cu_caller *c = &cu_callers[i];
	uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
	if ((s & 1) || !atomic_compare_exchange_strong_explicit(&c->seq, &s, s + 1,
								memory_order_acq_rel,
								memory_order_relaxed))
		return; /* another thread is writing it: leave it uncached */
	atomic_store_explicit(&c->gen, gen, memory_order_relaxed);
	atomic_store_explicit(&c->lo, lo, memory_order_relaxed);
	atomic_store_explicit(&c->hi, hi, memory_order_relaxed);
	atomic_store_explicit(&c->lib, L, memory_order_relaxed);
	atomic_store_explicit(&c->seq, s + 2, memory_order_release);
}

/* lib_slow() : find the calling module's libcurl, and cache it. Guard at 2 (dlopen, dlsym
 * and dladdr allocate); errno preserved. */
static IC_NOINLINE struct cu_lib *lib_slow(uintptr_t ra, uint32_t gen)
{
	int e = errno;
	uint8_t saved = ic_tls.in_hook;
	ic_tls.in_hook = 2;
	struct mod_find m = {.addr = ra};
	struct cu_lib *L = NULL;
	dl_iterate_phdr(mod_find_cb, &m);
	if (m.found && m.name[0]) { /* "" is the main program: its handle is the global scope */
		void *h = dlopen(m.name, RTLD_NOLOAD | RTLD_LAZY);
		if (h) {
			L = lib_from(h);
			close_handle(h);
		}
	}
	if (!L)
		L = default_lib();
	if (L && m.found)
		cache_put(m.lo, m.hi, gen, L);
	ic_tls.in_hook = saved;
	errno = e;
	return L;
}

/*! cu_lib_for() : the libcurl build that the code at return address ra was linked with.
 * @return NULL when no libcurl is loaded (the caller then fails as libcurl would without
 * the feature). */
static inline struct cu_lib *cu_lib_for(const void *ra)
{
	uintptr_t a = (uintptr_t)ra;
	uint32_t gen = atomic_load_explicit(&mod_gen, memory_order_relaxed);
	for (uint32_t i = 0; i < CU_CALLERS; i++) {
		struct cu_caller *c = &cu_callers[i];
		uint32_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (s == 0 || (s & 1))
			continue;
		uintptr_t lo = atomic_load_explicit(&c->lo, memory_order_relaxed);
		uintptr_t hi = atomic_load_explicit(&c->hi, memory_order_relaxed);
		uint32_t g = atomic_load_explicit(&c->gen, memory_order_relaxed);
		struct cu_lib *L = atomic_load_explicit(&c->lib, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&c->seq, memory_order_relaxed) != s)
			continue;
		if (a >= lo && a < hi && g == gen)
			return L;
	}
	return lib_slow(a, gen);
}

#define CU_FN(L, idx, type) ((type)(L)->fn[idx])

/* ---- per-thread state ------------------------------------------------------------------- */

/* The easy handle inside curl_easy_perform on this thread (NULL outside): the multi hooks
 * pass its internal add/info_read/remove calls through. A separate initial-exec variable
 * rather than a field of ic_tls, because only this file reads it and a program that never
 * calls curl never touches it; it costs the same (a fixed offset from the thread pointer). */
static IC_TLS CURL *cu_in_easy;

/* ---- transfers in flight on the multi interface ------------------------------------------
 * A fixed open-addressing table from easy handle to the transfer's start. Lock-free: a slot
 * is claimed by CAS on its key; its other fields belong to the handle's owner (libcurl
 * requires a handle to be used by one thread at a time, so the application's own
 * synchronization orders them). Deleted slots become tombstones, reused by inserts. At most
 * CU_PROBES probes: beyond, a transfer is untracked and recorded at its end without its
 * start (ITF_HTTP_NO_START). Static storage: pages are touched only by programs using the
 * multi interface. */
#define CU_SLOTS 4096u
#define CU_PROBES 64u
#define CU_EMPTY ((uintptr_t)0)
#define CU_TOMB ((uintptr_t)1)

enum cu_xfer_state {
	CU_ADDED = 1, /* added, end not seen */
	CU_DONE = 2,  /* recorded at CURLMSG_DONE; waiting for its removal */
};

struct cu_xfer {
	_Atomic uintptr_t key; /* CURL *, CU_EMPTY or CU_TOMB */
	_Atomic uintptr_t multi; /* the CURLM * it was added to (read by curl_multi_cleanup
				    scans on any thread: atomic, relaxed) */
	uint64_t start_ts;     /* clk_before() at curl_multi_add_handle */
	uint32_t stack;	       /* the adding call's stack */
	uint32_t state;	       /* enum cu_xfer_state */
};

static struct cu_xfer cu_xfers[CU_SLOTS];
/* Live (non-tombstone) entries: lets remove/cleanup skip the table when nothing is in it. */
static _Atomic uint32_t cu_live;

static uint32_t cu_hash(uintptr_t k)
{
	uint64_t x = (uint64_t)k;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 29;
	return (uint32_t)x & (CU_SLOTS - 1);
}

/* xfer_find() : the entry of handle h, or NULL. */
static struct cu_xfer *xfer_find(CURL *h)
{
	uintptr_t k = (uintptr_t)h;
	uint32_t i = cu_hash(k);
	for (uint32_t n = 0; n < CU_PROBES; n++, i = (i + 1) & (CU_SLOTS - 1)) {
		uintptr_t cur = atomic_load_explicit(&cu_xfers[i].key, memory_order_acquire);
		if (cur == k)
			return &cu_xfers[i];
		if (cur == CU_EMPTY)
			return NULL;
	}
	return NULL;
}

/* xfer_add() : the entry for h, claimed if new. @return NULL when the probes are full. */
static struct cu_xfer *xfer_add(CURL *h)
{
	struct cu_xfer *x = xfer_find(h);
	if (x)
		return x; /* a stale entry of a handle reused without removal: restart it */
	uintptr_t k = (uintptr_t)h;
	uint32_t i = cu_hash(k);
	for (uint32_t n = 0; n < CU_PROBES; n++, i = (i + 1) & (CU_SLOTS - 1)) {
		uintptr_t cur = atomic_load_explicit(&cu_xfers[i].key, memory_order_relaxed);
		while (cur == CU_EMPTY || cur == CU_TOMB) {
			if (atomic_compare_exchange_weak_explicit(&cu_xfers[i].key, &cur, k,
								  memory_order_acq_rel,
								  memory_order_relaxed)) {
				atomic_fetch_add_explicit(&cu_live, 1, memory_order_relaxed);
				return &cu_xfers[i];
			}
		}
	}
	return NULL;
}

/* xfer_del() : free x's slot. Its multi is cleared first, so that the next owner of the
 * slot never shows a curl_multi_cleanup scan on another thread the stale multi of the
 * previous one (the release store orders the two; the claim's CAS acquires them). */
static void xfer_del(struct cu_xfer *x)
{
	atomic_store_explicit(&x->multi, 0, memory_order_relaxed);
	atomic_store_explicit(&x->key, CU_TOMB, memory_order_release);
	atomic_fetch_sub_explicit(&cu_live, 1, memory_order_relaxed);
}

/* ---- recording (guard held) ---------------------------------------------------------------- */

#define CU_URL_MAX 1024 /* bytes of cleaned URL kept; longer ones are cut (ITF_HTTP_URL_CUT) */
#define CU_METHOD_MAX 32

enum cu_phase { P_NAMELOOKUP, P_CONNECT, P_APPCONNECT, P_PRETRANSFER, P_STARTTRANSFER,
		P_TOTAL, P_REDIRECT, P_N };

struct cu_info {
	const char *url, *method;
	long status, connects, redirects;
	curl_off_t us[P_N];
	curl_off_t down, up, queue_us, post_us, conn_id;
};

static curl_off_t off_or_0(easy_getinfo_fn gi, CURL *h, CURLINFO what)
{
	curl_off_t v = 0;
	return gi(h, what, &v) == CURLE_OK && v > 0 ? v : 0;
}

static curl_off_t dbl_or_0(easy_getinfo_fn gi, CURL *h, CURLINFO what, double scale)
{
	double v = 0;
	return gi(h, what, &v) == CURLE_OK && v > 0 ? (curl_off_t)(v * scale) : 0;
}

/* cu_getinfo() : what libcurl L knows about the finished transfer on h. Older libraries
 * lack some CURLINFO values (L->version says which): those stay 0 or NULL. */
static void cu_getinfo(const struct cu_lib *L, CURL *h, struct cu_info *in)
{
	static const CURLINFO t_ids[P_N] = {
		CURLINFO_NAMELOOKUP_TIME_T,    CURLINFO_CONNECT_TIME_T, CURLINFO_APPCONNECT_TIME_T,
		CURLINFO_PRETRANSFER_TIME_T,   CURLINFO_STARTTRANSFER_TIME_T,
		CURLINFO_TOTAL_TIME_T,	       CURLINFO_REDIRECT_TIME_T,
	};
	static const CURLINFO d_ids[P_N] = {
		CURLINFO_NAMELOOKUP_TIME,  CURLINFO_CONNECT_TIME,	CURLINFO_APPCONNECT_TIME,
		CURLINFO_PRETRANSFER_TIME, CURLINFO_STARTTRANSFER_TIME, CURLINFO_TOTAL_TIME,
		CURLINFO_REDIRECT_TIME,
	};
	easy_getinfo_fn gi = CU_FN(L, CU_EASY_GETINFO, easy_getinfo_fn);
	unsigned v = L->version;
	memset(in, 0, sizeof(*in));
	if (gi(h, CURLINFO_EFFECTIVE_URL, &in->url) != CURLE_OK)
		in->url = NULL;
	if (v < CU_V_METHOD || gi(h, CURLINFO_EFFECTIVE_METHOD, &in->method) != CURLE_OK)
		in->method = NULL;
	if (gi(h, CURLINFO_RESPONSE_CODE, &in->status) != CURLE_OK || in->status < 0)
		in->status = 0;
	if (gi(h, CURLINFO_NUM_CONNECTS, &in->connects) != CURLE_OK || in->connects < 0)
		in->connects = 0;
	if (gi(h, CURLINFO_REDIRECT_COUNT, &in->redirects) != CURLE_OK || in->redirects < 0)
		in->redirects = 0;
	for (int i = 0; i < P_N; i++)
		in->us[i] = v >= CU_V_TIME_T ? off_or_0(gi, h, t_ids[i]) :
					       dbl_or_0(gi, h, d_ids[i], 1e6);
	if (v >= CU_V_SIZE_T) {
		in->down = off_or_0(gi, h, CURLINFO_SIZE_DOWNLOAD_T);
		in->up = off_or_0(gi, h, CURLINFO_SIZE_UPLOAD_T);
	} else {
		in->down = dbl_or_0(gi, h, CURLINFO_SIZE_DOWNLOAD, 1);
		in->up = dbl_or_0(gi, h, CURLINFO_SIZE_UPLOAD, 1);
	}
	if (v >= CU_V_QUEUE)
		in->queue_us = off_or_0(gi, h, CU_INFO_QUEUE_TIME_T);
	if (v >= CU_V_POSTXFER)
		in->post_us = off_or_0(gi, h, CU_INFO_POSTTRANSFER_TIME_T);
	if (v >= CU_V_CONN_ID) {
		curl_off_t id = -1;
		if (gi(h, CU_INFO_CONN_ID, &id) == CURLE_OK && id >= 0)
			in->conn_id = id + 1;
	}
}

static uint32_t intern_cstr(unsigned kind, const char *s, size_t max)
{
	return s && *s ? str_intern(kind, s, strnlen(s, max)) : 0;
}

/* cu_record() : write the ITF_EV_HTTP record of the transfer on h that ended at ts_end.
 * start_ts 0: not seen. stack 0: capture this call's stack. Takes and leaves the guard
 * itself; errno is preserved. Can't fail: a record that finds no room is dropped and
 * counted by rec_begin(). */
static IC_NOINLINE void cu_record(const struct cu_lib *L, CURL *h, uint64_t ts_end,
				  uint64_t start_ts, uint32_t stack,
				  CURLcode result, unsigned flags)
{
	if (!hook_enter(ITF_HOOK_CURL))
		return;
	int e = errno;
	struct tstate *t = tls_state();
	if (!t)
		goto out;
	struct cu_info in;
	ic_tls.in_hook = 2; /* getinfo is libcurl's code: anything it allocates is ours */
	cu_getinfo(L, h, &in);
	ic_tls.in_hook = 1;

	char url[CU_URL_MAX];
	bool cut = false;
	size_t n = 0;
	unsigned uflags = ITF_URL_IDS | (opt_url_query ? ITF_URL_KEEP_QUERY : 0);
	if (in.url)
		n = itf_url_clean(in.url, strnlen(in.url, 1u << 20), url, sizeof(url), uflags,
				  &cut);
	flags |= (cut ? ITF_HTTP_URL_CUT : 0) | (opt_url_query ? ITF_HTTP_QUERY_KEPT : 0);
	uint32_t url_id = n ? str_intern(ITF_STR_URL, url, n) : 0;
	uint32_t method_id = intern_cstr(ITF_STR_OTHER, in.method, CU_METHOD_MAX);
	if (!stack)
		stack = stk_capture(t);

	struct rec r;
	if (rec_begin(&r, ITF_EV_HTTP, 24 * ITF_VARINT_MAX, ts_end))
		goto out;
	rec_u(&r, flags);
	rec_u(&r, start_ts && start_ts <= ts_end ? ts_end - start_ts : 0);
	rec_u(&r, url_id);
	rec_u(&r, method_id);
	rec_u(&r, (uint64_t)(unsigned)result);
	rec_u(&r, (uint64_t)in.status);
	for (int i = 0; i < P_N; i++)
		rec_u(&r, (uint64_t)in.us[i]);
	rec_u(&r, (uint64_t)in.down);
	rec_u(&r, (uint64_t)in.up);
	rec_u(&r, (uint64_t)in.connects);
	rec_u(&r, (uint64_t)in.redirects);
	rec_u(&r, stack);
	rec_u(&r, (uint64_t)in.queue_us);
	rec_u(&r, (uint64_t)in.post_us);
	rec_u(&r, (uint64_t)in.conn_id);
	rec_end(&r);
out:
	errno = e;
	hook_leave();
}

/* cu_active() : should this call be looked at? (The curl hook is on and this is not a call
 * made from inside one of our own hooks.) Runs the lazy initialization on first use. */
static inline bool cu_active(void)
{
	if (!hook_enter(ITF_HOOK_CURL))
		return false;
	hook_leave();
	return true;
}

/* cu_end() : a multi transfer on h ended (seen at ts): record it once, with its start and
 * adding stack when it was tracked. done: CURLMSG_DONE was read (result is valid). */
static void cu_end(const struct cu_lib *L, CURLM *m, CURL *h, uint64_t ts, CURLcode result,
		   bool done)
{
	struct cu_xfer *x = atomic_load_explicit(&cu_live, memory_order_relaxed) ? xfer_find(h) :
										 NULL;
	unsigned flags = ITF_HTTP_MULTI | (done ? 0 : ITF_HTTP_NO_RESULT);
	if (x && atomic_load_explicit(&x->multi, memory_order_relaxed) == (uintptr_t)m) {
		if (x->state == CU_ADDED)
			cu_record(L, h, ts, x->start_ts, x->stack, result, flags);
		x->state = CU_DONE;
		if (!done)
			xfer_del(x);
	} else if (done) {
		/* added before recording began, or the table was full: the end is still known */
		cu_record(L, h, ts, 0, 0, result, flags | ITF_HTTP_NO_START);
	}
}

/* ---- the hooks ------------------------------------------------------------------------- */

IC_EXPORT CURLcode curl_easy_perform(CURL *h)
{
	struct cu_lib *L = cu_lib_for(__builtin_return_address(0));
	if (IC_UNLIKELY(!L))
		return CURLE_FAILED_INIT; /* no libcurl in the process */
	easy_perform_fn real = CU_FN(L, CU_EASY_PERFORM, easy_perform_fn);
	if (!cu_active())
		return real(h);
	uint64_t t0 = clk_before();
	CURL *outer = cu_in_easy;
	cu_in_easy = h;
	CURLcode rc = real(h);
	cu_in_easy = outer;
	uint64_t t1 = clk_after();
	cu_record(L, h, t1, t0, 0, rc, 0);
	return rc;
}

IC_EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	struct cu_lib *L = cu_lib_for(__builtin_return_address(0));
	if (IC_UNLIKELY(!L))
		return CURLM_INTERNAL_ERROR; /* no libcurl in the process */
	multi_handle_fn real = CU_FN(L, CU_MULTI_ADD_HANDLE, multi_handle_fn);
	if (h == cu_in_easy || !cu_active())
		return real(m, h);
	uint64_t t0 = clk_before();
	CURLMcode rc = real(m, h);
	if (rc != CURLM_OK || !hook_enter(ITF_HOOK_CURL))
		return rc;
	int e = errno;
	struct tstate *t = tls_state();
	struct cu_xfer *x = t ? xfer_add(h) : NULL;
	if (x) {
		atomic_store_explicit(&x->multi, (uintptr_t)m, memory_order_relaxed);
		x->start_ts = t0;
		x->stack = stk_capture(t);
		x->state = CU_ADDED;
	}
	errno = e;
	hook_leave();
	return rc;
}

IC_EXPORT CURLMsg *curl_multi_info_read(CURLM *m, int *msgs_in_queue)
{
	struct cu_lib *L = cu_lib_for(__builtin_return_address(0));
	if (IC_UNLIKELY(!L))
		return NULL; /* no libcurl in the process */
	multi_info_read_fn real = CU_FN(L, CU_MULTI_INFO_READ, multi_info_read_fn);
	CURLMsg *msg = real(m, msgs_in_queue);
	if (!msg || msg->msg != CURLMSG_DONE || msg->easy_handle == cu_in_easy || !cu_active())
		return msg;
	cu_end(L, m, msg->easy_handle, clk_after(), msg->data.result, true);
	return msg;
}

IC_EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	struct cu_lib *L = cu_lib_for(__builtin_return_address(0));
	if (IC_UNLIKELY(!L))
		return CURLM_INTERNAL_ERROR; /* no libcurl in the process */
	multi_handle_fn real = CU_FN(L, CU_MULTI_REMOVE_HANDLE, multi_handle_fn);
	/* Recorded before the real call, while the handle still holds its transfer's data. */
	if (h != cu_in_easy && atomic_load_explicit(&cu_live, memory_order_relaxed) &&
	    cu_active())
		cu_end(L, m, h, clk_after(), CURLE_OK, false);
	return real(m, h);
}

IC_EXPORT CURLMcode curl_multi_cleanup(CURLM *m)
{
	struct cu_lib *L = cu_lib_for(__builtin_return_address(0));
	if (IC_UNLIKELY(!L))
		return CURLM_BAD_HANDLE; /* no libcurl in the process */
	multi_cleanup_fn real = CU_FN(L, CU_MULTI_CLEANUP, multi_cleanup_fn);
	/* Handles still attached are detached without curl_multi_remove_handle: end them here.
	 * A scan of the table, only when something is in it (cleanup is rare). */
	if (atomic_load_explicit(&cu_live, memory_order_relaxed) && cu_active()) {
		for (uint32_t i = 0; i < CU_SLOTS; i++) {
			struct cu_xfer *x = &cu_xfers[i];
			uintptr_t k = atomic_load_explicit(&x->key, memory_order_acquire);
			if (k != CU_EMPTY && k != CU_TOMB &&
			    atomic_load_explicit(&x->multi, memory_order_relaxed) == (uintptr_t)m)
				cu_end(L, m, (CURL *)k, clk_after(), CURLE_OK, false);
		}
	}
	return real(m);
}
