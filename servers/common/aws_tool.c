/* The built-in servers' AWS client and the wording of their tool errors. */
#include "aws_tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static struct aws_client *client;

struct aws_client *aws_tool_client(void)
{
	return client;
}

/* Never lazily on first use: inside the sandbox that set-up would be killed (see the header). */
int aws_tool_client_before_sandbox(void)
{
	if (!client)
		client = aws_client_new(mcp_server_base(), NULL);
	if (client)
		return 0;
	log_error("aws_client_failed", LOG_STR("reason", "out of memory"));
	return -1;
}

void aws_tool_client_free(void)
{
	aws_client_free(client);
	client = NULL;
}

bool aws_tool_refuse_unavailable(struct mcp_call *call)
{
	struct aws_client *c = aws_tool_client();
	if (!c) {
		mcp_call_fail(call, "%s: out of memory; no request was made", mcp_call_tool(call));
		return true;
	}
	const char *why = aws_client_unavailable(c);
	if (!why)
		return false;
	mcp_call_fail(call, "%s: %s; no request was made", mcp_call_tool(call), why);
	return true;
}

void aws_tool_fail(struct mcp_call *call, const struct aws_result *res, const char *context)
{
	char what[1024];
	aws_result_describe(res, what, sizeof what);
	char tries[64] = "";
	if (res->attempts > 1)
		snprintf(tries, sizeof tries, " (after %u attempts)", res->attempts);
	if (context && *context)
		mcp_call_fail(call, "%s: %s [%s]%s", mcp_call_tool(call), what, context, tries);
	else
		mcp_call_fail(call, "%s: %s%s", mcp_call_tool(call), what, tries);
}

void aws_tool_refuse(struct mcp_call *call, const char *kind, const char *name,
                     const char *settings_key)
{
	log_info("aws_refused", LOG_STR("tool", mcp_call_tool(call)), LOG_STR("kind", kind),
	         LOG_STR("name", name));
	mcp_call_fail(call, "%s: %s '%s' is not allowed by this server's settings (%s); "
	              "no request was made", mcp_call_tool(call), kind, name, settings_key);
}

bool aws_tool_refuse_unlisted(struct mcp_call *call, const struct allowlist *list, const char *kind,
                              const char *name, const char *settings_key)
{
	if (allowlist_allows(list, name))
		return false;
	aws_tool_refuse(call, kind, name, settings_key);
	return true;
}
