/* Fuzzes the frame codec two ways over the same bytes: frame_decode in a loop with its
 * invariants checked, and a real channel reading them from a socket; both must agree on
 * every frame and on how the stream ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "channel.h"
#include "frame.h"
#include "log.h"

/* Above this the channel pass is skipped: it would only measure socket throughput. */
#define CHANNEL_PASS_MAX (256u * 1024u)
#define LOOP_TURNS_MAX 100000

/* A digest of the frames seen, so the two paths can be compared cheaply. */
struct digest {
	uint64_t hash;
	size_t frames;
};

static void mix(struct digest *d, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		d->hash = (d->hash ^ b[i]) * 0x100000001b3ull;
}

static void add_frame(struct digest *d, const struct frame *f)
{
	uint8_t fixed[1 + 2 + 4 + 4 + 4];
	fixed[0] = f->type;
	memcpy(fixed + 1, &f->flags, 2);
	memcpy(fixed + 3, &f->stream_id, 4);
	memcpy(fixed + 7, &f->meta_len, 4);
	memcpy(fixed + 11, &f->body_len, 4);
	mix(d, fixed, sizeof fixed);
	mix(d, f->meta, f->meta_len);
	mix(d, f->body, f->body_len);
	d->frames++;
}

static void check_frame(const uint8_t *buf, size_t len, const struct frame *f, size_t used)
{
	if (used < FRAME_HEADER_SIZE || used > len)
		abort();
	if (f->meta != buf + FRAME_HEADER_SIZE || f->body != f->meta + f->meta_len)
		abort();
	if ((size_t)FRAME_HEADER_SIZE + f->meta_len + f->body_len != used)
		abort();
	if (f->meta_len > FRAME_MAX_META || (size_t)f->meta_len + f->body_len > FRAME_MAX_PAYLOAD)
		abort();
	if ((f->flags & ~(unsigned)FRAME_FLAGS_KNOWN) != 0 ||
	    strcmp(frame_type_name(f->type), "unknown") == 0)
		abort();
	/* The encoder must reproduce the header byte for byte. */
	uint8_t hdr[FRAME_HEADER_SIZE];
	if (frame_encode_header(f, hdr) != 0 || memcmp(hdr, buf, sizeof hdr) != 0)
		abort();
	size_t size = 0;
	if (frame_check_header(buf, len, &size) != FRAME_OK || size != used)
		abort();
}

/* Decodes frames until the input runs out or is refused; returns how it ended. */
static enum frame_status decode_all(const uint8_t *data, size_t size, struct digest *d)
{
	size_t off = 0;
	for (;;) {
		struct frame f;
		size_t used = 0;
		enum frame_status st = frame_decode(data + off, size - off, &f, &used);
		if (st != FRAME_OK) {
			if (frame_status_text(st) == NULL)
				abort();
			/* An incomplete frame stays incomplete on every shorter prefix. */
			if (st == FRAME_NEED_MORE && size - off > 0 &&
			    frame_decode(data + off, size - off - 1, &f, &used) != FRAME_NEED_MORE)
				abort();
			return st;
		}
		check_frame(data + off, size - off, &f, used);
		add_frame(d, &f);
		off += used;
	}
}

struct reader {
	struct digest d;
	int closed;
	const char *reason;
	struct channel *ch;
};

static void on_frame(struct channel *ch, const struct frame *f, void *arg)
{
	(void)ch;
	add_frame(&((struct reader *)arg)->d, f);
}

static void on_close(struct channel *ch, const char *reason, void *arg)
{
	struct reader *r = arg;
	r->closed = 1;
	r->reason = reason;
	channel_free(ch);
	r->ch = NULL;
}

static const struct channel_callbacks callbacks = { on_frame, on_close, NULL };

/* Writes the bytes into a socket read by a channel, then closes the writing end. */
static void channel_pass(struct event_base *base, const uint8_t *data, size_t size,
                         struct reader *r)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	r->ch = channel_new(base, sv[1], "fuzz", &callbacks, r);
	if (!r->ch)
		abort();
	size_t off = 0;
	int turns = 0;
	while (off < size && !r->closed) {
		ssize_t n = send(sv[0], data + off, size - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (++turns > LOOP_TURNS_MAX)
			abort();
	}
	close(sv[0]);
	while (!r->closed) {
		event_base_loop(base, EVLOOP_ONCE);
		if (++turns > LOOP_TURNS_MAX)
			abort(); /* the channel never reported EOF or the error */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	if (!base) {
		log_set_level(LOG_FATAL); /* every malformed input would log a warning */
		base = event_base_new();
		if (!base)
			abort();
	}
	struct digest direct = { .hash = 0xcbf29ce484222325ull };
	enum frame_status end = decode_all(data, size, &direct);
	if (size > CHANNEL_PASS_MAX)
		return 0;

	struct reader r = { .d = { .hash = 0xcbf29ce484222325ull } };
	channel_pass(base, data, size, &r);
	/* Same frames, same order; and the channel ends the way the decoder did. */
	if (r.d.frames != direct.frames || r.d.hash != direct.hash)
		abort();
	const char *want = end == FRAME_NEED_MORE ? "peer closed" : frame_status_text(end);
	if (strcmp(r.reason, want) != 0)
		abort();
	return 0;
}
