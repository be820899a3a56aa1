/* Unit tests for the router's bounded line reader (gateway/router/lines.c). */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

#include "check.h"

static enum line_result next(struct line_reader *lr, struct evbuffer *in, char *out, size_t cap,
                             size_t *len)
{
	char *line = NULL;
	enum line_result r = line_next(lr, in, &line, len);
	out[0] = '\0';
	if (r == LINE_OK) {
		snprintf(out, cap, "%s", line);
		free(line);
	}
	return r;
}

int main(void)
{
	struct evbuffer *in = evbuffer_new();
	struct line_reader lr;
	char got[256];
	size_t len;
	line_reader_init(&lr, 10);

	evbuffer_add_printf(in, "{\"a\":1}\n{\"b\"");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_OK && strcmp(got, "{\"a\":1}") == 0 && len == 7,
	      "first line");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_NONE, "partial line waits");
	evbuffer_add_printf(in, ":2}\r\n\n\n");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_OK && strcmp(got, "{\"b\":2}") == 0,
	      "completed line, CR removed");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_NONE && evbuffer_get_length(in) == 0,
	      "blank lines skipped");

	evbuffer_add_printf(in, "0123456789\n");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_OK && len == 10, "line of exactly max");

	evbuffer_add_printf(in, "0123456789A\nok\n");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_DROPPED && len == 11, "max+1 dropped whole");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_OK && strcmp(got, "ok") == 0,
	      "the next line survives");

	/* An over-long line arriving in pieces is never buffered past the limit. */
	for (int i = 0; i < 5; i++) {
		evbuffer_add_printf(in, "xxxxxxxx");
		CHECK(next(&lr, in, got, sizeof got, &len) == LINE_NONE && evbuffer_get_length(in) <= 10,
		      "long line in pieces: bounded buffer");
	}
	evbuffer_add_printf(in, "yy\n{}\n");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_DROPPED && len == 42,
	      "long line in pieces: dropped with its full length");
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_OK && strcmp(got, "{}") == 0,
	      "reader recovers after a dropped line");

	/* Many small pieces of one line: searched incrementally, still found. */
	line_reader_init(&lr, 4096);
	for (int i = 0; i < 1000; i++)
		evbuffer_add(in, "a", 1);
	CHECK(next(&lr, in, got, sizeof got, &len) == LINE_NONE, "no newline yet");
	evbuffer_add(in, "\n", 1);
	char *line = NULL;
	CHECK(line_next(&lr, in, &line, &len) == LINE_OK && len == 1000, "incremental search finds the end");
	free(line);

	evbuffer_free(in);
	return check_finish();
}
