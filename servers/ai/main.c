/* mcpgate-server-ai: AWS Bedrock specialists, as an MCP stdio server.
 * The tools and their input schemas are final; their AWS calls arrive with the shared AWS
 * client (SigV4 signer, credential chain). Until then each call says so as a tool error. */
#include "log.h"
#include "mcp_server.h"

static json_t *not_available(json_t *arguments, json_t *caller)
{
	(void)arguments;
	(void)caller;
	return mcp_tool_error("ai: this tool's AWS client is not in this build yet; "
	                      "no request was made");
}

static const struct mcp_tool tools[] = {
	{ "ask",
	  "Ask a configured Bedrock specialist (Converse API).",
	  "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":32000},\"specialist\":{\"type\":\"string\",\"maxLength\":64},\"max_tokens\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8192}},\"required\":[\"question\"],\"additionalProperties\":false}",
	  not_available },
};

int main(void)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-ai",
		.role = "server:ai",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
	};
	return mcp_server_main(&def);
}
