/* Bedrock Runtime's Converse and ConverseStream on the wire: the request path and body, the
 * Converse answer, and the ConverseStream event stream (AWS event-stream framing, CRCs checked)
 * turned into text deltas, a stop reason and token usage. Pure: no I/O, for tests and fuzzing. */
#ifndef MCPGATE_AI_CONVERSE_H
#define MCPGATE_AI_CONVERSE_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/eventstream.h"

#define CONVERSE_ANSWER_MAX (1024u * 1024u) /* bytes of answer text kept; more is an error */
#define CONVERSE_STOP_REASON_MAX 64
#define CONVERSE_EVENT_MAX (256u * 1024u)   /* one event-stream message */
#define CONVERSE_PATH_MAX (32u + 3u * 2048u)

struct converse_usage {
	long long input_tokens, output_tokens, total_tokens;
};

struct converse_answer {
	char *text; /* NUL-terminated; NULL until text arrives */
	size_t len, cap;
	char stop_reason[CONVERSE_STOP_REASON_MAX]; /* "" when none was given */
	struct converse_usage usage;
};

void converse_answer_free(struct converse_answer *a);

/* "/model/<model id percent-encoded>/converse" or ".../converse-stream". -1 when it does
 * not fit. */
int converse_path(const char *model, bool stream, char *out, size_t cap);

/* The Converse / ConverseStream request body (malloc'd, compact JSON): one user message,
 * the system prompt when not NULL, and inferenceConfig. NULL when out of memory. */
char *converse_request_body(const char *question, const char *system, long max_tokens,
                            bool has_temperature, double temperature);

/* What went wrong with an answer, in the words of aws_result: the service's exception type
 * (e.g. "validationException") or our own code for a malformed answer. */
struct converse_error {
	char code[128];
	char message[512];
};

/* Reads a Converse response body: the text blocks of output.message.content joined, the
 * stopReason and usage. 0, or -1 with err set (code "InvalidResponse"). */
int converse_parse_response(const char *body, size_t len, struct converse_answer *out,
                            struct converse_error *err);

/* Called for each non-empty text delta, with the delta (NUL-terminated, valid during the
 * call) and the answer's length so far in characters, this delta included. */
typedef void (*converse_delta_fn)(const char *text, size_t len, size_t chars_so_far, void *arg);

struct converse_stream {
	struct aws_es_decoder decoder;
	struct converse_answer answer;
	size_t chars;
	bool stopped;  /* messageStop seen */
	bool failed;
	struct converse_error error;
	converse_delta_fn on_delta;
	void *arg;
};

/* 0, or -1 when out of memory. on_delta may be NULL. */
int converse_stream_init(struct converse_stream *s, converse_delta_fn on_delta, void *arg);
void converse_stream_free(struct converse_stream *s);

/* Takes the next bytes of the ConverseStream body, cut anywhere. Returns 0 to go on, or -1
 * once the stream failed: an exception or error event from the service (error.code names it),
 * a corrupt frame, a malformed event or an answer over CONVERSE_ANSWER_MAX. */
int converse_stream_feed(struct converse_stream *s, const void *data, size_t len);

/* At the end of the body: 0 when the stream ended cleanly after messageStop, -1 (error set)
 * otherwise. */
int converse_stream_finish(struct converse_stream *s);

#endif
