/* The frame codec: checks and decodes the fixed header, and builds headers for senders.
 * Every length comes from the peer, so each is checked before it is used as a size. */
#include "frame.h"

#include <stdbool.h>

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The numbering has a gap (7..15) between control and data types; both ranges are closed. */
static bool type_known(uint8_t type)
{
	return (type >= FRAME_HELLO && type <= FRAME_SPAWN) ||
	       (type >= FRAME_REQUEST && type <= FRAME_ERROR);
}

/* Fields are checked as soon as their bytes are present, so a desynchronised or hostile
 * stream is refused at the first wrong byte rather than after a 16 MiB wait. */
enum frame_status frame_check_header(const uint8_t *buf, size_t len, size_t *frame_size)
{
	if (len >= 1 && buf[0] != FRAME_MAGIC)
		return FRAME_BAD_MAGIC;
	if (len >= 2 && !type_known(buf[1]))
		return FRAME_BAD_TYPE;
	if (len >= 4 && (get_be16(buf + 2) & ~(unsigned)FRAME_FLAGS_KNOWN) != 0)
		return FRAME_BAD_FLAGS;
	if (len >= 8 && get_be32(buf + 4) > FRAME_MAX_PAYLOAD)
		return FRAME_TOO_LARGE;
	if (len < FRAME_HEADER_SIZE)
		return FRAME_NEED_MORE;
	uint32_t payload = get_be32(buf + 4);
	uint32_t meta_len = get_be32(buf + 12);
	if (meta_len > payload || meta_len > FRAME_MAX_META)
		return FRAME_BAD_META;
	*frame_size = FRAME_HEADER_SIZE + (size_t)payload;
	return FRAME_OK;
}

enum frame_status frame_decode(const uint8_t *buf, size_t len, struct frame *out,
                               size_t *consumed)
{
	size_t size = 0;
	enum frame_status st = frame_check_header(buf, len, &size);
	if (st != FRAME_OK)
		return st;
	if (len < size)
		return FRAME_NEED_MORE;
	uint32_t payload = get_be32(buf + 4);
	uint32_t meta_len = get_be32(buf + 12);
	out->type = buf[1];
	out->flags = get_be16(buf + 2);
	out->stream_id = get_be32(buf + 8);
	out->meta = buf + FRAME_HEADER_SIZE;
	out->meta_len = meta_len;
	out->body = buf + FRAME_HEADER_SIZE + meta_len;
	out->body_len = payload - meta_len;
	*consumed = size;
	return FRAME_OK;
}

int frame_encode_header(const struct frame *f, uint8_t hdr[FRAME_HEADER_SIZE])
{
	if (!type_known(f->type) || (f->flags & ~(unsigned)FRAME_FLAGS_KNOWN) != 0)
		return -1;
	/* 64-bit sum: two u32 lengths cannot wrap past the limit check. */
	uint64_t payload = (uint64_t)f->meta_len + f->body_len;
	if (f->meta_len > FRAME_MAX_META || payload > FRAME_MAX_PAYLOAD)
		return -1;
	hdr[0] = FRAME_MAGIC;
	hdr[1] = f->type;
	put_be16(hdr + 2, f->flags);
	put_be32(hdr + 4, (uint32_t)payload);
	put_be32(hdr + 8, f->stream_id);
	put_be32(hdr + 12, f->meta_len);
	return 0;
}

const char *frame_status_text(enum frame_status st)
{
	switch (st) {
	case FRAME_OK: return "ok";
	case FRAME_NEED_MORE: return "incomplete frame";
	case FRAME_BAD_MAGIC: return "bad frame magic (stream out of sync)";
	case FRAME_BAD_TYPE: return "unknown frame type";
	case FRAME_BAD_FLAGS: return "unknown frame flags";
	case FRAME_TOO_LARGE: return "frame payload over the maximum size";
	case FRAME_BAD_META: return "frame metadata length out of range";
	}
	return "unknown frame status";
}

const char *frame_type_name(uint8_t type)
{
	switch (type) {
	case FRAME_HELLO: return "hello";
	case FRAME_READY: return "ready";
	case FRAME_CONFIG: return "config";
	case FRAME_LINK: return "link";
	case FRAME_DRAIN: return "drain";
	case FRAME_STATUS: return "status";
	case FRAME_SPAWN: return "spawn";
	case FRAME_REQUEST: return "request";
	case FRAME_RESPONSE: return "response";
	case FRAME_STREAM_OPEN: return "stream_open";
	case FRAME_STREAM_CLOSE: return "stream_close";
	case FRAME_ERROR: return "error";
	default: return "unknown";
	}
}
