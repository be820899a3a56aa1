/* The edge's shared state and the seams between its files: main.c (start-up, listeners,
 * the auth link), client.c (one HTTP connection), routes.c (what each path does),
 * exchange.c (frames from auth turned into HTTP responses and SSE streams),
 * origin.c (Host and Origin checks). */
#ifndef MCPGATE_EDGE_H
#define MCPGATE_EDGE_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "conn.h"
#include "http_parser.h"
#include "idmap.h"
#include "role.h"
#include "sse_replay.h"

#define EDGE_MAX_LISTENERS 8
#define EDGE_DETACHED_STREAM_MS 30000 /* how long a dropped SSE stream waits for a resume */
#define EDGE_REPLAY_EVENTS 256
#define EDGE_REPLAY_BYTES (1024 * 1024)

struct tls_context;
struct client;

struct edge {
	struct role_context rc;
	struct event_base *base;
	struct tls_context *tls;
	struct event *accept_ev[EDGE_MAX_LISTENERS];
	size_t n_listeners;
	struct channel *auth;
	bool ready;       /* every role is ready (from the supervisor) */
	bool draining;
	uint32_t next_stream;
	uint32_t boot_id; /* random per process: stream keys from an earlier run never match */
	uint64_t next_rid;
	struct idmap exchanges; /* stream id -> struct exchange */
	size_t n_clients;
	struct http_limits limits;
};

extern struct edge E;

enum exchange_kind { EX_POST, EX_GET, EX_DELETE, EX_SSE_OPEN, EX_SSE_POST };

/* One HTTP exchange forwarded to auth, from the request until its last frame. */
struct exchange {
	uint32_t id;
	enum exchange_kind kind;
	struct client *cl;        /* NULL while detached (the client dropped an SSE stream) */
	bool streaming;           /* SSE headers sent: later messages are events */
	bool finished;            /* the final frame arrived */
	bool legacy_sse;          /* HTTP+SSE: events are "message" and the first is "endpoint" */
	char rid[32];
	struct sse_replay *replay;
	struct event *keepalive;
	struct event *detach_timer;
	unsigned char owner[32];  /* digest of the opening request's session id and credentials */
};

/* client.c */
void client_accept(int fd, bool tls, const char *remote);
void client_write(struct client *cl, const void *buf, size_t len);
/* A complete non-streaming response. extra_headers: "Name: value\r\n" lines or NULL. */
void client_respond(struct client *cl, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len);
/* Starts a chunked text/event-stream response. */
void client_start_sse(struct client *cl, const char *extra_headers);
void client_sse_chunk(struct client *cl, const void *buf, size_t len);
/* Ends a chunked stream and goes back to reading requests (or closes). */
void client_end_sse(struct client *cl);
/* The request on this client is done: resume parsing pipelined input. */
void client_request_done(struct client *cl);
const struct http_request *client_request(const struct client *cl);
const char *client_remote(const struct client *cl);
void client_set_exchange(struct client *cl, struct exchange *ex);
void client_drain_idle(void);
const char *http_status_text(int status);

/* routes.c: called with a complete request. */
void route_request(struct client *cl, const struct http_request *req);
/* An error answered at the edge, with a JSON-RPC error body a client can show. */
void respond_error(struct client *cl, int status, int rpc_code, const char *message,
                   const char *id_json, json_t *data, const char *extra_headers);

/* exchange.c */
struct exchange *exchange_new(struct client *cl, enum exchange_kind kind, const char *rid);
void exchange_on_frame(const struct frame *f);
/* The client went away; a stream with a replay buffer may wait to be resumed. */
void exchange_client_gone(struct exchange *ex);
/* Reattaches a detached stream named by Last-Event-ID; true if it took the client. */
bool exchange_resume(struct client *cl, const char *last_event_id, size_t len);
void exchange_fail_all(int status, const char *reason);
void exchange_end_streams_for_drain(void);

/* origin.c */
bool origin_allowed(const struct http_request *req);
bool host_allowed(const struct http_request *req);
/* CORS response headers for an allowed Origin, or "" (static buffer). */
const char *cors_headers(const struct http_request *req);

/* main.c */
int edge_send(uint8_t type, uint16_t flags, uint32_t stream_id, json_t *meta, const void *body,
              size_t len);
void edge_maybe_exit(void);

#endif
