/* Tests of the AWS credential chain: the parsers and checks on their own, then every source
 * against loopback doubles that enforce the real protocols (tests/fixtures/aws-doubles.mjs on
 * 127.0.0.1): first fetch, refresh before expiry, token rotation, failures kept until expiry,
 * the loop never blocked, and no secret in the log. argv[1]: the project's source root. */
#include <curl/curl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/aws/credentials.c"

#include "check.h"
#include "log_capture.h"
#include "node_double.h"

/* Issued credentials live EXPIRES s; the provider refreshes MARGIN s before expiry, so a
 * refresh lands 2-3 s after a fetch, 2 s before the credentials stop being handed out. */
#define EXPIRES 10
#define MARGIN 7

/* The credential doubles (tests/fixtures/aws-doubles.mjs): container endpoint, IMDS, STS. */
static struct node_double creds_double = NODE_DOUBLE_INIT;
static struct event_base *base;
static struct aws_http *http;
static char tmpdir[] = "/tmp/mcpgate-test-credentials-XXXXXX";

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_DISABLED", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_S3",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
		unsetenv(aws_vars[i]);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* ---- the doubles ---- */

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), n = size * nmemb;
	if (have + n < 4096) {
		memcpy(buf + have, data, n);
		buf[have + n] = '\0';
	}
	return n;
}

/* A plain blocking request to the double (test set-up and protocol probes only). */
static long raw_request(const char *method, const char *path, const char *h1, const char *h2, char *body)
{
	char url[512];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", creds_double.port, path);
	CURL *e = curl_easy_init();
	struct curl_slist *hl = NULL;
	if (h1)
		hl = curl_slist_append(hl, h1);
	if (h2)
		hl = curl_slist_append(hl, h2);
	body[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	long status = 0;
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(e);
	return status;
}

/* Sets knobs of the double and returns one of its counters (or -1). */
static long control(const char *query, const char *counter)
{
	char path[1024], body[4096];
	snprintf(path, sizeof path, "/_control?%s", query ? query : "");
	if (raw_request("GET", path, NULL, NULL, body) != 200)
		return -1;
	if (!counter)
		return 0;
	json_t *j = json_loads(body, 0, NULL);
	long v = (long)json_integer_value(json_object_get(j, counter));
	json_decref(j);
	return v;
}

/* ---- the event loop ---- */

static void run_for_ms(int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop (the provider's own timer does the work) until `successes` reaches want. */
static bool run_until_successes(struct aws_cred_provider *p, unsigned long want, int max_ms)
{
	double end = now_ms() + max_ms;
	while (aws_cred_provider_stats(p)->successes < want && now_ms() < end)
		run_for_ms(50);
	return aws_cred_provider_stats(p)->successes >= want;
}

static struct aws_cred_provider *provider(void)
{
	struct aws_cred_options o = { .refresh_margin_s = MARGIN, .min_refresh_s = 1, .max_backoff_s = 2,
	                              .timeout_ms = 3000 };
	return aws_cred_provider_new(http, &o);
}

/* ---- parsers and checks on their own ---- */

static void test_expiration(void)
{
	time_t t;
	CHECK(parse_expiration("2015-08-30T12:36:00Z", &t) == 0 && t == 1440938160, "Expiration: plain UTC");
	CHECK(parse_expiration("2015-08-30T12:36:00.123Z", &t) == 0 && t == 1440938160, "Expiration: fraction");
	CHECK(parse_expiration("2015-08-30T12:36:00+00:00", &t) == 0 && t == 1440938160, "Expiration: +00:00");
	const char *bad[] = { "", "2015-08-30 12:36:00Z", "2015-08-30T12:36:00", "2015-13-30T12:36:00Z",
	                      "2015-08-30T12:36:00+02:00", "2015-08-30T12:36:00.Z", " 2015-08-30T12:36:00Z",
	                      "2015-08-3aT12:36:00Z", "2015-08-30T12:36:00Zjunk" };
	bool all = true;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (parse_expiration(bad[i], &t) == 0) {
			printf("     accepted %s\n", bad[i]);
			all = false;
		}
	CHECK(all, "Expiration: %zu malformed forms refused", sizeof bad / sizeof bad[0]);
}

static void test_sts_xml(void)
{
	struct sts_values *v = malloc(sizeof *v);
	const char *ok_xml =
		"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
		"<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAEXAMPLE000000001</AccessKeyId>"
		"<SecretAccessKey>sec&amp;ret</SecretAccessKey><SessionToken>to<![CDATA[ken]]></SessionToken>"
		"<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
		"</AssumeRoleWithWebIdentityResponse>";
	CHECK(sts_parse_xml(ok_xml, strlen(ok_xml), v) == 0 && strcmp(v->key_id, "ASIAEXAMPLE000000001") == 0 &&
	      strcmp(v->secret, "sec&ret") == 0 && strcmp(v->token, "token") == 0 &&
	      strcmp(v->expiration, "2030-01-01T00:00:00Z") == 0, "STS XML: credentials, entities and CDATA decoded");
	const char *err_xml = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
	                      "<Message>Not authorized</Message></Error></ErrorResponse>";
	CHECK(sts_parse_xml(err_xml, strlen(err_xml), v) == 0 && strcmp(v->code, "AccessDenied") == 0 &&
	      strcmp(v->message, "Not authorized") == 0 && !v->key_id[0], "STS XML: error code and message");
	const char *misplaced = "<X><Credentials><AccessKeyId>ASIAEXAMPLE000000001</AccessKeyId></Credentials></X>";
	CHECK(sts_parse_xml(misplaced, strlen(misplaced), v) == 0 && !v->key_id[0],
	      "STS XML: credentials outside AssumeRoleWithWebIdentityResult ignored");
	const char *laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
	                     "<ErrorResponse><Error><Code>&b;</Code></Error></ErrorResponse>";
	CHECK(sts_parse_xml(laughs, strlen(laughs), v) != 0, "STS XML: any DOCTYPE refused (entity expansion)");
	const char *dup = "<R><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAEXAMPLE000000001</AccessKeyId>"
	                  "<AccessKeyId>ASIAEXAMPLE000000002</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult></R>";
	CHECK(sts_parse_xml(dup, strlen(dup), v) != 0, "STS XML: a repeated credential field refused");
	char deep[2048] = "";
	for (int i = 0; i < XML_DEPTH_MAX + 1; i++)
		strcat(deep, "<a>");
	for (int i = 0; i < XML_DEPTH_MAX + 1; i++)
		strcat(deep, "</a>");
	CHECK(sts_parse_xml(deep, strlen(deep), v) != 0, "STS XML: nesting deeper than %d refused", XML_DEPTH_MAX);
	size_t big = AWS_TOKEN_MAX + 200;
	char *long_token = malloc(big + 256);
	int n = snprintf(long_token, big + 256, "<R><AssumeRoleWithWebIdentityResult><Credentials><SessionToken>");
	memset(long_token + n, 'A', AWS_TOKEN_MAX + 1);
	strcpy(long_token + n + AWS_TOKEN_MAX + 1, "</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></R>");
	CHECK(sts_parse_xml(long_token, strlen(long_token), v) != 0, "STS XML: a token over %d bytes refused", AWS_TOKEN_MAX);
	free(long_token);
	CHECK(sts_parse_xml("<a>", 3, v) != 0 && sts_parse_xml("", 0, v) != 0, "STS XML: truncated or empty refused");
	free(v);
}

static void test_full_uri(void)
{
	const char *allowed[] = { "http://127.0.0.1:8080/creds", "http://127.1.2.3/x", "http://localhost:1/x",
	                          "http://[::1]:1/x", "http://169.254.170.2/v2/x", "http://169.254.170.23/v1/credentials",
	                          "http://[fd00:ec2::23]/v1/credentials", "https://creds.example.com/x" };
	const char *refused[] = { "http://192.0.2.1/creds", "http://example.com/creds", "http://127.0.0.1.example.com/x",
	                          "http://10.0.0.1/x", "file:///etc/passwd", "ftp://127.0.0.1/x", "http://169.254.169.254/x",
	                          "gopher://localhost/", "not a url" };
	bool ok = true;
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (!full_uri_allowed(allowed[i])) {
			printf("     refused %s\n", allowed[i]);
			ok = false;
		}
	CHECK(ok, "container FULL_URI: https anywhere, http to loopback and the ECS/EKS agents");
	ok = true;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (full_uri_allowed(refused[i])) {
			printf("     allowed %s\n", refused[i]);
			ok = false;
		}
	CHECK(ok, "container FULL_URI: plain http elsewhere and other schemes refused");
}

static void test_endpoints(void)
{
	char name[128], url[AWS_ENDPOINT_URL_MAX], region[AWS_REGION_MAX + 1];
	clear_env();
	CHECK(aws_endpoint_env_name("Bedrock Runtime", name, sizeof name) == 0 &&
	      strcmp(name, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME") == 0, "service id -> %s", name);
	CHECK(aws_endpoint_env_name("sts", name, sizeof name) == 0 && strcmp(name, "AWS_ENDPOINT_URL_STS") == 0,
	      "lower-case id upper-cased");
	CHECK(aws_endpoint_env_name("Bad/Id", name, sizeof name) != 0, "odd bytes in a service id refused");
	CHECK(aws_endpoint_url("Bedrock Runtime", "bedrock-runtime", "us-west-2", url, sizeof url) == 0 &&
	      strcmp(url, "https://bedrock-runtime.us-west-2.amazonaws.com") == 0, "default endpoint %s", url);
	CHECK(aws_endpoint_url("S3", "s3", "cn-north-1", url, sizeof url) == 0 &&
	      strcmp(url, "https://s3.cn-north-1.amazonaws.com.cn") == 0, "China endpoint %s", url);
	CHECK(aws_endpoint_url("STS", "sts", NULL, url, sizeof url) == 0 && strcmp(url, "https://sts.amazonaws.com") == 0,
	      "global endpoint without a region");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
	CHECK(aws_endpoint_url("S3", "s3", "us-east-1", url, sizeof url) == 0 && strcmp(url, "http://127.0.0.1:4566") == 0,
	      "AWS_ENDPOINT_URL for every service (trailing '/' dropped)");
	setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9000", 1);
	CHECK(aws_endpoint_url("Bedrock Runtime", "bedrock-runtime", "us-east-1", url, sizeof url) == 0 &&
	      strcmp(url, "http://127.0.0.1:9000") == 0, "AWS_ENDPOINT_URL_<SERVICE> wins over AWS_ENDPOINT_URL");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	CHECK(aws_endpoint_url("Bedrock Runtime", "bedrock-runtime", "us-east-1", url, sizeof url) == 0 &&
	      strcmp(url, "https://bedrock-runtime.us-east-1.amazonaws.com") == 0, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	setenv("AWS_ENDPOINT_URL_S3", "localhost:9000", 1);
	CHECK(aws_endpoint_url("S3", "s3", "us-east-1", url, sizeof url) != 0, "a URL without scheme is an error, not ignored");
	setenv("AWS_ENDPOINT_URL_S3", "http://a b", 1);
	CHECK(aws_endpoint_url("S3", "s3", "us-east-1", url, sizeof url) != 0, "a URL with a space is an error");
	CHECK(aws_endpoint_url("S3", "s3", "us-east-1/x", url, sizeof url) != 0, "a bad region is an error");
	clear_env();
	CHECK(aws_region_from_env(region, sizeof region) != 0, "no region configured");
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	CHECK(aws_region_from_env(region, sizeof region) == 0 && strcmp(region, "eu-west-1") == 0, "AWS_DEFAULT_REGION");
	setenv("AWS_REGION", "us-east-2", 1);
	CHECK(aws_region_from_env(region, sizeof region) == 0 && strcmp(region, "us-east-2") == 0,
	      "AWS_REGION wins over AWS_DEFAULT_REGION");
	setenv("AWS_REGION", "US EAST", 1);
	CHECK(aws_region_from_env(region, sizeof region) != 0, "a malformed region is an error");
	clear_env();
}

static void test_environment_source(void)
{
	clear_env();
	setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken+/=", 1);
	struct aws_cred_provider *p = provider();
	const struct aws_credentials *c = p ? aws_cred_provider_current(p) : NULL;
	CHECK(p && aws_cred_provider_source(p) == AWS_CRED_ENV && c && strcmp(c->access_key_id, "AKIAIOSFODNN7EXAMPLE") == 0 &&
	      strcmp(c->session_token, "envtoken+/=") == 0 && c->expiration == 0,
	      "environment keys: ready at once, never expire, session token kept");
	struct sigv4_credentials sc = aws_credentials_sigv4(c);
	CHECK(sc.session_token && strcmp(sc.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == 0,
	      "credentials convert for the signer");
	CHECK(p && aws_cred_provider_wait(p, 10) == 0 && aws_cred_provider_stats(p)->attempts == 0,
	      "environment keys: no fetch at all");
	aws_cred_provider_free(p);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK(provider() == NULL, "key id without secret is a configuration error");
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIA/../x", 1);
	CHECK(provider() == NULL, "malformed key id is a configuration error");
	clear_env();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	p = provider();
	CHECK(p && aws_cred_provider_source(p) == AWS_CRED_NONE && aws_cred_provider_wait(p, 10) != 0 &&
	      !aws_cred_provider_current(p), "nothing configured and IMDS disabled: no credentials");
	aws_cred_provider_free(p);
	clear_env();
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123", 1);
	p = provider(); /* configured only: never fetched, 169.254.170.2 is not contacted */
	CHECK(p && aws_cred_provider_source(p) == AWS_CRED_CONTAINER &&
	      strcmp(p->container_url, "http://169.254.170.2/v2/credentials/abc-123") == 0,
	      "container RELATIVE_URI resolves against 169.254.170.2");
	aws_cred_provider_free(p);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2@evil.example/x", 1);
	CHECK(provider() == NULL, "a RELATIVE_URI not starting with '/' is refused");
	clear_env();
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
	CHECK(provider() == NULL, "FULL_URI over plain http to a non-loopback host is refused");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Injected: 1", 1);
	CHECK(provider() == NULL, "a container token with CR LF is refused");
	clear_env();
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent", 1);
	setenv("AWS_ROLE_ARN", "not-an-arn", 1);
	CHECK(provider() == NULL, "a malformed role ARN is refused");
	clear_env();
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254", 1);
	CHECK(provider() == NULL, "an IMDS endpoint without scheme is refused");
	clear_env();
}

/* ---- the doubles enforce the protocols (else the tests below would prove little) ---- */

static void test_doubles_enforce(void)
{
	char body[4096];
	CHECK(raw_request("PUT", "/latest/api/token", NULL, NULL, body) == 400,
	      "IMDS double: token PUT without X-aws-ec2-metadata-token-ttl-seconds is 400");
	CHECK(raw_request("GET", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60", NULL, body) == 405,
	      "IMDS double: token only by PUT");
	CHECK(raw_request("GET", "/latest/meta-data/iam/security-credentials/", NULL, NULL, body) == 401,
	      "IMDS double: metadata without a token is 401 (no IMDSv1)");
	CHECK(raw_request("GET", "/latest/meta-data/iam/security-credentials/", "X-aws-ec2-metadata-token: forged",
	                  NULL, body) == 401, "IMDS double: a forged token is 401");
	CHECK(raw_request("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60", NULL, body) == 200 &&
	      body[0], "IMDS double: token issued on a proper PUT");
	char h[4200];
	snprintf(h, sizeof h, "X-aws-ec2-metadata-token: %.4095s", body);
	CHECK(raw_request("GET", "/latest/meta-data/iam/security-credentials/", h, NULL, body) == 200 &&
	      strcmp(body, "mcpgate-test-role") == 0, "IMDS double: role with the token");
	CHECK(raw_request("GET", "/container/creds", NULL, NULL, body) == 401,
	      "container double: no Authorization is 401");
	CHECK(raw_request("GET", "/container/creds", "Authorization: wrong", NULL, body) == 401,
	      "container double: a wrong Authorization is 401");
	control("", NULL);
}

/* ---- each source against its double ---- */

static void test_imds(void)
{
	clear_env();
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", creds_double.port);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	long puts0 = control("", "imds_token_put"), creds0 = control("", "imds_creds_get");
	struct aws_cred_provider *p = provider();
	CHECK(p && aws_cred_provider_source(p) == AWS_CRED_IMDS, "IMDS chosen when nothing else is configured");
	if (!p)
		return;
	time_t t0 = time(NULL);
	CHECK(aws_cred_provider_wait(p, 5000) == 0, "IMDS: first fetch (token, role, credentials)");
	const struct aws_credentials *c = aws_cred_provider_current(p);
	CHECK(c && strncmp(c->access_key_id, "ASIAIMDS", 8) == 0 && strncmp(c->secret_access_key, "doublesecretIMDS", 16) == 0 &&
	      strncmp(c->session_token, "doubletokenIMDS", 15) == 0 && c->source == AWS_CRED_IMDS,
	      "IMDS: key, secret and token from the double");
	CHECK(c && c->expiration > t0 && c->expiration <= t0 + EXPIRES + 1, "IMDS: expiration parsed");
	CHECK(control("", "imds_token_put") == puts0 + 1 && control("", "imds_creds_get") == creds0 + 1,
	      "IMDS: one token PUT, one credentials GET");
	if (!c) {
		aws_cred_provider_free(p);
		return;
	}
	char first_key[AWS_KEY_ID_MAX + 1];
	snprintf(first_key, sizeof first_key, "%s", c->access_key_id);
	time_t first_expiry = c->expiration;
	bool refreshed = run_until_successes(p, 2, (EXPIRES + 2) * 1000);
	time_t when = time(NULL);
	c = aws_cred_provider_current(p);
	CHECK(refreshed && when < first_expiry - EXPIRY_SKEW_S && c && strcmp(c->access_key_id, first_key) != 0,
	      "IMDS: refreshed by the timer %lds before expiry, new key", (long)(first_expiry - when));
	CHECK(control("", "imds_token_put") == puts0 + 1, "IMDS: session token reused across refreshes");
	long unauthorized = control("", "unauthorized");
	control("dropImdsTokens=1", NULL);
	refreshed = run_until_successes(p, 3, (EXPIRES + 2) * 1000);
	CHECK(refreshed && control("", "imds_token_put") == puts0 + 2 && control("", "unauthorized") == unauthorized + 1,
	      "IMDS: a 401 gets a new token and the refresh still succeeds");
	aws_cred_provider_free(p);
	clear_env();
}

static void test_container(void)
{
	clear_env();
	char url[128], file[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/container/creds", creds_double.port);
	snprintf(file, sizeof file, "%s/container-token", tmpdir);
	write_file(file, "container-auth-token-1\n");
	control("containerToken=container-auth-token-1", NULL);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file, 1);
	struct aws_cred_provider *p = provider();
	CHECK(p && aws_cred_provider_source(p) == AWS_CRED_CONTAINER, "container endpoint chosen");
	if (!p)
		return;
	CHECK(aws_cred_provider_wait(p, 5000) == 0, "container: first fetch with the token file's Authorization");
	const struct aws_credentials *c = aws_cred_provider_current(p);
	CHECK(c && strncmp(c->access_key_id, "ASIACONTAINER", 13) == 0 && c->session_token[0], "container: credentials");
	time_t first_expiry = c ? c->expiration : 0;
	/* The agent rotates the token: the next refresh must read the file again. */
	write_file(file, "container-auth-token-2");
	control("containerToken=container-auth-token-2", NULL);
	bool refreshed = run_until_successes(p, 2, (EXPIRES + 2) * 1000);
	time_t when = time(NULL);
	CHECK(refreshed && when < first_expiry - EXPIRY_SKEW_S, "container: refreshed %lds before expiry with the rotated token",
	      (long)(first_expiry - when));

	/* The endpoint fails from now on: the credentials in hand serve until they expire... */
	control("fail=container", NULL);
	c = aws_cred_provider_current(p);
	time_t expiry = c ? c->expiration : 0;
	unsigned long failed0 = aws_cred_provider_stats(p)->failures;
	double end = now_ms() + (EXPIRES + 2) * 1000.0;
	bool served_while_failing = false;
	while (now_ms() < end && time(NULL) < expiry - EXPIRY_SKEW_S - 1) {
		run_for_ms(200);
		if (aws_cred_provider_stats(p)->failures > failed0 && aws_cred_provider_current(p))
			served_while_failing = true;
	}
	CHECK(served_while_failing, "container: after a failed refresh the valid credentials still serve (%lu failures)",
	      aws_cred_provider_stats(p)->failures - failed0);
	while (now_ms() < end && time(NULL) < expiry - EXPIRY_SKEW_S)
		run_for_ms(200);
	run_for_ms(300);
	CHECK(aws_cred_provider_current(p) == NULL, "container: ...and not one second past their expiry");
	/* ...and the provider recovers by itself once the endpoint does. */
	control("fail=", NULL);
	unsigned long ok = aws_cred_provider_stats(p)->successes;
	CHECK(run_until_successes(p, ok + 1, 5000) && aws_cred_provider_current(p),
	      "container: recovered by the backoff retries");
	aws_cred_provider_free(p);

	/* A wrong token: the endpoint refuses, nothing is handed out, no fall-through to IMDS. */
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-the-token", 1);
	p = provider();
	CHECK(p && aws_cred_provider_wait(p, 3000) != 0 && !aws_cred_provider_current(p) &&
	      aws_cred_provider_stats(p)->failures == 1 && aws_cred_provider_source(p) == AWS_CRED_CONTAINER,
	      "container: a refused token gives no credentials and no other source");
	aws_cred_provider_free(p);
	clear_env();
}

static void test_web_identity(void)
{
	clear_env();
	char url[128], file[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/sts", creds_double.port);
	snprintf(file, sizeof file, "%s/web-identity-token", tmpdir);
	const char *jwt1 = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bWNwZ2F0ZTpkYXRhIn0.c2lnLTE";
	const char *jwt2 = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bWNwZ2F0ZTpkYXRhIn0.c2lnLTI";
	write_file(file, jwt1);
	char q[512];
	snprintf(q, sizeof q, "webIdentityToken=%s", jwt1);
	control(q, NULL);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", file, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/mcpgate-test", 1);
	setenv("AWS_ROLE_SESSION_NAME", "mcpgate-unit", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	struct aws_cred_provider *p = provider();
	CHECK(p && aws_cred_provider_source(p) == AWS_CRED_WEB_IDENTITY, "web identity chosen");
	if (!p)
		return;
	CHECK(aws_cred_provider_wait(p, 5000) == 0, "web identity: AssumeRoleWithWebIdentity answered");
	const struct aws_credentials *c = aws_cred_provider_current(p);
	CHECK(c && strncmp(c->access_key_id, "ASIASTS", 7) == 0 && strncmp(c->session_token, "doubletokenSTS", 14) == 0,
	      "web identity: credentials from the XML");
	time_t first_expiry = c ? c->expiration : 0;
	write_file(file, jwt2); /* the kubelet rotates the projected token */
	snprintf(q, sizeof q, "webIdentityToken=%s", jwt2);
	control(q, NULL);
	bool refreshed = run_until_successes(p, 2, (EXPIRES + 2) * 1000);
	time_t when = time(NULL);
	CHECK(refreshed && when < first_expiry - EXPIRY_SKEW_S, "web identity: refreshed %lds before expiry with the rotated token",
	      (long)(first_expiry - when));
	aws_cred_provider_free(p);

	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/someone-else", 1);
	p = provider();
	CHECK(p && aws_cred_provider_wait(p, 3000) != 0 && !aws_cred_provider_current(p),
	      "web identity: STS AccessDenied gives no credentials");
	aws_cred_provider_free(p);
	clear_env();
}

/* The hot path: _current never waits for the network, and the loop keeps serving others. */
static int ticks;
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ticks++;
}

static void test_never_blocks(void)
{
	clear_env();
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/container/creds", creds_double.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token-3", 1);
	control("containerToken=container-auth-token-3&delayMs=1500", NULL);
	struct aws_cred_provider *p = provider();
	if (!p) {
		CHECK(p, "provider for the slow endpoint");
		return;
	}
	double t0 = now_ms();
	const struct aws_credentials *c = aws_cred_provider_current(p);
	double took = now_ms() - t0;
	CHECK(!c && took < 100 && aws_cred_provider_stats(p)->attempts == 1,
	      "current() starts the fetch and returns at once (%.1f ms) with an endpoint taking 1.5 s", took);
	struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval tv = { 0, 100 * 1000 };
	event_add(tick, &tv);
	ticks = 0;
	bool got = run_until_successes(p, 1, 5000);
	event_free(tick);
	CHECK(got && ticks >= 10 && aws_cred_provider_current(p), "the loop kept running (%d ticks of 100 ms) while it fetched",
	      ticks);
	control("delayMs=0", NULL);
	aws_cred_provider_free(p);
	clear_env();
}

/* ---- no secret reaches the log ---- */

static void check_log(const struct log_capture *capture)
{
	size_t n;
	char *log = log_capture_read(capture, 1 << 20, &n);
	static const char *const secrets[] = { "doublesecret", "doubletoken", "container-auth-token",
	                                       "eyJhbGci", "wJalrXUtnFEMI", "envtoken" };
	bool clean = log_holds_none(log, secrets, sizeof secrets / sizeof secrets[0]);
	CHECK(n > 0 && strstr(log, "aws_credentials_fetched") && strstr(log, "aws_credentials_fetch_failed"),
	      "the log records fetches and failures (%zu bytes)", n);
	CHECK(strstr(log, "\"AccessDenied\"") != NULL, "STS error code logged for the operator");
	CHECK(clean, "no secret, session token, authorization token or web identity token in the log");
	free(log);
}

int main(int argc, char **argv)
{
	/* Everything the library logs goes to a file, read back at the end. */
	struct log_capture capture;
	if (log_capture_test_begin(argc, argv, "test_credentials", tmpdir, &capture) != 0)
		return 2;

	base = event_base_new();
	http = aws_http_new(base);
	CHECK(base && http, "event loop and HTTP client");
	test_expiration();
	test_sts_xml();
	test_full_uri();
	test_endpoints();
	test_environment_source();

	int started = node_double_start(&creds_double, argv[1], "aws-doubles.mjs");
	if (started == 77) {
		printf("SKIP: node is not installed; the loopback tests need it\n");
	} else {
		CHECK(started == 0, "doubles listening on 127.0.0.1:%d", creds_double.port);
	}
	if (started == 0) {
		test_doubles_enforce();
		test_imds();
		test_container();
		test_web_identity();
		test_never_blocks();
		node_double_stop(&creds_double);
		check_log(&capture);
	}
	aws_http_free(http);
	event_base_free(base);
	curl_global_cleanup();
	log_capture_stop(&capture);
	log_capture_remove(&capture);
	char path[256];
	snprintf(path, sizeof path, "%s/container-token", tmpdir);
	unlink(path);
	snprintf(path, sizeof path, "%s/web-identity-token", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	if (check_finish())
		return 1;
	return started == 77 ? 77 : 0;
}
