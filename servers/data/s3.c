/* Placeholder for the s3 tools until their AWS calls land: same names and schemas. */
#include "data.h"

static void not_available(struct mcp_call *call, json_t *arguments)
{
	(void)arguments;
	mcp_call_fail(call, "data: this tool's AWS client is not in this build yet; no request was made");
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
};

static int init(json_t *settings, size_t result_cap, char *err, size_t errlen)
{
	(void)settings, (void)result_cap, (void)err, (void)errlen;
	return 0;
}

static const char *const keys[] = { "s3", NULL };
const struct tool_group s3_group = { tools, sizeof tools / sizeof tools[0], keys, init, NULL };
