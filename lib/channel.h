/* A framed channel over a non-blocking unix stream socket on a libevent loop: frames are
 * decoded with frame.h, file descriptors can ride along (SCM_RIGHTS, queued as imsg does),
 * writes are batched, and both directions are bounded: when the output exceeds its high
 * watermark the owner is told to stop producing (back-pressure) until it drains. */
#ifndef MCPGATE_CHANNEL_H
#define MCPGATE_CHANNEL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include "frame.h"

struct channel;

struct channel_callbacks {
	/* One complete frame; pointers valid only during the call. A frame of type FRAME_LINK
	 * may take the next passed fd with channel_take_fd(). */
	void (*on_frame)(struct channel *ch, const struct frame *f, void *arg);
	/* The peer closed, or sent a malformed frame (reason says which). The channel is dead;
	 * the owner frees it. */
	void (*on_close)(struct channel *ch, const char *reason, void *arg);
	/* Output fell below the low watermark after having been above the high one. */
	void (*on_drain)(struct channel *ch, void *arg);
};

/* Takes ownership of fd (made non-blocking here; closed on failure, which returns NULL).
 * `name` is for logs ("edge->auth"). */
struct channel *channel_new(struct event_base *base, int fd, const char *name,
                            const struct channel_callbacks *cb, void *arg);
void channel_free(struct channel *ch);

/* Queues a frame (header + meta + body copied into the output buffer); fd_to_pass >= 0 is
 * sent with it and closed here after sending. Returns 0, or -1 if the channel is dead or
 * the output is over its hard limit (the caller fails that request). The channel owns
 * fd_to_pass from this call on, even when it returns -1 (it is closed then). Nothing is
 * written before the event loop runs, so many frames go out in one system call. */
int channel_send(struct channel *ch, uint8_t type, uint16_t flags, uint32_t stream_id,
                 const void *meta, size_t meta_len, const void *body, size_t body_len,
                 int fd_to_pass);
/* True from output going above the high watermark until on_drain (below the low one):
 * stop reading from producers. */
bool channel_congested(const struct channel *ch);
/* Stops/starts reading input (back-pressure toward the peer). */
void channel_pause_input(struct channel *ch, bool paused);
/* The oldest fd received and not yet taken, or -1. The caller owns it. */
int channel_take_fd(struct channel *ch);
const char *channel_name(const struct channel *ch);
size_t channel_output_pending(const struct channel *ch);

/* Blocking helpers for start-up, before the event loop runs: read exactly one frame
 * (body copied into *body, malloc'd, NUL-terminated) with a timeout. Returns 0 or -1.
 * The read takes no byte past the frame (a channel can take the fd over afterwards); meta
 * is malloc'd and NUL-terminated like body; any output pointer may be NULL; passed fds are
 * closed; timeout_ms < 0 waits forever; errno is ETIMEDOUT, ECONNRESET (EOF) or EPROTO
 * (malformed). The write gives up after 10 s of a full socket. */
int channel_read_frame_blocking(int fd, int timeout_ms, uint8_t *type, char **meta,
                                size_t *meta_len, char **body, size_t *body_len);
int channel_write_frame_blocking(int fd, uint8_t type, uint32_t stream_id, const void *meta,
                                 size_t meta_len, const void *body, size_t body_len);

#endif
