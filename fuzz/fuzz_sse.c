/* Fuzzes the SSE pieces: the Last-Event-ID parser (accepts exactly the canonical spelling),
 * and a replay ring fed with input-derived events, checked against a simple model of what
 * it must keep, and each event's text read back as an SSE client would. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_replay.h"

#define MODEL_MAX 64

static void check_event_id(const uint8_t *data, size_t size)
{
	uint64_t key, seq;
	if (sse_parse_event_id((const char *)data, size, &key, &seq) != 0)
		return;
	/* Accepted means it is the canonical spelling of what was parsed. */
	char canon[64];
	int n = snprintf(canon, sizeof canon, "%" PRIu64 "-%" PRIu64, key, seq);
	if (n < 0 || (size_t)n != size || memcmp(canon, data, size) != 0 || seq == 0)
		abort();
}

/* The same numbers, formatted, must parse back. */
static void check_id_round_trip(const uint8_t *data, size_t size)
{
	uint64_t want_key = 0, want_seq = 0;
	memcpy(&want_key, data, size < 8 ? size : 8);
	if (size > 8)
		memcpy(&want_seq, data + 8, size - 8 < 8 ? size - 8 : 8);
	if (want_seq == 0)
		want_seq = 1;
	char text[64];
	int n = snprintf(text, sizeof text, "%" PRIu64 "-%" PRIu64, want_key, want_seq);
	uint64_t key, seq;
	if (sse_parse_event_id(text, (size_t)n, &key, &seq) != 0 || key != want_key || seq != want_seq)
		abort();
}

/* Reads an event as an SSE client would: the id, and the data lines joined with LF. Checks
 * the id and that the data is the input with CR and CRLF turned into LF. */
static void check_event_text(const char *ev, size_t len, uint64_t key, uint64_t seq,
                             const char *data, size_t data_len)
{
	if (len < 2 || ev[len] != '\0' || ev[len - 1] != '\n' || ev[len - 2] != '\n' ||
	    memchr(ev, '\r', len) != NULL)
		abort();
	char *joined = malloc(len + 1);
	char *want = malloc(data_len + 1);
	if (!joined || !want)
		abort();
	size_t j = 0, w = 0, lines = 0;
	bool id_seen = false;
	for (size_t at = 0; at < len - 1;) {
		const char *nl = memchr(ev + at, '\n', len - at);
		size_t line_len = (size_t)(nl - (ev + at));
		const char *line = ev + at;
		if (line_len >= 4 && memcmp(line, "id: ", 4) == 0) {
			uint64_t k, s;
			if (id_seen || sse_parse_event_id(line + 4, line_len - 4, &k, &s) != 0 ||
			    k != key || s != seq)
				abort();
			id_seen = true;
		} else if (line_len >= 6 && memcmp(line, "data: ", 6) == 0) {
			if (lines++)
				joined[j++] = '\n';
			memcpy(joined + j, line + 6, line_len - 6);
			j += line_len - 6;
		} else if (!(line_len >= 7 && memcmp(line, "event: ", 7) == 0)) {
			abort(); /* a stray line: the data leaked out of its field */
		}
		at += line_len + 1;
	}
	for (size_t i = 0; i < data_len; i++) {
		if (data[i] == '\r' && i + 1 < data_len && data[i + 1] == '\n')
			continue;
		want[w++] = data[i] == '\r' ? '\n' : data[i];
	}
	if (!id_seen || lines == 0 || j != w || memcmp(joined, want, w) != 0)
		abort();
	free(joined);
	free(want);
}

struct model {
	uint64_t seq[MODEL_MAX];
	size_t len[MODEL_MAX];
	size_t n, bytes;
};

static void model_store(struct model *m, size_t max_events, size_t max_bytes, uint64_t seq, size_t len)
{
	if (max_events == 0 || len > max_bytes) {
		m->n = 0;
		m->bytes = 0;
		return;
	}
	while (m->n == max_events || m->bytes + len > max_bytes) {
		m->bytes -= m->len[0];
		memmove(m->seq, m->seq + 1, (m->n - 1) * sizeof m->seq[0]);
		memmove(m->len, m->len + 1, (m->n - 1) * sizeof m->len[0]);
		m->n--;
	}
	m->seq[m->n] = seq;
	m->len[m->n] = len;
	m->n++;
	m->bytes += len;
}

struct replayed {
	uint64_t key;
	uint64_t seq[MODEL_MAX];
	size_t len[MODEL_MAX];
	size_t n, bytes;
};

static void on_event(const char *ev, size_t len, void *arg)
{
	struct replayed *r = arg;
	uint64_t key, seq;
	const char *nl = memchr(ev, '\n', len);
	if (r->n == MODEL_MAX || !nl || len < 4 || memcmp(ev, "id: ", 4) != 0 ||
	    sse_parse_event_id(ev + 4, (size_t)(nl - ev - 4), &key, &seq) != 0 || key != r->key)
		abort();
	r->seq[r->n] = seq;
	r->len[r->n] = len;
	r->n++;
	r->bytes += len;
}

/* Replays since every interesting seq and compares with the model. */
static void check_replay(const struct sse_replay *ring, const struct model *m, uint64_t last,
                         size_t max_bytes)
{
	uint64_t oldest = m->n ? m->seq[0] : last + 1;
	for (uint64_t since = 0; since <= last + 1; since++) {
		struct replayed r = { .key = sse_replay_key(ring) };
		int rc = sse_replay_since(ring, since, on_event, &r);
		bool gone = oldest > since + 1 || since > last;
		if (gone != (rc == -1))
			abort();
		if (rc == -1) {
			if (r.n)
				abort();
			continue;
		}
		if (r.bytes > max_bytes)
			abort();
		size_t k = 0;
		while (k < m->n && m->seq[k] <= since)
			k++;
		if (r.n != m->n - k)
			abort();
		for (size_t i = 0; i < r.n; i++)
			if (r.seq[i] != m->seq[k + i] || r.len[i] != m->len[k + i])
				abort();
	}
}

/* Input: [max_events % 9][max_bytes / 8][key byte], then events split at 0xff, each
 * starting with a byte choosing the name. */
static void check_ring(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	size_t max_events = data[0] % 9, max_bytes = (size_t)data[1] * 8;
	uint64_t key = (uint64_t)data[2] * 0x0101010101010101ull;
	struct sse_replay *ring = sse_replay_new(key, max_events, max_bytes);
	if (!ring)
		abort();
	struct model m = { .n = 0 };
	uint64_t last = 0;
	size_t at = 3;
	for (int turn = 0; turn < 40 && at <= size; turn++) {
		const uint8_t *end = memchr(data + at, 0xff, size - at);
		size_t chunk = end ? (size_t)(end - (data + at)) : size - at;
		const char *ev;
		size_t len;
		uint64_t seq;
		if (chunk > 0 && data[at] % 5 == 0) {
			seq = sse_replay_prime(ring, &ev, &len);
			if (seq && (len != strlen(ev) || memcmp(ev + len - 8, "\ndata:\n\n", 8) != 0))
				abort();
		} else {
			static const char *const names[] = { NULL, "message", "bad\nname", "" };
			const char *name = chunk ? names[data[at] % 4] : NULL;
			const char *payload = (const char *)data + at + (chunk ? 1 : 0);
			size_t payload_len = chunk ? chunk - 1 : 0;
			seq = sse_replay_append(ring, name, payload, payload_len, &ev, &len);
			bool refused = name && (name[0] == '\0' || strchr(name, '\n'));
			if (refused != (seq == 0))
				abort();
			if (seq)
				check_event_text(ev, len, key, seq, payload, payload_len);
		}
		if (seq) {
			if (seq != last + 1)
				abort();
			last = seq;
			model_store(&m, max_events, max_bytes, seq, len);
		}
		at += chunk + 1;
	}
	check_replay(ring, &m, last, max_bytes);
	sse_replay_free(ring);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_event_id(data, size);
	check_id_round_trip(data, size);
	check_ring(data, size);
	return 0;
}
