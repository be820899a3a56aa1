/* The one configuration loader: a JSON file (jansson), checked against the schema below,
 * turned into `struct config`. Errors name the file, the JSON path and the reason.
 * Children receive their slice of the same JSON from the supervisor and load it with
 * config_from_json(), so there is exactly one parser of configuration. */
#ifndef MCPGATE_CONFIG_H
#define MCPGATE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERROR_MAX 512
#define CONFIG_MAX_LISTENERS 8
#define CONFIG_MAX_SERVERS 64
#define CONFIG_MAX_ARGS 64
#define CONFIG_MAX_ORIGINS 32
#define CONFIG_MAX_ENV 256
#define CONFIG_MAX_FILE_BYTES (1024 * 1024) /* config_load_file refuses larger files */

struct config_error {
	char text[CONFIG_ERROR_MAX]; /* "FILE: at $.servers[1].command: must be ..." */
};

enum listener_kind { LISTENER_TLS, LISTENER_PLAIN };

struct config_listener {
	char address[128]; /* "127.0.0.1:8443", "[::1]:8443" */
	enum listener_kind kind;
};

enum server_kind { SERVER_BUILTIN, SERVER_COMMAND };

struct config_server {
	char name[64];      /* [a-z0-9-]{1,32}: also names the process and its user */
	char namespace_[64]; /* tool prefix; "" mounts one upstream without a prefix */
	enum server_kind kind;
	char builtin[16];   /* data | ai | ops | secrets (SERVER_BUILTIN) */
	char *argv[CONFIG_MAX_ARGS + 1]; /* command line (SERVER_COMMAND), NULL-terminated */
	size_t argc;
	char **env;         /* "K=V" strings, NULL-terminated, may be NULL */
	/* In the router's slice the command is withheld: kind is SERVER_COMMAND with argc 0. */
	bool per_session;   /* one process per client session */
	uint32_t timeout_ms; /* per-call timeout, default 60000 */
	json_t *settings;   /* server-specific settings passed through (borrowed from root;
	                     * NULL when absent) */
};

/* auth.oauth: the OAuth 2.1 resource server, accepting one issuer's JWT access tokens. */
#define CONFIG_OAUTH_MAX_LIST 32    /* client_ids, required_scopes */
#define CONFIG_OAUTH_RS256 (1u << 0)
#define CONFIG_OAUTH_ES256 (1u << 1)

struct config_oauth {
	bool enabled;                /* "oauth" is configured */
	char issuer[512];            /* compared exactly with the token's "iss" */
	char jwks_url[1024];         /* https:// (http:// only for 127.0.0.1 / [::1]) */
	char audience[528];          /* must be in "aud"; default public_url + "/mcp" */
	/* NULL-terminated; empty when not configured. */
	char *client_ids[CONFIG_OAUTH_MAX_LIST + 1];      /* Cognito: accepted "client_id"s */
	char *required_scopes[CONFIG_OAUTH_MAX_LIST + 1]; /* every one must be granted */
	unsigned algorithms;         /* CONFIG_OAUTH_* bits; default both */
	uint32_t leeway_seconds;     /* clock skew allowed on exp/nbf/iat; default 60 */
	/* role_claims: {"group": ["role", ...]} and {"scope": [...]}; borrowed from root,
	 * NULL when absent. */
	json_t *group_roles;
	json_t *scope_roles;
};

struct config_restart {
	uint32_t max_deaths;     /* permanent failure after this many deaths ... */
	uint32_t window_seconds; /* ... within this many seconds; defaults 5 in 60 */
	uint32_t max_backoff_ms; /* backoff cap; default 30000 */
};

struct config {
	char *source;       /* file name, or "<role slice>" */
	json_t *root;       /* the whole validated document (owned) */

	struct config_listener listeners[CONFIG_MAX_LISTENERS];
	size_t n_listeners;
	char tls_certificate[4096]; /* paths; the supervisor reads them and ships PEM to edge */
	char tls_key[4096];
	char public_url[512];
	/* NULL-terminated; empty (first entry NULL) when not configured. */
	char *allowed_origins[CONFIG_MAX_ORIGINS + 1]; /* "https://app.example.com" */
	char *allowed_hosts[CONFIG_MAX_ORIGINS + 1];   /* "localhost:8443" */

	uint32_t edge_instances;   /* default 1 */
	uint32_t max_connections;  /* default 10000 */
	uint32_t max_header_bytes; /* default 16384 */
	uint32_t max_headers;      /* default 64 */
	uint32_t max_body_bytes;   /* default 4 MiB */
	uint32_t header_timeout_ms; /* default 10000 */
	uint32_t idle_timeout_ms;  /* default 60000 */
	uint32_t sse_keepalive_ms; /* default 15000 */

	bool anonymous;            /* auth admits an unauthenticated principal (off by default) */
	char keys_file[4096];      /* API key records; read by the supervisor, shipped to auth */
	/* auth.session_key_file: 64 hex digits every replica shares, so any replica opens any
	 * replica's session ids; "" = a random key made at each start (one appliance). */
	char session_key_file[4096];
	struct config_oauth oauth; /* auth.oauth; oauth.enabled false when absent */

	struct config_server servers[CONFIG_MAX_SERVERS];
	size_t n_servers;

	struct config_restart restart;
	uint32_t shutdown_timeout_ms; /* drain bound on SIGTERM; default 10000 */
	char run_as_prefix[32];    /* role users are <prefix><role>; default "mcpgate-" */
	char policy_dir[4096];     /* supervisor.policy_dir; "" when not configured */
	char log_level[16];        /* default "info" */
	bool sandbox_debug;        /* seccomp logs the offending syscall instead of only killing */
};

/* Loads and validates a file. Returns 0, or -1 with err filled. `cfg` is overwritten (free a
 * previous load first); after a failure it is empty and config_free() on it is harmless.
 * Relative paths in the file are resolved against the file's directory; the resolved
 * (absolute) paths are what cfg and cfg->root hold afterwards. */
int config_load_file(const char *path, struct config *cfg, struct config_error *err);
/* Same for a document already parsed. cfg->root is a private deep copy; the caller keeps
 * its reference to `root`. A `source` starting with '<' marks a slice: the checks that need
 * the files (TLS paths present and readable, keys_file, policy_dir) are skipped. */
int config_from_json(json_t *root, const char *source, struct config *cfg,
                     struct config_error *err);
void config_free(struct config *cfg);

/* The part of the validated document a role needs ("edge", "auth", "router", or
 * "server:<name>"), as a new JSON object (the caller owns it); never includes what the role
 * must not see: the router gets no server "env" or "command". NULL for an unknown role. */
json_t *config_slice_for_role(const struct config *cfg, const char *role);

#endif
