/* Calls: client requests forwarded to an upstream. Many sessions share one upstream link, so
 * every call gets a router-unique id (which is also its progress token upstream), and the
 * answer, progress, log messages and server->client requests find their way back to the
 * stream of the call that caused them. Also timeouts and cancellation in both directions. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jsonrpc.h"
#include "log.h"
#include "names.h"

/* A server->client request relayed to a client, waiting for its answer. */
struct relay {
	uint64_t id;               /* the id the client sees */
	struct upstream *up;
	uint32_t generation;
	json_t *upstream_id;       /* the id the upstream used */
	char sid[SESSION_ID_HEX + 1];
	char principal[128];
	uint64_t call_rid;         /* the call it belongs to, 0 = none */
	uint64_t created_ms;
};

static void on_call_done(struct upstream *up, json_t *resp, const char *failure, void *arg);

/* ---- params toward an upstream ---- */

static bool protocol_meta_key(const char *key)
{
	return strcmp(key, META_PROTOCOL_VERSION) == 0 || strcmp(key, META_CLIENT_CAPS) == 0 ||
	       strcmp(key, META_CLIENT_INFO) == 0 || strcmp(key, META_LOG_LEVEL) == 0;
}

json_t *forward_params(const json_t *params, const json_t *principal, uint64_t rid,
                       json_t **client_token, bool stateless_passthrough)
{
	json_t *out = json_is_object(params) ? json_deep_copy(params) : json_object();
	json_t *clean = json_object();
	if (!out || !clean) {
		json_decref(out);
		json_decref(clean);
		return NULL;
	}
	if (!stateless_passthrough) {
		/* The input-required round trip ends here (mrtr.c); upstreams see plain calls. */
		json_object_del(out, "inputResponses");
		json_object_del(out, "requestState");
	}
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(out, "_meta"), key, v) {
		/* A client must not speak for mcpgate (io.mcpgate/caller above all). */
		if (strncmp(key, META_OURS_PREFIX, strlen(META_OURS_PREFIX)) == 0 ||
		    (!stateless_passthrough && protocol_meta_key(key)))
			continue;
		if (strcmp(key, "progressToken") == 0) {
			if (client_token && (json_is_string(v) || json_is_integer(v)))
				*client_token = json_deep_copy(v);
			continue;
		}
		json_object_set(clean, key, v);
	}
	if (client_token && *client_token)
		json_object_set_new(clean, "progressToken", json_integer((json_int_t)rid));
	json_object_set_new(clean, META_CALLER, principal ? json_deep_copy(principal) : json_null());
	json_object_set_new(out, "_meta", clean);
	return out;
}

/* ---- the call's lifetime ---- */

struct call *call_find(struct router *r, uint64_t rid)
{
	struct outreq *o = idmap_get(&r->outreqs, rid);
	return o && o->done == on_call_done ? o->arg : NULL;
}

void call_finish(struct call *c)
{
	struct router *r = c->r;
	mrtr_unpark(c);
	if (call_find(r, c->rid) == c)
		outreq_forget(r, c->rid);
	if (c->up->calls)
		c->up->calls--;
	if (c->up->session[0])
		c->up->last_used_ms = now_ms(); /* idle counts from the end of the last call */
	if (c->timer)
		event_free(c->timer);
	if (c->gather)
		event_free(c->gather);
	json_decref(c->client_id);
	json_decref(c->client_token);
	json_decref(c->client_caps);
	json_decref(c->asks);
	json_decref(c->early_result);
	free(c);
	router_maybe_exit(r);
}

int call_send(struct call *c, json_t *msg, bool is_response)
{
	struct stream *st = stream_find(c->r, c->stream_key);
	if (!st) {
		log_debug("call_message_dropped", LOG_STR("rid", c->rid_log),
		          LOG_STR("reason", "the client's stream is gone"));
		return -1;
	}
	return stream_send(c->r, st, msg, is_response, NULL);
}

/* The upstream's answer (or a failure) becomes the answer to the client's request. */
static void call_answer(struct call *c, const json_t *resp, const char *failure)
{
	json_t *msg;
	const json_t *err = resp ? json_object_get(resp, "error") : NULL;
	const json_t *result = resp ? json_object_get(resp, "result") : NULL;
	if (failure || (!err && !json_is_object(result))) {
		char text[400];
		snprintf(text, sizeof text, "upstream '%s' failed during %s: %s", c->up->name, c->method,
		         failure ? failure : "its answer had neither result nor error");
		msg = jrpc_error(c->client_id, RPC_INTERNAL_ERROR, text,
		                 json_pack("{s:s, s:s}", "upstream", c->up->name, "status",
		                           upstream_state_name(c->up->state)));
	} else if (err && c->stateless) {
		/* The revision's HTTP statuses apply to an upstream's errors too (-32021: 400). */
		struct stream *st = stream_find(c->r, c->stream_key);
		int code = (int)json_integer_value(json_object_get(err, "code"));
		const char *text = json_string_value(json_object_get(err, "message"));
		json_t *data = json_object_get(err, "data");
		if (st)
			stream_fail(c->r, st, c->client_id, stateless_http_status(code), code,
			            text ? text : "error", data ? json_deep_copy(data) : NULL);
		return;
	} else if (err) {
		msg = json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", c->client_id, "error", err);
	} else {
		json_t *copy = json_deep_copy(result);
		if (copy && c->stateless)
			stateless_decorate(copy, c->method);
		msg = jrpc_result(c->client_id, copy);
	}
	if (msg)
		call_send(c, msg, true);
	else
		log_error("call_answer_nomem", LOG_STR("rid", c->rid_log));
	json_decref(msg);
}

static void on_call_done(struct upstream *up, json_t *resp, const char *failure, void *arg)
{
	(void)up;
	struct call *c = arg;
	if (c->state[0] && !failure) {
		/* Parked, waiting for the client's input: keep the answer for its retry. */
		json_decref(c->early_result);
		c->early_result = json_deep_copy(resp);
		return;
	}
	if (!c->state[0])
		call_answer(c, resp, failure);
	if (failure)
		log_warn("call_failed", LOG_STR("rid", c->rid_log), LOG_STR("upstream", c->up->name),
		         LOG_STR("method", c->method), LOG_STR("reason", failure));
	call_finish(c);
}

static void arm_timer(struct call *c)
{
	uint64_t now = now_ms();
	uint64_t at = c->deadline_ms < c->hard_deadline_ms ? c->deadline_ms : c->hard_deadline_ms;
	uint64_t ms = at > now ? at - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct call *c = arg;
	uint64_t now = now_ms();
	if (now < c->deadline_ms && now < c->hard_deadline_ms) {
		arm_timer(c); /* progress moved the deadline */
		return;
	}
	char text[300];
	if (outreq_held(c->r, c->rid))
		snprintf(text, sizeof text, "upstream '%s': its process for this session was not ready "
		         "within %u ms, so %s was not sent", c->up->name, c->up->timeout_ms, c->method);
	else
		snprintf(text, sizeof text, "upstream '%s' did not answer %s within %u ms", c->up->name,
		         c->method, c->up->timeout_ms);
	log_warn("call_timeout", LOG_STR("rid", c->rid_log), LOG_STR("upstream", c->up->name),
	         LOG_STR("method", c->method), LOG_STR("target", c->target));
	upstream_cancel(c->up, c->rid, "mcpgate: the call timed out");
	if (!c->state[0]) {
		json_t *msg = jrpc_error(c->client_id, RPC_REQUEST_TIMEOUT, text,
		                         json_pack("{s:s, s:I}", "upstream", c->up->name, "timeout_ms",
		                                   (json_int_t)c->up->timeout_ms));
		if (msg)
			call_send(c, msg, true);
		json_decref(msg);
	}
	call_finish(c);
}

void call_start(struct request_ctx *ctx, const json_t *id, struct upstream *up,
                const char *method, const char *target, json_t *params)
{
	struct router *r = ctx->r;
	if (up->per_session) {
		/* The shared process's catalog said where to go; the session's own process serves. */
		up = persession_route(ctx, id, up);
		if (!up) {
			json_decref(params);
			return;
		}
	}
	bool hold = up->session[0] && up->state != UPSTREAM_READY;
	if (up->state != UPSTREAM_READY && !hold) {
		char text[400];
		snprintf(text, sizeof text, "upstream '%s' is %s (%s); try again shortly", up->name,
		         upstream_state_name(up->state), up->last_error);
		json_decref(params);
		reply_error(ctx, id, RPC_INTERNAL_ERROR, text,
		            json_pack("{s:s, s:s}", "upstream", up->name, "status",
		                      upstream_state_name(up->state)));
		return;
	}
	struct call *c = calloc(1, sizeof *c);
	if (!c) {
		json_decref(params);
		reply_error(ctx, id, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	c->r = r;
	c->up = up;
	c->generation = up->generation;
	c->client_id = json_deep_copy(id);
	snprintf(c->method, sizeof c->method, "%s", method);
	snprintf(c->target, sizeof c->target, "%s", target ? target : "");
	c->stream_key = ctx->st->key;
	snprintf(c->sid, sizeof c->sid, "%s", ctx->sess ? ctx->sess->sid : "");
	snprintf(c->principal, sizeof c->principal, "%s", ctx->principal_id);
	snprintf(c->rid_log, sizeof c->rid_log, "%s", ctx->st->rid);
	c->stateless = ctx->stateless;
	c->passthrough = ctx->stateless && up->modern;
	c->client_caps = ctx->client_caps ? json_deep_copy(ctx->client_caps) : NULL;
	c->log_level = ctx->stateless ? ctx->log_level : -1;
	c->rid = router_next_id(r);
	c->started_ms = now_ms();
	c->deadline_ms = c->started_ms + up->timeout_ms;
	/* Progress may stretch a call, but not forever. */
	c->hard_deadline_ms = c->started_ms + (uint64_t)up->timeout_ms * 10;
	c->timer = evtimer_new(r->base, on_call_timer, c);

	json_t *fwd = forward_params(params, ctx->principal, c->rid, &c->client_token, c->passthrough);
	json_decref(params);
	const char *why = "out of memory";
	if (!c->client_id || !c->timer || !fwd ||
	    !(hold ? upstream_enqueue(up, c->rid, method, fwd, on_call_done, c, &why)
	           : upstream_request_id(up, c->rid, method, fwd, on_call_done, c, 0, &why))) {
		char text[300];
		snprintf(text, sizeof text, "upstream '%s' could not take the call: %s", up->name, why);
		reply_error(ctx, id, RPC_INTERNAL_ERROR, text, json_pack("{s:s}", "upstream", up->name));
		if (c->timer)
			event_free(c->timer);
		json_decref(c->client_id);
		json_decref(c->client_token);
		json_decref(c->client_caps);
		free(c);
		return;
	}
	up->calls++;
	arm_timer(c);
	log_debug(hold ? "call_held" : "call_forwarded", LOG_STR("rid", c->rid_log),
	          LOG_STR("upstream", up->name), LOG_STR("session", up->session),
	          LOG_STR("method", method), LOG_STR("target", c->target), LOG_INT("id", c->rid));
}

/* ---- which call an upstream message belongs to ---- */

struct lone {
	struct upstream *up;
	struct call *found;
};

static void find_lone_call(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct lone *l = arg;
	struct outreq *o = value;
	if (o->up == l->up && o->done == on_call_done)
		l->found = o->arg;
}

/* The tag an mcpgate-aware server sets, else the upstream's only call in flight. With
 * several in flight and no tag there is no telling: never guess across clients. */
static struct call *attribute(struct upstream *up, const json_t *params)
{
	const json_t *related = json_object_get(json_object_get(params, "_meta"), META_RELATED);
	if (json_is_integer(related)) {
		struct call *c = call_find(up->r, (uint64_t)json_integer_value(related));
		return c && c->up == up ? c : NULL;
	}
	if (up->calls != 1)
		return NULL;
	struct lone l = { .up = up };
	idmap_each(&up->r->outreqs, find_lone_call, &l);
	return l.found;
}

static json_t *copy_without_related(const json_t *msg)
{
	json_t *copy = json_deep_copy(msg);
	json_t *meta = json_object_get(json_object_get(copy, "params"), "_meta");
	if (meta) {
		json_object_del(meta, META_RELATED);
		if (json_object_size(meta) == 0)
			json_object_del(json_object_get(copy, "params"), "_meta");
	}
	return copy;
}

void calls_upstream_progress(struct upstream *up, json_t *params)
{
	json_t *token = json_object_get(params, "progressToken");
	struct call *c = json_is_integer(token) ? call_find(up->r, (uint64_t)json_integer_value(token)) : NULL;
	if (!c || c->up != up || !c->client_token) {
		log_debug("progress_dropped", LOG_STR("upstream", up->name));
		return;
	}
	uint64_t now = now_ms();
	c->deadline_ms = now + up->timeout_ms; /* a call that reports progress is alive */
	json_t *p = json_deep_copy(params);
	if (!p)
		return;
	json_object_set(p, "progressToken", c->client_token);
	json_t *msg = jrpc_notification("notifications/progress", p);
	if (msg)
		call_send(c, msg, false);
	json_decref(msg);
}

void calls_upstream_log(struct upstream *up, json_t *msg)
{
	json_t *params = json_object_get(msg, "params");
	struct call *c = attribute(up, params);
	if (!c) {
		/* Not tied to one call: sending it to every session would leak across clients. */
		log_debug("upstream_log_unattributed", LOG_STR("upstream", up->name));
		return;
	}
	int level = mcp_level_from_name(json_string_value(json_object_get(params, "level")));
	int threshold = c->log_level;
	if (!c->stateless) {
		struct session *s = session_find(up->r, c->sid);
		threshold = s ? s->log_level : 0;
	}
	if (threshold < 0 || level < threshold)
		return;
	json_t *copy = copy_without_related(msg);
	if (copy)
		call_send(c, copy, false);
	json_decref(copy);
}

/* ---- server->client requests ---- */

static const char *capability_for(const char *method)
{
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strcmp(method, "elicitation/create") == 0)
		return "elicitation";
	if (strcmp(method, "roots/list") == 0)
		return "roots";
	return NULL;
}

static void refuse_upstream(struct upstream *up, const json_t *id, int code, const char *text)
{
	upstream_send(up, jrpc_error(id, code, text, NULL));
}

void calls_upstream_request(struct upstream *up, json_t *msg)
{
	struct router *r = up->r;
	const char *method = json_string_value(json_object_get(msg, "method"));
	const json_t *id = json_object_get(msg, "id");
	struct call *c = attribute(up, json_object_get(msg, "params"));
	if (!c) {
		refuse_upstream(up, id, RPC_INTERNAL_ERROR,
			"mcpgate cannot tell which client this request is for (no call in flight, or "
			"several); tag it with params._meta[\"io.mcpgate/related\"] = the id of the "
			"request being served");
		return;
	}
	if (c->stateless) {
		mrtr_upstream_request(c, json_deep_copy(msg));
		return;
	}
	struct session *s = session_find(r, c->sid);
	const char *cap = capability_for(method);
	if (!s || (cap && !session_client_can(s, cap))) {
		char text[200];
		snprintf(text, sizeof text, "the client did not declare the '%s' capability",
		         cap ? cap : method);
		refuse_upstream(up, id, RPC_METHOD_NOT_FOUND, text);
		return;
	}
	struct relay *rl = calloc(1, sizeof *rl);
	json_t *out = copy_without_related(msg);
	if (!rl || !out) {
		free(rl);
		json_decref(out);
		refuse_upstream(up, id, RPC_INTERNAL_ERROR, "mcpgate: out of memory");
		return;
	}
	rl->id = router_next_id(r);
	rl->up = up;
	rl->generation = up->generation;
	rl->upstream_id = json_deep_copy(id);
	snprintf(rl->sid, sizeof rl->sid, "%s", s->sid);
	snprintf(rl->principal, sizeof rl->principal, "%s", c->principal);
	rl->call_rid = c->rid;
	rl->created_ms = now_ms();
	json_object_set_new(out, "id", json_integer((json_int_t)rl->id));
	int sent = call_send(c, out, false);
	if (sent != 0)
		sent = session_notify(r, s, out); /* the call's stream is gone: the session's GET */
	json_decref(out);
	if (sent != 0 || idmap_put(&r->relays, rl->id, rl) != 0) {
		json_decref(rl->upstream_id);
		free(rl);
		refuse_upstream(up, id, RPC_INTERNAL_ERROR,
		                "mcpgate: the client has no open stream to receive this request");
	}
}

struct relay_match {
	struct upstream *up;
	const json_t *upstream_id;
	struct relay *found;
};

static void match_relay(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct relay_match *m = arg;
	struct relay *rl = value;
	if (rl->up == m->up && rl->generation == m->up->generation &&
	    json_equal(rl->upstream_id, (json_t *)m->upstream_id))
		m->found = rl;
}

static void relay_free(struct router *r, struct relay *rl)
{
	idmap_del(&r->relays, rl->id);
	json_decref(rl->upstream_id);
	free(rl);
}

void calls_upstream_cancelled(struct upstream *up, json_t *params)
{
	const json_t *request_id = json_object_get(params, "requestId");
	struct relay_match m = { .up = up, .upstream_id = request_id };
	if (!request_id)
		return;
	idmap_each(&up->r->relays, match_relay, &m);
	if (!m.found)
		return;
	struct relay *rl = m.found;
	json_t *p = json_pack("{s:I}", "requestId", (json_int_t)rl->id);
	json_t *reason = json_object_get(params, "reason");
	if (p && json_is_string(reason))
		json_object_set(p, "reason", reason);
	json_t *msg = jrpc_notification("notifications/cancelled", p);
	struct call *c = call_find(up->r, rl->call_rid);
	struct session *s = session_find(up->r, rl->sid);
	if (msg && (!c || call_send(c, msg, false) != 0) && s)
		session_notify(up->r, s, msg);
	json_decref(msg);
	relay_free(up->r, rl);
}

void calls_client_response(struct request_ctx *ctx, json_t *msg)
{
	struct router *r = ctx->r;
	const json_t *id = json_object_get(msg, "id");
	struct relay *rl = json_is_integer(id) ? idmap_get(&r->relays, (uint64_t)json_integer_value(id)) : NULL;
	if (!rl || !ctx->sess || strcmp(rl->sid, ctx->sess->sid) != 0) {
		log_info("client_response_unmatched", LOG_STR("rid", ctx->st->rid),
		         LOG_STR("reason", rl ? "another session's request" : "no such request pending"));
		return;
	}
	if (rl->generation == rl->up->generation) {
		json_t *out = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", rl->upstream_id);
		json_t *result = json_object_get(msg, "result");
		json_t *error = json_object_get(msg, "error");
		if (out && result)
			json_object_set(out, "result", result);
		else if (out)
			json_object_set(out, "error", error);
		upstream_send(rl->up, out);
	} else {
		log_info("client_response_late", LOG_STR("upstream", rl->up->name),
		         LOG_STR("reason", "the server restarted since it asked"));
	}
	relay_free(r, rl);
}

struct relay_sweep {
	uint64_t now;
	struct relay *old[1024];
	size_t n;
};

static void collect_old_relays(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct relay_sweep *sw = arg;
	struct relay *rl = value;
	if (sw->n < 1024 && sw->now - rl->created_ms > RELAY_TTL_MS)
		sw->old[sw->n++] = rl;
}

struct relay_owner {
	const struct upstream *up;
	struct relay *list[256];
	size_t n;
};

static void collect_owned_relays(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct relay_owner *o = arg;
	struct relay *rl = value;
	if (rl->up == o->up && o->n < sizeof o->list / sizeof o->list[0])
		o->list[o->n++] = rl;
}

void relays_forget_upstream(struct router *r, struct upstream *up)
{
	struct relay_owner o = { .up = up };
	do {
		o.n = 0;
		idmap_each(&r->relays, collect_owned_relays, &o);
		for (size_t i = 0; i < o.n; i++)
			relay_free(r, o.list[i]);
	} while (o.n == sizeof o.list / sizeof o.list[0]);
}

void relays_sweep(struct router *r)
{
	static struct relay_sweep sw;
	sw.now = now_ms();
	sw.n = 0;
	idmap_each(&r->relays, collect_old_relays, &sw);
	for (size_t i = 0; i < sw.n; i++)
		relay_free(r, sw.old[i]);
}

/* ---- cancellation from the client, and clients that leave ---- */

struct call_scan {
	struct call **list;
	size_t n, cap;
	bool (*want)(const struct call *c, void *arg);
	void *arg;
};

static void scan_calls(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct call_scan *sc = arg;
	struct outreq *o = value;
	if (o->done != on_call_done || !sc->want(o->arg, sc->arg))
		return;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		struct call **l = realloc(sc->list, cap * sizeof *l);
		if (!l)
			return;
		sc->list = l;
		sc->cap = cap;
	}
	sc->list[sc->n++] = o->arg;
}

/* Calls matching `want`, collected first: finishing one changes the table. */
static size_t collect_calls(struct router *r, bool (*want)(const struct call *, void *),
                            void *arg, struct call ***out)
{
	struct call_scan sc = { .want = want, .arg = arg };
	idmap_each(&r->outreqs, scan_calls, &sc);
	*out = sc.list;
	return sc.n;
}

struct cancel_match {
	struct request_ctx *ctx;
	const json_t *request_id;
};

static bool is_cancelled_call(const struct call *c, void *arg)
{
	struct cancel_match *m = arg;
	if (strcmp(c->principal, m->ctx->principal_id) != 0 || !json_equal(c->client_id, (json_t *)m->request_id))
		return false;
	if (m->ctx->sess)
		return strcmp(c->sid, m->ctx->sess->sid) == 0;
	return c->stateless;
}

void calls_client_cancelled(struct request_ctx *ctx, const json_t *request_id, const char *reason)
{
	struct cancel_match m = { .ctx = ctx, .request_id = request_id };
	struct call **list;
	size_t n = collect_calls(ctx->r, is_cancelled_call, &m, &list);
	for (size_t i = 0; i < n; i++) {
		struct call *c = list[i];
		log_info("call_cancelled", LOG_STR("rid", c->rid_log), LOG_STR("upstream", c->up->name),
		         LOG_STR("by", "client"));
		upstream_cancel(c->up, c->rid, reason ? reason : "cancelled by the client");
		struct stream *st = stream_find(ctx->r, c->stream_key);
		if (st)
			stream_forgive(ctx->r, st);
		call_finish(c);
	}
	free(list);
}

static bool on_stream(const struct call *c, void *arg)
{
	return c->stream_key == ((const struct stream *)arg)->key;
}

void calls_stream_gone(struct router *r, struct stream *st)
{
	struct call **list;
	size_t n = collect_calls(r, on_stream, st, &list);
	for (size_t i = 0; i < n; i++) {
		struct call *c = list[i];
		if (c->stateless) {
			/* 2026-07-28: the request is its stream; when the client leaves, it is over. */
			upstream_cancel(c->up, c->rid, "the client went away");
			call_finish(c);
		} else {
			/* Sessions: leaving is not cancelling; the answer is dropped when it comes. */
			c->stream_key = 0;
		}
	}
	free(list);
}

static bool any_call(const struct call *c, void *arg)
{
	(void)c;
	(void)arg;
	return true;
}

unsigned calls_in_flight(struct router *r)
{
	struct call **list;
	size_t n = collect_calls(r, any_call, NULL, &list);
	free(list);
	return (unsigned)n;
}
