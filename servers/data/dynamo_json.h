/* Pure conversions for the data server's DynamoDB and knowledge-base tools: plain JSON <->
 * DynamoDB AttributeValues, query cursors, and AWS answers -> capped tool results. No I/O, so
 * unit tests and a fuzz harness can drive every function here directly. */
#ifndef MCPGATE_SERVERS_DYNAMO_JSON_H
#define MCPGATE_SERVERS_DYNAMO_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define DYNAMO_MAX_DEPTH 32              /* nesting of L/M, as DynamoDB allows */
#define DYNAMO_ITEM_MAX (400u * 1024u)   /* DynamoDB's item size limit */
#define DYNAMO_KEY_ATTRS_MAX 4           /* table hash + range, index hash + range */
#define DYNAMO_KEY_NAME_MAX 255          /* key attribute names */
#define DYNAMO_KEY_VALUE_MAX 2048        /* a partition key value; sort keys are smaller */
#define DYNAMO_CURSOR_MAX 16384          /* characters of a cursor */
#define DYNAMO_SAFE_INTEGER 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */

/*
 * Plain JSON <-> AttributeValue
 *
 * plain -> AttributeValue: string -> S, integer -> N, real -> N (shortest text that reads back
 * as the same double), true/false -> BOOL, null -> NULL, array -> L, object -> M, except an
 * object whose only member is "$binary" (a base64 string) -> B. Arrays never become sets.
 *
 * AttributeValue -> plain: S -> string, BOOL, NULL, L -> array, M -> object, B -> {"$binary":
 * base64}, SS/NS/BS -> arrays. N -> a JSON integer when it is a whole number within
 * +-(2^53-1), a JSON real when it has at most 15 significant digits (a double holds those
 * exactly); any other N (more digits than a double keeps) -> a string holding DynamoDB's exact
 * decimal, so no precision is ever lost silently.
 *
 * Both directions refuse nesting deeper than DYNAMO_MAX_DEPTH, and plain -> AttributeValue
 * refuses items over DYNAMO_ITEM_MAX by DynamoDB's size rules (names + values). Errors name the
 * attribute path ("attribute 'a.b[2]': ...").
 */

/* One plain value as an AttributeValue (new reference), or NULL with err. */
json_t *dynamo_av_from_plain(const json_t *plain, char *err, size_t errlen);
/* A plain object as a map of AttributeValues (an item, a key or ExpressionAttributeValues);
 * *size (may be NULL) gets its DynamoDB size. NULL with err when over DYNAMO_ITEM_MAX. */
json_t *dynamo_item_from_plain(const json_t *object, size_t *size, char *err, size_t errlen);
/* The reverse, for AttributeValues from DynamoDB. */
json_t *dynamo_av_to_plain(const json_t *av, char *err, size_t errlen);
json_t *dynamo_item_to_plain(const json_t *item, char *err, size_t errlen);
/* Whether `text` is a DynamoDB number (-?digits[.digits][e[+-]digits], at most 38 digits). */
bool dynamo_number_valid(const char *text);

/*
 * Keys and cursors
 */

/* The attribute names that make up a query's ExclusiveStartKey: the table's key, plus the
 * index's key when the query used an index. */
struct dynamo_key_names {
	size_t n;
	char name[DYNAMO_KEY_ATTRS_MAX][DYNAMO_KEY_NAME_MAX + 1];
};

/* Reads the key names from a DescribeTable answer (Table.KeySchema and, with `index`, that
 * index's KeySchema). -1 with err when the answer lacks them or the index is unknown. */
int dynamo_key_names_parse(const char *body, size_t len, const char *index,
                           struct dynamo_key_names *out, char *err, size_t errlen);
/* The key of an AttributeValue item: its attributes named in `names` (new reference). */
json_t *dynamo_item_key(const json_t *item, const struct dynamo_key_names *names, char *err,
                        size_t errlen);

/* A cursor is base64 of {"t": table, "i": index (absent without one), "k": ExclusiveStartKey}:
 * opaque to callers, checked when it comes back (shape, sizes, and that it was made for this
 * table and index). Encode returns a malloc'd string or NULL (out of memory, or a key that
 * does not fit DYNAMO_CURSOR_MAX). Decode returns the key (new reference) or NULL with err. */
char *dynamo_cursor_encode(const char *table, const char *index, const json_t *key);
json_t *dynamo_cursor_decode(const char *cursor, const char *table, const char *index, char *err,
                             size_t errlen);

/*
 * Tool results from DynamoDB answers. `cap` bounds the compact JSON text of the result.
 */

/* GetItem's answer -> {"item": {...}|null, "notice"?, "omitted_attributes"?}. An item over
 * the cap keeps the attributes that fit (largest dropped first) and names the others. */
json_t *dynamo_get_result(const char *body, size_t len, const char *table, size_t cap, char *err,
                          size_t errlen);

/* A Query answer, parsed: AttributeValue items and LastEvaluatedKey (NULL when the last). */
struct dynamo_page {
	json_t *items;
	json_t *last_key;
};
int dynamo_page_parse(const char *body, size_t len, struct dynamo_page *page, char *err,
                      size_t errlen);
void dynamo_page_free(struct dynamo_page *page);

/* {"items": [...], "count": n, "next_cursor": string|null, "notice"?}. When the page is over
 * the cap, trailing items are dropped and next_cursor is made from the last kept item's key,
 * whose attribute names come from the page's LastEvaluatedKey, else from `names`; when neither
 * is known, returns NULL with *need_names set (the caller asks DescribeTable and calls again).
 * A first item alone over the cap is kept with its largest attributes omitted (said in the
 * notice). NULL with err (and *need_names false) for a malformed page. */
json_t *dynamo_query_result(const struct dynamo_page *page, const char *table, const char *index,
                            const struct dynamo_key_names *names, size_t cap, bool *need_names,
                            char *err, size_t errlen);

/*
 * Knowledge bases (Bedrock Agent Runtime Retrieve)
 */

#define KB_SOURCE_MAX 2048   /* bytes of a result's source URI or URL */
#define KB_METADATA_MAX 4096 /* compact JSON bytes of a result's metadata */
#define KB_TOKEN_MAX 2048    /* a nextToken */
#define KB_RESULTS_MAX 1000  /* results read from one answer */

/* The Retrieve request body (new reference); next_token may be NULL. */
json_t *kb_request_body(const char *query, long long top_k, const char *next_token);
/* Whether a knowledge base id / nextToken has the shape AWS gives them. */
bool kb_id_valid(const char *id);
bool kb_token_valid(const char *token);
/* Retrieve's answer -> {"results": [{"text", "score", "source", "source_type"?, "metadata"?,
 * "truncated"?, "text_bytes"?}], "count", "next_cursor": string|null, "notice"?}: each text cut
 * to max_text bytes (on a UTF-8 boundary, marked), trailing results dropped past `cap`. */
json_t *kb_retrieve_result(const char *body, size_t len, size_t max_text, size_t cap, char *err,
                           size_t errlen);

#endif
