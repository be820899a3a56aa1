/* Fuzzes the event-stream decoder: the input (after its first byte) is fed in pieces whose size
 * the first byte picks, and must give the same messages and the same error as feeding it whole;
 * every decoded message must re-encode to its exact bytes and decode again to itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/eventstream.h"

/* What one decoding run saw, to compare runs: count and an order-sensitive hash of the bytes. */
struct run {
	size_t messages;
	uint64_t hash;
	uint64_t bytes;
	bool check_round_trip;
};

static uint64_t mix(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static bool inside(const void *p, size_t len, const struct aws_es_message *msg)
{
	const uint8_t *b = p;
	return b >= msg->raw && len <= msg->raw_len && b - msg->raw <= (ptrdiff_t)(msg->raw_len - len);
}

static void check_view(const struct aws_es_message *msg)
{
	if (msg->raw_len < AWS_ES_MIN_MESSAGE || msg->n_headers > AWS_ES_MAX_HEADERS ||
	    !inside(msg->payload, msg->payload_len, msg) ||
	    msg->payload + msg->payload_len + 4 != msg->raw + msg->raw_len)
		abort();
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct aws_es_header *h = &msg->headers[i];
		if (h->name_len == 0 || h->name_len > 255 || !inside(h->name, h->name_len, msg) ||
		    (unsigned)h->type > AWS_ES_UUID)
			abort();
		if ((h->type == AWS_ES_BYTES || h->type == AWS_ES_STRING || h->type == AWS_ES_UUID) &&
		    h->data_len && !inside(h->data, h->data_len, msg))
			abort();
	}
	/* The helpers on the names Bedrock uses, whatever the headers hold. */
	size_t len;
	const char *v = aws_es_header_string(msg, ":event-type", &len);
	if (v && aws_es_header_is(msg, ":event-type", "contentBlockDelta") !=
	         (len == 17 && memcmp(v, "contentBlockDelta", 17) == 0))
		abort();
	const struct aws_es_header *h = aws_es_find_header(msg, ":message-type");
	if ((aws_es_header_string(msg, ":message-type", NULL) != NULL) != (h && h->type == AWS_ES_STRING))
		abort();
}

static int count_one(const struct aws_es_message *msg, void *arg)
{
	size_t *n = arg;
	if (msg->raw_len < AWS_ES_MIN_MESSAGE)
		abort();
	(*n)++;
	return 0;
}

/* Encoding the decoded view gives back the exact bytes, which decode to one message. */
static void check_round_trip(const struct aws_es_message *msg)
{
	uint8_t *out = malloc(msg->raw_len);
	if (!out)
		abort();
	size_t out_len = 0;
	if (aws_es_encode(msg->headers, msg->n_headers, msg->payload, msg->payload_len, out,
	                  msg->raw_len, &out_len) != AWS_ES_OK ||
	    out_len != msg->raw_len || memcmp(out, msg->raw, out_len) != 0)
		abort();
	struct aws_es_decoder dec;
	size_t n = 0;
	if (aws_es_decoder_init(&dec, AWS_ES_HARD_MAX_MESSAGE) != AWS_ES_OK ||
	    aws_es_feed(&dec, out, out_len, count_one, &n) != AWS_ES_OK ||
	    aws_es_finish(&dec) != AWS_ES_OK || n != 1)
		abort();
	aws_es_decoder_free(&dec);
	free(out);
}

static int on_message(const struct aws_es_message *msg, void *arg)
{
	struct run *r = arg;
	check_view(msg);
	if (r->check_round_trip)
		check_round_trip(msg);
	r->messages++;
	r->bytes += msg->raw_len;
	r->hash = mix(r->hash, msg->raw, msg->raw_len);
	return 0;
}

static enum aws_es_error run(const uint8_t *data, size_t size, size_t chunk, size_t max,
                             struct run *r)
{
	struct aws_es_decoder dec;
	if (aws_es_decoder_init(&dec, max) != AWS_ES_OK)
		abort();
	enum aws_es_error err = AWS_ES_OK;
	for (size_t at = 0; at < size && err == AWS_ES_OK; at += chunk) {
		size_t n = size - at < chunk ? size - at : chunk;
		err = aws_es_feed(&dec, data + at, n, on_message, r);
	}
	if (err == AWS_ES_OK)
		err = aws_es_finish(&dec);
	if (dec.consumed != r->bytes || dec.messages != r->messages || dec.cap > dec.max_message)
		abort();
	/* Sticky: nothing more gets through a failed decoder. */
	if (err != AWS_ES_OK && aws_es_feed(&dec, data, size, on_message, r) != err)
		abort();
	aws_es_decoder_free(&dec);
	return err;
}

/* First byte: bits 0-5 the piece size (0: whole), bit 6 a small 512-byte maximum. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = data[0] & 0x3f, max = (data[0] & 0x40) ? 512 : 0;
	data++;
	size--;
	struct run whole = { .hash = 0xcbf29ce484222325ull, .check_round_trip = true };
	struct run pieces = { .hash = 0xcbf29ce484222325ull };
	enum aws_es_error err_whole = run(data, size, size ? size : 1, max, &whole);
	enum aws_es_error err_pieces = run(data, size, chunk ? chunk : size + 1, max, &pieces);
	if (err_whole != err_pieces || whole.messages != pieces.messages || whole.hash != pieces.hash)
		abort();
	if (aws_es_strerror(err_whole) == NULL)
		abort();
	return 0;
}
