/* test_json_in.c - the strict JSON reader (analyzer/json_in.c): values and exact integers,
 * escapes and surrogates, every malformed input of a corpus refused with a line and column,
 * and random mutations of a real report that must parse or fail cleanly (run under ASan in
 * tools/test.sh's second pass, so an out-of-bounds read fails the test). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "harness.h"
#include "json_in.h"
#include "util.h"

static int parse(const char *s, struct jv_doc *d)
{
	az_error_clear();
	return jv_parse(s, strlen(s), "t.json", d);
}

TEST(values)
{
	struct jv_doc d;
	EXPECT_EQ(parse(" {\"a\": [1, -2, 3.5, 1e3, true, false, null, \"x\"], \"b\": {}} ", &d),
		  0);
	const struct jv *a = jv_get(d.root, "a");
	EXPECT(a && a->type == JV_ARR && a->n == 8);
	EXPECT(a->items[0].is_int && a->items[0].u == 1 && !a->items[0].neg);
	EXPECT(a->items[1].is_int && a->items[1].u == 2 && a->items[1].neg && a->items[1].d == -2);
	EXPECT(!a->items[2].is_int && a->items[2].d == 3.5);
	EXPECT(!a->items[3].is_int && a->items[3].d == 1000);
	EXPECT(a->items[4].type == JV_BOOL && a->items[4].b);
	EXPECT(a->items[5].type == JV_BOOL && !a->items[5].b);
	EXPECT(a->items[6].type == JV_NULL);
	EXPECT(a->items[7].type == JV_STR && !strcmp(a->items[7].s, "x"));
	const struct jv *b = jv_get(d.root, "b");
	EXPECT(b && b->type == JV_OBJ && b->n == 0);
	EXPECT(jv_get(d.root, "c") == NULL);
	jv_free(&d);
	jv_free(&d); /* twice is harmless */
}

TEST(exact_u64)
{
	struct jv_doc d;
	EXPECT_EQ(parse("[18446744073709551615, 18446744073709551616, -9223372036854775808, "
			"-9223372036854775809]",
			&d),
		  0);
	EXPECT(d.root->items[0].is_int && d.root->items[0].u == UINT64_MAX);
	EXPECT(!d.root->items[1].is_int && d.root->items[1].d > 1.8e19);
	EXPECT(d.root->items[2].is_int && d.root->items[2].neg &&
	       d.root->items[2].u == (uint64_t)INT64_MAX + 1);
	EXPECT(!d.root->items[3].is_int && d.root->items[3].neg);
	jv_free(&d);
}

TEST(escapes)
{
	struct jv_doc d;
	EXPECT_EQ(parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\\u0000z\"", &d), 0);
	EXPECT(d.root->type == JV_STR);
	const char want[] = "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80\0z";
	EXPECT_EQ(d.root->n, sizeof(want) - 1);
	EXPECT(!memcmp(d.root->s, want, sizeof(want) - 1));
	jv_free(&d);
	EXPECT_EQ(parse("\xef\xbb\xbf{\"k\": \"\xe2\x82\xac\"}", &d), 0); /* BOM, raw UTF-8 */
	EXPECT(!strcmp(jv_get(d.root, "k")->s, "\xe2\x82\xac"));
	jv_free(&d);
}

TEST(malformed_refused)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"[",
		"]",
		"[1,]",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{a:1}",
		"{\"a\":1 \"b\":2}",
		"[1 2]",
		"01",
		"-",
		"1.",
		".5",
		"1e",
		"1e+",
		"+1",
		"NaN",
		"Infinity",
		"tru",
		"nul",
		"\"abc",
		"\"a\\x\"",
		"\"\\u12\"",
		"\"\\ud800\"",
		"\"\\udc00\"",
		"\"\\ud800\\u0041\"",
		"\"a\x01\"",
		"\"\xff\"",
		"\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"",
		"{\"a\":1,\"a\":2}",
		"{\"\\u0000\":1}",
		"1 2",
		"[1]x",
		"// c\n1",
		"{\"a\":1}/*x*/",
		"'a'",
		"[\"a\"\"b\"]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jv_doc d;
		int rc = parse(bad[i], &d);
		EXPECT(rc == AZ_ECORRUPT);
		EXPECT(d.root == NULL && d.arena == NULL);
		EXPECT(strstr(az_error_msg(), "t.json: line ") != NULL);
		if (rc != AZ_ECORRUPT)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
	struct jv_doc d;
	EXPECT_EQ(parse("{\n  \"a\": 1,\n  \"b\": x\n}", &d), AZ_ECORRUPT);
	EXPECT(strstr(az_error_msg(), "line 3, column 8") != NULL);
}

TEST(duplicates_in_big_objects)
{
	char buf[4096];
	size_t o = 0;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"k%d\": %d", i ? "," : "",
				      i == 39 ? 7 : i, i);
	snprintf(buf + o, sizeof(buf) - o, "}");
	struct jv_doc d;
	EXPECT_EQ(parse(buf, &d), AZ_ECORRUPT);
	EXPECT(strstr(az_error_msg(), "key twice") != NULL);
}

TEST(depth_bounded)
{
	static char deep[2 * JV_MAX_DEPTH + 8];
	struct jv_doc d;
	memset(deep, 0, sizeof(deep));
	for (int i = 0; i < JV_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[2 * JV_MAX_DEPTH - 1 - i] = ']';
	}
	EXPECT_EQ(parse(deep, &d), 0); /* exactly the limit */
	jv_free(&d);
	static char deeper[100000];
	memset(deeper, '[', sizeof(deeper) - 1);
	EXPECT_EQ(parse(deeper, &d), AZ_ECORRUPT);
	EXPECT(strstr(az_error_msg(), "nested too deeply") != NULL);
}

static const char sample[] =
	"{\"schema\": \"intercept-report/1\", \"summary\": {\"pid\": 12, \"command\": \"./a b\","
	" \"complete\": true, \"duration_ns\": 123456789}, \"sql\": [{\"statement\": "
	"\"SELECT v FROM kv WHERE k = ?\", \"executions\": 3, \"p95_ns\": 1200}], \"alloc\": "
	"{\"sites\": [{\"bytes\": 100, \"stack\": [{\"function\": \"f\\u00e9\", \"file\": null, "
	"\"line\": 4, \"address\": \"0x1\"}]}]}, \"x\": [1.5e-3, -0, [], {}, \"\\ud83d\\ude00\"]}";

TEST(mutations_never_crash)
{
	size_t n = sizeof(sample) - 1;
	char *buf = malloc(n + 1);
	uint64_t s = 7;
	int ok = 0, refused = 0;
	struct jv_doc d;
	EXPECT_EQ(parse(sample, &d), 0);
	jv_free(&d);
	for (int round = 0; round < 20000; round++) {
		memcpy(buf, sample, n);
		size_t len = n;
		int edits = 1 + round % 4;
		for (int e = 0; e < edits; e++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			size_t at = (size_t)(s >> 33) % len;
			switch ((s >> 20) % 4) {
			case 0:
				buf[at] = (char)(s >> 40);
				break; /* any byte */
			case 1:
				buf[at] = "{}[],:\"\\0-e.u"[(s >> 40) % 13];
				break; /* syntax */
			case 2:
				len = at;
				break; /* truncate */
			default:
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--; /* delete */
			}
			if (!len)
				break;
		}
		/* exact-size heap copy: ASan catches any read past the end */
		char *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		az_error_clear();
		int rc = jv_parse(exact, len, "m.json", &d);
		if (rc == 0) {
			ok++;
			jv_free(&d);
		} else {
			EXPECT(rc == AZ_ECORRUPT);
			refused++;
		}
		free(exact);
	}
	EXPECT(ok > 0 && refused > 0);
	free(buf);
}

int main(void)
{
	RUN(values);
	RUN(exact_u64);
	RUN(escapes);
	RUN(malformed_refused);
	RUN(duplicates_in_big_objects);
	RUN(depth_bounded);
	RUN(mutations_never_crash);
	return TEST_EXIT();
}
