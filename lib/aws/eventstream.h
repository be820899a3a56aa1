/* AWS event-stream framing (application/vnd.amazon.eventstream), as Bedrock ConverseStream and
 * InvokeModelWithResponseStream send it: an incremental decoder that takes any chunking and
 * checks both CRCs before a message is seen, and an encoder for tests and test doubles. Pure:
 * no I/O; the decoder holds at most one message. */
#ifndef MCPGATE_AWS_EVENTSTREAM_H
#define MCPGATE_AWS_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On the wire, all integers big-endian:
 *   total_length u32 | headers_length u32 | prelude_crc u32 (CRC-32 of the 8 bytes before)
 *   headers (headers_length bytes) | payload | message_crc u32 (CRC-32 of all bytes before)
 * A header: name_len u8 (1..255) | name | type u8 | value (see enum aws_es_type). */
#define AWS_ES_PRELUDE_LEN 12u
#define AWS_ES_MIN_MESSAGE 16u                      /* prelude + message CRC, nothing else */
#define AWS_ES_DEFAULT_MAX_MESSAGE (1024u * 1024u)
#define AWS_ES_HARD_MAX_MESSAGE (16u * 1024u * 1024u) /* the format's own limit */
#define AWS_ES_MAX_HEADERS 64u   /* per message; real streams carry 3 or 4 */
#define AWS_ES_MAX_VALUE 65535u  /* byte array and string values: a u16 length */
#define AWS_ES_UUID_LEN 16u

enum aws_es_type {
	AWS_ES_BOOL_TRUE = 0,  /* no value bytes */
	AWS_ES_BOOL_FALSE = 1, /* no value bytes */
	AWS_ES_BYTE = 2,       /* int8 */
	AWS_ES_SHORT = 3,      /* int16 */
	AWS_ES_INT32 = 4,
	AWS_ES_INT64 = 5,
	AWS_ES_BYTES = 6,      /* u16 length, then the bytes */
	AWS_ES_STRING = 7,     /* u16 length, then UTF-8 (not checked, not NUL-terminated) */
	AWS_ES_TIMESTAMP = 8,  /* int64, milliseconds since the epoch */
	AWS_ES_UUID = 9,       /* 16 bytes */
};

/* One header. In a decoded message every pointer points into the message and is valid only
 * during the on_message callback. For the encoder the caller fills the same fields. */
struct aws_es_header {
	const char *name;      /* not NUL-terminated */
	size_t name_len;       /* 1..255 */
	enum aws_es_type type;
	int64_t integer;       /* BYTE, SHORT, INT32, INT64, TIMESTAMP; 1/0 for the bools (the
	                        * encoder uses the type alone for those) */
	const uint8_t *data;   /* BYTES, STRING, UUID; NULL allowed when data_len is 0 */
	size_t data_len;       /* BYTES and STRING: 0..65535; UUID: 16 */
};

/* One complete message whose two CRCs matched. Valid only during the callback. */
struct aws_es_message {
	const struct aws_es_header *headers; /* in wire order; repeated names are kept */
	size_t n_headers;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *raw; /* the whole message as received, prelude to CRC */
	size_t raw_len;
};

enum aws_es_error {
	AWS_ES_OK = 0,
	AWS_ES_ERR_PRELUDE_CRC,      /* the first 12 bytes are corrupt, or this is not an event stream */
	AWS_ES_ERR_MESSAGE_CRC,      /* the message was corrupted in transit */
	AWS_ES_ERR_TOO_SMALL,        /* total_length under 16 */
	AWS_ES_ERR_TOO_LARGE,        /* total_length over the decoder's maximum */
	AWS_ES_ERR_HEADERS_LENGTH,   /* headers_length runs past the end of the message */
	AWS_ES_ERR_MALFORMED_HEADER, /* empty name, or a header cut off by the headers' end */
	AWS_ES_ERR_UNKNOWN_TYPE,     /* a header value type above 9 */
	AWS_ES_ERR_TOO_MANY_HEADERS, /* over AWS_ES_MAX_HEADERS */
	AWS_ES_ERR_TRUNCATED,        /* aws_es_finish: the stream ended inside a message */
	AWS_ES_ERR_ABORTED,          /* on_message returned non-zero */
	AWS_ES_ERR_NOMEM,
	AWS_ES_ERR_INVALID,          /* a bad argument: max size, or a header the encoder refuses */
	AWS_ES_ERR_BUFFER_TOO_SMALL, /* aws_es_encode: out_len says how much is needed */
};

/* Text for an error, for logs and tool errors; never NULL. */
const char *aws_es_strerror(enum aws_es_error err);

/* The decoder keeps the current message's bytes only: its buffer grows to the largest message
 * seen (never past max_message) and is allocated only when a message arrives split. */
struct aws_es_decoder {
	size_t max_message;
	enum aws_es_error error; /* sticky: once set, every call returns it */
	uint8_t prelude[AWS_ES_PRELUDE_LEN];
	size_t have;             /* bytes of the current message received so far */
	uint32_t total_len;      /* of the current message; 0 until its prelude is checked */
	uint32_t headers_len;
	uint8_t *buf;            /* holds a message that arrives in pieces */
	size_t cap;
	uint64_t consumed;       /* stream bytes in delivered messages: where the next one starts */
	uint64_t messages;       /* messages delivered */
	struct aws_es_header headers[AWS_ES_MAX_HEADERS];
};

/* max_message: 0 for AWS_ES_DEFAULT_MAX_MESSAGE; 16..AWS_ES_HARD_MAX_MESSAGE otherwise.
 * Returns AWS_ES_OK, or AWS_ES_ERR_INVALID (and the decoder is left failed). */
enum aws_es_error aws_es_decoder_init(struct aws_es_decoder *dec, size_t max_message);

/* Frees the buffer; the decoder may be initialised again afterwards. */
void aws_es_decoder_free(struct aws_es_decoder *dec);

/* Return 0 to go on, non-zero to stop: the feed then fails with AWS_ES_ERR_ABORTED. The
 * callback must not feed the same decoder. */
typedef int (*aws_es_on_message)(const struct aws_es_message *msg, void *arg);

/* Takes the next `len` bytes of the stream, cut anywhere, and calls on_message once for each
 * message they complete, in order, after checking its CRCs and parsing its headers. Returns
 * AWS_ES_OK, or the first error, after which the decoder stays failed (messages completed
 * before the error in the same call have been delivered). */
enum aws_es_error aws_es_feed(struct aws_es_decoder *dec, const void *data, size_t len,
                              aws_es_on_message on_message, void *arg);

/* At the end of the stream: AWS_ES_OK when it ended between messages, AWS_ES_ERR_TRUNCATED
 * when part of a message is still waiting (which fails the decoder), or the sticky error. */
enum aws_es_error aws_es_finish(struct aws_es_decoder *dec);

/* The first header named `name` (NUL-terminated), or NULL. */
const struct aws_es_header *aws_es_find_header(const struct aws_es_message *msg, const char *name);

/* The value of the first header named `name` when it is a STRING, with its length in *len
 * (len may be NULL); NULL when there is no such header or it has another type. Not
 * NUL-terminated. For ":message-type", ":event-type", ":exception-type", ":content-type". */
const char *aws_es_header_string(const struct aws_es_message *msg, const char *name, size_t *len);

/* True when the first header named `name` is a STRING equal to `value`. */
bool aws_es_header_is(const struct aws_es_message *msg, const char *name, const char *value);

/* Encodes one message into out[cap] and sets *out_len to its size. Returns AWS_ES_OK;
 * AWS_ES_ERR_BUFFER_TOO_SMALL with *out_len set to the size needed (out may be NULL to ask);
 * AWS_ES_ERR_INVALID for a header it refuses (name length, unknown type, an integer out of its
 * type's range, a value too long, a UUID not 16 bytes); AWS_ES_ERR_TOO_MANY_HEADERS; or
 * AWS_ES_ERR_TOO_LARGE past AWS_ES_HARD_MAX_MESSAGE. Decoding the result gives back the same
 * headers and payload, and encoding a decoded message gives back its exact bytes. */
enum aws_es_error aws_es_encode(const struct aws_es_header *headers, size_t n_headers,
                                const void *payload, size_t payload_len,
                                uint8_t *out, size_t cap, size_t *out_len);

#endif
