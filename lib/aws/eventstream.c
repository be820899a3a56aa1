/* AWS event-stream framing: the decoder checks the prelude before trusting its lengths, then
 * the whole message before parsing a header; a message that arrives whole in one chunk is
 * parsed where it lies, one that arrives split is gathered in the decoder's buffer. */
#include "eventstream.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define CRC_LEN 4u
#define MAX_NAME 255u

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* The IEEE CRC-32 (zlib's). Lengths never exceed 16 MiB, so uInt is wide enough. */
static uint32_t crc_of(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32(0L, p, (uInt)len);
}

const char *aws_es_strerror(enum aws_es_error err)
{
	switch (err) {
	case AWS_ES_OK:
		return "no error";
	case AWS_ES_ERR_PRELUDE_CRC:
		return "event stream: prelude CRC mismatch (corrupt data, or the body is not an event stream)";
	case AWS_ES_ERR_MESSAGE_CRC:
		return "event stream: message CRC mismatch (the message was corrupted)";
	case AWS_ES_ERR_TOO_SMALL:
		return "event stream: message length under the 16-byte minimum";
	case AWS_ES_ERR_TOO_LARGE:
		return "event stream: message length over the configured maximum";
	case AWS_ES_ERR_HEADERS_LENGTH:
		return "event stream: headers length runs past the end of the message";
	case AWS_ES_ERR_MALFORMED_HEADER:
		return "event stream: malformed header (empty name or cut off)";
	case AWS_ES_ERR_UNKNOWN_TYPE:
		return "event stream: unknown header value type";
	case AWS_ES_ERR_TOO_MANY_HEADERS:
		return "event stream: too many headers in one message";
	case AWS_ES_ERR_TRUNCATED:
		return "event stream: the stream ended inside a message";
	case AWS_ES_ERR_ABORTED:
		return "event stream: stopped by the message handler";
	case AWS_ES_ERR_NOMEM:
		return "event stream: out of memory";
	case AWS_ES_ERR_INVALID:
		return "event stream: invalid argument or header";
	case AWS_ES_ERR_BUFFER_TOO_SMALL:
		return "event stream: output buffer too small";
	}
	return "event stream: unknown error";
}

enum aws_es_error aws_es_decoder_init(struct aws_es_decoder *dec, size_t max_message)
{
	memset(dec, 0, sizeof *dec);
	if (max_message == 0)
		max_message = AWS_ES_DEFAULT_MAX_MESSAGE;
	if (max_message < AWS_ES_MIN_MESSAGE || max_message > AWS_ES_HARD_MAX_MESSAGE) {
		dec->error = AWS_ES_ERR_INVALID;
		return dec->error;
	}
	dec->max_message = max_message;
	return AWS_ES_OK;
}

void aws_es_decoder_free(struct aws_es_decoder *dec)
{
	free(dec->buf);
	dec->buf = NULL;
	dec->cap = 0;
	dec->have = 0;
}

static enum aws_es_error fail(struct aws_es_decoder *dec, enum aws_es_error err)
{
	dec->error = err;
	return err;
}

/* Checks the prelude's CRC first: until it matches, the lengths are noise and must not size
 * anything. Then the lengths, so no allocation ever follows a lying prefix past the maximum. */
static enum aws_es_error accept_prelude(struct aws_es_decoder *dec, const uint8_t *p)
{
	if (crc_of(p, 8) != get_be32(p + 8))
		return AWS_ES_ERR_PRELUDE_CRC;
	uint32_t total = get_be32(p), headers = get_be32(p + 4);
	if (total < AWS_ES_MIN_MESSAGE)
		return AWS_ES_ERR_TOO_SMALL;
	if (total > dec->max_message)
		return AWS_ES_ERR_TOO_LARGE;
	if (headers > total - AWS_ES_MIN_MESSAGE)
		return AWS_ES_ERR_HEADERS_LENGTH;
	dec->total_len = total;
	dec->headers_len = headers;
	return AWS_ES_OK;
}

/* Size of a fixed-size value, or -1 for the two length-prefixed types, -2 for unknown. */
static int fixed_value_size(uint8_t type)
{
	switch (type) {
	case AWS_ES_BOOL_TRUE:
	case AWS_ES_BOOL_FALSE:
		return 0;
	case AWS_ES_BYTE:
		return 1;
	case AWS_ES_SHORT:
		return 2;
	case AWS_ES_INT32:
		return 4;
	case AWS_ES_INT64:
	case AWS_ES_TIMESTAMP:
		return 8;
	case AWS_ES_UUID:
		return (int)AWS_ES_UUID_LEN;
	case AWS_ES_BYTES:
	case AWS_ES_STRING:
		return -1;
	}
	return -2;
}

/* Fills the value of `h` from v[size]; the type is already known to be valid. */
static void read_value(struct aws_es_header *h, const uint8_t *v, size_t size)
{
	switch (h->type) {
	case AWS_ES_BOOL_TRUE:
		h->integer = 1;
		break;
	case AWS_ES_BOOL_FALSE:
		h->integer = 0;
		break;
	case AWS_ES_BYTE:
		h->integer = (int8_t)v[0];
		break;
	case AWS_ES_SHORT:
		h->integer = (int16_t)get_be16(v);
		break;
	case AWS_ES_INT32:
		h->integer = (int32_t)get_be32(v);
		break;
	case AWS_ES_INT64:
	case AWS_ES_TIMESTAMP:
		h->integer = (int64_t)get_be64(v);
		break;
	case AWS_ES_BYTES:
	case AWS_ES_STRING:
	case AWS_ES_UUID:
		h->data = v;
		h->data_len = size;
		break;
	}
}

/* Parses p[len] into out[AWS_ES_MAX_HEADERS]; the headers must fill len exactly. */
static enum aws_es_error parse_headers(const uint8_t *p, size_t len, struct aws_es_header *out,
                                       size_t *n_out)
{
	size_t at = 0, n = 0;
	while (at < len) {
		if (n == AWS_ES_MAX_HEADERS)
			return AWS_ES_ERR_TOO_MANY_HEADERS;
		size_t name_len = p[at++];
		/* The name and the type byte after it. */
		if (name_len == 0 || len - at < name_len + 1)
			return AWS_ES_ERR_MALFORMED_HEADER;
		struct aws_es_header *h = &out[n];
		memset(h, 0, sizeof *h);
		h->name = (const char *)p + at;
		h->name_len = name_len;
		at += name_len;
		uint8_t type = p[at++];
		int fixed = fixed_value_size(type);
		if (fixed == -2)
			return AWS_ES_ERR_UNKNOWN_TYPE;
		h->type = (enum aws_es_type)type;
		size_t size;
		if (fixed >= 0) {
			size = (size_t)fixed;
		} else {
			if (len - at < 2)
				return AWS_ES_ERR_MALFORMED_HEADER;
			size = get_be16(p + at);
			at += 2;
		}
		if (len - at < size)
			return AWS_ES_ERR_MALFORMED_HEADER;
		read_value(h, p + at, size);
		at += size;
		n++;
	}
	*n_out = n;
	return AWS_ES_OK;
}

/* Verifies and parses the complete message at p (dec->total_len bytes), then hands it over. */
static enum aws_es_error deliver(struct aws_es_decoder *dec, const uint8_t *p,
                                 aws_es_on_message on_message, void *arg)
{
	size_t total = dec->total_len, headers_len = dec->headers_len;
	if (crc_of(p, total - CRC_LEN) != get_be32(p + total - CRC_LEN))
		return AWS_ES_ERR_MESSAGE_CRC;
	struct aws_es_message msg = {
		.headers = dec->headers,
		.payload = p + AWS_ES_PRELUDE_LEN + headers_len,
		.payload_len = total - AWS_ES_MIN_MESSAGE - headers_len,
		.raw = p,
		.raw_len = total,
	};
	enum aws_es_error err = parse_headers(p + AWS_ES_PRELUDE_LEN, headers_len, dec->headers,
	                                      &msg.n_headers);
	if (err != AWS_ES_OK)
		return err;
	dec->have = 0;
	dec->total_len = 0;
	dec->headers_len = 0;
	dec->consumed += total;
	dec->messages++;
	if (on_message && on_message(&msg, arg) != 0)
		return AWS_ES_ERR_ABORTED;
	return AWS_ES_OK;
}

/* Room for the current message. Grows by doubling so a stream of slowly growing messages
 * does not reallocate each time; never past max_message. */
static enum aws_es_error reserve(struct aws_es_decoder *dec, size_t need)
{
	if (need <= dec->cap)
		return AWS_ES_OK;
	size_t cap = dec->cap ? dec->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > dec->max_message)
		cap = dec->max_message;
	uint8_t *buf = realloc(dec->buf, cap);
	if (!buf)
		return AWS_ES_ERR_NOMEM;
	dec->buf = buf;
	dec->cap = cap;
	return AWS_ES_OK;
}

/* Moves the checked prelude into the buffer, sized for the whole message. */
static enum aws_es_error start_buffering(struct aws_es_decoder *dec, const uint8_t *prelude)
{
	enum aws_es_error err = reserve(dec, dec->total_len);
	if (err != AWS_ES_OK)
		return err;
	memcpy(dec->buf, prelude, AWS_ES_PRELUDE_LEN);
	dec->have = AWS_ES_PRELUDE_LEN;
	return AWS_ES_OK;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

enum aws_es_error aws_es_feed(struct aws_es_decoder *dec, const void *data, size_t len,
                              aws_es_on_message on_message, void *arg)
{
	const uint8_t *in = data;
	enum aws_es_error err;
	if (dec->error != AWS_ES_OK)
		return dec->error;
	while (len > 0) {
		if (dec->have == 0 && len >= AWS_ES_PRELUDE_LEN) {
			/* A prelude that arrives whole is checked where it lies. */
			if ((err = accept_prelude(dec, in)) != AWS_ES_OK)
				return fail(dec, err);
			if (len >= dec->total_len) {
				size_t total = dec->total_len;
				if ((err = deliver(dec, in, on_message, arg)) != AWS_ES_OK)
					return fail(dec, err);
				in += total;
				len -= total;
				continue;
			}
			if ((err = start_buffering(dec, in)) != AWS_ES_OK)
				return fail(dec, err);
			in += AWS_ES_PRELUDE_LEN;
			len -= AWS_ES_PRELUDE_LEN;
		} else if (dec->have < AWS_ES_PRELUDE_LEN) {
			/* A split prelude is gathered apart: nothing is allocated until it checks. */
			size_t take = min_size(AWS_ES_PRELUDE_LEN - dec->have, len);
			memcpy(dec->prelude + dec->have, in, take);
			dec->have += take;
			in += take;
			len -= take;
			if (dec->have < AWS_ES_PRELUDE_LEN)
				break;
			dec->have = 0;
			if ((err = accept_prelude(dec, dec->prelude)) != AWS_ES_OK ||
			    (err = start_buffering(dec, dec->prelude)) != AWS_ES_OK)
				return fail(dec, err);
		}
		size_t take = min_size(dec->total_len - dec->have, len);
		memcpy(dec->buf + dec->have, in, take);
		dec->have += take;
		in += take;
		len -= take;
		if (dec->have == dec->total_len && (err = deliver(dec, dec->buf, on_message, arg)) != AWS_ES_OK)
			return fail(dec, err);
	}
	return AWS_ES_OK;
}

enum aws_es_error aws_es_finish(struct aws_es_decoder *dec)
{
	if (dec->error == AWS_ES_OK && dec->have != 0)
		return fail(dec, AWS_ES_ERR_TRUNCATED);
	return dec->error;
}

const struct aws_es_header *aws_es_find_header(const struct aws_es_message *msg, const char *name)
{
	size_t name_len = strlen(name);
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct aws_es_header *h = &msg->headers[i];
		if (h->name_len == name_len && memcmp(h->name, name, name_len) == 0)
			return h;
	}
	return NULL;
}

const char *aws_es_header_string(const struct aws_es_message *msg, const char *name, size_t *len)
{
	const struct aws_es_header *h = aws_es_find_header(msg, name);
	if (!h || h->type != AWS_ES_STRING)
		return NULL;
	if (len)
		*len = h->data_len;
	/* An empty string still has to read as present, and data points into the message. */
	return h->data_len ? (const char *)h->data : "";
}

bool aws_es_header_is(const struct aws_es_message *msg, const char *name, const char *value)
{
	size_t len;
	const char *s = aws_es_header_string(msg, name, &len);
	return s && len == strlen(value) && memcmp(s, value, len) == 0;
}

static bool integer_fits(enum aws_es_type type, int64_t v)
{
	switch (type) {
	case AWS_ES_BYTE:
		return v >= INT8_MIN && v <= INT8_MAX;
	case AWS_ES_SHORT:
		return v >= INT16_MIN && v <= INT16_MAX;
	case AWS_ES_INT32:
		return v >= INT32_MIN && v <= INT32_MAX;
	default:
		return true;
	}
}

/* Wire size of one header, or 0 when the encoder refuses it. */
static size_t header_size(const struct aws_es_header *h)
{
	if (h->name_len == 0 || h->name_len > MAX_NAME || !h->name)
		return 0;
	if ((unsigned)h->type > AWS_ES_UUID)
		return 0;
	int fixed = fixed_value_size((uint8_t)h->type);
	size_t value;
	if (fixed >= 0) {
		if (h->type == AWS_ES_UUID && (h->data_len != AWS_ES_UUID_LEN || !h->data))
			return 0;
		if (!integer_fits(h->type, h->integer))
			return 0;
		value = (size_t)fixed;
	} else {
		if (h->data_len > AWS_ES_MAX_VALUE || (h->data_len && !h->data))
			return 0;
		value = 2 + h->data_len;
	}
	return 1 + h->name_len + 1 + value;
}

static uint8_t *write_header(uint8_t *p, const struct aws_es_header *h)
{
	*p++ = (uint8_t)h->name_len;
	memcpy(p, h->name, h->name_len);
	p += h->name_len;
	*p++ = (uint8_t)h->type;
	switch (h->type) {
	case AWS_ES_BOOL_TRUE:
	case AWS_ES_BOOL_FALSE:
		break;
	case AWS_ES_BYTE:
		*p++ = (uint8_t)h->integer;
		break;
	case AWS_ES_SHORT:
		put_be16(p, (uint16_t)h->integer);
		p += 2;
		break;
	case AWS_ES_INT32:
		put_be32(p, (uint32_t)h->integer);
		p += 4;
		break;
	case AWS_ES_INT64:
	case AWS_ES_TIMESTAMP:
		put_be64(p, (uint64_t)h->integer);
		p += 8;
		break;
	case AWS_ES_UUID:
		memcpy(p, h->data, AWS_ES_UUID_LEN);
		p += AWS_ES_UUID_LEN;
		break;
	case AWS_ES_BYTES:
	case AWS_ES_STRING:
		put_be16(p, (uint16_t)h->data_len);
		p += 2;
		if (h->data_len)
			memcpy(p, h->data, h->data_len);
		p += h->data_len;
		break;
	}
	return p;
}

enum aws_es_error aws_es_encode(const struct aws_es_header *headers, size_t n_headers,
                                const void *payload, size_t payload_len,
                                uint8_t *out, size_t cap, size_t *out_len)
{
	if (n_headers > AWS_ES_MAX_HEADERS)
		return AWS_ES_ERR_TOO_MANY_HEADERS;
	if (payload_len && !payload)
		return AWS_ES_ERR_INVALID;
	/* Each header is at most 64 KiB and there are at most 64: no overflow before the check. */
	size_t headers_len = 0;
	for (size_t i = 0; i < n_headers; i++) {
		size_t size = header_size(&headers[i]);
		if (size == 0)
			return AWS_ES_ERR_INVALID;
		headers_len += size;
	}
	if (payload_len > AWS_ES_HARD_MAX_MESSAGE ||
	    headers_len + payload_len > AWS_ES_HARD_MAX_MESSAGE - AWS_ES_MIN_MESSAGE)
		return AWS_ES_ERR_TOO_LARGE;
	size_t total = AWS_ES_MIN_MESSAGE + headers_len + payload_len;
	*out_len = total;
	if (!out || cap < total)
		return AWS_ES_ERR_BUFFER_TOO_SMALL;
	put_be32(out, (uint32_t)total);
	put_be32(out + 4, (uint32_t)headers_len);
	put_be32(out + 8, crc_of(out, 8));
	uint8_t *p = out + AWS_ES_PRELUDE_LEN;
	for (size_t i = 0; i < n_headers; i++)
		p = write_header(p, &headers[i]);
	if (payload_len)
		memcpy(p, payload, payload_len);
	p += payload_len;
	put_be32(p, crc_of(out, total - CRC_LEN));
	return AWS_ES_OK;
}
