/* Unit tests for the ai server's response cache, on a clock the test moves: hits and misses,
 * TTL expiry (at the exact instant), LRU eviction order, the entry and byte bounds,
 * replacement, a disabled cache, and the key's hashing (vectors from python3 hashlib). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../servers/ai/cache.h"

#include "check.h"

static long long now_ms;

static long long test_clock(void)
{
	return now_ms;
}

static void key_of(int n, uint8_t key[AI_CACHE_KEY_LEN])
{
	char text[32];
	snprintf(text, sizeof text, "question %d", n);
	const char *parts[] = { text };
	const size_t lens[] = { strlen(text) };
	ai_cache_key(key, parts, lens, 1);
}

static int put(struct ai_cache *c, int n, const char *text)
{
	uint8_t key[AI_CACHE_KEY_LEN];
	key_of(n, key);
	struct cached_answer a = { .text = (char *)text, .text_len = strlen(text),
	                           .input_tokens = n, .output_tokens = 2 * n, .total_tokens = 3 * n };
	snprintf(a.stop_reason, sizeof a.stop_reason, "end_turn");
	return ai_cache_put(c, key, &a);
}

static const struct cached_answer *get(struct ai_cache *c, int n)
{
	uint8_t key[AI_CACHE_KEY_LEN];
	key_of(n, key);
	return ai_cache_get(c, key);
}

static void test_hit_miss(void)
{
	now_ms = 1000;
	struct ai_cache *c = ai_cache_new(8, 1024, 5000, test_clock);
	CHECK(c != NULL, "cache made");
	CHECK(get(c, 1) == NULL, "empty: miss");
	CHECK(put(c, 1, "one") == 0, "stored");
	const struct cached_answer *a = get(c, 1);
	CHECK(a && strcmp(a->text, "one") == 0 && a->text_len == 3 && a->input_tokens == 1 &&
	      a->output_tokens == 2 && a->total_tokens == 3 && strcmp(a->stop_reason, "end_turn") == 0,
	      "hit gives the copy back");
	CHECK(get(c, 2) == NULL, "another key: miss");
	struct ai_cache_stats st;
	ai_cache_get_stats(c, &st);
	CHECK(st.hits == 1 && st.misses == 2 && st.entries == 1 && st.bytes == 3,
	      "1 hit, 2 misses, 1 entry of 3 bytes (%llu, %llu, %zu, %zu)",
	      (unsigned long long)st.hits, (unsigned long long)st.misses, st.entries, st.bytes);
	ai_cache_free(c);
}

static void test_ttl(void)
{
	now_ms = 50000;
	struct ai_cache *c = ai_cache_new(8, 1024, 300000, test_clock);
	put(c, 1, "one");
	now_ms += 299999;
	CHECK(get(c, 1) != NULL, "fresh 1 ms before the TTL");
	now_ms += 1;
	CHECK(get(c, 1) == NULL, "expired at exactly the TTL");
	struct ai_cache_stats st;
	ai_cache_get_stats(c, &st);
	CHECK(st.expirations == 1 && st.entries == 0 && st.bytes == 0 && st.misses == 1,
	      "the expired entry was dropped and counted");
	/* A hit does not extend the life: the TTL runs from the store. */
	put(c, 2, "two");
	now_ms += 200000;
	CHECK(get(c, 2) != NULL, "hit at 200 s");
	now_ms += 100000;
	CHECK(get(c, 2) == NULL, "expired at 300 s despite the hit");
	/* Storing again restarts the TTL. */
	put(c, 3, "three");
	now_ms += 250000;
	put(c, 3, "three again");
	now_ms += 250000;
	const struct cached_answer *a = get(c, 3);
	CHECK(a && strcmp(a->text, "three again") == 0, "a replaced entry lives from its new store");
	ai_cache_free(c);
}

static void test_lru(void)
{
	now_ms = 0;
	struct ai_cache *c = ai_cache_new(3, 1024, 1000000, test_clock);
	put(c, 1, "a");
	put(c, 2, "b");
	put(c, 3, "c");
	CHECK(get(c, 1) != NULL, "1 used: now the newest");
	put(c, 4, "d");
	CHECK(get(c, 2) == NULL, "2, least recently used, was evicted");
	CHECK(get(c, 1) && get(c, 3) && get(c, 4), "1, 3 and 4 stay");
	struct ai_cache_stats st;
	ai_cache_get_stats(c, &st);
	CHECK(st.entries == 3 && st.evictions == 1, "3 entries, 1 eviction");
	/* Order now (newest first): 4, 3, 1 -> 1 goes next. */
	put(c, 5, "e");
	CHECK(get(c, 1) == NULL && get(c, 3) && get(c, 4) && get(c, 5), "then 1 goes");
	ai_cache_free(c);

	c = ai_cache_new(100, 1u << 20, 1000000, test_clock);
	int stored = 0;
	for (int i = 0; i < 1000; i++)
		stored += put(c, i, "xyz") == 0;
	ai_cache_get_stats(c, &st);
	CHECK(stored == 1000 && st.entries == 100 && st.evictions == 900 && st.bytes == 300,
	      "1000 stores into 100 entries: %zu entries, %llu evictions", st.entries,
	      (unsigned long long)st.evictions);
	int present = 0;
	for (int i = 0; i < 1000; i++)
		present += get(c, i) != NULL;
	CHECK(present == 100 && get(c, 999) && !get(c, 899), "exactly the last 100 are there");
	ai_cache_free(c);
}

static void test_bytes(void)
{
	now_ms = 0;
	struct ai_cache *c = ai_cache_new(10, 10, 1000, test_clock);
	CHECK(put(c, 1, "123456") == 0 && put(c, 2, "abcdef") == 0, "two 6-byte answers stored");
	struct ai_cache_stats st;
	ai_cache_get_stats(c, &st);
	CHECK(st.entries == 1 && st.bytes == 6 && get(c, 1) == NULL && get(c, 2),
	      "the byte bound evicted the first");
	CHECK(put(c, 3, "0123456789x") == 1, "an answer over max_bytes is not stored");
	CHECK(get(c, 3) == NULL && get(c, 2), "and evicted nothing");
	CHECK(put(c, 4, "0123456789") == 0, "exactly max_bytes fits");
	ai_cache_get_stats(c, &st);
	CHECK(st.entries == 1 && st.bytes == 10, "alone");
	CHECK(put(c, 4, "") == 0, "replace with an empty answer");
	ai_cache_get_stats(c, &st);
	const struct cached_answer *a = get(c, 4);
	CHECK(st.entries == 1 && st.bytes == 0 && a && a->text_len == 0 && a->text[0] == '\0',
	      "replacement keeps one entry and its new size");
	ai_cache_free(c);
}

static void test_disabled_and_args(void)
{
	struct ai_cache *c = ai_cache_new(0, 1024, 1000, test_clock);
	CHECK(c != NULL, "an entries-0 cache is made");
	CHECK(put(c, 1, "x") == 1 && get(c, 1) == NULL, "it keeps nothing");
	struct ai_cache_stats st;
	ai_cache_get_stats(c, &st);
	CHECK(st.hits == 0 && st.misses == 0 && st.entries == 0, "and counts nothing");
	ai_cache_free(c);
	CHECK(ai_cache_new(AI_CACHE_ENTRIES_MAX + 1, 1024, 1000, NULL) == NULL, "too many entries");
	CHECK(ai_cache_new(4, 1024, 0, NULL) == NULL, "a TTL of 0");
	ai_cache_get_stats(NULL, &st);
	CHECK(st.hits == 0 && st.entries == 0, "stats of no cache are zero");
	c = ai_cache_new(2, 1024, 1000, NULL);
	CHECK(c && put(c, 1, "real clock") == 0 && get(c, 1), "the default clock works");
	ai_cache_free(c);
	ai_cache_free(NULL);
}

static void hex(const uint8_t *k, char *out)
{
	for (int i = 0; i < AI_CACHE_KEY_LEN; i++)
		sprintf(out + 2 * i, "%02x", k[i]);
}

static void test_key(void)
{
	uint8_t k1[AI_CACHE_KEY_LEN], k2[AI_CACHE_KEY_LEN];
	char h[2 * AI_CACHE_KEY_LEN + 1];
	const char *empty[] = { "" };
	const size_t empty_len[] = { 0 };
	ai_cache_key(k1, empty, empty_len, 1);
	hex(k1, h);
	/* sha256(8 zero bytes): the length prefix of one empty part. */
	CHECK(strcmp(h, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc") == 0,
	      "one empty part: %s", h);
	const char *p1[] = { "abc", "d" };
	const size_t l1[] = { 3, 1 };
	ai_cache_key(k1, p1, l1, 2);
	hex(k1, h);
	CHECK(strcmp(h, "dd36d2bbd52a75ae1af694f0ab93b3146275934cb55376cc53c608d7ab10bf86") == 0,
	      "\"abc\",\"d\": %s", h);
	const char *p2[] = { "ab", "cd" };
	const size_t l2[] = { 2, 2 };
	ai_cache_key(k2, p2, l2, 2);
	CHECK(memcmp(k1, k2, sizeof k1) != 0, "the same bytes split differently give another key");
	const char *p3[] = { "abc", "d", "" };
	const size_t l3[] = { 3, 1, 0 };
	ai_cache_key(k2, p3, l3, 3);
	CHECK(memcmp(k1, k2, sizeof k1) != 0, "an extra empty part gives another key");
}

int main(void)
{
	test_hit_miss();
	test_ttl();
	test_lru();
	test_bytes();
	test_disabled_and_args();
	test_key();
	return check_finish();
}
