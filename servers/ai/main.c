/* mcpgate-server-ai: AWS Bedrock specialists, as an MCP stdio server.
 * The tools and their input schemas are final; their AWS calls arrive with the shared AWS
 * client (SigV4 signer, credential chain). Until then each call says so as a tool error. */
#include "log.h"
#include "mcp_server.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "ai: this tool's AWS client is not in this build yet; "
	                      "no request was made");
}

static const struct mcp_tool tools[] = {
	{ "ask",
	  "Ask a configured Bedrock specialist (Converse API).",
	  "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":32000},\"specialist\":{\"type\":\"string\",\"maxLength\":64},\"max_tokens\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8192}},\"required\":[\"question\"],\"additionalProperties\":false}",
	  NULL, not_available },
};

int main(int argc, char **argv)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-ai",
		.role = "server:ai",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
	};
	return mcp_server_main(&def, argc, argv);
}
