/* What each path and method does at the edge. Everything that can be refused without
 * asking anyone (framing, media types, versions, Host, Origin, the 2026-07-28 headers) is
 * refused here with a status and a JSON-RPC error body; the rest goes to auth as a frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "edge.h"
#include "jsonrpc_check.h"
#include "log.h"
#include "mcp_versions.h"

#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_HEADER_MISMATCH -32020    /* 2026-07-28: Mcp-Method / Mcp-Name vs the body */
#define RPC_UNSUPPORTED_VERSION -32022

static bool str_is(struct http_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.ptr && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

void respond_error(struct client *cl, int status, int rpc_code, const char *message,
                   const char *id_json, json_t *data, const char *extra_headers)
{
	json_t *err = json_pack("{s:i, s:s}", "code", rpc_code, "message", message);
	if (data)
		json_object_set_new(err, "data", data);
	json_t *id = id_json && *id_json ? json_loads(id_json, JSON_DECODE_ANY, NULL) : NULL;
	json_t *body = json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
	                         "error", err);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	char headers[2048];
	snprintf(headers, sizeof headers, "%s%s", cors_headers(client_request(cl)),
	         extra_headers ? extra_headers : "");
	client_respond(cl, status, "application/json", headers, text, text ? strlen(text) : 0);
	free(text);
}

static void respond_json(struct client *cl, int status, const char *json)
{
	client_respond(cl, status, "application/json", cors_headers(client_request(cl)), json,
	               strlen(json));
}

static void method_not_allowed(struct client *cl, const char *allow)
{
	char headers[128];
	snprintf(headers, sizeof headers, "Allow: %s\r\n", allow);
	respond_error(cl, 405, RPC_INVALID_REQUEST, "method not allowed on this path", NULL, NULL, headers);
}

/* Copies a header into meta under key, if present. */
static void meta_header(json_t *obj, const char *key, struct http_str v)
{
	if (v.ptr)
		json_object_set_new(obj, key, json_stringn(v.ptr, v.len));
}

static json_t *base_meta(struct client *cl, const struct http_request *req, const char *kind,
                         const char *rid)
{
	json_t *meta = json_pack("{s:s, s:s, s:s}", DP_KIND, kind, DP_REMOTE, client_remote(cl),
	                         DP_REQUEST_ID, rid);
	json_t *cred = json_object();
	meta_header(cred, "authorization", http_header(req, HTTP_HDR_AUTHORIZATION));
	meta_header(cred, "api_key", http_header(req, HTTP_HDR_X_API_KEY));
	json_object_set_new(meta, DP_CREDENTIALS, cred);
	meta_header(meta, DP_PROTOCOL, http_header(req, HTTP_HDR_MCP_PROTOCOL_VERSION));
	return meta;
}

static void make_rid(char *rid, size_t cap)
{
	snprintf(rid, cap, "%08x-%06llx", E.boot_id, (unsigned long long)++E.next_rid);
}

/* Sends the request to auth under a new exchange; answers 503 when auth is not there. */
static void forward(struct client *cl, enum exchange_kind kind, json_t *meta, const char *rid,
                    struct http_str body)
{
	struct exchange *ex = exchange_new(cl, kind, rid);
	if (!ex || edge_send(FRAME_REQUEST, FRAME_FLAG_SSE, ex->id, meta, body.ptr, body.len) != 0) {
		json_decref(meta);
		if (ex)
			exchange_client_gone(ex);
		respond_error(cl, 503, -32603, "gateway busy or restarting; retry shortly", NULL, NULL,
		              "Retry-After: 1\r\n");
		return;
	}
	json_decref(meta);
	client_set_exchange(cl, ex);
}

static json_t *supported_versions(const char *requested, size_t len)
{
	json_t *list = json_array();
	for (size_t i = 0; mcp_versions[i]; i++)
		json_array_append_new(list, json_string(mcp_versions[i]));
	return json_pack("{s:o, s:s%}", "supported", list, "requested", requested ? requested : "",
	                 requested ? len : 0);
}

/* Checks MCP-Protocol-Version; false after answering (with the request's id, if known). */
static bool check_version(struct client *cl, struct http_str pv, const char *id_json)
{
	if (!pv.ptr || mcp_version_supported(pv.ptr, pv.len))
		return true;
	respond_error(cl, 400, RPC_UNSUPPORTED_VERSION, "Unsupported protocol version", id_json,
	              supported_versions(pv.ptr, pv.len), NULL);
	return false;
}

static bool check_post_media(struct client *cl, const struct http_request *req)
{
	if (!http_media_type_is(http_header(req, HTTP_HDR_CONTENT_TYPE), "application/json")) {
		respond_error(cl, 415, RPC_INVALID_REQUEST,
		              "Content-Type must be application/json", NULL, NULL, NULL);
		return false;
	}
	return true;
}

static bool rpc_valid(struct client *cl, const struct http_request *req,
                      struct jsonrpc_summary *sum)
{
	jsonrpc_check(req->body.ptr, req->body.len, true, sum);
	switch (sum->status) {
	case JSONRPC_VALID:
		return true;
	case JSONRPC_PARSE_ERROR:
		respond_error(cl, 400, RPC_PARSE_ERROR, sum->reason, NULL, NULL, NULL);
		return false;
	case JSONRPC_INVALID_REQUEST:
	default:
		respond_error(cl, 400, RPC_INVALID_REQUEST, sum->reason, sum->first_id, NULL, NULL);
		return false;
	}
}

static bool batch_allowed(struct client *cl, struct http_str pv, const struct jsonrpc_summary *sum)
{
	if (!sum->batch || !pv.ptr || mcp_version_allows_batch(pv.ptr, pv.len))
		return true;
	char msg[160];
	snprintf(msg, sizeof msg, "JSON-RPC batches are not supported in protocol version %.*s",
	         (int)pv.len, pv.ptr);
	respond_error(cl, 400, RPC_INVALID_REQUEST, msg, NULL, NULL, NULL);
	return false;
}

/* 2026-07-28: Mcp-Method (and Mcp-Name where the method names something) must match the body. */
static bool check_stateless_headers(struct client *cl, const struct http_request *req,
                                    const struct jsonrpc_summary *sum)
{
	struct http_str method = http_header(req, HTTP_HDR_MCP_METHOD);
	struct http_str name = http_header(req, HTTP_HDR_MCP_NAME);
	if (sum->batch) {
		respond_error(cl, 400, RPC_INVALID_REQUEST, "batches are not supported in 2026-07-28",
		              NULL, NULL, NULL);
		return false;
	}
	if (!method.ptr || !str_is(method, sum->method)) {
		respond_error(cl, 400, RPC_HEADER_MISMATCH,
		              method.ptr ? "Mcp-Method header does not match the request body's method"
		                         : "Mcp-Method header is required",
		              sum->first_id, NULL, NULL);
		return false;
	}
	if (sum->name[0] && (!name.ptr || !str_is(name, sum->name))) {
		respond_error(cl, 400, RPC_HEADER_MISMATCH,
		              name.ptr ? "Mcp-Name header does not match the request body"
		                       : "Mcp-Name header is required for this method",
		              sum->first_id, NULL, NULL);
		return false;
	}
	return true;
}

static void mcp_post(struct client *cl, const struct http_request *req)
{
	if (!check_post_media(cl, req))
		return;
	if (!http_accepts(req, "application/json") || !http_accepts(req, "text/event-stream")) {
		respond_error(cl, 406, RPC_INVALID_REQUEST,
		              "Accept must list both application/json and text/event-stream", NULL, NULL, NULL);
		return;
	}
	/* The body first: every later refusal can then carry the request's id. */
	struct jsonrpc_summary sum;
	if (!rpc_valid(cl, req, &sum))
		return;
	struct http_str pv = http_header(req, HTTP_HDR_MCP_PROTOCOL_VERSION);
	if (!check_version(cl, pv, sum.first_id) || !batch_allowed(cl, pv, &sum))
		return;
	bool stateless = str_is(pv, MCP_VERSION_STATELESS);
	if (!stateless && strcmp(sum.meta_protocol, MCP_VERSION_STATELESS) == 0) {
		/* A 2026-07-28 body without the matching header. */
		respond_error(cl, 400, RPC_HEADER_MISMATCH,
		              pv.ptr ? "MCP-Protocol-Version header does not match _meta protocolVersion"
		                     : "MCP-Protocol-Version header is required",
		              sum.first_id, NULL, NULL);
		return;
	}
	struct http_str session = http_header(req, HTTP_HDR_MCP_SESSION_ID);
	if (stateless) {
		if (!check_stateless_headers(cl, req, &sum))
			return;
	} else if (!sum.is_initialize && !session.ptr) {
		respond_error(cl, 400, RPC_INVALID_REQUEST,
		              "Mcp-Session-Id header is required; send initialize first", sum.first_id,
		              NULL, NULL);
		return;
	}
	char rid[32];
	make_rid(rid, sizeof rid);
	json_t *meta = base_meta(cl, req, DP_KIND_POST, rid);
	json_object_set_new(meta, DP_STATELESS, json_boolean(stateless));
	json_object_set_new(meta, DP_SSE_OK, json_true());
	if (!stateless && !sum.is_initialize)
		meta_header(meta, DP_SESSION_TOKEN, session);
	if (stateless)
		json_object_set_new(meta, DP_MCP_METHOD, json_string(sum.method));
	forward(cl, EX_POST, meta, rid, req->body);
}

static bool require_session(struct client *cl, const struct http_request *req, struct http_str *out)
{
	*out = http_header(req, HTTP_HDR_MCP_SESSION_ID);
	if (out->ptr)
		return true;
	respond_error(cl, 400, RPC_INVALID_REQUEST, "Mcp-Session-Id header is required", NULL, NULL, NULL);
	return false;
}

static void mcp_get(struct client *cl, const struct http_request *req)
{
	if (!http_accepts(req, "text/event-stream")) {
		respond_error(cl, 406, RPC_INVALID_REQUEST, "Accept must include text/event-stream",
		              NULL, NULL, NULL);
		return;
	}
	struct http_str pv = http_header(req, HTTP_HDR_MCP_PROTOCOL_VERSION);
	if (!check_version(cl, pv, NULL))
		return;
	if (str_is(pv, MCP_VERSION_STATELESS)) {
		method_not_allowed(cl, "POST"); /* 2026-07-28 streams come from subscriptions/listen */
		return;
	}
	struct http_str session, last = http_header(req, HTTP_HDR_LAST_EVENT_ID);
	if (!require_session(cl, req, &session))
		return;
	if (last.ptr && exchange_resume(cl, last.ptr, last.len))
		return;
	char rid[32];
	make_rid(rid, sizeof rid);
	json_t *meta = base_meta(cl, req, DP_KIND_GET, rid);
	meta_header(meta, DP_SESSION_TOKEN, session);
	meta_header(meta, DP_LAST_EVENT_ID, last);
	forward(cl, EX_GET, meta, rid, (struct http_str){ NULL, 0 });
}

static void mcp_delete(struct client *cl, const struct http_request *req)
{
	struct http_str session;
	if (!check_version(cl, http_header(req, HTTP_HDR_MCP_PROTOCOL_VERSION), NULL) ||
	    !require_session(cl, req, &session))
		return;
	char rid[32];
	make_rid(rid, sizeof rid);
	json_t *meta = base_meta(cl, req, DP_KIND_DELETE, rid);
	meta_header(meta, DP_SESSION_TOKEN, session);
	forward(cl, EX_DELETE, meta, rid, (struct http_str){ NULL, 0 });
}

/* HTTP+SSE (2024-11-05): GET /sse opens the stream whose first event names the POST URL. */
static void sse_open(struct client *cl, const struct http_request *req)
{
	if (!http_accepts(req, "text/event-stream")) {
		respond_error(cl, 406, RPC_INVALID_REQUEST, "Accept must include text/event-stream",
		              NULL, NULL, NULL);
		return;
	}
	char rid[32];
	make_rid(rid, sizeof rid);
	forward(cl, EX_SSE_OPEN, base_meta(cl, req, DP_KIND_SSE_OPEN, rid), rid,
	        (struct http_str){ NULL, 0 });
}

static void sse_post(struct client *cl, const struct http_request *req)
{
	if (!check_post_media(cl, req))
		return;
	char token[2100];
	size_t tlen;
	enum http_param_result pr = http_query_param(req->query, "sessionId", token, sizeof token, &tlen);
	if (pr != HTTP_PARAM_FOUND) {
		respond_error(cl, 400, RPC_INVALID_REQUEST,
		              pr == HTTP_PARAM_ABSENT ? "sessionId query parameter is required"
		                                      : "sessionId query parameter is malformed",
		              NULL, NULL, NULL);
		return;
	}
	struct jsonrpc_summary sum;
	if (!rpc_valid(cl, req, &sum))
		return;
	char rid[32];
	make_rid(rid, sizeof rid);
	json_t *meta = base_meta(cl, req, DP_KIND_SSE_POST, rid);
	json_object_set_new(meta, DP_SESSION_TOKEN, json_stringn(token, tlen));
	forward(cl, EX_SSE_POST, meta, rid, req->body);
}

/* RFC 9728: where a client learns which authorization server this resource trusts. */
static void protected_resource_metadata(struct client *cl)
{
	const struct config_oauth *o = &E.rc.cfg.oauth;
	json_t *doc = json_pack("{s:s, s:[s], s:[], s:s}", "resource", "",
	                        "bearer_methods_supported", "header", "authorization_servers",
	                        "resource_name", "mcpgate");
	if (o->enabled) {
		json_object_set_new(doc, "resource", json_string(o->audience));
		json_array_append_new(json_object_get(doc, "authorization_servers"), json_string(o->issuer));
		json_t *scopes = json_array();
		for (char *const *s = o->required_scopes; *s; s++)
			json_array_append_new(scopes, json_string(*s));
		json_object_set_new(doc, "scopes_supported", scopes);
	} else {
		char resource[600];
		snprintf(resource, sizeof resource, "%s/mcp", E.rc.cfg.public_url);
		json_object_set_new(doc, "resource", json_string(resource));
	}
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	respond_json(cl, 200, text ? text : "{}");
	free(text);
}

static void cors_preflight(struct client *cl, const struct http_request *req)
{
	const char *cors = cors_headers(req);
	char headers[2048];
	snprintf(headers, sizeof headers,
		"%sAccess-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
		"Access-Control-Allow-Headers: Content-Type, Accept, Authorization, X-API-Key, "
		"Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name\r\n"
		"Access-Control-Max-Age: 600\r\n", cors);
	client_respond(cl, 204, NULL, headers, NULL, 0);
}

void route_request(struct client *cl, const struct http_request *req)
{
	struct http_str path = req->path;
	enum http_method m = req->method;
	bool get = m == HTTP_GET || m == HTTP_HEAD;

	if (str_is(path, "/healthz")) {
		if (get)
			respond_json(cl, 200, "{\"status\":\"ok\"}");
		else
			method_not_allowed(cl, "GET, HEAD");
		return;
	}
	if (str_is(path, "/readyz")) {
		bool ready = E.ready && E.auth && !E.draining;
		if (get)
			respond_json(cl, ready ? 200 : 503, ready ? "{\"ready\":true}" : "{\"ready\":false}");
		else
			method_not_allowed(cl, "GET, HEAD");
		return;
	}
	if (!host_allowed(req)) {
		log_info("host_refused", LOG_STR("remote", client_remote(cl)));
		respond_error(cl, 403, RPC_INVALID_REQUEST, "Host header not allowed", NULL, NULL, NULL);
		return;
	}
	if (!origin_allowed(req)) {
		log_info("origin_refused", LOG_STR("remote", client_remote(cl)));
		respond_error(cl, 403, RPC_INVALID_REQUEST, "Origin not allowed", NULL, NULL, NULL);
		return;
	}
	bool mcp = str_is(path, "/mcp"), sse = str_is(path, "/sse"), messages = str_is(path, "/messages");
	if (m == HTTP_OPTIONS && (mcp || sse || messages)) {
		cors_preflight(cl, req);
	} else if (mcp) {
		if (m == HTTP_POST)
			mcp_post(cl, req);
		else if (m == HTTP_GET)
			mcp_get(cl, req);
		else if (m == HTTP_DELETE)
			mcp_delete(cl, req);
		else
			method_not_allowed(cl, "GET, POST, DELETE");
	} else if (sse) {
		if (m == HTTP_GET)
			sse_open(cl, req);
		else
			method_not_allowed(cl, "GET");
	} else if (messages) {
		if (m == HTTP_POST)
			sse_post(cl, req);
		else
			method_not_allowed(cl, "POST");
	} else if (str_is(path, "/.well-known/oauth-protected-resource") ||
	           str_is(path, "/.well-known/oauth-protected-resource/mcp")) {
		if (get)
			protected_resource_metadata(cl);
		else
			method_not_allowed(cl, "GET, HEAD");
	} else {
		respond_error(cl, 404, RPC_INVALID_REQUEST, "not found: the MCP endpoint is /mcp", NULL,
		              NULL, NULL);
	}
}
