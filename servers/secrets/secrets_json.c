/* Secrets Manager on the wire, without the wire: names checked before a request, values masked
 * unless revealed, answers turned into capped tool results, and the platform configuration's
 * dotted keys. Nothing here logs: a secret's value must never reach a log line. */
#include "secrets_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>

#include "../common/json_text.h"
#include "mcp_server.h"

#define NOTICE_ROOM 320      /* ,"truncated":"[truncated: ...]" with its numbers and a key */
#define KEYS_TEXT_MAX 1024   /* keys named in an error */
#define CONFIG_PATH_MAX 1024

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static size_t dump_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The bytes a string takes as a JSON string, quotes included. */
static size_t string_cost(const char *s)
{
	return json_text_escaped_len(s, strlen(s)) + 2;
}

/* ---- names ---- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("/_+=.@-", c));
}

bool secret_name_valid(const char *name)
{
	if (!name || !*name)
		return false;
	size_t n = 0;
	for (; name[n]; n++)
		if (n >= SECRET_NAME_MAX || !name_char(name[n]))
			return false;
	return true;
}

bool secret_id_valid(const char *id)
{
	if (!id || !*id)
		return false;
	for (size_t n = 0; id[n]; n++)
		if (n >= SECRET_ID_MAX || !(name_char(id[n]) || id[n] == ':'))
			return false;
	return true;
}

static bool visible_ascii(const char *s, size_t max)
{
	if (!s || !*s)
		return false;
	for (size_t n = 0; s[n]; n++)
		if (n >= max || (unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7F)
			return false;
	return true;
}

bool secret_cursor_valid(const char *cursor)
{
	return visible_ascii(cursor, SECRET_CURSOR_MAX);
}

/* ---- masking ---- */

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

size_t secret_mask(const char *s, size_t len, char *out, size_t cap)
{
	size_t chars = utf8_chars(s, len);
	int n;
	if (chars < SECRET_MASK_MIN_TAIL) {
		n = snprintf(out, cap, "%s", SECRET_MASK);
	} else {
		size_t start = len;
		for (int k = 0; k < SECRET_MASK_TAIL && start > 0; k++) {
			start--;
			while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80)
				start--;
		}
		size_t tail = len - start;
		if (tail > 8 || !mcp_text_is_utf8(s + start, tail))
			tail = 0; /* a broken tail would make the whole result unreadable */
		n = snprintf(out, cap, "%s%.*s (%zu chars)", SECRET_MASK, (int)tail, s + start, chars);
	}
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}

json_t *secret_mask_json(const json_t *value)
{
	char mask[SECRET_MASK_MAX];
	if (json_is_string(value)) {
		secret_mask(json_string_value(value), json_string_length(value), mask, sizeof mask);
		return json_string(mask);
	}
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text)
		return NULL;
	size_t len = strlen(text);
	secret_mask(text, len, mask, sizeof mask);
	explicit_bzero(text, len);
	free(text);
	return json_string(mask);
}

/* ---- GetSecretValue ---- */

int secret_value_parse(const char *body, size_t len, struct secret_value *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		/* No position or text from jansson: it may quote the secret. */
		json_decref(doc);
		say(err, errlen, "GetSecretValue's answer is not a JSON object");
		return -1;
	}
	out->doc = doc;
	out->name = json_string_value(json_object_get(doc, "Name"));
	out->arn = json_string_value(json_object_get(doc, "ARN"));
	out->version_id = json_string_value(json_object_get(doc, "VersionId"));
	json_t *string = json_object_get(doc, "SecretString");
	json_t *binary = json_object_get(doc, "SecretBinary");
	const char *why = NULL;
	if (!secret_name_valid(out->name))
		why = "holds no valid Name";
	else if (!visible_ascii(out->arn, SECRET_ID_MAX))
		why = "holds no valid ARN";
	else if (json_object_get(doc, "VersionId") && !visible_ascii(out->version_id, SECRET_VERSION_MAX))
		why = "holds an invalid VersionId";
	else if (!string == !binary)
		why = "must hold exactly one of SecretString and SecretBinary";
	else if (string && !json_is_string(string))
		why = "holds a SecretString that is not a string";
	else if (binary && !json_is_string(binary))
		why = "holds a SecretBinary that is not a base64 string";
	else if (string && json_string_length(string) > SECRET_VALUE_MAX)
		why = "holds a SecretString larger than Secrets Manager's 65536 bytes";
	if (why) {
		say(err, errlen, "GetSecretValue's answer %s", why);
		secret_value_free(out);
		return -1;
	}
	if (!out->version_id)
		out->version_id = "";
	if (string) {
		out->string = json_string_value(string);
		out->string_len = json_string_length(string);
		return 0;
	}
	out->binary = json_string_value(binary);
	out->binary_b64_len = json_string_length(binary);
	size_t decoded = 0;
	int rc = mbedtls_base64_decode(NULL, 0, &decoded, (const unsigned char *)out->binary,
	                               out->binary_b64_len);
	if ((rc != 0 && rc != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL) || decoded > SECRET_VALUE_MAX ||
	    strlen(out->binary) != out->binary_b64_len) {
		say(err, errlen, "GetSecretValue's answer holds a SecretBinary that is not base64 of at most "
		    "65536 bytes");
		secret_value_free(out);
		return -1;
	}
	out->binary_len = decoded;
	return 0;
}

void secret_value_free(struct secret_value *v)
{
	/* jansson owns these buffers; wiping them in place keeps the value out of freed memory. */
	if (v->string)
		explicit_bzero((char *)v->string, v->string_len);
	if (v->binary)
		explicit_bzero((char *)v->binary, v->binary_b64_len);
	json_decref(v->doc);
	memset(v, 0, sizeof *v);
}

json_t *secret_value_object(const struct secret_value *v)
{
	if (!v->string)
		return NULL;
	json_error_t jerr;
	json_t *obj = json_loadb(v->string, v->string_len, JSON_REJECT_DUPLICATES, &jerr);
	if (json_is_object(obj))
		return obj;
	json_decref(obj);
	return NULL;
}

/* Wipes the strings only this value holds (a member still held elsewhere, e.g. by a result
 * being returned, is left alone), so a secret does not linger in freed memory. */
static void wipe_unshared(json_t *v)
{
	if (!v || v->refcount != 1)
		return;
	const char *key;
	json_t *m;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_STRING:
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
		break;
	case JSON_OBJECT:
		json_object_foreach(v, key, m)
			wipe_unshared(m);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, m)
			wipe_unshared(m);
		break;
	default:
		break;
	}
}

static void wipe_decref(json_t *v)
{
	wipe_unshared(v);
	json_decref(v);
}

/* A revealed text value from `offset`, cut to what fits; the notice says how to continue. */
static int put_text(json_t *out, const char *text, size_t len, size_t offset, size_t cap, char *err,
                    size_t errlen)
{
	if (offset > len) {
		say(err, errlen, "offset %zu is past the end of the value (%zu bytes)", offset, len);
		return -1;
	}
	/* An offset from a notice is always on a character boundary; another one moves forward. */
	while (offset < len && ((unsigned char)text[offset] & 0xC0) == 0x80)
		offset++;
	const char *rest = text + offset;
	size_t rest_len = len - offset;
	size_t base = dump_size(out) + strlen(",\"value\":\"\"");
	size_t keep = rest_len;
	bool cut = offset > 0 || base + json_text_escaped_len(rest, rest_len) > cap;
	if (cut && base + NOTICE_ROOM < cap)
		keep = json_text_cut(rest, rest_len, cap - base - NOTICE_ROOM, NULL);
	if (cut && (base + NOTICE_ROOM >= cap || (keep == 0 && rest_len > 0))) {
		say(err, errlen, "the result does not fit in this server's result cap (%zu bytes)", cap);
		return -1;
	}
	if (json_object_set_new(out, "value", json_stringn(rest, keep)) != 0)
		goto oom;
	if (cut) {
		char notice[NOTICE_ROOM];
		if (offset + keep < len)
			snprintf(notice, sizeof notice, "[truncated: bytes %zu-%zu of %zu shown; call again "
			         "with offset=%zu for the rest]", offset, offset + keep, len, offset + keep);
		else
			snprintf(notice, sizeof notice, "[continued: bytes %zu-%zu of %zu shown; this is the "
			         "end]", offset, len, len);
		if (json_object_set_new(out, "truncated", json_string(notice)) != 0)
			goto oom;
	}
	return 0;
oom:
	say(err, errlen, "out of memory");
	return -1;
}

/* A JSON object secret, whole: every key in "keys", every value (masked or clear) in "value";
 * when they do not fit, the key names first (each value can be read alone with json_key). */
static int put_object(json_t *out, json_t *obj, bool reveal, size_t cap, char *err, size_t errlen)
{
	json_t *keys = json_array(), *value = json_object();
	if (!keys || !value || json_object_set(out, "keys", keys) != 0 ||
	    json_object_set(out, "value", value) != 0) {
		json_decref(keys);
		json_decref(value);
		say(err, errlen, "out of memory");
		return -1;
	}
	size_t n = json_object_size(obj), listed = 0, shown = 0;
	size_t base = dump_size(out), budget = cap > base ? cap - base : 0;
	/* What everything takes: each key twice (list, member), a colon, commas, the values. */
	size_t all = 0;
	const char *key;
	json_t *m;
	json_t *shown_values = json_object();
	if (!shown_values)
		goto oom;
	json_object_foreach(obj, key, m) {
		json_t *v = reveal ? json_incref(m) : secret_mask_json(m);
		if (!v || json_object_set_new(shown_values, key, v) != 0)
			goto oom;
		all += 2 * string_cost(key) + 3 + dump_size(v);
	}
	bool fits = all <= budget;
	size_t room = fits ? budget : budget > NOTICE_ROOM ? budget - NOTICE_ROOM : 0;
	size_t used = 0;
	json_object_foreach(obj, key, m) {
		size_t cost = string_cost(key) + 1;
		if (used + cost > room)
			break;
		used += cost;
		if (json_array_append_new(keys, json_string(key)) != 0)
			goto oom;
		listed++;
	}
	json_object_foreach(obj, key, m) {
		if (shown == listed)
			break;
		json_t *v = json_object_get(shown_values, key);
		size_t cost = string_cost(key) + 2 + dump_size(v);
		if (used + cost > room)
			break;
		used += cost;
		if (json_object_set(value, key, v) != 0)
			goto oom;
		shown++;
	}
	if (!fits) {
		char notice[NOTICE_ROOM];
		snprintf(notice, sizeof notice, "[truncated: the value shows %zu of %zu keys%s; call again "
		         "with json_key=<key> to read one key's value]", shown, n,
		         listed < n ? " and keys lists only the first of them" : "");
		if (json_object_set_new(out, "truncated", json_string(notice)) != 0)
			goto oom;
	}
	if (reveal)
		json_decref(shown_values); /* its values are obj's, still held there */
	else
		wipe_decref(shown_values);
	json_decref(keys);
	json_decref(value);
	return 0;
oom:
	json_decref(shown_values);
	json_decref(keys);
	json_decref(value);
	say(err, errlen, "out of memory");
	return -1;
}

static int put_keys(json_t *out, json_t *obj, char *err, size_t errlen)
{
	json_t *keys = json_array();
	const char *key;
	json_t *m;
	if (!keys)
		goto oom;
	json_object_foreach(obj, key, m)
		if (json_array_append_new(keys, json_string(key)) != 0)
			goto oom;
	if (json_object_set_new(out, "keys", keys) == 0)
		return 0;
	keys = NULL;
oom:
	json_decref(keys);
	say(err, errlen, "out of memory");
	return -1;
}

/* One key of a JSON object secret. */
static int put_member(json_t *out, const struct secret_value *v, json_t *obj,
                      const struct secret_view_request *rq, char *err, size_t errlen)
{
	json_t *m = json_object_get(obj, rq->json_key);
	if (!m) {
		char keys[KEYS_TEXT_MAX];
		secret_keys_text(obj, keys, sizeof keys);
		say(err, errlen, "json_key '%s' is not a key of secret '%s' (its keys: %s)", rq->json_key,
		    v->name, keys);
		return -1;
	}
	if (put_keys(out, obj, err, errlen) != 0 ||
	    json_object_set_new(out, "json_key", json_string(rq->json_key)) != 0) {
		say(err, errlen, "out of memory");
		return -1;
	}
	if (rq->reveal && json_is_string(m))
		return put_text(out, json_string_value(m), json_string_length(m), rq->offset, rq->cap, err,
		                errlen);
	if (rq->offset) {
		say(err, errlen, "offset continues a revealed text value; json_key '%s' is not one",
		    rq->json_key);
		return -1;
	}
	json_t *shown = rq->reveal ? json_incref(m) : secret_mask_json(m);
	if (!shown || json_object_set_new(out, "value", shown) != 0) {
		say(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int put_view(json_t *out, const struct secret_value *v, const struct secret_view_request *rq,
                    char *err, size_t errlen)
{
	char mask[SECRET_MASK_MAX + 64];
	if (v->binary) {
		if (rq->json_key) {
			say(err, errlen, "secret '%s' is a binary secret, so json_key does not apply", v->name);
			return -1;
		}
		if (json_object_set_new(out, "binary_bytes", json_integer((json_int_t)v->binary_len)) != 0)
			goto oom;
		if (rq->reveal) {
			if (json_object_set_new(out, "encoding", json_string("base64")) != 0)
				goto oom;
			return put_text(out, v->binary, v->binary_b64_len, rq->offset, rq->cap, err, errlen);
		}
		snprintf(mask, sizeof mask, "(binary secret, %zu bytes)", v->binary_len);
	} else {
		json_t *obj = secret_value_object(v);
		if (obj) {
			int rc;
			if (rq->json_key)
				rc = put_member(out, v, obj, rq, err, errlen);
			else if (rq->offset) {
				say(err, errlen, "offset continues a revealed text value; secret '%s' is a JSON "
				    "object: read one key with json_key", v->name);
				rc = -1;
			} else
				rc = put_object(out, obj, rq->reveal, rq->cap, err, errlen);
			wipe_decref(obj);
			return rc;
		}
		if (rq->json_key) {
			say(err, errlen, "secret '%s' is not a JSON object, so json_key does not apply", v->name);
			return -1;
		}
		if (rq->reveal)
			return put_text(out, v->string, v->string_len, rq->offset, rq->cap, err, errlen);
		secret_mask(v->string, v->string_len, mask, sizeof mask);
	}
	if (rq->offset) {
		say(err, errlen, "offset continues a revealed text value; this value is masked");
		return -1;
	}
	if (json_object_set_new(out, "value", json_string(mask)) != 0)
		goto oom;
	return 0;
oom:
	say(err, errlen, "out of memory");
	return -1;
}

json_t *secret_view(const struct secret_value *v, const struct secret_view_request *rq, char *err,
                    size_t errlen)
{
	json_t *out = json_pack("{s:s, s:s, s:s, s:b}", "name", v->name, "arn", v->arn, "version_id",
	                        v->version_id ? v->version_id : "", "revealed", rq->reveal);
	if (!out) {
		say(err, errlen, "out of memory");
		return NULL;
	}
	if (put_view(out, v, rq, err, errlen) != 0) {
		wipe_decref(out);
		return NULL;
	}
	if (dump_size(out) > rq->cap) {
		/* A revealed member that is a large array or object: no way to cut it meaningfully. */
		say(err, errlen, "the result is %zu bytes, more than this server returns (result cap %zu "
		    "bytes)%s", dump_size(out), rq->cap, rq->json_key ? "" : "; read one key with json_key");
		wipe_decref(out);
		return NULL;
	}
	return out;
}

/* ---- ListSecrets ---- */

int secret_iso_time(double epoch, char *out, size_t cap)
{
	if (!(epoch >= 0 && epoch < 253402300800.0))
		return -1;
	time_t t = (time_t)epoch;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* The allowed, distinct entries of a ListSecrets page, in order: {name: "ISO time" or ""}. */
static json_t *allowed_entries(json_t *list, const char *prefix, secret_allowed_fn allowed, void *arg)
{
	json_t *kept = json_object();
	size_t plen = prefix ? strlen(prefix) : 0;
	size_t i;
	json_t *entry;
	json_array_foreach(list, i, entry) {
		const char *name = json_string_value(json_object_get(entry, "Name"));
		/* A name we could not ask for is not one we list. */
		if (!kept || !secret_name_valid(name) || (plen && strncmp(name, prefix, plen) != 0) ||
		    json_object_get(kept, name) || !allowed(name, arg))
			continue;
		char when[32] = "";
		json_t *date = json_object_get(entry, "LastChangedDate");
		if (json_is_number(date) && secret_iso_time(json_number_value(date), when, sizeof when) != 0)
			when[0] = '\0';
		if (json_object_set_new(kept, name, json_string(when)) != 0) {
			json_decref(kept);
			return NULL;
		}
	}
	return kept;
}

json_t *secret_list_result(const char *body, size_t len, const char *prefix, secret_allowed_fn allowed,
                           void *arg, size_t cap, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *list = json_object_get(doc, "SecretList");
	json_t *token = json_object_get(doc, "NextToken");
	if (!json_is_object(doc) || (list && !json_is_array(list)) ||
	    (token && !json_is_null(token) && !secret_cursor_valid(json_string_value(token)))) {
		json_decref(doc);
		say(err, errlen, "ListSecrets' answer is not an object with a SecretList array and a valid "
		    "NextToken");
		return NULL;
	}
	json_t *kept = allowed_entries(list, prefix, allowed, arg);
	json_t *names = json_array(), *changed = json_object();
	json_t *out = json_pack("{s:o, s:o}", "names", names, "last_changed", changed);
	if (!kept || !out || (json_is_string(token) && json_object_set(out, "next_cursor", token) != 0))
		goto oom;
	/* Each name: in "names" and as a key of "last_changed" with its time, and commas. */
	size_t base = dump_size(out), all = 0;
	const char *name;
	json_t *when;
	json_object_foreach(kept, name, when)
		all += 2 * string_cost(name) + 2 + json_string_length(when) + 3;
	bool fits = base + all <= cap;
	size_t room = fits ? all : cap > base + NOTICE_ROOM ? cap - base - NOTICE_ROOM : 0;
	size_t used = 0, shown = 0;
	json_object_foreach(kept, name, when) {
		size_t cost = 2 * string_cost(name) + 2 + json_string_length(when) + 3;
		/* A prefix of the page, so that limit=shown from the same cursor pages without gaps. */
		if (used + cost > room)
			break;
		used += cost;
		if (json_array_append_new(names, json_string(name)) != 0 ||
		    (json_string_length(when) && json_object_set(changed, name, when) != 0))
			goto oom;
		shown++;
	}
	if (!fits) {
		char notice[NOTICE_ROOM];
		snprintf(notice, sizeof notice, "[truncated: %zu of %zu names shown; call again with "
		         "limit=%zu (and the same cursor) to page through the rest]", shown,
		         json_object_size(kept), shown ? shown : 1);
		json_object_del(out, "next_cursor");
		if (json_object_set_new(out, "truncated", json_string(notice)) != 0)
			goto oom;
	}
	json_decref(kept);
	json_decref(doc);
	return out;
oom:
	json_decref(kept);
	json_decref(out);
	json_decref(doc);
	say(err, errlen, "out of memory");
	return NULL;
}

/* ---- the platform configuration ---- */

/* A key's dotted path below `at` ("" for the top level) in path, or false when it does not
 * fit: such a path is longer than any key config_get takes. */
static bool path_join(char *path, size_t cap, const char *at, const char *key)
{
	int n = snprintf(path, cap, "%s%s%s", at, *at ? "." : "", key);
	return n >= 0 && (size_t)n < cap;
}

/* Whether `readable` accepts the value at path, or something below it in v. Bounded by
 * CONFIG_PATH_DEPTH_MAX levels and paths of CONFIG_PATH_MAX bytes: what lies deeper cannot be
 * asked for, and leaving it out only hides a key's name. */
static bool leads_to_readable(const json_t *v, const char *path, size_t depth, config_key_allowed_fn readable,
                              void *arg)
{
	if (readable(path, arg))
		return true;
	if (depth >= CONFIG_PATH_DEPTH_MAX || (!json_is_object(v) && !json_is_array(v)))
		return false;
	char below[CONFIG_PATH_MAX + 1], index[24];
	const char *key;
	json_t *m;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, m)
			if (path_join(below, sizeof below, path, key) &&
			    leads_to_readable(m, below, depth + 1, readable, arg))
				return true;
		return false;
	}
	json_array_foreach(v, i, m) {
		snprintf(index, sizeof index, "%zu", i);
		if (path_join(below, sizeof below, path, index) &&
		    leads_to_readable(m, below, depth + 1, readable, arg))
			return true;
	}
	return false;
}

/* Whether the key `key` of the object at `at` is one to name (no filter: all are). */
static bool key_shown(const json_t *m, const char *at, const char *key, config_key_allowed_fn readable,
                      void *arg)
{
	char path[CONFIG_PATH_MAX + 1];
	if (!readable)
		return true;
	size_t segments = 1; /* of the key's path: at's and the key's own */
	for (const char *p = at; *p; p++)
		segments += p == at || *p == '.';
	return path_join(path, sizeof path, at, key) && leads_to_readable(m, path, segments, readable, arg);
}

/* The keys of obj (at dotted path `at`) that key_shown accepts, joined with ", " and cut with
 * " ... (N more)" to fit cap; N counts only keys that would have been shown. */
static void keys_text(const json_t *obj, const char *at, config_key_allowed_fn readable, void *arg, char *out,
                      size_t cap)
{
	if (cap == 0)
		return;
	out[0] = '\0';
	size_t off = 0, listed = 0, shown = 0;
	bool full = false;
	const char *key;
	json_t *m;
	json_object_foreach((json_t *)obj, key, m) {
		if (!key_shown(m, at, key, readable, arg))
			continue;
		shown++;
		size_t need = strlen(key) + (listed ? 2 : 0);
		/* Room for this key and, after it, " ... (N more)". */
		if (full || off + need + 32 >= cap) {
			full = true;
			continue;
		}
		off += (size_t)snprintf(out + off, cap - off, "%s%s", listed ? ", " : "", key);
		listed++;
	}
	if (shown == 0)
		snprintf(out, cap, "(none)");
	else if (listed < shown)
		snprintf(out + off, cap - off, "%s... (%zu more)", listed ? " " : "", shown - listed);
}

void secret_keys_text(const json_t *obj, char *out, size_t cap)
{
	if (cap == 0)
		return;
	if (!json_is_object(obj)) {
		snprintf(out, cap, "(none)");
		return;
	}
	keys_text(obj, "", NULL, NULL, out, cap);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: case JSON_REAL: return "number";
	case JSON_TRUE: case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

/* An array index: decimal digits only, no sign or leading zero. */
static bool index_of(const char *seg, size_t size, size_t *out)
{
	if (!*seg || (seg[0] == '0' && seg[1]) || strlen(seg) > 9)
		return false;
	size_t n = 0;
	for (const char *p = seg; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (size_t)(*p - '0');
	}
	*out = n;
	return n < size;
}

json_t *config_lookup(json_t *doc, const char *path, config_key_allowed_fn readable, void *arg, char *err,
                      size_t errlen)
{
	const char *which = readable ? " that settings.config_keys allows" : "";
	char keys[KEYS_TEXT_MAX];
	if (!json_is_object(doc)) {
		say(err, errlen, "the configuration is not a JSON object");
		return NULL;
	}
	json_t *exact = json_object_get(doc, path);
	if (exact)
		return exact;
	char buf[CONFIG_PATH_MAX];
	size_t plen = strlen(path);
	if (plen == 0 || plen >= sizeof buf) {
		say(err, errlen, "key must be 1-%zu bytes", sizeof buf - 1);
		return NULL;
	}
	memcpy(buf, path, plen + 1);
	json_t *cur = doc;
	size_t depth = 0;
	char *seg = buf;
	for (;;) {
		char *dot = strchr(seg, '.');
		if (dot)
			*dot = '\0';
		/* What we walked so far, for the messages: path up to this segment. */
		int walked = (int)(seg - buf) - (seg > buf ? 1 : 0);
		if (!*seg || ++depth > CONFIG_PATH_DEPTH_MAX) {
			say(err, errlen, "key '%s' %s", path, *seg ? "has too many segments (at most 32)"
			    : "has an empty segment (keys are dotted paths: \"a.b\")");
			return NULL;
		}
		json_t *next = NULL;
		size_t idx;
		if (json_is_object(cur)) {
			next = json_object_get(cur, seg);
			if (!next) {
				/* The walked part: buf up to this segment, its dots back in place. */
				char at[CONFIG_PATH_MAX];
				snprintf(at, sizeof at, "%.*s", walked, path);
				keys_text(cur, at, readable, arg, keys, sizeof keys);
				if (cur == doc)
					say(err, errlen, "key '%s' is not in the configuration; its top-level keys%s: %s",
					    seg, which, keys);
				else
					say(err, errlen, "'%.*s' has no key '%s' (its keys%s: %s)", walked, path, seg,
					    which, keys);
				return NULL;
			}
		} else if (json_is_array(cur)) {
			if (!index_of(seg, json_array_size(cur), &idx)) {
				say(err, errlen, "'%.*s' is an array of %zu elements; '%s' is not an index in it",
				    walked, path, json_array_size(cur), seg);
				return NULL;
			}
			next = json_array_get(cur, idx);
		} else {
			say(err, errlen, "'%.*s' is a %s; it has no key '%s'", walked, path, type_name(cur), seg);
			return NULL;
		}
		cur = next;
		if (!dot)
			return cur;
		seg = dot + 1;
	}
}

json_t *config_result(const char *key, const json_t *value, const char *source, bool cached, size_t cap)
{
	json_t *out = json_pack("{s:s, s:O, s:s, s:b}", "key", key, "value", value, "source", source,
	                        "cached", cached);
	if (!out || dump_size(out) <= cap)
		return out;
	/* Too large as JSON: its text, cut, and how to ask for less. */
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text || json_object_set_new(out, "value", json_string("")) != 0) {
		free(text);
		json_decref(out);
		return NULL;
	}
	size_t len = strlen(text), base = dump_size(out);
	size_t keep = base + NOTICE_ROOM < cap ? json_text_cut(text, len, cap - base - NOTICE_ROOM, NULL) : 0;
	char notice[NOTICE_ROOM];
	snprintf(notice, sizeof notice, "[truncated: the value's JSON is %zu bytes; its first %zu are shown "
	         "as text; ask for a narrower key (\"%.64s.<key>\")]", len, keep, key);
	if (json_object_set_new(out, "value", json_stringn(text, keep)) != 0 ||
	    json_object_set_new(out, "truncated", json_string(notice)) != 0) {
		json_decref(out);
		out = NULL;
	}
	free(text);
	return out;
}
