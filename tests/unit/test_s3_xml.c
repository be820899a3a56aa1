/* Unit tests for the ListObjectsV2 parser: full documents compared against the exact JSON
 * the data server returns, and every refusal (DTDs, bounds, malformed values, every cut of a
 * truncated document, garbage). Inputs sit in exact-size heap buffers so ASan sees over-reads. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/aws/s3_xml.c"

#include "check.h"

#define NS "http://s3.amazonaws.com/doc/2006-03-01/"
/* The fields every valid document here needs, before and after the interesting part. */
#define HEAD "<ListBucketResult xmlns=\"" NS "\"><Name>b</Name><IsTruncated>false</IsTruncated>"
#define TAIL "</ListBucketResult>"

static char err[S3_XML_ERROR_MAX];

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

static json_t *parse_n(const char *doc, size_t len)
{
	char *copy = xmalloc(len);
	memcpy(copy, doc, len);
	json_t *v = s3_list_objects_v2_parse(copy, len, err, sizeof err);
	free(copy);
	return v;
}

static json_t *parse(const char *doc)
{
	return parse_n(doc, strlen(doc));
}

/* Compact, sorted: one exact string per expected answer. */
static char *dump_sorted(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

static void expect_json(const char *what, const char *doc, const char *expected)
{
	json_t *v = parse(doc);
	char *got = dump_sorted(v);
	bool same = got && strcmp(got, expected) == 0;
	CHECK(same, "%s", what);
	if (!same)
		printf("     got %s\n     err %s\n     want %s\n", got ? got : "NULL", err, expected);
	free(got);
	json_decref(v);
}

static void expect_error(const char *what, const char *doc, size_t len, const char *needle)
{
	json_t *v = parse_n(doc, len);
	bool refused = !v && err[0] && strstr(err, needle);
	CHECK(refused, "%s refused: %s", what, err);
	json_decref(v);
}

static void expect_err(const char *what, const char *doc, const char *needle)
{
	expect_error(what, doc, strlen(doc), needle);
}

/* A growing string for generated documents. */
struct buf {
	char *p;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		exit(2);
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			exit(2);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void add_repeat(struct buf *b, const char *s, size_t times)
{
	for (size_t i = 0; i < times; i++)
		add(b, "%s", s);
}

/* ---- valid documents ---- */

/* Written after the example in the S3 API reference: two objects, unknown elements mixed in. */
static const char example[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"" NS "\">\n"
	"  <Name>demo-bucket</Name>\n"
	"  <Prefix></Prefix>\n"
	"  <KeyCount>2</KeyCount>\n"
	"  <MaxKeys>1000</MaxKeys>\n"
	"  <IsTruncated>false</IsTruncated>\n"
	"  <Contents>\n"
	"    <Key>notes/todo.txt</Key>\n"
	"    <LastModified>2024-03-01T09:15:00.000Z</LastModified>\n"
	"    <ETag>&quot;3858f62230ac3c915f300c664312c11f&quot;</ETag>\n"
	"    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\n"
	"    <Size>142</Size>\n"
	"    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f</ID><DisplayName>demo</DisplayName></Owner>\n"
	"    <StorageClass>STANDARD</StorageClass>\n"
	"  </Contents>\n"
	"  <Contents>\n"
	"    <Key>photo.jpg</Key>\n"
	"    <LastModified>2024-02-11T20:01:33.000Z</LastModified>\n"
	"    <ETag>\"bf1d737a4d46a19f3bced6905cc8b902-2\"</ETag>\n"
	"    <Size>6291456</Size>\n"
	"    <StorageClass>STANDARD_IA</StorageClass>\n"
	"  </Contents>\n"
	"</ListBucketResult>";

static void test_example(void)
{
	expect_json("S3 reference-style example", example,
		"{\"bucket\":\"demo-bucket\",\"common_prefixes\":[],\"key_count\":2,\"max_keys\":1000,"
		"\"next_cursor\":null,\"objects\":[{\"etag\":\"\\\"3858f62230ac3c915f300c664312c11f\\\"\","
		"\"key\":\"notes/todo.txt\",\"last_modified\":\"2024-03-01T09:15:00.000Z\",\"size\":142,"
		"\"storage_class\":\"STANDARD\"},{\"etag\":\"\\\"bf1d737a4d46a19f3bced6905cc8b902-2\\\"\","
		"\"key\":\"photo.jpg\",\"last_modified\":\"2024-02-11T20:01:33.000Z\",\"size\":6291456,"
		"\"storage_class\":\"STANDARD_IA\"}],\"prefix\":\"\",\"truncated\":false}");

	/* The order clients see does not depend on the order S3 wrote the elements in. */
	json_t *v = parse(example);
	char *unsorted = v ? json_dumps(v, JSON_COMPACT) : NULL;
	static const char head[] = "{\"bucket\":\"demo-bucket\",\"prefix\":\"\",\"key_count\":2,"
		"\"max_keys\":1000,\"objects\":[{\"key\":\"notes/todo.txt\",\"size\":142,";
	CHECK(unsorted && strncmp(unsorted, head, sizeof head - 1) == 0 &&
	      strstr(unsorted, "],\"common_prefixes\":[],\"truncated\":false,\"next_cursor\":null}"),
	      "fields in a fixed order");
	free(unsorted);
	json_decref(v);
}

static void test_truncation(void)
{
	expect_json("truncated listing with NextContinuationToken",
		"<ListBucketResult xmlns=\"" NS "\"><Name>b</Name><Prefix>logs/</Prefix>"
		"<ContinuationToken>prev</ContinuationToken>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"<KeyCount>1</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>true</IsTruncated>"
		"<Contents><Key>logs/a.log</Key><Size>0</Size></Contents><StartAfter>x</StartAfter>"
		TAIL,
		"{\"bucket\":\"b\",\"common_prefixes\":[],\"key_count\":1,\"max_keys\":1,"
		"\"next_cursor\":\"1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=\",\"objects\":[{\"etag\":null,"
		"\"key\":\"logs/a.log\",\"last_modified\":null,\"size\":0,\"storage_class\":null}],"
		"\"prefix\":\"logs/\",\"truncated\":true}");
	expect_json("a token on a complete listing is not a cursor",
		"<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>"
		"<NextContinuationToken>stale</NextContinuationToken>" TAIL,
		"{\"bucket\":\"b\",\"common_prefixes\":[],\"key_count\":null,\"max_keys\":null,"
		"\"next_cursor\":null,\"objects\":[],\"prefix\":\"\",\"truncated\":false}");
	expect_err("truncated without a token",
		"<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>" TAIL,
		"NextContinuationToken");
	expect_err("truncated with an empty token",
		"<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>"
		"<NextContinuationToken/>" TAIL, "NextContinuationToken");
}

static void test_common_prefixes(void)
{
	expect_json("delimiter listing with common prefixes",
		"<ListBucketResult xmlns=\"" NS "\"><Name>media</Name><Prefix>photos/</Prefix>"
		"<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>"
		"<IsTruncated>false</IsTruncated>"
		"<Contents><Key>photos/index.html</Key><Size>512</Size><StorageClass>STANDARD</StorageClass></Contents>"
		"<CommonPrefixes><Prefix>photos/2023/</Prefix></CommonPrefixes>"
		"<CommonPrefixes><Prefix>photos/2024/</Prefix></CommonPrefixes>" TAIL,
		"{\"bucket\":\"media\",\"common_prefixes\":[\"photos/2023/\",\"photos/2024/\"],"
		"\"key_count\":3,\"max_keys\":1000,\"next_cursor\":null,\"objects\":[{\"etag\":null,"
		"\"key\":\"photos/index.html\",\"last_modified\":null,\"size\":512,"
		"\"storage_class\":\"STANDARD\"}],\"prefix\":\"photos/\",\"truncated\":false}");
}

static void test_empty_bucket(void)
{
	expect_json("empty bucket",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"" NS "\">"
		"<Name>empty</Name><Prefix/><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
		"<IsTruncated>false</IsTruncated></ListBucketResult>\n",
		"{\"bucket\":\"empty\",\"common_prefixes\":[],\"key_count\":0,\"max_keys\":1000,"
		"\"next_cursor\":null,\"objects\":[],\"prefix\":\"\",\"truncated\":false}");
}

static void test_escapes_and_utf8(void)
{
	expect_json("XML escapes, character references, CDATA and UTF-8 in keys",
		HEAD
		"<Contents><Key>a&amp;b &lt;c&gt; &quot;q&quot; &apos;s&apos;</Key><Size>1</Size></Contents>"
		"<Contents><Key>caf&#233;/&#x65E5;\xe6\x9c\xac.txt</Key><Size>2</Size></Contents>"
		"<Contents><Key><![CDATA[x<&>y]]></Key><Size>3</Size></Contents>"
		"<Contents><Key>\xd0\xb4\xd0\xb0\xd0\xbd\xd0\xbd\xd1\x8b\xd0\xb5/\xf0\x9f\x93\x81 a</Key>"
		"<Size>4</Size></Contents>"
		"<Contents><Key> lead and trail </Key><Size>5</Size></Contents>" TAIL,
		"{\"bucket\":\"b\",\"common_prefixes\":[],\"key_count\":null,\"max_keys\":null,"
		"\"next_cursor\":null,\"objects\":["
		"{\"etag\":null,\"key\":\"a&b <c> \\\"q\\\" 's'\",\"last_modified\":null,\"size\":1,\"storage_class\":null},"
		"{\"etag\":null,\"key\":\"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt\",\"last_modified\":null,\"size\":2,\"storage_class\":null},"
		"{\"etag\":null,\"key\":\"x<&>y\",\"last_modified\":null,\"size\":3,\"storage_class\":null},"
		"{\"etag\":null,\"key\":\"\xd0\xb4\xd0\xb0\xd0\xbd\xd0\xbd\xd1\x8b\xd0\xb5/\xf0\x9f\x93\x81 a\",\"last_modified\":null,\"size\":4,\"storage_class\":null},"
		"{\"etag\":null,\"key\":\" lead and trail \",\"last_modified\":null,\"size\":5,\"storage_class\":null}],"
		"\"prefix\":\"\",\"truncated\":false}");
	expect_json("a Latin-1 document comes out as UTF-8",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" HEAD
		"<Contents><Key>r\xe9sum\xe9</Key><Size>9</Size></Contents>" TAIL,
		"{\"bucket\":\"b\",\"common_prefixes\":[],\"key_count\":null,\"max_keys\":null,"
		"\"next_cursor\":null,\"objects\":[{\"etag\":null,\"key\":\"r\xc3\xa9sum\xc3\xa9\","
		"\"last_modified\":null,\"size\":9,\"storage_class\":null}],\"prefix\":\"\",\"truncated\":false}");
	expect_err("invalid UTF-8 in a UTF-8 document", HEAD "<Contents><Key>\xc3\x28</Key><Size>1</Size></Contents>" TAIL,
		"not well-formed");
	expect_err("an undefined entity", HEAD "<Contents><Key>&nbsp;</Key><Size>1</Size></Contents>" TAIL,
		"undefined entity");
	expect_err("a character reference to NUL", HEAD "<Contents><Key>a&#0;</Key><Size>1</Size></Contents>" TAIL,
		"not well-formed");
}

static void test_url_encoding(void)
{
	/* EncodingType after the entries: decoding waits for the whole document. */
	expect_json("encoding-type=url keys and prefixes are decoded",
		"<ListBucketResult><Name>b</Name><Prefix>p%2F</Prefix><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a%20b+c%2Fd%26%E2%82%AC</Key><Size>1</Size></Contents>"
		"<CommonPrefixes><Prefix>dir%2B%2f</Prefix></CommonPrefixes>"
		"<EncodingType>url</EncodingType>" TAIL,
		"{\"bucket\":\"b\",\"common_prefixes\":[\"dir+/\"],\"key_count\":null,\"max_keys\":null,"
		"\"next_cursor\":null,\"objects\":[{\"etag\":null,\"key\":\"a b c/d&\xe2\x82\xac\","
		"\"last_modified\":null,\"size\":1,\"storage_class\":null}],\"prefix\":\"p/\",\"truncated\":false}");
	expect_json("without EncodingType, % and + are kept",
		HEAD "<Contents><Key>50%+off</Key><Size>1</Size></Contents>" TAIL,
		"{\"bucket\":\"b\",\"common_prefixes\":[],\"key_count\":null,\"max_keys\":null,"
		"\"next_cursor\":null,\"objects\":[{\"etag\":null,\"key\":\"50%+off\","
		"\"last_modified\":null,\"size\":1,\"storage_class\":null}],\"prefix\":\"\",\"truncated\":false}");

	static const struct { const char *key, *needle; } bad[] = {
		{ "%ZZ", "escape" }, { "ab%4", "escape" }, { "%", "escape" },
		{ "a%00b", "NUL" }, { "%FF", "UTF-8" }, { "%C0%AF", "UTF-8" },
		{ "%ED%A0%80", "UTF-8" }, { "%F4%90%80%80", "UTF-8" }, { "%E2%82", "UTF-8" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char doc[512];
		snprintf(doc, sizeof doc, HEAD "<EncodingType>url</EncodingType><Contents><Key>%s</Key>"
		         "<Size>1</Size></Contents>" TAIL, bad[i].key);
		char what[64];
		snprintf(what, sizeof what, "url-encoded key %s", bad[i].key);
		expect_err(what, doc, bad[i].needle);
	}
	expect_err("an unknown EncodingType", HEAD "<EncodingType>base64</EncodingType>" TAIL, "EncodingType");

	/* The key limit holds for the decoded key: 1024 bytes written as 3072. */
	for (size_t n = S3_KEY_MAX; n <= S3_KEY_MAX + 1; n++) {
		struct buf b = { 0 };
		add(&b, HEAD "<EncodingType>url</EncodingType><Contents><Key>");
		add_repeat(&b, "%41", n);
		add(&b, "</Key><Size>1</Size></Contents>" TAIL);
		json_t *v = parse(b.p);
		const char *key = json_string_value(json_object_get(json_array_get(json_object_get(v, "objects"), 0), "key"));
		if (n == S3_KEY_MAX)
			CHECK(key && strlen(key) == n && key[0] == 'A', "url-encoded key of %zu bytes decoded", n);
		else
			CHECK(!v && strstr(err, "longer than 1024"), "url-encoded key of %zu bytes refused: %s", n, err);
		json_decref(v);
		free(b.p);
	}
}

/* ---- refusals ---- */

static void test_dtd_refused(void)
{
	expect_err("a bare DOCTYPE",
		"<?xml version=\"1.0\"?><!DOCTYPE ListBucketResult>" HEAD TAIL, "DOCTYPE");
	expect_err("billion laughs",
		"<?xml version=\"1.0\"?><!DOCTYPE ListBucketResult [\n"
		"<!ENTITY l0 \"ha\">\n"
		"<!ENTITY l1 \"&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;\">\n"
		"<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">\n"
		"<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">\n"
		"<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">\n"
		"<!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">\n"
		"<!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">\n"
		"<!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">\n"
		"<!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">\n"
		"<!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">\n"
		"]>\n<ListBucketResult><Name>&l9;</Name><IsTruncated>false</IsTruncated>" TAIL,
		"DOCTYPE");
	expect_err("an external entity",
		"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<ListBucketResult><Name>&x;</Name><IsTruncated>false</IsTruncated>" TAIL, "DOCTYPE");
	expect_err("a parameter entity",
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x.dtd\"> %p;]>" HEAD TAIL, "DOCTYPE");
	expect_err("a DOCTYPE with a public id",
		"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
		"\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">" HEAD TAIL, "DOCTYPE");

	/* The second line of defence, unreachable through a document while DOCTYPE is refused. */
	struct list_parse s = { .err = err, .err_cap = sizeof err };
	on_entity_decl(&s, "x", 0, "v", 1, NULL, NULL, NULL, NULL);
	CHECK(s.failed && strstr(err, "entity declaration"), "entity declarations fail the parse");
	CHECK(on_external_entity(NULL, "c", NULL, "file:///etc/passwd", NULL) == XML_STATUS_ERROR,
	      "external entities are never loaded");
}

static void test_entry_limit(void)
{
	struct {
		size_t objects, prefixes;
		bool ok;
	} cases[] = { { 1000, 0, true }, { 1001, 0, false }, { 0, 1001, false },
	              { 600, 400, true }, { 600, 401, false } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b = { 0 };
		add(&b, "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>\n");
		for (size_t k = 0; k < cases[i].objects; k++)
			add(&b, "<Contents><Key>k%zu</Key><Size>%zu</Size></Contents>\n", k, k);
		for (size_t k = 0; k < cases[i].prefixes; k++)
			add(&b, "<CommonPrefixes><Prefix>p%zu/</Prefix></CommonPrefixes>\n", k);
		add(&b, TAIL);
		json_t *v = parse(b.p);
		if (cases[i].ok) {
			json_t *last = json_array_get(json_object_get(v, "objects"), cases[i].objects - 1);
			CHECK(v && json_array_size(json_object_get(v, "objects")) == cases[i].objects &&
			      json_array_size(json_object_get(v, "common_prefixes")) == cases[i].prefixes &&
			      json_integer_value(json_object_get(last, "size")) == (json_int_t)cases[i].objects - 1,
			      "%zu objects + %zu prefixes accepted", cases[i].objects, cases[i].prefixes);
		} else {
			CHECK(!v && strstr(err, "more than 1000"), "%zu objects + %zu prefixes refused: %s",
			      cases[i].objects, cases[i].prefixes, err);
		}
		json_decref(v);
		free(b.p);
	}
}

static void test_key_limits(void)
{
	for (size_t n = S3_KEY_MAX; n <= S3_KEY_MAX + 1; n++) {
		struct buf b = { 0 };
		add(&b, HEAD "<Contents><Key>");
		add_repeat(&b, "k", n);
		add(&b, "</Key><Size>1</Size></Contents>" TAIL);
		json_t *v = parse(b.p);
		if (n == S3_KEY_MAX)
			CHECK(v, "key of %zu bytes accepted", n);
		else
			CHECK(!v && strstr(err, "object 1 is longer than 1024"), "key of %zu bytes refused: %s", n, err);
		json_decref(v);
		free(b.p);
	}
	/* Multi-byte characters count in bytes: 342 x 3 bytes = 1026. */
	struct buf b = { 0 };
	add(&b, HEAD "<CommonPrefixes><Prefix>");
	add_repeat(&b, "\xe2\x82\xac", 342);
	add(&b, "</Prefix></CommonPrefixes>" TAIL);
	expect_err("a common prefix of 1026 UTF-8 bytes", b.p, "common prefix 1 is longer");
	free(b.p);
	b = (struct buf){ 0 };
	add(&b, "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Prefix>");
	add_repeat(&b, "p", S3_KEY_MAX + 1);
	add(&b, "</Prefix>" TAIL);
	expect_err("a request prefix of 1025 bytes", b.p, "request prefix is longer than 1024");
	free(b.p);
	expect_err("an empty key", HEAD "<Contents><Key></Key><Size>1</Size></Contents>" TAIL, "object 1 is empty");
	expect_err("an empty common prefix", HEAD "<CommonPrefixes><Prefix/></CommonPrefixes>" TAIL,
	           "common prefix 1 is empty");
}

static void nested_doc(struct buf *b, size_t extra_levels, const char *where)
{
	add(b, "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>%s", where);
	add_repeat(b, "<x>", extra_levels);
	add_repeat(b, "</x>", extra_levels);
	add(b, "%s" TAIL, where[0] ? "</Contents>" : "");
}

static void test_depth(void)
{
	/* The root is level 1. */
	for (size_t extra = S3_XML_DEPTH_MAX - 1; extra <= S3_XML_DEPTH_MAX; extra++) {
		struct buf b = { 0 };
		nested_doc(&b, extra, "");
		json_t *v = parse(b.p);
		if (extra == S3_XML_DEPTH_MAX - 1)
			CHECK(v, "depth %zu accepted", extra + 1);
		else
			CHECK(!v && strstr(err, "deeper than 16"), "depth %zu refused: %s", extra + 1, err);
		json_decref(v);
		free(b.p);
	}
	struct buf b = { 0 };
	nested_doc(&b, S3_XML_DEPTH_MAX - 1, "<Contents><Key>k</Key><Size>1</Size>");
	expect_err("depth 17 inside Contents", b.p, "deeper than 16");
	free(b.p);
	b = (struct buf){ 0 };
	nested_doc(&b, 100000, "");
	expect_err("depth 100001", b.p, "deeper than 16");
	free(b.p);
}

static void test_text_limit(void)
{
	for (size_t n = S3_XML_TEXT_MAX; n <= S3_XML_TEXT_MAX + 1; n++) {
		struct buf b = { 0 };
		add(&b, HEAD "<Owner><ID>");
		add_repeat(&b, "i", n);
		add(&b, "</ID></Owner>" TAIL);
		json_t *v = parse(b.p);
		if (n == S3_XML_TEXT_MAX)
			CHECK(v, "%zu bytes of text in an unknown element accepted", n);
		else
			CHECK(!v && strstr(err, "more than 4096 bytes"), "%zu bytes in an unknown element refused: %s", n, err);
		json_decref(v);
		free(b.p);
	}
	/* Text arrives from expat in pieces (around references, CDATA); the bound is on the sum. */
	struct buf b = { 0 };
	add(&b, "<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated><NextContinuationToken>");
	add_repeat(&b, "t&amp;<![CDATA[c]]>", 1400);
	add(&b, "</NextContinuationToken>" TAIL);
	expect_err("a token of 4200 bytes in pieces", b.p, "more than 4096 bytes");
	free(b.p);
	b = (struct buf){ 0 };
	add(&b, HEAD);
	add_repeat(&b, " ", S3_XML_TEXT_MAX + 1);
	add(&b, TAIL);
	expect_err("4097 blanks between two tags", b.p, "more than 4096 bytes");
	free(b.p);

	char *big = xmalloc(S3_XML_BODY_MAX + 1);
	memset(big, ' ', S3_XML_BODY_MAX + 1);
	json_t *v = s3_list_objects_v2_parse(big, S3_XML_BODY_MAX + 1, err, sizeof err);
	CHECK(!v && strstr(err, "larger than"), "a body over 8 MiB refused: %s", err);
	free(big);
}

static void test_values(void)
{
	static const char *const bad_sizes[] = { "-1", "12a", "", " 5", "5 ", "1e3", "0x10",
	                                          "9007199254740992", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		char doc[512], what[64];
		snprintf(doc, sizeof doc, HEAD "<Contents><Key>k</Key><Size>%s</Size></Contents>" TAIL, bad_sizes[i]);
		snprintf(what, sizeof what, "Size \"%s\"", bad_sizes[i]);
		expect_err(what, doc, "<Size> is not a whole number");
	}
	json_t *v = parse(HEAD "<Contents><Key>k</Key><Size>9007199254740991</Size></Contents>"
	                  "<KeyCount>007</KeyCount>" TAIL);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(v, "objects"), 0), "size")) ==
	      9007199254740991LL && json_integer_value(json_object_get(v, "key_count")) == 7,
	      "Size 2^53-1 and KeyCount 007 accepted");
	json_decref(v);
	expect_err("KeyCount abc", HEAD "<KeyCount>abc</KeyCount>" TAIL, "<KeyCount>");
	expect_err("MaxKeys empty", HEAD "<MaxKeys/>" TAIL, "<MaxKeys>");
	expect_err("IsTruncated yes", "<ListBucketResult><Name>b</Name><IsTruncated>yes</IsTruncated>" TAIL,
	           "neither true nor false");
	expect_err("IsTruncated TRUE", "<ListBucketResult><Name>b</Name><IsTruncated>TRUE</IsTruncated>" TAIL,
	           "neither true nor false");
}

static void test_structure(void)
{
	expect_err("an S3 Error document", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
		"not <ListBucketResult>");
	expect_err("ListBucketResult below another root",
		"<Wrapper>" HEAD TAIL "</Wrapper>", "not <ListBucketResult>");
	expect_err("no Name", "<ListBucketResult><IsTruncated>false</IsTruncated>" TAIL, "no <Name>");
	expect_err("no IsTruncated", "<ListBucketResult><Name>b</Name>" TAIL, "no <IsTruncated>");
	expect_err("two Names", HEAD "<Name>c</Name>" TAIL, "<Name> appears twice");
	expect_err("two IsTruncated", HEAD "<IsTruncated>true</IsTruncated>" TAIL, "appears twice");
	expect_err("two Keys in one Contents",
		HEAD "<Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents>" TAIL, "<Key> appears twice");
	expect_err("two Prefixes in one CommonPrefixes",
		HEAD "<CommonPrefixes><Prefix>a/</Prefix><Prefix>b/</Prefix></CommonPrefixes>" TAIL, "appears twice");
	expect_err("Contents without Key", HEAD "<Contents><Size>1</Size></Contents>" TAIL, "object 1 has no <Key>");
	expect_err("Contents without Size",
		HEAD "<Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key></Contents>" TAIL,
		"object 2 has no <Size>");
	expect_err("CommonPrefixes without Prefix", HEAD "<CommonPrefixes/>" TAIL, "common prefix 1 has no <Prefix>");
	expect_err("an element inside Key",
		HEAD "<Contents><Key>a<b/>c</Key><Size>1</Size></Contents>" TAIL, "<Key> holds an element");
	expect_err("an element inside Name", "<ListBucketResult><Name><x/></Name>" TAIL, "<Name> holds an element");

	/* Fields only count in their own place; anything else is ignored, whatever its name.
	 * Namespaces are not looked at: s3:Name is Name. */
	expect_json("known names in unknown places are ignored",
		"<s3:ListBucketResult xmlns:s3=\"" NS "\" xmlns:o=\"urn:other\" o:attr=\"1\">"
		"<s3:Name>b</s3:Name><s3:IsTruncated>false</s3:IsTruncated>"
		"<s3:Key>top-level key</s3:Key><s3:Size>x</s3:Size>"
		"<?pi data?><!-- a comment with <Key> in it -->"
		"<Contents><Owner><Key>nested</Key><Contents/></Owner><Key>real</Key>"
		"<RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress></RestoreStatus>"
		"<Size>7</Size></Contents>"
		"<Delimiter>/</Delimiter><StartAfter>a</StartAfter><Contents2/>"
		"</s3:ListBucketResult>",
		"{\"bucket\":\"b\",\"common_prefixes\":[],\"key_count\":null,\"max_keys\":null,"
		"\"next_cursor\":null,\"objects\":[{\"etag\":null,\"key\":\"real\",\"last_modified\":null,"
		"\"size\":7,\"storage_class\":null}],\"prefix\":\"\",\"truncated\":false}");
}

static void test_truncated_documents(void)
{
	/* Every cut before the root's closing '>' leaves a document that is not well-formed. */
	size_t end = (size_t)(strrchr(example, '>') - example) + 1;
	size_t accepted = 0, silent = 0;
	for (size_t n = 0; n < end; n++) {
		json_t *v = parse_n(example, n);
		if (v)
			accepted++;
		else if (!err[0])
			silent++;
		json_decref(v);
	}
	CHECK(accepted == 0 && silent == 0, "all %zu cuts of the example refused with a reason", end);
	json_t *v = parse_n(example, end);
	CHECK(v != NULL, "the uncut example is accepted");
	json_decref(v);
}

static void test_garbage(void)
{
	static const struct { const char *what, *doc; size_t len; const char *needle; } cases[] = {
		{ "empty input", "", 0, "no element found" },
		{ "plain text", "hello", 5, "not well-formed" },
		{ "JSON", "{\"bucket\":\"b\"}", 14, "not well-formed" },
		{ "binary", "\x00\x01\x02\xff\xfe", 5, "not well-formed" },
		{ "a NUL inside", HEAD "\0" TAIL, sizeof(HEAD "\0" TAIL) - 1, "not well-formed" },
		{ "an unterminated start tag", "<ListBucketResult", 17, "not well-formed" },
		{ "mismatched tags", "<ListBucketResult></ListBucketResulx>", 37, "not well-formed" },
		{ "two roots", HEAD TAIL HEAD TAIL, sizeof(HEAD TAIL HEAD TAIL) - 1, "not well-formed" },
		{ "an unbound prefix", "<x:ListBucketResult/>", 21, "not well-formed" },
		{ "HTML", "<html><body>502 Bad Gateway</body></html>", 41, "not <ListBucketResult>" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].what, cases[i].doc, cases[i].len, cases[i].needle);
	json_t *v = s3_list_objects_v2_parse(NULL, 0, err, sizeof err);
	CHECK(!v && err[0], "NULL body refused: %s", err);
}

static void test_error_buffer(void)
{
	json_t *v = s3_list_objects_v2_parse("junk", 4, NULL, 0);
	CHECK(!v, "no error buffer: still refused");
	char small[8];
	memset(small, 'x', sizeof small);
	v = s3_list_objects_v2_parse("junk", 4, small, sizeof small);
	CHECK(!v && memchr(small, '\0', sizeof small) && strncmp(small, "not wel", 7) == 0,
	      "a small error buffer is cut and terminated");
	char big[S3_XML_ERROR_MAX];
	v = s3_list_objects_v2_parse(example, strlen(example), big, sizeof big);
	CHECK(v && big[0] == '\0', "success leaves the error empty");
	json_decref(v);
	/* The longest messages this file writes fit S3_XML_ERROR_MAX. */
	v = parse("<ListBucketResult>\n\n\n</b>");
	CHECK(!v && strlen(err) < sizeof err - 1, "expat's message fits: %s", err);
}

static void test_helpers(void)
{
	static const struct { const char *s; bool ok; } utf8[] = {
		{ "plain", true }, { "\xc3\xa9", true }, { "\xe2\x82\xac", true }, { "\xf0\x9f\x98\x80", true },
		{ "\xf4\x8f\xbf\xbf", true }, { "\xc0\x80", false }, { "\xc1\xbf", false }, { "\xe0\x80\xaf", false },
		{ "\xed\xa0\x80", false }, { "\xf0\x80\x80\xaf", false }, { "\xf4\x90\x80\x80", false },
		{ "\xf5\x80\x80\x80", false }, { "\x80", false }, { "\xe2\x82", false }, { "\xc3\x28", false },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++)
		if (utf8_valid((const unsigned char *)utf8[i].s, strlen(utf8[i].s)) != utf8[i].ok) {
			printf("     utf8 case %zu wrong\n", i);
			bad++;
		}
	CHECK(bad == 0, "UTF-8 validation: overlongs, surrogates, range, truncation");
	char out[16];
	CHECK(url_decode("a%2fb+c%7E", 10, out) == 6 && memcmp(out, "a/b c~", 6) == 0,
	      "url_decode: mixed case escapes and '+'");
	CHECK(url_decode("%2", 2, out) == -1 && url_decode("%g0", 3, out) == -1, "url_decode: short and bad escapes");
}

int main(void)
{
	test_example();
	test_truncation();
	test_common_prefixes();
	test_empty_bucket();
	test_escapes_and_utf8();
	test_url_encoding();
	test_dtd_refused();
	test_entry_limit();
	test_key_limits();
	test_depth();
	test_text_limit();
	test_values();
	test_structure();
	test_truncated_documents();
	test_garbage();
	test_error_buffer();
	test_helpers();
	return check_finish();
}
