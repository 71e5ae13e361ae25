/* test_sqlnorm.c - SQL normalization (preload/sqlnorm.c): literals become ?, comments and
 * whitespace go, quoted identifiers and parameters stay, IN-lists fold, nothing of a
 * literal survives a cut, and the literal-keeping mode keeps them. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdlib.h>

#include "harness.h"
#include "sqlnorm.h"

static char out[8192];

static const char *norm(const char *s, bool keep)
{
	size_t n = sqn_normalize(s, strlen(s), out, sizeof(out) - 1, keep);
	out[n] = '\0';
	return out;
}

#define EXPECT_NORM(in, want)                                                                      \
	do {                                                                                       \
		const char *got_ = norm(in, false);                                                \
		h_checks++;                                                                        \
		if (strcmp(got_, want)) {                                                          \
			h_failed++;                                                                \
			fprintf(stderr, "%s:%d: normalize(%s) = [%s], want [%s]\n", __FILE__,       \
				__LINE__, in, got_, want);                                         \
		}                                                                                  \
	} while (0)

TEST(literals)
{
	EXPECT_NORM("SELECT v FROM kv WHERE k = 'abc'", "SELECT v FROM kv WHERE k = ?");
	EXPECT_NORM("SELECT v FROM kv WHERE k = 'it''s'", "SELECT v FROM kv WHERE k = ?");
	EXPECT_NORM("select 1, 2.5, .5, 1e10, 1.5E-3, 0x1F, -7", "select ?, ?, ?, ?, ?, ?, -?");
	EXPECT_NORM("insert into t values(x'00ff', X'AB')", "insert into t values(?, ?)");
	EXPECT_NORM("select t1.c2 from t1 where c3=4", "select t1.c2 from t1 where c3=?");
	EXPECT_NORM("SELECT max(x) FROM t LIMIT 10 OFFSET 20", "SELECT max(x) FROM t LIMIT ? OFFSET ?");
	/* an identifier that ends in x followed by a string is not a blob */
	EXPECT_NORM("select ax'1'", "select ax?");
}

TEST(quoting_and_parameters)
{
	EXPECT_NORM("SELECT \"my col\" FROM [t 1] JOIN `t2` USING(\"a\"\"b\")",
		    "SELECT \"my col\" FROM [t 1] JOIN `t2` USING(\"a\"\"b\")");
	EXPECT_NORM("select * from t where a=?1 and b=:b and c=@c and d=$d and e=?",
		    "select * from t where a=?1 and b=:b and c=@c and d=$d and e=?");
	EXPECT_NORM("select '--not a comment', 'a /* b */ c'", "select ?, ?");
}

TEST(whitespace_and_comments)
{
	EXPECT_NORM("  SELECT\n\t a  ,b\r\n FROM   t ;  ", "SELECT a ,b FROM t");
	EXPECT_NORM("SELECT a -- the secret is 42\nFROM t", "SELECT a FROM t");
	EXPECT_NORM("SELECT /* 'x' */ a FROM t;;", "SELECT a FROM t");
	EXPECT_NORM("SELECT a/*unterminated", "SELECT a");
	EXPECT_NORM("", "");
	EXPECT_NORM(" ; ", "");
}

TEST(in_lists)
{
	EXPECT_NORM("SELECT * FROM t WHERE id IN (1, 2, 3)",
		    "SELECT * FROM t WHERE id IN (? /*, ... */)");
	EXPECT_NORM("SELECT * FROM t WHERE id in(?,?,?,?,?) AND x = 1",
		    "SELECT * FROM t WHERE id in(? /*, ... */) AND x = ?");
	EXPECT_NORM("SELECT * FROM t WHERE id NOT IN ('a','b')",
		    "SELECT * FROM t WHERE id NOT IN (? /*, ... */)");
	/* one element, named parameters, subqueries and expressions are left alone */
	EXPECT_NORM("SELECT * FROM t WHERE id IN (5)", "SELECT * FROM t WHERE id IN (?)");
	EXPECT_NORM("SELECT * FROM t WHERE id IN (:a, :b)", "SELECT * FROM t WHERE id IN (:a, :b)");
	EXPECT_NORM("SELECT * FROM t WHERE id IN (SELECT 1)",
		    "SELECT * FROM t WHERE id IN (SELECT ?)");
	EXPECT_NORM("SELECT * FROM t WHERE id IN (1+2, 3)", "SELECT * FROM t WHERE id IN (?+?, ?)");
	/* VALUES lists are not IN-lists */
	EXPECT_NORM("INSERT INTO t VALUES (1, 2, 3)", "INSERT INTO t VALUES (?, ?, ?)");
	/* lists of different lengths become one statement */
	char a[64];
	strcpy(a, norm("select 1 from t where k in (1,2)", false));
	EXPECT(!strcmp(a, norm("select 1 from t where k in (1,2,3,4,5,6)", false)));
}

TEST(keep_literals)
{
	EXPECT(!strcmp(norm("SELECT v FROM kv WHERE k = 'a  b'  ;", true),
		       "SELECT v FROM kv WHERE k = 'a  b'"));
	EXPECT(!strcmp(norm("select 1,  x'ff' -- c\n", true), "select 1, x'ff'"));
}

/* A statement cut at any length never ends in part of a literal. */
TEST(cut_never_leaks)
{
	const char *s = "SELECT * FROM users WHERE password = 'hunter2-SECRET' AND pin = 987654";
	for (size_t cap = 0; cap < strlen(s) + 4; cap++) {
		char buf[256];
		size_t n = sqn_normalize(s, strlen(s), buf, cap, false);
		EXPECT(n <= cap);
		buf[n] = '\0';
		EXPECT(!strstr(buf, "hunter") && !strstr(buf, "SECRET") && !strstr(buf, "987"));
	}
}

/* Random bytes: bounded output, no crash, no read past the end (ASan build). */
TEST(fuzz)
{
	char in[300], buf[128];
	unsigned seed = 7;
	static const char alphabet[] = "'\"`[]x0.e+-/*?:@$ (),;\nINin\xc3";
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(in));
		for (size_t j = 0; j < len; j++)
			in[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		char *copy = malloc(len ? len : 1);
		memcpy(copy, in, len);
		size_t n = sqn_normalize(copy, len, buf, sizeof(buf), i & 1);
		EXPECT(n <= sizeof(buf));
		free(copy);
	}
}

int main(void)
{
	RUN(literals);
	RUN(quoting_and_parameters);
	RUN(whitespace_and_comments);
	RUN(in_lists);
	RUN(keep_literals);
	RUN(cut_never_leaks);
	RUN(fuzz);
	return TEST_EXIT();
}
