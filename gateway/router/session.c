/* Client sessions (2024-11-05 to 2025-11-25): made here at initialize, sealed by auth into the
 * Mcp-Session-Id token, and handed back with every later request. The cache keeps what the
 * token does not carry (log level, subscriptions, the standalone stream); a session this
 * router has not seen is re-created from the token, so any replica, or this one after a
 * restart, serves it. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp_versions.h"
#include "names.h"

#define SWEEP_BATCH 4096
#define ENDED_MAX 100000

static char ended_marker;

static uint64_t sid_key(const char *sid)
{
	return name_hash(sid, strlen(sid));
}

static bool sid_valid(const char *sid)
{
	if (!sid || strlen(sid) != SESSION_ID_HEX)
		return false;
	for (const char *p = sid; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static void session_free(struct session *s)
{
	json_decref(s->caps);
	json_decref(s->client_info);
	json_decref(s->subscriptions);
	free(s);
}

/* Forgets it here without ending it: its token still opens it (re-created on next use).
 * Its own processes of per_session servers stop: their state would not outlive this anyway. */
static void session_evict(struct router *r, struct session *s, const char *why)
{
	const char *uri;
	json_t *v;
	persession_session_gone(r, s->sid, why);
	json_object_foreach(s->subscriptions, uri, v) {
		size_t up;
		if (catalog_route_uri(&r->catalog, uri, &up) && up < r->n_ups && !r->ups[up]->per_session)
			upstream_subscribe(r->ups[up], uri, false);
	}
	idmap_del(&r->sessions, sid_key(s->sid));
	session_free(s);
}

static struct session *session_insert(struct router *r, struct session *s)
{
	if (idmap_count(&r->sessions) >= SESSION_CACHE_MAX)
		sessions_sweep(r);
	struct session *old = idmap_get(&r->sessions, sid_key(s->sid));
	if (old) /* a 64-bit hash collision between live ids: keep the new */
		session_evict(r, old, "the session left the router's cache");
	if (idmap_put(&r->sessions, sid_key(s->sid), s) != 0) {
		session_free(s);
		return NULL;
	}
	return s;
}

static struct session *session_alloc(const char *principal, const char *protocol, json_t *caps,
                                     json_t *client_info, bool legacy)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	snprintf(s->principal, sizeof s->principal, "%s", principal);
	snprintf(s->protocol, sizeof s->protocol, "%s", protocol);
	s->caps = json_is_object(caps) ? json_deep_copy(caps) : json_object();
	s->client_info = json_is_object(client_info) ? json_deep_copy(client_info) : json_object();
	s->subscriptions = json_object();
	s->legacy = legacy;
	s->last_used_ms = now_ms();
	if (!s->caps || !s->client_info || !s->subscriptions) {
		session_free(s);
		return NULL;
	}
	return s;
}

struct session *session_create(struct router *r, const char *principal, const char *protocol,
                               json_t *caps, json_t *client_info, bool legacy)
{
	struct session *s = session_alloc(principal, protocol, caps, client_info, legacy);
	if (!s)
		return NULL;
	random_hex(s->sid, SESSION_ID_HEX / 2);
	s->created = time(NULL);
	return session_insert(r, s);
}

json_t *session_object(const struct session *s)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:O, s:O, s:I}", "v", DP_SESSION_VERSION,
	                      "sid", s->sid, "pv", s->protocol, "p", s->principal, "caps", s->caps,
	                      "ci", s->client_info, "t", (json_int_t)s->created);
	if (o && s->legacy)
		json_object_set_new(o, "legacy", json_true());
	return o;
}

struct session *session_find(struct router *r, const char *sid)
{
	struct session *s = sid && sid[0] ? idmap_get(&r->sessions, sid_key(sid)) : NULL;
	return s && strcmp(s->sid, sid) == 0 ? s : NULL;
}

struct session *session_open(struct router *r, const json_t *obj, const char *principal,
                             const char **why)
{
	const char *sid = json_string_value(json_object_get(obj, "sid"));
	const char *owner = json_string_value(json_object_get(obj, "p"));
	if (!json_is_object(obj) || json_integer_value(json_object_get(obj, "v")) != DP_SESSION_VERSION ||
	    !sid_valid(sid) || !owner) {
		*why = "malformed session";
		return NULL;
	}
	if (strcmp(owner, principal) != 0) {
		*why = "session belongs to another principal";
		return NULL;
	}
	if (idmap_get(&r->ended, sid_key(sid))) {
		*why = "session ended";
		return NULL;
	}
	struct session *s = session_find(r, sid);
	if (s) {
		if (strcmp(s->principal, principal) != 0) {
			*why = "session belongs to another principal";
			return NULL;
		}
		s->last_used_ms = now_ms();
		return s;
	}
	const char *pv = json_string_value(json_object_get(obj, "pv"));
	if (!pv || !mcp_version_supported(pv, strlen(pv)) || strcmp(pv, MCP_VERSION_STATELESS) == 0)
		pv = MCP_VERSION_LATEST_SESSION;
	s = session_alloc(principal, pv, json_object_get(obj, "caps"), json_object_get(obj, "ci"),
	                  json_is_true(json_object_get(obj, "legacy")));
	if (!s) {
		*why = "out of memory";
		return NULL;
	}
	memcpy(s->sid, sid, SESSION_ID_HEX + 1);
	s->created = (time_t)json_integer_value(json_object_get(obj, "t"));
	log_debug("session_restored", LOG_STR("sid", sid));
	s = session_insert(r, s);
	if (!s)
		*why = "out of memory";
	return s;
}

void session_end(struct router *r, struct session *s)
{
	if (idmap_count(&r->ended) >= ENDED_MAX) {
		/* Bounded memory beats remembering forever; auth's token expiry covers the rest. */
		idmap_free(&r->ended);
		idmap_init(&r->ended);
	}
	idmap_put(&r->ended, sid_key(s->sid), &ended_marker);
	struct stream *st = stream_find(r, s->get_stream);
	if (st)
		router_send(r, FRAME_RESPONSE, FRAME_FLAG_FINAL, st->wire_id, NULL, NULL);
	if (st)
		stream_close(r, st);
	log_info("session_ended", LOG_STR("sid", s->sid));
	session_evict(r, s, "the session ended");
}

bool session_client_can(const struct session *s, const char *cap)
{
	return json_object_get(s->caps, cap) != NULL;
}

struct sweep {
	uint64_t now;
	bool over;                 /* the cache is full: drop idle sessions sooner */
	struct session *victims[SWEEP_BATCH];
	size_t n;
};

static void collect_idle(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct sweep *sw = arg;
	struct session *s = value;
	uint64_t idle_limit = sw->over ? SESSION_IDLE_MS / 8 : SESSION_IDLE_MS;
	if (sw->n < SWEEP_BATCH && !s->get_stream && sw->now - s->last_used_ms > idle_limit)
		sw->victims[sw->n++] = s;
}

void sessions_sweep(struct router *r)
{
	static struct sweep sw;
	sw.now = now_ms();
	sw.over = idmap_count(&r->sessions) >= SESSION_CACHE_MAX;
	sw.n = 0;
	idmap_each(&r->sessions, collect_idle, &sw);
	for (size_t i = 0; i < sw.n; i++)
		session_evict(r, sw.victims[i], "the session was idle and left the router's cache");
	if (sw.n)
		log_debug("sessions_evicted", LOG_INT("count", sw.n));
}
