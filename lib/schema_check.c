/* The argument checker (see schema_check.h). Recursive over schema and value with one depth
 * bound for both, so neither a deep value nor a $ref cycle can run away. */
#include "schema_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256
#define UNIQUE_MAX_ITEMS 1000 /* uniqueItems is quadratic; larger arrays are left to the server */

struct check {
	const json_t *root;      /* the whole schema, for $ref */
	char path[PATH_MAX_LEN]; /* "user.tags[2]" */
	size_t path_len;
	char *err;
	size_t errlen;
};

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

static bool fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct check *c, const char *fmt, ...)
{
	char what[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (c->path_len)
		snprintf(c->err, c->errlen, "argument '%s': %s", c->path, what);
	else
		snprintf(c->err, c->errlen, "arguments: %s", what);
	return false;
}

/* ---- the path shown in messages ---- */

static size_t path_push_key(struct check *c, const char *key)
{
	size_t mark = c->path_len;
	int n = snprintf(c->path + mark, sizeof c->path - mark, "%s%s", mark ? "." : "", key);
	c->path_len = n < 0 ? mark : strnlen(c->path, sizeof c->path - 1);
	return mark;
}

static size_t path_push_index(struct check *c, size_t i)
{
	size_t mark = c->path_len;
	snprintf(c->path + mark, sizeof c->path - mark, "[%zu]", i);
	c->path_len = strnlen(c->path, sizeof c->path - 1);
	return mark;
}

static void path_pop(struct check *c, size_t mark)
{
	c->path_len = mark;
	c->path[mark] = '\0';
}

/* ---- small helpers ---- */

static bool is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static double number_of(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* JSON Schema counts 1.0 as an integer. */
static bool is_integral(const json_t *v)
{
	if (json_is_integer(v))
		return true;
	if (!json_is_real(v))
		return false;
	double d = json_real_value(v);
	if (!isfinite(d))
		return false;
	if (d >= 9007199254740992.0 || d <= -9007199254740992.0)
		return true; /* beyond 2^53 every double is a whole number */
	return (double)(long long)d == d;
}

/* Equality as JSON Schema sees it: 1 and 1.0 are the same number. */
static bool same_value(const json_t *a, const json_t *b)
{
	if (is_number(a) && is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return number_of(a) == number_of(b);
	}
	return json_equal((json_t *)a, (json_t *)b);
}

static bool type_matches(const char *type, const json_t *v)
{
	if (strcmp(type, "integer") == 0)
		return is_integral(v);
	if (strcmp(type, "number") == 0)
		return is_number(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	return true; /* an unknown type name: not ours to refuse */
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t utf8_length(const char *s, size_t bytes)
{
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* A short rendering of a value for messages. */
static void render(const json_t *v, char *out, size_t cap)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s) {
		snprintf(out, cap, "(value)");
		return;
	}
	if (strlen(s) >= cap && cap > 4)
		snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
	else
		snprintf(out, cap, "%s", s);
	free(s);
}

/* Resolves "#", "#/$defs/x", "#/definitions/x" and any other same-document JSON pointer. */
static const json_t *resolve_ref(const json_t *root, const char *ref)
{
	if (ref[0] != '#')
		return NULL; /* another document: never fetched */
	const json_t *at = root;
	const char *p = ref + 1;
	while (*p == '/') {
		p++;
		char token[128];
		size_t n = 0;
		while (*p && *p != '/' && n + 1 < sizeof token) {
			if (p[0] == '~' && p[1] == '0') {
				token[n++] = '~';
				p += 2;
			} else if (p[0] == '~' && p[1] == '1') {
				token[n++] = '/';
				p += 2;
			} else {
				token[n++] = *p++;
			}
		}
		token[n] = '\0';
		if (json_is_object(at)) {
			at = json_object_get(at, token);
		} else if (json_is_array(at)) {
			char *end;
			unsigned long i = strtoul(token, &end, 10);
			at = *end ? NULL : json_array_get(at, i);
		} else {
			return NULL;
		}
		if (!at)
			return NULL;
	}
	return *p ? NULL : at;
}

static bool check(struct check *c, const json_t *schema, const json_t *v, unsigned depth);

/* ---- keyword groups ---- */

static bool check_type(struct check *c, const json_t *schema, const json_t *v)
{
	const json_t *type = json_object_get(schema, "type");
	if (json_is_string(type)) {
		if (!type_matches(json_string_value(type), v))
			return fail(c, "expected %s, got %s", json_string_value(type), type_of(v));
	} else if (json_is_array(type) && json_array_size(type) > 0) {
		size_t i;
		const json_t *t;
		json_array_foreach(type, i, t) {
			if (!json_is_string(t) || type_matches(json_string_value(t), v))
				return true;
		}
		char want[128];
		render(type, want, sizeof want);
		return fail(c, "expected one of the types %s, got %s", want, type_of(v));
	}
	return true;
}

static bool check_enum_const(struct check *c, const json_t *schema, const json_t *v)
{
	const json_t *cst = json_object_get(schema, "const");
	if (cst && !same_value(cst, v)) {
		char want[96];
		render(cst, want, sizeof want);
		return fail(c, "must be %s", want);
	}
	const json_t *en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		size_t i;
		const json_t *e;
		json_array_foreach(en, i, e) {
			if (same_value(e, v))
				return true;
		}
		char want[128], got[64];
		render(en, want, sizeof want);
		render(v, got, sizeof got);
		return fail(c, "must be one of %s, got %s", want, got);
	}
	return true;
}

static bool bound(const json_t *schema, const char *key, double *out)
{
	const json_t *b = json_object_get(schema, key);
	if (!is_number(b))
		return false;
	*out = number_of(b);
	return true;
}

static bool check_number(struct check *c, const json_t *schema, const json_t *v)
{
	double x = number_of(v), b;
	char got[48];
	render(v, got, sizeof got);
	const json_t *exmin = json_object_get(schema, "exclusiveMinimum");
	const json_t *exmax = json_object_get(schema, "exclusiveMaximum");
	if (bound(schema, "minimum", &b)) {
		/* draft 4: exclusiveMinimum is a boolean modifying minimum */
		if (json_is_true(exmin) ? !(x > b) : !(x >= b))
			return fail(c, "must be %s %g, got %s", json_is_true(exmin) ? ">" : ">=", b, got);
	}
	if (bound(schema, "maximum", &b)) {
		if (json_is_true(exmax) ? !(x < b) : !(x <= b))
			return fail(c, "must be %s %g, got %s", json_is_true(exmax) ? "<" : "<=", b, got);
	}
	if (bound(schema, "exclusiveMinimum", &b) && !(x > b))
		return fail(c, "must be > %g, got %s", b, got);
	if (bound(schema, "exclusiveMaximum", &b) && !(x < b))
		return fail(c, "must be < %g, got %s", b, got);
	if (bound(schema, "multipleOf", &b) && b > 0) {
		double q = x / b;
		if (isfinite(q) && q < 9e15 && q > -9e15) {
			double nearest = (double)(long long)(q + (q >= 0 ? 0.5 : -0.5));
			double off = q - nearest, scale = q < 0 ? -q : q;
			if (off < 0)
				off = -off;
			if (off > 1e-9 * (scale > 1.0 ? scale : 1.0))
				return fail(c, "must be a multiple of %g, got %s", b, got);
		}
	}
	return true;
}

static bool check_string(struct check *c, const json_t *schema, const json_t *v)
{
	size_t len = utf8_length(json_string_value(v), json_string_length(v));
	double b;
	if (bound(schema, "minLength", &b) && (double)len < b)
		return fail(c, "must be at least %g characters long, got %zu", b, len);
	if (bound(schema, "maxLength", &b) && (double)len > b)
		return fail(c, "must be at most %g characters long, got %zu", b, len);
	return true;
}

static bool check_array(struct check *c, const json_t *schema, const json_t *v, unsigned depth)
{
	size_t n = json_array_size(v);
	double b;
	if (bound(schema, "minItems", &b) && (double)n < b)
		return fail(c, "must have at least %g items, got %zu", b, n);
	if (bound(schema, "maxItems", &b) && (double)n > b)
		return fail(c, "must have at most %g items, got %zu", b, n);
	if (json_is_true(json_object_get(schema, "uniqueItems")) && n <= UNIQUE_MAX_ITEMS) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				if (same_value(json_array_get(v, i), json_array_get(v, j)))
					return fail(c, "items %zu and %zu are equal; they must be unique", i, j);
	}
	/* Tuple forms: prefixItems (2020-12) or an array-valued items (draft 4-7). */
	const json_t *prefix = json_object_get(schema, "prefixItems");
	const json_t *items = json_object_get(schema, "items");
	if (json_is_array(items)) {
		prefix = items;
		items = json_object_get(schema, "additionalItems");
	}
	size_t n_prefix = json_is_array(prefix) ? json_array_size(prefix) : 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *s = i < n_prefix ? json_array_get(prefix, i) : items;
		if (!s)
			continue;
		size_t mark = path_push_index(c, i);
		bool ok = check(c, s, json_array_get(v, i), depth + 1);
		path_pop(c, mark);
		if (!ok)
			return false;
	}
	return true;
}

static bool check_object(struct check *c, const json_t *schema, const json_t *v, unsigned depth)
{
	const json_t *props = json_object_get(schema, "properties");
	const json_t *required = json_object_get(schema, "required");
	const json_t *additional = json_object_get(schema, "additionalProperties");
	double b;
	size_t n = json_object_size(v);
	if (json_is_array(required)) {
		size_t i;
		const json_t *name;
		json_array_foreach(required, i, name) {
			if (json_is_string(name) && !json_object_get(v, json_string_value(name))) {
				size_t mark = path_push_key(c, json_string_value(name));
				fail(c, "is required but missing");
				path_pop(c, mark);
				return false;
			}
		}
	}
	if (bound(schema, "minProperties", &b) && (double)n < b)
		return fail(c, "must have at least %g properties, got %zu", b, n);
	if (bound(schema, "maxProperties", &b) && (double)n > b)
		return fail(c, "must have at most %g properties, got %zu", b, n);
	/* Without regular expressions, keys that patternProperties may cover cannot be judged. */
	bool judge_extra = !json_object_get(schema, "patternProperties");
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)v, key, value) {
		const json_t *s = json_is_object(props) ? json_object_get(props, key) : NULL;
		if (!s && judge_extra)
			s = additional;
		if (!s)
			continue;
		size_t mark = path_push_key(c, key);
		bool ok = json_is_false(s) && !json_object_get(props, key)
		          ? fail(c, "is not accepted (the schema allows no such property)")
		          : check(c, s, value, depth + 1);
		path_pop(c, mark);
		if (!ok)
			return false;
	}
	return true;
}

static bool check_combinators(struct check *c, const json_t *schema, const json_t *v,
                              unsigned depth)
{
	size_t i;
	const json_t *s;
	const json_t *all = json_object_get(schema, "allOf");
	if (json_is_array(all)) {
		json_array_foreach(all, i, s) {
			if (!check(c, s, v, depth + 1))
				return false;
		}
	}
	char saved[256] = "";
	const json_t *any = json_object_get(schema, "anyOf");
	if (json_is_array(any) && json_array_size(any) > 0) {
		bool matched = false;
		json_array_foreach(any, i, s) {
			if (check(c, s, v, depth + 1)) {
				matched = true;
				break;
			}
			snprintf(saved, sizeof saved, "%s", c->err);
		}
		if (!matched)
			return fail(c, "matches none of the allowed forms (the last one failed with: %.120s)",
			            saved);
	}
	const json_t *one = json_object_get(schema, "oneOf");
	if (json_is_array(one) && json_array_size(one) > 0) {
		size_t matches = 0;
		json_array_foreach(one, i, s) {
			matches += check(c, s, v, depth + 1);
		}
		if (matches != 1)
			return fail(c, "must match exactly one of the allowed forms, matches %zu", matches);
	}
	const json_t *not = json_object_get(schema, "not");
	if (not && check(c, not, v, depth + 1))
		return fail(c, "matches a form that is not allowed");
	return true;
}

static bool check(struct check *c, const json_t *schema, const json_t *v, unsigned depth)
{
	if (depth > SCHEMA_MAX_DEPTH)
		return fail(c, "nested more than %d levels deep", SCHEMA_MAX_DEPTH);
	if (json_is_boolean(schema))
		return json_is_true(schema) ? true : fail(c, "is not allowed");
	if (!json_is_object(schema))
		return true;
	const json_t *ref = json_object_get(schema, "$ref");
	if (json_is_string(ref)) {
		const json_t *target = resolve_ref(c->root, json_string_value(ref));
		if (target && !check(c, target, v, depth + 1))
			return false;
	}
	if (!check_type(c, schema, v) || !check_enum_const(c, schema, v))
		return false;
	if (is_number(v) && !check_number(c, schema, v))
		return false;
	if (json_is_string(v) && !check_string(c, schema, v))
		return false;
	if (json_is_array(v) && !check_array(c, schema, v, depth))
		return false;
	if (json_is_object(v) && !check_object(c, schema, v, depth))
		return false;
	return check_combinators(c, schema, v, depth);
}

bool schema_check(const json_t *schema, const json_t *value, char *err, size_t errlen)
{
	struct check c = { .root = schema, .err = err, .errlen = errlen };
	if (errlen)
		err[0] = '\0';
	return check(&c, schema, value, 0);
}
