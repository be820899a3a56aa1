/* What the ops server sends to Lambda and SQS and makes of their answers, as pure functions:
 * name and id checks, message attributes, and AWS answers turned into capped results. No I/O,
 * so the unit tests and the fuzz harness reach all of it. */
#ifndef MCPGATE_SERVERS_OPS_JSON_H
#define MCPGATE_SERVERS_OPS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define LAMBDA_NAME_MAX 64        /* a function's bare name */
#define LAMBDA_FUNCTION_MAX 170   /* a full ARN, qualifier included */
#define LAMBDA_QUALIFIER_MAX 128
#define LAMBDA_VERSION_MAX 256    /* X-Amz-Executed-Version as we keep it */

#define SQS_QUEUE_NAME_MAX 80
#define SQS_ID_MAX 128             /* MessageGroupId, MessageDeduplicationId */
#define SQS_ATTRIBUTES_MAX 10      /* message attributes per message (SQS's limit) */
#define SQS_ATTRIBUTE_NAME_MAX 256
#define SQS_ATTRIBUTE_SHOWN_MAX 1024 /* bytes of a received attribute value we return */
#define SQS_QUEUE_URL_MAX 1024
#define SQS_RECEIPT_HANDLE_MAX 8192
#define SQS_MESSAGE_ID_MAX 128
#define SQS_MESSAGES_MAX 10

/* ---- Lambda ---- */

/* A function as Invoke takes it: a bare name ([A-Za-z0-9_-]{1,64}) or a full ARN
 * arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] of at most 170 bytes. On
 * success *arn_qualifier points at the ARN's qualifier inside `function`, or is NULL. */
bool lambda_function_valid(const char *function, const char **arn_qualifier);
/* "" (none) or [A-Za-z0-9$_-]{1,128}. */
bool lambda_qualifier_valid(const char *qualifier);

/* A synchronous Invoke's answer as the tool's structured result:
 * {"status", "executed_version", "function_error", "payload", "truncated"?}. The payload is
 * the function's JSON when it fits in `cap` (less room for the rest), {"text": ...} when it is
 * not JSON or does not fit (then cut, with the "truncated" notice), {"binary": true, "bytes"}
 * when it is not UTF-8 text, null when empty. NULL only when memory ran out. */
json_t *lambda_invoke_result(long status, const char *executed_version, const char *function_error,
                             const char *body, size_t len, size_t cap);
/* "errorType: errorMessage" from a failed function's payload (as lambda_invoke_result put it),
 * cut to fit; "" when the payload names neither. */
void lambda_error_summary(const json_t *payload, char *out, size_t cap);

/* ---- SQS ---- */

/* [A-Za-z0-9_-]{1,80}, or the same ending in ".fifo" (80 bytes in all). */
bool sqs_queue_name_valid(const char *name);
bool sqs_queue_is_fifo(const char *name);
/* MessageGroupId / MessageDeduplicationId: 1..128 visible ASCII characters. */
bool sqs_id_valid(const char *id);
/* A receipt handle as ReceiveMessage gave it: 1..8192 visible ASCII characters. */
bool sqs_receipt_handle_valid(const char *handle);
/* Whether every character is one SQS takes in a message: #x9 #xA #xD #x20-#xD7FF
 * #xE000-#xFFFD #x10000-#x10FFFF, as valid UTF-8. */
bool sqs_text_valid(const char *s, size_t len);
/* 1..256 of [A-Za-z0-9_.-], no leading, trailing or doubled '.', not starting with "AWS." or
 * "Amazon." (any case). */
bool sqs_attribute_name_valid(const char *name, size_t len);
/* The shortest decimal text that reads back as x; -1 when x is not finite or it does not fit. */
int sqs_number_text(double x, char *out, size_t cap);
/* The tool's {"name": "text" | number} (at most 10) as SendMessage's MessageAttributes
 * ({"name": {"DataType": "String"|"Number", "StringValue": ...}}). *wire_bytes gets what SQS
 * counts towards the message size (names, types, values). NULL with one sentence in err when
 * an attribute is not acceptable, or memory ran out. */
json_t *sqs_message_attributes(const json_t *attributes, size_t *wire_bytes, char *err, size_t errlen);

/* GetQueueUrl's answer: the QueueUrl (http(s), visible ASCII, at most 1024 bytes) into url.
 * 0, or -1 when the answer holds none. */
int sqs_queue_url_parse(const char *body, size_t len, char *url, size_t cap);
/* SendMessage's answer as {"message_id", "sequence_number"?}; NULL with err when malformed. */
json_t *sqs_send_result(const char *body, size_t len, char *err, size_t errlen);
/* Shares `budget` among n wants: each gets what it needs if that fits an equal split of what
 * the others leave, the rest split what remains equally. */
void sqs_fair_shares(const size_t *need, size_t n, size_t budget, size_t *share);
/* ReceiveMessage's answer as {"messages": [{"message_id", "receipt_handle", "body",
 * "body_bytes", "body_truncated"?, "attributes", "system_attributes"?}], "truncated"?}: the
 * bodies share `cap` fairly, a cut one says so. NULL with err when the answer is malformed. */
json_t *sqs_receive_result(const char *body, size_t len, size_t cap, char *err, size_t errlen);
/* Whether an error code means the queue does not exist (JSON and query protocol spellings). */
bool sqs_queue_missing(const char *code);

#endif
