/* The ai server's response cache: a hash table of answers by SHA-256 key, threaded on a
 * least-recently-used list; bounded in entries and in bytes of text, each entry good for a TTL. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

struct entry {
	uint8_t key[AI_CACHE_KEY_LEN];
	struct cached_answer answer;
	long long expires_ms;
	struct entry *chain;           /* next in the same bucket */
	struct entry *newer, *older;   /* the LRU list */
};

struct ai_cache {
	size_t max_entries, max_bytes;
	long long ttl_ms;
	ai_clock_fn clock;
	struct entry **buckets;
	size_t n_buckets; /* a power of two */
	struct entry *newest, *oldest;
	struct ai_cache_stats stats;
};

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ai_cache *ai_cache_new(size_t max_entries, size_t max_bytes, long long ttl_ms,
                              ai_clock_fn clock)
{
	if (max_entries > AI_CACHE_ENTRIES_MAX || ttl_ms <= 0)
		return NULL;
	struct ai_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->ttl_ms = ttl_ms;
	c->clock = clock ? clock : monotonic_ms;
	/* Twice the entries keeps chains short; the key is already uniformly distributed. */
	c->n_buckets = 1;
	while (c->n_buckets < 2 * max_entries)
		c->n_buckets <<= 1;
	c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

static size_t bucket_of(const struct ai_cache *c, const uint8_t key[AI_CACHE_KEY_LEN])
{
	size_t h;
	memcpy(&h, key, sizeof h);
	return h & (c->n_buckets - 1);
}

static void lru_unlink(struct ai_cache *c, struct entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(struct ai_cache *c, struct entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	c->newest = e;
	if (!c->oldest)
		c->oldest = e;
}

static struct entry **slot_of(struct ai_cache *c, const uint8_t key[AI_CACHE_KEY_LEN])
{
	struct entry **p = &c->buckets[bucket_of(c, key)];
	while (*p && memcmp((*p)->key, key, AI_CACHE_KEY_LEN) != 0)
		p = &(*p)->chain;
	return p;
}

static void entry_drop(struct ai_cache *c, struct entry *e)
{
	struct entry **p = slot_of(c, e->key);
	if (*p == e)
		*p = e->chain;
	lru_unlink(c, e);
	c->stats.entries--;
	c->stats.bytes -= e->answer.text_len;
	free(e->answer.text);
	free(e);
}

void ai_cache_free(struct ai_cache *c)
{
	if (!c)
		return;
	while (c->oldest)
		entry_drop(c, c->oldest);
	free(c->buckets);
	free(c);
}

const struct cached_answer *ai_cache_get(struct ai_cache *c, const uint8_t key[AI_CACHE_KEY_LEN])
{
	if (!c || c->max_entries == 0)
		return NULL;
	struct entry *e = *slot_of(c, key);
	if (e && c->clock() >= e->expires_ms) {
		entry_drop(c, e);
		c->stats.expirations++;
		e = NULL;
	}
	if (!e) {
		c->stats.misses++;
		return NULL;
	}
	c->stats.hits++;
	lru_unlink(c, e);
	lru_push_newest(c, e);
	return &e->answer;
}

int ai_cache_put(struct ai_cache *c, const uint8_t key[AI_CACHE_KEY_LEN],
                 const struct cached_answer *a)
{
	if (!c || c->max_entries == 0 || a->text_len > c->max_bytes)
		return 1;
	struct entry *old = *slot_of(c, key);
	if (old)
		entry_drop(c, old);
	while (c->oldest && (c->stats.entries >= c->max_entries ||
	                     c->stats.bytes + a->text_len > c->max_bytes)) {
		entry_drop(c, c->oldest);
		c->stats.evictions++;
	}
	struct entry *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->answer = *a;
	e->answer.text = malloc(a->text_len + 1);
	if (!e->answer.text) {
		free(e);
		return -1;
	}
	memcpy(e->answer.text, a->text, a->text_len);
	e->answer.text[a->text_len] = '\0';
	e->answer.stop_reason[AI_CACHE_STOP_REASON_MAX - 1] = '\0';
	memcpy(e->key, key, AI_CACHE_KEY_LEN);
	e->expires_ms = c->clock() + c->ttl_ms;
	struct entry **slot = slot_of(c, key);
	*slot = e;
	lru_push_newest(c, e);
	c->stats.entries++;
	c->stats.bytes += a->text_len;
	return 0;
}

void ai_cache_get_stats(const struct ai_cache *c, struct ai_cache_stats *out)
{
	if (!c) {
		memset(out, 0, sizeof *out);
		return;
	}
	*out = c->stats;
}

void ai_cache_key(uint8_t out[AI_CACHE_KEY_LEN], const char *const *parts, const size_t *lens,
                  size_t n)
{
	mbedtls_sha256_context ctx;
	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t len[8];
		for (int b = 0; b < 8; b++)
			len[b] = (uint8_t)((uint64_t)lens[i] >> (56 - 8 * b));
		mbedtls_sha256_update_ret(&ctx, len, sizeof len);
		mbedtls_sha256_update_ret(&ctx, (const unsigned char *)parts[i], lens[i]);
	}
	mbedtls_sha256_finish_ret(&ctx, out);
	mbedtls_sha256_free(&ctx);
}
