/* The data server's S3 tools: s3_get (bounded byte ranges, as text or a blob), s3_put and
 * s3_list (ListObjectsV2 pages cut to the result cap, with cursors) on the buckets the settings
 * allow ("s3"). Requests are path-style: /<bucket>/<key>, the key percent-encoded once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "../common/aws_tool.h"
#include "../common/json_text.h"
#include "../common/settings.h"
#include "aws/s3_xml.h"
#include "data.h"

#define S3_BUCKET_MIN 3
#define S3_BUCKET_MAX 63
#define S3_OBJECT_SIZE_MAX 5497558138880LL        /* 5 TiB: S3's largest object */
#define S3_GET_LIMIT (16LL * 1024 * 1024)         /* ceiling of settings.s3.max_object_bytes */
#define S3_PUT_LIMIT (5LL * 1024 * 1024)          /* base64 of it still fits one MCP line */
#define S3_DEFAULT_BYTES (1024LL * 1024)
#define S3_ERROR_BODY_ROOM (64u * 1024u)          /* an error answer always fits the buffer */
#define S3_PUT_RESPONSE_MAX (64u * 1024u)
#define S3_TOKEN_MAX 1024                         /* a continuation token we pass on */
#define S3_CURSOR_MAX 4096
#define S3_DELIMITER_MAX 64
#define S3_CONTENT_TYPE_MAX 255
#define S3_QUERY_MAX 8192
#define S3_GET_NOTICE_ROOM 200   /* the truncation notice, with room to spare */
#define S3_GET_MIN_ROOM 256      /* object bytes shown however long the header is */
/* After a cut listing that ended on a common prefix, resume past every key under it: the
 * prefix followed by the largest code point sorts after all of them (S3 compares UTF-8 bytes). */
#define S3_PREFIX_SENTINEL "\xF4\x8F\xBF\xBF"
#define S3_START_AFTER_MAX (S3_KEY_MAX + 4)

static struct {
	struct allowlist buckets;       /* readable: s3_get, s3_list */
	struct allowlist write_buckets; /* writable: s3_put */
	long long max_object_bytes;
	long long max_put_bytes;
	size_t result_cap;
} cfg;

/* ---- names, keys and text ---- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool has_suffix(const char *s, size_t len, const char *x)
{
	size_t n = strlen(x);
	return len >= n && memcmp(s + len - n, x, n) == 0;
}

/* Whether the name is all digits and dots in four parts, as an IPv4 address. */
static bool looks_like_ip(const char *b)
{
	int parts = 1;
	for (const char *p = b; *p; p++) {
		if (*p == '.')
			parts++;
		else if (*p < '0' || *p > '9')
			return false;
	}
	return parts == 4;
}

/* S3's bucket naming rules (general purpose buckets). */
static bool s3_bucket_valid(const char *b)
{
	size_t len = strlen(b);
	if (len < S3_BUCKET_MIN || len > S3_BUCKET_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(b[i]) && b[i] != '.' && b[i] != '-')
			return false;
	if (!is_lower_alnum(b[0]) || !is_lower_alnum(b[len - 1]) || strstr(b, ".."))
		return false;
	if (looks_like_ip(b) || has_prefix(b, "xn--") || has_prefix(b, "sthree-") ||
	    has_suffix(b, len, "-s3alias") || has_suffix(b, len, "--ol-s3"))
		return false;
	return true;
}

/* NULL when `key` (len bytes) can be an object key here; otherwise why not. "." and ".."
 * segments are refused: HTTP clients resolve them, so the request would reach another key
 * (or bucket) than the one checked against the allowlist. */
static const char *s3_key_problem(const char *key, size_t len)
{
	if (len < 1 || len > S3_KEY_MAX)
		return "key must be 1 to 1024 bytes of UTF-8";
	if (!mcp_text_is_utf8(key, len))
		return "key must be valid UTF-8 without NUL bytes";
	for (size_t start = 0; start <= len;) {
		const char *slash = memchr(key + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - key) : len;
		size_t seg = end - start;
		if ((seg == 1 && key[start] == '.') || (seg == 2 && key[start] == '.' && key[start + 1] == '.'))
			return "key must not have '.' or '..' path segments (they would address another key)";
		start = end + 1;
	}
	return NULL;
}

/* A prefix (may be empty) or delimiter: at most `max` bytes of UTF-8, no NUL. */
static bool s3_text_param_valid(const char *s, size_t len, size_t max)
{
	return len <= max && mcp_text_is_utf8(s, len);
}

/* Where a chunk of an object holds UTF-8 text. A chunk that starts inside the object may begin
 * with the tail of a character (skipped), and one that ends before the object's end may stop
 * inside a character (left for the next call). Returns whether the rest, data[*skip ..
 * *skip + *keep), is valid UTF-8 without NUL. */
static bool s3_text_slice(const unsigned char *data, size_t len, bool at_start, bool at_end,
                          size_t *skip, size_t *keep)
{
	size_t s = 0;
	if (!at_start)
		while (s < len && s < 3 && (data[s] & 0xC0) == 0x80)
			s++;
	size_t e = len;
	if (!at_end) {
		for (size_t back = 1; back <= 3 && back <= len - s; back++) {
			unsigned char c = data[len - back];
			if ((c & 0xC0) == 0x80)
				continue;
			size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
			if (need > back)
				e = len - back;
			break;
		}
	}
	*skip = s;
	*keep = e - s;
	return mcp_text_is_utf8(data + s, e - s);
}

/* ---- numbers in headers and bodies ---- */

/* Decimal digits only, at most 2^53 - 1 (every byte offset of an S3 object). */
static int parse_offset(const char *s, size_t len, long long *out)
{
	if (len == 0 || len > 16)
		return -1;
	long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 9007199254740991LL)
		return -1;
	*out = v;
	return 0;
}

/* A Content-Range value: "bytes FIRST-LAST/TOTAL", TOTAL may be "*" (unknown: -1), and the
 * form "bytes * /TOTAL" (without the blank) of an unsatisfiable range (first = last = -1). */
struct s3_range {
	long long first, last, total;
};

static int s3_content_range_parse(const char *v, struct s3_range *r)
{
	if (strncmp(v, "bytes ", 6) != 0)
		return -1;
	const char *p = v + 6;
	const char *slash = strchr(p, '/');
	if (!slash)
		return -1;
	const char *t = slash + 1;
	r->total = -1;
	if (strcmp(t, "*") != 0 && parse_offset(t, strlen(t), &r->total) != 0)
		return -1;
	if (slash - p == 1 && p[0] == '*') {
		r->first = r->last = -1;
		return r->total >= 0 ? 0 : -1; /* "* / *" says nothing */
	}
	const char *dash = memchr(p, '-', (size_t)(slash - p));
	if (!dash || parse_offset(p, (size_t)(dash - p), &r->first) != 0 ||
	    parse_offset(dash + 1, (size_t)(slash - dash - 1), &r->last) != 0)
		return -1;
	if (r->last < r->first || (r->total >= 0 && r->last >= r->total))
		return -1;
	return 0;
}

/* <ActualObjectSize>N</ActualObjectSize> in S3's InvalidRange error; -1 when absent. */
static long long s3_actual_object_size(const char *body, size_t len)
{
	static const char open[] = "<ActualObjectSize>";
	size_t n = len < S3_ERROR_BODY_ROOM ? len : S3_ERROR_BODY_ROOM;
	const char *at = memmem(body, n, open, sizeof open - 1);
	if (!at)
		return -1;
	const char *digits = at + sizeof open - 1;
	const char *end = body + n;
	const char *close = memchr(digits, '<', (size_t)(end - digits));
	long long size;
	if (!close || parse_offset(digits, (size_t)(close - digits), &size) != 0)
		return -1;
	return size;
}

/* ---- base64 ---- */

static char *base64_encode(const void *data, size_t len)
{
	size_t cap = (len + 2) / 3 * 4 + 1, olen = 0;
	char *out = malloc(cap);
	if (out && mbedtls_base64_encode((unsigned char *)out, cap, &olen, data, len) != 0) {
		free(out);
		return NULL;
	}
	if (out)
		out[olen] = '\0'; /* mbedtls leaves the buffer untouched for no input */
	return out;
}

/* Strict standard base64 (padded, canonical, no blanks): the length of the decoded bytes written into
 * a malloc'd *out, or -1. mbedtls alone would let line breaks through. */
static long base64_decode(const char *text, size_t len, unsigned char **out)
{
	*out = NULL;
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		             c == '+' || c == '/';
		if (!alpha && !(c == '=' && i >= len - 2 && (i == len - 1 || text[len - 1] == '=')))
			return -1;
	}
	size_t cap = len / 4 * 3 + 1, olen = 0;
	*out = malloc(cap);
	if (!*out)
		return -1;
	/* Canonical only (unused bits zero): one spelling per value, as encoding gives back. */
	bool ok = mbedtls_base64_decode(*out, cap, &olen, (const unsigned char *)text, len) == 0;
	char *again = ok ? base64_encode(*out, olen) : NULL;
	ok = again && strlen(again) == len && memcmp(again, text, len) == 0;
	free(again);
	if (!ok) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return (long)olen;
}

/* ---- s3_list cursors ----
 * Ours, so a page the result cap cut can resume where it stopped: "ct:" + S3's continuation
 * token (printable ASCII, passed on as it is), or "after:" + base64 of the key to list after
 * (start-after). */

enum s3_cursor_kind { S3_CURSOR_TOKEN, S3_CURSOR_AFTER };

struct s3_cursor {
	enum s3_cursor_kind kind;
	size_t len;
	char value[S3_START_AFTER_MAX > S3_TOKEN_MAX ? S3_START_AFTER_MAX + 1 : S3_TOKEN_MAX + 1];
};

static bool token_valid(const char *t, size_t len)
{
	if (len < 1 || len > S3_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return true;
}

/* A malloc'd cursor, or NULL when the value cannot be one (or memory ran out). */
static char *s3_cursor_encode(enum s3_cursor_kind kind, const char *value, size_t len)
{
	if (kind == S3_CURSOR_TOKEN) {
		if (!token_valid(value, len))
			return NULL;
		char *c = malloc(len + 4);
		if (c)
			snprintf(c, len + 4, "ct:%.*s", (int)len, value);
		return c;
	}
	if (len < 1 || len > S3_START_AFTER_MAX)
		return NULL;
	char *b64 = base64_encode(value, len);
	char *c = b64 ? malloc(strlen(b64) + 7) : NULL;
	if (c)
		snprintf(c, strlen(b64) + 7, "after:%s", b64);
	free(b64);
	return c;
}

static int s3_cursor_decode(const char *cursor, size_t len, struct s3_cursor *out, char *err,
                            size_t errlen)
{
	if (len > S3_CURSOR_MAX || strlen(cursor) != len) {
		snprintf(err, errlen, "cursor: not a next_cursor from s3_list (too long or holds NUL)");
		return -1;
	}
	if (strncmp(cursor, "ct:", 3) == 0) {
		if (!token_valid(cursor + 3, len - 3)) {
			snprintf(err, errlen, "cursor: not a next_cursor from s3_list (bad continuation token)");
			return -1;
		}
		out->kind = S3_CURSOR_TOKEN;
		out->len = len - 3;
		memcpy(out->value, cursor + 3, out->len);
		out->value[out->len] = '\0';
		return 0;
	}
	if (strncmp(cursor, "after:", 6) == 0) {
		unsigned char *key = NULL;
		long n = base64_decode(cursor + 6, len - 6, &key);
		bool good = n >= 1 && n <= S3_START_AFTER_MAX && mcp_text_is_utf8(key, (size_t)n);
		if (good) {
			out->kind = S3_CURSOR_AFTER;
			out->len = (size_t)n;
			memcpy(out->value, key, out->len);
			out->value[out->len] = '\0';
		}
		free(key);
		if (good)
			return 0;
		snprintf(err, errlen, "cursor: not a next_cursor from s3_list (bad key position)");
		return -1;
	}
	snprintf(err, errlen, "cursor: not a next_cursor from s3_list (it starts with ct: or after:)");
	return -1;
}

/* ---- results ---- */

/* One answered GET, as s3_get_result reads it. */
struct s3_object_part {
	const char *bucket;
	const char *key;
	const unsigned char *data; /* the bytes received */
	size_t len;
	long long first;           /* the object offset of data[0] */
	long long total;           /* the object's size; -1 when S3 did not say */
	size_t requested;          /* bytes asked for (to guess "more" when the size is unknown) */
	const char *content_type;  /* NULL when unknown */
	const char *etag;
};

static json_t *nullable_string(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *nullable_offset(long long v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* The first content item: what was read, as one JSON line. */
static char *get_header(const struct s3_object_part *p, long long shown_first, size_t shown,
                        bool text, long long next)
{
	char range[64] = "";
	if (shown)
		snprintf(range, sizeof range, "bytes %lld-%lld", shown_first, shown_first + (long long)shown - 1);
	json_t *h = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:s, s:o}",
	                      "bucket", p->bucket, "key", p->key, "size", nullable_offset(p->total),
	                      "content_type", nullable_string(p->content_type),
	                      "etag", nullable_string(p->etag),
	                      "range", shown ? json_string(range) : json_null(),
	                      "bytes", (json_int_t)shown, "encoding", text ? "text" : "base64",
	                      "next_range_start", nullable_offset(next));
	char *out = h ? json_dumps(h, JSON_COMPACT) : NULL;
	json_decref(h);
	return out;
}

static char *resource_uri(const char *bucket, const char *key)
{
	size_t cap = strlen(bucket) + 3 * strlen(key) + 8;
	char *uri = malloc(cap);
	if (!uri)
		return NULL;
	int n = snprintf(uri, cap, "s3://%s/", bucket);
	if (aws_uri_encode(key, strlen(key), true, uri + n, cap - (size_t)n) < 0) {
		free(uri);
		return NULL;
	}
	return uri;
}

/* The CallToolResult of s3_get: a header line, then the bytes shown as text (valid UTF-8) or as
 * an embedded resource blob, then, when the object goes on, how to read the rest. The text of
 * the header, the object text (or the blob's base64) and the notice stay within `cap` unless
 * the header alone (a long key) leaves less than S3_GET_MIN_ROOM. */
static json_t *s3_get_result(const struct s3_object_part *p, size_t cap)
{
	bool at_end = p->total >= 0 && p->first + (long long)p->len >= p->total;
	size_t skip = 0, keep = 0;
	bool text = s3_text_slice(p->data, p->len, p->first == 0, at_end, &skip, &keep);
	if (text && keep == 0 && p->len > 0)
		text = false; /* only a piece of one character: show the bytes, so the caller moves on */
	/* The header at its longest (every number at its widest) bounds what is left. */
	char *widest = get_header(p, S3_OBJECT_SIZE_MAX, p->len, text, S3_OBJECT_SIZE_MAX);
	if (!widest)
		return NULL;
	size_t overhead = strlen(widest) + S3_GET_NOTICE_ROOM;
	free(widest);
	size_t room = cap > overhead + S3_GET_MIN_ROOM ? cap - overhead : S3_GET_MIN_ROOM;

	long long shown_first = p->first + (long long)(text ? skip : 0);
	size_t shown;
	if (text) {
		bool cut;
		/* Measured as escaped: control bytes grow sixfold inside the JSON string. */
		shown = json_text_cut((const char *)p->data + skip, keep, room, &cut);
	} else {
		shown = p->len < room / 4 * 3 ? p->len : room / 4 * 3;
	}
	long long after = shown_first + (long long)shown;
	bool more = p->total >= 0 ? after < p->total
	                          : after < p->first + (long long)p->len || p->len >= p->requested;
	long long next = more ? after : -1;

	char *header = get_header(p, shown_first, shown, text, next);
	json_t *content = json_array();
	json_t *body = NULL;
	if (text) {
		body = json_pack("{s:s, s:s%}", "type", "text", "text", (const char *)p->data + skip, shown);
	} else {
		char *b64 = base64_encode(p->data, shown);
		char *uri = resource_uri(p->bucket, p->key);
		if (b64 && uri)
			body = json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "resource", "resource", "uri", uri,
			                 "mimeType", p->content_type ? p->content_type : "application/octet-stream",
			                 "blob", b64);
		free(b64);
		free(uri);
	}
	json_t *result = NULL;
	if (header && content && body &&
	    json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", header)) == 0 &&
	    json_array_append(content, body) == 0) {
		int rc = 0;
		if (more) {
			char notice[S3_GET_NOTICE_ROOM];
			if (p->total >= 0)
				snprintf(notice, sizeof notice, "[truncated: bytes %lld-%lld of %lld shown; call s3_get "
				         "with range_start=%lld for more]", shown_first, after - 1, p->total, after);
			else
				snprintf(notice, sizeof notice, "[truncated: bytes %lld-%lld of an object of unknown "
				         "size shown; call s3_get with range_start=%lld for more]", shown_first,
				         after - 1, after);
			rc = json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", notice));
		}
		if (rc == 0)
			result = json_pack("{s:O, s:b}", "content", content, "isError", 0);
	}
	free(header);
	json_decref(body);
	json_decref(content);
	return result;
}

/* One entry of a listing in key order: an object (its key) or a common prefix. */
struct list_entry {
	const char *name;
	bool is_prefix;
	json_t *value;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_entry *)a)->name, ((const struct list_entry *)b)->name);
}

/* The result with the first `m` entries; *size gets its compact JSON length. */
static json_t *list_page(const struct list_entry *e, size_t n, size_t m, const char *bucket,
                         const char *prefix, const char *next_cursor, size_t *size)
{
	json_t *objects = json_array(), *prefixes = json_array();
	for (size_t i = 0; objects && prefixes && i < m; i++)
		if (json_array_append(e[i].is_prefix ? prefixes : objects, e[i].value) != 0)
			break;
	json_t *out = NULL;
	if (objects && prefixes)
		out = json_pack("{s:s, s:s, s:O, s:O, s:I, s:o}", "bucket", bucket, "prefix", prefix,
		                "objects", objects, "common_prefixes", prefixes, "count", (json_int_t)m,
		                "next_cursor", next_cursor ? json_string(next_cursor) : json_null());
	json_decref(objects);
	json_decref(prefixes);
	if (out && m < n) {
		char notice[160];
		snprintf(notice, sizeof notice, "[truncated: %zu of %zu entries shown; call s3_list with "
		         "cursor=next_cursor for more]", m, n);
		if (json_object_set_new(out, "notice", json_string(notice)) != 0) {
			json_decref(out);
			out = NULL;
		}
	}
	char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	if (!text) {
		json_decref(out);
		return NULL;
	}
	*size = strlen(text);
	free(text);
	return out;
}

/* The cursor that resumes after entry e (see S3_PREFIX_SENTINEL). */
static char *after_cursor(const struct list_entry *e)
{
	char key[S3_START_AFTER_MAX + 1];
	int n = snprintf(key, sizeof key, "%s%s", e->name, e->is_prefix ? S3_PREFIX_SENTINEL : "");
	if (n < 0 || (size_t)n >= sizeof key)
		return NULL;
	return s3_cursor_encode(S3_CURSOR_AFTER, key, (size_t)n);
}

/* Objects and common prefixes into e[], unsorted; -1 for an entry without a name or size. */
static int collect_entries(json_t *objects, json_t *prefixes, struct list_entry *e)
{
	size_t i, m = 0;
	json_t *v;
	json_array_foreach(objects, i, v) {
		const char *k = json_string_value(json_object_get(v, "key"));
		if (!k || !json_is_integer(json_object_get(v, "size")))
			return -1;
		e[m++] = (struct list_entry){ k, false, v };
	}
	json_array_foreach(prefixes, i, v) {
		if (!json_string_value(v))
			return -1;
		e[m++] = (struct list_entry){ json_string_value(v), true, v };
	}
	return 0;
}

/* s3_list's structured result from a parsed ListObjectsV2 page (s3_list_objects_v2_parse):
 * {"bucket", "prefix", "objects", "common_prefixes", "count", "next_cursor", "notice"?}.
 * Over the cap, trailing entries (objects and prefixes in key order) are dropped and
 * next_cursor resumes after the last one kept; at least one entry is kept so paging always
 * moves on. NULL with err when the page is unusable. */
static json_t *s3_list_result(json_t *parsed, const char *bucket, const char *prefix, size_t cap,
                              char *err, size_t errlen)
{
	json_t *objects = json_object_get(parsed, "objects");
	json_t *prefixes = json_object_get(parsed, "common_prefixes");
	if (!json_is_array(objects) || !json_is_array(prefixes) ||
	    json_array_size(objects) + json_array_size(prefixes) > S3_LIST_ENTRIES_MAX) {
		snprintf(err, errlen, "the listing has no usable objects or common prefixes");
		return NULL;
	}
	size_t n = json_array_size(objects) + json_array_size(prefixes);
	struct list_entry *e = calloc(n + 1, sizeof *e);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (collect_entries(objects, prefixes, e) != 0) {
		free(e);
		snprintf(err, errlen, "the listing has an entry without a key or size");
		return NULL;
	}
	qsort(e, n, sizeof *e, entry_cmp);

	const char *token = json_string_value(json_object_get(parsed, "next_cursor"));
	char *cursor = NULL;
	if (json_is_true(json_object_get(parsed, "truncated"))) {
		cursor = token ? s3_cursor_encode(S3_CURSOR_TOKEN, token, strlen(token)) : NULL;
		if (!cursor) {
			snprintf(err, errlen, "S3's continuation token cannot be passed on (over %d printable "
			         "characters)", S3_TOKEN_MAX);
			free(e);
			return NULL;
		}
	}
	size_t size = 0;
	json_t *out = list_page(e, n, n, bucket, prefix, cursor, &size);
	free(cursor);
	if (out && size > cap && n > 1) {
		/* The most entries that fit, by bisection on whole pages: the cursor and the notice
		 * change with the cut, so only the page itself can say. */
		size_t lo = 1, hi = n - 1;
		json_decref(out);
		out = NULL;
		while (lo < hi) {
			size_t mid = lo + (hi - lo + 1) / 2;
			char *c = after_cursor(&e[mid - 1]);
			json_t *page = c ? list_page(e, n, mid, bucket, prefix, c, &size) : NULL;
			free(c);
			if (!page)
				break;
			json_decref(page);
			if (size <= cap)
				lo = mid;
			else
				hi = mid - 1;
		}
		char *c = after_cursor(&e[lo - 1]);
		out = c ? list_page(e, n, lo, bucket, prefix, c, &size) : NULL;
		free(c);
	}
	free(e);
	if (!out)
		snprintf(err, errlen, "out of memory");
	return out;
}

/* ---- calls ---- */

struct s3_call {
	struct mcp_call *call;
	struct aws_op *op;
	char bucket[S3_BUCKET_MAX + 1];
	char key[S3_KEY_MAX + 1];
	char prefix[S3_KEY_MAX + 1];
	long long start;  /* s3_get: range_start */
	size_t requested; /* s3_get: bytes asked for */
	size_t size;      /* s3_put: bytes written */
};

static void on_cancel(struct mcp_call *call, void *arg)
{
	struct s3_call *c = arg;
	aws_op_cancel(c->op);
	mcp_call_fail(call, "%s: cancelled", mcp_call_tool(call));
	free(c);
}

static struct s3_call *s3_call_new(struct mcp_call *call, const char *bucket)
{
	struct s3_call *c = calloc(1, sizeof *c);
	if (!c) {
		mcp_call_fail(call, "%s: out of memory; no request was made", mcp_call_tool(call));
		return NULL;
	}
	c->call = call;
	snprintf(c->bucket, sizeof c->bucket, "%s", bucket);
	return c;
}

/* Sends the request for c; on failure to start, ends the call and frees c. */
static void s3_start(struct s3_call *c, const struct aws_request *req, aws_done_fn done)
{
	c->op = aws_call(aws_tool_client(), req, done, c);
	if (!c->op) {
		mcp_call_fail(c->call, "%s: the S3 request could not be made (out of memory?); no request "
		              "was made", mcp_call_tool(c->call));
		free(c);
		return;
	}
	mcp_call_on_cancel(c->call, on_cancel, c);
}

/* A failed S3 request as a tool error naming the bucket (and key). */
static void s3_fail(struct s3_call *c, const struct aws_result *res)
{
	char context[S3_KEY_MAX + 300];
	int n = c->key[0] ? snprintf(context, sizeof context, "bucket '%s', key '%s'", c->bucket, c->key)
	                  : snprintf(context, sizeof context, "bucket '%s'", c->bucket);
	if (n > 0 && (size_t)n < sizeof context && strcmp(res->code, "PermanentRedirect") == 0)
		snprintf(context + n, sizeof context - (size_t)n, ": the bucket is in another region than "
		         "%s (set AWS_REGION to the bucket's)", aws_client_region(aws_tool_client()));
	aws_tool_fail(c->call, res, context);
	free(c);
}

/* Takes S3's answer for a call: it can no longer be cancelled, and a failed request ends it
 * here. The call when the request succeeded; NULL when it was ended (and freed). */
static struct s3_call *s3_answered(const struct aws_result *res, void *arg)
{
	struct s3_call *c = arg;
	mcp_call_on_cancel(c->call, NULL, NULL);
	if (res->ok)
		return c;
	s3_fail(c, res);
	return NULL;
}

/* A bucket argument, checked: false when the call was ended. */
static bool bucket_arg(struct mcp_call *call, json_t *args, const char **bucket)
{
	*bucket = json_string_value(json_object_get(args, "bucket"));
	if (*bucket && s3_bucket_valid(*bucket))
		return true;
	mcp_call_fail(call, "%s: bucket must be an S3 bucket name (3 to 63 lowercase letters, digits, "
	              "dots and hyphens, starting and ending with a letter or digit)", mcp_call_tool(call));
	return false;
}

static bool key_arg(struct mcp_call *call, json_t *args, const char **key)
{
	json_t *k = json_object_get(args, "key");
	*key = json_string_value(k);
	const char *why = *key ? s3_key_problem(*key, json_string_length(k)) : "key must be a string";
	if (!why)
		return true;
	mcp_call_fail(call, "%s: %s", mcp_call_tool(call), why);
	return false;
}

/* "/<bucket>/<key encoded once>" */
static int object_path(const char *bucket, const char *key, char *out, size_t cap)
{
	int n = snprintf(out, cap, "/%s/", bucket);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return aws_uri_encode(key, strlen(key), true, out + n, cap - (size_t)n) < 0 ? -1 : 0;
}

/* ---- s3_get ---- */

static void get_finish(struct s3_call *c, const struct s3_object_part *p)
{
	json_t *r = s3_get_result(p, cfg.result_cap);
	if (r)
		mcp_call_finish(c->call, r);
	else
		mcp_call_fail(c->call, "s3_get: out of memory building the result [bucket '%s', key '%s']",
		              c->bucket, c->key);
	free(c);
}

/* 416: the start is at or past the end. An empty object answers any range so; that is an
 * empty result, not an error, when the caller read from the start. */
static void get_unsatisfiable(struct s3_call *c, const struct aws_result *res)
{
	char value[128];
	struct s3_range r;
	long long size = -1;
	if (aws_result_header(res, "Content-Range", value, sizeof value) == 0 &&
	    s3_content_range_parse(value, &r) == 0)
		size = r.total;
	if (size < 0)
		size = s3_actual_object_size(res->body, res->body_len);
	if (size == 0 && c->start == 0) {
		const struct s3_object_part p = { .bucket = c->bucket, .key = c->key, .data = (const void *)"",
		                                  .total = 0, .requested = c->requested };
		get_finish(c, &p);
		return;
	}
	if (size >= 0)
		mcp_call_fail(c->call, "s3_get: range_start %lld is beyond the end of the object: its size is "
		              "%lld bytes, so range_start must be below %lld [bucket '%s', key '%s']", c->start,
		              size, size, c->bucket, c->key);
	else
		mcp_call_fail(c->call, "s3_get: range_start %lld is beyond the end of the object (S3 did not "
		              "say its size) [bucket '%s', key '%s']", c->start, c->bucket, c->key);
	free(c);
}

static void get_done(const struct aws_result *res, void *arg)
{
	struct s3_call *c = s3_answered(res, arg);
	if (!c)
		return;
	if (res->status == 416) {
		get_unsatisfiable(c, res);
		return;
	}
	char type[S3_CONTENT_TYPE_MAX + 1], etag[256], range[128];
	bool has_type = aws_result_header(res, "Content-Type", type, sizeof type) == 0 &&
	                mcp_text_is_utf8(type, strlen(type));
	bool has_etag = aws_result_header(res, "ETag", etag, sizeof etag) == 0 &&
	                mcp_text_is_utf8(etag, strlen(etag));
	struct s3_object_part p = { .bucket = c->bucket, .key = c->key, .requested = c->requested,
	                            .content_type = has_type ? type : NULL, .etag = has_etag ? etag : NULL };
	const unsigned char *body = (const unsigned char *)res->body;
	if (res->status == 206) {
		struct s3_range r;
		if (aws_result_header(res, "Content-Range", range, sizeof range) != 0 ||
		    s3_content_range_parse(range, &r) != 0 || r.first != c->start ||
		    (unsigned long long)(r.last - r.first + 1) != res->body_len) {
			mcp_call_fail(c->call, "s3_get: S3 answered 206 without a Content-Range matching the "
			              "bytes asked for [bucket '%s', key '%s']", c->bucket, c->key);
			free(c);
			return;
		}
		p.data = body, p.len = res->body_len, p.first = r.first, p.total = r.total;
	} else {
		/* The whole object (the Range was ignored): show the part asked for. */
		if ((unsigned long long)c->start > res->body_len ||
		    (c->start > 0 && (unsigned long long)c->start == res->body_len)) {
			mcp_call_fail(c->call, "s3_get: range_start %lld is beyond the end of the object: its size "
			              "is %zu bytes [bucket '%s', key '%s']", c->start, res->body_len, c->bucket,
			              c->key);
			free(c);
			return;
		}
		size_t left = res->body_len - (size_t)c->start;
		p.data = body + c->start;
		p.len = left < c->requested ? left : c->requested;
		p.first = c->start;
		p.total = (long long)res->body_len;
	}
	get_finish(c, &p);
}

static void s3_get(struct mcp_call *call, json_t *args)
{
	const char *bucket, *key;
	if (!bucket_arg(call, args, &bucket) || !key_arg(call, args, &key))
		return;
	json_t *rs = json_object_get(args, "range_start");
	json_t *mb = json_object_get(args, "max_bytes");
	long long start = rs ? json_integer_value(rs) : 0;
	long long max = mb ? json_integer_value(mb) : cfg.max_object_bytes;
	if (rs && (!json_is_integer(rs) || start < 0 || start >= S3_OBJECT_SIZE_MAX)) {
		mcp_call_fail(call, "s3_get: range_start must be an integer from 0 to %lld", S3_OBJECT_SIZE_MAX - 1);
		return;
	}
	if (mb && (!json_is_integer(mb) || max < 1 || max > cfg.max_object_bytes)) {
		mcp_call_fail(call, "s3_get: max_bytes must be from 1 to %lld (settings.s3.max_object_bytes)",
		              cfg.max_object_bytes);
		return;
	}
	if (aws_tool_refuse_unlisted(call, &cfg.buckets, "bucket", bucket, "s3.buckets") ||
	    aws_tool_refuse_unavailable(call))
		return;
	struct s3_call *c = s3_call_new(call, bucket);
	if (!c)
		return;
	snprintf(c->key, sizeof c->key, "%s", key);
	/* No more than one result can show: the rest is read with range_start. */
	c->start = start;
	c->requested = (size_t)(max < (long long)cfg.result_cap ? max : (long long)cfg.result_cap);
	char path[S3_BUCKET_MAX + 3 * S3_KEY_MAX + 8];
	char range[64];
	snprintf(range, sizeof range, "bytes=%lld-%lld", start, start + (long long)c->requested - 1);
	if (object_path(bucket, key, path, sizeof path) != 0) {
		mcp_call_fail(call, "s3_get: the key does not fit a request path; no request was made");
		free(c);
		return;
	}
	static const long accept[] = { 416, 0 };
	const struct sigv4_header headers[] = { { "Range", range } };
	const struct aws_request req = {
		.service = &AWS_S3, .method = "GET", .path = path, .headers = headers, .n_headers = 1,
		.max_response = c->requested > S3_ERROR_BODY_ROOM ? c->requested : S3_ERROR_BODY_ROOM,
		.accept_status = accept,
	};
	s3_start(c, &req, get_done);
}

/* ---- s3_put ---- */

static bool content_type_valid(const char *t)
{
	size_t len = strlen(t);
	if (len < 1 || len > S3_CONTENT_TYPE_MAX || t[0] == ' ' || t[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++)
		if (t[i] < ' ' || t[i] > '~')
			return false;
	return true;
}

static void put_done(const struct aws_result *res, void *arg)
{
	struct s3_call *c = s3_answered(res, arg);
	if (!c)
		return;
	char etag[256];
	bool has_etag = aws_result_header(res, "ETag", etag, sizeof etag) == 0 &&
	                mcp_text_is_utf8(etag, strlen(etag));
	json_t *out = json_pack("{s:s, s:s, s:o, s:I}", "bucket", c->bucket, "key", c->key,
	                        "etag", nullable_string(has_etag ? etag : NULL), "size", (json_int_t)c->size);
	if (out)
		mcp_call_finish(c->call, mcp_tool_structured(out));
	else
		mcp_call_fail(c->call, "s3_put: out of memory after the write [bucket '%s', key '%s']",
		              c->bucket, c->key);
	free(c);
}

/* The bytes to write: the text as it is, or decoded base64 (*owned then holds them). */
static bool put_body(struct mcp_call *call, json_t *args, const unsigned char **data, size_t *len,
                     unsigned char **owned)
{
	json_t *body = json_object_get(args, "body");
	*owned = NULL;
	if (!json_is_string(body)) {
		mcp_call_fail(call, "s3_put: body must be a string");
		return false;
	}
	if (json_is_true(json_object_get(args, "base64"))) {
		long n = base64_decode(json_string_value(body), json_string_length(body), owned);
		if (n < 0) {
			mcp_call_fail(call, "s3_put: body is not valid base64 (standard alphabet, padded, no "
			              "blanks) although base64 is true");
			return false;
		}
		*data = *owned;
		*len = (size_t)n;
	} else {
		*data = (const unsigned char *)json_string_value(body);
		*len = json_string_length(body);
	}
	if ((long long)*len > cfg.max_put_bytes) {
		mcp_call_fail(call, "s3_put: body is %zu bytes; settings.s3.max_put_bytes allows %lld; no "
		              "request was made", *len, cfg.max_put_bytes);
		free(*owned);
		*owned = NULL;
		return false;
	}
	return true;
}

static void s3_put(struct mcp_call *call, json_t *args)
{
	const char *bucket, *key;
	if (!bucket_arg(call, args, &bucket) || !key_arg(call, args, &key))
		return;
	json_t *ct = json_object_get(args, "content_type");
	bool binary = json_is_true(json_object_get(args, "base64"));
	const char *type = ct ? json_string_value(ct)
	                      : binary ? "application/octet-stream" : "text/plain; charset=utf-8";
	if (!type || !content_type_valid(type)) {
		mcp_call_fail(call, "s3_put: content_type must be 1 to %d printable ASCII characters, such as "
		              "text/csv", S3_CONTENT_TYPE_MAX);
		return;
	}
	const unsigned char *data;
	size_t len;
	unsigned char *owned;
	if (!put_body(call, args, &data, &len, &owned))
		return;
	if (aws_tool_refuse_unlisted(call, &cfg.write_buckets, "bucket", bucket, "s3.write_buckets")) {
		free(owned);
		return;
	}
	struct s3_call *c = aws_tool_refuse_unavailable(call) ? NULL : s3_call_new(call, bucket);
	char path[S3_BUCKET_MAX + 3 * S3_KEY_MAX + 8];
	if (c && object_path(bucket, key, path, sizeof path) != 0) {
		mcp_call_fail(call, "s3_put: the key does not fit a request path; no request was made");
		free(c);
		c = NULL;
	}
	if (!c) {
		free(owned);
		return;
	}
	snprintf(c->key, sizeof c->key, "%s", key);
	c->size = len;
	const struct sigv4_header headers[] = { { "Content-Type", type } };
	const struct aws_request req = {
		.service = &AWS_S3, .method = "PUT", .path = path, .headers = headers, .n_headers = 1,
		.body = data, .body_len = len, .max_response = S3_PUT_RESPONSE_MAX,
	};
	s3_start(c, &req, put_done); /* the client copied the body */
	free(owned);
}

/* ---- s3_list ---- */

static void list_done(const struct aws_result *res, void *arg)
{
	struct s3_call *c = s3_answered(res, arg);
	if (!c)
		return;
	char err[S3_XML_ERROR_MAX + 64] = "";
	json_t *parsed = s3_list_objects_v2_parse(res->body, res->body_len, err, sizeof err);
	json_t *out = parsed ? s3_list_result(parsed, c->bucket, c->prefix, cfg.result_cap, err, sizeof err)
	                     : NULL;
	json_decref(parsed);
	if (out)
		mcp_call_finish(c->call, mcp_tool_structured(out));
	else
		mcp_call_fail(c->call, "s3_list: S3's answer could not be used: %s [bucket '%s']", err, c->bucket);
	free(c);
}

static int query_add(char *q, size_t cap, size_t *off, const char *name, const char *value, size_t len)
{
	int n = snprintf(q + *off, cap - *off, "%s%s=", *off ? "&" : "", name);
	if (n < 0 || (size_t)n >= cap - *off)
		return -1;
	*off += (size_t)n;
	int e = aws_uri_encode(value, len, false, q + *off, cap - *off);
	if (e < 0)
		return -1;
	*off += (size_t)e;
	return 0;
}

/* The ListObjectsV2 query, names in sorted order. */
static int list_query(char *q, size_t cap, const struct s3_cursor *cursor, const char *delimiter,
                      long long limit, const char *prefix)
{
	char keys[16];
	snprintf(keys, sizeof keys, "%lld", limit);
	size_t off = 0;
	q[0] = '\0';
	bool token = cursor && cursor->kind == S3_CURSOR_TOKEN;
	bool after = cursor && cursor->kind == S3_CURSOR_AFTER;
	if ((token && query_add(q, cap, &off, "continuation-token", cursor->value, cursor->len) != 0) ||
	    (delimiter && query_add(q, cap, &off, "delimiter", delimiter, strlen(delimiter)) != 0) ||
	    query_add(q, cap, &off, "encoding-type", "url", 3) != 0 ||
	    query_add(q, cap, &off, "list-type", "2", 1) != 0 ||
	    query_add(q, cap, &off, "max-keys", keys, strlen(keys)) != 0 ||
	    (prefix[0] && query_add(q, cap, &off, "prefix", prefix, strlen(prefix)) != 0) ||
	    (after && query_add(q, cap, &off, "start-after", cursor->value, cursor->len) != 0))
		return -1;
	return 0;
}

/* prefix, delimiter, cursor and limit, checked: false when the call was ended. */
static bool list_args(struct mcp_call *call, json_t *args, const char **prefix, const char **delimiter,
                      struct s3_cursor *cursor, bool *has_cursor, long long *limit)
{
	json_t *p = json_object_get(args, "prefix"), *d = json_object_get(args, "delimiter");
	json_t *cur = json_object_get(args, "cursor"), *l = json_object_get(args, "limit");
	*prefix = p ? json_string_value(p) : "";
	*delimiter = d ? json_string_value(d) : NULL;
	*limit = l ? json_integer_value(l) : S3_LIST_ENTRIES_MAX;
	if (!*prefix || !s3_text_param_valid(*prefix, p ? json_string_length(p) : 0, S3_KEY_MAX)) {
		mcp_call_fail(call, "s3_list: prefix must be at most %d bytes of UTF-8 without NUL", S3_KEY_MAX);
		return false;
	}
	if (d && (!*delimiter || json_string_length(d) < 1 ||
	          !s3_text_param_valid(*delimiter, json_string_length(d), S3_DELIMITER_MAX))) {
		mcp_call_fail(call, "s3_list: delimiter must be 1 to %d bytes of UTF-8 without NUL, such as /",
		              S3_DELIMITER_MAX);
		return false;
	}
	if (l && (!json_is_integer(l) || *limit < 1 || *limit > S3_LIST_ENTRIES_MAX)) {
		mcp_call_fail(call, "s3_list: limit must be from 1 to %d", S3_LIST_ENTRIES_MAX);
		return false;
	}
	*has_cursor = cur != NULL;
	char err[160];
	if (cur && (!json_is_string(cur) || s3_cursor_decode(json_string_value(cur), json_string_length(cur),
	                                                     cursor, err, sizeof err) != 0)) {
		mcp_call_fail(call, "s3_list: %s", json_is_string(cur) ? err : "cursor must be a string");
		return false;
	}
	return true;
}

static void s3_list(struct mcp_call *call, json_t *args)
{
	const char *bucket, *prefix, *delimiter;
	struct s3_cursor cursor;
	bool has_cursor;
	long long limit;
	if (!bucket_arg(call, args, &bucket) ||
	    !list_args(call, args, &prefix, &delimiter, &cursor, &has_cursor, &limit))
		return;
	if (aws_tool_refuse_unlisted(call, &cfg.buckets, "bucket", bucket, "s3.buckets") ||
	    aws_tool_refuse_unavailable(call))
		return;
	char *query = malloc(S3_QUERY_MAX);
	if (!query || list_query(query, S3_QUERY_MAX, has_cursor ? &cursor : NULL, delimiter, limit, prefix) != 0) {
		free(query);
		mcp_call_fail(call, "s3_list: the listing request does not fit (out of memory?); no request was made");
		return;
	}
	struct s3_call *c = s3_call_new(call, bucket);
	if (!c) {
		free(query);
		return;
	}
	snprintf(c->prefix, sizeof c->prefix, "%s", prefix);
	char path[S3_BUCKET_MAX + 2];
	snprintf(path, sizeof path, "/%s", bucket);
	const struct aws_request req = {
		.service = &AWS_S3, .method = "GET", .path = path, .query = query,
		.max_response = S3_XML_BODY_MAX,
	};
	s3_start(c, &req, list_done);
	free(query);
}

/* ---- the group ---- */

static const struct mcp_tool tools[] = {
	{ "s3_get",
	  "Read an object from an allowed S3 bucket, a bounded byte range at a time. The first text "
	  "item is a JSON line {bucket, key, size, content_type, etag, range, bytes, encoding, "
	  "next_range_start}; then the bytes: as text when they are UTF-8, else as an embedded "
	  "resource (base64 blob). When the object goes on, a notice says so: call again with "
	  "range_start=next_range_start.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"bucket\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":63,\"description\":\"Bucket name (must be allowed by settings.s3.buckets).\"},"
	  "\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024,\"description\":\"Object key (1 to 1024 bytes of UTF-8).\"},"
	  "\"range_start\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":5497558138879,\"description\":\"First byte to read (default 0).\"},"
	  "\"max_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":16777216,\"description\":\"Most bytes to read (at most settings.s3.max_object_bytes; a result shows at most the result cap).\"}},"
	  "\"required\":[\"bucket\",\"key\"],\"additionalProperties\":false}",
	  NULL, s3_get },
	{ "s3_put",
	  "Write an object to an allowed S3 bucket (settings.s3.write_buckets): body as text, or as "
	  "base64 with base64: true. Returns {bucket, key, etag, size}.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"bucket\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":63},"
	  "\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024},"
	  "\"body\":{\"type\":\"string\",\"maxLength\":7340032,\"description\":\"The object: text, or base64 when base64 is true (at most settings.s3.max_put_bytes bytes once decoded).\"},"
	  "\"content_type\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255,\"description\":\"Default text/plain; charset=utf-8, or application/octet-stream with base64.\"},"
	  "\"base64\":{\"type\":\"boolean\",\"description\":\"body is base64 of binary bytes.\"}},"
	  "\"required\":[\"bucket\",\"key\",\"body\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"bucket\":{\"type\":\"string\"},\"key\":{\"type\":\"string\"},"
	  "\"etag\":{\"type\":[\"string\",\"null\"]},\"size\":{\"type\":\"integer\",\"minimum\":0}},"
	  "\"required\":[\"bucket\",\"key\",\"etag\",\"size\"]}",
	  s3_put },
	{ "s3_list",
	  "List objects in an allowed S3 bucket (ListObjectsV2), in key order, optionally under a "
	  "prefix and rolled up at a delimiter (common_prefixes). More entries: pass next_cursor "
	  "back as cursor until it is null.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"bucket\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":63},"
	  "\"prefix\":{\"type\":\"string\",\"maxLength\":1024},"
	  "\"delimiter\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
	  "\"cursor\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096},"
	  "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"description\":\"Most entries per page (default 1000); the result cap may cut a page sooner.\"}},"
	  "\"required\":[\"bucket\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"bucket\":{\"type\":\"string\"},\"prefix\":{\"type\":\"string\"},"
	  "\"objects\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	  "\"key\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"},"
	  "\"last_modified\":{\"type\":[\"string\",\"null\"]},\"etag\":{\"type\":[\"string\",\"null\"]},"
	  "\"storage_class\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"key\",\"size\"]}},"
	  "\"common_prefixes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	  "\"count\":{\"type\":\"integer\",\"minimum\":0},"
	  "\"next_cursor\":{\"type\":[\"string\",\"null\"]},"
	  "\"notice\":{\"type\":\"string\"}},"
	  "\"required\":[\"bucket\",\"prefix\",\"objects\",\"common_prefixes\",\"count\",\"next_cursor\"]}",
	  s3_list },
};

static void s3_fini(void)
{
	allowlist_free(&cfg.buckets);
	allowlist_free(&cfg.write_buckets);
}

/* path_style: only true is possible here. The client's Host comes from the service endpoint,
 * so virtual-hosted addressing (<bucket>.s3.<region>.amazonaws.com) is not built. */
static int path_style_check(json_t *s, char *err, size_t errlen)
{
	json_t *v = json_object_get(s, "path_style");
	if (!v || json_is_true(v))
		return 0;
	if (json_is_false(v))
		snprintf(err, errlen, "settings.path_style: virtual-hosted-style requests are not supported "
		         "yet; leave path_style out or set it to true (path-style works with every bucket "
		         "in the configured region)");
	else
		snprintf(err, errlen, "settings.path_style: must be true or false");
	return -1;
}

/* settings.s3, its keys checked by settings_section. */
static int read_section(json_t *s, char *err, size_t errlen)
{
	if (allowlist_load(&cfg.buckets, s, "buckets", err, errlen) != 0 ||
	    allowlist_load(&cfg.write_buckets, s, "write_buckets", err, errlen) != 0 ||
	    settings_int(s, "max_object_bytes", 1, S3_GET_LIMIT, S3_DEFAULT_BYTES,
	                 &cfg.max_object_bytes, err, errlen) != 0 ||
	    settings_int(s, "max_put_bytes", 1, S3_PUT_LIMIT, S3_DEFAULT_BYTES, &cfg.max_put_bytes,
	                 err, errlen) != 0 ||
	    path_style_check(s, err, errlen) != 0)
		return -1;
	return 0;
}

static int s3_init(json_t *settings, const struct group_limits *limits, char *err, size_t errlen)
{
	static const char *const known[] = { "buckets", "write_buckets", "max_object_bytes",
	                                     "max_put_bytes", "path_style", NULL };
	cfg.result_cap = limits->result_cap;
	if (settings_section(settings, "s3", known, read_section, err, errlen) == 0)
		return 0;
	s3_fini();
	return -1;
}

static const char *const keys[] = { "s3", NULL };
const struct tool_group s3_group = { tools, sizeof tools / sizeof tools[0], keys, s3_init, s3_fini };
