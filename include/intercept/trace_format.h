/* trace_format.h - the intercept trace format, version 1: the one definition shared by the
 * preload (writer) and the analyzer (reader). docs/trace-format.md is its prose twin.
 *
 * Everything here is wire format: little-endian, no padding, never typedef'd. A change to
 * anything below is a format version bump and a line in docs/CHANGELOG.md.
 *
 * FILE
 *   A trace file is a sequence of independent zstd frames. A file cut at any byte is
 *   readable up to its last whole frame; frames can be decompressed in parallel.
 *
 *   frame 0   zstd *skippable* frame (magic ITF_SKIP_MAGIC) whose 16-byte payload is
 *             struct itf_file_hdr. `zstd -d` skips it; `analyze` checks it first.
 *   frame 1.. ordinary zstd frames with the content size in the frame header. Each
 *             decompresses to exactly one chunk (struct itf_chunk_hdr + sections) of at
 *             most ITF_CHUNK_MAX bytes.
 *
 * CHUNK (the decompressed content of one frame)
 *   OFFSET SIZE DESCRIPTION
 *   0      32   struct itf_chunk_hdr
 *   32     ..   n_sections sections, each struct itf_sec_hdr followed by its payload
 *
 * A chunk is self-contained: every delta in it starts from a base given in its own section
 * headers, so any chunk decodes without the ones before it. Only ids (stacks, strings,
 * modules) refer across chunks; their definitions are written once, in a META section of
 * the same or an earlier chunk (a definition may also come after its first use when a
 * writer drained a thread before the defining entry was complete; readers resolve ids at
 * the end). Chunk seq numbers count up from 0; a gap means chunks were left out (the
 * flight-recorder bound, INTERCEPT_MAX_MB).
 *
 * ORDER
 *   The EVENTS sections of a file, read in file order, are one causally consistent stream of
 *   every thread's events (see EVENTS below). A chunk's emit_ts is the writer's clock when
 *   it began the drain that made the chunk; every event of that drain has a timestamp below
 *   it, except those of threads preempted between their clock read and their commit.
 *
 * RECORDS
 *   A section's payload is a sequence of records; each kind of section says how a record's
 *   first byte tells its type and length (META: type, then a varint length; EVENTS: hot
 *   records with no length, or length-prefixed ones). Integers inside records are LEB128
 *   varints (u = unsigned, s = zigzag-signed) unless the table says otherwise. A string is a
 *   varint length followed by that many bytes (not NUL-terminated, not necessarily UTF-8).
 *
 * TIME
 *   Timestamps are raw clock units of the clock named in the header (TSC ticks or
 *   CLOCK_MONOTONIC nanoseconds), shifted right by ts_shift. CLOCK_SYNC records pair the raw
 *   clock with CLOCK_MONOTONIC nanoseconds; readers convert by a least-squares line through
 *   them (or, with one pair, through the header's nominal rate).
 */
#ifndef INTERCEPT_TRACE_FORMAT_H
#define INTERCEPT_TRACE_FORMAT_H

#include <stdint.h>

#define ITF_VERSION 1u

/* ---- frame 0: skippable zstd frame ------------------------------------------------------ */

#define ITF_SKIP_MAGIC 0x184D2A5Eu /* one of zstd's skippable-frame magics */

/* struct itf_file_hdr: the payload of frame 0.
 * OFFSET SIZE DESCRIPTION
 * 0      8    magic "ICPTRACE"
 * 8      4    format version (ITF_VERSION)
 * 12     4    flags, reserved, written 0, readers ignore
 * 16     4    pid of the writing process (lets a program that exec'd recognise the trace
 *             of the image it replaced, which has its pid; see docs/design.md, "exec")
 * 20     4    reserved, 0 */
struct itf_file_hdr {
	uint8_t magic[8];	/* ITF_FILE_MAGIC */
	uint32_t version;	/* ITF_VERSION */
	uint32_t flags;		/* reserved, 0 */
	uint32_t pid;		/* the writer's pid */
	uint32_t reserved;	/* 0 */
};
#define ITF_FILE_MAGIC "ICPTRACE"
_Static_assert(sizeof(struct itf_file_hdr) == 24, "itf_file_hdr is 24 bytes");

/* ---- chunk ------------------------------------------------------------------------------- */

#define ITF_CHUNK_MAGIC 0x4b435449u	  /* "ITCK" little-endian */
#define ITF_CHUNK_MAX (32u << 20)	  /* readers reject larger chunks */

/* struct itf_chunk_hdr: start of every chunk.
 * OFFSET SIZE DESCRIPTION
 * 0      4    magic ITF_CHUNK_MAGIC
 * 4      2    header size in bytes (32 in version 1; readers skip what they do not know)
 * 6      2    flags (ITF_CHUNK_*); other bits reserved, 0
 * 8      8    seq: 0, 1, 2, ... per file; a gap means chunks were dropped
 * 16     8    emit_ts: writer clock (shifted) when it began collecting this chunk
 * 24     4    n_sections
 * 28     4    payload size: bytes after this header; equals the chunk size minus hdr_size */
struct itf_chunk_hdr {
	uint32_t magic;
	uint16_t hdr_size;
	uint16_t flags;
	uint64_t seq;
	uint64_t emit_ts;
	uint32_t n_sections;
	uint32_t payload_size;
};
_Static_assert(sizeof(struct itf_chunk_hdr) == 32, "itf_chunk_hdr is 32 bytes");

/* ITF_CHUNK_*: bits of a chunk's flags.
 * ITF_CHUNK_PROLOGUE: written by the flight recorder (INTERCEPT_MAX_MB) when it dropped the
 * oldest chunks: it re-defines what the kept chunks need (HEADER, modules, stacks, strings
 * defined in dropped chunks) and carries the snapshots of the dropped part. It has the seq
 * of the first kept chunk, so a reader counting seq gaps counts exactly the dropped ones,
 * and that chunk's emit_ts. */
#define ITF_CHUNK_PROLOGUE 0x1u

/* ---- section ----------------------------------------------------------------------------- */

enum itf_sec_kind {
	ITF_SEC_META = 1,   /* writer-made records: header, definitions, clock, counters */
	ITF_SEC_EVENTS = 2, /* events of any threads, in causal order (see below) */
};

/* struct itf_sec_hdr: precedes every section payload. Unknown kinds are skipped by size.
 * OFFSET SIZE DESCRIPTION
 * 0      2    kind (enum itf_sec_kind)
 * 2      2    flags, reserved, 0
 * 4      4    payload size in bytes, after this header
 * 8      4    reserved, 0
 * 12     4    n_records in the payload (readers check it)
 * 16     8    ts_base: the first record's timestamp delta is taken from this (EVENTS);
 *             0 for META, whose records carry absolute timestamps */
struct itf_sec_hdr {
	uint16_t kind;
	uint16_t flags;
	uint32_t size;
	uint32_t reserved;
	uint32_t n_records;
	uint64_t ts_base;
};
_Static_assert(sizeof(struct itf_sec_hdr) == 24, "itf_sec_hdr is 24 bytes");

/* ---- EVENTS section records ---------------------------------------------------------------
 * ONE STREAM. An EVENTS section holds the events of all threads in an order the writer
 * makes causally consistent for every address: a block is always freed before it is
 * allocated again, whichever threads do it, and readers process records in file order
 * without reordering (docs/design.md, "One causal stream"). Within a thread, events are in
 * program order. Timestamps follow the stream but may step back slightly (an event whose
 * thread was preempted between reading the clock and publishing it lands in a later
 * drain), hence signed deltas.
 *
 * Running values, reset at the start of every section:
 *   ts        = ts_base; every event's dts (s) adds to it.
 *   slot[0..7]: thread slots, unbound until a BIND record binds them to a thread id; each
 *             has its own running pointer ptr[slot] = 0, reset by BIND. Pointer fields are
 *             zigzag deltas (s) from the slot's running pointer and update it.
 *
 * The first byte b of a record says what it is:
 *   b & 0x80     a hot record (no length): slot = (b >> 4) & 7, type = b & 0x0f.
 *   0x20..0x7f   a length-prefixed event: b | u len | u slot | s dts | payload (len counts
 *                everything after itself). Readers skip types they do not know.
 *   other values are invalid (corrupt).
 *
 * Hot types:
 * ITF_EV_ALLOC 1    an allocation returned ptr (malloc, calloc, memalign family, valloc,
 *                   pvalloc, realloc(NULL, n)). The timestamp is read after the real call.
 *   s dts | s dptr | u size (bytes requested) | u stack (stack id, 0 = unknown)
 * ITF_EV_FREE 2     ptr is about to be freed (free, realloc(p, 0), and the old block of a
 *                   realloc). The timestamp is read before the real call.
 *   s dts | s dptr
 * ITF_EV_REALLOC 3  the allocation half of realloc(old, size) returning ptr: its free half
 *                   (a FREE of old, timestamped before the real call) precedes it in the
 *                   stream, possibly with other threads' events in between. old == ptr
 *                   when the block was resized in place.
 *   s dts | s dptr | u size | u stack
 * ITF_EV_BIND 4     from here on in this section, this record's slot means thread tid.
 *   u tid
 *
 * Length-prefixed event types 0x20..0x3f are the hooks' (each hook's issue defines its
 * records here): sqlite 0x20-0x27, curl 0x28-0x2f, locks 0x30-0x37. Their payload follows
 * the slot and dts; the fields below are that payload.
 *
 * SQLite (0x20..0x27; preload/hook_sqlite.c, docs/sqlite.md). Durations are in the same
 * clock units as timestamps. Statement texts are STRING_DEF ids of kind ITF_STR_SQL,
 * normalized (literals -> ?, unless INTERCEPT_SQL_LITERALS=1); database files are ids of
 * kind ITF_STR_PATH (":memory:" for in-memory and temporary databases); 0 means unknown.
 *
 * ITF_EV_SQL_EXEC 0x20  one execution of an application statement ended: from its first
 *                    sqlite3_step after prepare/reset to SQLITE_DONE, an error, reset,
 *                    finalize (or the end of the sqlite3_exec running it, or process
 *                    exit). The timestamp is the end. Statements SQLite runs for itself
 *                    (schema loading, FTS shadow tables) are not recorded here.
 *   u sql | u db | u stack (caller of the statement handle's first execution; 0 unknown)
 *   | u span (first step's start to the end) | u step_time (inside sqlite3_step: what the
 *   report's times measure) | u lock_wait (inside the connection's busy handler, i.e.
 *   waiting for a database lock) | u rows (SQLITE_ROW results) | u steps (sqlite3_step
 *   calls) | u rc (the result that ended it: SQLITE_DONE 101, an error code; 0 when a
 *   reset, finalize, sqlite3_exec's end or exit ended it) | u end (enum itf_sql_end)
 *   | u fullscan | u sort | u autoindex | u vm_step | u reprepare (sqlite3_stmt_status
 *   FULLSCAN_STEP, SORT, AUTOINDEX, VM_STEP, REPREPARE over this execution)
 *   | u flags (ITF_SQL_*) | u handle (serial number of the statement handle in this
 *   process, 1, 2, ...: executions of one prepared statement share it)
 *
 * ITF_EV_SQL_PREPARE 0x21  the application prepared a statement (sqlite3_prepare*, or
 *                    sqlite3_exec preparing one of its statements). Timestamp: after.
 *   u sql | u db | u time (inside the prepare call) | u rc | u flags (ITF_SQL_VIA_EXEC)
 *   | u handle (0 when it failed; sql is then the normalized text passed, for UTF-8
 *   variants, else 0)
 *
 * ITF_EV_SQL_INTERNAL 0x22  a sqlite3_exec that SQLite made for itself (schema loading,
 *                    ANALYZE statistics, ...). Its statements are not recorded; its time
 *                    is inside the application call that caused it. Timestamp: after.
 *   u sql | u db | u time | u rc
 *
 * ITF_EV_SQL_DBFILE 0x23  the state of a database file, when the process first used it
 *                    and again at exit (the analyzer compares it with the file as it is
 *                    now before it explains plans).
 *   u db | u when (1 first use, 2 exit) | u exists (0: stat failed) | u size (bytes)
 *   | u mtime_ns (since the epoch) | u ino | u dev
 *
 * ITF_EV_SQL_STATS 0x24  process-wide counters, written at exit.
 *   u untracked (executions not recorded: the statement table was full or the handle was
 *   being recorded by another thread) | u unwrapped (busy handlers installed without
 *   measuring: the handler table was full) | u internal_execs (ITF_EV_SQL_INTERNAL
 *   records written)
 */
enum itf_ev_type {
	ITF_EV_ALLOC = 0x1,
	ITF_EV_FREE = 0x2,
	ITF_EV_REALLOC = 0x3,
	ITF_EV_BIND = 0x4,
	ITF_EV_SQL_EXEC = 0x20,
	ITF_EV_SQL_PREPARE = 0x21,
	ITF_EV_SQL_INTERNAL = 0x22,
	ITF_EV_SQL_DBFILE = 0x23,
	ITF_EV_SQL_STATS = 0x24,
};
#define ITF_EV_HOT 0x80u	/* bit set in the first byte of every hot record */
#define ITF_EV_SLOTS 8u		/* thread slots per EVENTS section */
#define ITF_EV_HOT_BYTE(type, slot) ((uint8_t)(ITF_EV_HOT | ((slot) << 4) | (type)))

/* ---- curl events (0x28..0x2f, issue 4; preload/hook_curl.c, analyzer/agg_http.c) ---------
 *
 * ITF_EV_HTTP 0x28  one HTTP transfer made through libcurl has ended. Recorded by the thread
 *   that saw it end (its slot): the caller of curl_easy_perform, or for the multi interface
 *   the thread that read its CURLMSG_DONE (curl_multi_info_read), removed it
 *   (curl_multi_remove_handle) or cleaned up its multi handle (curl_multi_cleanup) - the
 *   thread driving it. The event's timestamp (dts) is read after the end was seen. Payload
 *   fields (after type | len | slot | dts), in order:
 *   u flags (ITF_HTTP_*)
 *   | u dur: clock units from the transfer's start (curl_easy_perform entered, or
 *     curl_multi_add_handle called) to the record's timestamp; 0 with ITF_HTTP_NO_START
 *   | u url: string id (ITF_STR_URL) of the effective URL, cleaned by itf_url_clean()
 *     (include/intercept/url.h) before it was interned: no user:password@, no query or
 *     fragment unless ITF_HTTP_QUERY_KEPT, id-like path segments as {id}; 0 = unknown
 *   | u method: string id (ITF_STR_OTHER) of CURLINFO_EFFECTIVE_METHOD; 0 = unknown
 *   | u result: the CURLcode (0 = CURLE_OK; also 0 with ITF_HTTP_NO_RESULT)
 *   | u status: CURLINFO_RESPONSE_CODE (0 = no response)
 *   | u namelookup_us | u connect_us | u appconnect_us | u pretransfer_us
 *   | u starttransfer_us | u total_us | u redirect_us: CURLINFO_*_TIME_T, microseconds from
 *     the start as libcurl reports them (cumulative, 0 when a phase did not happen; not
 *     always monotone: readers clamp)
 *   | u bytes_down (CURLINFO_SIZE_DOWNLOAD_T) | u bytes_up (CURLINFO_SIZE_UPLOAD_T)
 *   | u new_connections (CURLINFO_NUM_CONNECTS) | u redirects (CURLINFO_REDIRECT_COUNT)
 *   | u stack: the stack that started the transfer (curl_easy_perform's caller, or
 *     curl_multi_add_handle's caller on the thread that added it); 0 = unknown
 *   | u queue_us (CURLINFO_QUEUE_TIME_T, libcurl >= 8.6; else 0)
 *   | u posttransfer_us (CURLINFO_POSTTRANSFER_TIME_T, libcurl >= 8.10; else 0)
 *   | u conn_id: CURLINFO_CONN_ID + 1 (libcurl >= 8.2; else 0 = unknown)
 *   Readers ignore payload bytes after the fields they know. Request and response
 *   headers and bodies are never recorded.
 */
enum itf_curl_type {
	ITF_EV_HTTP = 0x28,
};

/* ITF_HTTP_*: bits of an ITF_EV_HTTP record's flags. */
#define ITF_HTTP_MULTI 0x1u	 /* driven through the multi interface */
#define ITF_HTTP_NO_RESULT 0x2u	 /* removed (or its multi cleaned up) before the application
				    read its CURLMSG_DONE: result unknown, maybe aborted */
#define ITF_HTTP_NO_START 0x4u	 /* start not seen (added before recording began, or the
				    in-flight table was full): dur is 0 */
#define ITF_HTTP_URL_CUT 0x8u	 /* the cleaned URL was longer than the hook keeps: cut */
#define ITF_HTTP_QUERY_KEPT 0x10u /* INTERCEPT_URL_QUERY=1: the URL keeps its query */

/* ---- lock events (0x30..0x37, issue 5; preload/hook_pthread.c, analyzer/agg_lock.c) ------
 *
 * ITF_EV_LOCK_WAIT 0x30  a thread found a pthread mutex or rwlock busy (its trylock failed)
 *   and made the blocking call. Uncontended acquisitions are never recorded. The event's
 *   timestamp (dts) is read when the blocking call returned (clk_after): acquired, timed out
 *   or failed. Payload fields (after type | len | slot | dts), in order:
 *   u lock (the lock's address) | u kind (enum itf_lock_kind) | u wait (raw clock units
 *   from finding the lock busy to the return; includes the waiter's stack walk, made while
 *   the lock was held by someone else) | u result (0: acquired; otherwise the errno value
 *   the call returned: ETIMEDOUT, EDEADLK, EOWNERDEAD (acquired, owner died), ...)
 *   | u stack (the waiting thread's stack id, 0 = unknown) | u flags (ITF_LOCKF_*)
 *   Readers ignore payload bytes after the last field they know.
 */
enum itf_lock_type {
	ITF_EV_LOCK_WAIT = 0x30,
};

/* enum itf_lock_kind: which acquisition a LOCK_WAIT record is about. */
enum itf_lock_kind {
	ITF_LOCK_MUTEX = 1,  /* pthread_mutex_lock / _timedlock / _clocklock */
	ITF_LOCK_READ = 2,   /* pthread_rwlock_rdlock / _timedrdlock / _clockrdlock */
	ITF_LOCK_WRITE = 3,  /* pthread_rwlock_wrlock / _timedwrlock / _clockwrlock */
};

/* ITF_LOCKF_*: bits of a LOCK_WAIT record's flags. */
#define ITF_LOCKF_TIMED 0x1u /* a timed or clock variant (it may end in ETIMEDOUT) */

/* ITF_EV_SQL_EXEC end: what ended the execution. */
enum itf_sql_end {
	ITF_SQL_END_STEP = 1,	  /* sqlite3_step returned SQLITE_DONE or an error */
	ITF_SQL_END_RESET = 2,	  /* sqlite3_reset before the statement was done */
	ITF_SQL_END_FINALIZE = 3, /* sqlite3_finalize before the statement was done */
	ITF_SQL_END_EXEC = 4,	  /* sqlite3_exec returned (its callback stopped it) */
	ITF_SQL_END_EXIT = 5,	  /* still running when the process exited */
};

/* ITF_SQL_*: bits of the SQL records' flags. */
#define ITF_SQL_VIA_EXEC 0x1u	 /* run by sqlite3_exec (or sqlite3_get_table) */
#define ITF_SQL_NO_COUNTERS 0x2u /* the handle was gone: stmt_status counters are 0 */

/* ---- META section records ----------------------------------------------------------------
 * All length-prefixed: type (0x40..0x7f), u len, payload. Fields in order:
 *
 * ITF_META_HEADER 0x40   first record of the first chunk; written once.
 *   u version (ITF_VERSION) | u pid | u ppid | u clock (enum itf_clock) | u ts_shift
 *   | 8 bytes clock_hz: nominal raw clock units per second as an IEEE-754 double, LE
 *   | u start_ts (raw clock at process start of tracing) | u start_mono_ns
 *   | u start_realtime_ns (CLOCK_REALTIME) | u hooks (ITF_HOOK_* mask)
 *   | u malloc_mode (enum itf_malloc_mode) | u stack_depth | u flags (ITF_HDR_*)
 *   | string command line (argv joined by spaces) | string executable path
 *   | u sample_bytes (0: every allocation recorded; N: Poisson sampling, mean N bytes)
 *   Readers ignore payload bytes after the last field they know.
 *
 * ITF_META_CLOCK_SYNC 0x41  a pair of clock readings taken back to back by the writer.
 *   u ts (raw clock, shifted) | u mono_ns (CLOCK_MONOTONIC)
 *
 * ITF_META_MODULE_LOAD 0x42  a module (executable, shared object, vdso) is mapped.
 *   u module id (1, 2, ...; never reused in a file) | u ts | u generation (the module
 *   generation in force when it was seen; see STACK_DEF) | u bias (load bias: runtime
 *   address minus ELF virtual address) | u lo | u hi (runtime range of its PT_LOAD
 *   segments, hi exclusive) | string build-id (raw bytes, may be empty) | string path
 *
 * ITF_META_MODULE_UNLOAD 0x43  a module was unmapped (dlclose). The module generation
 *   increments by one with every unload record.
 *   u module id | u ts
 *
 * ITF_META_STACK_DEF 0x44  defines a stack id.
 *   u stack id (1, 2, ...) | u generation | u n_frames | u frame[0] | s frame[i] -
 *   frame[i-1] for i >= 1
 *   Frames are return addresses (the reader subtracts 1 to find the call), innermost
 *   first, starting at the caller of the interposed function. They resolve against the
 *   modules loaded in that module generation (loads with generation <= g that were not
 *   unloaded by generation g).
 *
 * ITF_META_STRING_DEF 0x45  defines a string id (SQL text, URL, names).
 *   u string id (1, 2, ...) | u kind (enum itf_str_kind) | string bytes
 *
 * ITF_META_THREAD 0x46  a thread was first seen (state 1) or has exited (state 2).
 *   u tid | u state | u ts | string name (may be empty)
 *
 * ITF_META_COUNTERS 0x47  cumulative process-wide counters at the time of writing; the
 *   last one in the file wins. Unknown trailing fields are ignored.
 *   u ts | u dropped_events (drop mode: events not recorded because the pool was full)
 *   | u missed_events (hook re-entered from a signal handler while recording: passed
 *   through unrecorded) | u stack_overflow (stacks not interned: table full; recorded
 *   with stack 0) | u truncated_stacks (stacks cut at stack_depth) | u bytes_written
 *   (compressed, this file) | u raw_bytes (uncompressed chunk bytes) | u lost_bytes
 *   (compressed bytes the writer could not write: disk full, I/O error) | u pool_bytes
 *   (memory the preload holds for buffers and tables) | u wait_ns (time application
 *   threads spent waiting for buffer space) | u events (events recorded so far)
 *
 * ITF_META_END 0x48  the process ended normally (exit or return from main) and this is
 *   the final chunk; its absence means the trace is incomplete (killed, still running).
 *   u ts | u reason (enum itf_end_reason)
 *
 * ITF_META_EXEC 0x49  the process is about to exec another program; everything it recorded
 *   until now precedes this record. When it is the last record of the file the exec
 *   succeeded and the trace is complete (the new image writes its own trace); when events
 *   follow, the exec failed and the process went on.
 *   u ts | string path (the program passed to exec)
 *
 * ITF_META_SNAPSHOT 0x50  (endurance, issue 7) a heap snapshot: the writer's per-site
 *   counters (preload/live.c) after applying every allocation event that precedes this
 *   record in file order. Written every snapshot interval (INTERCEPT_SNAPSHOT_MS), at the
 *   start of every flight-recorder segment (FULL) and at exit or exec (FULL | FINAL). Its
 *   site entries follow in ITF_META_SNAP_SITES records carrying the same snapshot seq; a
 *   snapshot is complete when n_sites entries have been read (a reader drops an incomplete
 *   one: the file was cut, or its chunk was dropped).
 *   u ts (raw clock: the start of the drain whose events it includes) | u snapshot seq (0,
 *   1, 2, ...; increasing in file order, gaps where snapshots were merged)
 *   | u flags (ITF_SNAP_*) | u interval_ns (INTERCEPT_SNAPSHOT_MS in force, in ns)
 *   | u n_sites (site entries in the SNAP_SITES records of this snapshot)
 *   | u allocations | u frees | u bytes | u freed_bytes | u live_count | u live_bytes
 *     (process totals since tracing began)
 *   | u unmatched_frees (frees of blocks never seen allocated) | u lost (blocks the live
 *     table forgot at its bound)
 *   Without ITF_SNAP_FULL only the sites whose counters changed since the previous
 *   snapshot are listed; the others keep their last listed values. With ITF_SNAP_FULL every
 *   site with at least one allocation is listed, and a site not listed has none. With
 *   sampling (header sample_bytes != 0) every count is an unbiased estimate, rounded.
 *
 * ITF_META_SNAP_SITES 0x51  site entries of a snapshot, ascending by stack id.
 *   u snapshot seq | u n (entries in this record) | n times: u dstack (stack id minus the
 *   previous entry's in this record; the first is the stack id itself) | u allocations
 *   | u frees | u bytes | u live_count | u live_bytes (cumulative, this site)
 *
 * ITF_META_LOCK_COUNTS 0x68  per-lock acquisition counts (INTERCEPT_LOCK_COUNT=1 only;
 *   preload/lockcount.c). Counts are cumulative since the start of this trace: a later
 *   record's entry for a lock supersedes earlier ones. Written by the writer at each drain
 *   for the locks whose counts changed, so a killed process keeps them up to its last flush.
 *   u ts | u overflow (acquisitions not counted because the lock table was full: cumulative)
 *   | u n (entries) | n x ( u lock (address) | u mutex acquisitions | u read acquisitions
 *   | u write acquisitions | u first stack (stack id of the lock's first counted
 *   acquisition, 0 = unknown) )
 *   Acquisitions are successful lock, timedlock, clocklock and trylock calls (rdlock and
 *   wrlock variants for rwlocks) made by the application, never by the profiler itself.
 *
 * META types by owner: 0x40..0x4f the core (above); 0x50..0x5f endurance (heap snapshots);
 * 0x60..0x67 the exit-time leak scan; 0x68..0x6f locks (LOCK_COUNTS above); 0x70..0x7f
 * unassigned.
 */
enum itf_meta_type {
	ITF_META_HEADER = 0x40,
	ITF_META_CLOCK_SYNC = 0x41,
	ITF_META_MODULE_LOAD = 0x42,
	ITF_META_MODULE_UNLOAD = 0x43,
	ITF_META_STACK_DEF = 0x44,
	ITF_META_STRING_DEF = 0x45,
	ITF_META_THREAD = 0x46,
	ITF_META_COUNTERS = 0x47,
	ITF_META_END = 0x48,
	ITF_META_EXEC = 0x49,
	ITF_META_SNAPSHOT = 0x50,
	ITF_META_SNAP_SITES = 0x51,
	ITF_META_LOCK_COUNTS = 0x68, /* the lock hook (issue 5) */
};

/* ITF_SNAP_*: bits of a SNAPSHOT record's flags. */
#define ITF_SNAP_FULL 0x1u  /* every site with allocations is listed (a keyframe) */
#define ITF_SNAP_FINAL 0x2u /* written at exit or exec: the live set the process ends with */

enum itf_clock {
	ITF_CLOCK_TSC = 1,	 /* rdtsc; invariant TSC (CPUID 0x80000007 EDX bit 8) */
	ITF_CLOCK_MONOTONIC = 2, /* clock_gettime(CLOCK_MONOTONIC) nanoseconds */
};

enum itf_malloc_mode {
	ITF_MALLOC_FULL = 1,	/* every allocation and free is an event */
	ITF_MALLOC_SUMMARY = 2, /* periodic per-site snapshots (endurance runs) */
};

enum itf_end_reason {
	ITF_END_EXIT = 1, /* exit(), return from main, or the last thread exited */
};

enum itf_str_kind {
	ITF_STR_OTHER = 0,
	ITF_STR_SQL = 1,
	ITF_STR_URL = 2,
	ITF_STR_PATH = 3,
};

/* ITF_HOOK_*: bits of the header's hooks mask (INTERCEPT_HOOKS). */
#define ITF_HOOK_MALLOC 0x1u
#define ITF_HOOK_SQLITE 0x2u
#define ITF_HOOK_CURL 0x4u
#define ITF_HOOK_LOCK 0x8u
#define ITF_HOOK_ALL 0xfu

/* ITF_HDR_*: bits of the header's flags. */
#define ITF_HDR_DROP_MODE 0x1u /* INTERCEPT_DROP=1: events were dropped, not waited for */
#define ITF_HDR_FORK_CHILD 0x2u /* a forked child: blocks allocated before the fork are
				   not in this trace, so their frees are unmatched */
#define ITF_HDR_LOCK_COUNT 0x4u /* INTERCEPT_LOCK_COUNT=1: LOCK_COUNTS records are written */
#define ITF_HDR_BOUNDED 0x8u /* INTERCEPT_MAX_MB (flight recorder): old chunks may have been
				dropped; snapshots carry the live set they built */

#define ITF_MAX_FRAMES 256u /* readers reject STACK_DEF with more frames */

#endif /* INTERCEPT_TRACE_FORMAT_H */
