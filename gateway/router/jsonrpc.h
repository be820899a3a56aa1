/* JSON-RPC 2.0 and MCP building blocks for the router: the one place that builds responses,
 * errors and notifications, classifies messages, and knows the MCP log levels. */
#ifndef MCPGATE_ROUTER_JSONRPC_H
#define MCPGATE_ROUTER_JSONRPC_H

#include <jansson.h>

/* JSON-RPC */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
/* MCP and ours */
#define RPC_REQUEST_TIMEOUT -32001          /* as the MCP SDKs report a timed-out request */
#define RPC_HEADER_MISMATCH -32020          /* 2026-07-28 */
#define RPC_MISSING_CLIENT_CAPABILITY -32021 /* 2026-07-28 */
#define RPC_UNSUPPORTED_VERSION -32022      /* 2026-07-28 */

enum jrpc_kind { JRPC_INVALID, JRPC_REQUEST, JRPC_NOTIFICATION, JRPC_RESPONSE };

/* All builders steal the references they are given (result, params, data) and return a new
 * message, or NULL when out of memory. `id` is borrowed (copied). */
json_t *jrpc_result(const json_t *id, json_t *result);
json_t *jrpc_error(const json_t *id, int code, const char *message, json_t *data);
json_t *jrpc_notification(const char *method, json_t *params);
json_t *jrpc_request(json_int_t id, const char *method, json_t *params);
enum jrpc_kind jrpc_classify(const json_t *msg);
/* The id a response can carry: a string or an integer; anything else is invalid. */
int jrpc_id_valid(const json_t *id);

/* MCP log levels, least severe first: debug=0 ... emergency=7. */
#define MCP_LEVEL_COUNT 8
int mcp_level_from_name(const char *name); /* -1 when unknown */
const char *mcp_level_name(int level);

#endif
