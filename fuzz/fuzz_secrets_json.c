/* Fuzzes the secrets server's reading of Secrets Manager answers (servers/secrets/secrets_json.c):
 * every input goes through GetSecretValue parsing and the masked or revealed view, ListSecrets
 * filtering, the configuration's dotted lookups, and masking itself. What comes out must hold:
 * results within their cap, masked values that are masks (never more of a value than its last
 * two characters), only allowed names listed, and a configuration error that names no key outside
 * what config_keys opens. The first byte picks the options. */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../servers/common/json_text.h"
#include "../servers/secrets/secrets_json.h"
#include "mcp_server.h"

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "violated: %s\n", #cond); abort(); } } while (0)

static const size_t caps[] = { 8192, 16384, 51200, 1024 * 1024 };
static const char *const json_keys[] = { NULL, "token", "a", "password" };
static const char *const paths[] = { "a", "a.b", "a.0", "feature_flags.beta", "x.y.z", "0", "a..b", "hosts.1.name" };

static size_t dump_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* A mask: "********", optionally a short tail and " (N chars)". */
static bool is_mask(const json_t *v)
{
	const char *s = json_string_value(v);
	return s && strncmp(s, "********", 8) == 0 && json_string_length(v) < SECRET_MASK_MAX;
}

static bool allow_app(const char *name, void *arg)
{
	(void)arg;
	return fnmatch("app/*", name, 0) == 0;
}

static void check_view(const struct secret_value *v, uint8_t opt)
{
	const struct secret_view_request rq = { .reveal = opt & 1, .json_key = json_keys[(opt >> 1) & 3],
		                                .offset = (opt & 0x80) ? (size_t)(opt & 0x70) * 16 : 0,
		                                .cap = caps[(opt >> 3) & 3] };
	char err[1024] = "";
	json_t *r = secret_view(v, &rq, err, sizeof err);
	if (!r) {
		REQUIRE(err[0] && strlen(err) < sizeof err);
		return;
	}
	REQUIRE(dump_size(r) <= rq.cap);
	REQUIRE(json_is_string(json_object_get(r, "name")) && json_object_get(r, "value"));
	json_t *value = json_object_get(r, "value");
	if (!rq.reveal) {
		if (v->binary) {
			REQUIRE(strncmp(json_string_value(value), "(binary secret, ", 16) == 0);
		} else if (json_is_object(value)) {
			const char *k;
			json_t *m;
			json_object_foreach(value, k, m)
				REQUIRE(is_mask(m));
		} else {
			REQUIRE(is_mask(value));
		}
		if (v->string && !json_is_object(value) && !rq.json_key) {
			char want[SECRET_MASK_MAX];
			secret_mask(v->string, v->string_len, want, sizeof want);
			REQUIRE(strcmp(json_string_value(value), want) == 0);
		}
	} else if (json_is_string(value) && !rq.json_key && v->string && !json_object_get(r, "keys")) {
		/* A revealed text is the value's bytes from the offset on. */
		REQUIRE(json_string_length(value) <= v->string_len);
	}
	json_decref(r);
}

static void check_get(const char *body, size_t len, uint8_t opt)
{
	struct secret_value v;
	char err[512] = "";
	if (secret_value_parse(body, len, &v, err, sizeof err) != 0) {
		REQUIRE(err[0]);
		return;
	}
	REQUIRE(secret_name_valid(v.name) && (v.string || v.binary));
	REQUIRE(!v.string || v.string_len <= SECRET_VALUE_MAX);
	REQUIRE(!v.binary || v.binary_len <= SECRET_VALUE_MAX);
	check_view(&v, opt);
	check_view(&v, (uint8_t)(opt ^ 1));
	json_t *obj = secret_value_object(&v);
	REQUIRE(!obj || json_is_object(obj));
	json_decref(obj);
	secret_value_free(&v);
}

static void check_list(const char *body, size_t len, uint8_t opt)
{
	char err[512] = "";
	size_t cap = caps[(opt >> 3) & 3];
	json_t *r = secret_list_result(body, len, (opt & 1) ? "app/d" : NULL, allow_app, NULL, cap, err, sizeof err);
	if (!r) {
		REQUIRE(err[0]);
		return;
	}
	REQUIRE(dump_size(r) <= cap);
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(r, "names"), i, n) {
		REQUIRE(allow_app(json_string_value(n), NULL) && secret_name_valid(json_string_value(n)));
		REQUIRE(!(opt & 1) || strncmp(json_string_value(n), "app/d", 5) == 0);
	}
	json_t *cursor = json_object_get(r, "next_cursor");
	REQUIRE(!cursor || secret_cursor_valid(json_string_value(cursor)));
	json_decref(r);
}

/* A key no config_keys pattern reaches; the seeds hold it beside allowed ones. */
#define HIDDEN_KEY "redis_password"

/* config_keys ["feature_flags.*", "a", "a.b", "hosts.*"], as fnmatch over the dotted path: a
 * key named in an error must lead to one of these. */
static bool allow_flags(const char *path, void *arg)
{
	(void)arg;
	return fnmatch("feature_flags.*", path, 0) == 0 || strcmp(path, "a") == 0 || strcmp(path, "a.b") == 0 ||
	       fnmatch("hosts.*", path, 0) == 0;
}

/* Whether `name` occurs inside a subtree allow_flags opens (where naming it is fine). */
static bool under_allowed(const json_t *doc, const char *name)
{
	static const char *const open[] = { "feature_flags", "hosts" };
	for (size_t i = 0; i < sizeof open / sizeof open[0]; i++) {
		json_t *sub = json_object_get(doc, open[i]);
		char *text = sub ? json_dumps(sub, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		bool has = text && strstr(text, name);
		free(text);
		if (has)
			return true;
	}
	return false;
}

static void check_config(const char *body, size_t len, uint8_t opt)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	if (!doc)
		return;
	char err[1536] = "";
	const char *path = paths[opt & 7];
	/* Half the runs with a config_keys filter: an error then names no key it refuses. */
	json_t *v = config_lookup(doc, path, (opt & 0x80) ? allow_flags : NULL, NULL, err, sizeof err);
	if (v) {
		size_t cap = caps[(opt >> 3) & 3];
		json_t *r = config_result(path, v, "mcpgate/platform", opt & 0x40, cap);
		REQUIRE(!r || dump_size(r) <= cap);
		json_decref(r);
	} else {
		REQUIRE(err[0] && strlen(err) < sizeof err);
		REQUIRE(!(opt & 0x80) || !strstr(err, HIDDEN_KEY) || under_allowed(doc, HIDDEN_KEY));
	}
	char keys[128];
	secret_keys_text(doc, keys, sizeof keys);
	REQUIRE(strlen(keys) < sizeof keys);
	json_decref(doc);
}

static void check_mask(const char *data, size_t len)
{
	char out[SECRET_MASK_MAX];
	size_t n = secret_mask(data, len, out, sizeof out);
	REQUIRE(n == strlen(out) && n < SECRET_MASK_MAX && strncmp(out, "********", 8) == 0);
	REQUIRE(mcp_text_is_utf8(out, n));
	size_t budget = len / 2, cut = json_text_cut(data, len, budget, NULL);
	REQUIRE(cut <= len && json_text_escaped_len(data, cut) <= budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	check_get(body, len, opt);
	check_list(body, len, opt);
	check_config(body, len, opt);
	check_mask(body, len);
	return 0;
}
