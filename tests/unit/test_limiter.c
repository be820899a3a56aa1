/* Unit tests for the embedded limiter, on a clock the test steps by hand: exactness at every
 * boundary (N admitted, N+1 refused, refused until exactly W after the first), a brute-force
 * replay that no W window ever holds more than N, combined rules, the table's bounds, keys,
 * verdict headers and config parsing. Redis is exercised by tests/integration/limiter_redis. */
#include "../../gateway/auth/limiter.c"

#include <stdio.h>

#include "config.h"

#include "check.h"

static int64_t fake_now;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct limit_verdict last;
static int calls;

static void remember(const struct limit_verdict *v, void *arg)
{
	(void)arg;
	last = *v;
	calls++;
}

static struct limiter *make(uint32_t n, uint32_t w_ms, size_t max_keys, size_t max_entries)
{
	struct limiter_config cfg;
	char err[256];
	limiter_config_defaults(&cfg);
	cfg.requests = n;
	cfg.window_ms = w_ms;
	cfg.max_keys = max_keys;
	cfg.max_entries = max_entries;
	cfg.clock = fake_clock;
	struct limiter *l = limiter_new(NULL, &cfg, err, sizeof err);
	if (!l) {
		printf("FAIL limiter_new: %s\n", err);
		exit(1);
	}
	return l;
}

/* One check of the default rule; returns the outcome and leaves the verdict in `last`. */
static enum limit_outcome hit(struct limiter *l, const char *principal)
{
	struct limiter_rule r = limiter_default_rule(l);
	int before = calls;
	if (limiter_check(l, principal, &r, 1, remember, NULL) != 0 || calls != before + 1) {
		printf("FAIL check did not call back exactly once\n");
		failures++;
	}
	return last.outcome;
}

static void test_exact_boundary(void)
{
	struct limiter *l = make(5, 10000, 100, 10000);
	fake_now = 1000000;
	int admitted = 0;
	for (int i = 0; i < 5; i++) {
		admitted += hit(l, "alice") == LIMIT_ALLOW;
		if (i == 0)
			CHECK(last.remaining == 4 && last.limit == 5 && last.reset_s == 10 &&
			      !last.shared && last.decided_ms == 1000000,
			      "first admission: limit 5, remaining 4, reset 10 s");
		fake_now += 100;
	}
	CHECK(admitted == 5, "N=5 admitted in a row (got %d)", admitted);
	CHECK(last.remaining == 0, "remaining reaches 0");
	CHECK(hit(l, "alice") == LIMIT_DENY, "request N+1 refused");
	/* first at 1000000, now 1000500: the first leaves at 1010000 */
	CHECK(last.retry_after_ms == 9500 && last.retry_after_s == 10 && last.remaining == 0 &&
	      last.limit == 5, "retry after = until the first admission leaves (9500 ms -> 10 s), got %" PRIu64,
	      last.retry_after_ms);
	fake_now = 1000000 + 10000 - 1;
	CHECK(hit(l, "alice") == LIMIT_DENY && last.retry_after_ms == 1 && last.retry_after_s == 1,
	      "refused 1 ms before W after the first (retry 1 ms, Retry-After 1 s)");
	fake_now = 1000000 + 10000;
	CHECK(hit(l, "alice") == LIMIT_ALLOW && last.remaining == 0,
	      "admitted exactly W after the first, remaining 0 (the other 4 still live)");
	CHECK(hit(l, "alice") == LIMIT_DENY && last.retry_after_ms == 100,
	      "then refused until the second leaves (100 ms)");
	fake_now += 100;
	CHECK(hit(l, "alice") == LIMIT_ALLOW, "admitted when the second leaves");
	CHECK(hit(l, "bob") == LIMIT_ALLOW && last.remaining == 4, "another principal has its own window");
	/* A whole window later everything left. */
	fake_now += 10000;
	admitted = 0;
	for (int i = 0; i < 6; i++)
		admitted += hit(l, "alice") == LIMIT_ALLOW;
	CHECK(admitted == 5, "after a quiet window, exactly N again (got %d)", admitted);
	struct limiter_stats st;
	limiter_get_stats(l, &st);
	CHECK(st.checks == st.allowed + st.denied + st.unavailable && st.denied >= 4,
	      "stats add up (%" PRIu64 " checks, %" PRIu64 " denied)", st.checks, st.denied);
	limiter_free(l);
}

/* A pseudo-random arrival pattern, replayed against the brute-force definition: the limiter
 * admits a request iff fewer than N admissions lie in (now - W, now]. */
static void test_brute_force(void)
{
	const uint32_t n = 7, w = 1000;
	struct limiter *l = make(n, w, 16, 1000);
	static int64_t admitted[20000];
	size_t count = 0;
	uint32_t rng = 12345;
	int mismatches = 0, max_in_window = 0;
	fake_now = 5000;
	for (int i = 0; i < 20000; i++) {
		rng = rng * 1103515245u + 12345u;
		fake_now += (rng >> 16) % 5 == 0 ? (rng >> 8) % 400 : (rng >> 8) % 3; /* bursts, gaps */
		int in_window = 0;
		for (size_t j = count; j > 0 && admitted[j - 1] > fake_now - w; j--)
			in_window++;
		bool expect = in_window < (int)n;
		bool got = hit(l, "p") == LIMIT_ALLOW;
		if (expect != got)
			mismatches++;
		if (got && count < sizeof admitted / sizeof admitted[0])
			admitted[count++] = fake_now;
	}
	for (size_t i = 0; i < count; i++) {
		int k = 0;
		for (size_t j = i; j < count && admitted[j] < admitted[i] + w; j++)
			k++;
		if (k > max_in_window)
			max_in_window = k;
	}
	CHECK(mismatches == 0, "20000 arrivals: decisions equal the definition (%d mismatches)", mismatches);
	CHECK(max_in_window == (int)n, "busiest W window held exactly N=%u (got %d, %zu admitted)", n,
	      max_in_window, count);
	limiter_free(l);
}

static void test_rules(void)
{
	struct limiter *l = make(10, 60000, 100, 10000);
	struct limiter_rule rules[2] = { { NULL, 10, 60000 }, { "data__s3_*", 3, 60000 } };
	fake_now = 0;
	int admitted = 0;
	for (int i = 0; i < 5; i++)
		admitted += limiter_check(l, "carol", rules, 2, remember, NULL) == 0 &&
		            last.outcome == LIMIT_ALLOW;
	CHECK(admitted == 3 && last.outcome == LIMIT_DENY && last.rule == 1 && last.limit == 3,
	      "the tool rule (3) refuses the 4th, naming rule 1");
	/* The refused ones counted nowhere: the principal window holds 3, so 7 more fit. */
	admitted = 0;
	for (int i = 0; i < 10; i++)
		admitted += hit(l, "carol") == LIMIT_ALLOW;
	CHECK(admitted == 7, "refused requests used no principal budget (7 more, got %d)", admitted);
	fake_now = 60000;
	limiter_check(l, "carol", rules, 2, remember, NULL);
	CHECK(last.outcome == LIMIT_ALLOW && last.rule == 1 && last.remaining == 2,
	      "allowed: the tightest rule is reported (tool, 2 left)");
	CHECK(limiter_check(l, "carol", rules, 0, remember, NULL) == -1, "no rules: programming error");
	struct limiter_rule dup[2] = { { "x", 1, 10 }, { "x", 2, 10 } };
	CHECK(limiter_check(l, "carol", dup, 2, remember, NULL) == -1, "one window twice: programming error");
	struct limiter_rule zero = { NULL, 0, 10 };
	CHECK(limiter_check(l, "carol", &zero, 1, remember, NULL) == -1, "limit 0: programming error");
	CHECK(limiter_check(l, NULL, rules, 1, remember, NULL) == -1, "no principal: programming error");
	/* A lowered limit on live entries: refused until enough leave. */
	struct limiter_rule big = { "lowered", 5, 1000 }, small = { "lowered", 2, 1000 };
	fake_now = 100000;
	for (int i = 0; i < 5; i++) {
		limiter_check(l, "dave", &big, 1, remember, NULL);
		fake_now += 10;
	}
	limiter_check(l, "dave", &small, 1, remember, NULL);
	/* entries at 100000..100040; now 100050; need 4 to leave: the 4th (100030) leaves at 101030 */
	CHECK(last.outcome == LIMIT_DENY && last.retry_after_ms == 980,
	      "limit lowered 5 -> 2: wait until 4 admissions leave (980 ms, got %" PRIu64 ")",
	      last.retry_after_ms);
	limiter_free(l);
}

static void test_table_bounds(void)
{
	struct limiter *l = make(3, 1000, 4, 1000);
	struct limiter_stats st;
	char name[32];
	fake_now = 0;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "p%d", i);
		hit(l, name);
	}
	CHECK(hit(l, "p4") == LIMIT_UNAVAILABLE && last.retry_after_s == 1 &&
	      strstr(last.reason, "too many clients"),
	      "table full of live keys: a new key is refused, not let through (%s)", last.reason);
	limiter_get_stats(l, &st);
	CHECK(st.keys == 4, "still 4 keys");
	CHECK(hit(l, "p0") == LIMIT_ALLOW && last.remaining == 1, "known keys keep working when full");
	fake_now = 999;
	CHECK(hit(l, "p5") == LIMIT_UNAVAILABLE, "still refused 1 ms before the oldest window empties");
	fake_now = 1000; /* every admission so far was at 0: all windows are empty now */
	CHECK(hit(l, "p5") == LIMIT_ALLOW, "an empty window is evicted for the new key");
	limiter_get_stats(l, &st);
	CHECK(st.keys == 4, "the table stays at 4 keys");
	/* The evicted key starts afresh: nothing was lost because its window was empty. */
	CHECK(hit(l, "p1") == LIMIT_ALLOW && last.remaining == 2, "an evicted key starts afresh");
	limiter_free(l);

	/* Entries budget: 2 keys with limit 100 each may not hold more than 24 slots in all. */
	l = make(100, 1000, 10, 24);
	fake_now = 0;
	int admitted = 0;
	for (int i = 0; i < 30; i++)
		admitted += hit(l, "big") == LIMIT_ALLOW;
	limiter_get_stats(l, &st);
	CHECK(admitted == 24 && last.outcome == LIMIT_UNAVAILABLE && st.entries <= 24,
	      "entries budget: 24 held, the 25th refused as unavailable (admitted %d, %zu slots)",
	      admitted, st.entries);
	fake_now = 1000;
	CHECK(hit(l, "big") == LIMIT_ALLOW, "once the window passed, memory is given back and reused");
	limiter_get_stats(l, &st);
	CHECK(st.entries <= RING_MIN, "a quiet key's ring shrinks (%zu slots)", st.entries);
	limiter_free(l);

	/* Memory is proportional to admissions, not to N: 1000 keys with N=100000 and one hit each. */
	l = make(100000, 60000, 1000, 100000);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "k%d", i);
		hit(l, name);
	}
	limiter_get_stats(l, &st);
	CHECK(st.keys == 1000 && st.entries == 1000 * RING_MIN && last.outcome == LIMIT_ALLOW,
	      "1000 keys of N=100000 hold %zu slots", st.entries);
	limiter_free(l);
}

static void test_keys(void)
{
	char k[LIMITER_KEY_MAX], k2[LIMITER_KEY_MAX];
	CHECK(limiter_key("key:0123456789abcdef", NULL, k) > 0 &&
	      strcmp(k, "mcpgate:rl:{key:0123456789abcdef}") == 0, "plain key: %s", k);
	CHECK(limiter_key("key:01", "data__s3_*", k) > 0 && strcmp(k, "mcpgate:rl:{key:01}:data__s3_*") == 0,
	      "scoped key: %s", k);
	CHECK(limiter_key("a}:b", "c", k) > 0 && limiter_key("a", "b}:c", k2) > 0 && strcmp(k, k2) != 0 &&
	      strchr(k + 12, '{') == NULL && strncmp(k, "mcpgate:rl:{#", 13) == 0,
	      "braces are hashed, so keys cannot collide: %s", k);
	char longp[400];
	memset(longp, 'x', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	int n = limiter_key(longp, longp, k);
	CHECK(n > 0 && n < LIMITER_KEY_MAX && (size_t)n == strlen("mcpgate:rl:{#}:#") + 128,
	      "long components are hashed (%d bytes)", n);
	CHECK(limiter_key("#abc", NULL, k) > 0 && strlen(k) == strlen("mcpgate:rl:{#}") + 64,
	      "a component starting with '#' is hashed too");
	CHECK(limiter_key("", NULL, k) > 0 && strlen(k) == strlen("mcpgate:rl:{#}") + 64,
	      "an empty principal is hashed");
	CHECK(limiter_key("sp ace", NULL, k) > 0 && strchr(k, ' ') == NULL, "spaces are hashed");
}

static void test_headers(void)
{
	struct limit_verdict v = { .outcome = LIMIT_DENY, .limit = 20, .remaining = 0, .reset_s = 3,
	                           .retry_after_s = 3 };
	json_t *h = json_object();
	CHECK(limit_verdict_headers(&v, h) == 0 && limit_verdict_status(&v) == 429 &&
	      strcmp(json_string_value(json_object_get(h, "RateLimit-Limit")), "20") == 0 &&
	      strcmp(json_string_value(json_object_get(h, "RateLimit-Remaining")), "0") == 0 &&
	      strcmp(json_string_value(json_object_get(h, "RateLimit-Reset")), "3") == 0 &&
	      strcmp(json_string_value(json_object_get(h, "Retry-After")), "3") == 0,
	      "deny: 429 with RateLimit-* and Retry-After");
	json_decref(h);
	v.outcome = LIMIT_UNAVAILABLE;
	h = json_object();
	CHECK(limit_verdict_headers(&v, h) == 0 && limit_verdict_status(&v) == 503 &&
	      json_object_size(h) == 1 && json_object_get(h, "Retry-After"),
	      "unavailable: 503 with Retry-After only");
	json_decref(h);
	v.outcome = LIMIT_ALLOW;
	h = json_object();
	CHECK(limit_verdict_headers(&v, h) == 0 && limit_verdict_status(&v) == 0 &&
	      json_object_size(h) == 3 && !json_object_get(h, "Retry-After"),
	      "allow: RateLimit-* only");
	json_decref(h);
}

static void test_config(void)
{
	struct limiter_config cfg;
	char err[256] = "";
	json_error_t jerr;
	json_t *doc = json_loads("{\"auth\":{\"rate_limit\":{\"requests\":20,\"window_seconds\":2},"
	                         "\"redis\":{\"host\":\"10.0.0.5\",\"port\":6380,\"db\":3,"
	                         "\"password\":\"s3cret\",\"fail_mode\":\"local\"}}}", 0, &jerr);
	limiter_config_defaults(&cfg);
	CHECK(cfg.requests == 1000 && cfg.window_ms == 60000 && cfg.fail_mode == LIMITER_FAIL_CLOSED &&
	      cfg.redis_host[0] == '\0', "defaults: 1000 per 60 s, no Redis, fail closed");
	CHECK(limiter_config_from_json(doc, &cfg, err, sizeof err) == 0 && cfg.requests == 20 &&
	      cfg.window_ms == 2000 && strcmp(cfg.redis_host, "10.0.0.5") == 0 &&
	      cfg.redis_port == 6380 && cfg.redis_db == 3 && strcmp(cfg.redis_password, "s3cret") == 0 &&
	      cfg.fail_mode == LIMITER_FAIL_LOCAL, "all keys read (%s)", err);
	json_decref(doc);
	doc = json_loads("{\"auth\":{\"redis\":{\"host\":\"h\",\"fail_mode\":\"open\"}}}", 0, &jerr);
	limiter_config_defaults(&cfg);
	CHECK(limiter_config_from_json(doc, &cfg, err, sizeof err) == -1 && strstr(err, "fail_mode"),
	      "an unknown fail mode is refused: %s", err);
	json_decref(doc);
	doc = json_loads("{\"auth\":{\"rate_limit\":{\"requests\":0}}}", 0, &jerr);
	CHECK(limiter_config_from_json(doc, &cfg, err, sizeof err) == -1 && strstr(err, "requests"),
	      "requests 0 is refused: %s", err);
	json_decref(doc);
	doc = json_loads("{}", 0, &jerr);
	limiter_config_defaults(&cfg);
	CHECK(limiter_config_from_json(doc, &cfg, err, sizeof err) == 0 && cfg.requests == 1000,
	      "no auth section: defaults");
	json_decref(doc);
}

/* The schema in lib/config.c, the auth slice, and this module reading it back. */
static void expect_config_error(const char *text, const char *part, const char *secret)
{
	struct config cfg;
	struct config_error err;
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);
	int rc = doc ? config_from_json(doc, "<test>", &cfg, &err) : 0;
	CHECK(doc && rc == -1 && strstr(err.text, part) && (!secret || !strstr(err.text, secret)),
	      "config refused: %s", doc ? err.text : jerr.text);
	json_decref(doc);
}

static void test_config_schema(void)
{
	static const char good[] =
		"{\"auth\": {\"anonymous\": true, \"rate_limit\": {\"requests\": 20, \"window_seconds\": 2},"
		" \"redis\": {\"host\": \"redis.internal\", \"port\": 6380, \"db\": 2,"
		"             \"password\": \"hunter2\", \"fail_mode\": \"local\"}},"
		" \"roles\": {\"ops\": {\"tools\": [\"ops__*\"], \"prompts\": [], \"resources\": [\"s3://*\"],"
		"                    \"rpm\": 600, \"tool_rpm\": {\"ops__lambda_*\": 10}}}}";
	struct config cfg;
	struct config_error err;
	struct limiter_config lc;
	char text[256] = "";
	json_error_t jerr;
	json_t *doc = json_loads(good, 0, &jerr);
	CHECK(doc && config_from_json(doc, "<test>", &cfg, &err) == 0, "config with rate_limit, redis, "
	      "roles accepted (%s)", err.text);
	json_t *slice = config_slice_for_role(&cfg, "auth");
	json_t *auth = json_object_get(slice, "auth");
	CHECK(json_object_get(slice, "roles") && json_object_get(auth, "rate_limit") &&
	      json_object_get(auth, "redis"), "the auth slice carries roles, rate_limit and redis");
	json_t *router = config_slice_for_role(&cfg, "router");
	json_t *edge = config_slice_for_role(&cfg, "edge");
	CHECK(router && edge && !json_object_get(router, "roles") && !json_object_get(router, "auth") &&
	      !json_object_get(edge, "auth"), "router and edge slices carry neither (nor the password)");
	limiter_config_defaults(&lc);
	CHECK(limiter_config_from_json(slice, &lc, text, sizeof text) == 0 && lc.requests == 20 &&
	      lc.window_ms == 2000 && strcmp(lc.redis_host, "redis.internal") == 0 &&
	      lc.redis_port == 6380 && lc.redis_db == 2 && lc.fail_mode == LIMITER_FAIL_LOCAL &&
	      strcmp(lc.redis_password, "hunter2") == 0, "the limiter reads its settings from the slice");
	json_decref(slice);
	json_decref(router);
	json_decref(edge);
	json_decref(doc);
	config_free(&cfg);

	expect_config_error("{\"auth\": {\"redis\": {\"url\": \"redis://x\"}}}", "unknown key 'url'", NULL);
	expect_config_error("{\"auth\": {\"redis\": {\"port\": 1}}}", "missing required key 'host'", NULL);
	expect_config_error("{\"auth\": {\"redis\": {\"host\": \"a b\"}}}", "$.auth.redis.host", NULL);
	expect_config_error("{\"auth\": {\"redis\": {\"host\": \"h\", \"port\": 0}}}",
	                    "$.auth.redis.port", NULL);
	expect_config_error("{\"auth\": {\"redis\": {\"host\": \"h\", \"password\": \"\"}}}",
	                    "$.auth.redis.password", NULL);
	expect_config_error("{\"auth\": {\"redis\": {\"host\": \"h\", \"password\": [\"SECRET-VALUE\"]}}}",
	                    "$.auth.redis.password", "SECRET");
	expect_config_error("{\"auth\": {\"redis\": {\"host\": \"h\", \"fail_mode\": \"open\"}}}",
	                    "\"closed\"", NULL);
	expect_config_error("{\"auth\": {\"rate_limit\": {\"requests\": 0}}}",
	                    "$.auth.rate_limit.requests", NULL);
	expect_config_error("{\"auth\": {\"rate_limit\": {\"window\": 60}}}", "unknown key 'window'", NULL);
	expect_config_error("{\"roles\": {\"bad name\": {}}}", "$.roles[\"bad name\"]", NULL);
	expect_config_error("{\"roles\": {\"r\": {\"tools\": [\"a b\"]}}}", "$.roles.r.tools[0]", NULL);
	expect_config_error("{\"roles\": {\"r\": {\"tool\": []}}}", "unknown key 'tool'", NULL);
	expect_config_error("{\"roles\": {\"r\": {\"tool_rpm\": {\"x\": 0}}}}", "$.roles.r.tool_rpm.x", NULL);
	expect_config_error("{\"roles\": {\"r\": {\"rpm\": 1000001}}}", "$.roles.r.rpm", NULL);
	expect_config_error("{\"roles\": []}", "$.roles", NULL);
}

int main(void)
{
	log_init("test_limiter");
	test_exact_boundary();
	test_brute_force();
	test_rules();
	test_table_bounds();
	test_keys();
	test_headers();
	test_config();
	test_config_schema();
	return check_finish();
}
