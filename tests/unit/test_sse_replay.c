/* Unit tests for the SSE replay ring: exact event text, line splitting, count and byte
 * bounds, replay after drops, and the strict Last-Event-ID parser. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_replay.h"

#include "check.h"

/* What sse_replay_since emitted: the seqs in order and the bytes in total. */
struct collected {
	uint64_t seqs[64];
	size_t n;
	size_t bytes;
	int bad;
};

static void collect(const char *event, size_t len, void *arg)
{
	struct collected *c = arg;
	uint64_t key, seq;
	const char *nl = memchr(event, '\n', len);
	if (len < 4 || memcmp(event, "id: ", 4) != 0 || !nl ||
	    sse_parse_event_id(event + 4, (size_t)(nl - event - 4), &key, &seq) != 0 ||
	    c->n == sizeof c->seqs / sizeof c->seqs[0]) {
		c->bad++;
		return;
	}
	c->seqs[c->n++] = seq;
	c->bytes += len;
}

/* Replays since seq; returns the status and fills c. */
static int since(const struct sse_replay *r, uint64_t seq, struct collected *c)
{
	memset(c, 0, sizeof *c);
	return sse_replay_since(r, seq, collect, c);
}

static bool seqs_are(const struct collected *c, uint64_t first, size_t n)
{
	if (c->bad || c->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (c->seqs[i] != first + i)
			return false;
	return true;
}

static bool text_is(const char *out, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(out, want, len) == 0 && out[len] == '\0';
}

static void test_format(void)
{
	struct sse_replay *r = sse_replay_new(42, 8, 4096);
	CHECK(r != NULL && sse_replay_key(r) == 42, "ring created with its key");
	const char *out;
	size_t len;
	uint64_t seq = sse_replay_append(r, NULL, "{\"a\":1}", 7, &out, &len);
	CHECK(seq == 1 && text_is(out, len, "id: 42-1\nevent: message\ndata: {\"a\":1}\n\n"),
	      "first event: seq 1, default name, exact text");
	seq = sse_replay_append(r, "custom", "x", 1, &out, &len);
	CHECK(seq == 2 && text_is(out, len, "id: 42-2\nevent: custom\ndata: x\n\n"), "named event");
	seq = sse_replay_append(r, NULL, "a\nb\r\nc\rd", 8, &out, &len);
	CHECK(seq == 3 && text_is(out, len, "id: 42-3\nevent: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n"),
	      "LF, CRLF and CR each start a new data line");
	seq = sse_replay_append(r, NULL, "a\n", 2, &out, &len);
	CHECK(seq == 4 && text_is(out, len, "id: 42-4\nevent: message\ndata: a\ndata: \n\n"),
	      "trailing newline gives an empty last data line");
	seq = sse_replay_append(r, NULL, "\r\n\r", 3, &out, &len);
	CHECK(seq == 5 && text_is(out, len, "id: 42-5\nevent: message\ndata: \ndata: \ndata: \n\n"),
	      "CRLF then CR: three empty lines");
	seq = sse_replay_append(r, NULL, "", 0, &out, &len);
	CHECK(seq == 6 && text_is(out, len, "id: 42-6\nevent: message\ndata: \n\n"), "empty data");
	CHECK(memchr(out, '\r', len) == NULL, "no CR ever reaches the stream");

	const char *before = out;
	seq = sse_replay_append(r, "bad\nname", "x", 1, &out, &len);
	CHECK(seq == 0 && out == before, "event name with a newline refused");
	seq = sse_replay_append(r, "bad\rname", "x", 1, &out, &len);
	CHECK(seq == 0, "event name with a CR refused");
	seq = sse_replay_append(r, "", "x", 1, &out, &len);
	CHECK(seq == 0, "empty event name refused");
	seq = sse_replay_prime(r, &out, &len);
	CHECK(seq == 7 && text_is(out, len, "id: 42-7\ndata:\n\n"),
	      "refusals used no seq; priming event is an id and an empty data line");
	struct collected c;
	CHECK(since(r, 0, &c) == 0 && seqs_are(&c, 1, 7), "all seven replayed in order");
	CHECK(since(r, 6, &c) == 0 && seqs_are(&c, 7, 1), "since 6: the priming event");
	sse_replay_free(r);

	r = sse_replay_new(UINT64_MAX, 2, 4096);
	seq = sse_replay_append(r, NULL, "x", 1, &out, &len);
	CHECK(seq == 1 && text_is(out, len, "id: 18446744073709551615-1\nevent: message\ndata: x\n\n"),
	      "largest key formats in full");
	sse_replay_free(r);
	sse_replay_free(NULL);
}

static void test_count_bound(void)
{
	struct sse_replay *r = sse_replay_new(7, 3, 1 << 20);
	const char *out;
	size_t len;
	struct collected c;
	CHECK(since(r, 0, &c) == 0 && c.n == 0, "empty ring: since 0 is fine and emits nothing");
	CHECK(since(r, 1, &c) == -1, "empty ring: a seq never issued is refused");
	for (int i = 0; i < 5; i++)
		sse_replay_append(r, NULL, "{}", 2, &out, &len);
	CHECK(since(r, 2, &c) == 0 && seqs_are(&c, 3, 3), "3 kept of 5: since 2 gives 3,4,5");
	CHECK(since(r, 3, &c) == 0 && seqs_are(&c, 4, 2), "since 3 gives 4,5");
	CHECK(since(r, 5, &c) == 0 && c.n == 0, "since the last: nothing, but fine");
	CHECK(since(r, 1, &c) == -1 && c.n == 0, "since 1: 2 was dropped -> start over");
	CHECK(since(r, 0, &c) == -1, "since 0: 1 and 2 dropped");
	CHECK(since(r, 6, &c) == -1, "since 6: never issued");
	CHECK(since(r, UINT64_MAX, &c) == -1, "since UINT64_MAX: never issued");
	sse_replay_free(r);
}

static void test_byte_bound(void)
{
	/* Each event below is 35 bytes ("id: 7-N\nevent: message\ndata: 0123\n\n" for N < 10). */
	const char *out;
	size_t len;
	struct sse_replay *r = sse_replay_new(7, 100, 3 * 35);
	for (int i = 0; i < 9; i++)
		sse_replay_append(r, NULL, "0123", 4, &out, &len);
	CHECK(len == 35, "event size as planned (%zu)", len);
	struct collected c;
	CHECK(since(r, 6, &c) == 0 && seqs_are(&c, 7, 3) && c.bytes <= 3 * 35,
	      "byte bound keeps 3 events (%zu bytes)", c.bytes);
	CHECK(since(r, 5, &c) == -1, "the fourth newest was dropped");

	/* One larger event evicts as many as needed. */
	uint64_t seq = sse_replay_append(r, NULL, "012345678901234567890123456789", 30, &out, &len);
	CHECK(seq == 10 && len == 62, "a 62-byte event (%zu)", len);
	CHECK(since(r, 8, &c) == 0 && seqs_are(&c, 9, 2) && c.bytes == 35 + 62,
	      "it evicts two, leaving room for one older (%zu bytes)", c.bytes);
	CHECK(since(r, 7, &c) == -1, "since 7: 8 was dropped for it");

	/* An event larger than the whole ring is handed out but cannot be replayed, and nothing
	 * before it may be replayed either. */
	char big[200];
	memset(big, 'b', sizeof big);
	seq = sse_replay_append(r, NULL, big, sizeof big, &out, &len);
	CHECK(seq == 11 && len > 3 * 35 && memcmp(out, "id: 7-11\n", 9) == 0 &&
	      out[len - 1] == '\n', "oversize event still returned whole");
	CHECK(since(r, 10, &c) == -1, "since 10: 11 is gone -> start over");
	CHECK(since(r, 11, &c) == 0 && c.n == 0, "since 11: nothing missed");
	seq = sse_replay_append(r, NULL, "0123", 4, &out, &len);
	CHECK(seq == 12 && since(r, 11, &c) == 0 && seqs_are(&c, 12, 1), "ring fills again after it");
	sse_replay_free(r);

	r = sse_replay_new(1, 0, 1000);
	seq = sse_replay_append(r, NULL, "x", 1, &out, &len);
	seq = sse_replay_append(r, NULL, "y", 1, &out, &len);
	CHECK(seq == 2 && text_is(out, len, "id: 1-2\nevent: message\ndata: y\n\n"),
	      "a ring of 0 events still formats");
	CHECK(since(r, 2, &c) == 0 && c.n == 0 && since(r, 1, &c) == -1,
	      "a ring of 0 events replays nothing");
	sse_replay_free(r);
}

static void expect_id(const char *value, size_t len, int want, uint64_t key, uint64_t seq)
{
	uint64_t k = 12345, s = 12345;
	int rc = sse_parse_event_id(value, len, &k, &s);
	if (want == 0)
		CHECK(rc == 0 && k == key && s == seq, "event id \"%.*s\" -> %" PRIu64 "-%" PRIu64,
		      (int)len, value, k, s);
	else
		CHECK(rc == -1 && k == 12345 && s == 12345, "event id \"%.*s\" refused, outputs untouched",
		      (int)len, value);
}

#define ID_OK(str, key, seq) expect_id(str, strlen(str), 0, key, seq)
#define ID_BAD(str) expect_id(str, strlen(str), -1, 0, 0)

static void test_parse_event_id(void)
{
	ID_OK("42-1", 42, 1);
	ID_OK("0-1", 0, 1);
	ID_OK("18446744073709551615-18446744073709551615", UINT64_MAX, UINT64_MAX);
	ID_OK("9-10", 9, 10);
	ID_BAD("");
	ID_BAD("-");
	ID_BAD("42");
	ID_BAD("42-");
	ID_BAD("-1");
	ID_BAD("42-0");
	ID_BAD("042-1");
	ID_BAD("00-1");
	ID_BAD("42-01");
	ID_BAD("+42-1");
	ID_BAD("42-+1");
	ID_BAD("42--1");
	ID_BAD("42-1-2");
	ID_BAD(" 42-1");
	ID_BAD("42-1 ");
	ID_BAD("42 -1");
	ID_BAD("4a-1");
	ID_BAD("0x2a-1");
	ID_BAD("18446744073709551616-1");
	ID_BAD("1-18446744073709551616");
	ID_BAD("99999999999999999999-1");
	ID_BAD("000000000000000000001-1");
	ID_BAD("1-100000000000000000000");
	expect_id("42\0-1", 5, -1, 0, 0);
	expect_id("42-17", 4, 0, 42, 1);
	expect_id("42-1\t", 5, -1, 0, 0);
	uint64_t k, s;
	CHECK(sse_parse_event_id(NULL, 0, &k, &s) == -1, "NULL value refused");
}

int main(void)
{
	test_format();
	test_count_bound();
	test_byte_bound();
	test_parse_event_id();
	return check_finish();
}
