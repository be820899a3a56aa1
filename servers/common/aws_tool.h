/* What every built-in AWS server shares around a tool call: the process's AWS client, and
 * AWS failures and refusals turned into tool errors that say the service, the code and the
 * message. */
#ifndef MCPGATE_SERVERS_AWS_TOOL_H
#define MCPGATE_SERVERS_AWS_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "aws/service.h"
#include "mcp_server.h"
#include "settings.h"

/* The server's AWS client, as aws_tool_client_before_sandbox made it (NULL before that). */
struct aws_client *aws_tool_client(void);
void aws_tool_client_free(void);
/* Makes the client from a server's init, before the sandbox: libcurl's and OpenSSL's one-time
 * set-up makes system calls (sysinfo) and reads files (the environment's, the CA bundle) that
 * the server's policy refuses later. 0, or -1 (logged as aws_client_failed) when memory ran out. */
int aws_tool_client_before_sandbox(void);

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
/* Refuses the call that way (and returns true) when `list` does not allow `name`. */
bool aws_tool_refuse_unlisted(struct mcp_call *call, const struct allowlist *list, const char *kind,
                              const char *name, const char *settings_key);

#endif
