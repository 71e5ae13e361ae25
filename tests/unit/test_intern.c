/* test_intern.c - the preload's lock-free interning (preload/intern.c): dense stable ids,
 * agreement between threads racing on the same keys, bounded behaviour when full, and
 * speed on key sets that defeat weak hashes (many keys sharing long prefixes). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "intern.h"

static struct intern tab;

static void make_key(uint64_t *k, uint32_t i, unsigned words)
{
	/* stack-like keys: shared prefix, one varying word, shared suffix */
	for (unsigned w = 0; w < words; w++)
		k[w] = 0x400000 + w * 0x40;
	k[words / 2] ^= (uint64_t)i * 8;
}

TEST(dense_and_stable)
{
	EXPECT_EQ(intern_init(&tab, 1u << 18, 128, 12345), 0);
	uint64_t k[16];
	for (uint32_t i = 0; i < 100000; i++) {
		make_key(k, i, 16);
		EXPECT_EQ(intern_get(&tab, k, sizeof(k)), i + 1);
	}
	for (uint32_t i = 0; i < 100000; i += 7) {
		make_key(k, i, 16);
		EXPECT_EQ(intern_get(&tab, k, sizeof(k)), i + 1);
		uint32_t len;
		const uint8_t *b = intern_bytes(&tab, i + 1, &len);
		EXPECT(b && len == sizeof(k) && !memcmp(b, k, sizeof(k)));
	}
	EXPECT_EQ(intern_last_id(&tab), 100000);
	/* same bytes, different length: different keys */
	uint32_t a = intern_get(&tab, "abc", 3), b = intern_get(&tab, "abc", 2);
	EXPECT(a && b && a != b);
}

#define RACE_KEYS 50000
#define RACE_THREADS 4
static struct intern race;
static uint32_t race_ids[RACE_THREADS][RACE_KEYS];

static void *racer(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t k[8];
	for (uint32_t n = 0; n < RACE_KEYS; n++) {
		uint32_t i = (t & 1) ? RACE_KEYS - 1 - n : n; /* opposite orders */
		make_key(k, i, 8);
		race_ids[t][i] = intern_get(&race, k, sizeof(k));
	}
	return NULL;
}

TEST(threads_agree)
{
	EXPECT_EQ(intern_init(&race, 1u << 17, 64, 99), 0);
	pthread_t th[RACE_THREADS];
	for (int t = 0; t < RACE_THREADS; t++)
		pthread_create(&th[t], NULL, racer, (void *)(intptr_t)t);
	for (int t = 0; t < RACE_THREADS; t++)
		pthread_join(th[t], NULL);
	int disagree = 0, zero = 0;
	for (uint32_t i = 0; i < RACE_KEYS; i++) {
		zero += race_ids[0][i] == 0;
		for (int t = 1; t < RACE_THREADS; t++)
			disagree += race_ids[t][i] != race_ids[0][i];
	}
	EXPECT_EQ(disagree, 0);
	EXPECT_EQ(zero, 0);
	EXPECT_EQ(intern_last_id(&race), RACE_KEYS);
}

TEST(full_table_is_bounded)
{
	struct intern small;
	EXPECT_EQ(intern_init(&small, 1024, 64, 7), 0);
	uint64_t k[4];
	uint32_t given = 0, refused = 0;
	for (uint32_t i = 0; i < 5000; i++) {
		make_key(k, i, 4);
		uint32_t id = intern_get(&small, k, sizeof(k));
		if (id)
			given++;
		else
			refused++;
	}
	EXPECT_EQ(given, 1024);
	EXPECT_EQ(refused, 5000 - 1024);
	EXPECT_EQ(atomic_load(&small.overflow), 5000 - 1024);
	make_key(k, 3, 4);
	EXPECT_EQ(intern_get(&small, k, sizeof(k)), 4); /* earlier keys are still found */
}

TEST(adversarial_prefixes_are_fast)
{
	/* 200k keys identical but for the last byte pair of a long key */
	struct intern t2;
	EXPECT_EQ(intern_init(&t2, 1u << 18, 256, 31337), 0);
	uint8_t key[200];
	memset(key, 'x', sizeof(key));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint32_t zero = 0;
	for (uint32_t i = 0; i < 200000; i++) {
		key[198] = (uint8_t)i;
		key[199] = (uint8_t)(i >> 8);
		key[0] = (uint8_t)(i >> 16);
		zero += intern_get(&t2, key, sizeof(key)) == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	EXPECT_EQ(zero, 0);
	EXPECT(s < 2.0);
	fprintf(stderr, "  200k adversarial keys interned in %.3f s\n", s);
}

int main(void)
{
	RUN(dense_and_stable);
	RUN(threads_agree);
	RUN(full_table_is_bounded);
	RUN(adversarial_prefixes_are_fast);
	return TEST_EXIT();
}
