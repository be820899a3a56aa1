/* Notifications that are not part of a call: list changes and resource updates, sent to the
 * sessions that have a standalone stream (and subscribed, for updates) and to the 2026-07-28
 * listen streams whose filter asked for them. */
#include "router.h"

#include <string.h>

#include "jsonrpc.h"
#include "log.h"

int session_notify(struct router *r, struct session *s, json_t *msg)
{
	struct stream *st = stream_find(r, s->get_stream);
	if (!st)
		return -1;
	return stream_send(r, st, msg, false, NULL);
}

/* The same notification tagged with a listen stream's subscription id. */
static void listen_send(struct router *r, struct stream *st, const char *method, const json_t *params)
{
	json_t *p = params ? json_deep_copy(params) : json_object();
	json_t *meta = json_pack("{s:s}", META_SUBSCRIPTION_ID, st->subscription_id);
	if (!p || !meta) {
		json_decref(p);
		json_decref(meta);
		return;
	}
	json_object_set_new(p, "_meta", meta);
	json_t *msg = jrpc_notification(method, p);
	if (msg)
		stream_send(r, st, msg, false, NULL);
	json_decref(msg);
}

struct fan {
	struct router *r;
	const char *method;
	const json_t *params;
	const char *uri;        /* resources/updated only */
	struct upstream *up;
	const char *only_sid;   /* from a session's own process: that session alone */
	unsigned sent;
};

static void fan_session(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct fan *f = arg;
	struct session *s = value;
	if (!s->get_stream)
		return;
	if (f->only_sid && strcmp(s->sid, f->only_sid) != 0)
		return;
	if (f->uri && !json_object_get(s->subscriptions, f->uri))
		return;
	json_t *msg = jrpc_notification(f->method, f->params ? json_deep_copy(f->params) : NULL);
	if (msg && session_notify(f->r, s, msg) == 0)
		f->sent++;
	json_decref(msg);
}

static void fan_listen(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct fan *f = arg;
	struct stream *st = value;
	if (st->kind != STREAM_LISTEN || !listen_wants(st, f->method, f->uri))
		return;
	listen_send(f->r, st, f->method, f->params);
	f->sent++;
}

void fanout_list_changed(struct router *r, enum list_kind kind)
{
	struct fan f = { .r = r, .method = catalog_changed_method(kind) };
	idmap_each(&r->sessions, fan_session, &f);
	idmap_each(&r->streams, fan_listen, &f);
	log_debug("list_changed_sent", LOG_STR("method", f.method), LOG_INT("streams", f.sent));
}

void fanout_resource_updated(struct router *r, struct upstream *up, json_t *params)
{
	const char *uri = json_string_value(json_object_get(params, "uri"));
	size_t owner;
	if (!uri)
		return;
	/* Only the upstream that serves the URI speaks for it (a session's own process only
	 * for what its session subscribed to with it). */
	bool owns = !up->session[0] && catalog_route_uri(&r->catalog, uri, &owner) &&
	            owner == up->index;
	if (!owns && !json_object_get(up->subscriptions, uri)) {
		log_debug("resource_update_ignored", LOG_STR("upstream", up->name), LOG_STR("uri", uri));
		return;
	}
	json_t *p = json_pack("{s:s}", "uri", uri);
	json_t *title = json_object_get(params, "title");
	if (p && json_is_string(title))
		json_object_set(p, "title", title);
	struct fan f = { .r = r, .method = "notifications/resources/updated", .params = p,
	                 .uri = uri, .up = up, .only_sid = up->session[0] ? up->session : NULL };
	idmap_each(&r->sessions, fan_session, &f);
	if (!f.only_sid)
		idmap_each(&r->streams, fan_listen, &f);
	json_decref(p);
}
