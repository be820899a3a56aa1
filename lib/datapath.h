/* The data path's frames: edge <-> auth <-> router. Every frame is a frame.h frame whose
 * meta is a small JSON object and whose body is JSON-RPC bytes. This header is the one
 * place that names the meta keys, so the three processes cannot drift apart.
 *
 * Stream ids. The edge numbers each HTTP exchange it forwards (a POST, a GET stream, an
 * HTTP+SSE stream) with a stream id unique within that edge. Auth serves many edges, so it
 * maps (edge, stream id) to its own ids toward the router and back. The router answers on
 * the stream id it was given.
 *
 * edge -> auth -> router
 *   FRAME_REQUEST   one client POST body (a JSON-RPC message or batch), a GET stream, a
 *                   DELETE, or an HTTP+SSE stream open. Meta keys below. Auth removes the
 *                   credentials and adds the principal and the opened session.
 *   FRAME_STREAM_CLOSE  the client went away (or the exchange ended at the edge): the
 *                   router forgets the stream and, for 2026-07-28, cancels its calls.
 *
 * router -> auth -> edge
 *   FRAME_RESPONSE  one JSON-RPC message for the client on that stream. FRAME_FLAG_FINAL
 *                   marks the last one for a POST exchange (the edge may then answer with
 *                   plain JSON if it was the only one). Meta may carry DP_NEW_SESSION (router
 *                   -> auth: a session to mint a token for) or DP_SESSION_ID (auth -> edge:
 *                   the Mcp-Session-Id to send).
 *   FRAME_ERROR     the exchange fails at the HTTP level: meta has DP_STATUS (and optional
 *                   DP_REASON, DP_HEADERS), the body is a JSON-RPC error a client can show.
 *
 * Added by the router (what the router sends, and what the edge already does with it):
 *   - A FRAME_RESPONSE with an empty body carries no message, only its flags and meta.
 *     With FINAL it ends the exchange: a POST that got nothing else (only notifications or
 *     responses in it, or its one request was cancelled) is answered 202, a DELETE 200, a
 *     stream simply ends. Without FINAL, as the first frame of a GET or HTTP+SSE exchange,
 *     it opens the event stream (for HTTP+SSE its meta carries DP_NEW_SESSION, so the
 *     endpoint event can name the session).
 *   - DP_KIND_SSE_POST: the router answers the POST at once with an empty FINAL frame; the
 *     replies go out on the session's HTTP+SSE stream.
 *   - FRAME_ERROR always carries FRAME_FLAG_FINAL. 2026-07-28 errors that the revision puts
 *     on the status line come this way: 400 (-32602 bad _meta, -32020, -32021, -32022) and
 *     404 (-32601), when nothing was sent on the stream yet.
 */
#ifndef MCPGATE_DATAPATH_H
#define MCPGATE_DATAPATH_H

/* FRAME_REQUEST meta keys */
#define DP_KIND "kind"               /* see DP_KIND_* */
#define DP_KIND_POST "post"          /* Streamable HTTP or 2026-07-28 POST */
#define DP_KIND_GET "get"            /* Streamable HTTP standalone stream (GET /mcp) */
#define DP_KIND_DELETE "delete"      /* end a session */
#define DP_KIND_SSE_OPEN "sse_open"  /* HTTP+SSE (2024-11-05): GET /sse */
#define DP_KIND_SSE_POST "sse_post"  /* HTTP+SSE: POST /messages?sessionId= (answer on stream) */
#define DP_PROTOCOL "protocol"       /* MCP-Protocol-Version header, or "" */
#define DP_STATELESS "stateless"     /* true: the 2026-07-28 revision (no session) */
#define DP_SSE_OK "sse_ok"           /* the client accepts text/event-stream */
#define DP_SESSION_TOKEN "session_token" /* edge -> auth: raw Mcp-Session-Id / sessionId */
#define DP_CREDENTIALS "credentials" /* edge -> auth only: {"authorization":..,"api_key":..} */
#define DP_REMOTE "remote"           /* client address, for logs */
#define DP_REQUEST_ID "rid"          /* request id for logs, set by the edge */
#define DP_LAST_EVENT_ID "last_event_id"
#define DP_PRINCIPAL "principal"     /* auth -> router: {"id","name","roles":[...]} */
/* Proposed by the router, not yet sent by auth: inside DP_PRINCIPAL, the exposed tool names
 * this principal may call, as shell globs ("data__*", "gh__get_?ssue"). The router then lists
 * only these in tools/list and answers "unknown tool" for others, so the list shows exactly
 * what tools/call would allow. Absent = every tool. */
#define DP_PRINCIPAL_TOOLS "tools"
#define DP_PRINCIPAL_PROMPTS "prompts"     /* in the principal: prompt name globs it may use */
#define DP_PRINCIPAL_RESOURCES "resources" /* in the principal: resource URI globs it may read */
#define DP_SESSION "session"         /* auth -> router: the opened session object, or absent */
#define DP_MCP_METHOD "mcp_method"   /* 2026-07-28: Mcp-Method header (checked by the edge) */

/* FRAME_RESPONSE / FRAME_ERROR meta keys */
#define DP_NEW_SESSION "new_session" /* router -> auth: session object to mint a token for */
#define DP_SESSION_ID "session_id"   /* auth -> edge: the token to send as Mcp-Session-Id */
#define DP_STATUS "status"           /* FRAME_ERROR: HTTP status */
#define DP_REASON "reason"           /* FRAME_ERROR: short text for logs and the body */
#define DP_HEADERS "headers"         /* FRAME_ERROR: {"WWW-Authenticate": "..."} */
#define DP_EVENT_ID "event_id"       /* router-assigned SSE event id, for resumption */

/* A session object (inside the encrypted token; seen by auth and router, never the edge):
 *   {"v":1, "sid":"<random id>", "pv":"2025-11-25", "p":"<principal id>",
 *    "caps":{client capabilities}, "ci":{clientInfo}, "t":<created, unix seconds>,
 *    "legacy":true when made by an HTTP+SSE stream} */
#define DP_SESSION_VERSION 1

#endif
