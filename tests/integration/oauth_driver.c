/* Drives jwt.c and jwks.c against a real issuer (oauth2-mock-server, see oauth_issuer.sh):
 * the JWKS is fetched on a libevent loop by the cache, tokens come from the issuer's token
 * endpoint, and each is verified the way auth does it: parse, look the kid up (waiting for
 * a refetch when the cache says so), then check. Prints "ok - ..." / "not ok - ..." lines.
 * Usage: oauth-driver ISSUER_URL [TLS_ISSUER_URL CA_FILE] */
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"

#define RESOURCE "https://mcp.test/mcp"
#define MIN_REFETCH 3

static int failed;
static struct event_base *base;
static double longest_stall; /* seconds between two ticks of a 20 ms timer */
static double last_tick;

static void check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool cond, const char *fmt, ...)
{
	va_list ap;
	printf(cond ? "ok - " : "not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failed = 1;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	double t = now_seconds();
	if (last_tick > 0 && t - last_tick > longest_stall)
		longest_stall = t - last_tick;
	last_tick = t;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Runs the loop until something breaks it or `seconds` pass. */
static void run_loop(double seconds)
{
	struct timeval tv = { (long)seconds, (long)((seconds - (long)seconds) * 1e6) };
	struct event *deadline = evtimer_new(base, on_deadline, NULL);
	if (!deadline || evtimer_add(deadline, &tv) != 0)
		exit(2);
	last_tick = now_seconds();
	event_base_dispatch(base);
	event_free(deadline);
}

/* ---- the issuer's token endpoint (a test client: a blocking request is fine here) ---- */

struct body {
	char data[65536];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	if (len >= sizeof b->data - b->len)
		return 0;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static char *post(const char *url, const char *form)
{
	static struct body b;
	CURL *h = curl_easy_init();
	long status = 0;
	b.len = 0;
	b.data[0] = '\0';
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form ? form : "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return rc == CURLE_OK && status == 200 ? b.data : NULL;
}

/* A new access token (malloc'd), or NULL. `extra` is appended to the form. */
static char *get_token(const char *issuer, const char *extra)
{
	char url[600], form[1024];
	snprintf(url, sizeof url, "%s/token", issuer);
	snprintf(form, sizeof form, "grant_type=client_credentials&scope=mcp:read&%s", extra);
	const char *text = post(url, form);
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
	const char *token = json_string_value(json_object_get(doc, "access_token"));
	char *copy = token ? strdup(token) : NULL;
	json_decref(doc);
	return copy;
}

/* The token's header member `key` ("alg", "kid"), copied into out. */
static void header_member(const char *token, const char *key, char *out, size_t cap)
{
	unsigned char raw[1024];
	size_t len = 0;
	const char *dot = strchr(token, '.');
	out[0] = '\0';
	if (!dot || jwks_base64url_decode(token, (size_t)(dot - token), raw, sizeof raw, &len) != 0)
		return;
	json_t *h = json_loadb((const char *)raw, len, 0, NULL);
	snprintf(out, cap, "%s", json_string_value(json_object_get(h, key)) ?: "");
	json_decref(h);
}

/* A token signed with the key whose alg (or kid) is `want`: the issuer rotates its keys
 * round-robin, so a few requests find it. */
static char *token_signed_by(const char *issuer, const char *member, const char *want,
                             const char *extra)
{
	char value[256];
	for (int i = 0; i < 8; i++) {
		char *t = get_token(issuer, extra);
		if (!t)
			return NULL;
		header_member(t, member, value, sizeof value);
		if (strcmp(value, want) == 0)
			return t;
		free(t);
	}
	return NULL;
}

/* ---- verification as auth does it ---- */

struct wait {
	bool woken;
};

static void on_keys(void *arg)
{
	((struct wait *)arg)->woken = true;
	event_base_loopbreak(base);
}

/* Parse, look the key up (waiting for the fetch the cache starts, if any), check. */
static enum jwt_verdict verify(struct jwks_cache *cache, const struct config_oauth *policy,
                               const char *token, json_t **principal, bool *waited)
{
	static struct jwt_token t; /* large: the signature buffer holds 8192-bit RSA */
	struct jwks_waiter *w;
	struct wait wait = { false };

	*principal = NULL;
	*waited = false;
	enum jwt_verdict v = jwt_parse(policy, token, strlen(token), &t);
	if (v != JWT_OK)
		return v;
	if (jwks_cache_lookup(cache, t.has_kid ? t.kid : NULL, on_keys, &wait, &w) ==
	    JWKS_LOOKUP_WAIT) {
		*waited = true;
		run_loop(15);
		if (!wait.woken)
			jwks_waiter_cancel(cache, w);
	}
	v = jwt_check(policy, jwks_cache_keys(cache), &t, time(NULL), principal);
	jwt_token_free(&t);
	return v;
}

static bool load_policy(const char *issuer, struct config *cfg)
{
	char text[2048];
	struct config_error err;
	snprintf(text, sizeof text,
	         "{\"public_url\":\"https://mcp.test\",\"auth\":{\"oauth\":{"
	         "\"issuer\":\"%s\",\"jwks_url\":\"%s/jwks\",\"client_ids\":[\"cognito-app\"],"
	         "\"role_claims\":{\"groups\":{\"admins\":[\"admin\"]},"
	         "\"scopes\":{\"mcp:read\":[\"reader\"]}}}}}", issuer, issuer);
	json_t *root = json_loads(text, 0, NULL);
	int rc = root ? config_from_json(root, "<driver>", cfg, &err) : -1;
	json_decref(root);
	if (rc != 0)
		printf("# config: %s\n", err.text);
	return rc == 0;
}

static struct jwks_cache *new_cache(const char *jwks_url, const char *ca_file)
{
	char err[256];
	struct jwks_cache_options opt = { .url = jwks_url, .min_refetch_seconds = MIN_REFETCH,
	                                  .timeout_ms = 5000, .ca_file = ca_file };
	struct jwks_cache *c = jwks_cache_new(base, &opt, err, sizeof err);
	if (!c)
		printf("# jwks cache: %s\n", err);
	return c;
}

static bool has_string(json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static void expect(struct jwks_cache *c, const struct config_oauth *policy, const char *token,
                   enum jwt_verdict want, const char *what)
{
	json_t *p;
	bool waited;
	if (!token) {
		check(false, "%s: the issuer gave no token", what);
		return;
	}
	enum jwt_verdict v = verify(c, policy, token, &p, &waited);
	check(v == want, "%s: %s", what, jwt_verdict_name(v));
	json_decref(p);
}

static void test_plain_issuer(const char *issuer)
{
	struct config cfg;
	char url[600], aud[128];
	json_t *p = NULL;
	bool waited;
	struct jwks_cache_stats st;

	if (!load_policy(issuer, &cfg)) {
		check(false, "driver config loads");
		return;
	}
	snprintf(url, sizeof url, "%s/jwks", issuer);
	struct jwks_cache *c = new_cache(url, NULL);
	if (!c) {
		check(false, "jwks cache for %s", url);
		config_free(&cfg);
		return;
	}
	const struct config_oauth *policy = &cfg.oauth;
	double started = now_seconds();
	jwks_cache_start(c);
	snprintf(aud, sizeof aud, "aud=%s&client_id=driver-app", RESOURCE);

	/* The first request waits for the start-up fetch. */
	char *rs = token_signed_by(issuer, "alg", "RS256", aud);
	char *es = token_signed_by(issuer, "alg", "ES256", aud);
	enum jwt_verdict v = rs ? verify(c, policy, rs, &p, &waited) : JWT_MALFORMED;
	check(v == JWT_OK, "RS256 token from the issuer verifies: %s", jwt_verdict_name(v));
	check(p && strcmp(json_string_value(json_object_get(p, "name")), "driver-app") == 0 &&
	      has_string(json_object_get(p, "scopes"), "mcp:read") &&
	      has_string(json_object_get(p, "roles"), "reader"),
	      "principal: name driver-app, scope mcp:read, role reader");
	json_decref(p);
	jwks_cache_stats(c, &st);
	check(st.keys == 2 && st.fetches == 1, "JWKS fetched once on the loop: %zu keys", st.keys);
	v = es ? verify(c, policy, es, &p, &waited) : JWT_MALFORMED;
	check(v == JWT_OK && !waited, "ES256 token from the issuer verifies without a fetch: %s",
	      jwt_verdict_name(v));
	json_decref(p);

	char *cognito = get_token(issuer, "client_id=cognito-app&shape=cognito-access");
	v = cognito ? verify(c, policy, cognito, &p, &waited) : JWT_MALFORMED;
	check(v == JWT_OK && has_string(json_object_get(p, "roles"), "admin"),
	      "Cognito-shaped access token (client_id, token_use, groups): %s", jwt_verdict_name(v));
	json_decref(p);
	char *id_token = get_token(issuer, "client_id=cognito-app&shape=cognito-id");
	expect(c, policy, id_token, JWT_WRONG_TOKEN_USE, "Cognito-shaped id token refused");
	char *other = get_token(issuer, "aud=https://other.test/mcp&client_id=driver-app");
	expect(c, policy, other, JWT_WRONG_AUDIENCE, "token for another resource refused");
	char *old = get_token(issuer, "aud=" RESOURCE "&client_id=driver-app&expires_in=-120");
	expect(c, policy, old, JWT_EXPIRED, "expired token refused");
	free(rs);
	free(es);
	free(cognito);
	free(id_token);
	free(other);
	free(old);

	/* Key rotation: a kid the cache has not seen makes the request wait for a refetch,
	 * unless one was made less than MIN_REFETCH seconds ago. */
	char rotate_url[600], kid1[256], kid2[256];
	snprintf(rotate_url, sizeof rotate_url, "%s/test/rotate", issuer);
	const char *r = post(rotate_url, NULL);
	json_t *doc = r ? json_loads(r, 0, NULL) : NULL;
	snprintf(kid1, sizeof kid1, "%s", json_string_value(json_object_get(doc, "kid")) ?: "");
	json_decref(doc);
	char *rotated = kid1[0] ? token_signed_by(issuer, "kid", kid1, aud) : NULL;
	double since = now_seconds() - started;
	if (since < MIN_REFETCH + 0.2)
		run_loop(MIN_REFETCH + 0.2 - since);
	v = rotated ? verify(c, policy, rotated, &p, &waited) : JWT_MALFORMED;
	check(v == JWT_OK && waited, "token under a newly rotated key: the request waited for the "
	      "refetch and verifies: %s", jwt_verdict_name(v));
	json_decref(p);
	free(rotated);

	r = post(rotate_url, NULL);
	doc = r ? json_loads(r, 0, NULL) : NULL;
	snprintf(kid2, sizeof kid2, "%s", json_string_value(json_object_get(doc, "kid")) ?: "");
	json_decref(doc);
	rotated = kid2[0] ? token_signed_by(issuer, "kid", kid2, aud) : NULL;
	v = rotated ? verify(c, policy, rotated, &p, &waited) : JWT_MALFORMED;
	check(v == JWT_UNKNOWN_KID && !waited, "a second new key right after a refetch: refused "
	      "at once, no fetch (rate limit): %s", jwt_verdict_name(v));
	json_decref(p);
	run_loop(MIN_REFETCH + 0.2);
	v = rotated ? verify(c, policy, rotated, &p, &waited) : JWT_MALFORMED;
	check(v == JWT_OK && waited, "the same token %d s later: refetched and verifies: %s",
	      MIN_REFETCH, jwt_verdict_name(v));
	json_decref(p);
	free(rotated);
	jwks_cache_stats(c, &st);
	check(st.fetches == 3 && st.failures == 0 && st.keys == 4,
	      "3 fetches in all, %zu keys in force", st.keys);
	jwks_cache_free(c);
	config_free(&cfg);
}

/* HTTPS: certificate verification is on; the issuer's own CA makes it pass. */
static void test_tls_issuer(const char *issuer, const char *ca_file)
{
	struct config cfg;
	char url[600], aud[128];
	struct jwks_waiter *w;
	struct wait wait = { false };
	struct jwks_cache_stats st;

	if (!load_policy(issuer, &cfg)) {
		check(false, "driver config loads (TLS issuer)");
		return;
	}
	snprintf(url, sizeof url, "%s/jwks", issuer);
	struct jwks_cache *c = new_cache(url, NULL);
	if (c) {
		jwks_cache_start(c);
		if (jwks_cache_lookup(c, NULL, on_keys, &wait, &w) == JWKS_LOOKUP_WAIT)
			run_loop(10);
		jwks_cache_stats(c, &st);
		check(wait.woken && st.keys == 0 && st.failures == 1,
		      "self-signed issuer without its CA: fetch refused (%s)", st.last_error);
		jwks_cache_free(c);
	} else {
		check(false, "jwks cache for %s", url);
	}
	c = new_cache(url, ca_file);
	if (!c) {
		check(false, "jwks cache with ca_file %s", ca_file);
		config_free(&cfg);
		return;
	}
	jwks_cache_start(c);
	/* The test's own token client trusts the test CA as well. */
	snprintf(aud, sizeof aud, "aud=%s&client_id=driver-app", RESOURCE);
	char tok_url[600], form[256];
	snprintf(tok_url, sizeof tok_url, "%s/token", issuer);
	snprintf(form, sizeof form, "grant_type=client_credentials&%s", aud);
	CURL *h = curl_easy_init();
	static struct body b;
	b.len = 0;
	curl_easy_setopt(h, CURLOPT_URL, tok_url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	json_t *doc = rc == CURLE_OK ? json_loads(b.data, 0, NULL) : NULL;
	const char *token = json_string_value(json_object_get(doc, "access_token"));
	expect(c, &cfg.oauth, token, JWT_OK, "with ca_file: HTTPS JWKS fetched and the token verifies");
	json_decref(doc);
	jwks_cache_free(c);
	config_free(&cfg);
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: %s ISSUER_URL [TLS_ISSUER_URL CA_FILE]\n", argv[0]);
		return 64;
	}
	log_init("oauth-driver");
	log_set_level(LOG_WARN);
	if (jwks_global_init() != 0)
		return 71;
	base = event_base_new();
	struct event *tick = base ? event_new(base, -1, EV_PERSIST, on_tick, NULL) : NULL;
	struct timeval every = { 0, 20000 };
	if (!tick || event_add(tick, &every) != 0)
		return 71;
	test_plain_issuer(argv[1]);
	if (argc == 4)
		test_tls_issuer(argv[2], argv[3]);
	check(longest_stall < 0.5, "the event loop never stalled during fetches (longest gap "
	      "between 20 ms ticks: %.3f s)", longest_stall);
	event_free(tick);
	event_base_free(base);
	curl_global_cleanup();
	return failed;
}
