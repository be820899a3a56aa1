/* Fuzzes the ops server's reading of Lambda and SQS answers (servers/ops/ops_json.c): every
 * input goes through each reader, and what comes out must hold: results within their cap,
 * whole UTF-8, at most ten messages, cuts inside the budget, names within their limits, MD5
 * digest checks that always end in one of their three words. The first byte picks the cap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../servers/common/json_text.h"
#include "../servers/ops/ops_json.h"
#include "mcp_server.h"

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "violated: %s\n", #cond); abort(); } } while (0)

static size_t dump_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void check_lambda(const char *body, size_t len, size_t cap)
{
	json_t *r = lambda_invoke_result(200, "$LATEST", len % 2 ? "Unhandled" : NULL, body, len, cap);
	if (!r)
		return; /* out of memory only */
	REQUIRE(dump_size(r) <= cap);
	REQUIRE(json_object_get(r, "payload"));
	char summary[128];
	lambda_error_summary(json_object_get(r, "payload"), summary, sizeof summary);
	REQUIRE(strlen(summary) < sizeof summary && mcp_text_is_utf8(summary, strlen(summary)));
	json_decref(r);
}

/* "integrity" is one of three words; only a mismatch says why. */
static void check_integrity(const json_t *r)
{
	const char *integrity = json_string_value(json_object_get(r, "integrity"));
	REQUIRE(integrity);
	bool mismatch = strcmp(integrity, SQS_INTEGRITY_MISMATCH) == 0;
	REQUIRE(mismatch || strcmp(integrity, SQS_INTEGRITY_OK) == 0 || strcmp(integrity, SQS_INTEGRITY_UNCHECKED) == 0);
	REQUIRE(mismatch == json_is_string(json_object_get(r, "integrity_detail")));
}

static void check_receive(const char *body, size_t len, size_t cap)
{
	char err[256];
	json_t *r = sqs_receive_result(body, len, cap, err, sizeof err);
	if (!r) {
		REQUIRE(err[0]);
		return;
	}
	json_t *msgs = json_object_get(r, "messages");
	REQUIRE(json_is_array(msgs) && json_array_size(msgs) <= SQS_MESSAGES_MAX);
	size_t i, mismatches = 0;
	json_t *m;
	json_array_foreach(msgs, i, m) {
		REQUIRE(json_is_string(json_object_get(m, "message_id")));
		REQUIRE(sqs_receipt_handle_valid(json_string_value(json_object_get(m, "receipt_handle"))));
		json_t *b = json_object_get(m, "body");
		REQUIRE(json_is_string(b));
		REQUIRE(json_string_length(b) <= (size_t)json_integer_value(json_object_get(m, "body_bytes")));
		REQUIRE(json_object_size(json_object_get(m, "attributes")) <= SQS_ATTRIBUTES_MAX);
		check_integrity(m);
		mismatches += strcmp(json_string_value(json_object_get(m, "integrity")), SQS_INTEGRITY_MISMATCH) == 0;
	}
	REQUIRE((mismatches > 0) == json_is_string(json_object_get(r, "notice")));
	json_decref(r);
}

static void check_small_answers(const char *body, size_t len)
{
	char err[256], url[SQS_QUEUE_URL_MAX + 1];
	if (sqs_queue_url_parse(body, len, url, sizeof url) == 0)
		REQUIRE(strncmp(url, "http", 4) == 0 && strlen(url) <= SQS_QUEUE_URL_MAX && !strchr(url, ' '));
	json_t *attrs = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	/* The input as the request sent, and as its attributes: digests of whatever shape. */
	json_t *sent = json_pack("{s:s%, s:O?}", "MessageBody", body, len, "MessageAttributes", attrs);
	json_t *r = sqs_send_result(body, len, sent, err, sizeof err);
	json_decref(sent);
	if (r) {
		REQUIRE(sqs_id_valid(json_string_value(json_object_get(r, "message_id"))));
		check_integrity(r);
	}
	json_decref(r);

	char md5[SQS_MD5_HEX_LEN + 1];
	if (sqs_attributes_md5(attrs, md5, err, sizeof err) == 0)
		REQUIRE(strlen(md5) == SQS_MD5_HEX_LEN && strspn(md5, "0123456789abcdef") == SQS_MD5_HEX_LEN);
	else
		REQUIRE(err[0] && md5[0] == '\0');
	size_t wire = 0;
	json_t *out = attrs ? sqs_message_attributes(attrs, &wire, err, sizeof err) : NULL;
	/* What the tool would send always hashes. */
	if (out)
		REQUIRE(sqs_attributes_md5(out, md5, err, sizeof err) == 0);
	const char *key;
	json_t *v;
	json_object_foreach(out, key, v) {
		const char *type = json_string_value(json_object_get(v, "DataType"));
		json_t *sv = json_object_get(v, "StringValue");
		REQUIRE(type && (strcmp(type, "String") == 0 || strcmp(type, "Number") == 0));
		REQUIRE(json_is_string(sv) && sqs_text_valid(json_string_value(sv), json_string_length(sv)));
	}
	REQUIRE(!out || json_object_size(out) <= SQS_ATTRIBUTES_MAX);
	json_decref(out);
	json_decref(attrs);
}

static void check_names(const char *s, size_t len, size_t budget)
{
	const char *q = NULL;
	if (lambda_function_valid(s, &q)) {
		REQUIRE(strlen(s) <= LAMBDA_FUNCTION_MAX);
		REQUIRE(strncmp(s, "arn:", 4) == 0 || strlen(s) <= LAMBDA_NAME_MAX);
		REQUIRE(!q || lambda_qualifier_valid(q));
	}
	if (sqs_queue_name_valid(s))
		REQUIRE(strlen(s) <= SQS_QUEUE_NAME_MAX && !strchr(s, '/'));
	bool cut;
	size_t keep = json_text_cut(s, len, budget, &cut);
	REQUIRE(keep <= len && json_text_escaped_len(s, keep) <= budget && cut == (keep < len));
	REQUIRE(keep == len || keep == 0 || ((unsigned char)s[keep] & 0xC0) != 0x80);
	if (sqs_text_valid(s, len))
		REQUIRE(mcp_text_is_utf8(s, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 256 * 1024)
		return 0;
	size_t cap = 1024 + (size_t)data[0] * 256; /* 1 KiB .. 64 KiB */
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	size_t len = size - 1;
	check_lambda(s, len, cap);
	check_receive(s, len, cap);
	check_small_answers(s, len);
	check_names(s, strlen(s), data[0]);
	free(s);
	return 0;
}
