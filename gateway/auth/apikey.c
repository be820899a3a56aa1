/* API key parsing and verification. Lookup by id is a linear scan for now: key tables are
 * small and the scan does not depend on the secret, so it leaks nothing about it. */
#include "apikey.h"

#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int apikey_parse(const char *key, size_t len, struct apikey_parts *out)
{
	if (len != APIKEY_LEN || memcmp(key, "mcpg_", 5) != 0 || key[5 + APIKEY_ID_LEN] != '_')
		return -1;
	const char *id = key + 5, *secret = key + 5 + APIKEY_ID_LEN + 1;
	if (!is_lower_hex(id, APIKEY_ID_LEN) || !is_lower_hex(secret, APIKEY_SECRET_LEN))
		return -1;
	memcpy(out->id, id, APIKEY_ID_LEN);
	out->id[APIKEY_ID_LEN] = '\0';
	memcpy(out->secret, secret, APIKEY_SECRET_LEN);
	out->secret[APIKEY_SECRET_LEN] = '\0';
	return 0;
}

static int hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
	if (strlen(hex) != 2 * n || !is_lower_hex(hex, 2 * n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int parse_date(const char *s, time_t *out)
{
	/* Exactly YYYY-MM-DD of a real day from 1970 on: strptime alone skips spaces, takes
	 * one-digit fields, and timegm rolls 02-31 into March; and 1969-12-31 would give 0,
	 * which means "never expires". */
	for (size_t i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : !(s[i] >= '0' && s[i] <= '9'))
			return -1;
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end || tm.tm_year < 70)
		return -1;
	int mday = tm.tm_mday, mon = tm.tm_mon;
	time_t day = timegm(&tm);
	if (day == (time_t)-1 || tm.tm_mday != mday || tm.tm_mon != mon)
		return -1;
	/* A key is valid through the whole of its expiry day (UTC). */
	*out = day + 86400;
	return 0;
}

static bool all_strings(const json_t *array)
{
	size_t i;
	const json_t *v;
	json_array_foreach(array, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

/* A repeated id would make one record shadow the other. */
static bool has_record(const struct apikey_table *t, const char *id)
{
	for (size_t k = 0; k < t->n; k++)
		if (strcmp(t->records[k].id, id) == 0)
			return true;
	return false;
}

int apikey_table_load(struct apikey_table *t, const char *text, size_t len, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *keys = json_object_get(doc, "keys");
	if (!doc || !json_is_array(keys)) {
		snprintf(err, errlen, doc ? "at $.keys: must be an array" : "line %d: %s", jerr.line,
		         jerr.text);
		json_decref(doc);
		return -1;
	}
	t->records = calloc(json_array_size(keys) + 1, sizeof *t->records);
	if (!t->records) {
		json_decref(doc);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t i;
	json_t *rec;
	json_array_foreach(keys, i, rec) {
		struct apikey_record *r = &t->records[t->n];
		const char *id = json_string_value(json_object_get(rec, "id"));
		const char *hash = json_string_value(json_object_get(rec, "hash"));
		const char *client = json_string_value(json_object_get(rec, "client"));
		json_t *roles = json_object_get(rec, "roles");
		json_t *rpm = json_object_get(rec, "rpm");
		const char *expires = json_string_value(json_object_get(rec, "expires"));
		const char *bad = NULL;
		if (!id || strlen(id) != APIKEY_ID_LEN || !is_lower_hex(id, APIKEY_ID_LEN))
			bad = "id: must be 16 lowercase hex digits";
		else if (!hash || hex_to_bytes(hash, r->hash, sizeof r->hash) != 0)
			bad = "hash: must be 64 lowercase hex digits";
		else if (!client || strlen(client) >= sizeof r->client)
			bad = "client: must be a string of at most 64 characters";
		else if (has_record(t, id))
			bad = "id: appears twice (each key needs its own id)";
		else if (!json_is_array(roles) || !all_strings(roles))
			bad = "roles: must be an array of strings";
		else if (rpm && (!json_is_integer(rpm) || json_integer_value(rpm) < 1))
			bad = "rpm: must be a positive whole number";
		else if (json_object_get(rec, "expires") && (!expires || parse_date(expires, &r->expires) != 0))
			bad = "expires: must be a date like 2027-01-31";
		else if (json_object_get(rec, "revoked") && !json_is_boolean(json_object_get(rec, "revoked")))
			bad = "revoked: must be true or false";
		if (bad) {
			snprintf(err, errlen, "at $.keys[%zu].%s", i, bad);
			json_decref(doc);
			apikey_table_free(t);
			return -1;
		}
		memcpy(r->id, id, APIKEY_ID_LEN + 1);
		snprintf(r->client, sizeof r->client, "%s", client);
		r->roles = json_incref(roles);
		r->rpm = rpm ? (long)json_integer_value(rpm) : 0;
		r->revoked = json_is_true(json_object_get(rec, "revoked"));
		t->n++;
	}
	json_decref(doc);
	return 0;
}

void apikey_table_free(struct apikey_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		json_decref(t->records[i].roles);
	free(t->records);
	memset(t, 0, sizeof *t);
}

static bool equal_constant_time(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

enum apikey_verdict apikey_verify(const struct apikey_table *t, const char *key, size_t len,
                                  time_t now, const struct apikey_record **record)
{
	struct apikey_parts parts;
	if (apikey_parse(key, len, &parts) != 0)
		return APIKEY_MALFORMED;
	const struct apikey_record *found = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->records[i].id, parts.id, APIKEY_ID_LEN) == 0)
			found = &t->records[i];
	if (!found)
		return APIKEY_UNKNOWN;
	unsigned char digest[32];
	mbedtls_sha256_ret((const unsigned char *)parts.secret, APIKEY_SECRET_LEN, digest, 0);
	bool match = equal_constant_time(digest, found->hash, sizeof digest);
	memset(&parts, 0, sizeof parts);
	if (!match)
		return APIKEY_WRONG_SECRET;
	if (found->revoked)
		return APIKEY_REVOKED;
	if (found->expires && now >= found->expires)
		return APIKEY_EXPIRED;
	*record = found;
	return APIKEY_OK;
}

const char *apikey_verdict_text(enum apikey_verdict v)
{
	switch (v) {
	case APIKEY_OK: return "ok";
	case APIKEY_MALFORMED: return "malformed API key";
	case APIKEY_UNKNOWN: return "unknown API key";
	case APIKEY_WRONG_SECRET: return "wrong API key";
	case APIKEY_EXPIRED: return "API key expired";
	case APIKEY_REVOKED: return "API key revoked";
	}
	return "?";
}
