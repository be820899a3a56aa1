/* Fuzzes API keys: the input as a presented key (parse agrees with an independent format
 * check; verify against a fixed table accepts only the one right key) and as a keys file
 * (what loads is well-formed, what does not says where). */
#include <mbedtls/sha256.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"

#define ID_OK "0123456789abcdef"
#define ID_EXPIRED "1111111111111111"
#define ID_REVOKED "2222222222222222"
#define SECRET_OK "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
#define SECRET_EXPIRED "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"
#define SECRET_REVOKED "7777777777777777777777777777777777777777777777777777777777777777"
#define NOW 1800000000 /* 2027-01-15, after the expired key's day */

static struct apikey_table table;

static void hash_hex(const char *secret, char out[65])
{
	unsigned char digest[32];
	mbedtls_sha256_ret((const unsigned char *)secret, strlen(secret), digest, 0);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static void init_once(void)
{
	static int done;
	if (done)
		return;
	char h_ok[65], h_exp[65], h_rev[65], text[1024], err[256];
	hash_hex(SECRET_OK, h_ok);
	hash_hex(SECRET_EXPIRED, h_exp);
	hash_hex(SECRET_REVOKED, h_rev);
	snprintf(text, sizeof text, "{\"keys\":["
	         "{\"id\":\"" ID_OK "\",\"hash\":\"%s\",\"client\":\"ok\",\"roles\":[\"r\"]},"
	         "{\"id\":\"" ID_EXPIRED "\",\"hash\":\"%s\",\"client\":\"old\",\"roles\":[],\"expires\":\"2026-01-01\"},"
	         "{\"id\":\"" ID_REVOKED "\",\"hash\":\"%s\",\"client\":\"gone\",\"roles\":[],\"revoked\":true}]}",
	         h_ok, h_exp, h_rev);
	if (apikey_table_load(&table, text, strlen(text), err, sizeof err) != 0 || table.n != 3)
		abort();
	done = 1;
}

static bool is_lower_hex(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool well_formed_key(const uint8_t *k, size_t n)
{
	return n == APIKEY_LEN && memcmp(k, "mcpg_", 5) == 0 && k[5 + APIKEY_ID_LEN] == '_' &&
	       is_lower_hex(k + 5, APIKEY_ID_LEN) &&
	       is_lower_hex(k + 6 + APIKEY_ID_LEN, APIKEY_SECRET_LEN);
}

static bool key_is(const uint8_t *k, size_t n, const char *id, const char *secret)
{
	return n == APIKEY_LEN && memcmp(k + 5, id, APIKEY_ID_LEN) == 0 &&
	       memcmp(k + 6 + APIKEY_ID_LEN, secret, APIKEY_SECRET_LEN) == 0;
}

static void check_as_key(const uint8_t *data, size_t size)
{
	struct apikey_parts parts;
	int rc = apikey_parse((const char *)data, size, &parts);
	bool formed = well_formed_key(data, size);
	if ((rc == 0) != formed)
		abort();
	if (rc == 0 && (memcmp(parts.id, data + 5, APIKEY_ID_LEN) != 0 || parts.id[APIKEY_ID_LEN] ||
	                memcmp(parts.secret, data + 6 + APIKEY_ID_LEN, APIKEY_SECRET_LEN) != 0 ||
	                parts.secret[APIKEY_SECRET_LEN]))
		abort();

	const struct apikey_record *rec = NULL;
	enum apikey_verdict v = apikey_verify(&table, (const char *)data, size, NOW, &rec);
	if ((v == APIKEY_MALFORMED) != !formed || (v == APIKEY_OK) != (rec != NULL))
		abort();
	if (!formed)
		return;
	bool known = memcmp(data + 5, ID_OK, APIKEY_ID_LEN) == 0 ||
	             memcmp(data + 5, ID_EXPIRED, APIKEY_ID_LEN) == 0 ||
	             memcmp(data + 5, ID_REVOKED, APIKEY_ID_LEN) == 0;
	if ((v == APIKEY_UNKNOWN) == known)
		abort();
	if ((v == APIKEY_OK) != key_is(data, size, ID_OK, SECRET_OK) ||
	    (v == APIKEY_EXPIRED) != key_is(data, size, ID_EXPIRED, SECRET_EXPIRED) ||
	    (v == APIKEY_REVOKED) != key_is(data, size, ID_REVOKED, SECRET_REVOKED))
		abort();
	if (strcmp(apikey_verdict_text(v), "?") == 0)
		abort();
}

static void check_as_keys_file(const uint8_t *data, size_t size)
{
	struct apikey_table t;
	char err[128];
	memset(err, 'x', sizeof err);
	if (apikey_table_load(&t, (const char *)data, size, err, sizeof err) != 0) {
		if (!memchr(err, '\0', sizeof err) || t.n != 0 || t.records != NULL ||
		    !(strncmp(err, "at $.keys", 9) == 0 || strncmp(err, "line ", 5) == 0 ||
		      strcmp(err, "out of memory") == 0))
			abort();
		return;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct apikey_record *r = &t.records[i];
		if (strlen(r->id) != APIKEY_ID_LEN || !is_lower_hex((const uint8_t *)r->id, APIKEY_ID_LEN) ||
		    !memchr(r->client, '\0', sizeof r->client) || !json_is_array(r->roles) ||
		    r->rpm < 0 || r->expires < 0)
			abort();
		for (size_t k = 0; k < i; k++)
			if (strcmp(t.records[k].id, r->id) == 0)
				abort();
		for (size_t k = 0; k < json_array_size(r->roles); k++)
			if (!json_is_string(json_array_get(r->roles, k)))
				abort();
		/* Every loaded id is found (whatever the verdict on the secret). */
		char key[APIKEY_LEN + 1];
		snprintf(key, sizeof key, "mcpg_%s_%064d", r->id, 0);
		const struct apikey_record *found = NULL;
		enum apikey_verdict v = apikey_verify(&t, key, APIKEY_LEN, NOW, &found);
		if (v == APIKEY_MALFORMED || v == APIKEY_UNKNOWN || (found && found != r))
			abort();
	}
	apikey_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	check_as_key(data, size);
	check_as_keys_file(data, size);
	return 0;
}
