/* mcpgate-server-ops: AWS operations (Lambda invocations, SQS messages) as one MCP stdio
 * server. The groups' tool tables are joined here; each group reads its own settings keys. */
#include <stdio.h>

#include "aws_tool.h"
#include "log.h"
#include "mcp_server.h"
#include "ops.h"

static const struct ops_group *const groups[] = { &lambda_group, &sqs_group };
#define N_GROUPS (sizeof groups / sizeof groups[0])
#define KNOWN_MAX 16
#define TOOLS_MAX 16

static struct mcp_tool tools[TOOLS_MAX];

/* The keys main.c reads itself; the groups add theirs. */
static const char *const shared_keys[] = { "result_cap_bytes", "max_payload_bytes", NULL };

static int known_keys(const char **known)
{
	size_t n = 0;
	for (size_t k = 0; shared_keys[k]; k++)
		known[n++] = shared_keys[k];
	for (size_t g = 0; g < N_GROUPS; g++) {
		for (size_t k = 0; groups[g]->settings_keys[k]; k++) {
			if (n + 1 >= KNOWN_MAX)
				return -1;
			known[n++] = groups[g]->settings_keys[k];
		}
	}
	known[n] = NULL;
	return 0;
}

static int ops_init(struct event_base *base, json_t *settings)
{
	(void)base;
	const char *known[KNOWN_MAX];
	char err[512];
	long long cap, payload;
	if (known_keys(known) != 0) {
		log_error("settings_invalid", LOG_STR("reason", "too many settings keys for the table"));
		return -1;
	}
	if (settings_check_keys(settings, known, err, sizeof err) != 0 ||
	    settings_int(settings, "result_cap_bytes", 1024, 1024 * 1024, MCP_RESULT_DEFAULT_CAP, &cap,
	                 err, sizeof err) != 0 ||
	    settings_int(settings, "max_payload_bytes", 1, OPS_PAYLOAD_MAX, OPS_PAYLOAD_DEFAULT, &payload,
	                 err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		return -1;
	}
	const struct ops_limits limits = { .result_cap = (size_t)cap, .max_payload = (size_t)payload };
	for (size_t g = 0; g < N_GROUPS; g++) {
		if (groups[g]->init(settings, &limits, err, sizeof err) != 0) {
			log_error("settings_invalid", LOG_STR("reason", err));
			return -1;
		}
	}
	/* Made now, before the sandbox: libcurl's and OpenSSL's one-time set-up makes system
	 * calls (sysinfo) and reads files that the server's policy refuses later. */
	if (!aws_tool_client()) {
		log_error("aws_client_failed", LOG_STR("reason", "out of memory"));
		return -1;
	}
	return 0;
}

static void ops_fini(void)
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
		for (size_t t = 0; t < groups[g]->n_tools && n < TOOLS_MAX; t++)
			tools[n++] = groups[g]->tools[t];
	const struct mcp_server_def def = {
		.name = "mcpgate-ops",
		.role = "server:ops",
		.tools = tools,
		.n_tools = n,
		.init = ops_init,
		.fini = ops_fini,
	};
	return mcp_server_main(&def, argc, argv);
}
