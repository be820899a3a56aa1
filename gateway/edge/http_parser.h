/* The edge's strict, incremental, zero-copy HTTP/1.1 request parser. It refuses every framing
 * that two HTTP implementations could read differently, because request smuggling lives there. */
#ifndef MCPGATE_HTTP_PARSER_H
#define MCPGATE_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Usage. The connection appends received bytes to its input buffer and calls
 * http_parse(req, buf, len) with the whole unconsumed buffer (the request starts at buf[0]):
 *   HTTP_PARSE_NEED_MORE  wait for more bytes, then call again with the longer buffer.
 *                         Once req->headers_complete is set, the request line and headers are
 *                         readable (e.g. to answer "100 Continue" or refuse early).
 *   HTTP_PARSE_DONE       req->consumed bytes are this request (head, body, chunk framing);
 *                         a pipelined next request starts at buf + req->consumed: drain, then
 *                         http_request_init() again before parsing it.
 *   HTTP_PARSE_ERROR      answer req->status with req->reason (a short static or req-owned
 *                         text that never echoes client bytes) and close the connection.
 * Between calls the caller may move the buffer (the slices then follow the latest buf), but
 * must not change the bytes already passed. A chunked body is de-chunked in place: the bytes
 * between the decoded body and req->consumed are overwritten (hence `char *buf`).
 * Every slice (struct http_str) points into the buffer given to the latest call.
 *
 * Decisions (strict on purpose; each refusal is a status plus a reason):
 *  - Methods GET HEAD POST PUT DELETE OPTIONS PATCH; any other token is 501 (RFC 9110 15.6.2);
 *    405 for a known method a route does not serve is the edge's answer, not the parser's.
 *  - Request line: exactly "METHOD SP target SP HTTP/1.x" CRLF; HTTP/1.1 and HTTP/1.0, other
 *    well-formed versions 505. Up to 4 empty lines before it are skipped (RFC 9112 2.2).
 *  - Target: origin-form ("/path?query", RFC 3986 characters, valid %XX) or "*" for OPTIONS
 *    only. absolute-form is refused (400), departing from RFC 9112 3.2.2, because it would
 *    override Host and so the Host/Origin checks; MCP clients never send it to an origin.
 *  - Lines end with CRLF only: bare LF and bare CR are 400, as are obs-fold, whitespace before
 *    a colon, NUL and other control characters (HTAB excepted) anywhere in the head.
 *  - Content-Length: 1*DIGIT only, at most once (even equal repeats are 400); CL together with
 *    Transfer-Encoding is 400; Transfer-Encoding must be exactly "chunked" (another final coding
 *    is 400, other codings before chunked are 501), and is 400 in an HTTP/1.0 request.
 *  - Chunk size: hex digits then CRLF or ";ext" (no whitespace); extensions and trailers are
 *    accepted, bounded and ignored; trailers count against the header byte and field limits.
 *  - The headers indexed below appear at most once (400), except Accept and Connection, which
 *    are lists. HTTP/1.1 needs Host. Expect other than 100-continue is 417.
 */

#define HTTP_MAX_FIELDS 128                    /* header fields a request can store */
#define HTTP_HARD_MAX_HEADER_BYTES (1u << 20) /* ceiling for any configured header limit */

struct http_limits {
	uint32_t max_header_bytes;  /* request line + fields + blank line (+ trailers): 431 */
	uint32_t max_header_fields; /* fields incl. trailer fields, <= HTTP_MAX_FIELDS: 431 */
	uint32_t max_target;        /* request-target bytes: 414 */
	uint32_t max_chunk_line;    /* a chunk-size line incl. extensions and CRLF: 400 */
	uint64_t max_body;          /* decoded body bytes: 413 */
	uint64_t max_chunked_body;  /* chunked body bytes on the wire, framing included: 413 */
};

/* 16 KiB head, 100 fields, 8 KiB target, 1 KiB chunk lines, 4 MiB body, 8 MiB chunked. */
extern const struct http_limits http_default_limits;

/* For the config loader: NULL if usable, else what is wrong. */
const char *http_limits_check(const struct http_limits *limits);

enum http_method {
	HTTP_METHOD_NONE = 0,
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_PATCH,
};
const char *http_method_name(enum http_method method);

/* Headers indexed during the parse for O(1) access. */
enum http_hdr {
	HTTP_HDR_HOST,
	HTTP_HDR_ORIGIN,
	HTTP_HDR_CONTENT_TYPE,
	HTTP_HDR_ACCEPT,
	HTTP_HDR_CONTENT_LENGTH,
	HTTP_HDR_TRANSFER_ENCODING,
	HTTP_HDR_CONNECTION,
	HTTP_HDR_AUTHORIZATION,
	HTTP_HDR_X_API_KEY,
	HTTP_HDR_MCP_SESSION_ID,
	HTTP_HDR_MCP_PROTOCOL_VERSION,
	HTTP_HDR_LAST_EVENT_ID,
	HTTP_HDR_MCP_METHOD,
	HTTP_HDR_MCP_NAME,
	HTTP_HDR_EXPECT,
	HTTP_HDR_USER_AGENT,
	HTTP_HDR_COUNT
};

enum http_parse_result {
	HTTP_PARSE_ERROR = -1,
	HTTP_PARSE_NEED_MORE = 0,
	HTTP_PARSE_DONE = 1,
};

/* A slice of the input buffer; ptr is NULL when absent. Not NUL-terminated. */
struct http_str {
	const char *ptr;
	size_t len;
};

/* A stored field: offsets into the request, so the buffer may move between calls. */
struct http_field {
	uint32_t name_off, name_len;
	uint32_t value_off, value_len; /* value without surrounding whitespace */
};

struct http_request {
	/* Results: read-only for callers. */
	enum http_method method;
	uint8_t version_minor;    /* 1: HTTP/1.1, 0: HTTP/1.0 */
	bool headers_complete;    /* the fields below and the header accessors are valid */
	bool keep_alive;          /* 1.1 unless "close"; 1.0 only with "keep-alive" */
	bool expect_continue;     /* HTTP/1.1 "Expect: 100-continue": send 100 before the body */
	bool chunked;
	bool has_content_length;
	uint64_t content_length;
	struct http_str target;   /* as sent */
	struct http_str path;     /* target up to '?' ("*" for OPTIONS *), still percent-encoded */
	struct http_str query;    /* after '?', without it; len 0 when absent */
	struct http_str body;     /* at DONE: the decoded body */
	size_t consumed;          /* at DONE */
	int status;               /* at ERROR: 400, 413, 414, 417, 431, 501 or 505 */
	const char *reason;       /* at ERROR */

	/* Parser state: private. */
	struct {
		const struct http_limits *limits;
		const char *base;
		size_t seen;          /* longest len passed so far */
		size_t pos;           /* next byte to interpret */
		size_t scan;          /* bytes from pos up to here hold no LF */
		size_t body_start;
		size_t body_end;      /* end of the (decoded) body written so far */
		size_t trailer_start;
		uint64_t chunk_left;
		uint32_t target_off, target_len, path_len;
		uint16_t field_count; /* stored header fields */
		uint16_t fields_seen; /* header and trailer fields */
		uint8_t state;
		uint8_t empty_lines;
		bool conn_close, conn_keep_alive;
		uint8_t known[HTTP_HDR_COUNT]; /* index + 1 into fields, 0 if absent */
		char reason_buf[96];
	} p;
	struct http_field fields[HTTP_MAX_FIELDS];
};

/* Readies `req` for a new request (cheap: the field array is not cleared). `limits` must
 * outlive the request and pass http_limits_check(). */
void http_request_init(struct http_request *req, const struct http_limits *limits);

enum http_parse_result http_parse(struct http_request *req, char *buf, size_t len);

/* An indexed header's value (first occurrence for Accept and Connection), ptr NULL if absent. */
struct http_str http_header(const struct http_request *req, enum http_hdr hdr);

/* Any header by name, case-insensitive; the first occurrence, ptr NULL if absent. */
struct http_str http_header_find(const struct http_request *req, const char *name);

/* Iteration in arrival order: false once i is past the last field. */
bool http_header_at(const struct http_request *req, size_t i, struct http_str *name,
                    struct http_str *value);

/* Does the request's Accept (all its lines) accept `media_type` ("application/json")?
 * The most specific matching range decides (type/subtype over type/ * over * / *), and q=0
 * means "not acceptable". No Accept header accepts everything (RFC 9110 12.5.1). */
bool http_accepts(const struct http_request *req, const char *media_type);

/* Is the media type of a Content-Type value `media_type`, ignoring case and parameters? */
bool http_media_type_is(struct http_str content_type, const char *media_type);

enum http_param_result {
	HTTP_PARAM_FOUND = 0,
	HTTP_PARAM_ABSENT,
	HTTP_PARAM_INVALID, /* repeated, bad %-encoding, a NUL, or longer than the buffer */
};

/* Decodes query parameter `name` (%XX and '+' as space, like URLSearchParams) into out, NUL
 * terminated, at most cap - 1 bytes; *out_len gets its length when found. */
enum http_param_result http_query_param(struct http_str query, const char *name, char *out,
                                        size_t cap, size_t *out_len);

#endif
