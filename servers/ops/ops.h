/* The ops server's tool groups (Lambda, SQS). Each file owns its tools, its allowlist and its
 * AWS calls; main.c joins the tables and reads the settings every group shares. */
#ifndef MCPGATE_SERVERS_OPS_H
#define MCPGATE_SERVERS_OPS_H

#include <stddef.h>

#include <jansson.h>

#include "mcp_server.h"

#define OPS_PAYLOAD_DEFAULT (256u * 1024u)   /* settings.max_payload_bytes: SQS's classic limit */
#define OPS_PAYLOAD_MAX (6u * 1024u * 1024u) /* Lambda's synchronous request limit */

/* Settings every group uses. */
struct ops_limits {
	size_t result_cap;  /* settings.result_cap_bytes: text a result may carry */
	size_t max_payload; /* settings.max_payload_bytes: a Lambda payload, an SQS message */
};

struct ops_group {
	const struct mcp_tool *tools;
	size_t n_tools;
	const char *const *settings_keys; /* the keys this group reads; NULL-terminated */
	/* Reads the group's settings; 0, or -1 with "settings.<key>: why" in err. */
	int (*init)(json_t *settings, const struct ops_limits *limits, char *err, size_t errlen);
	void (*fini)(void);
};

extern const struct ops_group lambda_group; /* lambda_invoke: settings "functions" */
extern const struct ops_group sqs_group;    /* sqs_send, sqs_receive, sqs_delete: "queues" */

#endif
