/* Fuzzes the edge's JSON-RPC envelope check with batches allowed and refused, checking the
 * summary's invariants and that a valid verdict agrees with an independent parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonrpc_check.h"

static void check_string_field(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

/* Depth of a parsed value, counting containers (a scalar is 0). */
static size_t depth_of(const json_t *v)
{
	size_t deepest = 0, i;
	const char *key;
	json_t *child;
	if (json_is_array(v)) {
		json_array_foreach(v, i, child) {
			size_t d = depth_of(child);
			if (d > deepest)
				deepest = d;
		}
		return deepest + 1;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child) {
			size_t d = depth_of(child);
			if (d > deepest)
				deepest = d;
		}
		return deepest + 1;
	}
	return 0;
}

static void check_summary(const uint8_t *data, size_t size, bool allow_batch,
                          const struct jsonrpc_summary *s)
{
	if (s->status > JSONRPC_BATCH_REFUSED || !s->reason || !s->reason[0])
		abort();
	check_string_field(s->method, sizeof s->method);
	check_string_field(s->name, sizeof s->name);
	check_string_field(s->first_id, sizeof s->first_id);
	if (s->n_messages != s->n_requests + s->n_notifications + s->n_responses)
		abort();
	if (s->status == JSONRPC_BATCH_REFUSED && (allow_batch || !s->batch))
		abort();
	if (s->status != JSONRPC_VALID) {
		if (s->n_messages || s->method[0] || s->name[0] || s->first_id[0] ||
		    s->is_initialize || s->name_too_long)
			abort();
		return;
	}
	if (s->n_messages == 0 || s->n_messages > JSONRPC_MAX_BATCH)
		abort();
	if (s->batch ? !allow_batch : s->n_messages != 1)
		abort();
	if ((s->n_requests + s->n_notifications > 0) != (s->method[0] != '\0'))
		abort();
	if ((s->n_requests > 0) != (s->first_id[0] != '\0'))
		abort();
	if (s->is_initialize && (s->batch || s->n_requests != 1 || strcmp(s->method, "initialize") != 0))
		abort();
	if (s->name_too_long && s->name[0])
		abort();

	/* A valid body is JSON within the depth bound, and first_id is an id's JSON text. */
	json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!doc || depth_of(doc) > JSONRPC_MAX_DEPTH + 1 + (s->batch ? 1 : 0))
		abort();
	if (json_is_array(doc) != s->batch)
		abort();
	json_decref(doc);
	if (s->first_id[0]) {
		json_t *id = json_loads(s->first_id, JSON_DECODE_ANY, NULL);
		if (!json_is_string(id) && !json_is_integer(id))
			abort();
		json_decref(id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_summary with, without;
	jsonrpc_check((const char *)data, size, true, &with);
	check_summary(data, size, true, &with);
	jsonrpc_check((const char *)data, size, false, &without);
	check_summary(data, size, false, &without);

	/* Forbidding batches changes nothing but batches. */
	if (!with.batch && memcmp(&with, &without, sizeof with) != 0)
		abort();
	if (with.status == JSONRPC_VALID && with.batch && without.status != JSONRPC_BATCH_REFUSED)
		abort();
	return 0;
}
