/* One AWS API call from request to result: endpoint and Host, a fresh SigV4 signature for every
 * attempt, a wait while credentials are fetched, AWS's "standard" retries with a shared quota,
 * and every failure reduced to service, code and message. */
#include "service.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <expat.h>
#include <jansson.h>
#include <mbedtls/platform_util.h>

#include "endpoint.h"
#include "log.h"

#define DEFAULT_MAX_ATTEMPTS 3
#define MAX_ATTEMPTS_LIMIT 10
#define DEFAULT_BASE_BACKOFF_MS 100L
#define DEFAULT_MAX_BACKOFF_MS 20000L
#define BACKOFF_LIMIT_MS 300000L /* keeps the jitter's range within 32 bits */
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 3000L

/* The retry quota of AWS "standard" mode: a bucket every client shares across its calls, so a
 * failing service sees fewer and fewer retries instead of three times its load. */
#define QUOTA_MAX 500
#define RETRY_COST 5
#define TRANSPORT_RETRY_COST 10
#define SUCCESS_REFUND 1

#define ERROR_PARSE_MAX (64u * 1024u) /* an error body is parsed in its first 64 KiB only */
#define ERROR_XML_DEPTH_MAX 16
#define RAW_CODE_MAX 256
#define RAW_MESSAGE_MAX 1024
#define PATH_LEN_MAX 8192
#define QUERY_LEN_MAX 8192
#define HEADER_VALUE_MAX 4096
#define REQUEST_HEADERS_MAX 24 /* the caller's; the client adds up to six (32 in all) */
#define ACCEPT_STATUS_MAX 8
#define HOST_MAX 256

const struct aws_service AWS_S3 = { "S3", "S3", "s3", "s3", SIGV4_S3 };
const struct aws_service AWS_DYNAMODB = { "DynamoDB", "DYNAMODB", "dynamodb", "dynamodb", 0 };
const struct aws_service AWS_SQS = { "SQS", "SQS", "sqs", "sqs", 0 };
const struct aws_service AWS_LAMBDA = { "Lambda", "LAMBDA", "lambda", "lambda", 0 };
const struct aws_service AWS_SECRETS_MANAGER = { "Secrets Manager", "SECRETS_MANAGER", "secretsmanager",
                                                 "secretsmanager", 0 };
const struct aws_service AWS_BEDROCK_RUNTIME = { "Bedrock Runtime", "BEDROCK_RUNTIME", "bedrock-runtime",
                                                 "bedrock", 0 };
const struct aws_service AWS_BEDROCK_AGENT_RUNTIME = { "Bedrock Agent Runtime", "BEDROCK_AGENT_RUNTIME",
                                                       "bedrock-agent-runtime", "bedrock", 0 };
const struct aws_service AWS_STS = { "STS", "STS", "sts", "sts", 0 };

struct aws_client {
	struct event_base *base;
	struct aws_http *http;
	struct aws_cred_provider *creds; /* NULL: the credential settings are malformed (logged) */
	char region[AWS_REGION_MAX + 1];
	bool region_invalid;             /* set, but not a region name */
	int max_attempts;
	long base_backoff_ms, max_backoff_ms, timeout_ms, connect_timeout_ms;
	int quota;
	struct sigv4_key_cache keys;
	struct aws_op *ops;
	char why[512]; /* aws_client_unavailable's answer */
};

enum op_state {
	OP_SENDING, /* an attempt is in flight */
	OP_PARKED,  /* waiting for the credential provider; the timer is the deadline */
	OP_BACKOFF, /* waiting to retry; the timer is the delay */
	OP_FAILING, /* failed outside any completion; the timer (zero) reports it from the loop */
};

struct op_header {
	char *name;
	char *value; /* may be secret (SSE-C keys): wiped */
};

struct aws_op {
	struct aws_client *client;
	const struct aws_service *service;
	enum op_state state;
	char method[8];
	char *url;   /* endpoint, path and ?query as sent */
	char *path;  /* the wire path with the endpoint's own base path: what is signed */
	char *query; /* NULL for none */
	char host[HOST_MAX];
	struct op_header headers[REQUEST_HEADERS_MAX];
	size_t n_headers;
	bool has_content_type;
	char *body; /* may be secret (PutSecretValue): wiped */
	size_t body_len;
	char payload_hash[SIGV4_HEX_LEN + 1];
	size_t max_response;
	long timeout_ms;
	long idle_timeout_ms;
	long accept[ACCEPT_STATUS_MAX];
	size_t n_accept;
	aws_data_fn on_data;
	void *data_arg;
	aws_done_fn done;
	void *arg;

	struct aws_http_call *call;
	struct event *timer;
	unsigned attempts;
	int retry_cost; /* what the pending retry took from the quota: refunded on success */
	int64_t parked_until; /* monotonic ms: when waiting for credentials ends; 0: not waiting */
	bool streamed, in_sink, delivering, cancelled;
	bool not_idempotent; /* retried only when it certainly did not run */
	char fail_code[64];
	char fail_message[512];
	struct aws_op *prev, *next;
};

static void op_attempt(struct aws_op *op);

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	mbedtls_platform_zeroize(p, n);
	free(p);
}

static void wipe_free_str(char *s)
{
	if (s)
		wipe_free(s, strlen(s));
}

/* ---- text from outside: control bytes out, UTF-8 kept valid when cut ---- */

/* How long a UTF-8 sequence starting with `lead` is; 0 for a byte that cannot start one. */
static size_t utf8_length(unsigned char lead)
{
	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead >= 0xf0 && lead <= 0xf4)
		return 4;
	return 0;
}

/* Whether the `avail` bytes at s (avail >= 1) are the start of a valid n-byte sequence;
 * overlong and surrogate forms are not told apart here: jansson and expat already refuse them. */
static bool utf8_continues(const unsigned char *s, size_t avail, size_t n)
{
	for (size_t i = 1; i < n && i < avail; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	return true;
}

/* Copies text for a message: control bytes become spaces, bytes that are not UTF-8 become
 * '?', blanks at either end are dropped, and a cut never splits a character (a character
 * the input itself was cut in is dropped). In place (out == in) works: out never gets ahead. */
static void copy_text(char *out, size_t cap, const char *in, size_t len)
{
	if (cap == 0)
		return;
	const unsigned char *s = (const unsigned char *)in;
	while (len > 0 && (*s <= 0x20 || *s == 0x7f)) {
		s++;
		len--;
	}
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_length(s[i]);
		size_t avail = len - i;
		if (n > avail && utf8_continues(s + i, avail, n))
			break;
		if (n == 0 || n > avail || !utf8_continues(s + i, avail, n))
			n = 0;
		size_t width = n ? n : 1;
		if (o + width >= cap)
			break;
		if (n == 0)
			out[o] = '?';
		else if (n == 1)
			out[o] = (s[i] < 0x20 || s[i] == 0x7f) ? ' ' : (char)s[i];
		else
			memmove(out + o, s + i, n);
		o += width;
		i += width;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* An error code as AWS sends it, reduced to its name: "ns#Name:http://..." -> "Name". Bytes
 * outside [A-Za-z0-9._-] become '_' (codes reach logs and tool errors). Returns 0 when a
 * non-empty code remains. */
static int copy_code(char *out, size_t cap, const char *in, size_t len)
{
	if (cap == 0)
		return -1;
	out[0] = '\0';
	const char *hash = memchr(in, '#', len);
	if (hash) {
		len -= (size_t)(hash + 1 - in);
		in = hash + 1;
	}
	const char *colon = memchr(in, ':', len);
	if (colon)
		len = (size_t)(colon - in);
	while (len > 0 && (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n')) {
		in++;
		len--;
	}
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '\r' || in[len - 1] == '\n'))
		len--;
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		char c = in[i];
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		             c == '.' || c == '_' || c == '-';
		out[o++] = plain ? c : '_';
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* ---- error bodies ---- */

struct parsed_error {
	char code[RAW_CODE_MAX];
	size_t code_len;
	bool code_done;
	char message[RAW_MESSAGE_MAX];
	size_t message_len;
	bool message_done;
};

static void json_error(const char *body, size_t len, struct parsed_error *e)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	static const char *const code_keys[] = { "__type", "code", "Code" };
	static const char *const message_keys[] = { "message", "Message", "errorMessage" };
	for (size_t i = 0; i < sizeof code_keys / sizeof code_keys[0] && !e->code_done; i++) {
		json_t *v = json_object_get(root, code_keys[i]);
		if (json_is_string(v)) {
			e->code_len = json_string_length(v) < sizeof e->code - 1 ? json_string_length(v) : sizeof e->code - 1;
			memcpy(e->code, json_string_value(v), e->code_len);
			e->code_done = true;
		}
	}
	for (size_t i = 0; i < sizeof message_keys / sizeof message_keys[0] && !e->message_done; i++) {
		json_t *v = json_object_get(root, message_keys[i]);
		if (json_is_string(v)) {
			size_t n = json_string_length(v);
			e->message_len = n < sizeof e->message - 1 ? n : sizeof e->message - 1;
			memcpy(e->message, json_string_value(v), e->message_len);
			e->message_done = true;
		}
	}
	json_decref(root);
}

enum xml_field { XF_NONE, XF_CODE, XF_MESSAGE };

struct xml_error {
	XML_Parser parser;
	struct parsed_error *e;
	int depth;
	int error_depth;      /* depth of the <Error> being read; 0: none */
	enum xml_field field; /* being collected, a child of that <Error> */
	bool refused;
};

static void XMLCALL xml_on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	struct xml_error *x = ud;
	if (++x->depth > ERROR_XML_DEPTH_MAX) {
		x->refused = true;
		XML_StopParser(x->parser, XML_FALSE);
		return;
	}
	/* <Error> at the root (S3, REST-XML), under <ErrorResponse> (query protocols) or under
	 * <Response><Errors> (EC2-style). */
	if (!x->error_depth && x->depth <= 3 && strcmp(name, "Error") == 0) {
		x->error_depth = x->depth;
		return;
	}
	if (x->error_depth && x->depth == x->error_depth + 1) {
		if (strcmp(name, "Code") == 0 && !x->e->code_done)
			x->field = XF_CODE;
		else if (strcmp(name, "Message") == 0 && !x->e->message_done)
			x->field = XF_MESSAGE;
	}
}

static void XMLCALL xml_on_end(void *ud, const XML_Char *name)
{
	(void)name;
	struct xml_error *x = ud;
	if (x->field != XF_NONE && x->depth == x->error_depth + 1) {
		if (x->field == XF_CODE)
			x->e->code_done = true; /* only a closed <Code> counts */
		else
			x->e->message_done = true;
		x->field = XF_NONE;
	}
	if (x->depth == x->error_depth)
		x->error_depth = 0;
	x->depth--;
}

static void XMLCALL xml_on_text(void *ud, const XML_Char *text, int len)
{
	struct xml_error *x = ud;
	if (x->field == XF_NONE || len <= 0 || x->depth != x->error_depth + 1)
		return;
	char *buf = x->field == XF_CODE ? x->e->code : x->e->message;
	size_t *have = x->field == XF_CODE ? &x->e->code_len : &x->e->message_len;
	size_t cap = x->field == XF_CODE ? sizeof x->e->code : sizeof x->e->message;
	size_t room = cap - 1 - *have, n = (size_t)len < room ? (size_t)len : room;
	memcpy(buf + *have, text, n); /* longer text is cut: copy_text keeps it valid UTF-8 */
	*have += n;
}

/* No DTDs: AWS never sends one, and entities are how XML parsers get abused. */
static void XMLCALL xml_on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                   const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	struct xml_error *x = ud;
	x->refused = true;
	XML_StopParser(x->parser, XML_FALSE);
}

static void xml_error(const char *body, size_t len, struct parsed_error *e)
{
	struct parsed_error found = { 0 };
	struct xml_error x = { .e = &found };
	x.parser = XML_ParserCreate("UTF-8");
	if (!x.parser)
		return;
	XML_SetUserData(x.parser, &x);
	XML_SetElementHandler(x.parser, xml_on_start, xml_on_end);
	XML_SetCharacterDataHandler(x.parser, xml_on_text);
	XML_SetDoctypeDeclHandler(x.parser, xml_on_doctype, NULL);
	/* A body cut at the parse limit, or malformed after its <Error>, still yields the fields
	 * that were closed before the damage. */
	(void)XML_Parse(x.parser, body, (int)len, XML_TRUE);
	XML_ParserFree(x.parser);
	if (x.refused)
		return;
	if (found.code_done && !e->code_done) {
		memcpy(e->code, found.code, found.code_len);
		e->code_len = found.code_len;
		e->code_done = true;
	}
	if (found.message_done && !e->message_done) {
		memcpy(e->message, found.message, found.message_len);
		e->message_len = found.message_len;
		e->message_done = true;
	}
}

/* Code and message from the header and body; the message is kept even without a code. */
static int parse_error(const char *body, size_t body_len, const char *error_type_header, char *code,
                       size_t code_cap, char *message, size_t message_cap)
{
	if (code_cap)
		code[0] = '\0';
	if (message_cap)
		message[0] = '\0';
	struct parsed_error e = { 0 };
	/* The header names the error when present (REST-JSON services); bodies say it otherwise. */
	if (error_type_header) {
		size_t n = strnlen(error_type_header, sizeof e.code - 1);
		memcpy(e.code, error_type_header, n);
		e.code_len = n;
		e.code_done = true;
	}
	if (body && body_len) {
		size_t len = body_len < ERROR_PARSE_MAX ? body_len : ERROR_PARSE_MAX;
		size_t i = 0;
		if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
			i = 3;
		while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
			i++;
		if (i < len && body[i] == '{')
			json_error(body + i, len - i, &e);
		else if (i < len && body[i] == '<')
			xml_error(body + i, len - i, &e);
	}
	if (e.message_done)
		copy_text(message, message_cap, e.message, e.message_len);
	if (!e.code_done || copy_code(code, code_cap, e.code, e.code_len) != 0) {
		if (code_cap)
			code[0] = '\0';
		return -1;
	}
	return 0;
}

int aws_error_parse(const char *body, size_t body_len, const char *error_type_header,
                    char *code, size_t code_cap, char *message, size_t message_cap)
{
	int rc = parse_error(body, body_len, error_type_header, code, code_cap, message, message_cap);
	if (rc != 0 && message_cap)
		message[0] = '\0';
	return rc;
}

/* ---- the retry policy ---- */

static bool in_list(const char *code, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(code, list[i]) == 0)
			return true;
	return false;
}

static const char *const throttling_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
	"LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException",
};

static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
	"ServiceUnavailable", "Timeout", "ConnectionFailed",
};

static const char *const final_codes[] = {
	"ResponseTooLarge", "CredentialsUnavailable", "NoRegion", "StreamAborted", "InvalidEndpoint",
	"SigningFailed", "RequestFailed",
};

/* Transport failures that a new connection may not repeat; a refused certificate or a bad
 * CA file would fail the same way every time. */
static bool curl_transient(int curl_code)
{
	switch (curl_code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

bool aws_error_retryable(long status, const char *code, int curl_code)
{
	if (code && in_list(code, final_codes, sizeof final_codes / sizeof final_codes[0]))
		return false;
	if (curl_code != 0)
		return curl_transient(curl_code);
	if (code && (in_list(code, throttling_codes, sizeof throttling_codes / sizeof throttling_codes[0]) ||
	             in_list(code, transient_codes, sizeof transient_codes / sizeof transient_codes[0])))
		return true;
	return status == 500 || status == 502 || status == 503 || status == 504 || status == 429;
}

/* A code for an error answer whose body named none. */
static const char *status_code(long status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "AccessDenied";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 412: return "PreconditionFailed";
	case 413: return "RequestEntityTooLarge";
	case 416: return "InvalidRange";
	case 429: return "TooManyRequests";
	default: break;
	}
	if (status >= 500 && status <= 599)
		return "ServiceError";
	if (status >= 400 && status <= 499)
		return "ClientError";
	return "UnexpectedStatus";
}

/* random(0, 1) * min(base * 2^retry, max), in whole milliseconds. */
static long backoff_ms(const struct aws_client *c, unsigned retry)
{
	long cap = c->base_backoff_ms;
	for (unsigned i = 0; i < retry && cap < c->max_backoff_ms; i++)
		cap *= 2;
	if (cap > c->max_backoff_ms)
		cap = c->max_backoff_ms;
	return (long)arc4random_uniform((uint32_t)cap + 1);
}

/* ---- credentials ---- */

static bool fetch_in_flight(const struct aws_cred_provider *p)
{
	const struct aws_cred_stats *s = aws_cred_provider_stats(p);
	return s->attempts > s->successes + s->failures;
}

static const char *credentials_hint(enum aws_cred_source source)
{
	switch (source) {
	case AWS_CRED_ENV:
		return "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
	case AWS_CRED_WEB_IDENTITY:
		return "check AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN and that the role trusts this "
		       "identity (the log has STS's answer)";
	case AWS_CRED_CONTAINER:
		return "check AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI and "
		       "AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
	case AWS_CRED_IMDS:
		return "attach an instance role (IMDSv2 must be reachable), or set AWS_ACCESS_KEY_ID and "
		       "AWS_SECRET_ACCESS_KEY";
	case AWS_CRED_NONE:
		break;
	}
	return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and "
	       "AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_FULL_URI, or run with an instance role";
}

static void credentials_message(const struct aws_client *c, bool waited, char *out, size_t cap)
{
	if (!c->creds) {
		snprintf(out, cap, "no AWS credentials: the credential settings in the environment are "
		         "invalid (the log names the variable)");
		return;
	}
	enum aws_cred_source source = aws_cred_provider_source(c->creds);
	if (source == AWS_CRED_NONE)
		snprintf(out, cap, "no AWS credentials: no source is configured; %s", credentials_hint(source));
	else
		snprintf(out, cap, "no AWS credentials from the %s source%s: %s", aws_cred_source_name(source),
		         waited ? " in time" : "", credentials_hint(source));
}

static const char *region_message(const struct aws_client *c)
{
	return c->region_invalid ? "the AWS region is not a region name: set AWS_REGION to one such as us-east-1"
	                         : "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION)";
}

/* ---- ops: life and reporting ---- */

static void op_unlink(struct aws_op *op)
{
	struct aws_client *c = op->client;
	if (op->prev)
		op->prev->next = op->next;
	else if (c->ops == op)
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static void op_free(struct aws_op *op)
{
	if (op->call)
		aws_http_cancel(op->call);
	if (op->timer)
		event_free(op->timer);
	op_unlink(op);
	free(op->url);
	free(op->path);
	free(op->query);
	for (size_t i = 0; i < op->n_headers; i++) {
		free(op->headers[i].name);
		wipe_free_str(op->headers[i].value);
	}
	wipe_free(op->body, op->body_len);
	mbedtls_platform_zeroize(op, sizeof *op);
	free(op);
}

/* Calls `done` once, then frees the op; a cancel from inside `done` is ignored. */
static void op_deliver(struct aws_op *op, struct aws_result *res)
{
	res->service = op->service->name;
	res->attempts = op->attempts;
	if (!res->body)
		res->body = "";
	if (!res->headers)
		res->headers = "";
	if (!res->ok)
		log_info("aws_call_failed", LOG_STR("service", op->service->name), LOG_STR("code", res->code),
		         LOG_INT("status", res->status), LOG_INT("attempts", op->attempts));
	op->delivering = true;
	op->done(res, op->arg);
	op_free(op);
}

/* Reports a failure from the loop, later: aws_call's caller never sees its callback run
 * inside aws_call, nor does the credential provider see it inside its own callback. */
static void op_fail_soon(struct aws_op *op, const char *code, const char *message)
{
	snprintf(op->fail_code, sizeof op->fail_code, "%s", code);
	snprintf(op->fail_message, sizeof op->fail_message, "%s", message);
	op->state = OP_FAILING;
	struct timeval now = { 0, 0 };
	evtimer_del(op->timer);
	if (evtimer_add(op->timer, &now) != 0)
		event_active(op->timer, EV_TIMEOUT, 0);
}

static void op_fail_now(struct aws_op *op, const char *code, const char *message)
{
	struct aws_result res = { .status = 0 };
	snprintf(res.code, sizeof res.code, "%s", code);
	snprintf(res.message, sizeof res.message, "%s", message);
	op_deliver(op, &res);
}

static void on_op_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct aws_op *op = arg;
	switch (op->state) {
	case OP_PARKED: {
		char msg[512];
		credentials_message(op->client, true, msg, sizeof msg);
		op_fail_now(op, "CredentialsUnavailable", msg);
		break;
	}
	case OP_BACKOFF:
		op_attempt(op);
		break;
	case OP_FAILING:
		op_fail_now(op, op->fail_code, op->fail_message);
		break;
	case OP_SENDING:
		break;
	}
}

/* ---- one attempt ---- */

static bool op_accepts(const struct aws_op *op, long status)
{
	if (status >= 200 && status <= 299)
		return true;
	for (size_t i = 0; i < op->n_accept; i++)
		if (op->accept[i] == status)
			return true;
	return false;
}

static int on_op_data(const void *chunk, size_t len, void *arg)
{
	struct aws_op *op = arg;
	if (op->cancelled)
		return -1;
	op->streamed = true; /* from now on the call is never retried */
	op->in_sink = true;
	int rc = op->on_data(chunk, len, op->data_arg);
	op->in_sink = false;
	return op->cancelled || rc != 0 ? -1 : 0;
}

/* Whether a failed attempt certainly did no work at the service: it never got there, or it
 * was turned away as throttled. */
static bool certainly_not_run(const char *code, int curl_code)
{
	if (curl_code != 0)
		return curl_code == CURLE_COULDNT_RESOLVE_HOST || curl_code == CURLE_COULDNT_CONNECT ||
		       curl_code == CURLE_SSL_CONNECT_ERROR;
	return code && in_list(code, throttling_codes, sizeof throttling_codes / sizeof throttling_codes[0]);
}

/* Whether the failed attempt is retried; if so the retry is scheduled. */
static bool op_retry(struct aws_op *op, long status, const char *code, int curl_code)
{
	struct aws_client *c = op->client;
	if (op->streamed || op->attempts >= (unsigned)c->max_attempts ||
	    !aws_error_retryable(status, code, curl_code) ||
	    (op->not_idempotent && !certainly_not_run(code, curl_code)))
		return false;
	int cost = curl_code != 0 ? TRANSPORT_RETRY_COST : RETRY_COST;
	if (c->quota < cost) {
		log_warn("aws_retry_quota_exhausted", LOG_STR("service", op->service->name), LOG_STR("code", code),
		         LOG_INT("attempt", op->attempts), LOG_INT("quota", c->quota));
		return false;
	}
	c->quota -= cost;
	op->retry_cost = cost;
	long delay = backoff_ms(c, op->attempts);
	log_info("aws_retry", LOG_STR("service", op->service->name), LOG_STR("code", code),
	         LOG_INT("status", status), LOG_INT("attempt", op->attempts), LOG_INT("delay_ms", delay));
	op->state = OP_BACKOFF;
	struct timeval tv = { .tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000 };
	if (evtimer_add(op->timer, &tv) != 0)
		event_active(op->timer, EV_TIMEOUT, 0);
	return true;
}


/* The endpoint could not prove who it is (or our CA bundle is unusable): an operator's
 * problem to fix, worth its own code, and never worth a retry. */
static bool tls_verification_failed(int curl_code)
{
	return curl_code == CURLE_PEER_FAILED_VERIFICATION || curl_code == CURLE_SSL_CACERT_BADFILE ||
	       curl_code == CURLE_SSL_PINNEDPUBKEYNOTMATCH || curl_code == CURLE_SSL_CERTPROBLEM;
}
static void on_http_done(const struct aws_http_response *resp, void *arg)
{
	struct aws_op *op = arg;
	struct aws_client *c = op->client;
	op->call = NULL;
	if (op->cancelled) { /* cancelled from inside its sink */
		op_free(op);
		return;
	}
	struct aws_result res = {
		.status = resp->status, .body = resp->body, .body_len = resp->body_len,
		.headers = resp->headers, .headers_len = resp->headers_len,
	};
	if (resp->aborted) {
		snprintf(res.code, sizeof res.code, "StreamAborted");
		snprintf(res.message, sizeof res.message, "the reader of the response stream stopped it");
	} else if (resp->curl_code != 0) {
		const char *code = resp->curl_code == CURLE_OPERATION_TIMEDOUT ? "Timeout"
		                 : resp->curl_code == CURLE_FILESIZE_EXCEEDED ? "ResponseTooLarge"
		                 : tls_verification_failed(resp->curl_code) ? "TLSVerificationFailed"
		                 : "ConnectionFailed";
		snprintf(res.code, sizeof res.code, "%s", code);
		const char *text = resp->error ? resp->error : curl_easy_strerror((CURLcode)resp->curl_code);
		copy_text(res.message, sizeof res.message, text, strlen(text));
	} else if (op_accepts(op, resp->status)) {
		res.ok = true;
	} else {
		char type[RAW_CODE_MAX];
		bool typed = aws_result_header(&res, "x-amzn-ErrorType", type, sizeof type) == 0;
		if (parse_error(resp->body, resp->body_len, typed ? type : NULL, res.code, sizeof res.code,
		                res.message, sizeof res.message) != 0)
			snprintf(res.code, sizeof res.code, "%s", status_code(resp->status));
		if (!res.message[0])
			snprintf(res.message, sizeof res.message, "HTTP %ld", resp->status);
	}
	if (res.ok) {
		c->quota += op->retry_cost ? op->retry_cost : SUCCESS_REFUND;
		if (c->quota > QUOTA_MAX)
			c->quota = QUOTA_MAX;
	} else if (!resp->aborted && op_retry(op, resp->status, res.code, resp->curl_code)) {
		return;
	}
	op_deliver(op, &res);
}

/* "Name: value" lines for aws_http: the caller's headers, Host, and the signer's, wiped
 * after use (they carry the session token). */
struct header_lines {
	const char *line[AWS_HTTP_MAX_HEADERS];
	size_t n;
	char *buf;
	size_t cap, used;
};

static int lines_add(struct header_lines *l, const char *name, const char *value)
{
	size_t need = strlen(name) + 2 + strlen(value) + 1;
	if (l->n >= AWS_HTTP_MAX_HEADERS || need > l->cap - l->used)
		return -1;
	char *at = l->buf + l->used;
	snprintf(at, need, "%s: %s", name, value);
	if (!value[0])
		at[strlen(name) + 1] = '\0'; /* "Name:" removes a header curl would add */
	l->line[l->n++] = at;
	l->used += need;
	return 0;
}

static int op_send(struct aws_op *op, const struct aws_credentials *cr)
{
	struct aws_client *c = op->client;
	struct sigv4_header signed_headers[REQUEST_HEADERS_MAX + 1];
	size_t n = 0;
	signed_headers[n++] = (struct sigv4_header){ "host", op->host };
	for (size_t i = 0; i < op->n_headers; i++)
		signed_headers[n++] = (struct sigv4_header){ op->headers[i].name, op->headers[i].value };
	struct sigv4_request sr = {
		.method = op->method, .path = op->path, .query = op->query, .headers = signed_headers,
		.n_headers = n, .payload_hash = op->payload_hash, .body = op->body, .body_len = op->body_len,
		.region = c->region, .service = op->service->signing_name, .time = time(NULL),
		.flags = op->service->sigv4_flags,
	};
	struct sigv4_credentials sc = aws_credentials_sigv4(cr);
	struct sigv4_signed *sig = malloc(sizeof *sig);
	if (!sig) {
		op_fail_soon(op, "RequestFailed", "out of memory");
		return -1;
	}
	if (sigv4_sign(&sr, &sc, &c->keys, sig) != 0) {
		int err = errno;
		free(sig);
		log_error("aws_sign_failed", LOG_STR("service", op->service->name), LOG_STR("error", strerror(err)));
		op_fail_soon(op, "SigningFailed", err == E2BIG ? "the request is too large to sign"
		                                              : "the request or the credentials cannot be signed");
		return -1;
	}
	struct header_lines l = { .cap = 2 * HOST_MAX + SIGV4_AUTH_MAX + AWS_TOKEN_MAX + 512 };
	for (size_t i = 0; i < op->n_headers; i++)
		l.cap += strlen(op->headers[i].name) + strlen(op->headers[i].value) + 3;
	l.buf = malloc(l.cap);
	int rc = l.buf ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < op->n_headers; i++)
		rc = lines_add(&l, op->headers[i].name, op->headers[i].value);
	if (rc == 0)
		rc = lines_add(&l, "Host", op->host);
	if (rc == 0 && !op->has_content_type && (op->body_len || strcmp(op->method, "POST") == 0 ||
	                                         strcmp(op->method, "PUT") == 0 || strcmp(op->method, "PATCH") == 0))
		rc = lines_add(&l, "Content-Type", ""); /* not curl's form-urlencoded default */
	for (size_t i = 0; rc == 0 && i < sig->n_add; i++)
		rc = lines_add(&l, sig->add[i].name, sig->add[i].value);
	struct aws_http_request hr = {
		.method = op->method, .url = op->url, .headers = l.line, .n_headers = l.n,
		.body = op->body, .body_len = op->body_len,
		.timeout_ms = op->timeout_ms, .connect_timeout_ms = c->connect_timeout_ms,
		.idle_timeout_ms = op->idle_timeout_ms,
		.max_response = op->max_response,
		.on_data = op->on_data ? on_op_data : NULL, .data_arg = op,
	};
	if (rc == 0)
		op->call = aws_http_start(c->http, &hr, on_http_done, op);
	mbedtls_platform_zeroize(sig, sizeof *sig);
	free(sig);
	wipe_free(l.buf, l.cap);
	if (!op->call) {
		op_fail_soon(op, "RequestFailed", "the HTTP request could not be started");
		return -1;
	}
	op->state = OP_SENDING;
	op->attempts++;
	op->parked_until = 0;
	return 0;
}

/* Signs with the credentials of the moment and sends; waits for them while a fetch runs. */
static void op_attempt(struct aws_op *op)
{
	struct aws_client *c = op->client;
	const struct aws_credentials *cr = c->creds ? aws_cred_provider_current(c->creds) : NULL;
	if (cr) {
		op_send(op, cr);
		return;
	}
	if (c->creds && fetch_in_flight(c->creds)) {
		/* Parked again (another fetch began): the wait keeps its first deadline. */
		int64_t now = monotonic_ms();
		if (!op->parked_until)
			op->parked_until = now + op->timeout_ms;
		int64_t left = op->parked_until > now ? op->parked_until - now : 0;
		op->state = OP_PARKED;
		struct timeval tv = { .tv_sec = (time_t)(left / 1000), .tv_usec = (suseconds_t)(left % 1000) * 1000 };
		if (evtimer_add(op->timer, &tv) != 0)
			event_active(op->timer, EV_TIMEOUT, 0);
		return;
	}
	char msg[512];
	credentials_message(c, false, msg, sizeof msg);
	op_fail_soon(op, "CredentialsUnavailable", msg);
}

/* Every fetch ends here: parked calls go on, or fail if the fetch did. */
static void on_credentials_update(void *arg, bool ok)
{
	(void)ok;
	struct aws_client *c = arg;
	for (struct aws_op *op = c->ops; op; op = op->next) {
		if (op->state != OP_PARKED)
			continue;
		evtimer_del(op->timer);
		op_attempt(op); /* sends, parks again, or fails from the loop: the list stays intact */
	}
}

/* ---- building a call ---- */

static bool method_known(const char *m)
{
	static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "HEAD", "PATCH" };
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(m, methods[i]) == 0)
			return true;
	return false;
}

/* Already percent-encoded: visible ASCII only, and nothing that ends a path or query. */
static bool wire_text_valid(const char *s, size_t max, const char *forbidden)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || strchr(forbidden, ch))
			return false;
	}
	return true;
}

static bool header_name_valid(const char *s)
{
	size_t n = strnlen(s, SIGV4_MAX_HEADER_NAME + 1);
	if (n == 0 || n > SIGV4_MAX_HEADER_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	static const char *const own[] = { "host", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
	                                   "authorization", "content-length", "expect", "transfer-encoding" };
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strcasecmp(s, own[i]) == 0)
			return false;
	return true;
}

static bool header_value_valid(const char *s)
{
	size_t n = strnlen(s, HEADER_VALUE_MAX + 1);
	if (n > HEADER_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return false;
	return true;
}

/* Why the request cannot be sent as given, or NULL. */
static const char *request_problem(const struct aws_request *req)
{
	const struct aws_service *s = req->service;
	if (!s || !s->name || !s->endpoint_id || !s->endpoint_prefix || !s->signing_name)
		return "no service";
	if (!req->method || !method_known(req->method))
		return "unknown method";
	if (!req->path || req->path[0] != '/' || !wire_text_valid(req->path, PATH_LEN_MAX, "?#"))
		return "path must start with '/' and be percent-encoded";
	if (req->query && !wire_text_valid(req->query, QUERY_LEN_MAX, "#"))
		return "query must be percent-encoded";
	if (req->n_headers > REQUEST_HEADERS_MAX || (req->n_headers && !req->headers))
		return "too many headers";
	for (size_t i = 0; i < req->n_headers; i++)
		if (!req->headers[i].name || !req->headers[i].value || !header_name_valid(req->headers[i].name) ||
		    !header_value_valid(req->headers[i].value))
			return "malformed or reserved header";
	if (req->body_len && !req->body)
		return "body length without a body";
	if (req->body_len && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0))
		return "a body on GET or HEAD";
	if (req->timeout_ms < 0)
		return "negative timeout";
	size_t n_accept = 0;
	for (const long *a = req->accept_status; a && *a; a++)
		if (++n_accept > ACCEPT_STATUS_MAX)
			return "too many accepted statuses";
	return NULL;
}

/* Splits "scheme://authority[/base]" into the Host header (default port left out) and the
 * base path the request's path goes under. Returns 0, or -1 for a form we do not send to. */
static int split_endpoint(const char *url, char *host, size_t host_cap, const char **base_path)
{
	bool https = strncmp(url, "https://", 8) == 0;
	if (!https && strncmp(url, "http://", 7) != 0)
		return -1;
	const char *auth = url + (https ? 8 : 7);
	size_t n = strcspn(auth, "/?#");
	if (strpbrk(auth + n, "?#") || memchr(auth, '@', n))
		return -1; /* a query, fragment or user name in an endpoint: nothing AWS would use */
	*base_path = auth + n;
	size_t host_len = n;
	const char *bracket = memchr(auth, ']', n);
	const char *from = bracket ? bracket : auth;
	const char *colon = memchr(from, ':', n - (size_t)(from - auth));
	if (colon) {
		const char *port = colon + 1;
		size_t plen = (size_t)(auth + n - port);
		if ((https && plen == 3 && memcmp(port, "443", 3) == 0) || (!https && plen == 2 && memcmp(port, "80", 2) == 0))
			host_len = (size_t)(colon - auth);
	}
	if (host_len == 0 || host_len >= host_cap)
		return -1;
	memcpy(host, auth, host_len);
	host[host_len] = '\0';
	return 0;
}

/* The URL, signed path and Host for the op; on failure the op reports why, from the loop. */
static int op_locate(struct aws_op *op, const char *path, const char *query)
{
	struct aws_client *c = op->client;
	const struct aws_service *s = op->service;
	if (!c->region[0]) {
		op_fail_soon(op, "NoRegion", region_message(c));
		return -1;
	}
	char base[AWS_ENDPOINT_URL_MAX];
	const char *base_path = NULL;
	if (aws_endpoint_url(s->endpoint_id, s->endpoint_prefix, c->region, base, sizeof base) != 0 ||
	    split_endpoint(base, op->host, sizeof op->host, &base_path) != 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "the endpoint for %s is not usable: check AWS_ENDPOINT_URL_%s and "
		         "AWS_ENDPOINT_URL", s->name, s->endpoint_id);
		op_fail_soon(op, "InvalidEndpoint", msg);
		return -1;
	}
	size_t origin_len = (size_t)(base_path - base);
	size_t path_len = strlen(base_path) + strlen(path);
	size_t url_len = origin_len + path_len + (query ? 1 + strlen(query) : 0);
	op->path = malloc(path_len + 1);
	op->url = malloc(url_len + 1);
	if (query && query[0])
		op->query = strdup(query);
	if (!op->path || !op->url || (query && query[0] && !op->query))
		return -1;
	snprintf(op->path, path_len + 1, "%s%s", base_path, path);
	snprintf(op->url, url_len + 1, "%.*s%s%s%s", (int)origin_len, base, op->path, op->query ? "?" : "",
	         op->query ? op->query : "");
	return 0;
}

static int op_copy_request(struct aws_op *op, const struct aws_request *req)
{
	snprintf(op->method, sizeof op->method, "%s", req->method);
	for (size_t i = 0; i < req->n_headers; i++) {
		struct op_header *h = &op->headers[op->n_headers];
		h->name = strdup(req->headers[i].name);
		h->value = strdup(req->headers[i].value);
		if (h->name || h->value)
			op->n_headers++;
		if (!h->name || !h->value)
			return -1;
		if (strcasecmp(h->name, "content-type") == 0)
			op->has_content_type = true;
	}
	if (req->body_len) {
		op->body = malloc(req->body_len);
		if (!op->body)
			return -1;
		memcpy(op->body, req->body, req->body_len);
		op->body_len = req->body_len;
	}
	sigv4_sha256_hex(op->body ? op->body : "", op->body_len, op->payload_hash);
	for (const long *a = req->accept_status; a && *a; a++) /* counted in request_problem */
		op->accept[op->n_accept++] = *a;
	return 0;
}

struct aws_op *aws_call(struct aws_client *c, const struct aws_request *req, aws_done_fn done, void *arg)
{
	if (!c || !req || !done) {
		log_error("aws_call_invalid", LOG_STR("reason", "no client, request or callback"));
		return NULL;
	}
	const char *problem = request_problem(req);
	if (problem) {
		log_error("aws_call_invalid", LOG_STR("service", req->service && req->service->name ? req->service->name : "?"),
		          LOG_STR("reason", problem));
		return NULL;
	}
	struct aws_op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	op->client = c;
	op->service = req->service;
	op->done = done;
	op->arg = arg;
	op->on_data = req->on_data;
	op->not_idempotent = req->not_idempotent;
	op->data_arg = req->data_arg;
	op->max_response = req->max_response ? req->max_response : AWS_HTTP_DEFAULT_MAX_RESPONSE;
	op->timeout_ms = req->timeout_ms ? req->timeout_ms : c->timeout_ms;
	op->idle_timeout_ms = req->idle_timeout_ms > 0 ? req->idle_timeout_ms : 0;
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	op->timer = evtimer_new(c->base, on_op_timer, op);
	if (!op->timer || op_copy_request(op, req) != 0) {
		log_error("aws_call_failed_to_start", LOG_STR("service", req->service->name), LOG_STR("reason", "out of memory"));
		op_free(op);
		return NULL;
	}
	if (op_locate(op, req->path, req->query) == 0)
		op_attempt(op);
	else if (op->state != OP_FAILING) {
		op_free(op);
		return NULL;
	}
	return op;
}

void aws_op_cancel(struct aws_op *op)
{
	if (!op || op->cancelled)
		return;
	if (op->in_sink || op->delivering) {
		op->cancelled = true; /* freed when its sink or callback returns */
		return;
	}
	op_free(op);
}

struct aws_op *aws_call_json(struct aws_client *c, const struct aws_service *service,
                             const char *json_version, const char *target, const void *body_json,
                             size_t max_response, aws_done_fn done, void *arg)
{
	if (!json_version || (strcmp(json_version, "1.0") != 0 && strcmp(json_version, "1.1") != 0) || !target) {
		log_error("aws_call_invalid", LOG_STR("reason", "JSON protocol version must be 1.0 or 1.1, with a target"));
		return NULL;
	}
	char content_type[40];
	snprintf(content_type, sizeof content_type, "application/x-amz-json-%s", json_version);
	char *body = body_json ? json_dumps(body_json, JSON_COMPACT) : strdup("{}");
	if (!body) {
		log_error("aws_call_invalid", LOG_STR("reason", "request body not serialisable"));
		return NULL;
	}
	struct sigv4_header headers[] = { { "Content-Type", content_type }, { "X-Amz-Target", target } };
	struct aws_request req = {
		.service = service, .method = "POST", .path = "/", .headers = headers, .n_headers = 2,
		.body = body, .body_len = strlen(body), .max_response = max_response,
	};
	struct aws_op *op = aws_call(c, &req, done, arg);
	wipe_free_str(body);
	return op;
}

/* ---- the client ---- */

static int max_attempts_from_env(int fallback)
{
	const char *v = getenv("AWS_MAX_ATTEMPTS");
	if (!v || !v[0])
		return fallback;
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < 1 || n > MAX_ATTEMPTS_LIMIT) {
		log_warn("aws_max_attempts_ignored", LOG_STR("variable", "AWS_MAX_ATTEMPTS"),
		         LOG_STR("hint", "a whole number from 1 to 10"));
		return fallback;
	}
	return (int)n;
}

struct aws_client *aws_client_new(struct event_base *base, const struct aws_client_options *opt)
{
	if (!base)
		return NULL;
	struct aws_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	int attempts = opt && opt->max_attempts > 0 ? opt->max_attempts : DEFAULT_MAX_ATTEMPTS;
	c->max_attempts = max_attempts_from_env(attempts > MAX_ATTEMPTS_LIMIT ? MAX_ATTEMPTS_LIMIT : attempts);
	c->base_backoff_ms = opt && opt->base_backoff_ms > 0 ? opt->base_backoff_ms : DEFAULT_BASE_BACKOFF_MS;
	c->max_backoff_ms = opt && opt->max_backoff_ms > 0 ? opt->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
	if (c->max_backoff_ms > BACKOFF_LIMIT_MS)
		c->max_backoff_ms = BACKOFF_LIMIT_MS;
	if (c->base_backoff_ms > c->max_backoff_ms)
		c->base_backoff_ms = c->max_backoff_ms;
	c->timeout_ms = opt && opt->timeout_ms > 0 ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = opt && opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->quota = QUOTA_MAX;
	sigv4_key_cache_init(&c->keys);
	if (aws_region_from_env(c->region, sizeof c->region) != 0) {
		c->region[0] = '\0';
		const char *r = getenv("AWS_REGION"), *d = getenv("AWS_DEFAULT_REGION");
		c->region_invalid = (r && r[0]) || (d && d[0]);
	}
	c->http = aws_http_new(base);
	if (!c->http) {
		free(c);
		return NULL;
	}
	c->creds = aws_cred_provider_new(c->http, NULL); /* NULL: malformed settings, logged */
	if (c->creds)
		aws_cred_provider_on_update(c->creds, on_credentials_update, c);
	if (!c->region[0])
		log_warn("aws_region_missing", LOG_STR("hint", region_message(c)));
	return c;
}

void aws_client_free(struct aws_client *c)
{
	if (!c)
		return;
	while (c->ops)
		op_free(c->ops);
	aws_cred_provider_free(c->creds);
	aws_http_free(c->http);
	sigv4_key_cache_wipe(&c->keys);
	mbedtls_platform_zeroize(c, sizeof *c);
	free(c);
}

const char *aws_client_region(const struct aws_client *c)
{
	return c->region;
}

const char *aws_client_unavailable(struct aws_client *c)
{
	if (!c->region[0])
		return region_message(c);
	if (c->creds && (aws_cred_provider_current(c->creds) || fetch_in_flight(c->creds)))
		return NULL;
	credentials_message(c, false, c->why, sizeof c->why);
	return c->why;
}

struct aws_cred_provider *aws_client_credentials(struct aws_client *c)
{
	return c->creds;
}

/* ---- results and helpers ---- */

int aws_result_header(const struct aws_result *res, const char *name, char *out, size_t cap)
{
	if (!res || !name || !out || cap == 0)
		return -1;
	out[0] = '\0';
	size_t name_len = strlen(name);
	if (name_len == 0 || strchr(name, ':') || !res->headers)
		return -1;
	const char *p = res->headers, *end = res->headers + res->headers_len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol : end;
		if ((size_t)(line_end - p) > name_len && p[name_len] == ':' && strncasecmp(p, name, name_len) == 0) {
			const char *v = p + name_len + 1, *ve = line_end;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			size_t n = (size_t)(ve - v);
			if (n >= cap)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		p = eol ? eol + 1 : end;
	}
	return -1;
}

void aws_result_describe(const struct aws_result *res, char *out, size_t cap)
{
	if (!out || cap == 0)
		return;
	const char *service = res && res->service ? res->service : "AWS";
	int n;
	if (!res)
		n = snprintf(out, cap, "AWS: no result");
	else if (res->ok)
		n = snprintf(out, cap, "%s: OK (HTTP %ld)", service, res->status);
	else if (res->message[0])
		n = snprintf(out, cap, "%s: %s: %s", service, res->code[0] ? res->code : "Error", res->message);
	else
		n = snprintf(out, cap, "%s: %s", service, res->code[0] ? res->code : "Error");
	if (n > 0 && (size_t)n >= cap) /* cut: end on a whole UTF-8 character */
		copy_text(out, cap, out, strlen(out));
}

int aws_uri_encode(const char *in, size_t in_len, bool keep_slash, char *out, size_t cap)
{
	if (!in || !out || cap == 0)
		return -1;
	size_t n = sigv4_uri_encode(out, cap, in, in_len, keep_slash);
	if (n == (size_t)-1 || n > INT_MAX)
		return -1;
	return (int)n;
}
