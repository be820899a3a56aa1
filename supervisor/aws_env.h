/* What a built-in AWS server inherits from the appliance's environment: the standard AWS_*
 * variables (region, credentials chain, endpoint overrides, CA bundle) and proxy settings,
 * under the server's own configured "env", plus the files those variables name, which the
 * sandbox must let it read. Nothing else of the supervisor's environment passes. */
#ifndef MCPGATE_SUPERVISOR_AWS_ENV_H
#define MCPGATE_SUPERVISOR_AWS_ENV_H

#include <stddef.h>

#define AWS_ENV_MAX 128 /* entries in a built-in server's environment */

/* Fills `out` (NULL-terminated, at most cap - 1 entries) with pointers into base (the role's
 * own variables), the process environment's AWS_* and proxy variables, and `configured`
 * ("K=V", NULL-terminated, may be NULL) which overrides both. No copies are made. */
size_t aws_env_build(char **out, size_t cap, char *const *base, char *const *configured);

/* Paths a built-in server reads after entering its sandbox: the system CA certificates and
 * the files named by AWS_CA_BUNDLE, AWS_WEB_IDENTITY_TOKEN_FILE and
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE in `env`. Pointers into env or static strings. */
size_t aws_env_read_paths(const char **out, size_t cap, char *const *env);

#endif
