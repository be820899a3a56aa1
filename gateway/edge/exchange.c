/* Frames from auth become HTTP: a lone final message is a JSON response, anything more an
 * SSE stream; errors become statuses. SSE streams keep a bounded replay ring, and a stream
 * whose client dropped waits a while for a GET with Last-Event-ID to pick it up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "datapath.h"
#include "edge.h"
#include "log.h"

static void exchange_free(struct exchange *ex)
{
	idmap_del(&E.exchanges, ex->id);
	if (ex->keepalive)
		event_free(ex->keepalive);
	if (ex->detach_timer)
		event_free(ex->detach_timer);
	sse_replay_free(ex->replay);
	free(ex);
}

/* Who may resume a stream: a request with the same session id and credentials as the one
 * that opened it. A resume is answered here, without asking auth, so without this check any
 * client that learned or guessed an event id (the boot id in it is the same for every stream
 * of this process, the rest is a counter) could read another principal's stream. */
static void owner_digest(const struct http_request *req, unsigned char out[32])
{
	static const enum http_hdr parts[] = {
		HTTP_HDR_MCP_SESSION_ID, HTTP_HDR_AUTHORIZATION, HTTP_HDR_X_API_KEY,
	};
	mbedtls_sha256_context ctx;
	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		struct http_str v = http_header(req, parts[i]);
		/* Presence and length first, so no two header sets hash the same bytes. */
		unsigned char head[5] = { v.ptr != NULL, (unsigned char)(v.len >> 24),
			(unsigned char)(v.len >> 16), (unsigned char)(v.len >> 8), (unsigned char)v.len };
		mbedtls_sha256_update_ret(&ctx, head, sizeof head);
		if (v.ptr)
			mbedtls_sha256_update_ret(&ctx, (const unsigned char *)v.ptr, v.len);
	}
	mbedtls_sha256_finish_ret(&ctx, out);
	mbedtls_sha256_free(&ctx);
}

static bool same_owner(const unsigned char a[32], const unsigned char b[32])
{
	unsigned char diff = 0;
	for (size_t i = 0; i < 32; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

struct exchange *exchange_new(struct client *cl, enum exchange_kind kind, const char *rid)
{
	struct exchange *ex = calloc(1, sizeof *ex);
	if (!ex)
		return NULL;
	do {
		ex->id = ++E.next_stream;
	} while (ex->id == 0 || idmap_get(&E.exchanges, ex->id));
	ex->kind = kind;
	ex->cl = cl;
	ex->legacy_sse = kind == EX_SSE_OPEN;
	owner_digest(client_request(cl), ex->owner);
	snprintf(ex->rid, sizeof ex->rid, "%s", rid);
	if (idmap_put(&E.exchanges, ex->id, ex) != 0) {
		free(ex);
		return NULL;
	}
	return ex;
}

static void send_event(struct exchange *ex, const char *event, size_t len, void *unused)
{
	(void)unused;
	if (ex->cl)
		client_sse_chunk(ex->cl, event, len);
}

static void emit_replayed(const char *event, size_t len, void *arg)
{
	send_event(arg, event, len, NULL);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct exchange *ex = arg;
	if (ex->cl)
		client_sse_chunk(ex->cl, ": keep-alive\n\n", 14);
}

static void start_keepalive(struct exchange *ex)
{
	uint32_t ms = E.rc.cfg.sse_keepalive_ms;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	if (!ex->keepalive)
		ex->keepalive = event_new(E.base, -1, EV_PERSIST, on_keepalive, ex);
	if (ex->keepalive)
		event_add(ex->keepalive, &tv);
}

static void append_event(struct exchange *ex, const char *name, const char *data, size_t len)
{
	const char *out;
	size_t out_len;
	if (ex->replay && sse_replay_append(ex->replay, name, data, len, &out, &out_len) != 0)
		send_event(ex, out, out_len, NULL);
}

/* Response headers from frame meta: the session id, and whatever auth set (validated: a
 * value with CR or LF would split the response). */
/* Response headers from frame meta: the session id, and whatever auth set (validated: a
 * value with CR or LF would split the response). A header that does not fit whole is left
 * out, never cut. */
static void meta_headers(json_t *meta, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	const char *sid = json_string_value(json_object_get(meta, DP_SESSION_ID));
	if (sid && !strpbrk(sid, "\r\n")) {
		int n = snprintf(out, cap, "Mcp-Session-Id: %s\r\n", sid);
		used = n > 0 && (size_t)n < cap ? (size_t)n : 0;
		out[used] = '\0';
	}
	const char *name;
	json_t *v;
	json_object_foreach(json_object_get(meta, DP_HEADERS), name, v) {
		const char *value = json_string_value(v);
		if (!value || strpbrk(value, "\r\n") || strpbrk(name, "\r\n: "))
			continue;
		int n = snprintf(out + used, cap - used, "%s: %s\r\n", name, value);
		if (n < 0 || (size_t)n >= cap - used) {
			out[used] = '\0';
			log_warn("response_header_dropped", LOG_STR("header", name));
			continue;
		}
		used += (size_t)n;
	}
}

static void start_stream(struct exchange *ex, json_t *meta)
{
	char headers[3072];
	meta_headers(meta, headers, sizeof headers - 1024);
	strncat(headers, cors_headers(client_request(ex->cl)), sizeof headers - strlen(headers) - 1);
	uint64_t key = (uint64_t)E.boot_id << 32 | ex->id;
	ex->replay = sse_replay_new(key, EDGE_REPLAY_EVENTS, EDGE_REPLAY_BYTES);
	client_start_sse(ex->cl, headers);
	ex->streaming = true;
	if (ex->legacy_sse) {
		/* HTTP+SSE: the first event tells the client where to POST. */
		const char *sid = json_string_value(json_object_get(meta, DP_SESSION_ID));
		char endpoint[2300];
		int n = snprintf(endpoint, sizeof endpoint, "/messages?sessionId=%s", sid ? sid : "");
		append_event(ex, "endpoint", endpoint, (size_t)n);
	} else if (ex->kind == EX_GET) {
		/* Priming event: an id to resume from, before anything else happens. */
		const char *out;
		size_t out_len;
		if (ex->replay && sse_replay_prime(ex->replay, &out, &out_len) != 0)
			send_event(ex, out, out_len, NULL);
	}
	start_keepalive(ex);
}

static void finish(struct exchange *ex)
{
	ex->finished = true;
	if (ex->cl) {
		struct client *cl = ex->cl;
		ex->cl = NULL;
		if (ex->streaming)
			client_end_sse(cl);
		exchange_free(ex);
	}
	/* A detached stream stays until its timer, so a resuming client gets the end too. */
}

static void on_error_frame(struct exchange *ex, json_t *meta, const struct frame *f)
{
	int status = (int)json_integer_value(json_object_get(meta, DP_STATUS));
	if (status < 400 || status > 599)
		status = 502;
	if (ex->cl && !ex->streaming) {
		char headers[3072];
		meta_headers(meta, headers, sizeof headers - 1024);
		strncat(headers, cors_headers(client_request(ex->cl)), sizeof headers - strlen(headers) - 1);
		struct client *cl = ex->cl;
		ex->cl = NULL;
		client_respond(cl, status, "application/json", headers, f->body, f->body_len);
		exchange_free(ex);
		return;
	}
	if (f->body_len)
		append_event(ex, NULL, (const char *)f->body, f->body_len);
	finish(ex);
}

static void on_response_frame(struct exchange *ex, json_t *meta, const struct frame *f)
{
	bool final = f->flags & FRAME_FLAG_FINAL;
	if (!ex->streaming && ex->cl) {
		bool one_shot = final && (ex->kind == EX_POST || ex->kind == EX_DELETE || ex->kind == EX_SSE_POST);
		if (one_shot) {
			char headers[3072];
			meta_headers(meta, headers, sizeof headers - 1024);
			strncat(headers, cors_headers(client_request(ex->cl)), sizeof headers - strlen(headers) - 1);
			struct client *cl = ex->cl;
			ex->cl = NULL;
			if (f->body_len == 0 || ex->kind == EX_SSE_POST)
				client_respond(cl, ex->kind == EX_DELETE ? 200 : 202, NULL, headers, NULL, 0);
			else
				client_respond(cl, 200, "application/json", headers, f->body, f->body_len);
			exchange_free(ex);
			return;
		}
		start_stream(ex, meta);
	}
	if (f->body_len)
		append_event(ex, NULL, (const char *)f->body, f->body_len);
	if (final)
		finish(ex);
}

void exchange_on_frame(const struct frame *f)
{
	struct exchange *ex = idmap_get(&E.exchanges, f->stream_id);
	if (!ex || ex->finished)
		return; /* the client left and the stream was closed meanwhile */
	json_t *meta = NULL;
	if (f->meta_len)
		meta = json_loadb((const char *)f->meta, f->meta_len, 0, NULL);
	if (f->type == FRAME_ERROR)
		on_error_frame(ex, meta, f);
	else if (f->type == FRAME_RESPONSE)
		on_response_frame(ex, meta, f);
	else
		log_warn("auth_unexpected_frame", LOG_STR("type", frame_type_name(f->type)));
	json_decref(meta);
}

static void close_upstream(struct exchange *ex)
{
	edge_send(FRAME_STREAM_CLOSE, 0, ex->id, NULL, NULL, 0);
}

static void on_detach_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct exchange *ex = arg;
	if (ex->cl)
		return;
	if (!ex->finished)
		close_upstream(ex);
	exchange_free(ex);
}

void exchange_client_gone(struct exchange *ex)
{
	ex->cl = NULL;
	if (ex->keepalive)
		event_del(ex->keepalive);
	bool resumable = ex->streaming && ex->replay && !ex->legacy_sse &&
	                 (ex->kind == EX_GET || ex->kind == EX_POST) && !E.draining;
	if (resumable) {
		if (!ex->detach_timer)
			ex->detach_timer = evtimer_new(E.base, on_detach_timeout, ex);
		struct timeval tv = { .tv_sec = EDGE_DETACHED_STREAM_MS / 1000, .tv_usec = 0 };
		if (ex->detach_timer && evtimer_add(ex->detach_timer, &tv) == 0)
			return;
	}
	if (!ex->finished)
		close_upstream(ex);
	exchange_free(ex);
}

bool exchange_resume(struct client *cl, const char *last_event_id, size_t len)
{
	uint64_t key, seq;
	if (sse_parse_event_id(last_event_id, len, &key, &seq) != 0 || (uint32_t)(key >> 32) != E.boot_id)
		return false;
	struct exchange *ex = idmap_get(&E.exchanges, (uint32_t)key);
	if (!ex || ex->cl || !ex->replay)
		return false;
	unsigned char owner[32];
	owner_digest(client_request(cl), owner);
	if (!same_owner(owner, ex->owner)) {
		log_info("sse_resume_refused", LOG_STR("rid", ex->rid), LOG_STR("reason", "not the stream's owner"));
		return false; /* treated as a new stream: auth judges its session and credentials */
	}
	ex->cl = cl;
	evtimer_del(ex->detach_timer);
	client_set_exchange(cl, ex);
	client_start_sse(cl, cors_headers(client_request(cl)));
	if (sse_replay_since(ex->replay, seq, emit_replayed, ex) != 0)
		log_info("sse_resume_gap", LOG_STR("rid", ex->rid), LOG_INT("after", seq));
	log_debug("sse_resumed", LOG_STR("rid", ex->rid), LOG_INT("after", seq));
	if (ex->finished) {
		ex->cl = NULL;
		client_end_sse(cl);
		exchange_free(ex);
	} else {
		start_keepalive(ex);
	}
	return true;
}

struct walk {
	struct exchange *list[1024];
	size_t n;
};

static void collect(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct walk *w = arg;
	if (w->n < sizeof w->list / sizeof w->list[0])
		w->list[w->n++] = value;
}

void exchange_fail_all(int status, const char *reason)
{
	static struct walk w;
	do {
		w.n = 0;
		idmap_each(&E.exchanges, collect, &w);
		for (size_t i = 0; i < w.n; i++) {
			struct exchange *ex = w.list[i];
			struct client *cl = ex->cl;
			ex->cl = NULL;
			if (cl && !ex->streaming)
				respond_error(cl, status, -32603, reason, NULL, NULL, "Retry-After: 1\r\n");
			else if (cl)
				client_end_sse(cl);
			exchange_free(ex);
		}
	} while (w.n == sizeof w.list / sizeof w.list[0]);
}

void exchange_end_streams_for_drain(void)
{
	static struct walk w;
	w.n = 0;
	idmap_each(&E.exchanges, collect, &w);
	for (size_t i = 0; i < w.n; i++) {
		struct exchange *ex = w.list[i];
		if (!ex->streaming)
			continue; /* a pending POST finishes normally */
		struct client *cl = ex->cl;
		ex->cl = NULL;
		if (!ex->finished)
			close_upstream(ex);
		if (cl)
			client_end_sse(cl);
		exchange_free(ex);
	}
}
