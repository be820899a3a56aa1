/* Fuzzes the edge's HTTP request parser: one call, two calls split where the first byte says,
 * and the pipelined rest must agree, with every slice inside the buffer. */
#include "http_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small limits, so that short inputs reach every limit's boundary. */
static const struct http_limits small_limits = {
	.max_header_bytes = 256,
	.max_header_fields = 8,
	.max_target = 64,
	.max_chunk_line = 32,
	.max_body = 64,
	.max_chunked_body = 128,
};

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_http: check failed at line %d: %s\n", __LINE__, #cond); \
	abort(); } } while (0)

static void check_inside(struct http_str s, const char *buf, size_t len)
{
	if (!s.ptr)
		return;
	CHECK(s.ptr >= buf && s.len <= len && (size_t)(s.ptr - buf) <= len - s.len);
}

/* What one parse produced, as offsets, so parses of two copies compare. */
struct outcome {
	enum http_parse_result res;
	int status;
	char reason[96];
	size_t consumed, body_off, body_len, target_off, target_len, path_len, query_len;
	int method, minor, keep_alive, expect, chunked, headers_complete;
	size_t hdr_off[HTTP_HDR_COUNT], hdr_len[HTTP_HDR_COUNT];
	size_t fields;
};

static size_t off_of(struct http_str s, const char *buf)
{
	return s.ptr ? (size_t)(s.ptr - buf) : (size_t)-1;
}

static void check_and_record(const struct http_request *req, enum http_parse_result res,
                             const char *buf, size_t len, struct outcome *o)
{
	memset(o, 0, sizeof *o);
	o->res = res;
	if (res == HTTP_PARSE_ERROR) {
		CHECK(req->status >= 400 && req->status <= 505 && req->reason && req->reason[0]);
		o->status = req->status;
		snprintf(o->reason, sizeof o->reason, "%s", req->reason);
		return;
	}
	o->headers_complete = req->headers_complete;
	if (res == HTTP_PARSE_NEED_MORE && !req->headers_complete)
		return;
	check_inside(req->target, buf, len);
	check_inside(req->path, buf, len);
	check_inside(req->query, buf, len);
	CHECK(req->path.len <= req->target.len && req->path.ptr == req->target.ptr);
	struct http_str name, value;
	for (size_t i = 0; http_header_at(req, i, &name, &value); i++) {
		check_inside(name, buf, len);
		check_inside(value, buf, len);
		CHECK(name.len > 0);
		o->fields++;
	}
	CHECK(o->fields <= HTTP_MAX_FIELDS);
	for (int h = 0; h < HTTP_HDR_COUNT; h++) {
		struct http_str v = http_header(req, (enum http_hdr)h);
		check_inside(v, buf, len);
		o->hdr_off[h] = off_of(v, buf);
		o->hdr_len[h] = v.len;
	}
	o->target_off = off_of(req->target, buf);
	o->target_len = req->target.len;
	o->path_len = req->path.len;
	o->query_len = req->query.len;
	o->method = req->method;
	o->minor = req->version_minor;
	o->keep_alive = req->keep_alive;
	o->expect = req->expect_continue;
	o->chunked = req->chunked;
	CHECK(!(req->chunked && req->has_content_length));
	if (res != HTTP_PARSE_DONE)
		return;
	CHECK(req->consumed > 0 && req->consumed <= len);
	check_inside(req->body, buf, len);
	CHECK(req->body.ptr + req->body.len <= buf + req->consumed);
	CHECK(!req->has_content_length || req->body.len == req->content_length);
	o->consumed = req->consumed;
	o->body_off = off_of(req->body, buf);
	o->body_len = req->body.len;
}

/* The helpers the edge calls on every request must cope with whatever was parsed. */
static void exercise_helpers(const struct http_request *req)
{
	char out[40];
	size_t n = 0;
	enum http_param_result r = http_query_param(req->query, "sessionId", out, sizeof out, &n);
	if (r == HTTP_PARAM_FOUND)
		CHECK(n < sizeof out && out[n] == '\0' && strlen(out) == n);
	(void)http_accepts(req, "application/json");
	(void)http_accepts(req, "text/event-stream");
	(void)http_media_type_is(http_header(req, HTTP_HDR_CONTENT_TYPE), "application/json");
	(void)http_header_find(req, "x-forwarded-for");
}

static char *copy_of(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	return buf;
}

static void run(const struct http_limits *limits, const uint8_t *data, size_t size)
{
	static struct http_request req; /* about 2 KiB: keep it off the fuzzer's stack */
	struct outcome whole, split;

	char *buf = copy_of(data, size);
	http_request_init(&req, limits);
	enum http_parse_result res = http_parse(&req, buf, size);
	check_and_record(&req, res, buf, size, &whole);
	if (req.headers_complete && res != HTTP_PARSE_ERROR)
		exercise_helpers(&req);
	/* The same buffer again: a finished parse must not change its answer. */
	if (res != HTTP_PARSE_NEED_MORE)
		CHECK(http_parse(&req, buf, size) == res);

	/* Pipelined: parse what follows the first request, as a keep-alive connection would. */
	size_t off = res == HTTP_PARSE_DONE ? req.consumed : size;
	for (int i = 0; i < 64 && off < size; i++) {
		http_request_init(&req, limits);
		res = http_parse(&req, buf + off, size - off);
		struct outcome next;
		check_and_record(&req, res, buf + off, size - off, &next);
		if (res != HTTP_PARSE_DONE)
			break;
		off += req.consumed;
	}
	free(buf);

	/* Split in two where the first byte says: the outcome must not depend on it. */
	size_t k = size ? (size_t)data[0] * size / 255 : 0;
	buf = copy_of(data, size);
	http_request_init(&req, limits);
	res = http_parse(&req, buf, k);
	if (res == HTTP_PARSE_NEED_MORE)
		res = http_parse(&req, buf, size);
	check_and_record(&req, res, buf, size, &split);
	CHECK(split.res == whole.res && split.status == whole.status);
	CHECK(strcmp(split.reason, whole.reason) == 0);
	CHECK(memcmp(&split, &whole, sizeof split) == 0);
	if (res == HTTP_PARSE_DONE) {
		/* The de-chunked body must be the same bytes too. */
		char *ref = copy_of(data, size);
		http_request_init(&req, limits);
		CHECK(http_parse(&req, ref, size) == HTTP_PARSE_DONE);
		CHECK(memcmp(ref + whole.body_off, buf + split.body_off, whole.body_len) == 0);
		free(ref);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(&http_default_limits, data, size);
	run(&small_limits, data, size);
	return 0;
}
