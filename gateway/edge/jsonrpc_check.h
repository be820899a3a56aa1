/* The JSON-RPC envelope check at the edge: before a body goes further it must be one valid
 * JSON-RPC 2.0 message or a batch of them, and the edge learns what it needs to answer at the
 * HTTP level (does anything expect a response? which method, for the 2026-07-28 headers?). */
#ifndef MCPGATE_JSONRPC_CHECK_H
#define MCPGATE_JSONRPC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define JSONRPC_MAX_BATCH 100  /* messages in one batch */
#define JSONRPC_MAX_DEPTH 64   /* nesting of params/result */
#define JSONRPC_METHOD_MAX 128

enum jsonrpc_check_status {
	JSONRPC_VALID = 0,
	JSONRPC_PARSE_ERROR,      /* not JSON (-32700) */
	JSONRPC_INVALID_REQUEST,  /* JSON but not a JSON-RPC 2.0 message (-32600) */
	JSONRPC_BATCH_REFUSED,    /* a batch where the caller said batches are not allowed */
};

struct jsonrpc_summary {
	enum jsonrpc_check_status status;
	const char *reason;     /* static text for the error body */
	bool batch;
	size_t n_messages;
	size_t n_requests;      /* messages with a method and an id: each wants a response */
	size_t n_notifications; /* method, no id */
	size_t n_responses;     /* result or error, with an id */
	char method[JSONRPC_METHOD_MAX + 1]; /* of the first request or notification, or "" */
	/* For the 2026-07-28 Mcp-Name check: params.name (tools/call, prompts/get) or
	 * params.uri (resources/read and friends) of the first message; "" when absent. */
	char name[256];
	bool name_too_long;     /* that value was a string of 256 bytes or more: name is "" */
	bool is_initialize;     /* the (single) message is an initialize request */
	/* params._meta["io.modelcontextprotocol/protocolVersion"] of a single message, or "":
	 * a 2026-07-28 request names its revision in the body as well as in the header. */
	char meta_protocol[16];
	/* The id of the first request as JSON text ("1", "\"abc\""), for error bodies. */
	char first_id[80];
};

/* Checks `body`. allow_batch false turns a batch into JSONRPC_BATCH_REFUSED. Never reads
 * past len; depth and batch size are bounded. */
void jsonrpc_check(const char *body, size_t len, bool allow_batch, struct jsonrpc_summary *out);

#endif
