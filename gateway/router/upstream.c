/* One upstream MCP server, seen from the router as its client: the stdio link (one JSON-RPC
 * message per line), the initialize handshake, the cached lists (refetched when the server
 * announces a change and after every new link), the requests the router has outstanding
 * with it, and its status (initializing / ready / down with the last error). */
#include "router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "build_config.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp_versions.h"

static void fetch_list(struct upstream *up, enum list_kind kind);

const char *upstream_state_name(enum upstream_state s)
{
	switch (s) {
	case UPSTREAM_DOWN: return "down";
	case UPSTREAM_INITIALIZING: return "initializing";
	case UPSTREAM_READY: return "ready";
	}
	return "unknown";
}

void upstream_configure(struct upstream *up, const struct config_server *srv)
{
	snprintf(up->name, sizeof up->name, "%s", srv->name);
	snprintf(up->ns, sizeof up->ns, "%s", srv->namespace_);
	up->timeout_ms = srv->timeout_ms ? srv->timeout_ms : 60000;
	up->per_session = srv->per_session;
}

struct upstream *upstream_new(struct router *r, const struct config_server *srv, size_t index)
{
	struct upstream *up = calloc(1, sizeof *up);
	if (!up)
		return NULL;
	up->r = r;
	up->index = index;
	up->log_level = -1;
	up->subscriptions = json_object();
	if (!up->subscriptions) {
		free(up);
		return NULL;
	}
	upstream_configure(up, srv);
	snprintf(up->last_error, sizeof up->last_error, "no link yet (the server is starting)");
	line_reader_init(&up->lines, UPSTREAM_LINE_MAX);
	return up;
}

struct upstream *upstream_new_instance(struct upstream *shared, const char *sid)
{
	struct upstream *up = calloc(1, sizeof *up);
	if (!up)
		return NULL;
	up->r = shared->r;
	up->index = shared->index;
	up->subscriptions = json_object();
	if (!up->subscriptions) {
		free(up);
		return NULL;
	}
	memcpy(up->name, shared->name, sizeof up->name);
	memcpy(up->ns, shared->ns, sizeof up->ns);
	up->timeout_ms = shared->timeout_ms;
	/* Sent once it is initialized (restore_state), like the shared process was told. */
	up->log_level = shared->log_level;
	snprintf(up->session, sizeof up->session, "%s", sid);
	snprintf(up->last_error, sizeof up->last_error, "its process for this session is starting");
	line_reader_init(&up->lines, UPSTREAM_LINE_MAX);
	up->spawn_ms = up->last_used_ms = now_ms();
	return up;
}

struct upstream *upstream_by_name(struct router *r, const char *name)
{
	for (size_t i = 0; i < r->n_ups; i++)
		if (strcmp(r->ups[i]->name, name) == 0)
			return r->ups[i];
	return NULL;
}

bool upstream_has_cap(const struct upstream *up, const char *cap, const char *sub)
{
	json_t *c = json_object_get(up->caps, cap);
	if (!c)
		return false;
	return !sub || json_is_true(json_object_get(c, sub));
}

/* ---- outstanding requests ---- */

static void outreq_free(struct outreq *o)
{
	if (o->timer)
		event_free(o->timer);
	if (o->queued) {
		json_decref(o->queued);
		if (o->up->queued)
			o->up->queued--;
	}
	free(o);
}

bool outreq_held(struct router *r, uint64_t rid)
{
	struct outreq *o = idmap_get(&r->outreqs, rid);
	return o && o->queued;
}

void outreq_forget(struct router *r, uint64_t rid)
{
	struct outreq *o = idmap_del(&r->outreqs, rid);
	if (o)
		outreq_free(o);
}

static void outreq_complete(struct router *r, struct outreq *o, json_t *response,
                            const char *failure)
{
	idmap_del(&r->outreqs, o->rid);
	outreq_done_fn done = o->done;
	void *arg = o->arg;
	struct upstream *up = o->up;
	outreq_free(o);
	if (done)
		done(up, response, failure, arg);
}

static void on_outreq_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct outreq *o = arg;
	log_warn("upstream_request_timeout", LOG_STR("upstream", o->up->name),
	         LOG_STR("method", o->method));
	upstream_cancel(o->up, o->rid, "timed out");
	outreq_complete(o->up->r, o, NULL, "the server did not answer in time");
}

struct collected {
	struct upstream *up;
	struct outreq **list;
	size_t n, cap;
};

static void collect_outreqs(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct collected *c = arg;
	struct outreq *o = value;
	if (o->up != c->up)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct outreq **l = realloc(c->list, cap * sizeof *l);
		if (!l)
			return;
		c->list = l;
		c->cap = cap;
	}
	c->list[c->n++] = o;
}

static void fail_outreqs(struct upstream *up, const char *why)
{
	struct collected c = { .up = up };
	idmap_each(&up->r->outreqs, collect_outreqs, &c);
	for (size_t i = 0; i < c.n; i++)
		outreq_complete(up->r, c.list[i], NULL, why);
	free(c.list);
}

/* ---- the link ---- */

static int write_msg(struct upstream *up, const json_t *msg)
{
	if (!up->bev)
		return -1;
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -1;
	int rc = bufferevent_write(up->bev, text, strlen(text)) == 0 &&
	         bufferevent_write(up->bev, "\n", 1) == 0 ? 0 : -1;
	free(text);
	return rc;
}

int upstream_send(struct upstream *up, json_t *msg)
{
	int rc = msg ? write_msg(up, msg) : -1;
	json_decref(msg);
	return rc;
}

struct outreq *upstream_request_id(struct upstream *up, uint64_t rid, const char *method,
                                   json_t *params, outreq_done_fn done, void *arg,
                                   uint32_t timeout_ms, const char **why)
{
	struct router *r = up->r;
	if (!up->bev) {
		*why = "the server is not connected";
		json_decref(params);
		return NULL;
	}
	if (evbuffer_get_length(bufferevent_get_output(up->bev)) > UPSTREAM_OUTPUT_MAX) {
		*why = "the server is not reading its input (too much queued)";
		json_decref(params);
		return NULL;
	}
	struct outreq *o = calloc(1, sizeof *o);
	if (!o) {
		*why = "out of memory";
		json_decref(params);
		return NULL;
	}
	o->rid = rid ? rid : router_next_id(r);
	o->up = up;
	o->generation = up->generation;
	o->done = done;
	o->arg = arg;
	snprintf(o->method, sizeof o->method, "%s", method);
	json_t *msg = jrpc_request((json_int_t)o->rid, method, params);
	if (timeout_ms) {
		o->timer = evtimer_new(r->base, on_outreq_timeout, o);
		struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
		if (o->timer)
			evtimer_add(o->timer, &tv);
	}
	if (!msg || write_msg(up, msg) != 0 || idmap_put(&r->outreqs, o->rid, o) != 0) {
		json_decref(msg);
		outreq_free(o);
		*why = "could not queue the request";
		return NULL;
	}
	json_decref(msg);
	return o;
}

struct outreq *upstream_request(struct upstream *up, const char *method, json_t *params,
                                outreq_done_fn done, void *arg, uint32_t timeout_ms,
                                const char **why)
{
	return upstream_request_id(up, 0, method, params, done, arg, timeout_ms, why);
}

struct outreq *upstream_enqueue(struct upstream *up, uint64_t rid, const char *method,
                                json_t *params, outreq_done_fn done, void *arg, const char **why)
{
	struct router *r = up->r;
	if (up->queued >= PER_SESSION_QUEUE_MAX) {
		*why = "too many calls are waiting for this session's process to start";
		json_decref(params);
		return NULL;
	}
	struct outreq *o = calloc(1, sizeof *o);
	if (!o) {
		*why = "out of memory";
		json_decref(params);
		return NULL;
	}
	o->rid = rid ? rid : router_next_id(r);
	o->up = up;
	o->done = done;
	o->arg = arg;
	snprintf(o->method, sizeof o->method, "%s", method);
	o->queued = jrpc_request((json_int_t)o->rid, method, params);
	if (!o->queued || idmap_put(&r->outreqs, o->rid, o) != 0) {
		json_decref(o->queued);
		free(o);
		*why = "could not queue the request";
		return NULL;
	}
	up->queued++;
	return o;
}

static int by_rid(const void *a, const void *b)
{
	uint64_t x = (*(struct outreq *const *)a)->rid, y = (*(struct outreq *const *)b)->rid;
	return x < y ? -1 : x > y;
}

/* The session's process is ready: what waited for it goes out, oldest first. */
static void flush_held(struct upstream *up)
{
	struct collected c = { .up = up };
	idmap_each(&up->r->outreqs, collect_outreqs, &c);
	if (c.n == 0)
		return;
	qsort(c.list, c.n, sizeof *c.list, by_rid);
	uint64_t *rids = malloc(c.n * sizeof *rids);
	size_t n = rids ? c.n : 0;
	for (size_t i = 0; i < n; i++)
		rids[i] = c.list[i]->rid;
	free(c.list);
	if (!rids) {
		fail_outreqs(up, "out of memory");
		return;
	}
	uint32_t gen = up->generation;
	/* Looked up again each time: a failure's callback may finish other calls. */
	for (size_t i = 0; i < n && up->generation == gen; i++) {
		struct outreq *o = idmap_get(&up->r->outreqs, rids[i]);
		if (!o || o->up != up || !o->queued)
			continue;
		json_t *msg = o->queued;
		o->queued = NULL;
		up->queued--;
		o->generation = up->generation;
		int rc = write_msg(up, msg);
		json_decref(msg);
		if (rc != 0)
			outreq_complete(up->r, o, NULL, "could not send the request to the server");
	}
	free(rids);
}

void upstream_cancel(struct upstream *up, uint64_t rid, const char *reason)
{
	if (outreq_held(up->r, rid))
		return; /* never sent: the server has nothing to cancel */
	upstream_send(up, jrpc_notification("notifications/cancelled",
		json_pack("{s:I, s:s}", "requestId", (json_int_t)rid, "reason", reason)));
}

static void detach(struct upstream *up, const char *why)
{
	if (up->bev) {
		bufferevent_free(up->bev); /* closes the fd */
		up->bev = NULL;
	}
	bool was_up = up->state != UPSTREAM_DOWN;
	up->state = UPSTREAM_DOWN;
	up->generation++;
	snprintf(up->last_error, sizeof up->last_error, "%s", why);
	for (int k = 0; k < LIST_KINDS; k++) {
		json_decref(up->partial[k]);
		up->partial[k] = NULL;
		up->fetching[k] = up->refetch[k] = false;
	}
	up->probing = false;
	if (was_up && !up->session[0]) /* a session's process: persession.c says why it ended */
		log_warn("upstream_down", LOG_STR("upstream", up->name), LOG_STR("reason", why));
	/* Every call in flight fails now, with a clear error, rather than at its timeout. */
	fail_outreqs(up, why);
	up->settled = true;
	if (up->session[0]) {
		persession_retire(up, why); /* never relinked: a later call asks for a new one */
		return;
	}
	router_check_warm(up->r);
}

void upstream_disconnect(struct upstream *up, const char *why)
{
	detach(up, why);
}

void upstream_free(struct upstream *up)
{
	detach(up, "removed from the configuration");
	for (int k = 0; k < LIST_KINDS; k++)
		json_decref(up->lists[k]);
	json_decref(up->caps);
	json_decref(up->server_info);
	json_decref(up->instructions);
	json_decref(up->subscriptions);
	free(up);
}

/* ---- messages from the server ---- */

static void on_response(struct upstream *up, json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	struct outreq *o = json_is_integer(id) ? idmap_get(&up->r->outreqs, (uint64_t)json_integer_value(id)) : NULL;
	if (!o || o->up != up || o->generation != up->generation) {
		log_debug("upstream_stray_response", LOG_STR("upstream", up->name));
		return;
	}
	outreq_complete(up->r, o, msg, NULL);
}

static void on_notification(struct upstream *up, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");
	if (strcmp(method, "notifications/progress") == 0)
		calls_upstream_progress(up, params);
	else if (strcmp(method, "notifications/message") == 0)
		calls_upstream_log(up, msg);
	else if (strcmp(method, "notifications/cancelled") == 0)
		calls_upstream_cancelled(up, params);
	else if (strcmp(method, "notifications/tools/list_changed") == 0)
		fetch_list(up, LIST_TOOLS);
	else if (strcmp(method, "notifications/prompts/list_changed") == 0)
		fetch_list(up, LIST_PROMPTS);
	else if (strcmp(method, "notifications/resources/list_changed") == 0) {
		fetch_list(up, LIST_RESOURCES);
		fetch_list(up, LIST_TEMPLATES);
	} else if (strcmp(method, "notifications/resources/updated") == 0)
		fanout_resource_updated(up->r, up, params);
	else
		log_debug("upstream_notification_ignored", LOG_STR("upstream", up->name),
		          LOG_STR("method", method));
}

static void on_message(struct upstream *up, json_t *msg)
{
	switch (jrpc_classify(msg)) {
	case JRPC_RESPONSE:
		on_response(up, msg);
		break;
	case JRPC_NOTIFICATION:
		on_notification(up, msg);
		break;
	case JRPC_REQUEST:
		if (strcmp(json_string_value(json_object_get(msg, "method")), "ping") == 0)
			upstream_send(up, jrpc_result(json_object_get(msg, "id"), json_object()));
		else
			calls_upstream_request(up, msg);
		break;
	case JRPC_INVALID:
		log_warn("upstream_invalid_message", LOG_STR("upstream", up->name));
		break;
	}
}

static void on_line(struct upstream *up, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		log_warn("upstream_bad_json", LOG_STR("upstream", up->name), LOG_STR("reason", jerr.text));
		return;
	}
	if (json_is_array(doc)) {
		uint32_t gen = up->generation;
		size_t i;
		json_t *m;
		json_array_foreach(doc, i, m) {
			if (up->generation != gen)
				break;
			on_message(up, m);
		}
	} else {
		on_message(up, doc);
	}
	json_decref(doc);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct upstream *up = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint32_t gen = up->generation;
	for (;;) {
		char *line = NULL;
		size_t len = 0;
		enum line_result res = line_next(&up->lines, in, &line, &len);
		if (res == LINE_NONE)
			return;
		if (res == LINE_DROPPED) {
			log_warn("upstream_line_too_long", LOG_STR("upstream", up->name),
			         LOG_INT("bytes", len), LOG_INT("max", UPSTREAM_LINE_MAX));
			continue;
		}
		if (res == LINE_NOMEM) {
			log_error("upstream_line_nomem", LOG_STR("upstream", up->name), LOG_INT("bytes", len));
			return;
		}
		on_line(up, line, len);
		free(line);
		if (up->generation != gen)
			return; /* the link was replaced or lost while handling that line */
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct upstream *up = arg;
	char why[200];
	if ((what & BEV_EVENT_EOF) && up->session[0]) {
		snprintf(why, sizeof why, "its process for this session exited (the session's next "
		         "call starts a new one)");
		if (!up->r->draining)
			log_warn("per_session_process_exited", LOG_STR("upstream", up->name),
			         LOG_STR("session", up->session), LOG_INT("calls_failed", up->calls));
	} else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof why, "the server closed its link (it exited or is restarting)");
	else
		snprintf(why, sizeof why, "link error: %s", strerror(errno));
	detach(up, why);
}

/* ---- lists ---- */

static const char *const list_caps[LIST_KINDS] = { "tools", "prompts", "resources", "resources" };

static void maybe_settled(struct upstream *up)
{
	if (up->probing)
		return;
	for (int k = 0; k < LIST_KINDS; k++)
		if (up->fetching[k])
			return;
	if (!up->settled) {
		up->settled = true;
		router_check_warm(up->r);
	}
}

static void request_page(struct upstream *up, enum list_kind kind, const char *cursor);

static void on_page(struct upstream *up, json_t *resp, const char *failure, void *arg)
{
	enum list_kind kind = (enum list_kind)(intptr_t)arg;
	json_t *result = resp ? json_object_get(resp, "result") : NULL;
	json_t *items = json_object_get(result, catalog_list_key(kind));
	if (!json_is_array(items)) {
		const char *msg = failure ? failure :
			json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
		log_warn("upstream_list_failed", LOG_STR("upstream", up->name),
		         LOG_STR("method", catalog_list_method(kind)),
		         LOG_STR("reason", msg ? msg : "no list in the result"));
		json_decref(up->partial[kind]);
		up->partial[kind] = NULL;
		up->fetching[kind] = false;
		maybe_settled(up);
		return;
	}
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		if (json_array_size(up->partial[kind]) < CATALOG_MAX_ITEMS)
			json_array_append(up->partial[kind], item);
	}
	const char *next = json_string_value(json_object_get(result, "nextCursor"));
	if (next && next[0] && ++up->pages[kind] < UPSTREAM_LIST_MAX_PAGES) {
		request_page(up, kind, next);
		return;
	}
	if (next && next[0])
		log_warn("upstream_list_truncated", LOG_STR("upstream", up->name),
		         LOG_STR("method", catalog_list_method(kind)), LOG_INT("pages", UPSTREAM_LIST_MAX_PAGES));
	json_decref(up->lists[kind]);
	up->lists[kind] = up->partial[kind];
	up->partial[kind] = NULL;
	up->fetching[kind] = false;
	router_catalog_changed(up->r);
	if (up->refetch[kind]) {
		up->refetch[kind] = false;
		fetch_list(up, kind);
	}
	maybe_settled(up);
}

static void request_page(struct upstream *up, enum list_kind kind, const char *cursor)
{
	const char *why;
	json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : json_object();
	if (!upstream_request(up, catalog_list_method(kind), params, on_page, (void *)(intptr_t)kind,
	                      UPSTREAM_INTERNAL_TIMEOUT_MS, &why)) {
		log_warn("upstream_list_failed", LOG_STR("upstream", up->name),
		         LOG_STR("method", catalog_list_method(kind)), LOG_STR("reason", why));
		json_decref(up->partial[kind]);
		up->partial[kind] = NULL;
		up->fetching[kind] = false;
	}
}

static void fetch_list(struct upstream *up, enum list_kind kind)
{
	if (up->state != UPSTREAM_READY || up->session[0])
		return; /* the next initialize fetches everything anyway; the catalog is the shared
		         * process's, never a session's own */
	if (up->fetching[kind]) {
		up->refetch[kind] = true;
		return;
	}
	up->partial[kind] = json_array();
	if (!up->partial[kind])
		return;
	up->fetching[kind] = true;
	up->pages[kind] = 0;
	request_page(up, kind, NULL);
}

/* ---- initialize ---- */

static void ignore_answer(struct upstream *up, json_t *resp, const char *failure, void *arg)
{
	const char *what = arg;
	json_t *err = resp ? json_object_get(resp, "error") : NULL;
	if (failure || err)
		log_warn("upstream_request_failed", LOG_STR("upstream", up->name), LOG_STR("method", what),
		         LOG_STR("reason", failure ? failure : json_string_value(json_object_get(err, "message"))));
}

static void restore_state(struct upstream *up)
{
	int level = up->log_level;
	up->log_level = -1;
	if (level >= 0)
		upstream_want_log_level(up, level);
	const char *uri;
	json_t *count;
	const char *why;
	json_object_foreach(up->subscriptions, uri, count) {
		if (upstream_has_cap(up, "resources", "subscribe"))
			upstream_request(up, "resources/subscribe", json_pack("{s:s}", "uri", uri),
			                 ignore_answer, "resources/subscribe", UPSTREAM_INTERNAL_TIMEOUT_MS, &why);
	}
}

/* Whether the server also speaks 2026-07-28: then a stateless client's requests go to it as
 * they are, and it runs its own input-required round trips. */
static void on_discover(struct upstream *up, json_t *resp, const char *failure, void *arg)
{
	(void)arg;
	(void)failure;
	json_t *versions = json_object_get(json_object_get(resp, "result"), "supportedVersions");
	size_t i;
	json_t *v;
	up->modern = false;
	json_array_foreach(versions, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), MCP_VERSION_STATELESS) == 0)
			up->modern = true;
	up->probing = false;
	log_info("upstream_protocols", LOG_STR("upstream", up->name),
	         LOG_STR("stateless_requests", up->modern ? "passed through" : "bridged by the router"));
	maybe_settled(up);
}

static void probe_modern(struct upstream *up)
{
	const char *why;
	json_t *params = json_pack("{s:{s:s, s:{s:{}, s:{}, s:{s:b}}, s:{s:s, s:s}}}", "_meta",
		META_PROTOCOL_VERSION, MCP_VERSION_STATELESS,
		META_CLIENT_CAPS, "sampling", "elicitation", "roots", "listChanged", 1,
		META_CLIENT_INFO, "name", ROUTER_SERVER_NAME, "version", MCPGATE_VERSION);
	up->probing = upstream_request(up, "server/discover", params, on_discover, NULL,
	                               UPSTREAM_INTERNAL_TIMEOUT_MS, &why) != NULL;
}

static void init_failed(struct upstream *up, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void init_failed(struct upstream *up, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	up->state = UPSTREAM_DOWN;
	vsnprintf(up->last_error, sizeof up->last_error, fmt, ap);
	va_end(ap);
	if (up->session[0]) {
		/* A session's process that cannot serve is of no use: its calls fail, it stops. */
		log_error("per_session_initialize_failed", LOG_STR("upstream", up->name),
		          LOG_STR("session", up->session), LOG_STR("reason", up->last_error));
		char why[sizeof up->last_error];
		memcpy(why, up->last_error, sizeof why);
		detach(up, why);
		return;
	}
	log_error("upstream_initialize_failed", LOG_STR("upstream", up->name),
	          LOG_STR("reason", up->last_error));
	up->settled = true;
	router_check_warm(up->r);
}

static void on_initialized(struct upstream *up, json_t *resp, const char *failure, void *arg)
{
	(void)arg;
	json_t *result = resp ? json_object_get(resp, "result") : NULL;
	if (failure) {
		init_failed(up, "initialize failed: %s", failure);
		return;
	}
	if (!json_is_object(result)) {
		const char *msg = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
		init_failed(up, "initialize refused: %s", msg ? msg : "no result");
		return;
	}
	const char *pv = json_string_value(json_object_get(result, "protocolVersion"));
	if (!pv || !mcp_version_supported(pv, strlen(pv)) || strcmp(pv, MCP_VERSION_STATELESS) == 0) {
		init_failed(up, "the server answered with protocol version \"%s\", which mcpgate "
		            "does not speak to servers", pv ? pv : "(none)");
		return;
	}
	snprintf(up->protocol, sizeof up->protocol, "%s", pv);
	json_t *caps = json_object_get(result, "capabilities");
	json_decref(up->caps);
	up->caps = json_is_object(caps) ? json_deep_copy(caps) : json_object();
	json_decref(up->server_info);
	up->server_info = json_deep_copy(json_object_get(result, "serverInfo"));
	json_decref(up->instructions);
	json_t *ins = json_object_get(result, "instructions");
	up->instructions = json_is_string(ins) ? json_incref(ins) : NULL;

	upstream_send(up, jrpc_notification("notifications/initialized", NULL));
	up->state = UPSTREAM_READY;
	up->last_error[0] = '\0';
	log_info("upstream_ready", LOG_STR("upstream", up->name), LOG_STR("protocol", pv),
	         LOG_STR("server", json_string_value(json_object_get(up->server_info, "name"))));
	restore_state(up);
	if (up->session[0]) {
		/* Stateless requests never reach a session's process, and the catalog comes from
		 * the shared one: only the held calls remain to send. */
		log_info("per_session_ready", LOG_STR("upstream", up->name), LOG_STR("session", up->session),
		         LOG_INT("held_calls", up->queued));
		flush_held(up);
		return;
	}
	probe_modern(up);
	for (int k = 0; k < LIST_KINDS; k++) {
		if (upstream_has_cap(up, list_caps[k], NULL)) {
			fetch_list(up, (enum list_kind)k);
		} else {
			/* The capability is gone: so are its items. */
			json_decref(up->lists[k]);
			up->lists[k] = json_array();
		}
	}
	router_catalog_changed(up->r);
	maybe_settled(up);
}

void upstream_attach(struct upstream *up, int fd)
{
	struct router *r = up->r;
	if (up->bev)
		detach(up, "the link was replaced (the server restarted)");
	if (evutil_make_socket_nonblocking(fd) != 0 || evutil_make_socket_closeonexec(fd) != 0) {
		log_error("upstream_link_unusable", LOG_STR("upstream", up->name),
		          LOG_STR("error", strerror(errno)));
		close(fd);
		return;
	}
	up->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!up->bev) {
		close(fd);
		init_failed(up, "%s", "out of memory for the link");
		return;
	}
	bufferevent_setcb(up->bev, on_read, NULL, on_event, up);
	bufferevent_enable(up->bev, r->congested ? EV_WRITE : EV_READ | EV_WRITE);
	line_reader_init(&up->lines, UPSTREAM_LINE_MAX);
	up->generation++;
	up->linked_once = true;
	up->modern = false;
	up->probing = false;
	up->state = UPSTREAM_INITIALIZING;
	snprintf(up->last_error, sizeof up->last_error, "initializing");
	log_info("upstream_linked", LOG_STR("upstream", up->name));
	json_t *params = json_pack("{s:s, s:{s:{}, s:{}, s:{s:b}}, s:{s:s, s:s}}",
		"protocolVersion", UPSTREAM_PROTOCOL,
		"capabilities", "sampling", "elicitation", "roots", "listChanged", 1,
		"clientInfo", "name", ROUTER_SERVER_NAME, "version", MCPGATE_VERSION);
	const char *why;
	if (!upstream_request(up, "initialize", params, on_initialized, NULL,
	                      UPSTREAM_INTERNAL_TIMEOUT_MS, &why))
		init_failed(up, "initialize not sent: %s", why);
}

/* ---- state the router keeps for its clients ---- */

void upstream_want_log_level(struct upstream *up, int level)
{
	if (up->log_level >= 0 && up->log_level <= level)
		return;
	up->log_level = level;
	if (up->state != UPSTREAM_READY || !upstream_has_cap(up, "logging", NULL))
		return;
	const char *why;
	upstream_request(up, "logging/setLevel", json_pack("{s:s}", "level", mcp_level_name(level)),
	                 ignore_answer, "logging/setLevel", UPSTREAM_INTERNAL_TIMEOUT_MS, &why);
}

void upstream_subscribe(struct upstream *up, const char *uri, bool on)
{
	json_int_t n = json_integer_value(json_object_get(up->subscriptions, uri));
	if (!on && n == 0)
		return;
	n += on ? 1 : -1;
	if (n > 0)
		json_object_set_new(up->subscriptions, uri, json_integer(n));
	else
		json_object_del(up->subscriptions, uri);
	/* Only the first subscriber and the last to leave are the server's business. */
	if ((on && n != 1) || (!on && n != 0))
		return;
	if (up->state != UPSTREAM_READY || !upstream_has_cap(up, "resources", "subscribe"))
		return;
	const char *method = on ? "resources/subscribe" : "resources/unsubscribe";
	const char *why;
	upstream_request(up, method, json_pack("{s:s}", "uri", uri), ignore_answer, (void *)method,
	                 UPSTREAM_INTERNAL_TIMEOUT_MS, &why);
}

static void pause_one(struct upstream *up, bool paused)
{
	if (!up->bev)
		return;
	if (paused)
		bufferevent_disable(up->bev, EV_READ);
	else
		bufferevent_enable(up->bev, EV_READ);
}

static void pause_instance(uint64_t key, void *value, void *arg)
{
	(void)key;
	pause_one(value, *(bool *)arg);
}

void upstreams_pause(struct router *r, bool paused)
{
	for (size_t i = 0; i < r->n_ups; i++)
		pause_one(r->ups[i], paused);
	idmap_each(&r->instances, pause_instance, &paused);
}
