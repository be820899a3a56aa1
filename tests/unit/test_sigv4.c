/* Unit tests for the SigV4 signer: all 31 cases of AWS's SigV4 test suite (canonical request,
 * string to sign, Authorization, signed request), AWS's S3 worked examples, and the edges:
 * double encoding, S3 single encoding, the key cache, every refusal.
 * argv[1]: the project's source root (for tests/fixtures/aws-sig-v4-test-suite). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/aws/sigv4.c"

#include "check.h"

#define MAX_FILE (64 * 1024)

/* The suite's fixed inputs (its readme and the npm package's runner). */
#define SUITE_KEY_ID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME ((time_t)1440938160) /* 2015-08-30T12:36:00Z */
#define SUITE_TOKEN "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

/* Every case of the suite, by its directory under the fixture root. */
static const char *const suite_cases[] = {
	"get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order",
	"get-header-value-trim", "get-unreserved", "get-utf8", "get-vanilla",
	"get-vanilla-empty-query-key", "get-vanilla-query", "get-vanilla-query-order-key",
	"get-vanilla-query-order-key-case", "get-vanilla-query-order-value",
	"get-vanilla-query-unreserved", "get-vanilla-utf8-query",
	"normalize-path/get-relative", "normalize-path/get-relative-relative",
	"normalize-path/get-slash", "normalize-path/get-slash-dot-slash",
	"normalize-path/get-slash-pointless-dot", "normalize-path/get-slashes",
	"normalize-path/get-space",
	"post-header-key-case", "post-header-key-sort", "post-header-value-case",
	"post-sts-token/post-sts-header-after", "post-sts-token/post-sts-header-before",
	"post-vanilla", "post-vanilla-empty-query-value", "post-vanilla-query",
	"post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters",
};
#define N_SUITE (sizeof suite_cases / sizeof suite_cases[0])

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	size_t n = fread(buf, 1, MAX_FILE, f);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* A .req file cut up in place: request line, headers, body. A line that starts with blanks
 * continues the previous header; the suite counts each such line as one more value of that
 * header (get-header-value-multiline expects "value1,value2,value3"). */
struct parsed_req {
	char *method, *path, *query;
	struct sigv4_header headers[SIGV4_MAX_HEADERS];
	size_t n_headers;
	char *amz_date;
	char *token;
	char *body;
	size_t body_len;
	size_t head_len; /* bytes of the file before the blank line (or all of it) */
};

static int parse_req(char *text, size_t len, struct parsed_req *r)
{
	memset(r, 0, sizeof *r);
	char *body_sep = strstr(text, "\n\n");
	r->head_len = body_sep ? (size_t)(body_sep - text) : len;
	if (body_sep) {
		*body_sep = '\0';
		r->body = body_sep + 2;
		r->body_len = len - (size_t)(r->body - text);
	}
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	if (!line)
		return -1;
	/* "METHOD target HTTP/1.1"; the target may hold a raw space (get-space). */
	char *sp = strchr(line, ' ');
	char *ver = strstr(line, " HTTP/1.1");
	if (!sp || !ver || ver < sp)
		return -1;
	*sp = '\0';
	*ver = '\0';
	r->method = line;
	r->path = sp + 1;
	char *q = strchr(r->path, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	const char *last_name = NULL;
	while ((line = strtok_r(NULL, "\n", &save))) {
		const char *name = last_name;
		char *value = line;
		if (line[0] != ' ' && line[0] != '\t') {
			char *colon = strchr(line, ':');
			if (!colon)
				return -1;
			*colon = '\0';
			name = line;
			value = colon + 1;
		}
		if (!name)
			return -1;
		last_name = name;
		/* The signer owns these two: the date is checked, the token goes in the credentials. */
		if (strcasecmp(name, "X-Amz-Date") == 0) {
			r->amz_date = value;
			continue;
		}
		if (strcasecmp(name, "X-Amz-Security-Token") == 0) {
			r->token = value;
			continue;
		}
		if (r->n_headers == SIGV4_MAX_HEADERS)
			return -1;
		r->headers[r->n_headers++] = (struct sigv4_header){ name, value };
	}
	return 0;
}

/* The expected signed request: the original, then the headers the signer adds but did not
 * find there, then Authorization, then the body. */
static int check_sreq(const char *name, const char *req_text, const struct parsed_req *r,
                      const struct sigv4_signed *s, const char *sreq)
{
	char *want = malloc(MAX_FILE * 2);
	if (!want)
		return -1;
	size_t n = 0;
	memcpy(want, req_text, r->head_len);
	n = r->head_len;
	for (size_t i = 0; i < s->n_add; i++) {
		if (strcmp(s->add[i].name, "X-Amz-Date") == 0 && r->amz_date)
			continue;
		if (strcmp(s->add[i].name, "X-Amz-Security-Token") == 0 && r->token)
			continue;
		/* The suite writes "Name:value", except "Authorization: value". */
		const char *sep = strcmp(s->add[i].name, "Authorization") == 0 ? ": " : ":";
		n += (size_t)snprintf(want + n, MAX_FILE * 2 - n, "\n%s%s%s", s->add[i].name, sep, s->add[i].value);
	}
	if (r->body)
		n += (size_t)snprintf(want + n, MAX_FILE * 2 - n, "\n\n%.*s", (int)r->body_len, r->body);
	bool same = strcmp(want, sreq) == 0;
	if (!same)
		printf("     %s: signed request differs:\n---\n%s\n---\n%s\n---\n", name, want, sreq);
	free(want);
	return same ? 0 : -1;
}

static bool run_suite_case(const char *root, const char *dir)
{
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char prefix[1024];
	snprintf(prefix, sizeof prefix, "%s/tests/fixtures/aws-sig-v4-test-suite/%s/%s", root, dir, base);
	char path[1100];
	const char *exts[] = { "req", "creq", "sts", "authz", "sreq" };
	char *files[5] = { 0 };
	size_t lens[5] = { 0 };
	bool ok = true;
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof path, "%s.%s", prefix, exts[i]);
		files[i] = read_whole(path, &lens[i]);
		if (!files[i]) {
			printf("     %s: cannot read %s\n", dir, path);
			ok = false;
		}
	}
	char *req_copy = ok ? strdup(files[0]) : NULL;
	struct parsed_req r;
	if (ok && (!req_copy || parse_req(req_copy, lens[0], &r) != 0)) {
		printf("     %s: cannot parse the request\n", dir);
		ok = false;
	}
	if (ok && (!r.amz_date || strcmp(r.amz_date, "20150830T123600Z") != 0)) {
		printf("     %s: unexpected X-Amz-Date\n", dir);
		ok = false;
	}
	bool token_after = strcmp(base, "post-sts-header-after") == 0;
	struct sigv4_signed s;
	char creq[8192], sts[512];
	if (ok) {
		struct sigv4_credentials cred = { SUITE_KEY_ID, SUITE_SECRET,
		                                  token_after ? SUITE_TOKEN : r.token };
		struct sigv4_request req = {
			.method = r.method, .path = r.path, .query = r.query,
			.headers = r.headers, .n_headers = r.n_headers,
			.body = r.body, .body_len = r.body_len,
			.region = "us-east-1", .service = "service", .time = SUITE_TIME,
			.flags = token_after ? SIGV4_TOKEN_AFTER : 0,
		};
		if (sigv4_sign_debug(&req, &cred, NULL, &s, creq, sizeof creq, sts, sizeof sts) != 0) {
			printf("     %s: sign failed: %s\n", dir, strerror(errno));
			ok = false;
		}
	}
	if (ok && strcmp(creq, files[1]) != 0) {
		printf("     %s: canonical request differs:\n---\n%s\n---\n%s\n---\n", dir, creq, files[1]);
		ok = false;
	}
	if (ok && strcmp(sts, files[2]) != 0) {
		printf("     %s: string to sign differs:\n%s\n---\n%s\n", dir, sts, files[2]);
		ok = false;
	}
	if (ok && strcmp(s.authorization, files[3]) != 0) {
		printf("     %s: authorization differs:\n%s\n%s\n", dir, s.authorization, files[3]);
		ok = false;
	}
	if (ok && check_sreq(dir, files[0], &r, &s, files[4]) != 0)
		ok = false;
	for (int i = 0; i < 5; i++)
		free(files[i]);
	free(req_copy);
	return ok;
}

static void test_suite(const char *root)
{
	size_t passed = 0;
	for (size_t i = 0; i < N_SUITE; i++) {
		bool ok = run_suite_case(root, suite_cases[i]);
		printf("%s suite %s\n", ok ? "ok  " : "FAIL", suite_cases[i]);
		if (ok)
			passed++;
		else
			failures++;
	}
	CHECK(N_SUITE == 31 && passed == N_SUITE, "AWS SigV4 test suite: %zu/%zu cases pass", passed, N_SUITE);
}

/* ---- S3: the worked examples of AWS's S3 API reference ("Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk"), with their published values. ---- */

#define S3_KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_TIME ((time_t)1369353600) /* 2013-05-24T00:00:00Z */
#define S3_HOST "examplebucket.s3.amazonaws.com"

static const struct sigv4_credentials s3_cred = { S3_KEY_ID, S3_SECRET, NULL };

static int s3_sign(const char *method, const char *path, const char *query,
                   const struct sigv4_header *h, size_t nh, const char *body, unsigned flags,
                   struct sigv4_signed *s, char *creq, size_t creq_cap, char *sts, size_t sts_cap)
{
	struct sigv4_request req = {
		.method = method, .path = path, .query = query, .headers = h, .n_headers = nh,
		.body = body, .body_len = body ? strlen(body) : 0,
		.region = "us-east-1", .service = "s3", .time = S3_TIME, .flags = SIGV4_S3 | flags,
	};
	return sigv4_sign_debug(&req, &s3_cred, NULL, s, creq, creq_cap, sts, sts_cap);
}

static const char *find_add(const struct sigv4_signed *s, const char *name)
{
	for (size_t i = 0; i < s->n_add; i++)
		if (strcmp(s->add[i].name, name) == 0)
			return s->add[i].value;
	return NULL;
}

static void test_s3_get_object(void)
{
	const struct sigv4_header h[] = { { "Host", S3_HOST }, { "Range", "bytes=0-9" } };
	struct sigv4_signed s;
	char creq[4096], sts[512];
	int rc = s3_sign("GET", "/test.txt", NULL, h, 2, NULL, 0, &s, creq, sizeof creq, sts, sizeof sts);
	CHECK(rc == 0, "S3 GET object: signs");
	CHECK(strcmp(creq, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	                   "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	                   "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
	                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	      "S3 GET object: canonical request as published");
	CHECK(strcmp(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	                  "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972") == 0,
	      "S3 GET object: string to sign as published");
	CHECK(strcmp(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0,
	      "S3 GET object: signature as published (%s)", s.signature);
	CHECK(strcmp(s.authorization, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	                              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	                              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0,
	      "S3 GET object: Authorization (the published one, with ', ' separators)");
	const char *sha = find_add(&s, "X-Amz-Content-Sha256");
	CHECK(sha && strcmp(sha, SIGV4_EMPTY_SHA256) == 0, "S3 GET object: x-amz-content-sha256 is sent");
}

static void test_s3_put_object(void)
{
	const struct sigv4_header h[] = {
		{ "Host", S3_HOST }, { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	const char *want_creq =
		"PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n"
		"x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
		"x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
		"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
		"44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
	const char *want_sts = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	                       "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d";
	const char *want_sig = "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
	/* The key "test$file.text" on the wire strictly encoded, loosely encoded, and with a
	 * caller-computed payload hash: all three sign the same, encoded exactly once. */
	const char *paths[] = { "/test%24file.text", "/test$file.text", "/test%24file.text" };
	for (int i = 0; i < 3; i++) {
		struct sigv4_signed s;
		char creq[4096], sts[512];
		struct sigv4_request req = {
			.method = "PUT", .path = paths[i], .headers = h, .n_headers = 3,
			.body = "Welcome to Amazon S3.", .body_len = 21,
			.region = "us-east-1", .service = "s3", .time = S3_TIME, .flags = SIGV4_S3,
		};
		if (i == 2) {
			req.body = NULL;
			req.body_len = 0;
			req.payload_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
		}
		int rc = sigv4_sign_debug(&req, &s3_cred, NULL, &s, creq, sizeof creq, sts, sizeof sts);
		CHECK(rc == 0 && strcmp(creq, want_creq) == 0, "S3 PUT object (path %s%s): canonical request as published",
		      paths[i], i == 2 ? ", hash given" : "");
		CHECK(rc == 0 && strcmp(sts, want_sts) == 0, "S3 PUT object: string to sign as published");
		CHECK(rc == 0 && strcmp(s.signature, want_sig) == 0, "S3 PUT object: signature as published (%s)",
		      s.signature);
	}
}

static void test_s3_bucket_examples(void)
{
	const struct sigv4_header h[] = { { "Host", S3_HOST } };
	struct sigv4_signed s;
	char creq[4096], sts[512];
	int rc = s3_sign("GET", "/", "lifecycle", h, 1, NULL, 0, &s, creq, sizeof creq, sts, sizeof sts);
	char creq_hash[65];
	sigv4_sha256_hex(creq, strlen(creq), creq_hash);
	CHECK(rc == 0 && strstr(creq, "GET\n/\nlifecycle=\n") == creq, "S3 GET lifecycle: valueless parameter signed as 'lifecycle='");
	CHECK(strcmp(creq_hash, "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca") == 0,
	      "S3 GET lifecycle: canonical request hash as published");
	CHECK(strcmp(s.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") == 0,
	      "S3 GET lifecycle: signature as published");
	rc = s3_sign("GET", "/", "prefix=J&max-keys=2", h, 1, NULL, 0, &s, creq, sizeof creq, sts, sizeof sts);
	CHECK(rc == 0 && strstr(creq, "GET\n/\nmax-keys=2&prefix=J\n") == creq, "S3 list objects: query sorted");
	CHECK(strcmp(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == 0,
	      "S3 list objects: signature as published");
}

static void test_s3_unsigned_payload(void)
{
	const struct sigv4_header h[] = { { "Host", S3_HOST }, { "Range", "bytes=0-9" } };
	struct sigv4_signed s;
	char creq[4096], sts[512];
	int rc = s3_sign("PUT", "/big.bin", NULL, h, 2, NULL, SIGV4_PAYLOAD_UNSIGNED, &s, creq, sizeof creq,
	                 sts, sizeof sts);
	CHECK(rc == 0 && strcmp(creq, "PUT\n/big.bin\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	                              "x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20130524T000000Z\n\n"
	                              "host;range;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD") == 0,
	      "S3 UNSIGNED-PAYLOAD: signed as the literal, in header and last line");
	const char *sha = find_add(&s, "X-Amz-Content-Sha256");
	CHECK(sha && strcmp(sha, "UNSIGNED-PAYLOAD") == 0, "S3 UNSIGNED-PAYLOAD: x-amz-content-sha256 sent as the literal");
	/* The key derivation and HMAC are the ones the published examples pinned above, so a
	 * recomputation from this canonical request with the raw primitives must agree. */
	uint8_t k[32], sig[32];
	derive_key(S3_SECRET, "20130524", "us-east-1", "s3", k);
	hmac(k, 32, sts, strlen(sts), sig);
	char hexsig[65];
	to_hex(sig, 32, hexsig);
	CHECK(strcmp(hexsig, s.signature) == 0, "S3 UNSIGNED-PAYLOAD: signature consistent with its string to sign");
	char hash[65];
	sigv4_sha256_hex(creq, strlen(creq), hash);
	CHECK(strstr(sts, hash) != NULL, "S3 UNSIGNED-PAYLOAD: string to sign carries the canonical request's hash");
	struct sigv4_request req = { .method = "GET", .path = "/", .headers = h, .n_headers = 1,
	                             .region = "us-east-1", .service = "sqs", .time = S3_TIME,
	                             .flags = SIGV4_PAYLOAD_UNSIGNED };
	errno = 0;
	CHECK(sigv4_sign(&req, &s3_cred, NULL, &s) == -1 && errno == EINVAL,
	      "UNSIGNED-PAYLOAD refused outside S3");
}

/* ---- encoding ---- */

static const char *canon_path(const char *path, unsigned flags, char *creq, size_t cap)
{
	const struct sigv4_header h[] = { { "host", "example.amazonaws.com" } };
	struct sigv4_request req = { .method = "GET", .path = path, .headers = h, .n_headers = 1,
	                             .region = "us-east-1", .service = "bedrock", .time = S3_TIME,
	                             .flags = flags };
	struct sigv4_signed s;
	if (sigv4_sign_debug(&req, &s3_cred, NULL, &s, creq, cap, NULL, 0) != 0)
		return "(error)";
	char *nl2 = strchr(strchr(creq, '\n') + 1, '\n');
	*nl2 = '\0';
	return strchr(creq, '\n') + 1;
}

static void test_paths(void)
{
	char creq[4096];
	const char *p = canon_path("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", 0, creq, sizeof creq);
	CHECK(strcmp(p, "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/invoke") == 0,
	      "Bedrock model id with ':' (sent as %%3A) is double-encoded: %s", p);
	p = canon_path("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke") == 0,
	      "the same path for S3 is encoded once: %s", p);
	p = canon_path("/my-object//example//photo.user", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "/my-object//example//photo.user") == 0, "S3 paths are not normalised: %s", p);
	p = canon_path("/a/./b/../c", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "/a/./b/../c") == 0, "S3 keeps dot segments: %s", p);
	p = canon_path("/a/b/..", 0, creq, sizeof creq);
	CHECK(strcmp(p, "/a/") == 0, "'..' at the end leaves a directory: %s", p);
	p = canon_path("", 0, creq, sizeof creq);
	CHECK(strcmp(p, "/") == 0, "empty path is '/'");
	p = canon_path("", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "/") == 0, "empty S3 path is '/'");
	p = canon_path("/../../x", 0, creq, sizeof creq);
	CHECK(strcmp(p, "/x") == 0, "'..' cannot climb above the root: %s", p);
	p = canon_path("/a%2fb/%7e", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "/a/b/~") == 0, "S3: lower-case escapes decoded, re-encoded canonically: %s", p);
	p = canon_path("/%zz", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "(error)") == 0, "S3: a broken escape is refused");
	p = canon_path("/x%4", SIGV4_S3, creq, sizeof creq);
	CHECK(strcmp(p, "(error)") == 0, "S3: a truncated escape is refused");

	char out[64];
	CHECK(sigv4_uri_encode(out, sizeof out, "a b/c~", 6, true) == 8 && strcmp(out, "a%20b/c~") == 0,
	      "uri_encode keeps '/' when asked: %s", out);
	CHECK(sigv4_uri_encode(out, sizeof out, "a/b+=&", 6, false) != (size_t)-1 &&
	      strcmp(out, "a%2Fb%2B%3D%26") == 0, "uri_encode: '/', '+', '=', '&' encoded: %s", out);
	CHECK(sigv4_uri_encode(out, sizeof out, "\xc3\xa9", 2, false) == 6 && strcmp(out, "%C3%A9") == 0,
	      "uri_encode: UTF-8 bytes upper-case hex");
	CHECK(sigv4_uri_encode(out, 4, "abcd", 4, false) == (size_t)-1 && strlen(out) < 4,
	      "uri_encode: too small a buffer fails and stays terminated");
	CHECK(sigv4_uri_encode(out, 4, "a b", 3, false) == (size_t)-1, "uri_encode: escape not split at the end");
	CHECK(sigv4_uri_encode(out, 4, "abc", 3, false) == 3 && strcmp(out, "abc") == 0, "uri_encode: exact fit");
}

static const char *canon_query(const char *query, char *creq, size_t cap)
{
	const struct sigv4_header h[] = { { "host", "example.amazonaws.com" } };
	struct sigv4_request req = { .method = "GET", .path = "/", .query = query, .headers = h,
	                             .n_headers = 1, .region = "us-east-1", .service = "svc",
	                             .time = S3_TIME };
	struct sigv4_signed s;
	if (sigv4_sign_debug(&req, &s3_cred, NULL, &s, creq, cap, NULL, 0) != 0)
		return "(error)";
	char *q = strchr(strchr(creq, '\n') + 1, '\n') + 1;
	*strchr(q, '\n') = '\0';
	return q;
}

static void test_queries(void)
{
	char creq[4096];
	const char *q = canon_query("b=2&a=x+y&a=%2B&c=&d", creq, sizeof creq);
	CHECK(strcmp(q, "a=%2B&a=x%2By&b=2&c=&d=") == 0, "query: sorted by name then value, '+' literal, bare name: %s", q);
	q = canon_query("%c3%a9=1&A=2&~=3", creq, sizeof creq);
	CHECK(strcmp(q, "%C3%A9=1&A=2&~=3") == 0, "query: sorted by the encoded form ('%%' < 'A' < '~'): %s", q);
	q = canon_query("k=a/b&&k2=%41", creq, sizeof creq);
	CHECK(strcmp(q, "k=a%2Fb&k2=A") == 0, "query: '/' encoded, empty pieces skipped, escapes normalised: %s", q);
	q = canon_query("x=%g0", creq, sizeof creq);
	CHECK(strcmp(q, "(error)") == 0, "query: a broken escape is refused");
	char big[SIGV4_MAX_QUERY_PARAMS * 4 + 16];
	size_t n = 0;
	for (int i = 0; i <= SIGV4_MAX_QUERY_PARAMS; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%sa", i ? "&" : "");
	const struct sigv4_header h[] = { { "host", "h" } };
	struct sigv4_request req = { .method = "GET", .path = "/", .query = big, .headers = h,
	                             .n_headers = 1, .region = "r", .service = "s", .time = S3_TIME };
	struct sigv4_signed s;
	errno = 0;
	CHECK(sigv4_sign(&req, &s3_cred, NULL, &s) == -1 && errno == E2BIG, "query: too many parameters is E2BIG");
}

/* ---- headers, tokens and refusals ---- */

static void test_headers_and_tokens(void)
{
	const struct sigv4_header h[] = {
		{ "Host", "example.amazonaws.com" }, { "X-Tab", "\t a \t\t b  c\t" }, { "x-tab", "d" },
		{ "Content-Type", "application/x-amz-json-1.0" },
	};
	struct sigv4_credentials cred = { "AKIDEXAMPLE", SUITE_SECRET, "tok+/=" };
	struct sigv4_request req = { .method = "POST", .path = "/", .headers = h, .n_headers = 4,
	                             .body = "{}", .body_len = 2, .region = "us-west-2",
	                             .service = "dynamodb", .time = SUITE_TIME };
	struct sigv4_signed s;
	char creq[4096];
	int rc = sigv4_sign_debug(&req, &cred, NULL, &s, creq, sizeof creq, NULL, 0);
	CHECK(rc == 0 && strstr(creq, "\nx-tab:a b c,d\n") != NULL, "tabs and spaces trimmed and collapsed, repeats joined");
	CHECK(rc == 0 && strstr(creq, "\nx-amz-security-token:tok+/=\n") != NULL &&
	      strstr(s.authorization, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-tab,") != NULL,
	      "session token signed by default");
	CHECK(rc == 0 && find_add(&s, "X-Amz-Security-Token") && strcmp(find_add(&s, "X-Amz-Security-Token"), "tok+/=") == 0 &&
	      !find_add(&s, "X-Amz-Content-Sha256"), "token header to send; no x-amz-content-sha256 outside S3");
	CHECK(rc == 0 && s.n_add == 3 && strcmp(s.add[s.n_add - 1].name, "Authorization") == 0,
	      "headers to add end with Authorization");
	req.flags = SIGV4_TOKEN_AFTER;
	rc = sigv4_sign_debug(&req, &cred, NULL, &s, creq, sizeof creq, NULL, 0);
	CHECK(rc == 0 && !strstr(creq, "x-amz-security-token") && find_add(&s, "X-Amz-Security-Token"),
	      "SIGV4_TOKEN_AFTER: token sent, not signed");
	req.flags = 0;

	struct sigv4_header bad[3] = { { "Host", "h" } };
	const struct { const char *name, *value, *what; int err; } refusals[] = {
		{ "X-Amz-Date", "20150830T123600Z", "a caller x-amz-date", EINVAL },
		{ "x-amz-security-token", "t", "a caller token header", EINVAL },
		{ "X-Amz-Content-SHA256", SIGV4_EMPTY_SHA256, "a caller content hash header", EINVAL },
		{ "Authorization", "x", "an authorization header", EINVAL },
		{ "X-Evil", "a\r\nX-Injected: 1", "CR LF in a value", EINVAL },
		{ "X-Evil", "a\nb", "LF in a value", EINVAL },
		{ "Bad Name", "v", "a space in a name", EINVAL },
		{ "Bad:Name", "v", "a colon in a name", EINVAL },
		{ "", "v", "an empty name", EINVAL },
	};
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		bad[1] = (struct sigv4_header){ refusals[i].name, refusals[i].value };
		req.headers = bad;
		req.n_headers = 2;
		errno = 0;
		memset(&s, 0x5a, sizeof s);
		rc = sigv4_sign(&req, &cred, NULL, &s);
		CHECK(rc == -1 && errno == refusals[i].err && s.authorization[0] == '\0',
		      "refused: %s (and the output wiped)", refusals[i].what);
	}
	const struct sigv4_header nohost[] = { { "X-A", "b" } };
	req.headers = nohost;
	req.n_headers = 1;
	errno = 0;
	CHECK(sigv4_sign(&req, &cred, NULL, &s) == -1 && errno == EINVAL, "refused: no host header");
	req.headers = h;
	req.n_headers = 4;

	struct sigv4_request r2 = req;
	r2.region = "us-east-1/x";
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == -1, "refused: '/' in the region");
	r2 = req;
	r2.service = "";
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == -1, "refused: empty service");
	r2 = req;
	r2.method = "get";
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == -1, "refused: lower-case method");
	r2 = req;
	r2.payload_hash = "ABC";
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == -1, "refused: malformed payload hash");
	struct sigv4_credentials c2 = { "AKID/X", SUITE_SECRET, NULL };
	CHECK(sigv4_sign(&req, &c2, NULL, &s) == -1, "refused: '/' in the access key id");
	c2 = (struct sigv4_credentials){ "AKID", SUITE_SECRET, "tok\r\nX: y" };
	CHECK(sigv4_sign(&req, &c2, NULL, &s) == -1, "refused: CR LF in the session token");

	static struct sigv4_header many[SIGV4_MAX_HEADERS + 1];
	many[0] = (struct sigv4_header){ "host", "h" };
	for (size_t i = 1; i <= SIGV4_MAX_HEADERS; i++)
		many[i] = (struct sigv4_header){ "x-a", "b" };
	r2 = req;
	r2.headers = many;
	r2.n_headers = SIGV4_MAX_HEADERS + 1;
	errno = 0;
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == -1 && errno == E2BIG, "too many headers is E2BIG");
	r2.n_headers = SIGV4_MAX_HEADERS;
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == 0, "the maximum number of headers signs");

	size_t big_len = SIGV4_MAX_CANONICAL / 2;
	char *big = malloc(big_len + 1);
	memset(big, '%', big_len); /* each '%' becomes "%25" three times over: far past the limit */
	big[0] = '/';
	big[big_len] = '\0';
	r2 = req;
	r2.path = big;
	errno = 0;
	CHECK(sigv4_sign(&r2, &cred, NULL, &s) == -1 && errno == E2BIG, "a path past the size limit is E2BIG");
	free(big);

	char small[16];
	errno = 0;
	CHECK(sigv4_sign_debug(&req, &cred, NULL, &s, small, sizeof small, NULL, 0) == -1 && errno == E2BIG,
	      "debug copy into too small a buffer is E2BIG");
}

/* ---- the signing-key cache ---- */

static void test_key_cache(void)
{
	struct sigv4_key_cache cache;
	sigv4_key_cache_init(&cache);
	const struct sigv4_header h[] = { { "host", "bedrock-runtime.us-east-1.amazonaws.com" } };
	struct sigv4_credentials cred = { "AKIDEXAMPLE", SUITE_SECRET, NULL };
	struct sigv4_request req = { .method = "POST", .path = "/model/x/invoke", .headers = h,
	                             .n_headers = 1, .region = "us-east-1", .service = "bedrock",
	                             .time = SUITE_TIME };
	struct sigv4_signed cached, fresh;
	bool same = true;
	for (int i = 0; i < 1000; i++) {
		req.time = SUITE_TIME + i * 60; /* 1000 minutes: crosses no midnight (12:36 + 16h40) */
		if (req.time >= SUITE_TIME - 12 * 3600 - 36 * 60 + 86400)
			break;
		if (sigv4_sign(&req, &cred, &cache, &cached) != 0 || sigv4_sign(&req, &cred, NULL, &fresh) != 0 ||
		    strcmp(cached.authorization, fresh.authorization) != 0)
			same = false;
	}
	CHECK(same, "cached key signs exactly as a freshly derived one");
	CHECK(cache.derivations == 1, "one derivation for a day's requests (%lu)", cache.derivations);
	req.time = SUITE_TIME + 86400;
	sigv4_sign(&req, &cred, &cache, &cached);
	CHECK(cache.derivations == 2, "a new day derives a new key");
	req.region = "eu-west-1";
	sigv4_sign(&req, &cred, &cache, &cached);
	req.service = "bedrock-agent";
	sigv4_sign(&req, &cred, &cache, &cached);
	CHECK(cache.derivations == 4, "region and service are part of the key");
	struct sigv4_credentials rotated = { "AKIDEXAMPLE", "another-secret", NULL };
	sigv4_sign(&req, &rotated, &cache, &cached);
	sigv4_sign(&req, &rotated, NULL, &fresh);
	CHECK(cache.derivations == 5 && strcmp(cached.signature, fresh.signature) == 0,
	      "a new secret under the same key id is not served the old key");
	sigv4_sign(&req, &cred, &cache, &cached);
	CHECK(cache.derivations == 5, "both secrets stay cached");
	for (int i = 0; i < 20; i++) {
		req.time = SUITE_TIME + (time_t)(i + 10) * 86400;
		sigv4_sign(&req, &cred, &cache, &cached);
	}
	CHECK(cache.derivations == 25, "eviction keeps the cache bounded and correct");
	sigv4_key_cache_wipe(&cache);
	static const struct sigv4_key_cache zero;
	CHECK(memcmp(&cache, &zero, sizeof cache) == 0, "wipe zeroes every key");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	test_suite(argv[1]);
	test_s3_get_object();
	test_s3_put_object();
	test_s3_bucket_examples();
	test_s3_unsigned_payload();
	test_paths();
	test_queries();
	test_headers_and_tokens();
	test_key_cache();
	return check_finish();
}
