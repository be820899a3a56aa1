/* The ops server's tool groups (Lambda, SQS). Each file owns its tools, its allowlist and its
 * AWS calls; main.c joins the tables and reads the settings every group shares. */
#ifndef MCPGATE_SERVERS_OPS_H
#define MCPGATE_SERVERS_OPS_H

#include "../common/tool_groups.h"

#define OPS_PAYLOAD_DEFAULT (256u * 1024u)   /* settings.max_payload_bytes: SQS's classic limit */
#define OPS_PAYLOAD_MAX (6u * 1024u * 1024u) /* Lambda's synchronous request limit */

/* Each group's init gets both limits: result_cap (settings.result_cap_bytes) and max_payload
 * (settings.max_payload_bytes). */
extern const struct tool_group lambda_group; /* lambda_invoke: settings "functions" */
extern const struct tool_group sqs_group;    /* sqs_send, sqs_receive, sqs_delete: "queues" */

#endif
