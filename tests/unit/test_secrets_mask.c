/* Unit tests of the secrets server's pure parts (servers/secrets/secrets_json.c): names,
 * masking (nothing of short secrets, at most the last 2 characters of long ones), GetSecretValue
 * answers as masked or revealed results within their cap (continued with offset), ListSecrets
 * answers filtered to the allowlist, and dotted-path lookups in the platform configuration. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../servers/secrets/secrets_json.c"

#include "check.h"

static char *dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		abort();
	return s;
}

static bool dump_has(const json_t *v, const char *needle)
{
	char *s = dump(v);
	bool has = strstr(s, needle) != NULL;
	free(s);
	return has;
}

static const char *str_at(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static char *mask_of(const char *s)
{
	static char out[SECRET_MASK_MAX];
	secret_mask(s, strlen(s), out, sizeof out);
	return out;
}

/* A GetSecretValue answer (JSON text) with SecretString `string` or SecretBinary `b64`. */
static char *answer(const char *string, const char *b64)
{
	json_t *a = json_pack("{s:s, s:s, s:s}", "Name", "app/db-password", "ARN",
	                      "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-password-AbCdEf",
	                      "VersionId", "2f0c4d3e-1111-4aaa-a222-333344445555");
	json_object_set_new(a, string ? "SecretString" : "SecretBinary", json_string(string ? string : b64));
	char *s = dump(a);
	json_decref(a);
	return s;
}

static json_t *view_of(const char *body, bool reveal, const char *json_key, size_t offset, size_t cap,
                       char *err, size_t errlen)
{
	struct secret_value v;
	if (secret_value_parse(body, strlen(body), &v, err, errlen) != 0)
		return NULL;
	const struct secret_view_request rq = { .reveal = reveal, .json_key = json_key, .offset = offset,
		                                .cap = cap };
	json_t *out = secret_view(&v, &rq, err, errlen);
	secret_value_free(&v);
	return out;
}

/* ---- names ---- */

static void test_names(void)
{
	CHECK(secret_name_valid("app/db-password"), "a plain name");
	CHECK(secret_name_valid("a_b+c=d.e@f-g/h"), "every allowed punctuation");
	CHECK(!secret_name_valid(""), "empty name");
	CHECK(!secret_name_valid(NULL), "no name");
	CHECK(!secret_name_valid("arn:aws:secretsmanager:us-east-1:1:secret:x"), "an ARN is not a name");
	CHECK(!secret_name_valid("app/db password"), "a space");
	CHECK(!secret_name_valid("app/*"), "a pattern character");
	char big[600];
	memset(big, 'a', sizeof big);
	big[512] = '\0';
	CHECK(secret_name_valid(big), "512 bytes");
	big[512] = 'a';
	big[513] = '\0';
	CHECK(!secret_name_valid(big), "513 bytes");
	CHECK(secret_id_valid("arn:aws:secretsmanager:us-east-1:123456789012:secret:mcpgate/platform-AbCdEf"),
	      "an ARN is an id");
	CHECK(secret_id_valid("mcpgate/platform"), "a name is an id");
	CHECK(!secret_id_valid("a b"), "an id with a space");
	CHECK(secret_cursor_valid("b2Zmc2V0OjEwMA=="), "a base64 cursor");
	CHECK(!secret_cursor_valid("a b"), "a cursor with a space");
	CHECK(!secret_cursor_valid(""), "an empty cursor");
}

/* ---- masking ---- */

static void test_mask(void)
{
	CHECK(strcmp(mask_of(""), "********") == 0, "empty: stars only");
	CHECK(strcmp(mask_of("abc"), "********") == 0, "3 chars: stars only, no length");
	CHECK(strcmp(mask_of("abcdefghijk"), "********") == 0, "11 chars: stars only");
	CHECK(strcmp(mask_of("abcdefghijkl"), "********kl (12 chars)") == 0, "12 chars: last 2 and the length (%s)",
	      mask_of("abcdefghijkl"));
	CHECK(strcmp(mask_of("s3cr3t-value-1"), "********-1 (14 chars)") == 0, "14 chars (%s)",
	      mask_of("s3cr3t-value-1"));
	/* 13 two-byte characters: counted as characters, the tail is whole characters. */
	const char *accents = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                      "\xc3\xa9\xc3\xa0\xc3\xbc";
	CHECK(strcmp(mask_of(accents), "********\xc3\xa0\xc3\xbc (13 chars)") == 0, "UTF-8: characters, not bytes (%s)",
	      mask_of(accents));
	const char *emoji = "abcdefghijkl\xf0\x9f\x94\x91\xf0\x9f\x94\x92";
	CHECK(strcmp(mask_of(emoji), "********\xf0\x9f\x94\x91\xf0\x9f\x94\x92 (14 chars)") == 0, "4-byte characters in the tail");
	/* Broken UTF-8 at the end: no tail rather than half a character. */
	const char *broken = "abcdefghijklmn\xc3";
	CHECK(strcmp(mask_of(broken), "******** (15 chars)") == 0, "a broken tail is not shown (%s)", mask_of(broken));
	/* The mask never holds more of a long value than its last 2 characters. */
	bool leak = false;
	for (size_t n = 12; n < 200; n++) {
		char s[256];
		for (size_t i = 0; i < n; i++)
			s[i] = (char)('A' + (i * 7 + n) % 26);
		s[n] = '\0';
		char want[SECRET_MASK_MAX];
		snprintf(want, sizeof want, "********%.2s (%zu chars)", s + n - 2, n);
		leak = leak || strcmp(mask_of(s), want) != 0;
	}
	CHECK(!leak, "12..199 chars: exactly stars, the last 2 and the length");
	char small[4];
	CHECK(secret_mask("abcdefghijklmnop", 16, small, sizeof small) == 3 && strcmp(small, "***") == 0,
	      "a small buffer is cut, NUL-terminated");

	json_t *n = json_integer(12345678901234);
	json_t *m = secret_mask_json(n);
	CHECK(strcmp(json_string_value(m), "********34 (14 chars)") == 0, "a number is masked as its text");
	json_decref(n);
	json_decref(m);
	json_t *o = json_pack("{s:s}", "nested", "value");
	m = secret_mask_json(o);
	CHECK(strcmp(json_string_value(m), "********\"} (18 chars)") == 0, "an object is masked as its JSON (%s)",
	      json_string_value(m));
	json_decref(o);
	json_decref(m);
}

/* ---- JSON budgets, with jansson as the oracle ---- */

static void test_escaped_len(void)
{
	bool same = true;
	for (int c = 1; c < 256; c++) {
		char s[2] = { (char)c, 0 };
		if (c >= 0x80)
			continue; /* lone high bytes are not UTF-8: jansson refuses them */
		json_t *j = json_string(s);
		char *d = dump(j);
		same = same && strlen(d) - 2 == json_text_escaped_len(s, 1);
		free(d);
		json_decref(j);
	}
	const char *u = "\xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x94\x91 \x7f /";
	json_t *j = json_string(u);
	char *d = dump(j);
	same = same && strlen(d) - 2 == json_text_escaped_len(u, strlen(u));
	free(d);
	json_decref(j);
	CHECK(same, "escaped sizes match jansson's output for every ASCII byte and some UTF-8");
	const char *s = "ab\xc3\xa9";
	CHECK(json_text_cut(s, 4, 3, NULL) == 2, "a cut never splits a character");
	CHECK(json_text_cut("a\"b", 3, 2, NULL) == 1, "a cut counts escapes");
}

/* ---- GetSecretValue answers ---- */

static void test_parse(void)
{
	char err[512];
	struct secret_value v;
	char *a = answer("s3cr3t-value-1", NULL);
	CHECK(secret_value_parse(a, strlen(a), &v, err, sizeof err) == 0 && v.string_len == 14 &&
	      strcmp(v.name, "app/db-password") == 0 && strlen(v.version_id) == 36 && !v.binary,
	      "a SecretString answer");
	secret_value_free(&v);
	free(a);
	a = answer(NULL, "AAECAw==");
	CHECK(secret_value_parse(a, strlen(a), &v, err, sizeof err) == 0 && v.binary_len == 4 && !v.string,
	      "a SecretBinary answer: 4 bytes");
	secret_value_free(&v);
	free(a);
	a = answer(NULL, "not base64!");
	CHECK(secret_value_parse(a, strlen(a), &v, err, sizeof err) != 0 && strstr(err, "base64"),
	      "bad base64 is refused (%s)", err);
	free(a);
	const char *both = "{\"Name\":\"a\",\"ARN\":\"arn:x\",\"SecretString\":\"x\",\"SecretBinary\":\"AA==\"}";
	CHECK(secret_value_parse(both, strlen(both), &v, err, sizeof err) != 0 && strstr(err, "exactly one"),
	      "both SecretString and SecretBinary is refused");
	const char *neither = "{\"Name\":\"a\",\"ARN\":\"arn:x\"}";
	CHECK(secret_value_parse(neither, strlen(neither), &v, err, sizeof err) != 0, "neither is refused");
	const char *badname = "{\"Name\":\"a b\",\"ARN\":\"arn:x\",\"SecretString\":\"x\"}";
	CHECK(secret_value_parse(badname, strlen(badname), &v, err, sizeof err) != 0 && strstr(err, "Name"),
	      "an invalid Name is refused");
	/* A malformed answer around a value: the error must not quote it. */
	const char *broken = "{\"Name\":\"a\",\"ARN\":\"arn:x\",\"SecretString\":\"TOPSECRETVALUE";
	CHECK(secret_value_parse(broken, strlen(broken), &v, err, sizeof err) != 0 && !strstr(err, "TOPSECRET"),
	      "a malformed answer's error quotes nothing of it (%s)", err);
	const char *badstr = "{\"Name\":\"a\",\"ARN\":\"arn:x\",\"SecretString\":12}";
	CHECK(secret_value_parse(badstr, strlen(badstr), &v, err, sizeof err) != 0, "a non-string SecretString");
}

static void test_view_text(void)
{
	char err[512] = "";
	char *a = answer("s3cr3t-value-1", NULL);
	json_t *r = view_of(a, false, NULL, 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "********-1 (14 chars)") == 0 && json_is_false(json_object_get(r, "revealed")),
	      "masked text secret");
	CHECK(r && !dump_has(r, "s3cr3t") && !json_object_get(r, "keys"), "the masked result holds nothing of the value");
	CHECK(r && strcmp(str_at(r, "name"), "app/db-password") == 0 && strncmp(str_at(r, "arn"), "arn:aws:", 8) == 0 &&
	      strlen(str_at(r, "version_id")) == 36, "name, arn and version_id");
	json_decref(r);
	r = view_of(a, true, NULL, 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "s3cr3t-value-1") == 0 && json_is_true(json_object_get(r, "revealed")) &&
	      !json_object_get(r, "truncated"), "revealed text secret");
	json_decref(r);
	r = view_of(a, false, "password", 0, 51200, err, sizeof err);
	CHECK(!r && strstr(err, "not a JSON object") && !strstr(err, "s3cr3t"), "json_key on a text secret (%s)", err);
	r = view_of(a, false, NULL, 3, 51200, err, sizeof err);
	CHECK(!r && strstr(err, "masked"), "offset on a masked value is refused (%s)", err);
	r = view_of(a, true, NULL, 99, 51200, err, sizeof err);
	CHECK(!r && strstr(err, "past the end"), "offset past the end (%s)", err);
	free(a);

	const char *shortval = "pin1";
	a = answer(shortval, NULL);
	r = view_of(a, false, NULL, 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "********") == 0, "a short secret shows stars only");
	json_decref(r);
	free(a);
}

static void test_view_json(void)
{
	char err[512] = "";
	char *a = answer("{\"token\":\"tok-123\",\"user\":\"svc\",\"long\":\"abcdefghijklmnop\",\"n\":42}", NULL);
	json_t *r = view_of(a, false, NULL, 0, 51200, err, sizeof err);
	json_t *val = json_object_get(r, "value");
	CHECK(r && json_is_object(val) && strcmp(str_at(val, "token"), "********") == 0 &&
	      strcmp(str_at(val, "long"), "********op (16 chars)") == 0 && strcmp(str_at(val, "n"), "********") == 0,
	      "masked JSON secret: each value masked");
	CHECK(r && dump_has(json_object_get(r, "keys"), "[\"token\",\"user\",\"long\",\"n\"]"),
	      "keys in the secret's order");
	CHECK(r && !dump_has(r, "tok-123") && !dump_has(r, "svc\""), "nothing of the values");
	json_decref(r);
	r = view_of(a, true, NULL, 0, 51200, err, sizeof err);
	val = json_object_get(r, "value");
	CHECK(r && strcmp(str_at(val, "token"), "tok-123") == 0 && json_integer_value(json_object_get(val, "n")) == 42,
	      "revealed JSON secret: the object itself");
	json_decref(r);
	r = view_of(a, true, "token", 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "tok-123") == 0 && strcmp(str_at(r, "json_key"), "token") == 0 &&
	      json_array_size(json_object_get(r, "keys")) == 4, "revealed json_key");
	json_decref(r);
	r = view_of(a, false, "long", 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "********op (16 chars)") == 0, "masked json_key");
	json_decref(r);
	r = view_of(a, true, "n", 0, 51200, err, sizeof err);
	CHECK(r && json_integer_value(json_object_get(r, "value")) == 42, "revealed non-string json_key keeps its type");
	json_decref(r);
	r = view_of(a, true, "password", 0, 51200, err, sizeof err);
	CHECK(!r && strstr(err, "json_key 'password' is not a key") && strstr(err, "token, user, long, n") &&
	      !strstr(err, "tok-123"), "unknown json_key lists the keys (%s)", err);
	r = view_of(a, true, NULL, 5, 51200, err, sizeof err);
	CHECK(!r && strstr(err, "json_key"), "offset on a whole JSON secret points at json_key (%s)", err);
	free(a);
	/* A JSON array or scalar is a text secret. */
	a = answer("[1,2,3,4,5,6,7,8]", NULL);
	r = view_of(a, false, NULL, 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "********8] (17 chars)") == 0 && !json_object_get(r, "keys"),
	      "a JSON array is masked as text");
	json_decref(r);
	free(a);
}

static void test_view_binary(void)
{
	char err[512] = "";
	char *a = answer(NULL, "AAECAwQFBgcICQ==");
	json_t *r = view_of(a, false, NULL, 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "(binary secret, 10 bytes)") == 0 &&
	      json_integer_value(json_object_get(r, "binary_bytes")) == 10 && !json_object_get(r, "encoding"),
	      "masked binary secret: a marker");
	json_decref(r);
	r = view_of(a, true, NULL, 0, 51200, err, sizeof err);
	CHECK(r && strcmp(str_at(r, "value"), "AAECAwQFBgcICQ==") == 0 && strcmp(str_at(r, "encoding"), "base64") == 0,
	      "revealed binary secret: base64");
	json_decref(r);
	r = view_of(a, true, "k", 0, 51200, err, sizeof err);
	CHECK(!r && strstr(err, "binary"), "json_key on a binary secret (%s)", err);
	free(a);
}

/* A revealed value larger than the cap: cut with a notice, and offset continues it exactly. */
static void test_view_cap(void)
{
	char err[512] = "";
	size_t len = 60000, cap = 8192;
	char *big = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		big[i] = i % 97 == 0 ? '"' : i % 89 == 0 ? '\n' : (char)('a' + i % 26);
	/* A two-byte character every so often, so that cuts must respect them. */
	for (size_t i = 50; i + 1 < len; i += 101) {
		big[i] = '\xc3';
		big[i + 1] = '\xa9';
	}
	big[len] = '\0';
	char *a = answer(big, NULL);
	char *joined = calloc(1, len + 1);
	size_t offset = 0, rounds = 0, got = 0;
	bool within = true, notices = true;
	while (rounds++ < 100) {
		json_t *r = view_of(a, true, NULL, offset, cap, err, sizeof err);
		if (!r) {
			notices = false;
			break;
		}
		char *d = dump(r);
		within = within && strlen(d) <= cap;
		free(d);
		const char *v = str_at(r, "value");
		size_t vl = json_string_length(json_object_get(r, "value"));
		if (got + vl > len)
			break;
		memcpy(joined + got, v, vl);
		got += vl;
		const char *t = str_at(r, "truncated");
		size_t next = 0;
		const char *at = t ? strstr(t, "offset=") : NULL;
		if (!t || (!at && !strstr(t, "this is the end")))
			notices = false;
		json_decref(r);
		if (!at)
			break;
		next = strtoul(at + 7, NULL, 10);
		if (next <= offset) {
			notices = false;
			break;
		}
		offset = next;
	}
	CHECK(within, "every part stays within the %zu-byte cap", cap);
	CHECK(notices, "each part says how to go on (offset=...) or that it is the end");
	CHECK(got == len && memcmp(joined, big, len) == 0, "the parts joined are the value (%zu of %zu bytes, %zu calls)",
	      got, len, rounds);
	free(joined);
	free(a);
	free(big);

	/* A JSON secret with many keys: key names first, the rest through json_key. */
	json_t *obj = json_object();
	for (int i = 0; i < 400; i++) {
		char k[32];
		snprintf(k, sizeof k, "key-%04d", i);
		json_object_set_new(obj, k, json_string("a-value-of-some-length-here"));
	}
	char *s = dump(obj);
	a = answer(s, NULL);
	json_t *r = view_of(a, false, NULL, 0, cap, err, sizeof err);
	char *d = r ? dump(r) : NULL;
	CHECK(r && strlen(d) <= cap && json_array_size(json_object_get(r, "keys")) == 400 &&
	      json_object_size(json_object_get(r, "value")) < 400 && strstr(str_at(r, "truncated"), "json_key="),
	      "many keys: all key names, some values, a notice pointing at json_key (%zu bytes)", d ? strlen(d) : 0);
	free(d);
	json_decref(r);
	r = view_of(a, true, NULL, 0, 4096, err, sizeof err);
	d = r ? dump(r) : NULL;
	CHECK(r && strlen(d) <= 4096 && json_array_size(json_object_get(r, "keys")) < 400 &&
	      strstr(str_at(r, "truncated"), "keys lists only"), "a smaller cap cuts the key list too, and says so");
	free(d);
	json_decref(r);
	free(a);
	free(s);
	json_decref(obj);
}

/* ---- ListSecrets ---- */

static bool allow_app(const char *name, void *arg)
{
	(void)arg;
	return fnmatch("app/*", name, 0) == 0 || strcmp(name, "mcpgate/platform") == 0;
}

static void test_list(void)
{
	char err[512] = "";
	const char *body = "{\"SecretList\":["
		"{\"ARN\":\"arn:1\",\"Name\":\"app/api-token\",\"Description\":\"API token of the app\",\"LastChangedDate\":1704067320},"
		"{\"ARN\":\"arn:2\",\"Name\":\"app/db-password\",\"Description\":\"db\",\"LastChangedDate\":1704067260.5},"
		"{\"ARN\":\"arn:3\",\"Name\":\"mcpgate/platform\",\"Description\":\"cfg\"},"
		"{\"ARN\":\"arn:4\",\"Name\":\"other/not-allowed\",\"Description\":\"a secret no role may read\"},"
		"{\"ARN\":\"arn:5\",\"Name\":\"app/api-token\"},"
		"{\"ARN\":\"arn:6\",\"Name\":\"app/bad name\"}],"
		"\"NextToken\":\"b2Zmc2V0OjQ=\"}";
	json_t *r = secret_list_result(body, strlen(body), NULL, allow_app, NULL, 51200, err, sizeof err);
	CHECK(r && dump_has(json_object_get(r, "names"), "[\"app/api-token\",\"app/db-password\",\"mcpgate/platform\"]"),
	      "only allowed names, each once, in order");
	CHECK(r && strcmp(str_at(json_object_get(r, "last_changed"), "app/db-password"), "2024-01-01T00:01:00Z") == 0 &&
	      !json_object_get(json_object_get(r, "last_changed"), "mcpgate/platform"), "last_changed as ISO 8601");
	CHECK(r && strcmp(str_at(r, "next_cursor"), "b2Zmc2V0OjQ=") == 0, "next_cursor is NextToken");
	CHECK(r && !dump_has(r, "other/") && !dump_has(r, "Description") && !dump_has(r, "API token") && !dump_has(r, "arn:"),
	      "no disallowed name, description or ARN");
	json_decref(r);
	r = secret_list_result(body, strlen(body), "app/db", allow_app, NULL, 51200, err, sizeof err);
	CHECK(r && json_array_size(json_object_get(r, "names")) == 1, "prefix filters again on our side");
	json_decref(r);
	r = secret_list_result("{}", 2, NULL, allow_app, NULL, 51200, err, sizeof err);
	CHECK(r && json_array_size(json_object_get(r, "names")) == 0 && !json_object_get(r, "next_cursor"),
	      "an empty answer");
	json_decref(r);
	CHECK(!secret_list_result("{\"SecretList\":{}}", 17, NULL, allow_app, NULL, 51200, err, sizeof err),
	      "SecretList must be an array");
	CHECK(!secret_list_result("{\"NextToken\":\"a b\"}", 19, NULL, allow_app, NULL, 51200, err, sizeof err),
	      "an unusable NextToken is refused");
	CHECK(!secret_list_result("[", 1, NULL, allow_app, NULL, 51200, err, sizeof err), "not JSON");

	/* 100 long names do not fit a small cap: a prefix of them, no cursor, limit=K in the notice. */
	json_t *list = json_array();
	for (int i = 0; i < 100; i++) {
		char name[300];
		snprintf(name, sizeof name, "app/%03d-%0250d", i, 0);
		json_array_append_new(list, json_pack("{s:s, s:i}", "Name", name, "LastChangedDate", 1704067200 + i));
	}
	json_t *doc = json_pack("{s:o, s:s}", "SecretList", list, "NextToken", "next-page");
	char *text = dump(doc);
	r = secret_list_result(text, strlen(text), NULL, allow_app, NULL, 8192, err, sizeof err);
	char *d = r ? dump(r) : NULL;
	size_t shown = json_array_size(json_object_get(r, "names"));
	char want[64];
	snprintf(want, sizeof want, "call again with limit=%zu", shown);
	CHECK(r && strlen(d) <= 8192 && shown > 0 && shown < 100 && !json_object_get(r, "next_cursor") &&
	      strstr(str_at(r, "truncated"), want), "a cut page: %zu names within 8192 bytes, no cursor, limit in the notice",
	      shown);
	free(d);
	json_decref(r);
	free(text);
	json_decref(doc);

	char when[32];
	CHECK(secret_iso_time(0, when, sizeof when) == 0 && strcmp(when, "1970-01-01T00:00:00Z") == 0, "epoch 0");
	CHECK(secret_iso_time(-1, when, sizeof when) != 0 && secret_iso_time(1e300, when, sizeof when) != 0,
	      "times out of range");
}

/* ---- the platform configuration ---- */

/* settings.config_keys as the server matches it: fnmatch over the whole dotted path. */
static bool config_keys_allow(const char *path, void *arg)
{
	for (const char *const *p = arg; *p; p++)
		if (fnmatch(*p, path, 0) == 0)
			return true;
	return false;
}

/* An unknown key's error names only keys that lead to something config_keys allows. */
static void test_config_filtered(json_t *doc)
{
	static const char *const allowed[] = { "feature_flags.beta", "support_email", "hosts.*.name", "missing_*",
		                               NULL };
	static const char *const none[] = { NULL };
	char err[1024] = "";
	json_t *v = config_lookup(doc, "missing_one", config_keys_allow, (void *)allowed, err, sizeof err);
	CHECK(!v && strstr(err, "key 'missing_one' is not in the configuration; its top-level keys that "
	                   "settings.config_keys allows: feature_flags, support_email, hosts") &&
	      !strstr(err, "max_upload_mb") && !strstr(err, "dotted.key") && !strstr(err, "redis"),
	      "an unknown key lists only the allowed top-level keys (%s)", err);
	v = config_lookup(doc, "feature_flags.gamma", config_keys_allow, (void *)allowed, err, sizeof err);
	CHECK(!v && strstr(err, "'feature_flags' has no key 'gamma' (its keys that settings.config_keys allows: "
	                   "beta)") && !strstr(err, "limits"),
	      "an unknown nested key lists only the allowed keys there (%s)", err);
	v = config_lookup(doc, "redis.port", config_keys_allow, (void *)allowed, err, sizeof err);
	CHECK(!v && strstr(err, "'redis' has no key 'port' (its keys that settings.config_keys allows: (none))") &&
	      !strstr(err, "password") && !strstr(err, "host"), "a key under a refused object names none of its neighbours (%s)", err);
	v = config_lookup(doc, "missing_one", config_keys_allow, (void *)none, err, sizeof err);
	CHECK(!v && strstr(err, "allows: (none)"), "nothing allowed: no key named (%s)", err);
	v = config_lookup(doc, "feature_flags.beta", config_keys_allow, (void *)allowed, err, sizeof err);
	CHECK(json_is_true(v), "the filter only shapes errors: an allowed lookup finds its value");

	/* Many allowed keys: the count of the rest counts allowed ones only. */
	json_t *wide = json_object();
	char name[32];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "%s_%03d", i % 2 ? "open" : "hidden", i);
		json_object_set_new(wide, name, json_integer(i));
	}
	static const char *const open[] = { "open_*", "zzz", NULL };
	char wide_err[1536] = ""; /* as the server's: room for the whole cut list */
	v = config_lookup(wide, "zzz", config_keys_allow, (void *)open, wide_err, sizeof wide_err);
	CHECK(!v && !strstr(wide_err, "hidden") && strstr(wide_err, "open_001") && strstr(wide_err, " more)"),
	      "a long allowed list is cut (%s)", wide_err);
	const char *more = strstr(wide_err, "... (");
	int listed = 0;
	for (const char *p = wide_err; (p = strstr(p, "open_")); p++)
		listed++;
	CHECK(more && listed + atoi(more + 5) == 100, "its count is of allowed keys (%d + %s)", listed,
	      more ? more + 5 : "?");
	json_decref(wide);
}

static void test_config(void)
{
	char err[1024] = "";
	json_t *doc = json_loads("{\"feature_flags\":{\"beta\":true,\"limits\":{\"rpm\":300}},\"support_email\":"
	                         "\"ops@example.com\",\"max_upload_mb\":25,\"hosts\":[\"a\",{\"name\":\"b\"}],"
	                         "\"dotted.key\":\"exact\",\"redis\":{\"host\":\"cache\",\"password\":\"pw-xyz\"}}",
	                         0, NULL);
	json_t *v = config_lookup(doc, "support_email", NULL, NULL, err, sizeof err);
	CHECK(v && strcmp(json_string_value(v), "ops@example.com") == 0, "a top-level key");
	v = config_lookup(doc, "feature_flags.beta", NULL, NULL, err, sizeof err);
	CHECK(json_is_true(v), "a dotted path");
	v = config_lookup(doc, "feature_flags.limits.rpm", NULL, NULL, err, sizeof err);
	CHECK(json_integer_value(v) == 300, "three levels");
	v = config_lookup(doc, "hosts.1.name", NULL, NULL, err, sizeof err);
	CHECK(v && strcmp(json_string_value(v), "b") == 0, "an array index");
	v = config_lookup(doc, "dotted.key", NULL, NULL, err, sizeof err);
	CHECK(v && strcmp(json_string_value(v), "exact") == 0, "an exact key with a dot wins");
	v = config_lookup(doc, "nope", NULL, NULL, err, sizeof err);
	CHECK(!v && strstr(err, "key 'nope' is not in the configuration") &&
	      strstr(err, "feature_flags, support_email, max_upload_mb, hosts, dotted.key"),
	      "an unknown key lists the top-level keys (%s)", err);
	v = config_lookup(doc, "feature_flags.gamma", NULL, NULL, err, sizeof err);
	CHECK(!v && strstr(err, "'feature_flags' has no key 'gamma'") && strstr(err, "beta, limits"),
	      "an unknown nested key names where (%s)", err);
	v = config_lookup(doc, "hosts.7", NULL, NULL, err, sizeof err);
	CHECK(!v && strstr(err, "'hosts' is an array of 2 elements"), "an index out of range (%s)", err);
	v = config_lookup(doc, "hosts.01", NULL, NULL, err, sizeof err);
	CHECK(!v, "a leading zero is not an index");
	v = config_lookup(doc, "max_upload_mb.x", NULL, NULL, err, sizeof err);
	CHECK(!v && strstr(err, "'max_upload_mb' is a number"), "no key inside a scalar (%s)", err);
	v = config_lookup(doc, "feature_flags..beta", NULL, NULL, err, sizeof err);
	CHECK(!v && strstr(err, "empty segment"), "an empty segment (%s)", err);
	char deep[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "a.");
	strcat(deep, "a");
	json_t *nest = json_string("x");
	for (int i = 0; i < 41; i++)
		nest = json_pack("{s:o}", "a", nest);
	v = config_lookup(nest, deep, NULL, NULL, err, sizeof err);
	CHECK(!v && strstr(err, "too many segments"), "at most 32 segments (%s)", err);
	json_decref(nest);
	json_t *arr = json_array();
	CHECK(!config_lookup(arr, "a", NULL, NULL, err, sizeof err) && strstr(err, "not a JSON object"), "not an object");
	json_decref(arr);

	json_t *r = config_result("feature_flags", json_object_get(doc, "feature_flags"), "mcpgate/platform", true, 51200);
	CHECK(r && json_is_true(json_object_get(r, "cached")) && json_is_object(json_object_get(r, "value")) &&
	      strcmp(str_at(r, "source"), "mcpgate/platform") == 0 && !json_object_get(r, "truncated"), "a result");
	json_decref(r);
	json_t *big = json_array();
	for (int i = 0; i < 3000; i++)
		json_array_append_new(big, json_string("some configuration text"));
	r = config_result("big", big, "mcpgate/platform", false, 8192);
	char *d = r ? dump(r) : NULL;
	CHECK(r && strlen(d) <= 8192 && json_is_string(json_object_get(r, "value")) &&
	      strstr(str_at(r, "truncated"), "narrower key"), "a large value is cut as text, within the cap");
	free(d);
	json_decref(r);
	json_decref(big);

	test_config_filtered(doc);

	char keys[64];
	secret_keys_text(doc, keys, sizeof keys);
	CHECK(strstr(keys, "feature_flags") && strstr(keys, "more)") && strlen(keys) < sizeof keys,
	      "a long key list is cut with a count (%s)", keys);
	json_decref(doc);
}

int main(void)
{
	test_names();
	test_mask();
	test_escaped_len();
	test_parse();
	test_view_text();
	test_view_json();
	test_view_binary();
	test_view_cap();
	test_list();
	test_config();
	return check_finish();
}
