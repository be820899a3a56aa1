/* Fuzzes servers/data/dynamo_json.c. The first byte picks what the rest is: an AttributeValue
 * item (to plain JSON and back must give the same plain value), a GetItem / Query / Retrieve /
 * DescribeTable answer (results must stay within the cap and their cursors must decode), or a
 * cursor (what decodes must re-encode and decode to the same key). Any broken promise aborts. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../servers/data/dynamo_json.h"

/* Plain values compare as JSON numbers compare: DynamoDB keeps no integer/real distinction
 * (1E+2 comes back as the integer 100). */
static bool plain_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!plain_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)a, k, v) {
			json_t *w = json_object_get(b, k);
			if (!w || !plain_equal(v, w))
				return false;
		}
		return true;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

static size_t dumped(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

static void item_round_trip(const char *data, size_t size)
{
	char err[512];
	json_t *av = json_loadb(data, size, 0, NULL);
	json_t *plain = dynamo_item_to_plain(av, err, sizeof err);
	if (plain) {
		json_t *again = dynamo_item_from_plain(plain, NULL, err, sizeof err);
		if (!again) {
			/* Allowed: over 400 KB, or a map whose only member is "$binary" (the tag). */
			if (!strstr(err, "400 KB") && !strstr(err, "$binary"))
				abort();
		} else {
			json_t *back = dynamo_item_to_plain(again, err, sizeof err);
			if (!back || !plain_equal(back, plain))
				abort();
			json_decref(back);
			json_decref(again);
		}
	}
	json_decref(plain);
	json_decref(av);
}

static void check_cursor(const json_t *res, const char *table)
{
	const char *c = json_string_value(json_object_get(res, "next_cursor"));
	char err[512];
	if (!c)
		return;
	json_t *key = dynamo_cursor_decode(c, table, NULL, err, sizeof err);
	if (!key)
		abort();
	json_decref(key);
}

static void query(const char *data, size_t size, size_t cap)
{
	struct dynamo_page page;
	char err[512];
	if (dynamo_page_parse(data, size, &page, err, sizeof err) != 0)
		return;
	static const struct dynamo_key_names names = { 2, { "pk", "sk" } };
	bool need = false;
	json_t *res = dynamo_query_result(&page, "t01", NULL, NULL, cap, &need, err, sizeof err);
	if (!res && need)
		res = dynamo_query_result(&page, "t01", NULL, &names, cap, &need, err, sizeof err);
	if (res) {
		/* The cursor itself is never cut; everything else fits the cap. */
		const char *c = json_string_value(json_object_get(res, "next_cursor"));
		if (dumped(res) > cap + (c ? strlen(c) : 0) + 512 && json_array_size(json_object_get(res, "items")) > 1)
			abort();
		if (json_integer_value(json_object_get(res, "count")) !=
		    (json_int_t)json_array_size(json_object_get(res, "items")))
			abort();
		check_cursor(res, "t01");
	}
	json_decref(res);
	dynamo_page_free(&page);
}

static void get(const char *data, size_t size, size_t cap)
{
	char err[512];
	json_t *res = dynamo_get_result(data, size, "t01", cap, err, sizeof err);
	if (res && !json_object_get(res, "item"))
		abort();
	if (res && dumped(res) > cap)
		abort();
	json_decref(res);
}

static void retrieve(const char *data, size_t size, size_t max_text, size_t cap)
{
	char err[512];
	json_t *res = kb_retrieve_result(data, size, max_text, cap, err, sizeof err);
	if (!res)
		return;
	const char *c = json_string_value(json_object_get(res, "next_cursor"));
	json_t *list = json_object_get(res, "results");
	if (dumped(res) > cap + (c ? strlen(c) : 0) + KB_SOURCE_MAX + 512 && json_array_size(list) > 1)
		abort();
	size_t i;
	json_t *r;
	json_array_foreach(list, i, r)
		if (json_string_length(json_object_get(r, "text")) > max_text)
			abort();
	json_decref(res);
}

static void cursor(const char *data, size_t size)
{
	char text[DYNAMO_CURSOR_MAX + 2];
	if (size > DYNAMO_CURSOR_MAX + 1)
		size = DYNAMO_CURSOR_MAX + 1;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[512];
	json_t *key = dynamo_cursor_decode(text, "t01", NULL, err, sizeof err);
	if (!key)
		return;
	char *again = dynamo_cursor_encode("t01", NULL, key);
	json_t *back = again ? dynamo_cursor_decode(again, "t01", NULL, err, sizeof err) : NULL;
	if (!back || !json_equal(back, key))
		abort();
	json_decref(back);
	free(again);
	json_decref(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *rest = (const char *)data + 2;
	size_t len = size - 2;
	/* The second byte picks the cap (1 KB .. 64 KB) and the per-result text bound. */
	size_t cap = 1024 + (size_t)data[1] * 256;
	size_t max_text = 64 + (size_t)data[1] * 8;
	struct dynamo_key_names names;
	char err[512];
	switch (data[0] % 6) {
	case 0:
		item_round_trip(rest, len);
		break;
	case 1:
		query(rest, len, cap);
		break;
	case 2:
		get(rest, len, cap);
		break;
	case 3:
		retrieve(rest, len, max_text, cap);
		break;
	case 4:
		cursor(rest, len);
		break;
	case 5:
		if (dynamo_key_names_parse(rest, len, data[1] & 1 ? "ix1" : NULL, &names, err, sizeof err) == 0 &&
		    (names.n == 0 || names.n > DYNAMO_KEY_ATTRS_MAX))
			abort();
		break;
	}
	return 0;
}
