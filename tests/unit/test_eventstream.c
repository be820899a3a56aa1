/* Unit tests for the event-stream codec: byte vectors whose CRCs were computed outside this
 * code (python3 zlib/binascii), every header type, every error, feeding split at every offset
 * and one byte at a time, size limits, the encoder's refusals, and a seeded round-trip run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "aws/eventstream.h"

#include "check.h"

/* Independent vectors, built by hand and their CRCs computed with python3 binascii.crc32 /
 * zlib.crc32. The empty message is also aws-c-event-stream's published empty_message vector. */
static const uint8_t vec_empty[] = {
	0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb,
	0x7d, 0x98, 0xc8, 0xff,
};

/* :event-type contentBlockDelta, :content-type application/json, :message-type event, and
 * the JSON a ConverseStream delta carries. */
static const uint8_t vec_bedrock[] = {
	0x00, 0x00, 0x00, 0x9f, 0x00, 0x00, 0x00, 0x57, 0xc3, 0x7b, 0xab, 0xff,
	0x0b, 0x3a, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x2d, 0x74, 0x79, 0x70, 0x65,
	0x07, 0x00, 0x11, 0x63, 0x6f, 0x6e, 0x74, 0x65, 0x6e, 0x74, 0x42, 0x6c,
	0x6f, 0x63, 0x6b, 0x44, 0x65, 0x6c, 0x74, 0x61, 0x0d, 0x3a, 0x63, 0x6f,
	0x6e, 0x74, 0x65, 0x6e, 0x74, 0x2d, 0x74, 0x79, 0x70, 0x65, 0x07, 0x00,
	0x10, 0x61, 0x70, 0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e,
	0x2f, 0x6a, 0x73, 0x6f, 0x6e, 0x0d, 0x3a, 0x6d, 0x65, 0x73, 0x73, 0x61,
	0x67, 0x65, 0x2d, 0x74, 0x79, 0x70, 0x65, 0x07, 0x00, 0x05, 0x65, 0x76,
	0x65, 0x6e, 0x74, 0x7b, 0x22, 0x63, 0x6f, 0x6e, 0x74, 0x65, 0x6e, 0x74,
	0x42, 0x6c, 0x6f, 0x63, 0x6b, 0x49, 0x6e, 0x64, 0x65, 0x78, 0x22, 0x3a,
	0x30, 0x2c, 0x22, 0x64, 0x65, 0x6c, 0x74, 0x61, 0x22, 0x3a, 0x7b, 0x22,
	0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0x48, 0x69, 0x22, 0x7d, 0x2c,
	0x22, 0x70, 0x22, 0x3a, 0x22, 0x61, 0x62, 0x63, 0x64, 0x22, 0x7d, 0xf2,
	0xac, 0xe5, 0xff,
};
static const char bedrock_payload[] = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abcd\"}";

/* One header of each type: t true, f false, b byte -2, s short -300, i int32 -70000,
 * l int64 -5000000000, y bytes 00 ff 7f, str string "ok", ts timestamp 1700000000123,
 * u uuid 00..0f; payload 01 02. */
static const uint8_t vec_all_types[] = {
	0x00, 0x00, 0x00, 0x63, 0x00, 0x00, 0x00, 0x51, 0xa7, 0xdc, 0xb3, 0x96,
	0x01, 0x74, 0x00, 0x01, 0x66, 0x01, 0x01, 0x62, 0x02, 0xfe, 0x01, 0x73,
	0x03, 0xfe, 0xd4, 0x01, 0x69, 0x04, 0xff, 0xfe, 0xee, 0x90, 0x01, 0x6c,
	0x05, 0xff, 0xff, 0xff, 0xfe, 0xd5, 0xfa, 0x0e, 0x00, 0x01, 0x79, 0x06,
	0x00, 0x03, 0x00, 0xff, 0x7f, 0x03, 0x73, 0x74, 0x72, 0x07, 0x00, 0x02,
	0x6f, 0x6b, 0x02, 0x74, 0x73, 0x08, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5,
	0x68, 0x7b, 0x01, 0x75, 0x09, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x01, 0x02, 0xc0,
	0x2f, 0x0e, 0x0d,
};

/* Preludes with a correct CRC (python3) but impossible lengths, each padded to 16 bytes. */
static const uint8_t vec_total_zero[] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0x22, 0xdf, 0x69,
	0x7e, 0x2a, 0x53, 0xfc,
};
static const uint8_t vec_total_15[] = {
	0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0xe7, 0x72, 0x48, 0xb8,
	0x45, 0xab, 0x32, 0xb2,
};
static const uint8_t vec_headers_past_end[] = { /* total 16, headers 1 */
	0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x72, 0xc5, 0x78, 0x7d,
	0x75, 0x75, 0x6f, 0x6d,
};
static const uint8_t vec_over_hard_max[] = { /* total 16 MiB + 1 */
	0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x94, 0xe8, 0xf6, 0x47,
	0xc8, 0x86, 0xfb, 0xa0,
};

/* What the callback saw: each message's raw bytes, concatenated, and some of its facts. */
#define SEEN_MAX 64
struct seen {
	size_t n;
	uint8_t raw[64 * 1024];
	size_t raw_len;
	size_t n_headers[SEEN_MAX];
	size_t payload_len[SEEN_MAX];
	bool payload_inside[SEEN_MAX]; /* payload and headers point inside raw */
	int stop_after;                /* return non-zero after this many; 0: never */
};

static int on_seen(const struct aws_es_message *msg, void *arg)
{
	struct seen *s = arg;
	if (s->n < SEEN_MAX) {
		bool inside = msg->payload >= msg->raw &&
		              msg->payload + msg->payload_len + 4 == msg->raw + msg->raw_len;
		for (size_t i = 0; i < msg->n_headers; i++) {
			const uint8_t *name = (const uint8_t *)msg->headers[i].name;
			inside = inside && name > msg->raw && name + msg->headers[i].name_len <= msg->payload;
		}
		s->n_headers[s->n] = msg->n_headers;
		s->payload_len[s->n] = msg->payload_len;
		s->payload_inside[s->n] = inside;
	}
	if (s->raw_len + msg->raw_len <= sizeof s->raw) {
		memcpy(s->raw + s->raw_len, msg->raw, msg->raw_len);
		s->raw_len += msg->raw_len;
	}
	s->n++;
	return s->stop_after && s->n >= (size_t)s->stop_after;
}

static struct seen *seen_new(void)
{
	struct seen *s = calloc(1, sizeof *s);
	if (!s) {
		perror("calloc");
		exit(2);
	}
	return s;
}

/* Feeds buf in pieces of `step` bytes (0: all at once); returns the first error. */
static enum aws_es_error feed_steps(struct aws_es_decoder *dec, const uint8_t *buf, size_t len,
                                    size_t step, struct seen *s)
{
	if (step == 0)
		step = len ? len : 1;
	for (size_t at = 0; at < len; at += step) {
		size_t n = len - at < step ? len - at : step;
		enum aws_es_error err = aws_es_feed(dec, buf + at, n, on_seen, s);
		if (err != AWS_ES_OK)
			return err;
	}
	return AWS_ES_OK;
}

/* Decodes the whole of buf with a fresh decoder: the error, or the finish result. */
static enum aws_es_error decode_all(const uint8_t *buf, size_t len, size_t step, size_t max,
                                    struct seen *s)
{
	struct aws_es_decoder dec;
	enum aws_es_error err = aws_es_decoder_init(&dec, max);
	if (err == AWS_ES_OK)
		err = feed_steps(&dec, buf, len, step, s);
	if (err == AWS_ES_OK)
		err = aws_es_finish(&dec);
	aws_es_decoder_free(&dec);
	return err;
}

static struct aws_es_header str_header(const char *name, const char *value)
{
	return (struct aws_es_header){ .name = name, .name_len = strlen(name), .type = AWS_ES_STRING,
		.data = (const uint8_t *)value, .data_len = strlen(value) };
}

static struct aws_es_header int_header(const char *name, enum aws_es_type type, int64_t v)
{
	return (struct aws_es_header){ .name = name, .name_len = strlen(name), .type = type,
		.integer = v };
}

static int check_bedrock_view(const struct aws_es_message *msg, void *arg)
{
	int *ok = arg;
	size_t len = 0;
	const char *ev = aws_es_header_string(msg, ":event-type", &len);
	*ok = msg->n_headers == 3 && ev && len == 17 && memcmp(ev, "contentBlockDelta", 17) == 0 &&
	      aws_es_header_is(msg, ":message-type", "event") &&
	      aws_es_header_is(msg, ":content-type", "application/json") &&
	      !aws_es_header_is(msg, ":message-type", "exception") &&
	      !aws_es_header_is(msg, ":message-type", "even") &&
	      aws_es_header_string(msg, ":exception-type", NULL) == NULL &&
	      msg->payload_len == strlen(bedrock_payload) &&
	      memcmp(msg->payload, bedrock_payload, msg->payload_len) == 0 &&
	      msg->raw_len == sizeof vec_bedrock;
	return 0;
}

static int check_all_types_view(const struct aws_es_message *msg, void *arg)
{
	int *ok = arg;
	static const uint8_t uuid[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	const struct aws_es_header *h = msg->headers;
	*ok = msg->n_headers == 10 &&
	      h[0].type == AWS_ES_BOOL_TRUE && h[0].integer == 1 && h[0].name_len == 1 && h[0].name[0] == 't' &&
	      h[1].type == AWS_ES_BOOL_FALSE && h[1].integer == 0 &&
	      h[2].type == AWS_ES_BYTE && h[2].integer == -2 &&
	      h[3].type == AWS_ES_SHORT && h[3].integer == -300 &&
	      h[4].type == AWS_ES_INT32 && h[4].integer == -70000 &&
	      h[5].type == AWS_ES_INT64 && h[5].integer == -5000000000ll &&
	      h[6].type == AWS_ES_BYTES && h[6].data_len == 3 && memcmp(h[6].data, "\x00\xff\x7f", 3) == 0 &&
	      h[7].type == AWS_ES_STRING && h[7].data_len == 2 && memcmp(h[7].data, "ok", 2) == 0 &&
	      h[7].name_len == 3 && memcmp(h[7].name, "str", 3) == 0 &&
	      h[8].type == AWS_ES_TIMESTAMP && h[8].integer == 1700000000123ll &&
	      h[9].type == AWS_ES_UUID && h[9].data_len == 16 && memcmp(h[9].data, uuid, 16) == 0 &&
	      msg->payload_len == 2 && msg->payload[0] == 1 && msg->payload[1] == 2 &&
	      aws_es_find_header(msg, "ts") == &h[8] && aws_es_find_header(msg, "nope") == NULL &&
	      aws_es_find_header(msg, "st") == NULL &&
	      aws_es_header_string(msg, "y", NULL) == NULL; /* bytes, not a string */
	return 0;
}

static void test_known_vectors(void)
{
	struct seen *s = seen_new();
	enum aws_es_error err = decode_all(vec_empty, sizeof vec_empty, 0, 0, s);
	CHECK(err == AWS_ES_OK && s->n == 1 && s->n_headers[0] == 0 && s->payload_len[0] == 0,
	      "empty message (16 bytes) decodes to no headers, no payload");

	uint8_t out[256];
	size_t out_len = 0;
	err = aws_es_encode(NULL, 0, NULL, 0, out, sizeof out, &out_len);
	CHECK(err == AWS_ES_OK && out_len == 16 && memcmp(out, vec_empty, 16) == 0,
	      "encoder: empty message is byte-exact");

	struct aws_es_decoder dec;
	int ok = 0;
	aws_es_decoder_init(&dec, 0);
	err = aws_es_feed(&dec, vec_bedrock, sizeof vec_bedrock, check_bedrock_view, &ok);
	CHECK(err == AWS_ES_OK && ok && dec.messages == 1 && dec.consumed == sizeof vec_bedrock,
	      "Bedrock contentBlockDelta vector: headers, helpers, payload");
	aws_es_decoder_free(&dec);

	struct aws_es_header h[3] = {
		str_header(":event-type", "contentBlockDelta"),
		str_header(":content-type", "application/json"),
		str_header(":message-type", "event"),
	};
	err = aws_es_encode(h, 3, bedrock_payload, strlen(bedrock_payload), out, sizeof out, &out_len);
	CHECK(err == AWS_ES_OK && out_len == sizeof vec_bedrock && memcmp(out, vec_bedrock, out_len) == 0,
	      "encoder: Bedrock vector is byte-exact");

	ok = 0;
	aws_es_decoder_init(&dec, 0);
	err = aws_es_feed(&dec, vec_all_types, sizeof vec_all_types, check_all_types_view, &ok);
	CHECK(err == AWS_ES_OK && ok, "all ten header types decode to their values");
	aws_es_decoder_free(&dec);

	static const uint8_t uuid[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	struct aws_es_header all[10] = {
		int_header("t", AWS_ES_BOOL_TRUE, 0), int_header("f", AWS_ES_BOOL_FALSE, 0),
		int_header("b", AWS_ES_BYTE, -2), int_header("s", AWS_ES_SHORT, -300),
		int_header("i", AWS_ES_INT32, -70000), int_header("l", AWS_ES_INT64, -5000000000ll),
		{ .name = "y", .name_len = 1, .type = AWS_ES_BYTES, .data = (const uint8_t *)"\x00\xff\x7f", .data_len = 3 },
		str_header("str", "ok"), int_header("ts", AWS_ES_TIMESTAMP, 1700000000123ll),
		{ .name = "u", .name_len = 1, .type = AWS_ES_UUID, .data = uuid, .data_len = 16 },
	};
	err = aws_es_encode(all, 10, "\x01\x02", 2, out, sizeof out, &out_len);
	CHECK(err == AWS_ES_OK && out_len == sizeof vec_all_types &&
	      memcmp(out, vec_all_types, out_len) == 0, "encoder: all-types vector is byte-exact");
	free(s);
}

/* The three vectors back to back, as one stream. */
static size_t make_stream(uint8_t *buf)
{
	size_t n = 0;
	memcpy(buf + n, vec_bedrock, sizeof vec_bedrock);
	n += sizeof vec_bedrock;
	memcpy(buf + n, vec_empty, sizeof vec_empty);
	n += sizeof vec_empty;
	memcpy(buf + n, vec_all_types, sizeof vec_all_types);
	n += sizeof vec_all_types;
	return n;
}

static bool stream_seen(const struct seen *s, const uint8_t *buf, size_t len)
{
	return s->n == 3 && s->raw_len == len && memcmp(s->raw, buf, len) == 0 &&
	       s->n_headers[0] == 3 && s->n_headers[1] == 0 && s->n_headers[2] == 10 &&
	       s->payload_inside[0] && s->payload_inside[1] && s->payload_inside[2];
}

static void test_split_feeding(void)
{
	uint8_t buf[512];
	size_t len = make_stream(buf);
	struct seen *s = seen_new();

	enum aws_es_error err = decode_all(buf, len, 0, 0, s);
	CHECK(err == AWS_ES_OK && stream_seen(s, buf, len), "three messages in one chunk");

	memset(s, 0, sizeof *s);
	err = decode_all(buf, len, 1, 0, s);
	CHECK(err == AWS_ES_OK && stream_seen(s, buf, len), "three messages fed one byte at a time");

	size_t bad = 0;
	for (size_t step = 2; step <= len; step++) {
		memset(s, 0, sizeof *s);
		if (decode_all(buf, len, step, 0, s) != AWS_ES_OK || !stream_seen(s, buf, len))
			bad++;
	}
	CHECK(bad == 0, "every fixed chunk size 2..%zu", len);

	/* Two cuts at every pair of offsets: every prelude/body/CRC boundary, both paths. */
	bad = 0;
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			struct aws_es_decoder dec;
			memset(s, 0, sizeof *s);
			aws_es_decoder_init(&dec, 0);
			err = aws_es_feed(&dec, buf, i, on_seen, s);
			if (err == AWS_ES_OK)
				err = aws_es_feed(&dec, buf + i, j - i, on_seen, s);
			if (err == AWS_ES_OK)
				err = aws_es_feed(&dec, buf + j, len - j, on_seen, s);
			if (err == AWS_ES_OK)
				err = aws_es_finish(&dec);
			if (err != AWS_ES_OK || !stream_seen(s, buf, len) || dec.consumed != len)
				bad++;
			aws_es_decoder_free(&dec);
		}
	}
	CHECK(bad == 0, "split at every pair of offsets (%zu cases)", (len + 1) * (len + 2) / 2);

	struct aws_es_decoder dec;
	aws_es_decoder_init(&dec, 0);
	memset(s, 0, sizeof *s);
	err = aws_es_feed(&dec, buf, sizeof vec_bedrock + 5, on_seen, s);
	CHECK(err == AWS_ES_OK && s->n == 1 && dec.have == 5 && dec.cap == 0,
	      "a split prelude is held without allocating");
	err = aws_es_feed(&dec, NULL, 0, on_seen, s);
	CHECK(err == AWS_ES_OK && s->n == 1, "an empty feed is accepted");
	err = aws_es_finish(&dec);
	CHECK(err == AWS_ES_ERR_TRUNCATED, "finish inside a prelude: %s", aws_es_strerror(err));
	err = aws_es_feed(&dec, buf, len, on_seen, s);
	CHECK(err == AWS_ES_ERR_TRUNCATED && s->n == 1, "after finish failed the decoder stays failed");
	aws_es_decoder_free(&dec);

	aws_es_decoder_init(&dec, 0);
	err = aws_es_feed(&dec, vec_bedrock, 20, on_seen, s);
	CHECK(err == AWS_ES_OK && aws_es_finish(&dec) == AWS_ES_ERR_TRUNCATED,
	      "finish inside a message body");
	aws_es_decoder_free(&dec);
	aws_es_decoder_init(&dec, 0);
	err = aws_es_feed(&dec, vec_bedrock, sizeof vec_bedrock, NULL, NULL);
	CHECK(err == AWS_ES_OK && aws_es_finish(&dec) == AWS_ES_OK && dec.messages == 1,
	      "finish between messages; a NULL callback just counts");
	aws_es_decoder_free(&dec);
	free(s);
}

/* Decodes `msg` in one chunk and one byte at a time; both must fail with `want` and deliver
 * nothing. */
static void expect_error(const uint8_t *msg, size_t len, size_t max, enum aws_es_error want,
                         const char *what)
{
	struct seen *s = seen_new();
	enum aws_es_error whole = decode_all(msg, len, 0, max, s);
	size_t n_whole = s->n;
	memset(s, 0, sizeof *s);
	enum aws_es_error bytewise = decode_all(msg, len, 1, max, s);
	CHECK(whole == want && bytewise == want && n_whole == 0 && s->n == 0,
	      "%s: %s / %s", what, aws_es_strerror(whole), aws_es_strerror(bytewise));
	free(s);
}

/* A message with the given raw headers and payload, both CRCs correct (zlib here only makes
 * framing for the error cases; the known answers above are independent of it). */
static size_t frame(uint8_t *out, const void *headers, size_t hlen, const void *payload, size_t plen)
{
	size_t total = 16 + hlen + plen;
	out[0] = (uint8_t)(total >> 24);
	out[1] = (uint8_t)(total >> 16);
	out[2] = (uint8_t)(total >> 8);
	out[3] = (uint8_t)total;
	out[4] = (uint8_t)(hlen >> 24);
	out[5] = (uint8_t)(hlen >> 16);
	out[6] = (uint8_t)(hlen >> 8);
	out[7] = (uint8_t)hlen;
	uint32_t crc = (uint32_t)crc32(0L, out, 8);
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(crc >> (24 - 8 * i));
	if (hlen) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(out + 12, headers, hlen);
	if (plen)
		memcpy(out + 12 + hlen, payload, plen);
	crc = (uint32_t)crc32(0L, out, (uInt)(total - 4));
	for (int i = 0; i < 4; i++)
		out[total - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
	return total;
}

static void test_errors(void)
{
	uint8_t m[512];
	memcpy(m, vec_bedrock, sizeof vec_bedrock);
	m[9] ^= 1;
	expect_error(m, sizeof vec_bedrock, 0, AWS_ES_ERR_PRELUDE_CRC, "prelude CRC byte flipped");
	memcpy(m, vec_bedrock, sizeof vec_bedrock);
	m[3] ^= 0x40;
	expect_error(m, sizeof vec_bedrock, 0, AWS_ES_ERR_PRELUDE_CRC, "total_length flipped");
	memcpy(m, vec_bedrock, sizeof vec_bedrock);
	m[100] ^= 0x20;
	expect_error(m, sizeof vec_bedrock, 0, AWS_ES_ERR_MESSAGE_CRC, "payload byte flipped");
	memcpy(m, vec_bedrock, sizeof vec_bedrock);
	m[20] ^= 0x20;
	expect_error(m, sizeof vec_bedrock, 0, AWS_ES_ERR_MESSAGE_CRC, "header byte flipped");
	memcpy(m, vec_empty, sizeof vec_empty);
	m[15] ^= 0x80;
	expect_error(m, sizeof vec_empty, 0, AWS_ES_ERR_MESSAGE_CRC, "message CRC flipped");

	expect_error(vec_total_zero, sizeof vec_total_zero, 0, AWS_ES_ERR_TOO_SMALL, "total_length 0");
	expect_error(vec_total_15, sizeof vec_total_15, 0, AWS_ES_ERR_TOO_SMALL, "total_length 15");
	expect_error(vec_headers_past_end, sizeof vec_headers_past_end, 0, AWS_ES_ERR_HEADERS_LENGTH,
	             "headers_length 1 in a 16-byte message");
	expect_error(vec_over_hard_max, sizeof vec_over_hard_max, AWS_ES_HARD_MAX_MESSAGE,
	             AWS_ES_ERR_TOO_LARGE, "total_length 16 MiB + 1 at the hard maximum");

	static const uint8_t empty_name[] = { 0x00, 0x07, 0x00, 0x00 };
	static const uint8_t name_past_end[] = { 0x05, 'a', 'b', 'c' };
	static const uint8_t no_type[] = { 0x02, 'a', 'b' };
	static const uint8_t no_length[] = { 0x01, 'a', 0x07, 0x00 };
	static const uint8_t string_past_end[] = { 0x01, 'a', 0x07, 0x00, 0x05, 'x', 'y' };
	static const uint8_t int32_cut[] = { 0x01, 'a', 0x04, 0x00, 0x01 };
	static const uint8_t uuid_cut[] = { 0x01, 'a', 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const uint8_t second_cut[] = { 0x01, 'a', 0x00, 0x01 };
	static const uint8_t type_10[] = { 0x01, 'a', 0x0a };
	static const uint8_t type_255[] = { 0x01, 'a', 0xff, 0x00 };
	const struct {
		const uint8_t *h;
		size_t len;
		enum aws_es_error want;
		const char *what;
	} bad_headers[] = {
		{ empty_name, sizeof empty_name, AWS_ES_ERR_MALFORMED_HEADER, "empty header name" },
		{ name_past_end, sizeof name_past_end, AWS_ES_ERR_MALFORMED_HEADER, "name past the headers' end" },
		{ no_type, sizeof no_type, AWS_ES_ERR_MALFORMED_HEADER, "no type byte" },
		{ no_length, sizeof no_length, AWS_ES_ERR_MALFORMED_HEADER, "string length cut" },
		{ string_past_end, sizeof string_past_end, AWS_ES_ERR_MALFORMED_HEADER, "string past the end" },
		{ int32_cut, sizeof int32_cut, AWS_ES_ERR_MALFORMED_HEADER, "int32 cut" },
		{ uuid_cut, sizeof uuid_cut, AWS_ES_ERR_MALFORMED_HEADER, "uuid cut at 15" },
		{ second_cut, sizeof second_cut, AWS_ES_ERR_MALFORMED_HEADER, "second header cut after its length" },
		{ type_10, sizeof type_10, AWS_ES_ERR_UNKNOWN_TYPE, "value type 10" },
		{ type_255, sizeof type_255, AWS_ES_ERR_UNKNOWN_TYPE, "value type 255" },
	};
	for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
		size_t len = frame(m, bad_headers[i].h, bad_headers[i].len, "{}", 2);
		expect_error(m, len, 0, bad_headers[i].want, bad_headers[i].what);
	}

	uint8_t many[3 * (AWS_ES_MAX_HEADERS + 1)];
	for (size_t i = 0; i <= AWS_ES_MAX_HEADERS; i++) {
		many[3 * i] = 1;
		many[3 * i + 1] = 'k';
		many[3 * i + 2] = AWS_ES_BOOL_TRUE;
	}
	size_t len = frame(m, many, sizeof many - 3, NULL, 0);
	struct seen *s = seen_new();
	CHECK(decode_all(m, len, 0, 0, s) == AWS_ES_OK && s->n == 1 && s->n_headers[0] == AWS_ES_MAX_HEADERS,
	      "%u headers (repeated names) are accepted", AWS_ES_MAX_HEADERS);
	len = frame(m, many, sizeof many, NULL, 0);
	expect_error(m, len, 0, AWS_ES_ERR_TOO_MANY_HEADERS, "one header too many");
	free(s);
}

static void test_sticky_and_abort(void)
{
	uint8_t buf[512];
	size_t len = make_stream(buf);
	struct seen *s = seen_new();
	struct aws_es_decoder dec;

	/* A good message, then a corrupt one, in one chunk: the first is still delivered. */
	memcpy(buf + sizeof vec_bedrock, vec_empty, sizeof vec_empty);
	buf[sizeof vec_bedrock + 15] ^= 1;
	aws_es_decoder_init(&dec, 0);
	enum aws_es_error err = aws_es_feed(&dec, buf, len, on_seen, s);
	CHECK(err == AWS_ES_ERR_MESSAGE_CRC && s->n == 1 && dec.consumed == sizeof vec_bedrock,
	      "messages before the error are delivered; consumed says where it broke");
	err = aws_es_feed(&dec, vec_empty, sizeof vec_empty, on_seen, s);
	CHECK(err == AWS_ES_ERR_MESSAGE_CRC && s->n == 1, "after an error the decoder stays failed");
	CHECK(aws_es_finish(&dec) == AWS_ES_ERR_MESSAGE_CRC, "finish reports the sticky error");
	aws_es_decoder_free(&dec);

	len = make_stream(buf);
	memset(s, 0, sizeof *s);
	s->stop_after = 1;
	aws_es_decoder_init(&dec, 0);
	err = aws_es_feed(&dec, buf, len, on_seen, s);
	CHECK(err == AWS_ES_ERR_ABORTED && s->n == 1, "a handler that returns non-zero stops the feed");
	aws_es_decoder_free(&dec);

	memset(s, 0, sizeof *s);
	s->stop_after = 2;
	aws_es_decoder_init(&dec, 0);
	err = feed_steps(&dec, buf, len, 1, s);
	CHECK(err == AWS_ES_ERR_ABORTED && s->n == 2, "stopping works on a buffered message too");
	aws_es_decoder_free(&dec);
	free(s);
}

static void test_limits(void)
{
	struct seen *s = seen_new();
	struct aws_es_decoder dec;
	enum aws_es_error err;
	CHECK(aws_es_decoder_init(&dec, 0) == AWS_ES_OK && dec.max_message == 1024 * 1024,
	      "default maximum is 1 MiB");
	CHECK(aws_es_decoder_init(&dec, AWS_ES_HARD_MAX_MESSAGE) == AWS_ES_OK, "16 MiB is allowed");
	CHECK(aws_es_decoder_init(&dec, AWS_ES_HARD_MAX_MESSAGE + 1) == AWS_ES_ERR_INVALID &&
	      aws_es_feed(&dec, vec_empty, sizeof vec_empty, on_seen, s) == AWS_ES_ERR_INVALID,
	      "over 16 MiB is refused and the decoder is failed");
	CHECK(aws_es_decoder_init(&dec, 15) == AWS_ES_ERR_INVALID, "under 16 bytes is refused");

	err = decode_all(vec_bedrock, sizeof vec_bedrock, 1, sizeof vec_bedrock, s);
	CHECK(err == AWS_ES_OK, "a message exactly at the maximum passes (bytewise)");
	expect_error(vec_bedrock, sizeof vec_bedrock, sizeof vec_bedrock - 1, AWS_ES_ERR_TOO_LARGE,
	             "one byte over the maximum");
	expect_error(vec_over_hard_max, sizeof vec_over_hard_max, 0, AWS_ES_ERR_TOO_LARGE,
	             "16 MiB + 1 against the default");

	/* The buffer never outgrows the maximum, and a lying length allocates nothing. */
	aws_es_decoder_init(&dec, 200);
	err = feed_steps(&dec, vec_bedrock, sizeof vec_bedrock, 1, s);
	CHECK(err == AWS_ES_OK && dec.cap > 0 && dec.cap <= 200, "buffer capped at max (%zu)", dec.cap);
	aws_es_decoder_free(&dec);
	aws_es_decoder_init(&dec, 0);
	err = feed_steps(&dec, vec_over_hard_max, 12, 1, s);
	CHECK(err == AWS_ES_ERR_TOO_LARGE && dec.cap == 0, "an oversized prelude allocates nothing");
	aws_es_decoder_free(&dec);

	/* The largest message the format allows, through the buffer in 64 KiB pieces. */
	size_t payload_len = AWS_ES_HARD_MAX_MESSAGE - AWS_ES_MIN_MESSAGE, out_len = 0;
	uint8_t *payload = malloc(payload_len);
	uint8_t *out = malloc(AWS_ES_HARD_MAX_MESSAGE);
	if (!payload || !out) {
		perror("malloc");
		exit(2);
	}
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(i * 7);
	err = aws_es_encode(NULL, 0, payload, payload_len, out, AWS_ES_HARD_MAX_MESSAGE, &out_len);
	CHECK(err == AWS_ES_OK && out_len == AWS_ES_HARD_MAX_MESSAGE, "encoder: a 16 MiB message");
	memset(s, 0, sizeof *s);
	err = decode_all(out, out_len, 65536, AWS_ES_HARD_MAX_MESSAGE, s);
	CHECK(err == AWS_ES_OK && s->n == 1 && s->payload_len[0] == payload_len,
	      "a 16 MiB message decodes in 64 KiB pieces");
	err = aws_es_encode(NULL, 0, payload, payload_len + 1, out, AWS_ES_HARD_MAX_MESSAGE, &out_len);
	CHECK(err == AWS_ES_ERR_TOO_LARGE, "encoder: one byte over 16 MiB is refused");
	free(payload);
	free(out);
	free(s);
}

static void test_encoder_refusals(void)
{
	uint8_t out[256];
	size_t out_len = 0;
	static const uint8_t uuid[16];
	char long_name[257];
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[256] = '\0';
	const struct {
		struct aws_es_header h;
		const char *what;
	} bad[] = {
		{ { .name = "a", .name_len = 0, .type = AWS_ES_BOOL_TRUE }, "empty name" },
		{ { .name = long_name, .name_len = 256, .type = AWS_ES_BOOL_TRUE }, "256-byte name" },
		{ { .name = "a", .name_len = 1, .type = (enum aws_es_type)10 }, "type 10" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_BYTE, .integer = 128 }, "byte 128" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_BYTE, .integer = -129 }, "byte -129" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_SHORT, .integer = 32768 }, "short 32768" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_INT32, .integer = 2147483648ll }, "int32 2^31" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_STRING, .data = out, .data_len = 65536 }, "string 65536" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_STRING, .data = NULL, .data_len = 1 }, "string NULL data" },
		{ { .name = "a", .name_len = 1, .type = AWS_ES_UUID, .data = uuid, .data_len = 15 }, "uuid of 15" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum aws_es_error err = aws_es_encode(&bad[i].h, 1, NULL, 0, out, sizeof out, &out_len);
		CHECK(err == AWS_ES_ERR_INVALID, "encoder refuses %s", bad[i].what);
	}
	struct aws_es_header many[AWS_ES_MAX_HEADERS + 1];
	for (size_t i = 0; i <= AWS_ES_MAX_HEADERS; i++)
		many[i] = int_header("k", AWS_ES_BOOL_FALSE, 0);
	CHECK(aws_es_encode(many, AWS_ES_MAX_HEADERS + 1, NULL, 0, out, sizeof out, &out_len) ==
	      AWS_ES_ERR_TOO_MANY_HEADERS, "encoder refuses %u headers", AWS_ES_MAX_HEADERS + 1);
	CHECK(aws_es_encode(NULL, 0, NULL, 1, out, sizeof out, &out_len) == AWS_ES_ERR_INVALID,
	      "encoder refuses a NULL payload with a length");

	struct aws_es_header h = str_header(":message-type", "event");
	out_len = 0;
	CHECK(aws_es_encode(&h, 1, "x", 1, NULL, 0, &out_len) == AWS_ES_ERR_BUFFER_TOO_SMALL &&
	      out_len == 16 + 1 + 13 + 1 + 2 + 5 + 1, "encoder with no buffer reports the size (%zu)", out_len);
	size_t need = out_len;
	CHECK(aws_es_encode(&h, 1, "x", 1, out, need - 1, &out_len) == AWS_ES_ERR_BUFFER_TOO_SMALL &&
	      aws_es_encode(&h, 1, "x", 1, out, need, &out_len) == AWS_ES_OK && out_len == need,
	      "encoder: one byte short fails, exact size works");
}

static int check_extremes(const struct aws_es_message *msg, void *arg)
{
	int *ok = arg;
	const struct aws_es_header *h = msg->headers;
	*ok = msg->n_headers == 11 &&
	      h[0].integer == -128 && h[1].integer == 127 && h[2].integer == -32768 &&
	      h[3].integer == 32767 && h[4].integer == INT32_MIN && h[5].integer == INT32_MAX &&
	      h[6].integer == INT64_MIN && h[7].integer == INT64_MAX && h[8].integer == -1 &&
	      h[9].name_len == 255 && h[9].data_len == 65535 && h[9].data[65534] == 'z' &&
	      h[10].type == AWS_ES_STRING && h[10].data_len == 0 &&
	      aws_es_header_string(msg, "empty", NULL) != NULL && aws_es_header_is(msg, "empty", "");
	return 0;
}

static void test_extremes(void)
{
	static char name255[256], value[65536];
	memset(name255, 'N', 255);
	memset(value, 'z', 65535);
	struct aws_es_header h[11] = {
		int_header("b", AWS_ES_BYTE, -128), int_header("b", AWS_ES_BYTE, 127),
		int_header("s", AWS_ES_SHORT, -32768), int_header("s", AWS_ES_SHORT, 32767),
		int_header("i", AWS_ES_INT32, INT32_MIN), int_header("i", AWS_ES_INT32, INT32_MAX),
		int_header("l", AWS_ES_INT64, INT64_MIN), int_header("l", AWS_ES_INT64, INT64_MAX),
		int_header("ts", AWS_ES_TIMESTAMP, -1),
		{ .name = name255, .name_len = 255, .type = AWS_ES_STRING, .data = (const uint8_t *)value, .data_len = 65535 },
		{ .name = "empty", .name_len = 5, .type = AWS_ES_STRING, .data = NULL, .data_len = 0 },
	};
	size_t need = 0;
	aws_es_encode(h, 11, NULL, 0, NULL, 0, &need);
	uint8_t *out = malloc(need);
	if (!out) {
		perror("malloc");
		exit(2);
	}
	size_t out_len = 0;
	enum aws_es_error err = aws_es_encode(h, 11, NULL, 0, out, need, &out_len);
	int ok = 0;
	struct aws_es_decoder dec;
	aws_es_decoder_init(&dec, 0);
	if (err == AWS_ES_OK)
		err = aws_es_feed(&dec, out, out_len, check_extremes, &ok);
	CHECK(err == AWS_ES_OK && ok, "range limits, a 255-byte name, a 65535-byte and an empty string");
	aws_es_decoder_free(&dec);
	free(out);
}

static void test_strerror(void)
{
	bool distinct = true;
	for (int a = AWS_ES_OK; a <= AWS_ES_ERR_BUFFER_TOO_SMALL; a++)
		for (int b = a + 1; b <= AWS_ES_ERR_BUFFER_TOO_SMALL; b++)
			if (strcmp(aws_es_strerror(a), aws_es_strerror(b)) == 0)
				distinct = false;
	CHECK(distinct && aws_es_strerror((enum aws_es_error)99) != NULL &&
	      strstr(aws_es_strerror(AWS_ES_ERR_PRELUDE_CRC), "prelude CRC") != NULL,
	      "every error has its own text");
}

/* Seeded random messages of every header type, encoded, joined, fed in random pieces. */
static uint32_t rng_state = 0x2545f491;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static size_t random_message(uint8_t *out, size_t cap, uint8_t *scratch)
{
	struct aws_es_header h[8];
	size_t n = rnd() % 9, used = 0;
	for (size_t i = 0; i < n; i++) {
		h[i] = (struct aws_es_header){ .name = ":event-type", .name_len = 1 + rnd() % 11,
			.type = (enum aws_es_type)(rnd() % 10) };
		h[i].integer = (int64_t)((uint64_t)rnd() << 32 | rnd());
		if (h[i].type == AWS_ES_BYTE)
			h[i].integer = (int8_t)h[i].integer;
		else if (h[i].type == AWS_ES_SHORT)
			h[i].integer = (int16_t)h[i].integer;
		else if (h[i].type == AWS_ES_INT32)
			h[i].integer = (int32_t)h[i].integer;
		h[i].data_len = h[i].type == AWS_ES_UUID ? 16 : rnd() % 40;
		h[i].data = scratch + used;
		for (size_t k = 0; k < h[i].data_len; k++)
			scratch[used++] = (uint8_t)rnd();
	}
	uint8_t payload[64];
	size_t plen = rnd() % sizeof payload;
	for (size_t k = 0; k < plen; k++)
		payload[k] = (uint8_t)rnd();
	size_t len = 0;
	if (aws_es_encode(h, n, payload, plen, out, cap, &len) != AWS_ES_OK)
		return 0;
	return len;
}

static void test_random_round_trip(void)
{
	static uint8_t stream[32 * 1024], scratch[8 * 40];
	struct seen *s = seen_new();
	size_t bad = 0, total_msgs = 0;
	for (int round = 0; round < 300; round++) {
		size_t len = 0, n = 1 + rnd() % 10;
		for (size_t m = 0; m < n; m++) {
			size_t one = random_message(stream + len, sizeof stream - len, scratch);
			if (one == 0)
				bad++;
			len += one;
		}
		memset(s, 0, sizeof *s);
		struct aws_es_decoder dec;
		aws_es_decoder_init(&dec, 0);
		enum aws_es_error err = AWS_ES_OK;
		for (size_t at = 0; at < len && err == AWS_ES_OK;) {
			size_t piece = 1 + rnd() % 300;
			if (piece > len - at)
				piece = len - at;
			err = aws_es_feed(&dec, stream + at, piece, on_seen, s);
			at += piece;
		}
		if (err != AWS_ES_OK || aws_es_finish(&dec) != AWS_ES_OK || s->n != n ||
		    s->raw_len != len || memcmp(s->raw, stream, len) != 0)
			bad++;
		total_msgs += n;
		aws_es_decoder_free(&dec);
	}
	CHECK(bad == 0, "300 random streams (%zu messages) in random pieces decode to their bytes",
	      total_msgs);
	free(s);
}

int main(void)
{
	test_known_vectors();
	test_split_feeding();
	test_errors();
	test_sticky_and_abort();
	test_limits();
	test_encoder_refusals();
	test_extremes();
	test_strerror();
	test_random_round_trip();
	return check_finish();
}
