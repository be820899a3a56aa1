/* The auth process's shared state and the seam between main.c (links, start-up, responses
 * back to the edges) and admit.c (the admission of one request: who, which session, may
 * it, is it within budget). */
#ifndef MCPGATE_AUTH_H
#define MCPGATE_AUTH_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "apikey.h"
#include "channel.h"
#include "idmap.h"
#include "jwks.h"
#include "limiter.h"
#include "rbac.h"
#include "role.h"
#include "session_token.h"

#define AUTH_MAX_EDGES 64
#define AUTH_MAX_PENDING 20000 /* requests waiting for keys or a rate-limit verdict */

/* One exchange forwarded to the router: where it came from, and its id there. */
struct exchange {
	uint32_t id;        /* auth's stream id toward the router */
	unsigned edge;      /* index into edges[] */
	uint32_t edge_stream;
};

struct auth {
	struct role_context rc;
	struct event_base *base;
	struct channel *edges[AUTH_MAX_EDGES];
	uint32_t edge_gen[AUTH_MAX_EDGES]; /* bumped when an edge link goes: stale work is dropped */
	char edge_names[AUTH_MAX_EDGES][32];
	struct channel *router;
	struct idmap by_id;        /* auth id -> exchange */
	struct idmap by_edge;      /* (edge << 32 | edge stream) -> exchange */
	struct idmap pending;      /* (edge << 32 | edge stream) -> request being admitted */
	uint32_t next_id;
	struct apikey_table keys;
	struct session_sealer sealer;
	struct rbac rbac;
	struct limiter *limiter;
	struct jwks_cache *jwks;   /* NULL unless auth.oauth is configured */
};

extern struct auth A;

static inline uint64_t edge_key(unsigned edge, uint32_t stream)
{
	return (uint64_t)edge << 32 | stream;
}

/* main.c */
/* An HTTP-level refusal back to the edge: status, reason and a JSON-RPC error body.
 * Takes ownership of headers. */
void refuse(unsigned edge, uint32_t stream, int status, const char *reason, json_t *headers,
            int rpc_code, json_t *id);
json_t *challenge_headers(const char *error, const char *description);
void forward_to_router(unsigned edge, uint32_t stream, uint16_t flags, json_t *meta,
                       const void *body, size_t len);

/* admit.c */
void admit_request(unsigned edge, const struct frame *f);
/* The client went away before its request was admitted. */
void admit_cancel(unsigned edge, uint32_t stream);
void admit_cancel_edge(unsigned edge);
size_t admit_pending(void);

#endif
