/* What clients ask, as it arrives from auth: the exchanges (POST, GET, DELETE, HTTP+SSE),
 * the JSON-RPC messages in them, and one handler per MCP method. Requests the router can
 * answer itself (initialize, ping, lists, discover, log levels) are answered here; the rest
 * are routed to the upstream that owns the tool, prompt or resource (calls.c). */
#include "router.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "channel.h"
#include "datapath.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp_versions.h"
#include "names.h"
#include "schema_check.h"

#define BATCH_MAX 100

/* ---- answers ---- */

void reply_result(struct request_ctx *ctx, const json_t *id, const char *method, json_t *result)
{
	if (result && ctx->stateless)
		stateless_decorate(result, method);
	json_t *msg = jrpc_result(id, result);
	if (!msg) {
		stream_fail(ctx->r, ctx->st, id, 0, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	stream_send(ctx->r, ctx->st, msg, true, NULL);
	json_decref(msg);
}

void reply_error(struct request_ctx *ctx, const json_t *id, int code, const char *message,
                 json_t *data)
{
	/* 2026-07-28 puts some JSON-RPC errors on the HTTP status line too. */
	int status = ctx->stateless ? stateless_http_status(code) : 0;
	stream_fail(ctx->r, ctx->st, id, status, code, message, data);
}

static void reply_errorf(struct request_ctx *ctx, const json_t *id, int code, json_t *data,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_errorf(struct request_ctx *ctx, const json_t *id, int code, json_t *data,
                         const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	reply_error(ctx, id, code, text, data);
}

/* ---- what the router says about itself ---- */

json_t *router_server_info(void)
{
	return json_pack("{s:s, s:s}", "name", ROUTER_SERVER_NAME, "version", MCPGATE_VERSION);
}

json_t *router_capabilities(struct router *r)
{
	bool prompts = false, resources = false, subscribe = false, logging = false, completions = false;
	for (size_t i = 0; i < r->n_ups; i++) {
		const struct upstream *up = r->ups[i];
		prompts |= upstream_has_cap(up, "prompts", NULL);
		resources |= upstream_has_cap(up, "resources", NULL);
		subscribe |= upstream_has_cap(up, "resources", "subscribe");
		logging |= upstream_has_cap(up, "logging", NULL);
		completions |= upstream_has_cap(up, "completions", NULL);
	}
	/* Tools are always offered: the set changes as upstreams come and go, and the router
	 * announces every change. */
	json_t *caps = json_pack("{s:{s:b}}", "tools", "listChanged", 1);
	if (!caps)
		return json_object();
	if (prompts)
		json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 1));
	if (resources)
		json_object_set_new(caps, "resources", json_pack("{s:b, s:b}", "listChanged", 1,
		                                                 "subscribe", subscribe));
	if (logging)
		json_object_set_new(caps, "logging", json_object());
	if (completions)
		json_object_set_new(caps, "completions", json_object());
	return caps;
}

json_t *router_instructions(struct router *r)
{
	json_t *text = NULL;
	for (size_t i = 0; i < r->n_ups; i++) {
		const struct upstream *up = r->ups[i];
		if (!json_is_string(up->instructions))
			continue;
		char *line = NULL;
		if (asprintf(&line, "%s%s%s%s: %s", text ? "\n\n" : "",
		             up->ns[0] ? "Tools named " : "Tools of ", up->ns[0] ? up->ns : up->name,
		             up->ns[0] ? NAME_SEPARATOR "*" : "", json_string_value(up->instructions)) < 0)
			continue;
		if (!text)
			text = json_string(line);
		else {
			char *joined = NULL;
			if (asprintf(&joined, "%s%s", json_string_value(text), line) >= 0) {
				json_string_set(text, joined);
				free(joined);
			}
		}
		free(line);
	}
	return text;
}

json_t *router_upstream_status(struct router *r, bool *all_ready)
{
	json_t *status = json_object();
	*all_ready = true;
	for (size_t i = 0; status && i < r->n_ups; i++) {
		const struct upstream *up = r->ups[i];
		char text[320];
		if (up->state == UPSTREAM_DOWN)
			snprintf(text, sizeof text, "down: %s", up->last_error);
		else
			snprintf(text, sizeof text, "%s", upstream_state_name(up->state));
		*all_ready &= up->state == UPSTREAM_READY;
		json_object_set_new(status, up->name, json_string(text));
	}
	return status;
}

/* The principal carries the globs auth allows it per kind (datapath.h); lists show only
 * those items, so a list never offers what a call would refuse. No globs: no filter. */
struct list_filter {
	void *principal;
	const char *patterns_key;
};

static bool principal_may(const char *name, void *arg)
{
	const struct list_filter *f = arg;
	const json_t *patterns = json_object_get(f->principal, f->patterns_key);
	if (!json_is_array(patterns))
		return true;
	size_t i;
	const json_t *p;
	json_array_foreach(patterns, i, p) {
		if (json_is_string(p) && name_pattern_match(json_string_value(p), name))
			return true;
	}
	return false;
}

bool principal_may_use_tool(const char *name, void *principal)
{
	struct list_filter f = { principal, DP_PRINCIPAL_TOOLS };
	return principal_may(name, &f);
}

static const char *const list_patterns_key[LIST_KINDS] = {
	[LIST_TOOLS] = DP_PRINCIPAL_TOOLS, [LIST_PROMPTS] = DP_PRINCIPAL_PROMPTS,
	[LIST_RESOURCES] = DP_PRINCIPAL_RESOURCES, [LIST_TEMPLATES] = DP_PRINCIPAL_RESOURCES,
};

/* ---- handlers ---- */

typedef void (*handler_fn)(struct request_ctx *ctx, const json_t *id, json_t *params);

static const char *negotiate(const char *asked)
{
	if (asked && mcp_version_supported(asked, strlen(asked)) &&
	    strcmp(asked, MCP_VERSION_STATELESS) != 0)
		return asked;
	return MCP_VERSION_LATEST_SESSION;
}

static void on_initialize(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	struct router *r = ctx->r;
	const char *pv = negotiate(json_string_value(json_object_get(params, "protocolVersion")));
	json_t *caps = json_object_get(params, "capabilities");
	json_t *info = json_object_get(params, "clientInfo");
	json_t *result = json_pack("{s:s, s:o, s:o}", "protocolVersion", pv, "capabilities",
	                           router_capabilities(r), "serverInfo", router_server_info());
	json_t *instructions = router_instructions(r);
	if (result && instructions)
		json_object_set_new(result, "instructions", instructions);
	else
		json_decref(instructions);
	if (ctx->sess && ctx->sess->legacy) {
		/* HTTP+SSE: the session came with the stream; initialize fills it in. */
		struct session *s = ctx->sess;
		snprintf(s->protocol, sizeof s->protocol, "%s", pv);
		json_decref(s->caps);
		s->caps = json_is_object(caps) ? json_deep_copy(caps) : json_object();
		json_decref(s->client_info);
		s->client_info = json_is_object(info) ? json_deep_copy(info) : json_object();
		reply_result(ctx, id, "initialize", result);
		return;
	}
	struct session *s = session_create(r, ctx->principal_id, pv, caps, info, false);
	json_t *meta = s ? json_pack("{s:o}", DP_NEW_SESSION, session_object(s)) : NULL;
	json_t *msg = meta ? jrpc_result(id, result) : NULL;
	if (!msg) {
		json_decref(meta);
		json_decref(result);
		reply_error(ctx, id, RPC_INTERNAL_ERROR, "could not create a session (out of memory)", NULL);
		return;
	}
	log_info("session_created", LOG_STR("rid", ctx->st->rid), LOG_STR("sid", s->sid),
	         LOG_STR("protocol", pv), LOG_STR("principal", ctx->principal_id),
	         LOG_STR("client", json_string_value(json_object_get(info, "name"))));
	stream_send(r, ctx->st, msg, true, meta);
	json_decref(msg);
	json_decref(meta);
}

static void on_ping(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	(void)params;
	reply_result(ctx, id, "ping", json_object());
}

static void on_discover(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	(void)params;
	reply_result(ctx, id, "server/discover", stateless_discover(ctx->r));
}

static const char *const list_caps[LIST_KINDS] = { "tools", "prompts", "resources", "resources" };

static bool offered(struct request_ctx *ctx, const char *cap)
{
	json_t *caps = router_capabilities(ctx->r);
	bool yes = json_object_get(caps, cap) != NULL;
	json_decref(caps);
	return yes;
}

static void on_list(struct request_ctx *ctx, const json_t *id, json_t *params, enum list_kind kind)
{
	const char *method = catalog_list_method(kind);
	if (!offered(ctx, list_caps[kind])) {
		reply_errorf(ctx, id, RPC_METHOD_NOT_FOUND, NULL,
		             "Method not found: %s (no upstream offers %s)", method, list_caps[kind]);
		return;
	}
	const json_t *cursor = json_object_get(params, "cursor");
	if (cursor && !json_is_string(cursor)) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, "params.cursor must be a string", NULL);
		return;
	}
	const char *err = NULL;
	struct list_filter filter = { ctx->principal, list_patterns_key[kind] };
	json_t *page = catalog_page(&ctx->r->catalog, kind, json_string_value(cursor),
	                            CATALOG_PAGE_SIZE, principal_may, &filter, &err);
	if (!page) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, err, NULL);
		return;
	}
	bool all_ready;
	json_t *status = router_upstream_status(ctx->r, &all_ready);
	if (!all_ready)
		/* What is known is listed; the client can see which upstream is missing and why. */
		json_object_set_new(page, "_meta", json_pack("{s:o}", META_UPSTREAMS, status));
	else
		json_decref(status);
	reply_result(ctx, id, method, page);
}

static void on_tools_list(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	on_list(ctx, id, params, LIST_TOOLS);
}

static void on_prompts_list(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	on_list(ctx, id, params, LIST_PROMPTS);
}

static void on_resources_list(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	on_list(ctx, id, params, LIST_RESOURCES);
}

static void on_templates_list(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	on_list(ctx, id, params, LIST_TEMPLATES);
}

struct upstream *router_route_target(struct router *r, const char *method, const json_t *params)
{
	struct catalog_route route;
	size_t up = SIZE_MAX;
	const char *name = json_string_value(json_object_get(params, "name"));
	const char *uri = json_string_value(json_object_get(params, "uri"));
	if (strcmp(method, "tools/call") == 0 && name && catalog_find(&r->catalog, LIST_TOOLS, name, &route))
		up = route.upstream;
	else if (strcmp(method, "prompts/get") == 0 && name &&
	         catalog_find(&r->catalog, LIST_PROMPTS, name, &route))
		up = route.upstream;
	else if (strcmp(method, "resources/read") == 0 && uri)
		catalog_route_uri(&r->catalog, uri, &up);
	return up < r->n_ups ? r->ups[up] : NULL;
}

/* An exposed name back to its upstream; answers the client itself when there is none. */
static struct upstream *route_name(struct request_ctx *ctx, const json_t *id, json_t *params,
                                   enum list_kind kind, struct catalog_route *route)
{
	const char *what = kind == LIST_TOOLS ? "tool" : "prompt";
	const char *name = json_string_value(json_object_get(params, "name"));
	if (!name) {
		reply_errorf(ctx, id, RPC_INVALID_PARAMS, NULL, "params.name must be the %s's name", what);
		return NULL;
	}
	if (!catalog_find(&ctx->r->catalog, kind, name, route) || route->upstream >= ctx->r->n_ups ||
	    (kind == LIST_TOOLS && !principal_may_use_tool(name, ctx->principal))) {
		reply_errorf(ctx, id, RPC_INVALID_PARAMS, json_pack("{s:s}", "name", name),
		             "Unknown %s: '%s'. Call %s/list to see the %ss available.", what, name,
		             kind == LIST_TOOLS ? "tools" : "prompts", what);
		return NULL;
	}
	return ctx->r->ups[route->upstream];
}

static void forward_named(struct request_ctx *ctx, const json_t *id, json_t *params,
                          const char *method, struct upstream *up, const struct catalog_route *route)
{
	const char *exposed = json_string_value(json_object_get(params, "name"));
	char target[NAME_MAX_LEN + 1];
	snprintf(target, sizeof target, "%s", exposed);
	json_t *fwd = json_deep_copy(params);
	if (!fwd) {
		reply_error(ctx, id, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	json_object_set_new(fwd, "name", json_string(route->original));
	call_start(ctx, id, up, method, target, fwd);
}

static void on_tools_call(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	struct catalog_route route;
	struct upstream *up = route_name(ctx, id, params, LIST_TOOLS, &route);
	if (!up)
		return;
	const json_t *args = json_object_get(params, "arguments");
	if (args && !json_is_object(args)) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, "params.arguments must be an object", NULL);
		return;
	}
	json_t *empty = args ? NULL : json_object();
	char why[400];
	if (!schema_check(json_object_get(route.item, "inputSchema"), args ? args : empty, why, sizeof why)) {
		/* A tool error, not a protocol error: the model sees it and can correct the call. */
		char text[600];
		snprintf(text, sizeof text, "Invalid arguments for tool '%s': %s",
		         json_string_value(json_object_get(route.item, "name")), why);
		json_decref(empty);
		log_info("tool_arguments_rejected", LOG_STR("rid", ctx->st->rid), LOG_STR("reason", text));
		reply_result(ctx, id, "tools/call",
		             json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
		                       "isError", 1));
		return;
	}
	json_decref(empty);
	forward_named(ctx, id, params, "tools/call", up, &route);
}

static void on_prompts_get(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	struct catalog_route route;
	struct upstream *up = route_name(ctx, id, params, LIST_PROMPTS, &route);
	if (up)
		forward_named(ctx, id, params, "prompts/get", up, &route);
}

/* The upstream serving a URI; with only one upstream offering resources, it gets the URIs
 * nobody listed (servers need not list every resource they can read). */
static struct upstream *route_uri(struct request_ctx *ctx, const json_t *id, const char *uri)
{
	struct router *r = ctx->r;
	size_t up;
	if (catalog_route_uri(&r->catalog, uri, &up) && up < r->n_ups)
		return r->ups[up];
	struct upstream *only = NULL;
	for (size_t i = 0; i < r->n_ups; i++) {
		if (!upstream_has_cap(r->ups[i], "resources", NULL))
			continue;
		if (only) {
			only = NULL;
			break;
		}
		only = r->ups[i];
	}
	if (!only)
		reply_error(ctx, id, RPC_INVALID_PARAMS, "Resource not found", json_pack("{s:s}", "uri", uri));
	return only;
}

static void on_resources_read(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	const char *uri = json_string_value(json_object_get(params, "uri"));
	if (!uri) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, "params.uri must be the resource's URI", NULL);
		return;
	}
	struct upstream *up = route_uri(ctx, id, uri);
	if (up)
		call_start(ctx, id, up, "resources/read", uri, json_deep_copy(params));
}

static void on_subscription(struct request_ctx *ctx, const json_t *id, json_t *params, bool on)
{
	const char *uri = json_string_value(json_object_get(params, "uri"));
	if (!uri) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, "params.uri must be the resource's URI", NULL);
		return;
	}
	struct upstream *up = route_uri(ctx, id, uri);
	if (!up)
		return;
	if (!upstream_has_cap(up, "resources", "subscribe")) {
		reply_errorf(ctx, id, RPC_METHOD_NOT_FOUND, NULL,
		             "the server behind '%s' does not support resource subscriptions", uri);
		return;
	}
	struct session *s = ctx->sess;
	bool had = json_object_get(s->subscriptions, uri) != NULL;
	if (up->per_session && on != had) {
		/* The session's own process holds its subscriptions; asked for now if need be,
		 * before the session's list changes (a new process is told that list). */
		const char *why = "unknown";
		struct upstream *own = persession_get(ctx->r, up, s->sid, on, &why);
		if (on && !own) {
			reply_errorf(ctx, id, RPC_INTERNAL_ERROR, json_pack("{s:s}", "upstream", up->name),
			             "upstream '%s' could not get a process for this session: %s", up->name, why);
			return;
		}
		if (on)
			json_object_set_new(s->subscriptions, uri, json_true());
		else
			json_object_del(s->subscriptions, uri);
		if (own)
			upstream_subscribe(own, uri, on);
		reply_result(ctx, id, on ? "resources/subscribe" : "resources/unsubscribe", json_object());
		return;
	}
	/* The upstream is told once per URI, whatever the number of sessions (upstream.c). */
	if (on && !had) {
		json_object_set_new(s->subscriptions, uri, json_true());
		upstream_subscribe(up, uri, true);
	} else if (!on && had) {
		json_object_del(s->subscriptions, uri);
		upstream_subscribe(up, uri, false);
	}
	reply_result(ctx, id, on ? "resources/subscribe" : "resources/unsubscribe", json_object());
}

static void on_subscribe(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	on_subscription(ctx, id, params, true);
}

static void on_unsubscribe(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	on_subscription(ctx, id, params, false);
}

static void on_complete(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	struct router *r = ctx->r;
	json_t *ref = json_object_get(params, "ref");
	const char *type = json_string_value(json_object_get(ref, "type"));
	if (type && strcmp(type, "ref/prompt") == 0) {
		struct catalog_route route;
		struct upstream *up = route_name(ctx, id, ref, LIST_PROMPTS, &route);
		if (!up)
			return;
		json_t *fwd = json_deep_copy(params);
		json_object_set_new(json_object_get(fwd, "ref"), "name", json_string(route.original));
		call_start(ctx, id, up, "completion/complete", json_string_value(json_object_get(ref, "name")), fwd);
		return;
	}
	if (type && strcmp(type, "ref/resource") == 0) {
		const char *uri = json_string_value(json_object_get(ref, "uri"));
		size_t up;
		if (!uri) {
			reply_error(ctx, id, RPC_INVALID_PARAMS, "params.ref.uri must be a string", NULL);
			return;
		}
		if (catalog_route_template(&r->catalog, uri, &up) && up < r->n_ups) {
			call_start(ctx, id, r->ups[up], "completion/complete", uri, json_deep_copy(params));
			return;
		}
		struct upstream *u = route_uri(ctx, id, uri);
		if (u)
			call_start(ctx, id, u, "completion/complete", uri, json_deep_copy(params));
		return;
	}
	reply_error(ctx, id, RPC_INVALID_PARAMS,
	            "params.ref must be {\"type\":\"ref/prompt\",\"name\":...} or "
	            "{\"type\":\"ref/resource\",\"uri\":...}", NULL);
}

static void on_set_level(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	int level = mcp_level_from_name(json_string_value(json_object_get(params, "level")));
	if (level < 0) {
		reply_error(ctx, id, RPC_INVALID_PARAMS,
		            "params.level must be one of debug, info, notice, warning, error, critical, "
		            "alert, emergency", NULL);
		return;
	}
	ctx->sess->log_level = level;
	/* Upstreams send at the most verbose level any session wants; each session is filtered. */
	for (size_t i = 0; i < ctx->r->n_ups; i++)
		upstream_want_log_level(ctx->r->ups[i], level);
	persession_log_level(ctx->r, ctx->sess->sid, level);
	reply_result(ctx, id, "logging/setLevel", json_object());
}

static void on_listen(struct request_ctx *ctx, const json_t *id, json_t *params)
{
	listen_open(ctx, id, params);
}

enum method_flags {
	M_SESSION = 1,   /* session eras only (removed in 2026-07-28) */
	M_STATELESS = 2, /* 2026-07-28 only */
	M_NO_SESSION = 4, /* may come before a session exists */
};

static const struct method {
	const char *name;
	handler_fn fn;
	unsigned flags;
} methods[] = {
	{ "initialize", on_initialize, M_SESSION | M_NO_SESSION },
	{ "ping", on_ping, M_SESSION },
	{ "server/discover", on_discover, M_NO_SESSION },
	{ "tools/list", on_tools_list, 0 },
	{ "tools/call", on_tools_call, 0 },
	{ "prompts/list", on_prompts_list, 0 },
	{ "prompts/get", on_prompts_get, 0 },
	{ "resources/list", on_resources_list, 0 },
	{ "resources/templates/list", on_templates_list, 0 },
	{ "resources/read", on_resources_read, 0 },
	{ "resources/subscribe", on_subscribe, M_SESSION },
	{ "resources/unsubscribe", on_unsubscribe, M_SESSION },
	{ "completion/complete", on_complete, 0 },
	{ "logging/setLevel", on_set_level, M_SESSION },
	{ "subscriptions/listen", on_listen, M_STATELESS },
};

static const struct method *find_method(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static bool may_input_required(const char *method)
{
	return strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
	       strcmp(method, "resources/read") == 0;
}

static void on_request_message(struct request_ctx *ctx, json_t *msg, const json_t *frame_meta)
{
	const char *name = json_string_value(json_object_get(msg, "method"));
	const json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");
	if (params && !json_is_object(params)) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, "params must be an object", NULL);
		return;
	}
	const struct method *m = find_method(name);
	if (ctx->stateless) {
		if (!m || (m->flags & M_SESSION)) {
			stream_fail(ctx->r, ctx->st, id, 404, RPC_METHOD_NOT_FOUND,
			            m ? "Method not found: removed in protocol version 2026-07-28"
			              : "Method not found", json_pack("{s:s}", "method", name));
			return;
		}
		if (stateless_accept(ctx, name, id, params, frame_meta) != 0)
			return;
		if (may_input_required(name) && mrtr_resume(ctx, id, name, params))
			return;
	} else {
		if (!m || (m->flags & M_STATELESS)) {
			reply_errorf(ctx, id, RPC_METHOD_NOT_FOUND, json_pack("{s:s}", "method", name),
			             "Method not found: %s", name);
			return;
		}
		if (!ctx->sess && !(m->flags & M_NO_SESSION)) {
			stream_fail(ctx->r, ctx->st, id, 400, RPC_INVALID_REQUEST,
			            "Bad Request: no session; send initialize first and then the "
			            "Mcp-Session-Id it returns", NULL);
			return;
		}
	}
	json_t *empty = params ? NULL : json_object();
	m->fn(ctx, id, params ? params : empty);
	json_decref(empty);
}

static void on_notification_message(struct request_ctx *ctx, json_t *msg)
{
	const char *name = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");
	if (strcmp(name, "notifications/cancelled") == 0) {
		const json_t *request_id = json_object_get(params, "requestId");
		if (request_id)
			calls_client_cancelled(ctx, request_id,
			                       json_string_value(json_object_get(params, "reason")));
		return;
	}
	/* initialized, roots/list_changed, progress for a relayed request: nothing to do here
	 * (roots are asked for during calls, so a change reaches the next call anyway). */
	log_debug("client_notification", LOG_STR("rid", ctx->st->rid), LOG_STR("method", name));
}

/* ---- exchanges ---- */

static void refuse(struct router *r, uint32_t wire, int status, int code, const char *text,
                   const json_t *id)
{
	json_t *meta = json_pack("{s:i, s:s}", DP_STATUS, status, DP_REASON, text);
	if (meta && status == 503)
		json_object_set_new(meta, DP_HEADERS, json_pack("{s:s}", "Retry-After", "1"));
	json_t *body = jrpc_error(id, code, text, NULL);
	router_send(r, FRAME_ERROR, FRAME_FLAG_FINAL, wire, meta, body);
	json_decref(meta);
	json_decref(body);
}

struct exchange {
	struct router *r;
	const struct frame *f;
	json_t *meta;
	json_t *principal;
	const char *principal_id;
	struct session *sess;
	bool stateless;
	const char *rid;
};

/* The session a request names, if any; false (after refusing) when it names a bad one. */
static bool open_session(struct exchange *x)
{
	json_t *obj = json_object_get(x->meta, DP_SESSION);
	if (!obj)
		return true;
	const char *why = NULL;
	x->sess = session_open(x->r, obj, x->principal_id, &why);
	if (x->sess)
		return true;
	log_info("session_refused", LOG_STR("rid", x->rid), LOG_STR("reason", why));
	char text[200];
	snprintf(text, sizeof text, "session not found (%s): start a new session with initialize", why);
	refuse(x->r, x->f->stream_id, 404, -32001, text, NULL);
	return false;
}

static void on_post(struct exchange *x, enum stream_kind kind)
{
	struct router *r = x->r;
	json_error_t jerr;
	json_t *body = json_loadb((const char *)x->f->body, x->f->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		refuse(r, x->f->stream_id, 400, RPC_PARSE_ERROR, "Parse error: the body is not JSON", NULL);
		return;
	}
	bool batch = json_is_array(body);
	size_t n = batch ? json_array_size(body) : 1;
	if (n == 0 || n > BATCH_MAX) {
		refuse(r, x->f->stream_id, 400, RPC_INVALID_REQUEST,
		       n ? "Invalid Request: batch too large" : "Invalid Request: empty batch", NULL);
		json_decref(body);
		return;
	}
	if (kind == STREAM_SSE_POST && !x->sess) {
		refuse(r, x->f->stream_id, 404, -32001, "session not found: open /sse again", NULL);
		json_decref(body);
		return;
	}
	struct stream *st = stream_open(r, x->f->stream_id, kind);
	if (!st) {
		refuse(r, x->f->stream_id, 503, RPC_INTERNAL_ERROR, "router out of memory", NULL);
		json_decref(body);
		return;
	}
	st->stateless = x->stateless;
	st->single = !batch;
	snprintf(st->rid, sizeof st->rid, "%s", x->rid);
	if (x->sess)
		snprintf(st->sid, sizeof st->sid, "%s", x->sess->sid);
	if (kind == STREAM_SSE_POST) /* HTTP+SSE: the POST is accepted now; answers go to the stream */
		router_send(r, FRAME_RESPONSE, FRAME_FLAG_FINAL, x->f->stream_id, NULL, NULL);

	/* Requests go last, so the stream (freed with its final answer) outlives the others. */
	unsigned owed = 0;
	for (size_t i = 0; i < n; i++) {
		enum jrpc_kind k = jrpc_classify(batch ? json_array_get(body, i) : body);
		owed += k == JRPC_REQUEST || k == JRPC_INVALID;
	}
	st->owed = owed;
	uint64_t key = st->key;
	struct request_ctx base = {
		.r = r, .st = st, .principal = x->principal, .principal_id = x->principal_id,
		.sess = x->sess, .protocol = x->sess ? x->sess->protocol : "", .log_level = -1,
		.stateless = x->stateless,
	};
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			json_t *msg = batch ? json_array_get(body, i) : body;
			enum jrpc_kind k = jrpc_classify(msg);
			bool request = k == JRPC_REQUEST || k == JRPC_INVALID;
			if ((pass == 0) == request)
				continue;
			struct request_ctx ctx = base;
			ctx.st = stream_find(r, key);
			if (!ctx.st)
				break;
			if (k == JRPC_REQUEST)
				on_request_message(&ctx, msg, x->meta);
			else if (k == JRPC_NOTIFICATION)
				on_notification_message(&ctx, msg);
			else if (k == JRPC_RESPONSE)
				calls_client_response(&ctx, msg);
			else
				stream_fail(r, ctx.st, jrpc_id_valid(json_object_get(msg, "id")) ?
				            json_object_get(msg, "id") : NULL, 400, RPC_INVALID_REQUEST,
				            "Invalid Request: not a JSON-RPC 2.0 request, notification or response",
				            NULL);
		}
	}
	if (owed == 0 && (st = stream_find(r, key)) != NULL) {
		/* Only notifications and responses: nothing to answer (the edge says 202). */
		if (kind == STREAM_POST)
			router_send(r, FRAME_RESPONSE, FRAME_FLAG_FINAL, st->wire_id, NULL, NULL);
		stream_close(r, st);
	}
	json_decref(body);
}

static void on_get(struct exchange *x, enum stream_kind kind)
{
	struct router *r = x->r;
	struct session *s = x->sess;
	if (kind == STREAM_SSE) {
		s = session_create(r, x->principal_id, "2024-11-05", NULL, NULL, true);
		if (!s) {
			refuse(r, x->f->stream_id, 503, RPC_INTERNAL_ERROR, "router out of memory", NULL);
			return;
		}
	} else if (!s) {
		refuse(r, x->f->stream_id, 400, RPC_INVALID_REQUEST,
		       "Bad Request: a GET stream needs a session (Mcp-Session-Id)", NULL);
		return;
	}
	struct stream *old = stream_find(r, s->get_stream);
	if (old) {
		/* One standalone stream per session: the newest wins, the old one ends. */
		router_send(r, FRAME_RESPONSE, FRAME_FLAG_FINAL, old->wire_id, NULL, NULL);
		stream_close(r, old);
	}
	struct stream *st = stream_open(r, x->f->stream_id, kind);
	if (!st) {
		refuse(r, x->f->stream_id, 503, RPC_INTERNAL_ERROR, "router out of memory", NULL);
		return;
	}
	snprintf(st->sid, sizeof st->sid, "%s", s->sid);
	snprintf(st->rid, sizeof st->rid, "%s", x->rid);
	s->get_stream = st->key;
	/* An empty first frame opens the event stream at the edge; for HTTP+SSE it carries the
	 * new session, which becomes the endpoint event's sessionId. */
	json_t *meta = kind == STREAM_SSE ? json_pack("{s:o}", DP_NEW_SESSION, session_object(s)) : NULL;
	router_send(r, FRAME_RESPONSE, 0, st->wire_id, meta, NULL);
	st->started = true;
	json_decref(meta);
	if (kind == STREAM_SSE)
		log_info("session_created", LOG_STR("rid", x->rid), LOG_STR("sid", s->sid),
		         LOG_STR("protocol", "2024-11-05"), LOG_STR("principal", x->principal_id));
}

static void on_delete(struct exchange *x)
{
	if (!x->sess) {
		refuse(x->r, x->f->stream_id, 400, RPC_INVALID_REQUEST,
		       "Bad Request: DELETE needs a session (Mcp-Session-Id)", NULL);
		return;
	}
	session_end(x->r, x->sess);
	router_send(x->r, FRAME_RESPONSE, FRAME_FLAG_FINAL, x->f->stream_id, NULL, NULL);
}

static void on_request_frame(struct router *r, const struct frame *f)
{
	json_error_t jerr;
	json_t *meta = json_loadb((const char *)f->meta, f->meta_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(meta)) {
		log_warn("auth_bad_meta", LOG_STR("reason", jerr.text));
		refuse(r, f->stream_id, 400, RPC_INVALID_REQUEST, "malformed request metadata", NULL);
		json_decref(meta);
		return;
	}
	struct exchange x = {
		.r = r, .f = f, .meta = meta,
		.principal = json_object_get(meta, DP_PRINCIPAL),
		.stateless = json_is_true(json_object_get(meta, DP_STATELESS)),
		.rid = json_string_value(json_object_get(meta, DP_REQUEST_ID)),
	};
	const char *kind = json_string_value(json_object_get(meta, DP_KIND));
	x.principal_id = json_string_value(json_object_get(x.principal, "id"));
	if (!x.rid)
		x.rid = "";
	if (r->draining) {
		refuse(r, f->stream_id, 503, RPC_INTERNAL_ERROR, "the router is restarting; retry", NULL);
	} else if (!x.principal_id || !kind) {
		log_error("auth_meta_incomplete", LOG_STR("rid", x.rid));
		refuse(r, f->stream_id, 403, RPC_INVALID_REQUEST, "request without a principal", NULL);
	} else if (open_session(&x)) {
		if (strcmp(kind, DP_KIND_POST) == 0)
			on_post(&x, STREAM_POST);
		else if (strcmp(kind, DP_KIND_SSE_POST) == 0)
			on_post(&x, STREAM_SSE_POST);
		else if (strcmp(kind, DP_KIND_GET) == 0)
			on_get(&x, STREAM_GET);
		else if (strcmp(kind, DP_KIND_SSE_OPEN) == 0)
			on_get(&x, STREAM_SSE);
		else if (strcmp(kind, DP_KIND_DELETE) == 0)
			on_delete(&x);
		else
			refuse(r, f->stream_id, 400, RPC_INVALID_REQUEST, "unknown request kind", NULL);
	}
	json_decref(meta);
}

void dispatch_stream_closed(struct router *r, uint32_t wire_id)
{
	struct stream *st = stream_find(r, wire_id);
	if (!st)
		return;
	calls_stream_gone(r, st);
	stream_close(r, st);
}

static uint8_t *copy_bytes(const uint8_t *p, uint32_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (c && n)
		memcpy(c, p, n);
	return c;
}

static bool defer(struct router *r, const struct frame *f)
{
	if (!r->deferred) {
		r->deferred = calloc(ROUTER_DEFER_MAX, sizeof *r->deferred);
		if (!r->deferred)
			return false;
	}
	struct deferred_frame *d = &r->deferred[r->n_deferred];
	*d = (struct deferred_frame){ .type = f->type, .flags = f->flags, .stream_id = f->stream_id,
	                              .meta = copy_bytes(f->meta, f->meta_len), .meta_len = f->meta_len,
	                              .body = copy_bytes(f->body, f->body_len), .body_len = f->body_len };
	if (!d->meta || !d->body) {
		free(d->meta);
		free(d->body);
		return false;
	}
	r->n_deferred++;
	return true;
}

void dispatch_frame(struct router *r, const struct frame *f)
{
	if (!r->warm && r->n_deferred < ROUTER_DEFER_MAX &&
	    (f->type == FRAME_REQUEST || f->type == FRAME_STREAM_CLOSE)) {
		/* Upstreams are still listing what they offer: hold the request briefly rather
		 * than answer with a list that is about to grow. */
		if (defer(r, f))
			return;
	}
	switch (f->type) {
	case FRAME_REQUEST:
		on_request_frame(r, f);
		break;
	case FRAME_STREAM_CLOSE:
		dispatch_stream_closed(r, f->stream_id);
		break;
	default:
		log_warn("auth_unexpected_frame", LOG_STR("type", frame_type_name(f->type)));
		break;
	}
}
