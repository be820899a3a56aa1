/* What every built-in AWS server shares around a tool call: the process's AWS client, the
 * allowlists that keep each server to the resources its config names, result caps, and AWS
 * failures turned into tool errors that say the service, the code and the message. */
#ifndef MCPGATE_SERVERS_AWS_TOOL_H
#define MCPGATE_SERVERS_AWS_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "aws/service.h"
#include "mcp_server.h"

#define AWS_TOOL_ALLOWLIST_MAX 256  /* patterns per list */
#define AWS_TOOL_PATTERN_MAX 512

/* A list of names or shell-style patterns ("reports", "logs-*") from the settings. An empty
 * list allows nothing: a server touches only what its config names. */
struct allowlist {
	char **patterns;
	size_t n;
};

/* Loads settings[key] (absent: empty list) as an array of non-empty strings. On error writes
 * "settings.<key>: <why>" into err and returns -1. */
int allowlist_load(struct allowlist *list, json_t *settings, const char *key, char *err, size_t errlen);
bool allowlist_allows(const struct allowlist *list, const char *name);
void allowlist_free(struct allowlist *list);

/* Checks that `settings` has only keys from the NULL-terminated `known`; returns -1 with
 * "settings: unknown key 'x' (known: a, b)" otherwise. */
int settings_check_keys(json_t *settings, const char *const *known, char *err, size_t errlen);
/* settings[key] as an integer within [min, max]; absent: def. -1 with a message on error. */
int settings_int(json_t *settings, const char *key, long long min, long long max, long long def,
                 long long *out, char *err, size_t errlen);

/* The server's AWS client, made on first use on the server's loop. NULL only when memory
 * ran out. */
struct aws_client *aws_tool_client(void);
void aws_tool_client_free(void);

/* Refuses a call up front (and returns true) when the AWS client cannot make requests: no
 * region or no credentials. The error says what is missing and that no request was made. */
bool aws_tool_refuse_unavailable(struct mcp_call *call);

/* Ends the call with a tool error for a failed AWS request: "<tool>: <Service>: <Code>:
 * <message>" plus `context` (e.g. "bucket 'b', key 'k'") and the attempts when retried. */
void aws_tool_fail(struct mcp_call *call, const struct aws_result *res, const char *context);

/* Ends the call with the standard refusal for a resource outside the allowlist:
 * "<tool>: <kind> '<name>' is not allowed by this server's settings (<settings_key>); no
 * request was made". */
void aws_tool_refuse(struct mcp_call *call, const char *kind, const char *name,
                     const char *settings_key);

#endif
