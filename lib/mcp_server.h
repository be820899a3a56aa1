/* A small MCP stdio server core for the built-in domain servers: newline-delimited
 * JSON-RPC on stdin/stdout, initialize/ping/tools handled here, tools from a table. Tool
 * calls are asynchronous (a call answers when its AWS request completes, while others run),
 * may send progress notifications, and are told when the client cancels them. Under the
 * supervisor (fd 3 is its control socket) the server enters the sandbox; alone it is an
 * ordinary stdio server any MCP client can start. */
#ifndef MCPGATE_MCP_SERVER_H
#define MCPGATE_MCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define MCP_SERVER_LINE_MAX (8u * 1024u * 1024u)
#define MCP_SERVER_MAX_CALLS 256            /* calls in flight; more get -32000 busy */
#define MCP_RESULT_DEFAULT_CAP (50u * 1024u) /* bytes of text a result carries by default */

struct event_base;
struct mcp_call; /* one tools/call in flight */

struct mcp_tool {
	const char *name;
	const char *description;
	const char *input_schema;  /* JSON text */
	const char *output_schema; /* JSON text, or NULL when the result is not structured */
	/* Starts the call; it must end, now or later, with exactly one mcp_call_finish (or one of
	 * its wrappers), including after a cancellation. */
	void (*call)(struct mcp_call *call, json_t *arguments);
};

struct mcp_server_def {
	const char *name; /* "mcpgate-data" */
	const char *role; /* "server:data" when supervised */
	const struct mcp_tool *tools;
	size_t n_tools;
	/* Called once before the sandbox is entered, with the server's settings (the config's
	 * servers[].settings, or the --settings FILE / MCPGATE_SETTINGS_FILE document when
	 * standalone; an empty object when none). Returns 0, or -1 to exit (log why). */
	int (*init)(struct event_base *base, json_t *settings);
	void (*fini)(void);
};

/* The tool arguments and the caller identity the gateway added (io.mcpgate/caller: principal,
 * roles), or NULL when unknown (standalone). Borrowed for the call's life. */
json_t *mcp_call_caller(const struct mcp_call *call);
const char *mcp_call_tool(const struct mcp_call *call);
/* Whether the caller holds `role` (io.mcpgate/caller.roles); false when unknown. */
bool mcp_call_caller_has_role(const struct mcp_call *call, const char *role);

/* notifications/progress with the request's progressToken; nothing when it has none.
 * total < 0: no total. message may be NULL. */
void mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message);

/* Called once when the client cancels the call (notifications/cancelled) or the server
 * drains; the tool should stop its work and still finish the call (the answer is dropped). */
typedef void (*mcp_cancel_fn)(struct mcp_call *call, void *arg);
void mcp_call_on_cancel(struct mcp_call *call, mcp_cancel_fn fn, void *arg);
bool mcp_call_cancelled(const struct mcp_call *call);

/* Ends the call with a CallToolResult (stolen) and frees the call. */
void mcp_call_finish(struct mcp_call *call, json_t *result);
/* Ends the call with a tool error (isError) carrying this text. */
void mcp_call_fail(struct mcp_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CallToolResult builders (new references). */
json_t *mcp_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *mcp_tool_text(const char *text);
/* A result with `structured` (stolen) as structuredContent and its compact JSON as the text
 * item, as the spec asks for tools with an outputSchema. */
json_t *mcp_tool_structured(json_t *structured);

/* Cuts `text` to at most `cap` bytes on a UTF-8 boundary. Returns the kept length; sets
 * *truncated. Used with a notice telling the caller how to fetch the rest. */
size_t mcp_text_cap(const char *text, size_t len, size_t cap, bool *truncated);
/* Whether `len` bytes are valid UTF-8 without NUL bytes (text we may return as text). */
bool mcp_text_is_utf8(const void *data, size_t len);

struct event_base *mcp_server_base(void);

/* Runs until stdin closes or the supervisor asks to drain. Returns the exit code. */
int mcp_server_main(const struct mcp_server_def *def, int argc, char **argv);

#endif
