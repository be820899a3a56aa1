/* The 2026-07-28 revision: no session, the protocol fields travel in every request's _meta.
 * Validates them, answers server/discover, adds the fields results must carry (resultType,
 * caching hints, serverInfo), and runs subscriptions/listen streams. */
#include "router.h"

#include <string.h>

#include "datapath.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp_versions.h"

#define LISTEN_MAX_URIS 256

static json_t *supported_versions(void)
{
	json_t *list = json_array();
	for (size_t i = 0; list && mcp_versions[i]; i++)
		json_array_append_new(list, json_string(mcp_versions[i]));
	return list;
}

int stateless_accept(struct request_ctx *ctx, const char *method, const json_t *id,
                     const json_t *params, const json_t *frame_meta)
{
	(void)method;
	struct router *r = ctx->r;
	const json_t *meta = json_object_get(params, "_meta");
	const json_t *pv = json_object_get(meta, META_PROTOCOL_VERSION);
	const json_t *caps = json_object_get(meta, META_CLIENT_CAPS);
	char missing[200] = "";
	if (!json_is_string(pv))
		strcat(missing, META_PROTOCOL_VERSION);
	if (!json_is_object(caps))
		strcat(strcat(missing, missing[0] ? ", " : ""), META_CLIENT_CAPS);
	if (missing[0]) {
		char text[300];
		snprintf(text, sizeof text, "Invalid params: missing _meta keys: %s", missing);
		stream_fail(r, ctx->st, id, 400, RPC_INVALID_PARAMS, text, NULL);
		return -1;
	}
	const char *version = json_string_value(pv);
	const char *header = json_string_value(json_object_get(frame_meta, DP_PROTOCOL));
	if (header && header[0] && strcmp(header, version) != 0) {
		stream_fail(r, ctx->st, id, 400, RPC_HEADER_MISMATCH,
		            "MCP-Protocol-Version header does not match _meta "
		            "io.modelcontextprotocol/protocolVersion", NULL);
		return -1;
	}
	if (strcmp(version, MCP_VERSION_STATELESS) != 0) {
		stream_fail(r, ctx->st, id, 400, RPC_UNSUPPORTED_VERSION, "Unsupported protocol version",
		            json_pack("{s:o, s:s}", "supported", supported_versions(), "requested", version));
		return -1;
	}
	const json_t *level = json_object_get(meta, META_LOG_LEVEL);
	ctx->log_level = -1;
	if (level) {
		ctx->log_level = mcp_level_from_name(json_string_value(level));
		if (ctx->log_level < 0) {
			stream_fail(r, ctx->st, id, 400, RPC_INVALID_PARAMS,
			            "Invalid params: _meta io.modelcontextprotocol/logLevel must be one of "
			            "debug, info, notice, warning, error, critical, alert, emergency", NULL);
			return -1;
		}
	}
	ctx->stateless = true;
	ctx->protocol = version;
	ctx->client_caps = (json_t *)caps;
	return 0;
}

int stateless_http_status(int code)
{
	switch (code) {
	case RPC_METHOD_NOT_FOUND: return 404;
	case RPC_HEADER_MISMATCH:
	case RPC_MISSING_CLIENT_CAPABILITY:
	case RPC_UNSUPPORTED_VERSION: return 400;
	default: return 0;
	}
}

static bool cacheable(const char *method)
{
	static const char *const methods[] = {
		"tools/list", "prompts/list", "resources/list", "resources/templates/list",
		"resources/read", "server/discover", NULL,
	};
	for (size_t i = 0; methods[i]; i++)
		if (strcmp(methods[i], method) == 0)
			return true;
	return false;
}

void stateless_decorate(json_t *result, const char *method)
{
	if (!json_object_get(result, "resultType"))
		json_object_set_new(result, "resultType", json_string("complete"));
	if (cacheable(method)) {
		/* Lists are filtered per caller and change as upstreams come and go. */
		if (!json_object_get(result, "ttlMs"))
			json_object_set_new(result, "ttlMs", json_integer(0));
		if (!json_object_get(result, "cacheScope"))
			json_object_set_new(result, "cacheScope", json_string("private"));
	}
	json_t *meta = json_object_get(result, "_meta");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(result, "_meta", meta);
	}
	if (meta && !json_object_get(meta, META_SERVER_INFO))
		json_object_set_new(meta, META_SERVER_INFO, router_server_info());
}

json_t *stateless_discover(struct router *r)
{
	json_t *result = json_pack("{s:o, s:o}", "supportedVersions", supported_versions(),
	                           "capabilities", router_capabilities(r));
	json_t *instructions = router_instructions(r);
	if (result && instructions)
		json_object_set_new(result, "instructions", instructions);
	else
		json_decref(instructions);
	return result;
}

/* ---- subscriptions/listen ---- */

void listen_open(struct request_ctx *ctx, const json_t *id, const json_t *params)
{
	struct router *r = ctx->r;
	struct stream *st = ctx->st;
	const json_t *filter = json_object_get(params, "notifications");
	if (!json_is_object(filter) || st->kind != STREAM_POST || !st->single) {
		reply_error(ctx, id, RPC_INVALID_PARAMS,
		            "params.notifications is required: the notification types this stream "
		            "should carry", NULL);
		return;
	}
	json_t *caps = router_capabilities(r);
	json_t *accepted = json_object();
	json_t *uris = json_array();
	if (!accepted || !uris) {
		json_decref(caps);
		json_decref(accepted);
		json_decref(uris);
		reply_error(ctx, id, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	static const struct { const char *key, *cap; } flags[] = {
		{ "toolsListChanged", "tools" },
		{ "promptsListChanged", "prompts" },
		{ "resourcesListChanged", "resources" },
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (json_is_true(json_object_get(filter, flags[i].key)) && json_object_get(caps, flags[i].cap))
			json_object_set_new(accepted, flags[i].key, json_true());
	}
	const json_t *wanted = json_object_get(filter, "resourceSubscriptions");
	json_t *granted = json_array();
	size_t i;
	const json_t *u;
	json_array_foreach(wanted, i, u) {
		size_t up;
		if (!json_is_string(u) || json_array_size(granted) >= LISTEN_MAX_URIS)
			continue;
		/* A per_session server's subscriptions belong to a session's own process, and a
		 * listen stream has no session: not granted. */
		if (!catalog_route_uri(&r->catalog, json_string_value(u), &up) || up >= r->n_ups ||
		    !upstream_has_cap(r->ups[up], "resources", "subscribe") || r->ups[up]->per_session)
			continue;
		upstream_subscribe(r->ups[up], json_string_value(u), true);
		json_array_append_new(uris, json_pack("[O, s]", u, r->ups[up]->name));
		json_array_append(granted, (json_t *)u);
	}
	if (json_array_size(granted))
		json_object_set_new(accepted, "resourceSubscriptions", granted);
	else
		json_decref(granted);
	json_decref(caps);

	st->kind = STREAM_LISTEN;
	st->listen = accepted;
	st->listen_uris = uris;
	random_hex(st->subscription_id, 8);
	json_t *ack = jrpc_notification("notifications/subscriptions/acknowledged",
		json_pack("{s:O, s:{s:s}}", "notifications", accepted, "_meta", META_SUBSCRIPTION_ID,
		          st->subscription_id));
	if (ack)
		stream_send(r, st, ack, false, NULL);
	json_decref(ack);
	log_info("listen_opened", LOG_STR("rid", st->rid), LOG_STR("subscription", st->subscription_id));
}

void listen_close(struct router *r, struct stream *st)
{
	size_t i;
	json_t *pair;
	json_array_foreach(st->listen_uris, i, pair) {
		struct upstream *up = upstream_by_name(r, json_string_value(json_array_get(pair, 1)));
		if (up)
			upstream_subscribe(up, json_string_value(json_array_get(pair, 0)), false);
	}
	json_array_clear(st->listen_uris);
}

bool listen_wants(const struct stream *st, const char *method, const char *uri)
{
	const json_t *f = st->listen;
	if (strcmp(method, "notifications/tools/list_changed") == 0)
		return json_is_true(json_object_get(f, "toolsListChanged"));
	if (strcmp(method, "notifications/prompts/list_changed") == 0)
		return json_is_true(json_object_get(f, "promptsListChanged"));
	if (strcmp(method, "notifications/resources/list_changed") == 0)
		return json_is_true(json_object_get(f, "resourcesListChanged"));
	if (strcmp(method, "notifications/resources/updated") == 0 && uri) {
		size_t i;
		json_t *u;
		json_array_foreach(json_object_get(f, "resourceSubscriptions"), i, u)
			if (json_is_string(u) && strcmp(json_string_value(u), uri) == 0)
				return true;
	}
	return false;
}
