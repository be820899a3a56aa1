/* The one configuration loader: reads the JSON file, checks every key against the schema
 * (unknown keys are errors), fills struct config, and cuts the per-role slices. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_PATH_MAX 256  /* JSON path in messages; the schema is shallow */
#define FOUND_MAX 64         /* how much of an offending string a message quotes */
#define ARG_MAX_BYTES 4096   /* one command-line argument */
#define ENV_VALUE_MAX (32 * 1024)
#define ENV_NAME_MAX 128

struct loader {
	const char *source;
	bool file_mode;          /* source names a file: resolve paths, check the files */
	struct config *cfg;
	struct config_error *err;
	char path[CONFIG_PATH_MAX]; /* JSON path of the value being checked: "$.servers[1]" */
	size_t path_len;
	char base_dir[PATH_MAX]; /* the file's directory, resolved on first need */
};

/* ---- messages ---- */

/* Copies at most `max` bytes of s into out as printable ASCII, so that a hostile key or
 * value cannot put control characters into an operator's terminal or log. */
static void sanitize(char *out, size_t cap, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	size_t i;

	for (i = 0; s[i] && i < max && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"' && c != '\'') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (s[i] && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void describe(const json_t *v, char *out, size_t cap)
{
	char text[FOUND_MAX * 4 + 8];

	switch (json_typeof(v)) {
	case JSON_STRING:
		sanitize(text, sizeof text, json_string_value(v), FOUND_MAX);
		snprintf(out, cap, "\"%s\"", text);
		break;
	case JSON_INTEGER:
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(out, cap, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(out, cap, "true");
		break;
	case JSON_FALSE:
		snprintf(out, cap, "false");
		break;
	case JSON_NULL:
		snprintf(out, cap, "null");
		break;
	case JSON_OBJECT:
		snprintf(out, cap, json_object_size(v) ? "an object" : "an empty object");
		break;
	case JSON_ARRAY:
		if (json_array_size(v))
			snprintf(out, cap, "an array of %zu", json_array_size(v));
		else
			snprintf(out, cap, "an empty array");
		break;
	}
}

/* Appends to err->text; what does not fit is cut off (the start names file and path). */
__attribute__((format(printf, 2, 0)))
static void append_v(struct config_error *err, const char *fmt, va_list ap)
{
	size_t used = strlen(err->text);

	vsnprintf(err->text + used, sizeof err->text - used, fmt, ap);
}

__attribute__((format(printf, 2, 3)))
static void append(struct config_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append_v(err, fmt, ap);
	va_end(ap);
}

/* Reports at the current path; `found` (may be NULL) is the offending value, quoted
 * unless it could be a secret (callers pass NULL for env values). Always returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(struct loader *ld, const json_t *found, const char *fmt, ...)
{
	char what[FOUND_MAX * 4 + 16];
	va_list ap;

	ld->err->text[0] = '\0';
	append(ld->err, "%s: at %s: ", ld->source, ld->path);
	va_start(ap, fmt);
	append_v(ld->err, fmt, ap);
	va_end(ap);
	if (found) {
		describe(found, what, sizeof what);
		append(ld->err, ", found %s", what);
	}
	return -1;
}

static int fail_oom(struct loader *ld)
{
	return fail(ld, NULL, "out of memory");
}

/* ---- the JSON path of the value being checked ---- */

static void path_append(struct loader *ld, const char *text)
{
	size_t n = strlen(text);

	if (ld->path_len + n >= sizeof ld->path)
		n = sizeof ld->path - 1 - ld->path_len;
	memcpy(ld->path + ld->path_len, text, n);
	ld->path_len += n;
	ld->path[ld->path_len] = '\0';
}

static bool is_identifier(const char *s)
{
	if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (; *s; s++) {
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	}
	return true;
}

/* Returns the mark to hand to path_pop(). */
static size_t path_push_key(struct loader *ld, const char *key)
{
	size_t mark = ld->path_len;
	char text[FOUND_MAX * 4 + 8];

	if (is_identifier(key) && strlen(key) <= FOUND_MAX) {
		path_append(ld, ".");
		path_append(ld, key);
	} else {
		sanitize(text, sizeof text, key, FOUND_MAX);
		path_append(ld, "[\"");
		path_append(ld, text);
		path_append(ld, "\"]");
	}
	return mark;
}

static size_t path_push_index(struct loader *ld, size_t index)
{
	size_t mark = ld->path_len;
	char text[32];

	snprintf(text, sizeof text, "[%zu]", index);
	path_append(ld, text);
	return mark;
}

static void path_pop(struct loader *ld, size_t mark)
{
	ld->path_len = mark;
	ld->path[mark] = '\0';
}

/* ---- generic checks; each runs with the path pointing at the value ---- */

/* Every key of obj must be in `known` (NULL-terminated): a typo must not pass silently. */
static int check_keys(struct loader *ld, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *value;

	json_object_foreach(obj, key, value) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (known[i])
			continue;

		char list[CONFIG_ERROR_MAX / 2] = "";
		size_t used = 0;
		for (i = 0; known[i] && used < sizeof list; i++) {
			int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
			                 known[i]);
			if (n < 0)
				break;
			used += (size_t)n;
		}
		char shown[FOUND_MAX * 4 + 8];
		sanitize(shown, sizeof shown, key, FOUND_MAX);
		return fail(ld, NULL, "unknown key '%s' (known: %s)", shown, list);
	}
	return 0;
}

static int want_object(struct loader *ld, json_t *v, const char *const *known)
{
	if (!json_is_object(v))
		return fail(ld, v, "must be an object");
	return known ? check_keys(ld, v, known) : 0;
}

static int want_uint(struct loader *ld, json_t *v, uint32_t min, uint32_t max, uint32_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
	    json_integer_value(v) > (json_int_t)max)
		return fail(ld, v, "must be an integer in %u..%u", min, max);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int want_bool(struct loader *ld, json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return fail(ld, v, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* A string shorter than cap bytes (and non-empty unless allow_empty). */
static int want_string(struct loader *ld, json_t *v, size_t cap, bool allow_empty,
                       const char **out)
{
	if (!json_is_string(v))
		return fail(ld, v, "must be a string");
	if (json_string_length(v) >= cap)
		return fail(ld, v, "must be at most %zu bytes long", cap - 1);
	if (!allow_empty && json_string_length(v) == 0)
		return fail(ld, v, "must not be empty");
	*out = json_string_value(v);
	return 0;
}

static int copy_string(struct loader *ld, json_t *v, char *out, size_t cap, bool allow_empty)
{
	const char *s;

	if (want_string(ld, v, cap, allow_empty, &s) < 0)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* Runs `check` on obj[key] with the path pointing at it; absent keys keep their default. */
#define WITH_KEY(ld, obj, key, value, check) ({ \
	json_t *value = json_object_get((obj), (key)); \
	int rc_ = 0; \
	if (value) { \
		size_t mark_ = path_push_key((ld), (key)); \
		rc_ = (check); \
		path_pop((ld), mark_); \
	} \
	rc_; })

static int opt_uint(struct loader *ld, json_t *obj, const char *key, uint32_t min,
                    uint32_t max, uint32_t *out)
{
	return WITH_KEY(ld, obj, key, v, want_uint(ld, v, min, max, out));
}

static int opt_bool(struct loader *ld, json_t *obj, const char *key, bool *out)
{
	return WITH_KEY(ld, obj, key, v, want_bool(ld, v, out));
}

static int require_key(struct loader *ld, json_t *obj, const char *key)
{
	if (!json_object_get(obj, key))
		return fail(ld, NULL, "missing required key '%s'", key);
	return 0;
}

/* ---- syntax of names and addresses ---- */

static bool in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

static bool all_in_set(const char *s, const char *set)
{
	for (; *s; s++) {
		if (!in_set(*s, set))
			return false;
	}
	return true;
}

/* Digits only, 1..65535, no leading zero: ports are compared as strings for duplicates. */
static bool valid_port(const char *s, size_t len)
{
	unsigned long port = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

static bool valid_dns_name(const char *s, size_t len)
{
	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!in_set(s[i], ALNUM ".-"))
			return false;
	}
	return true;
}

static bool valid_ip(int family, const char *s, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char addr[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof text)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	return inet_pton(family, text, addr) == 1;
}

enum authority_rules { BIND_ADDRESS, HOST_NAME };

/* Checks "host:port" (BIND_ADDRESS: an IP literal, port required) or "host[:port]"
 * (HOST_NAME: a DNS name or IP literal). IPv6 is always bracketed. Returns NULL when valid,
 * else the reason. */
static const char *check_authority(const char *s, size_t len, enum authority_rules rules)
{
	const char *port = NULL;
	size_t host_len;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || !valid_ip(AF_INET6, s + 1, (size_t)(close - s - 1)))
			return "has a malformed bracketed IPv6 address";
		if (close + 1 < s + len) {
			if (close[1] != ':')
				return "must have ':port' after the bracketed IPv6 address";
			port = close + 2;
		}
	} else {
		const char *colon = memrchr(s, ':', len);
		host_len = colon ? (size_t)(colon - s) : len;
		if (memchr(s, ':', host_len))
			return "must write an IPv6 address in brackets, like [::1]:8443";
		if (rules == BIND_ADDRESS && !valid_ip(AF_INET, s, host_len))
			return "must be IPv4:port or [IPv6]:port with an IP address (no host names)";
		if (rules == HOST_NAME && !valid_dns_name(s, host_len))
			return "has an invalid host name";
		if (colon)
			port = colon + 1;
	}
	if (!port && rules == BIND_ADDRESS)
		return "must end with ':port'";
	if (port && !valid_port(port, (size_t)(s + len - port)))
		return "must have a port in 1..65535";
	return NULL;
}

/* "http(s)://authority" followed by a path when allow_path; no query, fragment, user info
 * or spaces. Returns NULL when valid, else the reason. */
static const char *check_url(const char *s, bool allow_path)
{
	const char *rest;

	if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return "must start with https:// or http://";
	size_t authority_len = strcspn(rest, "/");
	const char *why = check_authority(rest, authority_len, HOST_NAME);
	if (why)
		return why;
	const char *path = rest + authority_len;
	if (*path && !allow_path)
		return "must be an origin: scheme://host[:port] with no path";
	for (; *path; path++) {
		if (*path <= 0x20 || *path >= 0x7f || *path == '?' || *path == '#')
			return "must have a path without spaces, '?' or '#'";
	}
	return NULL;
}

/* ---- file paths ---- */

/* Resolves a relative path against the config file's directory (file mode) and writes the
 * absolute result back into the document, so the slices carry what the loader resolved. */
static int resolve_path(struct loader *ld, json_t *obj, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (want_string(ld, v, cap, false, &s) < 0)
		return -1;
	if (!ld->file_mode || s[0] == '/') {
		memcpy(out, s, strlen(s) + 1);
		return 0;
	}
	if (!ld->base_dir[0]) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s", ld->source);
		char *slash = strrchr(dir, '/');
		/* A document from a secret ("secretsmanager:NAME") has no directory of its own. */
		if (strncmp(ld->source, "secretsmanager:", 15) == 0)
			snprintf(dir, sizeof dir, ".");
		else if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		else
			snprintf(dir, sizeof dir, ".");
		if (!realpath(dir, ld->base_dir))
			return fail(ld, v, "cannot resolve the directory of %s: %s", ld->source,
			            strerror(errno));
	}
	int n = snprintf(out, cap, "%s/%s", ld->base_dir, s);
	if (n < 0 || (size_t)n >= cap)
		return fail(ld, v, "is too long once resolved against %s", ld->base_dir);
	if (json_object_set_new(obj, key, json_string(out)) < 0)
		return fail_oom(ld);
	return 0;
}

enum path_kind { REGULAR_FILE, DIRECTORY };

/* File mode only: the supervisor will read this path, so say now if it cannot. */
static int check_readable(struct loader *ld, const char *path, enum path_kind kind)
{
	struct stat st;
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

	if (!ld->file_mode)
		return 0;
	int fd = open(path, flags | (kind == DIRECTORY ? O_DIRECTORY : 0));
	if (fd < 0)
		return fail(ld, NULL, "cannot read %s: %s", path, strerror(errno));
	int rc = fstat(fd, &st);
	close(fd);
	if (rc < 0)
		return fail(ld, NULL, "cannot stat %s: %s", path, strerror(errno));
	if (kind == REGULAR_FILE && !S_ISREG(st.st_mode))
		return fail(ld, NULL, "%s is not a regular file", path);
	return 0;
}

static int path_key(struct loader *ld, json_t *obj, const char *key, char *out, size_t cap,
                    enum path_kind kind)
{
	if (!json_object_get(obj, key))
		return 0;
	size_t mark = path_push_key(ld, key);
	int rc = resolve_path(ld, obj, key, out, cap);
	if (rc == 0)
		rc = check_readable(ld, out, kind);
	path_pop(ld, mark);
	return rc;
}

/* ---- sections ---- */

static int load_listener(struct loader *ld, json_t *v, struct config_listener *l)
{
	static const char *const keys[] = { "address", "tls", NULL };
	bool tls = true;
	const char *why;

	if (want_object(ld, v, keys) < 0 || require_key(ld, v, "address") < 0)
		return -1;
	if (WITH_KEY(ld, v, "address", a,
	             copy_string(ld, a, l->address, sizeof l->address, false) < 0 ? -1 :
	             (why = check_authority(l->address, strlen(l->address), BIND_ADDRESS)) ?
	             fail(ld, a, "%s", why) : 0) < 0)
		return -1;
	if (opt_bool(ld, v, "tls", &tls) < 0)
		return -1;
	l->kind = tls ? LISTENER_TLS : LISTENER_PLAIN;
	return 0;
}

static int load_listen(struct loader *ld, json_t *v)
{
	struct config *cfg = ld->cfg;
	size_t i;
	json_t *item;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CONFIG_MAX_LISTENERS)
		return fail(ld, v, "must be an array of 1..%d listeners", CONFIG_MAX_LISTENERS);
	cfg->n_listeners = 0;
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		if (load_listener(ld, item, &cfg->listeners[i]) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->listeners[j].address, cfg->listeners[i].address) == 0)
				return fail(ld, NULL, "address %s is already used by $.listen[%zu]",
				            cfg->listeners[i].address, j);
		}
		path_pop(ld, mark);
		cfg->n_listeners = i + 1;
	}
	return 0;
}

static int load_tls(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "certificate", "key", NULL };
	struct config *cfg = ld->cfg;

	if (want_object(ld, v, keys) < 0 || require_key(ld, v, "certificate") < 0 ||
	    require_key(ld, v, "key") < 0)
		return -1;
	if (path_key(ld, v, "certificate", cfg->tls_certificate, sizeof cfg->tls_certificate,
	             REGULAR_FILE) < 0)
		return -1;
	return path_key(ld, v, "key", cfg->tls_key, sizeof cfg->tls_key, REGULAR_FILE);
}

static int load_public_url(struct loader *ld, json_t *v)
{
	const char *why;

	if (copy_string(ld, v, ld->cfg->public_url, sizeof ld->cfg->public_url, false) < 0)
		return -1;
	why = check_url(ld->cfg->public_url, true);
	return why ? fail(ld, v, "%s", why) : 0;
}

enum string_list_kind { ORIGINS, HOSTS };

static int load_string_list(struct loader *ld, json_t *v, char **out, enum string_list_kind kind)
{
	size_t i;
	json_t *item;
	const char *s;
	const char *why;

	if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_ORIGINS)
		return fail(ld, v, "must be an array of at most %d strings", CONFIG_MAX_ORIGINS);
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		if (want_string(ld, item, 256, false, &s) < 0)
			return -1;
		why = kind == ORIGINS ? check_url(s, false) : check_authority(s, strlen(s), HOST_NAME);
		if (why)
			return fail(ld, item, "%s", why);
		out[i] = strdup(s);
		if (!out[i])
			return fail_oom(ld);
		path_pop(ld, mark);
	}
	return 0;
}

static int load_edge(struct loader *ld, json_t *v)
{
	static const char *const keys[] = {
		"instances", "max_connections", "max_header_bytes", "max_headers",
		"max_body_bytes", "header_timeout_ms", "idle_timeout_ms", "sse_keepalive_ms",
		"allowed_origins", "allowed_hosts", NULL
	};
	struct config *c = ld->cfg;

	if (want_object(ld, v, keys) < 0 ||
	    opt_uint(ld, v, "instances", 1, 64, &c->edge_instances) < 0 ||
	    opt_uint(ld, v, "max_connections", 1, 1000000, &c->max_connections) < 0 ||
	    opt_uint(ld, v, "max_header_bytes", 1024, 1048576, &c->max_header_bytes) < 0 ||
	    opt_uint(ld, v, "max_headers", 8, 1024, &c->max_headers) < 0 ||
	    opt_uint(ld, v, "max_body_bytes", 1024, 67108864, &c->max_body_bytes) < 0 ||
	    opt_uint(ld, v, "header_timeout_ms", 100, 600000, &c->header_timeout_ms) < 0 ||
	    opt_uint(ld, v, "idle_timeout_ms", 1000, 3600000, &c->idle_timeout_ms) < 0 ||
	    opt_uint(ld, v, "sse_keepalive_ms", 1000, 300000, &c->sse_keepalive_ms) < 0)
		return -1;
	if (WITH_KEY(ld, v, "allowed_origins", o,
	             load_string_list(ld, o, c->allowed_origins, ORIGINS)) < 0)
		return -1;
	return WITH_KEY(ld, v, "allowed_hosts", h,
	                load_string_list(ld, h, c->allowed_hosts, HOSTS));
}

/* ---- auth.oauth ---- */

#define OAUTH_MAX_MAP 256       /* entries of a role_claims map */
#define OAUTH_MAX_ROLES 32      /* roles one group or scope grants */

/* Client ids, scopes and role names: printable ASCII without spaces or quotes (an RFC 6749
 * scope-token), so they can be split on spaces, logged and matched without surprises. */
static bool valid_oauth_name(const char *s)
{
	for (; *s; s++) {
		if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
			return false;
	}
	return true;
}

/* "127.0.0.1[:port]" or "[::1][:port]" up to the path. */
static bool is_loopback_authority(const char *rest)
{
	static const char *const hosts[] = { "127.0.0.1", "[::1]", NULL };
	size_t len = strcspn(rest, "/");

	for (size_t i = 0; hosts[i]; i++) {
		size_t n = strlen(hosts[i]);
		if (len >= n && memcmp(rest, hosts[i], n) == 0 && (len == n || rest[n] == ':'))
			return true;
	}
	return false;
}

enum oauth_url_kind { ISSUER_URL, JWKS_URL };

static int load_oauth_url(struct loader *ld, json_t *v, char *out, size_t cap,
                          enum oauth_url_kind kind)
{
	const char *why;

	if (copy_string(ld, v, out, cap, false) < 0)
		return -1;
	why = check_url(out, true);
	/* Keys fetched over plain HTTP could be swapped by anyone on the path. */
	if (!why && kind == JWKS_URL && strncmp(out, "http://", 7) == 0 &&
	    !is_loopback_authority(out + 7))
		why = "must start with https:// (http:// only for 127.0.0.1 and [::1], in tests)";
	return why ? fail(ld, v, "%s", why) : 0;
}

/* An array of at most CONFIG_OAUTH_MAX_LIST names, copied into out (NULL-terminated). */
static int load_oauth_names(struct loader *ld, json_t *v, char **out)
{
	size_t i;
	json_t *item;
	const char *s;

	if (!json_is_array(v) || json_array_size(v) > CONFIG_OAUTH_MAX_LIST)
		return fail(ld, v, "must be an array of at most %d strings", CONFIG_OAUTH_MAX_LIST);
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		if (want_string(ld, item, 256, false, &s) < 0)
			return -1;
		if (!valid_oauth_name(s))
			return fail(ld, item, "must be printable ASCII without spaces or quotes");
		out[i] = strdup(s);
		if (!out[i])
			return fail_oom(ld);
		path_pop(ld, mark);
	}
	return 0;
}

static int load_oauth_algorithms(struct loader *ld, json_t *v, unsigned *out)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 2)
		return fail(ld, v, "must be a non-empty array of \"RS256\" and/or \"ES256\"");
	*out = 0;
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		const char *s = json_string_value(item);
		if (s && strcmp(s, "RS256") == 0)
			*out |= CONFIG_OAUTH_RS256;
		else if (s && strcmp(s, "ES256") == 0)
			*out |= CONFIG_OAUTH_ES256;
		else
			return fail(ld, item, "must be \"RS256\" or \"ES256\" (HMAC algorithms and "
			            "\"none\" are never accepted)");
		path_pop(ld, mark);
	}
	return 0;
}

/* {"name": ["role", ...], ...}: the roles a group or a scope grants. */
static int load_oauth_role_map(struct loader *ld, json_t *v, json_t **out)
{
	const char *key;
	json_t *roles;

	if (!json_is_object(v) || json_object_size(v) > OAUTH_MAX_MAP)
		return fail(ld, json_is_object(v) ? NULL : v, "must be an object of at most %d "
		            "\"name\": [\"role\", ...] entries", OAUTH_MAX_MAP);
	json_object_foreach(v, key, roles) {
		size_t mark = path_push_key(ld, key);
		size_t i;
		json_t *role;
		const char *s;
		if (key[0] == '\0' || strlen(key) > 255)
			return fail(ld, NULL, "names must be 1..255 bytes long");
		if (!json_is_array(roles) || json_array_size(roles) == 0 ||
		    json_array_size(roles) > OAUTH_MAX_ROLES)
			return fail(ld, roles, "must be a non-empty array of at most %d role names",
			            OAUTH_MAX_ROLES);
		json_array_foreach(roles, i, role) {
			size_t inner = path_push_index(ld, i);
			if (want_string(ld, role, 65, false, &s) < 0)
				return -1;
			if (!valid_oauth_name(s))
				return fail(ld, role, "must be printable ASCII without spaces or quotes");
			path_pop(ld, inner);
		}
		path_pop(ld, mark);
	}
	*out = v;
	return 0;
}

static int load_oauth_role_claims(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "groups", "scopes", NULL };
	struct config_oauth *o = &ld->cfg->oauth;

	if (want_object(ld, v, keys) < 0 ||
	    WITH_KEY(ld, v, "groups", g, load_oauth_role_map(ld, g, &o->group_roles)) < 0)
		return -1;
	return WITH_KEY(ld, v, "scopes", s, load_oauth_role_map(ld, s, &o->scope_roles));
}

static int load_oauth(struct loader *ld, json_t *v)
{
	static const char *const keys[] = {
		"issuer", "jwks_url", "audience", "client_ids", "algorithms", "leeway_seconds",
		"required_scopes", "role_claims", NULL
	};
	struct config_oauth *o = &ld->cfg->oauth;

	o->enabled = true;
	o->algorithms = CONFIG_OAUTH_RS256 | CONFIG_OAUTH_ES256;
	o->leeway_seconds = 60;
	if (want_object(ld, v, keys) < 0 || require_key(ld, v, "issuer") < 0 ||
	    require_key(ld, v, "jwks_url") < 0 ||
	    WITH_KEY(ld, v, "issuer", s,
	             load_oauth_url(ld, s, o->issuer, sizeof o->issuer, ISSUER_URL)) < 0 ||
	    WITH_KEY(ld, v, "jwks_url", s,
	             load_oauth_url(ld, s, o->jwks_url, sizeof o->jwks_url, JWKS_URL)) < 0 ||
	    WITH_KEY(ld, v, "audience", s,
	             copy_string(ld, s, o->audience, sizeof o->audience, false)) < 0 ||
	    WITH_KEY(ld, v, "client_ids", l, load_oauth_names(ld, l, o->client_ids)) < 0 ||
	    WITH_KEY(ld, v, "algorithms", a, load_oauth_algorithms(ld, a, &o->algorithms)) < 0 ||
	    opt_uint(ld, v, "leeway_seconds", 0, 600, &o->leeway_seconds) < 0 ||
	    WITH_KEY(ld, v, "required_scopes", l, load_oauth_names(ld, l, o->required_scopes)) < 0)
		return -1;
	return WITH_KEY(ld, v, "role_claims", r, load_oauth_role_claims(ld, r));
}

/* Once public_url is known: tokens must name this resource in "aud" (RFC 8707), and the
 * resource is the MCP endpoint unless the operator names another audience. */
static void default_oauth_audience(struct config *c)
{
	size_t len = strlen(c->public_url);

	if (!c->oauth.enabled || c->oauth.audience[0])
		return;
	if (len > 0 && c->public_url[len - 1] == '/')
		len--;
	snprintf(c->oauth.audience, sizeof c->oauth.audience, "%.*s/mcp", (int)len, c->public_url);
}

/* ---- auth.rate_limit, auth.redis and the top-level "roles": checked here, read by
 * gateway/auth/limiter.c and rbac.c from the auth slice ---- */

#define ROLES_MAX 256          /* the shipped defaults add a few more in auth */
#define ROLE_PATTERNS_MAX 256  /* per role and kind */
#define ROLE_PATTERN_BYTES 512 /* resource URIs can be long */
#define RPM_MAX 1000000

static int load_rate_limit(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "requests", "window_seconds", NULL };
	uint32_t n;

	if (want_object(ld, v, keys) < 0 || opt_uint(ld, v, "requests", 1, RPM_MAX, &n) < 0)
		return -1;
	return opt_uint(ld, v, "window_seconds", 1, 86400, &n);
}

static int load_redis_host(struct loader *ld, json_t *v)
{
	const char *s;

	if (want_string(ld, v, 256, false, &s) < 0)
		return -1;
	if (!valid_dns_name(s, strlen(s)) && !valid_ip(AF_INET, s, strlen(s)) &&
	    !valid_ip(AF_INET6, s, strlen(s)))
		return fail(ld, v, "must be a host name or an IP address");
	return 0;
}

/* A secret: never quoted in a message. */
static int load_redis_password(struct loader *ld, json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return fail(ld, NULL, "must be a string of 1..255 bytes (not shown: a secret)");
	return 0;
}

static int load_fail_mode(struct loader *ld, json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || (strcmp(s, "closed") != 0 && strcmp(s, "local") != 0))
		return fail(ld, v, "must be \"closed\" (refuse with 503 while Redis is down) or "
		            "\"local\" (each replica limits alone meanwhile)");
	return 0;
}

static int load_redis(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "host", "port", "password", "db", "fail_mode", NULL };
	uint32_t n;

	if (want_object(ld, v, keys) < 0 || require_key(ld, v, "host") < 0 ||
	    WITH_KEY(ld, v, "host", h, load_redis_host(ld, h)) < 0 ||
	    opt_uint(ld, v, "port", 1, 65535, &n) < 0 || opt_uint(ld, v, "db", 0, 65535, &n) < 0 ||
	    WITH_KEY(ld, v, "password", p, load_redis_password(ld, p)) < 0)
		return -1;
	return WITH_KEY(ld, v, "fail_mode", m, load_fail_mode(ld, m));
}

/* The characters `mcpgate keygen --roles` accepts, so every key's roles can be defined. */
static bool valid_role_name(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 64 && all_in_set(s, ALNUM "._@-");
}

/* Printable ASCII without spaces: what exposed names and URIs are written in. */
static bool valid_role_pattern(const char *s, size_t len)
{
	if (len == 0 || len >= ROLE_PATTERN_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return true;
}

static int load_role_patterns(struct loader *ld, json_t *v)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v) || json_array_size(v) > ROLE_PATTERNS_MAX)
		return fail(ld, v, "must be an array of at most %d patterns", ROLE_PATTERNS_MAX);
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		if (!json_is_string(item) ||
		    !valid_role_pattern(json_string_value(item), json_string_length(item)))
			return fail(ld, item, "must be a glob ('*' any run, '?' one character) of "
			            "1..%d printable characters without spaces", ROLE_PATTERN_BYTES - 1);
		path_pop(ld, mark);
	}
	return 0;
}

static int load_tool_rpm(struct loader *ld, json_t *v)
{
	const char *glob;
	json_t *n;
	uint32_t rpm;

	if (!json_is_object(v) || json_object_size(v) > ROLE_PATTERNS_MAX)
		return fail(ld, v, "must be an object of at most %d {\"tool glob\": requests per "
		            "minute}", ROLE_PATTERNS_MAX);
	json_object_foreach(v, glob, n) {
		size_t mark = path_push_key(ld, glob);
		if (!valid_role_pattern(glob, strlen(glob)))
			return fail(ld, NULL, "the key must be a tool glob of 1..%d printable characters "
			            "without spaces", ROLE_PATTERN_BYTES - 1);
		if (want_uint(ld, n, 1, RPM_MAX, &rpm) < 0)
			return -1;
		path_pop(ld, mark);
	}
	return 0;
}

static int load_role(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "tools", "prompts", "resources", "rpm", "tool_rpm", NULL };
	uint32_t rpm;

	if (want_object(ld, v, keys) < 0 ||
	    WITH_KEY(ld, v, "tools", t, load_role_patterns(ld, t)) < 0 ||
	    WITH_KEY(ld, v, "prompts", p, load_role_patterns(ld, p)) < 0 ||
	    WITH_KEY(ld, v, "resources", r, load_role_patterns(ld, r)) < 0 ||
	    opt_uint(ld, v, "rpm", 1, RPM_MAX, &rpm) < 0)
		return -1;
	return WITH_KEY(ld, v, "tool_rpm", t, load_tool_rpm(ld, t));
}

static int load_roles(struct loader *ld, json_t *v)
{
	const char *name;
	json_t *def;

	if (!json_is_object(v) || json_object_size(v) > ROLES_MAX)
		return fail(ld, v, "must be an object of at most %d roles: {\"name\": {\"tools\": "
		            "[...], \"prompts\": [...], \"resources\": [...], \"rpm\": N, "
		            "\"tool_rpm\": {...}}}", ROLES_MAX);
	json_object_foreach(v, name, def) {
		size_t mark = path_push_key(ld, name);
		if (!valid_role_name(name))
			return fail(ld, NULL, "role names must be 1..64 of [A-Za-z0-9._@-]");
		if (load_role(ld, def) < 0)
			return -1;
		path_pop(ld, mark);
	}
	return 0;
}

static int load_auth(struct loader *ld, json_t *v)
{
	static const char *const keys[] = {
		"anonymous", "keys_file", "session_key_file", "oauth", "rate_limit", "redis", NULL
	};
	struct config *c = ld->cfg;

	if (want_object(ld, v, keys) < 0 || opt_bool(ld, v, "anonymous", &c->anonymous) < 0 ||
	    WITH_KEY(ld, v, "oauth", o, load_oauth(ld, o)) < 0 ||
	    WITH_KEY(ld, v, "rate_limit", r, load_rate_limit(ld, r)) < 0 ||
	    WITH_KEY(ld, v, "redis", r, load_redis(ld, r)) < 0)
		return -1;
	if (path_key(ld, v, "session_key_file", c->session_key_file, sizeof c->session_key_file,
	             REGULAR_FILE) < 0)
		return -1;
	return path_key(ld, v, "keys_file", c->keys_file, sizeof c->keys_file, REGULAR_FILE);
}

/* [a-z0-9-]{1,32}, not starting with '-': it becomes a process and user name. */
static bool valid_server_name(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 32 && s[0] != '-' && all_in_set(s, LOWER_DIGITS "-");
}

/* [A-Za-z0-9_-]{0,32}. Tools are exposed as <namespace>__<tool> and split at the first
 * "__", so a namespace containing "__" or ending in '_' would split in the wrong place. */
static bool valid_namespace(const char *s)
{
	size_t len = strlen(s);

	return len <= 32 && all_in_set(s, ALNUM "_-") && !strstr(s, "__") &&
	       (len == 0 || s[len - 1] != '_');
}

static int load_command(struct loader *ld, json_t *v, struct config_server *srv)
{
	size_t i;
	json_t *item;
	const char *s;

	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > CONFIG_MAX_ARGS)
		return fail(ld, v, "must be a non-empty array of at most %d strings",
		            CONFIG_MAX_ARGS);
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		if (want_string(ld, item, ARG_MAX_BYTES, i > 0, &s) < 0)
			return -1;
		srv->argv[i] = strdup(s);
		if (!srv->argv[i])
			return fail_oom(ld);
		srv->argc = i + 1;
		path_pop(ld, mark);
	}
	return 0;
}

static bool valid_env_name(const char *s)
{
	return strlen(s) <= ENV_NAME_MAX && !in_set(s[0], "0123456789") &&
	       s[0] != '\0' && all_in_set(s, ALNUM "_");
}

/* Values are never quoted back: they are where operators put secrets. */
static int load_env(struct loader *ld, json_t *v, struct config_server *srv)
{
	const char *key;
	json_t *value;
	size_t n = 0;

	if (!json_is_object(v) || json_object_size(v) > CONFIG_MAX_ENV)
		return fail(ld, json_is_object(v) ? NULL : v,
		            "must be an object of at most %d \"NAME\": \"value\" strings",
		            CONFIG_MAX_ENV);
	srv->env = calloc(json_object_size(v) + 1, sizeof *srv->env);
	if (!srv->env)
		return fail_oom(ld);
	json_object_foreach(v, key, value) {
		size_t mark = path_push_key(ld, key);
		if (!valid_env_name(key))
			return fail(ld, NULL, "environment variable names must match "
			            "[A-Za-z_][A-Za-z0-9_]{0,127}");
		if (!json_is_string(value))
			return fail(ld, value, "must be a string");
		if (json_string_length(value) >= ENV_VALUE_MAX)
			return fail(ld, NULL, "must be at most %d bytes long", ENV_VALUE_MAX - 1);
		if (asprintf(&srv->env[n], "%s=%s", key, json_string_value(value)) < 0) {
			srv->env[n] = NULL;
			return fail_oom(ld);
		}
		n++;
		path_pop(ld, mark);
	}
	return 0;
}

static int load_builtin(struct loader *ld, json_t *v, struct config_server *srv)
{
	static const char *const builtins[] = { "data", "ai", "ops", "secrets", NULL };

	for (size_t i = 0; json_is_string(v) && builtins[i]; i++) {
		if (strcmp(builtins[i], json_string_value(v)) == 0) {
			memcpy(srv->builtin, builtins[i], strlen(builtins[i]) + 1);
			return 0;
		}
	}
	return fail(ld, v, "must be one of \"data\", \"ai\", \"ops\", \"secrets\"");
}

static int load_server_kind(struct loader *ld, json_t *v, struct config_server *srv)
{
	json_t *builtin = json_object_get(v, "builtin");
	json_t *command = json_object_get(v, "command");

	if (builtin && command)
		return fail(ld, NULL, "has both \"builtin\" and \"command\"; give exactly one");
	if (builtin) {
		srv->kind = SERVER_BUILTIN;
		return WITH_KEY(ld, v, "builtin", b, load_builtin(ld, b, srv));
	}
	srv->kind = SERVER_COMMAND;
	if (command)
		return WITH_KEY(ld, v, "command", c, load_command(ld, c, srv));
	/* The router's slice withholds the command on purpose; a file must say what to run. */
	if (ld->file_mode)
		return fail(ld, NULL, "needs one of \"builtin\" (data, ai, ops, secrets) or "
		            "\"command\" ([\"program\", \"arg\", ...])");
	return 0;
}

static int load_server(struct loader *ld, json_t *v, struct config_server *srv)
{
	static const char *const keys[] = {
		"name", "namespace", "builtin", "command", "env", "per_session", "timeout_ms",
		"settings", NULL
	};

	srv->timeout_ms = 60000;
	if (want_object(ld, v, keys) < 0 || require_key(ld, v, "name") < 0)
		return -1;
	if (WITH_KEY(ld, v, "name", n,
	             copy_string(ld, n, srv->name, sizeof srv->name, false) < 0 ? -1 :
	             !valid_server_name(srv->name) ?
	             fail(ld, n, "must match [a-z0-9-]{1,32} and not start with '-'") : 0) < 0)
		return -1;
	memcpy(srv->namespace_, srv->name, sizeof srv->namespace_);
	if (WITH_KEY(ld, v, "namespace", ns,
	             copy_string(ld, ns, srv->namespace_, sizeof srv->namespace_, true) < 0 ? -1 :
	             !valid_namespace(srv->namespace_) ?
	             fail(ld, ns, "must match [A-Za-z0-9_-]{0,32}, without \"__\" and not "
	                  "ending in '_'") : 0) < 0)
		return -1;
	if (load_server_kind(ld, v, srv) < 0 ||
	    WITH_KEY(ld, v, "env", e, load_env(ld, e, srv)) < 0 ||
	    opt_bool(ld, v, "per_session", &srv->per_session) < 0 ||
	    opt_uint(ld, v, "timeout_ms", 100, 3600000, &srv->timeout_ms) < 0 ||
	    WITH_KEY(ld, v, "settings", s, want_object(ld, s, NULL)) < 0)
		return -1;
	srv->settings = json_object_get(v, "settings");
	return 0;
}

/* Names pick the process and user; namespaces pick the tool prefix: both must be unique. */
static int check_server_unique(struct loader *ld, json_t *v, size_t i)
{
	const struct config_server *srv = ld->cfg->servers;

	for (size_t j = 0; j < i; j++) {
		if (strcmp(srv[j].name, srv[i].name) == 0)
			return WITH_KEY(ld, v, "name", n,
			                fail(ld, n, "duplicate server name (also $.servers[%zu])", j));
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(srv[j].namespace_, srv[i].namespace_) != 0)
			continue;
		if (json_object_get(v, "namespace"))
			return WITH_KEY(ld, v, "namespace", ns,
			                fail(ld, ns, "duplicate namespace (also $.servers[%zu])", j));
		return fail(ld, NULL, "namespace \"%s\" (taken from the name) is already used by "
		            "$.servers[%zu]; set a distinct \"namespace\"", srv[i].namespace_, j);
	}
	return 0;
}

static int load_servers(struct loader *ld, json_t *v)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_SERVERS)
		return fail(ld, v, "must be an array of at most %d servers", CONFIG_MAX_SERVERS);
	json_array_foreach(v, i, item) {
		size_t mark = path_push_index(ld, i);
		ld->cfg->n_servers = i + 1; /* counted first so config_free sees partial ones */
		if (load_server(ld, item, &ld->cfg->servers[i]) < 0 ||
		    check_server_unique(ld, item, i) < 0)
			return -1;
		path_pop(ld, mark);
	}
	return 0;
}

static int load_restart(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "max_deaths", "window_seconds", "max_backoff_ms", NULL };
	struct config_restart *r = &ld->cfg->restart;

	if (want_object(ld, v, keys) < 0 ||
	    opt_uint(ld, v, "max_deaths", 1, 1000, &r->max_deaths) < 0 ||
	    opt_uint(ld, v, "window_seconds", 1, 86400, &r->window_seconds) < 0)
		return -1;
	return opt_uint(ld, v, "max_backoff_ms", 1000, 600000, &r->max_backoff_ms);
}

/* [a-z_][a-z0-9_-]{0,20}: a prefix of system user names. */
static bool valid_user_prefix(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 21 && in_set(s[0], "abcdefghijklmnopqrstuvwxyz_") &&
	       all_in_set(s, LOWER_DIGITS "_-");
}

static int load_supervisor(struct loader *ld, json_t *v)
{
	static const char *const keys[] = {
		"restart", "shutdown_timeout_ms", "user_prefix", "policy_dir", NULL
	};
	struct config *c = ld->cfg;

	if (want_object(ld, v, keys) < 0 ||
	    WITH_KEY(ld, v, "restart", r, load_restart(ld, r)) < 0 ||
	    opt_uint(ld, v, "shutdown_timeout_ms", 100, 600000, &c->shutdown_timeout_ms) < 0)
		return -1;
	if (WITH_KEY(ld, v, "user_prefix", p,
	             copy_string(ld, p, c->run_as_prefix, sizeof c->run_as_prefix, false) < 0 ? -1 :
	             !valid_user_prefix(c->run_as_prefix) ?
	             fail(ld, p, "must match [a-z_][a-z0-9_-]{0,20}") : 0) < 0)
		return -1;
	return path_key(ld, v, "policy_dir", c->policy_dir, sizeof c->policy_dir, DIRECTORY);
}

static int load_log_level(struct loader *ld, json_t *v)
{
	static const char *const levels[] = { "debug", "info", "warn", "error", NULL };

	if (json_is_string(v)) {
		for (size_t i = 0; levels[i]; i++) {
			if (strcmp(levels[i], json_string_value(v)) == 0) {
				memcpy(ld->cfg->log_level, levels[i], strlen(levels[i]) + 1);
				return 0;
			}
		}
	}
	return fail(ld, v, "must be one of \"debug\", \"info\", \"warn\", \"error\"");
}

static int load_log(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "level", NULL };

	if (want_object(ld, v, keys) < 0)
		return -1;
	return WITH_KEY(ld, v, "level", l, load_log_level(ld, l));
}

static int load_sandbox(struct loader *ld, json_t *v)
{
	static const char *const keys[] = { "debug", NULL };

	if (want_object(ld, v, keys) < 0)
		return -1;
	return opt_bool(ld, v, "debug", &ld->cfg->sandbox_debug);
}

/* ---- the whole document ---- */

static void set_defaults(struct config *c)
{
	snprintf(c->listeners[0].address, sizeof c->listeners[0].address, "127.0.0.1:8443");
	c->listeners[0].kind = LISTENER_TLS;
	c->n_listeners = 1;
	c->edge_instances = 1;
	c->max_connections = 10000;
	c->max_header_bytes = 16384;
	c->max_headers = 64;
	c->max_body_bytes = 4 * 1024 * 1024;
	c->header_timeout_ms = 10000;
	c->idle_timeout_ms = 60000;
	c->sse_keepalive_ms = 15000;
	c->restart = (struct config_restart){ .max_deaths = 5, .window_seconds = 60,
	                                      .max_backoff_ms = 30000 };
	c->shutdown_timeout_ms = 10000;
	snprintf(c->run_as_prefix, sizeof c->run_as_prefix, "mcpgate-");
	snprintf(c->log_level, sizeof c->log_level, "info");
}

/* The first listener's URL; a wildcard address names no host a client could use, so it
 * becomes localhost (set public_url when serving other hosts). */
static void derive_public_url(struct config *c)
{
	const struct config_listener *l = &c->listeners[0];
	const char *scheme = l->kind == LISTENER_TLS ? "https" : "http";
	const char *colon = strrchr(l->address, ':');
	int host_len = (int)(colon - l->address);

	if (strncmp(l->address, "0.0.0.0:", 8) == 0 || strncmp(l->address, "[::]:", 5) == 0)
		snprintf(c->public_url, sizeof c->public_url, "%s://localhost%s", scheme, colon);
	else
		snprintf(c->public_url, sizeof c->public_url, "%s://%.*s%s", scheme, host_len,
		         l->address, colon);
}

/* File mode: a TLS listener cannot start without a certificate, so refuse now. */
static int check_tls_present(struct loader *ld, json_t *root)
{
	const struct config *c = ld->cfg;
	json_t *listen = json_object_get(root, "listen");

	if (!ld->file_mode || c->tls_certificate[0])
		return 0;
	for (size_t i = 0; i < c->n_listeners; i++) {
		if (c->listeners[i].kind != LISTENER_TLS)
			continue;
		if (!listen)
			return fail(ld, NULL, "the default listener %s uses TLS but \"tls\" "
			            "(certificate, key) is missing; add \"tls\" or a \"listen\" entry "
			            "with \"tls\": false", c->listeners[i].address);
		size_t mark = path_push_key(ld, "listen");
		path_push_index(ld, i);
		fail(ld, NULL, "listener %s uses TLS but \"tls\" (certificate, key) is missing",
		     c->listeners[i].address);
		path_pop(ld, mark);
		return -1;
	}
	return 0;
}

static int load_document(struct loader *ld, json_t *root)
{
	static const char *const keys[] = {
		"listen", "tls", "public_url", "edge", "auth", "roles", "servers", "supervisor",
		"log", "sandbox", NULL
	};

	set_defaults(ld->cfg);
	if (want_object(ld, root, keys) < 0 ||
	    WITH_KEY(ld, root, "listen", v, load_listen(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "tls", v, load_tls(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "edge", v, load_edge(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "auth", v, load_auth(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "roles", v, load_roles(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "servers", v, load_servers(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "supervisor", v, load_supervisor(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "log", v, load_log(ld, v)) < 0 ||
	    WITH_KEY(ld, root, "sandbox", v, load_sandbox(ld, v)) < 0 ||
	    check_tls_present(ld, root) < 0)
		return -1;
	if (json_object_get(root, "public_url")) {
		if (WITH_KEY(ld, root, "public_url", v, load_public_url(ld, v)) < 0)
			return -1;
	} else {
		derive_public_url(ld->cfg);
	}
	default_oauth_audience(ld->cfg);
	return 0;
}

/* Takes ownership of `root` (which must be private to cfg: paths are written back). */
static int load_owned(json_t *root, const char *source, struct config *cfg,
                      struct config_error *err)
{
	struct loader ld = { .source = source, .cfg = cfg, .err = err, .path = "$", .path_len = 1 };

	ld.file_mode = source[0] != '<';
	cfg->root = root;
	cfg->source = strdup(source);
	if (!cfg->source) {
		fail_oom(&ld);
		config_free(cfg);
		return -1;
	}
	if (load_document(&ld, root) < 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int config_from_json(json_t *root, const char *source, struct config *cfg,
                     struct config_error *err)
{
	memset(cfg, 0, sizeof *cfg);
	err->text[0] = '\0';
	if (!source)
		source = "<config>";
	json_t *copy = json_deep_copy(root);
	if (!copy) {
		snprintf(err->text, sizeof err->text, "%s: %s", source,
		         root ? "out of memory" : "no document");
		return -1;
	}
	return load_owned(copy, source, cfg, err);
}

/* Reads at most CONFIG_MAX_FILE_BYTES; a larger file is refused, not truncated. */
static char *read_bounded(const char *path, size_t *len, struct config_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		snprintf(err->text, sizeof err->text, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err->text, sizeof err->text, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	char *buf = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!buf) {
		snprintf(err->text, sizeof err->text, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	size_t used = 0;
	for (;;) {
		ssize_t n = read(fd, buf + used, CONFIG_MAX_FILE_BYTES + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err->text, sizeof err->text, "%s: cannot read: %s", path,
			         strerror(errno));
			break;
		}
		used += (size_t)n;
		if (n == 0 || used > CONFIG_MAX_FILE_BYTES)
			break;
	}
	close(fd);
	if (err->text[0] || used > CONFIG_MAX_FILE_BYTES) {
		if (!err->text[0])
			snprintf(err->text, sizeof err->text, "%s: larger than %d bytes", path,
			         CONFIG_MAX_FILE_BYTES);
		free(buf);
		return NULL;
	}
	*len = used;
	return buf;
}

int config_load_file(const char *path, struct config *cfg, struct config_error *err)
{
	json_error_t jerr;
	size_t len;

	memset(cfg, 0, sizeof *cfg);
	err->text[0] = '\0';
	char *buf = read_bounded(path, &len, err);
	if (!buf)
		return -1;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!root) {
		snprintf(err->text, sizeof err->text, "%s:%d:%d: %s", path, jerr.line, jerr.column,
		         jerr.text);
		return -1;
	}
	/* A '<' would make the loader treat the file as a slice and skip the file checks. */
	if (path[0] == '<') {
		char *named = NULL;
		if (asprintf(&named, "./%s", path) < 0) {
			json_decref(root);
			snprintf(err->text, sizeof err->text, "%s: out of memory", path);
			return -1;
		}
		int rc = load_owned(root, named, cfg, err);
		free(named);
		return rc;
	}
	return load_owned(root, path, cfg, err);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	json_decref(cfg->root);
	for (size_t i = 0; i < CONFIG_MAX_ORIGINS; i++) {
		free(cfg->allowed_origins[i]);
		free(cfg->allowed_hosts[i]);
	}
	for (size_t i = 0; i < cfg->n_servers && i < CONFIG_MAX_SERVERS; i++) {
		struct config_server *srv = &cfg->servers[i];
		for (size_t j = 0; j < CONFIG_MAX_ARGS; j++)
			free(srv->argv[j]);
		for (size_t j = 0; srv->env && srv->env[j]; j++)
			free(srv->env[j]);
		free(srv->env);
	}
	for (size_t i = 0; i < CONFIG_OAUTH_MAX_LIST; i++) {
		free(cfg->oauth.client_ids[i]);
		free(cfg->oauth.required_scopes[i]);
	}
	memset(cfg, 0, sizeof *cfg);
}

/* ---- slices ---- */

/* Deep copies, so that a child's slice shares nothing with the supervisor's document. */
static int copy_keys(json_t *slice, json_t *root, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++) {
		json_t *v = json_object_get(root, keys[i]);
		if (v && json_object_set_new(slice, keys[i], json_deep_copy(v)) < 0)
			return -1;
	}
	return 0;
}

/* The router routes by name and namespace; it must not learn commands or env (secrets). */
static json_t *servers_for_router(json_t *servers)
{
	json_t *copy = json_deep_copy(servers);
	size_t i;
	json_t *srv;

	if (!copy)
		return NULL;
	json_array_foreach(copy, i, srv) {
		json_object_del(srv, "env");
		json_object_del(srv, "command");
	}
	return copy;
}

static json_t *one_server(json_t *servers, const char *name)
{
	size_t i;
	json_t *srv;

	json_array_foreach(servers, i, srv) {
		const char *n = json_string_value(json_object_get(srv, "name"));
		if (n && strcmp(n, name) == 0) {
			json_t *list = json_array();
			if (list && json_array_append_new(list, json_deep_copy(srv)) < 0) {
				json_decref(list);
				return NULL;
			}
			return list;
		}
	}
	return NULL;
}

json_t *config_slice_for_role(const struct config *cfg, const char *role)
{
	static const char *const common[] = { "log", "sandbox", NULL };
	static const char *const edge[] = { "listen", "edge", NULL };
	static const char *const auth[] = { "auth", "roles", NULL };
	json_t *servers = cfg && cfg->root ? json_object_get(cfg->root, "servers") : NULL;
	json_t *slice;
	int rc = 0;

	if (!cfg || !cfg->root || !role)
		return NULL;
	if (strcmp(role, "edge") != 0 && strcmp(role, "auth") != 0 &&
	    strcmp(role, "router") != 0 && strncmp(role, "server:", 7) != 0)
		return NULL;
	slice = json_object();
	if (!slice)
		return NULL;
	rc |= copy_keys(slice, cfg->root, common);
	if (strcmp(role, "edge") == 0 || strcmp(role, "auth") == 0) {
		rc |= copy_keys(slice, cfg->root, role[0] == 'e' ? edge : auth);
		/* The effective URL: a derived one depends on "listen", which auth does not get. */
		rc |= json_object_set_new(slice, "public_url", json_string(cfg->public_url));
		/* The edge serves the protected resource metadata (RFC 9728): it needs the issuer
		 * and audience, and nothing else of auth (no keys, no Redis password). */
		json_t *oauth = json_object_get(json_object_get(cfg->root, "auth"), "oauth");
		if (role[0] == 'e' && oauth)
			rc |= json_object_set_new(slice, "auth",
			                          json_pack("{s:o}", "oauth", json_deep_copy(oauth)));
	} else if (strcmp(role, "router") == 0) {
		if (servers)
			rc |= json_object_set_new(slice, "servers", servers_for_router(servers));
	} else {
		json_t *list = one_server(servers, role + 7);
		if (!list) {
			json_decref(slice);
			return NULL;
		}
		rc |= json_object_set_new(slice, "servers", list);
	}
	if (rc) {
		json_decref(slice);
		return NULL;
	}
	return slice;
}
