/* Converse and ConverseStream requests and answers. The stream's events arrive through the
 * event-stream decoder; each one is a small JSON document named by its ':event-type' header,
 * or an exception the service sends mid-stream instead of an HTTP error. */
#include "converse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws/service.h"

/* ---- shared ---- */

void converse_answer_free(struct converse_answer *a)
{
	free(a->text);
	memset(a, 0, sizeof *a);
}

static int fail(struct converse_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct converse_error *err, const char *code, const char *fmt, ...)
{
	snprintf(err->code, sizeof err->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copies bytes the service chose into an error text that must stay valid UTF-8: anything but
 * printable ASCII becomes '?'. */
static void copy_printable(char *out, size_t cap, const void *in, size_t len)
{
	const unsigned char *s = in;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		out[n++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[n] = '\0';
}

/* Copies UTF-8 text, cut on a character boundary when it does not fit. */
static void copy_utf8(char *out, size_t cap, const char *in)
{
	size_t len = strlen(in);
	if (len >= cap) {
		len = cap - 1;
		while (len > 0 && ((unsigned char)in[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(out, in, len);
	out[len] = '\0';
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static int answer_append(struct converse_answer *a, const char *text, size_t len,
                         struct converse_error *err)
{
	if (len > CONVERSE_ANSWER_MAX - a->len)
		return fail(err, "AnswerTooLarge", "the answer is over %u bytes", CONVERSE_ANSWER_MAX);
	if (!a->text || a->len + len + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 1024;
		while (cap < a->len + len + 1)
			cap *= 2;
		char *p = realloc(a->text, cap);
		if (!p)
			return fail(err, "OutOfMemory", "no memory for the answer");
		a->text = p;
		a->cap = cap;
	}
	memcpy(a->text + a->len, text, len);
	a->len += len;
	a->text[a->len] = '\0';
	return 0;
}

static int read_stop_reason(json_t *v, struct converse_answer *a, struct converse_error *err)
{
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= sizeof a->stop_reason)
		return fail(err, "InvalidResponse", "stopReason is not a short string");
	copy_printable(a->stop_reason, sizeof a->stop_reason, json_string_value(v),
	               json_string_length(v));
	return 0;
}

static int read_count(json_t *usage, const char *key, long long *out, struct converse_error *err)
{
	json_t *v = json_object_get(usage, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(err, "InvalidResponse", "usage.%s is not a count", key);
	*out = json_integer_value(v);
	return 0;
}

static int read_usage(json_t *usage, struct converse_usage *u, struct converse_error *err)
{
	if (!usage)
		return 0;
	if (!json_is_object(usage))
		return fail(err, "InvalidResponse", "usage is not an object");
	if (read_count(usage, "inputTokens", &u->input_tokens, err) != 0 ||
	    read_count(usage, "outputTokens", &u->output_tokens, err) != 0 ||
	    read_count(usage, "totalTokens", &u->total_tokens, err) != 0)
		return -1;
	return 0;
}

/* ---- the request ---- */

int converse_path(const char *model, bool stream, char *out, size_t cap)
{
	/* The id goes in one path segment: ':' and '/' of ARNs are encoded (the signer encodes
	 * the path once more, as SigV4 asks for every service but S3). */
	char encoded[3 * 2048 + 1];
	int n = aws_uri_encode(model, strlen(model), false, encoded, sizeof encoded);
	if (n < 0)
		return -1;
	int w = snprintf(out, cap, "/model/%s/%s", encoded, stream ? "converse-stream" : "converse");
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

char *converse_request_body(const char *question, const char *system, long max_tokens,
                            bool has_temperature, double temperature)
{
	json_t *body = json_pack("{s:[{s:s, s:[{s:s}]}], s:{s:I}}",
	                         "messages", "role", "user", "content", "text", question,
	                         "inferenceConfig", "maxTokens", (json_int_t)max_tokens);
	if (!body)
		return NULL;
	int rc = 0;
	if (system)
		rc |= json_object_set_new(body, "system", json_pack("[{s:s}]", "text", system));
	if (has_temperature)
		rc |= json_object_set_new(json_object_get(body, "inferenceConfig"), "temperature",
		                          json_real(temperature));
	char *text = rc == 0 ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(body);
	return text;
}

/* ---- Converse ---- */

int converse_parse_response(const char *body, size_t len, struct converse_answer *out,
                            struct converse_error *err)
{
	memset(out, 0, sizeof *out);
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, "InvalidResponse", "the Converse answer is not a JSON object");
	}
	json_t *content = json_object_get(json_object_get(json_object_get(root, "output"), "message"),
	                                  "content");
	int rc = 0;
	if (!json_is_array(content)) {
		rc = fail(err, "InvalidResponse", "the Converse answer has no output.message.content");
		goto out;
	}
	size_t i;
	json_t *block;
	json_array_foreach(content, i, block) {
		/* Other blocks (tool use, reasoning) are not part of the text answer. */
		json_t *text = json_object_get(block, "text");
		if (!text)
			continue;
		if (!json_is_string(text)) {
			rc = fail(err, "InvalidResponse",
			          "output.message.content[%zu].text is not a string", i);
			goto out;
		}
		if ((rc = answer_append(out, json_string_value(text), json_string_length(text), err)) != 0)
			goto out;
	}
	if ((rc = read_stop_reason(json_object_get(root, "stopReason"), out, err)) != 0 ||
	    (rc = read_usage(json_object_get(root, "usage"), &out->usage, err)) != 0)
		goto out;
	if (!out->text)
		rc = answer_append(out, "", 0, err);
out:
	json_decref(root);
	if (rc != 0)
		converse_answer_free(out);
	return rc;
}

/* ---- ConverseStream ---- */

int converse_stream_init(struct converse_stream *s, converse_delta_fn on_delta, void *arg)
{
	memset(s, 0, sizeof *s);
	s->on_delta = on_delta;
	s->arg = arg;
	return aws_es_decoder_init(&s->decoder, CONVERSE_EVENT_MAX) == AWS_ES_OK ? 0 : -1;
}

void converse_stream_free(struct converse_stream *s)
{
	aws_es_decoder_free(&s->decoder);
	converse_answer_free(&s->answer);
}

static int stream_fail(struct converse_stream *s, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int stream_fail(struct converse_stream *s, const char *code, const char *fmt, ...)
{
	s->failed = true;
	snprintf(s->error.code, sizeof s->error.code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error.message, sizeof s->error.message, fmt, ap);
	va_end(ap);
	return -1;
}

/* An exception the service sends in place of further events: ':exception-type' with a JSON
 * {"message"} payload, or an 'error' message with ':error-code' and ':error-message'. */
static int on_exception(struct converse_stream *s, const struct aws_es_message *msg, bool is_error)
{
	size_t len = 0;
	const char *type = aws_es_header_string(msg, is_error ? ":error-code" : ":exception-type", &len);
	s->failed = true;
	if (type && len > 0)
		copy_printable(s->error.code, sizeof s->error.code, type, len);
	else
		snprintf(s->error.code, sizeof s->error.code, "%s",
		         is_error ? "StreamError" : "StreamException");
	s->error.message[0] = '\0';
	const char *text = is_error ? aws_es_header_string(msg, ":error-message", &len) : NULL;
	if (text) {
		copy_printable(s->error.message, sizeof s->error.message, text, len);
		return -1;
	}
	json_t *payload = json_loadb((const char *)msg->payload, msg->payload_len, 0, NULL);
	json_t *m = json_object_get(payload, "message");
	if (!m)
		m = json_object_get(payload, "Message");
	if (json_is_string(m))
		copy_utf8(s->error.message, sizeof s->error.message, json_string_value(m));
	else
		snprintf(s->error.message, sizeof s->error.message, "the service ended the stream");
	json_decref(payload);
	return -1;
}

static int on_delta_event(struct converse_stream *s, json_t *event)
{
	json_t *text = json_object_get(json_object_get(event, "delta"), "text");
	if (!text) /* tool-use input or reasoning: not part of the text answer */
		return 0;
	if (!json_is_string(text))
		return stream_fail(s, "InvalidResponse", "contentBlockDelta.delta.text is not a string");
	size_t len = json_string_length(text);
	if (len == 0)
		return 0;
	const char *t = json_string_value(text);
	if (answer_append(&s->answer, t, len, &s->error) != 0) {
		s->failed = true;
		return -1;
	}
	s->chars += utf8_chars(t, len);
	if (s->on_delta)
		s->on_delta(t, len, s->chars, s->arg);
	return 0;
}

static int on_event(struct converse_stream *s, const struct aws_es_message *msg)
{
	size_t len = 0;
	const char *type = aws_es_header_string(msg, ":event-type", &len);
	if (!type)
		return stream_fail(s, "InvalidResponse", "an event without :event-type");
	char name[64];
	copy_printable(name, sizeof name, type, len);
	json_t *event = json_loadb((const char *)msg->payload, msg->payload_len, 0, NULL);
	if (!json_is_object(event)) {
		json_decref(event);
		return stream_fail(s, "InvalidResponse", "the %s event is not a JSON object", name);
	}
	int rc = 0;
	if (strcmp(name, "contentBlockDelta") == 0) {
		rc = on_delta_event(s, event);
	} else if (strcmp(name, "messageStop") == 0) {
		s->stopped = true;
		if (read_stop_reason(json_object_get(event, "stopReason"), &s->answer, &s->error) != 0)
			rc = -1;
	} else if (strcmp(name, "metadata") == 0) {
		if (read_usage(json_object_get(event, "usage"), &s->answer.usage, &s->error) != 0)
			rc = -1;
	}
	/* messageStart, contentBlockStart, contentBlockStop and newer events carry nothing the
	 * answer needs. */
	json_decref(event);
	if (rc != 0)
		s->failed = true;
	return rc;
}

static int on_message(const struct aws_es_message *msg, void *arg)
{
	struct converse_stream *s = arg;
	size_t len = 0;
	const char *kind = aws_es_header_string(msg, ":message-type", &len);
	if (kind && len == 5 && memcmp(kind, "event", 5) == 0)
		return on_event(s, msg);
	if (kind && len == 9 && memcmp(kind, "exception", 9) == 0)
		return on_exception(s, msg, false);
	if (kind && len == 5 && memcmp(kind, "error", 5) == 0)
		return on_exception(s, msg, true);
	return stream_fail(s, "InvalidResponse", "a stream message without a known :message-type");
}

int converse_stream_feed(struct converse_stream *s, const void *data, size_t len)
{
	if (s->failed)
		return -1;
	enum aws_es_error e = aws_es_feed(&s->decoder, data, len, on_message, s);
	if (e == AWS_ES_OK)
		return 0;
	if (!s->failed) /* the framing itself, not an event we refused */
		stream_fail(s, "InvalidEventStream", "the answer stream is corrupt: %s", aws_es_strerror(e));
	return -1;
}

int converse_stream_finish(struct converse_stream *s)
{
	if (s->failed)
		return -1;
	enum aws_es_error e = aws_es_finish(&s->decoder);
	if (e != AWS_ES_OK)
		return stream_fail(s, "InvalidEventStream", "the answer stream is corrupt: %s",
		                   aws_es_strerror(e));
	if (!s->stopped)
		return stream_fail(s, "InvalidEventStream", "the answer stream ended before messageStop");
	if (!s->answer.text && answer_append(&s->answer, "", 0, &s->error) != 0) {
		s->failed = true;
		return -1;
	}
	return 0;
}
