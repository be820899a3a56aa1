/* The data server's knowledge-base tool: kb_search, Bedrock Agent Runtime's Retrieve on the
 * knowledge bases the settings allow ("knowledge_bases": ids, max_results, max_text_bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_tool.h"
#include "data.h"
#include "dynamo_json.h"
#include "settings.h"

#define KB_RESPONSE_MAX (4u * 1024u * 1024u)
#define KB_DEFAULT_TOP_K 5 /* Retrieve's own default */

static struct {
	struct allowlist ids;
	long long max_results;
	long long max_text_bytes;
	size_t result_cap;
} cfg;

struct kb_call {
	struct mcp_call *call;
	struct aws_op *op;
	char id[65];
};

static void on_cancel(struct mcp_call *call, void *arg)
{
	struct kb_call *k = arg;
	aws_op_cancel(k->op);
	mcp_call_fail(call, "kb_search: cancelled");
	free(k);
}

static void retrieve_done(const struct aws_result *res, void *arg)
{
	struct kb_call *k = arg;
	mcp_call_on_cancel(k->call, NULL, NULL);
	if (!res->ok) {
		char context[300];
		if (strcmp(res->code, "ResourceNotFoundException") == 0)
			snprintf(context, sizeof context, "knowledge base '%s' was not found in region %s",
			         k->id, aws_client_region(aws_tool_client()));
		else
			snprintf(context, sizeof context, "knowledge base '%s'", k->id);
		aws_tool_fail(k->call, res, context);
		free(k);
		return;
	}
	char err[512] = "";
	json_t *out = kb_retrieve_result(res->body, res->body_len, (size_t)cfg.max_text_bytes,
	                                 cfg.result_cap, err, sizeof err);
	if (out)
		mcp_call_finish(k->call, mcp_tool_structured(out));
	else
		mcp_call_fail(k->call, "kb_search: Bedrock's answer could not be used: %s [knowledge base '%s']",
		              err, k->id);
	free(k);
}

/* top_k and cursor; false when the call was ended. */
static bool paging_args(struct mcp_call *call, json_t *args, long long *top_k, const char **cursor)
{
	json_t *k = json_object_get(args, "top_k");
	*top_k = k ? json_integer_value(k)
	           : (cfg.max_results < KB_DEFAULT_TOP_K ? cfg.max_results : KB_DEFAULT_TOP_K);
	if (k && (!json_is_integer(k) || *top_k < 1 || *top_k > cfg.max_results)) {
		mcp_call_fail(call, "kb_search: top_k must be from 1 to %lld (settings.knowledge_bases.max_results)",
		              cfg.max_results);
		return false;
	}
	json_t *c = json_object_get(args, "cursor");
	*cursor = json_string_value(c);
	if (c && (!*cursor || !kb_token_valid(*cursor))) {
		mcp_call_fail(call, "kb_search: cursor must be a next_cursor from kb_search (1 to %d "
		              "characters, no spaces)", KB_TOKEN_MAX);
		return false;
	}
	return true;
}

static void kb_search(struct mcp_call *call, json_t *args)
{
	const char *id = json_string_value(json_object_get(args, "knowledge_base"));
	const char *query = json_string_value(json_object_get(args, "query"));
	long long top_k;
	const char *cursor;
	if (!id || !kb_id_valid(id)) {
		mcp_call_fail(call, "kb_search: knowledge_base must be a knowledge base id (1 to 64 letters "
		              "and digits, e.g. KB12345678)");
		return;
	}
	if (!query || !*query) {
		mcp_call_fail(call, "kb_search: query must be a non-empty string");
		return;
	}
	if (!paging_args(call, args, &top_k, &cursor))
		return;
	if (aws_tool_refuse_unlisted(call, &cfg.ids, "knowledge base", id, "knowledge_bases.ids") ||
	    aws_tool_refuse_unavailable(call))
		return;
	char path[128];
	snprintf(path, sizeof path, "/knowledgebases/%s/retrieve", id); /* alphanumeric: no encoding */
	json_t *body = kb_request_body(query, top_k, cursor);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct kb_call *k = text ? calloc(1, sizeof *k) : NULL;
	if (!k) {
		free(text);
		mcp_call_fail(call, "kb_search: out of memory; no request was made");
		return;
	}
	k->call = call;
	snprintf(k->id, sizeof k->id, "%s", id);
	static const struct sigv4_header headers[] = { { "Content-Type", "application/json" } };
	const struct aws_request req = {
		.service = &AWS_BEDROCK_AGENT_RUNTIME, .method = "POST", .path = path,
		.headers = headers, .n_headers = 1, .body = text, .body_len = strlen(text),
		.max_response = KB_RESPONSE_MAX,
	};
	k->op = aws_call(aws_tool_client(), &req, retrieve_done, k);
	free(text);
	if (!k->op) {
		free(k);
		mcp_call_fail(call, "kb_search: the Retrieve request could not be made; no request was made");
		return;
	}
	mcp_call_on_cancel(call, on_cancel, k);
}

static const struct mcp_tool tools[] = {
	{ "kb_search",
	  "Search an allowed Bedrock knowledge base (Retrieve): the passages closest to query, best "
	  "first, each with its score, source (S3 URI or web URL) and metadata. Long passages are cut "
	  "(truncated: true, text_bytes gives the full size). More results: pass next_cursor back as "
	  "cursor until it is null.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"knowledge_base\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"description\":\"Knowledge base id, e.g. KB12345678 (must be allowed by settings.knowledge_bases.ids).\"},"
	  "\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000},"
	  "\"top_k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"description\":\"Results per page (at most settings.knowledge_bases.max_results; default 5).\"},"
	  "\"cursor\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2048}},"
	  "\"required\":[\"knowledge_base\",\"query\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"results\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	  "\"text\":{\"type\":\"string\"},"
	  "\"score\":{\"type\":[\"number\",\"null\"]},"
	  "\"source\":{\"type\":[\"string\",\"null\"]},"
	  "\"source_type\":{\"type\":\"string\"},"
	  "\"metadata\":{\"type\":\"object\"},"
	  "\"metadata_omitted\":{\"type\":\"boolean\"},"
	  "\"truncated\":{\"type\":\"boolean\"},"
	  "\"text_bytes\":{\"type\":\"integer\"}},"
	  "\"required\":[\"text\",\"score\",\"source\"]}},"
	  "\"count\":{\"type\":\"integer\",\"minimum\":0},"
	  "\"next_cursor\":{\"type\":[\"string\",\"null\"]},"
	  "\"notice\":{\"type\":\"string\"}},"
	  "\"required\":[\"results\",\"count\",\"next_cursor\"]}",
	  kb_search },
};

static void kb_fini(void)
{
	allowlist_free(&cfg.ids);
}

/* settings.knowledge_bases, its keys checked by settings_section. */
static int read_section(json_t *s, char *err, size_t errlen)
{
	if (allowlist_load(&cfg.ids, s, "ids", err, errlen) != 0 ||
	    settings_int(s, "max_results", 1, 100, 10, &cfg.max_results, err, errlen) != 0 ||
	    settings_int(s, "max_text_bytes", 64, 1024 * 1024, 2000, &cfg.max_text_bytes, err, errlen) != 0)
		return -1;
	return 0;
}

static int kb_init(json_t *settings, const struct group_limits *limits, char *err, size_t errlen)
{
	static const char *const known[] = { "ids", "max_results", "max_text_bytes", NULL };
	cfg.result_cap = limits->result_cap;
	if (settings_section(settings, "knowledge_bases", known, read_section, err, errlen) == 0)
		return 0;
	kb_fini();
	return -1;
}

static const char *const keys[] = { "knowledge_bases", NULL };
const struct tool_group kb_group = { tools, sizeof tools / sizeof tools[0], keys, kb_init, kb_fini };
