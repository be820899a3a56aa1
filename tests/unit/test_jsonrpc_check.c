/* Unit tests for the edge's JSON-RPC envelope check: every kind of message, every refusal,
 * the summary fields, depth and batch bounds, all on exact-size heap copies so ASan sees
 * any read past the body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc_check.h"

#include "check.h"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

/* Checks len bytes copied into a buffer of exactly that size (no NUL after it). */
static struct jsonrpc_summary check_bytes(const char *body, size_t len, bool allow_batch)
{
	char *copy = xmalloc(len);
	memcpy(copy, body, len);
	struct jsonrpc_summary s;
	memset(&s, 0x5a, sizeof s); /* stale garbage must not survive */
	jsonrpc_check(copy, len, allow_batch, &s);
	free(copy);
	return s;
}

static struct jsonrpc_summary check(const char *body, bool allow_batch)
{
	return check_bytes(body, strlen(body), allow_batch);
}

static bool refused_cleanly(const struct jsonrpc_summary *s)
{
	return s->n_messages == 0 && s->n_requests == 0 && s->n_notifications == 0 &&
	       s->n_responses == 0 && s->method[0] == '\0' && s->name[0] == '\0' &&
	       s->first_id[0] == '\0' && !s->is_initialize && !s->name_too_long &&
	       s->reason != NULL && s->reason[0] != '\0';
}

static void expect_status(const char *body, bool allow_batch, enum jsonrpc_check_status want,
                          const char *what)
{
	struct jsonrpc_summary s = check(body, allow_batch);
	CHECK(s.status == want, "%s -> status %d (reason: %s)", what, (int)s.status,
	      s.status == want ? "as expected" : s.reason);
	if (want != JSONRPC_VALID)
		CHECK(refused_cleanly(&s), "%s: refusal leaves no partial summary", what);
}

#define VALID(body, what) expect_status(body, true, JSONRPC_VALID, what)
#define INVALID(body, what) expect_status(body, true, JSONRPC_INVALID_REQUEST, what)
#define PARSE_ERROR(body, what) expect_status(body, true, JSONRPC_PARSE_ERROR, what)

static void test_request(void)
{
	struct jsonrpc_summary s = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", false);
	CHECK(s.status == JSONRPC_VALID && !s.batch, "request is valid, not a batch");
	CHECK(s.n_messages == 1 && s.n_requests == 1 && s.n_notifications == 0 &&
	      s.n_responses == 0, "request counted as one request");
	CHECK(strcmp(s.method, "tools/list") == 0, "method copied: %s", s.method);
	CHECK(strcmp(s.first_id, "1") == 0, "integer id as JSON text: %s", s.first_id);
	CHECK(s.name[0] == '\0' && !s.is_initialize, "no name, not initialize");
	CHECK(s.reason != NULL, "reason set on success");

	s = check(" \r\n\t{\"method\":\"ping\",\"id\":\"abc\",\"jsonrpc\":\"2.0\"}\n ", true);
	CHECK(s.status == JSONRPC_VALID && strcmp(s.first_id, "\"abc\"") == 0,
	      "string id quoted, surrounding whitespace allowed: %s", s.first_id);
	s = check("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\\\\\",\"method\":\"ping\"}", true);
	CHECK(s.status == JSONRPC_VALID && strcmp(s.first_id, "\"a\\\"b\\\\\"") == 0,
	      "string id re-escaped as JSON: %s", s.first_id);
	s = check("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"ping\"}", true);
	CHECK(s.status == JSONRPC_VALID && strcmp(s.first_id, "-9223372036854775808") == 0,
	      "smallest int64 id: %s", s.first_id);
	s = check("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}", true);
	CHECK(s.status == JSONRPC_VALID && s.is_initialize, "initialize request flagged");
	s = check("{\"jsonrpc\":\"2.0\",\"method\":\"initialize\"}", true);
	CHECK(s.status == JSONRPC_VALID && !s.is_initialize && s.n_notifications == 1,
	      "initialize without id is a notification, not an initialize request");
	VALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{},\"_ext\":[1]}",
	      "unknown top-level member allowed");
	VALID("{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"x\"}", "empty string id allowed");
}

static void test_notification_and_responses(void)
{
	struct jsonrpc_summary s = check("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", true);
	CHECK(s.status == JSONRPC_VALID && s.n_notifications == 1 && s.n_requests == 0 &&
	      s.n_messages == 1, "notification counted");
	CHECK(strcmp(s.method, "notifications/initialized") == 0 && s.first_id[0] == '\0',
	      "notification: method set, no first_id");

	s = check("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", true);
	CHECK(s.status == JSONRPC_VALID && s.n_responses == 1 && s.n_messages == 1,
	      "result response counted");
	CHECK(s.method[0] == '\0' && s.first_id[0] == '\0', "response: no method, no first_id");
	VALID("{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"error\":{\"code\":-32601,\"message\":\"no\",\"data\":[1]}}",
	      "error response");
	VALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}", "null result is a result");
}

static void test_names(void)
{
	struct jsonrpc_summary s = check("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
	                                 "\"params\":{\"name\":\"data__s3_get\",\"arguments\":{}}}", true);
	CHECK(s.status == JSONRPC_VALID && strcmp(s.name, "data__s3_get") == 0,
	      "tools/call: params.name -> %s", s.name);
	s = check("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\"}}", true);
	CHECK(strcmp(s.name, "p") == 0, "prompts/get: params.name");
	s = check("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\","
	          "\"params\":{\"uri\":\"s3://b/k\",\"name\":\"ignored\"}}", true);
	CHECK(strcmp(s.name, "s3://b/k") == 0, "resources/read: params.uri -> %s", s.name);
	s = check("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u\"}}", true);
	CHECK(strcmp(s.name, "u") == 0, "resources/subscribe: params.uri");
	s = check("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"name\":\"x\"}}", true);
	CHECK(s.name[0] == '\0', "tools/list: no name");
	s = check("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":5}}", true);
	CHECK(s.status == JSONRPC_VALID && s.name[0] == '\0' && !s.name_too_long,
	      "non-string name left to the server, name empty");

	char body[1024];
	char uri[300];
	memset(uri, 'a', sizeof uri - 1);
	uri[sizeof uri - 1] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\","
	         "\"params\":{\"uri\":\"%s\"}}", uri);
	s = check(body, true);
	CHECK(s.status == JSONRPC_VALID && s.name[0] == '\0' && s.name_too_long,
	      "299-byte uri: valid, name empty, name_too_long");
	uri[255] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\","
	         "\"params\":{\"uri\":\"%s\"}}", uri);
	s = check(body, true);
	CHECK(s.status == JSONRPC_VALID && strlen(s.name) == 255 && !s.name_too_long,
	      "255-byte uri fits exactly");
	memset(uri, 'b', 256);
	uri[256] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	         "\"params\":{\"name\":\"%s\"}}", uri);
	s = check(body, true);
	CHECK(s.status == JSONRPC_VALID && s.name[0] == '\0' && s.name_too_long,
	      "256-byte name does not fit");
}

static void test_method_rules(void)
{
	char body[512], method[200];
	memset(method, 'm', sizeof method);
	method[JSONRPC_METHOD_MAX] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", method);
	struct jsonrpc_summary s = check(body, true);
	CHECK(s.status == JSONRPC_VALID && strlen(s.method) == JSONRPC_METHOD_MAX,
	      "method of exactly %d bytes", JSONRPC_METHOD_MAX);
	method[JSONRPC_METHOD_MAX] = 'm';
	method[JSONRPC_METHOD_MAX + 1] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", method);
	INVALID(body, "method one byte too long");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", "empty method");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", "method not a string");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}", "method null");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\\nb\"}", "method with a newline");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\\u007f\"}", "method with DEL");
	PARSE_ERROR("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\\u0000b\"}", "method with NUL");
}

static void test_version_and_ids(void)
{
	INVALID("{\"id\":1,\"method\":\"ping\"}", "no jsonrpc member");
	INVALID("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", "jsonrpc as a number");
	INVALID("{\"jsonrpc\":\"2.00\",\"id\":1,\"method\":\"ping\"}", "jsonrpc 2.00");
	INVALID("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", "jsonrpc 1.0");
	INVALID("{\"jsonrpc\":\"2.0 \",\"id\":1,\"method\":\"ping\"}", "jsonrpc with a space");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", "null id (MCP forbids)");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", "fractional id");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}", "id 1.0");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1e2,\"method\":\"ping\"}", "id 1e2");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", "boolean id");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", "object id");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", "array id");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", "response with null id");
	PARSE_ERROR("{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"method\":\"ping\"}",
	            "id beyond int64");

	/* An id whose JSON text is 79 bytes fits first_id; 80 does not. */
	char body[256], id[100];
	memset(id, 'i', sizeof id);
	id[77] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"ping\"}", id);
	struct jsonrpc_summary s = check(body, true);
	CHECK(s.status == JSONRPC_VALID && strlen(s.first_id) == 79, "79-byte id text fits");
	id[77] = 'i';
	id[78] = '\0';
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"ping\"}", id);
	INVALID(body, "80-byte id text refused");
	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{}}", id);
	INVALID(body, "80-byte id refused in a response too");
}

static void test_member_combinations(void)
{
	VALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":[1,2]}}", "object params");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1,2]}", "array params (MCP: object)");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"s\"}", "string params");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":null}", "null params");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"result\":{}}", "request with result");
	INVALID("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"error\":{\"code\":1,\"message\":\"m\"}}",
	        "notification with error");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"m\"}}",
	        "result and error");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1}", "id alone");
	INVALID("{\"jsonrpc\":\"2.0\"}", "jsonrpc alone");
	INVALID("{\"jsonrpc\":\"2.0\",\"result\":{}}", "response without id");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"params\":{}}", "response with params");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}", "error not an object");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"m\"}}", "error without code");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":\"m\"}}", "fractional code");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", "error without message");
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":2}}", "numeric message");
	struct jsonrpc_summary s = check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"id\":2}", true);
	CHECK(s.status == JSONRPC_INVALID_REQUEST && strstr(s.reason, "duplicate") != NULL &&
	      refused_cleanly(&s), "duplicate id member refused (%s)", s.reason);
	INVALID("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":{\"k\":1,\"k\":2}}",
	        "duplicate key deep in params");
}

static void test_not_messages(void)
{
	PARSE_ERROR("", "empty body");
	PARSE_ERROR("   ", "whitespace only");
	PARSE_ERROR("{", "unterminated object");
	PARSE_ERROR("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}x", "trailing garbage");
	PARSE_ERROR("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}{}", "two documents");
	PARSE_ERROR("{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\x28\"}", "invalid UTF-8");
	PARSE_ERROR("nope", "not JSON");
	PARSE_ERROR("]]]]}}}}", "closers only");
	INVALID("1", "number document");
	INVALID("\"str\"", "string document");
	INVALID("null", "null document");
	INVALID("{}", "empty object");
	struct jsonrpc_summary s;
	jsonrpc_check(NULL, 0, true, &s);
	CHECK(s.status == JSONRPC_PARSE_ERROR && refused_cleanly(&s), "NULL body is a parse error");

	/* Only len bytes are read: a valid prefix of a longer buffer. */
	const char *longer = "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}GARBAGE";
	s = check_bytes(longer, strlen(longer) - 7, true);
	CHECK(s.status == JSONRPC_VALID, "valid prefix of a longer buffer");
	s = check_bytes(longer, strlen(longer) - 8, true);
	CHECK(s.status == JSONRPC_PARSE_ERROR, "one byte short is a parse error");
}

/* A request whose params nest `depth` levels (params itself is level 1). */
static char *nested_request(size_t depth, bool in_batch)
{
	size_t size = 128 + 4 * depth;
	char *body = xmalloc(size);
	size_t o = (size_t)snprintf(body, size, "%s{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":",
	                            in_batch ? "[" : "");
	for (size_t i = 0; i < depth; i++)
		o += (size_t)snprintf(body + o, size - o, i % 2 ? "[" : "{\"a\":");
	for (size_t i = depth; i-- > 0;)
		body[o++] = i % 2 ? ']' : '}';
	o += (size_t)snprintf(body + o, size - o, "}%s", in_batch ? "]" : "");
	return body;
}

static void test_depth(void)
{
	char *body = nested_request(JSONRPC_MAX_DEPTH, false);
	VALID(body, "params nested 64 deep");
	free(body);
	body = nested_request(JSONRPC_MAX_DEPTH + 1, false);
	INVALID(body, "params nested 65 deep");
	free(body);
	body = nested_request(JSONRPC_MAX_DEPTH, true);
	VALID(body, "params nested 64 deep inside a batch");
	free(body);
	body = nested_request(JSONRPC_MAX_DEPTH + 1, true);
	INVALID(body, "params nested 65 deep inside a batch");
	free(body);

	/* 200000 open brackets: refused by the pre-scan, not by recursion. */
	size_t n = 200000;
	body = xmalloc(n + 1);
	memset(body, '[', n);
	body[n] = '\0';
	INVALID(body, "200000 open brackets");
	memset(body, '{', n);
	INVALID(body, "200000 open braces");
	free(body);

	/* Brackets inside strings (even after escaped quotes) do not count. */
	size_t m = 5000;
	char *inner = xmalloc(m + 1);
	memset(inner, '[', m);
	inner[m] = '\0';
	size_t size = m + 128;
	body = xmalloc(size);
	snprintf(body, size, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"s\":\"\\\"\\\\%s\"}}",
	         inner);
	VALID(body, "5000 brackets inside a string with escapes");
	free(body);
	free(inner);
}

static void test_batches(void)
{
	const char *batch = "[{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"tools/call\",\"params\":{\"name\":\"t\"}},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":\"r2\",\"method\":\"ping\"}]";
	struct jsonrpc_summary s = check(batch, true);
	CHECK(s.status == JSONRPC_VALID && s.batch, "mixed batch valid");
	CHECK(s.n_messages == 4 && s.n_responses == 1 && s.n_notifications == 1 && s.n_requests == 2,
	      "batch counts: %zu = %zu + %zu + %zu", s.n_messages, s.n_requests,
	      s.n_notifications, s.n_responses);
	CHECK(strcmp(s.method, "notifications/progress") == 0,
	      "method of the first request or notification: %s", s.method);
	CHECK(strcmp(s.first_id, "\"r1\"") == 0, "first request's id: %s", s.first_id);
	CHECK(s.name[0] == '\0', "name only from the first message (a response here)");
	CHECK(!s.is_initialize, "batch is never is_initialize");

	s = check(batch, false);
	CHECK(s.status == JSONRPC_BATCH_REFUSED && s.batch && refused_cleanly(&s),
	      "batch refused when not allowed");
	s = check("[]", false);
	CHECK(s.status == JSONRPC_BATCH_REFUSED, "empty batch refused as a batch when not allowed");
	s = check("[]", true);
	CHECK(s.status == JSONRPC_INVALID_REQUEST && s.batch && refused_cleanly(&s), "empty batch invalid");
	INVALID("[1]", "batch of a number");
	INVALID("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"a\"}]",
	        "one bad element refuses the batch");
	INVALID("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}]", "initialize in a batch");
	INVALID("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"b\"}]",
	        "two requests with the same id");
	VALID("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"b\"}]",
	      "ids 1 and \"1\" differ");
	VALID("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]",
	      "a request and a response may share an id");
	INVALID("[[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]]", "nested batch");

	/* 100 messages pass, 101 do not. */
	const char *one = "{\"jsonrpc\":\"2.0\",\"method\":\"n\"},";
	size_t size = 2 + (JSONRPC_MAX_BATCH + 1) * strlen(one) + 1;
	char *body = xmalloc(size);
	for (size_t count = JSONRPC_MAX_BATCH; count <= JSONRPC_MAX_BATCH + 1; count++) {
		size_t o = 0;
		body[o++] = '[';
		for (size_t i = 0; i < count; i++)
			o += (size_t)snprintf(body + o, size - o, "%s", one);
		body[o - 1] = ']';
		body[o] = '\0';
		s = check(body, true);
		if (count == JSONRPC_MAX_BATCH)
			CHECK(s.status == JSONRPC_VALID && s.n_notifications == count,
			      "batch of %zu passes", count);
		else
			CHECK(s.status == JSONRPC_INVALID_REQUEST && refused_cleanly(&s),
			      "batch of %zu refused", count);
	}
	free(body);
}

int main(void)
{
	test_request();
	test_notification_and_responses();
	test_names();
	test_method_rules();
	test_version_and_ids();
	test_member_combinations();
	test_not_messages();
	test_depth();
	test_batches();
	return check_finish();
}
