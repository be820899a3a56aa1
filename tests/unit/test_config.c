/* Unit test of the config loader: fixture files in tests/fixtures/config (argv[1] is the
 * source root), inline documents for the syntax rules, and the per-role slices. */
#include "../../lib/config.c"

#include <stdio.h>

#include "check.h"

static char fixtures[PATH_MAX];

static const char *fixture(const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", fixtures, name);
	return path;
}

static bool contains(const char *text, const char *part)
{
	return strstr(text, part) != NULL;
}

/* A fixture that must fail, with a message naming the file, the exact path and the reason. */
static void expect_file_error(const char *name, const char *at, const char *reason)
{
	struct config cfg;
	struct config_error err;
	int rc = config_load_file(fixture(name), &cfg, &err);

	check_that(rc == -1, "%s is refused", name);
	check_that(contains(err.text, name), "%s: message names the file: %s", name, err.text);
	check_that(contains(err.text, at), "%s: message has '%s': %s", name, at, err.text);
	check_that(contains(err.text, reason), "%s: message has '%s'", name, reason);
	check_that(cfg.root == NULL && cfg.source == NULL && cfg.n_servers == 0,
	      "%s: cfg is empty after the failure", name);
	config_free(&cfg); /* harmless after a failed load */
}

/* An inline document: "<test>" for slice rules, or a file-like source for file rules. */
static int load_text(const char *text, const char *source, struct config *cfg,
                     struct config_error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		snprintf(err->text, sizeof err->text, "test document: %s", jerr.text);
		memset(cfg, 0, sizeof *cfg);
		return -2;
	}
	int rc = config_from_json(root, source, cfg, err);
	json_decref(root);
	return rc;
}

static void expect_text_error(const char *text, const char *at, const char *reason)
{
	struct config cfg;
	struct config_error err;
	int rc = load_text(text, "<test>", &cfg, &err);

	check_that(rc == -1 && contains(err.text, at) && contains(err.text, reason),
	      "refused at '%s' with '%s': %s", at, reason, err.text);
	config_free(&cfg);
}

static void expect_text_ok(const char *text)
{
	struct config cfg;
	struct config_error err;
	int rc = load_text(text, "<test>", &cfg, &err);

	check_that(rc == 0, "accepted %s%s%s", text, rc ? ": " : "", rc ? err.text : "");
	config_free(&cfg);
}

static void test_full(void)
{
	struct config cfg;
	struct config_error err;

	if (config_load_file(fixture("full.json"), &cfg, &err) != 0) {
		check_that(false, "full.json loads: %s", err.text);
		return;
	}
	check_that(cfg.n_listeners == 2 && strcmp(cfg.listeners[0].address, "0.0.0.0:443") == 0 &&
	      cfg.listeners[0].kind == LISTENER_TLS &&
	      strcmp(cfg.listeners[1].address, "[::1]:8080") == 0 &&
	      cfg.listeners[1].kind == LISTENER_PLAIN, "full: listeners");
	check_that(cfg.tls_certificate[0] == '/' &&
	      contains(cfg.tls_certificate, "/tests/fixtures/config/tls/cert.pem") &&
	      contains(cfg.tls_key, "/tests/fixtures/config/tls/key.pem"),
	      "full: TLS paths resolved against the file's directory: %s", cfg.tls_certificate);
	check_that(strcmp(cfg.public_url, "https://mcp.example.com/mcp") == 0, "full: public_url");
	check_that(cfg.edge_instances == 4 && cfg.max_connections == 20000 &&
	      cfg.max_header_bytes == 32768 && cfg.max_headers == 100 &&
	      cfg.max_body_bytes == 1048576 && cfg.header_timeout_ms == 5000 &&
	      cfg.idle_timeout_ms == 120000 && cfg.sse_keepalive_ms == 20000, "full: edge limits");
	check_that(cfg.allowed_origins[0] && strcmp(cfg.allowed_origins[0], "https://app.example.com") == 0 &&
	      cfg.allowed_origins[1] && cfg.allowed_origins[2] == NULL, "full: allowed_origins");
	check_that(cfg.allowed_hosts[2] && strcmp(cfg.allowed_hosts[2], "[::1]:8080") == 0 &&
	      cfg.allowed_hosts[3] == NULL, "full: allowed_hosts");
	check_that(cfg.anonymous && cfg.keys_file[0] == '/' && contains(cfg.keys_file, "/keys.json"),
	      "full: auth");
	check_that(cfg.n_servers == 3, "full: three servers");

	const struct config_server *data = &cfg.servers[0];
	check_that(strcmp(data->name, "data") == 0 && strcmp(data->namespace_, "data") == 0 &&
	      data->kind == SERVER_BUILTIN && strcmp(data->builtin, "data") == 0 &&
	      data->argc == 0 && data->env == NULL && !data->per_session &&
	      data->timeout_ms == 30000, "full: builtin server, namespace defaults to the name");
	check_that(json_is_object(data->settings) &&
	      strcmp(json_string_value(json_object_get(data->settings, "bucket")), "acme-data") == 0,
	      "full: settings passed through");

	const struct config_server *gh = &cfg.servers[1];
	check_that(strcmp(gh->namespace_, "gh") == 0 && gh->kind == SERVER_COMMAND && gh->argc == 3 &&
	      strcmp(gh->argv[0], "/usr/bin/node") == 0 && strcmp(gh->argv[2], "--stdio") == 0 &&
	      gh->argv[3] == NULL && gh->per_session && gh->timeout_ms == 120000 &&
	      gh->settings == NULL, "full: command server");
	check_that(gh->env && strcmp(gh->env[0], "GITHUB_TOKEN=ghp_example_secret") == 0 &&
	      strcmp(gh->env[1], "LOG_LEVEL=warn") == 0 && gh->env[2] == NULL, "full: env");
	check_that(cfg.servers[2].namespace_[0] == '\0' && cfg.servers[2].timeout_ms == 60000,
	      "full: empty namespace allowed, timeout default");

	check_that(cfg.restart.max_deaths == 10 && cfg.restart.window_seconds == 300 &&
	      cfg.restart.max_backoff_ms == 60000 && cfg.shutdown_timeout_ms == 20000,
	      "full: supervisor numbers");
	check_that(strcmp(cfg.run_as_prefix, "mcpg_") == 0 && cfg.policy_dir[0] == '/' &&
	      contains(cfg.policy_dir, "/config/tls"), "full: user_prefix, policy_dir");
	check_that(strcmp(cfg.log_level, "debug") == 0 && cfg.sandbox_debug, "full: log, sandbox");
	check_that(contains(cfg.source, "full.json"), "full: source");
	config_free(&cfg);
	config_free(&cfg); /* freeing twice is harmless: config_free empties the struct */
}

static void test_defaults(void)
{
	struct config cfg;
	struct config_error err;

	if (config_load_file(fixture("minimal-plain.json"), &cfg, &err) != 0) {
		check_that(false, "minimal-plain.json loads: %s", err.text);
		return;
	}
	check_that(cfg.n_listeners == 1 && cfg.listeners[0].kind == LISTENER_PLAIN, "defaults: listener");
	check_that(strcmp(cfg.public_url, "http://127.0.0.1:8080") == 0,
	      "defaults: public_url from the first listener: %s", cfg.public_url);
	check_that(cfg.edge_instances == 1 && cfg.max_connections == 10000 &&
	      cfg.max_header_bytes == 16384 && cfg.max_headers == 64 &&
	      cfg.max_body_bytes == 4 * 1024 * 1024 && cfg.header_timeout_ms == 10000 &&
	      cfg.idle_timeout_ms == 60000 && cfg.sse_keepalive_ms == 15000, "defaults: edge");
	check_that(cfg.allowed_origins[0] == NULL && cfg.allowed_hosts[0] == NULL,
	      "defaults: no origin/host lists");
	check_that(!cfg.anonymous && cfg.keys_file[0] == '\0' && cfg.tls_certificate[0] == '\0',
	      "defaults: auth and tls");
	check_that(cfg.n_servers == 0 && cfg.restart.max_deaths == 5 &&
	      cfg.restart.window_seconds == 60 && cfg.restart.max_backoff_ms == 30000 &&
	      cfg.shutdown_timeout_ms == 10000, "defaults: supervisor");
	check_that(strcmp(cfg.run_as_prefix, "mcpgate-") == 0 && strcmp(cfg.log_level, "info") == 0 &&
	      !cfg.sandbox_debug && cfg.policy_dir[0] == '\0', "defaults: prefix, log, sandbox");
	config_free(&cfg);

	/* A slice needs no TLS files: the empty document gets the default TLS listener. */
	if (load_text("{}", "<test>", &cfg, &err) != 0) {
		check_that(false, "empty slice loads: %s", err.text);
		return;
	}
	check_that(cfg.n_listeners == 1 && strcmp(cfg.listeners[0].address, "127.0.0.1:8443") == 0 &&
	      cfg.listeners[0].kind == LISTENER_TLS &&
	      strcmp(cfg.public_url, "https://127.0.0.1:8443") == 0,
	      "defaults: one TLS listener on 127.0.0.1:8443");
	config_free(&cfg);

	if (load_text("{\"listen\": [{\"address\": \"[::]:443\", \"tls\": true}]}", "<test>",
	              &cfg, &err) == 0)
		check_that(strcmp(cfg.public_url, "https://localhost:443") == 0,
		      "defaults: a wildcard listener gives a localhost URL: %s", cfg.public_url);
	else
		check_that(false, "wildcard listener loads: %s", err.text);
	config_free(&cfg);
}

static void test_file_errors(void)
{
	expect_file_error("err-syntax.json", "err-syntax.json:3:", "expected");
	expect_file_error("err-duplicate-key.json", "err-duplicate-key.json:5:", "duplicate");
	expect_file_error("err-wrong-type.json", "at $.edge.instances:",
	                  "must be an integer in 1..64, found \"4\"");
	expect_file_error("err-out-of-range.json", "at $.edge.max_headers:",
	                  "must be an integer in 8..1024, found 4");
	expect_file_error("err-unknown-key.json", "at $.edge:",
	                  "unknown key 'max_conections' (known: instances, max_connections,");
	expect_file_error("err-duplicate-server-name.json", "at $.servers[2].name:",
	                  "duplicate server name (also $.servers[0])");
	expect_file_error("err-duplicate-namespace.json", "at $.servers[1].namespace:",
	                  "duplicate namespace (also $.servers[0])");
	expect_file_error("err-builtin-and-command.json", "at $.servers[1]:",
	                  "both \"builtin\" and \"command\"");
	expect_file_error("err-command-empty.json", "at $.servers[1].command:",
	                  "must be a non-empty array of at most 64 strings, found an empty array");
	expect_file_error("err-tls-missing.json", "at $.listen[1]:",
	                  "listener 127.0.0.1:8443 uses TLS but \"tls\"");
	expect_file_error("err-default-listener-needs-tls.json", "at $:",
	                  "default listener 127.0.0.1:8443 uses TLS");
	expect_file_error("err-tls-file-missing.json", "at $.tls.key:", "no-such-key.pem");
	expect_file_error("err-bad-address.json", "at $.listen[0].address:",
	                  "port in 1..65535, found \"127.0.0.1:70000\"");
	expect_file_error("err-bad-server-name.json", "at $.servers[0].name:",
	                  "must match [a-z0-9-]{1,32}");
	expect_file_error("err-not-object.json", "at $:", "must be an object, found an array of 1");
	expect_file_error("no-such-file.json", "no-such-file.json: cannot open",
	                  "No such file");
}

static void test_size_cap(void)
{
	char path[] = "/tmp/mcpgate-test-config-XXXXXX";
	int fd = mkstemp(path);
	struct config cfg;
	struct config_error err;

	if (fd < 0) {
		check_that(false, "mkstemp: %s", strerror(errno));
		return;
	}
	/* Valid JSON (whitespace padding) just over the cap: refused for size, not syntax. */
	static char pad[64 * 1024];
	memset(pad, ' ', sizeof pad);
	bool written = write(fd, "{}", 2) == 2;
	for (size_t n = 0; written && n <= CONFIG_MAX_FILE_BYTES; n += sizeof pad)
		written = write(fd, pad, sizeof pad) == (ssize_t)sizeof pad;
	close(fd);
	int rc = config_load_file(path, &cfg, &err);
	unlink(path);
	check_that(written && rc == -1 && contains(err.text, "larger than 1048576 bytes"),
	      "a file over 1 MiB is refused: %s", err.text);
	config_free(&cfg);
}

static void test_syntax_rules(void)
{
	static const char *const good[] = {
		"{\"listen\": [{\"address\": \"[::1]:1\"}]}",
		"{\"listen\": [{\"address\": \"10.1.2.3:65535\", \"tls\": false}]}",
		"{\"public_url\": \"https://[2001:db8::1]:8443\"}",
		"{\"public_url\": \"http://gw.internal\"}",
		"{\"edge\": {\"allowed_hosts\": [\"gw.example.com:443\", \"10.0.0.1\"]}}",
		"{\"servers\": [{\"name\": \"a-1\", \"namespace\": \"A_b-C\", \"builtin\": \"ops\"}]}",
		("{\"servers\": [{\"name\": \"x\", \"command\": [\"/bin/x\", \"\"], "
		 "\"env\": {\"_A1\": \"\"}, \"settings\": {}}]}"),
		"{\"supervisor\": {\"user_prefix\": \"_svc\"}}",
	};
	static const struct { const char *text, *at, *reason; } bad[] = {
		{ "{\"listen\": [{\"address\": \"localhost:8443\"}]}", "$.listen[0].address",
		  "no host names" },
		{ "{\"listen\": [{\"address\": \"::1:8443\"}]}", "$.listen[0].address",
		  "in brackets" },
		{ "{\"listen\": [{\"address\": \"[::1]\"}]}", "$.listen[0].address", "':port'" },
		{ "{\"listen\": [{\"address\": \"127.0.0.1:0\"}]}", "$.listen[0].address",
		  "1..65535" },
		{ "{\"listen\": [{\"address\": \"127.0.0.1\"}]}", "$.listen[0].address", "':port'" },
		{ "{\"listen\": [{\"address\": \"[zz::1]:80\"}]}", "$.listen[0].address",
		  "malformed bracketed IPv6" },
		{ "{\"listen\": [{\"tls\": true}]}", "at $.listen[0]:",
		  "missing required key 'address'" },
		{ "{\"listen\": [{\"address\": \"127.0.0.1:1\"}, {\"address\": \"127.0.0.1:1\"}]}",
		  "$.listen[1]", "already used by $.listen[0]" },
		{ "{\"listen\": []}", "at $.listen:", "1..8 listeners, found an empty array" },
		{ "{\"listen\": [{\"address\": \"127.0.0.1:1\", \"tls\": 1}]}",
		  "$.listen[0].tls", "must be true or false, found 1" },
		{ "{\"public_url\": \"ftp://x\"}", "$.public_url", "https://" },
		{ "{\"public_url\": \"https://a b\"}", "$.public_url", "invalid host name" },
		{ "{\"public_url\": \"https://h/p?q\"}", "$.public_url", "'?'" },
		{ "{\"edge\": {\"allowed_origins\": [\"https://a.com/path\"]}}",
		  "$.edge.allowed_origins[0]", "no path" },
		{ "{\"edge\": {\"allowed_origins\": \"https://a.com\"}}", "$.edge.allowed_origins:",
		  "must be an array" },
		{ "{\"edge\": {\"max_body_bytes\": 1.5}}", "$.edge.max_body_bytes",
		  "must be an integer" },
		{ "{\"edge\": {\"instances\": 65}}", "$.edge.instances", "found 65" },
		{ "{\"servers\": [{\"builtin\": \"data\"}]}", "at $.servers[0]:",
		  "missing required key 'name'" },
		{ "{\"servers\": [{\"name\": \"-x\", \"builtin\": \"data\"}]}",
		  "$.servers[0].name", "not start with '-'" },
		{ "{\"servers\": [{\"name\": \"x\", \"builtin\": \"dat\"}]}",
		  "$.servers[0].builtin", "must be one of" },
		{ "{\"servers\": [{\"name\": \"x\", \"namespace\": \"a__b\", \"builtin\": \"ai\"}]}",
		  "$.servers[0].namespace", "without \"__\"" },
		{ "{\"servers\": [{\"name\": \"x\", \"namespace\": \"a_\", \"builtin\": \"ai\"}]}",
		  "$.servers[0].namespace", "not ending in '_'" },
		{ "{\"servers\": [{\"name\": \"x\", \"command\": [\"\"]}]}",
		  "$.servers[0].command[0]", "must not be empty" },
		{ "{\"servers\": [{\"name\": \"x\", \"command\": [\"/a\", 3]}]}",
		  "$.servers[0].command[1]", "must be a string, found 3" },
		{ "{\"servers\": [{\"name\": \"x\", \"builtin\": \"ai\", \"env\": {\"A\": 5}}]}",
		  "$.servers[0].env.A", "must be a string, found 5" },
		{ "{\"servers\": [{\"name\": \"x\", \"builtin\": \"ai\", \"settings\": []}]}",
		  "$.servers[0].settings", "must be an object" },
		{ "{\"servers\": [{\"name\": \"x\", \"builtin\": \"ai\", \"timeout_ms\": 99}]}",
		  "$.servers[0].timeout_ms", "100..3600000" },
		{ "{\"servers\": [{\"name\": \"a\", \"builtin\": \"ai\"}, {\"name\": \"b\", "
		  "\"builtin\": \"ai\", \"namespace\": \"\"}, {\"name\": \"c\", \"builtin\": \"ai\", "
		  "\"namespace\": \"\"}]}", "$.servers[2].namespace", "duplicate namespace" },
		{ "{\"servers\": [{\"name\": \"b\", \"namespace\": \"a\", \"builtin\": \"ai\"}, "
		  "{\"name\": \"a\", \"builtin\": \"ai\"}]}", "at $.servers[1]:",
		  "(taken from the name) is already used by $.servers[0]" },
		{ "{\"supervisor\": {\"restart\": {\"max_deaths\": 0}}}",
		  "$.supervisor.restart.max_deaths", "1..1000, found 0" },
		{ "{\"supervisor\": {\"restart\": {\"window\": 1}}}", "at $.supervisor.restart:",
		  "unknown key 'window'" },
		{ "{\"supervisor\": {\"user_prefix\": \"Mcp\"}}", "$.supervisor.user_prefix",
		  "[a-z_][a-z0-9_-]{0,20}" },
		{ "{\"log\": {\"level\": \"fatal\"}}", "$.log.level", "found \"fatal\"" },
		{ "{\"sandbox\": {\"debug\": \"yes\"}}", "$.sandbox.debug", "true or false" },
		{ "{\"sandbox\": []}", "at $.sandbox:", "must be an object" },
		{ "{\"tls\": {\"certificate\": \"/c\"}}", "at $.tls:", "missing required key 'key'" },
		{ "{\"auth\": {\"keys_file\": \"\"}}", "$.auth.keys_file", "must not be empty" },
		{ "{\"listn\": []}", "at $:", "unknown key 'listn' (known: listen, tls," },
	};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		expect_text_ok(good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_text_error(bad[i].text, bad[i].at, bad[i].reason);

	/* A slice may withhold the command (the router's); a file may not. */
	expect_text_ok("{\"servers\": [{\"name\": \"x\"}]}");
	struct config cfg;
	struct config_error err;
	int rc = load_text("{\"listen\": [{\"address\": \"127.0.0.1:1\", \"tls\": false}], "
	                   "\"servers\": [{\"name\": \"x\"}]}", "inline.json", &cfg, &err);
	check_that(rc == -1 && contains(err.text, "inline.json: at $.servers[0]: needs one of"),
	      "file mode requires builtin or command: %s", err.text);
	config_free(&cfg);
}

/* Messages quote keys safely and never quote env values (secrets). */
static void test_message_hygiene(void)
{
	struct config cfg;
	struct config_error err;

	load_text("{\"edge\": {\"\\u001b[31mred\": 1}}", "<test>", &cfg, &err);
	check_that(!strchr(err.text, 0x1b) && contains(err.text, "\\x1b[31mred"),
	      "control characters in a key are escaped: %s", err.text);
	config_free(&cfg);

	load_text("{\"servers\": [{\"name\": \"x\", \"builtin\": \"ai\", "
	          "\"env\": {\"1BAD\": \"hunter2\"}}]}", "<test>", &cfg, &err);
	check_that(contains(err.text, "$.servers[0].env[\"1BAD\"]") && !contains(err.text, "hunter2"),
	      "a bad env name is reported without its value: %s", err.text);
	config_free(&cfg);

	char long_value[300];
	memset(long_value, 'v', sizeof long_value - 1);
	long_value[sizeof long_value - 1] = '\0';
	char doc[512];
	snprintf(doc, sizeof doc, "{\"log\": {\"level\": \"%s\"}}", long_value);
	load_text(doc, "<test>", &cfg, &err);
	check_that(contains(err.text, "...") && strlen(err.text) < 200,
	      "a long offending value is shortened (%zu bytes)", strlen(err.text));
	config_free(&cfg);
}

static bool has_key_anywhere(json_t *servers, const char *key)
{
	size_t i;
	json_t *srv;

	json_array_foreach(servers, i, srv) {
		if (json_object_get(srv, key))
			return true;
	}
	return false;
}

/* Every slice loads back with the same loader; what a role must not see is absent. */
static void test_slices(void)
{
	struct config cfg, back;
	struct config_error err;

	if (config_load_file(fixture("full.json"), &cfg, &err) != 0) {
		check_that(false, "full.json loads for slices: %s", err.text);
		return;
	}

	json_t *edge = config_slice_for_role(&cfg, "edge");
	check_that(edge && !json_object_get(edge, "tls") && !json_object_get(edge, "servers") &&
	      !json_object_get(edge, "auth") && !json_object_get(edge, "supervisor") &&
	      json_object_get(edge, "listen") && json_object_get(edge, "log"),
	      "edge slice: listen, edge, log; no tls paths, servers, auth, supervisor");
	if (edge && config_from_json(edge, "<edge slice>", &back, &err) == 0) {
		check_that(back.n_listeners == 2 && back.edge_instances == 4 &&
		      back.max_connections == 20000 && strcmp(back.public_url, cfg.public_url) == 0 &&
		      back.allowed_origins[1] && back.sandbox_debug &&
		      strcmp(back.log_level, "debug") == 0 && back.tls_certificate[0] == '\0',
		      "edge slice loads back with the same values");
		config_free(&back);
	} else {
		check_that(false, "edge slice loads back: %s", err.text);
	}
	json_decref(edge);

	json_t *auth = config_slice_for_role(&cfg, "auth");
	check_that(auth && json_object_get(auth, "auth") && !json_object_get(auth, "servers") &&
	      !json_object_get(auth, "listen") && !json_object_get(auth, "tls"),
	      "auth slice: auth only");
	if (auth && config_from_json(auth, "<auth slice>", &back, &err) == 0) {
		check_that(back.anonymous && strcmp(back.keys_file, cfg.keys_file) == 0 &&
		      strcmp(back.public_url, cfg.public_url) == 0,
		      "auth slice loads back: resolved keys_file %s", back.keys_file);
		config_free(&back);
	} else {
		check_that(false, "auth slice loads back: %s", err.text);
	}
	json_decref(auth);

	json_t *router = config_slice_for_role(&cfg, "router");
	json_t *servers = json_object_get(router, "servers");
	check_that(json_array_size(servers) == 3 && !has_key_anywhere(servers, "env") &&
	      !has_key_anywhere(servers, "command") && !json_object_get(router, "auth") &&
	      !json_object_get(router, "edge") && !json_object_get(router, "supervisor"),
	      "router slice: servers without env and command");
	char *dump = router ? json_dumps(router, JSON_COMPACT) : NULL;
	check_that(dump && !contains(dump, "ghp_example_secret") && !contains(dump, "/usr/bin/node"),
	      "router slice carries no env value or command anywhere");
	free(dump);
	/* The supervisor's document keeps them: the slice is a copy. */
	check_that(cfg.servers[1].env && json_object_get(json_array_get(json_object_get(cfg.root,
	      "servers"), 1), "env"), "router slice did not strip the supervisor's document");
	if (router && config_from_json(router, "<router slice>", &back, &err) == 0) {
		check_that(back.n_servers == 3 && back.servers[0].kind == SERVER_BUILTIN &&
		      back.servers[1].kind == SERVER_COMMAND && back.servers[1].argc == 0 &&
		      back.servers[1].argv[0] == NULL && back.servers[1].env == NULL &&
		      strcmp(back.servers[1].namespace_, "gh") == 0 && back.servers[1].per_session &&
		      back.servers[1].timeout_ms == 120000 && json_is_object(back.servers[0].settings),
		      "router slice loads back: names, namespaces, kinds, timeouts");
		config_free(&back);
	} else {
		check_that(false, "router slice loads back: %s", err.text);
	}
	json_decref(router);

	json_t *gh = config_slice_for_role(&cfg, "server:github");
	check_that(gh && json_array_size(json_object_get(gh, "servers")) == 1 &&
	      !json_object_get(gh, "auth") && !json_object_get(gh, "listen"),
	      "server:github slice: only that server");
	if (gh && config_from_json(gh, "<server:github slice>", &back, &err) == 0) {
		check_that(back.n_servers == 1 && strcmp(back.servers[0].name, "github") == 0 &&
		      back.servers[0].argc == 3 && back.servers[0].env != NULL,
		      "server:github slice loads back with its command and env");
		config_free(&back);
	} else {
		check_that(false, "server:github slice loads back: %s", err.text);
	}
	json_decref(gh);

	json_t *data = config_slice_for_role(&cfg, "server:data");
	if (data && config_from_json(data, "<server:data slice>", &back, &err) == 0) {
		check_that(back.n_servers == 1 && json_is_object(back.servers[0].settings) &&
		      json_array_size(json_object_get(back.servers[0].settings, "tables")) == 1,
		      "server:data slice loads back with its settings");
		config_free(&back);
	} else {
		check_that(false, "server:data slice loads back: %s", data ? err.text : "NULL");
	}
	json_decref(data);

	check_that(config_slice_for_role(&cfg, "server:nope") == NULL, "unknown server -> NULL");
	check_that(config_slice_for_role(&cfg, "supervisor") == NULL, "unknown role -> NULL");
	check_that(config_slice_for_role(&cfg, "") == NULL, "empty role -> NULL");
	config_free(&cfg);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/config", argv[1]);

	test_full();
	test_defaults();
	test_file_errors();
	test_size_cap();
	test_syntax_rules();
	test_message_hygiene();
	test_slices();
	return check_finish();
}
