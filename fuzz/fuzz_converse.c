/* Fuzzes the ai server's Bedrock answer handling. First byte even: the rest is a Converse
 * response body. Odd: the second byte picks a piece size and the rest is a ConverseStream
 * body, fed through the event-stream decoder into the event handler in pieces and whole;
 * both runs must agree, the deltas joined must be the answer, and every answer must be valid
 * UTF-8 within its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../servers/ai/converse.h"
#include "mcp_server.h"

struct seen {
	char *text;
	size_t len;
	size_t last_chars;
};

static void on_delta(const char *text, size_t len, size_t chars, void *arg)
{
	struct seen *s = arg;
	if (len == 0 || strlen(text) != len || chars <= s->last_chars)
		abort(); /* empty deltas are not reported; counts only rise */
	s->last_chars = chars;
	char *p = realloc(s->text, s->len + len + 1);
	if (!p)
		abort();
	memcpy(p + s->len, text, len);
	s->text = p;
	s->len += len;
	s->text[s->len] = '\0';
}

static void check_answer(const struct converse_answer *a)
{
	if (!a->text || a->len > CONVERSE_ANSWER_MAX || strlen(a->text) != a->len ||
	    (a->len && !mcp_text_is_utf8(a->text, a->len)) ||
	    strlen(a->stop_reason) >= CONVERSE_STOP_REASON_MAX ||
	    a->usage.input_tokens < 0 || a->usage.output_tokens < 0 || a->usage.total_tokens < 0)
		abort();
}

static void check_error(const struct converse_error *e)
{
	if (!e->code[0] || !mcp_text_is_utf8(e->code, strlen(e->code)) ||
	    (e->message[0] && !mcp_text_is_utf8(e->message, strlen(e->message))))
		abort();
}

static void fuzz_response(const uint8_t *data, size_t size)
{
	struct converse_answer a;
	struct converse_error e;
	memset(&e, 0, sizeof e);
	if (converse_parse_response((const char *)data, size, &a, &e) == 0) {
		check_answer(&a);
		converse_answer_free(&a);
	} else {
		check_error(&e);
		if (a.text)
			abort();
	}
}

/* Feeds the stream in pieces of `piece` bytes; returns finish's result. */
static int run_stream(const uint8_t *data, size_t size, size_t piece, struct converse_stream *s,
                      struct seen *seen)
{
	memset(seen, 0, sizeof *seen);
	if (converse_stream_init(s, on_delta, seen) != 0)
		abort();
	for (size_t off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		if (converse_stream_feed(s, data + off, n) != 0)
			return -1;
	}
	return converse_stream_finish(s);
}

static void fuzz_stream(const uint8_t *data, size_t size, size_t piece)
{
	struct converse_stream pieces, whole;
	struct seen seen_pieces, seen_whole;
	int rc_pieces = run_stream(data, size, piece, &pieces, &seen_pieces);
	int rc_whole = run_stream(data, size, size ? size : 1, &whole, &seen_whole);
	if (rc_pieces != rc_whole || pieces.failed != whole.failed)
		abort();
	if (rc_whole == 0) {
		check_answer(&whole.answer);
		check_answer(&pieces.answer);
		if (whole.answer.len != pieces.answer.len ||
		    memcmp(whole.answer.text, pieces.answer.text, whole.answer.len) != 0 ||
		    strcmp(whole.answer.stop_reason, pieces.answer.stop_reason) != 0 ||
		    seen_whole.len != whole.answer.len ||
		    (seen_whole.len && memcmp(seen_whole.text, whole.answer.text, seen_whole.len) != 0))
			abort();
	} else {
		check_error(&whole.error);
		check_error(&pieces.error);
		if (strcmp(whole.error.code, pieces.error.code) != 0)
			abort();
	}
	free(seen_pieces.text);
	free(seen_whole.text);
	converse_stream_free(&pieces);
	converse_stream_free(&whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		fuzz_response(data + 1, size - 1);
		return 0;
	}
	if (size < 2)
		return 0;
	fuzz_stream(data + 2, size - 2, (size_t)data[1] + 1);
	return 0;
}
