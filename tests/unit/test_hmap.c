/* test_hmap.c - the analyzer's u64 hash map (analyzer/util.c) against a plain reference
 * array under random inserts and backward-shift deletions, with clustered keys (the
 * addresses an allocator hands out). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "harness.h"
#include "util.h"

#define KEYS 20000

TEST(random_ops_match_reference)
{
	static uint64_t ref[KEYS]; /* 0 = absent, else value */
	struct hmap m;
	EXPECT_EQ(hmap_init(&m, sizeof(uint64_t), 4), 0);
	uint64_t s = 42;
	for (int op = 0; op < 400000; op++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t i = (uint32_t)(s >> 33) % KEYS;
		uint64_t key = 0x7f1200000000ull + (uint64_t)i * 16; /* clustered */
		if ((s >> 20) % 3) {
			bool is_new;
			uint64_t *v = hmap_put(&m, key, &is_new);
			EXPECT(v != NULL);
			EXPECT_EQ(is_new, ref[i] == 0);
			*v = op + 1;
			ref[i] = op + 1;
		} else {
			EXPECT_EQ(hmap_del(&m, key), ref[i] != 0);
			ref[i] = 0;
		}
	}
	size_t n = 0;
	for (uint32_t i = 0; i < KEYS; i++) {
		uint64_t *v = hmap_get(&m, 0x7f1200000000ull + (uint64_t)i * 16);
		if (ref[i]) {
			n++;
			EXPECT(v && *v == ref[i]);
		} else {
			EXPECT(v == NULL);
		}
	}
	EXPECT_EQ(m.n, n);
	size_t it = 0, seen = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&m, &it, &k, &v))
		seen++;
	EXPECT_EQ(seen, n);
	hmap_free(&m);
}

int main(void)
{
	RUN(random_ops_match_reference);
	return TEST_EXIT();
}
