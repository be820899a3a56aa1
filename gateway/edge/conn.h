/* One connection API for the edge over plain TCP and TLS: the owner sees callbacks and byte
 * reads/writes; a small ops table (the transport) hides whether bytes go through mbedtls. */
#ifndef MCPGATE_EDGE_CONN_H
#define MCPGATE_EDGE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/buffer.h>

struct conn;

/* Why a connection ended; given to on_close exactly once. */
enum conn_close_reason {
	CONN_CLOSED_LOCAL,     /* conn_close() completed: output flushed, close_notify sent */
	CONN_CLOSED_ABORTED,   /* conn_abort(): the owner gave up (timeout, limit, shutdown) */
	CONN_CLOSED_IO_ERROR,  /* the socket failed: reset, broken pipe */
	CONN_CLOSED_TLS_ERROR, /* a TLS error after the handshake: bad record, fatal alert */
	CONN_CLOSED_HANDSHAKE, /* the TLS handshake failed: version, suite, curve, ALPN, garbage */
};

/* Results of conn_read() (besides a positive byte count) and of conn_write(). */
enum conn_result {
	CONN_OK = 0,
	CONN_AGAIN = -1, /* nothing more now; on_readable fires when there is */
	CONN_EOF = -2,   /* the peer finished sending (FIN or close_notify); writing still works */
	CONN_ERROR = -3, /* the connection is broken or closing; on_close follows from the loop */
	CONN_FULL = -4,  /* conn_write: the output limit would be exceeded; nothing was queued */
};

/* Callbacks run from the event loop, never from inside a conn_* call, so the owner may call any
 * conn_* function in them. Only on_close is required. */
struct conn_callbacks {
	/* The transport is ready for application data (TLS: handshake done). The owner cancels
	 * its handshake timer here. */
	void (*on_open)(struct conn *c, void *arg);
	/* Input may be available: call conn_read() until it returns CONN_AGAIN (or CONN_EOF), or
	 * call conn_pause_read() first. Stopping early without pausing makes this fire again. */
	void (*on_readable)(struct conn *c, void *arg);
	/* Everything queued with conn_write() has been handed to the kernel. */
	void (*on_writable)(struct conn *c, void *arg);
	/* The connection is finished. `c` is freed when this returns: drop every pointer to it. */
	void (*on_close)(struct conn *c, enum conn_close_reason why, void *arg);
};

/* Default bound on queued output per connection; see conn_set_output_limit(). */
#define CONN_OUTPUT_LIMIT_DEFAULT (256u * 1024u)

/* Takes ownership of `fd` (a connected TCP socket; made non-blocking if it is not) on success;
 * on failure (NULL, errno set) the caller still owns and must close it. `cb` is copied. */
struct conn *conn_new_plain(struct event_base *base, int fd, const struct conn_callbacks *cb,
                            void *arg);

/* Reads up to `len` bytes into `buf`: returns the count (> 0), CONN_AGAIN, CONN_EOF or
 * CONN_ERROR. For TLS this is decrypted application data. */
ssize_t conn_read(struct conn *c, void *buf, size_t len);

/* Queues a copy of `len` bytes; they are flushed from the loop, so many small writes in one
 * callback leave as few syscalls / TLS records. Returns CONN_OK, CONN_FULL (nothing queued:
 * wait for on_writable; one write larger than the limit can never fit) or CONN_ERROR
 * (closing or closed: the bytes are dropped). */
int conn_write(struct conn *c, const void *buf, size_t len);

/* Room left under the output limit, for owners that size their reads by it. */
size_t conn_write_room(const struct conn *c);
size_t conn_output_pending(const struct conn *c);
void conn_set_output_limit(struct conn *c, size_t limit);

/* Backpressure: while paused, on_readable does not fire (input stays in the socket and in
 * the TLS buffer). Resuming re-delivers data the transport already holds. */
void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);

/* Graceful close: stop reading, flush queued output, send close_notify, shut the write side,
 * then discard input briefly (so an unread request does not turn into a reset that destroys
 * the response) before on_close(CONN_CLOSED_LOCAL). Needs no timer from the owner; if the
 * peer does not take the output, the owner's own timer calls conn_abort(). */
void conn_close(struct conn *c);

/* Immediate close: queued output is dropped; on_close(CONN_CLOSED_ABORTED) follows from the
 * loop. Use it for handshake and idle timeouts. Calling it on a closing conn is fine. */
void conn_abort(struct conn *c);

int conn_fd(const struct conn *c);
bool conn_is_open(const struct conn *c); /* handshake done and not closing */
const char *conn_transport_name(const struct conn *c); /* "tcp" or "tls" */
const char *conn_close_reason_name(enum conn_close_reason why);

/* Process-wide counters (the edge is single-threaded); metrics read them, tests assert on them. */
struct conn_counters {
	uint64_t opened;
	uint64_t closed;
	uint64_t handshakes_ok;
	uint64_t handshakes_failed;
	uint64_t want_write;      /* a flush or handshake hit a full socket buffer */
	uint64_t readable_refires; /* on_readable re-run for input the transport already held */
	uint64_t write_full;      /* conn_write refused with CONN_FULL */
};
extern struct conn_counters conn_counters;

/* ---- For transports (conn.c, tls.c) only; owners use the functions above. ---- */

enum conn_state {
	CONN_S_HANDSHAKE, /* transport setup (TLS handshake) in progress */
	CONN_S_OPEN,
	CONN_S_CLOSING,   /* conn_close(): flushing output, then close_notify */
	CONN_S_LINGER,    /* write side shut; discarding input until EOF or timeout */
	CONN_S_DEAD,      /* on_close is due; freed right after it */
};

/* Each op that returns CONN_AGAIN says what it waits for by setting c->io_want (EV_READ or
 * EV_WRITE): TLS may need to write while reading (an alert) or read while writing. */
struct conn_ops {
	const char *name;
	/* NULL when there is nothing to set up. Returns CONN_OK, CONN_AGAIN or CONN_ERROR. */
	int (*handshake)(struct conn *c);
	/* > 0 bytes, CONN_AGAIN, CONN_EOF or CONN_ERROR; on CONN_ERROR sets c->close_reason. */
	ssize_t (*read)(struct conn *c, void *buf, size_t len);
	/* Moves bytes from c->out to the socket until it is empty (CONN_OK) or blocks (CONN_AGAIN);
	 * CONN_ERROR on failure. */
	int (*flush)(struct conn *c);
	/* Say goodbye at the transport level (close_notify). NULL when there is nothing to say. */
	int (*shutdown)(struct conn *c);
	/* Bytes the transport already holds that the socket will not signal again. */
	size_t (*pending)(struct conn *c);
	/* Frees the transport's state and the conn allocation itself. */
	void (*destroy)(struct conn *c);
};

struct conn {
	const struct conn_ops *ops;
	struct event_base *base;
	int fd;
	enum conn_state state;
	enum conn_close_reason close_reason;
	short io_want;        /* what the transport's last CONN_AGAIN waits for */
	short read_wait;      /* what a blocked read waits for: EV_READ, or EV_WRITE (TLS alert) */
	short write_wait;     /* 0 when output may be flushed now, else what the blocked flush waits for */
	unsigned flags;       /* CONN_F_* in conn.c */
	size_t out_limit;
	size_t linger_discarded;
	uint64_t linger_deadline_ms;
	struct evbuffer *out;
	struct conn_callbacks cb;
	void *arg;
	struct event ev_read;
	struct event ev_write;
	struct event ev_defer; /* runs deferred work from the loop: notifications, flushes, close */
};

/* Fills the common part of a conn allocated by a transport; returns 0 or -1 (errno set). */
int conn_init(struct conn *c, struct event_base *base, int fd, const struct conn_ops *ops,
              const struct conn_callbacks *cb, void *arg);

#endif
