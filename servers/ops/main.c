/* mcpgate-server-ops: AWS operations: Lambda and SQS, as an MCP stdio server.
 * The tools and their input schemas are final; their AWS calls arrive with the shared AWS
 * client (SigV4 signer, credential chain). Until then each call says so as a tool error. */
#include "log.h"
#include "mcp_server.h"

static json_t *not_available(json_t *arguments, json_t *caller)
{
	(void)arguments;
	(void)caller;
	return mcp_tool_error("ops: this tool's AWS client is not in this build yet; "
	                      "no request was made");
}

static const struct mcp_tool tools[] = {
	{ "lambda_invoke",
	  "Invoke an allowed Lambda function.",
	  "{\"type\":\"object\",\"properties\":{\"function\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":170},\"payload\":{},\"qualifier\":{\"type\":\"string\",\"maxLength\":128},\"asynchronous\":{\"type\":\"boolean\"}},\"required\":[\"function\"],\"additionalProperties\":false}",
	  not_available },
	{ "sqs_send",
	  "Send a message to an allowed SQS queue.",
	  "{\"type\":\"object\",\"properties\":{\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80},\"body\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":262144},\"group_id\":{\"type\":\"string\",\"maxLength\":128},\"dedup_id\":{\"type\":\"string\",\"maxLength\":128},\"attributes\":{\"type\":\"object\"}},\"required\":[\"queue\",\"body\"],\"additionalProperties\":false}",
	  not_available },
	{ "sqs_receive",
	  "Receive messages from an allowed SQS queue.",
	  "{\"type\":\"object\",\"properties\":{\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80},\"max_messages\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":20}},\"required\":[\"queue\"],\"additionalProperties\":false}",
	  not_available },
	{ "sqs_delete",
	  "Delete a received message from an allowed SQS queue.",
	  "{\"type\":\"object\",\"properties\":{\"queue\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":80},\"receipt_handle\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024}},\"required\":[\"queue\",\"receipt_handle\"],\"additionalProperties\":false}",
	  not_available },
};

int main(void)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-ops",
		.role = "server:ops",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
	};
	return mcp_server_main(&def);
}
