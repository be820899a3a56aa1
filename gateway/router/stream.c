/* Streams: the exchanges auth opened toward us (by its stream id), and what is still owed on
 * each. A POST owes one response per request and ends with FINAL on the last; a GET or SSE
 * stream stays until the client leaves. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "datapath.h"
#include "jsonrpc.h"
#include "log.h"

struct stream *stream_open(struct router *r, uint32_t wire_id, enum stream_kind kind)
{
	struct stream *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->kind = kind;
	st->wire_id = kind == STREAM_SSE_POST ? 0 : wire_id;
	st->key = kind == STREAM_SSE_POST ? STREAM_INTERNAL | ++r->next_internal : wire_id;
	struct stream *old = idmap_get(&r->streams, st->key);
	if (old) /* auth reused an id: the old exchange is over for it */
		stream_close(r, old);
	if (idmap_put(&r->streams, st->key, st) != 0) {
		free(st);
		return NULL;
	}
	return st;
}

struct stream *stream_find(struct router *r, uint64_t key)
{
	return key ? idmap_get(&r->streams, key) : NULL;
}

void stream_close(struct router *r, struct stream *st)
{
	if (st->kind == STREAM_LISTEN)
		listen_close(r, st);
	if (st->sid[0]) {
		struct session *s = session_find(r, st->sid);
		if (s && s->get_stream == st->key)
			s->get_stream = 0;
	}
	idmap_del(&r->streams, st->key);
	json_decref(st->listen);
	json_decref(st->listen_uris);
	free(st);
}

int router_send(struct router *r, uint8_t type, uint16_t flags, uint32_t wire_id,
                const json_t *meta, const json_t *body)
{
	if (!r->auth || wire_id == 0)
		return -1;
	char *m = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = -1;
	if ((!meta || m) && (!body || b))
		rc = channel_send(r->auth, type, flags, wire_id, m, m ? strlen(m) : 0, b,
		                  b ? strlen(b) : 0, -1);
	free(m);
	free(b);
	if (rc != 0)
		log_warn("auth_send_failed", LOG_INT("stream", wire_id));
	if (r->auth && channel_congested(r->auth) && !r->congested) {
		/* Stop producing until auth catches up: no reading from upstreams or from auth. */
		r->congested = true;
		upstreams_pause(r, true);
		channel_pause_input(r->auth, true);
	}
	return rc;
}

/* Where a stream's messages go on the wire: an SSE_POST answers on its session's stream. */
static uint32_t wire_of(struct router *r, const struct stream *st)
{
	if (st->kind != STREAM_SSE_POST)
		return st->wire_id;
	struct session *s = session_find(r, st->sid);
	struct stream *sse = s ? stream_find(r, s->get_stream) : NULL;
	return sse ? sse->wire_id : 0;
}

static bool ends_with_response(const struct stream *st)
{
	return st->kind == STREAM_POST || st->kind == STREAM_LISTEN;
}

int stream_send(struct router *r, struct stream *st, json_t *msg, bool is_response, json_t *meta)
{
	bool last = false;
	if (is_response && st->owed > 0)
		last = --st->owed == 0;
	uint16_t flags = last && ends_with_response(st) ? FRAME_FLAG_FINAL : 0;
	uint32_t wire = wire_of(r, st);
	int rc = -1;
	if (wire)
		rc = router_send(r, FRAME_RESPONSE, flags, wire, meta, msg);
	else
		log_debug("stream_message_dropped", LOG_STR("reason", "the session has no open stream"),
		          LOG_STR("rid", st->rid));
	st->started = true;
	if (last && st->kind != STREAM_GET && st->kind != STREAM_SSE)
		stream_close(r, st);
	return rc;
}

void stream_forgive(struct router *r, struct stream *st)
{
	if (st->owed == 0 || --st->owed > 0)
		return;
	if (ends_with_response(st))
		router_send(r, FRAME_RESPONSE, FRAME_FLAG_FINAL, st->wire_id, NULL, NULL);
	stream_close(r, st);
}

void stream_fail(struct router *r, struct stream *st, const json_t *id, int http_status,
                 int code, const char *message, json_t *data)
{
	json_t *err = jrpc_error(id, code, message, data);
	if (http_status && st->kind == STREAM_POST && st->single && !st->started) {
		json_t *meta = json_pack("{s:i, s:s}", DP_STATUS, http_status, DP_REASON, message);
		router_send(r, FRAME_ERROR, FRAME_FLAG_FINAL, st->wire_id, meta, err);
		json_decref(meta);
		json_decref(err);
		stream_close(r, st);
		return;
	}
	if (err)
		stream_send(r, st, err, true, NULL);
	else
		stream_forgive(r, st);
	json_decref(err);
}
