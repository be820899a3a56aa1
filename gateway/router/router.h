/* The router's shared state and the functions its files call on each other. One router per
 * process (struct router), reached by every file through a pointer. Objects that outlive a
 * callback (calls, relays, streams, sessions) are found again by id in the router's tables,
 * never kept as raw pointers across events, so a stream or upstream that went away meanwhile
 * is simply not found. */
#ifndef MCPGATE_ROUTER_H
#define MCPGATE_ROUTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "frame.h"
#include "idmap.h"
#include "lines.h"
#include "role.h"

struct event;
struct event_base;
struct request_ctx;
struct bufferevent;
struct channel;

#define ROUTER_SERVER_NAME "mcpgate"
#define UPSTREAM_PROTOCOL "2025-11-25"     /* what we ask upstreams for first */
#define UPSTREAM_LINE_MAX (16u * 1024u * 1024u)
#define UPSTREAM_OUTPUT_MAX (32u * 1024u * 1024u) /* queued toward one upstream */
#define UPSTREAM_INTERNAL_TIMEOUT_MS 30000  /* initialize, list pages, subscribe */
#define UPSTREAM_LIST_MAX_PAGES 100
#define ROUTER_WARMUP_MS 3000      /* requests wait this long at most for first upstream lists */
#define ROUTER_DEFER_MAX 1024      /* frames held during warm-up */
#define SESSION_IDLE_MS (2u * 3600u * 1000u)
#define SESSION_CACHE_MAX 100000
#define SESSION_ID_HEX 32
#define RELAY_TTL_MS (15u * 60u * 1000u)
#define PARKED_MAX 10000
#define MRTR_GATHER_MS 30          /* collect server->client requests that come together */
#define DRAIN_MAX_MS 10000
/* Servers configured "per_session" (persession.c): each client session gets its own process. */
#ifndef PER_SESSION_IDLE_MS /* a build may shorten it (-DPER_SESSION_IDLE_MS=...) to try it out */
#define PER_SESSION_IDLE_MS (10u * 60u * 1000u) /* a session's process ends after this long unused */
#endif
#define PER_SESSION_QUEUE_MAX 32   /* calls held while a session's process starts */
#define PER_SESSION_SPAWN_MS 30000 /* the supervisor links a requested process by then, or it failed */
#define PER_SESSION_SWEEP_MS 1000

/* _meta keys */
#define META_OURS_PREFIX "io.mcpgate/"
#define META_CALLER "io.mcpgate/caller"
#define META_UPSTREAMS "io.mcpgate/upstreams"
/* An upstream that knows it runs behind mcpgate may tag its notifications and requests with
 * the id of the request they belong to (the id the router sent it): the stdio transport
 * has no other way to say so when several calls are in flight. */
#define META_RELATED "io.mcpgate/related"
#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
#define META_SUBSCRIPTION_ID "io.modelcontextprotocol/subscriptionId"

/* ---- upstreams (upstream.c) ---- */

enum upstream_state { UPSTREAM_DOWN, UPSTREAM_INITIALIZING, UPSTREAM_READY };

struct upstream {
	struct router *r;
	size_t index;              /* position in r->ups */
	char name[64];
	char ns[64];
	uint32_t timeout_ms;
	struct bufferevent *bev;   /* NULL while there is no link */
	struct line_reader lines;
	uint32_t generation;       /* bumps with every link, so late answers are told apart */
	enum upstream_state state;
	bool settled;              /* first initialize and lists done (or failed) */
	bool probing;              /* server/discover sent after initialize, no answer yet */
	bool modern;               /* also speaks 2026-07-28: stateless requests pass through */
	bool linked_once;
	char last_error[256];
	char protocol[16];
	json_t *caps;              /* server capabilities (kept while down) */
	json_t *server_info;
	json_t *instructions;
	json_t *lists[LIST_KINDS];   /* last complete lists, kept while down */
	json_t *partial[LIST_KINDS]; /* a fetch in progress */
	unsigned pages[LIST_KINDS];
	bool fetching[LIST_KINDS];
	bool refetch[LIST_KINDS];    /* a change was announced during the fetch */
	unsigned calls;            /* client calls in flight */
	int log_level;             /* level last set with logging/setLevel, -1 = none */
	json_t *subscriptions;     /* uri -> number of sessions and listen streams subscribed */
	bool per_session;          /* configured so: calls go to each session's own process */
	/* A session's own process of a per_session server (persession.c); never in r->ups. */
	char session[SESSION_ID_HEX + 1]; /* "" for the shared upstreams in r->ups */
	uint64_t spawn_ms;         /* when its process was asked for */
	uint64_t last_used_ms;     /* the last call routed to it */
	unsigned queued;           /* calls held until it is ready */
	bool retired;              /* out of the table, freed at the next sweep */
	struct upstream *buried_next;
};

/* Answer to a request the router sent an upstream: `response` is the whole message, or NULL
 * with `failure` saying why (link lost, timeout, refused). */
typedef void (*outreq_done_fn)(struct upstream *up, json_t *response, const char *failure,
                               void *arg);

struct outreq {
	uint64_t rid;              /* the id the upstream sees */
	struct upstream *up;
	uint32_t generation;
	outreq_done_fn done;
	void *arg;
	struct event *timer;       /* internal requests only; calls time themselves */
	char method[40];
	json_t *queued;            /* the request, held until a session's process is ready */
};

struct upstream *upstream_new(struct router *r, const struct config_server *srv, size_t index);
void upstream_free(struct upstream *up);
void upstream_configure(struct upstream *up, const struct config_server *srv);
/* Takes ownership of fd; replaces any previous link (its requests fail). */
void upstream_attach(struct upstream *up, int fd);
/* Sends a request; params are stolen. On success returns the outreq (its rid is the wire
 * id). NULL when the upstream is not linked or congested (`why` says which); `done` is then
 * never called. Internal requests (timeout_ms > 0) get their own timer. */
struct outreq *upstream_request(struct upstream *up, const char *method, json_t *params,
                                outreq_done_fn done, void *arg, uint32_t timeout_ms,
                                const char **why);
/* The same with the wire id chosen by the caller (a call's id doubles as its progress token). */
struct outreq *upstream_request_id(struct upstream *up, uint64_t rid, const char *method,
                                   json_t *params, outreq_done_fn done, void *arg,
                                   uint32_t timeout_ms, const char **why);
/* For a session's process that is not ready yet: the request is held (PER_SESSION_QUEUE_MAX
 * at most) and sent once it is; a failure of the process fails it like a sent one. */
struct outreq *upstream_enqueue(struct upstream *up, uint64_t rid, const char *method,
                                json_t *params, outreq_done_fn done, void *arg, const char **why);
/* Whether request rid is still held, not sent. */
bool outreq_held(struct router *r, uint64_t rid);
/* Forgets an outstanding request without calling its callback. */
void outreq_forget(struct router *r, uint64_t rid);
/* Sends a notification or a response; the message is stolen. Returns 0 or -1. */
int upstream_send(struct upstream *up, json_t *msg);
const char *upstream_state_name(enum upstream_state s);
bool upstream_has_cap(const struct upstream *up, const char *cap, const char *sub);
void upstream_want_log_level(struct upstream *up, int level);
void upstream_subscribe(struct upstream *up, const char *uri, bool on);
void upstream_cancel(struct upstream *up, uint64_t rid, const char *reason);
void upstreams_pause(struct router *r, bool paused);
struct upstream *upstream_by_name(struct router *r, const char *name);
/* A session's own process of the per_session server `shared`, not linked yet. */
struct upstream *upstream_new_instance(struct upstream *shared, const char *sid);
/* Closes the link; every request out or held fails with `why`. */
void upstream_disconnect(struct upstream *up, const char *why);

/* ---- per-session server processes (persession.c) ---- */

/* The process a session's call to the per_session server `shared` goes to: the session's
 * own, asked for from the supervisor on first use (it may not be ready yet: calls are then
 * held). NULL after answering the client (stateless request, no process to be had). */
struct upstream *persession_route(struct request_ctx *ctx, const json_t *id,
                                  struct upstream *shared);
/* The session's process of `shared` if it has one, else NULL; `start` asks for one. */
struct upstream *persession_get(struct router *r, struct upstream *shared, const char *sid,
                                bool start, const char **why);
/* FRAME_LINK "upstream:NAME#SID" (name_sid is "NAME#SID"): takes ownership of fd. */
void persession_link(struct router *r, const char *name_sid, int fd);
/* A FRAME_STATUS from the supervisor; answers {"spawn_failed":...}. */
void persession_status(struct router *r, const json_t *status);
/* The process is over as far as the router goes: its calls fail with `why`, the supervisor
 * is told to stop it, and a later call asks for a new one. */
void persession_retire(struct upstream *up, const char *why);
/* The session ended or left the cache: its processes stop. */
void persession_session_gone(struct router *r, const char *sid, const char *why);
/* The server left the configuration or is no longer per_session. */
void persession_server_gone(struct router *r, const char *name, const char *why);
void persession_log_level(struct router *r, const char *sid, int level);
/* Idle expiry, spawns that never came, and freeing what was retired. */
void persession_sweep(struct router *r);

/* ---- sessions (session.c) ---- */

struct session {
	char sid[SESSION_ID_HEX + 1];
	char principal[128];
	char protocol[16];
	json_t *caps;              /* client capabilities */
	json_t *client_info;
	bool legacy;               /* HTTP+SSE (2024-11-05) */
	time_t created;
	int log_level;             /* notifications/message at or above this reach the client */
	json_t *subscriptions;     /* uri -> true */
	uint64_t get_stream;       /* key of its standalone GET / SSE stream, 0 = none */
	uint64_t last_used_ms;
};

struct session *session_create(struct router *r, const char *principal, const char *protocol,
                               json_t *caps, json_t *client_info, bool legacy);
/* The DP_SESSION object for auth to seal (new reference). */
json_t *session_object(const struct session *s);
/* The cached session for a DP_SESSION object, re-created from the object when this router
 * has not seen it (another replica made it, or we restarted). NULL with *why when the object
 * is malformed, belongs to someone else or was ended here. */
struct session *session_open(struct router *r, const json_t *obj, const char *principal,
                             const char **why);
struct session *session_find(struct router *r, const char *sid);
void session_end(struct router *r, struct session *s);
void sessions_sweep(struct router *r);
bool session_client_can(const struct session *s, const char *cap);

/* ---- streams (stream.c) ---- */

enum stream_kind {
	STREAM_POST,     /* a POST: owes one response per request, FINAL on the last */
	STREAM_GET,      /* a session's standalone stream (GET /mcp) */
	STREAM_SSE,      /* a session's HTTP+SSE stream (GET /sse) */
	STREAM_SSE_POST, /* POST /messages: answers go to the session's SSE stream */
	STREAM_LISTEN,   /* 2026-07-28 subscriptions/listen: a POST that stays open */
};

#define STREAM_INTERNAL (1ull << 32) /* keys above this are ours, not auth's stream ids */

struct stream {
	uint64_t key;
	uint32_t wire_id;          /* auth's stream id (0 for STREAM_SSE_POST) */
	enum stream_kind kind;
	char sid[SESSION_ID_HEX + 1]; /* "" when stateless */
	bool stateless;
	bool started;              /* a frame went out: HTTP-level errors are too late */
	bool single;               /* the POST carried one message, not a batch */
	unsigned owed;             /* responses still owed */
	char rid[40];              /* request id, for logs */
	/* STREAM_LISTEN */
	char subscription_id[33];
	json_t *listen;            /* the accepted filter */
	json_t *listen_uris;       /* [[uri, upstream name], ...] subscribed upstream-side */
};

struct stream *stream_open(struct router *r, uint32_t wire_id, enum stream_kind kind);
struct stream *stream_find(struct router *r, uint64_t key);
void stream_close(struct router *r, struct stream *st);
/* Sends a message on the stream (borrowed). A response pays one owed answer and the last
 * one carries FINAL (the stream is then closed). `meta` (borrowed, may be NULL) rides along. */
int stream_send(struct router *r, struct stream *st, json_t *msg, bool is_response, json_t *meta);
/* A request that needs no answer after all (cancelled): pay it with nothing. */
void stream_forgive(struct router *r, struct stream *st);
/* An HTTP-level failure when nothing was sent yet and the POST held only this request;
 * otherwise an ordinary error response. Takes `data`. */
void stream_fail(struct router *r, struct stream *st, const json_t *id, int http_status,
                 int code, const char *message, json_t *data);
int router_send(struct router *r, uint8_t type, uint16_t flags, uint32_t wire_id,
                const json_t *meta, const json_t *body);

/* ---- requests from clients (dispatch.c) ---- */

/* What a request came with; lives for one message. */
struct request_ctx {
	struct router *r;
	struct stream *st;
	json_t *principal;         /* DP_PRINCIPAL (borrowed) */
	const char *principal_id;
	struct session *sess;      /* NULL: stateless, or before initialize */
	const char *protocol;      /* the negotiated or declared protocol version */
	/* 2026-07-28 */
	bool stateless;
	json_t *client_caps;       /* from _meta (borrowed) */
	int log_level;             /* from _meta; -1 = the request wants no log messages */
};

void dispatch_frame(struct router *r, const struct frame *f);
void dispatch_stream_closed(struct router *r, uint32_t wire_id);
/* The result a request is answered with; decorates 2026-07-28 results. Takes `result`. */
void reply_result(struct request_ctx *ctx, const json_t *id, const char *method, json_t *result);
void reply_error(struct request_ctx *ctx, const json_t *id, int code, const char *message,
                 json_t *data);
/* Server capabilities: the union of the upstreams'. New reference. */
json_t *router_capabilities(struct router *r);
json_t *router_server_info(void);
json_t *router_instructions(struct router *r);
/* {"name": "ready" | "initializing" | "down: <error>"} for every upstream. */
json_t *router_upstream_status(struct router *r, bool *all_ready);
bool principal_may_use_tool(const char *name, void *principal);
/* The upstream a tools/call, prompts/get or resources/read would go to, or NULL; answers
 * nothing. */
struct upstream *router_route_target(struct router *r, const char *method, const json_t *params);

/* ---- calls to upstreams (calls.c) ---- */

struct call {
	struct router *r;
	uint64_t rid;              /* the id (and progress token) the upstream sees */
	struct upstream *up;
	uint32_t generation;
	json_t *client_id;
	json_t *client_token;      /* the client's progressToken, NULL when none */
	char method[40];
	char target[256];          /* exposed tool or prompt name, or resource uri */
	uint64_t stream_key;       /* 0 when detached (stream gone, or parked) */
	char sid[SESSION_ID_HEX + 1];
	char principal[128];
	char rid_log[40];
	bool stateless;
	bool passthrough;          /* stateless, to an upstream that speaks 2026-07-28 itself */
	json_t *client_caps;       /* 2026-07-28: declared with the request (owned) */
	int log_level;             /* 2026-07-28: -1 = no log messages */
	struct event *timer;
	uint64_t started_ms, deadline_ms, hard_deadline_ms;
	/* The input-required bridge (mrtr.c) */
	json_t *asks;              /* key -> {"id": upstream's id, "method":..., "params":...} */
	unsigned ask_seq;
	struct event *gather;
	char state[SESSION_ID_HEX + 1]; /* requestState handed out while parked, "" = not parked */
	json_t *early_result;      /* the upstream answered while the call was parked */
};

/* Forwards a client request to an upstream as a call. `params` is stolen and already
 * carries the upstream's name for the target; this adds the caller and rewrites the
 * progress token. Always answers the client, now or later. */
void call_start(struct request_ctx *ctx, const json_t *id, struct upstream *up,
                const char *method, const char *target, json_t *params);
struct call *call_find(struct router *r, uint64_t rid);
void call_finish(struct call *c); /* frees; the client has been answered (or is gone) */
/* Sends on the call's stream (or drops when detached). msg borrowed. */
int call_send(struct call *c, json_t *msg, bool is_response);
void calls_client_cancelled(struct request_ctx *ctx, const json_t *request_id, const char *reason);
void calls_stream_gone(struct router *r, struct stream *st);
/* From an upstream: progress, log messages, server->client requests and their cancellation. */
void calls_upstream_progress(struct upstream *up, json_t *params);
void calls_upstream_log(struct upstream *up, json_t *msg);
void calls_upstream_request(struct upstream *up, json_t *msg);
void calls_upstream_cancelled(struct upstream *up, json_t *params);
/* A client's answer to a server->client request (a JSON-RPC response in a POST). */
void calls_client_response(struct request_ctx *ctx, json_t *msg);
void relays_sweep(struct router *r);
/* Forgets the relayed requests of an upstream about to be freed. */
void relays_forget_upstream(struct router *r, struct upstream *up);
/* Copies client params for an upstream: drops the io.mcpgate keys from _meta, adds the
 * caller, swaps the progress token for `rid`. Unless `stateless_passthrough` (a 2026-07-28
 * request for an upstream that speaks it), the 2026-07-28 protocol keys and the
 * input-required fields go too: the upstream sees a call in the router's session. */
json_t *forward_params(const json_t *params, const json_t *principal, uint64_t rid,
                       json_t **client_token, bool stateless_passthrough);
unsigned calls_in_flight(struct router *r);

/* ---- the 2026-07-28 input-required bridge (mrtr.c) ---- */

/* A server->client request for a stateless call: gathered, then answered to the client as
 * an InputRequiredResult. Takes msg. */
void mrtr_upstream_request(struct call *c, json_t *msg);
/* A retried request carrying requestState: resumes the parked call. Returns true when the
 * request was taken (answered or resumed). */
bool mrtr_resume(struct request_ctx *ctx, const json_t *id, const char *method, json_t *params);
void mrtr_unpark(struct call *c);

/* ---- notifications to clients (fanout.c) ---- */

void fanout_list_changed(struct router *r, enum list_kind kind);
void fanout_resource_updated(struct router *r, struct upstream *up, json_t *params);
/* Sends to a session's standalone stream; msg borrowed. Returns 0 when sent. */
int session_notify(struct router *r, struct session *s, json_t *msg);

/* ---- 2026-07-28 (stateless.c) ---- */

/* Validates the per-request _meta and fills ctx. Returns 0, or -1 after answering. */
int stateless_accept(struct request_ctx *ctx, const char *method, const json_t *id,
                     const json_t *params, const json_t *frame_meta);
void stateless_decorate(json_t *result, const char *method);
/* The HTTP status 2026-07-28 puts on the status line for a JSON-RPC error code, or 0. */
int stateless_http_status(int code);
json_t *stateless_discover(struct router *r);
void listen_open(struct request_ctx *ctx, const json_t *id, const json_t *params);
void listen_close(struct router *r, struct stream *st);
bool listen_wants(const struct stream *st, const char *method, const char *uri);

/* ---- the router (main.c) ---- */

/* A frame from auth held while upstreams are still starting (copies of its parts). */
struct deferred_frame {
	uint8_t type;
	uint16_t flags;
	uint32_t stream_id;
	uint8_t *meta, *body;
	uint32_t meta_len, body_len;
};

struct router {
	struct event_base *base;
	struct role_context rc;
	struct channel *auth;
	struct upstream *ups[CONFIG_MAX_SERVERS];
	size_t n_ups;
	struct catalog catalog;
	struct idmap outreqs;      /* rid -> struct outreq */
	struct idmap streams;      /* key -> struct stream */
	struct idmap sessions;     /* name_hash(sid) -> struct session */
	struct idmap ended;        /* name_hash(sid) -> ended marker: sessions DELETEd here */
	struct idmap relays;       /* relay id -> struct relay */
	struct idmap parked;       /* name_hash(requestState) -> struct call */
	struct idmap instances;    /* name_hash("NAME#SID") -> a session's own struct upstream */
	struct upstream *buried;   /* retired session processes, freed at the next sweep */
	uint64_t next_id;
	uint64_t next_internal;
	uint64_t started_ms;
	bool warm;
	struct deferred_frame *deferred; /* frames held during warm-up, oldest first */
	size_t n_deferred;
	bool draining;
	bool congested;
	struct event *tick;        /* sweeps, warm-up deadline, drain */
	uint64_t drain_deadline_ms;
};

uint64_t router_next_id(struct router *r);
uint64_t now_ms(void);
/* Fills out with 2*n hex digits of kernel randomness; fatal when the kernel has none. */
void random_hex(char *out, size_t n);
/* Upstream lists changed: rebuild the catalog and tell the clients. */
void router_catalog_changed(struct router *r);
void router_check_warm(struct router *r);
void router_maybe_exit(struct router *r);

#endif
