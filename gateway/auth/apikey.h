/* API keys: `mcpg_<id>_<secret>`, id 16 hex digits, secret 64 hex digits. The id finds the
 * record; the secret's SHA-256 is compared in constant time. Raw keys are never stored. */
#ifndef MCPGATE_APIKEY_H
#define MCPGATE_APIKEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define APIKEY_ID_LEN 16
#define APIKEY_SECRET_LEN 64
#define APIKEY_LEN (5 + APIKEY_ID_LEN + 1 + APIKEY_SECRET_LEN)

struct apikey_parts {
	char id[APIKEY_ID_LEN + 1];
	char secret[APIKEY_SECRET_LEN + 1];
};

/* Splits and checks the format of a presented key. Returns 0, or -1 for anything else. */
int apikey_parse(const char *key, size_t len, struct apikey_parts *out);

struct apikey_record {
	char id[APIKEY_ID_LEN + 1];
	unsigned char hash[32];
	char client[65];
	json_t *roles;    /* array of strings (owned) */
	long rpm;         /* 0 = default limit */
	time_t expires;   /* 0 = never */
	bool revoked;
};

struct apikey_table {
	struct apikey_record *records;
	size_t n;
};

/* Loads the keys file's text ({"keys":[...]} as written by `mcpgate keygen`). Returns 0,
 * or -1 with a message naming the record and field. */
int apikey_table_load(struct apikey_table *t, const char *text, size_t len, char *err, size_t errlen);
void apikey_table_free(struct apikey_table *t);

enum apikey_verdict { APIKEY_OK, APIKEY_MALFORMED, APIKEY_UNKNOWN, APIKEY_WRONG_SECRET,
                      APIKEY_EXPIRED, APIKEY_REVOKED };

/* Checks a presented key; on APIKEY_OK *record points into the table. */
enum apikey_verdict apikey_verify(const struct apikey_table *t, const char *key, size_t len,
                                  time_t now, const struct apikey_record **record);
const char *apikey_verdict_text(enum apikey_verdict v);

#endif
