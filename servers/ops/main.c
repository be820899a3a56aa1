/* mcpgate-server-ops: AWS operations: Lambda and SQS, as an MCP stdio server.
 * The tools and their input schemas are final; their AWS calls arrive with the shared AWS
 * client (SigV4 signer, credential chain). Until then each call says so as a tool error. */
#include "log.h"
#include "mcp_server.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "ops: this tool's AWS client is not in this build yet; "
	                      "no request was made");
}

static const struct mcp_tool tools[] = {
	{ "lambda_invoke",
	  "Invoke an allowed Lambda function.",
	  "{\"type\":\"object\",\"properties\":{\"function\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":170},\"payload\":{},\"qualifier\":{\"type\":\"string\",\"maxLength\":128},\"asynchronous\":{\"type\":\"boolean\"}},\"required\":[\"function\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "sqs_send",
	  "Send a message to an allowed SQS queue.",
	  "{\"type\":\"object\",\"properties\":{\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80},\"body\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":262144},\"group_id\":{\"type\":\"string\",\"maxLength\":128},\"dedup_id\":{\"type\":\"string\",\"maxLength\":128},\"attributes\":{\"type\":\"object\"}},\"required\":[\"queue\",\"body\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "sqs_receive",
	  "Receive messages from an allowed SQS queue.",
	  "{\"type\":\"object\",\"properties\":{\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80},\"max_messages\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":20}},\"required\":[\"queue\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "sqs_delete",
	  "Delete a received message from an allowed SQS queue.",
	  "{\"type\":\"object\",\"properties\":{\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80},\"receipt_handle\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024}},\"required\":[\"queue\",\"receipt_handle\"],\"additionalProperties\":false}",
	  NULL, not_available },
};

int main(int argc, char **argv)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-ops",
		.role = "server:ops",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
	};
	return mcp_server_main(&def, argc, argv);
}
