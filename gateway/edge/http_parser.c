/* Strict incremental HTTP/1.1 request parser (see http_parser.h for the decisions it makes).
 * Errors depend only on bytes already seen, so a request split anywhere parses the same. */
#include "http_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_EMPTY_LINES 4
/* Method, two spaces, "HTTP/1.1" and CRLF around the target. */
#define REQUEST_LINE_EXTRA 32
#define HARD_MAX_BODY (1ull << 30)

enum parse_state {
	ST_REQUEST_LINE,
	ST_HEADERS,
	ST_BODY,
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_END,
	ST_TRAILERS,
	ST_DONE,
	ST_ERROR,
};

const struct http_limits http_default_limits = {
	.max_header_bytes = 16384,
	.max_header_fields = 100,
	.max_target = 8192,
	.max_chunk_line = 1024,
	.max_body = 4u << 20,
	.max_chunked_body = 8u << 20,
};

/* ---- character classes (RFC 9110 tchar / field-vchar, RFC 3986 path, query and host) ---- */

enum {
	CH_TOKEN = 1 << 0,
	CH_VALUE = 1 << 1, /* field-vchar, SP, HTAB */
	CH_PATH = 1 << 2,  /* pchar and '/', '%' checked apart */
	CH_QUERY = 1 << 3,
	CH_HOST = 1 << 4,  /* reg-name, IP literal, port */
	CH_HEX = 1 << 5,
};

#define TV (CH_TOKEN | CH_VALUE)
#define PQH (CH_PATH | CH_QUERY | CH_HOST)

static const uint8_t char_class[256] = {
	['\t'] = CH_VALUE, [' '] = CH_VALUE,
	['!'] = TV | PQH, ['"'] = CH_VALUE, ['#'] = TV, ['$'] = TV | PQH,
	['%'] = TV | PQH, ['&'] = TV | PQH, ['\''] = TV | PQH,
	['('] = CH_VALUE | PQH, [')'] = CH_VALUE | PQH, ['*'] = TV | PQH, ['+'] = TV | PQH,
	[','] = CH_VALUE | PQH, ['-'] = TV | PQH, ['.'] = TV | PQH,
	['/'] = CH_VALUE | CH_PATH | CH_QUERY,
	['0' ... '9'] = TV | PQH | CH_HEX,
	[':'] = CH_VALUE | PQH, [';'] = CH_VALUE | PQH, ['<'] = CH_VALUE, ['='] = CH_VALUE | PQH,
	['>'] = CH_VALUE, ['?'] = CH_VALUE | CH_QUERY, ['@'] = CH_VALUE | CH_PATH | CH_QUERY,
	['A' ... 'F'] = TV | PQH | CH_HEX, ['G' ... 'Z'] = TV | PQH,
	['['] = CH_VALUE | CH_HOST, ['\\'] = CH_VALUE, [']'] = CH_VALUE | CH_HOST,
	['^'] = TV, ['_'] = TV | PQH, ['`'] = TV,
	['a' ... 'f'] = TV | PQH | CH_HEX, ['g' ... 'z'] = TV | PQH,
	['{'] = CH_VALUE, ['|'] = TV, ['}'] = CH_VALUE, ['~'] = TV | PQH,
	[0x80 ... 0xff] = CH_VALUE, /* obs-text */
};

static inline bool is_class(char c, int cls)
{
	return char_class[(unsigned char)c] & cls;
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool str_ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && ascii_ieq(s, lit, n);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	c = (char)ascii_lower((unsigned char)c);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* Trims optional whitespace from both ends of [*start, *end). */
static void trim_ows(const char *s, size_t *start, size_t *end)
{
	while (*start < *end && is_ows(s[*start])) (*start)++;
	while (*end > *start && is_ows(s[*end - 1])) (*end)--;
}

/* ---- known headers ---- */

static const struct known_header {
	const char *name;    /* lower case */
	const char *display; /* for messages */
	uint8_t len;
	bool list;           /* may repeat: its lines form one comma list */
} known_headers[HTTP_HDR_COUNT] = {
#define KH(id, lower, disp, is_list) [id] = { lower, disp, sizeof(lower) - 1, is_list }
	KH(HTTP_HDR_HOST, "host", "Host", false),
	KH(HTTP_HDR_ORIGIN, "origin", "Origin", false),
	KH(HTTP_HDR_CONTENT_TYPE, "content-type", "Content-Type", false),
	KH(HTTP_HDR_ACCEPT, "accept", "Accept", true),
	KH(HTTP_HDR_CONTENT_LENGTH, "content-length", "Content-Length", false),
	KH(HTTP_HDR_TRANSFER_ENCODING, "transfer-encoding", "Transfer-Encoding", false),
	KH(HTTP_HDR_CONNECTION, "connection", "Connection", true),
	KH(HTTP_HDR_AUTHORIZATION, "authorization", "Authorization", false),
	KH(HTTP_HDR_X_API_KEY, "x-api-key", "X-API-Key", false),
	KH(HTTP_HDR_MCP_SESSION_ID, "mcp-session-id", "Mcp-Session-Id", false),
	KH(HTTP_HDR_MCP_PROTOCOL_VERSION, "mcp-protocol-version", "MCP-Protocol-Version", false),
	KH(HTTP_HDR_LAST_EVENT_ID, "last-event-id", "Last-Event-ID", false),
	KH(HTTP_HDR_MCP_METHOD, "mcp-method", "Mcp-Method", false),
	KH(HTTP_HDR_MCP_NAME, "mcp-name", "Mcp-Name", false),
	KH(HTTP_HDR_EXPECT, "expect", "Expect", false),
	KH(HTTP_HDR_USER_AGENT, "user-agent", "User-Agent", false),
#undef KH
};

static int identify_header(const char *name, size_t len)
{
	/* Most names are not indexed: rule them out on length and first letter. */
	unsigned char first = ascii_lower((unsigned char)name[0]);
	for (int h = 0; h < HTTP_HDR_COUNT; h++)
		if (known_headers[h].len == len && known_headers[h].name[0] == first &&
		    ascii_ieq(name + 1, known_headers[h].name + 1, len - 1))
			return h;
	return -1;
}

/* ---- methods ---- */

static const char *const method_names[] = {
	[HTTP_METHOD_NONE] = "", [HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT", [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS",
	[HTTP_PATCH] = "PATCH",
};

const char *http_method_name(enum http_method method)
{
	if ((size_t)method >= sizeof method_names / sizeof method_names[0])
		return "";
	return method_names[method];
}

static enum http_method lookup_method(const char *s, size_t len)
{
	for (size_t m = HTTP_GET; m < sizeof method_names / sizeof method_names[0]; m++)
		if (strlen(method_names[m]) == len && memcmp(s, method_names[m], len) == 0)
			return (enum http_method)m;
	return HTTP_METHOD_NONE;
}

/* ---- limits ---- */

const char *http_limits_check(const struct http_limits *l)
{
	if (l->max_header_bytes > HTTP_HARD_MAX_HEADER_BYTES)
		return "max_header_bytes is above 1 MiB";
	if (l->max_header_fields < 1 || l->max_header_fields > HTTP_MAX_FIELDS)
		return "max_header_fields must be between 1 and 128";
	if (l->max_target < 1 || (uint64_t)l->max_target + 2 * REQUEST_LINE_EXTRA > l->max_header_bytes)
		return "max_target must be at least 1 and leave 64 bytes of max_header_bytes";
	if (l->max_chunk_line < 16)
		return "max_chunk_line must be at least 16";
	if (l->max_body > HARD_MAX_BODY)
		return "max_body is above 1 GiB";
	if (l->max_chunked_body < l->max_body || l->max_chunked_body > 2 * HARD_MAX_BODY)
		return "max_chunked_body must be between max_body and 2 GiB";
	return NULL;
}

/* The limits again as the parser uses them: clamped, so a bad config cannot overflow the
 * 32-bit offsets kept for header fields. */
static size_t header_cap(const struct http_request *req)
{
	uint32_t cap = req->p.limits->max_header_bytes;
	return cap < HTTP_HARD_MAX_HEADER_BYTES ? cap : HTTP_HARD_MAX_HEADER_BYTES;
}

static unsigned field_cap(const struct http_request *req)
{
	uint32_t cap = req->p.limits->max_header_fields;
	return cap < HTTP_MAX_FIELDS ? cap : HTTP_MAX_FIELDS;
}

static uint64_t body_cap(const struct http_request *req)
{
	uint64_t cap = req->p.limits->max_body;
	return cap < HARD_MAX_BODY ? cap : HARD_MAX_BODY;
}

static uint64_t chunked_cap(const struct http_request *req)
{
	uint64_t cap = req->p.limits->max_chunked_body;
	return cap < 2 * HARD_MAX_BODY ? cap : 2 * HARD_MAX_BODY;
}

/* ---- errors ---- */

static bool fail(struct http_request *req, int status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	req->p.state = ST_ERROR;
	return false;
}

__attribute__((format(printf, 3, 4)))
static bool failf(struct http_request *req, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->p.reason_buf, sizeof req->p.reason_buf, fmt, ap);
	va_end(ap);
	return fail(req, status, req->p.reason_buf);
}

/* Names the offending byte class so that smuggling probes get a precise refusal. */
static bool fail_char(struct http_request *req, char c, const char *otherwise)
{
	if (c == '\r') return fail(req, 400, "bare CR (CR not followed by LF)");
	if (c == '\n') return fail(req, 400, "bare LF (lines must end with CRLF)");
	if (c == '\0') return fail(req, 400, "NUL byte in request head");
	if ((unsigned char)c < 0x20 || c == 0x7f)
		return fail(req, 400, "control character in request head");
	return fail(req, 400, otherwise);
}

static bool fail_header_size(struct http_request *req)
{
	return failf(req, 431, "header section exceeds %zu bytes", header_cap(req));
}

static bool fail_body_size(struct http_request *req)
{
	return failf(req, 413, "request body exceeds %llu bytes",
	             (unsigned long long)body_cap(req));
}

/* ---- lines ---- */

enum line_result { LINE_MORE, LINE_FOUND, LINE_TOO_LONG };

/* Finds the LF ending the line that starts at p.pos, searching each byte once across calls.
 * The LF must sit before offset `limit`, or the line is too long. */
static enum line_result find_line(struct http_request *req, const char *buf, size_t len,
                                  size_t limit, size_t *lf)
{
	size_t end = len < limit ? len : limit;
	if (req->p.scan < end) {
		const char *hit = memchr(buf + req->p.scan, '\n', end - req->p.scan);
		if (hit) {
			*lf = (size_t)(hit - buf);
			return LINE_FOUND;
		}
		req->p.scan = end;
	}
	return len >= limit ? LINE_TOO_LONG : LINE_MORE;
}

/* Accepts the line [p.pos, lf] if it ends in CRLF, and moves past it. *end gets the CR. */
static bool take_line(struct http_request *req, const char *buf, size_t lf, size_t *start,
                      size_t *end)
{
	if (lf == req->p.pos || buf[lf - 1] != '\r')
		return fail_char(req, '\n', NULL);
	*start = req->p.pos;
	*end = lf - 1;
	req->p.pos = req->p.scan = lf + 1;
	return true;
}

/* ---- request line ---- */

static bool validate_target(struct http_request *req, const char *t, size_t n)
{
	if (t[0] == '*') {
		if (n != 1 || req->method != HTTP_OPTIONS)
			return fail(req, 400, "asterisk-form target is only valid for OPTIONS");
		req->p.path_len = 1;
		return true;
	}
	if (t[0] != '/') {
		if (memchr(t, ':', n))
			return fail(req, 400, "absolute-form target not accepted: send the path only");
		return fail_char(req, t[0], "request target must start with '/'");
	}
	int allowed = CH_PATH;
	req->p.path_len = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '%') {
			if (i + 2 >= n || !is_class(t[i + 1], CH_HEX) || !is_class(t[i + 2], CH_HEX))
				return fail(req, 400, "invalid percent-encoding in request target");
			i += 2;
		} else if (c == '?' && allowed == CH_PATH) {
			req->p.path_len = (uint32_t)i;
			allowed = CH_QUERY;
		} else if (!is_class(c, allowed)) {
			if (c == '#')
				return fail(req, 400, "fragment in request target");
			return fail_char(req, c, "invalid character in request target");
		}
	}
	return true;
}

/* "HTTP/1.1" or "HTTP/1.0"; another well-formed version is 505. */
static bool parse_version(struct http_request *req, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) || v[6] != '.' ||
	    !is_digit(v[7]))
		return fail(req, 400, "malformed request line (expected METHOD SP target SP HTTP/1.1)");
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(req, 505, "HTTP version not supported (use HTTP/1.1)");
	req->version_minor = (uint8_t)(v[7] - '0');
	return true;
}

static bool parse_request_line(struct http_request *req, char *buf, size_t len)
{
	size_t start = req->p.pos, cap = header_cap(req);
	size_t line_max = (size_t)req->p.limits->max_target + REQUEST_LINE_EXTRA;
	size_t limit = start + line_max < cap ? start + line_max : cap;
	size_t lf, end;

	switch (find_line(req, buf, len, limit, &lf)) {
	case LINE_MORE:
		return false;
	case LINE_TOO_LONG:
		if (limit == cap)
			return fail_header_size(req);
		return failf(req, 414, "request line exceeds %zu bytes", line_max);
	case LINE_FOUND:
		break;
	}
	if (!take_line(req, buf, lf, &start, &end))
		return false;
	if (start == end) {
		/* RFC 9112 2.2: ignore a few empty lines a client left after a previous body. */
		if (++req->p.empty_lines > MAX_EMPTY_LINES)
			return fail(req, 400, "too many empty lines before the request line");
		return true;
	}

	const char *line = buf + start;
	size_t n = end - start, m = 0;
	while (m < n && is_class(line[m], CH_TOKEN)) m++;
	if (m == n || line[m] != ' ' || m == 0)
		return fail_char(req, m < n ? line[m] : ' ',
		                 "malformed request line (expected METHOD SP target SP HTTP/1.1)");
	size_t t0 = m + 1, t1 = t0;
	while (t1 < n && line[t1] != ' ') t1++;
	if (t1 == t0 || t1 == n)
		return fail(req, 400, "malformed request line (expected METHOD SP target SP HTTP/1.1)");
	if (!parse_version(req, line + t1 + 1, n - t1 - 1))
		return false;
	req->method = lookup_method(line, m);
	if (req->method == HTTP_METHOD_NONE)
		return fail(req, 501, "method not implemented");
	if (t1 - t0 > req->p.limits->max_target)
		return failf(req, 414, "request target exceeds %u bytes", req->p.limits->max_target);
	if (!validate_target(req, line + t0, t1 - t0))
		return false;
	req->p.target_off = (uint32_t)(start + t0);
	req->p.target_len = (uint32_t)(t1 - t0);
	req->p.state = ST_HEADERS;
	return true;
}

/* ---- header fields ---- */

/* The first byte in [i, end) that may not appear in a field value. Values are most of the
 * head, so eight bytes are checked at a time; a word holding any byte below 0x20 or 0x7f
 * (HTAB included) is looked at byte by byte. */
static size_t span_field_value(const char *s, size_t i, size_t end)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	for (; i + 8 <= end; i += 8) {
		uint64_t w, del;
		memcpy(&w, s + i, 8);
		del = w ^ (0x7f * ones);
		if (((w - 0x20 * ones) & ~w & highs) || ((del - ones) & ~del & highs))
			break;
	}
	while (i < end && is_class(s[i], CH_VALUE)) i++;
	return i;
}

/* Splits and checks "name: value" in [start, end); the value comes back trimmed. */
static bool parse_field_line(struct http_request *req, const char *buf, size_t start,
                             size_t end, struct http_field *f)
{
	if (is_ows(buf[start]))
		return fail(req, 400, "obsolete line folding (a header line starts with whitespace)");
	size_t i = start;
	while (i < end && is_class(buf[i], CH_TOKEN)) i++;
	if (i == end)
		return fail(req, 400, "header field without a colon");
	if (buf[i] != ':') {
		if (is_ows(buf[i]))
			return fail(req, 400, "whitespace between header field name and colon");
		return fail_char(req, buf[i], "invalid character in header field name");
	}
	if (i == start)
		return fail(req, 400, "empty header field name");
	size_t v0 = i + 1, v1 = end, bad = span_field_value(buf, v0, v1);
	if (bad < v1)
		return fail_char(req, buf[bad], "invalid character in header field value");
	trim_ows(buf, &v0, &v1);
	f->name_off = (uint32_t)start;
	f->name_len = (uint32_t)(i - start);
	f->value_off = (uint32_t)v0;
	f->value_len = (uint32_t)(v1 - v0);
	return true;
}

static bool count_field(struct http_request *req)
{
	if (++req->p.fields_seen > field_cap(req))
		return failf(req, 431, "more than %u header fields", field_cap(req));
	return true;
}

/* Content-Length = 1*DIGIT: no sign, no inner whitespace, no list. Saturates past max_body. */
static bool parse_content_length(struct http_request *req, const char *v, size_t n)
{
	uint64_t value = 0, max = body_cap(req);
	if (n == 0)
		return fail(req, 400, "invalid Content-Length value");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return fail(req, 400, "invalid Content-Length value");
		if (value <= max)
			value = value * 10 + (uint64_t)(v[i] - '0');
	}
	req->has_content_length = true;
	req->content_length = value;
	return true;
}

/* Connection is a comma list of tokens; only close and keep-alive matter here. */
static void note_connection_options(struct http_request *req, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t e = i;
		while (e < n && v[e] != ',') e++;
		size_t a = i, b = e;
		trim_ows(v, &a, &b);
		if (str_ieq(v + a, b - a, "close"))
			req->p.conn_close = true;
		else if (str_ieq(v + a, b - a, "keep-alive"))
			req->p.conn_keep_alive = true;
		i = e + 1;
	}
}

static bool host_is_valid(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_class(v[i], CH_HOST))
			return false;
	return true;
}

static bool note_known_header(struct http_request *req, const char *buf, const struct http_field *f)
{
	int h = identify_header(buf + f->name_off, f->name_len);
	if (h < 0)
		return true;
	const char *v = buf + f->value_off;
	size_t n = f->value_len;
	if (req->p.known[h]) {
		if (!known_headers[h].list)
			return failf(req, 400, "duplicate %s header", known_headers[h].display);
	} else {
		req->p.known[h] = (uint8_t)req->p.field_count; /* index + 1: already counted */
	}
	switch (h) {
	case HTTP_HDR_CONTENT_LENGTH:
		return parse_content_length(req, v, n);
	case HTTP_HDR_CONNECTION:
		note_connection_options(req, v, n);
		return true;
	case HTTP_HDR_HOST:
		if (!host_is_valid(v, n))
			return fail(req, 400, "invalid Host header");
		return true;
	case HTTP_HDR_EXPECT:
		if (!str_ieq(v, n, "100-continue"))
			return fail(req, 417, "unsupported expectation (only 100-continue)");
		/* RFC 9110 10.1.1: an HTTP/1.0 client cannot take a 100, so ignore it there. */
		req->expect_continue = req->version_minor == 1;
		return true;
	default:
		return true;
	}
}

/* Transfer-Encoding must be exactly "chunked": with chunked not last the body cannot be
 * delimited (400); with other codings before it, they are ones we do not implement (501). */
static bool check_transfer_encoding(struct http_request *req, struct http_str te)
{
	if (str_ieq(te.ptr, te.len, "chunked"))
		return true;
	size_t last = te.len;
	while (last > 0 && te.ptr[last - 1] != ',') last--;
	size_t a = last, b = te.len;
	trim_ows(te.ptr, &a, &b);
	if (!str_ieq(te.ptr + a, b - a, "chunked"))
		return fail(req, 400, "Transfer-Encoding must be \"chunked\"");
	return fail(req, 501, "transfer codings other than chunked are not implemented");
}

/* The blank line ended the head at `end`: decide the framing. */
static bool finish_headers(struct http_request *req, char *buf, size_t end)
{
	req->headers_complete = true;
	req->p.body_start = req->p.body_end = end;
	req->keep_alive = !req->p.conn_close && (req->version_minor == 1 || req->p.conn_keep_alive);
	if (req->version_minor == 1 && !req->p.known[HTTP_HDR_HOST])
		return fail(req, 400, "missing Host header");
	if (req->p.known[HTTP_HDR_TRANSFER_ENCODING]) {
		if (req->has_content_length)
			return fail(req, 400, "both Content-Length and Transfer-Encoding");
		if (req->version_minor == 0)
			return fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
		req->p.base = buf;
		if (!check_transfer_encoding(req, http_header(req, HTTP_HDR_TRANSFER_ENCODING)))
			return false;
		req->chunked = true;
		req->p.state = ST_CHUNK_SIZE;
		return true;
	}
	if (req->has_content_length && req->content_length > body_cap(req))
		return fail_body_size(req);
	req->p.state = ST_BODY;
	return true;
}

static bool parse_header_line(struct http_request *req, char *buf, size_t len)
{
	size_t lf, start, end;
	switch (find_line(req, buf, len, header_cap(req), &lf)) {
	case LINE_MORE:
		return false;
	case LINE_TOO_LONG:
		return fail_header_size(req);
	case LINE_FOUND:
		break;
	}
	if (!take_line(req, buf, lf, &start, &end))
		return false;
	if (start == end)
		return finish_headers(req, buf, lf + 1);
	struct http_field f;
	if (!parse_field_line(req, buf, start, end, &f) || !count_field(req))
		return false;
	req->fields[req->p.field_count++] = f;
	return note_known_header(req, buf, &f);
}

/* ---- body ---- */

static bool finish(struct http_request *req, size_t consumed)
{
	req->consumed = consumed;
	req->p.state = ST_DONE;
	return false;
}

static bool wait_for_body(struct http_request *req, size_t len)
{
	uint64_t need = req->has_content_length ? req->content_length : 0;
	if (len - req->p.body_start < need)
		return false;
	req->p.body_end = req->p.body_start + (size_t)need;
	return finish(req, req->p.body_end);
}

/* chunk-size [ ";" chunk-ext ] CRLF, with no whitespace anywhere (some parsers skip it,
 * some stop at it: exactly the disagreement smuggling needs). */
static bool parse_chunk_size(struct http_request *req, char *buf, size_t len)
{
	uint32_t line_max = req->p.limits->max_chunk_line;
	uint64_t max_body = body_cap(req), max_wire = chunked_cap(req);
	size_t lf, start, end;
	switch (find_line(req, buf, len, req->p.pos + line_max, &lf)) {
	case LINE_MORE:
		return false;
	case LINE_TOO_LONG:
		return failf(req, 400, "chunk size line exceeds %u bytes", line_max);
	case LINE_FOUND:
		break;
	}
	if (!take_line(req, buf, lf, &start, &end))
		return false;
	uint64_t size = 0;
	size_t i = start;
	for (; i < end && is_class(buf[i], CH_HEX); i++)
		if (size <= max_body)
			size = size * 16 + (uint64_t)hex_value(buf[i]);
	if (i == start || (i < end && buf[i] != ';'))
		return fail_char(req, i < end ? buf[i] : ' ', "invalid chunk size");
	for (; i < end; i++)
		if (!is_class(buf[i], CH_VALUE))
			return fail_char(req, buf[i], "invalid character in chunk extension");
	uint64_t decoded = req->p.body_end - req->p.body_start;
	if (size > max_body - decoded)
		return fail_body_size(req);
	uint64_t wire_end = req->p.pos + (size ? size + 2 : 0);
	if (wire_end - req->p.body_start > max_wire)
		return failf(req, 413, "chunked body exceeds %llu bytes on the wire",
		             (unsigned long long)max_wire);
	if (size == 0) {
		req->p.trailer_start = req->p.pos;
		req->p.state = ST_TRAILERS;
	} else {
		req->p.chunk_left = size;
		req->p.state = ST_CHUNK_DATA;
	}
	return true;
}

/* Moves chunk data down to the end of the decoded body, as it arrives. */
static bool move_chunk_data(struct http_request *req, char *buf, size_t len)
{
	size_t avail = len - req->p.pos;
	if (avail > req->p.chunk_left)
		avail = (size_t)req->p.chunk_left;
	if (avail == 0)
		return false;
	if (req->p.body_end != req->p.pos)
		memmove(buf + req->p.body_end, buf + req->p.pos, avail);
	req->p.body_end += avail;
	req->p.pos += avail;
	req->p.chunk_left -= avail;
	if (req->p.chunk_left)
		return false;
	req->p.state = ST_CHUNK_END;
	return true;
}

static bool expect_chunk_crlf(struct http_request *req, const char *buf, size_t len)
{
	size_t pos = req->p.pos;
	if (len > pos && buf[pos] != '\r')
		return fail(req, 400, "chunk data not followed by CRLF");
	if (len > pos + 1 && buf[pos + 1] != '\n')
		return fail(req, 400, "chunk data not followed by CRLF");
	if (len < pos + 2)
		return false;
	req->p.pos = req->p.scan = pos + 2;
	req->p.state = ST_CHUNK_SIZE;
	return true;
}

/* Trailer fields are checked like header fields, counted against the same limits, and dropped. */
static bool parse_trailer_line(struct http_request *req, char *buf, size_t len)
{
	size_t used = req->p.body_start, cap = header_cap(req), lf, start, end;
	size_t limit = req->p.trailer_start + (cap > used ? cap - used : 0);
	switch (find_line(req, buf, len, limit, &lf)) {
	case LINE_MORE:
		return false;
	case LINE_TOO_LONG:
		return failf(req, 431, "header section and trailers exceed %zu bytes", cap);
	case LINE_FOUND:
		break;
	}
	if (!take_line(req, buf, lf, &start, &end))
		return false;
	if (start == end)
		return finish(req, lf + 1);
	struct http_field f;
	return parse_field_line(req, buf, start, end, &f) && count_field(req);
}

/* ---- driver ---- */

void http_request_init(struct http_request *req, const struct http_limits *limits)
{
	/* The field array is written before it is read, so only the part before it is cleared. */
	memset(req, 0, offsetof(struct http_request, fields));
	req->p.limits = limits;
}

static struct http_str slice(const char *buf, size_t off, size_t len)
{
	return (struct http_str){ buf + off, len };
}

static void publish(struct http_request *req, const char *buf)
{
	req->p.base = buf;
	if (req->p.target_len) {
		size_t off = req->p.target_off, tlen = req->p.target_len, plen = req->p.path_len;
		req->target = slice(buf, off, tlen);
		req->path = slice(buf, off, plen);
		req->query = plen < tlen ? slice(buf, off + plen + 1, tlen - plen - 1)
		                         : slice(buf, off + tlen, 0);
	}
	if (req->p.state == ST_DONE)
		req->body = slice(buf, req->p.body_start, req->p.body_end - req->p.body_start);
}

enum http_parse_result http_parse(struct http_request *req, char *buf, size_t len)
{
	if (req->p.state != ST_ERROR && len < req->p.seen)
		fail(req, 500, "parser called with a shorter buffer");
	else if (len > req->p.seen)
		req->p.seen = len;
	for (bool more = true; more;) {
		switch (req->p.state) {
		case ST_REQUEST_LINE: more = parse_request_line(req, buf, len); break;
		case ST_HEADERS: more = parse_header_line(req, buf, len); break;
		case ST_BODY: more = wait_for_body(req, len); break;
		case ST_CHUNK_SIZE: more = parse_chunk_size(req, buf, len); break;
		case ST_CHUNK_DATA: more = move_chunk_data(req, buf, len); break;
		case ST_CHUNK_END: more = expect_chunk_crlf(req, buf, len); break;
		case ST_TRAILERS: more = parse_trailer_line(req, buf, len); break;
		default: more = false; break;
		}
	}
	publish(req, buf);
	if (req->p.state == ST_DONE)
		return HTTP_PARSE_DONE;
	if (req->p.state == ST_ERROR)
		return HTTP_PARSE_ERROR;
	return HTTP_PARSE_NEED_MORE;
}

/* ---- accessors ---- */

static struct http_str field_value(const struct http_request *req, size_t i)
{
	const struct http_field *f = &req->fields[i];
	return slice(req->p.base, f->value_off, f->value_len);
}

struct http_str http_header(const struct http_request *req, enum http_hdr hdr)
{
	if ((unsigned)hdr >= HTTP_HDR_COUNT || !req->p.known[hdr])
		return (struct http_str){ NULL, 0 };
	return field_value(req, req->p.known[hdr] - 1u);
}

struct http_str http_header_find(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->p.field_count; i++) {
		const struct http_field *f = &req->fields[i];
		if (f->name_len == n && ascii_ieq(req->p.base + f->name_off, name, n))
			return field_value(req, i);
	}
	return (struct http_str){ NULL, 0 };
}

bool http_header_at(const struct http_request *req, size_t i, struct http_str *name,
                    struct http_str *value)
{
	if (i >= req->p.field_count)
		return false;
	*name = slice(req->p.base, req->fields[i].name_off, req->fields[i].name_len);
	*value = field_value(req, i);
	return true;
}

/* ---- Accept ---- */

struct accept_match {
	int specificity; /* 0 none, 1 for * / *, 2 for type/ *, 3 for type/subtype */
	int q;           /* weight in thousandths of the best range at that specificity */
};

static size_t span_token(const char *s, size_t i, size_t n)
{
	while (i < n && is_class(s[i], CH_TOKEN)) i++;
	return i;
}

/* qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], in thousandths; -1 if malformed. */
static int parse_qvalue(const char *s, size_t n)
{
	if (n == 0 || (s[0] != '0' && s[0] != '1') || (n > 1 && s[1] != '.') || n > 5)
		return -1;
	int q = (s[0] - '0') * 1000, scale = 100;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (!is_digit(s[i]))
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* Skips a parameter value (token or quoted-string) from i; returns its end or n+1 if bad. */
static size_t span_param_value(const char *s, size_t i, size_t n)
{
	if (i < n && s[i] == '"') {
		for (i++; i < n; i++) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				return i + 1;
		}
		return n + 1;
	}
	size_t e = span_token(s, i, n);
	return e == i ? n + 1 : e;
}

/* Parses one media range at i: fills type/subtype/q and returns the index after its
 * parameters, or n+1 when it is malformed (the caller skips to the next comma). */
static size_t parse_media_range(const char *s, size_t i, size_t n, struct http_str *type,
                                struct http_str *sub, int *q)
{
	size_t t = span_token(s, i, n);
	if (t == i || t >= n || s[t] != '/')
		return n + 1;
	size_t st = span_token(s, t + 1, n);
	if (st == t + 1)
		return n + 1;
	*type = slice(s, i, t - i);
	*sub = slice(s, t + 1, st - t - 1);
	*q = 1000;
	i = st;
	for (;;) {
		while (i < n && is_ows(s[i])) i++;
		if (i >= n || s[i] != ';')
			return i;
		i++;
		while (i < n && is_ows(s[i])) i++;
		size_t name_end = span_token(s, i, n);
		if (name_end == i || name_end >= n || s[name_end] != '=')
			return n + 1;
		size_t value_end = span_param_value(s, name_end + 1, n);
		if (value_end > n)
			return n + 1;
		if (str_ieq(s + i, name_end - i, "q")) {
			*q = parse_qvalue(s + name_end + 1, value_end - name_end - 1);
			if (*q < 0)
				return n + 1;
		}
		i = value_end;
	}
}

static void rate_media_range(struct accept_match *best, struct http_str type, struct http_str sub,
                             int q, const char *want, size_t want_slash, size_t want_len)
{
	bool any_type = type.len == 1 && type.ptr[0] == '*';
	bool any_sub = sub.len == 1 && sub.ptr[0] == '*';
	int spec;
	if (any_type)
		spec = any_sub ? 1 : 0; /* "* /json" is not a media range */
	else if (type.len != want_slash || !ascii_ieq(type.ptr, want, want_slash))
		spec = 0;
	else if (any_sub)
		spec = 2;
	else
		spec = sub.len == want_len - want_slash - 1 &&
		       ascii_ieq(sub.ptr, want + want_slash + 1, sub.len) ? 3 : 0;
	if (spec > best->specificity) {
		best->specificity = spec;
		best->q = q;
	} else if (spec && spec == best->specificity && q > best->q) {
		best->q = q;
	}
}

static void rate_accept_value(struct accept_match *best, struct http_str v, const char *want,
                              size_t want_slash, size_t want_len)
{
	const char *s = v.ptr;
	size_t n = v.len, i = 0;
	while (i < n) {
		while (i < n && (is_ows(s[i]) || s[i] == ',')) i++;
		if (i >= n)
			break;
		struct http_str type, sub;
		int q;
		size_t e = parse_media_range(s, i, n, &type, &sub, &q);
		if (e <= n && (e == n || s[e] == ',')) {
			rate_media_range(best, type, sub, q, want, want_slash, want_len);
			i = e;
			continue;
		}
		/* Malformed range: ignore it, skipping quoted strings to the next comma. */
		for (bool quoted = false; i < n && (quoted || s[i] != ','); i++) {
			if (quoted && s[i] == '\\')
				i++;
			else if (s[i] == '"')
				quoted = !quoted;
		}
	}
}

bool http_accepts(const struct http_request *req, const char *media_type)
{
	const char *slash = strchr(media_type, '/');
	if (!slash)
		return false;
	if (!req->p.known[HTTP_HDR_ACCEPT])
		return true;
	struct accept_match best = { 0, 0 };
	size_t want_len = strlen(media_type), want_slash = (size_t)(slash - media_type);
	for (size_t i = req->p.known[HTTP_HDR_ACCEPT] - 1u; i < req->p.field_count; i++) {
		const struct http_field *f = &req->fields[i];
		if (f->name_len == 6 && ascii_ieq(req->p.base + f->name_off, "accept", 6))
			rate_accept_value(&best, field_value(req, i), media_type, want_slash, want_len);
	}
	return best.specificity > 0 && best.q > 0;
}

bool http_media_type_is(struct http_str content_type, const char *media_type)
{
	if (!content_type.ptr)
		return false;
	const char *semi = memchr(content_type.ptr, ';', content_type.len);
	size_t a = 0, b = semi ? (size_t)(semi - content_type.ptr) : content_type.len;
	trim_ows(content_type.ptr, &a, &b);
	return str_ieq(content_type.ptr + a, b - a, media_type);
}

/* ---- query parameters ---- */

/* The next decoded byte of s at *i ('+' is a space), or -1 for a bad %-escape. */
static int next_query_byte(const char *s, size_t n, size_t *i)
{
	char c = s[(*i)++];
	if (c == '+')
		return ' ';
	if (c != '%')
		return (unsigned char)c;
	if (*i + 2 > n)
		return -1;
	int hi = hex_value(s[*i]), lo = hex_value(s[*i + 1]);
	if (hi < 0 || lo < 0)
		return -1;
	*i += 2;
	return hi * 16 + lo;
}

static bool query_key_is(const char *s, size_t n, const char *name)
{
	size_t i = 0, k = 0;
	while (i < n) {
		int c = next_query_byte(s, n, &i);
		if (c < 0 || name[k] == '\0' || (unsigned char)name[k] != c)
			return false;
		k++;
	}
	return name[k] == '\0';
}

static enum http_param_result decode_query_value(const char *s, size_t n, char *out, size_t cap,
                                                 size_t *out_len)
{
	size_t i = 0, k = 0;
	while (i < n) {
		int c = next_query_byte(s, n, &i);
		if (c <= 0 || k + 1 >= cap)
			return HTTP_PARAM_INVALID;
		out[k++] = (char)c;
	}
	if (cap == 0)
		return HTTP_PARAM_INVALID;
	out[k] = '\0';
	if (out_len)
		*out_len = k;
	return HTTP_PARAM_FOUND;
}

enum http_param_result http_query_param(struct http_str query, const char *name, char *out,
                                        size_t cap, size_t *out_len)
{
	const char *s = query.ptr;
	size_t n = s ? query.len : 0, i = 0;
	bool found = false;
	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - s) : n;
		const char *eq = memchr(s + i, '=', end - i);
		size_t key_end = eq ? (size_t)(eq - s) : end;
		if (end > i && query_key_is(s + i, key_end - i, name)) {
			if (found)
				return HTTP_PARAM_INVALID; /* which one would the next hop read? */
			found = true;
			size_t v = eq ? key_end + 1 : end;
			enum http_param_result r = decode_query_value(s + v, end - v, out, cap, out_len);
			if (r != HTTP_PARAM_FOUND)
				return r;
		}
		i = end + 1;
	}
	return found ? HTTP_PARAM_FOUND : HTTP_PARAM_ABSENT;
}
