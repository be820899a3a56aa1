/* The data server's tool groups. Each file owns its tools, its part of the settings and its
 * AWS calls; main.c only puts the tables together. */
#ifndef MCPGATE_SERVERS_DATA_H
#define MCPGATE_SERVERS_DATA_H

#include "../common/tool_groups.h"

/* Each group's init gets limits->result_cap (settings.result_cap_bytes); the data server has
 * no max_payload_bytes. */
extern const struct tool_group s3_group;     /* s3_get, s3_put, s3_list: settings "s3" */
extern const struct tool_group dynamo_group; /* dynamo_get, dynamo_put, dynamo_query: "dynamodb" */
extern const struct tool_group kb_group;     /* kb_search: "knowledge_bases" */

#endif
