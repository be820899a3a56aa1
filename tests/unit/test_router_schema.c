/* Unit tests for the router's argument checker (gateway/router/schema_check.c): each case is
 * a schema, an argument object, and either "valid" or the exact message a client would see. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "schema_check.h"

#include "check.h"

/* expect NULL = must pass; otherwise the message must equal expect. */
static void check(const char *label, const char *schema_text, const char *value_text,
                  const char *expect)
{
	json_error_t jerr;
	json_t *schema = schema_text ? json_loads(schema_text, 0, &jerr) : NULL;
	json_t *value = json_loads(value_text, JSON_DECODE_ANY, &jerr);
	if ((schema_text && !schema) || !value) {
		printf("FAIL %s: bad test JSON: %s\n", label, jerr.text);
		failures++;
		return;
	}
	char err[300];
	bool ok = schema_check(schema, value, err, sizeof err);
	if (!expect && !ok) {
		printf("FAIL %s: rejected: %s\n", label, err);
		failures++;
	} else if (expect && ok) {
		printf("FAIL %s: accepted, wanted \"%s\"\n", label, expect);
		failures++;
	} else if (expect && strcmp(err, expect) != 0) {
		printf("FAIL %s:\n  got  \"%s\"\n  want \"%s\"\n", label, err, expect);
		failures++;
	} else {
		printf("ok %s\n", label);
	}
	json_decref(schema);
	json_decref(value);
}

#define OBJ(props) "{\"type\":\"object\",\"properties\":" props "}"

static void types(void)
{
	const char *s = OBJ("{\"text\":{\"type\":\"string\"},\"n\":{\"type\":\"integer\"},"
	                    "\"x\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
	                    "\"z\":{\"type\":\"null\"},\"o\":{\"type\":\"object\"},"
	                    "\"a\":{\"type\":\"array\"},\"u\":{\"type\":[\"string\",\"null\"]}}");
	check("all types valid", s,
	      "{\"text\":\"hi\",\"n\":3,\"x\":2.5,\"b\":true,\"z\":null,\"o\":{},\"a\":[],\"u\":null}", NULL);
	check("string wanted", s, "{\"text\":3}", "argument 'text': expected string, got integer");
	check("integer wanted, real given", s, "{\"n\":2.5}", "argument 'n': expected integer, got number");
	check("1.0 counts as integer", s, "{\"n\":1.0}", NULL);
	check("integer is a number", s, "{\"x\":7}", NULL);
	check("boolean wanted", s, "{\"b\":\"true\"}", "argument 'b': expected boolean, got string");
	check("null wanted", s, "{\"z\":0}", "argument 'z': expected null, got integer");
	check("array wanted", s, "{\"a\":{}}", "argument 'a': expected array, got object");
	check("type list", s, "{\"u\":1}",
	      "argument 'u': expected one of the types [\"string\",\"null\"], got integer");
	check("arguments must be an object", "{\"type\":\"object\"}", "[]",
	      "arguments: expected object, got array");
	check("unknown type name accepted", "{\"type\":\"frobnicate\"}", "{}", NULL);
}

static void objects(void)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
	                "\"count\":{\"type\":\"integer\"}},\"required\":[\"text\"],"
	                "\"additionalProperties\":false}";
	check("required present", s, "{\"text\":\"a\"}", NULL);
	check("required missing", s, "{\"count\":1}", "argument 'text': is required but missing");
	check("additionalProperties false", s, "{\"text\":\"a\",\"extra\":1}",
	      "argument 'extra': is not accepted (the schema allows no such property)");
	check("additionalProperties schema", "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
	      "{\"a\":1,\"b\":\"x\"}", "argument 'b': expected integer, got string");
	check("patternProperties leaves extras alone",
	      "{\"type\":\"object\",\"patternProperties\":{\"^x\":{}},\"additionalProperties\":false}",
	      "{\"xy\":1}", NULL);
	check("minProperties", "{\"type\":\"object\",\"minProperties\":2}", "{\"a\":1}",
	      "arguments: must have at least 2 properties, got 1");
	check("maxProperties", "{\"type\":\"object\",\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
	      "arguments: must have at most 1 properties, got 2");
	check("nested path", OBJ("{\"user\":" OBJ("{\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}") "}"),
	      "{\"user\":{\"tags\":[\"a\",2]}}", "argument 'user.tags[1]': expected string, got integer");
	check("nested required", OBJ("{\"user\":{\"type\":\"object\",\"required\":[\"id\"]}}"),
	      "{\"user\":{}}", "argument 'user.id': is required but missing");
	check("empty arguments against required", s, "{}", "argument 'text': is required but missing");
}

static void values(void)
{
	check("enum ok", OBJ("{\"c\":{\"enum\":[\"red\",\"green\"]}}"), "{\"c\":\"red\"}", NULL);
	check("enum bad", OBJ("{\"c\":{\"enum\":[\"red\",\"green\"]}}"), "{\"c\":\"blue\"}",
	      "argument 'c': must be one of [\"red\",\"green\"], got \"blue\"");
	check("enum numeric 1 == 1.0", OBJ("{\"c\":{\"enum\":[1,2]}}"), "{\"c\":1.0}", NULL);
	check("const ok", OBJ("{\"v\":{\"const\":{\"k\":[1]}}}"), "{\"v\":{\"k\":[1]}}", NULL);
	check("const bad", OBJ("{\"v\":{\"const\":42}}"), "{\"v\":41}", "argument 'v': must be 42");
	const char *num = OBJ("{\"n\":{\"type\":\"number\",\"minimum\":1,\"maximum\":5}}");
	check("minimum ok", num, "{\"n\":1}", NULL);
	check("minimum bad", num, "{\"n\":0.5}", "argument 'n': must be >= 1, got 0.5");
	check("maximum bad", num, "{\"n\":6}", "argument 'n': must be <= 5, got 6");
	check("exclusiveMinimum (2020)", OBJ("{\"n\":{\"exclusiveMinimum\":0}}"), "{\"n\":0}",
	      "argument 'n': must be > 0, got 0");
	check("exclusiveMaximum (2020)", OBJ("{\"n\":{\"exclusiveMaximum\":10}}"), "{\"n\":10}",
	      "argument 'n': must be < 10, got 10");
	check("exclusiveMinimum (draft 4)", OBJ("{\"n\":{\"minimum\":0,\"exclusiveMinimum\":true}}"),
	      "{\"n\":0}", "argument 'n': must be > 0, got 0");
	check("multipleOf ok", OBJ("{\"n\":{\"multipleOf\":0.1}}"), "{\"n\":0.3}", NULL);
	check("multipleOf bad", OBJ("{\"n\":{\"multipleOf\":3}}"), "{\"n\":10}",
	      "argument 'n': must be a multiple of 3, got 10");
	const char *str = OBJ("{\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}}");
	check("maxLength counts characters", str, "{\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", NULL);
	check("maxLength bad", str, "{\"s\":\"abcd\"}",
	      "argument 's': must be at most 3 characters long, got 4");
	check("minLength bad", str, "{\"s\":\"a\"}",
	      "argument 's': must be at least 2 characters long, got 1");
	check("pattern is not enforced", OBJ("{\"s\":{\"type\":\"string\",\"pattern\":\"^a$\"}}"),
	      "{\"s\":\"b\"}", NULL);
}

static void arrays(void)
{
	const char *s = OBJ("{\"a\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"uniqueItems\":true,"
	                    "\"items\":{\"type\":\"integer\",\"minimum\":0}}}");
	check("items ok", s, "{\"a\":[1,2]}", NULL);
	check("minItems", s, "{\"a\":[]}", "argument 'a': must have at least 1 items, got 0");
	check("maxItems", s, "{\"a\":[1,2,3]}", "argument 'a': must have at most 2 items, got 3");
	check("uniqueItems", s, "{\"a\":[1,1]}", "argument 'a': items 0 and 1 are equal; they must be unique");
	check("item bound", s, "{\"a\":[-1]}", "argument 'a[0]': must be >= 0, got -1");
	check("prefixItems", OBJ("{\"p\":{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}"),
	      "{\"p\":[\"a\",\"b\"]}", "argument 'p[1]': expected integer, got string");
	check("tuple items (draft 7) with additionalItems false",
	      OBJ("{\"p\":{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}}"),
	      "{\"p\":[\"a\",1]}", "argument 'p[1]': is not allowed");
}

static void combinators(void)
{
	const char *any = OBJ("{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}");
	check("anyOf ok", any, "{\"v\":3}", NULL);
	check("anyOf bad", any, "{\"v\":true}",
	      "argument 'v': matches none of the allowed forms (the last one failed with: argument 'v': "
	      "expected integer, got boolean)");
	const char *one = OBJ("{\"v\":{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}}");
	check("oneOf exactly one", one, "{\"v\":-1}", NULL);
	check("oneOf two", one, "{\"v\":1}", "argument 'v': must match exactly one of the allowed forms, matches 2");
	check("allOf", OBJ("{\"v\":{\"allOf\":[{\"type\":\"integer\"},{\"maximum\":3}]}}"), "{\"v\":4}",
	      "argument 'v': must be <= 3, got 4");
	check("not", OBJ("{\"v\":{\"not\":{\"type\":\"string\"}}}"), "{\"v\":\"x\"}",
	      "argument 'v': matches a form that is not allowed");
	check("false schema", OBJ("{\"v\":false}"), "{\"v\":1}", "argument 'v': is not allowed");
	check("true schema", OBJ("{\"v\":true}"), "{\"v\":1}", NULL);
}

static void refs_and_bounds(void)
{
	const char *s = "{\"type\":\"object\",\"$defs\":{\"id\":{\"type\":\"string\",\"minLength\":3}},"
	                "\"properties\":{\"id\":{\"$ref\":\"#/$defs/id\"}}}";
	check("$ref to $defs", s, "{\"id\":\"ab\"}",
	      "argument 'id': must be at least 3 characters long, got 2");
	check("$ref with escaped pointer",
	      "{\"definitions\":{\"a/b\":{\"type\":\"integer\"}},\"properties\":{\"x\":{\"$ref\":\"#/definitions/a~1b\"}}}",
	      "{\"x\":\"s\"}", "argument 'x': expected integer, got string");
	check("remote $ref is never fetched", OBJ("{\"x\":{\"$ref\":\"https://example.com/s.json\"}}"),
	      "{\"x\":1}", NULL);
	check("$ref cycle is bounded", "{\"$ref\":\"#\"}", "{}", "arguments: nested more than 64 levels deep");
	/* A recursive tree schema with a value deeper than the bound. */
	char deep[2048] = "{\"t\":";
	for (int i = 0; i < 70; i++)
		strcat(deep, "[");
	for (int i = 0; i < 70; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	const char *tree = "{\"$defs\":{\"node\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},"
	                   "\"properties\":{\"t\":{\"$ref\":\"#/$defs/node\"}}}";
	json_error_t jerr;
	json_t *schema = json_loads(tree, 0, &jerr);
	json_t *value = json_loads(deep, 0, &jerr);
	char err[300];
	bool ok = schema_check(schema, value, err, sizeof err);
	if (ok || !strstr(err, "nested more than 64 levels deep")) {
		printf("FAIL deep value is bounded: %s\n", ok ? "accepted" : err);
		failures++;
	} else {
		printf("ok deep value is bounded\n");
	}
	json_decref(schema);
	json_decref(value);
	check("no schema accepts", NULL, "{\"anything\":1}", NULL);
	check("non-object schema accepts", "[1]", "{\"anything\":1}", NULL);
}

int main(void)
{
	types();
	objects();
	values();
	arrays();
	combinators();
	refs_and_bounds();
	return check_finish();
}
