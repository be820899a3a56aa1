/* Fuzzes the parts of servers/data/s3.c that read outside input: s3_list cursors (what decodes
 * must re-encode and decode to the same position), Content-Range values and InvalidRange
 * bodies (sizes S3 reports), strict base64, UTF-8 slices of object chunks, key checks, and
 * s3_get results built from the input as object bytes (within the cap). The whole input feeds
 * every one of them; any broken promise aborts. */
#include "../servers/data/s3.c"

#define INPUT_MAX 8192
#define FUZZ_CAP 1024

static void check_cursor(const char *text, size_t len)
{
	struct s3_cursor c, again;
	char err[160];
	if (s3_cursor_decode(text, len, &c, err, sizeof err) != 0) {
		if (!strstr(err, "not a next_cursor from s3_list"))
			abort();
		return;
	}
	if (c.len == 0 || c.value[c.len] != '\0' || strlen(c.value) != c.len)
		abort();
	if (c.kind == S3_CURSOR_AFTER && (c.len > S3_START_AFTER_MAX || !mcp_text_is_utf8(c.value, c.len)))
		abort();
	if (c.kind == S3_CURSOR_TOKEN && c.len > S3_TOKEN_MAX)
		abort();
	char *enc = s3_cursor_encode(c.kind, c.value, c.len);
	if (!enc || strlen(enc) > S3_CURSOR_MAX ||
	    s3_cursor_decode(enc, strlen(enc), &again, err, sizeof err) != 0 || again.kind != c.kind ||
	    again.len != c.len || memcmp(again.value, c.value, c.len) != 0)
		abort();
	free(enc);
}

static void check_range(const char *text)
{
	struct s3_range r;
	if (s3_content_range_parse(text, &r) != 0)
		return;
	if (r.total < -1 || (r.first == -1) != (r.last == -1))
		abort();
	if (r.first >= 0 && (r.last < r.first || (r.total >= 0 && r.last >= r.total)))
		abort();
	if (r.first == -1 && r.total < 0)
		abort();
}

static void check_base64(const char *text, size_t len)
{
	unsigned char *out = NULL;
	long n = base64_decode(text, len, &out);
	if (n < 0) {
		if (out)
			abort();
		return;
	}
	char *back = base64_encode(out, (size_t)n);
	if (!back || strlen(back) != len || memcmp(back, text, len) != 0)
		abort(); /* strict base64 has exactly one spelling */
	free(back);
	free(out);
}

static void check_slice_and_result(const uint8_t *data, size_t size)
{
	bool at_start = size && (data[0] & 1), at_end = size && (data[0] & 2);
	size_t skip = 99, keep = 99;
	bool text = s3_text_slice(data, size, at_start, at_end, &skip, &keep);
	if (skip > 3 || skip + keep > size || (at_start && skip) || (at_end && skip + keep != size))
		abort();
	if (text && !mcp_text_is_utf8(data + skip, keep))
		abort();

	/* Bit 2 of the first byte: the chunk is as long as asked for (so, size unknown, maybe more). */
	size_t requested = size ? size + !(data[0] & 4) : 1;
	struct s3_object_part p = { .bucket = "fuzz-bucket", .key = "fuzz/key", .data = data, .len = size,
		.first = at_start ? 0 : 7, .total = at_end ? (at_start ? 0 : 7) + (long long)size : -1,
		.requested = requested, .content_type = "application/octet-stream" };
	json_t *r = s3_get_result(&p, FUZZ_CAP);
	if (!r)
		abort();
	json_t *content = json_object_get(r, "content");
	json_t *h = json_loads(json_string_value(json_object_get(json_array_get(content, 0), "text")), 0, NULL);
	long long shown = json_integer_value(json_object_get(h, "bytes"));
	json_t *next = json_object_get(h, "next_range_start");
	/* Bounded by the cap (the header here is short), and never stuck: a notice always comes
	 * with progress past the start of the chunk. */
	if (!h || shown < 0 || (size_t)shown > size || shown > FUZZ_CAP)
		abort();
	if (json_is_integer(next) && (json_integer_value(next) <= p.first || json_array_size(content) != 3))
		abort();
	size_t bytes = 0;
	for (size_t i = 0; i < json_array_size(content); i++) {
		json_t *item = json_array_get(content, i);
		const char *t = json_string_value(json_object_get(item, "text"));
		const char *b = json_string_value(json_object_get(json_object_get(item, "resource"), "blob"));
		bytes += (t ? strlen(t) : 0) + (b ? strlen(b) : 0);
	}
	if (bytes > FUZZ_CAP)
		abort();
	json_decref(h);
	json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_cursor(text, size);
	check_range(text);
	check_base64(text, size);
	long long actual = s3_actual_object_size(text, size);
	if (actual < -1)
		abort();
	const char *why = s3_key_problem(text, size);
	if (!why && (size < 1 || size > S3_KEY_MAX || !mcp_text_is_utf8(text, size)))
		abort();
	check_slice_and_result(data, size);
	free(text);
	return 0;
}
