/* Unit tests for the frame codec: round trips of every type, every rejection, every split
 * point of partial input, all on exact-size heap buffers so ASan catches any over-read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#include "check.h"

/* Quietly counted checks for loops with thousands of cases; one summary line each. */
#define EXPECT(cond) do { if (!(cond)) { loop_bad++; \
	if (loop_bad < 5) printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); } } while (0)
static int loop_bad;

static const uint8_t all_types[] = {
	FRAME_HELLO, FRAME_READY, FRAME_CONFIG, FRAME_LINK, FRAME_DRAIN, FRAME_STATUS, FRAME_SPAWN,
	FRAME_REQUEST, FRAME_RESPONSE, FRAME_STREAM_OPEN, FRAME_STREAM_CLOSE, FRAME_ERROR,
};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

/* A whole encoded frame in a heap buffer of exactly its size. */
static uint8_t *build(uint8_t type, uint16_t flags, uint32_t stream, const void *meta,
                      uint32_t meta_len, const void *body, uint32_t body_len, size_t *size)
{
	struct frame f = { .type = type, .flags = flags, .stream_id = stream,
	                   .meta_len = meta_len, .body_len = body_len };
	*size = FRAME_HEADER_SIZE + (size_t)meta_len + body_len;
	uint8_t *buf = xmalloc(*size);
	if (frame_encode_header(&f, buf) != 0) {
		printf("FAIL build: encode refused type %u\n", type);
		failures++;
	}
	if (meta_len)
		memcpy(buf + FRAME_HEADER_SIZE, meta, meta_len);
	if (body_len)
		memcpy(buf + FRAME_HEADER_SIZE + meta_len, body, body_len);
	return buf;
}

/* A raw header with arbitrary (possibly invalid) fields, in an exact-size buffer of `len`
 * bytes (len <= 16: a prefix of the header). */
static uint8_t *raw_header(uint8_t magic, uint8_t type, uint16_t flags, uint32_t payload,
                           uint32_t stream, uint32_t meta_len, size_t len)
{
	uint8_t h[FRAME_HEADER_SIZE] = {
		magic, type, (uint8_t)(flags >> 8), (uint8_t)flags,
		(uint8_t)(payload >> 24), (uint8_t)(payload >> 16), (uint8_t)(payload >> 8), (uint8_t)payload,
		(uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream,
		(uint8_t)(meta_len >> 24), (uint8_t)(meta_len >> 16), (uint8_t)(meta_len >> 8), (uint8_t)meta_len,
	};
	uint8_t *buf = xmalloc(len);
	memcpy(buf, h, len);
	return buf;
}

static enum frame_status decode_copy(const uint8_t *src, size_t len, struct frame *f,
                                     size_t *used)
{
	uint8_t *copy = xmalloc(len);
	if (len)
		memcpy(copy, src, len);
	enum frame_status st = frame_decode(copy, len, f, used);
	/* Pointers would dangle after free: rebase them onto src for the caller's checks. */
	if (st == FRAME_OK) {
		f->meta = src + (f->meta - copy);
		f->body = src + (f->body - copy);
	}
	free(copy);
	return st;
}

static void test_layout(void)
{
	size_t size;
	uint8_t *buf = build(FRAME_REQUEST, FRAME_FLAG_FINAL | FRAME_FLAG_SSE, 0x01020304u,
	                     "ab", 2, "xyz", 3, &size);
	const uint8_t want[FRAME_HEADER_SIZE] = { 0x4d, 16, 0, 3, 0, 0, 0, 5, 1, 2, 3, 4, 0, 0, 0, 2 };
	CHECK(size == 21 && memcmp(buf, want, sizeof want) == 0, "header layout is big-endian as documented");
	free(buf);
}

static void test_round_trips(void)
{
	static const uint16_t flag_sets[] = { 0, FRAME_FLAG_FINAL, FRAME_FLAG_SSE,
	                                      FRAME_FLAG_FINAL | FRAME_FLAG_SSE };
	static const uint32_t sizes[][2] = { { 0, 0 }, { 0, 7 }, { 5, 0 }, { 3, 11 }, { 300, 70000 } };
	int cases = 0;
	loop_bad = 0;
	for (size_t t = 0; t < N_TYPES; t++) {
		for (size_t fl = 0; fl < 4; fl++) {
			for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
				uint32_t ml = sizes[s][0], bl = sizes[s][1];
				uint8_t *meta = xmalloc(ml), *body = xmalloc(bl);
				for (uint32_t i = 0; i < ml; i++) meta[i] = (uint8_t)(i * 7 + t);
				for (uint32_t i = 0; i < bl; i++) body[i] = (uint8_t)(i * 13 + fl);
				uint32_t stream = (uint32_t)(t * 0x01010101u + s) ^ 0x80000000u;
				size_t size, used = 0;
				uint8_t *buf = build(all_types[t], flag_sets[fl], stream, meta, ml, body, bl, &size);
				struct frame f;
				EXPECT(frame_decode(buf, size, &f, &used) == FRAME_OK);
				EXPECT(used == size);
				EXPECT(f.type == all_types[t] && f.flags == flag_sets[fl] && f.stream_id == stream);
				EXPECT(f.meta_len == ml && f.body_len == bl);
				EXPECT(f.meta == buf + FRAME_HEADER_SIZE && f.body == buf + FRAME_HEADER_SIZE + ml);
				EXPECT(memcmp(f.meta, meta, ml) == 0 && memcmp(f.body, body, bl) == 0);
				free(buf);
				free(meta);
				free(body);
				cases++;
			}
		}
	}
	CHECK(loop_bad == 0, "round trip of all %zu types x 4 flag sets x 5 sizes (%d cases)",
	      N_TYPES, cases);
}

static void test_max_sizes(void)
{
	/* Exactly at the limits: meta FRAME_MAX_META and payload FRAME_MAX_PAYLOAD decode. */
	uint32_t ml = FRAME_MAX_META, bl = FRAME_MAX_PAYLOAD - FRAME_MAX_META;
	uint8_t *meta = calloc(1, ml), *body = calloc(1, bl);
	if (!meta || !body)
		exit(2);
	meta[ml - 1] = 0xaa;
	body[bl - 1] = 0xbb;
	size_t size, used = 0;
	uint8_t *buf = build(FRAME_RESPONSE, 0, 9, meta, ml, body, bl, &size);
	struct frame f;
	enum frame_status st = frame_decode(buf, size, &f, &used);
	CHECK(st == FRAME_OK && used == size && f.meta_len == ml && f.body_len == bl &&
	      f.meta[ml - 1] == 0xaa && f.body[bl - 1] == 0xbb,
	      "a frame of exactly the maximum payload and meta decodes");
	CHECK(frame_decode(buf, size - 1, &f, &used) == FRAME_NEED_MORE,
	      "the maximum frame less one byte needs more");
	free(buf);
	free(meta);
	free(body);

	struct frame big = { .type = FRAME_RESPONSE, .meta_len = 0, .body_len = FRAME_MAX_PAYLOAD + 1 };
	uint8_t hdr[FRAME_HEADER_SIZE];
	CHECK(frame_encode_header(&big, hdr) == -1, "encode refuses payload over the maximum");
	big.meta_len = 1;
	big.body_len = FRAME_MAX_PAYLOAD;
	CHECK(frame_encode_header(&big, hdr) == -1, "encode refuses meta + body over the maximum");
	big.meta_len = UINT32_MAX;
	big.body_len = 2; /* would wrap in 32 bits */
	CHECK(frame_encode_header(&big, hdr) == -1, "encode refuses lengths that wrap 32 bits");
	big.meta_len = FRAME_MAX_META + 1;
	big.body_len = 0;
	CHECK(frame_encode_header(&big, hdr) == -1, "encode refuses meta over FRAME_MAX_META");
	big.meta_len = FRAME_MAX_META;
	CHECK(frame_encode_header(&big, hdr) == 0, "encode accepts meta of exactly FRAME_MAX_META");
}

static void test_encode_rejects(void)
{
	uint8_t hdr[FRAME_HEADER_SIZE];
	static const uint8_t bad_types[] = { 0, 8, 9, 15, 21, 100, 255 };
	int refused = 0;
	for (size_t i = 0; i < sizeof bad_types; i++) {
		struct frame f = { .type = bad_types[i] };
		refused += frame_encode_header(&f, hdr) == -1;
	}
	CHECK(refused == (int)sizeof bad_types, "encode refuses unknown types 0/8/9/15/21/100/255");
	int flags_refused = 0;
	for (int bit = 2; bit < 16; bit++) {
		struct frame f = { .type = FRAME_STATUS, .flags = (uint16_t)(1u << bit) };
		flags_refused += frame_encode_header(&f, hdr) == -1;
	}
	CHECK(flags_refused == 14, "encode refuses each unknown flag bit 2..15");
}

struct reject_case {
	const char *what;
	uint8_t magic, type;
	uint16_t flags;
	uint32_t payload, meta_len;
	size_t decided_at; /* bytes after which the error must already be reported */
	enum frame_status want;
};

static void test_decode_rejects(void)
{
	static const struct reject_case cases[] = {
		{ "bad magic 0x00", 0x00, FRAME_HELLO, 0, 0, 0, 1, FRAME_BAD_MAGIC },
		{ "bad magic 'G' (HTTP on the channel)", 'G', 'E', 0, 0, 0, 1, FRAME_BAD_MAGIC },
		{ "bad magic 0xff", 0xff, FRAME_HELLO, 0, 0, 0, 1, FRAME_BAD_MAGIC },
		{ "type 0", FRAME_MAGIC, 0, 0, 0, 0, 2, FRAME_BAD_TYPE },
		{ "type 8", FRAME_MAGIC, 8, 0, 0, 0, 2, FRAME_BAD_TYPE },
		{ "type 15", FRAME_MAGIC, 15, 0, 0, 0, 2, FRAME_BAD_TYPE },
		{ "type 21", FRAME_MAGIC, 21, 0, 0, 0, 2, FRAME_BAD_TYPE },
		{ "type 255", FRAME_MAGIC, 255, 0, 0, 0, 2, FRAME_BAD_TYPE },
		{ "flag bit 2", FRAME_MAGIC, FRAME_REQUEST, 4, 0, 0, 4, FRAME_BAD_FLAGS },
		{ "flag bit 15", FRAME_MAGIC, FRAME_REQUEST, 0x8000, 0, 0, 4, FRAME_BAD_FLAGS },
		{ "known + unknown flags", FRAME_MAGIC, FRAME_REQUEST, 0x0103, 0, 0, 4, FRAME_BAD_FLAGS },
		{ "payload max+1", FRAME_MAGIC, FRAME_RESPONSE, 0, FRAME_MAX_PAYLOAD + 1, 0, 8, FRAME_TOO_LARGE },
		{ "payload 0xffffffff", FRAME_MAGIC, FRAME_RESPONSE, 0, UINT32_MAX, 0, 8, FRAME_TOO_LARGE },
		{ "meta_len > payload", FRAME_MAGIC, FRAME_REQUEST, 0, 10, 11, 16, FRAME_BAD_META },
		{ "meta_len > payload (empty)", FRAME_MAGIC, FRAME_REQUEST, 0, 0, 1, 16, FRAME_BAD_META },
		{ "meta_len 0xffffffff", FRAME_MAGIC, FRAME_REQUEST, 0, 100, UINT32_MAX, 16, FRAME_BAD_META },
		{ "meta over FRAME_MAX_META", FRAME_MAGIC, FRAME_REQUEST, 0, FRAME_MAX_META + 10,
		  FRAME_MAX_META + 1, 16, FRAME_BAD_META },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct reject_case *c = &cases[i];
		int early_ok = 1, full_ok = 1;
		/* Before its field is complete the error cannot be known; from then on it must be
		 * reported, without waiting for the payload. */
		for (size_t len = 0; len <= FRAME_HEADER_SIZE; len++) {
			uint8_t *buf = raw_header(c->magic, c->type, c->flags, c->payload, 5, c->meta_len, len);
			struct frame f;
			size_t used = 12345;
			enum frame_status st = frame_decode(buf, len, &f, &used);
			if (len < c->decided_at && st != FRAME_NEED_MORE)
				early_ok = 0;
			if (len >= c->decided_at && st != c->want)
				full_ok = 0;
			if (used != 12345)
				full_ok = 0; /* consumed must not be touched on failure */
			free(buf);
		}
		CHECK(early_ok && full_ok, "%s: NEED_MORE before byte %zu, then %s", c->what,
		      c->decided_at, frame_status_text(c->want));
	}
}

/* Every prefix of a valid two-frame stream needs more; the whole decodes both frames. */
static void test_partial_input(void)
{
	size_t s1, s2;
	uint8_t *a = build(FRAME_REQUEST, FRAME_FLAG_SSE, 77, "{\"k\":1}", 7, "{\"jsonrpc\":\"2.0\"}", 17, &s1);
	uint8_t *b = build(FRAME_STREAM_CLOSE, FRAME_FLAG_FINAL, 78, NULL, 0, NULL, 0, &s2);
	uint8_t *stream = xmalloc(s1 + s2);
	memcpy(stream, a, s1);
	memcpy(stream + s1, b, s2);
	loop_bad = 0;
	for (size_t k = 0; k < s1; k++) {
		struct frame f;
		size_t used = 0;
		EXPECT(decode_copy(stream, k, &f, &used) == FRAME_NEED_MORE);
	}
	for (size_t k = s1; k <= s1 + s2; k++) {
		struct frame f;
		size_t used = 0;
		EXPECT(decode_copy(stream, k, &f, &used) == FRAME_OK);
		EXPECT(used == s1 && f.stream_id == 77 && f.meta_len == 7 && f.body_len == 17);
		EXPECT(memcmp(f.body, "{\"jsonrpc\":\"2.0\"}", 17) == 0);
		enum frame_status st2 = decode_copy(stream + s1, k - s1, &f, &used);
		if (k < s1 + s2)
			EXPECT(st2 == FRAME_NEED_MORE);
		else
			EXPECT(st2 == FRAME_OK && used == s2 && f.type == FRAME_STREAM_CLOSE &&
			       f.flags == FRAME_FLAG_FINAL && f.meta_len == 0 && f.body_len == 0);
	}
	CHECK(loop_bad == 0, "all %zu split points of a two-frame stream: NEED_MORE then OK", s1 + s2 + 1);
	free(a);
	free(b);
	free(stream);

	/* An empty frame is exactly the header. */
	size_t s;
	uint8_t *e = build(FRAME_READY, 0, 0, NULL, 0, NULL, 0, &s);
	struct frame f;
	size_t used = 0;
	CHECK(s == FRAME_HEADER_SIZE && frame_decode(e, s, &f, &used) == FRAME_OK && used == s,
	      "an empty frame is 16 bytes and decodes");
	CHECK(frame_decode(e, 0, &f, &used) == FRAME_NEED_MORE, "zero bytes need more");
	free(e);
}

static void test_check_header(void)
{
	size_t size = 0;
	uint8_t *h = raw_header(FRAME_MAGIC, FRAME_RESPONSE, 0, 1000, 1, 10, FRAME_HEADER_SIZE);
	CHECK(frame_check_header(h, FRAME_HEADER_SIZE, &size) == FRAME_OK && size == 1016,
	      "frame_check_header reports the whole frame size from the header alone");
	CHECK(frame_check_header(h, 15, &size) == FRAME_NEED_MORE, "frame_check_header needs all 16 bytes");
	free(h);
}

static void test_names(void)
{
	int distinct = 1;
	for (size_t i = 0; i < N_TYPES; i++) {
		if (strcmp(frame_type_name(all_types[i]), "unknown") == 0)
			distinct = 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(frame_type_name(all_types[i]), frame_type_name(all_types[j])) == 0)
				distinct = 0;
	}
	CHECK(distinct, "every known type has its own name");
	CHECK(strcmp(frame_type_name(8), "unknown") == 0 && strcmp(frame_type_name(0), "unknown") == 0,
	      "unknown types are named 'unknown'");
	const enum frame_status all[] = { FRAME_OK, FRAME_NEED_MORE, FRAME_BAD_MAGIC, FRAME_BAD_TYPE,
	                                  FRAME_BAD_FLAGS, FRAME_TOO_LARGE, FRAME_BAD_META };
	int texts_ok = 1;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(frame_status_text(all[i]), frame_status_text(all[j])) == 0)
				texts_ok = 0;
	CHECK(texts_ok, "every status has its own text");
	CHECK(strstr(frame_status_text(FRAME_BAD_MAGIC), "magic") != NULL, "bad magic text says magic");
}

int main(void)
{
	test_layout();
	test_round_trips();
	test_max_sizes();
	test_encode_rejects();
	test_decode_rejects();
	test_partial_input();
	test_check_header();
	test_names();
	return check_finish();
}
