/* auth: the only way from an edge to the router. Requests are admitted by admit.c; this
 * file keeps the links (edges, router, supervisor), maps stream ids between edges and the
 * router, seals new sessions into tokens, and carries responses back. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "datapath.h"
#include "frame.h"
#include "log.h"

struct auth A;

static void exchange_end(struct exchange *x)
{
	idmap_del(&A.by_id, x->id);
	idmap_del(&A.by_edge, edge_key(x->edge, x->edge_stream));
	free(x);
}

void refuse(unsigned edge, uint32_t stream, int status, const char *reason, json_t *headers,
            int rpc_code, json_t *id)
{
	json_t *meta = json_pack("{s:i, s:s}", DP_STATUS, status, DP_REASON, reason);
	if (headers)
		json_object_set_new(meta, DP_HEADERS, headers);
	json_t *body = json_pack("{s:s, s:o, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
	                         id ? id : json_null(), "error", "code", rpc_code, "message", reason);
	char *m = json_dumps(meta, JSON_COMPACT), *b = json_dumps(body, JSON_COMPACT);
	if (A.edges[edge] && m && b)
		channel_send(A.edges[edge], FRAME_ERROR, FRAME_FLAG_FINAL, stream, m, strlen(m), b,
		             strlen(b), -1);
	free(m);
	free(b);
	json_decref(meta);
	json_decref(body);
}

/* Appends to a bounded buffer, or nothing at all when the text would not fit: *len never
 * passes the end (a running snprintf total can, and the next write then overflows). */
__attribute__((format(printf, 4, 5)))
static bool append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len) {
		buf[*len] = '\0';
		return false;
	}
	*len += (size_t)n;
	return true;
}

/* RFC 6750 / RFC 9728: the challenge points the client at the protected resource metadata. */
json_t *challenge_headers(const char *error, const char *description)
{
	char value[1400];
	size_t n = 0;
	append(value, sizeof value, &n, "Bearer resource_metadata=\"%s/.well-known/oauth-protected-resource\"",
	       A.rc.cfg.public_url);
	if (error)
		append(value, sizeof value, &n, ", error=\"%s\"", error);
	if (description)
		append(value, sizeof value, &n, ", error_description=\"%s\"", description);
	if (A.rc.cfg.oauth.enabled && A.rc.cfg.oauth.required_scopes[0]) {
		/* Up to 32 scopes of 256 bytes are a valid config; the scope attribute is optional
		 * (RFC 6750 3), so when the list does not fit it is left out rather than cut. */
		size_t mark = n;
		bool whole = append(value, sizeof value, &n, ", scope=\"");
		for (char **s = A.rc.cfg.oauth.required_scopes; whole && *s; s++)
			whole = append(value, sizeof value, &n, "%s%s", s == A.rc.cfg.oauth.required_scopes ? "" : " ", *s);
		if (!whole || !append(value, sizeof value, &n, "\"")) {
			n = mark;
			value[n] = '\0';
		}
	}
	return json_pack("{s:s}", "WWW-Authenticate", value);
}

void forward_to_router(unsigned edge, uint32_t stream, uint16_t flags, json_t *meta,
                       const void *body, size_t len)
{
	if (!A.router) {
		refuse(edge, stream, 503, "router unavailable, retry shortly",
		       json_pack("{s:s}", "Retry-After", "1"), -32603, NULL);
		return;
	}
	struct exchange *x = calloc(1, sizeof *x);
	if (!x)
		fatal_sys("calloc");
	do {
		x->id = ++A.next_id;
	} while (x->id == 0 || idmap_get(&A.by_id, x->id));
	x->edge = edge;
	x->edge_stream = stream;
	struct exchange *old = idmap_get(&A.by_edge, edge_key(edge, stream));
	if (old)
		exchange_end(old); /* the edge reused a stream id: the old exchange is over */
	if (idmap_put(&A.by_id, x->id, x) != 0 || idmap_put(&A.by_edge, edge_key(edge, stream), x) != 0)
		fatal("idmap_put");
	char *m = json_dumps(meta, JSON_COMPACT);
	if (!m || channel_send(A.router, FRAME_REQUEST, flags, x->id, m, strlen(m), body, len, -1) != 0) {
		refuse(edge, stream, 503, "router busy, retry shortly",
		       json_pack("{s:s}", "Retry-After", "1"), -32603, NULL);
		exchange_end(x);
	}
	free(m);
}

static unsigned edge_index(struct channel *ch)
{
	for (unsigned i = 0; i < AUTH_MAX_EDGES; i++)
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
		admit_request(edge, f);
		break;
	case FRAME_STREAM_CLOSE: {
		admit_cancel(edge, f->stream_id);
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

struct walk {
	unsigned edge; /* AUTH_MAX_EDGES: every edge */
	struct exchange *list[4096];
	size_t n;
};

static void collect(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct walk *w = arg;
	struct exchange *x = value;
	if ((w->edge == AUTH_MAX_EDGES || x->edge == w->edge) && w->n < sizeof w->list / sizeof w->list[0])
		w->list[w->n++] = x;
}

static void on_edge_close(struct channel *ch, const char *reason, void *arg)
{
	(void)arg;
	unsigned edge = edge_index(ch);
	log_info("edge_link_closed", LOG_STR("edge", A.edge_names[edge]), LOG_STR("reason", reason));
	channel_free(ch);
	A.edges[edge] = NULL;
	A.edge_gen[edge]++;
	admit_cancel_edge(edge);
	/* Everything that edge had open is over: tell the router so it cancels and forgets. */
	static struct walk w;
	do {
		w.edge = edge;
		w.n = 0;
		idmap_each(&A.by_id, collect, &w);
		for (size_t i = 0; i < w.n; i++) {
			if (A.router)
				channel_send(A.router, FRAME_STREAM_CLOSE, 0, w.list[i]->id, NULL, 0, NULL, 0, -1);
			exchange_end(w.list[i]);
		}
	} while (w.n == sizeof w.list / sizeof w.list[0]);
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

static void on_router_close(struct channel *ch, const char *reason, void *arg)
{
	(void)arg;
	log_warn("router_link_closed", LOG_STR("reason", reason));
	channel_free(ch);
	A.router = NULL;
	static struct walk w;
	do {
		w.edge = AUTH_MAX_EDGES;
		w.n = 0;
		idmap_each(&A.by_id, collect, &w);
		for (size_t i = 0; i < w.n; i++) {
			refuse(w.list[i]->edge, w.list[i]->edge_stream, 503,
			       "the router restarted; retry the request", json_pack("{s:s}", "Retry-After", "1"),
			       -32603, NULL);
			exchange_end(w.list[i]);
		}
	} while (w.n == sizeof w.list / sizeof w.list[0]);
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
		unsigned slot = AUTH_MAX_EDGES;
		for (unsigned i = 0; i < AUTH_MAX_EDGES; i++) {
			if (strcmp(A.edge_names[i], name) == 0) {
				slot = i;
				break;
			}
			if (!A.edge_names[i][0] && slot == AUTH_MAX_EDGES)
				slot = i;
		}
		if (slot == AUTH_MAX_EDGES) {
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

/* ---- policy: keys, roles, limits, OAuth ---- */

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

static int load_rbac(void)
{
	const char *defaults = role_data(&A.rc, "rbac");
	struct rbac next;
	char err[512];
	if (rbac_load(&next, defaults, defaults ? strlen(defaults) : 0,
	              json_object_get(A.rc.cfg.root, "roles"), err, sizeof err) != 0) {
		log_error("roles_rejected", LOG_STR("reason", err));
		return -1;
	}
	rbac_free(&A.rbac);
	A.rbac = next;
	log_info("roles_loaded", LOG_INT("count", A.rbac.n_roles));
	return 0;
}

static int make_limiter(void)
{
	struct limiter_config lc;
	char err[512];
	limiter_config_defaults(&lc);
	if (limiter_config_from_json(A.rc.cfg.root, &lc, err, sizeof err) != 0) {
		log_error("rate_limit_rejected", LOG_STR("reason", err));
		return -1;
	}
	struct limiter *next = limiter_new(A.base, &lc, err, sizeof err);
	explicit_bzero(lc.redis_password, sizeof lc.redis_password);
	if (!next) {
		log_error("rate_limiter_failed", LOG_STR("reason", err));
		return -1;
	}
	limiter_free(A.limiter);
	A.limiter = next;
	log_info("rate_limiter_ready", LOG_INT("requests", lc.requests), LOG_INT("window_ms", lc.window_ms),
	         LOG_STR("store", lc.redis_host[0] ? "redis" : "embedded"));
	return 0;
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
	load_rbac();
	/* A new limiter only when its settings changed would keep windows; for now the embedded
	 * windows start afresh on reload, and Redis windows are unaffected. */
	make_limiter();
	if (A.jwks && A.rc.cfg.oauth.enabled) {
		char err[256];
		if (jwks_cache_set_url(A.jwks, A.rc.cfg.oauth.jwks_url, err, sizeof err) != 0)
			log_error("jwks_url_rejected", LOG_STR("reason", err));
	} else if (!A.jwks != !A.rc.cfg.oauth.enabled) {
		log_warn("oauth_change_needs_restart",
		         LOG_STR("reason", "the CA bundle can only be read before the sandbox"));
	}
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

/* Everything that reads files or initialises TLS happens here, before the sandbox. */
static void start_oauth(void)
{
	if (!A.rc.cfg.oauth.enabled)
		return;
	char err[512];
	if (jwks_global_init() != 0)
		fatal("libcurl_init");
	A.jwks = jwks_cache_new(A.base, &(struct jwks_cache_options){ .url = A.rc.cfg.oauth.jwks_url },
	                        err, sizeof err);
	if (!A.jwks)
		fatal_exit(EXIT_CONFIG, "oauth_invalid", LOG_FIELDS_(LOG_STR("reason", err)));
	log_info("oauth_enabled", LOG_STR("issuer", A.rc.cfg.oauth.issuer),
	         LOG_STR("audience", A.rc.cfg.oauth.audience));
}

int main(void)
{
	log_init("auth");
	role_start(&A.rc, "auth");
	idmap_init(&A.by_id);
	idmap_init(&A.by_edge);
	idmap_init(&A.pending);
	unsigned char key[SESSION_KEY_BYTES];
	if (hex_key(role_data(&A.rc, "session_key"), key) != 0 || session_sealer_init(&A.sealer, key) != 0)
		fatal("session_key_invalid");
	explicit_bzero(key, sizeof key);
	A.base = event_base_new();
	if (!A.base)
		fatal("event_base_new");
	load_keys();
	if (load_rbac() != 0 || make_limiter() != 0)
		fatal_exit(EXIT_CONFIG, "auth_policy_invalid", LOG_FIELDS_(LOG_STR("hint", "see the error above")));
	start_oauth();
	if (A.rc.cfg.anonymous)
		log_warn("anonymous_access_enabled", LOG_STR("effect", "requests without credentials are admitted"));
	const char *names[AUTH_MAX_EDGES + 2];
	int fds[AUTH_MAX_EDGES + 2];
	size_t n = role_fds_with_prefix(&A.rc, "", names, fds, AUTH_MAX_EDGES + 2);
	for (size_t i = 0; i < n; i++)
		attach_link(names[i], fds[i]);
	role_enter_sandbox(&A.rc);
	if (A.jwks)
		jwks_cache_start(A.jwks);
	role_control_attach(&A.rc, A.base, &control_ops, NULL);
	role_report_ready(&A.rc);
	event_base_dispatch(A.base);
	log_info("auth_stopped");
	return 0;
}
