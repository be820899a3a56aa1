/* mcpgate-server-secrets: AWS Secrets Manager as an MCP stdio server (secret_get, secret_list,
 * config_get), and with --fetch-secret NAME the short-lived fetcher of the platform config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_tool.h"
#include "log.h"
#include "mcp_server.h"
#include "secrets.h"
#include "secrets_json.h"

#define OUT_NAME "\"name\":{\"type\":\"string\"},\"arn\":{\"type\":\"string\"},\"version_id\":{\"type\":\"string\"}"

static const struct mcp_tool tools[] = {
	{ "secret_get",
	  "Read an allowed Secrets Manager secret. The value is masked (length and last 2 characters "
	  "of long values, nothing of short ones; each value of a JSON secret) unless reveal is true "
	  "and the caller holds a role the server allows to reveal. json_key picks one key of a JSON "
	  "secret.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":512,\"description\":\"Secret name (not its ARN)\"},"
	  "\"reveal\":{\"type\":\"boolean\",\"description\":\"Return the clear value (needs a role in the server's reveal_roles); default false\"},"
	  "\"json_key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256,\"description\":\"One top-level key of a JSON secret\"},"
	  "\"offset\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":131072,\"description\":\"Continue a cut revealed value from this byte (the truncation notice gives it)\"}},"
	  "\"required\":[\"name\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{" OUT_NAME ","
	  "\"revealed\":{\"type\":\"boolean\"},"
	  "\"value\":{\"description\":\"Masked text, the clear value, or for a JSON secret an object of (masked) values\"},"
	  "\"keys\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"Top-level keys of a JSON secret\"},"
	  "\"json_key\":{\"type\":\"string\"},"
	  "\"binary_bytes\":{\"type\":\"integer\",\"description\":\"A binary secret's size\"},"
	  "\"encoding\":{\"type\":\"string\",\"enum\":[\"base64\"]},"
	  "\"truncated\":{\"type\":\"string\"}},"
	  "\"required\":[\"name\",\"arn\",\"version_id\",\"revealed\",\"value\"],\"additionalProperties\":false}",
	  secret_get },
	{ "secret_list",
	  "List the names (and last change times) of the secrets this server allows; never values "
	  "or descriptions. Page with cursor.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"prefix\":{\"type\":\"string\",\"maxLength\":512,\"description\":\"Only names starting with this\"},"
	  "\"cursor\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,\"description\":\"next_cursor of the previous page\"},"
	  "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"description\":\"Secrets examined per page (default 100); names outside the allowlist are not shown\"}},"
	  "\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"names\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	  "\"last_changed\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
	  "\"next_cursor\":{\"type\":\"string\"},"
	  "\"truncated\":{\"type\":\"string\"}},"
	  "\"required\":[\"names\",\"last_changed\"],\"additionalProperties\":false}",
	  secret_list },
	{ "config_get",
	  "Read a value of the platform configuration (a JSON secret the server is configured with) "
	  "by key; dotted paths such as \"feature_flags.beta\" reach inside. Only keys listed in "
	  "the server's settings.config_keys are served; values are returned in clear (not masked), "
	  "an object whole. Cached briefly.",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256,\"description\":\"A top-level key or a dotted path that settings.config_keys allows\"}},"
	  "\"required\":[\"key\"],\"additionalProperties\":false}",
	  "{\"type\":\"object\",\"properties\":{"
	  "\"key\":{\"type\":\"string\"},\"value\":{},\"source\":{\"type\":\"string\"},"
	  "\"cached\":{\"type\":\"boolean\"},\"truncated\":{\"type\":\"string\"}},"
	  "\"required\":[\"key\",\"value\",\"source\",\"cached\"],\"additionalProperties\":false}",
	  config_get },
};

static const char *const known_keys[] = { "secrets", "reveal_roles", "config_secret", "config_keys",
	                                   "config_ttl_seconds", "result_cap_bytes", NULL };

/* Role names are compared exactly: a pattern here would be a mistake that widens who reveals. */
static int check_roles(const struct allowlist *roles, char *err, size_t errlen)
{
	for (size_t i = 0; i < roles->n; i++) {
		if (strpbrk(roles->patterns[i], "*?[]")) {
			snprintf(err, errlen, "settings.reveal_roles[%zu]: role names are exact, not patterns", i);
			return -1;
		}
	}
	return 0;
}

static int read_settings(json_t *settings, struct secrets_config *cfg, char *err, size_t errlen)
{
	long long cap;
	if (settings_check_keys(settings, known_keys, err, errlen) != 0 ||
	    allowlist_load(&cfg->secrets, settings, "secrets", err, errlen) != 0 ||
	    allowlist_load(&cfg->reveal_roles, settings, "reveal_roles", err, errlen) != 0 ||
	    check_roles(&cfg->reveal_roles, err, errlen) != 0 ||
	    allowlist_load(&cfg->config_keys, settings, "config_keys", err, errlen) != 0 ||
	    settings_int(settings, "config_ttl_seconds", 0, SECRETS_TTL_MAX, SECRETS_TTL_DEFAULT,
	                 &cfg->config_ttl_seconds, err, errlen) != 0 ||
	    settings_int(settings, "result_cap_bytes", SECRETS_CAP_MIN, 1024 * 1024, MCP_RESULT_DEFAULT_CAP,
	                 &cap, err, errlen) != 0)
		return -1;
	cfg->result_cap = (size_t)cap;
	json_t *source = json_object_get(settings, "config_secret");
	if (source) {
		if (!secret_id_valid(json_string_value(source))) {
			snprintf(err, errlen, "settings.config_secret: must be a secret name or ARN (1-%d of "
			         "A-Z a-z 0-9 / _ + = . @ - :)", SECRET_ID_MAX);
			return -1;
		}
		if (!(cfg->config_secret = strdup(json_string_value(source)))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int secrets_init(struct event_base *base, json_t *settings)
{
	(void)base;
	struct secrets_config cfg = { 0 };
	char err[512];
	if (read_settings(settings, &cfg, err, sizeof err) != 0) {
		log_error("settings_invalid", LOG_STR("reason", err));
		allowlist_free(&cfg.secrets);
		allowlist_free(&cfg.reveal_roles);
		allowlist_free(&cfg.config_keys);
		free(cfg.config_secret);
		return -1;
	}
	if (cfg.reveal_roles.n == 0)
		log_info("secrets_reveal_disabled", LOG_STR("reason", "settings.reveal_roles is empty"));
	if (cfg.config_secret && cfg.config_keys.n == 0)
		log_info("config_get_disabled", LOG_STR("reason", "settings.config_keys is empty"));
	secrets_configure(&cfg);
	return aws_tool_client_before_sandbox();
}

static void secrets_exit(void)
{
	secrets_fini();
	aws_tool_client_free();
}

int main(int argc, char **argv)
{
	/* The fetcher needs neither the MCP core nor the sandbox: it runs once, before the
	 * appliance exists, for the supervisor that never links libcurl. */
	if (argc >= 2 && strcmp(argv[1], "--fetch-secret") == 0)
		return secrets_fetch_main(argc, argv);
	static const struct mcp_server_def def = {
		.name = "mcpgate-secrets",
		.role = "server:secrets",
		.tools = tools,
		.n_tools = sizeof tools / sizeof tools[0],
		.init = secrets_init,
		.fini = secrets_exit,
	};
	return mcp_server_main(&def, argc, argv);
}
