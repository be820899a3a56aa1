/* Fuzzes JWT access-token verification against a fixed key set and policy (form, header,
 * base64url, signature sizes, claims), and, for inputs that start with '{', JWKS parsing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "jwt.h"
#include "log.h"

/* Public halves of an RSA 2048 and a P-256 key; the seeds in corpus/jwt were signed with
 * their private halves, so valid tokens reach the claim checks. */
static const char fixed_jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"fz-rsa\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"25_bRi2X"
	"I1cOpPv9UwqBQMLKckQcO2Vp-TwDuhgXHTghsPKY_IAvm1QuSvIVR7BpMdTdtoGQ513P2wFGpthr"
	"CeSniBeSAaTwj74J_x2iJeeP-TC6AQXRWfNxWNm-i7BFTNRWcd3dN7AbLPIbC3et4aVCSP5yl82F"
	"yUl-vXRGCP9EVeFLW1tBK7PsDBgip7q5H4XVkFtUWeiOFH4U6VlFShLwbzobktf9qLLTZ_XLUksU"
	"mvtuiN56GCI9Zf1u2cyOCubK39rm6-45n68oZPkT53E8Q1G8NZRWHSNt8gib_e4UVZtPFLx8WgWu"
	"wGao9cpxvanVlXgU91CbqpKaTar_cw\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"fz-ec\",\"use\":"
	"\"sig\",\"crv\":\"P-256\",\"x\":\"OhE0EsOikoYDgvApojoV9DENvwJSM5lFxIPt5Whzgu4\",\"y\":\"1"
	"rQzLygZXKhWBfTQupjMJMwNErUKc-Iv2RdMJifWgpU\"}]}";

#define FIXED_NOW 1800000000 /* 2027-01-15: the seeds' exp/nbf/iat are around it */

static struct jwks keys;
static struct config_oauth policy;

static void setup(void)
{
	static char *client_ids[] = { "fuzz-app", NULL };
	char err[256];

	log_init("fuzz_jwt");
	log_set_level(LOG_FATAL); /* skipped keys are logged; the fuzzer does not need them */
	if (jwks_parse(&keys, fixed_jwks, strlen(fixed_jwks), err, sizeof err) != 0 || keys.n != 2)
		abort();
	snprintf(policy.issuer, sizeof policy.issuer, "https://issuer.fuzz");
	snprintf(policy.audience, sizeof policy.audience, "https://mcp.fuzz/mcp");
	memcpy(policy.client_ids, client_ids, sizeof client_ids);
	policy.enabled = true;
	policy.algorithms = CONFIG_OAUTH_RS256 | CONFIG_OAUTH_ES256;
	policy.leeway_seconds = 60;
	policy.group_roles = json_pack("{s:[s]}", "admins", "admin");
	policy.scope_roles = json_pack("{s:[s, s]}", "mcp:read", "reader", "viewer");
	if (!policy.group_roles || !policy.scope_roles)
		abort();
}

static void fuzz_token(const uint8_t *data, size_t size)
{
	json_t *principal = NULL;
	enum jwt_verdict v = jwt_verify(&policy, &keys, (const char *)data, size, FIXED_NOW,
	                                &principal);
	/* The contract main.c relies on: a principal exactly when the verdict is OK, with an id,
	 * and words for every verdict. */
	if ((v == JWT_OK) != (principal != NULL))
		abort();
	if (principal && !json_is_string(json_object_get(principal, "id")))
		abort();
	if (!jwt_verdict_text(v)[0] || jwt_verdict_status(v) < 401)
		abort();
	json_decref(principal);
}

static void fuzz_jwks(const uint8_t *data, size_t size)
{
	struct jwks set;
	char err[256];

	if (jwks_parse(&set, (const char *)data, size, err, sizeof err) == 0) {
		if (set.n == 0 || set.n > JWKS_MAX_KEYS)
			abort();
		for (size_t i = 0; i < set.n; i++)
			if (set.keys[i].has_kid && jwks_find(&set, set.keys[i].kid) != &set.keys[i])
				abort();
		jwks_free(&set);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size > 0 && data[0] == '{')
		fuzz_jwks(data, size);
	else
		fuzz_token(data, size);
	return 0;
}
