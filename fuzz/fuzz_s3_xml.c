/* Fuzzes the ListObjectsV2 parser and checks the contract the data server relies on: a
 * result exactly when no error is given, and every result within bounds and in the stable
 * shape (snake_case names, keys 1..1024 bytes without NUL, a cursor exactly when truncated). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3_xml.h"

static void check_key(const json_t *key, bool may_be_empty)
{
	if (!json_is_string(key))
		abort();
	size_t len = json_string_length(key);
	if (len > S3_KEY_MAX || (len == 0 && !may_be_empty) || strlen(json_string_value(key)) != len)
		abort();
}

static void check_shape(const json_t *v)
{
	if (!json_is_object(v) || json_object_size(v) != 8)
		abort();
	json_t *objects = json_object_get(v, "objects");
	json_t *prefixes = json_object_get(v, "common_prefixes");
	if (!json_is_array(objects) || !json_is_array(prefixes) ||
	    json_array_size(objects) + json_array_size(prefixes) > S3_LIST_ENTRIES_MAX)
		abort();
	if (!json_is_string(json_object_get(v, "bucket")))
		abort();
	check_key(json_object_get(v, "prefix"), true);
	size_t i;
	json_t *e;
	json_array_foreach(objects, i, e) {
		if (json_object_size(e) != 5 || !json_is_integer(json_object_get(e, "size")) ||
		    json_integer_value(json_object_get(e, "size")) < 0)
			abort();
		check_key(json_object_get(e, "key"), false);
		static const char *const optional[] = { "last_modified", "etag", "storage_class" };
		for (size_t k = 0; k < 3; k++) {
			json_t *f = json_object_get(e, optional[k]);
			if (!json_is_string(f) && !json_is_null(f))
				abort();
		}
	}
	json_array_foreach(prefixes, i, e)
		check_key(e, false);
	bool truncated = json_is_true(json_object_get(v, "truncated"));
	json_t *cursor = json_object_get(v, "next_cursor");
	if (!json_is_boolean(json_object_get(v, "truncated")) ||
	    (truncated ? !json_is_string(cursor) || json_string_length(cursor) == 0 : !json_is_null(cursor)))
		abort();
	/* What the server does next: serialise it. */
	char *text = json_dumps(v, JSON_COMPACT);
	if (!text)
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[S3_XML_ERROR_MAX];
	json_t *v = s3_list_objects_v2_parse((const char *)data, size, err, sizeof err);
	if (v) {
		if (err[0])
			abort();
		check_shape(v);
		json_decref(v);
	} else if (!err[0] || strlen(err) >= sizeof err - 1) { /* a reason, never cut */
		abort();
	}
	return 0;
}
