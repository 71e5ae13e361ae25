/* writer.c - owns the trace file, the writer thread, and the encoding of ring events into
 * trace records (include/intercept/trace_format.h). The writer thread holds the recursion
 * guard for its whole life and runs with every signal blocked; its own allocations (zstd's
 * context) pass through the hooks unrecorded. wr_start() runs once per process from init
 * (and in a fork child); wr_finish() from the destructor. Application threads only ever
 * call wr_wake() and wr_running(). Never on an application thread: stdio, blocking I/O. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h> /* rename(2) only: no stdio streams in the preload */
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#include "buffer.h"
#include "clock.h"
#include "encode.h"
#include "config.h"
#include "futex.h"
#include "intercept/trace_format.h"
#include "intercept/url.h"
#include "intercept/varint.h"
#include "live.h"
#include "lockcount.h"
#include "modules.h"
#include "sample.h"
#include "snapshot.h"
#include "tls.h"
#include "writer.h"

struct intern stk_table;
struct intern str_table;

#define CH_TARGET (2u << 20)		 /* encoded bytes per chunk before it is closed */
#define CH_MARGIN (EV_GENERIC_MAX_PAYLOAD + 8192u) /* largest record + headers */
#define CH_CAP (CH_TARGET + CH_MARGIN)
#define SYNC_EVERY_NS 100000000ull  /* CLOCK_SYNC / module check at most every 100 ms */
#define COUNTERS_EVERY_NS 1000000000ull

/* The writer lock: held by whoever drains (the writer thread, or init/fork/finish while
 * the thread is not running) and by fork's prepare handler. Protects everything in `wr`
 * below except the atomics. A futex word of ours, never an application-visible mutex. */
static _Atomic uint32_t wr_lock_word;

static struct {
	int fd;
	uint32_t pid; /* the process whose trace this is */
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	ZSTD_CCtx *cctx;
	uint8_t *stage;	    /* CH_CAP bytes: the chunk being built */
	size_t used;	    /* bytes in stage */
	uint8_t *out;	    /* compressed frame */
	size_t out_cap;
	uint64_t seq;	    /* next chunk's sequence number */
	uint64_t emit_ts;   /* current chunk's emit_ts */
	uint32_t n_sections;
	size_t sec_off;	    /* offset of the open section's header, or 0 */
	uint16_t sec_kind;
	uint32_t sec_records;
	/* cursors: what has been emitted */
	uint32_t stk_done, str_done, mod_done;
	bool header_done;
	bool fork_child;
	uint64_t hdr_ts, hdr_mono, hdr_rt; /* the header's start, kept for a prologue */
	uint64_t applied_ts;		   /* the newest event applied to the live heap */
	size_t ch_target;		   /* encoded bytes per chunk (smaller when bounded) */
	uint64_t last_sync_ns, last_counters_ns, last_housekeeping_ns;
	/* counters */
	uint64_t bytes_written, raw_bytes, lost_bytes, events;
	bool write_failed;
	uint8_t scratch[8192]; /* meta payloads are built here before their length is known */
} wr = {.fd = -1};

/* The flight recorder (INTERCEPT_MAX_MB, docs/endurance.md): the file is a series of
 * segments, each beginning with a chunk holding a full heap snapshot. When the next chunk
 * might not fit under the bound, the file is rewritten: header, a prologue of the
 * definitions and snapshots the kept chunks need, then the newest segments (about half the
 * bound), copied in the kernel; the new file replaces the old one by rename(2), so the path
 * always names a whole, readable trace. Protected by the writer lock, like `wr`. */
#define FL_SEGS 64
struct fl_seg {
	uint64_t off;	   /* file offset of its first chunk */
	uint64_t seq;	   /* that chunk's seq */
	uint64_t emit_ts;  /* and emit_ts */
	uint64_t snap_seq; /* its full snapshot's seq */
	uint32_t stk, str, mod; /* definitions written before it (ids / module events) */
};
static struct {
	bool on;
	bool busy;	    /* rewriting or writing a segment's first chunk: no recursion */
	bool prologue;	    /* chunks now built are the prologue of a rewritten file */
	bool no_new_seg;    /* the drain writing END or EXEC: no segment starts in it */
	bool last_chunk;    /* the chunk being built ends the trace (END or EXEC) */
	bool warned;
	uint64_t bound;	    /* bytes */
	uint64_t seg_target; /* bytes a segment grows to before the next one starts */
	uint64_t max_frame; /* largest compressed chunk */
	uint64_t file_size; /* bytes in the current file */
	uint64_t pro_seq, pro_emit; /* seq and emit_ts of the prologue's chunks */
	void *dctx;	    /* ZSTD_DCtx: reading back the chunks a rewrite drops */
	uint8_t *dbuf;	    /* CH_CAP bytes: one of them, decompressed */
	uint64_t rewrites;
	struct fl_seg segs[FL_SEGS];
	uint32_t n_segs;
} fl;

static pthread_t wr_thread;
static _Atomic uint32_t wr_alive;   /* 1 while the thread drains */
static _Atomic uint32_t wr_stop;    /* asks the thread to do its final drain and exit */
static _Atomic uint32_t wr_done;    /* futex word: 1 when the final drain is written */
static _Atomic uint32_t wr_wake_word; /* futex word the thread sleeps on */
static _Atomic uint32_t wr_finished; /* wr_finish() ran */

static void wr_lock(void)
{
	uint32_t expect = 0;
	while (!atomic_compare_exchange_weak_explicit(&wr_lock_word, &expect, 1,
						      memory_order_acquire, memory_order_relaxed)) {
		expect = 0;
		futex_wait_ms(&wr_lock_word, 1, 10);
	}
}

static void wr_unlock(void)
{
	atomic_store_explicit(&wr_lock_word, 0, memory_order_release);
	futex_wake_all(&wr_lock_word);
}

bool wr_running(void)
{
	return atomic_load_explicit(&wr_alive, memory_order_relaxed) &&
	       !atomic_load_explicit(&wr_stop, memory_order_relaxed);
}

void wr_wake(void)
{
	atomic_fetch_add_explicit(&wr_wake_word, 1, memory_order_release);
	futex_wake_all(&wr_wake_word);
}

/* ---- file ------------------------------------------------------------------------------ */

/* open_trace() : create the file 0600 without following a symlink and without blocking on a
 * FIFO; an existing regular file of ours is truncated. @return fd or -errno. */
static int open_trace(const char *path)
{
	int fd = open(path, (opt_max_mb ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC | O_NOFOLLOW |
				    O_CLOEXEC | O_NONBLOCK,
		      0600);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	fchmod(fd, 0600);
	fcntl(fd, F_SETFL, 0);
	/* Keep the descriptor away from the low numbers programs close and reuse. */
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	wr.dev = st.st_dev;
	wr.ino = st.st_ino;
	return fd;
}

/* fd_still_ours() : the program may close every descriptor (daemons do); if our number now
 * names something else, reopen the trace (by absolute path) for appending. */
static bool fd_still_ours(void)
{
	struct stat st;
	if (wr.fd >= 0 && !fstat(wr.fd, &st) && st.st_dev == wr.dev && st.st_ino == wr.ino)
		return true;
	int fd = open(wr.path, (opt_max_mb ? O_RDWR : O_WRONLY) | O_APPEND | O_NOFOLLOW |
				       O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || st.st_dev != wr.dev || st.st_ino != wr.ino) {
		close(fd);
		return false;
	}
	fcntl(fd, F_SETFL, O_APPEND);
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	wr.fd = fd;
	return true;
}

static void fl_lost(size_t len);

static void write_all(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (fl.on && !fl.prologue && fl.file_size + len > fl.bound) {
		fl_lost(len);
		return;
	}
	if (wr.write_failed || !fd_still_ours()) {
		if (!wr.write_failed)
			ic_log("the trace file %s was closed or replaced under the profiler; later "
			       "events are lost (counted)",
			       wr.path);
		wr.write_failed = true;
		wr.lost_bytes += len;
		return;
	}
	while (len) {
		ssize_t n = write(wr.fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ic_log("writing %s failed (%s); the program goes on, later trace data is "
			       "lost (counted)",
			       wr.path, errno == ENOSPC ? "disk full" : "I/O error");
			wr.write_failed = true;
			wr.lost_bytes += len;
			return;
		}
		p += n;
		len -= (size_t)n;
		wr.bytes_written += (uint64_t)n;
		fl.file_size += (uint64_t)n;
	}
}

/* ---- chunk and section building ----------------------------------------------------------- */

static void sec_end(void)
{
	if (!wr.sec_off)
		return;
	uint8_t *h = wr.stage + wr.sec_off;
	itf_st32(h + 4, (uint32_t)(wr.used - wr.sec_off - sizeof(struct itf_sec_hdr)));
	itf_st32(h + 12, wr.sec_records);
	wr.sec_off = 0;
}

static void ch_begin(void)
{
	wr.used = sizeof(struct itf_chunk_hdr);
	wr.n_sections = 0;
	wr.sec_off = 0;
}

static void sec_begin(uint16_t kind, uint32_t reserved, uint64_t ts_base)
{
	sec_end();
	uint8_t *h = wr.stage + wr.used;
	itf_st16(h, kind);
	itf_st16(h + 2, 0);
	itf_st32(h + 4, 0);
	itf_st32(h + 8, reserved);
	itf_st32(h + 12, 0);
	itf_st64(h + 16, ts_base);
	wr.sec_off = wr.used;
	wr.sec_kind = kind;
	wr.sec_records = 0;
	wr.used += sizeof(struct itf_sec_hdr);
	wr.n_sections++;
}

static void fl_after_chunk(void);
static void fl_room_for_snapshot(uint64_t est);

/* ch_finish() : close the chunk, compress it as one frame, write it. Empty chunks (no
 * section) are not written. */
static void ch_finish(void)
{
	sec_end();
	if (wr.n_sections == 0)
		return;
	uint8_t *h = wr.stage;
	itf_st32(h, ITF_CHUNK_MAGIC);
	itf_st16(h + 4, sizeof(struct itf_chunk_hdr));
	itf_st16(h + 6, fl.prologue ? ITF_CHUNK_PROLOGUE : 0);
	itf_st64(h + 8, fl.prologue ? fl.pro_seq : wr.seq++);
	itf_st64(h + 16, fl.prologue ? fl.pro_emit : wr.emit_ts);
	itf_st32(h + 24, wr.n_sections);
	itf_st32(h + 28, (uint32_t)(wr.used - sizeof(struct itf_chunk_hdr)));
	size_t n = ZSTD_compress2(wr.cctx, wr.out, wr.out_cap, wr.stage, wr.used);
	wr.raw_bytes += wr.used;
	if (ZSTD_isError(n)) {
		static bool warned;
		if (!warned)
			ic_log("zstd: %s; a chunk of the trace is lost (counted)",
			       ZSTD_getErrorName(n));
		warned = true;
		wr.lost_bytes += wr.used;
	} else {
		write_all(wr.out, n);
	}
	ch_begin();
	if (fl.on)
		fl_after_chunk();
}

/* room() : make sure need bytes fit in the chunk; when not, the chunk is finished and a new
 * one begun. @return true when a new chunk was begun (an open EVENTS section was closed and
 * the caller must begin it again with a fresh base). */
static bool room(size_t need)
{
	if (wr.used + need <= CH_CAP && wr.used < wr.ch_target)
		return false;
	ch_finish();
	return true;
}

/* meta_put() : append one META record (type, len, payload in wr.scratch). */
static void meta_put(uint8_t type, size_t len)
{
	IC_ASSERT(len <= sizeof(wr.scratch));
	if (room(len + 16) || wr.sec_off == 0 || wr.sec_kind != ITF_SEC_META)
		sec_begin(ITF_SEC_META, 0, 0);
	uint8_t *p = wr.stage + wr.used;
	*p++ = type;
	p = itf_put_u(p, len);
	memcpy(p, wr.scratch, len);
	p += len;
	wr.used = (size_t)(p - wr.stage);
	wr.sec_records++;
}

void wr_meta_put(uint8_t type, const uint8_t *payload, size_t len)
{
	IC_ASSERT(len <= sizeof(wr.scratch) && len <= WR_META_MAX);
	if (len > sizeof(wr.scratch))
		return;
	memcpy(wr.scratch, payload, len);
	meta_put(type, len);
}

static uint8_t *put_str(uint8_t *p, const void *s, size_t len, const uint8_t *end)
{
	if ((size_t)(end - p) < len + ITF_VARINT_MAX)
		len = (size_t)(end - p) > ITF_VARINT_MAX ? (size_t)(end - p) - ITF_VARINT_MAX : 0;
	p = itf_put_u(p, len);
	memcpy(p, s, len);
	return p + len;
}

/* ---- META records ------------------------------------------------------------------------ */

static char cmdline[4096];
static size_t cmdline_len;

static void read_cmdline(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	cmdline_len = 0;
	if (fd < 0)
		return;
	ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return;
	while (n > 0 && cmdline[n - 1] == '\0')
		n--;
	/* URLs among the arguments lose their credentials and query (privacy by default) */
	n = (ssize_t)itf_url_scrub_args(cmdline, (size_t)n, opt_url_query ? ITF_URL_KEEP_QUERY : 0);
	for (ssize_t i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	cmdline_len = (size_t)n;
}

static void meta_header(void)
{
	uint8_t *p = wr.scratch, *end = wr.scratch + sizeof(wr.scratch);
	if (!wr.header_done) {
		/* a flight-recorder prologue repeats the first header's start, not now */
		struct timespec rt;
		clk_sync(&wr.hdr_ts, &wr.hdr_mono);
		clock_gettime(CLOCK_REALTIME, &rt);
		wr.hdr_rt = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	}
	double hz = clk_nominal_hz();
	uint64_t hz_bits;
	memcpy(&hz_bits, &hz, 8);
	char exe[PATH_MAX];
	ssize_t en = readlink("/proc/self/exe", exe, sizeof(exe));
	if (en < 0)
		en = 0;
	p = itf_put_u(p, ITF_VERSION);
	p = itf_put_u(p, (uint64_t)getpid());
	p = itf_put_u(p, (uint64_t)getppid());
	p = itf_put_u(p, clk_use_tsc ? ITF_CLOCK_TSC : ITF_CLOCK_MONOTONIC);
	p = itf_put_u(p, 0); /* ts_shift */
	itf_st64(p, hz_bits);
	p += 8;
	p = itf_put_u(p, wr.hdr_ts);
	p = itf_put_u(p, wr.hdr_mono);
	p = itf_put_u(p, wr.hdr_rt);
	p = itf_put_u(p, opt_hooks);
	p = itf_put_u(p, opt_malloc);
	p = itf_put_u(p, opt_stack_depth);
	p = itf_put_u(p, (opt_drop ? ITF_HDR_DROP_MODE : 0u) |
			     (wr.fork_child ? ITF_HDR_FORK_CHILD : 0u) |
			     (opt_lock_count ? ITF_HDR_LOCK_COUNT : 0u) |
			     (fl.on ? ITF_HDR_BOUNDED : 0u));
	p = put_str(p, cmdline, cmdline_len, end);
	p = put_str(p, exe, (size_t)en, end);
	p = itf_put_u(p, smp_on ? opt_sample_bytes : 0);
	meta_put(ITF_META_HEADER, (size_t)(p - wr.scratch));
}

static void meta_clock_pair(uint64_t ts, uint64_t mono)
{
	uint8_t *p = wr.scratch;
	p = itf_put_u(p, ts);
	p = itf_put_u(p, mono);
	meta_put(ITF_META_CLOCK_SYNC, (size_t)(p - wr.scratch));
}

static void meta_clock_sync(void)
{
	uint64_t ts, mono;
	clk_sync(&ts, &mono);
	uint8_t *p = wr.scratch;
	p = itf_put_u(p, ts);
	p = itf_put_u(p, mono);
	meta_put(ITF_META_CLOCK_SYNC, (size_t)(p - wr.scratch));
}

/* meta_module_events() : MODULE_LOAD / MODULE_UNLOAD records for log entries [*from, to)
 * (to clamped to the log), advancing *from. */
static void meta_module_events(uint32_t *from, uint32_t to)
{
	uint32_t n;
	const struct mod_entry *ents;
	const char *arena;
	const struct mod_event *ev = mod_events(&n, &ents, &arena);
	for (; *from < n && *from < to; (*from)++) {
		const struct mod_event *e = &ev[*from];
		const struct mod_entry *m = &ents[e->module];
		uint8_t *p = wr.scratch, *end = wr.scratch + sizeof(wr.scratch);
		if (e->unload) {
			p = itf_put_u(p, m->id);
			p = itf_put_u(p, m->unload_ts);
			meta_put(ITF_META_MODULE_UNLOAD, (size_t)(p - wr.scratch));
			continue;
		}
		p = itf_put_u(p, m->id);
		p = itf_put_u(p, m->load_ts);
		p = itf_put_u(p, m->gen);
		p = itf_put_u(p, m->bias);
		p = itf_put_u(p, m->lo);
		p = itf_put_u(p, m->hi);
		p = put_str(p, m->build_id, m->build_id_len, end);
		p = put_str(p, arena + m->path_off, m->path_len, end);
		meta_put(ITF_META_MODULE_LOAD, (size_t)(p - wr.scratch));
	}
}

static void meta_modules(void)
{
	meta_module_events(&wr.mod_done, UINT32_MAX);
}

/* meta_stack_defs() : STACK_DEF records for ids (*done, last], advancing *done; stops at an
 * id still being inserted. rescan: check frames against the module table first (not in a
 * prologue, which must not log module events of its own). */
static void meta_stack_defs(uint32_t *done, uint32_t last, bool rescan)
{
	uint32_t len;
	for (; *done < last; (*done)++) {
		uint32_t id = *done + 1;
		const uint8_t *b = intern_bytes(&stk_table, id, &len);
		if (!b)
			break; /* still being inserted: next drain */
		uint64_t w[1 + ITF_MAX_FRAMES];
		uint32_t nw = len / 8;
		if (nw > IC_ARRAY_LEN(w))
			nw = IC_ARRAY_LEN(w);
		memcpy(w, b, nw * 8);
		/* A frame outside every known module: a library was loaded since the last
		 * scan (dlopen is not interposed, see hook_dl.c). Log it before the stack. */
		for (uint32_t i = 1; rescan && i < nw; i++) {
			if (!mod_covers(w[i])) {
				mod_rescan();
				meta_modules();
				break;
			}
		}
		uint8_t *p = wr.scratch;
		p = itf_put_u(p, id);
		p = itf_put_u(p, nw ? w[0] : 0); /* generation */
		uint32_t nf = nw ? nw - 1 : 0;
		p = itf_put_u(p, nf);
		for (uint32_t i = 0; i < nf; i++)
			p = i ? itf_put_s(p, (int64_t)(w[1 + i] - w[i])) : itf_put_u(p, w[1]);
		meta_put(ITF_META_STACK_DEF, (size_t)(p - wr.scratch));
	}
}

static void meta_stacks(void)
{
	meta_stack_defs(&wr.stk_done, intern_last_id(&stk_table), true);
}

/* meta_string_defs() : STRING_DEF records for ids (*done, last], advancing *done. */
static void meta_string_defs(uint32_t *done, uint32_t last)
{
	uint32_t len;
	for (; *done < last; (*done)++) {
		uint32_t id = *done + 1;
		const uint8_t *b = intern_bytes(&str_table, id, &len);
		if (!b)
			break;
		/* string keys are stored as one kind byte followed by the text */
		uint8_t *p = wr.scratch, *end = wr.scratch + sizeof(wr.scratch);
		p = itf_put_u(p, id);
		p = itf_put_u(p, len ? b[0] : 0);
		p = put_str(p, b + (len ? 1 : 0), len ? len - 1 : 0, end);
		meta_put(ITF_META_STRING_DEF, (size_t)(p - wr.scratch));
	}
}

static void meta_strings(void)
{
	meta_string_defs(&wr.str_done, intern_last_id(&str_table));
}

static void meta_thread(uint32_t tid, unsigned state, uint64_t ts)
{
	char name[64] = "";
	size_t nlen = 0;
	if (state == 1) {
		char path[64];
		ic_fmt(path, sizeof(path), "/proc/self/task/%u/comm", tid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, name, sizeof(name) - 1);
			close(fd);
			if (n > 0) {
				nlen = (size_t)n;
				while (nlen && name[nlen - 1] == '\n')
					nlen--;
			}
		}
	}
	uint8_t *p = wr.scratch, *end = wr.scratch + sizeof(wr.scratch);
	p = itf_put_u(p, tid);
	p = itf_put_u(p, state);
	p = itf_put_u(p, ts);
	p = put_str(p, name, nlen, end);
	meta_put(ITF_META_THREAD, (size_t)(p - wr.scratch));
}

static void meta_counters(uint64_t ts)
{
	uint64_t dropped = 0, missed = 0, wait_ns = 0, truncated = 0;
	for (struct tstate *t = tls_first(); t; t = t->next) {
		dropped += atomic_load_explicit(&t->dropped, memory_order_relaxed);
		missed += atomic_load_explicit(&t->missed, memory_order_relaxed);
		wait_ns += atomic_load_explicit(&t->wait_ns, memory_order_relaxed);
		truncated += atomic_load_explicit(&t->truncated, memory_order_relaxed);
	}
	struct live_stats ls;
	live_get_stats(&ls);
	uint64_t pool = tls_pool_bytes() + atomic_load(&stk_table.arena_used) +
			atomic_load(&str_table.arena_used) + CH_CAP + wr.out_cap + ls.table_bytes +
			lkc_table_bytes() + snap_memory_bytes() +
			(smp_on ? ((uint64_t)SMP_GROUP << SMP_GROUP_BITS) * 8 + sizeof(smp_count)
				: 0);
	uint8_t *p = wr.scratch;
	p = itf_put_u(p, ts);
	p = itf_put_u(p, dropped);
	p = itf_put_u(p, missed);
	p = itf_put_u(p, atomic_load(&stk_table.overflow));
	p = itf_put_u(p, truncated);
	p = itf_put_u(p, wr.bytes_written);
	p = itf_put_u(p, wr.raw_bytes);
	p = itf_put_u(p, wr.lost_bytes);
	p = itf_put_u(p, pool);
	p = itf_put_u(p, wait_ns);
	p = itf_put_u(p, wr.events);
	meta_put(ITF_META_COUNTERS, (size_t)(p - wr.scratch));
}

/* ---- the event stream ------------------------------------------------------------------
 * Each drain merges every ring's pending records into one stream ordered by timestamp, up
 * to a cutoff read (fenced) before any ring position: a record is taken only if its
 * timestamp is below the cutoff. That makes every drain a causally consistent cut for
 * address reuse: a FREE is committed before the real free, and the ALLOC that gets the
 * block again is timestamped after the real malloc returned it, so if that ALLOC is below
 * the cutoff, the FREE was committed before the cutoff was read, hence before its ring's
 * position was, and is in the same drain, earlier in the merge. A realloc is two events in
 * the stream: the FREE of the old block at its first timestamp and the REALLOC allocation
 * at its second (trace_format.h, EVENTS). Readers need no reordering. */

struct cursor {
	struct tstate *t;
	uint32_t state;	  /* the thread's state, read before `to` (so EXITED means `to` is final) */
	uint64_t pos, to; /* next record, end of what was committed when the drain began */
	uint64_t key;	  /* the next event's timestamp */
	uint32_t half;	  /* 1: the record at pos is a REALLOC whose FREE half is out */
};

static struct {
	struct cursor *c; /* mmap'd, grown with the registry */
	uint32_t cap;
	uint32_t *heap; /* indices into c, min-heap on key */
	uint32_t n_heap;
} mg;

/* cur_record() : the record at c->pos after skipping padding, or NULL at the end. */
static const struct ev_hdr *cur_record(struct cursor *c)
{
	while (c->pos < c->to) {
		const struct ev_hdr *h = (const struct ev_hdr *)(c->t->ring + (c->pos & c->t->mask));
		if (h->type != EV_PAD)
			return h;
		c->pos += h->aux;
	}
	return NULL;
}

/* cur_key() : set c->key from the record at pos. @return false at the end of the range. */
static bool cur_key(struct cursor *c)
{
	const struct ev_hdr *h = cur_record(c);
	if (!h)
		return false;
	if (h->type == EV_REALLOC && c->half)
		c->key = ((const struct ev_realloc *)h)->ts2;
	else
		c->key = ((const struct ev_free *)h)->ts; /* every record has its ts at 8 */
	return true;
}

static void heap_swap(uint32_t a, uint32_t b)
{
	uint32_t t = mg.heap[a];
	mg.heap[a] = mg.heap[b];
	mg.heap[b] = t;
}

static void heap_push(uint32_t ci)
{
	uint32_t i = mg.n_heap++;
	mg.heap[i] = ci;
	while (i && mg.c[mg.heap[(i - 1) / 2]].key > mg.c[mg.heap[i]].key) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static uint32_t heap_pop(void)
{
	uint32_t top = mg.heap[0];
	mg.heap[0] = mg.heap[--mg.n_heap];
	for (uint32_t i = 0;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < mg.n_heap && mg.c[mg.heap[l]].key < mg.c[mg.heap[m]].key)
			m = l;
		if (r < mg.n_heap && mg.c[mg.heap[r]].key < mg.c[mg.heap[m]].key)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
	return top;
}

/* mg_reserve() : room for n cursors. @return false when mmap fails. */
static bool mg_reserve(uint32_t n)
{
	if (n <= mg.cap)
		return true;
	uint32_t cap = mg.cap ? mg.cap : 64;
	while (cap < n)
		cap *= 2;
	size_t bytes = (size_t)cap * (sizeof(struct cursor) + sizeof(uint32_t));
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return false;
	if (mg.c)
		munmap(mg.c, (size_t)mg.cap * (sizeof(struct cursor) + sizeof(uint32_t)));
	mg.c = m;
	mg.heap = (uint32_t *)(mg.c + cap);
	mg.cap = cap;
	return true;
}

/* ev_of() : the event a cursor's current record (or realloc half) stands for. */
static void ev_of(const struct cursor *c, const struct ev_hdr *h, struct enc_ev *e)
{
	memset(e, 0, sizeof(*e));
	e->tid = c->t->tid;
	e->ts = c->key;
	switch (h->type) {
	case EV_ALLOC: {
		const struct ev_alloc *a = (const void *)h;
		e->type = ITF_EV_ALLOC;
		e->ptr = a->ptr;
		e->size = a->size;
		e->stack = h->aux;
		break;
	}
	case EV_FREE:
		e->type = ITF_EV_FREE;
		e->ptr = ((const struct ev_free *)h)->ptr;
		break;
	case EV_REALLOC: {
		const struct ev_realloc *r = (const void *)h;
		e->type = c->half ? ITF_EV_REALLOC : ITF_EV_FREE;
		e->ptr = c->half ? r->new_ : r->old;
		e->size = r->size;
		e->stack = h->aux;
		break;
	}
	default: {
		const struct ev_generic *g = (const void *)h;
		e->type = (uint8_t)h->type;
		e->payload = g->payload;
		e->payload_len = h->aux <= EV_GENERIC_MAX_PAYLOAD ? h->aux : 0;
		break;
	}
	}
}

/* live_apply() : keep the live heap (live.c) in step with the allocation events. */
static inline void live_apply(const struct enc_ev *e)
{
	switch (e->type) {
	case ITF_EV_ALLOC:
	case ITF_EV_REALLOC:
		live_alloc(e->ptr, e->size, e->stack, e->ts);
		if (IC_UNLIKELY(smp_on))
			snap_note_alloc(e->stack, e->size); /* sampling estimates */
		break;
	case ITF_EV_FREE:
		live_free(e->ptr, e->ts);
		break;
	default:
		break;
	}
}

/* merge_events() : emit, in timestamp order, every pending event below cutoff; the
 * cursors' positions say how far each ring was consumed. */
static void merge_events(uint64_t cutoff)
{
	struct enc_state st;
	bool open = false;
	while (mg.n_heap) {
		uint32_t ci = heap_pop();
		struct cursor *c = &mg.c[ci];
		if (c->key >= cutoff)
			continue; /* this ring waits for the next drain from here on */
		const struct ev_hdr *h = cur_record(c);
		struct enc_ev e;
		ev_of(c, h, &e);
		/* summary mode: the live heap learns of an allocation event, the trace does not
		 * (the snapshots carry what it changed) */
		bool keep = opt_malloc != ITF_MALLOC_SUMMARY ||
			    (e.type != ITF_EV_ALLOC && e.type != ITF_EV_FREE &&
			     e.type != ITF_EV_REALLOC);
		if (keep && (room(enc_max(&e)) || !open || wr.sec_off == 0 ||
			     wr.sec_kind != ITF_SEC_EVENTS)) {
			sec_begin(ITF_SEC_EVENTS, 0, enc_section_start(&st, e.ts));
			open = true;
		}
		/* after room(): a chunk finished there (and a flight-recorder segment's full
		 * snapshot written after it) must not include this event, which goes in the next */
		live_apply(&e);
		if (e.ts > wr.applied_ts)
			wr.applied_ts = e.ts;
		if (keep) {
			uint8_t *end = enc_event(&st, &e, wr.stage + wr.used, &wr.sec_records);
			wr.used = (size_t)(end - wr.stage);
		}
		wr.events++;
		if (h->type == EV_REALLOC && !c->half) {
			c->half = 1; /* the allocation half comes at its own time */
		} else {
			c->half = 0;
			c->pos += h->len ? h->len : 8; /* len is never 0 for our records */
		}
		if (cur_key(c))
			heap_push(ci);
	}
	sec_end();
}

/* ---- draining ------------------------------------------------------------------------------ */

static bool thread_gone(uint32_t tid)
{
	return syscall(SYS_tgkill, getpid(), tid, 0) < 0 && errno == ESRCH;
}

/* The program an exec is about to run (wr_before_exec); drain() writes the EXEC record. */
static const char *exec_path;

/* drain() : one pass over everything; called with the writer lock held. */
static void drain(bool final)
{
	uint64_t now_ns = clk_mono_ns();
	wr.emit_ts = clk_fenced(); /* the cutoff: read before any ring position */
	ch_begin();
	if (!wr.header_done) {
		meta_header();
		wr.header_done = true;
	}
	/* In summary mode a drain usually has nothing to write: clock pairs go with the
	 * snapshots (a chunk every 100 ms would cost more than the snapshots themselves). */
	bool snap_now = snap_ok() && (final || exec_path || snap_due(now_ns));
	if (final || now_ns - wr.last_sync_ns >= SYNC_EVERY_NS) {
		if (opt_malloc != ITF_MALLOC_SUMMARY || snap_now)
			meta_clock_sync();
		if (mod_changed())
			mod_rescan();
		wr.last_sync_ns = now_ns;
	}
	meta_modules();
	meta_strings();
	meta_stacks();
	bool housekeeping = now_ns - wr.last_housekeeping_ns >= COUNTERS_EVERY_NS;
	uint32_t n = 0;
	for (struct tstate *t = tls_first(); t; t = t->next)
		n++;
	if (!mg_reserve(n))
		n = 0; /* out of memory for the merge: nothing moves this round */
	uint32_t nc = 0;
	mg.n_heap = 0;
	for (struct tstate *t = tls_first(); t && nc < n; t = t->next) {
		uint32_t state = atomic_load_explicit(&t->state, memory_order_acquire);
		if (state == TS_FREE)
			continue;
		/* A thread that exited without our key destructor running last: once the
		 * kernel says it is gone, its last commit is final. */
		if (state == TS_ACTIVE && housekeeping && thread_gone(t->tid)) {
			atomic_store_explicit(&t->state, TS_EXITED, memory_order_relaxed);
			state = TS_EXITED;
		}
		struct cursor *c = &mg.c[nc];
		c->t = t;
		c->state = state;
		c->to = atomic_load_explicit(&t->committed, memory_order_acquire);
		c->pos = atomic_load_explicit(&t->consumed, memory_order_relaxed);
		c->half = t->half;
		if (!t->announced && (c->to != c->pos || state == TS_ACTIVE)) {
			meta_thread(t->tid, 1, wr.emit_ts);
			t->announced = 1;
		}
		if (cur_key(c))
			heap_push(nc);
		nc++;
	}
	merge_events(final ? UINT64_MAX : wr.emit_ts);
	for (uint32_t i = 0; i < nc; i++) {
		struct cursor *c = &mg.c[i];
		struct tstate *t = c->t;
		if (c->pos != atomic_load_explicit(&t->consumed, memory_order_relaxed)) {
			atomic_store_explicit(&t->consumed, c->pos, memory_order_release);
			atomic_fetch_add_explicit(&t->consumed_seq, 1, memory_order_release);
			if (atomic_load_explicit(&t->waiting, memory_order_seq_cst))
				futex_wake_all(&t->consumed_seq);
		}
		t->half = c->half;
		/* An exited thread's entry is recycled once everything it wrote is out. Only the
		 * state read before `to` counts: a thread that exits during the merge may have
		 * committed past `to`, and waits for the next drain. */
		if (c->state == TS_EXITED && c->pos == c->to && !c->half) {
			meta_thread(t->tid, 2, clk_now());
			t->announced = 0;
			t->head = c->to;
			atomic_store_explicit(&t->state, TS_FREE, memory_order_release);
		}
	}
	lkc_drain(); /* lock counts (INTERCEPT_LOCK_COUNT=1), before their first stacks */
	/* stacks interned while the rings were encoded */
	meta_stacks();
	meta_strings();
	fl.no_new_seg = final || exec_path;
	if (snap_now) {
		unsigned flags = final || exec_path ? ITF_SNAP_FULL | ITF_SNAP_FINAL : 0;
		fl_room_for_snapshot(snap_estimate(flags));
		fl.busy = fl.on; /* no rewrite, no segment in the middle of a snapshot */
		snap_write(wr.emit_ts, now_ns, flags);
		fl.busy = false;
	}
	if (final || housekeeping) {
		meta_counters(clk_now());
		wr.last_counters_ns = now_ns;
		wr.last_housekeeping_ns = now_ns;
	}
	fl.last_chunk = final || exec_path;
	if (final && smp_on && atomic_load(&smp_overflow))
		ic_log("%lu sampled blocks were not tracked (the sample set was full); their frees "
		       "were not recorded and they may show as leaked",
		       (unsigned long)atomic_load(&smp_overflow));
	if (final) {
		uint8_t *p = wr.scratch;
		p = itf_put_u(p, clk_now());
		p = itf_put_u(p, ITF_END_EXIT);
		meta_put(ITF_META_END, (size_t)(p - wr.scratch));
	} else if (exec_path) {
		uint8_t *p = wr.scratch, *end = wr.scratch + sizeof(wr.scratch);
		meta_counters(clk_now());
		p = itf_put_u(p, clk_now());
		p = put_str(p, exec_path, strlen(exec_path), end);
		meta_put(ITF_META_EXEC, (size_t)(p - wr.scratch));
	}
	ch_finish();
	fl.no_new_seg = fl.last_chunk = false;
}

static void *wr_main(void *arg)
{
	(void)arg;
	ic_tls.in_hook = 1; /* for ever: nothing this thread does is recorded */
	for (;;) {
		uint32_t seen = atomic_load_explicit(&wr_wake_word, memory_order_acquire);
		if (atomic_load_explicit(&wr_stop, memory_order_acquire))
			break;
		wr_lock();
		drain(false);
		wr_unlock();
		if (atomic_load_explicit(&wr_stop, memory_order_acquire))
			break;
		unsigned wait_ms = opt_flush_ms;
		if (snap_ok() && opt_snapshot_ms < wait_ms)
			wait_ms = opt_snapshot_ms;
		futex_wait_ms(&wr_wake_word, seen, wait_ms);
	}
	wr_lock();
	drain(true);
	if (wr.fd >= 0)
		close(wr.fd);
	wr.fd = -1;
	wr_unlock();
	atomic_store_explicit(&wr_alive, 0, memory_order_release);
	atomic_store_explicit(&wr_done, 1, memory_order_release);
	futex_wake_all(&wr_done);
	return NULL;
}

static int start_thread(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_store(&wr_alive, 1);
	int rc = pthread_create(&wr_thread, NULL, wr_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		atomic_store(&wr_alive, 0);
		ic_log("cannot start the writer thread (error %d); nothing is recorded", rc);
		return -rc;
	}
	return 0;
}

/* move_predecessor() : a program started by exec has the pid of the image it replaced,
 * whose trace (complete: wr_before_exec() flushed it) sits at the same path. Keep it as
 * <stem>.preexec<N>.zst instead of overwriting it. Any other existing file is overwritten
 * (a previous run's). */
static void move_predecessor(const char *path)
{
	uint8_t h[8 + sizeof(struct itf_file_hdr)];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	ssize_t n = fstat(fd, &st) || !S_ISREG(st.st_mode) ? -1 : read(fd, h, sizeof(h));
	close(fd);
	if (n != (ssize_t)sizeof(h) || itf_ld32(h) != ITF_SKIP_MAGIC ||
	    memcmp(h + 8, ITF_FILE_MAGIC, 8) || itf_ld32(h + 24) != (uint32_t)getpid())
		return;
	size_t len = strlen(path);
	size_t stem = len >= 4 && !strcmp(path + len - 4, ".zst") ? len - 4 : len;
	for (int i = 1; i < 1000; i++) {
		char moved[PATH_MAX];
		if (ic_fmt(moved, sizeof(moved), "%s", path) != len)
			return;
		if (stem + 20 >= sizeof(moved))
			return;
		ic_fmt(moved + stem, sizeof(moved) - stem, ".preexec%d.zst", i);
		if (access(moved, F_OK) == 0)
			continue;
		rename(path, moved);
		return;
	}
}

/* open_for_pid() : expand the path for this process, open it, remember it absolutely. */
static int open_for_pid(bool fork_child)
{
	char rel[PATH_MAX];
	if (cfg_trace_path(rel, sizeof(rel), getpid(), fork_child)) {
		ic_log("INTERCEPT_OUTPUT expands to a path that is too long; nothing is recorded");
		return -ENAMETOOLONG;
	}
	if (!fork_child)
		move_predecessor(rel);
	int fd = open_trace(rel);
	if (fd < 0) {
		ic_log("cannot create the trace %s (%s); the program runs unprofiled", rel,
		       fd == -ELOOP ? "it is a symlink" :
		       fd == -ENOENT ? "no such directory" :
		       fd == -EACCES || fd == -EROFS ? "permission denied" :
		       fd == -EINVAL ? "not a regular file" : "open failed");
		return fd;
	}
	if (rel[0] == '/') {
		memcpy(wr.path, rel, strlen(rel) + 1);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) ||
		    ic_fmt(wr.path, sizeof(wr.path), "%s/%s", cwd, rel) >= sizeof(wr.path) - 1)
			memcpy(wr.path, rel, strlen(rel) + 1);
	}
	wr.fd = fd;
	wr.pid = (uint32_t)getpid();
	return 0;
}

static void write_file_header(void)
{
	uint8_t hdr[8 + sizeof(struct itf_file_hdr)];
	itf_st32(hdr, ITF_SKIP_MAGIC);
	itf_st32(hdr + 4, sizeof(struct itf_file_hdr));
	memcpy(hdr + 8, ITF_FILE_MAGIC, 8);
	itf_st32(hdr + 16, ITF_VERSION);
	itf_st32(hdr + 20, 0);
	itf_st32(hdr + 24, (uint32_t)getpid());
	itf_st32(hdr + 28, 0);
	write_all(hdr, sizeof(hdr));
}

/* ---- the flight recorder (INTERCEPT_MAX_MB) -------------------------------------------------- */

static void fl_setup(void)
{
	memset(&fl, 0, sizeof(fl));
	wr.ch_target = CH_TARGET;
	if (!opt_max_mb)
		return;
	fl.on = true;
	fl.bound = opt_max_mb << 20;
	/* small chunks under a small bound, so that one chunk is a small part of it */
	uint64_t t = fl.bound / 32;
	wr.ch_target = t < (16u << 10) ? 16u << 10 : t > CH_TARGET ? CH_TARGET : (size_t)t;
	fl.max_frame = ZSTD_compressBound(wr.ch_target + CH_MARGIN) + 64;
	fl.seg_target = fl.bound / 8;
}

static void fl_lost(size_t len)
{
	wr.lost_bytes += len;
	if (!fl.warned)
		ic_log("the trace reached INTERCEPT_MAX_MB=%lu and could not be shortened enough; "
		       "data beyond the bound is lost (counted)",
		       (unsigned long)opt_max_mb);
	fl.warned = true;
}

/* copy_range() : len bytes of in at off to out's current position: in the kernel with
 * copy_file_range(2), else through the (free) compression buffer. @return 0 or -EIO. */
static int copy_range(int in, uint64_t off, int out, uint64_t len)
{
	off_t io = (off_t)off;
	while (len) {
		ssize_t n = copy_file_range(in, &io, out, NULL, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len -= (uint64_t)n;
	}
	while (len) {
		size_t want = len < wr.out_cap ? (size_t)len : wr.out_cap;
		ssize_t r = pread(in, wr.out, want, (off_t)io);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		for (ssize_t done = 0; done < r;) {
			ssize_t w = write(out, wr.out + done, (size_t)(r - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -EIO;
			done += w;
		}
		io += r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* fl_scan_chunk() : hand the snapshot records of one chunk (ours: still, every length is
 * checked) to the archive. */
static void fl_scan_chunk(const uint8_t *c, size_t len)
{
	if (len < sizeof(struct itf_chunk_hdr) || itf_ld32(c) != ITF_CHUNK_MAGIC)
		return;
	const uint8_t *p = c + itf_ld16(c + 4), *end = c + len;
	uint32_t n_sec = itf_ld32(c + 24);
	for (uint32_t i = 0; i < n_sec && p <= end && (size_t)(end - p) >= 24; i++) {
		uint16_t kind = itf_ld16(p);
		uint32_t size = itf_ld32(p + 4);
		p += sizeof(struct itf_sec_hdr);
		if (size > (size_t)(end - p))
			return;
		const uint8_t *q = p, *send = p + size;
		while (kind == ITF_SEC_META && q < send) {
			uint8_t type = *q++;
			uint64_t rl;
			if (itf_get_u(&q, send, &rl) || rl > (uint64_t)(send - q))
				break;
			if (type == ITF_META_SNAPSHOT || type == ITF_META_SNAP_SITES)
				snap_archive_record(type, q, (size_t)rl);
			q += rl;
		}
		p = send;
	}
}

/* fl_read_snapshots() : read back [from, to) of the file (the part a rewrite drops), frame
 * by frame, and archive the snapshots in it: those of the previous prologue, then those of
 * the dropped segments, oldest first. The frame buffer is free here. */
static void fl_read_snapshots(int fd, uint64_t from, uint64_t to)
{
	snap_archive_reset();
	if (!fl.dctx && !(fl.dctx = ZSTD_createDCtx()))
		return;
	if (!fl.dbuf && (fl.dbuf = mmap(NULL, CH_CAP, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		fl.dbuf = NULL;
		return;
	}
	for (uint64_t off = from; off < to;) {
		size_t want = to - off < wr.out_cap ? (size_t)(to - off) : wr.out_cap;
		ssize_t n = pread(fd, wr.out, want, (off_t)off);
		if (n < 8)
			return;
		size_t fsz;
		if ((itf_ld32(wr.out) & 0xFFFFFFF0u) == 0x184D2A50u)
			fsz = 8 + (size_t)itf_ld32(wr.out + 4); /* a skippable frame */
		else if (ZSTD_isError(fsz = ZSTD_findFrameCompressedSize(wr.out, (size_t)n)))
			return;
		else {
			size_t len = ZSTD_decompressDCtx(fl.dctx, fl.dbuf, CH_CAP, wr.out, fsz);
			if (!ZSTD_isError(len))
				fl_scan_chunk(fl.dbuf, len);
		}
		off += fsz;
	}
}

/* fl_rewrite() : replace the file by a new one (same path, by rename) holding the file
 * header, a prologue (HEADER, clock pairs, the module events, strings and stacks written
 * before segment s, the snapshots older than s), and the bytes from s to the end. s NULL:
 * nothing is kept. @return 0 (the writer now appends to the new file), -EFBIG when the
 * result would not leave room for one more chunk under the bound, or -errno; on failure
 * nothing changed. */
static int fl_rewrite(const struct fl_seg *s)
{
	char tmp[PATH_MAX];
	if (ic_fmt(tmp, sizeof(tmp), "%s.tmp", wr.path) >= sizeof(tmp) - 1)
		return -ENAMETOOLONG;
	unlink(tmp); /* a previous run's, killed while rewriting */
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return -e;
	}
	/* the snapshots of what is dropped, before the buffers build the prologue */
	fl_read_snapshots(wr.fd, sizeof(struct itf_file_hdr) + 8, s ? s->off : fl.file_size);
	int old_fd = wr.fd;
	dev_t old_dev = wr.dev;
	ino_t old_ino = wr.ino;
	uint64_t old_size = fl.file_size;
	bool failed_before = wr.write_failed;
	wr.fd = fd;
	wr.dev = st.st_dev;
	wr.ino = st.st_ino;
	fl.file_size = 0;
	write_file_header();
	fl.prologue = true;
	fl.pro_seq = s ? s->seq : wr.seq;
	fl.pro_emit = s ? s->emit_ts : wr.emit_ts;
	ch_begin();
	meta_header();
	meta_clock_pair(wr.hdr_ts, wr.hdr_mono); /* the clock fit spans the whole run */
	meta_clock_sync();
	uint32_t done = 0;
	meta_module_events(&done, s ? s->mod : wr.mod_done);
	done = 0;
	meta_string_defs(&done, s ? s->str : wr.str_done);
	done = 0;
	meta_stack_defs(&done, s ? s->stk : wr.stk_done, false);
	snap_emit_archive();
	ch_finish();
	fl.prologue = false;
	uint64_t pro_end = fl.file_size, keep = s ? old_size - s->off : 0;
	int rc = 0;
	if (wr.write_failed && !failed_before)
		rc = -EIO;
	else if (pro_end + keep + fl.max_frame > fl.bound)
		rc = -EFBIG;
	else if (keep)
		rc = copy_range(old_fd, s->off, fd, keep);
	if (!rc && rename(tmp, wr.path))
		rc = -errno;
	if (rc) {
		wr.fd = old_fd;
		wr.dev = old_dev;
		wr.ino = old_ino;
		wr.write_failed = failed_before;
		fl.file_size = old_size;
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(old_fd);
	fl.file_size = pro_end + keep;
	return 0;
}

/* fl_compact() : rewrite the file keeping the newest segments that fit in half the bound
 * (fewer if the prologue needs the room; none if even the newest does not fit, and then a
 * segment starts right away). */
static void fl_compact(void)
{
	uint32_t k = 0;
	while (k < fl.n_segs && fl.file_size - fl.segs[k].off > fl.bound / 2)
		k++;
	for (;;) {
		const struct fl_seg *s = k < fl.n_segs ? &fl.segs[k] : NULL;
		uint64_t base = s ? s->off : fl.file_size, old_size = fl.file_size;
		int rc = fl_rewrite(s);
		if (rc == -EFBIG && s) {
			k++;
			continue;
		}
		if (rc) {
			if (!fl.warned)
				ic_log("cannot rewrite the bounded trace %s (error %d); data "
				       "beyond INTERCEPT_MAX_MB is lost (counted)",
				       wr.path, -rc);
			fl.warned = true;
			return;
		}
		uint64_t pro_end = fl.file_size - (old_size - base);
		for (uint32_t j = k; j < fl.n_segs; j++) {
			fl.segs[j - k] = fl.segs[j];
			fl.segs[j - k].off = fl.segs[j].off - base + pro_end;
		}
		fl.n_segs -= k;
		fl.rewrites++;
		return;
	}
}

/* fl_new_segment() : start a segment at the next chunk: remember where, and what was
 * defined before it, and write the full snapshot it begins with (its own chunk). */
static void fl_new_segment(void)
{
	if (fl.n_segs == FL_SEGS) { /* not reached: segments are seg_target bytes or more */
		memmove(fl.segs, fl.segs + 1, (FL_SEGS - 1) * sizeof(fl.segs[0]));
		fl.n_segs--;
	}
	/* room for the full snapshot (its chunks are written without the check: busy) */
	uint64_t est = snap_estimate(ITF_SNAP_FULL);
	if (fl.file_size + est + est / 64 + 2 * fl.max_frame > fl.bound)
		fl_compact();
	struct fl_seg *g = &fl.segs[fl.n_segs++];
	g->off = fl.file_size;
	g->seq = wr.seq;
	g->emit_ts = wr.emit_ts;
	g->stk = wr.stk_done;
	g->str = wr.str_done;
	g->mod = wr.mod_done;
	g->snap_seq = snap_next_seq();
	/* mid-drain, the live heap is exact as of the newest event applied, not the cutoff */
	snap_write(wr.applied_ts ? wr.applied_ts : wr.emit_ts, 0, ITF_SNAP_FULL);
	ch_finish();
}

/* fl_room_for_snapshot() : before a periodic or final snapshot of est bytes: finish the
 * chunk being built (no segment starts there) and, if the snapshot might not fit under the
 * bound, rewrite the file now, while nothing is half written. */
static void fl_room_for_snapshot(uint64_t est)
{
	if (!fl.on || fl.busy)
		return;
	bool saved = fl.no_new_seg;
	fl.no_new_seg = true;
	ch_finish();
	fl.no_new_seg = saved;
	if (fl.file_size + est + est / 64 + 2 * fl.max_frame > fl.bound) {
		fl.busy = true;
		fl_compact();
		fl.busy = false;
	}
}

/* fl_after_chunk() : after every chunk written (the stage and the frame buffer are free):
 * make room for the next one, and begin a segment when the current one is big enough. */
static void fl_after_chunk(void)
{
	if (fl.busy || fl.last_chunk)
		return;
	fl.busy = true;
	if (fl.file_size + fl.max_frame > fl.bound)
		fl_compact();
	if (snap_ok() &&
	    (!fl.n_segs || (!fl.no_new_seg &&
			    fl.file_size - fl.segs[fl.n_segs - 1].off >= fl.seg_target)))
		fl_new_segment();
	fl.busy = false;
}

int wr_start(bool fork_child)
{
	wr_lock();
	wr.fork_child = fork_child;
	if (!wr.cctx) {
		wr.cctx = ZSTD_createCCtx();
		wr.out_cap = ZSTD_compressBound(CH_CAP);
		wr.stage = mmap(NULL, CH_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
		wr.out = mmap(NULL, wr.out_cap, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (!wr.cctx || wr.stage == MAP_FAILED || wr.out == MAP_FAILED) {
			wr_unlock();
			ic_log("out of memory starting the writer; nothing is recorded");
			return -ENOMEM;
		}
		ZSTD_CCtx_setParameter(wr.cctx, ZSTD_c_compressionLevel, opt_zstd_level);
		ZSTD_CCtx_setParameter(wr.cctx, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(wr.cctx, ZSTD_c_contentSizeFlag, 1);
	}
	read_cmdline();
	int rc = open_for_pid(fork_child);
	if (rc) {
		wr_unlock();
		return rc;
	}
	wr.seq = 0;
	wr.header_done = false;
	wr.stk_done = wr.str_done = wr.mod_done = 0;
	fl_setup();
	if ((opt_hooks & ITF_HOOK_MALLOC) && snap_init(opt_max_stacks))
		ic_log("out of memory for heap snapshots; the trace has none (growth report, "
		       "summary mode and INTERCEPT_MAX_MB need them)");
	snap_reset();
	wr.bytes_written = wr.raw_bytes = wr.lost_bytes = wr.events = 0;
	wr.write_failed = false;
	wr.last_sync_ns = wr.last_housekeeping_ns = 0;
	write_file_header();
	drain(false); /* header, clock, modules: readable even if the process dies now */
	wr_unlock();
	atomic_store(&wr_stop, 0);
	atomic_store(&wr_done, 0);
	return start_thread();
}

void wr_finish(void)
{
	if (atomic_exchange(&wr_finished, 1))
		return;
	if (!atomic_load(&wr_alive))
		return;
	atomic_store_explicit(&wr_stop, 1, memory_order_release);
	wr_wake();
	/* Wait for the final chunk, but never for ever (a stuck disk must not hang exit). */
	for (int i = 0; i < 100 && !atomic_load_explicit(&wr_done, memory_order_acquire); i++)
		futex_wait_ms(&wr_done, 0, 100);
}

void wr_before_exec(const char *path)
{
	/* A vfork child shares our memory but is not us: it must not write our trace. */
	if (!atomic_load(&wr_alive) || (uint32_t)getpid() != wr.pid)
		return;
	wr_lock();
	exec_path = path ? path : "";
	drain(false);
	exec_path = NULL;
	wr_unlock();
}

void wr_fork_prepare(void)
{
	wr_lock();
}

void wr_fork_parent(void)
{
	wr_unlock();
}

void wr_fork_child(void)
{
	live_fork_child();
	/* The parent's writer thread does not exist here; its lock word was ours. */
	atomic_store(&wr_lock_word, 0);
	atomic_store(&wr_alive, 0);
	atomic_store(&wr_finished, 0);
	if (wr.fd >= 0)
		close(wr.fd);
	wr.fd = -1;
	if (wr_start(true))
		atomic_store(&wr_finished, 1);
}
