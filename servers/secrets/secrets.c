/* secret_get, secret_list and config_get over Secrets Manager (awsJson 1.1). Names and
 * configuration keys are checked against their allowlists and reveals against the caller's roles
 * before any request; every access is audited in one log line that never carries a value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_tool.h"
#include "log.h"
#include "secrets.h"
#include "secrets_json.h"

#define LIST_RESPONSE_MAX (4u * 1024u * 1024u) /* 100 entries with descriptions and tags */
#define ROLES_TEXT_MAX 512
#define JSON_KEY_MAX 1024 /* bytes: the schemas allow 256 characters */

static struct secrets_config cfg;

void secrets_configure(struct secrets_config *c)
{
	cfg = *c;
}

/* ---- who is calling ---- */

static const char *principal_of(struct mcp_call *call)
{
	json_t *caller = mcp_call_caller(call);
	if (!json_is_object(caller))
		return "-"; /* standalone: no gateway vouches for anyone */
	const char *id = json_string_value(json_object_get(caller, "id"));
	if (!id)
		id = json_string_value(json_object_get(caller, "name"));
	return id ? id : "-";
}

static bool may_reveal(struct mcp_call *call)
{
	for (size_t i = 0; i < cfg.reveal_roles.n; i++)
		if (mcp_call_caller_has_role(call, cfg.reveal_roles.patterns[i]))
			return true;
	return false;
}

/* Strings joined with ", " and cut to fit; "(none)" for none. */
static void join(char *out, size_t cap, const char *const *items, size_t n)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && off + 1 < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? ", " : "", items[i]);
	if (n == 0)
		snprintf(out, cap, "(none)");
}

static void caller_roles(struct mcp_call *call, char *out, size_t cap)
{
	const char *items[16];
	size_t n = 0, i;
	json_t *r;
	json_array_foreach(json_object_get(mcp_call_caller(call), "roles"), i, r)
		if (json_is_string(r) && n < sizeof items / sizeof items[0])
			items[n++] = json_string_value(r);
	join(out, cap, items, n);
}

/* Ends the call with the reason a reveal is refused (and returns true), or returns false. */
static bool refuse_reveal(struct mcp_call *call, const char *name)
{
	if (may_reveal(call))
		return false;
	char needed[ROLES_TEXT_MAX], have[ROLES_TEXT_MAX];
	join(needed, sizeof needed, (const char *const *)cfg.reveal_roles.patterns, cfg.reveal_roles.n);
	caller_roles(call, have, sizeof have);
	log_info("secret_reveal_refused", LOG_STR("name", name), LOG_STR("principal", principal_of(call)),
	         LOG_STR("needs", needed));
	if (cfg.reveal_roles.n == 0)
		mcp_call_fail(call, "secret_get: revealing secret '%s' is disabled on this server "
		              "(settings.reveal_roles is empty); call again without reveal for the masked "
		              "value; no request was made", name);
	else if (!json_is_object(mcp_call_caller(call)))
		mcp_call_fail(call, "secret_get: revealing secret '%s' needs a caller with the role %s "
		              "(settings.reveal_roles); this server runs standalone with no caller identity, "
		              "so it never reveals; call again without reveal for the masked value; no "
		              "request was made", name, needed);
	else
		mcp_call_fail(call, "secret_get: revealing secret '%s' needs the role %s "
		              "(settings.reveal_roles); your roles: %s; call again without reveal for the "
		              "masked value; no request was made", name, needed, have);
	return true;
}

/* The one audit line per access: who, which secret, whether it was revealed. Never a value. */
static void audit(struct mcp_call *call, const char *name, bool revealed, const char *json_key,
                  const char *outcome)
{
	log_info("secret_access", LOG_STR("tool", mcp_call_tool(call)), LOG_STR("name", name),
	         LOG_STR("revealed", revealed ? "yes" : "no"), LOG_STR("json_key", json_key ? json_key : ""),
	         LOG_STR("principal", principal_of(call)), LOG_STR("outcome", outcome));
}

static bool is_not_found(const struct aws_result *res)
{
	return strcmp(res->code, "ResourceNotFoundException") == 0;
}

/* ---- secret_get ---- */

struct get_job {
	struct mcp_call *call;
	struct aws_op *op;
	char name[SECRET_NAME_MAX + 1];
	char json_key[JSON_KEY_MAX + 1];
	bool has_json_key;
	bool reveal;
	size_t offset;
};

static void get_cancelled(struct mcp_call *call, void *arg)
{
	struct get_job *job = arg;
	aws_op_cancel(job->op);
	free(job);
	mcp_call_fail(call, "secret_get: cancelled");
}

static void got_secret(const struct aws_result *res, void *arg)
{
	struct get_job *job = arg;
	struct mcp_call *call = job->call;
	const char *key = job->has_json_key ? job->json_key : NULL;
	char context[SECRET_NAME_MAX + 64];
	job->op = NULL;
	if (!res->ok) {
		audit(call, job->name, false, key, res->code);
		snprintf(context, sizeof context, is_not_found(res) ? "secret '%s' does not exist" : "secret '%s'",
		         job->name);
		aws_tool_fail(call, res, context);
		free(job);
		return;
	}
	struct secret_value v;
	char err[1024];
	json_t *view = NULL;
	if (secret_value_parse(res->body, res->body_len, &v, err, sizeof err) == 0) {
		if (strcmp(v.name, job->name) != 0 && !allowlist_allows(&cfg.secrets, v.name)) {
			/* Names cannot be partial ARNs (no ':'), so this is a misbehaving endpoint. */
			snprintf(err, sizeof err, "the answer is for another secret, which this server's "
			         "settings do not allow; nothing of it is returned");
		} else {
			const struct secret_view_request rq = { .reveal = job->reveal, .json_key = key,
				                                .offset = job->offset, .cap = cfg.result_cap };
			view = secret_view(&v, &rq, err, sizeof err);
		}
		secret_value_free(&v);
	}
	audit(call, job->name, view && job->reveal, key, view ? "ok" : "error");
	if (view)
		mcp_call_finish(call, mcp_tool_structured(view));
	else
		mcp_call_fail(call, "secret_get: secret '%s': %s", job->name, err);
	free(job);
}

void secret_get(struct mcp_call *call, json_t *args)
{
	const char *name = json_string_value(json_object_get(args, "name"));
	json_t *key = json_object_get(args, "json_key"), *offset = json_object_get(args, "offset");
	if (!secret_name_valid(name)) {
		mcp_call_fail(call, "secret_get: name must be a secret NAME, not its ARN: 1-%d of A-Z a-z 0-9 "
		              "/ _ + = . @ -; no request was made", SECRET_NAME_MAX);
		return;
	}
	bool key_ok = !key || (json_is_string(key) && json_string_length(key) > 0 &&
	                       json_string_length(key) <= JSON_KEY_MAX &&
	                       strlen(json_string_value(key)) == json_string_length(key));
	if (!key_ok ||
	    (offset && (!json_is_integer(offset) || json_integer_value(offset) < 0 ||
	                json_integer_value(offset) > 2 * SECRET_VALUE_MAX))) {
		mcp_call_fail(call, "secret_get: json_key must be 1-256 characters of text and offset 0-%d; no "
		              "request was made", 2 * SECRET_VALUE_MAX);
		return;
	}
	if (aws_tool_refuse_unlisted(call, &cfg.secrets, "secret", name, "secrets"))
		return;
	bool reveal = json_is_true(json_object_get(args, "reveal"));
	if (reveal && refuse_reveal(call, name))
		return;
	if (aws_tool_refuse_unavailable(call))
		return;
	struct get_job *job = calloc(1, sizeof *job);
	json_t *body = json_pack("{s:s}", "SecretId", name);
	if (!job || !body) {
		free(job);
		json_decref(body);
		mcp_call_fail(call, "secret_get: out of memory; no request was made");
		return;
	}
	job->call = call;
	job->reveal = reveal;
	job->offset = offset ? (size_t)json_integer_value(offset) : 0;
	snprintf(job->name, sizeof job->name, "%s", name);
	if (key) {
		job->has_json_key = true;
		snprintf(job->json_key, sizeof job->json_key, "%s", json_string_value(key));
	}
	job->op = aws_call_json(aws_tool_client(), &AWS_SECRETS_MANAGER, "1.1",
	                        "secretsmanager.GetSecretValue", body, SECRETS_VALUE_RESPONSE_MAX, got_secret, job);
	json_decref(body);
	if (!job->op) {
		free(job);
		mcp_call_fail(call, "secret_get: the GetSecretValue request could not be built; no request "
		              "was made");
		return;
	}
	mcp_call_on_cancel(call, get_cancelled, job);
}

/* ---- secret_list ---- */

struct list_job {
	struct mcp_call *call;
	struct aws_op *op;
	char prefix[SECRET_NAME_MAX + 1];
	bool had_cursor;
};

static bool allowed_name(const char *name, void *arg)
{
	(void)arg;
	return allowlist_allows(&cfg.secrets, name);
}

static void list_cancelled(struct mcp_call *call, void *arg)
{
	struct list_job *job = arg;
	aws_op_cancel(job->op);
	free(job);
	mcp_call_fail(call, "secret_list: cancelled");
}

static void listed(const struct aws_result *res, void *arg)
{
	struct list_job *job = arg;
	job->op = NULL;
	if (!res->ok) {
		aws_tool_fail(job->call, res, job->had_cursor ? "with the given cursor" : NULL);
		free(job);
		return;
	}
	char err[512];
	json_t *out = secret_list_result(res->body, res->body_len, job->prefix[0] ? job->prefix : NULL,
	                                 allowed_name, NULL, cfg.result_cap, err, sizeof err);
	if (out)
		mcp_call_finish(job->call, mcp_tool_structured(out));
	else
		mcp_call_fail(job->call, "secret_list: %s", err);
	free(job);
}

/* ListSecrets' request: a page of at most `limit`, sorted by name, from the cursor. */
static json_t *list_request(const char *prefix, const char *cursor, json_int_t limit)
{
	json_t *body = json_pack("{s:I, s:s}", "MaxResults", limit, "SortOrder", "asc");
	if (body && prefix && *prefix &&
	    json_object_set_new(body, "Filters", json_pack("[{s:s, s:[s]}]", "Key", "name", "Values", prefix)) != 0)
		goto fail;
	if (body && cursor && json_object_set_new(body, "NextToken", json_string(cursor)) != 0)
		goto fail;
	return body;
fail:
	json_decref(body);
	return NULL;
}

void secret_list(struct mcp_call *call, json_t *args)
{
	const char *prefix = json_string_value(json_object_get(args, "prefix"));
	const char *cursor = json_string_value(json_object_get(args, "cursor"));
	json_t *limit = json_object_get(args, "limit");
	json_int_t n = limit ? json_integer_value(limit) : SECRET_LIST_LIMIT_MAX;
	if ((json_object_get(args, "prefix") && (!prefix || (*prefix && !secret_name_valid(prefix)))) ||
	    (json_object_get(args, "cursor") && !secret_cursor_valid(cursor)) || n < 1 ||
	    n > SECRET_LIST_LIMIT_MAX) {
		mcp_call_fail(call, "secret_list: prefix must be the start of a secret name (A-Z a-z 0-9 / _ + "
		              "= . @ -), cursor a next_cursor this tool gave, limit 1-%d; no request was made",
		              SECRET_LIST_LIMIT_MAX);
		return;
	}
	if (cfg.secrets.n == 0) {
		mcp_call_fail(call, "secret_list: this server's settings allow no secret (secrets is empty); "
		              "no request was made");
		return;
	}
	if (aws_tool_refuse_unavailable(call))
		return;
	struct list_job *job = calloc(1, sizeof *job);
	json_t *body = list_request(prefix, cursor, n);
	if (!job || !body) {
		free(job);
		json_decref(body);
		mcp_call_fail(call, "secret_list: out of memory; no request was made");
		return;
	}
	job->call = call;
	job->had_cursor = cursor != NULL;
	snprintf(job->prefix, sizeof job->prefix, "%s", prefix ? prefix : "");
	job->op = aws_call_json(aws_tool_client(), &AWS_SECRETS_MANAGER, "1.1", "secretsmanager.ListSecrets",
	                        body, LIST_RESPONSE_MAX, listed, job);
	json_decref(body);
	if (!job->op) {
		free(job);
		mcp_call_fail(call, "secret_list: the ListSecrets request could not be built; no request was made");
		return;
	}
	mcp_call_on_cancel(call, list_cancelled, job);
}

/* ---- config_get ---- */

/* A config_get waiting for the configuration secret; concurrent ones share one fetch. */
struct config_wait {
	struct mcp_call *call;
	char key[JSON_KEY_MAX + 1];
	struct config_wait *next;
};

static struct {
	json_t *doc;          /* the configuration as last fetched, or NULL */
	double fetched_at;    /* monotonic seconds */
	struct aws_op *op;    /* the fetch in flight */
	struct config_wait *waiting;
} conf;

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool conf_fresh(void)
{
	return conf.doc && cfg.config_ttl_seconds > 0 &&
	       now_seconds() - conf.fetched_at < (double)cfg.config_ttl_seconds;
}

/* The one audit line per config_get, as secret_get's: the values come back in clear, so who
 * read which key matters as much. Never a value. */
static void config_audit(struct mcp_call *call, const char *key, bool cached, const char *outcome)
{
	log_info("config_access", LOG_STR("key", key), LOG_STR("source", cfg.config_secret ? cfg.config_secret : ""),
	         LOG_STR("cached", cached ? "yes" : "no"), LOG_STR("principal", principal_of(call)),
	         LOG_STR("outcome", outcome));
}

static bool config_key_listed(const char *path, void *arg)
{
	(void)arg;
	return allowlist_allows(&cfg.config_keys, path);
}

static void config_answer(struct mcp_call *call, const char *key, bool cached)
{
	char err[1536];
	/* An unknown key's error names only keys config_keys leads to: the names of the others
	 * (a "redis" beside the feature flags) are not this tool's to tell. */
	json_t *value = config_lookup(conf.doc, key, config_key_listed, NULL, err, sizeof err);
	if (!value) {
		config_audit(call, key, cached, "not_found");
		mcp_call_fail(call, "config_get: %s (configuration secret '%s')", err, cfg.config_secret);
		return;
	}
	json_t *out = config_result(key, value, cfg.config_secret, cached, cfg.result_cap);
	config_audit(call, key, cached, out ? "ok" : "error");
	if (out)
		mcp_call_finish(call, mcp_tool_structured(out));
	else
		mcp_call_fail(call, "config_get: out of memory");
}

static void config_cancelled(struct mcp_call *call, void *arg)
{
	struct config_wait *w = arg;
	struct config_wait **pp = &conf.waiting;
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = (*pp)->next;
	config_audit(call, w->key, false, "cancelled");
	free(w);
	/* The fetch goes on: its answer refreshes the cache for the next call. */
	mcp_call_fail(call, "config_get: cancelled");
}

/* Keeps the configuration from a GetSecretValue answer; NULL, or why not (quoting nothing). */
static const char *config_keep(const struct aws_result *res, char *err, size_t errlen)
{
	struct secret_value v;
	if (secret_value_parse(res->body, res->body_len, &v, err, errlen) != 0)
		return err;
	json_t *doc = secret_value_object(&v);
	bool binary = v.binary != NULL;
	secret_value_free(&v);
	if (!doc)
		return binary ? "it is a binary secret; the configuration must be a JSON object SecretString"
		              : "it is not a JSON object";
	json_decref(conf.doc);
	conf.doc = doc;
	conf.fetched_at = now_seconds();
	return NULL;
}

static void config_fetched(const struct aws_result *res, void *arg)
{
	(void)arg;
	conf.op = NULL;
	struct config_wait *w = conf.waiting;
	conf.waiting = NULL;
	char err[512], context[SECRET_ID_MAX + 64];
	const char *why = res->ok ? config_keep(res, err, sizeof err) : NULL;
	snprintf(context, sizeof context, is_not_found(res) ? "configuration secret '%s' does not exist"
	         : "configuration secret '%s'", cfg.config_secret);
	while (w) {
		struct config_wait *next = w->next;
		if (!res->ok) {
			config_audit(w->call, w->key, false, res->code[0] ? res->code : "error");
			aws_tool_fail(w->call, res, context);
		} else if (why) {
			config_audit(w->call, w->key, false, "error");
			mcp_call_fail(w->call, "config_get: configuration secret '%s': %s", cfg.config_secret, why);
		} else {
			config_answer(w->call, w->key, false);
		}
		free(w);
		w = next;
	}
}

void config_get(struct mcp_call *call, json_t *args)
{
	const char *key = json_string_value(json_object_get(args, "key"));
	if (!key || !*key || strlen(key) > JSON_KEY_MAX) {
		config_audit(call, "", false, "invalid_key");
		mcp_call_fail(call, "config_get: key must be 1-256 characters (a top-level key or a dotted path); "
		              "no request was made");
		return;
	}
	if (!cfg.config_secret) {
		config_audit(call, key, false, "not_configured");
		mcp_call_fail(call, "config_get: this server has no platform configuration secret "
		              "(settings.config_secret is not set); no request was made");
		return;
	}
	/* Before the cache as before a request: the configuration may hold passwords beside
	 * the flags, and only the keys the operator listed are this tool's to return. */
	if (!allowlist_allows(&cfg.config_keys, key)) {
		/* The audit line first: ending the call frees it, and the key with its arguments. */
		config_audit(call, key, false, "refused");
		aws_tool_refuse(call, "key", key, "config_keys");
		return;
	}
	if (conf_fresh()) {
		config_answer(call, key, true);
		return;
	}
	struct aws_client *client = aws_tool_client();
	if (!client || aws_client_unavailable(client)) {
		config_audit(call, key, false, "unavailable");
		aws_tool_refuse_unavailable(call); /* says what is missing */
		return;
	}
	struct config_wait *w = calloc(1, sizeof *w);
	if (!w) {
		config_audit(call, key, false, "error");
		mcp_call_fail(call, "config_get: out of memory; no request was made");
		return;
	}
	w->call = call;
	snprintf(w->key, sizeof w->key, "%s", key);
	struct config_wait **pp = &conf.waiting;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	mcp_call_on_cancel(call, config_cancelled, w);
	if (conf.op)
		return; /* a fetch is under way: its answer serves this call too */
	json_t *body = json_pack("{s:s}", "SecretId", cfg.config_secret);
	conf.op = body ? aws_call_json(aws_tool_client(), &AWS_SECRETS_MANAGER, "1.1",
	                               "secretsmanager.GetSecretValue", body, SECRETS_VALUE_RESPONSE_MAX,
	                               config_fetched, NULL) : NULL;
	json_decref(body);
	if (!conf.op) {
		struct config_wait *all = conf.waiting;
		conf.waiting = NULL;
		while (all) {
			struct config_wait *next = all->next;
			config_audit(all->call, all->key, false, "error");
			mcp_call_fail(all->call, "config_get: the GetSecretValue request could not be built; no "
			              "request was made");
			free(all);
			all = next;
		}
	}
}

void secrets_fini(void)
{
	aws_op_cancel(conf.op);
	conf.op = NULL;
	/* The core frees calls still in flight; only our waiting records go here. */
	while (conf.waiting) {
		struct config_wait *next = conf.waiting->next;
		free(conf.waiting);
		conf.waiting = next;
	}
	json_decref(conf.doc);
	conf.doc = NULL;
	allowlist_free(&cfg.secrets);
	allowlist_free(&cfg.reveal_roles);
	allowlist_free(&cfg.config_keys);
	free(cfg.config_secret);
	cfg.config_secret = NULL;
}
