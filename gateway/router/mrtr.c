/* The 2026-07-28 input-required round trip, bridged for upstreams that speak the session
 * protocols. A stateless client cannot receive server->client requests; so when an upstream
 * asks (sampling, elicitation, roots) during a stateless call, the router holds the call
 * open, answers the client with an InputRequiredResult listing what is asked and an opaque
 * requestState, and when the client retries with inputResponses and that requestState, hands
 * the answers to the waiting upstream and carries on. The state names the held call; it is
 * unguessable (128 random bits), bound to the principal, the method and the target, and
 * good only on the replica that issued it. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jsonrpc.h"
#include "log.h"
#include "names.h"

static uint64_t state_key(const char *state)
{
	return name_hash(state, strlen(state));
}

void mrtr_unpark(struct call *c)
{
	if (!c->state[0])
		return;
	uint64_t key = state_key(c->state);
	if (idmap_get(&c->r->parked, key) == c)
		idmap_del(&c->r->parked, key);
	c->state[0] = '\0';
}

static const char *input_capability(const char *method)
{
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strcmp(method, "elicitation/create") == 0)
		return "elicitation";
	if (strcmp(method, "roots/list") == 0)
		return "roots";
	return NULL;
}

static void fail_call(struct call *c, int http_status, int code, const char *text, json_t *data)
{
	upstream_cancel(c->up, c->rid, text);
	struct stream *st = stream_find(c->r, c->stream_key);
	if (st)
		stream_fail(c->r, st, c->client_id, http_status, code, text, data);
	else
		json_decref(data);
	call_finish(c);
}

/* Sends what was gathered as an InputRequiredResult and parks the call. */
static void park(struct call *c)
{
	struct router *r = c->r;
	struct stream *st = stream_find(r, c->stream_key);
	if (!st) {
		upstream_cancel(c->up, c->rid, "the client went away");
		call_finish(c);
		return;
	}
	if (idmap_count(&r->parked) >= PARKED_MAX) {
		fail_call(c, 503, RPC_INTERNAL_ERROR,
		          "too many requests are waiting for client input; retry later", NULL);
		return;
	}
	json_t *requests = json_object();
	const char *key;
	json_t *ask;
	json_object_foreach(c->asks, key, ask) {
		json_t *req = json_pack("{s:O}", "method", json_object_get(ask, "method"));
		json_t *params = json_object_get(ask, "params");
		if (req && params)
			json_object_set(req, "params", params);
		json_object_set_new(requests, key, req);
	}
	random_hex(c->state, SESSION_ID_HEX / 2);
	idmap_put(&r->parked, state_key(c->state), c);
	json_t *result = json_pack("{s:s, s:o, s:s}", "resultType", "input_required",
	                           "inputRequests", requests, "requestState", c->state);
	if (result)
		stateless_decorate(result, c->method);
	json_t *msg = jrpc_result(c->client_id, result);
	if (msg)
		stream_send(r, st, msg, true, NULL);
	json_decref(msg);
	c->stream_key = 0;
	/* The client (often a person answering a form) gets a fresh allowance. */
	c->deadline_ms = now_ms() + c->up->timeout_ms;
	log_info("call_input_required", LOG_STR("rid", c->rid_log), LOG_STR("upstream", c->up->name),
	         LOG_INT("requests", json_object_size(c->asks)));
}

static void on_gather(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	park(arg);
}

static void arm_gather(struct call *c, unsigned ms)
{
	if (!c->gather)
		c->gather = evtimer_new(c->r->base, on_gather, c);
	struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t)ms * 1000 };
	if (c->gather)
		evtimer_add(c->gather, &tv);
}

void mrtr_upstream_request(struct call *c, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id");
	const char *cap = input_capability(method);
	if (!cap) {
		upstream_send(c->up, jrpc_error(id, RPC_METHOD_NOT_FOUND,
			"a 2026-07-28 client can only be asked for sampling, elicitation or roots", NULL));
		json_decref(msg);
		return;
	}
	if (!json_object_get(c->client_caps, cap)) {
		char text[200];
		snprintf(text, sizeof text, "this request needs the client capability '%s', which the "
		         "request's _meta did not declare", cap);
		upstream_send(c->up, jrpc_error(id, RPC_METHOD_NOT_FOUND, text, NULL));
		fail_call(c, 400, RPC_MISSING_CLIENT_CAPABILITY, text,
		          json_pack("{s:{s:{}}}", "requiredCapabilities", cap));
		json_decref(msg);
		return;
	}
	if (!c->asks)
		c->asks = json_object();
	char key[48];
	snprintf(key, sizeof key, "%s-%u", cap, ++c->ask_seq);
	json_t *params = json_object_get(msg, "params");
	json_t *ask = json_pack("{s:O, s:s}", "id", id, "method", method);
	if (ask && json_is_object(params)) {
		json_t *p = json_deep_copy(params);
		json_t *meta = json_object_get(p, "_meta");
		if (meta)
			json_object_del(meta, META_RELATED);
		json_object_set_new(ask, "params", p);
	}
	if (!c->asks || !ask) {
		json_decref(ask);
		upstream_send(c->up, jrpc_error(id, RPC_INTERNAL_ERROR, "mcpgate: out of memory", NULL));
		json_decref(msg);
		return;
	}
	json_object_set_new(c->asks, key, ask);
	json_decref(msg);
	/* Requests that come together go to the client together; a parked call keeps them for
	 * the next round. */
	if (!c->state[0])
		arm_gather(c, MRTR_GATHER_MS);
}

static bool same_target(const struct call *c, const json_t *params)
{
	const char *t = json_string_value(json_object_get(params, "name"));
	if (!t)
		t = json_string_value(json_object_get(params, "uri"));
	return t && strcmp(t, c->target) == 0;
}

/* Every answer must be a result object; checked before any is handed on. */
static const char *check_responses(const struct call *c, const json_t *responses)
{
	if (!responses)
		return NULL;
	if (!json_is_object(responses))
		return "inputResponses must be an object mapping each inputRequests key to its result";
	const char *key;
	json_t *ask;
	json_object_foreach(c->asks, key, ask) {
		json_t *v = json_object_get(responses, key);
		if (v && !json_is_object(v))
			return "each inputResponses value must be the result object for its request";
	}
	return NULL;
}

static void hand_over(struct call *c, const json_t *responses)
{
	const char *key;
	json_t *ask, *tmp;
	json_object_foreach_safe(c->asks, tmp, key, ask) {
		json_t *result = json_object_get(responses, key);
		if (!result)
			continue;
		json_t *out = json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id",
		                        json_object_get(ask, "id"), "result", result);
		upstream_send(c->up, out);
		json_object_del(c->asks, key);
	}
}

bool mrtr_resume(struct request_ctx *ctx, const json_t *id, const char *method, json_t *params)
{
	const char *state = json_string_value(json_object_get(params, "requestState"));
	if (!state)
		return false;
	struct router *r = ctx->r;
	struct call *c = idmap_get(&r->parked, state_key(state));
	if (!c) {
		/* Not ours: an upstream that speaks 2026-07-28 issued it and checks it itself. */
		struct upstream *up = router_route_target(r, method, params);
		if (up && up->modern)
			return false;
	}
	if (!c || strcmp(c->state, state) != 0 || strcmp(c->principal, ctx->principal_id) != 0 ||
	    strcmp(c->method, method) != 0 || !same_target(c, params)) {
		reply_error(ctx, id, RPC_INVALID_PARAMS,
		            "requestState is not valid: it was altered, has expired, was already used, "
		            "or belongs to another request", NULL);
		return true;
	}
	const json_t *responses = json_object_get(params, "inputResponses");
	const char *bad = check_responses(c, responses);
	if (bad) {
		reply_error(ctx, id, RPC_INVALID_PARAMS, bad, NULL);
		return true; /* still parked: a corrected retry may follow */
	}
	mrtr_unpark(c);
	hand_over(c, responses);
	/* The retry is the request now: its id, its stream, its log level and capabilities. */
	json_decref(c->client_id);
	c->client_id = json_deep_copy(id);
	c->stream_key = ctx->st->key;
	c->log_level = ctx->log_level;
	json_decref(c->client_caps);
	c->client_caps = ctx->client_caps ? json_deep_copy(ctx->client_caps) : NULL;
	json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
	bool had_token = c->client_token != NULL; /* the upstream got a token only then */
	json_decref(c->client_token);
	c->client_token = had_token && (json_is_string(token) || json_is_integer(token))
	                  ? json_deep_copy(token) : NULL;
	c->deadline_ms = now_ms() + c->up->timeout_ms;
	log_info("call_input_received", LOG_STR("rid", ctx->st->rid), LOG_STR("upstream", c->up->name),
	         LOG_INT("still_missing", json_object_size(c->asks)));
	if (json_object_size(c->asks) > 0) {
		arm_gather(c, 0); /* ask again for what is still missing */
	} else if (c->early_result) {
		json_t *resp = c->early_result;
		c->early_result = NULL;
		json_t *result = json_deep_copy(json_object_get(resp, "result"));
		json_t *msg;
		if (result) {
			stateless_decorate(result, c->method);
			msg = jrpc_result(c->client_id, result);
		} else {
			msg = json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", c->client_id, "error",
			                json_object_get(resp, "error"));
		}
		if (msg)
			call_send(c, msg, true);
		json_decref(msg);
		json_decref(resp);
		call_finish(c);
	}
	return true;
}
