/* A small MCP stdio server core for the built-in domain servers: newline-delimited
 * JSON-RPC on stdin/stdout, initialize/ping/tools handled here, tools from a table. Under the
 * supervisor (fd 3 is its control socket) it enters the sandbox; alone it is an ordinary
 * stdio server any MCP client can start. */
#ifndef MCPGATE_MCP_SERVER_H
#define MCPGATE_MCP_SERVER_H

#include <jansson.h>

#define MCP_SERVER_LINE_MAX (8u * 1024u * 1024u)

struct mcp_tool {
	const char *name;
	const char *description;
	const char *input_schema; /* JSON text */
	/* Returns a CallToolResult object (new reference). */
	json_t *(*call)(json_t *arguments, json_t *caller);
};

struct mcp_server_def {
	const char *name;    /* "mcpgate-data" */
	const char *role;    /* "server:data" when supervised */
	const struct mcp_tool *tools;
	size_t n_tools;
};

/* A CallToolResult with one text item and isError set. */
json_t *mcp_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *mcp_tool_text(const char *text);

/* Runs until stdin closes or the supervisor asks to drain. Returns the exit code. */
int mcp_server_main(const struct mcp_server_def *def);

#endif
