/* The connection state machine shared by every transport, driven by libevent, and the plain
 * TCP transport. Owner callbacks run only from event callbacks, so any conn_* call is safe in them. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum {
	CONN_F_READ_PAUSED = 1u << 0,
	CONN_F_EOF = 1u << 1,             /* the peer finished sending */
	CONN_F_NOTIFY_READABLE = 1u << 2, /* the transport holds input: run on_readable from the loop */
	CONN_F_FLUSH_DUE = 1u << 3,       /* output was queued: flush from the loop */
	CONN_F_FINISHING = 1u << 4,       /* on_close is running: schedule nothing more */
};

/* After conn_close(): how long and how much input we discard before closing the socket. */
#define CONN_LINGER_MS 2000
#define CONN_LINGER_MAX_BYTES (256u * 1024u)

/* Enough iovecs to cover a full output buffer of small chains in one sendmsg. */
#define PLAIN_IOV_MAX 64

struct conn_counters conn_counters;

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void conn_schedule(struct conn *c)
{
	if (!(c->flags & CONN_F_FINISHING))
		event_active(&c->ev_defer, 0, 0);
}

static void conn_set_dead(struct conn *c, enum conn_close_reason why)
{
	if (c->state == CONN_S_DEAD)
		return;
	c->state = CONN_S_DEAD;
	c->close_reason = why;
	conn_schedule(c);
}

/* Adds or removes one watcher, touching epoll only when the answer changes. */
static int conn_watch(struct event *ev, bool on, const struct timeval *timeout)
{
	bool pending = event_pending(ev, EV_READ | EV_WRITE | EV_TIMEOUT, NULL);
	if (on && (!pending || timeout))
		return event_add(ev, timeout);
	if (!on && pending)
		return event_del(ev);
	return 0;
}

/* Computes what the socket must be watched for from the state; safe to call anywhere. */
static void conn_update_events(struct conn *c)
{
	short want = 0;
	struct timeval linger_left, *timeout = NULL;

	if (c->flags & CONN_F_FINISHING)
		return;
	switch (c->state) {
	case CONN_S_HANDSHAKE:
	case CONN_S_CLOSING:
		want = c->io_want;
		break;
	case CONN_S_OPEN:
		if (!(c->flags & (CONN_F_READ_PAUSED | CONN_F_EOF)) && c->cb.on_readable)
			want |= c->read_wait;
		if (c->write_wait && evbuffer_get_length(c->out) > 0)
			want |= c->write_wait;
		break;
	case CONN_S_LINGER: {
		uint64_t now = monotonic_ms();
		uint64_t left = c->linger_deadline_ms > now ? c->linger_deadline_ms - now : 0;
		linger_left.tv_sec = (time_t)(left / 1000u);
		linger_left.tv_usec = (suseconds_t)(left % 1000u) * 1000;
		timeout = &linger_left;
		want = EV_READ;
		break;
	}
	case CONN_S_DEAD:
		break;
	}
	if (conn_watch(&c->ev_read, want & EV_READ, timeout) != 0 ||
	    conn_watch(&c->ev_write, want & EV_WRITE, NULL) != 0) {
		log_error("conn_watch_failed", LOG_STR("transport", c->ops->name));
		event_del(&c->ev_read);
		event_del(&c->ev_write);
		conn_set_dead(c, CONN_CLOSED_IO_ERROR);
	}
}

/* Runs on_readable, then re-arms it from the loop if the transport still holds decrypted input:
 * the socket has already been drained of it and will not signal again. */
static void conn_notify_readable(struct conn *c)
{
	if (c->flags & (CONN_F_READ_PAUSED | CONN_F_EOF) || !c->cb.on_readable)
		return;
	c->cb.on_readable(c, c->arg);
	if (c->state == CONN_S_OPEN && !(c->flags & (CONN_F_READ_PAUSED | CONN_F_EOF)) &&
	    c->read_wait == EV_READ && c->ops->pending(c) > 0) {
		c->flags |= CONN_F_NOTIFY_READABLE;
		conn_counters.readable_refires++;
		conn_schedule(c);
	}
}

/* Returns false when the connection died. */
static bool conn_flush_output(struct conn *c)
{
	if (evbuffer_get_length(c->out) == 0)
		return true;
	int r = c->ops->flush(c);
	if (r == CONN_AGAIN) {
		c->write_wait = c->io_want ? c->io_want : EV_WRITE;
		if (c->write_wait & EV_WRITE)
			conn_counters.want_write++;
		return true;
	}
	if (r != CONN_OK) {
		conn_set_dead(c, c->close_reason);
		return false;
	}
	c->write_wait = 0;
	if (c->state == CONN_S_OPEN && c->cb.on_writable)
		c->cb.on_writable(c, c->arg);
	return true;
}

static void conn_step_handshake(struct conn *c)
{
	int r = c->ops->handshake ? c->ops->handshake(c) : CONN_OK;
	if (r == CONN_AGAIN) {
		if (c->io_want & EV_WRITE)
			conn_counters.want_write++;
		return;
	}
	if (r != CONN_OK) {
		conn_counters.handshakes_failed++;
		conn_set_dead(c, CONN_CLOSED_HANDSHAKE);
		return;
	}
	if (c->ops->handshake)
		conn_counters.handshakes_ok++;
	c->state = CONN_S_OPEN;
	c->io_want = 0;
	if (evbuffer_get_length(c->out) > 0)
		c->flags |= CONN_F_FLUSH_DUE;
	if (c->ops->pending(c) > 0)
		c->flags |= CONN_F_NOTIFY_READABLE;
	if (c->cb.on_open)
		c->cb.on_open(c, c->arg);
}

static void conn_step_open(struct conn *c, short ready)
{
	bool try_read = (ready & c->read_wait) != 0;
	bool try_flush = false;

	if (c->flags & CONN_F_NOTIFY_READABLE) {
		c->flags &= ~CONN_F_NOTIFY_READABLE;
		try_read = true;
	}
	if (c->write_wait && (ready & c->write_wait)) {
		c->write_wait = 0;
		try_flush = true;
	}
	if (c->flags & CONN_F_FLUSH_DUE) {
		c->flags &= ~CONN_F_FLUSH_DUE;
		try_flush |= c->write_wait == 0;
	}
	/* Output first: it makes the room an owner paused for. */
	if (try_flush && !conn_flush_output(c))
		return;
	if (try_read && c->state == CONN_S_OPEN)
		conn_notify_readable(c);
}

static void conn_step_closing(struct conn *c)
{
	if (evbuffer_get_length(c->out) > 0) {
		int r = c->ops->flush(c);
		if (r == CONN_AGAIN) {
			if (c->io_want & EV_WRITE)
				conn_counters.want_write++;
			return;
		}
		if (r != CONN_OK) {
			conn_set_dead(c, c->close_reason);
			return;
		}
	}
	if (c->ops->shutdown) {
		int r = c->ops->shutdown(c);
		if (r == CONN_AGAIN)
			return;
		/* A failed goodbye after our output reached the kernel is still our close. */
		if (r != CONN_OK) {
			conn_set_dead(c, CONN_CLOSED_LOCAL);
			return;
		}
	}
	if (shutdown(c->fd, SHUT_WR) != 0) {
		conn_set_dead(c, CONN_CLOSED_LOCAL);
		return;
	}
	c->state = CONN_S_LINGER;
	c->io_want = 0;
	c->linger_discarded = 0;
	c->linger_deadline_ms = monotonic_ms() + CONN_LINGER_MS;
}

/* Raw reads bypass the transport: whatever the peer still sends is thrown away. */
static void conn_step_linger(struct conn *c, short ready)
{
	char sink[4096];

	if ((ready & EV_TIMEOUT) || monotonic_ms() >= c->linger_deadline_ms) {
		conn_set_dead(c, CONN_CLOSED_LOCAL);
		return;
	}
	for (;;) {
		ssize_t n = recv(c->fd, sink, sizeof sink, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			conn_set_dead(c, CONN_CLOSED_LOCAL);
			return;
		}
		c->linger_discarded += (size_t)n;
		if (c->linger_discarded > CONN_LINGER_MAX_BYTES) {
			conn_set_dead(c, CONN_CLOSED_LOCAL);
			return;
		}
	}
}

/* Calls on_close and frees everything: the last thing that happens to a conn. */
static void conn_finish(struct conn *c)
{
	c->flags |= CONN_F_FINISHING;
	event_del(&c->ev_read);
	event_del(&c->ev_write);
	event_del(&c->ev_defer);
	conn_counters.closed++;
	c->cb.on_close(c, c->close_reason, c->arg);
	evbuffer_free(c->out);
	close(c->fd);
	c->ops->destroy(c);
}

static void conn_drive(struct conn *c, short ready)
{
	if (c->state == CONN_S_HANDSHAKE) {
		conn_step_handshake(c);
		ready = 0;
	}
	if (c->state == CONN_S_OPEN)
		conn_step_open(c, ready);
	if (c->state == CONN_S_CLOSING) {
		conn_step_closing(c);
		ready = 0;
	}
	if (c->state == CONN_S_LINGER)
		conn_step_linger(c, ready);
	if (c->state == CONN_S_DEAD) {
		conn_finish(c);
		return;
	}
	conn_update_events(c);
}

static void conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	conn_drive(arg, what);
}

static void conn_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_drive(arg, 0);
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int conn_init(struct conn *c, struct event_base *base, int fd, const struct conn_ops *ops,
              const struct conn_callbacks *cb, void *arg)
{
	if (!base || fd < 0 || !ops || !cb || !cb->on_close) {
		errno = EINVAL;
		return -1;
	}
	if (set_nonblocking(fd) != 0)
		return -1;
	/* Writes are already batched per loop turn; Nagle would only delay the last segment.
	 * Not fatal: a unix socket has no such option. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	c->ops = ops;
	c->base = base;
	c->fd = fd;
	c->state = CONN_S_HANDSHAKE;
	c->cb = *cb;
	c->arg = arg;
	c->read_wait = EV_READ;
	c->out_limit = CONN_OUTPUT_LIMIT_DEFAULT;
	c->out = evbuffer_new();
	if (!c->out) {
		errno = ENOMEM;
		return -1;
	}
	errno = 0;
	if (event_assign(&c->ev_read, base, fd, EV_READ | EV_PERSIST, conn_io_cb, c) != 0 ||
	    event_assign(&c->ev_write, base, fd, EV_WRITE | EV_PERSIST, conn_io_cb, c) != 0 ||
	    event_assign(&c->ev_defer, base, -1, 0, conn_defer_cb, c) != 0)
		goto fail;
	if (ops->handshake) {
		/* The client speaks first; nothing is allocated for it until it does. */
		c->io_want = EV_READ;
		if (conn_watch(&c->ev_read, true, NULL) != 0)
			goto fail;
	} else {
		/* on_open still comes from the loop, as for TLS, so owners have one code path. */
		event_active(&c->ev_defer, 0, 0);
	}
	conn_counters.opened++;
	return 0;
fail:;
	int saved = errno ? errno : EINVAL;
	event_del(&c->ev_read);
	event_del(&c->ev_defer);
	evbuffer_free(c->out);
	c->out = NULL;
	errno = saved;
	return -1;
}

ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
	if (c->state == CONN_S_HANDSHAKE)
		return CONN_AGAIN;
	if (c->state != CONN_S_OPEN)
		return CONN_ERROR;
	if (c->flags & CONN_F_EOF)
		return CONN_EOF;
	if (len == 0)
		return CONN_AGAIN;

	ssize_t n = c->ops->read(c, buf, len);
	if (n > 0) {
		c->read_wait = EV_READ;
		return n;
	}
	switch (n) {
	case CONN_AGAIN:
		c->read_wait = c->io_want ? c->io_want : EV_READ;
		break;
	case CONN_EOF:
		c->flags |= CONN_F_EOF;
		break;
	default:
		n = CONN_ERROR;
		conn_set_dead(c, c->close_reason);
		break;
	}
	conn_update_events(c);
	return n;
}

int conn_write(struct conn *c, const void *buf, size_t len)
{
	if (c->state != CONN_S_HANDSHAKE && c->state != CONN_S_OPEN)
		return CONN_ERROR;
	if (len == 0)
		return CONN_OK;
	size_t queued = evbuffer_get_length(c->out);
	if (len > c->out_limit || queued > c->out_limit - len) {
		conn_counters.write_full++;
		return CONN_FULL;
	}
	if (evbuffer_add(c->out, buf, len) != 0) {
		log_error("conn_write_nomem", LOG_INT("bytes", len));
		conn_set_dead(c, CONN_CLOSED_ABORTED);
		return CONN_ERROR;
	}
	if (c->state == CONN_S_OPEN && !c->write_wait && !(c->flags & CONN_F_FLUSH_DUE)) {
		c->flags |= CONN_F_FLUSH_DUE;
		conn_schedule(c);
	}
	return CONN_OK;
}

size_t conn_output_pending(const struct conn *c)
{
	return evbuffer_get_length(c->out);
}

size_t conn_write_room(const struct conn *c)
{
	size_t queued = evbuffer_get_length(c->out);
	return queued < c->out_limit ? c->out_limit - queued : 0;
}

void conn_set_output_limit(struct conn *c, size_t limit)
{
	c->out_limit = limit;
}

void conn_pause_read(struct conn *c)
{
	c->flags |= CONN_F_READ_PAUSED;
	conn_update_events(c);
}

void conn_resume_read(struct conn *c)
{
	if (!(c->flags & CONN_F_READ_PAUSED))
		return;
	c->flags &= ~CONN_F_READ_PAUSED;
	if (c->state == CONN_S_OPEN && c->ops->pending(c) > 0) {
		c->flags |= CONN_F_NOTIFY_READABLE;
		conn_schedule(c);
	}
	conn_update_events(c);
}

void conn_close(struct conn *c)
{
	if (c->state == CONN_S_HANDSHAKE) {
		conn_set_dead(c, CONN_CLOSED_LOCAL);
		conn_update_events(c);
		return;
	}
	if (c->state != CONN_S_OPEN)
		return;
	c->state = CONN_S_CLOSING;
	c->io_want = 0;
	c->flags &= ~(CONN_F_NOTIFY_READABLE | CONN_F_FLUSH_DUE);
	conn_update_events(c);
	conn_schedule(c);
}

void conn_abort(struct conn *c)
{
	conn_set_dead(c, CONN_CLOSED_ABORTED);
	conn_update_events(c);
}

int conn_fd(const struct conn *c)
{
	return c->fd;
}

bool conn_is_open(const struct conn *c)
{
	return c->state == CONN_S_OPEN;
}

const char *conn_transport_name(const struct conn *c)
{
	return c->ops->name;
}

const char *conn_close_reason_name(enum conn_close_reason why)
{
	switch (why) {
	case CONN_CLOSED_LOCAL: return "closed";
	case CONN_CLOSED_ABORTED: return "aborted";
	case CONN_CLOSED_IO_ERROR: return "io_error";
	case CONN_CLOSED_TLS_ERROR: return "tls_error";
	case CONN_CLOSED_HANDSHAKE: return "handshake_failed";
	}
	return "unknown";
}

/* ---- plain TCP ---- */

static ssize_t plain_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n > 0)
		return n;
	if (n == 0)
		return CONN_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		c->io_want = EV_READ;
		return CONN_AGAIN;
	}
	log_debug("conn_read_failed", LOG_STR("transport", "tcp"), LOG_STR("error", strerror(errno)));
	c->close_reason = CONN_CLOSED_IO_ERROR;
	return CONN_ERROR;
}

/* One sendmsg over many queued chains (writev with MSG_NOSIGNAL: no SIGPIPE to handle). */
static int plain_flush(struct conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		struct evbuffer_iovec vec[PLAIN_IOV_MAX];
		struct iovec iov[PLAIN_IOV_MAX];
		int n = evbuffer_peek(c->out, -1, NULL, vec, PLAIN_IOV_MAX);
		if (n > PLAIN_IOV_MAX)
			n = PLAIN_IOV_MAX;
		size_t total = 0;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = vec[i].iov_base;
			iov[i].iov_len = vec[i].iov_len;
			total += vec[i].iov_len;
		}
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				c->io_want = EV_WRITE;
				return CONN_AGAIN;
			}
			log_debug("conn_write_failed", LOG_STR("transport", "tcp"),
			          LOG_STR("error", strerror(errno)));
			c->close_reason = CONN_CLOSED_IO_ERROR;
			return CONN_ERROR;
		}
		evbuffer_drain(c->out, (size_t)sent);
		if ((size_t)sent < total) {
			/* The socket buffer is full; asking again now would only return EAGAIN. */
			c->io_want = EV_WRITE;
			return CONN_AGAIN;
		}
	}
	return CONN_OK;
}

static size_t plain_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static void plain_destroy(struct conn *c)
{
	free(c);
}

static const struct conn_ops plain_ops = {
	.name = "tcp",
	.handshake = NULL,
	.read = plain_read,
	.flush = plain_flush,
	.shutdown = NULL,
	.pending = plain_pending,
	.destroy = plain_destroy,
};

struct conn *conn_new_plain(struct event_base *base, int fd, const struct conn_callbacks *cb,
                            void *arg)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (conn_init(c, base, fd, &plain_ops, cb, arg) != 0) {
		int saved = errno;
		free(c);
		errno = saved;
		return NULL;
	}
	return c;
}
