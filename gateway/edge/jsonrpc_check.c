/* The edge's JSON-RPC 2.0 envelope check: one bounded pass over the bytes for nesting depth,
 * then jansson, then the envelope rules of JSON-RPC 2.0 as MCP narrows them.
 *
 * Decisions (MCP-shaped, stricter than bare JSON-RPC where that protects what follows):
 * - Nesting: the whole document may nest JSONRPC_MAX_DEPTH levels below the message object
 *   (so params/result/error.data of depth 64 pass, 65 do not). Counted on the raw bytes
 *   before parsing, so a hostile body never makes anything recurse deeply.
 * - Duplicate member names are refused (which one would the next hop read?).
 * - ids are strings or integers; null, fractional (1.0, 1e2) and other types are refused,
 *   and so is an id whose JSON text does not fit first_id (79 bytes): an error body must
 *   be able to echo it exactly. Two requests of one batch may not share an id.
 * - params, when present, must be an object: MCP never sends arrays, and the router puts
 *   the caller into params._meta.
 * - Members other than jsonrpc/method/params/id/result/error are allowed and passed on; the
 *   reserved ones must fit the message's kind (no params or id-less result in a response,
 *   no result/error in a request or notification).
 * - A batch is refused whole if any element is invalid, if it is empty or larger than
 *   JSONRPC_MAX_BATCH, or if it contains initialize (MCP forbids that).
 * - On any refusal only status, reason and batch are set; counts are 0 and strings "". */
#include "jsonrpc_check.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ID_TEXT_MAX (sizeof(((struct jsonrpc_summary *)0)->first_id) - 1)

/* Returns true when the document nests deeper than allowed. A top-level array (a batch)
 * adds one level, the message object another. Brackets inside strings do not count. */
static bool nests_too_deep(const char *body, size_t len)
{
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
		i++;
	size_t limit = JSONRPC_MAX_DEPTH + 1 + (i < len && body[i] == '[' ? 1 : 0);
	size_t depth = 0;
	bool in_string = false;
	for (; i < len; i++) {
		char c = body[i];
		if (in_string) {
			if (c == '\\')
				i++; /* the escaped character cannot end the string */
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > limit)
				return true;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--; /* unbalanced closers are jansson's to report */
		}
	}
	return false;
}

/* Writes the id as JSON text into buf (ID_TEXT_MAX + 1 bytes). Returns NULL or a reason. */
static const char *id_text(const json_t *id, char *buf)
{
	if (json_is_null(id))
		return "id must not be null";
	if (json_is_real(id))
		return "id must be a string or a whole number";
	if (!json_is_string(id) && !json_is_integer(id))
		return "id must be a string or a whole number";
	size_t n = json_dumpb(id, buf, ID_TEXT_MAX, JSON_ENCODE_ANY | JSON_COMPACT);
	if (n == 0 || n > ID_TEXT_MAX)
		return "id too long";
	buf[n] = '\0';
	return NULL;
}

static const char *check_method(const json_t *method)
{
	if (!json_is_string(method))
		return "method must be a string";
	size_t n = json_string_length(method);
	if (n == 0)
		return "method must not be empty";
	if (n > JSONRPC_METHOD_MAX)
		return "method name too long";
	const unsigned char *s = (const unsigned char *)json_string_value(method);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "method name has a control character";
	return NULL;
}

static const char *check_error_member(const json_t *error)
{
	if (!json_is_object(error))
		return "error must be an object";
	if (!json_is_integer(json_object_get(error, "code")))
		return "error.code must be a whole number";
	if (!json_is_string(json_object_get(error, "message")))
		return "error.message must be a string";
	return NULL;
}

enum message_kind { KIND_REQUEST, KIND_NOTIFICATION, KIND_RESPONSE };

/* What one valid message contributes to the summary. */
struct message_facts {
	enum message_kind kind;
	const char *method;    /* requests and notifications */
	char id[ID_TEXT_MAX + 1]; /* requests and responses */
};

static const char *check_request(const json_t *msg, struct message_facts *facts)
{
	const char *bad = check_method(json_object_get(msg, "method"));
	if (bad)
		return bad;
	if (json_object_get(msg, "result") || json_object_get(msg, "error"))
		return "a request cannot carry result or error";
	const json_t *params = json_object_get(msg, "params");
	if (params && !json_is_object(params))
		return "params must be an object";
	const json_t *id = json_object_get(msg, "id");
	facts->method = json_string_value(json_object_get(msg, "method"));
	if (!id) {
		facts->kind = KIND_NOTIFICATION;
		return NULL;
	}
	facts->kind = KIND_REQUEST;
	return id_text(id, facts->id);
}

static const char *check_response(const json_t *msg, struct message_facts *facts)
{
	const json_t *result = json_object_get(msg, "result");
	const json_t *error = json_object_get(msg, "error");
	if (!result && !error)
		return "message has neither method nor result/error";
	if (result && error)
		return "a response has either result or error, not both";
	if (error) {
		const char *bad = check_error_member(error);
		if (bad)
			return bad;
	}
	if (json_object_get(msg, "params"))
		return "a response cannot carry params";
	const json_t *id = json_object_get(msg, "id");
	if (!id)
		return "a response must have an id";
	facts->kind = KIND_RESPONSE;
	return id_text(id, facts->id);
}

/* Checks one message object. Returns NULL or the reason it is refused. */
static const char *check_message(const json_t *msg, struct message_facts *facts)
{
	memset(facts, 0, sizeof *facts);
	if (!json_is_object(msg))
		return "a message must be a JSON object";
	const json_t *version = json_object_get(msg, "jsonrpc");
	if (!json_is_string(version) || json_string_length(version) != 3 ||
	    memcmp(json_string_value(version), "2.0", 3) != 0)
		return "jsonrpc must be \"2.0\"";
	if (json_object_get(msg, "method"))
		return check_request(msg, facts);
	return check_response(msg, facts);
}

/* Copies a JSON string into buf of size n; false when it does not fit. */
static bool copy_string(const json_t *s, char *buf, size_t n)
{
	size_t len = json_string_length(s);
	if (!json_is_string(s) || len >= n)
		return false;
	memcpy(buf, json_string_value(s), len);
	buf[len] = '\0';
	return true;
}

/* params.name or params.uri of the first message, for the Mcp-Name header check. */
static void note_name(const json_t *msg, const char *method, struct jsonrpc_summary *out)
{
	static const char *const by_name[] = { "tools/call", "prompts/get" };
	static const char *const by_uri[] = { "resources/read", "resources/subscribe",
	                                      "resources/unsubscribe" };
	const char *member = NULL;
	for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
		if (strcmp(method, by_name[i]) == 0)
			member = "name";
	for (size_t i = 0; i < sizeof by_uri / sizeof by_uri[0]; i++)
		if (strcmp(method, by_uri[i]) == 0)
			member = "uri";
	if (!member)
		return;
	const json_t *value = json_object_get(json_object_get(msg, "params"), member);
	if (json_is_string(value) && !copy_string(value, out->name, sizeof out->name))
		out->name_too_long = true;
}

static void refuse(struct jsonrpc_summary *out, enum jsonrpc_check_status status,
                   const char *reason)
{
	bool batch = out->batch;
	memset(out, 0, sizeof *out);
	out->status = status;
	out->reason = reason;
	out->batch = batch;
}

/* Folds one valid message into the summary. Returns NULL or a reason to refuse the body. */
static const char *add_message(const json_t *msg, const struct message_facts *facts,
                               struct jsonrpc_summary *out)
{
	bool first = out->n_messages == 0;
	out->n_messages++;
	switch (facts->kind) {
	case KIND_REQUEST:
		out->n_requests++;
		break;
	case KIND_NOTIFICATION:
		out->n_notifications++;
		break;
	case KIND_RESPONSE:
		out->n_responses++;
		break;
	}
	if (facts->method && out->method[0] == '\0')
		memcpy(out->method, facts->method, strlen(facts->method) + 1);
	if (facts->method && first)
		note_name(msg, facts->method, out);
	if (facts->kind == KIND_REQUEST && out->first_id[0] == '\0')
		memcpy(out->first_id, facts->id, sizeof out->first_id);
	if (facts->method && strcmp(facts->method, "initialize") == 0 && out->batch)
		return "initialize must not be part of a batch";
	return NULL;
}

/* Two requests of one batch with the same id could not be told apart by their responses. */
static bool duplicate_request_id(struct message_facts *facts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (facts[i].kind != KIND_REQUEST)
			continue;
		for (size_t j = i + 1; j < n; j++)
			if (facts[j].kind == KIND_REQUEST && strcmp(facts[i].id, facts[j].id) == 0)
				return true;
	}
	return false;
}

static const char *check_batch(const json_t *doc, bool allow_batch, struct jsonrpc_summary *out,
                               enum jsonrpc_check_status *status)
{
	struct message_facts facts[JSONRPC_MAX_BATCH];
	out->batch = true;
	if (!allow_batch) {
		*status = JSONRPC_BATCH_REFUSED;
		return "JSON-RPC batches are not supported in this protocol version";
	}
	size_t n = json_array_size(doc);
	if (n == 0)
		return "empty batch";
	if (n > JSONRPC_MAX_BATCH)
		return "batch has more than 100 messages";
	for (size_t i = 0; i < n; i++) {
		const json_t *msg = json_array_get(doc, i);
		const char *bad = check_message(msg, &facts[i]);
		if (!bad)
			bad = add_message(msg, &facts[i], out);
		if (bad)
			return bad;
	}
	if (duplicate_request_id(facts, n))
		return "two requests in one batch share an id";
	return NULL;
}

/* Checks a parsed body. Returns NULL, or the reason with *status set. */
static const char *check_document(const json_t *doc, bool allow_batch,
                                  struct jsonrpc_summary *out, enum jsonrpc_check_status *status)
{
	*status = JSONRPC_INVALID_REQUEST;
	if (json_is_array(doc))
		return check_batch(doc, allow_batch, out, status);
	struct message_facts facts;
	const char *bad = check_message(doc, &facts);
	if (!bad)
		bad = add_message(doc, &facts, out);
	if (bad)
		return bad;
	out->is_initialize = facts.kind == KIND_REQUEST && strcmp(out->method, "initialize") == 0;
	const json_t *pv = json_object_get(json_object_get(json_object_get(doc, "params"), "_meta"),
	                                   "io.modelcontextprotocol/protocolVersion");
	if (json_is_string(pv))
		copy_string(pv, out->meta_protocol, sizeof out->meta_protocol);
	return NULL;
}

/* Parses and checks; returns NULL, or the reason with *status set. */
static const char *check_body(const char *body, size_t len, bool allow_batch,
                              struct jsonrpc_summary *out, enum jsonrpc_check_status *status)
{
	*status = JSONRPC_INVALID_REQUEST;
	if (nests_too_deep(body, len))
		return "JSON nested too deeply (at most 64 levels inside a message)";
	json_error_t err;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!doc) {
		if (json_error_code(&err) == json_error_duplicate_key)
			return "duplicate member name";
		*status = JSONRPC_PARSE_ERROR;
		return "not valid JSON";
	}
	const char *bad = check_document(doc, allow_batch, out, status);
	json_decref(doc);
	return bad;
}

void jsonrpc_check(const char *body, size_t len, bool allow_batch, struct jsonrpc_summary *out)
{
	memset(out, 0, sizeof *out);
	if (!body) {
		body = "";
		len = 0;
	}
	enum jsonrpc_check_status status;
	const char *bad = check_body(body, len, allow_batch, out, &status);
	if (bad) {
		refuse(out, status, bad);
		return;
	}
	out->status = JSONRPC_VALID;
	out->reason = "valid";
}
