/* mcpgate-server-secrets: AWS Secrets Manager, as an MCP stdio server.
 * The tools and their input schemas are final; their AWS calls arrive with the shared AWS
 * client (SigV4 signer, credential chain). Until then each call says so as a tool error. */
#include "log.h"
#include "mcp_server.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "secrets: this tool's AWS client is not in this build yet; "
	                      "no request was made");
}

static const struct mcp_tool tools[] = {
	{ "secret_get",
	  "Read an allowed secret (masked unless the caller may reveal it).",
	  "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":512},\"reveal\":{\"type\":\"boolean\"}},\"required\":[\"name\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "secret_list",
	  "List the names of allowed secrets.",
	  "{\"type\":\"object\",\"properties\":{\"prefix\":{\"type\":\"string\",\"maxLength\":512}},\"additionalProperties\":false}",
	  NULL, not_available },
	{ "config_get",
	  "Read a platform configuration value.",
	  "{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256}},\"required\":[\"key\"],\"additionalProperties\":false}",
	  NULL, not_available },
};

int main(int argc, char **argv)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-secrets",
		.role = "server:secrets",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
	};
	return mcp_server_main(&def, argc, argv);
}
