/* mcpgate-server-data: AWS data: S3, DynamoDB and Bedrock knowledge bases, as an MCP stdio server.
 * The tools and their input schemas are final; their AWS calls arrive with the shared AWS
 * client (SigV4 signer, credential chain). Until then each call says so as a tool error. */
#include "log.h"
#include "mcp_server.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "data: this tool's AWS client is not in this build yet; "
	                      "no request was made");
}

static const struct mcp_tool tools[] = {
	{ "s3_get",
	  "Read an object from an allowed S3 bucket (bounded bytes, byte ranges).",
	  "{\"type\":\"object\",\"properties\":{\"bucket\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":63},\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024},\"range_start\":{\"type\":\"integer\",\"minimum\":0},\"max_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1048576}},\"required\":[\"bucket\",\"key\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "s3_put",
	  "Write an object to an allowed S3 bucket.",
	  "{\"type\":\"object\",\"properties\":{\"bucket\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":63},\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024},\"body\":{\"type\":\"string\",\"maxLength\":1048576},\"content_type\":{\"type\":\"string\",\"maxLength\":255}},\"required\":[\"bucket\",\"key\",\"body\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "s3_list",
	  "List objects in an allowed S3 bucket under a prefix.",
	  "{\"type\":\"object\",\"properties\":{\"bucket\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":63},\"prefix\":{\"type\":\"string\",\"maxLength\":1024},\"cursor\":{\"type\":\"string\",\"maxLength\":2048},\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}},\"required\":[\"bucket\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "dynamo_get",
	  "Get an item from an allowed DynamoDB table by key.",
	  "{\"type\":\"object\",\"properties\":{\"table\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":255},\"key\":{\"type\":\"object\"}},\"required\":[\"table\",\"key\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "dynamo_put",
	  "Put an item into an allowed DynamoDB table.",
	  "{\"type\":\"object\",\"properties\":{\"table\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":255},\"item\":{\"type\":\"object\"}},\"required\":[\"table\",\"item\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "dynamo_query",
	  "Query an allowed DynamoDB table with a key condition.",
	  "{\"type\":\"object\",\"properties\":{\"table\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":255},\"key_condition\":{\"type\":\"string\",\"maxLength\":1024},\"values\":{\"type\":\"object\"},\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000},\"cursor\":{\"type\":\"string\",\"maxLength\":4096}},\"required\":[\"table\",\"key_condition\"],\"additionalProperties\":false}",
	  NULL, not_available },
	{ "kb_search",
	  "Search an allowed Bedrock knowledge base (Retrieve).",
	  "{\"type\":\"object\",\"properties\":{\"knowledge_base\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4000},\"top_k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50}},\"required\":[\"knowledge_base\",\"query\"],\"additionalProperties\":false}",
	  NULL, not_available },
};

int main(int argc, char **argv)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-data",
		.role = "server:data",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
	};
	return mcp_server_main(&def, argc, argv);
}
