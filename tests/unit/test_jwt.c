/* Unit tests for JWT access tokens: keys made here (RSA 2048, EC P-256), tokens signed here,
 * and every refusal (alg none, HS256 keyed with the public key, bad signature, unknown kid,
 * lifetime, issuer, audience, Cognito token_use, size, form) next to good RS256, ES256 and
 * Cognito-shaped tokens. Also the "auth.oauth" config section that feeds the verifier. */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"

#include "check.h"

#define ISSUER "https://issuer.example.com/pool_1"
#define RESOURCE "https://mcp.example.com/mcp"

static mbedtls_ctr_drbg_context drbg;
static mbedtls_entropy_context entropy;
static mbedtls_pk_context rsa_key;   /* kid "rsa1" */
static mbedtls_pk_context ec_key;    /* kid "ec1" */
static mbedtls_pk_context ec_other;  /* published nowhere */
static struct jwks both_keys;        /* rsa1 + ec1 */
static struct jwks rsa_only;         /* rsa1, no kid */
static struct config cfg;            /* from the test's config document */
static time_t now;

/* ---- building tokens ---- */

static char *b64url(const unsigned char *in, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len * 4 / 3 + 4);
	size_t o = 0;
	if (!out)
		exit(2);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		             (i + 2 < len ? in[i + 2] : 0);
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alphabet[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
	return out;
}

static char *b64url_str(const char *s)
{
	return b64url((const unsigned char *)s, strlen(s));
}

enum signer { SIGN_RSA, SIGN_EC, SIGN_EC_OTHER, SIGN_HS256_PUBKEY, SIGN_NONE, SIGN_EC_DER };

static size_t sign_es256(mbedtls_pk_context *key, const unsigned char hash[32],
                         unsigned char *sig, bool der)
{
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*key);
	mbedtls_mpi r, s;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, hash, 32, mbedtls_ctr_drbg_random,
	                       &drbg) != 0)
		exit(3);
	size_t len = 64;
	if (der) {
		/* What a careless signer would send: the DER form mbedtls itself produces. */
		mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, 32, sig, &len, mbedtls_ctr_drbg_random,
		                &drbg);
	} else {
		mbedtls_mpi_write_binary(&r, sig, 32);
		mbedtls_mpi_write_binary(&s, sig + 32, 32);
	}
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return len;
}

/* The HS256 attack: the "secret" is the RSA public key as the issuer publishes it. */
static size_t sign_hs256_with_public_key(const char *input, unsigned char *sig)
{
	unsigned char pem[4096];
	if (mbedtls_pk_write_pubkey_pem(&rsa_key, pem, sizeof pem) != 0)
		exit(3);
	mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), pem, strlen((char *)pem),
	                (const unsigned char *)input, strlen(input), sig);
	return 32;
}

static char *make_token(const char *header, const char *claims, enum signer signer)
{
	char *h = b64url_str(header), *c = b64url_str(claims);
	char *input = NULL, *token = NULL;
	unsigned char hash[32], sig[1024];
	size_t sig_len = 0;

	if (asprintf(&input, "%s.%s", h, c) < 0)
		exit(2);
	mbedtls_sha256_ret((const unsigned char *)input, strlen(input), hash, 0);
	switch (signer) {
	case SIGN_RSA:
		sig_len = mbedtls_rsa_get_len(mbedtls_pk_rsa(rsa_key));
		if (mbedtls_rsa_rsassa_pkcs1_v15_sign(mbedtls_pk_rsa(rsa_key), mbedtls_ctr_drbg_random,
		                                      &drbg, MBEDTLS_RSA_PRIVATE, MBEDTLS_MD_SHA256, 32,
		                                      hash, sig) != 0)
			exit(3);
		break;
	case SIGN_EC:
		sig_len = sign_es256(&ec_key, hash, sig, false);
		break;
	case SIGN_EC_OTHER:
		sig_len = sign_es256(&ec_other, hash, sig, false);
		break;
	case SIGN_EC_DER:
		sig_len = sign_es256(&ec_key, hash, sig, true);
		break;
	case SIGN_HS256_PUBKEY:
		sig_len = sign_hs256_with_public_key(input, sig);
		break;
	case SIGN_NONE:
		break;
	}
	char *s = b64url(sig, sig_len);
	if (asprintf(&token, "%s.%s", input, s) < 0)
		exit(2);
	free(h);
	free(c);
	free(s);
	free(input);
	return token;
}

/* Claims with the usual lifetime around `now`, then the extra members given. */
__attribute__((format(printf, 1, 2)))
static char *claims(const char *fmt, ...)
{
	char *extra = NULL, *out = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&extra, fmt, ap) < 0)
		exit(2);
	va_end(ap);
	if (asprintf(&out, "{\"iat\":%lld,\"exp\":%lld%s%s}", (long long)now - 10,
	             (long long)now + 3600, extra[0] ? "," : "", extra) < 0)
		exit(2);
	free(extra);
	return out;
}

static const char *const STD = "\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"user-1\"";

/* Verifies an exact-size heap copy, so ASan sees reads past the end. */
static enum jwt_verdict verify_with(const struct config_oauth *policy, const struct jwks *keys,
                                    const char *token, size_t len, json_t **principal)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		exit(2);
	memcpy(copy, token, len);
	json_t *p = NULL;
	enum jwt_verdict v = jwt_verify(policy, keys, copy, len, now, &p);
	free(copy);
	if (principal)
		*principal = p;
	else
		json_decref(p);
	return v;
}

static enum jwt_verdict verify(const char *token, json_t **principal)
{
	return verify_with(&cfg.oauth, &both_keys, token, strlen(token), principal);
}

/* Signs header+claims and verifies; frees what it made. */
static enum jwt_verdict signed_verdict(const char *header, char *claims_text, enum signer signer)
{
	char *token = make_token(header, claims_text, signer);
	enum jwt_verdict v = verify(token, NULL);
	free(token);
	free(claims_text);
	return v;
}

/* Evaluates `expr` once: it may sign, verify and free. */
#define EXPECT(expr, want, what) do { \
	enum jwt_verdict got_ = (expr); \
	CHECK(got_ == (want), "%-52s -> %s", what, jwt_verdict_name(got_)); \
} while (0)

/* ---- keys and the key set ---- */

static void make_keys(void)
{
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	                          (const unsigned char *)"test_jwt", 8) != 0)
		exit(3);
	mbedtls_pk_init(&rsa_key);
	mbedtls_pk_init(&ec_key);
	mbedtls_pk_init(&ec_other);
	if (mbedtls_pk_setup(&rsa_key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0 ||
	    mbedtls_rsa_gen_key(mbedtls_pk_rsa(rsa_key), mbedtls_ctr_drbg_random, &drbg, 2048,
	                        65537) != 0 ||
	    mbedtls_pk_setup(&ec_key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(ec_key),
	                        mbedtls_ctr_drbg_random, &drbg) != 0 ||
	    mbedtls_pk_setup(&ec_other, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(ec_other),
	                        mbedtls_ctr_drbg_random, &drbg) != 0)
		exit(3);
}

static char *rsa_jwk(mbedtls_pk_context *key, const char *members)
{
	unsigned char n[512], e[8];
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*key);
	size_t n_len = mbedtls_rsa_get_len(rsa);
	if (mbedtls_rsa_export_raw(rsa, n, n_len, NULL, 0, NULL, 0, NULL, 0, e, 3) != 0)
		exit(3);
	char *n64 = b64url(n, n_len), *e64 = b64url(e, 3), *out = NULL;
	if (asprintf(&out, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}", n64, e64, members) < 0)
		exit(2);
	free(n64);
	free(e64);
	return out;
}

static char *ec_jwk(mbedtls_pk_context *key, const char *members)
{
	unsigned char point[65];
	size_t len;
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*key);
	if (mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len,
	                                   point, sizeof point) != 0 || len != 65)
		exit(3);
	char *x = b64url(point + 1, 32), *y = b64url(point + 33, 32), *out = NULL;
	if (asprintf(&out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"%s}", x, y,
	             members) < 0)
		exit(2);
	free(x);
	free(y);
	return out;
}

static void load_set(struct jwks *set, const char *doc)
{
	char err[256];
	if (jwks_parse(set, doc, strlen(doc), err, sizeof err) != 0) {
		printf("FAIL cannot load the test key set: %s\n", err);
		exit(1);
	}
}

static void make_key_sets(void)
{
	char *rsa = rsa_jwk(&rsa_key, ",\"kid\":\"rsa1\",\"use\":\"sig\",\"alg\":\"RS256\"");
	char *ec = ec_jwk(&ec_key, ",\"kid\":\"ec1\",\"use\":\"sig\"");
	char *bare = rsa_jwk(&rsa_key, "");
	char *doc = NULL;
	if (asprintf(&doc, "{\"keys\":[%s,%s]}", rsa, ec) < 0)
		exit(2);
	load_set(&both_keys, doc);
	free(doc);
	if (asprintf(&doc, "{\"keys\":[%s]}", bare) < 0)
		exit(2);
	load_set(&rsa_only, doc);
	free(doc);
	free(rsa);
	free(ec);
	free(bare);
}

/* ---- config ---- */

static int load_config(const char *text, struct config *out, struct config_error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	if (!root) {
		printf("FAIL test config is not JSON: %s\n", jerr.text);
		exit(1);
	}
	int rc = config_from_json(root, "<test>", out, err);
	json_decref(root);
	return rc;
}

#define OAUTH_CONFIG(extra) \
	"{\"public_url\":\"https://mcp.example.com\",\"auth\":{\"oauth\":{" \
	"\"issuer\":\"" ISSUER "\",\"jwks_url\":\"https://issuer.example.com/jwks\"" extra "}}}"

static void test_config(void)
{
	struct config c;
	struct config_error err;

	int rc = load_config(OAUTH_CONFIG(""), &c, &err);
	CHECK(rc == 0, "config: minimal oauth section loads (%s)", err.text);
	CHECK(rc == 0 && c.oauth.enabled, "config: oauth.enabled");
	CHECK(rc == 0 && strcmp(c.oauth.audience, RESOURCE) == 0,
	      "config: audience defaults to public_url + /mcp (%s)", c.oauth.audience);
	CHECK(rc == 0 && c.oauth.algorithms == (CONFIG_OAUTH_RS256 | CONFIG_OAUTH_ES256),
	      "config: algorithms default to RS256 and ES256");
	CHECK(rc == 0 && c.oauth.leeway_seconds == 60, "config: leeway defaults to 60 s");
	CHECK(rc == 0 && !c.oauth.client_ids[0] && !c.oauth.required_scopes[0] &&
	      !c.oauth.group_roles && !c.oauth.scope_roles, "config: lists and maps empty by default");
	config_free(&c);

	rc = load_config("{\"public_url\":\"https://h.example/\",\"auth\":{\"oauth\":{\"issuer\":"
	                 "\"https://i.example\",\"jwks_url\":\"http://127.0.0.1:9/jwks\"}}}", &c, &err);
	CHECK(rc == 0 && strcmp(c.oauth.audience, "https://h.example/mcp") == 0,
	      "config: a trailing slash on public_url is not doubled; loopback http jwks_url ok");
	config_free(&c);

	rc = load_config("{\"auth\":{\"anonymous\":false}}", &c, &err);
	CHECK(rc == 0 && !c.oauth.enabled, "config: no oauth section, oauth disabled");
	config_free(&c);

	static const struct {
		const char *text;
		const char *needle;
	} bad[] = {
		{ "{\"auth\":{\"oauth\":{\"jwks_url\":\"https://i.example/jwks\"}}}", "missing required key 'issuer'" },
		{ "{\"auth\":{\"oauth\":{\"issuer\":\"https://i.example\"}}}", "missing required key 'jwks_url'" },
		{ OAUTH_CONFIG(",\"jwks_url2\":1"), "unknown key 'jwks_url2'" },
		{ "{\"auth\":{\"oauth\":{\"issuer\":\"https://i.example\",\"jwks_url\":\"http://i.example/jwks\"}}}", "$.auth.oauth.jwks_url: must start with https://" },
		{ "{\"auth\":{\"oauth\":{\"issuer\":\"https://i.example\",\"jwks_url\":\"http://127.0.0.2/jwks\"}}}", "$.auth.oauth.jwks_url" },
		{ "{\"auth\":{\"oauth\":{\"issuer\":\"i.example\",\"jwks_url\":\"https://i.example/jwks\"}}}", "$.auth.oauth.issuer: must start with" },
		{ OAUTH_CONFIG(",\"algorithms\":[\"HS256\"]"), "$.auth.oauth.algorithms[0]: must be \"RS256\" or \"ES256\"" },
		{ OAUTH_CONFIG(",\"algorithms\":[\"none\"]"), "$.auth.oauth.algorithms[0]" },
		{ OAUTH_CONFIG(",\"algorithms\":[]"), "$.auth.oauth.algorithms: must be a non-empty array" },
		{ OAUTH_CONFIG(",\"leeway_seconds\":601"), "$.auth.oauth.leeway_seconds: must be an integer in 0..600" },
		{ OAUTH_CONFIG(",\"client_ids\":\"app\""), "$.auth.oauth.client_ids: must be an array" },
		{ OAUTH_CONFIG(",\"client_ids\":[\"a b\"]"), "$.auth.oauth.client_ids[0]: must be printable ASCII" },
		{ OAUTH_CONFIG(",\"required_scopes\":[\"\"]"), "$.auth.oauth.required_scopes[0]: must not be empty" },
		{ OAUTH_CONFIG(",\"audience\":\"\""), "$.auth.oauth.audience: must not be empty" },
		{ OAUTH_CONFIG(",\"role_claims\":{\"roles\":{}}"), "unknown key 'roles'" },
		{ OAUTH_CONFIG(",\"role_claims\":{\"groups\":{\"admins\":\"admin\"}}"), "$.auth.oauth.role_claims.groups.admins: must be a non-empty array" },
		{ OAUTH_CONFIG(",\"role_claims\":{\"scopes\":{\"mcp:read\":[7]}}"), "$.auth.oauth.role_claims.scopes[\"mcp:read\"][0]: must be a string" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = load_config(bad[i].text, &c, &err);
		CHECK(rc != 0 && strstr(err.text, bad[i].needle), "config refused: %s", err.text);
		config_free(&c);
	}

	/* The auth role gets oauth in its slice and loads the same policy from it. */
	rc = load_config(OAUTH_CONFIG(",\"client_ids\":[\"app\"],\"algorithms\":[\"ES256\"]"), &c, &err);
	json_t *slice = rc == 0 ? config_slice_for_role(&c, "auth") : NULL;
	struct config from_slice;
	int rc2 = slice ? config_from_json(slice, "<auth slice>", &from_slice, &err) : -1;
	CHECK(rc2 == 0 && from_slice.oauth.enabled &&
	      strcmp(from_slice.oauth.issuer, ISSUER) == 0 &&
	      strcmp(from_slice.oauth.audience, RESOURCE) == 0 &&
	      from_slice.oauth.algorithms == CONFIG_OAUTH_ES256 &&
	      from_slice.oauth.client_ids[0] && strcmp(from_slice.oauth.client_ids[0], "app") == 0,
	      "config: the auth slice carries oauth and reloads to the same policy");
	json_t *edge = rc == 0 ? config_slice_for_role(&c, "edge") : NULL;
	json_t *edge_auth = edge ? json_object_get(edge, "auth") : NULL;
	CHECK(edge && json_object_size(edge_auth) == 1 && json_object_get(edge_auth, "oauth"),
	      "config: the edge slice carries auth.oauth (for RFC 9728 metadata) and nothing else of auth");
	json_decref(edge);
	json_decref(slice);
	if (rc2 == 0)
		config_free(&from_slice);
	config_free(&c);
}

/* ---- tokens ---- */

static void test_good_tokens(void)
{
	json_t *p = NULL;
	char *text = claims("%s,\"scope\":\"mcp:read openid\",\"groups\":[\"admins\",\"staff\"],"
	                    "\"azp\":\"web-app\"", STD);
	char *token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}", text, SIGN_RSA);
	enum jwt_verdict v = verify(token, &p);
	EXPECT(v, JWT_OK, "good RS256 token");
	char *dump = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	printf("     principal %s\n", dump ? dump : "(none)");
	const char *id = json_string_value(json_object_get(p, "id"));
	CHECK(id && strncmp(id, "jwt:", 4) == 0 && strlen(id) == 4 + 12 + 1 + 6 &&
	      strcmp(id + 17, "user-1") == 0 && id[16] == ':', "principal id is jwt:<12 hex>:<sub>");
	CHECK(p && strcmp(json_string_value(json_object_get(p, "name")), "user-1") == 0,
	      "principal name is sub");
	CHECK(p && strcmp(json_string_value(json_object_get(p, "client")), "web-app") == 0,
	      "principal client from azp");
	CHECK(dump && strstr(dump, "\"scopes\":[\"mcp:read\",\"openid\"]") &&
	      strstr(dump, "\"groups\":[\"admins\",\"staff\"]"), "scopes and groups listed");
	CHECK(dump && strstr(dump, "\"roles\":[\"admin\",\"operator\",\"reader\"]"),
	      "roles mapped from groups then scopes, each once");
	CHECK(!strstr(dump ? dump : "", token), "principal does not carry the token");
	free(dump);
	json_decref(p);
	free(token);
	free(text);

	text = claims("\"iss\":\"" ISSUER "\",\"aud\":[\"https://other.example\",\"" RESOURCE "\"],"
	              "\"sub\":\"user-2\",\"scp\":[\"mcp:read\"]");
	token = make_token("{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"at+jwt\"}", text, SIGN_EC);
	v = verify(token, &p);
	EXPECT(v, JWT_OK, "good ES256 token, aud array, typ at+jwt, scp");
	CHECK(p && json_array_size(json_object_get(p, "scopes")) == 1 &&
	      !json_object_get(p, "client"), "scp read; no client when neither client_id nor azp");
	json_decref(p);
	free(token);
	free(text);

	/* The shape of an Amazon Cognito access token: no aud, client_id and token_use. */
	text = claims("\"iss\":\"" ISSUER "\",\"sub\":\"5f1e-uuid\",\"client_id\":\"cognito-app\","
	              "\"token_use\":\"access\",\"cognito:groups\":[\"admins\"],"
	              "\"scope\":\"mcp:read\",\"username\":\"alice\",\"auth_time\":%lld",
	              (long long)now - 20);
	token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", text, SIGN_RSA);
	v = verify(token, &p);
	EXPECT(v, JWT_OK, "Cognito access token (client_id, token_use access)");
	CHECK(p && strcmp(json_string_value(json_object_get(p, "client")), "cognito-app") == 0 &&
	      json_array_size(json_object_get(p, "roles")) == 3, "Cognito groups map to roles");
	json_decref(p);
	free(token);
	free(text);

	/* Cognito client-credentials tokens have sub == client_id; without sub, the client. */
	text = claims("\"iss\":\"" ISSUER "\",\"client_id\":\"cognito-app\",\"token_use\":\"access\"");
	token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", text, SIGN_RSA);
	v = verify(token, &p);
	EXPECT(v, JWT_OK, "token without sub names the client");
	CHECK(p && strcmp(json_string_value(json_object_get(p, "name")), "cognito-app") == 0,
	      "principal name is client_id when there is no sub");
	json_decref(p);
	free(token);
	free(text);

	/* A one-key set needs no kid. */
	text = claims("%s", STD);
	token = make_token("{\"alg\":\"RS256\"}", text, SIGN_RSA);
	v = verify_with(&cfg.oauth, &rsa_only, token, strlen(token), NULL);
	EXPECT(v, JWT_OK, "no kid, one key in the set");
	v = verify_with(&cfg.oauth, &both_keys, token, strlen(token), NULL);
	EXPECT(v, JWT_KID_REQUIRED, "no kid, two keys in the set");
	free(token);
	free(text);
}

static void test_refused_alg(void)
{
	char *text = claims("%s", STD);
	char *h = b64url_str("{\"alg\":\"none\"}"), *c = b64url_str(text);
	char *token = NULL;
	if (asprintf(&token, "%s.%s.", h, c) < 0)
		exit(2);
	EXPECT(verify(token, NULL), JWT_UNSIGNED, "alg none, empty signature");
	free(token);
	free(h);
	free(c);
	free(text);

	EXPECT(signed_verdict("{\"alg\":\"NoNe\",\"kid\":\"rsa1\"}", claims("%s", STD), SIGN_RSA),
	       JWT_UNSIGNED, "alg NoNe with a signature");
	EXPECT(signed_verdict("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", claims("%s", STD),
	                      SIGN_HS256_PUBKEY),
	       JWT_ALG_UNSUPPORTED, "HS256 keyed with the RSA public key");
	EXPECT(signed_verdict("{\"alg\":\"HS256\"}", claims("%s", STD), SIGN_HS256_PUBKEY),
	       JWT_ALG_UNSUPPORTED, "HS256 without kid");
	EXPECT(signed_verdict("{\"alg\":\"RS512\",\"kid\":\"rsa1\"}", claims("%s", STD), SIGN_RSA),
	       JWT_ALG_UNSUPPORTED, "RS512");
	EXPECT(signed_verdict("{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", claims("%s", STD), SIGN_RSA),
	       JWT_ALG_UNSUPPORTED, "alg names are case-sensitive (rs256)");
	EXPECT(signed_verdict("{\"kid\":\"rsa1\"}", claims("%s", STD), SIGN_RSA), JWT_BAD_HEADER,
	       "no alg");
	EXPECT(signed_verdict("{\"alg\":[\"RS256\"],\"kid\":\"rsa1\"}", claims("%s", STD), SIGN_RSA),
	       JWT_BAD_HEADER, "alg not a string");

	/* The issuer's allowlist: ES256 only. */
	struct config_oauth es_only = cfg.oauth;
	es_only.algorithms = CONFIG_OAUTH_ES256;
	text = claims("%s", STD);
	token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", text, SIGN_RSA);
	EXPECT(verify_with(&es_only, &both_keys, token, strlen(token), NULL), JWT_ALG_NOT_ALLOWED,
	       "RS256 when the issuer allows only ES256");
	free(token);
	free(text);

	/* The key decides: an EC key never verifies RS256, an RSA key never ES256. */
	EXPECT(signed_verdict("{\"alg\":\"RS256\",\"kid\":\"ec1\"}", claims("%s", STD), SIGN_RSA),
	       JWT_KEY_MISMATCH, "RS256 token naming the EC key");
	EXPECT(signed_verdict("{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", claims("%s", STD), SIGN_EC),
	       JWT_KEY_MISMATCH, "ES256 token naming the RSA key");
}

static void test_refused_signature(void)
{
	char *text = claims("%s", STD);
	char *token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", text, SIGN_RSA);
	/* Change a middle character of the signature (a last character may only flip unused
	 * bits, which is an encoding error and tested separately). */
	char *dot = strrchr(token, '.');
	char saved = dot[10];
	dot[10] = saved == 'A' ? 'B' : 'A';
	EXPECT(verify(token, NULL), JWT_BAD_SIGNATURE, "RS256 signature altered");
	dot[10] = saved;
	EXPECT(verify(token, NULL), JWT_OK, "RS256 signature restored");
	/* Claims changed after signing. */
	char *evil_text = claims("\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"admin\"");
	char *evil = b64url_str(evil_text);
	char *first = strchr(token, '.');
	char *forged = NULL;
	if (asprintf(&forged, "%.*s.%s%s", (int)(first - token), token, evil, dot) < 0)
		exit(2);
	EXPECT(verify(forged, NULL), JWT_BAD_SIGNATURE, "payload swapped under an RS256 signature");
	free(forged);
	free(evil);
	free(evil_text);
	free(token);

	/* 255 bytes: under any accepted modulus; 384 bytes: not this key's 256. */
	static unsigned char filler[384];
	memset(filler, 0x5a, sizeof filler);
	for (size_t i = 0; i < 2; i++) {
		char *hh = b64url_str("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"), *cc = b64url_str(text);
		char *ss = b64url(filler, i ? 384 : 255);
		if (asprintf(&token, "%s.%s.%s", hh, cc, ss) < 0)
			exit(2);
		EXPECT(verify(token, NULL), JWT_BAD_SIGNATURE_SIZE,
		       i ? "RS256 signature longer than the key's modulus" : "RS256 signature of 255 bytes");
		free(token);
		free(hh);
		free(cc);
		free(ss);
	}

	EXPECT(signed_verdict("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims("%s", STD), SIGN_EC_OTHER),
	       JWT_BAD_SIGNATURE, "ES256 signed by another EC key");
	EXPECT(signed_verdict("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims("%s", STD), SIGN_EC_DER),
	       JWT_BAD_SIGNATURE_SIZE, "ES256 signature in DER instead of r||s");
	EXPECT(signed_verdict("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims("%s", STD), SIGN_EC),
	       JWT_OK, "ES256 control");

	/* r||s of 63 and 65 bytes. */
	unsigned char sig[65] = { 1 };
	for (size_t n = 63; n <= 65; n += 2) {
		char *h = b64url_str("{\"alg\":\"ES256\",\"kid\":\"ec1\"}"), *c = b64url_str(text);
		char *s = b64url(sig, n);
		if (asprintf(&token, "%s.%s.%s", h, c, s) < 0)
			exit(2);
		EXPECT(verify(token, NULL), JWT_BAD_SIGNATURE_SIZE,
		       n == 63 ? "ES256 signature of 63 bytes" : "ES256 signature of 65 bytes");
		free(token);
		free(h);
		free(c);
		free(s);
	}
	/* r = 0 and s = 0: never a valid signature, whatever the key. */
	memset(sig, 0, sizeof sig);
	char *h = b64url_str("{\"alg\":\"ES256\",\"kid\":\"ec1\"}"), *c = b64url_str(text);
	char *s = b64url(sig, 64);
	if (asprintf(&token, "%s.%s.%s", h, c, s) < 0)
		exit(2);
	EXPECT(verify(token, NULL), JWT_BAD_SIGNATURE, "ES256 signature r = s = 0");
	free(token);
	free(h);
	free(c);
	free(s);
	free(text);

	EXPECT(signed_verdict("{\"alg\":\"RS256\",\"kid\":\"rsa9\"}", claims("%s", STD), SIGN_RSA),
	       JWT_UNKNOWN_KID, "unknown kid");
	struct jwks none = { 0 };
	text = claims("%s", STD);
	token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", text, SIGN_RSA);
	enum jwt_verdict v = verify_with(&cfg.oauth, &none, token, strlen(token), NULL);
	EXPECT(v, JWT_NO_KEYS, "no keys fetched yet");
	CHECK(jwt_verdict_status(v) == 503 && !jwt_verdict_error(v), "no keys is a 503, no challenge error");
	free(token);
	free(text);
}

static void test_refused_claims(void)
{
	const char *rs = "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}";
	char *text = NULL;
	enum jwt_verdict v;

	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\","
	             "\"exp\":%lld}", (long long)now - 61) < 0)
		exit(2);
	EXPECT(signed_verdict(rs, text, SIGN_RSA), JWT_EXPIRED, "expired 61 s ago (leeway 60)");
	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\","
	             "\"exp\":%lld}", (long long)now - 60) < 0)
		exit(2);
	EXPECT(signed_verdict(rs, text, SIGN_RSA), JWT_EXPIRED, "expired exactly the leeway ago");
	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\","
	             "\"exp\":%lld}", (long long)now - 59) < 0)
		exit(2);
	EXPECT(signed_verdict(rs, text, SIGN_RSA), JWT_OK, "expired 59 s ago, within the leeway");
	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\","
	             "\"exp\":%lld.75}", (long long)now + 100) < 0)
		exit(2);
	EXPECT(signed_verdict(rs, text, SIGN_RSA), JWT_OK, "fractional exp");
	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\"}") < 0)
		exit(2);
	EXPECT(signed_verdict(rs, text, SIGN_RSA), JWT_NO_EXPIRY, "no exp");
	EXPECT(signed_verdict(rs, claims("%s,\"nbf\":%lld", STD, (long long)now + 120), SIGN_RSA),
	       JWT_NOT_YET_VALID, "nbf 120 s ahead");
	EXPECT(signed_verdict(rs, claims("%s,\"nbf\":%lld", STD, (long long)now + 30), SIGN_RSA),
	       JWT_OK, "nbf 30 s ahead, within the leeway");
	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\","
	             "\"exp\":%lld,\"iat\":%lld}", (long long)now + 7200, (long long)now + 3000) < 0)
		exit(2);
	EXPECT(signed_verdict(rs, text, SIGN_RSA), JWT_ISSUED_IN_FUTURE, "iat 3000 s ahead");
	EXPECT(signed_verdict(rs, claims("%s,\"nbf\":\"soon\"", STD), SIGN_RSA), JWT_BAD_CLAIMS,
	       "nbf not a number");
	struct config_oauth strict = cfg.oauth;
	strict.leeway_seconds = 0;
	if (asprintf(&text, "{\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"u\","
	             "\"exp\":%lld}", (long long)now - 1) < 0)
		exit(2);
	char *token = make_token(rs, text, SIGN_RSA);
	EXPECT(verify_with(&strict, &both_keys, token, strlen(token), NULL), JWT_EXPIRED,
	       "expired 1 s ago with leeway 0");
	free(token);
	free(text);

	EXPECT(signed_verdict(rs, claims("\"iss\":\"https://evil.example\",\"aud\":\"" RESOURCE
	                                 "\",\"sub\":\"u\""), SIGN_RSA),
	       JWT_WRONG_ISSUER, "wrong iss");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "/\",\"aud\":\"" RESOURCE
	                                 "\",\"sub\":\"u\""), SIGN_RSA),
	       JWT_WRONG_ISSUER, "iss with an extra slash (exact match)");
	EXPECT(signed_verdict(rs, claims("\"aud\":\"" RESOURCE "\",\"sub\":\"u\""), SIGN_RSA),
	       JWT_WRONG_ISSUER, "no iss");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"aud\":\"https://other.example/mcp\","
	                                 "\"sub\":\"u\""), SIGN_RSA),
	       JWT_WRONG_AUDIENCE, "wrong aud");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"aud\":[\"a\",\"b\"],\"sub\":\"u\""),
	                      SIGN_RSA),
	       JWT_WRONG_AUDIENCE, "aud array without this resource");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"sub\":\"u\""), SIGN_RSA),
	       JWT_WRONG_AUDIENCE, "no aud and no client_id");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"aud\":7,\"sub\":\"u\""), SIGN_RSA),
	       JWT_BAD_CLAIMS, "aud a number");
	/* Cognito: an id token carries aud = the app client, token_use "id". */
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"aud\":\"cognito-app\",\"sub\":\"u\","
	                                 "\"token_use\":\"id\",\"email\":\"a@example.com\""), SIGN_RSA),
	       JWT_WRONG_TOKEN_USE, "Cognito id token (token_use id)");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"client_id\":\"cognito-app\","
	                                 "\"sub\":\"u\",\"token_use\":\"id\""), SIGN_RSA),
	       JWT_WRONG_TOKEN_USE, "token_use id with a known client_id");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"client_id\":\"other-app\","
	                                 "\"sub\":\"u\",\"token_use\":\"access\""), SIGN_RSA),
	       JWT_WRONG_AUDIENCE, "Cognito access token for another app client");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"client_id\":\"cognito-app\","
	                                 "\"sub\":\"u\""), SIGN_RSA),
	       JWT_WRONG_AUDIENCE, "client_id without token_use is no audience");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\""), SIGN_RSA),
	       JWT_NO_SUBJECT, "neither sub nor client_id");
	EXPECT(signed_verdict(rs, claims("\"iss\":\"" ISSUER "\",\"aud\":\"" RESOURCE "\",\"sub\":\"a\\nb\""),
	                      SIGN_RSA),
	       JWT_BAD_CLAIMS, "sub with a control character");
	EXPECT(signed_verdict(rs, claims("%s,\"scope\":7", STD), SIGN_RSA), JWT_BAD_CLAIMS,
	       "scope a number");
	EXPECT(signed_verdict(rs, claims("%s,\"groups\":[1]", STD), SIGN_RSA), JWT_BAD_CLAIMS,
	       "groups with a number");
	EXPECT(signed_verdict(rs, strdup("{\"sub\":\"a\",\"sub\":\"b\"}"), SIGN_RSA), JWT_BAD_CLAIMS,
	       "duplicate claim names");

	struct config_oauth scoped = cfg.oauth;
	char *required[] = { "mcp:read", "mcp:write", NULL };
	memcpy(scoped.required_scopes, required, sizeof required);
	text = claims("%s,\"scope\":\"mcp:read\"", STD);
	token = make_token(rs, text, SIGN_RSA);
	v = verify_with(&scoped, &both_keys, token, strlen(token), NULL);
	EXPECT(v, JWT_INSUFFICIENT_SCOPE, "required scope mcp:write missing");
	CHECK(jwt_verdict_status(v) == 403 && strcmp(jwt_verdict_error(v), "insufficient_scope") == 0,
	      "insufficient scope is a 403 with error insufficient_scope");
	free(token);
	free(text);
	text = claims("%s,\"scope\":\"mcp:write mcp:read\"", STD);
	token = make_token(rs, text, SIGN_RSA);
	EXPECT(verify_with(&scoped, &both_keys, token, strlen(token), NULL), JWT_OK,
	       "both required scopes granted");
	free(token);
	free(text);
}

static void expect_raw(const char *token, enum jwt_verdict want, const char *what)
{
	EXPECT(verify_with(&cfg.oauth, &both_keys, token, strlen(token), NULL), want, what);
}

static void test_refused_form(void)
{
	char *text = claims("%s", STD);
	char *good = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", text, SIGN_RSA);
	char *h = b64url_str("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"), *c = b64url_str(text);
	char *sig = strrchr(good, '.') + 1;
	char *t = NULL;
	expect_raw(good, JWT_OK, "control: the good token");

	/* Oversized: the limit is checked before anything is read. */
	size_t big = JWT_MAX_TOKEN_BYTES + 1;
	char *huge = malloc(big + 1);
	char *pad = malloc(JWT_MAX_TOKEN_BYTES);
	if (!huge || !pad)
		exit(2);
	memset(huge, 'A', big);
	huge[big] = '\0';
	expect_raw(huge, JWT_TOO_LONG, "8193 bytes");
	huge[big - 1] = '\0';
	expect_raw(huge, JWT_MALFORMED, "8192 bytes without dots is malformed, not too long");
	/* A signed token padded to just over the limit with a long claim. */
	memset(pad, 'x', JWT_MAX_TOKEN_BYTES - 1);
	pad[JWT_MAX_TOKEN_BYTES - 1] = '\0';
	char *long_claims = claims("%s,\"pad\":\"%s\"", STD, pad);
	char *long_token = make_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", long_claims, SIGN_RSA);
	expect_raw(long_token, JWT_TOO_LONG, "validly signed but over 8 KiB");
	free(long_token);
	free(long_claims);
	free(pad);
	free(huge);

	expect_raw("", JWT_MALFORMED, "empty");
	if (asprintf(&t, "%s.%s", h, c) < 0) exit(2);
	expect_raw(t, JWT_MALFORMED, "two parts");
	free(t);
	if (asprintf(&t, "%s.%s.%s.%s", h, c, sig, sig) < 0) exit(2);
	expect_raw(t, JWT_MALFORMED, "four parts");
	free(t);
	if (asprintf(&t, "%s.%s.%s.", h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_MALFORMED, "trailing dot");
	free(t);
	if (asprintf(&t, ".%s.%s", c, sig) < 0) exit(2);
	expect_raw(t, JWT_MALFORMED, "empty header");
	free(t);
	if (asprintf(&t, "%s..%s", h, sig) < 0) exit(2);
	expect_raw(t, JWT_MALFORMED, "empty payload");
	free(t);
	if (asprintf(&t, "%s.%s.", h, c) < 0) exit(2);
	expect_raw(t, JWT_MALFORMED, "RS256 with an empty signature");
	free(t);
	if (asprintf(&t, "%s=.%s.%s", h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_ENCODING, "padding '=' on the header");
	free(t);
	if (asprintf(&t, "%s.%s==.%s", h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_ENCODING, "padding '==' on the payload");
	free(t);
	if (asprintf(&t, "%s.%s.%s=", h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_ENCODING, "padding on the signature");
	free(t);
	if (asprintf(&t, "%s.%s+.%s", h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_ENCODING, "'+' (standard base64) in the payload");
	free(t);
	if (asprintf(&t, "%s .%s.%s", h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_ENCODING, "space in the header");
	free(t);
	/* Non-canonical: the last character of the signature (256 bytes: 4 unused bits) with
	 * its low bits set decodes to the same bytes under a second spelling. */
	t = strdup(good);
	char *last = t + strlen(t) - 1;
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t idx = (size_t)(strchr(alphabet, *last) - alphabet);
	*last = alphabet[idx | 1];
	expect_raw(t, JWT_BAD_ENCODING, "non-canonical base64url (unused bits set)");
	free(t);

	char *bad_h = b64url_str("{\"alg\":\"RS256\",\"kid\":\"rsa1\"");
	if (asprintf(&t, "%s.%s.%s", bad_h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_HEADER, "header JSON cut short");
	free(t);
	free(bad_h);
	bad_h = b64url_str("[\"RS256\"]");
	if (asprintf(&t, "%s.%s.%s", bad_h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_HEADER, "header a JSON array");
	free(t);
	free(bad_h);
	bad_h = b64url_str("{\"alg\":\"RS256\",\"alg\":\"none\"}");
	if (asprintf(&t, "%s.%s.%s", bad_h, c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_HEADER, "header with alg twice");
	free(t);
	free(bad_h);
	char *bad_c = b64url_str("{\"iss\":");
	if (asprintf(&t, "%s.%s.%s", h, bad_c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_CLAIMS, "claims JSON cut short");
	free(t);
	free(bad_c);
	bad_c = b64url_str("\"just a string\"");
	if (asprintf(&t, "%s.%s.%s", h, bad_c, sig) < 0) exit(2);
	expect_raw(t, JWT_BAD_CLAIMS, "claims a JSON string");
	free(t);
	free(bad_c);

	EXPECT(signed_verdict("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JOSE\"}",
	                      claims("%s", STD), SIGN_RSA), JWT_BAD_TYP, "typ JOSE");
	EXPECT(signed_verdict("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"jwt\"}",
	                      claims("%s", STD), SIGN_RSA), JWT_OK, "typ jwt (case-insensitive)");
	EXPECT(signed_verdict("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"b64\"],\"b64\":false}",
	                      claims("%s", STD), SIGN_RSA), JWT_CRIT_UNSUPPORTED, "crit b64");
	EXPECT(signed_verdict("{\"alg\":\"RS256\",\"kid\":7}", claims("%s", STD), SIGN_RSA),
	       JWT_BAD_HEADER, "kid a number");
	free(good);
	free(h);
	free(c);
	free(text);
}

static void test_base64url(void)
{
	unsigned char out[16];
	size_t n = 99;
	CHECK(jwks_base64url_decode("", 0, out, sizeof out, &n) == 0 && n == 0, "b64url: empty");
	CHECK(jwks_base64url_decode("YQ", 2, out, sizeof out, &n) == 0 && n == 1 && out[0] == 'a',
	      "b64url: YQ is a");
	CHECK(jwks_base64url_decode("YR", 2, out, sizeof out, &n) != 0, "b64url: YR refused (non-canonical)");
	CHECK(jwks_base64url_decode("YQ==", 4, out, sizeof out, &n) != 0, "b64url: padding refused");
	CHECK(jwks_base64url_decode("Y", 1, out, sizeof out, &n) != 0, "b64url: one character refused");
	CHECK(jwks_base64url_decode("-_-_", 4, out, sizeof out, &n) == 0 && n == 3 &&
	      out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf, "b64url: - and _ decode");
	CHECK(jwks_base64url_decode("+/+/", 4, out, sizeof out, &n) != 0, "b64url: + and / refused");
	CHECK(jwks_base64url_decode("AAAAAAAA", 8, out, 5, &n) != 0, "b64url: output cap honoured");
	CHECK(jwks_base64url_decode("AAAAAAA", 7, out, 5, &n) == 0 && n == 5, "b64url: exact cap");
}

static void test_verdict_words(void)
{
	bool distinct = true, present = true;
	for (int i = 0; i < JWT_VERDICT_COUNT; i++) {
		const char *t = jwt_verdict_text((enum jwt_verdict)i);
		present &= t && t[0] && strcmp(t, "?") != 0 && !strchr(t, '"') && !strchr(t, '\\');
		for (int j = 0; j < i; j++)
			distinct &= strcmp(t, jwt_verdict_text((enum jwt_verdict)j)) != 0 &&
			            strcmp(jwt_verdict_name((enum jwt_verdict)i),
			                   jwt_verdict_name((enum jwt_verdict)j)) != 0;
	}
	CHECK(present, "every verdict has words safe inside a quoted header value");
	CHECK(distinct, "every verdict has its own words and name");
}

int main(void)
{
	log_init("test_jwt");
	log_set_level(LOG_ERROR);
	now = time(NULL);
	make_keys();
	make_key_sets();
	struct config_error err;
	if (load_config(OAUTH_CONFIG(",\"client_ids\":[\"cognito-app\"],\"role_claims\":{"
	                             "\"groups\":{\"admins\":[\"admin\",\"operator\"]},"
	                             "\"scopes\":{\"mcp:read\":[\"reader\"],\"openid\":[\"admin\"]}}"),
	                &cfg, &err) != 0) {
		printf("FAIL test config: %s\n", err.text);
		return 1;
	}
	test_config();
	test_base64url();
	test_good_tokens();
	test_refused_alg();
	test_refused_signature();
	test_refused_claims();
	test_refused_form();
	test_verdict_words();
	config_free(&cfg);
	jwks_free(&both_keys);
	jwks_free(&rsa_only);
	mbedtls_pk_free(&rsa_key);
	mbedtls_pk_free(&ec_key);
	mbedtls_pk_free(&ec_other);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return check_finish();
}
