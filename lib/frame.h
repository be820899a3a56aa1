/* The one frame codec for the edge/auth/router channels and every supervisor control
 * channel. A frame is a fixed 16-byte header, then `meta_len` bytes of metadata, then the
 * body (JSON-RPC bytes). All integers are big-endian. Decoding is strict: exact sizes,
 * a maximum frame size, unknown types and flags rejected. */
#ifndef MCPGATE_FRAME_H
#define MCPGATE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 16
#define FRAME_MAGIC 0x4dU            /* 'M': catches a desynchronised stream early */
#define FRAME_MAX_META (64u * 1024u)
#define FRAME_MAX_PAYLOAD (16u * 1024u * 1024u) /* meta + body */

/* Wire layout:
 *   0  u8  magic (FRAME_MAGIC)
 *   1  u8  type (enum frame_type)
 *   2  u16 flags (enum frame_flag bits; others must be zero)
 *   4  u32 payload length (meta + body), <= FRAME_MAX_PAYLOAD
 *   8  u32 stream id (a connection or stream at the edge; 0 = the channel itself)
 *  12  u32 meta length, <= payload length and <= FRAME_MAX_META
 */
enum frame_type {
	/* supervisor <-> child control */
	FRAME_HELLO = 1,    /* sup->child: role config slice (body: JSON) */
	FRAME_READY = 2,    /* child->sup: sandbox in place, serving */
	FRAME_CONFIG = 3,   /* sup->child: new config slice after SIGHUP (body: JSON) */
	FRAME_LINK = 4,     /* sup->child: replacement link fd attached (meta: JSON {"link":"..."}) */
	FRAME_DRAIN = 5,    /* sup->child: stop accepting, finish in-flight work, then exit */
	FRAME_STATUS = 6,   /* either way: small JSON status (readiness of others, metrics) */
	FRAME_SPAWN = 7,    /* router->sup: start or stop a per-session server process
	                     * (meta: {"op":"start"|"stop","server":NAME,"session":SID}); the
	                     * answer is a FRAME_LINK "upstream:NAME#SID", or a FRAME_STATUS
	                     * {"spawn_failed":{"server","session","reason"}} */
	/* edge <-> auth <-> router data path */
	FRAME_REQUEST = 16, /* a client message with its request metadata */
	FRAME_RESPONSE = 17, /* a message for the client */
	FRAME_STREAM_OPEN = 18,
	FRAME_STREAM_CLOSE = 19,
	FRAME_ERROR = 20,
};
#define FRAME_TYPE_MAX FRAME_ERROR

enum frame_flag {
	FRAME_FLAG_FINAL = 1u << 0, /* the last frame for this stream id */
	FRAME_FLAG_SSE = 1u << 1,   /* the client accepts an SSE stream */
};
#define FRAME_FLAGS_KNOWN (FRAME_FLAG_FINAL | FRAME_FLAG_SSE)

struct frame {
	uint8_t type;
	uint16_t flags;
	uint32_t stream_id;
	const uint8_t *meta; /* points into the decoded buffer */
	uint32_t meta_len;
	const uint8_t *body;
	uint32_t body_len;
};

enum frame_status {
	FRAME_OK = 0,
	FRAME_NEED_MORE = 1,  /* not an error: wait for more bytes */
	FRAME_BAD_MAGIC = -1,
	FRAME_BAD_TYPE = -2,
	FRAME_BAD_FLAGS = -3,
	FRAME_TOO_LARGE = -4,
	FRAME_BAD_META = -5,
};

/* Decodes one frame from the start of buf. On FRAME_OK sets *consumed to the frame's size;
 * the frame's pointers borrow from buf. Never reads past len. Returns FRAME_NEED_MORE until
 * the whole frame is there, but a bad header field is refused as soon as its bytes are in,
 * without waiting for the payload. */
enum frame_status frame_decode(const uint8_t *buf, size_t len, struct frame *out,
                               size_t *consumed);
/* Checks the header fields present in buf[0..len) (each one as soon as its bytes are there)
 * and, once the whole header is in, sets *frame_size to header + payload. Returns FRAME_OK,
 * FRAME_NEED_MORE (header incomplete) or the error. Lets a reader size its buffer before
 * the payload arrives. */
enum frame_status frame_check_header(const uint8_t *buf, size_t len, size_t *frame_size);
/* Writes a header for the given frame into hdr[FRAME_HEADER_SIZE]; returns 0 or -1 when
 * the sizes, type or flags are out of range. Meta and body are written by the caller. */
int frame_encode_header(const struct frame *f, uint8_t hdr[FRAME_HEADER_SIZE]);
const char *frame_status_text(enum frame_status st);
const char *frame_type_name(uint8_t type);

#endif
