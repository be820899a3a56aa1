/* The ai server's response cache: answers keyed by a SHA-256 of everything that shapes them,
 * bounded in entries and bytes, each kept for a TTL, least recently used evicted first. Pure
 * apart from its clock, which tests replace. */
#ifndef MCPGATE_AI_CACHE_H
#define MCPGATE_AI_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AI_CACHE_KEY_LEN 32
#define AI_CACHE_ENTRIES_MAX 4096
#define AI_CACHE_STOP_REASON_MAX 64

/* Milliseconds on a clock that never goes back. */
typedef long long (*ai_clock_fn)(void);

/* What a cached answer holds. */
struct cached_answer {
	char *text; /* NUL-terminated */
	size_t text_len;
	char stop_reason[AI_CACHE_STOP_REASON_MAX];
	long long input_tokens, output_tokens, total_tokens;
};

struct ai_cache_stats {
	uint64_t hits, misses, evictions, expirations;
	size_t entries, bytes;
};

struct ai_cache;

/* max_entries 0 gives a cache that keeps nothing (and counts nothing). max_bytes bounds the
 * answers' text held in total; ttl_ms > 0. clock NULL: CLOCK_MONOTONIC. NULL on bad
 * arguments or no memory. */
struct ai_cache *ai_cache_new(size_t max_entries, size_t max_bytes, long long ttl_ms,
                              ai_clock_fn clock);
void ai_cache_free(struct ai_cache *c);

/* The fresh answer under `key` (a hit: it becomes the most recently used), or NULL (a miss;
 * an expired entry is dropped). The answer stays valid until the next put or free. */
const struct cached_answer *ai_cache_get(struct ai_cache *c, const uint8_t key[AI_CACHE_KEY_LEN]);

/* Stores a copy of `a` under `key`, replacing any entry there and evicting the least recently
 * used ones until the bounds hold. Returns 0; 1 when the answer alone is over max_bytes (or
 * the cache keeps nothing) and was not stored; -1 when memory ran out. */
int ai_cache_put(struct ai_cache *c, const uint8_t key[AI_CACHE_KEY_LEN],
                 const struct cached_answer *a);

void ai_cache_get_stats(const struct ai_cache *c, struct ai_cache_stats *out);

/* SHA-256 over the parts, each preceded by its length, so that no two different lists of
 * parts give the same input ("ab"+"c" vs "a"+"bc"). */
void ai_cache_key(uint8_t out[AI_CACHE_KEY_LEN], const char *const *parts, const size_t *lens,
                  size_t n);

#endif
