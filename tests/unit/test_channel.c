/* Unit tests for the framed channel over a socketpair on a real event loop: ordering,
 * batching, large frames, fd passing, back-pressure, malformed input, peer close, freeing
 * from inside callbacks, and the blocking start-up helpers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "channel.h"
#include "log.h"

#include "check.h"

/* What one end of a pair has seen, and how its callbacks should behave. */
struct side {
	struct channel *ch;
	int frames;
	uint32_t next_id;     /* frames must arrive with stream ids 0, 1, 2, ... */
	int order_errors;
	int content_errors;
	size_t body_bytes;
	uint8_t last_type;
	int closed;
	char reason[128];
	int drains;
	int free_on_close;    /* the usual owner: free the channel in on_close */
	int free_at_frame;    /* free the channel inside on_frame at this frame number (>0) */
	int pause_at_frame;   /* pause input inside on_frame at this frame number (>0) */
	int links;            /* FRAME_LINK frames whose fd was taken and written */
	int link_fd_missing;
	int link_fd_not_cloexec;
};

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 9));
}

static int matches(const uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed * 31u + i * 7u + (i >> 9)))
			return 0;
	return 1;
}

static void on_frame(struct channel *ch, const struct frame *f, void *arg)
{
	struct side *s = arg;
	s->frames++;
	s->last_type = f->type;
	if (f->stream_id != s->next_id)
		s->order_errors++;
	s->next_id = f->stream_id + 1;
	if (!matches(f->meta, f->meta_len, f->stream_id ^ 0x55u) ||
	    !matches(f->body, f->body_len, f->stream_id))
		s->content_errors++;
	s->body_bytes += f->body_len;
	if (f->type == FRAME_LINK) {
		int fd = channel_take_fd(ch);
		if (fd < 0) {
			s->link_fd_missing++;
		} else {
			int fl = fcntl(fd, F_GETFD);
			if (fl < 0 || !(fl & FD_CLOEXEC))
				s->link_fd_not_cloexec++;
			char msg[32];
			int n = snprintf(msg, sizeof msg, "link%u;", f->stream_id);
			if (write(fd, msg, (size_t)n) == n)
				s->links++;
			close(fd);
		}
	}
	if (s->pause_at_frame && s->frames == s->pause_at_frame)
		channel_pause_input(ch, true);
	if (s->free_at_frame && s->frames == s->free_at_frame) {
		channel_free(ch);
		s->ch = NULL;
	}
}

static void on_close(struct channel *ch, const char *reason, void *arg)
{
	struct side *s = arg;
	s->closed++;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	if (s->free_on_close) {
		channel_free(ch);
		s->ch = NULL;
	}
}

static void on_drain(struct channel *ch, void *arg)
{
	(void)ch;
	struct side *s = arg;
	s->drains++;
}

static const struct channel_callbacks callbacks = { on_frame, on_close, on_drain };

struct pair {
	struct event_base *base;
	struct event *tick; /* keeps each loop turn short, so run_until can check its deadline */
	int fds[2];
	struct side a, b;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Two channels on a socketpair; with raw_a the test keeps fds[0] itself to write raw bytes. */
static void pair_open(struct pair *p, int raw_a)
{
	memset(p, 0, sizeof *p);
	p->base = event_base_new();
	if (!p->base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds) != 0) {
		perror("setup");
		exit(2);
	}
	p->tick = event_new(p->base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = { 0, 10000 };
	event_add(p->tick, &tv);
	p->a.free_on_close = p->b.free_on_close = 1;
	if (!raw_a)
		p->a.ch = channel_new(p->base, p->fds[0], "test-a", &callbacks, &p->a);
	p->b.ch = channel_new(p->base, p->fds[1], "test-b", &callbacks, &p->b);
	if ((!raw_a && !p->a.ch) || !p->b.ch) {
		printf("FAIL channel_new\n");
		exit(2);
	}
}

static void pair_close(struct pair *p, int raw_a)
{
	channel_free(p->a.ch);
	channel_free(p->b.ch);
	if (raw_a)
		close(p->fds[0]);
	event_free(p->tick);
	event_base_free(p->base);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until *counter >= want or the time runs out; returns whether it got there. */
static int run_until(struct pair *p, const int *counter, int want, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	while (*counter < want && now_ms() < end)
		event_base_loop(p->base, EVLOOP_ONCE);
	return *counter >= want;
}

static void run_for(struct pair *p, int ms)
{
	int never = 0;
	run_until(p, &never, 1, ms);
}

static int send_seeded(struct channel *ch, uint8_t type, uint32_t id, size_t meta_len,
                       size_t body_len, int fd)
{
	uint8_t *meta = malloc(meta_len + 1), *body = malloc(body_len + 1);
	if (!meta || !body)
		exit(2);
	fill(meta, meta_len, id ^ 0x55u);
	fill(body, body_len, id);
	int r = channel_send(ch, type, 0, id, meta, meta_len, body, body_len, fd);
	free(meta);
	free(body);
	return r;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_both_ways(void)
{
	struct pair p;
	pair_open(&p, 0);
	int sent_ok = 1;
	for (uint32_t i = 0; i < 2000; i++) {
		sent_ok &= send_seeded(p.a.ch, FRAME_REQUEST, i, i % 50, i % 300, -1) == 0;
		sent_ok &= send_seeded(p.b.ch, FRAME_RESPONSE, i, i % 7, (i * 37) % 5000, -1) == 0;
	}
	int got_b = run_until(&p, &p.b.frames, 2000, 5000);
	int got_a = run_until(&p, &p.a.frames, 2000, 5000);
	CHECK(sent_ok && got_a && got_b && p.a.frames == 2000 && p.b.frames == 2000,
	      "2000 frames each way arrive (a got %d, b got %d)", p.a.frames, p.b.frames);
	CHECK(p.a.order_errors + p.b.order_errors == 0 && p.a.content_errors + p.b.content_errors == 0,
	      "in order and intact both ways");
	CHECK(p.b.last_type == FRAME_REQUEST && p.a.last_type == FRAME_RESPONSE, "types preserved");
	CHECK(channel_output_pending(p.a.ch) == 0 && channel_output_pending(p.b.ch) == 0,
	      "output fully flushed");
	CHECK(strcmp(channel_name(p.a.ch), "test-a") == 0, "channel_name");
	pair_close(&p, 0);
}

static void test_batching(void)
{
	struct pair p;
	pair_open(&p, 0);
	int sent_ok = 1;
	for (uint32_t i = 0; i < 10000; i++)
		sent_ok &= send_seeded(p.a.ch, FRAME_STATUS, i, 0, 20, -1) == 0;
	/* Nothing is written from channel_send itself: it all waits for the loop, in one buffer. */
	CHECK(sent_ok && channel_output_pending(p.a.ch) == 10000u * (FRAME_HEADER_SIZE + 20),
	      "10000 frames queued before the loop runs (%zu bytes pending)",
	      channel_output_pending(p.a.ch));
	int got = run_until(&p, &p.b.frames, 10000, 10000);
	CHECK(got && p.b.order_errors == 0 && p.b.content_errors == 0,
	      "all 10000 arrive in order (%d, order errors %d)", p.b.frames, p.b.order_errors);
	pair_close(&p, 0);
}

static void test_large(void)
{
	struct pair p;
	pair_open(&p, 0);
	int ok = send_seeded(p.a.ch, FRAME_RESPONSE, 0, 1000, 1u << 20, -1) == 0;
	ok &= send_seeded(p.a.ch, FRAME_RESPONSE, 1, 0, 3, -1) == 0;
	ok &= send_seeded(p.a.ch, FRAME_RESPONSE, 2, FRAME_MAX_META,
	                  FRAME_MAX_PAYLOAD - FRAME_MAX_META, -1) == 0;
	ok &= send_seeded(p.a.ch, FRAME_RESPONSE, 3, 5, 1u << 20, -1) == 0;
	int got = run_until(&p, &p.b.frames, 4, 20000);
	CHECK(ok && got && p.b.content_errors == 0 && p.b.order_errors == 0 &&
	      p.b.body_bytes == (2u << 20) + 3 + FRAME_MAX_PAYLOAD - FRAME_MAX_META,
	      "1 MiB, tiny, maximum-size (16 MiB) and 1 MiB frames arrive intact");
	errno = 0;
	int fd = dup(0);
	int over = channel_send(p.a.ch, FRAME_RESPONSE, 0, 9, "m", 1, "", FRAME_MAX_PAYLOAD, fd);
	CHECK(over == -1 && errno == EINVAL, "a frame over the maximum payload is refused");
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "and the fd passed with it is closed");
	CHECK(channel_send(p.a.ch, 8, 0, 9, NULL, 0, NULL, 0, -1) == -1, "unknown type refused");
	CHECK(channel_send(p.a.ch, FRAME_STATUS, 0x10, 9, NULL, 0, NULL, 0, -1) == -1,
	      "unknown flag refused");
	pair_close(&p, 0);
}

static void test_fd_passing(void)
{
	int before = count_open_fds();
	struct pair p;
	pair_open(&p, 0);
	int pipe_a[2], pipe_b[2];
	if (pipe2(pipe_a, O_NONBLOCK) != 0 || pipe2(pipe_b, O_NONBLOCK) != 0)
		exit(2);
	/* Frames without fds around the ones with, so the fds must stay with their frames. */
	int ok = send_seeded(p.a.ch, FRAME_STATUS, 0, 3, 10, -1) == 0;
	ok &= send_seeded(p.a.ch, FRAME_LINK, 1, 4, 0, pipe_a[1]) == 0;
	ok &= send_seeded(p.a.ch, FRAME_STATUS, 2, 3, 100000, -1) == 0;
	ok &= send_seeded(p.a.ch, FRAME_LINK, 3, 4, 0, pipe_b[1]) == 0;
	ok &= send_seeded(p.a.ch, FRAME_STATUS, 4, 0, 0, -1) == 0;
	int got = run_until(&p, &p.b.frames, 5, 5000);
	CHECK(ok && got && p.b.links == 2 && p.b.link_fd_missing == 0,
	      "two fds passed with their FRAME_LINK frames and written through (%d)", p.b.links);
	CHECK(p.b.link_fd_not_cloexec == 0, "received fds are close-on-exec");
	char buf1[32] = { 0 }, buf2[32] = { 0 };
	/* The sender closed its copies and the receiver closed the ones it took: EOF follows. */
	ssize_t n1 = read(pipe_a[0], buf1, sizeof buf1 - 1);
	ssize_t n2 = read(pipe_b[0], buf2, sizeof buf2 - 1);
	CHECK(n1 > 0 && strcmp(buf1, "link1;") == 0 && n2 > 0 && strcmp(buf2, "link3;") == 0,
	      "each fd reached its own pipe ('%s', '%s')", buf1, buf2);
	CHECK(read(pipe_a[0], buf1, 1) == 0 && read(pipe_b[0], buf2, 1) == 0,
	      "no copy of the passed write ends is left open");
	close(pipe_a[0]);
	close(pipe_b[0]);

	/* fds received but never taken are closed on free. */
	int pipe_c[2];
	if (pipe2(pipe_c, O_NONBLOCK) != 0)
		exit(2);
	ok = send_seeded(p.a.ch, FRAME_STATUS, 5, 0, 0, pipe_c[1]) == 0;
	got = run_until(&p, &p.b.frames, 6, 5000);
	pair_close(&p, 0);
	CHECK(ok && got && read(pipe_c[0], buf1, 1) == 0, "an fd left queued is closed by channel_free");
	close(pipe_c[0]);
	CHECK(count_open_fds() == before, "no fd leaked (%d before, %d after)", before, count_open_fds());
}

/* Sends raw frames, each with one fd, straight on the socket. */
static int raw_send_with_fds(int sock, const uint8_t *data, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 32)];
	} control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
	                      .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void test_fd_queue_bounds(void)
{
	int before = count_open_fds();
	/* 17 frames each carrying an fd the owner never takes: the 17th overflows the queue. */
	struct pair p;
	pair_open(&p, 1);
	const uint8_t status[FRAME_HEADER_SIZE] = { FRAME_MAGIC, FRAME_STATUS, 0, 0, 0, 0, 0, 0,
	                                            0, 0, 0, 0, 0, 0, 0, 0 };
	int sent = 0;
	for (int i = 0; i < 17; i++) {
		int fd = dup(0);
		sent += raw_send_with_fds(p.fds[0], status, sizeof status, &fd, 1) == 0;
		close(fd);
	}
	run_until(&p, &p.b.closed, 1, 5000);
	CHECK(sent == 17 && p.b.closed == 1 && strstr(p.b.reason, "too many") != NULL,
	      "a 17th queued fd closes the channel ('%s')", p.b.reason);
	pair_close(&p, 1);

	/* Many fds in one message: more than the control buffer holds is truncation. */
	pair_open(&p, 1);
	int fds[20];
	for (int i = 0; i < 20; i++)
		fds[i] = dup(0);
	int rs = raw_send_with_fds(p.fds[0], status, sizeof status, fds, 20);
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	run_until(&p, &p.b.closed, 1, 5000);
	CHECK(rs == 0 && p.b.closed == 1 && strstr(p.b.reason, "truncated") != NULL,
	      "20 fds in one message close the channel ('%s')", p.b.reason);
	pair_close(&p, 1);
	CHECK(count_open_fds() == before, "no fd leaked (%d before, %d after)", before, count_open_fds());
}

static void test_backpressure(void)
{
	struct pair p;
	pair_open(&p, 0);
	channel_pause_input(p.b.ch, true);
	const size_t body = 64 * 1024;
	uint32_t id = 0;
	while (!channel_congested(p.a.ch) && id < 1000) {
		send_seeded(p.a.ch, FRAME_RESPONSE, id++, 0, body, -1);
		run_for(&p, 0);
	}
	CHECK(channel_congested(p.a.ch) && channel_output_pending(p.a.ch) > 4u * 1024 * 1024,
	      "paused peer: sender congested after %u frames (%zu bytes pending)", id,
	      channel_output_pending(p.a.ch));
	run_for(&p, 100);
	CHECK(channel_congested(p.a.ch) && p.a.drains == 0 && p.b.frames == 0,
	      "still congested while the peer reads nothing");
	/* Keep queueing until the hard limit refuses; nothing accepted is lost. */
	int refused = 0;
	while (id < 3000) {
		errno = 0;
		if (send_seeded(p.a.ch, FRAME_RESPONSE, id, 0, body, -1) != 0) {
			refused = errno == ENOBUFS;
			break;
		}
		id++;
	}
	size_t pending = channel_output_pending(p.a.ch);
	CHECK(refused && pending <= 64u * 1024 * 1024 && pending > 60u * 1024 * 1024,
	      "hard limit: send refused with ENOBUFS at %zu bytes pending", pending);
	channel_pause_input(p.b.ch, false);
	int drained = run_until(&p, &p.a.drains, 1, 10000);
	CHECK(drained && !channel_congested(p.a.ch) && p.a.drains == 1,
	      "resumed peer: on_drain fired once and congestion cleared");
	int got = run_until(&p, &p.b.frames, (int)id, 20000);
	CHECK(got && p.b.order_errors == 0 && p.b.content_errors == 0 && p.a.drains == 1,
	      "all %u accepted frames arrive in order after the back-pressure", id);
	pair_close(&p, 0);
}

static void test_pause_keeps_buffered_frames(void)
{
	struct pair p;
	pair_open(&p, 0);
	p.b.pause_at_frame = 1;
	for (uint32_t i = 0; i < 10; i++)
		send_seeded(p.a.ch, FRAME_REQUEST, i, 1, 10, -1);
	run_until(&p, &p.b.frames, 1, 5000);
	run_for(&p, 50);
	CHECK(p.b.frames == 1, "pausing inside on_frame stops delivery at once (%d)", p.b.frames);
	/* The other nine are already in b's buffer: resuming must deliver them with no new data. */
	channel_pause_input(p.b.ch, false);
	int got = run_until(&p, &p.b.frames, 10, 5000);
	CHECK(got && p.b.order_errors == 0, "resuming delivers the buffered frames (%d)", p.b.frames);
	pair_close(&p, 0);
}

struct malformed_case {
	const char *what;
	uint8_t bytes[16];
	size_t len;
	enum frame_status want;
};

static void test_malformed(void)
{
	static const struct malformed_case cases[] = {
		{ "HTTP request", "GET / HTTP/1.1\r\n", 16, FRAME_BAD_MAGIC },
		{ "type 8", { FRAME_MAGIC, 8 }, 16, FRAME_BAD_TYPE },
		{ "flag 0x0004", { FRAME_MAGIC, FRAME_REQUEST, 0, 4 }, 16, FRAME_BAD_FLAGS },
		{ "payload 2^31", { FRAME_MAGIC, FRAME_REQUEST, 0, 0, 0x80, 0, 0, 0 }, 16, FRAME_TOO_LARGE },
		{ "meta > payload", { FRAME_MAGIC, FRAME_REQUEST, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2 },
		  16, FRAME_BAD_META },
		/* Only the first 8 bytes: a too-large length is refused before the header completes. */
		{ "payload 2^32-1, header incomplete", { FRAME_MAGIC, FRAME_REQUEST, 0, 0, 0xff, 0xff, 0xff, 0xff },
		  8, FRAME_TOO_LARGE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pair p;
		pair_open(&p, 1);
		/* One valid frame first: it is delivered before the bad one closes the channel. */
		const uint8_t ok_frame[FRAME_HEADER_SIZE] = { FRAME_MAGIC, FRAME_READY };
		int w = write(p.fds[0], ok_frame, sizeof ok_frame) == (ssize_t)sizeof ok_frame &&
		        write(p.fds[0], cases[i].bytes, cases[i].len) == (ssize_t)cases[i].len;
		run_until(&p, &p.b.closed, 1, 5000);
		CHECK(w && p.b.frames == 1 && p.b.closed == 1 &&
		      strcmp(p.b.reason, frame_status_text(cases[i].want)) == 0,
		      "malformed (%s): on_close '%s'", cases[i].what, p.b.reason);
		pair_close(&p, 1);
	}
}

static void test_peer_close(void)
{
	struct pair p;
	pair_open(&p, 0);
	send_seeded(p.a.ch, FRAME_STATUS, 0, 0, 5, -1);
	run_until(&p, &p.b.frames, 1, 5000);
	channel_free(p.a.ch);
	p.a.ch = NULL;
	run_until(&p, &p.b.closed, 1, 5000);
	CHECK(p.b.frames == 1 && p.b.closed == 1 && strcmp(p.b.reason, "peer closed") == 0,
	      "peer freed its channel: on_close('%s')", p.b.reason);
	pair_close(&p, 0);

	/* Closed in the middle of a frame: still a close, nothing delivered. */
	pair_open(&p, 1);
	const uint8_t half[10] = { FRAME_MAGIC, FRAME_REQUEST, 0, 0, 0, 0, 0, 100 };
	int w = write(p.fds[0], half, sizeof half) == (ssize_t)sizeof half;
	close(p.fds[0]);
	p.fds[0] = -1;
	run_until(&p, &p.b.closed, 1, 5000);
	CHECK(w && p.b.frames == 0 && p.b.closed == 1 && strcmp(p.b.reason, "peer closed") == 0,
	      "peer closed mid-frame: on_close('%s')", p.b.reason);
	pair_close(&p, 0);

	/* Writing to a closed peer: EPIPE is a close too, not SIGPIPE. */
	pair_open(&p, 0);
	p.b.free_on_close = 0;
	channel_pause_input(p.a.ch, true);
	channel_free(p.b.ch);
	p.b.ch = NULL;
	send_seeded(p.a.ch, FRAME_STATUS, 0, 0, 5, -1);
	run_until(&p, &p.a.closed, 1, 5000);
	CHECK(p.a.closed == 1 && strcmp(p.a.reason, "peer closed") == 0,
	      "write to a closed peer: on_close('%s'), no SIGPIPE", p.a.reason);
	pair_close(&p, 0);

	/* Sending on a dead channel fails and still closes the fd handed over. */
	pair_open(&p, 0);
	p.b.free_on_close = 0;
	channel_free(p.a.ch);
	p.a.ch = NULL;
	run_until(&p, &p.b.closed, 1, 5000);
	int fd = dup(0);
	errno = 0;
	int r = channel_send(p.b.ch, FRAME_STATUS, 0, 0, NULL, 0, NULL, 0, fd);
	CHECK(r == -1 && errno == EPIPE && fcntl(fd, F_GETFD) == -1,
	      "send on a closed channel: -1, EPIPE, fd closed");
	pair_close(&p, 0);
}

static void test_free_inside_on_frame(void)
{
	struct pair p;
	pair_open(&p, 0);
	p.b.free_at_frame = 3;
	for (uint32_t i = 0; i < 50; i++)
		send_seeded(p.a.ch, FRAME_REQUEST, i, 0, 10, -1);
	run_until(&p, &p.b.frames, 3, 5000);
	run_for(&p, 50);
	/* Under ASan any use after the free would abort; no more callbacks may arrive. */
	CHECK(p.b.frames == 3 && p.b.ch == NULL && p.b.closed == 0,
	      "channel_free inside on_frame: delivery stops at once (%d frames)", p.b.frames);
	run_until(&p, &p.a.closed, 1, 5000);
	CHECK(p.a.closed == 1, "and the peer sees the close");
	pair_close(&p, 0);
}

static void test_blocking_helpers(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		exit(2);
	int w1 = channel_write_frame_blocking(sv[0], FRAME_HELLO, 0, "{\"m\":1}", 7, "{\"role\":\"edge\"}", 15);
	/* A second frame right behind: the blocking read must leave it in the socket. */
	int w2 = channel_write_frame_blocking(sv[0], FRAME_STATUS, 1, NULL, 0, "next", 4);
	uint8_t type = 0;
	char *meta = NULL, *body = NULL;
	size_t ml = 0, bl = 0;
	int r = channel_read_frame_blocking(sv[1], 1000, &type, &meta, &ml, &body, &bl);
	CHECK(w1 == 0 && w2 == 0 && r == 0 && type == FRAME_HELLO && ml == 7 && bl == 15 &&
	      strcmp(meta, "{\"m\":1}") == 0 && strcmp(body, "{\"role\":\"edge\"}") == 0,
	      "blocking write then read: one frame, meta and body NUL-terminated");
	free(meta);
	free(body);

	/* The channel taking the fd over sees the second frame. */
	struct event_base *base = event_base_new();
	struct side s = { .next_id = 1, .free_on_close = 0 };
	struct channel *ch = channel_new(base, sv[1], "blocking", &callbacks, &s);
	int64_t end = now_ms() + 5000;
	while (s.frames < 1 && now_ms() < end)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(ch && s.frames == 1 && s.last_type == FRAME_STATUS,
	      "the blocking read took no byte past its frame");
	channel_free(ch);
	event_base_free(base);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv + 0) != 0)
		exit(2);
	int64_t t0 = now_ms();
	errno = 0;
	r = channel_read_frame_blocking(sv[1], 100, &type, NULL, NULL, &body, &bl);
	int64_t took = now_ms() - t0;
	CHECK(r == -1 && errno == ETIMEDOUT && took >= 90 && took < 2000,
	      "read times out (%lld ms)", (long long)took);

	const uint8_t bad[FRAME_HEADER_SIZE] = { FRAME_MAGIC, 9 };
	int wb = write(sv[0], bad, sizeof bad) == (ssize_t)sizeof bad;
	errno = 0;
	r = channel_read_frame_blocking(sv[1], 1000, &type, NULL, NULL, &body, &bl);
	CHECK(wb && r == -1 && errno == EPROTO, "a malformed frame is EPROTO");

	close(sv[0]);
	errno = 0;
	r = channel_read_frame_blocking(sv[1], 1000, &type, NULL, NULL, &body, &bl);
	CHECK(r == -1 && errno == ECONNRESET, "EOF is ECONNRESET");
	errno = 0;
	r = channel_write_frame_blocking(sv[1], FRAME_STATUS, 0, NULL, 0, "x", 1);
	CHECK(r == -1 && errno == EPIPE, "writing to a closed peer is EPIPE, no SIGPIPE");
	r = channel_write_frame_blocking(sv[1], 42, 0, NULL, 0, "x", 1);
	CHECK(r == -1 && errno == EINVAL, "blocking write refuses an unknown type");
	close(sv[1]);

	/* A large frame through the blocking helpers needs many partial writes and reads. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		exit(2);
	size_t big = 3u << 20;
	uint8_t *data = malloc(big);
	fill(data, big, 99);
	pid_t child = fork();
	if (child == 0) {
		close(sv[1]);
		_exit(channel_write_frame_blocking(sv[0], FRAME_CONFIG, 0, NULL, 0, data, big) == 0 ? 0 : 1);
	}
	close(sv[0]);
	r = channel_read_frame_blocking(sv[1], 10000, &type, NULL, NULL, &body, &bl);
	CHECK(child > 0 && r == 0 && bl == big && matches((uint8_t *)body, bl, 99) && body[bl] == '\0',
	      "3 MiB frame through the blocking helpers arrives intact");
	free(body);
	free(data);
	close(sv[1]);
	int status = 0;
	if (child > 0)
		waitpid(child, &status, 0);
}

int main(void)
{
	log_init("test_channel");
	log_set_level(LOG_ERROR); /* the closes under test would log warnings */
	test_both_ways();
	test_batching();
	test_large();
	test_fd_passing();
	test_fd_queue_bounds();
	test_backpressure();
	test_pause_keeps_buffered_frames();
	test_malformed();
	test_peer_close();
	test_free_inside_on_frame();
	test_blocking_helpers();
	return check_finish();
}
