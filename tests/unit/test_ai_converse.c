/* Unit tests for the ai server's Converse wire handling: the request path (model ids with ':'
 * and '/' encoded) and body, the Converse answer, and ConverseStream event streams fed whole,
 * byte by byte and corrupted: text deltas in order with character counts, stop reason and
 * usage, exception and error events, truncation and size limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../servers/ai/converse.h"

#include "check.h"

/* ---- building streams ---- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void add_message(struct bytes *b, const char *message_type, const char *type_header,
                        const char *type, const char *payload)
{
	struct aws_es_header h[3] = {
		{ .name = ":message-type", .type = AWS_ES_STRING },
		{ .name = type_header, .type = AWS_ES_STRING },
		{ .name = ":content-type", .type = AWS_ES_STRING },
	};
	const char *values[3] = { message_type, type, "application/json" };
	for (int i = 0; i < 3; i++) {
		h[i].name_len = strlen(h[i].name);
		h[i].data = (const uint8_t *)values[i];
		h[i].data_len = strlen(values[i]);
	}
	size_t need = 0;
	aws_es_encode(h, 3, payload, strlen(payload), NULL, 0, &need);
	if (b->len + need > b->cap) {
		b->cap = (b->len + need) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			exit(2);
	}
	size_t n = 0;
	if (aws_es_encode(h, 3, payload, strlen(payload), b->p + b->len, need, &n) != AWS_ES_OK)
		exit(3);
	b->len += n;
}

static void add_event(struct bytes *b, const char *type, const char *payload)
{
	add_message(b, "event", ":event-type", type, payload);
}

static void add_delta(struct bytes *b, const char *text)
{
	json_t *j = json_pack("{s:i, s:{s:s}, s:s}", "contentBlockIndex", 0, "delta", "text", text,
	                      "p", "abcdefgh");
	char *s = json_dumps(j, JSON_COMPACT);
	add_event(b, "contentBlockDelta", s);
	free(s);
	json_decref(j);
}

static struct bytes good_stream(void)
{
	struct bytes b = { 0 };
	add_event(&b, "messageStart", "{\"role\":\"assistant\"}");
	add_delta(&b, "Hel");
	add_delta(&b, "");
	add_delta(&b, "lo, w\xc3\xb6");
	add_delta(&b, "rld \xe2\x9c\x93");
	add_event(&b, "contentBlockStop", "{\"contentBlockIndex\":0}");
	add_event(&b, "messageStop", "{\"stopReason\":\"end_turn\"}");
	add_event(&b, "metadata", "{\"usage\":{\"inputTokens\":12,\"outputTokens\":7,"
	          "\"totalTokens\":19},\"metrics\":{\"latencyMs\":42}}");
	return b;
}

/* What the delta callback saw. */
struct seen {
	char text[4096];
	size_t len;
	size_t calls;
	size_t last_chars;
	bool monotonic;
};

static void on_delta(const char *text, size_t len, size_t chars, void *arg)
{
	struct seen *s = arg;
	if (s->len + len < sizeof s->text) {
		memcpy(s->text + s->len, text, len);
		s->len += len;
		s->text[s->len] = '\0';
	}
	if (chars <= s->last_chars || strlen(text) != len)
		s->monotonic = false;
	s->last_chars = chars;
	s->calls++;
}

/* ---- tests ---- */

static void test_path_and_body(void)
{
	char path[CONVERSE_PATH_MAX];
	CHECK(converse_path("anthropic.claude-3-haiku-20240307-v1:0", false, path, sizeof path) == 0 &&
	      strcmp(path, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse") == 0,
	      "':' encoded: %s", path);
	CHECK(converse_path("arn:aws:bedrock:us-east-1:1:inference-profile/us.m-v1:0", true, path,
	                    sizeof path) == 0 &&
	      strcmp(path, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.m-v1%3A0"
	             "/converse-stream") == 0, "ARN: '/' encoded, stream path: %s", path);
	char small[20];
	CHECK(converse_path("anthropic.claude-v2", false, small, sizeof small) == -1, "too small a buffer");

	char *body = converse_request_body("What is 2+2?", "You are terse.", 256, true, 0.2);
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	json_t *msg = json_array_get(json_object_get(j, "messages"), 0);
	CHECK(j && json_object_size(j) == 3 &&
	      strcmp(json_string_value(json_object_get(msg, "role")), "user") == 0 &&
	      strcmp(json_string_value(json_object_get(json_array_get(json_object_get(msg, "content"), 0),
	                                               "text")), "What is 2+2?") == 0 &&
	      strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j, "system"), 0),
	                                               "text")), "You are terse.") == 0 &&
	      json_integer_value(json_object_get(json_object_get(j, "inferenceConfig"), "maxTokens")) == 256 &&
	      json_real_value(json_object_get(json_object_get(j, "inferenceConfig"), "temperature")) == 0.2,
	      "body: %s", body ? body : "(null)");
	CHECK(body && strstr(body, "\"temperature\":0.2}") != NULL, "temperature written short");
	json_decref(j);
	free(body);
	body = converse_request_body("q \"quoted\"\n", NULL, 1, false, 0);
	j = body ? json_loads(body, 0, NULL) : NULL;
	CHECK(j && !json_object_get(j, "system") &&
	      json_object_size(json_object_get(j, "inferenceConfig")) == 1,
	      "no system, no temperature: %s", body ? body : "(null)");
	json_decref(j);
	free(body);
}

static void test_parse_response(void)
{
	const char *ok = "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
	                 "{\"text\":\"Four\"},{\"toolUse\":{\"name\":\"x\"}},{\"text\":\", I think.\"}]}},"
	                 "\"stopReason\":\"max_tokens\",\"usage\":{\"inputTokens\":5,\"outputTokens\":3,"
	                 "\"totalTokens\":8},\"metrics\":{\"latencyMs\":9}}";
	struct converse_answer a;
	struct converse_error e;
	CHECK(converse_parse_response(ok, strlen(ok), &a, &e) == 0 &&
	      strcmp(a.text, "Four, I think.") == 0 && a.len == 14 &&
	      strcmp(a.stop_reason, "max_tokens") == 0 && a.usage.input_tokens == 5 &&
	      a.usage.output_tokens == 3 && a.usage.total_tokens == 8,
	      "text blocks joined, other blocks skipped, stop reason and usage");
	converse_answer_free(&a);

	const char *empty = "{\"output\":{\"message\":{\"content\":[]}},\"stopReason\":\"end_turn\"}";
	CHECK(converse_parse_response(empty, strlen(empty), &a, &e) == 0 && a.text &&
	      a.text[0] == '\0' && a.usage.total_tokens == 0, "no text: an empty answer, zero usage");
	converse_answer_free(&a);

	const char *bad[] = {
		"", "[]", "{\"output\":{}}", "{\"output\":{\"message\":{\"content\":{}}}}",
		"{\"output\":{\"message\":{\"content\":[{\"text\":5}]}}}",
		"{\"output\":{\"message\":{\"content\":[]}},\"usage\":{\"inputTokens\":-1}}",
		"{\"output\":{\"message\":{\"content\":[]}},\"usage\":[]}",
		"{\"output\":{\"message\":{\"content\":[]}},\"stopReason\":7}",
		"{\"output\":{\"message\":{\"content\":[{\"text\":\"a\"}]}},\"stopReason\":\"end_turn\",\"stopReason\":\"x\"}",
		"{\"output\":{\"message\":{\"content\":[{\"text\":\"a\\u0000b\"}]}}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		int rc = converse_parse_response(bad[i], strlen(bad[i]), &a, &e);
		CHECK(rc == -1 && strcmp(e.code, "InvalidResponse") == 0 && a.text == NULL,
		      "refused: %s (%s)", bad[i], e.message);
	}
}

static void run_stream(const struct bytes *b, size_t piece, struct seen *seen,
                       struct converse_stream *s, int *feed_rc, int *finish_rc)
{
	memset(seen, 0, sizeof *seen);
	seen->monotonic = true;
	converse_stream_init(s, on_delta, seen);
	*feed_rc = 0;
	for (size_t off = 0; off < b->len && *feed_rc == 0; off += piece) {
		size_t n = b->len - off < piece ? b->len - off : piece;
		*feed_rc = converse_stream_feed(s, b->p + off, n);
	}
	*finish_rc = *feed_rc == 0 ? converse_stream_finish(s) : -1;
}

static void test_stream_good(void)
{
	struct bytes b = good_stream();
	const size_t pieces[] = { 1, 7, 100, 1 << 20 };
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		struct seen seen;
		struct converse_stream s;
		int feed_rc, finish_rc;
		run_stream(&b, pieces[i], &seen, &s, &feed_rc, &finish_rc);
		CHECK(feed_rc == 0 && finish_rc == 0, "pieces of %zu: stream accepted", pieces[i]);
		CHECK(s.answer.text && strcmp(s.answer.text, "Hello, w\xc3\xb6rld \xe2\x9c\x93") == 0 &&
		      strcmp(seen.text, s.answer.text) == 0,
		      "the deltas joined are the answer");
		CHECK(seen.calls == 3 && seen.monotonic && seen.last_chars == 14,
		      "3 non-empty deltas, counts rising to 14 characters (%zu, %zu)", seen.calls,
		      seen.last_chars);
		CHECK(strcmp(s.answer.stop_reason, "end_turn") == 0 && s.answer.usage.input_tokens == 12 &&
		      s.answer.usage.output_tokens == 7 && s.answer.usage.total_tokens == 19,
		      "stop reason and usage");
		converse_stream_free(&s);
	}
	free(b.p);
}

static void expect_failure(const struct bytes *b, const char *code, const char *message_part,
                           const char *what)
{
	struct seen seen;
	struct converse_stream s;
	int feed_rc, finish_rc;
	run_stream(b, 5, &seen, &s, &feed_rc, &finish_rc);
	CHECK(finish_rc == -1 && s.failed && strcmp(s.error.code, code) == 0 &&
	      strstr(s.error.message, message_part) != NULL,
	      "%s: %s: %s", what, s.error.code, s.error.message);
	CHECK(converse_stream_feed(&s, "x", 1) == -1, "%s: stays failed", what);
	converse_stream_free(&s);
}

static void test_stream_failures(void)
{
	struct bytes b = { 0 };
	add_event(&b, "messageStart", "{\"role\":\"assistant\"}");
	add_delta(&b, "partial");
	add_message(&b, "exception", ":exception-type", "validationException",
	            "{\"message\":\"The stream failed on purpose (STREAM-ERROR in the prompt).\"}");
	add_event(&b, "messageStop", "{\"stopReason\":\"end_turn\"}");
	expect_failure(&b, "validationException", "STREAM-ERROR", "exception event");
	free(b.p);

	b = (struct bytes){ 0 };
	add_message(&b, "exception", ":exception-type", "throttlingException", "not json");
	expect_failure(&b, "throttlingException", "ended the stream", "exception without a message");
	free(b.p);

	b = (struct bytes){ 0 };
	add_message(&b, "error", ":error-code", "InternalFailure", "{}");
	expect_failure(&b, "InternalFailure", "", "error message");
	free(b.p);

	b = good_stream();
	b.len -= 3; /* the last message cut short */
	expect_failure(&b, "InvalidEventStream", "ended inside a message", "truncated stream");
	b.len += 3;
	b.p[30] ^= 0x40; /* inside the first message: its CRC no longer matches */
	expect_failure(&b, "InvalidEventStream", "corrupt", "flipped bit");
	free(b.p);

	b = (struct bytes){ 0 };
	add_event(&b, "messageStart", "{}");
	add_delta(&b, "no stop");
	expect_failure(&b, "InvalidEventStream", "before messageStop", "no messageStop");
	free(b.p);

	b = (struct bytes){ 0 };
	add_event(&b, "contentBlockDelta", "[1]");
	expect_failure(&b, "InvalidResponse", "not a JSON object", "event payload not an object");
	free(b.p);

	b = (struct bytes){ 0 };
	add_event(&b, "contentBlockDelta", "{\"delta\":{\"text\":3}}");
	expect_failure(&b, "InvalidResponse", "not a string", "delta text not a string");
	free(b.p);

	b = (struct bytes){ 0 };
	add_message(&b, "surprise", ":event-type", "messageStop", "{}");
	expect_failure(&b, "InvalidResponse", ":message-type", "unknown message type");
	free(b.p);

	b = (struct bytes){ 0 };
	add_event(&b, "metadata", "{\"usage\":{\"totalTokens\":\"many\"}}");
	expect_failure(&b, "InvalidResponse", "usage.totalTokens", "bad usage");
	free(b.p);

	/* 20 deltas of 60000 bytes: over the 1 MiB answer bound after 18. */
	b = (struct bytes){ 0 };
	char *chunk = malloc(60001);
	memset(chunk, 'a', 60000);
	chunk[60000] = '\0';
	for (int i = 0; i < 20; i++)
		add_delta(&b, chunk);
	free(chunk);
	expect_failure(&b, "AnswerTooLarge", "over", "answer over the bound");
	free(b.p);

	/* Unknown event types (tool use starts, newer events) are skipped. */
	b = (struct bytes){ 0 };
	add_event(&b, "contentBlockStart", "{\"start\":{\"toolUse\":{}}}");
	add_event(&b, "contentBlockDelta", "{\"delta\":{\"toolUse\":{\"input\":\"{}\"}}}");
	add_event(&b, "somethingNew", "{}");
	add_event(&b, "messageStop", "{\"stopReason\":\"tool_use\"}");
	struct seen seen;
	struct converse_stream s;
	int feed_rc, finish_rc;
	run_stream(&b, 3, &seen, &s, &feed_rc, &finish_rc);
	CHECK(finish_rc == 0 && s.answer.text && s.answer.len == 0 && seen.calls == 0 &&
	      strcmp(s.answer.stop_reason, "tool_use") == 0, "other events skipped; empty answer");
	converse_stream_free(&s);
	free(b.p);
}

int main(void)
{
	test_path_and_body();
	test_parse_response();
	test_stream_good();
	test_stream_failures();
	return check_finish();
}
