/* Unit tests for exposed names (gateway/router/names.c) and the aggregated catalog
 * (gateway/router/catalog.c): namespacing, shortening, clashes, order, cursors, routing. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "names.h"

#include "check.h"

static void names(void)
{
	char out[NAME_MAX_LEN + 1];
	CHECK(name_valid("data__get_object"), "valid name");
	CHECK(!name_valid(""), "empty name invalid");
	CHECK(!name_valid("has.dot"), "dot invalid");
	CHECK(!name_valid("has space"), "space invalid");
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	CHECK(!name_valid(long_name), "65 characters invalid");
	long_name[64] = '\0';
	CHECK(name_valid(long_name), "64 characters valid");

	CHECK(name_expose("gh", "search", out) == 0 && strcmp(out, "gh__search") == 0, "namespaced");
	CHECK(name_expose("", "search", out) == 0 && strcmp(out, "search") == 0, "empty namespace unchanged");
	CHECK(name_expose("gh", "bad.name", out) == -1, "invalid upstream name refused");
	CHECK(name_expose("gh", "", out) == -1, "empty upstream name refused");

	char a[NAME_MAX_LEN + 1], b[NAME_MAX_LEN + 1], a2[NAME_MAX_LEN + 1];
	const char *n1 = "a_really_long_tool_name_that_goes_on_and_on_and_on_past_the_limit_one";
	const char *n2 = "a_really_long_tool_name_that_goes_on_and_on_and_on_past_the_limit_two";
	CHECK(name_expose("namespace", n1, a) == 0 && strlen(a) == NAME_MAX_LEN && name_valid(a),
	      "long name shortened to 64 valid characters");
	CHECK(strncmp(a, "namespace__a_really_long", 24) == 0, "shortened name keeps its prefix");
	CHECK(name_expose("namespace", n2, b) == 0 && strcmp(a, b) != 0, "shortened names stay distinct");
	CHECK(name_expose("namespace", n1, a2) == 0 && strcmp(a, a2) == 0, "shortening is deterministic");
	CHECK(a[NAME_MAX_LEN - NAME_HASH_HEX - 1] == '-', "shortened name ends in -hash");

	CHECK(name_pattern_match("*", "anything"), "glob *");
	CHECK(name_pattern_match("data__*", "data__get"), "glob prefix");
	CHECK(!name_pattern_match("data__*", "ai__get"), "glob prefix mismatch");
	CHECK(name_pattern_match("gh__get_?ssue", "gh__get_issue"), "glob ?");
	CHECK(name_pattern_match("*__read*", "fs__read_file"), "glob two stars");
	CHECK(!name_pattern_match("a*b", "acbd"), "glob trailing literal");
	CHECK(name_pattern_match("", "") && !name_pattern_match("", "x"), "glob empty");
}

static json_t *j(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	if (!v)
		printf("bad test JSON: %s\n", jerr.text);
	return v;
}

static const char *item_name(const json_t *page, const char *key, size_t i)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(page, key), i), "name"));
}

static void catalog(void)
{
	json_t *tools_b = j("[{\"name\":\"echo\",\"inputSchema\":{}},{\"name\":\"bad.name\"},{\"name\":\"slow\"}]");
	json_t *tools_a = j("[{\"name\":\"echo\"},{\"name\":\"die\"}]");
	json_t *tools_root = j("[{\"name\":\"a__echo\"},{\"name\":\"plain\"}]");
	json_t *res_a = j("[{\"uri\":\"file:///a.txt\",\"name\":\"a\"},{\"uri\":\"file:///shared\",\"name\":\"s\"}]");
	json_t *res_b = j("[{\"uri\":\"file:///shared\",\"name\":\"s2\"}]");
	json_t *tmpl_b = j("[{\"uriTemplate\":\"db://{table}/rows/{id}\",\"name\":\"row\"}]");
	/* Given in config order b, root, a: exposure order must be by namespace. */
	struct catalog_source src[3] = {
		{ .ns = "b", .name = "srv-b", .upstream = 0,
		  .lists = { tools_b, NULL, res_b, tmpl_b } },
		{ .ns = "", .name = "srv-root", .upstream = 1, .lists = { tools_root } },
		{ .ns = "a", .name = "srv-a", .upstream = 2, .lists = { tools_a, NULL, res_a } },
	};
	struct catalog c;
	catalog_init(&c);
	unsigned changed = catalog_build(&c, src, 3);
	CHECK(changed == 0xf, "first build changes every list");
	const char *err = NULL;
	json_t *page = catalog_page(&c, LIST_TOOLS, NULL, 100, NULL, NULL, &err);
	CHECK(page && json_array_size(json_object_get(page, "tools")) == 5,
	      "tools: 5 listed (invalid skipped, clash skipped)");
	CHECK(page && strcmp(item_name(page, "tools", 0), "a__echo") == 0 &&
	      strcmp(item_name(page, "tools", 1), "plain") == 0 &&
	      strcmp(item_name(page, "tools", 2), "a__die") == 0 &&
	      strcmp(item_name(page, "tools", 3), "b__echo") == 0 &&
	      strcmp(item_name(page, "tools", 4), "b__slow") == 0,
	      "order: namespace \"\" < a < b, then each upstream's own order");
	CHECK(page && !json_object_get(page, "nextCursor"), "one page: no cursor");
	json_decref(page);

	struct catalog_route route;
	CHECK(catalog_find(&c, LIST_TOOLS, "b__echo", &route) && route.upstream == 0 &&
	      strcmp(route.original, "echo") == 0 && json_object_get(route.item, "inputSchema"),
	      "route b__echo -> upstream 0, echo, with its schema");
	CHECK(catalog_find(&c, LIST_TOOLS, "a__echo", &route) && route.upstream == 1 &&
	      strcmp(route.original, "a__echo") == 0,
	      "clash: the empty namespace's a__echo came first and kept the name");
	CHECK(!catalog_find(&c, LIST_TOOLS, "b__bad.name", &route), "skipped name is not routed");
	CHECK(!catalog_find(&c, LIST_TOOLS, "nope", &route), "unknown name");

	size_t up;
	CHECK(catalog_route_uri(&c, "file:///a.txt", &up) && up == 2, "listed uri routes");
	CHECK(catalog_route_uri(&c, "file:///shared", &up) && up == 2, "uri clash: first in order wins");
	CHECK(catalog_route_uri(&c, "db://users/rows/42", &up) && up == 0, "uri matches a template");
	CHECK(!catalog_route_uri(&c, "db://users/rows/42/x", &up), "template var stops at /");
	CHECK(catalog_route_template(&c, "db://{table}/rows/{id}", &up) && up == 0, "template by text");
	page = catalog_page(&c, LIST_TEMPLATES, NULL, 100, NULL, NULL, &err);
	CHECK(page && strcmp(item_name(page, "resourceTemplates", 0), "b__row") == 0,
	      "template names are namespaced");
	json_decref(page);

	/* Paging with the router's own cursors. */
	page = catalog_page(&c, LIST_TOOLS, NULL, 2, NULL, NULL, &err);
	const char *cur = json_string_value(json_object_get(page, "nextCursor"));
	CHECK(page && json_array_size(json_object_get(page, "tools")) == 2 && cur, "page 1 of 3");
	json_t *page2 = catalog_page(&c, LIST_TOOLS, cur, 2, NULL, NULL, &err);
	CHECK(page2 && strcmp(item_name(page2, "tools", 0), "a__die") == 0, "page 2 starts where page 1 ended");
	const char *cur2 = json_string_value(json_object_get(page2, "nextCursor"));
	json_t *page3 = catalog_page(&c, LIST_TOOLS, cur2, 2, NULL, NULL, &err);
	CHECK(page3 && json_array_size(json_object_get(page3, "tools")) == 1 &&
	      !json_object_get(page3, "nextCursor"), "last page has no cursor");
	CHECK(!catalog_page(&c, LIST_PROMPTS, cur, 2, NULL, NULL, &err) && err, "tools cursor refused for prompts");
	CHECK(!catalog_page(&c, LIST_TOOLS, "garbage", 2, NULL, NULL, &err), "foreign cursor refused");
	CHECK(!catalog_page(&c, LIST_TOOLS, "mcpg1.t.0", 2, NULL, NULL, &err), "zero offset cursor refused");
	json_decref(page);
	json_decref(page2);
	json_decref(page3);

	/* Rebuilding with the same lists changes nothing; a new tool changes only tools. */
	CHECK(catalog_build(&c, src, 3) == 0, "unchanged rebuild reports no change");
	json_array_append_new(tools_a, json_pack("{s:s}", "name", "new"));
	CHECK(catalog_build(&c, src, 3) == (1u << LIST_TOOLS), "a new tool changes only the tool list");

	catalog_free(&c);
	json_decref(tools_a);
	json_decref(tools_b);
	json_decref(tools_root);
	json_decref(res_a);
	json_decref(res_b);
	json_decref(tmpl_b);
}

static bool only_a(const char *name, void *arg)
{
	(void)arg;
	return name_pattern_match("a__*", name);
}

static void filtering(void)
{
	json_t *tools = j("[{\"name\":\"x\"},{\"name\":\"y\"}]");
	struct catalog_source src[2] = {
		{ .ns = "a", .name = "a", .upstream = 0, .lists = { tools } },
		{ .ns = "b", .name = "b", .upstream = 1, .lists = { tools } },
	};
	struct catalog c;
	catalog_init(&c);
	catalog_build(&c, src, 2);
	const char *err;
	json_t *page = catalog_page(&c, LIST_TOOLS, NULL, 100, only_a, NULL, &err);
	CHECK(page && json_array_size(json_object_get(page, "tools")) == 2 &&
	      strcmp(item_name(page, "tools", 1), "a__y") == 0, "filter hides other namespaces");
	json_decref(page);
	catalog_free(&c);
	json_decref(tools);
}

static void templates(void)
{
	CHECK(uri_template_match("file:///{path}", "file:///x"), "simple var");
	CHECK(!uri_template_match("file:///{path}", "file:///x/y"), "simple var excludes /");
	CHECK(uri_template_match("file:///{+path}", "file:///x/y"), "reserved var spans /");
	CHECK(uri_template_match("api://items{?page,size}", "api://items?page=2"), "query part");
	CHECK(uri_template_match("a://{x}-{y}", "a://1-2"), "two vars split at a literal");
	CHECK(!uri_template_match("a://{x}-{y}", "b://1-2"), "literal mismatch");
	CHECK(!uri_template_match("a://{x", "a://1"), "unclosed expression");
}

int main(void)
{
	names();
	catalog();
	filtering();
	templates();
	return check_finish();
}
