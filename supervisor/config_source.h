/* Where the appliance's configuration comes from: a file, or an AWS Secrets Manager secret
 * ("secretsmanager:NAME"). The supervisor never links libcurl: a secret is fetched by a
 * short-lived run of the secrets server (`mcpgate-server-secrets --fetch-secret NAME`) that
 * writes the secret's string to a pipe, with only the AWS environment. */
#ifndef MCPGATE_SUPERVISOR_CONFIG_SOURCE_H
#define MCPGATE_SUPERVISOR_CONFIG_SOURCE_H

#include <stdbool.h>

#include "config.h"

#define CONFIG_SOURCE_SECRET_PREFIX "secretsmanager:"
#define CONFIG_FETCH_TIMEOUT_MS 30000

bool config_source_is_secret(const char *source);

/* Loads and validates the configuration named by `source`. `fetcher` is the path of the
 * secrets server binary (needed only for a secret source). Relative paths inside a secret
 * are resolved against the working directory. Returns 0, or -1 with err filled. */
int config_source_load(const char *source, const char *fetcher, struct config *cfg,
                       struct config_error *err);

#endif
