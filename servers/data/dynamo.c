/* Placeholder for the dynamo tools until their AWS calls land: same names and schemas. */
#include "data.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "data: this tool's AWS client is not in this build yet; no request was made");
}

static const struct mcp_tool tools[] = {
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
};

static int init(json_t *settings, size_t result_cap, char *err, size_t errlen)
{
	(void)settings, (void)result_cap, (void)err, (void)errlen;
	return 0;
}

static const char *const keys[] = { "dynamodb", NULL };
const struct tool_group dynamo_group = { tools, sizeof tools / sizeof tools[0], keys, init, NULL };
