/* JWKS parsing (public RSA and P-256 keys into mbedtls contexts) and the cache that keeps
 * them fresh: libcurl's multi interface driven by the libevent loop, one transfer at a time. */
#include "jwks.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "log.h"

#define DEFAULT_REFRESH_SECONDS 600
#define DEFAULT_MIN_REFETCH_SECONDS 30
#define DEFAULT_MAX_STALE_SECONDS 86400
#define DEFAULT_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 5000
#define MAX_WAITERS 1024          /* requests parked on one fetch; more fail fast */
#define CA_BUNDLE_MAX (4 * 1024 * 1024)
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* ---- base64url ---- */

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int jwks_base64url_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                          size_t *out_len)
{
	/* One leftover character carries only 6 bits: no byte string encodes to that. */
	if (len % 4 == 1 || (len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
		return -1;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Non-zero leftover bits would give a second spelling of the same bytes. */
	if (acc & ((1u << bits) - 1))
		return -1;
	*out_len = o;
	return 0;
}

/* ---- parsing ---- */

static int decode_member(json_t *entry, const char *name, unsigned char *out, size_t cap,
                         size_t *len)
{
	json_t *v = json_object_get(entry, name);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return -1;
	return jwks_base64url_decode(json_string_value(v), json_string_length(v), out, cap, len);
}

static int rsa_from_jwk(json_t *entry, mbedtls_pk_context *pk, char *why, size_t cap)
{
	unsigned char n[JWKS_RSA_MAX_BITS / 8 + 1], e[8];
	size_t n_len, e_len;

	if (decode_member(entry, "n", n, sizeof n, &n_len) != 0) {
		snprintf(why, cap, "n: must be base64url of at most %d bits", JWKS_RSA_MAX_BITS);
		return -1;
	}
	if (decode_member(entry, "e", e, sizeof e, &e_len) != 0) {
		snprintf(why, cap, "e: must be base64url of at most 8 bytes");
		return -1;
	}
	size_t skip = 0;
	while (skip < n_len && n[skip] == 0)
		skip++;
	size_t bits = (n_len - skip) * 8;
	for (unsigned char top = skip < n_len ? n[skip] : 0; bits && !(top & 0x80); top <<= 1)
		bits--;
	if (bits < JWKS_RSA_MIN_BITS || bits > JWKS_RSA_MAX_BITS) {
		snprintf(why, cap, "RSA modulus of %zu bits (%d..%d accepted)", bits,
		         JWKS_RSA_MIN_BITS, JWKS_RSA_MAX_BITS);
		return -1;
	}
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
	if (mbedtls_rsa_import_raw(rsa, n + skip, n_len - skip, NULL, 0, NULL, 0, NULL, 0, e,
	                           e_len) != 0 ||
	    mbedtls_rsa_complete(rsa) != 0 || mbedtls_rsa_check_pubkey(rsa) != 0) {
		snprintf(why, cap, "not a valid RSA public key (e must be odd, >= 3)");
		return -1;
	}
	return 0;
}

static int ec_from_jwk(json_t *entry, mbedtls_pk_context *pk, char *why, size_t cap)
{
	unsigned char point[65];
	size_t x_len, y_len;

	/* RFC 7518: x and y are the full 32 bytes each, so the length is checked exactly. */
	if (decode_member(entry, "x", point + 1, 32, &x_len) != 0 || x_len != 32 ||
	    decode_member(entry, "y", point + 33, 32, &y_len) != 0 || y_len != 32) {
		snprintf(why, cap, "x and y: must be base64url of exactly 32 bytes each");
		return -1;
	}
	point[0] = 0x04; /* uncompressed */
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
	if (mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
	    mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, point, sizeof point) != 0 ||
	    mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0) {
		snprintf(why, cap, "not a point on P-256");
		return -1;
	}
	return 0;
}

static bool array_has_string(json_t *array, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(array, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Fills `key` from one entry. Returns 0 when usable, else -1 with the reason it is skipped. */
static int key_from_entry(json_t *entry, struct jwk *key, char *why, size_t cap)
{
	const char *kty = json_string_value(json_object_get(entry, "kty"));
	json_t *kid = json_object_get(entry, "kid");
	json_t *use = json_object_get(entry, "use");
	json_t *ops = json_object_get(entry, "key_ops");
	json_t *alg = json_object_get(entry, "alg");

	if (!json_is_object(entry) || !kty) {
		snprintf(why, cap, "not an object with a \"kty\" string");
		return -1;
	}
	if (kid && (!json_is_string(kid) || json_string_length(kid) > JWKS_KID_MAX)) {
		snprintf(why, cap, "kid: must be a string of at most %d bytes", JWKS_KID_MAX);
		return -1;
	}
	if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) {
		snprintf(why, cap, "use: not \"sig\"");
		return -1;
	}
	if (ops && (!json_is_array(ops) || !array_has_string(ops, "verify"))) {
		snprintf(why, cap, "key_ops: no \"verify\"");
		return -1;
	}
	if (strcmp(kty, "RSA") == 0) {
		key->type = JWK_RSA;
	} else if (strcmp(kty, "EC") == 0) {
		const char *crv = json_string_value(json_object_get(entry, "crv"));
		if (!crv || strcmp(crv, "P-256") != 0) {
			snprintf(why, cap, "EC key on a curve other than P-256");
			return -1;
		}
		key->type = JWK_EC_P256;
	} else {
		snprintf(why, cap, "kty \"%.16s\" is not supported (RSA, EC)", kty);
		return -1;
	}
	const char *own_alg = key->type == JWK_RSA ? "RS256" : "ES256";
	if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), own_alg) != 0)) {
		snprintf(why, cap, "alg: a %s key here can only be used with %s", kty, own_alg);
		return -1;
	}
	if (alg)
		memcpy(key->alg, own_alg, strlen(own_alg) + 1);
	if (kid) {
		memcpy(key->kid, json_string_value(kid), json_string_length(kid) + 1);
		key->has_kid = true;
	}
	return key->type == JWK_RSA ? rsa_from_jwk(entry, &key->pk, why, cap)
	                            : ec_from_jwk(entry, &key->pk, why, cap);
}

const struct jwk *jwks_find(const struct jwks *set, const char *kid)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->keys[i].has_kid && strcmp(set->keys[i].kid, kid) == 0)
			return &set->keys[i];
	return NULL;
}

void jwks_free(struct jwks *set)
{
	for (size_t i = 0; set->keys && i < JWKS_MAX_KEYS; i++)
		mbedtls_pk_free(&set->keys[i].pk);
	free(set->keys);
	memset(set, 0, sizeof *set);
}

static int parse_entries(struct jwks *out, json_t *entries, char *err, size_t errlen)
{
	size_t i;
	json_t *entry;
	char why[160];

	json_array_foreach(entries, i, entry) {
		struct jwk *key = &out->keys[out->n];
		const char *kid = json_string_value(json_object_get(entry, "kid"));
		if (out->n == JWKS_MAX_KEYS) {
			log_warn("jwks_key_skipped", LOG_INT("index", i), LOG_STR("kid", kid),
			         LOG_STR("reason", "too many usable keys"), LOG_INT("kept", JWKS_MAX_KEYS));
			continue;
		}
		if (key_from_entry(entry, key, why, sizeof why) != 0) {
			log_warn("jwks_key_skipped", LOG_INT("index", i), LOG_STR("kid", kid),
			         LOG_STR("reason", why));
			mbedtls_pk_free(&key->pk);
			memset(key, 0, sizeof *key);
			mbedtls_pk_init(&key->pk);
			continue;
		}
		if (key->has_kid && jwks_find(out, key->kid)) {
			/* Two keys under one name: which one a token means is anyone's guess. */
			snprintf(err, errlen, "at $.keys[%zu]: kid appears twice", i);
			return -1;
		}
		out->n++;
	}
	if (out->n == 0) {
		snprintf(err, errlen, "no usable key (RSA >= %d bits or EC P-256, for signing)",
		         JWKS_RSA_MIN_BITS);
		return -1;
	}
	return 0;
}

int jwks_parse(struct jwks *out, const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;

	memset(out, 0, sizeof *out);
	if (len > JWKS_MAX_DOC_BYTES) {
		snprintf(err, errlen, "larger than %d bytes", JWKS_MAX_DOC_BYTES);
		return -1;
	}
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *entries = json_object_get(doc, "keys");
	if (!json_is_array(entries) || json_array_size(entries) > JWKS_MAX_ENTRIES) {
		if (!doc)
			snprintf(err, errlen, "not JSON: line %d: %s", jerr.line, jerr.text);
		else
			snprintf(err, errlen, "at $.keys: must be an array of at most %d keys",
			         JWKS_MAX_ENTRIES);
		json_decref(doc);
		return -1;
	}
	out->keys = calloc(JWKS_MAX_KEYS, sizeof *out->keys);
	if (!out->keys) {
		json_decref(doc);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < JWKS_MAX_KEYS; i++)
		mbedtls_pk_init(&out->keys[i].pk);
	int rc = parse_entries(out, entries, err, errlen);
	json_decref(doc);
	if (rc != 0)
		jwks_free(out);
	return rc;
}

/* ---- the cache ---- */

struct jwks_waiter {
	struct jwks_waiter *next, *prev;
	jwks_wait_cb cb;
	void *arg;
	unsigned fetch;          /* the fetch it waits for (jwks_cache.fetches then) */
};

/* One socket libcurl asked us to watch. */
struct curl_sock {
	struct curl_sock *next, *prev;
	struct event *ev;
	curl_socket_t fd;
	struct jwks_cache *cache;
};

struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t len;
	bool too_large;
	char error[CURL_ERROR_SIZE];
};

struct jwks_cache {
	struct event_base *base;
	CURLM *multi;
	struct event *curl_timer;    /* libcurl's own timeout */
	struct event *refresh_timer; /* the next scheduled fetch */
	char *url;
	bool plain_http;             /* loopback tests only */
	unsigned refresh_s, min_refetch_s, max_stale_s, timeout_ms;
	size_t max_bytes;
	char *ca_pem;                /* the CA bundle, read before the sandbox; NULL = libcurl's */
	size_t ca_len;
	struct transfer *transfer;   /* the one in flight, or NULL */
	struct curl_sock *socks;
	struct jwks keys;            /* in force */
	struct jwks empty;
	bool have_keys, attempted;
	struct timespec fetched_at, attempted_at; /* CLOCK_MONOTONIC */
	struct jwks_waiter *waiters; /* oldest first */
	struct jwks_waiter *last_waiter;
	size_t n_waiters;
	unsigned fetches, failures;
	char last_error[256];
};

int jwks_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static double seconds_since(const struct timespec *then)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - then->tv_sec) + (double)(now.tv_nsec - then->tv_nsec) / 1e9;
}

/* https:// anywhere; http:// only on the loopback address, for tests; no user info. */
static int check_url(const char *url, bool *plain, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = -1;

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "jwks_url is not a URL");
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(err, errlen, "jwks_url must not carry user info");
	} else if (strcmp(scheme, "https") == 0) {
		*plain = false;
		rc = 0;
	} else if (strcmp(scheme, "http") == 0 &&
	           (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0)) {
		*plain = true;
		rc = 0;
	} else {
		snprintf(err, errlen, "jwks_url must be https:// (http:// only for 127.0.0.1 and [::1])");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

static char *read_ca_bundle(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= CA_BUNDLE_MAX)
		buf = malloc((size_t)st.st_size);
	size_t used = 0;
	while (buf && used < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		used += (size_t)n;
	}
	close(fd);
	*len = used;
	return buf;
}

static void transfer_free(struct jwks_cache *c, struct transfer *t)
{
	if (!t)
		return;
	if (t->easy) {
		curl_multi_remove_handle(c->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	curl_slist_free_all(t->headers);
	free(t->body);
	free(t);
}

static void schedule_refresh(struct jwks_cache *c, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	evtimer_add(c->refresh_timer, &tv);
}

static void waiter_unlink(struct jwks_cache *c, struct jwks_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		c->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		c->last_waiter = w->prev;
	c->n_waiters--;
}

/* Runs the callbacks of everyone waiting for fetch number `fetch`, oldest first, one at a
 * time from the live list: a callback may cancel other waiters (its edge went away) or park
 * a new one for a later fetch, which must not be woken by this one. */
static void wake_waiters(struct jwks_cache *c, unsigned fetch)
{
	while (c->waiters && c->waiters->fetch <= fetch) {
		struct jwks_waiter *w = c->waiters;
		jwks_wait_cb cb = w->cb;
		void *arg = w->arg;
		waiter_unlink(c, w);
		free(w);
		cb(arg);
	}
}

static void finish_transfer(struct jwks_cache *c, CURLcode result)
{
	struct transfer *t = c->transfer;
	long status = 0;
	char err[256] = "";
	struct jwks next;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (t->too_large || result == CURLE_FILESIZE_EXCEEDED)
		snprintf(err, sizeof err, "response larger than %zu bytes", c->max_bytes);
	else if (result == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, sizeof err, "timed out: no complete answer within %u ms", c->timeout_ms);
	else if (result != CURLE_OK)
		snprintf(err, sizeof err, "%s", t->error[0] ? t->error : curl_easy_strerror(result));
	else if (status != 200)
		snprintf(err, sizeof err, "HTTP status %ld", status);
	else if (jwks_parse(&next, t->body, t->len, err, sizeof err) == 0) {
		jwks_free(&c->keys);
		c->keys = next;
		c->have_keys = true;
		clock_gettime(CLOCK_MONOTONIC, &c->fetched_at);
	}
	c->transfer = NULL;
	transfer_free(c, t);
	if (err[0]) {
		c->failures++;
		snprintf(c->last_error, sizeof c->last_error, "%s", err);
		log_warn("jwks_fetch_failed", LOG_STR("url", c->url), LOG_STR("reason", err),
		         LOG_STR("effect", c->have_keys ? "the previous keys stay in force"
		                                        : "bearer tokens are refused until a fetch succeeds"));
		schedule_refresh(c, c->min_refetch_s < c->refresh_s ? c->min_refetch_s : c->refresh_s);
	} else {
		c->last_error[0] = '\0';
		log_info("jwks_fetched", LOG_STR("url", c->url), LOG_INT("keys", c->keys.n));
		schedule_refresh(c, c->refresh_s);
	}
	wake_waiters(c, c->fetches);
}

static void check_finished(struct jwks_cache *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg == CURLMSG_DONE && c->transfer && msg->easy_handle == c->transfer->easy)
			finish_transfer(c, msg->data.result);
	}
}

static void on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
	struct jwks_cache *c = arg;
	int running;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_finished(c);
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct jwks_cache *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_finished(c);
}

static void sock_free(struct jwks_cache *c, struct curl_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch (or stop watching) fd for what libcurl wants. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct jwks_cache *c = userp;
	struct curl_sock *s = socketp;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(c, s);
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		s->fd = fd;
		s->cache = c;
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		curl_multi_assign(c->multi, fd, s);
	} else {
		event_free(s->ev);
	}
	short events = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	               (what & CURL_POLL_OUT ? EV_WRITE : 0);
	s->ev = event_new(c->base, fd, events, on_socket_ready, c);
	if (!s->ev || event_add(s->ev, NULL) != 0) {
		log_error("jwks_watch_failed", LOG_STR("url", c->url));
		curl_multi_assign(c->multi, fd, NULL);
		sock_free(c, s);
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called after timeout_ms (-1: never). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct jwks_cache *c = userp;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(c->curl_timer);
		return 0;
	}
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	return evtimer_add(c->curl_timer, &tv) == 0 ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct jwks_cache *c = arg;
	struct transfer *t = c->transfer;
	size_t n = size * nmemb;

	if (n > c->max_bytes - t->len) {
		t->too_large = true;
		return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
	}
	memcpy(t->body + t->len, data, n);
	t->len += n;
	return n;
}

static int setup_easy(struct jwks_cache *c, struct transfer *t)
{
	const char *protocols = c->plain_http ? "http" : "https";
	long connect_ms = c->timeout_ms < CONNECT_TIMEOUT_MS ? c->timeout_ms : CONNECT_TIMEOUT_MS;
	int bad = 0;

	t->headers = curl_slist_append(NULL, "Accept: application/jwk-set+json, application/json");
	if (!t->headers)
		return -1;
	bad |= curl_easy_setopt(t->easy, CURLOPT_URL, c->url);
	bad |= curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, protocols);
	bad |= curl_easy_setopt(t->easy, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	bad |= curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	bad |= curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	/* A fresh connection each time: fetches are minutes apart, and no socket outlives one. */
	bad |= curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
	bad |= curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	bad |= curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	bad |= curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
	bad |= curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	bad |= curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "mcpgate/" MCPGATE_VERSION);
	bad |= curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
	bad |= curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, c);
	bad |= curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
	if (c->ca_pem) {
		/* From memory: once sandboxed, auth cannot open the bundle. */
		struct curl_blob blob = { .data = c->ca_pem, .len = c->ca_len,
		                          .flags = CURL_BLOB_NOCOPY };
		bad |= curl_easy_setopt(t->easy, CURLOPT_CAINFO_BLOB, &blob);
		bad |= curl_easy_setopt(t->easy, CURLOPT_CAINFO, NULL);
		bad |= curl_easy_setopt(t->easy, CURLOPT_CAPATH, NULL);
	}
	return bad ? -1 : 0;
}

static int start_fetch(struct jwks_cache *c)
{
	struct transfer *t = calloc(1, sizeof *t);

	c->attempted = true;
	clock_gettime(CLOCK_MONOTONIC, &c->attempted_at);
	c->fetches++;
	if (t)
		t->body = malloc(c->max_bytes + 1);
	if (t && t->body)
		t->easy = curl_easy_init();
	if (!t || !t->easy || setup_easy(c, t) != 0) {
		transfer_free(c, t);
		c->failures++;
		snprintf(c->last_error, sizeof c->last_error, "cannot set up the transfer");
		log_error("jwks_fetch_failed", LOG_STR("url", c->url), LOG_STR("reason", c->last_error));
		schedule_refresh(c, c->min_refetch_s);
		return -1;
	}
	c->transfer = t;
	if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
		c->transfer = NULL;
		transfer_free(c, t);
		c->failures++;
		snprintf(c->last_error, sizeof c->last_error, "curl_multi_add_handle failed");
		log_error("jwks_fetch_failed", LOG_STR("url", c->url), LOG_STR("reason", c->last_error));
		schedule_refresh(c, c->min_refetch_s);
		return -1;
	}
	evtimer_del(c->refresh_timer); /* rescheduled when this transfer ends */
	log_debug("jwks_fetch_started", LOG_STR("url", c->url));
	return 0;
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct jwks_cache *c = arg;

	(void)fd;
	(void)what;
	if (!c->transfer)
		start_fetch(c);
}

struct jwks_cache *jwks_cache_new(struct event_base *base, const struct jwks_cache_options *opt,
                                  char *err, size_t errlen)
{
	bool plain = false;

	if (!opt->url || check_url(opt->url, &plain, err, errlen) != 0)
		return NULL;
	struct jwks_cache *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->plain_http = plain;
	c->refresh_s = opt->refresh_seconds ? opt->refresh_seconds : DEFAULT_REFRESH_SECONDS;
	c->min_refetch_s = opt->min_refetch_seconds ? opt->min_refetch_seconds
	                                            : DEFAULT_MIN_REFETCH_SECONDS;
	c->max_stale_s = opt->max_stale_seconds ? opt->max_stale_seconds : DEFAULT_MAX_STALE_SECONDS;
	c->timeout_ms = opt->timeout_ms ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->max_bytes = opt->max_bytes ? opt->max_bytes : JWKS_MAX_DOC_BYTES;
	c->url = strdup(opt->url);
	c->multi = curl_multi_init();
	c->curl_timer = evtimer_new(base, on_curl_timeout, c);
	c->refresh_timer = evtimer_new(base, on_refresh, c);
	if (!c->url || !c->multi || !c->curl_timer || !c->refresh_timer) {
		snprintf(err, errlen, "out of memory");
		jwks_cache_free(c);
		return NULL;
	}
	if (!plain) {
		const char *path = opt->ca_file ? opt->ca_file : SYSTEM_CA_BUNDLE;
		c->ca_pem = read_ca_bundle(path, &c->ca_len);
		if (!c->ca_pem && opt->ca_file) {
			snprintf(err, errlen, "cannot read the CA bundle %s", path);
			jwks_cache_free(c);
			return NULL;
		}
		if (!c->ca_pem)
			log_warn("jwks_ca_bundle_unread", LOG_STR("path", path),
			         LOG_STR("effect", "libcurl opens its default bundle at each fetch"));
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 1L);
	return c;
}

void jwks_cache_start(struct jwks_cache *c)
{
	if (!c->transfer)
		start_fetch(c);
}

int jwks_cache_set_url(struct jwks_cache *c, const char *url, char *err, size_t errlen)
{
	bool plain = false;

	if (check_url(url, &plain, err, errlen) != 0)
		return -1;
	if (strcmp(url, c->url) == 0)
		return 0;
	char *copy = strdup(url);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!plain && !c->ca_pem)
		log_warn("jwks_ca_bundle_unread", LOG_STR("path", SYSTEM_CA_BUNDLE),
		         LOG_STR("effect", "libcurl opens its default bundle at each fetch"));
	log_info("jwks_url_changed", LOG_STR("from", c->url), LOG_STR("to", copy));
	free(c->url);
	c->url = copy;
	c->plain_http = plain;
	transfer_free(c, c->transfer);
	c->transfer = NULL;
	jwks_free(&c->keys);
	c->have_keys = false;
	c->attempted = false;
	if (start_fetch(c) != 0) {
		wake_waiters(c, UINT_MAX); /* they verify against no keys: 503, retry later */
		return 0;
	}
	for (struct jwks_waiter *w = c->waiters; w; w = w->next)
		w->fetch = c->fetches;
	return 0;
}

void jwks_cache_free(struct jwks_cache *c)
{
	if (!c)
		return;
	transfer_free(c, c->transfer);
	c->transfer = NULL;
	while (c->waiters) {
		struct jwks_waiter *w = c->waiters;
		c->waiters = w->next;
		free(w);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	while (c->socks)
		sock_free(c, c->socks);
	if (c->curl_timer)
		event_free(c->curl_timer);
	if (c->refresh_timer)
		event_free(c->refresh_timer);
	jwks_free(&c->keys);
	free(c->ca_pem);
	free(c->url);
	free(c);
}

const struct jwks *jwks_cache_keys(struct jwks_cache *c)
{
	if (c->have_keys && seconds_since(&c->fetched_at) > c->max_stale_s) {
		/* A key the issuer withdrew must not stay trusted because fetches keep failing. */
		log_error("jwks_keys_expired", LOG_STR("url", c->url),
		          LOG_INT("max_stale_seconds", c->max_stale_s));
		jwks_free(&c->keys);
		c->have_keys = false;
	}
	return c->have_keys ? &c->keys : &c->empty;
}

enum jwks_lookup jwks_cache_lookup(struct jwks_cache *c, const char *kid, jwks_wait_cb cb,
                                   void *arg, struct jwks_waiter **waiter)
{
	const struct jwks *keys = jwks_cache_keys(c);

	*waiter = NULL;
	if (keys->n > 0 && (!kid || jwks_find(keys, kid)))
		return JWKS_LOOKUP_NOW;
	if (c->n_waiters >= MAX_WAITERS)
		return JWKS_LOOKUP_NOW;
	if (!c->transfer) {
		/* Unknown kids must not turn into a stream of fetches against the issuer. */
		if (c->attempted && seconds_since(&c->attempted_at) < c->min_refetch_s)
			return JWKS_LOOKUP_NOW;
		if (start_fetch(c) != 0)
			return JWKS_LOOKUP_NOW;
	}
	struct jwks_waiter *w = calloc(1, sizeof *w);
	if (!w)
		return JWKS_LOOKUP_NOW;
	w->cb = cb;
	w->arg = arg;
	w->fetch = c->fetches;
	w->prev = c->last_waiter;
	if (c->last_waiter)
		c->last_waiter->next = w;
	else
		c->waiters = w;
	c->last_waiter = w;
	c->n_waiters++;
	*waiter = w;
	return JWKS_LOOKUP_WAIT;
}

void jwks_waiter_cancel(struct jwks_cache *c, struct jwks_waiter *w)
{
	if (!w)
		return;
	waiter_unlink(c, w);
	free(w);
}

void jwks_cache_stats(const struct jwks_cache *c, struct jwks_cache_stats *out)
{
	memset(out, 0, sizeof *out);
	out->fetches = c->fetches;
	out->failures = c->failures;
	out->in_flight = c->transfer != NULL;
	out->waiting = c->n_waiters;
	out->keys = c->have_keys ? c->keys.n : 0;
	snprintf(out->last_error, sizeof out->last_error, "%s", c->last_error);
}
