/* Unit tests for RBAC: the glob, the decision over several roles, config overriding the shipped
 * defaults (policy/rbac.json, read from argv[1], the source root), list filtering agreeing with
 * the call decision name by name, the router's pattern list agreeing too, limits, and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "rbac.h"

#include "check.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[65536];
	*len = fread(buf, 1, sizeof buf - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static json_t *roles(const char *text)
{
	json_error_t jerr;
	json_t *r = json_loads(text, 0, &jerr);
	if (!r) {
		printf("FAIL bad test JSON %s: %s\n", text, jerr.text);
		exit(2);
	}
	return r;
}

static void test_glob(void)
{
	static const struct { const char *p, *s; bool match; } cases[] = {
		{ "*", "anything", true }, { "*", "", true }, { "data__*", "data__s3_get", true },
		{ "data__*", "data_s3_get", false }, { "data__*", "xdata__s3", false },
		{ "*__*_get", "data__s3_get", true }, { "*__*_get", "data__s3_get_all", false },
		{ "*__*_get", "s3_get", false }, { "gh__get_?ssue", "gh__get_issue", true },
		{ "gh__get_?ssue", "gh__get_ssue", false }, { "a*b*c", "aXXbYYc", true },
		{ "a*b*c", "aXXbYYcZ", false }, { "a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
		{ "exact", "exact", true }, { "exact", "Exact", false }, { "s3://bkt/*", "s3://bkt/a/b", true },
		{ "", "", true }, { "", "x", false }, { "??", "ab", true }, { "??", "a", false },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (name_pattern_match(cases[i].p, cases[i].s) != cases[i].match) {
			printf("FAIL glob '%s' vs '%s' should be %d\n", cases[i].p, cases[i].s, cases[i].match);
			bad++;
		}
	}
	CHECK(bad == 0, "%zu glob cases", sizeof cases / sizeof cases[0]);
}

static const char *const tool_names[] = {
	"data__s3_get", "data__s3_put", "data__s3_list", "data__dynamo_get", "data__dynamo_put",
	"data__dynamo_query", "data__kb_search", "ai__ask", "ops__lambda_invoke", "ops__sqs_send",
	"ops__config_get", "secrets__secret_get", "secrets__secret_list", "gh__get_issue",
	"gh__delete_repo", "plain",
};
#define N_TOOLS (sizeof tool_names / sizeof tool_names[0])

static void test_defaults(const struct rbac *p)
{
	json_t *admin = roles("[\"admin\"]"), *reader = roles("[\"reader\"]");
	json_t *anon = roles("[\"anonymous\"]"), *none = roles("[]"), *ghost = roles("[\"ghost\", 7]");
	int admin_all = 1, anon_none = 1, ghost_none = 1;
	for (size_t i = 0; i < N_TOOLS; i++) {
		admin_all &= rbac_allows(p, admin, RBAC_TOOL, tool_names[i]);
		anon_none &= !rbac_allows(p, anon, RBAC_TOOL, tool_names[i]);
		ghost_none &= !rbac_allows(p, ghost, RBAC_TOOL, tool_names[i]) &&
		              !rbac_allows(p, none, RBAC_TOOL, tool_names[i]);
	}
	CHECK(admin_all, "default admin: every tool");
	CHECK(anon_none, "default anonymous: no tool");
	CHECK(ghost_none, "unknown roles, non-strings and no roles grant nothing");
	CHECK(rbac_allows(p, reader, RBAC_TOOL, "data__s3_get") &&
	      rbac_allows(p, reader, RBAC_TOOL, "data__dynamo_query") &&
	      rbac_allows(p, reader, RBAC_TOOL, "data__kb_search") &&
	      rbac_allows(p, reader, RBAC_TOOL, "ops__config_get"),
	      "default reader: reads of data and ops");
	CHECK(!rbac_allows(p, reader, RBAC_TOOL, "data__s3_put") &&
	      !rbac_allows(p, reader, RBAC_TOOL, "secrets__secret_get") &&
	      !rbac_allows(p, reader, RBAC_TOOL, "ai__ask") &&
	      !rbac_allows(p, reader, RBAC_TOOL, "ops__sqs_send"),
	      "default reader: no writes, no secrets, no AI spend");
	CHECK(rbac_allows(p, reader, RBAC_PROMPT, "any") &&
	      rbac_allows(p, reader, RBAC_RESOURCE, "file:///x") &&
	      !rbac_allows(p, anon, RBAC_RESOURCE, "file:///x"), "prompts and resources by kind");
	CHECK(rbac_principal_rpm(p, reader) == 300 && rbac_principal_rpm(p, admin) == 0,
	      "reader rpm 300, admin sets none");
	json_decref(admin);
	json_decref(reader);
	json_decref(anon);
	json_decref(none);
	json_decref(ghost);
}

static const char config_roles[] =
	"{\"anonymous\": {\"tools\": [\"data__*_list\"]},"
	" \"ops\": {\"tools\": [\"ops__*\", \"data__s3_*\"], \"rpm\": 600,"
	"          \"tool_rpm\": {\"ops__lambda_*\": 10, \"ops__*\": 100, \"data__s3_*\": 50}},"
	" \"s3\": {\"tools\": [\"data__s3_*\"], \"tool_rpm\": {\"data__s3_*\": 200}},"
	" \"s3-free\": {\"tools\": [\"data__s3_get\"], \"resources\": [\"s3://public/*\"]}}";

static void test_overrides(const char *defaults, size_t len)
{
	struct rbac p;
	char err[256] = "";
	json_t *cfg = roles(config_roles);
	CHECK(rbac_load(&p, defaults, len, cfg, err, sizeof err) == 0, "defaults + config load (%s)", err);
	json_t *anon = roles("[\"anonymous\"]"), *ops = roles("[\"ops\"]");
	json_t *ops_s3 = roles("[\"ops\", \"s3\"]"), *ops_free = roles("[\"ops\", \"s3-free\"]");
	json_t *ops_admin = roles("[\"ops\", \"admin\"]");
	CHECK(rbac_allows(&p, anon, RBAC_TOOL, "data__s3_list") &&
	      !rbac_allows(&p, anon, RBAC_TOOL, "data__s3_get"),
	      "config replaces the default anonymous role");
	CHECK(rbac_role_find(&p, "admin") && rbac_role_find(&p, "reader") && p.n_roles == 6,
	      "defaults kept, config roles added (%zu roles)", p.n_roles);
	CHECK(rbac_allows(&p, ops, RBAC_TOOL, "ops__sqs_send") &&
	      !rbac_allows(&p, ops, RBAC_TOOL, "secrets__secret_get") &&
	      !rbac_allows(&p, ops, RBAC_PROMPT, "x"), "a role without prompts allows none");

	const char *pattern = NULL;
	uint32_t rpm = 0;
	CHECK(rbac_tool_limit(&p, ops, "ops__lambda_invoke", &pattern, &rpm) && rpm == 10 &&
	      strcmp(pattern, "ops__lambda_*") == 0, "within a role the smallest matching limit (10)");
	CHECK(rbac_tool_limit(&p, ops, "ops__sqs_send", &pattern, &rpm) && rpm == 100 &&
	      strcmp(pattern, "ops__*") == 0, "ops__* limit 100");
	CHECK(rbac_tool_limit(&p, ops_s3, "data__s3_put", &pattern, &rpm) && rpm == 200,
	      "across roles the most generous (200 over 50)");
	CHECK(!rbac_tool_limit(&p, ops_free, "data__s3_get", &pattern, &rpm),
	      "a role granting the tool without a limit lifts the per-tool limit");
	CHECK(rbac_tool_limit(&p, ops_free, "data__s3_put", &pattern, &rpm) && rpm == 50,
	      "... only for the tools it grants (s3_put still 50)");
	CHECK(!rbac_tool_limit(&p, ops_admin, "ops__sqs_send", &pattern, &rpm),
	      "admin (all tools, no tool_rpm) lifts it");
	CHECK(!rbac_tool_limit(&p, ops, "secrets__secret_get", &pattern, &rpm),
	      "no limit for a tool no role allows");
	CHECK(rbac_principal_rpm(&p, ops_s3) == 600 && rbac_principal_rpm(&p, ops_free) == 600,
	      "principal rpm: the most generous role");
	CHECK(rbac_allows(&p, ops_free, RBAC_RESOURCE, "s3://public/a.txt") &&
	      !rbac_allows(&p, ops_free, RBAC_RESOURCE, "s3://private/a.txt"), "resource URIs");
	json_decref(anon);
	json_decref(ops);
	json_decref(ops_s3);
	json_decref(ops_free);
	json_decref(ops_admin);
	json_decref(cfg);
	rbac_free(&p);
}

/* The list a principal sees is exactly the set of names a call would be allowed for, and the
 * router's pattern list (DP_PRINCIPAL_TOOLS) agrees with both. */
static void test_filter_equals_decision(const char *defaults, size_t len)
{
	struct rbac p;
	char err[256];
	json_t *cfg = roles(config_roles);
	if (rbac_load(&p, defaults, len, cfg, err, sizeof err) != 0) {
		printf("FAIL load: %s\n", err);
		failures++;
		return;
	}
	static const char *const principals[] = {
		"[\"admin\"]", "[\"reader\"]", "[\"anonymous\"]", "[\"ops\"]", "[\"s3\", \"reader\"]",
		"[\"s3-free\"]", "[]", "[\"nobody\"]",
	};
	int disagreements = 0, shown_total = 0;
	for (size_t r = 0; r < sizeof principals / sizeof principals[0]; r++) {
		json_t *who = roles(principals[r]);
		json_t *list = json_array();
		for (size_t i = 0; i < N_TOOLS; i++)
			json_array_append_new(list, json_pack("{s:s, s:s}", "name", tool_names[i],
			                                      "description", "d"));
		json_array_append_new(list, json_pack("{s:s}", "description", "no name"));
		size_t removed = rbac_filter_list(&p, who, RBAC_TOOL, list);
		json_t *patterns = rbac_patterns(&p, who, RBAC_TOOL);
		size_t shown = json_array_size(list), allowed = 0;
		for (size_t i = 0; i < N_TOOLS; i++) {
			bool call = rbac_allows(&p, who, RBAC_TOOL, tool_names[i]);
			bool listed = false, by_pattern = false;
			size_t j;
			json_t *item;
			json_array_foreach(list, j, item)
				listed |= strcmp(json_string_value(json_object_get(item, "name")), tool_names[i]) == 0;
			json_array_foreach(patterns, j, item)
				by_pattern |= name_pattern_match(json_string_value(item), tool_names[i]);
			allowed += call;
			if (call != listed || call != by_pattern) {
				printf("FAIL %s: %s call=%d listed=%d pattern=%d\n", principals[r], tool_names[i],
				       call, listed, by_pattern);
				disagreements++;
			}
		}
		if (shown != allowed || removed != N_TOOLS + 1 - allowed)
			disagreements++;
		shown_total += (int)shown;
		json_decref(patterns);
		json_decref(list);
		json_decref(who);
	}
	CHECK(disagreements == 0 && shown_total > 0 && shown_total < (int)(N_TOOLS * 8),
	      "list filter == call decision == router patterns for 8 principals x %zu tools "
	      "(%d shown in all)", N_TOOLS, shown_total);

	json_t *who = roles("[\"s3-free\"]");
	json_t *res = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "uri", "s3://public/a", "uri",
	                        "s3://private/b", "uriTemplate", "s3://public/{key}", "name", "no uri");
	CHECK(rbac_filter_list(&p, who, RBAC_RESOURCE, res) == 2 && json_array_size(res) == 2,
	      "resources and templates filtered by uri / uriTemplate");
	json_decref(res);
	json_decref(who);
	json_decref(cfg);
	rbac_free(&p);
}

static void expect_error(const char *roles_text, const char *part)
{
	struct rbac p;
	char err[256] = "";
	json_t *cfg = roles(roles_text);
	int rc = rbac_load(&p, NULL, 0, cfg, err, sizeof err);
	CHECK(rc == -1 && strstr(err, part) && p.n_roles == 0, "refused %s: %s", roles_text, err);
	json_decref(cfg);
	rbac_free(&p);
}

static void test_errors(void)
{
	expect_error("{\"r\": {\"tools\": \"data__*\"}}", "must be an array");
	expect_error("{\"r\": {\"tools\": [\"\"]}}", "tools[0]");
	expect_error("{\"r\": {\"tools\": [\"a b\"]}}", "without spaces");
	expect_error("{\"r\": {\"tool\": [\"x\"]}}", "unknown key \"tool\"");
	expect_error("{\"r\": {\"rpm\": 0}}", "\"rpm\"");
	expect_error("{\"r\": {\"tool_rpm\": {\"x\": -1}}}", "tool_rpm[\"x\"]");
	expect_error("{\"bad name\": {}}", "role name");
	expect_error("{\"r\": []}", "must be an object");
	struct rbac p;
	char err[256] = "";
	static const char extra[] = "{\"roles\": {\"a\": {}}, \"extra\": 1}";
	CHECK(rbac_load(&p, extra, strlen(extra), NULL, err, sizeof err) == -1 &&
	      strstr(err, "extra"), "defaults with an unknown key: %s", err);
	CHECK(rbac_load(&p, "{\"roles\": ", 10, NULL, err, sizeof err) == -1 && strstr(err, "rbac defaults:"),
	      "defaults that are not JSON: %s", err);
	CHECK(rbac_load(&p, NULL, 0, NULL, err, sizeof err) == 0 && p.n_roles == 0,
	      "no defaults, no config: no roles");
	json_t *who = roles("[\"admin\"]");
	CHECK(!rbac_allows(&p, who, RBAC_TOOL, "x"), "an empty policy allows nothing");
	json_decref(who);
	rbac_free(&p);

	char long_name[RBAC_NAME_MAX + 10];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	CHECK(rbac_load(&p, NULL, 0, NULL, err, sizeof err) == 0, "reload");
	json_t *cfg = roles("{\"all\": {\"tools\": [\"*\"]}}");
	rbac_free(&p);
	rbac_load(&p, NULL, 0, cfg, err, sizeof err);
	who = roles("[\"all\"]");
	CHECK(rbac_allows(&p, who, RBAC_TOOL, "x") && !rbac_allows(&p, who, RBAC_TOOL, long_name) &&
	      !rbac_allows(&p, who, RBAC_TOOL, "") && !rbac_allows(&p, who, RBAC_TOOL, NULL),
	      "overlong, empty and missing names are refused even by \"*\"");
	json_decref(who);
	json_decref(cfg);
	rbac_free(&p);
}

int main(int argc, char **argv)
{
	char path[4096];
	size_t len = 0;
	snprintf(path, sizeof path, "%s/policy/rbac.json", argc > 1 ? argv[1] : ".");
	const char *defaults = read_file(path, &len);
	test_glob();
	if (!defaults) {
		printf("FAIL cannot read %s\n", path);
		return 1;
	}
	struct rbac p;
	char err[256] = "";
	CHECK(rbac_load(&p, defaults, len, NULL, err, sizeof err) == 0 && p.n_roles == 3,
	      "policy/rbac.json loads: %zu roles (%s)", p.n_roles, err);
	test_defaults(&p);
	rbac_free(&p);
	test_overrides(defaults, len);
	test_filter_equals_decision(defaults, len);
	test_errors();
	return check_finish();
}
