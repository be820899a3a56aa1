/* One call to an AWS service API: endpoint, SigV4, libcurl (through aws_http), AWS's standard
 * retry behaviour for throttling, transient errors and 5xx (bounded attempts, exponential
 * backoff with full jitter, a retry quota), and every failure turned into service, code and
 * message a tool error can show. Everything runs on the process's libevent loop. */
#ifndef MCPGATE_AWS_SERVICE_H
#define MCPGATE_AWS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "credentials.h"
#include "http.h"
#include "sigv4.h"

struct event_base;

/* A service as its endpoint, signer and error messages know it. */
struct aws_service {
	const char *name;            /* for messages: "S3", "DynamoDB", "Bedrock Runtime" */
	const char *endpoint_id;     /* AWS_ENDPOINT_URL_<ID>: "S3", "DYNAMODB", "BEDROCK_RUNTIME" */
	const char *endpoint_prefix; /* host prefix: "s3", "dynamodb", "bedrock-runtime" */
	const char *signing_name;    /* SigV4 service: "s3", "dynamodb", "bedrock" */
	unsigned sigv4_flags;        /* SIGV4_S3 for S3 */
};

extern const struct aws_service AWS_S3, AWS_DYNAMODB, AWS_SQS, AWS_LAMBDA, AWS_SECRETS_MANAGER,
	AWS_BEDROCK_RUNTIME, AWS_BEDROCK_AGENT_RUNTIME, AWS_STS;

struct aws_client; /* one per process: aws_http, credential provider, region, retry quota */

struct aws_client_options {
	int max_attempts;         /* per call, first try included; 0: 3 (AWS "standard" mode) */
	long base_backoff_ms;     /* 0: 100; the n-th retry waits random(0, base * 2^n) */
	long max_backoff_ms;      /* 0: 20000 */
	long timeout_ms;          /* per attempt; 0: 30000 */
	long connect_timeout_ms;  /* 0: 3000 */
};

/* Reads AWS_REGION / AWS_DEFAULT_REGION and the credential chain's environment now. Never
 * fails for a missing region or credentials: calls then fail with a clear message (see
 * aws_client_unavailable). NULL only on allocation failure. AWS_MAX_ATTEMPTS overrides
 * max_attempts when set (1..10). */
struct aws_client *aws_client_new(struct event_base *base, const struct aws_client_options *opt);
/* Cancels every call in flight (their callbacks are not called) and wipes every secret. */
void aws_client_free(struct aws_client *c);

/* "" when no region is configured. */
const char *aws_client_region(const struct aws_client *c);
/* NULL when calls can be attempted; otherwise why not, for a tool error ("no AWS region is
 * configured: set AWS_REGION"; "no AWS credentials: ..." naming the sources tried). */
const char *aws_client_unavailable(struct aws_client *c);
/* The client's provider, for its stats and source. The client owns its update callback (it
 * resumes parked calls there): do not set another. NULL when the credential settings in the
 * environment are malformed (logged; calls then fail with "CredentialsUnavailable"). */
struct aws_cred_provider *aws_client_credentials(struct aws_client *c);

/* Body chunks of a successful (2xx) response as they arrive, for streamed answers
 * (ConverseStream's event stream). Return 0 to go on, -1 to stop the call: it then ends
 * with code "StreamAborted". Once a chunk was delivered the call is never retried. */
typedef int (*aws_data_fn)(const void *chunk, size_t len, void *arg);

struct aws_request {
	const struct aws_service *service;
	const char *method; /* "GET", "PUT", "POST", "DELETE", "HEAD" */
	/* Path and query exactly as sent (already percent-encoded: see aws_uri_encode). */
	const char *path;
	const char *query; /* without '?'; NULL for none */
	/* Extra headers to send and sign (content-type, x-amz-target, range, ...); host,
	 * x-amz-date, authorization and the token are the client's own. */
	const struct sigv4_header *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	size_t max_response;  /* buffered body bytes; 0: 1 MiB; more fails with "ResponseTooLarge" */
	long timeout_ms;      /* per attempt; 0: the client's */
	long idle_timeout_ms; /* streamed answers: fail when nothing arrives for this long; 0: none */
	aws_data_fn on_data;  /* NULL: buffer the body */
	void *data_arg;
	/* Statuses that are an answer rather than an error (e.g. 404 for S3 HEAD): 0-terminated. */
	const long *accept_status;
	/* The request must not run twice (a synchronous Lambda invocation): it is retried only
	 * when it certainly did not reach the service (host not found, connection refused, TLS
	 * handshake failed) or the service refused it as throttled. A timeout or a dropped
	 * answer then surfaces instead of running the work again. */
	bool not_idempotent;
};

struct aws_result {
	bool ok;                /* a 2xx (or accepted) status arrived */
	long status;            /* HTTP status of the last attempt; 0 when none arrived */
	const char *body;       /* NUL-terminated; valid only during the callback (empty if streamed) */
	size_t body_len;
	const char *headers;    /* raw response header lines of the last attempt, for aws_result_header */
	size_t headers_len;
	unsigned attempts;
	/* When !ok: e.g. service "S3", code "NoSuchKey", message "The specified key does not exist."
	 * Transport failures use codes "Timeout", "ConnectionFailed", "TLSVerificationFailed",
	 * "ResponseTooLarge", "CredentialsUnavailable", "NoRegion", "StreamAborted". */
	const char *service;
	char code[128];
	char message[512];
};

/* Called exactly once per call from the loop, unless cancelled first. May start or cancel
 * other calls; must not free the client. */
typedef void (*aws_done_fn)(const struct aws_result *res, void *arg);

struct aws_op;

/* Signs (fresh for every attempt), sends, retries, and calls `done`. If credentials are being
 * fetched the call waits for them (within its timeout). Returns NULL only when the request is
 * malformed or memory ran out (logged); a missing region or credentials is reported through
 * `done`, from the loop, never re-entrantly. */
struct aws_op *aws_call(struct aws_client *c, const struct aws_request *req, aws_done_fn done,
                        void *arg);
void aws_op_cancel(struct aws_op *op);

/* The AWS JSON protocols (DynamoDB, SQS: "1.0"; Secrets Manager: "1.1"): POST / with
 * Content-Type application/x-amz-json-<version> and X-Amz-Target: <target>. `body` is dumped
 * compactly; the reference is not stolen. */
struct aws_op *aws_call_json(struct aws_client *c, const struct aws_service *service,
                             const char *json_version, const char *target, const void *body_json,
                             size_t max_response, aws_done_fn done, void *arg);

/* "A single response header's value, trimmed; 0, or -1 when absent or it does not fit. */
int aws_result_header(const struct aws_result *res, const char *name, char *out, size_t cap);

/* "<Service>: <Code>: <message>" (no trailing period added), for a tool error. */
void aws_result_describe(const struct aws_result *res, char *out, size_t cap);

/* Percent-encodes per RFC 3986 (unreserved bytes kept); with keep_slash, '/' is kept (S3
 * object keys in paths). Returns the length, or -1 when it does not fit. */
int aws_uri_encode(const char *in, size_t in_len, bool keep_slash, char *out, size_t cap);

/* Parses an AWS error body (JSON: "__type"/"code" and "message"/"Message"; XML: <Error> or
 * <ErrorResponse><Error> with <Code> and <Message>) and the x-amzn-ErrorType header into
 * code and message. Codes are cut at '#' (JSON namespaces) and ':' (header URLs). Returns 0
 * when a code was found, -1 otherwise (code and message then hold "" ). Pure, for fuzzing. */
int aws_error_parse(const char *body, size_t body_len, const char *error_type_header,
                    char *code, size_t code_cap, char *message, size_t message_cap);

/* Whether AWS's standard retry policy retries this answer: throttling codes, transient codes,
 * 500/502/503/504, and transport failures (not "ResponseTooLarge" or "CredentialsUnavailable"). */
bool aws_error_retryable(long status, const char *code, int curl_code);

#endif
