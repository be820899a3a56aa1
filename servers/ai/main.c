/* mcpgate-server-ai: Bedrock specialists behind one `ask` tool, as an MCP stdio server.
 * Here: the tool table and the settings that are not the specialists' own (cache, stream,
 * result cap, timeout). */
#include <stdio.h>
#include <string.h>

#include "ai.h"
#include "aws_tool.h"
#include "log.h"
#include "mcp_server.h"
#include "settings.h"

#define AI_CACHE_DEFAULT_ENTRIES 256
#define AI_CACHE_DEFAULT_TTL_S 300
#define AI_CACHE_DEFAULT_BYTES (16ll * 1024 * 1024)
#define AI_TIMEOUT_DEFAULT_S 120 /* a whole answer, or the longest silence of a streamed one */

static struct ai_config config;

static const struct mcp_tool tools[] = {
	{ "ask",
	  "Ask a configured Bedrock specialist (Converse API). The specialist is the one named, or "
	  "the first routing rule whose keyword is in the question, or the default. The answer "
	  "streams as progress notifications when the call has a progressToken.",
	  ask_input_schema, ask_output_schema, ask_call },
};

/* settings_int speaks of "settings.<key>"; inside the cache object the path gains "cache.". */
static int cache_int(json_t *obj, const char *key, long long min, long long max, long long def,
                     long long *out, char *err, size_t errlen)
{
	char why[256];
	if (settings_int(obj, key, min, max, def, out, why, sizeof why) == 0)
		return 0;
	snprintf(err, errlen, "settings.cache.%s", strncmp(why, "settings.", 9) == 0 ? why + 9 : why);
	return -1;
}

static int load_cache(json_t *settings, char *err, size_t errlen)
{
	static const char *const keys[] = { "entries", "ttl_seconds", "max_bytes", NULL };
	json_t *obj = json_object_get(settings, "cache");
	json_t *empty = json_object();
	int rc = -1;
	if (!empty) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (obj && !json_is_object(obj)) {
		snprintf(err, errlen, "settings.cache: must be an object {entries, ttl_seconds, max_bytes}");
		goto out;
	}
	if (!obj)
		obj = empty;
	char why[512];
	if (settings_check_keys(obj, keys, why, sizeof why) != 0) {
		snprintf(err, errlen, "settings.cache%s", strncmp(why, "settings", 8) == 0 ? why + 8 : why);
		goto out;
	}
	long long entries, ttl, bytes;
	if (cache_int(obj, "entries", 0, AI_CACHE_ENTRIES_MAX, AI_CACHE_DEFAULT_ENTRIES, &entries,
	              err, errlen) != 0 ||
	    cache_int(obj, "ttl_seconds", 1, 7 * 86400, AI_CACHE_DEFAULT_TTL_S, &ttl, err, errlen) != 0 ||
	    cache_int(obj, "max_bytes", 1024, 1024ll * 1024 * 1024, AI_CACHE_DEFAULT_BYTES, &bytes,
	              err, errlen) != 0)
		goto out;
	rc = 0;
	if (entries == 0)
		goto out; /* caching off */
	config.cache = ai_cache_new((size_t)entries, (size_t)bytes, ttl * 1000, NULL);
	if (!config.cache) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
out:
	json_decref(empty);
	return rc;
}

static int load_settings(json_t *settings, char *err, size_t errlen)
{
	static const char *const known[] = { "specialists", "routing", "default", "cache", "stream",
		"result_cap_bytes", "timeout_seconds", NULL };
	long long cap, timeout;
	if (settings_check_keys(settings, known, err, errlen) != 0 ||
	    settings_int(settings, "result_cap_bytes", 4096, 1024 * 1024, MCP_RESULT_DEFAULT_CAP, &cap,
	                 err, errlen) != 0 ||
	    settings_int(settings, "timeout_seconds", 1, 900, AI_TIMEOUT_DEFAULT_S, &timeout, err,
	                 errlen) != 0)
		return -1;
	json_t *stream = json_object_get(settings, "stream");
	if (stream && !json_is_boolean(stream)) {
		snprintf(err, errlen, "settings.stream: must be true or false");
		return -1;
	}
	config.stream_default = !stream || json_is_true(stream);
	/* Room for the result's other fields and the truncation notice. */
	config.result_cap = (size_t)cap - 1024;
	config.timeout_ms = (long)timeout * 1000;
	if (specialists_load(&config.specialists, settings, err, errlen) != 0)
		return -1;
	return load_cache(settings, err, errlen);
}

static int ai_init(struct event_base *base, json_t *settings)
{
	(void)base;
	char err[1024];
	if (load_settings(settings, err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		specialists_free(&config.specialists);
		return -1;
	}
	if (config.specialists.n == 0)
		log_warn("ai_no_specialists", LOG_STR("reason", "settings.specialists is empty: every "
		         "ask will be refused"));
	log_info("ai_ready", LOG_INT("specialists", config.specialists.n),
	         LOG_INT("routing_rules", config.specialists.n_rules),
	         LOG_STR("cache", config.cache ? "on" : "off"));
	if (aws_tool_client_before_sandbox() != 0)
		return -1;
	ask_setup(&config);
	return 0;
}

static void ai_fini(void)
{
	ask_abandon_all();
	aws_tool_client_free();
	ai_cache_free(config.cache);
	config.cache = NULL;
	specialists_free(&config.specialists);
}

int main(int argc, char **argv)
{
	static const struct mcp_server_def def = {
		.name = "mcpgate-ai",
		.role = "server:ai",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
		.init = ai_init,
		.fini = ai_fini,
	};
	return mcp_server_main(&def, argc, argv);
}
