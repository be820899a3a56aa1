/* Tests for the edge's HTTP/1.1 request parser: every refusal with its exact status, limits at
 * and one past the boundary, and the same outcome however the bytes are split across calls. */
#include "http_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A passing case prints only its name; a failing one adds what was seen instead. */
static void report(bool ok, const char *name, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	if (ok) {
		check_that(true, "%s", name);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	check_that(false, "%s: %s", name, detail);
}

/* ---- a growing string, for outcomes and for building large requests ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1) cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			perror("realloc");
			exit(2);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_repeat(struct sbuf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++) sb_add(b, &c, 1);
}

static void sb_slice(struct sbuf *b, const char *tag, struct http_str s)
{
	sb_fmt(b, " %s=", tag);
	if (!s.ptr) {
		sb_str(b, "(none)");
		return;
	}
	sb_str(b, "[");
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			sb_add(b, (const char *)&c, 1);
		else
			sb_fmt(b, "\\x%02x", c);
	}
	sb_str(b, "]");
}

/* Everything a caller can observe, as one string, so two parses compare with strcmp. */
static char *describe(const struct http_request *req, enum http_parse_result res)
{
	struct sbuf b = { 0 };
	sb_fmt(&b, "res=%d", res);
	if (res == HTTP_PARSE_ERROR) {
		sb_fmt(&b, " status=%d reason=%s", req->status, req->reason);
		return b.p;
	}
	sb_fmt(&b, " hc=%d", req->headers_complete);
	if (res == HTTP_PARSE_DONE) {
		sb_fmt(&b, " consumed=%zu method=%s minor=%d ka=%d expect=%d chunked=%d cl=%d/%llu",
		       req->consumed, http_method_name(req->method), req->version_minor,
		       req->keep_alive, req->expect_continue, req->chunked, req->has_content_length,
		       (unsigned long long)req->content_length);
		sb_slice(&b, "target", req->target);
		sb_slice(&b, "path", req->path);
		sb_slice(&b, "query", req->query);
		sb_slice(&b, "body", req->body);
		for (int h = 0; h < HTTP_HDR_COUNT; h++)
			sb_slice(&b, "h", http_header(req, (enum http_hdr)h));
		struct http_str name, value;
		for (size_t i = 0; http_header_at(req, i, &name, &value); i++) {
			sb_slice(&b, "n", name);
			sb_slice(&b, "v", value);
		}
	}
	return b.p;
}

static char *copy_of(const char *raw, size_t n)
{
	char *buf = malloc(n ? n : 1);
	if (!buf) {
		perror("malloc");
		exit(2);
	}
	memcpy(buf, raw, n);
	return buf;
}

/* One call over the whole input, in an exact-size copy. */
static char *parse_whole(const struct http_limits *lim, const char *raw, size_t n)
{
	struct http_request req;
	http_request_init(&req, lim);
	char *buf = copy_of(raw, n);
	char *d = describe(&req, http_parse(&req, buf, n));
	free(buf);
	return d;
}

/* Two calls: the first k bytes, then all of them (unless the first call already decided). */
static char *parse_split(const struct http_limits *lim, const char *raw, size_t n, size_t k)
{
	struct http_request req;
	http_request_init(&req, lim);
	char *buf = copy_of(raw, n);
	enum http_parse_result res = http_parse(&req, buf, k);
	if (res == HTTP_PARSE_NEED_MORE)
		res = http_parse(&req, buf, n);
	char *d = describe(&req, res);
	free(buf);
	return d;
}

/* Byte by byte: n + 1 calls with len 0, 1, ..., n. */
static char *parse_trickle(const struct http_limits *lim, const char *raw, size_t n)
{
	struct http_request req;
	http_request_init(&req, lim);
	char *buf = copy_of(raw, n);
	enum http_parse_result res = HTTP_PARSE_NEED_MORE;
	for (size_t k = 0; k <= n && res == HTTP_PARSE_NEED_MORE; k++)
		res = http_parse(&req, buf, k);
	char *d = describe(&req, res);
	free(buf);
	return d;
}

/* Checks that every split (every `step`-th one) and a trickle give the one-call outcome. */
static void check_splits(const char *name, const struct http_limits *lim, const char *raw,
                         size_t n, size_t step)
{
	char *want = parse_whole(lim, raw, n);
	bool ok = true;
	for (size_t k = 0; k <= n && ok; k += step) {
		char *got = parse_split(lim, raw, n, k);
		if (strcmp(got, want) != 0) {
			report(false, name, "split at %zu:\n  got  %s\n  want %s", k, got, want);
			ok = false;
		}
		free(got);
	}
	if (ok) {
		char *got = parse_trickle(lim, raw, n);
		if (strcmp(got, want) != 0) {
			report(false, name, "byte by byte:\n  got  %s\n  want %s", got, want);
			ok = false;
		}
		free(got);
	}
	if (ok)
		report(true, name, " ");
	free(want);
}

/* ---- refusals ---- */

static void expect_error_n(const char *name, const struct http_limits *lim, const char *raw,
                           size_t n, int status, const char *reason_part)
{
	struct http_request req;
	http_request_init(&req, lim);
	char *buf = copy_of(raw, n);
	enum http_parse_result res = http_parse(&req, buf, n);
	bool ok = res == HTTP_PARSE_ERROR && req.status == status &&
	          (!reason_part || strstr(req.reason, reason_part));
	report(ok, name, "want %d \"%s\", got res=%d status=%d reason=%s", status,
	       reason_part ? reason_part : "", res, req.status,
	       res == HTTP_PARSE_ERROR ? req.reason : "-");
	free(buf);
	/* A refusal must not depend on how the bytes arrived either. */
	if (ok && n <= 4096) {
		char sname[160];
		snprintf(sname, sizeof sname, "%s (split)", name);
		check_splits(sname, lim, raw, n, 1);
	}
}

static void expect_error(const char *name, const char *raw, int status, const char *reason_part)
{
	expect_error_n(name, &http_default_limits, raw, strlen(raw), status, reason_part);
}

/* For literals holding a NUL, where strlen would stop short. */
#define expect_error_lit(name, lit, status, reason) \
	expect_error_n(name, &http_default_limits, lit, sizeof(lit) - 1, status, reason)

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

static void test_request_line_refusals(void)
{
	expect_error("unknown method is 501", "BREW /pot" H11 "\r\n", 501, "method not implemented");
	expect_error("CONNECT is 501", "CONNECT example.com:443" H11 "\r\n", 501, NULL);
	expect_error("TRACE is 501", "TRACE /" H11 "\r\n", 501, NULL);
	expect_error("methods are case-sensitive", "get /" H11 "\r\n", 501, NULL);
	expect_error("HTTP/2.0 is 505", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version");
	expect_error("HTTP/1.2 is 505", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, NULL);
	expect_error("HTTP/0.9 is 505", "GET / HTTP/0.9\r\n\r\n", 505, NULL);
	expect_error("lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "malformed");
	expect_error("HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "malformed");
	expect_error("no version (HTTP/0.9 style)", "GET /\r\n\r\n", 400, "malformed");
	expect_error("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed");
	expect_error("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "malformed");
	expect_error("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL);
	expect_error("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed");
	expect_error("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed");
	expect_error("bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF");
	expect_error("bare CR request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare CR");
	expect_error_lit("NUL in target", "GET /a\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "NUL");
	expect_error_lit("NUL in method", "GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "NUL");
	expect_error("absolute-form", "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
	             400, "absolute-form");
	expect_error("asterisk-form with GET", "GET *" H11 "\r\n", 400, "asterisk");
	expect_error("asterisk plus path", "OPTIONS */x" H11 "\r\n", 400, "asterisk");
	expect_error("relative target", "GET mcp" H11 "\r\n", 400, "start with '/'");
	expect_error("bad percent-encoding", "GET /a%zz" H11 "\r\n", 400, "percent");
	expect_error("truncated percent-encoding", "GET /a%4" H11 "\r\n", 400, "percent");
	expect_error("fragment", "GET /a#frag" H11 "\r\n", 400, "fragment");
	expect_error("backslash in target", "GET /a\\b" H11 "\r\n", 400, "invalid character");
	expect_error("'<' in query", "GET /a?x=<" H11 "\r\n", 400, "invalid character");
	expect_error("non-ASCII in target", "GET /\xc3\xa9" H11 "\r\n", 400, "invalid character");
	expect_error("too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET /" H11 "\r\n", 400,
	             "empty lines");
	expect_error("bare LF empty line", "\nGET /" H11 "\r\n", 400, "bare LF");
}

static void test_header_refusals(void)
{
	expect_error("obs-fold", "GET /" H11 "X-A: 1\r\n 2\r\n\r\n", 400, "folding");
	expect_error("obs-fold with tab", "GET /" H11 "X-A: 1\r\n\t2\r\n\r\n", 400, "folding");
	expect_error("whitespace before first header",
	             "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "folding");
	expect_error("space before colon", "GET /" H11 "Content-Length : 0\r\n\r\n", 400,
	             "between header field name and colon");
	expect_error("tab before colon", "GET /" H11 "X-A\t: 0\r\n\r\n", 400, "colon");
	expect_error("bare LF in headers", "GET /" H11 "X-A: 1\n\r\n", 400, "bare LF");
	expect_error("bare LF ends head", "GET /" H11 "\n", 400, "bare LF");
	expect_error("bare CR in value", "GET /" H11 "X-A: 1\r2\r\n\r\n", 400, "bare CR");
	expect_error("bare CR ends value", "GET /" H11 "X-A: 1\r\r\n\r\n", 400, "bare CR");
	expect_error("bare CR in name", "GET /" H11 "X\rA: 1\r\n\r\n", 400, "bare CR");
	expect_error_lit("NUL in value", "GET /" H11 "X-A: a\0b\r\n\r\n", 400, "NUL");
	expect_error_lit("NUL in name", "GET /" H11 "X-\0A: b\r\n\r\n", 400, "NUL");
	expect_error("control char in value", "GET /" H11 "X-A: a\x01" "b\r\n\r\n", 400, "control");
	expect_error("DEL in value", "GET /" H11 "X-A: a\x7f\r\n\r\n", 400, "control");
	expect_error("vertical tab in TE", "POST /" H11 "Transfer-Encoding: \x0b" "chunked\r\n\r\n",
	             400, "control");
	expect_error("empty name", "GET /" H11 ": x\r\n\r\n", 400, "empty header field name");
	expect_error("no colon", "GET /" H11 "X-A\r\n\r\n", 400, "without a colon");
	expect_error("bad name char", "GET /" H11 "X(A): 1\r\n\r\n", 400, "field name");
	expect_error("missing Host on 1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400,
	             "missing Host");
	expect_error("duplicate Host", "GET /" H11 "Host: example.com\r\n\r\n", 400,
	             "duplicate Host");
	expect_error("duplicate host, other case", "GET /" H11 "hOST: evil\r\n\r\n", 400,
	             "duplicate Host");
	expect_error("invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host");
	expect_error("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid Host");
	expect_error("Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host");
	expect_error("duplicate Authorization",
	             "GET /" H11 "Authorization: a\r\nAuthorization: b\r\n\r\n", 400,
	             "duplicate Authorization");
	expect_error("duplicate X-API-Key", "GET /" H11 "X-API-Key: a\r\nx-api-key: a\r\n\r\n",
	             400, "duplicate X-API-Key");
	expect_error("duplicate Mcp-Session-Id",
	             "GET /" H11 "Mcp-Session-Id: a\r\nMcp-Session-Id: b\r\n\r\n", 400, "duplicate");
	expect_error("Expect other than 100-continue", "POST /" H11 "Expect: 200-ok\r\n\r\n",
	             417, "expectation");
}

/* Values are checked eight bytes at a time: try every byte at every position of a long value. */
static void test_value_bytes(void)
{
	const char *head = "GET / HTTP/1.1\r\nHost: a\r\nX-V: ";
	size_t head_len = strlen(head), value_len = 21;
	char raw[128];
	int wrong = 0;
	for (int c = 0; c < 256; c++) {
		bool allowed = c == '\t' || (c >= 0x20 && c != 0x7f);
		for (size_t at = 0; at < value_len; at++) {
			memcpy(raw, head, head_len);
			memset(raw + head_len, 'v', value_len);
			raw[head_len + at] = (char)c;
			memcpy(raw + head_len + value_len, "\r\n\r\n", 4);
			struct http_request req;
			http_request_init(&req, &http_default_limits);
			enum http_parse_result res = http_parse(&req, raw, head_len + value_len + 4);
			bool ok = allowed ? res == HTTP_PARSE_DONE
			                  : res == HTTP_PARSE_ERROR && req.status == 400;
			if (!ok && wrong++ < 5)
				printf("# byte 0x%02x at %zu: res=%d\n", c, at, res);
		}
	}
	report(wrong == 0, "every byte at every position of a header value", "%d wrong", wrong);
}

static void test_framing_refusals(void)
{
	expect_error("CL.TE", "POST /" H11 "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "0\r\n\r\nG", 400, "both Content-Length and Transfer-Encoding");
	expect_error("TE.CL", "POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
	             "1\r\nG\r\n0\r\n\r\n", 400, "both Content-Length and Transfer-Encoding");
	expect_error("duplicate CL, equal values",
	             "POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400,
	             "duplicate Content-Length");
	expect_error("duplicate CL, different values",
	             "POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400,
	             "duplicate Content-Length");
	expect_error("CL list", "POST /" H11 "Content-Length: 5, 5\r\n\r\nhello", 400,
	             "invalid Content-Length");
	expect_error("CL plus sign", "POST /" H11 "Content-Length: +5\r\n\r\nhello", 400,
	             "invalid Content-Length");
	expect_error("CL negative", "POST /" H11 "Content-Length: -1\r\n\r\n", 400,
	             "invalid Content-Length");
	expect_error("CL inner space", "POST /" H11 "Content-Length: 1 0\r\n\r\n", 400,
	             "invalid Content-Length");
	expect_error("CL hex", "POST /" H11 "Content-Length: 0x5\r\n\r\nhello", 400,
	             "invalid Content-Length");
	expect_error("CL empty", "POST /" H11 "Content-Length:\r\n\r\n", 400,
	             "invalid Content-Length");
	expect_error("CL overflow", "POST /" H11 "Content-Length: 184467440737095516160\r\n\r\n",
	             413, "request body exceeds 4194304 bytes");
	expect_error("CL over the limit", "POST /" H11 "Content-Length: 4194305\r\n\r\n", 413,
	             "request body exceeds 4194304 bytes");
	expect_error("TE twice", "POST /" H11 "Transfer-Encoding: chunked\r\n"
	             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "duplicate Transfer-Encoding");
	expect_error("TE chunked not last", "POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n",
	             400, "must be \"chunked\"");
	expect_error("TE unknown", "POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n", 400,
	             "must be \"chunked\"");
	expect_error("TE trailing comma", "POST /" H11 "Transfer-Encoding: chunked,\r\n\r\n", 400,
	             "must be \"chunked\"");
	expect_error("TE identity", "POST /" H11 "Transfer-Encoding: identity\r\n\r\n", 400, NULL);
	expect_error("TE gzip then chunked", "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
	             501, "not implemented");
	expect_error("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "0\r\n\r\n", 400, "HTTP/1.0");
	expect_error("TE with space in name", "POST /" H11 "Transfer-Encoding : chunked\r\n\r\n",
	             400, "colon");
	expect_error("chunk size with space", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "5 \r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size");
	expect_error("chunk size 0x", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "0x5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size");
	expect_error("chunk size negative", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "-5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size");
	expect_error("chunk size empty", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size");
	expect_error("chunk size bare LF", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "5\nhello\r\n0\r\n\r\n", 400, "bare LF");
	expect_error("chunk data too long", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "5\r\nhello!\r\n0\r\n\r\n", 400, "not followed by CRLF");
	expect_error("chunk data then LF", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "5\r\nhello\n0\r\n\r\n", 400, "not followed by CRLF");
	expect_error("chunk data then CR X", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "5\r\nhello\rX0\r\n\r\n", 400, "not followed by CRLF");
	expect_error("control char in chunk ext", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "5;a=\x01\r\nhello\r\n0\r\n\r\n", 400, "control");
	expect_error("huge chunk size", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "ffffffffffffffffffffffff\r\n", 413, "request body exceeds");
	expect_error("obs-fold in trailer", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "0\r\nX-T: 1\r\n 2\r\n\r\n", 400, "folding");
	expect_error("bad trailer", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	             "0\r\nX-T : 1\r\n\r\n", 400, "colon");
}

/* ---- accepted requests ---- */

static enum http_parse_result parse_str(struct http_request *req, char *buf, size_t n)
{
	http_request_init(req, &http_default_limits);
	return http_parse(req, buf, n);
}

static bool str_is(struct http_str s, const char *want)
{
	return s.ptr && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static void test_full_request(void)
{
	char raw[] = "POST /mcp?sessionId=abc%2Fdef&x=1 HTTP/1.1\r\n"
	             "Host: gw.example.com:8443\r\n"
	             "Origin: https://app.example.com\r\n"
	             "Content-Type: application/json; charset=utf-8\r\n"
	             "Accept: application/json, text/event-stream\r\n"
	             "Content-Length:   7  \r\n"
	             "Connection: keep-alive\r\n"
	             "Authorization: Bearer t0k\r\n"
	             "X-API-Key: mcpg_1_s\r\n"
	             "Mcp-Session-Id: s-1\r\n"
	             "MCP-Protocol-Version: 2025-11-25\r\n"
	             "Last-Event-ID: 42\r\n"
	             "Mcp-Method: tools/call\r\n"
	             "Mcp-Name: data__get\r\n"
	             "User-Agent: test/1\r\n"
	             "X-Custom:\tvalue with  spaces\t\r\n"
	             "X-Empty:\r\n"
	             "\r\n"
	             "{\"a\":1}";
	struct http_request req;
	enum http_parse_result res = parse_str(&req, raw, sizeof raw - 1);
	report(res == HTTP_PARSE_DONE && req.consumed == sizeof raw - 1, "full request parses",
	       "res=%d consumed=%zu", res, req.consumed);
	report(req.method == HTTP_POST && req.version_minor == 1 && req.keep_alive &&
	       !req.chunked && req.has_content_length && req.content_length == 7,
	       "full request: method, version, framing", " ");
	report(str_is(req.target, "/mcp?sessionId=abc%2Fdef&x=1") && str_is(req.path, "/mcp") &&
	       str_is(req.query, "sessionId=abc%2Fdef&x=1"), "full request: path and query", " ");
	report(str_is(req.body, "{\"a\":1}"), "full request: body", " ");
	report(str_is(http_header(&req, HTTP_HDR_HOST), "gw.example.com:8443") &&
	       str_is(http_header(&req, HTTP_HDR_ORIGIN), "https://app.example.com") &&
	       str_is(http_header(&req, HTTP_HDR_CONTENT_LENGTH), "7") &&
	       str_is(http_header(&req, HTTP_HDR_AUTHORIZATION), "Bearer t0k") &&
	       str_is(http_header(&req, HTTP_HDR_X_API_KEY), "mcpg_1_s") &&
	       str_is(http_header(&req, HTTP_HDR_MCP_SESSION_ID), "s-1") &&
	       str_is(http_header(&req, HTTP_HDR_MCP_PROTOCOL_VERSION), "2025-11-25") &&
	       str_is(http_header(&req, HTTP_HDR_LAST_EVENT_ID), "42") &&
	       str_is(http_header(&req, HTTP_HDR_MCP_METHOD), "tools/call") &&
	       str_is(http_header(&req, HTTP_HDR_MCP_NAME), "data__get") &&
	       str_is(http_header(&req, HTTP_HDR_USER_AGENT), "test/1") &&
	       !http_header(&req, HTTP_HDR_EXPECT).ptr &&
	       !http_header(&req, HTTP_HDR_TRANSFER_ENCODING).ptr,
	       "full request: indexed headers, OWS trimmed", " ");
	report(str_is(http_header_find(&req, "x-custom"), "value with  spaces") &&
	       str_is(http_header_find(&req, "X-EMPTY"), "") &&
	       !http_header_find(&req, "X-Missing").ptr &&
	       str_is(http_header_find(&req, "mcp-session-id"), "s-1"),
	       "full request: generic lookup", " ");
	struct http_str name, value;
	size_t count = 0;
	while (http_header_at(&req, count, &name, &value)) count++;
	report(count == 16 && http_header_at(&req, 15, &name, &value) && str_is(name, "X-Empty"),
	       "full request: iteration", "count=%zu", count);
	report(http_media_type_is(http_header(&req, HTTP_HDR_CONTENT_TYPE), "application/json") &&
	       http_accepts(&req, "application/json") && http_accepts(&req, "text/event-stream") &&
	       !http_accepts(&req, "text/html"), "full request: content type and accept", " ");
	char sid[64];
	size_t sid_len = 0;
	report(http_query_param(req.query, "sessionId", sid, sizeof sid, &sid_len) ==
	       HTTP_PARAM_FOUND && strcmp(sid, "abc/def") == 0 && sid_len == 7,
	       "full request: decoded query parameter", "got %s", sid);
	check_splits("full request, every split", &http_default_limits, raw, sizeof raw - 1, 1);
}

static void test_keep_alive(void)
{
	static const struct {
		const char *raw;
		bool keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: foo,  keep-alive \r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[64], *buf = copy_of(cases[i].raw, strlen(cases[i].raw));
		struct http_request req;
		enum http_parse_result res = parse_str(&req, buf, strlen(cases[i].raw));
		snprintf(name, sizeof name, "keep-alive case %zu", i);
		report(res == HTTP_PARSE_DONE && req.keep_alive == cases[i].keep_alive, name,
		       "res=%d keep_alive=%d", res, req.keep_alive);
		free(buf);
	}
}

static void test_expect_continue(void)
{
	char raw[] = "POST /mcp HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	             "Content-Length: 5\r\n\r\nhello";
	size_t head = strlen(raw) - 5;
	struct http_request req;
	http_request_init(&req, &http_default_limits);
	enum http_parse_result res = http_parse(&req, raw, head);
	report(res == HTTP_PARSE_NEED_MORE && req.headers_complete && req.expect_continue &&
	       str_is(req.path, "/mcp") && str_is(http_header(&req, HTTP_HDR_HOST), "a"),
	       "Expect: 100-continue seen before the body", "res=%d", res);
	res = http_parse(&req, raw, head + 4);
	report(res == HTTP_PARSE_NEED_MORE, "body still incomplete", "res=%d", res);
	res = http_parse(&req, raw, head + 5);
	report(res == HTTP_PARSE_DONE && str_is(req.body, "hello"), "body complete", "res=%d", res);

	char raw10[] = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n";
	res = parse_str(&req, raw10, strlen(raw10));
	report(res == HTTP_PARSE_DONE && !req.expect_continue, "Expect ignored in HTTP/1.0",
	       "res=%d", res);
}

static void test_chunked(void)
{
	char raw[] = "POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
	             "5;name=value;flag\r\nhello\r\n"
	             "1;q=\"quoted; ext\"\r\n,\r\n"
	             "0006\r\n world\r\n"
	             "A\r\n0123456789\r\n"
	             "000;last\r\n"
	             "X-Trailer: t\r\nX-Other:  x \r\n"
	             "\r\n"
	             "GET /next";
	size_t n = strlen(raw), first = n - strlen("GET /next");
	struct http_request req;
	char *buf = copy_of(raw, n);
	enum http_parse_result res = parse_str(&req, buf, n);
	report(res == HTTP_PARSE_DONE && req.chunked && req.consumed == first &&
	       str_is(req.body, "hello, world0123456789"), "chunked with extensions and trailers",
	       "res=%d consumed=%zu/%zu body=%.*s", res, req.consumed, first,
	       (int)req.body.len, req.body.ptr ? req.body.ptr : "");
	report(memcmp(buf + first, "GET /next", 9) == 0, "de-chunking stays inside the request",
	       " ");
	report(!http_header_find(&req, "X-Trailer").ptr, "trailers are not headers", " ");
	free(buf);
	check_splits("chunked, every split", &http_default_limits, raw, n, 1);

	char empty[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	res = parse_str(&req, empty, strlen(empty));
	report(res == HTTP_PARSE_DONE && req.body.len == 0 && req.consumed == strlen(empty),
	       "empty chunked body", "res=%d", res);
	char te_ows[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t chunked \r\n\r\n0\r\n\r\n";
	res = parse_str(&req, te_ows, strlen(te_ows));
	report(res == HTTP_PARSE_DONE && req.chunked, "TE value with OWS around it", "res=%d", res);
}

static void test_other_valid(void)
{
	struct http_request req;
	char opts[] = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
	enum http_parse_result res = parse_str(&req, opts, strlen(opts));
	report(res == HTTP_PARSE_DONE && req.method == HTTP_OPTIONS && str_is(req.path, "*") &&
	       req.query.len == 0, "OPTIONS *", "res=%d", res);

	char lead[] = "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
	res = parse_str(&req, lead, strlen(lead));
	report(res == HTTP_PARSE_DONE && req.consumed == strlen(lead) && str_is(req.path, "/x"),
	       "leading empty lines skipped", "res=%d", res);

	char get_body[] = "GET /sse HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi";
	res = parse_str(&req, get_body, strlen(get_body));
	report(res == HTTP_PARSE_DONE && str_is(req.body, "hi"), "GET with a framed body",
	       "res=%d", res);

	char del[] = "DELETE /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "2\r\nok\r\n0\r\n\r\n";
	res = parse_str(&req, del, strlen(del));
	report(res == HTTP_PARSE_DONE && str_is(req.body, "ok"), "DELETE with a chunked body",
	       "res=%d", res);

	char http10[] = "HEAD /a?b HTTP/1.0\r\n\r\n";
	res = parse_str(&req, http10, strlen(http10));
	report(res == HTTP_PARSE_DONE && req.version_minor == 0 && str_is(req.query, "b") &&
	       !req.keep_alive, "HTTP/1.0 without Host", "res=%d", res);

	char methods[][128] = {
		"PUT / HTTP/1.1\r\nHost: a\r\n\r\n", "PATCH / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"GET /a/b;c=d/%41:@!$&'()*+,=-._~?q=/?:@ HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x80\xff\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a\r\nAccept: a/b\r\naccept: c/d\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "accepted variant %zu", i);
		res = parse_str(&req, methods[i], strlen(methods[i]));
		report(res == HTTP_PARSE_DONE, name, "res=%d status=%d reason=%s", res, req.status,
		       res == HTTP_PARSE_ERROR ? req.reason : "-");
	}

	char partial[] = "GET / HTTP/1.1\r\nHost: a\r\n\r";
	res = parse_str(&req, partial, strlen(partial));
	report(res == HTTP_PARSE_NEED_MORE, "CR at the end waits for LF", "res=%d", res);
	res = http_parse(&req, partial, strlen(partial) - 1);
	report(res == HTTP_PARSE_ERROR && req.status == 500, "shorter buffer is a caller bug",
	       "res=%d", res);
}

static void test_pipelined(void)
{
	char raw[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	             "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "3\r\nabc\r\n0\r\n\r\n"
	             "POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
	             "GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	             "GET /e HTTP/1.1\r\n";
	static const char *const paths[] = { "/a", "/b", "/c", "/d" };
	static const char *const bodies[] = { "", "abc", "xyz", "" };
	size_t n = strlen(raw), off = 0;
	bool ok = true;
	struct http_request req;
	for (size_t i = 0; i < 4 && ok; i++) {
		http_request_init(&req, &http_default_limits);
		enum http_parse_result res = http_parse(&req, raw + off, n - off);
		ok = res == HTTP_PARSE_DONE && str_is(req.path, paths[i]) &&
		     str_is(req.body, bodies[i]) && req.keep_alive == (i != 3);
		if (!ok)
			report(false, "pipelined requests", "request %zu: res=%d", i, res);
		off += req.consumed;
	}
	if (ok) {
		http_request_init(&req, &http_default_limits);
		ok = http_parse(&req, raw + off, n - off) == HTTP_PARSE_NEED_MORE;
		report(ok, "pipelined requests", "the partial fifth request is not NEED_MORE");
	}
}

/* ---- limits at and one past the boundary ---- */

/* A GET whose head is exactly `total` bytes, padded with one header. */
static void build_head(struct sbuf *b, size_t total, size_t fields)
{
	b->len = 0;
	sb_str(b, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 1; i + 1 < fields; i++)
		sb_fmt(b, "X-%zu: v\r\n", i);
	const char *pad_name = "X-Pad: ";
	size_t fixed = b->len + strlen(pad_name) + 2 + 2;
	sb_str(b, pad_name);
	sb_repeat(b, 'p', total > fixed ? total - fixed : 0);
	sb_str(b, "\r\n\r\n");
}

static void expect_done_n(const char *name, const struct http_limits *lim, const char *raw,
                          size_t n)
{
	struct http_request req;
	http_request_init(&req, lim);
	char *buf = copy_of(raw, n);
	enum http_parse_result res = http_parse(&req, buf, n);
	report(res == HTTP_PARSE_DONE && req.consumed == n, name, "res=%d status=%d reason=%s",
	       res, req.status, res == HTTP_PARSE_ERROR ? req.reason : "-");
	free(buf);
}

static void test_limits(void)
{
	const struct http_limits *def = &http_default_limits;
	struct sbuf b = { 0 };

	build_head(&b, 16384, 2);
	report(b.len == 16384, "head builder", "len %zu", b.len);
	expect_done_n("head of exactly 16384 bytes", def, b.p, b.len);
	check_splits("head of 16384 bytes, splits", def, b.p, b.len, 97);
	build_head(&b, 16385, 2);
	expect_error_n("head of 16385 bytes is 431", def, b.p, b.len, 431,
	               "header section exceeds 16384 bytes");
	check_splits("head of 16385 bytes, splits", def, b.p, b.len, 89);
	/* Before the blank line arrives: refused once no LF can still end the head in time. */
	build_head(&b, 17000, 2);
	struct http_request req;
	http_request_init(&req, def);
	report(http_parse(&req, b.p, 16383) == HTTP_PARSE_NEED_MORE,
	       "incomplete head of 16383 bytes waits", " ");
	expect_error_n("incomplete head of 16384 bytes without LF is 431", def, b.p, 16384, 431,
	               "header section exceeds 16384 bytes");

	build_head(&b, 2000, 100);
	expect_done_n("100 header fields", def, b.p, b.len);
	build_head(&b, 2000, 101);
	expect_error_n("101 header fields is 431", def, b.p, b.len, 431, "more than 100 header fields");

	b.len = 0;
	sb_str(&b, "GET /");
	sb_repeat(&b, 'a', 8191);
	sb_str(&b, " HTTP/1.1\r\nHost: a\r\n\r\n");
	expect_done_n("target of exactly 8192 bytes", def, b.p, b.len);
	b.len = 0;
	sb_str(&b, "GET /");
	sb_repeat(&b, 'a', 8192);
	sb_str(&b, " HTTP/1.1\r\nHost: a\r\n\r\n");
	expect_error_n("target of 8193 bytes is 414", def, b.p, b.len, 414,
	               "request target exceeds 8192 bytes");
	b.len = 0;
	sb_str(&b, "GET /");
	sb_repeat(&b, 'a', 9000);
	expect_error_n("endless request line is 414", def, b.p, b.len, 414,
	               "request line exceeds 8224 bytes");
	check_splits("endless request line, splits", def, b.p, b.len, 131);

	struct http_limits small = *def;
	small.max_body = 100;
	small.max_chunked_body = 130;
	small.max_chunk_line = 20;
	report(http_limits_check(&small) == NULL, "small limits are valid", " ");

	b.len = 0;
	sb_str(&b, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
	sb_repeat(&b, 'b', 100);
	expect_done_n("Content-Length at max_body", &small, b.p, b.len);
	b.len = 0;
	sb_str(&b, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n");
	sb_repeat(&b, 'b', 101);
	expect_error_n("Content-Length one past max_body is 413", &small, b.p, b.len, 413,
	               "request body exceeds 100 bytes");

	/* Decoded size: 64 + 36 = 100, then one more byte. Wire: 4+64+2 + 4+36+2 + 3 = 115. */
	const char *chunked_head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "40\r\n");
	sb_repeat(&b, 'c', 64);
	sb_str(&b, "\r\n24\r\n");
	sb_repeat(&b, 'c', 36);
	sb_str(&b, "\r\n0\r\n\r\n");
	expect_done_n("chunked body of exactly max_body", &small, b.p, b.len);
	check_splits("chunked body at max_body, splits", &small, b.p, b.len, 1);
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "40\r\n");
	sb_repeat(&b, 'c', 64);
	sb_str(&b, "\r\n25\r\n");
	sb_repeat(&b, 'c', 37);
	sb_str(&b, "\r\n0\r\n\r\n");
	expect_error_n("chunked body one past max_body is 413", &small, b.p, b.len, 413,
	               "request body exceeds 100 bytes");

	/* Wire limit 130: 25 one-byte chunks are 25 * 6 = 150 wire bytes for 25 decoded. The 21st
	 * chunk ends at wire byte 126; 0\r\n then makes 129: accepted. 22 chunks: refused. */
	for (int chunks = 21; chunks <= 22; chunks++) {
		b.len = 0;
		sb_str(&b, chunked_head);
		for (int i = 0; i < chunks; i++)
			sb_str(&b, "1\r\nz\r\n");
		sb_str(&b, "0\r\n\r\n");
		if (chunks == 21)
			expect_done_n("chunked wire size under the limit", &small, b.p, b.len);
		else
			expect_error_n("chunked wire size past the limit is 413", &small, b.p, b.len,
			               413, "chunked body exceeds 130 bytes on the wire");
	}
	/* The last-chunk line counts too: 21 chunks (126) + "00\r\n" lands on 130 exactly. */
	b.len = 0;
	sb_str(&b, chunked_head);
	for (int i = 0; i < 21; i++)
		sb_str(&b, "1\r\nz\r\n");
	sb_str(&b, "00\r\n\r\n");
	expect_done_n("chunked wire size exactly at the limit", &small, b.p, b.len);
	b.len = 0;
	sb_str(&b, chunked_head);
	for (int i = 0; i < 21; i++)
		sb_str(&b, "1\r\nz\r\n");
	sb_str(&b, "000\r\n\r\n");
	expect_error_n("last-chunk line one past the wire limit", &small, b.p, b.len, 413,
	               "chunked body exceeds 130 bytes on the wire");

	/* Chunk line limit 20 bytes including CRLF. */
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "1;aaaaaaaaaaaaaaaa\r\nz\r\n0\r\n\r\n"); /* 18 + 2 = 20 */
	expect_done_n("chunk line of exactly max_chunk_line", &small, b.p, b.len);
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "1;aaaaaaaaaaaaaaaaa\r\nz\r\n0\r\n\r\n");
	expect_error_n("chunk line one past max_chunk_line", &small, b.p, b.len, 400,
	               "chunk size line exceeds 20 bytes");

	/* Trailers share the head's byte budget. */
	struct http_limits tiny = *def;
	tiny.max_header_bytes = 200;
	tiny.max_target = 100;
	tiny.max_header_fields = 4;
	report(http_limits_check(&tiny) == NULL, "tiny limits are valid", " ");
	/* The trailer section is "X-T: " value CRLF CRLF: 9 bytes plus the value. */
	size_t trailer_room = 200 - strlen(chunked_head) - 9;
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "0\r\nX-T: ");
	sb_repeat(&b, 't', trailer_room);
	sb_str(&b, "\r\n\r\n");
	expect_done_n("trailers filling the head budget exactly", &tiny, b.p, b.len);
	check_splits("trailers at the budget, splits", &tiny, b.p, b.len, 1);
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "0\r\nX-T: ");
	sb_repeat(&b, 't', trailer_room + 1);
	sb_str(&b, "\r\n\r\n");
	expect_error_n("trailers one past the head budget", &tiny, b.p, b.len, 431,
	               "trailers exceed 200 bytes");
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "0\r\nA: 1\r\nB: 1\r\n\r\n");
	expect_done_n("trailer fields up to the field limit", &tiny, b.p, b.len);
	b.len = 0;
	sb_str(&b, chunked_head);
	sb_str(&b, "0\r\nA: 1\r\nB: 1\r\nC: 1\r\n\r\n");
	expect_error_n("trailer fields past the field limit", &tiny, b.p, b.len, 431,
	               "more than 4 header fields");
	free(b.p);
}

/* Slowly arriving headers: each call must search only the new bytes (no O(n^2) rescans),
 * which shows as the remembered scan position following the input. */
static void test_no_rescan(void)
{
	struct sbuf b = { 0 };
	build_head(&b, 12000, 2);
	struct http_request req;
	http_request_init(&req, &http_default_limits);
	size_t pad_start = strstr(b.p, "X-Pad") - b.p;
	bool ok = true;
	for (size_t k = pad_start + 1; k < b.len - 4 && ok; k += 7) {
		ok = http_parse(&req, b.p, k) == HTTP_PARSE_NEED_MORE && req.p.scan == k;
		if (!ok)
			report(false, "scan position remembered", "at %zu scan=%zu", k, req.p.scan);
	}
	if (ok)
		report(http_parse(&req, b.p, b.len) == HTTP_PARSE_DONE, "scan position remembered",
		       "final parse failed");
	free(b.p);
}

static void test_limits_check(void)
{
	struct http_limits l = http_default_limits;
	report(http_limits_check(&l) == NULL, "default limits are valid", " ");
	l.max_header_fields = HTTP_MAX_FIELDS + 1;
	report(http_limits_check(&l) != NULL, "too many fields refused", " ");
	l = http_default_limits;
	l.max_target = l.max_header_bytes;
	report(http_limits_check(&l) != NULL, "target as large as the head refused", " ");
	l = http_default_limits;
	l.max_chunked_body = l.max_body - 1;
	report(http_limits_check(&l) != NULL, "chunked limit below body limit refused", " ");
}

/* ---- helpers ---- */

static bool accepts(const char *accept_lines, const char *type)
{
	struct sbuf b = { 0 };
	sb_str(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	sb_str(&b, accept_lines);
	sb_str(&b, "\r\n");
	struct http_request req;
	http_request_init(&req, &http_default_limits);
	enum http_parse_result res = http_parse(&req, b.p, b.len);
	bool r = res == HTTP_PARSE_DONE && http_accepts(&req, type);
	if (res != HTTP_PARSE_DONE)
		printf("# accept case did not parse: %s\n", req.reason);
	free(b.p);
	return r;
}

static void test_accept(void)
{
	static const struct {
		const char *lines, *type;
		bool want;
	} cases[] = {
		{ "", "application/json", true },
		{ "Accept: application/json\r\n", "application/json", true },
		{ "Accept: Application/JSON\r\n", "application/json", true },
		{ "Accept: application/json\r\n", "text/event-stream", false },
		{ "Accept: */*\r\n", "text/event-stream", true },
		{ "Accept: text/*\r\n", "text/event-stream", true },
		{ "Accept: text/*\r\n", "application/json", false },
		{ "Accept: application/json;q=0\r\n", "application/json", false },
		{ "Accept: application/json;q=0.000\r\n", "application/json", false },
		{ "Accept: application/json;q=0.001\r\n", "application/json", true },
		{ "Accept: application/json ; Q=0\r\n", "application/json", false },
		{ "Accept: */*, application/json;q=0\r\n", "application/json", false },
		{ "Accept: application/*;q=0, application/json\r\n", "application/json", true },
		{ "Accept: */*;q=0, text/*;q=0.5\r\n", "text/event-stream", true },
		{ "Accept: */*;q=0\r\n", "application/json", false },
		{ "Accept: text/html, application/json;q=0.9\r\n", "application/json", true },
		{ "Accept: text/event-stream;charset=\"a,b;q=0\"\r\n", "text/event-stream", true },
		{ "Accept: text/html\r\nAccept: text/event-stream\r\n", "text/event-stream", true },
		{ "Accept: application/json;q=2\r\n", "application/json", false },
		{ "Accept: application/json;q=\r\n", "application/json", false },
		{ "Accept: garbage, application/json\r\n", "application/json", true },
		{ "Accept: */json\r\n", "application/json", false },
		{ "Accept: application/json-seq\r\n", "application/json", false },
		{ "Accept:\r\n", "application/json", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[160];
		snprintf(name, sizeof name, "accept %zu: [%.*s] -> %s", i,
		         (int)strcspn(cases[i].lines, "\r"), cases[i].lines, cases[i].type);
		bool got = accepts(cases[i].lines, cases[i].type);
		report(got == cases[i].want, name, "got %d", got);
	}
}

static struct http_str lit(const char *s)
{
	return (struct http_str){ s, strlen(s) };
}

static void test_media_type(void)
{
	report(http_media_type_is(lit("application/json"), "application/json") &&
	       http_media_type_is(lit("Application/JSON;charset=UTF-8"), "application/json") &&
	       http_media_type_is(lit("application/json ; charset=utf-8"), "application/json") &&
	       !http_media_type_is(lit("application/jsonx"), "application/json") &&
	       !http_media_type_is(lit("application/json, text/plain"), "application/json") &&
	       !http_media_type_is(lit("text/plain; x=application/json"), "application/json") &&
	       !http_media_type_is((struct http_str){ NULL, 0 }, "application/json"),
	       "Content-Type media type", " ");
}

static void test_query_param(void)
{
	char out[16];
	size_t n = 99;
	report(http_query_param(lit("sessionId=abc-123"), "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_FOUND && strcmp(out, "abc-123") == 0 && n == 7, "query: plain", " ");
	report(http_query_param(lit("a=1&session%49d=x%20y+z&b"), "sessionId", out, sizeof out,
	                        &n) == HTTP_PARAM_FOUND && strcmp(out, "x y z") == 0,
	       "query: encoded name and value", "got %s", out);
	report(http_query_param(lit("a=1&sessionIdX=2&b"), "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_ABSENT, "query: absent", " ");
	report(http_query_param((struct http_str){ NULL, 0 }, "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_ABSENT, "query: no query", " ");
	report(http_query_param(lit("sessionId=a&sessionId=a"), "sessionId", out, sizeof out,
	                        &n) == HTTP_PARAM_INVALID, "query: repeated is invalid", " ");
	report(http_query_param(lit("sessionId=%zz"), "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_INVALID, "query: bad escape", " ");
	report(http_query_param(lit("sessionId=%4"), "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_INVALID, "query: truncated escape", " ");
	report(http_query_param(lit("sessionId=a%00b"), "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_INVALID, "query: decoded NUL", " ");
	report(http_query_param(lit("sessionId=123456789012345"), "sessionId", out, sizeof out,
	                        &n) == HTTP_PARAM_FOUND && n == 15,
	       "query: value of cap - 1 bytes fits", " ");
	report(http_query_param(lit("sessionId=1234567890123456"), "sessionId", out, sizeof out,
	                        &n) == HTTP_PARAM_INVALID, "query: value of cap bytes does not", " ");
	report(http_query_param(lit("sessionId"), "sessionId", out, sizeof out, &n) ==
	       HTTP_PARAM_FOUND && n == 0 && out[0] == '\0', "query: name without value", " ");
	report(http_query_param(lit("sessionId=x"), "sessionId", out, 0, &n) == HTTP_PARAM_INVALID,
	       "query: zero-size buffer", " ");
}

int main(void)
{
	test_request_line_refusals();
	test_header_refusals();
	test_framing_refusals();
	test_value_bytes();
	test_full_request();
	test_keep_alive();
	test_expect_continue();
	test_chunked();
	test_other_valid();
	test_pipelined();
	test_limits();
	test_no_rescan();
	test_limits_check();
	test_accept();
	test_media_type();
	test_query_param();
	return check_finish();
}
