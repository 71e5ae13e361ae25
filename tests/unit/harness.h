/* harness.h - the unit tests' whole framework: TEST() bodies, EXPECT*() checks that
 * report file:line and go on, and a main() that runs the registered tests and exits 1 if
 * any check failed. One test binary per module (tests/unit/test_<module>.c). */
#ifndef INTERCEPT_HARNESS_H
#define INTERCEPT_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int h_failed, h_checks;
static const char *h_test;

#define EXPECT(c)                                                                                  \
	do {                                                                                       \
		h_checks++;                                                                        \
		if (!(c)) {                                                                        \
			h_failed++;                                                                \
			fprintf(stderr, "%s:%d: %s: EXPECT(%s) failed\n", __FILE__, __LINE__,      \
				h_test, #c);                                                       \
		}                                                                                  \
	} while (0)
#define EXPECT_EQ(a, b)                                                                            \
	do {                                                                                       \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                   \
		h_checks++;                                                                        \
		if (a_ != b_) {                                                                    \
			h_failed++;                                                                \
			fprintf(stderr, "%s:%d: %s: %s == %s failed: %" PRIu64 " != %" PRIu64 "\n", \
				__FILE__, __LINE__, h_test, #a, #b, a_, b_);                       \
		}                                                                                  \
	} while (0)

#define TEST(name) static void name(void)
#define RUN(name) (h_test = #name, name())
#define TEST_EXIT()                                                                                \
	(fprintf(stderr, "%d checks, %d failed\n", h_checks, h_failed), h_failed ? 1 : 0)

#endif /* INTERCEPT_HARNESS_H */
