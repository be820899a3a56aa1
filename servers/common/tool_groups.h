/* A built-in server made of tool groups, one file per AWS service: their tool tables joined
 * into one, their settings keys checked together, their init and fini run in order. */
#ifndef MCPGATE_SERVERS_TOOL_GROUPS_H
#define MCPGATE_SERVERS_TOOL_GROUPS_H

#include <stddef.h>

#include <jansson.h>

#include "mcp_server.h"

/* Settings every group of a server may use, read once by the server's main.c. */
struct group_limits {
	size_t result_cap;  /* settings.result_cap_bytes: text a result may carry */
	size_t max_payload; /* settings.max_payload_bytes (ops): a Lambda payload, an SQS message;
	                     * 0 in a server without that setting */
};

struct tool_group {
	const struct mcp_tool *tools;
	size_t n_tools;
	const char *const *settings_keys; /* the top-level keys this group reads; NULL-terminated */
	/* Reads the group's settings (and only its keys); 0, or -1 with "settings.<key>: why" in
	 * err. */
	int (*init)(json_t *settings, const struct group_limits *limits, char *err, size_t errlen);
	void (*fini)(void);
};

/* Copies the groups' tools, in order, into tools[max]; returns how many. */
size_t tool_groups_join(const struct tool_group *const *groups, size_t n_groups,
                        struct mcp_tool *tools, size_t max);

/* Checks that `settings` has only the server's own `shared_keys` (NULL-terminated) and the
 * groups' keys; -1 with the settings_check_keys message in err otherwise. */
int tool_groups_check_keys(const struct tool_group *const *groups, size_t n_groups,
                           const char *const *shared_keys, json_t *settings, char *err, size_t errlen);

/* Runs each group's init in order; -1 with that group's message in err at the first failure. */
int tool_groups_init(const struct tool_group *const *groups, size_t n_groups, json_t *settings,
                     const struct group_limits *limits, char *err, size_t errlen);
void tool_groups_fini(const struct tool_group *const *groups, size_t n_groups);

#endif
