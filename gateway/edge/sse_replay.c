/* The SSE replay ring: formats each event once, keeps the newest within a count and a byte
 * bound (bytes of formatted text), and replays what a reconnecting client missed. */
#include "sse_replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U64_DIGITS_MAX 20

struct stored_event {
	uint64_t seq;
	char *text;
	size_t len;
};

struct sse_replay {
	uint64_t key;
	size_t max_events, max_bytes;
	struct stored_event *ring; /* max_events slots; oldest at head */
	size_t head, count, bytes;
	uint64_t next_seq;         /* the seq the next event gets; starts at 1 */
	/* An event too large for the ring: handed out once, never replayable, freed on the
	 * next append so its pointer stays valid as documented. */
	char *unkept;
};

struct sse_replay *sse_replay_new(uint64_t stream_key, size_t max_events, size_t max_bytes)
{
	struct sse_replay *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->ring = calloc(max_events ? max_events : 1, sizeof *r->ring);
	if (!r->ring) {
		free(r);
		return NULL;
	}
	r->key = stream_key;
	r->max_events = max_events;
	r->max_bytes = max_bytes;
	r->next_seq = 1;
	return r;
}

static void drop_oldest(struct sse_replay *r)
{
	struct stored_event *e = &r->ring[r->head];
	r->bytes -= e->len;
	free(e->text);
	e->text = NULL;
	r->head = (r->head + 1) % r->max_events;
	r->count--;
}

void sse_replay_free(struct sse_replay *r)
{
	if (!r)
		return;
	while (r->count > 0)
		drop_oldest(r);
	free(r->unkept);
	free(r->ring);
	free(r);
}

uint64_t sse_replay_key(const struct sse_replay *r)
{
	return r->key;
}

/* Length of the line break at data[i] (CRLF, LF or CR: SSE treats all three as one), or 0. */
static size_t line_break_at(const char *data, size_t len, size_t i)
{
	if (data[i] == '\n')
		return 1;
	if (data[i] == '\r')
		return i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
	return 0;
}

static size_t count_lines(const char *data, size_t len)
{
	size_t lines = 1;
	for (size_t i = 0; i < len; i++) {
		size_t br = line_break_at(data, len, i);
		if (br) {
			lines++;
			i += br - 1;
		}
	}
	return lines;
}

/* Appends "data: <line>\n" per line. A CR cannot travel inside SSE data: every CR, LF and
 * CRLF becomes a line boundary, which the client joins back with LF. */
static size_t write_data_lines(char *out, const char *data, size_t len)
{
	size_t o = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		size_t br = i < len ? line_break_at(data, len, i) : 1;
		if (!br)
			continue;
		memcpy(out + o, "data: ", 6);
		o += 6;
		memcpy(out + o, data + start, i - start);
		o += i - start;
		out[o++] = '\n';
		i += br - 1;
		start = i + 1;
	}
	return o;
}

static bool valid_event_name(const char *name)
{
	return name[0] != '\0' && strpbrk(name, "\r\n") == NULL;
}

/* Formats an event into a new malloc'd string. data NULL means the priming event (no event
 * line, one empty data line). */
static char *format_event(uint64_t key, uint64_t seq, const char *event_name, const char *data,
                          size_t data_len, size_t *out_len)
{
	size_t name_len = event_name ? strlen(event_name) : 0;
	if (data_len > SIZE_MAX / 8 || name_len > SIZE_MAX / 8)
		return NULL;
	size_t lines = data ? count_lines(data, data_len) : 0;
	size_t size = sizeof "id: -\n" + 2 * U64_DIGITS_MAX + sizeof "data:\n\n";
	if (data)
		size += sizeof "event: \n" + name_len + lines * (sizeof "data: \n" - 1) + data_len;
	char *text = malloc(size);
	if (!text)
		return NULL;
	int n = snprintf(text, size, "id: %" PRIu64 "-%" PRIu64 "\n", key, seq);
	if (n < 0 || (size_t)n >= size) {
		free(text);
		return NULL;
	}
	size_t o = (size_t)n;
	if (data) {
		o += (size_t)snprintf(text + o, size - o, "event: %s\n", event_name);
		o += write_data_lines(text + o, data, data_len);
	} else {
		memcpy(text + o, "data:\n", 6);
		o += 6;
	}
	text[o++] = '\n';
	text[o] = '\0';
	*out_len = o;
	return text;
}

/* Stores a formatted event (taking ownership), dropping the oldest to stay in bounds. */
static void store(struct sse_replay *r, uint64_t seq, char *text, size_t len)
{
	free(r->unkept);
	r->unkept = NULL;
	if (r->max_events == 0 || len > r->max_bytes) {
		/* It cannot be kept, so nothing before it may be replayed either: a client asking
		 * for anything older must start over rather than silently miss this one. */
		while (r->count > 0)
			drop_oldest(r);
		r->unkept = text;
		return;
	}
	while (r->count == r->max_events || r->bytes + len > r->max_bytes)
		drop_oldest(r);
	struct stored_event *e = &r->ring[(r->head + r->count) % r->max_events];
	e->seq = seq;
	e->text = text;
	e->len = len;
	r->count++;
	r->bytes += len;
}

static uint64_t append(struct sse_replay *r, const char *event_name, const char *data,
                       size_t data_len, const char **out, size_t *out_len)
{
	if (r->next_seq == UINT64_MAX)
		return 0; /* unreachable in practice; seq 0 must stay "failed" */
	size_t len;
	char *text = format_event(r->key, r->next_seq, event_name, data, data_len, &len);
	if (!text)
		return 0;
	uint64_t seq = r->next_seq++;
	store(r, seq, text, len);
	*out = text;
	*out_len = len;
	return seq;
}

uint64_t sse_replay_append(struct sse_replay *r, const char *event_name, const char *data,
                           size_t data_len, const char **out, size_t *out_len)
{
	if (!event_name)
		event_name = "message";
	if (!valid_event_name(event_name) || (!data && data_len > 0))
		return 0;
	return append(r, event_name, data ? data : "", data_len, out, out_len);
}

uint64_t sse_replay_prime(struct sse_replay *r, const char **out, size_t *out_len)
{
	return append(r, NULL, NULL, 0, out, out_len);
}

/* Parses a decimal uint64 with no sign and no leading zero. Returns 0 or -1. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > U64_DIGITS_MAX || (s[0] == '0' && len > 1))
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int sse_parse_event_id(const char *value, size_t len, uint64_t *stream_key, uint64_t *seq)
{
	if (!value || len > 2 * U64_DIGITS_MAX + 1)
		return -1;
	const char *dash = memchr(value, '-', len);
	if (!dash)
		return -1;
	size_t key_len = (size_t)(dash - value);
	uint64_t k, s;
	if (parse_u64(value, key_len, &k) != 0 ||
	    parse_u64(dash + 1, len - key_len - 1, &s) != 0 || s == 0)
		return -1; /* seq 0 is never issued */
	*stream_key = k;
	*seq = s;
	return 0;
}

int sse_replay_since(const struct sse_replay *r, uint64_t seq,
                     void (*emit)(const char *event, size_t len, void *arg), void *arg)
{
	/* A seq we never issued is not a position in this stream. */
	if (seq >= r->next_seq)
		return -1;
	uint64_t oldest = r->count ? r->ring[r->head].seq : r->next_seq;
	if (oldest - 1 > seq)
		return -1;
	for (size_t i = 0; i < r->count; i++) {
		const struct stored_event *e = &r->ring[(r->head + i) % r->max_events];
		if (e->seq > seq)
			emit(e->text, e->len, arg);
	}
	return 0;
}
