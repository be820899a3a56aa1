/* Admission of one request, in order: who is calling (API key, or a JWT checked against the
 * issuer's keys, possibly after waiting for a key fetch), is the session theirs, may their
 * roles use what the request names, and is it within their rate budget. Only then does the
 * request go to the router, without its credentials and with the principal attached. Every
 * decision leaves one audit line; no secret is ever in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "datapath.h"
#include "jwt.h"
#include "log.h"

/* JSON-RPC error codes for refusals; MCP has no standard ones. */
#define RPC_UNAUTHORIZED -32001
#define RPC_FORBIDDEN -32003
#define RPC_RATE_LIMITED -32029
#define RPC_UNAVAILABLE -32603

struct pending {
	unsigned edge;
	uint32_t gen;         /* the edge link's generation when the request arrived */
	uint32_t stream;
	uint16_t flags;
	json_t *meta;
	json_t *body_doc;     /* parsed body: the methods and names it asks for */
	char *body;
	size_t body_len;
	char rid[48];
	char method[64];      /* first message's method, for the audit line */
	char target[256];     /* first tool/prompt/resource named, for the audit line */
	json_t *first_id;
	json_t *principal;
	struct jwt_token tok;
	bool has_tok;
	struct jwks_waiter *waiter;
	bool waiting_limit;
	bool cancelled;
};

static void audit(const struct pending *p, const char *decision, const char *reason)
{
	const char *who = json_string_value(json_object_get(p->principal, "id"));
	log_req(LOG_INFO, p->rid, "audit", LOG_STR("principal", who ? who : "-"),
	        LOG_STR("method", p->method), LOG_STR("target", p->target),
	        LOG_STR("decision", decision), LOG_STR("reason", reason));
}

static void pending_free(struct pending *p)
{
	if (idmap_get(&A.pending, edge_key(p->edge, p->stream)) == p)
		idmap_del(&A.pending, edge_key(p->edge, p->stream));
	if (p->has_tok)
		jwt_token_free(&p->tok);
	json_decref(p->meta);
	json_decref(p->body_doc);
	json_decref(p->principal);
	json_decref(p->first_id);
	free(p->body);
	free(p);
}

static bool still_wanted(const struct pending *p)
{
	return !p->cancelled && A.edges[p->edge] && A.edge_gen[p->edge] == p->gen;
}

static void deny(struct pending *p, int status, const char *reason, json_t *headers, int code,
                 const char *decision)
{
	audit(p, decision, reason);
	if (still_wanted(p))
		refuse(p->edge, p->stream, status, reason, headers, code, json_incref(p->first_id));
	else
		json_decref(headers);
	pending_free(p);
}

/* ---- what the body asks for ---- */

/* The kind and name a message asks to use, for RBAC; false when it names nothing. */
static bool message_target(json_t *msg, enum rbac_kind *kind, const char **name)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");
	if (!method || !json_object_get(msg, "id"))
		return false;
	if (strcmp(method, "tools/call") == 0) {
		*kind = RBAC_TOOL;
		*name = json_string_value(json_object_get(params, "name"));
	} else if (strcmp(method, "prompts/get") == 0) {
		*kind = RBAC_PROMPT;
		*name = json_string_value(json_object_get(params, "name"));
	} else if (strcmp(method, "resources/read") == 0 || strcmp(method, "resources/subscribe") == 0 ||
	           strcmp(method, "resources/unsubscribe") == 0) {
		*kind = RBAC_RESOURCE;
		*name = json_string_value(json_object_get(params, "uri"));
	} else {
		return false;
	}
	/* Without a name there is nothing to authorise: the router refuses such a request
	 * (invalid params, or a method the revision removed) with the right error. */
	return *name != NULL;
}

static void summarise(struct pending *p)
{
	if (!p->body_len)
		return;
	p->body_doc = json_loadb(p->body, p->body_len, 0, NULL);
	json_t *first = json_is_array(p->body_doc) ? json_array_get(p->body_doc, 0) : p->body_doc;
	const char *method = json_string_value(json_object_get(first, "method"));
	snprintf(p->method, sizeof p->method, "%s", method ? method : "");
	json_t *id = json_object_get(first, "id");
	if (id && method)
		p->first_id = json_incref(id);
	enum rbac_kind kind;
	const char *name;
	if (message_target(first, &kind, &name))
		snprintf(p->target, sizeof p->target, "%s", name);
}

/* ---- stage 3: authorisation and rate limit, then the router ---- */

static void on_verdict(const struct limit_verdict *v, void *arg)
{
	struct pending *p = arg;
	p->waiting_limit = false;
	if (!still_wanted(p)) {
		audit(p, "dropped", "the client went away");
		pending_free(p);
		return;
	}
	if (v->outcome != LIMIT_ALLOW) {
		json_t *headers = json_object();
		limit_verdict_headers(v, headers);
		deny(p, limit_verdict_status(v), v->reason, headers,
		     v->outcome == LIMIT_DENY ? RPC_RATE_LIMITED : RPC_UNAVAILABLE,
		     v->outcome == LIMIT_DENY ? "limited" : "unavailable");
		return;
	}
	audit(p, "allow", v->shared ? "within the shared budget" : "within budget");
	json_object_del(p->meta, DP_CREDENTIALS);
	json_object_del(p->meta, DP_SESSION_TOKEN);
	json_object_set(p->meta, DP_PRINCIPAL, p->principal);
	forward_to_router(p->edge, p->stream, p->flags, p->meta, p->body, p->body_len);
	pending_free(p);
}

/* Every message that names a tool, prompt or resource must be allowed by the principal's
 * roles: the same decision function the router's list filtering follows. */
static bool authorised(struct pending *p, const char **refused)
{
	json_t *roles = json_object_get(p->principal, "roles");
	size_t n = json_is_array(p->body_doc) ? json_array_size(p->body_doc) : 1;
	for (size_t i = 0; i < n; i++) {
		json_t *msg = json_is_array(p->body_doc) ? json_array_get(p->body_doc, i) : p->body_doc;
		enum rbac_kind kind;
		const char *name;
		if (message_target(msg, &kind, &name) && !rbac_allows(&A.rbac, roles, kind, name)) {
			*refused = name;
			return false;
		}
	}
	return true;
}

static void authorise_and_limit(struct pending *p)
{
	const char *refused = NULL;
	if (!authorised(p, &refused)) {
		char reason[400];
		snprintf(reason, sizeof reason, "forbidden: your roles do not allow '%.256s'", refused);
		deny(p, 403, reason, NULL, RPC_FORBIDDEN, "deny");
		return;
	}
	json_t *roles = json_object_get(p->principal, "roles");
	/* The router lists only what the principal may use (one decision function). */
	json_object_set_new(p->principal, DP_PRINCIPAL_TOOLS, rbac_patterns(&A.rbac, roles, RBAC_TOOL));
	json_object_set_new(p->principal, DP_PRINCIPAL_PROMPTS, rbac_patterns(&A.rbac, roles, RBAC_PROMPT));
	json_object_set_new(p->principal, DP_PRINCIPAL_RESOURCES,
	                    rbac_patterns(&A.rbac, roles, RBAC_RESOURCE));

	struct limiter_rule rules[2];
	size_t n = 0;
	rules[n] = limiter_default_rule(A.limiter);
	json_int_t key_rpm = json_integer_value(json_object_get(p->principal, "rpm"));
	uint32_t role_rpm = rbac_principal_rpm(&A.rbac, roles);
	if (key_rpm > 0) {
		rules[n].limit = (uint32_t)key_rpm;
		rules[n].window_ms = 60000;
	} else if (role_rpm > 0) {
		rules[n].limit = role_rpm;
		rules[n].window_ms = 60000;
	}
	n++;
	const char *pattern;
	uint32_t tool_rpm;
	if (strcmp(p->method, "tools/call") == 0 && p->target[0] &&
	    rbac_tool_limit(&A.rbac, roles, p->target, &pattern, &tool_rpm))
		rules[n++] = (struct limiter_rule){ .scope = pattern, .limit = tool_rpm, .window_ms = 60000 };

	const char *who = json_string_value(json_object_get(p->principal, "id"));
	p->waiting_limit = true;
	/* The verdict may come back before limiter_check returns: p is not touched after. */
	if (limiter_check(A.limiter, who, rules, n, on_verdict, p) != 0) {
		p->waiting_limit = false;
		deny(p, 500, "rate limiter refused the check", NULL, RPC_UNAVAILABLE, "error");
	}
}

/* ---- stage 2: the session belongs to this principal ---- */

static void authenticated(struct pending *p, json_t *principal)
{
	p->principal = principal;
	const char *pid = json_string_value(json_object_get(principal, "id"));
	const char *token = json_string_value(json_object_get(p->meta, DP_SESSION_TOKEN));
	if (token) {
		json_t *session = session_token_open(&A.sealer, token, strlen(token));
		const char *owner = json_string_value(json_object_get(session, "p"));
		if (!session || !owner || strcmp(owner, pid) != 0) {
			/* Another principal's session, or none at all: the same answer for both. */
			json_decref(session);
			deny(p, 404, "session not found: start a new session with initialize", NULL,
			     RPC_UNAUTHORIZED, "deny");
			return;
		}
		json_object_set_new(p->meta, DP_SESSION, session);
	}
	authorise_and_limit(p);
}

/* ---- stage 1: who is calling ---- */

static void refuse_jwt(struct pending *p, enum jwt_verdict v)
{
	int status = jwt_verdict_status(v);
	const char *error = jwt_verdict_error(v);
	json_t *headers = status == 503 ? json_pack("{s:s}", "Retry-After", "5")
	                                : challenge_headers(error, jwt_verdict_text(v));
	log_req(LOG_INFO, p->rid, "jwt_refused", LOG_STR("verdict", jwt_verdict_name(v)),
	        LOG_STR("kid", p->has_tok ? p->tok.kid : ""));
	deny(p, status, jwt_verdict_text(v), headers, status == 503 ? RPC_UNAVAILABLE : RPC_UNAUTHORIZED,
	     "deny");
}

static void finish_jwt(struct pending *p)
{
	json_t *principal = NULL;
	enum jwt_verdict v = jwt_check(&A.rc.cfg.oauth, jwks_cache_keys(A.jwks), &p->tok, time(NULL),
	                               &principal);
	if (v != JWT_OK) {
		refuse_jwt(p, v);
		return;
	}
	authenticated(p, principal);
}

static void on_keys(void *arg)
{
	struct pending *p = arg;
	p->waiter = NULL;
	if (!still_wanted(p)) {
		pending_free(p);
		return;
	}
	finish_jwt(p);
}

static void authenticate(struct pending *p)
{
	json_t *cred = json_object_get(p->meta, DP_CREDENTIALS);
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
			deny(p, 401, apikey_verdict_text(v),
			     challenge_headers("invalid_token", apikey_verdict_text(v)), RPC_UNAUTHORIZED, "deny");
			return;
		}
		char id[64];
		snprintf(id, sizeof id, "key:%s", rec->id);
		json_t *principal = json_pack("{s:s, s:s, s:O}", "id", id, "name", rec->client, "roles",
		                              rec->roles);
		if (rec->rpm)
			json_object_set_new(principal, "rpm", json_integer(rec->rpm));
		authenticated(p, principal);
		return;
	}
	if (bearer) {
		if (!A.jwks) {
			deny(p, 401, "bearer token not accepted: OAuth is not configured; use an API key",
			     challenge_headers("invalid_token", NULL), RPC_UNAUTHORIZED, "deny");
			return;
		}
		enum jwt_verdict v = jwt_parse(&A.rc.cfg.oauth, bearer, strlen(bearer), &p->tok);
		if (v != JWT_OK) {
			refuse_jwt(p, v);
			return;
		}
		p->has_tok = true;
		if (jwks_cache_lookup(A.jwks, p->tok.has_kid ? p->tok.kid : NULL, on_keys, p,
		                      &p->waiter) == JWKS_LOOKUP_WAIT)
			return; /* on_keys resumes */
		p->waiter = NULL;
		finish_jwt(p);
		return;
	}
	if (A.rc.cfg.anonymous) {
		authenticated(p, json_pack("{s:s, s:s, s:[s]}", "id", "anonymous", "name", "anonymous",
		                           "roles", "anonymous"));
		return;
	}
	deny(p, 401, "authentication required: send an API key (X-API-Key) or a bearer token",
	     challenge_headers(NULL, NULL), RPC_UNAUTHORIZED, "deny");
}

void admit_request(unsigned edge, const struct frame *f)
{
	if (idmap_count(&A.pending) >= AUTH_MAX_PENDING) {
		refuse(edge, f->stream_id, 503, "too many requests waiting for admission; retry shortly",
		       json_pack("{s:s}", "Retry-After", "1"), RPC_UNAVAILABLE, NULL);
		return;
	}
	json_error_t jerr;
	json_t *meta = json_loadb((const char *)f->meta, f->meta_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(meta)) {
		log_warn("edge_bad_meta", LOG_STR("edge", A.edge_names[edge]), LOG_STR("reason", jerr.text));
		json_decref(meta);
		refuse(edge, f->stream_id, 400, "malformed request metadata", NULL, -32600, NULL);
		return;
	}
	struct pending *p = calloc(1, sizeof *p);
	if (!p || (f->body_len && !(p->body = malloc(f->body_len))))
		fatal_sys("calloc");
	p->edge = edge;
	p->gen = A.edge_gen[edge];
	p->stream = f->stream_id;
	p->flags = f->flags;
	p->meta = meta;
	p->body_len = f->body_len;
	if (f->body_len)
		memcpy(p->body, f->body, f->body_len);
	const char *rid = json_string_value(json_object_get(meta, DP_REQUEST_ID));
	snprintf(p->rid, sizeof p->rid, "%s", rid ? rid : "-");
	summarise(p);
	admit_cancel(edge, f->stream_id); /* a reused stream id: the old request is over */
	if (idmap_put(&A.pending, edge_key(edge, f->stream_id), p) != 0)
		fatal("idmap_put");
	authenticate(p);
}

void admit_cancel(unsigned edge, uint32_t stream)
{
	struct pending *p = idmap_del(&A.pending, edge_key(edge, stream));
	if (!p)
		return;
	p->cancelled = true;
	if (p->waiter) {
		jwks_waiter_cancel(A.jwks, p->waiter);
		p->waiter = NULL;
	}
	/* A request waiting for Redis is freed by its verdict callback. */
	if (!p->waiting_limit)
		pending_free(p);
}

struct edge_walk {
	unsigned edge;
	uint32_t streams[1024];
	size_t n;
};

static void collect(uint64_t key, void *value, void *arg)
{
	(void)value;
	struct edge_walk *w = arg;
	if ((unsigned)(key >> 32) == w->edge && w->n < sizeof w->streams / sizeof w->streams[0])
		w->streams[w->n++] = (uint32_t)key;
}

void admit_cancel_edge(unsigned edge)
{
	static struct edge_walk w;
	do {
		w.edge = edge;
		w.n = 0;
		idmap_each(&A.pending, collect, &w);
		for (size_t i = 0; i < w.n; i++)
			admit_cancel(edge, w.streams[i]);
	} while (w.n == sizeof w.streams / sizeof w.streams[0]);
}

size_t admit_pending(void)
{
	return idmap_count(&A.pending);
}
