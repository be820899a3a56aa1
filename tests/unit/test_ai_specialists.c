/* Unit tests for the ai server's specialists: settings accepted and refused (with the path of
 * the bad value in the message), model id characters, whole-word case-insensitive keyword
 * matching, and routing: explicit, first matching rule, default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../servers/ai/specialists.h"

#include "check.h"

static const char good[] =
	"{\"specialists\":["
	"{\"name\":\"general\",\"model\":\"anthropic.claude-3-haiku-20240307-v1:0\","
	" \"description\":\"anything\",\"system\":\"You are helpful.\",\"max_tokens\":1024,"
	" \"temperature\":0.2,\"max_question_bytes\":16000},"
	"{\"name\":\"sql\",\"model\":\"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x.y-v1:0\","
	" \"system\":\"You write SQL.\",\"max_tokens\":512},"
	"{\"name\":\"ml\",\"model\":\"amazon.titan-text-lite-v1\",\"system\":\"\"}],"
	"\"routing\":["
	"{\"specialist\":\"sql\",\"keywords\":[\"sql\",\"query\",\"database\"]},"
	"{\"specialist\":\"ml\",\"keywords\":[\"machine learning\",\"model\"]},"
	"{\"specialist\":\"general\",\"keywords\":[\"SQL\"]}],"
	"\"default\":\"general\"}";

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j) {
		printf("FAIL test settings do not parse: %s: %s\n", text, e.text);
		exit(1);
	}
	return j;
}

/* Loads settings that must be refused; checks the message holds `needle`. */
static void refused(const char *settings, const char *needle)
{
	json_t *j = parse(settings);
	struct specialists s;
	char err[512] = "";
	int rc = specialists_load(&s, j, err, sizeof err);
	CHECK(rc == -1 && strstr(err, needle) != NULL, "refused with '%s': %s", needle, err);
	CHECK(s.n == 0 && s.list == NULL && s.rules == NULL, "nothing left behind after a refusal");
	json_decref(j);
}

static void test_load_good(void)
{
	json_t *j = parse(good);
	struct specialists s;
	char err[512] = "";
	int rc = specialists_load(&s, j, err, sizeof err);
	CHECK(rc == 0, "good settings load (%s)", err);
	CHECK(s.n == 3 && s.n_rules == 3, "three specialists and three rules");
	const struct specialist *g = specialists_find(&s, "general");
	CHECK(g && g->max_tokens == 1024 && g->has_temperature && g->temperature > 0.19 &&
	      g->temperature < 0.21 && g->max_question_bytes == 16000 &&
	      strcmp(g->system, "You are helpful.") == 0 && strcmp(g->description, "anything") == 0,
	      "general's fields");
	const struct specialist *q = specialists_find(&s, "sql");
	CHECK(q && q->max_tokens == 512 && !q->has_temperature &&
	      q->max_question_bytes == AI_QUESTION_MAX_BYTES && strcmp(q->description, "") == 0,
	      "sql's defaults");
	const struct specialist *m = specialists_find(&s, "ml");
	CHECK(m && m->system == NULL && m->max_tokens == AI_MAX_TOKENS_DEFAULT,
	      "an empty system prompt is none, max_tokens defaults");
	CHECK(specialists_find(&s, "nope") == NULL && specialists_find(&s, NULL) == NULL,
	      "unknown names are not found");
	CHECK(&s.list[s.default_index] == g, "default is general");
	specialists_free(&s);
	CHECK(s.n == 0 && s.list == NULL, "freed");
	json_decref(j);
}

static void test_defaults(void)
{
	json_t *j = parse("{}");
	struct specialists s;
	char err[256];
	CHECK(specialists_load(&s, j, err, sizeof err) == 0 && s.n == 0, "no specialists is valid");
	struct route r;
	CHECK(specialists_route(&s, NULL, "anything", 8, &r) == -1, "but nothing can be routed");
	specialists_free(&s);
	json_decref(j);

	j = parse("{\"specialists\":[{\"name\":\"a\",\"model\":\"m1\"},{\"name\":\"b\",\"model\":\"m2\"}]}");
	CHECK(specialists_load(&s, j, err, sizeof err) == 0 && s.default_index == 0,
	      "without default the first specialist is the default");
	CHECK(specialists_route(&s, NULL, "hello", 5, &r) == 0 && r.kind == ROUTE_DEFAULT &&
	      strcmp(r.specialist->name, "a") == 0, "routes to the first");
	specialists_free(&s);
	json_decref(j);
}

static void test_errors(void)
{
	refused("{\"specialists\":{}}", "settings.specialists: must be an array");
	refused("{\"specialists\":[1]}", "settings.specialists[0]: must be an object");
	refused("{\"specialists\":[{\"model\":\"m\"}]}", "settings.specialists[0].name: required");
	refused("{\"specialists\":[{\"name\":\"a b\",\"model\":\"m\"}]}", "settings.specialists[0].name");
	refused("{\"specialists\":[{\"name\":\"a\"}]}", "settings.specialists[0].model: required");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"},{\"name\":\"a\",\"model\":\"n\"}]}",
	        "settings.specialists[1].name: duplicate specialist name 'a'");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"bad model\"}]}",
	        "settings.specialists[0].model");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m?x=1\"}]}", "settings.specialists[0].model");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m#1\"}]}", "settings.specialists[0].model");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"\"}]}", "settings.specialists[0].model");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\",\"colour\":1}]}",
	        "settings.specialists[0]: unknown key 'colour'");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\",\"temperature\":1.5}]}",
	        "settings.specialists[0].temperature");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\",\"temperature\":\"hot\"}]}",
	        "settings.specialists[0].temperature");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\",\"max_tokens\":0}]}",
	        "settings.specialists[0].max_tokens: must be an integer from 1 to 65536");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\",\"max_question_bytes\":200000}]}",
	        "settings.specialists[0].max_question_bytes");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\",\"system\":5}]}",
	        "settings.specialists[0].system");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"routing\":[{\"specialist\":\"b\","
	        "\"keywords\":[\"x\"]}]}", "settings.routing[0].specialist: unknown specialist 'b' (known: a)");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"routing\":[{\"specialist\":\"a\","
	        "\"keywords\":[]}]}", "settings.routing[0].keywords");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"routing\":[{\"specialist\":\"a\","
	        "\"keywords\":[\"ok\",\" padded\"]}]}", "settings.routing[0].keywords[1]");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"routing\":[{\"specialist\":\"a\","
	        "\"keywords\":[\"x\"],\"extra\":true}]}", "settings.routing[0]: unknown key 'extra'");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"routing\":[{\"keywords\":[\"x\"]}]}",
	        "settings.routing[0].specialist: required");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"default\":\"z\"}",
	        "settings.default: unknown specialist 'z' (known: a)");
	refused("{\"default\":\"z\"}", "settings.default: unknown specialist 'z' (known: none: "
	        "settings.specialists is empty)");
	refused("{\"specialists\":[{\"name\":\"a\",\"model\":\"m\"}],\"default\":3}", "settings.default");

	/* A model id of exactly the limit passes; one more byte does not. */
	char *big = malloc(AI_MODEL_ID_MAX + 2);
	memset(big, 'm', AI_MODEL_ID_MAX + 1);
	big[AI_MODEL_ID_MAX + 1] = '\0';
	CHECK(!model_id_valid(big), "a %d-byte model id is refused", AI_MODEL_ID_MAX + 1);
	big[AI_MODEL_ID_MAX] = '\0';
	CHECK(model_id_valid(big), "a %d-byte model id is accepted", AI_MODEL_ID_MAX);
	free(big);
	CHECK(model_id_valid("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1"),
	      "ARNs with ':' and '/' are model ids");
	CHECK(model_id_valid("throttle-me") && model_id_valid("a_b.c-d"), "plain ids");
	CHECK(!model_id_valid("a b") && !model_id_valid("a%3A") && !model_id_valid("é") &&
	      !model_id_valid("") && !model_id_valid(NULL), "bad characters and empty ids refused");
}

static void test_keywords(void)
{
	const char *q = "How do I write a SQL query?";
	CHECK(keyword_matches(q, strlen(q), "sql"), "case-insensitive");
	CHECK(keyword_matches(q, strlen(q), "QUERY"), "before punctuation");
	CHECK(keyword_matches(q, strlen(q), "how"), "at the start");
	CHECK(!keyword_matches("mysql tuning", 12, "sql"), "not inside a word (before)");
	CHECK(!keyword_matches("sqlite tuning", 13, "sql"), "not inside a word (after)");
	CHECK(!keyword_matches("use sql_mode", 12, "sql"), "'_' is part of a word");
	CHECK(!keyword_matches("sql2 rocks", 10, "sql"), "digits are part of a word");
	CHECK(!keyword_matches("sqlé", strlen("sqlé"), "sql"), "non-ASCII letters are part of a word");
	CHECK(keyword_matches("(sql)", 5, "sql") && keyword_matches("sql", 3, "sql") &&
	      keyword_matches("x-sql-y", 7, "sql"), "punctuation bounds words");
	CHECK(keyword_matches("about Machine  Learning and machine learning", 44, "machine learning"),
	      "a keyword of two words");
	CHECK(!keyword_matches("sq", 2, "sql") && !keyword_matches("", 0, "sql"), "shorter text");
	/* The length given is the bound, not a NUL. */
	CHECK(keyword_matches("xx sqlzz", 6, "sql") && !keyword_matches("xx sqlzz", 5, "sql"),
	      "the length bounds the text");
}

static void test_routing(void)
{
	json_t *j = parse(good);
	struct specialists s;
	char err[512];
	if (specialists_load(&s, j, err, sizeof err) != 0) {
		CHECK(0, "load: %s", err);
		json_decref(j);
		return;
	}
	struct route r;
	char how[32];
	const char *q1 = "Which DATABASE index helps?";
	CHECK(specialists_route(&s, NULL, q1, strlen(q1), &r) == 0 && r.kind == ROUTE_RULE &&
	      r.rule == 0 && strcmp(r.specialist->name, "sql") == 0, "keyword routes to sql");
	route_describe(&r, how, sizeof how);
	CHECK(strcmp(how, "rule:0") == 0, "described as rule:0 (%s)", how);

	/* 'SQL' is in rule 0 and rule 2: the first rule wins. */
	const char *q2 = "sql please";
	CHECK(specialists_route(&s, NULL, q2, strlen(q2), &r) == 0 && r.rule == 0 &&
	      strcmp(r.specialist->name, "sql") == 0, "the first matching rule wins");

	/* 'model' is in rule 1 only; rule 0 has no hit. */
	const char *q3 = "train a model";
	CHECK(specialists_route(&s, NULL, q3, strlen(q3), &r) == 0 && r.kind == ROUTE_RULE &&
	      r.rule == 1 && strcmp(r.specialist->name, "ml") == 0, "second rule");
	route_describe(&r, how, sizeof how);
	CHECK(strcmp(how, "rule:1") == 0, "described as rule:1");

	const char *q4 = "mysql and sqlite are databases";
	CHECK(specialists_route(&s, NULL, q4, strlen(q4), &r) == 0 && r.kind == ROUTE_DEFAULT &&
	      strcmp(r.specialist->name, "general") == 0, "no whole-word hit: default");
	route_describe(&r, how, sizeof how);
	CHECK(strcmp(how, "default") == 0, "described as default");

	CHECK(specialists_route(&s, "ml", q1, strlen(q1), &r) == 0 && r.kind == ROUTE_EXPLICIT &&
	      strcmp(r.specialist->name, "ml") == 0, "explicit beats the rules");
	route_describe(&r, how, sizeof how);
	CHECK(strcmp(how, "explicit") == 0, "described as explicit");
	CHECK(specialists_route(&s, "ML", q1, strlen(q1), &r) == -1 && r.specialist == NULL,
	      "names are exact: an unknown explicit choice fails");
	specialists_free(&s);
	json_decref(j);
}

int main(void)
{
	test_load_good();
	test_defaults();
	test_errors();
	test_keywords();
	test_routing();
	return check_finish();
}
