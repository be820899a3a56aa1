/* Rate limiting (see limiter.h): the embedded sliding-window table, the Redis script and the
 * link that runs it (hiredis async on the libevent loop, reconnect with backoff), fail modes. */
#include "limiter.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>
#include <inttypes.h>
#include <mbedtls/sha256.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"

#define KEY_PREFIX "mcpgate:rl:"
#define KEY_PART_MAX 128   /* longer principal or scope: hashed */
#define RING_MIN 8         /* a ring's smallest allocation */
#define EVICT_SCAN 64      /* LRU entries looked at for an empty window before giving up */
#define SCRIPT_SHA_LEN 40

/* One sorted set per rule, scored by Redis server time, so that replicas with skewed clocks
 * agree. A window is the W milliseconds ending now: an admission at t counts until t + W.
 * KEYS: one per rule. ARGV[1]: a member unique to this request; then per rule i
 * ARGV[2i] = N and ARGV[2i+1] = W (ms). Returns {1, rule, remaining, reset_ms, now} or
 * {0, rule, 0, retry_ms, now}, rule counted from 1. replicate_commands lets Redis < 5
 * replicate the writes after TIME; later versions always do and keep it as a no-op. */
static const char window_script[] =
	"if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local counts, refuse, wait = {}, 0, -1\n"
	"for i = 1, #KEYS do\n"
	"  local n, w = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])\n"
	"  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - w)\n"
	"  local c = redis.call('ZCARD', KEYS[i])\n"
	"  counts[i] = c\n"
	"  if c >= n then\n"
	"    local e = redis.call('ZRANGE', KEYS[i], c - n, c - n, 'WITHSCORES')\n"
	"    local left = tonumber(e[2]) + w - now\n"
	"    if left > wait then refuse, wait = i, left end\n"
	"  end\n"
	"end\n"
	"if refuse > 0 then return {0, refuse, 0, wait, now} end\n"
	"local pick, least, reset = 1, -1, 0\n"
	"for i = 1, #KEYS do\n"
	"  local n, w = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])\n"
	"  redis.call('ZADD', KEYS[i], now, ARGV[1])\n"
	"  redis.call('PEXPIRE', KEYS[i], w)\n"
	"  local left = n - counts[i] - 1\n"
	"  if least < 0 or left < least then\n"
	"    local e = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')\n"
	"    pick, least, reset = i, left, tonumber(e[2]) + w - now\n"
	"  end\n"
	"end\n"
	"return {1, pick, least, reset, now}\n";

/* ---- the embedded table: one ring of admission times per key ---- */

struct window {
	struct window *bucket_next;
	struct window *lru_prev, *lru_next; /* head: most recently admitted */
	int64_t *ring;       /* admission times in order, oldest at ring[head] */
	uint32_t cap, head, count;
	uint32_t window_ms;  /* W of the last check: says when the window is empty */
	bool pinned;         /* part of the check under way: not evictable */
	uint64_t hash;
	char key[];
};

struct window_table {
	struct window **buckets;
	size_t mask;
	size_t n_keys, max_keys;
	size_t entries, max_entries; /* ring slots allocated over all keys */
	struct window *lru_head, *lru_tail;
	uint64_t seed;
};

/* A keyed FNV-1a with a final mix. Keys are principal ids (authenticated) and configured
 * scopes, not strings a client picks, so flooding one bucket is not a concern here. */
static uint64_t key_hash(const struct window_table *t, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->seed;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static int table_init(struct window_table *t, size_t max_keys, size_t max_entries, uint64_t seed)
{
	size_t n = 16;
	while (n < max_keys && n < ((size_t)1 << 30))
		n <<= 1;
	memset(t, 0, sizeof *t);
	t->buckets = calloc(n, sizeof *t->buckets);
	if (!t->buckets)
		return -1;
	t->mask = n - 1;
	t->max_keys = max_keys;
	t->max_entries = max_entries;
	t->seed = seed;
	return 0;
}

static int64_t ring_at(const struct window *w, uint32_t i)
{
	return w->ring[(w->head + i) % w->cap];
}

static int64_t ring_newest(const struct window *w)
{
	return ring_at(w, w->count - 1);
}

static bool window_empty(const struct window *w, int64_t now)
{
	return w->count == 0 || ring_newest(w) <= now - (int64_t)w->window_ms;
}

static void lru_unlink(struct window_table *t, struct window *w)
{
	if (w->lru_prev)
		w->lru_prev->lru_next = w->lru_next;
	else
		t->lru_head = w->lru_next;
	if (w->lru_next)
		w->lru_next->lru_prev = w->lru_prev;
	else
		t->lru_tail = w->lru_prev;
	w->lru_prev = w->lru_next = NULL;
}

static void lru_push_front(struct window_table *t, struct window *w)
{
	w->lru_prev = NULL;
	w->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = w;
	t->lru_head = w;
	if (!t->lru_tail)
		t->lru_tail = w;
}

static void lru_push_back(struct window_table *t, struct window *w)
{
	w->lru_next = NULL;
	w->lru_prev = t->lru_tail;
	if (t->lru_tail)
		t->lru_tail->lru_next = w;
	t->lru_tail = w;
	if (!t->lru_head)
		t->lru_head = w;
}

static void window_free(struct window_table *t, struct window *w)
{
	struct window **p = &t->buckets[w->hash & t->mask];
	while (*p != w)
		p = &(*p)->bucket_next;
	*p = w->bucket_next;
	lru_unlink(t, w);
	t->entries -= w->cap;
	t->n_keys--;
	free(w->ring);
	free(w);
}

static void table_free(struct window_table *t)
{
	while (t->lru_head)
		window_free(t, t->lru_head);
	free(t->buckets);
	t->buckets = NULL;
}

static struct window *table_find(const struct window_table *t, const char *key, uint64_t hash)
{
	for (struct window *w = t->buckets[hash & t->mask]; w; w = w->bucket_next)
		if (w->hash == hash && strcmp(w->key, key) == 0)
			return w;
	return NULL;
}

/* Forgets one key whose window is empty: nothing is lost, its next request starts afresh.
 * The LRU tail was admitted longest ago, so with one window length it is the first empty one;
 * mixed lengths may need a few steps. A key with live entries is never evicted. */
static bool evict_one(struct window_table *t, int64_t now)
{
	struct window *w = t->lru_tail;
	for (int steps = 0; w && steps < EVICT_SCAN; steps++, w = w->lru_prev) {
		if (!w->pinned && window_empty(w, now)) {
			window_free(t, w);
			return true;
		}
	}
	return false;
}

/* A new key goes to the LRU tail: until it admits something it is the first to go. */
static struct window *table_insert(struct window_table *t, const char *key, uint64_t hash,
                                   int64_t now)
{
	if (t->n_keys >= t->max_keys && !evict_one(t, now))
		return NULL;
	size_t len = strlen(key);
	struct window *w = calloc(1, sizeof *w + len + 1);
	if (!w)
		return NULL;
	memcpy(w->key, key, len + 1);
	w->hash = hash;
	w->bucket_next = t->buckets[hash & t->mask];
	t->buckets[hash & t->mask] = w;
	lru_push_back(t, w);
	t->n_keys++;
	return w;
}

/* Reallocates the ring to `cap` slots (>= count), oldest first. Returns 0 or -1. */
static int ring_resize(struct window_table *t, struct window *w, uint32_t cap)
{
	int64_t *ring = NULL;
	if (cap > 0) {
		ring = malloc((size_t)cap * sizeof *ring);
		if (!ring)
			return -1;
		for (uint32_t i = 0; i < w->count; i++)
			ring[i] = ring_at(w, i);
	}
	free(w->ring);
	t->entries = t->entries - w->cap + cap;
	w->ring = ring;
	w->cap = cap;
	w->head = 0;
	return 0;
}

/* Drops the admissions that left the window, and gives back memory a quiet key holds. */
static void window_trim(struct window_table *t, struct window *w, int64_t now)
{
	int64_t cutoff = now - (int64_t)w->window_ms;
	while (w->count > 0 && w->ring[w->head] <= cutoff) {
		w->head = (w->head + 1) % w->cap;
		w->count--;
	}
	if (w->count == 0 && w->cap > 0)
		ring_resize(t, w, 0); /* cannot fail when shrinking to nothing */
	else if (w->cap > 4 * RING_MIN && w->count <= w->cap / 4)
		(void)ring_resize(t, w, w->cap / 2); /* on failure the larger ring stays: still right */
}

/* Room for one more admission, within the table's budget of ring slots. */
static int window_reserve(struct window_table *t, struct window *w, uint32_t limit, int64_t now)
{
	if (w->count < w->cap)
		return 0;
	uint64_t want = w->cap ? (uint64_t)w->cap * 2 : RING_MIN;
	if (want > limit)
		want = limit;
	if (want <= w->count)
		want = (uint64_t)w->count + 1;
	while (t->entries + ((size_t)want - w->cap) > t->max_entries && evict_one(t, now))
		;
	/* Near the budget, grow by what is left rather than refuse while slots remain. */
	if (t->entries + ((size_t)want - w->cap) > t->max_entries)
		want = w->cap + (t->max_entries > t->entries ? t->max_entries - t->entries : 0);
	if (want <= w->count)
		return -1;
	return ring_resize(t, w, (uint32_t)want);
}

static void window_push(struct window *w, int64_t now)
{
	w->ring[(w->head + w->count) % w->cap] = now;
	w->count++;
}

/* ---- the limiter ---- */

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP };

/* One request's windows, as both deciders need them. */
struct check {
	size_t n;
	char keys[LIMITER_MAX_RULES][LIMITER_KEY_MAX];
	uint32_t limit[LIMITER_MAX_RULES];
	uint32_t window_ms[LIMITER_MAX_RULES];
};

/* A check sent to Redis, waiting for its reply. Freed only in its reply callback, which
 * hiredis always calls: with the reply, or with NULL when the link goes away. */
struct pending {
	struct pending *prev, *next; /* l->oldest .. l->newest, in sending order */
	struct limiter *l;
	limiter_cb cb;
	void *arg;
	int64_t sent_ms;
	bool retried;                /* NOSCRIPT already answered by reloading */
	char member[48];
	struct check c;
};

struct limiter {
	struct limiter_config cfg;
	struct event_base *base;
	struct window_table table;
	struct limiter_stats stats;
	bool redis;                  /* configured */
	bool closing;                /* limiter_free under way: no callbacks */
	/* The Redis link. */
	redisAsyncContext *ctx;      /* NULL when down */
	enum link_state link;
	char sha[SCRIPT_SHA_LEN + 1];
	int64_t connect_started_ms;
	int64_t next_attempt_ms;
	uint32_t backoff_ms;
	bool reply_error_logged;     /* one unexpected reply logged per link */
	struct event *reconnect_ev;
	struct event *watchdog_ev;
	struct pending *oldest, *newest;
	/* Unique members: this process's random prefix and a counter. */
	char member_prefix[17];
	uint64_t member_counter;
};

static int64_t monotonic_ms(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct limiter *l)
{
	return l->cfg.clock(l->cfg.clock_arg);
}

static uint32_t ceil_seconds(uint64_t ms)
{
	uint64_t s = (ms + 999) / 1000;
	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static uint32_t clamp_u32(int64_t v)
{
	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void limiter_config_defaults(struct limiter_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->requests = LIMITER_DEFAULT_REQUESTS;
	cfg->window_ms = LIMITER_DEFAULT_WINDOW_MS;
	cfg->max_keys = LIMITER_DEFAULT_MAX_KEYS;
	cfg->max_entries = LIMITER_DEFAULT_MAX_ENTRIES;
	cfg->redis_port = 6379;
	cfg->fail_mode = LIMITER_FAIL_CLOSED;
	cfg->redis_timeout_ms = LIMITER_DEFAULT_TIMEOUT_MS;
	cfg->backoff_min_ms = 100;
	cfg->backoff_max_ms = 5000;
}

__attribute__((format(printf, 3, 4)))
static int report(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* An optional integer member in min..max. */
static int json_uint(const json_t *obj, const char *key, json_int_t min, json_int_t max,
                     json_int_t *out, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return report(err, errlen, "%s.%s: must be an integer in %" JSON_INTEGER_FORMAT "..%"
		              JSON_INTEGER_FORMAT, where, key, min, max);
	*out = json_integer_value(v);
	return 0;
}

static int json_text(const json_t *obj, const char *key, char *out, size_t cap,
                     const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return report(err, errlen, "%s.%s: must be a string of at most %zu bytes", where, key,
		              cap - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int limiter_config_from_json(const json_t *root, struct limiter_config *cfg, char *err,
                             size_t errlen)
{
	json_t *auth = json_object_get(root, "auth");
	json_t *rate = json_object_get(auth, "rate_limit");
	json_t *redis = json_object_get(auth, "redis");
	json_int_t v;

	v = cfg->requests;
	if (json_uint(rate, "requests", 1, 1000000, &v, "auth.rate_limit", err, errlen) < 0)
		return -1;
	cfg->requests = (uint32_t)v;
	v = cfg->window_ms / 1000;
	if (json_uint(rate, "window_seconds", 1, 86400, &v, "auth.rate_limit", err, errlen) < 0)
		return -1;
	cfg->window_ms = (uint32_t)v * 1000;
	if (!redis)
		return 0;
	if (!json_is_object(redis) || !json_is_string(json_object_get(redis, "host")))
		return report(err, errlen, "auth.redis: must be an object with \"host\"");
	if (json_text(redis, "host", cfg->redis_host, sizeof cfg->redis_host, "auth.redis", err,
	              errlen) < 0 || !cfg->redis_host[0])
		return report(err, errlen, "auth.redis.host: must be a non-empty string");
	v = cfg->redis_port;
	if (json_uint(redis, "port", 1, 65535, &v, "auth.redis", err, errlen) < 0)
		return -1;
	cfg->redis_port = (uint16_t)v;
	v = cfg->redis_db;
	if (json_uint(redis, "db", 0, 65535, &v, "auth.redis", err, errlen) < 0)
		return -1;
	cfg->redis_db = (uint32_t)v;
	if (json_text(redis, "password", cfg->redis_password, sizeof cfg->redis_password,
	              "auth.redis", err, errlen) < 0)
		return -1;
	json_t *mode = json_object_get(redis, "fail_mode");
	if (mode) {
		const char *m = json_string_value(mode);
		if (m && strcmp(m, "closed") == 0)
			cfg->fail_mode = LIMITER_FAIL_CLOSED;
		else if (m && strcmp(m, "local") == 0)
			cfg->fail_mode = LIMITER_FAIL_LOCAL;
		else
			return report(err, errlen, "auth.redis.fail_mode: must be \"closed\" or \"local\"");
	}
	return 0;
}

/* ---- keys ---- */

static bool key_part_plain(const char *s, size_t len)
{
	if (len == 0 || len > KEY_PART_MAX || s[0] == '#')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}')
			return false;
	}
	return true;
}

/* Appends a component as is, or "#" + the SHA-256 hex of it. */
static int key_part(char *out, size_t cap, size_t *used, const char *s)
{
	size_t len = strlen(s);
	if (key_part_plain(s, len)) {
		if (*used + len >= cap)
			return -1;
		memcpy(out + *used, s, len);
		*used += len;
		out[*used] = '\0';
		return 0;
	}
	unsigned char digest[32];
	if (mbedtls_sha256_ret((const unsigned char *)s, len, digest, 0) != 0 ||
	    *used + 1 + 2 * sizeof digest >= cap)
		return -1;
	out[(*used)++] = '#';
	for (size_t i = 0; i < sizeof digest; i++) {
		snprintf(out + *used, 3, "%02x", digest[i]);
		*used += 2;
	}
	return 0;
}

int limiter_key(const char *principal, const char *scope, char out[LIMITER_KEY_MAX])
{
	size_t used = sizeof KEY_PREFIX; /* with the '{' */
	memcpy(out, KEY_PREFIX "{", used + 1);
	if (key_part(out, LIMITER_KEY_MAX, &used, principal) < 0 || used + 2 >= LIMITER_KEY_MAX)
		return -1;
	out[used++] = '}';
	out[used] = '\0';
	if (scope) {
		out[used++] = ':';
		out[used] = '\0';
		if (key_part(out, LIMITER_KEY_MAX, &used, scope) < 0)
			return -1;
	}
	return (int)used;
}

/* ---- verdicts ---- */

static void verdict_unavailable(struct limit_verdict *v, const struct check *c, uint64_t retry_ms,
                                const char *reason, int64_t now)
{
	memset(v, 0, sizeof *v);
	v->outcome = LIMIT_UNAVAILABLE;
	v->limit = c->limit[0];
	v->retry_after_ms = v->reset_ms = retry_ms;
	v->retry_after_s = v->reset_s = ceil_seconds(retry_ms < 1000 ? 1000 : retry_ms);
	v->decided_ms = now;
	v->reason = reason;
}

static void deliver(struct limiter *l, const struct limit_verdict *v, limiter_cb cb, void *arg)
{
	switch (v->outcome) {
	case LIMIT_ALLOW:
		l->stats.allowed++;
		break;
	case LIMIT_DENY:
		l->stats.denied++;
		break;
	case LIMIT_UNAVAILABLE:
		l->stats.unavailable++;
		break;
	}
	cb(v, arg);
}

int limit_verdict_status(const struct limit_verdict *v)
{
	return v->outcome == LIMIT_DENY ? 429 : v->outcome == LIMIT_UNAVAILABLE ? 503 : 0;
}

static int set_header(json_t *headers, const char *name, uint64_t value)
{
	char text[24];
	snprintf(text, sizeof text, "%" PRIu64, value);
	return json_object_set_new(headers, name, json_string(text));
}

int limit_verdict_headers(const struct limit_verdict *v, json_t *headers)
{
	int rc = 0;
	/* Without a decision there is no window to describe, only when to come back. */
	if (v->outcome != LIMIT_UNAVAILABLE) {
		rc |= set_header(headers, "RateLimit-Limit", v->limit);
		rc |= set_header(headers, "RateLimit-Remaining", v->remaining);
		rc |= set_header(headers, "RateLimit-Reset", v->reset_s);
	}
	if (v->outcome != LIMIT_ALLOW)
		rc |= set_header(headers, "Retry-After", v->retry_after_s);
	return rc ? -1 : 0;
}

/* ---- the embedded decision ---- */

static void unpin(struct window **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i])
			w[i]->pinned = false;
}

/* The oldest admission still blocking: when it leaves, the window has room again. */
static int64_t wait_for_room(const struct window *w, uint32_t limit, uint32_t window_ms, int64_t now)
{
	return ring_at(w, w->count - limit) + (int64_t)window_ms - now;
}

static void embedded_decide(struct limiter *l, const struct check *c, struct limit_verdict *v)
{
	struct window_table *t = &l->table;
	struct window *w[LIMITER_MAX_RULES] = { 0 };
	int64_t now = now_ms(l);
	size_t i;

	/* Pin the existing keys first, so that making room for a new one cannot evict them. */
	for (i = 0; i < c->n; i++) {
		w[i] = table_find(t, c->keys[i], key_hash(t, c->keys[i]));
		if (w[i])
			w[i]->pinned = true;
	}
	for (i = 0; i < c->n; i++) {
		if (!w[i])
			w[i] = table_insert(t, c->keys[i], key_hash(t, c->keys[i]), now);
		if (!w[i]) {
			uint64_t retry = t->lru_tail && !window_empty(t->lru_tail, now) ?
			                 (uint64_t)(ring_newest(t->lru_tail) + t->lru_tail->window_ms - now) : 1000;
			verdict_unavailable(v, c, retry, "the rate limiter is tracking too many clients; "
			                    "retry shortly", now);
			unpin(w, c->n);
			return;
		}
		w[i]->pinned = true;
		w[i]->window_ms = c->window_ms[i];
		window_trim(t, w[i], now);
	}

	memset(v, 0, sizeof *v);
	v->decided_ms = now;
	int64_t wait = -1;
	for (i = 0; i < c->n; i++) {
		if (w[i]->count < c->limit[i])
			continue;
		int64_t left = wait_for_room(w[i], c->limit[i], c->window_ms[i], now);
		if (left > wait) {
			wait = left;
			v->rule = i;
		}
	}
	if (wait >= 0) {
		v->outcome = LIMIT_DENY;
		v->limit = c->limit[v->rule];
		v->reset_ms = v->retry_after_ms = (uint64_t)wait;
		v->reset_s = ceil_seconds(v->reset_ms);
		v->retry_after_s = v->reset_s ? v->reset_s : 1;
		v->reason = "rate limit exceeded";
		unpin(w, c->n);
		return;
	}
	for (i = 0; i < c->n; i++) {
		if (window_reserve(t, w[i], c->limit[i], now) < 0) {
			verdict_unavailable(v, c, 1000, "the rate limiter is out of memory for new "
			                    "requests; retry shortly", now);
			unpin(w, c->n);
			return;
		}
	}
	uint32_t least = UINT32_MAX;
	for (i = 0; i < c->n; i++) {
		window_push(w[i], now);
		lru_unlink(t, w[i]);
		lru_push_front(t, w[i]);
		uint32_t left = c->limit[i] - w[i]->count;
		if (left < least) {
			least = left;
			v->rule = i;
		}
	}
	v->outcome = LIMIT_ALLOW;
	v->limit = c->limit[v->rule];
	v->remaining = least;
	v->reset_ms = (uint64_t)(ring_at(w[v->rule], 0) + c->window_ms[v->rule] - now);
	v->reset_s = ceil_seconds(v->reset_ms);
	v->reason = "within the rate limit";
	unpin(w, c->n);
}

/* ---- the Redis link ---- */

static void start_connect(struct limiter *l);

static void schedule_reconnect(struct limiter *l)
{
	if (l->closing || event_pending(l->reconnect_ev, EV_TIMEOUT, NULL))
		return;
	struct timeval tv = { .tv_sec = l->backoff_ms / 1000,
	                      .tv_usec = (suseconds_t)(l->backoff_ms % 1000) * 1000 };
	l->next_attempt_ms = now_ms(l) + l->backoff_ms;
	event_add(l->reconnect_ev, &tv);
	l->backoff_ms = l->backoff_ms >= l->cfg.backoff_max_ms / 2 ? l->cfg.backoff_max_ms
	                                                           : l->backoff_ms * 2;
}

/* Closes our side of the link: every pending check gets its NULL reply (and its fail-mode
 * verdict) before this returns, or, from inside a hiredis callback, right after it returns. */
static void drop_link(struct limiter *l, const char *reason)
{
	redisAsyncContext *ac = l->ctx;
	if (!ac)
		return;
	l->ctx = NULL;
	l->link = LINK_DOWN;
	if (!l->closing) {
		log_warn("redis_down", LOG_STR("reason", reason), LOG_STR("host", l->cfg.redis_host),
		         LOG_INT("port", l->cfg.redis_port), LOG_INT("retry_in_ms", l->backoff_ms),
		         LOG_STR("fail_mode", l->cfg.fail_mode == LIMITER_FAIL_LOCAL ? "local" : "closed"));
		schedule_reconnect(l);
	}
	redisAsyncFree(ac);
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_connect(arg);
}

static void arm_watchdog(struct limiter *l)
{
	int64_t deadline = INT64_MAX;
	if (l->ctx && l->link == LINK_CONNECTING)
		deadline = l->connect_started_ms + l->cfg.redis_timeout_ms;
	if (l->oldest && l->oldest->sent_ms + l->cfg.redis_timeout_ms < deadline)
		deadline = l->oldest->sent_ms + l->cfg.redis_timeout_ms;
	if (deadline == INT64_MAX || event_pending(l->watchdog_ev, EV_TIMEOUT, NULL))
		return;
	int64_t delay = deadline - now_ms(l);
	if (delay < 1)
		delay = 1;
	struct timeval tv = { .tv_sec = delay / 1000, .tv_usec = (suseconds_t)(delay % 1000) * 1000 };
	event_add(l->watchdog_ev, &tv);
}

/* hiredis 0.14 has no timeouts for async connects or replies: a stalled Redis (or a black
 * hole on the way) would hold requests forever, so overdue work means the link is down. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct limiter *l = arg;
	int64_t now = now_ms(l);
	if (l->ctx && l->link == LINK_CONNECTING &&
	    now - l->connect_started_ms >= l->cfg.redis_timeout_ms)
		drop_link(l, "connect or handshake timed out");
	else if (l->oldest && now - l->oldest->sent_ms >= l->cfg.redis_timeout_ms)
		drop_link(l, "reply timed out");
	arm_watchdog(l);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct limiter *l = ac->data;
	if (ac != l->ctx || status == REDIS_OK)
		return;
	/* hiredis frees the context after this callback. */
	l->ctx = NULL;
	l->link = LINK_DOWN;
	log_warn("redis_connect_failed", LOG_STR("host", l->cfg.redis_host),
	         LOG_INT("port", l->cfg.redis_port), LOG_STR("error", ac->errstr),
	         LOG_INT("retry_in_ms", l->backoff_ms));
	schedule_reconnect(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	struct limiter *l = ac->data;
	if (ac != l->ctx)
		return; /* a link we dropped ourselves */
	l->ctx = NULL;
	l->link = LINK_DOWN;
	log_warn("redis_down", LOG_STR("reason", ac->errstr[0] ? ac->errstr : "connection closed"),
	         LOG_STR("host", l->cfg.redis_host), LOG_INT("port", l->cfg.redis_port),
	         LOG_INT("retry_in_ms", l->backoff_ms),
	         LOG_STR("fail_mode", l->cfg.fail_mode == LIMITER_FAIL_LOCAL ? "local" : "closed"));
	schedule_reconnect(l);
}

/* AUTH and SELECT: anything but OK ends this attempt. The reply text is Redis's own
 * (it never repeats the password). */
static void on_handshake_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct limiter *l = privdata;
	redisReply *reply = r;
	if (!reply || ac != l->ctx)
		return;
	if (reply->type == REDIS_REPLY_STATUS)
		return;
	log_error("redis_handshake_refused",
	          LOG_STR("error", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"),
	          LOG_STR("hint", "check auth.redis.password and auth.redis.db"));
	drop_link(l, "handshake refused");
}

static bool is_sha(const redisReply *reply)
{
	if (reply->type != REDIS_REPLY_STRING || reply->len != SCRIPT_SHA_LEN)
		return false;
	for (size_t i = 0; i < SCRIPT_SHA_LEN; i++)
		if (!strchr("0123456789abcdef", reply->str[i]) || !reply->str[i])
			return false;
	return true;
}

/* SCRIPT LOAD, at connect and after NOSCRIPT. The first one completes the handshake. */
static void on_script_loaded(redisAsyncContext *ac, void *r, void *privdata)
{
	struct limiter *l = privdata;
	redisReply *reply = r;
	if (!reply || ac != l->ctx)
		return;
	if (!is_sha(reply)) {
		log_error("redis_script_load_failed",
		          LOG_STR("error", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
		drop_link(l, "SCRIPT LOAD failed");
		return;
	}
	memcpy(l->sha, reply->str, SCRIPT_SHA_LEN);
	l->sha[SCRIPT_SHA_LEN] = '\0';
	if (l->link == LINK_CONNECTING) {
		l->link = LINK_UP;
		l->backoff_ms = l->cfg.backoff_min_ms;
		l->reply_error_logged = false;
		l->stats.reconnects++;
		log_info("redis_up", LOG_STR("host", l->cfg.redis_host), LOG_INT("port", l->cfg.redis_port),
		         LOG_INT("db", l->cfg.redis_db));
	}
}

static void start_connect(struct limiter *l)
{
	if (l->closing || l->ctx)
		return;
	/* A host name is resolved here, synchronously (hiredis 0.14). */
	redisAsyncContext *ac = redisAsyncConnect(l->cfg.redis_host, l->cfg.redis_port);
	if (!ac || ac->err) {
		log_warn("redis_connect_failed", LOG_STR("host", l->cfg.redis_host),
		         LOG_INT("port", l->cfg.redis_port),
		         LOG_STR("error", ac ? ac->errstr : "out of memory"),
		         LOG_INT("retry_in_ms", l->backoff_ms));
		if (ac)
			redisAsyncFree(ac);
		schedule_reconnect(l);
		return;
	}
	ac->data = l;
	if (redisLibeventAttach(ac, l->base) != REDIS_OK) {
		redisAsyncFree(ac);
		schedule_reconnect(l);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	l->ctx = ac;
	l->link = LINK_CONNECTING;
	l->connect_started_ms = now_ms(l);
	/* Pipelined: they go out once the TCP connect completes, and are answered in order. */
	int rc = REDIS_OK;
	if (l->cfg.redis_password[0])
		rc |= redisAsyncCommand(ac, on_handshake_reply, l, "AUTH %s", l->cfg.redis_password);
	if (l->cfg.redis_db)
		rc |= redisAsyncCommand(ac, on_handshake_reply, l, "SELECT %u", l->cfg.redis_db);
	rc |= redisAsyncCommand(ac, on_script_loaded, l, "SCRIPT LOAD %s", window_script);
	if (rc != REDIS_OK) {
		drop_link(l, "could not queue the handshake");
		return;
	}
	arm_watchdog(l);
}

/* ---- checks through Redis ---- */

static void pending_unlink(struct limiter *l, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		l->oldest = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		l->newest = p->prev;
	p->prev = p->next = NULL;
}

static void pending_append(struct limiter *l, struct pending *p)
{
	p->next = NULL;
	p->prev = l->newest;
	if (l->newest)
		l->newest->next = p;
	else
		l->oldest = p;
	l->newest = p;
}

/* The fail mode's answer while Redis cannot decide. */
static void fallback(struct limiter *l, const struct check *c, struct limit_verdict *v)
{
	if (l->cfg.fail_mode == LIMITER_FAIL_LOCAL) {
		l->stats.local_fallbacks++;
		embedded_decide(l, c, v);
		return;
	}
	int64_t now = now_ms(l);
	int64_t retry = l->link == LINK_DOWN && l->next_attempt_ms > now ? l->next_attempt_ms - now : 0;
	verdict_unavailable(v, c, (uint64_t)retry, "the rate limit store is unavailable; retry shortly",
	                    now);
}

static void on_check_reply(redisAsyncContext *ac, void *r, void *privdata);

static int send_check(struct limiter *l, struct pending *p)
{
	const char *argv[4 + 3 * LIMITER_MAX_RULES];
	size_t argvlen[4 + 3 * LIMITER_MAX_RULES];
	char numbers[2 * LIMITER_MAX_RULES + 1][16];
	int argc = 0;

	snprintf(numbers[0], sizeof numbers[0], "%zu", p->c.n);
	argv[argc++] = "EVALSHA";
	argv[argc++] = l->sha;
	argv[argc++] = numbers[0];
	for (size_t i = 0; i < p->c.n; i++)
		argv[argc++] = p->c.keys[i];
	argv[argc++] = p->member;
	for (size_t i = 0; i < p->c.n; i++) {
		snprintf(numbers[1 + 2 * i], sizeof numbers[0], "%" PRIu32, p->c.limit[i]);
		snprintf(numbers[2 + 2 * i], sizeof numbers[0], "%" PRIu32, p->c.window_ms[i]);
		argv[argc++] = numbers[1 + 2 * i];
		argv[argc++] = numbers[2 + 2 * i];
	}
	for (int i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	return redisAsyncCommandArgv(l->ctx, on_check_reply, p, argc, argv, argvlen);
}

/* {allowed, rule (from 1), remaining, ms, now}: anything else is a broken reply. */
static int read_script_reply(const redisReply *reply, const struct check *c, struct limit_verdict *v)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
		return -1;
	for (size_t i = 0; i < 5; i++)
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return -1;
	long long allowed = reply->element[0]->integer, rule = reply->element[1]->integer;
	long long remaining = reply->element[2]->integer, ms = reply->element[3]->integer;
	if ((allowed != 0 && allowed != 1) || rule < 1 || (size_t)rule > c->n || remaining < 0 || ms < 0)
		return -1;
	memset(v, 0, sizeof *v);
	v->shared = true;
	v->rule = (size_t)rule - 1;
	v->limit = c->limit[v->rule];
	v->remaining = clamp_u32(remaining);
	v->reset_ms = (uint64_t)ms;
	v->reset_s = ceil_seconds(v->reset_ms);
	v->decided_ms = reply->element[4]->integer;
	if (allowed) {
		v->outcome = LIMIT_ALLOW;
		v->reason = "within the rate limit";
	} else {
		v->outcome = LIMIT_DENY;
		v->retry_after_ms = (uint64_t)ms;
		v->retry_after_s = v->reset_s ? v->reset_s : 1;
		v->reason = "rate limit exceeded";
	}
	return 0;
}

/* The script cache is empty (SCRIPT FLUSH, a restart behind a proxy, a failover to a replica
 * that never loaded it): load it again and retry this check once, on the same link. */
static bool retry_after_noscript(struct limiter *l, redisAsyncContext *ac, struct pending *p,
                                 const redisReply *reply)
{
	if (!reply || reply->type != REDIS_REPLY_ERROR || strncmp(reply->str, "NOSCRIPT", 8) != 0 ||
	    p->retried || ac != l->ctx || l->link != LINK_UP)
		return false;
	p->retried = true;
	l->stats.noscript_reloads++;
	log_info("redis_script_reloaded", LOG_STR("reason", "NOSCRIPT: the script cache was emptied"));
	return redisAsyncCommand(ac, on_script_loaded, l, "SCRIPT LOAD %s", window_script) == REDIS_OK &&
	       send_check(l, p) == REDIS_OK;
}

static void on_check_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct pending *p = privdata;
	struct limiter *l = p->l;
	redisReply *reply = r;
	struct limit_verdict v;

	if (retry_after_noscript(l, ac, p, reply))
		return;
	pending_unlink(l, p);
	if (l->closing) {
		free(p);
		return;
	}
	if (!reply && ac == l->ctx)
		l->link = LINK_DOWN; /* going away: checks made from the callbacks fall back */
	if (reply && read_script_reply(reply, &p->c, &v) == 0) {
		l->stats.redis_checks++;
	} else {
		if (reply && !l->reply_error_logged) {
			l->reply_error_logged = true;
			log_error("redis_unexpected_reply",
			          LOG_STR("error", reply->type == REDIS_REPLY_ERROR ? reply->str : "malformed"));
		}
		fallback(l, &p->c, &v);
		/* A replica after a failover: the next connect may reach the new primary. */
		if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "READONLY", 8) == 0)
			drop_link(l, "connected to a read-only replica");
	}
	deliver(l, &v, p->cb, p->arg);
	free(p);
}

/* ---- public ---- */

static int fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct limiter *limiter_new(struct event_base *base, const struct limiter_config *cfg,
                            char *err, size_t errlen)
{
	uint64_t seed[2];
	if (cfg->requests == 0 || cfg->window_ms == 0 || cfg->max_keys == 0 || cfg->max_entries == 0) {
		report(err, errlen, "rate limit: requests, window, max_keys and max_entries must be > 0");
		return NULL;
	}
	bool redis = cfg->redis_host[0] != '\0';
	if (redis && !base) {
		report(err, errlen, "rate limit: Redis needs an event base");
		return NULL;
	}
	if (fill_random(seed, sizeof seed) != 0) {
		report(err, errlen, "rate limit: getrandom: %s", strerror(errno));
		return NULL;
	}
	struct limiter *l = calloc(1, sizeof *l);
	if (!l || table_init(&l->table, cfg->max_keys, cfg->max_entries, seed[0]) != 0) {
		free(l);
		report(err, errlen, "rate limit: out of memory");
		return NULL;
	}
	l->cfg = *cfg;
	if (!l->cfg.clock)
		l->cfg.clock = monotonic_ms;
	if (!l->cfg.redis_timeout_ms)
		l->cfg.redis_timeout_ms = LIMITER_DEFAULT_TIMEOUT_MS;
	if (!l->cfg.backoff_min_ms)
		l->cfg.backoff_min_ms = 100;
	if (l->cfg.backoff_max_ms < l->cfg.backoff_min_ms)
		l->cfg.backoff_max_ms = l->cfg.backoff_min_ms;
	l->backoff_ms = l->cfg.backoff_min_ms;
	l->base = base;
	l->redis = redis;
	snprintf(l->member_prefix, sizeof l->member_prefix, "%016" PRIx64, seed[1]);
	if (redis) {
		l->reconnect_ev = evtimer_new(base, on_reconnect_timer, l);
		l->watchdog_ev = evtimer_new(base, on_watchdog, l);
		if (!l->reconnect_ev || !l->watchdog_ev) {
			limiter_free(l);
			report(err, errlen, "rate limit: out of memory");
			return NULL;
		}
		start_connect(l);
	}
	return l;
}

void limiter_free(struct limiter *l)
{
	if (!l)
		return;
	l->closing = true;
	drop_link(l, "shutting down"); /* frees every pending check, without callbacks */
	if (l->reconnect_ev)
		event_free(l->reconnect_ev);
	if (l->watchdog_ev)
		event_free(l->watchdog_ev);
	table_free(&l->table);
	explicit_bzero(l->cfg.redis_password, sizeof l->cfg.redis_password);
	free(l);
}

static int prepare_check(const char *principal, const struct limiter_rule *rules, size_t n,
                         struct check *c)
{
	if (!principal || !rules || n == 0 || n > LIMITER_MAX_RULES)
		return -1;
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		if (rules[i].limit == 0 || rules[i].window_ms == 0 ||
		    limiter_key(principal, rules[i].scope, c->keys[i]) < 0)
			return -1;
		c->limit[i] = rules[i].limit;
		c->window_ms[i] = rules[i].window_ms;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->keys[i], c->keys[j]) == 0)
				return -1; /* one window counted twice */
	}
	return 0;
}

int limiter_check(struct limiter *l, const char *principal, const struct limiter_rule *rules,
                  size_t n_rules, limiter_cb cb, void *arg)
{
	struct check c;
	struct limit_verdict v;

	if (!l || !cb || prepare_check(principal, rules, n_rules, &c) < 0)
		return -1;
	l->stats.checks++;
	if (!l->redis) {
		embedded_decide(l, &c, &v);
		deliver(l, &v, cb, arg);
		return 0;
	}
	if (l->link != LINK_UP) {
		fallback(l, &c, &v);
		deliver(l, &v, cb, arg);
		return 0;
	}
	struct pending *p = malloc(sizeof *p);
	if (!p) {
		verdict_unavailable(&v, &c, 1000, "out of memory; retry shortly", now_ms(l));
		deliver(l, &v, cb, arg);
		return 0;
	}
	memset(p, 0, offsetof(struct pending, c));
	p->c = c;
	p->l = l;
	p->cb = cb;
	p->arg = arg;
	p->sent_ms = now_ms(l);
	snprintf(p->member, sizeof p->member, "%s:%" PRIu64, l->member_prefix, ++l->member_counter);
	if (send_check(l, p) != REDIS_OK) {
		free(p);
		drop_link(l, "could not queue a command");
		fallback(l, &c, &v);
		deliver(l, &v, cb, arg);
		return 0;
	}
	pending_append(l, p);
	arm_watchdog(l);
	return 0;
}

struct limiter_rule limiter_default_rule(const struct limiter *l)
{
	return (struct limiter_rule){ .scope = NULL, .limit = l->cfg.requests,
	                              .window_ms = l->cfg.window_ms };
}

bool limiter_redis_up(const struct limiter *l)
{
	return l->link == LINK_UP;
}

void limiter_get_stats(const struct limiter *l, struct limiter_stats *out)
{
	*out = l->stats;
	out->keys = l->table.n_keys;
	out->entries = l->table.entries;
}
