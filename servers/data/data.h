/* The data server's tool groups. Each file owns its tools, its part of the settings and its
 * AWS calls; main.c only puts the tables together. */
#ifndef MCPGATE_SERVERS_DATA_H
#define MCPGATE_SERVERS_DATA_H

#include <stddef.h>

#include <jansson.h>

#include "mcp_server.h"

/* Every group: its tools, and an init that reads its settings keys (and only those) and
 * returns 0 or -1 with a message in err. result_cap is settings.result_cap_bytes. */
struct tool_group {
	const struct mcp_tool *tools;
	size_t n_tools;
	const char *const *settings_keys; /* NULL-terminated */
	int (*init)(json_t *settings, size_t result_cap, char *err, size_t errlen);
	void (*fini)(void);
};

extern const struct tool_group s3_group;     /* s3_get, s3_put, s3_list: settings "s3" */
extern const struct tool_group dynamo_group; /* dynamo_get, dynamo_put, dynamo_query: "dynamodb" */
extern const struct tool_group kb_group;     /* kb_search: "knowledge_bases" */

#endif
