/* Placeholder for the kb tools until their AWS calls land: same names and schemas. */
#include "data.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "data: this tool's AWS client is not in this build yet; no request was made");
}

static const struct mcp_tool tools[] = {
	{ "kb_search",
	  "Search an allowed Bedrock knowledge base (Retrieve).",
	  "{\"type\":\"object\",\"properties\":{\"knowledge_base\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4000},\"top_k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50}},\"required\":[\"knowledge_base\",\"query\"],\"additionalProperties\":false}",
	  NULL, not_available },
};

static int init(json_t *settings, size_t result_cap, char *err, size_t errlen)
{
	(void)settings, (void)result_cap, (void)err, (void)errlen;
	return 0;
}

static const char *const keys[] = { "knowledge_bases", NULL };
const struct tool_group kb_group = { tools, sizeof tools / sizeof tools[0], keys, init, NULL };
