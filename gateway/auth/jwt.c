/* JWT access token verification: strict compact-JWS parsing (bounded, canonical base64url,
 * RS256/ES256 only), signature check with mbedtls, claim checks, and the principal. */
#include "jwt.h"

#include <math.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_BYTES 1024   /* decoded; real headers are under 200 bytes */
#define ISS_HASH_HEX 12         /* of SHA-256(iss), in the principal id */
#define ES256_SIGNATURE 64      /* r || s, 32 bytes each */

/* ---- step 1: form and header ---- */

/* The header's alg, against the issuer's allowlist. HMAC algs are refused outright: with a
 * public key as the "secret", anyone could sign (the classic alg confusion). */
static enum jwt_verdict check_alg(const struct config_oauth *policy, const char *alg,
                                  unsigned *out)
{
	if (!alg)
		return JWT_BAD_HEADER;
	if (strcasecmp(alg, "none") == 0)
		return JWT_UNSIGNED;
	if (strcmp(alg, "RS256") == 0)
		*out = CONFIG_OAUTH_RS256;
	else if (strcmp(alg, "ES256") == 0)
		*out = CONFIG_OAUTH_ES256;
	else
		return JWT_ALG_UNSUPPORTED;
	return policy->algorithms & *out ? JWT_OK : JWT_ALG_NOT_ALLOWED;
}

static enum jwt_verdict check_header(const struct config_oauth *policy, json_t *header,
                                     struct jwt_token *out)
{
	if (!json_is_object(header))
		return JWT_BAD_HEADER;
	json_t *alg = json_object_get(header, "alg");
	json_t *typ = json_object_get(header, "typ");
	json_t *kid = json_object_get(header, "kid");
	if (!json_is_string(alg))
		return JWT_BAD_HEADER;
	enum jwt_verdict v = check_alg(policy, json_string_value(alg), &out->alg);
	if (v != JWT_OK)
		return v;
	/* Media type names compare without regard to case (RFC 7515 4.1.9). */
	if (typ && (!json_is_string(typ) || (strcasecmp(json_string_value(typ), "JWT") != 0 &&
	                                     strcasecmp(json_string_value(typ), "at+jwt") != 0)))
		return JWT_BAD_TYP;
	/* Extensions we do not implement must make the token fail (RFC 7515 4.1.11). */
	if (json_object_get(header, "crit"))
		return JWT_CRIT_UNSUPPORTED;
	if (kid) {
		if (!json_is_string(kid) || json_string_length(kid) == 0 ||
		    json_string_length(kid) > JWKS_KID_MAX)
			return JWT_BAD_HEADER;
		memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
		out->has_kid = true;
	}
	return JWT_OK;
}

/* Decodes one part into a fresh buffer (NUL-terminated for the JSON parts). */
static unsigned char *decode_part(const char *s, size_t len, size_t *out_len)
{
	unsigned char *buf = malloc(len + 1);
	if (!buf)
		return NULL;
	if (jwks_base64url_decode(s, len, buf, len, out_len) != 0) {
		free(buf);
		return NULL;
	}
	buf[*out_len] = '\0';
	return buf;
}

static json_t *decode_json(const char *s, size_t len, size_t max, bool *bad_encoding)
{
	size_t n;
	unsigned char *text = decode_part(s, len, &n);
	*bad_encoding = !text;
	if (!text || n > max) {
		free(text);
		return NULL;
	}
	json_t *v = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	return v;
}

enum jwt_verdict jwt_parse(const struct config_oauth *policy, const char *token, size_t len,
                           struct jwt_token *out)
{
	memset(out, 0, sizeof *out);
	if (len > JWT_MAX_TOKEN_BYTES)
		return JWT_TOO_LONG;
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) || dot1 == token ||
	    dot2 == dot1 + 1)
		return JWT_MALFORMED;
	const char *sig = dot2 + 1;
	size_t header_len = (size_t)(dot1 - token), payload_len = (size_t)(dot2 - dot1 - 1);
	size_t sig_len = (size_t)(token + len - sig);

	bool bad_encoding;
	json_t *header = decode_json(token, header_len, MAX_HEADER_BYTES, &bad_encoding);
	if (!header) {
		return bad_encoding ? JWT_BAD_ENCODING : JWT_BAD_HEADER;
	}
	enum jwt_verdict v = check_header(policy, header, out);
	json_decref(header);
	if (v != JWT_OK)
		return v;
	/* Only now: an unsigned token ("alg":"none", empty signature) is named as such above. */
	if (sig_len == 0)
		return JWT_MALFORMED;
	if (jwks_base64url_decode(sig, sig_len, out->signature, sizeof out->signature,
	                          &out->signature_len) != 0)
		return sig_len > (sizeof out->signature * 4 + 2) / 3 ? JWT_BAD_SIGNATURE_SIZE
		                                                    : JWT_BAD_ENCODING;
	if (out->alg == CONFIG_OAUTH_ES256 ? out->signature_len != ES256_SIGNATURE
	                                   : out->signature_len < JWKS_RSA_MIN_BITS / 8)
		return JWT_BAD_SIGNATURE_SIZE;
	out->claims = decode_json(dot1 + 1, payload_len, JWT_MAX_TOKEN_BYTES, &bad_encoding);
	if (!json_is_object(out->claims)) {
		json_decref(out->claims);
		out->claims = NULL;
		return bad_encoding ? JWT_BAD_ENCODING : JWT_BAD_CLAIMS;
	}
	/* The signature covers the encoded header and payload exactly as sent. */
	mbedtls_sha256_ret((const unsigned char *)token, (size_t)(dot2 - token), out->digest, 0);
	return JWT_OK;
}

void jwt_token_free(struct jwt_token *t)
{
	json_decref(t->claims);
	memset(t, 0, sizeof *t);
}

/* ---- step 2: key and signature ---- */

static enum jwt_verdict select_key(const struct jwks *keys, const struct jwt_token *t,
                                   const struct jwk **out)
{
	if (keys->n == 0)
		return JWT_NO_KEYS;
	if (t->has_kid)
		*out = jwks_find(keys, t->kid);
	else if (keys->n == 1)
		*out = &keys->keys[0];
	else
		return JWT_KID_REQUIRED;
	if (!*out)
		return JWT_UNKNOWN_KID;
	/* The key decides what it verifies: an EC key never checks an RS256 token, and a key
	 * published for one alg is not used for another. */
	bool rsa = t->alg == CONFIG_OAUTH_RS256;
	const char *alg = rsa ? "RS256" : "ES256";
	if ((*out)->type != (rsa ? JWK_RSA : JWK_EC_P256) ||
	    ((*out)->alg[0] && strcmp((*out)->alg, alg) != 0))
		return JWT_KEY_MISMATCH;
	return JWT_OK;
}

static enum jwt_verdict check_rs256(const struct jwk *key, const struct jwt_token *t)
{
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(key->pk);
	/* mbedtls reads exactly the modulus length from the signature buffer. */
	if (t->signature_len != mbedtls_rsa_get_len(rsa))
		return JWT_BAD_SIGNATURE_SIZE;
	int rc = mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC,
	                                             MBEDTLS_MD_SHA256, sizeof t->digest,
	                                             t->digest, t->signature);
	return rc == 0 ? JWT_OK : JWT_BAD_SIGNATURE;
}

/* JWS carries ECDSA signatures as raw r || s (RFC 7518 3.4), not DER. mbedtls checks r and
 * s as numbers directly, so the two halves are read as such instead of re-encoded to DER;
 * the check is the same (1 <= r, s < n, then the curve equation). */
static enum jwt_verdict check_es256(const struct jwk *key, const struct jwt_token *t)
{
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
	mbedtls_mpi r, s;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int rc = mbedtls_mpi_read_binary(&r, t->signature, ES256_SIGNATURE / 2);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&s, t->signature + ES256_SIGNATURE / 2,
		                             ES256_SIGNATURE / 2);
	if (rc == 0)
		rc = mbedtls_ecdsa_verify(&ec->grp, t->digest, sizeof t->digest, &ec->Q, &r, &s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return rc == 0 ? JWT_OK : JWT_BAD_SIGNATURE;
}

/* ---- step 2: claims ---- */

/* A printable name of 1..JWT_MAX_NAME bytes: it ends up in ids, logs and headers. */
static const char *name_claim(json_t *claims, const char *key, bool *bad)
{
	json_t *v = json_object_get(claims, key);
	if (!v)
		return NULL;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	bool ok = s && len > 0 && len <= JWT_MAX_NAME;
	for (size_t i = 0; ok && i < len; i++)
		ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
	if (!ok)
		*bad = true;
	return ok ? s : NULL;
}

/* NumericDate: a JSON number of seconds; fractions are cut off. */
static int time_claim(json_t *claims, const char *key, bool *present, long long *out)
{
	json_t *v = json_object_get(claims, key);
	*present = v != NULL;
	if (!v)
		return 0;
	double d = json_number_value(v);
	if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 1e13)
		return -1;
	/* d >= 0, so truncation is floor. */
	*out = json_is_integer(v) ? (long long)json_integer_value(v) : (long long)d;
	return 0;
}

static bool in_string_list(json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Appends s to the array unless there already. Returns 0, or -1 when the list is full. */
static int add_unique(json_t *list, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	if (!v || json_array_size(list) >= JWT_MAX_LIST) {
		json_decref(v);
		return -1;
	}
	if (in_string_list(list, json_string_value(v))) {
		json_decref(v);
		return 0;
	}
	return json_array_append_new(list, v);
}

static bool valid_list_item(const char *s, size_t len)
{
	if (len == 0 || len > JWT_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* "scope": "a b c" (RFC 9068), or "scp": ["a", "b"] or "a b" (Okta, Entra ID).
 * Returns the list (new), or NULL when the claim is malformed or too long. */
static json_t *scopes_of(json_t *claims)
{
	json_t *v = json_object_get(claims, "scope");
	json_t *list = json_array();
	if (!v)
		v = json_object_get(claims, "scp");
	if (!list || !v)
		return list;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		while (*s) {
			size_t n = strcspn(s, " ");
			if (n && (!valid_list_item(s, n) || add_unique(list, s, n) != 0))
				goto bad;
			s += n;
			s += strspn(s, " ");
		}
		return list;
	}
	if (!json_is_array(v) || json_array_size(v) > JWT_MAX_LIST)
		goto bad;
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);
		size_t n = json_string_length(item);
		if (!s || !valid_list_item(s, n) || strchr(s, ' ') || add_unique(list, s, n) != 0)
			goto bad;
	}
	return list;
bad:
	json_decref(list);
	return NULL;
}

/* "cognito:groups" (Cognito) or "groups": an array of strings (a single string is taken
 * as one group). Returns the list (new), or NULL when malformed. */
static json_t *groups_of(json_t *claims)
{
	json_t *v = json_object_get(claims, "cognito:groups");
	json_t *list = json_array();
	if (!v)
		v = json_object_get(claims, "groups");
	if (!list || !v)
		return list;
	if (json_is_string(v)) {
		if (!valid_list_item(json_string_value(v), json_string_length(v)) ||
		    add_unique(list, json_string_value(v), json_string_length(v)) != 0)
			goto bad;
		return list;
	}
	if (!json_is_array(v) || json_array_size(v) > JWT_MAX_LIST)
		goto bad;
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item) ||
		    !valid_list_item(json_string_value(item), json_string_length(item)) ||
		    add_unique(list, json_string_value(item), json_string_length(item)) != 0)
			goto bad;
	}
	return list;
bad:
	json_decref(list);
	return NULL;
}

static bool names_contain(char *const *names, const char *s)
{
	for (size_t i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return true;
	return false;
}

/* RFC 8707: the resource is in "aud" (a string or an array). Cognito access tokens carry no
 * "aud": they name the app client in "client_id", which must be one of ours. */
static enum jwt_verdict check_audience(const struct config_oauth *policy, json_t *claims)
{
	json_t *aud = json_object_get(claims, "aud");
	const char *token_use = json_string_value(json_object_get(claims, "token_use"));
	const char *client_id = json_string_value(json_object_get(claims, "client_id"));

	if (json_is_string(aud) && strcmp(json_string_value(aud), policy->audience) == 0)
		return JWT_OK;
	if (json_is_array(aud)) {
		size_t i;
		json_t *item;
		if (json_array_size(aud) > JWT_MAX_LIST)
			return JWT_BAD_CLAIMS;
		json_array_foreach(aud, i, item) {
			if (!json_is_string(item))
				return JWT_BAD_CLAIMS;
			if (strcmp(json_string_value(item), policy->audience) == 0)
				return JWT_OK;
		}
	} else if (aud && !json_is_string(aud)) {
		return JWT_BAD_CLAIMS;
	}
	if (token_use && client_id && strcmp(token_use, "access") == 0 &&
	    names_contain(policy->client_ids, client_id))
		return JWT_OK;
	return JWT_WRONG_AUDIENCE;
}

static enum jwt_verdict check_times(const struct config_oauth *policy, json_t *claims,
                                    time_t now)
{
	long long exp = 0, nbf = 0, iat = 0, leeway = policy->leeway_seconds;
	bool has_exp, has_nbf, has_iat;

	if (time_claim(claims, "exp", &has_exp, &exp) != 0 ||
	    time_claim(claims, "nbf", &has_nbf, &nbf) != 0 ||
	    time_claim(claims, "iat", &has_iat, &iat) != 0)
		return JWT_BAD_CLAIMS;
	if (!has_exp)
		return JWT_NO_EXPIRY;
	/* Not accepted on or after exp (RFC 7519 4.1.4), give or take the leeway. */
	if ((long long)now - leeway >= exp)
		return JWT_EXPIRED;
	if (has_nbf && (long long)now + leeway < nbf)
		return JWT_NOT_YET_VALID;
	if (has_iat && iat > (long long)now + leeway)
		return JWT_ISSUED_IN_FUTURE;
	return JWT_OK;
}

/* Adds the roles that each name in `names` grants under `map` ({"name": ["role"]}). */
static int map_roles(json_t *roles, const json_t *map, json_t *names)
{
	size_t i, j;
	json_t *name, *role;

	if (!map)
		return 0;
	json_array_foreach(names, i, name) {
		json_t *granted = json_object_get(map, json_string_value(name));
		json_array_foreach(granted, j, role) {
			const char *s = json_string_value(role);
			if (s && add_unique(roles, s, strlen(s)) != 0)
				return -1;
		}
	}
	return 0;
}

static json_t *make_principal(const struct config_oauth *policy, const char *iss,
                              const char *name, const char *client, json_t *scopes,
                              json_t *groups)
{
	unsigned char digest[32];
	char hash[2 * sizeof digest + 1];
	mbedtls_sha256_ret((const unsigned char *)iss, strlen(iss), digest, 0);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(hash + 2 * i, 3, "%02x", digest[i]);
	char *id = NULL;
	if (asprintf(&id, "jwt:%.*s:%s", ISS_HASH_HEX, hash, name) < 0)
		return NULL;
	json_t *roles = json_array();
	json_t *p = NULL;
	if (roles && map_roles(roles, policy->group_roles, groups) == 0 &&
	    map_roles(roles, policy->scope_roles, scopes) == 0)
		p = json_pack("{s:s, s:s, s:O, s:O, s:O}", "id", id, "name", name, "scopes", scopes,
		              "groups", groups, "roles", roles);
	if (p && client && json_object_set_new(p, "client", json_string(client)) != 0) {
		json_decref(p);
		p = NULL;
	}
	json_decref(roles);
	free(id);
	return p;
}

static enum jwt_verdict check_claims(const struct config_oauth *policy, json_t *claims,
                                     time_t now, json_t **principal)
{
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	json_t *token_use = json_object_get(claims, "token_use");

	if (!iss || strcmp(iss, policy->issuer) != 0)
		return JWT_WRONG_ISSUER;
	/* Cognito id tokens are signed by the same keys: only access tokens grant access. */
	if (token_use && (!json_is_string(token_use) ||
	                  strcmp(json_string_value(token_use), "access") != 0))
		return JWT_WRONG_TOKEN_USE;
	enum jwt_verdict v = check_audience(policy, claims);
	if (v == JWT_OK)
		v = check_times(policy, claims, now);
	if (v != JWT_OK)
		return v;

	bool bad = false;
	const char *sub = name_claim(claims, "sub", &bad);
	const char *client_id = name_claim(claims, "client_id", &bad);
	const char *azp = name_claim(claims, "azp", &bad);
	if (bad)
		return JWT_BAD_CLAIMS;
	const char *name = sub ? sub : client_id;
	if (!name)
		return JWT_NO_SUBJECT;
	json_t *scopes = scopes_of(claims);
	json_t *groups = groups_of(claims);
	v = !scopes || !groups ? JWT_BAD_CLAIMS : JWT_OK;
	for (size_t i = 0; v == JWT_OK && policy->required_scopes[i]; i++)
		if (!in_string_list(scopes, policy->required_scopes[i]))
			v = JWT_INSUFFICIENT_SCOPE;
	if (v == JWT_OK) {
		*principal = make_principal(policy, iss, name, client_id ? client_id : azp, scopes,
		                            groups);
		if (!*principal)
			v = JWT_BAD_CLAIMS; /* out of memory, or more roles than a principal holds */
	}
	json_decref(scopes);
	json_decref(groups);
	return v;
}

enum jwt_verdict jwt_check(const struct config_oauth *policy, const struct jwks *keys,
                           const struct jwt_token *t, time_t now, json_t **principal)
{
	const struct jwk *key = NULL;

	*principal = NULL;
	enum jwt_verdict v = select_key(keys, t, &key);
	if (v != JWT_OK)
		return v;
	v = t->alg == CONFIG_OAUTH_RS256 ? check_rs256(key, t) : check_es256(key, t);
	if (v != JWT_OK)
		return v;
	return check_claims(policy, t->claims, now, principal);
}

enum jwt_verdict jwt_verify(const struct config_oauth *policy, const struct jwks *keys,
                            const char *token, size_t len, time_t now, json_t **principal)
{
	struct jwt_token *t = malloc(sizeof *t);

	*principal = NULL;
	if (!t)
		return JWT_NO_KEYS; /* out of memory: a 503, "retry shortly", fits best */
	enum jwt_verdict v = jwt_parse(policy, token, len, t);
	if (v == JWT_OK)
		v = jwt_check(policy, keys, t, now, principal);
	jwt_token_free(t);
	free(t);
	return v;
}

/* ---- words ---- */

static const struct {
	const char *name;
	const char *text;
} verdicts[JWT_VERDICT_COUNT] = {
	[JWT_OK] = { "ok", "ok" },
	[JWT_TOO_LONG] = { "too_long", "bearer token longer than 8192 bytes" },
	[JWT_MALFORMED] = { "malformed", "bearer token is not a signed JWT (header.payload.signature)" },
	[JWT_BAD_ENCODING] = { "bad_encoding", "bearer token is not valid base64url (unpadded, canonical)" },
	[JWT_BAD_HEADER] = { "bad_header", "token header is not valid JSON with a string alg" },
	[JWT_UNSIGNED] = { "unsigned", "unsigned tokens (alg none) are not accepted" },
	[JWT_ALG_UNSUPPORTED] = { "alg_unsupported", "token alg is not accepted: only RS256 and ES256" },
	[JWT_ALG_NOT_ALLOWED] = { "alg_not_allowed", "token alg is not enabled for this issuer" },
	[JWT_BAD_TYP] = { "bad_typ", "token typ must be JWT or at+jwt" },
	[JWT_CRIT_UNSUPPORTED] = { "crit_unsupported", "token uses critical header extensions that are not supported" },
	[JWT_BAD_SIGNATURE_SIZE] = { "bad_signature_size", "token signature has the wrong length for its alg" },
	[JWT_BAD_CLAIMS] = { "bad_claims", "token claims are not valid JSON or a claim has the wrong type" },
	[JWT_NO_KEYS] = { "no_keys", "the authorization server's signing keys are not available; retry shortly" },
	[JWT_KID_REQUIRED] = { "kid_required", "token header has no kid and the issuer has several keys" },
	[JWT_UNKNOWN_KID] = { "unknown_kid", "token was signed with a key the issuer does not publish" },
	[JWT_KEY_MISMATCH] = { "key_mismatch", "token alg does not match its signing key" },
	[JWT_BAD_SIGNATURE] = { "bad_signature", "token signature is invalid" },
	[JWT_WRONG_ISSUER] = { "wrong_issuer", "token was issued by another authorization server" },
	[JWT_WRONG_TOKEN_USE] = { "wrong_token_use", "token is not an access token (token_use must be access)" },
	[JWT_WRONG_AUDIENCE] = { "wrong_audience", "token was not issued for this resource (aud / client_id)" },
	[JWT_NO_EXPIRY] = { "no_expiry", "token has no exp claim" },
	[JWT_EXPIRED] = { "expired", "token expired; obtain a new one" },
	[JWT_NOT_YET_VALID] = { "not_yet_valid", "token is not valid yet (nbf)" },
	[JWT_ISSUED_IN_FUTURE] = { "issued_in_future", "token is issued in the future (iat); check clocks" },
	[JWT_NO_SUBJECT] = { "no_subject", "token names no subject (sub or client_id)" },
	[JWT_INSUFFICIENT_SCOPE] = { "insufficient_scope", "token lacks a scope this server requires" },
};

const char *jwt_verdict_text(enum jwt_verdict v)
{
	return (unsigned)v < JWT_VERDICT_COUNT ? verdicts[v].text : "?";
}

const char *jwt_verdict_name(enum jwt_verdict v)
{
	return (unsigned)v < JWT_VERDICT_COUNT ? verdicts[v].name : "?";
}

int jwt_verdict_status(enum jwt_verdict v)
{
	if (v == JWT_NO_KEYS)
		return 503;
	return v == JWT_INSUFFICIENT_SCOPE ? 403 : 401;
}

const char *jwt_verdict_error(enum jwt_verdict v)
{
	if (v == JWT_NO_KEYS)
		return NULL;
	return v == JWT_INSUFFICIENT_SCOPE ? "insufficient_scope" : "invalid_token";
}
