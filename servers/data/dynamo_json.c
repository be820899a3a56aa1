/* Plain JSON <-> DynamoDB AttributeValues, query cursors, and DynamoDB / Bedrock Retrieve
 * answers turned into capped tool results. Everything from outside is bounded here: nesting,
 * item sizes, key shapes, cursor sizes, result bytes. */
#include "dynamo_json.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "mcp_server.h"

#define NUMBER_TEXT_MAX 200    /* characters of an N value we accept */
#define NUMBER_DIGITS_MAX 38   /* DynamoDB's precision */
#define DOUBLE_EXACT_DIGITS 15 /* decimal digits a double always gives back unchanged */
#define PATH_MAX_SHOWN 160     /* bytes of an attribute path in an error */
#define OMITTED_NAMES_MAX 64   /* names listed in omitted_attributes */
#define NAME_LISTED_MAX 255    /* longer attribute names are counted, not listed */
#define NOTICE_SLACK 64        /* room kept for a notice's numbers */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Compact JSON bytes of a value: what mcp_tool_structured will send as text. */
static size_t dump_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- base64, strictly (RFC 4648 with padding: what DynamoDB sends and what we send) ---- */

static bool b64_char(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/';
}

/* Whether `s` is canonical padded base64; *decoded gets the byte count. */
static bool b64_valid(const char *s, size_t len, size_t *decoded)
{
	if (len % 4 != 0)
		return false;
	size_t pad = 0;
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!b64_char((unsigned char)s[i]))
			return false;
	if (decoded)
		*decoded = len / 4 * 3 - pad;
	return true;
}

/* ---- numbers ---- */

/* Counts significant digits of a number's mantissa: leading and trailing zeros are not. */
static size_t significant_digits(const char *s)
{
	size_t first = 0, last = 0, pos = 0;
	bool seen = false;
	for (const char *p = s; *p && *p != 'e' && *p != 'E'; p++) {
		if (!isdigit((unsigned char)*p))
			continue;
		pos++;
		if (*p != '0') {
			if (!seen)
				first = pos;
			seen = true;
			last = pos;
		}
	}
	return seen ? last - first + 1 : 0;
}

bool dynamo_number_valid(const char *text)
{
	if (!text || strlen(text) > NUMBER_TEXT_MAX)
		return false;
	const char *p = text;
	if (*p == '-' || *p == '+')
		p++;
	size_t digits = 0;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0' && significant_digits(text) <= NUMBER_DIGITS_MAX;
}

static bool is_integer_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* DynamoDB's decimal text as the JSON value that keeps it exactly (see the header). */
static json_t *number_to_plain(const char *s)
{
	if (is_integer_text(s)) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == 0 && v >= -DYNAMO_SAFE_INTEGER && v <= DYNAMO_SAFE_INTEGER)
			return json_integer(v);
		return json_string(s);
	}
	if (significant_digits(s) <= DOUBLE_EXACT_DIGITS) {
		errno = 0;
		double d = strtod(s, NULL);
		if (errno == 0 && isfinite(d) && (d == 0 || fabs(d) >= DBL_MIN))
			return json_real(d);
	}
	return json_string(s);
}

/* The shortest %g text that reads back as exactly `d`. */
static void real_to_text(double d, char *out, size_t cap)
{
	for (int prec = DOUBLE_EXACT_DIGITS; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

/* ---- conversions, with the attribute path for errors ---- */

struct conv {
	char path[PATH_MAX_SHOWN + 4];
	size_t path_len;
	size_t size; /* DynamoDB item size so far */
	char *err;
	size_t errlen;
};

/* Shortens `s` (of `len` bytes) so that it does not end inside a UTF-8 character. */
static size_t utf8_whole(const char *s, size_t len)
{
	size_t lead = len;
	while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return 0;
	unsigned char c = (unsigned char)s[lead - 1];
	size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
	return lead - 1 + need <= len ? len : lead - 1;
}

static size_t path_push_name(struct conv *c, const char *name)
{
	size_t old = c->path_len;
	if (c->path_len < PATH_MAX_SHOWN) {
		int n = snprintf(c->path + c->path_len, PATH_MAX_SHOWN - c->path_len + 1, "%s%s",
		                 c->path_len ? "." : "", name);
		c->path_len = n < 0 ? c->path_len : c->path_len + (size_t)n;
		if (c->path_len > PATH_MAX_SHOWN) {
			/* never show half a UTF-8 character */
			c->path_len = utf8_whole(c->path, PATH_MAX_SHOWN);
			memcpy(c->path + c->path_len, "...", 4);
			c->path_len += 3;
		}
	}
	c->path[c->path_len] = '\0';
	return old;
}

static size_t path_push_index(struct conv *c, size_t i)
{
	char idx[32];
	snprintf(idx, sizeof idx, "[%zu]", i);
	size_t old = c->path_len;
	if (c->path_len + strlen(idx) <= PATH_MAX_SHOWN) {
		memcpy(c->path + c->path_len, idx, strlen(idx) + 1);
		c->path_len += strlen(idx);
	}
	return old;
}

static void path_pop(struct conv *c, size_t old)
{
	c->path_len = old;
	c->path[old] = '\0';
}

static json_t *conv_fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *conv_fail(struct conv *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (c->path_len)
		fail(c->err, c->errlen, "attribute '%s': %s", c->path, why);
	else
		fail(c->err, c->errlen, "%s", why);
	return NULL;
}

static bool add_size(struct conv *c, size_t n)
{
	if (n > DYNAMO_ITEM_MAX || c->size > DYNAMO_ITEM_MAX - n) {
		conv_fail(c, "the item is over DynamoDB's limit of 400 KB (%u bytes)", DYNAMO_ITEM_MAX);
		return false;
	}
	c->size += n;
	return true;
}

static json_t *av_new(const char *type, json_t *value)
{
	if (!value)
		return NULL;
	json_t *av = json_object();
	if (!av || json_object_set_new(av, type, value) != 0) {
		json_decref(av);
		return NULL;
	}
	return av;
}

static json_t *oom(struct conv *c)
{
	return conv_fail(c, "out of memory");
}

static json_t *from_plain(struct conv *c, const json_t *v, int depth);

static json_t *list_from_plain(struct conv *c, const json_t *arr, int depth)
{
	if (depth > DYNAMO_MAX_DEPTH)
		return conv_fail(c, "nested deeper than %d levels", DYNAMO_MAX_DEPTH);
	if (!add_size(c, 3))
		return NULL;
	json_t *list = json_array();
	if (!list)
		return oom(c);
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		size_t old = path_push_index(c, i);
		json_t *av = add_size(c, 1) ? from_plain(c, e, depth + 1) : NULL;
		path_pop(c, old);
		if (!av || json_array_append_new(list, av) != 0) {
			json_decref(list);
			return av ? oom(c) : NULL;
		}
	}
	return av_new("L", list);
}

static json_t *map_from_plain(struct conv *c, const json_t *obj, int depth)
{
	json_t *map = json_object();
	if (!map)
		return oom(c);
	const char *name;
	json_t *e;
	json_object_foreach((json_t *)obj, name, e) {
		size_t old = path_push_name(c, name);
		json_t *av = add_size(c, 1 + strlen(name)) ? from_plain(c, e, depth + 1) : NULL;
		path_pop(c, old);
		if (!av || json_object_set_new(map, name, av) != 0) {
			json_decref(map);
			return av ? oom(c) : NULL;
		}
	}
	return map;
}

/* {"$binary": "<base64>"} alone is a binary value; anything else with that name is an error
 * rather than a silent map, so a typo never stores the wrong type. */
static bool is_binary_tag(const json_t *obj)
{
	return json_object_size(obj) == 1 && json_object_get(obj, "$binary");
}

static json_t *binary_from_plain(struct conv *c, const json_t *obj)
{
	const json_t *b = json_object_get(obj, "$binary");
	size_t bytes;
	if (!json_is_string(b) || !b64_valid(json_string_value(b), json_string_length(b), &bytes))
		return conv_fail(c, "{\"$binary\": ...} must hold padded base64");
	if (!add_size(c, bytes))
		return NULL;
	return av_new("B", json_stringn_nocheck(json_string_value(b), json_string_length(b)));
}

static json_t *from_plain(struct conv *c, const json_t *v, int depth)
{
	char num[64];
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (!add_size(c, json_string_length(v)))
			return NULL;
		return av_new("S", json_stringn_nocheck(json_string_value(v), json_string_length(v)));
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return add_size(c, strlen(num)) ? av_new("N", json_string(num)) : NULL;
	case JSON_REAL:
		real_to_text(json_real_value(v), num, sizeof num);
		return add_size(c, strlen(num)) ? av_new("N", json_string(num)) : NULL;
	case JSON_TRUE:
	case JSON_FALSE:
		return add_size(c, 1) ? av_new("BOOL", json_boolean(json_is_true(v))) : NULL;
	case JSON_NULL:
		return add_size(c, 1) ? av_new("NULL", json_true()) : NULL;
	case JSON_ARRAY:
		return list_from_plain(c, v, depth);
	case JSON_OBJECT:
		if (is_binary_tag(v))
			return binary_from_plain(c, v);
		if (depth > DYNAMO_MAX_DEPTH)
			return conv_fail(c, "nested deeper than %d levels", DYNAMO_MAX_DEPTH);
		if (!add_size(c, 3))
			return NULL;
		return av_new("M", map_from_plain(c, v, depth));
	}
	return conv_fail(c, "unsupported JSON value");
}

json_t *dynamo_av_from_plain(const json_t *plain, char *err, size_t errlen)
{
	struct conv c = { .err = err, .errlen = errlen };
	if (!plain) {
		fail(err, errlen, "no value");
		return NULL;
	}
	return from_plain(&c, plain, 1);
}

json_t *dynamo_item_from_plain(const json_t *object, size_t *size, char *err, size_t errlen)
{
	struct conv c = { .err = err, .errlen = errlen };
	if (!json_is_object(object)) {
		fail(err, errlen, "must be an object of attributes");
		return NULL;
	}
	json_t *map = map_from_plain(&c, object, 0);
	if (map && size)
		*size = c.size;
	return map;
}

/* ---- AttributeValue -> plain ---- */

static json_t *to_plain(struct conv *c, const json_t *av, int depth);

static json_t *binary_to_plain(struct conv *c, const json_t *b)
{
	if (!json_is_string(b) || !b64_valid(json_string_value(b), json_string_length(b), NULL))
		return conv_fail(c, "B is not base64");
	return json_pack("{s:s%}", "$binary", json_string_value(b), json_string_length(b));
}

static json_t *number_value_to_plain(struct conv *c, const json_t *n)
{
	if (!json_is_string(n) || !dynamo_number_valid(json_string_value(n)))
		return conv_fail(c, "N is not a DynamoDB number");
	json_t *v = number_to_plain(json_string_value(n));
	return v ? v : oom(c);
}

/* SS, NS and BS: arrays of strings, each converted as its scalar type. */
static json_t *set_to_plain(struct conv *c, const char *type, const json_t *set)
{
	if (!json_is_array(set))
		return conv_fail(c, "%s is not an array", type);
	json_t *out = json_array();
	if (!out)
		return oom(c);
	size_t i;
	json_t *e;
	json_array_foreach(set, i, e) {
		size_t old = path_push_index(c, i);
		json_t *v;
		if (type[0] == 'N')
			v = number_value_to_plain(c, e);
		else if (type[0] == 'B')
			v = binary_to_plain(c, e);
		else
			v = json_is_string(e) ? json_stringn_nocheck(json_string_value(e), json_string_length(e))
			                      : conv_fail(c, "SS holds a non-string");
		path_pop(c, old);
		if (!v || json_array_append_new(out, v) != 0) {
			json_decref(out);
			return v ? oom(c) : NULL;
		}
	}
	return out;
}

static json_t *list_to_plain(struct conv *c, const json_t *list, int depth)
{
	if (!json_is_array(list))
		return conv_fail(c, "L is not an array");
	if (depth > DYNAMO_MAX_DEPTH)
		return conv_fail(c, "nested deeper than %d levels", DYNAMO_MAX_DEPTH);
	json_t *out = json_array();
	if (!out)
		return oom(c);
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		size_t old = path_push_index(c, i);
		json_t *v = to_plain(c, e, depth + 1);
		path_pop(c, old);
		if (!v || json_array_append_new(out, v) != 0) {
			json_decref(out);
			return v ? oom(c) : NULL;
		}
	}
	return out;
}

static json_t *map_to_plain(struct conv *c, const json_t *map, int depth)
{
	if (!json_is_object(map))
		return conv_fail(c, "M is not an object");
	json_t *out = json_object();
	if (!out)
		return oom(c);
	const char *name;
	json_t *e;
	json_object_foreach((json_t *)map, name, e) {
		size_t old = path_push_name(c, name);
		json_t *v = to_plain(c, e, depth + 1);
		path_pop(c, old);
		if (!v || json_object_set_new(out, name, v) != 0) {
			json_decref(out);
			return v ? oom(c) : NULL;
		}
	}
	return out;
}

static json_t *to_plain(struct conv *c, const json_t *av, int depth)
{
	if (!json_is_object(av) || json_object_size(av) != 1)
		return conv_fail(c, "not an AttributeValue (an object with one type member)");
	const char *type = NULL;
	json_t *v = NULL;
	json_object_foreach((json_t *)av, type, v)
		break;
	if (strcmp(type, "S") == 0)
		return json_is_string(v) ? json_stringn_nocheck(json_string_value(v), json_string_length(v))
		                         : conv_fail(c, "S is not a string");
	if (strcmp(type, "N") == 0)
		return number_value_to_plain(c, v);
	if (strcmp(type, "B") == 0)
		return binary_to_plain(c, v);
	if (strcmp(type, "BOOL") == 0)
		return json_is_boolean(v) ? json_boolean(json_is_true(v)) : conv_fail(c, "BOOL is not a boolean");
	if (strcmp(type, "NULL") == 0)
		return json_is_true(v) ? json_null() : conv_fail(c, "NULL is not true");
	if (strcmp(type, "L") == 0)
		return list_to_plain(c, v, depth);
	if (strcmp(type, "M") == 0) {
		if (depth > DYNAMO_MAX_DEPTH)
			return conv_fail(c, "nested deeper than %d levels", DYNAMO_MAX_DEPTH);
		return map_to_plain(c, v, depth);
	}
	if (strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0)
		return set_to_plain(c, type, v);
	return conv_fail(c, "unknown AttributeValue type");
}

json_t *dynamo_av_to_plain(const json_t *av, char *err, size_t errlen)
{
	struct conv c = { .err = err, .errlen = errlen };
	return to_plain(&c, av, 1);
}

json_t *dynamo_item_to_plain(const json_t *item, char *err, size_t errlen)
{
	struct conv c = { .err = err, .errlen = errlen };
	if (!json_is_object(item)) {
		fail(err, errlen, "an item is not an object");
		return NULL;
	}
	return map_to_plain(&c, item, 0);
}

/* ---- keys and cursors ---- */

/* A key attribute: S, N or B with a bounded string. */
static bool key_value_valid(const json_t *av)
{
	if (!json_is_object(av) || json_object_size(av) != 1)
		return false;
	const json_t *s = json_object_get(av, "S"), *n = json_object_get(av, "N"),
		     *b = json_object_get(av, "B");
	const json_t *v = s ? s : n ? n : b;
	if (!json_is_string(v) || json_string_length(v) > DYNAMO_KEY_VALUE_MAX * 4 / 3 + 4)
		return false;
	if (n)
		return dynamo_number_valid(json_string_value(v));
	if (b)
		return b64_valid(json_string_value(v), json_string_length(v), NULL);
	return json_string_length(v) <= DYNAMO_KEY_VALUE_MAX;
}

static bool key_name_valid(const char *name)
{
	size_t len = strlen(name);
	return len >= 1 && len <= DYNAMO_KEY_NAME_MAX;
}

static int key_names_add(struct dynamo_key_names *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++)
		if (strcmp(names->name[i], name) == 0)
			return 0;
	if (names->n >= DYNAMO_KEY_ATTRS_MAX || !key_name_valid(name))
		return -1;
	snprintf(names->name[names->n++], sizeof names->name[0], "%s", name);
	return 0;
}

static int key_schema_add(const json_t *schema, struct dynamo_key_names *out)
{
	if (!json_is_array(schema) || json_array_size(schema) == 0 || json_array_size(schema) > 2)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(schema, i, e) {
		const char *name = json_string_value(json_object_get(e, "AttributeName"));
		if (!name || key_names_add(out, name) != 0)
			return -1;
	}
	return 0;
}

static const json_t *find_index(const json_t *table, const char *index)
{
	static const char *const lists[] = { "GlobalSecondaryIndexes", "LocalSecondaryIndexes" };
	for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(table, lists[l]), i, e) {
			const char *name = json_string_value(json_object_get(e, "IndexName"));
			if (name && strcmp(name, index) == 0)
				return e;
		}
	}
	return NULL;
}

int dynamo_key_names_parse(const char *body, size_t len, const char *index,
                           struct dynamo_key_names *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *table = json_object_get(root, "Table");
	int rc = -1;
	if (key_schema_add(json_object_get(table, "KeySchema"), out) != 0) {
		fail(err, errlen, "DescribeTable's answer has no usable Table.KeySchema");
		goto out;
	}
	if (index) {
		const json_t *ix = find_index(table, index);
		if (!ix) {
			fail(err, errlen, "the table has no index '%s'", index);
			goto out;
		}
		if (key_schema_add(json_object_get(ix, "KeySchema"), out) != 0) {
			fail(err, errlen, "DescribeTable's answer has no usable KeySchema for index '%s'", index);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

json_t *dynamo_item_key(const json_t *item, const struct dynamo_key_names *names, char *err,
                        size_t errlen)
{
	json_t *key = json_object();
	if (!key) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < names->n; i++) {
		json_t *v = json_object_get(item, names->name[i]);
		if (!key_value_valid(v)) {
			fail(err, errlen, "an item lacks a usable key attribute '%s'", names->name[i]);
			json_decref(key);
			return NULL;
		}
		if (json_object_set(key, names->name[i], v) != 0) {
			fail(err, errlen, "out of memory");
			json_decref(key);
			return NULL;
		}
	}
	return key;
}

char *dynamo_cursor_encode(const char *table, const char *index, const json_t *key)
{
	json_t *doc = json_pack("{s:s, s:O}", "t", table, "k", key);
	if (!doc || (index && json_object_set_new(doc, "i", json_string(index)) != 0)) {
		json_decref(doc);
		return NULL;
	}
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return NULL;
	size_t need = 0;
	mbedtls_base64_encode(NULL, 0, &need, (const unsigned char *)text, strlen(text));
	char *out = need <= DYNAMO_CURSOR_MAX + 1 ? malloc(need) : NULL;
	size_t olen;
	if (out && mbedtls_base64_encode((unsigned char *)out, need, &olen, (const unsigned char *)text,
	                                 strlen(text)) != 0) {
		free(out);
		out = NULL;
	}
	free(text);
	return out;
}

static bool same_name(const json_t *v, const char *want)
{
	if (!want)
		return v == NULL;
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* A table or index name short and plain enough to quote in an error. */
static bool printable_name(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || json_string_length(v) > 255)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static json_t *cursor_key_checked(json_t *doc, const char *table, const char *index, char *err,
                                  size_t errlen)
{
	json_t *t = json_object_get(doc, "t"), *i = json_object_get(doc, "i"),
	       *k = json_object_get(doc, "k");
	if (!json_is_string(t) || !json_is_object(k) || (i && !json_is_string(i)) ||
	    json_object_size(doc) != 2u + (i ? 1u : 0u)) {
		fail(err, errlen, "cursor: not a cursor from dynamo_query");
		return NULL;
	}
	if (!same_name(t, table) || !same_name(i, index)) {
		if (printable_name(t) && (!i || printable_name(i)))
			fail(err, errlen, "cursor: it was made for table '%s'%s%s%s, not for this query",
			     json_string_value(t), i ? " index '" : "", i ? json_string_value(i) : "", i ? "'" : "");
		else
			fail(err, errlen, "cursor: it was made for another table or index, not for this query");
		return NULL;
	}
	if (json_object_size(k) < 1 || json_object_size(k) > DYNAMO_KEY_ATTRS_MAX) {
		fail(err, errlen, "cursor: its key has %zu attributes (1 to %d)", json_object_size(k),
		     DYNAMO_KEY_ATTRS_MAX);
		return NULL;
	}
	const char *name;
	json_t *v;
	json_object_foreach(k, name, v) {
		if (!key_name_valid(name) || !key_value_valid(v)) {
			fail(err, errlen, "cursor: its key attributes must be S, N or B values");
			return NULL;
		}
	}
	return json_incref(k);
}

json_t *dynamo_cursor_decode(const char *cursor, const char *table, const char *index, char *err,
                             size_t errlen)
{
	size_t len = strlen(cursor), bytes;
	if (len == 0 || len > DYNAMO_CURSOR_MAX || !b64_valid(cursor, len, &bytes)) {
		fail(err, errlen, "cursor: not a cursor from dynamo_query (pass next_cursor unchanged)");
		return NULL;
	}
	unsigned char *raw = malloc(bytes + 1);
	size_t olen = 0;
	if (!raw || mbedtls_base64_decode(raw, bytes + 1, &olen, (const unsigned char *)cursor, len) != 0) {
		free(raw);
		fail(err, errlen, "cursor: not a cursor from dynamo_query (pass next_cursor unchanged)");
		return NULL;
	}
	json_t *doc = json_loadb((const char *)raw, olen, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	json_t *key = NULL;
	if (!json_is_object(doc))
		fail(err, errlen, "cursor: not a cursor from dynamo_query (pass next_cursor unchanged)");
	else
		key = cursor_key_checked(doc, table, index, err, errlen);
	json_decref(doc);
	return key;
}

/* ---- fitting a large item into a result ---- */

struct attr_size {
	const char *name;
	size_t bytes; /* "name":value plus its comma */
};

static int by_size_desc(const void *a, const void *b)
{
	const struct attr_size *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Drops the largest attributes of `item` (a plain object, changed in place) until it and the
 * list of omitted names fit in `budget` bytes. Names go into `omitted` (at most
 * OMITTED_NAMES_MAX, within a quarter of the budget); returns how many were dropped. */
static size_t fit_item(json_t *item, size_t budget, json_t *omitted)
{
	size_t n = json_object_size(item);
	if (n == 0)
		return 0;
	struct attr_size *attrs = calloc(n, sizeof *attrs);
	if (!attrs) {
		json_object_clear(item);
		return n;
	}
	size_t i = 0, total = 1; /* the braces, less the last comma */
	const char *name;
	json_t *v;
	json_object_foreach(item, name, v) {
		json_t *key = json_string(name);
		attrs[i].name = name;
		attrs[i].bytes = (key ? dump_size(key) : strlen(name) * 6 + 2) + 1 + dump_size(v) + 1;
		json_decref(key);
		total += attrs[i++].bytes;
	}
	qsort(attrs, n, sizeof *attrs, by_size_desc);
	size_t list = 2, dropped = 0;
	json_t *gone = json_array();
	for (i = 0; i < n && total + list > budget; i++) {
		total -= attrs[i].bytes;
		dropped++;
		json_t *s = json_string(attrs[i].name);
		size_t sz = s ? dump_size(s) + 1 : 0;
		if (s && strlen(attrs[i].name) <= NAME_LISTED_MAX && json_array_size(omitted) < OMITTED_NAMES_MAX &&
		    list + sz <= budget / 4 && json_array_append(omitted, s) == 0)
			list += sz;
		json_decref(s);
		/* names point into the item: delete after the loop */
		json_array_append_new(gone, json_string(attrs[i].name));
	}
	size_t k;
	json_t *g;
	json_array_foreach(gone, k, g)
		json_object_del(item, json_string_value(g));
	json_decref(gone);
	free(attrs);
	return dropped;
}

/* ---- GetItem ---- */

static json_t *parse_object(const char *body, size_t len, const char *what, char *err, size_t errlen)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		fail(err, errlen, "%s's answer is not a JSON object", what);
		return NULL;
	}
	return root;
}

static json_t *get_result_fitted(json_t *item, size_t full, size_t cap)
{
	json_t *omitted = json_array();
	json_t *res = json_pack("{s:o, s:o}", "item", item, "omitted_attributes", omitted);
	if (!res)
		return NULL;
	/* Room for the notice text and its numbers. */
	size_t skeleton = strlen("{\"item\":,\"omitted_attributes\":,\"notice\":\"\",\"omitted_count\":}") +
		200 + NOTICE_SLACK;
	size_t budget = cap > skeleton ? cap - skeleton : 0;
	size_t dropped = fit_item(item, budget, omitted);
	char notice[300];
	snprintf(notice, sizeof notice,
	         "[truncated: the item is %zu bytes as JSON, over the result cap of %zu bytes; %zu "
	         "attributes were left out (omitted_attributes lists them): read them with "
	         "attributes=[...]]", full, cap, dropped);
	json_object_set_new(res, "omitted_count", json_integer((json_int_t)dropped));
	json_object_set_new(res, "notice", json_string(notice));
	return res;
}

json_t *dynamo_get_result(const char *body, size_t len, const char *table, size_t cap, char *err,
                          size_t errlen)
{
	json_t *root = parse_object(body, len, "GetItem", err, errlen);
	if (!root)
		return NULL;
	json_t *res = NULL;
	json_t *av = json_object_get(root, "Item");
	if (!av) {
		char notice[400];
		snprintf(notice, sizeof notice, "no item with this key in table '%s'", table);
		res = json_pack("{s:n, s:s}", "item", "notice", notice);
		goto out;
	}
	json_t *item = dynamo_item_to_plain(av, err, errlen);
	if (!item)
		goto out;
	res = json_pack("{s:o}", "item", item);
	size_t full = res ? dump_size(res) : 0;
	if (res && full > cap) {
		json_incref(item);
		json_decref(res);
		res = get_result_fitted(item, full, cap);
	}
out:
	if (!res && err && !*err)
		fail(err, errlen, "out of memory");
	json_decref(root);
	return res;
}

/* ---- Query ---- */

int dynamo_page_parse(const char *body, size_t len, struct dynamo_page *page, char *err,
                      size_t errlen)
{
	memset(page, 0, sizeof *page);
	json_t *root = parse_object(body, len, "Query", err, errlen);
	if (!root)
		return -1;
	json_t *items = json_object_get(root, "Items");
	json_t *last = json_object_get(root, "LastEvaluatedKey");
	int rc = -1;
	if (!json_is_array(items)) {
		fail(err, errlen, "Query's answer has no Items array");
		goto out;
	}
	if (last && (!json_is_object(last) || json_object_size(last) < 1 ||
	             json_object_size(last) > DYNAMO_KEY_ATTRS_MAX)) {
		fail(err, errlen, "Query's answer has an unusable LastEvaluatedKey");
		goto out;
	}
	if (last) {
		const char *name;
		json_t *v;
		json_object_foreach(last, name, v) {
			if (!key_name_valid(name) || !key_value_valid(v)) {
				fail(err, errlen, "Query's answer has an unusable LastEvaluatedKey");
				goto out;
			}
		}
	}
	page->items = json_incref(items);
	page->last_key = json_incref(last);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void dynamo_page_free(struct dynamo_page *page)
{
	json_decref(page->items);
	json_decref(page->last_key);
	memset(page, 0, sizeof *page);
}

/* The query result's frame without its items: what it costs besides the items. */
static json_t *query_frame(size_t count, const char *cursor, const char *notice)
{
	json_t *res = json_pack("{s:[], s:I}", "items", "count", (json_int_t)count);
	if (!res)
		return NULL;
	int rc = json_object_set_new(res, "next_cursor", cursor ? json_string(cursor) : json_null());
	if (notice)
		rc |= json_object_set_new(res, "notice", json_string(notice));
	if (rc != 0) {
		json_decref(res);
		return NULL;
	}
	return res;
}

struct query_build {
	const struct dynamo_page *page;
	const char *table, *index;
	struct dynamo_key_names names;
	json_t *plain;    /* plain items */
	size_t *prefix;   /* prefix[k]: bytes of the first k items with their commas */
	size_t full;      /* bytes of the whole page's result */
	size_t cap;
	char *err;
	size_t errlen;
};

static void cut_notice(char *out, size_t cap, size_t kept, const struct query_build *b)
{
	snprintf(out, cap, "[truncated: %zu of %zu items shown: the page is %zu bytes as JSON, over "
	         "the result cap of %zu bytes; call again with cursor=next_cursor for the rest]",
	         kept, json_array_size(b->plain), b->full, b->cap);
}

static char *cursor_after(const struct query_build *b, size_t i)
{
	json_t *key = dynamo_item_key(json_array_get(b->page->items, i), &b->names, b->err, b->errlen);
	if (!key)
		return NULL;
	char *cursor = dynamo_cursor_encode(b->table, b->index, key);
	json_decref(key);
	if (!cursor)
		fail(b->err, b->errlen, "the cursor could not be made (its key is too large)");
	return cursor;
}

static json_t *frame_with_items(json_t *frame, const json_t *plain, size_t k)
{
	json_t *items = json_object_get(frame, "items");
	for (size_t i = 0; i < k; i++)
		if (json_array_append(items, json_array_get(plain, i)) != 0) {
			json_decref(frame);
			return NULL;
		}
	return frame;
}

/* The first item alone is over the cap: keep it with its largest attributes left out. */
static json_t *query_first_item_fitted(struct query_build *b, char *cursor)
{
	char notice[400];
	cut_notice(notice, sizeof notice, 1, b);
	json_t *frame = query_frame(1, cursor, notice);
	json_t *item = json_deep_copy(json_array_get(b->plain, 0));
	json_t *omitted = json_array();
	if (!frame || !item || !omitted ||
	    json_object_set(frame, "omitted_attributes", omitted) != 0 ||
	    json_object_set_new(frame, "omitted_count", json_integer(0)) != 0) {
		json_decref(frame), json_decref(item), json_decref(omitted);
		return NULL;
	}
	size_t fixed = dump_size(frame) + NOTICE_SLACK;
	fit_item(item, b->cap > fixed ? b->cap - fixed : 0, omitted);
	json_object_set_new(frame, "omitted_count",
	                    json_integer((json_int_t)(json_object_size(json_array_get(b->plain, 0)) -
	                                              json_object_size(item))));
	json_array_append_new(json_object_get(frame, "items"), item);
	json_decref(omitted);
	return frame;
}

static json_t *query_cut(struct query_build *b)
{
	size_t n = json_array_size(b->plain);
	for (size_t k = n - 1; k >= 1; k--) {
		char *cursor = cursor_after(b, k - 1);
		if (!cursor)
			return NULL;
		char notice[400];
		cut_notice(notice, sizeof notice, k, b);
		json_t *frame = query_frame(k, cursor, notice);
		free(cursor);
		if (!frame)
			return NULL;
		if (dump_size(frame) + b->prefix[k] - 1 <= b->cap)
			return frame_with_items(frame, b->plain, k);
		json_decref(frame);
	}
	char *cursor = cursor_after(b, 0);
	if (!cursor)
		return NULL;
	json_t *res = query_first_item_fitted(b, cursor);
	free(cursor);
	return res;
}

static int names_from_key(const json_t *key, struct dynamo_key_names *names)
{
	memset(names, 0, sizeof *names);
	const char *name;
	json_t *v;
	json_object_foreach((json_t *)key, name, v)
		if (key_names_add(names, name) != 0)
			return -1;
	return 0;
}

static json_t *query_build_run(struct query_build *b, const struct dynamo_key_names *names,
                               bool *need_names)
{
	size_t n = json_array_size(b->page->items);
	size_t i;
	json_t *av;
	json_array_foreach(b->page->items, i, av) {
		json_t *item = dynamo_item_to_plain(av, b->err, b->errlen);
		if (!item || json_array_append_new(b->plain, item) != 0)
			return NULL;
		b->prefix[i + 1] = b->prefix[i] + dump_size(item) + 1;
	}
	char *cursor = NULL;
	if (b->page->last_key && !(cursor = dynamo_cursor_encode(b->table, b->index, b->page->last_key))) {
		fail(b->err, b->errlen, "the cursor could not be made (its key is too large)");
		return NULL;
	}
	json_t *frame = query_frame(n, cursor, NULL);
	free(cursor);
	if (!frame)
		return NULL;
	b->full = dump_size(frame) + (n ? b->prefix[n] - 1 : 0);
	/* A page with nothing to drop goes out whole, even when its cursor alone is large. */
	if (b->full <= b->cap || n == 0)
		return frame_with_items(frame, b->plain, n);
	json_decref(frame);
	if (b->page->last_key) {
		if (names_from_key(b->page->last_key, &b->names) != 0) {
			fail(b->err, b->errlen, "Query's answer has an unusable LastEvaluatedKey");
			return NULL;
		}
	} else if (names) {
		b->names = *names;
	} else {
		*need_names = true;
		return NULL;
	}
	return query_cut(b);
}

json_t *dynamo_query_result(const struct dynamo_page *page, const char *table, const char *index,
                            const struct dynamo_key_names *names, size_t cap, bool *need_names,
                            char *err, size_t errlen)
{
	*need_names = false;
	if (err && errlen)
		err[0] = '\0';
	if (!json_is_array(page->items)) {
		fail(err, errlen, "no items");
		return NULL;
	}
	struct query_build b = {
		.page = page, .table = table, .index = index, .cap = cap, .err = err, .errlen = errlen,
		.plain = json_array(),
		.prefix = calloc(json_array_size(page->items) + 1, sizeof *b.prefix),
	};
	json_t *res = b.plain && b.prefix ? query_build_run(&b, names, need_names) : NULL;
	if (!res && !*need_names && err && !*err)
		fail(err, errlen, "out of memory");
	json_decref(b.plain);
	free(b.prefix);
	return res;
}

/* ---- knowledge bases ---- */

json_t *kb_request_body(const char *query, long long top_k, const char *next_token)
{
	json_t *body = json_pack("{s:{s:s}, s:{s:{s:I}}}", "retrievalQuery", "text", query,
	                         "retrievalConfiguration", "vectorSearchConfiguration",
	                         "numberOfResults", (json_int_t)top_k);
	if (body && next_token && json_object_set_new(body, "nextToken", json_string(next_token)) != 0) {
		json_decref(body);
		return NULL;
	}
	return body;
}

bool kb_id_valid(const char *id)
{
	size_t len = strlen(id);
	if (len < 1 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return true;
}

bool kb_token_valid(const char *token)
{
	size_t len = strlen(token);
	if (len < 1 || len > KB_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
			return false;
	return true;
}

/* The first uri / url / id / query string of any location member (s3Location.uri,
 * webLocation.url, confluenceLocation.url, customDocumentLocation.id, ...). */
static const char *kb_source(const json_t *location)
{
	static const char *const fields[] = { "uri", "url", "id", "query" };
	const char *name;
	json_t *v;
	json_object_foreach((json_t *)location, name, v) {
		if (!json_is_object(v))
			continue;
		for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
			const char *s = json_string_value(json_object_get(v, fields[f]));
			if (s)
				return strlen(s) <= KB_SOURCE_MAX ? s : NULL;
		}
	}
	return NULL;
}

/* Structured rows (content.row) become "column: value" lines. */
static char *kb_row_text(const json_t *row)
{
	size_t cap = 1, i;
	json_t *col;
	json_array_foreach(row, i, col) {
		const char *n = json_string_value(json_object_get(col, "columnName"));
		const char *v = json_string_value(json_object_get(col, "columnValue"));
		cap += (n ? strlen(n) : 0) + (v ? strlen(v) : 0) + 3;
	}
	char *text = malloc(cap);
	if (!text)
		return NULL;
	size_t off = 0;
	json_array_foreach(row, i, col) {
		const char *n = json_string_value(json_object_get(col, "columnName"));
		const char *v = json_string_value(json_object_get(col, "columnValue"));
		off += (size_t)snprintf(text + off, cap - off, "%s: %s\n", n ? n : "", v ? v : "");
	}
	text[off] = '\0';
	return text;
}

static int kb_set_text(json_t *out, const char *text, size_t len, size_t max_text)
{
	bool cut;
	size_t keep = mcp_text_cap(text, len, max_text, &cut);
	int rc = json_object_set_new(out, "text", json_stringn(text, keep));
	if (cut) {
		rc |= json_object_set_new(out, "truncated", json_true());
		rc |= json_object_set_new(out, "text_bytes", json_integer((json_int_t)len));
	}
	return rc;
}

static int kb_content(json_t *out, const json_t *content, size_t max_text)
{
	const json_t *text = json_object_get(content, "text");
	if (json_is_string(text))
		return kb_set_text(out, json_string_value(text), json_string_length(text), max_text);
	const json_t *row = json_object_get(content, "row");
	if (json_is_array(row)) {
		char *t = kb_row_text(row);
		int rc = t ? kb_set_text(out, t, strlen(t), max_text) : -1;
		free(t);
		return rc;
	}
	const json_t *type = json_object_get(content, "type");
	char marker[100];
	snprintf(marker, sizeof marker, "[%s content not shown]",
	         printable_name(type) && json_string_length(type) <= 40 ? json_string_value(type) : "non-text");
	return json_object_set_new(out, "text", json_string(marker));
}

static json_t *kb_result_one(const json_t *r, size_t max_text, char *err, size_t errlen)
{
	if (!json_is_object(r)) {
		fail(err, errlen, "Retrieve's answer has a result that is not an object");
		return NULL;
	}
	json_t *out = json_object();
	if (!out || kb_content(out, json_object_get(r, "content"), max_text) != 0) {
		json_decref(out);
		fail(err, errlen, "out of memory");
		return NULL;
	}
	const json_t *score = json_object_get(r, "score");
	json_object_set_new(out, "score", json_is_number(score) ? json_real(json_number_value(score))
	                                                        : json_null());
	const json_t *location = json_object_get(r, "location");
	const char *source = kb_source(location);
	json_object_set_new(out, "source", source ? json_string(source) : json_null());
	const char *type = json_string_value(json_object_get(location, "type"));
	if (type && strlen(type) <= 64)
		json_object_set_new(out, "source_type", json_string(type));
	const json_t *meta = json_object_get(r, "metadata");
	if (json_is_object(meta) && dump_size(meta) <= KB_METADATA_MAX)
		json_object_set_new(out, "metadata", json_deep_copy(meta));
	else if (meta && !json_is_null(meta))
		json_object_set_new(out, "metadata_omitted", json_true());
	return out;
}

static json_t *kb_frame(size_t count, const char *cursor, const char *notice)
{
	json_t *res = json_pack("{s:[], s:I}", "results", "count", (json_int_t)count);
	if (!res)
		return NULL;
	int rc = json_object_set_new(res, "next_cursor", cursor ? json_string(cursor) : json_null());
	if (notice)
		rc |= json_object_set_new(res, "notice", json_string(notice));
	if (rc != 0) {
		json_decref(res);
		return NULL;
	}
	return res;
}

static void kb_notice(char *out, size_t cap, size_t kept, size_t n, size_t full, size_t limit)
{
	snprintf(out, cap, "[truncated: %zu of %zu results shown: they are %zu bytes as JSON, over "
	         "the result cap of %zu bytes; next_cursor continues after all %zu: to read the rest "
	         "of this page, search again with top_k=%zu]", kept, n, full, limit, n,
	         kept ? kept : 1);
}

/* The first result alone is over the cap: drop its metadata and cut its text to fit. */
static json_t *kb_first_fitted(json_t *first, size_t n, size_t full, size_t cap, const char *cursor)
{
	char notice[400];
	kb_notice(notice, sizeof notice, 1, n, full, cap);
	json_t *frame = kb_frame(1, cursor, notice);
	json_t *r = json_deep_copy(first);
	if (!frame || !r) {
		json_decref(frame), json_decref(r);
		return NULL;
	}
	json_object_del(r, "metadata");
	json_t *text = json_incref(json_object_get(r, "text"));
	json_object_set_new(r, "text", json_string(""));
	json_object_set_new(r, "truncated", json_true());
	if (!json_object_get(r, "text_bytes"))
		json_object_set_new(r, "text_bytes", json_integer((json_int_t)json_string_length(text)));
	size_t fixed = dump_size(frame) + dump_size(r) + NOTICE_SLACK;
	if (fixed > cap)
		json_object_set_new(r, "source", json_null());
	/* Escapes can make JSON text up to 6 times its bytes: budget for the worst case. */
	size_t room = cap > fixed ? (cap - fixed) / 6 : 0;
	bool cut;
	size_t keep = mcp_text_cap(json_string_value(text), json_string_length(text), room, &cut);
	json_object_set_new(r, "text", json_stringn(json_string_value(text), keep));
	json_decref(text);
	json_array_append_new(json_object_get(frame, "results"), r);
	return frame;
}

static json_t *kb_fit(json_t *results, const char *cursor, size_t cap)
{
	size_t n = json_array_size(results);
	size_t *prefix = calloc(n + 1, sizeof *prefix);
	if (!prefix)
		return NULL;
	for (size_t i = 0; i < n; i++)
		prefix[i + 1] = prefix[i] + dump_size(json_array_get(results, i)) + 1;
	json_t *frame = kb_frame(n, cursor, NULL);
	size_t full = frame ? dump_size(frame) + (n ? prefix[n] - 1 : 0) : 0;
	size_t k = n;
	char notice[400];
	while (frame && full > cap && n > 0 && k > 1) {
		k--;
		kb_notice(notice, sizeof notice, k, n, full, cap);
		json_decref(frame);
		frame = kb_frame(k, cursor, notice);
		if (frame && dump_size(frame) + prefix[k] - 1 <= cap)
			break;
	}
	json_t *out = NULL;
	if (frame && (full <= cap || n == 0 || dump_size(frame) + prefix[k] - 1 <= cap)) {
		out = frame;
		for (size_t i = 0; i < k; i++)
			json_array_append(json_object_get(out, "results"), json_array_get(results, i));
	} else if (frame) {
		json_decref(frame);
		out = kb_first_fitted(json_array_get(results, 0), n, full, cap, cursor);
	}
	free(prefix);
	return out;
}

json_t *kb_retrieve_result(const char *body, size_t len, size_t max_text, size_t cap, char *err,
                           size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	json_t *root = parse_object(body, len, "Retrieve", err, errlen);
	if (!root)
		return NULL;
	json_t *list = json_object_get(root, "retrievalResults");
	json_t *token = json_object_get(root, "nextToken");
	json_t *results = NULL, *out = NULL;
	if (!json_is_array(list) || json_array_size(list) > KB_RESULTS_MAX) {
		fail(err, errlen, "Retrieve's answer has no retrievalResults array of at most %d", KB_RESULTS_MAX);
		goto done;
	}
	if (token && !json_is_null(token) && (!json_is_string(token) || !kb_token_valid(json_string_value(token)))) {
		fail(err, errlen, "Retrieve's answer has an unusable nextToken");
		goto done;
	}
	if (!(results = json_array()))
		goto done;
	size_t i;
	json_t *r;
	json_array_foreach(list, i, r) {
		json_t *one = kb_result_one(r, max_text, err, errlen);
		if (!one || json_array_append_new(results, one) != 0)
			goto done;
	}
	out = kb_fit(results, json_string_value(token), cap);
done:
	if (!out && err && !*err)
		fail(err, errlen, "out of memory");
	json_decref(results);
	json_decref(root);
	return out;
}
