/* S3's XML answers turned into the JSON the data server returns as structuredContent. Every
 * size is bounded, DTDs are refused outright, namespaces and unknown elements are ignored. */
#ifndef MCPGATE_AWS_S3_XML_H
#define MCPGATE_AWS_S3_XML_H

#include <stddef.h>

#include <jansson.h>

#define S3_LIST_ENTRIES_MAX 1000          /* objects + common prefixes: S3's own max-keys ceiling */
#define S3_KEY_MAX 1024                   /* S3's limit on a key, in UTF-8 bytes */
#define S3_XML_DEPTH_MAX 16               /* nesting of elements, the root counting as 1 */
#define S3_XML_TEXT_MAX 4096              /* bytes of text between two tags */
#define S3_XML_BODY_MAX (8u * 1024 * 1024)
#define S3_XML_ERROR_MAX 160              /* room for any message written to `err` */

/* Parses a ListObjectsV2 answer (<ListBucketResult>) into a new object:
 *   {"bucket": "...", "prefix": "...", "key_count": n|null, "max_keys": n|null,
 *    "objects": [{"key": "...", "size": n, "last_modified": "...", "etag": "...",
 *                 "storage_class": "..."}],   (the last three null when S3 left them out)
 *    "common_prefixes": ["..."], "truncated": bool, "next_cursor": "..."|null}
 * next_cursor is the NextContinuationToken, present exactly when truncated is true. With
 * <EncodingType>url</EncodingType> (the request asked for encoding-type=url), keys and
 * prefixes come back decoded. Returns NULL on malformed or out-of-bounds input, or when
 * memory runs out, with the reason (our own words, never the input's) in `err`, which may be
 * NULL. The caller owns the result. */
json_t *s3_list_objects_v2_parse(const char *body, size_t len, char *err, size_t err_cap);

#endif
