/* JSON-RPC 2.0 message builders and the MCP log levels (see jsonrpc.h). */
#include "jsonrpc.h"

#include <string.h>

static const char *const levels[MCP_LEVEL_COUNT] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
};

static json_t *id_copy(const json_t *id)
{
	return id ? json_deep_copy(id) : json_null();
}

json_t *jrpc_result(const json_t *id, json_t *result)
{
	if (!result)
		return NULL;
	return json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0", "id", id_copy(id), "result", result);
}

json_t *jrpc_error(const json_t *id, int code, const char *message, json_t *data)
{
	json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);
	if (!err) {
		json_decref(data);
		return NULL;
	}
	if (data)
		json_object_set_new(err, "data", data);
	return json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0", "id", id_copy(id), "error", err);
}

json_t *jrpc_notification(const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (msg && params)
		json_object_set_new(msg, "params", params);
	else
		json_decref(params);
	return msg;
}

json_t *jrpc_request(json_int_t id, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
	if (msg && params)
		json_object_set_new(msg, "params", params);
	else
		json_decref(params);
	return msg;
}

int jrpc_id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

enum jrpc_kind jrpc_classify(const json_t *msg)
{
	if (!json_is_object(msg))
		return JRPC_INVALID;
	const json_t *method = json_object_get(msg, "method");
	const json_t *id = json_object_get(msg, "id");
	const json_t *params = json_object_get(msg, "params");
	if (method) {
		if (!json_is_string(method) || (params && !json_is_object(params) && !json_is_array(params)))
			return JRPC_INVALID;
		if (!id)
			return JRPC_NOTIFICATION;
		return jrpc_id_valid(id) ? JRPC_REQUEST : JRPC_INVALID;
	}
	if (id && (json_object_get(msg, "result") || json_object_get(msg, "error")))
		return JRPC_RESPONSE;
	return JRPC_INVALID;
}

int mcp_level_from_name(const char *name)
{
	for (int i = 0; name && i < MCP_LEVEL_COUNT; i++)
		if (strcmp(levels[i], name) == 0)
			return i;
	return -1;
}

const char *mcp_level_name(int level)
{
	return level >= 0 && level < MCP_LEVEL_COUNT ? levels[level] : "debug";
}
