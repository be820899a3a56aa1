/* lambda_invoke: one Invoke of an allowed function (synchronous, Event or DryRun), its answer
 * as a capped structured result, and a function's own failure as a tool error that shows it. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_tool.h"
#include "log.h"
#include "ops.h"
#include "ops_json.h"

/* Lambda answers a synchronous invoke with at most 6 MB. */
#define LAMBDA_RESPONSE_MAX (6u * 1024u * 1024u + 4096u)
/* A synchronous invoke lasts as long as the function runs, up to Lambda's 15 minutes. An
 * attempt cut short earlier would be retried, and the function run twice. */
#define LAMBDA_SYNC_TIMEOUT_MS (905L * 1000L)
#define LAMBDA_PATH_MAX (3 * LAMBDA_FUNCTION_MAX + 64)
#define LAMBDA_QUERY_MAX (3 * LAMBDA_QUALIFIER_MAX + 16)

enum invocation { INVOKE_SYNC, INVOKE_EVENT, INVOKE_DRY_RUN };

static const char *const invocation_type[] = { "RequestResponse", "Event", "DryRun" };

struct invoke {
	struct mcp_call *call;
	struct aws_op *op;
	enum invocation type;
	char function[LAMBDA_FUNCTION_MAX + 1];
	char qualifier[LAMBDA_QUALIFIER_MAX + 1];
};

static struct allowlist functions;
static struct group_limits limits;

/* Names match name patterns and ARNs match ARN patterns, never across: '*' also matches ':',
 * so a name pattern such as "*-prod" would otherwise allow
 * "arn:aws:lambda:REGION:OTHER-ACCOUNT:function:evil-prod". */
static bool function_allowed(const char *function)
{
	bool is_arn = strncmp(function, "arn:", 4) == 0;
	for (size_t i = 0; i < functions.n; i++) {
		bool pattern_is_arn = strncmp(functions.patterns[i], "arn:", 4) == 0;
		if (pattern_is_arn == is_arn && fnmatch(functions.patterns[i], function, 0) == 0)
			return true;
	}
	return false;
}

static void invoke_free(struct invoke *iv)
{
	free(iv);
}

/* "function 'f'" or "function 'f' qualifier 'q'", for errors. */
static void describe(const struct invoke *iv, char *out, size_t cap)
{
	if (iv->qualifier[0])
		snprintf(out, cap, "function '%s' qualifier '%s'", iv->function, iv->qualifier);
	else
		snprintf(out, cap, "function '%s'", iv->function);
}

/* A function that ran and failed: the tool failed, and the model sees the function's own
 * error payload (errorType, errorMessage) beside the structured result. */
static json_t *function_failed(const struct invoke *iv, json_t *structured, const char *kind)
{
	char summary[1024], what[LAMBDA_FUNCTION_MAX + LAMBDA_QUALIFIER_MAX + 64];
	lambda_error_summary(json_object_get(structured, "payload"), summary, sizeof summary);
	describe(iv, what, sizeof what);
	char line[2048];
	snprintf(line, sizeof line, "lambda_invoke: %s ran and failed (%s)%s%s; its error payload follows",
	         what, kind, summary[0] ? ": " : "", summary);
	json_t *r = mcp_tool_structured(structured);
	json_t *content = json_object_get(r, "content");
	if (!r || !json_is_array(content) ||
	    json_array_insert_new(content, 0, json_pack("{s:s, s:s}", "type", "text", "text", line)) != 0 ||
	    json_object_set_new(r, "isError", json_true()) != 0) {
		json_decref(r);
		return mcp_tool_error("%s", line);
	}
	return r;
}

static void invoked(const struct aws_result *res, void *arg)
{
	struct invoke *iv = arg;
	struct mcp_call *call = iv->call;
	iv->op = NULL;
	if (!res->ok) {
		char what[LAMBDA_FUNCTION_MAX + LAMBDA_QUALIFIER_MAX + 64];
		describe(iv, what, sizeof what);
		if (strcmp(res->code, "ResourceNotFoundException") == 0)
			strncat(what, " does not exist (or these credentials cannot see it)",
			        sizeof what - strlen(what) - 1);
		aws_tool_fail(call, res, what);
		invoke_free(iv);
		return;
	}
	if (iv->type == INVOKE_EVENT) {
		mcp_call_finish(call, mcp_tool_structured(json_pack("{s:I, s:b}", "status",
		                                                    (json_int_t)res->status, "queued", 1)));
		invoke_free(iv);
		return;
	}
	if (iv->type == INVOKE_DRY_RUN) {
		mcp_call_finish(call, mcp_tool_structured(json_pack("{s:I, s:b}", "status",
		                                                    (json_int_t)res->status, "dry_run", 1)));
		invoke_free(iv);
		return;
	}
	char version[LAMBDA_VERSION_MAX + 1], failure[LAMBDA_VERSION_MAX + 1];
	bool has_version = aws_result_header(res, "X-Amz-Executed-Version", version, sizeof version) == 0;
	bool failed = aws_result_header(res, "X-Amz-Function-Error", failure, sizeof failure) == 0;
	json_t *structured = lambda_invoke_result(res->status, has_version ? version : NULL,
	                                          failed ? failure : NULL, res->body, res->body_len,
	                                          limits.result_cap);
	if (!structured)
		mcp_call_fail(call, "lambda_invoke: out of memory building the result");
	else if (failed)
		mcp_call_finish(call, function_failed(iv, structured, failure[0] ? failure : "error"));
	else
		mcp_call_finish(call, mcp_tool_structured(structured));
	invoke_free(iv);
}

static void invoke_cancelled(struct mcp_call *call, void *arg)
{
	struct invoke *iv = arg;
	aws_op_cancel(iv->op);
	invoke_free(iv);
	mcp_call_fail(call, "lambda_invoke: cancelled");
}

/* The argument checks, in the order a caller fixes them. NULL when all pass. */
static const char *check_arguments(json_t *args, const char **arn_qualifier)
{
	const char *function = json_string_value(json_object_get(args, "function"));
	json_t *q = json_object_get(args, "qualifier");
	if (!lambda_function_valid(function, arn_qualifier))
		return "function must be a function name (1-64 of A-Z a-z 0-9 - _) or a full ARN "
		       "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] of at most 170 characters";
	if (q && (!json_is_string(q) || !lambda_qualifier_valid(json_string_value(q))))
		return "qualifier must be a version or alias: 1-128 of A-Z a-z 0-9 $ _ -";
	const char *qualifier = json_string_value(q);
	if (qualifier && qualifier[0] && *arn_qualifier && strcmp(qualifier, *arn_qualifier) != 0)
		return "the function's ARN names a different qualifier than the qualifier argument; give it once";
	if (json_is_true(json_object_get(args, "asynchronous")) && json_is_true(json_object_get(args, "dry_run")))
		return "asynchronous and dry_run exclude each other: a dry run invokes nothing";
	return NULL;
}

static struct aws_op *invoke_start(struct invoke *iv, const char *body)
{
	char encoded[LAMBDA_PATH_MAX], path[LAMBDA_PATH_MAX + 64], query[LAMBDA_QUERY_MAX] = "";
	int n = aws_uri_encode(iv->function, strlen(iv->function), false, encoded, sizeof encoded);
	if (n < 0)
		return NULL;
	snprintf(path, sizeof path, "/2015-03-31/functions/%s/invocations", encoded);
	if (iv->qualifier[0]) {
		memcpy(query, "Qualifier=", 10);
		if (aws_uri_encode(iv->qualifier, strlen(iv->qualifier), false, query + 10, sizeof query - 10) < 0)
			return NULL;
	}
	const struct sigv4_header headers[] = {
		{ "Content-Type", "application/json" },
		{ "X-Amz-Invocation-Type", invocation_type[iv->type] },
	};
	const struct aws_request req = {
		.service = &AWS_LAMBDA, .method = "POST", .path = path, .query = query[0] ? query : NULL,
		.headers = headers, .n_headers = sizeof headers / sizeof headers[0],
		.body = body, .body_len = strlen(body),
		.max_response = iv->type == INVOKE_SYNC ? LAMBDA_RESPONSE_MAX : 64 * 1024,
		.timeout_ms = iv->type == INVOKE_SYNC ? LAMBDA_SYNC_TIMEOUT_MS : 0,
		/* A function that may have run must not be run again by a retry. */
		.not_idempotent = iv->type == INVOKE_SYNC,
	};
	return aws_call(aws_tool_client(), &req, invoked, iv);
}

static void lambda_invoke(struct mcp_call *call, json_t *args)
{
	const char *arn_qualifier = NULL;
	const char *problem = check_arguments(args, &arn_qualifier);
	if (problem) {
		mcp_call_fail(call, "lambda_invoke: %s; no request was made", problem);
		return;
	}
	const char *function = json_string_value(json_object_get(args, "function"));
	json_t *payload = json_object_get(args, "payload");
	json_t *empty = payload ? NULL : json_object();
	char *body = json_dumps(payload ? payload : empty, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(empty);
	if (!body) {
		mcp_call_fail(call, "lambda_invoke: the payload could not be encoded; no request was made");
		return;
	}
	size_t body_len = strlen(body);
	if (body_len > limits.max_payload) {
		free(body);
		mcp_call_fail(call, "lambda_invoke: the payload is %zu bytes as JSON; this server sends at "
		              "most %zu (settings.max_payload_bytes); no request was made", body_len,
		              limits.max_payload);
		return;
	}
	if (!function_allowed(function)) {
		free(body);
		aws_tool_refuse(call, "function", function, "functions");
		return;
	}
	if (aws_tool_refuse_unavailable(call)) {
		free(body);
		return;
	}
	struct invoke *iv = calloc(1, sizeof *iv);
	if (!iv) {
		free(body);
		mcp_call_fail(call, "lambda_invoke: out of memory; no request was made");
		return;
	}
	iv->call = call;
	iv->type = json_is_true(json_object_get(args, "asynchronous")) ? INVOKE_EVENT
	         : json_is_true(json_object_get(args, "dry_run")) ? INVOKE_DRY_RUN : INVOKE_SYNC;
	snprintf(iv->function, sizeof iv->function, "%s", function);
	const char *qualifier = json_string_value(json_object_get(args, "qualifier"));
	/* A qualifier in the ARN travels in the path; one given apart goes in the query. */
	if (qualifier && qualifier[0] && !arn_qualifier)
		snprintf(iv->qualifier, sizeof iv->qualifier, "%s", qualifier);
	iv->op = invoke_start(iv, body);
	free(body);
	if (!iv->op) {
		invoke_free(iv);
		mcp_call_fail(call, "lambda_invoke: the request could not be built; no request was made");
		return;
	}
	mcp_call_on_cancel(call, invoke_cancelled, iv);
}

static const struct mcp_tool tools[] = {
	{ "lambda_invoke",
	  "Invoke an allowed Lambda function with a JSON payload. Synchronous by default (the "
	  "function's answer comes back, capped); asynchronous queues an Event invocation; dry_run "
	  "only checks that the call would be allowed. A function that fails returns a tool error "
	  "with its errorType and errorMessage.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"function\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":170,\"description\":\"Function name, or its full ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])\"},"
	  "\"payload\":{\"description\":\"The event to pass: any JSON value (default {})\"},"
	  "\"qualifier\":{\"type\":\"string\",\"maxLength\":128,\"description\":\"Version or alias\"},"
	  "\"asynchronous\":{\"type\":\"boolean\",\"description\":\"Queue an Event invocation and do not wait for the result\"},"
	  "\"dry_run\":{\"type\":\"boolean\",\"description\":\"Check permissions and parameters without running the function\"}},"
	  "\"required\":[\"function\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"status\":{\"type\":\"integer\",\"description\":\"HTTP status of the invocation (200, 202 queued, 204 dry run)\"},"
	  "\"executed_version\":{\"type\":[\"string\",\"null\"]},"
	  "\"function_error\":{\"type\":[\"string\",\"null\"],\"description\":\"Unhandled or Handled when the function failed\"},"
	  "\"payload\":{\"description\":\"The function's answer: its JSON, or {text} when not JSON or cut, {binary, bytes} when not text\"},"
	  "\"queued\":{\"type\":\"boolean\"},\"dry_run\":{\"type\":\"boolean\"},"
	  "\"truncated\":{\"type\":\"string\"}},"
	  "\"required\":[\"status\"],\"additionalProperties\":false}",
	  lambda_invoke },
};

static int lambda_init(json_t *settings, const struct group_limits *l, char *err, size_t errlen)
{
	limits = *l;
	return allowlist_load(&functions, settings, "functions", err, errlen);
}

static void lambda_fini(void)
{
	allowlist_free(&functions);
}

static const char *const keys[] = { "functions", NULL };
const struct tool_group lambda_group = { tools, sizeof tools / sizeof tools[0], keys, lambda_init,
                                        lambda_fini };
