/* Unit tests for servers/data/dynamo_json.c: plain JSON <-> AttributeValues (every type,
 * numbers that keep their precision, depth and size bounds, errors naming the attribute),
 * cursors (round trip and every refusal), DescribeTable key names, GetItem / Query results
 * under the result cap, Retrieve answers (bounded text, cut pages). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../servers/data/dynamo_json.h"

#include "check.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v) {
		printf("FAIL test JSON does not parse: %s: %s\n", text, e.text);
		failures++;
	}
	return v;
}

/* Whether `v` equals the JSON in `want` (types included: 100 is not 100.0). Consumes v. */
static bool same(json_t *v, const char *want)
{
	json_t *w = J(want);
	bool eq = v && w && json_equal(v, w);
	if (!eq) {
		char *got = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
		printf("     got  %s\n     want %s\n", got ? got : "(null)", want);
		free(got);
	}
	json_decref(v);
	json_decref(w);
	return eq;
}

static size_t dumped(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

static json_t *to_av(const char *plain, char *err, size_t errlen)
{
	json_t *p = J(plain);
	json_t *av = dynamo_av_from_plain(p, err, errlen);
	json_decref(p);
	return av;
}

static json_t *to_plain(const char *av, char *err, size_t errlen)
{
	json_t *a = J(av);
	json_t *p = dynamo_av_to_plain(a, err, errlen);
	json_decref(a);
	return p;
}

static void test_plain_to_av(void)
{
	char err[256];
	CHECK(same(to_av("\"alice\"", err, sizeof err), "{\"S\":\"alice\"}"), "string -> S");
	CHECK(same(to_av("\"\"", err, sizeof err), "{\"S\":\"\"}"), "empty string -> S");
	CHECK(same(to_av("12", err, sizeof err), "{\"N\":\"12\"}"), "integer -> N");
	CHECK(same(to_av("-9223372036854775807", err, sizeof err), "{\"N\":\"-9223372036854775807\"}"),
	      "large integer -> N, exact");
	CHECK(same(to_av("10.5", err, sizeof err), "{\"N\":\"10.5\"}"), "real -> N");
	CHECK(same(to_av("0.1", err, sizeof err), "{\"N\":\"0.1\"}"), "0.1 -> \"0.1\" (shortest text)");
	CHECK(same(to_av("0.30000000000000004", err, sizeof err), "{\"N\":\"0.30000000000000004\"}"),
	      "a 17-digit double keeps all its digits");
	CHECK(same(to_av("1e20", err, sizeof err), "{\"N\":\"1e+20\"}"), "1e20 -> N 1e+20");
	CHECK(same(to_av("true", err, sizeof err), "{\"BOOL\":true}"), "true -> BOOL");
	CHECK(same(to_av("false", err, sizeof err), "{\"BOOL\":false}"), "false -> BOOL");
	CHECK(same(to_av("null", err, sizeof err), "{\"NULL\":true}"), "null -> NULL");
	CHECK(same(to_av("[1,\"a\",[true]]", err, sizeof err),
	           "{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"},{\"L\":[{\"BOOL\":true}]}]}"), "array -> L, nested");
	CHECK(same(to_av("{\"a\":{\"b\":null}}", err, sizeof err),
	           "{\"M\":{\"a\":{\"M\":{\"b\":{\"NULL\":true}}}}}"), "object -> M, nested");
	CHECK(same(to_av("{\"$binary\":\"AAEC\"}", err, sizeof err), "{\"B\":\"AAEC\"}"), "$binary -> B");
	CHECK(same(to_av("{\"$binary\":\"AAEC\",\"x\":1}", err, sizeof err),
	           "{\"M\":{\"$binary\":{\"S\":\"AAEC\"},\"x\":{\"N\":\"1\"}}}"),
	      "an object with $binary and more members is a map");
	json_t *bad = to_av("{\"$binary\":\"AAE\"}", err, sizeof err);
	CHECK(!bad && strstr(err, "base64"), "$binary with bad base64 refused: %s", err);
	bad = to_av("{\"a\":{\"$binary\":12}}", err, sizeof err);
	CHECK(!bad && strstr(err, "attribute 'a'"), "$binary not a string refused, path named: %s", err);
	json_decref(bad);
}

static void test_av_to_plain(void)
{
	char err[256];
	CHECK(same(to_plain("{\"S\":\"x\"}", err, sizeof err), "\"x\""), "S -> string");
	CHECK(same(to_plain("{\"N\":\"12\"}", err, sizeof err), "12"), "N integer -> integer");
	CHECK(same(to_plain("{\"N\":\"-0\"}", err, sizeof err), "0"), "N -0 -> 0");
	CHECK(same(to_plain("{\"N\":\"10.5\"}", err, sizeof err), "10.5"), "N 10.5 -> real");
	CHECK(same(to_plain("{\"N\":\"1E+2\"}", err, sizeof err), "100.0"), "N 1E+2 -> real 100.0");
	CHECK(same(to_plain("{\"N\":\"9007199254740991\"}", err, sizeof err), "9007199254740991"),
	      "N 2^53-1 -> integer");
	CHECK(same(to_plain("{\"N\":\"9007199254740993\"}", err, sizeof err), "\"9007199254740993\""),
	      "N 2^53+1 -> exact string (a double would lose it)");
	CHECK(same(to_plain("{\"N\":\"-99999999999999999999999999\"}", err, sizeof err),
	           "\"-99999999999999999999999999\""), "N past int64 -> exact string");
	CHECK(same(to_plain("{\"N\":\"123456789012345.6\"}", err, sizeof err), "\"123456789012345.6\""),
	      "N with 16 significant digits -> exact string");
	CHECK(same(to_plain("{\"N\":\"0.000123456789012345\"}", err, sizeof err), "0.000123456789012345"),
	      "N with 15 significant digits after zeros -> real");
	CHECK(same(to_plain("{\"N\":\"1E-400\"}", err, sizeof err), "\"1E-400\""),
	      "N below a double's range -> exact string");
	CHECK(same(to_plain("{\"B\":\"AAEC\"}", err, sizeof err), "{\"$binary\":\"AAEC\"}"), "B -> $binary");
	CHECK(same(to_plain("{\"BOOL\":false}", err, sizeof err), "false"), "BOOL -> boolean");
	CHECK(same(to_plain("{\"NULL\":true}", err, sizeof err), "null"), "NULL -> null");
	CHECK(same(to_plain("{\"SS\":[\"a\",\"b\"]}", err, sizeof err), "[\"a\",\"b\"]"), "SS -> array");
	CHECK(same(to_plain("{\"NS\":[\"1\",\"2.5\"]}", err, sizeof err), "[1,2.5]"), "NS -> array of numbers");
	CHECK(same(to_plain("{\"BS\":[\"AA==\"]}", err, sizeof err), "[{\"$binary\":\"AA==\"}]"),
	      "BS -> array of $binary");
	CHECK(same(to_plain("{\"L\":[{\"M\":{\"k\":{\"S\":\"v\"}}}]}", err, sizeof err), "[{\"k\":\"v\"}]"),
	      "L of M -> array of object");

	static const char *const invalid[] = {
		"{\"S\":1}", "{\"S\":\"a\",\"N\":\"1\"}", "{}", "{\"X\":\"1\"}", "{\"N\":\"abc\"}",
		"{\"N\":\"1e\"}", "{\"N\":\"--1\"}", "{\"N\":\"\"}", "{\"NULL\":false}", "{\"B\":\"!!!!\"}",
		"{\"BOOL\":\"true\"}", "{\"L\":{}}", "{\"M\":[]}", "{\"SS\":[1]}", "{\"NS\":[\"x\"]}",
		"{\"BS\":\"AA==\"}", "\"S\"", "[]",
		"{\"N\":\"1234567890123456789012345678901234567890\"}",
	};
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		err[0] = '\0';
		json_t *p = to_plain(invalid[i], err, sizeof err);
		CHECK(!p && err[0], "invalid AttributeValue %s refused: %s", invalid[i], err);
		json_decref(p);
	}
	json_t *p = to_plain("{\"M\":{\"a\":{\"L\":[{\"S\":\"x\"},{\"N\":\"y\"}]}}}", err, sizeof err);
	CHECK(!p && strstr(err, "attribute 'a[1]'"), "the error names the path: %s", err);
	json_decref(p);
}

static void test_round_trip(void)
{
	char err[256];
	const char *doc = "{\"customer\":\"alice\",\"n\":42,\"price\":10.25,\"ok\":true,\"none\":null,"
		"\"tags\":[\"a\",1,false,null,[2.5]],\"nested\":{\"deep\":{\"x\":[{\"y\":\"z\"}]}},"
		"\"bin\":{\"$binary\":\"AAECAw==\"},\"utf8\":\"caf\\u00e9 \\u2603\",\"empty\":{}}";
	json_t *plain = J(doc);
	size_t size = 0;
	json_t *item = dynamo_item_from_plain(plain, &size, err, sizeof err);
	CHECK(item != NULL && size > 40 && size < 200, "item converts (size %zu)", size);
	json_t *back = dynamo_item_to_plain(item, err, sizeof err);
	CHECK(back && json_equal(back, plain), "item -> AttributeValues -> plain is the same document");
	json_decref(back);
	json_decref(item);
	json_decref(plain);
	json_t *notobj = J("[1]");
	item = dynamo_item_from_plain(notobj, NULL, err, sizeof err);
	CHECK(!item, "an item must be an object: %s", err);
	json_decref(notobj);
}

static json_t *nested(const char *open_wrap, int levels, json_t *leaf)
{
	json_t *v = leaf;
	for (int i = 0; i < levels; i++) {
		if (open_wrap[0] == 'L') {
			json_t *a = json_array();
			json_array_append_new(a, v);
			v = a;
		} else {
			v = json_pack("{s:o}", "k", v);
		}
	}
	return v;
}

static void test_bounds(void)
{
	char err[256];
	json_t *ok = nested("L", DYNAMO_MAX_DEPTH, json_integer(1));
	json_t *av = dynamo_av_from_plain(ok, err, sizeof err);
	CHECK(av != NULL, "%d nested lists convert", DYNAMO_MAX_DEPTH);
	json_t *back = av ? dynamo_av_to_plain(av, err, sizeof err) : NULL;
	CHECK(back && json_equal(back, ok), "...and come back");
	json_decref(back);
	json_decref(av);
	json_decref(ok);
	json_t *deep = nested("L", DYNAMO_MAX_DEPTH + 1, json_integer(1));
	av = dynamo_av_from_plain(deep, err, sizeof err);
	CHECK(!av && strstr(err, "deeper"), "%d nested lists refused: %s", DYNAMO_MAX_DEPTH + 1, err);
	json_decref(deep);
	deep = nested("M", DYNAMO_MAX_DEPTH + 1, json_integer(1));
	av = dynamo_av_from_plain(deep, err, sizeof err);
	CHECK(!av && strstr(err, "deeper") && strstr(err, "k.k.k"), "%d nested maps refused, path shown: %s",
	      DYNAMO_MAX_DEPTH + 1, err);
	json_decref(deep);
	/* A long UTF-8 attribute name in the path is cut on a character boundary. */
	char longname[301] = "x";
	for (int i = 0; i < 100; i++)
		strcat(longname, "\xc3\xa9");
	strcat(longname, "y");
	deep = json_pack("{s:o}", longname, nested("M", DYNAMO_MAX_DEPTH + 1, json_integer(1)));
	av = dynamo_item_from_plain(deep, NULL, err, sizeof err);
	json_t *valid = json_string(err);
	CHECK(!av && valid && strstr(err, "..."), "a long UTF-8 path is cut whole characters, valid UTF-8: %s", err);
	json_decref(valid);
	json_decref(deep);
	/* The same depth coming from DynamoDB. */
	json_t *avdeep = json_pack("{s:s}", "S", "x");
	for (int i = 0; i < DYNAMO_MAX_DEPTH + 1; i++)
		avdeep = json_pack("{s:[o]}", "L", avdeep);
	json_t *p = dynamo_av_to_plain(avdeep, err, sizeof err);
	CHECK(!p && strstr(err, "deeper"), "an AttributeValue nested %d deep refused: %s", DYNAMO_MAX_DEPTH + 1, err);
	json_decref(avdeep);

	/* Item size: DynamoDB counts names and values. */
	char *big = malloc(DYNAMO_ITEM_MAX + 1);
	memset(big, 'x', DYNAMO_ITEM_MAX);
	big[DYNAMO_ITEM_MAX - 100] = '\0';
	json_t *item = json_pack("{s:s}", "a", big);
	size_t size = 0;
	av = dynamo_item_from_plain(item, &size, err, sizeof err);
	CHECK(av && size == DYNAMO_ITEM_MAX - 100 + 2, "an item just under 400 KB converts (size %zu)", size);
	json_decref(av);
	json_decref(item);
	big[DYNAMO_ITEM_MAX - 100] = 'x';
	big[DYNAMO_ITEM_MAX] = '\0';
	item = json_pack("{s:s}", "a", big);
	av = dynamo_item_from_plain(item, &size, err, sizeof err);
	CHECK(!av && strstr(err, "400") && strstr(err, "'a'"), "an item over 400 KB refused: %s", err);
	json_decref(item);
	/* Many small attributes add up too. */
	item = json_object();
	big[1000] = '\0';
	for (int i = 0; i < 500; i++) {
		char name[16];
		snprintf(name, sizeof name, "a%d", i);
		json_object_set_new(item, name, json_string(big));
	}
	av = dynamo_item_from_plain(item, &size, err, sizeof err);
	CHECK(!av && strstr(err, "400"), "500 attributes of 1000 bytes refused: %s", err);
	json_decref(item);
	free(big);
}

static void test_numbers(void)
{
	static const char *const good[] = { "0", "-1", "+1", "1.5", ".5", "5.", "1e10", "1E-130",
		"-0.000000000000000000000000000000000000000000001", "12345678901234567890123456789012345678" };
	static const char *const bad[] = { "", "-", ".", "e5", "1e", "1e+", "1..2", "0x10", "1 ", " 1",
		"NaN", "Infinity", "1,5", "123456789012345678901234567890123456789" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(dynamo_number_valid(good[i]), "number '%s' valid", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!dynamo_number_valid(bad[i]), "number '%s' invalid", bad[i]);
}

static void test_cursor(void)
{
	char err[256];
	json_t *key = J("{\"customer\":{\"S\":\"alice\"},\"order_id\":{\"S\":\"o-003\"}}");
	char *c = dynamo_cursor_encode("orders", NULL, key);
	CHECK(c && strlen(c) > 10, "cursor encodes: %s", c ? c : "(null)");
	json_t *back = c ? dynamo_cursor_decode(c, "orders", NULL, err, sizeof err) : NULL;
	CHECK(back && json_equal(back, key), "cursor decodes to the same key");
	json_decref(back);
	back = c ? dynamo_cursor_decode(c, "other-table", NULL, err, sizeof err) : NULL;
	CHECK(!back && strstr(err, "'orders'"), "cursor for another table refused: %s", err);
	back = c ? dynamo_cursor_decode(c, "orders", "by-status", err, sizeof err) : NULL;
	CHECK(!back && strstr(err, "not for this query"), "cursor for another index refused: %s", err);
	if (c) {
		c[3] = c[3] == 'A' ? 'B' : 'A';
		back = dynamo_cursor_decode(c, "orders", NULL, err, sizeof err);
		CHECK(!back, "a tampered cursor is refused: %s", err);
		json_decref(back);
	}
	free(c);
	c = dynamo_cursor_encode("orders", "by-status", key);
	back = c ? dynamo_cursor_decode(c, "orders", "by-status", err, sizeof err) : NULL;
	CHECK(back && json_equal(back, key), "cursor with an index round-trips");
	json_decref(back);
	back = c ? dynamo_cursor_decode(c, "orders", NULL, err, sizeof err) : NULL;
	CHECK(!back, "...and is refused without the index: %s", err);
	free(c);
	json_decref(key);

	/* Hand-made cursors: shape checks. */
	static const char *const docs[] = {
		"[]", "{\"t\":\"orders\"}", "{\"t\":\"orders\",\"k\":{}}",
		"{\"t\":\"orders\",\"k\":{\"a\":{\"M\":{}}}}",
		"{\"t\":\"orders\",\"k\":{\"a\":{\"S\":\"x\"}},\"x\":1}",
		"{\"t\":\"orders\",\"k\":{\"a\":{\"S\":\"x\"},\"b\":{\"S\":\"x\"},\"c\":{\"S\":\"x\"},\"d\":{\"S\":\"x\"},\"e\":{\"S\":\"x\"}}}",
		"{\"t\":\"orders\",\"k\":{\"a\":{\"N\":\"abc\"}}}",
		"{\"t\":\"orders\",\"t\":\"orders\",\"k\":{\"a\":{\"S\":\"x\"}}}",
		"{\"t\":7,\"k\":{\"a\":{\"S\":\"x\"}}}",
		"not json",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		unsigned char b64[1024];
		size_t olen = 0;
		/* Encode by hand: the test must not trust the encoder it checks. */
		static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const unsigned char *s = (const unsigned char *)docs[i];
		size_t n = strlen(docs[i]);
		for (size_t j = 0; j < n; j += 3) {
			unsigned v = (unsigned)s[j] << 16 | (j + 1 < n ? (unsigned)s[j + 1] << 8 : 0) |
				(j + 2 < n ? s[j + 2] : 0);
			b64[olen++] = (unsigned char)tbl[v >> 18 & 63];
			b64[olen++] = (unsigned char)tbl[v >> 12 & 63];
			b64[olen++] = j + 1 < n ? (unsigned char)tbl[v >> 6 & 63] : '=';
			b64[olen++] = j + 2 < n ? (unsigned char)tbl[v & 63] : '=';
		}
		b64[olen] = '\0';
		err[0] = '\0';
		back = dynamo_cursor_decode((char *)b64, "orders", NULL, err, sizeof err);
		CHECK(!back && strstr(err, "cursor"), "cursor of %s refused: %s", docs[i], err);
		json_decref(back);
	}
	back = dynamo_cursor_decode("e30=", "orders", NULL, err, sizeof err); /* {} */
	CHECK(!back, "cursor {} refused");
	back = dynamo_cursor_decode("abc", "orders", NULL, err, sizeof err);
	CHECK(!back, "cursor that is not base64 refused");
	back = dynamo_cursor_decode("", "orders", NULL, err, sizeof err);
	CHECK(!back, "empty cursor refused");
	char *huge = malloc(DYNAMO_CURSOR_MAX + 5);
	memset(huge, 'A', DYNAMO_CURSOR_MAX + 4);
	huge[DYNAMO_CURSOR_MAX + 4] = '\0';
	back = dynamo_cursor_decode(huge, "orders", NULL, err, sizeof err);
	CHECK(!back, "cursor over %d characters refused", DYNAMO_CURSOR_MAX);
	free(huge);
}

static void test_key_names(void)
{
	char err[256];
	const char *desc = "{\"Table\":{\"TableName\":\"orders\",\"KeySchema\":[{\"AttributeName\":\"customer\","
		"\"KeyType\":\"HASH\"},{\"AttributeName\":\"order_id\",\"KeyType\":\"RANGE\"}],"
		"\"GlobalSecondaryIndexes\":[{\"IndexName\":\"by-status\",\"KeySchema\":[{\"AttributeName\":"
		"\"status\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"order_id\",\"KeyType\":\"RANGE\"}]}]}}";
	struct dynamo_key_names names;
	int rc = dynamo_key_names_parse(desc, strlen(desc), NULL, &names, err, sizeof err);
	CHECK(rc == 0 && names.n == 2 && strcmp(names.name[0], "customer") == 0 &&
	      strcmp(names.name[1], "order_id") == 0, "DescribeTable: the table's key names");
	rc = dynamo_key_names_parse(desc, strlen(desc), "by-status", &names, err, sizeof err);
	CHECK(rc == 0 && names.n == 3 && strcmp(names.name[2], "status") == 0,
	      "DescribeTable: table and index key names, order_id once");
	rc = dynamo_key_names_parse(desc, strlen(desc), "nope", &names, err, sizeof err);
	CHECK(rc != 0 && strstr(err, "'nope'"), "unknown index: %s", err);
	rc = dynamo_key_names_parse("{\"Table\":{}}", 12, NULL, &names, err, sizeof err);
	CHECK(rc != 0, "no KeySchema: %s", err);
	rc = dynamo_key_names_parse("garbage", 7, NULL, &names, err, sizeof err);
	CHECK(rc != 0, "not JSON: %s", err);

	json_t *item = J("{\"customer\":{\"S\":\"bob\"},\"order_id\":{\"S\":\"o-7\"},\"total\":{\"N\":\"3\"}}");
	dynamo_key_names_parse(desc, strlen(desc), NULL, &names, err, sizeof err);
	CHECK(same(dynamo_item_key(item, &names, err, sizeof err),
	           "{\"customer\":{\"S\":\"bob\"},\"order_id\":{\"S\":\"o-7\"}}"), "an item's key");
	json_object_del(item, "order_id");
	json_t *k = dynamo_item_key(item, &names, err, sizeof err);
	CHECK(!k && strstr(err, "order_id"), "an item without its key attribute: %s", err);
	json_decref(item);
}

static void test_get_result(void)
{
	char err[256];
	const char *found = "{\"Item\":{\"customer\":{\"S\":\"alice\"},\"total\":{\"N\":\"10.5\"}}}";
	CHECK(same(dynamo_get_result(found, strlen(found), "orders", 50000, err, sizeof err),
	           "{\"item\":{\"customer\":\"alice\",\"total\":10.5}}"), "GetItem: the item as plain JSON");
	json_t *r = dynamo_get_result("{}", 2, "orders", 50000, err, sizeof err);
	CHECK(r && json_is_null(json_object_get(r, "item")) &&
	      strstr(json_string_value(json_object_get(r, "notice")), "no item"), "GetItem: no item is null, said");
	json_decref(r);
	r = dynamo_get_result("[]", 2, "orders", 50000, err, sizeof err);
	CHECK(!r, "GetItem: a non-object answer is an error: %s", err);
	r = dynamo_get_result("{\"Item\":{\"a\":{\"Q\":1}}}", 22, "orders", 50000, err, sizeof err);
	CHECK(!r && strstr(err, "'a'"), "GetItem: a bad AttributeValue is an error: %s", err);

	/* An item over the cap keeps what fits; the largest attributes go first. */
	json_t *item = json_object();
	char *text = malloc(30001);
	memset(text, 'y', 30000);
	text[30000] = '\0';
	json_object_set_new(item, "id", json_pack("{s:s}", "S", "k1"));
	json_object_set_new(item, "big1", json_pack("{s:s}", "S", text));
	json_object_set_new(item, "big2", json_pack("{s:s}", "S", text));
	json_object_set_new(item, "small", json_pack("{s:s}", "N", "5"));
	json_t *root = json_pack("{s:o}", "Item", item);
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	r = dynamo_get_result(body, strlen(body), "orders", 50000, err, sizeof err);
	json_t *got = json_object_get(r, "item");
	CHECK(r && dumped(r) <= 50000, "GetItem over the cap: result within the cap (%zu)", r ? dumped(r) : 0);
	CHECK(json_object_get(got, "id") && json_object_get(got, "small") && json_object_size(got) == 3,
	      "...keeps the small attributes and one big one");
	CHECK(json_array_size(json_object_get(r, "omitted_attributes")) == 1 &&
	      json_integer_value(json_object_get(r, "omitted_count")) == 1 &&
	      strstr(json_string_value(json_object_get(r, "notice")), "truncated"),
	      "...lists the omitted attribute and says truncated");
	json_decref(r);
	r = dynamo_get_result(body, strlen(body), "orders", 1024, err, sizeof err);
	CHECK(r && dumped(r) <= 1024 && json_object_size(json_object_get(r, "item")) == 2 &&
	      json_integer_value(json_object_get(r, "omitted_count")) == 2, "GetItem with a 1 KB cap: both big ones omitted");
	json_decref(r);
	free(body);
	free(text);
}

/* A Query answer of n orders items of `pad` bytes each, with LastEvaluatedKey when `more`. */
static char *query_body(int n, size_t pad, bool more)
{
	json_t *items = json_array();
	char *filler = malloc(pad + 1);
	memset(filler, 'p', pad);
	filler[pad] = '\0';
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof id, "o-%03d", i);
		json_array_append_new(items, json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "customer", "S", "alice",
		                                       "order_id", "S", id, "note", "S", filler));
	}
	json_t *root = json_pack("{s:o, s:i}", "Items", items, "Count", n);
	if (more) {
		char id[32];
		snprintf(id, sizeof id, "o-%03d", n - 1);
		json_object_set_new(root, "LastEvaluatedKey", json_pack("{s:{s:s}, s:{s:s}}", "customer", "S",
		                                                        "alice", "order_id", "S", id));
	}
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	free(filler);
	return body;
}

static void test_query_result(void)
{
	char err[256];
	struct dynamo_page page;
	bool need = false;
	char *body = query_body(3, 10, true);
	CHECK(dynamo_page_parse(body, strlen(body), &page, err, sizeof err) == 0, "Query page parses");
	json_t *r = dynamo_query_result(&page, "orders", NULL, NULL, 50000, &need, err, sizeof err);
	CHECK(r && json_array_size(json_object_get(r, "items")) == 3 &&
	      json_integer_value(json_object_get(r, "count")) == 3 && !json_object_get(r, "notice"),
	      "a small page goes out whole");
	const char *cursor = json_string_value(json_object_get(r, "next_cursor"));
	json_t *key = cursor ? dynamo_cursor_decode(cursor, "orders", NULL, err, sizeof err) : NULL;
	CHECK(key && json_equal(key, page.last_key), "next_cursor holds LastEvaluatedKey");
	json_decref(key);
	json_decref(r);
	dynamo_page_free(&page);
	free(body);

	body = query_body(2, 10, false);
	dynamo_page_parse(body, strlen(body), &page, err, sizeof err);
	r = dynamo_query_result(&page, "orders", NULL, NULL, 50000, &need, err, sizeof err);
	CHECK(r && json_is_null(json_object_get(r, "next_cursor")), "the last page has next_cursor null");
	json_decref(r);
	dynamo_page_free(&page);
	free(body);

	/* 40 items of ~2 KB without LastEvaluatedKey: over the cap, key names needed. */
	body = query_body(40, 2000, false);
	dynamo_page_parse(body, strlen(body), &page, err, sizeof err);
	r = dynamo_query_result(&page, "orders", NULL, NULL, 50000, &need, err, sizeof err);
	CHECK(!r && need, "a cut page without LastEvaluatedKey asks for key names");
	struct dynamo_key_names names = { 2, { "customer", "order_id" } };
	r = dynamo_query_result(&page, "orders", NULL, &names, 50000, &need, err, sizeof err);
	size_t kept = json_array_size(json_object_get(r, "items"));
	CHECK(r && !need && kept > 10 && kept < 40 && dumped(r) <= 50000 &&
	      json_integer_value(json_object_get(r, "count")) == (json_int_t)kept,
	      "with names: %zu items kept within the cap (%zu bytes)", kept, r ? dumped(r) : 0);
	CHECK(r && strstr(json_string_value(json_object_get(r, "notice")), "truncated"), "...with a notice");
	cursor = json_string_value(json_object_get(r, "next_cursor"));
	key = cursor ? dynamo_cursor_decode(cursor, "orders", NULL, err, sizeof err) : NULL;
	char want[128];
	snprintf(want, sizeof want, "{\"customer\":{\"S\":\"alice\"},\"order_id\":{\"S\":\"o-%03zu\"}}", kept - 1);
	CHECK(same(key, want), "...and next_cursor starts after the last kept item");
	json_decref(r);
	dynamo_page_free(&page);
	free(body);

	/* With LastEvaluatedKey the names come from it. */
	body = query_body(40, 2000, true);
	dynamo_page_parse(body, strlen(body), &page, err, sizeof err);
	r = dynamo_query_result(&page, "orders", NULL, NULL, 50000, &need, err, sizeof err);
	CHECK(r && !need && json_array_size(json_object_get(r, "items")) == kept && dumped(r) <= 50000,
	      "a cut page takes key names from LastEvaluatedKey");
	json_decref(r);
	dynamo_page_free(&page);
	free(body);

	/* One item alone over the cap: kept without its big attribute. */
	body = query_body(3, 60000, true);
	dynamo_page_parse(body, strlen(body), &page, err, sizeof err);
	r = dynamo_query_result(&page, "orders", NULL, NULL, 50000, &need, err, sizeof err);
	json_t *first = json_array_get(json_object_get(r, "items"), 0);
	CHECK(r && json_array_size(json_object_get(r, "items")) == 1 && !json_object_get(first, "note") &&
	      json_object_get(first, "order_id") && dumped(r) <= 50000 &&
	      json_integer_value(json_object_get(r, "omitted_count")) == 1,
	      "a first item over the cap is kept with 'note' omitted");
	cursor = json_string_value(json_object_get(r, "next_cursor"));
	key = cursor ? dynamo_cursor_decode(cursor, "orders", NULL, err, sizeof err) : NULL;
	CHECK(same(key, "{\"customer\":{\"S\":\"alice\"},\"order_id\":{\"S\":\"o-000\"}}"),
	      "...and next_cursor goes on after it");
	json_decref(r);
	dynamo_page_free(&page);
	free(body);

	static const char *const bad[] = { "{}", "{\"Items\":{}}", "{\"Items\":[],\"LastEvaluatedKey\":[]}",
		"{\"Items\":[],\"LastEvaluatedKey\":{\"a\":{\"M\":{}}}}", "nope" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(dynamo_page_parse(bad[i], strlen(bad[i]), &page, err, sizeof err) != 0,
		      "bad Query answer %s refused: %s", bad[i], err);
	const char *bad_item = "{\"Items\":[{\"a\":{\"S\":1}}]}";
	dynamo_page_parse(bad_item, strlen(bad_item), &page, err, sizeof err);
	r = dynamo_query_result(&page, "orders", NULL, NULL, 50000, &need, err, sizeof err);
	CHECK(!r && !need && strstr(err, "'a'"), "a bad item in a page is an error: %s", err);
	dynamo_page_free(&page);
}

static const char *retrieve_answer =
	"{\"retrievalResults\":["
	"{\"content\":{\"text\":\"Refund policy: customers may return any item within 30 days.\",\"type\":\"TEXT\"},"
	"\"location\":{\"type\":\"S3\",\"s3Location\":{\"uri\":\"s3://mcpgate-kb/docs/refund-policy.md\"}},"
	"\"score\":0.6124,\"metadata\":{\"x-amz-bedrock-kb-chunk-id\":\"chunk-1\"}},"
	"{\"content\":{\"text\":\"Shipping times.\"},\"location\":{\"type\":\"WEB\",\"webLocation\":"
	"{\"url\":\"https://example.com/shipping\"}},\"score\":0.2},"
	"{\"content\":{\"type\":\"ROW\",\"row\":[{\"columnName\":\"a\",\"columnValue\":\"1\",\"type\":\"STRING\"}]},"
	"\"score\":1}"
	"],\"nextToken\":\"a2I6Mw==\"}";

static void test_kb(void)
{
	char err[256];
	json_t *r = kb_retrieve_result(retrieve_answer, strlen(retrieve_answer), 2000, 50000, err, sizeof err);
	json_t *res = json_object_get(r, "results");
	json_t *r0 = json_array_get(res, 0), *r1 = json_array_get(res, 1), *r2 = json_array_get(res, 2);
	CHECK(r && json_array_size(res) == 3 && json_integer_value(json_object_get(r, "count")) == 3,
	      "Retrieve: three results");
	CHECK(r0 && strcmp(json_string_value(json_object_get(r0, "source")),
	                   "s3://mcpgate-kb/docs/refund-policy.md") == 0 &&
	      json_real_value(json_object_get(r0, "score")) == 0.6124 &&
	      strcmp(json_string_value(json_object_get(r0, "source_type")), "S3") == 0 &&
	      json_object_get(json_object_get(r0, "metadata"), "x-amz-bedrock-kb-chunk-id"),
	      "...the first with its S3 URI, score, type and metadata");
	CHECK(r1 && strcmp(json_string_value(json_object_get(r1, "source")), "https://example.com/shipping") == 0,
	      "...a web result's URL");
	CHECK(r2 && strcmp(json_string_value(json_object_get(r2, "text")), "a: 1\n") == 0 &&
	      json_is_null(json_object_get(r2, "source")) && json_real_value(json_object_get(r2, "score")) == 1.0,
	      "...a row result as 'column: value' text, no source");
	CHECK(r && strcmp(json_string_value(json_object_get(r, "next_cursor")), "a2I6Mw==") == 0,
	      "...next_cursor is the nextToken");
	json_decref(r);

	/* Text bounded per result, cut on a UTF-8 boundary: "é" is two bytes. */
	const char *utf = "{\"retrievalResults\":[{\"content\":{\"text\":\"\\u00e9\\u00e9\\u00e9\"},\"score\":0.5}]}";
	r = kb_retrieve_result(utf, strlen(utf), 64, 50000, err, sizeof err);
	CHECK(r && !json_object_get(json_array_get(json_object_get(r, "results"), 0), "truncated"),
	      "a short text is not marked truncated");
	json_decref(r);
	char *long_text = malloc(5000);
	strcpy(long_text, "{\"retrievalResults\":[{\"content\":{\"text\":\"");
	for (int i = 0; i < 100; i++)
		strcat(long_text, "\\u00e9");
	strcat(long_text, "\"}}]}");
	r = kb_retrieve_result(long_text, strlen(long_text), 65, 50000, err, sizeof err);
	json_t *one = json_array_get(json_object_get(r, "results"), 0);
	CHECK(one && json_string_length(json_object_get(one, "text")) == 64 &&
	      json_is_true(json_object_get(one, "truncated")) &&
	      json_integer_value(json_object_get(one, "text_bytes")) == 200,
	      "a 200-byte text with max_text 65 keeps 64 bytes (whole characters), marked");
	CHECK(one && json_is_null(json_object_get(one, "score")) && json_is_null(json_object_get(r, "next_cursor")),
	      "...no score is null, no nextToken is a null cursor");
	json_decref(r);
	free(long_text);

	/* A page over the cap drops trailing results and says how to read them. */
	json_t *list = json_array();
	char *text = malloc(2001);
	memset(text, 't', 2000);
	text[2000] = '\0';
	for (int i = 0; i < 40; i++)
		json_array_append_new(list, json_pack("{s:{s:s}, s:f}", "content", "text", text, "score", 0.5));
	json_t *root = json_pack("{s:o, s:s}", "retrievalResults", list, "nextToken", "a2I6NDA=");
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	r = kb_retrieve_result(body, strlen(body), 2000, 50000, err, sizeof err);
	size_t kept = json_array_size(json_object_get(r, "results"));
	CHECK(r && kept > 10 && kept < 40 && dumped(r) <= 50000 &&
	      strstr(json_string_value(json_object_get(r, "notice")), "top_k") &&
	      json_integer_value(json_object_get(r, "count")) == (json_int_t)kept,
	      "40 results of 2 KB: %zu kept within the cap, notice names top_k", kept);
	json_decref(r);
	r = kb_retrieve_result(body, strlen(body), 2000, 1024, err, sizeof err);
	one = json_array_get(json_object_get(r, "results"), 0);
	CHECK(r && json_array_size(json_object_get(r, "results")) == 1 && dumped(r) <= 1024 &&
	      json_is_true(json_object_get(one, "truncated")) && json_string_length(json_object_get(one, "text")) > 0,
	      "a 1 KB cap keeps one result with its text cut (%zu bytes)", r ? dumped(r) : 0);
	json_decref(r);
	free(body);
	free(text);

	static const char *const bad[] = { "[]", "{}", "{\"retrievalResults\":{}}",
		"{\"retrievalResults\":[1]}", "{\"retrievalResults\":[],\"nextToken\":\"a b\"}",
		"{\"retrievalResults\":[],\"nextToken\":7}", "truncated {" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = kb_retrieve_result(bad[i], strlen(bad[i]), 2000, 50000, err, sizeof err);
		CHECK(!r && err[0], "bad Retrieve answer %s refused: %s", bad[i], err);
		json_decref(r);
	}

	CHECK(same(kb_request_body("refunds?", 3, NULL),
	           "{\"retrievalQuery\":{\"text\":\"refunds?\"},\"retrievalConfiguration\":"
	           "{\"vectorSearchConfiguration\":{\"numberOfResults\":3}}}"), "Retrieve request body");
	CHECK(same(kb_request_body("q", 1, "tok"),
	           "{\"retrievalQuery\":{\"text\":\"q\"},\"retrievalConfiguration\":"
	           "{\"vectorSearchConfiguration\":{\"numberOfResults\":1}},\"nextToken\":\"tok\"}"),
	      "Retrieve request body with nextToken");
	CHECK(kb_id_valid("KB12345678") && !kb_id_valid("") && !kb_id_valid("KB/../x") &&
	      !kb_id_valid("KB 1"), "knowledge base ids");
	CHECK(kb_token_valid("a2I6Mw==") && !kb_token_valid("") && !kb_token_valid("a b") &&
	      !kb_token_valid("caf\xc3\xa9"), "next tokens");
}

int main(void)
{
	test_plain_to_av();
	test_av_to_plain();
	test_round_trip();
	test_bounds();
	test_numbers();
	test_cursor();
	test_key_names();
	test_get_result();
	test_query_result();
	test_kb();
	return check_finish();
}
