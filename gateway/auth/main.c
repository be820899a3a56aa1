/* auth: the only way from an edge to the router. Every request is authenticated here, its
 * session token opened and checked against the principal, and only then passed on, with
 * the credentials removed and the principal attached. Responses flow back the same way. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apikey.h"
#include "channel.h"
#include "datapath.h"
#include "frame.h"
#include "idmap.h"
#include "log.h"
#include "role.h"
#include "session_token.h"

#define MAX_EDGES 64

/* One exchange passing through: where it came from, and its id toward the router. */
struct exchange {
	uint32_t id;        /* auth's stream id toward the router */
	unsigned edge;      /* index into edges[] */
	uint32_t edge_stream;
	char principal[96]; /* for audit lines */
};

struct auth {
	struct role_context rc;
	struct event_base *base;
	struct channel *edges[MAX_EDGES];
	char edge_names[MAX_EDGES][32];
	struct channel *router;
	struct idmap by_id;        /* auth id -> exchange */
	struct idmap by_edge;      /* (edge << 32 | edge stream) -> exchange */
	uint32_t next_id;
	struct apikey_table keys;
	struct session_sealer sealer;
	bool draining;
};

static struct auth A;

static uint64_t edge_key(unsigned edge, uint32_t stream)
{
	return (uint64_t)edge << 32 | stream;
}

static void exchange_end(struct exchange *x)
{
	idmap_del(&A.by_id, x->id);
	idmap_del(&A.by_edge, edge_key(x->edge, x->edge_stream));
	free(x);
}

/* An HTTP-level refusal back to the edge: status, reason and a JSON-RPC error body. */
static void refuse(unsigned edge, uint32_t stream, int status, const char *reason,
                   json_t *headers, int rpc_code)
{
	json_t *meta = json_pack("{s:i, s:s}", DP_STATUS, status, DP_REASON, reason);
	if (headers)
		json_object_set_new(meta, DP_HEADERS, headers);
	json_t *body = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error",
	                         "code", rpc_code, "message", reason);
	char *m = json_dumps(meta, JSON_COMPACT), *b = json_dumps(body, JSON_COMPACT);
	if (A.edges[edge] && m && b)
		channel_send(A.edges[edge], FRAME_ERROR, FRAME_FLAG_FINAL, stream, m, strlen(m), b,
		             strlen(b), -1);
	free(m);
	free(b);
	json_decref(meta);
	json_decref(body);
}

static json_t *challenge_headers(const char *error)
{
	char value[1024];
	const char *url = A.rc.cfg.public_url;
	if (error)
		snprintf(value, sizeof value,
		         "Bearer error=\"%s\", resource_metadata=\"%s/.well-known/oauth-protected-resource\"",
		         error, url);
	else
		snprintf(value, sizeof value,
		         "Bearer resource_metadata=\"%s/.well-known/oauth-protected-resource\"", url);
	return json_pack("{s:s}", "WWW-Authenticate", value);
}

/* Decides who is calling. Returns the principal (new reference) or NULL after refusing. */
static json_t *authenticate(unsigned edge, uint32_t stream, json_t *meta, const char *rid)
{
	json_t *cred = json_object_get(meta, DP_CREDENTIALS);
	const char *api_key = json_string_value(json_object_get(cred, "api_key"));
	const char *authz = json_string_value(json_object_get(cred, "authorization"));
	const char *bearer = NULL;
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		bearer = authz + 7;
		while (*bearer == ' ')
			bearer++;
	}
	if (!api_key && bearer && strncmp(bearer, "mcpg_", 5) == 0)
		api_key = bearer;
	if (api_key) {
		const struct apikey_record *rec = NULL;
		enum apikey_verdict v = apikey_verify(&A.keys, api_key, strlen(api_key), time(NULL), &rec);
		if (v != APIKEY_OK) {
			log_req(LOG_WARN, rid, "auth_denied", LOG_STR("reason", apikey_verdict_text(v)));
			refuse(edge, stream, 401, apikey_verdict_text(v), challenge_headers("invalid_token"),
			       -32001);
			return NULL;
		}
		char id[64];
		snprintf(id, sizeof id, "key:%s", rec->id);
		return json_pack("{s:s, s:s, s:O}", "id", id, "name", rec->client, "roles", rec->roles);
	}
	if (bearer) {
		log_req(LOG_WARN, rid, "auth_denied", LOG_STR("reason", "bearer token not accepted"));
		refuse(edge, stream, 401, "bearer token not accepted: OAuth is not configured",
		       challenge_headers("invalid_token"), -32001);
		return NULL;
	}
	if (A.rc.cfg.anonymous)
		return json_pack("{s:s, s:s, s:[s]}", "id", "anonymous", "name", "anonymous", "roles",
		                 "anonymous");
	log_req(LOG_INFO, rid, "auth_denied", LOG_STR("reason", "no credential"));
	refuse(edge, stream, 401, "authentication required: send an API key (X-API-Key) or a bearer token",
	       challenge_headers(NULL), -32001);
	return NULL;
}

static void forward_request(unsigned edge, const struct frame *f)
{
	json_error_t jerr;
	json_t *meta = json_loadb((const char *)f->meta, f->meta_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(meta)) {
		log_warn("edge_bad_meta", LOG_STR("edge", A.edge_names[edge]), LOG_STR("reason", jerr.text));
		json_decref(meta);
		refuse(edge, f->stream_id, 400, "malformed request metadata", NULL, -32600);
		return;
	}
	const char *rid = json_string_value(json_object_get(meta, DP_REQUEST_ID));
	json_t *principal = authenticate(edge, f->stream_id, meta, rid);
	if (!principal) {
		json_decref(meta);
		return;
	}
	const char *pid = json_string_value(json_object_get(principal, "id"));
	const char *token = json_string_value(json_object_get(meta, DP_SESSION_TOKEN));
	if (token) {
		json_t *session = session_token_open(&A.sealer, token, strlen(token));
		const char *owner = json_string_value(json_object_get(session, "p"));
		if (!session || !owner || strcmp(owner, pid) != 0) {
			/* Another principal's session, or no session at all: the same answer for both. */
			log_req(LOG_INFO, rid, "session_refused",
			        LOG_STR("reason", session ? "principal mismatch" : "invalid token"),
			        LOG_STR("principal", pid));
			refuse(edge, f->stream_id, 404, "session not found: start a new session with initialize",
			       NULL, -32001);
			json_decref(session);
			json_decref(principal);
			json_decref(meta);
			return;
		}
		json_object_set_new(meta, DP_SESSION, session);
	}
	json_object_del(meta, DP_CREDENTIALS);
	json_object_del(meta, DP_SESSION_TOKEN);
	json_object_set_new(meta, DP_PRINCIPAL, principal);

	if (!A.router) {
		refuse(edge, f->stream_id, 503, "router unavailable, retry shortly",
		       json_pack("{s:s}", "Retry-After", "1"), -32603);
		json_decref(meta);
		return;
	}
	struct exchange *x = calloc(1, sizeof *x);
	if (!x)
		fatal_sys("calloc");
	do {
		x->id = ++A.next_id;
	} while (x->id == 0 || idmap_get(&A.by_id, x->id));
	x->edge = edge;
	x->edge_stream = f->stream_id;
	snprintf(x->principal, sizeof x->principal, "%s", pid);
	struct exchange *old = idmap_get(&A.by_edge, edge_key(edge, f->stream_id));
	if (old)
		exchange_end(old); /* the edge reused a stream id: the old exchange is over */
	if (idmap_put(&A.by_id, x->id, x) != 0 || idmap_put(&A.by_edge, edge_key(edge, f->stream_id), x) != 0)
		fatal("idmap_put");
	char *m = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	if (!m || channel_send(A.router, FRAME_REQUEST, f->flags, x->id, m, strlen(m), f->body,
	                       f->body_len, -1) != 0) {
		refuse(edge, f->stream_id, 503, "router busy, retry shortly",
		       json_pack("{s:s}", "Retry-After", "1"), -32603);
		exchange_end(x);
	}
	free(m);
}

static unsigned edge_index(struct channel *ch)
{
	for (unsigned i = 0; i < MAX_EDGES; i++)
		if (A.edges[i] == ch)
			return i;
	fatal("unknown_edge_channel");
}

static void on_edge_frame(struct channel *ch, const struct frame *f, void *arg)
{
	(void)arg;
	unsigned edge = edge_index(ch);
	switch (f->type) {
	case FRAME_REQUEST:
		forward_request(edge, f);
		break;
	case FRAME_STREAM_CLOSE: {
		struct exchange *x = idmap_get(&A.by_edge, edge_key(edge, f->stream_id));
		if (x) {
			if (A.router)
				channel_send(A.router, FRAME_STREAM_CLOSE, 0, x->id, NULL, 0, NULL, 0, -1);
			exchange_end(x);
		}
		break;
	}
	default:
		log_warn("edge_unexpected_frame", LOG_STR("edge", A.edge_names[edge]),
		         LOG_STR("type", frame_type_name(f->type)));
		break;
	}
}

struct edge_gone {
	unsigned edge;
	struct exchange *list[4096];
	size_t n;
};

static void collect_edge(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct edge_gone *g = arg;
	struct exchange *x = value;
	if (x->edge == g->edge && g->n < sizeof g->list / sizeof g->list[0])
		g->list[g->n++] = x;
}

static void on_edge_close(struct channel *ch, const char *reason, void *arg)
{
	(void)arg;
	unsigned edge = edge_index(ch);
	log_info("edge_link_closed", LOG_STR("edge", A.edge_names[edge]), LOG_STR("reason", reason));
	channel_free(ch);
	A.edges[edge] = NULL;
	/* Everything that edge had open is over: tell the router so it cancels and forgets. */
	static struct edge_gone g;
	do {
		g.edge = edge;
		g.n = 0;
		idmap_each(&A.by_id, collect_edge, &g);
		for (size_t i = 0; i < g.n; i++) {
			if (A.router)
				channel_send(A.router, FRAME_STREAM_CLOSE, 0, g.list[i]->id, NULL, 0, NULL, 0, -1);
			exchange_end(g.list[i]);
		}
	} while (g.n == sizeof g.list / sizeof g.list[0]);
}

static void on_router_frame(struct channel *ch, const struct frame *f, void *arg)
{
	(void)ch;
	(void)arg;
	if (f->type != FRAME_RESPONSE && f->type != FRAME_ERROR) {
		log_warn("router_unexpected_frame", LOG_STR("type", frame_type_name(f->type)));
		return;
	}
	struct exchange *x = idmap_get(&A.by_id, f->stream_id);
	if (!x)
		return; /* the client went away meanwhile */
	struct channel *edge = A.edges[x->edge];
	const uint8_t *meta = f->meta;
	size_t meta_len = f->meta_len;
	char *rewritten = NULL;
	if (meta_len > 0 && memmem(meta, meta_len, "\"" DP_NEW_SESSION "\"", sizeof DP_NEW_SESSION + 1)) {
		/* The router made a session: seal it into the token the client will present. */
		json_t *m = json_loadb((const char *)meta, meta_len, 0, NULL);
		json_t *session = json_object_get(m, DP_NEW_SESSION);
		char *token = json_is_object(session) ? session_token_seal(&A.sealer, session) : NULL;
		if (token) {
			json_object_del(m, DP_NEW_SESSION);
			json_object_set_new(m, DP_SESSION_ID, json_string(token));
			free(token);
			rewritten = json_dumps(m, JSON_COMPACT);
		} else {
			log_error("session_seal_failed");
		}
		json_decref(m);
		meta = (const uint8_t *)rewritten;
		meta_len = rewritten ? strlen(rewritten) : 0;
	}
	if (edge)
		channel_send(edge, f->type, f->flags, x->edge_stream, meta, meta_len, f->body, f->body_len, -1);
	free(rewritten);
	if (f->type == FRAME_ERROR || (f->flags & FRAME_FLAG_FINAL))
		exchange_end(x);
}

struct router_gone {
	struct exchange *list[4096];
	size_t n;
};

static void collect_all(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct router_gone *g = arg;
	if (g->n < sizeof g->list / sizeof g->list[0])
		g->list[g->n++] = value;
}

static void on_router_close(struct channel *ch, const char *reason, void *arg)
{
	(void)arg;
	log_warn("router_link_closed", LOG_STR("reason", reason));
	channel_free(ch);
	A.router = NULL;
	static struct router_gone g;
	do {
		g.n = 0;
		idmap_each(&A.by_id, collect_all, &g);
		for (size_t i = 0; i < g.n; i++) {
			refuse(g.list[i]->edge, g.list[i]->edge_stream, 503,
			       "the router restarted; retry the request", json_pack("{s:s}", "Retry-After", "1"),
			       -32603);
			exchange_end(g.list[i]);
		}
	} while (g.n == sizeof g.list / sizeof g.list[0]);
}

static const struct channel_callbacks edge_callbacks = { .on_frame = on_edge_frame, .on_close = on_edge_close };
static const struct channel_callbacks router_callbacks = { .on_frame = on_router_frame, .on_close = on_router_close };

static void attach_link(const char *name, int fd)
{
	if (strcmp(name, "router") == 0) {
		if (A.router)
			on_router_close(A.router, "replaced", NULL);
		A.router = channel_new(A.base, fd, "auth->router", &router_callbacks, NULL);
		log_info("router_link_up");
		return;
	}
	if (strncmp(name, "edge.", 5) == 0) {
		unsigned slot = MAX_EDGES;
		for (unsigned i = 0; i < MAX_EDGES; i++) {
			if (strcmp(A.edge_names[i], name) == 0 || (!A.edge_names[i][0] && slot == MAX_EDGES))
				slot = i;
			if (strcmp(A.edge_names[i], name) == 0)
				break;
		}
		if (slot == MAX_EDGES) {
			close(fd);
			log_error("too_many_edges");
			return;
		}
		if (A.edges[slot])
			on_edge_close(A.edges[slot], "replaced", NULL);
		snprintf(A.edge_names[slot], sizeof A.edge_names[slot], "%s", name);
		A.edges[slot] = channel_new(A.base, fd, name, &edge_callbacks, NULL);
		log_info("edge_link_up", LOG_STR("edge", name));
		return;
	}
	log_warn("unknown_link", LOG_STR("link", name));
	close(fd);
}

static void load_keys(void)
{
	const char *text = role_data(&A.rc, "keys");
	struct apikey_table next;
	char err[256];
	if (!text) {
		apikey_table_free(&A.keys);
		return;
	}
	if (apikey_table_load(&next, text, strlen(text), err, sizeof err) != 0) {
		log_error("keys_rejected", LOG_STR("reason", err), LOG_STR("hint", "the previous keys stay in force"));
		return;
	}
	apikey_table_free(&A.keys);
	A.keys = next;
	log_info("keys_loaded", LOG_INT("count", A.keys.n));
}

static void on_link(const char *name, int fd, void *arg)
{
	(void)arg;
	attach_link(name, fd);
}

static void on_config(json_t *slice, void *arg)
{
	(void)slice;
	(void)arg;
	load_keys();
	if (A.rc.cfg.anonymous)
		log_warn("anonymous_access_enabled", LOG_STR("effect", "requests without credentials are admitted"));
}

static void on_drain(void *arg)
{
	(void)arg;
	/* The edges are gone before auth is asked to drain; nothing is in flight from them. */
	event_base_loopexit(A.base, NULL);
}

static const struct role_control_ops control_ops = {
	.on_config = on_config, .on_link = on_link, .on_drain = on_drain,
};

static int hex_key(const char *hex, unsigned char out[SESSION_KEY_BYTES])
{
	if (!hex || strlen(hex) != 2 * SESSION_KEY_BYTES)
		return -1;
	for (size_t i = 0; i < SESSION_KEY_BYTES; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

int main(void)
{
	log_init("auth");
	role_start(&A.rc, "auth");
	idmap_init(&A.by_id);
	idmap_init(&A.by_edge);
	unsigned char key[SESSION_KEY_BYTES];
	if (hex_key(role_data(&A.rc, "session_key"), key) != 0 || session_sealer_init(&A.sealer, key) != 0)
		fatal("session_key_invalid");
	explicit_bzero(key, sizeof key);
	load_keys();
	if (A.rc.cfg.anonymous)
		log_warn("anonymous_access_enabled", LOG_STR("effect", "requests without credentials are admitted"));
	A.base = event_base_new();
	if (!A.base)
		fatal("event_base_new");
	const char *names[MAX_EDGES + 2];
	int fds[MAX_EDGES + 2];
	size_t n = role_fds_with_prefix(&A.rc, "", names, fds, MAX_EDGES + 2);
	for (size_t i = 0; i < n; i++)
		attach_link(names[i], fds[i]);
	role_enter_sandbox(&A.rc);
	role_control_attach(&A.rc, A.base, &control_ops, NULL);
	role_report_ready(&A.rc);
	event_base_dispatch(A.base);
	log_info("auth_stopped");
	return 0;
}
