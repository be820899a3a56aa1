/* What the secrets server makes of Secrets Manager's answers, as pure functions: secret names,
 * masking, GetSecretValue / ListSecrets answers turned into capped tool results, and dotted-path
 * lookups in the platform configuration. No I/O and no logging (values must never reach a log),
 * so the unit tests and the fuzz harness reach all of it. */
#ifndef MCPGATE_SERVERS_SECRETS_JSON_H
#define MCPGATE_SERVERS_SECRETS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define SECRET_NAME_MAX 512      /* Secrets Manager's limit on a secret's name */
#define SECRET_ID_MAX 2048       /* a name or an ARN, as SecretId takes it */
#define SECRET_VERSION_MAX 128   /* VersionId: a UUID (36) as AWS makes them */
#define SECRET_CURSOR_MAX 4096   /* NextToken as we pass it through */
#define SECRET_VALUE_MAX 65536   /* Secrets Manager's limit on SecretString / SecretBinary */
#define SECRET_LIST_LIMIT_MAX 100

/* Values shorter than this many characters are masked completely; longer ones show their
 * last SECRET_MASK_TAIL characters and their length. */
#define SECRET_MASK_MIN_TAIL 12
#define SECRET_MASK_TAIL 2
#define SECRET_MASK "********"
#define SECRET_MASK_MAX 48       /* bytes of a mask, NUL included */

#define CONFIG_PATH_DEPTH_MAX 32 /* segments of a dotted configuration key */

/* ---- names ---- */

/* A secret's name as Secrets Manager allows it: 1..512 of A-Z a-z 0-9 / _ + = . @ -. No ':',
 * so a name can never be read as a (partial) ARN naming another secret. */
bool secret_name_valid(const char *name);
/* A name, or an ARN (the same characters and ':'), of at most 2048 bytes: for the operator's
 * own settings.config_secret and the start-up fetcher. */
bool secret_id_valid(const char *id);
/* A ListSecrets NextToken as the tool passes it back: 1..4096 visible ASCII characters. */
bool secret_cursor_valid(const char *cursor);

/* ---- masking ---- */

/* Writes the mask of `len` bytes of UTF-8 text into out (at least SECRET_MASK_MAX bytes):
 * "********" for fewer than 12 characters (nothing of a short secret, not even its length),
 * otherwise "********" + the last 2 characters + " (N chars)". Text that is not valid UTF-8
 * shows no tail. Returns the mask's length. */
size_t secret_mask(const char *s, size_t len, char *out, size_t cap);
/* The mask of a JSON value: a string's text, or the compact JSON of anything else. NULL only
 * when memory ran out. */
json_t *secret_mask_json(const json_t *value);

/* ---- GetSecretValue ---- */

/* GetSecretValue's answer. The pointers point into `doc`; secret_value_free wipes the value. */
struct secret_value {
	json_t *doc;
	const char *name, *arn, *version_id;
	const char *string;      /* SecretString, or NULL */
	size_t string_len;
	const char *binary;      /* SecretBinary as base64, or NULL */
	size_t binary_b64_len;
	size_t binary_len;       /* decoded bytes */
};

/* Parses and checks the answer (Name, ARN, VersionId within their limits; exactly one of
 * SecretString or SecretBinary, base64 checked). 0, or -1 with a reason in err that quotes
 * nothing of the answer. */
int secret_value_parse(const char *body, size_t len, struct secret_value *out, char *err, size_t errlen);
void secret_value_free(struct secret_value *v);

/* The SecretString as a JSON object (new reference), or NULL when it is not one (or there is
 * no SecretString). Parse errors are not reported: their text would quote the secret. */
json_t *secret_value_object(const struct secret_value *v);

struct secret_view_request {
	bool reveal;          /* the caller asked for the clear value and may see it */
	const char *json_key; /* one top-level key of a JSON secret, or NULL for all of it */
	size_t offset;        /* bytes into a revealed text value (a continuation) */
	size_t cap;           /* bytes of compact JSON the result may take */
};

/* secret_get's structured result: {"name", "arn", "version_id", "revealed", "value",
 * "keys"? (a JSON object secret's top-level keys), "json_key"?, "binary_bytes"?,
 * "encoding"? ("base64" for a revealed binary secret), "truncated"? (a notice saying how to
 * get the rest)}. Masked: a text secret's value is its mask, a JSON object's value maps each
 * key to the mask of its value, a binary secret's is "(binary secret, N bytes)". NULL with
 * a tool-error sentence in err (never quoting a value) when the request does not fit the
 * secret (json_key on a non-object, an unknown json_key, an offset past the end) or the
 * result cannot fit in cap. */
json_t *secret_view(const struct secret_value *v, const struct secret_view_request *rq, char *err,
                    size_t errlen);

/* ---- ListSecrets ---- */

typedef bool (*secret_allowed_fn)(const char *name, void *arg);

/* ListSecrets' answer as {"names": [...], "last_changed": {name: ISO 8601}, "next_cursor"?,
 * "truncated"?}: only names `allowed` accepts and that start with `prefix` (may be NULL);
 * descriptions, tags and the rest are dropped. When the names do not fit in cap, the result
 * keeps the first K, has no next_cursor, and its notice says to call again with limit=K.
 * NULL with err when the answer is malformed. */
json_t *secret_list_result(const char *body, size_t len, const char *prefix, secret_allowed_fn allowed,
                           void *arg, size_t cap, char *err, size_t errlen);

/* Epoch seconds as "2024-01-01T00:00:00Z"; -1 when out of range (before 1970 or after 9999). */
int secret_iso_time(double epoch, char *out, size_t cap);

/* ---- the platform configuration ---- */

/* Whether config_get may return the value at a dotted path (settings.config_keys). */
typedef bool (*config_key_allowed_fn)(const char *path, void *arg);

/* The value at `path` in `doc` (borrowed): an exact top-level key first, then a dotted path
 * ("feature_flags.beta", array elements by index: "hosts.0"). NULL with err naming where the
 * walk stopped and the keys there that lead somewhere readable: a key is named when `readable`
 * accepts its dotted path or a path below it in doc, so an error never names a key config_get
 * would refuse along with everything under it (the walked part is the caller's own, allowed
 * path). `readable` NULL names every key. */
json_t *config_lookup(json_t *doc, const char *path, config_key_allowed_fn readable, void *arg, char *err,
                      size_t errlen);

/* The keys of `obj` joined with ", ", cut with " ... (N more)" to fit cap. */
void secret_keys_text(const json_t *obj, char *out, size_t cap);

/* config_get's structured result {"key", "value", "source", "cached", "truncated"?}: a value
 * whose JSON does not fit in cap becomes the first part of its JSON text with a notice. NULL
 * only when memory ran out. */
json_t *config_result(const char *key, const json_t *value, const char *source, bool cached, size_t cap);

#endif
