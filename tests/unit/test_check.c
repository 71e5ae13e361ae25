/* test_check.c - budget evaluation (analyzer/check.c) against a fixed report model: the
 * contract's key forms give exactly the expected breaches, and random keys and budget
 * files built from the grammar's characters never crash and always end in a breach count
 * or a clean error (run under ASan in tools/test.sh's second pass). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "check.h"
#include "harness.h"
#include "json_in.h"

static const char report[] =
	"{\"summary\": {\"pid\": 7, \"command\": \"./app\", \"dropped_events\": 3},"
	" \"sql\": [{\"statement\": \"SELECT * FROM orders WHERE id = ?\", \"p95_ns\": 9000,"
	"            \"p99_ns\": 12000},"
	"          {\"statement\": \"SELECT v FROM kv\", \"p95_ns\": 100, \"p99_ns\": 200}],"
	" \"http\": [],"
	" \"alloc\": {\"peak_bytes\": 18446744073709551615, \"sites\": [{\"bytes\": 10,"
	"   \"stack\": [{\"function\": \"parse_config\", \"file\": \"/src/a.c\", \"line\": 3,"
	"   \"module\": \"/bin/app\", \"address\": \"0x10\", \"inlined\": false}]}]},"
	" \"leaks\": {\"bytes\": 40, \"kinds\": {\"definite\": {\"bytes\": 30}}}}";

static struct jv_doc model;

/* run() : parse budget text and evaluate it. @return breaches or error. */
static int run(const char *budget, char *out, size_t cap)
{
	struct ck_budget b;
	az_error_clear();
	int rc = ck_parse(&b, budget, strlen(budget), "budget.json");
	if (rc)
		return rc;
	FILE *o = fmemopen(out, cap, "w");
	rc = ck_run(&b, model.root, o);
	fclose(o);
	ck_free(&b);
	return rc;
}

TEST(contract_keys)
{
	char out[4096];
	EXPECT_EQ(run("{\"leaks.bytes\": 39, \"summary.dropped_events\": 3}", out, sizeof(out)), 1);
	EXPECT(!strcmp(out, "leaks.bytes limit=39 actual=40 leaks\n"));
	EXPECT_EQ(run("{\"sql.p95_ns\": 5000}", out, sizeof(out)), 1);
	EXPECT(strstr(out, "sql.p95_ns limit=5000 actual=9000 sql[0] \"SELECT * FROM orders") ==
	       out);
	EXPECT_EQ(run("{\"sql[FROM orders].p99_ns\": 11999, \"sql[kv].p99_ns\": 200}", out,
		      sizeof(out)),
		  1);
	EXPECT_EQ(run("{\"leaks.definite.bytes\": 0}", out, sizeof(out)), 1);
	EXPECT(!strcmp(out, "leaks.definite.bytes limit=0 actual=30 leaks.kinds.definite\n"));
	EXPECT_EQ(run("{\"alloc.sites[parse_config].bytes\": 9}", out, sizeof(out)), 1);
	EXPECT_EQ(run("{\"alloc.sites[/src/a.c].bytes\": 10}", out, sizeof(out)), 0);
	/* exact beyond 2^53 */
	EXPECT_EQ(run("{\"alloc.peak_bytes\": 18446744073709551614}", out, sizeof(out)), 1);
	EXPECT_EQ(run("{\"alloc.peak_bytes\": 18446744073709551615}", out, sizeof(out)), 0);
	EXPECT_EQ(run("{\"http.p99_ns\": 0}", out, sizeof(out)), 0); /* no entries: no breach */
	EXPECT_EQ(run("{}", out, sizeof(out)), 0);
}

TEST(errors)
{
	char out[4096];
	EXPECT_EQ(run("{\"leaks.possible.bytes\": 0}", out, sizeof(out)), AZ_EUSAGE);
	EXPECT(strstr(az_error_msg(), "kinds: definite") != NULL);
	EXPECT_EQ(run("{\"summary.command\": 0}", out, sizeof(out)), AZ_EUSAGE);
	EXPECT_EQ(run("{\"sql\": 0}", out, sizeof(out)), AZ_EUSAGE);
	EXPECT_EQ(run("{\"leaks[x].bytes\": 0}", out, sizeof(out)), AZ_EUSAGE);
	EXPECT_EQ(run("{\"a]b\": 0}", out, sizeof(out)), AZ_EUSAGE);
	EXPECT(run("{\"x\": -0.5}", out, sizeof(out)) == AZ_EUSAGE);
	EXPECT(run("[]", out, sizeof(out)) == AZ_EUSAGE);
}

TEST(random_budgets_never_crash)
{
	static const char alphabet[] = "sqlaekbyt.[]_0x FROMpd\"\\{}:,1-";
	char budget[256], key[64], out[8192];
	uint64_t s = 99;
	int breaches = 0, errors = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = 0;
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t len = 1 + (s >> 33) % 40;
		/* half the keys start from a real one, mangled or not */
		static const char *const seeds[] = {"sql[FROM orders].p99_ns",
						    "leaks.definite.bytes",
						    "alloc.sites[parse].bytes", "summary.pid"};
		if ((s >> 20) & 1) {
			snprintf(key, sizeof(key), "%s", seeds[(s >> 30) % 4]);
			n = strlen(key);
			int edits = (int)((s >> 24) % 4); /* 0: the key as is */
			for (int e = 0; e < edits && n; e++) {
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				key[(s >> 33) % n] = alphabet[(s >> 40) % (sizeof(alphabet) - 1)];
			}
		} else {
			for (; n < len; n++) {
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				key[n] = alphabet[(s >> 40) % (sizeof(alphabet) - 1)];
			}
			key[n] = '\0';
		}
		snprintf(budget, sizeof(budget), "{\"%s\": %u}", key, (unsigned)(s >> 50) % 3);
		int rc = run(budget, out, sizeof(out));
		if (rc > 0)
			breaches++;
		else if (rc < 0)
			errors++;
		EXPECT(rc >= 0 || rc == AZ_EUSAGE);
	}
	fprintf(stderr, "  %d budgets breached, %d refused\n", breaches, errors);
	EXPECT(breaches > 0 && errors > 0);
}

int main(void)
{
	if (jv_parse(report, strlen(report), "report", &model)) {
		fprintf(stderr, "sample report: %s\n", az_error_msg());
		return 1;
	}
	RUN(contract_keys);
	RUN(errors);
	RUN(random_budgets_never_crash);
	jv_free(&model);
	return TEST_EXIT();
}
