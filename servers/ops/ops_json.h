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

/* ---- SQS digests ----
 * SQS answers MD5 digests of what it took and what it hands out, so a client can tell a
 * message changed on the way. We check them the way the AWS SDKs do. */

#define SQS_MD5_HEX_LEN 32
#define SQS_DIGEST_ATTRIBUTES_MAX 64 /* SQS sends at most 10; more is no SQS answer */

/* The lower-case hex MD5 of len bytes into out (SQS_MD5_HEX_LEN + 1 bytes): MD5OfMessageBody
 * and MD5OfBody are this over the body's UTF-8 bytes. 0, or -1 when hashing failed. */
int sqs_md5_hex(const char *body, size_t len, char *out);
/* MD5OfMessageAttributes of a MessageAttributes object as SendMessage takes it and
 * ReceiveMessage gives it: over the attributes sorted by name (byte order), each as
 * length-prefixed name, length-prefixed DataType, one transport byte (1 for String and
 * Number, 2 for Binary) and the length-prefixed value (BinaryValue base64-decoded); lengths
 * are 4 bytes, big-endian. 0 with the hex digest in out (SQS_MD5_HEX_LEN + 1 bytes); -1 with
 * one sentence in err when an attribute cannot be encoded (no DataType or value, a type that
 * is none of the three, a BinaryValue that is not base64, more than
 * SQS_DIGEST_ATTRIBUTES_MAX). An empty object hashes like SQS would not: callers skip it. */
int sqs_attributes_md5(const json_t *attributes, char *out, char *err, size_t errlen);

/* What became of a digest check: each result says which. */
#define SQS_INTEGRITY_OK "ok"               /* every digest SQS sent matches */
#define SQS_INTEGRITY_MISMATCH "mismatch"   /* at least one does not */
#define SQS_INTEGRITY_UNCHECKED "unchecked" /* SQS sent no digest for some part */

/* GetQueueUrl's answer: the QueueUrl (http(s), visible ASCII, at most 1024 bytes) into url.
 * 0, or -1 when the answer holds none. */
int sqs_queue_url_parse(const char *body, size_t len, char *url, size_t cap);
/* SendMessage's answer as {"message_id", "sequence_number"?, "integrity",
 * "integrity_detail"?}, its MD5OfMessageBody and MD5OfMessageAttributes checked against
 * `sent`, the SendMessage request ({"MessageBody", "MessageAttributes"?}). On a mismatch
 * "integrity" is "mismatch" and "integrity_detail" says which digest, ours ("sent") against
 * SQS's ("SQS computed"). NULL with err when the answer is malformed. */
json_t *sqs_send_result(const char *body, size_t len, const json_t *sent, char *err, size_t errlen);
/* Shares `budget` among n wants: each gets what it needs if that fits an equal split of what
 * the others leave, the rest split what remains equally. */
void sqs_fair_shares(const size_t *need, size_t n, size_t budget, size_t *share);
/* ReceiveMessage's answer as {"messages": [{"message_id", "receipt_handle", "body",
 * "body_bytes", "body_truncated"?, "attributes", "system_attributes"?, "integrity",
 * "integrity_detail"?}], "truncated"?, "notice"?}: the bodies share `cap` fairly, a cut one
 * says so. Each message's MD5OfBody and MD5OfMessageAttributes are checked over the whole
 * body and all its attributes; a message that does not match is kept, marked "mismatch",
 * and "notice" says how many. NULL with err when the answer is malformed. */
json_t *sqs_receive_result(const char *body, size_t len, size_t cap, char *err, size_t errlen);
/* Whether an error code means the queue does not exist (JSON and query protocol spellings). */
bool sqs_queue_missing(const char *code);

#endif
