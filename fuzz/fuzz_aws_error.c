/* Fuzzes aws_error_parse, the parser of AWS error answers (JSON, XML via expat, the
 * x-amzn-ErrorType header), and aws_result_header, with the invariants a tool error relies on:
 * a code only of [A-Za-z0-9._-], a message of valid UTF-8 without control bytes, both cut to
 * their buffers, and both empty when -1 is returned.
 *
 * Input: the first byte picks the shape. '1': the bytes up to the first '\n' are the
 * x-amzn-ErrorType header, the rest is the body. '2': the bytes up to the first blank line are
 * raw response header lines (the header is looked up there, as the client does), the rest is
 * the body. Anything else: all of the rest is the body, with no header. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/service.h"

#define HEADER_MAX 256

static bool code_ok(const char *code, size_t cap)
{
	size_t n = strlen(code);
	if (n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = code[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Valid UTF-8 (by lead byte and continuation bytes), no control byte, no blank at either end. */
static bool message_ok(const char *m, size_t cap)
{
	const unsigned char *s = (const unsigned char *)m;
	size_t n = strlen(m);
	if (n >= cap || (n && (s[0] == ' ' || s[n - 1] == ' ')))
		return false;
	for (size_t i = 0; i < n;) {
		size_t len = s[i] < 0x80 ? 1 : (s[i] >= 0xc2 && s[i] <= 0xdf) ? 2 : (s[i] >= 0xe0 && s[i] <= 0xef) ? 3
		           : (s[i] >= 0xf0 && s[i] <= 0xf4) ? 4 : 0;
		if (len == 0 || i + len > n || s[i] < 0x20 || s[i] == 0x7f)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

static void check(const char *body, size_t body_len, const char *header, size_t code_cap, size_t message_cap)
{
	char code[128], message[512];
	memset(code, 'X', sizeof code);
	memset(message, 'X', sizeof message);
	int rc = aws_error_parse(body, body_len, header, code, code_cap, message, message_cap);
	if (rc != 0 && rc != -1)
		abort();
	if (!code_ok(code, code_cap) || !message_ok(message, message_cap))
		abort();
	if ((rc == 0) != (code[0] != '\0'))
		abort();
	if (rc == -1 && message[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char shape = (char)data[0];
	const char *rest = (const char *)data + 1;
	size_t rest_len = size - 1;
	char header[HEADER_MAX];
	const char *header_arg = NULL;
	size_t body_at = 0;
	if (shape == '1') {
		const char *nl = memchr(rest, '\n', rest_len);
		size_t n = nl ? (size_t)(nl - rest) : rest_len;
		size_t take = n < sizeof header - 1 ? n : sizeof header - 1;
		memcpy(header, rest, take);
		header[take] = '\0'; /* an inner NUL just ends it early */
		header_arg = header;
		body_at = nl ? n + 1 : rest_len;
	} else if (shape == '2') {
		size_t end = 0;
		while (end + 1 < rest_len && !(rest[end] == '\n' && (rest[end + 1] == '\n' || rest[end + 1] == '\r')))
			end++;
		struct aws_result res = { .headers = rest, .headers_len = end < rest_len ? end : rest_len };
		if (aws_result_header(&res, "x-amzn-ErrorType", header, sizeof header) == 0) {
			if (strlen(header) >= sizeof header)
				abort();
			header_arg = header;
		}
		body_at = end + 1 < rest_len ? end + 1 : rest_len;
	}
	/* An exact-size copy of the body: the parsers get a length, never a terminator. */
	size_t body_len = rest_len - body_at;
	char *body = malloc(body_len ? body_len : 1);
	if (!body)
		return 0;
	memcpy(body, rest + body_at, body_len);
	check(body, body_len, header_arg, 128, 512);
	check(body, body_len, header_arg, 5, 7); /* cuts in codes and inside characters */
	check(body, body_len, header_arg, 1, 1);
	free(body);
	return 0;
}
