/* snapshot.h - heap snapshots for endurance runs (snapshot.c): the writer turns the
 * per-site counters of the live heap (live.h) into SNAPSHOT / SNAP_SITES records
 * (trace_format.h) every INTERCEPT_SNAPSHOT_MS, listing only the sites that changed since
 * the previous snapshot, and a full one (every site) at exit, at exec and at the start of
 * every flight-recorder segment. With INTERCEPT_MAX_MB it reads back the snapshots of the
 * part of the file the flight recorder drops, thinned to a bounded size, so that the
 * rewritten trace still carries them. With INTERCEPT_SAMPLE the counts it writes are
 * unbiased estimates (each sampled block weighs 1/p(size), sample.h).
 * Every function requires the writer lock (writer.c): only the draining thread calls. */
#ifndef INTERCEPT_SNAPSHOT_H
#define INTERCEPT_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

/*! snap_init() : map the per-site tables (touched lazily, up to max_sites sites) and, with
 * a size bound, the archive. Idempotent. @return 0 or -ENOMEM (then no snapshots are
 * written and snap_ok() is false). */
int snap_init(uint32_t max_sites);

/*! snap_ok() : are snapshots being written? (INTERCEPT_SNAPSHOT_MS != 0, malloc hooked,
 * tables mapped.) */
bool snap_ok(void);

/*! snap_reset() : a new trace file begins (process start, fork child): the next snapshot
 * is full and numbered 0, and the archive is empty. */
void snap_reset(void);

/*! snap_note_alloc() : the writer applied an allocation of size bytes at site stack (for
 * the sampling estimates; does nothing without sampling). */
void snap_note_alloc(uint32_t stack, uint64_t size);

/*! snap_due() : has a snapshot interval passed since the last snapshot (now in
 * CLOCK_MONOTONIC ns)? */
bool snap_due(uint64_t now_ns);

/*! snap_write() : write a snapshot of the live heap as it is now (every event applied so
 * far is in it) stamped ts, with flags ITF_SNAP_* (FULL is added to the first one of a
 * file). now_ns (CLOCK_MONOTONIC) sets when the next periodic one is due; 0 leaves that
 * alone. Records go into the chunk being built through wr_meta_put(). Can't fail; does nothing
 * when !snap_ok(). */
void snap_write(uint64_t ts, uint64_t now_ns, unsigned flags);

/*! snap_estimate() : an upper bound of the bytes the records of a snapshot with flags
 * would take if written now (before compression; zstd frames add a few bytes). The writer
 * makes room for them under INTERCEPT_MAX_MB first: a snapshot is never written while the
 * file is being rewritten, nor interrupted by a rewrite. */
uint64_t snap_estimate(unsigned flags);

/*! snap_next_seq() : the seq the next snapshot will have. */
uint64_t snap_next_seq(void);

/*! snap_archive_reset() : empty the archive: the flight recorder is about to read back
 * the snapshots of the part of the file it drops. */
void snap_archive_reset(void);

/*! snap_archive_record() : a SNAPSHOT or SNAP_SITES record read back from that part, in
 * file order: each complete snapshot enters the archive, which keeps at most a quarter of
 * the bound by merging neighbours pairwise (the later one's time and totals, the union of
 * their sites with the later values: exact, because values are cumulative), all but the
 * first (the start of the run). Other types
 * are ignored; a malformed record or an incomplete snapshot is dropped. */
void snap_archive_record(uint8_t type, const uint8_t *payload, size_t len);

/*! snap_emit_archive() : write the archive's snapshots, oldest first, through wr_meta_put(). */
void snap_emit_archive(void);

/*! snap_memory_bytes() : memory the snapshot tables and the archive hold. */
uint64_t snap_memory_bytes(void);

#endif /* INTERCEPT_SNAPSHOT_H */
