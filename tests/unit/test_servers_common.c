/* Unit tests for the plumbing the built-in servers share (servers/common/tool_groups.c and
 * the nested sections of settings.c): tool tables joined in order, one unknown-key check over
 * the server's and its groups' keys, group inits run in order up to the first failure, and
 * settings sections read with their defaults and errors that name their place. */
#include <stdio.h>
#include <string.h>

#include "../../servers/common/settings.h"
#include "../../servers/common/tool_groups.h"

#include "check.h"

static void no_call(struct mcp_call *call, json_t *args)
{
	(void)call;
	(void)args;
}

static const struct mcp_tool tools_a[] = { { "a1", "", "{}", NULL, no_call },
	                                   { "a2", "", "{}", NULL, no_call } };
static const struct mcp_tool tools_b[] = { { "b1", "", "{}", NULL, no_call } };
static const char *const keys_a[] = { "alpha", NULL };
static const char *const keys_b[] = { "beta", "gamma", NULL };

static int inits, finis;
static size_t seen_cap;

static int init_ok(json_t *settings, const struct group_limits *limits, char *err, size_t errlen)
{
	(void)settings, (void)err, (void)errlen;
	seen_cap = limits->result_cap;
	inits++;
	return 0;
}

static int init_fails(json_t *settings, const struct group_limits *limits, char *err, size_t errlen)
{
	(void)settings, (void)limits;
	inits++;
	snprintf(err, errlen, "settings.beta: wrong");
	return -1;
}

static void fini_count(void)
{
	finis++;
}

static const struct tool_group group_a = { tools_a, 2, keys_a, init_ok, fini_count };
static const struct tool_group group_b = { tools_b, 1, keys_b, init_fails, NULL };
static const struct tool_group *const groups[] = { &group_a, &group_b };

static void test_join(void)
{
	struct mcp_tool out[3];
	CHECK(tool_groups_join(groups, 2, out, 3) == 3 && strcmp(out[0].name, "a1") == 0 &&
	      strcmp(out[2].name, "b1") == 0, "tables joined in group order");
	CHECK(tool_groups_join(groups, 2, out, 2) == 2, "a full table takes no more");
}

static void test_keys(void)
{
	static const char *const shared[] = { "result_cap_bytes", NULL };
	char err[512] = "";
	json_t *ok = json_pack("{s:i, s:{}, s:[]}", "result_cap_bytes", 4096, "alpha", "gamma");
	json_t *bad = json_pack("{s:i}", "delta", 1);
	CHECK(tool_groups_check_keys(groups, 2, shared, ok, err, sizeof err) == 0, "shared and group keys are known");
	CHECK(tool_groups_check_keys(groups, 2, shared, bad, err, sizeof err) != 0 &&
	      strcmp(err, "settings: unknown key 'delta' (known: result_cap_bytes, alpha, beta, gamma)") == 0,
	      "an unknown key names every known one, the server's first: %s", err);
	static const char *many[40];
	for (size_t i = 0; i < 39; i++)
		many[i] = "k";
	CHECK(tool_groups_check_keys(groups, 2, many, ok, err, sizeof err) != 0 &&
	      strcmp(err, "too many settings keys for the table") == 0, "a table too short says so: %s", err);
	json_decref(ok);
	json_decref(bad);
}

static void test_init(void)
{
	char err[512] = "";
	const struct group_limits limits = { .result_cap = 777 };
	CHECK(tool_groups_init(groups, 2, NULL, &limits, err, sizeof err) != 0 && inits == 2 &&
	      seen_cap == 777 && strcmp(err, "settings.beta: wrong") == 0,
	      "inits run in order with the limits; the failing group's message comes back");
	inits = 0;
	CHECK(tool_groups_init(groups, 1, NULL, &limits, err, sizeof err) == 0 && inits == 1, "all succeed");
	tool_groups_fini(groups, 2);
	CHECK(finis == 1, "fini runs where a group has one");
}

static long long section_n;

static int read_n(json_t *s, char *err, size_t errlen)
{
	return settings_int(s, "n", 1, 9, 5, &section_n, err, errlen);
}

static int section_with(const char *text, char *err, size_t errlen)
{
	json_t *settings = json_loads(text, 0, NULL);
	int rc = settings ? settings_section(settings, "sec", (const char *const[]){ "n", "m", NULL },
	                                     read_n, err, errlen) : -2;
	json_decref(settings);
	return rc;
}

static void test_section(void)
{
	char err[512] = "";
	CHECK(section_with("{}", err, sizeof err) == 0 && section_n == 5, "an absent section reads its defaults");
	CHECK(section_with("{\"sec\":{\"n\":7}}", err, sizeof err) == 0 && section_n == 7, "a section is read");
	CHECK(section_with("{\"sec\":3}", err, sizeof err) != 0 &&
	      strcmp(err, "settings.sec: must be an object {n, m}") == 0, "not an object: %s", err);
	CHECK(section_with("{\"sec\":{\"x\":1}}", err, sizeof err) != 0 &&
	      strcmp(err, "settings.sec: unknown key 'x' (known: n, m)") == 0, "an unknown key, nested: %s", err);
	CHECK(section_with("{\"sec\":{\"n\":10}}", err, sizeof err) != 0 &&
	      strcmp(err, "settings.sec.n: must be an integer from 1 to 9") == 0, "a bad value, nested: %s", err);
}

static void test_settings_nest(void)
{
	char err[256] = "settings.tables: must be an array";
	settings_error_nest(err, sizeof err, "dynamodb");
	CHECK(strcmp(err, "settings.dynamodb.tables: must be an array") == 0, "nested key error: %s", err);
	snprintf(err, sizeof err, "settings: unknown key 'x' (known: a)");
	settings_error_nest(err, sizeof err, "knowledge_bases");
	CHECK(strcmp(err, "settings.knowledge_bases: unknown key 'x' (known: a)") == 0, "nested unknown key: %s", err);
	snprintf(err, sizeof err, "out of memory");
	settings_error_nest(err, sizeof err, "dynamodb");
	CHECK(strcmp(err, "settings.dynamodb: out of memory") == 0, "other errors get the prefix: %s", err);
}

int main(void)
{
	test_join();
	test_keys();
	test_init();
	test_section();
	test_settings_nest();
	return check_finish();
}
