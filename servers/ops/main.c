/* mcpgate-server-ops: AWS operations (Lambda invocations, SQS messages) as one MCP stdio
 * server. The groups' tool tables are joined here; each group reads its own settings keys. */
#include "aws_tool.h"
#include "log.h"
#include "mcp_server.h"
#include "ops.h"

static const struct tool_group *const groups[] = { &lambda_group, &sqs_group };
#define N_GROUPS (sizeof groups / sizeof groups[0])
#define TOOLS_MAX 16

static struct mcp_tool tools[TOOLS_MAX];

/* The keys main.c reads itself; the groups add theirs. */
static const char *const shared_keys[] = { "result_cap_bytes", "max_payload_bytes", NULL };

static int ops_init(struct event_base *base, json_t *settings)
{
	(void)base;
	char err[512];
	long long cap, payload;
	if (tool_groups_check_keys(groups, N_GROUPS, shared_keys, settings, err, sizeof err) != 0 ||
	    settings_int(settings, "result_cap_bytes", 1024, 1024 * 1024, MCP_RESULT_DEFAULT_CAP, &cap,
	                 err, sizeof err) != 0 ||
	    settings_int(settings, "max_payload_bytes", 1, OPS_PAYLOAD_MAX, OPS_PAYLOAD_DEFAULT, &payload,
	                 err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		return -1;
	}
	const struct group_limits limits = { .result_cap = (size_t)cap, .max_payload = (size_t)payload };
	if (tool_groups_init(groups, N_GROUPS, settings, &limits, err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		return -1;
	}
	return aws_tool_client_before_sandbox();
}

static void ops_fini(void)
{
	tool_groups_fini(groups, N_GROUPS);
	aws_tool_client_free();
}

int main(int argc, char **argv)
{
	const struct mcp_server_def def = {
		.name = "mcpgate-ops",
		.role = "server:ops",
		.tools = tools,
		.n_tools = tool_groups_join(groups, N_GROUPS, tools, TOOLS_MAX),
		.init = ops_init,
		.fini = ops_fini,
	};
	return mcp_server_main(&def, argc, argv);
}
