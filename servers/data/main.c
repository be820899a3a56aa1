/* mcpgate-server-data: S3, DynamoDB and Bedrock knowledge bases as one MCP stdio server.
 * The groups' tables are joined into one here; each group checks its own settings. */
#include "aws_tool.h"
#include "data.h"
#include "log.h"
#include "mcp_server.h"

static const struct tool_group *const groups[] = { &s3_group, &dynamo_group, &kb_group };
#define N_GROUPS (sizeof groups / sizeof groups[0])
#define TOOLS_MAX 32

static struct mcp_tool tools[TOOLS_MAX];

/* The keys main.c reads itself; the groups add theirs. */
static const char *const shared_keys[] = { "result_cap_bytes", NULL };

static int data_init(struct event_base *base, json_t *settings)
{
	(void)base;
	char err[512];
	long long cap;
	if (tool_groups_check_keys(groups, N_GROUPS, shared_keys, settings, err, sizeof err) != 0 ||
	    settings_int(settings, "result_cap_bytes", 1024, 1024 * 1024, MCP_RESULT_DEFAULT_CAP, &cap,
	                 err, sizeof err) != 0 ||
	    tool_groups_init(groups, N_GROUPS, settings, &(struct group_limits){ .result_cap = (size_t)cap },
	                     err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		return -1;
	}
	return aws_tool_client_before_sandbox();
}

static void data_fini(void)
{
	tool_groups_fini(groups, N_GROUPS);
	aws_tool_client_free();
}

int main(int argc, char **argv)
{
	const struct mcp_server_def def = {
		.name = "mcpgate-data",
		.role = "server:data",
		.tools = tools,
		.n_tools = tool_groups_join(groups, N_GROUPS, tools, TOOLS_MAX),
		.init = data_init,
		.fini = data_fini,
	};
	return mcp_server_main(&def, argc, argv);
}
