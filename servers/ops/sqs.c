/* sqs_send, sqs_receive, sqs_delete on allowed queues, named by NAME. A queue's URL comes from
 * GetQueueUrl once and is kept; every request still goes to the configured SQS endpoint: the
 * URL only travels in the JSON body (an emulator's URL names its own host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_tool.h"
#include "log.h"
#include "ops.h"
#include "ops_json.h"

#define QUEUE_CACHE_MAX 64
#define SMALL_RESPONSE_MAX (64u * 1024u)
/* Ten messages of up to 1 MiB each, with their attributes. */
#define RECEIVE_RESPONSE_MAX (12u * 1024u * 1024u)
/* A long poll holds the answer back for wait_seconds: an attempt must outlast it. */
#define RECEIVE_TIMEOUT_BASE_MS 30000L

enum sqs_action { SQS_SEND, SQS_RECEIVE, SQS_DELETE };

static const struct {
	const char *tool;
	const char *target;
} actions[] = {
	[SQS_SEND] = { "sqs_send", "AmazonSQS.SendMessage" },
	[SQS_RECEIVE] = { "sqs_receive", "AmazonSQS.ReceiveMessage" },
	[SQS_DELETE] = { "sqs_delete", "AmazonSQS.DeleteMessage" },
};

/* One tool call: first the queue's URL (unless cached), then the action. */
struct sqs_job {
	struct mcp_call *call;
	struct aws_op *op;
	enum sqs_action action;
	char queue[SQS_QUEUE_NAME_MAX + 1];
	json_t *request;    /* the action's body; its QueueUrl goes in once known */
	long timeout_ms;    /* per attempt; 0: the client's */
	size_t max_response;
};

static struct allowlist queues;
static struct group_limits limits;

/* ---- queue URLs ---- */

static struct {
	char *name;
	char *url;
} cache[QUEUE_CACHE_MAX];
static size_t cache_victim; /* next slot to reuse once all are taken */

static const char *cache_get(const char *name)
{
	for (size_t i = 0; i < QUEUE_CACHE_MAX; i++)
		if (cache[i].name && strcmp(cache[i].name, name) == 0)
			return cache[i].url;
	return NULL;
}

static void cache_clear(size_t i)
{
	free(cache[i].name);
	free(cache[i].url);
	cache[i].name = cache[i].url = NULL;
}

static void cache_drop(const char *name)
{
	for (size_t i = 0; i < QUEUE_CACHE_MAX; i++)
		if (cache[i].name && strcmp(cache[i].name, name) == 0)
			cache_clear(i);
}

static void cache_put(const char *name, const char *url)
{
	cache_drop(name);
	size_t slot = QUEUE_CACHE_MAX;
	for (size_t i = 0; i < QUEUE_CACHE_MAX && slot == QUEUE_CACHE_MAX; i++)
		if (!cache[i].name)
			slot = i;
	if (slot == QUEUE_CACHE_MAX) {
		slot = cache_victim;
		cache_victim = (cache_victim + 1) % QUEUE_CACHE_MAX;
		cache_clear(slot);
	}
	cache[slot].name = strdup(name);
	cache[slot].url = strdup(url);
	if (!cache[slot].name || !cache[slot].url)
		cache_clear(slot); /* not kept: the next call asks again */
}

/* ---- a call's life ---- */

static void job_free(struct sqs_job *job)
{
	json_decref(job->request);
	free(job);
}

static void job_cancelled(struct mcp_call *call, void *arg)
{
	struct sqs_job *job = arg;
	aws_op_cancel(job->op);
	job_free(job);
	mcp_call_fail(call, "%s: cancelled", mcp_call_tool(call));
}

static void job_fail_aws(struct sqs_job *job, const struct aws_result *res)
{
	char context[SQS_QUEUE_NAME_MAX + 64];
	if (sqs_queue_missing(res->code)) {
		cache_drop(job->queue);
		snprintf(context, sizeof context, "queue '%s' does not exist", job->queue);
	} else {
		snprintf(context, sizeof context, "queue '%s'", job->queue);
	}
	aws_tool_fail(job->call, res, context);
	job_free(job);
}

static void job_fail(struct sqs_job *job, const char *what, const char *detail)
{
	mcp_call_fail(job->call, "%s: queue '%s': %s%s", actions[job->action].tool, job->queue, what,
	              detail ? detail : "");
	job_free(job);
}

static bool corrupted(const json_t *out)
{
	const char *integrity = json_string_value(json_object_get(out, "integrity"));
	return integrity && strcmp(integrity, SQS_INTEGRITY_MISMATCH) == 0;
}

/* SQS took the message but its digest says it did not get what we sent: a tool error, and no
 * second attempt, since sending again could put the message on the queue twice. */
static void send_corrupted(struct sqs_job *job, json_t *out)
{
	const char *id = json_string_value(json_object_get(out, "message_id"));
	log_warn("sqs_digest_mismatch", LOG_STR("tool", actions[job->action].tool), LOG_STR("queue", job->queue),
	         LOG_STR("message_id", id));
	mcp_call_fail(job->call, "sqs_send: SQS: %s; the message may be on the queue '%s' (message_id %s), "
	              "possibly corrupted in transit: it was not sent again, since a retry could duplicate "
	              "it; look for it with sqs_receive before sending it again",
	              json_string_value(json_object_get(out, "integrity_detail")), job->queue, id);
	json_decref(out);
	job_free(job);
}

/* Received messages that do not match stay in the result, marked; the log says how many. */
static void receive_corrupted(const struct sqs_job *job, const json_t *out)
{
	size_t i, count = 0;
	json_t *m;
	json_array_foreach(json_object_get(out, "messages"), i, m)
		count += corrupted(m);
	if (count > 0)
		log_warn("sqs_digest_mismatch", LOG_STR("tool", actions[job->action].tool),
		         LOG_STR("queue", job->queue), LOG_INT("messages", count));
}

static void acted(const struct aws_result *res, void *arg)
{
	struct sqs_job *job = arg;
	job->op = NULL;
	if (!res->ok) {
		job_fail_aws(job, res);
		return;
	}
	char err[256] = "";
	json_t *out = NULL;
	switch (job->action) {
	case SQS_SEND:
		out = sqs_send_result(res->body, res->body_len, job->request, err, sizeof err);
		if (out && corrupted(out)) {
			send_corrupted(job, out);
			return;
		}
		break;
	case SQS_RECEIVE:
		out = sqs_receive_result(res->body, res->body_len, limits.result_cap, err, sizeof err);
		if (out)
			receive_corrupted(job, out);
		break;
	case SQS_DELETE:
		out = json_pack("{s:b}", "deleted", 1);
		break;
	}
	if (!out) {
		/* Received messages come back to the queue after their visibility timeout. */
		job_fail(job, "the SQS answer could not be read: ", err[0] ? err : "out of memory");
		return;
	}
	mcp_call_finish(job->call, mcp_tool_structured(out));
	job_free(job);
}

static struct aws_op *post(struct sqs_job *job)
{
	const char *target = actions[job->action].target;
	if (job->timeout_ms == 0)
		return aws_call_json(aws_tool_client(), &AWS_SQS, "1.0", target, job->request,
		                     job->max_response, acted, job);
	/* aws_call_json keeps the client's per-attempt timeout; a long poll needs its own. */
	char *body = json_dumps(job->request, JSON_COMPACT);
	if (!body)
		return NULL;
	const struct sigv4_header headers[] = {
		{ "Content-Type", "application/x-amz-json-1.0" },
		{ "X-Amz-Target", target },
	};
	const struct aws_request req = {
		.service = &AWS_SQS, .method = "POST", .path = "/", .headers = headers,
		.n_headers = sizeof headers / sizeof headers[0], .body = body, .body_len = strlen(body),
		.max_response = job->max_response, .timeout_ms = job->timeout_ms,
	};
	struct aws_op *op = aws_call(aws_tool_client(), &req, acted, job);
	free(body);
	return op;
}

static void act(struct sqs_job *job, const char *url)
{
	if (json_object_set_new(job->request, "QueueUrl", json_string(url)) != 0 || !(job->op = post(job)))
		job_fail(job, "the request could not be built", NULL);
}

static void resolved(const struct aws_result *res, void *arg)
{
	struct sqs_job *job = arg;
	job->op = NULL;
	if (!res->ok) {
		job_fail_aws(job, res);
		return;
	}
	char url[SQS_QUEUE_URL_MAX + 1];
	if (sqs_queue_url_parse(res->body, res->body_len, url, sizeof url) != 0) {
		job_fail(job, "GetQueueUrl's answer holds no usable QueueUrl", NULL);
		return;
	}
	cache_put(job->queue, url);
	act(job, url);
}

static void job_start(struct sqs_job *job)
{
	mcp_call_on_cancel(job->call, job_cancelled, job);
	const char *url = cache_get(job->queue);
	if (url) {
		act(job, url);
		return;
	}
	json_t *body = json_pack("{s:s}", "QueueName", job->queue);
	job->op = body ? aws_call_json(aws_tool_client(), &AWS_SQS, "1.0", "AmazonSQS.GetQueueUrl", body,
	                               SMALL_RESPONSE_MAX, resolved, job) : NULL;
	json_decref(body);
	if (!job->op)
		job_fail(job, "the GetQueueUrl request could not be built", NULL);
}

/* The checks every SQS tool shares (allowlist, then whether AWS can be reached), then the
 * job; `request` is stolen. */
static void queue_call(struct mcp_call *call, enum sqs_action action, const char *queue,
                       json_t *request, long timeout_ms, size_t max_response)
{
	if (aws_tool_refuse_unlisted(call, &queues, "queue", queue, "queues") ||
	    aws_tool_refuse_unavailable(call)) {
		json_decref(request);
		return;
	}
	struct sqs_job *job = calloc(1, sizeof *job);
	if (!job) {
		json_decref(request);
		mcp_call_fail(call, "%s: out of memory; no request was made", actions[action].tool);
		return;
	}
	job->call = call;
	job->action = action;
	job->request = request;
	job->timeout_ms = timeout_ms;
	job->max_response = max_response;
	snprintf(job->queue, sizeof job->queue, "%s", queue);
	job_start(job);
}

/* The queue argument, or NULL after failing the call. */
static const char *queue_argument(struct mcp_call *call, json_t *args)
{
	const char *queue = json_string_value(json_object_get(args, "queue"));
	if (!sqs_queue_name_valid(queue)) {
		mcp_call_fail(call, "%s: queue must be a queue NAME (not its URL): 1-80 of A-Z a-z 0-9 - _, "
		              "ending in .fifo for a FIFO queue; no request was made", mcp_call_tool(call));
		return NULL;
	}
	return queue;
}

/* ---- the tools ---- */

/* The FIFO rules, before any request: SQS would refuse these with less helpful words. */
static const char *fifo_problem(bool fifo, json_t *args)
{
	const char *group = json_string_value(json_object_get(args, "group_id"));
	const char *dedup = json_string_value(json_object_get(args, "dedup_id"));
	if (json_object_get(args, "group_id") && !sqs_id_valid(group))
		return "group_id must be 1-128 visible ASCII characters";
	if (json_object_get(args, "dedup_id") && !sqs_id_valid(dedup))
		return "dedup_id must be 1-128 visible ASCII characters";
	if (fifo && !group)
		return "a FIFO queue (.fifo) needs group_id: messages with the same group_id are delivered in order";
	if (!fifo && dedup)
		return "dedup_id applies to FIFO queues (.fifo) only";
	if (fifo && json_integer_value(json_object_get(args, "delay_seconds")) > 0)
		return "delay_seconds is not supported per message on FIFO queues (set the queue's DelaySeconds)";
	return NULL;
}

static void sqs_send(struct mcp_call *call, json_t *args)
{
	const char *queue = queue_argument(call, args);
	if (!queue)
		return;
	json_t *body = json_object_get(args, "body");
	const char *problem = fifo_problem(sqs_queue_is_fifo(queue), args);
	if (!problem && (!json_is_string(body) || json_string_length(body) == 0 ||
	                 !sqs_text_valid(json_string_value(body), json_string_length(body))))
		problem = "body must be non-empty text without control characters other than tab, newline "
		          "and carriage return";
	if (problem) {
		mcp_call_fail(call, "sqs_send: %s; no request was made", problem);
		return;
	}
	size_t wire = 0;
	json_t *attributes = NULL;
	json_t *given = json_object_get(args, "attributes");
	char err[512];
	if (given && !(attributes = sqs_message_attributes(given, &wire, err, sizeof err))) {
		mcp_call_fail(call, "sqs_send: %s; no request was made", err);
		return;
	}
	size_t size = json_string_length(body) + wire;
	if (size > limits.max_payload) {
		json_decref(attributes);
		mcp_call_fail(call, "sqs_send: the message is %zu bytes with its attributes; this server sends "
		              "at most %zu (settings.max_payload_bytes); no request was made", size,
		              limits.max_payload);
		return;
	}
	json_t *request = json_pack("{s:O}", "MessageBody", body);
	json_t *group = json_object_get(args, "group_id"), *dedup = json_object_get(args, "dedup_id");
	json_t *delay = json_object_get(args, "delay_seconds");
	/* set_new takes the attributes even when it fails: nothing else to free. */
	bool built = request && (!attributes || json_object_set_new(request, "MessageAttributes", attributes) == 0) &&
	             (!group || json_object_set(request, "MessageGroupId", group) == 0) &&
	             (!dedup || json_object_set(request, "MessageDeduplicationId", dedup) == 0) &&
	             (!delay || json_object_set(request, "DelaySeconds", delay) == 0);
	if (!built) {
		if (!request)
			json_decref(attributes);
		json_decref(request);
		mcp_call_fail(call, "sqs_send: out of memory; no request was made");
		return;
	}
	queue_call(call, SQS_SEND, queue, request, 0, SMALL_RESPONSE_MAX);
}

static void sqs_receive(struct mcp_call *call, json_t *args)
{
	const char *queue = queue_argument(call, args);
	if (!queue)
		return;
	json_t *max = json_object_get(args, "max_messages"), *wait = json_object_get(args, "wait_seconds");
	json_t *visibility = json_object_get(args, "visibility_timeout");
	json_int_t n = max ? json_integer_value(max) : 1, w = wait ? json_integer_value(wait) : 0;
	json_int_t v = visibility ? json_integer_value(visibility) : -1;
	if (n < 1 || n > 10 || w < 0 || w > 20 || (visibility && (v < 0 || v > 43200))) {
		mcp_call_fail(call, "sqs_receive: max_messages must be 1-10, wait_seconds 0-20, "
		              "visibility_timeout 0-43200; no request was made");
		return;
	}
	json_t *request = json_pack("{s:I, s:I, s:[s], s:[s,s,s,s,s,s]}", "MaxNumberOfMessages", n,
	                            "WaitTimeSeconds", w, "MessageAttributeNames", "All",
	                            "MessageSystemAttributeNames", "ApproximateReceiveCount",
	                            "ApproximateFirstReceiveTimestamp", "SentTimestamp", "MessageGroupId",
	                            "MessageDeduplicationId", "SequenceNumber");
	if (request && visibility && json_object_set_new(request, "VisibilityTimeout", json_integer(v)) != 0) {
		json_decref(request);
		request = NULL;
	}
	if (!request) {
		mcp_call_fail(call, "sqs_receive: out of memory; no request was made");
		return;
	}
	queue_call(call, SQS_RECEIVE, queue, request, RECEIVE_TIMEOUT_BASE_MS + (long)w * 1000L,
	           RECEIVE_RESPONSE_MAX);
}

static void sqs_delete(struct mcp_call *call, json_t *args)
{
	const char *queue = queue_argument(call, args);
	if (!queue)
		return;
	const char *handle = json_string_value(json_object_get(args, "receipt_handle"));
	if (!sqs_receipt_handle_valid(handle)) {
		mcp_call_fail(call, "sqs_delete: receipt_handle must be the handle sqs_receive returned "
		              "(1-8192 visible ASCII characters); no request was made");
		return;
	}
	json_t *request = json_pack("{s:s}", "ReceiptHandle", handle);
	if (!request) {
		mcp_call_fail(call, "sqs_delete: out of memory; no request was made");
		return;
	}
	queue_call(call, SQS_DELETE, queue, request, 0, SMALL_RESPONSE_MAX);
}

#define QUEUE_PROPERTY "\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80," \
	"\"description\":\"Queue name (not its URL); FIFO queue names end in .fifo\"}"

/* What the MD5 digests SQS answers say of a message: checked as the AWS SDKs check them. */
#define INTEGRITY_PROPERTIES "\"integrity\":{\"type\":\"string\",\"enum\":[\"ok\",\"mismatch\",\"unchecked\"]," \
	"\"description\":\"ok: the MD5 digests SQS answered match the message; mismatch: they do not, the " \
	"message may have been corrupted in transit; unchecked: SQS sent no digest\"}," \
	"\"integrity_detail\":{\"type\":\"string\",\"description\":\"Which digest did not match\"}"

static const struct mcp_tool tools[] = {
	{ "sqs_send",
	  "Send a message to an allowed SQS queue. FIFO queues (.fifo) need group_id; attributes are "
	  "up to 10 name -> string or number. The MD5 digests SQS answers are checked: a mismatch is a "
	  "tool error and the send is not repeated.",
	  "{\"type\":\"object\",\"properties\":{" QUEUE_PROPERTY ","
	  "\"body\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1048576},"
	  "\"group_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":\"MessageGroupId: required for FIFO queues\"},"
	  "\"dedup_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":\"MessageDeduplicationId (FIFO queues only)\"},"
	  "\"delay_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":900,\"description\":\"Standard queues only\"},"
	  "\"attributes\":{\"type\":\"object\",\"maxProperties\":10,\"additionalProperties\":{\"type\":[\"string\",\"number\"]},\"description\":\"Message attributes: name -> string or number\"}},"
	  "\"required\":[\"queue\",\"body\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{\"message_id\":{\"type\":\"string\"},"
	  "\"sequence_number\":{\"type\":\"string\",\"description\":\"FIFO queues\"}," INTEGRITY_PROPERTIES "},"
	  "\"required\":[\"message_id\",\"integrity\"],\"additionalProperties\":false}",
	  sqs_send },
	{ "sqs_receive",
	  "Receive messages from an allowed SQS queue (long polling with wait_seconds). Delete each "
	  "message with sqs_delete once handled; otherwise it returns to the queue after its "
	  "visibility timeout. Each message's integrity says whether it matches the MD5 digests SQS sent.",
	  "{\"type\":\"object\",\"properties\":{" QUEUE_PROPERTY ","
	  "\"max_messages\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10,\"description\":\"Default 1\"},"
	  "\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":20,\"description\":\"Long polling: wait up to this long for a message (default 0)\"},"
	  "\"visibility_timeout\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":43200,\"description\":\"Seconds the messages stay hidden from other receivers (default: the queue's)\"}},"
	  "\"required\":[\"queue\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"messages\":{\"type\":\"array\",\"maxItems\":10,\"items\":{\"type\":\"object\",\"properties\":{"
	  "\"message_id\":{\"type\":\"string\"},\"receipt_handle\":{\"type\":\"string\"},"
	  "\"body\":{\"type\":\"string\"},\"body_bytes\":{\"type\":\"integer\"},\"body_truncated\":{\"type\":\"string\"},"
	  "\"attributes\":{\"type\":\"object\",\"additionalProperties\":{\"type\":[\"string\",\"number\"]}},"
	  "\"system_attributes\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}," INTEGRITY_PROPERTIES "},"
	  "\"required\":[\"message_id\",\"receipt_handle\",\"body\",\"attributes\",\"integrity\"],\"additionalProperties\":false}},"
	  "\"truncated\":{\"type\":\"string\"},"
	  "\"notice\":{\"type\":\"string\",\"description\":\"Says when messages do not match their MD5 digests\"}},"
	  "\"required\":[\"messages\"],\"additionalProperties\":false}",
	  sqs_receive },
	{ "sqs_delete",
	  "Delete a received message from an allowed SQS queue, by the receipt_handle sqs_receive gave.",
	  "{\"type\":\"object\",\"properties\":{" QUEUE_PROPERTY ","
	  "\"receipt_handle\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":8192}},"
	  "\"required\":[\"queue\",\"receipt_handle\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{\"deleted\":{\"type\":\"boolean\"}},"
	  "\"required\":[\"deleted\"],\"additionalProperties\":false}",
	  sqs_delete },
};

static int sqs_init(json_t *settings, const struct group_limits *l, char *err, size_t errlen)
{
	limits = *l;
	return allowlist_load(&queues, settings, "queues", err, errlen);
}

static void sqs_fini(void)
{
	allowlist_free(&queues);
	for (size_t i = 0; i < QUEUE_CACHE_MAX; i++)
		cache_clear(i);
}

static const char *const keys[] = { "queues", NULL };
const struct tool_group sqs_group = { tools, sizeof tools / sizeof tools[0], keys, sqs_init, sqs_fini };
