/* Tests of the AWS service-call client: the pure parts (URI encoding, error parsing, retry
 * classification, backoff, endpoint splitting), then calls against a loopback double of a
 * service (tests/fixtures/aws-service-double.mjs) that verifies every request's SigV4 signature:
 * retries and their limits, the retry quota, errors of every protocol, timeouts, streaming,
 * cancellation, calls parked until credentials arrive (tests/fixtures/aws-doubles.mjs serves
 * them), and no secret in the log. argv[1]: the project's source root. */
#include <curl/curl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/aws/service.c"

#include "check.h"
#include "log_capture.h"
#include "node_double.h"

#define KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SESSION_TOKEN "svc-test-session-token-Zq9+/="

static struct event_base *base;
static char tmpdir[] = "/tmp/mcpgate-test-aws-service-XXXXXX";

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_DISABLED", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_MAX_ATTEMPTS", "AWS_CA_BUNDLE",
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

/* ---- the doubles ---- */

static struct node_double service_double = NODE_DOUBLE_INIT, creds_double = NODE_DOUBLE_INIT;

struct text {
	char *p;
	size_t len, cap;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct text *t = arg;
	size_t n = size * nmemb;
	if (t->len + n < t->cap) {
		memcpy(t->p + t->len, data, n);
		t->len += n;
		t->p[t->len] = '\0';
	}
	return n;
}

/* A plain blocking GET to a double's control endpoint (test set-up and inspection only). */
static json_t *control(const struct node_double *d, const char *query)
{
	char url[1024];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/_control?%s", d->port, query);
	struct text t = { .cap = 1 << 20 };
	t.p = calloc(1, t.cap);
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
	long status = 0;
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	json_t *j = status == 200 ? json_loads(t.p, 0, NULL) : NULL;
	free(t.p);
	return j;
}

/* The requests the service double saw for one id. */
static json_t *requests_of(const char *id)
{
	char q[256];
	snprintf(q, sizeof q, "id=%s", id);
	return control(&service_double, q);
}

static const char *record_str(json_t *recs, size_t i, const char *key)
{
	const char *v = json_string_value(json_object_get(json_array_get(json_object_get(recs, "requests"), i), key));
	return v ? v : "";
}

static size_t record_count(json_t *recs)
{
	return json_array_size(json_object_get(recs, "requests"));
}

/* Whether every request of the id carried a valid signature. */
static bool all_signed(json_t *recs)
{
	size_t n = record_count(recs);
	for (size_t i = 0; i < n; i++)
		if (strcmp(record_str(recs, i, "sig"), "ok") != 0) {
			printf("     request %zu: %s\n", i, record_str(recs, i, "sig"));
			return false;
		}
	return n > 0;
}

/* ---- the event loop and outcomes ---- */

static void run_for_ms(int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static bool in_aws_call;

struct outcome {
	int calls;
	bool reentrant;
	bool ok;
	long status;
	unsigned attempts;
	char code[128], message[512], service[64], request_id[128], describe[700];
	char body[4096];
	size_t body_len;
	double at_ms;
};

static void on_done(const struct aws_result *r, void *arg)
{
	struct outcome *o = arg;
	o->calls++;
	o->reentrant = in_aws_call;
	o->ok = r->ok;
	o->status = r->status;
	o->attempts = r->attempts;
	o->at_ms = now_ms();
	snprintf(o->code, sizeof o->code, "%s", r->code);
	snprintf(o->message, sizeof o->message, "%s", r->message);
	snprintf(o->service, sizeof o->service, "%s", r->service ? r->service : "(null)");
	if (aws_result_header(r, "x-amzn-requestid", o->request_id, sizeof o->request_id) != 0)
		o->request_id[0] = '\0';
	aws_result_describe(r, o->describe, sizeof o->describe);
	o->body_len = r->body_len;
	snprintf(o->body, sizeof o->body, "%s", r->body ? r->body : "(null)");
}

static struct aws_op *start(struct aws_client *c, const struct aws_request *req, struct outcome *o)
{
	memset(o, 0, sizeof *o);
	in_aws_call = true;
	struct aws_op *op = aws_call(c, req, on_done, o);
	in_aws_call = false;
	return op;
}

static bool wait_for(const struct outcome *o, int max_ms)
{
	double end = now_ms() + max_ms;
	while (!o->calls && now_ms() < end)
		run_for_ms(5);
	return o->calls > 0;
}

/* Starts a call and waits for its outcome. */
static void call(struct aws_client *c, const struct aws_request *req, struct outcome *o, int max_ms)
{
	if (!start(c, req, o)) {
		o->calls = -1;
		return;
	}
	wait_for(o, max_ms);
}

static struct aws_request request(const struct aws_service *s, const char *method, const char *path,
                                  const char *query)
{
	return (struct aws_request){ .service = s, .method = method, .path = path, .query = query };
}

static struct aws_client *client(long timeout_ms)
{
	struct aws_client_options o = { .base_backoff_ms = 1, .max_backoff_ms = 20, .timeout_ms = timeout_ms,
	                                .connect_timeout_ms = 2000 };
	return aws_client_new(base, &o);
}

static void env_credentials(void)
{
	clear_env();
	char url[128];
	setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", SESSION_TOKEN, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", service_double.port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/s3/", service_double.port); /* with a base path */
	setenv("AWS_ENDPOINT_URL_S3", url, 1);
}

/* ---- pure parts ---- */

static void test_uri_encode(void)
{
	char out[256];
	struct { const char *in; bool slash; const char *want; } v[] = {
		{ "abcXYZ019-._~", false, "abcXYZ019-._~" },
		{ "a b+c=d&e", false, "a%20b%2Bc%3Dd%26e" },
		{ "photos/2024/a b.jpg", true, "photos/2024/a%20b.jpg" },
		{ "photos/2024", false, "photos%2F2024" },
		{ "anthropic.claude-v2:1", false, "anthropic.claude-v2%3A1" },
		{ "caf\xc3\xa9", false, "caf%C3%A9" },
		{ "%41*", false, "%2541%2A" },
		{ "", false, "" },
	};
	bool all = true;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int n = aws_uri_encode(v[i].in, strlen(v[i].in), v[i].slash, out, sizeof out);
		if (n != (int)strlen(v[i].want) || strcmp(out, v[i].want) != 0) {
			printf("     %s -> %s (%d)\n", v[i].in, out, n);
			all = false;
		}
	}
	CHECK(all, "aws_uri_encode: %zu vectors (unreserved kept, '/' only with keep_slash, UTF-8 bytes)",
	      sizeof v / sizeof v[0]);
	char nul_in[3] = { 'a', '\0', 'b' };
	CHECK(aws_uri_encode(nul_in, 3, false, out, sizeof out) == 5 && memcmp(out, "a%00b", 6) == 0,
	      "aws_uri_encode: a NUL byte inside the input is encoded, not an end");
	CHECK(aws_uri_encode("a b", 3, false, out, 5) == -1 && aws_uri_encode("a b", 3, false, out, 6) == 5,
	      "aws_uri_encode: -1 when it does not fit (NUL counted)");
}

struct parse_vector {
	const char *name;
	const char *body;
	const char *header;
	int rc;
	const char *code, *message;
};

static void test_error_parse(void)
{
	static const struct parse_vector v[] = {
		{ "JSON __type with namespace", "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
		  "\"message\":\"Requested resource not found\"}", NULL, 0, "ResourceNotFoundException", "Requested resource not found" },
		{ "JSON code and Message", "{\"code\":\"ValidationException\",\"Message\":\"bad\"}", NULL, 0, "ValidationException", "bad" },
		{ "JSON __type with namespace and URL", "{\"__type\":\"aws.x#FooError:http://internal.amazon.com/x/\"}", NULL, 0,
		  "FooError", "" },
		{ "header wins, cut at ':'", "{\"code\":\"Other\",\"message\":\"m\"}",
		  "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.lambda/", 0, "ResourceNotFoundException", "m" },
		{ "header only", "", "  ThrottlingException ", 0, "ThrottlingException", "" },
		{ "S3 XML", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key "
		  "does not exist.</Message><Key>k</Key></Error>", NULL, 0, "NoSuchKey", "The specified key does not exist." },
		{ "query XML ErrorResponse", "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
		  "</Type><Code>AccessDenied</Code><Message>Not authorized</Message></Error></ErrorResponse>", NULL, 0,
		  "AccessDenied", "Not authorized" },
		{ "EC2 XML Response/Errors/Error", "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow</Message>"
		  "</Error></Errors></Response>", NULL, 0, "RequestLimitExceeded", "slow" },
		{ "XML entities and CDATA", "<Error><Code>A&amp;B</Code><Message><![CDATA[x < y]]> &lt;ok&gt;</Message></Error>", NULL, 0,
		  "A_B", "x < y <ok>" },
		{ "control bytes in a message", "{\"code\":\"X\",\"message\":\"line1\\nline2\\u0007\\t!\"}", NULL, 0, "X", "line1 line2  !" },
		{ "XML cut after its Code", "<Error><Code>SlowDown</Code><Message>Please", NULL, 0, "SlowDown", "" },
		{ "XML with a DOCTYPE refused", "<!DOCTYPE e [<!ENTITY a \"x\">]><Error><Code>&a;</Code></Error>", NULL, -1, "", "" },
		{ "Code nested too deep ignored", "<a><b><c><Error><Code>Deep</Code></Error></c></b></a>", NULL, -1, "", "" },
		{ "malformed JSON", "{\"__type\":\"X\"", NULL, -1, "", "" },
		{ "JSON not an object", "[\"__type\",\"X\"]", NULL, -1, "", "" },
		{ "JSON code not a string", "{\"__type\":42,\"message\":\"m\"}", NULL, -1, "", "" },
		{ "empty code", "{\"__type\":\"ns#\",\"message\":\"m\"}", NULL, -1, "", "" },
		{ "HTML body", "<html><body>502 Bad Gateway</body></html>", NULL, -1, "", "" },
		{ "plain text", "Service Unavailable", NULL, -1, "", "" },
		{ "empty", "", NULL, -1, "", "" },
		{ "odd bytes in a code", "{\"code\":\"Bad Code/\\u00e9\"}", NULL, 0, "Bad_Code___", "" },
		{ "duplicate keys refused", "{\"code\":\"A\",\"code\":\"B\"}", NULL, -1, "", "" },
		{ "leading BOM and blanks", "\xef\xbb\xbf \n{\"__type\":\"X\"}", NULL, 0, "X", "" },
	};
	bool all = true;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char code[128] = "junk", message[512] = "junk";
		int rc = aws_error_parse(v[i].body, strlen(v[i].body), v[i].header, code, sizeof code, message, sizeof message);
		if (rc != v[i].rc || strcmp(code, v[i].code) != 0 || strcmp(message, v[i].message) != 0) {
			printf("     %s: rc %d code '%s' message '%s'\n", v[i].name, rc, code, message);
			all = false;
		}
	}
	CHECK(all, "aws_error_parse: %zu vectors (JSON, XML, header, malformed)", sizeof v / sizeof v[0]);

	/* A message longer than its buffer is cut on a character boundary. */
	char body[2048], code[16], message[12], cut[11];
	snprintf(body, sizeof body, "{\"__type\":\"ns#AVeryLongErrorCodeName\",\"message\":\"abcdefghi\xc3\xa9z\"}");
	int rc = aws_error_parse(body, strlen(body), NULL, code, sizeof code, cut, sizeof cut);
	CHECK(rc == 0 && strcmp(code, "AVeryLongErrorC") == 0 && strcmp(cut, "abcdefghi") == 0,
	      "aws_error_parse: code and message cut to their buffers, never inside a character ('%s', '%s')", code,
	      cut);
	/* Bodies over 64 KiB: the first 64 KiB are parsed, the rest never read. */
	size_t big = 200 * 1024;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	const char *head = "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message>";
	memcpy(huge, head, strlen(head));
	rc = aws_error_parse(huge, big, NULL, code, sizeof code, message, sizeof message);
	CHECK(rc == 0 && strcmp(code, "InternalError") == 0, "aws_error_parse: a 200 KiB body is parsed in its first 64 KiB");
	free(huge);
	char tiny[1] = "x";
	CHECK(aws_error_parse(NULL, 0, NULL, tiny, 1, tiny, 1) == -1 && tiny[0] == '\0',
	      "aws_error_parse: NULL body, one-byte buffers");

	/* An internal parse keeps the message when no code was found (the caller derives one). */
	const char *apigw = "{\"message\":\"Missing Authentication Token\"}";
	CHECK(parse_error(apigw, strlen(apigw), NULL, code, sizeof code, message, sizeof message) == -1 &&
	      strcmp(message, "Missing Aut") == 0, "message kept for the caller when only the status names the error");
}

static void test_retry_rules(void)
{
	const char *throttles[] = { "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	                            "TooManyRequestsException", "ProvisionedThroughputExceededException",
	                            "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
	                            "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	                            "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException", "InternalError",
	                            "InternalFailure", "ServiceUnavailable" };
	bool all = true;
	for (size_t i = 0; i < sizeof throttles / sizeof throttles[0]; i++)
		if (!aws_error_retryable(400, throttles[i], 0)) {
			printf("     not retried: %s\n", throttles[i]);
			all = false;
		}
	CHECK(all, "throttling and transient codes are retried even on a 400");
	CHECK(aws_error_retryable(500, "ServiceError", 0) && aws_error_retryable(502, "X", 0) &&
	      aws_error_retryable(503, "X", 0) && aws_error_retryable(504, "X", 0) && aws_error_retryable(429, "X", 0),
	      "500, 502, 503, 504 and 429 are retried");
	CHECK(!aws_error_retryable(501, "NotImplemented", 0) && !aws_error_retryable(400, "ValidationException", 0) &&
	      !aws_error_retryable(404, "NoSuchKey", 0) && !aws_error_retryable(403, "AccessDenied", 0),
	      "501, validation, missing keys and access denials are not retried");
	CHECK(aws_error_retryable(0, "Timeout", CURLE_OPERATION_TIMEDOUT) &&
	      aws_error_retryable(0, "ConnectionFailed", CURLE_COULDNT_CONNECT) &&
	      aws_error_retryable(0, "ConnectionFailed", CURLE_RECV_ERROR),
	      "timeouts and dropped connections are retried");
	CHECK(!aws_error_retryable(0, "ResponseTooLarge", CURLE_FILESIZE_EXCEEDED) &&
	      !aws_error_retryable(0, "CredentialsUnavailable", 0) && !aws_error_retryable(200, "StreamAborted", CURLE_WRITE_ERROR) &&
	      !aws_error_retryable(0, "ConnectionFailed", CURLE_PEER_FAILED_VERIFICATION) &&
	      !aws_error_retryable(0, "ConnectionFailed", CURLE_SSL_CACERT_BADFILE),
	      "too large, no credentials, an aborted stream and certificate failures are not retried");

	struct aws_client fake = { .base_backoff_ms = 100, .max_backoff_ms = 20000 };
	long max0 = 0, max2 = 0, max20 = 0, min20 = LONG_MAX;
	bool in_range = true;
	for (int i = 0; i < 2000; i++) {
		long a = backoff_ms(&fake, 0), b = backoff_ms(&fake, 2), d = backoff_ms(&fake, 20);
		in_range = in_range && a >= 0 && a <= 100 && b >= 0 && b <= 400 && d >= 0 && d <= 20000;
		max0 = a > max0 ? a : max0;
		max2 = b > max2 ? b : max2;
		max20 = d > max20 ? d : max20;
		min20 = d < min20 ? d : min20;
	}
	CHECK(in_range && max0 > 80 && max2 > 300 && max20 > 15000 && min20 < 5000,
	      "backoff: full jitter within base*2^n, capped at the maximum (seen %ld, %ld, %ld..%ld)", max0, max2,
	      min20, max20);
	char text[6];
	copy_text(text, sizeof text, "ab\xff\x01z", 5);
	CHECK(strcmp(text, "ab? z") == 0, "text from outside: bad UTF-8 becomes '?', control bytes spaces ('%s')", text);
}

static void test_endpoint_split(void)
{
	struct { const char *url; int rc; const char *host, *path; } v[] = {
		{ "https://s3.us-east-1.amazonaws.com", 0, "s3.us-east-1.amazonaws.com", "" },
		{ "https://s3.us-east-1.amazonaws.com:443", 0, "s3.us-east-1.amazonaws.com", "" },
		{ "http://127.0.0.1:4566", 0, "127.0.0.1:4566", "" },
		{ "http://localhost:80/base", 0, "localhost", "/base" },
		{ "https://[::1]:8443/a/b", 0, "[::1]:8443", "/a/b" },
		{ "http://[::1]:80", 0, "[::1]", "" },
		{ "http://user@host", -1, "", "" },
		{ "http://host/x?y=1", -1, "", "" },
		{ "ftp://host", -1, "", "" },
	};
	bool all = true;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char host[HOST_MAX] = "";
		const char *path = "";
		int rc = split_endpoint(v[i].url, host, sizeof host, &path);
		if (rc != v[i].rc || (rc == 0 && (strcmp(host, v[i].host) != 0 || strcmp(path, v[i].path) != 0))) {
			printf("     %s: rc %d host '%s' path '%s'\n", v[i].url, rc, host, path);
			all = false;
		}
	}
	CHECK(all, "endpoint: Host keeps a port only when it is not the scheme's; base path kept; odd forms refused");

	struct aws_result r = { .headers = "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nx-amzn-RequestId:  abc-1 \r\n"
	                                   "X-Long: 0123456789\r\nlast: no-newline", };
	r.headers_len = strlen(r.headers);
	char v1[32], v2[32], v3[8], v4[32];
	CHECK(aws_result_header(&r, "X-AMZN-REQUESTID", v1, sizeof v1) == 0 && strcmp(v1, "abc-1") == 0 &&
	      aws_result_header(&r, "content-type", v2, sizeof v2) == 0 && strcmp(v2, "a/b") == 0 &&
	      aws_result_header(&r, "x-long", v3, sizeof v3) == -1 && aws_result_header(&r, "missing", v4, sizeof v4) == -1 &&
	      aws_result_header(&r, "Content", v4, sizeof v4) == -1 && aws_result_header(&r, "last", v4, sizeof v4) == 0 &&
	      strcmp(v4, "no-newline") == 0,
	      "aws_result_header: case-insensitive, trimmed, -1 when absent, a prefix or too long");
	struct aws_result e = { .service = "S3", .code = "NoSuchKey", .message = "The specified key does not exist." };
	char d[128], small[12];
	aws_result_describe(&e, d, sizeof d);
	struct aws_result e2 = { .service = "DynamoDB", .code = "ServiceError" };
	char d2[64];
	aws_result_describe(&e2, d2, sizeof d2);
	struct aws_result e3 = { .service = "S3", .code = "X", .message = "abc\xc3\xa9" };
	aws_result_describe(&e3, small, sizeof small);
	CHECK(strcmp(d, "S3: NoSuchKey: The specified key does not exist.") == 0 && strcmp(d2, "DynamoDB: ServiceError") == 0 &&
	      strcmp(small, "S3: X: abc") == 0, "aws_result_describe: '%s', '%s', cut on a character: '%s'", d, d2, small);
}

/* ---- no region, no credentials: told through the callback, from the loop ---- */

static void test_unavailable(void)
{
	clear_env();
	setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	struct aws_client *c = client(0);
	const char *why = c ? aws_client_unavailable(c) : NULL;
	CHECK(c && why && strstr(why, "AWS_REGION") && aws_client_region(c)[0] == '\0',
	      "no region: aws_client_unavailable says to set AWS_REGION (%s)", why ? why : "NULL");
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", NULL);
	struct outcome o;
	struct aws_op *op = c ? start(c, &req, &o) : NULL;
	bool sync = o.calls != 0;
	wait_for(&o, 1000);
	CHECK(op && !sync && o.calls == 1 && !o.reentrant && !o.ok && strcmp(o.code, "NoRegion") == 0 &&
	      strstr(o.message, "AWS_REGION") && o.attempts == 0 && strcmp(o.service, "DynamoDB") == 0,
	      "no region: the call ends with NoRegion from the loop, not inside aws_call (%s)", o.describe);
	aws_client_free(c);

	clear_env();
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	c = client(0);
	why = c ? aws_client_unavailable(c) : NULL;
	CHECK(c && why && strstr(why, "AWS_ACCESS_KEY_ID") && strcmp(aws_client_region(c), "eu-west-1") == 0,
	      "no credentials: aws_client_unavailable names what to set (%s)", why ? why : "NULL");
	op = c ? start(c, &req, &o) : NULL;
	sync = o.calls != 0;
	wait_for(&o, 1000);
	CHECK(op && !sync && o.calls == 1 && !o.reentrant && strcmp(o.code, "CredentialsUnavailable") == 0 &&
	      strstr(o.message, "AWS_ACCESS_KEY_ID"), "no credentials: CredentialsUnavailable from the loop (%s)", o.describe);
	aws_client_free(c);

	clear_env();
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1); /* without its secret: a configuration error */
	c = client(0);
	op = c ? start(c, &req, &o) : NULL;
	wait_for(&o, 1000);
	CHECK(c && aws_client_credentials(c) == NULL && op && strcmp(o.code, "CredentialsUnavailable") == 0 &&
	      strstr(o.message, "invalid"), "malformed credential settings: the client still works, calls say why");
	aws_client_free(c);

	clear_env();
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "not a url", 1);
	c = client(0);
	op = c ? start(c, &req, &o) : NULL;
	wait_for(&o, 1000);
	CHECK(c && aws_client_unavailable(c) == NULL && op && !o.reentrant && strcmp(o.code, "InvalidEndpoint") == 0 &&
	      strstr(o.message, "AWS_ENDPOINT_URL_DYNAMODB"), "a bad endpoint override fails the call, naming it (%s)",
	      o.describe);
	aws_client_free(c);
	clear_env();
}

static void test_invalid_requests(void)
{
	clear_env();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	struct aws_client *c = client(0);
	struct outcome o;
	struct sigv4_header auth[] = { { "Authorization", "x" } };
	struct sigv4_header crlf[] = { { "x-amz-meta-a", "b\r\nInjected: 1" } };
	struct aws_request bad[] = {
		request(&AWS_S3, "GET", "bucket/key", NULL),
		request(&AWS_S3, "FETCH", "/bucket", NULL),
		request(&AWS_S3, "GET", "/bucket/a b", NULL),
		request(&AWS_S3, "GET", "/bucket/k?x", NULL),
		request(&AWS_S3, "GET", "/bucket", "a=b#frag"),
		request(NULL, "GET", "/", NULL),
		{ .service = &AWS_S3, .method = "GET", .path = "/b", .headers = auth, .n_headers = 1 },
		{ .service = &AWS_S3, .method = "PUT", .path = "/b", .headers = crlf, .n_headers = 1 },
		{ .service = &AWS_S3, .method = "GET", .path = "/b", .body = "x", .body_len = 1 },
		{ .service = &AWS_S3, .method = "PUT", .path = "/b", .body = NULL, .body_len = 3 },
	};
	int refused = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused += c && start(c, &bad[i], &o) == NULL;
	CHECK(refused == (int)(sizeof bad / sizeof bad[0]) && o.calls == 0,
	      "malformed requests (%d of %zu) are refused with NULL and no callback", refused, sizeof bad / sizeof bad[0]);
	CHECK(c && aws_call_json(c, &AWS_DYNAMODB, "2.0", "X.Y", NULL, 0, on_done, &o) == NULL,
	      "aws_call_json: an unknown protocol version is refused");
	aws_client_free(c);
}

/* ---- against the service double ---- */

static void test_signed_calls(void)
{
	env_credentials();
	struct aws_client *c = client(5000);
	CHECK(c && aws_client_unavailable(c) == NULL, "client with environment credentials is ready");
	if (!c)
		return;
	struct outcome o;
	const char body[] = "{\"prompt\":\"hi\"}";
	struct sigv4_header ct[] = { { "Content-Type", "application/json" }, { "Accept", "application/json" } };
	struct aws_request req = {
		.service = &AWS_BEDROCK_RUNTIME, .method = "POST", .path = "/model/anthropic.claude-v2%3A1/invoke",
		.query = "s=echo&id=bedrock", .headers = ct, .n_headers = 2, .body = body, .body_len = strlen(body),
	};
	call(c, &req, &o, 5000);
	json_t *r = requests_of("bedrock");
	char host[64];
	snprintf(host, sizeof host, "127.0.0.1:%d", service_double.port);
	CHECK(o.calls == 1 && o.ok && o.status == 200 && o.attempts == 1 && strcmp(o.body, "{\"n\":1}") == 0 &&
	      strcmp(o.request_id, "req-bedrock-1") == 0, "Bedrock Runtime: 200 answered, body and x-amzn-RequestId (%s)",
	      o.describe);
	CHECK(record_count(r) == 1 && all_signed(r) && strcmp(record_str(r, 0, "host"), host) == 0 &&
	      strcmp(record_str(r, 0, "path"), "/model/anthropic.claude-v2%3A1/invoke") == 0 &&
	      strstr(record_str(r, 0, "authorization"), "/us-east-1/bedrock/aws4_request") &&
	      strcmp(record_str(r, 0, "token"), SESSION_TOKEN) == 0,
	      "the double verified the signature (path encoded twice, scope bedrock, Host %s, token sent)", host);
	json_decref(r);

	/* S3: the endpoint's base path goes into the signed path, the body hash is sent. */
	const char data[] = "hello world";
	struct aws_request put = {
		.service = &AWS_S3, .method = "PUT", .path = "/bucket/dir/my%20key.txt", .query = "s=echo&id=s3put",
		.body = data, .body_len = strlen(data),
	};
	call(c, &put, &o, 5000);
	r = requests_of("s3put");
	char hash[SIGV4_HEX_LEN + 1];
	sigv4_sha256_hex(data, strlen(data), hash);
	CHECK(o.ok && record_count(r) == 1 && all_signed(r) &&
	      strcmp(record_str(r, 0, "path"), "/s3/bucket/dir/my%20key.txt") == 0 &&
	      strcmp(record_str(r, 0, "contentSha256"), hash) == 0 && strcmp(record_str(r, 0, "bodySha256"), hash) == 0 &&
	      strcmp(record_str(r, 0, "contentType"), "") == 0,
	      "S3 PUT: base path signed, x-amz-content-sha256 is the body's hash, no form content type");
	json_decref(r);

	/* The JSON protocols. */
	json_t *jbody = json_pack("{s:s, s:s}", "id", "json1", "TableName", "t");
	struct aws_op *op;
	memset(&o, 0, sizeof o);
	in_aws_call = true;
	op = aws_call_json(c, &AWS_DYNAMODB, "1.0", "DynamoDB_20120810.echo", jbody, 0, on_done, &o);
	in_aws_call = false;
	json_decref(jbody);
	wait_for(&o, 5000);
	r = requests_of("json1");
	CHECK(op && o.ok && record_count(r) == 1 && all_signed(r) && strcmp(record_str(r, 0, "method"), "POST") == 0 &&
	      strcmp(record_str(r, 0, "path"), "/") == 0 &&
	      strcmp(record_str(r, 0, "contentType"), "application/x-amz-json-1.0") == 0 &&
	      strcmp(record_str(r, 0, "target"), "DynamoDB_20120810.echo") == 0,
	      "aws_call_json: POST / with application/x-amz-json-1.0 and X-Amz-Target, signed");
	json_decref(r);

	/* The double's check can fail: with the secret it knows changed, the same call is refused. */
	json_decref(control(&service_double, "key=" KEY_ID "&secret=not-the-secret"));
	req.query = "s=echo&id=badsig";
	call(c, &req, &o, 5000);
	r = requests_of("badsig");
	CHECK(record_count(r) == 1 && strcmp(record_str(r, 0, "sig"), "signature mismatch") == 0,
	      "the double notices a signature made with another secret (%s)", record_str(r, 0, "sig"));
	json_decref(r);
	json_decref(control(&service_double, "key=" KEY_ID "&secret=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY"));

	/* Several at once, each its own answer. */
	struct outcome many[8];
	char queries[8][64];
	int started = 0;
	for (int i = 0; i < 8; i++) {
		snprintf(queries[i], sizeof queries[i], "s=echo&id=many%d", i);
		struct aws_request q = request(&AWS_SQS, "GET", "/", queries[i]);
		started += start(c, &q, &many[i]) != NULL;
	}
	double end = now_ms() + 5000;
	int done = 0;
	while (done < 8 && now_ms() < end) {
		run_for_ms(5);
		done = 0;
		for (int i = 0; i < 8; i++)
			done += many[i].calls == 1 && many[i].ok;
	}
	CHECK(started == 8 && done == 8, "8 concurrent calls all answered (%d)", done);
	aws_client_free(c);
}

static void test_retries(void)
{
	env_credentials();
	struct aws_client *c = client(5000);
	if (!c)
		return;
	struct outcome o;
	json_t *jbody = json_pack("{s:s}", "id", "thr1");
	memset(&o, 0, sizeof o);
	aws_call_json(c, &AWS_DYNAMODB, "1.0", "DynamoDB_20120810.throttle-then-ok", jbody, 0, on_done, &o);
	json_decref(jbody);
	wait_for(&o, 5000);
	json_t *r = requests_of("thr1");
	CHECK(o.calls == 1 && o.ok && o.attempts == 3 && strcmp(o.request_id, "req-thr1-3") == 0 &&
	      strstr(o.body, "\"n\":3"), "ThrottlingException (400 JSON), SlowDown (503 XML), then 200: ok after %u attempts, "
	      "headers of the last response (%s)", o.attempts, o.request_id);
	CHECK(record_count(r) == 3 && all_signed(r), "each of the 3 attempts carried a valid signature");
	CHECK(c->quota == QUOTA_MAX - RETRY_COST, "on success the last retry's tokens came back, not the first's (%d)",
	      c->quota);
	json_decref(r);
	int quota0 = c->quota;

	struct aws_request req = request(&AWS_SQS, "GET", "/", "s=always-500&id=f500");
	call(c, &req, &o, 5000);
	r = requests_of("f500");
	CHECK(o.calls == 1 && !o.ok && o.status == 500 && o.attempts == 3 && strcmp(o.code, "ServiceError") == 0 &&
	      record_count(r) == 3, "always 500: surfaces after 3 attempts as ServiceError (%s)", o.describe);
	CHECK(c->quota == quota0 - 2 * RETRY_COST, "two retries took %d tokens from the quota", quota0 - c->quota);
	json_decref(r);

	/* A request that must not run twice: a 500 may come after the work was done, so it
	 * surfaces at once; throttling means it was turned away, so it is retried. */
	req = request(&AWS_LAMBDA, "GET", "/", "s=always-500&id=once500");
	req.not_idempotent = true;
	call(c, &req, &o, 5000);
	r = requests_of("once500");
	CHECK(o.calls == 1 && !o.ok && o.attempts == 1 && record_count(r) == 1,
	      "not idempotent: a 500 is not retried (%u attempts)", o.attempts);
	json_decref(r);
	req = request(&AWS_LAMBDA, "GET", "/", "s=throttle-then-ok&id=oncethr");
	req.not_idempotent = true;
	call(c, &req, &o, 5000);
	CHECK(o.calls == 1 && o.ok && o.attempts == 3,
	      "not idempotent: throttling (ThrottlingException, SlowDown) is still retried (%u attempts)", o.attempts);

	req = request(&AWS_DYNAMODB, "GET", "/", "s=validation&id=val1");
	call(c, &req, &o, 5000);
	CHECK(o.calls == 1 && o.attempts == 1 && o.status == 400 && strcmp(o.code, "ValidationException") == 0 &&
	      strcmp(o.message, "1 validation error detected: Value at 'x' failed") == 0,
	      "a namespaced JSON ValidationException: not retried, code and message (%s)", o.describe);

	req = request(&AWS_S3, "GET", "/bucket/missing", "s=nosuchkey&id=nsk1");
	call(c, &req, &o, 5000);
	CHECK(o.attempts == 1 && o.status == 404 && strcmp(o.code, "NoSuchKey") == 0 &&
	      strcmp(o.describe, "S3: NoSuchKey: The specified key does not exist.") == 0, "S3 XML NoSuchKey: %s", o.describe);

	req = request(&AWS_S3, "HEAD", "/bucket/missing", "s=nosuchkey&id=nsk2");
	call(c, &req, &o, 5000);
	CHECK(o.attempts == 1 && !o.ok && strcmp(o.code, "NotFound") == 0, "HEAD 404 without a body: code from the status (%s)",
	      o.describe);
	static const long accept_404[] = { 404, 0 };
	req.accept_status = accept_404;
	req.query = "s=nosuchkey&id=nsk3";
	call(c, &req, &o, 5000);
	CHECK(o.ok && o.status == 404 && o.attempts == 1 && !o.code[0], "HEAD 404 accepted as an answer when asked");

	req = request(&AWS_LAMBDA, "POST", "/2015-03-31/functions/nope/invocations", "s=error-header&id=hdr1");
	call(c, &req, &o, 5000);
	CHECK(o.attempts == 1 && strcmp(o.code, "ResourceNotFoundException") == 0 &&
	      strncmp(o.message, "Function not found: arn:aws:lambda", 34) == 0,
	      "x-amzn-ErrorType header: code cut at ':', message from the body (%s)", o.describe);

	req = request(&AWS_SQS, "POST", "/", "s=query-error&id=sqs1");
	call(c, &req, &o, 5000);
	CHECK(strcmp(o.code, "AWS.SimpleQueueService.NonExistentQueue") == 0 && o.attempts == 1,
	      "query-protocol ErrorResponse: %s", o.describe);

	req = request(&AWS_STS, "GET", "/", "s=bare-403&id=f403");
	call(c, &req, &o, 5000);
	CHECK(strcmp(o.code, "AccessDenied") == 0 && strcmp(o.message, "HTTP 403") == 0 && o.attempts == 1,
	      "a bare 403: AccessDenied from the status (%s)", o.describe);

	req = request(&AWS_S3, "GET", "/bucket/big", "s=big&id=big1");
	call(c, &req, &o, 5000);
	CHECK(strcmp(o.code, "ResponseTooLarge") == 0 && o.attempts == 1, "a 2 MiB answer over the 1 MiB limit: %s, not retried",
	      o.describe);
	aws_client_free(c);

	setenv("AWS_MAX_ATTEMPTS", "5", 1);
	c = client(5000);
	req = request(&AWS_SQS, "GET", "/", "s=always-500&id=f500b");
	call(c, &req, &o, 5000);
	CHECK(c && c->max_attempts == 5 && o.attempts == 5, "AWS_MAX_ATTEMPTS=5: %u attempts", o.attempts);
	aws_client_free(c);
	setenv("AWS_MAX_ATTEMPTS", "0", 1);
	c = client(5000);
	CHECK(c && c->max_attempts == 3, "AWS_MAX_ATTEMPTS=0 ignored (logged)");
	aws_client_free(c);
	unsetenv("AWS_MAX_ATTEMPTS");
}

/* The quota: 500 tokens, 5 per retry. 50 failing calls of 3 attempts spend them all; the
 * next failing call is tried once. */
static void test_quota(void)
{
	env_credentials();
	struct aws_client *c = client(5000);
	if (!c)
		return;
	struct outcome o;
	char q[64];
	int full = 0;
	for (int i = 0; i < 50; i++) {
		snprintf(q, sizeof q, "s=always-500&id=quota%d", i);
		struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", q);
		call(c, &req, &o, 5000);
		full += o.attempts == 3;
	}
	CHECK(full == 50 && c->quota == 0, "50 failing calls retried twice each: quota spent (%d left)", c->quota);
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", "s=always-500&id=quota-last");
	call(c, &req, &o, 5000);
	json_t *r = requests_of("quota-last");
	CHECK(o.attempts == 1 && strcmp(o.code, "ServiceError") == 0 && record_count(r) == 1,
	      "with the quota spent a failing service is not retried (%u attempt)", o.attempts);
	json_decref(r);
	req = request(&AWS_DYNAMODB, "GET", "/", "s=echo&id=quota-ok");
	call(c, &req, &o, 5000);
	CHECK(o.ok && c->quota == SUCCESS_REFUND, "a success puts %d token back (%d)", SUCCESS_REFUND, c->quota);
	aws_client_free(c);
}

static void test_timeouts(void)
{
	env_credentials();
	struct aws_client *c = client(300);
	if (!c)
		return;
	struct outcome o;
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", "s=slow&id=slow1&ms=3000");
	double t0 = now_ms();
	call(c, &req, &o, 5000);
	double took = now_ms() - t0;
	CHECK(o.calls == 1 && strcmp(o.code, "Timeout") == 0 && o.attempts == 3 && o.status == 0 && took < 2000,
	      "a service slower than the 300 ms timeout: Timeout after 3 attempts in %.0f ms (%s)", took, o.describe);
	CHECK(c->quota == QUOTA_MAX - 2 * TRANSPORT_RETRY_COST, "timeouts cost %d tokens each", TRANSPORT_RETRY_COST);
	aws_client_free(c);

	/* Re-signed per attempt: attempts more than a second apart carry different x-amz-date. */
	c = client(1100);
	req = request(&AWS_DYNAMODB, "GET", "/", "s=slow-then-ok&id=slow2");
	call(c, &req, &o, 5000);
	json_t *r = requests_of("slow2");
	CHECK(o.ok && o.attempts == 2 && record_count(r) == 2 && all_signed(r) &&
	      strcmp(record_str(r, 0, "amzDate"), record_str(r, 1, "amzDate")) != 0 &&
	      strcmp(record_str(r, 0, "authorization"), record_str(r, 1, "authorization")) != 0,
	      "timed out, then answered: the retry was signed afresh (%s, then %s)", record_str(r, 0, "amzDate"),
	      record_str(r, 1, "amzDate"));
	json_decref(r);

	struct aws_request per_call = request(&AWS_DYNAMODB, "GET", "/", "s=slow&id=slow3&ms=1500");
	per_call.timeout_ms = 200;
	t0 = now_ms();
	call(c, &per_call, &o, 5000);
	took = now_ms() - t0;
	CHECK(strcmp(o.code, "Timeout") == 0 && took < 1000, "a request's own timeout wins over the client's (%.0f ms)", took);
	aws_client_free(c);
}

/* ---- streaming ---- */

struct sink {
	size_t bytes;
	int chunks;
	bool pattern_ok;
	int stop_after; /* chunks; 0: never */
	struct aws_op *cancel;
};

static int sink_data(const void *chunk, size_t len, void *arg)
{
	struct sink *s = arg;
	const unsigned char *p = chunk;
	for (size_t i = 0; i < len; i++)
		if (p[i] != 'a' + ((s->bytes + i) / 1024) % 26)
			s->pattern_ok = false;
	s->bytes += len;
	s->chunks++;
	if (s->cancel) {
		aws_op_cancel(s->cancel);
		return 0;
	}
	return s->stop_after && s->chunks >= s->stop_after ? -1 : 0;
}

static void test_streaming(void)
{
	env_credentials();
	struct aws_client *c = client(5000);
	if (!c)
		return;
	struct outcome o;
	struct sink s = { .pattern_ok = true };
	struct aws_request req = request(&AWS_BEDROCK_RUNTIME, "POST", "/model/m/converse-stream", "s=stream&id=st1");
	req.on_data = sink_data;
	req.data_arg = &s;
	call(c, &req, &o, 5000);
	CHECK(o.ok && o.status == 200 && o.body_len == 0 && s.bytes == 8 * 1024 && s.pattern_ok && s.chunks >= 4,
	      "a chunked 2xx answer reaches the sink in %d pieces, all %zu bytes in order, none buffered", s.chunks, s.bytes);

	struct sink stop = { .pattern_ok = true, .stop_after = 1 };
	req.query = "s=stream-long&id=st2";
	req.data_arg = &stop;
	double t0 = now_ms();
	call(c, &req, &o, 5000);
	bool cut = false;
	for (int i = 0; i < 40 && !cut; i++) {
		json_t *r = requests_of("st2");
		cut = json_is_true(json_object_get(r, "aborted"));
		json_decref(r);
		if (!cut)
			usleep(25 * 1000);
	}
	CHECK(strcmp(o.code, "StreamAborted") == 0 && o.attempts == 1 && stop.chunks == 1 && now_ms() - t0 < 1500 && cut,
	      "the sink returning -1 stops the call (StreamAborted, not retried, the double saw the cut) (%s)", o.describe);

	struct sink never = { .pattern_ok = true };
	req.query = "s=stream-error&id=st3";
	req.data_arg = &never;
	call(c, &req, &o, 5000);
	CHECK(never.chunks == 0 && strcmp(o.code, "ValidationException") == 0 && strcmp(o.message, "bad model input") == 0,
	      "an error status is buffered and parsed, never streamed (%s)", o.describe);

	/* An idle limit cuts a stream that goes quiet, not one that is merely long. */
	struct sink quiet = { .pattern_ok = true };
	req.query = "s=stream-stall&id=st5";
	req.data_arg = &quiet;
	req.idle_timeout_ms = 1000;
	req.timeout_ms = 10000;
	t0 = now_ms();
	call(c, &req, &o, 8000);
	double quiet_ms = now_ms() - t0;
	CHECK(strcmp(o.code, "Timeout") == 0 && o.attempts == 1 && quiet.chunks == 1 && quiet_ms < 2900,
	      "a stream silent for longer than its idle limit fails as Timeout after %.0f ms (%s)", quiet_ms, o.describe);
	struct sink steady = { .pattern_ok = true };
	req.query = "s=stream-long&id=st6";
	req.data_arg = &steady;
	call(c, &req, &o, 8000);
	CHECK(o.ok && steady.chunks > 1, "a long, steady stream under the same idle limit completes (%d pieces)",
	      steady.chunks);
	req.idle_timeout_ms = 0;
	req.timeout_ms = 0;

	/* Cancelled from inside its own sink: no callback, nothing left behind. */
	struct sink canceller = { .pattern_ok = true };
	req.query = "s=stream-long&id=st4";
	req.data_arg = &canceller;
	struct aws_op *op = start(c, &req, &o);
	canceller.cancel = op;
	run_for_ms(500);
	CHECK(op && o.calls == 0 && canceller.chunks == 1 && aws_http_pending(c->http) == 0 && c->ops == NULL,
	      "aws_op_cancel from inside the sink: no callback, the transfer stopped");
	aws_client_free(c);
}

/* ---- cancellation ---- */

static void on_done_chain(const struct aws_result *r, void *arg);

struct chain {
	struct aws_client *c;
	struct outcome first, second;
};

static void on_done_chain(const struct aws_result *r, void *arg)
{
	struct chain *ch = arg;
	on_done(r, &ch->first);
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", "s=echo&id=chain2");
	aws_call(ch->c, &req, on_done, &ch->second);
}

static void test_cancel(void)
{
	env_credentials();
	struct aws_client *c = client(5000);
	if (!c)
		return;
	struct outcome o;
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", "s=slow&id=cancel1&ms=800");
	struct aws_op *op = start(c, &req, &o);
	run_for_ms(100);
	aws_op_cancel(op);
	run_for_ms(1200);
	CHECK(op && o.calls == 0 && aws_http_pending(c->http) == 0 && c->ops == NULL,
	      "cancel during an attempt: no callback, no transfer left");

	struct aws_client_options slow_backoff = { .base_backoff_ms = 5000, .max_backoff_ms = 5000 };
	struct aws_client *c2 = aws_client_new(base, &slow_backoff);
	req = request(&AWS_DYNAMODB, "GET", "/", "s=always-500&id=cancel2");
	op = c2 ? start(c2, &req, &o) : NULL;
	double end = now_ms() + 3000;
	while (op && op->state != OP_BACKOFF && now_ms() < end)
		run_for_ms(5);
	bool waiting = op && op->state == OP_BACKOFF;
	aws_op_cancel(op);
	run_for_ms(100);
	CHECK(waiting && o.calls == 0 && c2->ops == NULL, "cancel during the backoff wait: no callback");

	/* A call ended by the loop later (no region) and cancelled first: no callback either. */
	unsetenv("AWS_REGION");
	struct aws_client *c3 = client(0);
	op = c3 ? start(c3, &req, &o) : NULL;
	aws_op_cancel(op);
	run_for_ms(50);
	CHECK(op && o.calls == 0, "cancel before a pending failure is reported: no callback");
	aws_client_free(c3);
	setenv("AWS_REGION", "us-east-1", 1);

	/* A callback may start the next call. */
	struct chain ch = { .c = c };
	req = request(&AWS_DYNAMODB, "GET", "/", "s=echo&id=chain1");
	aws_call(c, &req, on_done_chain, &ch);
	wait_for(&ch.second, 5000);
	CHECK(ch.first.ok && ch.second.ok && ch.second.calls == 1, "a callback that starts another call");

	/* Freeing the client with calls in flight: no callbacks. */
	struct outcome left[3];
	for (int i = 0; i < 3; i++)
		start(c2, &req, &left[i]);
	req = request(&AWS_DYNAMODB, "GET", "/", "s=slow&id=cancel3&ms=800");
	start(c, &req, &o);
	aws_client_free(c);
	aws_client_free(c2);
	run_for_ms(100);
	CHECK(o.calls == 0 && left[0].calls + left[1].calls + left[2].calls == 0,
	      "aws_client_free cancels every call without callbacks");
}

/* ---- parked while credentials are fetched ---- */

static void test_parked(void)
{
	clear_env();
	char url[128], q[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/container/creds", creds_double.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token-svc", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", service_double.port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	json_decref(control(&creds_double, "containerToken=container-auth-token-svc&delayMs=400&expires=900"));

	struct aws_client *c = client(5000);
	if (!c)
		return;
	struct outcome o[3];
	for (int i = 0; i < 3; i++) {
		snprintf(q, sizeof q, "s=echo&id=park%d", i);
		struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", q);
		start(c, &req, &o[i]);
	}
	run_for_ms(150);
	bool parked = o[0].calls + o[1].calls + o[2].calls == 0 && c->ops && c->ops->state == OP_PARKED &&
	              aws_client_unavailable(c) == NULL;
	double end = now_ms() + 5000;
	while (now_ms() < end && o[0].calls + o[1].calls + o[2].calls < 3)
		run_for_ms(10);
	bool signed_with_fetched = true;
	for (int i = 0; i < 3; i++) {
		snprintf(q, sizeof q, "park%d", i);
		json_t *r = requests_of(q);
		signed_with_fetched = signed_with_fetched && record_count(r) == 1 &&
		                      strstr(record_str(r, 0, "authorization"), "Credential=ASIACONTAINER") &&
		                      strncmp(record_str(r, 0, "token"), "doubletoken", 11) == 0;
		json_decref(r);
	}
	CHECK(parked, "3 calls parked while the container endpoint takes 400 ms");
	CHECK(o[0].ok && o[1].ok && o[2].ok && o[0].attempts == 1 && signed_with_fetched,
	      "all 3 resumed when the credentials arrived, signed with them");
	aws_client_free(c);

	/* The endpoint refuses: parked calls fail, naming the source and what to check. */
	json_decref(control(&creds_double, "containerToken=another-token&delayMs=0"));
	c = client(5000);
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", "s=echo&id=park-refused");
	struct aws_op *op = c ? start(c, &req, &o[0]) : NULL;
	bool was_parked = op && op->state == OP_PARKED;
	wait_for(&o[0], 5000);
	CHECK(was_parked && strcmp(o[0].code, "CredentialsUnavailable") == 0 && strstr(o[0].message, "container") &&
	      strstr(o[0].message, "AWS_CONTAINER_AUTHORIZATION_TOKEN") && o[0].attempts == 0,
	      "a failed fetch fails the parked call (%s)", o[0].describe);
	aws_client_free(c);

	/* The endpoint is too slow for the call's timeout. */
	json_decref(control(&creds_double, "containerToken=container-auth-token-svc&delayMs=2000"));
	c = client(300);
	double t0 = now_ms();
	op = c ? start(c, &req, &o[0]) : NULL;
	wait_for(&o[0], 5000);
	double took = now_ms() - t0;
	CHECK(op && strcmp(o[0].code, "CredentialsUnavailable") == 0 && strstr(o[0].message, "in time") && took < 1500,
	      "a parked call gives up after its timeout (%.0f ms: %s)", took, o[0].describe);
	aws_client_free(c);
	json_decref(control(&creds_double, "delayMs=0"));
	clear_env();
}

/* ---- AWS_CA_BUNDLE ---- */

static void test_ca_bundle(void)
{
	env_credentials();
	char url[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d", service_double.port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	setenv("AWS_CA_BUNDLE", "/nonexistent/mcpgate-ca.pem", 1);
	struct aws_client *c = client(3000);
	struct outcome o;
	struct aws_request req = request(&AWS_DYNAMODB, "GET", "/", "s=echo&id=ca1");
	if (c)
		call(c, &req, &o, 5000);
	CHECK(c && o.calls == 1 && strcmp(o.code, "TLSVerificationFailed") == 0 && o.attempts == 1 &&
	      strstr(o.message, "/nonexistent/mcpgate-ca.pem"),
	      "AWS_CA_BUNDLE is the CA file curl verifies against; a bad one is not retried (%s)", o.describe);
	aws_client_free(c);
	clear_env();
}

/* ---- no secret reaches the log ---- */

static void check_log(const struct log_capture *capture)
{
	size_t n;
	char *log = log_capture_read(capture, 4 << 20, &n);
	static const char *const secrets[] = { "wJalrXUtnFEMI", "svc-test-session-token", "doublesecret",
	                                       "doubletoken", "container-auth-token-svc", "Signature=" };
	bool clean = log_holds_none(log, secrets, sizeof secrets / sizeof secrets[0]);
	CHECK(strstr(log, "\"aws_retry\"") && strstr(log, "\"ThrottlingException\"") && strstr(log, "\"SlowDown\"") &&
	      strstr(log, "\"delay_ms\"") && strstr(log, "\"aws_retry_quota_exhausted\""),
	      "retries are logged with service, code, attempt and delay; the spent quota too");
	CHECK(clean && !strstr(log, "validation error detected"), "no secret, token, signature or error message in the log");
	free(log);
}

int main(int argc, char **argv)
{
	/* Everything the library logs goes to a file, read back at the end. */
	struct log_capture capture;
	if (log_capture_test_begin(argc, argv, "test_aws_service", tmpdir, &capture) != 0)
		return 2;

	base = event_base_new();
	CHECK(base != NULL, "event loop");
	test_uri_encode();
	test_error_parse();
	test_retry_rules();
	test_endpoint_split();
	test_unavailable();
	test_invalid_requests();

	int started = node_double_start(&service_double, argv[1], "aws-service-double.mjs");
	if (started == 0)
		started = node_double_start(&creds_double, argv[1], "aws-doubles.mjs");
	if (started == 77)
		printf("SKIP: node is not installed; the loopback tests need it\n");
	else
		CHECK(started == 0, "doubles listening on 127.0.0.1:%d and :%d", service_double.port, creds_double.port);
	if (started == 0) {
		json_decref(control(&service_double, "key=" KEY_ID "&secret=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY"));
		test_signed_calls();
		test_retries();
		test_quota();
		test_timeouts();
		test_streaming();
		test_cancel();
		test_parked();
		test_ca_bundle();
		check_log(&capture);
	}
	node_double_stop(&service_double);
	node_double_stop(&creds_double);
	event_base_free(base);
	curl_global_cleanup();
	log_capture_stop(&capture);
	log_capture_remove(&capture);
	if (!getenv("KEEP_LOG"))
		rmdir(tmpdir);
	if (check_finish())
		return 1;
	return started == 77 ? 77 : 0;
}
