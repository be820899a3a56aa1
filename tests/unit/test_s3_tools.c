/* Unit tests for the pure parts of servers/data/s3.c: bucket and key rules, Content-Range and
 * InvalidRange sizes, UTF-8 slices of object chunks, strict base64, s3_list cursors (round
 * trip and refusals), request paths and queries, s3_get results (text, blob, cut, empty) and
 * s3_list results under the result cap, and the "s3" settings. */
#include "../../servers/data/s3.c"

#include "check.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (!v) {
		printf("FAIL test JSON does not parse: %s: %s\n", text, e.text);
		failures++;
	}
	return v;
}

static size_t dumped(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_buckets(void)
{
	static const char *const good[] = { "mcpgate-reports", "abc", "a.b-c", "my.bucket.1",
		"123", "a-b" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(s3_bucket_valid(good[i]), "bucket '%s' is valid", good[i]);
	char *b63 = repeat('a', 63), *b64 = repeat('a', 64);
	CHECK(s3_bucket_valid(b63), "a 63-character bucket name is valid");
	CHECK(!s3_bucket_valid(b64), "a 64-character bucket name is not");
	free(b63);
	free(b64);
	static const char *const bad[] = { "", "ab", "Bad_Bucket", "UPPER", "a_b", "-abc", "abc-",
		".abc", "abc.", "a..b", "192.168.1.1", "xn--abc", "sthree-abc", "abc-s3alias",
		"abc--ol-s3", "a b", "a/b", "caf\xc3\xa9" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!s3_bucket_valid(bad[i]), "bucket '%s' is refused", bad[i]);
	CHECK(s3_bucket_valid("1.2.3"), "three numeric parts are not an IP address");
}

static void test_keys(void)
{
	static const char *const good[] = { "README.txt", "notes/hello world.txt",
		"notes/caf\xc3\xa9+plus.txt", ".hidden", "a/.../b", "a//b", "a/", "/lead", "..x",
		"x..", "a/.b/c" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(!s3_key_problem(good[i], strlen(good[i])), "key '%s' is valid", good[i]);
	static const char *const bad[] = { "", ".", "..", "../x", "a/./b", "a/..", "a/../b",
		"x/.", "\xff", "a\xc3", "\xed\xa0\x80" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(s3_key_problem(bad[i], strlen(bad[i])) != NULL, "key '%s' is refused", bad[i]);
	CHECK(s3_key_problem("a\0b", 3) != NULL, "a key with a NUL byte is refused");
	char *k1024 = repeat('k', 1024), *k1025 = repeat('k', 1025);
	CHECK(!s3_key_problem(k1024, 1024), "a 1024-byte key is valid");
	CHECK(s3_key_problem(k1025, 1025) != NULL, "a 1025-byte key is refused");
	free(k1024);
	free(k1025);
	const char *why = s3_key_problem("../not-allowed-bucket/secret.txt", 32);
	CHECK(why && strstr(why, "'..'"), "the refusal of '..' says why: %s", why ? why : "(none)");
}

static void test_content_range(void)
{
	struct s3_range r;
	CHECK(s3_content_range_parse("bytes 0-9/100", &r) == 0 && r.first == 0 && r.last == 9 && r.total == 100,
	      "bytes 0-9/100");
	CHECK(s3_content_range_parse("bytes 6-12/38", &r) == 0 && r.first == 6 && r.last == 12 && r.total == 38,
	      "bytes 6-12/38");
	CHECK(s3_content_range_parse("bytes 5-5/6", &r) == 0 && r.first == 5 && r.last == 5, "the last byte alone");
	CHECK(s3_content_range_parse("bytes 0-9/*", &r) == 0 && r.total == -1, "an unknown total is -1");
	CHECK(s3_content_range_parse("bytes */55", &r) == 0 && r.first == -1 && r.total == 55,
	      "the unsatisfiable form gives the size");
	CHECK(s3_content_range_parse("bytes 0-5497558138879/5497558138880", &r) == 0 &&
	      r.total == 5497558138880LL, "a 5 TiB object");
	static const char *const bad[] = { "", "bytes", "bytes ", "bites 0-9/10", "bytes 0-9",
		"bytes 0-9/", "bytes 10-9/100", "bytes 0-100/100", "bytes -1-9/100", "bytes 0--9/100",
		"bytes 0-9/100x", "bytes */*", "bytes 0-9/-1", "bytes +1-9/100", "bytes 0 -9/100",
		"bytes 0-9/99999999999999999999", "bytes 0-9007199254740992/*", "Bytes 0-9/10",
		"bytes 0-9/10/10", "bytes a-b/c", "bytes -/10" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(s3_content_range_parse(bad[i], &r) != 0, "Content-Range '%s' is refused", bad[i]);

	static const char err416[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidRange"
		"</Code><Message>The requested range is not satisfiable</Message><RangeRequested>bytes=1000-2000"
		"</RangeRequested><ActualObjectSize>55</ActualObjectSize></Error>";
	CHECK(s3_actual_object_size(err416, strlen(err416)) == 55, "ActualObjectSize from an InvalidRange body");
	CHECK(s3_actual_object_size("<Error><Code>InvalidRange</Code></Error>", 40) == -1, "absent: -1");
	CHECK(s3_actual_object_size("<ActualObjectSize>x1</ActualObjectSize>", 39) == -1, "not digits: -1");
	CHECK(s3_actual_object_size("<ActualObjectSize>12", 20) == -1, "unterminated: -1");
	CHECK(s3_actual_object_size("<ActualObjectSize></ActualObjectSize>", 37) == -1, "empty: -1");
}

static void test_text_slice(void)
{
	size_t skip, keep;
	const unsigned char *u = (const unsigned char *)"abc";
	CHECK(s3_text_slice(u, 3, true, true, &skip, &keep) && skip == 0 && keep == 3, "ASCII is text");
	u = (const unsigned char *)"ab\xc3";
	CHECK(s3_text_slice(u, 3, true, false, &skip, &keep) && keep == 2,
	      "a chunk ending inside a character leaves it for the next call");
	CHECK(!s3_text_slice(u, 3, true, true, &skip, &keep), "...but at the object's end it is not UTF-8");
	u = (const unsigned char *)"\xa9" "cd";
	CHECK(s3_text_slice(u, 3, false, true, &skip, &keep) && skip == 1 && keep == 2,
	      "a chunk starting inside a character skips its tail");
	CHECK(!s3_text_slice(u, 3, true, true, &skip, &keep), "...but at the object's start it is not UTF-8");
	u = (const unsigned char *)"x\xf0\x9f\x98";
	CHECK(s3_text_slice(u, 4, true, false, &skip, &keep) && keep == 1, "a cut 4-byte character is left out");
	u = (const unsigned char *)"x\xf0\x9f\x98\x80";
	CHECK(s3_text_slice(u, 5, true, false, &skip, &keep) && keep == 5, "a whole 4-byte character is kept");
	u = (const unsigned char *)"\xe2\x82";
	CHECK(s3_text_slice(u, 2, true, false, &skip, &keep) && keep == 0, "only a piece of a character: nothing kept");
	u = (const unsigned char *)"a\0b";
	CHECK(!s3_text_slice(u, 3, true, true, &skip, &keep), "a NUL byte makes it binary");
	u = (const unsigned char *)"\xff\xfe";
	CHECK(!s3_text_slice(u, 2, false, false, &skip, &keep), "invalid bytes are binary");
}

static void test_base64(void)
{
	unsigned char *out = NULL;
	long n = base64_decode("AAEC/f7/", 8, &out);
	CHECK(n == 6 && out && out[0] == 0 && out[3] == 0xfd && out[5] == 0xff, "AAEC/f7/ is 6 bytes");
	free(out);
	n = base64_decode("AAE=", 4, &out);
	CHECK(n == 2, "one '=' of padding");
	free(out);
	n = base64_decode("AA==", 4, &out);
	CHECK(n == 1, "two '=' of padding");
	free(out);
	n = base64_decode("", 0, &out);
	CHECK(n == 0, "empty is zero bytes");
	free(out);
	static const char *const bad[] = { "A", "AAE", "A=AA", "AA=A", "=AAA", "AAEC\nAw==", "AAEC Aw==",
		"AA-_", "AAECA===", "AA==AAAA", "AAF=", "AB==" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		out = NULL;
		CHECK(base64_decode(bad[i], strlen(bad[i]), &out) < 0 && !out, "base64 '%s' is refused", bad[i]);
	}
	char *e = base64_encode("\x00\x01\x02\xfd\xfe\xff", 6);
	CHECK(e && strcmp(e, "AAEC/f7/") == 0, "encode");
	free(e);
}

static void test_cursor(void)
{
	char err[160];
	struct s3_cursor c;
	char *enc = s3_cursor_encode(S3_CURSOR_TOKEN, "1Ab/+=x", 7);
	CHECK(enc && strcmp(enc, "ct:1Ab/+=x") == 0, "a token cursor is ct: + the token");
	CHECK(enc && s3_cursor_decode(enc, strlen(enc), &c, err, sizeof err) == 0 && c.kind == S3_CURSOR_TOKEN &&
	      c.len == 7 && strcmp(c.value, "1Ab/+=x") == 0, "...and decodes back");
	free(enc);
	static const char key[] = "notes/caf\xc3\xa9+plus.txt";
	enc = s3_cursor_encode(S3_CURSOR_AFTER, key, strlen(key));
	CHECK(enc && strncmp(enc, "after:", 6) == 0, "a key cursor is after: + base64");
	CHECK(enc && s3_cursor_decode(enc, strlen(enc), &c, err, sizeof err) == 0 && c.kind == S3_CURSOR_AFTER &&
	      c.len == strlen(key) && strcmp(c.value, key) == 0, "...and decodes back to the key");
	free(enc);
	char *longest = repeat('z', S3_KEY_MAX);
	char sentinel[S3_START_AFTER_MAX + 1];
	snprintf(sentinel, sizeof sentinel, "%s%s", longest, S3_PREFIX_SENTINEL);
	enc = s3_cursor_encode(S3_CURSOR_AFTER, sentinel, strlen(sentinel));
	CHECK(enc && strlen(enc) <= S3_CURSOR_MAX && s3_cursor_decode(enc, strlen(enc), &c, err, sizeof err) == 0 &&
	      c.len == S3_START_AFTER_MAX, "the longest key plus the sentinel fits a cursor");
	free(enc);
	free(longest);
	char *too_long = repeat('t', S3_TOKEN_MAX + 1);
	CHECK(!s3_cursor_encode(S3_CURSOR_TOKEN, too_long, strlen(too_long)), "an over-long token makes no cursor");
	CHECK(!s3_cursor_encode(S3_CURSOR_TOKEN, "a b", 3), "a token with a blank makes no cursor");
	CHECK(!s3_cursor_encode(S3_CURSOR_TOKEN, "", 0), "an empty token makes no cursor");
	CHECK(!s3_cursor_encode(S3_CURSOR_AFTER, "", 0), "an empty key makes no cursor");
	free(too_long);

	static const char *const bad[] = { "", "xx:abc", "ct:", "ct:a b", "ct:a\tb", "after:", "after:!!!!",
		"after:YQ", "after:/w==", "after:YQ==\n", "AFTER:YQ==", "ct", "after:AA==" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK(s3_cursor_decode(bad[i], strlen(bad[i]), &c, err, sizeof err) != 0 &&
		      strstr(err, "not a next_cursor from s3_list"), "cursor '%s' is refused: %s", bad[i], err);
	}
	CHECK(s3_cursor_decode("ct:a\0b", 6, &c, err, sizeof err) != 0, "a cursor holding NUL is refused");
	char *huge = repeat('A', S3_CURSOR_MAX + 4);
	memcpy(huge, "ct:", 3);
	CHECK(s3_cursor_decode(huge, strlen(huge), &c, err, sizeof err) != 0, "an over-long cursor is refused");
	free(huge);
}

static void test_paths(void)
{
	char path[S3_BUCKET_MAX + 3 * S3_KEY_MAX + 8];
	CHECK(object_path("mcpgate-reports", "notes/hello world.txt", path, sizeof path) == 0 &&
	      strcmp(path, "/mcpgate-reports/notes/hello%20world.txt") == 0, "a space is %%20, slashes stay: %s", path);
	CHECK(object_path("b-1", "notes/caf\xc3\xa9+plus.txt", path, sizeof path) == 0 &&
	      strcmp(path, "/b-1/notes/caf%C3%A9%2Bplus.txt") == 0, "UTF-8 and '+' are encoded once: %s", path);
	CHECK(object_path("b-1", "a~b_c-d.e", path, sizeof path) == 0 && strcmp(path, "/b-1/a~b_c-d.e") == 0,
	      "unreserved bytes stay");
	char *k = repeat('\xff', S3_KEY_MAX);
	CHECK(object_path("b-1", k, path, sizeof path) == 0 && strlen(path) == 5 + 3 * S3_KEY_MAX,
	      "the worst key fits the path buffer");
	free(k);

	char q[S3_QUERY_MAX];
	CHECK(list_query(q, sizeof q, NULL, NULL, 1000, "") == 0 &&
	      strcmp(q, "encoding-type=url&list-type=2&max-keys=1000") == 0, "the plainest query: %s", q);
	struct s3_cursor c = { .kind = S3_CURSOR_TOKEN, .len = 6 };
	memcpy(c.value, "a+b/c=", 7);
	CHECK(list_query(q, sizeof q, &c, "/", 10, "many/") == 0 &&
	      strcmp(q, "continuation-token=a%2Bb%2Fc%3D&delimiter=%2F&encoding-type=url&list-type=2&"
	             "max-keys=10&prefix=many%2F") == 0, "token, delimiter and prefix, encoded, sorted: %s", q);
	c.kind = S3_CURSOR_AFTER;
	strcpy(c.value, "notes/hello world.txt");
	c.len = strlen(c.value);
	CHECK(list_query(q, sizeof q, &c, NULL, 5, "notes/") == 0 &&
	      strcmp(q, "encoding-type=url&list-type=2&max-keys=5&prefix=notes%2F&"
	             "start-after=notes%2Fhello%20world.txt") == 0, "start-after from an after: cursor: %s", q);
	struct s3_cursor worst = { .kind = S3_CURSOR_AFTER, .len = S3_START_AFTER_MAX };
	memset(worst.value, '\xff', S3_START_AFTER_MAX);
	char *prefix = repeat('\xfe', S3_KEY_MAX);
	char delim[S3_DELIMITER_MAX + 1];
	memset(delim, '\xfd', S3_DELIMITER_MAX);
	delim[S3_DELIMITER_MAX] = '\0';
	CHECK(list_query(q, sizeof q, &worst, delim, 1000, prefix) == 0 && strlen(q) < 8192,
	      "the longest query fits the client's limit (%zu bytes)", strlen(q));
	free(prefix);
}

/* The JSON header line of an s3_get result. */
static json_t *header_of(json_t *r)
{
	const char *text = json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
	return text ? J(text) : NULL;
}

static const char *item_text(json_t *r, size_t i)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), i), "text"));
}

static size_t text_bytes(json_t *r)
{
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(json_object_get(r, "content")); i++) {
		json_t *item = json_array_get(json_object_get(r, "content"), i);
		const char *t = json_string_value(json_object_get(item, "text"));
		const char *b = json_string_value(json_object_get(json_object_get(item, "resource"), "blob"));
		n += (t ? strlen(t) : 0) + (b ? strlen(b) : 0);
	}
	return n;
}

static void test_get_result(void)
{
	static const char readme[] = "mcpgate test bucket\n";
	struct s3_object_part p = { .bucket = "b-1", .key = "README.txt", .data = (const void *)readme,
		.len = strlen(readme), .first = 0, .total = (long long)strlen(readme), .requested = 1024,
		.content_type = "text/plain", .etag = "\"abc\"" };
	json_t *r = s3_get_result(&p, 51200);
	json_t *h = header_of(r);
	CHECK(r && json_array_size(json_object_get(r, "content")) == 2 && json_is_false(json_object_get(r, "isError")),
	      "a small text: header and text, no notice");
	CHECK(item_text(r, 1) && strcmp(item_text(r, 1), readme) == 0, "...the text as it is");
	CHECK(h && json_integer_value(json_object_get(h, "size")) == 20 &&
	      strcmp(json_string_value(json_object_get(h, "range")), "bytes 0-19") == 0 &&
	      strcmp(json_string_value(json_object_get(h, "encoding")), "text") == 0 &&
	      json_is_null(json_object_get(h, "next_range_start")) &&
	      strcmp(json_string_value(json_object_get(h, "etag")), "\"abc\"") == 0 &&
	      strcmp(json_string_value(json_object_get(h, "content_type")), "text/plain") == 0,
	      "...the header: size, range, encoding, etag, type, no next_range_start");
	json_decref(h);
	json_decref(r);

	/* A large text under a small cap: cut on a character boundary, a notice, within the cap. */
	size_t big_len = 5000;
	char *big = malloc(big_len + 1);
	for (size_t i = 0; i < big_len; i += 2)
		memcpy(big + i, "\xc3\xa9", 2); /* é, so a cut could split one */
	big[big_len] = '\0';
	p = (struct s3_object_part){ .bucket = "b-1", .key = "big.txt", .data = (const void *)big, .len = 2048,
		.first = 0, .total = 5000, .requested = 2048, .content_type = "text/plain" };
	r = s3_get_result(&p, 1024);
	h = header_of(r);
	const char *notice = item_text(r, 2);
	long long next = json_integer_value(json_object_get(h, "next_range_start"));
	CHECK(r && item_text(r, 1) && strlen(item_text(r, 1)) % 2 == 0 && next == (long long)strlen(item_text(r, 1)),
	      "a cut text ends on a character boundary; next_range_start follows it (%lld)", next);
	CHECK(text_bytes(r) <= 1024, "...the result's text stays within the cap (%zu)", text_bytes(r));
	char want[200];
	snprintf(want, sizeof want, "[truncated: bytes 0-%lld of 5000 shown; call s3_get with range_start=%lld "
	         "for more]", next - 1, next);
	CHECK(notice && strcmp(notice, want) == 0, "...the notice: %s", notice ? notice : "(none)");
	json_decref(h);
	json_decref(r);

	/* Read on from an odd offset: the tail of a character is skipped. */
	p = (struct s3_object_part){ .bucket = "b-1", .key = "big.txt", .data = (const void *)(big + 1), .len = 100,
		.first = 1, .total = 5000, .requested = 100 };
	r = s3_get_result(&p, 51200);
	h = header_of(r);
	CHECK(h && strcmp(json_string_value(json_object_get(h, "range")), "bytes 2-99") == 0 &&
	      json_integer_value(json_object_get(h, "next_range_start")) == 100 && json_is_null(json_object_get(h, "content_type")),
	      "a chunk from inside a character starts at the next one and reads on where it stopped");
	json_decref(h);
	json_decref(r);

	/* One byte of a two-byte character: shown as bytes so the caller moves on. */
	p = (struct s3_object_part){ .bucket = "b-1", .key = "big.txt", .data = (const void *)big, .len = 1,
		.first = 0, .total = 5000, .requested = 1 };
	r = s3_get_result(&p, 51200);
	h = header_of(r);
	CHECK(h && strcmp(json_string_value(json_object_get(h, "encoding")), "base64") == 0 &&
	      json_integer_value(json_object_get(h, "next_range_start")) == 1, "a lone piece of a character comes as a blob");
	json_decref(h);
	json_decref(r);
	free(big);

	/* Binary: a blob when it fits, the first bytes and a notice when it does not. */
	unsigned char bin[1024];
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)((i * 7 + 3) & 0xff);
	p = (struct s3_object_part){ .bucket = "b-1", .key = "data/blob bin", .data = bin, .len = sizeof bin,
		.first = 0, .total = sizeof bin, .requested = 51200, .content_type = "application/octet-stream" };
	r = s3_get_result(&p, 51200);
	json_t *item = json_array_get(json_object_get(r, "content"), 1);
	json_t *res = json_object_get(item, "resource");
	unsigned char *decoded = NULL;
	const char *blob = json_string_value(json_object_get(res, "blob"));
	long n = blob ? base64_decode(blob, strlen(blob), &decoded) : -1;
	CHECK(r && strcmp(json_string_value(json_object_get(item, "type")), "resource") == 0 &&
	      strcmp(json_string_value(json_object_get(res, "uri")), "s3://b-1/data/blob%20bin") == 0 &&
	      strcmp(json_string_value(json_object_get(res, "mimeType")), "application/octet-stream") == 0 &&
	      n == 1024 && memcmp(decoded, bin, 1024) == 0 && json_array_size(json_object_get(r, "content")) == 2,
	      "a binary object as an embedded resource blob, its URI encoded");
	free(decoded);
	json_decref(r);
	p.content_type = NULL;
	r = s3_get_result(&p, 1024);
	h = header_of(r);
	item = json_array_get(json_object_get(r, "content"), 1);
	res = json_object_get(item, "resource");
	blob = json_string_value(json_object_get(res, "blob"));
	decoded = NULL;
	n = blob ? base64_decode(blob, strlen(blob), &decoded) : -1;
	long long shown = json_integer_value(json_object_get(h, "bytes"));
	CHECK(n > 0 && n == shown && n < 1024 && memcmp(decoded, bin, (size_t)n) == 0 &&
	      json_integer_value(json_object_get(h, "next_range_start")) == n && item_text(r, 2) &&
	      strstr(item_text(r, 2), "call s3_get with range_start=") &&
	      strcmp(json_string_value(json_object_get(res, "mimeType")), "application/octet-stream") == 0,
	      "a binary object over the cap: its first %ld bytes, and how to read on", n);
	CHECK(text_bytes(r) <= 1024, "...within the cap (%zu)", text_bytes(r));
	free(decoded);
	json_decref(h);
	json_decref(r);

	/* Empty object; unknown size. */
	p = (struct s3_object_part){ .bucket = "b-1", .key = "empty", .data = (const void *)"", .len = 0,
		.first = 0, .total = 0, .requested = 100 };
	r = s3_get_result(&p, 51200);
	h = header_of(r);
	CHECK(r && item_text(r, 1) && strcmp(item_text(r, 1), "") == 0 && json_is_null(json_object_get(h, "range")) &&
	      json_integer_value(json_object_get(h, "size")) == 0 && json_array_size(json_object_get(r, "content")) == 2,
	      "an empty object: empty text, no range, no notice");
	json_decref(h);
	json_decref(r);
	p = (struct s3_object_part){ .bucket = "b-1", .key = "k", .data = (const void *)"abcd", .len = 4,
		.first = 0, .total = -1, .requested = 4 };
	r = s3_get_result(&p, 51200);
	CHECK(item_text(r, 2) && strstr(item_text(r, 2), "of an object of unknown size"),
	      "unknown size and a full chunk: there may be more, said so");
	json_decref(r);
	p.requested = 10;
	r = s3_get_result(&p, 51200);
	CHECK(json_array_size(json_object_get(r, "content")) == 2, "unknown size and a short chunk: the end");
	json_decref(r);

	/* Control bytes are valid UTF-8 but take six bytes each once JSON-escaped (\u0001): the
	 * cap holds for the result as it goes on the wire, not only for the raw bytes. */
	size_t ctl_len = 200000;
	char *ctl = malloc(ctl_len);
	memset(ctl, 0x01, ctl_len);
	p = (struct s3_object_part){ .bucket = "b-1", .key = "ctl.txt", .data = (const void *)ctl, .len = ctl_len,
		.first = 0, .total = (long long)ctl_len, .requested = ctl_len, .content_type = "text/plain" };
	r = s3_get_result(&p, 51200);
	char *wire = r ? json_dumps(r, JSON_COMPACT) : NULL;
	CHECK(wire && strlen(wire) <= 51200 + 1024, "escaped control bytes: the whole result stays near the cap (%zu)",
	      wire ? strlen(wire) : 0);
	h = header_of(r);
	CHECK(h && json_integer_value(json_object_get(h, "next_range_start")) > 0,
	      "...and says where the rest starts");
	free(wire);
	json_decref(h);
	json_decref(r);
	free(ctl);
}

/* A ListObjectsV2 page as s3_list_objects_v2_parse returns it: n objects (keys: stem, three
 * digits, tail) and the given prefixes, truncated with `token` unless it is NULL. */
static json_t *page(size_t n, const char *stem, const char *tail, const char *const *prefixes, size_t n_prefixes,
                    const char *token)
{
	json_t *objects = json_array(), *cps = json_array();
	for (size_t i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s%03zu%s", stem, i, tail);
		json_array_append_new(objects, json_pack("{s:s, s:I, s:s, s:s, s:s}", "key", key, "size",
		                                         (json_int_t)i, "last_modified", "2024-01-01T00:00:00.000Z",
		                                         "etag", "\"0123456789abcdef0123456789abcdef\"",
		                                         "storage_class", "STANDARD"));
	}
	for (size_t i = 0; i < n_prefixes; i++)
		json_array_append_new(cps, json_string(prefixes[i]));
	return json_pack("{s:s, s:s, s:o, s:o, s:b, s:o}", "bucket", "b-1", "prefix", "", "objects", objects,
	                 "common_prefixes", cps, "truncated", token != NULL, "next_cursor",
	                 token ? json_string(token) : json_null());
}

static void test_list_result(void)
{
	char err[200] = "";
	json_t *pg = page(3, "k", "", NULL, 0, NULL);
	json_t *r = s3_list_result(pg, "b-1", "", 51200, err, sizeof err);
	CHECK(r && json_integer_value(json_object_get(r, "count")) == 3 && json_is_null(json_object_get(r, "next_cursor")) &&
	      !json_object_get(r, "notice") && json_array_size(json_object_get(r, "objects")) == 3,
	      "a small last page: everything, no cursor");
	json_decref(r);
	json_decref(pg);

	pg = page(10, "many/item-", ".txt", NULL, 0, "opaque-TOKEN+/=");
	r = s3_list_result(pg, "b-1", "many/", 51200, err, sizeof err);
	CHECK(r && strcmp(json_string_value(json_object_get(r, "next_cursor")), "ct:opaque-TOKEN+/=") == 0 &&
	      strcmp(json_string_value(json_object_get(r, "prefix")), "many/") == 0,
	      "a truncated page that fits: S3's token as a ct: cursor");
	json_decref(r);
	json_decref(pg);

	/* Over the cap: trailing entries dropped, an after: cursor from the last kept key. */
	pg = page(40, "many/item-", ".txt", NULL, 0, "TOKEN");
	r = s3_list_result(pg, "b-1", "many/", 1024, err, sizeof err);
	json_t *objects = json_object_get(r, "objects");
	size_t kept = json_array_size(objects);
	const char *cursor = json_string_value(json_object_get(r, "next_cursor"));
	struct s3_cursor c;
	const char *last = json_string_value(json_object_get(json_array_get(objects, kept - 1), "key"));
	CHECK(r && kept >= 1 && kept < 40 && dumped(r) <= 1024, "a page over the cap keeps %zu entries in %zu bytes",
	      kept, r ? dumped(r) : 0);
	CHECK(cursor && s3_cursor_decode(cursor, strlen(cursor), &c, err, sizeof err) == 0 &&
	      c.kind == S3_CURSOR_AFTER && last && strcmp(c.value, last) == 0,
	      "...its cursor resumes after the last kept key (%s)", last ? last : "(none)");
	char want[160];
	snprintf(want, sizeof want, "[truncated: %zu of 40 entries shown; call s3_list with cursor=next_cursor "
	         "for more]", kept);
	CHECK(json_string_value(json_object_get(r, "notice")) &&
	      strcmp(json_string_value(json_object_get(r, "notice")), want) == 0, "...and a notice says so");
	/* The most that fit: one more entry would not. */
	json_t *more = NULL;
	if (kept < 40) {
		struct list_entry e[40];
		CHECK(collect_entries(json_object_get(pg, "objects"), json_object_get(pg, "common_prefixes"), e) == 0,
		      "collect_entries");
		char *cur = after_cursor(&e[kept]);
		size_t size = 0;
		more = list_page(e, 40, kept + 1, "b-1", "many/", cur, &size);
		CHECK(more && size > 1024, "...and one more entry would not fit (%zu bytes)", size);
		free(cur);
	}
	json_decref(more);
	json_decref(r);
	json_decref(pg);

	/* Objects and prefixes in key order; a cut after a prefix skips everything under it. */
	static const char *const cps[] = { "a/", "m/", "z/" };
	pg = page(30, "k-", "-padding-padding-padding", cps, 3, NULL);
	r = s3_list_result(pg, "b-1", "", 51200, err, sizeof err);
	CHECK(r && json_array_size(json_object_get(r, "common_prefixes")) == 3 &&
	      json_integer_value(json_object_get(r, "count")) == 33, "objects and prefixes together: count 33");
	json_decref(r);
	r = s3_list_result(pg, "b-1", "", 1024, err, sizeof err);
	cursor = json_string_value(json_object_get(r, "next_cursor"));
	CHECK(r && json_array_size(json_object_get(r, "common_prefixes")) == 1 &&
	      strcmp(json_string_value(json_array_get(json_object_get(r, "common_prefixes"), 0)), "a/") == 0 &&
	      json_array_size(json_object_get(r, "objects")) >= 1, "cut: a/ sorts before the k- keys and is kept");
	CHECK(cursor && s3_cursor_decode(cursor, strlen(cursor), &c, err, sizeof err) == 0 &&
	      strncmp(c.value, "k-", 2) == 0, "...the cursor names the last kept object key");
	json_decref(r);
	json_decref(pg);
	json_t *two = page(0, "", "", cps, 3, NULL);
	r = s3_list_result(two, "b-1", "", 51200, err, sizeof err);
	CHECK(r && json_integer_value(json_object_get(r, "count")) == 3, "a page of prefixes only");
	json_decref(r);
	json_decref(two);

	/* A tiny cap still moves on by one entry; after a prefix the cursor skips its keys. */
	static const char *const long_prefix[] = { "a-rather-long-common-prefix-that-takes-room/" };
	pg = page(0, "", "", long_prefix, 1, NULL);
	json_array_append_new(json_object_get(pg, "common_prefixes"), json_string("b/"));
	r = s3_list_result(pg, "b-1", "", 100, err, sizeof err);
	cursor = json_string_value(json_object_get(r, "next_cursor"));
	CHECK(r && json_integer_value(json_object_get(r, "count")) == 1 && cursor &&
	      s3_cursor_decode(cursor, strlen(cursor), &c, err, sizeof err) == 0 &&
	      c.len == strlen(long_prefix[0]) + 4 && memcmp(c.value + c.len - 4, S3_PREFIX_SENTINEL, 4) == 0,
	      "a cap below one entry keeps one; after a prefix the cursor is the prefix + U+10FFFF");
	json_decref(r);
	json_decref(pg);

	/* Malformed pages. */
	pg = J("{\"objects\":[{\"key\":\"a\"}],\"common_prefixes\":[],\"truncated\":false,\"next_cursor\":null}");
	CHECK(!s3_list_result(pg, "b-1", "", 51200, err, sizeof err) && strstr(err, "without a key or size"),
	      "an object without a size is refused: %s", err);
	json_decref(pg);
	pg = J("{\"objects\":{},\"common_prefixes\":[]}");
	CHECK(!s3_list_result(pg, "b-1", "", 51200, err, sizeof err), "objects not an array is refused");
	json_decref(pg);
	pg = page(1, "k", "", NULL, 0, "bad token with blanks");
	CHECK(!s3_list_result(pg, "b-1", "", 51200, err, sizeof err) && strstr(err, "continuation token"),
	      "a token we cannot pass on is refused: %s", err);
	json_decref(pg);

	/* The parser's real output goes through. */
	static const char xml[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b-1</Name>"
		"<Prefix>notes/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType>"
		"<IsTruncated>false</IsTruncated><Contents><Key>notes/caf%C3%A9%2Bplus.txt</Key><Size>33</Size>"
		"</Contents><Contents><Key>notes/hello+world.txt</Key><Size>19</Size></Contents></ListBucketResult>";
	json_t *parsed = s3_list_objects_v2_parse(xml, strlen(xml), err, sizeof err);
	r = parsed ? s3_list_result(parsed, "b-1", "notes/", 51200, err, sizeof err) : NULL;
	objects = json_object_get(r, "objects");
	CHECK(r && json_array_size(objects) == 2 &&
	      strcmp(json_string_value(json_object_get(json_array_get(objects, 0), "key")), "notes/caf\xc3\xa9+plus.txt") == 0 &&
	      strcmp(json_string_value(json_object_get(json_array_get(objects, 1), "key")), "notes/hello world.txt") == 0 &&
	      json_is_null(json_object_get(json_array_get(objects, 1), "etag")),
	      "a url-encoded listing decodes ('+' a space, %%2B a plus)");
	json_decref(r);
	json_decref(parsed);
}

static int init_with(const char *settings, char *err, size_t errlen)
{
	json_t *s = J(settings);
	err[0] = '\0';
	int rc = s ? s3_init(s, &(struct group_limits){ .result_cap = 51200 }, err, errlen) : -1;
	json_decref(s);
	return rc;
}

static void test_settings(void)
{
	char err[512];
	CHECK(init_with("{\"s3\":{\"buckets\":[\"mcpgate-*\"],\"write_buckets\":[\"mcpgate-reports\"],"
	                "\"max_object_bytes\":2048,\"max_put_bytes\":100,\"path_style\":true}}", err, sizeof err) == 0,
	      "full settings are accepted %s", err);
	CHECK(allowlist_allows(&cfg.buckets, "mcpgate-archive") && !allowlist_allows(&cfg.buckets, "other") &&
	      allowlist_allows(&cfg.write_buckets, "mcpgate-reports") && !allowlist_allows(&cfg.write_buckets, "mcpgate-archive") &&
	      cfg.max_object_bytes == 2048 && cfg.max_put_bytes == 100, "...and read");
	s3_fini();
	CHECK(init_with("{}", err, sizeof err) == 0 && cfg.buckets.n == 0 && cfg.write_buckets.n == 0 &&
	      cfg.max_object_bytes == 1048576 && cfg.max_put_bytes == 1048576 && !allowlist_allows(&cfg.buckets, "x"),
	      "no s3 section: nothing allowed, 1 MiB defaults");
	s3_fini();
	CHECK(init_with("{\"s3\":{\"bucket\":[\"x\"]}}", err, sizeof err) != 0 &&
	      strncmp(err, "settings.s3: unknown key 'bucket'", 33) == 0, "an unknown key: %s", err);
	CHECK(init_with("{\"s3\":{\"path_style\":false}}", err, sizeof err) != 0 &&
	      strstr(err, "settings.s3.path_style: virtual-hosted-style requests are not supported"), "path_style false: %s", err);
	CHECK(init_with("{\"s3\":{\"path_style\":1}}", err, sizeof err) != 0 &&
	      strstr(err, "settings.s3.path_style: must be true or false"), "path_style not a boolean: %s", err);
	CHECK(init_with("{\"s3\":{\"max_object_bytes\":16777217}}", err, sizeof err) != 0 &&
	      strstr(err, "settings.s3.max_object_bytes: must be an integer from 1 to 16777216"), "max_object_bytes: %s", err);
	CHECK(init_with("{\"s3\":{\"max_put_bytes\":0}}", err, sizeof err) != 0 &&
	      strstr(err, "settings.s3.max_put_bytes: must be an integer from 1 to 5242880"), "max_put_bytes: %s", err);
	CHECK(init_with("{\"s3\":{\"buckets\":\"x\"}}", err, sizeof err) != 0 && strstr(err, "settings.s3.buckets:"),
	      "buckets not an array: %s", err);
	CHECK(init_with("{\"s3\":[]}", err, sizeof err) != 0 &&
	      strcmp(err, "settings.s3: must be an object {buckets, write_buckets, max_object_bytes, "
	             "max_put_bytes, path_style}") == 0, "s3 not an object: %s", err);
	CHECK(init_with("{\"s3\":{\"x\":1}}", err, sizeof err) != 0 &&
	      strcmp(err, "settings.s3: unknown key 'x' (known: buckets, write_buckets, max_object_bytes, "
	             "max_put_bytes, path_style)") == 0, "an unknown key, in full: %s", err);
	CHECK(content_type_valid("text/plain; charset=utf-8") && !content_type_valid("text/plain\r\nX: 1") &&
	      !content_type_valid("") && !content_type_valid(" text") && !content_type_valid("caf\xc3\xa9"),
	      "content types: printable ASCII only");
	/* The tools' schemas are JSON. */
	for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
		json_t *in = J(tools[i].input_schema);
		json_t *out = tools[i].output_schema ? J(tools[i].output_schema) : NULL;
		CHECK(in && json_is_false(json_object_get(in, "additionalProperties")) &&
		      (!tools[i].output_schema || out), "%s: schemas parse, input closed", tools[i].name);
		json_decref(in);
		json_decref(out);
	}
}

int main(void)
{
	test_buckets();
	test_keys();
	test_content_range();
	test_text_slice();
	test_base64();
	test_cursor();
	test_paths();
	test_get_result();
	test_list_result();
	test_settings();
	return check_finish();
}
