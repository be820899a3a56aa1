/* One client connection: bytes in through the conn layer, requests out of the strict
 * parser, responses written back in order. One request at a time per connection (HTTP/1.1
 * answers in order anyway); pipelined input waits in the buffer. Timeouts cut off clients
 * that send headers too slowly (slowloris) or sit idle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge.h"
#include "log.h"
#include "tls.h"

enum client_phase {
	PHASE_READING,    /* waiting for (the rest of) a request */
	PHASE_WAITING,    /* a request is with auth/router; input paused */
	PHASE_STREAMING,  /* an SSE response is being written */
	PHASE_CLOSING,
};

struct client {
	struct conn *conn;
	char *in;
	size_t in_len, in_cap, in_max;
	struct http_request req;
	enum client_phase phase;
	struct exchange *ex;
	struct event *timer;
	bool sent_continue;
	bool close_after;
	bool head_request; /* HEAD: headers only */
	char remote[64];
	struct client *prev, *next; /* all clients, for drain */
};

static struct client *all_clients;

static void client_close(struct client *cl, bool graceful);

static void arm_timer(struct client *cl, uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(cl->timer, &tv);
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void client_write(struct client *cl, const void *buf, size_t len)
{
	if (!cl->conn || cl->phase == PHASE_CLOSING)
		return;
	int r = conn_write(cl->conn, buf, len);
	if (r == CONN_FULL) {
		/* A client that does not read its responses loses the connection, not our memory. */
		log_warn("client_output_full", LOG_STR("remote", cl->remote), LOG_INT("bytes", len));
		client_close(cl, false);
	}
}

static bool keep_alive(const struct client *cl)
{
	return !cl->close_after && cl->req.keep_alive && !E.draining;
}

void client_respond(struct client *cl, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len)
{
	char head[4096];
	int n = snprintf(head, sizeof head,
		"HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s%s\r\n", status,
		http_status_text(status), content_type ? "Content-Type: " : "",
		content_type ? content_type : "", content_type ? "\r\n" : "", len,
		keep_alive(cl) ? "" : "Connection: close\r\n", extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof head) {
		log_error("response_head_too_long", LOG_INT("status", status));
		client_close(cl, false);
		return;
	}
	client_write(cl, head, (size_t)n);
	if (len && !cl->head_request)
		client_write(cl, body, len);
	client_request_done(cl);
}

void client_start_sse(struct client *cl, const char *extra_headers)
{
	char head[4096];
	int n = snprintf(head, sizeof head,
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n"
		"X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n%s\r\n",
		extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof head) {
		client_close(cl, false);
		return;
	}
	client_write(cl, head, (size_t)n);
	cl->phase = PHASE_STREAMING;
	/* A stream has no idle timeout: the keep-alive comments keep it (and proxies) alive. */
	evtimer_del(cl->timer);
	/* Reading again only to notice the client hang up (see watch_hangup). */
	conn_resume_read(cl->conn);
}

void client_sse_chunk(struct client *cl, const void *buf, size_t len)
{
	if (!len)
		return;
	char size[24];
	int n = snprintf(size, sizeof size, "%zx\r\n", len);
	client_write(cl, size, (size_t)n);
	client_write(cl, buf, len);
	client_write(cl, "\r\n", 2);
}

void client_end_sse(struct client *cl)
{
	client_write(cl, "0\r\n\r\n", 5);
	client_request_done(cl);
}

const struct http_request *client_request(const struct client *cl) { return &cl->req; }
const char *client_remote(const struct client *cl) { return cl->remote; }

void client_set_exchange(struct client *cl, struct exchange *ex)
{
	cl->ex = ex;
	if (ex)
		cl->phase = PHASE_WAITING;
}

static void process_input(struct client *cl);

void client_request_done(struct client *cl)
{
	if (cl->phase == PHASE_CLOSING)
		return;
	cl->ex = NULL;
	if (!keep_alive(cl)) {
		client_close(cl, true);
		return;
	}
	/* Drop the finished request's bytes; a pipelined request may already be behind them. */
	size_t used = cl->req.consumed;
	if (used > cl->in_len)
		used = cl->in_len;
	memmove(cl->in, cl->in + used, cl->in_len - used);
	cl->in_len -= used;
	cl->phase = PHASE_READING;
	cl->sent_continue = false;
	cl->head_request = false;
	http_request_init(&cl->req, &E.limits);
	arm_timer(cl, cl->in_len ? E.rc.cfg.header_timeout_ms : E.rc.cfg.idle_timeout_ms);
	conn_resume_read(cl->conn);
	if (cl->in_len)
		process_input(cl);
}

static void refuse_and_close(struct client *cl, int status, const char *reason)
{
	cl->close_after = true;
	respond_error(cl, status, -32600, reason, NULL, NULL, NULL);
}

static void process_input(struct client *cl)
{
	if (cl->phase != PHASE_READING || !cl->in_len)
		return;
	enum http_parse_result r = http_parse(&cl->req, cl->in, cl->in_len);
	if (r == HTTP_PARSE_ERROR) {
		log_info("http_refused", LOG_STR("remote", cl->remote), LOG_INT("status", cl->req.status),
		         LOG_STR("reason", cl->req.reason));
		refuse_and_close(cl, cl->req.status, cl->req.reason);
		return;
	}
	if (r == HTTP_PARSE_NEED_MORE) {
		if (cl->req.headers_complete && cl->req.expect_continue && !cl->sent_continue) {
			cl->sent_continue = true;
			client_write(cl, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		}
		return;
	}
	/* A whole request: stop reading until it is answered. */
	evtimer_del(cl->timer);
	conn_pause_read(cl->conn);
	cl->phase = PHASE_WAITING;
	cl->head_request = cl->req.method == HTTP_HEAD;
	route_request(cl, &cl->req);
}

/* While an SSE response streams, the client sends nothing we act on, but its hang-up must be
 * seen at once: only then is the stream detached for a Last-Event-ID resume (a resume that
 * found it still attached would start a new stream and lose the missed events), and until
 * then the loss shows only when a keep-alive write fails. Bytes that arrive meanwhile (a
 * pipelined request) are kept for later, but the buffer is not grown: the request being
 * answered points into it. */
static void watch_hangup(struct client *cl)
{
	for (;;) {
		size_t room = cl->in_cap - cl->in_len;
		if (room == 0) {
			conn_pause_read(cl->conn);
			return;
		}
		ssize_t n = conn_read(cl->conn, cl->in + cl->in_len, room);
		if (n > 0) {
			cl->in_len += (size_t)n;
			continue;
		}
		if (n != CONN_AGAIN)
			client_close(cl, false);
		return;
	}
}

static void on_readable(struct conn *c, void *arg)
{
	struct client *cl = arg;
	for (;;) {
		if (cl->phase == PHASE_STREAMING) {
			watch_hangup(cl);
			return;
		}
		if (cl->phase != PHASE_READING) {
			conn_pause_read(c);
			return;
		}
		if (cl->in_len == cl->in_cap) {
			if (cl->in_cap >= cl->in_max) {
				/* The parser refuses oversized requests before this; stay safe anyway. */
				refuse_and_close(cl, 413, "request too large");
				return;
			}
			size_t cap = cl->in_cap ? cl->in_cap * 2 : 16384;
			if (cap > cl->in_max)
				cap = cl->in_max;
			char *in = realloc(cl->in, cap);
			if (!in) {
				client_close(cl, false);
				return;
			}
			cl->in = in;
			cl->in_cap = cap;
		}
		ssize_t n = conn_read(c, cl->in + cl->in_len, cl->in_cap - cl->in_len);
		if (n > 0) {
			bool first = cl->in_len == 0;
			cl->in_len += (size_t)n;
			if (first)
				arm_timer(cl, E.rc.cfg.header_timeout_ms); /* a request has begun */
			process_input(cl);
			if (cl->phase == PHASE_CLOSING)
				return;
			continue;
		}
		if (n == CONN_AGAIN)
			return;
		/* EOF or error: nothing more will come. */
		client_close(cl, n == CONN_EOF && cl->phase == PHASE_WAITING);
		return;
	}
}

static void on_open(struct conn *c, void *arg)
{
	(void)c;
	struct client *cl = arg;
	arm_timer(cl, E.rc.cfg.header_timeout_ms);
}

static void on_conn_close(struct conn *c, enum conn_close_reason why, void *arg)
{
	(void)c;
	struct client *cl = arg;
	log_debug("client_closed", LOG_STR("remote", cl->remote), LOG_STR("why", conn_close_reason_name(why)));
	if (cl->ex)
		exchange_client_gone(cl->ex);
	cl->ex = NULL;
	cl->conn = NULL;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		all_clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	event_free(cl->timer);
	free(cl->in);
	free(cl);
	E.n_clients--;
	edge_maybe_exit();
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct client *cl = arg;
	if (cl->phase == PHASE_READING && cl->in_len > 0 && conn_is_open(cl->conn)) {
		/* Headers or body too slow: the slowloris case. */
		log_info("client_too_slow", LOG_STR("remote", cl->remote), LOG_INT("buffered", cl->in_len));
		refuse_and_close(cl, 408, "request not received in time");
		return;
	}
	client_close(cl, false);
}

static void client_close(struct client *cl, bool graceful)
{
	if (cl->phase == PHASE_CLOSING || !cl->conn)
		return;
	cl->phase = PHASE_CLOSING;
	if (cl->ex) {
		exchange_client_gone(cl->ex);
		cl->ex = NULL;
	}
	if (graceful) {
		conn_close(cl->conn);
		/* If the peer never takes the output, give up after the idle timeout. */
		arm_timer(cl, E.rc.cfg.header_timeout_ms);
	} else {
		conn_abort(cl->conn);
	}
}

void client_accept(int fd, bool tls, const char *remote)
{
	struct client *cl = calloc(1, sizeof *cl);
	if (!cl) {
		close(fd);
		return;
	}
	static const struct conn_callbacks cb = {
		.on_open = on_open, .on_readable = on_readable, .on_close = on_conn_close,
	};
	snprintf(cl->remote, sizeof cl->remote, "%s", remote);
	cl->in_max = (size_t)E.limits.max_header_bytes + E.limits.max_chunked_body + 4096;
	cl->timer = evtimer_new(E.base, on_timer, cl);
	http_request_init(&cl->req, &E.limits);
	cl->conn = tls ? conn_new_tls(E.base, fd, E.tls, &cb, cl) : conn_new_plain(E.base, fd, &cb, cl);
	if (!cl->conn || !cl->timer) {
		close(fd);
		if (cl->timer)
			event_free(cl->timer);
		free(cl);
		return;
	}
	/* Responses can be as large as the largest message the router may send. */
	conn_set_output_limit(cl->conn, FRAME_MAX_PAYLOAD + 65536);
	E.n_clients++;
	cl->next = all_clients;
	if (all_clients)
		all_clients->prev = cl;
	all_clients = cl;
	arm_timer(cl, E.rc.cfg.header_timeout_ms); /* covers the TLS handshake too */
}

/* Drain: idle keep-alive connections close now; busy ones close after their response,
 * because keep_alive() is false from here on. */
void client_drain_idle(void)
{
	for (struct client *cl = all_clients, *next; cl; cl = next) {
		next = cl->next;
		if (cl->phase == PHASE_READING && cl->in_len == 0)
			client_close(cl, true);
	}
}
