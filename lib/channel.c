/* The framed channel: bounded input decoded into frames, passed fds queued in arrival order,
 * output batched in an evbuffer and flushed with one sendmsg per many frames. */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "log.h"

/* Input: one whole frame of the largest size fits; memory grows only as frames need it. */
#define IN_MAX ((size_t)FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD)
#define IN_READ_MIN (64u * 1024u)       /* free room wanted before each read */
#define IN_SHRINK_ABOVE (1u * 1024u * 1024u) /* give back a big buffer once it empties */
/* Passed fds waiting for channel_take_fd; a peer that sends more is misbehaving. */
#define IN_FDS_MAX 16
#define OUT_FDS_MAX 64
/* Output: congested above HIGH until below LOW (hysteresis, so on_drain does not flap). */
#define OUT_HIGH_WATER (4u * 1024u * 1024u)
#define OUT_LOW_WATER (1u * 1024u * 1024u)
#define OUT_HARD_LIMIT (64u * 1024u * 1024u)
#define OUT_IOV_MAX 64
#define OUT_SENDS_PER_EVENT 16 /* then yield to the loop, so one channel cannot starve others */
#define BLOCKING_WRITE_TIMEOUT_MS 10000

/* An fd to send, attached to the output byte at absolute stream offset `at`. */
struct out_fd {
	uint64_t at;
	int fd;
};

struct channel {
	struct event_base *base;
	int fd;
	char name[48];
	struct channel_callbacks cb;
	void *arg;
	struct event *read_ev;
	struct event *write_ev;
	struct event *resume_ev; /* decodes input buffered while paused, without a new read */

	uint8_t *in;
	size_t in_len, in_cap;
	int in_fds[IN_FDS_MAX]; /* ring */
	unsigned in_fd_head, in_fd_count;

	struct evbuffer *out;
	uint64_t out_queued; /* bytes ever queued; with out_sent, places passed fds in the stream */
	uint64_t out_sent;
	struct out_fd out_fds[OUT_FDS_MAX]; /* ring, in stream order */
	unsigned out_fd_head, out_fd_count;

	bool paused;
	bool congested;
	bool dead;         /* closed or being freed: no more callbacks, sends fail */
	bool free_pending; /* channel_free was called from inside one of our callbacks */
	unsigned busy;     /* depth of our own event handlers on the stack */
};

static void channel_destroy(struct channel *ch);

/* Callbacks may free the channel; every handler brackets its work with enter/leave and the
 * real free happens in leave, once no frame of ours is on the stack. */
static void enter(struct channel *ch)
{
	ch->busy++;
}

static void leave(struct channel *ch)
{
	if (--ch->busy == 0 && ch->free_pending)
		channel_destroy(ch);
}

static void stop_events(struct channel *ch)
{
	event_del(ch->read_ev);
	event_del(ch->write_ev);
	event_del(ch->resume_ev);
}

/* Only called between enter and leave, so the owner's channel_free in on_close is deferred;
 * callers check ch->dead afterwards and stop. */
static void fail(struct channel *ch, const char *reason)
{
	if (ch->dead)
		return;
	ch->dead = true;
	stop_events(ch);
	if (strcmp(reason, "peer closed") == 0)
		log_info("channel_closed", LOG_STR("channel", ch->name), LOG_STR("reason", reason));
	else
		log_warn("channel_failed", LOG_STR("channel", ch->name), LOG_STR("reason", reason));
	if (ch->cb.on_close)
		ch->cb.on_close(ch, reason, ch->arg);
}

/* ---- input ---- */

static void close_fds_in_msg(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
			close(fd);
		}
	}
}

/* Queues every fd in msg in order; returns NULL, or the reason to fail (the fds that did not
 * fit are closed, so nothing leaks). */
static const char *queue_received_fds(struct channel *ch, struct msghdr *msg)
{
	const char *err = NULL;
	if (msg->msg_flags & MSG_CTRUNC)
		err = "passed fds truncated (too many in one message)";
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
			if (err || ch->in_fd_count == IN_FDS_MAX) {
				if (!err)
					err = "too many passed fds queued";
				close(fd);
				continue;
			}
			ch->in_fds[(ch->in_fd_head + ch->in_fd_count) % IN_FDS_MAX] = fd;
			ch->in_fd_count++;
		}
	}
	return err;
}

/* Makes room for the next read: at least IN_READ_MIN free bytes, and the whole current frame
 * once its header says how large it is. Never beyond IN_MAX. */
static int ensure_input_room(struct channel *ch)
{
	size_t want = ch->in_len + IN_READ_MIN;
	size_t frame_size = 0;
	if (frame_check_header(ch->in, ch->in_len, &frame_size) == FRAME_OK && frame_size > want)
		want = frame_size;
	if (want > IN_MAX)
		want = IN_MAX;
	if (ch->in_cap >= want)
		return 0;
	size_t cap = ch->in_cap ? ch->in_cap : IN_READ_MIN;
	while (cap < want)
		cap *= 2;
	if (cap > IN_MAX)
		cap = IN_MAX;
	uint8_t *p = realloc(ch->in, cap);
	if (!p)
		return -1;
	ch->in = p;
	ch->in_cap = cap;
	return 0;
}

/* Delivers every complete frame buffered; stops when paused or dead. */
static void process_input(struct channel *ch)
{
	if (ch->in_len == 0)
		return; /* ch->in may be NULL: no buffer until the first read */
	size_t off = 0;
	while (!ch->dead && !ch->paused) {
		struct frame f;
		size_t used = 0;
		enum frame_status st = frame_decode(ch->in + off, ch->in_len - off, &f, &used);
		if (st == FRAME_NEED_MORE)
			break;
		if (st != FRAME_OK) {
			fail(ch, frame_status_text(st));
			return;
		}
		off += used;
		if (ch->cb.on_frame)
			ch->cb.on_frame(ch, &f, ch->arg);
	}
	if (off == 0)
		return;
	memmove(ch->in, ch->in + off, ch->in_len - off);
	ch->in_len -= off;
	if (ch->in_len == 0 && ch->in_cap > IN_SHRINK_ABOVE) {
		free(ch->in);
		ch->in = NULL;
		ch->in_cap = 0;
	}
}

static void read_once(struct channel *ch)
{
	if (ensure_input_room(ch) != 0) {
		fail(ch, "out of memory for input");
		return;
	}
	if (ch->in_len == ch->in_cap)
		return; /* a full buffer always holds a complete frame: decode first */
	struct iovec iov = { .iov_base = ch->in + ch->in_len, .iov_len = ch->in_cap - ch->in_len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * IN_FDS_MAX)];
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	                      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	ssize_t n = recvmsg(ch->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		fail(ch, errno == ECONNRESET ? "peer closed" : "read error");
		return;
	}
	const char *err = queue_received_fds(ch, &msg);
	if (err) {
		fail(ch, err);
		return;
	}
	if (n == 0) {
		fail(ch, "peer closed");
		return;
	}
	ch->in_len += (size_t)n;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct channel *ch = arg;
	enter(ch);
	/* Input left over from a pause goes first, so frames keep their order. */
	process_input(ch);
	if (!ch->dead && !ch->paused) {
		read_once(ch);
		process_input(ch);
	}
	leave(ch);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct channel *ch = arg;
	enter(ch);
	process_input(ch);
	leave(ch);
}

/* ---- output ---- */

/* Fills iov with at most `limit` bytes from the front of the output. */
static int peek_output(struct channel *ch, size_t limit, struct iovec *iov)
{
	struct evbuffer_iovec ext[OUT_IOV_MAX];
	int n = evbuffer_peek(ch->out, (ev_ssize_t)limit, NULL, ext, OUT_IOV_MAX);
	if (n > OUT_IOV_MAX)
		n = OUT_IOV_MAX;
	size_t left = limit;
	int used = 0;
	for (int i = 0; i < n && left > 0; i++) {
		size_t len = ext[i].iov_len < left ? ext[i].iov_len : left;
		iov[used].iov_base = ext[i].iov_base;
		iov[used].iov_len = len;
		left -= len;
		used++;
	}
	return used;
}

/* One sendmsg: everything up to the next frame that carries an fd, or, when that frame is
 * next, its fd with its first bytes (SCM_RIGHTS attaches to the first byte sent). Returns
 * bytes sent, 0 when the socket is full, -1 after fail(). */
static ssize_t send_some(struct channel *ch)
{
	size_t pending = evbuffer_get_length(ch->out);
	size_t limit = pending;
	int pass_fd = -1;
	if (ch->out_fd_count > 0) {
		const struct out_fd *next = &ch->out_fds[ch->out_fd_head];
		if (next->at == ch->out_sent) {
			pass_fd = next->fd;
			if (ch->out_fd_count > 1) {
				const struct out_fd *after =
					&ch->out_fds[(ch->out_fd_head + 1) % OUT_FDS_MAX];
				limit = (size_t)(after->at - ch->out_sent);
			}
		} else {
			limit = (size_t)(next->at - ch->out_sent);
		}
	}
	if (limit > pending)
		limit = pending;
	struct iovec iov[OUT_IOV_MAX];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)peek_output(ch, limit, iov) };
	if (pass_fd >= 0) {
		memset(&control, 0, sizeof control);
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof control.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
	}
	ssize_t n;
	do {
		n = sendmsg(ch->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		fail(ch, errno == EPIPE || errno == ECONNRESET ? "peer closed" : "write error");
		return -1;
	}
	if (pass_fd >= 0) {
		/* The kernel holds its own reference while the fd is in flight. */
		close(pass_fd);
		ch->out_fd_head = (ch->out_fd_head + 1) % OUT_FDS_MAX;
		ch->out_fd_count--;
	}
	evbuffer_drain(ch->out, (size_t)n);
	ch->out_sent += (uint64_t)n;
	return n;
}

static void flush_output(struct channel *ch)
{
	for (int i = 0; i < OUT_SENDS_PER_EVENT && evbuffer_get_length(ch->out) > 0; i++) {
		ssize_t n = send_some(ch);
		if (n < 0)
			return;
		if (n == 0)
			break;
	}
	size_t pending = evbuffer_get_length(ch->out);
	if (pending == 0)
		event_del(ch->write_ev);
	if (ch->congested && pending < OUT_LOW_WATER) {
		ch->congested = false;
		if (ch->cb.on_drain)
			ch->cb.on_drain(ch, ch->arg);
	}
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct channel *ch = arg;
	enter(ch);
	if (!ch->dead)
		flush_output(ch);
	leave(ch);
}

/* ---- public ---- */

struct channel *channel_new(struct event_base *base, int fd, const char *name,
                            const struct channel_callbacks *cb, void *arg)
{
	struct channel *ch = calloc(1, sizeof *ch);
	if (!ch) {
		close(fd);
		return NULL;
	}
	ch->base = base;
	ch->fd = fd;
	snprintf(ch->name, sizeof ch->name, "%s", name ? name : "channel");
	ch->cb = *cb;
	ch->arg = arg;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_error("channel_new_failed", LOG_STR("channel", ch->name),
		          LOG_STR("error", strerror(errno)));
		goto fail;
	}
	ch->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, ch);
	ch->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, ch);
	ch->resume_ev = event_new(base, -1, 0, on_resume, ch);
	ch->out = evbuffer_new();
	if (!ch->read_ev || !ch->write_ev || !ch->resume_ev || !ch->out ||
	    event_add(ch->read_ev, NULL) != 0)
		goto fail;
	return ch;
fail:
	channel_destroy(ch);
	return NULL;
}

static void channel_destroy(struct channel *ch)
{
	if (ch->read_ev)
		event_free(ch->read_ev);
	if (ch->write_ev)
		event_free(ch->write_ev);
	if (ch->resume_ev)
		event_free(ch->resume_ev);
	if (ch->out)
		evbuffer_free(ch->out);
	while (ch->in_fd_count > 0) {
		close(ch->in_fds[ch->in_fd_head]);
		ch->in_fd_head = (ch->in_fd_head + 1) % IN_FDS_MAX;
		ch->in_fd_count--;
	}
	while (ch->out_fd_count > 0) {
		close(ch->out_fds[ch->out_fd_head].fd);
		ch->out_fd_head = (ch->out_fd_head + 1) % OUT_FDS_MAX;
		ch->out_fd_count--;
	}
	if (ch->fd >= 0)
		close(ch->fd);
	free(ch->in);
	free(ch);
}

void channel_free(struct channel *ch)
{
	if (!ch)
		return;
	if (ch->busy > 0) {
		ch->dead = true;
		ch->free_pending = true;
		stop_events(ch);
		return;
	}
	channel_destroy(ch);
}

int channel_send(struct channel *ch, uint8_t type, uint16_t flags, uint32_t stream_id,
                 const void *meta, size_t meta_len, const void *body, size_t body_len,
                 int fd_to_pass)
{
	int err = 0;
	uint8_t hdr[FRAME_HEADER_SIZE];
	size_t pending = evbuffer_get_length(ch->out);
	if (ch->dead) {
		err = EPIPE;
	} else if (meta_len > FRAME_MAX_PAYLOAD || body_len > FRAME_MAX_PAYLOAD) {
		err = EMSGSIZE;
	} else {
		struct frame f = { .type = type, .flags = flags, .stream_id = stream_id,
		                   .meta_len = (uint32_t)meta_len, .body_len = (uint32_t)body_len };
		if (frame_encode_header(&f, hdr) != 0)
			err = EINVAL;
	}
	size_t size = FRAME_HEADER_SIZE + meta_len + body_len;
	if (!err && pending + size > OUT_HARD_LIMIT)
		err = ENOBUFS;
	if (!err && fd_to_pass >= 0 && ch->out_fd_count == OUT_FDS_MAX)
		err = ENOBUFS;
	/* Reserve first, so the three adds below cannot fail halfway and desync the stream. */
	if (!err && (evbuffer_expand(ch->out, size) != 0 || event_add(ch->write_ev, NULL) != 0))
		err = ENOMEM;
	if (err) {
		if (fd_to_pass >= 0)
			close(fd_to_pass);
		errno = err;
		return -1;
	}
	if (fd_to_pass >= 0) {
		struct out_fd *slot = &ch->out_fds[(ch->out_fd_head + ch->out_fd_count) % OUT_FDS_MAX];
		slot->at = ch->out_queued;
		slot->fd = fd_to_pass;
		ch->out_fd_count++;
	}
	evbuffer_add(ch->out, hdr, sizeof hdr);
	if (meta_len)
		evbuffer_add(ch->out, meta, meta_len);
	if (body_len)
		evbuffer_add(ch->out, body, body_len);
	ch->out_queued += size;
	if (pending + size > OUT_HIGH_WATER)
		ch->congested = true;
	return 0;
}

bool channel_congested(const struct channel *ch)
{
	return ch->congested;
}

void channel_pause_input(struct channel *ch, bool paused)
{
	if (ch->dead || ch->paused == paused)
		return;
	ch->paused = paused;
	if (paused) {
		event_del(ch->read_ev);
		event_del(ch->resume_ev);
		return;
	}
	if (event_add(ch->read_ev, NULL) != 0)
		log_error("channel_resume_failed", LOG_STR("channel", ch->name));
	/* Frames already buffered must not wait for the peer to send more. */
	if (ch->in_len > 0)
		event_active(ch->resume_ev, EV_READ, 0);
}

int channel_take_fd(struct channel *ch)
{
	if (ch->in_fd_count == 0)
		return -1;
	int fd = ch->in_fds[ch->in_fd_head];
	ch->in_fd_head = (ch->in_fd_head + 1) % IN_FDS_MAX;
	ch->in_fd_count--;
	return fd;
}

const char *channel_name(const struct channel *ch)
{
	return ch->name;
}

size_t channel_output_pending(const struct channel *ch)
{
	return evbuffer_get_length(ch->out);
}

/* ---- blocking helpers (start-up, before the loop runs) ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline (-1: none) passes. */
static int wait_ready(int fd, short events, int64_t deadline)
{
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			timeout = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, timeout);
		if (r > 0)
			return 0; /* errors and hangups show up in the next recv/send */
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Reads exactly len bytes and never more, so whatever follows stays in the socket for the
 * channel that takes over the fd. Passed fds are closed: start-up frames carry none. */
static int read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t got = 0;
	while (got < len) {
		struct iovec iov = { .iov_base = buf + got, .iov_len = len - got };
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * IN_FDS_MAX)];
		} control;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
		                      .msg_control = control.buf,
		                      .msg_controllen = sizeof control.buf };
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n > 0) {
			close_fds_in_msg(&msg);
			got += (size_t)n;
		} else if (n == 0) {
			errno = ECONNRESET;
			return -1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_ready(fd, POLLIN, deadline) != 0)
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

static char *copy_with_nul(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

int channel_read_frame_blocking(int fd, int timeout_ms, uint8_t *type, char **meta,
                                size_t *meta_len, char **body, size_t *body_len)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	uint8_t hdr[FRAME_HEADER_SIZE];
	size_t size = 0;
	if (read_exact(fd, hdr, sizeof hdr, deadline) != 0)
		return -1;
	if (frame_check_header(hdr, sizeof hdr, &size) != FRAME_OK) {
		errno = EPROTO;
		return -1;
	}
	uint8_t *raw = malloc(size);
	if (!raw)
		return -1;
	memcpy(raw, hdr, sizeof hdr);
	struct frame f;
	size_t used;
	if (read_exact(fd, raw + sizeof hdr, size - sizeof hdr, deadline) != 0) {
		free(raw);
		return -1;
	}
	if (frame_decode(raw, size, &f, &used) != FRAME_OK) {
		free(raw); /* cannot happen once the header passed; kept for safety */
		errno = EPROTO;
		return -1;
	}
	char *m = meta ? copy_with_nul(f.meta, f.meta_len) : NULL;
	char *b = body ? copy_with_nul(f.body, f.body_len) : NULL;
	if ((meta && !m) || (body && !b)) {
		free(m);
		free(b);
		free(raw);
		errno = ENOMEM;
		return -1;
	}
	if (type)
		*type = f.type;
	if (meta)
		*meta = m;
	if (meta_len)
		*meta_len = f.meta_len;
	if (body)
		*body = b;
	if (body_len)
		*body_len = f.body_len;
	free(raw);
	return 0;
}

int channel_write_frame_blocking(int fd, uint8_t type, uint32_t stream_id, const void *meta,
                                 size_t meta_len, const void *body, size_t body_len)
{
	if (meta_len > FRAME_MAX_PAYLOAD || body_len > FRAME_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	struct frame f = { .type = type, .stream_id = stream_id,
	                   .meta_len = (uint32_t)meta_len, .body_len = (uint32_t)body_len };
	uint8_t hdr[FRAME_HEADER_SIZE];
	if (frame_encode_header(&f, hdr) != 0) {
		errno = EINVAL;
		return -1;
	}
	struct iovec iov[3] = {
		{ .iov_base = hdr, .iov_len = sizeof hdr },
		{ .iov_base = (void *)meta, .iov_len = meta_len },
		{ .iov_base = (void *)body, .iov_len = body_len },
	};
	struct iovec *cur = iov;
	size_t count = 3;
	int64_t deadline = now_ms() + BLOCKING_WRITE_TIMEOUT_MS;
	while (count > 0) {
		if (cur->iov_len == 0) {
			cur++;
			count--;
			continue;
		}
		struct msghdr msg = { .msg_iov = cur, .msg_iovlen = count };
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_ready(fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		size_t left = (size_t)n;
		while (count > 0 && left >= cur->iov_len) {
			left -= cur->iov_len;
			cur++;
			count--;
		}
		if (count > 0) {
			cur->iov_base = (uint8_t *)cur->iov_base + left;
			cur->iov_len -= left;
		}
	}
	return 0;
}
