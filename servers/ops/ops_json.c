/* Lambda and SQS on the wire, without the wire: checks of names and ids before a request is
 * made, message attributes in SQS's shape, and answers turned into capped tool results. */
#include "ops_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/md5.h>

#include "../common/json_text.h"
#include "mcp_server.h"

#define PAYLOAD_DEPTH_MAX 32   /* deeper function answers are shown as text: clients nest less */
#define RESULT_ROOM 512        /* a Lambda result's bytes besides the payload (status, notice) */
#define BODY_NOTICE_ROOM 80    /* ",\"body_truncated\":\"[truncated: N of M bytes shown]\"" */
#define RECEIVE_NOTICE_ROOM 400
/* Two digests' words, each naming at most a 64-byte attribute name: see integrity_check. */
#define INTEGRITY_DETAIL_MAX 512

/* ---- Lambda ---- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

static bool qualifier_char(char c)
{
	return name_char(c) || c == '$';
}

static size_t span(const char *s, bool (*ok)(char))
{
	size_t n = 0;
	while (s[n] && ok(s[n]))
		n++;
	return n;
}

static bool lower_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '-';
}

static bool region_char(char c)
{
	return lower_char(c) || (c >= '0' && c <= '9');
}

static bool digit_char(char c)
{
	return c >= '0' && c <= '9';
}

bool lambda_function_valid(const char *function, const char **arn_qualifier)
{
	if (arn_qualifier)
		*arn_qualifier = NULL;
	if (!function)
		return false;
	size_t len = strnlen(function, LAMBDA_FUNCTION_MAX + 1);
	if (len == 0 || len > LAMBDA_FUNCTION_MAX)
		return false;
	if (strncmp(function, "arn:", 4) != 0)
		return len <= LAMBDA_NAME_MAX && span(function, name_char) == len;
	const char *p = function + 4;
	size_t n = span(p, lower_char); /* partition: aws, aws-cn, aws-us-gov, ... */
	if (n < 3 || strncmp(p, "aws", 3) != 0 || strncmp(p + n, ":lambda:", 8) != 0)
		return false;
	p += n + 8;
	n = span(p, region_char);
	if (n == 0 || n > 32 || p[n] != ':')
		return false;
	p += n + 1;
	n = span(p, digit_char);
	if (n != 12 || strncmp(p + n, ":function:", 10) != 0)
		return false;
	p += n + 10;
	n = span(p, name_char);
	if (n == 0 || n > LAMBDA_NAME_MAX)
		return false;
	p += n;
	if (*p == '\0')
		return true;
	if (*p++ != ':')
		return false;
	n = span(p, qualifier_char);
	if (n == 0 || n > LAMBDA_QUALIFIER_MAX || p[n] != '\0')
		return false;
	if (arn_qualifier)
		*arn_qualifier = p;
	return true;
}

bool lambda_qualifier_valid(const char *qualifier)
{
	if (!qualifier)
		return false;
	size_t len = strnlen(qualifier, LAMBDA_QUALIFIER_MAX + 1);
	return len <= LAMBDA_QUALIFIER_MAX && span(qualifier, qualifier_char) == len;
}

static size_t json_depth(const json_t *v, size_t limit)
{
	if (limit == 0 || !(json_is_object(v) || json_is_array(v)))
		return 0;
	size_t deepest = 0;
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && deepest < limit; i++) {
			size_t d = json_depth(json_array_get(v, i), limit - 1);
			if (d > deepest)
				deepest = d;
		}
	} else {
		const char *key;
		json_t *item;
		json_object_foreach((json_t *)v, key, item) {
			size_t d = json_depth(item, limit - 1);
			if (d > deepest)
				deepest = d;
			if (deepest >= limit)
				break;
		}
	}
	return deepest + 1;
}

/* The function's answer as JSON when it is JSON and fits, else as text cut to fit. */
static json_t *payload_value(const char *body, size_t len, size_t budget, char *notice, size_t notice_cap)
{
	notice[0] = '\0';
	if (len == 0)
		return json_null();
	if (!mcp_text_is_utf8(body, len))
		return json_pack("{s:b, s:I}", "binary", 1, "bytes", (json_int_t)len);
	json_t *v = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (v) {
		size_t size = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
		if (size > 0 && size <= budget && json_depth(v, PAYLOAD_DEPTH_MAX + 1) <= PAYLOAD_DEPTH_MAX)
			return v;
		json_decref(v);
	}
	bool cut;
	size_t keep = json_text_cut(body, len, budget > 16 ? budget - 16 : 0, &cut); /* {"text":""} */
	if (cut)
		snprintf(notice, notice_cap, "[truncated: %zu of %zu bytes shown; the function's answer is "
		         "larger than this server returns (settings.result_cap_bytes): ask the function for "
		         "less, e.g. a smaller page or limit in the payload]", keep, len);
	json_t *text = json_stringn(body, keep);
	return text ? json_pack("{s:o}", "text", text) : NULL;
}

/* A header value we may show: short, printable ASCII; otherwise nothing. */
static const char *header_text(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strnlen(s, LAMBDA_VERSION_MAX + 1);
	if (n > LAMBDA_VERSION_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return NULL;
	return s;
}

json_t *lambda_invoke_result(long status, const char *executed_version, const char *function_error,
                             const char *body, size_t len, size_t cap)
{
	size_t budget = cap > 2 * RESULT_ROOM ? cap - RESULT_ROOM : cap / 2;
	char notice[512];
	json_t *payload = payload_value(body ? body : "", body ? len : 0, budget, notice, sizeof notice);
	if (!payload)
		return NULL;
	json_t *r = json_pack("{s:I, s:s?, s:s?, s:o}", "status", (json_int_t)status,
	                      "executed_version", header_text(executed_version),
	                      "function_error", header_text(function_error), "payload", payload);
	if (r && notice[0] && json_object_set_new(r, "truncated", json_string(notice)) != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* Appends as much of s as fits, ending on a whole character. */
static void append_cut(char *out, size_t cap, const char *s)
{
	size_t used = strlen(out);
	if (!s || used + 1 >= cap)
		return;
	bool cut;
	size_t keep = mcp_text_cap(s, strlen(s), cap - 1 - used, &cut);
	memcpy(out + used, s, keep);
	out[used + keep] = '\0';
}

void lambda_error_summary(const json_t *payload, char *out, size_t cap)
{
	if (!out || cap == 0)
		return;
	out[0] = '\0';
	const char *type = json_string_value(json_object_get(payload, "errorType"));
	const char *message = json_string_value(json_object_get(payload, "errorMessage"));
	if (!type && !message) {
		append_cut(out, cap, json_string_value(json_object_get(payload, "text")));
		return;
	}
	append_cut(out, cap, type);
	if (type && message)
		append_cut(out, cap, ": ");
	append_cut(out, cap, message);
}

/* ---- SQS ---- */

bool sqs_queue_name_valid(const char *name)
{
	if (!name)
		return false;
	size_t len = strnlen(name, SQS_QUEUE_NAME_MAX + 1);
	if (len == 0 || len > SQS_QUEUE_NAME_MAX)
		return false;
	size_t base = sqs_queue_is_fifo(name) ? len - 5 : len;
	return base > 0 && span(name, name_char) == base;
}

bool sqs_queue_is_fifo(const char *name)
{
	size_t len = strnlen(name, SQS_QUEUE_NAME_MAX + 1);
	return len > 5 && strcmp(name + len - 5, ".fifo") == 0;
}

static bool visible_ascii(const char *s, size_t max)
{
	if (!s)
		return false;
	size_t len = strnlen(s, max + 1);
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool sqs_id_valid(const char *id)
{
	return visible_ascii(id, SQS_ID_MAX);
}

bool sqs_receipt_handle_valid(const char *handle)
{
	return visible_ascii(handle, SQS_RECEIPT_HANDLE_MAX);
}

/* One UTF-8 character: its bytes, or 0 when malformed (overlong, surrogate, too large). */
static size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0];
	size_t n;
	unsigned min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2, min = 0x80, c &= 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, min = 0x800, c &= 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

bool sqs_text_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned cp;
		size_t n = utf8_next(u + i, len - i, &cp);
		if (n == 0)
			return false;
		bool ok = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
		          (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
		if (!ok)
			return false;
		i += n;
	}
	return true;
}

static bool attribute_char(char c)
{
	return name_char(c) || c == '.';
}

bool sqs_attribute_name_valid(const char *name, size_t len)
{
	if (!name || len == 0 || len > SQS_ATTRIBUTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!attribute_char(name[i]) || (name[i] == '.' && i + 1 < len && name[i + 1] == '.'))
			return false;
	if (name[0] == '.' || name[len - 1] == '.')
		return false;
	/* Names SQS keeps for itself. */
	return !(len >= 4 && strncasecmp(name, "aws.", 4) == 0) &&
	       !(len >= 7 && strncasecmp(name, "amazon.", 7) == 0);
}

int sqs_number_text(double x, char *out, size_t cap)
{
	if (!isfinite(x) || !out || cap == 0)
		return -1;
	for (int precision = 1; precision <= 17; precision++) {
		int n = snprintf(out, cap, "%.*g", precision, x);
		if (n < 0 || (size_t)n >= cap)
			return -1;
		if (strtod(out, NULL) == x || precision == 17)
			return n;
	}
	return -1;
}

/* An attribute name for a message: cut to something short and whole. */
static int shown_len(const char *s, size_t len)
{
	bool cut;
	return (int)mcp_text_cap(s, len, 64, &cut);
}

static json_t *attributes_fail(json_t *out, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static json_t *attributes_fail(json_t *out, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	json_decref(out);
	return NULL;
}

json_t *sqs_message_attributes(const json_t *attributes, size_t *wire_bytes, char *err, size_t errlen)
{
	*wire_bytes = 0;
	if (!json_is_object(attributes))
		return attributes_fail(NULL, err, errlen, "attributes: must be an object of name -> string or number");
	if (json_object_size(attributes) > SQS_ATTRIBUTES_MAX)
		return attributes_fail(NULL, err, errlen, "attributes: at most %d per message (SQS's limit), got %zu",
		                       SQS_ATTRIBUTES_MAX, json_object_size(attributes));
	json_t *out = json_object();
	if (!out)
		return attributes_fail(NULL, err, errlen, "out of memory");
	const char *key;
	size_t klen;
	json_t *v;
	json_object_keylen_foreach((json_t *)attributes, key, klen, v) {
		if (!sqs_attribute_name_valid(key, klen))
			return attributes_fail(out, err, errlen, "attributes: name '%.*s' is not valid: 1-256 of "
			                       "A-Z a-z 0-9 _ - . with no leading, trailing or doubled '.', not "
			                       "starting with 'AWS.' or 'Amazon.'", shown_len(key, klen), key);
		char number[64];
		const char *type = "Number", *text = number;
		size_t tlen;
		if (json_is_string(v)) {
			type = "String";
			text = json_string_value(v);
			tlen = json_string_length(v);
			if (tlen == 0)
				return attributes_fail(out, err, errlen, "attributes.%.*s: must not be empty",
				                       shown_len(key, klen), key);
			if (!sqs_text_valid(text, tlen))
				return attributes_fail(out, err, errlen, "attributes.%.*s: holds characters SQS does "
				                       "not accept (control characters other than tab, newline, "
				                       "carriage return)", shown_len(key, klen), key);
		} else if (json_is_integer(v)) {
			tlen = (size_t)snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		} else if (json_is_real(v)) {
			int n = sqs_number_text(json_real_value(v), number, sizeof number);
			if (n < 0)
				return attributes_fail(out, err, errlen, "attributes.%.*s: must be a finite number",
				                       shown_len(key, klen), key);
			tlen = (size_t)n;
		} else {
			return attributes_fail(out, err, errlen, "attributes.%.*s: must be a string or a number",
			                       shown_len(key, klen), key);
		}
		json_t *value = json_stringn(text, tlen);
		json_t *a = value ? json_pack("{s:s, s:o}", "DataType", type, "StringValue", value) : NULL;
		if (!a || json_object_setn_new(out, key, klen, a) != 0)
			return attributes_fail(out, err, errlen, "out of memory");
		*wire_bytes += klen + strlen(type) + tlen;
	}
	return out;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- SQS digests ---- */

static void hex_digest(const unsigned char digest[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0x0F];
	}
	out[SQS_MD5_HEX_LEN] = '\0';
}

int sqs_md5_hex(const char *body, size_t len, char *out)
{
	unsigned char digest[16];
	out[0] = '\0';
	if (mbedtls_md5_ret((const unsigned char *)(body ? body : ""), body ? len : 0, digest) != 0)
		return -1;
	hex_digest(digest, out);
	return 0;
}

struct named_attribute {
	const char *name;
	size_t len;
	const json_t *value;
};

/* Byte order, as the SDKs sort names (SQS names are ASCII, where every order agrees). */
static int by_name(const void *a, const void *b)
{
	const struct named_attribute *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* One field of the digest: its length (4 bytes, big-endian), then its bytes. */
static bool md5_field(mbedtls_md5_context *ctx, const void *data, size_t len)
{
	if (len > UINT32_MAX)
		return false;
	const unsigned char prefix[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
	                                  (unsigned char)(len >> 8), (unsigned char)len };
	return mbedtls_md5_update_ret(ctx, prefix, sizeof prefix) == 0 &&
	       mbedtls_md5_update_ret(ctx, data, len) == 0;
}

/* One attribute into the digest; NULL, or why it cannot go in. */
static const char *md5_attribute(mbedtls_md5_context *ctx, const struct named_attribute *a)
{
	const json_t *type = json_object_get(a->value, "DataType");
	const char *t = json_string_value(type);
	if (!t || json_string_length(type) == 0)
		return "has no DataType";
	bool binary = has_prefix(t, "Binary");
	if (!binary && !has_prefix(t, "String") && !has_prefix(t, "Number"))
		return "has a DataType that is not String, Number or Binary";
	const json_t *v = json_object_get(a->value, binary ? "BinaryValue" : "StringValue");
	if (!json_is_string(v))
		return binary ? "has no BinaryValue" : "has no StringValue";
	const unsigned char *bytes = (const unsigned char *)json_string_value(v);
	size_t n = json_string_length(v);
	unsigned char *decoded = NULL;
	if (binary) {
		/* The digest covers the bytes, not their base64 text. */
		size_t cap = n / 4 * 3 + 3, olen = 0;
		if (!(decoded = malloc(cap)))
			return "could not be decoded (out of memory)";
		if (mbedtls_base64_decode(decoded, cap, &olen, bytes, n) != 0) {
			free(decoded);
			return "has a BinaryValue that is not base64";
		}
		bytes = decoded;
		n = olen;
	}
	const unsigned char transport = binary ? 2 : 1;
	bool ok = md5_field(ctx, a->name, a->len) && md5_field(ctx, t, json_string_length(type)) &&
	          mbedtls_md5_update_ret(ctx, &transport, 1) == 0 && md5_field(ctx, bytes, n);
	free(decoded);
	return ok ? NULL : "could not be hashed";
}

int sqs_attributes_md5(const json_t *attributes, char *out, char *err, size_t errlen)
{
	out[0] = '\0';
	if (!json_is_object(attributes)) {
		snprintf(err, errlen, "MessageAttributes is not an object");
		return -1;
	}
	size_t n = json_object_size(attributes);
	if (n > SQS_DIGEST_ATTRIBUTES_MAX) {
		snprintf(err, errlen, "%zu message attributes are more than SQS sends", n);
		return -1;
	}
	struct named_attribute list[SQS_DIGEST_ATTRIBUTES_MAX];
	size_t count = 0;
	const char *key;
	size_t klen;
	json_t *v;
	json_object_keylen_foreach((json_t *)attributes, key, klen, v) {
		if (count < n)
			list[count++] = (struct named_attribute){ key, klen, v };
	}
	qsort(list, count, sizeof list[0], by_name);

	mbedtls_md5_context ctx;
	mbedtls_md5_init(&ctx);
	const char *why = mbedtls_md5_starts_ret(&ctx) == 0 ? NULL : "could not be hashed";
	size_t at = 0;
	for (; at < count && !why; at++)
		why = md5_attribute(&ctx, &list[at]);
	unsigned char digest[16];
	if (!why && mbedtls_md5_finish_ret(&ctx, digest) != 0)
		why = "could not be hashed";
	mbedtls_md5_free(&ctx);
	if (why) {
		if (at > 0 && at <= count)
			snprintf(err, errlen, "attribute '%.*s' %s", shown_len(list[at - 1].name, list[at - 1].len),
			         list[at - 1].name, why);
		else
			snprintf(err, errlen, "the message attributes %s", why);
		return -1;
	}
	hex_digest(digest, out);
	return 0;
}

/* The digest checks of one message: what failed, in words. */
struct integrity {
	bool mismatch, unchecked;
	char detail[INTEGRITY_DETAIL_MAX];
};

/* SQS's digest as we may show it: 32 hex digits, or a placeholder. */
static bool digest_text(const json_t *theirs, char *shown, size_t cap)
{
	const char *s = json_string_value(theirs);
	bool hex = s && json_string_length(theirs) == SQS_MD5_HEX_LEN;
	for (size_t i = 0; hex && i < SQS_MD5_HEX_LEN; i++)
		hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
	snprintf(shown, cap, "%s", hex ? s : "(not an MD5 digest)");
	return hex;
}

/* One digest: SQS's (`theirs`, absent when SQS sent none) against ours, or against nothing
 * when ours could not be computed (`why`). `sending` picks the words: on SendMessage we sent
 * the text and SQS computed its digest; on ReceiveMessage SQS sent the digest. */
static void integrity_check(struct integrity *it, bool sending, const char *what, const json_t *theirs,
                            const char *ours, const char *why)
{
	if (!theirs || json_is_null(theirs)) {
		it->unchecked = true;
		return;
	}
	char shown[SQS_MD5_HEX_LEN + 32];
	bool readable = digest_text(theirs, shown, sizeof shown);
	if (ours && readable && strcasecmp(shown, ours) == 0)
		return;
	it->mismatch = true;
	size_t used = strlen(it->detail);
	char *at = it->detail + used;
	size_t room = sizeof it->detail - used;
	const char *sep = used ? "; " : "";
	if (!ours)
		snprintf(at, room, "%sMD5 of %s cannot be checked: %s (SQS %s %s)", sep, what, why,
		         sending ? "computed" : "sent", shown);
	else if (sending)
		snprintf(at, room, "%sMD5 of %s does not match (sent %s, SQS computed %s)", sep, what, ours, shown);
	else
		snprintf(at, room, "%sMD5 of %s does not match (SQS sent %s, what arrived hashes to %s)", sep, what, shown, ours);
}

static const char *integrity_state(const struct integrity *it)
{
	return it->mismatch ? SQS_INTEGRITY_MISMATCH : it->unchecked ? SQS_INTEGRITY_UNCHECKED : SQS_INTEGRITY_OK;
}

/* "integrity" and, when something did not match, "integrity_detail" into obj; -1 when
 * memory ran out. */
static int integrity_set(json_t *obj, const struct integrity *it)
{
	if (json_object_set_new(obj, "integrity", json_string(integrity_state(it))) != 0)
		return -1;
	if (it->mismatch && json_object_set_new(obj, "integrity_detail", json_string(it->detail)) != 0)
		return -1;
	return 0;
}

/* Whether attributes hold something to check: SQS leaves the digest out when none. */
static bool attributes_given(const json_t *attributes)
{
	return attributes && !json_is_null(attributes) &&
	       !(json_is_object(attributes) && json_object_size(attributes) == 0);
}

/* The attributes' digest against SQS's. */
static void attributes_check(struct integrity *it, bool sending, const char *what, const json_t *attributes,
                             const json_t *theirs)
{
	char ours[SQS_MD5_HEX_LEN + 1], why[192];
	int rc = sqs_attributes_md5(attributes, ours, why, sizeof why);
	integrity_check(it, sending, what, theirs, rc == 0 ? ours : NULL, why);
}

/* Visible ASCII only, `min`..`max` bytes: ids, handles and URLs we hand back or send again. */
static const char *ascii_field(const json_t *obj, const char *key, size_t min, size_t max)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n < min || n > max)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return NULL;
	return s;
}

int sqs_queue_url_parse(const char *body, size_t len, char *url, size_t cap)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *u = ascii_field(root, "QueueUrl", 8, SQS_QUEUE_URL_MAX);
	int rc = -1;
	if (u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) && strlen(u) < cap) {
		memcpy(url, u, strlen(u) + 1);
		rc = 0;
	}
	json_decref(root);
	return rc;
}

/* What SendMessage's answer says of the message we sent. */
static void send_integrity(const json_t *answer, const json_t *sent, struct integrity *it)
{
	const json_t *body = json_object_get(sent, "MessageBody");
	char ours[SQS_MD5_HEX_LEN + 1];
	if (json_is_string(body) && sqs_md5_hex(json_string_value(body), json_string_length(body), ours) == 0)
		integrity_check(it, true, "the message body", json_object_get(answer, "MD5OfMessageBody"), ours, NULL);
	else
		it->unchecked = true;
	const json_t *attributes = json_object_get(sent, "MessageAttributes");
	if (attributes_given(attributes))
		attributes_check(it, true, "the message attributes", attributes,
		                 json_object_get(answer, "MD5OfMessageAttributes"));
}

json_t *sqs_send_result(const char *body, size_t len, const json_t *sent, char *err, size_t errlen)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *id = ascii_field(root, "MessageId", 1, SQS_MESSAGE_ID_MAX);
	json_t *seq = json_object_get(root, "SequenceNumber");
	const char *seq_text = ascii_field(root, "SequenceNumber", 1, SQS_MESSAGE_ID_MAX);
	json_t *r = NULL;
	if (!id) {
		snprintf(err, errlen, "the answer holds no MessageId");
	} else if (seq && !json_is_null(seq) && !seq_text) {
		snprintf(err, errlen, "the answer's SequenceNumber is not a short text");
	} else {
		struct integrity it = { 0 };
		send_integrity(root, sent, &it);
		r = json_pack("{s:s}", "message_id", id);
		if (r && ((seq_text && json_object_set_new(r, "sequence_number", json_string(seq_text)) != 0) ||
		          integrity_set(r, &it) != 0)) {
			json_decref(r);
			r = NULL;
		}
		if (!r)
			snprintf(err, errlen, "out of memory");
	}
	json_decref(root);
	return r;
}

void sqs_fair_shares(const size_t *need, size_t n, size_t budget, size_t *share)
{
	for (size_t i = 0; i < n; i++)
		share[i] = SIZE_MAX; /* not settled */
	size_t left = budget, open = n;
	bool settled_some = true;
	while (open > 0 && settled_some) {
		settled_some = false;
		size_t equal = left / open;
		for (size_t i = 0; i < n; i++) {
			if (share[i] == SIZE_MAX && need[i] <= equal) {
				share[i] = need[i];
				left -= need[i];
				open--;
				settled_some = true;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (share[i] == SIZE_MAX)
			share[i] = left / open;
}

/* One received message attribute as the tool shows it: numbers as numbers when they read as
 * JSON numbers, text cut to SQS_ATTRIBUTE_SHOWN_MAX, binary only by its size. */
static json_t *received_value(const json_t *attr)
{
	const char *type = json_string_value(json_object_get(attr, "DataType"));
	json_t *sv = json_object_get(attr, "StringValue");
	if (!type)
		return NULL;
	if (has_prefix(type, "Binary")) {
		json_t *bv = json_object_get(attr, "BinaryValue");
		char text[96];
		snprintf(text, sizeof text, "(binary attribute: %zu characters of base64, not shown)",
		         json_string_length(bv));
		return json_string(text);
	}
	if (!json_is_string(sv))
		return NULL;
	const char *s = json_string_value(sv);
	size_t len = json_string_length(sv);
	if (has_prefix(type, "Number") && len <= 64) {
		json_t *n = json_loadb(s, len, JSON_DECODE_ANY, NULL);
		if (json_is_number(n))
			return n;
		json_decref(n);
	}
	bool cut;
	size_t keep = mcp_text_cap(s, len, SQS_ATTRIBUTE_SHOWN_MAX, &cut);
	if (!cut)
		return json_stringn(s, len);
	char shown[SQS_ATTRIBUTE_SHOWN_MAX + 64];
	snprintf(shown, sizeof shown, "%.*s [truncated: %zu of %zu bytes]", (int)keep, s, keep, len);
	return json_string(shown);
}

static json_t *received_attributes(const json_t *in)
{
	json_t *out = json_object();
	if (!out || !json_is_object(in))
		return out;
	size_t count = 0;
	const char *key;
	size_t klen;
	json_t *v;
	json_object_keylen_foreach((json_t *)in, key, klen, v) {
		if (count >= SQS_ATTRIBUTES_MAX)
			break;
		if (klen > SQS_ATTRIBUTE_NAME_MAX)
			continue;
		json_t *shown = received_value(v);
		if (shown && json_object_setn_new(out, key, klen, shown) == 0)
			count++;
	}
	return out;
}

/* The system attributes worth showing a model: delivery count, timing, FIFO ordering. */
static const char *const system_attribute_names[] = {
	"ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SentTimestamp",
	"MessageGroupId", "MessageDeduplicationId", "SequenceNumber",
};

static json_t *received_system_attributes(const json_t *in)
{
	json_t *out = json_object();
	if (!out || !json_is_object(in))
		return out;
	for (size_t i = 0; i < sizeof system_attribute_names / sizeof system_attribute_names[0]; i++) {
		const char *v = ascii_field(in, system_attribute_names[i], 1, 256);
		if (v)
			json_object_set_new(out, system_attribute_names[i], json_string(v));
	}
	return out;
}

static json_t *receive_fail(json_t *root, json_t *result, char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	json_decref(result);
	json_decref(root);
	return NULL;
}

/* A received message's digests, over its whole body and all its attributes (before any cut
 * or filtering for the result) into o; 1 when they do not match, -1 when memory ran out. */
static int receive_integrity(const json_t *m, const char *body, size_t len, json_t *o)
{
	struct integrity it = { 0 };
	char ours[SQS_MD5_HEX_LEN + 1];
	if (sqs_md5_hex(body, len, ours) == 0)
		integrity_check(&it, false, "the body", json_object_get(m, "MD5OfBody"), ours, NULL);
	else
		integrity_check(&it, false, "the body", json_object_get(m, "MD5OfBody"), NULL, "it could not be hashed");
	const json_t *attributes = json_object_get(m, "MessageAttributes");
	if (attributes_given(attributes))
		attributes_check(&it, false, "the message attributes", attributes,
		                 json_object_get(m, "MD5OfMessageAttributes"));
	if (integrity_set(o, &it) != 0)
		return -1;
	return it.mismatch ? 1 : 0;
}

/* Each message without its body; the bodies go in once they have their share of the cap.
 * *mismatches counts the messages whose digests do not match. */
static int receive_messages(const json_t *msgs, size_t n, json_t *list, const char **bodies,
                            size_t *body_len, size_t *mismatches, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(msgs, i);
		const char *id = ascii_field(m, "MessageId", 1, SQS_MESSAGE_ID_MAX);
		const char *handle = ascii_field(m, "ReceiptHandle", 1, SQS_RECEIPT_HANDLE_MAX);
		const json_t *body = json_object_get(m, "Body");
		if (!id || !handle || !json_is_string(body)) {
			*why = "a message lacks its MessageId, ReceiptHandle or Body";
			return -1;
		}
		bodies[i] = json_string_value(body);
		body_len[i] = json_string_length(body);
		json_t *o = json_pack("{s:s, s:s, s:I, s:o}", "message_id", id, "receipt_handle", handle,
		                      "body_bytes", (json_int_t)body_len[i],
		                      "attributes", received_attributes(json_object_get(m, "MessageAttributes")));
		json_t *sys = o ? received_system_attributes(json_object_get(m, "Attributes")) : NULL;
		if (!o || !sys || json_array_append_new(list, o) != 0) {
			json_decref(sys);
			*why = "out of memory";
			return -1;
		}
		if (json_object_size(sys) > 0)
			json_object_set_new(o, "system_attributes", sys);
		else
			json_decref(sys);
		int checked = receive_integrity(m, bodies[i], body_len[i], o);
		if (checked < 0) {
			*why = "out of memory";
			return -1;
		}
		*mismatches += (size_t)checked;
	}
	return 0;
}

/* Says, for the whole answer, that some messages did not match: they are still shown (the
 * model decides), but must not be acted on as they are. */
static int integrity_notice(json_t *result, size_t mismatches, size_t n)
{
	if (mismatches == 0)
		return 0;
	char notice[RECEIVE_NOTICE_ROOM];
	snprintf(notice, sizeof notice, "[integrity: %zu of %zu messages do not match the MD5 digests SQS "
	         "sent (integrity \"mismatch\", see integrity_detail): they may have been corrupted in "
	         "transit. Do not act on them as shown: leave them undeleted, and they return to the "
	         "queue after their visibility timeout to be received again]", mismatches, n);
	return json_object_set_new(result, "notice", json_string(notice));
}

json_t *sqs_receive_result(const char *body, size_t len, size_t cap, char *err, size_t errlen)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root))
		return receive_fail(root, NULL, err, errlen, "the answer is not a JSON object");
	json_t *msgs = json_object_get(root, "Messages");
	if (msgs && !json_is_null(msgs) && !json_is_array(msgs))
		return receive_fail(root, NULL, err, errlen, "the answer's Messages is not a list");
	size_t n = json_array_size(msgs);
	if (n > SQS_MESSAGES_MAX)
		n = SQS_MESSAGES_MAX; /* SQS never sends more; more would not be ours to show */
	json_t *list = json_array();
	json_t *result = list ? json_pack("{s:o}", "messages", list) : NULL;
	if (!result)
		return receive_fail(root, NULL, err, errlen, "out of memory");
	const char *bodies[SQS_MESSAGES_MAX];
	size_t body_len[SQS_MESSAGES_MAX] = { 0 }, need[SQS_MESSAGES_MAX] = { 0 }, share[SQS_MESSAGES_MAX];
	const char *why = NULL;
	size_t mismatches = 0;
	if (receive_messages(msgs, n, list, bodies, body_len, &mismatches, &why) != 0)
		return receive_fail(root, result, err, errlen, why);
	if (integrity_notice(result, mismatches, n) != 0)
		return receive_fail(root, result, err, errlen, "out of memory");

	size_t overhead = json_dumpb(result, NULL, 0, JSON_COMPACT) + RECEIVE_NOTICE_ROOM +
	                  n * (sizeof ",\"body\":\"\"" + BODY_NOTICE_ROOM);
	size_t budget = cap > overhead ? cap - overhead : 0;
	for (size_t i = 0; i < n; i++)
		need[i] = json_text_escaped_len(bodies[i], body_len[i]);
	sqs_fair_shares(need, n, budget, share);
	size_t cut_count = 0;
	for (size_t i = 0; i < n; i++) {
		bool cut;
		size_t keep = json_text_cut(bodies[i], body_len[i], share[i], &cut);
		json_t *m = json_array_get(list, i);
		if (json_object_set_new(m, "body", json_stringn(bodies[i], keep)) != 0)
			return receive_fail(root, result, err, errlen, "out of memory");
		if (cut) {
			char notice[BODY_NOTICE_ROOM];
			snprintf(notice, sizeof notice, "[truncated: %zu of %zu bytes shown]", keep, body_len[i]);
			json_object_set_new(m, "body_truncated", json_string(notice));
			cut_count++;
		}
	}
	if (cut_count > 0) {
		char notice[RECEIVE_NOTICE_ROOM];
		snprintf(notice, sizeof notice, "[truncated: %zu of %zu message bodies were cut to fit this "
		         "server's result size (settings.result_cap_bytes = %zu bytes); the messages were "
		         "received all the same: delete them once handled, or let them return to the queue "
		         "after their visibility timeout and receive fewer at a time (max_messages=1)]",
		         cut_count, n, cap);
		json_object_set_new(result, "truncated", json_string(notice));
	}
	json_decref(root);
	return result;
}

bool sqs_queue_missing(const char *code)
{
	return code && (strcmp(code, "QueueDoesNotExist") == 0 ||
	                strcmp(code, "AWS.SimpleQueueService.NonExistentQueue") == 0 ||
	                strcmp(code, "NonExistentQueue") == 0);
}
