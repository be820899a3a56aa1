/* mcpgate-server-data: S3, DynamoDB and Bedrock knowledge bases as one MCP stdio server.
 * The groups' tables are joined into one here; each group checks its own settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_tool.h"
#include "data.h"
#include "log.h"
#include "mcp_server.h"

static const struct tool_group *const groups[] = { &s3_group, &dynamo_group, &kb_group };
#define N_GROUPS (sizeof groups / sizeof groups[0])

static struct mcp_tool tools[32];

static int data_init(struct event_base *base, json_t *settings)
{
	(void)base;
	const char *known[16];
	size_t n_known = 0;
	known[n_known++] = "result_cap_bytes";
	for (size_t g = 0; g < N_GROUPS; g++)
		for (size_t k = 0; groups[g]->settings_keys[k] && n_known < 15; k++)
			known[n_known++] = groups[g]->settings_keys[k];
	known[n_known] = NULL;
	char err[512];
	long long cap;
	if (settings_check_keys(settings, known, err, sizeof err) != 0 ||
	    settings_int(settings, "result_cap_bytes", 1024, 1024 * 1024, MCP_RESULT_DEFAULT_CAP, &cap,
	                 err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		return -1;
	}
	for (size_t g = 0; g < N_GROUPS; g++) {
		if (groups[g]->init(settings, (size_t)cap, err, sizeof err) != 0) {
			log_error("settings_invalid", LOG_STR("reason", err));
			return -1;
		}
	}
	/* Made now, before the sandbox: the client reads its environment and files here. */
	if (!aws_tool_client()) {
		log_error("aws_client_failed", LOG_STR("reason", "out of memory"));
		return -1;
	}
	return 0;
}

static void data_fini(void)
{
	for (size_t g = 0; g < N_GROUPS; g++)
		if (groups[g]->fini)
			groups[g]->fini();
	aws_tool_client_free();
}

int main(int argc, char **argv)
{
	size_t n = 0;
	for (size_t g = 0; g < N_GROUPS; g++)
		for (size_t t = 0; t < groups[g]->n_tools && n < sizeof tools / sizeof tools[0]; t++)
			tools[n++] = groups[g]->tools[t];
	const struct mcp_server_def def = {
		.name = "mcpgate-data",
		.role = "server:data",
		.tools = tools,
		.n_tools = n,
		.init = data_init,
		.fini = data_fini,
	};
	return mcp_server_main(&def, argc, argv);
}
