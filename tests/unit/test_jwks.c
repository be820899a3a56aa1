/* Unit tests for JWKS: documents good and bad (key types, sizes, use/key_ops/alg, duplicate
 * kids, bounds), and the cache against an HTTP server on 127.0.0.1 served from the same
 * event loop, so a fetch that blocked the loop would never get its answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jwks.h"
#include "log.h"

#include "check.h"

static mbedtls_ctr_drbg_context drbg;
static mbedtls_entropy_context entropy;

/* ---- keys as JWK text ---- */

static char *b64url(const unsigned char *in, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len * 4 / 3 + 4);
	size_t o = 0;
	if (!out)
		exit(2);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		             (i + 2 < len ? in[i + 2] : 0);
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alphabet[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
	return out;
}

struct rsa_parts {
	unsigned char n[512];
	size_t n_len;
};

static void rsa_key(unsigned bits, struct rsa_parts *out)
{
	mbedtls_rsa_context rsa;
	mbedtls_rsa_init(&rsa, MBEDTLS_RSA_PKCS_V15, 0);
	if (mbedtls_rsa_gen_key(&rsa, mbedtls_ctr_drbg_random, &drbg, bits, 65537) != 0)
		exit(3);
	out->n_len = mbedtls_rsa_get_len(&rsa);
	if (mbedtls_rsa_export_raw(&rsa, out->n, out->n_len, NULL, 0, NULL, 0, NULL, 0, NULL, 0) != 0)
		exit(3);
	mbedtls_rsa_free(&rsa);
}

/* {"kty":"RSA","n":...,"e":"AQAB"<members>} */
static char *rsa_jwk(const struct rsa_parts *k, const char *members)
{
	char *n = b64url(k->n, k->n_len), *out = NULL;
	if (asprintf(&out, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"%s}", n, members) < 0)
		exit(2);
	free(n);
	return out;
}

static unsigned char ec_point[65];

static char *ec_jwk(const char *members)
{
	char *x = b64url(ec_point + 1, 32), *y = b64url(ec_point + 33, 32), *out = NULL;
	if (asprintf(&out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"%s}", x, y,
	             members) < 0)
		exit(2);
	free(x);
	free(y);
	return out;
}

static void ec_key(void)
{
	mbedtls_ecp_keypair ec;
	size_t len;
	mbedtls_ecp_keypair_init(&ec);
	if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, &ec, mbedtls_ctr_drbg_random, &drbg) != 0 ||
	    mbedtls_ecp_point_write_binary(&ec.grp, &ec.Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len,
	                                   ec_point, sizeof ec_point) != 0 || len != 65)
		exit(3);
	mbedtls_ecp_keypair_free(&ec);
}

static int parse(const char *doc, struct jwks *set, char *err, size_t errlen)
{
	/* An exact-size heap copy without a terminator, so ASan sees reads past the end. */
	size_t len = strlen(doc);
	char *copy = malloc(len ? len : 1);
	if (!copy)
		exit(2);
	memcpy(copy, doc, len);
	err[0] = '\0';
	int rc = jwks_parse(set, copy, len, err, errlen);
	free(copy);
	return rc;
}

static struct rsa_parts rsa2048, rsa1024;

/* A document of the given entries; returns the number of usable keys, or -1 if refused. */
static int usable(const char *entries, char *err, size_t errlen)
{
	char *doc = NULL;
	struct jwks set;
	if (asprintf(&doc, "{\"keys\":[%s]}", entries) < 0)
		exit(2);
	int rc = parse(doc, &set, err, errlen);
	free(doc);
	if (rc != 0)
		return -1;
	int n = (int)set.n;
	jwks_free(&set);
	return n;
}

static void test_documents(void)
{
	char err[256];
	struct jwks set;
	char *rsa = rsa_jwk(&rsa2048, ",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS256\"");
	char *ec = ec_jwk(",\"kid\":\"e1\",\"use\":\"sig\",\"alg\":\"ES256\",\"key_ops\":[\"verify\"]");
	char *doc = NULL;

	if (asprintf(&doc, "{\"keys\":[%s,%s]}", rsa, ec) < 0)
		exit(2);
	int rc = parse(doc, &set, err, sizeof err);
	CHECK(rc == 0 && set.n == 2, "good document with an RSA and an EC key (%s)", err);
	if (rc == 0) {
		const struct jwk *r = jwks_find(&set, "r1"), *e = jwks_find(&set, "e1");
		CHECK(r && r->type == JWK_RSA && strcmp(r->alg, "RS256") == 0 &&
		      mbedtls_pk_get_bitlen(&r->pk) == 2048, "r1 is RSA 2048 for RS256");
		CHECK(e && e->type == JWK_EC_P256 && mbedtls_pk_get_bitlen(&e->pk) == 256,
		      "e1 is EC P-256");
		CHECK(!jwks_find(&set, "r2") && !jwks_find(&set, ""), "unknown kids are not found");
		jwks_free(&set);
	}
	free(doc);

	/* Skipped entries: the rest of the document still counts. */
	static const char *const skipped[][2] = {
		{ "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"s\"}", "symmetric (oct) key" },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", "OKP key" },
		{ "{\"kid\":\"no-kty\"}", "entry without kty" },
		{ "\"RSA\"", "entry that is a string" },
		{ "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}", "EC key on P-384" },
	};
	for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
		char *entries = NULL;
		if (asprintf(&entries, "%s,%s", skipped[i][0], rsa) < 0)
			exit(2);
		CHECK(usable(entries, err, sizeof err) == 1, "skipped: %s", skipped[i][1]);
		free(entries);
	}
	static const char *const rsa_skips[][2] = {
		{ ",\"use\":\"enc\"", "use enc" },
		{ ",\"key_ops\":[\"encrypt\"]", "key_ops without verify" },
		{ ",\"key_ops\":\"verify\"", "key_ops not an array" },
		{ ",\"alg\":\"RS384\"", "RSA key for RS384" },
		{ ",\"alg\":\"ES256\"", "RSA key claiming ES256" },
		{ ",\"alg\":\"HS256\"", "RSA key claiming HS256" },
		{ ",\"kid\":7", "kid a number" },
	};
	for (size_t i = 0; i < sizeof rsa_skips / sizeof rsa_skips[0]; i++) {
		char *bad = rsa_jwk(&rsa2048, rsa_skips[i][0]);
		char *entries = NULL;
		if (asprintf(&entries, "%s,%s", bad, ec) < 0)
			exit(2);
		CHECK(usable(entries, err, sizeof err) == 1, "skipped: %s", rsa_skips[i][1]);
		free(entries);
		free(bad);
	}
	char *small = rsa_jwk(&rsa1024, ",\"kid\":\"small\"");
	CHECK(usable(small, err, sizeof err) == -1 && strstr(err, "no usable key"),
	      "RSA 1024 alone: refused (%s)", err);
	free(small);
	/* e = 2 (even) is no RSA exponent. */
	char *n64 = b64url(rsa2048.n, rsa2048.n_len), *entry = NULL;
	if (asprintf(&entry, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"Ag\"}", n64) < 0)
		exit(2);
	CHECK(usable(entry, err, sizeof err) == -1, "RSA e = 2: refused");
	free(entry);
	if (asprintf(&entry, "{\"kty\":\"RSA\",\"n\":\"%s=\",\"e\":\"AQAB\"}", n64) < 0)
		exit(2);
	CHECK(usable(entry, err, sizeof err) == -1, "RSA n with padding: refused");
	free(entry);
	/* A leading zero byte on n (older issuers send it): the same 2048-bit key. */
	unsigned char padded[513] = { 0 };
	memcpy(padded + 1, rsa2048.n, rsa2048.n_len);
	char *n0 = b64url(padded, rsa2048.n_len + 1);
	if (asprintf(&entry, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", n0) < 0)
		exit(2);
	CHECK(usable(entry, err, sizeof err) == 1, "RSA n with a leading zero byte: accepted");
	free(entry);
	free(n0);
	free(n64);
	/* Private members are ignored: only the public key is taken. */
	char *with_d = rsa_jwk(&rsa2048, ",\"d\":\"AQAB\"");
	CHECK(usable(with_d, err, sizeof err) == 1, "RSA key with a private member: public part used");
	free(with_d);

	/* EC points: exact sizes, on the curve. */
	char *x = b64url(ec_point + 1, 32), *y = b64url(ec_point + 33, 32), *x31 = b64url(ec_point + 1, 31);
	unsigned char off[32];
	memcpy(off, ec_point + 33, 32);
	off[31] ^= 1;
	char *y_off = b64url(off, 32);
	const struct { const char *x, *y, *what; } points[] = {
		{ x31, y, "EC x of 31 bytes" },
		{ x, y_off, "EC point off the curve" },
		{ x, "", "EC y empty" },
	};
	for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
		if (asprintf(&entry, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
		             points[i].x, points[i].y) < 0)
			exit(2);
		CHECK(usable(entry, err, sizeof err) == -1, "refused alone: %s", points[i].what);
		free(entry);
	}
	if (asprintf(&entry, "{\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y) < 0)
		exit(2);
	CHECK(usable(entry, err, sizeof err) == -1, "EC key without crv: refused alone");
	free(entry);
	free(x);
	free(y);
	free(x31);
	free(y_off);

	/* Whole-document refusals. */
	if (asprintf(&entry, "%s,%s", rsa, rsa) < 0)
		exit(2);
	CHECK(usable(entry, err, sizeof err) == -1 && strstr(err, "kid appears twice"),
	      "duplicate kid: refused (%s)", err);
	free(entry);
	static const char *const bad_docs[][2] = {
		{ "", "not JSON" },
		{ "{\"keys\":[", "not JSON" },
		{ "[]", "must be an array" },
		{ "{\"keys\":{}}", "must be an array" },
		{ "{\"kes\":[]}", "must be an array" },
		{ "{\"keys\":[]}", "no usable key" },
		{ "{\"keys\":[],\"keys\":[]}", "not JSON" },
	};
	for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
		CHECK(parse(bad_docs[i][0], &set, err, sizeof err) == -1 && strstr(err, bad_docs[i][1]),
		      "refused: '%s' (%s)", bad_docs[i][0], err);
	}
	/* Bounds: entries, usable keys kept, bytes. */
	size_t cap = 70 * 1024;
	char *many = malloc(cap);
	if (!many)
		exit(2);
	size_t used = (size_t)snprintf(many, cap, "{\"keys\":[");
	for (int i = 0; i < JWKS_MAX_ENTRIES + 1; i++)
		used += (size_t)snprintf(many + used, cap - used, "%s{\"kty\":\"oct\"}", i ? "," : "");
	snprintf(many + used, cap - used, "]}");
	CHECK(parse(many, &set, err, sizeof err) == -1 && strstr(err, "at most 64"),
	      "65 entries: refused (%s)", err);
	used = (size_t)snprintf(many, cap, "{\"keys\":[");
	for (int i = 0; i < JWKS_MAX_KEYS + 4; i++) {
		char kid[32];
		snprintf(kid, sizeof kid, ",\"kid\":\"k%d\"", i);
		char *k = ec_jwk(kid);
		used += (size_t)snprintf(many + used, cap - used, "%s%s", i ? "," : "", k);
		free(k);
	}
	snprintf(many + used, cap - used, "]}");
	rc = parse(many, &set, err, sizeof err);
	CHECK(rc == 0 && set.n == JWKS_MAX_KEYS && jwks_find(&set, "k15") && !jwks_find(&set, "k16"),
	      "20 usable keys: the first 16 kept");
	if (rc == 0)
		jwks_free(&set);
	if (asprintf(&doc, "{\"keys\":[%s],\"pad\":\"%*s\"}", ec, JWKS_MAX_DOC_BYTES, "") < 0)
		exit(2);
	CHECK(parse(doc, &set, err, sizeof err) == -1 && strstr(err, "larger than"),
	      "document over 64 KiB: refused (%s)", err);
	free(doc);
	free(many);
	free(rsa);
	free(ec);
}

/* ---- the cache, against a server on the same loop ---- */

enum serve_mode { SERVE_DOC, SERVE_500, SERVE_BIG, SERVE_HANG, SERVE_JUNK };

#define MAX_CONNS 16

static struct {
	struct event_base *base;
	int listen_fd;
	struct event *accept_ev;
	int port;
	enum serve_mode mode;
	const char *doc;
	int requests;
	char last_request[128]; /* its request line */
	int fds[MAX_CONNS];
	struct event *evs[MAX_CONNS];
	char buf[MAX_CONNS][2048];
	size_t used[MAX_CONNS];
} srv;

static void conn_close(int slot)
{
	event_free(srv.evs[slot]);
	close(srv.fds[slot]);
	srv.evs[slot] = NULL;
	srv.fds[slot] = -1;
}

static void respond(int slot)
{
	char head[256];
	const char *body = srv.doc;
	char *big = NULL;
	int status = 200;

	srv.requests++;
	snprintf(srv.last_request, sizeof srv.last_request, "%.*s",
	         (int)strcspn(srv.buf[slot], "\r\n"), srv.buf[slot]);
	if (srv.mode == SERVE_HANG)
		return;
	if (srv.mode == SERVE_500) {
		status = 500;
		body = "{}";
	} else if (srv.mode == SERVE_JUNK) {
		body = "<html>not json</html>";
	} else if (srv.mode == SERVE_BIG) {
		big = malloc(JWKS_MAX_DOC_BYTES + 100);
		if (!big)
			exit(2);
		memset(big, ' ', JWKS_MAX_DOC_BYTES + 99);
		big[JWKS_MAX_DOC_BYTES + 99] = '\0';
		body = big;
	}
	int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(body));
	/* Whatever the socket takes now; the client has what it needs to decide. */
	if (write(srv.fds[slot], head, (size_t)n) == n && write(srv.fds[slot], body, strlen(body)) < 0)
		perror("write");
	free(big);
	conn_close(slot);
}

static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	int slot = (int)(intptr_t)arg;
	(void)what;
	ssize_t n = read(fd, srv.buf[slot] + srv.used[slot], sizeof srv.buf[slot] - 1 - srv.used[slot]);
	if (n <= 0) {
		conn_close(slot);
		return;
	}
	srv.used[slot] += (size_t)n;
	srv.buf[slot][srv.used[slot]] = '\0';
	if (strstr(srv.buf[slot], "\r\n\r\n"))
		respond(slot);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	for (int i = 0; i < MAX_CONNS; i++) {
		if (srv.fds[i] < 0) {
			srv.fds[i] = c;
			srv.used[i] = 0;
			srv.evs[i] = event_new(srv.base, c, EV_READ | EV_PERSIST, on_conn, (void *)(intptr_t)i);
			event_add(srv.evs[i], NULL);
			return;
		}
	}
	close(c);
}

static void server_start(struct event_base *base)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;

	srv.base = base;
	for (int i = 0; i < MAX_CONNS; i++)
		srv.fds[i] = -1;
	srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.listen_fd < 0 || bind(srv.listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
	    listen(srv.listen_fd, 8) != 0 ||
	    getsockname(srv.listen_fd, (struct sockaddr *)&addr, &len) != 0) {
		perror("server");
		exit(2);
	}
	srv.port = ntohs(addr.sin_port);
	srv.accept_ev = event_new(base, srv.listen_fd, EV_READ | EV_PERSIST, on_accept, NULL);
	event_add(srv.accept_ev, NULL);
}

static void server_stop(void)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (srv.fds[i] >= 0)
			conn_close(i);
	event_free(srv.accept_ev);
	close(srv.listen_fd);
}

static int woken[2];
static struct timespec last_tick;
static double longest_stall; /* seconds between two ticks of the 20 ms timer */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_keys(void *arg)
{
	woken[(intptr_t)arg]++;
	event_base_loopbreak(srv.base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	double t = now_seconds();
	double prev = (double)last_tick.tv_sec + (double)last_tick.tv_nsec / 1e9;
	if (last_tick.tv_sec && t - prev > longest_stall)
		longest_stall = t - prev;
	clock_gettime(CLOCK_MONOTONIC, &last_tick);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until a waiter wakes or `seconds` pass. The deadline is an event of its
 * own, removed afterwards: a loopexit timer left behind would cut a later run short. */
static void run_loop(double seconds)
{
	struct timeval tv = { .tv_sec = (long)seconds, .tv_usec = (long)((seconds - (long)seconds) * 1e6) };
	struct event *deadline = evtimer_new(srv.base, on_deadline, srv.base);
	if (!deadline || evtimer_add(deadline, &tv) != 0)
		exit(2);
	event_base_dispatch(srv.base);
	event_free(deadline);
}

static void pause_for(double seconds)
{
	run_loop(seconds); /* nothing wakes it early: no waiter is parked */
}

/* Runs the loop until `fetches` transfers have started and none is in flight. */
static bool wait_for_fetches(struct jwks_cache *c, unsigned fetches, double max_seconds)
{
	struct jwks_cache_stats st;
	for (double waited = 0; waited < max_seconds; waited += 0.05) {
		jwks_cache_stats(c, &st);
		if (st.fetches >= fetches && !st.in_flight)
			return true;
		pause_for(0.05);
	}
	return false;
}

static void test_cache_options(struct event_base *base)
{
	char err[256];
	static const struct { const char *url; bool ok; } urls[] = {
		{ "https://issuer.example.com/.well-known/jwks.json", true },
		{ "http://127.0.0.1:8080/jwks", true },
		{ "http://[::1]:8080/jwks", true },
		{ "http://issuer.example.com/jwks", false },
		{ "http://127.0.0.2/jwks", false },
		{ "http://localhost/jwks", false },
		{ "https://user:pw@issuer.example.com/jwks", false },
		{ "ftp://issuer.example.com/jwks", false },
		{ "file:///etc/passwd", false },
		{ "not a url", false },
	};
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		struct jwks_cache_options opt = { .url = urls[i].url };
		err[0] = '\0';
		struct jwks_cache *c = jwks_cache_new(base, &opt, err, sizeof err);
		CHECK(!c == !urls[i].ok, "cache url %s %s %s", urls[i].url,
		      urls[i].ok ? "accepted" : "refused:", err);
		jwks_cache_free(c);
	}
	struct jwks_cache_options opt = { .url = "https://issuer.example.com/jwks",
	                                  .ca_file = "/nonexistent/ca.pem" };
	struct jwks_cache *c = jwks_cache_new(base, &opt, err, sizeof err);
	CHECK(!c && strstr(err, "CA bundle"), "an unreadable ca_file is refused (%s)", err);
	jwks_cache_free(c);
}

static void test_cache_fetch(struct event_base *base)
{
	char err[256], url[64];
	struct jwks_waiter *w1, *w2;
	struct jwks_cache_stats st;
	char *k1 = ec_jwk(",\"kid\":\"k1\""), *k2 = ec_jwk(",\"kid\":\"k2\""), *doc1 = NULL, *doc2 = NULL;

	if (asprintf(&doc1, "{\"keys\":[%s]}", k1) < 0 || asprintf(&doc2, "{\"keys\":[%s,%s]}", k1, k2) < 0)
		exit(2);
	server_start(base);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks", srv.port);
	struct jwks_cache_options opt = { .url = url, .min_refetch_seconds = 1, .timeout_ms = 1500 };
	struct jwks_cache *c = jwks_cache_new(base, &opt, err, sizeof err);
	CHECK(c != NULL, "cache for %s (%s)", url, c ? "" : err);
	if (!c)
		exit(1);
	struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval every = { 0, 20000 };
	event_add(tick, &every);

	srv.mode = SERVE_DOC;
	srv.doc = doc1;
	CHECK(jwks_cache_keys(c)->n == 0, "no keys before the first fetch");
	jwks_cache_start(c);
	enum jwks_lookup l = jwks_cache_lookup(c, "k1", on_keys, (void *)0, &w1);
	CHECK(l == JWKS_LOOKUP_WAIT && w1, "first lookup waits for the start-up fetch");
	run_loop(5);
	CHECK(woken[0] == 1 && jwks_cache_keys(c)->n == 1 && jwks_find(jwks_cache_keys(c), "k1"),
	      "the waiter woke and k1 is in force");
	CHECK(srv.requests == 1, "one request so far (%d)", srv.requests);
	CHECK(jwks_cache_lookup(c, "k1", on_keys, (void *)0, &w1) == JWKS_LOOKUP_NOW,
	      "a known kid needs no fetch");
	CHECK(jwks_cache_lookup(c, NULL, on_keys, (void *)0, &w1) == JWKS_LOOKUP_NOW,
	      "no kid, keys present: no fetch");

	/* An unknown kid right after a fetch fails fast: no second request. */
	srv.doc = doc2;
	CHECK(jwks_cache_lookup(c, "k2", on_keys, (void *)0, &w1) == JWKS_LOOKUP_NOW && !w1,
	      "unknown kid within min_refetch_seconds: answered at once");
	CHECK(srv.requests == 1, "and no request was made (%d)", srv.requests);

	pause_for(1.1);
	l = jwks_cache_lookup(c, "k2", on_keys, (void *)0, &w1);
	CHECK(l == JWKS_LOOKUP_WAIT, "unknown kid after min_refetch_seconds: refetch");
	run_loop(5);
	CHECK(woken[0] == 2 && jwks_find(jwks_cache_keys(c), "k2") && srv.requests == 2,
	      "k2 arrived with the second request");

	/* Two waiters on one fetch, one of them gone meanwhile. */
	pause_for(1.1);
	CHECK(jwks_cache_lookup(c, "k3", on_keys, (void *)0, &w1) == JWKS_LOOKUP_WAIT &&
	      jwks_cache_lookup(c, "k3", on_keys, (void *)1, &w2) == JWKS_LOOKUP_WAIT,
	      "two waiters for k3");
	jwks_waiter_cancel(c, w1);
	run_loop(5);
	CHECK(woken[0] == 2 && woken[1] == 1, "the cancelled waiter did not wake, the other did");
	CHECK(srv.requests == 3, "one request for both waiters (%d)", srv.requests);
	CHECK(!jwks_find(jwks_cache_keys(c), "k3"), "k3 still unknown");

	/* Failures keep the keys in force; after one, the cache retries by itself every
	 * min_refetch_seconds without anyone asking. */
	pause_for(1.1);
	srv.mode = SERVE_500;
	l = jwks_cache_lookup(c, "k4", on_keys, (void *)0, &w1);
	run_loop(5);
	jwks_cache_stats(c, &st);
	CHECK(l == JWKS_LOOKUP_WAIT && woken[0] == 3 && strstr(st.last_error, "HTTP status 500"),
	      "fetch fails on HTTP 500 and wakes its waiter (%s)", st.last_error);
	CHECK(jwks_cache_keys(c)->n == 2, "the previous keys stay in force");
	static const struct { enum serve_mode mode; const char *error; const char *what; } fails[] = {
		{ SERVE_BIG, "larger than", "a body over the size limit" },
		{ SERVE_JUNK, "not JSON", "a body that is not JSON" },
		{ SERVE_HANG, "timed out: no complete answer within 1500 ms", "no answer within timeout_ms" },
	};
	for (unsigned i = 0; i < sizeof fails / sizeof fails[0]; i++) {
		srv.mode = fails[i].mode;
		longest_stall = 0;
		bool done = wait_for_fetches(c, 5 + i, 6);
		jwks_cache_stats(c, &st);
		CHECK(done && strstr(st.last_error, fails[i].error), "retry fails on %s (%s; %u fetches%s)",
		      fails[i].what, st.last_error, st.fetches, st.in_flight ? ", one in flight" : "");
		CHECK(jwks_cache_keys(c)->n == 2, "the previous keys stay in force");
		if (fails[i].mode == SERVE_HANG)
			CHECK(longest_stall < 0.5, "the loop never stalled while the fetch waited 1.5 s "
			      "(longest gap between 20 ms ticks: %.3f s)", longest_stall);
	}
	srv.mode = SERVE_DOC;
	bool recovered = wait_for_fetches(c, 8, 6);
	jwks_cache_stats(c, &st);
	CHECK(recovered && st.last_error[0] == '\0' && st.keys == 2, "the next retry succeeds");
	CHECK(st.fetches == 8 && st.failures == 4 && !st.in_flight,
	      "stats: %u fetches, %u failures", st.fetches, st.failures);
	CHECK(woken[0] == 3 && woken[1] == 1, "retries nobody waited for woke nobody");

	/* A reload that moves the URL: the old issuer's keys go, a fetch from the new URL starts
	 * at once, and a request waiting on the old fetch waits for the new one. */
	char url2[80];
	snprintf(url2, sizeof url2, "http://127.0.0.1:%d/moved/jwks", srv.port);
	pause_for(1.1);
	srv.mode = SERVE_HANG;
	CHECK(jwks_cache_lookup(c, "k6", on_keys, (void *)1, &w1) == JWKS_LOOKUP_WAIT,
	      "a waiter parked on a fetch that hangs");
	pause_for(0.2);
	srv.mode = SERVE_DOC;
	srv.doc = doc1;
	CHECK(jwks_cache_set_url(c, "http://issuer.example/jwks", err, sizeof err) == -1 &&
	      jwks_cache_keys(c)->n == 2, "set_url refuses a plain-http remote URL, keys kept (%s)", err);
	CHECK(jwks_cache_set_url(c, url, err, sizeof err) == 0 && jwks_cache_keys(c)->n == 2,
	      "set_url to the same URL changes nothing");
	CHECK(jwks_cache_set_url(c, url2, err, sizeof err) == 0 && jwks_cache_keys(c)->n == 0,
	      "set_url to a new URL drops the old issuer's keys");
	run_loop(5);
	jwks_cache_stats(c, &st);
	CHECK(woken[1] == 2 && st.keys == 1 && st.fetches == 10 &&
	      jwks_find(jwks_cache_keys(c), "k1"),
	      "the waiter woke after the fetch from the new URL (%u fetches)", st.fetches);
	CHECK(strcmp(srv.last_request, "GET /moved/jwks HTTP/1.1") == 0, "fetched from the new "
	      "URL (%s)", srv.last_request);

	/* Freed with a waiter parked: no callback, nothing leaked (ASan). */
	pause_for(1.1);
	srv.mode = SERVE_HANG;
	CHECK(jwks_cache_lookup(c, "k5", on_keys, (void *)0, &w1) == JWKS_LOOKUP_WAIT, "parked k5");
	pause_for(0.2);
	int before = woken[0];
	jwks_cache_free(c);
	pause_for(0.1);
	CHECK(woken[0] == before, "freeing the cache drops its waiters silently");
	event_free(tick);
	server_stop();
	free(k1);
	free(k2);
	free(doc1);
	free(doc2);
}

int main(void)
{
	log_init("test_jwks");
	log_set_level(getenv("TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	                          (const unsigned char *)"test_jwks", 9) != 0)
		return 3;
	rsa_key(2048, &rsa2048);
	rsa_key(1024, &rsa1024);
	ec_key();
	test_documents();
	if (jwks_global_init() != 0) {
		printf("FAIL jwks_global_init\n");
		return 1;
	}
	struct event_base *base = event_base_new();
	if (!base)
		return 2;
	test_cache_options(base);
	test_cache_fetch(base);
	event_base_free(base);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return check_finish();
}
