/* intern.c - owns the interning tables' algorithm: open addressing over a keyed 64-bit hash,
 * slots claimed by CAS, definitions in an append-only arena. Runs on application threads
 * inside hooks (guard held) and on the writer (reads definitions). The hash is seeded from
 * AT_RANDOM and probing is bounded, so an adversarial set of keys degrades into counted
 * overflow (stack id 0), never into unbounded work (NOTES: heaptrack's interning blew up on
 * 10^5 distinct keys). Never: malloc, locks an application can see. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "intern.h"

#define INTERN_BUSY 2u	      /* even: never a hash (hashes have bit 0 set) */
#define INTERN_MAX_PROBES 64u /* at load <= 1/2 the expected probe count is ~1.5 */

/* Insertions in flight, and whether a fork is being prepared (intern_fork_prepare). */
static _Alignas(IC_CACHELINE) _Atomic uint32_t intern_inserting;
static _Alignas(IC_CACHELINE) _Atomic uint32_t intern_forking;

static void *map_reserve(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int intern_init(struct intern *in, uint32_t max_ids, uint32_t avg_len, uint64_t seed)
{
	uint64_t slots = 2;
	while (slots < 2ull * max_ids)
		slots <<= 1;
	memset(in, 0, sizeof(*in));
	in->keys = map_reserve(slots * sizeof(in->keys[0]));
	in->ids = map_reserve(slots * sizeof(in->ids[0]));
	in->defs = map_reserve(((uint64_t)max_ids + 1) * sizeof(in->defs[0]));
	in->arena_cap = (uint64_t)max_ids * (((uint64_t)avg_len + 7) & ~7ull);
	in->arena = map_reserve(in->arena_cap);
	if (!in->keys || !in->ids || !in->defs || !in->arena)
		return -ENOMEM; /* the mappings stay: init.c disables the hooks that need them */
	in->slot_mask = slots - 1;
	in->max_ids = max_ids;
	in->seed = seed | 1;
	return 0;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static uint64_t hash_bytes(uint64_t seed, const uint8_t *p, uint32_t len)
{
	uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
	uint32_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
	}
	if (i < len) {
		uint64_t w = 0;
		memcpy(&w, p + i, len - i);
		h = mix64(h ^ w ^ ((uint64_t)(len - i) << 56));
	}
	return mix64(h) | 1;
}

static bool same_key(const struct intern *in, uint32_t id, const void *key, uint32_t len)
{
	const struct intern_def *d = &in->defs[id];
	return d->len == len && !memcmp(in->arena + d->off, key, len);
}

/* insert_at() : fill slot (claimed BUSY by us) with a new id for key. */
static uint32_t insert_at(struct intern *in, uint64_t slot, uint64_t h, const void *key,
			  uint32_t len)
{
	uint64_t need = ((uint64_t)len + 7) & ~7ull;
	uint64_t off = atomic_fetch_add_explicit(&in->arena_used, need, memory_order_relaxed);
	uint32_t id = atomic_fetch_add_explicit(&in->next_id, 1, memory_order_relaxed) + 1;
	if (off + need > in->arena_cap || id > in->max_ids) {
		/* Full: give the slot back so probes continue past it. The id (if any) is
		 * burnt: its definition is published empty so the writer's cursor moves on. */
		if (id <= in->max_ids) {
			in->defs[id].len = 0;
			in->defs[id].off = 0;
			atomic_store_explicit(&in->defs[id].ready, 1, memory_order_release);
		}
		atomic_store_explicit(&in->keys[slot], 0, memory_order_release);
		atomic_fetch_add_explicit(&in->overflow, 1, memory_order_relaxed);
		return 0;
	}
	memcpy(in->arena + off, key, len);
	in->defs[id].len = len;
	in->defs[id].off = off;
	atomic_store_explicit(&in->defs[id].ready, 1, memory_order_release);
	in->ids[slot] = id;
	atomic_store_explicit(&in->keys[slot], h, memory_order_release);
	return id;
}

uint32_t intern_get(struct intern *in, const void *key, uint32_t len)
{
	if (IC_UNLIKELY(!in->max_ids))
		return 0;
	uint64_t h = hash_bytes(in->seed, key, len);
	uint64_t slot = h >> 7; /* low bits are mixed too; skip bit 0 which is forced */
	for (uint32_t probe = 0; probe < INTERN_MAX_PROBES; probe++, slot++) {
		slot &= in->slot_mask;
		unsigned spins = 0;
		for (;;) {
			uint64_t k = atomic_load_explicit(&in->keys[slot], memory_order_acquire);
			if (k == h && same_key(in, in->ids[slot], key, len))
				return in->ids[slot];
			if (k == INTERN_BUSY) {
				if (++spins > 64)
					sched_yield();
				continue;
			}
			if (k != 0)
				break; /* another key: probe on */
			/* Empty: claim it, unless a fork is being prepared. Then give up at once
			 * (the event gets stack 0, counted with the overflow) rather than wait:
			 * an application's own atfork handler, run after ours, may be waiting
			 * for a lock this thread holds, and waiting here would deadlock fork. */
			atomic_fetch_add_explicit(&intern_inserting, 1, memory_order_seq_cst);
			if (atomic_load_explicit(&intern_forking, memory_order_seq_cst)) {
				atomic_fetch_sub_explicit(&intern_inserting, 1, memory_order_release);
				atomic_fetch_add_explicit(&in->overflow, 1, memory_order_relaxed);
				return 0;
			}
			uint64_t zero = 0;
			if (atomic_compare_exchange_strong_explicit(&in->keys[slot], &zero, INTERN_BUSY,
								    memory_order_acquire,
								    memory_order_relaxed)) {
				uint32_t id = insert_at(in, slot, h, key, len);
				atomic_fetch_sub_explicit(&intern_inserting, 1, memory_order_release);
				return id;
			}
			atomic_fetch_sub_explicit(&intern_inserting, 1, memory_order_release);
			/* lost the race: look at what the winner put there */
		}
	}
	atomic_fetch_add_explicit(&in->overflow, 1, memory_order_relaxed);
	return 0;
}

const uint8_t *intern_bytes(const struct intern *in, uint32_t id, uint32_t *len)
{
	if (id == 0 || id > in->max_ids)
		return NULL;
	const struct intern_def *d = &in->defs[id];
	if (!atomic_load_explicit(&((struct intern_def *)d)->ready, memory_order_acquire))
		return NULL;
	*len = d->len;
	return in->arena + d->off;
}

uint32_t intern_last_id(const struct intern *in)
{
	uint32_t n = atomic_load_explicit(&((struct intern *)in)->next_id, memory_order_acquire);
	return n > in->max_ids ? in->max_ids : n;
}

void intern_fork_prepare(void)
{
	atomic_store_explicit(&intern_forking, 1, memory_order_seq_cst);
	while (atomic_load_explicit(&intern_inserting, memory_order_seq_cst))
		sched_yield();
}

void intern_fork_done(void)
{
	atomic_store_explicit(&intern_forking, 0, memory_order_release);
}
