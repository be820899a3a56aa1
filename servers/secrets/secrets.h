/* The secrets server's parts: main.c reads the settings and holds the tool table, secrets.c
 * makes the Secrets Manager calls behind the tools, fetch.c is the start-up fetcher
 * (`mcpgate-server-secrets --fetch-secret NAME`). */
#ifndef MCPGATE_SERVERS_SECRETS_H
#define MCPGATE_SERVERS_SECRETS_H

#include <stddef.h>

#include <jansson.h>

#include "mcp_server.h"
#include "settings.h"

#define SECRETS_TTL_DEFAULT 60
#define SECRETS_TTL_MAX 86400
#define SECRETS_CAP_MIN 8192 /* a result's name, ARN and notice always fit */
/* A GetSecretValue answer: 64 KiB of value (base64 makes a binary one 4/3 larger), escaped. */
#define SECRETS_VALUE_RESPONSE_MAX (512u * 1024u)

struct secrets_config {
	struct allowlist secrets;      /* settings.secrets: names or patterns secret_get/list may touch */
	struct allowlist reveal_roles; /* settings.reveal_roles: caller roles that may reveal (exact names) */
	char *config_secret;           /* settings.config_secret, or NULL */
	struct allowlist config_keys;  /* settings.config_keys: dotted keys config_get may return */
	long long config_ttl_seconds;  /* settings.config_ttl_seconds: 0 fetches on every config_get */
	size_t result_cap;             /* settings.result_cap_bytes */
};

/* The tools; secrets_configure hands them the settings (taken over: freed by secrets_fini). */
void secrets_configure(struct secrets_config *cfg);
void secrets_fini(void);
void secret_get(struct mcp_call *call, json_t *args);
void secret_list(struct mcp_call *call, json_t *args);
void config_get(struct mcp_call *call, json_t *args);

/* `mcpgate-server-secrets --fetch-secret NAME`: GetSecretValue once (credential chain,
 * retries) and the SecretString on stdout. Exit 0; 1 when the fetch failed (logged, without
 * the value); 64 for a bad command line. */
int secrets_fetch_main(int argc, char **argv);

#endif
