/* Servers configured "per_session" keep state that must not cross client sessions, so every
 * session gets a process of its own: asked of the supervisor (FRAME_SPAWN) at the session's
 * first call, linked as "upstream:NAME#SID", then driven like any upstream (upstream.c) but
 * kept out of r->ups, since the catalog stays the shared process's. Calls made before it is
 * ready are held. It stops when its session ends or leaves the cache, or after
 * PER_SESSION_IDLE_MS without calls. One that dies is not restarted: its calls fail, and the
 * session's next call asks for a new one. Stateless 2026-07-28 requests have no session, so
 * their calls to such a server are refused (-32600, naming the server and why); its tools
 * are still listed to them, and its resources are not granted to subscriptions/listen. */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonrpc.h"
#include "log.h"
#include "names.h"

#define INSTANCE_NAME_MAX (sizeof ((struct upstream *)0)->name)

static uint64_t instance_key(const char *name, const char *sid)
{
	char text[INSTANCE_NAME_MAX + 1 + SESSION_ID_HEX + 1];
	int n = snprintf(text, sizeof text, "%s#%s", name, sid);
	return name_hash(text, n > 0 && (size_t)n < sizeof text ? (size_t)n : strlen(text));
}

static struct upstream *instance_find(struct router *r, const char *name, const char *sid)
{
	struct upstream *up = idmap_get(&r->instances, instance_key(name, sid));
	return up && strcmp(up->name, name) == 0 && strcmp(up->session, sid) == 0 ? up : NULL;
}

static int spawn_send(const char *op, const char *name, const char *sid)
{
	json_t *meta = json_pack("{s:s, s:s, s:s}", "op", op, "server", name, "session", sid);
	char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	json_decref(meta);
	int rc = text ? role_control_send(FRAME_SPAWN, text, NULL) : -1;
	free(text);
	if (rc != 0)
		log_error("per_session_spawn_not_sent", LOG_STR("op", op), LOG_STR("upstream", name),
		          LOG_STR("session", sid));
	return rc;
}

/* The session's subscriptions to this server's resources live in its own process: a new
 * process is told about them once it is initialized (upstream.c restore_state). */
static void carry_subscriptions(struct router *r, struct upstream *shared, struct upstream *up)
{
	struct session *s = session_find(r, up->session);
	const char *uri;
	json_t *v;
	if (!s)
		return;
	json_object_foreach(s->subscriptions, uri, v) {
		size_t owner;
		if (catalog_route_uri(&r->catalog, uri, &owner) && owner == shared->index)
			json_object_set_new(up->subscriptions, uri, json_integer(1));
	}
}

struct upstream *persession_get(struct router *r, struct upstream *shared, const char *sid,
                                bool start, const char **why)
{
	struct upstream *up = instance_find(r, shared->name, sid);
	if (up || !start)
		return up;
	uint64_t key = instance_key(shared->name, sid);
	if (idmap_get(&r->instances, key)) {
		*why = "its table of session processes has a clash; retry with a new session";
		return NULL;
	}
	up = upstream_new_instance(shared, sid);
	if (!up) {
		*why = "out of memory";
		return NULL;
	}
	if (idmap_put(&r->instances, key, up) != 0 || spawn_send("start", up->name, sid) != 0) {
		idmap_del(&r->instances, key);
		up->retired = true; /* nothing was started: nothing to stop */
		upstream_free(up);
		*why = "the supervisor could not be asked for a process";
		return NULL;
	}
	carry_subscriptions(r, shared, up);
	log_info("per_session_spawn_requested", LOG_STR("upstream", up->name), LOG_STR("session", sid));
	return up;
}

struct upstream *persession_route(struct request_ctx *ctx, const json_t *id,
                                  struct upstream *shared)
{
	char text[400];
	if (ctx->stateless || !ctx->sess) {
		/* 2026-07-28 requests carry no session, and this server's state must not be shared
		 * between callers: there is no process that may serve them. */
		snprintf(text, sizeof text, "upstream '%s' keeps state per client session (\"per_session\" "
		         "in the gateway's configuration), so it serves only requests in a session: "
		         "initialize a session (protocol 2025-11-25 or earlier) and call it with the "
		         "Mcp-Session-Id; stateless 2026-07-28 requests cannot reach it", shared->name);
		reply_error(ctx, id, RPC_INVALID_REQUEST, text,
		            json_pack("{s:s, s:s}", "upstream", shared->name, "reason", "per_session"));
		return NULL;
	}
	const char *why = "unknown";
	struct upstream *up = persession_get(ctx->r, shared, ctx->sess->sid, true, &why);
	if (!up) {
		snprintf(text, sizeof text, "upstream '%s' could not get a process for this session: %s",
		         shared->name, why);
		reply_error(ctx, id, RPC_INTERNAL_ERROR, text, json_pack("{s:s}", "upstream", shared->name));
		return NULL;
	}
	up->last_used_ms = now_ms();
	return up;
}

void persession_link(struct router *r, const char *name_sid, int fd)
{
	const char *hash = strchr(name_sid, '#');
	struct upstream *up = NULL;
	if (hash && (size_t)(hash - name_sid) < INSTANCE_NAME_MAX) {
		char name[INSTANCE_NAME_MAX];
		memcpy(name, name_sid, (size_t)(hash - name_sid));
		name[hash - name_sid] = '\0';
		up = instance_find(r, name, hash + 1);
	}
	if (!up || up->bev) {
		/* Its session ended meanwhile (the stop is on its way), or it is another router's:
		 * the supervisor hands every router a copy. Our copy is simply closed. */
		log_info("per_session_link_unclaimed", LOG_STR("link", name_sid),
		         LOG_STR("reason", up ? "already linked" : "no such session process here"));
		close(fd);
		return;
	}
	log_info("per_session_linked", LOG_STR("upstream", up->name), LOG_STR("session", up->session),
	         LOG_INT("ms", now_ms() - up->spawn_ms), LOG_INT("held_calls", up->queued));
	upstream_attach(up, fd);
	if (!up->bev && !up->retired) /* the fd was unusable (upstream.c logged why) */
		persession_retire(up, "the link to its process for this session was unusable");
}

void persession_status(struct router *r, const json_t *status)
{
	const json_t *failed = json_object_get(status, "spawn_failed");
	const char *server = json_string_value(json_object_get(failed, "server"));
	const char *sid = json_string_value(json_object_get(failed, "session"));
	const char *reason = json_string_value(json_object_get(failed, "reason"));
	if (!server || !sid)
		return;
	log_warn("per_session_spawn_failed", LOG_STR("upstream", server), LOG_STR("session", sid),
	         LOG_STR("reason", reason));
	struct upstream *up = instance_find(r, server, sid);
	if (!up || up->bev)
		return; /* not the process we are waiting for */
	char why[300];
	snprintf(why, sizeof why, "the supervisor could not start a process for this session: %s",
	         reason ? reason : "no reason given");
	persession_retire(up, why);
}

void persession_retire(struct upstream *up, const char *why)
{
	if (up->retired)
		return;
	struct router *r = up->r;
	up->retired = true;
	uint64_t key = instance_key(up->name, up->session);
	if (idmap_get(&r->instances, key) == up)
		idmap_del(&r->instances, key);
	/* Also when it already died: the supervisor may not have reaped it yet, and a stop now
	 * keeps that from refusing the session's next process as "already running". Not while
	 * draining: the supervisor is stopping every process anyway. */
	if (!r->draining)
		spawn_send("stop", up->name, up->session);
	log_info("per_session_stopped", LOG_STR("upstream", up->name), LOG_STR("session", up->session),
	         LOG_STR("reason", why));
	up->buried_next = r->buried;
	r->buried = up;
	/* Last: the failed calls' callbacks must find it out of the table already. */
	upstream_disconnect(up, why);
}

/* ---- walking the table (collected first: retiring changes it) ---- */

struct instance_list {
	struct upstream **list;
	size_t n, cap;
	bool (*want)(const struct upstream *up, const void *arg, uint64_t now);
	const void *arg;
	uint64_t now;
};

static void collect_instance(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct instance_list *l = arg;
	struct upstream *up = value;
	if (!l->want(up, l->arg, l->now))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct upstream **list = realloc(l->list, cap * sizeof *list);
		if (!list)
			return;
		l->list = list;
		l->cap = cap;
	}
	l->list[l->n++] = up;
}

static void retire_matching(struct router *r, bool (*want)(const struct upstream *, const void *, uint64_t),
                            const void *arg, const char *why)
{
	struct instance_list l = { .want = want, .arg = arg, .now = now_ms() };
	idmap_each(&r->instances, collect_instance, &l);
	for (size_t i = 0; i < l.n; i++)
		persession_retire(l.list[i], why);
	free(l.list);
}

static bool of_session(const struct upstream *up, const void *sid, uint64_t now)
{
	(void)now;
	return strcmp(up->session, sid) == 0;
}

static bool of_server(const struct upstream *up, const void *name, uint64_t now)
{
	(void)now;
	return strcmp(up->name, name) == 0;
}

void persession_session_gone(struct router *r, const char *sid, const char *why)
{
	if (idmap_count(&r->instances))
		retire_matching(r, of_session, sid, why);
}

void persession_server_gone(struct router *r, const char *name, const char *why)
{
	if (idmap_count(&r->instances))
		retire_matching(r, of_server, name, why);
}

struct level_change {
	const char *sid;
	int level;
};

static void set_level(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct upstream *up = value;
	const struct level_change *lc = arg;
	if (strcmp(up->session, lc->sid) == 0)
		upstream_want_log_level(up, lc->level);
}

void persession_log_level(struct router *r, const char *sid, int level)
{
	struct level_change lc = { .sid = sid, .level = level };
	idmap_each(&r->instances, set_level, &lc);
}

static bool idle(const struct upstream *up, const void *arg, uint64_t now)
{
	(void)arg;
	/* A subscription keeps it: the session waits for updates only its process sends. */
	return up->bev && up->calls == 0 && up->queued == 0 &&
	       json_object_size(up->subscriptions) == 0 && now - up->last_used_ms > PER_SESSION_IDLE_MS;
}

static bool never_linked(const struct upstream *up, const void *arg, uint64_t now)
{
	(void)arg;
	return !up->bev && now - up->spawn_ms > PER_SESSION_SPAWN_MS;
}

void persession_sweep(struct router *r)
{
	while (r->buried) {
		struct upstream *up = r->buried;
		r->buried = up->buried_next;
		relays_forget_upstream(r, up);
		upstream_free(up);
	}
	static uint64_t last;
	uint64_t now = now_ms();
	if (now - last < PER_SESSION_SWEEP_MS || idmap_count(&r->instances) == 0)
		return;
	last = now;
	char why[120];
	snprintf(why, sizeof why, "no calls for %u s", PER_SESSION_IDLE_MS / 1000u);
	retire_matching(r, idle, NULL, why);
	snprintf(why, sizeof why, "the supervisor did not start a process for this session within "
	         "%u ms", PER_SESSION_SPAWN_MS);
	retire_matching(r, never_linked, NULL, why);
}
