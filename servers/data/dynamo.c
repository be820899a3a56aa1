/* The data server's DynamoDB tools: dynamo_get, dynamo_put and dynamo_query on the tables the
 * settings allow ("dynamodb": tables, write_tables, max_items), over the JSON 1.0 protocol.
 * Arguments and results are plain JSON; dynamo_json.c converts to and from AttributeValues. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_tool.h"
#include "data.h"
#include "dynamo_json.h"
#include "log.h"
#include "settings.h"

#define DYNAMO_RESPONSE_MAX (4u * 1024u * 1024u) /* a 1 MB page or 400 KB item as JSON */
#define DYNAMO_NAME_MIN 3
#define DYNAMO_NAME_MAX 255
#define EXPRESSION_NAMES_MAX 64
#define PROJECTION_MAX 100
#define NAMES_CACHE_SIZE 16

static struct {
	struct allowlist tables;       /* readable: dynamo_get, dynamo_query */
	struct allowlist write_tables; /* writable: dynamo_put */
	long long max_items;
	size_t result_cap;
} cfg;

/* Key attribute names from DescribeTable, per table and index, for cursors after a page that
 * the result cap cut (see dynamo_query_result). Key schemas never change, so no expiry. */
static struct names_entry {
	char table[DYNAMO_NAME_MAX + 1];
	char index[DYNAMO_NAME_MAX + 1];
	struct dynamo_key_names names;
} names_cache[NAMES_CACHE_SIZE];
static size_t names_cached, names_next;

/* One call in flight. */
struct dyn_call {
	struct mcp_call *call;
	struct aws_op *op;
	char table[DYNAMO_NAME_MAX + 1];
	char index[DYNAMO_NAME_MAX + 1]; /* "" without an index */
	struct dynamo_page page;         /* dynamo_query, while DescribeTable runs */
};

static const char *index_or_null(const struct dyn_call *d)
{
	return d->index[0] ? d->index : NULL;
}

static void dyn_free(struct dyn_call *d)
{
	dynamo_page_free(&d->page);
	free(d);
}

static void on_cancel(struct mcp_call *call, void *arg)
{
	struct dyn_call *d = arg;
	aws_op_cancel(d->op);
	mcp_call_fail(call, "%s: cancelled", mcp_call_tool(call));
	dyn_free(d);
}

static struct dyn_call *dyn_new(struct mcp_call *call, const char *table, const char *index)
{
	struct dyn_call *d = calloc(1, sizeof *d);
	if (!d) {
		mcp_call_fail(call, "%s: out of memory; no request was made", mcp_call_tool(call));
		return NULL;
	}
	d->call = call;
	snprintf(d->table, sizeof d->table, "%s", table);
	snprintf(d->index, sizeof d->index, "%s", index ? index : "");
	return d;
}

/* Starts one JSON 1.0 call for `d`; on failure to start, ends the call and frees d. */
static void dyn_start(struct dyn_call *d, const char *operation, json_t *body, aws_done_fn done)
{
	char target[64];
	snprintf(target, sizeof target, "DynamoDB_20120810.%s", operation);
	d->op = aws_call_json(aws_tool_client(), &AWS_DYNAMODB, "1.0", target, body,
	                      DYNAMO_RESPONSE_MAX, done, d);
	if (!d->op) {
		mcp_call_fail(d->call, "%s: the %s request could not be made (out of memory?); no request "
		              "was made", mcp_call_tool(d->call), operation);
		dyn_free(d);
		return;
	}
	mcp_call_on_cancel(d->call, on_cancel, d);
}

/* A failed DynamoDB call as a tool error that names the table, and says plainly when it is
 * missing or a condition stopped a write. */
static void dyn_fail(struct dyn_call *d, const struct aws_result *res)
{
	char context[600];
	if (strcmp(res->code, "ResourceNotFoundException") == 0)
		snprintf(context, sizeof context, "table '%s'%s%s%s was not found: it does not exist in "
		         "region %s or is not active", d->table, d->index[0] ? " (index '" : "", d->index,
		         d->index[0] ? "')" : "", aws_client_region(aws_tool_client()));
	else if (strcmp(res->code, "ConditionalCheckFailedException") == 0)
		snprintf(context, sizeof context, "table '%s': the condition was false, so the item was "
		         "not written", d->table);
	else
		snprintf(context, sizeof context, "table '%s'", d->table);
	aws_tool_fail(d->call, res, context);
}

/* Takes DynamoDB's answer for a call: it can no longer be cancelled, and a failed request ends
 * it here. The call when the request succeeded; NULL when it was ended (and freed). */
static struct dyn_call *dyn_answered(const struct aws_result *res, void *arg)
{
	struct dyn_call *d = arg;
	d->op = NULL;
	mcp_call_on_cancel(d->call, NULL, NULL);
	if (res->ok)
		return d;
	dyn_fail(d, res);
	dyn_free(d);
	return NULL;
}

static void dyn_finish(struct dyn_call *d, json_t *structured, const char *err)
{
	if (structured)
		mcp_call_finish(d->call, mcp_tool_structured(structured));
	else
		mcp_call_fail(d->call, "%s: DynamoDB's answer could not be used: %s [table '%s']",
		              mcp_call_tool(d->call), err, d->table);
	dyn_free(d);
}

/* ---- arguments ---- */

static bool dynamo_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len < DYNAMO_NAME_MIN || len > DYNAMO_NAME_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

/* The table (and, when `index` is not NULL, index) arguments: valid DynamoDB names. False
 * when the call was ended. */
static bool table_args(struct mcp_call *call, json_t *args, const char **table, const char **index)
{
	const char *tool = mcp_call_tool(call);
	*table = json_string_value(json_object_get(args, "table"));
	if (!*table || !dynamo_name_valid(*table)) {
		mcp_call_fail(call, "%s: table must be a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ - .)",
		              tool);
		return false;
	}
	json_t *ix = json_object_get(args, "index");
	if (!index)
		return true;
	*index = NULL;
	if (ix) {
		*index = json_string_value(ix);
		if (!*index || !dynamo_name_valid(*index)) {
			mcp_call_fail(call, "%s: index must be a DynamoDB index name (3 to 255 of a-z A-Z 0-9 _ - .)",
			              tool);
			return false;
		}
	}
	return true;
}

/* An expression placeholder: its sigil ('#' for names, ':' for values) and then letters, digits
 * or '_', at most a name's length in all. */
static bool placeholder_valid(const char *k, char sigil)
{
	size_t len = strlen(k);
	return len >= 2 && len <= DYNAMO_NAME_MAX && k[0] == sigil &&
	       strspn(k + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == len - 1;
}

/* ExpressionAttributeNames: {"#n": "name"}. Sets *out (new reference, NULL when absent). */
static bool names_arg(struct mcp_call *call, json_t *args, json_t **out)
{
	json_t *names = json_object_get(args, "names");
	*out = NULL;
	if (!names)
		return true;
	if (!json_is_object(names) || json_object_size(names) > EXPRESSION_NAMES_MAX) {
		mcp_call_fail(call, "%s: names must be an object of at most %d \"#placeholder\": \"name\" pairs",
		              mcp_call_tool(call), EXPRESSION_NAMES_MAX);
		return false;
	}
	const char *k;
	json_t *v;
	json_object_foreach(names, k, v) {
		if (!placeholder_valid(k, '#') || !json_is_string(v) || json_string_length(v) < 1 ||
		    json_string_length(v) > DYNAMO_NAME_MAX) {
			mcp_call_fail(call, "%s: names: each key must be '#' and letters, digits or '_', each "
			              "value an attribute name of 1 to %d bytes", mcp_call_tool(call), DYNAMO_NAME_MAX);
			return false;
		}
	}
	*out = json_deep_copy(names);
	if (!*out) {
		mcp_call_fail(call, "%s: out of memory; no request was made", mcp_call_tool(call));
		return false;
	}
	return true;
}

/* ExpressionAttributeValues: {":v": plain JSON}, converted. */
static bool values_arg(struct mcp_call *call, json_t *args, json_t **out)
{
	json_t *values = json_object_get(args, "values");
	*out = NULL;
	if (!values)
		return true;
	if (!json_is_object(values) || json_object_size(values) > EXPRESSION_NAMES_MAX) {
		mcp_call_fail(call, "%s: values must be an object of at most %d \":placeholder\": value pairs",
		              mcp_call_tool(call), EXPRESSION_NAMES_MAX);
		return false;
	}
	const char *k;
	json_t *v;
	json_object_foreach(values, k, v) {
		if (!placeholder_valid(k, ':')) {
			mcp_call_fail(call, "%s: values: each key must be ':' and letters, digits or '_'",
			              mcp_call_tool(call));
			return false;
		}
	}
	char err[512];
	*out = dynamo_item_from_plain(values, NULL, err, sizeof err);
	if (!*out) {
		mcp_call_fail(call, "%s: values: %s", mcp_call_tool(call), err);
		return false;
	}
	return true;
}

/* A key: 1 or 2 attributes, each a string, number or {"$binary"}. */
static json_t *key_arg(struct mcp_call *call, json_t *key)
{
	char err[512];
	if (!json_is_object(key) || json_object_size(key) < 1 || json_object_size(key) > 2) {
		mcp_call_fail(call, "%s: key must be an object of the table's 1 or 2 key attributes",
		              mcp_call_tool(call));
		return NULL;
	}
	json_t *av = dynamo_item_from_plain(key, NULL, err, sizeof err);
	if (!av) {
		mcp_call_fail(call, "%s: key: %s", mcp_call_tool(call), err);
		return NULL;
	}
	const char *name;
	json_t *v;
	json_object_foreach(av, name, v) {
		if (strlen(name) > DYNAMO_KEY_NAME_MAX) {
			mcp_call_fail(call, "%s: key attribute names are at most %d bytes", mcp_call_tool(call),
			              DYNAMO_KEY_NAME_MAX);
			json_decref(av);
			return NULL;
		}
		if (!json_object_get(v, "S") && !json_object_get(v, "N") && !json_object_get(v, "B")) {
			mcp_call_fail(call, "%s: key attribute '%s' must be a string, a number or "
			              "{\"$binary\": base64}", mcp_call_tool(call), name);
			json_decref(av);
			return NULL;
		}
	}
	return av;
}

/* attributes: ["a", "b"] -> ProjectionExpression "#p0, #p1" with those names. */
static bool projection_arg(struct mcp_call *call, json_t *args, json_t *body)
{
	json_t *list = json_object_get(args, "attributes");
	if (!list)
		return true;
	if (!json_is_array(list) || json_array_size(list) < 1 || json_array_size(list) > PROJECTION_MAX) {
		mcp_call_fail(call, "%s: attributes must list 1 to %d attribute names", mcp_call_tool(call),
		              PROJECTION_MAX);
		return false;
	}
	json_t *names = json_object();
	char *expr = malloc(json_array_size(list) * 8 + 1);
	if (!names || !expr) {
		json_decref(names);
		free(expr);
		mcp_call_fail(call, "%s: out of memory; no request was made", mcp_call_tool(call));
		return false;
	}
	size_t off = 0, i;
	json_t *v;
	expr[0] = '\0';
	json_array_foreach(list, i, v) {
		if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > DYNAMO_NAME_MAX) {
			json_decref(names);
			free(expr);
			mcp_call_fail(call, "%s: attributes[%zu] must be an attribute name of 1 to %d bytes",
			              mcp_call_tool(call), i, DYNAMO_NAME_MAX);
			return false;
		}
		char placeholder[32];
		snprintf(placeholder, sizeof placeholder, "#p%zu", i);
		json_object_set(names, placeholder, v);
		off += (size_t)snprintf(expr + off, json_array_size(list) * 8 + 1 - off, "%s%s",
		                        i ? ", " : "", placeholder);
	}
	json_object_set_new(body, "ProjectionExpression", json_string(expr));
	json_object_set_new(body, "ExpressionAttributeNames", names);
	free(expr);
	return true;
}

static json_t *body_new(struct mcp_call *call, const char *table)
{
	json_t *body = json_pack("{s:s}", "TableName", table);
	if (!body)
		mcp_call_fail(call, "%s: out of memory; no request was made", mcp_call_tool(call));
	return body;
}

/* ---- dynamo_get ---- */

static void get_done(const struct aws_result *res, void *arg)
{
	struct dyn_call *d = dyn_answered(res, arg);
	if (!d)
		return;
	char err[512] = "";
	json_t *out = dynamo_get_result(res->body, res->body_len, d->table, cfg.result_cap, err, sizeof err);
	dyn_finish(d, out, err);
}

static void dynamo_get(struct mcp_call *call, json_t *args)
{
	const char *table;
	if (!table_args(call, args, &table, NULL))
		return;
	json_t *key = key_arg(call, json_object_get(args, "key"));
	if (!key)
		return;
	json_t *body = body_new(call, table);
	if (!body) {
		json_decref(key);
		return;
	}
	json_object_set_new(body, "Key", key);
	json_t *consistent = json_object_get(args, "consistent_read");
	if (json_is_boolean(consistent))
		json_object_set(body, "ConsistentRead", consistent);
	if (!projection_arg(call, args, body) ||
	    aws_tool_refuse_unlisted(call, &cfg.tables, "table", table, "dynamodb.tables") ||
	    aws_tool_refuse_unavailable(call)) {
		json_decref(body);
		return;
	}
	struct dyn_call *d = dyn_new(call, table, NULL);
	if (d)
		dyn_start(d, "GetItem", body, get_done);
	json_decref(body);
}

/* ---- dynamo_put ---- */

static void put_done(const struct aws_result *res, void *arg)
{
	struct dyn_call *d = dyn_answered(res, arg);
	if (!d)
		return;
	dyn_finish(d, json_pack("{s:b}", "ok", 1), "out of memory");
}

static void dynamo_put(struct mcp_call *call, json_t *args)
{
	const char *table;
	if (!table_args(call, args, &table, NULL))
		return;
	json_t *plain = json_object_get(args, "item");
	char err[512];
	size_t size = 0;
	json_t *item = json_object_size(plain) > 0 ? dynamo_item_from_plain(plain, &size, err, sizeof err)
	                                          : NULL;
	if (!item) {
		mcp_call_fail(call, "dynamo_put: item: %s",
		              json_object_size(plain) > 0 ? err : "must be an object with at least one attribute");
		return;
	}
	json_t *names = NULL, *values = NULL;
	json_t *body = body_new(call, table);
	if (!body || !names_arg(call, args, &names) || !values_arg(call, args, &values)) {
		json_decref(item), json_decref(body), json_decref(names);
		return;
	}
	json_object_set_new(body, "Item", item);
	json_t *condition = json_object_get(args, "condition");
	if (json_is_string(condition))
		json_object_set(body, "ConditionExpression", condition);
	if (names)
		json_object_set_new(body, "ExpressionAttributeNames", names);
	if (values)
		json_object_set_new(body, "ExpressionAttributeValues", values);
	if (aws_tool_refuse_unlisted(call, &cfg.write_tables, "table", table, "dynamodb.write_tables") ||
	    aws_tool_refuse_unavailable(call)) {
		json_decref(body);
		return;
	}
	struct dyn_call *d = dyn_new(call, table, NULL);
	if (d)
		dyn_start(d, "PutItem", body, put_done);
	json_decref(body);
}

/* ---- dynamo_query ---- */

static const struct dynamo_key_names *names_lookup(const char *table, const char *index)
{
	for (size_t i = 0; i < names_cached; i++)
		if (strcmp(names_cache[i].table, table) == 0 && strcmp(names_cache[i].index, index) == 0)
			return &names_cache[i].names;
	return NULL;
}

static void names_store(const char *table, const char *index, const struct dynamo_key_names *names)
{
	struct names_entry *e = &names_cache[names_next];
	names_next = (names_next + 1) % NAMES_CACHE_SIZE;
	if (names_cached < NAMES_CACHE_SIZE)
		names_cached++;
	snprintf(e->table, sizeof e->table, "%s", table);
	snprintf(e->index, sizeof e->index, "%s", index);
	e->names = *names;
}

static void query_answer(struct dyn_call *d);

static void describe_done(const struct aws_result *res, void *arg)
{
	struct dyn_call *d = arg;
	d->op = NULL;
	mcp_call_on_cancel(d->call, NULL, NULL);
	if (!res->ok) {
		char context[600];
		snprintf(context, sizeof context, "table '%s': DescribeTable, asked for the key names of "
		         "a cursor after a page over the result cap; lower limit to avoid it", d->table);
		aws_tool_fail(d->call, res, context);
		dyn_free(d);
		return;
	}
	struct dynamo_key_names names;
	char err[512];
	if (dynamo_key_names_parse(res->body, res->body_len, index_or_null(d), &names, err, sizeof err) != 0) {
		dyn_finish(d, NULL, err);
		return;
	}
	names_store(d->table, d->index, &names);
	query_answer(d);
}

/* Builds the result from d->page; asks DescribeTable first when the cut page needs key names
 * that neither LastEvaluatedKey nor the cache has. */
static void query_answer(struct dyn_call *d)
{
	bool need_names = false;
	char err[512] = "";
	json_t *out = dynamo_query_result(&d->page, d->table, index_or_null(d),
	                                  names_lookup(d->table, d->index), cfg.result_cap, &need_names,
	                                  err, sizeof err);
	if (!out && need_names) {
		json_t *body = json_pack("{s:s}", "TableName", d->table);
		if (!body) {
			dyn_finish(d, NULL, "out of memory");
			return;
		}
		dyn_start(d, "DescribeTable", body, describe_done);
		json_decref(body);
		return;
	}
	dyn_finish(d, out, err);
}

static void query_done(const struct aws_result *res, void *arg)
{
	struct dyn_call *d = dyn_answered(res, arg);
	if (!d)
		return;
	char err[512];
	if (dynamo_page_parse(res->body, res->body_len, &d->page, err, sizeof err) != 0) {
		dyn_finish(d, NULL, err);
		return;
	}
	query_answer(d);
}

/* limit, cursor and scan_forward into the Query body. */
static bool query_paging_args(struct mcp_call *call, json_t *args, const char *table,
                              const char *index, json_t *body)
{
	json_t *limit = json_object_get(args, "limit");
	long long n = limit ? json_integer_value(limit) : cfg.max_items;
	if (limit && (!json_is_integer(limit) || n < 1 || n > cfg.max_items)) {
		mcp_call_fail(call, "dynamo_query: limit must be from 1 to %lld (settings.dynamodb.max_items)",
		              cfg.max_items);
		return false;
	}
	json_object_set_new(body, "Limit", json_integer(n));
	json_t *cursor = json_object_get(args, "cursor");
	if (cursor) {
		char err[512];
		json_t *key = json_is_string(cursor)
			? dynamo_cursor_decode(json_string_value(cursor), table, index, err, sizeof err) : NULL;
		if (!key) {
			mcp_call_fail(call, "dynamo_query: %s", json_is_string(cursor) ? err : "cursor must be a string");
			return false;
		}
		json_object_set_new(body, "ExclusiveStartKey", key);
	}
	json_t *forward = json_object_get(args, "scan_forward");
	if (json_is_boolean(forward))
		json_object_set(body, "ScanIndexForward", forward);
	return true;
}

static void dynamo_query(struct mcp_call *call, json_t *args)
{
	const char *table, *index;
	if (!table_args(call, args, &table, &index))
		return;
	json_t *condition = json_object_get(args, "key_condition");
	if (!json_is_string(condition) || json_string_length(condition) == 0) {
		mcp_call_fail(call, "dynamo_query: key_condition must be a non-empty KeyConditionExpression");
		return;
	}
	json_t *body = body_new(call, table);
	json_t *names = NULL, *values = NULL;
	if (!body || !names_arg(call, args, &names) || !values_arg(call, args, &values)) {
		json_decref(body), json_decref(names);
		return;
	}
	json_object_set(body, "KeyConditionExpression", condition);
	if (index)
		json_object_set_new(body, "IndexName", json_string(index));
	if (names)
		json_object_set_new(body, "ExpressionAttributeNames", names);
	if (values)
		json_object_set_new(body, "ExpressionAttributeValues", values);
	if (!query_paging_args(call, args, table, index, body) ||
	    aws_tool_refuse_unlisted(call, &cfg.tables, "table", table, "dynamodb.tables") ||
	    aws_tool_refuse_unavailable(call)) {
		json_decref(body);
		return;
	}
	struct dyn_call *d = dyn_new(call, table, index);
	if (d)
		dyn_start(d, "Query", body, query_done);
	json_decref(body);
}

/* ---- the group ---- */

#define TABLE_SCHEMA "{\"type\":\"string\",\"minLength\":3,\"maxLength\":255,\"description\":\"Table name (must be allowed by settings.dynamodb).\"}"
#define NAMES_SCHEMA "{\"type\":\"object\",\"maxProperties\":64,\"additionalProperties\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255},\"description\":\"ExpressionAttributeNames: {\\\"#n\\\": \\\"name\\\"}.\"}"
#define VALUES_SCHEMA "{\"type\":\"object\",\"maxProperties\":64,\"description\":\"ExpressionAttributeValues as plain JSON: {\\\":v\\\": \\\"alice\\\"}.\"}"
#define PLAIN_NOTE "Values are plain JSON: strings, numbers, booleans, null, arrays (lists), objects (maps); {\"$binary\": base64} is binary. Sets come back as arrays; numbers beyond a double's 15 digits (or integers beyond 2^53) come back as strings holding the exact decimal."

static const struct mcp_tool tools[] = {
	{ "dynamo_get",
	  "Get one item by its key from an allowed DynamoDB table. " PLAIN_NOTE " A missing item is "
	  "not an error: item is null. An item over the result cap keeps the attributes that fit and "
	  "lists the others; read them with attributes.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"table\":" TABLE_SCHEMA ","
	  "\"key\":{\"type\":\"object\",\"minProperties\":1,\"maxProperties\":2,\"description\":\"The key attributes, e.g. {\\\"customer\\\": \\\"alice\\\", \\\"order_id\\\": \\\"o-001\\\"}.\"},"
	  "\"consistent_read\":{\"type\":\"boolean\"},"
	  "\"attributes\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":100,\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255},\"description\":\"Only these attributes (a projection).\"}},"
	  "\"required\":[\"table\",\"key\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"item\":{\"type\":[\"object\",\"null\"]},"
	  "\"notice\":{\"type\":\"string\"},"
	  "\"omitted_attributes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	  "\"omitted_count\":{\"type\":\"integer\"}},"
	  "\"required\":[\"item\"]}",
	  dynamo_get },
	{ "dynamo_put",
	  "Put (create or replace) one item in a DynamoDB table allowed for writing. " PLAIN_NOTE
	  " condition is an optional ConditionExpression such as \"attribute_not_exists(pk)\", with "
	  "names and values for its placeholders; when it is false nothing is written and the call "
	  "fails.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"table\":" TABLE_SCHEMA ","
	  "\"item\":{\"type\":\"object\",\"minProperties\":1,\"description\":\"The whole item, key attributes included.\"},"
	  "\"condition\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096},"
	  "\"names\":" NAMES_SCHEMA ","
	  "\"values\":" VALUES_SCHEMA "},"
	  "\"required\":[\"table\",\"item\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}",
	  dynamo_put },
	{ "dynamo_query",
	  "Query an allowed DynamoDB table (or one of its indexes) with a KeyConditionExpression, "
	  "e.g. key_condition \"customer = :c AND begins_with(order_id, :p)\" with values {\":c\": "
	  "\"alice\", \":p\": \"o-\"}. " PLAIN_NOTE " Pages: pass next_cursor back as cursor until it "
	  "is null.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"table\":" TABLE_SCHEMA ","
	  "\"key_condition\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096},"
	  "\"values\":" VALUES_SCHEMA ","
	  "\"names\":" NAMES_SCHEMA ","
	  "\"index\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":255},"
	  "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"description\":\"Items to evaluate (at most settings.dynamodb.max_items, its default).\"},"
	  "\"cursor\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":16384},"
	  "\"scan_forward\":{\"type\":\"boolean\",\"description\":\"Sort key order: true ascending (default), false descending.\"}},"
	  "\"required\":[\"table\",\"key_condition\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
	  "\"count\":{\"type\":\"integer\",\"minimum\":0},"
	  "\"next_cursor\":{\"type\":[\"string\",\"null\"]},"
	  "\"notice\":{\"type\":\"string\"},"
	  "\"omitted_attributes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	  "\"omitted_count\":{\"type\":\"integer\"}},"
	  "\"required\":[\"items\",\"count\",\"next_cursor\"]}",
	  dynamo_query },
};

static void dynamo_fini(void)
{
	allowlist_free(&cfg.tables);
	allowlist_free(&cfg.write_tables);
}

/* settings.dynamodb, its keys checked by settings_section. */
static int read_section(json_t *s, char *err, size_t errlen)
{
	if (allowlist_load(&cfg.tables, s, "tables", err, errlen) != 0 ||
	    allowlist_load(&cfg.write_tables, s, "write_tables", err, errlen) != 0 ||
	    settings_int(s, "max_items", 1, 1000, 100, &cfg.max_items, err, errlen) != 0)
		return -1;
	return 0;
}

static int dynamo_init(json_t *settings, const struct group_limits *limits, char *err, size_t errlen)
{
	static const char *const known[] = { "tables", "write_tables", "max_items", NULL };
	cfg.result_cap = limits->result_cap;
	if (settings_section(settings, "dynamodb", known, read_section, err, errlen) == 0)
		return 0;
	dynamo_fini();
	return -1;
}

static const char *const keys[] = { "dynamodb", NULL };
const struct tool_group dynamo_group = { tools, sizeof tools / sizeof tools[0], keys, dynamo_init,
                                         dynamo_fini };
