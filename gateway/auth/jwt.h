/* OAuth 2.1 access tokens: a compact JWS (RS256 or ES256) checked against the issuer's key
 * set and the configured issuer, audience or Cognito client ids, lifetime and scopes, and
 * turned into the principal that travels with the request. */
#ifndef MCPGATE_JWT_H
#define MCPGATE_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "jwks.h"

#define JWT_MAX_TOKEN_BYTES 8192   /* longer presented tokens are refused unread */
#define JWT_MAX_SIGNATURE (JWKS_RSA_MAX_BITS / 8)
#define JWT_MAX_LIST 64            /* scopes, groups, audiences in one token */
#define JWT_MAX_NAME 255           /* sub, client_id, one scope or group */

/* Every way a token can be refused has its own verdict; jwt_verdict_text() says it in words
 * fit for a 401 body and error_description (it never quotes the token). */
enum jwt_verdict {
	JWT_OK,
	JWT_TOO_LONG,          /* more than JWT_MAX_TOKEN_BYTES */
	JWT_MALFORMED,         /* not three dot-separated parts */
	JWT_BAD_ENCODING,      /* a part is not canonical unpadded base64url */
	JWT_BAD_HEADER,        /* header not a JSON object, or kid/typ of the wrong type */
	JWT_UNSIGNED,          /* alg "none" */
	JWT_ALG_UNSUPPORTED,   /* HS256 and every other alg but RS256/ES256 */
	JWT_ALG_NOT_ALLOWED,   /* RS256/ES256 but not in this issuer's "algorithms" */
	JWT_BAD_TYP,           /* typ present and not JWT / at+jwt */
	JWT_CRIT_UNSUPPORTED,  /* a "crit" header: no extension is understood */
	JWT_BAD_SIGNATURE_SIZE,/* ES256 signature not 64 bytes, RSA not the modulus size */
	JWT_BAD_CLAIMS,        /* claims not a JSON object, or a claim of the wrong type or size */
	JWT_NO_KEYS,           /* the issuer's keys are not available (yet) */
	JWT_KID_REQUIRED,      /* no kid, and the key set has several keys */
	JWT_UNKNOWN_KID,       /* no key with this kid, even after a refetch */
	JWT_KEY_MISMATCH,      /* the key's type or own alg does not fit the token's alg */
	JWT_BAD_SIGNATURE,
	JWT_WRONG_ISSUER,
	JWT_WRONG_TOKEN_USE,   /* Cognito token_use other than "access" (an id token) */
	JWT_WRONG_AUDIENCE,    /* neither aud nor (Cognito) client_id names this resource */
	JWT_NO_EXPIRY,
	JWT_EXPIRED,
	JWT_NOT_YET_VALID,     /* nbf in the future */
	JWT_ISSUED_IN_FUTURE,  /* iat in the future */
	JWT_NO_SUBJECT,        /* neither sub nor client_id */
	JWT_INSUFFICIENT_SCOPE,/* a required scope is missing */
	JWT_VERDICT_COUNT
};

/* A token whose form and header passed, its signature not yet checked. Holds no token
 * bytes: only the digest of the signed part, the signature and the claims. */
struct jwt_token {
	unsigned alg;                      /* CONFIG_OAUTH_RS256 or CONFIG_OAUTH_ES256 */
	char kid[JWKS_KID_MAX + 1];
	bool has_kid;
	unsigned char digest[32];          /* SHA-256 of "header.payload" */
	unsigned char signature[JWT_MAX_SIGNATURE];
	size_t signature_len;
	json_t *claims;                    /* owned */
};

/* Step 1: form, header and alg (against the policy's allowlist). On JWT_OK *out holds the
 * parsed token (free it with jwt_token_free); otherwise there is nothing to free. The kid
 * tells which key to ask the cache for. */
enum jwt_verdict jwt_parse(const struct config_oauth *policy, const char *token, size_t len,
                           struct jwt_token *out);

/* Step 2: key, signature and claims. On JWT_OK *principal is a new object:
 *   {"id": "jwt:<12 hex of SHA-256(iss)>:<sub or client_id>", "name": <sub or client_id>,
 *    "client": <client_id or azp, absent when neither>, "scopes": [...], "groups": [...],
 *    "roles": [...]}
 * with roles mapped from groups and scopes by policy->group_roles / scope_roles. */
enum jwt_verdict jwt_check(const struct config_oauth *policy, const struct jwks *keys,
                           const struct jwt_token *token, time_t now, json_t **principal);
void jwt_token_free(struct jwt_token *t);

/* Both steps, for a key set at hand. */
enum jwt_verdict jwt_verify(const struct config_oauth *policy, const struct jwks *keys,
                            const char *token, size_t len, time_t now, json_t **principal);

/* Words for the 401/403 body and error_description: what was wrong and what to do. */
const char *jwt_verdict_text(enum jwt_verdict v);
/* A stable short name for logs and metrics: "expired", "bad_signature", ... */
const char *jwt_verdict_name(enum jwt_verdict v);
/* The HTTP status: 401, 403 (insufficient_scope) or 503 (keys unavailable). */
int jwt_verdict_status(enum jwt_verdict v);
/* The RFC 6750 error code for WWW-Authenticate: "invalid_token", "insufficient_scope",
 * or NULL for 503 (no challenge error). */
const char *jwt_verdict_error(enum jwt_verdict v);

#endif
